//! `apiextensions.k8s.io/v1`: [`CustomResourceDefinition`] and the
//! [`JSONSchemaProps`] of its OpenAPI v3 schemas.
//!
//! [`structural_errors`] checks that a schema is *structural*, as Kubernetes
//! requires of every CRD schema.

mod schema;
mod structural;
mod validation;

pub use schema::{
    ExternalDocumentation, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
    JSONSchemaPropsOrStringArray, ValidationRule,
};
pub use structural::structural_errors;

use crate::defaults::default_to;
use crate::meta::{ObjectMeta, Time};
use crate::{ApplyDefaults, ByteString, wire};

/// The annotation recording API review approval, required for groups under
/// `k8s.io` and `kubernetes.io`.
pub const KUBE_API_APPROVED_ANNOTATION: &str = "api-approved.kubernetes.io";

/// A custom resource type served by the API server.
#[wire]
pub struct CustomResourceDefinition {
    /// APIVersion of the object (`apiextensions.k8s.io/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`CustomResourceDefinition`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata; the name must be `<plural>.<group>`.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// The resource type's definition.
    pub spec: CustomResourceDefinitionSpec,
    /// Observed state of the definition.
    pub status: Option<CustomResourceDefinitionStatus>,
}

crate::impl_resource!(CustomResourceDefinition {
    group: "apiextensions.k8s.io",
    version: "v1",
    kind: "CustomResourceDefinition",
    plural: "customresourcedefinitions",
    singular: "customresourcedefinition",
    short_names: ["crd", "crds"],
    categories: ["api-extensions"],
    namespaced: false,
    verbs: crate::resource::ALL_VERBS,
    subresources: ["status"],
    selectable_fields: []
});

/// A list of custom resource definitions.
pub type CustomResourceDefinitionList = crate::meta::ObjectList<CustomResourceDefinition>;

/// How a custom resource type is named, scoped, versioned and converted.
#[wire]
pub struct CustomResourceDefinitionSpec {
    /// API group of the resources, such as `example.com` (at least one dot).
    pub group: String,
    /// Resource and kind names.
    pub names: CustomResourceDefinitionNames,
    /// `Namespaced` or `Cluster`.
    pub scope: String,
    /// Versions served; exactly one is the storage version.
    #[wire(always)]
    pub versions: Vec<CustomResourceDefinitionVersion>,
    /// How objects are converted between versions (defaults to strategy `None`).
    pub conversion: Option<CustomResourceConversion>,
    /// Deprecated: keep unknown fields everywhere. Must be false in v1; use
    /// `x-kubernetes-preserve-unknown-fields` in the schema instead.
    pub preserve_unknown_fields: Option<bool>,
}

/// The names of a custom resource type.
#[wire(eq)]
pub struct CustomResourceDefinitionNames {
    /// Plural lower-case resource name used in URLs, such as `databases`.
    pub plural: String,
    /// Singular lower-case name (defaults to the lower-cased kind).
    pub singular: Option<String>,
    /// Short names for kubectl, such as `db`.
    pub short_names: Vec<String>,
    /// CamelCase kind, such as `Database`.
    pub kind: String,
    /// Kind of lists (defaults to `<kind>List`).
    pub list_kind: Option<String>,
    /// Groups of resources this one belongs to, such as `all`.
    pub categories: Vec<String>,
}

/// One version of a custom resource type.
#[wire]
pub struct CustomResourceDefinitionVersion {
    /// Version name, such as `v1` or `v1beta1` (a DNS-1035 label).
    pub name: String,
    /// Whether the version is served by the REST API.
    pub served: bool,
    /// Whether objects are persisted in this version (exactly one version).
    pub storage: bool,
    /// Whether the version is deprecated (responses carry a warning).
    pub deprecated: Option<bool>,
    /// Warning returned to clients of a deprecated version.
    pub deprecation_warning: Option<String>,
    /// Schema used for validation, pruning and defaulting.
    pub schema: Option<CustomResourceValidation>,
    /// The `status` and `scale` subresources.
    pub subresources: Option<CustomResourceSubresources>,
    /// Extra columns for `kubectl get`.
    pub additional_printer_columns: Vec<CustomResourceColumnDefinition>,
    /// Fields usable in field selectors.
    pub selectable_fields: Vec<SelectableField>,
}

/// A field usable in field selectors.
#[wire(eq)]
pub struct SelectableField {
    /// Simple JSON path to a string, boolean or integer field, such as `.spec.color`.
    pub json_path: String,
}

/// An additional column of `kubectl get` output.
#[wire(eq)]
pub struct CustomResourceColumnDefinition {
    /// Column header.
    pub name: String,
    /// `integer`, `number`, `string`, `boolean` or `date`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Optional format of the type, such as `int32` or `date-time`.
    pub format: Option<String>,
    /// Description of the column.
    pub description: Option<String>,
    /// Relative importance; columns above 0 show only in wide output.
    pub priority: Option<i32>,
    /// Simple JSON path evaluated against each object, such as `.spec.replicas`.
    pub json_path: String,
}

/// The schema of a version.
#[wire]
pub struct CustomResourceValidation {
    /// The OpenAPI v3 schema of the whole object.
    #[serde(rename = "openAPIV3Schema")]
    pub open_api_v3_schema: Option<JSONSchemaProps>,
}

/// The subresources of a version.
#[wire(eq)]
pub struct CustomResourceSubresources {
    /// The `/status` subresource: `status` is then written only through it.
    pub status: Option<CustomResourceSubresourceStatus>,
    /// The `/scale` subresource.
    pub scale: Option<CustomResourceSubresourceScale>,
}

/// Enables the `/status` subresource (no fields).
#[wire(eq)]
pub struct CustomResourceSubresourceStatus {}

/// Where the `/scale` subresource finds replicas and the selector.
#[wire(eq)]
pub struct CustomResourceSubresourceScale {
    /// JSON path under `.spec.` of the desired replicas.
    pub spec_replicas_path: String,
    /// JSON path under `.status.` of the observed replicas.
    pub status_replicas_path: String,
    /// JSON path under `.spec.` or `.status.` of the label selector string.
    pub label_selector_path: Option<String>,
}

/// How objects are converted between versions.
#[wire]
pub struct CustomResourceConversion {
    /// `None` (only apiVersion changes) or `Webhook`.
    pub strategy: String,
    /// The conversion webhook, for strategy `Webhook`.
    pub webhook: Option<WebhookConversion>,
}

/// A conversion webhook.
#[wire]
pub struct WebhookConversion {
    /// How to reach the webhook.
    pub client_config: Option<WebhookClientConfig>,
    /// `ConversionReview` versions the webhook understands, preferred first.
    #[wire(always)]
    pub conversion_review_versions: Vec<String>,
}

/// How to reach a webhook: a URL or a service.
#[wire]
pub struct WebhookClientConfig {
    /// `https://host[:port]/path` of the webhook.
    pub url: Option<String>,
    /// In-cluster service of the webhook.
    pub service: Option<ServiceReference>,
    /// PEM CA bundle to verify the webhook's certificate.
    pub ca_bundle: Option<ByteString>,
}

/// A reference to an in-cluster service.
#[wire(eq)]
pub struct ServiceReference {
    /// Namespace of the service.
    pub namespace: String,
    /// Name of the service.
    pub name: String,
    /// URL path requests are sent to.
    pub path: Option<String>,
    /// Port of the service (defaults to 443).
    pub port: Option<i32>,
}

/// Observed state of a custom resource definition.
#[wire]
pub struct CustomResourceDefinitionStatus {
    /// Conditions: `Established`, `NamesAccepted`, `NonStructuralSchema`, `Terminating`, `KubernetesAPIApprovalPolicyConformant`.
    pub conditions: Vec<CustomResourceDefinitionCondition>,
    /// The names actually served (they may differ while in conflict).
    pub accepted_names: CustomResourceDefinitionNames,
    /// Every version objects were ever persisted in.
    #[wire(always)]
    pub stored_versions: Vec<String>,
}

/// A condition of a custom resource definition.
#[wire]
pub struct CustomResourceDefinitionCondition {
    /// Condition type, such as `Established`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// When the condition last changed.
    pub last_transition_time: Option<Time>,
    /// Machine-readable reason of the last change.
    pub reason: Option<String>,
    /// Human-readable details.
    pub message: Option<String>,
}

impl CustomResourceDefinition {
    /// The version marked `storage: true`, if exactly one is.
    pub fn storage_version(&self) -> Option<&CustomResourceDefinitionVersion> {
        let mut storage = self.spec.versions.iter().filter(|v| v.storage);
        match (storage.next(), storage.next()) {
            (Some(v), None) => Some(v),
            _ => None,
        }
    }

    /// The schema of the named version.
    pub fn schema_for(&self, version: &str) -> Option<&JSONSchemaProps> {
        self.spec.versions.iter().find(|v| v.name == version)?.schema.as_ref()?.open_api_v3_schema.as_ref()
    }

    /// Whether the condition of the given type has status `True`.
    pub fn condition_true(&self, type_: &str) -> bool {
        self.status.as_ref().is_some_and(|s| s.conditions.iter().any(|c| c.type_ == type_ && c.status == "True"))
    }
}

impl ApplyDefaults for CustomResourceDefinition {
    fn apply_defaults(&mut self) {
        self.spec.apply_defaults();
        let stored_empty = self.status.as_ref().is_none_or(|s| s.stored_versions.is_empty());
        if stored_empty && let Some(v) = self.spec.versions.iter().find(|v| v.storage) {
            let name = v.name.clone();
            self.status.get_or_insert_with(Default::default).stored_versions.push(name);
        }
    }
}

impl ApplyDefaults for CustomResourceDefinitionSpec {
    fn apply_defaults(&mut self) {
        let names = &mut self.names;
        if names.singular.as_deref().is_none_or(str::is_empty) {
            names.singular = Some(names.kind.to_lowercase());
        }
        if names.list_kind.as_deref().is_none_or(str::is_empty) && !names.kind.is_empty() {
            names.list_kind = Some(format!("{}List", names.kind));
        }
        let conversion = self
            .conversion
            .get_or_insert_with(|| CustomResourceConversion { strategy: "None".to_owned(), webhook: None });
        if let Some(service) =
            conversion.webhook.as_mut().and_then(|w| w.client_config.as_mut()).and_then(|c| c.service.as_mut())
        {
            default_to(&mut service.port, 443);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::{Resource, Validate};
    use serde_json::{Value, json};

    const DATABASES_CRD: &str = r##"{
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "databases.example.com"},
    "spec": {
        "group": "example.com",
        "names": {"plural": "databases", "singular": "database", "shortNames": ["db"], "kind": "Database", "listKind": "DatabaseList", "categories": ["all"]},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "description": "A managed database.",
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": {
                            "type": "object",
                            "required": ["engine"],
                            "properties": {
                                "engine": {"type": "string", "enum": ["postgres", "mysql"], "default": "postgres"},
                                "replicas": {"type": "integer", "format": "int32", "minimum": 0, "maximum": 9, "default": 1},
                                "storage": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}], "pattern": "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$"},
                                "options": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                                "users": {
                                    "type": "array",
                                    "x-kubernetes-list-type": "map",
                                    "x-kubernetes-list-map-keys": ["name"],
                                    "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "minLength": 1}, "roles": {"type": "array", "items": {"type": "string"}}}}
                                },
                                "selector": {"type": "string"}
                            },
                            "x-kubernetes-validations": [{"rule": "self.replicas <= 9", "message": "at most 9 replicas", "fieldPath": ".replicas", "reason": "FieldValueInvalid"}]
                        },
                        "status": {
                            "type": "object",
                            "properties": {
                                "replicas": {"type": "integer", "format": "int32"},
                                "selector": {"type": "string"},
                                "phase": {"type": "string"},
                                "conditions": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
                            }
                        }
                    }
                }},
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas", "labelSelectorPath": ".status.selector"}},
                "additionalPrinterColumns": [
                    {"name": "Engine", "type": "string", "jsonPath": ".spec.engine"},
                    {"name": "Replicas", "type": "integer", "format": "int32", "description": "Desired replicas", "jsonPath": ".spec.replicas"},
                    {"name": "Age", "type": "date", "priority": 1, "jsonPath": ".metadata.creationTimestamp"}
                ],
                "selectableFields": [{"jsonPath": ".spec.engine"}]
            },
            {
                "name": "v1beta1",
                "served": true,
                "storage": false,
                "deprecated": true,
                "deprecationWarning": "example.com/v1beta1 Database is deprecated; use example.com/v1",
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
            }
        ],
        "conversion": {
            "strategy": "Webhook",
            "webhook": {
                "clientConfig": {"service": {"namespace": "db-system", "name": "db-webhook", "path": "/convert", "port": 8443}, "caBundle": "Y2EtYnVuZGxl"},
                "conversionReviewVersions": ["v1"]
            }
        }
    },
    "status": {
        "conditions": [{"type": "Established", "status": "True", "lastTransitionTime": "2026-01-02T03:04:05Z", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}],
        "acceptedNames": {"plural": "databases", "singular": "database", "shortNames": ["db"], "kind": "Database", "listKind": "DatabaseList", "categories": ["all"]},
        "storedVersions": ["v1"]
    }
}"##;

    /// A realistic CRD: two versions, status and scale subresources, printer
    /// columns, and a schema with enums, defaults, bounds, int-or-string and
    /// preserved unknown fields.
    pub(crate) fn databases_crd() -> Value {
        serde_json::from_str(DATABASES_CRD).unwrap()
    }

    #[test]
    fn round_trip() {
        let v = databases_crd();
        let crd: CustomResourceDefinition = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&crd).unwrap(), v);
        let schema = crd.schema_for("v1").unwrap();
        let spec = &schema.properties["spec"];
        assert_eq!(spec.properties["replicas"].maximum, Some(9.0));
        assert_eq!(spec.properties["storage"].x_kubernetes_int_or_string, Some(true));
        assert_eq!(spec.properties["engine"].default, Some(json!("postgres")));
        assert_eq!(crd.storage_version().map(|v| v.name.as_str()), Some("v1"));
        let cc = crd
            .spec
            .conversion
            .as_ref()
            .and_then(|c| c.webhook.as_ref())
            .and_then(|w| w.client_config.as_ref())
            .unwrap();
        assert_eq!(cc.ca_bundle.as_ref().map(|b| b.0.as_slice()), Some(&b"ca-bundle"[..]));
        assert!(crd.condition_true("Established"));
        assert!(crd.validate().is_empty(), "{:#?}", crd.validate());
        assert_eq!(CustomResourceDefinition::INFO.short_names, ["crd", "crds"]);
        const { assert!(!CustomResourceDefinition::INFO.namespaced) };
    }

    #[test]
    fn json_schemas_of_the_recursive_types() {
        let openapi = crate::schema::openapi_schema::<CustomResourceDefinition>();
        let text = openapi.to_string();
        assert!(text.contains("JSONSchemaProps"), "{text}");
        let structural = crate::schema::structural_schema::<CustomResourceDefinition>();
        assert_eq!(structural["type"], "object");
    }

    #[test]
    fn defaults() {
        let mut crd: CustomResourceDefinition = serde_json::from_value(json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "names": {"plural": "widgets", "kind": "Widget"},
                "scope": "Cluster",
                "versions": [
                    {"name": "v1alpha1", "served": true, "storage": false},
                    {"name": "v1", "served": true, "storage": true}
                ]
            }
        }))
        .unwrap();
        crd.apply_defaults();
        let v = serde_json::to_value(&crd).unwrap();
        assert_eq!(
            v["spec"]["names"],
            json!({"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"})
        );
        assert_eq!(v["spec"]["conversion"], json!({"strategy": "None"}));
        assert_eq!(v["status"]["storedVersions"], json!(["v1"]));
        let once = crd.clone();
        crd.apply_defaults();
        assert_eq!(crd, once);

        // Webhook services default to port 443.
        let mut spec = CustomResourceDefinitionSpec {
            conversion: Some(CustomResourceConversion {
                strategy: "Webhook".into(),
                webhook: Some(WebhookConversion {
                    client_config: Some(WebhookClientConfig {
                        service: Some(ServiceReference {
                            namespace: "ns".into(),
                            name: "svc".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    conversion_review_versions: vec!["v1".into()],
                }),
            }),
            ..Default::default()
        };
        spec.apply_defaults();
        let port = spec
            .conversion
            .and_then(|c| c.webhook)
            .and_then(|w| w.client_config)
            .and_then(|c| c.service)
            .and_then(|s| s.port);
        assert_eq!(port, Some(443));
    }
}
