//! NodeName (PodFitsHost): a pod that names a node (`spec.nodeName`) fits
//! only that node.

use crate::framework::{CycleState, FilterPlugin, NodeInfo, Plugin, PodInfo, Status};

/// Its name.
pub const NAME: &str = "NodeName";
/// The reason it gives.
pub const REASON: &str = "node(s) didn't match the requested node name";

/// The plugin; see the [module docs](self).
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeName;

impl Plugin for NodeName {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl FilterPlugin for NodeName {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        match pod.pod.spec.node_name.as_deref() {
            Some(wanted) if !wanted.is_empty() && wanted != node.name() => {
                Status::unresolvable(REASON).from_plugin(NAME)
            }
            _ => Status::success(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plugins::testing::{node, pod};

    #[test]
    fn only_the_named_node() {
        let state = CycleState::new();
        let named = pod("p", json!({"nodeName": "n1"}));
        assert!(NodeName.filter(&state, &named, &node("n1", json!({}), json!({}))).is_success());
        assert_eq!(NodeName.filter(&state, &named, &node("n2", json!({}), json!({}))).reasons(), [REASON]);
        assert!(NodeName.filter(&state, &pod("q", json!({})), &node("n2", json!({}), json!({}))).is_success());
    }
}
