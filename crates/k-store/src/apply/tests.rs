use k_api_types::GroupVersionKind;
use k_api_types::meta::ManagedFieldsEntry;
use k_api_types::structural::StructuralSchema;
use serde_json::{Value, json};

use super::*;
use crate::patch::strategic::SchemaCursor;

fn deployment_cx() -> Context<'static> {
    Context {
        shape: Shape::Builtin(SchemaCursor::for_kind(&GroupVersionKind::new("apps", "v1", "Deployment")).unwrap()),
        scope: Scope::Object { status_subresource: true },
        api_version: "apps/v1".into(),
        subresource: "",
        normalize: None,
    }
}

fn config(replicas: i64, labels: Value, containers: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}}
        }
    })
}

fn nginx() -> Value {
    json!([{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}])
}

/// Applies and returns the object with its managed fields.
fn apply_ok(live: Option<&Value>, applied: &Value, manager: &str, force: bool) -> Value {
    let entries = entries_of(live);
    let out = apply(&entries, live, applied, manager, force, &deployment_cx()).unwrap();
    with_entries(out.object, out.managed_fields)
}

fn entries_of(object: Option<&Value>) -> Vec<ManagedFieldsEntry> {
    object
        .and_then(|o| o.pointer("/metadata/managedFields"))
        .map(|m| serde_json::from_value(m.clone()).unwrap())
        .unwrap_or_default()
}

fn with_entries(mut object: Value, entries: Vec<ManagedFieldsEntry>) -> Value {
    object["metadata"]["managedFields"] = serde_json::to_value(entries).unwrap();
    object
}

fn fields_of<'a>(object: &'a Value, manager: &str, operation: &str) -> Option<&'a Value> {
    object["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == operation)
        .map(|e| &e["fieldsV1"])
}

#[test]
fn an_apply_owns_exactly_what_it_sets() {
    let object = apply_ok(None, &config(3, json!({"app": "web"}), nginx()), "kubectl", false);
    assert_eq!(object["spec"]["replicas"], 3);
    let fields = fields_of(&object, "kubectl", "Apply").unwrap();
    assert_eq!(
        fields,
        &json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                        ".": {}, "f:image": {}, "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
                    }}}
                }
            }
        }),
        "the label selector is atomic; containers are keyed by name, ports by port and protocol"
    );
    let entry = &object["metadata"]["managedFields"][0];
    assert_eq!(entry["apiVersion"], "apps/v1");
    assert_eq!(entry["fieldsType"], "FieldsV1");
    assert!(entry["time"].is_string());
}

#[test]
fn applying_the_same_configuration_again_changes_nothing() {
    let applied = config(3, json!({"app": "web"}), nginx());
    let object = apply_ok(None, &applied, "kubectl", false);
    let again = apply(&entries_of(Some(&object)), Some(&object), &applied, "kubectl", false, &deployment_cx()).unwrap();
    assert!(!again.changed);
    assert_eq!(again.managed_fields, entries_of(Some(&object)), "times stay as they were");
}

#[test]
fn fields_left_out_of_the_configuration_are_removed() {
    let first = apply_ok(None, &config(3, json!({"app": "web", "tier": "front"}), nginx()), "kubectl", false);
    let sidecar = json!([{"name": "nginx", "image": "nginx:1.27"}, {"name": "log", "image": "busybox"}]);
    let second = apply_ok(Some(&first), &config(3, json!({"app": "web"}), sidecar), "kubectl", false);
    assert_eq!(second["metadata"]["labels"], json!({"app": "web"}));
    let containers = &second["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers.as_array().unwrap().len(), 2);
    assert!(containers[0].get("ports").is_none(), "the ports the manager stopped applying go: {containers}");
    let third = apply_ok(Some(&second), &config(3, json!({"app": "web"}), nginx()), "kubectl", false);
    let names: Vec<&str> = third["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["nginx"]);
}

#[test]
fn changing_another_managers_field_conflicts_unless_forced() {
    let object = apply_ok(None, &config(3, json!({"app": "web"}), nginx()), "kubectl", false);
    // `kubectl scale` writes the replicas through the scale subresource.
    let mut scaled = object.clone();
    scaled["spec"]["replicas"] = json!(5);
    let cx = Context { scope: Scope::Other, subresource: "scale", ..deployment_cx() };
    let entries = update(&entries_of(Some(&object)), Some(&object), &scaled, "kubectl-scale", &cx).unwrap();
    let scaled = with_entries(scaled, entries);
    assert_eq!(fields_of(&scaled, "kubectl-scale", "Update").unwrap(), &json!({"f:spec": {"f:replicas": {}}}));
    assert!(
        fields_of(&scaled, "kubectl", "Apply").unwrap()["f:spec"].get("f:replicas").is_none(),
        "an update takes the field from the applier"
    );

    // The applier re-applies with 3 replicas: conflict.
    let applied = config(3, json!({"app": "web"}), nginx());
    let err =
        apply(&entries_of(Some(&scaled)), Some(&scaled), &applied, "kubectl", false, &deployment_cx()).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "kubectl-scale" with subresource "scale" using apps/v1: .spec.replicas"#
    );
    // Agreeing with the current value is no conflict: the field is shared.
    let shared = apply_ok(Some(&scaled), &config(5, json!({"app": "web"}), nginx()), "kubectl", false);
    assert!(fields_of(&shared, "kubectl-scale", "Update").is_some());
    assert!(fields_of(&shared, "kubectl", "Apply").unwrap()["f:spec"].get("f:replicas").is_some());
    // Forcing takes it.
    let forced = apply_ok(Some(&scaled), &applied, "kubectl", true);
    assert_eq!(forced["spec"]["replicas"], 3);
    assert!(fields_of(&forced, "kubectl-scale", "Update").is_none(), "the scaler owns nothing left");
}

#[test]
fn two_appliers_share_a_list_by_key() {
    let a = apply_ok(None, &config(1, json!({"app": "web"}), nginx()), "team-a", false);
    let sidecar = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "log", "image": "busybox"}]}}}
    });
    let b = apply_ok(Some(&a), &sidecar, "team-b", false);
    assert_eq!(b["spec"]["template"]["spec"]["containers"].as_array().unwrap().len(), 2);
    // team-a drops its labels; team-b's container stays.
    let c = apply_ok(Some(&b), &config(1, json!({}), nginx()), "team-a", false);
    assert_eq!(c["spec"]["template"]["spec"]["containers"].as_array().unwrap().len(), 2);
    // team-b stops applying its container: it goes.
    let empty = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}});
    let d = apply_ok(Some(&c), &empty, "team-b", false);
    assert_eq!(d["spec"]["template"]["spec"]["containers"].as_array().unwrap().len(), 1);
    assert!(fields_of(&d, "team-b", "Apply").is_none(), "an entry with nothing owned is dropped");
}

#[test]
fn updates_move_ownership_and_removals_clear_it() {
    let cx = deployment_cx();
    let created = config(1, json!({"app": "web", "tier": "front"}), nginx());
    let entries = update(&[], None, &created, "kubectl-create", &cx).unwrap();
    let created = with_entries(created, entries);
    let fields = fields_of(&created, "kubectl-create", "Update").unwrap();
    assert_eq!(fields["f:metadata"]["f:labels"], json!({".": {}, "f:app": {}, "f:tier": {}}));
    assert!(fields.get("f:apiVersion").is_none() && fields["f:metadata"].get("f:name").is_none());

    let mut edited = created.clone();
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.28");
    edited["metadata"]["labels"].as_object_mut().unwrap().remove("tier");
    let entries = update(&entries_of(Some(&created)), Some(&created), &edited, "kubectl-edit", &cx).unwrap();
    let edited = with_entries(edited, entries);
    assert_eq!(
        fields_of(&edited, "kubectl-edit", "Update").unwrap(),
        &json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {"f:image": {}}}}}}})
    );
    let create_fields = fields_of(&edited, "kubectl-create", "Update").unwrap();
    assert_eq!(create_fields["f:metadata"]["f:labels"], json!({".": {}, "f:app": {}}));
    assert!(
        create_fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"]
            .get("f:image")
            .is_none()
    );

    // An update that changes nothing leaves the entries (and their times) alone.
    assert!(update(&entries_of(Some(&edited)), Some(&edited), &edited, "kubectl-edit", &cx).is_none());
}

#[test]
fn status_is_owned_through_the_status_subresource_only() {
    let cx = deployment_cx();
    let mut object = config(1, json!({"app": "web"}), nginx());
    object["status"] = json!({"replicas": 1});
    let entries = update(&[], None, &object, "kubectl-create", &cx).unwrap();
    assert!(entries[0].fields_v1.as_ref().unwrap().get("f:status").is_none());
    let status_cx = Context { scope: Scope::Status, subresource: "status", ..cx.clone() };
    let mut next = object.clone();
    next["status"]["replicas"] = json!(2);
    next["spec"]["replicas"] = json!(9);
    let entries = update(&entries, Some(&object), &next, "controller", &status_cx).unwrap();
    let controller = entries.iter().find(|e| e.manager == "controller").unwrap();
    assert_eq!(controller.subresource, "status");
    assert_eq!(controller.fields_v1, Some(json!({"f:status": {"f:replicas": {}}})));
}

#[test]
fn finalizers_are_a_set() {
    let cx = deployment_cx();
    let mut applied = config(1, json!({}), nginx());
    applied["metadata"]["finalizers"] = json!(["example.com/a"]);
    let first = apply_ok(None, &applied, "a", false);
    let mut other = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}});
    other["metadata"]["finalizers"] = json!(["example.com/b"]);
    let second = apply_ok(Some(&first), &other, "b", false);
    assert_eq!(second["metadata"]["finalizers"], json!(["example.com/a", "example.com/b"]));
    assert_eq!(
        fields_of(&second, "b", "Apply").unwrap(),
        &json!({"f:metadata": {"f:finalizers": {"v:\"example.com/b\"": {}}}})
    );
    // A value applied twice is one member.
    other["metadata"]["finalizers"] = json!(["example.com/b", "example.com/b"]);
    let third = apply_ok(Some(&first), &other, "b", false);
    assert_eq!(third["metadata"]["finalizers"], json!(["example.com/a", "example.com/b"]));
    let _ = cx;
}

#[test]
fn custom_resources_follow_their_list_types() {
    let schema = StructuralSchema::new(&json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {
            "hosts": {"type": "array", "items": {"type": "string"}},
            "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "routes": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["path"],
                "items": {"type": "object", "properties": {"path": {"type": "string"}, "port": {"type": "integer"}}}}
        }}}
    }))
    .unwrap();
    let cx = Context {
        shape: Shape::CustomRoot(schema.root()),
        scope: Scope::Object { status_subresource: false },
        api_version: "example.org/v1".into(),
        subresource: "",
        normalize: None,
    };
    let applied = json!({
        "apiVersion": "example.org/v1", "kind": "Site", "metadata": {"name": "s"},
        "spec": {"hosts": ["a", "b"], "tags": ["x"], "routes": [{"path": "/", "port": 80}]}
    });
    let out = apply(&[], None, &applied, "m", false, &cx).unwrap();
    assert_eq!(
        out.managed_fields[0].fields_v1,
        Some(json!({"f:spec": {
            "f:hosts": {},
            "f:routes": {"k:{\"path\":\"/\"}": {".": {}, "f:path": {}, "f:port": {}}},
            "f:tags": {"v:\"x\"": {}}
        }}))
    );
}

#[test]
fn conflicts_with_several_managers_list_each() {
    let conflicts = Conflicts(vec![
        Conflict { manager: "a".into(), subresource: String::new(), api_version: "v1".into(), path: ".x".into() },
        Conflict { manager: "a".into(), subresource: String::new(), api_version: "v1".into(), path: ".y".into() },
        Conflict { manager: "b".into(), subresource: String::new(), api_version: "v1".into(), path: ".z".into() },
    ]);
    assert_eq!(
        conflicts.to_string(),
        "Apply failed with 3 conflicts: conflicts with \"a\" using v1:\n- .x\n- .y\nconflicts with \"b\" using v1:\n- .z"
    );
}

#[test]
fn pruning_keeps_what_the_configuration_still_sets_below() {
    let mut first = config(1, json!({}), nginx());
    first["spec"]["template"]["spec"]["securityContext"] = json!({});
    let object = apply_ok(None, &first, "kubectl", false);
    let mut second = first.clone();
    second["spec"]["template"]["spec"]["securityContext"] = json!({"runAsUser": 1000});
    let object = apply_ok(Some(&object), &second, "kubectl", false);
    assert_eq!(object["spec"]["template"]["spec"]["securityContext"], json!({"runAsUser": 1000}));
}

#[test]
fn merged_lists_follow_the_configuration_order() {
    let env = |names: &[&str]| -> Value {
        json!([{"name": "app", "image": "a", "env": names.iter().map(|n| json!({"name": n, "value": "1"})).collect::<Vec<_>>()}])
    };
    let object = apply_ok(None, &config(1, json!({}), env(&["A", "B", "C"])), "kubectl", false);
    // Another manager adds D after B.
    let mut live = object.clone();
    live["spec"]["template"]["spec"]["containers"][0]["env"] = json!([{"name": "A", "value": "1"}, {"name": "B", "value": "1"}, {"name": "D", "value": "2"}, {"name": "C", "value": "1"}]);
    let entries = update(&entries_of(Some(&object)), Some(&object), &live, "other", &deployment_cx()).unwrap();
    let live = with_entries(live, entries);
    let reordered = apply_ok(Some(&live), &config(1, json!({}), env(&["C", "B", "A"])), "kubectl", false);
    let names: Vec<&str> = reordered["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["C", "B", "D", "A"], "the configuration's order; D stays after B");
}

#[test]
fn a_null_in_the_configuration_removes_and_conflicts_like_a_change() {
    let object = apply_ok(None, &config(3, json!({}), nginx()), "kubectl", false);
    let mut scaled = object.clone();
    scaled["spec"]["replicas"] = json!(5);
    let cx = Context { scope: Scope::Other, subresource: "scale", ..deployment_cx() };
    let scaled = with_entries(
        scaled.clone(),
        update(&entries_of(Some(&object)), Some(&object), &scaled, "kubectl-scale", &cx).unwrap(),
    );
    let mut nulled = config(3, json!({}), nginx());
    nulled["spec"]["replicas"] = Value::Null;
    let err =
        apply(&entries_of(Some(&scaled)), Some(&scaled), &nulled, "kubectl", false, &deployment_cx()).unwrap_err();
    assert!(err.to_string().contains(".spec.replicas"), "{err}");
    let forced = apply_ok(Some(&scaled), &nulled, "kubectl", true);
    assert!(forced["spec"].get("replicas").is_none());
    assert!(fields_of(&forced, "kubectl-scale", "Update").is_none(), "the removed field is nobody's");
}

#[test]
fn the_first_apply_to_an_unmanaged_object_meets_before_first_apply() {
    let mut live = config(2, json!({"app": "web"}), nginx());
    live["metadata"]["managedFields"] = json!([]);
    let err = apply(&[], Some(&live), &config(4, json!({"app": "web"}), nginx()), "kubectl", false, &deployment_cx())
        .unwrap_err();
    assert_eq!(err.0[0].manager, "before-first-apply");
    assert_eq!(err.0[0].path, ".spec.replicas");
    // Agreeing with everything there is no conflict.
    let same = apply(&[], Some(&live), &config(2, json!({"app": "web"}), nginx()), "kubectl", false, &deployment_cx());
    assert!(same.is_ok());
}

#[test]
fn reset_fields_in_the_configuration_are_ignored() {
    let mut applied = config(1, json!({}), nginx());
    applied["metadata"]["creationTimestamp"] = Value::Null;
    applied["status"] = json!({"replicas": 9});
    let object = apply_ok(None, &applied, "kubectl", false);
    assert!(object.get("status").is_none());
    let fields = fields_of(&object, "kubectl", "Apply").unwrap();
    assert!(fields.get("f:status").is_none() && fields["f:metadata"].get("f:creationTimestamp").is_none());
}

#[test]
fn custom_resource_metadata_is_object_meta() {
    let schema = StructuralSchema::new(&json!({"type": "object", "properties": {"spec": {"type": "object"}}})).unwrap();
    let cx = Context {
        shape: Shape::CustomRoot(schema.root()),
        scope: Scope::Object { status_subresource: false },
        api_version: "example.org/v1".into(),
        subresource: "",
        normalize: None,
    };
    let applied =
        json!({"apiVersion": "example.org/v1", "kind": "Site", "metadata": {"name": "s", "finalizers": ["a/b"]}});
    let out = apply(&[], None, &applied, "m", false, &cx).unwrap();
    assert_eq!(out.managed_fields[0].fields_v1, Some(json!({"f:metadata": {"f:finalizers": {"v:\"a/b\"": {}}}})));
}

#[test]
fn atomic_maps_are_owned_whole() {
    let mut applied = config(1, json!({}), nginx());
    applied["spec"]["template"]["spec"]["nodeSelector"] = json!({"disk": "ssd"});
    let object = apply_ok(None, &applied, "kubectl", false);
    let fields = fields_of(&object, "kubectl", "Apply").unwrap();
    assert_eq!(fields["f:spec"]["f:template"]["f:spec"]["f:nodeSelector"], json!({}));
}

#[test]
fn a_creates_fields_are_the_same_built_either_way() {
    // `update` builds a create's entry straight into FieldsV1; it must equal
    // the FieldSet computation it shortcuts, for every example manifest.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/manifests");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        for doc in k_api_types::manifest::parse_documents(&text).unwrap() {
            let value = doc.value;
            let gvk = GroupVersionKind::new(
                value["apiVersion"].as_str().unwrap().rsplit_once('/').map_or("", |(g, _)| g),
                value["apiVersion"].as_str().unwrap().rsplit('/').next().unwrap(),
                value["kind"].as_str().unwrap(),
            );
            let Some(cursor) = SchemaCursor::for_kind(&gvk) else { continue };
            for scope in [Scope::Object { status_subresource: true }, Scope::Object { status_subresource: false }] {
                let cx = Context {
                    shape: Shape::Builtin(cursor),
                    scope,
                    api_version: String::new(),
                    subresource: "",
                    normalize: None,
                };
                let fast = update(&[], None, &value, "m", &cx).map(|e| e[0].fields_v1.clone());
                let mut set = FieldSet::new();
                super::walk::added_fields(&cx.tracked_for_tests(&value), cx.shape, &mut set);
                let slow = (!set.is_empty()).then(|| Some(set.to_fields_v1()));
                assert_eq!(fast, slow, "{gvk:?} {scope:?}");
                checked += 1;
            }
        }
    }
    assert!(checked > 60, "{checked}");
}
