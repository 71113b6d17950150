//! PreScore, Score and NormalizeScore: the `ScheduleAnyway` constraints.

use std::collections::HashSet;
use std::sync::Arc;

use crate::framework::{CycleState, MAX_NODE_SCORE, NodeInfo, NodeScore, PodInfo, PreScorePlugin, ScorePlugin, Status};

use super::{
    Constraint, DomainCounts, LABEL_HOSTNAME, PodTopologySpread, SCHEDULE_ANYWAY, count_matching, has_all_keys,
};

/// The [`CycleState`] key of the PreScore state.
const PRE_SCORE_KEY: &str = "PreScorePodTopologySpread";

/// What PreScore computes for Score and NormalizeScore.
#[derive(Debug)]
pub(super) struct PreScoreState {
    constraints: Vec<Constraint>,
    /// Feasible nodes missing a topology key: they score 0.
    pub(super) ignored: HashSet<String>,
    /// Per constraint (empty for hostname ones): matching pods by topology
    /// value, for the values of the feasible nodes.
    pub(super) counts: Vec<DomainCounts>,
    /// Per constraint: `log(domains + 2)`.
    pub(super) weights: Vec<f64>,
}

/// kube's `topologyNormalizingWeight`: `ln(size + 2)`, so the counts of
/// topologies with few domains are not watered down by those with many.
pub(super) fn topology_normalizing_weight(size: usize) -> f64 {
    (size as f64 + 2.0).ln()
}

/// A domain's contribution: `count × weight + maxSkew − 1` (the `maxSkew − 1`
/// waters down small differences).
fn score_for_count(count: i64, max_skew: i32, weight: f64) -> f64 {
    count as f64 * weight + f64::from(max_skew - 1)
}

impl PodTopologySpread {
    /// Finds the ignored nodes, the domains of the feasible nodes and the
    /// constraints' weights (kube's `initPreScoreState`).
    fn pre_score_state(
        &self,
        constraints: Vec<Constraint>,
        feasible: &[Arc<NodeInfo>],
        require_all_keys: bool,
    ) -> PreScoreState {
        let mut ignored = HashSet::new();
        let mut counts: Vec<DomainCounts> = vec![DomainCounts::default(); constraints.len()];
        for node in feasible {
            if require_all_keys && !has_all_keys(node, &constraints) {
                ignored.insert(node.name().to_owned());
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if c.topology_key == LABEL_HOSTNAME {
                    continue; // counted per node in Score
                }
                let value = node.node.metadata.labels.get(c.topology_key.as_str()).cloned().unwrap_or_default();
                counts[i].entry(value).or_insert(0);
            }
        }
        let weights = constraints
            .iter()
            .zip(&counts)
            .map(|(c, domains)| {
                let size =
                    if c.topology_key == LABEL_HOSTNAME { feasible.len() - ignored.len() } else { domains.len() };
                topology_normalizing_weight(size)
            })
            .collect();
        PreScoreState { constraints, ignored, counts, weights }
    }
}

impl PreScorePlugin for PodTopologySpread {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        feasible: &[Arc<NodeInfo>],
        all: &[Arc<NodeInfo>],
    ) -> Status {
        if all.is_empty() {
            return Status::skip();
        }
        let constraints = match self.constraints(&pod.pod, SCHEDULE_ANYWAY) {
            Ok(c) => c,
            Err(e) => return Status::error(format!("obtaining pod's soft topology spread constraints: {e}")),
        };
        if constraints.is_empty() {
            return Status::skip();
        }
        // System defaults do not require every key, so nodes without a zone
        // still get hostname spreading.
        let require_all_keys = !pod.pod.spec.topology_spread_constraints.is_empty() || !self.system_defaulted;
        let mut s = self.pre_score_state(constraints, feasible, require_all_keys);
        let namespace = pod.pod.metadata.namespace.as_str();
        for node in all.iter() {
            if require_all_keys && !has_all_keys(node, &s.constraints) {
                continue;
            }
            let labels = &node.node.metadata.labels;
            for (i, c) in s.constraints.iter().enumerate() {
                if !c.includes(pod, node) {
                    continue;
                }
                let value = labels.get(c.topology_key.as_str()).map(String::as_str).unwrap_or_default();
                // Only the domains of feasible nodes (never hostname ones).
                if let Some(count) = s.counts[i].get_mut(value) {
                    *count += count_matching(node, &c.selector, namespace);
                }
            }
        }
        state.write(PRE_SCORE_KEY, Arc::new(s));
        Status::success()
    }
}

fn read_state(state: &CycleState) -> Result<&Arc<PreScoreState>, Status> {
    state
        .read::<Arc<PreScoreState>>(PRE_SCORE_KEY)
        .ok_or_else(|| Status::error(format!("reading {PRE_SCORE_KEY:?} from cycleState: not found")))
}

impl ScorePlugin for PodTopologySpread {
    /// The node's raw score: per constraint whose key the node has, its
    /// domain's matching pods (the node's own for hostname) × the weight,
    /// plus `maxSkew − 1`; rounded.
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let s = read_state(state)?;
        if s.ignored.contains(node.name()) {
            return Ok(0);
        }
        let labels = &node.node.metadata.labels;
        let mut score = 0.0;
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(value) = labels.get(c.topology_key.as_str()) else { continue };
            let count = if c.topology_key == LABEL_HOSTNAME {
                count_matching(node, &c.selector, &pod.pod.metadata.namespace)
            } else {
                s.counts[i].get(value).copied().unwrap_or(0)
            };
            score += score_for_count(count, c.max_skew, s.weights[i]);
        }
        Ok(score.round() as i64)
    }

    /// Reverses the scores: `100 × (max + min − score) / max` over the nodes
    /// not ignored (all 100 when the highest is 0); ignored nodes get 0.
    fn normalize(&self, state: &CycleState, _: &PodInfo, scores: &mut [NodeScore]) -> Status {
        let s = match read_state(state) {
            Ok(s) => s,
            Err(status) => return status,
        };
        let counted = || scores.iter().filter(|n| !s.ignored.contains(&*n.name)).map(|n| n.score);
        let min = counted().min().unwrap_or(i64::MAX);
        let max = counted().max().unwrap_or(0).max(0);
        for n in scores.iter_mut() {
            n.score = if s.ignored.contains(&*n.name) {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max + min - n.score) / max
            };
        }
        Status::success()
    }
}

/// The PreScore state, for tests.
#[cfg(test)]
pub(super) fn read_pre_score(state: &CycleState) -> Option<&PreScoreState> {
    state.read::<Arc<PreScoreState>>(PRE_SCORE_KEY).map(|s| &**s)
}
