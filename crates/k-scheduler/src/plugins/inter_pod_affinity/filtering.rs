//! PreFilter (with its add/remove-pod extensions) and Filter.

use std::sync::Arc;

use k_api_types::SortedMap;
use k_api_types::core::v1::Pod;

use super::{
    InterPodAffinity, NAME, NO_LABELS, REASON_AFFINITY, REASON_ANTI_AFFINITY, REASON_EXISTING_ANTI_AFFINITY,
    TopologyCounts,
};
use crate::framework::{
    AffinityTerm, CycleState, FilterPlugin, NodeInfo, PodInfo, PreFilterPlugin, PreFilterResult, Status,
};

/// The [`CycleState`] key of the [`PreFilterState`].
pub(super) const PRE_FILTER_KEY: &str = "PreFilterInterPodAffinity";

/// What PreFilter computes for Filter.
#[derive(Clone, Debug)]
pub(super) struct PreFilterState {
    /// Existing pods' required anti-affinity terms matching the incoming pod.
    pub(super) existing_anti_affinity: TopologyCounts,
    /// Pods matching all of the incoming pod's required affinity terms.
    pub(super) affinity: TopologyCounts,
    /// Pods matching the incoming pod's required anti-affinity terms.
    pub(super) anti_affinity: TopologyCounts,
    /// The incoming pod's required affinity terms, namespaces merged.
    pub(super) affinity_terms: Arc<[AffinityTerm]>,
    /// The incoming pod's required anti-affinity terms, namespaces merged.
    pub(super) anti_affinity_terms: Arc<[AffinityTerm]>,
    /// The labels of the incoming pod's namespace.
    pub(super) namespace_labels: Arc<SortedMap<String, String>>,
}

/// Whether `pod` matches every one of `terms` (none: false); the terms are
/// the incoming pod's, whose namespace selectors are merged already.
fn matches_all(terms: &[AffinityTerm], pod: &Pod) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(pod, &NO_LABELS))
}

impl TopologyCounts {
    /// Counts `pod` on `node` in the domain of each of `terms`, when it
    /// matches them all.
    fn add_affinity(&mut self, terms: &[AffinityTerm], pod: &Pod, node: &NodeInfo, delta: i64) {
        if matches_all(terms, pod) {
            for term in terms {
                self.update(node, &term.topology_key, delta);
            }
        }
    }

    /// Counts `pod` on `node` in the domain of each of `terms` it matches.
    fn add_anti_affinity(
        &mut self,
        terms: &[AffinityTerm],
        pod: &Pod,
        namespace_labels: &SortedMap<String, String>,
        node: &NodeInfo,
        delta: i64,
    ) {
        for term in terms.iter().filter(|t| t.matches(pod, namespace_labels)) {
            self.update(node, &term.topology_key, delta);
        }
    }
}

impl PreFilterState {
    /// Counts `other` on `node` (`delta` 1) or uncounts it (−1).
    fn update_with(&mut self, pod: &PodInfo, other: &PodInfo, node: &NodeInfo, delta: i64) {
        self.existing_anti_affinity.add_anti_affinity(
            &other.required_anti_affinity_terms,
            &pod.pod,
            &self.namespace_labels,
            node,
            delta,
        );
        self.affinity.add_affinity(&self.affinity_terms, &other.pod, node, delta);
        self.anti_affinity.add_anti_affinity(&self.anti_affinity_terms, &other.pod, &NO_LABELS, node, delta);
    }

    /// Whether the node satisfies the incoming pod's required affinity.
    fn satisfies_affinity(&self, pod: &PodInfo, node: &NodeInfo) -> bool {
        let labels = &node.node.metadata.labels;
        let mut pods_exist = true;
        for term in self.affinity_terms.iter() {
            let Some(value) = labels.get(term.topology_key.as_str()) else {
                return false; // every topology key must be on the node
            };
            if self.affinity.get(&term.topology_key, value) <= 0 {
                pods_exist = false;
            }
        }
        // The first pod of a group with affinity to itself: no pod matches
        // anywhere yet, but the pod matches its own terms.
        pods_exist || (self.affinity.is_empty() && matches_all(&self.affinity_terms, &pod.pod))
    }

    /// Whether the node satisfies the incoming pod's required anti-affinity.
    fn satisfies_anti_affinity(&self, node: &NodeInfo) -> bool {
        if self.anti_affinity.is_empty() {
            return true;
        }
        let labels = &node.node.metadata.labels;
        !self.anti_affinity_terms.iter().any(|term| {
            labels.get(term.topology_key.as_str()).is_some_and(|v| self.anti_affinity.get(&term.topology_key, v) > 0)
        })
    }

    /// Whether no existing pod's required anti-affinity repels the pod from the node.
    fn satisfies_existing_anti_affinity(&self, node: &NodeInfo) -> bool {
        self.existing_anti_affinity.is_empty()
            || !node.node.metadata.labels.iter().any(|(k, v)| self.existing_anti_affinity.get(k, v) > 0)
    }
}

impl PreFilterPlugin for InterPodAffinity {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[Arc<NodeInfo>],
    ) -> (Option<PreFilterResult>, Status) {
        if let Some(error) = &pod.parse_error {
            return (None, Status::unresolvable(format!("parsing pod: {error}")));
        }
        let affinity_terms: Arc<[AffinityTerm]> = self.merge_namespaces(&pod.required_affinity_terms).into();
        let anti_affinity_terms: Arc<[AffinityTerm]> = self.merge_namespaces(&pod.required_anti_affinity_terms).into();
        let namespace_labels = self.namespace_labels(&pod.pod.metadata.namespace);

        let mut existing_anti_affinity = TopologyCounts::default();
        for node in nodes {
            for existing in &node.pods_with_required_anti_affinity {
                existing_anti_affinity.add_anti_affinity(
                    &existing.required_anti_affinity_terms,
                    &pod.pod,
                    &namespace_labels,
                    node,
                    1,
                );
            }
        }
        let mut affinity = TopologyCounts::default();
        let mut anti_affinity = TopologyCounts::default();
        if !affinity_terms.is_empty() || !anti_affinity_terms.is_empty() {
            for node in nodes {
                for existing in &node.pods {
                    affinity.add_affinity(&affinity_terms, &existing.pod, node, 1);
                    anti_affinity.add_anti_affinity(&anti_affinity_terms, &existing.pod, &NO_LABELS, node, 1);
                }
            }
        }
        if existing_anti_affinity.is_empty() && affinity_terms.is_empty() && anti_affinity_terms.is_empty() {
            return (None, Status::skip());
        }
        state.write(
            PRE_FILTER_KEY,
            PreFilterState {
                existing_anti_affinity,
                affinity,
                anti_affinity,
                affinity_terms,
                anti_affinity_terms,
                namespace_labels: Arc::new(namespace_labels),
            },
        );
        (None, Status::success())
    }

    /// Counts `other` as running on `node`. Without PreFilter state (its
    /// PreFilter answered Skip, so Filter does not run) there is nothing to do.
    fn add_pod(&self, state: &mut CycleState, pod: &PodInfo, other: &Arc<PodInfo>, node: &NodeInfo) -> Status {
        if let Some(s) = state.read_mut::<PreFilterState>(PRE_FILTER_KEY) {
            s.update_with(pod, other, node, 1);
        }
        Status::success()
    }

    /// Uncounts `other` from `node`.
    fn remove_pod(&self, state: &mut CycleState, pod: &PodInfo, other: &Arc<PodInfo>, node: &NodeInfo) -> Status {
        if let Some(s) = state.read_mut::<PreFilterState>(PRE_FILTER_KEY) {
            s.update_with(pod, other, node, -1);
        }
        Status::success()
    }
}

impl FilterPlugin for InterPodAffinity {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>(PRE_FILTER_KEY) else {
            return Status::error(format!("reading {PRE_FILTER_KEY:?} from cycleState: not found")).from_plugin(NAME);
        };
        if !s.satisfies_affinity(pod, node) {
            return Status::unresolvable(REASON_AFFINITY).from_plugin(NAME);
        }
        if !s.satisfies_anti_affinity(node) {
            return Status::unschedulable(REASON_ANTI_AFFINITY).from_plugin(NAME);
        }
        if !s.satisfies_existing_anti_affinity(node) {
            return Status::unschedulable(REASON_EXISTING_ANTI_AFFINITY).from_plugin(NAME);
        }
        Status::success()
    }
}
