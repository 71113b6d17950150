//! The controller manager: which controllers run (`--controllers`), over
//! one object API and one set of shared informers, under leader election.
//!
//! ```no_run
//! # async fn demo(api: std::sync::Arc<dyn k_store::ObjectApi>) -> Result<(), k_controllers::SelectionError> {
//! use k_controllers::{ControllerManager, Selection};
//! let selection = Selection::parse("*,-serviceaccount")?;
//! let manager = ControllerManager::new(api, selection);
//! manager.run(std::future::pending()).await;
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;
use std::sync::Arc;

use k_runtime::leader::LeaderElectionConfig;
use k_runtime::manager::Manager;
use k_store::ObjectApi;

/// One controller the manager knows: its name (as `--controllers` spells
/// it), whether `*` includes it, and how it joins a [`Manager`].
pub struct Known {
    /// The name, e.g. `replicaset`.
    pub name: &'static str,
    /// Whether `*` turns it on (kube-controller-manager leaves a few off).
    pub default_on: bool,
    /// Adds the controller to the manager.
    pub add: fn(&mut Manager),
}

impl std::fmt::Debug for Known {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Known").field("name", &self.name).field("default_on", &self.default_on).finish()
    }
}

/// Every controller this crate provides, in start order.
pub fn known() -> Vec<Known> {
    vec![
        Known { name: "namespace", default_on: true, add: crate::namespace::add },
        Known { name: "serviceaccount", default_on: true, add: crate::serviceaccount::add },
        Known { name: "replicaset", default_on: true, add: crate::replicaset::add_replica_sets },
        Known { name: "replicationcontroller", default_on: true, add: crate::replicaset::add_replication_controllers },
        Known { name: "endpoints", default_on: true, add: crate::endpoints::add_endpoints },
        Known { name: "endpointslice", default_on: true, add: crate::endpoints::add_endpoint_slices },
    ]
}

/// A `--controllers` value that names no known controller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown controller {name:?} in --controllers (known: {known})")]
pub struct SelectionError {
    /// The unknown name.
    pub name: String,
    /// The known names, comma-separated.
    pub known: String,
}

/// Which controllers run, as kube-controller-manager's `--controllers`:
/// a comma-separated list where `*` means every controller on by default,
/// `name` adds one and `-name` removes one (removal wins).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    all: bool,
    on: BTreeSet<String>,
    off: BTreeSet<String>,
}

impl Default for Selection {
    /// `*`.
    fn default() -> Self {
        Selection { all: true, on: BTreeSet::new(), off: BTreeSet::new() }
    }
}

impl Selection {
    /// Parses a `--controllers` value; unknown names are an error.
    pub fn parse(spec: &str) -> Result<Selection, SelectionError> {
        let known = known();
        let mut selection = Selection { all: false, on: BTreeSet::new(), off: BTreeSet::new() };
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item == "*" {
                selection.all = true;
                continue;
            }
            let (set, name) = match item.strip_prefix('-') {
                Some(name) => (&mut selection.off, name),
                None => (&mut selection.on, item),
            };
            if !known.iter().any(|k| k.name == name) {
                return Err(SelectionError {
                    name: name.to_owned(),
                    known: known.iter().map(|k| k.name).collect::<Vec<_>>().join(", "),
                });
            }
            set.insert(name.to_owned());
        }
        Ok(selection)
    }

    /// Whether the controller `known` runs.
    pub fn enabled(&self, known: &Known) -> bool {
        !self.off.contains(known.name) && (self.on.contains(known.name) || (self.all && known.default_on))
    }

    /// The names of the controllers that run, in start order.
    pub fn names(&self) -> Vec<&'static str> {
        known().into_iter().filter(|k| self.enabled(k)).map(|k| k.name).collect()
    }
}

/// The controller manager (see the [module documentation](self)).
pub struct ControllerManager {
    manager: Manager,
    names: Vec<&'static str>,
}

impl std::fmt::Debug for ControllerManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerManager").field("controllers", &self.names).finish_non_exhaustive()
    }
}

impl ControllerManager {
    /// The controllers `selection` names, over `api`.
    pub fn new(api: Arc<dyn ObjectApi>, selection: Selection) -> Self {
        let mut manager = Manager::new(api);
        let mut names = Vec::new();
        for k in known().into_iter().filter(|k| selection.enabled(k)) {
            (k.add)(&mut manager);
            names.push(k.name);
        }
        ControllerManager { manager, names }
    }

    /// Runs only while holding the Lease `kube-system/kube-controller-manager`
    /// under `identity`.
    #[must_use]
    pub fn with_leader_election(mut self, identity: impl Into<String>) -> Self {
        self.manager.leader_election(LeaderElectionConfig::new("kube-system", "kube-controller-manager", identity));
        self
    }

    /// The controllers that run.
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    /// The underlying manager (informers, metrics).
    pub fn manager(&self) -> &Manager {
        &self.manager
    }

    /// Runs until `shutdown` completes.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send) {
        let _ = self.manager.run(shutdown).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_follows_kube_controller_managers_rules() {
        let all = Selection::parse("*").unwrap();
        assert_eq!(all.names(), known().iter().map(|k| k.name).collect::<Vec<_>>());
        let without = Selection::parse("*,-endpoints").unwrap();
        assert!(!without.names().contains(&"endpoints"));
        assert!(without.names().contains(&"replicaset"));
        assert_eq!(Selection::parse("replicaset").unwrap().names(), ["replicaset"]);
        assert_eq!(Selection::parse("replicaset,-replicaset").unwrap().names(), Vec::<&str>::new());
        let err = Selection::parse("*,-nope").unwrap_err();
        assert_eq!(err.name, "nope");
        assert!(err.to_string().contains("known: namespace"), "{err}");
    }
}
