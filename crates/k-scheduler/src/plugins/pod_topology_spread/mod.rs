//! PodTopologySpread: spreads pods across topology domains (zones, nodes,
//! any node label) as their `topologySpreadConstraints` ask, kube-scheduler
//! 1.32's plugin.
//!
//! A constraint counts the pods matching its `labelSelector` (plus the
//! pod's own values of its `matchLabelKeys`) in the pod's namespace, not
//! terminating, per value of its `topologyKey` over the eligible nodes:
//! those with every topology key of the pod's constraints, and — per
//! `nodeAffinityPolicy` (default `Honor`) and `nodeTaintsPolicy` (default
//! `Ignore`) — matching the pod's node selector and required node affinity
//! and tolerating the nodes' `NoSchedule`/`NoExecute` taints.
//!
//! - **Filter** (`whenUnsatisfiable: DoNotSchedule`): on a node whose domain
//!   has `matchNum` matching pods, `matchNum + selfMatch − globalMin` may
//!   not exceed `maxSkew`; the global minimum is 0 while fewer domains than
//!   `minDomains` exist. PreFilter computes the counts (and keeps them up to
//!   date for preemption through `add_pod`/`remove_pod`).
//! - **Score** (`ScheduleAnyway`): each node scores the sum over constraints
//!   of `count × log(domains + 2) + maxSkew − 1` (for `kubernetes.io/hostname`
//!   the count of the node itself), rounded; NormalizeScore reverses it so
//!   the emptiest domain scores 100. Nodes missing a topology key score 0.
//!
//! A pod without constraints of its own gets the plugin's default
//! constraints (kube's system defaults: hostname `maxSkew` 3 and zone
//! `maxSkew` 5, both `ScheduleAnyway`), whose selector is built from the
//! Services, ReplicaSets, StatefulSets and ReplicationControllers selecting
//! the pod; without such a selector there are none.

mod filtering;
mod scoring;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use k_api_types::SortedMap;
use k_api_types::core::v1::{Pod, TopologySpreadConstraint};
use k_api_types::selector::label::Selector;
use k_api_types::validation::qualified_name_errors;
use serde_json::Value;

use crate::framework::{ExtensionPoints, Handle, Listers, NodeInfo, Plugin, PodInfo};
use crate::plugins::helper::untolerated_hard_taint;
use crate::plugins::node_affinity::required_matches;

/// Its name.
pub const NAME: &str = "PodTopologySpread";
/// Filter's reason when the skew would be too large (Unschedulable).
pub const REASON_CONSTRAINTS_NOT_MATCH: &str = "node(s) didn't match pod topology spread constraints";
/// Filter's reason when the node lacks a topology key (UnschedulableAndUnresolvable).
pub const REASON_NODE_LABEL_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";
/// The hostname label (counted per node when scoring).
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
/// The zone label.
pub const LABEL_ZONE: &str = "topology.kubernetes.io/zone";

const DO_NOT_SCHEDULE: &str = "DoNotSchedule";
const SCHEDULE_ANYWAY: &str = "ScheduleAnyway";
const HONOR: &str = "Honor";

/// Where a pod without constraints of its own gets its default ones
/// (`PodTopologySpreadArgs.defaultingType`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DefaultingType {
    /// kube's system defaults ([`system_default_constraints`]).
    #[default]
    System,
    /// The configured `defaultConstraints` (possibly none).
    List,
}

/// kube-scheduler's system default constraints: hostname `maxSkew` 3 and
/// zone `maxSkew` 5, both `ScheduleAnyway`.
pub fn system_default_constraints() -> Vec<TopologySpreadConstraint> {
    let soft = |key: &str, max_skew| TopologySpreadConstraint {
        max_skew,
        topology_key: key.to_owned(),
        when_unsatisfiable: SCHEDULE_ANYWAY.to_owned(),
        ..TopologySpreadConstraint::default()
    };
    vec![soft(LABEL_HOSTNAME, 3), soft(LABEL_ZONE, 5)]
}

/// The plugin; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct PodTopologySpread {
    default_constraints: Vec<TopologySpreadConstraint>,
    system_defaulted: bool,
    listers: Listers,
}

impl Default for PodTopologySpread {
    /// System defaulting, with empty caches (so no default constraints apply).
    fn default() -> Self {
        PodTopologySpread {
            default_constraints: system_default_constraints(),
            system_defaulted: true,
            listers: Listers::default(),
        }
    }
}

impl Plugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        NAME
    }
}

crate::extension_points!(PodTopologySpread: pre_filter, filter, pre_score, score);

impl PodTopologySpread {
    /// The plugin with `defaults` (which must be empty with
    /// [`DefaultingType::System`]), reading the controllers that select a
    /// pod from `listers`; validated as kube validates PodTopologySpreadArgs.
    pub fn new(
        defaults: Vec<TopologySpreadConstraint>,
        defaulting: DefaultingType,
        listers: Listers,
    ) -> Result<Self, String> {
        validate_defaults(&defaults, defaulting)?;
        let system_defaulted = defaulting == DefaultingType::System;
        let default_constraints = if system_defaulted { system_default_constraints() } else { defaults };
        Ok(PodTopologySpread { default_constraints, system_defaulted, listers })
    }

    /// The pod's constraints with `action` (its own, or the defaults when it
    /// has none), parsed.
    fn constraints(&self, pod: &Pod, action: &str) -> Result<Vec<Constraint>, String> {
        if !pod.spec.topology_spread_constraints.is_empty() {
            return parse_constraints(&pod.spec.topology_spread_constraints, &pod.metadata.labels, action);
        }
        let mut constraints = parse_constraints(&self.default_constraints, &pod.metadata.labels, action)?;
        if constraints.is_empty() {
            return Ok(constraints);
        }
        let selector = default_selector(pod, &self.listers);
        if selector.is_empty() {
            return Ok(Vec::new());
        }
        for c in &mut constraints {
            c.selector = selector.clone();
        }
        Ok(constraints)
    }
}

fn validate_defaults(defaults: &[TopologySpreadConstraint], defaulting: DefaultingType) -> Result<(), String> {
    let mut errors = Vec::new();
    if defaulting == DefaultingType::System && !defaults.is_empty() {
        errors.push("defaultingType: Invalid value: \"System\": when .defaultConstraints are not empty".to_owned());
    }
    for (i, c) in defaults.iter().enumerate() {
        let at = format!("defaultConstraints[{i}]");
        if c.max_skew <= 0 {
            errors.push(format!("{at}.maxSkew: Invalid value: {}: not in valid range (0, inf)", c.max_skew));
        }
        if c.topology_key.is_empty() {
            errors.push(format!("{at}.topologyKey: Required value: can not be empty"));
        } else {
            for e in qualified_name_errors(&c.topology_key) {
                errors.push(format!("{at}.topologyKey: Invalid value: {:?}: {e}", c.topology_key));
            }
        }
        match c.when_unsatisfiable.as_str() {
            "" => errors.push(format!("{at}.whenUnsatisfiable: Required value: can not be empty")),
            DO_NOT_SCHEDULE | SCHEDULE_ANYWAY => {}
            other => errors.push(format!(
                "{at}.whenUnsatisfiable: Unsupported value: {other:?}: supported values: \"DoNotSchedule\", \"ScheduleAnyway\""
            )),
        }
        if c.label_selector.is_some() {
            errors.push(format!(
                "{at}.labelSelector: Forbidden: constraint must not define a selector, as they deduced for each pod"
            ));
        }
        if defaults[..i]
            .iter()
            .any(|o| o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable)
        {
            errors.push(format!(
                "defaultConstraints[{i}]: Duplicate value: \"{{{}, {}}}\"",
                c.topology_key, c.when_unsatisfiable
            ));
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) }
}

/// Makes the plugin from its `pluginConfig` arguments (PodTopologySpreadArgs:
/// `defaultConstraints`, `defaultingType` `System` (the default) or `List`).
pub fn factory(args: Option<&Value>, handle: &Handle) -> Result<Arc<dyn ExtensionPoints>, String> {
    let mut defaults = Vec::new();
    let mut defaulting = DefaultingType::System;
    if let Some(args) = args.filter(|a| !a.is_null()) {
        let map = args.as_object().ok_or("PodTopologySpreadArgs must be an object")?;
        for (key, value) in map {
            match key.as_str() {
                "defaultConstraints" => {
                    defaults = serde_json::from_value(value.clone()).map_err(|e| format!("defaultConstraints: {e}"))?;
                }
                "defaultingType" => {
                    defaulting = match value.as_str() {
                        Some("System") => DefaultingType::System,
                        Some("List") => DefaultingType::List,
                        _ => {
                            return Err(format!(
                                "defaultingType: Unsupported value: {value}: supported values: \"System\", \"List\""
                            ));
                        }
                    }
                }
                "kind" | "apiVersion" => {}
                other => return Err(format!("PodTopologySpreadArgs: unknown field {other:?}")),
            }
        }
    }
    Ok(Arc::new(PodTopologySpread::new(defaults, defaulting, handle.listers.clone())?))
}

/// A constraint with its selector parsed and its defaults applied (kube's
/// internal `topologySpreadConstraint`).
#[derive(Clone, Debug)]
struct Constraint {
    max_skew: i32,
    topology_key: String,
    selector: Selector,
    min_domains: i32,
    honor_node_affinity: bool,
    honor_node_taints: bool,
}

impl Constraint {
    /// Whether `node` counts for this constraint under its node inclusion
    /// policies, for `pod`.
    fn includes(&self, pod: &PodInfo, node: &NodeInfo) -> bool {
        if self.honor_node_affinity && !required_matches(pod, node) {
            return false;
        }
        !(self.honor_node_taints && untolerated_hard_taint(&node.node.spec.taints, &pod.pod.spec.tolerations).is_some())
    }
}

/// The constraints with `when_unsatisfiable == action`, parsed; a missing
/// selector matches nothing; `matchLabelKeys` add the pod's values.
fn parse_constraints(
    constraints: &[TopologySpreadConstraint],
    pod_labels: &SortedMap<String, String>,
    action: &str,
) -> Result<Vec<Constraint>, String> {
    let mut parsed = Vec::new();
    for c in constraints.iter().filter(|c| c.when_unsatisfiable == action) {
        let mut selector = match &c.label_selector {
            Some(s) => Selector::try_from(s).map_err(|e| e.to_string())?,
            None => Selector::nothing(),
        };
        let pinned: SortedMap<String, String> = c
            .match_label_keys
            .iter()
            .filter_map(|k| pod_labels.get(k.as_str()).map(|v| (k.clone(), v.clone())))
            .collect();
        if !pinned.is_empty() {
            // As kube: the label set first, then the selector's requirements
            // (none for a missing selector, which then stops matching nothing).
            selector = Selector::from_map(&pinned).with_requirements(selector.requirements().to_vec());
        }
        parsed.push(Constraint {
            max_skew: c.max_skew,
            topology_key: c.topology_key.clone(),
            selector,
            min_domains: c.min_domains.unwrap_or(1),
            honor_node_affinity: c.node_affinity_policy.as_deref().is_none_or(|p| p == HONOR),
            honor_node_taints: c.node_taints_policy.as_deref() == Some(HONOR),
        });
    }
    Ok(parsed)
}

/// The selector of the Services selecting the pod, and of its controlling
/// ReplicationController, ReplicaSet or StatefulSet (kube's `DefaultSelector`).
fn default_selector(pod: &Pod, listers: &Listers) -> Selector {
    let namespace = pod.metadata.namespace.as_str();
    let labels = &pod.metadata.labels;
    let mut set: SortedMap<String, String> = SortedMap::default();
    for service in listers.services.in_namespace(namespace) {
        let selector = &service.spec.selector;
        // A Service without a selector selects nothing; an empty one adds nothing.
        if !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k.as_str()) == Some(v)) {
            set.extend(selector.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    let mut selector = Selector::from_map(&set);
    let Some(owner) = pod.metadata.controller() else { return selector };
    let key = format!("{namespace}/{}", owner.name);
    let extra = |s: Option<&k_api_types::meta::LabelSelector>| {
        s.and_then(|s| Selector::try_from(s).ok()).map(|s| s.requirements().to_vec()).unwrap_or_default()
    };
    match (owner.api_version.as_str(), owner.kind.as_str()) {
        ("v1", "ReplicationController") => {
            if let Some(rc) = listers.replication_controllers.get(&key) {
                set.extend(rc.spec.selector.iter().map(|(k, v)| (k.clone(), v.clone())));
                selector = Selector::from_map(&set);
            }
        }
        ("apps/v1", "ReplicaSet") => {
            if let Some(rs) = listers.replica_sets.get(&key) {
                selector = selector.with_requirements(extra(rs.spec.selector.as_ref()));
            }
        }
        ("apps/v1", "StatefulSet") => {
            if let Some(ss) = listers.stateful_sets.get(&key) {
                selector = selector.with_requirements(extra(ss.spec.selector.as_ref()));
            }
        }
        _ => {}
    }
    selector
}

/// Matching pods per domain (topology value), hashed with foldhash: these
/// maps are filled for every node in every cycle.
pub(super) type DomainCounts = std::collections::HashMap<String, i64, foldhash::fast::RandomState>;

/// Whether the node has every constraint's topology key.
fn has_all_keys(node: &NodeInfo, constraints: &[Constraint]) -> bool {
    constraints.iter().all(|c| node.node.metadata.labels.get(c.topology_key.as_str()).is_some())
}

/// Above how many pods a node's pods are counted through its label index.
const INDEXED_ABOVE: usize = 8;

/// How many of `node`'s pods match `selector` in `namespace`, terminating ones
/// (with a deletion timestamp) left out.
fn count_matching(node: &NodeInfo, selector: &Selector, namespace: &str) -> i64 {
    // A label every match has narrows the search to the pods that have it
    // (an owner's selector pins its `app`-like label: a handful of pods
    // instead of all of the node's).
    // A few pods are quicker to match than to look up.
    let pods = match selector.pinned_label() {
        Some((key, value)) if node.pods.len() > INDEXED_ABOVE => node.pods_with_label(namespace, key, value),
        _ => &node.pods,
    };
    pods.iter()
        .filter(|p| {
            let meta = &p.pod.metadata;
            meta.deletion_timestamp.is_none() && meta.namespace == namespace && selector.matches(&meta.labels)
        })
        .count() as i64
}
