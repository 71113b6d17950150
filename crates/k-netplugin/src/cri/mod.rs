//! The Container Runtime Interface (CRI v1) as Rust traits:
//! [`RuntimeService`] and [`ImageService`], with CRI's messages in
//! [`types`] and its semantics (idempotent stop and remove, container
//! states CREATED/RUNNING/EXITED/UNKNOWN, sandboxes READY/NOTREADY, exit
//! codes and reasons).
//!
//! The node agent (k-node) drives pods only through these traits, so a
//! runtime is pluggable: the in-memory `fake` runtime for tests and
//! simulated nodes, the Linux `process` runtime, or a gRPC client of
//! containerd or CRI-O. See `docs/node/design.md`.

pub mod fake;
pub mod image;
pub mod process;
pub mod types;

use std::time::Duration;

use async_trait::async_trait;

pub use types::*;

/// A CRI call failed, with gRPC's codes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CriError {
    /// No such sandbox, container or image.
    #[error("not found: {0}")]
    NotFound(String),
    /// The request is malformed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The object is not in a state that allows the call (starting a
    /// container of a stopped sandbox).
    #[error("failed precondition: {0}")]
    FailedPrecondition(String),
    /// Something with that name exists already.
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// The call did not finish in time.
    #[error("deadline exceeded: {0}")]
    DeadlineExceeded(String),
    /// The runtime cannot serve now (an image pull failed, the network is
    /// not ready, …).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Anything else.
    #[error("internal: {0}")]
    Internal(String),
}

impl CriError {
    /// Whether this is NotFound (which Stop and Remove callers ignore).
    pub fn is_not_found(&self) -> bool {
        matches!(self, CriError::NotFound(_))
    }
}

/// CRI's result type.
pub type CriResult<T> = Result<T, CriError>;

/// CRI's RuntimeService.
#[async_trait]
pub trait RuntimeService: Send + Sync + std::fmt::Debug {
    /// The runtime's name and versions.
    async fn version(&self) -> CriResult<VersionResponse>;
    /// Creates and starts a sandbox (its network included); returns its id.
    async fn run_pod_sandbox(&self, config: &PodSandboxConfig) -> CriResult<String>;
    /// Stops a sandbox and its containers, releasing its network.
    /// Idempotent.
    async fn stop_pod_sandbox(&self, id: &str) -> CriResult<()>;
    /// Removes a sandbox and its containers. Idempotent.
    async fn remove_pod_sandbox(&self, id: &str) -> CriResult<()>;
    /// A sandbox's status.
    async fn pod_sandbox_status(&self, id: &str) -> CriResult<PodSandboxStatus>;
    /// The sandboxes matching `filter`.
    async fn list_pod_sandbox(&self, filter: &PodSandboxFilter) -> CriResult<Vec<PodSandbox>>;
    /// Creates a container in a sandbox; returns its id.
    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
        sandbox_config: &PodSandboxConfig,
    ) -> CriResult<String>;
    /// Starts a created container.
    async fn start_container(&self, id: &str) -> CriResult<()>;
    /// Stops a container: SIGTERM, then SIGKILL after `timeout`.
    /// Idempotent.
    async fn stop_container(&self, id: &str, timeout: Duration) -> CriResult<()>;
    /// Removes a container (stopping it first). Idempotent.
    async fn remove_container(&self, id: &str) -> CriResult<()>;
    /// The containers matching `filter`.
    async fn list_containers(&self, filter: &ContainerFilter) -> CriResult<Vec<Container>>;
    /// A container's status.
    async fn container_status(&self, id: &str) -> CriResult<ContainerStatus>;
    /// Changes a running container's resources.
    async fn update_container_resources(&self, id: &str, resources: &LinuxContainerResources) -> CriResult<()>;
    /// Reopens a container's log file (after rotation).
    async fn reopen_container_log(&self, id: &str) -> CriResult<()>;
    /// Runs `cmd` in a running container and waits for it.
    async fn exec_sync(&self, id: &str, cmd: &[String], timeout: Duration) -> CriResult<ExecSyncResponse>;
    /// A container's resource use.
    async fn container_stats(&self, id: &str) -> CriResult<ContainerStats>;
    /// The resource use of the containers matching `filter`.
    async fn list_container_stats(&self, filter: &ContainerFilter) -> CriResult<Vec<ContainerStats>>;
    /// The runtime's conditions (RuntimeReady, NetworkReady).
    async fn status(&self) -> CriResult<RuntimeStatus>;
}

/// CRI's ImageService.
#[async_trait]
pub trait ImageService: Send + Sync + std::fmt::Debug {
    /// The images present (matching `filter` when given).
    async fn list_images(&self, filter: Option<&ImageSpec>) -> CriResult<Vec<Image>>;
    /// An image's status, `None` when it is not present.
    async fn image_status(&self, image: &ImageSpec) -> CriResult<Option<Image>>;
    /// Makes an image present; returns its id.
    async fn pull_image(&self, image: &ImageSpec) -> CriResult<String>;
    /// Removes an image. Idempotent.
    async fn remove_image(&self, image: &ImageSpec) -> CriResult<()>;
    /// What the images use on disk.
    async fn image_fs_info(&self) -> CriResult<Vec<FilesystemUsage>>;
}

/// A time as Go's RFC3339Nano in UTC (`2024-01-01T00:00:00.5Z`: trailing
/// zeros of the fraction dropped, none for whole seconds), the form CRI log
/// records and timestamps use.
pub fn rfc3339_nano(t: std::time::SystemTime) -> String {
    let t: chrono::DateTime<chrono::Utc> = t.into();
    let text = t.format("%Y-%m-%dT%H:%M:%S%.9f").to_string();
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}Z")
}

/// SHA-256 of `data` in lower-case hex.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `labels` has every pair of `selector`.
pub fn labels_match(labels: &Labels, selector: &Labels) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}
