//! DefaultPreemption: when no node fits a pod, finds a node where deleting
//! lower-priority pods (the victims) makes room — kube-scheduler's
//! PostFilter plugin, with Kubernetes 1.32 semantics.
//!
//! 1. **Eligibility.** A pod with `preemptionPolicy: Never` does not preempt.
//!    A pod already nominated to a node still holding a terminating
//!    lower-priority pod waits for it instead of preempting again (unless
//!    the filters found that node UnschedulableAndUnresolvable).
//! 2. **Candidates.** Only nodes the filters rejected as `Unschedulable`
//!    are tried (UnschedulableAndUnresolvable ones, and nodes not evaluated
//!    at all, cannot be helped). Starting at an offset, nodes are dry-run
//!    until `max(minCandidateNodesPercentage% of them,
//!    minCandidateNodesAbsolute)` (at most all) candidates are found,
//!    at least one of them violating no PodDisruptionBudget.
//! 3. **Victims on a node** ([`select_victims_on_node`]): on copies of the
//!    node and the cycle state, every pod of lower priority is removed; if
//!    the filters then pass, the removed pods are added back one at a time,
//!    most important first (higher priority, then earlier start), PDB-
//!    violating ones before the others, keeping each one the pod still fits
//!    with. Those that cannot stay are the victims.
//! 4. **The node** ([`pick_one_node`]): fewest PDB violations; then the
//!    lowest highest-victim priority; the smallest sum of victim priorities
//!    (each shifted by 2³¹ so negative priorities count as small, not
//!    negative); the fewest victims; the latest start among the
//!    highest-priority victims; then the first.
//!
//! The plugin only computes: the scheduler deletes the victims and sets the
//! pod's `nominatedNodeName` from the [`PostFilterResult`]. When nothing
//! helps it answers Unschedulable with kube's message, such as `preemption:
//! 0/3 nodes are available: 1 No preemption victims found for incoming pod,
//! 2 Preemption is not helpful for scheduling.`
//!
//! Differences from kube-scheduler: the candidate offset is always 0 (kube
//! draws it at random), so decisions are reproducible and ties go to the
//! first node in snapshot order (kube's map order is random); nodes are
//! dry-run one after another, not in parallel; the filters are re-run
//! without adding nominated pods (the framework keeps no nominator); a pod
//! without `status.startTime` counts from its `creationTimestamp` (kube: now;
//! with neither it counts as started now); and a terminating pod on the
//! nominated node counts as terminating by preemption unless its
//! `DisruptionTarget` condition names another reason (kube requires the
//! condition, which k's scheduler may not write when it deletes victims).

mod victims;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use k_api_types::core::v1::Pod;
use k_api_types::policy::v1::PodDisruptionBudget;
use k_runtime::reflector::Store;
use serde_json::Value;

use crate::framework::{
    Code, CycleState, ExtensionPoints, FitError, Handle, NodeInfo, Plugin, PodInfo, PostFilterContext,
    PostFilterPlugin, PostFilterResult, Status,
};
pub use victims::{Candidate, Pdb, pick_one_node, select_victims_on_node};

/// Its name.
pub const NAME: &str = "DefaultPreemption";

/// The reason given for nodes preemption cannot help.
const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";

/// `DefaultPreemptionArgs`: how many candidate nodes to dry-run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefaultPreemptionArgs {
    /// At least this percentage of the potential nodes (0–100; default 10).
    pub min_candidate_nodes_percentage: u32,
    /// At least this many nodes (default 100).
    pub min_candidate_nodes_absolute: u32,
}

impl Default for DefaultPreemptionArgs {
    fn default() -> Self {
        DefaultPreemptionArgs { min_candidate_nodes_percentage: 10, min_candidate_nodes_absolute: 100 }
    }
}

impl DefaultPreemptionArgs {
    /// Decodes and validates `pluginConfig` arguments (absent fields keep
    /// their defaults; `apiVersion` and `kind` are ignored).
    pub fn parse(args: Option<&Value>) -> Result<Self, String> {
        let mut parsed = DefaultPreemptionArgs::default();
        let Some(args) = args.filter(|a| !a.is_null()) else { return Ok(parsed) };
        let object = args.as_object().ok_or("DefaultPreemptionArgs must be an object")?;
        for (key, value) in object {
            let slot = match key.as_str() {
                "apiVersion" | "kind" => continue,
                "minCandidateNodesPercentage" => &mut parsed.min_candidate_nodes_percentage,
                "minCandidateNodesAbsolute" => &mut parsed.min_candidate_nodes_absolute,
                other => return Err(format!("DefaultPreemptionArgs: unknown field {other:?}")),
            };
            let number = value.as_i64().ok_or_else(|| format!("{key}: {value} is not an integer"))?;
            let limit = if key == "minCandidateNodesPercentage" { 100 } else { i64::from(i32::MAX) };
            *slot = u32::try_from(number)
                .ok()
                .filter(|n| i64::from(*n) <= limit)
                .ok_or_else(|| format!("{key}: {number} is not in the valid range [0, {limit}]"))?;
        }
        if parsed.min_candidate_nodes_percentage == 0 && parsed.min_candidate_nodes_absolute == 0 {
            return Err("minCandidateNodesPercentage and minCandidateNodesAbsolute cannot both be zero".to_owned());
        }
        Ok(parsed)
    }

    /// How many candidates to look for among `nodes` potential nodes
    /// (kube's `calculateNumCandidates`).
    pub fn num_candidates(&self, nodes: usize) -> usize {
        let by_percentage = nodes * self.min_candidate_nodes_percentage as usize / 100;
        by_percentage.max(self.min_candidate_nodes_absolute as usize).min(nodes)
    }
}

/// The plugin; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct DefaultPreemption {
    args: DefaultPreemptionArgs,
    pdbs: Store<PodDisruptionBudget>,
}

impl Default for DefaultPreemption {
    fn default() -> Self {
        DefaultPreemption::new(DefaultPreemptionArgs::default(), k_runtime::reflector::store().0)
    }
}

impl DefaultPreemption {
    /// The plugin with `args`, reading PodDisruptionBudgets from `pdbs`.
    pub fn new(args: DefaultPreemptionArgs, pdbs: Store<PodDisruptionBudget>) -> Self {
        DefaultPreemption { args, pdbs }
    }

    /// Its arguments.
    pub fn args(&self) -> DefaultPreemptionArgs {
        self.args
    }
}

impl Plugin for DefaultPreemption {
    fn name(&self) -> &'static str {
        NAME
    }
}

/// `spec.priority` (0 when unset).
pub(crate) fn priority(pod: &Pod) -> i32 {
    pod.spec.priority.unwrap_or(0)
}

/// Whether `pod` is being deleted, by preemption as far as we can tell
/// (see the [module docs](self)).
fn terminating_by_preemption(pod: &Pod) -> bool {
    if pod.metadata.deletion_timestamp.is_none() {
        return false;
    }
    let conditions = pod.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    match conditions.iter().find(|c| c.type_ == "DisruptionTarget") {
        Some(c) => c.status == "True" && c.reason.as_deref() == Some("PreemptionByScheduler"),
        None => true,
    }
}

/// Why `pod` may not preempt now (kube's `PodEligibleToPreemptOthers`).
fn not_eligible(pod: &Pod, context: &PostFilterContext<'_>) -> Option<&'static str> {
    if pod.spec.preemption_policy.as_deref() == Some("Never") {
        return Some("not eligible due to preemptionPolicy=Never.");
    }
    let nominated = pod.status.as_ref().and_then(|s| s.nominated_node_name.as_deref()).filter(|n| !n.is_empty())?;
    // A node the filters did not report on was not evaluated: unresolvable.
    let code = context
        .filtered
        .iter()
        .find(|(name, _)| name == nominated)
        .map_or(Code::UnschedulableAndUnresolvable, |(_, status)| status.code());
    if code == Code::UnschedulableAndUnresolvable {
        return None;
    }
    let node = context.nodes.iter().find(|n| n.name() == nominated)?;
    let own = priority(pod);
    node.pods
        .iter()
        .any(|p| priority(&p.pod) < own && terminating_by_preemption(&p.pod))
        .then_some("not eligible due to a terminating pod on the nominated node.")
}

impl PostFilterPlugin for DefaultPreemption {
    fn post_filter(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        context: PostFilterContext<'_>,
    ) -> (Option<PostFilterResult>, Status) {
        let preemption = |code: Code, message: String| Status::new(code, format!("preemption: {message}"));
        if let Some(reason) = not_eligible(&pod.pod, &context) {
            return (None, preemption(Code::Unschedulable, reason.to_owned()));
        }
        if context.nodes.is_empty() {
            return (None, preemption(Code::Error, "no nodes available".to_owned()));
        }
        let potential: Vec<&Arc<NodeInfo>> = context
            .nodes
            .iter()
            .filter(|n| context.filtered.iter().any(|(name, s)| name == n.name() && s.code() == Code::Unschedulable))
            .collect();
        let (candidates, statuses) = self.dry_run(state, pod, &context, &potential);
        let Some(best) = pick_one_node(&candidates) else {
            let errors: Vec<&str> = statuses
                .iter()
                .filter(|(_, s)| s.code() == Code::Error)
                .flat_map(|(_, s)| s.reasons().iter().map(String::as_str))
                .collect();
            if !errors.is_empty() {
                return (None, preemption(Code::Error, errors.join("; ")));
            }
            let mut rejected = statuses;
            for node in context.nodes {
                if !rejected.iter().any(|(name, _)| name == node.name()) {
                    rejected.push((node.name().to_owned(), Status::unresolvable(NOT_HELPFUL)));
                }
            }
            let error = FitError { num_all_nodes: context.nodes.len(), pre_filter: None, rejected };
            return (None, preemption(Code::Unschedulable, error.to_string()));
        };
        let best = &candidates[best];
        let result = PostFilterResult { nominated_node_name: Some(best.node.clone()), victims: best.victims.clone() };
        (Some(result), Status::success())
    }
}

impl DefaultPreemption {
    /// Dry-runs preemption on the potential nodes from offset 0 (kube's
    /// `DryRunPreemption`): the candidates, non-violating ones first, and
    /// the statuses of the nodes that could not be candidates.
    fn dry_run(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        context: &PostFilterContext<'_>,
        potential: &[&Arc<NodeInfo>],
    ) -> (Vec<Candidate>, Vec<(String, Status)>) {
        let wanted = self.args.num_candidates(potential.len());
        let (mut non_violating, mut violating) = (Vec::new(), Vec::new());
        let mut statuses = Vec::new();
        if potential.is_empty() {
            return (Vec::new(), statuses);
        }
        let pdbs = Pdb::all(&self.pdbs.state());
        for node in potential {
            match select_victims_on_node(context.framework, state, pod, node, &pdbs) {
                Ok(candidate) if candidate.victims.is_empty() => statuses.push((
                    candidate.node.clone(),
                    Status::error(format!("expected at least one victim pod on node {:?}", candidate.node)),
                )),
                Ok(candidate) => {
                    let list = if candidate.pdb_violations == 0 { &mut non_violating } else { &mut violating };
                    if list.len() < wanted {
                        list.push(candidate);
                    }
                    if !non_violating.is_empty() && non_violating.len() + violating.len() >= wanted {
                        break;
                    }
                }
                Err(status) => statuses.push((node.name().to_owned(), status)),
            }
        }
        non_violating.extend(violating);
        (non_violating, statuses)
    }
}

crate::extension_points!(DefaultPreemption: post_filter);

/// Makes the plugin from its `pluginConfig` arguments
/// (`minCandidateNodesPercentage`, `minCandidateNodesAbsolute`), reading
/// PodDisruptionBudgets from the handle's cache.
pub fn factory(args: Option<&Value>, handle: &Handle) -> Result<Arc<dyn ExtensionPoints>, String> {
    let args = DefaultPreemptionArgs::parse(args)?;
    Ok(Arc::new(DefaultPreemption::new(args, handle.listers.pdbs.clone())))
}
