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

/// What some controllers need beyond the object API (the flags of
/// kube-controller-manager they stand for).
#[derive(Clone, Default)]
pub struct ControllerOptions {
    /// Node IPAM: `--cluster-cidr` and `--node-cidr-mask-size`; `None`
    /// leaves nodes' pod CIDRs alone (`--allocate-node-cidrs=false`).
    pub node_ipam: Option<crate::nodeipam::NodeIpamOptions>,
    /// Where the HorizontalPodAutoscaler reads metrics; `None`: the
    /// controller reports that no metrics are available.
    pub metrics: Option<Arc<dyn crate::hpa::MetricsSource>>,
    /// Node lifecycle (`--node-monitor-grace-period`, eviction rates);
    /// `None`: Kubernetes' defaults.
    pub node_lifecycle: Option<crate::nodelifecycle::NodeLifecycleOptions>,
}

impl std::fmt::Debug for ControllerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerOptions")
            .field("node_ipam", &self.node_ipam)
            .field("metrics", &self.metrics.is_some())
            .field("node_lifecycle", &self.node_lifecycle)
            .finish()
    }
}

/// One controller the manager knows: its name (as `--controllers` spells
/// it), whether `*` includes it, and how it joins a [`Manager`].
pub struct Known {
    /// The name, e.g. `replicaset`.
    pub name: &'static str,
    /// Whether `*` turns it on (kube-controller-manager leaves a few off).
    pub default_on: bool,
    /// Adds the controller to the manager.
    pub add: fn(&mut Manager, &ControllerOptions),
}

impl std::fmt::Debug for Known {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Known").field("name", &self.name).field("default_on", &self.default_on).finish()
    }
}

/// Every controller this crate provides, in start order, named as
/// kube-controller-manager names them.
pub fn known() -> Vec<Known> {
    use crate::*;
    let on = |name, add| Known { name, default_on: true, add };
    vec![
        on("namespace", |m, _| namespace::add(m)),
        on("serviceaccount", |m, _| serviceaccount::add(m)),
        on("garbagecollector", |m, _| gc::add_garbage_collector(m)),
        on("replicaset", |m, _| replicaset::add_replica_sets(m)),
        on("replicationcontroller", |m, _| replicaset::add_replication_controllers(m)),
        on("deployment", |m, _| deployment::add_deployments(m)),
        on("daemonset", |m, _| daemonset::add_daemon_sets(m)),
        on("statefulset", |m, _| statefulset::add_stateful_sets(m)),
        on("job", |m, _| job::add_jobs(m)),
        on("cronjob", |m, _| cronjob::add_cron_jobs(m)),
        on("endpoints", |m, _| endpoints::add_endpoints(m)),
        on("endpointslice", |m, _| endpoints::add_endpoint_slices(m)),
        on("resourcequota", |m, _| resourcequota::add_resource_quotas(m)),
        on("horizontalpodautoscaling", |m, o| {
            let metrics = o.metrics.clone().unwrap_or_else(|| Arc::new(hpa::StaticMetrics::new()));
            hpa::add_horizontal_pod_autoscalers(m, metrics);
        }),
        on("nodelifecycle", |m, o| {
            nodelifecycle::add_node_lifecycle_with(m, o.node_lifecycle.clone().unwrap_or_default())
        }),
        on("nodeipam", |m, o| match &o.node_ipam {
            Some(ipam) => nodeipam::add_node_ipam(m, ipam.clone()),
            None => tracing::info!("nodeipam: no cluster CIDR, pod CIDRs are left to the nodes"),
        }),
        on("persistentvolume-binder", |m, _| pvbinder::add_pv_binder(m)),
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
    /// The controllers `selection` names, over `api`, with default options.
    pub fn new(api: Arc<dyn ObjectApi>, selection: Selection) -> Self {
        Self::with_options(api, selection, ControllerOptions::default())
    }

    /// The controllers `selection` names, over `api`, with `options`.
    pub fn with_options(api: Arc<dyn ObjectApi>, selection: Selection, options: ControllerOptions) -> Self {
        let mut manager = Manager::new(api);
        let mut names = Vec::new();
        for k in known().into_iter().filter(|k| selection.enabled(k)) {
            (k.add)(&mut manager, &options);
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
