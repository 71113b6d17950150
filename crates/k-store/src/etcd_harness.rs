//! Real etcd processes for tests (feature `etcd`).
//!
//! [`EtcdServer::start`] runs the `etcd` binary (Debian package `etcd-server`)
//! as a one-member cluster on free loopback ports with a temporary data
//! directory; [`EtcdCluster::start`] runs a multi-member cluster. Both kill
//! their processes and remove their directories on drop. Only `127.0.0.1`
//! is ever listened on or connected to.
//!
//! [`EtcdTestBackend`] bundles a server with an [`EtcdBackend`] connected to
//! it, for suites that want a self-cleaning `Arc<dyn Backend>`.
//!
//! The binary is found through `$K_ETCD_BIN`, then `$PATH`, then
//! `/usr/bin/etcd`. Data directories go under `/dev/shm` when it is writable
//! (fsync is free on tmpfs), else under the system temporary directory.

use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::backend::etcd::{EtcdBackend, EtcdOptions};
use crate::backend::{Backend, KeyValue, RangePage, Revision, WatchStream};
use crate::error::Result;

/// The message of [`HarnessError::BinaryNotFound`].
pub const BINARY_NOT_FOUND: &str =
    "etcd binary not found: install the Debian package etcd-server (apt-get install etcd-server)";

/// How long a member may take to report healthy.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How many times a start is retried when a picked port was taken meanwhile.
const START_ATTEMPTS: usize = 3;

/// Why an etcd process could not be provided.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The `etcd` binary is not installed.
    #[error("{BINARY_NOT_FOUND}")]
    BinaryNotFound,
    /// A file-system or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// etcd exited or never became healthy.
    #[error("etcd did not start: {reason}; last log lines:\n{log}")]
    StartFailed {
        /// What was observed.
        reason: String,
        /// The tail of etcd's log.
        log: String,
    },
    /// The request is not valid (e.g. a cluster of 0 members).
    #[error("{0}")]
    Invalid(String),
    /// The backend could not connect to the started server.
    #[error("could not connect to the etcd test server: {0}")]
    Connect(#[from] crate::error::StoreError),
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> HarnessError {
    let context = context.into();
    move |source| HarnessError::Io { context, source }
}

/// Tunables of the started etcd processes.
#[derive(Clone, Debug)]
pub struct HarnessOptions {
    /// etcd's `--experimental-watch-progress-notify-interval`: how often idle
    /// watchers receive progress notifications from the server.
    pub progress_notify_interval: Duration,
    /// etcd's `--heartbeat-interval`.
    pub heartbeat_interval: Duration,
    /// etcd's `--election-timeout`.
    pub election_timeout: Duration,
}

impl Default for HarnessOptions {
    fn default() -> Self {
        Self {
            progress_notify_interval: Duration::from_millis(500),
            heartbeat_interval: Duration::from_millis(50),
            election_timeout: Duration::from_millis(500),
        }
    }
}

/// Finds the `etcd` binary.
pub fn etcd_binary() -> Result<PathBuf, HarnessError> {
    if let Some(p) = std::env::var_os("K_ETCD_BIN").map(PathBuf::from) {
        return if p.is_file() { Ok(p) } else { Err(HarnessError::BinaryNotFound) };
    }
    let from_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("etcd"))
        .find(|p| p.is_file());
    from_path
        .or_else(|| Some(PathBuf::from("/usr/bin/etcd")).filter(|p| p.is_file()))
        .ok_or(HarnessError::BinaryNotFound)
}

/// Picks `n` distinct free loopback ports (bound together, then released).
fn free_ports(n: usize) -> Result<Vec<u16>, HarnessError> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io_err("binding a free loopback port")))
        .collect::<Result<Vec<_>, _>>()?;
    listeners.iter().map(|l| l.local_addr().map(|a| a.port()).map_err(io_err("reading a bound port"))).collect()
}

/// A unique token for names and directories.
fn unique_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{}-{}-{nanos:x}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A fresh temporary directory, removed by its owner's Drop.
fn make_temp_dir() -> Result<PathBuf, HarnessError> {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() && fs::metadata(shm).is_ok_and(|m| !m.permissions().readonly()) {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("k-etcd-{}", unique_token()));
    match fs::create_dir_all(&dir) {
        Ok(()) => Ok(dir),
        Err(_) if base != std::env::temp_dir() => {
            let dir = std::env::temp_dir().join(format!("k-etcd-{}", unique_token()));
            fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
            Ok(dir)
        }
        Err(e) => Err(io_err(format!("creating {}", dir.display()))(e)),
    }
}

fn url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// The last lines of a log file.
fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Asks a member's `/health` endpoint; true when it reports a healthy cluster.
fn healthy(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let request = format!("GET /health HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.") && response.contains("200") && response.contains("\"health\":\"true\"")
}

/// One etcd process.
struct Member {
    name: String,
    client_port: u16,
    peer_port: u16,
    data_dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl fmt::Debug for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Member")
            .field("name", &self.name)
            .field("client", &url(self.client_port))
            .field("running", &self.child.is_some())
            .finish()
    }
}

impl Member {
    fn spawn(
        binary: &Path,
        dir: &Path,
        name: String,
        ports: (u16, u16),
        initial_cluster: &str,
        token: &str,
        options: &HarnessOptions,
    ) -> Result<Self, HarnessError> {
        let (client_port, peer_port) = ports;
        let data_dir = dir.join(format!("{name}.data"));
        let log = dir.join(format!("{name}.log"));
        let log_file = fs::File::create(&log).map_err(io_err(format!("creating {}", log.display())))?;
        let log_file2 = log_file.try_clone().map_err(io_err("cloning the log file handle"))?;
        let child = Command::new(binary)
            .arg("--name")
            .arg(&name)
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--listen-client-urls")
            .arg(url(client_port))
            .arg("--advertise-client-urls")
            .arg(url(client_port))
            .arg("--listen-peer-urls")
            .arg(url(peer_port))
            .arg("--initial-advertise-peer-urls")
            .arg(url(peer_port))
            .arg("--initial-cluster")
            .arg(initial_cluster)
            .arg("--initial-cluster-state")
            .arg("new")
            .arg("--initial-cluster-token")
            .arg(token)
            .arg("--heartbeat-interval")
            .arg(options.heartbeat_interval.as_millis().to_string())
            .arg("--election-timeout")
            .arg(options.election_timeout.as_millis().to_string())
            .arg("--experimental-watch-progress-notify-interval")
            .arg(format!("{}ms", options.progress_notify_interval.as_millis()))
            .arg("--logger")
            .arg("zap")
            .arg("--log-outputs")
            .arg("stderr")
            .arg("--log-level")
            .arg("warn")
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_file2)
            .spawn()
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    HarnessError::BinaryNotFound
                } else {
                    io_err(format!("spawning {}", binary.display()))(e)
                }
            })?;
        Ok(Self { name, client_port, peer_port, data_dir, log, child: Some(child) })
    }

    fn endpoint(&self) -> String {
        url(self.client_port)
    }

    /// None while running; a description once the process has exited.
    fn exited(&mut self) -> Option<String> {
        match self.child.as_mut().map(Child::try_wait) {
            None => Some("killed".to_owned()),
            Some(Ok(None)) => None,
            Some(Ok(Some(status))) => Some(format!("member {} exited with {status}", self.name)),
            Some(Err(e)) => Some(format!("member {}: {e}", self.name)),
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits until every running member is healthy.
fn wait_healthy(members: &mut [Member]) -> Result<(), HarnessError> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        for m in members.iter_mut() {
            if let Some(reason) = m.exited() {
                return Err(HarnessError::StartFailed { reason, log: log_tail(&m.log) });
            }
        }
        if members.iter().all(|m| healthy(m.client_port)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            let log = members.iter().map(|m| format!("[{}]\n{}", m.name, log_tail(&m.log))).collect::<Vec<_>>();
            return Err(HarnessError::StartFailed {
                reason: format!("not healthy after {START_TIMEOUT:?}"),
                log: log.join("\n"),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running etcd cluster of one or more members (owned processes and directory).
struct Processes {
    dir: PathBuf,
    members: Vec<Member>,
}

impl Processes {
    fn start(n: usize, options: &HarnessOptions) -> Result<Self, HarnessError> {
        if n == 0 {
            return Err(HarnessError::Invalid("an etcd cluster needs at least one member".to_owned()));
        }
        let binary = etcd_binary()?;
        let mut last = None;
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(&binary, n, options) {
                Ok(p) => return Ok(p),
                // A port may have been taken between picking and binding: retry with new ones.
                Err(e @ HarnessError::StartFailed { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| HarnessError::Invalid("no start attempt".to_owned())))
    }

    fn try_start(binary: &Path, n: usize, options: &HarnessOptions) -> Result<Self, HarnessError> {
        let dir = make_temp_dir()?;
        let mut processes = Self { dir, members: Vec::with_capacity(n) };
        let token = format!("k-etcd-{}", unique_token());
        let ports = free_ports(2 * n)?;
        let names: Vec<String> = (0..n).map(|i| format!("{token}-{i}")).collect();
        let initial_cluster = names
            .iter()
            .enumerate()
            .map(|(i, name)| format!("{name}={}", url(ports[2 * i + 1])))
            .collect::<Vec<_>>()
            .join(",");
        for (i, name) in names.into_iter().enumerate() {
            let member = Member::spawn(
                binary,
                &processes.dir,
                name,
                (ports[2 * i], ports[2 * i + 1]),
                &initial_cluster,
                &token,
                options,
            )?;
            processes.members.push(member);
        }
        wait_healthy(&mut processes.members)?;
        Ok(processes)
    }

    fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(Member::endpoint).collect()
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for m in &mut self.members {
            m.kill();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A one-member etcd cluster on a free loopback port, killed (and its data
/// directory removed) on drop.
#[derive(Debug)]
pub struct EtcdServer {
    processes: Processes,
}

impl fmt::Debug for Processes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Processes").field("dir", &self.dir).field("members", &self.members).finish()
    }
}

impl EtcdServer {
    /// Starts etcd with the default [`HarnessOptions`] and waits until it is healthy.
    ///
    /// Blocks the calling thread for the start (typically well under a second).
    pub fn start() -> Result<Self, HarnessError> {
        Self::start_with(&HarnessOptions::default())
    }

    /// Starts etcd with the given options.
    pub fn start_with(options: &HarnessOptions) -> Result<Self, HarnessError> {
        Ok(Self { processes: Processes::start(1, options)? })
    }

    /// The client URLs (`http://127.0.0.1:<port>`).
    pub fn endpoints(&self) -> Vec<String> {
        self.processes.endpoints()
    }

    /// The data directory of the member.
    pub fn data_dir(&self) -> &Path {
        &self.processes.members[0].data_dir
    }
}

/// A multi-member etcd cluster on loopback ports, killed (and its data
/// directories removed) on drop.
#[derive(Debug)]
pub struct EtcdCluster {
    processes: Processes,
}

impl EtcdCluster {
    /// Starts `members` etcd processes forming one cluster and waits until every one is healthy.
    pub fn start(members: usize) -> Result<Self, HarnessError> {
        Self::start_with(members, &HarnessOptions::default())
    }

    /// Starts a cluster with the given options.
    pub fn start_with(members: usize, options: &HarnessOptions) -> Result<Self, HarnessError> {
        Ok(Self { processes: Processes::start(members, options)? })
    }

    /// The client URLs of every member (killed ones included), in member order.
    pub fn endpoints(&self) -> Vec<String> {
        self.processes.endpoints()
    }

    /// The client URL of member `i`.
    pub fn endpoint(&self, i: usize) -> Option<String> {
        self.processes.members.get(i).map(Member::endpoint)
    }

    /// The number of members (killed ones included).
    pub fn len(&self) -> usize {
        self.processes.members.len()
    }

    /// Whether the cluster has no members (never true for a started cluster).
    pub fn is_empty(&self) -> bool {
        self.processes.members.is_empty()
    }

    /// Whether member `i` is still running.
    pub fn is_running(&mut self, i: usize) -> bool {
        self.processes.members.get_mut(i).is_some_and(|m| m.exited().is_none())
    }

    /// Kills member `i` (SIGKILL) and waits for it to exit. Killing a dead
    /// member again is a no-op.
    pub fn kill_member(&mut self, i: usize) -> Result<(), HarnessError> {
        let n = self.processes.members.len();
        let m = self
            .processes
            .members
            .get_mut(i)
            .ok_or_else(|| HarnessError::Invalid(format!("no member {i} in a cluster of {n}")))?;
        m.kill();
        Ok(())
    }

    /// The peer URL of member `i`.
    pub fn peer_endpoint(&self, i: usize) -> Option<String> {
        self.processes.members.get(i).map(|m| url(m.peer_port))
    }
}

/// An [`EtcdBackend`] connected to its own [`EtcdServer`]; dropping it stops
/// the server. Implements [`Backend`] by delegation.
#[derive(Debug)]
pub struct EtcdTestBackend {
    backend: EtcdBackend,
    server: EtcdServer,
}

impl EtcdTestBackend {
    /// Starts a server and connects a backend with default options.
    pub async fn start() -> Result<Self, HarnessError> {
        Self::start_with(EtcdOptions::default()).await
    }

    /// Starts a server and connects a backend with the given options.
    pub async fn start_with(options: EtcdOptions) -> Result<Self, HarnessError> {
        let server = tokio::task::spawn_blocking(EtcdServer::start)
            .await
            .map_err(|e| HarnessError::Invalid(format!("the etcd start task failed: {e}")))??;
        let backend = EtcdBackend::connect_with(&server.endpoints(), options).await?;
        Ok(Self { backend, server })
    }

    /// The backend.
    pub fn backend(&self) -> &EtcdBackend {
        &self.backend
    }

    /// The server.
    pub fn server(&self) -> &EtcdServer {
        &self.server
    }
}

#[async_trait::async_trait]
impl Backend for EtcdTestBackend {
    async fn revision(&self) -> Result<Revision> {
        self.backend.revision().await
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        self.backend.compacted_revision().await
    }

    async fn get(&self, key: &str, at: Option<Revision>) -> Result<Option<KeyValue>> {
        self.backend.get(key, at).await
    }

    async fn range(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        at: Option<Revision>,
    ) -> Result<RangePage> {
        self.backend.range(prefix, start_after, limit, at).await
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<Revision> {
        self.backend.create(key, value).await
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<Revision> {
        self.backend.update(key, value, expected).await
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(Revision, KeyValue)> {
        self.backend.delete(key, expected).await
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        self.backend.watch(prefix, after).await
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.backend.compact(revision).await
    }
}
