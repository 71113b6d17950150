//! The DaemonSet controller: one pod of the template on every eligible node.
//!
//! **Eligibility** ([`node_should_run`], [`pod_spec_should_run`]) is what
//! kube-controller-manager checks, on the template's pod spec with the
//! default daemon tolerations added ([`add_daemon_tolerations`]):
//!
//! - a template `nodeName`, when set, names the node;
//! - the template's `nodeSelector` and required node affinity
//!   (`nodeSelectorTerms`, ORed; within a term `matchExpressions` on labels
//!   with `In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt`, `Lt` and
//!   `matchFields` on `metadata.name` with `In`/`NotIn`, ANDed; an invalid
//!   requirement fails its term);
//! - taints: every `NoSchedule` and `NoExecute` taint must be tolerated for a
//!   pod to be placed; a node whose only untolerated taints are `NoSchedule`
//!   keeps a pod already there (it counts as misscheduled); an untolerated
//!   `NoExecute` taint removes it. `PreferNoSchedule` is ignored.
//!
//! The default tolerations are those Kubernetes gives daemon pods:
//! `node.kubernetes.io/not-ready` and `node.kubernetes.io/unreachable`
//! (`NoExecute`, no `tolerationSeconds`), `disk-pressure`,
//! `memory-pressure`, `pid-pressure` and `unschedulable` (`NoSchedule`), and
//! `network-unavailable` (`NoSchedule`) for `hostNetwork` pods.
//!
//! Each reconcile of a DaemonSet:
//!
//! 1. **History**: claims the ControllerRevisions of its namespace that its
//!    selector matches (adoption and release as for pods), labels any
//!    without `controller-revision-hash` with its name, and finds the
//!    revision whose data equals `{"spec":{"template": <template>}}`: it is
//!    reused (duplicates deleted, their pods relabelled; its revision number
//!    raised above the others' when it is not the highest), or a new one is
//!    created (`<name>-<hash>`, with the next revision number). A name taken
//!    by a revision of other data is a hash collision: `status.collisionCount`
//!    is raised and the reconcile retried.
//! 2. **Pods**: claims the pods of its namespace (not both terminal and
//!    being deleted) and groups them by target node (`spec.nodeName`, else
//!    the `metadata.name` `matchFields` of their node affinity). Unless
//!    creations or deletions it issued are not yet in the cache
//!    (expectations), per node: an eligible node without a pod gets one; on
//!    a node that may keep its pod, `Failed` pods are deleted (event
//!    `FailedDaemonPod`; per-node exponential backoff from 1 s to 15 min, so
//!    a pod the kubelet keeps rejecting is not deleted in a hot loop; it is
//!    re-created once gone), `Succeeded` pods are deleted, and of several
//!    running pods only the oldest (scheduled first) is kept; a node that
//!    may not keep its pod loses it. Pods aimed at nodes that no longer
//!    exist are deleted — at once (grace period 0) when already bound, as
//!    Kubernetes' pod garbage collector would (k has none). At most
//!    [`BURST_REPLICAS`] creations and deletions each per reconcile;
//!    creations in slow-start batches.
//!
//!    New pods are the template with the labels `controller-revision-hash`
//!    (the current revision) and `pod-template-generation`, the default
//!    tolerations, and a required node affinity whose only term is
//!    `matchFields metadata.name In [<node>]` (replacing the template's
//!    required terms, as Kubernetes' `ReplaceDaemonSetPodNodeNameNodeAffinity`),
//!    so the scheduler binds them to their node.
//! 3. **Update strategy**, when step 2 had nothing to do: `RollingUpdate`
//!    (default) deletes pods of old revisions so that at most
//!    `maxUnavailable` (int or percentage of the desired nodes, rounded up;
//!    default 1) nodes are without an available pod: old pods that are not
//!    available go first (always allowed), then available ones up to the
//!    budget; step 2 of a later reconcile creates their replacements.
//!    `maxSurge` is treated as 0 (no surge pods: a node's new pod starts only
//!    once its old one is gone). `OnDelete` replaces only pods deleted by
//!    someone else. A pod is up to date when its `controller-revision-hash`
//!    is the current revision's (or its `pod-template-generation` is the
//!    `deprecated.daemonset.template.generation` annotation, when present).
//! 4. **History cleanup**: beyond `revisionHistoryLimit` (default 10) old
//!    revisions, the oldest not used by any pod are deleted.
//! 5. **Status**, written when it changed: `desiredNumberScheduled`,
//!    `currentNumberScheduled`, `numberMisscheduled`, `numberReady`,
//!    `numberAvailable` (ready for `minReadySeconds` by the clock; requeued
//!    for the next pod to become available), `numberUnavailable`,
//!    `updatedNumberScheduled` (per node, its oldest pod) and
//!    `observedGeneration` (not raised while expectations are pending).
//!
//! The controller is woken by its pods (and orphans its selector matches),
//! its ControllerRevisions (and matching orphans), and every node change
//! (all DaemonSets). Events: `SuccessfulCreate`, `FailedCreate`,
//! `SuccessfulDelete`, `FailedDelete`, `FailedDaemonPod`.
//!
//! Not covered: `maxSurge` (treated as 0, whatever its value); node
//! resources (as in current Kubernetes, the scheduler checks them, not the
//! controller); DaemonSet conditions; the `Gt`/`Lt` toleration operators;
//! filtering node updates (every node change wakes every DaemonSet).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use k_api_types::apps::v1::{ControllerRevision, DaemonSet, DaemonSetStatus};
use k_api_types::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodSpec, Toleration,
};
use k_api_types::intstr::IntOrString;
use k_api_types::meta::{DeleteOptions, Preconditions};
use k_api_types::selector::label::Selector;
use k_runtime::clock::{Clock, SystemClock};
use k_runtime::controller::{Action, Context, Controller, Reconciler};
use k_runtime::events::{EventType, Recorder, reference_to};
use k_runtime::informer::InformerFactory;
use k_runtime::manager::Manager;
use k_runtime::reflector::{Store, key_of};
use k_store::{Api, ObjectApi, StoreError};

use crate::util::{
    Expectations, LABEL_CONTROLLER_REVISION_HASH, available_in, claim, claim_candidates, is_available, is_ready,
    new_revision, next_revision, phase, pod_from_template, requeue_soonest, slow_start, sort_revisions,
};

/// The most pods one reconcile creates, and deletes (Kubernetes' DaemonSet
/// `BurstReplicas`).
pub const BURST_REPLICAS: usize = 250;
/// The label carrying the DaemonSet's template generation on its pods.
pub const LABEL_POD_TEMPLATE_GENERATION: &str = "pod-template-generation";
/// The annotation holding the generation of the DaemonSet's last template
/// change, when the API server keeps it.
pub const ANNOTATION_TEMPLATE_GENERATION: &str = "deprecated.daemonset.template.generation";
/// The first wait before a failed daemon pod on the same node is deleted again.
pub const FAILED_POD_BACKOFF_INITIAL: Duration = Duration::from_secs(1);
/// The longest wait before a failed daemon pod on the same node is deleted again.
pub const FAILED_POD_BACKOFF_MAX: Duration = Duration::from_secs(15 * 60);
/// The default `revisionHistoryLimit`.
pub const DEFAULT_REVISION_HISTORY_LIMIT: i32 = 10;

/// Taint of a node under disk pressure.
pub use crate::nodelifecycle::TAINT_DISK_PRESSURE as TAINT_NODE_DISK_PRESSURE;
/// Taint of a node under memory pressure.
pub use crate::nodelifecycle::TAINT_MEMORY_PRESSURE as TAINT_NODE_MEMORY_PRESSURE;
/// Taint of a node whose network is not configured.
pub use crate::nodelifecycle::TAINT_NETWORK_UNAVAILABLE as TAINT_NODE_NETWORK_UNAVAILABLE;
/// Taint of a node whose `Ready` condition is false.
pub use crate::nodelifecycle::TAINT_NOT_READY as TAINT_NODE_NOT_READY;
/// Taint of a node under PID pressure.
pub use crate::nodelifecycle::TAINT_PID_PRESSURE as TAINT_NODE_PID_PRESSURE;
/// Taint of a node whose `Ready` condition is unknown.
pub use crate::nodelifecycle::TAINT_UNREACHABLE as TAINT_NODE_UNREACHABLE;
/// Taint of a cordoned node.
pub use crate::nodelifecycle::TAINT_UNSCHEDULABLE as TAINT_NODE_UNSCHEDULABLE;

/// Why a reconcile failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A read or write of the object API failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The revision name for the current template is taken by other data;
    /// `status.collisionCount` was raised.
    #[error("hash collision on ControllerRevision {0}: collisionCount raised")]
    HashCollision(String),
    /// The cached DaemonSet's `collisionCount` is stale.
    #[error("stale collisionCount of DaemonSet {0}: waiting for the cache")]
    StaleCollisionCount(String),
}

// ---------------------------------------------------------------------------
// Eligibility
// ---------------------------------------------------------------------------

/// Where a daemon pod may be, for one node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    /// A daemon pod should run there (created when missing).
    pub should_run: bool,
    /// A daemon pod already there may stay (`should_run`, or only
    /// untolerated `NoSchedule` taints stand in the way).
    pub should_continue_running: bool,
}

fn toleration(key: &str, effect: &str) -> Toleration {
    Toleration {
        key: Some(key.to_owned()),
        operator: Some("Exists".to_owned()),
        value: None,
        effect: Some(effect.to_owned()),
        toleration_seconds: None,
    }
}

/// The tolerations Kubernetes gives every daemon pod (with
/// `network-unavailable` for `hostNetwork` ones).
pub fn daemon_tolerations(host_network: bool) -> Vec<Toleration> {
    let mut out = vec![
        toleration(TAINT_NODE_NOT_READY, "NoExecute"),
        toleration(TAINT_NODE_UNREACHABLE, "NoExecute"),
        toleration(TAINT_NODE_DISK_PRESSURE, "NoSchedule"),
        toleration(TAINT_NODE_MEMORY_PRESSURE, "NoSchedule"),
        toleration(TAINT_NODE_PID_PRESSURE, "NoSchedule"),
        toleration(TAINT_NODE_UNSCHEDULABLE, "NoSchedule"),
    ];
    if host_network {
        out.push(toleration(TAINT_NODE_NETWORK_UNAVAILABLE, "NoSchedule"));
    }
    out
}

/// Adds the [`daemon_tolerations`] to `spec`; a toleration of the same key,
/// operator, value and effect is replaced (so `tolerationSeconds` goes).
pub fn add_daemon_tolerations(spec: &mut PodSpec) {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    for default in daemon_tolerations(spec.host_network == Some(true)) {
        let same = |t: &Toleration| {
            s(&t.key) == s(&default.key)
                && s(&t.operator) == s(&default.operator)
                && s(&t.value) == s(&default.value)
                && s(&t.effect) == s(&default.effect)
        };
        match spec.tolerations.iter_mut().find(|t| same(t)) {
            Some(existing) => *existing = default,
            None => spec.tolerations.push(default),
        }
    }
}

/// A `matchExpressions` requirement against a label's value (`None`: no
/// such label); invalid requirements match nothing.
fn expression_matches(requirement: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = &requirement.values;
    let bound = || -> Option<i64> {
        match values.as_slice() {
            [one] => one.parse().ok(),
            _ => None,
        }
    };
    match requirement.operator.as_str() {
        "In" => !values.is_empty() && value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => !values.is_empty() && value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => values.is_empty() && value.is_some(),
        "DoesNotExist" => values.is_empty() && value.is_none(),
        "Gt" | "Lt" => {
            let (Some(bound), Some(actual)) = (bound(), value.and_then(|v| v.parse::<i64>().ok())) else {
                return false;
            };
            if requirement.operator == "Gt" { actual > bound } else { actual < bound }
        }
        _ => false,
    }
}

/// A `matchFields` requirement: only `metadata.name` with `In`/`NotIn` and
/// one value is valid.
fn field_matches(requirement: &NodeSelectorRequirement, node: &Node) -> bool {
    if requirement.key != "metadata.name" || requirement.values.len() != 1 {
        return false;
    }
    let equal = requirement.values[0] == node.metadata.name;
    match requirement.operator.as_str() {
        "In" => equal,
        "NotIn" => !equal,
        _ => false,
    }
}

fn term_matches(term: &NodeSelectorTerm, node: &Node) -> bool {
    if term.match_expressions.is_empty() && term.match_fields.is_empty() {
        return false;
    }
    let labels = &node.metadata.labels;
    term.match_expressions.iter().all(|r| expression_matches(r, labels.get(&r.key).map(String::as_str)))
        && term.match_fields.iter().all(|r| field_matches(r, node))
}

/// Whether `node` satisfies the `nodeSelector` and the required node
/// affinity of `spec`.
pub fn node_matches(spec: &PodSpec, node: &Node) -> bool {
    let labels = &node.metadata.labels;
    if !spec.node_selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
        return false;
    }
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref());
    required.is_none_or(|selector| selector.node_selector_terms.iter().any(|t| term_matches(t, node)))
}

/// Where a pod of `spec` may be on `node` (`spec` as the pod would be
/// created: for a DaemonSet, its template with [`add_daemon_tolerations`]).
pub fn pod_spec_should_run(spec: &PodSpec, node: &Node) -> Placement {
    if spec.node_name.as_deref().is_some_and(|n| !n.is_empty() && n != node.metadata.name) {
        return Placement::default();
    }
    if !node_matches(spec, node) {
        return Placement::default();
    }
    let untolerated = |effects: &[&str]| {
        node.spec
            .taints
            .iter()
            .any(|t| effects.contains(&t.effect.as_str()) && !spec.tolerations.iter().any(|tol| tol.tolerates(t)))
    };
    if untolerated(&["NoSchedule", "NoExecute"]) {
        return Placement { should_run: false, should_continue_running: !untolerated(&["NoExecute"]) };
    }
    Placement { should_run: true, should_continue_running: true }
}

/// The pod spec a DaemonSet's pods get (before their node affinity): the
/// template's, with the default daemon tolerations.
pub fn daemon_pod_spec(ds: &DaemonSet) -> PodSpec {
    let mut spec = ds.spec.template.spec.clone();
    add_daemon_tolerations(&mut spec);
    spec
}

/// Where a pod of `ds` may be on `node` (Kubernetes' `NodeShouldRunDaemonPod`).
pub fn node_should_run(ds: &DaemonSet, node: &Node) -> Placement {
    pod_spec_should_run(&daemon_pod_spec(ds), node)
}

/// `affinity` with its required node affinity replaced by the single term
/// `matchFields metadata.name In [<node>]` (Kubernetes'
/// `ReplaceDaemonSetPodNodeNameNodeAffinity`); preferred terms and pod
/// (anti-)affinity stay.
pub fn replace_node_name_affinity(affinity: Option<Box<Affinity>>, node: &str) -> Box<Affinity> {
    let mut affinity = affinity.unwrap_or_default();
    let term = NodeSelectorTerm {
        match_expressions: Vec::new(),
        match_fields: vec![NodeSelectorRequirement {
            key: "metadata.name".to_owned(),
            operator: "In".to_owned(),
            values: vec![node.to_owned()],
        }],
    };
    let node_affinity = affinity.node_affinity.get_or_insert_with(NodeAffinity::default);
    node_affinity.required_during_scheduling_ignored_during_execution =
        Some(NodeSelector { node_selector_terms: vec![term] });
    affinity
}

/// The node a daemon pod is for: its `spec.nodeName`, else the single value
/// of a `metadata.name In` `matchFields` requirement of its node affinity.
pub fn target_node(pod: &Pod) -> Option<&str> {
    if let Some(name) = pod.spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        return Some(name);
    }
    let required = pod.spec.affinity.as_ref()?.node_affinity.as_ref()?;
    let terms = &required.required_during_scheduling_ignored_during_execution.as_ref()?.node_selector_terms;
    terms.iter().flat_map(|t| &t.match_fields).find(|r| r.key == "metadata.name" && r.operator == "In").and_then(|r| {
        match r.values.as_slice() {
            [one] => Some(one.as_str()),
            _ => None,
        }
    })
}

// ---------------------------------------------------------------------------
// Revisions and updated pods
// ---------------------------------------------------------------------------

/// The data of the DaemonSet's ControllerRevision for its current template.
fn revision_data(ds: &DaemonSet) -> serde_json::Value {
    let template = serde_json::to_value(&ds.spec.template).unwrap_or_default();
    serde_json::json!({"spec": {"template": template}})
}

/// The template generation the API server recorded, if any.
fn template_generation(ds: &DaemonSet) -> Option<i64> {
    ds.metadata.annotations.get(ANNOTATION_TEMPLATE_GENERATION)?.parse().ok()
}

/// Whether `pod` runs the current template (Kubernetes' `IsPodUpdated`).
fn is_updated(pod: &Pod, hash: &str, generation: Option<i64>) -> bool {
    let labels = &pod.metadata.labels;
    let hash_matches = !hash.is_empty() && labels.get(LABEL_CONTROLLER_REVISION_HASH).is_some_and(|h| h == hash);
    let generation_matches =
        generation.is_some_and(|g| labels.get(LABEL_POD_TEMPLATE_GENERATION).is_some_and(|v| v == &g.to_string()));
    hash_matches || generation_matches
}

/// The order in which a node's daemon pods are kept: scheduled first, then
/// oldest, then by name.
fn keep_order(a: &Arc<Pod>, b: &Arc<Pod>) -> std::cmp::Ordering {
    let unscheduled = |p: &Pod| p.spec.node_name.as_deref().is_none_or(str::is_empty);
    unscheduled(a)
        .cmp(&unscheduled(b))
        .then_with(|| a.metadata.creation_timestamp.cmp(&b.metadata.creation_timestamp))
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// The node's new and old pod, ignoring pods being deleted; `None` when
/// there are several of either.
#[allow(clippy::type_complexity)]
fn updated_and_old<'a>(
    pods: &'a [Arc<Pod>],
    hash: &str,
    generation: Option<i64>,
) -> Option<(Option<&'a Arc<Pod>>, Option<&'a Arc<Pod>>)> {
    let (mut new, mut old) = (None, None);
    for pod in pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none()) {
        let slot = if is_updated(pod, hash, generation) { &mut new } else { &mut old };
        if slot.is_some() {
            return None;
        }
        *slot = Some(pod);
    }
    Some((new, old))
}

/// How many nodes may be without an available pod during a rolling update.
fn max_unavailable(ds: &DaemonSet, desired: i32) -> i32 {
    let configured = ds
        .spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref())
        .and_then(|r| r.max_unavailable.clone())
        .unwrap_or(IntOrString::Int(1));
    let value = configured.scaled_value(desired, true).unwrap_or_else(|e| {
        tracing::warn!(daemonset = %key_of(ds), error = %e, "invalid maxUnavailable: using 1");
        1
    });
    // Without surge, zero unavailability could never make progress.
    if desired > 0 && value <= 0 { 1 } else { value }
}

fn is_on_delete(ds: &DaemonSet) -> bool {
    ds.spec.update_strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("OnDelete")
}

// ---------------------------------------------------------------------------
// The reconciler
// ---------------------------------------------------------------------------

/// Failed-pod backoff per DaemonSet and node: (current delay, last step).
type Backoffs = HashMap<String, (Duration, Instant)>;

/// The DaemonSet controller's reconciler (see the
/// [module documentation](self)).
pub struct DaemonSetReconciler {
    informers: Arc<InformerFactory>,
    clock: Arc<dyn Clock>,
    expectations: Arc<Expectations>,
    recorder: Recorder,
    backoff: Mutex<Backoffs>,
}

impl std::fmt::Debug for DaemonSetReconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaemonSetReconciler").field("expectations", &self.expectations).finish_non_exhaustive()
    }
}

/// One reconcile's view of the DaemonSet's pods and nodes.
struct View {
    /// The nodes, by name.
    nodes: Vec<Arc<Node>>,
    /// Placement per node (same order as `nodes`).
    placements: Vec<Placement>,
    /// The owned pods (not both terminal and being deleted) by target node.
    by_node: BTreeMap<String, Vec<Arc<Pod>>>,
}

impl DaemonSetReconciler {
    /// A reconciler reading nodes, pods and revisions from `informers`'
    /// caches, recording events through `api` and telling time
    /// (availability, expectations, backoff) by `clock`.
    pub fn new(api: Arc<dyn ObjectApi>, informers: Arc<InformerFactory>, clock: Arc<dyn Clock>) -> Self {
        let recorder = Recorder::with_clock(api, "daemonset-controller", "", clock.clone());
        DaemonSetReconciler {
            informers,
            clock,
            expectations: Arc::default(),
            recorder,
            backoff: Mutex::new(HashMap::new()),
        }
    }

    /// Its controller: DaemonSets, woken by their pods and revisions (and
    /// orphans their selectors match) and by every node change.
    pub fn controller(&self) -> Controller<DaemonSet> {
        let sets: Arc<OnceLock<Store<DaemonSet>>> = Arc::new(OnceLock::new());
        let factory = self.informers.clone();
        let set_store = move || sets.get_or_init(|| factory.informer::<DaemonSet>(None, None, None).store()).clone();
        let matching = {
            let set_store = set_store.clone();
            move |namespace: &str, labels: &k_api_types::SortedMap<String, String>| -> Vec<String> {
                set_store()
                    .in_namespace(namespace)
                    .iter()
                    .filter(|ds| {
                        ds.spec
                            .selector
                            .as_ref()
                            .and_then(|s| Selector::try_from(s).ok())
                            .is_some_and(|s| !s.is_empty() && s.matches(labels))
                    })
                    .map(|ds| key_of(&**ds))
                    .collect()
            }
        };
        let expectations = self.expectations.clone();
        let pod_orphans = matching.clone();
        Controller::<DaemonSet>::new(self.informers.clone(), None)
            .owns::<Pod>()
            .watches::<Pod>(None, move |pod: &Pod| {
                expectations.observe(&pod.metadata);
                if pod.metadata.controller().is_some() || pod.metadata.deletion_timestamp.is_some() {
                    return Vec::new();
                }
                pod_orphans(&pod.metadata.namespace, &pod.metadata.labels)
            })
            .owns::<ControllerRevision>()
            .watches::<ControllerRevision>(None, move |rev: &ControllerRevision| {
                if rev.metadata.controller().is_some() {
                    return Vec::new();
                }
                matching(&rev.metadata.namespace, &rev.metadata.labels)
            })
            .watches::<Node>(None, move |_node: &Node| set_store().state().iter().map(|ds| key_of(&**ds)).collect())
            .clock(self.clock.clone())
            .workers(2)
            .named("daemonset")
    }

    fn store<K: k_api_types::Resource>(&self) -> Store<K> {
        self.informers.informer::<K>(None, None, None).store()
    }

    async fn event(&self, ds: &DaemonSet, type_: EventType, reason: &str, message: &str) {
        if let Err(e) = self.recorder.publish(&reference_to(ds), type_, reason, message).await {
            tracing::debug!(error = %e, reason, "event not recorded");
        }
    }

    /// How long the node's failed-pod backoff still holds, if it does.
    fn in_backoff(&self, key: &str, now: Instant) -> Option<Duration> {
        let backoff = self.backoff.lock().unwrap_or_else(PoisonError::into_inner);
        let (delay, last) = backoff.get(key)?;
        let elapsed = now.saturating_duration_since(*last);
        (elapsed < *delay).then(|| *delay - elapsed)
    }

    /// Steps the node's failed-pod backoff (1 s, doubling to 15 min; reset
    /// after twice the maximum without failures).
    fn step_backoff(&self, key: &str, now: Instant) {
        let mut backoff = self.backoff.lock().unwrap_or_else(PoisonError::into_inner);
        let expired = |last: &Instant| now.saturating_duration_since(*last) > FAILED_POD_BACKOFF_MAX * 2;
        backoff.retain(|_, (_, last)| !expired(last));
        let delay = match backoff.get(key) {
            Some((delay, _)) => (*delay * 2).min(FAILED_POD_BACKOFF_MAX),
            None => FAILED_POD_BACKOFF_INITIAL,
        };
        backoff.insert(key.to_owned(), (delay, now));
    }

    // -- history ------------------------------------------------------------

    /// The current revision (found, reused or created) and the old ones.
    async fn construct_history(
        &self,
        ds: &DaemonSet,
        selector: &Selector,
        revisions_api: &Api<ControllerRevision>,
        sets_api: &Api<DaemonSet>,
        pods_api: &Api<Pod>,
    ) -> Result<(ControllerRevision, Vec<Arc<ControllerRevision>>), Error> {
        let revisions = self.store::<ControllerRevision>();
        let candidates = claim_candidates(&revisions, &ds.metadata);
        let owned = claim(ds, selector, candidates, revisions_api, sets_api).await?;
        let data = revision_data(ds);
        let (mut current, mut old) = (Vec::new(), Vec::new());
        for revision in owned {
            let revision = if revision.metadata.labels.contains_key(LABEL_CONTROLLER_REVISION_HASH) {
                revision
            } else {
                let mut labelled = (*revision).clone();
                labelled
                    .metadata
                    .labels
                    .insert(LABEL_CONTROLLER_REVISION_HASH.to_owned(), labelled.metadata.name.clone());
                Arc::new(revisions_api.update(&labelled).await?)
            };
            if revision.data == data {
                current.push(revision);
            } else {
                old.push(revision);
            }
        }
        let next = next_revision(&old);
        sort_revisions(&mut current);
        let Some(keep) = current.pop() else {
            return Ok((self.snapshot(ds, data, next, revisions_api, sets_api).await?, old));
        };
        // Duplicates of the current revision: their pods move to the kept
        // one's hash, then they go.
        let keep_hash = keep.metadata.labels.get(LABEL_CONTROLLER_REVISION_HASH).cloned().unwrap_or_default();
        for duplicate in current {
            let hash = duplicate.metadata.labels.get(LABEL_CONTROLLER_REVISION_HASH).cloned().unwrap_or_default();
            for pod in self.store::<Pod>().in_namespace(&ds.metadata.namespace) {
                let controlled = pod.metadata.controller().is_some_and(|r| r.uid == ds.metadata.uid);
                if controlled && pod.metadata.labels.get(LABEL_CONTROLLER_REVISION_HASH) == Some(&hash) {
                    let mut relabelled = (*pod).clone();
                    relabelled.metadata.labels.insert(LABEL_CONTROLLER_REVISION_HASH.to_owned(), keep_hash.clone());
                    match pods_api.update(&relabelled).await {
                        Err(e) if e.is_not_found() => {}
                        other => {
                            other?;
                        }
                    }
                }
            }
            match revisions_api.delete(&duplicate.metadata.name, &DeleteOptions::default()).await {
                Err(e) if e.is_not_found() => {}
                other => {
                    other?;
                }
            }
        }
        if keep.revision < next {
            let mut bumped = (*keep).clone();
            bumped.revision = next;
            return Ok((revisions_api.update(&bumped).await?, old));
        }
        Ok(((*keep).clone(), old))
    }

    /// Creates the revision of `data`; on a name taken by other data, raises
    /// `status.collisionCount` and fails so the reconcile is retried.
    async fn snapshot(
        &self,
        ds: &DaemonSet,
        data: serde_json::Value,
        revision: i64,
        revisions_api: &Api<ControllerRevision>,
        sets_api: &Api<DaemonSet>,
    ) -> Result<ControllerRevision, Error> {
        let collisions = ds.status.as_ref().and_then(|s| s.collision_count);
        let mut history = new_revision(ds, &ds.spec.template.metadata.labels, data.clone(), revision, collisions);
        history.metadata.annotations = ds.metadata.annotations.clone();
        let name = history.metadata.name.clone();
        match revisions_api.create(&history).await {
            Ok(created) => Ok(created),
            Err(e) if e.is_already_exists() => {
                let Some(existing) = revisions_api.get_opt(&name).await? else { return Err(e.into()) };
                if existing.data == data {
                    return Ok(existing);
                }
                let mut fresh = sets_api.get(&ds.metadata.name).await?;
                let status = fresh.status.get_or_insert_with(DaemonSetStatus::default);
                if status.collision_count != collisions {
                    return Err(Error::StaleCollisionCount(key_of(ds)));
                }
                status.collision_count = Some(collisions.unwrap_or(0).saturating_add(1));
                sets_api.update_status(&fresh).await?;
                tracing::info!(daemonset = %key_of(ds), revision = %name, "hash collision: collisionCount raised");
                Err(Error::HashCollision(name))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the oldest old revisions beyond the history limit that no
    /// pod uses.
    async fn cleanup_history(
        &self,
        ds: &DaemonSet,
        mut old: Vec<Arc<ControllerRevision>>,
        revisions_api: &Api<ControllerRevision>,
    ) -> Result<(), Error> {
        let limit =
            usize::try_from(ds.spec.revision_history_limit.unwrap_or(DEFAULT_REVISION_HISTORY_LIMIT)).unwrap_or(0);
        let Some(mut excess) = old.len().checked_sub(limit).filter(|n| *n > 0) else { return Ok(()) };
        let pods = self.store::<Pod>().in_namespace(&ds.metadata.namespace);
        let live: HashSet<&str> = pods
            .iter()
            .filter(|p| p.metadata.controller().is_some_and(|r| r.uid == ds.metadata.uid))
            .filter_map(|p| p.metadata.labels.get(LABEL_CONTROLLER_REVISION_HASH).map(String::as_str))
            .collect();
        sort_revisions(&mut old);
        for revision in old {
            if excess == 0 {
                break;
            }
            if revision.metadata.labels.get(LABEL_CONTROLLER_REVISION_HASH).is_some_and(|h| live.contains(h.as_str())) {
                continue;
            }
            match revisions_api.delete(&revision.metadata.name, &DeleteOptions::default()).await {
                Err(e) if e.is_not_found() => {}
                other => {
                    other?;
                }
            }
            excess -= 1;
        }
        Ok(())
    }

    // -- pods -----------------------------------------------------------------

    /// A new pod of `ds` for `node`.
    fn new_pod(ds: &DaemonSet, hash: &str, node: &str) -> Pod {
        let mut template = ds.spec.template.clone();
        let labels = &mut template.metadata.labels;
        labels.insert(LABEL_CONTROLLER_REVISION_HASH.to_owned(), hash.to_owned());
        if let Some(generation) = template_generation(ds).or(ds.metadata.generation) {
            labels.insert(LABEL_POD_TEMPLATE_GENERATION.to_owned(), generation.to_string());
        }
        let mut pod = pod_from_template(ds, &template);
        add_daemon_tolerations(&mut pod.spec);
        pod.spec.affinity = Some(replace_node_name_affinity(pod.spec.affinity.take(), node));
        pod
    }

    /// Creates pods on `nodes` (slow start) and deletes `victims` (`true`:
    /// at once, grace period 0); returns the first error.
    async fn sync_nodes(
        &self,
        ds: &DaemonSet,
        hash: &str,
        mut nodes: Vec<String>,
        mut victims: Vec<(Arc<Pod>, bool)>,
        pods_api: &Api<Pod>,
    ) -> Result<(), Error> {
        nodes.truncate(BURST_REPLICAS);
        victims.truncate(BURST_REPLICAS);
        let uid = &ds.metadata.uid;
        let created = slow_start(nodes.len(), |i| {
            let pod = Self::new_pod(ds, hash, &nodes[i]);
            async move {
                match pods_api.create(&pod).await {
                    Ok(created) => {
                        self.expectations.expect_creation(uid, &created, self.clock.now());
                        let message = format!("Created pod: {}", created.metadata.name);
                        self.event(ds, EventType::Normal, "SuccessfulCreate", &message).await;
                        Ok(())
                    }
                    Err(e) => {
                        self.event(ds, EventType::Warning, "FailedCreate", &format!("Error creating: {e}")).await;
                        Err(Error::from(e))
                    }
                }
            }
        })
        .await;
        let deletions = victims.iter().map(|(pod, force)| async move {
            self.expectations.expect_deletion(uid, &**pod, self.clock.now());
            let options = DeleteOptions {
                preconditions: Some(Preconditions { uid: Some(pod.metadata.uid.clone()), resource_version: None }),
                grace_period_seconds: force.then_some(0),
                ..Default::default()
            };
            match pods_api.delete(&pod.metadata.name, &options).await {
                Ok(_) => {
                    let message = format!("Deleted pod: {}", pod.metadata.name);
                    self.event(ds, EventType::Normal, "SuccessfulDelete", &message).await;
                    Ok(())
                }
                Err(e) if e.is_not_found() => {
                    self.expectations.forget_deletion(uid, &pod.metadata.uid);
                    Ok(())
                }
                Err(e) => {
                    self.expectations.forget_deletion(uid, &pod.metadata.uid);
                    self.event(ds, EventType::Warning, "FailedDelete", &format!("Error deleting: {e}")).await;
                    Err(Error::from(e))
                }
            }
        });
        let deleted = futures::future::join_all(deletions).await.into_iter().find_map(Result::err);
        created?;
        deleted.map_or(Ok(()), Err)
    }

    /// Creates and deletes pods so each node has what it should (Kubernetes'
    /// `manage`). Returns whether it wrote anything and when a failed pod's
    /// backoff ends.
    async fn manage(
        &self,
        ds: &DaemonSet,
        view: &View,
        hash: &str,
        pods_api: &Api<Pod>,
    ) -> Result<(bool, Option<Duration>), Error> {
        let now = self.clock.now();
        let mut create_on = Vec::new();
        let mut victims: Vec<(Arc<Pod>, bool)> = Vec::new();
        let mut requeue: Option<Duration> = None;
        for (node, placement) in view.nodes.iter().zip(&view.placements) {
            let name = &node.metadata.name;
            let pods = view.by_node.get(name).map(Vec::as_slice).unwrap_or_default();
            if placement.should_run && pods.is_empty() {
                create_on.push(name.clone());
            } else if placement.should_continue_running {
                let mut running = Vec::new();
                for pod in pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none()) {
                    match phase(pod) {
                        "Failed" => {
                            let key = format!("{}/{name}", ds.metadata.uid);
                            if let Some(wait) = self.in_backoff(&key, now) {
                                tracing::debug!(pod = %key_of(&**pod), ?wait, "failed daemon pod: deletion in backoff");
                                requeue = Some(requeue.map_or(wait, |r| r.min(wait)));
                                continue;
                            }
                            self.step_backoff(&key, now);
                            let message = format!(
                                "Found failed daemon pod {} on node {name}, will try to kill it",
                                key_of(&**pod)
                            );
                            self.event(ds, EventType::Warning, "FailedDaemonPod", &message).await;
                            victims.push((pod.clone(), false));
                        }
                        "Succeeded" => victims.push((pod.clone(), false)),
                        _ => running.push(pod.clone()),
                    }
                }
                running.sort_by(keep_order);
                victims.extend(running.into_iter().skip(1).map(|p| (p, false)));
            } else {
                victims.extend(
                    pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none()).map(|p| (p.clone(), false)),
                );
            }
        }
        // Pods aimed at nodes that are gone.
        let known: HashSet<&str> = view.nodes.iter().map(|n| n.metadata.name.as_str()).collect();
        for (node, pods) in &view.by_node {
            if known.contains(node.as_str()) {
                continue;
            }
            for pod in pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none()) {
                let bound = pod.spec.node_name.as_deref().is_some_and(|n| !n.is_empty());
                victims.push((pod.clone(), bound));
            }
        }
        let wrote = !create_on.is_empty() || !victims.is_empty();
        self.sync_nodes(ds, hash, create_on, victims, pods_api).await?;
        Ok((wrote, requeue))
    }

    /// Deletes old pods within the `maxUnavailable` budget (Kubernetes'
    /// `rollingUpdate` without surge).
    async fn rolling_update(&self, ds: &DaemonSet, view: &View, hash: &str, pods_api: &Api<Pod>) -> Result<(), Error> {
        let now = self.clock.wall();
        let min_ready = ds.spec.min_ready_seconds.unwrap_or(0);
        let generation = template_generation(ds);
        let mut by_node: BTreeMap<&str, &[Arc<Pod>]> =
            view.by_node.iter().map(|(n, pods)| (n.as_str(), pods.as_slice())).collect();
        let mut desired = 0;
        for (node, placement) in view.nodes.iter().zip(&view.placements) {
            if placement.should_run {
                desired += 1;
                by_node.entry(node.metadata.name.as_str()).or_default();
            }
        }
        let budget = max_unavailable(ds, desired);
        let (mut unavailable, mut victims, mut candidates) = (0, Vec::new(), Vec::new());
        for pods in by_node.values() {
            match updated_and_old(pods, hash, generation) {
                // Several pods: the manage step cleans up; count it unavailable.
                None | Some((None, None) | (Some(_), Some(_))) => unavailable += 1,
                Some((Some(new), None)) => {
                    if !is_available(new, min_ready, now) {
                        unavailable += 1;
                    }
                }
                Some((None, Some(old))) => {
                    if !is_available(old, min_ready, now) {
                        victims.push((old.clone(), false));
                        unavailable += 1;
                    } else if unavailable < budget {
                        candidates.push((old.clone(), false));
                    }
                }
            }
        }
        let room = usize::try_from(budget - unavailable).unwrap_or(0);
        victims.extend(candidates.into_iter().take(room));
        if victims.is_empty() {
            return Ok(());
        }
        tracing::debug!(daemonset = %key_of(ds), count = victims.len(), "rolling update: deleting old pods");
        self.sync_nodes(ds, hash, Vec::new(), victims, pods_api).await
    }

    /// The status the view gives, and when the next pod becomes available.
    fn status(&self, ds: &DaemonSet, view: &View, hash: &str, observe: bool) -> (DaemonSetStatus, Option<Duration>) {
        let now = self.clock.wall();
        let min_ready = ds.spec.min_ready_seconds.unwrap_or(0);
        let generation = template_generation(ds);
        let previous = ds.status.clone().unwrap_or_default();
        let (mut desired, mut current, mut misscheduled, mut ready, mut available, mut updated) = (0, 0, 0, 0, 0, 0);
        let mut next_available: Option<Duration> = None;
        for (node, placement) in view.nodes.iter().zip(&view.placements) {
            let pods = view.by_node.get(&node.metadata.name).filter(|p| !p.is_empty());
            if !placement.should_run {
                if pods.is_some() {
                    misscheduled += 1;
                }
                continue;
            }
            desired += 1;
            let Some(pods) = pods else { continue };
            current += 1;
            let mut pods = pods.clone();
            pods.sort_by(keep_order);
            let pod = &pods[0];
            if is_ready(pod) {
                ready += 1;
                match available_in(pod, min_ready, now) {
                    Some(Duration::ZERO) => available += 1,
                    Some(wait) => next_available = Some(next_available.map_or(wait, |n| n.min(wait))),
                    None => {}
                }
            }
            if is_updated(pod, hash, generation) {
                updated += 1;
            }
        }
        let status = DaemonSetStatus {
            current_number_scheduled: current,
            number_misscheduled: misscheduled,
            desired_number_scheduled: desired,
            number_ready: ready,
            observed_generation: if observe { ds.metadata.generation } else { previous.observed_generation },
            updated_number_scheduled: Some(updated),
            number_available: Some(available),
            number_unavailable: Some(desired - available),
            collision_count: previous.collision_count,
            conditions: previous.conditions,
        };
        (status, next_available)
    }

    async fn sync(&self, ds: Arc<DaemonSet>, ctx: &Context) -> Result<Action, Error> {
        let meta = &ds.metadata;
        if meta.deletion_timestamp.is_some() {
            return Ok(Action::AwaitChange);
        }
        let selector = ds.spec.selector.as_ref().and_then(|s| Selector::try_from(s).ok());
        let Some(selector) = selector.filter(|s| !s.is_empty()) else {
            tracing::warn!(daemonset = %key_of(&*ds), "no valid selector: nothing to do");
            return Ok(Action::AwaitChange);
        };
        if !selector.matches(&ds.spec.template.metadata.labels) {
            tracing::warn!(daemonset = %key_of(&*ds), "the selector does not match the template's labels");
            return Ok(Action::AwaitChange);
        }
        let (pods, nodes, revisions) = (self.store::<Pod>(), self.store::<Node>(), self.store::<ControllerRevision>());
        pods.wait_until_synced().await;
        nodes.wait_until_synced().await;
        revisions.wait_until_synced().await;
        let namespace = Some(meta.namespace.clone());
        let pods_api: Api<Pod> = Api::with_client(ctx.api.clone(), namespace.clone());
        let sets_api: Api<DaemonSet> = Api::with_client(ctx.api.clone(), namespace.clone());
        let revisions_api: Api<ControllerRevision> = Api::with_client(ctx.api.clone(), namespace);

        let (current, old) = self.construct_history(&ds, &selector, &revisions_api, &sets_api, &pods_api).await?;
        let hash = current.metadata.labels.get(LABEL_CONTROLLER_REVISION_HASH).cloned().unwrap_or_default();

        let pending = self.expectations.pending(&meta.uid, &pods, self.clock.now());
        let candidates: Vec<Arc<Pod>> = claim_candidates(&pods, meta)
            .into_iter()
            .filter(|p| !(matches!(phase(p), "Succeeded" | "Failed") && p.metadata.deletion_timestamp.is_some()))
            .collect();
        let owned = claim(&*ds, &selector, candidates, &pods_api, &sets_api).await?;
        let mut by_node: BTreeMap<String, Vec<Arc<Pod>>> = BTreeMap::new();
        for pod in owned {
            match target_node(&pod) {
                Some(node) => by_node.entry(node.to_owned()).or_default().push(pod),
                None => tracing::debug!(pod = %key_of(&*pod), "daemon pod without a target node: ignored"),
            }
        }
        let mut node_list = nodes.state();
        node_list.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        let spec = daemon_pod_spec(&ds);
        let placements = node_list.iter().map(|n| pod_spec_should_run(&spec, n)).collect();
        let view = View { nodes: node_list, placements, by_node };

        let mut result = Ok(());
        let mut backoff_ends = None;
        if pending.is_none() {
            result = match self.manage(&ds, &view, &hash, &pods_api).await {
                Ok((wrote, requeue)) => {
                    backoff_ends = requeue;
                    if wrote || is_on_delete(&ds) {
                        Ok(())
                    } else {
                        self.rolling_update(&ds, &view, &hash, &pods_api).await
                    }
                }
                Err(e) => Err(e),
            };
            if result.is_ok() {
                result = self.cleanup_history(&ds, old, &revisions_api).await;
            }
        }

        let (status, next_available) = self.status(&ds, &view, &hash, pending.is_none());
        if ds.status.as_ref() != Some(&status) {
            let written = sets_api
                .guaranteed_update_status(&meta.name, |o| {
                    let fresh = o.status.take().unwrap_or_default();
                    o.status = Some(DaemonSetStatus {
                        collision_count: fresh.collision_count,
                        conditions: fresh.conditions,
                        ..status.clone()
                    });
                })
                .await;
            match written {
                Err(e) if e.is_not_found() => return Ok(Action::AwaitChange),
                other => {
                    other?;
                }
            }
        }
        result?;
        let expires = pending.map(|at| at.saturating_duration_since(self.clock.now()));
        Ok(requeue_soonest([next_available, expires, backoff_ends].into_iter().flatten()))
    }
}

#[async_trait::async_trait]
impl Reconciler<DaemonSet> for DaemonSetReconciler {
    type Error = Error;

    async fn reconcile(&self, ds: Arc<DaemonSet>, ctx: &Context) -> Result<Action, Error> {
        self.sync(ds, ctx).await
    }
}

/// Adds the DaemonSet controller to `manager` (system clock).
pub fn add_daemon_sets(manager: &mut Manager) {
    let reconciler = DaemonSetReconciler::new(manager.api(), manager.informers(), Arc::new(SystemClock));
    manager.add(reconciler.controller(), reconciler);
}

#[cfg(test)]
mod tests {
    use k_api_types::SortedMap;
    use k_api_types::apps::v1::{DaemonSetSpec, DaemonSetUpdateStrategy, RollingUpdateDaemonSet};
    use k_api_types::core::v1::{Container, Event, NodeSpec, PodCondition, PodStatus, PodTemplateSpec, Taint};
    use k_api_types::meta::{LabelSelector, ObjectMeta, Time};
    use k_runtime::testing::TestEnv;
    use k_runtime::watcher::Config;
    use k_store::api::ListOptions;

    use super::*;
    use crate::util::template_hash;

    const NS: &str = "default";

    fn labels(pairs: &[(&str, &str)]) -> SortedMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn taint(key: &str, effect: &str) -> Taint {
        Taint { key: key.to_owned(), value: None, effect: effect.to_owned(), time_added: None }
    }

    fn node(name: &str, pairs: &[(&str, &str)], taints: Vec<Taint>) -> Node {
        Node {
            metadata: ObjectMeta { name: name.to_owned(), labels: labels(pairs), ..Default::default() },
            spec: NodeSpec { taints, ..Default::default() },
            ..Default::default()
        }
    }

    fn requirement(key: &str, operator: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.to_owned(),
            operator: operator.to_owned(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    fn required(terms: Vec<NodeSelectorTerm>) -> Option<Box<Affinity>> {
        Some(Box::new(Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector { node_selector_terms: terms }),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    /// A DaemonSet `ds` selecting `app=ds`, image `image`.
    fn daemon_set(image: &str) -> DaemonSet {
        DaemonSet {
            metadata: ObjectMeta::namespaced(NS, "ds"),
            spec: DaemonSetSpec {
                selector: Some(LabelSelector::from_labels([("app", "ds")])),
                template: PodTemplateSpec {
                    metadata: ObjectMeta { labels: labels(&[("app", "ds")]), ..Default::default() },
                    spec: PodSpec {
                        containers: vec![Container {
                            name: "c".into(),
                            image: Some(image.to_owned()),
                            ..Default::default()
                        }],
                        ..Default::default()
                    },
                },
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn on_delete() -> Option<DaemonSetUpdateStrategy> {
        Some(DaemonSetUpdateStrategy { type_: Some("OnDelete".into()), rolling_update: None })
    }

    struct Fixture {
        env: TestEnv,
        informers: Arc<InformerFactory>,
        ctx: Context,
        pods: Api<Pod>,
        sets: Api<DaemonSet>,
        nodes: Api<Node>,
        revisions: Api<ControllerRevision>,
    }

    impl Fixture {
        fn new() -> Self {
            let env = TestEnv::new();
            let informers = Arc::new(InformerFactory::new(env.api.clone(), Config::default()));
            let ctx = Context {
                controller: Arc::from("daemonset"),
                api: env.api.clone(),
                clock: Arc::new(env.clock.clone()),
                retries: 0,
            };
            Fixture {
                pods: Api::namespaced(env.store.clone(), NS),
                sets: Api::namespaced(env.store.clone(), NS),
                nodes: Api::all(env.store.clone()),
                revisions: Api::namespaced(env.store.clone(), NS),
                env,
                informers,
                ctx,
            }
        }

        fn reconciler(&self) -> DaemonSetReconciler {
            DaemonSetReconciler::new(self.env.api.clone(), self.informers.clone(), Arc::new(self.env.clock.clone()))
        }

        async fn reconcile(&self, r: &DaemonSetReconciler) -> Result<Action, Error> {
            let current = self.sets.get("ds").await.unwrap();
            r.reconcile(Arc::new(current), &self.ctx).await
        }

        /// Waits until the cache of `K` shows what `api` lists.
        async fn cache_of<K: k_api_types::Resource + Clone>(&self, api: &Api<K>) {
            let stored: Vec<(String, String)> = api
                .list(&ListOptions::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|o| (o.metadata().uid.clone(), o.metadata().resource_version.clone()))
                .collect();
            let store = self.informers.informer::<K>(None, None, None).store();
            store.wait_until_synced().await;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            loop {
                let cached = store.state();
                if cached.len() == stored.len()
                    && stored.iter().all(|(uid, rv)| {
                        cached.iter().any(|o| &o.metadata().uid == uid && &o.metadata().resource_version == rv)
                    })
                {
                    return;
                }
                assert!(tokio::time::Instant::now() < deadline, "the cache never caught up");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }

        async fn caught_up(&self) {
            self.cache_of(&self.pods).await;
            self.cache_of(&self.nodes).await;
            self.cache_of(&self.revisions).await;
        }

        /// Reconciles with caught-up caches, `times` times.
        async fn settle(&self, r: &DaemonSetReconciler, times: usize) -> Action {
            let mut last = Action::AwaitChange;
            for _ in 0..times {
                self.caught_up().await;
                last = self.reconcile(r).await.unwrap();
            }
            self.caught_up().await;
            last
        }

        /// The DaemonSet's pods not being deleted, by target node.
        async fn pods_by_node(&self) -> BTreeMap<String, Vec<Pod>> {
            let mut out: BTreeMap<String, Vec<Pod>> = BTreeMap::new();
            for pod in self.pods.list(&ListOptions::default()).await.unwrap().items {
                if pod.metadata.deletion_timestamp.is_none() {
                    out.entry(target_node(&pod).unwrap_or_default().to_owned()).or_default().push(pod);
                }
            }
            out
        }

        async fn pod_nodes(&self) -> Vec<String> {
            self.pods_by_node().await.into_keys().collect()
        }

        async fn set_phase(&self, pod: &Pod, phase: &str, ready: bool) {
            let mut pod = self.pods.get(&pod.metadata.name).await.unwrap();
            pod.status = Some(PodStatus {
                phase: Some(phase.to_owned()),
                conditions: vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    last_transition_time: Some(Time(self.env.clock.wall())),
                    ..Default::default()
                }],
                ..Default::default()
            });
            self.pods.update_status(&pod).await.unwrap();
        }

        async fn status(&self) -> DaemonSetStatus {
            self.sets.get("ds").await.unwrap().status.unwrap_or_default()
        }

        async fn revisions(&self) -> Vec<(String, i64)> {
            let mut out: Vec<(String, i64)> = self
                .revisions
                .list(&ListOptions::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|r| {
                    (r.metadata.labels.get(LABEL_CONTROLLER_REVISION_HASH).cloned().unwrap_or_default(), r.revision)
                })
                .collect();
            out.sort_by_key(|(_, revision)| *revision);
            out
        }

        async fn set_image(&self, image: &str) {
            self.sets
                .guaranteed_update("ds", |ds| ds.spec.template.spec.containers[0].image = Some(image.to_owned()))
                .await
                .unwrap();
        }
    }

    /// (desired, current, misscheduled, ready, available, unavailable, updated, observedGeneration)
    type Counts = (i32, i32, i32, i32, Option<i32>, Option<i32>, Option<i32>, Option<i64>);

    fn counts(s: &DaemonSetStatus) -> Counts {
        (
            s.desired_number_scheduled,
            s.current_number_scheduled,
            s.number_misscheduled,
            s.number_ready,
            s.number_available,
            s.number_unavailable,
            s.updated_number_scheduled,
            s.observed_generation,
        )
    }

    #[test]
    fn eligibility_follows_selectors_affinity_and_taints() {
        let mut ds = daemon_set("x");
        let worker = node("w", &[("role", "worker"), ("cores", "8")], vec![]);
        assert_eq!(node_should_run(&ds, &worker), Placement { should_run: true, should_continue_running: true });

        ds.spec.template.spec.node_selector = labels(&[("role", "worker")]);
        assert!(node_should_run(&ds, &worker).should_run);
        let other = node("o", &[("role", "db")], vec![]);
        assert_eq!(node_should_run(&ds, &other), Placement::default());

        let fits = |terms: Vec<NodeSelectorTerm>| {
            let mut spec = PodSpec { affinity: required(terms), ..Default::default() };
            add_daemon_tolerations(&mut spec);
            pod_spec_should_run(&spec, &worker).should_run
        };
        let exprs = |reqs: Vec<NodeSelectorRequirement>| {
            vec![NodeSelectorTerm { match_expressions: reqs, ..Default::default() }]
        };
        assert!(fits(exprs(vec![requirement("role", "In", &["db", "worker"])])));
        assert!(!fits(exprs(vec![requirement("role", "NotIn", &["worker"])])));
        assert!(fits(exprs(vec![requirement("zone", "NotIn", &["a"])])));
        assert!(fits(exprs(vec![requirement("role", "Exists", &[])])));
        assert!(!fits(exprs(vec![requirement("role", "DoesNotExist", &[])])));
        assert!(fits(exprs(vec![requirement("cores", "Gt", &["4"]), requirement("cores", "Lt", &["16"])])));
        assert!(!fits(exprs(vec![requirement("cores", "Gt", &["8"])])));
        assert!(!fits(exprs(vec![requirement("role", "Gt", &["1"])])), "a non-integer label fails Gt");
        assert!(!fits(exprs(vec![requirement("role", "In", &[])])), "invalid: In without values");
        assert!(!fits(vec![NodeSelectorTerm::default()]), "an empty term matches nothing");
        // Terms are ORed.
        assert!(fits(
            [exprs(vec![requirement("role", "In", &["db"])]), exprs(vec![requirement("cores", "Exists", &[])])]
                .concat()
        ));
        let fields = |op: &str, value: &str| {
            vec![NodeSelectorTerm {
                match_fields: vec![requirement("metadata.name", op, &[value])],
                ..Default::default()
            }]
        };
        assert!(fits(fields("In", "w")));
        assert!(!fits(fields("In", "other")));
        assert!(fits(fields("NotIn", "other")));
        assert!(!fits(vec![NodeSelectorTerm {
            match_fields: vec![requirement("metadata.uid", "In", &["w"])],
            ..Default::default()
        }]));

        // Taints.
        let ds = daemon_set("x");
        let tainted = |taints: Vec<Taint>| node("t", &[], taints);
        let placement = |ds: &DaemonSet, taints: Vec<Taint>| node_should_run(ds, &tainted(taints));
        assert_eq!(
            placement(&ds, vec![taint("gpu", "NoSchedule")]),
            Placement { should_run: false, should_continue_running: true }
        );
        assert_eq!(placement(&ds, vec![taint("gpu", "NoExecute")]), Placement::default());
        assert!(placement(&ds, vec![taint("gpu", "PreferNoSchedule")]).should_run, "PreferNoSchedule is ignored");
        for key in [TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE] {
            assert!(placement(&ds, vec![taint(key, "NoExecute")]).should_run, "{key} is tolerated by default");
        }
        for key in
            [TAINT_NODE_DISK_PRESSURE, TAINT_NODE_MEMORY_PRESSURE, TAINT_NODE_PID_PRESSURE, TAINT_NODE_UNSCHEDULABLE]
        {
            assert!(placement(&ds, vec![taint(key, "NoSchedule")]).should_run, "{key} is tolerated by default");
        }
        let unavailable = vec![taint(TAINT_NODE_NETWORK_UNAVAILABLE, "NoSchedule")];
        assert!(!placement(&ds, unavailable.clone()).should_run);
        let mut host = daemon_set("x");
        host.spec.template.spec.host_network = Some(true);
        assert!(placement(&host, unavailable).should_run, "hostNetwork pods tolerate network-unavailable");

        let mut tolerant = daemon_set("x");
        tolerant.spec.template.spec.tolerations = vec![Toleration {
            key: Some("gpu".into()),
            operator: Some("Equal".into()),
            value: Some("yes".into()),
            effect: Some("NoSchedule".into()),
            toleration_seconds: None,
        }];
        let gpu = |value: &str| Taint { value: Some(value.into()), ..taint("gpu", "NoSchedule") };
        assert!(placement(&tolerant, vec![gpu("yes")]).should_run);
        assert!(!placement(&tolerant, vec![gpu("no")]).should_run, "Equal compares the value");
        tolerant.spec.template.spec.tolerations =
            vec![Toleration { operator: Some("Exists".into()), ..Default::default() }];
        assert!(
            placement(&tolerant, vec![gpu("no"), taint("x", "NoExecute")]).should_run,
            "empty key + Exists tolerates all"
        );

        // A template nodeName pins the node.
        let mut pinned = daemon_set("x");
        pinned.spec.template.spec.node_name = Some("elsewhere".into());
        assert_eq!(node_should_run(&pinned, &worker), Placement::default());

        // Default tolerations replace a same toleration with seconds.
        let mut spec = PodSpec {
            tolerations: vec![Toleration {
                toleration_seconds: Some(300),
                ..toleration(TAINT_NODE_NOT_READY, "NoExecute")
            }],
            ..Default::default()
        };
        add_daemon_tolerations(&mut spec);
        assert_eq!(spec.tolerations, daemon_tolerations(false));
    }

    #[test]
    fn node_name_affinity_replaces_required_terms_only() {
        let mut affinity = required(vec![NodeSelectorTerm {
            match_expressions: vec![requirement("role", "In", &["worker"])],
            match_fields: vec![requirement("metadata.name", "In", &["old"])],
        }])
        .unwrap();
        affinity.node_affinity.as_mut().unwrap().preferred_during_scheduling_ignored_during_execution =
            vec![Default::default()];
        let replaced = replace_node_name_affinity(Some(affinity), "n1");
        let node_affinity = replaced.node_affinity.as_ref().unwrap();
        let terms =
            &node_affinity.required_during_scheduling_ignored_during_execution.as_ref().unwrap().node_selector_terms;
        assert_eq!(terms.len(), 1);
        assert!(terms[0].match_expressions.is_empty());
        assert_eq!(terms[0].match_fields, vec![requirement("metadata.name", "In", &["n1"])]);
        assert_eq!(node_affinity.preferred_during_scheduling_ignored_during_execution.len(), 1);
        let pod = Pod { spec: PodSpec { affinity: Some(replaced), ..Default::default() }, ..Default::default() };
        assert_eq!(target_node(&pod), Some("n1"));
        let bound = Pod { spec: PodSpec { node_name: Some("n2".into()), ..pod.spec.clone() }, ..Default::default() };
        assert_eq!(target_node(&bound), Some("n2"));
        assert_eq!(target_node(&Pod::default()), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_pod_per_eligible_node_with_daemon_tolerations_and_node_affinity() {
        let f = Fixture::new();
        let r = f.reconciler();
        let worker = [("role", "worker")];
        for n in ["n1", "n2", "n3"] {
            f.nodes.create(&node(n, &worker, vec![])).await.unwrap();
        }
        f.nodes.create(&node("db", &[("role", "db")], vec![])).await.unwrap();
        f.nodes.create(&node("gpu", &worker, vec![taint("gpu", "NoSchedule")])).await.unwrap();
        f.nodes.create(&node("special", &worker, vec![taint("special", "NoSchedule")])).await.unwrap();
        f.nodes.create(&node("prefer", &worker, vec![taint("x", "PreferNoSchedule")])).await.unwrap();
        f.nodes.create(&node("not-ready", &worker, vec![taint(TAINT_NODE_NOT_READY, "NoExecute")])).await.unwrap();
        let mut ds = daemon_set("nginx");
        let spec = &mut ds.spec.template.spec;
        spec.node_selector = labels(&worker);
        spec.tolerations =
            vec![Toleration { key: Some("special".into()), operator: Some("Exists".into()), ..Default::default() }];
        spec.affinity = required(vec![NodeSelectorTerm {
            match_expressions: vec![requirement("zone", "NotIn", &["z9"])],
            ..Default::default()
        }]);
        let ds = f.sets.create(&ds).await.unwrap();
        f.caught_up().await;
        f.reconcile(&r).await.unwrap();
        // Again at once: expectations keep the stale cache from doubling pods.
        f.reconcile(&r).await.unwrap();
        let by_node = f.pods_by_node().await;
        assert_eq!(by_node.keys().collect::<Vec<_>>(), ["n1", "n2", "n3", "not-ready", "prefer", "special"]);
        let revisions = f.revisions().await;
        assert_eq!(revisions.len(), 1);
        let (hash, revision) = &revisions[0];
        assert_eq!(*revision, 1);
        let stored = f.revisions.list(&ListOptions::default()).await.unwrap().items.remove(0);
        assert_eq!(
            stored.data,
            serde_json::json!({"spec": {"template": serde_json::to_value(&ds.spec.template).unwrap()}})
        );
        assert_eq!(stored.metadata.name, format!("ds-{hash}"));
        for (name, pods) in &by_node {
            assert_eq!(pods.len(), 1, "{name}");
            let pod = &pods[0];
            assert!(pod.metadata.name.starts_with("ds-"));
            assert_eq!(pod.metadata.labels.get(LABEL_CONTROLLER_REVISION_HASH), Some(hash));
            assert_eq!(pod.metadata.labels.get(LABEL_POD_TEMPLATE_GENERATION).map(String::as_str), Some("1"));
            assert_eq!(pod.metadata.controller().map(|o| o.uid.as_str()), Some(ds.metadata.uid.as_str()));
            assert_eq!(pod.spec.node_name, None, "the scheduler binds it");
            let terms = &pod.spec.affinity.as_ref().unwrap().node_affinity.as_ref().unwrap();
            let terms =
                &terms.required_during_scheduling_ignored_during_execution.as_ref().unwrap().node_selector_terms;
            assert_eq!(
                terms,
                &vec![NodeSelectorTerm {
                    match_expressions: vec![],
                    match_fields: vec![requirement("metadata.name", "In", &[name.as_str()])],
                }]
            );
            for default in daemon_tolerations(false) {
                assert!(pod.spec.tolerations.contains(&default), "{default:?} on {name}");
            }
            assert!(!pod.spec.tolerations.iter().any(|t| t.key.as_deref() == Some(TAINT_NODE_NETWORK_UNAVAILABLE)));
            assert!(pod.spec.tolerations.iter().any(|t| t.key.as_deref() == Some("special")));
        }
        assert_eq!(f.settle(&r, 1).await, Action::AwaitChange);
        assert_eq!(f.pods_by_node().await.len(), 6, "nothing more once the cache shows the pods");
        assert_eq!(counts(&f.status().await), (6, 6, 0, 0, Some(0), Some(6), Some(6), Some(1)));
        let events: Api<Event> = Api::namespaced(f.env.store.clone(), NS);
        let events = events.list(&ListOptions::default()).await.unwrap().items;
        assert_eq!(events.iter().filter(|e| e.reason.as_deref() == Some("SuccessfulCreate")).count(), 6);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn follows_nodes_as_they_come_change_and_go() {
        let f = Fixture::new();
        let r = f.reconciler();
        f.nodes.create(&node("n1", &[], vec![])).await.unwrap();
        f.nodes.create(&node("n2", &[], vec![])).await.unwrap();
        f.sets.create(&daemon_set("nginx")).await.unwrap();
        f.settle(&r, 2).await;
        assert_eq!(f.pod_nodes().await, ["n1", "n2"]);

        f.nodes.create(&node("n3", &[], vec![])).await.unwrap();
        f.settle(&r, 1).await;
        assert_eq!(f.pod_nodes().await, ["n1", "n2", "n3"], "a new node gets a pod");

        f.nodes.delete("n2", &DeleteOptions::default()).await.unwrap();
        f.settle(&r, 1).await;
        assert_eq!(f.pod_nodes().await, ["n1", "n3"], "a removed node's pod goes");

        // An untolerated NoSchedule taint keeps the pod, misscheduled.
        f.nodes.guaranteed_update("n1", |n| n.spec.taints = vec![taint("maint", "NoSchedule")]).await.unwrap();
        f.settle(&r, 2).await;
        assert_eq!(f.pod_nodes().await, ["n1", "n3"]);
        assert_eq!(counts(&f.status().await), (1, 1, 1, 0, Some(0), Some(1), Some(1), Some(1)));
        // An untolerated NoExecute taint evicts it.
        f.nodes.guaranteed_update("n1", |n| n.spec.taints.push(taint("evict", "NoExecute"))).await.unwrap();
        f.settle(&r, 2).await;
        assert_eq!(f.pod_nodes().await, ["n3"]);
        assert_eq!(counts(&f.status().await), (1, 1, 0, 0, Some(0), Some(1), Some(1), Some(1)));

        // A node leaving the selector loses its pod; a cleared one gets one back.
        f.sets
            .guaranteed_update("ds", |ds| ds.spec.template.spec.node_selector = labels(&[("role", "edge")]))
            .await
            .unwrap();
        f.nodes
            .guaranteed_update("n1", |n| {
                n.spec.taints.clear();
                n.metadata.labels = labels(&[("role", "edge")]);
            })
            .await
            .unwrap();
        f.settle(&r, 3).await;
        assert_eq!(f.pod_nodes().await, ["n1"]);
        assert_eq!(counts(&f.status().await), (1, 1, 0, 0, Some(0), Some(1), Some(1), Some(2)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn extra_pods_go_and_failed_pods_are_replaced_with_backoff() {
        let f = Fixture::new();
        let r = f.reconciler();
        f.nodes.create(&node("n1", &[], vec![])).await.unwrap();
        let ds = f.sets.create(&daemon_set("nginx")).await.unwrap();
        f.settle(&r, 1).await;
        let first = f.pods_by_node().await.remove("n1").unwrap().remove(0);
        let hash = first.metadata.labels[LABEL_CONTROLLER_REVISION_HASH].clone();
        let mut extra = DaemonSetReconciler::new_pod(&ds, &hash, "n1");
        extra.metadata.generate_name.clear();
        extra.metadata.name = "zz-extra".into();
        f.pods.create(&extra).await.unwrap();
        f.settle(&r, 1).await;
        let kept = f.pods_by_node().await.remove("n1").unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].metadata.name, first.metadata.name, "the oldest pod stays");

        f.set_phase(&first, "Failed", false).await;
        f.settle(&r, 1).await;
        assert!(f.pods.get_opt(&first.metadata.name).await.unwrap().is_none(), "the failed pod is deleted");
        let events: Api<Event> = Api::namespaced(f.env.store.clone(), NS);
        let events = events.list(&ListOptions::default()).await.unwrap().items;
        assert!(events.iter().any(|e| e.reason.as_deref() == Some("FailedDaemonPod")), "{events:?}");
        f.settle(&r, 1).await;
        let second = f.pods_by_node().await.remove("n1").unwrap().remove(0);
        assert_ne!(second.metadata.uid, first.metadata.uid, "re-created");

        // Failing again at once: the deletion waits for the backoff.
        f.set_phase(&second, "Failed", false).await;
        let action = f.settle(&r, 1).await;
        assert_eq!(action, Action::RequeueAfter(FAILED_POD_BACKOFF_INITIAL));
        assert!(f.pods.get_opt(&second.metadata.name).await.unwrap().is_some());
        f.env.clock.advance(FAILED_POD_BACKOFF_INITIAL);
        f.settle(&r, 2).await;
        assert!(f.pods.get_opt(&second.metadata.name).await.unwrap().is_none());
        assert_eq!(f.pod_nodes().await, ["n1"]);
        let third = f.pods_by_node().await.remove("n1").unwrap().remove(0);
        f.set_phase(&third, "Failed", false).await;
        f.env.clock.advance(FAILED_POD_BACKOFF_INITIAL);
        let action = f.settle(&r, 1).await;
        assert_eq!(action, Action::RequeueAfter(FAILED_POD_BACKOFF_INITIAL), "the backoff doubled to 2 s");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rolling_update_replaces_at_most_max_unavailable_unavailable_first() {
        let f = Fixture::new();
        let r = f.reconciler();
        for n in ["n1", "n2", "n3", "n4"] {
            f.nodes.create(&node(n, &[], vec![])).await.unwrap();
        }
        let mut ds = daemon_set("v1");
        ds.spec.update_strategy = Some(DaemonSetUpdateStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateDaemonSet {
                max_unavailable: Some(IntOrString::String("50%".into())),
                max_surge: None,
            }),
        });
        f.sets.create(&ds).await.unwrap();
        f.settle(&r, 1).await;
        for (node, pods) in f.pods_by_node().await {
            // n4's pod never becomes ready.
            f.set_phase(&pods[0], "Running", node != "n4").await;
        }
        f.settle(&r, 1).await;
        assert_eq!(counts(&f.status().await), (4, 4, 0, 3, Some(3), Some(1), Some(4), Some(1)));
        let old_hash = f.revisions().await[0].0.clone();

        f.set_image("v2").await;
        f.settle(&r, 1).await;
        let revisions = f.revisions().await;
        assert_eq!(revisions.len(), 2, "a new ControllerRevision");
        assert_eq!((revisions[0].0.as_str(), revisions[1].1), (old_hash.as_str(), 2));
        let new_hash = revisions[1].0.clone();
        // Budget 2 of 4: the unavailable n4 first, then one available pod.
        assert_eq!(f.pod_nodes().await, ["n2", "n3"]);

        f.settle(&r, 2).await;
        let by_node = f.pods_by_node().await;
        assert_eq!(by_node.len(), 4);
        let hashes = |by_node: &BTreeMap<String, Vec<Pod>>| -> Vec<(String, bool)> {
            by_node
                .iter()
                .map(|(n, pods)| (n.clone(), pods[0].metadata.labels[LABEL_CONTROLLER_REVISION_HASH] == new_hash))
                .collect()
        };
        let updated = |names: &[&str]| -> Vec<(String, bool)> {
            ["n1", "n2", "n3", "n4"].iter().map(|n| ((*n).to_owned(), names.contains(n))).collect()
        };
        assert_eq!(
            hashes(&by_node),
            updated(&["n1", "n4"]),
            "replacements created, nothing more while they are unavailable"
        );
        assert_eq!(by_node["n1"][0].metadata.labels[LABEL_POD_TEMPLATE_GENERATION], "2");
        assert_eq!(counts(&f.status().await), (4, 4, 0, 2, Some(2), Some(2), Some(2), Some(2)));

        // One new pod becomes available: one more old pod may go.
        f.set_phase(&by_node["n1"][0], "Running", true).await;
        f.settle(&r, 1).await;
        assert_eq!(f.pod_nodes().await, ["n1", "n3", "n4"]);
        f.settle(&r, 2).await;
        assert_eq!(hashes(&f.pods_by_node().await), updated(&["n1", "n2", "n4"]));
        for pods in f.pods_by_node().await.values() {
            f.set_phase(&pods[0], "Running", true).await;
        }
        f.settle(&r, 3).await;
        assert_eq!(hashes(&f.pods_by_node().await), updated(&["n1", "n2", "n3", "n4"]));
        f.settle(&r, 1).await;
        let status = f.status().await;
        assert_eq!(counts(&status), (4, 4, 0, 3, Some(3), Some(1), Some(4), Some(2)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn default_max_unavailable_replaces_one_pod_at_a_time() {
        let f = Fixture::new();
        let r = f.reconciler();
        for n in ["n1", "n2", "n3"] {
            f.nodes.create(&node(n, &[], vec![])).await.unwrap();
        }
        f.sets.create(&daemon_set("v1")).await.unwrap();
        f.settle(&r, 1).await;
        for pods in f.pods_by_node().await.values() {
            f.set_phase(&pods[0], "Running", true).await;
        }
        f.set_image("v2").await;
        f.settle(&r, 1).await;
        assert_eq!(f.pod_nodes().await.len(), 2, "one pod at a time");
        f.settle(&r, 3).await;
        assert_eq!(f.pod_nodes().await.len(), 3);
        assert_eq!(f.status().await.updated_number_scheduled, Some(1), "the new pod is not ready: no more deletions");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_delete_replaces_only_deleted_pods() {
        let f = Fixture::new();
        let r = f.reconciler();
        f.nodes.create(&node("n1", &[], vec![])).await.unwrap();
        f.nodes.create(&node("n2", &[], vec![])).await.unwrap();
        let mut ds = daemon_set("v1");
        ds.spec.update_strategy = on_delete();
        f.sets.create(&ds).await.unwrap();
        f.settle(&r, 1).await;
        let before = f.pods_by_node().await;
        f.set_image("v2").await;
        f.settle(&r, 3).await;
        let after = f.pods_by_node().await;
        let uids = |m: &BTreeMap<String, Vec<Pod>>| m.values().map(|p| p[0].metadata.uid.clone()).collect::<Vec<_>>();
        assert_eq!(uids(&before), uids(&after), "nothing replaced");
        assert_eq!(f.revisions().await.len(), 2);
        assert_eq!(f.status().await.updated_number_scheduled, Some(0));

        f.pods.delete(&after["n1"][0].metadata.name, &DeleteOptions::default()).await.unwrap();
        f.settle(&r, 2).await;
        let now = f.pods_by_node().await;
        let new_hash = &f.revisions().await[1].0;
        assert_eq!(&now["n1"][0].metadata.labels[LABEL_CONTROLLER_REVISION_HASH], new_hash);
        assert_eq!(now["n2"][0].metadata.uid, after["n2"][0].metadata.uid);
        assert_eq!(f.status().await.updated_number_scheduled, Some(1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn revisions_are_reused_and_pruned_unless_pods_use_them() {
        let f = Fixture::new();
        let r = f.reconciler();
        f.nodes.create(&node("n1", &[], vec![])).await.unwrap();
        let mut ds = daemon_set("a");
        ds.spec.update_strategy = on_delete();
        ds.spec.revision_history_limit = Some(1);
        f.sets.create(&ds).await.unwrap();
        f.settle(&r, 1).await;
        let a = f.revisions().await[0].0.clone();
        f.set_image("b").await;
        f.settle(&r, 1).await;
        let b = f.revisions().await[1].0.clone();
        assert_eq!(f.revisions().await, [(a.clone(), 1), (b.clone(), 2)]);
        f.set_image("c").await;
        f.settle(&r, 1).await;
        let c = f.revisions().await.last().unwrap().0.clone();
        // Two old revisions, limit 1: `a` has a live pod, so `b` goes.
        assert_eq!(f.revisions().await, [(a.clone(), 1), (c.clone(), 3)]);
        f.set_image("a").await;
        f.settle(&r, 1).await;
        assert_eq!(f.revisions().await, [(c.clone(), 3), (a.clone(), 4)], "`a` reused with a new revision number");
        assert_eq!(f.status().await.updated_number_scheduled, Some(1), "the pod of `a` is current again");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn status_reports_availability_after_min_ready_seconds() {
        let f = Fixture::new();
        let r = f.reconciler();
        for n in ["n1", "n2", "n3"] {
            f.nodes.create(&node(n, &[], vec![])).await.unwrap();
        }
        let mut ds = daemon_set("v1");
        ds.spec.min_ready_seconds = Some(10);
        f.sets.create(&ds).await.unwrap();
        f.settle(&r, 1).await;
        let by_node = f.pods_by_node().await;
        f.set_phase(&by_node["n1"][0], "Running", true).await;
        f.set_phase(&by_node["n2"][0], "Running", true).await;
        f.set_phase(&by_node["n3"][0], "Running", false).await;
        f.env.clock.advance(Duration::from_secs(4));
        let action = f.settle(&r, 1).await;
        // Times are stored to the second: the wait is at most 6 s.
        assert!(
            matches!(action, Action::RequeueAfter(d) if d > Duration::from_secs(5) && d <= Duration::from_secs(6)),
            "{action:?}"
        );
        assert_eq!(counts(&f.status().await), (3, 3, 0, 2, Some(0), Some(3), Some(3), Some(1)));
        f.env.clock.advance(Duration::from_secs(6));
        assert_eq!(f.settle(&r, 1).await, Action::AwaitChange);
        assert_eq!(counts(&f.status().await), (3, 3, 0, 2, Some(2), Some(1), Some(3), Some(1)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hash_collision_raises_the_collision_count() {
        let f = Fixture::new();
        let r = f.reconciler();
        f.nodes.create(&node("n1", &[], vec![])).await.unwrap();
        let ds = f.sets.create(&daemon_set("v1")).await.unwrap();
        let taken = format!("ds-{}", template_hash(&revision_data(&ds), None));
        f.revisions
            .create(&ControllerRevision {
                metadata: ObjectMeta { labels: labels(&[("app", "other")]), ..ObjectMeta::namespaced(NS, &taken) },
                data: serde_json::json!({"other": true}),
                revision: 1,
                ..Default::default()
            })
            .await
            .unwrap();
        f.caught_up().await;
        let err = f.reconcile(&r).await.unwrap_err();
        assert!(matches!(err, Error::HashCollision(ref name) if *name == taken), "{err}");
        assert_eq!(f.status().await.collision_count, Some(1));
        f.settle(&r, 1).await;
        let expected = template_hash(&revision_data(&ds), Some(1));
        let ours: Vec<_> = f.revisions().await.into_iter().filter(|(h, _)| *h == expected).collect();
        assert_eq!(ours, [(expected.clone(), 1)]);
        let pod = f.pods_by_node().await.remove("n1").unwrap().remove(0);
        assert_eq!(pod.metadata.labels[LABEL_CONTROLLER_REVISION_HASH], expected);
        assert_eq!(f.status().await.collision_count, Some(1), "kept by later status writes");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_running_manager_follows_nodes() {
        let env = TestEnv::new();
        let mut manager = env.manager();
        let reconciler = DaemonSetReconciler::new(manager.api(), manager.informers(), Arc::new(env.clock.clone()));
        manager.add(reconciler.controller(), reconciler);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(manager.run(async {
            let _ = stopped.await;
        }));
        let nodes: Api<Node> = Api::all(env.store.clone());
        let sets: Api<DaemonSet> = Api::namespaced(env.store.clone(), NS);
        let pods: Api<Pod> = Api::namespaced(env.store.clone(), NS);
        nodes.create(&node("n1", &[], vec![])).await.unwrap();
        sets.create(&daemon_set("v1")).await.unwrap();
        let targets = || async {
            let mut out: Vec<String> = pods
                .list(&ListOptions::default())
                .await
                .unwrap()
                .items
                .iter()
                .filter_map(|p| target_node(p).map(str::to_owned))
                .collect();
            out.sort();
            out
        };
        let eventually = |want: &'static [&'static str]| {
            let targets = &targets;
            async move {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                loop {
                    let got = targets().await;
                    if got == want {
                        return;
                    }
                    assert!(tokio::time::Instant::now() < deadline, "never {want:?}: {got:?}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        eventually(&["n1"]).await;
        nodes.create(&node("n2", &[], vec![])).await.unwrap();
        eventually(&["n1", "n2"]).await;
        nodes.delete("n1", &DeleteOptions::default()).await.unwrap();
        eventually(&["n2"]).await;
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(10), run).await.unwrap().unwrap();
    }
}
