//! Simulated nodes: many node agents on [`FakeRuntime`]s in one process,
//! like kubemark's hollow nodes, for testing a control plane at the scale
//! of thousands of nodes on one machine.
//!
//! Each simulated node is a full [`NodeAgent`] (registration, Lease and
//! status heartbeats, pod workers, probes, status) whose runtime is a
//! [`FakeRuntime`] with its own pod CIDR (`10.<a>.<b>.0/24` from
//! `10.128.0.0/9`). The nodes share one pod watch: a dispatcher hands each
//! pod change to the agent named by the pod's `spec.nodeName`, so 1,000
//! nodes cost one watch, not 1,000. Network probes (httpGet, tcpSocket)
//! succeed, as there is nothing to connect to; exec probes run through the
//! fake runtime's scripts.
//!
//! ```no_run
//! # async fn demo(api: std::sync::Arc<dyn k_store::ObjectApi>) {
//! let nodes = k_node::sim::SimulatedNodes::new(api, 100);
//! nodes.run(std::future::pending()).await;
//! # }
//! ```

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use k_api_types::core::v1::{Container, Pod, Probe};
use k_netplugin::cri::RuntimeService;
use k_netplugin::cri::fake::{FakeRuntime, Script, SystemClock};
use k_runtime::informer::InformerFactory;
use k_runtime::reflector::Change;
use k_store::ObjectApi;
use tokio::sync::{mpsc, watch};

use crate::agent::NodeAgent;
use crate::config::NodeConfig;
use crate::probes::{ProbeOutcome, Prober};

/// A prober for simulated pods: exec probes through the runtime (the fake
/// runtime's scripts answer), network probes always pass.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimulatedProber;

#[async_trait]
impl Prober for SimulatedProber {
    async fn probe(
        &self,
        probe: &Probe,
        _container: &Container,
        container_id: &str,
        _pod_ip: Option<IpAddr>,
        runtime: &dyn RuntimeService,
    ) -> ProbeOutcome {
        let Some(exec) = &probe.exec else { return ProbeOutcome::Success };
        let timeout = crate::probes::ProbeState::timeout(probe);
        match runtime.exec_sync(container_id, &exec.command, timeout).await {
            Ok(r) if r.exit_code == 0 => ProbeOutcome::Success,
            Ok(r) => ProbeOutcome::Failure(format!("command {:?} exited with {}", exec.command, r.exit_code)),
            Err(e) => ProbeOutcome::Failure(format!("exec failed: {e}")),
        }
    }
}

/// Builds the fake runtime of each simulated node.
pub type RuntimeFactory = Arc<dyn Fn(&str, &str) -> FakeRuntime + Send + Sync>;

type ConfigHook = Arc<dyn Fn(&mut NodeConfig) + Send + Sync>;
type StartHook = Arc<dyn Fn(&NodeAgent) + Send + Sync>;

/// A set of simulated nodes (see the [module documentation](self)).
pub struct SimulatedNodes {
    api: Arc<dyn ObjectApi>,
    names: Vec<String>,
    runtime: RuntimeFactory,
    sync_period: Duration,
    events: bool,
    configure: Option<ConfigHook>,
    on_start: Option<StartHook>,
}

impl std::fmt::Debug for SimulatedNodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatedNodes").field("nodes", &self.names.len()).finish_non_exhaustive()
    }
}

/// The pod CIDR of simulated node number `i`: `10.<128 + i / 256>.<i % 256>.0/24`.
pub fn pod_cidr(i: usize) -> String {
    format!("10.{}.{}.0/24", 128 + (i / 256) % 128, i % 256)
}

impl SimulatedNodes {
    /// `count` nodes named `sim-node-<i>` (from 0), each with the
    /// capacity of [`NodeConfig::simulated`], a fake runtime whose
    /// containers run until stopped, and events on.
    pub fn new(api: Arc<dyn ObjectApi>, count: usize) -> Self {
        Self::named(api, (0..count).map(|i| format!("sim-node-{i}")).collect())
    }

    /// Nodes with the given names.
    pub fn named(api: Arc<dyn ObjectApi>, names: Vec<String>) -> Self {
        SimulatedNodes {
            api,
            names,
            runtime: Arc::new(|_, cidr| FakeRuntime::new(SystemClock).with_pod_cidr(cidr)),
            sync_period: Duration::from_secs(1),
            events: true,
            configure: None,
            on_start: None,
        }
    }

    /// Builds each node's runtime with `factory(node name, pod CIDR)`
    /// (scripts for images, start delays, failures).
    #[must_use]
    pub fn with_runtime(mut self, factory: impl Fn(&str, &str) -> FakeRuntime + Send + Sync + 'static) -> Self {
        self.runtime = Arc::new(factory);
        self
    }

    /// Every container of every node behaves as `script` (unless the
    /// runtime factory says otherwise).
    #[must_use]
    pub fn with_default_script(self, script: Script) -> Self {
        self.with_runtime(move |_, cidr| {
            FakeRuntime::new(SystemClock).with_pod_cidr(cidr).with_default_script(script.clone())
        })
    }

    /// Changes each node's configuration before it starts.
    #[must_use]
    pub fn configure(mut self, f: impl Fn(&mut NodeConfig) + Send + Sync + 'static) -> Self {
        self.configure = Some(Arc::new(f));
        self
    }

    /// Calls `f` with each agent before it starts (to register its
    /// [`logs`](NodeAgent::logs) with the API server, for example).
    #[must_use]
    pub fn on_start(mut self, f: impl Fn(&NodeAgent) + Send + Sync + 'static) -> Self {
        self.on_start = Some(Arc::new(f));
        self
    }

    /// The pod sync period of every agent (1 s).
    #[must_use]
    pub fn with_sync_period(mut self, period: Duration) -> Self {
        self.sync_period = period;
        self
    }

    /// Whether the agents record Events (on).
    #[must_use]
    pub fn with_events(mut self, on: bool) -> Self {
        self.events = on;
        self
    }

    /// The nodes' names.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Runs every node until `shutdown` completes.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send) {
        let factory = InformerFactory::new(self.api.clone(), k_runtime::watcher::Config::default());
        let informer = factory.informer::<Pod>(None, None, None);
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut routes: HashMap<String, mpsc::UnboundedSender<Change<Pod>>> = HashMap::new();
        let mut agents = Vec::new();
        for (i, name) in self.names.iter().enumerate() {
            let cidr = pod_cidr(i);
            let runtime = Arc::new((self.runtime)(name, &cidr));
            let mut config = NodeConfig::simulated(name.clone());
            config.pod_cidr = Some(cidr);
            config.root_dir = std::env::temp_dir().join("k-sim-nodes").join(name);
            config
                .addresses
                .push(("InternalIP".into(), format!("172.{}.{}.{}", 16 + (i >> 16) % 16, (i >> 8) % 256, i % 256)));
            if let Some(f) = &self.configure {
                f(&mut config);
            }
            let agent = NodeAgent::new(self.api.clone(), runtime.clone(), runtime, config)
                .with_prober(Arc::new(SimulatedProber))
                .with_sync_period(self.sync_period)
                .with_events(self.events);
            if let Some(f) = &self.on_start {
                f(&agent);
            }
            let (tx, rx) = mpsc::unbounded_channel();
            routes.insert(name.clone(), tx);
            let mut stop = stop_rx.clone();
            let pods = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) }).boxed();
            agents.push(tokio::spawn(agent.run_with_pods(pods, async move {
                let _ = stop.changed().await;
            })));
        }
        let mut changes = informer.subscribe().boxed();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                change = changes.next() => {
                    let Some(change) = change else { break };
                    let node = match &change {
                        Change::Added(p) | Change::Deleted(p) | Change::Updated { new: p, .. } => p.spec.node_name.clone(),
                    };
                    if let Some(tx) = node.and_then(|n| routes.get(&n)) {
                        let _ = tx.send(change);
                    }
                }
            }
        }
        let _ = stop_tx.send(true);
        for agent in agents {
            let _ = agent.await;
        }
        factory.shutdown();
    }
}
