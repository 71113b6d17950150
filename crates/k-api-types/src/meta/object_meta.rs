//! `ObjectMeta`, `TypeMeta`, `ListMeta`, owner references and managed fields.

use crate::SortedMap;

use super::Time;
use crate::wire;

/// The `apiVersion` and `kind` pair every serialized object carries.
#[wire(eq)]
pub struct TypeMeta {
    /// The versioned schema of this object, `v1` or `group/version`.
    #[wire(omitempty)]
    pub api_version: String,
    /// The object's kind in CamelCase, such as `Pod`.
    #[wire(omitempty)]
    pub kind: String,
}

/// Metadata every persisted object has (metav1.ObjectMeta).
///
/// The identity strings (`name`, `namespace`, `uid`, …) are plain `String`s
/// that are omitted from JSON when empty, as Kubernetes does, so code reads
/// `meta.name` rather than unwrapping options.
#[wire]
pub struct ObjectMeta {
    /// Unique name within a namespace (or the cluster, for cluster-scoped kinds).
    #[wire(omitempty)]
    pub name: String,
    /// Prefix the server uses to generate a unique name when `name` is empty.
    #[wire(omitempty)]
    pub generate_name: String,
    /// The namespace of a namespaced object; empty for cluster-scoped objects.
    #[wire(omitempty)]
    pub namespace: String,
    /// Deprecated self link; Kubernetes no longer fills it.
    #[wire(omitempty)]
    pub self_link: String,
    /// Unique identifier set by the server on creation.
    #[wire(omitempty)]
    pub uid: String,
    /// Opaque version used for optimistic concurrency and watches.
    #[wire(omitempty)]
    pub resource_version: String,
    /// Sequence number of changes to the desired state, set by the server.
    pub generation: Option<i64>,
    /// When the object was created (set by the server).
    pub creation_timestamp: Option<Time>,
    /// When graceful deletion started (set by the server).
    pub deletion_timestamp: Option<Time>,
    /// Grace period the deletion was requested with.
    pub deletion_grace_period_seconds: Option<i64>,
    /// Key/value labels used by selectors.
    pub labels: SortedMap<String, String>,
    /// Arbitrary non-identifying metadata.
    pub annotations: SortedMap<String, String>,
    /// Objects this object depends on (for garbage collection).
    pub owner_references: Vec<OwnerReference>,
    /// Keys that must be removed before the object is deleted.
    pub finalizers: Vec<String>,
    /// Which field manager owns which fields (server-side apply).
    pub managed_fields: Vec<ManagedFieldsEntry>,
}

impl ObjectMeta {
    /// Metadata with just a name.
    pub fn named(name: impl Into<String>) -> Self {
        Self { name: name.into(), ..Self::default() }
    }

    /// Metadata with a namespace and a name.
    pub fn namespaced(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self { name: name.into(), namespace: namespace.into(), ..Self::default() }
    }

    /// The controlling owner reference (`controller: true`), if any.
    pub fn controller(&self) -> Option<&OwnerReference> {
        self.owner_references.iter().find(|r| r.controller == Some(true))
    }
}

/// A reference from an object to the object that owns it.
#[wire]
pub struct OwnerReference {
    /// API version of the owner.
    pub api_version: String,
    /// Kind of the owner.
    pub kind: String,
    /// Name of the owner.
    pub name: String,
    /// UID of the owner.
    pub uid: String,
    /// Whether the owner is the managing controller.
    pub controller: Option<bool>,
    /// Whether the owner cannot be deleted before this object (foreground deletion).
    pub block_owner_deletion: Option<bool>,
}

/// Metadata of a list response (metav1.ListMeta).
#[wire(eq)]
pub struct ListMeta {
    /// Deprecated self link.
    #[wire(omitempty)]
    pub self_link: String,
    /// The revision the list was read at.
    #[wire(omitempty)]
    pub resource_version: String,
    /// Token to fetch the next page, when the list was limited.
    #[serde(rename = "continue")]
    #[wire(omitempty)]
    pub continue_: String,
    /// Estimated number of items after this page.
    pub remaining_item_count: Option<i64>,
}

/// Which fields a manager owns, as server-side apply records it.
#[wire]
pub struct ManagedFieldsEntry {
    /// The manager's name, such as `kubectl`.
    #[wire(omitempty)]
    pub manager: String,
    /// `Apply` or `Update`.
    #[wire(omitempty)]
    pub operation: String,
    /// Version of the fields' schema.
    #[wire(omitempty)]
    pub api_version: String,
    /// When the entry was last changed.
    pub time: Option<Time>,
    /// Format of `fieldsV1`; always `FieldsV1`.
    #[wire(omitempty)]
    pub fields_type: String,
    /// The set of fields, in the FieldsV1 trie format.
    #[serde(rename = "fieldsV1")]
    pub fields_v1: Option<serde_json::Value>,
    /// The subresource the change was made through, if any.
    #[wire(omitempty)]
    pub subresource: String,
}

/// Standard condition of a custom or newer built-in resource (metav1.Condition).
#[wire]
pub struct Condition {
    /// Type of the condition in CamelCase, such as `Available`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// The `.metadata.generation` the condition was set for.
    pub observed_generation: Option<i64>,
    /// When the status last changed.
    pub last_transition_time: Option<Time>,
    /// Machine-readable CamelCase reason.
    pub reason: String,
    /// Human-readable message.
    pub message: String,
}

/// Options of a delete request (metav1.DeleteOptions).
#[wire]
pub struct DeleteOptions {
    /// `meta.k8s.io/v1` or `v1` when sent as a body.
    #[wire(omitempty)]
    pub api_version: String,
    /// `DeleteOptions`.
    #[wire(omitempty)]
    pub kind: String,
    /// Seconds before the object is deleted; 0 deletes immediately.
    pub grace_period_seconds: Option<i64>,
    /// Conditions that must hold for the deletion to go ahead.
    pub preconditions: Option<Preconditions>,
    /// Deprecated: use `propagationPolicy: Orphan`.
    pub orphan_dependents: Option<bool>,
    /// `Orphan`, `Background` or `Foreground`.
    pub propagation_policy: Option<String>,
    /// `["All"]` for a dry run.
    pub dry_run: Vec<String>,
}

/// Preconditions of a delete or update.
#[wire(eq)]
pub struct Preconditions {
    /// The object's UID must be this.
    pub uid: Option<String>,
    /// The object's resourceVersion must be this.
    pub resource_version: Option<String>,
}

/// An object reduced to its type and metadata (what `as=PartialObjectMetadata` returns).
#[wire]
pub struct PartialObjectMetadata {
    /// API version of the object.
    #[wire(omitempty)]
    pub api_version: String,
    /// `PartialObjectMetadata` on the wire (the object's kind in memory is lost).
    #[wire(omitempty)]
    pub kind: String,
    /// The object's metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
}
