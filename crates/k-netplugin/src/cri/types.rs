//! CRI v1's messages (kubernetes/cri-api `api.proto`), as Rust types.
//!
//! Field names follow the protobuf names in camelCase, so a message
//! serializes to the JSON `crictl inspect` shows. Times are nanoseconds
//! since the Unix epoch, as in CRI.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Labels or annotations.
pub type Labels = BTreeMap<String, String>;

/// The runtime's answer to Version.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionResponse {
    /// The kubelet API version (`0.1.0`).
    pub version: String,
    /// The runtime's name (`k-fake`, `k-process`, `containerd`).
    pub runtime_name: String,
    /// The runtime's version.
    pub runtime_version: String,
    /// The CRI version (`v1`).
    pub runtime_api_version: String,
}

/// Which pod a sandbox is for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSandboxMetadata {
    /// The pod's name.
    pub name: String,
    /// The pod's uid.
    pub uid: String,
    /// The pod's namespace.
    pub namespace: String,
    /// How many sandboxes were made for this pod before.
    pub attempt: u32,
}

/// A port the runtime maps from the host to the pod.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// The port in the pod.
    pub container_port: i32,
    /// The port on the host.
    pub host_port: i32,
    /// The host address (empty: all).
    pub host_ip: String,
}

/// DNS settings for the sandbox's resolv.conf.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsConfig {
    /// Name servers.
    pub servers: Vec<String>,
    /// Search domains.
    pub searches: Vec<String>,
    /// Resolver options.
    pub options: Vec<String>,
}

/// Everything RunPodSandbox needs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSandboxConfig {
    /// Which pod.
    pub metadata: PodSandboxMetadata,
    /// The pod's hostname.
    pub hostname: String,
    /// Where the containers' logs go (`/var/log/pods/<ns>_<name>_<uid>`).
    pub log_directory: String,
    /// DNS settings.
    pub dns_config: Option<DnsConfig>,
    /// Host ports.
    pub port_mappings: Vec<PortMapping>,
    /// Labels (the runtime filters on them).
    pub labels: Labels,
    /// Annotations.
    pub annotations: Labels,
    /// The parent cgroup of the pod's containers.
    pub cgroup_parent: String,
    /// Share the host's network namespace (`hostNetwork`).
    pub host_network: bool,
}

/// A sandbox's state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PodSandboxState {
    /// Running: its network is set up.
    #[serde(rename = "SANDBOX_READY")]
    Ready,
    /// Stopped (or failed).
    #[default]
    #[serde(rename = "SANDBOX_NOTREADY")]
    NotReady,
}

/// A sandbox's network.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSandboxNetworkStatus {
    /// The primary address.
    pub ip: String,
    /// Further addresses (the other family).
    pub additional_ips: Vec<String>,
}

/// PodSandboxStatus's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSandboxStatus {
    /// The sandbox's id.
    pub id: String,
    /// Which pod.
    pub metadata: PodSandboxMetadata,
    /// Ready or not.
    pub state: PodSandboxState,
    /// Creation time, ns since the epoch.
    pub created_at: i64,
    /// Its network, when ready.
    pub network: Option<PodSandboxNetworkStatus>,
    /// Labels.
    pub labels: Labels,
    /// Annotations.
    pub annotations: Labels,
}

/// One entry of ListPodSandbox.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSandbox {
    /// The sandbox's id.
    pub id: String,
    /// Which pod.
    pub metadata: PodSandboxMetadata,
    /// Ready or not.
    pub state: PodSandboxState,
    /// Creation time, ns since the epoch.
    pub created_at: i64,
    /// Labels.
    pub labels: Labels,
    /// Annotations.
    pub annotations: Labels,
}

/// ListPodSandbox's filter (every set field must match).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSandboxFilter {
    /// Only this id.
    pub id: Option<String>,
    /// Only this state.
    pub state: Option<PodSandboxState>,
    /// Only sandboxes with all these labels.
    pub label_selector: Labels,
}

impl PodSandboxFilter {
    /// Whether the sandbox `id` in `state` with `labels` passes.
    pub fn matches(&self, id: &str, state: PodSandboxState, labels: &Labels) -> bool {
        self.id.as_deref().is_none_or(|want| want == id)
            && self.state.is_none_or(|want| want == state)
            && super::labels_match(labels, &self.label_selector)
    }
}

/// Which container of a pod.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerMetadata {
    /// The container's name in the pod.
    pub name: String,
    /// How many times it was created before in this sandbox.
    pub attempt: u32,
}

/// An image reference.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageSpec {
    /// `name:tag` or an image id.
    pub image: String,
}

/// An environment variable.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyValue {
    /// Its name.
    pub key: String,
    /// Its value.
    pub value: String,
}

/// A host path mounted into the container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mount {
    /// Where it appears in the container.
    pub container_path: String,
    /// What is mounted.
    pub host_path: String,
    /// Read-only.
    pub readonly: bool,
}

/// Linux resources of a container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxContainerResources {
    /// CFS period in µs (0: the default, 100,000).
    pub cpu_period: i64,
    /// CFS quota in µs per period (0: none).
    pub cpu_quota: i64,
    /// Relative CPU weight (cgroup v1 shares, 2–262,144).
    pub cpu_shares: i64,
    /// Memory limit in bytes (0: none).
    pub memory_limit_in_bytes: i64,
    /// OOM score adjustment.
    pub oom_score_adj: i64,
}

/// Everything CreateContainer needs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerConfig {
    /// Which container.
    pub metadata: ContainerMetadata,
    /// Its image.
    pub image: ImageSpec,
    /// The entrypoint (empty: the image's).
    pub command: Vec<String>,
    /// Its arguments.
    pub args: Vec<String>,
    /// The working directory.
    pub working_dir: String,
    /// Environment.
    pub envs: Vec<KeyValue>,
    /// Mounts.
    pub mounts: Vec<Mount>,
    /// Labels.
    pub labels: Labels,
    /// Annotations.
    pub annotations: Labels,
    /// The log file, relative to the sandbox's log directory.
    pub log_path: String,
    /// Resources.
    pub resources: Option<LinuxContainerResources>,
}

/// A container's state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ContainerState {
    /// Created, not started.
    #[serde(rename = "CONTAINER_CREATED")]
    Created,
    /// Running.
    #[serde(rename = "CONTAINER_RUNNING")]
    Running,
    /// Exited.
    #[serde(rename = "CONTAINER_EXITED")]
    Exited,
    /// Unknown.
    #[default]
    #[serde(rename = "CONTAINER_UNKNOWN")]
    Unknown,
}

/// One entry of ListContainers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    /// The container's id.
    pub id: String,
    /// Its sandbox.
    pub pod_sandbox_id: String,
    /// Which container.
    pub metadata: ContainerMetadata,
    /// The image asked for.
    pub image: ImageSpec,
    /// The image's id.
    pub image_ref: String,
    /// Its state.
    pub state: ContainerState,
    /// Creation time, ns since the epoch.
    pub created_at: i64,
    /// Labels.
    pub labels: Labels,
    /// Annotations.
    pub annotations: Labels,
}

/// ContainerStatus's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatus {
    /// The container's id.
    pub id: String,
    /// Which container.
    pub metadata: ContainerMetadata,
    /// Its state.
    pub state: ContainerState,
    /// Created, ns since the epoch.
    pub created_at: i64,
    /// Started (0: not yet).
    pub started_at: i64,
    /// Finished (0: not yet).
    pub finished_at: i64,
    /// The exit code, when exited.
    pub exit_code: i32,
    /// The image asked for.
    pub image: ImageSpec,
    /// The image's id.
    pub image_ref: String,
    /// Why it is in its state (`Completed`, `Error`, `OOMKilled`).
    pub reason: String,
    /// A human message.
    pub message: String,
    /// Labels.
    pub labels: Labels,
    /// Annotations.
    pub annotations: Labels,
    /// Its mounts.
    pub mounts: Vec<Mount>,
    /// Its log file (absolute).
    pub log_path: String,
}

/// ListContainers' filter (every set field must match).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerFilter {
    /// Only this id.
    pub id: Option<String>,
    /// Only this state.
    pub state: Option<ContainerState>,
    /// Only this sandbox's containers.
    pub pod_sandbox_id: Option<String>,
    /// Only containers with all these labels.
    pub label_selector: Labels,
}

impl ContainerFilter {
    /// Whether the container `id` of sandbox `sandbox_id` in `state` with
    /// `labels` passes.
    pub fn matches(&self, id: &str, sandbox_id: &str, state: ContainerState, labels: &Labels) -> bool {
        self.id.as_deref().is_none_or(|want| want == id)
            && self.pod_sandbox_id.as_deref().is_none_or(|want| want == sandbox_id)
            && self.state.is_none_or(|want| want == state)
            && super::labels_match(labels, &self.label_selector)
    }
}

/// ExecSync's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecSyncResponse {
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
    /// The exit code.
    pub exit_code: i32,
}

/// A container's resource use.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStats {
    /// The container's id.
    pub id: String,
    /// Which container.
    pub metadata: ContainerMetadata,
    /// When measured, ns since the epoch.
    pub timestamp: i64,
    /// CPU time used in total, ns.
    pub usage_core_nano_seconds: u64,
    /// Memory in use that cannot be reclaimed, bytes.
    pub working_set_bytes: u64,
}

/// One runtime condition (`RuntimeReady`, `NetworkReady`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeCondition {
    /// Its type.
    #[serde(rename = "type")]
    pub type_: String,
    /// Whether it holds.
    pub status: bool,
    /// Why not, in one word.
    pub reason: String,
    /// Why not.
    pub message: String,
}

/// Status's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeStatus {
    /// The conditions.
    pub conditions: Vec<RuntimeCondition>,
}

/// An image the runtime has.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    /// Its id.
    pub id: String,
    /// `name:tag` references.
    pub repo_tags: Vec<String>,
    /// Size in bytes.
    pub size: u64,
}

/// ImageFsInfo's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilesystemUsage {
    /// When measured, ns since the epoch.
    pub timestamp: i64,
    /// The image store's mount point.
    pub mountpoint: String,
    /// Bytes used by images.
    pub used_bytes: u64,
    /// Inodes used by images.
    pub inodes_used: u64,
}
