//! `Pod` and `PodTemplate`, the pod spec with its containers, volumes and
//! scheduling constraints, the pod status, and the small reference types the
//! other core/v1 kinds share (`ObjectReference`, `LocalObjectReference`, …).
//!
//! Submodules: [`container`] (containers, env, resources, security
//! contexts), [`probe`] (probes and lifecycle handlers), [`volume`] (volumes
//! and mounts), [`affinity`] (affinity, tolerations, spread constraints),
//! `defaults` (the Kubernetes defaults) and `validation` (create and update
//! rules).

use crate::SortedMap;

use crate::meta::{ObjectMeta, Time};
use crate::quantity::ResourceList;
use crate::resource::{ALL_VERBS, metadata_field};
use crate::wire;

mod affinity;
mod container;
mod defaults;
mod probe;
mod validation;
mod volume;

pub use affinity::*;
pub use container::*;
pub use probe::*;
pub use validation::{validate_pod_spec, validate_pod_template_spec};
pub use volume::*;

// ---------------------------------------------------------------------------
// Kinds
// ---------------------------------------------------------------------------

/// A group of containers scheduled together on one node.
#[wire]
pub struct Pod {
    /// APIVersion of the object (`v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`Pod`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// Desired state of the pod.
    #[wire(omitempty)]
    pub spec: PodSpec,
    /// Most recently observed state of the pod.
    pub status: Option<PodStatus>,
}

crate::impl_resource!(Pod {
    group: "",
    version: "v1",
    kind: "Pod",
    plural: "pods",
    singular: "pod",
    short_names: ["po"],
    categories: ["all"],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: [
        "status",
        "binding",
        "eviction",
        "log",
        "exec",
        "attach",
        "portforward",
        "proxy",
        "ephemeralcontainers",
        "resize"
    ],
    selectable_fields: [
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.podIPs",
        "status.nominatedNodeName",
    ],
    field_value: pod_field_value,
});

/// A list of pods.
pub type PodList = crate::meta::ObjectList<Pod>;

/// The field-selector values of a pod, as kube-apiserver computes them:
/// absent strings are `""`, `spec.hostNetwork` is `"true"`/`"false"`,
/// `status.podIP` is the first pod IP and `status.podIPs` all of them joined
/// by `,`.
fn pod_field_value(pod: &Pod, field: &str) -> Option<String> {
    let spec = &pod.spec;
    let status = pod.status.as_ref();
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    let value = match field {
        "spec.nodeName" => text(&spec.node_name),
        "spec.restartPolicy" => text(&spec.restart_policy),
        "spec.schedulerName" => text(&spec.scheduler_name),
        "spec.serviceAccountName" => text(&spec.service_account_name),
        "spec.hostNetwork" => spec.host_network.unwrap_or(false).to_string(),
        "status.phase" => status.map(|s| text(&s.phase)).unwrap_or_default(),
        "status.podIP" => status
            .and_then(|s| s.pod_ips.first().map(|ip| ip.ip.clone()).or_else(|| s.pod_ip.clone()))
            .unwrap_or_default(),
        "status.podIPs" => status
            .map(|s| {
                if s.pod_ips.is_empty() {
                    text(&s.pod_ip)
                } else {
                    s.pod_ips.iter().map(|ip| ip.ip.as_str()).collect::<Vec<_>>().join(",")
                }
            })
            .unwrap_or_default(),
        "status.nominatedNodeName" => status.map(|s| text(&s.nominated_node_name)).unwrap_or_default(),
        _ => return metadata_field(&pod.metadata, field),
    };
    Some(value)
}

/// A stored pod template that controllers and users can copy pods from.
#[wire]
pub struct PodTemplate {
    /// APIVersion of the object (`v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`PodTemplate`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// The pod template.
    #[wire(omitempty)]
    pub template: PodTemplateSpec,
}

crate::impl_resource!(PodTemplate {
    group: "",
    version: "v1",
    kind: "PodTemplate",
    plural: "podtemplates",
    singular: "podtemplate",
    short_names: [],
    categories: [],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: [],
    selectable_fields: [],
});

/// A list of pod templates.
pub type PodTemplateList = crate::meta::ObjectList<PodTemplate>;

/// A pod template, as workload controllers embed it.
#[wire]
pub struct PodTemplateSpec {
    /// Metadata of pods created from the template.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// Spec of pods created from the template.
    #[wire(omitempty)]
    pub spec: PodSpec,
}

// ---------------------------------------------------------------------------
// PodSpec
// ---------------------------------------------------------------------------

/// The desired state of a pod.
#[wire]
pub struct PodSpec {
    /// Volumes that containers of the pod can mount.
    pub volumes: Vec<Volume>,
    /// Containers run to completion, in order, before the app containers start.
    pub init_containers: Vec<Container>,
    /// The app containers of the pod (at least one).
    #[wire(always)]
    pub containers: Vec<Container>,
    /// Debugging containers added to a running pod (via the `ephemeralcontainers` subresource).
    pub ephemeral_containers: Vec<EphemeralContainer>,
    /// Restart policy of the containers: `Always` (default), `OnFailure` or `Never`.
    pub restart_policy: Option<String>,
    /// Seconds the pod gets to stop gracefully (default 30).
    pub termination_grace_period_seconds: Option<i64>,
    /// Seconds the pod may be active before the kubelet kills it.
    pub active_deadline_seconds: Option<i64>,
    /// DNS policy: `ClusterFirst` (default), `ClusterFirstWithHostNet`, `Default` or `None`.
    pub dns_policy: Option<String>,
    /// Labels a node must have for the pod to be scheduled onto it.
    pub node_selector: SortedMap<String, String>,
    /// Name of the service account the pod runs as.
    pub service_account_name: Option<String>,
    /// Deprecated alias of `serviceAccountName`.
    pub service_account: Option<String>,
    /// Whether a service account token is mounted automatically.
    pub automount_service_account_token: Option<bool>,
    /// The node the pod is bound to (set by the scheduler, or by the user to bypass it).
    pub node_name: Option<String>,
    /// Use the host's network namespace.
    pub host_network: Option<bool>,
    /// Use the host's PID namespace.
    #[serde(rename = "hostPID")]
    pub host_pid: Option<bool>,
    /// Use the host's IPC namespace.
    #[serde(rename = "hostIPC")]
    pub host_ipc: Option<bool>,
    /// Share one PID namespace between all containers of the pod.
    pub share_process_namespace: Option<bool>,
    /// Pod-level security attributes and common container settings.
    pub security_context: Option<Box<PodSecurityContext>>,
    /// Secrets used to pull the pod's images.
    pub image_pull_secrets: Vec<LocalObjectReference>,
    /// Hostname of the pod (defaults to the pod name).
    pub hostname: Option<String>,
    /// Subdomain of the pod's fully qualified hostname (`<hostname>.<subdomain>.<ns>.svc.<domain>`).
    pub subdomain: Option<String>,
    /// Node affinity, pod affinity and anti-affinity constraints.
    pub affinity: Option<Box<Affinity>>,
    /// Scheduler that schedules the pod (default `default-scheduler`).
    pub scheduler_name: Option<String>,
    /// Taints the pod tolerates.
    pub tolerations: Vec<Toleration>,
    /// Extra entries for the pod's `/etc/hosts`.
    pub host_aliases: Vec<HostAlias>,
    /// Name of the pod's PriorityClass.
    pub priority_class_name: Option<String>,
    /// Priority value (filled by the Priority admission plugin from the class).
    pub priority: Option<i32>,
    /// DNS parameters merged into the generated resolver configuration.
    pub dns_config: Option<PodDNSConfig>,
    /// Extra conditions that must be true for the pod to be ready.
    pub readiness_gates: Vec<PodReadinessGate>,
    /// Name of the RuntimeClass that runs the pod.
    pub runtime_class_name: Option<String>,
    /// Whether service information is injected as environment variables (default true).
    pub enable_service_links: Option<bool>,
    /// `PreemptLowerPriority` or `Never` (filled by the Priority admission plugin).
    pub preemption_policy: Option<String>,
    /// Resource overhead of running the pod's sandbox (set from the RuntimeClass).
    #[wire(omitempty)]
    pub overhead: ResourceList,
    /// How pods are spread across topology domains.
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
    /// Use the fully qualified domain name as the pod's hostname.
    #[serde(rename = "setHostnameAsFQDN")]
    pub set_hostname_as_fqdn: Option<bool>,
    /// Operating system the pod's containers need.
    pub os: Option<PodOS>,
    /// Use the host's user namespace (true) or a new one (false).
    pub host_users: Option<bool>,
    /// Gates that keep the pod from being scheduled while present.
    pub scheduling_gates: Vec<PodSchedulingGate>,
    /// Dynamic resource claims the pod's containers may use.
    pub resource_claims: Vec<PodResourceClaim>,
    /// Pod-level resource requests and limits (alpha `PodLevelResources`).
    pub resources: Option<ResourceRequirements>,
}

/// An extra `/etc/hosts` entry.
#[wire(eq)]
pub struct HostAlias {
    /// IP address of the entry.
    pub ip: String,
    /// Hostnames for the IP address.
    pub hostnames: Vec<String>,
}

/// DNS parameters of a pod, merged with those from `dnsPolicy`.
#[wire(eq)]
pub struct PodDNSConfig {
    /// DNS name server IP addresses (at most 3).
    pub nameservers: Vec<String>,
    /// DNS search domains (at most 32).
    pub searches: Vec<String>,
    /// Resolver options.
    pub options: Vec<PodDNSConfigOption>,
}

/// A resolver option.
#[wire(eq)]
pub struct PodDNSConfigOption {
    /// Option name, such as `ndots`.
    pub name: Option<String>,
    /// Option value.
    pub value: Option<String>,
}

/// A pod condition that must be true for the pod to be ready.
#[wire(eq)]
pub struct PodReadinessGate {
    /// Condition type in the pod's status conditions.
    pub condition_type: String,
}

/// The operating system of a pod.
#[wire(eq)]
pub struct PodOS {
    /// `linux` or `windows`.
    pub name: String,
}

/// A gate that holds the pod back from scheduling.
#[wire(eq)]
pub struct PodSchedulingGate {
    /// Name of the gate (a qualified name).
    pub name: String,
}

/// A dynamic resource claim of a pod, by name or created from a template.
#[wire(eq)]
pub struct PodResourceClaim {
    /// Name of the claim within the pod (containers refer to it).
    pub name: String,
    /// Name of an existing ResourceClaim in the pod's namespace.
    pub resource_claim_name: Option<String>,
    /// Name of a ResourceClaimTemplate to create a claim for this pod from.
    pub resource_claim_template_name: Option<String>,
}

// ---------------------------------------------------------------------------
// Shared reference types
// ---------------------------------------------------------------------------

/// A reference to an object in the same namespace, by name.
#[wire(eq)]
pub struct LocalObjectReference {
    /// Name of the referent.
    #[wire(omitempty)]
    pub name: String,
}

impl LocalObjectReference {
    /// A reference to the named object.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }
}

/// A reference to any object (events, bindings, service account secrets, …).
#[wire(eq)]
pub struct ObjectReference {
    /// Kind of the referent.
    #[wire(omitempty)]
    pub kind: String,
    /// Namespace of the referent.
    #[wire(omitempty)]
    pub namespace: String,
    /// Name of the referent.
    #[wire(omitempty)]
    pub name: String,
    /// UID of the referent.
    #[wire(omitempty)]
    pub uid: String,
    /// API version of the referent.
    #[wire(omitempty)]
    pub api_version: String,
    /// Resource version of the referent the reference was made for.
    #[wire(omitempty)]
    pub resource_version: String,
    /// A field within the referent, such as `spec.containers{name}`.
    #[wire(omitempty)]
    pub field_path: String,
}

/// A reference to an object of a given kind in the same namespace.
#[wire(eq)]
pub struct TypedLocalObjectReference {
    /// API group of the referent; empty or absent for the core group.
    pub api_group: Option<String>,
    /// Kind of the referent.
    pub kind: String,
    /// Name of the referent.
    pub name: String,
}

// ---------------------------------------------------------------------------
// PodStatus
// ---------------------------------------------------------------------------

/// The most recently observed state of a pod.
#[wire]
pub struct PodStatus {
    /// Lifecycle phase: `Pending`, `Running`, `Succeeded`, `Failed` or `Unknown`.
    pub phase: Option<String>,
    /// Current service state of the pod.
    pub conditions: Vec<PodCondition>,
    /// Human-readable detail of why the pod is in this state.
    pub message: Option<String>,
    /// Brief CamelCase reason for the pod's state, such as `Evicted`.
    pub reason: Option<String>,
    /// Node the scheduler nominated while preempting lower-priority pods.
    pub nominated_node_name: Option<String>,
    /// Primary IP address of the node the pod runs on.
    #[serde(rename = "hostIP")]
    pub host_ip: Option<String>,
    /// IP addresses of the node (one per family).
    #[serde(rename = "hostIPs")]
    pub host_ips: Vec<HostIP>,
    /// Primary IP address of the pod.
    #[serde(rename = "podIP")]
    pub pod_ip: Option<String>,
    /// IP addresses of the pod (one per family).
    #[serde(rename = "podIPs")]
    pub pod_ips: Vec<PodIP>,
    /// When the kubelet acknowledged the pod.
    pub start_time: Option<Time>,
    /// Status of each init container.
    pub init_container_statuses: Vec<ContainerStatus>,
    /// Status of each app container.
    pub container_statuses: Vec<ContainerStatus>,
    /// Quality of service class: `Guaranteed`, `Burstable` or `BestEffort`.
    pub qos_class: Option<String>,
    /// Status of each ephemeral container.
    pub ephemeral_container_statuses: Vec<ContainerStatus>,
    /// State of an in-place resize: `Proposed`, `InProgress`, `Deferred` or `Infeasible`.
    pub resize: Option<String>,
    /// Generated names of the pod's resource claims.
    pub resource_claim_statuses: Vec<PodResourceClaimStatus>,
}

/// A condition of a pod (`PodScheduled`, `Initialized`, `ContainersReady`, `Ready`, …).
#[wire(eq)]
pub struct PodCondition {
    /// Type of the condition.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// When the condition was last probed.
    pub last_probe_time: Option<Time>,
    /// When the condition last changed status.
    pub last_transition_time: Option<Time>,
    /// Brief CamelCase reason of the last transition.
    pub reason: Option<String>,
    /// Human-readable detail of the last transition.
    pub message: Option<String>,
}

/// An IP address of a pod.
#[wire(eq)]
pub struct PodIP {
    /// The IP address.
    pub ip: String,
}

/// An IP address of the pod's node.
#[wire(eq)]
pub struct HostIP {
    /// The IP address.
    pub ip: String,
}

/// The generated ResourceClaim of a pod resource claim.
#[wire(eq)]
pub struct PodResourceClaimStatus {
    /// Name of the claim in `spec.resourceClaims`.
    pub name: String,
    /// Name of the ResourceClaim created for it; absent if none was needed.
    pub resource_claim_name: Option<String>,
}

/// The observed state of one container.
#[wire]
pub struct ContainerStatus {
    /// Name of the container.
    pub name: String,
    /// Current state of the container.
    pub state: Option<ContainerState>,
    /// State of the container's last termination.
    pub last_state: Option<Box<ContainerState>>,
    /// Whether the container passes its readiness probe.
    pub ready: bool,
    /// How often the container has been restarted.
    pub restart_count: i32,
    /// Image the container runs.
    pub image: String,
    /// Image ID (digest) of the image the container runs.
    #[serde(rename = "imageID")]
    pub image_id: String,
    /// Runtime ID of the container, as `<type>://<id>`.
    #[serde(rename = "containerID")]
    pub container_id: Option<String>,
    /// Whether the container has started (passed its startup probe).
    pub started: Option<bool>,
    /// Resources the node allocated to the container.
    #[wire(omitempty)]
    pub allocated_resources: ResourceList,
    /// Resources actually configured for the running container.
    pub resources: Option<ResourceRequirements>,
    /// Mounts of the container as the runtime reports them.
    pub volume_mounts: Vec<VolumeMountStatus>,
    /// User identity of the container's first process.
    pub user: Option<ContainerUser>,
    /// Health of the devices allocated to the container.
    pub allocated_resources_status: Vec<ResourceStatus>,
}

/// The state of a container: exactly one of waiting, running or terminated.
#[wire(eq)]
pub struct ContainerState {
    /// The container is waiting to start.
    pub waiting: Option<ContainerStateWaiting>,
    /// The container is running.
    pub running: Option<ContainerStateRunning>,
    /// The container has terminated.
    pub terminated: Option<ContainerStateTerminated>,
}

/// A container waiting to start.
#[wire(eq)]
pub struct ContainerStateWaiting {
    /// Why the container is not yet running, such as `ImagePullBackOff`.
    pub reason: Option<String>,
    /// Detail of why the container is not yet running.
    pub message: Option<String>,
}

/// A running container.
#[wire(eq)]
pub struct ContainerStateRunning {
    /// When the container was last (re)started.
    pub started_at: Option<Time>,
}

/// A terminated container.
#[wire(eq)]
pub struct ContainerStateTerminated {
    /// Exit status of the last termination.
    pub exit_code: i32,
    /// Signal of the last termination.
    pub signal: Option<i32>,
    /// Brief reason of the last termination, such as `OOMKilled`.
    pub reason: Option<String>,
    /// Detail of the last termination.
    pub message: Option<String>,
    /// When the previous execution started.
    pub started_at: Option<Time>,
    /// When the container last terminated.
    pub finished_at: Option<Time>,
    /// Runtime ID of the terminated container.
    #[serde(rename = "containerID")]
    pub container_id: Option<String>,
}

/// A mount as the container runtime reports it.
#[wire(eq)]
pub struct VolumeMountStatus {
    /// Name of the volume mount.
    pub name: String,
    /// Path of the mount inside the container.
    pub mount_path: String,
    /// Whether the mount is read-only.
    pub read_only: Option<bool>,
    /// Recursive read-only state: `Disabled` or `Enabled`.
    pub recursive_read_only: Option<String>,
}

/// The user identity of a container's process.
#[wire(eq)]
pub struct ContainerUser {
    /// Linux identity (UID, GID, supplementary groups).
    pub linux: Option<LinuxContainerUser>,
}

/// The Linux identity of a container's process.
#[wire(eq)]
pub struct LinuxContainerUser {
    /// Primary UID.
    pub uid: i64,
    /// Primary GID.
    pub gid: i64,
    /// Supplementary GIDs.
    pub supplemental_groups: Vec<i64>,
}

/// Health of the devices of one allocated resource.
#[wire(eq)]
pub struct ResourceStatus {
    /// Resource name, such as `claim:<name>/<request>` or a device plugin resource.
    pub name: String,
    /// Health of each device of the resource.
    pub resources: Vec<ResourceHealth>,
}

/// Health of one device.
#[wire(eq)]
pub struct ResourceHealth {
    /// Unique ID of the device.
    #[serde(rename = "resourceID")]
    pub resource_id: String,
    /// `Healthy`, `Unhealthy` or `Unknown`.
    pub health: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Resource;

    /// A pod using every sub-struct, in the form kube-apiserver writes.
    fn rich_pod_json() -> serde_json::Value {
        let probe = json!({
            "httpGet": {"path": "/healthz", "port": "http", "host": "localhost", "scheme": "HTTPS",
                        "httpHeaders": [{"name": "X-Probe", "value": "1"}]},
            "initialDelaySeconds": 5, "timeoutSeconds": 2, "periodSeconds": 15, "successThreshold": 1,
            "failureThreshold": 4, "terminationGracePeriodSeconds": 10
        });
        let volumes = json!([
            {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0", "readOnly": true}},
            {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}},
            {"name": "host", "hostPath": {"path": "/var/log", "type": "Directory"}},
            {"name": "cfg", "configMap": {"name": "web-config", "items": [{"key": "a", "path": "a.conf", "mode": 256}],
                "defaultMode": 420, "optional": true}},
            {"name": "sec", "secret": {"secretName": "web-tls", "items": [{"key": "tls.crt", "path": "tls.crt"}],
                "defaultMode": 384, "optional": false}},
            {"name": "proj", "projected": {"sources": [
                {"secret": {"name": "s1", "items": [{"key": "k", "path": "s/k"}], "optional": true}},
                {"configMap": {"name": "c1", "items": [{"key": "k", "path": "c/k"}]}},
                {"downwardAPI": {"items": [{"path": "labels", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.labels"}}]}},
                {"serviceAccountToken": {"audience": "vault", "expirationSeconds": 7200, "path": "token"}},
                {"clusterTrustBundle": {"signerName": "example.com/signer",
                    "labelSelector": {"matchLabels": {"ca": "root"}}, "optional": true, "path": "ca.pem"}}
            ], "defaultMode": 420}},
            {"name": "down", "downwardAPI": {"items": [
                {"path": "cpu", "resourceFieldRef": {"containerName": "web", "resource": "limits.cpu", "divisor": "1m"}, "mode": 292}
            ], "defaultMode": 420}},
            {"name": "nfs", "nfs": {"server": "nfs.example", "path": "/exports", "readOnly": true}},
            {"name": "csi", "csi": {"driver": "inline.storage.example", "readOnly": true, "fsType": "ext4",
                "volumeAttributes": {"size": "1Gi"}, "nodePublishSecretRef": {"name": "csi-secret"}}},
            {"name": "eph", "ephemeral": {"volumeClaimTemplate": {"metadata": {"labels": {"tier": "cache"}},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}}},
            {"name": "img", "image": {"reference": "registry.example/tools:1.0", "pullPolicy": "IfNotPresent"}},
            {"name": "old", "gitRepo": {"repository": "https://git.example/repo", "revision": "main"}}
        ]);
        let init = json!([{
            "name": "init", "image": "busybox:1.36", "command": ["sh", "-c", "true"],
            "restartPolicy": "Always", "resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}],
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "FallbackToLogsOnError",
            "imagePullPolicy": "IfNotPresent"
        }]);
        let security = json!({
            "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}, "privileged": false,
            "seLinuxOptions": {"user": "u", "role": "r", "type": "t", "level": "s0"},
            "windowsOptions": {"gmsaCredentialSpecName": "g", "gmsaCredentialSpec": "{}", "runAsUserName": "web", "hostProcess": false},
            "runAsUser": 1000, "runAsGroup": 1000, "runAsNonRoot": true, "readOnlyRootFilesystem": true,
            "allowPrivilegeEscalation": false, "procMount": "Default",
            "seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/web.json"},
            "appArmorProfile": {"type": "RuntimeDefault"}
        });
        let env = json!([
            {"name": "PLAIN", "value": "x"},
            {"name": "POD", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "0"}}},
            {"name": "CM", "valueFrom": {"configMapKeyRef": {"name": "web-config", "key": "mode", "optional": true}}},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "web-secret", "key": "password"}}}
        ]);
        let containers = json!([{
            "name": "web", "image": "nginx:1.27", "command": ["nginx"], "args": ["-g", "daemon off;"],
            "workingDir": "/srv",
            "ports": [{"name": "http", "hostPort": 8080, "containerPort": 80, "protocol": "TCP", "hostIP": "0.0.0.0"}],
            "envFrom": [{"prefix": "CFG_", "configMapRef": {"name": "web-config", "optional": true}},
                        {"secretRef": {"name": "web-secret"}}],
            "env": env,
            "resources": {"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "500m", "memory": "256Mi"},
                          "claims": [{"name": "gpu", "request": "one"}]},
            "volumeMounts": [{"name": "data", "readOnly": true, "recursiveReadOnly": "IfPossible", "mountPath": "/data",
                              "subPath": "web", "mountPropagation": "None"},
                             {"name": "cfg", "mountPath": "/etc/web", "subPathExpr": "$(POD)"}],
            "volumeDevices": [{"name": "data", "devicePath": "/dev/xvda"}],
            "livenessProbe": probe,
            "readinessProbe": {"tcpSocket": {"port": 80, "host": "127.0.0.1"}},
            "startupProbe": {"grpc": {"port": 9090, "service": "health"}, "failureThreshold": 30},
            "lifecycle": {
                "postStart": {"exec": {"command": ["touch", "/tmp/started"]}},
                "preStop": {"sleep": {"seconds": 5}}
            },
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
            "imagePullPolicy": "IfNotPresent",
            "securityContext": security,
            "stdin": true, "stdinOnce": true, "tty": true
        }]);
        let affinity = json!({
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{
                    "matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}],
                    "matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["node-9"]}]
                }]},
                "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 10,
                    "preference": {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}}]
            },
            "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
                "labelSelector": {"matchLabels": {"app": "cache"}}, "namespaces": ["prod"],
                "topologyKey": "kubernetes.io/hostname", "namespaceSelector": {},
                "matchLabelKeys": ["pod-template-hash"], "mismatchLabelKeys": ["tenant"]
            }]},
            "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100,
                "podAffinityTerm": {"labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]},
                                    "topologyKey": "topology.kubernetes.io/zone"}}]}
        });
        let pod_security = json!({
            "seLinuxOptions": {"level": "s0:c1"}, "runAsUser": 1000, "runAsGroup": 1000, "runAsNonRoot": true,
            "supplementalGroups": [2000], "supplementalGroupsPolicy": "Merge", "fsGroup": 3000,
            "sysctls": [{"name": "net.core.somaxconn", "value": "1024"}], "fsGroupChangePolicy": "OnRootMismatch",
            "seccompProfile": {"type": "RuntimeDefault"}, "appArmorProfile": {"type": "Localhost", "localhostProfile": "web"},
            "seLinuxChangePolicy": "MountOption"
        });
        let status = json!({
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": "2025-01-01T00:00:00Z",
                            "lastTransitionTime": "2025-01-01T00:00:05Z", "reason": "Ok", "message": "ready"}],
            "message": "running", "reason": "Started", "nominatedNodeName": "node-2",
            "hostIP": "192.168.0.10", "hostIPs": [{"ip": "192.168.0.10"}, {"ip": "fd00::10"}],
            "podIP": "10.1.0.5", "podIPs": [{"ip": "10.1.0.5"}, {"ip": "fd01::5"}],
            "startTime": "2025-01-01T00:00:00Z",
            "initContainerStatuses": [{"name": "init", "state": {"terminated": {"exitCode": 0, "signal": 15, "reason": "Completed",
                "message": "done", "startedAt": "2025-01-01T00:00:01Z", "finishedAt": "2025-01-01T00:00:02Z",
                "containerID": "containerd://abc"}}, "ready": true, "restartCount": 0, "image": "busybox:1.36",
                "imageID": "docker.io/library/busybox@sha256:1", "containerID": "containerd://abc", "started": false}],
            "containerStatuses": [{"name": "web", "state": {"running": {"startedAt": "2025-01-01T00:00:03Z"}},
                "lastState": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                "ready": true, "restartCount": 2, "image": "nginx:1.27", "imageID": "docker.io/library/nginx@sha256:2",
                "containerID": "containerd://def", "started": true,
                "allocatedResources": {"cpu": "500m"},
                "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "500m"}},
                "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": true, "recursiveReadOnly": "Enabled"}],
                "user": {"linux": {"uid": 1000, "gid": 1000, "supplementalGroups": [2000]}},
                "allocatedResourcesStatus": [{"name": "claim:gpu/one", "resources": [{"resourceID": "gpu-0", "health": "Healthy"}]}]}],
            "qosClass": "Burstable",
            "ephemeralContainerStatuses": [{"name": "debug", "ready": false, "restartCount": 0, "image": "busybox", "imageID": ""}],
            "resize": "InProgress",
            "resourceClaimStatuses": [{"name": "gpu", "resourceClaimName": "web-0-gpu-x7k2"}]
        });
        let mut spec = json!({
            "volumes": volumes,
            "initContainers": init,
            "containers": containers,
            "ephemeralContainers": [{"name": "debug", "image": "busybox", "stdin": true, "tty": true, "targetContainerName": "web"}],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "activeDeadlineSeconds": 3600,
            "dnsPolicy": "None",
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "serviceAccountName": "web",
            "serviceAccount": "web",
            "automountServiceAccountToken": false,
            "nodeName": "node-1",
            "hostNetwork": false,
            "hostPID": false,
            "hostIPC": false,
            "shareProcessNamespace": true,
            "securityContext": pod_security,
            "imagePullSecrets": [{"name": "regcred"}],
            "hostname": "web-0",
            "subdomain": "web",
            "affinity": affinity
        });
        let spec_tail = json!({
            "schedulerName": "default-scheduler",
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoExecute", "tolerationSeconds": 60},
                            {"operator": "Exists"}],
            "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["db.local"]}],
            "priorityClassName": "high",
            "priority": 1000,
            "dnsConfig": {"nameservers": ["10.0.0.10"], "searches": ["svc.cluster.local"],
                          "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]},
            "readinessGates": [{"conditionType": "example.com/ready"}],
            "runtimeClassName": "gvisor",
            "enableServiceLinks": false,
            "preemptionPolicy": "PreemptLowerPriority",
            "overhead": {"cpu": "250m", "memory": "120Mi"},
            "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}, "minDomains": 2,
                "nodeAffinityPolicy": "Honor", "nodeTaintsPolicy": "Ignore", "matchLabelKeys": ["pod-template-hash"]}],
            "setHostnameAsFQDN": true,
            "os": {"name": "linux"},
            "hostUsers": false,
            "schedulingGates": [{"name": "example.com/gate"}],
            "resourceClaims": [{"name": "gpu", "resourceClaimTemplateName": "gpu-template"},
                               {"name": "shared", "resourceClaimName": "shared-claim"}],
            "resources": {"limits": {"cpu": "2"}, "requests": {"cpu": "1"}}
        });
        if let (Some(head), serde_json::Value::Object(tail)) = (spec.as_object_mut(), spec_tail) {
            head.extend(tail);
        }
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web-0", "namespace": "prod", "labels": {"app": "web"}},
            "spec": spec,
            "status": status
        })
    }

    #[test]
    fn rich_pod_round_trips() {
        let input = rich_pod_json();
        let pod: Pod = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(serde_json::to_value(&pod).unwrap(), input);
        // Spot checks that the typed view is what it should be.
        assert_eq!(pod.spec.host_users, Some(false));
        assert_eq!(pod.spec.containers[0].ports[0].host_ip.as_deref(), Some("0.0.0.0"));
        assert_eq!(pod.status.as_ref().unwrap().pod_ips[1].ip, "fd01::5");
        assert!(pod.spec.volumes.iter().all(|v| v.source_names().len() == 1));
        let list = PodList::new(vec![pod]);
        let text = serde_json::to_string(&list).unwrap();
        assert!(text.starts_with(r#"{"apiVersion":"v1","kind":"PodList""#), "{text}");
    }

    #[test]
    fn resource_field_divisor_round_trips() {
        let sel: ResourceFieldSelector = serde_json::from_value(json!({"resource": "limits.cpu"})).unwrap();
        assert_eq!(serde_json::to_value(&sel).unwrap(), json!({"resource": "limits.cpu"}));
        let sel: ResourceFieldSelector =
            serde_json::from_value(json!({"resource": "limits.cpu", "divisor": "0"})).unwrap();
        assert_eq!(serde_json::to_value(&sel).unwrap(), json!({"resource": "limits.cpu", "divisor": "0"}));
    }

    #[test]
    fn pod_template_round_trips() {
        let input = json!({
            "apiVersion": "v1", "kind": "PodTemplate",
            "metadata": {"name": "t", "namespace": "default"},
            "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
        });
        let t: PodTemplate = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(serde_json::to_value(&t).unwrap(), input);
        assert_eq!(serde_json::to_value(PodTemplateSpec::default()).unwrap(), json!({}));
    }

    #[test]
    fn resource_info() {
        let info = Pod::INFO;
        assert_eq!((info.api_version, info.plural, info.short_names), ("v1", "pods", &["po"][..]));
        for sub in [
            "status",
            "binding",
            "eviction",
            "log",
            "exec",
            "attach",
            "portforward",
            "proxy",
            "ephemeralcontainers",
            "resize",
        ] {
            assert!(info.has_subresource(sub), "{sub}");
        }
        let template = PodTemplate::INFO;
        assert_eq!((template.plural, template.namespaced, template.subresources.len()), ("podtemplates", true, 0));
        let p = Pod::named("x");
        assert_eq!((p.api_version.as_str(), p.kind.as_str()), ("v1", "Pod"));
    }

    #[test]
    fn field_values() {
        let pod: Pod = serde_json::from_value(rich_pod_json()).unwrap();
        let cases = [
            ("metadata.name", Some("web-0")),
            ("metadata.namespace", Some("prod")),
            ("spec.nodeName", Some("node-1")),
            ("spec.restartPolicy", Some("Always")),
            ("spec.schedulerName", Some("default-scheduler")),
            ("spec.serviceAccountName", Some("web")),
            ("spec.hostNetwork", Some("false")),
            ("status.phase", Some("Running")),
            ("status.podIP", Some("10.1.0.5")),
            ("status.podIPs", Some("10.1.0.5,fd01::5")),
            ("status.nominatedNodeName", Some("node-2")),
            ("spec.priority", None),
        ];
        for (field, want) in cases {
            assert_eq!(pod.field_value(field).as_deref(), want, "{field}");
        }
        for field in Pod::INFO.selectable_fields {
            assert!(pod.field_value(field).is_some(), "{field}");
        }
        let mut bare = Pod::named("bare");
        assert_eq!(bare.field_value("spec.nodeName").as_deref(), Some(""));
        assert_eq!(bare.field_value("status.podIP").as_deref(), Some(""));
        bare.spec.host_network = Some(true);
        assert_eq!(bare.field_value("spec.hostNetwork").as_deref(), Some("true"));
        bare.status = Some(PodStatus { pod_ip: Some("10.0.0.9".into()), ..Default::default() });
        assert_eq!(bare.field_value("status.podIP").as_deref(), Some("10.0.0.9"));
    }
}
