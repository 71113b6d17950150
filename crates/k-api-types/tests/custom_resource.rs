//! The CustomResource derive: the generated type, its Resource facts, and a
//! CRD whose schema is structural and passes this crate's CRD validation.

use std::collections::BTreeMap;

use k_api_types::apiextensions::v1::{CustomResourceDefinition, structural_errors};
use k_api_types::intstr::IntOrString;
use k_api_types::meta::Condition;
use k_api_types::quantity::Quantity;
use k_api_types::registry::Registry;
use k_api_types::validation::Path;
use k_api_types::{CustomResource, CustomResourceExt, GroupVersionKind, GroupVersionResource, Resource, Validate};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Desired state of a database cluster.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[resource(
    group = "example.com",
    version = "v1",
    kind = "Database",
    namespaced,
    status = "DatabaseStatus",
    shortname = "db",
    category = "all",
    printcolumn(name = "Engine", type = "string", json_path = ".spec.engine"),
    printcolumn(name = "Replicas", type = "integer", json_path = ".spec.replicas", priority = 1),
    scale(spec_replicas_path = ".spec.replicas", status_replicas_path = ".status.replicas")
)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseSpec {
    /// Database engine.
    pub engine: Engine,
    /// Number of replicas.
    pub replicas: Option<i32>,
    /// Storage size.
    pub storage: Option<Quantity>,
    /// Port, by number or name.
    pub port: Option<IntOrString>,
    /// Free-form engine settings.
    pub settings: Option<serde_json::Value>,
    /// Extra labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Backups to keep.
    #[serde(default)]
    pub backups: Vec<Backup>,
}

/// Supported engines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// PostgreSQL.
    #[default]
    Postgres,
    /// MySQL.
    Mysql,
}

/// A backup schedule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Backup {
    /// Cron schedule.
    pub schedule: String,
    /// How many to keep.
    pub keep: u32,
}

/// Observed state of a database cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseStatus {
    /// Ready replicas.
    pub replicas: i32,
    /// Conditions.
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

/// A cluster-scoped resource without status, named by `root`.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[resource(group = "example.com", version = "v1beta1", kind = "Tenant", plural = "tenants", root = "TenantObject")]
pub struct TenantSpec {
    /// Owner of the tenant.
    pub owner: String,
}

#[test]
fn resource_facts() {
    let info = Database::INFO;
    assert_eq!(
        (info.group, info.version, info.api_version, info.kind, info.plural, info.singular),
        ("example.com", "v1", "example.com/v1", "Database", "databases", "database")
    );
    assert_eq!(Database::INFO.namespaced, !TenantObject::INFO.namespaced);
    assert_eq!(info.short_names, ["db"]);
    assert_eq!(info.categories, ["all"]);
    assert_eq!(info.subresources, ["status", "scale"]);
    assert!(matches!(TenantObject::INFO.api_version, "example.com/v1beta1"));
    assert!(TenantObject::INFO.subresources.is_empty());
}

#[test]
fn objects_round_trip() {
    let mut db =
        Database::new("orders", DatabaseSpec { engine: Engine::Mysql, replicas: Some(2), ..Default::default() });
    db.metadata.namespace = "work".into();
    let v = serde_json::to_value(&db).unwrap();
    assert_eq!(
        v,
        json!({"apiVersion": "example.com/v1", "kind": "Database", "metadata": {"name": "orders", "namespace": "work"},
               "spec": {"engine": "mysql", "replicas": 2, "storage": null, "port": null, "settings": null,
                        "labels": {}, "backups": []}})
    );
    let back: Database = serde_json::from_value(v).unwrap();
    assert_eq!(back.spec, db.spec);
    assert_eq!(back.type_meta().kind, "Database");
}

#[test]
fn crd_is_structural_and_valid() {
    let crd = Database::crd();
    assert_eq!(crd.metadata.name, "databases.example.com");
    let errors = crd.validate();
    assert!(errors.is_empty(), "{:#?}", errors.iter().map(ToString::to_string).collect::<Vec<_>>());
    let v = serde_json::to_value(&crd).unwrap();
    let version = &v["spec"]["versions"][0];
    assert_eq!(v["spec"]["scope"], "Namespaced");
    assert_eq!(
        v["spec"]["names"],
        json!({"plural": "databases", "singular": "database", "kind": "Database",
        "listKind": "DatabaseList", "shortNames": ["db"], "categories": ["all"]})
    );
    assert_eq!(
        version["subresources"],
        json!({"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}})
    );
    assert_eq!(
        version["additionalPrinterColumns"][1],
        json!({"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas", "priority": 1})
    );
    let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
    assert_eq!(spec["type"], "object");
    assert_eq!(spec["properties"]["engine"]["enum"], json!(["postgres", "mysql"]));
    assert_eq!(spec["properties"]["engine"]["type"], "string");
    assert_eq!(spec["properties"]["storage"]["x-kubernetes-int-or-string"], true);
    assert_eq!(spec["properties"]["port"]["x-kubernetes-int-or-string"], true);
    assert_eq!(spec["properties"]["settings"]["x-kubernetes-preserve-unknown-fields"], true);
    assert_eq!(spec["properties"]["labels"]["additionalProperties"]["type"], "string");
    assert_eq!(spec["properties"]["backups"]["items"]["properties"]["keep"]["type"], "integer");
    assert!(!v.to_string().contains("$ref"), "structural schemas have no $ref");
    // The schema on its own is structural by the apiextensions rules.
    let schema = crd.spec.versions[0].schema.as_ref().unwrap().open_api_v3_schema.as_ref().unwrap();
    assert!(structural_errors(schema, &Path::new("schema")).is_empty());
    let tenant = TenantObject::crd();
    assert!(tenant.validate().is_empty());
    assert_eq!(serde_json::to_value(&tenant).unwrap()["spec"]["scope"], "Cluster");
}

#[test]
fn crd_validation_catches_a_broken_schema() {
    let mut v = serde_json::to_value(Database::crd()).unwrap();
    v["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["engine"] =
        json!({"description": "no type"});
    v["metadata"]["name"] = json!("wrong.example.com");
    let crd: CustomResourceDefinition = serde_json::from_value(v).unwrap();
    let fields: Vec<_> = crd.validate().into_iter().map(|e| e.field).collect();
    assert!(fields.iter().any(|f| f == "metadata.name"), "{fields:?}");
    assert!(fields.iter().any(|f| f.contains("properties[engine]") || f.contains("properties.engine")), "{fields:?}");
}

#[test]
fn registry_serves_and_forgets_crds() {
    let mut registry = Registry::builtin();
    let before = registry.len();
    registry.register_crd(&Database::crd()).unwrap();
    assert_eq!(registry.len(), before + 1);
    let gvk = GroupVersionKind::new("example.com", "v1", "Database");
    let res = registry.by_kind(&gvk).unwrap();
    assert_eq!(res.plural, "databases");
    assert_eq!(res.subresources, ["status", "scale"]);
    assert!(registry.by_resource(&GroupVersionResource::new("example.com", "v1", "databases")).is_some());
    assert_eq!(registry.resolve("db")[0].kind, "Database");
    assert_eq!(registry.resolve("databases.example.com")[0].kind, "Database");
    assert_eq!(registry.unregister("example.com", "databases").len(), 1);
    assert!(registry.by_kind(&gvk).is_none());
    assert_eq!(registry.len(), before);
}
