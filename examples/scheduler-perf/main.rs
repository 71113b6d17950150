//! Scheduler throughput and memory, shaped like kube-scheduler's
//! scheduler_perf workloads.
//!
//! ```text
//! cargo run --release --example scheduler-perf -- basic              # 5,000 nodes, 1,000 running, 10,000 pods
//! cargo run --release --example scheduler-perf -- basic --e2e        # the same through k-apiserver over HTTP
//! cargo run --release --example scheduler-perf -- daemonset          # 15,000 nodes, one pinned pod per node
//! cargo run --release --example scheduler-perf -- spread             # 5,000 nodes, zone spreading (maxSkew 1)
//! cargo run --release --example scheduler-perf -- memory             # bytes per node in the scheduler's cache
//! ```
//!
//! In-process runs use the default profile's framework over the nodes
//! (filter, score, place: what the simulator does), excluding workload
//! generation. `--e2e` starts an in-memory k-apiserver on localhost, loads
//! the nodes and pods over HTTP, then starts the scheduler as an HTTP client
//! and times it from start (informer lists included) until every pending
//! pod is bound (binding writes and events included).

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use k_api_types::core::v1::{Node, Pod};
use k_apiserver::{ApiServer, ServerConfig};
use k_scheduler::cache::{Cache, Snapshot};
use k_scheduler::framework::registry::Registry;
use k_scheduler::scheduler::{Scheduler, SchedulerOptions};
use k_scheduler::simulator::{Scenario, simulate_with};
use k_store::remote::{RemoteApi, RemoteConfig};
use k_store::{Api, ObjectApi, Store};
use serde_json::{Value, json};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Workload {
    /// SchedulingBasic: pods of 100m / 500 MiB.
    Basic,
    /// A DaemonSet-like workload: each pod pinned to its node by node affinity.
    Daemonset,
    /// Pods spread across zones (DoNotSchedule, maxSkew 1).
    Spread,
    /// Bytes of scheduler cache per node (each node with 10 pods).
    Memory,
}

#[derive(Debug, Parser)]
#[command(name = "scheduler-perf", about = "k-scheduler throughput and memory (scheduler_perf-like)")]
struct Options {
    /// The workload.
    workload: Workload,
    /// Nodes (default: 15,000 for daemonset, else 5,000).
    #[arg(long)]
    nodes: Option<usize>,
    /// Pods already running (spread over the nodes).
    #[arg(long, default_value_t = 1000)]
    running: usize,
    /// Pods to schedule (default: one per node for daemonset, else 10,000).
    #[arg(long)]
    pods: Option<usize>,
    /// Through k-apiserver over HTTP instead of in process.
    #[arg(long)]
    e2e: bool,
    /// Cores filtering one pod's nodes (KubeSchedulerConfiguration's
    /// `parallelism`; default 1).
    #[arg(long, default_value_t = 1)]
    parallelism: u32,
}

fn node(i: usize) -> Value {
    let name = format!("node-{i}");
    json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": format!("zone-{}", i % 10)}},
        "status": {"allocatable": {"cpu": "4", "memory": "32Gi", "pods": "110"},
                   "capacity": {"cpu": "4", "memory": "32Gi", "pods": "110"}}})
}

fn pod(name: &str, workload: Workload, index: usize, node: Option<String>) -> Value {
    let mut spec = json!({"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
        "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}}}]});
    let mut labels = json!({"app": "perf"});
    match workload {
        Workload::Daemonset if node.is_none() => {
            spec["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [format!("node-{index}")]}]}]}}});
        }
        Workload::Spread if node.is_none() => {
            labels = json!({"app": "spread"});
            spec["topologySpreadConstraints"] = json!([{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "spread"}}}]);
        }
        _ => {}
    }
    if let Some(node) = node {
        spec["nodeName"] = node.into();
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default", "labels": labels}, "spec": spec})
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn workload(options: &Options) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    let nodes_n = options.nodes.unwrap_or(if options.workload == Workload::Daemonset { 15_000 } else { 5_000 });
    let pods_n = options.pods.unwrap_or(if options.workload == Workload::Daemonset { nodes_n } else { 10_000 });
    let nodes = (0..nodes_n).map(node).collect();
    let running = (0..options.running)
        .map(|i| pod(&format!("running-{i}"), options.workload, i, Some(format!("node-{}", i % nodes_n))))
        .collect();
    let pending = (0..pods_n).map(|i| pod(&format!("pod-{i}"), options.workload, i, None)).collect();
    (nodes, running, pending)
}

fn in_process(options: &Options) -> Result<(), String> {
    let (nodes, running, pending) = workload(options);
    let (n, p) = (nodes.len(), pending.len());
    let mut pods = running;
    pods.extend(pending);
    let scenario: Scenario =
        serde_json::from_value(json!({"nodes": nodes, "pods": pods, "parallelism": options.parallelism}))
            .map_err(|e| e.to_string())?;
    let before = rss_bytes();
    let outcome = simulate_with(&scenario, &Registry::builtin(), false)?;
    println!(
        "{:?} in process: {n} nodes, {p} pods: {} scheduled in {:.3} s = {:.0} pods/s (RSS {} MiB, +{} MiB while scheduling)",
        options.workload,
        outcome.scheduled(),
        outcome.elapsed.as_secs_f64(),
        outcome.pods_per_second(),
        rss_bytes() >> 20,
        rss_bytes().saturating_sub(before) >> 20
    );
    if options.workload == Workload::Spread {
        let mut zones = std::collections::BTreeMap::<String, usize>::new();
        for decision in &outcome.decisions {
            if let Some(node) = &decision.node {
                let i: usize = node.trim_start_matches("node-").parse().unwrap_or(0);
                *zones.entry(format!("zone-{}", i % 10)).or_default() += 1;
            }
        }
        println!("pods per zone: {zones:?}");
    }
    Ok(())
}

fn memory(options: &Options) {
    let nodes_n = options.nodes.unwrap_or(5_000);
    let nodes: Vec<Node> = (0..nodes_n).map(|i| serde_json::from_value(node(i)).unwrap()).collect();
    let pods: Vec<Pod> = (0..nodes_n * 10)
        .map(|i| {
            serde_json::from_value(pod(&format!("p-{i}"), Workload::Basic, i, Some(format!("node-{}", i % nodes_n))))
                .unwrap()
        })
        .collect();
    let before = rss_bytes();
    let mut cache = Cache::new();
    for n in nodes {
        cache.add_node(n);
    }
    for p in pods {
        cache.add_pod(p);
    }
    let mut snapshot = Snapshot::default();
    cache.update_snapshot(&mut snapshot);
    let used = rss_bytes().saturating_sub(before);
    println!(
        "memory: {nodes_n} nodes with 10 pods each in the cache and its snapshot: {} MiB = {} KiB per node (pods included)",
        used >> 20,
        used / nodes_n as u64 / 1024
    );
    drop((cache, snapshot));
}

async fn create_all(api: Arc<dyn ObjectApi>, objects: Vec<Value>) -> Result<(), String> {
    let chunks: Vec<Vec<Value>> = objects.chunks(objects.len().div_ceil(32).max(1)).map(<[Value]>::to_vec).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in chunks {
        let api = api.clone();
        tasks.spawn(async move {
            let nodes: Api<Node> = Api::with_client(api.clone(), None);
            let pods: Api<Pod> = Api::with_client(api, Some("default".into()));
            for object in chunk {
                if object["kind"] == "Node" {
                    let node: Node = serde_json::from_value(object).map_err(|e| e.to_string())?;
                    nodes.create(&node).await.map_err(|e| e.to_string())?;
                } else {
                    let pod: Pod = serde_json::from_value(object).map_err(|e| e.to_string())?;
                    pods.create(&pod).await.map_err(|e| e.to_string())?;
                }
            }
            Ok::<(), String>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| e.to_string())??;
    }
    Ok(())
}

async fn end_to_end(options: &Options) -> Result<(), String> {
    let (nodes, running, pending) = workload(options);
    let (n, p) = (nodes.len(), pending.len());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let server = ApiServer::new(
        Arc::new(Store::in_memory()),
        ServerConfig { external_address: addr.to_string(), max_requests_inflight: 4000, ..ServerConfig::default() },
    );
    tokio::spawn(async move { server.serve(listener, futures::future::pending()).await });
    let url = format!("http://{addr}");
    let client: Arc<dyn ObjectApi> =
        Arc::new(RemoteApi::connect(RemoteConfig::new(url.clone())).await.map_err(|e| e.to_string())?);
    let loading = Instant::now();
    create_all(client.clone(), nodes).await?;
    create_all(client.clone(), running).await?;
    create_all(client.clone(), pending).await?;
    println!("loaded {n} nodes and {} pods over HTTP in {:.1} s", p + options.running, loading.elapsed().as_secs_f64());

    let watcher = k_runtime::informer::InformerFactory::new(client.clone(), k_runtime::watcher::Config::default());
    let pods = watcher.informer::<Pod>(None, None, None).store();
    pods.wait_until_synced().await;
    let scheduler_api: Arc<dyn ObjectApi> =
        Arc::new(RemoteApi::connect(RemoteConfig::new(url)).await.map_err(|e| e.to_string())?);
    let started = Instant::now();
    let config = k_scheduler::config::KubeSchedulerConfiguration {
        parallelism: Some(options.parallelism),
        ..Default::default()
    };
    let scheduler = Scheduler::new(scheduler_api, SchedulerOptions { config, ..SchedulerOptions::default() })?;
    let metrics = scheduler.metrics();
    let attempts = move || {
        let labels =
            k_scheduler::scheduler::AttemptLabels { result: "scheduled".into(), profile: "default-scheduler".into() };
        metrics.attempts.get_or_create(&labels).get() as usize
    };
    let (mut first_attempt, mut decided) = (None, None);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(scheduler.run(async move {
        let _ = stopped.await;
    }));
    let total = p + options.running;
    let deadline = started + Duration::from_secs(600);
    let bound = loop {
        let bound = pods.state().iter().filter(|p| p.spec.node_name.is_some()).count();
        let tried = attempts();
        if first_attempt.is_none() && tried > 0 {
            first_attempt = Some(started.elapsed().as_secs_f64());
        }
        if decided.is_none() && tried >= p {
            decided = Some(started.elapsed().as_secs_f64());
        }
        if bound >= total || Instant::now() > deadline {
            break bound;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let elapsed = started.elapsed().as_secs_f64();
    let first = first_attempt.unwrap_or_default();
    println!(
        "  first pod scheduled at {first:.3} s (informers listed); all {p} decided at {:.3} s; all bound at {elapsed:.3} s; \
         from the first decision: {:.0} pods/s",
        decided.unwrap_or_default(),
        p as f64 / (elapsed - first).max(1e-9)
    );
    let _ = stop.send(());
    let _ = running.await;
    println!(
        "{:?} end to end through k-apiserver: {n} nodes, {p} pods: {} bound in {elapsed:.3} s = {:.0} pods/s (from scheduler start, lists included; RSS {} MiB)",
        options.workload,
        bound - options.running,
        (bound - options.running) as f64 / elapsed,
        rss_bytes() >> 20
    );
    Ok(())
}

fn main() {
    let options = Options::parse();
    let result = match (options.workload, options.e2e) {
        (Workload::Memory, _) => {
            memory(&options);
            Ok(())
        }
        (_, false) => in_process(&options),
        (_, true) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
            .and_then(|rt| rt.block_on(end_to_end(&options))),
    };
    if let Err(e) = result {
        eprintln!("scheduler-perf: {e}");
        std::process::exit(1);
    }
}
