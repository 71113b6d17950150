//! The [`Resource`] trait (static facts of a kind), group/version/kind and
//! group/version/resource names, and the owned [`ApiResource`] description the
//! [`Registry`](crate::registry::Registry) keeps for built-in and custom kinds.

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::meta::{ObjectMeta, TypeMeta};

/// Every verb a fully served resource supports, as discovery lists them.
pub const ALL_VERBS: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

/// Verbs of a create-only review kind (`TokenReview`, `SubjectAccessReview`, …).
pub const CREATE_ONLY: &[&str] = &["create"];

/// Verbs of a kind that is only served as another resource's subresource
/// (`Eviction` as `pods/eviction`, `TokenRequest` as
/// `serviceaccounts/token`): none at its own path, and discovery does not
/// list it.
pub const SUBRESOURCE_ONLY: &[&str] = &[];

/// The static facts of a kind: names, scope, verbs and subresources.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceInfo {
    /// API group; empty for the core group.
    pub group: &'static str,
    /// API version within the group, such as `v1`.
    pub version: &'static str,
    /// `group/version`, or just `version` for the core group.
    pub api_version: &'static str,
    /// CamelCase kind, such as `Deployment`.
    pub kind: &'static str,
    /// Lower-case plural resource name used in URLs, such as `deployments`.
    pub plural: &'static str,
    /// Lower-case singular name, such as `deployment`.
    pub singular: &'static str,
    /// Short names kubectl accepts, such as `deploy`.
    pub short_names: &'static [&'static str],
    /// Categories such as `all`.
    pub categories: &'static [&'static str],
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Verbs served.
    pub verbs: &'static [&'static str],
    /// Subresources such as `status`, `scale`, `log`, `eviction`, `binding`.
    pub subresources: &'static [&'static str],
    /// Fields usable in field selectors besides `metadata.name` and
    /// `metadata.namespace`.
    pub selectable_fields: &'static [&'static str],
}

impl ResourceInfo {
    /// The group/version/kind.
    pub fn gvk(&self) -> GroupVersionKind {
        GroupVersionKind::new(self.group, self.version, self.kind)
    }

    /// The group/version/resource.
    pub fn gvr(&self) -> GroupVersionResource {
        GroupVersionResource::new(self.group, self.version, self.plural)
    }

    /// Whether the kind has the named subresource.
    pub fn has_subresource(&self, name: &str) -> bool {
        self.subresources.contains(&name)
    }

    /// Checks that a field selector uses only fields this kind supports
    /// (`metadata.name`, `metadata.namespace` and [`selectable_fields`](Self::selectable_fields)),
    /// failing with kube-apiserver's message `field label not supported: <field>`.
    pub fn check_field_selector(
        &self,
        selector: &crate::selector::FieldSelector,
    ) -> Result<(), crate::selector::FieldSelectorError> {
        selector.validate_fields(self.selectable_fields)
    }
}

/// A typed Kubernetes kind: its static facts plus access to its metadata.
///
/// Implemented by every built-in kind and by types made with the
/// [`CustomResource`](derive@crate::CustomResource) derive.
pub trait Resource: Clone + fmt::Debug + Default + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The kind's static facts.
    const INFO: ResourceInfo;

    /// The object's metadata.
    fn metadata(&self) -> &ObjectMeta;

    /// The object's metadata, mutably.
    fn metadata_mut(&mut self) -> &mut ObjectMeta;

    /// The object's `apiVersion` and `kind` as it carries them (they may be
    /// empty, as in list items read from the wire).
    fn type_meta(&self) -> TypeMeta;

    /// Sets `apiVersion` and `kind` to this kind's.
    fn set_type_meta(&mut self);

    /// A new, empty object of this kind with the given name and its type meta set.
    fn named(name: impl Into<String>) -> Self {
        let mut obj = Self::default();
        obj.set_type_meta();
        obj.metadata_mut().name = name.into();
        obj
    }

    /// The value of a field-selector field (`metadata.name`, `spec.nodeName`, …),
    /// `None` if the kind does not support it. Kinds with more
    /// [`ResourceInfo::selectable_fields`] override this.
    fn field_value(&self, field: &str) -> Option<String> {
        metadata_field(self.metadata(), field)
    }
}

/// The two fields every kind supports in field selectors.
pub fn metadata_field(meta: &ObjectMeta, field: &str) -> Option<String> {
    match field {
        "metadata.name" => Some(meta.name.clone()),
        "metadata.namespace" => Some(meta.namespace.clone()),
        _ => None,
    }
}

/// Group, version and kind: the name of a type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct GroupVersionKind {
    /// API group; empty for the core group.
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind.
    pub kind: String,
}

impl GroupVersionKind {
    /// Builds a GVK.
    pub fn new(group: impl Into<String>, version: impl Into<String>, kind: impl Into<String>) -> Self {
        Self { group: group.into(), version: version.into(), kind: kind.into() }
    }

    /// Splits an `apiVersion` (`v1` or `group/version`) and pairs it with a kind.
    pub fn from_api_version(api_version: &str, kind: impl Into<String>) -> Self {
        let (group, version) = split_api_version(api_version);
        Self::new(group, version, kind)
    }

    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        join_api_version(&self.group, &self.version)
    }
}

impl fmt::Display for GroupVersionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, Kind={}", self.api_version(), self.kind)
    }
}

/// Group, version and (plural) resource: the name of a REST collection.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct GroupVersionResource {
    /// API group; empty for the core group.
    pub group: String,
    /// Version.
    pub version: String,
    /// Plural resource name.
    pub resource: String,
}

impl GroupVersionResource {
    /// Builds a GVR.
    pub fn new(group: impl Into<String>, version: impl Into<String>, resource: impl Into<String>) -> Self {
        Self { group: group.into(), version: version.into(), resource: resource.into() }
    }
}

impl fmt::Display for GroupVersionResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            write!(f, "{}/{}", self.version, self.resource)
        } else {
            write!(f, "{}/{}/{}", self.group, self.version, self.resource)
        }
    }
}

/// Splits `apps/v1` into (`apps`, `v1`) and `v1` into (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// Joins a group and a version into an `apiVersion`.
pub fn join_api_version(group: &str, version: &str) -> String {
    if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") }
}

/// An object a cache or helper can hold without knowing its kind at compile
/// time: every typed kind (through [`Resource`]) and
/// [`DynamicObject`](crate::DynamicObject) (a kind known only at run time).
/// Its methods are named apart from [`Resource::metadata`] so that both
/// traits can be in scope.
pub trait ObjectLike: Clone + fmt::Debug + Send + Sync + 'static {
    /// The object's metadata.
    fn object_meta(&self) -> &ObjectMeta;

    /// The object's metadata, mutably.
    fn object_meta_mut(&mut self) -> &mut ObjectMeta;

    /// The object decoded from a dynamic one (a clone for `DynamicObject`).
    fn from_dynamic(object: &crate::DynamicObject) -> Result<Self, serde_json::Error>;
}

impl<K: Resource> ObjectLike for K {
    fn object_meta(&self) -> &ObjectMeta {
        self.metadata()
    }

    fn object_meta_mut(&mut self) -> &mut ObjectMeta {
        self.metadata_mut()
    }

    fn from_dynamic(object: &crate::DynamicObject) -> Result<Self, serde_json::Error> {
        object.to_typed()
    }
}

impl ObjectLike for crate::DynamicObject {
    fn object_meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn object_meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }

    fn from_dynamic(object: &crate::DynamicObject) -> Result<Self, serde_json::Error> {
        Ok(object.clone())
    }
}

/// An owned description of a kind: what the [`Registry`](crate::registry::Registry)
/// holds for built-in kinds and for custom resources registered at run time.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ApiResource {
    /// API group; empty for the core group.
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Plural resource name.
    pub plural: String,
    /// Singular name.
    pub singular: String,
    /// Short names.
    pub short_names: Vec<String>,
    /// Categories.
    pub categories: Vec<String>,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Verbs served.
    pub verbs: Vec<String>,
    /// Subresources.
    pub subresources: Vec<String>,
    /// Extra field-selector fields.
    pub selectable_fields: Vec<String>,
}

impl ApiResource {
    /// The group/version/kind.
    pub fn gvk(&self) -> GroupVersionKind {
        GroupVersionKind::new(&self.group, &self.version, &self.kind)
    }

    /// The group/version/resource.
    pub fn gvr(&self) -> GroupVersionResource {
        GroupVersionResource::new(&self.group, &self.version, &self.plural)
    }

    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        join_api_version(&self.group, &self.version)
    }

    /// Whether the kind has the named subresource.
    pub fn has_subresource(&self, name: &str) -> bool {
        self.subresources.iter().any(|s| s == name)
    }
}

impl From<&ResourceInfo> for ApiResource {
    fn from(i: &ResourceInfo) -> Self {
        let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        Self {
            group: i.group.to_owned(),
            version: i.version.to_owned(),
            kind: i.kind.to_owned(),
            plural: i.plural.to_owned(),
            singular: i.singular.to_owned(),
            short_names: owned(i.short_names),
            categories: owned(i.categories),
            namespaced: i.namespaced,
            verbs: owned(i.verbs),
            subresources: owned(i.subresources),
            selectable_fields: owned(i.selectable_fields),
        }
    }
}

/// Implements [`Resource`] for a kind struct that has `api_version`, `kind`
/// and `metadata` fields.
///
/// ```ignore
/// impl_resource!(Pod {
///     group: "", version: "v1", kind: "Pod", plural: "pods", singular: "pod",
///     short_names: ["po"], categories: ["all"], namespaced: true,
///     verbs: ALL_VERBS, subresources: ["status", "log", "binding", "eviction"],
///     selectable_fields: ["spec.nodeName"],
/// });
/// ```
/// A kind that overrides `field_value` passes `field_value: path::to::fn` (a
/// `fn(&Self, &str) -> Option<String>`).
#[macro_export]
#[doc(hidden)]
macro_rules! impl_resource {
    ($ty:ty {
        group: $group:literal, version: $version:literal, kind: $kind:literal,
        plural: $plural:literal, singular: $singular:literal,
        short_names: [$($short:literal),* $(,)?], categories: [$($cat:literal),* $(,)?],
        namespaced: $namespaced:literal, verbs: $verbs:expr,
        subresources: [$($sub:literal),* $(,)?], selectable_fields: [$($field:literal),* $(,)?]
        $(, field_value: $fv:path)? $(,)?
    }) => {
        impl $crate::Resource for $ty {
            const INFO: $crate::ResourceInfo = $crate::ResourceInfo {
                group: $group,
                version: $version,
                api_version: if $group.is_empty() { $version } else { concat!($group, "/", $version) },
                kind: $kind,
                plural: $plural,
                singular: $singular,
                short_names: &[$($short),*],
                categories: &[$($cat),*],
                namespaced: $namespaced,
                verbs: $verbs,
                subresources: &[$($sub),*],
                selectable_fields: &[$($field),*],
            };
            fn metadata(&self) -> &$crate::meta::ObjectMeta { &self.metadata }
            fn metadata_mut(&mut self) -> &mut $crate::meta::ObjectMeta { &mut self.metadata }
            fn type_meta(&self) -> $crate::meta::TypeMeta {
                $crate::meta::TypeMeta { api_version: self.api_version.clone(), kind: self.kind.clone() }
            }
            fn set_type_meta(&mut self) {
                self.api_version = <Self as $crate::Resource>::INFO.api_version.to_owned();
                self.kind = $kind.to_owned();
            }
            $(fn field_value(&self, field: &str) -> Option<String> { $fv(self, field) })?
        }
    };
}
