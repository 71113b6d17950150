//! The Deployment controller (apps/v1): rolls a Deployment's pod template
//! out through ReplicaSets, as kube-controller-manager's.
//!
//! The reconciler only manages ReplicaSets; their pods are made by the
//! ReplicaSet controller ([`crate::replicaset`]). Each reconcile of a
//! Deployment:
//!
//! 1. **Claims** the ReplicaSets of its namespace with [`claim`]: those it
//!    controls stay while their labels match its selector and are released
//!    otherwise; orphans whose labels match are adopted. A Deployment with
//!    an empty selector (which would select everything) is refused with a
//!    `SelectingAll` warning.
//! 2. Finds the **new ReplicaSet**: the oldest owned ReplicaSet whose
//!    template equals the Deployment's, ignoring the `pod-template-hash`
//!    label. When there is none (and the rollout may proceed) one is
//!    created, named `<deployment>-<hash>` where the hash is
//!    [`template_hash`] of the template and `status.collisionCount`; the
//!    label `pod-template-hash=<hash>` is added to its selector, its
//!    template's labels and its own labels. If that name is taken by a
//!    ReplicaSet with another template, `collisionCount` is bumped and the
//!    creation retried. A rollback (`kubectl rollout undo` writes an old
//!    ReplicaSet's template back into the Deployment) thus finds and reuses
//!    the old ReplicaSet rather than creating one.
//! 3. **Revisions**: the new ReplicaSet gets `deployment.kubernetes.io/revision`
//!    one more than the highest of the old ones (its former revision is
//!    appended to `deployment.kubernetes.io/revision-history`); the
//!    Deployment carries the revision of its new ReplicaSet. The
//!    Deployment's own annotations (such as `kubernetes.io/change-cause`) are
//!    copied onto the new ReplicaSet, except the controller's own and
//!    `kubectl.kubernetes.io/last-applied-configuration`.
//! 4. **Scaling** (when the Deployment is paused, or when its `replicas`
//!    differ from the `deployment.kubernetes.io/desired-replicas` annotation
//!    of an active ReplicaSet): the only active ReplicaSet (or the newest,
//!    when none is) takes the whole size; a saturated new ReplicaSet makes
//!    the old ones scale to zero; otherwise, for rolling updates, the change
//!    of `replicas + maxSurge` is spread **proportionally** over the active
//!    ReplicaSets by their share of the `deployment.kubernetes.io/max-replicas`
//!    annotation (growing: largest, then newest first; shrinking: largest,
//!    then oldest first; the rounding leftover goes to the first).
//! 5. **Rolling update** (`maxSurge` rounded up and `maxUnavailable` rounded
//!    down from their percentages of `replicas`, defaults 25%; both zero
//!    makes `maxUnavailable` 1): the new ReplicaSet grows while the sum of
//!    all ReplicaSets' replicas stays within `replicas + maxSurge`; old
//!    ReplicaSets shrink, first their unhealthy (unavailable) replicas,
//!    oldest ReplicaSet first, then available ones while at least
//!    `replicas - maxUnavailable` stay available (counting the new
//!    ReplicaSet's unavailable pods as lost).
//!    **Recreate**: the old ReplicaSets are scaled to zero, and the new one
//!    is created (or scaled up) only when no pod of an old ReplicaSet runs
//!    any more (pods in `Failed` or `Succeeded` do not count, terminating
//!    ones do).
//! 6. **Cleanup**, once the rollout is complete (or while paused): the
//!    oldest (by revision) old ReplicaSets beyond `revisionHistoryLimit`
//!    (default 10) that have no replicas, no pods and are fully observed are
//!    deleted.
//! 7. **Status**: `observedGeneration`, `replicas`, `updatedReplicas`,
//!    `readyReplicas`, `availableReplicas`, `unavailableReplicas` (from the
//!    ReplicaSets' statuses, which count availability after
//!    `minReadySeconds`, copied onto every ReplicaSet), `collisionCount`,
//!    and the conditions `Available` (`MinimumReplicasAvailable` /
//!    `MinimumReplicasUnavailable`: at least `replicas - maxUnavailable`
//!    available), `Progressing` (`NewReplicaSetCreated`,
//!    `FoundNewReplicaSet`, `ReplicaSetUpdated` each time the rollout
//!    advances, `NewReplicaSetAvailable` when it is complete,
//!    `ProgressDeadlineExceeded` when it made no progress for
//!    `progressDeadlineSeconds` (default 600; the Deployment is requeued at
//!    the deadline), `DeploymentPaused` / `DeploymentResumed` as
//!    `spec.paused` changes) and `ReplicaFailure` (copied from a
//!    ReplicaSet's). This is what `kubectl rollout status` reads.
//!
//! Events `ScalingReplicaSet` ("Scaled up replica set X from A to B") and
//! `SelectingAll` are recorded on the Deployment.
//!
//! Not covered: the deprecated `extensions/v1beta1` `rollbackTo` field
//! (apps/v1 has none), the length limit of the revision-history
//! annotation, and the `terminatingReplicas` status field.

use std::cmp::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use k_api_types::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec};
use k_api_types::core::v1::{Pod, PodTemplateSpec};
use k_api_types::intstr::{IntOrString, IntOrStringError};
use k_api_types::meta::{DeleteOptions, LabelSelector, ObjectMeta, Preconditions, Time};
use k_api_types::selector::label::Selector;
use k_runtime::clock::{Clock, SystemClock};
use k_runtime::controller::{Action, Context, Controller, Reconciler};
use k_runtime::events::{EventType, Recorder, reference_to};
use k_runtime::informer::InformerFactory;
use k_runtime::manager::Manager;
use k_runtime::owner::owner_reference;
use k_runtime::reflector::{Store, key_of};
use k_store::{Api, ObjectApi, StoreError};

use crate::util::{claim, claim_candidates, phase, template_hash};

/// The label naming the template hash of a ReplicaSet and its pods.
pub const LABEL_POD_TEMPLATE_HASH: &str = "pod-template-hash";
/// The revision of a ReplicaSet, and of the Deployment (its new ReplicaSet's).
pub const ANNOTATION_REVISION: &str = "deployment.kubernetes.io/revision";
/// The former revisions of a ReplicaSet reused by rollbacks (comma-separated).
pub const ANNOTATION_REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
/// The Deployment's `replicas` when a ReplicaSet was last scaled.
pub const ANNOTATION_DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
/// The Deployment's `replicas + maxSurge` when a ReplicaSet was last scaled.
pub const ANNOTATION_MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// Why the Deployment's template changed (copied onto its ReplicaSets).
pub const ANNOTATION_CHANGE_CAUSE: &str = "kubernetes.io/change-cause";
/// The default `revisionHistoryLimit`.
pub const DEFAULT_REVISION_HISTORY_LIMIT: i32 = 10;
/// The default `progressDeadlineSeconds`.
pub const DEFAULT_PROGRESS_DEADLINE_SECONDS: i32 = 600;

/// Condition types and reasons, as Kubernetes names them.
pub mod reasons {
    /// Condition type: at least `replicas - maxUnavailable` pods are available.
    pub const AVAILABLE: &str = "Available";
    /// Condition type: the rollout is progressing (or stuck).
    pub const PROGRESSING: &str = "Progressing";
    /// Condition type: creating or deleting pods fails.
    pub const REPLICA_FAILURE: &str = "ReplicaFailure";
    /// `Available` true.
    pub const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
    /// `Available` false.
    pub const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";
    /// `Progressing`: the new ReplicaSet was created.
    pub const NEW_REPLICA_SET_CREATED: &str = "NewReplicaSetCreated";
    /// `Progressing`: an existing ReplicaSet is the new one.
    pub const FOUND_NEW_REPLICA_SET: &str = "FoundNewReplicaSet";
    /// `Progressing`: the rollout advanced.
    pub const REPLICA_SET_UPDATED: &str = "ReplicaSetUpdated";
    /// `Progressing`: the rollout is complete.
    pub const NEW_REPLICA_SET_AVAILABLE: &str = "NewReplicaSetAvailable";
    /// `Progressing` false: no progress within `progressDeadlineSeconds`.
    pub const PROGRESS_DEADLINE_EXCEEDED: &str = "ProgressDeadlineExceeded";
    /// `Progressing` unknown: the Deployment is paused.
    pub const DEPLOYMENT_PAUSED: &str = "DeploymentPaused";
    /// `Progressing` unknown: the Deployment was resumed.
    pub const DEPLOYMENT_RESUMED: &str = "DeploymentResumed";
    /// `Progressing` false: the new ReplicaSet could not be created.
    pub const REPLICA_SET_CREATE_ERROR: &str = "ReplicaSetCreateError";
}
use reasons::*;

/// Annotations of the Deployment never copied onto its ReplicaSets.
const SKIPPED_ANNOTATIONS: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    ANNOTATION_REVISION,
    ANNOTATION_REVISION_HISTORY,
    ANNOTATION_DESIRED_REPLICAS,
    ANNOTATION_MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

/// Why a reconcile failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A read or write of the object API failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The new ReplicaSet's name is taken by one with another template;
    /// `status.collisionCount` was bumped for the next attempt.
    #[error("hash collision: replica set {0} exists with another template")]
    HashCollision(String),
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

fn desired(d: &Deployment) -> i32 {
    d.spec.replicas.unwrap_or(1)
}

fn is_recreate(d: &Deployment) -> bool {
    d.spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("Recreate")
}

fn paused(d: &Deployment) -> bool {
    d.spec.paused.unwrap_or(false)
}

/// The progress deadline, unless disabled (`i32::MAX`, as Kubernetes).
fn progress_deadline(d: &Deployment) -> Option<i32> {
    let seconds = d.spec.progress_deadline_seconds.unwrap_or(DEFAULT_PROGRESS_DEADLINE_SECONDS);
    (seconds != i32::MAX).then_some(seconds)
}

/// `maxSurge` and `maxUnavailable` resolved against `replicas` (surge
/// rounded up, unavailable down; both zero makes unavailable 1), as
/// Kubernetes' `ResolveFenceposts`.
///
/// # Errors
/// A value that is neither an integer nor a percentage.
pub fn resolve_fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    replicas: i32,
) -> Result<(i32, i32), IntOrStringError> {
    let default = IntOrString::String("25%".to_owned());
    let surge = max_surge.unwrap_or(&default).scaled_value(replicas, true)?;
    let mut unavailable = max_unavailable.unwrap_or(&default).scaled_value(replicas, false)?;
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    Ok((surge, unavailable))
}

/// The Deployment's surge and unavailability allowances (0 for Recreate;
/// unavailability at most `replicas`, 0 without replicas).
fn allowances(d: &Deployment) -> Result<(i32, i32), IntOrStringError> {
    if is_recreate(d) {
        return Ok((0, 0));
    }
    let rolling = d.spec.strategy.as_ref().and_then(|s| s.rolling_update.as_ref());
    let replicas = desired(d);
    let (surge, unavailable) = resolve_fenceposts(
        rolling.and_then(|r| r.max_surge.as_ref()),
        rolling.and_then(|r| r.max_unavailable.as_ref()),
        replicas,
    )?;
    let unavailable = if replicas == 0 { 0 } else { unavailable.min(replicas) };
    Ok((surge.max(0), unavailable.max(0)))
}

fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.replicas.unwrap_or(1)
}

fn status_replicas(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().map_or(0, |s| s.replicas)
}

fn available_replicas(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0)
}

fn ready_replicas(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0)
}

fn annotation_i32(rs: &ReplicaSet, key: &str) -> Option<i32> {
    rs.metadata.annotations.get(key).and_then(|v| v.parse().ok())
}

/// A ReplicaSet's revision (0 when it has none or it is not a number).
fn revision(rs: &ReplicaSet) -> i64 {
    rs.metadata.annotations.get(ANNOTATION_REVISION).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Whether two templates are equal but for the `pod-template-hash` label.
fn equal_ignoring_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    let strip = |t: &PodTemplateSpec| {
        let mut t = t.clone();
        t.metadata.labels.remove(LABEL_POD_TEMPLATE_HASH);
        t
    };
    strip(a) == strip(b)
}

/// Oldest first, ties by name.
fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    a.metadata
        .creation_timestamp
        .cmp(&b.metadata.creation_timestamp)
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

fn sum(sets: &[&ReplicaSet], f: fn(&ReplicaSet) -> i32) -> i32 {
    sets.iter().map(|rs| f(rs)).fold(0i32, i32::saturating_add)
}

/// Sets the desired- and max-replicas annotations; whether they changed.
fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let mut changed = false;
    for (key, value) in [(ANNOTATION_DESIRED_REPLICAS, desired), (ANNOTATION_MAX_REPLICAS, max)] {
        let value = value.to_string();
        if rs.metadata.annotations.get(key) != Some(&value) {
            rs.metadata.annotations.insert(key.to_owned(), value);
            changed = true;
        }
    }
    changed
}

/// Copies the Deployment's annotations (but the skipped ones) and gives
/// the ReplicaSet `new_revision` if it is higher than its own; whether
/// anything changed.
fn set_new_rs_annotations(d: &Deployment, rs: &mut ReplicaSet, new_revision: i64) -> bool {
    let mut changed = false;
    for (key, value) in &d.metadata.annotations {
        if SKIPPED_ANNOTATIONS.contains(&key.as_str()) || rs.metadata.annotations.get(key) == Some(value) {
            continue;
        }
        rs.metadata.annotations.insert(key.clone(), value.clone());
        changed = true;
    }
    let old = rs.metadata.annotations.get(ANNOTATION_REVISION).cloned().unwrap_or_default();
    if old.parse::<i64>().unwrap_or(0) < new_revision {
        rs.metadata.annotations.insert(ANNOTATION_REVISION.to_owned(), new_revision.to_string());
        changed = true;
        if !old.is_empty() {
            let history = match rs.metadata.annotations.get(ANNOTATION_REVISION_HISTORY) {
                Some(h) if !h.is_empty() => format!("{h},{old}"),
                _ => old,
            };
            rs.metadata.annotations.insert(ANNOTATION_REVISION_HISTORY.to_owned(), history);
        }
    }
    changed
}

fn condition<'a>(status: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    status.conditions.iter().find(|c| c.type_ == type_)
}

/// Sets a condition unless one of the same status and reason is there
/// (keeping the transition time when only the reason changes).
fn set_condition(status: &mut DeploymentStatus, mut new: DeploymentCondition) {
    if let Some(current) = condition(status, &new.type_) {
        if current.status == new.status && current.reason == new.reason {
            return;
        }
        if current.status == new.status {
            new.last_transition_time = current.last_transition_time;
        }
    }
    status.conditions.retain(|c| c.type_ != new.type_);
    status.conditions.push(new);
}

fn remove_condition(status: &mut DeploymentStatus, type_: &str) {
    status.conditions.retain(|c| c.type_ != type_);
}

// ---------------------------------------------------------------------------
// The reconciler
// ---------------------------------------------------------------------------

/// The Deployment controller's reconciler (see the
/// [module documentation](self)).
pub struct DeploymentReconciler {
    informers: Arc<InformerFactory>,
    clock: Arc<dyn Clock>,
    recorder: Recorder,
}

impl std::fmt::Debug for DeploymentReconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeploymentReconciler").finish_non_exhaustive()
    }
}

impl DeploymentReconciler {
    /// A reconciler reading ReplicaSets and pods from `informers`' caches,
    /// recording events through `api` and telling time (conditions,
    /// progress deadlines) by `clock`.
    pub fn new(api: Arc<dyn ObjectApi>, informers: Arc<InformerFactory>, clock: Arc<dyn Clock>) -> Self {
        let recorder = Recorder::with_clock(api, "deployment-controller", "", clock.clone());
        DeploymentReconciler { informers, clock, recorder }
    }

    fn sets(&self) -> Store<ReplicaSet> {
        self.informers.informer::<ReplicaSet>(None, None, None).store()
    }

    fn pods(&self) -> Store<Pod> {
        self.informers.informer::<Pod>(None, None, None).store()
    }

    /// Its controller: Deployments, woken by their ReplicaSets, by orphan
    /// ReplicaSets their selectors match, and (for Recreate) by the pods of
    /// their ReplicaSets (run it with this reconciler).
    pub fn controller(&self) -> Controller<Deployment> {
        let factory = self.informers.clone();
        let deployments: Arc<OnceLock<Store<Deployment>>> = Arc::default();
        let sets: OnceLock<Store<ReplicaSet>> = OnceLock::new();
        let (orphan_factory, orphan_deployments) = (factory.clone(), deployments.clone());
        let deployments_of = move |f: &InformerFactory| {
            deployments.get_or_init(|| f.informer::<Deployment>(None, None, None).store()).clone()
        };
        Controller::<Deployment>::new(self.informers.clone(), None)
            .named("deployment")
            .owns::<ReplicaSet>()
            .watches::<ReplicaSet>(None, move |rs: &ReplicaSet| {
                if rs.metadata.controller().is_some() {
                    return Vec::new();
                }
                let store =
                    orphan_deployments.get_or_init(|| orphan_factory.informer::<Deployment>(None, None, None).store());
                store
                    .in_namespace(&rs.metadata.namespace)
                    .iter()
                    .filter(|d| pod_selector(d).is_some_and(|s| s.matches(&rs.metadata.labels)))
                    .map(|d| key_of(&**d))
                    .collect()
            })
            .watches::<Pod>(None, move |pod: &Pod| {
                let Some(owner) = pod.metadata.controller().filter(|r| r.kind == "ReplicaSet") else {
                    return Vec::new();
                };
                let sets = sets.get_or_init(|| factory.informer::<ReplicaSet>(None, None, None).store());
                let Some(rs) = sets.get(&format!("{}/{}", pod.metadata.namespace, owner.name)) else {
                    return Vec::new();
                };
                let Some(d) = rs.metadata.controller().filter(|r| r.kind == "Deployment") else {
                    return Vec::new();
                };
                let key = format!("{}/{}", pod.metadata.namespace, d.name);
                // Only Recreate waits for pods.
                let store = deployments_of(&factory);
                if store.get(&key).is_some_and(|d| is_recreate(&d)) { vec![key] } else { Vec::new() }
            })
            .clock(self.clock.clone())
            .workers(5)
    }

    async fn event(&self, d: &Deployment, type_: EventType, reason: &str, message: &str) {
        if let Err(e) = self.recorder.publish(&reference_to(d), type_, reason, message).await {
            tracing::debug!(error = %e, reason, "event not recorded");
        }
    }
}

/// The Deployment's selector, unless missing, invalid or empty.
fn pod_selector(d: &Deployment) -> Option<Selector> {
    let selector = Selector::try_from(d.spec.selector.as_ref()?).ok()?;
    (!selector.is_empty()).then_some(selector)
}

/// One reconcile of one Deployment: its current state and the APIs.
struct Sync<'a> {
    r: &'a DeploymentReconciler,
    d: Deployment,
    sets_api: Api<ReplicaSet>,
    deployments: Api<Deployment>,
    /// Owned ReplicaSets (kept up to date with this reconcile's writes).
    sets: Vec<ReplicaSet>,
    surge: i32,
    unavailable: i32,
    requeue: Option<Duration>,
}

impl Sync<'_> {
    fn now(&self) -> Time {
        let wall = self.r.clock.wall();
        Time(chrono::DateTime::from_timestamp(wall.timestamp(), 0).unwrap_or(wall))
    }

    fn new_condition(&self, type_: &str, status: &str, reason: &str, message: String) -> DeploymentCondition {
        let now = self.now();
        DeploymentCondition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            last_update_time: Some(now),
            last_transition_time: Some(now),
            reason: Some(reason.to_owned()),
            message: Some(message),
        }
    }

    fn status(&self) -> DeploymentStatus {
        self.d.status.clone().unwrap_or_default()
    }

    /// Writes the status if it changed.
    async fn write_status(&mut self, status: DeploymentStatus) -> Result<(), Error> {
        if self.d.status.as_ref() == Some(&status) {
            return Ok(());
        }
        let written = self
            .deployments
            .guaranteed_update_status(&self.d.metadata.name, |d| d.status = Some(status.clone()))
            .await?;
        self.d.status = written.status;
        Ok(())
    }

    /// Gives the Deployment the revision annotation `revision`.
    async fn set_deployment_revision(&mut self, revision: &str) -> Result<(), Error> {
        if self.d.metadata.annotations.get(ANNOTATION_REVISION).map(String::as_str) == Some(revision) {
            return Ok(());
        }
        let written = self
            .deployments
            .guaranteed_update(&self.d.metadata.name, |d| {
                d.metadata.annotations.insert(ANNOTATION_REVISION.to_owned(), revision.to_owned());
            })
            .await?;
        self.d.metadata.annotations = written.metadata.annotations;
        self.d.metadata.resource_version = written.metadata.resource_version;
        Ok(())
    }

    /// Replaces a ReplicaSet of `sets` by its written version.
    fn remember(&mut self, rs: ReplicaSet) {
        match self.sets.iter_mut().find(|s| s.metadata.uid == rs.metadata.uid) {
            Some(slot) => *slot = rs,
            None => self.sets.push(rs),
        }
    }

    /// The index of the new ReplicaSet: the oldest whose template is the
    /// Deployment's.
    fn find_new(&self) -> Option<usize> {
        let mut candidates: Vec<usize> = (0..self.sets.len())
            .filter(|&i| equal_ignoring_hash(&self.sets[i].spec.template, &self.d.spec.template))
            .collect();
        candidates.sort_by(|&a, &b| by_creation(&self.sets[a], &self.sets[b]));
        candidates.first().copied()
    }

    /// The new ReplicaSet (by uid) and the old ones (all others).
    fn split(&self, new: Option<&str>) -> (Option<ReplicaSet>, Vec<ReplicaSet>) {
        let mut old = Vec::new();
        let mut found = None;
        for rs in &self.sets {
            if Some(rs.metadata.uid.as_str()) == new {
                found = Some(rs.clone());
            } else {
                old.push(rs.clone());
            }
        }
        (found, old)
    }

    /// Finds the new ReplicaSet (syncing its annotations, its
    /// `minReadySeconds` and the Deployment's revision), or creates it when
    /// `create`. Returns its uid.
    async fn new_replica_set(&mut self, create: bool) -> Result<Option<String>, Error> {
        let existing = self.find_new();
        let max_old_revision = self
            .sets
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != existing)
            .map(|(_, rs)| revision(rs))
            .max()
            .unwrap_or(0);
        let new_revision = max_old_revision + 1;
        let min_ready = self.d.spec.min_ready_seconds;
        if let Some(i) = existing {
            let mut rs = self.sets[i].clone();
            let annotated = set_new_rs_annotations(&self.d, &mut rs, new_revision);
            let min_ready_changed = rs.spec.min_ready_seconds.unwrap_or(0) != min_ready.unwrap_or(0);
            if annotated || min_ready_changed {
                rs.spec.min_ready_seconds = min_ready;
                rs = self.sets_api.update(&rs).await?;
                self.remember(rs.clone());
            }
            let rs_revision = rs.metadata.annotations.get(ANNOTATION_REVISION).cloned().unwrap_or_default();
            self.set_deployment_revision(&rs_revision).await?;
            let mut status = self.status();
            if progress_deadline(&self.d).is_some() && condition(&status, PROGRESSING).is_none() {
                let message = format!("Found new replica set \"{}\"", rs.metadata.name);
                set_condition(&mut status, self.new_condition(PROGRESSING, "True", FOUND_NEW_REPLICA_SET, message));
                self.write_status(status).await?;
            }
            return Ok(Some(rs.metadata.uid));
        }
        if !create {
            return Ok(None);
        }
        let mut status = self.status();
        let collision_count = status.collision_count;
        let hash = template_hash(&self.d.spec.template, collision_count);
        let mut template = self.d.spec.template.clone();
        template.metadata.labels.insert(LABEL_POD_TEMPLATE_HASH.to_owned(), hash.clone());
        let mut selector: LabelSelector = self.d.spec.selector.clone().unwrap_or_default();
        selector.match_labels.insert(LABEL_POD_TEMPLATE_HASH.to_owned(), hash.clone());
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: format!("{}-{hash}", self.d.metadata.name),
                namespace: self.d.metadata.namespace.clone(),
                labels: template.metadata.labels.clone(),
                owner_references: vec![owner_reference(&self.d, true)],
                ..Default::default()
            },
            spec: ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: min_ready,
                selector: Some(selector),
                template,
            },
            ..Default::default()
        };
        let replicas = {
            let others: Vec<&ReplicaSet> = self.sets.iter().collect();
            self.new_rs_replicas(&others, &rs)
        };
        rs.spec.replicas = Some(replicas);
        set_new_rs_annotations(&self.d, &mut rs, new_revision);
        set_replicas_annotations(&mut rs, desired(&self.d), desired(&self.d).saturating_add(self.surge));
        let (created, already_existed) = match self.sets_api.create(&rs).await {
            Ok(created) => (created, false),
            Err(e) if e.is_already_exists() => {
                let current = self.sets_api.get_opt(&rs.metadata.name).await?;
                match current {
                    Some(current)
                        if current.metadata.controller().is_some_and(|r| r.uid == self.d.metadata.uid)
                            && equal_ignoring_hash(&current.spec.template, &self.d.spec.template) =>
                    {
                        (current, true)
                    }
                    _ => {
                        status.collision_count = Some(collision_count.unwrap_or(0).saturating_add(1));
                        self.write_status(status).await?;
                        return Err(Error::HashCollision(rs.metadata.name));
                    }
                }
            }
            Err(e) => {
                if progress_deadline(&self.d).is_some() {
                    let message = format!("Failed to create new replica set \"{}\": {e}", rs.metadata.name);
                    let c = self.new_condition(PROGRESSING, "False", REPLICA_SET_CREATE_ERROR, message);
                    set_condition(&mut status, c);
                    self.write_status(status).await?;
                }
                return Err(e.into());
            }
        };
        if !already_existed && replicas > 0 {
            let message = format!("Scaled up replica set {} from 0 to {replicas}", created.metadata.name);
            self.r.event(&self.d, EventType::Normal, "ScalingReplicaSet", &message).await;
        }
        self.remember(created.clone());
        self.set_deployment_revision(&new_revision.to_string()).await?;
        if !already_existed && progress_deadline(&self.d).is_some() {
            let mut status = self.status();
            let message = format!("Created new replica set \"{}\"", created.metadata.name);
            set_condition(&mut status, self.new_condition(PROGRESSING, "True", NEW_REPLICA_SET_CREATED, message));
            self.write_status(status).await?;
        }
        Ok(Some(created.metadata.uid))
    }

    /// How many replicas the new ReplicaSet may have now (Kubernetes'
    /// `NewRSNewReplicas`); `all` are every ReplicaSet but `new`.
    fn new_rs_replicas(&self, all: &[&ReplicaSet], new: &ReplicaSet) -> i32 {
        let replicas = desired(&self.d);
        if is_recreate(&self.d) {
            return replicas;
        }
        let current = sum(all, spec_replicas).saturating_add(spec_replicas(new));
        let max_total = replicas.saturating_add(self.surge);
        if current >= max_total {
            return spec_replicas(new);
        }
        let up = (max_total - current).min(replicas - spec_replicas(new));
        spec_replicas(new) + up.max(0)
    }

    /// Scales `rs` (by uid) to `to`, refreshing its replica annotations;
    /// records the event when the size changed.
    async fn scale(&mut self, uid: &str, to: i32) -> Result<bool, Error> {
        let Some(mut rs) = self.sets.iter().find(|s| s.metadata.uid == uid).cloned() else {
            return Ok(false);
        };
        let from = spec_replicas(&rs);
        let resized = from != to;
        let annotated =
            set_replicas_annotations(&mut rs, desired(&self.d), desired(&self.d).saturating_add(self.surge));
        if !resized && !annotated {
            return Ok(false);
        }
        rs.spec.replicas = Some(to);
        let written = self.sets_api.update(&rs).await?;
        let name = written.metadata.name.clone();
        self.remember(written);
        if resized {
            let direction = if to > from { "up" } else { "down" };
            let message = format!("Scaled {direction} replica set {name} from {from} to {to}");
            self.r.event(&self.d, EventType::Normal, "ScalingReplicaSet", &message).await;
        }
        Ok(resized)
    }

    /// Scales only when the size changes (Kubernetes'
    /// `scaleReplicaSetAndRecordEvent`).
    async fn scale_if_needed(&mut self, uid: &str, to: i32) -> Result<bool, Error> {
        let current = self.sets.iter().find(|s| s.metadata.uid == uid).map(spec_replicas);
        if current.is_none_or(|c| c == to) {
            return Ok(false);
        }
        self.scale(uid, to).await
    }

    fn get(&self, uid: &str) -> Option<&ReplicaSet> {
        self.sets.iter().find(|s| s.metadata.uid == uid)
    }

    /// Whether `replicas` differ from an active ReplicaSet's
    /// desired-replicas annotation.
    fn is_scaling_event(&self) -> bool {
        let replicas = desired(&self.d);
        self.sets
            .iter()
            .filter(|rs| spec_replicas(rs) > 0)
            .filter_map(|rs| annotation_i32(rs, ANNOTATION_DESIRED_REPLICAS))
            .any(|d| d != replicas)
    }

    /// Scales the ReplicaSets to the Deployment's size (Kubernetes' `scale`).
    async fn scale_all(&mut self, new: Option<&str>) -> Result<(), Error> {
        let replicas = desired(&self.d);
        let (new_rs, mut old) = self.split(new);
        old.sort_by(|a, b| by_creation(b, a));
        let active: Vec<&ReplicaSet> = new_rs.iter().chain(old.iter()).filter(|rs| spec_replicas(rs) > 0).collect();
        let active_or_latest = match active.len() {
            0 => new_rs.as_ref().or(old.first()),
            1 => Some(active[0]),
            _ => None,
        };
        if let Some(rs) = active_or_latest {
            if spec_replicas(rs) != replicas {
                let uid = rs.metadata.uid.clone();
                self.scale_if_needed(&uid, replicas).await?;
            }
            return Ok(());
        }
        if let Some(new_rs) = &new_rs
            && spec_replicas(new_rs) == replicas
            && annotation_i32(new_rs, ANNOTATION_DESIRED_REPLICAS) == Some(replicas)
            && available_replicas(new_rs) == replicas
        {
            for rs in &old {
                self.scale_if_needed(&rs.metadata.uid, 0).await?;
            }
            return Ok(());
        }
        if is_recreate(&self.d) {
            return Ok(());
        }
        let mut all: Vec<ReplicaSet> = active.into_iter().cloned().collect();
        let current = sum(&all.iter().collect::<Vec<_>>(), spec_replicas);
        let allowed = if replicas > 0 { replicas.saturating_add(self.surge) } else { 0 };
        let to_add = allowed - current;
        match to_add.cmp(&0) {
            // Larger first, then newer.
            Ordering::Greater => {
                all.sort_by(|a, b| spec_replicas(b).cmp(&spec_replicas(a)).then_with(|| by_creation(b, a)))
            }
            // Larger first, then older.
            Ordering::Less => {
                all.sort_by(|a, b| spec_replicas(b).cmp(&spec_replicas(a)).then_with(|| by_creation(a, b)))
            }
            Ordering::Equal => {}
        }
        let mut added = 0;
        let mut sizes: Vec<i32> = Vec::with_capacity(all.len());
        for rs in &all {
            if to_add == 0 {
                sizes.push(spec_replicas(rs));
                continue;
            }
            let proportion = self.proportion(rs, to_add, added);
            sizes.push(spec_replicas(rs) + proportion);
            added += proportion;
        }
        if to_add != 0
            && let Some(first) = sizes.first_mut()
        {
            *first = (*first + to_add - added).max(0);
        }
        for (rs, size) in all.iter().zip(sizes) {
            self.scale(&rs.metadata.uid, size).await?;
        }
        Ok(())
    }

    /// The share of `to_add` for `rs` (Kubernetes' `GetProportion`).
    fn proportion(&self, rs: &ReplicaSet, to_add: i32, added: i32) -> i32 {
        if spec_replicas(rs) == 0 || to_add == 0 || to_add == added {
            return 0;
        }
        let fraction = self.fraction(rs);
        let allowed = to_add - added;
        if to_add > 0 { fraction.min(allowed) } else { fraction.max(allowed) }
    }

    /// How many replicas `rs` gains (or loses) to keep its share of the
    /// Deployment's new size (Kubernetes' `getReplicaSetFraction`).
    fn fraction(&self, rs: &ReplicaSet) -> i32 {
        let replicas = desired(&self.d);
        if replicas == 0 {
            return -spec_replicas(rs);
        }
        let size = f64::from(replicas.saturating_add(self.surge));
        let annotated = annotation_i32(rs, ANNOTATION_MAX_REPLICAS)
            .unwrap_or_else(|| self.d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0));
        if annotated <= 0 {
            return 0;
        }
        let scaled = (f64::from(spec_replicas(rs)) * size / f64::from(annotated)).round();
        // The product is bounded by i32 sizes; the cast saturates anyway.
        #[allow(clippy::cast_possible_truncation)]
        let scaled = scaled as i32;
        scaled - spec_replicas(rs)
    }

    /// Deletes the oldest old ReplicaSets beyond the history limit.
    async fn cleanup(&mut self, new: Option<&str>) -> Result<(), Error> {
        let limit = self.d.spec.revision_history_limit.unwrap_or(DEFAULT_REVISION_HISTORY_LIMIT).max(0);
        let (_, old) = self.split(new);
        let mut cleanable: Vec<ReplicaSet> =
            old.into_iter().filter(|rs| rs.metadata.deletion_timestamp.is_none()).collect();
        let excess = cleanable.len().saturating_sub(usize::try_from(limit).unwrap_or(0));
        if excess == 0 {
            return Ok(());
        }
        cleanable.sort_by(|a, b| revision(a).cmp(&revision(b)).then_with(|| by_creation(a, b)));
        for rs in cleanable.into_iter().take(excess) {
            let observed = rs.status.as_ref().and_then(|s| s.observed_generation).unwrap_or(0);
            if status_replicas(&rs) != 0 || spec_replicas(&rs) != 0 || rs.metadata.generation.unwrap_or(0) > observed {
                continue;
            }
            tracing::debug!(replicaset = %key_of(&rs), "deleting an old replica set beyond the history limit");
            let options = DeleteOptions {
                preconditions: Some(Preconditions { uid: Some(rs.metadata.uid.clone()), resource_version: None }),
                ..Default::default()
            };
            match self.sets_api.delete(&rs.metadata.name, &options).await {
                Err(e) if !e.is_not_found() => return Err(e.into()),
                _ => self.sets.retain(|s| s.metadata.uid != rs.metadata.uid),
            }
        }
        Ok(())
    }

    /// The status the ReplicaSets give (Kubernetes' `calculateStatus`).
    fn calculate_status(&self, new: Option<&str>) -> DeploymentStatus {
        let all: Vec<&ReplicaSet> = self.sets.iter().collect();
        let available = sum(&all, available_replicas);
        let total = sum(&all, status_replicas);
        let mut status = self.status();
        status.observed_generation = self.d.metadata.generation;
        status.replicas = Some(total);
        status.updated_replicas = Some(new.and_then(|uid| self.get(uid)).map_or(0, status_replicas));
        status.ready_replicas = Some(sum(&all, ready_replicas));
        status.available_replicas = Some(available);
        status.unavailable_replicas = Some((total - available).max(0));
        if available >= desired(&self.d) - self.unavailable {
            let c = self.new_condition(
                AVAILABLE,
                "True",
                MINIMUM_REPLICAS_AVAILABLE,
                "Deployment has minimum availability.".into(),
            );
            set_condition(&mut status, c);
        } else {
            let c = self.new_condition(
                AVAILABLE,
                "False",
                MINIMUM_REPLICAS_UNAVAILABLE,
                "Deployment does not have minimum availability.".into(),
            );
            set_condition(&mut status, c);
        }
        status
    }

    /// Writes the status only (scaling, paused or deleted Deployments).
    async fn sync_status(&mut self, new: Option<&str>) -> Result<(), Error> {
        let status = self.calculate_status(new);
        self.write_status(status).await
    }

    fn complete(&self, status: &DeploymentStatus) -> bool {
        let replicas = Some(desired(&self.d));
        status.updated_replicas == replicas
            && status.replicas == replicas
            && status.available_replicas == replicas
            && status.observed_generation >= self.d.metadata.generation
    }

    fn progressing(&self, new: &DeploymentStatus) -> bool {
        let old = self.status();
        let v = |x: Option<i32>| x.unwrap_or(0);
        let old_old = v(old.replicas) - v(old.updated_replicas);
        let new_old = v(new.replicas) - v(new.updated_replicas);
        v(new.updated_replicas) > v(old.updated_replicas)
            || new_old < old_old
            || v(new.ready_replicas) > v(old.ready_replicas)
            || v(new.available_replicas) > v(old.available_replicas)
    }

    /// When the Progressing condition's deadline passes (`None`: no deadline).
    fn deadline(&self, status: &DeploymentStatus) -> Option<chrono::DateTime<chrono::Utc>> {
        let seconds = progress_deadline(&self.d)?;
        let c = condition(status, PROGRESSING)?;
        let reason = c.reason.as_deref();
        if reason == Some(NEW_REPLICA_SET_AVAILABLE) || reason == Some(PROGRESS_DEADLINE_EXCEEDED) {
            return None;
        }
        Some(c.last_update_time?.0 + chrono::Duration::seconds(i64::from(seconds)))
    }

    fn timed_out(&self, status: &DeploymentStatus) -> bool {
        let c = condition(status, PROGRESSING);
        if progress_deadline(&self.d).is_none() || c.is_none() {
            return false;
        }
        if c.and_then(|c| c.reason.as_deref()) == Some(PROGRESS_DEADLINE_EXCEEDED) {
            return true;
        }
        self.deadline(status).is_some_and(|at| at < self.r.clock.wall())
    }

    /// Writes the rollout's status and conditions (Kubernetes'
    /// `syncRolloutStatus`), and requeues at the progress deadline.
    async fn sync_rollout_status(&mut self, new: Option<&str>) -> Result<(), Error> {
        let mut status = self.calculate_status(new);
        if progress_deadline(&self.d).is_none() {
            remove_condition(&mut status, PROGRESSING);
        }
        let current = condition(&status, PROGRESSING).cloned();
        let complete_before = status.replicas == status.updated_replicas
            && current.as_ref().and_then(|c| c.reason.as_deref()) == Some(NEW_REPLICA_SET_AVAILABLE);
        let subject = match new.and_then(|uid| self.get(uid)) {
            Some(rs) => format!("ReplicaSet \"{}\"", rs.metadata.name),
            None => format!("Deployment \"{}\"", self.d.metadata.name),
        };
        if progress_deadline(&self.d).is_some() && !complete_before {
            if self.complete(&status) {
                let message = format!("{subject} has successfully progressed.");
                set_condition(&mut status, self.new_condition(PROGRESSING, "True", NEW_REPLICA_SET_AVAILABLE, message));
            } else if self.progressing(&status) {
                let message = format!("{subject} is progressing.");
                let mut c = self.new_condition(PROGRESSING, "True", REPLICA_SET_UPDATED, message);
                if let Some(current) = &current
                    && current.status == "True"
                {
                    c.last_transition_time = current.last_transition_time;
                }
                remove_condition(&mut status, PROGRESSING);
                set_condition(&mut status, c);
            } else if self.timed_out(&status) {
                let message = format!("{subject} has timed out progressing.");
                set_condition(
                    &mut status,
                    self.new_condition(PROGRESSING, "False", PROGRESS_DEADLINE_EXCEEDED, message),
                );
            }
        }
        let failure = self.sets.iter().find_map(|rs| {
            rs.status.as_ref()?.conditions.iter().find(|c| c.type_ == REPLICA_FAILURE && c.status == "True").cloned()
        });
        match failure {
            Some(f) => set_condition(
                &mut status,
                DeploymentCondition {
                    type_: f.type_,
                    status: f.status,
                    last_update_time: f.last_transition_time,
                    last_transition_time: f.last_transition_time,
                    reason: f.reason,
                    message: f.message,
                },
            ),
            None => remove_condition(&mut status, REPLICA_FAILURE),
        }
        // Requeue at the deadline of a rollout still in progress.
        if !self.complete(&status)
            && let Some(at) = self.deadline(&status)
        {
            let wait = (at - self.r.clock.wall()).to_std().unwrap_or_default() + Duration::from_secs(1);
            self.requeue = Some(self.requeue.map_or(wait, |r| r.min(wait)));
        }
        self.write_status(status).await
    }

    /// Sets the Progressing condition as `spec.paused` changed.
    async fn check_paused_conditions(&mut self) -> Result<(), Error> {
        if progress_deadline(&self.d).is_none() {
            return Ok(());
        }
        let mut status = self.status();
        let reason = condition(&status, PROGRESSING).and_then(|c| c.reason.clone());
        if reason.as_deref() == Some(PROGRESS_DEADLINE_EXCEEDED) {
            return Ok(());
        }
        let paused_condition = reason.as_deref() == Some(DEPLOYMENT_PAUSED);
        if paused(&self.d) && !paused_condition {
            let c = self.new_condition(PROGRESSING, "Unknown", DEPLOYMENT_PAUSED, "Deployment is paused".into());
            set_condition(&mut status, c);
        } else if !paused(&self.d) && paused_condition {
            let c = self.new_condition(PROGRESSING, "Unknown", DEPLOYMENT_RESUMED, "Deployment is resumed".into());
            set_condition(&mut status, c);
        } else {
            return Ok(());
        }
        self.write_status(status).await
    }

    /// Scaling only (paused Deployments and scaling events).
    async fn sync(&mut self) -> Result<(), Error> {
        let new = self.new_replica_set(false).await?;
        self.scale_all(new.as_deref()).await?;
        if paused(&self.d) {
            self.cleanup(new.as_deref()).await?;
        }
        self.sync_status(new.as_deref()).await
    }

    async fn rollout_rolling(&mut self) -> Result<(), Error> {
        let new = self.new_replica_set(true).await?;
        let new = new.as_deref();
        if self.reconcile_new(new).await? || self.reconcile_old(new).await? {
            return self.sync_rollout_status(new).await;
        }
        let status = self.calculate_status(new);
        if self.complete(&status) {
            self.cleanup(new).await?;
        }
        self.sync_rollout_status(new).await
    }

    /// Scales the new ReplicaSet up (within the surge) or down to the size.
    async fn reconcile_new(&mut self, new: Option<&str>) -> Result<bool, Error> {
        let Some(new_rs) = new.and_then(|uid| self.get(uid)).cloned() else {
            return Ok(false);
        };
        let replicas = desired(&self.d);
        match spec_replicas(&new_rs).cmp(&replicas) {
            Ordering::Equal => Ok(false),
            Ordering::Greater => self.scale_if_needed(&new_rs.metadata.uid, replicas).await,
            Ordering::Less => {
                let others: Vec<&ReplicaSet> =
                    self.sets.iter().filter(|s| s.metadata.uid != new_rs.metadata.uid).collect();
                let count = self.new_rs_replicas(&others, &new_rs);
                self.scale_if_needed(&new_rs.metadata.uid, count).await
            }
        }
    }

    /// Scales old ReplicaSets down while enough pods stay available.
    async fn reconcile_old(&mut self, new: Option<&str>) -> Result<bool, Error> {
        let (new_rs, old) = self.split(new);
        let old_refs: Vec<&ReplicaSet> = old.iter().collect();
        if sum(&old_refs, spec_replicas) == 0 {
            return Ok(false);
        }
        let all: Vec<&ReplicaSet> = self.sets.iter().collect();
        let all_pods = sum(&all, spec_replicas);
        let min_available = desired(&self.d) - self.unavailable;
        let new_unavailable = new_rs.as_ref().map_or(0, |rs| spec_replicas(rs) - available_replicas(rs));
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok(false);
        }
        // Unhealthy replicas first, oldest ReplicaSet first.
        let mut old = old;
        old.sort_by(by_creation);
        let mut cleaned = 0;
        for rs in &old {
            if cleaned >= max_scaled_down {
                break;
            }
            let (replicas, available) = (spec_replicas(rs), available_replicas(rs));
            if replicas == 0 || replicas <= available {
                continue;
            }
            let down = (max_scaled_down - cleaned).min(replicas - available);
            self.scale_if_needed(&rs.metadata.uid, replicas - down).await?;
            cleaned += down;
        }
        // Then available ones, keeping the minimum available.
        let all: Vec<&ReplicaSet> = self.sets.iter().collect();
        let available = sum(&all, available_replicas);
        let mut scaled = 0;
        if available > min_available {
            let budget = available - min_available;
            let (_, mut old) = self.split(new);
            old.sort_by(by_creation);
            for rs in &old {
                if scaled >= budget {
                    break;
                }
                let replicas = spec_replicas(rs);
                if replicas == 0 {
                    continue;
                }
                let down = replicas.min(budget - scaled);
                self.scale_if_needed(&rs.metadata.uid, replicas - down).await?;
                scaled += down;
            }
        }
        Ok(cleaned + scaled > 0)
    }

    /// Whether a pod of an old ReplicaSet may still run.
    fn old_pods_running(&self, new: Option<&str>, pods: &Store<Pod>) -> bool {
        let (_, old) = self.split(new);
        if sum(&old.iter().collect::<Vec<_>>(), status_replicas) > 0 {
            return true;
        }
        let old_uids: Vec<&str> = old.iter().map(|rs| rs.metadata.uid.as_str()).collect();
        pods.in_namespace(&self.d.metadata.namespace).iter().any(|pod| {
            pod.metadata.controller().is_some_and(|r| old_uids.contains(&r.uid.as_str()))
                && !matches!(phase(pod), "Failed" | "Succeeded")
        })
    }

    async fn rollout_recreate(&mut self, pods: &Store<Pod>) -> Result<(), Error> {
        let mut new = self.new_replica_set(false).await?;
        let (_, old) = self.split(new.as_deref());
        let mut scaled_down = false;
        for rs in old.iter().filter(|rs| spec_replicas(rs) > 0) {
            scaled_down |= self.scale_if_needed(&rs.metadata.uid, 0).await?;
        }
        if scaled_down || self.old_pods_running(new.as_deref(), pods) {
            return self.sync_rollout_status(new.as_deref()).await;
        }
        if new.is_none() {
            new = self.new_replica_set(true).await?;
        }
        if let Some(uid) = &new {
            self.scale_if_needed(uid, desired(&self.d)).await?;
        }
        let status = self.calculate_status(new.as_deref());
        if self.complete(&status) {
            self.cleanup(new.as_deref()).await?;
        }
        self.sync_rollout_status(new.as_deref()).await
    }
}

#[async_trait::async_trait]
impl Reconciler<Deployment> for DeploymentReconciler {
    type Error = Error;

    async fn reconcile(&self, object: Arc<Deployment>, ctx: &Context) -> Result<Action, Error> {
        let d = (*object).clone();
        let ns = d.metadata.namespace.clone();
        let deployments: Api<Deployment> = Api::with_client(ctx.api.clone(), Some(ns.clone()));
        let sets_api: Api<ReplicaSet> = Api::with_client(ctx.api.clone(), Some(ns.clone()));
        let Some(selector) = pod_selector(&d) else {
            if d.spec.selector.as_ref().is_some_and(|s| Selector::try_from(s).is_ok_and(|s| s.is_empty())) {
                let message = "This deployment is selecting all pods. A non-empty selector is required.";
                self.event(&d, EventType::Warning, "SelectingAll", message).await;
                if d.status.as_ref().and_then(|s| s.observed_generation) < d.metadata.generation {
                    let generation = d.metadata.generation;
                    let written = deployments
                        .guaranteed_update_status(&d.metadata.name, |d| {
                            d.status.get_or_insert_with(Default::default).observed_generation = generation;
                        })
                        .await;
                    match written {
                        Err(e) if !e.is_not_found() => return Err(e.into()),
                        _ => {}
                    }
                }
            } else {
                tracing::warn!(deployment = %key_of(&d), "no valid selector: nothing to do");
            }
            return Ok(Action::AwaitChange);
        };
        let (surge, unavailable) = match allowances(&d) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(deployment = %key_of(&d), error = %e, "invalid rolling update parameters");
                return Ok(Action::AwaitChange);
            }
        };
        let sets_cache = self.sets();
        let pods = self.pods();
        sets_cache.wait_until_synced().await;
        pods.wait_until_synced().await;
        let candidates = claim_candidates(&sets_cache, &d.metadata);
        let owned = claim(&d, &selector, candidates, &sets_api, &deployments).await?;
        let mut run = Sync {
            r: self,
            sets: owned.iter().map(|rs| (**rs).clone()).collect(),
            d,
            sets_api,
            deployments,
            surge,
            unavailable,
            requeue: None,
        };
        let result = run.run(&pods).await;
        match result {
            Err(Error::Store(e))
                if e.is_not_found() && run.deployments.get_opt(&run.d.metadata.name).await?.is_none() =>
            {
                Ok(Action::AwaitChange)
            }
            Err(e) => Err(e),
            Ok(()) => Ok(run.requeue.map_or(Action::AwaitChange, Action::RequeueAfter)),
        }
    }
}

impl Sync<'_> {
    async fn run(&mut self, pods: &Store<Pod>) -> Result<(), Error> {
        if self.d.metadata.deletion_timestamp.is_some() {
            let new = self.new_replica_set(false).await?;
            return self.sync_status(new.as_deref()).await;
        }
        self.check_paused_conditions().await?;
        if paused(&self.d) || self.is_scaling_event() {
            return self.sync().await;
        }
        if is_recreate(&self.d) { self.rollout_recreate(pods).await } else { self.rollout_rolling().await }
    }
}

/// Adds the Deployment controller to `manager` (system clock).
pub fn add_deployments(manager: &mut Manager) {
    let reconciler = DeploymentReconciler::new(manager.api(), manager.informers(), Arc::new(SystemClock));
    manager.add(reconciler.controller(), reconciler);
}

#[cfg(test)]
mod tests {
    use k_api_types::SortedMap;
    use k_api_types::apps::v1::{DeploymentSpec, DeploymentStrategy, ReplicaSetStatus, RollingUpdateDeployment};
    use k_api_types::core::v1::{Container, Event, PodSpec, PodStatus};
    use k_runtime::testing::TestEnv;
    use k_runtime::watcher::Config;
    use k_store::api::ListOptions;

    use super::*;

    const NS: &str = "default";

    fn labels(pairs: &[(&str, &str)]) -> SortedMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn template(image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: ObjectMeta { labels: labels(&[("app", "web")]), ..Default::default() },
            spec: PodSpec {
                containers: vec![Container { name: "c".into(), image: Some(image.into()), ..Default::default() }],
                ..Default::default()
            },
        }
    }

    fn rolling(surge: IntOrString, unavailable: IntOrString) -> Option<DeploymentStrategy> {
        Some(DeploymentStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateDeployment {
                max_surge: Some(surge),
                max_unavailable: Some(unavailable),
            }),
        })
    }

    /// A Deployment `web` selecting `app=web`.
    fn deployment(replicas: i32, image: &str, strategy: Option<DeploymentStrategy>) -> Deployment {
        Deployment {
            metadata: ObjectMeta::namespaced(NS, "web"),
            spec: DeploymentSpec {
                replicas: Some(replicas),
                selector: Some(LabelSelector::from_labels([("app", "web")])),
                template: template(image),
                strategy,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    struct Fixture {
        env: TestEnv,
        informers: Arc<InformerFactory>,
        ctx: Context,
        deployments: Api<Deployment>,
        sets: Api<ReplicaSet>,
        pods: Api<Pod>,
        r: DeploymentReconciler,
    }

    impl Fixture {
        fn new() -> Self {
            let env = TestEnv::new();
            let informers = Arc::new(InformerFactory::new(env.api.clone(), Config::default()));
            let ctx = Context {
                controller: Arc::from("deployment"),
                api: env.api.clone(),
                clock: Arc::new(env.clock.clone()),
                retries: 0,
            };
            let r = DeploymentReconciler::new(env.api.clone(), informers.clone(), Arc::new(env.clock.clone()));
            Fixture {
                deployments: Api::namespaced(env.store.clone(), NS),
                sets: Api::namespaced(env.store.clone(), NS),
                pods: Api::namespaced(env.store.clone(), NS),
                env,
                informers,
                ctx,
                r,
            }
        }

        async fn all_sets(&self) -> Vec<ReplicaSet> {
            let mut sets = self.sets.list(&ListOptions::default()).await.unwrap().items;
            sets.sort_by_key(revision);
            sets
        }

        /// Waits until the ReplicaSet and pod caches show the store.
        async fn caught_up(&self) {
            let stored: Vec<(String, String)> =
                self.all_sets().await.into_iter().map(|s| (s.metadata.uid, s.metadata.resource_version)).collect();
            let pods: Vec<String> = self
                .pods
                .list(&ListOptions::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|p| p.metadata.resource_version)
                .collect();
            let sets = self.informers.informer::<ReplicaSet>(None, None, None).store();
            let pod_cache = self.informers.informer::<Pod>(None, None, None).store();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            loop {
                let cached = sets.state();
                let sets_ok = cached.len() == stored.len()
                    && stored.iter().all(|(uid, rv)| {
                        cached.iter().any(|s| &s.metadata.uid == uid && &s.metadata.resource_version == rv)
                    });
                let cached_pods = pod_cache.state();
                let pods_ok = cached_pods.len() == pods.len()
                    && pods.iter().all(|rv| cached_pods.iter().any(|p| &p.metadata.resource_version == rv));
                if sets_ok && pods_ok {
                    return;
                }
                assert!(tokio::time::Instant::now() < deadline, "the caches never caught up");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }

        async fn reconcile(&self) -> Result<Action, Error> {
            self.caught_up().await;
            let d = self.deployments.get("web").await.unwrap();
            self.r.reconcile(Arc::new(d), &self.ctx).await
        }

        async fn deployment(&self) -> Deployment {
            self.deployments.get("web").await.unwrap()
        }

        async fn status(&self) -> DeploymentStatus {
            self.deployment().await.status.unwrap_or_default()
        }

        /// Plays the ReplicaSet controller and the kubelet: each ReplicaSet
        /// has `spec.replicas` pods, of which `available(rs)` are available
        /// (at most that many).
        async fn kubelet(&self, available: impl Fn(&ReplicaSet) -> i32) {
            for rs in self.all_sets().await {
                let replicas = spec_replicas(&rs);
                let ready = available(&rs).clamp(0, replicas);
                let status = ReplicaSetStatus {
                    replicas,
                    fully_labeled_replicas: Some(replicas),
                    ready_replicas: Some(ready),
                    available_replicas: Some(ready),
                    observed_generation: rs.metadata.generation,
                    conditions: Vec::new(),
                };
                if rs.status.as_ref() != Some(&status) {
                    self.sets
                        .guaranteed_update_status(&rs.metadata.name, |rs| rs.status = Some(status.clone()))
                        .await
                        .unwrap();
                }
            }
        }

        /// Every ReplicaSet's pods all available.
        async fn all_available(&self) {
            self.kubelet(spec_replicas).await;
        }

        async fn update(&self, f: impl Fn(&mut Deployment) + Send) {
            self.deployments.guaranteed_update("web", f).await.unwrap();
        }

        async fn events(&self) -> Vec<String> {
            let events: Api<Event> = Api::namespaced(self.env.store.clone(), NS);
            let mut events = events.list(&ListOptions::default()).await.unwrap().items;
            events.sort_by_key(|e| e.metadata.creation_timestamp);
            events
                .into_iter()
                .map(|e| format!("{}: {}", e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
                .collect()
        }

        /// Drives a rollout to completion, checking the bounds after every
        /// controller step: at most `replicas + surge` pods wanted, at least
        /// `replicas - unavailable` available. Pods come up not available
        /// and become available one step later. Returns the steps taken.
        async fn roll_out(&self, surge: i32, unavailable: i32) -> usize {
            let replicas = desired(&self.deployment().await);
            // A first rollout starts from nothing available.
            let before: i32 = self.all_sets().await.iter().map(available_replicas).sum();
            let floor = (replicas - unavailable).min(before);
            for step in 0..60 {
                self.reconcile().await.unwrap();
                let sets = self.all_sets().await;
                let pods: i32 = sets.iter().map(spec_replicas).sum();
                assert!(pods <= replicas + surge, "step {step}: {pods} pods exceed {replicas}+{surge}");
                // Scaled-down pods go at once; new ones are not available yet.
                self.kubelet(available_replicas).await;
                let available: i32 = self.all_sets().await.iter().map(available_replicas).sum();
                assert!(available >= floor, "step {step}: {available} available, below {replicas}-{unavailable}");
                self.all_available().await;
                let status = self.status().await;
                let sets = self.all_sets().await;
                let current = self.deployment().await.spec.template;
                let old_pods: i32 =
                    sets.iter().filter(|rs| !equal_ignoring_hash(&rs.spec.template, &current)).map(spec_replicas).sum();
                if status.updated_replicas == Some(replicas) && old_pods == 0 {
                    self.reconcile().await.unwrap();
                    return step;
                }
            }
            panic!("the rollout never completed");
        }
    }

    fn progressing(status: &DeploymentStatus) -> (String, String) {
        let c = condition(status, PROGRESSING).expect("a Progressing condition");
        (c.status.clone(), c.reason.clone().unwrap_or_default())
    }

    #[test]
    fn fenceposts_round_surge_up_and_unavailability_down() {
        let pct = |s: &str| IntOrString::String(s.into());
        assert_eq!(resolve_fenceposts(None, None, 10), Ok((3, 2)), "defaults 25%/25%");
        assert_eq!(resolve_fenceposts(Some(&pct("25%")), Some(&pct("25%")), 3), Ok((1, 0)));
        assert_eq!(resolve_fenceposts(Some(&IntOrString::Int(0)), Some(&pct("10%")), 3), Ok((0, 1)), "never both 0");
        assert_eq!(resolve_fenceposts(Some(&IntOrString::Int(2)), Some(&IntOrString::Int(5)), 3), Ok((2, 5)));
        assert!(resolve_fenceposts(Some(&pct("abc")), None, 3).is_err());
        let mut d = deployment(3, "v1", rolling(IntOrString::Int(2), IntOrString::Int(5)));
        assert_eq!(allowances(&d), Ok((2, 3)), "unavailability at most replicas");
        d.spec.strategy = Some(DeploymentStrategy { type_: Some("Recreate".into()), rolling_update: None });
        assert_eq!(allowances(&d), Ok((0, 0)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_new_deployment_creates_one_hashed_replica_set_at_revision_1_and_reports_status() {
        let f = Fixture::new();
        let mut d = deployment(3, "v1", None);
        d.metadata.annotations = labels(&[(ANNOTATION_CHANGE_CAUSE, "first"), ("team", "a")]);
        f.deployments.create(&d).await.unwrap();
        let action = f.reconcile().await.unwrap();
        assert!(
            matches!(action, Action::RequeueAfter(d) if d > Duration::from_secs(599) && d <= Duration::from_secs(601)),
            "requeued at the progress deadline: {action:?}"
        );
        let d = f.deployment().await;
        let sets = f.all_sets().await;
        assert_eq!(sets.len(), 1);
        let rs = &sets[0];
        let hash = template_hash(&d.spec.template, None);
        assert_eq!(rs.metadata.name, format!("web-{hash}"));
        assert_eq!(rs.metadata.labels.get(LABEL_POD_TEMPLATE_HASH), Some(&hash));
        assert_eq!(rs.spec.template.metadata.labels, labels(&[("app", "web"), (LABEL_POD_TEMPLATE_HASH, &hash)]));
        let selector = rs.spec.selector.as_ref().unwrap();
        assert_eq!(selector.match_labels, labels(&[("app", "web"), (LABEL_POD_TEMPLATE_HASH, &hash)]));
        assert_eq!(rs.spec.replicas, Some(3));
        assert_eq!(rs.metadata.controller().map(|r| r.uid.clone()), Some(d.metadata.uid.clone()));
        let a = &rs.metadata.annotations;
        assert_eq!(a.get(ANNOTATION_REVISION).map(String::as_str), Some("1"));
        assert_eq!(a.get(ANNOTATION_DESIRED_REPLICAS).map(String::as_str), Some("3"));
        assert_eq!(a.get(ANNOTATION_MAX_REPLICAS).map(String::as_str), Some("4"), "3 + 25% rounded up");
        assert_eq!(a.get(ANNOTATION_CHANGE_CAUSE).map(String::as_str), Some("first"));
        assert_eq!(a.get("team").map(String::as_str), Some("a"));
        assert_eq!(d.metadata.annotations.get(ANNOTATION_REVISION).map(String::as_str), Some("1"));
        let status = d.status.clone().unwrap();
        assert_eq!(progressing(&status), ("True".into(), NEW_REPLICA_SET_CREATED.into()));
        assert_eq!(condition(&status, AVAILABLE).unwrap().status, "False");
        assert!(
            f.events().await.contains(&format!("ScalingReplicaSet: Scaled up replica set web-{hash} from 0 to 3")),
            "{:?}",
            f.events().await
        );

        // Two of three available: progressing, and below the minimum (25% of 3 rounds down to 0).
        f.kubelet(|_| 2).await;
        f.reconcile().await.unwrap();
        let status = f.status().await;
        assert_eq!(
            (status.replicas, status.updated_replicas, status.ready_replicas, status.available_replicas),
            (Some(3), Some(3), Some(2), Some(2))
        );
        assert_eq!(status.unavailable_replicas, Some(1));
        assert_eq!(progressing(&status), ("True".into(), REPLICA_SET_UPDATED.into()));
        assert_eq!(condition(&status, AVAILABLE).unwrap().reason.as_deref(), Some(MINIMUM_REPLICAS_UNAVAILABLE));

        f.all_available().await;
        assert_eq!(f.reconcile().await.unwrap(), Action::AwaitChange, "complete: no deadline to watch");
        let status = f.status().await;
        assert_eq!(status.observed_generation, f.deployment().await.metadata.generation);
        assert_eq!((status.available_replicas, status.unavailable_replicas), (Some(3), Some(0)));
        assert_eq!(progressing(&status), ("True".into(), NEW_REPLICA_SET_AVAILABLE.into()));
        assert_eq!(condition(&status, AVAILABLE).unwrap().reason.as_deref(), Some(MINIMUM_REPLICAS_AVAILABLE));
        assert_eq!(status.collision_count, None);

        // A settled Deployment is left alone.
        let version = f.deployment().await.metadata.resource_version;
        f.reconcile().await.unwrap();
        assert_eq!(f.deployment().await.metadata.resource_version, version, "status written only when changed");
        assert_eq!(f.all_sets().await.len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rolling_update_stays_within_surge_and_unavailability() {
        let f = Fixture::new();
        f.deployments.create(&deployment(4, "v1", rolling(IntOrString::Int(1), IntOrString::Int(1)))).await.unwrap();
        f.roll_out(1, 1).await;
        f.update(|d| d.spec.template = template("v2")).await;
        let steps = f.roll_out(1, 1).await;
        assert!(steps >= 2, "a rolling update takes several steps ({steps})");
        let sets = f.all_sets().await;
        assert_eq!(sets.len(), 2);
        assert_eq!((spec_replicas(&sets[0]), spec_replicas(&sets[1])), (0, 4));
        assert_eq!(revision(&sets[1]), 2);
        let d = f.deployment().await;
        assert_eq!(d.metadata.annotations.get(ANNOTATION_REVISION).map(String::as_str), Some("2"));
        let status = d.status.unwrap();
        assert_eq!((status.replicas, status.updated_replicas, status.available_replicas), (Some(4), Some(4), Some(4)));
        assert_eq!(progressing(&status), ("True".into(), NEW_REPLICA_SET_AVAILABLE.into()));
        let events = f.events().await;
        let old = &sets[0].metadata.name;
        assert!(
            events
                .iter()
                .any(|e| e.starts_with(&format!("ScalingReplicaSet: Scaled down replica set {old} from 4 to"))),
            "{events:?}"
        );

        // maxSurge 0: never more than 4 pods, one unavailable at a time.
        f.update(|d| {
            d.spec.template = template("v3");
            d.spec.strategy = rolling(IntOrString::Int(0), IntOrString::Int(1));
        })
        .await;
        f.roll_out(0, 1).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn percentages_resolve_against_replicas() {
        let f = Fixture::new();
        let strategy = rolling(IntOrString::String("30%".into()), IntOrString::String("20%".into()));
        f.deployments.create(&deployment(10, "v1", strategy)).await.unwrap();
        f.roll_out(3, 2).await;
        f.update(|d| d.spec.template = template("v2")).await;
        f.reconcile().await.unwrap();
        let sets = f.all_sets().await;
        // 30% of 10 rounded up: 3 surge pods; 20%: the old set may lose 2 at once.
        assert_eq!((spec_replicas(&sets[0]), spec_replicas(&sets[1])), (8, 3));
        assert_eq!(sets[1].metadata.annotations.get(ANNOTATION_MAX_REPLICAS).map(String::as_str), Some("13"));
        f.kubelet(available_replicas).await;
        f.roll_out(3, 2).await;
        // 25% of 3: surge 1 (up), unavailable 0 (down).
        f.update(|d| {
            d.spec.replicas = Some(3);
            d.spec.strategy = rolling(IntOrString::String("25%".into()), IntOrString::String("25%".into()));
        })
        .await;
        f.roll_out(1, 0).await;
        f.update(|d| d.spec.template = template("v3")).await;
        f.roll_out(1, 0).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn recreate_scales_old_to_zero_and_waits_for_old_pods_before_creating() {
        let f = Fixture::new();
        let recreate = Some(DeploymentStrategy { type_: Some("Recreate".into()), rolling_update: None });
        f.deployments.create(&deployment(3, "v1", recreate)).await.unwrap();
        f.reconcile().await.unwrap();
        f.all_available().await;
        f.reconcile().await.unwrap();
        let old = f.all_sets().await.remove(0);
        // A pod of the old set, running.
        let pod = Pod {
            metadata: ObjectMeta {
                labels: old.spec.template.metadata.labels.clone(),
                owner_references: vec![owner_reference(&old, true)],
                ..ObjectMeta::namespaced(NS, "old-pod")
            },
            spec: old.spec.template.spec.clone(),
            ..Default::default()
        };
        let mut pod = f.pods.create(&pod).await.unwrap();
        pod.status = Some(PodStatus { phase: Some("Running".into()), ..Default::default() });
        f.pods.update_status(&pod).await.unwrap();

        f.update(|d| d.spec.template = template("v2")).await;
        f.reconcile().await.unwrap();
        let sets = f.all_sets().await;
        assert_eq!(sets.len(), 1, "no new set while old ones scale down");
        assert_eq!(spec_replicas(&sets[0]), 0);
        f.all_available().await; // The old set reports no replicas…
        f.reconcile().await.unwrap();
        assert_eq!(f.all_sets().await.len(), 1, "…but its pod still runs");

        let mut pod = f.pods.get("old-pod").await.unwrap();
        pod.status = Some(PodStatus { phase: Some("Failed".into()), ..Default::default() });
        f.pods.update_status(&pod).await.unwrap();
        f.reconcile().await.unwrap();
        let sets = f.all_sets().await;
        assert_eq!(sets.len(), 2, "old pods are gone: the new set is created");
        assert_eq!((spec_replicas(&sets[0]), spec_replicas(&sets[1])), (0, 3), "at full size at once");
        f.all_available().await;
        f.reconcile().await.unwrap();
        assert_eq!(progressing(&f.status().await).1, NEW_REPLICA_SET_AVAILABLE);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rollback_reuses_the_old_replica_set_with_a_new_revision() {
        let f = Fixture::new();
        f.deployments.create(&deployment(2, "v1", None)).await.unwrap();
        f.roll_out(1, 0).await;
        f.update(|d| {
            d.spec.template = template("v2");
            d.metadata.annotations.insert(ANNOTATION_CHANGE_CAUSE.into(), "to v2".into());
        })
        .await;
        f.roll_out(1, 0).await;
        let before = f.all_sets().await;
        assert_eq!(before.len(), 2);
        let v1 = before[0].clone();
        // `kubectl rollout undo`: the old set's template, without its hash label.
        f.update(|d| {
            let mut t = v1.spec.template.clone();
            t.metadata.labels.remove(LABEL_POD_TEMPLATE_HASH);
            d.spec.template = t;
        })
        .await;
        f.roll_out(1, 0).await;
        let after = f.all_sets().await;
        assert_eq!(
            after.len(),
            2,
            "no new ReplicaSet: {:?}",
            after.iter().map(|s| &s.metadata.name).collect::<Vec<_>>()
        );
        let reused = after.iter().find(|s| s.metadata.uid == v1.metadata.uid).unwrap();
        assert_eq!(revision(reused), 3);
        assert_eq!(reused.metadata.annotations.get(ANNOTATION_REVISION_HISTORY).map(String::as_str), Some("1"));
        assert_eq!(reused.metadata.annotations.get(ANNOTATION_CHANGE_CAUSE).map(String::as_str), Some("to v2"));
        assert_eq!(spec_replicas(reused), 2);
        let d = f.deployment().await;
        assert_eq!(d.metadata.annotations.get(ANNOTATION_REVISION).map(String::as_str), Some("3"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn old_replica_sets_beyond_the_history_limit_are_deleted() {
        let f = Fixture::new();
        let mut d = deployment(1, "v0", None);
        d.spec.revision_history_limit = Some(2);
        f.deployments.create(&d).await.unwrap();
        f.roll_out(1, 0).await;
        for v in 1..=4 {
            f.update(move |d| d.spec.template = template(&format!("v{v}"))).await;
            f.roll_out(1, 0).await;
        }
        let sets = f.all_sets().await;
        let revisions: Vec<i64> = sets.iter().map(revision).collect();
        assert_eq!(revisions, [3, 4, 5], "the two newest old sets stay, with the current one");
        assert_eq!(sets.iter().map(spec_replicas).collect::<Vec<_>>(), [0, 0, 1]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_paused_deployment_scales_but_does_not_roll_out() {
        let f = Fixture::new();
        f.deployments.create(&deployment(2, "v1", None)).await.unwrap();
        f.roll_out(1, 0).await;
        f.update(|d| {
            d.spec.paused = Some(true);
            d.spec.template = template("v2");
            d.spec.replicas = Some(5);
        })
        .await;
        f.reconcile().await.unwrap();
        let sets = f.all_sets().await;
        assert_eq!(sets.len(), 1, "no rollout while paused");
        assert_eq!(spec_replicas(&sets[0]), 5, "but scaling");
        assert_eq!(sets[0].metadata.annotations.get(ANNOTATION_DESIRED_REPLICAS).map(String::as_str), Some("5"));
        let status = f.status().await;
        assert_eq!(progressing(&status), ("Unknown".into(), DEPLOYMENT_PAUSED.into()));
        assert_eq!(status.updated_replicas, Some(0), "the template changed: no pod is up to date");
        // Time passes: no progress deadline while paused.
        f.env.clock.advance(Duration::from_secs(3600));
        f.all_available().await;
        f.reconcile().await.unwrap();
        assert_eq!(progressing(&f.status().await).1, DEPLOYMENT_PAUSED);

        f.update(|d| d.spec.paused = Some(false)).await;
        f.reconcile().await.unwrap();
        let sets = f.all_sets().await;
        assert_eq!(sets.len(), 2, "resumed: the rollout starts");
        let status = f.status().await;
        // Resumed, then the new set's creation is the latest news.
        assert_eq!(progressing(&status), ("True".into(), NEW_REPLICA_SET_CREATED.into()));
        f.roll_out(2, 1).await;
        assert_eq!(progressing(&f.status().await).1, NEW_REPLICA_SET_AVAILABLE);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stuck_rollout_exceeds_its_progress_deadline() {
        let f = Fixture::new();
        let mut d = deployment(2, "v1", rolling(IntOrString::Int(1), IntOrString::Int(0)));
        d.spec.progress_deadline_seconds = Some(60);
        f.deployments.create(&d).await.unwrap();
        f.roll_out(1, 0).await;
        f.update(|d| d.spec.template = template("broken")).await;
        let action = f.reconcile().await.unwrap();
        assert!(
            matches!(action, Action::RequeueAfter(d) if d > Duration::from_secs(59) && d <= Duration::from_secs(61)),
            "requeued at the deadline: {action:?}"
        );
        f.kubelet(|rs| if rs.spec.template.spec.containers[0].image.as_deref() == Some("broken") { 0 } else { 2 })
            .await;
        // The new set's pod appears (not available): progress.
        f.reconcile().await.unwrap();
        assert_eq!(progressing(&f.status().await), ("True".into(), REPLICA_SET_UPDATED.into()));
        f.env.clock.advance(Duration::from_secs(30));
        let action = f.reconcile().await.unwrap();
        assert!(
            matches!(action, Action::RequeueAfter(d) if d > Duration::from_secs(29) && d <= Duration::from_secs(31)),
            "{action:?}"
        );
        assert_eq!(progressing(&f.status().await), ("True".into(), REPLICA_SET_UPDATED.into()));
        f.env.clock.advance(Duration::from_secs(31));
        assert_eq!(f.reconcile().await.unwrap(), Action::AwaitChange);
        let status = f.status().await;
        assert_eq!(progressing(&status), ("False".into(), PROGRESS_DEADLINE_EXCEEDED.into()));
        let c = condition(&status, PROGRESSING).unwrap();
        assert!(c.message.as_deref().unwrap().contains("has timed out progressing"), "{c:?}");
        // Still available: the old pods stay.
        assert_eq!(condition(&status, AVAILABLE).unwrap().status, "True");
        // A fixed template makes progress again.
        f.update(|d| d.spec.template = template("v3")).await;
        f.roll_out(1, 0).await;
        assert_eq!(progressing(&f.status().await), ("True".into(), NEW_REPLICA_SET_AVAILABLE.into()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scaling_mid_rollout_is_proportional() {
        let f = Fixture::new();
        f.deployments.create(&deployment(10, "v1", rolling(IntOrString::Int(3), IntOrString::Int(2)))).await.unwrap();
        f.roll_out(3, 2).await;
        f.update(|d| d.spec.template = template("broken")).await;
        let new_available = |rs: &ReplicaSet| {
            if rs.spec.template.spec.containers[0].image.as_deref() == Some("broken") { 0 } else { spec_replicas(rs) }
        };
        for _ in 0..4 {
            f.reconcile().await.unwrap();
            f.kubelet(new_available).await;
        }
        let sets = f.all_sets().await;
        assert_eq!((spec_replicas(&sets[0]), spec_replicas(&sets[1])), (8, 5), "stuck: 13 pods, 8 available");
        f.update(|d| d.spec.replicas = Some(15)).await;
        f.reconcile().await.unwrap();
        let sets = f.all_sets().await;
        // 18 allowed instead of 13: the 5 more go 3 to the old set, 2 to the new.
        assert_eq!((spec_replicas(&sets[0]), spec_replicas(&sets[1])), (11, 7));
        for rs in &sets {
            assert_eq!(rs.metadata.annotations.get(ANNOTATION_DESIRED_REPLICAS).map(String::as_str), Some("15"));
            assert_eq!(rs.metadata.annotations.get(ANNOTATION_MAX_REPLICAS).map(String::as_str), Some("18"));
        }
        f.kubelet(new_available).await;
        f.update(|d| d.spec.replicas = Some(5)).await;
        f.reconcile().await.unwrap();
        let sets = f.all_sets().await;
        let total: i32 = sets.iter().map(spec_replicas).sum();
        assert_eq!(total, 8, "5 + 3 surge");
        assert!(
            spec_replicas(&sets[0]) > spec_replicas(&sets[1]),
            "{:?}",
            sets.iter().map(spec_replicas).collect::<Vec<_>>()
        );
        f.kubelet(new_available).await;
        // Once the new pods work, the rollout completes at the new size.
        f.roll_out(3, 2).await;
        let status = f.status().await;
        assert_eq!((status.replicas, status.updated_replicas), (Some(5), Some(5)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_name_collision_bumps_the_collision_count() {
        let f = Fixture::new();
        let d = f.deployments.create(&deployment(1, "v1", None)).await.unwrap();
        let hash = template_hash(&d.spec.template, None);
        // A foreign ReplicaSet with that name and another template.
        let mut squatter_template = template("other");
        squatter_template.metadata.labels = labels(&[("app", "other")]);
        f.sets
            .create(&ReplicaSet {
                metadata: ObjectMeta {
                    labels: labels(&[("app", "other")]),
                    ..ObjectMeta::namespaced(NS, format!("web-{hash}"))
                },
                spec: ReplicaSetSpec {
                    replicas: Some(0),
                    min_ready_seconds: None,
                    selector: Some(LabelSelector::from_labels([("app", "other")])),
                    template: squatter_template,
                },
                ..Default::default()
            })
            .await
            .unwrap();
        let error = f.reconcile().await.unwrap_err();
        assert!(matches!(error, Error::HashCollision(_)), "{error}");
        assert_eq!(f.status().await.collision_count, Some(1));
        f.reconcile().await.unwrap();
        let second = template_hash(&d.spec.template, Some(1));
        let created = f.sets.get(&format!("web-{second}")).await.unwrap();
        assert_eq!(spec_replicas(&created), 1);
        assert_eq!(created.metadata.labels.get(LABEL_POD_TEMPLATE_HASH), Some(&second));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn orphans_are_adopted_and_an_empty_selector_is_refused() {
        let f = Fixture::new();
        // An orphan with the Deployment's template: adopted as the new set.
        let d = deployment(2, "v1", None);
        let mut t = template("v1");
        t.metadata.labels.insert(LABEL_POD_TEMPLATE_HASH.into(), "abc".into());
        let orphan = f
            .sets
            .create(&ReplicaSet {
                metadata: ObjectMeta { labels: t.metadata.labels.clone(), ..ObjectMeta::namespaced(NS, "web-abc") },
                spec: ReplicaSetSpec {
                    replicas: Some(2),
                    min_ready_seconds: None,
                    selector: Some(LabelSelector::from_labels([("app", "web"), (LABEL_POD_TEMPLATE_HASH, "abc")])),
                    template: t,
                },
                ..Default::default()
            })
            .await
            .unwrap();
        let d = f.deployments.create(&d).await.unwrap();
        f.reconcile().await.unwrap();
        let sets = f.all_sets().await;
        assert_eq!(sets.len(), 1, "adopted, not recreated");
        assert_eq!(sets[0].metadata.uid, orphan.metadata.uid);
        assert_eq!(sets[0].metadata.controller().unwrap().uid, d.metadata.uid);
        assert_eq!(progressing(&f.status().await).1, FOUND_NEW_REPLICA_SET);

        // An empty selector (validation refuses it; a stale or foreign
        // object may still carry one) selects nothing and is reported.
        let mut all = deployment(1, "v1", None);
        all.metadata.name = "all".into();
        all.metadata.uid = "all-uid".into();
        all.spec.selector = Some(LabelSelector::default());
        assert_eq!(f.r.reconcile(Arc::new(all), &f.ctx).await.unwrap(), Action::AwaitChange);
        let events = f.events().await;
        assert!(
            events.iter().any(|e| e.starts_with("SelectingAll: This deployment is selecting all pods")),
            "{events:?}"
        );
        assert_eq!(f.all_sets().await.len(), 1, "nothing created for it");
    }

    /// Marks every active pod ready (since the clock's now) that is not yet.
    async fn make_pods_ready(env: &TestEnv) {
        use k_api_types::core::v1::PodCondition;
        let pods: Api<Pod> = Api::namespaced(env.store.clone(), NS);
        for pod in pods.list(&ListOptions::default()).await.unwrap().items {
            if !crate::util::is_active(&pod) || crate::util::is_ready(&pod) {
                continue;
            }
            let mut pod = pod;
            pod.status = Some(PodStatus {
                phase: Some("Running".into()),
                conditions: vec![PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    last_transition_time: Some(Time(env.clock.wall())),
                    ..Default::default()
                }],
                ..Default::default()
            });
            // The pod may be gone or changed meanwhile: the next round retries.
            let _ = pods.update_status(&pod).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_the_replica_set_controller_a_rollout_completes_after_min_ready_seconds() {
        let env = TestEnv::new();
        let mut manager = env.manager();
        let clock = Arc::new(env.clock.clone());
        let deployments = DeploymentReconciler::new(manager.api(), manager.informers(), clock.clone());
        manager.add(deployments.controller(), deployments);
        let sets = crate::replicaset::ReplicaSetReconciler::new(manager.api(), manager.informers(), clock);
        manager.add(sets.controller(), sets);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(manager.run(async {
            let _ = stopped.await;
        }));
        let api: Api<Deployment> = Api::namespaced(env.store.clone(), NS);
        let mut d = deployment(3, "v1", rolling(IntOrString::Int(1), IntOrString::Int(1)));
        d.spec.min_ready_seconds = Some(10);
        api.create(&d).await.unwrap();

        // Ready pods are not available before minReadySeconds.
        let wait = Duration::from_secs(10);
        let ready = |s: &DeploymentStatus| s.ready_replicas == Some(3);
        let deadline = tokio::time::Instant::now() + wait;
        let status = loop {
            make_pods_ready(&env).await;
            let status = api.get("web").await.unwrap().status.unwrap_or_default();
            if ready(&status) {
                break status;
            }
            assert!(tokio::time::Instant::now() < deadline, "never ready: {status:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(status.available_replicas, Some(0), "{status:?}");
        env.clock.advance(Duration::from_secs(10));
        let complete = |d: &Deployment| {
            d.status.as_ref().is_some_and(|s| {
                s.available_replicas == Some(3)
                    && condition(s, PROGRESSING).and_then(|c| c.reason.as_deref()) == Some(NEW_REPLICA_SET_AVAILABLE)
            })
        };
        env.wait_for(NS, "web", complete, wait).await.unwrap();

        // A new template rolls out through the ReplicaSet controller's pods.
        api.guaranteed_update("web", |d| d.spec.template = template("v2")).await.unwrap();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            make_pods_ready(&env).await;
            env.clock.advance(Duration::from_secs(10));
            let d = api.get("web").await.unwrap();
            let status = d.status.clone().unwrap_or_default();
            let observed = status.observed_generation == d.metadata.generation;
            if observed && status.updated_replicas == Some(3) && status.replicas == Some(3) && complete(&d) {
                assert_eq!(d.metadata.annotations.get(ANNOTATION_REVISION).map(String::as_str), Some("2"));
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "the rollout never completed: {status:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let pods: Api<Pod> = Api::namespaced(env.store.clone(), NS);
        let active: Vec<Pod> = pods
            .list(&ListOptions::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(crate::util::is_active)
            .collect();
        assert_eq!(active.len(), 3);
        let sets: Api<ReplicaSet> = Api::namespaced(env.store.clone(), NS);
        let new_hash = sets
            .list(&ListOptions::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|rs| revision(rs) == 2)
            .unwrap()
            .metadata
            .labels[LABEL_POD_TEMPLATE_HASH]
            .clone();
        assert!(active.iter().all(|p| p.metadata.labels.get(LABEL_POD_TEMPLATE_HASH) == Some(&new_hash)));
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(10), run).await.unwrap().unwrap();
    }
}
