#![cfg(feature = "testing")]
//! `ProcessRuntime` on the real kernel (root): sandboxes with a CNI network
//! inside a TestNet node namespace, containers as processes in namespaces
//! and cgroups, logs, exit codes, stop, OOM kills, ExecSync, a chroot
//! image, and cleanup.

use std::collections::BTreeSet;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use k_netplugin::cri::process::{ProcessRuntime, ProcessRuntimeConfig, RootfsProvider};
use k_netplugin::cri::*;
use k_netplugin::exec::Executor;
use k_netplugin::netns::NetNs;
use k_netplugin::pod::PodNetwork;
use k_netplugin::testing::{self, TestNet};
use k_netplugin::types::NetworkConfigList;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Images: `host/…` run on the host, `mini:1` in the given root
/// filesystem; anything else is absent.
#[derive(Debug)]
struct Images {
    mini: Option<PathBuf>,
}

impl RootfsProvider for Images {
    fn rootfs(&self, image: &str) -> Option<PathBuf> {
        if image == "mini:1" { self.mini.clone() } else { None }
    }
}

#[async_trait]
impl ImageService for Images {
    async fn list_images(&self, _filter: Option<&ImageSpec>) -> CriResult<Vec<Image>> {
        Ok(Vec::new())
    }
    async fn image_status(&self, image: &ImageSpec) -> CriResult<Option<Image>> {
        let present = image.image.starts_with("host/") || (image.image == "mini:1" && self.mini.is_some());
        Ok(present.then(|| Image {
            id: format!("sha256:{}", image.image.len()),
            repo_tags: vec![image.image.clone()],
            size: 0,
        }))
    }
    async fn pull_image(&self, image: &ImageSpec) -> CriResult<String> {
        Err(CriError::NotFound(image.image.clone()))
    }
    async fn remove_image(&self, _image: &ImageSpec) -> CriResult<()> {
        Ok(())
    }
    async fn image_fs_info(&self) -> CriResult<Vec<FilesystemUsage>> {
        Ok(Vec::new())
    }
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A runtime with its own cgroup root and namespace prefix; dropping it
/// kills what is left in its cgroups and removes them (the TestNet then
/// removes the namespaces and directories).
struct Fixture {
    rt: ProcessRuntime,
    cgroup_root: String,
    logs: PathBuf,
    net: TestNet,
}

impl Fixture {
    fn new(net: TestNet, network: Option<PodNetwork>, mini: Option<PathBuf>) -> Fixture {
        testing::require_command("nsenter", "util-linux");
        testing::require_command("unshare", "util-linux");
        let cgroup_root = format!("kt{}-cg{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let mut config = ProcessRuntimeConfig::new(net.dir().join("root"), Arc::new(Images { mini }));
        config.cgroup_root = cgroup_root.clone();
        config.netns_prefix = format!("kt{}-", std::process::id());
        config.network = network;
        let rt = ProcessRuntime::new(config).expect("the process runtime starts");
        let logs = net.dir().join("logs");
        Fixture { rt, cgroup_root, logs, net }
    }

    fn sandbox_config(&self, name: &str) -> PodSandboxConfig {
        PodSandboxConfig {
            metadata: PodSandboxMetadata {
                name: name.into(),
                uid: format!("uid-{name}"),
                namespace: "default".into(),
                attempt: 0,
            },
            hostname: name.into(),
            log_directory: self.logs.join(name).display().to_string(),
            labels: [("app".to_string(), name.to_string())].into(),
            ..Default::default()
        }
    }

    async fn sandbox(&mut self, config: &PodSandboxConfig) -> String {
        let id = self.rt.run_pod_sandbox(config).await.expect("RunPodSandbox");
        if let Some(ns) = self.rt.sandbox_netns(&id) {
            self.net.track(ns);
        }
        id
    }

    /// Creates and starts a host-mode container.
    async fn start(&self, sandbox: &str, sandbox_config: &PodSandboxConfig, config: ContainerConfig) -> String {
        let id = self.rt.create_container(sandbox, &config, sandbox_config).await.expect("CreateContainer");
        self.rt.start_container(&id).await.expect("StartContainer");
        id
    }

    async fn wait_exited(&self, id: &str) -> ContainerStatus {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = self.rt.container_status(id).await.unwrap();
            if status.state == ContainerState::Exited {
                return status;
            }
            assert!(Instant::now() < deadline, "container {id} did not exit: {status:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let mut dirs = vec![Path::new("/sys/fs/cgroup").join(&self.cgroup_root)];
        if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
            dirs.extend(entries.flatten().map(|e| e.path().join(&self.cgroup_root)));
        }
        for dir in dirs.iter().filter(|d| d.is_dir()) {
            remove_cgroup_tree(dir);
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
        for pid in cgroup_pids(dir) {
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
        if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!("cri_process: could not remove the cgroup {}", dir.display());
}

fn cgroup_pids(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn container(name: &str, argv: &[&str]) -> ContainerConfig {
    ContainerConfig {
        metadata: ContainerMetadata { name: name.into(), attempt: 0 },
        image: ImageSpec { image: "host/tools".into() },
        command: argv.iter().map(|s| s.to_string()).collect(),
        log_path: format!("{name}/0.log"),
        labels: [("container".to_string(), name.to_string())].into(),
        ..Default::default()
    }
}

fn sh(name: &str, script: &str) -> ContainerConfig {
    container(name, &["sh", "-c", script])
}

fn alive(pid: u32) -> bool {
    // A zombie has no cmdline left and is as good as gone.
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
}

/// The log entries of `path`: (stream, tag, text), after checking each
/// timestamp's shape.
fn log_entries(path: &Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|line| {
            let mut parts = line.splitn(4, ' ');
            let ts = parts.next().unwrap();
            assert_eq!(ts.len(), 30, "timestamp {ts:?} in {line:?}");
            assert!(ts.ends_with('Z') && &ts[10..11] == "T" && &ts[19..20] == ".", "{ts}");
            let stream = parts.next().unwrap().to_string();
            let tag = parts.next().unwrap().to_string();
            (stream, tag, parts.next().unwrap_or("").to_string())
        })
        .collect()
}

async fn wait_log(path: &Path, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(path).unwrap_or_default().contains(needle) {
        assert!(Instant::now() < deadline, "{needle:?} never appeared in {}", path.display());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn log_path(fx: &Fixture, sandbox: &PodSandboxConfig, name: &str) -> PathBuf {
    fx.logs.join(&sandbox.metadata.name).join(format!("{name}/0.log"))
}

/// `GET <path>` over HTTP/1.0 from inside `ns`; the whole answer.
async fn http_get(ns: &NetNs, addr: SocketAddr, path: &str) -> io::Result<String> {
    let path = path.to_string();
    ns.run_async(move || async move {
        let exchange = async {
            let mut stream = tokio::net::TcpStream::connect(addr).await?;
            stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: pod\r\n\r\n").as_bytes()).await?;
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await?;
            Ok(answer)
        };
        match tokio::time::timeout(Duration::from_secs(5), exchange).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "no answer in 5 s")),
        }
    })
    .await?
}

async fn exec(fx: &Fixture, id: &str, argv: &[&str]) -> ExecSyncResponse {
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    fx.rt.exec_sync(id, &argv, Duration::from_secs(20)).await.unwrap_or_else(|e| panic!("exec {argv:?}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Everything of a removed sandbox is gone.
fn assert_sandbox_gone(fx: &Fixture, sandbox: &str, containers: &[&str], pids: &[u32], netns: Option<&NetNs>) {
    for dir in fx.rt.cgroup_dirs(sandbox, None) {
        assert!(!dir.exists(), "cgroup {} left behind", dir.display());
    }
    for c in containers {
        for dir in fx.rt.cgroup_dirs(sandbox, Some(c)) {
            assert!(!dir.exists(), "cgroup {} left behind", dir.display());
        }
    }
    for pid in pids {
        assert!(!alive(*pid), "process {pid} left behind");
    }
    if let Some(ns) = netns {
        assert!(!ns.exists(), "network namespace {} left behind", ns.name());
    }
    assert!(!fx.net.dir().join("root/sandboxes").join(sandbox).exists(), "the sandbox directory is removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_networked_sandbox_serves_http_on_its_pod_ip_and_releases_it() {
    testing::require_command("python3", "python3");
    let mut net = TestNet::new();
    let node = net.netns();
    let executor = Executor::new(vec![testing::reference_plugin_dir()], net.dir().join("cni-cache"))
        .with_host_netns(&node)
        .unwrap();
    let ipam = net.dir().join("ipam");
    let list = json!({"cniVersion": "1.0.0", "name": "ktest", "plugins": [{
        "type": "bridge", "bridge": "cni0", "isGateway": true,
        "ipam": {"type": "host-local", "dataDir": ipam, "ranges": [[{"subnet": "10.77.0.0/24"}]],
                 "routes": [{"dst": "0.0.0.0/0"}]}
    }]});
    let list = NetworkConfigList::from_bytes(list.to_string().as_bytes()).unwrap();
    let mut fx = Fixture::new(net, Some(PodNetwork::new(executor, list)), None);

    let status = fx.rt.status().await.unwrap();
    assert!(status.conditions.iter().all(|c| c.status), "{status:?}");

    let sb_config = fx.sandbox_config("web-0");
    let sb = fx.sandbox(&sb_config).await;
    let status = fx.rt.pod_sandbox_status(&sb).await.unwrap();
    assert_eq!(status.state, PodSandboxState::Ready);
    let ip: IpAddr = status.network.as_ref().expect("a networked sandbox has a network status").ip.parse().unwrap();
    assert!(ip.to_string().starts_with("10.77.0."), "{ip}");
    let ip_file = ipam.join("ktest").join(ip.to_string());
    assert!(ip_file.exists(), "host-local reserved {ip}");
    let netns = fx.rt.sandbox_netns(&sb).unwrap();
    assert!(netns.name().starts_with(&format!("kt{}-", std::process::id())));
    let holder = fx.rt.sandbox_holder_pid(&sb).unwrap();

    let site = fx.net.dir().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("hello.txt"), "hello from the pod\n").unwrap();
    let mut web = container("web", &["python3", "-m", "http.server", "8080", "--bind", "0.0.0.0"]);
    web.working_dir = site.display().to_string();
    let c = fx.start(&sb, &sb_config, web).await;
    let init = fx.rt.container_pid(&c).expect("a running container has a pid");
    assert_eq!(fx.rt.container_status(&c).await.unwrap().state, ContainerState::Running);

    // The node reaches the server on the pod IP.
    let deadline = Instant::now() + Duration::from_secs(30);
    let answer = loop {
        match http_get(&node, SocketAddr::new(ip, 8080), "/hello.txt").await {
            Ok(answer) => break answer,
            Err(e) => {
                assert!(Instant::now() < deadline, "no HTTP answer from {ip}:8080: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
    assert!(answer.ends_with("hello from the pod\n"), "{answer}");
    // The container runs in the pod's UTS namespace and network.
    assert_eq!(text(&exec(&fx, &c, &["cat", "/proc/sys/kernel/hostname"]).await.stdout), "web-0\n");
    let addrs = text(&exec(&fx, &c, &["cat", "/proc/net/fib_trie"]).await.stdout);
    assert!(addrs.contains(&ip.to_string()), "the container sees the pod's address: {addrs}");
    // The access log went to the container log (stderr).
    let log = log_path(&fx, &sb_config, "web");
    wait_log(&log, "GET /hello.txt").await;
    assert!(log_entries(&log).iter().any(|(s, t, l)| s == "stderr" && t == "F" && l.contains("\"GET /hello.txt")));

    // Stopping the sandbox kills the container and releases the address.
    fx.rt.stop_pod_sandbox(&sb).await.unwrap();
    let stopped = fx.rt.container_status(&c).await.unwrap();
    assert_eq!((stopped.state, stopped.exit_code, stopped.reason.as_str()), (ContainerState::Exited, 137, "Error"));
    let status = fx.rt.pod_sandbox_status(&sb).await.unwrap();
    assert_eq!(status.state, PodSandboxState::NotReady);
    assert_eq!(status.network, None);
    assert!(!ip_file.exists(), "the IP is released");
    assert!(!netns.exists(), "the namespace is deleted");
    fx.rt.stop_pod_sandbox(&sb).await.unwrap();
    fx.rt.remove_pod_sandbox(&sb).await.unwrap();
    fx.rt.remove_pod_sandbox(&sb).await.unwrap();
    assert!(fx.rt.pod_sandbox_status(&sb).await.unwrap_err().is_not_found());
    assert!(fx.rt.container_status(&c).await.unwrap_err().is_not_found());
    assert_sandbox_gone(&fx, &sb, &[&c], &[init, holder], Some(&netns));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_written_in_the_cri_format_and_reopened() {
    let mut fx = Fixture::new(TestNet::new(), None, None);
    let sb_config = fx.sandbox_config("logger");
    let sb = fx.sandbox(&sb_config).await;

    let script = r#"echo out1; echo err1 >&2; echo out2; head -c 20000 /dev/zero | tr '\0' a; echo; printf tail"#;
    let c = fx.start(&sb, &sb_config, sh("printer", script)).await;
    let status = fx.wait_exited(&c).await;
    assert_eq!(status.exit_code, 0);
    let path = log_path(&fx, &sb_config, "printer");
    assert_eq!(status.log_path, path.display().to_string());
    let entries = log_entries(&path);
    let of = |stream: &str| -> Vec<(String, String)> {
        entries.iter().filter(|(s, _, _)| s == stream).map(|(_, t, l)| (t.clone(), l.clone())).collect()
    };
    let long = "a".repeat(16 * 1024);
    let rest = "a".repeat(20_000 - 16 * 1024);
    let f = |s: &str| ("F".to_string(), s.to_string());
    assert_eq!(of("stdout"), vec![f("out1"), f("out2"), ("P".to_string(), long), f(&rest), f("tail")]);
    assert_eq!(of("stderr"), vec![f("err1")]);

    // Rotation: the file is renamed, ReopenContainerLog opens a new one.
    let flag = fx.net.dir().join("go");
    let script =
        format!("echo before; while [ ! -e '{}' ]; do sleep 0.05; done; echo after; exec sleep 1000", flag.display());
    let c2 = fx.start(&sb, &sb_config, sh("rotated", &script)).await;
    let path = log_path(&fx, &sb_config, "rotated");
    wait_log(&path, "before").await;
    let rotated = path.with_extension("log.1");
    std::fs::rename(&path, &rotated).unwrap();
    fx.rt.reopen_container_log(&c2).await.unwrap();
    std::fs::write(&flag, "").unwrap();
    wait_log(&path, "after").await;
    assert_eq!(log_entries(&path), vec![("stdout".into(), "F".into(), "after".into())]);
    assert_eq!(log_entries(&rotated), vec![("stdout".into(), "F".into(), "before".into())]);
    // Only a running container's log can be reopened.
    let err = fx.rt.reopen_container_log(&c).await.unwrap_err();
    assert!(matches!(err, CriError::FailedPrecondition(_)), "{err}");

    fx.rt.remove_pod_sandbox(&sb).await.unwrap();
    assert_sandbox_gone(&fx, &sb, &[&c, &c2], &[], None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_and_reasons_are_recorded() {
    let mut fx = Fixture::new(TestNet::new(), None, None);
    let sb_config = fx.sandbox_config("exits");
    let sb = fx.sandbox(&sb_config).await;
    let before = now();
    let failing = fx.start(&sb, &sb_config, sh("failing", "exit 3")).await;
    let ok = fx.start(&sb, &sb_config, container("ok", &["true"])).await;
    let killed = fx.start(&sb, &sb_config, sh("killed", "kill -TERM $$; sleep 1; exit 5")).await;

    let status = fx.wait_exited(&failing).await;
    assert_eq!((status.exit_code, status.reason.as_str()), (3, "Error"));
    assert!(status.started_at >= before && status.finished_at >= status.started_at, "{status:?}");
    assert!(status.created_at <= status.started_at);
    let status = fx.wait_exited(&ok).await;
    assert_eq!((status.exit_code, status.reason.as_str()), (0, "Completed"));
    // pid 1 ignores a signal it has no handler for, even its own.
    let status = fx.wait_exited(&killed).await;
    assert_eq!((status.exit_code, status.reason.as_str()), (5, "Error"));

    let exited = fx
        .rt
        .list_containers(&ContainerFilter { state: Some(ContainerState::Exited), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(exited.len(), 3);
    let by_label = ContainerFilter {
        pod_sandbox_id: Some(sb.clone()),
        label_selector: [("container".to_string(), "ok".to_string())].into(),
        ..Default::default()
    };
    let listed = fx.rt.list_containers(&by_label).await.unwrap();
    assert_eq!(listed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), [ok.as_str()]);
    assert_eq!(listed[0].image_ref, "sha256:10");
    // An exited container cannot start again.
    let err = fx.rt.start_container(&ok).await.unwrap_err();
    assert!(matches!(err, CriError::FailedPrecondition(_)), "{err}");

    fx.rt.remove_container(&failing).await.unwrap();
    fx.rt.remove_container(&failing).await.unwrap();
    assert!(fx.rt.container_status(&failing).await.unwrap_err().is_not_found());
    for dir in fx.rt.cgroup_dirs(&sb, Some(&failing)) {
        assert!(!dir.exists(), "{} removed with the container", dir.display());
    }
    fx.rt.remove_pod_sandbox(&sb).await.unwrap();
    assert_sandbox_gone(&fx, &sb, &[&ok, &killed], &[], None);
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_sends_sigterm_then_sigkill_after_the_timeout() {
    let mut fx = Fixture::new(TestNet::new(), None, None);
    let sb_config = fx.sandbox_config("stopper");
    let sb = fx.sandbox(&sb_config).await;

    let polite =
        fx.start(&sb, &sb_config, sh("polite", r#"trap 'exit 0' TERM; echo ready; while :; do sleep 0.1; done"#)).await;
    let stubborn =
        fx.start(&sb, &sb_config, sh("stubborn", r#"trap '' TERM; echo ready; while :; do sleep 0.1; done"#)).await;
    wait_log(&log_path(&fx, &sb_config, "polite"), "ready").await;
    wait_log(&log_path(&fx, &sb_config, "stubborn"), "ready").await;
    let stubborn_pid = fx.rt.container_pid(&stubborn).unwrap();

    let started = Instant::now();
    fx.rt.stop_container(&polite, Duration::from_secs(30)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "a handled SIGTERM stops at once: {:?}", started.elapsed());
    let status = fx.rt.container_status(&polite).await.unwrap();
    assert_eq!((status.state, status.exit_code, status.reason.as_str()), (ContainerState::Exited, 0, "Completed"));

    let started = Instant::now();
    fx.rt.stop_container(&stubborn, Duration::from_secs(1)).await.unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(1) && took < Duration::from_secs(10), "killed after the timeout: {took:?}");
    let status = fx.rt.container_status(&stubborn).await.unwrap();
    assert_eq!((status.state, status.exit_code, status.reason.as_str()), (ContainerState::Exited, 137, "Error"));
    assert!(!alive(stubborn_pid));
    for dir in fx.rt.cgroup_dirs(&sb, Some(&stubborn)) {
        assert!(cgroup_pids(&dir).is_empty(), "no process left in {}", dir.display());
    }

    // Idempotent, also for unknown ids.
    fx.rt.stop_container(&stubborn, Duration::from_secs(1)).await.unwrap();
    fx.rt.stop_container("no-such-container", Duration::from_secs(1)).await.unwrap();
    fx.rt.remove_container("no-such-container").await.unwrap();
    fx.rt.stop_pod_sandbox("no-such-sandbox").await.unwrap();
    fx.rt.remove_pod_sandbox("no-such-sandbox").await.unwrap();

    // Remove stops a running container first.
    let running = fx.start(&sb, &sb_config, container("sleeper", &["sleep", "1000"])).await;
    let pid = fx.rt.container_pid(&running).unwrap();
    fx.rt.remove_container(&running).await.unwrap();
    assert!(!alive(pid));
    fx.rt.remove_pod_sandbox(&sb).await.unwrap();
    assert_sandbox_gone(&fx, &sb, &[&polite, &stubborn, &running], &[stubborn_pid, pid], None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_limits_are_enforced_and_resources_updated() {
    testing::require_command("python3", "python3");
    let mut fx = Fixture::new(TestNet::new(), None, None);
    let sb_config = fx.sandbox_config("limits");
    let sb = fx.sandbox(&sb_config).await;
    let v2 = fx.rt.cgroup_v2();

    let mut hog = container("hog", &["python3", "-c", "b = bytearray(200 * 1024 * 1024); print('survived')"]);
    hog.resources = Some(LinuxContainerResources { memory_limit_in_bytes: 64 << 20, ..Default::default() });
    let c = fx.start(&sb, &sb_config, hog).await;
    let status = fx.wait_exited(&c).await;
    assert_eq!((status.exit_code, status.reason.as_str()), (137, "OOMKilled"), "{status:?}");
    let dirs = fx.rt.cgroup_dirs(&sb, Some(&c));
    let limit_file = if v2 { "memory.max" } else { "memory.limit_in_bytes" };
    let limit = dirs.iter().map(|d| d.join(limit_file)).find(|f| f.exists()).expect("the memory limit file");
    assert_eq!(std::fs::read_to_string(limit).unwrap().trim(), (64u64 << 20).to_string());
    assert!(!std::fs::read_to_string(log_path(&fx, &sb_config, "hog")).unwrap_or_default().contains("survived"));

    // CPU: shares and quota, usage, and an update while running.
    let mut busy = sh("busy", "while :; do :; done");
    busy.resources = Some(LinuxContainerResources {
        cpu_shares: 512,
        cpu_quota: 50_000,
        cpu_period: 100_000,
        memory_limit_in_bytes: 128 << 20,
        ..Default::default()
    });
    let b = fx.start(&sb, &sb_config, busy).await;
    let dirs = fx.rt.cgroup_dirs(&sb, Some(&b));
    let read = |name: &str| -> String {
        let file = dirs.iter().map(|d| d.join(name)).find(|f| f.exists()).unwrap_or_else(|| panic!("no {name}"));
        std::fs::read_to_string(file).unwrap().trim().to_string()
    };
    if v2 {
        assert_eq!(read("cpu.weight"), "20");
        assert_eq!(read("cpu.max"), "50000 100000");
    } else {
        assert_eq!(read("cpu.shares"), "512");
        assert_eq!(read("cpu.cfs_quota_us"), "50000");
        assert_eq!(read("cpu.cfs_period_us"), "100000");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stats = fx.rt.container_stats(&b).await.unwrap();
    assert!(stats.usage_core_nano_seconds > 200_000_000, "CPU used: {stats:?}");
    assert!(stats.usage_core_nano_seconds < 1_500_000_000, "at most half a CPU for 1.5 s: {stats:?}");
    assert!(stats.working_set_bytes > 0, "{stats:?}");
    let all =
        fx.rt.list_container_stats(&ContainerFilter { pod_sandbox_id: Some(sb.clone()), ..Default::default() }).await;
    assert_eq!(all.unwrap().len(), 2);

    let update =
        LinuxContainerResources { cpu_shares: 256, cpu_quota: 20_000, cpu_period: 100_000, ..Default::default() };
    fx.rt.update_container_resources(&b, &update).await.unwrap();
    if v2 {
        assert_eq!(read("cpu.max"), "20000 100000");
        assert_eq!(read("memory.max"), "max");
    } else {
        assert_eq!(read("cpu.shares"), "256");
        assert_eq!(read("cpu.cfs_quota_us"), "20000");
        assert!(read("memory.limit_in_bytes").len() > 12, "the memory limit is lifted");
    }
    let err = fx.rt.update_container_resources(&c, &update).await.unwrap_err();
    assert!(matches!(err, CriError::FailedPrecondition(_)), "{err}");

    fx.rt.remove_pod_sandbox(&sb).await.unwrap();
    assert_sandbox_gone(&fx, &sb, &[&c, &b], &[], None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_sync_enters_the_container_and_its_pid_namespace() {
    let mut fx = Fixture::new(TestNet::new(), None, None);
    let mut sb_config = fx.sandbox_config("exec-pod");
    sb_config.dns_config = Some(DnsConfig {
        servers: vec!["10.96.0.10".into()],
        searches: vec!["default.svc.cluster.local".into()],
        options: vec!["ndots:5".into()],
    });
    let sb = fx.sandbox(&sb_config).await;

    // A host directory bound over an (empty) directory of the pod's.
    let data = fx.net.dir().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("inside.txt"), "shared data\n").unwrap();
    let target = fx.net.dir().join("pod-volume");
    std::fs::create_dir_all(&target).unwrap();
    let mut config = sh("main", "echo pid=$$; exec sleep 1000");
    config.envs = vec![KeyValue { key: "FOO".into(), value: "bar".into() }];
    config.mounts = vec![Mount {
        container_path: target.display().to_string(),
        host_path: data.display().to_string(),
        readonly: true,
    }];
    let c = fx.start(&sb, &sb_config, config).await;
    wait_log(&log_path(&fx, &sb_config, "main"), "pid=").await;
    assert_eq!(log_entries(&log_path(&fx, &sb_config, "main"))[0].2, "pid=1", "the command is pid 1 of its namespace");

    assert_eq!(text(&exec(&fx, &c, &["cat", "/proc/1/cmdline"]).await.stdout), "sleep\u{0}1000\u{0}");
    let procs = text(&exec(&fx, &c, &["ls", "/proc"]).await.stdout);
    let pids: Vec<&str> = procs.lines().filter(|l| l.bytes().all(|b| b.is_ascii_digit())).collect();
    assert!(pids.contains(&"1") && pids.len() <= 4, "only the container's processes: {pids:?}");
    let script = format!("echo $FOO; hostname; cat {}/inside.txt; cat /etc/resolv.conf; echo $$", target.display());
    let out = exec(&fx, &c, &["sh", "-c", &script]).await;
    assert_eq!(out.exit_code, 0, "{out:?}");
    let out = text(&out.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..3], ["bar", "exec-pod", "shared data"], "{out}");
    assert!(out.contains("nameserver 10.96.0.10\n") && out.contains("options ndots:5\n"), "{out}");
    let exec_pid: u32 = lines.last().unwrap().parse().unwrap();
    assert!(exec_pid > 1 && exec_pid < 100, "numbered in the container's PID namespace: {exec_pid}");
    // The mount is the container's alone, and read-only.
    assert!(std::fs::read_dir(&target).unwrap().next().is_none(), "nothing is mounted on the host");
    let write = exec(&fx, &c, &["sh", "-c", &format!("echo x > {}/new", target.display())]).await;
    assert_ne!(write.exit_code, 0, "a read-only mount: {write:?}");
    // Loopback only.
    let dev = text(&exec(&fx, &c, &["cat", "/proc/net/dev"]).await.stdout);
    let ifaces: Vec<&str> = dev.lines().skip(2).filter_map(|l| l.split(':').next()).map(str::trim).collect();
    assert_eq!(ifaces, ["lo"]);

    let out = exec(&fx, &c, &["sh", "-c", "echo out; echo err >&2; exit 4"]).await;
    assert_eq!((text(&out.stdout).as_str(), text(&out.stderr).as_str(), out.exit_code), ("out\n", "err\n", 4));

    // The timeout kills the command.
    let started = Instant::now();
    let err = fx.rt.exec_sync(&c, &["sleep".into(), "30".into()], Duration::from_millis(500)).await.unwrap_err();
    assert!(matches!(err, CriError::DeadlineExceeded(_)), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let dirs = fx.rt.cgroup_dirs(&sb, Some(&c));
    let deadline = Instant::now() + Duration::from_secs(5);
    // Left: the wrapper (`unshare`) and pid 1.
    while cgroup_pids(&dirs[0]).len() > 2 {
        assert!(Instant::now() < deadline, "the exec's processes are killed: {:?}", cgroup_pids(&dirs[0]));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(exec(&fx, &c, &["true"]).await.exit_code, 0, "the container lives on");

    fx.rt.stop_container(&c, Duration::ZERO).await.unwrap();
    let err = fx.rt.exec_sync(&c, &["true".into()], Duration::from_secs(1)).await.unwrap_err();
    assert!(matches!(err, CriError::FailedPrecondition(_)), "{err}");
    fx.rt.remove_pod_sandbox(&sb).await.unwrap();
    assert_sandbox_gone(&fx, &sb, &[&c], &[], None);
}

/// A root filesystem with `sh`, `cat`, `ls` and `sleep` and their
/// libraries, copied from the host, and `/etc/marker`.
fn mini_rootfs(dir: &Path) -> PathBuf {
    let root = dir.join("mini-rootfs");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/marker"), "in the image\n").unwrap();
    let mut libs = BTreeSet::new();
    for tool in ["sh", "cat", "ls", "sleep"] {
        let path = testing::require_command(tool, "coreutils");
        std::fs::copy(&path, root.join("bin").join(tool)).unwrap();
        let ldd = std::process::Command::new("ldd").arg(&path).output().expect("ldd (libc-bin) runs");
        for line in String::from_utf8_lossy(&ldd.stdout).lines() {
            // "libc.so.6 => /lib/…/libc.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
            let lib = line.split("=>").last().unwrap_or("").split_whitespace().next().unwrap_or("");
            if lib.starts_with('/') {
                libs.insert(lib.to_string());
            }
        }
    }
    for lib in libs {
        let to = root.join(lib.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&lib, &to).unwrap();
    }
    root
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_with_a_root_filesystem_runs_chrooted() {
    let net = TestNet::new();
    let rootfs = mini_rootfs(net.dir());
    let mut fx = Fixture::new(net, None, Some(rootfs.clone()));
    let sb_config = fx.sandbox_config("chrooted");
    let sb = fx.sandbox(&sb_config).await;
    let data = fx.net.dir().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("file"), "from the host\n").unwrap();

    let mut config = sh("jail", "cat /etc/marker; pwd; echo pid=$$; cat /data/file; ls /; exec sleep 1000");
    config.image = ImageSpec { image: "mini:1".into() };
    config.working_dir = "/work".into();
    config.mounts =
        vec![Mount { container_path: "/data".into(), host_path: data.display().to_string(), readonly: false }];
    let c = fx.start(&sb, &sb_config, config).await;
    let log = log_path(&fx, &sb_config, "jail");
    // The image's entries, and the mount points the runtime made in it.
    let mut expected: BTreeSet<String> =
        std::fs::read_dir(&rootfs).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    expected.extend(["data", "dev", "proc", "work"].map(String::from));
    let deadline = Instant::now() + Duration::from_secs(20);
    let lines = loop {
        let lines: Vec<String> = log_entries(&log).into_iter().map(|(_, _, l)| l).collect();
        if lines.len() >= 4 + expected.len() {
            break lines;
        }
        assert!(Instant::now() < deadline, "the container's output is incomplete: {lines:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(lines[..4], ["in the image", "/work", "pid=1", "from the host"], "{lines:?}");
    let listed: BTreeSet<String> = lines[4..].iter().cloned().collect();
    assert_eq!(listed, expected, "the image's root, not the host's");

    // ExecSync enters the root too.
    assert_eq!(text(&exec(&fx, &c, &["cat", "/etc/marker"]).await.stdout), "in the image\n");
    let dev = text(&exec(&fx, &c, &["ls", "/dev"]).await.stdout);
    assert!(dev.lines().any(|l| l == "null") && dev.lines().any(|l| l == "shm"), "{dev}");
    let procs = text(&exec(&fx, &c, &["ls", "/proc"]).await.stdout);
    assert!(procs.lines().any(|l| l == "1"), "{procs}");
    let out = exec(&fx, &c, &["sh", "-c", "echo hi > /dev/null && pwd"]).await;
    assert_eq!(text(&out.stdout), "/work\n");

    fx.rt.remove_pod_sandbox(&sb).await.unwrap();
    assert_sandbox_gone(&fx, &sb, &[&c], &[], None);
    // Nothing stays mounted in the image.
    assert!(std::fs::read_dir(rootfs.join("dev")).unwrap().next().is_none());
    assert!(std::fs::read_dir(rootfs.join("proc")).unwrap().next().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_lifecycle_and_errors() {
    let mut fx = Fixture::new(TestNet::new(), None, None);
    let version = fx.rt.version().await.unwrap();
    assert_eq!((version.runtime_name.as_str(), version.runtime_api_version.as_str()), ("k-process", "v1"));
    let status = fx.rt.status().await.unwrap();
    let network = status.conditions.iter().find(|c| c.type_ == "NetworkReady").unwrap();
    assert!(network.status && network.message.contains("loopback"), "{network:?}");

    let a_config = fx.sandbox_config("a");
    let a = fx.sandbox(&a_config).await;
    let b_config = fx.sandbox_config("b");
    let b = fx.sandbox(&b_config).await;
    let mut host_config = fx.sandbox_config("h");
    host_config.host_network = true;
    let h = fx.sandbox(&host_config).await;
    assert!(fx.rt.sandbox_netns(&h).is_none());
    let a_ns = fx.rt.sandbox_netns(&a).unwrap();
    assert!(a_ns.exists());
    let status = fx.rt.pod_sandbox_status(&a).await.unwrap();
    assert_eq!((status.state, status.network.clone()), (PodSandboxState::Ready, None), "loopback only: no IP");
    assert_eq!(status.metadata, a_config.metadata);

    let listed = fx.rt.list_pod_sandbox(&PodSandboxFilter::default()).await.unwrap();
    assert_eq!(listed.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), [a.as_str(), b.as_str(), h.as_str()]);
    let filter =
        PodSandboxFilter { label_selector: [("app".to_string(), "b".to_string())].into(), ..Default::default() };
    assert_eq!(fx.rt.list_pod_sandbox(&filter).await.unwrap()[0].id, b);

    // CreateContainer's checks.
    let mut missing = container("x", &["true"]);
    missing.image.image = "not-here:1".into();
    assert!(fx.rt.create_container(&a, &missing, &a_config).await.unwrap_err().is_not_found());
    let empty = container("x", &[]);
    assert!(matches!(fx.rt.create_container(&a, &empty, &a_config).await, Err(CriError::InvalidArgument(_))));
    assert!(fx.rt.create_container("nope", &container("x", &["true"]), &a_config).await.unwrap_err().is_not_found());
    let created = fx.rt.create_container(&a, &container("x", &["sleep", "1000"]), &a_config).await.unwrap();
    let dup = fx.rt.create_container(&a, &container("x", &["true"]), &a_config).await;
    assert!(matches!(dup, Err(CriError::AlreadyExists(_))), "{dup:?}");
    assert_eq!(fx.rt.container_status(&created).await.unwrap().state, ContainerState::Created);
    assert_eq!(fx.rt.container_stats(&created).await.unwrap().usage_core_nano_seconds, 0);

    // The host-network sandbox's containers see the host's interfaces.
    let hc = fx.start(&h, &host_config, container("hostnet", &["sleep", "1000"])).await;
    let dev = text(&exec(&fx, &hc, &["cat", "/proc/net/dev"]).await.stdout);
    let host_dev = std::fs::read_to_string("/proc/net/dev").unwrap();
    assert_eq!(dev.lines().count(), host_dev.lines().count(), "{dev}");
    assert_eq!(text(&exec(&fx, &hc, &["cat", "/proc/sys/kernel/hostname"]).await.stdout), "h\n");

    // A stopped sandbox: its created container cannot start, no new ones.
    let running_b = fx.start(&b, &b_config, container("y", &["sleep", "1000"])).await;
    let b_holder = fx.rt.sandbox_holder_pid(&b).unwrap();
    fx.rt.stop_pod_sandbox(&a).await.unwrap();
    assert!(!a_ns.exists());
    let err = fx.rt.start_container(&created).await.unwrap_err();
    assert!(matches!(err, CriError::FailedPrecondition(_)), "{err}");
    let err = fx.rt.create_container(&a, &container("z", &["true"]), &a_config).await.unwrap_err();
    assert!(matches!(err, CriError::FailedPrecondition(_)), "{err}");
    let ready = PodSandboxFilter { state: Some(PodSandboxState::Ready), ..Default::default() };
    assert_eq!(fx.rt.list_pod_sandbox(&ready).await.unwrap().len(), 2);
    // The other sandbox is untouched.
    assert_eq!(fx.rt.container_status(&running_b).await.unwrap().state, ContainerState::Running);

    // Removing a sandbox removes its containers.
    let running_pid = fx.rt.container_pid(&running_b).unwrap();
    let b_ns = fx.rt.sandbox_netns(&b);
    fx.rt.remove_pod_sandbox(&b).await.unwrap();
    assert!(fx.rt.container_status(&running_b).await.unwrap_err().is_not_found());
    assert_sandbox_gone(&fx, &b, &[&running_b], &[running_pid, b_holder], b_ns.as_ref());
    fx.rt.remove_pod_sandbox(&a).await.unwrap();
    assert!(fx.rt.container_status(&created).await.unwrap_err().is_not_found());
    assert_sandbox_gone(&fx, &a, &[&created], &[], Some(&a_ns));
    let hc_pid = fx.rt.container_pid(&hc).unwrap();
    fx.rt.shutdown().await.unwrap();
    assert_sandbox_gone(&fx, &h, &[&hc], &[hc_pid], None);
    assert!(fx.rt.list_pod_sandbox(&PodSandboxFilter::default()).await.unwrap().is_empty());
    assert!(fx.rt.list_containers(&ContainerFilter::default()).await.unwrap().is_empty());
}
