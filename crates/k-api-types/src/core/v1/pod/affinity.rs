//! Scheduling constraints: affinity, node selectors, tolerations and
//! topology spread constraints.

use crate::meta::LabelSelector;
use crate::wire;

/// Node affinity, pod affinity and pod anti-affinity of a pod.
#[wire(eq)]
pub struct Affinity {
    /// Which nodes the pod may (or prefers to) run on.
    pub node_affinity: Option<NodeAffinity>,
    /// Pods this pod should run near.
    pub pod_affinity: Option<PodAffinity>,
    /// Pods this pod should not run near.
    pub pod_anti_affinity: Option<PodAntiAffinity>,
}

/// Node affinity: hard and soft constraints on node labels and fields.
#[wire(eq)]
pub struct NodeAffinity {
    /// Nodes the pod must be scheduled onto.
    pub required_during_scheduling_ignored_during_execution: Option<NodeSelector>,
    /// Nodes the pod prefers, each term with a weight.
    pub preferred_during_scheduling_ignored_during_execution: Vec<PreferredSchedulingTerm>,
}

/// A node selector: the ORed terms a node must match.
#[wire(eq)]
pub struct NodeSelector {
    /// The terms; a node matching any of them matches.
    #[wire(always)]
    pub node_selector_terms: Vec<NodeSelectorTerm>,
}

/// ANDed requirements on node labels and fields; an empty term matches nothing.
#[wire(eq)]
pub struct NodeSelectorTerm {
    /// Requirements on node labels.
    pub match_expressions: Vec<NodeSelectorRequirement>,
    /// Requirements on node fields (only `metadata.name`).
    pub match_fields: Vec<NodeSelectorRequirement>,
}

/// A requirement on a node label or field.
#[wire(eq)]
pub struct NodeSelectorRequirement {
    /// The label key or field path.
    pub key: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt` or `Lt`.
    pub operator: String,
    /// Values for `In`/`NotIn` (one or more) and `Gt`/`Lt` (exactly one integer).
    pub values: Vec<String>,
}

/// A weighted preference for nodes matching a term.
#[wire(eq)]
pub struct PreferredSchedulingTerm {
    /// Weight of the preference (1–100).
    pub weight: i32,
    /// The term nodes should match.
    pub preference: NodeSelectorTerm,
}

/// Pods this pod should be co-located with.
#[wire(eq)]
pub struct PodAffinity {
    /// Terms that must hold.
    pub required_during_scheduling_ignored_during_execution: Vec<PodAffinityTerm>,
    /// Weighted terms that should hold.
    pub preferred_during_scheduling_ignored_during_execution: Vec<WeightedPodAffinityTerm>,
}

/// Pods this pod should not be co-located with.
#[wire(eq)]
pub struct PodAntiAffinity {
    /// Terms that must hold.
    pub required_during_scheduling_ignored_during_execution: Vec<PodAffinityTerm>,
    /// Weighted terms that should hold.
    pub preferred_during_scheduling_ignored_during_execution: Vec<WeightedPodAffinityTerm>,
}

/// A set of pods, and the topology domain the pod must share (or not) with them.
#[wire(eq)]
pub struct PodAffinityTerm {
    /// Labels of the pods.
    pub label_selector: Option<LabelSelector>,
    /// Namespaces of the pods (default: this pod's namespace).
    pub namespaces: Vec<String>,
    /// Node label whose value defines the topology domain, such as `kubernetes.io/hostname`.
    pub topology_key: String,
    /// Labels of the namespaces of the pods, ORed with `namespaces`.
    pub namespace_selector: Option<LabelSelector>,
    /// Label keys whose values (on this pod) are added to the selector with `In`.
    pub match_label_keys: Vec<String>,
    /// Label keys whose values (on this pod) are added to the selector with `NotIn`.
    pub mismatch_label_keys: Vec<String>,
}

/// A pod affinity term with a weight.
#[wire(eq)]
pub struct WeightedPodAffinityTerm {
    /// Weight of the term (1–100).
    pub weight: i32,
    /// The term.
    pub pod_affinity_term: PodAffinityTerm,
}

/// A taint the pod tolerates.
#[wire(eq)]
pub struct Toleration {
    /// Taint key to match; empty with `Exists` matches all taints.
    pub key: Option<String>,
    /// `Equal` (default) or `Exists`.
    pub operator: Option<String>,
    /// Taint value to match (empty for `Exists`).
    pub value: Option<String>,
    /// Taint effect to match: `NoSchedule`, `PreferNoSchedule`, `NoExecute`, or empty for all.
    pub effect: Option<String>,
    /// Seconds the pod stays bound to a node with a matching `NoExecute` taint.
    pub toleration_seconds: Option<i64>,
}

impl Toleration {
    /// Whether this toleration tolerates `taint`, as Kubernetes matches
    /// them: an empty effect matches every effect, an empty key (with
    /// `Exists`) every key; `Exists` ignores the value, `Equal` (the
    /// default) compares it; any other operator tolerates nothing.
    pub fn tolerates(&self, taint: &crate::core::v1::Taint) -> bool {
        if let Some(effect) = self.effect.as_deref().filter(|e| !e.is_empty())
            && effect != taint.effect
        {
            return false;
        }
        if let Some(key) = self.key.as_deref().filter(|k| !k.is_empty())
            && key != taint.key
        {
            return false;
        }
        match self.operator.as_deref().unwrap_or_default() {
            "Exists" => true,
            "Equal" | "" => self.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default(),
            _ => false,
        }
    }
}

/// How matching pods are spread across topology domains.
#[wire(eq)]
pub struct TopologySpreadConstraint {
    /// Maximum allowed difference in matching pods between domains.
    pub max_skew: i32,
    /// Node label whose values define the domains.
    pub topology_key: String,
    /// `DoNotSchedule` or `ScheduleAnyway` when the constraint cannot be met.
    pub when_unsatisfiable: String,
    /// Which pods count.
    pub label_selector: Option<LabelSelector>,
    /// Minimum number of eligible domains (with `DoNotSchedule`).
    pub min_domains: Option<i32>,
    /// `Honor` or `Ignore` the pod's node affinity when counting domains.
    pub node_affinity_policy: Option<String>,
    /// `Honor` or `Ignore` node taints when counting domains.
    pub node_taints_policy: Option<String>,
    /// Label keys whose values (on this pod) are added to the selector.
    pub match_label_keys: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerations_match_taints_as_kubernetes_does() {
        let taint: crate::core::v1::Taint =
            serde_json::from_value(serde_json::json!({"key": "dedicated", "value": "cache", "effect": "NoSchedule"}))
                .unwrap();
        let tolerates = |t: serde_json::Value| serde_json::from_value::<Toleration>(t).unwrap().tolerates(&taint);
        assert!(tolerates(serde_json::json!({"key": "dedicated", "value": "cache"})));
        assert!(!tolerates(serde_json::json!({"key": "dedicated", "value": "web"})));
        assert!(tolerates(serde_json::json!({"key": "dedicated", "operator": "Exists"})));
        assert!(tolerates(serde_json::json!({"operator": "Exists"})), "empty key and Exists: everything");
        assert!(!tolerates(serde_json::json!({"operator": "Exists", "effect": "NoExecute"})));
        assert!(tolerates(serde_json::json!({"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"})));
        assert!(!tolerates(serde_json::json!({"key": "dedicated", "operator": "Gt", "value": "cache"})));
    }
}
