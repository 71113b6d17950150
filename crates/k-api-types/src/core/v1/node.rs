//! Node.

use std::collections::HashSet;
use std::net::IpAddr;

use super::common::validate_nonnegative_quantity;
use crate::meta::{ObjectMeta, Time};
use crate::quantity::ResourceList;
use crate::resource::{ALL_VERBS, Resource, metadata_field};
use crate::validation::net::parse_cidr;
use crate::validation::{
    ErrorList, FieldError, NameRule, Path, is_valid_label_value, qualified_name_errors, validate_object_meta,
    validate_object_meta_update,
};
use crate::{ApplyDefaults, Validate, wire};

/// Taint effects.
const TAINT_EFFECTS: &[&str] = &["NoExecute", "NoSchedule", "PreferNoSchedule"];

/// A worker machine of the cluster (cluster-scoped).
#[wire]
pub struct Node {
    /// APIVersion of the object (`v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`Node`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// Desired configuration: pod CIDRs, taints, schedulability.
    #[wire(omitempty)]
    pub spec: NodeSpec,
    /// Observed state, reported by the kubelet.
    pub status: Option<NodeStatus>,
}
crate::impl_resource!(Node {
    group: "",
    version: "v1",
    kind: "Node",
    plural: "nodes",
    singular: "node",
    short_names: ["no"],
    categories: [],
    namespaced: false,
    verbs: ALL_VERBS,
    subresources: ["status", "proxy"],
    selectable_fields: ["spec.unschedulable"],
    field_value: node_field_value
});
/// A list of nodes.
pub type NodeList = crate::meta::ObjectList<Node>;

fn node_field_value(node: &Node, field: &str) -> Option<String> {
    match field {
        "spec.unschedulable" => Some(node.spec.unschedulable.unwrap_or(false).to_string()),
        _ => metadata_field(node.metadata(), field),
    }
}

/// Desired configuration of a node.
#[wire]
pub struct NodeSpec {
    /// Pod IP range of the node (the first of `podCIDRs`).
    #[serde(rename = "podCIDR")]
    pub pod_cidr: Option<String>,
    /// Pod IP ranges of the node, at most one per IP family.
    #[serde(rename = "podCIDRs")]
    pub pod_cidrs: Vec<String>,
    /// Cloud provider id of the node: `<ProviderName>://<ProviderSpecificNodeID>`.
    #[serde(rename = "providerID")]
    pub provider_id: Option<String>,
    /// Whether new pods may not be scheduled onto the node (cordoned).
    pub unschedulable: Option<bool>,
    /// Taints of the node.
    pub taints: Vec<Taint>,
    /// Deprecated: dynamic kubelet config source (no longer used).
    pub config_source: Option<NodeConfigSource>,
    /// Deprecated: external id of the node.
    #[serde(rename = "externalID")]
    pub external_id: Option<String>,
}

/// A taint: pods that do not tolerate it are repelled from the node.
#[wire(eq)]
pub struct Taint {
    /// Taint key.
    pub key: String,
    /// Taint value.
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: String,
    /// When a `NoExecute` taint was added.
    pub time_added: Option<Time>,
}

/// Deprecated source of node configuration.
#[wire(eq)]
pub struct NodeConfigSource {
    /// A ConfigMap holding the configuration.
    pub config_map: Option<ConfigMapNodeConfigSource>,
}

/// A ConfigMap holding node configuration.
#[wire(eq)]
pub struct ConfigMapNodeConfigSource {
    /// Namespace of the ConfigMap.
    pub namespace: String,
    /// Name of the ConfigMap.
    pub name: String,
    /// UID of the ConfigMap.
    pub uid: Option<String>,
    /// ResourceVersion of the ConfigMap.
    pub resource_version: Option<String>,
    /// Key of the kubelet configuration in the ConfigMap.
    pub kubelet_config_key: String,
}

/// Observed state of a node.
#[wire]
pub struct NodeStatus {
    /// Total resources of the node.
    #[wire(omitempty)]
    pub capacity: ResourceList,
    /// Resources available for scheduling (defaults to `capacity`).
    #[wire(omitempty)]
    pub allocatable: ResourceList,
    /// Deprecated lifecycle phase.
    pub phase: Option<String>,
    /// Conditions (`Ready`, `MemoryPressure`, `DiskPressure`, …).
    pub conditions: Vec<NodeCondition>,
    /// Addresses of the node.
    pub addresses: Vec<NodeAddress>,
    /// Ports of daemons on the node. Always written, as Go writes it.
    pub daemon_endpoints: NodeDaemonEndpoints,
    /// Versions and ids of the node's software. Always written, as Go writes it.
    pub node_info: NodeSystemInfo,
    /// Container images on the node.
    pub images: Vec<ContainerImage>,
    /// Volumes in use (mounted) on the node.
    pub volumes_in_use: Vec<String>,
    /// Volumes attached to the node.
    pub volumes_attached: Vec<AttachedVolume>,
    /// Deprecated: status of the dynamic kubelet config.
    pub config: Option<NodeConfigStatus>,
    /// Runtime handlers available on the node.
    pub runtime_handlers: Vec<NodeRuntimeHandler>,
    /// Features supported by the node's kubelet and runtime.
    pub features: Option<NodeFeatures>,
}

/// A condition of a node.
#[wire]
pub struct NodeCondition {
    /// Condition type, such as `Ready`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// When the condition was last reported.
    pub last_heartbeat_time: Option<Time>,
    /// When the condition last changed status.
    pub last_transition_time: Option<Time>,
    /// Machine-readable CamelCase reason.
    pub reason: Option<String>,
    /// Human-readable message.
    pub message: Option<String>,
}

/// An address of a node.
#[wire(eq)]
pub struct NodeAddress {
    /// `Hostname`, `InternalIP`, `ExternalIP`, `InternalDNS` or `ExternalDNS`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The address.
    pub address: String,
}

/// Ports of daemons running on a node.
#[wire(eq)]
pub struct NodeDaemonEndpoints {
    /// The kubelet's port. Always written, as Go writes it.
    pub kubelet_endpoint: DaemonEndpoint,
}

/// A daemon's port.
#[wire(eq)]
pub struct DaemonEndpoint {
    /// Port number.
    #[serde(rename = "Port")]
    #[wire(always)]
    pub port: i32,
}

/// Versions and ids of a node's software, as the kubelet reports them.
#[wire(eq)]
pub struct NodeSystemInfo {
    /// Machine id (`/etc/machine-id`).
    #[serde(rename = "machineID")]
    pub machine_id: String,
    /// System UUID.
    #[serde(rename = "systemUUID")]
    pub system_uuid: String,
    /// Boot id.
    #[serde(rename = "bootID")]
    pub boot_id: String,
    /// Kernel version (`uname -r`).
    pub kernel_version: String,
    /// OS image (`/etc/os-release` PRETTY_NAME).
    pub os_image: String,
    /// Container runtime version, such as `containerd://1.7.0`.
    pub container_runtime_version: String,
    /// Kubelet version.
    pub kubelet_version: String,
    /// Deprecated: kube-proxy version.
    pub kube_proxy_version: String,
    /// Operating system (`linux`, `windows`).
    pub operating_system: String,
    /// Architecture (`amd64`, `arm64`).
    pub architecture: String,
    /// Swap information.
    pub swap: Option<NodeSwapStatus>,
}

/// Swap memory of a node.
#[wire(eq)]
pub struct NodeSwapStatus {
    /// Total swap in bytes.
    pub capacity: Option<i64>,
}

/// A container image stored on a node.
#[wire(eq)]
pub struct ContainerImage {
    /// Names of the image (tags and digests).
    pub names: Vec<String>,
    /// Size of the image in bytes.
    pub size_bytes: Option<i64>,
}

/// A volume attached to a node.
#[wire(eq)]
pub struct AttachedVolume {
    /// Name of the attached volume.
    pub name: String,
    /// Device path where the volume should be available.
    pub device_path: String,
}

/// Deprecated status of the dynamic kubelet configuration.
#[wire(eq)]
pub struct NodeConfigStatus {
    /// Config the node will try to use.
    pub assigned: Option<NodeConfigSource>,
    /// Config the node is using.
    pub active: Option<NodeConfigSource>,
    /// Last config known to work.
    pub last_known_good: Option<NodeConfigSource>,
    /// Error reconciling the config.
    pub error: Option<String>,
}

/// A runtime handler (such as `runc`, `kata`) available on a node.
#[wire(eq)]
pub struct NodeRuntimeHandler {
    /// Handler name; empty for the default handler.
    pub name: String,
    /// Features the handler supports.
    pub features: Option<NodeRuntimeHandlerFeatures>,
}

/// Features of a runtime handler.
#[wire(eq)]
pub struct NodeRuntimeHandlerFeatures {
    /// Recursive read-only mounts.
    pub recursive_read_only_mounts: Option<bool>,
    /// User namespaces.
    pub user_namespaces: Option<bool>,
}

/// Features of a node's kubelet and runtime.
#[wire(eq)]
pub struct NodeFeatures {
    /// Fine-grained supplemental groups policy.
    pub supplemental_groups_policy: Option<bool>,
}

impl ApplyDefaults for Node {
    /// `status.allocatable` defaults to `status.capacity`.
    fn apply_defaults(&mut self) {
        if let Some(status) = &mut self.status
            && status.allocatable.is_empty()
            && !status.capacity.is_empty()
        {
            status.allocatable = status.capacity.clone();
        }
    }
}

fn validate_taints(taints: &[Taint], path: &Path, errors: &mut ErrorList) {
    let mut seen = HashSet::new();
    for (i, t) in taints.iter().enumerate() {
        let p = path.index(i);
        for msg in qualified_name_errors(&t.key) {
            errors.push(FieldError::invalid(&p.child("key"), &t.key, msg));
        }
        if let Some(v) = t.value.as_deref()
            && !is_valid_label_value(v)
        {
            errors.push(FieldError::invalid(&p.child("value"), v, "must be a valid label value"));
        }
        if t.effect.is_empty() {
            errors.push(FieldError::required(&p.child("effect"), ""));
        } else if !TAINT_EFFECTS.contains(&t.effect.as_str()) {
            errors.push(FieldError::not_supported(&p.child("effect"), &t.effect, TAINT_EFFECTS));
        }
        if !seen.insert((t.key.as_str(), t.effect.as_str())) {
            errors.push(FieldError::duplicate(&p, format!("{}:{}", t.key, t.effect)));
        }
    }
}

fn validate_node_spec(spec: &NodeSpec, errors: &mut ErrorList) {
    let path = Path::new("spec");
    if let Some(cidr) = spec.pod_cidr.as_deref()
        && !cidr.is_empty()
        && parse_cidr(cidr).is_none()
    {
        errors.push(FieldError::invalid(&path.child("podCIDR"), cidr, "must be a valid CIDR"));
    }
    let cidrs = path.child("podCIDRs");
    let mut families: Vec<IpAddr> = Vec::new();
    for (i, c) in spec.pod_cidrs.iter().enumerate() {
        match parse_cidr(c) {
            None => errors.push(FieldError::invalid(&cidrs.index(i), c, "must be a valid CIDR")),
            Some((ip, _)) => families.push(ip),
        }
    }
    if spec.pod_cidrs.len() > 2 || (families.len() == 2 && families[0].is_ipv4() == families[1].is_ipv4()) {
        errors.push(FieldError::invalid(
            &cidrs,
            &spec.pod_cidrs,
            "may specify no more than one CIDR for each IP family",
        ));
    }
    if let (Some(first), Some(cidr)) = (spec.pod_cidrs.first(), spec.pod_cidr.as_deref())
        && !cidr.is_empty()
        && first != cidr
    {
        errors.push(FieldError::invalid(&cidrs, &spec.pod_cidrs, "the first CIDR must match podCIDR"));
    }
    validate_taints(&spec.taints, &path.child("taints"), errors);
}

fn validate_node_status(status: Option<&NodeStatus>, errors: &mut ErrorList) {
    let Some(status) = status else { return };
    let path = Path::new("status");
    for (field, list) in [("capacity", &status.capacity), ("allocatable", &status.allocatable)] {
        for (k, q) in list {
            validate_nonnegative_quantity(q, &path.child(field).key(k), errors);
        }
    }
}

impl Validate for Node {
    fn validate(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta(&self.metadata, false, NameRule::Subdomain, &mut errors);
        validate_node_spec(&self.spec, &mut errors);
        validate_node_status(self.status.as_ref(), &mut errors);
        errors
    }

    /// `podCIDRs` and `providerID` may only change from unset to set.
    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, false, NameRule::Subdomain, &mut errors);
        validate_node_spec(&self.spec, &mut errors);
        validate_node_status(self.status.as_ref(), &mut errors);
        let path = Path::new("spec");
        if !old.spec.pod_cidrs.is_empty() && self.spec.pod_cidrs != old.spec.pod_cidrs {
            errors.push(FieldError::forbidden(
                &path.child("podCIDRs"),
                "node updates may not change podCIDR except from \"\" to valid",
            ));
        }
        if old.spec.provider_id.as_deref().is_some_and(|p| !p.is_empty())
            && self.spec.provider_id != old.spec.provider_id
        {
            errors.push(FieldError::forbidden(
                &path.child("providerID"),
                "node updates may not change providerID except from \"\" to valid",
            ));
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::{causes, expect};
    use super::*;

    fn node() -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": "node-1"},
            "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"], "taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}
        }))
        .unwrap()
    }

    #[test]
    fn round_trip() {
        let v = json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "node-1", "labels": {"kubernetes.io/hostname": "node-1"}},
            "spec": {
                "podCIDR": "10.244.1.0/24",
                "podCIDRs": ["10.244.1.0/24", "fd00:10:244:1::/64"],
                "providerID": "aws:///us-east-1a/i-123",
                "unschedulable": true,
                "taints": [
                    {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": "2026-01-02T03:04:05Z"},
                    {"key": "dedicated", "value": "gpu", "effect": "NoExecute"}
                ],
                "configSource": {"configMap": {"namespace": "kube-system", "name": "kc", "uid": "u", "resourceVersion": "1", "kubeletConfigKey": "kubelet"}},
                "externalID": "i-123"
            },
            "status": {
                "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                "allocatable": {"cpu": "3800m", "memory": "15Gi", "pods": "110"},
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2026-01-02T03:04:05Z",
                                "lastTransitionTime": "2026-01-01T00:00:00Z", "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
                "addresses": [{"type": "InternalIP", "address": "10.0.0.5"}, {"type": "Hostname", "address": "node-1"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {
                    "machineID": "m", "systemUUID": "s", "bootID": "b", "kernelVersion": "6.8.0", "osImage": "Ubuntu 24.04",
                    "containerRuntimeVersion": "containerd://1.7.0", "kubeletVersion": "v1.32.0", "kubeProxyVersion": "",
                    "operatingSystem": "linux", "architecture": "amd64", "swap": {"capacity": 1073741824}
                },
                "images": [{"names": ["registry.k8s.io/pause:3.10"], "sizeBytes": 320368}],
                "volumesInUse": ["kubernetes.io/csi/ebs^vol-1"],
                "volumesAttached": [{"name": "kubernetes.io/csi/ebs^vol-1", "devicePath": ""}],
                "config": {"active": {"configMap": {"namespace": "kube-system", "name": "kc", "kubeletConfigKey": "kubelet"}}, "error": "e"},
                "runtimeHandlers": [{"name": "", "features": {"recursiveReadOnlyMounts": true, "userNamespaces": false}}, {"name": "runc"}],
                "features": {"supplementalGroupsPolicy": true}
            }
        });
        let n: Node = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&n).unwrap(), v);
        assert!(n.validate().is_empty(), "{:?}", n.validate());
        // Go writes daemonEndpoints and nodeInfo even when empty.
        let bare = Node { status: Some(NodeStatus::default()), ..Default::default() };
        assert_eq!(
            serde_json::to_value(&bare).unwrap()["status"],
            json!({"daemonEndpoints": {"kubeletEndpoint": {"Port": 0}}, "nodeInfo": {
                "machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "", "osImage": "",
                "containerRuntimeVersion": "", "kubeletVersion": "", "kubeProxyVersion": "", "operatingSystem": "", "architecture": ""
            }})
        );
    }

    #[test]
    fn info_fields_defaults() {
        assert_eq!(Node::INFO.short_names, ["no"]);
        const { assert!(!Node::INFO.namespaced) };
        assert_eq!(Node::INFO.subresources, ["status", "proxy"]);
        let mut n = node();
        assert_eq!(n.field_value("spec.unschedulable").as_deref(), Some("false"));
        n.spec.unschedulable = Some(true);
        assert_eq!(n.field_value("spec.unschedulable").as_deref(), Some("true"));
        assert_eq!(n.field_value("metadata.name").as_deref(), Some("node-1"));
        assert_eq!(n.field_value("spec.podCIDR"), None);

        let mut with_status: Node = serde_json::from_value(json!({"status": {"capacity": {"cpu": "4"}}})).unwrap();
        with_status.apply_defaults();
        assert_eq!(
            serde_json::to_value(&with_status.status.as_ref().unwrap().allocatable).unwrap(),
            json!({"cpu": "4"})
        );
        let mut kept: Node =
            serde_json::from_value(json!({"status": {"capacity": {"cpu": "4"}, "allocatable": {"cpu": "3"}}})).unwrap();
        kept.apply_defaults();
        assert_eq!(serde_json::to_value(&kept.status.as_ref().unwrap().allocatable).unwrap(), json!({"cpu": "3"}));
        let mut empty = Node::default();
        empty.apply_defaults();
        assert_eq!(empty, Node::default());
    }

    #[test]
    fn validation() {
        type Case = (&'static str, fn(&mut Node), &'static [(&'static str, &'static str)]);
        let cases: &[Case] = &[
            ("valid", |_| {}, &[]),
            (
                "bad podCIDR",
                |n| n.spec.pod_cidr = Some("10.244.1.0/33".into()),
                &[("spec.podCIDR", "FieldValueInvalid"), ("spec.podCIDRs", "FieldValueInvalid")],
            ),
            (
                "bad podCIDRs",
                |n| n.spec.pod_cidrs = vec!["10.244.1.0/24".into(), "nope".into()],
                &[("spec.podCIDRs[1]", "FieldValueInvalid")],
            ),
            (
                "two v4 CIDRs",
                |n| n.spec.pod_cidrs = vec!["10.244.1.0/24".into(), "10.245.1.0/24".into()],
                &[("spec.podCIDRs", "FieldValueInvalid")],
            ),
            (
                "bad taint key",
                |n| n.spec.taints[0].key = "bad key".into(),
                &[("spec.taints[0].key", "FieldValueInvalid")],
            ),
            (
                "bad taint effect",
                |n| n.spec.taints[0].effect = "NoRun".into(),
                &[("spec.taints[0].effect", "FieldValueNotSupported")],
            ),
            (
                "missing taint effect",
                |n| n.spec.taints[0].effect.clear(),
                &[("spec.taints[0].effect", "FieldValueRequired")],
            ),
            (
                "duplicate taint",
                |n| {
                    n.spec.taints.push(Taint {
                        key: "dedicated".into(),
                        value: Some("cpu".into()),
                        effect: "NoSchedule".into(),
                        time_added: None,
                    })
                },
                &[("spec.taints[1]", "FieldValueDuplicate")],
            ),
            (
                "same key other effect",
                |n| {
                    n.spec.taints.push(Taint {
                        key: "dedicated".into(),
                        value: None,
                        effect: "NoExecute".into(),
                        time_added: None,
                    })
                },
                &[],
            ),
            (
                "negative capacity",
                |n| {
                    n.status = Some(NodeStatus::default());
                    if let Some(s) = &mut n.status {
                        s.capacity.insert("cpu".into(), "-1".parse().unwrap());
                    }
                },
                &[("status.capacity[cpu]", "FieldValueInvalid")],
            ),
        ];
        for (name, mutate, want) in cases {
            let mut n = node();
            mutate(&mut n);
            assert_eq!(causes(&n.validate()), expect(want), "{name}");
        }
    }

    #[test]
    fn update() {
        let mut old = node();
        old.spec.provider_id = Some("aws:///a/i-1".into());
        let mut cordoned = old.clone();
        cordoned.spec.unschedulable = Some(true);
        assert!(cordoned.validate_update(&old).is_empty());
        let mut changed = old.clone();
        changed.spec.pod_cidr = Some("10.244.2.0/24".into());
        changed.spec.pod_cidrs = vec!["10.244.2.0/24".into()];
        changed.spec.provider_id = Some("aws:///a/i-2".into());
        assert_eq!(
            causes(&changed.validate_update(&old)),
            expect(&[("spec.podCIDRs", "FieldValueForbidden"), ("spec.providerID", "FieldValueForbidden")])
        );
        let fresh = Node::named("node-2");
        let mut assigned = fresh.clone();
        assigned.spec.pod_cidrs = vec!["10.244.3.0/24".into()];
        assigned.spec.provider_id = Some("aws:///a/i-3".into());
        assert!(assigned.validate_update(&fresh).is_empty());
    }
}
