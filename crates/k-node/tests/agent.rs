//! End-to-end tests of the node agent ([`NodeAgent`]): an in-memory store
//! as the API, [`FakeRuntime`] as the container runtime, and, for every
//! test but the simulated nodes', tokio's paused time with [`TokioClock`]
//! for both the agent and the runtime, so back-offs and grace periods take
//! no real time. Every test asserts what the API, the runtime's calls or
//! the runtime's containers show.

use std::future::Future;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use k_api_types::coordination::v1::Lease;
use k_api_types::core::v1::{ConfigMap, ContainerStatus, Node, Pod, PodCondition};
use k_api_types::meta::{DeleteOptions, WatchEvent};
use k_netplugin::cri::fake::{Clock, ExecAnswer, FakeRuntime, Script, TokioClock};
use k_netplugin::cri::{
    self, ContainerConfig, ContainerFilter, ContainerState, ContainerStats, CriResult, ExecSyncResponse,
    LinuxContainerResources, PodSandbox, PodSandboxConfig, PodSandboxFilter, PodSandboxStatus, RuntimeService,
    RuntimeStatus, VersionResponse,
};
use k_node::pods::actions::{CONTAINER_NAME_LABEL, POD_NAME_LABEL};
use k_node::{NodeAgent, NodeConfig};
use k_store::api::{DeleteOutcome, WatchOptions};
use k_store::{Api, ObjectApi};
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

const NODE: &str = "n1";
const POD_CIDR: &str = "10.244.1.0/24";
const HOST_IP: &str = "192.168.10.5";
const SECOND: Duration = Duration::from_secs(1);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

/// One node agent over an in-memory API and a fake runtime, both reading
/// one [`TokioClock`].
struct Harness {
    api: Arc<dyn ObjectApi>,
    runtime: Arc<FakeRuntime>,
    /// What the agent talks to: `runtime`, recording removed containers.
    recording: Arc<Recording>,
    clock: TokioClock,
    dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Harness {
    /// A harness for the test `test`; `build` scripts the runtime.
    fn new(test: &str, build: impl FnOnce(FakeRuntime) -> FakeRuntime) -> Self {
        let clock = TokioClock::new();
        let runtime = Arc::new(build(FakeRuntime::new(clock).with_pod_cidr(POD_CIDR)));
        let dir = std::env::temp_dir().join(format!("k-node-agent-test-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Harness {
            api: Arc::new(k_store::Store::in_memory()),
            recording: Arc::new(Recording { inner: runtime.clone(), removed: Mutex::new(Vec::new()) }),
            runtime,
            clock,
            dir,
            stop: None,
            task: None,
        }
    }

    /// Starts the agent.
    fn start(&mut self) {
        self.start_with(|_| {});
    }

    /// Starts the agent with its configuration changed by `configure`.
    fn start_with(&mut self, configure: impl FnOnce(&mut NodeConfig)) {
        let mut config = NodeConfig::simulated(NODE);
        config.root_dir = self.dir.join("root");
        config.addresses.push(("InternalIP".into(), HOST_IP.into()));
        configure(&mut config);
        let agent = NodeAgent::new(self.api.clone(), self.recording.clone(), self.runtime.clone(), config)
            .with_sync_period(SECOND)
            .with_clock(Arc::new(self.clock));
        let (tx, rx) = oneshot::channel::<()>();
        self.task = Some(tokio::spawn(agent.run(async move {
            let _ = rx.await;
        })));
        self.stop = Some(tx);
    }

    /// Stops the agent (the runtime keeps its pods).
    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(secs(60), task).await.expect("the agent stops").expect("the agent did not panic");
        }
    }

    /// Stops the agent and removes the test's directory.
    async fn shutdown(mut self) {
        self.stop().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    fn pods(&self) -> Api<Pod> {
        Api::with_client(self.api.clone(), Some("default".into()))
    }

    async fn create(&self, pod: &Pod) -> Pod {
        self.pods().create(pod).await.unwrap()
    }

    /// Waits (at most `limit` of tokio time) until the pod `name` exists
    /// and satisfies `f`; panics with its last status otherwise.
    async fn wait_pod(&self, name: &str, what: &str, limit: Duration, f: impl Fn(&Pod) -> bool) -> Pod {
        let deadline = Instant::now() + limit;
        let mut last = None;
        loop {
            if let Some(pod) = self.pods().get_opt(name).await.unwrap() {
                if f(&pod) {
                    return pod;
                }
                last = Some(pod);
            }
            if Instant::now() >= deadline {
                let shown = last.map_or_else(
                    || "the pod does not exist".to_owned(),
                    |p| serde_json::to_string_pretty(&p.status).unwrap(),
                );
                panic!("timed out after {limit:?} waiting for {name}: {what}; last status: {shown}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the pod `name` is gone from the API.
    async fn wait_gone(&self, name: &str, limit: Duration) {
        eventually(&format!("pod {name} deleted"), limit, || async {
            self.pods().get_opt(name).await.unwrap().is_none().then_some(())
        })
        .await;
    }

    /// The instances of the container `name` (any pod), oldest first.
    async fn instances(&self, name: &str) -> Vec<cri::ContainerStatus> {
        instances(self.runtime.as_ref(), &[(CONTAINER_NAME_LABEL, name)]).await
    }
}

/// The fake runtime, keeping the last status of every container removed
/// through it (the agent removes a deleted pod's containers right after
/// they stopped, so their exit is seen here).
#[derive(Debug)]
struct Recording {
    inner: Arc<FakeRuntime>,
    removed: Mutex<Vec<cri::ContainerStatus>>,
}

impl Recording {
    fn removed(&self, name: &str) -> Vec<cri::ContainerStatus> {
        let removed = self.removed.lock().unwrap();
        removed
            .iter()
            .filter(|c| c.labels.get(CONTAINER_NAME_LABEL).map(String::as_str) == Some(name))
            .cloned()
            .collect()
    }
}

#[async_trait::async_trait]
impl RuntimeService for Recording {
    async fn version(&self) -> CriResult<VersionResponse> {
        self.inner.version().await
    }
    async fn run_pod_sandbox(&self, config: &PodSandboxConfig) -> CriResult<String> {
        self.inner.run_pod_sandbox(config).await
    }
    async fn stop_pod_sandbox(&self, id: &str) -> CriResult<()> {
        self.inner.stop_pod_sandbox(id).await
    }
    async fn remove_pod_sandbox(&self, id: &str) -> CriResult<()> {
        self.inner.remove_pod_sandbox(id).await
    }
    async fn pod_sandbox_status(&self, id: &str) -> CriResult<PodSandboxStatus> {
        self.inner.pod_sandbox_status(id).await
    }
    async fn list_pod_sandbox(&self, filter: &PodSandboxFilter) -> CriResult<Vec<PodSandbox>> {
        self.inner.list_pod_sandbox(filter).await
    }
    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
        sandbox_config: &PodSandboxConfig,
    ) -> CriResult<String> {
        self.inner.create_container(sandbox_id, config, sandbox_config).await
    }
    async fn start_container(&self, id: &str) -> CriResult<()> {
        self.inner.start_container(id).await
    }
    async fn stop_container(&self, id: &str, timeout: Duration) -> CriResult<()> {
        self.inner.stop_container(id, timeout).await
    }
    async fn remove_container(&self, id: &str) -> CriResult<()> {
        if let Ok(status) = self.inner.container_status(id).await {
            self.removed.lock().unwrap().push(status);
        }
        self.inner.remove_container(id).await
    }
    async fn list_containers(&self, filter: &ContainerFilter) -> CriResult<Vec<cri::Container>> {
        self.inner.list_containers(filter).await
    }
    async fn container_status(&self, id: &str) -> CriResult<cri::ContainerStatus> {
        self.inner.container_status(id).await
    }
    async fn update_container_resources(&self, id: &str, resources: &LinuxContainerResources) -> CriResult<()> {
        self.inner.update_container_resources(id, resources).await
    }
    async fn reopen_container_log(&self, id: &str) -> CriResult<()> {
        self.inner.reopen_container_log(id).await
    }
    async fn exec_sync(&self, id: &str, cmd: &[String], timeout: Duration) -> CriResult<ExecSyncResponse> {
        self.inner.exec_sync(id, cmd, timeout).await
    }
    async fn container_stats(&self, id: &str) -> CriResult<ContainerStats> {
        self.inner.container_stats(id).await
    }
    async fn list_container_stats(&self, filter: &ContainerFilter) -> CriResult<Vec<ContainerStats>> {
        self.inner.list_container_stats(filter).await
    }
    async fn status(&self) -> CriResult<RuntimeStatus> {
        self.inner.status().await
    }
}

/// Container statuses of the runtime's containers with these labels,
/// oldest first.
async fn instances(runtime: &FakeRuntime, labels: &[(&str, &str)]) -> Vec<cri::ContainerStatus> {
    let filter = ContainerFilter {
        label_selector: labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        ..ContainerFilter::default()
    };
    let mut out = Vec::new();
    for c in runtime.list_containers(&filter).await.unwrap() {
        out.push(runtime.container_status(&c.id).await.unwrap());
    }
    out.sort_by_key(|c| c.created_at);
    out
}

/// Waits until the runtime has no sandbox and no container left.
async fn wait_runtime_empty(runtime: &FakeRuntime, limit: Duration) {
    eventually("the runtime is empty", limit, || async {
        let sandboxes = runtime.list_pod_sandbox(&PodSandboxFilter::default()).await.unwrap();
        let containers = runtime.list_containers(&ContainerFilter::default()).await.unwrap();
        (sandboxes.is_empty() && containers.is_empty()).then_some(())
    })
    .await;
}

/// Seconds from `from` to the CRI timestamp `to` (ns).
fn since(from: SystemTime, to: i64) -> f64 {
    let from = from.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as f64;
    (to as f64 - from) / 1e9
}

/// Polls `f` every 100 ms (tokio time) until it answers, at most `limit`.
async fn eventually<T, Fut: Future<Output = Option<T>>>(what: &str, limit: Duration, mut f: impl FnMut() -> Fut) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A pod `default/<name>` bound to the node, with `spec`.
fn pod(name: &str, spec: serde_json::Value) -> Pod {
    let mut value = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    });
    value["spec"]["nodeName"] = json!(NODE);
    serde_json::from_value(value).unwrap()
}

fn phase(p: &Pod) -> &str {
    p.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

fn condition<'a>(p: &'a Pod, type_: &str) -> Option<&'a PodCondition> {
    p.status.as_ref()?.conditions.iter().find(|c| c.type_ == type_)
}

fn condition_is(p: &Pod, type_: &str, status: &str) -> bool {
    condition(p, type_).is_some_and(|c| c.status == status)
}

/// The status of container `name` (app or init).
fn cstatus<'a>(p: &'a Pod, name: &str) -> Option<&'a ContainerStatus> {
    let s = p.status.as_ref()?;
    s.container_statuses.iter().chain(&s.init_container_statuses).find(|c| c.name == name)
}

fn waiting_reason(p: &Pod, name: &str) -> Option<String> {
    cstatus(p, name)?.state.as_ref()?.waiting.as_ref()?.reason.clone()
}

fn running(p: &Pod, name: &str) -> bool {
    cstatus(p, name).and_then(|c| c.state.as_ref()).is_some_and(|s| s.running.is_some())
}

fn restart_count(p: &Pod, name: &str) -> i32 {
    cstatus(p, name).map_or(-1, |c| c.restart_count)
}

fn terminated_exit(p: &Pod, name: &str) -> Option<i32> {
    cstatus(p, name)?.state.as_ref()?.terminated.as_ref().map(|t| t.exit_code)
}

fn last_exit(p: &Pod, name: &str) -> Option<i32> {
    cstatus(p, name)?.last_state.as_ref()?.terminated.as_ref().map(|t| t.exit_code)
}

fn in_cidr(ip: &str, cidr: &str) -> bool {
    let (net, len) = cidr.split_once('/').unwrap();
    let (Ok(ip), Ok(net), Ok(len)) = (ip.parse::<Ipv4Addr>(), net.parse::<Ipv4Addr>(), len.parse::<u32>()) else {
        return false;
    };
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    u32::from(ip) & mask == u32::from(net) & mask
}

/// Seconds between two CRI timestamps (ns).
fn gap(from: i64, to: i64) -> f64 {
    (to - from) as f64 / 1e9
}

// ---------------------------------------------------------------------------
// 1. A simple pod
// ---------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn simple_pod_becomes_running_and_ready() {
    let mut h = Harness::new("simple", |r| r);
    let created = h.create(&pod("web", json!({"containers": [{"name": "app", "image": "nginx:1.27"}]}))).await;
    // The scheduler's condition, with a transition time the agent keeps.
    let scheduled_at = "2024-01-02T03:04:05Z";
    let mut scheduled = created.clone();
    scheduled.status = Some(
        serde_json::from_value(json!({
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": scheduled_at}],
        }))
        .unwrap(),
    );
    h.pods().update_status(&scheduled).await.unwrap();
    h.start();

    let p = h
        .wait_pod("web", "Running and Ready", secs(30), |p| phase(p) == "Running" && condition_is(p, "Ready", "True"))
        .await;
    for c in ["Initialized", "ContainersReady", "Ready", "PodScheduled"] {
        assert!(condition_is(&p, c, "True"), "{c}: {:?}", p.status);
    }
    let kept = condition(&p, "PodScheduled").unwrap().last_transition_time.unwrap();
    assert_eq!(kept.0.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), scheduled_at, "PodScheduled kept");
    let status = p.status.clone().unwrap();
    let app = cstatus(&p, "app").unwrap();
    assert!(running(&p, "app"));
    assert!(app.ready);
    assert_eq!(app.started, Some(true));
    assert_eq!(app.restart_count, 0);
    assert_eq!(app.image, "nginx:1.27");
    assert!(app.image_id.starts_with("sha256:"), "{}", app.image_id);
    let id = app.container_id.clone().unwrap();
    let raw = id.strip_prefix("k://").unwrap_or_else(|| panic!("containerID {id}"));
    assert_eq!(h.runtime.container_status(raw).await.unwrap().state, ContainerState::Running);
    let ip = status.pod_ip.clone().unwrap();
    assert!(in_cidr(&ip, POD_CIDR), "pod IP {ip} not in {POD_CIDR}");
    assert_eq!(status.pod_ips.len(), 1);
    assert_eq!(status.pod_ips[0].ip, ip);
    assert_eq!(status.host_ip.as_deref(), Some(HOST_IP));
    assert!(status.start_time.is_some());
    assert_eq!(status.qos_class.as_deref(), Some("BestEffort"));
    assert_eq!(h.runtime.calls("RunPodSandbox"), 1);
    assert_eq!(h.runtime.calls("CreateContainer"), 1);
    assert_eq!(h.runtime.calls("StartContainer"), 1);

    let node = Api::<Node>::with_client(h.api.clone(), None).get(NODE).await.unwrap();
    let node_status = node.status.unwrap();
    assert!(node_status.addresses.iter().any(|a| a.type_ == "InternalIP" && a.address == HOST_IP));
    assert!(node_status.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let lease = Api::<Lease>::with_client(h.api.clone(), Some("kube-node-lease".into())).get(NODE).await.unwrap();
    assert_eq!(lease.spec.holder_identity.as_deref(), Some(NODE));

    // Stable: nothing more is created while it runs.
    tokio::time::sleep(secs(30)).await;
    assert_eq!(h.runtime.calls("CreateContainer"), 1);
    assert_eq!(h.runtime.calls("RunPodSandbox"), 1);
    h.shutdown().await;
}

// ---------------------------------------------------------------------------
// 2. Init containers
// ---------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn init_containers_run_in_order_before_the_app() {
    let mut h = Harness::new("init-order", |r| {
        r.with_container_script("init-a", Script::completes(secs(2)))
            .with_container_script("init-b", Script::completes(secs(3)))
    });
    h.start();
    h.create(&pod(
        "ordered",
        json!({
            "initContainers": [{"name": "init-a", "image": "busybox"}, {"name": "init-b", "image": "busybox"}],
            "containers": [{"name": "app", "image": "nginx"}],
        }),
    ))
    .await;
    let p = h.wait_pod("ordered", "Running", secs(60), |p| phase(p) == "Running" && running(p, "app")).await;
    let (a, b, app) = (h.instances("init-a").await, h.instances("init-b").await, h.instances("app").await);
    assert_eq!((a.len(), b.len(), app.len()), (1, 1, 1), "each container ran once");
    let (a, b, app) = (&a[0], &b[0], &app[0]);
    assert_eq!((a.exit_code, b.exit_code), (0, 0));
    assert!(a.created_at < a.finished_at && a.finished_at <= b.created_at, "init-b starts after init-a completed");
    assert!(b.finished_at <= app.created_at, "the app starts after init-b completed");
    assert!(gap(a.started_at, a.finished_at) >= 2.0 && gap(b.started_at, b.finished_at) >= 3.0);
    assert!(condition_is(&p, "Initialized", "True"));
    for name in ["init-a", "init-b"] {
        let s = cstatus(&p, name).unwrap();
        assert_eq!(terminated_exit(&p, name), Some(0), "{name}");
        assert!(s.ready, "{name} is ready once completed");
        let reason = s.state.as_ref().unwrap().terminated.as_ref().unwrap().reason.clone();
        assert_eq!(reason.as_deref(), Some("Completed"));
    }
    h.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn failed_init_container_fails_the_pod_under_never() {
    let mut h = Harness::new("init-never", |r| r.with_container_script("setup", Script::exits(SECOND, 1)));
    h.start();
    h.create(&pod(
        "doomed",
        json!({
            "restartPolicy": "Never",
            "initContainers": [{"name": "setup", "image": "busybox"}],
            "containers": [{"name": "app", "image": "nginx"}],
        }),
    ))
    .await;
    let p = h.wait_pod("doomed", "Failed", secs(30), |p| phase(p) == "Failed").await;
    assert_eq!(terminated_exit(&p, "setup"), Some(1), "{:?}", p.status);
    assert!(condition_is(&p, "Initialized", "False"));
    assert_eq!(condition(&p, "Initialized").unwrap().reason.as_deref(), Some("ContainersNotInitialized"));
    tokio::time::sleep(secs(60)).await;
    assert_eq!(h.instances("setup").await.len(), 1, "the init container is not restarted");
    assert!(h.instances("app").await.is_empty(), "the app container is never created");
    assert_eq!(h.runtime.calls("CreateContainer"), 1);
    let p = h.pods().get("doomed").await.unwrap();
    assert_eq!(phase(&p), "Failed", "a terminal phase stays");
    h.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn failed_init_container_backs_off_under_always() {
    let mut h = Harness::new("init-always", |r| r.with_container_script("setup", Script::exits(SECOND, 1)));
    h.start();
    h.create(&pod(
        "retrying",
        json!({
            "initContainers": [{"name": "setup", "image": "busybox"}],
            "containers": [{"name": "app", "image": "nginx"}],
        }),
    ))
    .await;
    let p = h
        .wait_pod("retrying", "init container in CrashLoopBackOff after 3 restarts", secs(120), |p| {
            restart_count(p, "setup") == 3 && waiting_reason(p, "setup").as_deref() == Some("CrashLoopBackOff")
        })
        .await;
    assert_eq!(phase(&p), "Pending", "{:?}", p.status);
    assert_eq!(last_exit(&p, "setup"), Some(1));
    let uid = &p.metadata.uid;
    let waiting = cstatus(&p, "setup").unwrap().state.as_ref().unwrap().waiting.clone().unwrap();
    assert_eq!(
        waiting.message.as_deref(),
        Some(format!("back-off 40s restarting failed container=setup pod=retrying_default({uid})").as_str()),
        "the fourth failure waits 40 s"
    );
    assert!(condition_is(&p, "Initialized", "False"));
    assert_eq!(waiting_reason(&p, "app").as_deref(), Some("PodInitializing"));
    let setup = h.instances("setup").await;
    assert_eq!(setup.len(), 4);
    // Between attempts: the 1 s run, then no back-off after the first
    // failure, 10 s after the second, 20 s after the third; the next sync
    // (every second) retries.
    for (i, backoff) in [0.0, 10.0, 20.0].into_iter().enumerate() {
        let g = gap(setup[i].created_at, setup[i + 1].created_at);
        assert!(g >= backoff + 1.0 && g < backoff + 4.0, "gap {i}: {g} s, back-off {backoff} s");
    }
    assert!(h.instances("app").await.is_empty(), "the app container is never created");
    h.shutdown().await;
}

// ---------------------------------------------------------------------------
// 3. Crash loop
// ---------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn crash_loop_restarts_at_once_then_backs_off_10_20_40_seconds() {
    let mut h = Harness::new("crash-loop", |r| r.with_container_script("crasher", Script::exits(SECOND, 1)));
    h.start();
    let created = h.create(&pod("crash", json!({"containers": [{"name": "crasher", "image": "busybox"}]}))).await;
    let uid = &created.metadata.uid;
    let message =
        |delay: &str| format!("back-off {delay} restarting failed container=crasher pod=crash_default({uid})");

    // The first crash is restarted at once; while backing off after the
    // second: the kubelet's message.
    let p = h
        .wait_pod("crash", "CrashLoopBackOff after one restart", secs(60), |p| {
            restart_count(p, "crasher") == 1 && waiting_reason(p, "crasher").as_deref() == Some("CrashLoopBackOff")
        })
        .await;
    let waiting = cstatus(&p, "crasher").unwrap().state.as_ref().unwrap().waiting.clone().unwrap();
    assert_eq!(waiting.message.as_deref(), Some(message("10s").as_str()));
    assert_eq!(last_exit(&p, "crasher"), Some(1));
    let last = cstatus(&p, "crasher").unwrap().last_state.as_ref().unwrap().terminated.clone().unwrap();
    assert_eq!(last.reason.as_deref(), Some("Error"));
    assert_eq!(phase(&p), "Running", "under Always a crash-looping pod is Running");
    assert!(condition_is(&p, "Ready", "False"));
    assert_eq!(h.instances("crasher").await.len(), 2);

    // After the third crash: 20 s.
    let p = h
        .wait_pod("crash", "CrashLoopBackOff after two restarts", secs(60), |p| {
            restart_count(p, "crasher") == 2 && waiting_reason(p, "crasher").as_deref() == Some("CrashLoopBackOff")
        })
        .await;
    let waiting = cstatus(&p, "crasher").unwrap().state.as_ref().unwrap().waiting.clone().unwrap();
    assert_eq!(waiting.message.as_deref(), Some(message("20s").as_str()));

    let p = h.wait_pod("crash", "restartCount 4", secs(120), |p| restart_count(p, "crasher") >= 4).await;
    assert_eq!(restart_count(&p, "crasher"), 4);
    let all = h.instances("crasher").await;
    assert_eq!(all.len(), 5);
    for (i, c) in all.iter().enumerate() {
        assert_eq!(c.labels.get("io.kubernetes.container.restartCount").map(String::as_str), Some(&*i.to_string()));
    }
    for (i, backoff) in [0.0, 10.0, 20.0, 40.0].into_iter().enumerate() {
        let g = gap(all[i].created_at, all[i + 1].created_at);
        // The container runs 1 s, then waits out its back-off (none after
        // the first crash); the next sync (every second) restarts it.
        assert!(g >= backoff + 1.0 && g < backoff + 4.0, "gap {i}: {g} s, back-off {backoff} s");
    }
    h.shutdown().await;
}

// ---------------------------------------------------------------------------
// 4. Restart policies
// ---------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn on_failure_and_never_restart_policies() {
    let mut h = Harness::new("policies", |r| {
        r.with_container_script("ok", Script::completes(secs(2)))
            .with_container_script("flaky", Script::exits(secs(2), 1))
            .with_container_script("once", Script::exits(secs(2), 1))
    });
    h.start();
    h.create(&pod("job-ok", json!({"restartPolicy": "OnFailure", "containers": [{"name": "ok", "image": "busybox"}]})))
        .await;
    h.create(&pod(
        "job-flaky",
        json!({"restartPolicy": "OnFailure", "containers": [{"name": "flaky", "image": "busybox"}]}),
    ))
    .await;
    h.create(&pod("job-once", json!({"restartPolicy": "Never", "containers": [{"name": "once", "image": "busybox"}]})))
        .await;

    let ok = h.wait_pod("job-ok", "Succeeded", secs(30), |p| phase(p) == "Succeeded").await;
    assert_eq!(terminated_exit(&ok, "ok"), Some(0));
    assert_eq!(restart_count(&ok, "ok"), 0);
    assert!(condition_is(&ok, "Ready", "False"));
    assert_eq!(condition(&ok, "Ready").unwrap().reason.as_deref(), Some("PodCompleted"));

    let once = h.wait_pod("job-once", "Failed", secs(30), |p| phase(p) == "Failed").await;
    assert_eq!(terminated_exit(&once, "once"), Some(1));
    let t = cstatus(&once, "once").unwrap().state.as_ref().unwrap().terminated.clone().unwrap();
    assert_eq!(t.reason.as_deref(), Some("Error"));
    assert!(once.status.as_ref().unwrap().pod_ip.is_some(), "a finished pod keeps its IP");

    let flaky = h.wait_pod("job-flaky", "restarted", secs(60), |p| restart_count(p, "flaky") >= 1).await;
    assert_ne!(phase(&flaky), "Failed");
    assert_ne!(phase(&flaky), "Succeeded");

    tokio::time::sleep(secs(60)).await;
    assert_eq!(h.instances("ok").await.len(), 1, "exit 0 under OnFailure is not restarted");
    assert_eq!(h.instances("once").await.len(), 1, "exit 1 under Never is not restarted");
    // Exit 1 under OnFailure is restarted: at once, then after 10 s and
    // 20 s (each run 2 s); the next, 40 s later, is past this point.
    assert_eq!(h.instances("flaky").await.len(), 4, "exit 1 under OnFailure is restarted");
    // The finished pods' sandboxes are stopped.
    let ready = PodSandboxFilter { state: Some(cri::PodSandboxState::Ready), ..PodSandboxFilter::default() };
    let ready: Vec<String> = h
        .runtime
        .list_pod_sandbox(&ready)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.labels.get(POD_NAME_LABEL).cloned().unwrap_or_default())
        .collect();
    assert_eq!(ready, ["job-flaky"], "only the restarting pod keeps a ready sandbox");
    assert_eq!(phase(&h.pods().get("job-ok").await.unwrap()), "Succeeded");
    assert_eq!(phase(&h.pods().get("job-once").await.unwrap()), "Failed");
    h.shutdown().await;
}

// ---------------------------------------------------------------------------
// 5. Probes
// ---------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn readiness_probe_flips_the_ready_condition() {
    let healthy = Arc::new(AtomicBool::new(true));
    let flag = healthy.clone();
    let mut h = Harness::new("readiness", move |r| {
        r.with_container_script(
            "app",
            Script::runs_forever().exec_fn(move |call| {
                let ok = call.cmd.join(" ") != "check-ready" || flag.load(Ordering::SeqCst);
                ExecAnswer::new(if ok { 0 } else { 1 }, if ok { "ok" } else { "not ready" })
            }),
        )
    });
    h.start();
    h.create(&pod(
        "probed",
        json!({"containers": [{
            "name": "app", "image": "nginx",
            "readinessProbe": {"exec": {"command": ["check-ready"]}, "periodSeconds": 1, "failureThreshold": 3},
        }]}),
    ))
    .await;
    let p = h.wait_pod("probed", "Ready", secs(30), |p| condition_is(p, "Ready", "True")).await;
    assert!(cstatus(&p, "app").unwrap().ready);
    let execs = h.runtime.calls("ExecSync");
    assert!(execs >= 1, "the probe ran through ExecSync");

    healthy.store(false, Ordering::SeqCst);
    let flipped = Instant::now();
    let p = h.wait_pod("probed", "not Ready", secs(30), |p| condition_is(p, "Ready", "False")).await;
    let took = flipped.elapsed();
    assert!(took >= secs(2) && took <= secs(5), "three failures a second apart: {took:?}");
    let ready = condition(&p, "Ready").unwrap();
    assert_eq!(ready.reason.as_deref(), Some("ContainersNotReady"));
    assert_eq!(ready.message.as_deref(), Some("containers with unready status: [app]"));
    assert!(condition_is(&p, "ContainersReady", "False"));
    assert!(!cstatus(&p, "app").unwrap().ready);
    assert!(running(&p, "app"), "readiness failures do not stop the container");
    assert_eq!(phase(&p), "Running");

    healthy.store(true, Ordering::SeqCst);
    let p = h.wait_pod("probed", "Ready again", secs(10), |p| condition_is(p, "Ready", "True")).await;
    assert_eq!(restart_count(&p, "app"), 0, "readiness never restarts");
    assert_eq!(h.instances("app").await.len(), 1);
    h.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn liveness_failure_restarts_the_container() {
    // The first instance starts failing its liveness probe after 5 s; later
    // instances stay healthy.
    let first: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let seen = first.clone();
    let mut h = Harness::new("liveness", move |r| {
        r.with_container_script(
            "app",
            Script::runs_forever().exec_fn(move |call| {
                let mut first = seen.lock().unwrap();
                let first = first.get_or_insert_with(|| call.container_id.to_owned());
                let failing = *first == call.container_id && call.running_for >= secs(5);
                ExecAnswer::new(i32::from(failing), "")
            }),
        )
    });
    h.start();
    h.create(&pod(
        "live",
        json!({"containers": [{
            "name": "app", "image": "nginx",
            "livenessProbe": {"exec": {"command": ["check-live"]}, "periodSeconds": 1, "failureThreshold": 3},
        }]}),
    ))
    .await;
    let p = h.wait_pod("live", "restarted once", secs(60), |p| restart_count(p, "app") == 1 && running(p, "app")).await;
    let last = cstatus(&p, "app").unwrap().last_state.as_ref().unwrap().terminated.clone().unwrap();
    assert_eq!(last.exit_code, 143, "stopped with SIGTERM");
    let first_id = first.lock().unwrap().clone().unwrap();
    assert_eq!(last.container_id.as_deref(), Some(format!("k://{first_id}").as_str()));
    let all = h.instances("app").await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].id, first_id);
    assert_eq!(all[0].state, ContainerState::Exited);
    // Failing from 5 s, three failures a second apart: killed around 7 s.
    let ran = gap(all[0].started_at, all[0].finished_at);
    assert!((6.0..10.0).contains(&ran), "the first instance ran {ran} s");
    assert_eq!(all[1].state, ContainerState::Running);

    tokio::time::sleep(secs(30)).await;
    let p = h.pods().get("live").await.unwrap();
    assert_eq!(restart_count(&p, "app"), 1, "the healthy instance keeps running");
    assert!(running(&p, "app"));
    assert!(condition_is(&p, "Ready", "True"));
    assert_eq!(h.runtime.calls("CreateContainer"), 2);
    h.shutdown().await;
}

// ---------------------------------------------------------------------------
// 6. Graceful deletion
// ---------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn graceful_deletion_waits_for_the_grace_period() {
    let mut h =
        Harness::new("graceful", |r| r.with_container_script("stubborn", Script::runs_forever().ignores_sigterm()));
    h.start();
    h.create(&pod(
        "slow-stop",
        json!({"terminationGracePeriodSeconds": 30, "containers": [{"name": "stubborn", "image": "nginx"}]}),
    ))
    .await;
    h.wait_pod("slow-stop", "Running", secs(30), |p| running(p, "stubborn")).await;
    let id = h.instances("stubborn").await[0].id.clone();

    let (start, wall) = (Instant::now(), h.clock.now());
    let outcome = h.pods().delete("slow-stop", &DeleteOptions::default()).await.unwrap();
    assert!(matches!(outcome, DeleteOutcome::Pending(_)), "graceful: the object stays");
    let p = h.pods().get("slow-stop").await.unwrap();
    assert!(p.metadata.deletion_timestamp.is_some());
    assert_eq!(p.metadata.deletion_grace_period_seconds, Some(30));

    tokio::time::sleep(secs(20)).await;
    assert!(h.pods().get_opt("slow-stop").await.unwrap().is_some(), "still there after 20 s");
    assert_eq!(h.runtime.container_status(&id).await.unwrap().state, ContainerState::Running);
    assert_eq!(h.runtime.calls("StopContainer"), 1, "one stop, waiting out the grace period");

    h.wait_gone("slow-stop", secs(60)).await;
    let took = start.elapsed();
    assert!(took >= secs(30) && took < secs(32), "deleted after {took:?}");
    let removed = h.recording.removed("stubborn");
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].id, id);
    assert_eq!(removed[0].exit_code, 137, "killed once the grace period ran out");
    let killed = since(wall, removed[0].finished_at);
    assert!((30.0..31.0).contains(&killed), "killed {killed} s after the deletion");
    wait_runtime_empty(&h.runtime, secs(5)).await;
    h.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn deletion_of_a_container_honouring_sigterm_is_quick() {
    let mut h = Harness::new("graceful-quick", |r| r);
    h.start();
    h.create(&pod(
        "quick-stop",
        json!({"terminationGracePeriodSeconds": 30, "containers": [{"name": "polite", "image": "nginx"}]}),
    ))
    .await;
    h.wait_pod("quick-stop", "Running", secs(30), |p| running(p, "polite")).await;

    let (start, wall) = (Instant::now(), h.clock.now());
    h.pods().delete("quick-stop", &DeleteOptions::default()).await.unwrap();
    h.wait_gone("quick-stop", secs(30)).await;
    let took = start.elapsed();
    assert!(took < secs(2), "deleted after {took:?}");
    let removed = h.recording.removed("polite");
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].exit_code, 143, "stopped by SIGTERM");
    assert!(since(wall, removed[0].finished_at) < 1.0);
    wait_runtime_empty(&h.runtime, secs(5)).await;

    // A new pod of the same name is a new pod.
    h.create(&pod("quick-stop", json!({"containers": [{"name": "polite", "image": "nginx"}]}))).await;
    h.wait_pod("quick-stop", "the new pod Running", secs(30), |p| running(p, "polite")).await;
    assert_eq!(h.runtime.calls("RunPodSandbox"), 2);
    h.shutdown().await;
}

/// Follows the pod `name` from now: the time (since `start`) its container
/// `container` is first reported terminated, with its exit code, and the
/// time the pod is deleted.
async fn follow_deletion(
    pods: Api<Pod>,
    name: &'static str,
    container: &'static str,
    start: Instant,
) -> (Option<(Duration, i32)>, Duration) {
    let mut events = pods.watch(&WatchOptions::default()).await.unwrap();
    let mut terminated = None;
    while let Some(event) = events.next().await {
        match event.unwrap() {
            WatchEvent::Added(p) | WatchEvent::Modified(p) if p.metadata.name == name => {
                if terminated.is_none()
                    && let Some(code) = terminated_exit(&p, container)
                {
                    terminated = Some((start.elapsed(), code));
                }
            }
            WatchEvent::Deleted(p) if p.metadata.name == name => return (terminated, start.elapsed()),
            _ => {}
        }
    }
    panic!("the watch ended before {name} was deleted");
}

/// As in Kubernetes, watchers see the pod's final status (its containers
/// terminated) before the pod goes away.
#[tokio::test(start_paused = true)]
async fn final_status_is_seen_before_the_pod_is_removed() {
    let mut h = Harness::new("final-status", |r| r);
    h.start();
    h.create(&pod("last-words", json!({"containers": [{"name": "app", "image": "nginx"}]}))).await;
    h.wait_pod("last-words", "Running", secs(30), |p| running(p, "app")).await;
    let follower = tokio::spawn(follow_deletion(h.pods(), "last-words", "app", Instant::now()));
    tokio::task::yield_now().await;
    h.pods().delete("last-words", &DeleteOptions::default()).await.unwrap();
    let (terminated, _) = tokio::time::timeout(secs(60), follower).await.expect("deleted in time").unwrap();
    let (_, code) = terminated.expect("the final status was written before the deletion");
    assert_eq!(code, 143);
    h.shutdown().await;
}

/// A restarted agent adopts the pods still running in the runtime, and its
/// housekeeping removes those deleted from the API while it was away.
#[tokio::test(start_paused = true)]
async fn restarted_agent_adopts_running_pods_and_removes_orphans() {
    let mut h = Harness::new("restart", |r| r);
    h.start();
    h.create(&pod("kept", json!({"containers": [{"name": "kept-app", "image": "nginx"}]}))).await;
    h.create(&pod("orphan", json!({"containers": [{"name": "orphan-app", "image": "nginx"}]}))).await;
    let before = h.wait_pod("kept", "Running", secs(30), |p| running(p, "kept-app")).await;
    h.wait_pod("orphan", "Running", secs(30), |p| running(p, "orphan-app")).await;
    h.stop().await;
    assert_eq!(h.instances("kept-app").await[0].state, ContainerState::Running, "pods outlive the agent");

    // Force-deleted while no agent runs.
    h.pods().delete("orphan", &DeleteOptions { grace_period_seconds: Some(0), ..Default::default() }).await.unwrap();
    h.start();
    wait_until_orphan_gone(&h).await;
    tokio::time::sleep(secs(15)).await;
    let after = h.pods().get("kept").await.unwrap();
    assert!(running(&after, "kept-app"));
    assert_eq!(cstatus(&after, "kept-app").unwrap().container_id, cstatus(&before, "kept-app").unwrap().container_id);
    assert_eq!(restart_count(&after, "kept-app"), 0);
    assert_eq!(h.runtime.calls("RunPodSandbox"), 2, "no new sandbox for the adopted pod");
    assert_eq!(h.runtime.calls("CreateContainer"), 2, "no new container for the adopted pod");
    assert_eq!(after.status.as_ref().unwrap().pod_ip, before.status.as_ref().unwrap().pod_ip);
    h.shutdown().await;
}

async fn wait_until_orphan_gone(h: &Harness) {
    eventually("housekeeping removed the orphan", secs(30), || async {
        let left = instances(h.runtime.as_ref(), &[(POD_NAME_LABEL, "orphan")]).await;
        let sandboxes = h.runtime.list_pod_sandbox(&PodSandboxFilter::default()).await.unwrap();
        (left.is_empty() && sandboxes.len() == 1).then_some(())
    })
    .await;
}

// ---------------------------------------------------------------------------
// 7. Spec change
// ---------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn image_change_restarts_only_that_container() {
    let mut h = Harness::new("spec-change", |r| r);
    h.start();
    h.create(&pod(
        "two",
        json!({"containers": [{"name": "web", "image": "nginx:1.27"}, {"name": "cache", "image": "redis:7"}]}),
    ))
    .await;
    let before = h.wait_pod("two", "Running", secs(30), |p| running(p, "web") && running(p, "cache")).await;
    let web_id = cstatus(&before, "web").unwrap().container_id.clone().unwrap();
    let cache_id = cstatus(&before, "cache").unwrap().container_id.clone().unwrap();

    h.pods()
        .guaranteed_update("two", |p| {
            p.spec.containers[0].image = Some("nginx:1.28".into());
        })
        .await
        .unwrap();
    let after = h
        .wait_pod("two", "web restarted with the new image", secs(30), |p| {
            restart_count(p, "web") == 1 && running(p, "web") && cstatus(p, "web").unwrap().image == "nginx:1.28"
        })
        .await;
    let web = cstatus(&after, "web").unwrap();
    assert_ne!(web.container_id.as_deref(), Some(web_id.as_str()), "a new instance");
    assert_eq!(last_exit(&after, "web"), Some(143), "the old one was stopped");
    let cache = cstatus(&after, "cache").unwrap();
    assert_eq!(cache.container_id.as_deref(), Some(cache_id.as_str()), "cache untouched");
    assert_eq!(cache.restart_count, 0);
    assert!(running(&after, "cache"));
    assert_eq!(h.instances("cache").await.len(), 1);
    let webs = h.instances("web").await;
    assert_eq!(webs.len(), 2);
    assert_eq!(webs[1].image.image, "nginx:1.28");
    assert_eq!(h.runtime.calls("RunPodSandbox"), 1, "the sandbox is kept");
    tokio::time::sleep(secs(20)).await;
    assert_eq!(h.runtime.calls("CreateContainer"), 3);
    h.shutdown().await;
}

// ---------------------------------------------------------------------------
// 8. Image pull and configuration errors
// ---------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn image_pull_failure_backs_off() {
    let mut h = Harness::new("pull", |r| {
        r.with_script("registry.example/missing", Script::new().pull_error("manifest unknown"))
    });
    h.start();
    h.create(&pod("unpullable", json!({"containers": [{"name": "app", "image": "registry.example/missing:1"}]}))).await;
    let p = h
        .wait_pod("unpullable", "ErrImagePull", secs(30), |p| {
            waiting_reason(p, "app").as_deref() == Some("ErrImagePull")
        })
        .await;
    let message = cstatus(&p, "app").unwrap().state.as_ref().unwrap().waiting.as_ref().unwrap().message.clone();
    assert!(message.as_deref().is_some_and(|m| m.contains("manifest unknown")), "{message:?}");
    assert_eq!(phase(&p), "Pending");
    h.wait_pod("unpullable", "ImagePullBackOff", secs(30), |p| {
        waiting_reason(p, "app").as_deref() == Some("ImagePullBackOff")
    })
    .await;
    // Pulls at 0 s and 10 s; the next waits 20 s more (the kubelet's
    // image back-off starts at 10 s after the first failure).
    tokio::time::sleep(secs(25)).await;
    let pulls = h.runtime.calls("PullImage");
    assert_eq!(pulls, 2, "pulls back off 10 s, then 20 s: {pulls} pulls in ~26 s");
    assert_eq!(h.runtime.calls("CreateContainer"), 0);
    h.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn missing_config_map_key_holds_the_container_until_created() {
    let mut h = Harness::new("config-error", |r| r);
    h.start();
    h.create(&pod(
        "configured",
        json!({"containers": [{
            "name": "app", "image": "nginx",
            "env": [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}}],
        }]}),
    ))
    .await;
    let p = h
        .wait_pod("configured", "CreateContainerConfigError", secs(30), |p| {
            waiting_reason(p, "app").as_deref() == Some("CreateContainerConfigError")
        })
        .await;
    let message = cstatus(&p, "app").unwrap().state.as_ref().unwrap().waiting.as_ref().unwrap().message.clone();
    assert!(message.as_deref().is_some_and(|m| m.contains("settings")), "{message:?}");
    assert_eq!(phase(&p), "Pending");
    tokio::time::sleep(secs(5)).await;
    assert_eq!(h.runtime.calls("CreateContainer"), 0);

    let mut cm: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "settings", "namespace": "default"}, "data": {"mode": "fast"}}),
    )
    .unwrap();
    cm.api_version = "v1".into();
    cm.kind = "ConfigMap".into();
    Api::<ConfigMap>::with_client(h.api.clone(), Some("default".into())).create(&cm).await.unwrap();
    let p = h.wait_pod("configured", "Running", secs(30), |p| running(p, "app")).await;
    assert_eq!(phase(&p), "Running");
    assert_eq!(h.runtime.calls("CreateContainer"), 1);
    h.shutdown().await;
}

// ---------------------------------------------------------------------------
// 9. Static pods
// ---------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn static_pods_run_with_mirror_pods() {
    let mut h = Harness::new("static", |r| r);
    let manifests = h.dir.join("manifests");
    std::fs::create_dir_all(&manifests).unwrap();
    let file = manifests.join("etcd.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\nspec:\n  containers:\n  - name: etcd\n    image: etcd:3.5\n",
    )
    .unwrap();
    let path = manifests.clone();
    h.start_with(move |c| c.pod_manifest_path = Some(path));

    let mirror =
        h.wait_pod("etcd-n1", "mirror Running", secs(60), |p| phase(p) == "Running" && running(p, "etcd")).await;
    let first_hash = mirror.metadata.annotations.get(k_node::static_pods::CONFIG_MIRROR).cloned().unwrap();
    assert_eq!(mirror.spec.node_name.as_deref(), Some(NODE));
    let ip = mirror.status.as_ref().unwrap().pod_ip.clone().unwrap();
    assert!(in_cidr(&ip, POD_CIDR), "{ip}");
    let etcd = h.instances("etcd").await;
    assert_eq!(etcd.len(), 1);
    assert_eq!(etcd[0].state, ContainerState::Running);
    assert_eq!(etcd[0].labels.get(POD_NAME_LABEL).map(String::as_str), Some("etcd-n1"));
    // Steady: the mirror's status is not rewritten when nothing changes.
    let version = h.pods().get("etcd-n1").await.unwrap().metadata.resource_version;
    tokio::time::sleep(secs(25)).await;
    assert_eq!(h.pods().get("etcd-n1").await.unwrap().metadata.resource_version, version);

    // Deleting the mirror does not stop the pod; the mirror comes back.
    h.pods().delete("etcd-n1", &DeleteOptions { grace_period_seconds: Some(0), ..Default::default() }).await.unwrap();
    h.wait_pod("etcd-n1", "mirror recreated", secs(30), |p| phase(p) == "Running").await;
    assert_eq!(h.instances("etcd").await.len(), 1, "the static pod kept running");

    // A changed manifest is a new pod: the old one stops, the mirror is
    // replaced.
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\nspec:\n  containers:\n  - name: etcd\n    image: etcd:3.6\n",
    )
    .unwrap();
    let mirror = h
        .wait_pod("etcd-n1", "mirror of the new manifest Running", secs(60), |p| {
            running(p, "etcd") && cstatus(p, "etcd").is_some_and(|c| c.image == "etcd:3.6")
        })
        .await;
    assert_ne!(mirror.metadata.annotations.get(k_node::static_pods::CONFIG_MIRROR), Some(&first_hash));
    eventually("the old static pod removed", secs(30), || async {
        let etcd = h.instances("etcd").await;
        (etcd.len() == 1 && etcd[0].image.image == "etcd:3.6" && etcd[0].state == ContainerState::Running).then_some(())
    })
    .await;

    std::fs::remove_file(&file).unwrap();
    h.wait_gone("etcd-n1", secs(60)).await;
    eventually("the static pod stopped and removed", secs(30), || async {
        let sandboxes = h.runtime.list_pod_sandbox(&PodSandboxFilter::default()).await.unwrap();
        let containers = h.runtime.list_containers(&ContainerFilter::default()).await.unwrap();
        (sandboxes.is_empty() && containers.is_empty()).then_some(())
    })
    .await;
    assert!(h.runtime.calls("StopContainer") >= 1);
    h.shutdown().await;
}

// ---------------------------------------------------------------------------
// 10. Simulated nodes
// ---------------------------------------------------------------------------

/// Real time: the simulated nodes use the system clock.
#[tokio::test]
async fn simulated_nodes_run_and_delete_pods() {
    let api: Arc<dyn ObjectApi> = Arc::new(k_store::Store::in_memory());
    let root = std::env::temp_dir().join(format!("k-node-agent-test-{}-sim", std::process::id()));
    let nodes_root = root.clone();
    let nodes = k_node::sim::SimulatedNodes::new(api.clone(), 5)
        .with_sync_period(Duration::from_millis(100))
        .configure(move |c| c.root_dir = nodes_root.join(&c.name));
    let names = nodes.names().to_vec();
    assert_eq!(names.len(), 5);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(nodes.run(async move {
        let _ = stopped.await;
    }));

    let pods: Api<Pod> = Api::with_client(api.clone(), Some("default".into()));
    let mut wanted = Vec::new();
    for (i, node) in names.iter().enumerate() {
        for j in 0..2 {
            let mut p = pod(&format!("sim-{i}-{j}"), json!({"containers": [{"name": "app", "image": "pause"}]}));
            p.spec.node_name = Some(node.clone());
            pods.create(&p).await.unwrap();
            wanted.push((p.metadata.name.clone(), i));
        }
    }
    let limit = Duration::from_secs(20);
    for (name, i) in &wanted {
        let deadline = Instant::now() + limit;
        loop {
            let p = pods.get(name).await.unwrap();
            if phase(&p) == "Running" && condition_is(&p, "Ready", "True") {
                let ip = p.status.as_ref().unwrap().pod_ip.clone().unwrap();
                let cidr = k_node::sim::pod_cidr(*i);
                assert!(in_cidr(&ip, &cidr), "{name}: {ip} not in {cidr}");
                break;
            }
            assert!(Instant::now() < deadline, "{name} not Running: {:?}", p.status);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let registered = Api::<Node>::with_client(api.clone(), None).list(&Default::default()).await.unwrap();
    let mut registered: Vec<String> = registered.items.into_iter().map(|n| n.metadata.name).collect();
    registered.sort();
    assert_eq!(registered, names);

    for (name, _) in &wanted {
        pods.delete(name, &DeleteOptions::default()).await.unwrap();
    }
    let deadline = Instant::now() + limit;
    loop {
        let left = pods.list(&Default::default()).await.unwrap().items.len();
        if left == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{left} pods left");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), task).await.expect("the nodes stop").unwrap();
    let _ = std::fs::remove_dir_all(&root);
}
