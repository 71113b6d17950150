//! What to report for one pod: the kubelet's `generateAPIPodStatus`, as a
//! pure function.
//!
//! [`pod_status`] builds the [`PodStatus`] from the pod (spec and the
//! status last written), the runtime's view ([`RuntimePod`]), the probe
//! results ([`ProbeResults`]), the containers held back (the waiting
//! entries of [`PodActions`](super::actions::PodActions)), the node's
//! addresses and the time:
//!
//! - `phase` by the kubelet's `getPhase` rules: `Failed` once an init
//!   container failed under `Never`; `Pending` while initializing or while
//!   a container waits to be created; `Running` once every container was
//!   started and one runs (or, under `Always`, all are restarting);
//!   `Succeeded` or `Failed` once all stopped and none is restarted. A
//!   terminal phase is never left.
//! - conditions `Initialized`, `Ready`, `ContainersReady` and
//!   `PodScheduled`, with the kubelet's reasons and messages; each keeps
//!   its `lastTransitionTime` while its status stays the same; other
//!   conditions (readiness gates, disruption) are kept as they were.
//! - `initContainerStatuses` and `containerStatuses` in spec order: state,
//!   `lastState` (the previous instance), `ready`, `started`,
//!   `restartCount`, `image`, `imageID`, `containerID` (`k://<id>`).
//! - `podIP`/`podIPs` from the ready sandbox (the node's for host-network
//!   pods, the last known once the pod is terminal), `hostIP`/`hostIPs`,
//!   `startTime` (kept once set) and `qosClass` ([`qos_class`]).
//!
//! [`status_changed`] tells whether a new status is worth writing.

use std::collections::BTreeMap;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use k_api_types::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus,
    HostIP, Pod, PodCondition, PodIP, PodStatus, ResourceRequirements,
};
use k_api_types::meta::Time;
use k_api_types::quantity::Quantity;
use k_netplugin::cri;

use super::actions::{RestartPolicy, RuntimePod, cri_time, restart_count};

/// The scheme of container ids in the status (`k://<id>`).
pub const CONTAINER_ID_SCHEME: &str = "k";

/// Phase: accepted, not all containers running yet.
pub const PHASE_PENDING: &str = "Pending";
/// Phase: bound, every container started, one running or restarting.
pub const PHASE_RUNNING: &str = "Running";
/// Phase: every container ended with success and none is restarted.
pub const PHASE_SUCCEEDED: &str = "Succeeded";
/// Phase: every container ended, one with a failure, none is restarted.
pub const PHASE_FAILED: &str = "Failed";

/// Condition: the pod was scheduled.
pub const POD_SCHEDULED: &str = "PodScheduled";
/// Condition: every init container completed.
pub const INITIALIZED: &str = "Initialized";
/// Condition: every app container is ready.
pub const CONTAINERS_READY: &str = "ContainersReady";
/// Condition: the pod can serve (containers ready, readiness gates met).
pub const READY: &str = "Ready";

/// Waiting reason: the container is being created.
pub const CONTAINER_CREATING: &str = "ContainerCreating";
/// Waiting reason: the init containers have not completed.
pub const POD_INITIALIZING: &str = "PodInitializing";
/// Waiting reason: the runtime does not know the container's state.
pub const CONTAINER_STATUS_UNKNOWN: &str = "ContainerStatusUnknown";
/// Condition reason: some containers are not ready.
pub const CONTAINERS_NOT_READY: &str = "ContainersNotReady";
/// Condition reason: some init containers have not completed.
pub const CONTAINERS_NOT_INITIALIZED: &str = "ContainersNotInitialized";
/// Condition reason: the pod succeeded.
pub const POD_COMPLETED: &str = "PodCompleted";
/// Condition reason: the pod failed.
pub const POD_FAILED: &str = "PodFailed";
/// Condition reason: a readiness gate's condition is not `True`.
pub const READINESS_GATES_NOT_READY: &str = "ReadinessGatesNotReady";

/// QoS class: every container has equal CPU and memory requests and limits.
pub const QOS_GUARANTEED: &str = "Guaranteed";
/// QoS class: some requests or limits, not guaranteed.
pub const QOS_BURSTABLE: &str = "Burstable";
/// QoS class: no CPU or memory requests or limits at all.
pub const QOS_BEST_EFFORT: &str = "BestEffort";

const KUBELET_CONDITIONS: [&str; 4] = [INITIALIZED, READY, CONTAINERS_READY, POD_SCHEDULED];

/// The latest probe results, by container name: `true` for success. A
/// container with a probe and no result yet counts as failing it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProbeResults {
    /// Readiness probe results.
    pub readiness: BTreeMap<String, bool>,
    /// Startup probe results.
    pub startup: BTreeMap<String, bool>,
}

/// A runtime container id as the status writes it: `k://<id>`.
pub fn container_id(id: &str) -> String {
    format!("{CONTAINER_ID_SCHEME}://{id}")
}

fn time(t: SystemTime) -> Time {
    Time(DateTime::<Utc>::from(t))
}

fn cri_timestamp(ns: i64) -> Option<Time> {
    cri_time(ns).map(time)
}

/// The status of `pod` now. `waiting` names the containers held back
/// (name, reason, message: [`PodActions::waiting_entries`]); `host_ips`
/// are the node's addresses, primary first.
///
/// [`PodActions::waiting_entries`]: super::actions::PodActions::waiting_entries
pub fn pod_status(
    pod: &Pod,
    runtime: &RuntimePod,
    probes: &ProbeResults,
    waiting: &[(String, String, String)],
    host_ips: &[String],
    now: SystemTime,
) -> PodStatus {
    let empty = PodStatus::default();
    let old = pod.status.as_ref().unwrap_or(&empty);
    let now = time(now);
    let held = |name: &str| waiting.iter().find(|(n, ..)| n == name).map(|(_, r, m)| (r.as_str(), m.as_str()));
    let spec = &pod.spec;

    // Init containers are judged on the current sandbox's instances: a new
    // sandbox runs them all again.
    let init_statuses: Vec<ContainerStatus> = spec
        .init_containers
        .iter()
        .map(|c| {
            let view = Convert {
                instances: &runtime.current_instances(&c.name),
                old: old.init_container_statuses.iter().find(|s| s.name == c.name),
                default_reason: POD_INITIALIZING,
                init: true,
                waiting: held(&c.name),
            };
            view.status(c, probes)
        })
        .collect();
    let app_ran = spec.containers.iter().any(|c| {
        runtime
            .latest(&c.name)
            .is_some_and(|i| matches!(i.state, cri::ContainerState::Running | cri::ContainerState::Exited))
    });
    let initialized = app_ran || init_statuses.iter().all(completed);
    let app_default = if initialized { CONTAINER_CREATING } else { POD_INITIALIZING };
    let statuses: Vec<ContainerStatus> = spec
        .containers
        .iter()
        .map(|c| {
            let view = Convert {
                instances: &runtime.instances(&c.name),
                old: old.container_statuses.iter().find(|s| s.name == c.name),
                default_reason: app_default,
                init: false,
                waiting: held(&c.name),
            };
            view.status(c, probes)
        })
        .collect();

    let deleting = pod.metadata.deletion_timestamp.is_some();
    let stopped = runtime.containers.iter().all(|c| c.state == cri::ContainerState::Exited);
    let mut phase = get_phase(pod, &init_statuses, &statuses, deleting && stopped);
    if let Some(kept) = old.phase.as_deref().filter(|p| *p == PHASE_SUCCEEDED || *p == PHASE_FAILED) {
        phase = if kept == PHASE_SUCCEEDED { PHASE_SUCCEEDED } else { PHASE_FAILED };
    }

    let conditions = conditions(pod, old, &init_statuses, &statuses, phase, &now);

    let mut pod_ips = if spec.host_network == Some(true) { host_ips.to_vec() } else { runtime.pod_ips() };
    let terminal = phase == PHASE_SUCCEEDED || phase == PHASE_FAILED;
    if pod_ips.is_empty() && (terminal || deleting) {
        pod_ips = old.pod_ips.iter().map(|p| p.ip.clone()).collect();
        if pod_ips.is_empty() {
            pod_ips.extend(old.pod_ip.clone());
        }
    }

    PodStatus {
        phase: Some(phase.to_owned()),
        conditions,
        message: old.message.clone(),
        reason: old.reason.clone(),
        nominated_node_name: old.nominated_node_name.clone(),
        host_ip: host_ips.first().cloned(),
        host_ips: host_ips.iter().map(|ip| HostIP { ip: ip.clone() }).collect(),
        pod_ip: pod_ips.first().cloned(),
        pod_ips: pod_ips.into_iter().map(|ip| PodIP { ip }).collect(),
        start_time: Some(old.start_time.unwrap_or(now)),
        init_container_statuses: init_statuses,
        container_statuses: statuses,
        qos_class: Some(qos_class(pod).to_owned()),
        ephemeral_container_statuses: old.ephemeral_container_statuses.clone(),
        resize: old.resize.clone(),
        resource_claim_statuses: old.resource_claim_statuses.clone(),
    }
}

/// Whether `new` differs from `old` in anything the API would show:
/// every field counts, compared as written (times to the second,
/// quantities by value), with conditions and container statuses in any
/// order.
pub fn status_changed(old: &PodStatus, new: &PodStatus) -> bool {
    normalized(old) != normalized(new)
}

fn normalized(status: &PodStatus) -> serde_json::Value {
    let mut s = status.clone();
    s.conditions.sort_by(|a, b| a.type_.cmp(&b.type_));
    for list in [&mut s.init_container_statuses, &mut s.container_statuses, &mut s.ephemeral_container_statuses] {
        list.sort_by(|a, b| a.name.cmp(&b.name));
    }
    serde_json::to_value(&s).unwrap_or(serde_json::Value::Null)
}

// ---------------------------------------------------------------------------
// Container statuses
// ---------------------------------------------------------------------------

/// What one container's status is made of.
struct Convert<'a> {
    /// The runtime's instances, newest first.
    instances: &'a [&'a cri::ContainerStatus],
    /// The status written before.
    old: Option<&'a ContainerStatus>,
    /// The waiting reason when there is no instance.
    default_reason: &'a str,
    /// An init container (ready once completed).
    init: bool,
    /// Held back: reason and message.
    waiting: Option<(&'a str, &'a str)>,
}

fn waiting_state(reason: &str, message: Option<&str>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.to_owned()),
            message: message.filter(|m| !m.is_empty()).map(str::to_owned),
        }),
        ..Default::default()
    }
}

fn terminated_state(c: &cri::ContainerStatus) -> ContainerState {
    let reason = if !c.reason.is_empty() {
        c.reason.clone()
    } else if c.exit_code == 0 {
        "Completed".to_owned()
    } else {
        "Error".to_owned()
    };
    let terminated = ContainerStateTerminated {
        exit_code: c.exit_code,
        signal: None,
        reason: Some(reason),
        message: Some(c.message.clone()).filter(|m| !m.is_empty()),
        started_at: cri_timestamp(c.started_at),
        finished_at: cri_timestamp(c.finished_at),
        container_id: Some(container_id(&c.id)),
    };
    ContainerState { terminated: Some(terminated), ..Default::default() }
}

impl Convert<'_> {
    fn status(&self, spec: &Container, probes: &ProbeResults) -> ContainerStatus {
        use cri::ContainerState as Cri;
        let latest = self.instances.first().copied();
        let mut state = match latest {
            None => waiting_state(self.default_reason, None),
            Some(c) => match c.state {
                Cri::Running => ContainerState {
                    running: Some(ContainerStateRunning { started_at: cri_timestamp(c.started_at) }),
                    ..Default::default()
                },
                Cri::Exited => terminated_state(c),
                Cri::Created => waiting_state(CONTAINER_CREATING, None),
                Cri::Unknown => waiting_state(CONTAINER_STATUS_UNKNOWN, None),
            },
        };
        let mut last_state = self.instances.get(1).filter(|c| c.state == Cri::Exited).map(|c| terminated_state(c));
        if last_state.is_none()
            && let (Some(latest), Some(old)) = (latest, self.old)
        {
            // The runtime may have removed the previous instance: keep what
            // was reported for this one.
            let id = container_id(&latest.id);
            let same = old.container_id.as_deref() == Some(id.as_str())
                && i64::from(old.restart_count) == i64::from(restart_count(latest));
            let previous = old
                .last_state
                .as_deref()
                .filter(|s| s.terminated.as_ref().is_some_and(|t| t.container_id.as_deref() != Some(id.as_str())));
            if same {
                last_state = previous.cloned();
            }
        }
        let running = latest.is_some_and(|c| c.state == Cri::Running);
        if !running && let Some((reason, message)) = self.waiting {
            if let Some(terminated) = state.terminated.take() {
                last_state = Some(ContainerState { terminated: Some(terminated), ..Default::default() });
            }
            state = waiting_state(reason, Some(message));
        }
        let passes =
            |probe: bool, results: &BTreeMap<String, bool>| !probe || results.get(&spec.name).copied().unwrap_or(false);
        let started = running && passes(spec.startup_probe.is_some(), &probes.startup);
        let ready = if self.init {
            latest.is_some_and(|c| c.state == Cri::Exited && c.exit_code == 0) && self.waiting.is_none()
        } else {
            started && passes(spec.readiness_probe.is_some(), &probes.readiness)
        };
        ContainerStatus {
            name: spec.name.clone(),
            state: Some(state),
            last_state: last_state.map(Box::new),
            ready,
            restart_count: latest.map_or(0, |c| i32::try_from(restart_count(c)).unwrap_or(i32::MAX)),
            image: latest
                .map(|c| c.image.image.clone())
                .filter(|i| !i.is_empty())
                .or_else(|| spec.image.clone())
                .unwrap_or_default(),
            image_id: latest.map(|c| c.image_ref.clone()).unwrap_or_default(),
            container_id: latest.map(|c| container_id(&c.id)),
            started: Some(started),
            ..Default::default()
        }
    }
}

fn state_of(s: &ContainerStatus) -> &ContainerState {
    static NONE: ContainerState = ContainerState { waiting: None, running: None, terminated: None };
    s.state.as_ref().unwrap_or(&NONE)
}

fn last_terminated(s: &ContainerStatus) -> Option<&ContainerStateTerminated> {
    s.last_state.as_ref().and_then(|l| l.terminated.as_ref())
}

/// Terminated with exit code 0.
fn completed(s: &ContainerStatus) -> bool {
    state_of(s).terminated.as_ref().is_some_and(|t| t.exit_code == 0)
}

/// The kubelet's `HasAnyRegularContainerStarted`.
fn any_started(statuses: &[ContainerStatus]) -> bool {
    statuses.iter().any(|s| {
        let st = state_of(s);
        st.running.is_some() || st.terminated.is_some() || (st.waiting.is_some() && last_terminated(s).is_some())
    })
}

// ---------------------------------------------------------------------------
// Phase
// ---------------------------------------------------------------------------

/// The kubelet's `getPhase`. `terminal`: the pod is being deleted and
/// every container stopped, so none will be restarted whatever the policy.
fn get_phase(pod: &Pod, init: &[ContainerStatus], apps: &[ContainerStatus], terminal: bool) -> &'static str {
    let policy = RestartPolicy::of(pod);
    let (mut pending_init, mut failed_init) = (0, 0);
    for s in init {
        let st = state_of(s);
        if st.running.is_some() {
            pending_init += 1;
        } else if let Some(t) = &st.terminated {
            if t.exit_code != 0 {
                failed_init += 1;
            }
        } else if st.waiting.is_some() {
            match last_terminated(s) {
                Some(t) if t.exit_code != 0 => failed_init += 1,
                Some(_) => {}
                None => pending_init += 1,
            }
        } else {
            pending_init += 1;
        }
    }

    let (mut unknown, mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0, 0);
    for s in apps {
        let st = state_of(s);
        if st.running.is_some() {
            running += 1;
        } else if let Some(t) = &st.terminated {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if st.waiting.is_some() {
            if last_terminated(s).is_some() {
                stopped += 1;
            } else {
                waiting += 1;
            }
        } else {
            unknown += 1;
        }
    }

    if failed_init > 0 && policy == RestartPolicy::Never {
        return PHASE_FAILED;
    }
    if (pending_init > 0 && !any_started(apps)) || waiting > 0 {
        return PHASE_PENDING;
    }
    if running > 0 && unknown == 0 {
        return PHASE_RUNNING;
    }
    if running == 0 && stopped > 0 && unknown == 0 {
        if terminal {
            return if stopped == succeeded { PHASE_SUCCEEDED } else { PHASE_FAILED };
        }
        return match policy {
            RestartPolicy::Always => PHASE_RUNNING,
            _ if stopped == succeeded => PHASE_SUCCEEDED,
            RestartPolicy::Never => PHASE_FAILED,
            RestartPolicy::OnFailure => PHASE_RUNNING,
        };
    }
    PHASE_PENDING
}

// ---------------------------------------------------------------------------
// Conditions
// ---------------------------------------------------------------------------

/// A condition before its transition time is known.
struct Cond {
    ok: bool,
    reason: Option<&'static str>,
    message: Option<String>,
}

impl Cond {
    fn yes() -> Self {
        Self { ok: true, reason: None, message: None }
    }

    fn yes_because(reason: &'static str) -> Self {
        Self { ok: true, reason: Some(reason), message: None }
    }

    fn no(reason: &'static str, message: Option<String>) -> Self {
        Self { ok: false, reason: Some(reason), message }
    }

    /// The condition, its transition time kept from `old` when its
    /// status is the same.
    fn build(self, type_: &str, old: &PodStatus, now: &Time) -> PodCondition {
        let status = if self.ok { "True" } else { "False" };
        let kept = old.conditions.iter().find(|c| c.type_ == type_ && c.status == status);
        PodCondition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            last_probe_time: None,
            last_transition_time: Some(kept.and_then(|c| c.last_transition_time).unwrap_or(*now)),
            reason: self.reason.map(str::to_owned),
            message: self.message,
        }
    }
}

/// Names as Go prints a `[]string`: `[a b]`.
fn go_list(names: &[&str]) -> String {
    format!("[{}]", names.join(" "))
}

fn conditions(
    pod: &Pod,
    old: &PodStatus,
    init: &[ContainerStatus],
    apps: &[ContainerStatus],
    phase: &str,
    now: &Time,
) -> Vec<PodCondition> {
    let initialized = if pod.spec.init_containers.is_empty() {
        Cond::yes()
    } else if phase == PHASE_SUCCEEDED {
        Cond::yes_because(POD_COMPLETED)
    } else if any_started(apps) {
        Cond::yes()
    } else {
        let incomplete: Vec<&str> = init.iter().filter(|s| !completed(s)).map(|s| s.name.as_str()).collect();
        if incomplete.is_empty() {
            Cond::yes()
        } else {
            let message = format!("containers with incomplete status: {}", go_list(&incomplete));
            Cond::no(CONTAINERS_NOT_INITIALIZED, Some(message))
        }
    };

    let unready: Vec<&str> = apps.iter().filter(|s| !s.ready).map(|s| s.name.as_str()).collect();
    let containers_ready = || {
        if phase == PHASE_SUCCEEDED {
            Cond::no(POD_COMPLETED, None)
        } else if phase == PHASE_FAILED {
            Cond::no(POD_FAILED, None)
        } else if !unready.is_empty() {
            Cond::no(CONTAINERS_NOT_READY, Some(format!("containers with unready status: {}", go_list(&unready))))
        } else {
            Cond::yes()
        }
    };

    let others: Vec<&PodCondition> =
        old.conditions.iter().filter(|c| !KUBELET_CONDITIONS.contains(&c.type_.as_str())).collect();
    let ready = {
        let c = containers_ready();
        if !c.ok {
            c
        } else {
            let mut gates = Vec::new();
            for gate in &pod.spec.readiness_gates {
                let t = &gate.condition_type;
                match others.iter().find(|c| &c.type_ == t) {
                    None => {
                        gates.push(format!("corresponding condition of pod readiness gate \"{t}\" does not exist."))
                    }
                    Some(c) if c.status != "True" => gates
                        .push(format!("the status of pod readiness gate \"{t}\" is not \"True\", but {}", c.status)),
                    Some(_) => {}
                }
            }
            if gates.is_empty() { c } else { Cond::no(READINESS_GATES_NOT_READY, Some(gates.join(", "))) }
        }
    };

    let mut out = vec![
        initialized.build(INITIALIZED, old, now),
        ready.build(READY, old, now),
        containers_ready().build(CONTAINERS_READY, old, now),
        Cond::yes().build(POD_SCHEDULED, old, now),
    ];
    out.extend(others.into_iter().cloned());
    out
}

// ---------------------------------------------------------------------------
// QoS
// ---------------------------------------------------------------------------

fn positive(q: &&Quantity) -> bool {
    !q.is_zero() && !q.is_negative()
}

fn add(sums: &mut BTreeMap<&'static str, Quantity>, name: &'static str, q: &Quantity) {
    let sum = match sums.get(name) {
        Some(total) => total.checked_add(q).unwrap_or_else(|| total.clone()),
        None => q.clone(),
    };
    sums.insert(name, sum);
}

/// The pod's QoS class, as Kubernetes computes it from the CPU and memory
/// requests and limits of all containers (or the pod-level resources when
/// set): `BestEffort` without any, `Guaranteed` when every container
/// limits both and the requests equal the limits, else `Burstable`. A
/// request left unset defaults to the limit, as the API server's defaults
/// do.
pub fn qos_class(pod: &Pod) -> &'static str {
    const COMPUTE: [&str; 2] = ["cpu", "memory"];
    let spec = &pod.spec;
    let has_compute =
        |r: &ResourceRequirements| COMPUTE.iter().any(|n| r.limits.contains_key(*n) || r.requests.contains_key(*n));
    let units: Vec<Option<&ResourceRequirements>> = match spec.resources.as_ref().filter(|r| has_compute(r)) {
        Some(pod_level) => vec![Some(pod_level)],
        None => spec.containers.iter().chain(&spec.init_containers).map(|c| c.resources.as_ref()).collect(),
    };
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    let mut guaranteed = true;
    for unit in units {
        let mut limited = 0;
        for name in COMPUTE {
            let limit = unit.and_then(|r| r.limits.get(name));
            let request = unit.and_then(|r| r.requests.get(name).or(limit));
            if let Some(q) = request.filter(positive) {
                add(&mut requests, name, q);
            }
            if let Some(q) = limit.filter(positive) {
                add(&mut limits, name, q);
                limited += 1;
            }
        }
        if limited < COMPUTE.len() {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return QOS_BEST_EFFORT;
    }
    if guaranteed && requests.len() == limits.len() && requests.iter().all(|(n, q)| limits.get(n) == Some(q)) {
        return QOS_GUARANTEED;
    }
    QOS_BURSTABLE
}

#[cfg(test)]
mod tests {
    use super::super::actions::fixtures::*;
    use super::super::actions::{BackOff, compute_pod_actions};
    use super::*;
    use k_api_types::core::v1::{PodReadinessGate, Probe};
    use std::collections::BTreeSet;
    use std::time::Duration;

    fn hosts() -> Vec<String> {
        vec!["192.168.0.10".into(), "fd00::10".into()]
    }

    fn status(pod: &Pod, rt: &RuntimePod, now: u64) -> PodStatus {
        pod_status(pod, rt, &ProbeResults::default(), &[], &hosts(), at(now))
    }

    fn cond<'s>(s: &'s PodStatus, type_: &str) -> &'s PodCondition {
        s.conditions.iter().find(|c| c.type_ == type_).unwrap()
    }

    /// Status, reason and message of a condition.
    fn summary<'s>(s: &'s PodStatus, type_: &str) -> (&'s str, Option<&'s str>, Option<&'s str>) {
        let c = cond(s, type_);
        (c.status.as_str(), c.reason.as_deref(), c.message.as_deref())
    }

    fn waiting_reason(s: &ContainerStatus) -> Option<&str> {
        s.state.as_ref()?.waiting.as_ref()?.reason.as_deref()
    }

    fn tm(s: u64) -> Time {
        time(at(s))
    }

    #[test]
    fn a_new_pod_is_pending_with_containers_being_created() {
        let pod = pod("Always", &[], &["a", "b"]);
        let s = status(&pod, &RuntimePod::default(), 0);
        assert_eq!(s.phase.as_deref(), Some(PHASE_PENDING));
        for c in &s.container_statuses {
            assert_eq!(waiting_reason(c), Some(CONTAINER_CREATING));
            assert_eq!((c.ready, c.started, c.restart_count), (false, Some(false), 0));
            assert_eq!((c.image.as_str(), c.container_id.as_deref()), ("nginx:1.27", None));
        }
        assert_eq!(summary(&s, INITIALIZED), ("True", None, None));
        let unready = Some("containers with unready status: [a b]");
        assert_eq!(summary(&s, CONTAINERS_READY), ("False", Some(CONTAINERS_NOT_READY), unready));
        assert_eq!(summary(&s, READY), ("False", Some(CONTAINERS_NOT_READY), unready));
        assert_eq!(summary(&s, POD_SCHEDULED), ("True", None, None));
        assert_eq!(cond(&s, READY).last_transition_time, Some(tm(0)));
        assert_eq!(s.start_time, Some(tm(0)));
        assert_eq!(s.qos_class.as_deref(), Some(QOS_BEST_EFFORT));
        assert_eq!(s.host_ip.as_deref(), Some("192.168.0.10"));
        assert_eq!(s.host_ips.len(), 2);
        assert!(s.pod_ip.is_none() && s.pod_ips.is_empty());
    }

    #[test]
    fn pending_while_initializing() {
        let pod = pod("Always", &["i0", "i1"], &["a"]);
        let sb = || sandbox("s1", 0, true, 0);
        let rt = runtime(vec![sb()], vec![running(&pod, "i0", "c1", 0, 1)]);
        let s = status(&pod, &rt, 2);
        assert_eq!(s.phase.as_deref(), Some(PHASE_PENDING));
        let incomplete = Some("containers with incomplete status: [i0 i1]");
        assert_eq!(summary(&s, INITIALIZED), ("False", Some(CONTAINERS_NOT_INITIALIZED), incomplete));
        assert!(s.init_container_statuses[0].state.as_ref().unwrap().running.is_some());
        assert_eq!(waiting_reason(&s.init_container_statuses[1]), Some(POD_INITIALIZING));
        assert_eq!(waiting_reason(&s.container_statuses[0]), Some(POD_INITIALIZING));
        assert_eq!(s.pod_ip.as_deref(), Some("10.1.0.5"), "the sandbox has its IP already");

        // Both done, the app not created yet: initialized, still pending.
        let rt = runtime(vec![sb()], vec![exited(&pod, "i0", "c1", 0, 1, 2, 0), exited(&pod, "i1", "c2", 0, 3, 4, 0)]);
        let s = status(&pod, &rt, 5);
        assert_eq!(s.phase.as_deref(), Some(PHASE_PENDING));
        assert_eq!(summary(&s, INITIALIZED), ("True", None, None));
        assert!(s.init_container_statuses.iter().all(|c| c.ready), "completed init containers are ready");
        assert_eq!(waiting_reason(&s.container_statuses[0]), Some(CONTAINER_CREATING));

        // Crash-looping init container under Always: pending, not failed.
        let rt = runtime(vec![sb()], vec![exited(&pod, "i0", "c1", 0, 1, 2, 1)]);
        let waiting = [("i0".to_owned(), "CrashLoopBackOff".to_owned(), "back-off 10s".to_owned())];
        let s = pod_status(&pod, &rt, &ProbeResults::default(), &waiting, &hosts(), at(3));
        assert_eq!(s.phase.as_deref(), Some(PHASE_PENDING));
        assert_eq!(waiting_reason(&s.init_container_statuses[0]), Some("CrashLoopBackOff"));
        assert!(!s.init_container_statuses[0].ready);
    }

    #[test]
    fn a_failed_init_container_fails_the_pod_under_never() {
        let pod = pod("Never", &["i0"], &["a"]);
        let rt = runtime(vec![sandbox("s1", 0, true, 0)], vec![exited(&pod, "i0", "c1", 0, 1, 2, 3)]);
        let s = status(&pod, &rt, 3);
        assert_eq!(s.phase.as_deref(), Some(PHASE_FAILED));
        assert_eq!(summary(&s, READY), ("False", Some(POD_FAILED), None));
        let t = s.init_container_statuses[0].state.as_ref().unwrap().terminated.as_ref().unwrap();
        assert_eq!((t.exit_code, t.reason.as_deref()), (3, Some("Error")));
    }

    #[test]
    fn running_and_ready() {
        let mut pod = pod("Always", &[], &["a", "b"]);
        pod.spec.containers[1].readiness_probe = Some(Box::new(Probe::default()));
        let rt = runtime(
            vec![sandbox("s1", 0, true, 0)],
            vec![running(&pod, "a", "c1", 0, 1), running(&pod, "b", "c2", 0, 2)],
        );
        let s = status(&pod, &rt, 3);
        assert_eq!(s.phase.as_deref(), Some(PHASE_RUNNING));
        let a = &s.container_statuses[0];
        assert_eq!(a.state.as_ref().unwrap().running.as_ref().unwrap().started_at, Some(tm(1)));
        assert_eq!((a.ready, a.started), (true, Some(true)));
        assert_eq!(a.container_id.as_deref(), Some("k://c1"));
        assert_eq!((a.image.as_str(), a.image_id.as_str()), ("nginx:1.27", "sha256:a"));
        assert!(!s.container_statuses[1].ready, "no readiness result yet");
        let unready = Some("containers with unready status: [b]");
        assert_eq!(summary(&s, READY), ("False", Some(CONTAINERS_NOT_READY), unready));
        assert_eq!(s.pod_ip.as_deref(), Some("10.1.0.5"));
        assert_eq!(s.pod_ips, [PodIP { ip: "10.1.0.5".into() }]);

        let mut probes = ProbeResults::default();
        probes.readiness.insert("b".into(), true);
        let s = pod_status(&pod, &rt, &probes, &[], &hosts(), at(4));
        assert!(s.container_statuses.iter().all(|c| c.ready));
        assert_eq!(summary(&s, CONTAINERS_READY), ("True", None, None));
        assert_eq!(summary(&s, READY), ("True", None, None));
    }

    #[test]
    fn started_waits_for_the_startup_probe() {
        let mut pod = pod("Always", &[], &["a"]);
        pod.spec.containers[0].startup_probe = Some(Box::new(Probe::default()));
        let rt = runtime(vec![sandbox("s1", 0, true, 0)], vec![running(&pod, "a", "c1", 0, 1)]);
        let s = status(&pod, &rt, 2);
        assert_eq!((s.container_statuses[0].started, s.container_statuses[0].ready), (Some(false), false));
        let mut probes = ProbeResults::default();
        probes.startup.insert("a".into(), true);
        let s = pod_status(&pod, &rt, &probes, &[], &hosts(), at(3));
        assert_eq!((s.container_statuses[0].started, s.container_statuses[0].ready), (Some(true), true));
    }

    #[test]
    fn succeeded_and_failed() {
        let pod_ok = pod("OnFailure", &["i0"], &["a", "b"]);
        let mut rt = runtime(
            vec![sandbox("s1", 0, true, 0)],
            vec![
                exited(&pod_ok, "i0", "c0", 0, 1, 2, 0),
                exited(&pod_ok, "a", "c1", 0, 3, 5, 0),
                exited(&pod_ok, "b", "c2", 0, 3, 6, 0),
            ],
        );
        let s = status(&pod_ok, &rt, 7);
        assert_eq!(s.phase.as_deref(), Some(PHASE_SUCCEEDED));
        assert_eq!(summary(&s, INITIALIZED), ("True", Some(POD_COMPLETED), None));
        assert_eq!(summary(&s, CONTAINERS_READY), ("False", Some(POD_COMPLETED), None));
        assert_eq!(summary(&s, READY), ("False", Some(POD_COMPLETED), None));
        let t = s.container_statuses[1].state.as_ref().unwrap().terminated.clone().unwrap();
        assert_eq!(t.reason.as_deref(), Some("Completed"));
        assert_eq!((t.started_at, t.finished_at), (Some(tm(3)), Some(tm(6))));
        assert_eq!(t.container_id.as_deref(), Some("k://c2"));

        // The sandbox stopped afterwards: the pod keeps its address.
        let mut done = pod_ok.clone();
        done.status = Some(s);
        rt.sandboxes[0] = sandbox("s1", 0, false, 0);
        let s = status(&done, &rt, 8);
        assert_eq!(s.pod_ip.as_deref(), Some("10.1.0.5"));
        assert_eq!(s.phase.as_deref(), Some(PHASE_SUCCEEDED));

        // OnFailure with a failure is restarting: running.
        let rt = runtime(
            vec![sandbox("s1", 0, true, 0)],
            vec![exited(&pod_ok, "i0", "c0", 0, 1, 2, 0), exited(&pod_ok, "a", "c1", 0, 3, 5, 1)],
        );
        let waiting = [("a".to_owned(), "CrashLoopBackOff".to_owned(), String::new())];
        let s = pod_status(&pod_ok, &rt, &ProbeResults::default(), &waiting, &hosts(), at(8));
        // b was never created: pending.
        assert_eq!(s.phase.as_deref(), Some(PHASE_PENDING));

        let never = pod("Never", &[], &["a", "b"]);
        let rt = runtime(
            vec![sandbox("s1", 0, true, 0)],
            vec![exited(&never, "a", "c1", 0, 1, 5, 0), exited(&never, "b", "c2", 0, 1, 6, 2)],
        );
        let s = status(&never, &rt, 7);
        assert_eq!(s.phase.as_deref(), Some(PHASE_FAILED));
        assert_eq!(summary(&s, CONTAINERS_READY), ("False", Some(POD_FAILED), None));
        assert_eq!(summary(&s, INITIALIZED), ("True", None, None));
    }

    #[test]
    fn a_crash_looping_container_under_always_keeps_the_pod_running() {
        let pod = pod("Always", &[], &["a", "b"]);
        let rt = runtime(
            vec![sandbox("s1", 0, true, 0)],
            vec![
                // Restarted at once after the first failure, 10 s after
                // the second, then 20 s to wait.
                exited(&pod, "a", "c1", 0, 1, 2, 1),
                exited(&pod, "a", "c2", 1, 2, 3, 1),
                exited(&pod, "a", "c4", 2, 13, 14, 2),
                running(&pod, "b", "c3", 0, 1),
            ],
        );
        let mut backoff = BackOff::default();
        let actions = compute_pod_actions(&pod, &rt, &mut backoff, &BTreeSet::new(), at(15));
        let waiting = actions.waiting_entries(&pod);
        assert_eq!(waiting.len(), 1);
        let s = pod_status(&pod, &rt, &ProbeResults::default(), &waiting, &hosts(), at(15));
        assert_eq!(s.phase.as_deref(), Some(PHASE_RUNNING));
        let a = &s.container_statuses[0];
        let w = a.state.as_ref().unwrap().waiting.as_ref().unwrap();
        assert_eq!(w.reason.as_deref(), Some("CrashLoopBackOff"));
        assert_eq!(w.message.as_deref(), Some("back-off 20s restarting failed container=a pod=web_default(uid-1)"));
        let last = a.last_state.as_ref().unwrap().terminated.as_ref().unwrap();
        assert_eq!((last.exit_code, last.container_id.as_deref()), (2, Some("k://c4")));
        assert_eq!((a.restart_count, a.ready, a.container_id.as_deref()), (2, false, Some("k://c4")));

        // Alone, crash-looping, still running (it is restarting).
        let alone = super::super::actions::fixtures::pod("Always", &[], &["a"]);
        let rt = runtime(rt.sandboxes.clone(), rt.containers[..3].to_vec());
        let solo = pod_status(&alone, &rt, &ProbeResults::default(), &waiting, &hosts(), at(15));
        assert_eq!(solo.phase.as_deref(), Some(PHASE_RUNNING));
        assert_eq!(
            summary(&solo, READY),
            ("False", Some(CONTAINERS_NOT_READY), Some("containers with unready status: [a]"))
        );
    }

    #[test]
    fn last_state_and_restart_count_come_from_the_previous_instance() {
        let pod = pod("Always", &[], &["a"]);
        let first = exited(&pod, "a", "c1", 0, 1, 2, 137);
        let rt = runtime(vec![sandbox("s1", 0, true, 0)], vec![first.clone(), running(&pod, "a", "c2", 1, 12)]);
        let s = status(&pod, &rt, 13);
        let a = &s.container_statuses[0];
        assert_eq!(a.restart_count, 1);
        let last = a.last_state.as_ref().unwrap().terminated.as_ref().unwrap();
        assert_eq!((last.exit_code, last.reason.as_deref()), (137, Some("Error")));
        assert_eq!(last.container_id.as_deref(), Some("k://c1"));
        assert_eq!(last.finished_at, Some(tm(2)));

        // The runtime removed c1: what was reported for c2 stays.
        let mut seen = pod.clone();
        seen.status = Some(s.clone());
        let rt = runtime(vec![sandbox("s1", 0, true, 0)], vec![running(&pod, "a", "c2", 1, 12)]);
        let again = status(&seen, &rt, 14);
        assert_eq!(again.container_statuses[0].last_state, a.last_state);
        assert!(!status_changed(&s, &again));
    }

    #[test]
    fn qos_classes() {
        let with = |requests: &[(&str, &str)], limits: &[(&str, &str)]| {
            let list = |items: &[(&str, &str)]| {
                items.iter().map(|(k, v)| (k.to_string(), v.parse::<Quantity>().unwrap())).collect()
            };
            Some(ResourceRequirements { requests: list(requests), limits: list(limits), ..Default::default() })
        };
        let mut p = pod("Always", &["init"], &["a"]);
        assert_eq!(qos_class(&p), QOS_BEST_EFFORT);
        p.spec.containers[0].resources = with(&[("cpu", "100m")], &[]);
        assert_eq!(qos_class(&p), QOS_BURSTABLE);
        p.spec.containers[0].resources =
            with(&[("cpu", "1"), ("memory", "1Gi")], &[("cpu", "1000m"), ("memory", "1024Mi")]);
        assert_eq!(qos_class(&p), QOS_BURSTABLE, "the init container has no limits");
        p.spec.init_containers[0].resources = with(&[], &[("cpu", "500m"), ("memory", "64Mi")]);
        assert_eq!(qos_class(&p), QOS_GUARANTEED, "requests default to limits");
        p.spec.init_containers[0].resources = with(&[("cpu", "250m")], &[("cpu", "500m"), ("memory", "64Mi")]);
        assert_eq!(qos_class(&p), QOS_BURSTABLE);
        p.spec.init_containers[0].resources = with(&[("cpu", "0")], &[("memory", "64Mi")]);
        assert_eq!(qos_class(&p), QOS_BURSTABLE);
        // Only extended resources: best effort.
        let mut gpu = pod("Always", &[], &["a"]);
        gpu.spec.containers[0].resources = with(&[("example.com/gpu", "1")], &[("example.com/gpu", "1")]);
        assert_eq!(qos_class(&gpu), QOS_BEST_EFFORT);
        // Pod-level resources decide when set.
        let mut level = pod("Always", &[], &["a"]);
        level.spec.resources = with(&[], &[("cpu", "1"), ("memory", "1Gi")]);
        assert_eq!(qos_class(&level), QOS_GUARANTEED);
        assert_eq!(status(&level, &RuntimePod::default(), 0).qos_class.as_deref(), Some(QOS_GUARANTEED));
    }

    #[test]
    fn transition_and_start_times_are_kept_while_unchanged() {
        let mut pod = pod("Always", &[], &["a"]);
        pod.status = Some(PodStatus {
            conditions: vec![PodCondition {
                type_: POD_SCHEDULED.into(),
                status: "True".into(),
                last_transition_time: Some(tm(0)),
                ..Default::default()
            }],
            ..Default::default()
        });
        let rt0 = RuntimePod::default();
        let s1 = status(&pod, &rt0, 10);
        assert_eq!(cond(&s1, POD_SCHEDULED).last_transition_time, Some(tm(0)), "the scheduler's time");
        assert_eq!(cond(&s1, READY).last_transition_time, Some(tm(10)));
        assert_eq!(s1.start_time, Some(tm(10)));

        pod.status = Some(s1.clone());
        let s2 = status(&pod, &rt0, 20);
        assert_eq!(cond(&s2, READY).last_transition_time, Some(tm(10)));
        assert_eq!(s2.start_time, Some(tm(10)));
        assert!(!status_changed(&s1, &s2), "nothing changed but the clock");

        // Ready now: new transition times for Ready and ContainersReady only.
        pod.status = Some(s2.clone());
        let rt = runtime(vec![sandbox("s1", 0, true, 0)], vec![running(&pod, "a", "c1", 0, 25)]);
        let s3 = status(&pod, &rt, 30);
        assert_eq!(summary(&s3, READY).0, "True");
        assert_eq!(cond(&s3, READY).last_transition_time, Some(tm(30)));
        assert_eq!(cond(&s3, CONTAINERS_READY).last_transition_time, Some(tm(30)));
        assert_eq!(cond(&s3, INITIALIZED).last_transition_time, Some(tm(10)));
        assert_eq!(s3.start_time, Some(tm(10)));
        assert!(status_changed(&s2, &s3));
    }

    #[test]
    fn terminal_phases_are_never_left() {
        let mut pod = pod("Always", &[], &["a"]);
        pod.status = Some(PodStatus { phase: Some(PHASE_FAILED.into()), ..Default::default() });
        let rt = runtime(vec![sandbox("s1", 0, true, 0)], vec![running(&pod, "a", "c1", 0, 1)]);
        assert_eq!(status(&pod, &rt, 2).phase.as_deref(), Some(PHASE_FAILED));
    }

    #[test]
    fn a_deleted_pod_whose_containers_stopped_is_terminal() {
        let mut pod = pod("Always", &[], &["a", "b"]);
        pod.metadata.deletion_timestamp = Some(tm(5));
        let rt = runtime(
            vec![sandbox("s1", 0, false, 0)],
            vec![exited(&pod, "a", "c1", 0, 1, 6, 0), exited(&pod, "b", "c2", 0, 1, 6, 143)],
        );
        assert_eq!(status(&pod, &rt, 7).phase.as_deref(), Some(PHASE_FAILED));
        let mut rt = rt;
        rt.containers[1].exit_code = 0;
        assert_eq!(status(&pod, &rt, 7).phase.as_deref(), Some(PHASE_SUCCEEDED));
        // Still stopping: not yet.
        rt.containers[1].state = cri::ContainerState::Running;
        assert_eq!(status(&pod, &rt, 7).phase.as_deref(), Some(PHASE_RUNNING));
    }

    #[test]
    fn readiness_gates_and_foreign_conditions() {
        let mut pod = pod("Always", &[], &["a"]);
        pod.spec.readiness_gates = vec![PodReadinessGate { condition_type: "example.com/lb".into() }];
        let rt = runtime(vec![sandbox("s1", 0, true, 0)], vec![running(&pod, "a", "c1", 0, 1)]);
        let s = status(&pod, &rt, 2);
        let missing = Some("corresponding condition of pod readiness gate \"example.com/lb\" does not exist.");
        assert_eq!(summary(&s, READY), ("False", Some(READINESS_GATES_NOT_READY), missing));
        assert_eq!(summary(&s, CONTAINERS_READY).0, "True");

        let gate = |status: &str| PodCondition {
            type_: "example.com/lb".into(),
            status: status.into(),
            last_transition_time: Some(tm(1)),
            ..Default::default()
        };
        pod.status = Some(PodStatus { conditions: vec![gate("False")], ..Default::default() });
        let s = status(&pod, &rt, 3);
        let not_true = Some("the status of pod readiness gate \"example.com/lb\" is not \"True\", but False");
        assert_eq!(summary(&s, READY), ("False", Some(READINESS_GATES_NOT_READY), not_true));
        assert_eq!(cond(&s, "example.com/lb"), &gate("False"), "kept as it was");

        pod.status = Some(PodStatus { conditions: vec![gate("True")], ..Default::default() });
        assert_eq!(summary(&status(&pod, &rt, 4), READY), ("True", None, None));
    }

    #[test]
    fn host_network_pods_have_the_node_addresses() {
        let mut pod = pod("Always", &[], &["a"]);
        pod.spec.host_network = Some(true);
        let mut sb = sandbox("s1", 0, true, 0);
        sb.network = None;
        let rt = runtime(vec![sb], vec![running(&pod, "a", "c1", 0, 1)]);
        let s = status(&pod, &rt, 2);
        assert_eq!(s.pod_ip.as_deref(), Some("192.168.0.10"));
        let ips: Vec<_> = s.pod_ips.iter().map(|p| p.ip.as_str()).collect();
        assert_eq!(ips, ["192.168.0.10", "fd00::10"]);
    }

    #[test]
    fn status_changed_compares_what_the_api_shows() {
        let pod = pod("Always", &[], &["a", "b"]);
        let rt = runtime(vec![sandbox("s1", 0, true, 0)], vec![running(&pod, "a", "c1", 0, 1)]);
        let s = status(&pod, &rt, 2);
        assert!(!status_changed(&s, &s.clone()));

        let mut reordered = s.clone();
        reordered.conditions.reverse();
        reordered.container_statuses.reverse();
        assert!(!status_changed(&s, &reordered), "order does not matter");

        let mut subsecond = s.clone();
        subsecond.start_time = Some(time(at(0) + Duration::from_millis(300)));
        let mut base = s.clone();
        base.start_time = Some(tm(0));
        assert!(!status_changed(&base, &subsecond), "times compare to the second");

        for change in [
            |s: &mut PodStatus| s.phase = Some(PHASE_RUNNING.into()),
            |s: &mut PodStatus| s.container_statuses[0].restart_count = 1,
            |s: &mut PodStatus| s.conditions[0].message = Some("x".into()),
            |s: &mut PodStatus| s.pod_ip = None,
            |s: &mut PodStatus| s.container_statuses[1].ready = true,
        ] {
            let mut other = s.clone();
            change(&mut other);
            assert!(status_changed(&s, &other), "{other:?}");
        }
    }
}
