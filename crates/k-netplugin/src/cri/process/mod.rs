//! `ProcessRuntime`: a CRI runtime for Linux that runs containers as plain
//! processes in namespaces and cgroups, without `unsafe` and without a
//! container runtime: namespaces come from util-linux (`unshare`,
//! `nsenter`), signals from rustix. Root only.
//!
//! - **Sandboxes** (`sandbox.rs`): a network namespace
//!   `/run/netns/<prefix><id[..12]>` set up through the configured
//!   [`PodNetwork`] (CNI; the sandbox status reports its address) or, with
//!   no network configured, with loopback only; and a holder process
//!   owning the pod's UTS (hostname) and IPC namespaces. StopPodSandbox
//!   kills the containers (no grace, as CRI asks), tears the network down
//!   (the IPAM address is released) and kills the holder; RemovePodSandbox
//!   also removes the containers, the sandbox's cgroup directories and its
//!   directory under `<root_dir>/sandboxes`.
//! - **Containers** (`container.rs`): a wrapper joins the container's
//!   cgroups, `nsenter`s the sandbox's namespaces and `unshare`s a mount
//!   and a PID namespace (with its own `/proc`, in host mode too) in which
//!   the command runs as pid 1, chrooted into the image's root filesystem
//!   unless the image is a host-mode image ([`RootfsProvider`] gives
//!   `None`), with only the configured environment (plus a default `PATH`
//!   and `HOSTNAME`), the working directory (default `/`) and the bind
//!   mounts of the [`ContainerConfig`] (made inside the container's
//!   private mount namespace; in host mode the mount points are created on
//!   the host file system when missing). The sandbox's DNS settings become
//!   a `resolv.conf` bound over `/etc/resolv.conf`. Processes run as root:
//!   users, capabilities, seccomp and read-only root filesystems are not
//!   implemented.
//! - **cgroups** (`cgroups.rs`): v1 or v2, detected; a container's cgroup
//!   is `<cgroup_root>/<sandbox id>/<container id>`; CPU shares, quota
//!   and period, the memory limit; OOM kills give the reason `OOMKilled`;
//!   ContainerStats reads CPU time and the working set from it.
//! - **Logs** (`logs.rs`): stdout and stderr are written to
//!   `<log_directory>/<log_path>` in the CRI format; ReopenContainerLog
//!   reopens the file.
//! - **Stop** (`stop.rs`): SIGTERM to the container's pid 1, SIGKILL to
//!   all its processes after the timeout. The exit code is the command's
//!   (128 + n for signal n), the reason `Completed`, `Error` or
//!   `OOMKilled`.
//!
//! State lives in memory only: a new `ProcessRuntime` does not find the
//! sandboxes and containers of an earlier one (whose processes die with
//! the tokio runtime that spawned them: the children are killed on drop).
//!
//! Runtime conditions: `RuntimeReady` is always true; `NetworkReady` is
//! the CNI network's STATUS when one is configured (lists older than CNI
//! 1.1.0 count as ready), and true without one (sandboxes then get
//! loopback only, which always works).

mod cgroups;
mod container;
mod logs;
mod sandbox;
mod stop;

use std::collections::HashMap;
use std::fmt::Debug;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use self::cgroups::{Cgroup, Hierarchy};
use self::container::{Binaries, BindMount, Launch};
use self::logs::{LogFile, Stream, StreamEnd, now_ns};
use self::sandbox::SandboxNet;
use super::*;
use crate::netns::NetNs;
use crate::pod::PodNetwork;

/// The `PATH` a container gets when its configuration has none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How long a started container may take to show its pid 1.
const INIT_WAIT: Duration = Duration::from_secs(5);

/// How long the exit watcher waits for the log copiers after the exit.
const LOG_DRAIN: Duration = Duration::from_secs(5);

/// How long removing a cgroup waits for its processes to be gone.
const CGROUP_REMOVE_WAIT: Duration = Duration::from_secs(5);

pub use super::image::RootfsProvider;

/// What the process runtime needs of its images: CRI's image service (to
/// check that an image is present and learn its id) and the root
/// filesystem lookup. Implemented for everything that implements both.
pub trait RuntimeImages: ImageService + RootfsProvider {}

impl<T: ImageService + RootfsProvider + ?Sized> RuntimeImages for T {}

/// Every image is present and runs in host mode (no root filesystem):
/// the zero-setup image service of the process runtime's tests and demos.
#[derive(Clone, Copy, Debug, Default)]
pub struct HostRootfs;

impl RootfsProvider for HostRootfs {
    fn rootfs(&self, _image: &str) -> Option<PathBuf> {
        None
    }
}

#[async_trait]
impl ImageService for HostRootfs {
    async fn list_images(&self, _filter: Option<&ImageSpec>) -> CriResult<Vec<Image>> {
        Ok(Vec::new())
    }

    async fn image_status(&self, image: &ImageSpec) -> CriResult<Option<Image>> {
        Ok(Some(Image { id: format!("host:{}", image.image), repo_tags: vec![image.image.clone()], size: 0 }))
    }

    async fn pull_image(&self, image: &ImageSpec) -> CriResult<String> {
        Ok(format!("host:{}", image.image))
    }

    async fn remove_image(&self, _image: &ImageSpec) -> CriResult<()> {
        Ok(())
    }

    async fn image_fs_info(&self) -> CriResult<Vec<FilesystemUsage>> {
        Ok(Vec::new())
    }
}

/// How a [`ProcessRuntime`] is set up.
#[derive(Clone, Debug)]
pub struct ProcessRuntimeConfig {
    /// The runtime's own directory (`<root_dir>/sandboxes/<id>` per
    /// sandbox, holding its `resolv.conf`).
    pub root_dir: PathBuf,
    /// The cgroup (relative to each hierarchy's root) under which sandboxes
    /// and containers get theirs: `k`.
    pub cgroup_root: String,
    /// Where the cgroup file systems are mounted: `/sys/fs/cgroup`.
    pub cgroup_mount: PathBuf,
    /// The start of the sandboxes' network namespace names: `k-`.
    pub netns_prefix: String,
    /// The pod network; `None`: sandboxes get loopback only.
    pub network: Option<PodNetwork>,
    /// The images.
    pub images: Arc<dyn RuntimeImages>,
}

impl ProcessRuntimeConfig {
    /// The defaults (cgroup root `k`, namespaces `k-…`, no network) with
    /// `root_dir` and `images`.
    pub fn new(root_dir: impl Into<PathBuf>, images: Arc<dyn RuntimeImages>) -> Self {
        ProcessRuntimeConfig {
            root_dir: root_dir.into(),
            cgroup_root: "k".into(),
            cgroup_mount: "/sys/fs/cgroup".into(),
            netns_prefix: "k-".into(),
            network: None,
            images,
        }
    }
}

/// The Linux process runtime (see the [module documentation](self)).
/// Clones share the runtime.
#[derive(Clone, Debug)]
pub struct ProcessRuntime {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: ProcessRuntimeConfig,
    bins: Binaries,
    cgroups: Hierarchy,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    sandboxes: HashMap<String, SandboxEntry>,
    containers: HashMap<String, ContainerEntry>,
}

#[derive(Debug)]
struct SandboxEntry {
    config: PodSandboxConfig,
    created_at: i64,
    ready: bool,
    net: SandboxNet,
    /// The network still needs a teardown.
    net_up: bool,
    network: Option<PodSandboxNetworkStatus>,
    holder: Option<tokio::process::Child>,
    holder_pid: i32,
    dir: PathBuf,
    resolv_conf: Option<PathBuf>,
    /// Serializes the sandbox's lifecycle calls and its containers' starts.
    lock: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Debug)]
struct ContainerEntry {
    sandbox_id: String,
    config: ContainerConfig,
    image_ref: String,
    rootfs: Option<PathBuf>,
    log_path: Option<PathBuf>,
    created_at: i64,
    state: ContainerState,
    started_at: i64,
    finished_at: i64,
    exit_code: i32,
    reason: String,
    message: String,
    cgroup: Cgroup,
    run: Option<Arc<Running>>,
}

/// A started container's process.
#[derive(Debug)]
struct Running {
    wrapper_pid: i32,
    init_pid: Option<i32>,
    exited: watch::Receiver<bool>,
    log: Arc<LogFile>,
}

/// A fresh 64-hex-digit id.
fn new_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    (0..4u8)
        .map(|i| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_i64(now_ns());
            h.write_u64(count);
            h.write_u32(std::process::id());
            h.write_u8(i);
            format!("{:016x}", h.finish())
        })
        .collect()
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

fn internal(context: &str) -> impl FnOnce(std::io::Error) -> CriError + '_ {
    move |e| CriError::Internal(format!("{context}: {e}"))
}

impl ProcessRuntime {
    /// A runtime: checks that it runs as root, finds `sh`, `nsenter`,
    /// `unshare`, `env`, `mount` and `sleep`, detects the cgroup layout
    /// and creates `root_dir`.
    pub fn new(config: ProcessRuntimeConfig) -> CriResult<ProcessRuntime> {
        if !rustix::process::geteuid().is_root() {
            return Err(CriError::Unavailable("the process runtime needs root".into()));
        }
        if config.cgroup_root.is_empty() || Path::new(&config.cgroup_root).is_absolute() {
            return Err(CriError::InvalidArgument(format!(
                "cgroup_root {:?} must be a relative path",
                config.cgroup_root
            )));
        }
        let bins = Binaries::find()?;
        let cgroups = Hierarchy::detect(&config.cgroup_mount).map_err(|e| CriError::Unavailable(e.to_string()))?;
        std::fs::create_dir_all(config.root_dir.join("sandboxes"))
            .map_err(internal(&format!("creating {}", config.root_dir.display())))?;
        Ok(ProcessRuntime { inner: Arc::new(Inner { config, bins, cgroups, state: Mutex::default() }) })
    }

    /// The configuration.
    pub fn config(&self) -> &ProcessRuntimeConfig {
        &self.inner.config
    }

    /// Whether the host has cgroup v2 (else v1).
    pub fn cgroup_v2(&self) -> bool {
        self.inner.cgroups.is_v2()
    }

    /// The cgroup directories of a sandbox (`container_id` `None`) or of
    /// one of its containers, whether they exist or not.
    pub fn cgroup_dirs(&self, sandbox_id: &str, container_id: Option<&str>) -> Vec<PathBuf> {
        self.inner.cgroup(sandbox_id, container_id).dirs()
    }

    /// A sandbox's network namespace (none for host network or an unknown
    /// sandbox).
    pub fn sandbox_netns(&self, sandbox_id: &str) -> Option<NetNs> {
        self.inner.lock().sandboxes.get(sandbox_id).and_then(|s| s.net.netns().cloned())
    }

    /// The pid of a ready sandbox's holder process.
    pub fn sandbox_holder_pid(&self, sandbox_id: &str) -> Option<u32> {
        let state = self.inner.lock();
        let sandbox = state.sandboxes.get(sandbox_id)?;
        sandbox.holder.as_ref().map(|_| sandbox.holder_pid as u32)
    }

    /// The host pid of a running container's first process (pid 1 in
    /// its PID namespace).
    pub fn container_pid(&self, container_id: &str) -> Option<u32> {
        let state = self.inner.lock();
        let c = state.containers.get(container_id)?;
        if c.state != ContainerState::Running {
            return None;
        }
        c.run.as_ref()?.init_pid.map(|p| p as u32)
    }

    /// Stops and removes every sandbox (and so every container).
    pub async fn shutdown(&self) -> CriResult<()> {
        let ids: Vec<String> = self.inner.lock().sandboxes.keys().cloned().collect();
        let mut first = None;
        for id in ids {
            if let Err(e) = self.remove_pod_sandbox(&id).await {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    async fn stop_container_inner(&self, id: &str, timeout: Duration) -> CriResult<()> {
        let (run, cgroup) = {
            let state = self.inner.lock();
            let Some(c) = state.containers.get(id) else { return Ok(()) };
            match (&c.run, c.state) {
                (Some(run), ContainerState::Running) => (run.clone(), c.cgroup.clone()),
                _ => return Ok(()),
            }
        };
        stop::stop(run.wrapper_pid, run.init_pid, &cgroup, run.exited.clone(), timeout)
            .await
            .map_err(|e| CriError::Internal(format!("stopping container {id}: {e}")))
    }

    /// Removes a container whose sandbox lock the caller holds.
    async fn remove_container_locked(&self, id: &str) -> CriResult<()> {
        self.stop_container_inner(id, Duration::ZERO).await?;
        let cgroup = match self.inner.lock().containers.get(id) {
            Some(c) => c.cgroup.clone(),
            None => return Ok(()),
        };
        // The processes are gone once the exit is recorded; the kernel may
        // still be finishing their exit.
        stop::kill_all(None, &cgroup);
        cgroup.remove(CGROUP_REMOVE_WAIT).await.map_err(|e| CriError::Internal(e.to_string()))?;
        self.inner.lock().containers.remove(id);
        Ok(())
    }

    fn sandbox_lock(&self, id: &str) -> Option<Arc<tokio::sync::Mutex<()>>> {
        self.inner.lock().sandboxes.get(id).map(|s| s.lock.clone())
    }

    async fn start_locked(&self, id: &str) -> CriResult<()> {
        let (launch, cgroup, resources, log_path) = {
            let state = self.inner.lock();
            let c = state.containers.get(id).ok_or_else(|| CriError::NotFound(format!("container {id}")))?;
            if c.state != ContainerState::Created {
                return Err(CriError::FailedPrecondition(format!("container {id} is {:?}, not created", c.state)));
            }
            let sandbox = state
                .sandboxes
                .get(&c.sandbox_id)
                .ok_or_else(|| CriError::NotFound(format!("sandbox {}", c.sandbox_id)))?;
            if !sandbox.ready || sandbox.holder.is_none() {
                return Err(CriError::FailedPrecondition(format!("sandbox {} is not ready", c.sandbox_id)));
            }
            let launch = self.inner.launch(c, sandbox);
            (launch, c.cgroup.clone(), c.config.resources.clone(), c.log_path.clone())
        };
        let started = self.spawn_container(id, launch, &cgroup, resources.as_ref(), log_path).await;
        if let Err(e) = &started {
            // As containerd: a container that failed to start is exited
            // with 128 and the reason StartError.
            let mut state = self.inner.lock();
            if let Some(c) = state.containers.get_mut(id) {
                c.state = ContainerState::Exited;
                c.exit_code = 128;
                c.reason = "StartError".into();
                c.message = e.to_string();
                c.finished_at = now_ns();
            }
        }
        started
    }

    async fn spawn_container(
        &self,
        id: &str,
        launch: Launch,
        cgroup: &Cgroup,
        resources: Option<&LinuxContainerResources>,
        log_path: Option<PathBuf>,
    ) -> CriResult<()> {
        cgroup.create().map_err(internal("creating the container's cgroup"))?;
        if let Some(r) = resources {
            cgroup.apply(r).map_err(internal("setting the container's resources"))?;
        }
        launch.prepare().map_err(internal("preparing the container's mounts"))?;
        let log = Arc::new(LogFile::open(log_path).map_err(internal("opening the container log"))?);
        let mut child =
            launch.command(&self.inner.bins).spawn().map_err(internal("starting the container's process"))?;
        let started_at = now_ns();
        let wrapper = child.id().and_then(|p| i32::try_from(p).ok()).unwrap_or(0);
        let stdout = child.stdout.take().map(|out| tokio::spawn(logs::copy_stream(out, Stream::Stdout, log.clone())));
        let stderr = child.stderr.take().map(|err| tokio::spawn(logs::copy_stream(err, Stream::Stderr, log.clone())));

        // The container's pid 1 appears once `unshare` forks it.
        let deadline = tokio::time::Instant::now() + INIT_WAIT;
        let mut init = None;
        while tokio::time::Instant::now() < deadline {
            init = container::find_init(wrapper, &cgroup.pids());
            if init.is_some() || !matches!(child.try_wait(), Ok(None)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        if init.is_none() {
            tracing::debug!("container {id}: no pid 1 seen (it exited already or is still starting)");
        }

        let (exited_tx, exited_rx) = watch::channel(false);
        let running = Arc::new(Running { wrapper_pid: wrapper, init_pid: init, exited: exited_rx, log });
        {
            let mut state = self.inner.lock();
            let Some(c) = state.containers.get_mut(id) else {
                return Err(CriError::NotFound(format!("container {id} was removed while starting")));
            };
            c.state = ContainerState::Running;
            c.started_at = started_at;
            c.run = Some(running);
        }
        let watcher = ExitWatcher {
            inner: Arc::downgrade(&self.inner),
            id: id.to_string(),
            cgroup: cgroup.clone(),
            stdout,
            stderr,
            exited: exited_tx,
        };
        tokio::spawn(watcher.run(child));
        Ok(())
    }
}

/// Waits for a container's wrapper process and records the exit.
struct ExitWatcher {
    inner: Weak<Inner>,
    id: String,
    cgroup: Cgroup,
    stdout: Option<tokio::task::JoinHandle<StreamEnd>>,
    stderr: Option<tokio::task::JoinHandle<StreamEnd>>,
    exited: watch::Sender<bool>,
}

impl ExitWatcher {
    async fn run(self, mut child: tokio::process::Child) {
        let status = child.wait().await;
        // The pipes close when the container's last process is gone (all
        // of them die with its pid 1).
        let stdout = self.stdout;
        let stderr = self.stderr;
        let ends = tokio::time::timeout(LOG_DRAIN, async move {
            let mut sigkilled = false;
            for task in [stdout, stderr].into_iter().flatten() {
                sigkilled |= task.await.map(|end| end.init_sigkilled).unwrap_or(false);
            }
            sigkilled
        })
        .await;
        let init_sigkilled = ends.unwrap_or(false);
        let mut code = match &status {
            Ok(status) => exit_code(*status),
            Err(_) => 255,
        };
        // `unshare --fork` exits 1 when its child was SIGKILLed.
        if init_sigkilled && code == 1 {
            code = 128 + 9;
        }
        let oom = self.cgroup.oom_kills() > 0;
        let reason = if oom {
            "OOMKilled"
        } else if code == 0 {
            "Completed"
        } else {
            "Error"
        };
        if let Some(inner) = self.inner.upgrade() {
            let mut state = inner.lock();
            if let Some(c) = state.containers.get_mut(&self.id) {
                c.state = ContainerState::Exited;
                c.exit_code = code;
                c.reason = reason.into();
                c.finished_at = now_ns();
                if let Err(e) = &status {
                    c.message = format!("waiting for the container's process: {e}");
                }
            }
        }
        let _ = self.exited.send(true);
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cgroup(&self, sandbox_id: &str, container_id: Option<&str>) -> Cgroup {
        let mut rel = PathBuf::from(&self.config.cgroup_root);
        rel.push(sandbox_id);
        if let Some(c) = container_id {
            rel.push(c);
        }
        self.cgroups.cgroup(&rel)
    }

    fn launch(&self, c: &ContainerEntry, sandbox: &SandboxEntry) -> Launch {
        let mut env: Vec<(String, String)> =
            c.config.envs.iter().map(|kv| (kv.key.clone(), kv.value.clone())).collect();
        if !env.iter().any(|(k, _)| k == "PATH") {
            env.insert(0, ("PATH".into(), DEFAULT_PATH.into()));
        }
        if !sandbox.config.hostname.is_empty() && !env.iter().any(|(k, _)| k == "HOSTNAME") {
            env.insert(1, ("HOSTNAME".into(), sandbox.config.hostname.clone()));
        }
        let mut mounts: Vec<BindMount> = Vec::new();
        if let Some(resolv) = &sandbox.resolv_conf
            && !c.config.mounts.iter().any(|m| Path::new(&m.container_path) == Path::new("/etc/resolv.conf"))
        {
            mounts.push(BindMount { source: resolv.clone(), target: "/etc/resolv.conf".into(), readonly: true });
        }
        mounts.extend(c.config.mounts.iter().map(|m| BindMount {
            source: m.host_path.clone().into(),
            target: m.container_path.clone().into(),
            readonly: m.readonly,
        }));
        let mut argv = c.config.command.clone();
        argv.extend(c.config.args.iter().cloned());
        Launch {
            holder_pid: sandbox.holder_pid,
            procs_files: c.cgroup.procs_files(),
            oom_score_adj: c.config.resources.as_ref().map(|r| r.oom_score_adj).filter(|a| *a != 0),
            rootfs: c.rootfs.clone(),
            mounts,
            env,
            working_dir: if c.config.working_dir.is_empty() { "/".into() } else { c.config.working_dir.clone() },
            argv,
        }
    }
}

impl State {
    /// Marks sandboxes whose holder died not ready.
    fn refresh(&mut self) {
        for sandbox in self.sandboxes.values_mut() {
            if let Some(holder) = sandbox.holder.as_mut()
                && !matches!(holder.try_wait(), Ok(None))
            {
                sandbox.ready = false;
            }
        }
    }
}

impl SandboxEntry {
    fn state(&self) -> PodSandboxState {
        if self.ready { PodSandboxState::Ready } else { PodSandboxState::NotReady }
    }
}

impl ContainerEntry {
    fn container(&self, id: &str) -> Container {
        Container {
            id: id.to_string(),
            pod_sandbox_id: self.sandbox_id.clone(),
            metadata: self.config.metadata.clone(),
            image: self.config.image.clone(),
            image_ref: self.image_ref.clone(),
            state: self.state,
            created_at: self.created_at,
            labels: self.config.labels.clone(),
            annotations: self.config.annotations.clone(),
        }
    }

    fn matches(&self, id: &str, filter: &ContainerFilter) -> bool {
        filter.matches(id, &self.sandbox_id, self.state, &self.config.labels)
    }

    fn stats(&self, id: &str) -> ContainerStats {
        let started = self.state != ContainerState::Created;
        ContainerStats {
            id: id.to_string(),
            metadata: self.config.metadata.clone(),
            timestamp: now_ns(),
            usage_core_nano_seconds: if started { self.cgroup.cpu_usage_ns() } else { 0 },
            working_set_bytes: if started { self.cgroup.working_set_bytes() } else { 0 },
        }
    }
}

impl ProcessRuntime {
    /// The ids of sandbox `id`'s containers.
    fn containers_of(&self, id: &str) -> Vec<String> {
        let state = self.inner.lock();
        state.containers.iter().filter(|(_, c)| c.sandbox_id == id).map(|(cid, _)| cid.clone()).collect()
    }
}

#[async_trait]
impl RuntimeService for ProcessRuntime {
    async fn version(&self) -> CriResult<VersionResponse> {
        Ok(VersionResponse {
            version: "0.1.0".into(),
            runtime_name: "k-process".into(),
            runtime_version: env!("CARGO_PKG_VERSION").into(),
            runtime_api_version: "v1".into(),
        })
    }

    async fn run_pod_sandbox(&self, config: &PodSandboxConfig) -> CriResult<String> {
        let id = new_id();
        let netns_name = format!("{}{}", self.inner.config.netns_prefix, &id[..12]);
        let created_at = now_ns();
        let dir = self.inner.config.root_dir.join("sandboxes").join(&id);
        std::fs::create_dir_all(&dir).map_err(internal(&format!("creating {}", dir.display())))?;
        let resolv_conf = match &config.dns_config {
            Some(dns) => {
                let path = dir.join("resolv.conf");
                if let Err(e) = std::fs::write(&path, sandbox::resolv_conf(dns)) {
                    let _ = std::fs::remove_dir_all(&dir);
                    return Err(internal(&format!("writing {}", path.display()))(e));
                }
                Some(path)
            }
            None => None,
        };
        let network = self.inner.config.network.as_ref();
        let (net, status) = match sandbox::setup_network(network, &id, &netns_name, config).await {
            Ok(done) => done,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let (holder, holder_pid) = match sandbox::spawn_holder(&self.inner.bins, &net, &config.hostname).await {
            Ok(holder) => holder,
            Err(e) => {
                if let Err(undo) = sandbox::teardown_network(network, &net).await {
                    tracing::warn!("sandbox {id}: undoing the network after a failed start: {undo}");
                }
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let entry = SandboxEntry {
            config: config.clone(),
            created_at,
            ready: true,
            net,
            net_up: true,
            network: status,
            holder: Some(holder),
            holder_pid,
            dir,
            resolv_conf,
            lock: Arc::default(),
        };
        self.inner.lock().sandboxes.insert(id.clone(), entry);
        Ok(id)
    }

    async fn stop_pod_sandbox(&self, id: &str) -> CriResult<()> {
        let Some(lock) = self.sandbox_lock(id) else { return Ok(()) };
        let _guard = lock.lock().await;
        let containers = self.containers_of(id);
        for cid in containers {
            self.stop_container_inner(&cid, Duration::ZERO).await?;
        }
        let (net, holder) = {
            let mut state = self.inner.lock();
            let Some(sandbox) = state.sandboxes.get_mut(id) else { return Ok(()) };
            sandbox.ready = false;
            (sandbox.net_up.then(|| sandbox.net.clone()), sandbox.holder.take())
        };
        if let Some(mut holder) = holder {
            let _ = holder.start_kill();
            let _ = holder.wait().await;
        }
        if let Some(net) = net {
            sandbox::teardown_network(self.inner.config.network.as_ref(), &net).await?;
            if let Some(sandbox) = self.inner.lock().sandboxes.get_mut(id) {
                sandbox.net_up = false;
                sandbox.network = None;
            }
        }
        Ok(())
    }

    async fn remove_pod_sandbox(&self, id: &str) -> CriResult<()> {
        self.stop_pod_sandbox(id).await?;
        let Some(lock) = self.sandbox_lock(id) else { return Ok(()) };
        let _guard = lock.lock().await;
        let containers = self.containers_of(id);
        for cid in containers {
            self.remove_container_locked(&cid).await?;
        }
        self.inner.cgroup(id, None).remove(CGROUP_REMOVE_WAIT).await.map_err(|e| CriError::Internal(e.to_string()))?;
        let dir = self.inner.lock().sandboxes.get(id).map(|s| s.dir.clone());
        if let Some(dir) = dir {
            match std::fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(CriError::Internal(format!("removing {}: {e}", dir.display())));
                }
                _ => {}
            }
        }
        self.inner.lock().sandboxes.remove(id);
        Ok(())
    }

    async fn pod_sandbox_status(&self, id: &str) -> CriResult<PodSandboxStatus> {
        let mut state = self.inner.lock();
        state.refresh();
        let s = state.sandboxes.get(id).ok_or_else(|| CriError::NotFound(format!("sandbox {id}")))?;
        Ok(PodSandboxStatus {
            id: id.to_string(),
            metadata: s.config.metadata.clone(),
            state: s.state(),
            created_at: s.created_at,
            network: if s.ready { s.network.clone() } else { None },
            labels: s.config.labels.clone(),
            annotations: s.config.annotations.clone(),
        })
    }

    async fn list_pod_sandbox(&self, filter: &PodSandboxFilter) -> CriResult<Vec<PodSandbox>> {
        let mut state = self.inner.lock();
        state.refresh();
        let mut list: Vec<PodSandbox> = state
            .sandboxes
            .iter()
            .filter(|(id, s)| filter.matches(id, s.state(), &s.config.labels))
            .map(|(id, s)| PodSandbox {
                id: id.clone(),
                metadata: s.config.metadata.clone(),
                state: s.state(),
                created_at: s.created_at,
                labels: s.config.labels.clone(),
                annotations: s.config.annotations.clone(),
            })
            .collect();
        list.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(list)
    }

    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
        sandbox_config: &PodSandboxConfig,
    ) -> CriResult<String> {
        if config.metadata.name.is_empty() {
            return Err(CriError::InvalidArgument("the container has no name".into()));
        }
        if config.command.is_empty() && config.args.is_empty() {
            return Err(CriError::InvalidArgument(format!(
                "container {}: no command (images carry no entrypoint here)",
                config.metadata.name
            )));
        }
        if let Some(m) = config.mounts.iter().find(|m| !Path::new(&m.container_path).is_absolute()) {
            return Err(CriError::InvalidArgument(format!("mount path {:?} is not absolute", m.container_path)));
        }
        let log_directory = {
            let state = self.inner.lock();
            let sandbox =
                state.sandboxes.get(sandbox_id).ok_or_else(|| CriError::NotFound(format!("sandbox {sandbox_id}")))?;
            if !sandbox.ready {
                return Err(CriError::FailedPrecondition(format!("sandbox {sandbox_id} is not ready")));
            }
            if sandbox_config.log_directory.is_empty() {
                sandbox.config.log_directory.clone()
            } else {
                sandbox_config.log_directory.clone()
            }
        };
        let images = &self.inner.config.images;
        let image = images
            .image_status(&config.image)
            .await?
            .ok_or_else(|| CriError::NotFound(format!("image {:?} is not present", config.image.image)))?;
        let rootfs = images.rootfs(&config.image.image).filter(|p| p != Path::new("/"));
        let log_path = (!log_directory.is_empty() && !config.log_path.is_empty())
            .then(|| Path::new(&log_directory).join(&config.log_path));
        let id = new_id();
        let entry = ContainerEntry {
            sandbox_id: sandbox_id.to_string(),
            config: config.clone(),
            image_ref: image.id,
            rootfs,
            log_path,
            created_at: now_ns(),
            state: ContainerState::Created,
            started_at: 0,
            finished_at: 0,
            exit_code: 0,
            reason: String::new(),
            message: String::new(),
            cgroup: self.inner.cgroup(sandbox_id, Some(&id)),
            run: None,
        };
        let mut state = self.inner.lock();
        if !state.sandboxes.contains_key(sandbox_id) {
            return Err(CriError::NotFound(format!("sandbox {sandbox_id}")));
        }
        if state.containers.values().any(|c| c.sandbox_id == sandbox_id && c.config.metadata == config.metadata) {
            return Err(CriError::AlreadyExists(format!(
                "container {} attempt {} in sandbox {sandbox_id}",
                config.metadata.name, config.metadata.attempt
            )));
        }
        state.containers.insert(id.clone(), entry);
        Ok(id)
    }

    async fn start_container(&self, id: &str) -> CriResult<()> {
        let sandbox_id = self
            .inner
            .lock()
            .containers
            .get(id)
            .map(|c| c.sandbox_id.clone())
            .ok_or_else(|| CriError::NotFound(format!("container {id}")))?;
        let lock = self.sandbox_lock(&sandbox_id).ok_or_else(|| CriError::NotFound(format!("sandbox {sandbox_id}")))?;
        let _guard = lock.lock().await;
        self.start_locked(id).await
    }

    async fn stop_container(&self, id: &str, timeout: Duration) -> CriResult<()> {
        self.stop_container_inner(id, timeout).await
    }

    async fn remove_container(&self, id: &str) -> CriResult<()> {
        let Some(sandbox_id) = self.inner.lock().containers.get(id).map(|c| c.sandbox_id.clone()) else {
            return Ok(());
        };
        // Stop first without the lock (a slow stop must not hold up the
        // sandbox), then remove under it (no start can be half done).
        self.stop_container_inner(id, Duration::ZERO).await?;
        match self.sandbox_lock(&sandbox_id) {
            Some(lock) => {
                let _guard = lock.lock().await;
                self.remove_container_locked(id).await
            }
            None => self.remove_container_locked(id).await,
        }
    }

    async fn list_containers(&self, filter: &ContainerFilter) -> CriResult<Vec<Container>> {
        let state = self.inner.lock();
        let mut list: Vec<Container> =
            state.containers.iter().filter(|(id, c)| c.matches(id, filter)).map(|(id, c)| c.container(id)).collect();
        list.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(list)
    }

    async fn container_status(&self, id: &str) -> CriResult<ContainerStatus> {
        let state = self.inner.lock();
        let c = state.containers.get(id).ok_or_else(|| CriError::NotFound(format!("container {id}")))?;
        Ok(ContainerStatus {
            id: id.to_string(),
            metadata: c.config.metadata.clone(),
            state: c.state,
            created_at: c.created_at,
            started_at: c.started_at,
            finished_at: c.finished_at,
            exit_code: c.exit_code,
            image: c.config.image.clone(),
            image_ref: c.image_ref.clone(),
            reason: c.reason.clone(),
            message: c.message.clone(),
            labels: c.config.labels.clone(),
            annotations: c.config.annotations.clone(),
            mounts: c.config.mounts.clone(),
            log_path: c.log_path.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        })
    }

    async fn update_container_resources(&self, id: &str, resources: &LinuxContainerResources) -> CriResult<()> {
        let running = {
            let mut state = self.inner.lock();
            let c = state.containers.get_mut(id).ok_or_else(|| CriError::NotFound(format!("container {id}")))?;
            if c.state == ContainerState::Exited {
                return Err(CriError::FailedPrecondition(format!("container {id} has exited")));
            }
            c.config.resources = Some(resources.clone());
            (c.state == ContainerState::Running).then(|| c.cgroup.clone())
        };
        match running {
            Some(cgroup) => cgroup.apply(resources).map_err(internal(&format!("updating container {id}"))),
            None => Ok(()),
        }
    }

    async fn reopen_container_log(&self, id: &str) -> CriResult<()> {
        let log = {
            let state = self.inner.lock();
            let c = state.containers.get(id).ok_or_else(|| CriError::NotFound(format!("container {id}")))?;
            match (&c.run, c.state) {
                (Some(run), ContainerState::Running) => run.log.clone(),
                _ => return Err(CriError::FailedPrecondition(format!("container {id} is not running"))),
            }
        };
        log.reopen().map_err(internal(&format!("reopening the log of container {id}")))
    }

    async fn exec_sync(&self, id: &str, cmd: &[String], timeout: Duration) -> CriResult<ExecSyncResponse> {
        if cmd.is_empty() {
            return Err(CriError::InvalidArgument("exec needs a command".into()));
        }
        let (init, procs, env) = {
            let state = self.inner.lock();
            let c = state.containers.get(id).ok_or_else(|| CriError::NotFound(format!("container {id}")))?;
            let init = match (&c.run, c.state) {
                (Some(run), ContainerState::Running) => run.init_pid,
                _ => None,
            };
            let Some(init) = init else {
                return Err(CriError::FailedPrecondition(format!("container {id} is not running")));
            };
            let sandbox = state.sandboxes.get(&c.sandbox_id);
            let launch = sandbox.map(|s| self.inner.launch(c, s));
            (init, c.cgroup.procs_files(), launch.map(|l| l.env).unwrap_or_default())
        };
        let child = container::exec_command(&self.inner.bins, init, &procs, &env, cmd)
            .spawn()
            .map_err(internal("starting the exec process"))?;
        let pid = child.id().and_then(|p| i32::try_from(p).ok());
        let output = child.wait_with_output();
        tokio::pin!(output);
        let finished = if timeout.is_zero() {
            Ok(output.as_mut().await)
        } else {
            tokio::time::timeout(timeout, output.as_mut()).await
        };
        match finished {
            Ok(out) => {
                let out = out.map_err(internal("waiting for the exec process"))?;
                Ok(ExecSyncResponse { stdout: out.stdout, stderr: out.stderr, exit_code: exit_code(out.status) })
            }
            Err(_) => {
                if let Some(pid) = pid {
                    for _ in 0..3 {
                        for p in stop::descendants(pid) {
                            stop::send(p, rustix::process::Signal::KILL);
                        }
                    }
                    stop::send(pid, rustix::process::Signal::KILL);
                }
                let _ = output.await;
                Err(CriError::DeadlineExceeded(format!("exec in container {id} did not finish within {timeout:?}")))
            }
        }
    }

    async fn container_stats(&self, id: &str) -> CriResult<ContainerStats> {
        let state = self.inner.lock();
        let c = state.containers.get(id).ok_or_else(|| CriError::NotFound(format!("container {id}")))?;
        Ok(c.stats(id))
    }

    async fn list_container_stats(&self, filter: &ContainerFilter) -> CriResult<Vec<ContainerStats>> {
        let state = self.inner.lock();
        let mut list: Vec<ContainerStats> =
            state.containers.iter().filter(|(id, c)| c.matches(id, filter)).map(|(id, c)| c.stats(id)).collect();
        list.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(list)
    }

    async fn status(&self) -> CriResult<RuntimeStatus> {
        let runtime = RuntimeCondition { type_: "RuntimeReady".into(), status: true, ..Default::default() };
        let network = match &self.inner.config.network {
            None => RuntimeCondition {
                type_: "NetworkReady".into(),
                status: true,
                reason: String::new(),
                message: "no pod network configured: sandboxes get loopback only".into(),
            },
            Some(net) => match net.executor().status(net.network()).await {
                Ok(()) => RuntimeCondition { type_: "NetworkReady".into(), status: true, ..Default::default() },
                Err(e) => RuntimeCondition {
                    type_: "NetworkReady".into(),
                    status: false,
                    reason: "NetworkPluginNotReady".into(),
                    message: e.to_string(),
                },
            },
        };
        Ok(RuntimeStatus { conditions: vec![runtime, network] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_hex() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_ne!(a[..12], b[..12]);
    }

    #[tokio::test]
    async fn host_rootfs_has_every_image() {
        let images = HostRootfs;
        let spec = ImageSpec { image: "busybox:1.36".into() };
        assert_eq!(images.rootfs("busybox:1.36"), None);
        assert_eq!(images.image_status(&spec).await.unwrap().unwrap().id, "host:busybox:1.36");
        assert_eq!(images.pull_image(&spec).await.unwrap(), "host:busybox:1.36");
        let dynamic: Arc<dyn RuntimeImages> = Arc::new(HostRootfs);
        assert!(dynamic.list_images(None).await.unwrap().is_empty());
    }
}
