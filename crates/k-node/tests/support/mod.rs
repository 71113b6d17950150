//! The harness of the process-runtime tests (root only), shared by
//! `agent_process.rs` (the node agent alone) and `whole_system.rs` (the
//! whole control plane over the same nodes).
//!
//! k-apiserver serves an in-memory store over HTTP (with the node agents'
//! logs behind `pods/log`), `kubectl` talks to it through a kubeconfig,
//! and each node is a [`NodeAgent`] over a [`ProcessRuntime`] whose pods
//! get a CNI bridge network (reference plugins `bridge` + `host-local`) in
//! the host network namespace: each node its own bridge and pod CIDR, the
//! bridge's gateway address being the node's InternalIP. Everything made
//! (bridges, namespaces, cgroups, directories, the previous `ip_forward`)
//! is undone at the end of each test, also when it fails.

// Each test binary uses its own part of the harness.
#![allow(dead_code)]
use std::net::{Ipv4Addr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::BoxFuture;
use k_api_types::core::v1::Pod;
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
use k_store::remote::{RemoteApi, RemoteConfig};
use k_store::{Api, ObjectApi, Store};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub(crate) const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";

/// Node numbers, process-wide (bridge names, pod CIDRs, cgroup roots).
pub(crate) static NEXT_NODE: AtomicU32 = AtomicU32::new(1);

/// Live environments, and `ip_forward` as it was before the first one
/// (the bridge plugin with `isGateway` turns forwarding on; test 7 needs
/// it): restored when the last environment ends.
pub(crate) static FORWARDING: Mutex<(usize, Option<String>)> = Mutex::new((0, None));

pub(crate) fn forwarding_hold() {
    let mut held = FORWARDING.lock().unwrap_or_else(|e| e.into_inner());
    if held.0 == 0 {
        held.1 = std::fs::read_to_string(IP_FORWARD).ok();
    }
    held.0 += 1;
}

pub(crate) fn forwarding_release() {
    let mut held = FORWARDING.lock().unwrap_or_else(|e| e.into_inner());
    held.0 = held.0.saturating_sub(1);
    if held.0 == 0
        && let Some(previous) = held.1.take()
        && let Err(e) = std::fs::write(IP_FORWARD, previous.trim())
    {
        eprintln!("support: restoring {IP_FORWARD}: {e}");
    }
}

/// Checks what every test needs, failing with what to install.
pub(crate) fn require_tools() {
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
pub(crate) struct TestNode {
    pub(crate) name: String,
    pub(crate) runtime: ProcessRuntime,
    pub(crate) bridge: String,
    /// `10.<a>.<n>.`, the pod CIDR's /24 prefix.
    pub(crate) prefix: String,
    pub(crate) gateway: Ipv4Addr,
    /// host-local's directory of this node's network (`<dataDir>/<name>`).
    pub(crate) ipam_dir: PathBuf,
    pub(crate) cgroup_root: String,
    pub(crate) netns_prefix: String,
    pub(crate) stop: Option<oneshot::Sender<()>>,
    pub(crate) task: Option<JoinHandle<()>>,
}

impl TestNode {
    /// Stops the node's agent (as a crashed kubelet would stop): its
    /// pods' processes keep running, its heartbeats stop.
    pub(crate) async fn stop_agent(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(10), task).await.is_err()
        {
            eprintln!("support: the agent of {} did not stop within 10 s", self.name);
        }
    }

    /// Whether `ip` is a pod address of this node.
    pub(crate) fn contains(&self, ip: Ipv4Addr) -> bool {
        ip.to_string().starts_with(&self.prefix) && ip != self.gateway
    }

    /// Removes what the runtime's own cleanup left (a failed test, a
    /// panicking runtime): processes and cgroups, namespaces, the bridge.
    pub(crate) fn force_cleanup(&self) {
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

pub(crate) fn remove_cgroup_tree(dir: &Path) {
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
    eprintln!("support: could not remove the cgroup {}", dir.display());
}

/// The API server, the kubeconfig and the nodes of one test.
pub(crate) struct Env {
    pub(crate) net: TestNet,
    /// The store the server serves (for what a control plane installs on
    /// it, like the Service address allocator).
    pub(crate) store: Store,
    /// A client of the server over HTTP (as a user).
    pub(crate) client: Arc<dyn ObjectApi>,
    pub(crate) url: String,
    pub(crate) kubeconfig: PathBuf,
    pub(crate) logs: Arc<ApiLogSource>,
    pub(crate) server_stop: Option<oneshot::Sender<()>>,
    pub(crate) server: Option<JoinHandle<()>>,
    pub(crate) nodes: Vec<TestNode>,
}

impl Env {
    pub(crate) async fn start(nodes: usize) -> Env {
        require_tools();
        let net = TestNet::new();
        forwarding_hold();
        let store = Store::in_memory();
        let served: Arc<dyn ObjectApi> = Arc::new(store.clone());
        let logs = Arc::new(ApiLogSource::new(served.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = ApiServer::new(
            served,
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
            store,
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

    pub(crate) async fn add_node(&mut self) {
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
        // Heartbeats well inside the whole-system test's node grace period.
        node_config.lease_renew_interval = Duration::from_secs(1);
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
    pub(crate) async fn stop(mut self) {
        for node in &mut self.nodes {
            if let Some(stop) = node.stop.take() {
                let _ = stop.send(());
            }
        }
        for node in &mut self.nodes {
            if let Some(task) = node.task.take()
                && tokio::time::timeout(Duration::from_secs(10), task).await.is_err()
            {
                eprintln!("support: the agent of {} did not stop within 10 s", node.name);
            }
        }
        // Workers end after their current sync: remove what they may still
        // have made.
        for node in &self.nodes {
            for round in 0..10 {
                if let Err(e) = node.runtime.shutdown().await {
                    eprintln!("support: shutting down the runtime of {}: {e}", node.name);
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

    pub(crate) fn pods(&self) -> Api<Pod> {
        Api::with_client(self.client.clone(), Some("default".into()))
    }

    pub(crate) async fn create(&self, pod: Value) -> Pod {
        let pod: Pod = serde_json::from_value(pod).expect("a pod");
        self.pods().create(&pod).await.expect("creating the pod")
    }

    /// The pod's status as JSON (`Null` while it has none or is gone).
    pub(crate) async fn status(&self, name: &str) -> Value {
        match self.pods().get_opt(name).await.expect("reading the pod") {
            Some(pod) => serde_json::to_value(&pod.status).unwrap(),
            None => Value::Null,
        }
    }

    /// Waits until the pod's status satisfies `check`; returns it.
    pub(crate) async fn wait_status(
        &self,
        name: &str,
        what: &str,
        within: Duration,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
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
    pub(crate) async fn kubectl(&self, args: &[&str]) -> (bool, String, String) {
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
    pub(crate) async fn sandboxes(&self, node: &TestNode, uid: &str) -> Vec<String> {
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
pub(crate) async fn with_env<F>(nodes: usize, body: F)
where
    F: for<'a> FnOnce(&'a Env) -> BoxFuture<'a, ()>,
{
    let env = Env::start(nodes).await;
    let started = Instant::now();
    let outcome = AssertUnwindSafe(body(&env)).catch_unwind().await;
    let ran = started.elapsed();
    env.stop().await;
    eprintln!("support: test body {ran:?}");
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
pub(crate) fn pod(name: &str, node: &str, containers: Value, extra: Value) -> Value {
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
pub(crate) fn site(env: &Env) -> String {
    let dir = env.net.dir().join("site");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hello.txt"), "hello from the pod\n").unwrap();
    dir.display().to_string()
}

/// An http.server container on 8080 with a readiness probe on it.
pub(crate) fn web_container(env: &Env, name: &str) -> Value {
    json!({
        "name": name, "image": "host/python",
        "command": ["python3", "-m", "http.server", "8080", "--bind", "0.0.0.0"],
        "workingDir": site(env),
        "readinessProbe": {"httpGet": {"path": "/hello.txt", "port": 8080}, "periodSeconds": 1},
    })
}

pub(crate) fn is_ready(status: &Value) -> bool {
    status["conditions"].as_array().is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

pub(crate) fn container<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["containerStatuses"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["name"] == name))
        .unwrap_or(&Value::Null)
}

/// The runtime's id of a container status (`k://<id>`).
pub(crate) fn runtime_id(container: &Value) -> String {
    let id = container["containerID"].as_str().expect("a containerID");
    id.split_once("://").map_or(id, |(_, id)| id).to_owned()
}

pub(crate) fn pod_ip(status: &Value) -> Ipv4Addr {
    status["podIP"].as_str().expect("a podIP").parse().expect("an IPv4 podIP")
}

pub(crate) fn alive(pid: u32) -> bool {
    // A zombie has no cmdline left and is as good as gone.
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
}

pub(crate) fn sigkill(pid: u32) {
    let status = Command::new("kill").args(["-KILL", &pid.to_string()]).status().expect("running kill");
    assert!(status.success(), "kill -KILL {pid}");
}

/// `GET <path>` over HTTP/1.0 from the host; the whole answer.
pub(crate) async fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
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

pub(crate) async fn http_get_retrying(addr: SocketAddr, path: &str) -> String {
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
