//! API server load benchmark: pods over real HTTP/1.1 against
//! `k_apiserver::ApiServer` on a memory store, and the same operations
//! in-process through `k_store::ObjectApi` and `k_store::Api<Pod>`.
//!
//! - creates (unique names, a ~1.3 KiB pod) and gets (of the created pods,
//!   in pseudo-random order) over 64 keep-alive connections, one per task,
//!   for a fixed time: ops/s and p50/p99 request latency;
//! - 1,000 watch connections (`?watch=true&resourceVersion=N`) while 16
//!   writers send paced, unconditional PUTs of pods (updates: MODIFIED
//!   events, a store of constant size, the bulk of a running cluster's
//!   changes). Each write carries its send time in an annotation; watchers
//!   read the clock once per received chunk and find the annotation in each
//!   newline-ended frame without decoding it: p50/p99 delivery latency over
//!   every event at every watcher, at several rates;
//! - the same operations in-process, and the ratio HTTP/in-process.
//!
//! Server, load generator and in-process callers share one tokio runtime
//! (as many worker threads as cores), so HTTP figures include the client's
//! own cost. The `cores` column is the CPU the process got (the machine
//! may be shared).
//!
//! Run: `cargo run --release --manifest-path bench/Cargo.toml --bin apiserver`.
//! Environment (defaults in brackets):
//!
//! - `K_BENCH` [ops,watch]: sections; `ops-http`, `ops-inproc`,
//!   `watch-http`, `watch-inproc` run one half of a section;
//! - `K_BENCH_SECS` [8]: seconds of each HTTP create/get phase;
//! - `K_BENCH_INPROC_SECS` [4]: seconds of each in-process create/get phase;
//! - `K_BENCH_CONNS` [64]: connections (HTTP) and tasks (in-process);
//! - `K_BENCH_WATCHERS` [1000]; `K_BENCH_WATCH_RATES` [10,100,1000]: pod
//!   updates/s, one watch run per rate; `K_BENCH_WATCH_SECS` [5]: length of
//!   each stream; `K_BENCH_WATCH_DRAIN` [5]: seconds watchers may lag behind
//!   the end of the stream before what they still miss counts as missing;
//! - `K_BENCH_THREADS` [cores]: runtime worker threads.
//!
//! Smoke run (about 15 s): `K_BENCH_SECS=1 K_BENCH_INPROC_SECS=1
//! K_BENCH_WATCH_SECS=1 K_BENCH_WATCH_DRAIN=2 K_BENCH_WATCHERS=100`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::header::{ACCEPT, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use k_api_types::core::v1::Pod;
use k_api_types::meta::WatchEvent;
use k_api_types::{DynamicObject, GroupVersionResource};
use k_apiserver::{ApiServer, ServerConfig};
use k_store::api::{UserInfo, WatchOptions};
use k_store::{Api, ObjectApi, Store};

/// With `--features mimalloc`, the whole benchmark (server, load generator,
/// in-process callers) allocates through mimalloc instead of glibc malloc.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const NS: &str = "bench";
/// The annotation that carries a write's send time (ns since the run's start).
const SENT_KEY: &str = "bench.k.io/sent";

struct Config {
    secs: f64,
    inproc_secs: f64,
    conns: usize,
    watchers: usize,
    watch_rates: Vec<u64>,
    watch_secs: u64,
    watch_drain: u64,
    threads: usize,
    sections: String,
}

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("{name}={v} does not parse")),
        Err(_) => default,
    }
}

impl Config {
    fn from_env() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            secs: env("K_BENCH_SECS", 8.0),
            inproc_secs: env("K_BENCH_INPROC_SECS", 4.0),
            conns: env("K_BENCH_CONNS", 64),
            watchers: env("K_BENCH_WATCHERS", 1000),
            watch_rates: env("K_BENCH_WATCH_RATES", "10,100,1000".to_owned())
                .split(',')
                .map(|r| r.trim().parse().expect("K_BENCH_WATCH_RATES: updates/s, comma-separated"))
                .collect(),
            watch_secs: env("K_BENCH_WATCH_SECS", 5),
            watch_drain: env("K_BENCH_WATCH_DRAIN", 5),
            threads: env("K_BENCH_THREADS", cores),
            sections: env("K_BENCH", "ops,watch".to_owned()),
        }
    }

    /// Whether to run `part` ("http" or "inproc") of `section` ("ops" or
    /// "watch"): `K_BENCH=ops` runs both parts, `K_BENCH=ops-http` one.
    fn run(&self, section: &str, part: &str) -> bool {
        self.sections.split(',').any(|s| s == section || s == format!("{section}-{part}"))
    }
}

/// A Deployment's pod as a client submits it (~1 KiB of JSON): two
/// containers, probes, resources, a volume, tolerations.
fn pod_json(name: &str, sent: u64) -> String {
    format!(
        concat!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","namespace":"bench","#,
            r#""labels":{{"app":"web","pod-template-hash":"5d9c7b8f4","tier":"frontend","version":"v1.4.2"}},"#,
            r#""annotations":{{"bench.k.io/sent":"{sent}","prometheus.io/port":"9113","prometheus.io/scrape":"true"}}}},"#,
            r#""spec":{{"containers":[{{"name":"web","image":"nginx:1.25.3","#,
            r#""ports":[{{"name":"http","containerPort":80,"protocol":"TCP"}}],"#,
            r#""env":[{{"name":"MODE","value":"production"}},{{"name":"POD_NAME","valueFrom":{{"fieldRef":{{"fieldPath":"metadata.name"}}}}}}],"#,
            r#""resources":{{"limits":{{"cpu":"1","memory":"256Mi"}},"requests":{{"cpu":"250m","memory":"64Mi"}}}},"#,
            r#""volumeMounts":[{{"name":"config","readOnly":true,"mountPath":"/etc/web"}}],"#,
            r#""readinessProbe":{{"httpGet":{{"path":"/healthz","port":"http"}},"periodSeconds":10}}}},"#,
            r#"{{"name":"exporter","image":"nginx/nginx-prometheus-exporter:1.1.0","#,
            r#""args":["--nginx.scrape-uri=http://localhost/stub_status"],"#,
            r#""ports":[{{"name":"metrics","containerPort":9113,"protocol":"TCP"}}],"#,
            r#""resources":{{"requests":{{"cpu":"10m","memory":"16Mi"}}}}}}],"#,
            r#""volumes":[{{"name":"config","configMap":{{"name":"web-config"}}}}],"#,
            r#""serviceAccountName":"web","nodeSelector":{{"kubernetes.io/os":"linux"}},"#,
            r#""tolerations":[{{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}}]}}}}"#,
        ),
        name = name,
        sent = sent,
    )
}

fn pods() -> GroupVersionResource {
    GroupVersionResource::new("", "v1", "pods")
}

fn dynamic_pod(name: &str, sent: u64) -> DynamicObject {
    serde_json::from_str(&pod_json(name, sent)).expect("pod JSON")
}

fn typed_pod(name: &str) -> Pod {
    serde_json::from_str(&pod_json(name, 0)).expect("pod JSON")
}

fn pod_name(worker: usize, i: usize) -> String {
    format!("web-5d9c7b8f4-{worker:02}x{i:06}")
}

// ---------------------------------------------------------------- results

/// Throughput and latency of one phase.
struct Stats {
    ops: usize,
    secs: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// CPU cores the process used on average.
    cores: f64,
    /// Operations completed by each worker (names of created pods follow from it).
    per_worker: Vec<usize>,
}

impl Stats {
    fn rate(&self) -> f64 {
        self.ops as f64 / self.secs
    }
}

/// CPU time this process has used so far (user + system, seconds), from
/// /proc/self/stat: divided by wall time, the cores it actually got (the
/// machine is shared, so this tells how much of it the run had).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    // utime and stime, fields 14 and 15, in clock ticks of 1/100 s.
    (ticks(11) + ticks(12)) / 100.0
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)] as f64 / 1e6
}

/// Runs one worker per state until `duration` has passed; each worker
/// returns the latency (ns) of every operation it completed.
async fn load<S, F, Fut>(states: Vec<S>, duration: Duration, worker: F) -> Stats
where
    F: Fn(S, usize, Instant) -> Fut,
    Fut: Future<Output = Vec<u64>> + Send + 'static,
{
    let (start, cpu) = (Instant::now(), cpu_secs());
    let deadline = start + duration;
    let handles: Vec<_> = states.into_iter().enumerate().map(|(w, s)| tokio::spawn(worker(s, w, deadline))).collect();
    let mut all = Vec::new();
    let mut per_worker = Vec::new();
    for h in handles {
        let lat = h.await.expect("worker");
        per_worker.push(lat.len());
        all.extend(lat);
    }
    let secs = start.elapsed().as_secs_f64();
    let cores = (cpu_secs() - cpu) / secs;
    all.sort_unstable();
    Stats { ops: all.len(), secs, p50_ms: percentile(&all, 0.50), p99_ms: percentile(&all, 0.99), cores, per_worker }
}

// ------------------------------------------------------------------- HTTP

type Sender = http1::SendRequest<Full<Bytes>>;

async fn start_server(store: Store) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let config = ServerConfig {
        external_address: addr.to_string(),
        // Unlimited: the benchmark measures the server, not its throttle.
        max_requests_inflight: 0,
        ..ServerConfig::default()
    };
    let server = ApiServer::new(Arc::new(store), config);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        server
            .serve(listener, async {
                let _ = rx.await;
            })
            .await
    });
    (addr, tx)
}

async fn connect(addr: SocketAddr) -> Sender {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let (sender, conn) = http1::handshake(TokioIo::new(tcp)).await.expect("handshake");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender
}

async fn connect_all(addr: SocketAddr, n: usize) -> Vec<Sender> {
    futures::future::join_all((0..n).map(|_| connect(addr))).await
}

fn request(method: Method, path: &str, body: Option<String>) -> Request<Full<Bytes>> {
    let mut b =
        Request::builder().method(method).uri(path).header(HOST, "127.0.0.1").header(ACCEPT, "application/json");
    if body.is_some() {
        b = b.header(CONTENT_TYPE, "application/json");
    }
    b.body(Full::new(body.map(Bytes::from).unwrap_or_default())).expect("request")
}

/// Sends a request and reads the whole answer.
async fn call(sender: &mut Sender, req: Request<Full<Bytes>>, expect: StatusCode) -> Bytes {
    sender.ready().await.expect("connection ready");
    let resp = sender.send_request(req).await.expect("request");
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("response body").to_bytes();
    assert_eq!(status, expect, "unexpected answer: {}", String::from_utf8_lossy(&body));
    body
}

async fn http_creates(addr: SocketAddr, conns: usize, secs: f64) -> Stats {
    let senders = connect_all(addr, conns).await;
    let path = format!("/api/v1/namespaces/{NS}/pods");
    load(senders, Duration::from_secs_f64(secs), move |mut s, w, deadline| {
        let path = path.clone();
        async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let body = pod_json(&pod_name(w, lat.len()), 0);
                let t = Instant::now();
                call(&mut s, request(Method::POST, &path, Some(body)), StatusCode::CREATED).await;
                lat.push(t.elapsed().as_nanos() as u64);
            }
            lat
        }
    })
    .await
}

/// Names of the pods a create phase made, for the get phase to read.
fn created_names(created: &Stats) -> Arc<Vec<String>> {
    let mut names = Vec::with_capacity(created.ops);
    for (w, &n) in created.per_worker.iter().enumerate() {
        names.extend((0..n).map(|i| pod_name(w, i)));
    }
    assert!(!names.is_empty(), "the create phase created nothing");
    Arc::new(names)
}

/// A cheap pseudo-random walk over the names (each worker its own).
fn pick(names: &[String], w: usize, i: usize) -> &str {
    let x = (w as u64 * 0x9E37_79B9_7F4A_7C15) ^ (i as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    &names[(x % names.len() as u64) as usize]
}

async fn http_gets(addr: SocketAddr, conns: usize, secs: f64, names: Arc<Vec<String>>) -> Stats {
    let senders = connect_all(addr, conns).await;
    load(senders, Duration::from_secs_f64(secs), move |mut s, w, deadline| {
        let names = Arc::clone(&names);
        async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let path = format!("/api/v1/namespaces/{NS}/pods/{}", pick(&names, w, lat.len()));
                let t = Instant::now();
                call(&mut s, request(Method::GET, &path, None), StatusCode::OK).await;
                lat.push(t.elapsed().as_nanos() as u64);
            }
            lat
        }
    })
    .await
}

// ------------------------------------------------------------- in-process

fn user() -> UserInfo {
    UserInfo { username: "system:admin".into(), groups: vec!["system:masters".into()], ..UserInfo::default() }
}

async fn dynamic_creates(store: &Store, tasks: usize, secs: f64) -> Stats {
    let template = dynamic_pod("template", 0);
    let states = (0..tasks).map(|_| (store.clone(), template.clone())).collect();
    load(states, Duration::from_secs_f64(secs), |(store, template), w, deadline| async move {
        let (gvr, user) = (pods(), user());
        let mut lat = Vec::new();
        while Instant::now() < deadline {
            let mut pod = template.clone();
            pod.metadata.name = pod_name(w, lat.len());
            let t = Instant::now();
            store.create(&gvr, NS, pod, &user).await.expect("create");
            lat.push(t.elapsed().as_nanos() as u64);
        }
        lat
    })
    .await
}

async fn dynamic_gets(store: &Store, tasks: usize, secs: f64, names: Arc<Vec<String>>) -> Stats {
    let states = (0..tasks).map(|_| (store.clone(), Arc::clone(&names))).collect();
    load(states, Duration::from_secs_f64(secs), |(store, names), w, deadline| async move {
        let gvr = pods();
        let mut lat = Vec::new();
        while Instant::now() < deadline {
            let name = pick(&names, w, lat.len());
            let t = Instant::now();
            std::hint::black_box(store.get(&gvr, NS, name).await.expect("get"));
            lat.push(t.elapsed().as_nanos() as u64);
        }
        lat
    })
    .await
}

async fn typed_creates(api: &Api<Pod>, tasks: usize, secs: f64) -> Stats {
    let template = typed_pod("template");
    let states = (0..tasks).map(|_| (api.clone(), template.clone())).collect();
    load(states, Duration::from_secs_f64(secs), |(api, template), w, deadline| async move {
        let mut lat = Vec::new();
        while Instant::now() < deadline {
            let mut pod = template.clone();
            pod.metadata.name = pod_name(w, lat.len());
            let t = Instant::now();
            api.create(&pod).await.expect("create");
            lat.push(t.elapsed().as_nanos() as u64);
        }
        lat
    })
    .await
}

async fn typed_gets(api: &Api<Pod>, tasks: usize, secs: f64, names: Arc<Vec<String>>) -> Stats {
    let states = (0..tasks).map(|_| (api.clone(), Arc::clone(&names))).collect();
    load(states, Duration::from_secs_f64(secs), |(api, names), w, deadline| async move {
        let mut lat = Vec::new();
        while Instant::now() < deadline {
            let name = pick(&names, w, lat.len());
            let t = Instant::now();
            std::hint::black_box(api.get(name).await.expect("get"));
            lat.push(t.elapsed().as_nanos() as u64);
        }
        lat
    })
    .await
}

// ------------------------------------------------------------------ watch

/// Watch delivery: every event at every watcher.
struct WatchStats {
    watchers: usize,
    writes: usize,
    write_rate: f64,
    connect_secs: f64,
    delivered: usize,
    errors: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// CPU cores the process used on average from the first write to the end.
    cores: f64,
}

impl WatchStats {
    fn complete(&self) -> bool {
        self.delivered == self.watchers * self.writes && self.errors == 0
    }
}

/// What the watchers are told while they read: how many events the writers
/// made once they are done, and when to give up (the drain time is over).
#[derive(Clone, Copy, Default)]
struct Phase {
    written: Option<usize>,
    abort: bool,
}

/// A watcher's view of the [`Phase`].
struct Until {
    rx: tokio::sync::watch::Receiver<Phase>,
    phase: Phase,
}

impl Until {
    fn new(rx: tokio::sync::watch::Receiver<Phase>) -> Self {
        Self { rx, phase: Phase::default() }
    }

    /// Whether to go on after `received` events (a cheap check, without waiting).
    fn go_on(&mut self, received: usize) -> bool {
        if self.rx.has_changed().unwrap_or(false) {
            self.phase = *self.rx.borrow_and_update();
        }
        !self.phase.abort && self.phase.written.is_none_or(|n| received < n)
    }

    /// Waits for news of the phase.
    async fn changed(&mut self) {
        if self.rx.changed().await.is_err() {
            // The benchmark is over: stop.
            self.phase.abort = true;
            return;
        }
        self.phase = *self.rx.borrow_and_update();
    }
}

/// What both watch runs share: the pods to update, the time base and the
/// phase signal.
struct WatchSetup {
    store: Store,
    /// Names of the pods the writers update (round robin).
    pool: Vec<String>,
    /// The resourceVersion the watches start after.
    rv: String,
    start: Instant,
    phase: tokio::sync::watch::Sender<Phase>,
}

impl WatchSetup {
    async fn new() -> Self {
        let store = Store::in_memory();
        let mut rv = String::new();
        let mut pool = Vec::new();
        for i in 0..POOL {
            let name = format!("watched-{i:04}");
            let created = store.create(&pods(), NS, dynamic_pod(&name, 0), &user()).await.expect("create");
            rv = created.metadata.resource_version;
            pool.push(name);
        }
        let (phase, _) = tokio::sync::watch::channel(Phase::default());
        Self { store, pool, rv, start: Instant::now(), phase }
    }

    fn until(&self) -> Until {
        Until::new(self.phase.subscribe())
    }

    /// Tells the watchers how many events there are, gives laggards the
    /// drain time, and gathers every watcher's latencies.
    async fn finish(
        self,
        watchers: Vec<tokio::task::JoinHandle<(Vec<u64>, usize)>>,
        (writes, write_rate): (usize, f64),
        connect_secs: f64,
        drain: u64,
        (began, cpu): (Instant, f64),
    ) -> WatchStats {
        let n = watchers.len();
        self.phase.send_replace(Phase { written: Some(writes), abort: false });
        let phase = self.phase;
        let stopper = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(drain)).await;
            phase.send_replace(Phase { written: Some(writes), abort: true });
            phase
        });
        let mut all = Vec::new();
        let mut errors = 0;
        for h in watchers {
            let (lat, e) = h.await.expect("watcher");
            all.extend(lat);
            errors += e;
        }
        stopper.abort();
        all.sort_unstable();
        WatchStats {
            watchers: n,
            writes,
            write_rate,
            connect_secs,
            delivered: all.len(),
            errors,
            p50_ms: percentile(&all, 0.50),
            p99_ms: percentile(&all, 0.99),
            max_ms: all.last().map_or(f64::NAN, |&m| m as f64 / 1e6),
            cores: (cpu_secs() - cpu) / began.elapsed().as_secs_f64(),
        }
    }
}

const WRITERS: usize = 16;
/// Pods updated round robin: the store keeps its size during the stream.
const POOL: usize = 1000;

/// Paced writers: `rate` updates/s for `secs` spread over the writer tasks
/// (one per state), each updating its own share of the pool. A writer that
/// falls behind catches up at once; all stop one second after the stream's
/// planned end even if writes remain (an overloaded server slows its
/// writers too). Returns (writes done, achieved rate).
async fn paced_writes<S, F, Fut>(states: Vec<S>, pool: &[String], rate: u64, secs: u64, write: F) -> (usize, f64)
where
    S: Send + 'static,
    F: Fn(S, String) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = S> + Send,
{
    let writers = states.len();
    let total = (rate * secs) as usize;
    let interval = Duration::from_secs_f64(writers as f64 / rate as f64);
    let t = Instant::now();
    let stop_at = t + Duration::from_secs(secs + 1);
    let mut tasks = Vec::new();
    for (w, state) in states.into_iter().enumerate() {
        let names: Vec<String> = pool.iter().skip(w).step_by(writers).cloned().collect();
        let per = total / writers + usize::from(w < total % writers);
        let write = write.clone();
        tasks.push(tokio::spawn(async move {
            let mut state = state;
            // Stagger the writers across one interval.
            let begin = t + interval * w as u32 / writers as u32;
            let mut done = 0;
            for i in 0..per {
                tokio::time::sleep_until((begin + interval * i as u32).into()).await;
                if Instant::now() >= stop_at {
                    break;
                }
                state = write(state, names[i % names.len()].clone()).await;
                done += 1;
            }
            done
        }));
    }
    let mut done = 0;
    for task in tasks {
        done += task.await.expect("writer");
    }
    (done, done as f64 / t.elapsed().as_secs_f64())
}

/// Reads one watch response: frames as they arrive, the clock read once
/// per received chunk, the send time found in each newline-ended JSON event
/// without decoding the rest. Returns (latencies in ns, ERROR frames).
async fn read_watch(mut body: hyper::body::Incoming, start: Instant, mut until: Until) -> (Vec<u64>, usize) {
    let key = format!("\"{SENT_KEY}\":\"");
    let finder = memchr::memmem::Finder::new(key.as_bytes());
    let error = memchr::memmem::Finder::new(br#""type":"ERROR""#);
    let mut lat = Vec::new();
    let mut errors = 0;
    let mut partial: Vec<u8> = Vec::new();
    while until.go_on(lat.len()) {
        let frame = tokio::select! {
            biased;
            f = body.frame() => f,
            () = until.changed() => continue,
        };
        let data = match frame {
            Some(Ok(f)) => match f.into_data() {
                Ok(d) => d,
                Err(_) => continue,
            },
            Some(Err(_)) | None => break,
        };
        let now = start.elapsed().as_nanos() as u64;
        let mut on_line = |line: &[u8]| {
            if let Some(at) = finder.find(line) {
                let digits = &line[at + key.len()..];
                let sent =
                    digits.iter().take_while(|d| d.is_ascii_digit()).fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
                lat.push(now.saturating_sub(sent));
            } else if error.find(line).is_some() {
                errors += 1;
            }
        };
        // Whole lines straight from the chunk; a partial one waits for the next.
        let mut rest: &[u8] = &data;
        if !partial.is_empty() {
            match memchr::memchr(b'\n', rest) {
                Some(nl) => {
                    partial.extend_from_slice(&rest[..nl]);
                    on_line(&partial);
                    partial.clear();
                    rest = &rest[nl + 1..];
                }
                None => {
                    partial.extend_from_slice(rest);
                    continue;
                }
            }
        }
        while let Some(nl) = memchr::memchr(b'\n', rest) {
            on_line(&rest[..nl]);
            rest = &rest[nl + 1..];
        }
        partial.extend_from_slice(rest);
    }
    (lat, errors)
}

async fn http_watch(cfg: &Config, rate: u64) -> WatchStats {
    let setup = WatchSetup::new().await;
    let (addr, _shutdown) = start_server(setup.store.clone()).await;
    let path = format!("/api/v1/namespaces/{NS}/pods?watch=true&resourceVersion={}&timeoutSeconds=3600", setup.rv);

    // Open every watch (at most 100 connecting at once) before writing.
    let t = Instant::now();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(cfg.watchers.max(1));
    let gate = Arc::new(tokio::sync::Semaphore::new(100));
    let mut handles = Vec::new();
    for _ in 0..cfg.watchers {
        let (path, gate, ready) = (path.clone(), Arc::clone(&gate), ready_tx.clone());
        let (start, until) = (setup.start, setup.until());
        handles.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await.expect("gate");
            let mut s = connect(addr).await;
            s.ready().await.expect("connection ready");
            let resp = s.send_request(request(Method::GET, &path, None)).await.expect("watch");
            assert_eq!(resp.status(), StatusCode::OK, "watch refused");
            drop(permit);
            let _ = ready.send(()).await;
            read_watch(resp.into_body(), start, until).await
        }));
    }
    drop(ready_tx);
    for _ in 0..cfg.watchers {
        ready_rx.recv().await.expect("a watcher failed to connect");
    }
    let connect_secs = t.elapsed().as_secs_f64();

    // Writers: unconditional PUTs (no resourceVersion) over keep-alive connections.
    let senders = connect_all(addr, WRITERS).await;
    let (start, began) = (setup.start, (Instant::now(), cpu_secs()));
    let written = paced_writes(senders, &setup.pool, rate, cfg.watch_secs, move |mut s, name| async move {
        let path = format!("/api/v1/namespaces/{NS}/pods/{name}");
        let body = pod_json(&name, start.elapsed().as_nanos() as u64);
        call(&mut s, request(Method::PUT, &path, Some(body)), StatusCode::OK).await;
        s
    })
    .await;
    setup.finish(handles, written, connect_secs, cfg.watch_drain, began).await
}

async fn inproc_watch(cfg: &Config, rate: u64) -> WatchStats {
    let setup = WatchSetup::new().await;
    let t = Instant::now();
    let gvr = pods();
    let mut handles = Vec::new();
    for _ in 0..cfg.watchers {
        let options = WatchOptions { resource_version: Some(setup.rv.clone()), ..WatchOptions::default() };
        let mut stream = setup.store.watch(&gvr, Some(NS), &options).await.expect("watch");
        let (start, mut until) = (setup.start, setup.until());
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            // The clock is read when an event arrives after a wait and every
            // 64 events of a ready batch (the in-process "chunk").
            let (mut now, mut fresh) = (0u64, 0u32);
            while until.go_on(lat.len()) {
                // Yield after 64 ready events, as a task reading a socket would.
                if fresh == 64 {
                    tokio::task::yield_now().await;
                    fresh = 0;
                }
                let item = match stream.next().now_or_never() {
                    Some(item) => item,
                    None => {
                        fresh = 0;
                        tokio::select! {
                            biased;
                            item = stream.next() => item,
                            () = until.changed() => continue,
                        }
                    }
                };
                if fresh == 0 {
                    now = start.elapsed().as_nanos() as u64;
                }
                fresh += 1;
                match item {
                    Some(Ok(WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o))) => {
                        let sent: u64 = o.metadata.annotations.get(SENT_KEY).and_then(|s| s.parse().ok()).unwrap_or(0);
                        lat.push(now.saturating_sub(sent));
                    }
                    Some(Ok(WatchEvent::Bookmark(_))) => {}
                    Some(Ok(WatchEvent::Error(_)) | Err(_)) => {
                        errors += 1;
                        break;
                    }
                    None => break,
                }
            }
            (lat, errors)
        }));
    }
    let connect_secs = t.elapsed().as_secs_f64();
    // Writers: unconditional updates through the same ObjectApi.
    let states = (0..WRITERS).map(|_| setup.store.clone()).collect();
    let (start, began) = (setup.start, (Instant::now(), cpu_secs()));
    let written = paced_writes(states, &setup.pool, rate, cfg.watch_secs, move |store, name| async move {
        let pod = dynamic_pod(&name, start.elapsed().as_nanos() as u64);
        store.update(&pods(), NS, pod, &user()).await.expect("update");
        store
    })
    .await;
    setup.finish(handles, written, connect_secs, cfg.watch_drain, began).await
}

// ------------------------------------------------------------------ main

fn fmt_rate(r: f64) -> String {
    let n = r.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn row(op: &str, path: &str, s: &Stats) {
    println!(
        "{op:<8} {path:<30} {:>9} {:>9.2} {:>9.2} {:>9} {:>6.2}",
        fmt_rate(s.rate()),
        s.p50_ms,
        s.p99_ms,
        s.ops,
        s.cores
    );
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

async fn run(cfg: Config) {
    println!(
        "k-apiserver load benchmark: memory store, HTTP/1.1 on loopback, {} runtime threads shared by server, \
         load generator and in-process callers; allocator: {}",
        cfg.threads,
        if cfg!(feature = "mimalloc") { "mimalloc" } else { "system (glibc)" }
    );
    println!(
        "pod JSON sent: {} bytes; {} connections (HTTP) / tasks (in-process); HTTP phases {} s, in-process phases {} s\n",
        pod_json(&pod_name(0, 0), 0).len(),
        cfg.conns,
        cfg.secs,
        cfg.inproc_secs
    );
    let mut ops = None;
    if cfg.run("ops", "http") || cfg.run("ops", "inproc") {
        println!(
            "{:<8} {:<30} {:>9} {:>9} {:>9} {:>9} {:>6}",
            "op", "path", "ops/s", "p50 ms", "p99 ms", "ops", "cores"
        );
    }
    let mut http = None;
    if cfg.run("ops", "http") {
        let store = Store::in_memory();
        let (addr, shutdown) = start_server(store.clone()).await;
        let creates = http_creates(addr, cfg.conns, cfg.secs).await;
        row("create", &format!("HTTP, {} keep-alive conns", cfg.conns), &creates);
        let served = {
            let mut s = connect(addr).await;
            let path = format!("/api/v1/namespaces/{NS}/pods/{}", pod_name(0, 0));
            call(&mut s, request(Method::GET, &path, None), StatusCode::OK).await.len()
        };
        let gets = http_gets(addr, cfg.conns, cfg.secs, created_names(&creates)).await;
        row("get", &format!("HTTP, {} keep-alive conns", cfg.conns), &gets);
        let _ = shutdown.send(());
        ops = Some((creates.rate(), gets.rate()));
        http = Some((creates, gets, served));
    }
    let mut inproc = None;
    if cfg.run("ops", "inproc") {
        let store = Store::in_memory();
        let dc = dynamic_creates(&store, cfg.conns, cfg.inproc_secs).await;
        row("create", &format!("ObjectApi, {} tasks", cfg.conns), &dc);
        let dg = dynamic_gets(&store, cfg.conns, cfg.inproc_secs, created_names(&dc)).await;
        row("get", &format!("ObjectApi, {} tasks", cfg.conns), &dg);
        drop(store);
        let store = Store::in_memory();
        let api: Api<Pod> = Api::namespaced(store.clone(), NS);
        let tc = typed_creates(&api, cfg.conns, cfg.inproc_secs).await;
        row("create", &format!("Api<Pod>, {} tasks", cfg.conns), &tc);
        let tg = typed_gets(&api, cfg.conns, cfg.inproc_secs, created_names(&tc)).await;
        row("get", &format!("Api<Pod>, {} tasks", cfg.conns), &tg);
        inproc = Some((dc, dg, tc, tg));
    }
    if let Some((_, _, served)) = &http {
        println!("\npod as served by GET: {served} bytes");
    }
    if let (Some((hc, hg, _)), Some((dc, dg, tc, tg))) = (&http, &inproc) {
        println!("\nratio HTTP/in-process (throughput; below 1 means HTTP is slower):");
        for (op, h, d, t) in [("create", hc, dc, tc), ("get", hg, dg, tg)] {
            println!("  {op:<7} HTTP/ObjectApi {:.2}  HTTP/Api<Pod> {:.2}", h.rate() / d.rate(), h.rate() / t.rate());
        }
    }
    let mut watches = Vec::new();
    let (watch_http, watch_inproc) = (cfg.run("watch", "http"), cfg.run("watch", "inproc"));
    if watch_http || watch_inproc {
        println!(
            "\nwatch: {} watchers of namespace {NS}; {WRITERS} writers update a pool of {POOL} pods at the given rate for {} s \
             (then up to {} s of drain)",
            cfg.watchers, cfg.watch_secs, cfg.watch_drain
        );
        println!(
            "{:<6} {:<18} {:>7} {:>9} {:>11} {:>11} {:>6} {:>9} {:>9} {:>9} {:>6}",
            "rate",
            "path",
            "writes",
            "writes/s",
            "deliveries",
            "expected",
            "errors",
            "p50 ms",
            "p99 ms",
            "max ms",
            "cores"
        );
    }
    for &rate in &cfg.watch_rates {
        let h = if watch_http { Some(http_watch(&cfg, rate).await) } else { None };
        if let Some(h) = &h {
            watch_row(rate, "HTTP (watch=true)", h);
        }
        let i = if watch_inproc { Some(inproc_watch(&cfg, rate).await) } else { None };
        if let Some(i) = &i {
            watch_row(rate, "ObjectApi::watch", i);
        }
        if let (Some(h), Some(i)) = (&h, &i) {
            println!(
                "{:<6} ratio HTTP/in-process (latency; above 1 means HTTP is slower): p50 {:.1}x, p99 {:.1}x; \
                 watches opened in {:.2} s (HTTP), {:.2} s (in-process)",
                "",
                h.p50_ms / i.p50_ms,
                h.p99_ms / i.p99_ms,
                h.connect_secs,
                i.connect_secs
            );
        }
        if let Some(h) = h {
            watches.push((rate, h));
        }
    }
    println!("\ntargets (HTTP):");
    if let Some((creates, gets)) = ops {
        println!("  gets    >= 20,000/s: {:>8}/s  {}", fmt_rate(gets), verdict(gets >= 20_000.0));
        println!("  creates >= 10,000/s: {:>8}/s  {}", fmt_rate(creates), verdict(creates >= 10_000.0));
    }
    for (rate, h) in watches {
        println!(
            "  watch p99 < 100 ms, {} watchers, {rate} updates/s asked ({} achieved): {:.2} ms{}  {}",
            h.watchers,
            fmt_rate(h.write_rate),
            h.p99_ms,
            if h.complete() { "" } else { ", deliveries missing" },
            verdict(h.p99_ms < 100.0 && h.complete())
        );
    }
}

fn watch_row(rate: u64, path: &str, s: &WatchStats) {
    println!(
        "{rate:<6} {path:<18} {:>7} {:>9} {:>11} {:>11} {:>6} {:>9.2} {:>9.2} {:>9.2} {:>6.2}",
        s.writes,
        fmt_rate(s.write_rate),
        fmt_rate(s.delivered as f64),
        fmt_rate((s.watchers * s.writes) as f64),
        s.errors,
        s.p50_ms,
        s.p99_ms,
        s.max_ms,
        s.cores
    );
}

fn main() {
    let cfg = Config::from_env();
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(cfg.threads).enable_all().build().expect("runtime");
    rt.block_on(run(cfg));
}
