//! PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimTemplate and
//! the persistent volume sources.

use crate::SortedMap;

use super::common::validate_positive_quantity;
use super::{NodeSelector, ObjectReference, TypedLocalObjectReference};
use crate::defaults::{default_str, default_to};
use crate::meta::{LabelSelector, ObjectMeta, Time};
use crate::quantity::ResourceList;
use crate::resource::ALL_VERBS;
use crate::validation::{
    DNS1123_SUBDOMAIN_ERROR, ErrorList, FieldError, NameRule, Path, is_dns1123_subdomain, validate_immutable,
    validate_label_selector, validate_object_meta, validate_object_meta_update,
};
use crate::{ApplyDefaults, Validate, wire};

/// The access modes a volume may be mounted with.
const ACCESS_MODES: &[&str] = &["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];
/// The volume modes.
const VOLUME_MODES: &[&str] = &["Block", "Filesystem"];
/// The reclaim policies of a persistent volume.
const RECLAIM_POLICIES: &[&str] = &["Delete", "Recycle", "Retain"];
/// The `type` values of a host path volume.
const HOST_PATH_TYPES: &[&str] =
    &["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"];

// ---------------------------------------------------------------------------
// PersistentVolume
// ---------------------------------------------------------------------------

/// A piece of storage in the cluster, provisioned by an administrator or a
/// storage class (cluster-scoped).
#[wire]
pub struct PersistentVolume {
    /// APIVersion of the object (`v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`PersistentVolume`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// Desired state: capacity, source and access modes of the volume.
    #[wire(omitempty)]
    pub spec: PersistentVolumeSpec,
    /// Observed state: the binding phase.
    pub status: Option<PersistentVolumeStatus>,
}
crate::impl_resource!(PersistentVolume {
    group: "",
    version: "v1",
    kind: "PersistentVolume",
    plural: "persistentvolumes",
    singular: "persistentvolume",
    short_names: ["pv"],
    categories: [],
    namespaced: false,
    verbs: ALL_VERBS,
    subresources: ["status"],
    selectable_fields: []
});
/// A list of persistent volumes.
pub type PersistentVolumeList = crate::meta::ObjectList<PersistentVolume>;

/// The specification of a persistent volume. Exactly one volume source
/// (`hostPath`, `nfs`, `local`, `csi`, …) must be set.
#[wire]
pub struct PersistentVolumeSpec {
    /// Size of the volume (`storage`).
    #[wire(omitempty)]
    pub capacity: ResourceList,
    /// Deprecated in-tree GCE persistent disk.
    pub gce_persistent_disk: Option<GCEPersistentDiskVolumeSource>,
    /// Deprecated in-tree AWS EBS volume.
    pub aws_elastic_block_store: Option<AWSElasticBlockStoreVolumeSource>,
    /// A directory on the host (single-node testing only).
    pub host_path: Option<HostPathVolumeSource>,
    /// Deprecated GlusterFS volume.
    pub glusterfs: Option<GlusterfsPersistentVolumeSource>,
    /// An NFS export.
    pub nfs: Option<NFSVolumeSource>,
    /// Deprecated Ceph RBD volume.
    pub rbd: Option<RBDPersistentVolumeSource>,
    /// An iSCSI disk.
    pub iscsi: Option<ISCSIPersistentVolumeSource>,
    /// Deprecated in-tree OpenStack Cinder volume.
    pub cinder: Option<CinderPersistentVolumeSource>,
    /// Deprecated CephFS volume.
    pub cephfs: Option<CephFSPersistentVolumeSource>,
    /// A Fibre Channel disk.
    pub fc: Option<FCVolumeSource>,
    /// Deprecated Flocker volume.
    pub flocker: Option<FlockerVolumeSource>,
    /// Deprecated FlexVolume driver volume.
    pub flex_volume: Option<FlexPersistentVolumeSource>,
    /// Deprecated in-tree Azure File share.
    pub azure_file: Option<AzureFilePersistentVolumeSource>,
    /// Deprecated in-tree vSphere volume.
    pub vsphere_volume: Option<VsphereVirtualDiskVolumeSource>,
    /// Deprecated Quobyte volume.
    pub quobyte: Option<QuobyteVolumeSource>,
    /// Deprecated in-tree Azure data disk.
    pub azure_disk: Option<AzureDiskVolumeSource>,
    /// Deprecated Photon Controller persistent disk.
    pub photon_persistent_disk: Option<PhotonPersistentDiskVolumeSource>,
    /// Deprecated in-tree Portworx volume.
    pub portworx_volume: Option<PortworxVolumeSource>,
    /// Deprecated ScaleIO volume.
    #[serde(rename = "scaleIO")]
    pub scale_io: Option<ScaleIOPersistentVolumeSource>,
    /// A local disk, partition or directory of one node (requires `nodeAffinity`).
    pub local: Option<LocalVolumeSource>,
    /// Deprecated StorageOS volume.
    pub storageos: Option<StorageOSPersistentVolumeSource>,
    /// A volume served by a CSI driver.
    pub csi: Option<CSIPersistentVolumeSource>,
    /// Ways the volume can be mounted (`ReadWriteOnce`, `ReadOnlyMany`, `ReadWriteMany`, `ReadWriteOncePod`).
    pub access_modes: Vec<String>,
    /// The claim bound to this volume.
    pub claim_ref: Option<ObjectReference>,
    /// What happens when the claim is released: `Retain` (default), `Delete` or `Recycle`.
    pub persistent_volume_reclaim_policy: Option<String>,
    /// Storage class the volume belongs to; empty means no class.
    pub storage_class_name: Option<String>,
    /// Mount options, not validated.
    pub mount_options: Vec<String>,
    /// `Filesystem` (default) or `Block`.
    pub volume_mode: Option<String>,
    /// Nodes the volume can be accessed from.
    pub node_affinity: Option<VolumeNodeAffinity>,
    /// VolumeAttributesClass the volume belongs to.
    pub volume_attributes_class_name: Option<String>,
}

/// Nodes a persistent volume can be accessed from.
#[wire]
pub struct VolumeNodeAffinity {
    /// Node selector the nodes must match.
    pub required: Option<NodeSelector>,
}

/// Observed state of a persistent volume.
#[wire]
pub struct PersistentVolumeStatus {
    /// `Pending`, `Available`, `Bound`, `Released` or `Failed`.
    pub phase: Option<String>,
    /// Human-readable reason for the phase.
    pub message: Option<String>,
    /// Short CamelCase reason for a failure.
    pub reason: Option<String>,
    /// When the volume last changed phase.
    pub last_phase_transition_time: Option<Time>,
}

/// A reference to a Secret by name and namespace.
#[wire(eq)]
pub struct SecretReference {
    /// Name of the secret.
    pub name: Option<String>,
    /// Namespace of the secret.
    pub namespace: Option<String>,
}

/// A directory (or file, socket, device) on the host.
#[wire(eq)]
pub struct HostPathVolumeSource {
    /// Path on the host.
    pub path: String,
    /// Expected type of the path: `""`, `DirectoryOrCreate`, `Directory`, `FileOrCreate`, `File`, `Socket`, `CharDevice`, `BlockDevice`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
}

/// An NFS export.
#[wire(eq)]
pub struct NFSVolumeSource {
    /// Hostname or IP address of the NFS server.
    pub server: String,
    /// Path exported by the server.
    pub path: String,
    /// Mount the export read-only.
    pub read_only: Option<bool>,
}

/// A local disk, partition or directory.
#[wire(eq)]
pub struct LocalVolumeSource {
    /// Full path of the volume on the node.
    pub path: String,
    /// Filesystem type, for block devices.
    pub fs_type: Option<String>,
}

/// A volume served by a CSI driver.
#[wire(eq)]
pub struct CSIPersistentVolumeSource {
    /// Name of the driver.
    pub driver: String,
    /// Unique volume name the driver returned on creation.
    pub volume_handle: String,
    /// Mount read-only.
    pub read_only: Option<bool>,
    /// Filesystem type to mount.
    pub fs_type: Option<String>,
    /// Driver-specific attributes.
    pub volume_attributes: SortedMap<String, String>,
    /// Secret passed to ControllerPublishVolume and ControllerUnpublishVolume.
    pub controller_publish_secret_ref: Option<SecretReference>,
    /// Secret passed to NodeStageVolume and NodeUnstageVolume.
    pub node_stage_secret_ref: Option<SecretReference>,
    /// Secret passed to NodePublishVolume and NodeUnpublishVolume.
    pub node_publish_secret_ref: Option<SecretReference>,
    /// Secret passed to ControllerExpandVolume.
    pub controller_expand_secret_ref: Option<SecretReference>,
    /// Secret passed to NodeExpandVolume.
    pub node_expand_secret_ref: Option<SecretReference>,
}

/// A GCE persistent disk (deprecated in-tree driver).
#[wire(eq)]
pub struct GCEPersistentDiskVolumeSource {
    /// Name of the disk in GCE.
    pub pd_name: String,
    /// Filesystem type.
    pub fs_type: Option<String>,
    /// Partition to mount.
    pub partition: Option<i32>,
    /// Mount read-only.
    pub read_only: Option<bool>,
}

/// An AWS EBS volume (deprecated in-tree driver).
#[wire(eq)]
pub struct AWSElasticBlockStoreVolumeSource {
    /// Unique id of the EBS volume.
    #[serde(rename = "volumeID")]
    pub volume_id: String,
    /// Filesystem type.
    pub fs_type: Option<String>,
    /// Partition to mount.
    pub partition: Option<i32>,
    /// Mount read-only.
    pub read_only: Option<bool>,
}

/// A GlusterFS volume (deprecated).
#[wire(eq)]
pub struct GlusterfsPersistentVolumeSource {
    /// Endpoints object naming the Glusterfs servers.
    pub endpoints: String,
    /// Glusterfs volume path.
    pub path: String,
    /// Mount read-only.
    pub read_only: Option<bool>,
    /// Namespace of the endpoints object.
    pub endpoints_namespace: Option<String>,
}

/// A Ceph RBD volume (deprecated).
#[wire(eq)]
pub struct RBDPersistentVolumeSource {
    /// Ceph monitors.
    pub monitors: Vec<String>,
    /// Rados image name.
    pub image: String,
    /// Filesystem type.
    pub fs_type: Option<String>,
    /// Rados pool (default `rbd`).
    pub pool: Option<String>,
    /// Rados user (default `admin`).
    pub user: Option<String>,
    /// Keyring path (default `/etc/ceph/keyring`).
    pub keyring: Option<String>,
    /// Secret with the authentication key.
    pub secret_ref: Option<SecretReference>,
    /// Mount read-only.
    pub read_only: Option<bool>,
}

/// An iSCSI disk.
#[wire(eq)]
pub struct ISCSIPersistentVolumeSource {
    /// Target portal, `ip[:port]`.
    pub target_portal: String,
    /// Target iSCSI Qualified Name.
    pub iqn: String,
    /// Target LUN number.
    #[wire(always)]
    pub lun: i32,
    /// iSCSI interface name (default `default`).
    pub iscsi_interface: Option<String>,
    /// Filesystem type.
    pub fs_type: Option<String>,
    /// Mount read-only.
    pub read_only: Option<bool>,
    /// Additional target portals.
    pub portals: Vec<String>,
    /// Whether iSCSI discovery CHAP authentication is used.
    pub chap_auth_discovery: Option<bool>,
    /// Whether iSCSI session CHAP authentication is used.
    pub chap_auth_session: Option<bool>,
    /// Secret with the CHAP credentials.
    pub secret_ref: Option<SecretReference>,
    /// Custom iSCSI initiator name.
    pub initiator_name: Option<String>,
}

/// An OpenStack Cinder volume (deprecated in-tree driver).
#[wire(eq)]
pub struct CinderPersistentVolumeSource {
    /// Volume id.
    #[serde(rename = "volumeID")]
    pub volume_id: String,
    /// Filesystem type.
    pub fs_type: Option<String>,
    /// Mount read-only.
    pub read_only: Option<bool>,
    /// Secret with the OpenStack credentials.
    pub secret_ref: Option<SecretReference>,
}

/// A CephFS volume (deprecated).
#[wire(eq)]
pub struct CephFSPersistentVolumeSource {
    /// Ceph monitors.
    pub monitors: Vec<String>,
    /// Root of the mounted tree (default `/`).
    pub path: Option<String>,
    /// Rados user.
    pub user: Option<String>,
    /// Path to the key ring.
    pub secret_file: Option<String>,
    /// Secret with the authentication key.
    pub secret_ref: Option<SecretReference>,
    /// Mount read-only.
    pub read_only: Option<bool>,
}

/// A Fibre Channel disk.
#[wire(eq)]
pub struct FCVolumeSource {
    /// Target world-wide names.
    #[serde(rename = "targetWWNs")]
    pub target_wwns: Vec<String>,
    /// Target LUN number.
    pub lun: Option<i32>,
    /// Filesystem type.
    pub fs_type: Option<String>,
    /// Mount read-only.
    pub read_only: Option<bool>,
    /// World-wide identifiers (alternative to targetWWNs + lun).
    pub wwids: Vec<String>,
}

/// A Flocker dataset (deprecated).
#[wire(eq)]
pub struct FlockerVolumeSource {
    /// Dataset name.
    pub dataset_name: Option<String>,
    /// Dataset UUID.
    #[serde(rename = "datasetUUID")]
    pub dataset_uuid: Option<String>,
}

/// A volume of a FlexVolume driver (deprecated).
#[wire(eq)]
pub struct FlexPersistentVolumeSource {
    /// Driver name.
    pub driver: String,
    /// Filesystem type.
    pub fs_type: Option<String>,
    /// Secret passed to the driver.
    pub secret_ref: Option<SecretReference>,
    /// Mount read-only.
    pub read_only: Option<bool>,
    /// Driver options.
    pub options: SortedMap<String, String>,
}

/// An Azure File share (deprecated in-tree driver).
#[wire(eq)]
pub struct AzureFilePersistentVolumeSource {
    /// Secret with the storage account name and key.
    pub secret_name: String,
    /// Share name.
    pub share_name: String,
    /// Mount read-only.
    pub read_only: Option<bool>,
    /// Namespace of the secret (default: the pod's).
    pub secret_namespace: Option<String>,
}

/// A vSphere volume (deprecated in-tree driver).
#[wire(eq)]
pub struct VsphereVirtualDiskVolumeSource {
    /// Path of the vmdk.
    pub volume_path: String,
    /// Filesystem type.
    pub fs_type: Option<String>,
    /// Storage policy name.
    pub storage_policy_name: Option<String>,
    /// Storage policy id.
    #[serde(rename = "storagePolicyID")]
    pub storage_policy_id: Option<String>,
}

/// A Quobyte volume (deprecated).
#[wire(eq)]
pub struct QuobyteVolumeSource {
    /// Quobyte registries, `host:port` separated by commas.
    pub registry: String,
    /// Volume name.
    pub volume: String,
    /// Mount read-only.
    pub read_only: Option<bool>,
    /// User to map volume access to.
    pub user: Option<String>,
    /// Group to map volume access to.
    pub group: Option<String>,
    /// Tenant owning the volume.
    pub tenant: Option<String>,
}

/// An Azure data disk (deprecated in-tree driver).
#[wire(eq)]
pub struct AzureDiskVolumeSource {
    /// Disk name.
    pub disk_name: String,
    /// Disk URI.
    #[serde(rename = "diskURI")]
    pub disk_uri: String,
    /// Host caching mode: `None`, `ReadOnly` or `ReadWrite` (default).
    pub caching_mode: Option<String>,
    /// Filesystem type (default `ext4`).
    pub fs_type: Option<String>,
    /// Mount read-only (default false).
    pub read_only: Option<bool>,
    /// `Shared` (default), `Dedicated` or `Managed`.
    pub kind: Option<String>,
}

/// A Photon Controller persistent disk (deprecated).
#[wire(eq)]
pub struct PhotonPersistentDiskVolumeSource {
    /// Disk id.
    #[serde(rename = "pdID")]
    pub pd_id: String,
    /// Filesystem type.
    pub fs_type: Option<String>,
}

/// A Portworx volume (deprecated in-tree driver).
#[wire(eq)]
pub struct PortworxVolumeSource {
    /// Volume id.
    #[serde(rename = "volumeID")]
    pub volume_id: String,
    /// Filesystem type.
    pub fs_type: Option<String>,
    /// Mount read-only.
    pub read_only: Option<bool>,
}

/// A ScaleIO volume (deprecated).
#[wire(eq)]
pub struct ScaleIOPersistentVolumeSource {
    /// ScaleIO API gateway address.
    pub gateway: String,
    /// Storage system name.
    pub system: String,
    /// Secret with the ScaleIO user credentials.
    pub secret_ref: Option<SecretReference>,
    /// Whether the gateway is reached over SSL.
    #[serde(rename = "sslEnabled")]
    pub ssl_enabled: Option<bool>,
    /// Protection domain.
    pub protection_domain: Option<String>,
    /// Storage pool.
    pub storage_pool: Option<String>,
    /// `ThickProvisioned` or `ThinProvisioned` (default).
    pub storage_mode: Option<String>,
    /// Volume name.
    pub volume_name: Option<String>,
    /// Filesystem type (default `xfs`).
    pub fs_type: Option<String>,
    /// Mount read-only.
    pub read_only: Option<bool>,
}

/// A StorageOS volume (deprecated).
#[wire(eq)]
pub struct StorageOSPersistentVolumeSource {
    /// Volume name.
    pub volume_name: Option<String>,
    /// Volume namespace in StorageOS.
    pub volume_namespace: Option<String>,
    /// Filesystem type.
    pub fs_type: Option<String>,
    /// Mount read-only.
    pub read_only: Option<bool>,
    /// Secret with the StorageOS API credentials.
    pub secret_ref: Option<ObjectReference>,
}

impl PersistentVolumeSpec {
    /// The JSON names of the volume sources that are set.
    pub fn volume_sources(&self) -> Vec<&'static str> {
        let set = [
            ("gcePersistentDisk", self.gce_persistent_disk.is_some()),
            ("awsElasticBlockStore", self.aws_elastic_block_store.is_some()),
            ("hostPath", self.host_path.is_some()),
            ("glusterfs", self.glusterfs.is_some()),
            ("nfs", self.nfs.is_some()),
            ("rbd", self.rbd.is_some()),
            ("iscsi", self.iscsi.is_some()),
            ("cinder", self.cinder.is_some()),
            ("cephfs", self.cephfs.is_some()),
            ("fc", self.fc.is_some()),
            ("flocker", self.flocker.is_some()),
            ("flexVolume", self.flex_volume.is_some()),
            ("azureFile", self.azure_file.is_some()),
            ("vsphereVolume", self.vsphere_volume.is_some()),
            ("quobyte", self.quobyte.is_some()),
            ("azureDisk", self.azure_disk.is_some()),
            ("photonPersistentDisk", self.photon_persistent_disk.is_some()),
            ("portworxVolume", self.portworx_volume.is_some()),
            ("scaleIO", self.scale_io.is_some()),
            ("local", self.local.is_some()),
            ("storageos", self.storageos.is_some()),
            ("csi", self.csi.is_some()),
        ];
        set.into_iter().filter(|(_, on)| *on).map(|(name, _)| name).collect()
    }

    /// The spec reduced to its volume source (for immutability checks).
    fn source_only(&self) -> Self {
        Self {
            capacity: ResourceList::new(),
            access_modes: Vec::new(),
            claim_ref: None,
            persistent_volume_reclaim_policy: None,
            storage_class_name: None,
            mount_options: Vec::new(),
            volume_mode: None,
            node_affinity: None,
            volume_attributes_class_name: None,
            ..self.clone()
        }
    }
}

// ---------------------------------------------------------------------------
// PersistentVolumeClaim
// ---------------------------------------------------------------------------

/// A user's request for storage, bound to a persistent volume.
#[wire]
pub struct PersistentVolumeClaim {
    /// APIVersion of the object (`v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`PersistentVolumeClaim`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// Desired characteristics of the volume.
    #[wire(omitempty)]
    pub spec: PersistentVolumeClaimSpec,
    /// Observed state of the claim.
    pub status: Option<PersistentVolumeClaimStatus>,
}
crate::impl_resource!(PersistentVolumeClaim {
    group: "",
    version: "v1",
    kind: "PersistentVolumeClaim",
    plural: "persistentvolumeclaims",
    singular: "persistentvolumeclaim",
    short_names: ["pvc"],
    categories: [],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: ["status"],
    selectable_fields: []
});
/// A list of persistent volume claims.
pub type PersistentVolumeClaimList = crate::meta::ObjectList<PersistentVolumeClaim>;

/// The desired characteristics of a claimed volume.
#[wire]
pub struct PersistentVolumeClaimSpec {
    /// Access modes the volume must support.
    pub access_modes: Vec<String>,
    /// Label query over the volumes to bind to.
    pub selector: Option<LabelSelector>,
    /// Minimum (`requests.storage`) and maximum size of the volume. Always
    /// written, as Go writes a non-pointer struct.
    pub resources: VolumeResourceRequirements,
    /// Name of the bound volume.
    pub volume_name: Option<String>,
    /// Storage class; `""` requests a volume without class.
    pub storage_class_name: Option<String>,
    /// `Filesystem` (default) or `Block`.
    pub volume_mode: Option<String>,
    /// An existing VolumeSnapshot or PersistentVolumeClaim to populate the volume from.
    pub data_source: Option<TypedLocalObjectReference>,
    /// Any object (possibly in another namespace) to populate the volume from.
    pub data_source_ref: Option<TypedObjectReference>,
    /// VolumeAttributesClass used by the claim.
    pub volume_attributes_class_name: Option<String>,
}

/// Storage limits and requests of a claim.
#[wire(eq)]
pub struct VolumeResourceRequirements {
    /// Maximum amount of storage.
    #[wire(omitempty)]
    pub limits: ResourceList,
    /// Minimum amount of storage (`storage` is required).
    #[wire(omitempty)]
    pub requests: ResourceList,
}

/// A reference to an object of any kind, possibly in another namespace.
#[wire(eq)]
pub struct TypedObjectReference {
    /// API group of the object; empty or unset for the core group.
    pub api_group: Option<String>,
    /// Kind of the object.
    pub kind: String,
    /// Name of the object.
    pub name: String,
    /// Namespace of the object (cross-namespace data sources).
    pub namespace: Option<String>,
}

/// Observed state of a claim.
#[wire]
pub struct PersistentVolumeClaimStatus {
    /// `Pending`, `Bound` or `Lost`.
    pub phase: Option<String>,
    /// Access modes of the bound volume.
    pub access_modes: Vec<String>,
    /// Capacity of the bound volume.
    #[wire(omitempty)]
    pub capacity: ResourceList,
    /// Current conditions (`Resizing`, `FileSystemResizePending`, …).
    pub conditions: Vec<PersistentVolumeClaimCondition>,
    /// Resources allocated to the claim (during and after expansion).
    #[wire(omitempty)]
    pub allocated_resources: ResourceList,
    /// State of resize operations per resource.
    pub allocated_resource_statuses: SortedMap<String, String>,
    /// VolumeAttributesClass the claim currently uses.
    pub current_volume_attributes_class_name: Option<String>,
    /// State of an ongoing ModifyVolume operation.
    pub modify_volume_status: Option<ModifyVolumeStatus>,
}

/// A condition of a claim.
#[wire]
pub struct PersistentVolumeClaimCondition {
    /// Condition type, such as `Resizing`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// When the condition was last probed.
    pub last_probe_time: Option<Time>,
    /// When the condition last changed status.
    pub last_transition_time: Option<Time>,
    /// Machine-readable CamelCase reason.
    pub reason: Option<String>,
    /// Human-readable message.
    pub message: Option<String>,
}

/// State of a ModifyVolume operation on a claim.
#[wire(eq)]
pub struct ModifyVolumeStatus {
    /// VolumeAttributesClass being reconciled to.
    pub target_volume_attributes_class_name: Option<String>,
    /// `Pending`, `InProgress` or `Infeasible`.
    pub status: String,
}

/// A claim template, as StatefulSets and ephemeral volumes embed it.
#[wire]
pub struct PersistentVolumeClaimTemplate {
    /// Labels and annotations copied to the created claim.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// Spec of the created claim.
    pub spec: PersistentVolumeClaimSpec,
}

// ---------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------

impl ApplyDefaults for PersistentVolume {
    /// Reclaim policy `Retain`, volume mode `Filesystem`, phase `Pending`, and
    /// the defaults of the volume sources.
    fn apply_defaults(&mut self) {
        self.spec.apply_defaults();
        let status = self.status.get_or_insert_with(Default::default);
        default_str(&mut status.phase, "Pending");
    }
}

impl ApplyDefaults for PersistentVolumeSpec {
    fn apply_defaults(&mut self) {
        default_str(&mut self.persistent_volume_reclaim_policy, "Retain");
        default_to(&mut self.volume_mode, "Filesystem".to_owned());
        if let Some(hp) = &mut self.host_path {
            default_to(&mut hp.type_, String::new());
        }
        if let Some(rbd) = &mut self.rbd {
            default_str(&mut rbd.pool, "rbd");
            default_str(&mut rbd.user, "admin");
            default_str(&mut rbd.keyring, "/etc/ceph/keyring");
        }
        if let Some(iscsi) = &mut self.iscsi {
            default_str(&mut iscsi.iscsi_interface, "default");
        }
        if let Some(disk) = &mut self.azure_disk {
            default_to(&mut disk.caching_mode, "ReadWrite".to_owned());
            default_to(&mut disk.fs_type, "ext4".to_owned());
            default_to(&mut disk.read_only, false);
            default_to(&mut disk.kind, "Shared".to_owned());
        }
        if let Some(sio) = &mut self.scale_io {
            default_str(&mut sio.storage_mode, "ThinProvisioned");
            default_str(&mut sio.fs_type, "xfs");
        }
    }
}

impl ApplyDefaults for PersistentVolumeClaim {
    /// Volume mode `Filesystem` and phase `Pending`.
    fn apply_defaults(&mut self) {
        self.spec.apply_defaults();
        let status = self.status.get_or_insert_with(Default::default);
        default_str(&mut status.phase, "Pending");
    }
}

impl ApplyDefaults for PersistentVolumeClaimSpec {
    fn apply_defaults(&mut self) {
        default_to(&mut self.volume_mode, "Filesystem".to_owned());
    }
}

impl ApplyDefaults for PersistentVolumeClaimTemplate {
    fn apply_defaults(&mut self) {
        self.spec.apply_defaults();
    }
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

fn validate_access_modes(modes: &[String], path: &Path, errors: &mut ErrorList) {
    if modes.is_empty() {
        errors.push(FieldError::required(path, "at least 1 access mode is required"));
        return;
    }
    for mode in modes {
        if !ACCESS_MODES.contains(&mode.as_str()) {
            errors.push(FieldError::not_supported(path, mode, ACCESS_MODES));
        }
    }
    if modes.len() > 1 && modes.iter().any(|m| m == "ReadWriteOncePod") {
        errors.push(FieldError::forbidden(path, "may not use ReadWriteOncePod with other access modes"));
    }
}

fn validate_volume_mode(mode: Option<&str>, path: &Path, errors: &mut ErrorList) {
    if let Some(m) = mode
        && !VOLUME_MODES.contains(&m)
    {
        errors.push(FieldError::not_supported(path, m, VOLUME_MODES));
    }
}

fn validate_optional_subdomain(value: Option<&str>, path: &Path, errors: &mut ErrorList) {
    if let Some(v) = value
        && !v.is_empty()
        && !is_dns1123_subdomain(v)
    {
        errors.push(FieldError::invalid(path, v, DNS1123_SUBDOMAIN_ERROR));
    }
}

fn validate_secret_reference(r: Option<&SecretReference>, path: &Path, errors: &mut ErrorList) {
    if let Some(r) = r {
        if r.name.as_deref().is_none_or(str::is_empty) {
            errors.push(FieldError::required(&path.child("name"), ""));
        }
        if r.namespace.as_deref().is_none_or(str::is_empty) {
            errors.push(FieldError::required(&path.child("namespace"), ""));
        }
    }
}

fn validate_node_selector(sel: &NodeSelector, path: &Path, errors: &mut ErrorList) {
    if sel.node_selector_terms.is_empty() {
        errors
            .push(FieldError::required(&path.child("nodeSelectorTerms"), "must have at least one node selector term"));
    }
}

/// Validates a persistent volume spec under `path` (`spec`).
pub fn validate_persistent_volume_spec(spec: &PersistentVolumeSpec, path: &Path, errors: &mut ErrorList) {
    // Capacity: exactly `storage`, positive.
    let cap_path = path.child("capacity");
    if spec.capacity.is_empty() {
        errors.push(FieldError::required(&cap_path, ""));
    } else if !spec.capacity.contains_key("storage") || spec.capacity.len() > 1 {
        let keys: Vec<&String> = spec.capacity.keys().collect();
        errors.push(FieldError::not_supported(&cap_path, keys, &["storage"]));
    }
    for (k, q) in &spec.capacity {
        validate_positive_quantity(q, &cap_path.key(k), errors);
    }
    // Access modes.
    let modes_path = path.child("accessModes");
    if spec.access_modes.is_empty() {
        errors.push(FieldError::required(&modes_path, ""));
    } else {
        validate_access_modes(&spec.access_modes, &modes_path, errors);
    }
    // Reclaim policy.
    let policy_path = path.child("persistentVolumeReclaimPolicy");
    if let Some(p) = spec.persistent_volume_reclaim_policy.as_deref()
        && !p.is_empty()
    {
        if !RECLAIM_POLICIES.contains(&p) {
            errors.push(FieldError::not_supported(&policy_path, p, RECLAIM_POLICIES));
        } else if p == "Recycle" {
            if spec.host_path.is_none() && spec.nfs.is_none() {
                errors.push(FieldError::forbidden(
                    &policy_path,
                    "Recycle is only supported for nfs and hostPath volumes",
                ));
            } else if let Some(hp) = &spec.host_path
                && hp.path.trim_end_matches('/').is_empty()
            {
                errors.push(FieldError::forbidden(&policy_path, "may not be 'recycle' for a hostPath mount of '/'"));
            }
        }
    }
    validate_optional_subdomain(spec.storage_class_name.as_deref(), &path.child("storageClassName"), errors);
    validate_optional_subdomain(
        spec.volume_attributes_class_name.as_deref(),
        &path.child("volumeAttributesClassName"),
        errors,
    );
    validate_volume_mode(spec.volume_mode.as_deref(), &path.child("volumeMode"), errors);
    if let Some(aff) = &spec.node_affinity {
        match &aff.required {
            Some(sel) => validate_node_selector(sel, &path.child("nodeAffinity").child("required"), errors),
            None => errors.push(FieldError::required(
                &path.child("nodeAffinity").child("required"),
                "must specify required node constraints",
            )),
        }
    }

    // Exactly one source.
    let sources = spec.volume_sources();
    match sources.as_slice() {
        [] => errors.push(FieldError::required(path, "must specify a volume type")),
        [_] => {}
        [_, rest @ ..] => {
            for name in rest {
                errors.push(FieldError::forbidden(&path.child(name), "may not specify more than 1 volume type"));
            }
        }
    }
    if let Some(hp) = &spec.host_path {
        let p = path.child("hostPath");
        if hp.path.is_empty() {
            errors.push(FieldError::required(&p.child("path"), ""));
        }
        if let Some(t) = hp.type_.as_deref()
            && !HOST_PATH_TYPES.contains(&t)
        {
            errors.push(FieldError::not_supported(&p.child("type"), t, HOST_PATH_TYPES));
        }
    }
    if let Some(nfs) = &spec.nfs {
        let p = path.child("nfs");
        if nfs.server.is_empty() {
            errors.push(FieldError::required(&p.child("server"), ""));
        }
        if nfs.path.is_empty() {
            errors.push(FieldError::required(&p.child("path"), ""));
        } else if !nfs.path.starts_with('/') {
            errors.push(FieldError::invalid(&p.child("path"), &nfs.path, "must be an absolute path"));
        }
    }
    if let Some(local) = &spec.local {
        let p = path.child("local");
        if local.path.is_empty() {
            errors.push(FieldError::required(&p.child("path"), ""));
        } else if local.path.split('/').any(|seg| seg == "..") {
            errors.push(FieldError::invalid(&p.child("path"), &local.path, "must not contain '..'"));
        }
        if spec.node_affinity.as_ref().and_then(|a| a.required.as_ref()).is_none() {
            errors.push(FieldError::required(&path.child("nodeAffinity"), "Local volume requires node affinity"));
        }
    }
    if let Some(csi) = &spec.csi {
        let p = path.child("csi");
        if csi.driver.is_empty() {
            errors.push(FieldError::required(&p.child("driver"), ""));
        } else if csi.driver.len() > 63 {
            errors.push(FieldError::too_long(&p.child("driver"), 63));
        } else if !is_dns1123_subdomain(&csi.driver.to_lowercase()) {
            errors.push(FieldError::invalid(&p.child("driver"), &csi.driver, DNS1123_SUBDOMAIN_ERROR));
        }
        if csi.volume_handle.is_empty() {
            errors.push(FieldError::required(&p.child("volumeHandle"), ""));
        }
        for (name, r) in [
            ("controllerPublishSecretRef", &csi.controller_publish_secret_ref),
            ("nodeStageSecretRef", &csi.node_stage_secret_ref),
            ("nodePublishSecretRef", &csi.node_publish_secret_ref),
            ("controllerExpandSecretRef", &csi.controller_expand_secret_ref),
            ("nodeExpandSecretRef", &csi.node_expand_secret_ref),
        ] {
            validate_secret_reference(r.as_ref(), &p.child(name), errors);
        }
    }
}

impl Validate for PersistentVolume {
    fn validate(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta(&self.metadata, false, NameRule::Subdomain, &mut errors);
        validate_persistent_volume_spec(&self.spec, &Path::new("spec"), &mut errors);
        errors
    }

    /// The volume source and volume mode are immutable, and so is the node
    /// affinity once set.
    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, false, NameRule::Subdomain, &mut errors);
        let spec = Path::new("spec");
        validate_persistent_volume_spec(&self.spec, &spec, &mut errors);
        if self.spec.source_only() != old.spec.source_only() {
            errors.push(FieldError::forbidden(
                &spec.child("persistentvolumesource"),
                "spec.persistentvolumesource is immutable after creation",
            ));
        }
        validate_immutable(&self.spec.volume_mode, &old.spec.volume_mode, &spec.child("volumeMode"), &mut errors);
        if old.spec.node_affinity.is_some() {
            validate_immutable(
                &self.spec.node_affinity,
                &old.spec.node_affinity,
                &spec.child("nodeAffinity"),
                &mut errors,
            );
        }
        errors
    }
}

fn validate_typed_local_ref(api_group: Option<&str>, kind: &str, name: &str, path: &Path, errors: &mut ErrorList) {
    if name.is_empty() {
        errors.push(FieldError::required(&path.child("name"), ""));
    }
    if kind.is_empty() {
        errors.push(FieldError::required(&path.child("kind"), ""));
    }
    if api_group.is_none_or(str::is_empty) && !kind.is_empty() && kind != "PersistentVolumeClaim" {
        errors.push(FieldError::invalid(
            path,
            kind,
            "must be 'PersistentVolumeClaim' when referencing the default apiGroup",
        ));
    }
}

/// Validates a claim spec under `path` (`spec`, or a template's `spec`).
pub fn validate_persistent_volume_claim_spec(spec: &PersistentVolumeClaimSpec, path: &Path, errors: &mut ErrorList) {
    validate_access_modes(&spec.access_modes, &path.child("accessModes"), errors);
    if let Some(sel) = &spec.selector {
        validate_label_selector(sel, &path.child("selector"), errors);
    }
    let res = path.child("resources");
    // As Kubernetes, only the storage request is checked.
    match spec.resources.requests.get("storage") {
        None => errors.push(FieldError::required(&res.key("storage"), "")),
        Some(q) => validate_positive_quantity(q, &res.key("storage"), errors),
    }
    validate_optional_subdomain(spec.storage_class_name.as_deref(), &path.child("storageClassName"), errors);
    validate_optional_subdomain(
        spec.volume_attributes_class_name.as_deref(),
        &path.child("volumeAttributesClassName"),
        errors,
    );
    validate_volume_mode(spec.volume_mode.as_deref(), &path.child("volumeMode"), errors);
    if let Some(ds) = &spec.data_source {
        validate_typed_local_ref(ds.api_group.as_deref(), &ds.kind, &ds.name, &path.child("dataSource"), errors);
    }
    if let Some(r) = &spec.data_source_ref {
        validate_typed_local_ref(r.api_group.as_deref(), &r.kind, &r.name, &path.child("dataSourceRef"), errors);
        if let Some(ds) = &spec.data_source {
            let same = ds.kind == r.kind
                && ds.name == r.name
                && ds.api_group.as_deref().unwrap_or_default() == r.api_group.as_deref().unwrap_or_default()
                && r.namespace.as_deref().is_none_or(str::is_empty);
            if !same {
                errors.push(FieldError::invalid(&path.child("dataSource"), &ds.name, "must match dataSourceRef"));
            }
        }
    }
}

/// Validates a claim template (its metadata labels and annotations, and spec).
pub fn validate_persistent_volume_claim_template(
    t: &PersistentVolumeClaimTemplate,
    path: &Path,
    errors: &mut ErrorList,
) {
    let meta = path.child("metadata");
    crate::validation::validate_labels(&t.metadata.labels, &meta.child("labels"), errors);
    crate::validation::validate_annotations(&t.metadata.annotations, &meta.child("annotations"), errors);
    validate_persistent_volume_claim_spec(&t.spec, &path.child("spec"), errors);
}

impl Validate for PersistentVolumeClaim {
    fn validate(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta(&self.metadata, true, NameRule::Subdomain, &mut errors);
        validate_persistent_volume_claim_spec(&self.spec, &Path::new("spec"), &mut errors);
        errors
    }

    /// The spec is immutable except `resources.requests` (which may only
    /// grow) and `volumeName` (which may be set once).
    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Subdomain, &mut errors);
        let spec = Path::new("spec");
        validate_persistent_volume_claim_spec(&self.spec, &spec, &mut errors);
        let mut comparable = self.spec.clone();
        comparable.resources.requests = old.spec.resources.requests.clone();
        if old.spec.volume_name.as_deref().is_none_or(str::is_empty) {
            comparable.volume_name = old.spec.volume_name.clone();
        }
        if comparable != old.spec {
            errors.push(FieldError::forbidden(
                &spec,
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
            ));
        }
        if let (Some(new), Some(prev)) =
            (self.spec.resources.requests.get("storage"), old.spec.resources.requests.get("storage"))
            && new < prev
        {
            errors.push(FieldError::forbidden(
                &spec.child("resources").child("requests").child("storage"),
                "field can not be less than previous value",
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
    use crate::Resource;

    fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
        let obj: T = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&obj).unwrap(), v);
        obj
    }

    fn pv() -> PersistentVolume {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": "pv-nfs"},
            "spec": {
                "capacity": {"storage": "10Gi"},
                "accessModes": ["ReadWriteMany"],
                "nfs": {"server": "nfs.example.com", "path": "/exports/a"},
                "persistentVolumeReclaimPolicy": "Retain",
                "volumeMode": "Filesystem"
            }
        }))
        .unwrap()
    }

    fn pvc() -> PersistentVolumeClaim {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "namespace": "work"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
                "storageClassName": "fast",
                "volumeMode": "Filesystem"
            }
        }))
        .unwrap()
    }

    #[test]
    fn pv_round_trip() {
        let v = json!({
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": "pv-csi", "labels": {"tier": "fast"}},
            "spec": {
                "capacity": {"storage": "100Gi"},
                "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
                "claimRef": {"kind": "PersistentVolumeClaim", "namespace": "work", "name": "data", "uid": "u-1", "apiVersion": "v1", "resourceVersion": "42"},
                "persistentVolumeReclaimPolicy": "Delete",
                "storageClassName": "fast",
                "mountOptions": ["hard", "nfsvers=4.1"],
                "volumeMode": "Block",
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["a"]}]}]}},
                "volumeAttributesClassName": "gold",
                "csi": {
                    "driver": "ebs.csi.aws.com", "volumeHandle": "vol-123", "readOnly": true, "fsType": "ext4",
                    "volumeAttributes": {"type": "gp3"},
                    "controllerPublishSecretRef": {"name": "s", "namespace": "kube-system"},
                    "nodeStageSecretRef": {"name": "s", "namespace": "kube-system"},
                    "nodePublishSecretRef": {"name": "s", "namespace": "kube-system"},
                    "controllerExpandSecretRef": {"name": "s", "namespace": "kube-system"},
                    "nodeExpandSecretRef": {"name": "s", "namespace": "kube-system"}
                }
            },
            "status": {"phase": "Bound", "message": "ok", "reason": "Provisioned", "lastPhaseTransitionTime": "2026-01-02T03:04:05Z"}
        });
        let pv: PersistentVolume = round_trip(v);
        assert_eq!(pv.spec.volume_sources(), ["csi"]);
        assert!(pv.validate().is_empty(), "{:?}", pv.validate());
        // Legacy sources keep their irregular JSON names.
        round_trip::<PersistentVolumeSpec>(json!({
            "awsElasticBlockStore": {"volumeID": "vol-1", "partition": 1},
            "azureDisk": {"diskName": "d", "diskURI": "https://x", "cachingMode": "ReadOnly", "kind": "Managed"},
            "scaleIO": {"gateway": "g", "system": "s", "sslEnabled": true},
            "fc": {"targetWWNs": ["50060e801049cfd1"], "lun": 0},
            "iscsi": {"targetPortal": "10.0.0.1:3260", "iqn": "iqn.2001-04.com.example:storage", "lun": 0, "chapAuthSession": true},
            "photonPersistentDisk": {"pdID": "p"},
            "vsphereVolume": {"volumePath": "[ds] v.vmdk", "storagePolicyID": "id"},
            "flocker": {"datasetUUID": "uuid"},
            "local": {"path": "/mnt/disks/a", "fsType": "xfs"},
            "hostPath": {"path": "/data", "type": "DirectoryOrCreate"}
        }));
    }

    #[test]
    fn pvc_round_trip() {
        let v = json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "namespace": "work"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "selector": {"matchLabels": {"tier": "fast"}},
                "resources": {"limits": {"storage": "2Gi"}, "requests": {"storage": "1Gi"}},
                "volumeName": "pv-1",
                "storageClassName": "fast",
                "volumeMode": "Filesystem",
                "dataSource": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "snap"},
                "dataSourceRef": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "snap"},
                "volumeAttributesClassName": "gold"
            },
            "status": {
                "phase": "Bound",
                "accessModes": ["ReadWriteOnce"],
                "capacity": {"storage": "1Gi"},
                "conditions": [{"type": "Resizing", "status": "True", "lastProbeTime": "2026-01-02T03:04:05Z", "lastTransitionTime": "2026-01-02T03:04:05Z", "reason": "R", "message": "m"}],
                "allocatedResources": {"storage": "2Gi"},
                "allocatedResourceStatuses": {"storage": "ControllerResizeInProgress"},
                "currentVolumeAttributesClassName": "silver",
                "modifyVolumeStatus": {"targetVolumeAttributesClassName": "gold", "status": "InProgress"}
            }
        });
        let pvc: PersistentVolumeClaim = round_trip(v);
        assert!(pvc.validate().is_empty(), "{:?}", pvc.validate());
        // An empty spec still writes `resources: {}` as Go does.
        let t = PersistentVolumeClaimTemplate::default();
        assert_eq!(serde_json::to_value(&t).unwrap(), json!({"spec": {"resources": {}}}));
        round_trip::<PersistentVolumeClaimTemplate>(json!({
            "metadata": {"labels": {"app": "db"}},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
        }));
    }

    #[test]
    fn resource_info() {
        assert_eq!(PersistentVolume::INFO.short_names, ["pv"]);
        const { assert!(!PersistentVolume::INFO.namespaced) };
        assert_eq!(PersistentVolumeClaim::INFO.plural, "persistentvolumeclaims");
        const { assert!(PersistentVolumeClaim::INFO.namespaced) };
        assert!(PersistentVolumeClaim::INFO.has_subresource("status"));
        let list = PersistentVolumeClaimList::new(vec![pvc()]);
        assert_eq!(list.kind, "PersistentVolumeClaimList");
    }

    #[test]
    fn defaults() {
        let mut v = PersistentVolume::default();
        v.spec.host_path = Some(HostPathVolumeSource { path: "/d".into(), type_: None });
        v.spec.rbd = Some(RBDPersistentVolumeSource::default());
        v.apply_defaults();
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            json!({
                "spec": {
                    "hostPath": {"path": "/d", "type": ""},
                    "rbd": {"image": "", "pool": "rbd", "user": "admin", "keyring": "/etc/ceph/keyring"},
                    "persistentVolumeReclaimPolicy": "Retain",
                    "volumeMode": "Filesystem"
                },
                "status": {"phase": "Pending"}
            })
        );
        // Present values are kept; defaulting twice changes nothing.
        let mut kept = pv();
        kept.spec.persistent_volume_reclaim_policy = Some("Delete".into());
        kept.spec.volume_mode = Some("Block".into());
        kept.apply_defaults();
        let once = kept.clone();
        kept.apply_defaults();
        assert_eq!(kept, once);
        assert_eq!(kept.spec.persistent_volume_reclaim_policy.as_deref(), Some("Delete"));
        assert_eq!(kept.spec.volume_mode.as_deref(), Some("Block"));

        let mut c = PersistentVolumeClaim::default();
        c.apply_defaults();
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({"spec": {"resources": {}, "volumeMode": "Filesystem"}, "status": {"phase": "Pending"}})
        );
    }

    #[test]
    fn pv_validation() {
        type Case = (&'static str, fn(&mut PersistentVolume), &'static [(&'static str, &'static str)]);
        let cases: &[Case] = &[
            ("valid", |_| {}, &[]),
            ("no capacity", |p| p.spec.capacity.clear(), &[("spec.capacity", "FieldValueRequired")]),
            (
                "cpu capacity",
                |p| {
                    p.spec.capacity.insert("cpu".into(), "1".parse().unwrap());
                },
                &[("spec.capacity", "FieldValueNotSupported")],
            ),
            (
                "zero storage",
                |p| {
                    p.spec.capacity.insert("storage".into(), "0".parse().unwrap());
                },
                &[("spec.capacity[storage]", "FieldValueInvalid")],
            ),
            ("no access modes", |p| p.spec.access_modes.clear(), &[("spec.accessModes", "FieldValueRequired")]),
            (
                "bad access mode",
                |p| p.spec.access_modes = vec!["ReadWriteSometimes".into()],
                &[("spec.accessModes", "FieldValueNotSupported")],
            ),
            ("no source", |p| p.spec.nfs = None, &[("spec", "FieldValueRequired")]),
            (
                "two sources",
                |p| p.spec.host_path = Some(HostPathVolumeSource { path: "/d".into(), type_: None }),
                &[("spec.nfs", "FieldValueForbidden")],
            ),
            (
                "bad reclaim policy",
                |p| p.spec.persistent_volume_reclaim_policy = Some("Keep".into()),
                &[("spec.persistentVolumeReclaimPolicy", "FieldValueNotSupported")],
            ),
            (
                "recycle csi",
                |p| {
                    p.spec.nfs = None;
                    p.spec.csi = Some(CSIPersistentVolumeSource {
                        driver: "d.example.com".into(),
                        volume_handle: "h".into(),
                        ..Default::default()
                    });
                    p.spec.persistent_volume_reclaim_policy = Some("Recycle".into());
                },
                &[("spec.persistentVolumeReclaimPolicy", "FieldValueForbidden")],
            ),
            ("recycle nfs", |p| p.spec.persistent_volume_reclaim_policy = Some("Recycle".into()), &[]),
            (
                "relative nfs path",
                |p| p.spec.nfs = Some(NFSVolumeSource { server: "s".into(), path: "exports".into(), read_only: None }),
                &[("spec.nfs.path", "FieldValueInvalid")],
            ),
            (
                "local without affinity",
                |p| {
                    p.spec.nfs = None;
                    p.spec.local = Some(LocalVolumeSource { path: "/mnt/a".into(), fs_type: None });
                },
                &[("spec.nodeAffinity", "FieldValueRequired")],
            ),
            (
                "csi without handle",
                |p| {
                    p.spec.nfs = None;
                    p.spec.csi =
                        Some(CSIPersistentVolumeSource { driver: "d.example.com".into(), ..Default::default() });
                },
                &[("spec.csi.volumeHandle", "FieldValueRequired")],
            ),
            (
                "bad volume mode",
                |p| p.spec.volume_mode = Some("Raw".into()),
                &[("spec.volumeMode", "FieldValueNotSupported")],
            ),
            (
                "bad class",
                |p| p.spec.storage_class_name = Some("Fast_SSD".into()),
                &[("spec.storageClassName", "FieldValueInvalid")],
            ),
            ("namespaced", |p| p.metadata.namespace = "work".into(), &[("metadata.namespace", "FieldValueForbidden")]),
        ];
        for (name, mutate, want) in cases {
            let mut p = pv();
            mutate(&mut p);
            assert_eq!(causes(&p.validate()), expect(want), "{name}");
        }
    }

    #[test]
    fn pvc_validation() {
        type Case = (&'static str, fn(&mut PersistentVolumeClaim), &'static [(&'static str, &'static str)]);
        let cases: &[Case] = &[
            ("valid", |_| {}, &[]),
            ("no access modes", |c| c.spec.access_modes.clear(), &[("spec.accessModes", "FieldValueRequired")]),
            (
                "rwop with others",
                |c| c.spec.access_modes = vec!["ReadWriteOncePod".into(), "ReadWriteOnce".into()],
                &[("spec.accessModes", "FieldValueForbidden")],
            ),
            (
                "no storage request",
                |c| c.spec.resources.requests.clear(),
                &[("spec.resources[storage]", "FieldValueRequired")],
            ),
            (
                "zero storage request",
                |c| {
                    c.spec.resources.requests.insert("storage".into(), "0".parse().unwrap());
                },
                &[("spec.resources[storage]", "FieldValueInvalid")],
            ),
            (
                "negative storage request",
                |c| {
                    c.spec.resources.requests.insert("storage".into(), "-1Gi".parse().unwrap());
                },
                &[("spec.resources[storage]", "FieldValueInvalid")],
            ),
            (
                "data source without group",
                |c| {
                    c.spec.data_source = Some(TypedLocalObjectReference {
                        api_group: None,
                        kind: "VolumeSnapshot".into(),
                        name: "s".into(),
                    });
                },
                &[("spec.dataSource", "FieldValueInvalid")],
            ),
            (
                "bad selector",
                |c| c.spec.selector = Some(LabelSelector::from_labels([("bad key!", "v")])),
                &[("spec.selector.matchLabels", "FieldValueInvalid")],
            ),
            ("no namespace", |c| c.metadata.namespace.clear(), &[("metadata.namespace", "FieldValueRequired")]),
        ];
        for (name, mutate, want) in cases {
            let mut c = pvc();
            mutate(&mut c);
            assert_eq!(causes(&c.validate()), expect(want), "{name}");
        }
    }

    #[test]
    fn pv_update() {
        let old = pv();
        let mut grown = old.clone();
        grown.spec.capacity.insert("storage".into(), "20Gi".parse().unwrap());
        grown.spec.claim_ref = Some(ObjectReference::default());
        assert!(grown.validate_update(&old).is_empty());
        let mut moved = old.clone();
        moved.spec.nfs = Some(NFSVolumeSource { server: "other".into(), path: "/x".into(), read_only: None });
        moved.spec.volume_mode = Some("Block".into());
        assert_eq!(
            causes(&moved.validate_update(&old)),
            expect(&[("spec.persistentvolumesource", "FieldValueForbidden"), ("spec.volumeMode", "FieldValueInvalid")])
        );
    }

    #[test]
    fn pvc_update() {
        let old = pvc();
        let mut grown = old.clone();
        grown.spec.resources.requests.insert("storage".into(), "2Gi".parse().unwrap());
        grown.spec.volume_name = Some("pv-1".into());
        assert!(grown.validate_update(&old).is_empty());

        let mut shrunk = old.clone();
        shrunk.spec.resources.requests.insert("storage".into(), "512Mi".parse().unwrap());
        assert_eq!(
            causes(&shrunk.validate_update(&old)),
            expect(&[("spec.resources.requests.storage", "FieldValueForbidden")])
        );

        let mut reclassed = old.clone();
        reclassed.spec.storage_class_name = Some("slow".into());
        assert_eq!(causes(&reclassed.validate_update(&old)), expect(&[("spec", "FieldValueForbidden")]));

        let mut rebound = grown.clone();
        rebound.spec.volume_name = Some("pv-2".into());
        assert_eq!(causes(&rebound.validate_update(&grown)), expect(&[("spec", "FieldValueForbidden")]));
    }
}
