//! What several controllers share (Kubernetes keeps the same in
//! `controller_utils` and `history`): pod predicates, pods from a template,
//! slow-start batches, expectations, claiming children (adoption and
//! release), the template hash and ControllerRevision history.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use k_api_types::Resource;
use k_api_types::apps::v1::ControllerRevision;
use k_api_types::core::v1::{Pod, PodTemplateSpec};
use k_api_types::meta::{ObjectMeta, Time};
use k_api_types::selector::label::Selector;
use k_runtime::controller::Action;
use k_runtime::owner::owner_reference;
use k_runtime::reflector::{Store, key_of};
use k_store::{Api, StoreError};

/// How long creations and deletions are waited for in the cache before
/// they are forgotten (Kubernetes' `ExpectationsTimeout`).
pub const EXPECTATIONS_TIMEOUT: Duration = Duration::from_secs(5 * 60);

// ---------------------------------------------------------------------------
// Pods
// ---------------------------------------------------------------------------

/// The pod's phase (`""` when it has no status yet).
pub fn phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or_default()
}

/// Not terminal and not being deleted: what counts as a replica.
pub fn is_active(pod: &Pod) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && pod.metadata.deletion_timestamp.is_none()
}

/// Since when the pod is ready (condition `Ready` true), if it is.
pub fn ready_since(pod: &Pod) -> Option<Option<&Time>> {
    pod.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")
        .map(|c| c.last_transition_time.as_ref())
}

/// Whether the pod's `Ready` condition is true.
pub fn is_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

/// Whether the pod has been ready for `min_ready_seconds` at `now`; when
/// not yet, how long until it will be (`None` when it is not ready at all).
pub fn available_in(pod: &Pod, min_ready_seconds: i32, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let since = ready_since(pod)?;
    if min_ready_seconds <= 0 {
        return Some(Duration::ZERO);
    }
    let at = since?.0 + chrono::Duration::seconds(i64::from(min_ready_seconds));
    Some((at - now).to_std().unwrap_or_default())
}

/// Whether the pod has been ready for `min_ready_seconds` at `now`.
pub fn is_available(pod: &Pod, min_ready_seconds: i32, now: chrono::DateTime<chrono::Utc>) -> bool {
    available_in(pod, min_ready_seconds, now) == Some(Duration::ZERO)
}

/// A pod of `owner`'s template, controlled by `owner`, named by the store
/// from `generateName` `<owner>-`.
pub fn pod_from_template<K: Resource>(owner: &K, template: &PodTemplateSpec) -> Pod {
    let meta = owner.metadata();
    Pod {
        metadata: ObjectMeta {
            generate_name: format!("{}-", meta.name),
            namespace: meta.namespace.clone(),
            labels: template.metadata.labels.clone(),
            annotations: template.metadata.annotations.clone(),
            finalizers: template.metadata.finalizers.clone(),
            owner_references: vec![owner_reference(owner, true)],
            ..Default::default()
        },
        spec: template.spec.clone(),
        ..Default::default()
    }
}

/// Runs `count` operations in batches of 1, 2, 4, …, each batch at once;
/// stops after the first batch with a failure. Returns the first error.
pub async fn slow_start<E, F, Fut>(count: usize, mut operation: F) -> Result<(), E>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let (mut done, mut batch) = (0, 1);
    while done < count {
        let size = batch.min(count - done);
        let results = futures::future::join_all((done..done + size).map(&mut operation)).await;
        done += size;
        if let Some(error) = results.into_iter().find_map(Result::err) {
            return Err(error);
        }
        batch *= 2;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Expectations
// ---------------------------------------------------------------------------

/// Writes issued for one owner and not yet seen: child uid → (key, when).
#[derive(Debug, Default)]
struct Pending {
    creations: HashMap<String, (String, Instant)>,
    deletions: HashMap<String, (String, Instant)>,
}

/// Creations and deletions in flight per owner (by uid), so a cache that
/// does not show them yet never makes a controller create or delete twice.
#[derive(Debug, Default)]
pub struct Expectations {
    owners: Mutex<HashMap<String, Pending>>,
}

impl Expectations {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Pending>) -> T) -> T {
        f(&mut self.owners.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// `owner` (uid) created `child` at `now`.
    pub fn expect_creation<C: Resource>(&self, owner: &str, child: &C, now: Instant) {
        let meta = child.metadata();
        self.with(|o| {
            o.entry(owner.to_owned()).or_default().creations.insert(meta.uid.clone(), (key_of(child), now));
        });
    }

    /// `owner` (uid) deletes `child` at `now`.
    pub fn expect_deletion<C: Resource>(&self, owner: &str, child: &C, now: Instant) {
        let meta = child.metadata();
        self.with(|o| {
            o.entry(owner.to_owned()).or_default().deletions.insert(meta.uid.clone(), (key_of(child), now));
        });
    }

    /// The deletion of `child_uid` failed or found nothing.
    pub fn forget_deletion(&self, owner: &str, child_uid: &str) {
        self.with(|o| {
            if let Some(p) = o.get_mut(owner) {
                p.deletions.remove(child_uid);
            }
        });
    }

    /// A child seen by the watch: a creation it stands for is observed
    /// (even if the child is gone again before the next reconcile).
    pub fn observe(&self, child: &ObjectMeta) {
        let Some(owner) = child.controller() else { return };
        self.with(|o| {
            if let Some(p) = o.get_mut(&owner.uid) {
                p.creations.remove(&child.uid);
                if child.deletion_timestamp.is_some() {
                    p.deletions.remove(&child.uid);
                }
            }
        });
    }

    /// Drops what the cache shows done and what is older than
    /// [`EXPECTATIONS_TIMEOUT`]; returns when the oldest remaining one
    /// expires, or `None` when nothing is pending (the owner may act).
    pub fn pending<C: Resource>(&self, owner: &str, children: &Store<C>, now: Instant) -> Option<Instant> {
        self.with(|o| {
            let pending = o.get_mut(owner)?;
            let fresh = |at: &Instant| now.saturating_duration_since(*at) < EXPECTATIONS_TIMEOUT;
            pending
                .creations
                .retain(|uid, (key, at)| fresh(at) && children.get(key).is_none_or(|p| &p.metadata().uid != uid));
            pending.deletions.retain(|uid, (key, at)| {
                fresh(at)
                    && children
                        .get(key)
                        .is_some_and(|p| &p.metadata().uid == uid && p.metadata().deletion_timestamp.is_none())
            });
            let oldest = pending.creations.values().chain(pending.deletions.values()).map(|(_, at)| *at).min();
            if oldest.is_none() {
                o.remove(owner);
            }
            oldest.map(|at| at + EXPECTATIONS_TIMEOUT)
        })
    }
}

// ---------------------------------------------------------------------------
// Claiming children
// ---------------------------------------------------------------------------

/// Looks again after the soonest of `after`; with none, when something
/// changes.
pub fn requeue_soonest(after: impl IntoIterator<Item = Duration>) -> Action {
    after.into_iter().min().map_or(Action::AwaitChange, Action::RequeueAfter)
}

/// The children `owner` may [`claim`] from `cache`: those it controls and
/// the orphans of its namespace, from the cache's indexes (children of
/// other controllers are never claimed, so they are not even looked at).
pub fn claim_candidates<C: k_api_types::ObjectLike>(cache: &Store<C>, owner: &ObjectMeta) -> Vec<Arc<C>> {
    let mut candidates = cache.controlled_by(&owner.uid);
    candidates.extend(cache.orphans_in(&owner.namespace));
    candidates
}

/// The children of `owner` among `candidates` after adoption and release
/// (Kubernetes' `ControllerRefManager`): children whose controller
/// reference is the owner stay while their labels match `selector` (or the
/// owner is being deleted) and are released (the reference removed) when
/// they no longer match; children without a controller reference whose
/// labels match are adopted (a controller reference with
/// `blockOwnerDeletion`) after a fresh read through `owners` confirms the
/// owner exists and is not being deleted. Candidates being deleted are
/// never adopted.
pub async fn claim<O, C>(
    owner: &O,
    selector: &Selector,
    candidates: Vec<Arc<C>>,
    children: &Api<C>,
    owners: &Api<O>,
) -> Result<Vec<Arc<C>>, StoreError>
where
    O: Resource,
    C: Resource + Clone,
{
    let meta = owner.metadata();
    let deleting = meta.deletion_timestamp.is_some();
    let mut can_adopt: Option<bool> = None;
    let mut owned = Vec::new();
    for child in candidates {
        let cm = child.metadata();
        let matches = selector.matches(&cm.labels);
        match cm.controller() {
            Some(reference) if reference.uid == meta.uid => {
                if matches || deleting {
                    owned.push(child);
                    continue;
                }
                let mut released = (*child).clone();
                released.metadata_mut().owner_references.retain(|r| r.uid != meta.uid);
                match children.update(&released).await {
                    Err(e) if e.is_not_found() => {}
                    other => {
                        other?;
                    }
                }
            }
            Some(_) => {}
            None => {
                if !matches || deleting || cm.deletion_timestamp.is_some() {
                    continue;
                }
                if can_adopt.is_none() {
                    // A fresh read: the cache may still show an owner that
                    // is gone or being deleted.
                    let fresh = owners.get_opt(&meta.name).await?;
                    can_adopt =
                        Some(fresh.is_some_and(|f| {
                            f.metadata().uid == meta.uid && f.metadata().deletion_timestamp.is_none()
                        }));
                }
                if can_adopt != Some(true) {
                    continue;
                }
                let mut adopted = (*child).clone();
                adopted.metadata_mut().owner_references.push(owner_reference(owner, true));
                match children.update(&adopted).await {
                    Err(e) if e.is_not_found() => {}
                    other => owned.push(Arc::new(other?)),
                }
            }
        }
    }
    Ok(owned)
}

// ---------------------------------------------------------------------------
// Template hash and revision history
// ---------------------------------------------------------------------------

/// The characters Kubernetes' `SafeEncodeString` uses (no vowels, no
/// look-alikes), so generated names never spell words.
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The hash of a template (its JSON form) and an optional collision count,
/// safely encoded: the `pod-template-hash` of Deployments and the
/// `controller-revision-hash` of DaemonSets and StatefulSets. FNV-1a (32
/// bit) over the JSON, then the collision count's little-endian bytes, the
/// decimal digits mapped onto a vowel-free alphabet as Kubernetes does.
pub fn template_hash<T: serde::Serialize>(template: &T, collision_count: Option<i32>) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u32::from(*b);
            hash = hash.wrapping_mul(0x0100_0193);
        }
    };
    feed(&serde_json::to_vec(template).unwrap_or_default());
    if let Some(count) = collision_count {
        feed(&count.to_le_bytes());
    }
    hash.to_string().bytes().map(|b| char::from(SAFE_ALPHABET[usize::from(b) % SAFE_ALPHABET.len()])).collect()
}

/// The ControllerRevisions of `revisions` sorted by revision (oldest
/// first), ties by creation time then name.
pub fn sort_revisions(revisions: &mut [Arc<ControllerRevision>]) {
    revisions.sort_by(|a, b| {
        a.revision
            .cmp(&b.revision)
            .then_with(|| a.metadata.creation_timestamp.cmp(&b.metadata.creation_timestamp))
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
}

/// The revision number after the highest of `revisions` (1 when none).
pub fn next_revision(revisions: &[Arc<ControllerRevision>]) -> i64 {
    revisions.iter().map(|r| r.revision).max().unwrap_or(0) + 1
}

/// A ControllerRevision of `owner` holding `data` (the part of the owner's
/// spec that a rollout changes), named `<owner>-<hash>`, labelled with
/// `labels` plus `controller-revision-hash`.
pub fn new_revision<O: Resource>(
    owner: &O,
    labels: &k_api_types::SortedMap<String, String>,
    data: serde_json::Value,
    revision: i64,
    collision_count: Option<i32>,
) -> ControllerRevision {
    let meta = owner.metadata();
    let hash = template_hash(&data, collision_count);
    let mut labels = labels.clone();
    labels.insert(LABEL_CONTROLLER_REVISION_HASH.to_owned(), hash.clone());
    ControllerRevision {
        metadata: ObjectMeta {
            name: format!("{}-{hash}", meta.name),
            namespace: meta.namespace.clone(),
            labels,
            owner_references: vec![owner_reference(owner, true)],
            ..Default::default()
        },
        data,
        revision,
        ..Default::default()
    }
}

/// The label naming a pod's (or revision's) ControllerRevision hash.
pub const LABEL_CONTROLLER_REVISION_HASH: &str = "controller-revision-hash";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_hash_is_stable_safe_and_changes_with_the_collision_count() {
        let t = serde_json::json!({"spec": {"containers": [{"name": "a", "image": "x"}]}});
        let h = template_hash(&t, None);
        assert_eq!(h, template_hash(&t, None));
        assert!(h.bytes().all(|b| SAFE_ALPHABET.contains(&b)), "{h}");
        assert_ne!(h, template_hash(&t, Some(1)));
        assert_ne!(h, template_hash(&serde_json::json!({"spec": {}}), None));
    }

    #[test]
    fn availability_follows_min_ready_seconds() {
        use k_api_types::core::v1::{PodCondition, PodStatus};
        let now = chrono::Utc::now();
        let ready_at = |t: chrono::DateTime<chrono::Utc>| Pod {
            status: Some(PodStatus {
                conditions: vec![PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    last_transition_time: Some(Time(t)),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        let pod = ready_at(now - chrono::Duration::seconds(4));
        assert!(is_available(&pod, 0, now));
        assert!(!is_available(&pod, 10, now));
        assert_eq!(available_in(&pod, 10, now), Some(Duration::from_secs(6)));
        assert!(is_available(&pod, 3, now));
        assert_eq!(available_in(&Pod::default(), 0, now), None);
    }
}
