//! The ReplicaSet and ReplicationController controllers: keep `replicas`
//! pods from the owner's template.
//!
//! Both kinds share one reconciler over a small private trait; they differ
//! only in their selector (a structured `LabelSelector` for ReplicaSets, a
//! plain label map for ReplicationControllers, which defaults to the
//! template's labels) and in where the fields live.
//!
//! Each reconcile of an owner:
//!
//! 1. **Claims** the active pods of its namespace (not terminal, not being
//!    deleted): pods whose controller reference is the owner stay owned
//!    while their labels match the selector and are **released** (the
//!    reference removed) when they no longer do; pods without a controller
//!    reference whose labels match are **adopted** (a controller reference
//!    with `blockOwnerDeletion` added), after a fresh read confirms the owner
//!    still exists and is not being deleted.
//! 2. **Manages** replicas, unless creations or deletions it issued are not
//!    yet seen in the informer cache (*expectations*, forgotten after five
//!    minutes) or the owner is being deleted: too few pods are created from
//!    the template (named `<owner>-<5 random characters>` by the store's
//!    `generateName`), too many are deleted, in both cases in slow-start
//!    batches (1, 2, 4, … at most [`BURST_REPLICAS`] per reconcile) that stop
//!    at the first batch with an error. Pods to delete are chosen in
//!    Kubernetes' order: unassigned before assigned, `Pending` before
//!    `Unknown` before `Running`, not ready before ready, lower
//!    `controller.kubernetes.io/pod-deletion-cost` first, more pods of the
//!    owner on the same node first, ready more recently first, more restarts
//!    first, newer first.
//! 3. Writes the **status** when it changed: `replicas` (owned active pods),
//!    `fullyLabeledReplicas` (carrying every template label),
//!    `readyReplicas` (condition `Ready` true), `availableReplicas` (ready
//!    for at least `minReadySeconds`, from the condition's
//!    `lastTransitionTime` and the clock; the owner is requeued when the next
//!    pod becomes available), `observedGeneration`, and the `ReplicaFailure`
//!    condition while creating or deleting fails (removed once it succeeds).
//!
//! Events `SuccessfulCreate`, `SuccessfulDelete`, `FailedCreate` and
//! `FailedDelete` are recorded on the owner.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use k_api_types::Resource;
use k_api_types::apps::v1::ReplicaSet;
use k_api_types::core::v1::{Pod, PodTemplateSpec, ReplicationController};
use k_api_types::meta::{DeleteOptions, Preconditions, Time};
use k_api_types::selector::label::Selector;
use k_runtime::clock::{Clock, SystemClock};
use k_runtime::controller::{Action, Context, Controller, Reconciler};
use k_runtime::events::{EventType, Recorder, reference_to};
use k_runtime::informer::InformerFactory;
use k_runtime::manager::Manager;
use k_runtime::reflector::{Store, key_of};

use crate::util::{
    Expectations, claim, claim_candidates, is_active, is_ready, phase, pod_from_template, ready_since, requeue_soonest,
    slow_start,
};
use k_store::{Api, ObjectApi, StoreError};

/// The most pods one reconcile creates or deletes (Kubernetes' `BurstReplicas`).
pub const BURST_REPLICAS: usize = 500;
pub use crate::util::EXPECTATIONS_TIMEOUT;
/// The annotation whose (integer) value makes a pod cheaper to delete.
pub const ANNOTATION_POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";
/// The condition type set while creating or deleting pods fails.
pub const CONDITION_REPLICA_FAILURE: &str = "ReplicaFailure";

/// Why a reconcile failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A read or write of the object API failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

// ---------------------------------------------------------------------------
// The two kinds
// ---------------------------------------------------------------------------

/// A status condition, common to both kinds (their wire shape).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Condition {
    #[serde(rename = "type")]
    type_: String,
    status: String,
    last_transition_time: Option<Time>,
    reason: Option<String>,
    message: Option<String>,
}

/// The status, common to both kinds (their wire shape: each kind's status
/// converts to and from it through JSON, [`reshape`]).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Status {
    replicas: i32,
    #[serde(rename = "fullyLabeledReplicas")]
    fully_labeled: Option<i32>,
    #[serde(rename = "readyReplicas")]
    ready: Option<i32>,
    #[serde(rename = "availableReplicas")]
    available: Option<i32>,
    observed_generation: Option<i64>,
    conditions: Vec<Condition>,
}

/// A value as another type of the same JSON shape (ReplicaSet and
/// ReplicationController statuses and the common [`Status`]).
fn reshape<A: serde::Serialize, B: serde::de::DeserializeOwned + Default>(a: &A) -> B {
    serde_json::to_value(a).and_then(serde_json::from_value).unwrap_or_default()
}

/// What the controller needs of a ReplicaSet or a ReplicationController.
trait ReplicaOwner: Resource {
    /// The component name of its events.
    const COMPONENT: &'static str;
    fn desired_replicas(&self) -> i32;
    fn min_ready_seconds(&self) -> i32;
    /// The pod selector; `None` when it selects nothing or is invalid.
    fn pod_selector(&self) -> Option<Selector>;
    fn template(&self) -> Option<&PodTemplateSpec>;
    fn common_status(&self) -> Status;
    fn set_common_status(&mut self, status: Status);
}

impl ReplicaOwner for ReplicaSet {
    const COMPONENT: &'static str = "replicaset-controller";

    fn desired_replicas(&self) -> i32 {
        self.spec.replicas.unwrap_or(1)
    }

    fn min_ready_seconds(&self) -> i32 {
        self.spec.min_ready_seconds.unwrap_or(0)
    }

    fn pod_selector(&self) -> Option<Selector> {
        let selector = Selector::try_from(self.spec.selector.as_ref()?).ok()?;
        // An empty selector would take every pod of the namespace; the API
        // refuses it, and so does the controller.
        (!selector.is_empty()).then_some(selector)
    }

    fn template(&self) -> Option<&PodTemplateSpec> {
        Some(&self.spec.template)
    }

    fn common_status(&self) -> Status {
        self.status.as_ref().map(reshape).unwrap_or_default()
    }

    fn set_common_status(&mut self, s: Status) {
        self.status = Some(reshape(&s));
    }
}

impl ReplicaOwner for ReplicationController {
    const COMPONENT: &'static str = "replication-controller";

    fn desired_replicas(&self) -> i32 {
        self.spec.replicas.unwrap_or(1)
    }

    fn min_ready_seconds(&self) -> i32 {
        self.spec.min_ready_seconds.unwrap_or(0)
    }

    fn pod_selector(&self) -> Option<Selector> {
        let map = if self.spec.selector.is_empty() {
            &self.spec.template.as_ref()?.metadata.labels
        } else {
            &self.spec.selector
        };
        (!map.is_empty()).then(|| Selector::from_map(map))
    }

    fn template(&self) -> Option<&PodTemplateSpec> {
        self.spec.template.as_ref()
    }

    fn common_status(&self) -> Status {
        self.status.as_ref().map(reshape).unwrap_or_default()
    }

    fn set_common_status(&mut self, s: Status) {
        self.status = Some(reshape(&s));
    }
}

// ---------------------------------------------------------------------------
// Pods
// ---------------------------------------------------------------------------

fn node_of(pod: &Pod) -> &str {
    pod.spec.node_name.as_deref().unwrap_or_default()
}

fn restarts(pod: &Pod) -> i32 {
    pod.status.as_ref().map_or(0, |s| s.container_statuses.iter().map(|c| c.restart_count).max().unwrap_or(0))
}

fn deletion_cost(pod: &Pod) -> i32 {
    pod.metadata.annotations.get(ANNOTATION_POD_DELETION_COST).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// `a` after `b`, where a missing time comes first (Kubernetes' `afterOrZero`).
fn after_or_zero(a: Option<&Time>, b: Option<&Time>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.0 > b.0,
        (a, _) => a.is_none(),
    }
}

/// Compares by `after_or_zero`: `Less` when `a` goes first.
fn newer_first(a: Option<&Time>, b: Option<&Time>) -> Option<Ordering> {
    let (a_after, b_after) = (after_or_zero(a, b), after_or_zero(b, a));
    match (a_after, b_after) {
        (true, false) => Some(Ordering::Less),
        (false, true) => Some(Ordering::Greater),
        _ => None,
    }
}

/// The order in which pods are deleted (`Less`: `a` goes first); `rank` is
/// how many of the owner's pods share the pod's node.
fn deletion_order(a: &Pod, b: &Pod, rank: &HashMap<&str, usize>) -> Ordering {
    fn phase_ordinal(pod: &Pod) -> u8 {
        match phase(pod) {
            "Unknown" => 1,
            "Running" => 2,
            _ => 0,
        }
    }
    // Unassigned first.
    let assigned = |p: &Pod| !node_of(p).is_empty();
    assigned(a)
        .cmp(&assigned(b))
        // Pending < Unknown < Running.
        .then_with(|| phase_ordinal(a).cmp(&phase_ordinal(b)))
        // Not ready first.
        .then_with(|| is_ready(a).cmp(&is_ready(b)))
        // Cheaper first.
        .then_with(|| deletion_cost(a).cmp(&deletion_cost(b)))
        // Doubled-up first.
        .then_with(|| {
            let rank_of = |p: &Pod| rank.get(node_of(p)).copied().unwrap_or(0);
            rank_of(b).cmp(&rank_of(a))
        })
        // Ready more recently first.
        .then_with(|| match (ready_since(a), ready_since(b)) {
            (Some(ta), Some(tb)) => newer_first(ta, tb).unwrap_or(Ordering::Equal),
            _ => Ordering::Equal,
        })
        // More restarts first.
        .then_with(|| restarts(b).cmp(&restarts(a)))
        // Newer first.
        .then_with(|| {
            newer_first(a.metadata.creation_timestamp.as_ref(), b.metadata.creation_timestamp.as_ref())
                .unwrap_or(Ordering::Equal)
        })
}

/// The `count` pods of `pods` to delete first.
fn pods_to_delete(pods: &[Arc<Pod>], count: usize) -> Vec<Arc<Pod>> {
    let mut rank: HashMap<&str, usize> = HashMap::new();
    for pod in pods {
        *rank.entry(node_of(pod)).or_default() += 1;
    }
    let mut sorted: Vec<Arc<Pod>> = pods.to_vec();
    sorted.sort_by(|a, b| deletion_order(a, b, &rank));
    sorted.truncate(count);
    sorted
}

/// Whether `labels` carry every template label.
fn fully_labeled(template: Option<&PodTemplateSpec>, pod: &Pod) -> bool {
    template.is_none_or(|t| t.metadata.labels.iter().all(|(k, v)| pod.metadata.labels.get(k) == Some(v)))
}

// ---------------------------------------------------------------------------
// The reconciler
// ---------------------------------------------------------------------------

/// The logic shared by both kinds.
struct Core<K> {
    informers: Arc<InformerFactory>,
    clock: Arc<dyn Clock>,
    expectations: Arc<Expectations>,
    recorder: Recorder,
    _kind: std::marker::PhantomData<fn() -> K>,
}

impl<K> std::fmt::Debug for Core<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core").field("expectations", &self.expectations).finish_non_exhaustive()
    }
}

impl<K: ReplicaOwner> Core<K> {
    fn new(api: Arc<dyn ObjectApi>, informers: Arc<InformerFactory>, clock: Arc<dyn Clock>) -> Self {
        let recorder = Recorder::with_clock(api, K::COMPONENT, "", clock.clone());
        Core { informers, clock, expectations: Arc::default(), recorder, _kind: std::marker::PhantomData }
    }

    fn pods(&self) -> Store<Pod> {
        self.informers.informer::<Pod>(None, None, None).store()
    }

    /// The controller of `K`: woken by its pods (controller references), by
    /// orphans its selector matches, and seeing the pods it created.
    fn controller(&self) -> Controller<K> {
        let owners: OnceLock<Store<K>> = OnceLock::new();
        let factory = self.informers.clone();
        let expectations = self.expectations.clone();
        Controller::<K>::new(self.informers.clone(), None)
            .owns::<Pod>()
            .watches::<Pod>(None, move |pod: &Pod| {
                expectations.observe(&pod.metadata);
                if pod.metadata.controller().is_some() {
                    return Vec::new();
                }
                let owners = owners.get_or_init(|| factory.informer::<K>(None, None, None).store());
                owners
                    .in_namespace(&pod.metadata.namespace)
                    .iter()
                    .filter(|o| o.pod_selector().is_some_and(|s| s.matches(&pod.metadata.labels)))
                    .map(|o| key_of(&**o))
                    .collect()
            })
            .clock(self.clock.clone())
            .workers(5)
    }

    async fn event(&self, owner: &K, type_: EventType, reason: &str, message: &str) {
        if let Err(e) = self.recorder.publish(&reference_to(owner), type_, reason, message).await {
            tracing::debug!(error = %e, reason, "event not recorded");
        }
    }

    /// Creates or deletes pods so `owned` moves to the desired count.
    async fn manage(&self, owner: &K, owned: &[Arc<Pod>], pods_api: &Api<Pod>) -> Result<(), Error> {
        let desired = usize::try_from(owner.desired_replicas()).unwrap_or(0);
        let uid = &owner.metadata().uid;
        if owned.len() < desired {
            let Some(template) = owner.template() else {
                tracing::warn!(owner = %key_of(owner), "no pod template: cannot create pods");
                return Ok(());
            };
            let count = (desired - owned.len()).min(BURST_REPLICAS);
            let pod = pod_from_template(owner, template);
            slow_start(count, |_| async {
                match pods_api.create(&pod).await {
                    Ok(created) => {
                        self.expectations.expect_creation(uid, &created, self.clock.now());
                        let message = format!("Created pod: {}", created.metadata.name);
                        self.event(owner, EventType::Normal, "SuccessfulCreate", &message).await;
                        Ok(())
                    }
                    Err(e) => {
                        self.event(owner, EventType::Warning, "FailedCreate", &format!("Error creating: {e}")).await;
                        Err(e.into())
                    }
                }
            })
            .await
        } else if owned.len() > desired {
            let victims = pods_to_delete(owned, (owned.len() - desired).min(BURST_REPLICAS));
            slow_start(victims.len(), |i| {
                let pod = victims[i].clone();
                async move {
                    self.expectations.expect_deletion(uid, &*pod, self.clock.now());
                    let options = DeleteOptions {
                        preconditions: Some(Preconditions {
                            uid: Some(pod.metadata.uid.clone()),
                            resource_version: None,
                        }),
                        ..Default::default()
                    };
                    match pods_api.delete(&pod.metadata.name, &options).await {
                        Ok(_) => {
                            let message = format!("Deleted pod: {}", pod.metadata.name);
                            self.event(owner, EventType::Normal, "SuccessfulDelete", &message).await;
                            Ok(())
                        }
                        Err(e) if e.is_not_found() => {
                            self.expectations.forget_deletion(uid, &pod.metadata.uid);
                            Ok(())
                        }
                        Err(e) => {
                            self.expectations.forget_deletion(uid, &pod.metadata.uid);
                            let message = format!("Error deleting: {e}");
                            self.event(owner, EventType::Warning, "FailedDelete", &message).await;
                            Err(e.into())
                        }
                    }
                }
            })
            .await
        } else {
            Ok(())
        }
    }

    /// The status of `owner` owning `owned`, and when the next pod becomes
    /// available.
    fn status(&self, owner: &K, owned: &[Arc<Pod>], failure: Option<(&Error, bool)>) -> (Status, Option<Duration>) {
        let now = self.clock.wall();
        let min_ready = chrono::Duration::seconds(i64::from(owner.min_ready_seconds().max(0)));
        let template = owner.template();
        let count = |f: &dyn Fn(&Pod) -> bool| i32::try_from(owned.iter().filter(|p| f(p)).count()).unwrap_or(i32::MAX);
        let mut next_available: Option<Duration> = None;
        let mut available = 0;
        for since in owned.iter().filter_map(|p| ready_since(p)) {
            if min_ready.is_zero() {
                available += 1;
                continue;
            }
            let Some(since) = since else { continue };
            let at = since.0 + min_ready;
            if at <= now {
                available += 1;
            } else {
                let wait = (at - now).to_std().unwrap_or_default();
                next_available = Some(next_available.map_or(wait, |n| n.min(wait)));
            }
        }
        let previous = owner.common_status();
        let mut conditions = previous.conditions.clone();
        let existing = conditions.iter().position(|c| c.type_ == CONDITION_REPLICA_FAILURE);
        match (failure, existing) {
            (Some((error, creating)), None) => conditions.push(Condition {
                type_: CONDITION_REPLICA_FAILURE.to_owned(),
                status: "True".to_owned(),
                last_transition_time: Some(Time(now)),
                reason: Some(if creating { "FailedCreate" } else { "FailedDelete" }.to_owned()),
                message: Some(error.to_string()),
            }),
            (None, Some(i)) => {
                conditions.remove(i);
            }
            _ => {}
        }
        let status = Status {
            replicas: count(&|_| true),
            fully_labeled: Some(count(&|p: &Pod| fully_labeled(template, p))),
            ready: Some(count(&is_ready)),
            available: Some(available),
            observed_generation: owner.metadata().generation,
            conditions,
        };
        (status, next_available)
    }

    async fn reconcile(&self, owner: Arc<K>, ctx: &Context) -> Result<Action, Error> {
        let meta = owner.metadata();
        let Some(selector) = owner.pod_selector() else {
            tracing::warn!(owner = %key_of(&*owner), "no valid selector: nothing to do");
            return Ok(Action::AwaitChange);
        };
        if let Some(template) = owner.template()
            && !selector.matches(&template.metadata.labels)
        {
            // Its pods would never be its own: it would create forever.
            tracing::warn!(owner = %key_of(&*owner), "the selector does not match the template's labels");
            return Ok(Action::AwaitChange);
        }
        let pods = self.pods();
        pods.wait_until_synced().await;
        let pods_api: Api<Pod> = Api::with_client(ctx.api.clone(), Some(meta.namespace.clone()));
        let owners_api: Api<K> = Api::with_client(ctx.api.clone(), Some(meta.namespace.clone()));
        let pending = self.expectations.pending(&meta.uid, &pods, self.clock.now());
        let candidates: Vec<Arc<Pod>> = claim_candidates(&pods, meta).into_iter().filter(|p| is_active(p)).collect();
        let owned = claim(&*owner, &selector, candidates, &pods_api, &owners_api).await?;

        let mut failure = None;
        if pending.is_none() && meta.deletion_timestamp.is_none() {
            let creating = owned.len() < usize::try_from(owner.desired_replicas()).unwrap_or(0);
            if let Err(e) = self.manage(&owner, &owned, &pods_api).await {
                failure = Some((e, creating));
            }
        }
        let (status, next_available) = self.status(&owner, &owned, failure.as_ref().map(|(e, c)| (e, *c)));
        if status != owner.common_status() {
            let written =
                owners_api.guaranteed_update_status(&meta.name, |o| o.set_common_status(status.clone())).await;
            match written {
                Err(e) if e.is_not_found() => return Ok(Action::AwaitChange),
                other => {
                    other?;
                }
            }
        }
        if let Some((error, _)) = failure {
            return Err(error);
        }
        let expires = pending.map(|at| at.saturating_duration_since(self.clock.now()));
        Ok(requeue_soonest([next_available, expires].into_iter().flatten()))
    }
}

/// The ReplicaSet controller's reconciler (see the
/// [module documentation](self)).
#[derive(Debug)]
pub struct ReplicaSetReconciler {
    core: Core<ReplicaSet>,
}

impl ReplicaSetReconciler {
    /// A reconciler reading pods from `informers`' caches, recording events
    /// through `api` and telling time (availability, expectations) by `clock`.
    pub fn new(api: Arc<dyn ObjectApi>, informers: Arc<InformerFactory>, clock: Arc<dyn Clock>) -> Self {
        ReplicaSetReconciler { core: Core::new(api, informers, clock) }
    }

    /// Its controller: ReplicaSets, woken by their pods and by orphans
    /// their selectors match (run it with this reconciler).
    pub fn controller(&self) -> Controller<ReplicaSet> {
        self.core.controller().named("replicaset")
    }
}

#[async_trait::async_trait]
impl Reconciler<ReplicaSet> for ReplicaSetReconciler {
    type Error = Error;

    async fn reconcile(&self, owner: Arc<ReplicaSet>, ctx: &Context) -> Result<Action, Error> {
        self.core.reconcile(owner, ctx).await
    }
}

/// The ReplicationController controller's reconciler (see the
/// [module documentation](self)).
#[derive(Debug)]
pub struct ReplicationControllerReconciler {
    core: Core<ReplicationController>,
}

impl ReplicationControllerReconciler {
    /// A reconciler reading pods from `informers`' caches, recording events
    /// through `api` and telling time (availability, expectations) by `clock`.
    pub fn new(api: Arc<dyn ObjectApi>, informers: Arc<InformerFactory>, clock: Arc<dyn Clock>) -> Self {
        ReplicationControllerReconciler { core: Core::new(api, informers, clock) }
    }

    /// Its controller: ReplicationControllers, woken by their pods and by
    /// orphans their selectors match (run it with this reconciler).
    pub fn controller(&self) -> Controller<ReplicationController> {
        self.core.controller().named("replicationcontroller")
    }
}

#[async_trait::async_trait]
impl Reconciler<ReplicationController> for ReplicationControllerReconciler {
    type Error = Error;

    async fn reconcile(&self, owner: Arc<ReplicationController>, ctx: &Context) -> Result<Action, Error> {
        self.core.reconcile(owner, ctx).await
    }
}

/// Adds the ReplicaSet controller to `manager` (system clock).
pub fn add_replica_sets(manager: &mut Manager) {
    let reconciler = ReplicaSetReconciler::new(manager.api(), manager.informers(), Arc::new(SystemClock));
    manager.add(reconciler.controller(), reconciler);
}

/// Adds the ReplicationController controller to `manager` (system clock).
pub fn add_replication_controllers(manager: &mut Manager) {
    let reconciler = ReplicationControllerReconciler::new(manager.api(), manager.informers(), Arc::new(SystemClock));
    manager.add(reconciler.controller(), reconciler);
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering as AtomicOrdering};

    use k_api_types::SortedMap;
    use k_api_types::apps::v1::ReplicaSetSpec;
    use k_api_types::core::v1::{
        Container, ContainerStatus, Event, PodCondition, PodSpec, PodStatus, ReplicationControllerSpec,
    };
    use k_api_types::meta::ObjectMeta;
    use k_api_types::meta::{LabelSelector, OwnerReference};
    use k_runtime::owner::{is_owned_by, owner_reference};
    use k_runtime::testing::TestEnv;
    use k_runtime::watcher::Config;
    use k_store::admission::{AdmissionHook, AdmissionRequest};
    use k_store::api::{ListOptions, Operation};

    use super::*;

    const NS: &str = "default";

    /// A test of the owned pods' names.
    type NameCheck = Box<dyn Fn(&[String]) -> bool + Send + Sync>;

    fn labels(pairs: &[(&str, &str)]) -> SortedMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn template(pairs: &[(&str, &str)]) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: ObjectMeta { labels: labels(pairs), ..Default::default() },
            spec: PodSpec {
                containers: vec![Container { name: "c".into(), image: Some("nginx".into()), ..Default::default() }],
                ..Default::default()
            },
        }
    }

    /// A ReplicaSet selecting `app=<name>` whose template also carries `tier=web`.
    fn replica_set(name: &str, replicas: i32, min_ready_seconds: i32) -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta::namespaced(NS, name),
            spec: ReplicaSetSpec {
                replicas: Some(replicas),
                min_ready_seconds: Some(min_ready_seconds),
                selector: Some(LabelSelector::from_labels([("app", name)])),
                template: template(&[("app", name), ("tier", "web")]),
            },
            ..Default::default()
        }
    }

    struct Fixture {
        env: TestEnv,
        informers: Arc<InformerFactory>,
        ctx: Context,
        pods: Api<Pod>,
        sets: Api<ReplicaSet>,
    }

    impl Fixture {
        fn new() -> Self {
            let env = TestEnv::new();
            let informers = Arc::new(InformerFactory::new(env.api.clone(), Config::default()));
            let ctx = Context {
                controller: Arc::from("replicaset"),
                api: env.api.clone(),
                clock: Arc::new(env.clock.clone()),
                retries: 0,
            };
            let pods = Api::namespaced(env.store.clone(), NS);
            let sets = Api::namespaced(env.store.clone(), NS);
            Fixture { env, informers, ctx, pods, sets }
        }

        fn reconciler(&self) -> ReplicaSetReconciler {
            ReplicaSetReconciler::new(self.env.api.clone(), self.informers.clone(), Arc::new(self.env.clock.clone()))
        }

        async fn reconcile(&self, r: &ReplicaSetReconciler, name: &str) -> Result<Action, Error> {
            let current = self.sets.get(name).await.unwrap();
            r.reconcile(Arc::new(current), &self.ctx).await
        }

        async fn all_pods(&self) -> Vec<Pod> {
            let mut pods = self.pods.list(&ListOptions::default()).await.unwrap().items;
            pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
            pods
        }

        /// The active pods `owner` controls, from the store.
        async fn owned<K: Resource>(&self, owner: &K) -> Vec<Pod> {
            self.all_pods()
                .await
                .into_iter()
                .filter(|p| is_active(p) && p.metadata.controller().is_some_and(|r| r.uid == owner.metadata().uid))
                .collect()
        }

        /// Waits until the pod cache satisfies `check`.
        async fn cache_until(&self, what: &str, check: impl Fn(&[Arc<Pod>]) -> bool) {
            let store = self.informers.informer::<Pod>(None, None, None).store();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            loop {
                if check(&store.state()) {
                    return;
                }
                assert!(tokio::time::Instant::now() < deadline, "the cache never showed {what}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }

        /// Waits until the cache shows the store's pods (same uids, versions).
        async fn cache_caught_up(&self) {
            let stored: Vec<(String, String)> =
                self.all_pods().await.into_iter().map(|p| (p.metadata.uid, p.metadata.resource_version)).collect();
            self.cache_until("the store's pods", |cached| {
                cached.len() == stored.len()
                    && stored.iter().all(|(uid, rv)| {
                        cached.iter().any(|p| &p.metadata.uid == uid && &p.metadata.resource_version == rv)
                    })
            })
            .await;
        }

        /// Creates a pod named `name` with `pairs` as labels, optionally on
        /// `node` and owned by `owner`, then writes `status`.
        async fn pod(
            &self,
            name: &str,
            pairs: &[(&str, &str)],
            node: Option<&str>,
            owner: Option<OwnerReference>,
            status: Option<PodStatus>,
        ) -> Pod {
            let t = template(pairs);
            let pod = Pod {
                metadata: ObjectMeta {
                    labels: t.metadata.labels,
                    owner_references: owner.into_iter().collect(),
                    ..ObjectMeta::namespaced(NS, name)
                },
                spec: PodSpec { node_name: node.map(str::to_owned), ..t.spec },
                ..Default::default()
            };
            let mut created = self.pods.create(&pod).await.unwrap();
            if let Some(status) = status {
                created.status = Some(status);
                created = self.pods.update_status(&created).await.unwrap();
            }
            created
        }
    }

    fn pod_status(phase: &str, ready_since: Option<Time>, restarts: i32) -> PodStatus {
        PodStatus {
            phase: Some(phase.to_owned()),
            conditions: ready_since
                .map(|t| PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    last_transition_time: Some(t),
                    ..Default::default()
                })
                .into_iter()
                .collect(),
            container_statuses: vec![ContainerStatus {
                name: "c".into(),
                restart_count: restarts,
                ready: ready_since.is_some(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn rs_status(rs: &ReplicaSet) -> (i32, Option<i32>, Option<i32>, Option<i32>, Option<i64>) {
        let s = rs.status.clone().unwrap_or_default();
        (s.replicas, s.fully_labeled_replicas, s.ready_replicas, s.available_replicas, s.observed_generation)
    }

    #[test]
    fn deletion_order_follows_kubernetes() {
        let at = |secs: i64| Some(Time::from_unix(1_700_000_000 + secs).unwrap());
        let pod = |name: &str, node: Option<&str>, status: PodStatus, created: i64| Pod {
            metadata: ObjectMeta { creation_timestamp: at(created), ..ObjectMeta::namespaced(NS, name) },
            spec: PodSpec { node_name: node.map(str::to_owned), ..Default::default() },
            status: Some(status),
            ..Default::default()
        };
        let pods: Vec<Arc<Pod>> = [
            pod("ready-long-ago", Some("n1"), pod_status("Running", at(0), 0), 0),
            pod("ready-recently", Some("n2"), pod_status("Running", at(50), 0), 0),
            pod("ready-restarted", Some("n3"), pod_status("Running", at(0), 4), 0),
            pod("running-not-ready", Some("n4"), pod_status("Running", None, 0), 0),
            pod("unknown", Some("n5"), pod_status("Unknown", None, 0), 0),
            pod("pending-old", Some("n6"), pod_status("Pending", None, 0), 0),
            pod("pending-new", Some("n7"), pod_status("Pending", None, 0), 10),
            pod("unassigned", None, pod_status("Running", at(0), 0), 0),
        ]
        .into_iter()
        .map(Arc::new)
        .collect();
        let order: Vec<String> = pods_to_delete(&pods, pods.len()).iter().map(|p| p.metadata.name.clone()).collect();
        assert_eq!(
            order,
            [
                "unassigned",
                "pending-new",
                "pending-old",
                "unknown",
                "running-not-ready",
                "ready-recently",
                "ready-restarted",
                "ready-long-ago"
            ]
        );
        // Two pods on one node go before a pod alone on its node.
        let doubled: Vec<Arc<Pod>> = [
            pod("alone", Some("n1"), pod_status("Running", at(0), 0), 0),
            pod("twin-a", Some("n2"), pod_status("Running", at(0), 0), 0),
            pod("twin-b", Some("n2"), pod_status("Running", at(0), 0), 0),
        ]
        .into_iter()
        .map(Arc::new)
        .collect();
        let first = pods_to_delete(&doubled, 1);
        assert!(first[0].metadata.name.starts_with("twin"), "{:?}", first[0].metadata.name);
    }

    #[tokio::test]
    async fn slow_start_doubles_batches_and_stops_at_the_first_failing_batch() {
        let calls = std::sync::Mutex::new(Vec::new());
        let result = slow_start(20, |i| {
            calls.lock().unwrap().push(i);
            async move { if i == 4 { Err(Error::Store(StoreError::Forbidden("no".into()))) } else { Ok(()) } }
        })
        .await;
        assert!(result.is_err());
        // Batches 1, 2, 4: the batch holding the failure completes, no more start.
        assert_eq!(calls.lock().unwrap().len(), 7);
        let count = AtomicUsize::new(0);
        slow_start(9, |_| {
            count.fetch_add(1, AtomicOrdering::SeqCst);
            async { Ok::<(), Error>(()) }
        })
        .await
        .unwrap();
        assert_eq!(count.load(AtomicOrdering::SeqCst), 9);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scales_up_to_exactly_the_replicas_even_when_reconciled_again_quickly() {
        let f = Fixture::new();
        let r = f.reconciler();
        let rs = f.sets.create(&replica_set("web", 5, 0)).await.unwrap();
        f.reconcile(&r, "web").await.unwrap();
        // The cache may not show the new pods yet: expectations hold.
        f.reconcile(&r, "web").await.unwrap();
        let pods = f.owned(&rs).await;
        assert_eq!(pods.len(), 5, "{pods:?}");
        assert_eq!(f.all_pods().await.len(), 5);
        for pod in &pods {
            let suffix = pod.metadata.name.strip_prefix("web-").expect("named after the owner");
            assert_eq!(suffix.len(), 5, "{}", pod.metadata.name);
            assert!(suffix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
            assert_eq!(pod.metadata.labels, labels(&[("app", "web"), ("tier", "web")]));
            let reference = pod.metadata.controller().unwrap();
            assert_eq!((reference.kind.as_str(), reference.name.as_str()), ("ReplicaSet", "web"));
            assert_eq!(reference.block_owner_deletion, Some(true));
        }
        f.cache_caught_up().await;
        assert_eq!(f.reconcile(&r, "web").await.unwrap(), Action::AwaitChange);
        assert_eq!(f.all_pods().await.len(), 5);
        let rs = f.sets.get("web").await.unwrap();
        assert_eq!(rs_status(&rs), (5, Some(5), Some(0), Some(0), Some(1)));
        let events: Api<Event> = Api::namespaced(f.env.store.clone(), NS);
        let events = events.list(&ListOptions::default()).await.unwrap().items;
        assert!(events.iter().any(|e| e.reason.as_deref() == Some("SuccessfulCreate")), "{events:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn expectations_wait_for_the_cache_until_they_expire() {
        let f = Fixture::new();
        // A cache that never sees the pods: an informer over another store.
        let blind = Arc::new(InformerFactory::new(Arc::new(k_store::Store::in_memory()), Config::default()));
        let r = ReplicaSetReconciler::new(f.env.api.clone(), blind, Arc::new(f.env.clock.clone()));
        f.sets.create(&replica_set("web", 3, 0)).await.unwrap();
        assert_eq!(f.reconcile(&r, "web").await.unwrap(), Action::AwaitChange);
        for _ in 0..3 {
            let action = f.reconcile(&r, "web").await.unwrap();
            assert!(matches!(action, Action::RequeueAfter(d) if d <= EXPECTATIONS_TIMEOUT), "{action:?}");
        }
        assert_eq!(f.all_pods().await.len(), 3, "nothing created twice while the cache is behind");
        f.env.clock.advance(EXPECTATIONS_TIMEOUT);
        f.reconcile(&r, "web").await.unwrap();
        assert_eq!(f.all_pods().await.len(), 6, "expired expectations are forgotten");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scales_down_in_deletion_order() {
        let f = Fixture::new();
        let r = f.reconciler();
        let rs = f.sets.create(&replica_set("web", 2, 0)).await.unwrap();
        let owner = || Some(owner_reference(&rs, true));
        let app = [("app", "web"), ("tier", "web")];
        let since = Some(Time(f.env.clock.wall()));
        f.pod("e-ready", &app, Some("n4"), owner(), Some(pod_status("Running", since, 0))).await;
        f.pod("d-ready-restarted", &app, Some("n3"), owner(), Some(pod_status("Running", since, 3))).await;
        f.pod("c-not-ready", &app, Some("n2"), owner(), Some(pod_status("Running", None, 0))).await;
        f.pod("b-pending", &app, Some("n1"), owner(), Some(pod_status("Pending", None, 0))).await;
        f.pod("a-unassigned", &app, None, owner(), None).await;
        f.cache_caught_up().await;
        f.reconcile(&r, "web").await.unwrap();
        let pods = f.all_pods().await;
        let names = |pods: &[Pod], deleting: bool| -> Vec<String> {
            pods.iter()
                .filter(|p| p.metadata.deletion_timestamp.is_some() == deleting)
                .map(|p| p.metadata.name.clone())
                .collect()
        };
        // The unassigned pod is gone at once; the bound ones terminate.
        assert_eq!(names(&pods, true), ["b-pending", "c-not-ready"]);
        assert_eq!(names(&pods, false), ["d-ready-restarted", "e-ready"]);

        f.sets.guaranteed_update("web", |rs| rs.spec.replicas = Some(1)).await.unwrap();
        f.cache_caught_up().await;
        f.reconcile(&r, "web").await.unwrap();
        let pods = f.all_pods().await;
        assert_eq!(names(&pods, false), ["e-ready"], "more restarts go first");
        f.cache_caught_up().await;
        f.reconcile(&r, "web").await.unwrap();
        assert_eq!(rs_status(&f.sets.get("web").await.unwrap()), (1, Some(1), Some(1), Some(1), Some(2)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn adopts_orphans_releases_relabelled_pods_and_replaces_them() {
        let f = Fixture::new();
        let r = f.reconciler();
        let orphan = f.pod("orphan", &[("app", "web"), ("tier", "web")], None, None, None).await;
        let foreign = OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: "other".into(),
            uid: "other-uid".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        };
        f.pod("foreign", &[("app", "web")], None, Some(foreign), None).await;
        let rs = f.sets.create(&replica_set("web", 2, 0)).await.unwrap();
        f.cache_caught_up().await;
        f.reconcile(&r, "web").await.unwrap();
        let owned = f.owned(&rs).await;
        assert_eq!(owned.len(), 2);
        let adopted = owned.iter().find(|p| p.metadata.name == "orphan").expect("the orphan is adopted");
        assert_eq!(adopted.metadata.uid, orphan.metadata.uid);
        assert_eq!(adopted.metadata.controller().map(|r| r.block_owner_deletion), Some(Some(true)));
        let foreign = f.pods.get("foreign").await.unwrap();
        assert_eq!(foreign.metadata.controller().unwrap().uid, "other-uid", "another controller's pod is left alone");

        f.cache_caught_up().await;
        let mut relabelled = f.pods.get("orphan").await.unwrap();
        relabelled.metadata.labels = labels(&[("app", "elsewhere")]);
        f.pods.update(&relabelled).await.unwrap();
        f.cache_caught_up().await;
        f.reconcile(&r, "web").await.unwrap();
        let released = f.pods.get("orphan").await.unwrap();
        assert!(released.metadata.owner_references.is_empty(), "{:?}", released.metadata.owner_references);
        let owned = f.owned(&rs).await;
        assert_eq!(owned.len(), 2, "a replacement is created");
        assert!(owned.iter().all(|p| p.metadata.name.starts_with("web-")));
        assert_eq!(f.all_pods().await.len(), 4);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reports_availability_after_min_ready_seconds_on_the_clock() {
        let f = Fixture::new();
        let r = f.reconciler();
        // Matches the selector but lacks the template's `tier` label.
        f.pod("orphan", &[("app", "web")], None, None, None).await;
        let rs = f.sets.create(&replica_set("web", 2, 10)).await.unwrap();
        f.cache_caught_up().await;
        f.reconcile(&r, "web").await.unwrap();
        assert_eq!(f.owned(&rs).await.len(), 2);
        let mut orphan = f.pods.get("orphan").await.unwrap();
        orphan.status = Some(pod_status("Running", Some(Time(f.env.clock.wall())), 0));
        f.pods.update_status(&orphan).await.unwrap();
        f.cache_caught_up().await;
        let action = f.reconcile(&r, "web").await.unwrap();
        match action {
            Action::RequeueAfter(d) => assert!(d > Duration::from_secs(8) && d <= Duration::from_secs(10), "{d:?}"),
            Action::AwaitChange => panic!("a pod becomes available later: requeue"),
        }
        assert_eq!(rs_status(&f.sets.get("web").await.unwrap()), (2, Some(1), Some(1), Some(0), Some(1)));
        f.env.clock.advance(Duration::from_secs(10));
        assert_eq!(f.reconcile(&r, "web").await.unwrap(), Action::AwaitChange);
        assert_eq!(rs_status(&f.sets.get("web").await.unwrap()), (2, Some(1), Some(1), Some(1), Some(1)));
    }

    /// Refuses pod creations while `refuse` is set; counts attempts.
    #[derive(Debug, Default)]
    struct Quota {
        refuse: AtomicBool,
        attempts: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl AdmissionHook for Quota {
        async fn admit(&self, request: &mut AdmissionRequest<'_>) -> k_store::Result<()> {
            if request.resource.kind == "Pod" && request.operation == Operation::Create {
                self.attempts.fetch_add(1, AtomicOrdering::SeqCst);
                if self.refuse.load(AtomicOrdering::SeqCst) {
                    return Err(StoreError::Forbidden("exceeded quota: pods".into()));
                }
            }
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failed_creations_set_replica_failure_until_they_succeed() {
        let f = Fixture::new();
        let quota = Arc::new(Quota::default());
        quota.refuse.store(true, AtomicOrdering::SeqCst);
        f.env.store.add_admission(quota.clone());
        let r = f.reconciler();
        f.sets.create(&replica_set("web", 3, 0)).await.unwrap();
        f.reconcile(&r, "web").await.expect_err("creations fail");
        assert_eq!(quota.attempts.load(AtomicOrdering::SeqCst), 1, "the first batch (one pod) fails: no more tried");
        let rs = f.sets.get("web").await.unwrap();
        let condition = &rs.status.as_ref().unwrap().conditions[0];
        assert_eq!((condition.type_.as_str(), condition.status.as_str()), ("ReplicaFailure", "True"));
        assert_eq!(condition.reason.as_deref(), Some("FailedCreate"));
        assert!(condition.message.as_deref().unwrap().contains("exceeded quota"), "{condition:?}");
        let events: Api<Event> = Api::namespaced(f.env.store.clone(), NS);
        let events = events.list(&ListOptions::default()).await.unwrap().items;
        assert!(events.iter().any(|e| e.reason.as_deref() == Some("FailedCreate")), "{events:?}");

        quota.refuse.store(false, AtomicOrdering::SeqCst);
        f.reconcile(&r, "web").await.unwrap();
        assert_eq!(quota.attempts.load(AtomicOrdering::SeqCst), 4);
        assert_eq!(f.all_pods().await.len(), 3);
        let rs = f.sets.get("web").await.unwrap();
        assert!(rs.status.as_ref().unwrap().conditions.is_empty(), "the condition goes once creations succeed");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replication_controllers_use_their_map_selector() {
        let f = Fixture::new();
        let r =
            ReplicationControllerReconciler::new(f.env.api.clone(), f.informers.clone(), Arc::new(f.env.clock.clone()));
        let rcs: Api<ReplicationController> = Api::namespaced(f.env.store.clone(), NS);
        f.pod("orphan", &[("app", "rc")], None, None, None).await;
        f.pod("unrelated", &[("app", "other")], None, None, None).await;
        let rc = rcs
            .create(&ReplicationController {
                metadata: ObjectMeta::namespaced(NS, "rc"),
                spec: ReplicationControllerSpec {
                    replicas: Some(2),
                    min_ready_seconds: None,
                    selector: labels(&[("app", "rc")]),
                    template: Some(template(&[("app", "rc"), ("tier", "x")])),
                },
                ..Default::default()
            })
            .await
            .unwrap();
        f.cache_caught_up().await;
        let reconcile = || async { r.reconcile(Arc::new(rcs.get("rc").await.unwrap()), &f.ctx).await };
        reconcile().await.unwrap();
        let owned = f.owned(&rc).await;
        assert_eq!(owned.len(), 2);
        assert!(owned.iter().any(|p| p.metadata.name == "orphan"));
        for pod in &owned {
            let reference = pod.metadata.controller().unwrap();
            assert_eq!((reference.api_version.as_str(), reference.kind.as_str()), ("v1", "ReplicationController"));
        }
        assert!(f.pods.get("unrelated").await.unwrap().metadata.owner_references.is_empty());
        f.cache_caught_up().await;
        reconcile().await.unwrap();
        let status = rcs.get("rc").await.unwrap().status.unwrap();
        assert_eq!((status.replicas, status.fully_labeled_replicas, status.observed_generation), (2, Some(1), Some(1)));

        rcs.guaranteed_update("rc", |rc| rc.spec.replicas = Some(1)).await.unwrap();
        reconcile().await.unwrap();
        let owned = f.owned(&rc).await;
        assert_eq!(owned.len(), 1);
        assert!(is_owned_by(&owned[0].metadata, &rc));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_running_manager_replaces_deleted_pods_and_adopts_orphans() {
        let env = TestEnv::new();
        let mut manager = env.manager();
        let reconciler = ReplicaSetReconciler::new(manager.api(), manager.informers(), Arc::new(env.clock.clone()));
        manager.add(reconciler.controller(), reconciler);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(manager.run(async {
            let _ = stopped.await;
        }));
        let sets: Api<ReplicaSet> = Api::namespaced(env.store.clone(), NS);
        let pods: Api<Pod> = Api::namespaced(env.store.clone(), NS);
        let rs = sets.create(&replica_set("web", 3, 0)).await.unwrap();
        let owned_names = || async {
            let mut names: Vec<String> = pods
                .list(&ListOptions::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .filter(|p| is_active(p) && is_owned_by(&p.metadata, &rs))
                .map(|p| p.metadata.name)
                .collect();
            names.sort();
            names
        };
        let eventually = |what: &'static str, check: NameCheck| {
            let owned_names = &owned_names;
            async move {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                loop {
                    let names = owned_names().await;
                    if check(&names) {
                        return names;
                    }
                    assert!(tokio::time::Instant::now() < deadline, "never: {what} ({names:?})");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        let first = eventually("three pods", Box::new(|n| n.len() == 3)).await;
        env.wait_for(
            NS,
            "web",
            |rs: &ReplicaSet| rs.status.as_ref().is_some_and(|s| s.replicas == 3),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        pods.delete(&first[0], &DeleteOptions::default()).await.unwrap();
        let gone = first[0].clone();
        let replaced = eventually("a replacement", Box::new(move |n| n.len() == 3 && !n.contains(&gone))).await;
        assert_eq!(replaced.iter().filter(|n| first.contains(n)).count(), 2);

        // An orphan wakes the owner: adopted, and one pod too many deleted.
        let mut orphan = Pod {
            metadata: ObjectMeta {
                labels: labels(&[("app", "web"), ("tier", "web")]),
                ..ObjectMeta::namespaced(NS, "orphan")
            },
            spec: template(&[]).spec,
            ..Default::default()
        };
        orphan = pods.create(&orphan).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let current = pods.get_opt("orphan").await.unwrap();
            if current.is_none_or(|p| is_owned_by(&p.metadata, &rs)) {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "the orphan was never adopted");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        eventually("three pods again", Box::new(|n| n.len() == 3)).await;
        assert!(!orphan.metadata.uid.is_empty());
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(10), run).await.unwrap().unwrap();
    }
}
