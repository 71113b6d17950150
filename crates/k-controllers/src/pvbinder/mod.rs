//! The PersistentVolume binder (kube-controller-manager's
//! `persistentvolume-binder`): binds claims to volumes, provisions volumes
//! for StorageClasses and reclaims volumes whose claim is gone.
//!
//! [`PersistentVolumeBinder`] holds the logic; it runs as two controllers,
//! one of PersistentVolumeClaims ([`ClaimReconciler`], woken by volumes,
//! StorageClasses and scheduled pods) and one of PersistentVolumes
//! ([`VolumeReconciler`], woken by claims). [`add_pv_binder`] adds both to
//! a manager.
//!
//! # Claims
//!
//! - **Matching.** A pending claim without `spec.volumeName` is bound to
//!   the *smallest* volume that satisfies it: capacity at least
//!   `resources.requests.storage`; every access mode of the claim; the same
//!   `storageClassName` (`""` only matches volumes without class, and a
//!   claim whose class is unset takes the default StorageClass, annotated
//!   `storageclass.kubernetes.io/is-default-class: "true"`, the newest if
//!   several, when the API server did not set it); the same `volumeMode`
//!   (`Filesystem` when unset); labels matching the claim's `selector`
//!   (`matchLabels` and `matchExpressions`); not being deleted; not claimed
//!   (`Available` or not yet synced, without `claimRef`). A volume
//!   *pre-bound* to the claim (its `claimRef` names the claim, with no uid
//!   or the claim's) wins over the others if it satisfies the claim.
//! - **Pre-bound claims** (`spec.volumeName` set by the user) are bound to
//!   that volume if it is unclaimed or pre-bound to them and satisfies them
//!   (otherwise event `VolumeMismatch` or `FailedBinding`, stay `Pending`).
//! - **Binding**, each step skipped when already done, so an interrupted
//!   bind resumes: the volume's `claimRef` (kind, namespace, name, uid,
//!   apiVersion, resourceVersion) and, unless it was pre-bound, annotation
//!   `pv.kubernetes.io/bound-by-controller: "yes"`; the volume's phase
//!   `Bound`; the claim's `spec.volumeName` (with `bound-by-controller`
//!   when the controller chose the volume) and annotation
//!   `pv.kubernetes.io/bind-completed: "yes"`; the claim's status `Bound`
//!   with the volume's capacity and access modes.
//! - **No match**: the claim stays `Pending`, with event `FailedBinding`
//!   (`no persistent volumes available for this claim and no storage class
//!   is set`, or the class is missing) until a volume, class or pod change
//!   wakes it; with a StorageClass, it is provisioned instead.
//! - **Lost**: a bound claim whose volume is gone (or bound to another
//!   claim) turns `Lost`, event `ClaimLost` (`ClaimMisbound`).
//!
//! # Dynamic provisioning
//!
//! A claim of a StorageClass with no matching volume is annotated
//! `volume.kubernetes.io/storage-provisioner` (and the beta key) with the
//! class's provisioner. When a [`Provisioner`] is registered under that name
//! ([`PersistentVolumeBinder::with_provisioner`]), it creates the storage
//! and the binder creates the volume `pvc-<claim uid>`, annotated
//! `pv.kubernetes.io/provisioned-by` and pre-bound to the claim, with the
//! class's reclaim policy (`Delete` by default) and mount options, then binds
//! it (events `ProvisioningSucceeded`, `ProvisioningFailed`). Otherwise the
//! claim waits for an external provisioner (event `ExternalProvisioning`).
//! Claims with a selector are not provisioned (as in Kubernetes).
//! [`LocalDirectoryProvisioner`] is included.
//!
//! # WaitForFirstConsumer
//!
//! A claim of a class with `volumeBindingMode: WaitForFirstConsumer` is not
//! bound nor provisioned (event `WaitForFirstConsumer`) until it has the
//! annotation `volume.kubernetes.io/selected-node`. A scheduler may set it;
//! otherwise the binder sets it itself as soon as a pod using the claim (a
//! `persistentVolumeClaim` volume) has `spec.nodeName`, and not terminated.
//! The selected node is passed to the provisioner. `Immediate` classes bind
//! at once.
//!
//! # Volumes
//!
//! A volume without claim (or only pre-bound by name) is `Available`; bound
//! to an existing claim that names it, `Bound`. When its claim is deleted (or
//! recreated with another uid) it turns `Released`, and then by its reclaim
//! policy:
//! - `Retain` (the default): it stays `Released` for an administrator.
//! - `Delete`: a volume provisioned by a registered provisioner is deleted
//!   through it first (on failure the volume turns `Failed`, event
//!   `VolumeFailedDelete`, retried every [`DELETE_RETRY`]); then the
//!   object is deleted. A volume provisioned by an unregistered (external)
//!   provisioner is left to it.
//! - `Recycle`: the [`Recycler`] scrubs it ([`DirectoryRecycler`] by
//!   default: the contents of a `hostPath` or `local` directory); the volume
//!   is then `Available` again, its `claimRef` cleared (or only its uid, if
//!   the user had pre-bound it), event `VolumeRecycled`; on failure it turns
//!   `Failed` with the message (event `VolumeFailedRecycle`), not retried.
//!
//! A bound-by-controller volume whose claim got bound to another volume is
//! unbound (`Available`), or reclaimed when it was provisioned for the
//! claim with policy `Delete`.
//!
//! # Not covered
//!
//! Node affinity of static volumes is not checked against the selected
//! node; no volume expansion, data sources or populators, CSI migration,
//! storage-version or `pv-protection` finalizers, metrics, nor the periodic
//! resync (changes to volumes, classes and pods wake the claims instead).

mod plugins;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use k_api_types::core::v1::{
    ObjectReference, PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimStatus, PersistentVolumeStatus, Pod,
};
use k_api_types::meta::{DeleteOptions, ObjectMeta, Preconditions, Time};
use k_api_types::selector::label::Selector;
use k_api_types::storage::v1::StorageClass;
use k_runtime::clock::{Clock, SystemClock};
use k_runtime::controller::{Action, Context, Controller, Reconciler};
use k_runtime::events::{EventType, Recorder, reference_to};
use k_runtime::informer::InformerFactory;
use k_runtime::manager::Manager;
use k_runtime::reflector::{Store, key_of};
use k_store::{Api, ObjectApi, StoreError};

pub use plugins::{
    DirectoryRecycler, LABEL_HOSTNAME, LOCAL_DIRECTORY_PROVISIONER, LocalDirectoryProvisioner, ProvisionRequest,
    Provisioner, Recycler, VolumeError,
};

/// The component name of the binder's events.
pub const COMPONENT: &str = "persistentvolume-controller";
/// Claim annotation: the binder finished binding the claim.
pub const ANNOTATION_BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
/// Claim and volume annotation: the binder (not the user) chose the binding.
pub const ANNOTATION_BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
/// Volume annotation: the provisioner that created the volume.
pub const ANNOTATION_PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
/// Claim annotation: the provisioner expected to provision the claim.
pub const ANNOTATION_STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
/// The deprecated form of [`ANNOTATION_STORAGE_PROVISIONER`], also set.
pub const ANNOTATION_BETA_STORAGE_PROVISIONER: &str = "volume.beta.kubernetes.io/storage-provisioner";
/// Claim annotation: the node of the claim's first consumer.
pub const ANNOTATION_SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// StorageClass annotation marking the default class (`"true"`).
pub const ANNOTATION_DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
const ANNOTATION_BETA_DEFAULT_CLASS: &str = "storageclass.beta.kubernetes.io/is-default-class";
/// The environment variable naming the base directory of
/// [`add_pv_binder`]'s local-directory provisioner.
pub const VOLUMES_DIR_ENV: &str = "K_VOLUMES_DIR";
/// The base directory of [`add_pv_binder`]'s local-directory provisioner
/// when [`VOLUMES_DIR_ENV`] is not set.
pub const DEFAULT_VOLUMES_DIR: &str = "/var/lib/k/volumes";
/// How long a failed deletion of a `Delete` volume waits before the next try.
pub const DELETE_RETRY: Duration = Duration::from_secs(15);

/// Volume phase: unbound and usable.
pub const PHASE_AVAILABLE: &str = "Available";
/// Volume and claim phase: bound.
pub const PHASE_BOUND: &str = "Bound";
/// Volume phase: its claim is gone; not yet reclaimed.
pub const PHASE_RELEASED: &str = "Released";
/// Volume phase: reclaiming failed.
pub const PHASE_FAILED: &str = "Failed";
/// Claim phase: not bound yet.
pub const PHASE_PENDING: &str = "Pending";
/// Claim phase: its volume is gone.
pub const PHASE_LOST: &str = "Lost";

const MESSAGE_NO_CLASS: &str = "no persistent volumes available for this claim and no storage class is set";

/// Why a reconcile failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A read or write of the object API failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A provisioner failed.
    #[error("provisioning failed: {0}")]
    Provisioning(VolumeError),
}

// ---------------------------------------------------------------------------
// Helpers over the objects
// ---------------------------------------------------------------------------

fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.get(key).map(String::as_str)
}

fn claim_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

fn volume_phase(volume: &PersistentVolume) -> &str {
    volume.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or_default()
}

fn claim_phase(claim: &PersistentVolumeClaim) -> &str {
    claim.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or_default()
}

fn volume_name(claim: &PersistentVolumeClaim) -> &str {
    claim.spec.volume_name.as_deref().unwrap_or_default()
}

fn volume_class(volume: &PersistentVolume) -> &str {
    volume.spec.storage_class_name.as_deref().unwrap_or_default()
}

fn is_bind_completed(claim: &PersistentVolumeClaim) -> bool {
    claim.metadata.annotations.contains_key(ANNOTATION_BIND_COMPLETED)
}

fn bound_by_controller(meta: &ObjectMeta) -> bool {
    meta.annotations.contains_key(ANNOTATION_BOUND_BY_CONTROLLER)
}

/// Whether the volume's `claimRef` names the claim (with its uid or none).
fn is_bound_to_claim(volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> bool {
    volume.spec.claim_ref.as_ref().is_some_and(|r| {
        r.name == claim.metadata.name
            && r.namespace == claim.metadata.namespace
            && (r.uid.is_empty() || r.uid == claim.metadata.uid)
    })
}

fn is_default_class(class: &StorageClass) -> bool {
    [ANNOTATION_DEFAULT_CLASS, ANNOTATION_BETA_DEFAULT_CLASS]
        .iter()
        .any(|key| annotation(&class.metadata, key) == Some("true"))
}

/// Why `volume` cannot serve `claim` of class `class` (size, class, volume
/// mode, access modes), or `None` when it can.
fn unsatisfied(volume: &PersistentVolume, claim: &PersistentVolumeClaim, class: &str) -> Option<&'static str> {
    if let Some(request) = claim.spec.resources.requests.get("storage") {
        match volume.spec.capacity.get("storage") {
            Some(capacity) if capacity >= request => {}
            _ => return Some("requested PV is too small"),
        }
    }
    if volume_class(volume) != class {
        return Some("storageClassName does not match");
    }
    let mode = |m: &Option<String>| m.clone().filter(|m| !m.is_empty()).unwrap_or_else(|| "Filesystem".to_owned());
    if mode(&volume.spec.volume_mode) != mode(&claim.spec.volume_mode) {
        return Some("incompatible volumeMode");
    }
    if !claim.spec.access_modes.iter().all(|m| volume.spec.access_modes.contains(m)) {
        return Some("incompatible accessMode");
    }
    None
}

/// The smallest volume of `volumes` that can be bound to `claim` of class
/// `class` (a volume pre-bound to the claim first).
fn best_match(
    volumes: &[Arc<PersistentVolume>],
    claim: &PersistentVolumeClaim,
    class: &str,
) -> Option<Arc<PersistentVolume>> {
    let selector = match claim.spec.selector.as_ref().map(Selector::try_from).transpose() {
        Ok(selector) => selector,
        Err(e) => {
            tracing::warn!(claim = %key_of(claim), error = %e, "invalid selector: no volume matches");
            return None;
        }
    };
    let mut best: Option<&Arc<PersistentVolume>> = None;
    for volume in volumes {
        if volume.metadata.deletion_timestamp.is_some() || unsatisfied(volume, claim, class).is_some() {
            continue;
        }
        if is_bound_to_claim(volume, claim) {
            return Some(volume.clone());
        }
        if volume.spec.claim_ref.is_some() || !matches!(volume_phase(volume), "" | "Pending" | PHASE_AVAILABLE) {
            continue;
        }
        if selector.as_ref().is_some_and(|s| !s.matches(&volume.metadata.labels)) {
            continue;
        }
        let smaller = best.is_none_or(|b| {
            let (size, best_size) = (volume.spec.capacity.get("storage"), b.spec.capacity.get("storage"));
            (size, &volume.metadata.name) < (best_size, &b.metadata.name)
        });
        if smaller {
            best = Some(volume);
        }
    }
    best.cloned()
}

/// The claims a pod uses through `persistentVolumeClaim` volumes.
fn claims_of(pod: &Pod) -> impl Iterator<Item = String> + '_ {
    pod.spec
        .volumes
        .iter()
        .filter_map(|v| v.persistent_volume_claim.as_ref())
        .map(|s| claim_key(&pod.metadata.namespace, &s.claim_name))
}

// ---------------------------------------------------------------------------
// The binder
// ---------------------------------------------------------------------------

/// The state shared by the two reconcilers.
struct Core {
    api: Arc<dyn ObjectApi>,
    informers: Arc<InformerFactory>,
    clock: Arc<dyn Clock>,
    recorder: Recorder,
    provisioners: HashMap<String, Arc<dyn Provisioner>>,
    recycler: Arc<dyn Recycler>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.provisioners.keys().collect();
        names.sort();
        f.debug_struct("Core").field("provisioners", &names).field("recycler", &self.recycler).finish_non_exhaustive()
    }
}

/// The PersistentVolume binder (see the [module documentation](self)):
/// configure it, then run its two controllers
/// ([`add_to`](Self::add_to), or [`claim_controller`](Self::claim_controller)
/// and [`volume_controller`](Self::volume_controller) with the
/// [`reconcilers`](Self::reconcilers)).
#[derive(Debug)]
pub struct PersistentVolumeBinder {
    core: Core,
}

impl PersistentVolumeBinder {
    /// A binder reading volumes, claims, StorageClasses and pods from
    /// `informers`' caches, writing and recording events through `api`, on
    /// `clock`; no provisioner, the [`DirectoryRecycler`].
    pub fn new(api: Arc<dyn ObjectApi>, informers: Arc<InformerFactory>, clock: Arc<dyn Clock>) -> Self {
        let recorder = Recorder::with_clock(api.clone(), COMPONENT, "", clock.clone());
        PersistentVolumeBinder {
            core: Core {
                api,
                informers,
                clock,
                recorder,
                provisioners: HashMap::new(),
                recycler: Arc::new(DirectoryRecycler),
            },
        }
    }

    /// Registers `provisioner` for StorageClasses whose `provisioner` is
    /// `name` (replacing one registered under the same name).
    pub fn with_provisioner(mut self, name: impl Into<String>, provisioner: Arc<dyn Provisioner>) -> Self {
        self.core.provisioners.insert(name.into(), provisioner);
        self
    }

    /// Recycles `Recycle` volumes with `recycler` instead of the
    /// [`DirectoryRecycler`].
    pub fn with_recycler(mut self, recycler: Arc<dyn Recycler>) -> Self {
        self.core.recycler = recycler;
        self
    }

    /// The controller of claims: woken by their volumes (and by unclaimed
    /// volumes, which may match pending claims), by StorageClasses (pending
    /// claims) and by pods using them. Run it with the [`ClaimReconciler`].
    pub fn claim_controller(&self) -> Controller<PersistentVolumeClaim> {
        let informers = self.core.informers.clone();
        let claims: Arc<OnceLock<Store<PersistentVolumeClaim>>> = Arc::default();
        let pending = {
            let (informers, claims) = (informers.clone(), claims.clone());
            move || -> Vec<String> {
                let claims = claims.get_or_init(|| informers.informer(None, None, None).store());
                claims
                    .state()
                    .iter()
                    .filter(|c| !is_bind_completed(c) && volume_name(c).is_empty())
                    .map(|c| key_of(&**c))
                    .collect()
            }
        };
        let pending = Arc::new(pending);
        let for_volumes = pending.clone();
        Controller::<PersistentVolumeClaim>::new(informers, None)
            .named("persistentvolume-binder-claims")
            .watches::<PersistentVolume>(None, move |volume| match &volume.spec.claim_ref {
                Some(r) if !r.name.is_empty() => vec![claim_key(&r.namespace, &r.name)],
                _ => for_volumes(),
            })
            .watches::<StorageClass>(None, move |_| pending())
            .watches::<Pod>(None, |pod| {
                if pod.spec.node_name.as_deref().is_none_or(str::is_empty) {
                    return Vec::new();
                }
                claims_of(pod).collect()
            })
            .clock(self.core.clock.clone())
            .workers(2)
    }

    /// The controller of volumes: woken by the claims they (or the claims)
    /// name. Run it with the [`VolumeReconciler`].
    pub fn volume_controller(&self) -> Controller<PersistentVolume> {
        let informers = self.core.informers.clone();
        let volumes: OnceLock<Store<PersistentVolume>> = OnceLock::new();
        let factory = informers.clone();
        Controller::<PersistentVolume>::new(informers, None)
            .named("persistentvolume-binder-volumes")
            .watches::<PersistentVolumeClaim>(None, move |claim| {
                let volumes = volumes.get_or_init(|| factory.informer(None, None, None).store());
                let mut keys: Vec<String> = volumes
                    .state()
                    .iter()
                    .filter(|v| {
                        v.spec
                            .claim_ref
                            .as_ref()
                            .is_some_and(|r| r.name == claim.metadata.name && r.namespace == claim.metadata.namespace)
                    })
                    .map(|v| v.metadata.name.clone())
                    .collect();
                let named = volume_name(claim);
                if !named.is_empty() && !keys.iter().any(|k| k == named) {
                    keys.push(named.to_owned());
                }
                keys
            })
            .clock(self.core.clock.clone())
            .workers(2)
    }

    /// The two reconcilers, sharing this binder.
    pub fn reconcilers(self) -> (ClaimReconciler, VolumeReconciler) {
        let core = Arc::new(self.core);
        (ClaimReconciler { core: core.clone() }, VolumeReconciler { core })
    }

    /// Adds both controllers to `manager`.
    pub fn add_to(self, manager: &mut Manager) {
        let (claims, volumes) = (self.claim_controller(), self.volume_controller());
        let (claim_reconciler, volume_reconciler) = self.reconcilers();
        manager.add(claims, claim_reconciler);
        manager.add(volumes, volume_reconciler);
    }
}

impl Core {
    fn volumes(&self) -> Store<PersistentVolume> {
        self.informers.informer::<PersistentVolume>(None, None, None).store()
    }

    fn claims(&self) -> Store<PersistentVolumeClaim> {
        self.informers.informer::<PersistentVolumeClaim>(None, None, None).store()
    }

    fn classes(&self) -> Store<StorageClass> {
        self.informers.informer::<StorageClass>(None, None, None).store()
    }

    fn pods(&self) -> Store<Pod> {
        self.informers.informer::<Pod>(None, None, None).store()
    }

    fn volume_api(&self) -> Api<PersistentVolume> {
        Api::with_client(self.api.clone(), None)
    }

    fn claim_api(&self, namespace: &str) -> Api<PersistentVolumeClaim> {
        Api::with_client(self.api.clone(), Some(namespace.to_owned()))
    }

    async fn event<K: k_api_types::Resource>(&self, object: &K, type_: EventType, reason: &str, message: &str) {
        if let Err(e) = self.recorder.publish(&reference_to(object), type_, reason, message).await {
            tracing::debug!(error = %e, reason, "event not recorded");
        }
    }

    /// The volume `name`: from the cache, or else read (the cache may lag).
    async fn volume(&self, name: &str) -> Result<Option<Arc<PersistentVolume>>, Error> {
        if let Some(volume) = self.volumes().get(name) {
            return Ok(Some(volume));
        }
        Ok(self.volume_api().get_opt(name).await?.map(Arc::new))
    }

    /// The claim `namespace/name` with uid `uid`: from the cache, or else
    /// read (the cache may lag).
    async fn claim(&self, namespace: &str, name: &str, uid: &str) -> Result<Option<PersistentVolumeClaim>, Error> {
        let cached = self.claims().get(&claim_key(namespace, name));
        let claim = match cached {
            Some(c) if c.metadata.uid == uid => Some((*c).clone()),
            _ => self.claim_api(namespace).get_opt(name).await?,
        };
        Ok(claim.filter(|c| c.metadata.uid == uid))
    }

    /// The class of a claim: its own, or else the default class's name
    /// (`""`: no class).
    fn class_of(&self, claim: &PersistentVolumeClaim) -> String {
        if let Some(class) = &claim.spec.storage_class_name {
            return class.clone();
        }
        let classes = self.classes().state();
        let default = classes.iter().filter(|c| is_default_class(c)).max_by(|a, b| {
            (&a.metadata.creation_timestamp, &b.metadata.name).cmp(&(&b.metadata.creation_timestamp, &a.metadata.name))
        });
        default.map(|c| c.metadata.name.clone()).unwrap_or_default()
    }

    /// The node of a running pod using `claim`, if any.
    fn scheduled_consumer(&self, claim: &PersistentVolumeClaim) -> Option<String> {
        let key = key_of(claim);
        let mut pods = self.pods().in_namespace(&claim.metadata.namespace);
        pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        pods.iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none() && crate::util::is_active(p))
            .filter(|p| claims_of(p).any(|k| k == key))
            .find_map(|p| p.spec.node_name.clone().filter(|n| !n.is_empty()))
    }

    async fn wait_for_caches(&self) {
        self.volumes().wait_until_synced().await;
        self.claims().wait_until_synced().await;
        self.classes().wait_until_synced().await;
        self.pods().wait_until_synced().await;
    }

    // -- Writes -------------------------------------------------------------

    /// Sets the volume's phase (and message), if it differs.
    async fn set_volume_phase(
        &self,
        volume: &PersistentVolume,
        phase: &str,
        message: Option<&str>,
    ) -> Result<PersistentVolume, Error> {
        let current = volume.status.clone().unwrap_or_default();
        if current.phase.as_deref() == Some(phase) && current.message.as_deref() == message {
            return Ok(volume.clone());
        }
        let changed = current.phase.as_deref() != Some(phase);
        let mut updated = volume.clone();
        updated.status = Some(PersistentVolumeStatus {
            phase: Some(phase.to_owned()),
            message: message.map(str::to_owned),
            reason: None,
            last_phase_transition_time: if changed {
                Some(Time(self.clock.wall()))
            } else {
                current.last_phase_transition_time
            },
        });
        Ok(self.volume_api().update_status(&updated).await?)
    }

    /// Sets the claim's phase, if it differs (capacity and access modes are
    /// cleared unless bound).
    async fn set_claim_phase(
        &self,
        claim: &PersistentVolumeClaim,
        phase: &str,
        volume: Option<&PersistentVolume>,
    ) -> Result<PersistentVolumeClaim, Error> {
        let current = claim.status.clone().unwrap_or_default();
        let mut wanted = PersistentVolumeClaimStatus { phase: Some(phase.to_owned()), ..current.clone() };
        if let Some(volume) = volume {
            wanted.access_modes.clone_from(&volume.spec.access_modes);
            wanted.capacity.clone_from(&volume.spec.capacity);
        } else if phase == PHASE_PENDING {
            wanted.access_modes.clear();
            wanted.capacity.clear();
        }
        if wanted == current {
            return Ok(claim.clone());
        }
        let mut updated = claim.clone();
        updated.status = Some(wanted);
        Ok(self.claim_api(&claim.metadata.namespace).update_status(&updated).await?)
    }

    /// Binds `volume` and `claim`, doing only the steps not yet done.
    async fn bind(&self, volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> Result<(), Error> {
        // 1. The volume's claim reference.
        let mut volume = volume.clone();
        let reference_matches = volume.spec.claim_ref.as_ref().is_some_and(|r| {
            r.name == claim.metadata.name && r.namespace == claim.metadata.namespace && r.uid == claim.metadata.uid
        });
        if !reference_matches {
            let pre_bound = is_bound_to_claim(&volume, claim);
            volume.spec.claim_ref = Some(ObjectReference {
                kind: "PersistentVolumeClaim".to_owned(),
                api_version: "v1".to_owned(),
                ..reference_to(claim)
            });
            if !pre_bound {
                volume.metadata.annotations.insert(ANNOTATION_BOUND_BY_CONTROLLER.to_owned(), "yes".to_owned());
            }
            volume = self.volume_api().update(&volume).await?;
            tracing::info!(volume = %volume.metadata.name, claim = %key_of(claim), "volume bound to claim");
        }
        // 2. The volume's phase.
        let volume = self.set_volume_phase(&volume, PHASE_BOUND, None).await?;
        // 3. The claim's volume name and annotations.
        let mut claim = claim.clone();
        let named = volume_name(&claim) == volume.metadata.name;
        if !named || !is_bind_completed(&claim) {
            if !named {
                claim.spec.volume_name = Some(volume.metadata.name.clone());
                claim.metadata.annotations.insert(ANNOTATION_BOUND_BY_CONTROLLER.to_owned(), "yes".to_owned());
            }
            claim.metadata.annotations.insert(ANNOTATION_BIND_COMPLETED.to_owned(), "yes".to_owned());
            claim = self.claim_api(&claim.metadata.namespace).update(&claim).await?;
        }
        // 4. The claim's status.
        self.set_claim_phase(&claim, PHASE_BOUND, Some(&volume)).await?;
        Ok(())
    }

    // -- Claims -------------------------------------------------------------

    async fn sync_claim(&self, claim: &PersistentVolumeClaim) -> Result<Action, Error> {
        self.wait_for_caches().await;
        if is_bind_completed(claim) { self.sync_bound_claim(claim).await } else { self.sync_unbound_claim(claim).await }
    }

    /// A claim to leave `Pending`, with a warning event.
    async fn pending(&self, claim: &PersistentVolumeClaim, reason: &str, message: &str) -> Result<Action, Error> {
        self.set_claim_phase(claim, PHASE_PENDING, None).await?;
        self.event(claim, EventType::Warning, reason, message).await;
        Ok(Action::AwaitChange)
    }

    async fn sync_unbound_claim(&self, claim: &PersistentVolumeClaim) -> Result<Action, Error> {
        let class_name = self.class_of(claim);
        let named = volume_name(claim);
        if !named.is_empty() {
            return self.sync_pre_bound_claim(claim, named, &class_name).await;
        }
        let volumes = self.volumes().state();
        let class = (!class_name.is_empty()).then(|| self.classes().get(&class_name)).flatten();
        let mut claim = claim.clone();
        let waits = class.as_ref().is_some_and(|c| c.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer"));
        if waits && !claim.metadata.annotations.contains_key(ANNOTATION_SELECTED_NODE) {
            // A volume pre-bound to the claim needs no node.
            if let Some(volume) = best_match(&volumes, &claim, &class_name).filter(|v| is_bound_to_claim(v, &claim)) {
                self.bind(&volume, &claim).await?;
                return Ok(Action::AwaitChange);
            }
            let Some(node) = self.scheduled_consumer(&claim) else {
                self.set_claim_phase(&claim, PHASE_PENDING, None).await?;
                let message = "waiting for first consumer to be created before binding";
                self.event(&claim, EventType::Normal, "WaitForFirstConsumer", message).await;
                return Ok(Action::AwaitChange);
            };
            claim.metadata.annotations.insert(ANNOTATION_SELECTED_NODE.to_owned(), node);
            claim = self.claim_api(&claim.metadata.namespace).update(&claim).await?;
        }
        if let Some(volume) = best_match(&volumes, &claim, &class_name) {
            self.bind(&volume, &claim).await?;
            return Ok(Action::AwaitChange);
        }
        match class {
            Some(class) => self.provision(&claim, &class).await,
            None if class_name.is_empty() => self.pending(&claim, "FailedBinding", MESSAGE_NO_CLASS).await,
            None => {
                let message = format!("storageclass.storage.k8s.io \"{class_name}\" not found");
                self.pending(&claim, "FailedBinding", &message).await
            }
        }
    }

    /// A claim naming its volume, not yet bound.
    async fn sync_pre_bound_claim(
        &self,
        claim: &PersistentVolumeClaim,
        named: &str,
        class_name: &str,
    ) -> Result<Action, Error> {
        let Some(volume) = self.volume(named).await? else {
            tracing::debug!(claim = %key_of(claim), volume = named, "the claim's volume does not exist (yet)");
            self.set_claim_phase(claim, PHASE_PENDING, None).await?;
            return Ok(Action::AwaitChange);
        };
        if volume.spec.claim_ref.is_some() && !is_bound_to_claim(&volume, claim) {
            let message = format!("volume \"{named}\" already bound to a different claim.");
            return self.pending(claim, "FailedBinding", &message).await;
        }
        if let Some(why) = unsatisfied(&volume, claim, class_name) {
            let message = format!("Cannot bind to requested volume \"{named}\": {why}");
            return self.pending(claim, "VolumeMismatch", &message).await;
        }
        self.bind(&volume, claim).await?;
        Ok(Action::AwaitChange)
    }

    async fn lost(&self, claim: &PersistentVolumeClaim, reason: &str, message: &str) -> Result<Action, Error> {
        if claim_phase(claim) != PHASE_LOST {
            self.set_claim_phase(claim, PHASE_LOST, None).await?;
            self.event(claim, EventType::Warning, reason, message).await;
        }
        Ok(Action::AwaitChange)
    }

    async fn sync_bound_claim(&self, claim: &PersistentVolumeClaim) -> Result<Action, Error> {
        let named = volume_name(claim);
        if named.is_empty() {
            let message = "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!";
            return self.lost(claim, "ClaimLost", message).await;
        }
        let Some(volume) = self.volume(named).await? else {
            let message = "Bound claim has lost its PersistentVolume. Data on the volume is lost!";
            return self.lost(claim, "ClaimLost", message).await;
        };
        match &volume.spec.claim_ref {
            Some(r) if !r.uid.is_empty() && r.uid != claim.metadata.uid => {
                let message = "Two claims are bound to the same volume, this one is bound incorrectly";
                self.lost(claim, "ClaimMisbound", message).await
            }
            // Unbound, pre-bound or bound to the claim: (finish) binding.
            _ => {
                self.bind(&volume, claim).await?;
                Ok(Action::AwaitChange)
            }
        }
    }

    /// Provisions a volume of `class` for `claim` and binds it.
    async fn provision(&self, claim: &PersistentVolumeClaim, class: &StorageClass) -> Result<Action, Error> {
        let mut claim = claim.clone();
        let annotated = [ANNOTATION_STORAGE_PROVISIONER, ANNOTATION_BETA_STORAGE_PROVISIONER]
            .iter()
            .all(|key| annotation(&claim.metadata, key) == Some(class.provisioner.as_str()));
        if !annotated {
            for key in [ANNOTATION_STORAGE_PROVISIONER, ANNOTATION_BETA_STORAGE_PROVISIONER] {
                claim.metadata.annotations.insert(key.to_owned(), class.provisioner.clone());
            }
            claim = self.claim_api(&claim.metadata.namespace).update(&claim).await?;
        }
        let claim = self.set_claim_phase(&claim, PHASE_PENDING, None).await?;
        let Some(provisioner) = self.provisioners.get(&class.provisioner) else {
            let message = format!(
                "Waiting for a volume to be created either by the external provisioner '{}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.",
                class.provisioner
            );
            self.event(&claim, EventType::Normal, "ExternalProvisioning", &message).await;
            return Ok(Action::AwaitChange);
        };
        let class_name = &class.metadata.name;
        if claim.spec.selector.is_some() {
            let message = format!(
                "Failed to provision volume with StorageClass \"{class_name}\": claim.Spec.Selector is not supported for dynamic provisioning"
            );
            self.event(&claim, EventType::Warning, "ProvisioningFailed", &message).await;
            return Ok(Action::AwaitChange);
        }
        let name = format!("pvc-{}", claim.metadata.uid);
        if let Some(existing) = self.volume(&name).await? {
            // Provisioned before (the bind did not complete).
            if is_bound_to_claim(&existing, &claim) {
                self.bind(&existing, &claim).await?;
            }
            return Ok(Action::AwaitChange);
        }
        let selected_node = annotation(&claim.metadata, ANNOTATION_SELECTED_NODE);
        let request = ProvisionRequest { volume_name: &name, claim: &claim, class, selected_node };
        let mut spec = match provisioner.provision(&request).await {
            Ok(spec) => spec,
            Err(e) => {
                let message = format!("Failed to provision volume with StorageClass \"{class_name}\": {e}");
                self.event(&claim, EventType::Warning, "ProvisioningFailed", &message).await;
                return Err(Error::Provisioning(e));
            }
        };
        if spec.capacity.is_empty() {
            spec.capacity = claim
                .spec
                .resources
                .requests
                .iter()
                .filter(|(k, _)| *k == "storage")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
        }
        if spec.access_modes.is_empty() {
            spec.access_modes.clone_from(&claim.spec.access_modes);
        }
        spec.storage_class_name = Some(class_name.clone());
        spec.persistent_volume_reclaim_policy =
            Some(class.reclaim_policy.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "Delete".to_owned()));
        spec.mount_options.clone_from(&class.mount_options);
        spec.volume_mode.clone_from(&claim.spec.volume_mode);
        spec.claim_ref = Some(ObjectReference {
            kind: "PersistentVolumeClaim".to_owned(),
            api_version: "v1".to_owned(),
            ..reference_to(&claim)
        });
        let mut metadata = ObjectMeta::named(&name);
        metadata.annotations.insert(ANNOTATION_PROVISIONED_BY.to_owned(), class.provisioner.clone());
        metadata.annotations.insert(ANNOTATION_BOUND_BY_CONTROLLER.to_owned(), "yes".to_owned());
        let volume = PersistentVolume { metadata, spec, ..Default::default() };
        let created = match self.volume_api().create(&volume).await {
            Ok(created) => created,
            Err(e) if e.is_already_exists() => return Ok(Action::AwaitChange),
            Err(e) => {
                // Do not leak the storage.
                if let Err(cleanup) = provisioner.delete(&volume).await {
                    let message = format!("Error cleaning provisioned volume for claim {}: {cleanup}", key_of(&claim));
                    self.event(&claim, EventType::Warning, "ProvisioningCleanupFailed", &message).await;
                }
                let message = format!("Failed to provision volume with StorageClass \"{class_name}\": {e}");
                self.event(&claim, EventType::Warning, "ProvisioningFailed", &message).await;
                return Err(e.into());
            }
        };
        let message = format!("Successfully provisioned volume {name} using {}", class.provisioner);
        self.event(&claim, EventType::Normal, "ProvisioningSucceeded", &message).await;
        self.bind(&created, &claim).await?;
        Ok(Action::AwaitChange)
    }

    // -- Volumes ------------------------------------------------------------

    async fn sync_volume(&self, volume: &PersistentVolume) -> Result<Action, Error> {
        self.wait_for_caches().await;
        if volume.metadata.deletion_timestamp.is_some() {
            return Ok(Action::AwaitChange);
        }
        let Some(reference) = volume.spec.claim_ref.clone().filter(|r| !r.name.is_empty()) else {
            self.set_volume_phase(volume, PHASE_AVAILABLE, None).await?;
            return Ok(Action::AwaitChange);
        };
        if reference.uid.is_empty() {
            // Pre-bound by the user; the claim's sync binds it.
            self.set_volume_phase(volume, PHASE_AVAILABLE, None).await?;
            return Ok(Action::AwaitChange);
        }
        let Some(claim) = self.claim(&reference.namespace, &reference.name, &reference.uid).await? else {
            let volume = if matches!(volume_phase(volume), PHASE_RELEASED | PHASE_FAILED) {
                // Reclaiming is not to be repeated on a stale copy (a volume
                // already recycled, say): act only on the latest version; a
                // newer one is reconciled when the cache sees it.
                match self.volume_api().get_opt(&volume.metadata.name).await? {
                    Some(fresh) if fresh.metadata.resource_version == volume.metadata.resource_version => fresh,
                    _ => return Ok(Action::AwaitChange),
                }
            } else {
                self.set_volume_phase(volume, PHASE_RELEASED, None).await?
            };
            return self.reclaim(&volume).await;
        };
        let named = volume_name(&claim);
        if named.is_empty() {
            // The claim's sync completes the bind.
            return Ok(Action::AwaitChange);
        }
        if named == volume.metadata.name {
            self.set_volume_phase(volume, PHASE_BOUND, None).await?;
            return Ok(Action::AwaitChange);
        }
        // The claim is bound to another volume.
        let provisioned_for_it = volume.metadata.annotations.contains_key(ANNOTATION_PROVISIONED_BY)
            && volume.spec.persistent_volume_reclaim_policy.as_deref() == Some("Delete");
        if provisioned_for_it {
            let volume = self.set_volume_phase(volume, PHASE_RELEASED, None).await?;
            return self.reclaim(&volume).await;
        }
        self.unbind(volume).await?;
        Ok(Action::AwaitChange)
    }

    /// Makes the volume `Available`: its claim reference cleared (only its
    /// uid, when the user had pre-bound it).
    async fn unbind(&self, volume: &PersistentVolume) -> Result<(), Error> {
        let mut updated = volume.clone();
        if bound_by_controller(&updated.metadata) {
            updated.spec.claim_ref = None;
            updated.metadata.annotations.remove(ANNOTATION_BOUND_BY_CONTROLLER);
        } else if let Some(reference) = &mut updated.spec.claim_ref {
            reference.uid.clear();
            reference.resource_version.clear();
        }
        let updated = self.volume_api().update(&updated).await?;
        self.set_volume_phase(&updated, PHASE_AVAILABLE, None).await?;
        Ok(())
    }

    /// How long a volume whose deletion failed waits before the next try.
    fn retry_wait(&self, volume: &PersistentVolume) -> Option<Duration> {
        if volume_phase(volume) != PHASE_FAILED {
            return None;
        }
        let since = volume.status.as_ref()?.last_phase_transition_time.as_ref()?;
        let retry = chrono::Duration::from_std(DELETE_RETRY).ok()?;
        let wait = (since.0 + retry - self.clock.wall()).to_std().ok()?;
        (!wait.is_zero()).then_some(wait)
    }

    /// Applies the reclaim policy of a released volume.
    async fn reclaim(&self, volume: &PersistentVolume) -> Result<Action, Error> {
        let policy = volume.spec.persistent_volume_reclaim_policy.as_deref().unwrap_or("Retain");
        match policy {
            "" | "Retain" => Ok(Action::AwaitChange),
            "Recycle" => {
                if volume_phase(volume) == PHASE_FAILED {
                    return Ok(Action::AwaitChange);
                }
                match self.recycler.recycle(volume).await {
                    Ok(()) => {
                        self.event(volume, EventType::Normal, "VolumeRecycled", "Volume recycled").await;
                        self.unbind(volume).await?;
                    }
                    Err(e) => {
                        let message = format!("Recycle failed: {e}");
                        self.event(volume, EventType::Warning, "VolumeFailedRecycle", &message).await;
                        self.set_volume_phase(volume, PHASE_FAILED, Some(&message)).await?;
                    }
                }
                Ok(Action::AwaitChange)
            }
            "Delete" => {
                if let Some(wait) = self.retry_wait(volume) {
                    return Ok(Action::RequeueAfter(wait));
                }
                if let Some(name) = annotation(&volume.metadata, ANNOTATION_PROVISIONED_BY) {
                    let Some(provisioner) = self.provisioners.get(name) else {
                        tracing::debug!(volume = %volume.metadata.name, provisioner = name, "left to an external provisioner");
                        return Ok(Action::AwaitChange);
                    };
                    if let Err(e) = provisioner.delete(volume).await {
                        let message = format!("Error deleting volume: {e}");
                        self.event(volume, EventType::Warning, "VolumeFailedDelete", &message).await;
                        self.set_volume_phase(volume, PHASE_FAILED, Some(&message)).await?;
                        return Ok(Action::RequeueAfter(DELETE_RETRY));
                    }
                }
                let options = DeleteOptions {
                    preconditions: Some(Preconditions {
                        uid: Some(volume.metadata.uid.clone()),
                        resource_version: None,
                    }),
                    ..Default::default()
                };
                match self.volume_api().delete(&volume.metadata.name, &options).await {
                    Err(e) if !e.is_not_found() => Err(e.into()),
                    _ => {
                        tracing::info!(volume = %volume.metadata.name, "released volume deleted");
                        Ok(Action::AwaitChange)
                    }
                }
            }
            other => {
                let message = format!("Volume has unrecognized PersistentVolumeReclaimPolicy {other:?}");
                self.event(volume, EventType::Warning, "VolumeUnknownReclaimPolicy", &message).await;
                self.set_volume_phase(volume, PHASE_FAILED, Some(&message)).await?;
                Ok(Action::AwaitChange)
            }
        }
    }
}

/// The claim half of the binder: binds, provisions, marks lost.
#[derive(Debug)]
pub struct ClaimReconciler {
    core: Arc<Core>,
}

#[async_trait::async_trait]
impl Reconciler<PersistentVolumeClaim> for ClaimReconciler {
    type Error = Error;

    async fn reconcile(&self, claim: Arc<PersistentVolumeClaim>, _ctx: &Context) -> Result<Action, Error> {
        let result = self.core.sync_claim(&claim).await;
        if let Err(e) = &result {
            tracing::debug!(claim = %key_of(&*claim), error = %e, "claim sync failed");
        }
        result
    }
}

/// The volume half of the binder: phases and reclaiming.
#[derive(Debug)]
pub struct VolumeReconciler {
    core: Arc<Core>,
}

#[async_trait::async_trait]
impl Reconciler<PersistentVolume> for VolumeReconciler {
    type Error = Error;

    async fn reconcile(&self, volume: Arc<PersistentVolume>, _ctx: &Context) -> Result<Action, Error> {
        let result = self.core.sync_volume(&volume).await;
        if let Err(e) = &result {
            tracing::debug!(volume = %volume.metadata.name, error = %e, "volume sync failed");
        }
        result
    }
}

/// Adds the binder's two controllers to `manager` (system clock), with the
/// [`LocalDirectoryProvisioner`] registered as
/// [`LOCAL_DIRECTORY_PROVISIONER`], creating directories under
/// `$K_VOLUMES_DIR` ([`VOLUMES_DIR_ENV`]) or else [`DEFAULT_VOLUMES_DIR`],
/// and the [`DirectoryRecycler`].
pub fn add_pv_binder(manager: &mut Manager) {
    let base = std::env::var_os(VOLUMES_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| std::path::PathBuf::from(DEFAULT_VOLUMES_DIR), std::path::PathBuf::from);
    PersistentVolumeBinder::new(manager.api(), manager.informers(), Arc::new(SystemClock))
        .with_provisioner(LOCAL_DIRECTORY_PROVISIONER, Arc::new(LocalDirectoryProvisioner::new(base)))
        .add_to(manager);
}
