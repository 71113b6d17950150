//! Pod volumes, their sources, and container mounts.
//!
//! The deprecated in-tree sources (`gcePersistentDisk`, `awsElasticBlockStore`,
//! `gitRepo`, `iscsi`, `glusterfs`, `rbd`, `flexVolume`, `cinder`, `cephfs`,
//! `flocker`, `fc`, `azureFile`, `vsphereVolume`, `quobyte`, `azureDisk`,
//! `photonPersistentDisk`, `portworxVolume`, `scaleIO`, `storageos`) are kept
//! as raw JSON: they survive a round trip and count as the volume's source,
//! but their contents are not typed or validated.

use serde_json::Value;

use crate::core::v1::{HostPathVolumeSource, NFSVolumeSource};
use crate::meta::LabelSelector;
use crate::quantity::Quantity;
use crate::wire;

use super::{LocalObjectReference, ObjectFieldSelector, ResourceFieldSelector};

/// A named volume that containers of the pod can mount. Exactly one source must be set.
#[wire]
pub struct Volume {
    /// Name of the volume (a DNS-1123 label, unique within the pod).
    pub name: String,
    /// A file or directory of the host node.
    pub host_path: Option<Box<HostPathVolumeSource>>,
    /// A temporary directory that lives as long as the pod.
    pub empty_dir: Option<Box<EmptyDirVolumeSource>>,
    /// Deprecated GCE persistent disk (raw JSON).
    pub gce_persistent_disk: Option<Box<Value>>,
    /// Deprecated AWS EBS volume (raw JSON).
    pub aws_elastic_block_store: Option<Box<Value>>,
    /// Deprecated git repository checkout (raw JSON).
    pub git_repo: Option<Box<Value>>,
    /// The keys of a Secret as files.
    pub secret: Option<Box<SecretVolumeSource>>,
    /// An NFS export.
    pub nfs: Option<Box<NFSVolumeSource>>,
    /// Deprecated iSCSI disk (raw JSON).
    pub iscsi: Option<Box<Value>>,
    /// Deprecated Glusterfs volume (raw JSON).
    pub glusterfs: Option<Box<Value>>,
    /// A PersistentVolumeClaim in the pod's namespace.
    pub persistent_volume_claim: Option<Box<PersistentVolumeClaimVolumeSource>>,
    /// Deprecated Ceph RBD volume (raw JSON).
    pub rbd: Option<Box<Value>>,
    /// Deprecated FlexVolume driver volume (raw JSON).
    pub flex_volume: Option<Box<Value>>,
    /// Deprecated OpenStack Cinder volume (raw JSON).
    pub cinder: Option<Box<Value>>,
    /// Deprecated CephFS volume (raw JSON).
    pub cephfs: Option<Box<Value>>,
    /// Deprecated Flocker volume (raw JSON).
    pub flocker: Option<Box<Value>>,
    /// Pod fields and container resources as files.
    #[serde(rename = "downwardAPI")]
    pub downward_api: Option<Box<DownwardAPIVolumeSource>>,
    /// Deprecated Fibre Channel volume (raw JSON).
    pub fc: Option<Box<Value>>,
    /// Deprecated Azure File volume (raw JSON).
    pub azure_file: Option<Box<Value>>,
    /// The keys of a ConfigMap as files.
    pub config_map: Option<Box<ConfigMapVolumeSource>>,
    /// Deprecated vSphere volume (raw JSON).
    pub vsphere_volume: Option<Box<Value>>,
    /// Deprecated Quobyte volume (raw JSON).
    pub quobyte: Option<Box<Value>>,
    /// Deprecated Azure Disk volume (raw JSON).
    pub azure_disk: Option<Box<Value>>,
    /// Deprecated Photon persistent disk (raw JSON).
    pub photon_persistent_disk: Option<Box<Value>>,
    /// Secrets, ConfigMaps, downward API and tokens projected into one directory.
    pub projected: Option<Box<ProjectedVolumeSource>>,
    /// Deprecated Portworx volume (raw JSON).
    pub portworx_volume: Option<Box<Value>>,
    /// Deprecated ScaleIO volume (raw JSON).
    #[serde(rename = "scaleIO")]
    pub scale_io: Option<Box<Value>>,
    /// Deprecated StorageOS volume (raw JSON).
    pub storageos: Option<Box<Value>>,
    /// An ephemeral volume of a CSI driver.
    pub csi: Option<Box<CSIVolumeSource>>,
    /// A volume provisioned for the pod from a claim template and deleted with it.
    pub ephemeral: Option<Box<EphemeralVolumeSource>>,
    /// An OCI image or artifact mounted read-only.
    pub image: Option<Box<ImageVolumeSource>>,
}

impl Volume {
    /// The JSON names of the sources this volume sets, in Kubernetes' order.
    pub fn source_names(&self) -> Vec<&'static str> {
        let set: [(&'static str, bool); 30] = [
            ("emptyDir", self.empty_dir.is_some()),
            ("hostPath", self.host_path.is_some()),
            ("gitRepo", self.git_repo.is_some()),
            ("gcePersistentDisk", self.gce_persistent_disk.is_some()),
            ("awsElasticBlockStore", self.aws_elastic_block_store.is_some()),
            ("secret", self.secret.is_some()),
            ("nfs", self.nfs.is_some()),
            ("iscsi", self.iscsi.is_some()),
            ("glusterfs", self.glusterfs.is_some()),
            ("flexVolume", self.flex_volume.is_some()),
            ("persistentVolumeClaim", self.persistent_volume_claim.is_some()),
            ("rbd", self.rbd.is_some()),
            ("cinder", self.cinder.is_some()),
            ("cephfs", self.cephfs.is_some()),
            ("quobyte", self.quobyte.is_some()),
            ("downwardAPI", self.downward_api.is_some()),
            ("fc", self.fc.is_some()),
            ("flocker", self.flocker.is_some()),
            ("azureFile", self.azure_file.is_some()),
            ("configMap", self.config_map.is_some()),
            ("vsphereVolume", self.vsphere_volume.is_some()),
            ("photonPersistentDisk", self.photon_persistent_disk.is_some()),
            ("portworxVolume", self.portworx_volume.is_some()),
            ("azureDisk", self.azure_disk.is_some()),
            ("storageos", self.storageos.is_some()),
            ("projected", self.projected.is_some()),
            ("scaleIO", self.scale_io.is_some()),
            ("csi", self.csi.is_some()),
            ("ephemeral", self.ephemeral.is_some()),
            ("image", self.image.is_some()),
        ];
        set.iter().filter(|(_, on)| *on).map(|(name, _)| *name).collect()
    }
}

/// A temporary directory that shares the pod's lifetime.
#[wire]
pub struct EmptyDirVolumeSource {
    /// Storage medium: `""` (node default) or `Memory` (tmpfs).
    pub medium: Option<String>,
    /// Maximum size of the directory.
    pub size_limit: Option<Quantity>,
}

/// The keys of a Secret, as files.
#[wire(eq)]
pub struct SecretVolumeSource {
    /// Name of the Secret in the pod's namespace.
    pub secret_name: Option<String>,
    /// Which keys to project, and where; all keys when empty.
    pub items: Vec<KeyToPath>,
    /// Permission bits of the files (default 0644).
    pub default_mode: Option<i32>,
    /// Whether the Secret or its keys may be missing.
    pub optional: Option<bool>,
}

/// The keys of a ConfigMap, as files.
#[wire(eq)]
pub struct ConfigMapVolumeSource {
    /// Name of the ConfigMap in the pod's namespace.
    #[wire(omitempty)]
    pub name: String,
    /// Which keys to project, and where; all keys when empty.
    pub items: Vec<KeyToPath>,
    /// Permission bits of the files (default 0644).
    pub default_mode: Option<i32>,
    /// Whether the ConfigMap or its keys may be missing.
    pub optional: Option<bool>,
}

/// A key projected to a file path.
#[wire(eq)]
pub struct KeyToPath {
    /// The key to project.
    pub key: String,
    /// Relative path of the file.
    pub path: String,
    /// Permission bits of the file; the volume's `defaultMode` when absent.
    pub mode: Option<i32>,
}

/// A PersistentVolumeClaim mounted as a volume.
#[wire(eq)]
pub struct PersistentVolumeClaimVolumeSource {
    /// Name of the claim in the pod's namespace.
    pub claim_name: String,
    /// Mount the volume read-only.
    pub read_only: Option<bool>,
}

/// Downward API files: pod fields and container resources.
#[wire]
pub struct DownwardAPIVolumeSource {
    /// The files.
    pub items: Vec<DownwardAPIVolumeFile>,
    /// Permission bits of the files (default 0644).
    pub default_mode: Option<i32>,
}

/// One downward API file.
#[wire]
pub struct DownwardAPIVolumeFile {
    /// Relative path of the file.
    pub path: String,
    /// A pod field (`metadata.name`, `metadata.labels`, …).
    pub field_ref: Option<ObjectFieldSelector>,
    /// A container resource (`limits.cpu`, …).
    pub resource_field_ref: Option<ResourceFieldSelector>,
    /// Permission bits of the file; the volume's `defaultMode` when absent.
    pub mode: Option<i32>,
}

/// Several sources projected into one directory.
#[wire]
pub struct ProjectedVolumeSource {
    /// The sources.
    #[wire(always)]
    pub sources: Vec<VolumeProjection>,
    /// Permission bits of the files (default 0644).
    pub default_mode: Option<i32>,
}

/// One source of a projected volume (exactly one field).
#[wire]
pub struct VolumeProjection {
    /// Keys of a Secret.
    pub secret: Option<SecretProjection>,
    /// Downward API files.
    #[serde(rename = "downwardAPI")]
    pub downward_api: Option<DownwardAPIProjection>,
    /// Keys of a ConfigMap.
    pub config_map: Option<ConfigMapProjection>,
    /// A service account token.
    pub service_account_token: Option<ServiceAccountTokenProjection>,
    /// Certificates of ClusterTrustBundles.
    pub cluster_trust_bundle: Option<ClusterTrustBundleProjection>,
}

/// Keys of a Secret in a projected volume.
#[wire(eq)]
pub struct SecretProjection {
    /// Name of the Secret.
    #[wire(omitempty)]
    pub name: String,
    /// Which keys to project, and where; all keys when empty.
    pub items: Vec<KeyToPath>,
    /// Whether the Secret or its keys may be missing.
    pub optional: Option<bool>,
}

/// Keys of a ConfigMap in a projected volume.
#[wire(eq)]
pub struct ConfigMapProjection {
    /// Name of the ConfigMap.
    #[wire(omitempty)]
    pub name: String,
    /// Which keys to project, and where; all keys when empty.
    pub items: Vec<KeyToPath>,
    /// Whether the ConfigMap or its keys may be missing.
    pub optional: Option<bool>,
}

/// Downward API files in a projected volume.
#[wire]
pub struct DownwardAPIProjection {
    /// The files.
    pub items: Vec<DownwardAPIVolumeFile>,
}

/// A bound service account token in a projected volume.
#[wire(eq)]
pub struct ServiceAccountTokenProjection {
    /// Intended audience of the token (default: the API server's).
    pub audience: Option<String>,
    /// Requested lifetime of the token in seconds (default 3600, at least 600).
    pub expiration_seconds: Option<i64>,
    /// Relative path of the token file.
    pub path: String,
}

/// The certificates of ClusterTrustBundles, as one PEM file.
#[wire(eq)]
pub struct ClusterTrustBundleProjection {
    /// Name of one ClusterTrustBundle (excludes `signerName`).
    pub name: Option<String>,
    /// All bundles of this signer (with `labelSelector`).
    pub signer_name: Option<String>,
    /// Selects the signer's bundles to include.
    pub label_selector: Option<LabelSelector>,
    /// Whether a missing bundle is tolerated.
    pub optional: Option<bool>,
    /// Relative path of the PEM file.
    pub path: String,
}

/// An ephemeral inline volume of a CSI driver.
#[wire(eq)]
pub struct CSIVolumeSource {
    /// Name of the CSI driver.
    pub driver: String,
    /// Mount the volume read-only.
    pub read_only: Option<bool>,
    /// Filesystem type, such as `ext4`.
    pub fs_type: Option<String>,
    /// Driver-specific attributes.
    pub volume_attributes: crate::SortedMap<String, String>,
    /// Secret passed to the driver's NodePublishVolume call.
    pub node_publish_secret_ref: Option<LocalObjectReference>,
}

/// A generic ephemeral volume: a claim created from a template, owned by the pod.
#[wire]
pub struct EphemeralVolumeSource {
    /// The PersistentVolumeClaimTemplate (metadata and spec), as JSON.
    pub volume_claim_template: Option<Value>,
}

/// An OCI image or artifact mounted read-only.
#[wire(eq)]
pub struct ImageVolumeSource {
    /// Image reference, such as `registry.example/tools:1.0`.
    pub reference: Option<String>,
    /// `Always`, `Never` or `IfNotPresent` (default depends on the tag).
    pub pull_policy: Option<String>,
}

/// A volume mounted into a container.
#[wire(eq)]
pub struct VolumeMount {
    /// Name of a volume of the pod.
    pub name: String,
    /// Mount read-only (default false).
    pub read_only: Option<bool>,
    /// `Disabled`, `IfPossible` or `Enabled`: make read-only mounts recursively read-only.
    pub recursive_read_only: Option<String>,
    /// Path in the container where the volume is mounted.
    pub mount_path: String,
    /// Path within the volume to mount instead of its root.
    pub sub_path: Option<String>,
    /// `None`, `HostToContainer` or `Bidirectional` mount propagation.
    pub mount_propagation: Option<String>,
    /// Like `subPath`, with `$(VAR)` environment references expanded.
    pub sub_path_expr: Option<String>,
}

impl VolumeMount {
    /// A mount of the named volume at `mount_path`.
    pub fn new(name: impl Into<String>, mount_path: impl Into<String>) -> Self {
        Self { name: name.into(), mount_path: mount_path.into(), ..Self::default() }
    }
}

/// A raw block volume mapped into a container.
#[wire(eq)]
pub struct VolumeDevice {
    /// Name of a PersistentVolumeClaim (or ephemeral) volume of the pod.
    pub name: String,
    /// Path of the device inside the container.
    pub device_path: String,
}
