//! Controller manager benchmark: many Deployments on simulated nodes.
//!
//! ```text
//! cargo run --release --example controller-perf                       # 1,000 Deployments × 10 replicas on 200 nodes
//! cargo run --release --example controller-perf -- --deployments 100  # a smaller run
//! ```
//!
//! Three processes, so that each is measured on its own: the API server
//! (in-memory store, k-apiserver over HTTP on localhost, and k-scheduler),
//! the controller manager (every default controller of k-controllers, over
//! its own HTTP client), and this one (the simulated nodes — k-node agents
//! on the fake runtime — and the observer). Deployments are created at
//! `--qps`; the run ends when every one reports all its replicas updated
//! and available.
//!
//! Reported: the time until all are available; each Deployment's time from
//! its create request to available; each pod's startup latency (Kubernetes'
//! pod startup SLI: from the pod's creation — first seen through a watch,
//! as its creationTimestamp has only whole seconds — to Running and Ready,
//! scheduling included; SLO p99 ≤ 5 s) split into creation → bound and
//! bound → Ready; and the CPU time and peak memory of each process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt;
use k_api_types::Resource;
use k_api_types::apps::v1::Deployment;
use k_api_types::core::v1::{Namespace, Pod};
use k_apiserver::{ApiServer, ServerConfig};
use k_examples::perf::{ChildProcess, cpu_seconds_of, memory_of, percentile, stdin_closed, wait_nodes};
use k_runtime::reflector::Change;
use k_store::remote::{RemoteApi, RemoteConfig};
use k_store::{Api, ObjectApi, Store};
use serde_json::json;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "controller-perf", about = "k-controllers benchmark: Deployments on simulated nodes")]
struct Options {
    /// Deployments to create.
    #[arg(long, default_value_t = 1000)]
    deployments: usize,
    /// Replicas of each.
    #[arg(long, default_value_t = 10)]
    replicas: i32,
    /// Simulated nodes (110 pods each at most).
    #[arg(long, default_value_t = 200)]
    nodes: usize,
    /// Deployments created per second.
    #[arg(long, default_value_t = 50.0)]
    qps: f64,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 1800)]
    timeout: u64,
    /// (internal) Serve the store, the API server and the scheduler.
    #[arg(long, hide = true)]
    serve: bool,
    /// (internal) Run the controller manager against this API server.
    #[arg(long, hide = true, value_name = "URL")]
    controllers: Option<String>,
}

fn main() {
    let options = Options::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let result = runtime.block_on(async {
        if options.serve {
            serve().await
        } else if let Some(url) = &options.controllers {
            controllers(url).await
        } else {
            run(&options).await
        }
    });
    if let Err(e) = result {
        eprintln!("controller-perf: {e}");
        std::process::exit(1);
    }
}

/// The API server child: store, k-apiserver and k-scheduler.
async fn serve() -> Result<(), String> {
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
    let scheduler = k_scheduler::scheduler::Scheduler::new(api, k_scheduler::scheduler::SchedulerOptions::default())?;
    let scheduling = tokio::spawn(scheduler.run(futures::future::pending()));
    println!("listening on {addr}");
    server.serve(listener, stdin_closed()).await.map_err(|e| e.to_string())?;
    scheduling.abort();
    Ok(())
}

/// The controller manager child: every default controller.
async fn controllers(url: &str) -> Result<(), String> {
    let api: Arc<dyn ObjectApi> =
        Arc::new(RemoteApi::connect(RemoteConfig::new(url.to_owned())).await.map_err(|e| e.to_string())?);
    let manager = k_controllers::ControllerManager::new(api, k_controllers::Selection::default());
    println!("running {} controllers", manager.names().len());
    manager.run(stdin_closed()).await;
    Ok(())
}

/// What the observer saw, by pod (namespace/name) and by Deployment.
#[derive(Default)]
struct Timeline {
    pod_seen: HashMap<String, Instant>,
    pod_bound: HashMap<String, Instant>,
    pod_ready: HashMap<String, Instant>,
    deployment_created: HashMap<String, Instant>,
    deployment_available: HashMap<String, Instant>,
}

fn pod_ready(pod: &Pod) -> bool {
    let Some(status) = &pod.status else { return false };
    status.phase.as_deref() == Some("Running")
        && status.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True")
}

fn deployment_available(d: &Deployment, replicas: i32) -> bool {
    let Some(status) = &d.status else { return false };
    status.observed_generation >= d.metadata.generation
        && status.replicas == Some(replicas)
        && status.updated_replicas == Some(replicas)
        && status.available_replicas == Some(replicas)
}

/// Watches pods and Deployments, recording when each is first seen, bound,
/// Ready or available.
fn observe(
    api: Arc<dyn ObjectApi>,
    timeline: Arc<Mutex<Timeline>>,
    replicas: i32,
) -> k_runtime::informer::InformerFactory {
    let factory = k_runtime::informer::InformerFactory::new(api, k_runtime::watcher::Config::default());
    let pods = factory.informer::<Pod>(Some("default"), None, None);
    let t = timeline.clone();
    tokio::spawn(async move {
        let mut changes = pods.subscribe().boxed();
        while let Some(change) = changes.next().await {
            let pod = match change {
                Change::Added(p) | Change::Updated { new: p, .. } => p,
                Change::Deleted(_) => continue,
            };
            let now = Instant::now();
            let name = pod.metadata.name.clone();
            let mut t = t.lock().unwrap_or_else(PoisonError::into_inner);
            t.pod_seen.entry(name.clone()).or_insert(now);
            if pod.spec.node_name.is_some() {
                t.pod_bound.entry(name.clone()).or_insert(now);
            }
            if pod_ready(&pod) {
                t.pod_ready.entry(name).or_insert(now);
            }
        }
    });
    let deployments = factory.informer::<Deployment>(Some("default"), None, None);
    tokio::spawn(async move {
        let mut changes = deployments.subscribe().boxed();
        while let Some(change) = changes.next().await {
            let d = match change {
                Change::Added(d) | Change::Updated { new: d, .. } => d,
                Change::Deleted(_) => continue,
            };
            if deployment_available(&d, replicas) {
                let mut t = timeline.lock().unwrap_or_else(PoisonError::into_inner);
                t.deployment_available.entry(d.metadata.name.clone()).or_insert_with(Instant::now);
            }
        }
    });
    factory
}

fn deployment(name: &str, replicas: i32) -> Result<Deployment, String> {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "terminationGracePeriodSeconds": 2,
                    "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}],
                },
            },
        },
    }))
    .map_err(|e| e.to_string())
}

/// Latencies in seconds from `from` to `to`, sorted, and how many of
/// `from` never reached `to`.
fn latencies(from: &HashMap<String, Instant>, to: &HashMap<String, Instant>) -> (Vec<f64>, usize) {
    let mut all: Vec<f64> =
        from.iter().filter_map(|(k, a)| to.get(k).map(|b| b.saturating_duration_since(*a).as_secs_f64())).collect();
    all.sort_by(f64::total_cmp);
    let missing = from.len() - all.len();
    (all, missing)
}

fn summary(what: &str, (all, missing): &(Vec<f64>, usize)) -> String {
    format!(
        "{what}: {} — p50 {:.3} s, p90 {:.3} s, p99 {:.3} s, max {:.3} s{}",
        all.len(),
        percentile(all, 50.0),
        percentile(all, 90.0),
        percentile(all, 99.0),
        all.last().copied().unwrap_or(f64::NAN),
        if *missing > 0 { format!(", {missing} never") } else { String::new() },
    )
}

async fn run(options: &Options) -> Result<(), String> {
    let (count, replicas) = (options.deployments, options.replicas);
    let server = ChildProcess::start(&["--serve"])?;
    let url = format!(
        "http://{}",
        server.first_line.strip_prefix("listening on ").ok_or_else(|| format!("unexpected: {}", server.first_line))?
    );
    let client = || async {
        RemoteApi::connect(RemoteConfig::new(url.clone()))
            .await
            .map(|a| Arc::new(a) as Arc<dyn ObjectApi>)
            .map_err(|e| e.to_string())
    };
    let api = client().await?;

    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let sim = k_node::sim::SimulatedNodes::new(client().await?, options.nodes);
    let nodes = tokio::spawn(sim.run(async move {
        let _ = stopped.wait_for(|s| *s).await;
    }));
    let registering = Instant::now();
    wait_nodes(&api, options.nodes, Duration::from_secs(300)).await?;
    println!("{} simulated nodes Ready in {:.1} s", options.nodes, registering.elapsed().as_secs_f64());

    let manager = ChildProcess::start(&["--controllers", &url])?;
    println!("controller manager: {}", manager.first_line);
    let timeline = Arc::new(Mutex::new(Timeline::default()));
    let watch = observe(client().await?, timeline.clone(), replicas);
    // Let the controllers' informers sync before the clock starts.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let own = || cpu_seconds_of("/proc/self/stat");
    let (server_cpu0, manager_cpu0, own_cpu0) = (server.cpu_seconds(), manager.cpu_seconds(), own());
    let started = Instant::now();
    let mut creating = tokio::task::JoinSet::new();
    for i in 0..count {
        tokio::time::sleep_until((started + Duration::from_secs_f64(i as f64 / options.qps)).into()).await;
        let d = deployment(&format!("d-{i:04}"), replicas)?;
        let (api, timeline) = (api.clone(), timeline.clone());
        creating.spawn(async move {
            let deployments: Api<Deployment> = Api::with_client(api, Some("default".into()));
            timeline
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .deployment_created
                .insert(d.metadata.name.clone(), Instant::now());
            deployments.create(&d).await.map(|_| ()).map_err(|e| e.to_string())
        });
    }
    while let Some(done) = creating.join_next().await {
        done.map_err(|e| e.to_string())??;
    }
    let created_in = started.elapsed().as_secs_f64();
    println!("{count} Deployments created in {created_in:.1} s");

    let deadline = started + Duration::from_secs(options.timeout);
    let mut last_report = Instant::now();
    loop {
        let (available, ready) = {
            let t = timeline.lock().unwrap_or_else(PoisonError::into_inner);
            (t.deployment_available.len(), t.pod_ready.len())
        };
        if available >= count {
            break;
        }
        if Instant::now() > deadline {
            println!("gave up after {} s: {available} of {count} Deployments available", options.timeout);
            break;
        }
        if last_report.elapsed() >= Duration::from_secs(10) {
            last_report = Instant::now();
            println!(
                "  {:>5.0} s: {available} Deployments available, {ready} pods Ready; CPU s so far: API server {:.1}, controllers {:.1}, nodes {:.1}",
                started.elapsed().as_secs_f64(),
                server.cpu_seconds() - server_cpu0,
                manager.cpu_seconds() - manager_cpu0,
                own() - own_cpu0,
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (server_cpu, manager_cpu, own_cpu) =
        (server.cpu_seconds() - server_cpu0, manager.cpu_seconds() - manager_cpu0, own() - own_cpu0);
    let ((server_rss, server_peak), (manager_rss, manager_peak), (own_rss, own_peak)) =
        (server.memory_mib(), manager.memory_mib(), memory_of("/proc/self/status"));

    // The pod watch may lag the Deployment watch: let it catch up (its
    // latencies count from what it saw, as the SLI is defined).
    let catching_up = Instant::now() + Duration::from_secs(30);
    while Instant::now() < catching_up
        && timeline.lock().unwrap_or_else(PoisonError::into_inner).pod_ready.len() < count * replicas as usize
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A copy, so that no lock is held while the nodes stop.
    let t = std::mem::take(&mut *timeline.lock().unwrap_or_else(PoisonError::into_inner));
    let pods = count * replicas as usize;
    println!();
    println!(
        "{count} Deployments × {replicas} replicas ({pods} pods) on {} simulated nodes, created at {} /s: all available after {elapsed:.1} s ({} of {count})",
        options.nodes,
        options.qps,
        t.deployment_available.len()
    );
    println!(
        "{}",
        summary("Deployment create → available", &latencies(&t.deployment_created, &t.deployment_available))
    );
    let startup = latencies(&t.pod_seen, &t.pod_ready);
    println!("{}", summary("pod created → Running and Ready (startup SLI)", &startup));
    println!("{}", summary("  of which created → bound", &latencies(&t.pod_seen, &t.pod_bound)));
    println!("{}", summary("  of which bound → Ready", &latencies(&t.pod_bound, &t.pod_ready)));
    let p99 = percentile(&startup.0, 99.0);
    println!(
        "pod startup SLO (p99 ≤ 5 s): {} (p99 {p99:.3} s over {} pods)",
        if startup.1 == 0 && p99 <= 5.0 { "met" } else { "NOT met" },
        startup.0.len()
    );
    println!(
        "controller manager: {manager_cpu:.1} CPU s ({:.0}% of a core over the run), RSS {manager_rss} MiB at the end, peak {manager_peak} MiB",
        100.0 * manager_cpu / elapsed
    );
    println!(
        "API server + store + scheduler: {server_cpu:.1} CPU s ({:.0}% of a core), RSS {server_rss} MiB, peak {server_peak} MiB",
        100.0 * server_cpu / elapsed
    );
    println!(
        "simulated nodes + observer (this process): {own_cpu:.1} CPU s ({:.0}% of a core), RSS {own_rss} MiB, peak {own_peak} MiB",
        100.0 * own_cpu / elapsed
    );
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "all three: {:.1} CPU s over {elapsed:.1} s = {:.0}% of this machine's {cores} cores",
        server_cpu + manager_cpu + own_cpu,
        100.0 * (server_cpu + manager_cpu + own_cpu) / elapsed / cores as f64
    );
    drop(watch);
    let _ = stop.send(true);
    if tokio::time::timeout(Duration::from_secs(30), nodes).await.is_err() {
        eprintln!("the simulated nodes did not stop within 30 s");
    }
    drop(manager);
    drop(server);
    Ok(())
}
