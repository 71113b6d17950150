//! The node agent on the process runtime, end to end (root only).
//!
//! k-apiserver serves an in-memory store over HTTP (with the node agents'
//! logs behind `pods/log`), `kubectl` talks to it through a kubeconfig,
//! and each node is a [`NodeAgent`] over a [`ProcessRuntime`] whose pods
//! get a CNI bridge network (reference plugins `bridge` + `host-local`) in
//! the host network namespace: each node its own bridge and pod CIDR, the
//! bridge's gateway address being the node's InternalIP. Pods are created
//! already bound (`spec.nodeName`).
//!
//! Covered: readiness (httpGet) and the pod IP answering HTTP from the
//! host; a SIGKILLed container restarted (137 in lastState); a failing
//! liveness probe restarting its container; a memory limit enforced by an
//! OOM kill; `kubectl logs` (`--tail`, `-c`); `kubectl delete` stopping
//! the processes within the grace period, removing the pod and releasing
//! its IP; a pod on one node reaching a pod on another by pod IP.
//!
//! Needs root, `python3`, `nsenter`/`unshare` (util-linux), the reference
//! CNI plugins (containernetworking-plugins) and `kubectl` on PATH.
//! Everything made (bridges, namespaces, cgroups, directories, the
//! previous `ip_forward`) is undone at the end of each test, also when it
//! fails.

use std::net::{Ipv4Addr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::BoxFuture;
use k_api_types::core::v1::{Event, Pod};
use k_apiserver::{ApiServer, ServerConfig};
use k_netplugin::cri::image::HostImages;
use k_netplugin::cri::process::{ProcessRuntime, ProcessRuntimeConfig};
use k_netplugin::cri::{Labels, PodSandboxFilter, RuntimeService};
use k_netplugin::exec::Executor;
use k_netplugin::netns::NetNs;
use k_netplugin::pod::PodNetwork;
use k_netplugin::testing::{self, TestNet};
use k_netplugin::types::NetworkConfigList;
use k_node::logs::ApiLogSource;
use k_node::pods::actions::POD_UID_LABEL;
use k_node::{NodeAgent, NodeConfig};
use k_store::api::ListOptions;
use k_store::remote::{RemoteApi, RemoteConfig};
use k_store::{Api, ObjectApi, Store};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";

/// Node numbers, process-wide (bridge names, pod CIDRs, cgroup roots).
static NEXT_NODE: AtomicU32 = AtomicU32::new(1);

/// Live environments, and `ip_forward` as it was before the first one
/// (the bridge plugin with `isGateway` turns forwarding on; test 7 needs
/// it): restored when the last environment ends.
static FORWARDING: Mutex<(usize, Option<String>)> = Mutex::new((0, None));

fn forwarding_hold() {
    let mut held = FORWARDING.lock().unwrap_or_else(|e| e.into_inner());
    if held.0 == 0 {
        held.1 = std::fs::read_to_string(IP_FORWARD).ok();
    }
    held.0 += 1;
}

fn forwarding_release() {
    let mut held = FORWARDING.lock().unwrap_or_else(|e| e.into_inner());
    held.0 = held.0.saturating_sub(1);
    if held.0 == 0
        && let Some(previous) = held.1.take()
        && let Err(e) = std::fs::write(IP_FORWARD, previous.trim())
    {
        eprintln!("agent_process: restoring {IP_FORWARD}: {e}");
    }
}

/// Checks what every test needs, failing with what to install.
fn require_tools() {
    testing::require_root();
    testing::require_command("python3", "python3");
    testing::require_command("nsenter", "util-linux");
    testing::require_command("unshare", "util-linux");
    testing::require_command("ip", "iproute2");
    testing::reference_plugin_dir();
    let host_local = testing::reference_plugin_dir().join("host-local");
    assert!(host_local.is_file(), "no host-local plugin next to bridge: install containernetworking-plugins");
    testing::require_command("kubectl", "kubectl (from the Kubernetes apt repository)");
}

/// One node: a process runtime with its bridge network, and its agent.
struct TestNode {
    name: String,
    runtime: ProcessRuntime,
    bridge: String,
    /// `10.<a>.<n>.`, the pod CIDR's /24 prefix.
    prefix: String,
    gateway: Ipv4Addr,
    /// host-local's directory of this node's network (`<dataDir>/<name>`).
    ipam_dir: PathBuf,
    cgroup_root: String,
    netns_prefix: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestNode {
    fn contains(&self, ip: Ipv4Addr) -> bool {
        ip.to_string().starts_with(&self.prefix) && ip != self.gateway
    }

    /// Removes what the runtime's own cleanup left (a failed test, a
    /// panicking runtime): processes and cgroups, namespaces, the bridge.
    fn force_cleanup(&self) {
        let mut dirs = vec![Path::new("/sys/fs/cgroup").join(&self.cgroup_root)];
        if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
            dirs.extend(entries.flatten().map(|e| e.path().join(&self.cgroup_root)));
        }
        for dir in dirs.iter().filter(|d| d.is_dir()) {
            remove_cgroup_tree(dir);
        }
        if let Ok(entries) = std::fs::read_dir("/run/netns") {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with(&self.netns_prefix)
                    && let Ok(ns) = NetNs::open(&name)
                {
                    let _ = ns.delete();
                }
            }
        }
        if Path::new("/sys/class/net").join(&self.bridge).exists() {
            let _ = Command::new("ip").args(["link", "del", &self.bridge]).status();
        }
    }
}

fn remove_cgroup_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.path().is_dir() {
                remove_cgroup_tree(&entry.path());
            }
        }
    }
    for _ in 0..200 {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.split_whitespace() {
            let _ = Command::new("kill").args(["-KILL", pid]).status();
        }
        if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!("agent_process: could not remove the cgroup {}", dir.display());
}

/// The API server, the kubeconfig and the nodes of one test.
struct Env {
    net: TestNet,
    /// A client of the server over HTTP (as a user).
    client: Arc<dyn ObjectApi>,
    url: String,
    kubeconfig: PathBuf,
    logs: Arc<ApiLogSource>,
    server_stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    nodes: Vec<TestNode>,
}

impl Env {
    async fn start(nodes: usize) -> Env {
        require_tools();
        let net = TestNet::new();
        forwarding_hold();
        let store: Arc<dyn ObjectApi> = Arc::new(Store::in_memory());
        let logs = Arc::new(ApiLogSource::new(store.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = ApiServer::new(
            store,
            ServerConfig { external_address: addr.to_string(), log_source: Some(logs.clone()), ..Default::default() },
        );
        let (server_stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = server
                .serve(listener, async move {
                    let _ = stopped.await;
                })
                .await;
        });
        let url = format!("http://{addr}");
        let client: Arc<dyn ObjectApi> =
            Arc::new(RemoteApi::connect(RemoteConfig::new(url.clone())).await.expect("connecting to the API server"));
        let kubeconfig = net.dir().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: k\n  cluster:\n    server: {url}\n\
                 users:\n- name: admin\n  user: {{}}\ncontexts:\n- name: k\n  context:\n    cluster: k\n    \
                 user: admin\n    namespace: default\ncurrent-context: k\n"
            ),
        )
        .unwrap();
        let mut env = Env {
            net,
            client,
            url,
            kubeconfig,
            logs,
            server_stop: Some(server_stop),
            server: Some(server),
            nodes: Vec::new(),
        };
        for _ in 0..nodes {
            env.add_node().await;
        }
        env
    }

    async fn add_node(&mut self) {
        let n = NEXT_NODE.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let name = format!("pn{n}");
        let dir = self.net.dir().join(&name);
        let octet = 200 + pid % 50;
        let prefix = format!("10.{octet}.{n}.");
        let cidr = format!("{prefix}0/24");
        let gateway: Ipv4Addr = format!("{prefix}1").parse().unwrap();
        let bridge = format!("kt{pid}b{n}");
        let network = format!("kt{pid}n{n}");
        let ipam = dir.join("ipam");
        let list = json!({"cniVersion": "1.0.0", "name": network, "plugins": [{
            "type": "bridge", "bridge": bridge, "isGateway": true,
            "ipam": {"type": "host-local", "dataDir": ipam, "ranges": [[{"subnet": cidr, "gateway": gateway.to_string()}]],
                     "routes": [{"dst": "0.0.0.0/0"}]}
        }]});
        let list = NetworkConfigList::from_bytes(list.to_string().as_bytes()).expect("the CNI configuration");
        let executor = Executor::new(vec![testing::reference_plugin_dir()], dir.join("cni-cache"));
        let images = Arc::new(HostImages::new());
        let cgroup_root = format!("kt{pid}-cg{n}");
        let netns_prefix = format!("kt{pid}-p{n}-");
        let mut config = ProcessRuntimeConfig::new(dir.join("runtime"), images.clone());
        config.cgroup_root = cgroup_root.clone();
        config.netns_prefix = netns_prefix.clone();
        config.network = Some(PodNetwork::new(executor, list));
        let runtime = ProcessRuntime::new(config).expect("the process runtime starts");

        let mut node_config = NodeConfig::new(name.clone());
        node_config.root_dir = dir.join("agent");
        node_config.pod_cidr = Some(cidr);
        node_config.addresses = vec![("InternalIP".into(), gateway.to_string()), ("Hostname".into(), name.clone())];
        let api: Arc<dyn ObjectApi> =
            Arc::new(RemoteApi::connect(RemoteConfig::new(self.url.clone())).await.expect("the agent connects"));
        let agent = NodeAgent::new(api, Arc::new(runtime.clone()), images, node_config)
            .with_sync_period(Duration::from_millis(500));
        self.logs.add_node(name.clone(), agent.logs());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(agent.run(async move {
            let _ = stopped.await;
        }));
        self.nodes.push(TestNode {
            name,
            runtime,
            bridge,
            prefix,
            gateway,
            ipam_dir: ipam.join(&network),
            cgroup_root,
            netns_prefix,
            stop: Some(stop),
            task: Some(task),
        });
    }

    /// Stops the agents, removes every sandbox of the runtimes and stops
    /// the server; the rest goes on drop.
    async fn stop(mut self) {
        for node in &mut self.nodes {
            if let Some(stop) = node.stop.take() {
                let _ = stop.send(());
            }
        }
        for node in &mut self.nodes {
            if let Some(task) = node.task.take()
                && tokio::time::timeout(Duration::from_secs(10), task).await.is_err()
            {
                eprintln!("agent_process: the agent of {} did not stop within 10 s", node.name);
            }
        }
        // Workers end after their current sync: remove what they may still
        // have made.
        for node in &self.nodes {
            for round in 0..10 {
                if let Err(e) = node.runtime.shutdown().await {
                    eprintln!("agent_process: shutting down the runtime of {}: {e}", node.name);
                }
                tokio::time::sleep(Duration::from_millis(if round == 0 { 300 } else { 100 })).await;
                let left = node.runtime.list_pod_sandbox(&PodSandboxFilter::default()).await.map_or(0, |l| l.len());
                if left == 0 {
                    break;
                }
            }
        }
        if let Some(stop) = self.server_stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }

    fn pods(&self) -> Api<Pod> {
        Api::with_client(self.client.clone(), Some("default".into()))
    }

    async fn create(&self, pod: Value) -> Pod {
        let pod: Pod = serde_json::from_value(pod).expect("a pod");
        self.pods().create(&pod).await.expect("creating the pod")
    }

    /// The pod's status as JSON (`Null` while it has none or is gone).
    async fn status(&self, name: &str) -> Value {
        match self.pods().get_opt(name).await.expect("reading the pod") {
            Some(pod) => serde_json::to_value(&pod.status).unwrap(),
            None => Value::Null,
        }
    }

    /// Waits until the pod's status satisfies `check`; returns it.
    async fn wait_status(&self, name: &str, what: &str, within: Duration, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let status = self.status(name).await;
            if check(&status) {
                eprintln!("pod {name}: {what} after {:?}", within - deadline.saturating_duration_since(Instant::now()));
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "pod {name}: {what} not seen within {within:?}; status:\n{}",
                serde_json::to_string_pretty(&status).unwrap()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `kubectl --kubeconfig … <args>`: exit success, stdout, stderr.
    async fn kubectl(&self, args: &[&str]) -> (bool, String, String) {
        let mut cmd = Command::new("kubectl");
        cmd.arg("--kubeconfig").arg(&self.kubeconfig);
        cmd.arg("--cache-dir").arg(self.net.dir().join("kube-cache"));
        cmd.args(args);
        let shown = format!("{cmd:?}");
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("running {shown}: {e}"));
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The sandboxes of pod `uid` in `node`'s runtime.
    async fn sandboxes(&self, node: &TestNode, uid: &str) -> Vec<String> {
        let filter = PodSandboxFilter {
            label_selector: Labels::from([(POD_UID_LABEL.to_owned(), uid.to_owned())]),
            ..Default::default()
        };
        node.runtime.list_pod_sandbox(&filter).await.unwrap().into_iter().map(|s| s.id).collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.stop.take().map(|s| s.send(()));
            if let Some(task) = node.task.take() {
                task.abort();
            }
            node.force_cleanup();
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
        forwarding_release();
    }
}

/// Runs `body` in a fresh environment of `nodes` nodes, cleaning up
/// whether it passes or panics.
async fn with_env<F>(nodes: usize, body: F)
where
    F: for<'a> FnOnce(&'a Env) -> BoxFuture<'a, ()>,
{
    let env = Env::start(nodes).await;
    let started = Instant::now();
    let outcome = AssertUnwindSafe(body(&env)).catch_unwind().await;
    let ran = started.elapsed();
    env.stop().await;
    eprintln!("agent_process: test body {ran:?}");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

// ---------------------------------------------------------------------------
// Pods and status helpers
// ---------------------------------------------------------------------------

/// A pod bound to `node` with `containers`, a short grace period and
/// `extra` merged into the spec.
///
/// Its resolver is 127.0.0.1 (`dnsPolicy: None`), which fails at once: the
/// node's own name server is out of the pods' reach (no masquerading), and
/// `http.server` resolves its address when it starts (`getfqdn`), which
/// would otherwise wait out two 5 s DNS timeouts.
fn pod(name: &str, node: &str, containers: Value, extra: Value) -> Value {
    let mut spec = json!({
        "nodeName": node, "terminationGracePeriodSeconds": 2, "containers": containers,
        "dnsPolicy": "None", "dnsConfig": {"nameservers": ["127.0.0.1"]},
    });
    if let (Some(spec), Value::Object(extra)) = (spec.as_object_mut(), extra) {
        spec.extend(extra);
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec})
}

/// A directory with `hello.txt` for http.server to serve.
fn site(env: &Env) -> String {
    let dir = env.net.dir().join("site");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hello.txt"), "hello from the pod\n").unwrap();
    dir.display().to_string()
}

/// An http.server container on 8080 with a readiness probe on it.
fn web_container(env: &Env, name: &str) -> Value {
    json!({
        "name": name, "image": "host/python",
        "command": ["python3", "-m", "http.server", "8080", "--bind", "0.0.0.0"],
        "workingDir": site(env),
        "readinessProbe": {"httpGet": {"path": "/hello.txt", "port": 8080}, "periodSeconds": 1},
    })
}

fn is_ready(status: &Value) -> bool {
    status["conditions"].as_array().is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

fn container<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["containerStatuses"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["name"] == name))
        .unwrap_or(&Value::Null)
}

/// The runtime's id of a container status (`k://<id>`).
fn runtime_id(container: &Value) -> String {
    let id = container["containerID"].as_str().expect("a containerID");
    id.split_once("://").map_or(id, |(_, id)| id).to_owned()
}

fn pod_ip(status: &Value) -> Ipv4Addr {
    status["podIP"].as_str().expect("a podIP").parse().expect("an IPv4 podIP")
}

fn alive(pid: u32) -> bool {
    // A zombie has no cmdline left and is as good as gone.
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
}

fn sigkill(pid: u32) {
    let status = Command::new("kill").args(["-KILL", &pid.to_string()]).status().expect("running kill");
    assert!(status.success(), "kill -KILL {pid}");
}

/// `GET <path>` over HTTP/1.0 from the host; the whole answer.
async fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: pod\r\n\r\n").as_bytes()).await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        Ok(answer)
    };
    match tokio::time::timeout(Duration::from_secs(5), exchange).await {
        Ok(result) => result,
        Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in 5 s")),
    }
}

async fn http_get_retrying(addr: SocketAddr, path: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match http_get(addr, path).await {
            Ok(answer) => return answer,
            Err(e) => {
                assert!(Instant::now() < deadline, "no HTTP answer from {addr}: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

/// 1. Readiness over httpGet, a pod IP from the node's CIDR, HTTP from the
///    host to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_pod_becomes_ready_and_answers_on_its_pod_ip() {
    with_env(1, |env| {
        async move {
            let node = &env.nodes[0];
            env.create(pod("web", &node.name, json!([web_container(env, "web")]), json!({}))).await;
            let status = env.wait_status("web", "Ready", Duration::from_secs(30), is_ready).await;
            assert_eq!(status["phase"], "Running");
            let ip = pod_ip(&status);
            assert!(node.contains(ip), "{ip} is in the node's pod CIDR {}0/24", node.prefix);
            assert_eq!(status["hostIP"], node.gateway.to_string());
            let web = container(&status, "web");
            assert_eq!(web["ready"], true);
            assert_eq!(web["restartCount"], 0);
            assert!(web["state"]["running"]["startedAt"].is_string(), "{web}");

            let answer = http_get_retrying(SocketAddr::new(ip.into(), 8080), "/hello.txt").await;
            assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
            assert!(answer.ends_with("hello from the pod\n"), "{answer}");
            // The pod's dnsConfig (dnsPolicy None) is the container's resolv.conf.
            let cat = ["cat".to_string(), "/etc/resolv.conf".to_string()];
            let resolv = node.runtime.exec_sync(&runtime_id(web), &cat, Duration::from_secs(10)).await.unwrap();
            assert_eq!(String::from_utf8_lossy(&resolv.stdout), "nameserver 127.0.0.1\n");
            // The Node registered with its address.
            let nodes: Api<k_api_types::core::v1::Node> = Api::with_client(env.client.clone(), None);
            let registered = serde_json::to_value(nodes.get(&node.name).await.unwrap()).unwrap();
            assert!(
                registered["status"]["addresses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a["address"] == node.gateway.to_string()),
                "{registered}"
            );
        }
        .boxed()
    })
    .await;
}

/// 2. SIGKILL of the container's process: restarted, restartCount 1,
///    lastState terminated with 137, Ready again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_container_is_restarted() {
    with_env(1, |env| {
        async move {
            let node = &env.nodes[0];
            env.create(pod("victim", &node.name, json!([web_container(env, "web")]), json!({}))).await;
            let status = env.wait_status("victim", "Ready", Duration::from_secs(30), is_ready).await;
            let first = runtime_id(container(&status, "web"));
            let pid = node.runtime.container_pid(&first).expect("the running container's pid");
            assert!(alive(pid));
            sigkill(pid);

            let status = env
                .wait_status("victim", "restarted and Ready", Duration::from_secs(45), |s| {
                    container(s, "web")["restartCount"] == 1 && is_ready(s)
                })
                .await;
            let web = container(&status, "web");
            let last = &web["lastState"]["terminated"];
            assert_eq!(last["exitCode"], 137, "{web}");
            assert_eq!(last["containerID"], format!("k://{first}"), "{web}");
            assert!(web["state"]["running"].is_object(), "{web}");
            let second = runtime_id(web);
            assert_ne!(second, first);
            let new_pid = node.runtime.container_pid(&second).expect("the new instance's pid");
            assert!(!alive(pid) && alive(new_pid));
            let answer = http_get_retrying(SocketAddr::new(pod_ip(&status).into(), 8080), "/hello.txt").await;
            assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
        }
        .boxed()
    })
    .await;
}

/// 3. A liveness probe that fails (httpGet on a port nothing listens on)
///    gets the container restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_liveness_probe_restarts_the_container() {
    with_env(1, |env| {
        async move {
            let node = &env.nodes[0];
            let mut web = web_container(env, "web");
            web["livenessProbe"] =
                json!({"httpGet": {"path": "/", "port": 8081}, "periodSeconds": 1, "failureThreshold": 1});
            env.create(pod("sick", &node.name, json!([web]), json!({"terminationGracePeriodSeconds": 1}))).await;
            let status = env
                .wait_status("sick", "a restart", Duration::from_secs(45), |s| {
                    container(s, "web")["restartCount"].as_u64().is_some_and(|n| n >= 1)
                })
                .await;
            let web = container(&status, "web");
            assert!(web["lastState"]["terminated"].is_object(), "{web}");
            // The kubelet's events say why.
            let events: Api<Event> = Api::with_client(env.client.clone(), Some("default".into()));
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let list = events.list(&ListOptions::default()).await.unwrap();
                let said = |reason: &str, text: &str| {
                    list.items.iter().any(|e| {
                        e.involved_object.name == "sick"
                            && e.reason.as_deref() == Some(reason)
                            && e.message.as_deref().is_some_and(|m| m.contains(text))
                    })
                };
                if said("Unhealthy", "Liveness probe failed") && said("Killing", "failed liveness probe") {
                    break;
                }
                assert!(Instant::now() < deadline, "no Unhealthy/Killing events: {:?}", list.items);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        .boxed()
    })
    .await;
}

/// 4. limits.memory is enforced: the container is OOM-killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_limit_is_enforced_by_an_oom_kill() {
    with_env(1, |env| {
        async move {
            let node = &env.nodes[0];
            let hog = json!({
                "name": "hog", "image": "host/python",
                "command": ["python3", "-c", "b=bytearray(200*1024*1024); import time; time.sleep(60)"],
                "resources": {"limits": {"memory": "32Mi"}},
            });
            let created = env.create(pod("hog", &node.name, json!([hog]), json!({"restartPolicy": "Never"}))).await;
            let status = env
                .wait_status("hog", "terminated", Duration::from_secs(30), |s| {
                    container(s, "hog")["state"]["terminated"].is_object()
                })
                .await;
            let hog = container(&status, "hog");
            let terminated = &hog["state"]["terminated"];
            assert_eq!(terminated["reason"], "OOMKilled", "{hog}");
            assert_eq!(terminated["exitCode"], 137, "{hog}");
            // The runtime's cgroup carries the limit.
            let sandbox = env.sandboxes(node, &created.metadata.uid).await;
            assert_eq!(sandbox.len(), 1);
            let id = runtime_id(hog);
            let dirs = node.runtime.cgroup_dirs(&sandbox[0], Some(&id));
            let file = if node.runtime.cgroup_v2() { "memory.max" } else { "memory.limit_in_bytes" };
            let limit = dirs.iter().map(|d| d.join(file)).find(|f| f.exists()).expect("the memory limit file");
            assert_eq!(std::fs::read_to_string(limit).unwrap().trim(), (32u64 << 20).to_string());
            let status =
                env.wait_status("hog", "phase Failed", Duration::from_secs(10), |s| s["phase"] == "Failed").await;
            assert_eq!(container(&status, "hog")["restartCount"], 0);
        }
        .boxed()
    })
    .await;
}

/// 5. `kubectl logs`, `--tail=1` and `-c` read the containers' output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_logs_reads_the_containers_output() {
    with_env(1, |env| {
        async move {
            let node = &env.nodes[0];
            let talk = |name: &str, script: &str| {
                json!({"name": name, "image": "host/sh", "command": ["sh", "-c", format!("{script}; exec sleep 3600")]})
            };
            env.create(pod(
                "solo",
                &node.name,
                json!([talk("talk", "echo line-one; echo line-two; echo line-three")]),
                json!({}),
            ))
            .await;
            env.create(pod(
                "duo",
                &node.name,
                json!([talk("a", "echo from-a"), talk("b", "echo from-b-out; echo from-b-err >&2")]),
                json!({}),
            ))
            .await;
            let running = |s: &Value| {
                s["containerStatuses"]
                    .as_array()
                    .is_some_and(|all| !all.is_empty() && all.iter().all(|c| c["state"]["running"].is_object()))
            };
            env.wait_status("solo", "running", Duration::from_secs(30), running).await;
            env.wait_status("duo", "running", Duration::from_secs(30), running).await;

            // The output may still be on its way to the file.
            let logs = async |args: &[&str], want: &(dyn Fn(&str) -> bool + Sync)| -> String {
                let deadline = Instant::now() + Duration::from_secs(10);
                loop {
                    let (ok, out, err) = env.kubectl(args).await;
                    if ok && want(&out) {
                        return out;
                    }
                    assert!(Instant::now() < deadline, "kubectl {args:?}: ok={ok} stdout={out:?} stderr={err:?}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            };
            let all = logs(&["logs", "solo"], &|out| out.contains("line-three")).await;
            assert_eq!(all, "line-one\nline-two\nline-three\n");
            let tail = logs(&["logs", "solo", "--tail=1"], &|out| !out.is_empty()).await;
            assert_eq!(tail, "line-three\n");
            let a = logs(&["logs", "duo", "-c", "a"], &|out| !out.is_empty()).await;
            assert_eq!(a, "from-a\n");
            let b = logs(&["logs", "duo", "-c", "b"], &|out| out.lines().count() == 2).await;
            let mut lines: Vec<&str> = b.lines().collect();
            lines.sort_unstable();
            assert_eq!(lines, ["from-b-err", "from-b-out"], "stdout and stderr: {b:?}");
            let (ok, _, err) = env.kubectl(&["logs", "duo", "-c", "nope"]).await;
            assert!(!ok, "no container nope: {err}");

            // `kubectl logs -f` streams lines as they are written and ends
            // when the container exits.
            env.create(pod(
                "ticker",
                &node.name,
                json!([{"name": "tick", "image": "host/sh", "command": ["sh", "-c",
                    "for i in 1 2 3; do echo tick-$i; sleep 1; done"]}]),
                json!({"restartPolicy": "Never"}),
            ))
            .await;
            env.wait_status("ticker", "running", Duration::from_secs(30), running).await;
            let started = Instant::now();
            let (ok, out, err) = env.kubectl(&["logs", "-f", "ticker"]).await;
            let took = started.elapsed();
            assert!(ok, "kubectl logs -f: {err}");
            assert_eq!(out, "tick-1\ntick-2\ntick-3\n");
            assert!(took >= Duration::from_millis(1500), "followed the output as it came ({took:?})");
            assert!(took < Duration::from_secs(15), "ended when the container exited ({took:?})");
        }
        .boxed()
    })
    .await;
}

/// 6. `kubectl delete pod`: the processes stop within the grace period
///    (one exits on SIGTERM, one ignores it and is killed), the pod object
///    goes, and the pod's IP, namespace and cgroups are released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_pod_stops_it_within_the_grace_period_and_releases_its_ip() {
    with_env(1, |env| {
        async move {
            let node = &env.nodes[0];
            let polite = json!({"name": "polite", "image": "host/sh",
                "command": ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]});
            let grace = 4;
            let created = env
                .create(pod(
                    "doomed",
                    &node.name,
                    json!([web_container(env, "web"), polite]),
                    json!({"terminationGracePeriodSeconds": grace}),
                ))
                .await;
            let status = env.wait_status("doomed", "Ready", Duration::from_secs(30), is_ready).await;
            let ip = pod_ip(&status);
            let ip_file = node.ipam_dir.join(ip.to_string());
            assert!(ip_file.exists(), "host-local holds {ip} in {}", ip_file.display());
            let web_pid = node.runtime.container_pid(&runtime_id(container(&status, "web"))).unwrap();
            let polite_pid = node.runtime.container_pid(&runtime_id(container(&status, "polite"))).unwrap();
            let sandboxes = env.sandboxes(node, &created.metadata.uid).await;
            assert_eq!(sandboxes.len(), 1);
            let netns = node.runtime.sandbox_netns(&sandboxes[0]).expect("the pod's network namespace");
            assert!(netns.exists());
            let cgroups = node.runtime.cgroup_dirs(&sandboxes[0], None);
            assert!(cgroups.iter().any(|d| d.exists()));

            let started = Instant::now();
            let kubectl = {
                let mut cmd = Command::new("kubectl");
                cmd.arg("--kubeconfig").arg(&env.kubeconfig).arg("--cache-dir").arg(env.net.dir().join("kube-cache"));
                cmd.args(["delete", "pod", "doomed", "--timeout=60s"]);
                tokio::task::spawn_blocking(move || cmd.output())
            };
            let mut polite_gone = None;
            let mut web_gone = None;
            while polite_gone.is_none() || web_gone.is_none() {
                let now = started.elapsed();
                if polite_gone.is_none() && !alive(polite_pid) {
                    polite_gone = Some(now);
                }
                if web_gone.is_none() && !alive(web_pid) {
                    web_gone = Some(now);
                }
                assert!(now < Duration::from_secs(20), "processes still alive after {now:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let (polite_gone, web_gone) = (polite_gone.unwrap(), web_gone.unwrap());
            eprintln!("deletion: polite gone after {polite_gone:?}, web after {web_gone:?}");
            let grace = Duration::from_secs(grace);
            assert!(polite_gone < grace, "SIGTERM honoured at once: {polite_gone:?}");
            // http.server has no SIGTERM handler and is pid 1 of its PID
            // namespace: the signal is ignored, so it runs until the grace
            // period ends and SIGKILL comes.
            assert!(web_gone > grace - Duration::from_secs(1), "not killed before the grace period ends: {web_gone:?}");
            assert!(web_gone < grace + Duration::from_secs(2), "killed at the end of the grace period: {web_gone:?}");

            let out = kubectl.await.unwrap().expect("running kubectl delete");
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "kubectl delete: {stdout} {}", String::from_utf8_lossy(&out.stderr));
            assert!(stdout.contains("deleted"), "{stdout}");
            assert!(env.pods().get_opt("doomed").await.unwrap().is_none(), "the pod object is gone");
            eprintln!("deletion: pod object gone after {:?}", started.elapsed());
            assert!(!ip_file.exists(), "{ip} released");
            assert!(!netns.exists(), "the network namespace is deleted");
            assert!(cgroups.iter().all(|d| !d.exists()), "the pod's cgroups are removed");
            assert!(env.sandboxes(node, &created.metadata.uid).await.is_empty(), "the sandbox is removed");
        }
        .boxed()
    })
    .await;
}

/// 7. Two nodes on one machine: a pod on node 1 reaches an http.server pod
///    on node 2 by pod IP, routed by the host (no NAT: the server sees the
///    client's pod IP).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_reaches_a_pod_on_another_node_by_pod_ip() {
    with_env(2, |env| {
        async move {
            std::fs::write(IP_FORWARD, "1").expect("turning IP forwarding on");
            let (one, two) = (&env.nodes[0], &env.nodes[1]);
            env.create(pod("server", &two.name, json!([web_container(env, "web")]), json!({}))).await;
            let client = json!({"name": "c", "image": "host/python", "command": ["sleep", "3600"]});
            env.create(pod("client", &one.name, json!([client]), json!({"terminationGracePeriodSeconds": 0}))).await;
            let server = env.wait_status("server", "Ready", Duration::from_secs(30), is_ready).await;
            let client = env
                .wait_status("client", "running", Duration::from_secs(30), |s| {
                    container(s, "c")["state"]["running"].is_object() && s["podIP"].is_string()
                })
                .await;
            let (server_ip, client_ip) = (pod_ip(&server), pod_ip(&client));
            assert!(two.contains(server_ip) && one.contains(client_ip), "{server_ip} on node 2, {client_ip} on node 1");

            let script = format!(
                "import urllib.request as u; r = u.urlopen('http://{server_ip}:8080/hello.txt', timeout=5); \
                 print(r.status, r.read().decode().strip())"
            );
            let argv = ["python3".to_string(), "-c".to_string(), script];
            let id = runtime_id(container(&client, "c"));
            let answer = one.runtime.exec_sync(&id, &argv, Duration::from_secs(20)).await.expect("exec in the client");
            let (stdout, stderr) = (String::from_utf8_lossy(&answer.stdout), String::from_utf8_lossy(&answer.stderr));
            assert_eq!(answer.exit_code, 0, "stdout {stdout} stderr {stderr}");
            assert_eq!(stdout, "200 hello from the pod\n");
            // The server saw the client's own address.
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let (ok, out, err) = env.kubectl(&["logs", "server"]).await;
                if ok && out.lines().any(|l| l.starts_with(&client_ip.to_string()) && l.contains("GET /hello.txt")) {
                    break;
                }
                assert!(Instant::now() < deadline, "the server's log does not show {client_ip}: {out} {err}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        .boxed()
    })
    .await;
}
