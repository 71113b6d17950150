//! The Endpoints and EndpointSlice controllers: the backends of every
//! Service with a selector, from the pods it selects.
//!
//! For each Service with a selector (not `ExternalName`), the pods of its
//! namespace that match the selector, have an IP and are not terminal give
//! one address each:
//!
//! - **Endpoints** (`v1`, named like the Service): ready pods (condition
//!   `Ready` `True`) in `addresses`, others in `notReadyAddresses` (all in
//!   `addresses` with `publishNotReadyAddresses`); terminating pods are left
//!   out unless `publishNotReadyAddresses`. Each service port resolves per
//!   pod (a number, or a named container port; a pod without the name is
//!   left out of that port), and addresses with the same resolved ports
//!   share a subset. The object carries the Service's labels and
//!   `endpoints.kubernetes.io/managed-by: endpoint-controller`, is written
//!   only when its subsets or labels change (stamped
//!   `endpoints.kubernetes.io/last-change-trigger-time`), holds at most
//!   1000 addresses (ready first; `endpoints.kubernetes.io/over-capacity:
//!   truncated` beyond) and is deleted with its Service. Services without
//!   a selector are left alone: their Endpoints are written by hand.
//! - **EndpointSlices** (`discovery.k8s.io/v1`): the same pods, terminating
//!   ones included (conditions `ready`, `serving`, `terminating`), per
//!   address type (`IPv4`, `IPv6`) and resolved port set, at most
//!   [`MAX_ENDPOINTS_PER_SLICE`] endpoints per slice, named
//!   `<service>-<random>`, labelled `kubernetes.io/service-name` and
//!   `endpointslice.kubernetes.io/managed-by:
//!   endpointslice-controller.k8s.io`, owned by the Service. Endpoints keep
//!   their slice while they last; new ones fill slices with room, then new
//!   slices; emptied and stale slices are deleted; a Service without
//!   endpoints keeps one empty placeholder slice. Slices this controller
//!   wrote are remembered until the cache shows them, so a stale cache
//!   never duplicates a slice.
//!
//! Both controllers take the Service as their primary kind and map pod
//! changes (old and new labels) to the Services selecting them. As deleted
//! Services are not reconciled, a small companion controller over the
//! written kind deletes what a Service leaves: the slices and Endpoints
//! this controller wrote, whenever it finds them without their Service
//! (at start too), and hand-written Endpoints when their Service is
//! deleted, as Kubernetes does (there is no garbage collector yet; slices
//! also carry the ownerReference for one).
//!
//! ```no_run
//! # fn demo(api: std::sync::Arc<dyn k_store::ObjectApi>) {
//! let mut manager = k_runtime::manager::Manager::new(api);
//! k_controllers::endpoints::add_endpoints(&mut manager);
//! k_controllers::endpoints::add_endpoint_slices(&mut manager);
//! # }
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use k_api_types::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service, ServicePort,
};
use k_api_types::discovery::v1::{
    Endpoint, EndpointConditions, EndpointPort as SlicePort, EndpointSlice, LABEL_MANAGED_BY, LABEL_SERVICE_NAME,
};
use k_api_types::intstr::IntOrString;
use k_api_types::meta::{DeleteOptions, Preconditions};
use k_api_types::{ApplyDefaults, Resource, SortedMap};
use k_runtime::clock::{Clock, SystemClock};
use k_runtime::controller::{Action, Context, Controller, Reconciler};
use k_runtime::informer::InformerFactory;
use k_runtime::manager::Manager;
use k_runtime::owner::{owner_reference, set_owner_reference};
use k_runtime::reflector::{Store, key_of};
use k_store::{Api, StoreError};

/// The label marking Endpoints written by this controller.
pub const LABEL_ENDPOINTS_MANAGED_BY: &str = "endpoints.kubernetes.io/managed-by";
/// The value of [`LABEL_ENDPOINTS_MANAGED_BY`] (Kubernetes' controller name).
pub const ENDPOINTS_CONTROLLER_NAME: &str = "endpoint-controller";
/// The value of `endpointslice.kubernetes.io/managed-by` on the slices this
/// controller writes.
pub const ENDPOINT_SLICE_CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
/// The label on the Endpoints and slices of a headless Service.
pub const LABEL_HEADLESS: &str = "service.kubernetes.io/headless";
/// The annotation stamping when the Endpoints were last written.
pub const ANNOTATION_LAST_CHANGE_TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";
/// The annotation (value `truncated`) on Endpoints holding only the first
/// [`MAX_ENDPOINTS_ADDRESSES`] addresses.
pub const ANNOTATION_OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";
/// The most addresses one Endpoints object holds.
pub const MAX_ENDPOINTS_ADDRESSES: usize = 1000;
/// The most endpoints one slice holds (kube-controller-manager's
/// `--max-endpoints-per-slice` default).
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;

/// How long a write is expected to show in the cache before it is
/// forgotten (the object may have been deleted by someone else).
const EXPECTATION_TIMEOUT: Duration = Duration::from_secs(30);
/// How soon a Service whose slices the cache does not show yet is retried
/// (their watch events also requeue it).
const STALE_RETRY: Duration = Duration::from_millis(200);

/// Why a reconcile failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A read or write of the object API failed (conflicts included: the
    /// cache was behind).
    #[error(transparent)]
    Store(#[from] StoreError),
}

// ---------------------------------------------------------------------------
// Shared: which pods, which addresses, which ports
// ---------------------------------------------------------------------------

/// Whether the controllers compute endpoints for `service`: it has a
/// selector and is not `ExternalName`.
fn manages(service: &Service) -> bool {
    !service.spec.selector.is_empty() && service.spec.type_.as_deref() != Some("ExternalName")
}

/// Whether `service` selects `pod` (same namespace, every selector label).
fn selects(service: &Service, pod: &Pod) -> bool {
    service.metadata.namespace == pod.metadata.namespace
        && !service.spec.selector.is_empty()
        && service.spec.selector.iter().all(|(k, v)| pod.metadata.labels.get(k) == Some(v))
}

/// Condition `Ready` is `True`.
fn pod_ready(pod: &Pod) -> bool {
    pod.status.as_ref().is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn pod_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// The pod's IPs, primary first.
fn pod_ips(pod: &Pod) -> Vec<&str> {
    let Some(status) = &pod.status else { return Vec::new() };
    if !status.pod_ips.is_empty() {
        return status.pod_ips.iter().map(|p| p.ip.as_str()).filter(|ip| !ip.is_empty()).collect();
    }
    status.pod_ip.as_deref().filter(|ip| !ip.is_empty()).into_iter().collect()
}

/// Whether the pod backs a service at all: it has an IP, is not terminal,
/// and (unless `include_terminating`) is not being deleted.
fn pod_eligible(pod: &Pod, include_terminating: bool) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) || pod_ips(pod).is_empty() {
        return false;
    }
    include_terminating || !pod_terminating(pod)
}

/// `IPv4` or `IPv6`.
fn ip_family(ip: &str) -> Option<&'static str> {
    match ip.parse::<IpAddr>().ok()? {
        IpAddr::V4(_) => Some("IPv4"),
        IpAddr::V6(_) => Some("IPv6"),
    }
}

/// The service's IP families, primary first (from `ipFamilies`, else its
/// cluster IP); empty when unknown (headless without families).
fn service_families(service: &Service) -> Vec<&'static str> {
    let families: Vec<&'static str> = service
        .spec
        .ip_families
        .iter()
        .filter_map(|f| match f.as_str() {
            "IPv4" => Some("IPv4"),
            "IPv6" => Some("IPv6"),
            _ => None,
        })
        .collect();
    if !families.is_empty() {
        return families;
    }
    service.spec.cluster_ip.as_deref().and_then(ip_family).into_iter().collect()
}

fn protocol_of(protocol: Option<&str>) -> &str {
    protocol.filter(|p| !p.is_empty()).unwrap_or("TCP")
}

/// The pod's port for `port` (Kubernetes' `FindPort`): a number as is
/// (unset: the service port), a name looked up in the pod's containers
/// (and restartable init containers) with the same protocol.
fn find_port(pod: &Pod, port: &ServicePort) -> Option<i32> {
    match &port.target_port {
        None | Some(IntOrString::Int(0)) => Some(port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) if name.is_empty() => Some(port.port),
        Some(IntOrString::String(name)) => {
            let protocol = protocol_of(port.protocol.as_deref());
            let sidecars = pod.spec.init_containers.iter().filter(|c| c.restart_policy.as_deref() == Some("Always"));
            pod.spec
                .containers
                .iter()
                .chain(sidecars)
                .flat_map(|c| &c.ports)
                .find(|p| p.name.as_deref() == Some(name) && protocol_of(p.protocol.as_deref()) == protocol)
                .map(|p| p.container_port)
        }
    }
}

/// `spec.hostname` when the pod's subdomain is the service.
fn pod_hostname(pod: &Pod, service: &Service) -> Option<String> {
    let hostname = pod.spec.hostname.as_deref().filter(|h| !h.is_empty())?;
    (pod.spec.subdomain.as_deref() == Some(service.metadata.name.as_str())
        && pod.metadata.namespace == service.metadata.namespace)
        .then(|| hostname.to_owned())
}

fn pod_reference(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: "Pod".to_owned(),
        namespace: pod.metadata.namespace.clone(),
        name: pod.metadata.name.clone(),
        uid: pod.metadata.uid.clone(),
        ..Default::default()
    }
}

fn node_name(pod: &Pod) -> Option<String> {
    pod.spec.node_name.clone().filter(|n| !n.is_empty())
}

/// The labels the written objects carry: the Service's, less `reserved`,
/// plus `extra`, plus the headless label for a headless Service.
fn derived_labels(service: &Service, reserved: &[&str], extra: &[(&str, &str)]) -> SortedMap<String, String> {
    let mut labels = SortedMap::new();
    for (k, v) in service.metadata.labels.iter() {
        if !reserved.contains(&k.as_str()) && k != LABEL_HEADLESS {
            labels.insert(k.clone(), v.clone());
        }
    }
    for (k, v) in extra {
        labels.insert((*k).to_owned(), (*v).to_owned());
    }
    if service.is_headless() {
        labels.insert(LABEL_HEADLESS.to_owned(), String::new());
    }
    labels
}

/// The pods of the service's namespace it selects.
fn selected_pods(service: &Service, pods: &Store<Pod>) -> Vec<Arc<Pod>> {
    let mut selected: Vec<Arc<Pod>> =
        pods.in_namespace(&service.metadata.namespace).into_iter().filter(|p| selects(service, p)).collect();
    selected.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    selected
}

/// Maps a pod to the keys of the Services (in the shared cache) that select it.
fn pod_to_services(informers: Arc<InformerFactory>) -> impl Fn(&Pod) -> Vec<String> + Send + Sync + 'static {
    let services: OnceLock<Store<Service>> = OnceLock::new();
    move |pod: &Pod| {
        let services = services.get_or_init(|| informers.informer::<Service>(None, None, None).store());
        services
            .in_namespace(&pod.metadata.namespace)
            .iter()
            .filter(|s| manages(s) && selects(s, pod))
            .map(|s| key_of(&**s))
            .collect()
    }
}

fn service_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// A deletion of `name` only while its uid is `uid`; gone already is fine.
async fn delete_exactly<K: Resource>(api: &Api<K>, name: &str, uid: &str) -> Result<(), StoreError> {
    let options = DeleteOptions {
        preconditions: Some(Preconditions { uid: Some(uid.to_owned()), resource_version: None }),
        ..Default::default()
    };
    match api.delete(name, &options).await {
        Err(e) if e.is_not_found() || e.is_conflict() => Ok(()),
        other => other.map(|_| ()),
    }
}

// ---------------------------------------------------------------------------
// Endpoints
// ---------------------------------------------------------------------------

/// The subsets of `service` given the pods it selects, and whether they
/// were truncated to [`MAX_ENDPOINTS_ADDRESSES`].
fn desired_subsets(service: &Service, pods: &[Arc<Pod>]) -> (Vec<EndpointSubset>, bool) {
    let publish = service.spec.publish_not_ready_addresses == Some(true);
    let families = service_families(service);
    // Port set (as a sortable key) → (ports, ready, not ready).
    type Group = (Vec<EndpointPort>, Vec<EndpointAddress>, Vec<EndpointAddress>);
    let mut groups: BTreeMap<Vec<(String, i32, String)>, Group> = BTreeMap::new();
    for pod in pods {
        if !pod_eligible(pod, publish) {
            continue;
        }
        let ips = pod_ips(pod);
        let ip = match families.first() {
            Some(family) => ips.iter().find(|ip| ip_family(ip) == Some(family)),
            None => ips.first(),
        };
        let Some(ip) = ip else { continue };
        let address = EndpointAddress {
            ip: (*ip).to_owned(),
            hostname: pod_hostname(pod, service),
            node_name: node_name(pod),
            target_ref: Some(pod_reference(pod)),
        };
        let mut ports: Vec<EndpointPort> = service
            .spec
            .ports
            .iter()
            .filter_map(|sp| {
                find_port(pod, sp).map(|port| EndpointPort {
                    name: sp.name.clone(),
                    port,
                    protocol: Some(protocol_of(sp.protocol.as_deref()).to_owned()),
                    app_protocol: sp.app_protocol.clone(),
                })
            })
            .collect();
        // A pod none of whose ports resolve gives nothing, except to a
        // headless service without ports.
        if ports.is_empty() && !(service.spec.ports.is_empty() && service.is_headless()) {
            continue;
        }
        ports.sort_by(|a, b| (&a.name, a.port, &a.protocol).cmp(&(&b.name, b.port, &b.protocol)));
        let key = ports
            .iter()
            .map(|p| (p.name.clone().unwrap_or_default(), p.port, p.protocol.clone().unwrap_or_default()))
            .collect();
        let group = groups.entry(key).or_insert_with(|| (ports, Vec::new(), Vec::new()));
        if publish || pod_ready(pod) {
            group.1.push(address);
        } else {
            group.2.push(address);
        }
    }
    let by_ip = |a: &EndpointAddress, b: &EndpointAddress| {
        let uid = |x: &EndpointAddress| x.target_ref.as_ref().map(|r| r.uid.clone()).unwrap_or_default();
        (&a.ip, uid(a)).cmp(&(&b.ip, uid(b)))
    };
    let mut subsets: Vec<EndpointSubset> = groups
        .into_values()
        .map(|(ports, mut addresses, mut not_ready_addresses)| {
            addresses.sort_by(by_ip);
            not_ready_addresses.sort_by(by_ip);
            EndpointSubset { addresses, not_ready_addresses, ports }
        })
        .collect();
    // Beyond capacity: ready addresses first, in subset order.
    let total: usize = subsets.iter().map(|s| s.addresses.len() + s.not_ready_addresses.len()).sum();
    let truncated = total > MAX_ENDPOINTS_ADDRESSES;
    if truncated {
        let mut budget = MAX_ENDPOINTS_ADDRESSES;
        for subset in &mut subsets {
            let keep = subset.addresses.len().min(budget);
            subset.addresses.truncate(keep);
            budget -= keep;
        }
        for subset in &mut subsets {
            let keep = subset.not_ready_addresses.len().min(budget);
            subset.not_ready_addresses.truncate(keep);
            budget -= keep;
        }
        subsets.retain(|s| !s.addresses.is_empty() || !s.not_ready_addresses.is_empty());
    }
    (subsets, truncated)
}

/// Writes the Endpoints of each Service with a selector (see the
/// [module documentation](self)).
#[derive(Debug)]
pub struct EndpointsReconciler {
    informers: Arc<InformerFactory>,
    clock: Arc<dyn Clock>,
}

impl EndpointsReconciler {
    /// A reconciler reading pods and Endpoints from `informers`' caches and
    /// stamping writes with `clock`'s time.
    pub fn new(informers: Arc<InformerFactory>, clock: Arc<dyn Clock>) -> Self {
        EndpointsReconciler { informers, clock }
    }
}

#[async_trait::async_trait]
impl Reconciler<Service> for EndpointsReconciler {
    type Error = Error;

    async fn reconcile(&self, service: Arc<Service>, ctx: &Context) -> Result<Action, Error> {
        if !manages(&service) {
            return Ok(Action::AwaitChange);
        }
        let pods = self.informers.informer::<Pod>(None, None, None).store();
        let cached = self.informers.informer::<Endpoints>(None, None, None).store();
        pods.wait_until_synced().await;
        cached.wait_until_synced().await;
        let namespace = &service.metadata.namespace;
        let name = &service.metadata.name;
        let (mut subsets, truncated) = desired_subsets(&service, &selected_pods(&service, &pods));
        let labels = derived_labels(
            &service,
            &[LABEL_ENDPOINTS_MANAGED_BY],
            &[(LABEL_ENDPOINTS_MANAGED_BY, ENDPOINTS_CONTROLLER_NAME)],
        );
        // Compare as the store keeps it (defaulted).
        let mut defaulted = Endpoints { subsets, ..Default::default() };
        defaulted.apply_defaults();
        subsets = defaulted.subsets;
        let current = cached.get(&service_key(namespace, name));
        if let Some(current) = &current {
            let capacity_marked = current.metadata.annotations.get(ANNOTATION_OVER_CAPACITY).map(String::as_str)
                == truncated.then_some("truncated");
            if current.subsets == subsets && current.metadata.labels == labels && capacity_marked {
                return Ok(Action::AwaitChange);
            }
        }
        let api: Api<Endpoints> = Api::with_client(ctx.api.clone(), Some(namespace.clone()));
        let mut endpoints = match &current {
            Some(current) => (**current).clone(),
            None => Endpoints {
                metadata: k_api_types::meta::ObjectMeta::namespaced(namespace.clone(), name.clone()),
                ..Default::default()
            },
        };
        endpoints.subsets = subsets;
        endpoints.metadata.labels = labels;
        let stamp = self.clock.wall().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        endpoints.metadata.annotations.insert(ANNOTATION_LAST_CHANGE_TRIGGER_TIME.to_owned(), stamp);
        if truncated {
            endpoints.metadata.annotations.insert(ANNOTATION_OVER_CAPACITY.to_owned(), "truncated".to_owned());
        } else {
            endpoints.metadata.annotations.remove(ANNOTATION_OVER_CAPACITY);
        }
        if current.is_some() {
            api.update(&endpoints).await?;
        } else {
            api.create(&endpoints).await?;
        }
        Ok(Action::AwaitChange)
    }
}

/// Deletes Endpoints whose Service is gone: those this controller wrote,
/// whenever it finds them without their Service (at start too), and any
/// other (written by hand) when its Service is deleted, as Kubernetes does.
#[derive(Debug)]
pub struct EndpointsCleanup {
    informers: Arc<InformerFactory>,
    /// Keys of Services seen deleted, whose Endpoints go whoever wrote them.
    deleted: Arc<Mutex<HashSet<String>>>,
}

impl EndpointsCleanup {
    /// A cleanup reading Services from `informers`' cache.
    pub fn new(informers: Arc<InformerFactory>) -> Self {
        EndpointsCleanup { informers, deleted: Arc::default() }
    }

    /// Its controller: Endpoints as the primary kind, woken by Service
    /// changes (a deletion among them).
    pub fn controller(&self) -> Controller<Endpoints> {
        let factory = self.informers.clone();
        let deleted = self.deleted.clone();
        let caches: OnceLock<(Store<Service>, Store<Endpoints>)> = OnceLock::new();
        Controller::<Endpoints>::new(self.informers.clone(), None).named("endpoints-cleanup").watches::<Service>(
            None,
            move |service: &Service| {
                let (services, endpoints) = caches.get_or_init(|| {
                    (
                        factory.informer::<Service>(None, None, None).store(),
                        factory.informer::<Endpoints>(None, None, None).store(),
                    )
                });
                let key = key_of(service);
                // The cache drops an object before its deletion is told.
                if services.get(&key).is_none() && endpoints.get(&key).is_some() {
                    deleted.lock().unwrap_or_else(PoisonError::into_inner).insert(key.clone());
                }
                vec![key]
            },
        )
    }
}

#[async_trait::async_trait]
impl Reconciler<Endpoints> for EndpointsCleanup {
    type Error = Error;

    async fn reconcile(&self, endpoints: Arc<Endpoints>, ctx: &Context) -> Result<Action, Error> {
        let meta = &endpoints.metadata;
        let key = key_of(&*endpoints);
        let managed =
            meta.labels.get(LABEL_ENDPOINTS_MANAGED_BY).map(String::as_str) == Some(ENDPOINTS_CONTROLLER_NAME);
        let services = self.informers.informer::<Service>(None, None, None).store();
        services.wait_until_synced().await;
        let service_deleted = self.deleted.lock().unwrap_or_else(PoisonError::into_inner).remove(&key);
        if (managed || service_deleted) && services.get(&key).is_none() {
            let api: Api<Endpoints> = Api::with_client(ctx.api.clone(), Some(meta.namespace.clone()));
            delete_exactly(&api, &meta.name, &meta.uid).await?;
        }
        Ok(Action::AwaitChange)
    }
}

/// The Endpoints controller: Services as the primary kind, woken by the
/// pods they select and by their Endpoints.
pub fn endpoints_controller(informers: Arc<InformerFactory>) -> Controller<Service> {
    Controller::<Service>::new(informers.clone(), None)
        .named("endpoints")
        .watches::<Pod>(None, pod_to_services(informers))
        .watches::<Endpoints>(None, |e| vec![key_of(e)])
        .workers(4)
}

/// Adds the Endpoints controller and its cleanup to `manager`.
pub fn add_endpoints(manager: &mut Manager) {
    let informers = manager.informers();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    manager.add(endpoints_controller(informers.clone()), EndpointsReconciler::new(informers.clone(), clock));
    let cleanup = EndpointsCleanup::new(informers);
    manager.add(cleanup.controller(), cleanup);
}

// ---------------------------------------------------------------------------
// EndpointSlices
// ---------------------------------------------------------------------------

/// Whether this controller manages `slice`, and for which Service.
fn slice_service(slice: &EndpointSlice) -> Option<&str> {
    let labels = &slice.metadata.labels;
    if labels.get(LABEL_MANAGED_BY).map(String::as_str) != Some(ENDPOINT_SLICE_CONTROLLER_NAME) {
        return None;
    }
    labels.get(LABEL_SERVICE_NAME).map(String::as_str).filter(|s| !s.is_empty())
}

/// The address types slices are written for.
fn address_types(service: &Service) -> Vec<&'static str> {
    let families = service_families(service);
    if families.is_empty() { vec!["IPv4", "IPv6"] } else { families }
}

/// What identifies an endpoint within its slices: its first address and pod.
fn endpoint_key(endpoint: &Endpoint) -> (String, String) {
    (
        endpoint.addresses.first().cloned().unwrap_or_default(),
        endpoint.target_ref.as_ref().map(|r| r.uid.clone()).unwrap_or_default(),
    )
}

/// A group of slices: address type and ports.
type GroupKey = (String, Vec<SlicePort>);

/// The desired endpoints of `service`, by address type and ports, in pod
/// name order.
fn desired_endpoints(service: &Service, pods: &[Arc<Pod>]) -> Vec<(GroupKey, Vec<Endpoint>)> {
    let publish = service.spec.publish_not_ready_addresses == Some(true);
    let types = address_types(service);
    let mut groups: Vec<(GroupKey, Vec<Endpoint>)> = Vec::new();
    for pod in pods {
        if !pod_eligible(pod, true) {
            continue;
        }
        let mut ports: Vec<SlicePort> = service
            .spec
            .ports
            .iter()
            .filter_map(|sp| {
                find_port(pod, sp).map(|port| SlicePort {
                    name: Some(sp.name.clone().unwrap_or_default()),
                    protocol: Some(protocol_of(sp.protocol.as_deref()).to_owned()),
                    port: Some(port),
                    app_protocol: sp.app_protocol.clone(),
                })
            })
            .collect();
        let mut defaulted = EndpointSlice { ports, ..Default::default() };
        defaulted.apply_defaults();
        ports = defaulted.ports;
        let serving = pod_ready(pod);
        let terminating = pod_terminating(pod);
        let conditions = EndpointConditions {
            ready: Some(publish || (serving && !terminating)),
            serving: Some(serving),
            terminating: Some(terminating),
        };
        for address_type in &types {
            let addresses: Vec<String> =
                pod_ips(pod).into_iter().filter(|ip| ip_family(ip) == Some(address_type)).map(str::to_owned).collect();
            if addresses.is_empty() {
                continue;
            }
            let endpoint = Endpoint {
                addresses,
                conditions: conditions.clone(),
                hostname: pod_hostname(pod, service),
                target_ref: Some(pod_reference(pod)),
                node_name: node_name(pod),
                ..Default::default()
            };
            let key: GroupKey = ((*address_type).to_owned(), ports.clone());
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, endpoints)) => endpoints.push(endpoint),
                None => groups.push((key, vec![endpoint])),
            }
        }
    }
    groups
}

/// The writes that bring a Service's slices to the desired state.
#[derive(Debug, Default)]
struct SlicePlan {
    create: Vec<EndpointSlice>,
    update: Vec<EndpointSlice>,
    delete: Vec<Arc<EndpointSlice>>,
}

fn new_slice(service: &Service, labels: &SortedMap<String, String>, key: &GroupKey) -> EndpointSlice {
    let mut slice = EndpointSlice { address_type: key.0.clone(), ports: key.1.clone(), ..Default::default() };
    slice.metadata.namespace = service.metadata.namespace.clone();
    slice.metadata.generate_name = format!("{}-", service.metadata.name);
    slice.metadata.labels = labels.clone();
    set_owner_reference(&mut slice.metadata, owner_reference(service, true));
    slice
}

/// Plans the slices of `service` given the pods it selects and the slices
/// labelled as its own (`existing`).
fn plan_slices(service: &Service, pods: &[Arc<Pod>], existing: &[Arc<EndpointSlice>], max: usize) -> SlicePlan {
    let labels = derived_labels(
        service,
        &[LABEL_SERVICE_NAME, LABEL_MANAGED_BY],
        &[(LABEL_SERVICE_NAME, service.metadata.name.as_str()), (LABEL_MANAGED_BY, ENDPOINT_SLICE_CONTROLLER_NAME)],
    );
    let uid = &service.metadata.uid;
    let mut plan = SlicePlan::default();
    // The slices of the service by group, oldest name first; others go.
    let mut by_group: Vec<(GroupKey, Vec<Arc<EndpointSlice>>)> = Vec::new();
    let mut sorted: Vec<&Arc<EndpointSlice>> = existing.iter().collect();
    sorted.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    for slice in sorted {
        let owned = slice.metadata.owner_references.iter().any(|r| &r.uid == uid && r.kind == Service::INFO.kind);
        if owned {
            let key: GroupKey = (slice.address_type.clone(), slice.ports.clone());
            match by_group.iter_mut().find(|(k, _)| *k == key) {
                Some((_, slices)) => slices.push(slice.clone()),
                None => by_group.push((key, vec![slice.clone()])),
            }
        } else {
            plan.delete.push(slice.clone());
        }
    }
    let desired = desired_endpoints(service, pods);
    let any_desired = !desired.is_empty();
    for (key, endpoints) in desired {
        let mut wanted: HashMap<(String, String), &Endpoint> = HashMap::new();
        for endpoint in &endpoints {
            wanted.entry(endpoint_key(endpoint)).or_insert(endpoint);
        }
        let mut placed: HashSet<(String, String)> = HashSet::new();
        // The slices that stay, as (next state, whether it changed).
        let mut open: Vec<(EndpointSlice, bool)> = Vec::new();
        let mine = match by_group.iter().position(|(k, _)| *k == key) {
            Some(i) => by_group.swap_remove(i).1,
            None => Vec::new(),
        };
        for slice in mine {
            let mut kept = Vec::new();
            let mut changed = slice.metadata.labels != labels;
            for endpoint in &slice.endpoints {
                let k = endpoint_key(endpoint);
                match wanted.get(&k) {
                    Some(want) if !placed.contains(&k) => {
                        changed |= *want != endpoint;
                        kept.push((*want).clone());
                        placed.insert(k);
                    }
                    _ => changed = true,
                }
            }
            if kept.is_empty() {
                plan.delete.push(slice);
                continue;
            }
            let mut next = (*slice).clone();
            next.endpoints = kept;
            next.metadata.labels = labels.clone();
            open.push((next, changed));
        }
        // New endpoints fill changed slices first (they are written
        // anyway), then unchanged ones, then new slices.
        let mut fresh = endpoints.iter().filter(|e| !placed.contains(&endpoint_key(e))).peekable();
        open.sort_by_key(|(_, changed)| !changed);
        for (slice, changed) in &mut open {
            while slice.endpoints.len() < max {
                let Some(endpoint) = fresh.next() else { break };
                slice.endpoints.push(endpoint.clone());
                *changed = true;
            }
        }
        plan.update.extend(open.into_iter().filter(|(_, changed)| *changed).map(|(slice, _)| slice));
        while fresh.peek().is_some() {
            let mut slice = new_slice(service, &labels, &key);
            slice.endpoints = fresh.by_ref().take(max).cloned().collect();
            plan.create.push(slice);
        }
    }
    // Groups no longer wanted.
    let mut stale: Vec<Arc<EndpointSlice>> = by_group.into_iter().flat_map(|(_, slices)| slices).collect();
    stale.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    if !any_desired {
        // No endpoints at all: one empty placeholder slice stays.
        let placeholder: GroupKey = (address_types(service)[0].to_owned(), Vec::new());
        let found = stale
            .iter()
            .position(|s| s.endpoints.is_empty() && s.address_type == placeholder.0 && s.ports == placeholder.1);
        match found {
            Some(i) => {
                let keep = stale.remove(i);
                if keep.metadata.labels != labels {
                    let mut next = (*keep).clone();
                    next.metadata.labels = labels.clone();
                    plan.update.push(next);
                }
            }
            None => plan.create.push(new_slice(service, &labels, &placeholder)),
        }
    }
    plan.delete.extend(stale);
    plan
}

/// A Service's slices the cache may not show as written yet: name → the
/// resourceVersion written (`None`: deleted), and when.
type Expected = HashMap<String, (Option<u64>, Instant)>;

/// What this controller wrote and the cache may not show yet, per Service.
#[derive(Debug, Default)]
struct SliceExpectations {
    by_service: Mutex<HashMap<String, Expected>>,
}

impl SliceExpectations {
    /// Whether the cache (`cached`, the Service's slices) shows every write;
    /// forgets those it shows.
    fn satisfied(&self, service: &str, cached: &[Arc<EndpointSlice>], now: Instant) -> bool {
        let mut all = self.by_service.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(expected) = all.get_mut(service) else { return true };
        expected.retain(|name, (version, at)| {
            if now.saturating_duration_since(*at) > EXPECTATION_TIMEOUT {
                return false;
            }
            let seen = cached.iter().find(|s| &s.metadata.name == name);
            match (version, seen) {
                (Some(v), Some(s)) => s.metadata.resource_version.parse::<u64>().is_ok_and(|rv| rv < *v),
                (Some(_), None) => true,
                (None, seen) => seen.is_some(),
            }
        });
        let done = expected.is_empty();
        if done {
            all.remove(service);
        }
        done
    }

    fn expect(&self, service: &str, name: &str, version: Option<&str>, now: Instant) {
        let version = match version {
            Some(v) => match v.parse::<u64>() {
                Ok(v) => Some(v),
                // Not comparable: nothing to wait for.
                Err(_) => return,
            },
            None => None,
        };
        let mut all = self.by_service.lock().unwrap_or_else(PoisonError::into_inner);
        all.entry(service.to_owned()).or_default().insert(name.to_owned(), (version, now));
    }
}

/// Writes the EndpointSlices of each Service with a selector (see the
/// [module documentation](self)).
#[derive(Debug)]
pub struct EndpointSliceReconciler {
    informers: Arc<InformerFactory>,
    clock: Arc<dyn Clock>,
    max_endpoints_per_slice: usize,
    expectations: SliceExpectations,
}

impl EndpointSliceReconciler {
    /// A reconciler reading pods and slices from `informers`' caches,
    /// with [`MAX_ENDPOINTS_PER_SLICE`]; `clock` times out expectations of
    /// writes the cache never shows.
    pub fn new(informers: Arc<InformerFactory>, clock: Arc<dyn Clock>) -> Self {
        EndpointSliceReconciler {
            informers,
            clock,
            max_endpoints_per_slice: MAX_ENDPOINTS_PER_SLICE,
            expectations: SliceExpectations::default(),
        }
    }

    /// At most `max` endpoints per slice (1 to 1000).
    #[must_use]
    pub fn max_endpoints_per_slice(mut self, max: usize) -> Self {
        self.max_endpoints_per_slice = max.clamp(1, 1000);
        self
    }
}

#[async_trait::async_trait]
impl Reconciler<Service> for EndpointSliceReconciler {
    type Error = Error;

    async fn reconcile(&self, service: Arc<Service>, ctx: &Context) -> Result<Action, Error> {
        if !manages(&service) {
            return Ok(Action::AwaitChange);
        }
        let pods = self.informers.informer::<Pod>(None, None, None).store();
        let slices = self.informers.informer::<EndpointSlice>(None, None, None).store();
        pods.wait_until_synced().await;
        slices.wait_until_synced().await;
        let namespace = &service.metadata.namespace;
        let key = key_of(&*service);
        let existing: Vec<Arc<EndpointSlice>> = slices
            .in_namespace(namespace)
            .into_iter()
            .filter(|s| slice_service(s) == Some(service.metadata.name.as_str()))
            .collect();
        if !self.expectations.satisfied(&key, &existing, self.clock.now()) {
            return Ok(Action::RequeueAfter(STALE_RETRY));
        }
        let plan = plan_slices(&service, &selected_pods(&service, &pods), &existing, self.max_endpoints_per_slice);
        let api: Api<EndpointSlice> = Api::with_client(ctx.api.clone(), Some(namespace.clone()));
        // Creations first, deletions last: no moment without endpoints.
        for slice in &plan.create {
            let written = api.create(slice).await?;
            let meta = &written.metadata;
            self.expectations.expect(&key, &meta.name, Some(&meta.resource_version), self.clock.now());
        }
        for slice in &plan.update {
            let written = api.update(slice).await?;
            let meta = &written.metadata;
            self.expectations.expect(&key, &meta.name, Some(&meta.resource_version), self.clock.now());
        }
        for slice in &plan.delete {
            delete_exactly(&api, &slice.metadata.name, &slice.metadata.uid).await?;
            self.expectations.expect(&key, &slice.metadata.name, None, self.clock.now());
        }
        Ok(Action::AwaitChange)
    }
}

/// Deletes the slices this controller wrote once their Service is gone.
#[derive(Debug)]
pub struct EndpointSliceCleanup {
    informers: Arc<InformerFactory>,
}

impl EndpointSliceCleanup {
    /// A cleanup reading Services from `informers`' cache.
    pub fn new(informers: Arc<InformerFactory>) -> Self {
        EndpointSliceCleanup { informers }
    }
}

#[async_trait::async_trait]
impl Reconciler<EndpointSlice> for EndpointSliceCleanup {
    type Error = Error;

    async fn reconcile(&self, slice: Arc<EndpointSlice>, ctx: &Context) -> Result<Action, Error> {
        let Some(service) = slice_service(&slice) else { return Ok(Action::AwaitChange) };
        let meta = &slice.metadata;
        let services = self.informers.informer::<Service>(None, None, None).store();
        services.wait_until_synced().await;
        if services.get(&service_key(&meta.namespace, service)).is_none() {
            let api: Api<EndpointSlice> = Api::with_client(ctx.api.clone(), Some(meta.namespace.clone()));
            delete_exactly(&api, &meta.name, &meta.uid).await?;
        }
        Ok(Action::AwaitChange)
    }
}

/// Maps a managed slice to its Service's key.
fn slice_to_service(slice: &EndpointSlice) -> Vec<String> {
    slice_service(slice).map(|s| service_key(&slice.metadata.namespace, s)).into_iter().collect()
}

/// The EndpointSlice controller: Services as the primary kind, woken by
/// the pods they select and by their slices.
pub fn endpoint_slice_controller(informers: Arc<InformerFactory>) -> Controller<Service> {
    Controller::<Service>::new(informers.clone(), None)
        .named("endpointslice")
        .watches::<Pod>(None, pod_to_services(informers))
        .watches::<EndpointSlice>(None, slice_to_service)
        .workers(4)
}

/// The companion of [`endpoint_slice_controller`]: slices as the primary
/// kind, woken by Service deletions.
pub fn endpoint_slice_cleanup_controller(informers: Arc<InformerFactory>) -> Controller<EndpointSlice> {
    let slices: OnceLock<Store<EndpointSlice>> = OnceLock::new();
    let factory = informers.clone();
    Controller::<EndpointSlice>::new(informers, None).named("endpointslice-cleanup").watches::<Service>(
        None,
        move |service: &Service| {
            let slices = slices.get_or_init(|| factory.informer::<EndpointSlice>(None, None, None).store());
            slices
                .in_namespace(&service.metadata.namespace)
                .iter()
                .filter(|s| slice_service(s) == Some(service.metadata.name.as_str()))
                .map(|s| key_of(&**s))
                .collect()
        },
    )
}

/// Adds the EndpointSlice controller and its cleanup to `manager`.
pub fn add_endpoint_slices(manager: &mut Manager) {
    let informers = manager.informers();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    manager.add(endpoint_slice_controller(informers.clone()), EndpointSliceReconciler::new(informers.clone(), clock));
    manager.add(endpoint_slice_cleanup_controller(informers.clone()), EndpointSliceCleanup::new(informers));
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    use k_api_types::core::v1::{Container, ContainerPort, PodCondition, PodIP, PodStatus};
    use k_api_types::meta::ObjectMeta;
    use k_store::Store as ObjectStore;
    use k_store::api::ListOptions;

    use super::*;

    const NS: &str = "default";

    /// Runs both controllers over `store` until the returned sender drops.
    fn start(store: &ObjectStore) -> tokio::sync::oneshot::Sender<()> {
        let mut manager = Manager::new(Arc::new(store.clone()));
        add_endpoints(&mut manager);
        add_endpoint_slices(&mut manager);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(manager.run(async {
            let _ = stopped.await;
        }));
        stop
    }

    /// Polls `check` until it gives a value (10 s at most).
    async fn until<T, F, Fut>(what: &str, check: F) -> T
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(value) = check().await {
                return value;
            }
            assert!(tokio::time::Instant::now() < deadline, "never: {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn service(name: &str, selector: &[(&str, &str)], target: IntOrString) -> Service {
        let mut svc = Service { metadata: ObjectMeta::namespaced(NS, name), ..Default::default() };
        svc.metadata.labels.insert("team".to_owned(), "blue".to_owned());
        for (k, v) in selector {
            svc.spec.selector.insert((*k).to_owned(), (*v).to_owned());
        }
        svc.spec.ports = vec![ServicePort {
            name: Some("web".to_owned()),
            port: 80,
            target_port: Some(target),
            ..Default::default()
        }];
        svc
    }

    struct PodSpecOf<'a> {
        name: &'a str,
        app: &'a str,
        ip: &'a str,
        node: &'a str,
        ready: bool,
        /// Named container ports (name, number).
        ports: &'a [(&'a str, i32)],
    }

    async fn create_pod(store: &ObjectStore, spec: PodSpecOf<'_>) -> Pod {
        let api: Api<Pod> = Api::namespaced(store.clone(), NS);
        let mut pod = Pod { metadata: ObjectMeta::namespaced(NS, spec.name), ..Default::default() };
        pod.metadata.labels.insert("app".to_owned(), spec.app.to_owned());
        let mut container = Container::new("main", "nginx");
        container.ports = spec
            .ports
            .iter()
            .map(|(name, port)| ContainerPort {
                name: Some((*name).to_owned()),
                container_port: *port,
                ..Default::default()
            })
            .collect();
        pod.spec.containers = vec![container];
        pod.spec.node_name = Some(spec.node.to_owned());
        let mut created = api.create(&pod).await.unwrap();
        created.status = Some(PodStatus {
            phase: Some("Running".to_owned()),
            pod_ip: Some(spec.ip.to_owned()),
            pod_ips: vec![PodIP { ip: spec.ip.to_owned() }],
            conditions: vec![PodCondition {
                type_: "Ready".to_owned(),
                status: if spec.ready { "True" } else { "False" }.to_owned(),
                ..Default::default()
            }],
            ..Default::default()
        });
        api.update_status(&created).await.unwrap()
    }

    async fn set_ready(store: &ObjectStore, name: &str, ready: bool) {
        let api: Api<Pod> = Api::namespaced(store.clone(), NS);
        api.guaranteed_update_status(name, |pod| {
            for c in &mut pod.status.as_mut().unwrap().conditions {
                if c.type_ == "Ready" {
                    c.status = if ready { "True" } else { "False" }.to_owned();
                }
            }
        })
        .await
        .unwrap();
    }

    fn names(addresses: &[EndpointAddress]) -> Vec<&str> {
        addresses.iter().map(|a| a.target_ref.as_ref().unwrap().name.as_str()).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn endpoints_follow_readiness_labels_and_deletion() {
        let store = ObjectStore::in_memory();
        let _stop = start(&store);
        let pods: Api<Pod> = Api::namespaced(store.clone(), NS);
        let eps: Api<Endpoints> = Api::namespaced(store.clone(), NS);
        create_pod(&store, PodSpecOf { name: "a", app: "web", ip: "10.0.0.1", node: "n1", ready: true, ports: &[] })
            .await;
        create_pod(&store, PodSpecOf { name: "b", app: "web", ip: "10.0.0.2", node: "n2", ready: true, ports: &[] })
            .await;
        create_pod(&store, PodSpecOf { name: "c", app: "web", ip: "10.0.0.3", node: "n1", ready: false, ports: &[] })
            .await;
        create_pod(&store, PodSpecOf { name: "d", app: "db", ip: "10.0.0.4", node: "n1", ready: true, ports: &[] })
            .await;
        Api::<Service>::namespaced(store.clone(), NS)
            .create(&service("web", &[("app", "web")], IntOrString::Int(8080)))
            .await
            .unwrap();

        let ep = until("2 ready and 1 not ready address", || async {
            eps.get_opt("web").await.unwrap().filter(|e| {
                e.subsets.len() == 1 && e.subsets[0].addresses.len() == 2 && e.subsets[0].not_ready_addresses.len() == 1
            })
        })
        .await;
        let subset = &ep.subsets[0];
        assert_eq!(names(&subset.addresses), ["a", "b"]);
        assert_eq!(names(&subset.not_ready_addresses), ["c"]);
        let first = &subset.addresses[0];
        assert_eq!(first.ip, "10.0.0.1");
        assert_eq!(first.node_name.as_deref(), Some("n1"));
        let reference = first.target_ref.as_ref().unwrap();
        let pod_a = pods.get("a").await.unwrap();
        assert_eq!(
            (reference.kind.as_str(), reference.namespace.as_str(), reference.uid.as_str()),
            ("Pod", NS, pod_a.metadata.uid.as_str())
        );
        assert_eq!(subset.addresses[1].node_name.as_deref(), Some("n2"));
        assert_eq!(subset.not_ready_addresses[0].ip, "10.0.0.3");
        assert_eq!(subset.ports.len(), 1);
        assert_eq!(
            (subset.ports[0].name.as_deref(), subset.ports[0].port, subset.ports[0].protocol.as_deref()),
            (Some("web"), 8080, Some("TCP"))
        );
        assert_eq!(ep.metadata.labels.get("team").map(String::as_str), Some("blue"));
        assert_eq!(
            ep.metadata.labels.get(LABEL_ENDPOINTS_MANAGED_BY).map(String::as_str),
            Some(ENDPOINTS_CONTROLLER_NAME)
        );
        assert!(ep.metadata.annotations.contains_key(ANNOTATION_LAST_CHANGE_TRIGGER_TIME));

        // A change that does not alter the endpoints writes nothing.
        pods.guaranteed_update("d", |p| {
            p.metadata.labels.insert("tier".to_owned(), "x".to_owned());
        })
        .await
        .unwrap();
        pods.guaranteed_update("a", |p| {
            p.metadata.annotations.insert("touched".to_owned(), "yes".to_owned());
        })
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(eps.get("web").await.unwrap().metadata.resource_version, ep.metadata.resource_version);

        // Ready: c moves to addresses.
        set_ready(&store, "c", true).await;
        until("c ready", || async {
            eps.get_opt("web")
                .await
                .unwrap()
                .filter(|e| e.subsets.len() == 1 && names(&e.subsets[0].addresses) == ["a", "b", "c"])
        })
        .await;
        // Not ready again: back.
        set_ready(&store, "b", false).await;
        until("b not ready", || async {
            eps.get_opt("web")
                .await
                .unwrap()
                .filter(|e| e.subsets.len() == 1 && names(&e.subsets[0].not_ready_addresses) == ["b"])
        })
        .await;
        // Deleted (graceful: terminating, left out at once).
        pods.delete("a", &DeleteOptions::default()).await.unwrap();
        let ep = until("a gone", || async {
            eps.get_opt("web")
                .await
                .unwrap()
                .filter(|e| e.subsets.len() == 1 && names(&e.subsets[0].addresses) == ["c"])
        })
        .await;
        assert_eq!(names(&ep.subsets[0].not_ready_addresses), ["b"]);
        // Label change: the pod leaves the service.
        pods.guaranteed_update("c", |p| {
            p.metadata.labels.insert("app".to_owned(), "other".to_owned());
        })
        .await
        .unwrap();
        until("c relabelled away", || async {
            eps.get_opt("web").await.unwrap().filter(|e| e.subsets.len() == 1 && e.subsets[0].addresses.is_empty())
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hostnames_named_ports_and_publish_not_ready() {
        let store = ObjectStore::in_memory();
        let _stop = start(&store);
        let pods: Api<Pod> = Api::namespaced(store.clone(), NS);
        let eps: Api<Endpoints> = Api::namespaced(store.clone(), NS);
        // Hostname and subdomain are set at creation.
        for (name, ip, port, ready, subdomain) in
            [("p1", "10.0.1.1", 8080, true, "api"), ("p2", "10.0.1.2", 9090, false, "elsewhere")]
        {
            let mut pod = Pod { metadata: ObjectMeta::namespaced(NS, name), ..Default::default() };
            pod.metadata.labels.insert("app".to_owned(), "api".to_owned());
            let mut container = Container::new("main", "nginx");
            container.ports =
                vec![ContainerPort { name: Some("http".to_owned()), container_port: port, ..Default::default() }];
            pod.spec.containers = vec![container];
            pod.spec.hostname = Some(name.to_owned());
            pod.spec.subdomain = Some(subdomain.to_owned());
            let mut created = pods.create(&pod).await.unwrap();
            created.status = Some(PodStatus {
                pod_ip: Some(ip.to_owned()),
                conditions: vec![PodCondition {
                    type_: "Ready".to_owned(),
                    status: if ready { "True" } else { "False" }.to_owned(),
                    ..Default::default()
                }],
                ..Default::default()
            });
            pods.update_status(&created).await.unwrap();
        }
        // p3 has no port named http: left out of the port's subset.
        create_pod(
            &store,
            PodSpecOf { name: "p3", app: "api", ip: "10.0.1.3", node: "n1", ready: true, ports: &[("metrics", 7070)] },
        )
        .await;
        let services: Api<Service> = Api::namespaced(store.clone(), NS);
        services.create(&service("api", &[("app", "api")], IntOrString::String("http".to_owned()))).await.unwrap();

        let ep =
            until("two subsets", || async { eps.get_opt("api").await.unwrap().filter(|e| e.subsets.len() == 2) }).await;
        let by_port = |port: i32| ep.subsets.iter().find(|s| s.ports[0].port == port).unwrap();
        assert_eq!(names(&by_port(8080).addresses), ["p1"]);
        assert!(by_port(8080).not_ready_addresses.is_empty());
        assert_eq!(by_port(8080).addresses[0].hostname.as_deref(), Some("p1"));
        assert_eq!(names(&by_port(9090).not_ready_addresses), ["p2"]);
        assert!(by_port(9090).addresses.is_empty());
        assert_eq!(by_port(9090).not_ready_addresses[0].hostname, None, "another subdomain");
        assert_eq!(by_port(9090).not_ready_addresses[0].node_name, None, "not scheduled");
        assert!(ep.subsets.iter().all(|s| s.ports.len() == 1 && s.ports[0].name.as_deref() == Some("web")));

        // publishNotReadyAddresses: every address is ready.
        services.guaranteed_update("api", |s| s.spec.publish_not_ready_addresses = Some(true)).await.unwrap();
        let ep = until("p2 published", || async {
            eps.get_opt("api").await.unwrap().filter(|e| {
                e.subsets.len() == 2
                    && e.subsets.iter().all(|s| s.not_ready_addresses.is_empty() && s.addresses.len() == 1)
            })
        })
        .await;
        let p2 = ep.subsets.iter().find(|s| s.ports[0].port == 9090).unwrap();
        assert_eq!(names(&p2.addresses), ["p2"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn selectorless_endpoints_are_left_alone_and_endpoints_go_with_their_service() {
        let store = ObjectStore::in_memory();
        let _stop = start(&store);
        let eps: Api<Endpoints> = Api::namespaced(store.clone(), NS);
        let services: Api<Service> = Api::namespaced(store.clone(), NS);
        create_pod(&store, PodSpecOf { name: "a", app: "web", ip: "10.0.0.1", node: "n1", ready: true, ports: &[] })
            .await;
        let mut manual = Endpoints { metadata: ObjectMeta::namespaced(NS, "external"), ..Default::default() };
        manual.subsets = vec![EndpointSubset {
            addresses: vec![EndpointAddress { ip: "192.168.7.7".to_owned(), ..Default::default() }],
            ports: vec![EndpointPort { port: 5432, ..Default::default() }],
            ..Default::default()
        }];
        let manual = eps.create(&manual).await.unwrap();
        services.create(&service("external", &[], IntOrString::Int(5432))).await.unwrap();
        services.create(&service("web", &[("app", "web")], IntOrString::Int(8080))).await.unwrap();
        until("web's endpoints", || async { eps.get_opt("web").await.unwrap() }).await;
        // Both services were reconciled by now (and the selectorless one's Endpoints too).
        tokio::time::sleep(Duration::from_millis(300)).await;
        let untouched = eps.get("external").await.unwrap();
        assert_eq!(untouched.metadata.resource_version, manual.metadata.resource_version);
        assert_eq!(untouched.subsets, manual.subsets);

        // Deleting a Service deletes its Endpoints, managed or hand-written.
        services.delete("web", &DeleteOptions::default()).await.unwrap();
        until("web's endpoints gone", || async { eps.get_opt("web").await.unwrap().is_none().then_some(()) }).await;
        assert!(eps.get_opt("external").await.unwrap().is_some(), "another service's deletion");
        services.delete("external", &DeleteOptions::default()).await.unwrap();
        until("external's endpoints gone", || async { eps.get_opt("external").await.unwrap().is_none().then_some(()) })
            .await;
        // Hand-written Endpoints without a Service are not collected.
        let mut orphan = Endpoints { metadata: ObjectMeta::namespaced(NS, "early"), ..Default::default() };
        orphan.subsets = manual.subsets.clone();
        eps.create(&orphan).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(eps.get_opt("early").await.unwrap().is_some());
    }

    async fn slices_of(store: &ObjectStore, service: &str) -> Vec<EndpointSlice> {
        let api: Api<EndpointSlice> = Api::namespaced(store.clone(), NS);
        let mut items = api.list(&ListOptions::labels(format!("{LABEL_SERVICE_NAME}={service}"))).await.unwrap().items;
        items.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        items
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slices_carry_labels_owner_and_conditions() {
        let store = ObjectStore::in_memory();
        let _stop = start(&store);
        let pods: Api<Pod> = Api::namespaced(store.clone(), NS);
        create_pod(&store, PodSpecOf { name: "a", app: "web", ip: "10.0.0.1", node: "n1", ready: true, ports: &[] })
            .await;
        create_pod(&store, PodSpecOf { name: "b", app: "web", ip: "10.0.0.2", node: "n2", ready: false, ports: &[] })
            .await;
        create_pod(&store, PodSpecOf { name: "c", app: "web", ip: "10.0.0.3", node: "n1", ready: true, ports: &[] })
            .await;
        create_pod(&store, PodSpecOf { name: "v6", app: "web", ip: "fd00::6", node: "n1", ready: true, ports: &[] })
            .await;
        let services: Api<Service> = Api::namespaced(store.clone(), NS);
        let mut svc = service("web", &[("app", "web")], IntOrString::Int(8080));
        svc.spec.ip_families = vec!["IPv4".to_owned()];
        let svc = services.create(&svc).await.unwrap();

        let slices = until("one IPv4 slice with 3 endpoints", || async {
            let slices = slices_of(&store, "web").await;
            (slices.len() == 1 && slices[0].endpoints.len() == 3).then_some(slices)
        })
        .await;
        let slice = &slices[0];
        assert_eq!(slice.address_type, "IPv4");
        assert!(slice.metadata.name.starts_with("web-") && slice.metadata.name.len() > 4, "{}", slice.metadata.name);
        let labels = &slice.metadata.labels;
        assert_eq!(labels.get(LABEL_SERVICE_NAME).map(String::as_str), Some("web"));
        assert_eq!(labels.get(LABEL_MANAGED_BY).map(String::as_str), Some(ENDPOINT_SLICE_CONTROLLER_NAME));
        assert_eq!(labels.get("team").map(String::as_str), Some("blue"));
        let owner = slice.metadata.controller().expect("owned by the service");
        assert_eq!((owner.kind.as_str(), owner.uid.as_str()), ("Service", svc.metadata.uid.as_str()));
        assert_eq!(
            (slice.ports[0].name.as_deref(), slice.ports[0].port, slice.ports[0].protocol.as_deref()),
            (Some("web"), Some(8080), Some("TCP"))
        );
        let endpoint = |slice: &EndpointSlice, pod: &str| {
            slice.endpoints.iter().find(|e| e.target_ref.as_ref().unwrap().name == pod).cloned().unwrap()
        };
        let a = endpoint(slice, "a");
        assert_eq!(a.addresses, ["10.0.0.1"]);
        assert_eq!(a.node_name.as_deref(), Some("n1"));
        assert_eq!(a.target_ref.as_ref().unwrap().kind, "Pod");
        assert_eq!(
            a.conditions,
            EndpointConditions { ready: Some(true), serving: Some(true), terminating: Some(false) }
        );
        assert_eq!(
            endpoint(slice, "b").conditions,
            EndpointConditions { ready: Some(false), serving: Some(false), terminating: Some(false) }
        );

        // A terminating pod stays, serving but not ready.
        pods.delete("c", &DeleteOptions::default()).await.unwrap();
        let slices = until("c terminating", || async {
            let slices = slices_of(&store, "web").await;
            (slices.len() == 1 && endpoint(&slices[0], "c").conditions.terminating == Some(true)).then_some(slices)
        })
        .await;
        assert_eq!(
            endpoint(&slices[0], "c").conditions,
            EndpointConditions { ready: Some(false), serving: Some(true), terminating: Some(true) }
        );

        // A dual-stack headless service also gets an IPv6 slice.
        let mut headless = service("both", &[("app", "web")], IntOrString::Int(8080));
        headless.spec.cluster_ip = Some("None".to_owned());
        services.create(&headless).await.unwrap();
        let slices = until("IPv4 and IPv6 slices", || async {
            let slices = slices_of(&store, "both").await;
            (slices.len() == 2).then_some(slices)
        })
        .await;
        let v6 = slices.iter().find(|s| s.address_type == "IPv6").unwrap();
        assert_eq!(v6.endpoints.len(), 1);
        assert_eq!(v6.endpoints[0].addresses, ["fd00::6"]);
        assert!(v6.metadata.labels.contains_key(LABEL_HEADLESS));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slices_hold_at_most_100_endpoints_and_stale_ones_go() {
        let store = ObjectStore::in_memory();
        // The pods exist first, so the service's first reconcile sees them all.
        for i in 0..250 {
            let name = format!("big-{i:03}");
            let ip = format!("10.1.{}.{}", i / 200, i % 200 + 1);
            create_pod(&store, PodSpecOf { name: &name, app: "big", ip: &ip, node: "n1", ready: true, ports: &[] })
                .await;
        }
        let _stop = start(&store);
        let services: Api<Service> = Api::namespaced(store.clone(), NS);
        services.create(&service("big", &[("app", "big")], IntOrString::Int(8080))).await.unwrap();
        let slices = until("250 endpoints", || async {
            let slices = slices_of(&store, "big").await;
            (slices.iter().map(|s| s.endpoints.len()).sum::<usize>() == 250).then_some(slices)
        })
        .await;
        let mut sizes: Vec<usize> = slices.iter().map(|s| s.endpoints.len()).collect();
        sizes.sort_unstable();
        assert_eq!(sizes, [50, 100, 100]);

        // Scale down to the 100 pods of one slice: the others go.
        let pods: Api<Pod> = Api::namespaced(store.clone(), NS);
        let now = DeleteOptions { grace_period_seconds: Some(0), ..Default::default() };
        for i in 100..250 {
            pods.delete(&format!("big-{i:03}"), &now).await.unwrap();
        }
        let slices = until("one slice left", || async {
            let slices = slices_of(&store, "big").await;
            (slices.len() == 1).then_some(slices)
        })
        .await;
        assert_eq!(slices[0].endpoints.len(), 100);
        assert!(slices[0].endpoints.iter().all(|e| e.target_ref.as_ref().unwrap().name.as_str() < "big-100"));

        // No pods: one empty placeholder.
        for i in 0..100 {
            pods.delete(&format!("big-{i:03}"), &now).await.unwrap();
        }
        until("a placeholder", || async {
            let slices = slices_of(&store, "big").await;
            (slices.len() == 1 && slices[0].endpoints.is_empty()).then_some(())
        })
        .await;

        // The service's deletion takes its slices.
        services.delete("big", &DeleteOptions::default()).await.unwrap();
        until("no slices", || async { slices_of(&store, "big").await.is_empty().then_some(()) }).await;
    }

    #[test]
    fn slice_plan_keeps_endpoints_in_place_and_fills_room() {
        let mut svc = service("s", &[("app", "x")], IntOrString::Int(80));
        svc.metadata.uid = "svc-uid".to_owned();
        let pod = |i: usize| {
            let mut p = Pod { metadata: ObjectMeta::namespaced(NS, format!("p{i:02}")), ..Default::default() };
            p.metadata.uid = format!("uid-{i}");
            p.metadata.labels.insert("app".to_owned(), "x".to_owned());
            p.status = Some(PodStatus { pod_ip: Some(format!("10.0.0.{}", i + 1)), ..Default::default() });
            Arc::new(p)
        };
        let pods: Vec<Arc<Pod>> = (0..5).map(pod).collect();
        let plan = plan_slices(&svc, &pods, &[], 2);
        assert_eq!(plan.create.iter().map(|s| s.endpoints.len()).collect::<Vec<_>>(), [2, 2, 1]);
        // As written: named, and one stranger's slice.
        let mut existing: Vec<Arc<EndpointSlice>> = plan
            .create
            .into_iter()
            .enumerate()
            .map(|(i, mut s)| {
                s.metadata.name = format!("s-{i}");
                Arc::new(s)
            })
            .collect();
        let mut stranger = (*existing[0]).clone();
        stranger.metadata.name = "s-old".to_owned();
        stranger.metadata.owner_references[0].uid = "old-uid".to_owned();
        existing.push(Arc::new(stranger));
        // Nothing changed: only the stranger goes.
        let plan = plan_slices(&svc, &pods, &existing, 2);
        assert!(plan.create.is_empty() && plan.update.is_empty());
        assert_eq!(plan.delete.iter().map(|s| s.metadata.name.as_str()).collect::<Vec<_>>(), ["s-old"]);
        // p01 goes, p05 and p06 come: p05 fills s-0's room, p06 s-2's.
        let pods: Vec<Arc<Pod>> = [0, 2, 3, 4, 5, 6].into_iter().map(pod).collect();
        let plan = plan_slices(&svc, &pods, &existing[..3], 2);
        assert!(plan.create.is_empty() && plan.delete.is_empty());
        let updated: Vec<(&str, Vec<&str>)> = plan
            .update
            .iter()
            .map(|s| {
                (
                    s.metadata.name.as_str(),
                    s.endpoints.iter().map(|e| e.target_ref.as_ref().unwrap().name.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(updated, [("s-0", vec!["p00", "p05"]), ("s-2", vec!["p04", "p06"])]);
    }
}
