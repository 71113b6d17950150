//! NodeAffinity: the pod's `nodeSelector` (the notes' PodSelectorMatches)
//! and required node affinity must match the node (filter); the preferred
//! terms that match add their weights, normalized so the best node scores
//! 100 (score). PreFilter narrows the search to the nodes named by
//! `matchFields` on `metadata.name` (how DaemonSet pods are pinned), and
//! skips the filter for pods with neither a selector nor required terms.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::framework::{
    CycleState, FilterPlugin, MAX_NODE_SCORE, NodeInfo, NodeScore, Plugin, PodInfo, PreFilterPlugin, PreFilterResult,
    ScorePlugin, Status, default_normalize_score,
};
use crate::plugins::helper::term_matches;

/// Its name.
pub const NAME: &str = "NodeAffinity";
/// The reason it gives.
pub const REASON: &str = "node(s) didn't match Pod's node affinity/selector";

/// The plugin; see the [module docs](self).
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeAffinity;

impl Plugin for NodeAffinity {
    fn name(&self) -> &'static str {
        NAME
    }
}

/// The reason when the required terms name no node at all.
pub const CONFLICT: &str = "pod affinity terms conflict";

/// The nodes the pod's required terms pin it to by name (`matchFields`
/// `metadata.name In`), or `None` when some term allows any node: each term
/// gives the intersection of its name requirements; the terms are ORed.
pub fn pinned_node_names(pod: &PodInfo) -> Option<BTreeSet<String>> {
    let required = pod
        .pod
        .spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?;
    let mut names = BTreeSet::new();
    for term in &required.node_selector_terms {
        let mut term_names: Option<BTreeSet<String>> = None;
        for r in term.match_fields.iter().filter(|r| r.key == "metadata.name" && r.operator == "In") {
            let values: BTreeSet<String> = r.values.iter().cloned().collect();
            term_names = Some(match term_names {
                None => values,
                Some(before) => before.intersection(&values).cloned().collect(),
            });
        }
        names.extend(term_names?);
    }
    Some(names)
}

impl PreFilterPlugin for NodeAffinity {
    fn pre_filter(&self, _: &mut CycleState, pod: &PodInfo, _: &[Arc<NodeInfo>]) -> (Option<PreFilterResult>, Status) {
        let spec = &pod.pod.spec;
        let required = spec
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref());
        if spec.node_selector.is_empty() && required.is_none() {
            return (None, Status::skip());
        }
        match pinned_node_names(pod) {
            Some(names) if names.is_empty() => (None, Status::unresolvable(CONFLICT)),
            Some(names) => (Some(PreFilterResult { node_names: Some(names.into_iter().collect()) }), Status::success()),
            None => (None, Status::success()),
        }
    }
}

/// Whether the pod's node selector and required node affinity allow the node.
pub fn required_matches(pod: &PodInfo, node: &NodeInfo) -> bool {
    let spec = &pod.pod.spec;
    let labels = &node.node.metadata.labels;
    if !spec.node_selector.iter().all(|(k, v)| labels.get(k.as_str()) == Some(v)) {
        return false;
    }
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref());
    match required {
        None => true,
        Some(selector) => selector.node_selector_terms.iter().any(|t| term_matches(t, &node.node)),
    }
}

impl FilterPlugin for NodeAffinity {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if required_matches(pod, node) { Status::success() } else { Status::unresolvable(REASON).from_plugin(NAME) }
    }
}

impl ScorePlugin for NodeAffinity {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let preferred = pod
            .pod
            .spec
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
            .map(|n| n.preferred_during_scheduling_ignored_during_execution.as_slice())
            .unwrap_or_default();
        Ok(preferred
            .iter()
            .filter(|p| p.weight != 0 && term_matches(&p.preference, &node.node))
            .map(|p| i64::from(p.weight))
            .sum())
    }

    fn normalize(&self, _: &CycleState, _: &PodInfo, scores: &mut [NodeScore]) -> Status {
        default_normalize_score(MAX_NODE_SCORE, false, scores);
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plugins::testing::{node, pod};

    #[test]
    fn selector_and_required_terms() {
        let state = CycleState::new();
        let a = node("a", json!({}), json!({"labels": {"zone": "a", "disk": "ssd"}}));
        let b = node("b", json!({}), json!({"labels": {"zone": "b"}}));
        let selector = pod("s", json!({"nodeSelector": {"disk": "ssd"}}));
        assert!(NodeAffinity.filter(&state, &selector, &a).is_success());
        assert_eq!(NodeAffinity.filter(&state, &selector, &b).reasons(), [REASON]);
        let terms = pod(
            "t",
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["x"]}]},
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}
            ]}}}}),
        );
        assert!(!NodeAffinity.filter(&state, &terms, &a).is_success());
        assert!(NodeAffinity.filter(&state, &terms, &b).is_success(), "terms are ORed");
    }

    #[test]
    fn pre_filter_pins_names_and_skips_pods_without_requirements() {
        let mut state = CycleState::new();
        let pinned = |terms: serde_json::Value| {
            pod(
                "d",
                json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": terms}}}}),
            )
        };
        let daemon = pinned(json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n7"]}]}]));
        let (result, status) = NodeAffinity.pre_filter(&mut state, &daemon, &[]);
        assert!(status.is_success());
        assert_eq!(result.unwrap().node_names, Some(vec!["n7".to_owned()]));
        let two_terms = pinned(json!([
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a", "b"]},
                             {"key": "metadata.name", "operator": "In", "values": ["b", "c"]}]},
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["d"]}]}
        ]));
        let (result, _) = NodeAffinity.pre_filter(&mut state, &two_terms, &[]);
        assert_eq!(result.unwrap().node_names, Some(vec!["b".to_owned(), "d".to_owned()]), "∩ within, ∪ across");
        let open = pinned(json!([
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a"]}]},
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["x"]}]}
        ]));
        let (result, status) = NodeAffinity.pre_filter(&mut state, &open, &[]);
        assert!(status.is_success() && result.is_none(), "a term without names allows every node");
        let conflict = pinned(json!([{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": ["a"]},
            {"key": "metadata.name", "operator": "In", "values": ["b"]}]}]));
        let (_, status) = NodeAffinity.pre_filter(&mut state, &conflict, &[]);
        assert_eq!(
            (status.code(), status.reasons()),
            (crate::framework::Code::UnschedulableAndUnresolvable, &[CONFLICT.to_owned()][..])
        );
        let (_, status) = NodeAffinity.pre_filter(&mut state, &pod("plain", json!({})), &[]);
        assert_eq!(status.code(), crate::framework::Code::Skip);
    }

    #[test]
    fn preferred_weights_normalized_to_the_best_node() {
        let state = CycleState::new();
        let p = pod(
            "p",
            json!({"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 2, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}},
                {"weight": 5, "preference": {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}},
                {"weight": 9, "preference": {}}
            ]}}}),
        );
        let nodes = [
            node("a", json!({}), json!({"labels": {"zone": "a", "disk": "ssd"}})),
            node("b", json!({}), json!({"labels": {"zone": "a"}})),
            node("c", json!({}), json!({"labels": {"disk": "hdd"}})),
            node("d", json!({}), json!({})),
        ];
        let mut scores: Vec<NodeScore> = nodes
            .iter()
            .map(|n| NodeScore { name: n.shared_name(), score: NodeAffinity.score(&state, &p, n).unwrap() })
            .collect();
        assert_eq!(
            scores.iter().map(|s| s.score).collect::<Vec<_>>(),
            [7, 2, 5, 0],
            "an empty preference matches nothing"
        );
        NodeAffinity.normalize(&state, &p, &mut scores);
        assert_eq!(scores.iter().map(|s| s.score).collect::<Vec<_>>(), [100, 28, 71, 0]);
    }
}
