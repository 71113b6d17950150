//! Data one plugin keeps between its extension points within one
//! scheduling cycle (computed in PreFilter or PreScore, read in Filter or
//! Score for every node).

use std::any::Any;
use std::collections::HashMap;

/// A value kept in [`CycleState`]: any `Clone` type, so the state can be
/// copied when preemption tries removing pods from a node.
trait StateData: Any + Send + Sync {
    fn clone_box(&self) -> Box<dyn StateData>;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Any + Clone + Send + Sync> StateData for T {
    fn clone_box(&self) -> Box<dyn StateData> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Per-cycle state, keyed by a plugin-chosen name: data one plugin keeps
/// between its extension points within one scheduling cycle. Cloning copies
/// every value (preemption works on copies).
#[derive(Default)]
pub struct CycleState {
    data: HashMap<&'static str, Box<dyn StateData>>,
}

impl Clone for CycleState {
    fn clone(&self) -> Self {
        CycleState { data: self.data.iter().map(|(k, v)| (*k, (**v).clone_box())).collect() }
    }
}

impl std::fmt::Debug for CycleState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CycleState").field("keys", &self.data.keys().collect::<Vec<_>>()).finish()
    }
}

impl CycleState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `value` under `key` (replacing what was there).
    pub fn write<T: Any + Clone + Send + Sync>(&mut self, key: &'static str, value: T) {
        self.data.insert(key, Box::new(value));
    }

    /// The value under `key`, if it is a `T`.
    pub fn read<T: Any + Send + Sync>(&self, key: &'static str) -> Option<&T> {
        let value: &dyn StateData = &**self.data.get(key)?;
        value.as_any().downcast_ref()
    }

    /// The value under `key`, mutably, if it is a `T`.
    pub fn read_mut<T: Any + Send + Sync>(&mut self, key: &'static str) -> Option<&mut T> {
        let value: &mut dyn StateData = &mut **self.data.get_mut(key)?;
        value.as_any_mut().downcast_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_reads() {
        let mut state = CycleState::new();
        state.write("fit", 7_u64);
        assert_eq!(state.read::<u64>("fit"), Some(&7));
        assert_eq!(state.read::<i32>("fit"), None, "another type is not there");
        *state.read_mut::<u64>("fit").unwrap() += 1;
        assert_eq!(state.read::<u64>("fit"), Some(&8));
        let copy = state.clone();
        *state.read_mut::<u64>("fit").unwrap() += 1;
        assert_eq!(copy.read::<u64>("fit"), Some(&8), "a clone is a copy");
    }
}
