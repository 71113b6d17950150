//! [`Object`]: an object of any built-in kind (typed) or of any other kind
//! (as a [`DynamicObject`]), chosen by its `apiVersion` and `kind`.
//!
//! This is how code that handles "whatever the manifest holds" (the manifest
//! reader, the API server, `kubectl apply`-like tools) decodes, defaults and
//! validates objects without knowing their kind at compile time.

use serde_json::Value;

use crate::dynamic::DynamicObject;
use crate::manifest::{self, DecodeError, Decoded};
use crate::meta::ObjectMeta;
use crate::resource::{GroupVersionKind, Resource, ResourceInfo};
use crate::validation::{ErrorList, FieldError, NameRule, Path, validate_object_meta, validate_object_meta_update};
use crate::{ApplyDefaults, Validate};

macro_rules! builtin_kinds {
    ($($variant:ident($($ty:tt)::+)),* $(,)?) => {
        /// An object of a built-in kind, or of any other kind as a [`DynamicObject`].
        #[derive(Clone, Debug, PartialEq)]
        pub enum Object {
            $(
                #[doc = concat!("A `", stringify!($variant), "`.")]
                $variant(Box<crate::$($ty)::+>),
            )*
            /// Any kind this crate has no type for (custom resources, newer kinds).
            Dynamic(Box<DynamicObject>),
        }

        /// The static facts of every built-in kind.
        pub static BUILTIN_RESOURCES: &[&ResourceInfo] = &[$(&<crate::$($ty)::+ as Resource>::INFO),*];

        /// The schema of every built-in kind, generated with `generator`: each
        /// is usually a `$ref` into the generator's definitions (take them with
        /// `generator.take_definitions`), so that one document shares them.
        pub fn builtin_schemas(
            generator: &mut schemars::SchemaGenerator,
        ) -> Vec<(&'static ResourceInfo, schemars::Schema)> {
            vec![$((&<crate::$($ty)::+ as Resource>::INFO, generator.subschema_for::<crate::$($ty)::+>())),*]
        }

        impl Object {
            /// Decodes a JSON object by its `apiVersion` and `kind`: built-in kinds
            /// into their types (collecting unknown fields), anything else as a
            /// [`DynamicObject`].
            pub fn decode(value: &Value) -> Result<Decoded<Object>, DecodeError> {
                let api_version = value.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
                let kind = value.get("kind").and_then(Value::as_str).unwrap_or_default();
                $(
                    {
                        const INFO: ResourceInfo = <crate::$($ty)::+ as Resource>::INFO;
                        if kind == INFO.kind && api_version == INFO.api_version {
                            let d = manifest::decode::<crate::$($ty)::+>(value)?;
                            return Ok(Decoded { object: Object::$variant(Box::new(d.object)), unknown_fields: d.unknown_fields });
                        }
                    }
                )*
                let d = manifest::decode::<DynamicObject>(value)?;
                Ok(Decoded { object: Object::Dynamic(Box::new(d.object)), unknown_fields: d.unknown_fields })
            }

            /// Decodes a JSON object by its `apiVersion` and `kind`, like
            /// [`decode`](Self::decode) but without collecting unknown fields
            /// (they are dropped): the fast path for objects already checked.
            pub fn from_value(value: &Value) -> Result<Object, DecodeError> {
                use serde::Deserialize as _;
                let api_version = value.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
                let kind = value.get("kind").and_then(Value::as_str).unwrap_or_default();
                $(
                    {
                        const INFO: ResourceInfo = <crate::$($ty)::+ as Resource>::INFO;
                        if kind == INFO.kind && api_version == INFO.api_version {
                            return match <crate::$($ty)::+>::deserialize(value) {
                                Ok(o) => Ok(Object::$variant(Box::new(o))),
                                // The slow path says where the error is.
                                Err(_) => Self::decode(value).map(|d| d.object),
                            };
                        }
                    }
                )*
                match DynamicObject::deserialize(value) {
                    Ok(o) => Ok(Object::Dynamic(Box::new(o))),
                    Err(_) => Self::decode(value).map(|d| d.object),
                }
            }

            /// The object as JSON.
            pub fn to_value(&self) -> Result<Value, serde_json::Error> {
                match self {
                    $(Object::$variant(o) => serde_json::to_value(o),)*
                    Object::Dynamic(o) => serde_json::to_value(o),
                }
            }

            /// The object's metadata.
            pub fn metadata(&self) -> &ObjectMeta {
                match self {
                    $(Object::$variant(o) => o.metadata(),)*
                    Object::Dynamic(o) => &o.metadata,
                }
            }

            /// The object's metadata, mutably.
            pub fn metadata_mut(&mut self) -> &mut ObjectMeta {
                match self {
                    $(Object::$variant(o) => o.metadata_mut(),)*
                    Object::Dynamic(o) => &mut o.metadata,
                }
            }

            /// The static facts of a built-in kind; `None` for dynamic objects.
            pub fn info(&self) -> Option<&'static ResourceInfo> {
                match self {
                    $(Object::$variant(_) => Some(&<crate::$($ty)::+ as Resource>::INFO),)*
                    Object::Dynamic(_) => None,
                }
            }

            /// The object's group/version/kind.
            pub fn gvk(&self) -> GroupVersionKind {
                match self {
                    Object::Dynamic(o) => o.gvk(),
                    other => other.info().map(ResourceInfo::gvk).unwrap_or_default(),
                }
            }

            /// Applies the kind's defaults (nothing for dynamic objects).
            pub fn apply_defaults(&mut self) {
                match self {
                    $(Object::$variant(o) => o.apply_defaults(),)*
                    Object::Dynamic(_) => {}
                }
            }

            /// Validates the object as new (dynamic objects: metadata only).
            pub fn validate(&self) -> ErrorList {
                match self {
                    $(Object::$variant(o) => o.validate(),)*
                    Object::Dynamic(o) => {
                        // Custom resources: metadata rules only (their schema is the CRD's).
                        let mut errors = ErrorList::new();
                        let namespaced = !o.metadata.namespace.is_empty();
                        validate_object_meta(&o.metadata, namespaced, NameRule::Subdomain, &mut errors);
                        errors
                    }
                }
            }

            /// Validates an update from `old`; objects of different kinds are an error.
            pub fn validate_update(&self, old: &Object) -> ErrorList {
                match (self, old) {
                    $((Object::$variant(new), Object::$variant(old)) => new.validate_update(old),)*
                    (Object::Dynamic(new), Object::Dynamic(old)) if new.gvk() == old.gvk() => {
                        let mut errors = ErrorList::new();
                        let namespaced = !old.metadata.namespace.is_empty();
                        validate_object_meta_update(&new.metadata, &old.metadata, namespaced, NameRule::Subdomain, &mut errors);
                        errors
                    }
                    _ => vec![FieldError::invalid(&Path::new("kind"), self.gvk().kind, "may not change the kind of an object")],
                }
            }
        }

        $(
            impl From<crate::$($ty)::+> for Object {
                fn from(o: crate::$($ty)::+) -> Self {
                    Object::$variant(Box::new(o))
                }
            }
        )*
    };
}

builtin_kinds! {
    Pod(core::v1::Pod),
    PodTemplate(core::v1::PodTemplate),
    Node(core::v1::Node),
    Namespace(core::v1::Namespace),
    Service(core::v1::Service),
    Endpoints(core::v1::Endpoints),
    ConfigMap(core::v1::ConfigMap),
    Secret(core::v1::Secret),
    ServiceAccount(core::v1::ServiceAccount),
    PersistentVolume(core::v1::PersistentVolume),
    PersistentVolumeClaim(core::v1::PersistentVolumeClaim),
    ReplicationController(core::v1::ReplicationController),
    ResourceQuota(core::v1::ResourceQuota),
    LimitRange(core::v1::LimitRange),
    Event(core::v1::Event),
    Binding(core::v1::Binding),
    Deployment(apps::v1::Deployment),
    ReplicaSet(apps::v1::ReplicaSet),
    DaemonSet(apps::v1::DaemonSet),
    StatefulSet(apps::v1::StatefulSet),
    ControllerRevision(apps::v1::ControllerRevision),
    Job(batch::v1::Job),
    CronJob(batch::v1::CronJob),
    HorizontalPodAutoscaler(autoscaling::v2::HorizontalPodAutoscaler),
    PodDisruptionBudget(policy::v1::PodDisruptionBudget),
    Eviction(policy::v1::Eviction),
    Role(rbac::v1::Role),
    ClusterRole(rbac::v1::ClusterRole),
    RoleBinding(rbac::v1::RoleBinding),
    ClusterRoleBinding(rbac::v1::ClusterRoleBinding),
    NetworkPolicy(networking::v1::NetworkPolicy),
    Ingress(networking::v1::Ingress),
    IngressClass(networking::v1::IngressClass),
    StorageClass(storage::v1::StorageClass),
    CSINode(storage::v1::CSINode),
    Lease(coordination::v1::Lease),
    EndpointSlice(discovery::v1::EndpointSlice),
    PriorityClass(scheduling::v1::PriorityClass),
    CustomResourceDefinition(apiextensions::v1::CustomResourceDefinition),
    MutatingWebhookConfiguration(admissionregistration::v1::MutatingWebhookConfiguration),
    ValidatingWebhookConfiguration(admissionregistration::v1::ValidatingWebhookConfiguration),
    SubjectAccessReview(authorization::v1::SubjectAccessReview),
    SelfSubjectAccessReview(authorization::v1::SelfSubjectAccessReview),
    LocalSubjectAccessReview(authorization::v1::LocalSubjectAccessReview),
    SelfSubjectRulesReview(authorization::v1::SelfSubjectRulesReview),
    TokenReview(authentication::v1::TokenReview),
    SelfSubjectReview(authentication::v1::SelfSubjectReview),
    TokenRequest(authentication::v1::TokenRequest),
}

/// One decoded object of a manifest, with where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct ManifestObject {
    /// 0-based position of its document in the stream.
    pub document: usize,
    /// 1-based line where its document starts.
    pub line: usize,
    /// The object.
    pub object: Object,
    /// Paths of fields the kind does not have (empty for dynamic objects).
    pub unknown_fields: Vec<String>,
}

/// A manifest that could not be read: which document, and what went wrong.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The text is not valid YAML or JSON.
    #[error(transparent)]
    Syntax(#[from] manifest::ManifestError),
    /// A document did not decode into its kind.
    #[error("document {document} (line {line}, {kind} {name:?}): {source}")]
    Decode {
        /// 0-based document index.
        document: usize,
        /// 1-based line where the document starts.
        line: usize,
        /// The document's `kind`.
        kind: String,
        /// The document's `metadata.name`.
        name: String,
        /// The field error.
        #[source]
        source: DecodeError,
    },
}

/// Reads every object of a multi-document YAML or JSON manifest into typed
/// (built-in kinds) or dynamic objects. With `strict`, an unknown field is an
/// error naming the document and the field, as `kubectl --validate=strict`
/// reports it; otherwise unknown fields are listed on each object.
pub fn read_manifests(text: &str, strict: bool) -> Result<Vec<ManifestObject>, ReadError> {
    let mut out = Vec::new();
    for doc in manifest::parse_documents(text)? {
        let fail = |source: DecodeError| ReadError::Decode {
            document: doc.index,
            line: doc.line,
            kind: doc.value.get("kind").and_then(Value::as_str).unwrap_or_default().to_owned(),
            name: doc.value.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_owned(),
            source,
        };
        let decoded = Object::decode(&doc.value).map_err(fail)?;
        if strict && !decoded.unknown_fields.is_empty() {
            return Err(fail(DecodeError::UnknownFields { paths: decoded.unknown_fields }));
        }
        out.push(ManifestObject {
            document: doc.index,
            line: doc.line,
            object: decoded.object,
            unknown_fields: decoded.unknown_fields,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dynamic(v: Value) -> Object {
        Object::decode(&v).unwrap().object
    }

    #[test]
    fn custom_resources_get_metadata_validation() {
        let ok = dynamic(serde_json::json!({"apiVersion": "example.org/v1", "kind": "Cache",
            "metadata": {"name": "a", "namespace": "shop", "uid": "u1"}, "spec": {"x": 1}}));
        assert!(matches!(ok, Object::Dynamic(_)));
        assert!(ok.validate().is_empty());
        let bad = dynamic(
            serde_json::json!({"apiVersion": "example.org/v1", "kind": "Cache", "metadata": {"name": "Bad_Name"}}),
        );
        let fields: Vec<_> = bad.validate().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["metadata.name"]);
        let renamed = dynamic(serde_json::json!({"apiVersion": "example.org/v1", "kind": "Cache",
            "metadata": {"name": "b", "namespace": "shop", "uid": "u2"}, "spec": {"x": 2}}));
        let msgs: Vec<_> = renamed.validate_update(&ok).iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            [
                "metadata.name: Invalid value: \"b\": field is immutable",
                "metadata.uid: Invalid value: \"u2\": field is immutable",
            ]
        );
        let other_kind =
            dynamic(serde_json::json!({"apiVersion": "example.org/v1", "kind": "Other", "metadata": {"name": "a"}}));
        assert_eq!(other_kind.validate_update(&ok)[0].field, "kind");
    }
}
