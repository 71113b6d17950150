//! The node lifecycle controller (kube-controller-manager's
//! `node-lifecycle`, with its taint-based eviction part): tells healthy
//! nodes from silent ones, taints them, and evicts the pods that do not
//! tolerate the taints.
//!
//! Each reconcile of a node:
//!
//! 1. **Health.** The node's heartbeats are its Lease
//!    (`kube-node-lease/<node>`, `spec.renewTime`) and its `Ready`
//!    condition's `lastHeartbeatTime`. The controller remembers, on its own
//!    clock, the last time either changed (Kubernetes' *probe timestamp*;
//!    the first sight of a node counts as a change, except for a node that
//!    never posted a `Ready` condition, which counts from its
//!    `creationTimestamp`). When [`NodeLifecycleOptions::node_monitor_grace_period`]
//!    (40 s) passes without one — [`NodeLifecycleOptions::node_startup_grace_period`]
//!    (60 s) for a node that never posted status — every condition
//!    (`Ready`, `MemoryPressure`, `DiskPressure`, `PIDPressure`) becomes
//!    `Unknown` with reason `NodeStatusUnknown` and message "Kubelet stopped
//!    posting node status." (missing ones are added with reason
//!    `NodeStatusNeverUpdated`), and the event `NodeNotReady` is recorded.
//!    Time is compared with `>=`: the node is silent once the full grace
//!    period has passed.
//! 2. **NoSchedule taints** (Kubernetes' TaintNodesByCondition), at once:
//!    `node.kubernetes.io/not-ready` for `Ready=False`,
//!    `node.kubernetes.io/unreachable` for `Ready=Unknown`,
//!    `memory-pressure`, `disk-pressure`, `pid-pressure`,
//!    `network-unavailable` for the matching conditions being `True`, and
//!    `node.kubernetes.io/unschedulable` for `spec.unschedulable`; each is
//!    removed when its cause goes.
//! 3. **NoExecute taints**: `node.kubernetes.io/not-ready` for
//!    `Ready=False`, `node.kubernetes.io/unreachable` for `Ready=Unknown`
//!    (with `timeAdded`), removed at once when the node is `Ready` again and
//!    swapped at once when it goes from one to the other. Adding one is
//!    **rate-limited per zone** (label `topology.kubernetes.io/zone`, `""`
//!    without it), as Kubernetes' zone tainter queues: a token bucket of
//!    burst 1 refilled at [`NodeLifecycleOptions::node_eviction_rate`]
//!    (0.1 nodes/s, so one node every 10 s) in a zone in `Normal` or
//!    `FullDisruption` state, at
//!    [`NodeLifecycleOptions::secondary_node_eviction_rate`] (0.01/s) in
//!    `PartialDisruption` when the zone has more than
//!    [`NodeLifecycleOptions::large_cluster_size_threshold`] (50) nodes,
//!    and not at all in `PartialDisruption` in a smaller zone. A node
//!    refused a token is retried when the next one is due. A zone is in
//!    `FullDisruption` when none of its nodes is ready, in
//!    `PartialDisruption` when more than 2 and at least
//!    [`NodeLifecycleOptions::unhealthy_zone_threshold`] (55 %) are not.
//!    Nodes labelled `node.kubernetes.io/exclude-disruption` are not counted.
//!    When **every** zone is in `FullDisruption` (so the whole cluster looks
//!    down, more likely the control plane's own network than every node),
//!    the controller enters Kubernetes' *master disruption mode*: it removes
//!    the NoExecute taints of every node and adds none; when some zone
//!    recovers it leaves the mode and gives every node a fresh grace period.
//!    As in Kubernetes, a single fully disrupted zone among healthy ones is
//!    tainted at the normal rate (the brief's "stop in that zone" holds for
//!    the single-zone cluster, where the zone is the whole cluster).
//! 4. **Taint-based eviction** (Kubernetes' taint eviction controller) of
//!    the pods bound to the node, for every NoExecute taint on it (not only
//!    the controller's): a pod that does not tolerate them all is deleted at
//!    once; a pod tolerating them is deleted once the smallest
//!    `tolerationSeconds` of the tolerations used has passed since its
//!    eviction was first scheduled — the earliest `timeAdded` of the node's
//!    NoExecute taints, or the pod's creation if it came later; that start
//!    is remembered while the pod stays scheduled for eviction, so a swap
//!    of not-ready and unreachable does not restart it (as Kubernetes) —
//!    and a pod whose tolerations have no `tolerationSeconds` stays. Before
//!    the deletion the pod gets the condition `DisruptionTarget`
//!    (`DeletionByTaintManager`) and the event `TaintManagerEviction` is
//!    recorded. Pods without tolerations for not-ready/unreachable (which
//!    Kubernetes' DefaultTolerationSeconds admission would give them, 300 s)
//!    are evicted at once. Deletions themselves are not rate-limited (as in
//!    Kubernetes, the tainting is).
//! 5. **MarkPodsNotReady**: while the node's `Ready` is not `True`, the
//!    `Ready` condition of its pods is set to `False` (event `NodeNotReady`
//!    on the pod).
//!
//! The node is requeued when its grace period would end, when the next
//! token or eviction is due, and every 5 s (Kubernetes' node monitor
//! period) while it is not ready. It is woken by changes of the node, its
//! Lease, and the pods bound to it. The controller runs one worker: the
//! zone states and master disruption mode are decided over the whole
//! cluster, as Kubernetes' single monitor loop does.
//!
//! Not covered: the cloud node lifecycle (deleting nodes gone from the
//! cloud), the `node.kubernetes.io/out-of-service` taint's volume
//! handling, and the taint eviction controller's cancellation events.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use k_api_types::coordination::v1::Lease;
use k_api_types::core::v1::{Node, NodeCondition, Pod, PodCondition, Taint};
use k_api_types::meta::{DeleteOptions, Preconditions, Time};
use k_runtime::clock::{Clock, SystemClock};
use k_runtime::controller::{Action, Context, Controller, Reconciler};
use k_runtime::events::{EventType, Recorder, reference_to};
use k_runtime::informer::InformerFactory;
use k_runtime::manager::Manager;
use k_runtime::reflector::Store;
use k_store::{Api, ObjectApi, StoreError};

/// The namespace of the nodes' heartbeat Leases.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";
/// The taint of a node whose `Ready` condition is `Unknown`.
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// The taint of a node whose `Ready` condition is `False`.
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// The taint of a cordoned node (`spec.unschedulable`).
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
/// The taint of a node under memory pressure.
pub const TAINT_MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
/// The taint of a node under disk pressure.
pub const TAINT_DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
/// The taint of a node under PID pressure.
pub const TAINT_PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
/// The taint of a node whose network is unavailable.
pub const TAINT_NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";
/// The label naming a node's zone.
pub const LABEL_ZONE: &str = "topology.kubernetes.io/zone";
/// The label that keeps a node out of the zone disruption counts.
pub const LABEL_EXCLUDE_DISRUPTION: &str = "node.kubernetes.io/exclude-disruption";
/// The reason of conditions set `Unknown` because the kubelet went silent.
pub const REASON_NODE_STATUS_UNKNOWN: &str = "NodeStatusUnknown";
/// The message of conditions set `Unknown` because the kubelet went silent.
pub const MESSAGE_NODE_STATUS_UNKNOWN: &str = "Kubelet stopped posting node status.";
/// The reason of conditions added `Unknown` because the kubelet never posted them.
pub const REASON_NODE_STATUS_NEVER_UPDATED: &str = "NodeStatusNeverUpdated";
/// How often a node that is not ready is looked at again (Kubernetes'
/// `--node-monitor-period`).
pub const NODE_MONITOR_PERIOD: Duration = Duration::from_secs(5);

const NO_SCHEDULE: &str = "NoSchedule";
const NO_EXECUTE: &str = "NoExecute";
/// The conditions set `Unknown` when the kubelet goes silent.
const NODE_CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];
/// The NoSchedule taints this controller manages.
const NO_SCHEDULE_TAINTS: [&str; 7] = [
    TAINT_NOT_READY,
    TAINT_UNREACHABLE,
    TAINT_MEMORY_PRESSURE,
    TAINT_DISK_PRESSURE,
    TAINT_PID_PRESSURE,
    TAINT_NETWORK_UNAVAILABLE,
    TAINT_UNSCHEDULABLE,
];

/// Why a reconcile failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A read or write of the object API failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The controller's settings (kube-controller-manager's flags of the same
/// names).
#[derive(Clone, Debug, PartialEq)]
pub struct NodeLifecycleOptions {
    /// How long a node may go without a heartbeat before it is marked
    /// `Unknown` (`--node-monitor-grace-period`, 40 s).
    pub node_monitor_grace_period: Duration,
    /// The same for a node that never posted its status
    /// (`--node-startup-grace-period`, 60 s).
    pub node_startup_grace_period: Duration,
    /// Nodes a second tainted NoExecute per zone in normal operation
    /// (`--node-eviction-rate`, 0.1).
    pub node_eviction_rate: f64,
    /// Nodes a second tainted in a partially disrupted large zone
    /// (`--secondary-node-eviction-rate`, 0.01).
    pub secondary_node_eviction_rate: f64,
    /// Above how many nodes a zone is large (`--large-cluster-size-threshold`, 50).
    pub large_cluster_size_threshold: usize,
    /// The share of not-ready nodes (of more than 2) that makes a zone
    /// partially disrupted (`--unhealthy-zone-threshold`, 0.55).
    pub unhealthy_zone_threshold: f64,
}

impl Default for NodeLifecycleOptions {
    fn default() -> Self {
        NodeLifecycleOptions {
            node_monitor_grace_period: Duration::from_secs(40),
            node_startup_grace_period: Duration::from_secs(60),
            node_eviction_rate: 0.1,
            secondary_node_eviction_rate: 0.01,
            large_cluster_size_threshold: 50,
            unhealthy_zone_threshold: 0.55,
        }
    }
}

/// The health of a zone (Kubernetes' zone states).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneState {
    /// Fewer unhealthy nodes than the partial-disruption threshold.
    Normal,
    /// More than 2 and at least the threshold's share of nodes not ready.
    PartialDisruption,
    /// No node ready.
    FullDisruption,
}

// ---------------------------------------------------------------------------
// Node and pod helpers
// ---------------------------------------------------------------------------

fn condition<'a>(node: &'a Node, type_: &str) -> Option<&'a NodeCondition> {
    node.status.as_ref()?.conditions.iter().find(|c| c.type_ == type_)
}

fn condition_is(node: &Node, type_: &str, status: &str) -> bool {
    condition(node, type_).is_some_and(|c| c.status == status)
}

fn zone_of(node: &Node) -> String {
    node.metadata.labels.get(LABEL_ZONE).cloned().unwrap_or_default()
}

fn has_taint(taints: &[Taint], key: &str, effect: &str) -> bool {
    taints.iter().any(|t| t.key == key && t.effect == effect)
}

/// What becomes of a pod on a node with NoExecute taints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Eviction {
    /// It stays (no NoExecute taint, or tolerated forever).
    Never,
    /// It goes now (a taint it does not tolerate).
    Now,
    /// It goes this long after its eviction was scheduled.
    After(Duration),
}

/// Kubernetes' taint eviction decision for `pod` under `taints` (NoExecute).
fn eviction_of(pod: &Pod, taints: &[&Taint]) -> Eviction {
    if taints.is_empty() {
        return Eviction::Never;
    }
    let mut min: Option<i64> = None;
    for taint in taints {
        // The first toleration of each taint is the one used.
        let Some(used) = pod.spec.tolerations.iter().find(|t| t.tolerates(taint)) else {
            return Eviction::Now;
        };
        if let Some(seconds) = used.toleration_seconds {
            min = Some(min.map_or(seconds, |m| m.min(seconds)));
        }
    }
    match min {
        None => Eviction::Never,
        Some(s) if s <= 0 => Eviction::Now,
        Some(s) => Eviction::After(Duration::from_secs(s.unsigned_abs())),
    }
}

/// Makes the taints this controller manages (`managed`, key and effect)
/// exactly `wanted`, leaving all others; new NoExecute taints get
/// `timeAdded` `now`. Returns whether anything changed.
fn set_taints(taints: &mut Vec<Taint>, wanted: &[(&str, &str)], managed: &[(&str, &str)], now: Time) -> bool {
    let before = taints.len();
    taints.retain(|t| {
        let key = (t.key.as_str(), t.effect.as_str());
        !managed.contains(&key) || wanted.contains(&key)
    });
    let mut changed = taints.len() != before;
    for (key, effect) in wanted {
        if !has_taint(taints, key, effect) {
            taints.push(Taint {
                key: (*key).to_owned(),
                value: None,
                effect: (*effect).to_owned(),
                time_added: (*effect == NO_EXECUTE).then_some(now),
            });
            changed = true;
        }
    }
    changed
}

/// Every taint this controller manages, as (key, effect).
fn managed_taints() -> Vec<(&'static str, &'static str)> {
    let mut managed: Vec<(&str, &str)> = NO_SCHEDULE_TAINTS.iter().map(|k| (*k, NO_SCHEDULE)).collect();
    managed.push((TAINT_NOT_READY, NO_EXECUTE));
    managed.push((TAINT_UNREACHABLE, NO_EXECUTE));
    managed
}

/// The NoSchedule taints the node's conditions and spec call for.
fn wanted_no_schedule(node: &Node) -> Vec<(&'static str, &'static str)> {
    let mut wanted = Vec::new();
    match condition(node, "Ready").map(|c| c.status.as_str()) {
        Some("False") => wanted.push((TAINT_NOT_READY, NO_SCHEDULE)),
        Some("Unknown") => wanted.push((TAINT_UNREACHABLE, NO_SCHEDULE)),
        _ => {}
    }
    for (type_, key) in [
        ("MemoryPressure", TAINT_MEMORY_PRESSURE),
        ("DiskPressure", TAINT_DISK_PRESSURE),
        ("PIDPressure", TAINT_PID_PRESSURE),
        ("NetworkUnavailable", TAINT_NETWORK_UNAVAILABLE),
    ] {
        if condition_is(node, type_, "True") {
            wanted.push((key, NO_SCHEDULE));
        }
    }
    if node.spec.unschedulable == Some(true) {
        wanted.push((TAINT_UNSCHEDULABLE, NO_SCHEDULE));
    }
    wanted
}

// ---------------------------------------------------------------------------
// The controller's memory
// ---------------------------------------------------------------------------

/// The last heartbeats seen of a node, and when they last changed.
#[derive(Clone, Debug)]
struct Health {
    probe: Instant,
    heartbeat: Option<DateTime<Utc>>,
    renew: Option<DateTime<Utc>>,
    /// The last `Ready` status seen (for the NodeReady/NodeNotReady events).
    ready: Option<String>,
}

/// A token bucket of burst 1 (Kubernetes' zone tainter limiter).
#[derive(Clone, Debug)]
struct Bucket {
    rate: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Takes a token, or says how long until the next one (`None`: never).
    fn take(&mut self, rate: f64, now: Instant) -> Result<(), Option<Duration>> {
        if (self.rate - rate).abs() > f64::EPSILON {
            // A new rate is a new, full limiter (Kubernetes' SwapLimiter).
            *self = Bucket { rate, tokens: 1.0, at: now };
        }
        if rate <= 0.0 {
            return Err(None);
        }
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(1.0);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Some(Duration::from_secs_f64((1.0 - self.tokens) / rate)))
        }
    }
}

#[derive(Debug, Default)]
struct State {
    health: HashMap<String, Health>,
    buckets: HashMap<String, Bucket>,
    /// Master disruption mode: every zone is fully disrupted.
    all_disrupted: bool,
    /// When each pod's eviction was first scheduled, by node name and pod
    /// uid (only nodes with NoExecute taints have entries).
    scheduled: HashMap<String, HashMap<String, DateTime<Utc>>>,
}

// ---------------------------------------------------------------------------
// The reconciler
// ---------------------------------------------------------------------------

/// The node lifecycle controller's reconciler (see the
/// [module documentation](self)).
pub struct NodeLifecycleReconciler {
    informers: Arc<InformerFactory>,
    clock: Arc<dyn Clock>,
    options: NodeLifecycleOptions,
    recorder: Recorder,
    eviction_recorder: Recorder,
    state: Mutex<State>,
}

/// Another name of [`NodeLifecycleReconciler`].
pub type NodeLifecycleController = NodeLifecycleReconciler;

impl std::fmt::Debug for NodeLifecycleReconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeLifecycleReconciler").field("options", &self.options).finish_non_exhaustive()
    }
}

impl NodeLifecycleReconciler {
    /// A reconciler reading nodes, Leases and pods from `informers`'
    /// caches, writing through `api` and telling time by `clock`, with the
    /// default options.
    pub fn new(api: Arc<dyn ObjectApi>, informers: Arc<InformerFactory>, clock: Arc<dyn Clock>) -> Self {
        let recorder = Recorder::with_clock(api.clone(), "node-controller", "", clock.clone());
        let eviction_recorder = Recorder::with_clock(api, "taint-eviction-controller", "", clock.clone());
        NodeLifecycleReconciler {
            informers,
            clock,
            options: NodeLifecycleOptions::default(),
            recorder,
            eviction_recorder,
            state: Mutex::default(),
        }
    }

    /// The same with `options`.
    #[must_use]
    pub fn with_options(mut self, options: NodeLifecycleOptions) -> Self {
        self.options = options;
        self
    }

    /// Its controller: nodes, woken by their Leases and the pods bound to
    /// them (run it with this reconciler).
    pub fn controller(&self) -> Controller<Node> {
        Controller::<Node>::new(self.informers.clone(), None)
            .watches::<Lease>(Some(LEASE_NAMESPACE.to_owned()), |lease: &Lease| vec![lease.metadata.name.clone()])
            .watches::<Pod>(None, |pod: &Pod| pod.spec.node_name.iter().filter(|n| !n.is_empty()).cloned().collect())
            .clock(self.clock.clone())
            .named("node-lifecycle")
    }

    fn nodes(&self) -> Store<Node> {
        self.informers.informer::<Node>(None, None, None).store()
    }

    fn leases(&self) -> Store<Lease> {
        self.informers.informer::<Lease>(Some(LEASE_NAMESPACE), None, None).store()
    }

    fn pods(&self) -> Store<Pod> {
        self.informers.informer::<Pod>(None, None, None).store()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn event<K: k_api_types::Resource>(
        &self,
        recorder: &Recorder,
        object: &K,
        type_: EventType,
        reason: &str,
        message: &str,
    ) {
        if let Err(e) = recorder.publish(&reference_to(object), type_, reason, message).await {
            tracing::debug!(error = %e, reason, "event not recorded");
        }
    }

    /// The grace period of `node`: the startup one until it posts `Ready`.
    fn grace(&self, node: &Node) -> Duration {
        if condition(node, "Ready").is_some() {
            self.options.node_monitor_grace_period
        } else {
            self.options.node_startup_grace_period
        }
    }

    /// Records the heartbeats of `node` (and its Lease), returning its
    /// probe timestamp.
    fn observe(&self, state: &mut State, node: &Node, leases: &Store<Lease>, now: Instant) -> Instant {
        let heartbeat = condition(node, "Ready").and_then(|c| c.last_heartbeat_time).map(|t| t.0);
        let lease = leases.get(&format!("{LEASE_NAMESPACE}/{}", node.metadata.name));
        let renew = lease.and_then(|l| l.spec.renew_time).map(|t| t.0);
        match state.health.get_mut(&node.metadata.name) {
            Some(health) => {
                let newer_lease = renew.is_some_and(|r| health.renew.is_none_or(|seen| r > seen));
                if health.heartbeat != heartbeat || newer_lease {
                    health.probe = now;
                    health.heartbeat = heartbeat;
                    if newer_lease {
                        health.renew = renew;
                    }
                }
                health.probe
            }
            None => {
                // A node that never reported counts from its creation.
                let probe = match (condition(node, "Ready"), &node.metadata.creation_timestamp) {
                    (None, Some(created)) => {
                        let age = (self.clock.wall() - created.0).to_std().unwrap_or_default();
                        now.checked_sub(age).unwrap_or(now)
                    }
                    _ => now,
                };
                let ready = condition(node, "Ready").map(|c| c.status.clone());
                state.health.insert(node.metadata.name.clone(), Health { probe, heartbeat, renew, ready });
                probe
            }
        }
    }

    /// The `Ready` status of `node` as this controller judges it: `Unknown`
    /// once its grace period passed, else its condition's (`None`: none).
    fn judged_ready(&self, node: &Node, probe: Instant, now: Instant) -> Option<String> {
        if now >= probe + self.grace(node) {
            Some("Unknown".to_owned())
        } else {
            condition(node, "Ready").map(|c| c.status.clone())
        }
    }

    /// Marks the conditions of a silent node `Unknown`; returns the node as
    /// written (or as it was when nothing changed).
    async fn mark_unknown(&self, node: &Node, nodes_api: &Api<Node>) -> Result<Node, Error> {
        let now = Time(self.clock.wall());
        let mut updated = node.clone();
        let status = updated.status.get_or_insert_with(Default::default);
        let mut changed = false;
        for type_ in NODE_CONDITIONS {
            match status.conditions.iter_mut().find(|c| c.type_ == type_) {
                Some(c) if c.status != "Unknown" => {
                    c.status = "Unknown".to_owned();
                    c.reason = Some(REASON_NODE_STATUS_UNKNOWN.to_owned());
                    c.message = Some(MESSAGE_NODE_STATUS_UNKNOWN.to_owned());
                    c.last_transition_time = Some(now);
                    changed = true;
                }
                Some(_) => {}
                None => {
                    status.conditions.push(NodeCondition {
                        type_: type_.to_owned(),
                        status: "Unknown".to_owned(),
                        last_heartbeat_time: node.metadata.creation_timestamp,
                        last_transition_time: Some(now),
                        reason: Some(REASON_NODE_STATUS_NEVER_UPDATED.to_owned()),
                        message: Some("Kubelet never posted node status.".to_owned()),
                    });
                    changed = true;
                }
            }
        }
        if !changed {
            return Ok(node.clone());
        }
        let written = nodes_api.update_status(&updated).await?;
        // What the controller wrote is no heartbeat of the kubelet.
        if let Some(health) = self.lock().health.get_mut(&node.metadata.name) {
            health.heartbeat = condition(&written, "Ready").and_then(|c| c.last_heartbeat_time).map(|t| t.0);
        }
        Ok(written)
    }

    /// The zone states (counting each node's judged `Ready`), after
    /// observing every node.
    fn zone_states(
        &self,
        state: &mut State,
        nodes: &[Arc<Node>],
        leases: &Store<Lease>,
        now: Instant,
    ) -> HashMap<String, (ZoneState, usize)> {
        let mut counts: HashMap<String, (usize, usize)> = HashMap::new();
        let names: HashSet<&str> = nodes.iter().map(|n| n.metadata.name.as_str()).collect();
        state.health.retain(|name, _| names.contains(name.as_str()));
        for node in nodes {
            let probe = self.observe(state, node, leases, now);
            if node.metadata.labels.contains_key(LABEL_EXCLUDE_DISRUPTION) {
                continue;
            }
            let entry = counts.entry(zone_of(node)).or_default();
            if self.judged_ready(node, probe, now).as_deref() == Some("True") {
                entry.0 += 1;
            } else {
                entry.1 += 1;
            }
        }
        counts
            .into_iter()
            .map(|(zone, (ready, not_ready))| {
                let zone_state = if ready == 0 && not_ready > 0 {
                    ZoneState::FullDisruption
                } else if not_ready > 2
                    && (not_ready as f64) / ((ready + not_ready) as f64) >= self.options.unhealthy_zone_threshold
                {
                    ZoneState::PartialDisruption
                } else {
                    ZoneState::Normal
                };
                (zone, (zone_state, ready + not_ready))
            })
            .collect()
    }

    /// The tainting rate of a zone in `zone_state` with `size` nodes.
    fn rate(&self, zone_state: ZoneState, size: usize) -> f64 {
        match zone_state {
            ZoneState::Normal | ZoneState::FullDisruption => self.options.node_eviction_rate,
            ZoneState::PartialDisruption if size > self.options.large_cluster_size_threshold => {
                self.options.secondary_node_eviction_rate
            }
            ZoneState::PartialDisruption => 0.0,
        }
    }

    /// Removes this controller's NoExecute taints from every node (entering
    /// master disruption mode).
    async fn untaint_all(&self, nodes: &[Arc<Node>], nodes_api: &Api<Node>) -> Result<(), Error> {
        let remove = [(TAINT_NOT_READY, NO_EXECUTE), (TAINT_UNREACHABLE, NO_EXECUTE)];
        let now = Time(self.clock.wall());
        for node in nodes {
            if !remove.iter().any(|(k, e)| has_taint(&node.spec.taints, k, e)) {
                continue;
            }
            let written = nodes_api
                .guaranteed_update(&node.metadata.name, |n| {
                    set_taints(&mut n.spec.taints, &[], &remove, now);
                })
                .await;
            match written {
                Err(e) if e.is_not_found() => {}
                other => {
                    other?;
                }
            }
        }
        Ok(())
    }

    /// Evicts the pods of `node` its NoExecute taints call for; returns
    /// when the next one is due.
    async fn evict(&self, node: &Node, ctx: &Context) -> Option<Duration> {
        let now = self.clock.wall();
        let taints: Vec<&Taint> = node.spec.taints.iter().filter(|t| t.effect == NO_EXECUTE).collect();
        let node_name = node.metadata.name.as_str();
        if taints.is_empty() {
            // Nothing to evict (the common case, and cheap: no pod scan).
            self.lock().scheduled.remove(node_name);
            return None;
        }
        let start = taints.iter().map(|t| t.time_added.map_or(now, |t| t.0)).min();
        let pods: Vec<Arc<Pod>> =
            self.pods().state().into_iter().filter(|p| p.spec.node_name.as_deref() == Some(node_name)).collect();
        {
            // Forget the schedules of pods gone from the node meanwhile.
            let live: HashSet<&str> = pods.iter().map(|p| p.metadata.uid.as_str()).collect();
            if let Some(scheduled) = self.lock().scheduled.get_mut(node_name) {
                scheduled.retain(|uid, _| live.contains(uid.as_str()));
            }
        }
        let mut next: Option<Duration> = None;
        for pod in pods {
            if pod.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let due = match eviction_of(&pod, &taints) {
                Eviction::Never => {
                    self.forget(&pod);
                    continue;
                }
                Eviction::Now => true,
                Eviction::After(wait) => {
                    let created = pod.metadata.creation_timestamp.map(|t| t.0);
                    let from = start.unwrap_or(now).max(created.unwrap_or(now).min(now));
                    let from = *self
                        .lock()
                        .scheduled
                        .entry(node_name.to_owned())
                        .or_default()
                        .entry(pod.metadata.uid.clone())
                        .or_insert(from);
                    let at = from + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                    if at <= now {
                        true
                    } else {
                        let left = (at - now).to_std().unwrap_or_default();
                        next = Some(next.map_or(left, |n| n.min(left)));
                        false
                    }
                }
            };
            if due {
                self.delete_pod(&pod, ctx).await;
            }
        }
        next
    }

    /// Drops `pod`'s eviction schedule.
    fn forget(&self, pod: &Pod) {
        let node = pod.spec.node_name.as_deref().unwrap_or_default();
        if let Some(scheduled) = self.lock().scheduled.get_mut(node) {
            scheduled.remove(&pod.metadata.uid);
        }
    }

    /// Deletes `pod` for the taint eviction (errors are logged: the pod is
    /// tried again at the next reconcile).
    async fn delete_pod(&self, pod: &Pod, ctx: &Context) {
        let api: Api<Pod> = Api::with_client(ctx.api.clone(), Some(pod.metadata.namespace.clone()));
        let key = format!("{}/{}", pod.metadata.namespace, pod.metadata.name);
        self.event(
            &self.eviction_recorder,
            pod,
            EventType::Normal,
            "TaintManagerEviction",
            &format!("Marking for deletion Pod {key}"),
        )
        .await;
        let now = Time(self.clock.wall());
        let marked = api
            .guaranteed_update_status(&pod.metadata.name, |p| {
                let status = p.status.get_or_insert_with(Default::default);
                if !status.conditions.iter().any(|c| c.type_ == "DisruptionTarget" && c.status == "True") {
                    status.conditions.retain(|c| c.type_ != "DisruptionTarget");
                    status.conditions.push(PodCondition {
                        type_: "DisruptionTarget".to_owned(),
                        status: "True".to_owned(),
                        last_probe_time: None,
                        last_transition_time: Some(now),
                        reason: Some("DeletionByTaintManager".to_owned()),
                        message: Some("Taint manager: deleting due to NoExecute taint".to_owned()),
                    });
                }
            })
            .await;
        if let Err(e) = marked {
            tracing::debug!(pod = %key, error = %e, "DisruptionTarget condition not written");
        }
        let options = DeleteOptions {
            preconditions: Some(Preconditions { uid: Some(pod.metadata.uid.clone()), resource_version: None }),
            ..Default::default()
        };
        match api.delete(&pod.metadata.name, &options).await {
            Ok(_) => {
                self.forget(pod);
                tracing::info!(pod = %key, "evicted by a NoExecute taint");
            }
            Err(e) if e.is_not_found() => self.forget(pod),
            Err(e) => tracing::warn!(pod = %key, error = %e, "eviction failed"),
        }
    }

    /// Sets the `Ready` condition of the pods of `node` to `False`.
    async fn mark_pods_not_ready(&self, node: &Node, ctx: &Context) {
        let now = Time(self.clock.wall());
        for pod in self.pods().state() {
            if pod.spec.node_name.as_deref() != Some(node.metadata.name.as_str())
                || pod.metadata.deletion_timestamp.is_some()
                || !crate::util::is_ready(&pod)
            {
                continue;
            }
            let api: Api<Pod> = Api::with_client(ctx.api.clone(), Some(pod.metadata.namespace.clone()));
            let written = api
                .guaranteed_update_status(&pod.metadata.name, |p| {
                    if let Some(status) = p.status.as_mut() {
                        for c in status.conditions.iter_mut().filter(|c| c.type_ == "Ready" && c.status != "False") {
                            c.status = "False".to_owned();
                            c.last_transition_time = Some(now);
                        }
                    }
                })
                .await;
            match written {
                Ok(_) => {
                    self.event(&self.recorder, &*pod, EventType::Warning, "NodeNotReady", "Node is not ready").await;
                }
                Err(e) => tracing::debug!(pod = %pod.metadata.name, error = %e, "pod not marked not ready"),
            }
        }
    }

    async fn reconcile_node(&self, node: Arc<Node>, ctx: &Context) -> Result<Action, Error> {
        let (nodes, leases) = (self.nodes(), self.leases());
        nodes.wait_until_synced().await;
        leases.wait_until_synced().await;
        self.pods().wait_until_synced().await;
        let nodes_api: Api<Node> = Api::with_client(ctx.api.clone(), None);
        let name = node.metadata.name.clone();
        let now = self.clock.now();
        let all_nodes = nodes.state();

        // Health of every node, the zones, and master disruption mode.
        let (zones, probe, entering, leaving) = {
            let mut state = self.lock();
            let zones = self.zone_states(&mut state, &all_nodes, &leases, now);
            let probe = self.observe(&mut state, &node, &leases, now);
            // Eviction schedules of deleted nodes.
            state.scheduled.retain(|n, _| all_nodes.iter().any(|x| x.metadata.name == *n));
            let all_full = !zones.is_empty() && zones.values().all(|(s, _)| *s == ZoneState::FullDisruption);
            let (entering, leaving) = (all_full && !state.all_disrupted, !all_full && state.all_disrupted);
            state.all_disrupted = all_full;
            if leaving {
                // Every node gets a fresh grace period.
                for health in state.health.values_mut() {
                    health.probe = now;
                }
                state.buckets.clear();
            }
            (zones, probe, entering, leaving)
        };
        if entering {
            tracing::warn!("every zone is fully disrupted: entering master disruption mode (no NoExecute taints)");
            self.untaint_all(&all_nodes, &nodes_api).await?;
        } else if leaving {
            tracing::info!("some nodes are ready: leaving master disruption mode");
        }
        let probe = if leaving { now } else { probe };

        // 1. Health: a silent node's conditions become Unknown.
        let grace = self.grace(&node);
        let silent = now >= probe + grace;
        let mut node = (*node).clone();
        if entering {
            // Its taints were just written: continue from the stored node.
            match nodes_api.get_opt(&name).await? {
                Some(fresh) => node = fresh,
                None => return Ok(Action::AwaitChange),
            }
        }
        if silent {
            match self.mark_unknown(&node, &nodes_api).await {
                Ok(written) => node = written,
                Err(Error::Store(e)) if e.is_not_found() => return Ok(Action::AwaitChange),
                Err(e) => return Err(e),
            }
        }
        let ready = condition(&node, "Ready").map(|c| c.status.clone());
        let previous = self.lock().health.get_mut(&name).map(|h| std::mem::replace(&mut h.ready, ready.clone()));
        if let Some(previous) = previous
            && previous != ready
        {
            match (previous.as_deref(), ready.as_deref()) {
                (Some("True"), Some(_)) => {
                    let message = format!("Node {name} status is now: NodeNotReady");
                    self.event(&self.recorder, &node, EventType::Normal, "NodeNotReady", &message).await;
                }
                (_, Some("True")) => {
                    let message = format!("Node {name} status is now: NodeReady");
                    self.event(&self.recorder, &node, EventType::Normal, "NodeReady", &message).await;
                }
                _ => {}
            }
        }

        // 2 and 3. Taints.
        let mut wanted = wanted_no_schedule(&node);
        let mut requeue: Vec<Duration> = Vec::new();
        let taints = &node.spec.taints;
        let (has_not_ready, has_unreachable) =
            (has_taint(taints, TAINT_NOT_READY, NO_EXECUTE), has_taint(taints, TAINT_UNREACHABLE, NO_EXECUTE));
        let all_disrupted = self.lock().all_disrupted;
        let no_execute: Option<&str> = if all_disrupted {
            None
        } else {
            let (key, has_it, has_other) = match ready.as_deref() {
                Some("False") => (Some(TAINT_NOT_READY), has_not_ready, has_unreachable),
                Some("Unknown") => (Some(TAINT_UNREACHABLE), has_unreachable, has_not_ready),
                Some(_) => (None, false, false),
                // Never reported, within its startup grace: as it is.
                None if has_not_ready => (Some(TAINT_NOT_READY), true, false),
                None if has_unreachable => (Some(TAINT_UNREACHABLE), true, false),
                None => (None, false, false),
            };
            match key {
                // Tainted, or to swap from the other taint: at once.
                Some(key) if has_it || has_other => Some(key),
                Some(key) => {
                    let zone = zone_of(&node);
                    let (zone_state, size) = zones.get(&zone).copied().unwrap_or((ZoneState::Normal, 1));
                    let rate = self.rate(zone_state, size);
                    let mut state = self.lock();
                    let bucket = state.buckets.entry(zone).or_insert(Bucket { rate, tokens: 1.0, at: now });
                    match bucket.take(rate, now) {
                        Ok(()) => Some(key),
                        Err(wait) => {
                            tracing::debug!(node = %name, ?zone_state, "NoExecute tainting waits for the zone's rate limit");
                            requeue.push(wait.unwrap_or(NODE_MONITOR_PERIOD).min(NODE_MONITOR_PERIOD * 12));
                            None
                        }
                    }
                }
                None => None,
            }
        };
        wanted.extend(no_execute.map(|k| (k, NO_EXECUTE)));
        let managed = managed_taints();
        let time = Time(self.clock.wall());
        if set_taints(&mut node.spec.taints.clone(), &wanted, &managed, time) {
            let written = nodes_api
                .guaranteed_update(&name, |n| {
                    set_taints(&mut n.spec.taints, &wanted, &managed, time);
                })
                .await;
            match written {
                Ok(written) => node = written,
                Err(e) if e.is_not_found() => return Ok(Action::AwaitChange),
                Err(e) => return Err(e.into()),
            }
        }

        // 4. Taint-based eviction.
        requeue.extend(self.evict(&node, ctx).await);

        // 5. MarkPodsNotReady.
        if ready.as_deref().is_some_and(|r| r != "True") {
            self.mark_pods_not_ready(&node, ctx).await;
        }

        if silent || ready.as_deref().is_some_and(|r| r != "True") {
            requeue.push(NODE_MONITOR_PERIOD);
        } else {
            // Healthy (or starting): look again when its grace period ends.
            requeue.push((probe + grace).saturating_duration_since(now));
        }
        Ok(crate::util::requeue_soonest(requeue))
    }
}

#[async_trait::async_trait]
impl Reconciler<Node> for NodeLifecycleReconciler {
    type Error = Error;

    async fn reconcile(&self, node: Arc<Node>, ctx: &Context) -> Result<Action, Error> {
        self.reconcile_node(node, ctx).await
    }
}

/// Adds the node lifecycle controller to `manager` (system clock, default
/// options).
pub fn add_node_lifecycle(manager: &mut Manager) {
    add_node_lifecycle_with(manager, NodeLifecycleOptions::default());
}

/// Adds the node lifecycle controller to `manager` with `options` (system
/// clock).
pub fn add_node_lifecycle_with(manager: &mut Manager, options: NodeLifecycleOptions) {
    let reconciler =
        NodeLifecycleReconciler::new(manager.api(), manager.informers(), Arc::new(SystemClock)).with_options(options);
    manager.add(reconciler.controller(), reconciler);
}

#[cfg(test)]
mod tests {
    use k_api_types::Resource;
    use k_api_types::coordination::v1::LeaseSpec;
    use k_api_types::core::v1::{Container, Event, NodeStatus, PodSpec, PodStatus};
    use k_api_types::meta::{MicroTime, ObjectMeta};
    use k_runtime::testing::TestEnv;
    use k_runtime::watcher::Config;
    use k_store::api::ListOptions;

    use k_api_types::core::v1::Toleration;

    use super::*;

    const NS: &str = "default";

    struct Fixture {
        env: TestEnv,
        ctx: Context,
        nodes: Api<Node>,
        leases: Api<Lease>,
        pods: Api<Pod>,
        r: NodeLifecycleReconciler,
    }

    /// Waits until `store` shows what `api` lists (same uids, versions).
    async fn caught_up<K: Resource>(api: &Api<K>, store: &Store<K>) {
        let listed: Vec<(String, String)> = api
            .list(&ListOptions::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|o| (o.metadata().uid.clone(), o.metadata().resource_version.clone()))
            .collect();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let cached = store.state();
            if store.is_synced()
                && cached.len() == listed.len()
                && listed.iter().all(|(uid, rv)| {
                    cached.iter().any(|o| &o.metadata().uid == uid && &o.metadata().resource_version == rv)
                })
            {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "the {} cache never caught up", K::INFO.plural);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn ready_status(status: &str, at: Time) -> NodeStatus {
        let condition = |type_: &str, status: &str| NodeCondition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            last_heartbeat_time: Some(at),
            last_transition_time: Some(at),
            reason: Some("KubeletReady".to_owned()),
            message: None,
        };
        NodeStatus {
            conditions: vec![
                condition("Ready", status),
                condition("MemoryPressure", "False"),
                condition("DiskPressure", "False"),
                condition("PIDPressure", "False"),
            ],
            ..Default::default()
        }
    }

    impl Fixture {
        fn new() -> Self {
            let env = TestEnv::new();
            let informers = Arc::new(InformerFactory::new(env.api.clone(), Config::default()));
            let clock: Arc<dyn Clock> = Arc::new(env.clock.clone());
            let ctx = Context { controller: Arc::from("node-lifecycle"), api: env.api.clone(), clock, retries: 0 };
            let r = NodeLifecycleReconciler::new(env.api.clone(), informers.clone(), Arc::new(env.clock.clone()));
            Fixture {
                nodes: Api::all(env.store.clone()),
                leases: Api::namespaced(env.store.clone(), LEASE_NAMESPACE),
                pods: Api::all(env.store.clone()),
                env,
                ctx,
                r,
            }
        }

        fn now(&self) -> Time {
            Time(self.env.clock.wall())
        }

        /// A node in `zone`; with `ready`, its kubelet has posted that
        /// `Ready` status and renewed its Lease.
        async fn node(&self, name: &str, zone: Option<&str>, ready: Option<&str>) {
            let mut metadata = ObjectMeta::named(name);
            if let Some(zone) = zone {
                metadata.labels.insert(LABEL_ZONE.to_owned(), zone.to_owned());
            }
            self.nodes.create(&Node { metadata, ..Default::default() }).await.unwrap();
            if let Some(ready) = ready {
                self.post(name, ready).await;
                self.renew(name).await;
            }
        }

        /// The kubelet posts `Ready=<status>` with a fresh heartbeat.
        async fn post(&self, name: &str, status: &str) {
            let at = self.now();
            self.nodes.guaranteed_update_status(name, |n| n.status = Some(ready_status(status, at))).await.unwrap();
        }

        /// The kubelet renews its Lease.
        async fn renew(&self, name: &str) {
            let renew_time = Some(MicroTime(self.env.clock.wall()));
            match self.leases.get_opt(name).await.unwrap() {
                Some(mut lease) => {
                    lease.spec.renew_time = renew_time;
                    self.leases.update(&lease).await.unwrap();
                }
                None => {
                    let lease = Lease {
                        metadata: ObjectMeta::namespaced(LEASE_NAMESPACE, name),
                        spec: LeaseSpec {
                            holder_identity: Some(name.to_owned()),
                            lease_duration_seconds: Some(40),
                            renew_time,
                            ..Default::default()
                        },
                        ..Default::default()
                    };
                    self.leases.create(&lease).await.unwrap();
                }
            }
        }

        /// A pod bound to `node`, ready, with these tolerations.
        async fn pod(&self, name: &str, node: &str, tolerations: Vec<Toleration>) {
            let pods: Api<Pod> = Api::namespaced(self.env.store.clone(), NS);
            let pod = Pod {
                metadata: ObjectMeta::namespaced(NS, name),
                spec: PodSpec {
                    node_name: Some(node.to_owned()),
                    tolerations,
                    containers: vec![Container { name: "c".into(), image: Some("nginx".into()), ..Default::default() }],
                    ..Default::default()
                },
                ..Default::default()
            };
            pods.create(&pod).await.unwrap();
            let now = self.now();
            pods.guaranteed_update_status(name, |p| {
                p.status = Some(PodStatus {
                    phase: Some("Running".into()),
                    conditions: vec![PodCondition {
                        type_: "Ready".into(),
                        status: "True".into(),
                        last_transition_time: Some(now),
                        ..Default::default()
                    }],
                    ..Default::default()
                });
            })
            .await
            .unwrap();
        }

        async fn sync(&self) {
            let r = &self.r;
            caught_up(&self.nodes, &r.nodes()).await;
            caught_up(&self.leases, &r.leases()).await;
            caught_up(&self.pods, &r.pods()).await;
        }

        async fn reconcile(&self, name: &str) -> Action {
            self.sync().await;
            let node = self.nodes.get(name).await.unwrap();
            let action = self.r.reconcile(Arc::new(node), &self.ctx).await.unwrap();
            self.sync().await;
            action
        }

        /// Time passes; the kubelets of `alive` renew their Leases.
        async fn advance(&self, seconds: u64, alive: &[&str]) {
            self.env.clock.advance(Duration::from_secs(seconds));
            for name in alive {
                self.renew(name).await;
            }
        }

        async fn taints(&self, name: &str) -> Vec<(String, String)> {
            let node = self.nodes.get(name).await.unwrap();
            node.spec.taints.into_iter().map(|t| (t.key, t.effect)).collect()
        }

        /// Whether the pod is still there and not being deleted.
        async fn running(&self, name: &str) -> bool {
            let pods: Api<Pod> = Api::namespaced(self.env.store.clone(), NS);
            pods.get_opt(name).await.unwrap().is_some_and(|p| p.metadata.deletion_timestamp.is_none())
        }

        async fn event_reasons(&self) -> Vec<String> {
            let events: Api<Event> = Api::all(self.env.store.clone());
            events.list(&ListOptions::default()).await.unwrap().items.into_iter().filter_map(|e| e.reason).collect()
        }
    }

    fn taint(key: &str, effect: &str) -> (String, String) {
        (key.to_owned(), effect.to_owned())
    }

    fn toleration(key: &str, seconds: Option<i64>) -> Toleration {
        Toleration {
            key: Some(key.to_owned()),
            operator: Some("Exists".to_owned()),
            value: None,
            effect: Some(NO_EXECUTE.to_owned()),
            toleration_seconds: seconds,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_renewing_lease_keeps_a_node_ready_silence_makes_it_unknown_and_recovery_untaints() {
        let f = Fixture::new();
        f.node("n1", None, Some("True")).await;
        f.node("n2", None, Some("True")).await;
        f.pod("web", "n1", vec![toleration(TAINT_UNREACHABLE, None)]).await;
        assert_eq!(f.reconcile("n1").await, Action::RequeueAfter(Duration::from_secs(40)));

        // Only the Lease is renewed (the kubelet posts status rarely).
        for _ in 0..3 {
            f.advance(30, &["n1", "n2"]).await;
            f.reconcile("n1").await;
            let node = f.nodes.get("n1").await.unwrap();
            assert!(condition_is(&node, "Ready", "True"), "{:?}", node.status);
            assert!(node.spec.taints.is_empty(), "{:?}", node.spec.taints);
        }

        f.advance(39, &["n2"]).await;
        f.reconcile("n1").await;
        assert!(condition_is(&f.nodes.get("n1").await.unwrap(), "Ready", "True"), "39 s of silence is fine");
        f.advance(1, &["n2"]).await;
        f.reconcile("n1").await;
        let node = f.nodes.get("n1").await.unwrap();
        for type_ in NODE_CONDITIONS {
            let c = condition(&node, type_).unwrap();
            assert_eq!(c.status, "Unknown", "{type_}");
            assert_eq!(c.reason.as_deref(), Some(REASON_NODE_STATUS_UNKNOWN));
            assert_eq!(c.message.as_deref(), Some(MESSAGE_NODE_STATUS_UNKNOWN));
        }
        let taints = f.taints("n1").await;
        assert!(taints.contains(&taint(TAINT_UNREACHABLE, NO_EXECUTE)), "{taints:?}");
        assert!(taints.contains(&taint(TAINT_UNREACHABLE, NO_SCHEDULE)), "{taints:?}");
        assert!(node.spec.taints.iter().any(|t| t.effect == NO_EXECUTE && t.time_added.is_some()));
        // MarkPodsNotReady.
        let web = f.pods.list(&ListOptions::default()).await.unwrap().items;
        assert!(!crate::util::is_ready(&web[0]), "{:?}", web[0].status);
        assert!(f.running("web").await, "tolerated forever");
        assert!(f.event_reasons().await.contains(&"NodeNotReady".to_owned()));
        // The other node is untouched.
        f.reconcile("n2").await;
        assert!(f.taints("n2").await.is_empty());

        // The kubelet is back.
        f.advance(5, &["n1", "n2"]).await;
        f.post("n1", "True").await;
        f.reconcile("n1").await;
        assert!(f.taints("n1").await.is_empty());
        assert!(condition_is(&f.nodes.get("n1").await.unwrap(), "Ready", "True"));
        assert!(f.event_reasons().await.contains(&"NodeReady".to_owned()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pods_are_evicted_as_their_tolerations_say() {
        let f = Fixture::new();
        f.node("n1", None, Some("True")).await;
        f.node("n2", None, Some("True")).await;
        f.pod("intolerant", "n1", vec![]).await;
        f.pod("patient", "n1", vec![toleration(TAINT_UNREACHABLE, Some(300))]).await;
        f.pod("loyal", "n1", vec![toleration(TAINT_UNREACHABLE, None)]).await;
        f.pod("elsewhere", "n2", vec![]).await;
        f.reconcile("n1").await;
        f.advance(40, &["n2"]).await;
        let action = f.reconcile("n1").await;
        assert!(f.taints("n1").await.contains(&taint(TAINT_UNREACHABLE, NO_EXECUTE)));
        assert!(!f.running("intolerant").await, "evicted at once");
        assert!(f.running("patient").await && f.running("loyal").await && f.running("elsewhere").await);
        assert!(matches!(action, Action::RequeueAfter(d) if d <= Duration::from_secs(300)), "{action:?}");
        assert!(f.event_reasons().await.contains(&"TaintManagerEviction".to_owned()));

        f.advance(299, &["n2"]).await;
        f.reconcile("n1").await;
        assert!(f.running("patient").await, "299 s of 300");
        f.advance(1, &["n2"]).await;
        f.reconcile("n1").await;
        assert!(!f.running("patient").await, "300 s tolerated, then evicted");
        if let Some(p) = Api::<Pod>::namespaced(f.env.store.clone(), NS).get_opt("patient").await.unwrap() {
            let conditions = &p.status.unwrap().conditions;
            assert!(conditions.iter().any(|c| c.type_ == "DisruptionTarget"), "{conditions:?}");
        }
        f.advance(1000, &["n2"]).await;
        f.reconcile("n1").await;
        f.reconcile("n2").await;
        assert!(f.running("loyal").await && f.running("elsewhere").await);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn when_every_node_is_down_no_node_is_tainted_noexecute() {
        let f = Fixture::new();
        for n in ["n1", "n2", "n3"] {
            f.node(n, None, Some("True")).await;
        }
        f.pod("patient", "n1", vec![toleration(TAINT_UNREACHABLE, Some(300))]).await;
        f.pod("intolerant", "n2", vec![]).await;
        for n in ["n1", "n2", "n3"] {
            f.reconcile(n).await;
        }
        // n1 goes silent alone: tainted.
        f.advance(40, &["n2", "n3"]).await;
        f.reconcile("n1").await;
        assert!(f.taints("n1").await.contains(&taint(TAINT_UNREACHABLE, NO_EXECUTE)));
        // Then the others: the whole cluster looks down.
        f.advance(40, &[]).await;
        for n in ["n1", "n2", "n3"] {
            f.reconcile(n).await;
        }
        for n in ["n1", "n2", "n3"] {
            let taints = f.taints(n).await;
            assert!(!taints.iter().any(|(_, e)| e == NO_EXECUTE), "{n}: {taints:?}");
            assert!(taints.contains(&taint(TAINT_UNREACHABLE, NO_SCHEDULE)), "{n}: {taints:?}");
            assert!(condition_is(&f.nodes.get(n).await.unwrap(), "Ready", "Unknown"));
        }
        f.advance(400, &[]).await;
        for n in ["n1", "n2", "n3"] {
            f.reconcile(n).await;
        }
        assert!(f.running("patient").await && f.running("intolerant").await, "full disruption: no eviction");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ready_false_is_tainted_not_ready_then_swapped_to_unreachable() {
        let f = Fixture::new();
        f.node("n1", None, Some("False")).await;
        f.node("n2", None, Some("True")).await;
        f.nodes.guaranteed_update("n2", |n| n.spec.unschedulable = Some(true)).await.unwrap();
        f.reconcile("n1").await;
        let taints = f.taints("n1").await;
        assert_eq!(taints, [taint(TAINT_NOT_READY, NO_SCHEDULE), taint(TAINT_NOT_READY, NO_EXECUTE)]);
        f.reconcile("n2").await;
        assert_eq!(f.taints("n2").await, [taint(TAINT_UNSCHEDULABLE, NO_SCHEDULE)]);

        // Silent: swapped at once (no rate limit for a swap).
        f.advance(40, &["n2"]).await;
        f.reconcile("n1").await;
        let taints = f.taints("n1").await;
        assert_eq!(taints, [taint(TAINT_UNREACHABLE, NO_SCHEDULE), taint(TAINT_UNREACHABLE, NO_EXECUTE)]);

        // Uncordoned.
        f.nodes.guaranteed_update("n2", |n| n.spec.unschedulable = None).await.unwrap();
        f.reconcile("n2").await;
        assert!(f.taints("n2").await.is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn noexecute_tainting_is_rate_limited_per_zone() {
        let f = Fixture::new();
        for (n, zone) in [("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b"), ("b2", "b")] {
            f.node(n, Some(zone), Some("True")).await;
        }
        for n in ["a1", "a2", "a3", "b1", "b2"] {
            f.reconcile(n).await;
        }
        f.advance(40, &["a3", "b2"]).await;
        f.reconcile("a1").await;
        let action = f.reconcile("a2").await;
        f.reconcile("b1").await;
        assert!(f.taints("a1").await.contains(&taint(TAINT_UNREACHABLE, NO_EXECUTE)));
        assert!(!f.taints("a2").await.contains(&taint(TAINT_UNREACHABLE, NO_EXECUTE)), "one node per 10 s");
        assert!(f.taints("a2").await.contains(&taint(TAINT_UNREACHABLE, NO_SCHEDULE)), "NoSchedule is not limited");
        assert!(f.taints("b1").await.contains(&taint(TAINT_UNREACHABLE, NO_EXECUTE)), "zone b has its own limit");
        assert!(matches!(action, Action::RequeueAfter(d) if d <= Duration::from_secs(10)), "{action:?}");
        f.advance(5, &["a3", "b2"]).await;
        f.reconcile("a2").await;
        assert!(!f.taints("a2").await.contains(&taint(TAINT_UNREACHABLE, NO_EXECUTE)));
        f.advance(5, &["a3", "b2"]).await;
        f.reconcile("a2").await;
        assert!(f.taints("a2").await.contains(&taint(TAINT_UNREACHABLE, NO_EXECUTE)), "the next token");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_node_that_never_reports_gets_the_startup_grace_period() {
        let f = Fixture::new();
        f.node("n1", None, None).await;
        f.node("n2", None, Some("True")).await;
        let action = f.reconcile("n1").await;
        assert!(matches!(action, Action::RequeueAfter(d) if d <= Duration::from_secs(60)), "{action:?}");
        f.advance(40, &["n2"]).await;
        f.reconcile("n1").await;
        assert!(f.nodes.get("n1").await.unwrap().status.is_none_or(|s| s.conditions.is_empty()));
        f.advance(21, &["n2"]).await;
        f.reconcile("n1").await;
        let node = f.nodes.get("n1").await.unwrap();
        for type_ in NODE_CONDITIONS {
            let c = condition(&node, type_).unwrap();
            assert_eq!((c.status.as_str(), c.reason.as_deref()), ("Unknown", Some(REASON_NODE_STATUS_NEVER_UPDATED)));
        }
        // Still silent: the written conditions are no heartbeat.
        f.advance(5, &["n2"]).await;
        f.reconcile("n1").await;
        assert!(f.taints("n1").await.contains(&taint(TAINT_UNREACHABLE, NO_EXECUTE)));
    }

    #[test]
    fn tolerations_match_as_kubernetes() {
        let t = Taint { key: "k".into(), value: Some("v".into()), effect: NO_EXECUTE.into(), time_added: None };
        let equal = Toleration { key: Some("k".into()), value: Some("v".into()), ..Default::default() };
        assert!(equal.tolerates(&t));
        assert!(!Toleration { value: Some("w".into()), ..equal.clone() }.tolerates(&t));
        assert!(!Toleration { effect: Some(NO_SCHEDULE.into()), ..equal.clone() }.tolerates(&t));
        let everything = Toleration { operator: Some("Exists".into()), ..Default::default() };
        assert!(everything.tolerates(&t));
        let pod = |tolerations| Pod { spec: PodSpec { tolerations, ..Default::default() }, ..Default::default() };
        assert_eq!(eviction_of(&pod(vec![]), &[&t]), Eviction::Now);
        assert_eq!(eviction_of(&pod(vec![]), &[]), Eviction::Never);
        let timed = |s| Toleration { toleration_seconds: Some(s), ..everything.clone() };
        assert_eq!(eviction_of(&pod(vec![timed(30)]), &[&t]), Eviction::After(Duration::from_secs(30)));
        assert_eq!(eviction_of(&pod(vec![timed(-1)]), &[&t]), Eviction::Now);
        assert_eq!(eviction_of(&pod(vec![everything.clone()]), &[&t]), Eviction::Never);
    }
}

#[cfg(test)]
mod running {
    use k_api_types::coordination::v1::LeaseSpec;
    use k_api_types::core::v1::NodeStatus;
    use k_api_types::meta::{MicroTime, ObjectMeta};
    use k_runtime::testing::TestEnv;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_running_manager_marks_a_silent_node_and_taints_it() {
        let env = TestEnv::new();
        let mut manager = env.manager();
        let clock: Arc<dyn Clock> = Arc::new(env.clock.clone());
        let reconciler = NodeLifecycleReconciler::new(manager.api(), manager.informers(), clock);
        manager.add(reconciler.controller(), reconciler);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(manager.run(async {
            let _ = stopped.await;
        }));
        let nodes: Api<Node> = Api::all(env.store.clone());
        let leases: Api<Lease> = Api::namespaced(env.store.clone(), LEASE_NAMESPACE);
        for name in ["n1", "n2"] {
            nodes.create(&Node { metadata: ObjectMeta::named(name), ..Default::default() }).await.unwrap();
            let at = Time(env.clock.wall());
            let ready = NodeCondition {
                type_: "Ready".into(),
                status: "True".into(),
                last_heartbeat_time: Some(at),
                last_transition_time: Some(at),
                reason: None,
                message: None,
            };
            let status = NodeStatus { conditions: vec![ready], ..Default::default() };
            nodes.guaranteed_update_status(name, |n| n.status = Some(status.clone())).await.unwrap();
            let lease = Lease {
                metadata: ObjectMeta::namespaced(LEASE_NAMESPACE, name),
                spec: LeaseSpec { renew_time: Some(MicroTime(env.clock.wall())), ..Default::default() },
                ..Default::default()
            };
            leases.create(&lease).await.unwrap();
        }
        // Time passes in steps; only n2's kubelet renews its Lease.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let node = nodes.get("n1").await.unwrap();
            if has_taint(&node.spec.taints, TAINT_UNREACHABLE, NO_EXECUTE) {
                assert!(condition_is(&node, "Ready", "Unknown"));
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "n1 was never tainted: {node:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
            env.clock.advance(Duration::from_secs(5));
            leases.guaranteed_update("n2", |l| l.spec.renew_time = Some(MicroTime(env.clock.wall()))).await.unwrap();
        }
        assert!(nodes.get("n2").await.unwrap().spec.taints.is_empty());
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(10), run).await.unwrap().unwrap();
    }
}
