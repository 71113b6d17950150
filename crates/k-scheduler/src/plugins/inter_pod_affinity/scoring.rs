//! PreScore, Score and NormalizeScore.

use std::collections::HashMap;
use std::sync::Arc;

use k_api_types::SortedMap;
use k_api_types::core::v1::Pod;

use super::{InterPodAffinity, NAME, NO_LABELS};
use crate::framework::{
    AffinityTerm, CycleState, MAX_NODE_SCORE, NodeInfo, NodeScore, PodInfo, PreScorePlugin, ScorePlugin, Status,
    WeightedAffinityTerm,
};

/// The [`CycleState`] key of the [`PreScoreState`].
const PRE_SCORE_KEY: &str = "PreScoreInterPodAffinity";

/// Summed weights by topology key and value (kube's `scoreMap`).
#[derive(Clone, Debug, Default)]
struct PreScoreState(Arc<HashMap<String, HashMap<String, i64>>>);

/// What one pass over the existing pods sums into.
struct Scores<'a> {
    map: HashMap<String, HashMap<String, i64>>,
    incoming: &'a Pod,
    /// The incoming pod's preferred terms, namespaces merged.
    preferred: &'a [WeightedAffinityTerm],
    preferred_anti: &'a [WeightedAffinityTerm],
    namespace_labels: &'a SortedMap<String, String>,
    hard_weight: i64,
}

impl Scores<'_> {
    /// Adds `weight` to the domain of `node` when `term` matches `pod`.
    fn term(
        map: &mut HashMap<String, HashMap<String, i64>>,
        term: &AffinityTerm,
        weight: i64,
        pod: &Pod,
        labels: &SortedMap<String, String>,
        node: &NodeInfo,
    ) {
        if term.matches(pod, labels)
            && let Some(value) = node.node.metadata.labels.get(term.topology_key.as_str())
        {
            super::add_count(map, &term.topology_key, value, weight);
        }
    }

    fn terms(
        map: &mut HashMap<String, HashMap<String, i64>>,
        terms: &[WeightedAffinityTerm],
        sign: i64,
        pod: &Pod,
        labels: &SortedMap<String, String>,
        node: &NodeInfo,
    ) {
        for t in terms {
            Self::term(map, &t.term, t.weight * sign, pod, labels, node);
        }
    }

    /// kube's `processExistingPod`: the incoming pod's preferred terms
    /// against `existing`, and `existing`'s terms against the incoming pod.
    fn existing_pod(&mut self, existing: &PodInfo, node: &NodeInfo) {
        if node.node.metadata.labels.is_empty() {
            return;
        }
        let map = &mut self.map;
        Self::terms(map, self.preferred, 1, &existing.pod, &NO_LABELS, node);
        Self::terms(map, self.preferred_anti, -1, &existing.pod, &NO_LABELS, node);
        if self.hard_weight > 0 {
            for t in &existing.required_affinity_terms {
                Self::term(map, t, self.hard_weight, self.incoming, self.namespace_labels, node);
            }
        }
        Self::terms(map, &existing.preferred_affinity_terms, 1, self.incoming, self.namespace_labels, node);
        Self::terms(map, &existing.preferred_anti_affinity_terms, -1, self.incoming, self.namespace_labels, node);
    }
}

/// The incoming pod's terms, namespaces merged, with their weights.
fn with_weights(merged: Vec<AffinityTerm>, original: &[WeightedAffinityTerm]) -> Vec<WeightedAffinityTerm> {
    merged.into_iter().zip(original).map(|(term, w)| WeightedAffinityTerm { term, weight: w.weight }).collect()
}

impl InterPodAffinity {
    /// The summed weights by topology key and value over the pods of
    /// `nodes` (only those with affinity terms unless `all_pods`).
    fn topology_scores(
        &self,
        pod: &PodInfo,
        nodes: &[Arc<NodeInfo>],
        all_pods: bool,
    ) -> HashMap<String, HashMap<String, i64>> {
        let preferred = with_weights(
            self.merge_namespaces(pod.preferred_affinity_terms.iter().map(|t| &t.term)),
            &pod.preferred_affinity_terms,
        );
        let preferred_anti = with_weights(
            self.merge_namespaces(pod.preferred_anti_affinity_terms.iter().map(|t| &t.term)),
            &pod.preferred_anti_affinity_terms,
        );
        let namespace_labels = self.namespace_labels(&pod.pod.metadata.namespace);
        let mut scores = Scores {
            map: HashMap::new(),
            incoming: &pod.pod,
            preferred: &preferred,
            preferred_anti: &preferred_anti,
            namespace_labels: &namespace_labels,
            hard_weight: self.args.hard_pod_affinity_weight,
        };
        for node in nodes {
            for existing in if all_pods { &node.pods } else { &node.pods_with_affinity } {
                scores.existing_pod(existing, node);
            }
        }
        scores.map
    }
}

impl PreScorePlugin for InterPodAffinity {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[Arc<NodeInfo>],
        all: &[Arc<NodeInfo>],
    ) -> Status {
        if nodes.is_empty() {
            return Status::skip();
        }
        let affinity = pod.pod.spec.affinity.as_deref();
        let has_constraints = affinity
            .and_then(|a| a.pod_affinity.as_ref())
            .is_some_and(|a| !a.preferred_during_scheduling_ignored_during_execution.is_empty())
            || affinity
                .and_then(|a| a.pod_anti_affinity.as_ref())
                .is_some_and(|a| !a.preferred_during_scheduling_ignored_during_execution.is_empty());
        if self.args.ignore_preferred_terms_of_existing_pods && !has_constraints {
            return Status::skip();
        }
        if let Some(error) = &pod.parse_error {
            return Status::error(format!("failed to parse pod: {error}"));
        }
        // kube scores over the whole snapshot: pods on nodes filtered out
        // still count for their domains.
        let map = self.topology_scores(pod, all, has_constraints);
        if map.is_empty() {
            return Status::skip();
        }
        state.write(PRE_SCORE_KEY, PreScoreState(Arc::new(map)));
        Status::success()
    }
}

impl ScorePlugin for InterPodAffinity {
    /// The summed weights of the node's domains (negative when repelled).
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let Some(s) = state.read::<PreScoreState>(PRE_SCORE_KEY) else {
            return Err(Status::error(format!("failed to read {PRE_SCORE_KEY:?} from cycleState")).from_plugin(NAME));
        };
        let labels = &node.node.metadata.labels;
        Ok(s.0
            .iter()
            .filter_map(|(key, values)| labels.get(key.as_str()).map(|v| values.get(v).copied().unwrap_or(0)))
            .sum())
    }

    /// Maps the lowest..highest score to 0..[`MAX_NODE_SCORE`] (kube's
    /// float arithmetic, truncated); all equal: all 0.
    fn normalize(&self, state: &CycleState, _: &PodInfo, scores: &mut [NodeScore]) -> Status {
        let Some(s) = state.read::<PreScoreState>(PRE_SCORE_KEY) else {
            return Status::error(format!("failed to read {PRE_SCORE_KEY:?} from cycleState")).from_plugin(NAME);
        };
        if s.0.is_empty() {
            return Status::success();
        }
        let min = scores.iter().map(|s| s.score).min().unwrap_or(0);
        let max = scores.iter().map(|s| s.score).max().unwrap_or(0);
        let diff = max - min;
        for score in scores.iter_mut() {
            score.score =
                if diff > 0 { (MAX_NODE_SCORE as f64 * ((score.score - min) as f64 / diff as f64)) as i64 } else { 0 };
        }
        Status::success()
    }
}
