//! Node agent benchmarks: pod startup latency and the cost of heartbeats.
//!
//! ```text
//! cargo run --release --example node-perf -- startup                  # 1,000 pods on 100 simulated nodes
//! sudo cargo run --release --example node-perf -- process             # 20 pods on the process runtime (root, CNI plugins)
//! cargo run --release --example node-perf -- heartbeat                # 1,000 simulated nodes for 5 minutes
//! ```
//!
//! Each run starts the control plane (an in-memory store, k-apiserver on
//! localhost over HTTP and, for the startup runs, k-scheduler) as a child
//! process, so that its CPU and memory are measured apart from the nodes';
//! the nodes run in this process and talk to it over HTTP, as kubelets do.
//!
//! Startup latency is Kubernetes' pod startup SLI: from the pod's creation
//! (the create request sent) to the pod seen Running and Ready through a
//! watch, scheduling included; the SLO is p99 ≤ 5 s.

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use futures::StreamExt;
use k_api_types::Resource;
use k_api_types::core::v1::{Namespace, Pod};
use k_apiserver::{ApiServer, ServerConfig};
use k_examples::perf::{ChildProcess, cpu_seconds_of, percentile, stdin_closed, wait_nodes};
use k_runtime::reflector::Change;
use k_store::remote::{RemoteApi, RemoteConfig};
use k_store::{Api, ObjectApi, Store};
use serde_json::json;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "node-perf", about = "k-node benchmarks: pod startup latency, heartbeat cost")]
struct Options {
    #[command(subcommand)]
    command: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Pod startup latency on simulated nodes.
    Startup {
        /// Simulated nodes.
        #[arg(long, default_value_t = 100)]
        nodes: usize,
        /// Pods to create.
        #[arg(long, default_value_t = 1000)]
        pods: usize,
        /// Pods created per second.
        #[arg(long, default_value_t = 100.0)]
        qps: f64,
    },
    /// Pod startup latency on the process runtime (root).
    Process {
        /// Pods to create.
        #[arg(long, default_value_t = 20)]
        pods: usize,
        /// Where the reference CNI plugins are.
        #[arg(long, default_value = "/usr/lib/cni")]
        cni_bin_dir: std::path::PathBuf,
    },
    /// API server and store cost of simulated nodes heartbeating.
    Heartbeat {
        /// Simulated nodes.
        #[arg(long, default_value_t = 1000)]
        nodes: usize,
        /// Seconds to measure (after every node registered).
        #[arg(long, default_value_t = 300)]
        seconds: u64,
    },
    /// (internal) The control plane: prints its address, serves until
    /// stdin closes.
    #[command(hide = true)]
    Serve {
        /// Run the scheduler too.
        #[arg(long)]
        scheduler: bool,
    },
}

fn main() {
    let options = Options::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let result = runtime.block_on(async {
        match options.command {
            Mode::Serve { scheduler } => serve(scheduler).await,
            Mode::Startup { nodes, pods, qps } => startup(nodes, pods, qps).await,
            Mode::Process { pods, cni_bin_dir } => process(pods, cni_bin_dir).await,
            Mode::Heartbeat { nodes, seconds } => heartbeat(nodes, seconds).await,
        }
    });
    if let Err(e) = result {
        eprintln!("node-perf: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------
// The control plane, in a child process
// ---------------------------------------------------------------------------

async fn serve(with_scheduler: bool) -> Result<(), String> {
    let store = Store::in_memory();
    let api: Arc<dyn ObjectApi> = Arc::new(store.clone());
    let namespaces: Api<Namespace> = Api::all(store.clone());
    for name in ["default", "kube-system", "kube-node-lease"] {
        namespaces.create(&Namespace::named(name)).await.map_err(|e| e.to_string())?;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let server = ApiServer::new(
        api.clone(),
        ServerConfig { external_address: addr.to_string(), max_requests_inflight: 4000, ..ServerConfig::default() },
    );
    let scheduler = if with_scheduler {
        let scheduler =
            k_scheduler::scheduler::Scheduler::new(api, k_scheduler::scheduler::SchedulerOptions::default())?;
        Some(tokio::spawn(scheduler.run(futures::future::pending())))
    } else {
        None
    };
    println!("listening on {addr}");
    server.serve(listener, stdin_closed()).await.map_err(|e| e.to_string())?;
    if let Some(s) = scheduler {
        s.abort();
    }
    Ok(())
}

/// The control plane child: its address and a handle to measure it.
struct ControlPlane {
    child: ChildProcess,
    url: String,
}

impl ControlPlane {
    fn start(scheduler: bool) -> Result<ControlPlane, String> {
        let child = ChildProcess::start(if scheduler { &["serve", "--scheduler"] } else { &["serve"] })?;
        let line = &child.first_line;
        let addr = line.strip_prefix("listening on ").ok_or_else(|| format!("unexpected: {line:?}"))?;
        Ok(ControlPlane { url: format!("http://{addr}"), child })
    }

    async fn client(&self) -> Result<Arc<dyn ObjectApi>, String> {
        let api = RemoteApi::connect(RemoteConfig::new(self.url.clone())).await.map_err(|e| e.to_string())?;
        Ok(Arc::new(api))
    }

    /// CPU seconds (user + system) so far.
    fn cpu_seconds(&self) -> f64 {
        self.child.cpu_seconds()
    }

    /// Resident memory now and at its peak, in MiB.
    fn memory_mib(&self) -> (u64, u64) {
        self.child.memory_mib()
    }
}

// ---------------------------------------------------------------------------
// Startup latency
// ---------------------------------------------------------------------------

/// When each pod was created, and first seen Running and Ready.
#[derive(Default)]
struct Timeline {
    created: HashMap<String, Instant>,
    running: HashMap<String, Instant>,
    ready: HashMap<String, Instant>,
}

fn is_ready(pod: &Pod) -> bool {
    pod.status.as_ref().is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn is_running(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

/// Records when pods become Running and Ready, from a watch.
fn observe(api: Arc<dyn ObjectApi>, timeline: Arc<Mutex<Timeline>>) -> k_runtime::informer::InformerFactory {
    let factory = k_runtime::informer::InformerFactory::new(api, k_runtime::watcher::Config::default());
    let informer = factory.informer::<Pod>(Some("default"), None, None);
    tokio::spawn(async move {
        let mut changes = informer.subscribe().boxed();
        while let Some(change) = changes.next().await {
            let pod = match change {
                Change::Added(p) | Change::Updated { new: p, .. } => p,
                Change::Deleted(_) => continue,
            };
            let now = Instant::now();
            let mut t = timeline.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if is_running(&pod) {
                t.running.entry(pod.metadata.name.clone()).or_insert(now);
            }
            if is_ready(&pod) {
                t.ready.entry(pod.metadata.name.clone()).or_insert(now);
            }
        }
    });
    factory
}

fn report(label: &str, timeline: &Timeline) -> Result<(), String> {
    for (what, seen) in [("Running", &timeline.running), ("Ready", &timeline.ready)] {
        let mut latencies: Vec<f64> = timeline
            .created
            .iter()
            .filter_map(|(name, created)| seen.get(name).map(|t| t.duration_since(*created).as_secs_f64()))
            .collect();
        latencies.sort_by(f64::total_cmp);
        let missing = timeline.created.len() - latencies.len();
        println!(
            "{label}: created → {what}: {} pods: p50 {:.3} s, p90 {:.3} s, p99 {:.3} s, max {:.3} s{} (SLO: p99 ≤ 5 s: {})",
            latencies.len(),
            percentile(&latencies, 50.0),
            percentile(&latencies, 90.0),
            percentile(&latencies, 99.0),
            latencies.last().copied().unwrap_or(f64::NAN),
            if missing > 0 { format!(", {missing} never") } else { String::new() },
            if missing == 0 && percentile(&latencies, 99.0) <= 5.0 { "met" } else { "NOT met" },
        );
    }
    Ok(())
}

fn pod(name: &str, node: Option<&str>, image: &str, command: &[&str]) -> Result<Pod, String> {
    let mut spec = json!({
        "containers": [{"name": "c", "image": image,
                        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}],
        "terminationGracePeriodSeconds": 2,
    });
    if !command.is_empty() {
        spec["containers"][0]["command"] = json!(command);
    }
    if let Some(node) = node {
        spec["nodeName"] = json!(node);
    }
    serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"}, "spec": spec}))
    .map_err(|e| e.to_string())
}

/// Creates `pods` at `qps`, recording each creation time.
async fn create_pods(
    api: Arc<dyn ObjectApi>,
    pods: Vec<Pod>,
    qps: f64,
    timeline: Arc<Mutex<Timeline>>,
) -> Result<(), String> {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, pod) in pods.into_iter().enumerate() {
        let at = started + Duration::from_secs_f64(i as f64 / qps);
        tokio::time::sleep_until(at.into()).await;
        let api = api.clone();
        let timeline = timeline.clone();
        tasks.spawn(async move {
            let client: Api<Pod> = Api::with_client(api, Some("default".into()));
            let name = pod.metadata.name.clone();
            timeline.lock().unwrap_or_else(std::sync::PoisonError::into_inner).created.insert(name, Instant::now());
            client.create(&pod).await.map(|_| ()).map_err(|e| e.to_string())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| e.to_string())??;
    }
    Ok(())
}

async fn wait_all(timeline: &Arc<Mutex<Timeline>>, count: usize, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if timeline.lock().unwrap_or_else(std::sync::PoisonError::into_inner).ready.len() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts `nodes` simulated nodes against the control plane and waits
/// until they are Ready; the sender stops them, the task ends with them.
async fn simulated_nodes(
    plane: &ControlPlane,
    api: &Arc<dyn ObjectApi>,
    nodes: usize,
    limit: Duration,
) -> Result<(tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>), String> {
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let sim = k_node::sim::SimulatedNodes::new(plane.client().await?, nodes);
    let task = tokio::spawn(sim.run(async move {
        let _ = stopped.wait_for(|s| *s).await;
    }));
    let registering = Instant::now();
    wait_nodes(api, nodes, limit).await?;
    println!("{nodes} simulated nodes registered and Ready in {:.1} s", registering.elapsed().as_secs_f64());
    Ok((stop, task))
}

async fn startup(nodes: usize, pods: usize, qps: f64) -> Result<(), String> {
    let plane = ControlPlane::start(true)?;
    let api = plane.client().await?;
    let (stop, sim_task) = simulated_nodes(&plane, &api, nodes, Duration::from_secs(120)).await?;

    let timeline = Arc::new(Mutex::new(Timeline::default()));
    let watch = observe(plane.client().await?, timeline.clone());
    let list: Vec<Pod> = (0..pods)
        .map(|i| pod(&format!("startup-{i}"), None, "registry.k8s.io/pause:3.10", &[]))
        .collect::<Result<_, _>>()?;
    let (cpu0, started) = (plane.cpu_seconds(), Instant::now());
    create_pods(api.clone(), list, qps, timeline.clone()).await?;
    wait_all(&timeline, pods, Duration::from_secs(600)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = plane.cpu_seconds() - cpu0;
    report(
        &format!("{pods} pods on {nodes} simulated nodes at {qps} pods/s"),
        &timeline.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
    )?;
    let (rss, peak) = plane.memory_mib();
    println!(
        "control plane (store, API server, scheduler) meanwhile: {cpu:.1} CPU s over {elapsed:.1} s = {:.0}% of a core; RSS {rss} MiB (peak {peak} MiB)",
        100.0 * cpu / elapsed
    );
    let _ = stop.send(true);
    drop(watch);
    let _ = sim_task.await;
    Ok(())
}

// ---------------------------------------------------------------------------
// Startup latency on the process runtime
// ---------------------------------------------------------------------------

async fn process(pods: usize, cni_bin_dir: std::path::PathBuf) -> Result<(), String> {
    use k_netplugin::cri::process::{ProcessRuntime, ProcessRuntimeConfig};
    if !cni_bin_dir.join("bridge").is_file() {
        return Err(format!("no CNI bridge plugin in {}: install containernetworking-plugins", cni_bin_dir.display()));
    }
    let plane = ControlPlane::start(true)?;
    let api = plane.client().await?;
    // The bridge plugin turns forwarding on in this namespace; put it back after.
    let forwarding = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap_or_default();
    let root = std::env::temp_dir().join(format!("k-node-perf-{}", std::process::id()));
    let list = json!({"cniVersion": "1.0.0", "name": "k-node-perf", "plugins": [
        {"type": "bridge", "bridge": "kperf0", "isGateway": true,
         "ipam": {"type": "host-local", "dataDir": root.join("ipam"),
                  "ranges": [[{"subnet": "10.245.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}}]});
    let list =
        k_netplugin::types::NetworkConfigList::from_bytes(list.to_string().as_bytes()).map_err(|e| e.to_string())?;
    let executor = k_netplugin::exec::Executor::new(vec![cni_bin_dir], root.join("cni-cache"));
    let images = Arc::new(k_netplugin::cri::image::HostImages::new());
    let mut config = ProcessRuntimeConfig::new(root.join("runtime"), images.clone());
    config.network = Some(k_netplugin::pod::PodNetwork::new(executor, list));
    config.cgroup_root = format!("k-node-perf-{}", std::process::id());
    config.netns_prefix = format!("kperf{}-", std::process::id());
    let runtime = Arc::new(ProcessRuntime::new(config).map_err(|e| format!("the process runtime (root?): {e}"))?);
    let mut node = k_node::NodeConfig::new("perf-node");
    node.root_dir = root.join("agent");
    node.pod_cidr = Some("10.245.0.0/24".into());
    let agent = k_node::NodeAgent::new(plane.client().await?, runtime.clone(), images, node)
        .with_sync_period(Duration::from_millis(500));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut until = stopped.clone();
    let agent_task = tokio::spawn(agent.run(async move {
        let _ = until.wait_for(|s| *s).await;
    }));
    wait_nodes(&api, 1, Duration::from_secs(30)).await?;
    let timeline = Arc::new(Mutex::new(Timeline::default()));
    let watch = observe(plane.client().await?, timeline.clone());
    let list: Vec<Pod> = (0..pods)
        .map(|i| pod(&format!("process-{i}"), None, "host/sleep", &["sleep", "3600"]))
        .collect::<Result<_, _>>()?;
    create_pods(api.clone(), list, 10.0, timeline.clone()).await?;
    wait_all(&timeline, pods, Duration::from_secs(120)).await;
    report(
        &format!("{pods} pods on the process runtime"),
        &timeline.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
    )?;
    // Clean up: delete the pods, let the agent stop them, then the rest.
    let client: Api<Pod> = Api::with_client(api.clone(), Some("default".into()));
    for i in 0..pods {
        let _ = client.delete(&format!("process-{i}"), &Default::default()).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline
        && !client.list(&Default::default()).await.map_err(|e| e.to_string())?.items.is_empty()
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = stop.send(true);
    drop(watch);
    let _ = agent_task.await;
    let _ = runtime.shutdown().await;
    let _ = Command::new("ip").args(["link", "del", "kperf0"]).status();
    if !forwarding.trim().is_empty() {
        let _ = std::fs::write("/proc/sys/net/ipv4/ip_forward", forwarding.trim());
    }
    // The runtime's cgroup root (empty now) under each hierarchy.
    let cgroup_root = format!("k-node-perf-{}", std::process::id());
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
        let _ = std::fs::remove_dir(hierarchy.path().join(&cgroup_root));
    }
    let _ = std::fs::remove_dir(std::path::Path::new("/sys/fs/cgroup").join(&cgroup_root));
    let _ = std::fs::remove_dir_all(&root);
    Ok(())
}

// ---------------------------------------------------------------------------
// Heartbeats
// ---------------------------------------------------------------------------

async fn heartbeat(nodes: usize, seconds: u64) -> Result<(), String> {
    let plane = ControlPlane::start(false)?;
    let api = plane.client().await?;
    let (stop, sim_task) = simulated_nodes(&plane, &api, nodes, Duration::from_secs(300)).await?;
    let own = || cpu_seconds_of("/proc/self/stat");
    let (cpu0, own0, started) = (plane.cpu_seconds(), own(), Instant::now());
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_secs(10).min(Duration::from_secs(seconds))).await;
        let (rss, _) = plane.memory_mib();
        samples.push(rss);
        println!(
            "  {:>4.0} s: control plane {:.1} CPU s so far, RSS {rss} MiB",
            started.elapsed().as_secs_f64(),
            plane.cpu_seconds() - cpu0
        );
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = plane.cpu_seconds() - cpu0;
    let nodes_cpu = own() - own0;
    let (rss, peak) = plane.memory_mib();
    let leases: Api<k_api_types::coordination::v1::Lease> =
        Api::with_client(api.clone(), Some("kube-node-lease".into()));
    let fresh = leases
        .list(&Default::default())
        .await
        .map_err(|e| e.to_string())?
        .items
        .iter()
        .filter(|l| l.spec.renew_time.as_ref().is_some_and(|t| (chrono::Utc::now() - t.0).num_seconds() < 40))
        .count();
    println!(
        "{nodes} simulated nodes heartbeating for {elapsed:.0} s: control plane (store + API server) {cpu:.1} CPU s = {:.1}% of a core; \
         RSS {rss} MiB at the end (peak {peak} MiB, min sampled {} MiB); {fresh} of {nodes} Leases renewed within 40 s; \
         the nodes themselves (this process) {nodes_cpu:.1} CPU s = {:.1}% of a core",
        100.0 * cpu / elapsed,
        samples.iter().min().copied().unwrap_or(rss),
        100.0 * nodes_cpu / elapsed,
    );
    let _ = stop.send(true);
    let _ = sim_task.await;
    Ok(())
}
