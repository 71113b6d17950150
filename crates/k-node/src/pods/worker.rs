//! One pod's worker: the task that makes the runtime match the pod and
//! reports the pod's status.
//!
//! The agent starts a worker per pod bound to its node (and per static
//! pod) and sends it every new version of the pod. The worker syncs when
//! the pod changes and on a short period (1 s by default, so that exits,
//! back-offs and probes are noticed promptly). A sync:
//!
//! 1. reads the runtime's view of the pod (its sandboxes and containers,
//!    found by the pod-uid label);
//! 2. decides with [`compute_pod_actions`] and carries the actions out in
//!    the kubelet's order: kills (each container stopped gracefully, its
//!    preStop hook first), sandboxes stopped, then, if needed, the pod's
//!    volumes and a new sandbox, the next init container, the app
//!    containers (image pulled if absent, environment, command, mounts,
//!    resources, log path; postStart hook after the start);
//! 3. runs the probes that are due (startup first, then liveness and
//!    readiness), concurrently;
//! 4. builds the status with [`pod_status`] and writes it when it changed
//!    (to the mirror pod for a static pod);
//! 5. for a pod being deleted, once every container stopped: stops the
//!    sandbox, deletes the pod object (grace 0, with a uid precondition),
//!    removes the containers and the sandbox and the pod's directory, and
//!    ends.
//!
//! Failures to create or start a container show as the waiting reason the
//! kubelet uses (`ErrImagePull`/`ImagePullBackOff`,
//! `CreateContainerConfigError`, `CreateContainerError`,
//! `RunContainerError`) and are retried on the next sync.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use k_api_types::core::v1::{Container, Pod, PodStatus};
use k_api_types::meta::{DeleteOptions, Preconditions, Time};
use k_netplugin::cri::{
    self, ContainerConfig, ContainerFilter, ContainerMetadata, ContainerState, CriResult, ImageSpec, Labels,
    PodSandboxConfig, PodSandboxFilter, PodSandboxMetadata, PodSandboxState, PortMapping,
};
use k_runtime::events::EventType;
use k_store::{Api, StoreError};
use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};

use super::actions::{
    BackOff, POD_UID_LABEL, PodActions, RuntimePod, compute_pod_actions, container_labels, next_restart_count,
    pod_grace_period, sandbox_ips, sandbox_labels,
};
use super::status::{ProbeResults, pod_status, status_changed};
use crate::agent::Context;
use crate::lifecycle::{run_hook, stop_gracefully};
use crate::probes::{ProbeKind, ProbeOutcome, ProbeState};
use crate::static_pods;

/// Waiting reason: the image could not be pulled.
pub const ERR_IMAGE_PULL: &str = "ErrImagePull";
/// Waiting reason: the image pull is backing off after a failure.
pub const IMAGE_PULL_BACK_OFF: &str = "ImagePullBackOff";
/// Waiting reason: the container's environment could not be built.
pub const CREATE_CONTAINER_CONFIG_ERROR: &str = "CreateContainerConfigError";
/// Waiting reason: the runtime refused to create the container.
pub const CREATE_CONTAINER_ERROR: &str = "CreateContainerError";
/// Waiting reason: the runtime could not start the container.
pub const RUN_CONTAINER_ERROR: &str = "RunContainerError";

/// Where a pod comes from, which decides where its status goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodSource {
    /// The API server: status written to the pod, deleted through the API.
    Api,
    /// A manifest file: status written to its mirror pod, if any.
    Static,
}

/// What a worker is told.
#[derive(Debug)]
pub enum WorkerInput {
    /// A new version of the pod.
    Update(Arc<Pod>),
    /// The pod is gone from its source (deleted from the API, manifest
    /// removed): stop everything and end.
    Removed,
}

/// The handle the agent keeps for a worker.
#[derive(Debug)]
pub(crate) struct WorkerHandle {
    pub(crate) tx: mpsc::UnboundedSender<WorkerInput>,
}

/// A probe of one container instance.
#[derive(Debug)]
struct ProbeSlot {
    container_id: String,
    state: ProbeState,
}

/// One pod's worker.
pub(crate) struct PodWorker {
    ctx: Arc<Context>,
    pod: Arc<Pod>,
    source: PodSource,
    removed: bool,
    backoff: BackOff,
    pull_backoff: BackOff,
    probes: HashMap<(String, ProbeKind), ProbeSlot>,
    volumes: Option<BTreeMap<String, PathBuf>>,
    /// Containers held back by a failure to create or start them: reason
    /// and message, until they start.
    failures: BTreeMap<String, (String, String)>,
    /// The status last written (or read).
    status: Option<PodStatus>,
    /// Whether the pod object was deleted by this worker.
    deleted: bool,
}

/// Why a worker stopped.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Continue,
    Finished,
}

impl PodWorker {
    pub(crate) fn spawn(
        ctx: Arc<Context>,
        pod: Arc<Pod>,
        source: PodSource,
        done: mpsc::UnboundedSender<String>,
        shutdown: watch::Receiver<bool>,
    ) -> WorkerHandle {
        let (tx, rx) = mpsc::unbounded_channel();
        let worker = PodWorker {
            ctx,
            status: pod.status.clone(),
            pod,
            source,
            removed: false,
            backoff: BackOff::default(),
            pull_backoff: BackOff::for_image_pulls(),
            probes: HashMap::new(),
            volumes: None,
            failures: BTreeMap::new(),
            deleted: false,
        };
        tokio::spawn(worker.run(rx, done, shutdown));
        WorkerHandle { tx }
    }

    async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<WorkerInput>,
        done: mpsc::UnboundedSender<String>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let uid = self.pod.metadata.uid.clone();
        // Whether the agent still sends (a closed channel counts as the
        // pod removed, once) and still runs.
        let (mut open, mut stopping) = (true, false);
        loop {
            if self.sync().await == Step::Finished {
                break;
            }
            // Sync again at the period, or at once when the pod changed
            // (not for its own status write coming back through the watch:
            // the kubelet does not resync on status-only updates either).
            let next = tokio::time::sleep(self.ctx.sync_period);
            tokio::pin!(next);
            loop {
                tokio::select! {
                    input = rx.recv(), if open => {
                        open = input.is_some();
                        if self.take(input) {
                            break;
                        }
                    }
                    () = &mut next => break,
                    changed = shutdown.changed() => {
                        stopping = changed.is_err();
                        break;
                    }
                }
            }
            // Take everything queued: only the newest version matters.
            while let Ok(input) = rx.try_recv() {
                self.take(Some(input));
            }
            if stopping || *shutdown.borrow() {
                break;
            }
        }
        let _ = done.send(uid);
    }

    /// Takes an input; whether it calls for a sync now (anything but a
    /// change of the pod's status alone).
    fn take(&mut self, input: Option<WorkerInput>) -> bool {
        match input {
            Some(WorkerInput::Update(pod)) => {
                if pod.status.is_some() && self.source == PodSource::Api {
                    self.status.clone_from(&pod.status);
                }
                let changed = !same_but_status(&self.pod, &pod);
                self.pod = pod;
                changed
            }
            Some(WorkerInput::Removed) | None => {
                self.removed = true;
                true
            }
        }
    }

    fn now(&self) -> SystemTime {
        self.ctx.clock.now()
    }

    /// The pod as the sync sees it: the latest version, with the status
    /// last written, marked as deleting once it is gone from its source.
    fn current_pod(&self) -> Pod {
        let mut pod = (*self.pod).clone();
        pod.status.clone_from(&self.status);
        if self.removed && pod.metadata.deletion_timestamp.is_none() {
            pod.metadata.deletion_timestamp = Some(Time(chrono::DateTime::<chrono::Utc>::from(self.now())));
            // Gone without a grace period: stop quickly.
            pod.metadata.deletion_grace_period_seconds = Some(1);
        }
        pod
    }

    async fn sync(&mut self) -> Step {
        let pod = self.current_pod();
        let uid = pod.metadata.uid.clone();
        let mut view = match runtime_view(self.ctx.runtime.as_ref(), &uid).await {
            Ok(v) => v,
            Err(e) => {
                warn!(pod = %key(&pod), error = %e, "cannot read the runtime's view of the pod");
                return Step::Continue;
            }
        };
        let now = self.now();
        let liveness_failed = self.liveness_failed(&view);
        let actions = compute_pod_actions(&pod, &view, &mut self.backoff, &liveness_failed, now);
        if !actions.is_empty() {
            debug!(pod = %key(&pod), ?actions, "pod actions");
            self.execute(&pod, &view, &actions).await;
            match runtime_view(self.ctx.runtime.as_ref(), &uid).await {
                Ok(v) => view = v,
                Err(e) => warn!(pod = %key(&pod), error = %e, "cannot read the runtime's view of the pod"),
            }
        }
        let results = self.run_probes(&pod, &view).await;
        let mut waiting = actions.waiting_entries(&pod);
        for (name, (reason, message)) in &self.failures {
            if !waiting.iter().any(|(n, ..)| n == name) {
                waiting.push((name.clone(), reason.clone(), message.clone()));
            }
        }
        let status = pod_status(&pod, &view, &results, &waiting, &self.ctx.host_ips, self.now());
        self.write_status(&pod, status).await;

        let deleting = pod.metadata.deletion_timestamp.is_some();
        let stopped = view.containers.iter().all(|c| c.state == ContainerState::Exited);
        if deleting && stopped {
            return self.finish(&pod, &view).await;
        }
        Step::Continue
    }

    /// The running containers whose liveness probe concluded failure.
    fn liveness_failed(&self, view: &RuntimePod) -> BTreeSet<String> {
        self.probes
            .iter()
            .filter(|((_, kind), slot)| {
                *kind == ProbeKind::Liveness
                    && slot.state.passed == Some(false)
                    && view.containers.iter().any(|c| c.id == slot.container_id && c.state == ContainerState::Running)
            })
            .map(|((name, _), _)| name.clone())
            .collect()
    }

    async fn execute(&mut self, pod: &Pod, view: &RuntimePod, actions: &PodActions) {
        let ctx = self.ctx.clone();
        let pod_ip = view.pod_ips().first().and_then(|ip| ip.parse::<IpAddr>().ok());
        // Kills, concurrently: each gets its own grace period.
        if !actions.kill.is_empty() {
            let kills = actions.kill.iter().map(|kill| {
                let container = find_container(pod, &kill.name);
                let ctx = ctx.clone();
                async move {
                    ctx.event(pod, EventType::Normal, "Killing", &format!("Stopping container {}", kill.name));
                    let result = stop_gracefully(
                        &container,
                        &kill.id,
                        pod_ip,
                        ctx.runtime.as_ref(),
                        ctx.prober.as_ref(),
                        kill.grace,
                    )
                    .await;
                    match result {
                        Ok(Some(hook)) => ctx.event(
                            pod,
                            EventType::Warning,
                            "FailedPreStopHook",
                            &format!("PreStopHook failed: {hook}"),
                        ),
                        Ok(None) => {}
                        Err(e) => warn!(container = %kill.name, error = %e, "cannot stop container"),
                    }
                }
            });
            futures::future::join_all(kills).await;
            for kill in &actions.kill {
                self.probes.retain(|_, slot| slot.container_id != kill.id);
            }
        }
        for id in &actions.kill_sandbox_ids {
            if let Err(e) = ctx.runtime.stop_pod_sandbox(id).await {
                warn!(sandbox = %id, error = %e, "cannot stop sandbox");
            }
        }
        if actions.kill_pod && !actions.create_sandbox {
            return;
        }
        let mut sandbox = view.latest_sandbox().filter(|s| s.state == PodSandboxState::Ready).cloned();
        let mut attempt = sandbox.as_ref().map_or(0, |s| s.metadata.attempt);
        if actions.create_sandbox {
            if self.prepare_volumes(pod).await.is_none() {
                return;
            }
            attempt = actions.sandbox_attempt;
            let config = self.sandbox_config(pod, attempt);
            match ctx.runtime.run_pod_sandbox(&config).await {
                Ok(id) => match ctx.runtime.pod_sandbox_status(&id).await {
                    Ok(status) => sandbox = Some(status),
                    Err(e) => {
                        warn!(sandbox = %id, error = %e, "cannot read the new sandbox");
                        return;
                    }
                },
                Err(e) => {
                    ctx.event(
                        pod,
                        EventType::Warning,
                        "FailedCreatePodSandBox",
                        &format!("Failed to create pod sandbox: {e}"),
                    );
                    return;
                }
            }
        }
        let Some(sandbox) = sandbox else { return };
        if actions.next_init_container.is_none() && actions.start.is_empty() {
            return;
        }
        if self.prepare_volumes(pod).await.is_none() {
            return;
        }
        let sandbox_config = self.sandbox_config(pod, attempt);
        let pod_ips = if pod.spec.host_network == Some(true) { ctx.host_ips.clone() } else { sandbox_ips(&sandbox) };
        if let Some(container) = actions.next_init_container.and_then(|i| pod.spec.init_containers.get(i)) {
            // Count the instances as they are after the kills and the sandbox.
            let now = runtime_view(ctx.runtime.as_ref(), &pod.metadata.uid).await;
            let restart = next_restart_count(now.as_ref().unwrap_or(view), &container.name);
            self.start_container(pod, container, restart, &sandbox.id, &sandbox_config, &pod_ips).await;
        }
        for start in &actions.start {
            if let Some(container) = pod.spec.containers.get(start.index) {
                self.start_container(pod, container, start.restart_count, &sandbox.id, &sandbox_config, &pod_ips).await;
            }
        }
    }

    async fn prepare_volumes(&mut self, pod: &Pod) -> Option<()> {
        if self.volumes.is_some() {
            return Some(());
        }
        match self.ctx.volumes.prepare(pod).await {
            Ok(paths) => {
                self.volumes = Some(paths);
                self.failures.retain(|_, (reason, _)| reason != "FailedMount");
                Some(())
            }
            Err(e) => {
                let message = format!("MountVolume.SetUp failed: {e}");
                self.ctx.event(pod, EventType::Warning, "FailedMount", &message);
                None
            }
        }
    }

    /// The sandbox's configuration (the same for creating it and creating
    /// its containers).
    fn sandbox_config(&self, pod: &Pod, attempt: u32) -> PodSandboxConfig {
        let meta = &pod.metadata;
        let log_directory = self
            .ctx
            .log_root
            .join(format!("{}_{}_{}", meta.namespace, meta.name, meta.uid))
            .to_string_lossy()
            .into_owned();
        let port_mappings = pod
            .spec
            .containers
            .iter()
            .flat_map(|c| &c.ports)
            .filter(|p| p.host_port.is_some_and(|h| h > 0))
            .map(|p| PortMapping {
                protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                container_port: p.container_port,
                host_port: p.host_port.unwrap_or(0),
                host_ip: p.host_ip.clone().unwrap_or_default(),
            })
            .collect();
        let hostname = pod.spec.hostname.clone().filter(|h| !h.is_empty()).unwrap_or_else(|| meta.name.clone());
        PodSandboxConfig {
            metadata: PodSandboxMetadata {
                name: meta.name.clone(),
                uid: meta.uid.clone(),
                namespace: meta.namespace.clone(),
                attempt,
            },
            hostname: hostname.chars().take(63).collect(),
            log_directory,
            dns_config: pod_dns_config(pod),
            port_mappings,
            labels: sandbox_labels(pod),
            annotations: meta.annotations.clone().into_iter().collect(),
            cgroup_parent: String::new(),
            host_network: pod.spec.host_network == Some(true),
        }
    }

    /// Pulls the image if absent; the failure's reason and message.
    async fn ensure_image(&mut self, pod: &Pod, container: &Container) -> Result<ImageSpec, (String, String)> {
        let image = container.image.clone().unwrap_or_default();
        let spec = ImageSpec { image: image.clone() };
        let always = container.image_pull_policy.as_deref() == Some("Always");
        let never = container.image_pull_policy.as_deref() == Some("Never");
        let present = matches!(self.ctx.images.image_status(&spec).await, Ok(Some(_)));
        if present && !always {
            return Ok(spec);
        }
        if never {
            return Err((
                "ErrImageNeverPull".into(),
                format!("Container image \"{image}\" is not present with pull policy of Never"),
            ));
        }
        let key = format!("pull/{image}");
        let now = self.now();
        if self.pull_backoff.next_allowed(&key, now).is_some_and(|until| until > now) {
            return Err((IMAGE_PULL_BACK_OFF.into(), format!("Back-off pulling image \"{image}\"")));
        }
        self.ctx.event(pod, EventType::Normal, "Pulling", &format!("Pulling image \"{image}\""));
        let started = std::time::Instant::now();
        match self.ctx.images.pull_image(&spec).await {
            Ok(_) => {
                self.ctx.event(
                    pod,
                    EventType::Normal,
                    "Pulled",
                    &format!("Successfully pulled image \"{image}\" in {:?}", started.elapsed()),
                );
                Ok(spec)
            }
            Err(e) => {
                self.pull_backoff.record_failure(&key, now);
                let message = format!("Failed to pull image \"{image}\": {e}");
                self.ctx.event(pod, EventType::Warning, "Failed", &message);
                Err((ERR_IMAGE_PULL.into(), message))
            }
        }
    }

    async fn start_container(
        &mut self,
        pod: &Pod,
        container: &Container,
        restart_count: u32,
        sandbox_id: &str,
        sandbox_config: &PodSandboxConfig,
        pod_ips: &[String],
    ) {
        let name = container.name.clone();
        match self.try_start(pod, container, restart_count, sandbox_id, sandbox_config, pod_ips).await {
            Ok(()) => {
                self.failures.remove(&name);
            }
            Err((reason, message)) => {
                warn!(pod = %key(pod), container = %name, %reason, %message, "container not started");
                self.failures.insert(name, (reason, message));
            }
        }
    }

    async fn try_start(
        &mut self,
        pod: &Pod,
        container: &Container,
        restart_count: u32,
        sandbox_id: &str,
        sandbox_config: &PodSandboxConfig,
        pod_ips: &[String],
    ) -> Result<(), (String, String)> {
        let ctx = self.ctx.clone();
        let image = self.ensure_image(pod, container).await?;
        let envs = crate::env::container_env(&ctx.api, pod, container, pod_ips, &ctx.host_ips, &ctx.allocatable)
            .await
            .map_err(|e| (CREATE_CONTAINER_CONFIG_ERROR.to_owned(), e.to_string()))?;
        let (command, args) = crate::env::command_and_args(container, &envs);
        let mounts = crate::volumes::mounts(container, self.volumes.as_ref().unwrap_or(&BTreeMap::new()));
        let config = ContainerConfig {
            metadata: ContainerMetadata { name: container.name.clone(), attempt: restart_count },
            image,
            command,
            args,
            working_dir: container.working_dir.clone().unwrap_or_default(),
            envs,
            mounts,
            labels: container_labels(pod, container, restart_count),
            annotations: Labels::new(),
            log_path: format!("{}/{restart_count}.log", container.name),
            resources: Some(crate::env::linux_resources(pod, container, ctx.node_memory)),
        };
        let id = ctx.runtime.create_container(sandbox_id, &config, sandbox_config).await.map_err(|e| {
            let message = format!("Error: {e}");
            ctx.event(pod, EventType::Warning, "Failed", &message);
            (CREATE_CONTAINER_ERROR.to_owned(), message)
        })?;
        ctx.event(pod, EventType::Normal, "Created", &format!("Created container {}", container.name));
        ctx.runtime.start_container(&id).await.map_err(|e| {
            let message = format!("Error: failed to start container \"{}\": {e}", container.name);
            ctx.event(pod, EventType::Warning, "Failed", &message);
            (RUN_CONTAINER_ERROR.to_owned(), message)
        })?;
        ctx.event(pod, EventType::Normal, "Started", &format!("Started container {}", container.name));
        if let Some(hook) = container.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) {
            let pod_ip = pod_ips.first().and_then(|ip| ip.parse().ok());
            let grace = pod_grace_period(pod);
            if let Err(message) =
                run_hook(hook, container, &id, pod_ip, ctx.runtime.as_ref(), ctx.prober.as_ref(), grace).await
            {
                ctx.event(pod, EventType::Warning, "FailedPostStartHook", &format!("PostStartHook failed: {message}"));
                // As the kubelet does: a container whose postStart failed is
                // killed, and restarted per the policy.
                let _ = stop_gracefully(container, &id, pod_ip, ctx.runtime.as_ref(), ctx.prober.as_ref(), grace).await;
            }
        }
        Ok(())
    }

    /// Runs the probes that are due; the results by container.
    async fn run_probes(&mut self, pod: &Pod, view: &RuntimePod) -> ProbeResults {
        let now = self.now();
        let pod_ip = view.pod_ips().first().and_then(|ip| ip.parse::<IpAddr>().ok());
        let running: HashMap<&str, &cri::ContainerStatus> = pod
            .spec
            .containers
            .iter()
            .filter_map(|c| {
                view.latest(&c.name).filter(|s| s.state == ContainerState::Running).map(|s| (c.name.as_str(), s))
            })
            .collect();
        // Forget the probes of instances that no longer run.
        self.probes.retain(|(name, _), slot| running.get(name.as_str()).is_some_and(|s| s.id == slot.container_id));

        let mut due = Vec::new();
        for container in &pod.spec.containers {
            let Some(status) = running.get(container.name.as_str()) else { continue };
            let started = super::actions::cri_time(status.started_at).unwrap_or(now);
            let startup_passed = container.startup_probe.is_none()
                || self
                    .probes
                    .get(&(container.name.clone(), ProbeKind::Startup))
                    .is_some_and(|s| s.state.passed == Some(true));
            let kinds = [
                (ProbeKind::Startup, container.startup_probe.as_ref(), !startup_passed),
                (ProbeKind::Liveness, container.liveness_probe.as_ref(), startup_passed),
                (ProbeKind::Readiness, container.readiness_probe.as_ref(), startup_passed),
            ];
            for (kind, probe, active) in kinds {
                let Some(probe) = probe.filter(|_| active) else { continue };
                let slot = self.probes.entry((container.name.clone(), kind)).or_insert_with(|| ProbeSlot {
                    container_id: status.id.clone(),
                    state: ProbeState::new(kind, probe),
                });
                if slot.state.next_due(started) <= now {
                    due.push((container, kind, probe, status.id.clone()));
                }
            }
        }
        if !due.is_empty() {
            let ctx = self.ctx.clone();
            let outcomes = futures::future::join_all(due.iter().map(|(container, _, probe, id)| {
                let ctx = ctx.clone();
                async move { ctx.prober.probe(probe, container, id, pod_ip, ctx.runtime.as_ref()).await }
            }))
            .await;
            let now = self.now();
            for ((container, kind, _, _), outcome) in due.iter().zip(outcomes) {
                let Some(slot) = self.probes.get_mut(&(container.name.clone(), *kind)) else { continue };
                let changed = slot.state.record(&outcome, now);
                if let ProbeOutcome::Failure(message) = &outcome {
                    let what = match kind {
                        ProbeKind::Liveness => "Liveness",
                        ProbeKind::Readiness => "Readiness",
                        ProbeKind::Startup => "Startup",
                    };
                    ctx.event(pod, EventType::Warning, "Unhealthy", &format!("{what} probe failed: {message}"));
                }
                if changed && *kind == ProbeKind::Liveness && slot.state.passed == Some(false) {
                    ctx.event(
                        pod,
                        EventType::Normal,
                        "Killing",
                        &format!("Container {} failed liveness probe, will be restarted", container.name),
                    );
                }
            }
        }
        let mut results = ProbeResults::default();
        for container in &pod.spec.containers {
            let passed =
                |kind| self.probes.get(&(container.name.clone(), kind)).is_some_and(|s| s.state.passed == Some(true));
            if container.readiness_probe.is_some() {
                results.readiness.insert(container.name.clone(), passed(ProbeKind::Readiness));
            }
            if container.startup_probe.is_some() {
                results.startup.insert(container.name.clone(), passed(ProbeKind::Startup));
            }
        }
        results
    }

    /// Writes `status` if it differs from the one last written.
    async fn write_status(&mut self, pod: &Pod, status: PodStatus) {
        if self.deleted {
            return;
        }
        // A mirror pod may have been (re)created since the last write: its
        // own status is compared instead (write_mirror_status).
        if self.source == PodSource::Api && self.status.as_ref().is_some_and(|old| !status_changed(old, &status)) {
            return;
        }
        let result = match self.source {
            PodSource::Api => self.write_api_status(pod, &status).await,
            PodSource::Static => self.write_mirror_status(pod, &status).await,
        };
        match result {
            Ok(()) => self.status = Some(status),
            Err(e) if e.is_not_found() => self.status = Some(status),
            Err(e) => warn!(pod = %key(pod), error = %e, "cannot write the pod's status"),
        }
    }

    async fn write_api_status(&self, pod: &Pod, status: &PodStatus) -> Result<(), StoreError> {
        let pods: Api<Pod> = Api::with_client(self.ctx.api.clone(), Some(pod.metadata.namespace.clone()));
        let mut current = (*self.pod).clone();
        for _ in 0..5 {
            current.status = Some(status.clone());
            match pods.update_status(&current).await {
                Ok(_) => return Ok(()),
                Err(e) if e.is_conflict() => {
                    current = pods.get(&pod.metadata.name).await?;
                    if current.metadata.uid != pod.metadata.uid {
                        return Ok(());
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict {
            resource: "pods".into(),
            name: pod.metadata.name.clone(),
            message: "the pod kept changing".into(),
        })
    }

    async fn write_mirror_status(&self, pod: &Pod, status: &PodStatus) -> Result<(), StoreError> {
        let pods: Api<Pod> = Api::with_client(self.ctx.api.clone(), Some(pod.metadata.namespace.clone()));
        let Some(mut mirror) = pods.get_opt(&pod.metadata.name).await? else { return Ok(()) };
        if !static_pods::is_mirror(&mirror) || mirror.status.as_ref().is_some_and(|old| !status_changed(old, status)) {
            return Ok(());
        }
        mirror.status = Some(status.clone());
        pods.update_status(&mirror).await.map(|_| ())
    }

    /// The pod is being deleted and nothing runs: remove the sandbox,
    /// the object and the pod's files.
    async fn finish(&mut self, pod: &Pod, view: &RuntimePod) -> Step {
        let runtime = self.ctx.runtime.clone();
        for id in view.ready_sandbox_ids() {
            if let Err(e) = runtime.stop_pod_sandbox(&id).await {
                warn!(sandbox = %id, error = %e, "cannot stop sandbox");
                return Step::Continue;
            }
        }
        if self.source == PodSource::Api && !self.removed && !self.deleted {
            let pods: Api<Pod> = Api::with_client(self.ctx.api.clone(), Some(pod.metadata.namespace.clone()));
            let options = DeleteOptions {
                grace_period_seconds: Some(0),
                preconditions: Some(Preconditions { uid: Some(pod.metadata.uid.clone()), resource_version: None }),
                ..DeleteOptions::default()
            };
            match pods.delete(&pod.metadata.name, &options).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() || e.is_conflict() => {}
                Err(e) => {
                    warn!(pod = %key(pod), error = %e, "cannot delete the pod");
                    return Step::Continue;
                }
            }
            self.deleted = true;
        }
        for c in &view.containers {
            let _ = runtime.remove_container(&c.id).await;
        }
        for s in &view.sandboxes {
            if let Err(e) = runtime.remove_pod_sandbox(&s.id).await {
                warn!(sandbox = %s.id, error = %e, "cannot remove sandbox");
                return Step::Continue;
            }
        }
        if let Err(e) = self.ctx.volumes.cleanup(&pod.metadata.uid) {
            warn!(pod = %key(pod), error = %e, "cannot remove the pod's directory");
        }
        let _ = std::fs::remove_dir_all(self.sandbox_config(pod, 0).log_directory);
        self.backoff.forget_pod(&pod.metadata.uid);
        debug!(pod = %key(pod), "pod removed from the node");
        Step::Finished
    }
}

/// Whether two versions of a pod differ at most in their status (and the
/// resource version and field managers that come with a status write).
fn same_but_status(a: &Pod, b: &Pod) -> bool {
    let strip = |p: &Pod| {
        let mut p = p.clone();
        p.status = None;
        p.metadata.resource_version.clear();
        p.metadata.managed_fields.clear();
        p
    };
    strip(a) == strip(b)
}

/// The sandbox's DNS settings under `dnsPolicy: None`: the pod's
/// `dnsConfig` alone. Other policies give none, and the runtime leaves the
/// node's own resolver configuration.
fn pod_dns_config(pod: &Pod) -> Option<cri::DnsConfig> {
    if pod.spec.dns_policy.as_deref() != Some("None") {
        return None;
    }
    let config = pod.spec.dns_config.clone().unwrap_or_default();
    let options = config
        .options
        .iter()
        .filter_map(|o| {
            let name = o.name.as_deref().filter(|n| !n.is_empty())?;
            Some(o.value.as_ref().map_or_else(|| name.to_owned(), |v| format!("{name}:{v}")))
        })
        .collect();
    Some(cri::DnsConfig { servers: config.nameservers, searches: config.searches, options })
}

/// `namespace/name`.
pub(crate) fn key(pod: &Pod) -> String {
    format!("{}/{}", pod.metadata.namespace, pod.metadata.name)
}

/// The spec of the container `name` (init or app), or a bare one for an
/// instance the spec no longer names.
fn find_container(pod: &Pod, name: &str) -> Container {
    pod.spec
        .containers
        .iter()
        .chain(&pod.spec.init_containers)
        .find(|c| c.name == name)
        .cloned()
        .unwrap_or_else(|| Container { name: name.to_owned(), ..Container::default() })
}

/// The runtime's view of the pod with uid `uid`.
pub async fn runtime_view(runtime: &dyn cri::RuntimeService, uid: &str) -> CriResult<RuntimePod> {
    let selector = Labels::from([(POD_UID_LABEL.to_owned(), uid.to_owned())]);
    let sandboxes =
        runtime.list_pod_sandbox(&PodSandboxFilter { label_selector: selector.clone(), ..Default::default() }).await?;
    let mut view = RuntimePod::default();
    for s in sandboxes {
        match runtime.pod_sandbox_status(&s.id).await {
            Ok(status) => view.sandboxes.push(status),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    let containers =
        runtime.list_containers(&ContainerFilter { label_selector: selector, ..Default::default() }).await?;
    for c in containers {
        match runtime.container_status(&c.id).await {
            Ok(status) => view.containers.push(status),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(view)
}

/// Removes what the runtime runs for a pod no longer wanted (the
/// housekeeping of pods deleted while the agent was away): every
/// container and sandbox labelled with `uid`.
pub async fn remove_runtime_pod(runtime: &dyn cri::RuntimeService, uid: &str, grace: Duration) -> CriResult<()> {
    let view = runtime_view(runtime, uid).await?;
    for c in view.containers.iter().filter(|c| c.state == ContainerState::Running) {
        runtime.stop_container(&c.id, grace).await?;
    }
    for c in &view.containers {
        runtime.remove_container(&c.id).await?;
    }
    for s in &view.sandboxes {
        runtime.stop_pod_sandbox(&s.id).await?;
        runtime.remove_pod_sandbox(&s.id).await?;
    }
    Ok(())
}

impl Context {
    /// Records an event about `pod` in the background (events never hold
    /// a sync up).
    pub(crate) fn event(&self, pod: &Pod, type_: EventType, reason: &str, message: &str) {
        let Some(recorder) = self.events.clone() else { return };
        let reference = k_runtime::events::reference_to(pod);
        let (reason, message) = (reason.to_owned(), message.to_owned());
        tokio::spawn(async move {
            let _ = recorder.publish(&reference, type_, &reason, &message).await;
        });
    }
}
