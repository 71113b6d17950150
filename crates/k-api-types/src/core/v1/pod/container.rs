//! Containers: ports, environment, resources and security contexts.

use crate::quantity::{Quantity, ResourceList};
use crate::wire;

use super::{Lifecycle, Probe, VolumeDevice, VolumeMount};

/// A container of a pod (app or init container).
#[wire]
pub struct Container {
    /// Name of the container (a DNS-1123 label, unique within the pod).
    pub name: String,
    /// Image reference, such as `nginx:1.27`.
    pub image: Option<String>,
    /// Entrypoint; replaces the image's ENTRYPOINT.
    pub command: Vec<String>,
    /// Arguments to the entrypoint; replace the image's CMD.
    pub args: Vec<String>,
    /// Working directory of the container's process.
    pub working_dir: Option<String>,
    /// Ports the container exposes (informational, except with `hostPort`).
    pub ports: Vec<ContainerPort>,
    /// Sources whose keys all become environment variables.
    pub env_from: Vec<EnvFromSource>,
    /// Environment variables.
    pub env: Vec<EnvVar>,
    /// Compute resources requested and limited.
    pub resources: Option<ResourceRequirements>,
    /// How each resource may be resized in place.
    pub resize_policy: Vec<ContainerResizePolicy>,
    /// Restart policy of an init container; only `Always` (a sidecar).
    pub restart_policy: Option<String>,
    /// Volumes mounted into the container's filesystem.
    pub volume_mounts: Vec<VolumeMount>,
    /// Block devices the container uses.
    pub volume_devices: Vec<VolumeDevice>,
    /// Probe that restarts the container when it fails.
    pub liveness_probe: Option<Box<Probe>>,
    /// Probe that removes the pod from service endpoints when it fails.
    pub readiness_probe: Option<Box<Probe>>,
    /// Probe that must succeed before the other probes run.
    pub startup_probe: Option<Box<Probe>>,
    /// Actions run after start and before stop.
    pub lifecycle: Option<Box<Lifecycle>>,
    /// File the termination message is read from (default `/dev/termination-log`).
    pub termination_message_path: Option<String>,
    /// `File` (default) or `FallbackToLogsOnError`.
    pub termination_message_policy: Option<String>,
    /// `Always`, `Never` or `IfNotPresent` (default depends on the image tag).
    pub image_pull_policy: Option<String>,
    /// Container security options; override the pod's security context.
    pub security_context: Option<Box<SecurityContext>>,
    /// Allocate a stdin buffer for the container.
    pub stdin: Option<bool>,
    /// Close stdin after the first attach disconnects.
    pub stdin_once: Option<bool>,
    /// Allocate a TTY.
    pub tty: Option<bool>,
}

impl Container {
    /// A container with a name and an image.
    pub fn new(name: impl Into<String>, image: impl Into<String>) -> Self {
        Self { name: name.into(), image: Some(image.into()), ..Self::default() }
    }
}

/// A debugging container added to a running pod; it may not have ports,
/// probes, lifecycle hooks or resources.
#[wire]
pub struct EphemeralContainer {
    /// Name of the container (unique among all containers of the pod).
    pub name: String,
    /// Image reference.
    pub image: Option<String>,
    /// Entrypoint; replaces the image's ENTRYPOINT.
    pub command: Vec<String>,
    /// Arguments to the entrypoint.
    pub args: Vec<String>,
    /// Working directory of the container's process.
    pub working_dir: Option<String>,
    /// Not allowed for ephemeral containers.
    pub ports: Vec<ContainerPort>,
    /// Sources whose keys all become environment variables.
    pub env_from: Vec<EnvFromSource>,
    /// Environment variables.
    pub env: Vec<EnvVar>,
    /// Not allowed for ephemeral containers.
    pub resources: Option<ResourceRequirements>,
    /// Not allowed for ephemeral containers.
    pub resize_policy: Vec<ContainerResizePolicy>,
    /// Not allowed for ephemeral containers.
    pub restart_policy: Option<String>,
    /// Volumes mounted into the container (no `subPath`).
    pub volume_mounts: Vec<VolumeMount>,
    /// Block devices the container uses.
    pub volume_devices: Vec<VolumeDevice>,
    /// Not allowed for ephemeral containers.
    pub liveness_probe: Option<Box<Probe>>,
    /// Not allowed for ephemeral containers.
    pub readiness_probe: Option<Box<Probe>>,
    /// Not allowed for ephemeral containers.
    pub startup_probe: Option<Box<Probe>>,
    /// Not allowed for ephemeral containers.
    pub lifecycle: Option<Box<Lifecycle>>,
    /// File the termination message is read from.
    pub termination_message_path: Option<String>,
    /// `File` or `FallbackToLogsOnError`.
    pub termination_message_policy: Option<String>,
    /// `Always`, `Never` or `IfNotPresent`.
    pub image_pull_policy: Option<String>,
    /// Container security options.
    pub security_context: Option<Box<SecurityContext>>,
    /// Allocate a stdin buffer for the container.
    pub stdin: Option<bool>,
    /// Close stdin after the first attach disconnects.
    pub stdin_once: Option<bool>,
    /// Allocate a TTY.
    pub tty: Option<bool>,
    /// Name of the container whose namespaces (IPC, PID, …) this one joins.
    pub target_container_name: Option<String>,
}

impl EphemeralContainer {
    /// The container fields of the ephemeral container, as a [`Container`].
    pub fn to_container(&self) -> Container {
        Container {
            name: self.name.clone(),
            image: self.image.clone(),
            command: self.command.clone(),
            args: self.args.clone(),
            working_dir: self.working_dir.clone(),
            ports: self.ports.clone(),
            env_from: self.env_from.clone(),
            env: self.env.clone(),
            resources: self.resources.clone(),
            resize_policy: self.resize_policy.clone(),
            restart_policy: self.restart_policy.clone(),
            volume_mounts: self.volume_mounts.clone(),
            volume_devices: self.volume_devices.clone(),
            liveness_probe: self.liveness_probe.clone(),
            readiness_probe: self.readiness_probe.clone(),
            startup_probe: self.startup_probe.clone(),
            lifecycle: self.lifecycle.clone(),
            termination_message_path: self.termination_message_path.clone(),
            termination_message_policy: self.termination_message_policy.clone(),
            image_pull_policy: self.image_pull_policy.clone(),
            security_context: self.security_context.clone(),
            stdin: self.stdin,
            stdin_once: self.stdin_once,
            tty: self.tty,
        }
    }

    /// An ephemeral container with the fields of `c` and a target container.
    pub fn from_container(c: Container, target_container_name: Option<String>) -> Self {
        Self {
            name: c.name,
            image: c.image,
            command: c.command,
            args: c.args,
            working_dir: c.working_dir,
            ports: c.ports,
            env_from: c.env_from,
            env: c.env,
            resources: c.resources,
            resize_policy: c.resize_policy,
            restart_policy: c.restart_policy,
            volume_mounts: c.volume_mounts,
            volume_devices: c.volume_devices,
            liveness_probe: c.liveness_probe,
            readiness_probe: c.readiness_probe,
            startup_probe: c.startup_probe,
            lifecycle: c.lifecycle,
            termination_message_path: c.termination_message_path,
            termination_message_policy: c.termination_message_policy,
            image_pull_policy: c.image_pull_policy,
            security_context: c.security_context,
            stdin: c.stdin,
            stdin_once: c.stdin_once,
            tty: c.tty,
            target_container_name,
        }
    }
}

/// A network port of a container.
#[wire(eq)]
pub struct ContainerPort {
    /// IANA service name of the port, unique within the container.
    pub name: Option<String>,
    /// Port on the host the container port is exposed on.
    pub host_port: Option<i32>,
    /// Port number on the pod's IP address (1–65535).
    pub container_port: i32,
    /// `TCP` (default), `UDP` or `SCTP`.
    pub protocol: Option<String>,
    /// Host IP the host port binds to.
    #[serde(rename = "hostIP")]
    pub host_ip: Option<String>,
}

/// A set of environment variables taken from a ConfigMap or Secret.
#[wire(eq)]
pub struct EnvFromSource {
    /// Prefix prepended to every key.
    pub prefix: Option<String>,
    /// The ConfigMap to take variables from.
    pub config_map_ref: Option<ConfigMapEnvSource>,
    /// The Secret to take variables from.
    pub secret_ref: Option<SecretEnvSource>,
}

/// A ConfigMap whose keys become environment variables.
#[wire(eq)]
pub struct ConfigMapEnvSource {
    /// Name of the ConfigMap.
    #[wire(omitempty)]
    pub name: String,
    /// Whether the ConfigMap may be missing.
    pub optional: Option<bool>,
}

/// A Secret whose keys become environment variables.
#[wire(eq)]
pub struct SecretEnvSource {
    /// Name of the Secret.
    #[wire(omitempty)]
    pub name: String,
    /// Whether the Secret may be missing.
    pub optional: Option<bool>,
}

/// An environment variable of a container.
#[wire]
pub struct EnvVar {
    /// Name of the variable.
    pub name: String,
    /// Value of the variable; `$(VAR)` references are expanded.
    pub value: Option<String>,
    /// Source of the value, when `value` is not given.
    pub value_from: Option<Box<EnvVarSource>>,
}

impl EnvVar {
    /// A variable with a literal value.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self { name: name.into(), value: Some(value.into()), value_from: None }
    }
}

/// The source of an environment variable's value (exactly one field).
#[wire]
pub struct EnvVarSource {
    /// A field of the pod (`metadata.name`, `status.podIP`, …).
    pub field_ref: Option<ObjectFieldSelector>,
    /// A resource request or limit of a container.
    pub resource_field_ref: Option<ResourceFieldSelector>,
    /// A key of a ConfigMap.
    pub config_map_key_ref: Option<ConfigMapKeySelector>,
    /// A key of a Secret.
    pub secret_key_ref: Option<SecretKeySelector>,
}

/// A field of an object, by path.
#[wire(eq)]
pub struct ObjectFieldSelector {
    /// Version of the schema the path is written in (default `v1`).
    pub api_version: Option<String>,
    /// Path of the field, such as `metadata.labels['app']`.
    pub field_path: String,
}

/// A container resource (`limits.cpu`, `requests.memory`, …) scaled by a divisor.
#[wire]
pub struct ResourceFieldSelector {
    /// Container to read from; required for volumes, optional for env.
    pub container_name: Option<String>,
    /// Resource to select, such as `limits.memory`.
    pub resource: String,
    /// Unit the value is expressed in (`1`, `1m`, `1Mi`, …); unset means 1.
    /// (Go writes an unset divisor as `"0"`; k omits it so round trips are exact.)
    pub divisor: Option<Quantity>,
}

/// A key of a ConfigMap.
#[wire(eq)]
pub struct ConfigMapKeySelector {
    /// Name of the ConfigMap.
    #[wire(omitempty)]
    pub name: String,
    /// The key to select.
    pub key: String,
    /// Whether the ConfigMap or key may be missing.
    pub optional: Option<bool>,
}

/// A key of a Secret.
#[wire(eq)]
pub struct SecretKeySelector {
    /// Name of the Secret.
    #[wire(omitempty)]
    pub name: String,
    /// The key to select.
    pub key: String,
    /// Whether the Secret or key may be missing.
    pub optional: Option<bool>,
}

/// Compute resource requests and limits.
#[wire]
pub struct ResourceRequirements {
    /// Maximum amounts allowed.
    #[wire(omitempty)]
    pub limits: ResourceList,
    /// Minimum amounts required (default: the limits).
    #[wire(omitempty)]
    pub requests: ResourceList,
    /// Dynamic resource claims (from `spec.resourceClaims`) the container uses.
    pub claims: Vec<ResourceClaim>,
}

/// A reference to one of the pod's resource claims.
#[wire(eq)]
pub struct ResourceClaim {
    /// Name of an entry of the pod's `spec.resourceClaims`.
    pub name: String,
    /// Only this request of the claim, when set.
    pub request: Option<String>,
}

/// How a container resource is resized in place.
#[wire(eq)]
pub struct ContainerResizePolicy {
    /// `cpu` or `memory`.
    pub resource_name: String,
    /// `NotRequired` or `RestartContainer`.
    pub restart_policy: String,
}

/// Security options of a container.
#[wire(eq)]
pub struct SecurityContext {
    /// Capabilities added to and dropped from the runtime's defaults.
    pub capabilities: Option<Capabilities>,
    /// Run the container privileged (as root on the host).
    pub privileged: Option<bool>,
    /// SELinux context of the container.
    #[serde(rename = "seLinuxOptions")]
    pub se_linux_options: Option<SELinuxOptions>,
    /// Windows-specific options.
    pub windows_options: Option<WindowsSecurityContextOptions>,
    /// UID the entrypoint runs as.
    pub run_as_user: Option<i64>,
    /// GID the entrypoint runs as.
    pub run_as_group: Option<i64>,
    /// Refuse to start if the image would run as UID 0.
    pub run_as_non_root: Option<bool>,
    /// Mount the root filesystem read-only.
    pub read_only_root_filesystem: Option<bool>,
    /// Whether a process may gain more privileges than its parent.
    pub allow_privilege_escalation: Option<bool>,
    /// `Default` or `Unmasked` /proc mount.
    pub proc_mount: Option<String>,
    /// Seccomp profile of the container.
    pub seccomp_profile: Option<SeccompProfile>,
    /// AppArmor profile of the container.
    pub app_armor_profile: Option<AppArmorProfile>,
}

/// Pod-level security options, and defaults for its containers.
#[wire(eq)]
pub struct PodSecurityContext {
    /// SELinux context of all containers.
    #[serde(rename = "seLinuxOptions")]
    pub se_linux_options: Option<SELinuxOptions>,
    /// Windows-specific options of all containers.
    pub windows_options: Option<WindowsSecurityContextOptions>,
    /// UID the entrypoints run as.
    pub run_as_user: Option<i64>,
    /// GID the entrypoints run as.
    pub run_as_group: Option<i64>,
    /// Refuse to start containers whose image would run as UID 0.
    pub run_as_non_root: Option<bool>,
    /// Extra GIDs of the first process of each container.
    pub supplemental_groups: Vec<i64>,
    /// `Merge` (default) or `Strict` handling of the image's groups.
    pub supplemental_groups_policy: Option<String>,
    /// GID that owns supported volumes and is added to every container.
    pub fs_group: Option<i64>,
    /// Namespaced sysctls set for the pod.
    pub sysctls: Vec<Sysctl>,
    /// `OnRootMismatch` or `Always`: when volume ownership is changed.
    pub fs_group_change_policy: Option<String>,
    /// Seccomp profile of all containers.
    pub seccomp_profile: Option<SeccompProfile>,
    /// AppArmor profile of all containers.
    pub app_armor_profile: Option<AppArmorProfile>,
    /// `Recursive` or `MountOption`: how SELinux labels are applied to volumes.
    #[serde(rename = "seLinuxChangePolicy")]
    pub se_linux_change_policy: Option<String>,
}

/// Linux capabilities added and dropped.
#[wire(eq)]
pub struct Capabilities {
    /// Capabilities to add, such as `NET_ADMIN`.
    pub add: Vec<String>,
    /// Capabilities to drop, such as `ALL`.
    pub drop: Vec<String>,
}

/// An SELinux context.
#[wire(eq)]
pub struct SELinuxOptions {
    /// SELinux user label.
    pub user: Option<String>,
    /// SELinux role label.
    pub role: Option<String>,
    /// SELinux type label.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// SELinux level label.
    pub level: Option<String>,
}

/// Windows-specific security options.
#[wire(eq)]
pub struct WindowsSecurityContextOptions {
    /// Name of the GMSA credential spec to use.
    pub gmsa_credential_spec_name: Option<String>,
    /// Contents of the GMSA credential spec.
    pub gmsa_credential_spec: Option<String>,
    /// Windows user name the entrypoint runs as.
    pub run_as_user_name: Option<String>,
    /// Run the container as a Windows host process.
    pub host_process: Option<bool>,
}

/// A seccomp profile.
#[wire(eq)]
pub struct SeccompProfile {
    /// `RuntimeDefault`, `Unconfined` or `Localhost`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Path of a profile on the node, relative to the kubelet's seccomp directory (for `Localhost`).
    pub localhost_profile: Option<String>,
}

/// An AppArmor profile.
#[wire(eq)]
pub struct AppArmorProfile {
    /// `RuntimeDefault`, `Unconfined` or `Localhost`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Name of a profile loaded on the node (for `Localhost`).
    pub localhost_profile: Option<String>,
}

/// A namespaced kernel parameter.
#[wire(eq)]
pub struct Sysctl {
    /// Name of the parameter, such as `net.core.somaxconn`.
    pub name: String,
    /// Value of the parameter.
    pub value: String,
}
