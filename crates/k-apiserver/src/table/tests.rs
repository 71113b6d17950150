//! Tests of the Table as a whole: dispatch, columns, row objects.

use super::*;
use k_api_types::ResourceInfo;
use serde_json::json;

fn now() -> DateTime<Utc> {
    json::parse_time("2024-06-01T12:00:00Z").unwrap()
}

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: group.to_owned(),
        version: version.to_owned(),
        kind: kind.to_owned(),
        plural: plural.to_owned(),
        namespaced: true,
        ..Default::default()
    }
}

fn column_names(defs: &[TableColumnDefinition]) -> Vec<&str> {
    defs.iter().map(|d| d.name.as_str()).collect()
}

fn pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "nginx", "namespace": "default", "uid": "6f1c7c9e-0000-4000-8000-000000000001",
                     "resourceVersion": "1234", "creationTimestamp": "2024-06-01T11:59:00Z", "labels": {"run": "nginx"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}], "nodeName": "node-1"},
        "status": {"phase": "Running", "podIP": "10.244.0.5",
                   "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"name": "nginx", "ready": true, "restartCount": 0, "state": {"running": {}}}]}
    })
}

#[test]
fn include_object_parses_the_query_values() {
    assert_eq!(IncludeObject::parse("None"), Some(IncludeObject::None));
    assert_eq!(IncludeObject::parse("Metadata"), Some(IncludeObject::Metadata));
    assert_eq!(IncludeObject::parse("Object"), Some(IncludeObject::Object));
    assert_eq!(IncludeObject::parse(""), Some(IncludeObject::Metadata));
    assert_eq!(IncludeObject::parse("object"), None);
    assert_eq!(IncludeObject::default(), IncludeObject::Metadata);
    assert_eq!(IncludeObject::Object.as_str(), "Object");
}

#[test]
fn pod_table_with_partial_object_metadata() {
    let pods = resource("", "v1", "Pod", "pods");
    let table = to_table(&pods, None, &[pod()], IncludeObject::Metadata, now());
    assert_eq!((table.api_version.as_str(), table.kind.as_str()), ("meta.k8s.io/v1", "Table"));
    assert_eq!(
        column_names(&table.column_definitions),
        ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"]
    );
    assert_eq!(table.column_definitions[0].format, "name");
    assert_eq!(table.column_definitions.iter().filter(|c| c.priority == 1).count(), 4);
    assert_eq!(table.rows.len(), 1);
    let row = &table.rows[0];
    assert_eq!(row.cells[..5], [json!("nginx"), json!("1/1"), json!("Running"), json!("0"), json!("60s")]);
    let object = row.object.as_ref().unwrap();
    assert_eq!(object["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(object["kind"], "PartialObjectMetadata");
    assert_eq!(object["metadata"]["name"], "nginx");
    assert_eq!(object["metadata"]["resourceVersion"], "1234");
    assert_eq!(object["metadata"]["labels"]["run"], "nginx");
    assert!(object.get("spec").is_none());

    // The wire form kubectl reads.
    let wire = serde_json::to_value(&table).unwrap();
    assert_eq!(wire["columnDefinitions"][3]["type"], "string");
    assert_eq!(wire["rows"][0]["cells"][2], "Running");
}

#[test]
fn include_object_none_and_object() {
    let pods = resource("", "v1", "Pod", "pods");
    let table = to_table(&pods, None, &[pod()], IncludeObject::None, now());
    assert!(table.rows[0].object.is_none());

    let mut item = pod();
    let map = item.as_object_mut().unwrap();
    map.remove("apiVersion");
    map.remove("kind");
    let table = to_table(&pods, None, &[item], IncludeObject::Object, now());
    let object = table.rows[0].object.as_ref().unwrap();
    assert_eq!(object["apiVersion"], "v1");
    assert_eq!(object["kind"], "Pod");
    assert_eq!(object["spec"]["nodeName"], "node-1");
}

#[test]
fn kinds_without_printers_get_name_and_created_at() {
    let roles = resource("rbac.authorization.k8s.io", "v1", "Role", "roles");
    let role = json!({"metadata": {"name": "reader", "creationTimestamp": "2024-01-02T03:04:05Z"}, "rules": []});
    let table =
        to_table(&roles, None, &[role, json!({"metadata": {"name": "undated"}})], IncludeObject::Metadata, now());
    assert_eq!(column_names(&table.column_definitions), ["Name", "Created At"]);
    assert_eq!(table.column_definitions[1].type_, "date");
    assert_eq!(table.rows[0].cells, vec![json!("reader"), json!("2024-01-02T03:04:05Z")]);
    assert_eq!(table.rows[1].cells, vec![json!("undated"), json!("0001-01-01T00:00:00Z")]);

    for (group, kind) in [
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("", "LimitRange"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ] {
        let defs = column_definitions(&resource(group, "v1", kind, "x"), None);
        assert_eq!(column_names(&defs), ["Name", "Created At"], "{kind}");
    }
}

#[test]
fn custom_resources() {
    let widgets = resource("example.com", "v1", "Widget", "widgets");
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w1", "creationTimestamp": "2024-06-01T11:00:00Z"},
        "spec": {"size": 3}, "status": {"phase": "Ready"}});

    // No printer columns, whether known (empty list) or not (unknown group).
    for cols in [Some(&[][..]), None] {
        let table = to_table(&widgets, cols, std::slice::from_ref(&widget), IncludeObject::None, now());
        assert_eq!(column_names(&table.column_definitions), ["Name", "Age"]);
        assert_eq!(table.rows[0].cells, vec![json!("w1"), json!("60m")]);
    }

    let cols = [
        CustomResourceColumnDefinition {
            name: "Size".to_owned(),
            type_: "integer".to_owned(),
            json_path: ".spec.size".to_owned(),
            ..Default::default()
        },
        CustomResourceColumnDefinition {
            name: "Phase".to_owned(),
            type_: "string".to_owned(),
            json_path: ".status.phase".to_owned(),
            priority: Some(1),
            description: Some("Current phase".to_owned()),
            ..Default::default()
        },
    ];
    let table = to_table(&widgets, Some(&cols), &[widget], IncludeObject::Metadata, now());
    assert_eq!(column_names(&table.column_definitions), ["Name", "Size", "Phase"]);
    assert_eq!(table.column_definitions[2].priority, 1);
    assert_eq!(table.column_definitions[2].description, "Current phase");
    assert_eq!(table.rows[0].cells, vec![json!("w1"), json!(3), json!("Ready")]);
    assert_eq!(table.rows[0].object.as_ref().unwrap()["metadata"]["name"], "w1");
}

#[test]
fn every_built_in_printer_has_a_cell_per_column() {
    let kinds = [
        ("", "Pod"),
        ("", "PodTemplate"),
        ("", "ReplicationController"),
        ("", "Service"),
        ("", "Endpoints"),
        ("", "Node"),
        ("", "Namespace"),
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "ServiceAccount"),
        ("", "Event"),
        ("events.k8s.io", "Event"),
        ("", "PersistentVolume"),
        ("", "PersistentVolumeClaim"),
        ("", "ResourceQuota"),
        ("apps", "Deployment"),
        ("apps", "ReplicaSet"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ControllerRevision"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("networking.k8s.io", "Ingress"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("networking.k8s.io", "ServiceCIDR"),
        ("networking.k8s.io", "IPAddress"),
        ("discovery.k8s.io", "EndpointSlice"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "CSIDriver"),
        ("storage.k8s.io", "CSINode"),
        ("storage.k8s.io", "VolumeAttachment"),
        ("coordination.k8s.io", "Lease"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("policy", "PodDisruptionBudget"),
        ("node.k8s.io", "RuntimeClass"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("apiregistration.k8s.io", "APIService"),
    ];
    let empty = json!({"metadata": {"name": "x"}});
    for (group, kind) in kinds {
        let printer = built_in(group, kind).unwrap_or_else(|| panic!("no printer for {kind}"));
        let table =
            to_table(&resource(group, "v1", kind, "x"), None, std::slice::from_ref(&empty), IncludeObject::None, now());
        assert_eq!(table.rows[0].cells.len(), printer.columns.len(), "{group}/{kind}");
        assert_eq!(table.rows[0].cells[printer.columns.iter().position(|c| c.name == "Name").unwrap()], json!("x"));
        assert!(!table.column_definitions.iter().any(|c| c.priority > 1), "{kind}");
    }
}

#[test]
fn typed_resource_info_converts() {
    let info = <k_api_types::core::v1::Pod as k_api_types::Resource>::INFO;
    let res = ApiResource::from(&info as &ResourceInfo);
    let defs = column_definitions(&res, None);
    assert_eq!(defs.len(), 9);
    assert_eq!(defs[2].name, "Status");
}
