//! k-store benchmark: write throughput, watch delivery latency, and the etcd
//! backend against raw etcd-client puts on the same etcd.
//!
//! Run: `cargo bench -p k-store --features etcd --bench store` (starts a local
//! etcd from Debian's etcd-server; prints a table).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use k_api_types::Resource;
use k_api_types::core::v1::ConfigMap;
use k_store::backend::durable::DurableBackend;
use k_store::backend::etcd::EtcdBackend;
use k_store::backend::memory::{MemoryBackend, MemoryOptions};
use k_store::backend::{Backend, WatchItem};
use k_store::etcd_harness::EtcdServer;
use k_store::{Api, Store};

/// A ~1 KiB value. It starts with the send time as 20 ASCII digits so that
/// watchers can read it without parsing (the backends treat values as bytes).
fn value(i: u64, sent_nanos: u64) -> Bytes {
    let padding = "x".repeat(900);
    Bytes::from(format!(
        r#"{sent_nanos:020}{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"cm-{i}","namespace":"bench"}},"data":{{"pad":"{padding}"}}}}"#
    ))
}

fn sent_of(v: &[u8]) -> u64 {
    v[..20].iter().fold(0, |n, d| n * 10 + u64::from(d - b'0'))
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

async fn sequential_creates(b: &dyn Backend, prefix: &str, n: u64) -> f64 {
    let t = Instant::now();
    for i in 0..n {
        b.create(&format!("{prefix}{i}"), value(i, 0)).await.expect("create");
    }
    rate(n, t.elapsed())
}

async fn sequential_updates(b: &dyn Backend, key: &str, n: u64) -> f64 {
    let mut rev = b.create(key, value(0, 0)).await.expect("create");
    let t = Instant::now();
    for i in 0..n {
        rev = b.update(key, value(i, 0), rev).await.expect("update");
    }
    rate(n, t.elapsed())
}

async fn concurrent_creates(b: Arc<dyn Backend>, prefix: &str, writers: u64, per_writer: u64) -> f64 {
    let t = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let b = Arc::clone(&b);
        let prefix = format!("{prefix}{w}/");
        tasks.push(tokio::spawn(async move {
            for i in 0..per_writer {
                b.create(&format!("{prefix}{i}"), value(i, 0)).await.expect("create");
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer");
    }
    rate(writers * per_writer, t.elapsed())
}

/// Watchers on a prefix; writers produce `rate` events/s for `secs`; returns
/// (achieved events/s, p50 ms, p99 ms, deliveries).
async fn watch_latency(
    b: Arc<dyn Backend>,
    prefix: &str,
    watchers: usize,
    target_rate: u64,
    secs: u64,
) -> (f64, f64, f64, usize) {
    let start = Instant::now();
    let from = b.revision().await.expect("revision");
    let total = target_rate * secs;
    let mut handles = Vec::new();
    for _ in 0..watchers {
        let mut stream = b.watch(prefix, from).await.expect("watch");
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(total as usize);
            // The clock is read when an item arrives after a wait, and every
            // 64 items of a ready batch (a clock read costs as much as a
            // delivery; the error this leaves is about a microsecond).
            let collect = async {
                let mut now = 0u64;
                let mut fresh = 0u32;
                while (lat.len() as u64) < total {
                    let item = match stream.next().now_or_never() {
                        Some(item) => item,
                        None => {
                            fresh = 0;
                            stream.next().await
                        }
                    };
                    match item {
                        Some(Ok(WatchItem::Event(e))) => {
                            if fresh == 0 {
                                now = start.elapsed().as_nanos() as u64;
                            }
                            fresh = (fresh + 1) % 64;
                            lat.push(now.saturating_sub(sent_of(&e.kv.value)));
                        }
                        Some(Ok(WatchItem::Progress(_))) => {}
                        Some(Err(e)) => panic!("watcher failed: {e}"),
                        None => break,
                    }
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(30), collect).await;
            lat
        }));
    }
    // Writers: 64 tasks pacing to the target rate (a durable write waits for
    // its group commit's fsync, so the rate needs that many in flight).
    let writers = 64u64;
    let t = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let b = Arc::clone(&b);
        let prefix = format!("{prefix}{w}-");
        let per = total / writers;
        let interval = Duration::from_secs_f64(writers as f64 / target_rate as f64);
        tasks.push(tokio::spawn(async move {
            let begin = Instant::now();
            for i in 0..per {
                let due = begin + interval * i as u32;
                tokio::time::sleep_until(due.into()).await;
                let sent = start.elapsed().as_nanos() as u64;
                b.create(&format!("{prefix}{i}"), value(i, sent)).await.expect("create");
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer");
    }
    let achieved = rate(total, t.elapsed());
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.expect("watcher"));
    }
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or(0) as f64 / 1e6
    };
    (achieved, pct(0.50), pct(0.99), all.len())
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("k-store-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // K_BENCH=writes,etcd,watch selects sections (default: all);
    // watch-memory, watch-durable, watch-etcd select one backend's watch runs.
    let only = std::env::var("K_BENCH").unwrap_or_default();
    let run = |section: &str| only.is_empty() || only.split(',').any(|s| s == section);
    let etcd = EtcdServer::start().expect("start etcd (Debian package etcd-server)");
    let endpoints = etcd.endpoints();
    println!("k-store benchmark (release build, 2 cores); ~1 KiB values\n");

    // Write throughput.
    let memory: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
    let durable_dir = temp_dir("durable");
    let durable: Arc<dyn Backend> = Arc::new(DurableBackend::open(&durable_dir).expect("durable"));
    let etcd_backend: Arc<dyn Backend> = Arc::new(EtcdBackend::connect(&endpoints).await.expect("etcd"));
    if run("writes") {
        println!("{:<34} {:>14} {:>14} {:>14}", "writes (ops/s)", "memory", "durable", "etcd");
        let n_fast = 200_000;
        let n_slow = 2_000;
        println!(
            "{:<34} {:>14.0} {:>14.0} {:>14.0}",
            "creates, 1 writer",
            sequential_creates(&*memory, "/c/", n_fast).await,
            sequential_creates(&*durable, "/c/", n_slow).await,
            sequential_creates(&*etcd_backend, "/c/", n_slow).await
        );
        println!(
            "{:<34} {:>14.0} {:>14.0} {:>14.0}",
            "updates, 1 writer",
            sequential_updates(&*memory, "/u", n_fast).await,
            sequential_updates(&*durable, "/u", n_slow).await,
            sequential_updates(&*etcd_backend, "/u", n_slow).await
        );
        println!(
            "{:<34} {:>14.0} {:>14.0} {:>14.0}",
            "creates, 64 writers",
            concurrent_creates(Arc::clone(&memory), "/p/", 64, 2_000).await,
            concurrent_creates(Arc::clone(&durable), "/p/", 64, 300).await,
            concurrent_creates(Arc::clone(&etcd_backend), "/p/", 64, 100).await
        );

        // Store (lifecycle layer) over memory: typed updates through Api<ConfigMap>.
        let store = Store::in_memory();
        let api: Api<ConfigMap> = Api::namespaced(store, "bench");
        let mut cm = ConfigMap::named("counter");
        cm.data.insert("n".into(), "0".into());
        let mut cm = api.create(&cm).await.expect("create");
        let n = 20_000u64;
        let t = Instant::now();
        for i in 0..n {
            cm.data.insert("n".into(), i.to_string());
            cm = api.update(&cm).await.expect("update");
        }
        println!("{:<34} {:>14.0}", "Store updates via Api<ConfigMap>", rate(n, t.elapsed()));
    }
    if run("etcd") {
        // etcd backend vs raw etcd-client on the same etcd, interleaved in
        // rounds so that drift in etcd's fsync times hits every contender alike.
        let mut raw = etcd_client::Client::connect(&endpoints, None).await.expect("raw client");
        let (rounds, per_round) = (6u64, 500u64);
        let (mut raw_put, mut raw_txn, mut k_create) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        for r in 0..rounds {
            let t = Instant::now();
            for i in 0..per_round {
                raw.put(format!("/raw/{r}/{i}"), value(i, 0).to_vec(), None).await.expect("put");
            }
            raw_put += t.elapsed();
            let t = Instant::now();
            for i in 0..per_round {
                let key = format!("/rawtxn/{r}/{i}");
                let txn = etcd_client::Txn::new()
                    .when([etcd_client::Compare::create_revision(key.as_str(), etcd_client::CompareOp::Equal, 0)])
                    .and_then([etcd_client::TxnOp::put(key.as_str(), value(i, 0).to_vec(), None)]);
                assert!(raw.txn(txn).await.expect("txn").succeeded());
            }
            raw_txn += t.elapsed();
            let t = Instant::now();
            for i in 0..per_round {
                etcd_backend.create(&format!("/kcmp/{r}/{i}"), value(i, 0)).await.expect("create");
            }
            k_create += t.elapsed();
        }
        // The same with 64 concurrent writers each, as a control plane writes.
        let (writers, per_writer) = (64u64, 60u64);
        let (mut raw_put64, mut raw_txn64, mut k_create64) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        for r in 0..rounds {
            let t = Instant::now();
            let tasks: Vec<_> = (0..writers)
                .map(|w| {
                    let mut raw = raw.clone();
                    tokio::spawn(async move {
                        for i in 0..per_writer {
                            raw.put(format!("/raw64/{r}/{w}/{i}"), value(i, 0).to_vec(), None).await.expect("put");
                        }
                    })
                })
                .collect();
            futures::future::join_all(tasks).await;
            raw_put64 += t.elapsed();
            let t = Instant::now();
            let tasks: Vec<_> = (0..writers)
                .map(|w| {
                    let mut raw = raw.clone();
                    tokio::spawn(async move {
                        for i in 0..per_writer {
                            let key = format!("/rawtxn64/{r}/{w}/{i}");
                            let txn = etcd_client::Txn::new()
                                .when([etcd_client::Compare::create_revision(
                                    key.as_str(),
                                    etcd_client::CompareOp::Equal,
                                    0,
                                )])
                                .and_then([etcd_client::TxnOp::put(key.as_str(), value(i, 0).to_vec(), None)]);
                            assert!(raw.txn(txn).await.expect("txn").succeeded());
                        }
                    })
                })
                .collect();
            futures::future::join_all(tasks).await;
            raw_txn64 += t.elapsed();
            let t = Instant::now();
            concurrent_creates(Arc::clone(&etcd_backend), &format!("/k64/{r}/"), writers, per_writer).await;
            k_create64 += t.elapsed();
        }
        let n64 = rounds * writers * per_writer;
        let n = rounds * per_round;
        println!(
            "\netcd, 64 writers, {n64} each: raw etcd-client put {:.0}/s, raw create txn {:.0}/s, k etcd backend create {:.0}/s: k takes {:.2}x the time of raw puts, {:.2}x of raw txns",
            rate(n64, raw_put64),
            rate(n64, raw_txn64),
            rate(n64, k_create64),
            k_create64.as_secs_f64() / raw_put64.as_secs_f64(),
            k_create64.as_secs_f64() / raw_txn64.as_secs_f64(),
        );
        println!(
            "etcd, sequential, {n} each: raw etcd-client put {:.0}/s, raw etcd-client create txn {:.0}/s, k etcd backend create {:.0}/s",
            rate(n, raw_put),
            rate(n, raw_txn),
            rate(n, k_create),
        );
        println!(
            "k create takes {:.2}x the time of a raw put and {:.2}x the time of the same transaction sent raw",
            k_create.as_secs_f64() / raw_put.as_secs_f64(),
            k_create.as_secs_f64() / raw_txn.as_secs_f64(),
        );
    }
    if run("watch") || only.contains("watch-") {
        // Watch delivery latency at a 10k events/s stream.
        println!(
            "\n{:<10} {:<9} {:>12} {:>10} {:>10} {:>12}",
            "backend", "watchers", "events/s", "p50 ms", "p99 ms", "deliveries"
        );
        for (name, backend, rate_target) in [
            (
                "memory",
                Arc::new(MemoryBackend::with_options(MemoryOptions { watch_capacity: 100_000, ..Default::default() }))
                    as Arc<dyn Backend>,
                10_000u64,
            ),
            ("durable", Arc::clone(&durable), 10_000),
            ("etcd", Arc::clone(&etcd_backend), 10_000),
        ] {
            if !(run("watch") || run(&format!("watch-{name}"))) {
                continue;
            }
            for watchers in [1usize, 100, 1000] {
                let prefix = format!("/w/{name}/{watchers}/");
                let (achieved, p50, p99, n) =
                    watch_latency(Arc::clone(&backend), &prefix, watchers, rate_target, 2).await;
                println!("{name:<10} {watchers:<9} {achieved:>12.0} {p50:>10.2} {p99:>10.2} {n:>12}");
            }
        }
    }
    drop(durable);
    let _ = std::fs::remove_dir_all(&durable_dir);
}
