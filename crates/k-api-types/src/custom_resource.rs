//! Custom resources: the [`CustomResourceExt`] trait that
//! [`#[derive(CustomResource)]`](derive@crate::CustomResource) implements, and
//! the CRD builder behind it.
//!
//! ```
//! use k_api_types::{CustomResource, CustomResourceExt, Resource};
//! use schemars::JsonSchema;
//! use serde::{Deserialize, Serialize};
//!
//! /// Desired state of a cache cluster.
//! #[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
//! #[resource(group = "example.org", version = "v1alpha1", kind = "Cache", namespaced,
//!            status = "CacheStatus", shortname = "ca",
//!            printcolumn(name = "Engine", type = "string", json_path = ".spec.engine"),
//!            scale(spec_replicas_path = ".spec.replicas", status_replicas_path = ".status.replicas"))]
//! #[serde(rename_all = "camelCase")]
//! pub struct CacheSpec {
//!     /// Cache engine.
//!     pub engine: String,
//!     /// Number of cache nodes.
//!     pub replicas: Option<i32>,
//! }
//!
//! /// Observed state of a cache cluster.
//! #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
//! pub struct CacheStatus {
//!     /// Ready cache nodes.
//!     pub replicas: i32,
//! }
//!
//! let cache = Cache::new("sessions", CacheSpec { engine: "valkey".into(), replicas: Some(3) });
//! assert_eq!(Cache::INFO.plural, "caches");
//! let crd = Cache::crd();
//! assert_eq!(crd.metadata.name, "caches.example.org");
//! assert!(k_api_types::Validate::validate(&crd).is_empty());
//! # let _ = cache;
//! ```

use serde_json::{Value, json};

use crate::apiextensions::v1::CustomResourceDefinition;
use crate::resource::ApiResource;

/// A type that is a custom resource: it can describe itself as a CRD.
pub trait CustomResourceExt {
    /// The `CustomResourceDefinition` that serves this type, with the
    /// structural openAPIV3Schema generated from its spec and status types.
    fn crd() -> CustomResourceDefinition;
}

/// A printer column of a custom resource (`kubectl get` output).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrinterColumn {
    /// Column title.
    pub name: &'static str,
    /// `string`, `integer`, `number`, `boolean` or `date`.
    pub type_: &'static str,
    /// JSONPath of the value, such as `.spec.engine`.
    pub json_path: &'static str,
    /// Description (may be empty).
    pub description: &'static str,
    /// Format hint (may be empty).
    pub format: &'static str,
    /// 0 for standard columns, higher for `-o wide`.
    pub priority: i32,
}

/// Paths of the scale subresource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScalePaths {
    /// Path of the desired replicas, such as `.spec.replicas`.
    pub spec_replicas_path: &'static str,
    /// Path of the observed replicas, such as `.status.replicas`.
    pub status_replicas_path: &'static str,
    /// Path of the label selector in string form (may be empty).
    pub label_selector_path: &'static str,
}

/// Everything the derive knows about a custom resource.
#[derive(Clone, Debug)]
pub struct CrdParams {
    /// API group.
    pub group: &'static str,
    /// Version.
    pub version: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Plural name.
    pub plural: &'static str,
    /// Singular name.
    pub singular: &'static str,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Short names.
    pub short_names: &'static [&'static str],
    /// Categories.
    pub categories: &'static [&'static str],
    /// Printer columns.
    pub printer_columns: &'static [PrinterColumn],
    /// Scale subresource, if any.
    pub scale: Option<ScalePaths>,
    /// Structural schema of the spec.
    pub spec_schema: Value,
    /// Structural schema of the status, if the resource has a status subresource.
    pub status_schema: Option<Value>,
}

/// Builds the CRD of a custom resource.
pub fn build_crd(p: &CrdParams) -> CustomResourceDefinition {
    let mut properties = serde_json::Map::new();
    properties.insert("apiVersion".into(), json!({"type": "string", "description": "APIVersion of the object."}));
    properties.insert("kind".into(), json!({"type": "string", "description": "Kind of the object."}));
    properties.insert("metadata".into(), json!({"type": "object"}));
    properties.insert("spec".into(), p.spec_schema.clone());
    if let Some(status) = &p.status_schema {
        properties.insert("status".into(), status.clone());
    }
    let mut subresources = serde_json::Map::new();
    if p.status_schema.is_some() {
        subresources.insert("status".into(), json!({}));
    }
    if let Some(s) = p.scale {
        let mut scale = json!({"specReplicasPath": s.spec_replicas_path, "statusReplicasPath": s.status_replicas_path});
        if !s.label_selector_path.is_empty() {
            scale["labelSelectorPath"] = json!(s.label_selector_path);
        }
        subresources.insert("scale".into(), scale);
    }
    let columns: Vec<Value> = p
        .printer_columns
        .iter()
        .map(|c| {
            let mut col = json!({"name": c.name, "type": c.type_, "jsonPath": c.json_path});
            if !c.description.is_empty() {
                col["description"] = json!(c.description);
            }
            if !c.format.is_empty() {
                col["format"] = json!(c.format);
            }
            if c.priority != 0 {
                col["priority"] = json!(c.priority);
            }
            col
        })
        .collect();
    let mut version = json!({
        "name": p.version,
        "served": true,
        "storage": true,
        "schema": {"openAPIV3Schema": {"type": "object", "properties": properties, "required": ["spec"]}},
    });
    if !subresources.is_empty() {
        version["subresources"] = Value::Object(subresources);
    }
    if !columns.is_empty() {
        version["additionalPrinterColumns"] = Value::Array(columns);
    }
    let mut names =
        json!({"plural": p.plural, "singular": p.singular, "kind": p.kind, "listKind": format!("{}List", p.kind)});
    if !p.short_names.is_empty() {
        names["shortNames"] = json!(p.short_names);
    }
    if !p.categories.is_empty() {
        names["categories"] = json!(p.categories);
    }
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{}.{}", p.plural, p.group)},
        "spec": {
            "group": p.group,
            "names": names,
            "scope": if p.namespaced { "Namespaced" } else { "Cluster" },
            "versions": [version],
        }
    });
    // The JSON above has the CRD's own shape; failing to decode it is a bug in this crate.
    match serde_json::from_value(crd) {
        Ok(crd) => crd,
        Err(e) => unreachable!("generated CustomResourceDefinition does not decode: {e}"),
    }
}

/// The resources a CRD serves: one per served version.
pub fn crd_resources(crd: &CustomResourceDefinition) -> Vec<ApiResource> {
    let spec = &crd.spec;
    let names = &spec.names;
    spec.versions
        .iter()
        .filter(|v| v.served)
        .map(|v| {
            let sub = v.subresources.as_ref();
            let mut subresources = Vec::new();
            if sub.is_some_and(|s| s.status.is_some()) {
                subresources.push("status".to_owned());
            }
            if sub.is_some_and(|s| s.scale.is_some()) {
                subresources.push("scale".to_owned());
            }
            ApiResource {
                group: spec.group.clone(),
                version: v.name.clone(),
                kind: names.kind.clone(),
                plural: names.plural.clone(),
                singular: names.singular.clone().unwrap_or_else(|| names.kind.to_lowercase()),
                short_names: names.short_names.clone(),
                categories: names.categories.clone(),
                namespaced: spec.scope == "Namespaced",
                verbs: crate::resource::ALL_VERBS.iter().map(|s| (*s).to_owned()).collect(),
                subresources,
                selectable_fields: v
                    .selectable_fields
                    .iter()
                    .map(|f| f.json_path.trim_start_matches('.').to_owned())
                    .collect(),
            }
        })
        .collect()
}
