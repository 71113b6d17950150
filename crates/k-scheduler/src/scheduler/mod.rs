//! The scheduler: kube-scheduler's loop over an object API.
//!
//! [`Scheduler::new`] starts informers for pods, nodes, volumes, claims,
//! storage classes and the objects plugins read (see
//! [`Listers`]); the [`Cache`] holds nodes with their pods, the
//! [`SchedulingQueue`] the pending pods of every profile. [`Scheduler::run`]
//! then, one pod at a time (the scheduling cycle):
//!
//! 1. pops the pod the profile's QueueSort puts first, picks its profile
//!    by `spec.schedulerName`, and refreshes the node snapshot;
//! 2. filters and scores the nodes (a nominated node is tried first), with
//!    pods nominated to a node by preemption counted there when they have
//!    at least the pod's priority;
//! 3. on success, **assumes** the pod on the node (the next pod sees it),
//!    runs Reserve and Permit, and hands it to a binding task (the binding
//!    cycle: wait at Permit, PreBind, Bind through `pods/binding`,
//!    PostBind) while the next pod is scheduled; a failed binding forgets
//!    the assumption and backs the pod off;
//! 4. when no node fits, runs PostFilter (preemption: the victims are
//!    deleted and the pod nominated), records a `FailedScheduling` event and
//!    the PodScheduled=False condition, and parks the pod until a cluster
//!    event could help (a node added or changed, a pod deleted, a volume,
//!    claim or class change).
//!
//! A `Scheduled` event is recorded for each bound pod. With a
//! [`LeaderElectionConfig`] only the leader schedules. Shutdown stops
//! taking pods, lets the binding tasks finish, and stops the informers.

mod metrics;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k_api_types::core::v1::{Node, ObjectReference, PersistentVolume, PersistentVolumeClaim, Pod, PodCondition};
use k_api_types::meta::DeleteOptions;
use k_api_types::meta::Time;
use k_api_types::storage::v1::{CSINode, StorageClass};
use k_runtime::clock::{Clock, SystemClock};
use k_runtime::events::{EventType, Recorder, reference_to};
use k_runtime::informer::{Informer, InformerFactory};
use k_runtime::leader::{LeaderElectionConfig, LeaderElector};
use k_runtime::reflector::{Change, Store, key_of};
use k_runtime::watcher::Config;
use k_store::{Api, ObjectApi};
use tokio::task::JoinSet;

pub use self::metrics::{AttemptLabels, Metrics, QueueLabels};
use crate::cache::{Cache, Snapshot};
use crate::config::{DEFAULT_SCHEDULER_NAME, KubeSchedulerConfiguration};
use crate::framework::registry::Registry;
use crate::framework::{Code, CycleState, FitError, Framework, Handle, Listers, NodeInfo, PodInfo, QueuedPodInfo};
use crate::queue::{PreEnqueue, SchedulingQueue};

/// What the scheduler is built from.
#[derive(Clone)]
pub struct SchedulerOptions {
    /// The profiles (none: one default profile).
    pub config: KubeSchedulerConfiguration,
    /// The plugin factories (built-ins plus yours).
    pub registry: Registry,
    /// Only the leader of this election schedules (None: always).
    pub leader_election: Option<LeaderElectionConfig>,
    /// Where the metrics are registered (None: kept but not exported).
    pub metrics: Option<Arc<Mutex<prometheus_client::registry::Registry>>>,
    /// The reporting component of events.
    pub component: String,
    /// The clock of the queue's backoffs.
    pub clock: Arc<dyn Clock>,
    /// Binding cycles (PreBind, Bind, events) in flight at most; the
    /// scheduling cycle goes on while they wait.
    pub max_bindings_in_flight: usize,
}

impl std::fmt::Debug for SchedulerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerOptions").field("component", &self.component).finish_non_exhaustive()
    }
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions {
            config: KubeSchedulerConfiguration::default(),
            registry: Registry::builtin(),
            leader_election: None,
            metrics: None,
            component: DEFAULT_SCHEDULER_NAME.to_owned(),
            clock: Arc::new(SystemClock),
            max_bindings_in_flight: 256,
        }
    }
}

/// Pods nominated to nodes by preemption, waiting for their victims to go.
#[derive(Debug, Default)]
struct Nominator {
    by_node: HashMap<String, Vec<Arc<PodInfo>>>,
    node_of: HashMap<String, String>,
}

impl Nominator {
    fn remove(&mut self, key: &str) {
        if let Some(node) = self.node_of.remove(key)
            && let Some(pods) = self.by_node.get_mut(&node)
        {
            pods.retain(|p| p.key() != key);
            if pods.is_empty() {
                self.by_node.remove(&node);
            }
        }
    }

    fn set(&mut self, pod: Arc<PodInfo>, node: Option<&str>) {
        let key = pod.key();
        self.remove(&key);
        if let Some(node) = node.filter(|n| !n.is_empty()) {
            self.node_of.insert(key, node.to_owned());
            self.by_node.entry(node.to_owned()).or_default().push(pod);
        }
    }
}

struct Shared {
    api: Arc<dyn ObjectApi>,
    profiles: HashMap<String, Framework>,
    queue: Arc<SchedulingQueue>,
    cache: Mutex<Cache>,
    nominator: Mutex<Nominator>,
    pods: Store<Pod>,
    events: Events,
    metrics: Metrics,
    handle: Handle,
    binding_slots: Arc<tokio::sync::Semaphore>,
}

/// The scheduler; see the [module docs](self).
pub struct Scheduler {
    shared: Arc<Shared>,
    informers: InformerFactory,
    pod_informer: Informer<Pod>,
    node_informer: Informer<Node>,
    volume_events: Vec<futures::stream::BoxStream<'static, ()>>,
    leader_election: Option<LeaderElectionConfig>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler").field("profiles", &self.profiles()).finish_non_exhaustive()
    }
}

/// Events are written by a background task, off the scheduling and
/// binding paths (as kube-scheduler's event broadcaster does); when more
/// than [`EVENT_QUEUE`] wait, new ones are dropped and counted.
struct Events {
    queue: tokio::sync::mpsc::Sender<(ObjectReference, EventType, &'static str, String)>,
    dropped: Arc<std::sync::atomic::AtomicU64>,
}

/// How many events may wait to be written.
const EVENT_QUEUE: usize = 10_000;
/// How many events are written at once.
const EVENT_WRITERS: usize = 4;

impl Events {
    fn start(recorder: Recorder) -> Self {
        let (queue, mut rx) =
            tokio::sync::mpsc::channel::<(ObjectReference, EventType, &'static str, String)>(EVENT_QUEUE);
        let recorder = Arc::new(recorder);
        tokio::spawn(async move {
            let slots = Arc::new(tokio::sync::Semaphore::new(EVENT_WRITERS));
            while let Some((reference, type_, reason, message)) = rx.recv().await {
                let Ok(slot) = slots.clone().acquire_owned().await else { return };
                let recorder = recorder.clone();
                tokio::spawn(async move {
                    let _slot = slot;
                    let _ = recorder.publish(&reference, type_, reason, &message).await;
                });
            }
        });
        Events { queue, dropped: Arc::default() }
    }

    fn send(&self, reference: ObjectReference, type_: EventType, reason: &'static str, message: String) {
        if self.queue.try_send((reference, type_, reason, message)).is_err() {
            self.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn scheduler_name(pod: &Pod) -> &str {
    pod.spec.scheduler_name.as_deref().filter(|s| !s.is_empty()).unwrap_or(DEFAULT_SCHEDULER_NAME)
}

fn assigned(pod: &Pod) -> bool {
    pod.spec.node_name.as_deref().is_some_and(|n| !n.is_empty())
}

fn terminal(pod: &Pod) -> bool {
    matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
}

/// Whether an update of a pending pod could change where it fits (its spec,
/// labels or annotations; not its status, which the scheduler itself writes).
fn pending_pod_changed(old: &Pod, new: &Pod) -> bool {
    old.metadata.labels != new.metadata.labels
        || old.metadata.annotations != new.metadata.annotations
        || serde_json::to_value(&old.spec).ok() != serde_json::to_value(&new.spec).ok()
}

/// Whether a node update could let pods fit that did not.
fn node_changed(old: &Node, new: &Node) -> bool {
    let facts = |n: &Node| {
        let status = n.status.as_ref();
        serde_json::json!([n.spec, n.metadata.labels, status.map(|s| &s.allocatable), status.map(|s| &s.images)])
    };
    facts(old) != facts(new)
}

impl Scheduler {
    /// Builds the profiles and starts the informers over `api`.
    ///
    /// # Errors
    /// A profile that cannot be built (an unknown plugin, bad arguments),
    /// or profiles with different QueueSort plugins.
    pub fn new(api: Arc<dyn ObjectApi>, options: SchedulerOptions) -> Result<Self, String> {
        let informers = InformerFactory::new(api.clone(), Config::default());
        let listers = Listers::from_informers(&informers);
        // Volume changes can make parked pods fit (the same shared informers).
        let volume_events: Vec<futures::stream::BoxStream<'static, ()>> = vec![
            informers.informer::<PersistentVolumeClaim>(None, None, None).subscribe().map(|_| ()).boxed(),
            informers.informer::<PersistentVolume>(None, None, None).subscribe().map(|_| ()).boxed(),
            informers.informer::<StorageClass>(None, None, None).subscribe().map(|_| ()).boxed(),
            informers.informer::<CSINode>(None, None, None).subscribe().map(|_| ()).boxed(),
        ];
        let handle = Handle::new(listers).with_api(api.clone());
        let mut registry = options.registry.clone();
        registry.set_handle(handle.clone());
        let built = options.config.build(&registry)?;
        let mut profiles = HashMap::new();
        let mut sort = None;
        for profile in built {
            let framework = profile.framework;
            let this = framework.queue_sort().map(|s| s.name());
            match (sort.as_ref(), framework.queue_sort()) {
                (None, Some(s)) => sort = Some(s.clone()),
                (Some(first), _) if Some(first.name()) != this => {
                    return Err("every profile must use the same QueueSort plugin".into());
                }
                _ => {}
            }
            profiles.insert(framework.name().to_owned(), framework);
        }
        let sort = sort.ok_or("no profile enables a QueueSort plugin")?;
        let gates: HashMap<String, Framework> = profiles.clone();
        let pre_enqueue: PreEnqueue = Arc::new(move |pod: &PodInfo| match gates.get(scheduler_name(&pod.pod)) {
            Some(framework) => framework.run_pre_enqueue(pod),
            None => crate::framework::Status::success(),
        });
        let queue = Arc::new(SchedulingQueue::new(sort, options.clock.clone(), Some(pre_enqueue)));
        let metrics = Metrics::default();
        if let Some(registry) = &options.metrics {
            metrics.register(&mut lock(registry));
        }
        let pod_informer = informers.informer::<Pod>(None, None, None);
        let node_informer = informers.informer::<Node>(None, None, None);
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
        let shared = Arc::new(Shared {
            events: Events::start(Recorder::new(api.clone(), options.component.clone(), host)),
            api,
            profiles,
            queue,
            cache: Mutex::new(Cache::new()),
            nominator: Mutex::default(),
            pods: pod_informer.store(),
            metrics,
            handle,
            binding_slots: Arc::new(tokio::sync::Semaphore::new(options.max_bindings_in_flight.max(1))),
        });
        Ok(Scheduler {
            shared,
            informers,
            pod_informer,
            node_informer,
            volume_events,
            leader_election: options.leader_election,
        })
    }

    /// The profiles' scheduler names.
    pub fn profiles(&self) -> Vec<String> {
        let mut names: Vec<String> = self.shared.profiles.keys().cloned().collect();
        names.sort();
        names
    }

    /// The metrics (also in the registry given in the options).
    pub fn metrics(&self) -> Metrics {
        self.shared.metrics.clone()
    }

    /// The handle plugins were given (caches, API, waiting pods).
    pub fn handle(&self) -> Handle {
        self.shared.handle.clone()
    }

    /// Schedules until `shutdown` completes (as the leader, with leader
    /// election): then takes no more pods, lets bindings in flight finish
    /// and stops the informers.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let Scheduler { shared, informers, pod_informer, node_informer, volume_events, leader_election } = self;
        let mut shutdown = std::pin::pin!(shutdown);
        // Nothing is scheduled before the caches hold the cluster: the nodes
        // and the pods already bound go into the node cache first (the
        // watchers' replay of them is harmless).
        let nodes = node_informer.store();
        let synced = async {
            shared.pods.wait_until_synced().await;
            nodes.wait_until_synced().await;
            shared.handle.listers.wait_until_synced().await;
        };
        tokio::select! {
            () = synced => {}
            () = &mut shutdown => {
                informers.shutdown();
                return;
            }
        }
        {
            let mut cache = lock(&shared.cache);
            for node in nodes.state() {
                cache.add_node(node);
            }
            for pod in shared.pods.state() {
                if assigned(&pod) && !terminal(&pod) {
                    cache.add_pod(pod);
                }
            }
        }
        let mut background = JoinSet::new();
        background.spawn(watch_pods(shared.clone(), pod_informer));
        background.spawn(watch_nodes(shared.clone(), node_informer));
        for events in volume_events {
            let queue = shared.queue.clone();
            background.spawn(async move {
                let mut events = events;
                while events.next().await.is_some() {
                    queue.move_all_to_active_or_backoff();
                }
            });
        }
        let queue = shared.queue.clone();
        background.spawn(async move { queue.run().await });
        // The queue gauges, once a second (counting is O(pods)).
        let (queue, metrics) = (shared.queue.clone(), shared.metrics.clone());
        background.spawn(async move {
            loop {
                let (a, b, u) = queue.lengths();
                metrics.queues(a, b, u);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        // Shutdown closes the queue; the loop then lets the bindings in
        // flight finish and returns.
        let leading = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let work = {
            let (shared, leading) = (shared.clone(), leading.clone());
            async move {
                leading.store(true, std::sync::atomic::Ordering::SeqCst);
                schedule_loop(shared).await;
            }
        };
        let mut work = std::pin::pin!(work);
        match leader_election {
            Some(config) => {
                let elector = LeaderElector::new(shared.api.clone(), config);
                let queue = shared.queue.clone();
                let stop = async move {
                    shutdown.await;
                    queue.close();
                    if leading.load(std::sync::atomic::Ordering::SeqCst) {
                        // Leading: the work ends once its bindings finish,
                        // and the elector then releases the lease.
                        std::future::pending::<()>().await;
                    }
                };
                let outcome = elector.run(work, stop).await;
                tracing::info!(?outcome, "scheduler stopped");
            }
            None => {
                tokio::select! {
                    () = &mut work => {}
                    () = &mut shutdown => {
                        shared.queue.close();
                        work.await;
                    }
                }
            }
        }
        shared.queue.close();
        background.abort_all();
        informers.shutdown();
    }
}

async fn watch_pods(shared: Arc<Shared>, informer: Informer<Pod>) {
    let mut changes = Box::pin(informer.subscribe());
    while let Some(change) = changes.next().await {
        match change {
            Change::Added(pod) => pod_seen(&shared, None, pod),
            Change::Updated { old, new } => pod_seen(&shared, Some(old), new),
            Change::Deleted(pod) => pod_gone(&shared, &pod),
        }
    }
}

fn pod_seen(shared: &Shared, old: Option<Arc<Pod>>, pod: Arc<Pod>) {
    let key = key_of(&*pod);
    if assigned(&pod) {
        shared.queue.delete(&key);
        lock(&shared.nominator).remove(&key);
        if terminal(&pod) {
            lock(&shared.cache).remove_pod(&pod.metadata.namespace, &pod.metadata.name);
            shared.queue.move_all_to_active_or_backoff();
        } else {
            lock(&shared.cache).add_pod(pod.clone());
            // A pod newly on a node, or relabelled, can satisfy others' pod
            // affinity (status updates cannot).
            let was_assigned = old.as_ref().is_some_and(|o| assigned(o));
            if !was_assigned || old.is_some_and(|o| o.metadata.labels != pod.metadata.labels) {
                shared.queue.move_all_to_active_or_backoff();
            }
        }
        return;
    }
    if !shared.profiles.contains_key(scheduler_name(&pod)) || pod.metadata.deletion_timestamp.is_some() {
        return;
    }
    let info = Arc::new(PodInfo::new(pod.clone()));
    // The in-memory nomination stands until the pod is bound or deleted,
    // or a status names another node.
    if let Some(nominated) =
        pod.status.as_ref().and_then(|s| s.nominated_node_name.as_deref()).filter(|n| !n.is_empty())
    {
        lock(&shared.nominator).set(info.clone(), Some(nominated));
    }
    match old {
        Some(old) if !pending_pod_changed(&old, &pod) => {}
        _ => shared.queue.add(info),
    }
}

fn pod_gone(shared: &Shared, pod: &Pod) {
    let key = key_of(pod);
    shared.queue.delete(&key);
    lock(&shared.nominator).remove(&key);
    shared.handle.waiting_pods.reject(&key, "Scheduler", "the pod was deleted");
    // Also an assumed pod whose deletion was reported in its pending form.
    lock(&shared.cache).remove_pod(&pod.metadata.namespace, &pod.metadata.name);
    if assigned(pod) {
        shared.queue.move_all_to_active_or_backoff();
    }
}

async fn watch_nodes(shared: Arc<Shared>, informer: Informer<Node>) {
    let mut changes = Box::pin(informer.subscribe());
    while let Some(change) = changes.next().await {
        match change {
            Change::Added(node) => lock(&shared.cache).add_node(node),
            Change::Updated { old, new } => {
                if !node_changed(&old, &new) {
                    continue;
                }
                lock(&shared.cache).add_node(new);
            }
            Change::Deleted(node) => {
                let _ = lock(&shared.cache).remove_node(&node.metadata.name);
            }
        }
        shared.queue.move_all_to_active_or_backoff();
    }
}

async fn schedule_loop(shared: Arc<Shared>) {
    let mut snapshot = Snapshot::default();
    let mut start = 0usize;
    let mut bindings = JoinSet::new();
    while let Some((info, cycle)) = shared.queue.pop().await {
        schedule_one(&shared, &mut snapshot, &mut start, &mut bindings, info, cycle).await;
        while bindings.try_join_next().is_some() {}
        // Let the informers, bindings and lease renewals on this thread run
        // now and then (not after every pod: batching keeps throughput).
        if cycle % 64 == 0 {
            tokio::task::yield_now().await;
        }
    }
    // Shutting down: let bindings in flight finish.
    while bindings.join_next().await.is_some() {}
}

/// The nodes as this pod sees them: pods nominated elsewhere with at least
/// its priority count where they are nominated.
fn with_nominated(
    shared: &Shared,
    nodes: &[Arc<NodeInfo>],
    position: &crate::framework::NodeIndex<'_>,
    pod: &PodInfo,
) -> Option<Vec<Arc<NodeInfo>>> {
    let nominator = lock(&shared.nominator);
    if nominator.by_node.is_empty() {
        return None;
    }
    let priority = pod.pod.spec.priority.unwrap_or(0);
    let key = pod.key();
    let mut out: Option<Vec<Arc<NodeInfo>>> = None;
    for (node, nominated) in &nominator.by_node {
        let Some(at) = position(node) else { continue };
        for other in nominated.iter().filter(|o| o.key() != key && o.pod.spec.priority.unwrap_or(0) >= priority) {
            // The node list is copied only once a nomination applies.
            let copy = out.get_or_insert_with(|| nodes.to_vec());
            Arc::make_mut(&mut copy[at]).add_pod(other.clone());
        }
    }
    out
}

async fn schedule_one(
    shared: &Arc<Shared>,
    snapshot: &mut Snapshot,
    start: &mut usize,
    bindings: &mut JoinSet<()>,
    info: QueuedPodInfo,
    cycle: u64,
) {
    let began = Instant::now();
    let mut info = info;
    let key = info.pod.key();
    // Skip pods deleted or bound since they were queued; schedule the
    // latest version of the others.
    match shared.pods.get(&key) {
        Some(current) if !assigned(&current) && current.metadata.deletion_timestamp.is_none() => {
            if current.metadata.resource_version != info.pod.pod.metadata.resource_version {
                info.pod = Arc::new(PodInfo::new(current));
            }
        }
        _ => {
            shared.queue.done(&key);
            return;
        }
    }
    let pod = info.pod.clone();
    let profile = scheduler_name(&pod.pod).to_owned();
    let Some(framework) = shared.profiles.get(&profile) else {
        shared.queue.done(&key);
        return;
    };
    lock(&shared.cache).update_snapshot(snapshot);
    let index = |name: &str| snapshot.position(name);
    let adjusted = with_nominated(shared, &snapshot.nodes, &index, &pod);
    let nodes: &[Arc<NodeInfo>] = adjusted.as_deref().unwrap_or(&snapshot.nodes);
    let mut state = CycleState::new();
    let decision = decide(framework, &mut state, &pod, nodes, &index, start);
    let node = match decision {
        Ok(node) => node,
        Err(fit) => {
            let mut message = fit.to_string();
            // The nomination to record: kept (None), a node, or cleared
            // (Some("")) when preemption ran and found nothing.
            let mut nominated: Option<String> = None;
            let unresolvable = fit.pre_filter.as_ref().is_some_and(|s| s.code() != Code::Unschedulable);
            if framework.has_post_filter() && !unresolvable {
                shared.metrics.preemption_attempts.inc();
                let (result, status) = framework.run_post_filter(&state, &pod, nodes, &fit.rejected);
                match result.filter(|_| status.is_success()) {
                    Some(result) => {
                        nominated = result.nominated_node_name.clone();
                        shared.metrics.preemption_victims.observe(result.victims.len() as f64);
                        preempt(shared, &pod, nominated.as_deref().unwrap_or_default(), result.victims).await;
                    }
                    // DefaultPreemption's reason starts with "preemption: ", as kube's.
                    None => {
                        message = format!("{message} {}", status.reasons().join(", "));
                        nominated = Some(String::new());
                    }
                }
            }
            let result = if fit.pre_filter.as_ref().is_some_and(|s| s.code() == Code::Error) {
                "error"
            } else {
                "unschedulable"
            };
            shared.metrics.attempt(result, &profile, began.elapsed().as_secs_f64());
            match nominated.as_deref() {
                Some("") => lock(&shared.nominator).remove(&key),
                Some(node) => lock(&shared.nominator).set(pod.clone(), Some(node)),
                None => {}
            }
            if result == "error" {
                shared.queue.add_backoff(info);
            } else {
                shared.queue.add_unschedulable(info, cycle);
            }
            let shared = shared.clone();
            bindings.spawn(async move {
                report_failure(&shared, &pod, "Unschedulable", &message, nominated.as_deref()).await;
            });
            return;
        }
    };
    // Assume, reserve, permit: then bind in the background.
    if let Err(e) = lock(&shared.cache).assume_pod(pod.clone(), &node) {
        shared.metrics.attempt("error", &profile, began.elapsed().as_secs_f64());
        shared.queue.add_backoff(info);
        tracing::warn!(pod = %key, error = %e, "could not assume the pod");
        return;
    }
    let reserved = framework.run_reserve(&mut state, &pod, &node);
    let reserve_ok = reserved.is_success();
    let (permit, wait) =
        if reserve_ok { framework.run_permit(&state, &pod, &node).await } else { (reserved, Duration::ZERO) };
    if !permit.is_success() && permit.code() != Code::Wait {
        // A failed Reserve has unreserved already; a failed Permit has not.
        if reserve_ok {
            framework.run_unreserve(&mut state, &pod, &node);
        }
        let _ = lock(&shared.cache).forget_pod(&key);
        shared.metrics.attempt("error", &profile, began.elapsed().as_secs_f64());
        shared.queue.add_backoff(info);
        let message = permit.reasons().join(", ");
        let shared = shared.clone();
        bindings.spawn(async move { report_failure(&shared, &pod, "SchedulerError", &message, None).await });
        return;
    }
    shared.metrics.attempt("scheduled", &profile, began.elapsed().as_secs_f64());
    lock(&shared.nominator).remove(&key);
    let framework = framework.clone();
    let shared = shared.clone();
    // A pod held at Permit is registered now, so that an early allow is
    // not lost; it takes a binding slot only once let through.
    let waiter = (permit.code() == Code::Wait).then(|| shared.handle.waiting_pods.register(&key));
    bindings.spawn(async move {
        let mut state = state;
        let mut status = crate::framework::Status::success();
        if let Some(waiter) = waiter {
            status = waiter.wait(wait).await;
        }
        let _slot = shared.binding_slots.clone().acquire_owned().await;
        if status.is_success() {
            status = framework.run_pre_bind(&state, &pod, &node).await;
        }
        if status.is_success() {
            status = framework.run_bind(&state, &pod, &node).await;
        }
        if status.is_success() {
            shared.queue.done(&key);
            framework.run_post_bind(&state, &pod, &node).await;
            let elapsed = info.initial_attempt_timestamp.elapsed().as_secs_f64();
            shared.metrics.e2e_duration.observe(elapsed);
            let message = format!("Successfully assigned {key} to {node}");
            shared.events.send(reference_to(&*pod.pod), EventType::Normal, "Scheduled", message);
            return;
        }
        framework.run_unreserve(&mut state, &pod, &node);
        let _ = lock(&shared.cache).forget_pod(&key);
        shared.queue.add_backoff(info);
        shared.queue.move_all_to_active_or_backoff();
        let message = status.reasons().join(", ");
        report_failure(&shared, &pod, "SchedulerError", &message, None).await;
    });
}

/// Filter and score, trying a nominated node first (kube-scheduler's
/// `schedulePod` with `evaluateNominatedNode`).
fn decide(
    framework: &Framework,
    state: &mut CycleState,
    pod: &PodInfo,
    nodes: &[Arc<NodeInfo>],
    index: &crate::framework::NodeIndex<'_>,
    start: &mut usize,
) -> Result<String, FitError> {
    let nominated = pod.pod.status.as_ref().and_then(|s| s.nominated_node_name.as_deref()).filter(|n| !n.is_empty());
    if let Some(name) = nominated
        && let Some(node) = nodes.iter().find(|n| n.name() == name)
    {
        let mut trial = CycleState::new();
        if framework.run_pre_filter(&mut trial, pod, nodes).is_ok()
            && framework.run_filters(&trial, pod, node).is_success()
        {
            *state = trial;
            return Ok(name.to_owned());
        }
    }
    let feasible = framework.find_feasible_indexed(state, pod, nodes, Some(index), start)?;
    if feasible.nodes.len() == 1 {
        return Ok(feasible.nodes[0].name().to_owned());
    }
    let scores = framework.score(state, pod, &feasible.nodes, nodes).map_err(|status| FitError {
        num_all_nodes: nodes.len(),
        pre_filter: Some(status),
        rejected: Vec::new(),
    })?;
    Ok(scores.best().map(|n| n.to_string()).unwrap_or_default())
}

/// Makes room for `pod` on `node`: marks each victim with the
/// DisruptionTarget condition, deletes it (with a `Preempted` event), and
/// takes the nomination from lower-priority pods nominated there.
async fn preempt(shared: &Shared, pod: &PodInfo, node: &str, victims: Vec<Arc<PodInfo>>) {
    let preemptor = pod.key();
    let priority = pod.pod.spec.priority.unwrap_or(0);
    let displaced: Vec<Arc<PodInfo>> = lock(&shared.nominator)
        .by_node
        .get(node)
        .map(|pods| pods.iter().filter(|p| p.pod.spec.priority.unwrap_or(0) < priority).cloned().collect())
        .unwrap_or_default();
    for other in displaced {
        lock(&shared.nominator).remove(&other.key());
        let pods: Api<Pod> = Api::with_client(shared.api.clone(), Some(other.pod.metadata.namespace.clone()));
        let cleared = pods
            .guaranteed_update_status(&other.pod.metadata.name, |p| {
                if let Some(status) = p.status.as_mut() {
                    status.nominated_node_name = None;
                }
            })
            .await;
        if let Err(e) = cleared {
            tracing::debug!(pod = %other.key(), error = %e, "could not clear a nomination");
        }
    }
    for victim in victims {
        let meta = &victim.pod.metadata;
        let pods: Api<Pod> = Api::with_client(shared.api.clone(), Some(meta.namespace.clone()));
        let marked = pods
            .guaranteed_update_status(&meta.name, |p| {
                let status = p.status.get_or_insert_with(Default::default);
                status.conditions.retain(|c| c.type_ != "DisruptionTarget");
                status.conditions.push(PodCondition {
                    type_: "DisruptionTarget".into(),
                    status: "True".into(),
                    last_probe_time: None,
                    last_transition_time: Some(Time(std::time::SystemTime::now().into())),
                    reason: Some("PreemptionByScheduler".into()),
                    message: Some(format!(
                        "{}: preempting to accommodate a higher priority pod",
                        DEFAULT_SCHEDULER_NAME
                    )),
                });
            })
            .await;
        if let Err(e) = marked {
            tracing::debug!(victim = %victim.key(), error = %e, "could not mark a victim");
        }
        match pods.delete(&meta.name, &DeleteOptions::default()).await {
            Ok(_) => {
                let message = format!("Preempted by pod {preemptor} on node {node}");
                let reference = reference_to(&*victim.pod);
                shared.events.send(reference, EventType::Normal, "Preempted", message);
            }
            Err(e) => tracing::warn!(victim = %victim.key(), error = %e, "preemption could not delete a victim"),
        }
    }
}

/// Records FailedScheduling and sets PodScheduled=False and the nominated
/// node (`Some("")`: clears it; `None`: leaves it) on the pod, unless it
/// already says so.
async fn report_failure(shared: &Shared, pod: &PodInfo, reason: &str, message: &str, nominated: Option<&str>) {
    let reference = reference_to(&*pod.pod);
    shared.events.send(reference, EventType::Warning, "FailedScheduling", message.to_owned());
    let meta = &pod.pod.metadata;
    let pods: Api<Pod> = Api::with_client(shared.api.clone(), Some(meta.namespace.clone()));
    let Some(current) = shared.pods.get(&pod.key()) else { return };
    let status = current.status.clone().unwrap_or_default();
    let condition = status.conditions.iter().find(|c| c.type_ == "PodScheduled");
    let same_condition = condition.is_some_and(|c| {
        c.status == "False" && c.reason.as_deref() == Some(reason) && c.message.as_deref() == Some(message)
    });
    let same_nomination = nominated.is_none_or(|n| status.nominated_node_name.as_deref().unwrap_or_default() == n);
    if same_condition && same_nomination {
        return;
    }
    let mut updated = (*current).clone();
    let status = updated.status.get_or_insert_with(Default::default);
    let now = Some(Time(std::time::SystemTime::now().into()));
    let transition = match status.conditions.iter().find(|c| c.type_ == "PodScheduled") {
        Some(c) if c.status == "False" => c.last_transition_time,
        _ => now,
    };
    status.conditions.retain(|c| c.type_ != "PodScheduled");
    status.conditions.push(PodCondition {
        type_: "PodScheduled".into(),
        status: "False".into(),
        last_probe_time: None,
        last_transition_time: transition,
        reason: Some(reason.to_owned()),
        message: Some(message.to_owned()),
    });
    if let Some(node) = nominated {
        status.nominated_node_name = Some(node.to_owned()).filter(|n| !n.is_empty());
    }
    if let Err(e) = pods.update_status(&updated).await {
        tracing::debug!(pod = %pod.key(), error = %e, "could not record the PodScheduled condition");
    }
}
