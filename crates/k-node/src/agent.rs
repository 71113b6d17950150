//! The node agent: everything a kubelet does for one node, in one task.
//!
//! [`NodeAgent::run`] registers the Node, keeps its Lease and status fresh
//! ([`NodeStatusManager`]), watches the pods bound to the node
//! (`spec.nodeName=<node>`), runs a [worker](crate::pods::worker) per pod,
//! reads the static pods' manifests every 20 s and keeps their mirror pods,
//! and removes from the runtime what belongs to no pod any more
//! (housekeeping, every 10 s once the pods are listed).
//! [`NodeAgent::run_with_pods`] does the same with the pods given as a
//! stream, so that many simulated nodes can share one watch
//! ([`crate::sim`]).
//!
//! ```no_run
//! # async fn demo(api: std::sync::Arc<dyn k_store::ObjectApi>) {
//! use std::sync::Arc;
//! use k_netplugin::cri::fake::{FakeRuntime, Script, SystemClock};
//! use k_node::{NodeAgent, NodeConfig};
//!
//! let runtime = Arc::new(FakeRuntime::new(SystemClock).with_pod_cidr("10.244.1.0/24"));
//! let agent = NodeAgent::new(api, runtime.clone(), runtime, NodeConfig::simulated("node-1"));
//! agent.run(std::future::pending()).await;
//! # }
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k_api_types::core::v1::Pod;
use k_api_types::quantity::Quantity;
use k_netplugin::cri::fake::{Clock as WallClock, SystemClock};
use k_netplugin::cri::{ImageService, PodSandboxFilter, RuntimeService};
use k_runtime::events::Recorder;
use k_runtime::informer::InformerFactory;
use k_runtime::reflector::{Change, Store};
use k_store::ObjectApi;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::config::NodeConfig;
use crate::logs::NodeLogs;
use crate::node::NodeStatusManager;
use crate::pods::actions::POD_UID_LABEL;
use crate::pods::worker::{PodSource, PodWorker, WorkerHandle, WorkerInput, remove_runtime_pod};
use crate::probes::{NetworkProber, Prober};
use crate::static_pods;
use crate::volumes::VolumeManager;

/// How often static pod manifests are re-read.
pub const STATIC_POD_PERIOD: Duration = Duration::from_secs(20);
/// How often the runtime is checked for pods no longer wanted.
pub const HOUSEKEEPING_PERIOD: Duration = Duration::from_secs(10);

/// What every worker of one agent shares.
pub(crate) struct Context {
    pub(crate) api: Arc<dyn ObjectApi>,
    pub(crate) runtime: Arc<dyn RuntimeService>,
    pub(crate) images: Arc<dyn ImageService>,
    pub(crate) prober: Arc<dyn Prober>,
    pub(crate) volumes: VolumeManager,
    pub(crate) clock: Arc<dyn WallClock>,
    pub(crate) sync_period: Duration,
    pub(crate) host_ips: Vec<String>,
    pub(crate) allocatable: BTreeMap<String, String>,
    pub(crate) node_memory: u64,
    pub(crate) log_root: PathBuf,
    pub(crate) events: Option<Arc<Recorder>>,
}

/// A node agent (see the [module documentation](self)).
pub struct NodeAgent {
    api: Arc<dyn ObjectApi>,
    runtime: Arc<dyn RuntimeService>,
    images: Arc<dyn ImageService>,
    config: NodeConfig,
    prober: Arc<dyn Prober>,
    clock: Arc<dyn WallClock>,
    sync_period: Duration,
    events: bool,
    host_pressure: bool,
}

impl std::fmt::Debug for NodeAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeAgent").field("node", &self.config.name).finish_non_exhaustive()
    }
}

impl NodeAgent {
    /// An agent for the node `config` describes, running pods through
    /// `runtime` with images from `images`, talking to the API through
    /// `api`. Defaults: probes through [`NetworkProber`], the system
    /// clock, a 1 s sync period, events on.
    pub fn new(
        api: Arc<dyn ObjectApi>,
        runtime: Arc<dyn RuntimeService>,
        images: Arc<dyn ImageService>,
        config: NodeConfig,
    ) -> Self {
        NodeAgent {
            api,
            runtime,
            images,
            config,
            prober: Arc::new(NetworkProber::new()),
            clock: Arc::new(SystemClock),
            sync_period: Duration::from_secs(1),
            events: true,
            host_pressure: false,
        }
    }

    /// Probes (and exec/http hooks) through `prober`.
    #[must_use]
    pub fn with_prober(mut self, prober: Arc<dyn Prober>) -> Self {
        self.prober = prober;
        self
    }

    /// Reads the wall time from `clock` (timestamps, back-offs, probe
    /// schedules); waits still go through tokio's timer, so a test pauses
    /// tokio's time and uses [`TokioClock`](k_netplugin::cri::fake::TokioClock).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn WallClock>) -> Self {
        self.clock = clock;
        self
    }

    /// How often each pod is synced when nothing happens (1 s).
    #[must_use]
    pub fn with_sync_period(mut self, period: Duration) -> Self {
        self.sync_period = period;
        self
    }

    /// Whether to record Events (Pulling, Created, Started, Killing,
    /// Unhealthy, …); on by default.
    #[must_use]
    pub fn with_events(mut self, on: bool) -> Self {
        self.events = on;
        self
    }

    /// Reports the host's memory, disk and PID pressure (a real node).
    #[must_use]
    pub fn with_host_pressure(mut self) -> Self {
        self.host_pressure = true;
        self
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Reads this node's container logs (for the API server's `pods/log`).
    pub fn logs(&self) -> NodeLogs {
        NodeLogs::new(self.runtime.clone())
    }

    /// This node's resource use (for a metrics source such as the HPA's).
    pub fn stats(&self) -> crate::stats::NodeStats {
        crate::stats::NodeStats::new(self.runtime.clone())
    }

    fn context(&self) -> Arc<Context> {
        let config = &self.config;
        let host_ips: Vec<String> = config
            .addresses
            .iter()
            .filter(|(t, _)| t == "InternalIP" || t == "ExternalIP")
            .map(|(_, a)| a.clone())
            .collect();
        let allocatable = config.allocatable();
        let node_memory = config
            .capacity
            .get("memory")
            .and_then(|m| m.parse::<Quantity>().ok())
            .map_or(0, |q| u64::try_from(q.as_bytes()).unwrap_or(0));
        Arc::new(Context {
            api: self.api.clone(),
            runtime: self.runtime.clone(),
            images: self.images.clone(),
            prober: self.prober.clone(),
            volumes: VolumeManager::new(self.api.clone(), config.root_dir.clone()),
            clock: self.clock.clone(),
            sync_period: self.sync_period,
            host_ips,
            allocatable,
            node_memory,
            log_root: config.root_dir.join("logs"),
            events: self.events.then(|| Arc::new(Recorder::new(self.api.clone(), "kubelet", config.name.clone()))),
        })
    }

    /// Runs the node until `shutdown` completes, watching its own pods.
    /// At shutdown the pods keep running in the runtime (as when a kubelet
    /// restarts); a new agent picks them up.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send) {
        let factory = InformerFactory::new(self.api.clone(), k_runtime::watcher::Config::default());
        let selector = format!("spec.nodeName={}", self.config.name);
        let informer = factory.informer::<Pod>(None, None, Some(&selector));
        let store = informer.store();
        self.run_inner(informer.subscribe().boxed(), Some(store), shutdown).await;
        factory.shutdown();
    }

    /// Runs the node with its pods coming from `pods` (changes of the pods
    /// bound to it; others are ignored) until `shutdown` completes.
    /// Housekeeping needs the full list and is off here.
    pub async fn run_with_pods(
        self,
        pods: impl Stream<Item = Change<Pod>> + Send + Unpin,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) {
        self.run_inner(pods, None, shutdown).await;
    }

    async fn run_inner(
        self,
        mut pods: impl Stream<Item = Change<Pod>> + Send + Unpin,
        listed: Option<Store<Pod>>,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) {
        tokio::pin!(shutdown);
        let name = self.config.name.clone();
        let mut status = NodeStatusManager::new(self.api.clone(), self.config.clone(), self.runtime.clone());
        if self.host_pressure {
            status = status.with_host_pressure();
        }
        // Register, retrying until the API answers.
        let mut wait = Duration::from_millis(200);
        loop {
            match status.register().await {
                Ok(_) => break,
                Err(e) => {
                    warn!(node = %name, error = %e, "cannot register the node; retrying");
                    tokio::select! {
                        () = &mut shutdown => return,
                        () = tokio::time::sleep(wait) => {}
                    }
                    wait = (wait * 2).min(Duration::from_secs(7));
                }
            }
        }
        info!(node = %name, "node registered");
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut heartbeat_stop = stop_rx.clone();
        let heartbeat = tokio::spawn(status.run(async move {
            let _ = heartbeat_stop.changed().await;
        }));

        let ctx = self.context();
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<String>();
        let mut workers: HashMap<String, WorkerHandle> = HashMap::new();
        // Pods whose worker finished (deleted by it) but whose deletion the
        // watch has not reported yet: not started again.
        let mut finished: HashSet<String> = HashSet::new();
        let mut statics: BTreeMap<String, Arc<Pod>> = BTreeMap::new();
        let mut static_tick = tokio::time::interval(STATIC_POD_PERIOD);
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING_PERIOD);
        for tick in [&mut static_tick, &mut housekeeping] {
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        }
        let manifests = self.config.pod_manifest_path.clone();

        loop {
            tokio::select! {
                () = &mut shutdown => break,
                change = pods.next() => {
                    let Some(change) = change else { break };
                    match change {
                        Change::Added(pod) | Change::Updated { new: pod, .. } => {
                            if pod.spec.node_name.as_deref() != Some(name.as_str()) || static_pods::is_mirror(&pod) {
                                continue;
                            }
                            let uid = pod.metadata.uid.clone();
                            if let Some(worker) = workers.get(&uid) {
                                let _ = worker.tx.send(WorkerInput::Update(pod));
                            } else if !finished.contains(&uid) {
                                debug!(node = %name, pod = %uid, "starting a pod worker");
                                let handle = PodWorker::spawn(ctx.clone(), pod, PodSource::Api, done_tx.clone(), stop_rx.clone());
                                workers.insert(uid, handle);
                            }
                        }
                        Change::Deleted(pod) => {
                            let uid = &pod.metadata.uid;
                            finished.remove(uid);
                            if let Some(worker) = workers.get(uid) {
                                let _ = worker.tx.send(WorkerInput::Removed);
                            }
                        }
                    }
                }
                Some(uid) = done_rx.recv() => {
                    if workers.remove(&uid).is_some() && !statics.values().any(|p| p.metadata.uid == uid) {
                        finished.insert(uid);
                    }
                }
                _ = static_tick.tick(), if manifests.is_some() => {
                    let Some(dir) = &manifests else { continue };
                    self.sync_static(dir, &ctx, &mut statics, &mut workers, &done_tx, &stop_rx).await;
                }
                _ = housekeeping.tick(), if listed.as_ref().is_some_and(Store::is_synced) => {
                    let wanted: HashSet<String> = workers.keys().cloned().collect();
                    if let Err(e) = self.housekeeping(&wanted).await {
                        warn!(node = %name, error = %e, "housekeeping");
                    }
                }
            }
        }
        let _ = stop_tx.send(true);
        let _ = heartbeat.await;
    }

    async fn sync_static(
        &self,
        dir: &std::path::Path,
        ctx: &Arc<Context>,
        statics: &mut BTreeMap<String, Arc<Pod>>,
        workers: &mut HashMap<String, WorkerHandle>,
        done: &mpsc::UnboundedSender<String>,
        stop: &watch::Receiver<bool>,
    ) {
        let (pods, problems) = static_pods::read_manifests(dir, &self.config.name);
        for p in problems {
            warn!(node = %self.config.name, problem = ?p, "static pod manifest");
        }
        // Gone or changed manifests: their pods stop (a changed manifest
        // has a new uid, so it starts as a new pod).
        for (key, old) in statics.iter() {
            if pods.get(key).is_none_or(|p| p.metadata.uid != old.metadata.uid)
                && let Some(worker) = workers.get(&old.metadata.uid)
            {
                let _ = worker.tx.send(WorkerInput::Removed);
            }
        }
        statics.retain(|key, old| pods.get(key).is_some_and(|p| p.metadata.uid == old.metadata.uid));
        for (key, pod) in &pods {
            if !statics.contains_key(key) {
                let pod = Arc::new(pod.clone());
                let handle = PodWorker::spawn(ctx.clone(), pod.clone(), PodSource::Static, done.clone(), stop.clone());
                workers.insert(pod.metadata.uid.clone(), handle);
                statics.insert(key.clone(), pod);
            }
        }
        if let Err(e) = static_pods::sync_mirrors(self.api.clone(), &self.config.name, &pods).await {
            warn!(node = %self.config.name, error = %e, "syncing mirror pods");
        }
    }

    /// Removes the runtime's pods that no worker owns.
    async fn housekeeping(&self, wanted: &HashSet<String>) -> k_netplugin::cri::CriResult<()> {
        let sandboxes = self.runtime.list_pod_sandbox(&PodSandboxFilter::default()).await?;
        let orphans: HashSet<&String> =
            sandboxes.iter().filter_map(|s| s.labels.get(POD_UID_LABEL)).filter(|uid| !wanted.contains(*uid)).collect();
        for uid in orphans {
            info!(node = %self.config.name, pod = %uid, "removing a pod that is no longer bound here");
            remove_runtime_pod(self.runtime.as_ref(), uid, Duration::from_secs(2)).await?;
            let _ = VolumeManager::new(self.api.clone(), self.config.root_dir.clone()).cleanup(uid);
        }
        Ok(())
    }
}
