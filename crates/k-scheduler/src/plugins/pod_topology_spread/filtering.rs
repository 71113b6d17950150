//! PreFilter (with its add/remove-pod extensions) and Filter: the
//! `DoNotSchedule` constraints.

use std::sync::Arc;

use crate::framework::{CycleState, FilterPlugin, NodeInfo, PodInfo, PreFilterPlugin, PreFilterResult, Status};

use super::DomainCounts;
use super::{
    Constraint, DO_NOT_SCHEDULE, NAME, PodTopologySpread, REASON_CONSTRAINTS_NOT_MATCH, REASON_NODE_LABEL_NOT_MATCH,
    count_matching, has_all_keys,
};

/// The [`CycleState`] key of the PreFilter state.
const PRE_FILTER_KEY: &str = "PreFilterPodTopologySpread";
/// The two domains with the fewest matching pods (kube's `criticalPaths`):
/// the first always holds the minimum; the second is at least as large, but
/// not necessarily the second smallest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct CriticalPaths([(String, i64); 2]);

impl Default for CriticalPaths {
    fn default() -> Self {
        let none = (String::new(), i64::from(i32::MAX));
        CriticalPaths([none.clone(), none])
    }
}

impl CriticalPaths {
    /// Records that domain `value` now has `num` matching pods.
    pub(super) fn update(&mut self, value: &str, num: i64) {
        let p = &mut self.0;
        let at = if value == p[0].0 {
            Some(0)
        } else if value == p[1].0 {
            Some(1)
        } else {
            None
        };
        match at {
            Some(i) => {
                p[i].1 = num;
                if p[0].1 > p[1].1 {
                    p.swap(0, 1);
                }
            }
            None if num < p[0].1 => {
                p[1] = std::mem::replace(&mut p[0], (value.to_owned(), num));
            }
            None if num < p[1].1 => p[1] = (value.to_owned(), num),
            None => {}
        }
    }

    /// The smallest count.
    pub(super) fn min(&self) -> i64 {
        self.0[0].1
    }
}

/// What PreFilter computes: per hard constraint, the matching pods per
/// domain and the critical paths.
#[derive(Clone, Debug)]
pub(super) struct PreFilterState {
    constraints: Arc<[Constraint]>,
    pub(super) paths: Vec<CriticalPaths>,
    /// Per constraint: matching pods by topology value (every eligible domain
    /// has an entry, possibly 0).
    pub(super) matches: Vec<DomainCounts>,
}

impl PreFilterState {
    /// The global minimum for constraint `i`: 0 while there are fewer
    /// domains than `minDomains`.
    fn min_match(&self, i: usize, min_domains: i32) -> i64 {
        if (self.matches[i].len() as i64) < i64::from(min_domains) { 0 } else { self.paths[i].min() }
    }

    /// Adds `delta` for `other` on `node` (kube's `updateWithPod`).
    fn update(&mut self, pod: &PodInfo, other: &PodInfo, node: &NodeInfo, delta: i64) {
        if other.pod.metadata.namespace != pod.pod.metadata.namespace || !has_all_keys(node, &self.constraints) {
            return;
        }
        let labels = &node.node.metadata.labels;
        for (i, c) in self.constraints.iter().enumerate() {
            if !c.selector.matches(&other.pod.metadata.labels) || !c.includes(pod, node) {
                continue;
            }
            let value = labels.get(c.topology_key.as_str()).map(String::as_str).unwrap_or_default();
            let count = self.matches[i].entry(value.to_owned()).or_default();
            *count += delta;
            let count = *count;
            self.paths[i].update(value, count);
        }
    }
}

/// Counts the matching pods per domain of each constraint over `nodes`.
fn pre_filter_state(pod: &PodInfo, constraints: Vec<Constraint>, nodes: &[Arc<NodeInfo>]) -> PreFilterState {
    let namespace = pod.pod.metadata.namespace.as_str();
    let count = |chunk: &[Arc<NodeInfo>]| {
        let mut matches: Vec<DomainCounts> = vec![DomainCounts::default(); constraints.len()];
        for node in chunk.iter().filter(|n| has_all_keys(n, &constraints)) {
            for (i, c) in constraints.iter().enumerate() {
                if !c.includes(pod, node) {
                    continue;
                }
                let value = &node.node.metadata.labels[c.topology_key.as_str()];
                let n = count_matching(node, &c.selector, namespace);
                match matches[i].get_mut(value.as_str()) {
                    Some(count) => *count += n,
                    None => {
                        matches[i].insert(value.clone(), n);
                    }
                }
            }
        }
        matches
    };
    let merge = |mut a: Vec<DomainCounts>, b: Vec<DomainCounts>| {
        for (into, from) in a.iter_mut().zip(b) {
            for (value, n) in from {
                *into.entry(value).or_default() += n;
            }
        }
        a
    };
    let matches = crate::framework::parallel::map_nodes(nodes, &count, &merge);
    let paths = matches
        .iter()
        .map(|counts| {
            // Sorted, so the second path does not depend on hashing.
            let mut domains: Vec<(&String, &i64)> = counts.iter().collect();
            domains.sort();
            let mut paths = CriticalPaths::default();
            for (value, num) in domains {
                paths.update(value, *num);
            }
            paths
        })
        .collect();
    PreFilterState { constraints: constraints.into(), paths, matches }
}

impl PreFilterPlugin for PodTopologySpread {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[Arc<NodeInfo>],
    ) -> (Option<PreFilterResult>, Status) {
        let constraints = match self.constraints(&pod.pod, DO_NOT_SCHEDULE) {
            Ok(c) => c,
            Err(e) => return (None, Status::error(format!("obtaining pod's hard topology spread constraints: {e}"))),
        };
        if constraints.is_empty() {
            return (None, Status::skip());
        }
        state.write(PRE_FILTER_KEY, pre_filter_state(pod, constraints, nodes));
        (None, Status::success())
    }

    fn add_pod(&self, state: &mut CycleState, pod: &PodInfo, other: &Arc<PodInfo>, node: &NodeInfo) -> Status {
        if let Some(s) = state.read_mut::<PreFilterState>(PRE_FILTER_KEY) {
            s.update(pod, other, node, 1);
        }
        Status::success()
    }

    fn remove_pod(&self, state: &mut CycleState, pod: &PodInfo, other: &Arc<PodInfo>, node: &NodeInfo) -> Status {
        if let Some(s) = state.read_mut::<PreFilterState>(PRE_FILTER_KEY) {
            s.update(pod, other, node, -1);
        }
        Status::success()
    }
}

impl FilterPlugin for PodTopologySpread {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>(PRE_FILTER_KEY) else {
            return Status::error(format!("reading {PRE_FILTER_KEY:?} from cycleState: not found"));
        };
        let labels = &node.node.metadata.labels;
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(value) = labels.get(c.topology_key.as_str()) else {
                return Status::unresolvable(REASON_NODE_LABEL_NOT_MATCH).from_plugin(NAME);
            };
            let self_match = i64::from(c.selector.matches(&pod.pod.metadata.labels));
            let match_num = s.matches[i].get(value).copied().unwrap_or(0);
            if match_num + self_match - s.min_match(i, c.min_domains) > i64::from(c.max_skew) {
                return Status::unschedulable(REASON_CONSTRAINTS_NOT_MATCH).from_plugin(NAME);
            }
        }
        Status::success()
    }
}

/// The PreFilter state, for tests.
#[cfg(test)]
pub(super) fn read_state(state: &CycleState) -> Option<&PreFilterState> {
    state.read::<PreFilterState>(PRE_FILTER_KEY)
}
