//! The scheduling framework: kube-scheduler's extension points as traits.
//!
//! A plugin is a type with a name ([`Plugin`]) that implements the
//! extension points it takes part in. In one scheduling cycle, for one pod:
//!
//! 1. [`QueueSortPlugin`] orders the pending pods;
//! 2. [`PreFilterPlugin`] prepares per-cycle state (or rejects the pod);
//! 3. [`FilterPlugin`] — the predicates — rejects nodes the pod cannot run on;
//! 4. [`PostFilterPlugin`] runs when no node fits (preemption);
//! 5. [`PreScorePlugin`] prepares scoring; [`ScorePlugin`] — the priorities —
//!    scores each feasible node 0–100, then normalizes across nodes;
//! 6. [`ReservePlugin`], [`PermitPlugin`], [`PreBindPlugin`], [`BindPlugin`]
//!    and [`PostBindPlugin`] see the pod onto the chosen node.
//!
//! Filter and score are synchronous: they are CPU work, run for many nodes
//! in parallel. Permit and the binding points are async. State a plugin
//! computes once per cycle goes in [`CycleState`].
//!
//! A plugin in a few lines — a Filter and a Score, registered by name and
//! enabled in a profile next to the built-ins (`examples/scheduler-plugin`
//! has a fuller one):
//!
//! ```
//! use std::sync::Arc;
//!
//! use k_scheduler::config::{ProfileConfig, build_profile_config};
//! use k_scheduler::extension_points;
//! use k_scheduler::framework::registry::Registry;
//! use k_scheduler::framework::{CycleState, ExtensionPoints, FilterPlugin, NodeInfo, Plugin, PodInfo, ScorePlugin, Status};
//!
//! /// Keeps pods off nodes labelled `maintenance=true`; prefers `tier=fast`.
//! struct Maintenance;
//!
//! impl Plugin for Maintenance {
//!     fn name(&self) -> &'static str {
//!         "Maintenance"
//!     }
//! }
//!
//! impl FilterPlugin for Maintenance {
//!     fn filter(&self, _: &CycleState, _: &PodInfo, node: &NodeInfo) -> Status {
//!         match node.node.metadata.labels.get("maintenance").map(String::as_str) {
//!             Some("true") => Status::unresolvable("node(s) were under maintenance"),
//!             _ => Status::success(),
//!         }
//!     }
//! }
//!
//! impl ScorePlugin for Maintenance {
//!     fn score(&self, _: &CycleState, _: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
//!         Ok(if node.node.metadata.labels.get("tier").is_some_and(|t| t == "fast") { 100 } else { 0 })
//!     }
//! }
//!
//! extension_points!(Maintenance: filter, score);
//!
//! let mut registry = Registry::builtin();
//! registry.register("Maintenance", Arc::new(|_, _| Ok(Arc::new(Maintenance) as Arc<dyn ExtensionPoints>)));
//! let profile: ProfileConfig = serde_json::from_value(serde_json::json!({
//!     "plugins": {"multiPoint": {"enabled": [{"name": "Maintenance", "weight": 10}]}}
//! })).unwrap();
//! let framework = build_profile_config(&profile, 0, &registry).unwrap().framework;
//!
//! let node = |name: &str, labels: serde_json::Value| {
//!     let node = serde_json::json!({"metadata": {"name": name, "labels": labels},
//!                                   "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}});
//!     Arc::new(NodeInfo::new(Arc::new(serde_json::from_value(node).unwrap())))
//! };
//! let nodes = vec![
//!     node("down", serde_json::json!({"maintenance": "true", "tier": "fast"})),
//!     node("slow", serde_json::json!({})),
//!     node("fast", serde_json::json!({"tier": "fast"})),
//! ];
//! let pod = serde_json::json!({"metadata": {"name": "web"}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}});
//! let pod = PodInfo::new(Arc::new(serde_json::from_value(pod).unwrap()));
//! let result = framework.schedule(&pod, &nodes, &mut 0).unwrap();
//! assert_eq!(result.node, "fast");
//! assert_eq!(result.feasible.len(), 2, "the node under maintenance was filtered out");
//! ```

mod cycle_state;
pub mod handle;
pub mod parallel;
pub mod registry;
mod runtime;
mod status;
mod types;
mod waiting;

use std::sync::Arc;
use std::time::Duration;

pub use cycle_state::CycleState;
pub use handle::{Handle, Listers, Writers};
pub use runtime::{
    Feasible, FitError, Framework, MAX_PERMIT_TIMEOUT, NodeIndex, NodeScores, Point, ScheduleResult, ScoreTable,
    TOTAL_NODES, num_feasible_nodes_to_find,
};
pub use status::{Code, Status};
pub use types::{AffinityTerm, WeightedAffinityTerm};
pub use types::{
    DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST, HostPort, ImageStateSummary, MAX_NODE_SCORE, NodeInfo,
    NodeScore, PodInfo, Resource, ResourceKey, normalized_image_name,
};
pub use waiting::{WaitingPod, WaitingPods};

/// What every plugin is: a name (kube-scheduler's, for built-ins).
pub trait Plugin: Send + Sync {
    /// The plugin's name, as profiles refer to it.
    fn name(&self) -> &'static str;
}

/// A pending pod as the queue holds it.
#[derive(Clone, Debug)]
pub struct QueuedPodInfo {
    /// The pod.
    pub pod: Arc<PodInfo>,
    /// When it was first added to the queue (the scheduler's clock).
    pub initial_attempt_timestamp: std::time::Instant,
    /// When it was last added to the queue.
    pub timestamp: std::time::Instant,
    /// How many times scheduling it was tried.
    pub attempts: u32,
}

/// Orders the queue: `less(a, b)` when `a` goes first.
pub trait QueueSortPlugin: Plugin {
    /// Whether `a` is scheduled before `b`.
    fn less(&self, a: &QueuedPodInfo, b: &QueuedPodInfo) -> bool;
}

/// What a PreFilter may narrow the search to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PreFilterResult {
    /// Only these nodes can fit (None: all may).
    pub node_names: Option<Vec<String>>,
}

/// Runs once per cycle before filtering.
pub trait PreFilterPlugin: Plugin {
    /// Prepares state for [`FilterPlugin::filter`], or rejects the pod for
    /// every node. `Skip` skips this plugin's Filter for the cycle.
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[Arc<NodeInfo>],
    ) -> (Option<PreFilterResult>, Status);

    /// Updates this plugin's PreFilter state as if `other` ran on `node`
    /// (kube-scheduler's PreFilterExtensions; preemption and nominated pods
    /// use it). The default keeps no per-pod state.
    fn add_pod(&self, _state: &mut CycleState, _pod: &PodInfo, _other: &Arc<PodInfo>, _node: &NodeInfo) -> Status {
        Status::success()
    }

    /// Updates this plugin's PreFilter state as if `other` left `node`.
    fn remove_pod(&self, _state: &mut CycleState, _pod: &PodInfo, _other: &Arc<PodInfo>, _node: &NodeInfo) -> Status {
        Status::success()
    }
}

/// A predicate: may the pod run on this node?
pub trait FilterPlugin: Plugin {
    /// Success, or why not (Unschedulable when preemption could help,
    /// UnschedulableAndUnresolvable when it could not).
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status;
}

/// What a PostFilter (preemption) found.
#[derive(Clone, Debug, Default)]
pub struct PostFilterResult {
    /// The node the pod should go to once the victims are gone.
    pub nominated_node_name: Option<String>,
    /// The pods to delete to make room (the scheduler deletes them).
    pub victims: Vec<Arc<PodInfo>>,
}

/// What a PostFilter sees: the profile (to re-run its filters), every node,
/// and why each node failed.
#[derive(Clone, Copy, Debug)]
pub struct PostFilterContext<'a> {
    /// The profile being run.
    pub framework: &'a Framework,
    /// Every node of the cycle's snapshot.
    pub nodes: &'a [Arc<NodeInfo>],
    /// Each filtered node's status, by node name.
    pub filtered: &'a [(String, Status)],
}

/// Runs when no node passed the filters.
pub trait PostFilterPlugin: Plugin {
    /// Tries to make room (preemption): a node to nominate and the victims
    /// to delete there, or why nothing helps.
    fn post_filter(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        context: PostFilterContext<'_>,
    ) -> (Option<PostFilterResult>, Status);
}

/// Runs once per cycle before scoring, with the feasible nodes.
pub trait PreScorePlugin: Plugin {
    /// Prepares state for [`ScorePlugin::score`]; `Skip` skips its Score.
    /// `feasible` are the nodes to be scored; `all` every node of the
    /// snapshot (some plugins count pods on nodes that were filtered out).
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        feasible: &[Arc<NodeInfo>],
        all: &[Arc<NodeInfo>],
    ) -> Status;
}

/// A priority: how good is this node for the pod?
pub trait ScorePlugin: Plugin {
    /// The node's raw score.
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status>;

    /// Brings the raw scores of all feasible nodes to 0–[`MAX_NODE_SCORE`]
    /// (default: they already are).
    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, _scores: &mut [NodeScore]) -> Status {
        Status::success()
    }
}

/// Reserves (and, if a later point fails, releases) what the pod takes on
/// the chosen node, before binding.
pub trait ReservePlugin: Plugin {
    /// Reserves.
    fn reserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str) -> Status;
    /// Releases what [`reserve`](Self::reserve) took.
    fn unreserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str);
}

/// Lets a pod through to binding, rejects it, or makes it wait.
#[async_trait::async_trait]
pub trait PermitPlugin: Plugin {
    /// Success, a rejection, or `Wait` with how long at most.
    async fn permit(&self, state: &CycleState, pod: &PodInfo, node: &str) -> (Status, Duration);
}

/// Prepares binding (volumes, for example).
#[async_trait::async_trait]
pub trait PreBindPlugin: Plugin {
    /// Success or why binding cannot go on.
    async fn pre_bind(&self, state: &CycleState, pod: &PodInfo, node: &str) -> Status;
}

/// Binds the pod to the node (the default writes `pods/binding`).
#[async_trait::async_trait]
pub trait BindPlugin: Plugin {
    /// Success, `Skip` to leave it to the next binder, or an error.
    async fn bind(&self, state: &CycleState, pod: &PodInfo, node: &str) -> Status;
}

/// Told after a successful bind.
#[async_trait::async_trait]
pub trait PostBindPlugin: Plugin {
    /// Informational; cannot fail.
    async fn post_bind(&self, state: &CycleState, pod: &PodInfo, node: &str);
}

/// Holds pods out of the queue until they may be scheduled (SchedulingGates).
pub trait PreEnqueuePlugin: Plugin {
    /// Success to queue the pod, or why it waits.
    fn pre_enqueue(&self, pod: &PodInfo) -> Status;
}

/// The extension points a plugin serves, as trait objects: the runtime asks
/// each plugin of a profile for the points it is enabled at. Implement the
/// `as_…` methods of the points your plugin implements, returning `Some(self)`.
#[allow(missing_docs)] // one method per extension point, named after it
pub trait ExtensionPoints: Plugin {
    fn as_pre_enqueue(self: Arc<Self>) -> Option<Arc<dyn PreEnqueuePlugin>> {
        None
    }
    fn as_queue_sort(self: Arc<Self>) -> Option<Arc<dyn QueueSortPlugin>> {
        None
    }
    fn as_pre_filter(self: Arc<Self>) -> Option<Arc<dyn PreFilterPlugin>> {
        None
    }
    fn as_filter(self: Arc<Self>) -> Option<Arc<dyn FilterPlugin>> {
        None
    }
    fn as_post_filter(self: Arc<Self>) -> Option<Arc<dyn PostFilterPlugin>> {
        None
    }
    fn as_pre_score(self: Arc<Self>) -> Option<Arc<dyn PreScorePlugin>> {
        None
    }
    fn as_score(self: Arc<Self>) -> Option<Arc<dyn ScorePlugin>> {
        None
    }
    fn as_reserve(self: Arc<Self>) -> Option<Arc<dyn ReservePlugin>> {
        None
    }
    fn as_permit(self: Arc<Self>) -> Option<Arc<dyn PermitPlugin>> {
        None
    }
    fn as_pre_bind(self: Arc<Self>) -> Option<Arc<dyn PreBindPlugin>> {
        None
    }
    fn as_bind(self: Arc<Self>) -> Option<Arc<dyn BindPlugin>> {
        None
    }
    fn as_post_bind(self: Arc<Self>) -> Option<Arc<dyn PostBindPlugin>> {
        None
    }
}

/// kube-scheduler's DefaultNormalizeScore: scales scores so the highest
/// becomes `max` (integer arithmetic); with `reverse`, subtracts each from
/// `max` (so the highest raw score becomes 0). When every score is 0 they
/// stay 0, or all become `max` when reversed.
pub fn default_normalize_score(max: i64, reverse: bool, scores: &mut [NodeScore]) {
    let highest = scores.iter().map(|s| s.score).max().unwrap_or(0);
    if highest == 0 {
        if reverse {
            for s in scores.iter_mut() {
                s.score = max;
            }
        }
        return;
    }
    for s in scores.iter_mut() {
        let mut score = max * s.score / highest;
        if reverse {
            score = max - score;
        }
        s.score = score;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(values: &[i64]) -> Vec<NodeScore> {
        values.iter().enumerate().map(|(i, s)| NodeScore { name: format!("n{i}").into(), score: *s }).collect()
    }

    #[test]
    fn normalization_scales_to_the_highest_and_can_reverse() {
        let mut s = scores(&[1, 2, 3]);
        default_normalize_score(100, false, &mut s);
        assert_eq!(s.iter().map(|s| s.score).collect::<Vec<_>>(), [33, 66, 100]);
        let mut s = scores(&[0, 1, 2]);
        default_normalize_score(100, true, &mut s);
        assert_eq!(s.iter().map(|s| s.score).collect::<Vec<_>>(), [100, 50, 0]);
        let mut s = scores(&[0, 0]);
        default_normalize_score(100, true, &mut s);
        assert_eq!(s.iter().map(|s| s.score).collect::<Vec<_>>(), [100, 100]);
        let mut s = scores(&[0, 0]);
        default_normalize_score(100, false, &mut s);
        assert_eq!(s.iter().map(|s| s.score).collect::<Vec<_>>(), [0, 0]);
    }
}
