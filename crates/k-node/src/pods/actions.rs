//! What to do next for one pod: the kubelet's `computePodActions`, as a
//! pure function.
//!
//! [`compute_pod_actions`] takes the pod (spec, status and metadata), the
//! runtime's view of it ([`RuntimePod`]: its sandboxes and containers as
//! CRI reports them), the crash-loop [`BackOff`] state, the containers
//! whose liveness probe failed, and the time. It answers with
//! [`PodActions`]: whether the whole pod goes down and whether a sandbox is
//! (re)created, which init container starts next, which containers are
//! killed and started, and which wait in `CrashLoopBackOff`. The pod worker
//! carries them out in that order: kills (containers, then sandboxes), the
//! sandbox, the init container, the app containers.
//!
//! The rules are Kubernetes':
//!
//! - a pod being deleted (`deletionTimestamp`) has everything killed with
//!   its grace period ([`pod_grace_period`]) and nothing created;
//! - no sandbox, a sandbox that is not ready, more than one ready sandbox or
//!   a sandbox that lost its IP: everything is killed and a sandbox is
//!   created (attempt + 1), unless the pod is finished (`Never` once its
//!   containers ran, `OnFailure` once every app container succeeded);
//! - init containers run one at a time, each to completion, in order; a
//!   failed one is restarted unless the policy is `Never`, which fails the
//!   pod ([`PodActions::init_failed`]);
//! - then every app container is started; an exited one is restarted per
//!   the restart policy (`Always`; `OnFailure` when its exit code is not 0;
//!   never with `Never`) once its back-off allows it (at once after its
//!   first failure, then 10 s, 20 s, … up to 5 min: [`BackOff`]), else it
//!   waits in `CrashLoopBackOff`;
//! - a running container whose spec hash ([`container_hash`]) changed is
//!   killed and started again, whatever the policy and the back-off;
//! - a running container whose liveness probe failed is killed and
//!   restarted unless the policy is `Never`;
//! - when nothing runs and nothing is to start, the pod goes down.
//!
//! Containers are recognised by the labels the worker gives them
//! ([`container_labels`]), as the kubelet does: pod name, namespace and
//! uid, container name, spec hash and restart count. They are read from
//! the labels, then from the annotations (where the kubelet keeps hash and
//! restart count), then from CRI's metadata.
//!
//! The function is deterministic; the only state it touches is the
//! back-off, into which it records the failures and runs it sees in the
//! runtime view. Recording is idempotent (a failure is keyed by its finish
//! time), so calling it again with the same inputs gives the same actions.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k_api_types::core::v1::{Container, Pod};
use k_netplugin::cri::{self, ContainerState, Labels, PodSandboxState};
use sha2::{Digest, Sha256};

/// Label: the pod's name.
pub const POD_NAME_LABEL: &str = "io.kubernetes.pod.name";
/// Label: the pod's namespace.
pub const POD_NAMESPACE_LABEL: &str = "io.kubernetes.pod.namespace";
/// Label: the pod's uid.
pub const POD_UID_LABEL: &str = "io.kubernetes.pod.uid";
/// Label: the container's name in the pod.
pub const CONTAINER_NAME_LABEL: &str = "io.kubernetes.container.name";
/// Label: the hash of the container's spec ([`container_hash`]).
pub const CONTAINER_HASH_LABEL: &str = "io.kubernetes.container.hash";
/// Label: how many times the container was restarted before this instance.
pub const RESTART_COUNT_LABEL: &str = "io.kubernetes.container.restartCount";

/// The waiting reason of a container held back by its back-off.
pub const CRASH_LOOP_BACK_OFF: &str = "CrashLoopBackOff";

/// The grace period of a pod that names none (Kubernetes' default).
pub const DEFAULT_TERMINATION_GRACE: Duration = Duration::from_secs(30);

/// Kill reason: the pod is being deleted.
pub const KILL_POD_DELETED: &str = "Pod is being deleted";
/// Kill reason: the sandbox is gone or unusable and is re-created.
pub const KILL_SANDBOX_CHANGED: &str = "Pod sandbox changed, it will be killed and re-created";
/// Kill reason: an init container failed under restart policy `Never`.
pub const KILL_INIT_FAILED: &str = "Init container failed";
/// Kill reason: every container finished and none is restarted.
pub const KILL_POD_FINISHED: &str = "All containers finished";
/// Kill reason: the container's spec changed.
pub const KILL_SPEC_CHANGED: &str = "Container spec hash changed";
/// Kill reason: the container failed its liveness probe.
pub const KILL_LIVENESS: &str = "failed liveness probe";
/// Kill reason: the runtime does not know the container's state.
pub const KILL_UNKNOWN_STATE: &str = "Container is in unknown state, killing before restart";

// ---------------------------------------------------------------------------
// Labels and hashes
// ---------------------------------------------------------------------------

/// The hash of a container's spec: SHA-256 of its JSON, in hex, first 16
/// digits. A running container whose hash differs from its spec's is
/// restarted.
pub fn container_hash(container: &Container) -> String {
    // Serializing a container cannot fail: every map has string keys.
    let json = serde_json::to_vec(container).unwrap_or_default();
    let digest = Sha256::digest(&json);
    let mut hex = String::with_capacity(16);
    for byte in &digest[..8] {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// The labels of a pod's sandbox: pod name, namespace and uid.
pub fn sandbox_labels(pod: &Pod) -> Labels {
    Labels::from([
        (POD_NAME_LABEL.to_owned(), pod.metadata.name.clone()),
        (POD_NAMESPACE_LABEL.to_owned(), pod.metadata.namespace.clone()),
        (POD_UID_LABEL.to_owned(), pod.metadata.uid.clone()),
    ])
}

/// The labels of a container instance: the sandbox's ([`sandbox_labels`]),
/// the container's name, its spec hash and its restart count.
pub fn container_labels(pod: &Pod, container: &Container, restart_count: u32) -> Labels {
    let mut labels = sandbox_labels(pod);
    labels.insert(CONTAINER_NAME_LABEL.to_owned(), container.name.clone());
    labels.insert(CONTAINER_HASH_LABEL.to_owned(), container_hash(container));
    labels.insert(RESTART_COUNT_LABEL.to_owned(), restart_count.to_string());
    labels
}

fn label<'a>(status: &'a cri::ContainerStatus, key: &str) -> Option<&'a str> {
    status.labels.get(key).or_else(|| status.annotations.get(key)).map(String::as_str)
}

/// The name in the pod of a container instance (its label, else CRI's
/// metadata name).
pub fn container_name(status: &cri::ContainerStatus) -> &str {
    label(status, CONTAINER_NAME_LABEL).unwrap_or(&status.metadata.name)
}

/// The restart count of a container instance (its label, else CRI's
/// attempt).
pub fn restart_count(status: &cri::ContainerStatus) -> u32 {
    label(status, RESTART_COUNT_LABEL).and_then(|v| v.parse().ok()).unwrap_or(status.metadata.attempt)
}

/// The spec hash a container instance was created with, if it carries one.
pub fn spec_hash(status: &cri::ContainerStatus) -> Option<&str> {
    label(status, CONTAINER_HASH_LABEL)
}

/// A CRI time (ns since the epoch; 0: unset) as a `SystemTime`.
pub fn cri_time(ns: i64) -> Option<SystemTime> {
    u64::try_from(ns).ok().filter(|n| *n > 0).map(|n| UNIX_EPOCH + Duration::from_nanos(n))
}

// ---------------------------------------------------------------------------
// The pod and the runtime's view of it
// ---------------------------------------------------------------------------

/// A pod's restart policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RestartPolicy {
    /// Restart every exited container (the default).
    Always,
    /// Restart containers that exited with a code other than 0.
    OnFailure,
    /// Never restart.
    Never,
}

impl RestartPolicy {
    /// The pod's policy (`Always` when unset or unknown).
    pub fn of(pod: &Pod) -> Self {
        match pod.spec.restart_policy.as_deref() {
            Some("OnFailure") => Self::OnFailure,
            Some("Never") => Self::Never,
            _ => Self::Always,
        }
    }

    /// Whether a container that exited with `exit_code` is restarted.
    pub fn restarts(self, exit_code: i32) -> bool {
        match self {
            Self::Always => true,
            Self::OnFailure => exit_code != 0,
            Self::Never => false,
        }
    }
}

/// How long the pod's containers get to stop: on deletion the
/// `deletionGracePeriodSeconds`, else `terminationGracePeriodSeconds`,
/// else 30 s (negative values count as 0).
pub fn pod_grace_period(pod: &Pod) -> Duration {
    let deleting = pod.metadata.deletion_timestamp.is_some();
    let seconds =
        pod.metadata.deletion_grace_period_seconds.filter(|_| deleting).or(pod.spec.termination_grace_period_seconds);
    seconds.map_or(DEFAULT_TERMINATION_GRACE, |s| Duration::from_secs(u64::try_from(s).unwrap_or(0)))
}

/// The runtime's view of one pod: its sandboxes and its containers (of all
/// sandboxes, every instance the runtime still has).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuntimePod {
    /// The pod's sandboxes.
    pub sandboxes: Vec<cri::PodSandboxStatus>,
    /// The pod's containers.
    pub containers: Vec<cri::ContainerStatus>,
}

impl RuntimePod {
    /// The newest sandbox (by creation time, then attempt).
    pub fn latest_sandbox(&self) -> Option<&cri::PodSandboxStatus> {
        self.sandboxes.iter().max_by_key(|s| (s.created_at, s.metadata.attempt))
    }

    /// The ids of the sandboxes that are ready (those to stop when the pod
    /// goes down).
    pub fn ready_sandbox_ids(&self) -> Vec<String> {
        self.sandboxes.iter().filter(|s| s.state == PodSandboxState::Ready).map(|s| s.id.clone()).collect()
    }

    /// The instances of the container `name`, newest first (by creation
    /// time, then restart count).
    pub fn instances(&self, name: &str) -> Vec<&cri::ContainerStatus> {
        let mut found: Vec<_> = self.containers.iter().filter(|c| container_name(c) == name).collect();
        found.sort_by_key(|c| std::cmp::Reverse((c.created_at, restart_count(c))));
        found
    }

    /// The newest instance of the container `name`.
    pub fn latest(&self, name: &str) -> Option<&cri::ContainerStatus> {
        self.instances(name).into_iter().next()
    }

    /// The instances of `name` made in the newest sandbox (created no
    /// earlier than it), newest first. Init containers are judged on these
    /// only: a new sandbox runs them all again.
    pub fn current_instances(&self, name: &str) -> Vec<&cri::ContainerStatus> {
        let since = self.latest_sandbox().map_or(i64::MIN, |s| s.created_at);
        self.instances(name).into_iter().filter(|c| c.created_at >= since).collect()
    }

    /// The pod's addresses: those of the newest sandbox when it is ready
    /// (primary first), else none.
    pub fn pod_ips(&self) -> Vec<String> {
        self.latest_sandbox().filter(|s| s.state == PodSandboxState::Ready).map(sandbox_ips).unwrap_or_default()
    }
}

/// A sandbox's addresses, primary first.
pub fn sandbox_ips(sandbox: &cri::PodSandboxStatus) -> Vec<String> {
    let Some(network) = &sandbox.network else { return Vec::new() };
    std::iter::once(&network.ip).chain(&network.additional_ips).filter(|ip| !ip.is_empty()).cloned().collect()
}

/// The restart count the next instance of `name` gets: one more than the
/// highest so far, 0 for the first.
pub fn next_restart_count(runtime: &RuntimePod, name: &str) -> u32 {
    runtime.instances(name).iter().map(|c| restart_count(c)).max().map_or(0, |n| n.saturating_add(1))
}

// ---------------------------------------------------------------------------
// Back-off
// ---------------------------------------------------------------------------

/// Crash-loop back-off per container (key `<pod uid>/<container name>`,
/// [`BackOff::key`]), with the kubelet's semantics: the first failure
/// restarts the container at once (delay 0); after the second it may
/// restart only 10 s after the failure, then 20 s, 40 s, … capped at
/// 5 min. A container that ran for 10 min (twice the maximum) before
/// failing starts over: that failure restarts it at once again, the next
/// one waits 10 s.
#[derive(Clone, Debug)]
pub struct BackOff {
    initial: Duration,
    max: Duration,
    reset_after: Duration,
    /// The delay after a first failure: none for container restarts,
    /// `initial` for image pulls.
    first: Duration,
    entries: BTreeMap<String, BackOffEntry>,
}

#[derive(Clone, Copy, Debug)]
struct BackOffEntry {
    /// The delay after the last failure.
    delay: Duration,
    /// When the last failure happened.
    last_failure: SystemTime,
    /// When the instance after the last failure started running.
    running_since: Option<SystemTime>,
}

impl Default for BackOff {
    fn default() -> Self {
        Self::new(Self::INITIAL, Self::MAX)
    }
}

impl BackOff {
    /// The first non-zero delay (10 s), after the second failure.
    pub const INITIAL: Duration = Duration::from_secs(10);
    /// The longest delay (5 min).
    pub const MAX: Duration = Duration::from_secs(300);

    /// A back-off with no delay after the first failure, then `initial`
    /// doubling to `max`; reset (no delay again) after a run of `2 × max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self { initial, max, reset_after: max.saturating_mul(2), first: Duration::ZERO, entries: BTreeMap::new() }
    }

    /// The kubelet's image-pull back-off: `initial` (10 s) already after
    /// the first failure, doubling to `max` (5 min).
    pub fn for_image_pulls() -> Self {
        Self { first: Self::INITIAL, ..Self::default() }
    }

    /// The key of a pod's container.
    pub fn key(pod_uid: &str, container: &str) -> String {
        format!("{pod_uid}/{container}")
    }

    /// When the container may restart, if it may not at `now`.
    pub fn next_allowed(&self, key: &str, now: SystemTime) -> Option<SystemTime> {
        let entry = self.entries.get(key)?;
        let until = entry.last_failure + entry.delay;
        (now < until).then_some(until)
    }

    /// The current delay of the container, if it failed before (zero
    /// after its first failure or a reset).
    pub fn delay(&self, key: &str) -> Option<Duration> {
        self.entries.get(key).map(|e| e.delay)
    }

    /// The container failed at `at`: no delay for a first failure, then
    /// the delay starts (10 s) or doubles (capped); it is zero again when
    /// the failed instance ran for the reset period. A failure no later
    /// than the last one recorded is already counted and ignored.
    pub fn record_failure(&mut self, key: &str, at: SystemTime) {
        let Some(entry) = self.entries.get_mut(key) else {
            // As the kubelet: the first failure restarts at once; the
            // delay starts with the second.
            let entry = BackOffEntry { delay: self.first, last_failure: at, running_since: None };
            self.entries.insert(key.to_owned(), entry);
            return;
        };
        if at <= entry.last_failure {
            return;
        }
        let since = entry.running_since.unwrap_or(entry.last_failure);
        let ran_long = at.duration_since(since).is_ok_and(|d| d >= self.reset_after);
        entry.delay = if ran_long {
            self.first
        } else if entry.delay.is_zero() {
            self.initial
        } else {
            entry.delay.saturating_mul(2).min(self.max)
        };
        entry.last_failure = at;
        entry.running_since = None;
    }

    /// An instance of the container has been running since `since`. Only
    /// an instance started after the last failure counts; without a
    /// failure there is nothing to reset.
    pub fn record_running(&mut self, key: &str, since: SystemTime) {
        if let Some(entry) = self.entries.get_mut(key)
            && since >= entry.last_failure
        {
            entry.running_since = Some(since);
        }
    }

    /// Forgets entries that no longer matter at `now`: their next failure
    /// would start over anyway (the last failure or the last start is the
    /// reset period ago).
    pub fn gc(&mut self, now: SystemTime) {
        let reset_after = self.reset_after;
        self.entries.retain(|_, e| {
            let since = e.running_since.map_or(e.last_failure, |r| r.max(e.last_failure));
            now.duration_since(since).map_or(true, |d| d < reset_after)
        });
    }

    /// Forgets every container of the pod.
    pub fn forget_pod(&mut self, pod_uid: &str) {
        let prefix = format!("{pod_uid}/");
        self.entries.retain(|k, _| !k.starts_with(&prefix));
    }

    /// How many containers have an entry.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no container has an entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Records, in time order, the runs and failures of the pod's containers
/// the runtime shows: every exit of an app container, failures (exit code
/// not 0) of init containers.
fn observe(pod: &Pod, runtime: &RuntimePod, backoff: &mut BackOff) {
    let init: BTreeSet<&str> = pod.spec.init_containers.iter().map(|c| c.name.as_str()).collect();
    let app: BTreeSet<&str> = pod.spec.containers.iter().map(|c| c.name.as_str()).collect();
    let mut seen: Vec<&cri::ContainerStatus> = runtime.containers.iter().collect();
    seen.sort_by_key(|c| (c.created_at, restart_count(c)));
    for c in seen {
        let name = container_name(c);
        let is_init = init.contains(name);
        if !is_init && !app.contains(name) {
            continue;
        }
        let key = BackOff::key(&pod.metadata.uid, name);
        if let Some(started) = cri_time(c.started_at) {
            backoff.record_running(&key, started);
        }
        if c.state == ContainerState::Exited && !(is_init && c.exit_code == 0) {
            let finished = cri_time(c.finished_at).or(cri_time(c.started_at)).or(cri_time(c.created_at));
            backoff.record_failure(&key, finished.unwrap_or(UNIX_EPOCH));
        }
    }
}

// ---------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------

/// What to do for a pod now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodActions {
    /// The whole pod goes down: the containers in [`kill`](Self::kill) and
    /// the sandboxes in [`kill_sandbox_ids`](Self::kill_sandbox_ids) are
    /// every one still running.
    pub kill_pod: bool,
    /// Create a sandbox (after the kills).
    pub create_sandbox: bool,
    /// The attempt of the sandbox to create (0 for the first).
    pub sandbox_attempt: u32,
    /// Ready sandboxes to stop.
    pub kill_sandbox_ids: Vec<String>,
    /// The init container (index in `spec.initContainers`) to start next.
    pub next_init_container: Option<usize>,
    /// An init container failed and the policy is `Never`: the pod failed.
    pub init_failed: bool,
    /// App containers to start, in spec order.
    pub start: Vec<ContainerStart>,
    /// Container instances to stop.
    pub kill: Vec<ContainerKill>,
    /// Containers not started because of their back-off.
    pub waiting: Vec<(String, WaitReason)>,
}

impl PodActions {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The waiting containers as the status wants them: name, reason and
    /// message ([`WaitReason::message`]).
    pub fn waiting_entries(&self, pod: &Pod) -> Vec<(String, String, String)> {
        self.waiting.iter().map(|(name, why)| (name.clone(), why.reason().to_owned(), why.message(pod, name))).collect()
    }
}

/// An app container to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerStart {
    /// Its index in `spec.containers`.
    pub index: usize,
    /// Its name.
    pub name: String,
    /// The restart count of the new instance ([`next_restart_count`]).
    pub restart_count: u32,
    /// Why.
    pub reason: StartReason,
}

/// Why a container starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StartReason {
    /// It never ran (in any sandbox the runtime still knows).
    New,
    /// It exited, or is stuck created or unknown, and is restarted.
    Restart,
    /// Its spec changed; the old instance is killed.
    SpecChanged,
    /// It failed its liveness probe; the old instance is killed.
    LivenessFailed,
}

impl StartReason {
    /// The reason in words.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Restart => "restart",
            Self::SpecChanged => "spec changed",
            Self::LivenessFailed => "liveness probe failed",
        }
    }
}

impl fmt::Display for StartReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A container instance to stop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerKill {
    /// The runtime's container id.
    pub id: String,
    /// The container's name in the pod.
    pub name: String,
    /// Why (one of the `KILL_*` texts).
    pub reason: String,
    /// How long it gets to stop.
    pub grace: Duration,
}

/// Why a container is not started now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitReason {
    /// Its back-off has not expired.
    CrashLoopBackOff {
        /// The current back-off delay.
        delay: Duration,
        /// How long until it may start.
        remaining: Duration,
    },
}

impl WaitReason {
    /// The status reason (`CrashLoopBackOff`).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::CrashLoopBackOff { .. } => CRASH_LOOP_BACK_OFF,
        }
    }

    /// The status message, as the kubelet writes it: `back-off 20s
    /// restarting failed container=app pod=web_default(<uid>)`. It names
    /// the delay, not the remaining time, so it does not change every sync.
    pub fn message(&self, pod: &Pod, container: &str) -> String {
        match self {
            Self::CrashLoopBackOff { delay, .. } => format!(
                "back-off {} restarting failed container={container} pod={}_{}({})",
                go_duration(*delay),
                pod.metadata.name,
                pod.metadata.namespace,
                pod.metadata.uid
            ),
        }
    }
}

/// A duration as Go prints one, to the second: `10s`, `5m0s`, `1h0m0s`.
fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        _ => format!("{}h{}m{}s", s / 3600, s % 3600 / 60, s % 60),
    }
}

/// What to do for `pod` now; see the [module documentation](self) for the
/// rules. `liveness_failed` names the running containers whose liveness
/// probe failed. The failures and runs the runtime view shows are recorded
/// into `backoff` first.
pub fn compute_pod_actions(
    pod: &Pod,
    runtime: &RuntimePod,
    backoff: &mut BackOff,
    liveness_failed: &BTreeSet<String>,
    now: SystemTime,
) -> PodActions {
    observe(pod, runtime, backoff);
    let mut plan = Planner { pod, runtime, backoff, now, actions: PodActions::default() };
    plan.compute(liveness_failed);
    plan.actions
}

struct Planner<'a> {
    pod: &'a Pod,
    runtime: &'a RuntimePod,
    backoff: &'a BackOff,
    now: SystemTime,
    actions: PodActions,
}

/// Where the init containers stand.
enum InitProgress<'a> {
    /// All completed (or an app container runs, so they did).
    Done,
    /// One is running.
    Running,
    /// `index` is next; `last` is the instance that decided it (failed or
    /// unknown when it is the one to restart).
    Next { index: usize, last: Option<&'a cri::ContainerStatus> },
}

impl<'a> Planner<'a> {
    fn compute(&mut self, liveness_failed: &BTreeSet<String>) {
        let pod = self.pod;
        let policy = RestartPolicy::of(pod);
        let grace = pod_grace_period(pod);

        if pod.metadata.deletion_timestamp.is_some() {
            self.kill_all(KILL_POD_DELETED, grace);
            return;
        }

        if let Some(attempt) = self.sandbox_change() {
            self.kill_all(KILL_SANDBOX_CHANGED, grace);
            if policy == RestartPolicy::Never && attempt != 0 && !self.runtime.containers.is_empty() {
                // The containers ran in the old sandbox and are not restarted.
                return;
            }
            let to_start: Vec<usize> = (0..pod.spec.containers.len())
                .filter(|&i| {
                    let succeeded = self
                        .runtime
                        .latest(&pod.spec.containers[i].name)
                        .is_some_and(|c| c.state == ContainerState::Exited && c.exit_code == 0);
                    !(policy == RestartPolicy::OnFailure && succeeded)
                })
                .collect();
            if to_start.is_empty() {
                return;
            }
            self.actions.create_sandbox = true;
            self.actions.sandbox_attempt = attempt;
            if pod.spec.init_containers.is_empty() {
                for index in to_start {
                    let reason = self.start_reason(index);
                    self.start_app(index, reason);
                }
            } else {
                self.start_init(0);
            }
            return;
        }

        if !pod.spec.init_containers.is_empty() {
            match self.init_progress() {
                InitProgress::Done => {}
                InitProgress::Running => return,
                InitProgress::Next { index, last } => {
                    let failed = last.is_some_and(init_container_failed);
                    if failed && policy == RestartPolicy::Never {
                        self.actions.init_failed = true;
                        self.kill_all(KILL_INIT_FAILED, grace);
                        return;
                    }
                    if let Some(unknown) = last.filter(|c| c.state == ContainerState::Unknown) {
                        self.kill(unknown, KILL_UNKNOWN_STATE, grace);
                    }
                    self.start_init(index);
                    return;
                }
            }
        }

        let mut keep = 0;
        for (index, spec) in pod.spec.containers.iter().enumerate() {
            let latest = self.runtime.latest(&spec.name);
            match latest {
                Some(running) if running.state == ContainerState::Running => {
                    let changed = spec_hash(running).is_some_and(|h| h != container_hash(spec));
                    if changed {
                        self.kill(running, KILL_SPEC_CHANGED, grace);
                        self.start_now(index, StartReason::SpecChanged);
                    } else if liveness_failed.contains(&spec.name) {
                        let probe_grace = spec
                            .liveness_probe
                            .as_ref()
                            .and_then(|p| p.termination_grace_period_seconds)
                            .map(|s| Duration::from_secs(u64::try_from(s).unwrap_or(0)));
                        self.kill(running, KILL_LIVENESS, probe_grace.unwrap_or(grace));
                        if policy != RestartPolicy::Never {
                            self.start_app(index, StartReason::LivenessFailed);
                        }
                    } else {
                        keep += 1;
                    }
                }
                _ => {
                    let restart = match latest {
                        None => true,
                        Some(c) if c.state == ContainerState::Exited => policy.restarts(c.exit_code),
                        // Created (never got going) or unknown: start anew.
                        Some(_) => true,
                    };
                    if !restart {
                        continue;
                    }
                    if let Some(unknown) = latest.filter(|c| c.state == ContainerState::Unknown) {
                        self.kill(unknown, KILL_UNKNOWN_STATE, grace);
                    }
                    let reason = if latest.is_some() { StartReason::Restart } else { StartReason::New };
                    self.start_app(index, reason);
                }
            }
        }

        if keep == 0 && self.actions.start.is_empty() && self.actions.waiting.is_empty() {
            self.kill_all(KILL_POD_FINISHED, grace);
        }
    }

    /// `Some(attempt)` when a sandbox has to be (re)created.
    fn sandbox_change(&self) -> Option<u32> {
        let Some(latest) = self.runtime.latest_sandbox() else { return Some(0) };
        let next = latest.metadata.attempt.saturating_add(1);
        let ready = self.runtime.sandboxes.iter().filter(|s| s.state == PodSandboxState::Ready).count();
        if ready > 1 || latest.state != PodSandboxState::Ready {
            return Some(next);
        }
        let host_network = self.pod.spec.host_network == Some(true);
        if !host_network && latest.network.as_ref().is_some_and(|n| n.ip.is_empty()) {
            return Some(next);
        }
        None
    }

    /// The kubelet's `findNextInitContainerToRun`, on the instances of the
    /// current sandbox.
    fn init_progress(&self) -> InitProgress<'a> {
        let runtime = self.runtime;
        let spec = &self.pod.spec;
        let app_running =
            spec.containers.iter().any(|c| runtime.latest(&c.name).is_some_and(|s| s.state == ContainerState::Running));
        if app_running {
            return InitProgress::Done;
        }
        let current = |i: usize| runtime.current_instances(&spec.init_containers[i].name).into_iter().next();
        let count = spec.init_containers.len();
        for i in (0..count).rev() {
            if let Some(last) = current(i).filter(|c| init_container_failed(c)) {
                return InitProgress::Next { index: i, last: Some(last) };
            }
        }
        for i in (0..count).rev() {
            let Some(last) = current(i) else { continue };
            match last.state {
                ContainerState::Running => return InitProgress::Running,
                ContainerState::Exited if i + 1 == count => return InitProgress::Done,
                ContainerState::Exited => return InitProgress::Next { index: i + 1, last: None },
                _ => {}
            }
        }
        InitProgress::Next { index: 0, last: None }
    }

    fn start_reason(&self, index: usize) -> StartReason {
        if self.runtime.latest(&self.pod.spec.containers[index].name).is_some() {
            StartReason::Restart
        } else {
            StartReason::New
        }
    }

    /// The back-off of `name`, if it holds the container back now.
    fn held_back(&self, name: &str) -> Option<WaitReason> {
        let key = BackOff::key(&self.pod.metadata.uid, name);
        let until = self.backoff.next_allowed(&key, self.now)?;
        let delay = self.backoff.delay(&key).unwrap_or_default();
        let remaining = until.duration_since(self.now).unwrap_or_default();
        Some(WaitReason::CrashLoopBackOff { delay, remaining })
    }

    fn start_init(&mut self, index: usize) {
        let name = &self.pod.spec.init_containers[index].name;
        match self.held_back(name) {
            Some(wait) => self.actions.waiting.push((name.clone(), wait)),
            None => self.actions.next_init_container = Some(index),
        }
    }

    /// Starts app container `index` unless its back-off holds it back.
    fn start_app(&mut self, index: usize, reason: StartReason) {
        let name = &self.pod.spec.containers[index].name;
        match self.held_back(name) {
            Some(wait) => self.actions.waiting.push((name.clone(), wait)),
            None => self.start_now(index, reason),
        }
    }

    fn start_now(&mut self, index: usize, reason: StartReason) {
        let name = self.pod.spec.containers[index].name.clone();
        let restart_count = next_restart_count(self.runtime, &name);
        self.actions.start.push(ContainerStart { index, name, restart_count, reason });
    }

    fn kill(&mut self, c: &cri::ContainerStatus, reason: &str, grace: Duration) {
        if self.actions.kill.iter().any(|k| k.id == c.id) {
            return;
        }
        let name = container_name(c).to_owned();
        self.actions.kill.push(ContainerKill { id: c.id.clone(), name, reason: reason.to_owned(), grace });
    }

    /// Everything still running goes down: every container instance that
    /// has not exited and every ready sandbox.
    fn kill_all(&mut self, reason: &str, grace: Duration) {
        let runtime = self.runtime;
        for c in runtime.containers.iter().filter(|c| c.state != ContainerState::Exited) {
            self.kill(c, reason, grace);
        }
        self.actions.kill_sandbox_ids = runtime.ready_sandbox_ids();
        self.actions.kill_pod = !self.actions.kill.is_empty() || !self.actions.kill_sandbox_ids.is_empty();
    }
}

/// The kubelet's `isInitContainerFailed`: exited with a code other than 0,
/// or in an unknown state.
fn init_container_failed(c: &cri::ContainerStatus) -> bool {
    match c.state {
        ContainerState::Exited => c.exit_code != 0,
        ContainerState::Unknown => true,
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// Test fixtures (shared with the status tests)
// ---------------------------------------------------------------------------

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use k_netplugin::cri::{ContainerMetadata, ImageSpec, PodSandboxMetadata, PodSandboxNetworkStatus};

    /// Seconds since the epoch of the fixtures' time 0.
    pub(crate) const BASE: u64 = 1_700_000_000;

    /// Time `s` seconds after the fixtures' time 0.
    pub(crate) fn at(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(BASE + s)
    }

    /// The same as CRI nanoseconds.
    pub(crate) fn ns(s: u64) -> i64 {
        i64::try_from((BASE + s) * 1_000_000_000).unwrap()
    }

    /// A pod `default/web` (uid `uid-1`) with the policy and containers.
    pub(crate) fn pod(policy: &str, init: &[&str], apps: &[&str]) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.name = "web".into();
        pod.metadata.namespace = "default".into();
        pod.metadata.uid = "uid-1".into();
        pod.spec.restart_policy = Some(policy.into());
        pod.spec.init_containers = init.iter().map(|n| Container::new(*n, "busybox:1.36")).collect();
        pod.spec.containers = apps.iter().map(|n| Container::new(*n, "nginx:1.27")).collect();
        pod
    }

    /// A sandbox with IP `10.1.0.5` when ready.
    pub(crate) fn sandbox(id: &str, attempt: u32, ready: bool, created: u64) -> cri::PodSandboxStatus {
        cri::PodSandboxStatus {
            id: id.into(),
            metadata: PodSandboxMetadata {
                name: "web".into(),
                uid: "uid-1".into(),
                namespace: "default".into(),
                attempt,
            },
            state: if ready { PodSandboxState::Ready } else { PodSandboxState::NotReady },
            created_at: ns(created),
            network: ready.then(|| PodSandboxNetworkStatus { ip: "10.1.0.5".into(), additional_ips: vec![] }),
            labels: Labels::new(),
            annotations: Labels::new(),
        }
    }

    fn spec<'p>(pod: &'p Pod, name: &str) -> &'p Container {
        pod.spec.init_containers.iter().chain(&pod.spec.containers).find(|c| c.name == name).unwrap()
    }

    /// A container instance of `pod`, created at `created`, labelled as
    /// the worker labels it.
    pub(crate) fn instance(pod: &Pod, name: &str, id: &str, restarts: u32, created: u64) -> cri::ContainerStatus {
        let spec = spec(pod, name);
        cri::ContainerStatus {
            id: id.into(),
            metadata: ContainerMetadata { name: name.into(), attempt: restarts },
            state: ContainerState::Created,
            created_at: ns(created),
            image: ImageSpec { image: spec.image.clone().unwrap_or_default() },
            image_ref: format!("sha256:{name}"),
            labels: container_labels(pod, spec, restarts),
            ..Default::default()
        }
    }

    /// A running instance, started at `created`.
    pub(crate) fn running(pod: &Pod, name: &str, id: &str, restarts: u32, created: u64) -> cri::ContainerStatus {
        let mut c = instance(pod, name, id, restarts, created);
        c.state = ContainerState::Running;
        c.started_at = ns(created);
        c
    }

    /// An exited instance, started at `created`, finished at `finished`.
    pub(crate) fn exited(
        pod: &Pod,
        name: &str,
        id: &str,
        restarts: u32,
        created: u64,
        finished: u64,
        code: i32,
    ) -> cri::ContainerStatus {
        let mut c = running(pod, name, id, restarts, created);
        c.state = ContainerState::Exited;
        c.finished_at = ns(finished);
        c.exit_code = code;
        c.reason = if code == 0 { "Completed" } else { "Error" }.into();
        c
    }

    /// A runtime view.
    pub(crate) fn runtime(sandboxes: Vec<cri::PodSandboxStatus>, containers: Vec<cri::ContainerStatus>) -> RuntimePod {
        RuntimePod { sandboxes, containers }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use k_api_types::core::v1::Probe;
    use k_api_types::meta::Time;

    fn none() -> BTreeSet<String> {
        BTreeSet::new()
    }

    fn actions(pod: &Pod, rt: &RuntimePod, now: u64) -> PodActions {
        compute_pod_actions(pod, rt, &mut BackOff::default(), &none(), at(now))
    }

    fn started(a: &PodActions) -> Vec<(&str, u32, StartReason)> {
        a.start.iter().map(|s| (s.name.as_str(), s.restart_count, s.reason)).collect()
    }

    fn killed(a: &PodActions) -> Vec<(&str, &str)> {
        a.kill.iter().map(|k| (k.id.as_str(), k.reason.as_str())).collect()
    }

    #[test]
    fn first_sync_creates_a_sandbox_and_starts_every_container() {
        let pod = pod("Always", &[], &["a", "b"]);
        let a = actions(&pod, &RuntimePod::default(), 0);
        assert!(a.create_sandbox);
        assert_eq!(a.sandbox_attempt, 0);
        assert!(!a.kill_pod && a.kill.is_empty() && a.kill_sandbox_ids.is_empty());
        assert_eq!(started(&a), [("a", 0, StartReason::New), ("b", 0, StartReason::New)]);
        assert_eq!(a.start[1].index, 1);
    }

    #[test]
    fn steady_state_does_nothing() {
        let pod = pod("Always", &[], &["a"]);
        let rt = runtime(vec![sandbox("s1", 0, true, 0)], vec![running(&pod, "a", "c1", 0, 1)]);
        let a = actions(&pod, &rt, 100);
        assert!(a.is_empty(), "{a:?}");
    }

    #[test]
    fn a_dead_sandbox_is_replaced_and_its_containers_killed() {
        let pod = pod("Always", &[], &["a"]);
        let rt = runtime(vec![sandbox("s1", 2, false, 0)], vec![running(&pod, "a", "c1", 0, 1)]);
        let a = actions(&pod, &rt, 100);
        assert!(a.create_sandbox && a.kill_pod);
        assert_eq!(a.sandbox_attempt, 3);
        assert_eq!(killed(&a), [("c1", KILL_SANDBOX_CHANGED)]);
        assert_eq!(a.kill[0].grace, DEFAULT_TERMINATION_GRACE);
        assert!(a.kill_sandbox_ids.is_empty(), "a sandbox that is not ready is not stopped again");
        assert_eq!(started(&a), [("a", 1, StartReason::Restart)]);
    }

    #[test]
    fn a_sandbox_that_lost_its_ip_or_a_second_ready_one_means_a_new_sandbox() {
        let pod = pod("Always", &[], &["a"]);
        let mut lost = sandbox("s1", 0, true, 0);
        lost.network.as_mut().unwrap().ip.clear();
        let rt = runtime(vec![lost.clone()], vec![running(&pod, "a", "c1", 0, 1)]);
        let a = actions(&pod, &rt, 100);
        assert!(a.create_sandbox && a.kill_pod);
        assert_eq!((a.sandbox_attempt, a.kill_sandbox_ids.clone()), (1, vec!["s1".to_owned()]));

        // A host-network pod has no IP of its own: nothing to do.
        let mut host = pod.clone();
        host.spec.host_network = Some(true);
        let h = actions(&host, &rt, 100);
        assert!(h.is_empty(), "{h:?}");

        let rt = runtime(vec![sandbox("s1", 0, true, 0), sandbox("s2", 1, true, 5)], vec![]);
        let a = actions(&pod, &rt, 100);
        assert!(a.create_sandbox);
        assert_eq!(a.sandbox_attempt, 2);
        assert_eq!(a.kill_sandbox_ids, ["s1", "s2"]);
    }

    #[test]
    fn finished_pods_get_no_new_sandbox() {
        // Never, containers ran: done.
        let never = pod("Never", &[], &["a", "b"]);
        let rt = runtime(
            vec![sandbox("s1", 0, false, 0)],
            vec![exited(&never, "a", "c1", 0, 1, 5, 0), exited(&never, "b", "c2", 0, 1, 6, 1)],
        );
        let a = actions(&never, &rt, 100);
        assert!(!a.create_sandbox && a.start.is_empty());
        assert!(!a.kill_pod, "nothing left to stop");

        // OnFailure, all succeeded: done.
        let on_failure = pod("OnFailure", &["init"], &["a", "b"]);
        let rt = runtime(
            vec![sandbox("s1", 0, false, 0)],
            vec![exited(&on_failure, "a", "c1", 0, 1, 5, 0), exited(&on_failure, "b", "c2", 0, 1, 6, 0)],
        );
        assert!(!actions(&on_failure, &rt, 100).create_sandbox);

        // OnFailure, one failed: a new sandbox, init containers first.
        let rt = runtime(
            vec![sandbox("s1", 0, false, 0)],
            vec![exited(&on_failure, "a", "c1", 0, 1, 5, 0), exited(&on_failure, "b", "c2", 0, 1, 6, 2)],
        );
        let a = actions(&on_failure, &rt, 100);
        assert!(a.create_sandbox);
        assert_eq!(a.next_init_container, Some(0));
        assert!(a.start.is_empty());

        // Without init containers, only the failed one starts again.
        let plain = pod("OnFailure", &[], &["a", "b"]);
        let rt = runtime(
            vec![sandbox("s1", 0, false, 0)],
            vec![exited(&plain, "a", "c1", 0, 1, 5, 0), exited(&plain, "b", "c2", 0, 1, 6, 2)],
        );
        let a = actions(&plain, &rt, 100);
        assert_eq!(started(&a), [("b", 1, StartReason::Restart)]);
    }

    #[test]
    fn init_containers_run_one_at_a_time_in_order() {
        let pod = pod("Always", &["i0", "i1"], &["a"]);
        let s = || sandbox("s1", 0, true, 0);

        let a = actions(&pod, &runtime(vec![], vec![]), 0);
        assert_eq!((a.create_sandbox, a.next_init_container), (true, Some(0)));
        assert!(a.start.is_empty());

        let a = actions(&pod, &runtime(vec![s()], vec![]), 1);
        assert_eq!(a.next_init_container, Some(0));

        let a = actions(&pod, &runtime(vec![s()], vec![running(&pod, "i0", "c1", 0, 1)]), 2);
        assert!(a.is_empty(), "waits for i0: {a:?}");

        let rt = runtime(vec![s()], vec![exited(&pod, "i0", "c1", 0, 1, 3, 0)]);
        let a = actions(&pod, &rt, 4);
        assert_eq!(a.next_init_container, Some(1));
        assert!(a.start.is_empty());

        let rt = runtime(vec![s()], vec![exited(&pod, "i0", "c1", 0, 1, 3, 0), exited(&pod, "i1", "c2", 0, 4, 5, 0)]);
        let a = actions(&pod, &rt, 6);
        assert_eq!(a.next_init_container, None);
        assert_eq!(started(&a), [("a", 0, StartReason::New)]);

        // Init containers removed by GC while the app runs: still done.
        let rt = runtime(vec![s()], vec![running(&pod, "a", "c3", 0, 6)]);
        assert!(actions(&pod, &rt, 7).is_empty());

        // Init containers of an older sandbox do not count in a new one.
        let rt = runtime(
            vec![sandbox("s0", 0, false, 0), sandbox("s1", 1, true, 10)],
            vec![exited(&pod, "i0", "c1", 0, 1, 3, 0), exited(&pod, "i1", "c2", 0, 4, 5, 0)],
        );
        assert_eq!(actions(&pod, &rt, 11).next_init_container, Some(0));
    }

    #[test]
    fn a_failed_init_container_fails_the_pod_under_never() {
        let pod = pod("Never", &["i0", "i1"], &["a"]);
        let rt = runtime(vec![sandbox("s1", 0, true, 0)], vec![exited(&pod, "i0", "c1", 0, 1, 3, 1)]);
        let a = actions(&pod, &rt, 4);
        assert!(a.init_failed && a.kill_pod);
        assert_eq!(a.kill_sandbox_ids, ["s1"]);
        assert!(a.next_init_container.is_none() && a.start.is_empty());
    }

    #[test]
    fn a_failed_init_container_is_retried_after_its_back_off() {
        for policy in ["Always", "OnFailure"] {
            let pod = pod(policy, &["i0", "i1"], &["a"]);
            let rt = runtime(
                vec![sandbox("s1", 0, true, 0)],
                vec![exited(&pod, "i0", "c1", 0, 1, 2, 0), exited(&pod, "i1", "c2", 0, 3, 4, 1)],
            );
            let mut backoff = BackOff::default();
            // The first failure: retried at once.
            let a = compute_pod_actions(&pod, &rt, &mut backoff, &none(), at(5));
            assert!(!a.init_failed && !a.kill_pod);
            assert!(a.waiting.is_empty(), "{policy}: {a:?}");
            assert_eq!(a.next_init_container, Some(1), "{policy}");
            assert_eq!(next_restart_count(&rt, "i1"), 1);

            // The retry fails too: 10 s from its failure.
            let mut rt = rt;
            rt.containers.push(exited(&pod, "i1", "c3", 1, 5, 6, 1));
            let a = compute_pod_actions(&pod, &rt, &mut backoff, &none(), at(7));
            assert!(!a.init_failed && !a.kill_pod);
            assert_eq!(a.next_init_container, None);
            let remaining = Duration::from_secs(9);
            let want = WaitReason::CrashLoopBackOff { delay: BackOff::INITIAL, remaining };
            assert_eq!(a.waiting, [("i1".to_owned(), want)], "{policy}");
            let a = compute_pod_actions(&pod, &rt, &mut backoff, &none(), at(15));
            assert_eq!(a.next_init_container, None, "{policy}: 1 s left");
            let a = compute_pod_actions(&pod, &rt, &mut backoff, &none(), at(16));
            assert_eq!(a.next_init_container, Some(1), "{policy}");
            assert_eq!(next_restart_count(&rt, "i1"), 2);
        }
    }

    #[test]
    fn exited_containers_follow_the_restart_policy() {
        let cases = [
            ("Always", 0, true),
            ("Always", 1, true),
            ("OnFailure", 0, false),
            ("OnFailure", 1, true),
            ("Never", 0, false),
            ("Never", 1, false),
        ];
        for (policy, code, restarts) in cases {
            let pod = pod(policy, &[], &["a", "b"]);
            let rt = runtime(
                vec![sandbox("s1", 0, true, 0)],
                vec![exited(&pod, "a", "c1", 0, 1, 2, code), running(&pod, "b", "c2", 0, 1)],
            );
            // Long after the failure: the back-off is over.
            let a = actions(&pod, &rt, 1000);
            let want: &[(&str, u32, StartReason)] = if restarts { &[("a", 1, StartReason::Restart)] } else { &[] };
            assert_eq!(started(&a), want, "{policy} exit {code}");
            assert!(!a.kill_pod, "b still runs");
        }
    }

    #[test]
    fn a_pod_whose_containers_all_finished_goes_down() {
        let pod = pod("OnFailure", &[], &["a"]);
        let rt = runtime(vec![sandbox("s1", 0, true, 0)], vec![exited(&pod, "a", "c1", 0, 1, 2, 0)]);
        let a = actions(&pod, &rt, 3);
        assert!(a.kill_pod && !a.create_sandbox && a.start.is_empty());
        assert_eq!(a.kill_sandbox_ids, ["s1"]);
    }

    #[test]
    fn crash_loops_wait_for_their_back_off() {
        let pod = pod("Always", &[], &["a"]);
        let s = sandbox("s1", 0, true, 0);
        let mut backoff = BackOff::default();
        let mut rt = runtime(vec![s], vec![exited(&pod, "a", "c1", 0, 1, 2, 1)]);
        // The first failure: restarted at once.
        let a = compute_pod_actions(&pod, &rt, &mut backoff, &none(), at(2));
        assert!(a.waiting.is_empty() && a.waiting_entries(&pod).is_empty(), "{a:?}");
        assert_eq!(started(&a), [("a", 1, StartReason::Restart)]);
        assert!(!a.kill_pod);
        // Same inputs: same answer (the failure is not counted twice).
        assert_eq!(compute_pod_actions(&pod, &rt, &mut backoff, &none(), at(2)), a);

        // The restart crashes after 1 s: 10 s this time.
        rt.containers.push(exited(&pod, "a", "c2", 1, 2, 3, 1));
        let a = compute_pod_actions(&pod, &rt, &mut backoff, &none(), at(3));
        let want = WaitReason::CrashLoopBackOff { delay: Duration::from_secs(10), remaining: Duration::from_secs(10) };
        assert_eq!(a.waiting, [("a".to_owned(), want)]);
        assert!(a.start.is_empty() && !a.kill_pod, "a crash loop does not take the pod down");
        let entries = a.waiting_entries(&pod);
        assert_eq!(entries[0].1, "CrashLoopBackOff");
        assert_eq!(entries[0].2, "back-off 10s restarting failed container=a pod=web_default(uid-1)");

        // Same inputs: same answer (the failure is not counted twice).
        assert_eq!(compute_pod_actions(&pod, &rt, &mut backoff, &none(), at(3)), a);
        let a = compute_pod_actions(&pod, &rt, &mut backoff, &none(), at(12));
        let want = WaitReason::CrashLoopBackOff { delay: Duration::from_secs(10), remaining: Duration::from_secs(1) };
        assert_eq!(a.waiting, [("a".to_owned(), want)]);
        let a = compute_pod_actions(&pod, &rt, &mut backoff, &none(), at(13));
        assert_eq!(started(&a), [("a", 2, StartReason::Restart)]);

        // That restart crashes after 1 s: 20 s this time.
        rt.containers.push(exited(&pod, "a", "c3", 2, 13, 14, 1));
        let a = compute_pod_actions(&pod, &rt, &mut backoff, &none(), at(14));
        let want = WaitReason::CrashLoopBackOff { delay: Duration::from_secs(20), remaining: Duration::from_secs(20) };
        assert_eq!(a.waiting, [("a".to_owned(), want)]);
        assert_eq!(a.waiting_entries(&pod)[0].2, "back-off 20s restarting failed container=a pod=web_default(uid-1)");
        let a = compute_pod_actions(&pod, &rt, &mut backoff, &none(), at(34));
        assert_eq!(started(&a), [("a", 3, StartReason::Restart)]);
    }

    #[test]
    fn back_off_doubles_to_five_minutes_and_resets_after_ten_minutes_of_running() {
        let key = BackOff::key("uid-1", "a");
        assert_eq!(key, "uid-1/a");
        let mut b = BackOff::default();
        assert_eq!(b.next_allowed(&key, at(0)), None);
        let mut t = 0;
        let mut delays = Vec::new();
        assert_eq!(b.delay(&key), None);
        for _ in 0..9 {
            b.record_failure(&key, at(t));
            let delay = b.delay(&key).unwrap();
            delays.push(delay.as_secs());
            if delay.is_zero() {
                assert_eq!(b.next_allowed(&key, at(t)), None, "restarted at once");
            } else {
                assert_eq!(b.next_allowed(&key, at(t)), Some(at(t + delay.as_secs())));
                assert_eq!(b.next_allowed(&key, at(t + delay.as_secs() - 1)), Some(at(t + delay.as_secs())));
            }
            assert_eq!(b.next_allowed(&key, at(t + delay.as_secs())), None);
            // Restarted when allowed, crashes 5 s later.
            t += delay.as_secs();
            b.record_running(&key, at(t));
            t += 5;
        }
        assert_eq!(delays, [0, 10, 20, 40, 80, 160, 300, 300, 300]);

        // A run just short of 10 min: still capped. A 10 min run: reset,
        // restarted at once, and the failure after waits 10 s again.
        b.record_failure(&key, at(t));
        t += 300;
        b.record_running(&key, at(t));
        b.record_failure(&key, at(t + 599));
        assert_eq!(b.delay(&key), Some(Duration::from_secs(300)));
        t += 599 + 300;
        b.record_running(&key, at(t));
        t += 600;
        b.record_failure(&key, at(t));
        assert_eq!(b.delay(&key), Some(Duration::ZERO));
        assert_eq!(b.next_allowed(&key, at(t)), None);
        b.record_running(&key, at(t));
        b.record_failure(&key, at(t + 5));
        assert_eq!(b.delay(&key), Some(Duration::from_secs(10)));
        assert_eq!(b.next_allowed(&key, at(t + 5)), Some(at(t + 15)));

        // A stale run (before the last failure) does not count: counted,
        // its 699 s (50 to 749) would reset.
        let mut b = BackOff::default();
        b.record_failure(&key, at(100));
        b.record_failure(&key, at(150));
        assert_eq!(b.delay(&key), Some(Duration::from_secs(10)));
        b.record_running(&key, at(50));
        b.record_failure(&key, at(749));
        assert_eq!(b.delay(&key), Some(Duration::from_secs(20)), "599 s after the last failure");
        b.record_failure(&key, at(749));
        assert_eq!(b.delay(&key), Some(Duration::from_secs(20)), "the same failure twice");
        b.record_failure(&key, at(700));
        assert_eq!(b.delay(&key), Some(Duration::from_secs(20)), "an older failure");
        b.record_failure(&key, at(1349));
        assert_eq!(b.delay(&key), Some(Duration::ZERO), "10 min after the last failure");
        b.record_failure(&key, at(1354));
        assert_eq!(b.delay(&key), Some(Duration::from_secs(10)));
    }

    #[test]
    fn back_off_gc_and_forget() {
        let mut b = BackOff::default();
        b.record_failure("p1/a", at(0));
        b.record_failure("p1/b", at(500));
        b.record_failure("p2/a", at(495));
        b.record_failure("p2/a", at(500));
        b.gc(at(599));
        assert_eq!(b.len(), 3);
        b.gc(at(600));
        assert_eq!(b.len(), 2, "p1/a failed 10 min ago");
        assert_eq!(b.delay("p1/a"), None);
        b.forget_pod("p1");
        assert_eq!(b.len(), 1);
        assert_eq!(b.delay("p1/b"), None);
        assert_eq!(b.next_allowed("p2/a", at(505)), Some(at(510)));
        b.forget_pod("p2");
        assert!(b.is_empty());
    }

    #[test]
    fn a_changed_spec_restarts_the_container_without_back_off() {
        let old = pod("Never", &[], &["a", "b"]);
        let mut new = old.clone();
        new.spec.containers[0].image = Some("nginx:1.28".into());
        let rt = runtime(
            vec![sandbox("s1", 0, true, 0)],
            vec![
                exited(&old, "a", "c0", 0, 1, 2, 1),
                exited(&old, "a", "c1", 1, 2, 3, 1),
                running(&old, "a", "c3", 2, 4),
                running(&old, "b", "c2", 0, 1),
            ],
        );
        let mut backoff = BackOff::default();
        // c0's and c1's failures put "a" in back-off until 13; the spec
        // change ignores it.
        let a = compute_pod_actions(&new, &rt, &mut backoff, &none(), at(5));
        assert_eq!(backoff.next_allowed("uid-1/a", at(5)), Some(at(13)));
        assert_eq!(killed(&a), [("c3", KILL_SPEC_CHANGED)]);
        assert_eq!(started(&a), [("a", 3, StartReason::SpecChanged)]);
        assert!(a.waiting.is_empty() && !a.kill_pod);
        assert!(compute_pod_actions(&old, &rt, &mut backoff, &none(), at(5)).is_empty());
    }

    #[test]
    fn liveness_failures_kill_and_restart_per_policy() {
        let mut pod = pod("Always", &[], &["a", "b"]);
        pod.spec.termination_grace_period_seconds = Some(20);
        let probe = Probe { termination_grace_period_seconds: Some(5), ..Default::default() };
        pod.spec.containers[1].liveness_probe = Some(Box::new(probe));
        let rt = runtime(
            vec![sandbox("s1", 0, true, 0)],
            vec![running(&pod, "a", "c1", 0, 1), running(&pod, "b", "c2", 0, 1)],
        );
        let failed = BTreeSet::from(["a".to_owned(), "b".to_owned()]);
        let a = compute_pod_actions(&pod, &rt, &mut BackOff::default(), &failed, at(100));
        assert_eq!(killed(&a), [("c1", KILL_LIVENESS), ("c2", KILL_LIVENESS)]);
        let graces: Vec<_> = a.kill.iter().map(|k| k.grace.as_secs()).collect();
        assert_eq!(graces, [20, 5], "the probe's grace period wins");
        assert_eq!(started(&a), [("a", 1, StartReason::LivenessFailed), ("b", 1, StartReason::LivenessFailed)]);

        // Never: killed, not restarted; with nothing left the pod goes down.
        let mut never = pod.clone();
        never.spec.restart_policy = Some("Never".into());
        let one = BTreeSet::from(["a".to_owned()]);
        let a = compute_pod_actions(&never, &rt, &mut BackOff::default(), &one, at(100));
        assert_eq!(killed(&a), [("c1", KILL_LIVENESS)]);
        assert!(a.start.is_empty() && !a.kill_pod);
        let a = compute_pod_actions(&never, &rt, &mut BackOff::default(), &failed, at(100));
        assert!(a.kill_pod);
        assert_eq!(a.kill_sandbox_ids, ["s1"]);
        assert_eq!(a.kill.len(), 2);
    }

    #[test]
    fn deletion_kills_everything_with_the_grace_period_and_creates_nothing() {
        let mut pod = pod("Always", &[], &["a", "b"]);
        pod.metadata.deletion_timestamp = Some(Time::from_unix(1_700_000_050).unwrap());
        pod.metadata.deletion_grace_period_seconds = Some(10);
        let rt = runtime(
            vec![sandbox("s1", 0, true, 0)],
            vec![running(&pod, "a", "c1", 0, 1), exited(&pod, "b", "c2", 0, 1, 2, 1)],
        );
        let a = actions(&pod, &rt, 100);
        assert!(a.kill_pod && !a.create_sandbox && a.start.is_empty() && a.waiting.is_empty());
        assert_eq!(killed(&a), [("c1", KILL_POD_DELETED)]);
        assert_eq!(a.kill[0].grace, Duration::from_secs(10));
        assert_eq!(a.kill_sandbox_ids, ["s1"]);

        pod.metadata.deletion_grace_period_seconds = None;
        assert_eq!(pod_grace_period(&pod), DEFAULT_TERMINATION_GRACE);
        pod.spec.termination_grace_period_seconds = Some(3);
        assert_eq!(actions(&pod, &rt, 100).kill[0].grace, Duration::from_secs(3));

        // Nothing there: nothing to do, not even a sandbox.
        let a = actions(&pod, &RuntimePod::default(), 100);
        assert!(a.is_empty(), "{a:?}");
    }

    #[test]
    fn unknown_and_created_containers_are_started_anew() {
        let pod = pod("Never", &[], &["a", "b"]);
        let mut unknown = running(&pod, "a", "c1", 0, 1);
        unknown.state = ContainerState::Unknown;
        let created = instance(&pod, "b", "c2", 0, 1);
        let rt = runtime(vec![sandbox("s1", 0, true, 0)], vec![unknown, created]);
        let a = actions(&pod, &rt, 5);
        assert_eq!(killed(&a), [("c1", KILL_UNKNOWN_STATE)]);
        assert_eq!(started(&a), [("a", 1, StartReason::Restart), ("b", 1, StartReason::Restart)]);
    }

    #[test]
    fn labels_and_hashes() {
        let pod = pod("Always", &[], &["a"]);
        let c = &pod.spec.containers[0];
        let labels = container_labels(&pod, c, 3);
        assert_eq!(labels[POD_UID_LABEL], "uid-1");
        assert_eq!(labels[POD_NAME_LABEL], "web");
        assert_eq!(labels[POD_NAMESPACE_LABEL], "default");
        assert_eq!(labels[CONTAINER_NAME_LABEL], "a");
        assert_eq!(labels[RESTART_COUNT_LABEL], "3");
        let hash = container_hash(c);
        assert_eq!(labels[CONTAINER_HASH_LABEL], hash);
        assert_eq!(hash.len(), 16);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(hash, container_hash(&c.clone()));
        let mut other = c.clone();
        other.args = vec!["-v".into()];
        assert_ne!(container_hash(&other), hash);

        // Read back from labels, else annotations, else CRI metadata.
        let mut s = running(&pod, "a", "c1", 3, 1);
        assert_eq!((container_name(&s), restart_count(&s), spec_hash(&s)), ("a", 3, Some(hash.as_str())));
        let moved: Vec<_> = [CONTAINER_HASH_LABEL, RESTART_COUNT_LABEL]
            .iter()
            .map(|k| (k.to_string(), s.labels.remove(*k).unwrap()))
            .collect();
        s.annotations.extend(moved);
        assert_eq!((restart_count(&s), spec_hash(&s)), (3, Some(hash.as_str())));
        s.labels.clear();
        s.annotations.clear();
        assert_eq!((container_name(&s), restart_count(&s), spec_hash(&s)), ("a", 3, None));
        assert_eq!(go_duration(Duration::from_secs(300)), "5m0s");
        assert_eq!(go_duration(Duration::from_secs(3725)), "1h2m5s");
    }
}
