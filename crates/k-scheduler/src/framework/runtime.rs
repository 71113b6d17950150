//! One profile's plugins, run for one pod: filter the nodes, score the
//! feasible ones, pick the best — kube-scheduler's `schedulePod`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{
    BindPlugin, Code, CycleState, ExtensionPoints, FilterPlugin, MAX_NODE_SCORE, NodeInfo, NodeScore, PermitPlugin,
    PodInfo, PostBindPlugin, PostFilterContext, PostFilterPlugin, PostFilterResult, PreBindPlugin, PreEnqueuePlugin,
    PreFilterPlugin, PreScorePlugin, QueueSortPlugin, ReservePlugin, ScorePlugin, Status,
};

/// The [`CycleState`] key of the filter plugins whose PreFilter answered
/// Skip this cycle (a `SkippedFilters`).
const SKIPPED_FILTERS: &str = "SkippedFilters";

#[derive(Clone, Debug, Default)]
struct SkippedFilters(Vec<&'static str>);

/// The [`CycleState`] key of the number of nodes in the cluster (a `usize`),
/// written by the framework before scoring.
pub const TOTAL_NODES: &str = "TotalNodes";

/// Finds a node's position in the node list by name.
pub type NodeIndex<'a> = dyn Fn(&str) -> Option<usize> + Sync + 'a;

/// The longest a Permit plugin may make a pod wait.
pub const MAX_PERMIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Fewer feasible nodes than this are scored on one core even with
/// `parallelism`.
const MIN_PARALLEL_SCORE: usize = 256;

/// Below this many nodes, every node is evaluated.
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// The adaptive percentage never goes below this.
const MIN_FEASIBLE_NODES_PERCENTAGE: usize = 5;

/// `filter` over `range` in pieces of at most `piece`, run in parallel on
/// rayon's pool, the results in order.
fn split_range<T: Send>(
    range: std::ops::Range<usize>,
    piece: usize,
    filter: &(impl Fn(std::ops::Range<usize>) -> Vec<T> + Sync),
) -> Vec<T> {
    if range.len() <= piece.max(1) {
        return filter(range);
    }
    let middle = range.start + range.len() / 2;
    let (mut a, b) = rayon::join(
        || split_range(range.start..middle, piece, filter),
        || split_range(middle..range.end, piece, filter),
    );
    a.extend(b);
    a
}

/// How many feasible nodes to look for among `all` (kube-scheduler's
/// `numFeasibleNodesToFind`): all of them below 100; else `percentage`%
/// (or, when 0, the adaptive `50 − all/125`, at least 5%), at least 100.
pub fn num_feasible_nodes_to_find(percentage: u32, all: usize) -> usize {
    if all < MIN_FEASIBLE_NODES_TO_FIND {
        return all;
    }
    let mut percentage = percentage as usize;
    if percentage == 0 {
        percentage = 50usize.saturating_sub(all / 125).max(MIN_FEASIBLE_NODES_PERCENTAGE);
    }
    if percentage >= 100 {
        return all;
    }
    (all * percentage / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// An extension point, as configurations name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Point {
    /// `preEnqueue`.
    PreEnqueue,
    /// `queueSort`.
    QueueSort,
    /// `preFilter`.
    PreFilter,
    /// `filter`.
    Filter,
    /// `postFilter`.
    PostFilter,
    /// `preScore`.
    PreScore,
    /// `score`.
    Score,
    /// `reserve`.
    Reserve,
    /// `permit`.
    Permit,
    /// `preBind`.
    PreBind,
    /// `bind`.
    Bind,
    /// `postBind`.
    PostBind,
}

impl Point {
    /// Every point, in the order a cycle reaches them.
    pub const ALL: [Point; 12] = [
        Point::PreEnqueue,
        Point::QueueSort,
        Point::PreFilter,
        Point::Filter,
        Point::PostFilter,
        Point::PreScore,
        Point::Score,
        Point::Reserve,
        Point::Permit,
        Point::PreBind,
        Point::Bind,
        Point::PostBind,
    ];

    /// The configuration's name for it (`preFilter`, …).
    pub fn config_name(self) -> &'static str {
        match self {
            Point::PreEnqueue => "preEnqueue",
            Point::QueueSort => "queueSort",
            Point::PreFilter => "preFilter",
            Point::Filter => "filter",
            Point::PostFilter => "postFilter",
            Point::PreScore => "preScore",
            Point::Score => "score",
            Point::Reserve => "reserve",
            Point::Permit => "permit",
            Point::PreBind => "preBind",
            Point::Bind => "bind",
            Point::PostBind => "postBind",
        }
    }
}

/// One profile: its plugins by extension point. `schedule` filters the
/// nodes, scores the feasible ones and picks the best, as kube-scheduler's
/// `schedulePod` does.
#[derive(Clone, Default)]
pub struct Framework {
    name: String,
    pre_enqueue: Vec<Arc<dyn PreEnqueuePlugin>>,
    queue_sort: Option<Arc<dyn QueueSortPlugin>>,
    pre_filter: Vec<Arc<dyn PreFilterPlugin>>,
    filter: Vec<Arc<dyn FilterPlugin>>,
    post_filter: Vec<Arc<dyn PostFilterPlugin>>,
    pre_score: Vec<Arc<dyn PreScorePlugin>>,
    score: Vec<(Arc<dyn ScorePlugin>, i64)>,
    reserve: Vec<Arc<dyn ReservePlugin>>,
    permit: Vec<Arc<dyn PermitPlugin>>,
    pre_bind: Vec<Arc<dyn PreBindPlugin>>,
    bind: Vec<Arc<dyn BindPlugin>>,
    post_bind: Vec<Arc<dyn PostBindPlugin>>,
    percentage_of_nodes_to_score: u32,
    parallelism: usize,
}

impl std::fmt::Debug for Framework {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |v: Vec<&'static str>| v;
        f.debug_struct("Framework")
            .field("name", &self.name)
            .field("filter", &names(self.filter.iter().map(|p| p.name()).collect()))
            .field("score", &self.score.iter().map(|(p, w)| (p.name(), *w)).collect::<Vec<_>>())
            .finish()
    }
}

/// The feasible nodes of one pod, and why the others are not.
#[derive(Clone, Debug, Default)]
pub struct Feasible {
    /// The nodes that passed every filter, in evaluation order.
    pub nodes: Vec<Arc<NodeInfo>>,
    /// Each rejected node's status (the first filter that rejected it).
    pub rejected: Vec<(String, Status)>,
    /// How many nodes were evaluated (fewer than all when enough were found).
    pub evaluated: usize,
}

/// A feasible node's scores: each plugin's normalized score and the
/// weighted total.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeScores {
    /// The node.
    pub name: String,
    /// (plugin, normalized score), in profile order.
    pub scores: Vec<(&'static str, i64)>,
    /// Σ score × weight.
    pub total: i64,
}

/// The scores of the feasible nodes: one column per score plugin (its
/// normalized scores, in node order) and the weighted totals. Kept by
/// column so a cycle allocates per plugin, not per node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScoreTable {
    /// The feasible nodes, in evaluation order.
    pub nodes: Vec<Arc<str>>,
    /// (plugin, its normalized score for each node).
    pub columns: Vec<(&'static str, Vec<i64>)>,
    /// Σ score × weight for each node.
    pub totals: Vec<i64>,
}

impl ScoreTable {
    /// The table by node (for reports).
    pub fn rows(&self) -> Vec<NodeScores> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, node)| NodeScores {
                name: node.to_string(),
                scores: self.columns.iter().map(|(plugin, scores)| (*plugin, scores[i])).collect(),
                total: self.totals[i],
            })
            .collect()
    }

    /// The node with the highest total (the first evaluated among equals).
    pub fn best(&self) -> Option<&Arc<str>> {
        let mut best: Option<usize> = None;
        for (i, total) in self.totals.iter().enumerate() {
            if best.is_none_or(|b| *total > self.totals[b]) {
                best = Some(i);
            }
        }
        best.map(|i| &self.nodes[i])
    }
}

/// Where the pod goes, and how that was decided.
#[derive(Clone, Debug, Default)]
pub struct ScheduleResult {
    /// The chosen node.
    pub node: String,
    /// How many nodes were evaluated.
    pub evaluated: usize,
    /// The feasible nodes (of those evaluated).
    pub feasible: Vec<Arc<str>>,
    /// Their scores (empty when only one was feasible: nothing to compare).
    pub scores: ScoreTable,
}

/// No node fits: how many nodes there were and why each was rejected.
#[derive(Clone, Debug, Default)]
pub struct FitError {
    /// All nodes.
    pub num_all_nodes: usize,
    /// A PreFilter's rejection (for every node), if that is why.
    pub pre_filter: Option<Status>,
    /// Each rejected node's status.
    pub rejected: Vec<(String, Status)>,
}

impl std::fmt::Display for FitError {
    /// kube-scheduler's message: `0/5 nodes are available: 2 node(s) had
    /// untolerated taint {dedicated: cache}, 3 Insufficient cpu.` (reasons
    /// counted across nodes, sorted as text).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0/{} nodes are available:", self.num_all_nodes)?;
        if let Some(status) = &self.pre_filter {
            write!(f, " {}.", status.reasons().join(", "))?;
        }
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, status) in &self.rejected {
            for reason in status.reasons() {
                *counts.entry(reason).or_default() += 1;
            }
        }
        let mut reasons: Vec<String> = counts.into_iter().map(|(r, n)| format!("{n} {r}")).collect();
        reasons.sort();
        if !reasons.is_empty() {
            write!(f, " {}.", reasons.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for FitError {}

impl Framework {
    /// An empty profile named `name` (its `schedulerName`).
    pub fn new(name: impl Into<String>) -> Self {
        Framework { name: name.into(), ..Framework::default() }
    }

    /// The profile's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Enables `plugin` at every extension point it serves, with `weight`
    /// for scoring (kube-scheduler's `multiPoint`).
    pub fn enable(&mut self, plugin: Arc<dyn ExtensionPoints>, weight: i64) {
        for point in Point::ALL {
            self.enable_at(point, plugin.clone(), weight);
        }
    }

    /// Enables `plugin` at one extension point; false when it does not serve it.
    pub fn enable_at(&mut self, point: Point, plugin: Arc<dyn ExtensionPoints>, weight: i64) -> bool {
        fn push<T: ?Sized>(list: &mut Vec<Arc<T>>, item: Option<Arc<T>>) -> bool {
            let served = item.is_some();
            list.extend(item);
            served
        }
        match point {
            Point::PreEnqueue => push(&mut self.pre_enqueue, plugin.as_pre_enqueue()),
            Point::QueueSort => match plugin.as_queue_sort() {
                Some(sort) => {
                    self.queue_sort = Some(sort);
                    true
                }
                None => false,
            },
            Point::PreFilter => push(&mut self.pre_filter, plugin.as_pre_filter()),
            Point::Filter => push(&mut self.filter, plugin.as_filter()),
            Point::PostFilter => push(&mut self.post_filter, plugin.as_post_filter()),
            Point::PreScore => push(&mut self.pre_score, plugin.as_pre_score()),
            Point::Score => match plugin.as_score() {
                Some(score) => {
                    self.score.push((score, weight.max(1)));
                    true
                }
                None => false,
            },
            Point::Reserve => push(&mut self.reserve, plugin.as_reserve()),
            Point::Permit => push(&mut self.permit, plugin.as_permit()),
            Point::PreBind => push(&mut self.pre_bind, plugin.as_pre_bind()),
            Point::Bind => push(&mut self.bind, plugin.as_bind()),
            Point::PostBind => push(&mut self.post_bind, plugin.as_post_bind()),
        }
    }

    /// How many cores filter and score the nodes of one pod (1, the
    /// default: one; more splits filtering rounds of at least 256 nodes
    /// across rayon's pool when there are 1,024 nodes or more, and scoring
    /// of 256 feasible nodes or more). On the 2-core machine k is measured
    /// on, two halve the throughput (the hand-off costs more than ~100 µs
    /// of filtering), so it is off unless configured
    /// (`parallelism` in KubeSchedulerConfiguration).
    pub fn set_parallelism(&mut self, parallelism: usize) {
        self.parallelism = parallelism;
    }

    /// Sets `percentageOfNodesToScore` (0: adaptive).
    pub fn set_percentage_of_nodes_to_score(&mut self, percentage: u32) {
        self.percentage_of_nodes_to_score = percentage;
    }

    /// The names of the enabled filter plugins, in order.
    pub fn filter_plugins(&self) -> Vec<&'static str> {
        self.filter.iter().map(|p| p.name()).collect()
    }

    /// The enabled score plugins and their weights, in order.
    pub fn score_plugins(&self) -> Vec<(&'static str, i64)> {
        self.score.iter().map(|(p, w)| (p.name(), *w)).collect()
    }

    /// The queue's order, if a QueueSort plugin is enabled.
    pub fn queue_sort(&self) -> Option<&Arc<dyn QueueSortPlugin>> {
        self.queue_sort.as_ref()
    }

    /// The PreEnqueue verdict on a pod (Success when no plugin objects).
    pub fn run_pre_enqueue(&self, pod: &PodInfo) -> Status {
        for plugin in &self.pre_enqueue {
            let status = plugin.pre_enqueue(pod);
            if !status.is_success() {
                return status.from_plugin(plugin.name());
            }
        }
        Status::success()
    }

    /// Runs the filters on one node: the first rejection, or Success.
    /// Plugins whose PreFilter answered Skip this cycle are left out.
    pub fn run_filters(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let skipped = state.read::<SkippedFilters>(SKIPPED_FILTERS).map(|s| s.0.as_slice()).unwrap_or_default();
        Self::run_active_filters(&self.active_filters(skipped), state, pod, node)
    }

    /// The filter plugins to run this cycle (the skipped ones left out),
    /// decided once per cycle rather than per node.
    fn active_filters(&self, skipped: &[&'static str]) -> Vec<&Arc<dyn FilterPlugin>> {
        self.filter.iter().filter(|p| !skipped.contains(&p.name())).collect()
    }

    fn run_active_filters(
        active: &[&Arc<dyn FilterPlugin>],
        state: &CycleState,
        pod: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        for plugin in active {
            let status = plugin.filter(state, pod, node);
            if !status.is_success() {
                let name = plugin.name();
                return if status.plugin().is_empty() { status.from_plugin(name) } else { status };
            }
        }
        Status::success()
    }

    /// Runs every PreFilter: the nodes they narrow the search to (`None`:
    /// all), or the first rejection. Plugins answering Skip are remembered
    /// in `state`, and their Filter is left out this cycle.
    pub fn run_pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[Arc<NodeInfo>],
    ) -> Result<Option<Vec<String>>, Status> {
        let mut skipped = Vec::new();
        let mut allowed: Option<Vec<String>> = None;
        for plugin in &self.pre_filter {
            let (result, status) = plugin.pre_filter(state, pod, nodes);
            match status.code() {
                Code::Success => {}
                Code::Skip => {
                    skipped.push(plugin.name());
                    continue;
                }
                _ => return Err(status.from_plugin(plugin.name())),
            }
            if let Some(names) = result.and_then(|r| r.node_names) {
                allowed = Some(match allowed {
                    None => names,
                    Some(before) => before.into_iter().filter(|n| names.contains(n)).collect(),
                });
            }
        }
        state.write(SKIPPED_FILTERS, SkippedFilters(skipped));
        Ok(allowed)
    }

    /// Tells every PreFilter that `other` now runs on `node` (for state
    /// copies used by preemption and nominated pods).
    pub fn run_pre_filter_add_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        other: &Arc<PodInfo>,
        node: &NodeInfo,
    ) -> Status {
        self.each_pre_filter(|p| p.add_pod(state, pod, other, node))
    }

    /// Tells every PreFilter that `other` no longer runs on `node`.
    pub fn run_pre_filter_remove_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        other: &Arc<PodInfo>,
        node: &NodeInfo,
    ) -> Status {
        self.each_pre_filter(|p| p.remove_pod(state, pod, other, node))
    }

    /// `call` on every PreFilter plugin in order: the first failure, or Success.
    fn each_pre_filter(&self, mut call: impl FnMut(&Arc<dyn PreFilterPlugin>) -> Status) -> Status {
        for plugin in &self.pre_filter {
            let status = call(plugin);
            if !status.is_success() {
                return status.from_plugin(plugin.name());
            }
        }
        Status::success()
    }

    /// Runs the PostFilters (preemption) after no node fit: the first that
    /// succeeds decides; otherwise the last status.
    pub fn run_post_filter(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[Arc<NodeInfo>],
        filtered: &[(String, Status)],
    ) -> (Option<PostFilterResult>, Status) {
        let context = PostFilterContext { framework: self, nodes, filtered };
        let mut last = Status::unresolvable("no PostFilter plugin is enabled");
        for plugin in &self.post_filter {
            let (result, status) = plugin.post_filter(state, pod, context);
            match status.code() {
                Code::Success => return (result, status),
                Code::Unschedulable | Code::UnschedulableAndUnresolvable => last = status.from_plugin(plugin.name()),
                _ => return (None, status.from_plugin(plugin.name())),
            }
        }
        (None, last)
    }

    /// Whether any PostFilter plugin is enabled.
    pub fn has_post_filter(&self) -> bool {
        !self.post_filter.is_empty()
    }

    /// Runs Reserve on every plugin; on a failure, unreserves them all (in
    /// reverse) and returns it.
    pub fn run_reserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str) -> Status {
        for plugin in &self.reserve {
            let status = plugin.reserve(state, pod, node);
            if !status.is_success() {
                self.run_unreserve(state, pod, node);
                return status.from_plugin(plugin.name());
            }
        }
        Status::success()
    }

    /// Runs Unreserve on every plugin, in reverse order.
    pub fn run_unreserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str) {
        for plugin in self.reserve.iter().rev() {
            plugin.unreserve(state, pod, node);
        }
    }

    /// Runs Permit: Success, a rejection, or Wait with the shortest timeout
    /// the waiting plugins asked for.
    pub async fn run_permit(&self, state: &CycleState, pod: &PodInfo, node: &str) -> (Status, std::time::Duration) {
        let mut wait: Option<(Status, std::time::Duration)> = None;
        for plugin in &self.permit {
            let (status, timeout) = plugin.permit(state, pod, node).await;
            match status.code() {
                Code::Success => {}
                Code::Wait => {
                    let timeout = timeout.min(MAX_PERMIT_TIMEOUT);
                    if wait.as_ref().is_none_or(|(_, t)| timeout < *t) {
                        wait = Some((status.from_plugin(plugin.name()), timeout));
                    }
                }
                _ => return (status.from_plugin(plugin.name()), std::time::Duration::ZERO),
            }
        }
        wait.unwrap_or((Status::success(), std::time::Duration::ZERO))
    }

    /// Runs PreBind: the first failure, or Success.
    pub async fn run_pre_bind(&self, state: &CycleState, pod: &PodInfo, node: &str) -> Status {
        for plugin in &self.pre_bind {
            let status = plugin.pre_bind(state, pod, node).await;
            if !status.is_success() {
                return status.from_plugin(plugin.name());
            }
        }
        Status::success()
    }

    /// Runs Bind: the first plugin that does not Skip binds.
    pub async fn run_bind(&self, state: &CycleState, pod: &PodInfo, node: &str) -> Status {
        for plugin in &self.bind {
            let status = plugin.bind(state, pod, node).await;
            if status.code() != Code::Skip {
                return if status.is_success() { status } else { status.from_plugin(plugin.name()) };
            }
        }
        Status::error("no bind plugin bound the pod")
    }

    /// Runs PostBind (informational).
    pub async fn run_post_bind(&self, state: &CycleState, pod: &PodInfo, node: &str) {
        for plugin in &self.post_bind {
            plugin.post_bind(state, pod, node).await;
        }
    }

    /// PreFilter then Filter over `nodes`, starting at `*start` and stopping
    /// once enough feasible nodes are found ([`num_feasible_nodes_to_find`]);
    /// `*start` moves on, so the next pod starts where this one stopped.
    pub fn find_feasible(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[Arc<NodeInfo>],
        start: &mut usize,
    ) -> Result<Feasible, FitError> {
        self.find_feasible_indexed(state, pod, nodes, None, start)
    }

    /// [`find_feasible`](Self::find_feasible) with a lookup of a node's
    /// position in `nodes` by name, so a PreFilter that narrows the search
    /// to a few nodes (NodeAffinity on `metadata.name`, as DaemonSet pods
    /// ask) costs a few lookups rather than a pass over every node.
    pub fn find_feasible_indexed(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[Arc<NodeInfo>],
        index: Option<&NodeIndex<'_>>,
        start: &mut usize,
    ) -> Result<Feasible, FitError> {
        let allowed = self.run_pre_filter(state, pod, nodes).map_err(|status| FitError {
            num_all_nodes: nodes.len(),
            pre_filter: Some(status),
            rejected: Vec::new(),
        })?;
        let skipped = state.read::<SkippedFilters>(SKIPPED_FILTERS).map(|s| s.0.clone()).unwrap_or_default();
        let active = self.active_filters(&skipped);
        let narrowed: Vec<Arc<NodeInfo>>;
        let candidates: &[Arc<NodeInfo>] = match &allowed {
            None => nodes,
            Some(names) => {
                narrowed = match index {
                    Some(index) => {
                        let mut at: Vec<usize> = names.iter().filter_map(|n| index(n)).collect();
                        at.sort_unstable();
                        at.dedup();
                        at.into_iter().filter_map(|i| nodes.get(i).cloned()).collect()
                    }
                    None => nodes.iter().filter(|n| names.iter().any(|m| m == n.name())).cloned().collect(),
                };
                &narrowed
            }
        };
        let wanted = num_feasible_nodes_to_find(self.percentage_of_nodes_to_score, candidates.len());
        let mut feasible = Feasible::default();
        let count = candidates.len();
        if count == 0 {
            return Err(FitError { num_all_nodes: nodes.len(), ..FitError::default() });
        }
        let offset = *start % count;
        let state: &CycleState = state;
        let pieces = self.parallelism.min(rayon::current_num_threads());
        let parallel = pieces > 1 && count >= super::parallel::MIN_PARALLEL_NODES;
        // Takes one node's verdict, in evaluation order, up to `wanted`.
        let take = |feasible: &mut Feasible, node: &Arc<NodeInfo>, status: Status| {
            feasible.evaluated += 1;
            if status.is_success() {
                feasible.nodes.push(node.clone());
            } else {
                feasible.rejected.push((node.name().to_owned(), status));
            }
        };
        let at = |i: usize| &candidates[(offset + i) % count];
        let mut next = 0;
        while next < count && feasible.nodes.len() < wanted {
            if !parallel {
                let node = at(next);
                take(&mut feasible, node, Self::run_active_filters(&active, state, pod, node));
                next += 1;
                continue;
            }
            // A round of nodes filtered in pieces on several cores, then
            // taken in order (the same nodes as one at a time).
            let round = (wanted - feasible.nodes.len()).max(256).min(count - next);
            let filter = |range: std::ops::Range<usize>| -> Vec<Status> {
                range.map(|i| Self::run_active_filters(&active, state, pod, at(next + i))).collect()
            };
            for (i, status) in split_range(0..round, round.div_ceil(pieces), &filter).into_iter().enumerate() {
                if feasible.nodes.len() >= wanted {
                    break;
                }
                take(&mut feasible, at(next + i), status);
            }
            next += round;
        }
        *start = (offset + feasible.evaluated) % count;
        if feasible.nodes.is_empty() {
            return Err(FitError { num_all_nodes: nodes.len(), pre_filter: None, rejected: feasible.rejected });
        }
        Ok(feasible)
    }

    /// PreScore, Score, NormalizeScore and weights over the feasible nodes.
    pub fn score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        feasible: &[Arc<NodeInfo>],
        all_nodes: &[Arc<NodeInfo>],
    ) -> Result<ScoreTable, Status> {
        state.write(TOTAL_NODES, all_nodes.len());
        let mut skipped = Vec::new();
        for plugin in &self.pre_score {
            let status = plugin.pre_score(state, pod, feasible, all_nodes);
            match status.code() {
                Code::Success => {}
                Code::Skip => skipped.push(plugin.name()),
                _ => return Err(status.from_plugin(plugin.name())),
            }
        }
        let mut table = ScoreTable {
            nodes: feasible.iter().map(|n| n.shared_name()).collect(),
            columns: Vec::with_capacity(self.score.len()),
            totals: vec![0; feasible.len()],
        };
        let mut scores: Vec<NodeScore> =
            feasible.iter().map(|n| NodeScore { name: n.shared_name(), score: 0 }).collect();
        let active: Vec<&(Arc<dyn ScorePlugin>, i64)> =
            self.score.iter().filter(|(p, _)| !skipped.contains(&p.name())).collect();
        // With `parallelism`, every plugin's raw scores are computed in
        // pieces of the feasible nodes on several cores first.
        let pieces = self.parallelism.min(rayon::current_num_threads());
        let state: &CycleState = state;
        let raw: Option<Vec<Vec<i64>>> = if pieces > 1 && feasible.len() >= MIN_PARALLEL_SCORE {
            let columns = |range: std::ops::Range<usize>| -> Vec<Result<Vec<i64>, Status>> {
                active
                    .iter()
                    .map(|(plugin, _)| {
                        feasible[range.clone()]
                            .iter()
                            .map(|node| plugin.score(state, pod, node).map_err(|s| s.from_plugin(plugin.name())))
                            .collect()
                    })
                    .collect()
            };
            let per_piece = split_range(0..feasible.len(), feasible.len().div_ceil(pieces), &|r| vec![columns(r)]);
            let mut raw = vec![Vec::with_capacity(feasible.len()); active.len()];
            for piece in per_piece {
                for (column, part) in raw.iter_mut().zip(piece) {
                    column.extend(part?);
                }
            }
            Some(raw)
        } else {
            None
        };
        for (i, (plugin, weight)) in active.into_iter().enumerate() {
            let name = plugin.name();
            match &raw {
                Some(raw) => {
                    for (slot, score) in scores.iter_mut().zip(&raw[i]) {
                        slot.score = *score;
                    }
                }
                None => {
                    for (slot, node) in scores.iter_mut().zip(feasible) {
                        slot.score = plugin.score(state, pod, node).map_err(|s| s.from_plugin(name))?;
                    }
                }
            }
            let status = plugin.normalize(state, pod, &mut scores);
            if !status.is_success() {
                return Err(status.from_plugin(name));
            }
            let mut column = Vec::with_capacity(scores.len());
            for (total, score) in table.totals.iter_mut().zip(&scores) {
                if !(0..=MAX_NODE_SCORE).contains(&score.score) {
                    return Err(Status::error(format!(
                        "plugin {name} returned an invalid score {} for node {:?}",
                        score.score, score.name
                    )));
                }
                column.push(score.score);
                *total += score.score * weight;
            }
            table.columns.push((name, column));
        }
        Ok(table)
    }

    /// Where `pod` goes among `nodes`: filters, scores and the highest total
    /// (ties go to the node evaluated first, so decisions are reproducible).
    pub fn schedule(
        &self,
        pod: &PodInfo,
        nodes: &[Arc<NodeInfo>],
        start: &mut usize,
    ) -> Result<ScheduleResult, FitError> {
        self.schedule_indexed(pod, nodes, None, start)
    }

    /// [`schedule`](Self::schedule) with a lookup of nodes by name (see
    /// [`find_feasible_indexed`](Self::find_feasible_indexed)).
    pub fn schedule_indexed(
        &self,
        pod: &PodInfo,
        nodes: &[Arc<NodeInfo>],
        index: Option<&NodeIndex<'_>>,
        start: &mut usize,
    ) -> Result<ScheduleResult, FitError> {
        let mut state = CycleState::new();
        let feasible = self.find_feasible_indexed(&mut state, pod, nodes, index, start)?;
        let names: Vec<Arc<str>> = feasible.nodes.iter().map(|n| n.shared_name()).collect();
        if feasible.nodes.len() == 1 {
            return Ok(ScheduleResult {
                node: names[0].to_string(),
                evaluated: feasible.evaluated,
                feasible: names,
                scores: ScoreTable::default(),
            });
        }
        let scores = self.score(&mut state, pod, &feasible.nodes, nodes).map_err(|status| FitError {
            num_all_nodes: nodes.len(),
            pre_filter: Some(status),
            rejected: Vec::new(),
        })?;
        Ok(ScheduleResult {
            node: scores.best().map(|n| n.to_string()).unwrap_or_default(),
            evaluated: feasible.evaluated,
            feasible: names,
            scores,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_percentage_of_nodes() {
        assert_eq!(num_feasible_nodes_to_find(0, 50), 50);
        assert_eq!(num_feasible_nodes_to_find(0, 1000), 420, "50 − 8 = 42%");
        assert_eq!(num_feasible_nodes_to_find(0, 5000), 500, "50 − 40 = 10%");
        assert_eq!(num_feasible_nodes_to_find(0, 15000), 750, "at least 5%");
        assert_eq!(num_feasible_nodes_to_find(0, 150), 100, "at least 100");
        assert_eq!(num_feasible_nodes_to_find(30, 1000), 300);
        assert_eq!(num_feasible_nodes_to_find(100, 1000), 1000);
    }

    #[test]
    fn fit_errors_count_reasons() {
        let error = FitError {
            num_all_nodes: 5,
            pre_filter: None,
            rejected: vec![
                ("a".into(), Status::unschedulable("Insufficient cpu")),
                ("b".into(), Status::unschedulable("Insufficient cpu")),
                (
                    "c".into(),
                    Status::with_reasons(
                        Code::Unschedulable,
                        vec!["Insufficient cpu".into(), "Insufficient memory".into()],
                    ),
                ),
                ("d".into(), Status::unresolvable("node(s) had untolerated taint {dedicated: cache}")),
                ("e".into(), Status::unresolvable("node(s) had untolerated taint {dedicated: cache}")),
            ],
        };
        assert_eq!(
            error.to_string(),
            "0/5 nodes are available: 1 Insufficient memory, 2 node(s) had untolerated taint {dedicated: cache}, 3 Insufficient cpu."
        );
    }
}
