//! [`FakeRuntime`]: CRI's [`RuntimeService`] and [`ImageService`] in memory,
//! for tests and simulated nodes.
//!
//! It keeps CRI's semantics (idempotent stop and remove, removing a sandbox
//! removes its containers, a container of a NOTREADY sandbox cannot start,
//! CreateContainer needs the image present, exited containers keep their
//! exit code, reason and finish time, filters by id, state, sandbox and
//! labels) and adds what tests need: a [`Script`] per image or container
//! name (exit after a delay, crash loops, OOM kills, slow or failing
//! starts, failing pulls, ExecSync answers for probes, stats, log lines),
//! one-shot error injection ([`FakeRuntime::fail_next`]) and call counters
//! ([`FakeRuntime::calls`]).
//!
//! # Cost
//!
//! No task or thread runs per sandbox or container. State changes are
//! computed when the runtime is asked: a container scripted to exit 5 s
//! after its start is RUNNING until the [`Clock`] passes `started_at + 5 s`,
//! then EXITED with `finished_at = started_at + 5 s` (the exit is recorded
//! the first time a call observes it). All state sits behind one
//! `std::sync::Mutex`, never held across an `await`; scripts are shared
//! (`Arc`), so a container costs its id, its labels and annotations and a
//! few words. A thousand runtimes of thirty pods each fit in one process.
//!
//! # Time
//!
//! Two clocks are involved, on purpose:
//! - Timestamps and lazy transitions (`created_at`, `started_at`,
//!   `finished_at`, scripted exits, stats) read the runtime's [`Clock`], a
//!   one-method trait (`now() -> SystemTime`) defined here because
//!   k-netplugin does not always depend on k-runtime. [`ManualClock`]
//!   moves only when told ([`ManualClock::advance`], [`ManualClock::set`]);
//!   [`SystemClock`] is the real time; [`TokioClock`] follows tokio's clock
//!   (so it stands still while tokio's time is paused and jumps with
//!   `tokio::time::advance`); [`FnClock`] adapts any function, e.g. a
//!   k-runtime `FakeClock`'s `wall()`.
//! - Calls that take time in CRI (a slow StartContainer, StopContainer
//!   waiting for a container that ignores SIGTERM, slow pulls and exec
//!   answers) wait with `tokio::time::sleep`, so tests with paused tokio
//!   time run them instantly.
//!
//! # Choices where CRI leaves room (following containerd)
//!
//! - StopContainer: a running container that honours SIGTERM (the default)
//!   exits with [`Script::sigterm_exit_code`] (143) right away, or after
//!   [`Script::stops_after`] if that is within the timeout; one that
//!   ignores SIGTERM ([`Script::ignores_sigterm`]) is killed when the
//!   timeout has passed: exit code 137. A zero timeout kills at once (137).
//!   Stopping a CREATED or EXITED container changes nothing.
//! - StopPodSandbox kills the sandbox's running containers at once: exit
//!   code 137, reason `Error` (what containerd reports for SIGKILL);
//!   CREATED containers stay CREATED. The sandbox becomes NOTREADY and its
//!   address goes back to the pool (its status then has no network).
//! - Reasons: `Completed` for exit code 0, `Error` otherwise, `OOMKilled`
//!   (exit code 137) for [`Script::oom_after`]; a failed start leaves the
//!   container EXITED with exit code 128, reason `StartError` and the
//!   error as message.
//! - RemovePodSandbox of a READY sandbox stops it first; RemoveContainer of
//!   a running container removes it (CRI's "forcibly").
//! - RunPodSandbox fails with Unavailable while the network is not ready
//!   ([`FakeRuntime::set_network_ready`]) unless the pod uses the host's
//!   network, AlreadyExists for a pod metadata (name, uid, namespace,
//!   attempt) already in use, and Internal when the pod CIDR is exhausted.
//!   Host-network sandboxes get no address (their status has no network).
//! - Pod addresses come from the runtime's pod CIDR (default
//!   `10.88.0.0/16`, containerd's default bridge network): the network and
//!   gateway (`.0`, `.1`) and, for IPv4, the broadcast address are skipped;
//!   addresses are handed out in order from after the last one given, as
//!   host-local does, so a released address is reused after a wrap.
//! - Images: a name without tag or digest means `:latest`
//!   (`busybox` is `busybox:latest`); there is no registry normalisation
//!   (`docker.io/library/busybox` is another name). Image ids are
//!   `sha256:<hex of sha256(normalised name)>`; an image can be named by
//!   its id. PullImage of an unknown name adds it unless its script has a
//!   [`Script::pull_error`] (then Unavailable).
//! - Scripts: a container's script is the one for its container name if
//!   any, else the one for its image (tried as given, normalised, without
//!   tag, and by its last path component), else the default. Lifecycle
//!   parts (exit, OOM, start, stop, logs) are fixed when the container is
//!   created; ExecSync answers and stats follow the current script, so a
//!   test can make a probe fail with [`FakeRuntime::set_script`].
//! - Logs: nothing is written to disk unless [`FakeRuntime::with_log_files`]
//!   is on and both the sandbox's `log_directory` and the container's
//!   `log_path` are set; then StartContainer appends the script's lines in
//!   CRI log format (`<RFC3339Nano> stdout F <line>`).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;

use super::{
    Container, ContainerConfig, ContainerFilter, ContainerMetadata, ContainerState, ContainerStats, ContainerStatus,
    CriError, CriResult, ExecSyncResponse, FilesystemUsage, Image, ImageService, ImageSpec, Labels,
    LinuxContainerResources, Mount, PodSandbox, PodSandboxConfig, PodSandboxFilter, PodSandboxMetadata,
    PodSandboxNetworkStatus, PodSandboxState, PodSandboxStatus, RuntimeCondition, RuntimeService, RuntimeStatus,
    VersionResponse,
};

// ---------------------------------------------------------------------------
// Clocks

/// The wall clock a [`FakeRuntime`] reads for timestamps and for its lazy
/// state transitions.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
}

/// The real time.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that moves only when told to. Clones share the same time, so a
/// test keeps one clone and gives another to one or many runtimes.
#[derive(Clone)]
pub struct ManualClock {
    /// Nanoseconds since the Unix epoch.
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at `at` (times before the Unix epoch count as the
    /// epoch).
    pub fn new(at: SystemTime) -> Self {
        ManualClock { nanos: Arc::new(AtomicU64::new(nanos_since_epoch(at))) }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.nanos.fetch_add(u64::try_from(by.as_nanos()).unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    /// Sets the clock to `at` (backwards too; exits already observed stay).
    pub fn set(&self, at: SystemTime) {
        self.nanos.store(nanos_since_epoch(at), Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    /// A clock at 2024-01-01T00:00:00Z, so tests see the same timestamps on
    /// every run.
    fn default() -> Self {
        ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_704_067_200))
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock").field("now", &rfc3339_nano(self.now())).finish()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

/// The wall time as tokio's clock sees it: the real time when the clock was
/// made plus what `tokio::time::Instant` says has passed since. With tokio's
/// time paused it stands still and jumps with `tokio::time::advance`.
#[derive(Clone, Copy, Debug)]
pub struct TokioClock {
    wall: SystemTime,
    base: tokio::time::Instant,
}

impl TokioClock {
    /// A clock starting at the current real time.
    pub fn new() -> Self {
        TokioClock { wall: SystemTime::now(), base: tokio::time::Instant::now() }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> SystemTime {
        self.wall + self.base.elapsed()
    }
}

/// A clock from a function, e.g. `FnClock::new(move || fake.wall().into())`
/// over k-runtime's `FakeClock`.
#[derive(Clone)]
pub struct FnClock(Arc<dyn Fn() -> SystemTime + Send + Sync>);

impl FnClock {
    /// A clock reading `now`.
    pub fn new(now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        FnClock(Arc::new(now))
    }
}

impl fmt::Debug for FnClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FnClock").finish_non_exhaustive()
    }
}

impl Clock for FnClock {
    fn now(&self) -> SystemTime {
        (self.0)()
    }
}

// ---------------------------------------------------------------------------
// Scripts

/// What an ExecSync in a container answers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecAnswer {
    /// The exit code.
    pub exit_code: i32,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
    /// How long the command runs (tokio time). When it is longer than the
    /// call's non-zero timeout, ExecSync waits the timeout and fails with
    /// DeadlineExceeded.
    pub delay: Duration,
}

impl ExecAnswer {
    /// An answer with this exit code and standard output.
    pub fn new(exit_code: i32, stdout: impl Into<Vec<u8>>) -> Self {
        ExecAnswer { exit_code, stdout: stdout.into(), ..ExecAnswer::default() }
    }

    /// The same answer, taking `delay` to come.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// What a scripted ExecSync function is told.
#[derive(Clone, Copy, Debug)]
pub struct ExecCall<'a> {
    /// The container's id.
    pub container_id: &'a str,
    /// The container's name.
    pub container_name: &'a str,
    /// The container's image (normalised name).
    pub image: &'a str,
    /// The command.
    pub cmd: &'a [String],
    /// How long the container has been running, by the runtime's clock.
    pub running_for: Duration,
}

type ExecFn = Arc<dyn Fn(&ExecCall<'_>) -> ExecAnswer + Send + Sync>;

const DEFAULT_CPU_NANOS_PER_SECOND: u64 = 10_000_000; // 10 millicores
const DEFAULT_MEMORY_BYTES: u64 = 8 << 20;
const DEFAULT_IMAGE_SIZE: u64 = 10 << 20;
const SIGTERM_EXIT_CODE: i32 = 143;
const SIGKILL_EXIT_CODE: i32 = 137;
const START_ERROR_EXIT_CODE: i32 = 128;

/// How containers of an image (or of a container name) behave, built with
/// chained calls: `Script::exits(Duration::from_secs(3), 1).start_delay(…)`.
///
/// The default runs forever, starts at once, honours SIGTERM (exit code
/// 143), answers every ExecSync with exit code 0 and no output, logs
/// nothing and uses 10 millicores of CPU and 8 MiB of memory.
#[derive(Clone)]
pub struct Script {
    exit_after: Option<Duration>,
    exit_code: i32,
    oom_after: Option<Duration>,
    start_delay: Duration,
    fail_start: Option<String>,
    pull_error: Option<String>,
    pull_delay: Duration,
    exec: BTreeMap<String, ExecAnswer>,
    exec_fn: Option<ExecFn>,
    /// `None`: SIGTERM is ignored; `Some(d)`: the container exits `d` after it.
    sigterm_delay: Option<Duration>,
    sigterm_exit_code: i32,
    logs: Arc<[String]>,
    cpu_nanos_per_second: u64,
    memory_bytes: u64,
    image_size: u64,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            exit_after: None,
            exit_code: 0,
            oom_after: None,
            start_delay: Duration::ZERO,
            fail_start: None,
            pull_error: None,
            pull_delay: Duration::ZERO,
            exec: BTreeMap::new(),
            exec_fn: None,
            sigterm_delay: Some(Duration::ZERO),
            sigterm_exit_code: SIGTERM_EXIT_CODE,
            logs: Arc::from(Vec::new()),
            cpu_nanos_per_second: DEFAULT_CPU_NANOS_PER_SECOND,
            memory_bytes: DEFAULT_MEMORY_BYTES,
            image_size: DEFAULT_IMAGE_SIZE,
        }
    }
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Script")
            .field("exit_after", &self.exit_after)
            .field("exit_code", &self.exit_code)
            .field("oom_after", &self.oom_after)
            .field("start_delay", &self.start_delay)
            .field("fail_start", &self.fail_start)
            .field("pull_error", &self.pull_error)
            .field("exec", &self.exec.keys().collect::<Vec<_>>())
            .field("exec_fn", &self.exec_fn.is_some())
            .field("sigterm_delay", &self.sigterm_delay)
            .field("logs", &self.logs.len())
            .finish_non_exhaustive()
    }
}

impl Script {
    /// The default script: runs forever.
    pub fn new() -> Self {
        Script::default()
    }

    /// Runs forever (the default).
    pub fn runs_forever() -> Self {
        Script::default()
    }

    /// Exits with `exit_code` `after` its start. Every new container of
    /// this script does it again, so a non-zero code makes a crash loop.
    pub fn exits(after: Duration, exit_code: i32) -> Self {
        Script { exit_after: Some(after), exit_code, ..Script::default() }
    }

    /// Exits with code 0 `after` its start (a job).
    pub fn completes(after: Duration) -> Self {
        Script::exits(after, 0)
    }

    /// Exits with a non-zero `exit_code` `after` each start: a crash loop
    /// (the same as [`Script::exits`]).
    pub fn crash_loop(after: Duration, exit_code: i32) -> Self {
        Script::exits(after, exit_code)
    }

    /// Killed by the OOM killer `after` its start: EXITED, exit code 137,
    /// reason `OOMKilled` (earlier than a scripted exit, or at the same
    /// time, wins).
    pub fn oom_after(mut self, after: Duration) -> Self {
        self.oom_after = Some(after);
        self
    }

    /// StartContainer returns only after `delay` (tokio time).
    pub fn start_delay(mut self, delay: Duration) -> Self {
        self.start_delay = delay;
        self
    }

    /// StartContainer fails with Internal(`message`); the container is
    /// left EXITED with exit code 128, reason `StartError`.
    pub fn fail_start(mut self, message: impl Into<String>) -> Self {
        self.fail_start = Some(message.into());
        self
    }

    /// PullImage of this image fails with Unavailable(`message`).
    pub fn pull_error(mut self, message: impl Into<String>) -> Self {
        self.pull_error = Some(message.into());
        self
    }

    /// PullImage of this image takes `delay` (tokio time).
    pub fn pull_delay(mut self, delay: Duration) -> Self {
        self.pull_delay = delay;
        self
    }

    /// ExecSync of `cmd` (the command's words joined by single spaces, as
    /// in `"cat /tmp/healthy"`) answers `exit_code` and `stdout`.
    pub fn exec(self, cmd: impl Into<String>, exit_code: i32, stdout: impl Into<Vec<u8>>) -> Self {
        self.exec_answer(cmd, ExecAnswer::new(exit_code, stdout))
    }

    /// ExecSync of `cmd` (words joined by single spaces) answers `answer`.
    pub fn exec_answer(mut self, cmd: impl Into<String>, answer: ExecAnswer) -> Self {
        self.exec.insert(cmd.into(), answer);
        self
    }

    /// ExecSync answers what `f` says, for every command (before the
    /// answers of [`Script::exec`]). `f` runs without the runtime's lock.
    pub fn exec_fn(mut self, f: impl Fn(&ExecCall<'_>) -> ExecAnswer + Send + Sync + 'static) -> Self {
        self.exec_fn = Some(Arc::new(f));
        self
    }

    /// The container ignores SIGTERM: StopContainer waits its whole
    /// timeout (tokio time), then kills it (exit code 137).
    pub fn ignores_sigterm(mut self) -> Self {
        self.sigterm_delay = None;
        self
    }

    /// The container exits `delay` after SIGTERM (killed with 137 when the
    /// stop timeout is shorter).
    pub fn stops_after(mut self, delay: Duration) -> Self {
        self.sigterm_delay = Some(delay);
        self
    }

    /// The exit code after SIGTERM (default 143, 128 + SIGTERM).
    pub fn sigterm_exit_code(mut self, exit_code: i32) -> Self {
        self.sigterm_exit_code = exit_code;
        self
    }

    /// What the container writes to standard output when it starts.
    pub fn logs<I, S>(mut self, lines: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.logs = lines.into_iter().map(Into::into).collect::<Vec<_>>().into();
        self
    }

    /// Resource use for ContainerStats: CPU nanoseconds per second of
    /// running (1,000,000,000 is one core) and working-set bytes while
    /// running.
    pub fn stats(mut self, cpu_nanos_per_second: u64, memory_bytes: u64) -> Self {
        self.cpu_nanos_per_second = cpu_nanos_per_second;
        self.memory_bytes = memory_bytes;
        self
    }

    /// The image's size in ListImages and ImageFsInfo (default 10 MiB).
    pub fn image_size(mut self, bytes: u64) -> Self {
        self.image_size = bytes;
        self
    }

    /// The first scripted end: (after, exit code, reason).
    fn scripted_exit(&self) -> Option<(Duration, i32, &'static str)> {
        let exit = self.exit_after.map(|after| (after, self.exit_code, exit_reason(self.exit_code)));
        let oom = self.oom_after.map(|after| (after, SIGKILL_EXIT_CODE, "OOMKilled"));
        match (exit, oom) {
            (Some(e), Some(o)) => Some(if o.0 <= e.0 { o } else { e }),
            (e, o) => e.or(o),
        }
    }

    fn answer(&self, call: &ExecCall<'_>) -> ExecAnswer {
        if let Some(f) = &self.exec_fn {
            return f(call);
        }
        self.exec.get(&call.cmd.join(" ")).cloned().unwrap_or_default()
    }
}

fn exit_reason(code: i32) -> &'static str {
    if code == 0 { "Completed" } else { "Error" }
}

// ---------------------------------------------------------------------------
// Methods and counters

macro_rules! methods {
    ($($name:ident),* $(,)?) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        enum Method { $($name),* }

        const METHODS: &[(Method, &str)] = &[$((Method::$name, stringify!($name))),*];
    };
}

methods!(
    Version,
    RunPodSandbox,
    StopPodSandbox,
    RemovePodSandbox,
    PodSandboxStatus,
    ListPodSandbox,
    CreateContainer,
    StartContainer,
    StopContainer,
    RemoveContainer,
    ListContainers,
    ContainerStatus,
    UpdateContainerResources,
    ReopenContainerLog,
    ExecSync,
    ContainerStats,
    ListContainerStats,
    Status,
    ListImages,
    ImageStatus,
    PullImage,
    RemoveImage,
    ImageFsInfo,
);

impl Method {
    /// `RunPodSandbox`, `run_pod_sandbox` and `runpodsandbox` all name
    /// RunPodSandbox.
    fn parse(name: &str) -> Option<Method> {
        let wanted: String = name.chars().filter(|c| *c != '_').flat_map(char::to_lowercase).collect();
        METHODS.iter().find(|(_, n)| n.to_lowercase() == wanted).map(|(m, _)| *m)
    }

    fn parse_or_panic(name: &str) -> Method {
        Method::parse(name).unwrap_or_else(|| panic!("FakeRuntime: no CRI method {name:?}"))
    }
}

// ---------------------------------------------------------------------------
// State

#[derive(Debug)]
struct SandboxRec {
    metadata: PodSandboxMetadata,
    state: PodSandboxState,
    created_at: i64,
    labels: Labels,
    annotations: Labels,
    ip: Option<IpAddr>,
    log_directory: String,
    containers: Vec<Arc<str>>,
}

#[derive(Debug)]
struct Exit {
    at: SystemTime,
    code: i32,
    reason: Cow<'static, str>,
    message: String,
}

#[derive(Debug)]
struct ContainerRec {
    sandbox_id: Arc<str>,
    metadata: ContainerMetadata,
    image: ImageSpec,
    image_name: Arc<str>,
    image_ref: Arc<str>,
    labels: Labels,
    annotations: Labels,
    mounts: Vec<Mount>,
    log_path: String,
    /// Both the sandbox's log directory and the container's log path are set.
    has_log_file: bool,
    script: Arc<Script>,
    created_at: SystemTime,
    started_at: Option<SystemTime>,
    starting: bool,
    exit: Option<Exit>,
    resources: Option<LinuxContainerResources>,
}

impl ContainerRec {
    /// The state at `now`, recording a scripted exit that has happened.
    fn settle(&mut self, now: SystemTime) -> ContainerState {
        if self.exit.is_some() {
            return ContainerState::Exited;
        }
        let Some(started) = self.started_at else {
            return ContainerState::Created;
        };
        if let Some((after, code, reason)) = self.script.scripted_exit() {
            let at = started + after;
            if at <= now {
                self.exit = Some(Exit { at, code, reason: Cow::Borrowed(reason), message: String::new() });
                return ContainerState::Exited;
            }
        }
        ContainerState::Running
    }

    fn finish(&mut self, at: SystemTime, code: i32) {
        self.exit = Some(Exit { at, code, reason: Cow::Borrowed(exit_reason(code)), message: String::new() });
    }

    fn summary(&self, id: &Arc<str>, state: ContainerState) -> Container {
        Container {
            id: id.to_string(),
            pod_sandbox_id: self.sandbox_id.to_string(),
            metadata: self.metadata.clone(),
            image: self.image.clone(),
            image_ref: self.image_ref.to_string(),
            state,
            created_at: nanos_i64(self.created_at),
            labels: self.labels.clone(),
            annotations: self.annotations.clone(),
        }
    }

    fn status(&self, id: &str, state: ContainerState) -> ContainerStatus {
        let (finished_at, exit_code, reason, message) = match &self.exit {
            Some(e) => (nanos_i64(e.at), e.code, e.reason.to_string(), e.message.clone()),
            None => (0, 0, String::new(), String::new()),
        };
        ContainerStatus {
            id: id.to_string(),
            metadata: self.metadata.clone(),
            state,
            created_at: nanos_i64(self.created_at),
            started_at: self.started_at.map_or(0, nanos_i64),
            finished_at,
            exit_code,
            image: self.image.clone(),
            image_ref: self.image_ref.to_string(),
            reason,
            message,
            labels: self.labels.clone(),
            annotations: self.annotations.clone(),
            mounts: self.mounts.clone(),
            log_path: self.log_path.clone(),
        }
    }

    fn stats(&self, id: &str, script: &Script, now: SystemTime, state: ContainerState) -> ContainerStats {
        let ran = match self.started_at {
            Some(started) => {
                let end = self.exit.as_ref().map_or(now, |e| e.at);
                end.duration_since(started).unwrap_or_default()
            }
            None => Duration::ZERO,
        };
        let cpu = u128::from(script.cpu_nanos_per_second) * ran.as_nanos() / 1_000_000_000;
        ContainerStats {
            id: id.to_string(),
            metadata: self.metadata.clone(),
            timestamp: nanos_i64(now),
            usage_core_nano_seconds: u64::try_from(cpu).unwrap_or(u64::MAX),
            working_set_bytes: if state == ContainerState::Running { script.memory_bytes } else { 0 },
        }
    }
}

#[derive(Debug)]
struct ImageRec {
    name: Arc<str>,
    id: Arc<str>,
    size: u64,
}

impl ImageRec {
    fn to_image(&self) -> Image {
        Image { id: self.id.to_string(), repo_tags: vec![self.name.to_string()], size: self.size }
    }
}

/// host-local-like allocation from one CIDR.
#[derive(Debug)]
struct Ipam {
    cidr: String,
    v6: bool,
    base: u128,
    /// Offsets from `base`, inclusive.
    first: u128,
    last: u128,
    next: u128,
    used: HashSet<u128>,
}

impl Ipam {
    fn parse(cidr: &str) -> Option<Ipam> {
        let (addr, prefix) = cidr.split_once('/')?;
        let addr: IpAddr = addr.parse().ok()?;
        let prefix: u32 = prefix.parse().ok()?;
        let (v6, bits, value) = match addr {
            IpAddr::V4(a) => (false, 32, u128::from(u32::from(a))),
            IpAddr::V6(a) => (true, 128, u128::from(a)),
        };
        // At least one address besides network, gateway (and broadcast).
        if prefix > bits - 2 {
            return None;
        }
        let host_bits = bits - prefix;
        let host_mask = if host_bits == 128 { u128::MAX } else { (1u128 << host_bits) - 1 };
        let base = value & !host_mask;
        let last = if v6 { host_mask } else { host_mask - 1 };
        Some(Ipam { cidr: cidr.to_string(), v6, base, first: 2, last, next: 2, used: HashSet::new() })
    }

    fn to_addr(&self, offset: u128) -> IpAddr {
        let value = self.base + offset;
        if self.v6 {
            IpAddr::V6(Ipv6Addr::from(value))
        } else {
            IpAddr::V4(Ipv4Addr::from(u32::try_from(value).unwrap_or(u32::MAX)))
        }
    }

    fn allocate(&mut self) -> Option<IpAddr> {
        let count = self.last - self.first + 1;
        let mut candidate = self.next;
        // Stops at the first free address: at most `used.len() + 1` steps.
        for _ in 0..=self.used.len() {
            if candidate > self.last || candidate < self.first {
                candidate = self.first;
            }
            if !self.used.contains(&candidate) {
                self.used.insert(candidate);
                self.next = candidate + 1;
                return Some(self.to_addr(candidate));
            }
            candidate += 1;
            if u128::try_from(self.used.len()).unwrap_or(u128::MAX) >= count {
                return None;
            }
        }
        None
    }

    fn release(&mut self, ip: IpAddr) {
        let value = match ip {
            IpAddr::V4(a) => u128::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a),
        };
        if let Some(offset) = value.checked_sub(self.base) {
            self.used.remove(&offset);
        }
    }
}

const DEFAULT_POD_CIDR: &str = "10.88.0.0/16";

#[derive(Debug)]
struct State {
    sandboxes: BTreeMap<Arc<str>, SandboxRec>,
    sandbox_names: HashMap<PodSandboxMetadata, Arc<str>>,
    containers: BTreeMap<Arc<str>, ContainerRec>,
    /// By normalised name.
    images: BTreeMap<Arc<str>, ImageRec>,
    image_scripts: HashMap<String, Arc<Script>>,
    container_scripts: HashMap<String, Arc<Script>>,
    default_script: Arc<Script>,
    ipam: Ipam,
    next_id: u64,
    network_ready: bool,
    runtime_ready: bool,
    log_files: bool,
}

impl State {
    fn new() -> State {
        State {
            sandboxes: BTreeMap::new(),
            sandbox_names: HashMap::new(),
            containers: BTreeMap::new(),
            images: BTreeMap::new(),
            image_scripts: HashMap::new(),
            container_scripts: HashMap::new(),
            default_script: Arc::new(Script::default()),
            ipam: Ipam::parse(DEFAULT_POD_CIDR).unwrap_or_else(|| unreachable!("the default pod CIDR parses")),
            next_id: 0,
            network_ready: true,
            runtime_ready: true,
            log_files: false,
        }
    }

    fn image_script(&self, image: &str) -> Option<&Arc<Script>> {
        image_script_keys(image).into_iter().find_map(|key| self.image_scripts.get(key.as_ref()))
    }

    fn script_for(&self, container_name: &str, image: &str) -> Arc<Script> {
        self.container_scripts
            .get(container_name)
            .or_else(|| self.image_script(image))
            .unwrap_or(&self.default_script)
            .clone()
    }

    fn find_image(&self, reference: &str) -> Option<&ImageRec> {
        if reference.starts_with("sha256:") {
            return self.images.values().find(|i| &*i.id == reference);
        }
        self.images.get(normalize_image(reference).as_str())
    }

    fn add_image(&mut self, reference: &str) -> &ImageRec {
        let name: Arc<str> = normalize_image(reference).into();
        let size = self.image_script(&name).map_or(DEFAULT_IMAGE_SIZE, |s| s.image_size);
        self.images.entry(name.clone()).or_insert_with(|| ImageRec {
            id: format!("sha256:{}", sha256_hex(name.as_bytes())).into(),
            name,
            size,
        })
    }

    fn new_id(&mut self, seed: u64) -> Arc<str> {
        self.next_id += 1;
        random_id(seed, self.next_id).into()
    }

    /// Stops a sandbox: kills its running containers, releases its address.
    fn stop_sandbox(&mut self, id: &str, now: SystemTime) {
        let Some(sandbox) = self.sandboxes.get_mut(id) else { return };
        for cid in &sandbox.containers {
            if let Some(c) = self.containers.get_mut(cid)
                && c.settle(now) == ContainerState::Running
            {
                c.finish(now, SIGKILL_EXIT_CODE);
            }
        }
        sandbox.state = PodSandboxState::NotReady;
        if let Some(ip) = sandbox.ip.take() {
            self.ipam.release(ip);
        }
    }

    fn matching_containers(&mut self, filter: &ContainerFilter, now: SystemTime) -> Vec<(Arc<str>, ContainerState)> {
        let mut out = Vec::new();
        let mut consider = |id: &Arc<str>, c: &mut ContainerRec| {
            let state = c.settle(now);
            if filter.matches(id, &c.sandbox_id, state, &c.labels) {
                out.push((id.clone(), state));
            }
        };
        match &filter.id {
            Some(id) => {
                let key = self.containers.get_key_value(id.as_str()).map(|(k, _)| k.clone());
                if let Some(key) = key
                    && let Some(c) = self.containers.get_mut(&key)
                {
                    consider(&key, c);
                }
            }
            None => {
                for (id, c) in self.containers.iter_mut() {
                    consider(id, c);
                }
            }
        }
        out
    }
}

/// `busybox` → `busybox:latest`; names with a tag or digest, and image ids,
/// stay as they are.
fn normalize_image(reference: &str) -> String {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    if reference.starts_with("sha256:") || reference.contains('@') || last.contains(':') {
        reference.to_string()
    } else {
        format!("{reference}:latest")
    }
}

/// The keys a script for `image` may be registered under, best first.
fn image_script_keys(image: &str) -> Vec<Cow<'_, str>> {
    let normalized = normalize_image(image);
    let repository = match normalized.rsplit_once('/') {
        Some((dir, last)) => {
            let last = last.split(['@', ':']).next().unwrap_or(last);
            format!("{dir}/{last}")
        }
        None => normalized.split(['@', ':']).next().unwrap_or(&normalized).to_string(),
    };
    let short = repository.rsplit('/').next().unwrap_or(&repository).to_string();
    let mut keys: Vec<Cow<'_, str>> = vec![Cow::Borrowed(image)];
    for key in [normalized, repository, short] {
        if !keys.iter().any(|k| *k == key) {
            keys.push(Cow::Owned(key));
        }
    }
    keys
}

// ---------------------------------------------------------------------------
// The runtime

/// The in-memory CRI runtime: [`RuntimeService`] and [`ImageService`]. See
/// the [module documentation](self) for its semantics.
pub struct FakeRuntime {
    clock: Arc<dyn Clock>,
    seed: u64,
    state: Mutex<State>,
    counts: Box<[AtomicUsize]>,
    injected: Mutex<Vec<(Method, CriError)>>,
    injected_pending: AtomicUsize,
}

impl fmt::Debug for FakeRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeRuntime").field("clock", &self.clock).field("seed", &self.seed).finish_non_exhaustive()
    }
}

impl Default for FakeRuntime {
    /// A runtime on the [`SystemClock`].
    fn default() -> Self {
        FakeRuntime::new(SystemClock)
    }
}

impl FakeRuntime {
    /// An empty runtime (no images, no scripts, pod CIDR `10.88.0.0/16`,
    /// network ready, no log files) reading `clock`. Several runtimes can
    /// share one clock: pass an `Arc<dyn Clock>` or clones of a
    /// [`ManualClock`].
    pub fn new(clock: impl Clock + 'static) -> Self {
        static RUNTIMES: AtomicU64 = AtomicU64::new(0);
        let runtime = RUNTIMES.fetch_add(1, Ordering::Relaxed);
        let seed = splitmix64(
            runtime ^ (u64::from(std::process::id()) << 32) ^ nanos_since_epoch(SystemTime::now()).rotate_left(17),
        );
        FakeRuntime {
            clock: Arc::new(clock),
            seed,
            state: Mutex::new(State::new()),
            counts: METHODS.iter().map(|_| AtomicUsize::new(0)).collect(),
            injected: Mutex::new(Vec::new()),
            injected_pending: AtomicUsize::new(0),
        }
    }

    fn state_mut(&mut self) -> &mut State {
        self.state.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Containers of `image` (matched as given, normalised, without tag,
    /// or by last path component: a script for `busybox` covers
    /// `docker.io/library/busybox:1.36`) follow `script`.
    pub fn with_script(mut self, image: &str, script: Script) -> Self {
        self.state_mut().image_scripts.insert(image.to_string(), Arc::new(script));
        self
    }

    /// Containers with no script of their own (by name or image) follow
    /// `script` (by default they run until stopped).
    pub fn with_default_script(mut self, script: Script) -> Self {
        self.state_mut().default_script = Arc::new(script);
        self
    }

    /// Containers named `name` follow `script`, whatever their image.
    pub fn with_container_script(mut self, name: &str, script: Script) -> Self {
        self.state_mut().container_scripts.insert(name.to_string(), Arc::new(script));
        self
    }

    /// These images are present from the start.
    pub fn with_images<I, S>(mut self, images: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let state = self.state_mut();
        for image in images {
            state.add_image(image.as_ref());
        }
        self
    }

    /// Sandboxes get addresses from `cidr` (IPv4 or IPv6, e.g.
    /// `10.244.3.0/24`).
    ///
    /// # Panics
    ///
    /// When `cidr` is not an address and a prefix length leaving room for
    /// at least one pod (IPv4 /30 at most, IPv6 /126).
    pub fn with_pod_cidr(mut self, cidr: &str) -> Self {
        let ipam = Ipam::parse(cidr).unwrap_or_else(|| panic!("FakeRuntime: bad pod CIDR {cidr:?}"));
        self.state_mut().ipam = ipam;
        self
    }

    /// Whether StartContainer writes the script's log lines to the
    /// container's log file (off by default).
    pub fn with_log_files(mut self, on: bool) -> Self {
        self.state_mut().log_files = on;
        self
    }

    /// The clock the runtime reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The pod CIDR addresses come from.
    pub fn pod_cidr(&self) -> String {
        self.state().ipam.cidr.clone()
    }

    /// Replaces the script of `image` (see [`FakeRuntime::with_script`]).
    /// Containers created from now on follow it for their lifecycle;
    /// existing ones for ExecSync and stats.
    pub fn set_script(&self, image: &str, script: Script) {
        self.state().image_scripts.insert(image.to_string(), Arc::new(script));
    }

    /// Replaces the script of containers named `name`.
    pub fn set_container_script(&self, name: &str, script: Script) {
        self.state().container_scripts.insert(name.to_string(), Arc::new(script));
    }

    /// Makes an image present, as a pull would (no script is consulted).
    pub fn add_image(&self, image: &str) -> String {
        self.state().add_image(image).id.to_string()
    }

    /// Sets the NetworkReady condition; while false, RunPodSandbox of a
    /// pod not on the host's network fails with Unavailable.
    pub fn set_network_ready(&self, ready: bool) {
        self.state().network_ready = ready;
    }

    /// Sets the RuntimeReady condition (only reported).
    pub fn set_runtime_ready(&self, ready: bool) {
        self.state().runtime_ready = ready;
    }

    /// Makes a running container exit now with `exit_code` and `reason`
    /// (empty: `Completed` or `Error` by the code), as if its process
    /// ended. Nothing happens to a container that is not running.
    pub fn exit_container(&self, id: &str, exit_code: i32, reason: &str) -> CriResult<()> {
        let now = self.clock.now();
        let mut state = self.state();
        let c = state.containers.get_mut(id).ok_or_else(|| container_not_found(id))?;
        if c.settle(now) == ContainerState::Running {
            let reason =
                if reason.is_empty() { Cow::Borrowed(exit_reason(exit_code)) } else { Cow::Owned(reason.into()) };
            c.exit = Some(Exit { at: now, code: exit_code, reason, message: String::new() });
        }
        Ok(())
    }

    /// The next call of `method` (CRI's name, `RunPodSandbox`, or
    /// `run_pod_sandbox`) fails with `error` (counted, without effect).
    /// Several injected errors for one method fail successive calls.
    ///
    /// # Panics
    ///
    /// When `method` names no CRI method.
    pub fn fail_next(&self, method: &str, error: CriError) {
        let method = Method::parse_or_panic(method);
        self.injected.lock().unwrap_or_else(PoisonError::into_inner).push((method, error));
        self.injected_pending.fetch_add(1, Ordering::SeqCst);
    }

    /// How many times `method` (CRI's name, `RunPodSandbox`, or
    /// `run_pod_sandbox`) was called, failed calls included.
    ///
    /// # Panics
    ///
    /// When `method` names no CRI method, so a typo cannot pass for zero
    /// calls.
    pub fn calls(&self, method: &str) -> usize {
        self.counts[Method::parse_or_panic(method) as usize].load(Ordering::Relaxed)
    }

    /// The calls so far by CRI method name (methods never called left out).
    pub fn calls_snapshot(&self) -> BTreeMap<&'static str, usize> {
        METHODS
            .iter()
            .map(|(m, name)| (*name, self.counts[*m as usize].load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Sets every call counter to zero.
    pub fn reset_calls(&self) {
        for count in self.counts.iter() {
            count.store(0, Ordering::Relaxed);
        }
    }

    /// The lines a started container wrote (its script's), empty for an
    /// unknown or never started container.
    pub fn logs(&self, container_id: &str) -> Vec<String> {
        let state = self.state();
        match state.containers.get(container_id) {
            Some(c) if c.started_at.is_some() => c.script.logs.to_vec(),
            _ => Vec::new(),
        }
    }

    /// Counts a call and hands out an injected error.
    fn enter(&self, method: Method) -> CriResult<()> {
        self.counts[method as usize].fetch_add(1, Ordering::Relaxed);
        if self.injected_pending.load(Ordering::SeqCst) == 0 {
            return Ok(());
        }
        let mut injected = self.injected.lock().unwrap_or_else(PoisonError::into_inner);
        match injected.iter().position(|(m, _)| *m == method) {
            Some(at) => {
                self.injected_pending.fetch_sub(1, Ordering::SeqCst);
                Err(injected.remove(at).1)
            }
            None => Ok(()),
        }
    }
}

fn sandbox_not_found(id: &str) -> CriError {
    CriError::NotFound(format!("sandbox {id:?} not found"))
}

fn container_not_found(id: &str) -> CriError {
    CriError::NotFound(format!("container {id:?} not found"))
}

fn state_name(state: ContainerState) -> &'static str {
    match state {
        ContainerState::Created => "CONTAINER_CREATED",
        ContainerState::Running => "CONTAINER_RUNNING",
        ContainerState::Exited => "CONTAINER_EXITED",
        ContainerState::Unknown => "CONTAINER_UNKNOWN",
    }
}

/// Appends `lines` to `path` in CRI log format, creating its directory.
async fn write_log_lines(path: &str, lines: &[String], at: SystemTime) -> std::io::Result<()> {
    if let Some(dir) = Path::new(path).parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let stamp = rfc3339_nano(at);
    let mut text = String::new();
    for line in lines {
        text.push_str(&stamp);
        text.push_str(" stdout F ");
        text.push_str(line);
        text.push('\n');
    }
    let mut file = tokio::fs::OpenOptions::new().create(true).append(true).open(path).await?;
    file.write_all(text.as_bytes()).await?;
    file.flush().await
}

#[async_trait]
impl RuntimeService for FakeRuntime {
    async fn version(&self) -> CriResult<VersionResponse> {
        self.enter(Method::Version)?;
        Ok(VersionResponse {
            version: "0.1.0".into(),
            runtime_name: "k-fake".into(),
            runtime_version: env!("CARGO_PKG_VERSION").into(),
            runtime_api_version: "v1".into(),
        })
    }

    async fn run_pod_sandbox(&self, config: &PodSandboxConfig) -> CriResult<String> {
        self.enter(Method::RunPodSandbox)?;
        let now = self.clock.now();
        let mut state = self.state();
        if !config.host_network && !state.network_ready {
            return Err(CriError::Unavailable("network plugin is not ready: cni plugin not initialized".into()));
        }
        if let Some(existing) = state.sandbox_names.get(&config.metadata) {
            let m = &config.metadata;
            return Err(CriError::AlreadyExists(format!(
                "sandbox name {}_{}_{}_{} is reserved for {existing}",
                m.name, m.namespace, m.uid, m.attempt
            )));
        }
        let ip = if config.host_network {
            None
        } else {
            let ip = state.ipam.allocate().ok_or_else(|| {
                CriError::Internal(format!(
                    "failed to set up the pod network: no IP addresses available in {}",
                    state.ipam.cidr
                ))
            })?;
            Some(ip)
        };
        let id = state.new_id(self.seed);
        state.sandbox_names.insert(config.metadata.clone(), id.clone());
        state.sandboxes.insert(
            id.clone(),
            SandboxRec {
                metadata: config.metadata.clone(),
                state: PodSandboxState::Ready,
                created_at: nanos_i64(now),
                labels: config.labels.clone(),
                annotations: config.annotations.clone(),
                ip,
                log_directory: config.log_directory.clone(),
                containers: Vec::new(),
            },
        );
        Ok(id.to_string())
    }

    async fn stop_pod_sandbox(&self, id: &str) -> CriResult<()> {
        self.enter(Method::StopPodSandbox)?;
        let now = self.clock.now();
        self.state().stop_sandbox(id, now);
        Ok(())
    }

    async fn remove_pod_sandbox(&self, id: &str) -> CriResult<()> {
        self.enter(Method::RemovePodSandbox)?;
        let now = self.clock.now();
        let mut state = self.state();
        state.stop_sandbox(id, now);
        if let Some(sandbox) = state.sandboxes.remove(id) {
            for cid in &sandbox.containers {
                state.containers.remove(cid);
            }
            state.sandbox_names.remove(&sandbox.metadata);
        }
        Ok(())
    }

    async fn pod_sandbox_status(&self, id: &str) -> CriResult<PodSandboxStatus> {
        self.enter(Method::PodSandboxStatus)?;
        let state = self.state();
        let (id, s) = state.sandboxes.get_key_value(id).ok_or_else(|| sandbox_not_found(id))?;
        Ok(PodSandboxStatus {
            id: id.to_string(),
            metadata: s.metadata.clone(),
            state: s.state,
            created_at: s.created_at,
            network: s.ip.map(|ip| PodSandboxNetworkStatus { ip: ip.to_string(), additional_ips: Vec::new() }),
            labels: s.labels.clone(),
            annotations: s.annotations.clone(),
        })
    }

    async fn list_pod_sandbox(&self, filter: &PodSandboxFilter) -> CriResult<Vec<PodSandbox>> {
        self.enter(Method::ListPodSandbox)?;
        let state = self.state();
        Ok(state
            .sandboxes
            .iter()
            .filter(|(id, s)| filter.matches(id, s.state, &s.labels))
            .map(|(id, s)| PodSandbox {
                id: id.to_string(),
                metadata: s.metadata.clone(),
                state: s.state,
                created_at: s.created_at,
                labels: s.labels.clone(),
                annotations: s.annotations.clone(),
            })
            .collect())
    }

    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
        sandbox_config: &PodSandboxConfig,
    ) -> CriResult<String> {
        self.enter(Method::CreateContainer)?;
        let now = self.clock.now();
        let mut state = self.state();
        let (sandbox_id, sandbox) =
            state.sandboxes.get_key_value(sandbox_id).ok_or_else(|| sandbox_not_found(sandbox_id))?;
        let sandbox_id = sandbox_id.clone();
        for cid in &sandbox.containers {
            if state.containers.get(cid).is_some_and(|c| c.metadata == config.metadata) {
                return Err(CriError::AlreadyExists(format!(
                    "container name {}_{} is reserved for {cid} in sandbox {sandbox_id}",
                    config.metadata.name, config.metadata.attempt
                )));
            }
        }
        let log_directory = if sandbox_config.log_directory.is_empty() {
            &sandbox.log_directory
        } else {
            &sandbox_config.log_directory
        };
        let has_log_file = !log_directory.is_empty() && !config.log_path.is_empty();
        let log_path = if has_log_file {
            Path::new(log_directory).join(&config.log_path).to_string_lossy().into_owned()
        } else {
            config.log_path.clone()
        };
        let image = state.find_image(&config.image.image).ok_or_else(|| {
            CriError::NotFound(format!("image {:?} is not present: pull it first", config.image.image))
        })?;
        let (image_name, image_ref) = (image.name.clone(), image.id.clone());
        let script = state.script_for(&config.metadata.name, &image_name);
        let id = state.new_id(self.seed);
        if let Some(sandbox) = state.sandboxes.get_mut(&*sandbox_id) {
            sandbox.containers.push(id.clone());
        }
        state.containers.insert(
            id.clone(),
            ContainerRec {
                sandbox_id,
                metadata: config.metadata.clone(),
                image: config.image.clone(),
                image_name,
                image_ref,
                labels: config.labels.clone(),
                annotations: config.annotations.clone(),
                mounts: config.mounts.clone(),
                log_path,
                has_log_file,
                script,
                created_at: now,
                started_at: None,
                starting: false,
                exit: None,
                resources: config.resources.clone(),
            },
        );
        Ok(id.to_string())
    }

    async fn start_container(&self, id: &str) -> CriResult<()> {
        self.enter(Method::StartContainer)?;
        let delay = {
            let now = self.clock.now();
            let mut state = self.state();
            let State { containers, sandboxes, .. } = &mut *state;
            let c = containers.get_mut(id).ok_or_else(|| container_not_found(id))?;
            let current = c.settle(now);
            if current != ContainerState::Created || c.starting {
                let what = if c.starting { "being started" } else { state_name(current) };
                return Err(CriError::FailedPrecondition(format!("container {id} is {what}, not CONTAINER_CREATED")));
            }
            if sandboxes.get(&c.sandbox_id).is_none_or(|s| s.state != PodSandboxState::Ready) {
                return Err(CriError::FailedPrecondition(format!(
                    "sandbox {} of container {id} is not ready",
                    c.sandbox_id
                )));
            }
            c.starting = true;
            c.script.start_delay
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let write = {
            let now = self.clock.now();
            let mut state = self.state();
            let log_files = state.log_files;
            let State { containers, sandboxes, .. } = &mut *state;
            let c = containers.get_mut(id).ok_or_else(|| container_not_found(id))?;
            c.starting = false;
            if sandboxes.get(&c.sandbox_id).is_none_or(|s| s.state != PodSandboxState::Ready) {
                return Err(CriError::FailedPrecondition(format!(
                    "sandbox {} of container {id} is not ready",
                    c.sandbox_id
                )));
            }
            if let Some(message) = &c.script.fail_start {
                c.exit = Some(Exit {
                    at: now,
                    code: START_ERROR_EXIT_CODE,
                    reason: Cow::Borrowed("StartError"),
                    message: message.clone(),
                });
                return Err(CriError::Internal(message.clone()));
            }
            c.started_at = Some(now);
            (log_files && c.has_log_file && !c.script.logs.is_empty())
                .then(|| (c.log_path.clone(), c.script.clone(), now))
        };
        if let Some((path, script, at)) = write {
            write_log_lines(&path, &script.logs, at)
                .await
                .map_err(|e| CriError::Internal(format!("writing the log file {path}: {e}")))?;
        }
        Ok(())
    }

    async fn stop_container(&self, id: &str, timeout: Duration) -> CriResult<()> {
        self.enter(Method::StopContainer)?;
        let (wait, code) = {
            let now = self.clock.now();
            let mut state = self.state();
            let Some(c) = state.containers.get_mut(id) else { return Ok(()) };
            if c.settle(now) != ContainerState::Running {
                return Ok(());
            }
            match c.script.sigterm_delay {
                Some(delay) if delay.is_zero() && !timeout.is_zero() => {
                    c.finish(now, c.script.sigterm_exit_code);
                    return Ok(());
                }
                _ if timeout.is_zero() => {
                    c.finish(now, SIGKILL_EXIT_CODE);
                    return Ok(());
                }
                Some(delay) if delay <= timeout => (delay, c.script.sigterm_exit_code),
                _ => (timeout, SIGKILL_EXIT_CODE),
            }
        };
        tokio::time::sleep(wait).await;
        let now = self.clock.now();
        let mut state = self.state();
        if let Some(c) = state.containers.get_mut(id)
            && c.settle(now) == ContainerState::Running
        {
            c.finish(now, code);
        }
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> CriResult<()> {
        self.enter(Method::RemoveContainer)?;
        let mut state = self.state();
        if let Some(c) = state.containers.remove(id)
            && let Some(sandbox) = state.sandboxes.get_mut(&c.sandbox_id)
        {
            sandbox.containers.retain(|cid| &**cid != id);
        }
        Ok(())
    }

    async fn list_containers(&self, filter: &ContainerFilter) -> CriResult<Vec<Container>> {
        self.enter(Method::ListContainers)?;
        let now = self.clock.now();
        let mut state = self.state();
        let matching = state.matching_containers(filter, now);
        Ok(matching.iter().filter_map(|(id, s)| state.containers.get(id).map(|c| c.summary(id, *s))).collect())
    }

    async fn container_status(&self, id: &str) -> CriResult<ContainerStatus> {
        self.enter(Method::ContainerStatus)?;
        let now = self.clock.now();
        let mut state = self.state();
        let c = state.containers.get_mut(id).ok_or_else(|| container_not_found(id))?;
        let current = c.settle(now);
        Ok(c.status(id, current))
    }

    async fn update_container_resources(&self, id: &str, resources: &LinuxContainerResources) -> CriResult<()> {
        self.enter(Method::UpdateContainerResources)?;
        let now = self.clock.now();
        let mut state = self.state();
        let c = state.containers.get_mut(id).ok_or_else(|| container_not_found(id))?;
        if c.settle(now) == ContainerState::Exited {
            return Err(CriError::FailedPrecondition(format!("container {id} has exited")));
        }
        c.resources = Some(resources.clone());
        Ok(())
    }

    async fn reopen_container_log(&self, id: &str) -> CriResult<()> {
        self.enter(Method::ReopenContainerLog)?;
        let path = {
            let now = self.clock.now();
            let mut state = self.state();
            let log_files = state.log_files;
            let c = state.containers.get_mut(id).ok_or_else(|| container_not_found(id))?;
            if c.settle(now) != ContainerState::Running {
                return Err(CriError::FailedPrecondition(format!("container {id} is not running")));
            }
            (log_files && c.has_log_file).then(|| c.log_path.clone())
        };
        if let Some(path) = path {
            tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .await
                .map_err(|e| CriError::Internal(format!("reopening the log file {path}: {e}")))?;
        }
        Ok(())
    }

    async fn exec_sync(&self, id: &str, cmd: &[String], timeout: Duration) -> CriResult<ExecSyncResponse> {
        self.enter(Method::ExecSync)?;
        let now = self.clock.now();
        let (script, name, image, running_for) = {
            let mut state = self.state();
            let c = state.containers.get_mut(id).ok_or_else(|| container_not_found(id))?;
            if c.settle(now) != ContainerState::Running {
                return Err(CriError::FailedPrecondition(format!("container {id} is not running")));
            }
            let running_for = c.started_at.and_then(|s| now.duration_since(s).ok()).unwrap_or_default();
            let (name, image) = (c.metadata.name.clone(), c.image_name.clone());
            (state.script_for(&name, &image), name, image, running_for)
        };
        let call = ExecCall { container_id: id, container_name: &name, image: &image, cmd, running_for };
        let answer = script.answer(&call);
        if !timeout.is_zero() && answer.delay > timeout {
            tokio::time::sleep(timeout).await;
            return Err(CriError::DeadlineExceeded(format!("command {:?} timed out after {timeout:?}", cmd.join(" "))));
        }
        if !answer.delay.is_zero() {
            tokio::time::sleep(answer.delay).await;
        }
        Ok(ExecSyncResponse { stdout: answer.stdout, stderr: answer.stderr, exit_code: answer.exit_code })
    }

    async fn container_stats(&self, id: &str) -> CriResult<ContainerStats> {
        self.enter(Method::ContainerStats)?;
        let now = self.clock.now();
        let mut state = self.state();
        let c = state.containers.get_mut(id).ok_or_else(|| container_not_found(id))?;
        let current = c.settle(now);
        let c = &state.containers[id];
        let script = state.script_for(&c.metadata.name, &c.image_name);
        Ok(c.stats(id, &script, now, current))
    }

    async fn list_container_stats(&self, filter: &ContainerFilter) -> CriResult<Vec<ContainerStats>> {
        self.enter(Method::ListContainerStats)?;
        let now = self.clock.now();
        let mut state = self.state();
        let matching = state.matching_containers(filter, now);
        Ok(matching
            .iter()
            .filter_map(|(id, s)| {
                let c = state.containers.get(id)?;
                let script = state.script_for(&c.metadata.name, &c.image_name);
                Some(c.stats(id, &script, now, *s))
            })
            .collect())
    }

    async fn status(&self) -> CriResult<RuntimeStatus> {
        self.enter(Method::Status)?;
        let state = self.state();
        let condition = |type_: &str, status: bool, reason: &str, message: &str| RuntimeCondition {
            type_: type_.into(),
            status,
            reason: if status { String::new() } else { reason.into() },
            message: if status { String::new() } else { message.into() },
        };
        Ok(RuntimeStatus {
            conditions: vec![
                condition("RuntimeReady", state.runtime_ready, "RuntimeNotReady", "the fake runtime is set not ready"),
                condition(
                    "NetworkReady",
                    state.network_ready,
                    "NetworkPluginNotReady",
                    "Network plugin returns error: cni plugin not initialized",
                ),
            ],
        })
    }
}

#[async_trait]
impl ImageService for FakeRuntime {
    async fn list_images(&self, filter: Option<&ImageSpec>) -> CriResult<Vec<Image>> {
        self.enter(Method::ListImages)?;
        let state = self.state();
        Ok(match filter.filter(|f| !f.image.is_empty()) {
            Some(f) => state.find_image(&f.image).map(ImageRec::to_image).into_iter().collect(),
            None => state.images.values().map(ImageRec::to_image).collect(),
        })
    }

    async fn image_status(&self, image: &ImageSpec) -> CriResult<Option<Image>> {
        self.enter(Method::ImageStatus)?;
        Ok(self.state().find_image(&image.image).map(ImageRec::to_image))
    }

    async fn pull_image(&self, image: &ImageSpec) -> CriResult<String> {
        self.enter(Method::PullImage)?;
        let reference = image.image.as_str();
        if reference.is_empty() {
            return Err(CriError::InvalidArgument("no image to pull".into()));
        }
        let script = self.state().image_script(reference).cloned();
        if let Some(script) = &script {
            if !script.pull_delay.is_zero() {
                tokio::time::sleep(script.pull_delay).await;
            }
            if let Some(message) = &script.pull_error {
                return Err(CriError::Unavailable(format!("pulling image {reference:?}: {message}")));
            }
        }
        let mut state = self.state();
        if reference.starts_with("sha256:") {
            return match state.find_image(reference) {
                Some(i) => Ok(i.id.to_string()),
                None => Err(CriError::NotFound(format!("image {reference:?} not found"))),
            };
        }
        Ok(state.add_image(reference).id.to_string())
    }

    async fn remove_image(&self, image: &ImageSpec) -> CriResult<()> {
        self.enter(Method::RemoveImage)?;
        let mut state = self.state();
        let name = state.find_image(&image.image).map(|i| i.name.clone());
        if let Some(name) = name {
            state.images.remove(&name);
        }
        Ok(())
    }

    async fn image_fs_info(&self) -> CriResult<Vec<FilesystemUsage>> {
        self.enter(Method::ImageFsInfo)?;
        let now = self.clock.now();
        let state = self.state();
        Ok(vec![FilesystemUsage {
            timestamp: nanos_i64(now),
            mountpoint: "/var/lib/k-fake/images".into(),
            used_bytes: state.images.values().map(|i| i.size).sum(),
            inodes_used: u64::try_from(state.images.len()).unwrap_or(u64::MAX),
        }])
    }
}

// ---------------------------------------------------------------------------
// Small helpers: time, ids, SHA-256

fn nanos_since_epoch(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn nanos_i64(t: SystemTime) -> i64 {
    i64::try_from(nanos_since_epoch(t)).unwrap_or(i64::MAX)
}

fn rfc3339_nano(t: SystemTime) -> String {
    super::rfc3339_nano(t)
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// 64 hex digits, like containerd's ids, from the runtime's seed and a
/// counter.
fn random_id(seed: u64, n: u64) -> String {
    let mut out = String::with_capacity(64);
    let mut x = splitmix64(seed ^ n.wrapping_mul(0xd6e8_feb8_6659_fd93));
    for _ in 0..4 {
        x = splitmix64(x);
        out.push_str(&format!("{x:016x}"));
    }
    out
}

fn sha256_hex(data: &[u8]) -> String {
    super::sha256_hex(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn sandbox_config(name: &str) -> PodSandboxConfig {
        PodSandboxConfig {
            metadata: PodSandboxMetadata {
                name: name.into(),
                uid: format!("uid-{name}"),
                namespace: "default".into(),
                attempt: 0,
            },
            hostname: name.into(),
            labels: [("app".to_string(), name.to_string())].into(),
            ..PodSandboxConfig::default()
        }
    }

    fn container_config(name: &str, image: &str) -> ContainerConfig {
        ContainerConfig {
            metadata: ContainerMetadata { name: name.into(), attempt: 0 },
            image: ImageSpec { image: image.into() },
            labels: [("container".to_string(), name.to_string())].into(),
            ..ContainerConfig::default()
        }
    }

    fn runtime(clock: &ManualClock) -> FakeRuntime {
        FakeRuntime::new(clock.clone()).with_images(["pause", "busybox", "nginx:1.25"])
    }

    /// A sandbox with one started container of `image`.
    async fn running(rt: &FakeRuntime, pod: &str, image: &str) -> (String, String) {
        let config = sandbox_config(pod);
        let sandbox = rt.run_pod_sandbox(&config).await.expect("run sandbox");
        let id = rt.create_container(&sandbox, &container_config("main", image), &config).await.expect("create");
        rt.start_container(&id).await.expect("start");
        (sandbox, id)
    }

    async fn status(rt: &FakeRuntime, id: &str) -> ContainerStatus {
        rt.container_status(id).await.expect("container status")
    }

    #[tokio::test]
    async fn sandbox_and_container_lifecycle_with_idempotent_stop_and_remove() {
        let clock = ManualClock::default();
        let rt = runtime(&clock);
        let config = sandbox_config("web");
        let sandbox = rt.run_pod_sandbox(&config).await.unwrap();
        assert_eq!(sandbox.len(), 64);
        let s = rt.pod_sandbox_status(&sandbox).await.unwrap();
        assert_eq!(s.state, PodSandboxState::Ready);
        assert_eq!(s.metadata, config.metadata);
        assert_eq!(s.network.as_ref().map(|n| n.ip.as_str()), Some("10.88.0.2"));
        assert_eq!(s.created_at, nanos_i64(clock.now()));

        clock.advance(S);
        let id = rt.create_container(&sandbox, &container_config("main", "busybox"), &config).await.unwrap();
        let c = status(&rt, &id).await;
        assert_eq!(c.state, ContainerState::Created);
        assert_eq!((c.started_at, c.finished_at), (0, 0));
        assert_eq!(c.image_ref, format!("sha256:{}", sha256_hex(b"busybox:latest")));
        assert_eq!(c.image.image, "busybox");

        clock.advance(S);
        rt.start_container(&id).await.unwrap();
        let c = status(&rt, &id).await;
        assert_eq!(c.state, ContainerState::Running);
        assert_eq!(c.started_at, nanos_i64(clock.now()));
        assert_eq!(c.created_at + 1_000_000_000, c.started_at);
        let again = rt.start_container(&id).await.unwrap_err();
        assert!(matches!(again, CriError::FailedPrecondition(_)), "{again:?}");

        // A year later it still runs: the default script runs forever.
        clock.advance(S * 86_400 * 365);
        assert_eq!(status(&rt, &id).await.state, ContainerState::Running);

        rt.stop_container(&id, 10 * S).await.unwrap();
        let c = status(&rt, &id).await;
        assert_eq!((c.state, c.exit_code, c.reason.as_str()), (ContainerState::Exited, 143, "Error"));
        assert_eq!(c.finished_at, nanos_i64(clock.now()));
        clock.advance(S);
        rt.stop_container(&id, 10 * S).await.unwrap();
        assert_eq!(status(&rt, &id).await.finished_at, c.finished_at, "a second stop changes nothing");

        rt.remove_container(&id).await.unwrap();
        assert!(rt.container_status(&id).await.unwrap_err().is_not_found());
        rt.remove_container(&id).await.unwrap();
        rt.stop_container(&id, S).await.unwrap();

        rt.stop_pod_sandbox(&sandbox).await.unwrap();
        rt.stop_pod_sandbox(&sandbox).await.unwrap();
        let s = rt.pod_sandbox_status(&sandbox).await.unwrap();
        assert_eq!((s.state, s.network), (PodSandboxState::NotReady, None));
        rt.remove_pod_sandbox(&sandbox).await.unwrap();
        rt.remove_pod_sandbox(&sandbox).await.unwrap();
        rt.stop_pod_sandbox(&sandbox).await.unwrap();
        assert!(rt.pod_sandbox_status(&sandbox).await.unwrap_err().is_not_found());
        // The pod's name is free again.
        rt.run_pod_sandbox(&config).await.unwrap();
        assert_eq!(rt.calls("StopPodSandbox"), 3);
        assert_eq!(rt.calls("remove_pod_sandbox"), 2);
        assert_eq!(rt.calls("ContainerStatus"), 6);
    }

    #[tokio::test]
    async fn not_found_and_already_exists() {
        let clock = ManualClock::default();
        let rt = runtime(&clock);
        let config = sandbox_config("web");
        assert!(rt.pod_sandbox_status("nope").await.unwrap_err().is_not_found());
        assert!(rt.container_status("nope").await.unwrap_err().is_not_found());
        assert!(rt.start_container("nope").await.unwrap_err().is_not_found());
        assert!(rt.exec_sync("nope", &[], S).await.unwrap_err().is_not_found());
        assert!(rt.container_stats("nope").await.unwrap_err().is_not_found());
        assert!(rt.reopen_container_log("nope").await.unwrap_err().is_not_found());
        let resources = LinuxContainerResources::default();
        assert!(rt.update_container_resources("nope", &resources).await.unwrap_err().is_not_found());
        let err = rt.create_container("nope", &container_config("main", "busybox"), &config).await.unwrap_err();
        assert!(err.is_not_found(), "{err:?}");
        rt.stop_container("nope", S).await.unwrap();
        rt.remove_container("nope").await.unwrap();
        rt.stop_pod_sandbox("nope").await.unwrap();
        rt.remove_pod_sandbox("nope").await.unwrap();

        let sandbox = rt.run_pod_sandbox(&config).await.unwrap();
        let err = rt.run_pod_sandbox(&config).await.unwrap_err();
        assert!(matches!(err, CriError::AlreadyExists(_)), "{err:?}");
        // The kubelet pulls first: an absent image is NotFound.
        let err = rt.create_container(&sandbox, &container_config("main", "redis:7"), &config).await.unwrap_err();
        assert!(err.is_not_found(), "{err:?}");
        rt.create_container(&sandbox, &container_config("main", "busybox:latest"), &config).await.unwrap();
        let err = rt.create_container(&sandbox, &container_config("main", "busybox"), &config).await.unwrap_err();
        assert!(matches!(err, CriError::AlreadyExists(_)), "{err:?}");
        let mut next = container_config("main", "busybox");
        next.metadata.attempt = 1;
        rt.create_container(&sandbox, &next, &config).await.unwrap();
    }

    #[tokio::test]
    async fn list_filters_by_id_state_sandbox_and_labels() {
        let clock = ManualClock::default();
        let rt = runtime(&clock);
        let (a, a1) = running(&rt, "a", "busybox").await;
        let config_b = sandbox_config("b");
        let b = rt.run_pod_sandbox(&config_b).await.unwrap();
        let b1 = rt.create_container(&b, &container_config("side", "nginx:1.25"), &config_b).await.unwrap();
        let b2 = rt.create_container(&b, &container_config("main", "busybox"), &config_b).await.unwrap();
        rt.start_container(&b2).await.unwrap();
        rt.stop_pod_sandbox(&b).await.unwrap();

        let ids = |v: Vec<PodSandbox>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
        let all = ids(rt.list_pod_sandbox(&PodSandboxFilter::default()).await.unwrap());
        assert_eq!(all.len(), 2);
        let ready = PodSandboxFilter { state: Some(PodSandboxState::Ready), ..PodSandboxFilter::default() };
        assert_eq!(ids(rt.list_pod_sandbox(&ready).await.unwrap()), [a.as_str()]);
        let labelled = PodSandboxFilter { label_selector: [("app".into(), "b".into())].into(), ..Default::default() };
        assert_eq!(ids(rt.list_pod_sandbox(&labelled).await.unwrap()), [b.as_str()]);
        let by_id =
            PodSandboxFilter { id: Some(a.clone()), state: Some(PodSandboxState::NotReady), ..Default::default() };
        assert!(rt.list_pod_sandbox(&by_id).await.unwrap().is_empty());

        let ids = |v: Vec<Container>| {
            let mut ids = v.into_iter().map(|c| c.id).collect::<Vec<_>>();
            ids.sort();
            ids
        };
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        let list = |f: ContainerFilter| {
            let rt = &rt;
            async move { rt.list_containers(&f).await.unwrap() }
        };
        let all = list(ContainerFilter::default()).await;
        assert_eq!(all.len(), 3);
        let first = all.iter().find(|c| c.id == a1).unwrap();
        assert_eq!((first.pod_sandbox_id.as_str(), first.state), (a.as_str(), ContainerState::Running));
        assert_eq!(first.labels.get("container").map(String::as_str), Some("main"));
        let of_b = ContainerFilter { pod_sandbox_id: Some(b.clone()), ..Default::default() };
        assert_eq!(ids(list(of_b).await), sorted(vec![b1.clone(), b2.clone()]));
        let exited = ContainerFilter { state: Some(ContainerState::Exited), ..Default::default() };
        assert_eq!(ids(list(exited).await), [b2.as_str()]);
        let created = ContainerFilter { state: Some(ContainerState::Created), ..Default::default() };
        assert_eq!(ids(list(created).await), [b1.as_str()]);
        let mains =
            ContainerFilter { label_selector: [("container".into(), "main".into())].into(), ..Default::default() };
        assert_eq!(ids(list(mains).await), sorted(vec![a1.clone(), b2.clone()]));
        let one = ContainerFilter { id: Some(a1.clone()), ..Default::default() };
        assert_eq!(ids(list(one).await), [a1.as_str()]);
        let mismatch = ContainerFilter { id: Some(a1.clone()), pod_sandbox_id: Some(b.clone()), ..Default::default() };
        assert!(list(mismatch).await.is_empty());
        let stats = rt.list_container_stats(&ContainerFilter { pod_sandbox_id: Some(a), ..Default::default() }).await;
        assert_eq!(stats.unwrap().into_iter().map(|s| s.id).collect::<Vec<_>>(), [a1]);
    }

    #[tokio::test]
    async fn scripted_exit_follows_the_clock() {
        let clock = ManualClock::default();
        let rt = runtime(&clock)
            .with_script("busybox", Script::exits(5 * S, 3))
            .with_container_script("job", Script::completes(2 * S));
        rt.add_image("docker.io/library/busybox");
        let (_, id) = running(&rt, "p", "docker.io/library/busybox:latest").await;
        let (_, job) = {
            let config = sandbox_config("q");
            let sandbox = rt.run_pod_sandbox(&config).await.unwrap();
            let job = rt.create_container(&sandbox, &container_config("job", "busybox"), &config).await.unwrap();
            rt.start_container(&job).await.unwrap();
            (sandbox, job)
        };
        let started = status(&rt, &id).await.started_at;

        clock.advance(Duration::from_millis(1999));
        assert_eq!(status(&rt, &job).await.state, ContainerState::Running);
        clock.advance(Duration::from_millis(1));
        let j = status(&rt, &job).await;
        assert_eq!((j.state, j.exit_code, j.reason.as_str()), (ContainerState::Exited, 0, "Completed"));

        clock.advance(Duration::from_millis(2999));
        assert_eq!(status(&rt, &id).await.state, ContainerState::Running);
        assert_eq!(rt.exec_sync(&id, &["true".into()], S).await.unwrap().exit_code, 0);
        // Observed late, the exit keeps its scripted time.
        clock.advance(60 * S);
        let c = status(&rt, &id).await;
        assert_eq!((c.state, c.exit_code, c.reason.as_str()), (ContainerState::Exited, 3, "Error"));
        assert_eq!(c.finished_at, started + 5_000_000_000);
        let err = rt.exec_sync(&id, &["true".into()], S).await.unwrap_err();
        assert!(matches!(err, CriError::FailedPrecondition(_)), "{err:?}");
        // Stopping an exited container keeps its exit.
        rt.stop_container(&id, S).await.unwrap();
        assert_eq!(status(&rt, &id).await.exit_code, 3);
    }

    #[tokio::test]
    async fn crash_loop_exits_again_in_each_new_container() {
        let clock = ManualClock::default();
        let rt = runtime(&clock).with_script("busybox", Script::crash_loop(S, 1));
        let config = sandbox_config("crash");
        let sandbox = rt.run_pod_sandbox(&config).await.unwrap();
        let mut seen = HashSet::new();
        for attempt in 0..4 {
            let mut c = container_config("main", "busybox");
            c.metadata.attempt = attempt;
            let id = rt.create_container(&sandbox, &c, &config).await.unwrap();
            assert!(seen.insert(id.clone()), "ids are unique");
            rt.start_container(&id).await.unwrap();
            assert_eq!(status(&rt, &id).await.state, ContainerState::Running);
            clock.advance(S);
            let s = status(&rt, &id).await;
            assert_eq!((s.state, s.exit_code, s.reason.as_str()), (ContainerState::Exited, 1, "Error"));
            assert_eq!(s.metadata.attempt, attempt);
            clock.advance(10 * S); // the kubelet's back-off
        }
        let exited = ContainerFilter { state: Some(ContainerState::Exited), ..Default::default() };
        assert_eq!(rt.list_containers(&exited).await.unwrap().len(), 4);
        // A fixed script makes the next container run.
        rt.set_script("busybox", Script::runs_forever());
        let mut c = container_config("main", "busybox");
        c.metadata.attempt = 4;
        let id = rt.create_container(&sandbox, &c, &config).await.unwrap();
        rt.start_container(&id).await.unwrap();
        clock.advance(100 * S);
        assert_eq!(status(&rt, &id).await.state, ContainerState::Running);
    }

    #[tokio::test]
    async fn start_delay_and_start_failure() {
        let clock = ManualClock::default();
        let delay = Duration::from_millis(150);
        let rt = runtime(&clock)
            .with_script("busybox", Script::new().start_delay(delay))
            .with_script("nginx:1.25", Script::new().fail_start("exec: \"nginx\": executable file not found"));
        let config = sandbox_config("slow");
        let sandbox = rt.run_pod_sandbox(&config).await.unwrap();
        let id = rt.create_container(&sandbox, &container_config("main", "busybox"), &config).await.unwrap();
        let before = tokio::time::Instant::now();
        let (started, concurrent) = tokio::join!(rt.start_container(&id), async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            rt.start_container(&id).await
        });
        started.unwrap();
        assert!(matches!(concurrent, Err(CriError::FailedPrecondition(_))), "{concurrent:?}");
        let took = before.elapsed();
        assert!(took >= delay, "StartContainer returned after {took:?}");
        assert_eq!(status(&rt, &id).await.state, ContainerState::Running);

        let id = rt.create_container(&sandbox, &container_config("web", "nginx:1.25"), &config).await.unwrap();
        let err = rt.start_container(&id).await.unwrap_err();
        assert_eq!(err, CriError::Internal("exec: \"nginx\": executable file not found".into()));
        let s = status(&rt, &id).await;
        assert_eq!((s.state, s.exit_code, s.reason.as_str()), (ContainerState::Exited, 128, "StartError"));
        assert!(s.message.contains("executable file not found"));
        assert_eq!(s.started_at, 0);
    }

    #[tokio::test]
    async fn images_pull_failure_and_removal() {
        let clock = ManualClock::default();
        let rt = FakeRuntime::new(clock.clone())
            .with_images(["pause"])
            .with_script("private/app", Script::new().pull_error("pull access denied"))
            .with_script("big", Script::new().image_size(1 << 30));
        let spec = |s: &str| ImageSpec { image: s.into() };
        let images = rt.list_images(None).await.unwrap();
        assert_eq!(images.len(), 1);
        assert_eq!(images[0].repo_tags, ["pause:latest"]);
        assert_eq!(images[0].id, format!("sha256:{}", sha256_hex(b"pause:latest")));

        let err = rt.pull_image(&spec("private/app:v2")).await.unwrap_err();
        assert!(matches!(&err, CriError::Unavailable(m) if m.contains("pull access denied")), "{err:?}");
        assert_eq!(rt.image_status(&spec("private/app:v2")).await.unwrap(), None);

        let id = rt.pull_image(&spec("nginx:1.25")).await.unwrap();
        assert_eq!(id, format!("sha256:{}", sha256_hex(b"nginx:1.25")));
        assert_eq!(rt.pull_image(&spec("nginx:1.25")).await.unwrap(), id, "pulling again is the same image");
        let by_id = rt.image_status(&spec(&id)).await.unwrap().expect("by id");
        assert_eq!(by_id.repo_tags, ["nginx:1.25"]);
        assert_eq!(rt.pull_image(&spec(&id)).await.unwrap(), id);
        assert!(rt.pull_image(&spec("sha256:0000")).await.unwrap_err().is_not_found());
        rt.pull_image(&spec("big")).await.unwrap();
        assert_eq!(rt.image_status(&spec("big:latest")).await.unwrap().unwrap().size, 1 << 30);
        let only = rt.list_images(Some(&spec("nginx:1.25"))).await.unwrap();
        assert_eq!(only.len(), 1);
        let fs = rt.image_fs_info().await.unwrap();
        assert_eq!(fs[0].used_bytes, (1 << 30) + 2 * DEFAULT_IMAGE_SIZE);
        assert_eq!(fs[0].inodes_used, 3);

        rt.remove_image(&spec("nginx:1.25")).await.unwrap();
        rt.remove_image(&spec("nginx:1.25")).await.unwrap();
        assert_eq!(rt.image_status(&spec("nginx:1.25")).await.unwrap(), None);
        let config = sandbox_config("p");
        let sandbox = rt.run_pod_sandbox(&config).await.unwrap();
        let err = rt.create_container(&sandbox, &container_config("c", "nginx:1.25"), &config).await.unwrap_err();
        assert!(err.is_not_found());
        assert_eq!(rt.calls("PullImage"), 6);
    }

    #[tokio::test]
    async fn exec_sync_answers() {
        let clock = ManualClock::default();
        let rt = runtime(&clock)
            .with_script(
                "busybox",
                Script::new()
                    .exec("cat /tmp/healthy", 1, "")
                    .exec("echo hi", 0, "hi\n")
                    .exec_answer("sleep 10", ExecAnswer::new(0, "").after(Duration::from_millis(300))),
            )
            .with_script(
                "nginx",
                Script::new().exec_fn(|call| {
                    let ready = call.running_for >= Duration::from_secs(10);
                    ExecAnswer::new(
                        if ready { 0 } else { 1 },
                        format!("{} {}", call.container_name, call.cmd.join(",")),
                    )
                }),
            );
        let cmd = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let (_, id) = running(&rt, "a", "busybox").await;
        assert_eq!(rt.exec_sync(&id, &cmd("cat /tmp/healthy"), S).await.unwrap().exit_code, 1);
        let hi = rt.exec_sync(&id, &cmd("echo hi"), S).await.unwrap();
        assert_eq!((hi.exit_code, hi.stdout.as_slice()), (0, b"hi\n".as_slice()));
        let other = rt.exec_sync(&id, &cmd("ls /"), S).await.unwrap();
        assert_eq!(other, ExecSyncResponse::default());
        let timed_out = rt.exec_sync(&id, &cmd("sleep 10"), Duration::from_millis(50)).await.unwrap_err();
        assert!(matches!(timed_out, CriError::DeadlineExceeded(_)), "{timed_out:?}");
        let before = tokio::time::Instant::now();
        assert_eq!(rt.exec_sync(&id, &cmd("sleep 10"), S).await.unwrap().exit_code, 0);
        assert!(before.elapsed() >= Duration::from_millis(300));

        // The current script answers, so a probe can start failing.
        rt.set_script("busybox", Script::new().exec("cat /tmp/healthy", 0, "ok"));
        assert_eq!(rt.exec_sync(&id, &cmd("cat /tmp/healthy"), S).await.unwrap().stdout, b"ok");

        let (_, web) = running(&rt, "b", "nginx:1.25").await;
        let first = rt.exec_sync(&web, &cmd("curl -f localhost"), S).await.unwrap();
        assert_eq!((first.exit_code, first.stdout.as_slice()), (1, b"main curl,-f,localhost".as_slice()));
        clock.advance(10 * S);
        assert_eq!(rt.exec_sync(&web, &cmd("curl"), S).await.unwrap().exit_code, 0);

        let config = sandbox_config("c");
        let sandbox = rt.run_pod_sandbox(&config).await.unwrap();
        let created = rt.create_container(&sandbox, &container_config("x", "busybox"), &config).await.unwrap();
        let err = rt.exec_sync(&created, &cmd("true"), S).await.unwrap_err();
        assert!(matches!(err, CriError::FailedPrecondition(_)), "{err:?}");
    }

    #[tokio::test]
    async fn stop_with_and_without_sigterm_honoured() {
        let clock = ManualClock::default();
        let rt = runtime(&clock).with_script("nginx", Script::new().ignores_sigterm()).with_container_script(
            "graceful",
            Script::new().stops_after(Duration::from_millis(100)).sigterm_exit_code(0),
        );
        let timeout = Duration::from_millis(400);
        let long = 5 * S; // bounds for what should be immediate, generous for loaded machines

        let (_, honours) = running(&rt, "a", "busybox").await;
        let before = tokio::time::Instant::now();
        rt.stop_container(&honours, long).await.unwrap();
        assert!(before.elapsed() < long, "SIGTERM is honoured at once");
        let s = status(&rt, &honours).await;
        assert_eq!((s.state, s.exit_code, s.reason.as_str()), (ContainerState::Exited, 143, "Error"));

        let (_, stubborn) = running(&rt, "b", "nginx:1.25").await;
        let before = tokio::time::Instant::now();
        let (stopped, during) = tokio::join!(rt.stop_container(&stubborn, timeout), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            rt.container_status(&stubborn).await.unwrap().state
        });
        stopped.unwrap();
        assert!(before.elapsed() >= timeout, "killed only after the timeout: {:?}", before.elapsed());
        assert_eq!(during, ContainerState::Running);
        let s = status(&rt, &stubborn).await;
        assert_eq!((s.state, s.exit_code, s.reason.as_str()), (ContainerState::Exited, 137, "Error"));

        let (_, killed) = running(&rt, "c", "nginx:1.25").await;
        let before = tokio::time::Instant::now();
        rt.stop_container(&killed, Duration::ZERO).await.unwrap();
        assert!(before.elapsed() < long);
        assert_eq!(status(&rt, &killed).await.exit_code, 137);

        let config = sandbox_config("d");
        let sandbox = rt.run_pod_sandbox(&config).await.unwrap();
        let graceful =
            rt.create_container(&sandbox, &container_config("graceful", "nginx:1.25"), &config).await.unwrap();
        rt.start_container(&graceful).await.unwrap();
        let before = tokio::time::Instant::now();
        rt.stop_container(&graceful, long).await.unwrap();
        let took = before.elapsed();
        assert!(took >= Duration::from_millis(100) && took < long, "{took:?}");
        let s = status(&rt, &graceful).await;
        assert_eq!((s.exit_code, s.reason.as_str()), (0, "Completed"));

        // A created container is left alone.
        let created = rt.create_container(&sandbox, &container_config("idle", "busybox"), &config).await.unwrap();
        rt.stop_container(&created, timeout).await.unwrap();
        assert_eq!(status(&rt, &created).await.state, ContainerState::Created);
    }

    #[tokio::test]
    async fn oom_kill_reason() {
        let clock = ManualClock::default();
        let rt = runtime(&clock)
            .with_script("busybox", Script::exits(10 * S, 0).oom_after(2 * S).stats(500_000_000, 64 << 20));
        let (_, id) = running(&rt, "hungry", "busybox").await;
        clock.advance(S);
        let stats = rt.container_stats(&id).await.unwrap();
        assert_eq!((stats.usage_core_nano_seconds, stats.working_set_bytes), (500_000_000, 64 << 20));
        clock.advance(5 * S);
        let s = status(&rt, &id).await;
        assert_eq!((s.state, s.exit_code, s.reason.as_str()), (ContainerState::Exited, 137, "OOMKilled"));
        assert_eq!(s.finished_at - s.started_at, 2_000_000_000);
        let stats = rt.container_stats(&id).await.unwrap();
        assert_eq!((stats.usage_core_nano_seconds, stats.working_set_bytes), (1_000_000_000, 0));
        let err = rt.update_container_resources(&id, &LinuxContainerResources::default()).await.unwrap_err();
        assert!(matches!(err, CriError::FailedPrecondition(_)));

        // A test can end a running container by hand.
        let (_, other) = running(&rt, "other", "nginx:1.25").await;
        let limits = LinuxContainerResources { memory_limit_in_bytes: 32 << 20, ..Default::default() };
        rt.update_container_resources(&other, &limits).await.unwrap();
        rt.exit_container(&other, 137, "OOMKilled").unwrap();
        let s = status(&rt, &other).await;
        assert_eq!((s.state, s.exit_code, s.reason.as_str()), (ContainerState::Exited, 137, "OOMKilled"));
        assert_eq!(s.finished_at, nanos_i64(clock.now()));
        assert!(rt.exit_container("nope", 1, "").unwrap_err().is_not_found());
    }

    #[tokio::test]
    async fn stopping_a_sandbox_kills_its_containers_and_removing_removes_them() {
        let clock = ManualClock::default();
        let rt = runtime(&clock).with_script("nginx", Script::exits(S, 0));
        let config = sandbox_config("pod");
        let sandbox = rt.run_pod_sandbox(&config).await.unwrap();
        let run = rt.create_container(&sandbox, &container_config("run", "busybox"), &config).await.unwrap();
        let done = rt.create_container(&sandbox, &container_config("done", "nginx:1.25"), &config).await.unwrap();
        let idle = rt.create_container(&sandbox, &container_config("idle", "busybox"), &config).await.unwrap();
        rt.start_container(&run).await.unwrap();
        rt.start_container(&done).await.unwrap();
        let (_, other) = running(&rt, "other", "busybox").await;
        clock.advance(5 * S);
        rt.stop_pod_sandbox(&sandbox).await.unwrap();

        let s = status(&rt, &run).await;
        assert_eq!((s.state, s.exit_code, s.reason.as_str()), (ContainerState::Exited, 137, "Error"));
        assert_eq!(s.finished_at, nanos_i64(clock.now()));
        let d = status(&rt, &done).await;
        assert_eq!((d.exit_code, d.reason.as_str()), (0, "Completed"), "an earlier exit is kept");
        assert_eq!(d.finished_at, d.started_at + 1_000_000_000);
        assert_eq!(status(&rt, &idle).await.state, ContainerState::Created);
        let err = rt.start_container(&idle).await.unwrap_err();
        assert!(matches!(err, CriError::FailedPrecondition(_)), "{err:?}");
        assert_eq!(status(&rt, &other).await.state, ContainerState::Running);

        rt.remove_pod_sandbox(&sandbox).await.unwrap();
        for id in [&run, &done, &idle] {
            assert!(rt.container_status(id).await.unwrap_err().is_not_found());
        }
        assert_eq!(rt.list_containers(&ContainerFilter::default()).await.unwrap().len(), 1);

        // Removing a ready sandbox stops it first.
        let (ready, inside) = running(&rt, "ready", "busybox").await;
        rt.remove_pod_sandbox(&ready).await.unwrap();
        assert!(rt.container_status(&inside).await.unwrap_err().is_not_found());
    }

    #[tokio::test]
    async fn pod_ips_are_unique_and_released() {
        let clock = ManualClock::default();
        let rt = runtime(&clock).with_pod_cidr("10.244.3.0/29");
        assert_eq!(rt.pod_cidr(), "10.244.3.0/29");
        let mut ids = Vec::new();
        let mut ips = Vec::new();
        for i in 0..5 {
            let id = rt.run_pod_sandbox(&sandbox_config(&format!("p{i}"))).await.unwrap();
            ips.push(rt.pod_sandbox_status(&id).await.unwrap().network.unwrap().ip);
            ids.push(id);
        }
        assert_eq!(ips, ["10.244.3.2", "10.244.3.3", "10.244.3.4", "10.244.3.5", "10.244.3.6"]);
        let err = rt.run_pod_sandbox(&sandbox_config("full")).await.unwrap_err();
        assert!(matches!(&err, CriError::Internal(m) if m.contains("no IP addresses")), "{err:?}");
        let mut host = sandbox_config("host");
        host.host_network = true;
        let host = rt.run_pod_sandbox(&host).await.unwrap();
        assert_eq!(rt.pod_sandbox_status(&host).await.unwrap().network, None);

        rt.stop_pod_sandbox(&ids[1]).await.unwrap();
        let again = rt.run_pod_sandbox(&sandbox_config("again")).await.unwrap();
        assert_eq!(rt.pod_sandbox_status(&again).await.unwrap().network.unwrap().ip, "10.244.3.3");
        rt.remove_pod_sandbox(&ids[3]).await.unwrap();
        let third = rt.run_pod_sandbox(&sandbox_config("third")).await.unwrap();
        assert_eq!(rt.pod_sandbox_status(&third).await.unwrap().network.unwrap().ip, "10.244.3.5");

        let v6 = FakeRuntime::new(clock.clone()).with_pod_cidr("fd00:10:244:3::/64");
        let id = v6.run_pod_sandbox(&sandbox_config("six")).await.unwrap();
        assert_eq!(v6.pod_sandbox_status(&id).await.unwrap().network.unwrap().ip, "fd00:10:244:3::2");
        let result = std::panic::catch_unwind(|| FakeRuntime::new(clock.clone()).with_pod_cidr("10.0.0.0/31"));
        assert!(result.is_err(), "a /31 leaves no pod address");
    }

    #[tokio::test]
    async fn network_readiness_status_version_and_injected_errors() {
        let clock = ManualClock::default();
        let rt = runtime(&clock);
        let conditions = |s: RuntimeStatus| s.conditions.into_iter().map(|c| (c.type_, c.status)).collect::<Vec<_>>();
        let ready = [("RuntimeReady".to_string(), true), ("NetworkReady".to_string(), true)];
        assert_eq!(conditions(rt.status().await.unwrap()), ready);
        rt.set_network_ready(false);
        let status = rt.status().await.unwrap();
        assert_eq!(status.conditions[1].reason, "NetworkPluginNotReady");
        let err = rt.run_pod_sandbox(&sandbox_config("p")).await.unwrap_err();
        assert!(matches!(err, CriError::Unavailable(_)), "{err:?}");
        let mut host = sandbox_config("h");
        host.host_network = true;
        rt.run_pod_sandbox(&host).await.unwrap();
        rt.set_network_ready(true);
        assert_eq!(conditions(rt.status().await.unwrap()), ready);

        let v = rt.version().await.unwrap();
        assert_eq!((v.runtime_name.as_str(), v.runtime_api_version.as_str()), ("k-fake", "v1"));

        rt.fail_next("RunPodSandbox", CriError::Internal("boom".into()));
        rt.fail_next("run_pod_sandbox", CriError::DeadlineExceeded("slow".into()));
        assert_eq!(rt.run_pod_sandbox(&sandbox_config("p")).await, Err(CriError::Internal("boom".into())));
        assert!(matches!(rt.run_pod_sandbox(&sandbox_config("p")).await, Err(CriError::DeadlineExceeded(_))));
        rt.run_pod_sandbox(&sandbox_config("p")).await.unwrap();
        assert_eq!(rt.calls("RunPodSandbox"), 5);
        let snapshot = rt.calls_snapshot();
        assert_eq!(snapshot.get("Status"), Some(&3));
        assert_eq!(snapshot.get("Version"), Some(&1));
        assert!(!snapshot.contains_key("ExecSync"));
        rt.reset_calls();
        assert!(rt.calls_snapshot().is_empty());
        assert!(
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.calls("RunPodSandox"))).is_err(),
            "a typo is not zero calls"
        );
    }

    #[tokio::test]
    async fn log_lines_and_cri_log_files() {
        let clock = ManualClock::new(UNIX_EPOCH + Duration::new(1_700_000_000, 120_000_000));
        let dir = tempfile::tempdir().unwrap();
        let pod_logs = dir.path().join("default_web_uid-web");
        let script = Script::new().logs(["hello", "world"]);
        let rt = runtime(&clock).with_script("busybox", script.clone()).with_log_files(true);
        let mut config = sandbox_config("web");
        config.log_directory = pod_logs.to_string_lossy().into_owned();
        let sandbox = rt.run_pod_sandbox(&config).await.unwrap();
        let mut c = container_config("main", "busybox");
        c.log_path = "main/0.log".into();
        let id = rt.create_container(&sandbox, &c, &config).await.unwrap();
        let path = pod_logs.join("main/0.log");
        assert_eq!(status(&rt, &id).await.log_path, path.to_string_lossy());
        assert!(rt.logs(&id).is_empty(), "nothing before the start");
        rt.start_container(&id).await.unwrap();
        assert_eq!(rt.logs(&id), ["hello", "world"]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "2023-11-14T22:13:20.12Z stdout F hello\n2023-11-14T22:13:20.12Z stdout F world\n");
        std::fs::remove_file(&path).unwrap();
        rt.reopen_container_log(&id).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "", "reopen makes a new file");

        // Off by default: nothing on disk, the lines still in memory.
        let quiet = runtime(&clock).with_script("busybox", script);
        let mut config = sandbox_config("quiet");
        config.log_directory = dir.path().join("quiet").to_string_lossy().into_owned();
        let sandbox = quiet.run_pod_sandbox(&config).await.unwrap();
        let id = quiet.create_container(&sandbox, &c, &config).await.unwrap();
        quiet.start_container(&id).await.unwrap();
        assert_eq!(quiet.logs(&id), ["hello", "world"]);
        assert!(!dir.path().join("quiet").exists());
    }

    #[test]
    fn clocks() {
        let manual = ManualClock::default();
        let copy = manual.clone();
        let start = manual.now();
        assert_eq!(rfc3339_nano(start), "2024-01-01T00:00:00Z");
        copy.advance(Duration::from_millis(1500));
        assert_eq!(manual.now().duration_since(start).unwrap(), Duration::from_millis(1500));
        manual.set(UNIX_EPOCH);
        assert_eq!(copy.now(), UNIX_EPOCH);
        let shared: Arc<dyn Clock> = Arc::new(copy.clone());
        let rt = FakeRuntime::new(shared);
        copy.advance(S);
        assert_eq!(rt.clock().now(), UNIX_EPOCH + S);
        let f = FnClock::new(|| UNIX_EPOCH + Duration::from_secs(42));
        assert_eq!(f.now(), UNIX_EPOCH + Duration::from_secs(42));
        let tokio_clock = TokioClock::new();
        assert!(tokio_clock.now() <= SystemTime::now() + S);
        assert!(SystemClock.now() > UNIX_EPOCH);
    }

    #[test]
    fn time_formatting_and_hashing() {
        let at = |s: u64, n: u32| rfc3339_nano(UNIX_EPOCH + Duration::new(s, n));
        assert_eq!(at(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400, 1), "2000-02-29T00:00:00.000000001Z");
        assert_eq!(at(1_700_000_000, 123_456_789), "2023-11-14T22:13:20.123456789Z");
        assert_eq!(at(4_102_444_799, 500_000_000), "2099-12-31T23:59:59.5Z");
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(
            sha256_hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        assert_eq!(normalize_image("busybox"), "busybox:latest");
        assert_eq!(normalize_image("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(normalize_image("app@sha256:ab"), "app@sha256:ab");
        let keys = image_script_keys("docker.io/library/busybox:1.36");
        assert_eq!(keys, ["docker.io/library/busybox:1.36", "docker.io/library/busybox", "busybox"]);
    }

    #[tokio::test]
    async fn thirty_thousand_containers_on_a_thousand_runtimes() {
        let clock = ManualClock::default();
        let shared: Arc<dyn Clock> = Arc::new(clock.clone());
        let script = Script::exits(60 * S, 0);
        let begin = std::time::Instant::now();
        let mut runtimes = Vec::new();
        for node in 0..1000 {
            let rt = FakeRuntime::new(shared.clone())
                .with_images(["pause", "app"])
                .with_script("app", script.clone())
                .with_pod_cidr(&format!("10.{}.{}.0/24", node / 256, node % 256));
            for pod in 0..30 {
                let config = sandbox_config(&format!("pod-{pod}"));
                let sandbox = rt.run_pod_sandbox(&config).await.unwrap();
                let id = rt.create_container(&sandbox, &container_config("app", "app"), &config).await.unwrap();
                rt.start_container(&id).await.unwrap();
            }
            runtimes.push(rt);
        }
        let created = begin.elapsed();
        let mut ids = HashSet::new();
        let mut ips = 0;
        for rt in &runtimes {
            let list = rt.list_containers(&ContainerFilter::default()).await.unwrap();
            assert_eq!(list.len(), 30);
            assert!(list.iter().all(|c| c.state == ContainerState::Running));
            ids.extend(list.into_iter().map(|c| c.id));
            ips += rt.list_pod_sandbox(&PodSandboxFilter::default()).await.unwrap().len();
        }
        assert_eq!((ids.len(), ips), (30_000, 30_000));
        clock.advance(60 * S);
        let exited = ContainerFilter { state: Some(ContainerState::Exited), ..Default::default() };
        for rt in &runtimes {
            assert_eq!(rt.list_containers(&exited).await.unwrap().len(), 30);
        }
        println!(
            "30,000 containers on 1,000 runtimes: created and started in {created:?}, all in {:?}",
            begin.elapsed()
        );
    }
}
