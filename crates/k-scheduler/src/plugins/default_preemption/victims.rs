//! Choosing the victims on one node, and the node among the candidates.

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::sync::Arc;

use k_api_types::core::v1::Pod;
use k_api_types::meta::Time;
use k_api_types::policy::v1::PodDisruptionBudget;
use k_api_types::selector::label::Selector;

use super::priority;
use crate::framework::{CycleState, Framework, NodeInfo, PodInfo, Status};

/// A node where preemption makes room, with the pods to delete there.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// The node.
    pub node: String,
    /// The victims, most important first.
    pub victims: Vec<Arc<PodInfo>>,
    /// How many victims' deletion would break a PodDisruptionBudget.
    pub pdb_violations: usize,
}

/// A PodDisruptionBudget as preemption reads it.
#[derive(Clone, Debug)]
pub struct Pdb {
    namespace: String,
    selector: Selector,
    disruptions_allowed: i32,
    disrupted: BTreeSet<String>,
}

impl Pdb {
    /// The budgets that can match pods: those with a valid, non-empty
    /// selector (kube: a nil or empty selector matches nothing here).
    pub fn all(pdbs: &[Arc<PodDisruptionBudget>]) -> Vec<Pdb> {
        pdbs.iter()
            .filter_map(|pdb| {
                let selector = Selector::try_from(pdb.spec.selector.as_ref()?).ok().filter(|s| !s.is_empty())?;
                let status = pdb.status.as_ref();
                Some(Pdb {
                    namespace: pdb.metadata.namespace.clone(),
                    selector,
                    disruptions_allowed: status.map_or(0, |s| s.disruptions_allowed),
                    disrupted: status.map(|s| s.disrupted_pods.keys().cloned().collect()).unwrap_or_default(),
                })
            })
            .collect()
    }
}

/// When the pod started: `status.startTime`, else `creationTimestamp`
/// (`None`: now, the latest possible).
fn start_time(pod: &Pod) -> Option<Time> {
    pod.status.as_ref().and_then(|s| s.start_time).or(pod.metadata.creation_timestamp)
}

/// Sorts most important first: higher priority, then earlier start
/// (kube's `MoreImportantPod`); stable, so equals keep node order.
fn importance(pod: &Pod) -> (Reverse<i32>, bool, Option<Time>) {
    let start = start_time(pod);
    (Reverse(priority(pod)), start.is_none(), start)
}

/// Splits `pods` (in order) into those whose deletion would break a
/// budget and the others (kube's `filterPodsWithPDBViolation`).
fn split_by_pdb(pods: Vec<Arc<PodInfo>>, pdbs: &[Pdb]) -> (Vec<Arc<PodInfo>>, Vec<Arc<PodInfo>>) {
    let mut allowed: Vec<i32> = pdbs.iter().map(|p| p.disruptions_allowed).collect();
    let (mut violating, mut others) = (Vec::new(), Vec::new());
    for info in pods {
        let meta = &info.pod.metadata;
        let mut violates = false;
        if !meta.labels.is_empty() {
            for (pdb, left) in pdbs.iter().zip(allowed.iter_mut()) {
                if pdb.namespace != meta.namespace
                    || !pdb.selector.matches(&meta.labels)
                    || pdb.disrupted.contains(&meta.name)
                {
                    continue;
                }
                *left -= 1;
                violates |= *left < 0;
            }
        }
        if violates { violating.push(info) } else { others.push(info) }
    }
    (violating, others)
}

/// The fewest pods of lower priority than `pod` to delete from `node` for
/// `pod` to pass the filters (kube's `SelectVictimsOnNode`), worked out on
/// copies of the node and `state`. Err: why the node cannot be a
/// candidate (the filters' status when even deleting every lower-priority
/// pod is not enough).
pub fn select_victims_on_node(
    framework: &Framework,
    state: &CycleState,
    pod: &PodInfo,
    node: &NodeInfo,
    pdbs: &[Pdb],
) -> Result<Candidate, Status> {
    let mut state = state.clone();
    let mut node = node.clone();
    let own = priority(&pod.pod);
    let mut potential: Vec<Arc<PodInfo>> = node.pods.iter().filter(|p| priority(&p.pod) < own).cloned().collect();
    let remove = |state: &mut CycleState, node: &mut NodeInfo, victim: &Arc<PodInfo>| {
        node.remove_pod(&victim.pod.metadata.namespace, &victim.pod.metadata.name);
        framework.run_pre_filter_remove_pod(state, pod, victim, node)
    };
    for victim in &potential {
        let status = remove(&mut state, &mut node, victim);
        if !status.is_success() {
            return Err(Status::error(format!("removing {}: {status}", victim.key())));
        }
    }
    if potential.is_empty() {
        return Err(Status::unresolvable("No preemption victims found for incoming pod"));
    }
    let status = framework.run_filters(&state, pod, &node);
    if !status.is_success() {
        return Err(status);
    }
    potential.sort_by_key(|p| importance(&p.pod));
    let (violating, others) = split_by_pdb(potential, pdbs);
    let mut victims = Vec::new();
    let mut pdb_violations = 0;
    for (breaks_pdb, candidate) in
        violating.into_iter().map(|p| (true, p)).chain(others.into_iter().map(|p| (false, p)))
    {
        node.add_pod(candidate.clone());
        let status = framework.run_pre_filter_add_pod(&mut state, pod, &candidate, &node);
        if !status.is_success() {
            return Err(Status::error(format!("adding {}: {status}", candidate.key())));
        }
        if framework.run_filters(&state, pod, &node).is_success() {
            continue;
        }
        let status = remove(&mut state, &mut node, &candidate);
        if !status.is_success() {
            return Err(Status::error(format!("removing {}: {status}", candidate.key())));
        }
        pdb_violations += usize::from(breaks_pdb);
        victims.push(candidate);
    }
    victims.sort_by_key(|p| importance(&p.pod));
    Ok(Candidate { node: node.name().to_owned(), victims, pdb_violations })
}

/// The index of the best candidate (kube's `pickOneNodeForPreemption`; see
/// the [module docs](super)), the first among equals; `None` when empty.
pub fn pick_one_node(candidates: &[Candidate]) -> Option<usize> {
    // Priorities shifted to be non-negative, as kube does (MaxInt32 + 1).
    let shifted = |p: &Arc<PodInfo>| i64::from(priority(&p.pod)) + (1_i64 << 31);
    let key = |c: &Candidate| {
        let highest = c.victims.iter().map(|p| priority(&p.pod)).max().unwrap_or(i32::MIN);
        // The earliest start among the highest-priority victims (None: now).
        let earliest = c
            .victims
            .iter()
            .filter(|p| priority(&p.pod) == highest)
            .map(|p| {
                let start = start_time(&p.pod);
                (start.is_none(), start)
            })
            .min();
        (c.pdb_violations, highest, c.victims.iter().map(shifted).sum::<i64>(), c.victims.len(), Reverse(earliest))
    };
    candidates.iter().enumerate().min_by_key(|(_, c)| key(c)).map(|(i, _)| i)
}
