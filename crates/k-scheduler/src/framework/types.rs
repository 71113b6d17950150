//! What plugins read: pods and nodes with their resources as integers,
//! computed once when the pod or node enters the scheduler, not per plugin
//! and node.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use k_api_types::SortedMap;
use k_api_types::core::v1::{Container, Node, Pod, PodAffinityTerm, WeightedPodAffinityTerm};
use k_api_types::quantity::ResourceList;
use k_api_types::selector::label::Selector;

/// CPU a container without a CPU request counts as, for scoring (millicores).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Memory a container without a memory request counts as, for scoring (bytes).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;
/// The highest score a node gets from one plugin.
pub const MAX_NODE_SCORE: i64 = 100;

/// Amounts of resources, as kube-scheduler keeps them: CPU in millicores,
/// memory and ephemeral storage in bytes, a pod count, and every other
/// (extended, hugepages) resource by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resource {
    /// CPU, in millicores.
    pub milli_cpu: i64,
    /// Memory, in bytes.
    pub memory: i64,
    /// Ephemeral storage, in bytes.
    pub ephemeral_storage: i64,
    /// Pods (for allocatable: how many fit).
    pub allowed_pod_number: i64,
    /// Everything else, by resource name.
    pub scalar: BTreeMap<String, i64>,
}

impl Resource {
    /// The amounts of a resource list (`cpu` in millicores, the rest as values).
    pub fn from_list(list: &ResourceList) -> Self {
        let mut resource = Resource::default();
        for (name, quantity) in list.iter() {
            match name.as_str() {
                "cpu" => resource.milli_cpu = quantity.milli_value(),
                "memory" => resource.memory = quantity.value(),
                "ephemeral-storage" => resource.ephemeral_storage = quantity.value(),
                "pods" => resource.allowed_pod_number = quantity.value(),
                other => {
                    resource.scalar.insert(other.to_owned(), quantity.value());
                }
            }
        }
        resource
    }

    /// The amount of a resource resolved with [`ResourceKey::of`].
    pub fn get_key(&self, key: &ResourceKey) -> i64 {
        match key {
            ResourceKey::Cpu => self.milli_cpu,
            ResourceKey::Memory => self.memory,
            ResourceKey::EphemeralStorage => self.ephemeral_storage,
            ResourceKey::Pods => self.allowed_pod_number,
            ResourceKey::Scalar(name) => self.scalar.get(name).copied().unwrap_or(0),
        }
    }

    /// The amount of `name` (`cpu` in millicores).
    pub fn get(&self, name: &str) -> i64 {
        match name {
            "cpu" => self.milli_cpu,
            "memory" => self.memory,
            "ephemeral-storage" => self.ephemeral_storage,
            "pods" => self.allowed_pod_number,
            other => self.scalar.get(other).copied().unwrap_or(0),
        }
    }

    /// Adds `other` to this.
    pub fn add(&mut self, other: &Resource) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        self.allowed_pod_number += other.allowed_pod_number;
        for (name, amount) in &other.scalar {
            *self.scalar.entry(name.clone()).or_default() += amount;
        }
    }

    /// Takes `other` from this.
    pub fn sub(&mut self, other: &Resource) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        self.allowed_pod_number -= other.allowed_pod_number;
        for (name, amount) in &other.scalar {
            *self.scalar.entry(name.clone()).or_default() -= amount;
        }
    }

    /// Raises each amount to at least `other`'s.
    pub fn max_with(&mut self, other: &Resource) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        self.allowed_pod_number = self.allowed_pod_number.max(other.allowed_pod_number);
        for (name, amount) in &other.scalar {
            let mine = self.scalar.entry(name.clone()).or_default();
            *mine = (*mine).max(*amount);
        }
    }

    /// Whether every amount is zero.
    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.allowed_pod_number == 0
            && self.scalar.values().all(|v| *v == 0)
    }
}

/// A resource name resolved once, so plugins that look up the same
/// resources on every node compare no strings.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ResourceKey {
    /// `cpu`.
    Cpu,
    /// `memory`.
    Memory,
    /// `ephemeral-storage`.
    EphemeralStorage,
    /// `pods`.
    Pods,
    /// Any other (extended) resource.
    Scalar(String),
}

impl ResourceKey {
    /// The key of a resource name.
    pub fn of(name: &str) -> Self {
        match name {
            "cpu" => ResourceKey::Cpu,
            "memory" => ResourceKey::Memory,
            "ephemeral-storage" => ResourceKey::EphemeralStorage,
            "pods" => ResourceKey::Pods,
            other => ResourceKey::Scalar(other.to_owned()),
        }
    }

    /// Whether it is an extended (scalar) resource.
    pub fn is_scalar(&self) -> bool {
        matches!(self, ResourceKey::Scalar(_))
    }
}

/// A host port a pod takes on its node.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// The host address (`0.0.0.0` when not given: every address).
    pub ip: String,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// The port.
    pub port: i32,
}

impl HostPort {
    /// Whether two host ports collide (same protocol and port, and the same
    /// address or either on every address).
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == "0.0.0.0" || other.ip == "0.0.0.0")
    }
}

/// A pod-affinity term, parsed once (kube-scheduler's `AffinityTerm`).
#[derive(Clone, Debug)]
pub struct AffinityTerm {
    /// The namespaces whose pods it looks at: the term's `namespaces`, or
    /// the pod's own namespace when neither these nor a namespace selector
    /// are given.
    pub namespaces: BTreeSet<String>,
    /// Which pods it matches (`labelSelector`; none given matches nothing).
    pub selector: Selector,
    /// The node label defining a domain (zone, hostname…).
    pub topology_key: String,
    /// Namespaces (by their labels) whose pods it looks at too
    /// (`namespaceSelector`; none given matches no namespace, `{}` all).
    pub namespace_selector: Selector,
}

impl AffinityTerm {
    /// Parses `term` of a pod in `namespace`.
    pub fn parse(term: &PodAffinityTerm, namespace: &str) -> Result<Self, String> {
        let selector = match &term.label_selector {
            Some(s) => Selector::try_from(s).map_err(|e| format!("labelSelector: {e}"))?,
            None => Selector::nothing(),
        };
        let namespace_selector = match &term.namespace_selector {
            Some(s) => Selector::try_from(s).map_err(|e| format!("namespaceSelector: {e}"))?,
            None => Selector::nothing(),
        };
        let mut namespaces: BTreeSet<String> = term.namespaces.iter().cloned().collect();
        if namespaces.is_empty() && term.namespace_selector.is_none() {
            namespaces.insert(namespace.to_owned());
        }
        Ok(AffinityTerm { namespaces, selector, topology_key: term.topology_key.clone(), namespace_selector })
    }

    /// Whether the term matches `pod`, whose namespace has `namespace_labels`.
    pub fn matches(&self, pod: &Pod, namespace_labels: &SortedMap<String, String>) -> bool {
        (self.namespaces.contains(&pod.metadata.namespace) || self.namespace_selector.matches(namespace_labels))
            && self.selector.matches(&pod.metadata.labels)
    }
}

/// A preferred pod-affinity term with its weight.
#[derive(Clone, Debug)]
pub struct WeightedAffinityTerm {
    /// The term.
    pub term: AffinityTerm,
    /// Its weight (1–100).
    pub weight: i64,
}

fn parse_terms(terms: &[PodAffinityTerm], namespace: &str, errors: &mut Vec<String>) -> Vec<AffinityTerm> {
    terms.iter().filter_map(|t| AffinityTerm::parse(t, namespace).map_err(|e| errors.push(e)).ok()).collect()
}

fn parse_weighted(
    terms: &[WeightedPodAffinityTerm],
    namespace: &str,
    errors: &mut Vec<String>,
) -> Vec<WeightedAffinityTerm> {
    terms
        .iter()
        .filter_map(|t| {
            let term = AffinityTerm::parse(&t.pod_affinity_term, namespace).map_err(|e| errors.push(e)).ok()?;
            Some(WeightedAffinityTerm { term, weight: i64::from(t.weight) })
        })
        .collect()
}

/// A pod as plugins see it: the object and what is computed from it once.
#[derive(Clone, Debug)]
pub struct PodInfo {
    /// The pod.
    pub pod: Arc<Pod>,
    /// What it requests: the sum over its containers, or the largest init
    /// container when larger, per resource, plus the pod overhead.
    pub requests: Resource,
    /// The same with CPU and memory defaulted for containers that ask for
    /// none ([`DEFAULT_MILLI_CPU_REQUEST`], [`DEFAULT_MEMORY_REQUEST`]); for scoring.
    pub non_zero_requests: Resource,
    /// The host ports its containers take.
    pub host_ports: Vec<HostPort>,
    /// Its init and regular containers' images, with `:latest` added to
    /// untagged names (as ImageLocality looks them up).
    pub images: Vec<String>,
    /// Required pod-affinity terms.
    pub required_affinity_terms: Vec<AffinityTerm>,
    /// Required pod-anti-affinity terms.
    pub required_anti_affinity_terms: Vec<AffinityTerm>,
    /// Preferred pod-affinity terms.
    pub preferred_affinity_terms: Vec<WeightedAffinityTerm>,
    /// Preferred pod-anti-affinity terms.
    pub preferred_anti_affinity_terms: Vec<WeightedAffinityTerm>,
    /// Why some affinity term could not be parsed (such a pod is
    /// unschedulable until fixed).
    pub parse_error: Option<String>,
}

/// `name`, with `:latest` when it has no tag (an untagged name means the
/// latest image).
pub fn normalized_image_name(name: &str) -> String {
    let tag = name.rfind(':');
    let path = name.rfind('/');
    if tag.is_none() || tag < path { format!("{name}:latest") } else { name.to_owned() }
}

fn container_requests(container: &Container, non_zero: bool) -> Resource {
    let requests = container.resources.as_ref().map(|r| &r.requests);
    let mut resource = requests.map(Resource::from_list).unwrap_or_default();
    if non_zero {
        if requests.is_none_or(|r| !r.contains_key("cpu")) {
            resource.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if requests.is_none_or(|r| !r.contains_key("memory")) {
            resource.memory = DEFAULT_MEMORY_REQUEST;
        }
    }
    resource
}

fn pod_requests(pod: &Pod, non_zero: bool) -> Resource {
    let mut total = Resource::default();
    for container in &pod.spec.containers {
        total.add(&container_requests(container, non_zero));
    }
    for container in &pod.spec.init_containers {
        total.max_with(&container_requests(container, non_zero));
    }
    if !pod.spec.overhead.is_empty() {
        total.add(&Resource::from_list(&pod.spec.overhead));
    }
    total
}

impl PodInfo {
    /// Computes what plugins need from `pod`.
    pub fn new(pod: Arc<Pod>) -> Self {
        let requests = pod_requests(&pod, false);
        let non_zero_requests = pod_requests(&pod, true);
        let host_ports = pod
            .spec
            .containers
            .iter()
            .chain(&pod.spec.init_containers)
            .flat_map(|c| &c.ports)
            .filter_map(|p| {
                let port = p.host_port.filter(|p| *p > 0)?;
                Some(HostPort {
                    ip: p.host_ip.clone().filter(|ip| !ip.is_empty()).unwrap_or_else(|| "0.0.0.0".to_owned()),
                    protocol: p.protocol.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "TCP".to_owned()),
                    port,
                })
            })
            .collect();
        let images = pod
            .spec
            .init_containers
            .iter()
            .chain(&pod.spec.containers)
            .map(|c| normalized_image_name(c.image.as_deref().unwrap_or_default()))
            .collect();
        let namespace = pod.metadata.namespace.as_str();
        let affinity = pod.spec.affinity.as_deref();
        let pod_affinity = affinity.and_then(|a| a.pod_affinity.as_ref());
        let anti_affinity = affinity.and_then(|a| a.pod_anti_affinity.as_ref());
        let mut errors = Vec::new();
        let required_affinity_terms = pod_affinity
            .map(|a| parse_terms(&a.required_during_scheduling_ignored_during_execution, namespace, &mut errors))
            .unwrap_or_default();
        let required_anti_affinity_terms = anti_affinity
            .map(|a| parse_terms(&a.required_during_scheduling_ignored_during_execution, namespace, &mut errors))
            .unwrap_or_default();
        let preferred_affinity_terms = pod_affinity
            .map(|a| parse_weighted(&a.preferred_during_scheduling_ignored_during_execution, namespace, &mut errors))
            .unwrap_or_default();
        let preferred_anti_affinity_terms = anti_affinity
            .map(|a| parse_weighted(&a.preferred_during_scheduling_ignored_during_execution, namespace, &mut errors))
            .unwrap_or_default();
        let parse_error = (!errors.is_empty()).then(|| errors.join("; "));
        PodInfo {
            pod,
            requests,
            non_zero_requests,
            host_ports,
            images,
            required_affinity_terms,
            required_anti_affinity_terms,
            preferred_affinity_terms,
            preferred_anti_affinity_terms,
            parse_error,
        }
    }

    /// Whether it has any pod-affinity or anti-affinity term.
    pub fn has_affinity(&self) -> bool {
        !(self.required_affinity_terms.is_empty()
            && self.required_anti_affinity_terms.is_empty()
            && self.preferred_affinity_terms.is_empty()
            && self.preferred_anti_affinity_terms.is_empty())
    }

    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.pod.metadata.namespace, self.pod.metadata.name)
    }
}

/// An image on a node, with how many nodes of the cluster have it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImageStateSummary {
    /// Its size in bytes.
    pub size: i64,
    /// How many nodes have it.
    pub num_nodes: i64,
}

/// A node as plugins see it: the object, the pods on it and their totals.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    /// The node.
    pub node: Arc<Node>,
    name: Arc<str>,
    /// The pods on it (running, or assumed by the scheduler). Change it
    /// only through [`add_pod`](Self::add_pod) and
    /// [`remove_pod`](Self::remove_pod), which keep the label index
    /// ([`pods_with_label`](Self::pods_with_label)) in step.
    pub pods: Vec<Arc<PodInfo>>,
    /// Its pods by namespace, label key and label value.
    labelled: LabelIndex,
    /// Those of its pods with any pod-affinity or anti-affinity term.
    pub pods_with_affinity: Vec<Arc<PodInfo>>,
    /// Those of its pods with required anti-affinity terms.
    pub pods_with_required_anti_affinity: Vec<Arc<PodInfo>>,
    /// What the node offers (`status.allocatable`).
    pub allocatable: Resource,
    /// The sum of its pods' requests.
    pub requested: Resource,
    /// The sum of its pods' non-zero requests (for scoring).
    pub non_zero_requested: Resource,
    /// Host ports its pods take.
    pub used_ports: Vec<HostPort>,
    /// Its images by every name they are known by, with cluster-wide counts
    /// (see [`NodeInfo::count_images`]).
    pub image_states: HashMap<String, ImageStateSummary>,
}

impl NodeInfo {
    /// A node without pods.
    pub fn new(node: Arc<Node>) -> Self {
        let status = node.status.as_ref();
        let allocatable = status.map(|s| Resource::from_list(&s.allocatable)).unwrap_or_default();
        let mut image_states = HashMap::new();
        for image in status.map(|s| s.images.as_slice()).unwrap_or_default() {
            for name in &image.names {
                image_states
                    .insert(name.clone(), ImageStateSummary { size: image.size_bytes.unwrap_or(0), num_nodes: 1 });
            }
        }
        NodeInfo {
            name: Arc::from(node.metadata.name.as_str()),
            node,
            pods: Vec::new(),
            labelled: LabelIndex::default(),
            pods_with_affinity: Vec::new(),
            pods_with_required_anti_affinity: Vec::new(),
            allocatable,
            requested: Resource::default(),
            non_zero_requested: Resource::default(),
            used_ports: Vec::new(),
            image_states,
        }
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node's name, shared (cloning it copies no text).
    pub fn shared_name(&self) -> Arc<str> {
        self.name.clone()
    }

    /// Places a pod on the node.
    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.non_zero_requested.add(&pod.non_zero_requests);
        self.used_ports.extend(pod.host_ports.iter().cloned());
        if pod.has_affinity() {
            self.pods_with_affinity.push(pod.clone());
        }
        if !pod.required_anti_affinity_terms.is_empty() {
            self.pods_with_required_anti_affinity.push(pod.clone());
        }
        let meta = &pod.pod.metadata;
        let by_key = self.labelled.entry(meta.namespace.clone()).or_default();
        for (key, value) in &meta.labels {
            by_key.entry(key.clone()).or_default().entry(value.clone()).or_default().push(pod.clone());
        }
        self.pods.push(pod);
    }

    /// Its pods in `namespace` labelled `key=value` (an index lookup), for
    /// counting the pods a selector matches without looking at all of them
    /// (see [`Selector::pinned_label`](k_api_types::selector::label::Selector::pinned_label)).
    pub fn pods_with_label(&self, namespace: &str, key: &str, value: &str) -> &[Arc<PodInfo>] {
        self.labelled
            .get(namespace)
            .and_then(|by_key| by_key.get(key))
            .and_then(|by_value| by_value.get(value))
            .map_or(&[], Vec::as_slice)
    }

    /// Takes a pod (by namespace and name) off the node; whether it was there.
    pub fn remove_pod(&mut self, namespace: &str, name: &str) -> bool {
        let Some(at) =
            self.pods.iter().position(|p| p.pod.metadata.namespace == namespace && p.pod.metadata.name == name)
        else {
            return false;
        };
        let pod = self.pods.swap_remove(at);
        let same = |p: &Arc<PodInfo>| Arc::ptr_eq(p, &pod);
        let meta = &pod.pod.metadata;
        if let Some(by_key) = self.labelled.get_mut(&meta.namespace) {
            for (key, value) in &meta.labels {
                let Some(by_value) = by_key.get_mut(key) else { continue };
                if let Some(list) = by_value.get_mut(value) {
                    if let Some(i) = list.iter().position(same) {
                        list.swap_remove(i);
                    }
                    if list.is_empty() {
                        by_value.remove(value);
                    }
                }
                if by_value.is_empty() {
                    by_key.remove(key);
                }
            }
            if by_key.is_empty() {
                self.labelled.remove(&meta.namespace);
            }
        }
        if let Some(i) = self.pods_with_affinity.iter().position(same) {
            self.pods_with_affinity.swap_remove(i);
        }
        if let Some(i) = self.pods_with_required_anti_affinity.iter().position(same) {
            self.pods_with_required_anti_affinity.swap_remove(i);
        }
        self.requested.sub(&pod.requests);
        self.non_zero_requested.sub(&pod.non_zero_requests);
        for port in &pod.host_ports {
            if let Some(i) = self.used_ports.iter().position(|p| p == port) {
                self.used_ports.swap_remove(i);
            }
        }
        true
    }

    /// Sets every node's image counts to how many of `nodes` have each image
    /// (ImageLocality spreads an image's score by it).
    pub fn count_images(nodes: &mut [NodeInfo]) {
        let mut counts: HashMap<String, i64> = HashMap::new();
        for node in nodes.iter() {
            for name in node.image_states.keys() {
                *counts.entry(name.clone()).or_default() += 1;
            }
        }
        for node in nodes.iter_mut() {
            for (name, state) in node.image_states.iter_mut() {
                state.num_nodes = counts.get(name).copied().unwrap_or(1);
            }
        }
    }
}

/// Pods by namespace → label key → label value (foldhash: looked up per
/// node per pod by the spreading plugins).
type LabelIndex = HashMap<String, HashMap<String, HashMap<String, Vec<Arc<PodInfo>>, Fast>, Fast>, Fast>;
type Fast = foldhash::fast::RandomState;

/// One node's score from one plugin (or in total).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeScore {
    /// The node.
    pub name: Arc<str>,
    /// Its score.
    pub score: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "default"}, "spec": spec})).unwrap(),
        )
    }

    #[test]
    fn requests_sum_containers_take_the_largest_init_container_and_add_overhead() {
        let info = PodInfo::new(pod(json!({
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi", "example.com/gpu": "1"}}},
                {"name": "b", "resources": {"requests": {"cpu": "250m"}}}
            ],
            "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "1", "memory": "32Mi"}}}],
            "overhead": {"cpu": "10m"}
        })));
        assert_eq!(info.requests.milli_cpu, 1010, "the init container's 1 CPU beats 500m, plus 10m overhead");
        assert_eq!(info.requests.memory, 64 << 20);
        assert_eq!(info.requests.scalar["example.com/gpu"], 1);
        // Non-zero: b asks no memory, so it counts 200 MiB for scoring.
        assert_eq!(info.non_zero_requests.memory, (64 << 20) + DEFAULT_MEMORY_REQUEST);
        assert_eq!(info.non_zero_requests.milli_cpu, 1010);
        let empty = PodInfo::new(pod(json!({"containers": [{"name": "a"}]})));
        assert!(empty.requests.is_zero());
        assert_eq!((empty.non_zero_requests.milli_cpu, empty.non_zero_requests.memory), (100, 200 << 20));
    }

    #[test]
    fn nodes_account_for_their_pods() {
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": "n1"},
            "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                       "images": [{"names": ["nginx:1.25", "docker.io/library/nginx:1.25"], "sizeBytes": 70000000}]}
        }))
        .unwrap();
        let mut info = NodeInfo::new(Arc::new(node));
        assert_eq!((info.allocatable.milli_cpu, info.allocatable.allowed_pod_number), (4000, 110));
        let web = Arc::new(PodInfo::new(pod(json!({"containers": [{"name": "a",
            "resources": {"requests": {"cpu": "500m"}}, "ports": [{"containerPort": 80, "hostPort": 8080}]}]}))));
        info.add_pod(web);
        assert_eq!(info.requested.milli_cpu, 500);
        assert_eq!(info.used_ports.len(), 1);
        assert!(info.remove_pod("default", "p"));
        assert!(info.requested.is_zero() && info.used_ports.is_empty());
        let mut nodes = vec![info.clone(), info];
        NodeInfo::count_images(&mut nodes);
        assert_eq!(nodes[0].image_states["nginx:1.25"], ImageStateSummary { size: 70_000_000, num_nodes: 2 });
    }

    #[test]
    fn the_label_index_follows_added_and_removed_pods() {
        let mut info = NodeInfo::new(Arc::new(Node::default()));
        let labelled = |ns: &str, name: &str, app: &str| {
            let pod: Pod = serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": ns, "labels": {"app": app, "tier": "web"}},
                "spec": {"containers": [{"name": "a"}]}
            }))
            .unwrap();
            Arc::new(PodInfo::new(Arc::new(pod)))
        };
        info.add_pod(labelled("a", "p1", "x"));
        info.add_pod(labelled("a", "p2", "x"));
        info.add_pod(labelled("a", "p3", "y"));
        info.add_pod(labelled("b", "p4", "x"));
        let names = |pods: &[Arc<PodInfo>]| {
            let mut names: Vec<String> = pods.iter().map(|p| p.pod.metadata.name.clone()).collect();
            names.sort();
            names
        };
        assert_eq!(names(info.pods_with_label("a", "app", "x")), ["p1", "p2"]);
        assert_eq!(names(info.pods_with_label("a", "tier", "web")), ["p1", "p2", "p3"]);
        assert_eq!(names(info.pods_with_label("b", "app", "x")), ["p4"]);
        assert!(info.pods_with_label("a", "app", "z").is_empty());
        assert!(info.remove_pod("a", "p1"));
        assert_eq!(names(info.pods_with_label("a", "app", "x")), ["p2"]);
        assert!(info.remove_pod("b", "p4"));
        assert!(info.pods_with_label("b", "app", "x").is_empty());
        assert!(!info.labelled.contains_key("b"), "emptied entries are dropped");
    }
}
