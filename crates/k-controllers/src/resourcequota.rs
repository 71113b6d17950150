//! The ResourceQuota controller: keeps `status.used` of every quota up to
//! date with what its namespace holds.
//!
//! Each reconcile of a quota sets `status.hard` to `spec.hard` and
//! recomputes `status.used` for every resource `spec.hard` names (a
//! resource nothing uses reads `0`), as kube-controller-manager's
//! resource quota controller does:
//!
//! - **Pods**: `pods` counts the pods that still count against a quota
//!   (not `Succeeded` or `Failed`, and not past their deletion grace
//!   period); `count/pods` counts every pod. `requests.<r>` (and the bare
//!   `cpu`, `memory`, `ephemeral-storage`) and `limits.<r>` sum the pods'
//!   requests and limits the way Kubernetes computes a pod's resources:
//!   the sum of the app containers (and sidecars, restartable init
//!   containers), at least the largest init container (plus the sidecars
//!   started before it), plus the pod's `overhead`; pod-level
//!   `spec.resources` replace the containers' total where set.
//! - **Persistent volume claims**: `persistentvolumeclaims`,
//!   `requests.storage`, and per storage class
//!   `<class>.storageclass.storage.k8s.io/requests.storage` and
//!   `<class>.storageclass.storage.k8s.io/persistentvolumeclaims`.
//! - **Services**: `services`, `services.loadbalancers`,
//!   `services.nodeports` (the ports of `NodePort` and `LoadBalancer`
//!   services).
//! - **Object counts**: the legacy names `configmaps`, `secrets`,
//!   `replicationcontrollers`, `resourcequotas` (and the above), and
//!   `count/<resource>.<group>` of any served namespaced resource (custom
//!   resources included; `count/<resource>` for the core group), listed
//!   through the object API when the kind is not one of those above.
//!
//! **Scopes** (`spec.scopes` and `spec.scopeSelector`, ANDed) select pods:
//! `Terminating` (a set `activeDeadlineSeconds` ≥ 0), `NotTerminating`,
//! `BestEffort` (no CPU or memory request or limit in any container),
//! `NotBestEffort`, `PriorityClass` (`In`, `NotIn`, `Exists`,
//! `DoesNotExist` on `spec.priorityClassName`, as Kubernetes matches it)
//! and `CrossNamespacePodAffinity` (an affinity term naming namespaces or
//! a namespace selector). `VolumeAttributesClass` selects claims by
//! `spec.volumeAttributesClassName`. As in Kubernetes, other objects never
//! match a scope, so a scoped quota counts none of them.
//!
//! A quota is recomputed when it changes, when a pod, service, claim,
//! config map, secret, replication controller or quota of its namespace
//! changes, and every [`ResourceQuotaOptions::resync_period`] (five
//! minutes by default, kube-controller-manager's
//! `--resource-quota-sync-period`), which catches the `count/*` of other
//! kinds. The status is written only when it changed.
//!
//! Not covered: admission (refusing what would exceed a quota is the API
//! server's business), `requests.storage` from a claim's allocated
//! capacity after an expansion, and the per-class usage of ephemeral
//! volume claims.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use k_api_types::Resource;
use k_api_types::core::v1::{
    ConfigMap, Container, PersistentVolumeClaim, Pod, ReplicationController, ResourceQuota, ResourceQuotaStatus,
    Secret, Service,
};
use k_api_types::quantity::{Quantity, QuantityFormat, ResourceList};
use k_runtime::clock::{Clock, SystemClock};
use k_runtime::controller::{Action, Context, Controller, Reconciler};
use k_runtime::informer::InformerFactory;
use k_runtime::manager::Manager;
use k_runtime::reflector::{Store, key_of};
use k_store::api::ListOptions;
use k_store::{Api, ObjectApi, StoreError};

use crate::util::phase;

/// How often every quota is recomputed even without a change
/// (kube-controller-manager's `--resource-quota-sync-period` default).
pub const DEFAULT_RESYNC_PERIOD: Duration = Duration::from_secs(5 * 60);

/// The suffix of per-storage-class quota resources.
const STORAGE_CLASS_SUFFIX: &str = ".storageclass.storage.k8s.io/";

/// Why a reconcile failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A read or write of the object API failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The controller's options.
#[derive(Clone, Debug)]
pub struct ResourceQuotaOptions {
    /// How often every quota is recomputed without a change.
    pub resync_period: Duration,
}

impl Default for ResourceQuotaOptions {
    /// A [`DEFAULT_RESYNC_PERIOD`] resync.
    fn default() -> Self {
        ResourceQuotaOptions { resync_period: DEFAULT_RESYNC_PERIOD }
    }
}

// ---------------------------------------------------------------------------
// Scopes
// ---------------------------------------------------------------------------

/// One scope requirement: from `spec.scopes` (operator `Exists`) or from
/// `spec.scopeSelector`.
#[derive(Clone, Debug)]
struct ScopeRequirement {
    scope: String,
    operator: String,
    values: Vec<String>,
}

impl ScopeRequirement {
    /// Whether `value` (the object's value for the scope, `None` when the
    /// scope does not apply) satisfies a `PriorityClass`-like requirement.
    fn matches_value(&self, value: &str) -> bool {
        match self.operator.as_str() {
            "In" => self.values.iter().any(|v| v == value),
            "NotIn" => !self.values.iter().any(|v| v == value),
            "DoesNotExist" => false,
            // Exists, and anything unknown (refused by validation).
            _ => true,
        }
    }

    /// For a yes/no scope: the requirement holds when the object is in the
    /// scope (`Exists`, the usual form) or not (`DoesNotExist`).
    fn matches_flag(&self, in_scope: bool) -> bool {
        match self.operator.as_str() {
            "DoesNotExist" => !in_scope,
            _ => in_scope,
        }
    }
}

/// The scope requirements of a quota.
fn scope_requirements(quota: &ResourceQuota) -> Vec<ScopeRequirement> {
    let mut requirements: Vec<ScopeRequirement> = quota
        .spec
        .scopes
        .iter()
        .map(|s| ScopeRequirement { scope: s.clone(), operator: "Exists".into(), values: Vec::new() })
        .collect();
    if let Some(selector) = &quota.spec.scope_selector {
        requirements.extend(selector.match_expressions.iter().map(|e| ScopeRequirement {
            scope: e.scope_name.clone(),
            operator: e.operator.clone(),
            values: e.values.clone(),
        }));
    }
    requirements
}

/// Whether any container has a CPU or memory request or limit.
fn has_compute_resources(pod: &Pod) -> bool {
    let set = |list: &ResourceList| ["cpu", "memory"].iter().any(|r| list.get(*r).is_some_and(|q| !q.is_zero()));
    let pod_level = pod.spec.resources.as_ref().is_some_and(|r| set(&r.requests) || set(&r.limits));
    pod_level
        || pod
            .spec
            .containers
            .iter()
            .chain(&pod.spec.init_containers)
            .filter_map(|c| c.resources.as_ref())
            .any(|r| set(&r.requests) || set(&r.limits))
}

/// Whether the pod's affinity names other namespaces.
fn cross_namespace_affinity(pod: &Pod) -> bool {
    let Some(affinity) = pod.spec.affinity.as_deref() else { return false };
    let crosses =
        |t: &k_api_types::core::v1::PodAffinityTerm| !t.namespaces.is_empty() || t.namespace_selector.is_some();
    let affinity_terms = affinity.pod_affinity.iter().flat_map(|a| {
        a.required_during_scheduling_ignored_during_execution
            .iter()
            .chain(a.preferred_during_scheduling_ignored_during_execution.iter().map(|w| &w.pod_affinity_term))
    });
    let anti_terms = affinity.pod_anti_affinity.iter().flat_map(|a| {
        a.required_during_scheduling_ignored_during_execution
            .iter()
            .chain(a.preferred_during_scheduling_ignored_during_execution.iter().map(|w| &w.pod_affinity_term))
    });
    affinity_terms.chain(anti_terms).any(crosses)
}

/// Whether a pod satisfies every scope requirement.
fn pod_matches_scopes(pod: &Pod, scopes: &[ScopeRequirement]) -> bool {
    scopes.iter().all(|s| {
        let terminating = pod.spec.active_deadline_seconds.is_some_and(|d| d >= 0);
        match s.scope.as_str() {
            "Terminating" => s.matches_flag(terminating),
            "NotTerminating" => s.matches_flag(!terminating),
            "BestEffort" => s.matches_flag(!has_compute_resources(pod)),
            "NotBestEffort" => s.matches_flag(has_compute_resources(pod)),
            "PriorityClass" => s.matches_value(pod.spec.priority_class_name.as_deref().unwrap_or_default()),
            "CrossNamespacePodAffinity" => s.matches_flag(cross_namespace_affinity(pod)),
            _ => false,
        }
    })
}

/// Whether a claim satisfies every scope requirement (only
/// `VolumeAttributesClass` applies to claims).
fn claim_matches_scopes(claim: &PersistentVolumeClaim, scopes: &[ScopeRequirement]) -> bool {
    scopes.iter().all(|s| match s.scope.as_str() {
        "VolumeAttributesClass" => match claim.spec.volume_attributes_class_name.as_deref() {
            Some(class) if !class.is_empty() => s.matches_value(class),
            _ => s.operator == "DoesNotExist",
        },
        _ => false,
    })
}

// ---------------------------------------------------------------------------
// Usage
// ---------------------------------------------------------------------------

fn one() -> Quantity {
    Quantity::from_value(1, QuantityFormat::DecimalSI)
}

fn count(n: usize) -> Quantity {
    Quantity::from_value(i64::try_from(n).unwrap_or(i64::MAX), QuantityFormat::DecimalSI)
}

/// Adds every entry of `b` into `a`.
fn add_into(a: &mut ResourceList, b: &ResourceList) {
    for (k, q) in b {
        match a.get_mut(k) {
            Some(existing) => *existing += q,
            None => {
                a.insert(k.clone(), q.clone());
            }
        }
    }
}

/// Raises every entry of `a` to at least the one of `b`.
fn max_into(a: &mut ResourceList, b: &ResourceList) {
    for (k, q) in b {
        match a.get_mut(k) {
            Some(existing) if *existing >= *q => {}
            Some(existing) => *existing = q.clone(),
            None => {
                a.insert(k.clone(), q.clone());
            }
        }
    }
}

fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// A pod's requests (or limits, with `limits`) as Kubernetes computes
/// them: app containers and sidecars summed, at least each init container
/// (with the sidecars started before it), pod-level resources overriding
/// where set, plus the overhead.
fn pod_resources(pod: &Pod, limits: bool) -> ResourceList {
    let of = |c: &Container| -> ResourceList {
        c.resources.as_ref().map(|r| if limits { r.limits.clone() } else { r.requests.clone() }).unwrap_or_default()
    };
    let mut total = ResourceList::new();
    for c in &pod.spec.containers {
        add_into(&mut total, &of(c));
    }
    let mut sidecars = ResourceList::new();
    let mut init_peak = ResourceList::new();
    for c in &pod.spec.init_containers {
        let own = of(c);
        let mut running = own.clone();
        if is_sidecar(c) {
            add_into(&mut total, &own);
            add_into(&mut sidecars, &own);
            running = sidecars.clone();
        } else {
            add_into(&mut running, &sidecars);
        }
        max_into(&mut init_peak, &running);
    }
    max_into(&mut total, &init_peak);
    if let Some(pod_level) = &pod.spec.resources {
        let list = if limits { &pod_level.limits } else { &pod_level.requests };
        for r in ["cpu", "memory"] {
            if let Some(q) = list.get(r) {
                total.insert(r.to_owned(), q.clone());
            }
        }
    }
    // The overhead adds to every request, and to the limits that are set.
    let overhead: ResourceList = pod
        .spec
        .overhead
        .iter()
        .filter(|(k, _)| !limits || total.contains_key(*k))
        .map(|(k, q)| (k.clone(), q.clone()))
        .collect();
    add_into(&mut total, &overhead);
    total
}

/// Whether the pod still counts against compute quota at `now`: not
/// terminal, and not past its deletion grace period.
fn counts_for_quota(pod: &Pod, now: chrono::DateTime<chrono::Utc>) -> bool {
    if matches!(phase(pod), "Succeeded" | "Failed") {
        return false;
    }
    if let (Some(deleted), Some(grace)) = (&pod.metadata.deletion_timestamp, pod.metadata.deletion_grace_period_seconds)
    {
        return now <= deleted.0 + chrono::Duration::seconds(grace);
    }
    true
}

/// What one pod uses, by quota resource name.
fn pod_usage(pod: &Pod, now: chrono::DateTime<chrono::Utc>) -> ResourceList {
    let mut usage = ResourceList::new();
    usage.insert("count/pods".into(), one());
    if !counts_for_quota(pod, now) {
        return usage;
    }
    usage.insert("pods".into(), one());
    for (r, q) in pod_resources(pod, false) {
        if matches!(r.as_str(), "cpu" | "memory" | "ephemeral-storage") {
            usage.insert(r.clone(), q.clone());
        }
        usage.insert(format!("requests.{r}"), q);
    }
    for (r, q) in pod_resources(pod, true) {
        usage.insert(format!("limits.{r}"), q);
    }
    usage
}

/// What one service uses.
fn service_usage(service: &Service) -> ResourceList {
    let mut usage = ResourceList::new();
    usage.insert("services".into(), one());
    usage.insert("count/services".into(), one());
    let type_ = service.spec.type_.as_deref().unwrap_or("ClusterIP");
    let node_ports = match type_ {
        "NodePort" => service.spec.ports.len(),
        "LoadBalancer" if service.spec.allocate_load_balancer_node_ports == Some(false) => {
            service.spec.ports.iter().filter(|p| p.node_port.is_some_and(|n| n != 0)).count()
        }
        "LoadBalancer" => service.spec.ports.len(),
        _ => 0,
    };
    usage.insert("services.nodeports".into(), count(node_ports));
    usage.insert("services.loadbalancers".into(), count(usize::from(type_ == "LoadBalancer")));
    usage
}

/// What one claim uses.
fn claim_usage(claim: &PersistentVolumeClaim) -> ResourceList {
    let mut usage = ResourceList::new();
    usage.insert("persistentvolumeclaims".into(), one());
    usage.insert("count/persistentvolumeclaims".into(), one());
    let storage = claim.spec.resources.requests.get("storage").cloned().unwrap_or_default();
    usage.insert("requests.storage".into(), storage.clone());
    if let Some(class) = claim.spec.storage_class_name.as_deref().filter(|c| !c.is_empty()) {
        usage.insert(format!("{class}{STORAGE_CLASS_SUFFIX}requests.storage"), storage);
        usage.insert(format!("{class}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"), one());
    }
    usage
}

/// The object-count usage of one object of a plain kind.
fn object_usage(plural: &str) -> ResourceList {
    let mut usage = ResourceList::new();
    usage.insert(plural.to_owned(), one());
    usage.insert(format!("count/{plural}"), one());
    usage
}

/// The core-group kinds whose usage comes from the informer caches.
const CACHED: &[&str] = &[
    "pods",
    "services",
    "persistentvolumeclaims",
    "configmaps",
    "secrets",
    "replicationcontrollers",
    "resourcequotas",
];

/// `(plural, group)` of a `count/<plural>.<group>` resource name.
fn count_target(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix("count/")?;
    Some(match rest.split_once('.') {
        Some((plural, group)) => (plural, group),
        None => (rest, ""),
    })
}

// ---------------------------------------------------------------------------
// The reconciler
// ---------------------------------------------------------------------------

/// The ResourceQuota controller's reconciler (see the
/// [module documentation](self)).
#[derive(Debug)]
pub struct ResourceQuotaReconciler {
    api: Arc<dyn ObjectApi>,
    informers: Arc<InformerFactory>,
    clock: Arc<dyn Clock>,
    options: ResourceQuotaOptions,
}

/// Maps an object to the keys of the quotas of its namespace.
fn quotas_of_namespace<O: Resource>(informers: Arc<InformerFactory>) -> impl Fn(&O) -> Vec<String> + Send + Sync {
    let quotas: OnceLock<Store<ResourceQuota>> = OnceLock::new();
    move |object: &O| {
        let quotas = quotas.get_or_init(|| informers.informer::<ResourceQuota>(None, None, None).store());
        quotas.in_namespace(&object.metadata().namespace).iter().map(|q| key_of(&**q)).collect()
    }
}

impl ResourceQuotaReconciler {
    /// A reconciler reading the namespace's objects from `informers`'
    /// caches (other kinds through `api`) and telling time (deletion grace
    /// periods, resyncs) by `clock`.
    pub fn new(api: Arc<dyn ObjectApi>, informers: Arc<InformerFactory>, clock: Arc<dyn Clock>) -> Self {
        ResourceQuotaReconciler { api, informers, clock, options: ResourceQuotaOptions::default() }
    }

    /// The same reconciler with `options`.
    #[must_use]
    pub fn with_options(mut self, options: ResourceQuotaOptions) -> Self {
        self.options = options;
        self
    }

    /// Its controller: ResourceQuotas, woken by the pods, services, claims,
    /// config maps, secrets, replication controllers and other quotas of
    /// their namespace (run it with this reconciler).
    pub fn controller(&self) -> Controller<ResourceQuota> {
        let i = &self.informers;
        Controller::<ResourceQuota>::new(i.clone(), None)
            .named("resourcequota")
            .watches::<Pod>(None, quotas_of_namespace(i.clone()))
            .watches::<Service>(None, quotas_of_namespace(i.clone()))
            .watches::<PersistentVolumeClaim>(None, quotas_of_namespace(i.clone()))
            .watches::<ConfigMap>(None, quotas_of_namespace(i.clone()))
            .watches::<Secret>(None, quotas_of_namespace(i.clone()))
            .watches::<ReplicationController>(None, quotas_of_namespace(i.clone()))
            .watches::<ResourceQuota>(None, quotas_of_namespace(i.clone()))
            .clock(self.clock.clone())
            .workers(5)
    }

    /// The synced cache of `K` in `namespace`.
    async fn cached<K: Resource>(&self, namespace: &str) -> Vec<Arc<K>> {
        let store = self.informers.informer::<K>(None, None, None).store();
        store.wait_until_synced().await;
        store.in_namespace(namespace)
    }

    /// How many objects of `count/<plural>.<group>` the namespace holds
    /// (`None` when the resource is not served).
    async fn count_listed(&self, namespace: &str, plural: &str, group: &str) -> Result<Option<usize>, Error> {
        let Some(resource) =
            self.api.resources().into_iter().find(|r| r.namespaced && r.plural == plural && r.group == group)
        else {
            return Ok(None);
        };
        match self.api.list(&resource.gvr(), Some(namespace), &ListOptions::default()).await {
            Ok(page) => Ok(Some(page.items.len())),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The usage of every resource of `hard` in `quota`'s namespace.
    async fn usage(&self, quota: &ResourceQuota, hard: &ResourceList) -> Result<ResourceList, Error> {
        let namespace = &quota.metadata.namespace;
        let scopes = scope_requirements(quota);
        let now = self.clock.wall();
        let mut total = ResourceList::new();
        for pod in self.cached::<Pod>(namespace).await {
            if pod_matches_scopes(&pod, &scopes) {
                add_into(&mut total, &pod_usage(&pod, now));
            }
        }
        for claim in self.cached::<PersistentVolumeClaim>(namespace).await {
            if claim_matches_scopes(&claim, &scopes) {
                add_into(&mut total, &claim_usage(&claim));
            }
        }
        // Other objects match no scope.
        if scopes.is_empty() {
            for service in self.cached::<Service>(namespace).await {
                add_into(&mut total, &service_usage(&service));
            }
            let counts = [
                ("configmaps", self.cached::<ConfigMap>(namespace).await.len()),
                ("secrets", self.cached::<Secret>(namespace).await.len()),
                ("replicationcontrollers", self.cached::<ReplicationController>(namespace).await.len()),
                ("resourcequotas", self.cached::<ResourceQuota>(namespace).await.len()),
            ];
            for (plural, n) in counts {
                for _ in 0..n {
                    add_into(&mut total, &object_usage(plural));
                }
            }
        }
        let mut used = ResourceList::new();
        for name in hard.keys() {
            let value = match (total.get(name), count_target(name)) {
                (Some(q), _) => q.clone(),
                (None, Some((plural, group)))
                    if scopes.is_empty() && !(group.is_empty() && CACHED.contains(&plural)) =>
                {
                    count(self.count_listed(namespace, plural, group).await?.unwrap_or(0))
                }
                _ => Quantity::default(),
            };
            used.insert(name.clone(), value);
        }
        Ok(used)
    }
}

#[async_trait::async_trait]
impl Reconciler<ResourceQuota> for ResourceQuotaReconciler {
    type Error = Error;

    async fn reconcile(&self, quota: Arc<ResourceQuota>, ctx: &Context) -> Result<Action, Error> {
        let hard = quota.spec.hard.clone();
        let used = self.usage(&quota, &hard).await?;
        let status = ResourceQuotaStatus { hard, used };
        let unchanged = quota.status.as_ref().is_some_and(|s| {
            // Quantities compare by value; the written form must match too.
            let same = |a: &ResourceList, b: &ResourceList| {
                a.len() == b.len()
                    && a.iter()
                        .zip(b.iter())
                        .all(|((ka, qa), (kb, qb))| ka == kb && qa == qb && qa.to_string() == qb.to_string())
            };
            same(&s.hard, &status.hard) && same(&s.used, &status.used)
        });
        if !unchanged {
            let quotas: Api<ResourceQuota> = Api::with_client(ctx.api.clone(), Some(quota.metadata.namespace.clone()));
            match quotas.guaranteed_update_status(&quota.metadata.name, |q| q.status = Some(status.clone())).await {
                Err(e) if e.is_not_found() => return Ok(Action::AwaitChange),
                other => {
                    other?;
                }
            }
        }
        Ok(Action::RequeueAfter(self.options.resync_period))
    }
}

/// Adds the ResourceQuota controller to `manager` (system clock, default
/// options).
pub fn add_resource_quotas(manager: &mut Manager) {
    let reconciler = ResourceQuotaReconciler::new(manager.api(), manager.informers(), Arc::new(SystemClock));
    manager.add(reconciler.controller(), reconciler);
}

#[cfg(test)]
mod tests {
    use k_api_types::SortedMap;
    use k_api_types::apps::v1::{Deployment, DeploymentSpec};
    use k_api_types::core::v1::{
        PersistentVolumeClaimSpec, PodSpec, PodStatus, PodTemplateSpec, ResourceQuotaSpec, ResourceRequirements,
        ScopeSelector, ScopedResourceSelectorRequirement, ServicePort, ServiceSpec, VolumeResourceRequirements,
    };
    use k_api_types::meta::{DeleteOptions, LabelSelector, ObjectMeta};
    use k_runtime::testing::TestEnv;
    use k_runtime::watcher::Config;

    use super::*;

    const NS: &str = "default";

    fn q(s: &str) -> Quantity {
        s.parse().unwrap()
    }

    fn list(pairs: &[(&str, &str)]) -> ResourceList {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), q(v))).collect()
    }

    fn container(name: &str, requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Container {
        Container {
            name: name.into(),
            image: Some("nginx".into()),
            resources: Some(ResourceRequirements {
                requests: list(requests),
                limits: list(limits),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    struct Fixture {
        env: TestEnv,
        informers: Arc<InformerFactory>,
        ctx: Context,
        quotas: Api<ResourceQuota>,
        pods: Api<Pod>,
    }

    impl Fixture {
        fn new() -> Self {
            let env = TestEnv::new();
            let informers = Arc::new(InformerFactory::new(env.api.clone(), Config::default()));
            let ctx = Context {
                controller: Arc::from("resourcequota"),
                api: env.api.clone(),
                clock: Arc::new(env.clock.clone()),
                retries: 0,
            };
            let quotas = Api::namespaced(env.store.clone(), NS);
            let pods = Api::namespaced(env.store.clone(), NS);
            Fixture { env, informers, ctx, quotas, pods }
        }

        fn reconciler(&self) -> ResourceQuotaReconciler {
            ResourceQuotaReconciler::new(self.env.api.clone(), self.informers.clone(), Arc::new(self.env.clock.clone()))
        }

        async fn quota(&self, name: &str, hard: &[(&str, &str)], scopes: &[&str], selector: Option<ScopeSelector>) {
            let quota = ResourceQuota {
                metadata: ObjectMeta::namespaced(NS, name),
                spec: ResourceQuotaSpec {
                    hard: list(hard),
                    scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                    scope_selector: selector,
                },
                ..Default::default()
            };
            self.quotas.create(&quota).await.unwrap();
        }

        async fn pod(&self, name: &str, spec: PodSpec, phase: Option<&str>) {
            let mut pod = self
                .pods
                .create(&Pod { metadata: ObjectMeta::namespaced(NS, name), spec, ..Default::default() })
                .await
                .unwrap();
            if let Some(phase) = phase {
                pod.status = Some(PodStatus { phase: Some(phase.into()), ..Default::default() });
                self.pods.update_status(&pod).await.unwrap();
            }
        }

        /// Waits until every cache the reconciler reads shows `n` pods.
        async fn pods_cached(&self, n: usize) {
            let store = self.informers.informer::<Pod>(None, None, None).store();
            let stored: Vec<(String, String)> = self
                .pods
                .list(&ListOptions::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|p| (p.metadata.uid, p.metadata.resource_version))
                .collect();
            assert_eq!(stored.len(), n);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            loop {
                let cached = store.state();
                if cached.len() == n
                    && stored.iter().all(|(uid, rv)| {
                        cached.iter().any(|p| &p.metadata.uid == uid && &p.metadata.resource_version == rv)
                    })
                {
                    return;
                }
                assert!(tokio::time::Instant::now() < deadline, "the pod cache never caught up");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }

        /// Waits until the caches of `K` show `n` objects.
        async fn cached<K: Resource>(&self, n: usize) {
            let store = self.informers.informer::<K>(None, None, None).store();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            while store.in_namespace(NS).len() != n {
                assert!(tokio::time::Instant::now() < deadline, "the {} cache never caught up", K::INFO.plural);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }

        async fn reconcile(&self, r: &ResourceQuotaReconciler, name: &str) -> ResourceQuota {
            let quota = self.quotas.get(name).await.unwrap();
            let action = r.reconcile(Arc::new(quota), &self.ctx).await.unwrap();
            assert_eq!(action, Action::RequeueAfter(DEFAULT_RESYNC_PERIOD));
            self.quotas.get(name).await.unwrap()
        }
    }

    fn used(quota: &ResourceQuota) -> SortedMap<String, String> {
        quota.status.as_ref().unwrap().used.iter().map(|(k, v)| (k.clone(), v.to_string())).collect()
    }

    fn expect(pairs: &[(&str, &str)]) -> SortedMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn pod_resources_follow_kubernetes_init_container_rules() {
        let pod = Pod {
            spec: PodSpec {
                init_containers: vec![
                    container("init", &[("cpu", "1"), ("memory", "64Mi")], &[("cpu", "2")]),
                    Container {
                        restart_policy: Some("Always".into()),
                        ..container("sidecar", &[("cpu", "100m"), ("memory", "32Mi")], &[])
                    },
                    container("late-init", &[("cpu", "950m")], &[]),
                ],
                containers: vec![
                    container("a", &[("cpu", "200m"), ("memory", "100Mi")], &[("cpu", "300m")]),
                    container("b", &[("cpu", "200m"), ("memory", "100Mi")], &[]),
                ],
                overhead: list(&[("cpu", "10m"), ("memory", "1Mi")]),
                ..Default::default()
            },
            ..Default::default()
        };
        let requests = pod_resources(&pod, false);
        // App 400m + sidecar 100m = 500m; init 1; late init 950m + sidecar
        // 100m = 1050m; plus 10m overhead.
        assert_eq!(requests["cpu"], q("1060m"));
        assert_eq!(requests["memory"], q("233Mi"));
        let limits = pod_resources(&pod, true);
        assert_eq!(limits["cpu"], q("2010m"));
        assert!(!limits.contains_key("memory"), "overhead only adds to limits that are set");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn counts_and_sums_usage_excluding_terminal_pods() {
        let f = Fixture::new();
        let r = f.reconciler();
        f.pod(
            "web",
            PodSpec {
                containers: vec![container(
                    "c",
                    &[("cpu", "100m"), ("memory", "128Mi")],
                    &[("cpu", "200m"), ("memory", "256Mi")],
                )],
                ..Default::default()
            },
            Some("Running"),
        )
        .await;
        f.pod(
            "batch",
            PodSpec {
                init_containers: vec![container("init", &[("cpu", "500m")], &[])],
                containers: vec![
                    container("a", &[("cpu", "100m"), ("memory", "64Mi")], &[]),
                    container("b", &[("cpu", "100m"), ("memory", "64Mi")], &[]),
                ],
                ..Default::default()
            },
            None,
        )
        .await;
        f.pod(
            "done",
            PodSpec { containers: vec![container("c", &[("cpu", "1")], &[])], ..Default::default() },
            Some("Succeeded"),
        )
        .await;
        let services: Api<Service> = Api::namespaced(f.env.store.clone(), NS);
        let port = |p: i32| ServicePort { name: Some(format!("p{p}")), port: p, ..Default::default() };
        for (name, type_) in [("a", "ClusterIP"), ("b", "NodePort"), ("c", "LoadBalancer")] {
            let service = Service {
                metadata: ObjectMeta::namespaced(NS, name),
                spec: ServiceSpec { type_: Some(type_.into()), ports: vec![port(80), port(443)], ..Default::default() },
                ..Default::default()
            };
            services.create(&service).await.unwrap();
        }
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(f.env.store.clone(), NS);
        for (name, class, size) in [("data", Some("gold"), "10Gi"), ("logs", None, "1Gi")] {
            let claim = PersistentVolumeClaim {
                metadata: ObjectMeta::namespaced(NS, name),
                spec: PersistentVolumeClaimSpec {
                    access_modes: vec!["ReadWriteOnce".into()],
                    storage_class_name: class.map(str::to_owned),
                    resources: VolumeResourceRequirements {
                        requests: list(&[("storage", size)]),
                        ..Default::default()
                    },
                    ..Default::default()
                },
                ..Default::default()
            };
            claims.create(&claim).await.unwrap();
        }
        let maps: Api<ConfigMap> = Api::namespaced(f.env.store.clone(), NS);
        maps.create(&ConfigMap { metadata: ObjectMeta::namespaced(NS, "settings"), ..Default::default() })
            .await
            .unwrap();
        let deployments: Api<Deployment> = Api::namespaced(f.env.store.clone(), NS);
        let template = PodTemplateSpec {
            metadata: ObjectMeta {
                labels: [("app".to_owned(), "d".to_owned())].into_iter().collect(),
                ..Default::default()
            },
            spec: PodSpec { containers: vec![container("c", &[], &[])], ..Default::default() },
        };
        deployments
            .create(&Deployment {
                metadata: ObjectMeta::namespaced(NS, "d"),
                spec: DeploymentSpec {
                    selector: Some(LabelSelector::from_labels([("app", "d")])),
                    template,
                    ..Default::default()
                },
                ..Default::default()
            })
            .await
            .unwrap();
        f.quota(
            "compute",
            &[
                ("pods", "10"),
                ("count/pods", "10"),
                ("requests.cpu", "4"),
                ("cpu", "4"),
                ("requests.memory", "1Gi"),
                ("limits.cpu", "4"),
                ("limits.memory", "1Gi"),
                ("requests.ephemeral-storage", "1Gi"),
            ],
            &[],
            None,
        )
        .await;
        f.quota(
            "objects",
            &[
                ("services", "10"),
                ("services.nodeports", "10"),
                ("services.loadbalancers", "10"),
                ("persistentvolumeclaims", "10"),
                ("requests.storage", "100Gi"),
                ("gold.storageclass.storage.k8s.io/requests.storage", "50Gi"),
                ("gold.storageclass.storage.k8s.io/persistentvolumeclaims", "5"),
                ("configmaps", "10"),
                ("count/configmaps", "10"),
                ("count/deployments.apps", "10"),
                ("count/jobs.batch", "10"),
                ("resourcequotas", "5"),
                ("secrets", "10"),
            ],
            &[],
            None,
        )
        .await;
        f.pods_cached(3).await;
        f.cached::<Service>(3).await;
        f.cached::<PersistentVolumeClaim>(2).await;
        f.cached::<ConfigMap>(1).await;
        f.cached::<ResourceQuota>(2).await;

        let compute = f.reconcile(&r, "compute").await;
        assert_eq!(compute.status.as_ref().unwrap().hard, compute.spec.hard);
        assert_eq!(
            used(&compute),
            expect(&[
                ("count/pods", "3"),
                ("cpu", "600m"),
                ("limits.cpu", "200m"),
                ("limits.memory", "256Mi"),
                ("pods", "2"),
                ("requests.cpu", "600m"),
                ("requests.ephemeral-storage", "0"),
                ("requests.memory", "256Mi"),
            ])
        );
        let objects = f.reconcile(&r, "objects").await;
        assert_eq!(
            used(&objects),
            expect(&[
                ("configmaps", "1"),
                ("count/configmaps", "1"),
                ("count/deployments.apps", "1"),
                ("count/jobs.batch", "0"),
                ("gold.storageclass.storage.k8s.io/persistentvolumeclaims", "1"),
                ("gold.storageclass.storage.k8s.io/requests.storage", "10Gi"),
                ("persistentvolumeclaims", "2"),
                ("requests.storage", "11Gi"),
                ("resourcequotas", "2"),
                ("secrets", "0"),
                ("services", "3"),
                ("services.loadbalancers", "1"),
                ("services.nodeports", "4"),
            ])
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scopes_select_the_pods_counted() {
        let f = Fixture::new();
        let r = f.reconciler();
        let compute = |cpu: &str| vec![container("c", &[("cpu", cpu)], &[])];
        f.pod(
            "job",
            PodSpec { containers: compute("1"), active_deadline_seconds: Some(60), ..Default::default() },
            Some("Running"),
        )
        .await;
        f.pod(
            "critical",
            PodSpec { containers: compute("2"), priority_class_name: Some("high".into()), ..Default::default() },
            Some("Running"),
        )
        .await;
        f.pod("best-effort", PodSpec { containers: vec![container("c", &[], &[])], ..Default::default() }, None).await;
        let hard = [("pods", "10"), ("requests.cpu", "10")];
        f.quota("terminating", &hard, &["Terminating"], None).await;
        f.quota("long-running", &hard, &["NotTerminating"], None).await;
        f.quota("best-effort", &[("pods", "10")], &["BestEffort"], None).await;
        f.quota("not-best-effort", &hard, &["NotBestEffort", "NotTerminating"], None).await;
        let high = ScopeSelector {
            match_expressions: vec![ScopedResourceSelectorRequirement {
                scope_name: "PriorityClass".into(),
                operator: "In".into(),
                values: vec!["high".into()],
            }],
        };
        f.quota("high", &hard, &[], Some(high)).await;
        f.pods_cached(3).await;
        let usage = |pods: &str, cpu: &str| expect(&[("pods", pods), ("requests.cpu", cpu)]);
        assert_eq!(used(&f.reconcile(&r, "terminating").await), usage("1", "1"));
        assert_eq!(used(&f.reconcile(&r, "long-running").await), usage("2", "2"));
        assert_eq!(used(&f.reconcile(&r, "best-effort").await), expect(&[("pods", "1")]));
        assert_eq!(used(&f.reconcile(&r, "not-best-effort").await), usage("1", "2"));
        assert_eq!(used(&f.reconcile(&r, "high").await), usage("1", "2"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn usage_drops_after_deletion_and_status_is_written_only_when_changed() {
        let f = Fixture::new();
        let r = f.reconciler();
        let spec = || PodSpec { containers: vec![container("c", &[("memory", "1Gi")], &[])], ..Default::default() };
        f.pod("a", spec(), Some("Running")).await;
        f.pod("b", spec(), Some("Running")).await;
        f.quota("q", &[("pods", "5"), ("requests.memory", "8Gi")], &[], None).await;
        f.pods_cached(2).await;
        let first = f.reconcile(&r, "q").await;
        assert_eq!(used(&first), expect(&[("pods", "2"), ("requests.memory", "2Gi")]));
        let again = f.reconcile(&r, "q").await;
        assert_eq!(again.metadata.resource_version, first.metadata.resource_version, "nothing changed: no write");

        // Unbound pods are deleted at once.
        f.pods.delete("a", &DeleteOptions::default()).await.unwrap();
        f.pods_cached(1).await;
        let after = f.reconcile(&r, "q").await;
        assert_eq!(used(&after), expect(&[("pods", "1"), ("requests.memory", "1Gi")]));

        // A pod past its deletion grace period no longer counts.
        let mut b = f.pods.get("b").await.unwrap();
        b.metadata.finalizers = vec!["example.com/hold".into()];
        f.pods.update(&b).await.unwrap();
        f.pods.delete("b", &DeleteOptions { grace_period_seconds: Some(30), ..Default::default() }).await.unwrap();
        f.pods_cached(1).await;
        let deleting = f.pods.get("b").await.unwrap();
        assert!(deleting.metadata.deletion_timestamp.is_some());
        let grace = deleting.metadata.deletion_grace_period_seconds.unwrap_or(0);
        let deleted_at = deleting.metadata.deletion_timestamp.as_ref().unwrap().0;
        let wait =
            (deleted_at + chrono::Duration::seconds(grace + 1) - f.env.clock.wall()).to_std().unwrap_or_default();
        f.env.clock.advance(wait);
        let gone = f.reconcile(&r, "q").await;
        assert_eq!(used(&gone), expect(&[("pods", "0"), ("requests.memory", "0")]));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_running_manager_recomputes_when_pods_change() {
        let env = TestEnv::new();
        let mut manager = env.manager();
        let reconciler = ResourceQuotaReconciler::new(manager.api(), manager.informers(), Arc::new(env.clock.clone()));
        manager.add(reconciler.controller(), reconciler);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(manager.run(async {
            let _ = stopped.await;
        }));
        let quotas: Api<ResourceQuota> = Api::namespaced(env.store.clone(), NS);
        let pods: Api<Pod> = Api::namespaced(env.store.clone(), NS);
        quotas
            .create(&ResourceQuota {
                metadata: ObjectMeta::namespaced(NS, "q"),
                spec: ResourceQuotaSpec { hard: list(&[("pods", "5")]), ..Default::default() },
                ..Default::default()
            })
            .await
            .unwrap();
        let pods_used = |n: &'static str| {
            move |q: &ResourceQuota| q.status.as_ref().is_some_and(|s| s.used.get("pods") == Some(&q_(n)))
        };
        fn q_(s: &str) -> Quantity {
            s.parse().unwrap()
        }
        env.wait_for(NS, "q", pods_used("0"), Duration::from_secs(10)).await.unwrap();
        let pod = Pod {
            metadata: ObjectMeta::namespaced(NS, "p"),
            spec: PodSpec { containers: vec![container("c", &[], &[])], ..Default::default() },
            ..Default::default()
        };
        pods.create(&pod).await.unwrap();
        env.wait_for(NS, "q", pods_used("1"), Duration::from_secs(10)).await.unwrap();
        pods.delete("p", &DeleteOptions::default()).await.unwrap();
        env.wait_for(NS, "q", pods_used("0"), Duration::from_secs(10)).await.unwrap();
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(10), run).await.unwrap().unwrap();
    }
}
