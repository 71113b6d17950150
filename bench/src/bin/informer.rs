//! Informer cache benchmark: k-runtime against kube-runtime (the `kube`
//! crate), both reading pods from the same k-apiserver.
//!
//! The driver process serves a memory store through `k_apiserver::ApiServer`
//! on loopback, fills it with `K_BENCH_PODS` pods (100,000) and then changes
//! each of them once (`K_BENCH_UPDATES`, 100,000 MODIFIED events kept in the
//! store's history). Each contender then runs in a child process of its own,
//! so that its memory is its own:
//!
//! 1. **initial sync**: a watcher (paged list of 500, then watch) feeding a
//!    reflector cache, until the cache holds every pod: time, and the peak
//!    RSS of the process (VmHWM) at that point;
//! 2. **event throughput**: a watch from the revision before the updates,
//!    every MODIFIED event applied to the same cache, until all of them are
//!    in: events/s, the client's CPU time per event, and the peak RSS
//!    during this phase. The events/s are bounded by the server (the same
//!    for both contenders, sharing the machine's two cores with the
//!    client); CPU per event is the client's own cost, its inverse the
//!    throughput the client could take.
//!
//! Peaks are sampled every 2 ms by a thread of the client process.
//!
//! The second phase replays the updates from the server's history rather
//! than waiting for live writes, so that the client, not the writer, sets
//! the pace; the server's work is the same for both contenders.
//!
//! Contenders:
//! - `kube`: `kube::runtime::watcher` + `kube::runtime::reflector::store`
//!   with `k8s_openapi::api::core::v1::Pod`, and `kube::Api::watch` for
//!   phase 2 applied through the same `Writer`;
//! - `k`: `k_runtime::watcher::typed` + `k_runtime::reflector::store` with
//!   `k_api_types::core::v1::Pod` over `k_store::remote::RemoteApi`, and
//!   `ObjectApi::watch_raw` decoded as `Pod` for phase 2, applied through
//!   the same `Writer`.
//!
//! Run: `cargo run --release --manifest-path bench/Cargo.toml --bin informer`
//! (`K_BENCH_PODS`, `K_BENCH_UPDATES`, `K_BENCH_ROUNDS` [1]).

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use futures::{StreamExt, TryStreamExt};
use k_api_types::core::v1::Pod;
use k_apiserver::{ApiServer, ServerConfig};
use k_store::backend::memory::{MemoryBackend, MemoryOptions};
use k_store::{Api, Store};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[path = "shared/pod.rs"]
mod informer_pod;
use informer_pod::pod_json;

// ------------------------------------------------------------------ driver

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("client") {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let report = runtime.block_on(client(&args[2], &args[3], &args[4], args[5].parse().unwrap(), args[6].parse().unwrap()));
        println!("{report}");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(driver());
}

async fn driver() {
    let pods = env("K_BENCH_PODS", 100_000);
    let updates = env("K_BENCH_UPDATES", 100_000).min(pods);
    let rounds = env("K_BENCH_ROUNDS", 1);
    let backend = MemoryBackend::with_options(MemoryOptions { history: updates + 10_000, ..MemoryOptions::default() });
    let store = Store::new(Arc::new(backend));
    let api: Api<Pod> = Api::all(store.clone());

    let t = Instant::now();
    let mut created = Vec::with_capacity(updates);
    for i in 0..pods {
        let pod: Pod = serde_json::from_str(&pod_json(i)).expect("pod JSON");
        let namespace = pod.metadata.namespace.clone();
        let pod = Api::<Pod>::namespaced(store.clone(), &namespace).create(&pod).await.expect("create");
        if i < updates {
            created.push(pod);
        }
    }
    let size = serde_json::to_vec(&created[0]).map(|v| v.len()).unwrap_or(0);
    eprintln!("created {pods} pods ({size} bytes of JSON each) in {:.1}s", t.elapsed().as_secs_f64());
    let before_updates = store.backend().revision().await.expect("revision");
    let t = Instant::now();
    for (i, mut pod) in created.into_iter().enumerate() {
        pod.metadata.annotations.insert("bench.k.io/update".into(), i.to_string());
        let namespace = pod.metadata.namespace.clone();
        Api::<Pod>::namespaced(store.clone(), &namespace).update(&pod).await.expect("update");
    }
    eprintln!("updated {updates} pods in {:.1}s", t.elapsed().as_secs_f64());
    drop(api);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = ApiServer::new(
        Arc::new(store.clone()),
        ServerConfig { external_address: addr.to_string(), ..ServerConfig::default() },
    );
    tokio::spawn(async move { server.serve(listener, futures::future::pending()).await });
    let url = format!("http://{addr}");

    let exe = std::env::current_exe().unwrap();
    let mut results: Vec<(String, Report)> = Vec::new();
    for _ in 0..rounds {
        for who in ["kube", "k"] {
            let exe = exe.clone();
            let url = url.clone();
            let output = tokio::task::spawn_blocking(move || {
                Command::new(exe)
                    .args(["client", who, &url, &before_updates.to_string(), &updates.to_string(), &pods.to_string()])
                    .output()
                    .expect("run the client")
            })
            .await
            .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            if !output.status.success() {
                panic!("{who} client failed: {}\n{stdout}", String::from_utf8_lossy(&output.stderr));
            }
            let report = Report::parse(stdout.trim()).unwrap_or_else(|| panic!("{who}: bad report {stdout:?}"));
            eprintln!("{who}: {report}");
            results.push((who.to_owned(), report));
        }
    }

    println!("\ninformer benchmark: {pods} pods, {updates} updates, same k-apiserver, one child process per contender");
    println!(
        "{:<6} {:>8} {:>10} {:>10} {:>10} {:>12} {:>10} {:>8}",
        "client", "sync s", "sync CPU s", "sync MiB", "events/s", "CPU us/event", "events MiB", "cached"
    );
    for (who, r) in &results {
        println!(
            "{who:<6} {:>8.2} {:>10.2} {:>10.1} {:>10.0} {:>12.2} {:>10.1} {:>8}",
            r.sync_secs,
            r.sync_cpu,
            r.sync_peak_kib as f64 / 1024.0,
            r.events_per_sec,
            r.event_cpu_us,
            r.events_peak_kib as f64 / 1024.0,
            r.cached
        );
    }
    let mean = |who: &str, f: &dyn Fn(&Report) -> f64| {
        let v: Vec<f64> = results.iter().filter(|(w, _)| w == who).map(|(_, r)| f(r)).collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    let ratio = |f: &dyn Fn(&Report) -> f64| mean("k", f) / mean("kube", f);
    println!(
        "\nk / kube: sync time {:.2}x, sync CPU {:.2}x, sync peak memory {:.2}x; event throughput {:.2}x, \
         CPU per event {:.2}x (client-side throughput {:.2}x), events peak memory {:.2}x",
        ratio(&|r| r.sync_secs),
        ratio(&|r| r.sync_cpu),
        ratio(&|r| r.sync_peak_kib as f64),
        ratio(&|r| r.events_per_sec),
        ratio(&|r| r.event_cpu_us),
        1.0 / ratio(&|r| r.event_cpu_us),
        ratio(&|r| r.events_peak_kib as f64),
    );
}

// ------------------------------------------------------------------ client

/// What a client process measured.
struct Report {
    sync_secs: f64,
    /// CPU seconds the client process used for the sync.
    sync_cpu: f64,
    sync_peak_kib: u64,
    events_per_sec: f64,
    /// CPU microseconds the client process used per event.
    event_cpu_us: f64,
    events_peak_kib: u64,
    cached: usize,
}

impl Report {
    fn parse(line: &str) -> Option<Report> {
        let v: Vec<&str> = line.split_whitespace().collect();
        Some(Report {
            sync_secs: v.first()?.parse().ok()?,
            sync_cpu: v.get(1)?.parse().ok()?,
            sync_peak_kib: v.get(2)?.parse().ok()?,
            events_per_sec: v.get(3)?.parse().ok()?,
            event_cpu_us: v.get(4)?.parse().ok()?,
            events_peak_kib: v.get(5)?.parse().ok()?,
            cached: v.get(6)?.parse().ok()?,
        })
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.3} {:.3} {} {:.1} {:.2} {} {}",
            self.sync_secs,
            self.sync_cpu,
            self.sync_peak_kib,
            self.events_per_sec,
            self.event_cpu_us,
            self.events_peak_kib,
            self.cached
        )
    }
}

/// CPU time this process has used so far (user + system, seconds).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    // utime and stime, fields 14 and 15, in clock ticks of 1/100 s.
    (ticks(11) + ticks(12)) / 100.0
}

/// The process's resident set, in KiB (from /proc/self/statm).
fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    pages * 4
}

/// The largest resident set seen since the last [`Peak::reset`], sampled
/// every 2 ms by a thread of its own (VmHWM cannot be reset on every kernel).
#[derive(Clone, Default)]
struct Peak(Arc<std::sync::atomic::AtomicU64>);

impl Peak {
    fn start() -> Peak {
        let peak = Peak::default();
        let sampled = peak.clone();
        std::thread::spawn(move || {
            loop {
                sampled.0.fetch_max(rss_kib(), std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        });
        peak
    }

    fn take(&self) -> u64 {
        self.0.fetch_max(rss_kib(), std::sync::atomic::Ordering::Relaxed).max(rss_kib())
    }

    fn reset(&self) {
        self.0.store(rss_kib(), std::sync::atomic::Ordering::Relaxed);
    }
}

async fn client(who: &str, url: &str, before_updates: &str, updates: usize, pods: usize) -> Report {
    match who {
        "kube" => kube_client(url, before_updates, updates, pods).await,
        "k" => k_client(url, before_updates, updates, pods).await,
        other => panic!("unknown client {other}"),
    }
}

async fn kube_client(url: &str, before_updates: &str, updates: usize, pods: usize) -> Report {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{WatchEvent, WatchParams};
    use kube::runtime::{reflector, watcher};

    let config = kube::Config::new(url.parse().expect("url"));
    let client = kube::Client::try_from(config).expect("kube client");
    let api: kube::Api<Pod> = kube::Api::all(client);
    let (reader, mut writer) = reflector::store::<Pod>();

    // 1. Initial sync.
    let peak = Peak::start();
    let t = Instant::now();
    let cpu = cpu_secs();
    {
        let mut events = watcher(api.clone(), watcher::Config::default()).boxed();
        while let Some(event) = events.try_next().await.expect("watcher") {
            writer.apply_watcher_event(&event);
            if matches!(event, watcher::Event::InitDone) {
                break;
            }
        }
    }
    let sync_secs = t.elapsed().as_secs_f64();
    let sync_cpu = cpu_secs() - cpu;
    assert_eq!(reader.state().len(), pods, "kube cache after sync");
    let sync_peak_kib = peak.take();

    // 2. Event throughput.
    peak.reset();
    let t = Instant::now();
    let cpu = cpu_secs();
    let mut seen = 0;
    let params = WatchParams::default().timeout(290);
    let mut stream = api.watch(&params, before_updates).await.expect("watch").boxed();
    while seen < updates {
        match stream.try_next().await.expect("watch stream") {
            Some(WatchEvent::Modified(pod)) => {
                writer.apply_watcher_event(&watcher::Event::Apply(pod));
                seen += 1;
            }
            Some(WatchEvent::Added(pod)) => writer.apply_watcher_event(&watcher::Event::Apply(pod)),
            Some(WatchEvent::Deleted(pod)) => writer.apply_watcher_event(&watcher::Event::Delete(pod)),
            Some(WatchEvent::Bookmark(_)) => {}
            Some(WatchEvent::Error(e)) => panic!("watch error {e:?}"),
            None => panic!("the watch ended after {seen} events"),
        }
    }
    let events_per_sec = seen as f64 / t.elapsed().as_secs_f64();
    let event_cpu_us = (cpu_secs() - cpu) * 1e6 / seen as f64;
    Report {
        sync_secs,
        sync_cpu,
        sync_peak_kib,
        events_per_sec,
        event_cpu_us,
        events_peak_kib: peak.take(),
        cached: reader.state().len(),
    }
}

async fn k_client(url: &str, before_updates: &str, updates: usize, pods: usize) -> Report {
    use k_api_types::meta::WatchEvent;
    use k_runtime::reflector;
    use k_runtime::watcher::{self, Event};
    use k_store::api::{ObjectApi, WatchOptions};
    use k_store::remote::{RemoteApi, RemoteConfig};

    let api: Arc<dyn ObjectApi> = Arc::new(RemoteApi::connect(RemoteConfig::new(url)).await.expect("remote api"));
    let (reader, mut writer) = reflector::store::<Pod>();

    // 1. Initial sync.
    let peak = Peak::start();
    let t = Instant::now();
    let cpu = cpu_secs();
    {
        let mut events = Box::pin(watcher::typed::<Pod>(api.clone(), None, watcher::Config::default()));
        while let Some(event) = events.next().await {
            let event = event.expect("watcher");
            let done = matches!(event, Event::InitDone);
            writer.apply_typed(event);
            if done {
                break;
            }
        }
    }
    let sync_secs = t.elapsed().as_secs_f64();
    let sync_cpu = cpu_secs() - cpu;
    assert_eq!(reader.len(), pods, "k cache after sync");
    let sync_peak_kib = peak.take();

    // 2. Event throughput: the typed watcher's own decoding, on a raw watch.
    peak.reset();
    let t = Instant::now();
    let cpu = cpu_secs();
    let mut seen = 0;
    let options = WatchOptions { resource_version: Some(before_updates.to_owned()), ..WatchOptions::default() };
    let gvr = <Pod as k_api_types::Resource>::INFO.gvr();
    let mut stream = api.watch_raw(&gvr, None, &options).await.expect("watch");
    let decode = |json: &[u8]| Arc::new(serde_json::from_slice::<Pod>(json).expect("a pod"));
    while seen < updates {
        match stream.next().await.expect("the watch ended").expect("watch stream") {
            WatchEvent::Modified(json) => {
                writer.apply_typed(Event::Apply(decode(&json)));
                seen += 1;
            }
            WatchEvent::Added(json) => {
                writer.apply_typed(Event::Apply(decode(&json)));
            }
            WatchEvent::Deleted(json) => {
                writer.apply_typed(Event::Delete(decode(&json)));
            }
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => panic!("watch error {e:?}"),
        }
    }
    let events_per_sec = seen as f64 / t.elapsed().as_secs_f64();
    let event_cpu_us = (cpu_secs() - cpu) * 1e6 / seen as f64;
    Report {
        sync_secs,
        sync_cpu,
        sync_peak_kib,
        events_per_sec,
        event_cpu_us,
        events_peak_kib: peak.take(),
        cached: reader.len(),
    }
}
