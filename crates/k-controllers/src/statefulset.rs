//! The StatefulSet controller: pods with stable names, stable storage and
//! ordered, revision-tracked rollouts (apps/v1 `StatefulSet`).
//!
//! Each reconcile of a set:
//!
//! 1. **Claims** its pods: pods of the set's namespace named
//!    `<set>-<ordinal>` (the ordinal in canonical decimal form) are adopted
//!    when their labels match the selector and released when they stop
//!    matching ([`crate::util::claim`]); its ControllerRevisions are claimed
//!    the same way.
//! 2. Works out its **revisions**: the update revision is a
//!    ControllerRevision whose data is `{"spec":{"template":…}}` of the
//!    current template, named `<set>-<hash>` (the hash over the data and
//!    `status.collisionCount`) and labelled with the template's labels. An
//!    existing revision with equal data is reused: as is when it is the
//!    newest, with its revision number raised to the next one when it is
//!    older (a rollback). A name taken by a revision with other data raises
//!    `collisionCount`. The current revision is the one named by
//!    `status.currentRevision`, else the update revision.
//! 3. **Manages** pods, unless pod creations or deletions it issued are not
//!    yet in the informer cache (expectations) or the set is being deleted.
//!    Ordinals run from `spec.ordinals.start` (default 0) for `replicas`
//!    pods. Each pod is `<set>-<ordinal>`, labelled
//!    `statefulset.kubernetes.io/pod-name`, `apps.kubernetes.io/pod-index`
//!    and `controller-revision-hash` (the revision's name), with
//!    `hostname` = its name and `subdomain` = `serviceName`. For each of
//!    `volumeClaimTemplates` the pod mounts the claim
//!    `<template>-<set>-<ordinal>` (replacing a template volume of the same
//!    name), and the claim is created before the pod when missing (labels:
//!    the template's plus the selector's `matchLabels`). Claims outlive
//!    their pods, so a re-created pod finds its data.
//!    - `OrderedReady` (default): ordinals are walked upwards; a missing pod
//!      is created and the pass ends; a pod that is terminating, not
//!      Running and Ready, or not yet available (`minReadySeconds`) ends the
//!      pass. Only when all wanted pods are healthy are surplus pods (above
//!      the range) deleted, highest ordinal first, one per pass, each only
//!      when it is healthy itself or the first unhealthy pod.
//!    - `Parallel`: every missing pod is created and every surplus pod
//!      deleted in the same pass, without waiting.
//!    - Failed or Succeeded pods are deleted and re-created with the same
//!      name (and so the same claims) once gone. Pods that lost their
//!      identity labels get them back. Claims of Pending pods are re-created
//!      when missing.
//!    - New pods take the current revision's template when their ordinal is
//!      below the partition (RollingUpdate), else the update revision's.
//!    - `RollingUpdate` (default): once scaling is done, the pod with the
//!      highest ordinal at or above `partition` whose revision is not the
//!      update revision is deleted (to be re-created at the update revision),
//!      one at a time, after every pod above it is healthy. `OnDelete`: pods
//!      are only replaced when someone deletes them.
//!    - `persistentVolumeClaimRetentionPolicy`: `whenDeleted: Delete` gives
//!      the claims an owner reference to the set (the garbage collector
//!      deletes them with it); `whenScaled: Delete` gives the claims of a pod
//!      removed by a scale-down an owner reference to that pod before it is
//!      deleted (and removes it again if the ordinal comes back into range).
//!      A new pod is not created while one of its claims is being deleted or
//!      still refers to a previous pod of its name (requeued after
//!      [`STALE_CLAIM_RETRY`]).
//! 4. Writes the **status** when it changed: `replicas`, `readyReplicas`
//!    (Running and Ready), `availableReplicas` (also ready for
//!    `minReadySeconds` by the clock; the set is requeued when the next one
//!    becomes available), `currentReplicas` / `updatedReplicas` (not
//!    terminating, at the current / update revision), `currentRevision`,
//!    `updateRevision`, `collisionCount`, `observedGeneration`. Once a
//!    rolling update has every pod updated and ready, the update revision
//!    becomes the current one.
//! 5. Trims **history**: revisions that no pod uses and that are neither
//!    current nor update beyond `revisionHistoryLimit` (default 10) are
//!    deleted, oldest first.
//!
//! Events (on the set, as Kubernetes records them): `SuccessfulCreate` /
//! `FailedCreate` for claims and pods, `SuccessfulDelete` / `FailedDelete`
//! for pods (like Kubernetes since 1.31, no `RecreatingFailedPod`).
//!
//! Not covered: `maxUnavailable` (behind Kubernetes' feature-gated
//! `MaxUnavailableStatefulSet`) is treated as 1; pods whose volumes or hostname drifted from the
//! set are not rewritten (pod specs are immutable; only labels are fixed);
//! a set being deleted is left to the garbage collector (no status writes);
//! the `$patch: replace` marker Kubernetes puts into revision data is not
//! written.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use k_api_types::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k_api_types::core::v1::{PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume};
use k_api_types::meta::{DeleteOptions, ObjectMeta, OwnerReference, Preconditions};
use k_api_types::selector::label::Selector;
use k_runtime::clock::{Clock, SystemClock};
use k_runtime::controller::{Action, Context, Controller, Reconciler};
use k_runtime::events::{EventType, Recorder, reference_to};
use k_runtime::informer::InformerFactory;
use k_runtime::manager::Manager;
use k_runtime::owner::owner_reference;
use k_runtime::reflector::{Store, key_of};
use k_store::{Api, ObjectApi, StoreError};

use crate::util::{
    Expectations, LABEL_CONTROLLER_REVISION_HASH, available_in, claim, claim_candidates, is_ready, new_revision,
    next_revision, phase, pod_from_template, requeue_soonest, sort_revisions,
};

/// The label holding a stateful pod's name (so a Service can select one pod).
pub const LABEL_POD_NAME: &str = "statefulset.kubernetes.io/pod-name";
/// The label holding a stateful pod's ordinal.
pub const LABEL_POD_INDEX: &str = "apps.kubernetes.io/pod-index";
/// Revisions kept beyond the live ones when the set does not say.
pub const DEFAULT_REVISION_HISTORY_LIMIT: i32 = 10;
/// How long a pod whose claim is still being deleted waits before the set
/// is looked at again (claims are not watched).
pub const STALE_CLAIM_RETRY: Duration = Duration::from_secs(5);
/// Revision name collisions tried in one reconcile before giving up.
const MAX_COLLISIONS: i32 = 16;

/// Why a reconcile failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A read or write of the object API failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No free revision name was found (too many hash collisions).
    #[error("no free ControllerRevision name for {0} after {MAX_COLLISIONS} collisions")]
    Collisions(String),
}

// ---------------------------------------------------------------------------
// Pods and claims
// ---------------------------------------------------------------------------

/// The ordinal of `pod` if it is named `<set>-<ordinal>` (canonical decimal).
fn ordinal_of(set: &str, pod: &str) -> Option<i32> {
    let digits = pod.strip_prefix(set)?.strip_prefix('-')?;
    let ordinal: i32 = digits.parse().ok()?;
    (ordinal >= 0 && ordinal.to_string() == digits).then_some(ordinal)
}

fn terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

fn running_and_ready(pod: &Pod) -> bool {
    phase(pod) == "Running" && is_ready(pod)
}

/// Running, ready, and ready for `min_ready_seconds` at `now`.
fn running_and_available(pod: &Pod, min_ready_seconds: i32, now: chrono::DateTime<chrono::Utc>) -> bool {
    phase(pod) == "Running" && available_in(pod, min_ready_seconds, now) == Some(Duration::ZERO)
}

fn healthy(pod: &Pod) -> bool {
    running_and_ready(pod) && !terminating(pod)
}

/// The name of the revision a pod was made from.
fn revision_of(pod: &Pod) -> &str {
    pod.metadata.labels.get(LABEL_CONTROLLER_REVISION_HASH).map_or("", String::as_str)
}

fn pod_name(set: &StatefulSet, ordinal: i32) -> String {
    format!("{}-{ordinal}", set.metadata.name)
}

/// The claim of template `template` for the pod of `ordinal`.
fn claim_name(template: &str, set: &StatefulSet, ordinal: i32) -> String {
    format!("{template}-{}", pod_name(set, ordinal))
}

/// The claims the pod of `ordinal` mounts (without owner references).
fn claims_for(set: &StatefulSet, ordinal: i32) -> Vec<PersistentVolumeClaim> {
    let selector_labels = set.spec.selector.as_ref().map(|s| s.match_labels.clone()).unwrap_or_default();
    set.spec
        .volume_claim_templates
        .iter()
        .map(|template| {
            let mut labels = template.metadata.labels.clone();
            labels.extend(selector_labels.clone());
            PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: claim_name(&template.metadata.name, set, ordinal),
                    namespace: set.metadata.namespace.clone(),
                    labels,
                    annotations: template.metadata.annotations.clone(),
                    ..Default::default()
                },
                spec: template.spec.clone(),
                ..Default::default()
            }
        })
        .collect()
}

/// Whether the set's claims are deleted with it / with a scaled-down pod.
fn retention(set: &StatefulSet) -> (bool, bool) {
    let policy = set.spec.persistent_volume_claim_retention_policy.as_ref();
    let delete = |v: Option<&String>| v.is_some_and(|v| v == "Delete");
    (delete(policy.and_then(|p| p.when_deleted.as_ref())), delete(policy.and_then(|p| p.when_scaled.as_ref())))
}

/// The owner references `claim` should carry for `pod` (condemned: removed
/// by a scale-down), when they differ from its current ones.
fn claim_owners(
    set: &StatefulSet,
    claim: &PersistentVolumeClaim,
    pod: &Pod,
    condemned: bool,
) -> Option<Vec<OwnerReference>> {
    let (when_deleted, when_scaled) = retention(set);
    let mut refs = claim.metadata.owner_references.clone();
    let mut want = |uid: &str, wanted: bool, reference: &dyn Fn() -> OwnerReference| {
        let has = refs.iter().any(|r| r.uid == uid);
        if wanted && !has {
            refs.push(reference());
        } else if !wanted && has {
            refs.retain(|r| r.uid != uid);
        }
    };
    want(&set.metadata.uid, when_deleted, &|| owner_reference(set, false));
    if !pod.metadata.uid.is_empty() {
        want(&pod.metadata.uid, when_scaled && condemned, &|| owner_reference(pod, false));
    }
    (refs != claim.metadata.owner_references).then_some(refs)
}

/// A claim that must go before a new pod of `pod_name` may use it: being
/// deleted, or owned by an earlier pod of that name (the garbage collector
/// is about to delete it).
fn claim_is_stale(claim: &PersistentVolumeClaim, pod_name: &str) -> bool {
    claim.metadata.deletion_timestamp.is_some()
        || claim.metadata.owner_references.iter().any(|r| r.kind == "Pod" && r.name == pod_name)
}

/// The pod of `ordinal` from `template` at `revision` (a revision name).
fn new_pod(set: &StatefulSet, template: &PodTemplateSpec, revision: &str, ordinal: i32) -> Pod {
    let mut pod = pod_from_template(set, template);
    let name = pod_name(set, ordinal);
    pod.metadata.generate_name.clear();
    pod.metadata.name.clone_from(&name);
    let labels = &mut pod.metadata.labels;
    labels.insert(LABEL_POD_NAME.to_owned(), name.clone());
    labels.insert(LABEL_POD_INDEX.to_owned(), ordinal.to_string());
    labels.insert(LABEL_CONTROLLER_REVISION_HASH.to_owned(), revision.to_owned());
    pod.spec.hostname = Some(name);
    if !set.spec.service_name.is_empty() {
        pod.spec.subdomain = Some(set.spec.service_name.clone());
    }
    let mut volumes: Vec<Volume> = set
        .spec
        .volume_claim_templates
        .iter()
        .map(|t| Volume {
            name: t.metadata.name.clone(),
            persistent_volume_claim: Some(Box::new(PersistentVolumeClaimVolumeSource {
                claim_name: claim_name(&t.metadata.name, set, ordinal),
                read_only: None,
            })),
            ..Default::default()
        })
        .collect();
    let claimed: HashSet<String> = volumes.iter().map(|v| v.name.clone()).collect();
    volumes.extend(pod.spec.volumes.drain(..).filter(|v| !claimed.contains(&v.name)));
    pod.spec.volumes = volumes;
    pod
}

/// Whether the identity labels of the pod of `ordinal` are right.
fn identity_matches(set: &StatefulSet, pod: &Pod, ordinal: i32) -> bool {
    let labels = &pod.metadata.labels;
    labels.get(LABEL_POD_NAME) == Some(&pod_name(set, ordinal))
        && labels.get(LABEL_POD_INDEX) == Some(&ordinal.to_string())
}

// ---------------------------------------------------------------------------
// Revisions
// ---------------------------------------------------------------------------

/// What a revision of `template` holds.
fn revision_data(template: &PodTemplateSpec) -> serde_json::Value {
    serde_json::json!({ "spec": { "template": template } })
}

/// The template a revision holds.
fn template_of(revision: &ControllerRevision) -> Option<PodTemplateSpec> {
    serde_json::from_value(revision.data.get("spec")?.get("template")?.clone()).ok()
}

fn selector_of(set: &StatefulSet) -> Option<Selector> {
    let selector = Selector::try_from(set.spec.selector.as_ref()?).ok()?;
    (!selector.is_empty()).then_some(selector)
}

fn is_parallel(set: &StatefulSet) -> bool {
    set.spec.pod_management_policy.as_deref() == Some("Parallel")
}

fn is_on_delete(set: &StatefulSet) -> bool {
    set.spec.update_strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("OnDelete")
}

/// The set's revisions after this reconcile's work on them.
struct Revisions {
    current: Arc<ControllerRevision>,
    update: Arc<ControllerRevision>,
    collision_count: i32,
    /// All of the set's revisions, oldest first.
    all: Vec<Arc<ControllerRevision>>,
}

// ---------------------------------------------------------------------------
// The reconciler
// ---------------------------------------------------------------------------

/// The StatefulSet controller's reconciler (see the
/// [module documentation](self)).
pub struct StatefulSetReconciler {
    informers: Arc<InformerFactory>,
    clock: Arc<dyn Clock>,
    expectations: Arc<Expectations>,
    recorder: Recorder,
}

impl std::fmt::Debug for StatefulSetReconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatefulSetReconciler").field("expectations", &self.expectations).finish_non_exhaustive()
    }
}

/// One pass over one set's pods.
struct Pass<'a> {
    r: &'a StatefulSetReconciler,
    set: &'a StatefulSet,
    pods_api: Api<Pod>,
    claims_api: Api<PersistentVolumeClaim>,
    claims: Store<PersistentVolumeClaim>,
    revisions: &'a Revisions,
    current_template: PodTemplateSpec,
    update_template: PodTemplateSpec,
    start: i32,
    monotonic: bool,
    min_ready_seconds: i32,
    now: chrono::DateTime<chrono::Utc>,
    /// Pods deleted in this pass (by uid).
    deleted: HashSet<String>,
    /// When to look again although nothing watched changes.
    requeue: Option<Duration>,
}

impl Pass<'_> {
    async fn event(&self, type_: EventType, reason: &str, message: &str) {
        self.r.event(self.set, type_, reason, message).await;
    }

    fn requeue_after(&mut self, after: Duration) {
        self.requeue = Some(self.requeue.map_or(after, |r| r.min(after)));
    }

    /// Creates the missing claims of the pod of `ordinal`; for a new pod,
    /// `false` when one of them is stale (the pod must wait).
    async fn ensure_claims(&mut self, ordinal: i32, new_pod: bool) -> Result<bool, Error> {
        let (when_deleted, _) = retention(self.set);
        let name = pod_name(self.set, ordinal);
        for mut wanted in claims_for(self.set, ordinal) {
            let cached = self.claims.get(&key_of(&wanted));
            if !new_pod && cached.is_some() {
                continue;
            }
            let existing = match cached {
                Some(c) if !new_pod => Some((*c).clone()),
                _ => self.claims_api.get_opt(&wanted.metadata.name).await?,
            };
            if let Some(existing) = existing {
                if new_pod && claim_is_stale(&existing, &name) {
                    tracing::debug!(claim = %existing.metadata.name, pod = %name, "waiting for a stale claim to go");
                    self.requeue_after(STALE_CLAIM_RETRY);
                    return Ok(false);
                }
                continue;
            }
            if when_deleted {
                wanted.metadata.owner_references.push(owner_reference(self.set, false));
            }
            let claim = wanted.metadata.name.clone();
            let set = &self.set.metadata.name;
            match self.claims_api.create(&wanted).await {
                Ok(_) => {
                    let message = format!("create Claim {claim} Pod {name} in StatefulSet {set} success");
                    self.event(EventType::Normal, "SuccessfulCreate", &message).await;
                }
                Err(e) if e.is_already_exists() => {}
                Err(e) => {
                    let message = format!("create Claim {claim} for Pod {name} in StatefulSet {set} failed error: {e}");
                    self.event(EventType::Warning, "FailedCreate", &message).await;
                    return Err(e.into());
                }
            }
        }
        Ok(true)
    }

    /// Brings the owner references of the (cached) claims of `pod` in line
    /// with the retention policy.
    async fn sync_claim_owners(&self, pod: &Pod, ordinal: i32, condemned: bool) -> Result<(), Error> {
        for wanted in claims_for(self.set, ordinal) {
            let Some(cached) = self.claims.get(&key_of(&wanted)) else { continue };
            if claim_owners(self.set, &cached, pod, condemned).is_none() {
                continue;
            }
            let updated = self
                .claims_api
                .guaranteed_update(&wanted.metadata.name, |c| {
                    if let Some(refs) = claim_owners(self.set, c, pod, condemned) {
                        c.metadata.owner_references = refs;
                    }
                })
                .await;
            match updated {
                Err(e) if e.is_not_found() => {}
                other => {
                    other?;
                }
            }
        }
        Ok(())
    }

    /// Whether a new pod of `ordinal` takes the current revision.
    fn uses_current_revision(&self, ordinal: i32) -> bool {
        let strategy = self.set.spec.update_strategy.as_ref();
        if is_on_delete(self.set) {
            return false;
        }
        let below = match strategy.and_then(|s| s.rolling_update.as_ref()) {
            Some(rolling) => rolling.partition.unwrap_or(0),
            None => self.set.status.as_ref().and_then(|s| s.current_replicas).unwrap_or(0),
        };
        i64::from(ordinal) < i64::from(self.start) + i64::from(below)
    }

    /// Creates the pod of `ordinal` (its claims first); `false` when it has
    /// to wait for a stale claim.
    async fn create_pod(&mut self, ordinal: i32) -> Result<bool, Error> {
        if !self.ensure_claims(ordinal, true).await? {
            return Ok(false);
        }
        let (template, revision) = if self.uses_current_revision(ordinal) {
            (&self.current_template, &self.revisions.current.metadata.name)
        } else {
            (&self.update_template, &self.revisions.update.metadata.name)
        };
        let pod = new_pod(self.set, template, revision, ordinal);
        let set = &self.set.metadata.name;
        match self.pods_api.create(&pod).await {
            Ok(created) => {
                self.r.expectations.expect_creation(&self.set.metadata.uid, &created, self.r.clock.now());
                let message = format!("create Pod {} in StatefulSet {set} successful", created.metadata.name);
                self.event(EventType::Normal, "SuccessfulCreate", &message).await;
                Ok(true)
            }
            // Someone else's pod of that name, or one the cache does not
            // show yet: retried with backoff.
            Err(e) if e.is_already_exists() => Err(e.into()),
            Err(e) => {
                let message = format!("create Pod {} in StatefulSet {set} failed error: {e}", pod.metadata.name);
                self.event(EventType::Warning, "FailedCreate", &message).await;
                Err(e.into())
            }
        }
    }

    async fn delete_pod(&mut self, pod: &Pod) -> Result<(), Error> {
        let uid = &pod.metadata.uid;
        if !self.deleted.insert(uid.clone()) {
            return Ok(());
        }
        let owner = &self.set.metadata.uid;
        self.r.expectations.expect_deletion(owner, pod, self.r.clock.now());
        let options = DeleteOptions {
            preconditions: Some(Preconditions { uid: Some(uid.clone()), resource_version: None }),
            ..Default::default()
        };
        let (name, set) = (&pod.metadata.name, &self.set.metadata.name);
        match self.pods_api.delete(name, &options).await {
            Ok(_) => {
                let message = format!("delete Pod {name} in StatefulSet {set} successful");
                self.event(EventType::Normal, "SuccessfulDelete", &message).await;
                Ok(())
            }
            Err(e) if e.is_not_found() => {
                self.r.expectations.forget_deletion(owner, uid);
                Ok(())
            }
            Err(e) => {
                self.r.expectations.forget_deletion(owner, uid);
                let message = format!("delete Pod {name} in StatefulSet {set} failed error: {e}");
                self.event(EventType::Warning, "FailedDelete", &message).await;
                Err(e.into())
            }
        }
    }

    /// Works on the wanted pod at `index`; `true` when an ordered pass must
    /// stop there.
    async fn process_replica(&mut self, slot: Option<&Arc<Pod>>, index: usize) -> Result<bool, Error> {
        let ordinal = self.start.saturating_add(i32::try_from(index).unwrap_or(i32::MAX));
        let Some(pod) = slot else {
            let created = self.create_pod(ordinal).await?;
            return Ok(self.monotonic || !created);
        };
        // Finished pods go; the next pass, once the cache shows them gone,
        // creates them again.
        if matches!(phase(pod), "Failed" | "Succeeded") {
            if !terminating(pod) {
                tracing::debug!(pod = %pod.metadata.name, phase = phase(pod), "re-creating a finished pod");
                self.delete_pod(pod).await?;
            }
            return Ok(true);
        }
        if terminating(pod) && self.monotonic {
            return Ok(true);
        }
        if phase(pod) == "Pending" {
            self.ensure_claims(ordinal, false).await?;
        }
        if self.monotonic && (!running_and_ready(pod) || !running_and_available(pod, self.min_ready_seconds, self.now))
        {
            return Ok(true);
        }
        if terminating(pod) {
            return Ok(false);
        }
        self.sync_claim_owners(pod, ordinal, false).await?;
        if !identity_matches(self.set, pod, ordinal) {
            let mut fixed = (**pod).clone();
            fixed.metadata.labels.insert(LABEL_POD_NAME.to_owned(), pod_name(self.set, ordinal));
            fixed.metadata.labels.insert(LABEL_POD_INDEX.to_owned(), ordinal.to_string());
            match self.pods_api.update(&fixed).await {
                Err(e) if e.is_not_found() => {}
                other => {
                    other?;
                }
            }
        }
        Ok(false)
    }

    /// Works on a surplus pod; `true` when an ordered pass must stop there.
    async fn process_condemned(&mut self, pod: &Pod, first_unhealthy: Option<&str>) -> Result<bool, Error> {
        if terminating(pod) {
            return Ok(self.monotonic);
        }
        let first = first_unhealthy == Some(pod.metadata.uid.as_str());
        if self.monotonic
            && !first
            && (!running_and_ready(pod) || !running_and_available(pod, self.min_ready_seconds, self.now))
        {
            return Ok(true);
        }
        if let Some(ordinal) = ordinal_of(&self.set.metadata.name, &pod.metadata.name) {
            self.sync_claim_owners(pod, ordinal, true).await?;
        }
        self.delete_pod(pod).await?;
        Ok(true)
    }

    /// The pod work of one reconcile (Kubernetes' `updateStatefulSet`).
    async fn run(&mut self, owned: &[Arc<Pod>]) -> Result<(), Error> {
        let replicas = usize::try_from(self.set.spec.replicas.unwrap_or(1)).unwrap_or(0);
        // Wanted pods by index (ordinal - start); the set may be large.
        let mut slots: BTreeMap<usize, Arc<Pod>> = BTreeMap::new();
        let mut condemned: Vec<(i32, Arc<Pod>)> = Vec::new();
        for pod in owned {
            let Some(ordinal) = ordinal_of(&self.set.metadata.name, &pod.metadata.name) else { continue };
            match usize::try_from(i64::from(ordinal) - i64::from(self.start)) {
                Ok(index) if index < replicas => {
                    slots.insert(index, pod.clone());
                }
                _ => condemned.push((ordinal, pod.clone())),
            }
        }
        condemned.sort_by_key(|c| std::cmp::Reverse(c.0));
        // The lowest unhealthy surplus pod may go although unhealthy, when
        // every wanted pod is healthy.
        let first_unhealthy = if slots.len() == replicas && slots.values().all(|p| healthy(p)) {
            condemned.iter().rev().find(|(_, p)| !healthy(p)).map(|(_, p)| p.metadata.uid.clone())
        } else {
            None
        };

        for index in 0..replicas {
            if self.process_replica(slots.get(&index), index).await? && self.monotonic {
                return Ok(());
            }
        }
        for (_, pod) in &condemned {
            if self.process_condemned(pod, first_unhealthy.as_deref()).await? && self.monotonic {
                return Ok(());
            }
        }
        if is_on_delete(self.set) {
            return Ok(());
        }
        let partition = self
            .set
            .spec
            .update_strategy
            .as_ref()
            .and_then(|s| s.rolling_update.as_ref())
            .and_then(|r| r.partition)
            .unwrap_or(0);
        let partition = usize::try_from(partition).unwrap_or(0);
        let update = &self.revisions.update.metadata.name;
        for target in (partition..replicas).rev() {
            // Missing here means just created (or waiting): not healthy yet.
            let Some(pod) = slots.get(&target) else { return Ok(()) };
            if revision_of(pod) != update && !terminating(pod) && !self.deleted.contains(&pod.metadata.uid) {
                tracing::debug!(pod = %pod.metadata.name, "deleting for update");
                return self.delete_pod(pod).await;
            }
            if !healthy(pod) || self.deleted.contains(&pod.metadata.uid) {
                return Ok(());
            }
        }
        Ok(())
    }
}

impl StatefulSetReconciler {
    /// A reconciler reading pods, claims and revisions from `informers`'
    /// caches, recording events through `api` and telling time
    /// (availability, expectations) by `clock`.
    pub fn new(api: Arc<dyn ObjectApi>, informers: Arc<InformerFactory>, clock: Arc<dyn Clock>) -> Self {
        let recorder = Recorder::with_clock(api, "statefulset-controller", "", clock.clone());
        StatefulSetReconciler { informers, clock, expectations: Arc::default(), recorder }
    }

    /// Its controller: StatefulSets, woken by their pods and revisions and
    /// by orphan pods of their names their selectors match (run it with this
    /// reconciler).
    pub fn controller(&self) -> Controller<StatefulSet> {
        let sets: OnceLock<Store<StatefulSet>> = OnceLock::new();
        let factory = self.informers.clone();
        let expectations = self.expectations.clone();
        Controller::<StatefulSet>::new(self.informers.clone(), None)
            .named("statefulset")
            .owns::<Pod>()
            .owns::<ControllerRevision>()
            .watches::<Pod>(None, move |pod: &Pod| {
                expectations.observe(&pod.metadata);
                if pod.metadata.controller().is_some() {
                    return Vec::new();
                }
                let sets = sets.get_or_init(|| factory.informer::<StatefulSet>(None, None, None).store());
                sets.in_namespace(&pod.metadata.namespace)
                    .iter()
                    .filter(|s| ordinal_of(&s.metadata.name, &pod.metadata.name).is_some())
                    .filter(|s| selector_of(s).is_some_and(|sel| sel.matches(&pod.metadata.labels)))
                    .map(|s| key_of(&**s))
                    .collect()
            })
            .clock(self.clock.clone())
            .workers(5)
    }

    async fn event(&self, set: &StatefulSet, type_: EventType, reason: &str, message: &str) {
        if let Err(e) = self.recorder.publish(&reference_to(set), type_, reason, message).await {
            tracing::debug!(error = %e, reason, "event not recorded");
        }
    }

    /// Finds or makes the update revision and finds the current one.
    async fn revisions(
        &self,
        set: &StatefulSet,
        mut all: Vec<Arc<ControllerRevision>>,
        api: &Api<ControllerRevision>,
    ) -> Result<Revisions, Error> {
        sort_revisions(&mut all);
        let mut collision_count = set.status.as_ref().and_then(|s| s.collision_count).unwrap_or(0);
        let data = revision_data(&set.spec.template);
        let next = next_revision(&all);
        let labels = &set.spec.template.metadata.labels;
        let newest_equal = all.iter().rposition(|r| r.data == data);
        let update = match newest_equal {
            Some(i) if i + 1 == all.len() => all[i].clone(),
            Some(i) => {
                // A rollback: the old revision becomes the newest.
                let mut raised = (*all[i]).clone();
                raised.revision = next;
                let raised = Arc::new(api.update(&raised).await?);
                all[i] = raised.clone();
                raised
            }
            None => {
                let mut attempts = 0;
                loop {
                    let revision = new_revision(set, labels, data.clone(), next, Some(collision_count));
                    match api.create(&revision).await {
                        Ok(created) => break Arc::new(created),
                        Err(e) if e.is_already_exists() => {
                            let existing = api.get_opt(&revision.metadata.name).await?;
                            if let Some(existing) = existing.filter(|r| r.data == data) {
                                // Made by an earlier pass the cache does not show yet.
                                break Arc::new(existing);
                            }
                            collision_count = collision_count.saturating_add(1);
                            attempts += 1;
                            if attempts >= MAX_COLLISIONS {
                                return Err(Error::Collisions(key_of(set)));
                            }
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        };
        if !all.iter().any(|r| r.metadata.uid == update.metadata.uid) {
            all.push(update.clone());
        }
        sort_revisions(&mut all);
        let current_name = set.status.as_ref().and_then(|s| s.current_revision.as_deref());
        let current = all
            .iter()
            .find(|r| Some(r.metadata.name.as_str()) == current_name)
            .cloned()
            .unwrap_or_else(|| update.clone());
        Ok(Revisions { current, update, collision_count, all })
    }

    /// Deletes unused revisions beyond the history limit, oldest first.
    async fn truncate_history(
        &self,
        set: &StatefulSet,
        revisions: &Revisions,
        pods: &[Arc<Pod>],
        api: &Api<ControllerRevision>,
    ) -> Result<(), Error> {
        let mut live: HashSet<&str> = pods.iter().map(|p| revision_of(p)).collect();
        live.insert(&revisions.current.metadata.name);
        live.insert(&revisions.update.metadata.name);
        let history: Vec<&Arc<ControllerRevision>> =
            revisions.all.iter().filter(|r| !live.contains(r.metadata.name.as_str())).collect();
        let limit =
            usize::try_from(set.spec.revision_history_limit.unwrap_or(DEFAULT_REVISION_HISTORY_LIMIT)).unwrap_or(0);
        for old in history.iter().take(history.len().saturating_sub(limit)) {
            match api.delete(&old.metadata.name, &DeleteOptions::default()).await {
                Err(e) if e.is_not_found() => {}
                other => {
                    other?;
                }
            }
        }
        Ok(())
    }

    /// The status of `set` owning `pods`, and when the next ready pod
    /// becomes available.
    fn status(
        &self,
        set: &StatefulSet,
        revisions: &Revisions,
        pods: &[Arc<Pod>],
    ) -> (StatefulSetStatus, Option<Duration>) {
        let now = self.clock.wall();
        let min_ready = set.spec.min_ready_seconds.unwrap_or(0);
        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        let ready: Vec<&Arc<Pod>> = pods.iter().filter(|p| running_and_ready(p)).collect();
        let waits: Vec<Duration> = ready.iter().filter_map(|p| available_in(p, min_ready, now)).collect();
        let next_available = waits.iter().filter(|d| !d.is_zero()).min().copied();
        let at = |name: &str| pods.iter().filter(|p| !terminating(p) && revision_of(p) == name).count();
        let previous = set.status.clone().unwrap_or_default();
        let mut status = StatefulSetStatus {
            observed_generation: set.metadata.generation,
            replicas: count(pods.len()),
            ready_replicas: Some(count(ready.len())),
            current_replicas: Some(count(at(&revisions.current.metadata.name))),
            updated_replicas: Some(count(at(&revisions.update.metadata.name))),
            current_revision: Some(revisions.current.metadata.name.clone()),
            update_revision: Some(revisions.update.metadata.name.clone()),
            collision_count: Some(revisions.collision_count),
            conditions: previous.conditions,
            available_replicas: count(waits.iter().filter(|d| d.is_zero()).count()),
        };
        // A finished rolling update: the update revision becomes current.
        if !is_on_delete(set)
            && status.updated_replicas == Some(status.replicas)
            && status.ready_replicas == Some(status.replicas)
        {
            status.current_replicas = status.updated_replicas;
            status.current_revision.clone_from(&status.update_revision);
        }
        (status, next_available)
    }

    async fn reconcile_set(&self, set: Arc<StatefulSet>, ctx: &Context) -> Result<Action, Error> {
        let meta = &set.metadata;
        if meta.deletion_timestamp.is_some() {
            return Ok(Action::AwaitChange);
        }
        let Some(selector) = selector_of(&set) else {
            tracing::warn!(set = %key_of(&*set), "no valid selector: nothing to do");
            return Ok(Action::AwaitChange);
        };
        if !selector.matches(&set.spec.template.metadata.labels) {
            tracing::warn!(set = %key_of(&*set), "the selector does not match the template's labels");
            return Ok(Action::AwaitChange);
        }
        let pods = self.informers.informer::<Pod>(None, None, None).store();
        let revision_cache = self.informers.informer::<ControllerRevision>(None, None, None).store();
        let claims = self.informers.informer::<PersistentVolumeClaim>(None, None, None).store();
        pods.wait_until_synced().await;
        revision_cache.wait_until_synced().await;
        claims.wait_until_synced().await;
        let namespace = Some(meta.namespace.clone());
        let pods_api: Api<Pod> = Api::with_client(ctx.api.clone(), namespace.clone());
        let sets_api: Api<StatefulSet> = Api::with_client(ctx.api.clone(), namespace.clone());
        let revisions_api: Api<ControllerRevision> = Api::with_client(ctx.api.clone(), namespace.clone());
        let claims_api: Api<PersistentVolumeClaim> = Api::with_client(ctx.api.clone(), namespace);

        let pending = self.expectations.pending(&meta.uid, &pods, self.clock.now());
        let candidates: Vec<Arc<Pod>> = claim_candidates(&pods, meta)
            .into_iter()
            .filter(|p| ordinal_of(&meta.name, &p.metadata.name).is_some())
            .collect();
        let owned = claim(&*set, &selector, candidates, &pods_api, &sets_api).await?;
        let revision_candidates = claim_candidates(&revision_cache, meta);
        let owned_revisions = claim(&*set, &selector, revision_candidates, &revisions_api, &sets_api).await?;
        let revisions = self.revisions(&set, owned_revisions, &revisions_api).await?;

        let mut requeue = None;
        let mut failure = None;
        if pending.is_none() {
            let fallback = &set.spec.template;
            let update_template = template_of(&revisions.update).unwrap_or_else(|| fallback.clone());
            let current_template = template_of(&revisions.current).unwrap_or_else(|| {
                tracing::warn!(revision = %revisions.current.metadata.name, "unreadable revision data");
                update_template.clone()
            });
            let mut pass = Pass {
                r: self,
                set: &set,
                pods_api,
                claims_api,
                claims,
                revisions: &revisions,
                current_template,
                update_template,
                start: set.spec.ordinals.as_ref().map_or(0, |o| o.start.max(0)),
                monotonic: !is_parallel(&set),
                min_ready_seconds: set.spec.min_ready_seconds.unwrap_or(0),
                now: self.clock.wall(),
                deleted: HashSet::new(),
                requeue: None,
            };
            failure = pass.run(&owned).await.err();
            requeue = pass.requeue;
        }

        let (status, next_available) = self.status(&set, &revisions, &owned);
        if set.status.as_ref() != Some(&status) {
            let written = sets_api.guaranteed_update_status(&meta.name, |s| s.status = Some(status.clone())).await;
            match written {
                Err(e) if e.is_not_found() => return Ok(Action::AwaitChange),
                other => {
                    other?;
                }
            }
        }
        if let Some(error) = failure {
            return Err(error);
        }
        self.truncate_history(&set, &revisions, &owned, &revisions_api).await?;
        let expires = pending.map(|at| at.saturating_duration_since(self.clock.now()));
        Ok(requeue_soonest([next_available, expires, requeue].into_iter().flatten()))
    }
}

#[async_trait::async_trait]
impl Reconciler<StatefulSet> for StatefulSetReconciler {
    type Error = Error;

    async fn reconcile(&self, set: Arc<StatefulSet>, ctx: &Context) -> Result<Action, Error> {
        self.reconcile_set(set, ctx).await
    }
}

/// Adds the StatefulSet controller to `manager` (system clock).
pub fn add_stateful_sets(manager: &mut Manager) {
    let reconciler = StatefulSetReconciler::new(manager.api(), manager.informers(), Arc::new(SystemClock));
    manager.add(reconciler.controller(), reconciler);
}

#[cfg(test)]
mod tests {
    use k_api_types::Resource;
    use k_api_types::apps::v1::{
        RollingUpdateStatefulSetStrategy, StatefulSetOrdinals, StatefulSetPersistentVolumeClaimRetentionPolicy,
        StatefulSetSpec, StatefulSetUpdateStrategy,
    };
    use k_api_types::core::v1::{Event, PodCondition, PodStatus};
    use k_api_types::meta::{LabelSelector, Time};
    use k_runtime::testing::TestEnv;
    use k_runtime::watcher::Config;
    use k_store::api::ListOptions;
    use serde_json::json;

    use super::*;

    const NS: &str = "default";

    /// A template labelled `app=<app>` running `image`, mounting `data`
    /// (an emptyDir the claim replaces) and `scratch`.
    fn template(app: &str, image: &str) -> PodTemplateSpec {
        serde_json::from_value(json!({
            "metadata": {"labels": {"app": app}},
            "spec": {
                "containers": [{
                    "name": "c",
                    "image": image,
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "scratch", "mountPath": "/tmp"}]
                }],
                "volumes": [{"name": "data", "emptyDir": {}}, {"name": "scratch", "emptyDir": {}}]
            }
        }))
        .unwrap()
    }

    fn claim_template(name: &str) -> PersistentVolumeClaim {
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"tier": "db"}},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
        }))
        .unwrap()
    }

    /// A set selecting `app=<name>` with one claim template `data`.
    fn stateful_set(name: &str, replicas: i32) -> StatefulSet {
        StatefulSet {
            metadata: ObjectMeta::namespaced(NS, name),
            spec: StatefulSetSpec {
                replicas: Some(replicas),
                selector: Some(LabelSelector::from_labels([("app", name)])),
                template: template(name, "db:1"),
                volume_claim_templates: vec![claim_template("data")],
                service_name: "db".into(),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    struct Fixture {
        env: TestEnv,
        informers: Arc<InformerFactory>,
        ctx: Context,
        pods: Api<Pod>,
        sets: Api<StatefulSet>,
        claims: Api<PersistentVolumeClaim>,
        revisions: Api<ControllerRevision>,
    }

    impl Fixture {
        fn new() -> Self {
            let env = TestEnv::new();
            let informers = Arc::new(InformerFactory::new(env.api.clone(), Config::default()));
            let ctx = Context {
                controller: Arc::from("statefulset"),
                api: env.api.clone(),
                clock: Arc::new(env.clock.clone()),
                retries: 0,
            };
            Fixture {
                pods: Api::namespaced(env.store.clone(), NS),
                sets: Api::namespaced(env.store.clone(), NS),
                claims: Api::namespaced(env.store.clone(), NS),
                revisions: Api::namespaced(env.store.clone(), NS),
                env,
                informers,
                ctx,
            }
        }

        fn reconciler(&self) -> StatefulSetReconciler {
            StatefulSetReconciler::new(self.env.api.clone(), self.informers.clone(), Arc::new(self.env.clock.clone()))
        }

        /// Waits until `cache` shows what `api` lists (same uids and versions).
        async fn caught_up<K: Resource + Clone>(&self, api: &Api<K>) {
            let stored: Vec<(String, String)> = api
                .list(&ListOptions::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|o| (o.metadata().uid.clone(), o.metadata().resource_version.clone()))
                .collect();
            let cache = self.informers.informer::<K>(None, None, None).store();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            loop {
                let cached = cache.state();
                if cached.len() == stored.len()
                    && stored.iter().all(|(uid, rv)| {
                        cached.iter().any(|o| &o.metadata().uid == uid && &o.metadata().resource_version == rv)
                    })
                {
                    return;
                }
                assert!(tokio::time::Instant::now() < deadline, "the {} cache never caught up", K::INFO.kind);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }

        /// Lets the caches catch up, then reconciles `name` once.
        async fn step(&self, r: &StatefulSetReconciler, name: &str) -> Action {
            self.caught_up(&self.pods).await;
            self.caught_up(&self.revisions).await;
            self.caught_up(&self.claims).await;
            let current = self.sets.get(name).await.unwrap();
            r.reconcile(Arc::new(current), &self.ctx).await.unwrap()
        }

        async fn all_pods(&self) -> Vec<Pod> {
            let mut pods = self.pods.list(&ListOptions::default()).await.unwrap().items;
            pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
            pods
        }

        async fn pod_names(&self) -> Vec<String> {
            self.all_pods().await.into_iter().map(|p| p.metadata.name).collect()
        }

        async fn claim_names(&self) -> Vec<String> {
            let mut names: Vec<String> = self
                .claims
                .list(&ListOptions::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|c| c.metadata.name)
                .collect();
            names.sort();
            names
        }

        async fn revision_list(&self) -> Vec<ControllerRevision> {
            let mut revisions = self.revisions.list(&ListOptions::default()).await.unwrap().items;
            revisions.sort_by_key(|r| r.revision);
            revisions
        }

        async fn status(&self, name: &str) -> StatefulSetStatus {
            self.sets.get(name).await.unwrap().status.unwrap_or_default()
        }

        /// Writes the pod's phase, ready (since now) or not.
        async fn set_phase(&self, name: &str, phase: &str, ready: bool) {
            let since = Time(self.env.clock.wall());
            let mut pod = self.pods.get(name).await.unwrap();
            pod.status = Some(PodStatus {
                phase: Some(phase.to_owned()),
                conditions: vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    last_transition_time: Some(since),
                    ..Default::default()
                }],
                ..Default::default()
            });
            self.pods.update_status(&pod).await.unwrap();
        }

        async fn ready(&self, name: &str) {
            self.set_phase(name, "Running", true).await;
        }

        /// Plays the node: reconciles and makes every pod Running and Ready
        /// until the set has `want` ready pods, all at the update revision.
        async fn settle(&self, r: &StatefulSetReconciler, name: &str, want: i32) {
            for _ in 0..40 {
                self.step(r, name).await;
                let s = self.status(name).await;
                if s.replicas == want
                    && s.ready_replicas == Some(want)
                    && s.updated_replicas == Some(want)
                    && s.current_revision == s.update_revision
                {
                    return;
                }
                for pod in self.all_pods().await {
                    if !running_and_ready(&pod) && !terminating(&pod) {
                        self.ready(&pod.metadata.name).await;
                    }
                }
            }
            panic!("{name} never settled at {want}: {:?}", self.status(name).await);
        }

        async fn revision_label(&self, pod: &str) -> String {
            revision_of(&self.pods.get(pod).await.unwrap()).to_owned()
        }

        async fn event_reasons(&self) -> Vec<String> {
            let events: Api<Event> = Api::namespaced(self.env.store.clone(), NS);
            events.list(&ListOptions::default()).await.unwrap().items.into_iter().filter_map(|e| e.reason).collect()
        }
    }

    #[test]
    fn ordinals_come_only_from_canonical_names_of_the_set() {
        assert_eq!(ordinal_of("web", "web-0"), Some(0));
        assert_eq!(ordinal_of("web", "web-12"), Some(12));
        assert_eq!(ordinal_of("web-1", "web-1-3"), Some(3));
        assert_eq!(ordinal_of("web", "web-1-3"), None);
        assert_eq!(ordinal_of("web", "web-01"), None);
        assert_eq!(ordinal_of("web", "web-"), None);
        assert_eq!(ordinal_of("web", "webx-1"), None);
        assert_eq!(ordinal_of("web", "web--1"), None);
        assert_eq!(ordinal_of("web", "web-99999999999"), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ordered_ready_creates_one_pod_at_a_time_with_identity_and_claims() {
        let f = Fixture::new();
        let r = f.reconciler();
        let set = f.sets.create(&stateful_set("web", 3)).await.unwrap();
        f.step(&r, "web").await;
        assert_eq!(f.pod_names().await, ["web-0"]);
        assert_eq!(f.claim_names().await, ["data-web-0"]);
        f.step(&r, "web").await;
        assert_eq!(f.pod_names().await, ["web-0"], "web-1 waits for web-0 to be Running and Ready");
        f.set_phase("web-0", "Running", false).await;
        f.step(&r, "web").await;
        assert_eq!(f.pod_names().await, ["web-0"], "running but not ready is not enough");
        f.ready("web-0").await;
        f.step(&r, "web").await;
        assert_eq!(f.pod_names().await, ["web-0", "web-1"]);

        let pod = f.pods.get("web-1").await.unwrap();
        let status = f.status("web").await;
        let labels = &pod.metadata.labels;
        assert_eq!(labels.get(LABEL_POD_NAME).map(String::as_str), Some("web-1"));
        assert_eq!(labels.get(LABEL_POD_INDEX).map(String::as_str), Some("1"));
        assert_eq!(labels.get("app").map(String::as_str), Some("web"));
        assert_eq!(labels.get(LABEL_CONTROLLER_REVISION_HASH), status.update_revision.as_ref());
        assert_eq!(pod.spec.hostname.as_deref(), Some("web-1"));
        assert_eq!(pod.spec.subdomain.as_deref(), Some("db"));
        let reference = pod.metadata.controller().unwrap();
        assert_eq!((reference.kind.as_str(), reference.uid.as_str()), ("StatefulSet", set.metadata.uid.as_str()));
        // The claim replaces the template's `data` volume; `scratch` stays.
        let volumes: Vec<(&str, Option<&str>)> = pod
            .spec
            .volumes
            .iter()
            .map(|v| (v.name.as_str(), v.persistent_volume_claim.as_ref().map(|c| c.claim_name.as_str())))
            .collect();
        assert_eq!(volumes, [("data", Some("data-web-1")), ("scratch", None)]);
        assert!(pod.spec.volumes[1].empty_dir.is_some());

        let claim = f.claims.get("data-web-1").await.unwrap();
        assert_eq!(claim.metadata.labels.get("tier").map(String::as_str), Some("db"));
        assert_eq!(claim.metadata.labels.get("app").map(String::as_str), Some("web"), "the selector's labels");
        assert!(claim.metadata.owner_references.is_empty(), "Retain: claims have no owner");
        assert_eq!(claim.spec.access_modes, ["ReadWriteOnce"]);

        f.ready("web-1").await;
        f.step(&r, "web").await;
        assert_eq!(f.pod_names().await, ["web-0", "web-1", "web-2"]);
        f.ready("web-2").await;
        assert_eq!(f.step(&r, "web").await, Action::AwaitChange);
        assert_eq!(f.pod_names().await.len(), 3);
        assert_eq!(f.claim_names().await, ["data-web-0", "data-web-1", "data-web-2"]);
        let reasons = f.event_reasons().await;
        assert!(reasons.iter().filter(|r| *r == "SuccessfulCreate").count() >= 2, "{reasons:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn status_reports_replicas_readiness_and_availability_by_the_clock() {
        let f = Fixture::new();
        let r = f.reconciler();
        let mut set = stateful_set("web", 2);
        set.spec.min_ready_seconds = Some(10);
        f.sets.create(&set).await.unwrap();
        f.step(&r, "web").await;
        f.step(&r, "web").await;
        let s = f.status("web").await;
        assert_eq!((s.replicas, s.ready_replicas, s.available_replicas), (1, Some(0), 0));
        assert_eq!((s.current_replicas, s.updated_replicas, s.observed_generation), (Some(1), Some(1), Some(1)));
        assert!(s.current_revision.as_deref().is_some_and(|r| r.starts_with("web-")), "{s:?}");
        assert_eq!(s.current_revision, s.update_revision);
        assert_eq!(s.collision_count, Some(0));

        f.ready("web-0").await;
        let action = f.step(&r, "web").await;
        assert!(
            matches!(action, Action::RequeueAfter(d) if d > Duration::from_secs(8) && d <= Duration::from_secs(10)),
            "{action:?}"
        );
        assert_eq!(f.pod_names().await, ["web-0"], "web-1 waits until web-0 is available");
        let s = f.status("web").await;
        assert_eq!((s.ready_replicas, s.available_replicas), (Some(1), 0));

        f.env.clock.advance(Duration::from_secs(10));
        f.step(&r, "web").await;
        assert_eq!(f.pod_names().await, ["web-0", "web-1"]);
        let s = f.status("web").await;
        assert_eq!((s.replicas, s.ready_replicas, s.available_replicas), (1, Some(1), 1), "counted before creating");
        f.step(&r, "web").await;
        assert_eq!(f.status("web").await.replicas, 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scale_down_removes_the_highest_ordinal_first_one_at_a_time_and_keeps_claims() {
        let f = Fixture::new();
        let r = f.reconciler();
        f.sets.create(&stateful_set("web", 3)).await.unwrap();
        f.settle(&r, "web", 3).await;
        f.sets.guaranteed_update("web", |s| s.spec.replicas = Some(1)).await.unwrap();
        f.step(&r, "web").await;
        assert_eq!(f.pod_names().await, ["web-0", "web-1"]);
        // An unhealthy remaining pod holds the scale-down.
        f.set_phase("web-0", "Running", false).await;
        f.step(&r, "web").await;
        assert_eq!(f.pod_names().await, ["web-0", "web-1"]);
        f.ready("web-0").await;
        f.step(&r, "web").await;
        assert_eq!(f.pod_names().await, ["web-0"]);
        assert_eq!(f.claim_names().await, ["data-web-0", "data-web-1", "data-web-2"], "claims outlive their pods");
        assert!(f.event_reasons().await.iter().any(|r| r == "SuccessfulDelete"));
        f.step(&r, "web").await;
        let s = f.status("web").await;
        assert_eq!((s.replicas, s.ready_replicas, s.current_replicas), (1, Some(1), Some(1)));

        // Scaling up again reuses the claims.
        f.sets.guaranteed_update("web", |s| s.spec.replicas = Some(2)).await.unwrap();
        f.settle(&r, "web", 2).await;
        let claims = f.claims.get("data-web-1").await.unwrap();
        let pod = f.pods.get("web-1").await.unwrap();
        assert_eq!(pod.spec.volumes[0].persistent_volume_claim.as_ref().unwrap().claim_name, claims.metadata.name);
        assert_eq!(f.claim_names().await.len(), 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parallel_creates_and_deletes_all_at_once() {
        let f = Fixture::new();
        let r = f.reconciler();
        let mut set = stateful_set("web", 3);
        set.spec.pod_management_policy = Some("Parallel".into());
        f.sets.create(&set).await.unwrap();
        f.step(&r, "web").await;
        assert_eq!(f.pod_names().await, ["web-0", "web-1", "web-2"]);
        assert_eq!(f.claim_names().await, ["data-web-0", "data-web-1", "data-web-2"]);
        f.step(&r, "web").await;
        assert_eq!(f.status("web").await.replicas, 3);
        f.sets.guaranteed_update("web", |s| s.spec.replicas = Some(0)).await.unwrap();
        f.step(&r, "web").await;
        assert!(f.pod_names().await.is_empty(), "pods need not be ready to go in parallel");
        f.step(&r, "web").await;
        assert_eq!(f.status("web").await.replicas, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rolling_update_with_partition_replaces_from_the_highest_ordinal_down() {
        let f = Fixture::new();
        let r = f.reconciler();
        f.sets.create(&stateful_set("web", 3)).await.unwrap();
        f.settle(&r, "web", 3).await;
        let old = f.status("web").await.update_revision.unwrap();
        f.sets
            .guaranteed_update("web", |s| {
                s.spec.template = template("web", "db:2");
                s.spec.update_strategy = Some(StatefulSetUpdateStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateStatefulSetStrategy {
                        partition: Some(1),
                        max_unavailable: None,
                    }),
                });
            })
            .await
            .unwrap();
        f.step(&r, "web").await;
        assert_eq!(f.pod_names().await, ["web-0", "web-1"], "the highest ordinal goes first");
        let s = f.status("web").await;
        let new = s.update_revision.clone().unwrap();
        assert_ne!(new, old);
        assert_eq!(s.current_revision.as_deref(), Some(old.as_str()));
        f.step(&r, "web").await;
        assert_eq!(f.pod_names().await, ["web-0", "web-1", "web-2"]);
        assert_eq!(f.revision_label("web-2").await, new);
        let image = f.pods.get("web-2").await.unwrap().spec.containers[0].image.clone();
        assert_eq!(image.as_deref(), Some("db:2"));
        f.step(&r, "web").await;
        assert_eq!(f.revision_label("web-1").await, old, "web-1 waits for web-2 to be ready");
        f.ready("web-2").await;
        f.step(&r, "web").await;
        assert_eq!(f.pod_names().await, ["web-0", "web-2"]);
        f.step(&r, "web").await;
        assert_eq!(f.revision_label("web-1").await, new);
        f.ready("web-1").await;
        f.step(&r, "web").await;
        f.step(&r, "web").await;
        assert_eq!(f.revision_label("web-0").await, old, "below the partition: kept");
        let s = f.status("web").await;
        assert_eq!(
            (s.replicas, s.ready_replicas, s.current_replicas, s.updated_replicas),
            (3, Some(3), Some(1), Some(2))
        );
        assert_eq!((s.current_revision.as_deref(), s.update_revision.as_deref()), (Some(&*old), Some(&*new)));

        f.sets
            .guaranteed_update("web", |s| {
                s.spec.update_strategy.as_mut().unwrap().rolling_update.as_mut().unwrap().partition = Some(0)
            })
            .await
            .unwrap();
        f.settle(&r, "web", 3).await;
        assert_eq!(f.revision_label("web-0").await, new);
        let s = f.status("web").await;
        assert_eq!((s.current_replicas, s.current_revision.as_deref()), (Some(3), Some(&*new)), "the update completed");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deleted_and_failed_pods_come_back_with_the_same_name_and_claim() {
        let f = Fixture::new();
        let r = f.reconciler();
        f.sets.create(&stateful_set("web", 2)).await.unwrap();
        f.settle(&r, "web", 2).await;
        let before = f.pods.get("web-0").await.unwrap();
        let claim = f.claims.get("data-web-0").await.unwrap();
        f.pods.delete("web-0", &DeleteOptions::default()).await.unwrap();
        f.step(&r, "web").await;
        let after = f.pods.get("web-0").await.unwrap();
        assert_ne!(after.metadata.uid, before.metadata.uid, "a new pod");
        assert_eq!(after.spec.volumes[0].persistent_volume_claim.as_ref().unwrap().claim_name, "data-web-0");
        assert_eq!(f.claims.get("data-web-0").await.unwrap().metadata.uid, claim.metadata.uid, "the same claim");

        // An ordered set does not look past the unready web-0.
        let failed = f.pods.get("web-1").await.unwrap();
        f.set_phase("web-1", "Failed", false).await;
        f.step(&r, "web").await;
        assert_eq!(f.pods.get("web-1").await.unwrap().metadata.uid, failed.metadata.uid);
        f.ready("web-0").await;
        f.step(&r, "web").await;
        assert_eq!(f.pod_names().await, ["web-0"], "the failed pod is deleted");
        assert!(f.event_reasons().await.iter().any(|r| r == "SuccessfulDelete"));
        f.step(&r, "web").await;
        let again = f.pods.get("web-1").await.unwrap();
        assert_ne!(again.metadata.uid, failed.metadata.uid);
        assert_eq!(f.claim_names().await, ["data-web-0", "data-web-1"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn revisions_are_reused_rolled_back_and_trimmed() {
        let f = Fixture::new();
        let r = f.reconciler();
        let mut set = stateful_set("web", 1);
        set.spec.revision_history_limit = Some(1);
        let set = f.sets.create(&set).await.unwrap();
        f.settle(&r, "web", 1).await;
        let revisions = f.revision_list().await;
        assert_eq!(revisions.len(), 1);
        let first = &revisions[0];
        assert_eq!(first.revision, 1);
        assert_eq!(first.data, json!({"spec": {"template": set.spec.template}}));
        assert_eq!(first.metadata.controller().map(|r| r.uid.as_str()), Some(set.metadata.uid.as_str()));
        assert_eq!(first.metadata.labels.get("app").map(String::as_str), Some("web"));
        let hash = first.metadata.labels.get(LABEL_CONTROLLER_REVISION_HASH).unwrap();
        assert_eq!(first.metadata.name, format!("web-{hash}"));
        assert_eq!(f.status("web").await.update_revision.as_ref(), Some(&first.metadata.name));
        let v1 = first.metadata.name.clone();
        f.step(&r, "web").await;
        assert_eq!(f.revision_list().await.len(), 1, "an unchanged template makes no revision");

        f.sets.guaranteed_update("web", |s| s.spec.template = template("web", "db:2")).await.unwrap();
        f.settle(&r, "web", 1).await;
        let revisions = f.revision_list().await;
        assert_eq!(revisions.iter().map(|r| r.revision).collect::<Vec<_>>(), [1, 2]);
        let v2 = revisions[1].metadata.name.clone();
        assert_eq!(f.revision_label("web-0").await, v2);

        // Back to the first template: its revision is reused, renumbered.
        f.sets.guaranteed_update("web", |s| s.spec.template = template("web", "db:1")).await.unwrap();
        f.settle(&r, "web", 1).await;
        let revisions = f.revision_list().await;
        let names: Vec<(&str, i64)> = revisions.iter().map(|r| (r.metadata.name.as_str(), r.revision)).collect();
        assert_eq!(names, [(v2.as_str(), 2), (v1.as_str(), 3)]);
        assert_eq!(f.revision_label("web-0").await, v1);

        // A third template: v1 and v2 are now both unused history and the
        // limit is 1, so the older by revision number (v2) goes.
        f.sets.guaranteed_update("web", |s| s.spec.template = template("web", "db:3")).await.unwrap();
        f.settle(&r, "web", 1).await;
        f.step(&r, "web").await;
        let revisions = f.revision_list().await;
        let names: Vec<&str> = revisions.iter().map(|r| r.metadata.name.as_str()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert_eq!(names[0], v1);
        assert_ne!(names[1], v2);
        assert_eq!(revisions[1].revision, 4);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_delete_replaces_only_pods_someone_deleted() {
        let f = Fixture::new();
        let r = f.reconciler();
        let mut set = stateful_set("web", 2);
        set.spec.update_strategy =
            Some(StatefulSetUpdateStrategy { type_: Some("OnDelete".into()), rolling_update: None });
        f.sets.create(&set).await.unwrap();
        f.settle(&r, "web", 2).await;
        let old = f.status("web").await.update_revision.unwrap();
        f.sets.guaranteed_update("web", |s| s.spec.template = template("web", "db:2")).await.unwrap();
        f.step(&r, "web").await;
        f.step(&r, "web").await;
        assert_eq!(f.pod_names().await, ["web-0", "web-1"]);
        assert_eq!(f.revision_label("web-1").await, old);
        let s = f.status("web").await;
        assert_ne!(s.update_revision.as_deref(), Some(old.as_str()));
        assert_eq!((s.current_replicas, s.updated_replicas), (Some(2), Some(0)));
        f.pods.delete("web-1", &DeleteOptions::default()).await.unwrap();
        f.step(&r, "web").await;
        assert_eq!(f.revision_label("web-1").await, s.update_revision.clone().unwrap());
        assert_eq!(f.revision_label("web-0").await, old);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn retention_policy_delete_makes_the_set_and_scaled_down_pods_own_claims() {
        let f = Fixture::new();
        let r = f.reconciler();
        let mut set = stateful_set("web", 2);
        set.spec.persistent_volume_claim_retention_policy = Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
            when_deleted: Some("Delete".into()),
            when_scaled: Some("Delete".into()),
        });
        let set = f.sets.create(&set).await.unwrap();
        f.settle(&r, "web", 2).await;
        for name in ["data-web-0", "data-web-1"] {
            let claim = f.claims.get(name).await.unwrap();
            let owners: Vec<(&str, Option<bool>)> =
                claim.metadata.owner_references.iter().map(|o| (o.uid.as_str(), o.controller)).collect();
            assert_eq!(owners, [(set.metadata.uid.as_str(), None)], "{name}");
        }
        let web1 = f.pods.get("web-1").await.unwrap();
        f.sets.guaranteed_update("web", |s| s.spec.replicas = Some(1)).await.unwrap();
        f.step(&r, "web").await;
        assert_eq!(f.pod_names().await, ["web-0"]);
        let claim = f.claims.get("data-web-1").await.unwrap();
        assert!(claim.metadata.owner_references.iter().any(|o| o.uid == web1.metadata.uid && o.kind == "Pod"));
        let kept = f.claims.get("data-web-0").await.unwrap();
        assert!(kept.metadata.owner_references.iter().all(|o| o.kind != "Pod"));

        // Scaled up before the garbage collector removed it: the new pod
        // waits for the stale claim to go.
        f.sets.guaranteed_update("web", |s| s.spec.replicas = Some(2)).await.unwrap();
        let action = f.step(&r, "web").await;
        assert_eq!(action, Action::RequeueAfter(STALE_CLAIM_RETRY));
        assert_eq!(f.pod_names().await, ["web-0"]);
        f.claims.delete("data-web-1", &DeleteOptions::default()).await.unwrap();
        f.step(&r, "web").await;
        assert_eq!(f.pod_names().await, ["web-0", "web-1"]);
        let fresh = f.claims.get("data-web-1").await.unwrap();
        assert_ne!(fresh.metadata.uid, claim.metadata.uid);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn adopts_orphans_and_numbers_from_the_start_ordinal() {
        let f = Fixture::new();
        let r = f.reconciler();
        let t = template("web", "db:1");
        let orphan = Pod {
            metadata: ObjectMeta { labels: t.metadata.labels.clone(), ..ObjectMeta::namespaced(NS, "web-5") },
            spec: t.spec.clone(),
            ..Default::default()
        };
        let orphan = f.pods.create(&orphan).await.unwrap();
        let stranger = Pod {
            metadata: ObjectMeta { labels: t.metadata.labels.clone(), ..ObjectMeta::namespaced(NS, "other-0") },
            spec: t.spec.clone(),
            ..Default::default()
        };
        f.pods.create(&stranger).await.unwrap();
        let mut set = stateful_set("web", 2);
        set.spec.ordinals = Some(StatefulSetOrdinals { start: 5 });
        set.spec.pod_management_policy = Some("Parallel".into());
        let set = f.sets.create(&set).await.unwrap();
        f.step(&r, "web").await;
        assert_eq!(f.pod_names().await, ["other-0", "web-5", "web-6"]);
        let adopted = f.pods.get("web-5").await.unwrap();
        assert_eq!(adopted.metadata.uid, orphan.metadata.uid);
        assert_eq!(adopted.metadata.controller().map(|o| o.uid.as_str()), Some(set.metadata.uid.as_str()));
        assert_eq!(adopted.metadata.labels.get(LABEL_POD_INDEX).map(String::as_str), Some("5"), "identity fixed");
        assert!(f.pods.get("other-0").await.unwrap().metadata.owner_references.is_empty(), "not named after the set");
        assert_eq!(f.pods.get("web-6").await.unwrap().metadata.labels.get(LABEL_POD_INDEX).unwrap(), "6");
        assert_eq!(f.claim_names().await, ["data-web-5", "data-web-6"], "missing claims of pending pods are made");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn expectations_hold_pod_work_until_the_cache_shows_it_or_they_expire() {
        let f = Fixture::new();
        // A cache that never sees anything: informers over another store.
        let blind = Arc::new(InformerFactory::new(Arc::new(k_store::Store::in_memory()), Config::default()));
        let r = StatefulSetReconciler::new(f.env.api.clone(), blind, Arc::new(f.env.clock.clone()));
        let mut set = stateful_set("web", 2);
        set.spec.pod_management_policy = Some("Parallel".into());
        f.sets.create(&set).await.unwrap();
        let reconcile = || async { r.reconcile(Arc::new(f.sets.get("web").await.unwrap()), &f.ctx).await };
        assert_eq!(reconcile().await.unwrap(), Action::AwaitChange);
        assert_eq!(f.pod_names().await, ["web-0", "web-1"]);
        let action = reconcile().await.unwrap();
        assert!(matches!(action, Action::RequeueAfter(d) if d <= crate::util::EXPECTATIONS_TIMEOUT), "{action:?}");
        assert_eq!(f.revision_list().await.len(), 1, "the revision made before is found, not duplicated");
        f.env.clock.advance(crate::util::EXPECTATIONS_TIMEOUT);
        // Expired: the pods are created again, and the names are taken.
        let error = reconcile().await.expect_err("the names are taken");
        assert!(matches!(&error, Error::Store(e) if e.is_already_exists()), "{error:?}");
        assert_eq!(f.pod_names().await, ["web-0", "web-1"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_running_manager_brings_up_a_parallel_set() {
        let env = TestEnv::new();
        let mut manager = env.manager();
        add_stateful_sets(&mut manager);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(manager.run(async {
            let _ = stopped.await;
        }));
        let sets: Api<StatefulSet> = Api::namespaced(env.store.clone(), NS);
        let mut set = stateful_set("web", 2);
        set.spec.pod_management_policy = Some("Parallel".into());
        sets.create(&set).await.unwrap();
        env.wait_for(
            NS,
            "web",
            |s: &StatefulSet| s.status.as_ref().is_some_and(|s| s.replicas == 2),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        let pods: Api<Pod> = Api::namespaced(env.store.clone(), NS);
        pods.delete("web-1", &DeleteOptions::default()).await.unwrap();
        env.wait_for(NS, "web-1", |_: &Pod| true, Duration::from_secs(10)).await.unwrap();
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(10), run).await.unwrap().unwrap();
    }
}
