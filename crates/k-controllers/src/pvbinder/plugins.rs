//! The binder's volume plugins: [`Provisioner`]s that create and delete
//! storage for a StorageClass, [`Recycler`]s that scrub released volumes,
//! and the built-in ones, [`LocalDirectoryProvisioner`] and
//! [`DirectoryRecycler`].

use std::fmt;
use std::path::{Component, Path, PathBuf};

use k_api_types::SortedMap;
use k_api_types::core::v1::{
    HostPathVolumeSource, LocalVolumeSource, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PersistentVolume,
    PersistentVolumeClaim, PersistentVolumeSpec, VolumeNodeAffinity,
};
use k_api_types::storage::v1::StorageClass;

/// The name the [`LocalDirectoryProvisioner`] is registered under by
/// [`add_pv_binder`](super::add_pv_binder) (a StorageClass's `provisioner`).
pub const LOCAL_DIRECTORY_PROVISIONER: &str = "k.io/local-directory";

/// The node label a `local` volume's node affinity selects on.
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";

/// Why a plugin failed (its message goes into events and the volume's
/// status).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct VolumeError(pub String);

impl VolumeError {
    /// An error with this message.
    pub fn new(message: impl fmt::Display) -> Self {
        VolumeError(message.to_string())
    }
}

impl From<std::io::Error> for VolumeError {
    fn from(e: std::io::Error) -> Self {
        VolumeError(e.to_string())
    }
}

/// What a [`Provisioner`] is asked to create.
#[derive(Clone, Copy, Debug)]
pub struct ProvisionRequest<'a> {
    /// The name the volume will have (`pvc-<claim uid>`).
    pub volume_name: &'a str,
    /// The claim the volume is for.
    pub claim: &'a PersistentVolumeClaim,
    /// The claim's StorageClass (its `parameters` are the provisioner's).
    pub class: &'a StorageClass,
    /// The node chosen for the claim's first consumer
    /// (`WaitForFirstConsumer` classes), if any.
    pub selected_node: Option<&'a str>,
}

/// Creates and deletes the storage of dynamically provisioned volumes,
/// registered with the binder under the name StorageClasses give in
/// `provisioner`.
#[async_trait::async_trait]
pub trait Provisioner: Send + Sync + fmt::Debug {
    /// Creates storage for `request` and describes it as a volume spec: its
    /// source (and node affinity) at least. The binder fills in what is left
    /// empty (capacity and access modes from the claim) and always sets the
    /// class, reclaim policy (the class's), mount options (the class's),
    /// volume mode (the claim's) and the claim reference.
    ///
    /// # Errors
    /// The storage could not be created (retried with backoff).
    async fn provision(&self, request: &ProvisionRequest<'_>) -> Result<PersistentVolumeSpec, VolumeError>;

    /// Deletes the storage of `volume`, which this provisioner created; done
    /// when the storage no longer exists (also when it never did).
    ///
    /// # Errors
    /// The storage could not be deleted (the volume turns `Failed` and the
    /// deletion is retried).
    async fn delete(&self, volume: &PersistentVolume) -> Result<(), VolumeError>;
}

/// Makes a released volume with reclaim policy `Recycle` reusable
/// (Kubernetes runs a scrubber pod; plug in what fits).
#[async_trait::async_trait]
pub trait Recycler: Send + Sync + fmt::Debug {
    /// Removes the data of `volume`.
    ///
    /// # Errors
    /// The volume could not be scrubbed (it turns `Failed`).
    async fn recycle(&self, volume: &PersistentVolume) -> Result<(), VolumeError>;
}

/// The directory of a `hostPath` or `local` volume.
fn directory_of(spec: &PersistentVolumeSpec) -> Option<&str> {
    spec.host_path.as_ref().map(|h| h.path.as_str()).or_else(|| spec.local.as_ref().map(|l| l.path.as_str()))
}

/// The default [`Recycler`]: removes everything inside the directory of a
/// `hostPath` or `local` volume (the directory itself stays, as Kubernetes'
/// scrubber leaves it); other volume sources fail. Symbolic links are
/// removed, never followed.
#[derive(Clone, Copy, Debug, Default)]
pub struct DirectoryRecycler;

/// Removes the contents of `dir`.
fn scrub(dir: &Path) -> Result<(), VolumeError> {
    if dir.parent().is_none() {
        return Err(VolumeError::new(format!("refusing to scrub {}", dir.display())));
    }
    let metadata = std::fs::symlink_metadata(dir).map_err(|e| VolumeError::new(format!("{}: {e}", dir.display())))?;
    if !metadata.is_dir() {
        return Err(VolumeError::new(format!("{} is not a directory", dir.display())));
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl Recycler for DirectoryRecycler {
    async fn recycle(&self, volume: &PersistentVolume) -> Result<(), VolumeError> {
        let Some(dir) = directory_of(&volume.spec) else {
            return Err(VolumeError::new("no recycler for this volume source (only hostPath and local)"));
        };
        let dir = PathBuf::from(dir);
        tokio::task::spawn_blocking(move || scrub(&dir)).await.map_err(VolumeError::new)?
    }
}

/// A [`Provisioner`] of directories: each volume is a new directory
/// `<base>/<volume name>` (mode 0777, so any pod user may write), exposed
/// as a `hostPath` volume, or as a `local` volume with node affinity to the
/// selected node when the claim waited for its first consumer. The volume
/// has the claim's capacity (not enforced) and access modes. Deleting the
/// volume removes its directory (only ever under the base directory).
///
/// Meant for single-node clusters and tests: the directory is created on
/// the host the controller runs on.
#[derive(Clone, Debug)]
pub struct LocalDirectoryProvisioner {
    base_dir: PathBuf,
}

impl LocalDirectoryProvisioner {
    /// A provisioner creating directories under `base_dir` (created when
    /// needed).
    pub fn new(base_dir: impl Into<PathBuf>) -> Self {
        LocalDirectoryProvisioner { base_dir: base_dir.into() }
    }

    /// The directory volumes are created under.
    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    /// Whether `path` lies strictly under the base directory (no `..`).
    fn owns(&self, path: &Path) -> bool {
        path != self.base_dir
            && path.starts_with(&self.base_dir)
            && path.components().all(|c| !matches!(c, Component::ParentDir))
    }
}

fn create_directory(dir: &Path) -> Result<(), VolumeError> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777))?;
    }
    Ok(())
}

fn remove_directory(dir: &Path) -> Result<(), VolumeError> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

#[async_trait::async_trait]
impl Provisioner for LocalDirectoryProvisioner {
    async fn provision(&self, request: &ProvisionRequest<'_>) -> Result<PersistentVolumeSpec, VolumeError> {
        let name = request.volume_name;
        if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
            return Err(VolumeError::new(format!("invalid volume name {name:?}")));
        }
        let dir = self.base_dir.join(name);
        let created = dir.clone();
        tokio::task::spawn_blocking(move || create_directory(&created)).await.map_err(VolumeError::new)??;
        let path = dir.to_string_lossy().into_owned();
        let mut spec = PersistentVolumeSpec {
            capacity: request
                .claim
                .spec
                .resources
                .requests
                .iter()
                .filter(|(k, _)| *k == "storage")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<SortedMap<_, _>>(),
            access_modes: request.claim.spec.access_modes.clone(),
            ..Default::default()
        };
        match request.selected_node {
            Some(node) => {
                spec.local = Some(LocalVolumeSource { path, fs_type: None });
                spec.node_affinity = Some(VolumeNodeAffinity {
                    required: Some(NodeSelector {
                        node_selector_terms: vec![NodeSelectorTerm {
                            match_expressions: vec![NodeSelectorRequirement {
                                key: LABEL_HOSTNAME.to_owned(),
                                operator: "In".to_owned(),
                                values: vec![node.to_owned()],
                            }],
                            match_fields: Vec::new(),
                        }],
                    }),
                });
            }
            None => {
                spec.host_path = Some(HostPathVolumeSource { path, type_: Some("DirectoryOrCreate".to_owned()) });
            }
        }
        Ok(spec)
    }

    async fn delete(&self, volume: &PersistentVolume) -> Result<(), VolumeError> {
        let Some(dir) = directory_of(&volume.spec) else {
            return Err(VolumeError::new("not a hostPath or local volume"));
        };
        let dir = PathBuf::from(dir);
        if !self.owns(&dir) {
            return Err(VolumeError::new(format!(
                "{} is not under the provisioner's directory {}",
                dir.display(),
                self.base_dir.display()
            )));
        }
        tokio::task::spawn_blocking(move || remove_directory(&dir)).await.map_err(VolumeError::new)?
    }
}
