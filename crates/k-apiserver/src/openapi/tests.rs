use std::collections::HashSet;
use std::sync::OnceLock;

use k_api_types::ApiResource;
use prost::Message;
use serde_json::{Value, json};

use super::names;
use super::proto;
use super::{OpenApi, V3Document};

/// Built-ins only, built once for the tests that only read.
fn builtin() -> &'static OpenApi {
    static DOCS: OnceLock<OpenApi> = OnceLock::new();
    DOCS.get_or_init(|| OpenApi::build(true, &[]))
}

fn doc<'a>(api: &'a OpenApi, path: &str) -> &'a Value {
    api.v3_document(path).map(V3Document::value).unwrap_or_else(|| panic!("no document {path}"))
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc.pointer(&format!("/components/schemas/{}", name.replace('/', "~1")))
        .unwrap_or_else(|| panic!("no definition {name}"))
}

fn path_op<'a>(doc: &'a Value, path: &str, method: &str) -> &'a Value {
    doc["paths"].get(path).and_then(|p| p.get(method)).unwrap_or_else(|| panic!("no {method} {path}"))
}

fn param_names(op: &Value, location: &str) -> Vec<String> {
    op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == location)
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect()
}

/// A custom resource as a CRD version serves it.
fn cache() -> (ApiResource, Value) {
    let resource = ApiResource {
        group: "example.org".into(),
        version: "v1".into(),
        kind: "Cache".into(),
        plural: "caches".into(),
        singular: "cache".into(),
        namespaced: true,
        verbs: k_api_types::resource::ALL_VERBS.iter().map(|s| (*s).to_owned()).collect(),
        subresources: vec!["status".into(), "scale".into()],
        ..ApiResource::default()
    };
    let schema = json!({
        "description": "A cache cluster.",
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "description": "Desired state.",
                "properties": {
                    "engine": {"type": "string", "description": "Cache engine.", "enum": ["valkey", "memcached"]},
                    "replicas": {"type": "integer", "format": "int32", "nullable": true},
                    "size": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                    "options": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                                "properties": {"known": {"type": "string"}}},
                    "tags": {"type": "array", "items": {"type": "string"}}
                }
            },
            "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}}
        }
    });
    (resource, schema)
}

#[test]
fn pod_definition_carries_its_kind_and_descriptions() {
    let core = doc(builtin(), "api/v1");
    let pod = schema(core, "io.k8s.api.core.v1.Pod");
    assert_eq!(pod["x-kubernetes-group-version-kind"], json!([{"group": "", "kind": "Pod", "version": "v1"}]));
    assert!(pod["description"].as_str().is_some_and(|d| !d.is_empty()));
    assert_eq!(pod["type"], "object");
    assert_eq!(
        pod["properties"]["metadata"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    assert!(pod["properties"]["metadata"]["description"].is_string());
    // Optional values are plain references, not `anyOf` with null.
    assert_eq!(pod["properties"]["status"]["allOf"][0]["$ref"], "#/components/schemas/io.k8s.api.core.v1.PodStatus");
    let list = schema(core, "io.k8s.api.core.v1.PodList");
    assert_eq!(list["x-kubernetes-group-version-kind"], json!([{"group": "", "kind": "PodList", "version": "v1"}]));
    assert_eq!(list["properties"]["items"]["items"]["$ref"], "#/components/schemas/io.k8s.api.core.v1.Pod");

    let apps = doc(builtin(), "apis/apps/v1");
    let deployment = schema(apps, "io.k8s.api.apps.v1.Deployment");
    assert_eq!(
        deployment["x-kubernetes-group-version-kind"],
        json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
    );
    // The pod template keeps its core name, and comes along into the apps document.
    assert!(schema(apps, "io.k8s.api.core.v1.PodTemplateSpec").is_object());
}

#[test]
fn definitions_are_named_like_kubernetes() {
    let core = doc(builtin(), "api/v1");
    for name in [
        "io.k8s.api.core.v1.Container",
        "io.k8s.api.core.v1.PodSpec",
        "io.k8s.api.core.v1.EndpointPort",
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry",
        "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
        "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
        "io.k8s.apimachinery.pkg.api.resource.Quantity",
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
    ] {
        assert!(schema(core, name).is_object(), "{name}");
    }
    assert_eq!(schema(core, names::QUANTITY)["oneOf"], json!([{"type": "string"}, {"type": "number"}]));
    assert_eq!(schema(core, names::INT_OR_STRING)["format"], "int-or-string");
    // v2 has no alternatives: both are strings there.
    let v2: Value = serde_json::from_slice(builtin().v2_json()).unwrap();
    assert_eq!(v2["definitions"][names::QUANTITY]["type"], "string");
    assert_eq!(v2["definitions"][names::INT_OR_STRING]["type"], "string");
    assert_eq!(v2["definitions"][names::INT_OR_STRING]["format"], "int-or-string");
    // Same short name in two packages: each gets its own.
    let discovery = doc(builtin(), "apis/discovery.k8s.io/v1");
    assert!(schema(discovery, "io.k8s.api.discovery.v1.EndpointPort").is_object());
    assert!(schema(doc(builtin(), "apis/rbac.authorization.k8s.io/v1"), "io.k8s.api.rbac.v1.ClusterRole").is_object());
    assert!(
        schema(
            doc(builtin(), "apis/apiextensions.k8s.io/v1"),
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"
        )
        .is_object()
    );
    // Every built-in definition has a Kubernetes name.
    for name in super::schemas::builtin().defs.keys() {
        assert!(name.starts_with("io.k8s.") && !name.contains(".unknown."), "{name}");
    }
    // Secret data is inlined as base64 strings.
    let secret = schema(core, "io.k8s.api.core.v1.Secret");
    assert_eq!(secret["properties"]["data"]["additionalProperties"], json!({"format": "byte", "type": "string"}));
}

#[test]
fn pod_patch_operation_offers_field_validation() {
    let core = doc(builtin(), "api/v1");
    let patch = path_op(core, "/api/v1/namespaces/{namespace}/pods/{name}", "patch");
    let query = param_names(patch, "query");
    for name in ["fieldValidation", "dryRun", "fieldManager", "force"] {
        assert!(query.contains(&name.to_owned()), "{name} in {query:?}");
    }
    assert_eq!(patch["x-kubernetes-action"], "patch");
    assert_eq!(patch["x-kubernetes-group-version-kind"], json!({"group": "", "kind": "Pod", "version": "v1"}));
    assert_eq!(patch["operationId"], "patchCoreV1NamespacedPod");
    let content = patch["requestBody"]["content"].as_object().unwrap();
    let mut types: Vec<&str> = content.keys().map(String::as_str).collect();
    types.sort_unstable();
    assert_eq!(
        types,
        [
            "application/apply-patch+yaml",
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json"
        ]
    );
    // kubectl takes the first PATCH operation of the kind it finds, whichever
    // path: every one must offer the parameter (proxying is another kind).
    for (path, item) in core["paths"].as_object().unwrap() {
        if let Some(op) = item.get("patch").filter(|op| op["x-kubernetes-action"] == "patch") {
            assert!(param_names(op, "query").contains(&"fieldValidation".to_owned()), "{path}");
        }
    }
}

#[test]
fn resource_paths_follow_kube_apiserver() {
    let core = doc(builtin(), "api/v1");
    let expect = [
        ("/api/v1/namespaces/{namespace}/pods", "get", "list", "listCoreV1NamespacedPod"),
        ("/api/v1/namespaces/{namespace}/pods", "post", "post", "createCoreV1NamespacedPod"),
        ("/api/v1/namespaces/{namespace}/pods", "delete", "deletecollection", "deleteCoreV1CollectionNamespacedPod"),
        ("/api/v1/namespaces/{namespace}/pods/{name}", "get", "get", "readCoreV1NamespacedPod"),
        ("/api/v1/namespaces/{namespace}/pods/{name}", "put", "put", "replaceCoreV1NamespacedPod"),
        ("/api/v1/namespaces/{namespace}/pods/{name}", "delete", "delete", "deleteCoreV1NamespacedPod"),
        ("/api/v1/pods", "get", "list", "listCoreV1PodForAllNamespaces"),
        ("/api/v1/watch/namespaces/{namespace}/pods", "get", "watchlist", "watchCoreV1NamespacedPodList"),
        ("/api/v1/watch/namespaces/{namespace}/pods/{name}", "get", "watch", "watchCoreV1NamespacedPod"),
        ("/api/v1/watch/pods", "get", "watchlist", "watchCoreV1PodListForAllNamespaces"),
        ("/api/v1/namespaces/{namespace}/pods/{name}/status", "patch", "patch", "patchCoreV1NamespacedPodStatus"),
        ("/api/v1/namespaces/{namespace}/pods/{name}/binding", "post", "post", "createCoreV1NamespacedPodBinding"),
        ("/api/v1/namespaces/{namespace}/pods/{name}/eviction", "post", "post", "createCoreV1NamespacedPodEviction"),
        ("/api/v1/namespaces/{namespace}/pods/{name}/log", "get", "get", "readCoreV1NamespacedPodLog"),
        ("/api/v1/namespaces/{namespace}/pods/{name}/exec", "post", "connect", "connectCoreV1PostNamespacedPodExec"),
        ("/api/v1/nodes", "get", "list", "listCoreV1Node"),
        ("/api/v1/nodes/{name}/status", "get", "get", "readCoreV1NodeStatus"),
        ("/api/v1/namespaces/{name}/finalize", "put", "put", "replaceCoreV1NamespaceFinalize"),
        (
            "/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            "post",
            "post",
            "createCoreV1NamespacedServiceAccountToken",
        ),
    ];
    for (path, method, action, id) in expect {
        let op = path_op(core, path, method);
        assert_eq!(op["x-kubernetes-action"], action, "{method} {path}");
        assert_eq!(op["operationId"], id, "{method} {path}");
        assert_eq!(op["tags"], json!(["core_v1"]));
    }
    // Namespaces have no delete-collection.
    assert!(core["paths"]["/api/v1/namespaces"].get("delete").is_none());
    let list = path_op(core, "/api/v1/namespaces/{namespace}/pods", "get");
    for name in ["labelSelector", "fieldSelector", "watch", "limit", "continue", "resourceVersion", "timeoutSeconds"] {
        assert!(param_names(list, "query").contains(&name.to_owned()), "{name}");
    }
    assert_eq!(
        list["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.PodList"
    );
    let item = &core["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"];
    let path_params: Vec<&str> = item["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["in"] == "path")
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(path_params, ["name", "namespace"]);
    // Binding needs its own kind.
    let binding = path_op(core, "/api/v1/namespaces/{namespace}/pods/{name}/binding", "post");
    assert_eq!(binding["x-kubernetes-group-version-kind"], json!({"group": "", "kind": "Binding", "version": "v1"}));

    let apps = doc(builtin(), "apis/apps/v1");
    let scale = path_op(apps, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", "patch");
    assert_eq!(scale["operationId"], "patchAppsV1NamespacedDeploymentScale");
    assert_eq!(
        scale["x-kubernetes-group-version-kind"],
        json!({"group": "autoscaling", "kind": "Scale", "version": "v1"})
    );
    assert!(schema(apps, "io.k8s.api.autoscaling.v1.Scale").is_object());
    let rbac = doc(builtin(), "apis/rbac.authorization.k8s.io/v1");
    let op = path_op(rbac, "/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}", "get");
    assert_eq!(op["operationId"], "readRbacAuthorizationV1ClusterRole");
    assert_eq!(op["tags"], json!(["rbacAuthorization_v1"]));
    // Create-only kinds have only their POST.
    let auth = doc(builtin(), "apis/authentication.k8s.io/v1");
    let paths = auth["paths"].as_object().unwrap();
    let review = &paths["/apis/authentication.k8s.io/v1/tokenreviews"];
    assert!(review.get("post").is_some() && review.get("get").is_none());
    assert!(!paths.contains_key("/apis/authentication.k8s.io/v1/tokenreviews/{name}"));
}

#[test]
fn v3_index_lists_every_group_version() {
    let api = builtin();
    let paths = api.v3_index()["paths"].as_object().unwrap();
    for path in ["api/v1", "apis/apps/v1", "apis/batch/v1", "apis/autoscaling/v2", "api", "apis", "apis/apps"] {
        let url = paths[path]["serverRelativeURL"].as_str().unwrap();
        let doc = api.v3_document(path).unwrap();
        assert_eq!(url, format!("/openapi/v3/{path}?hash={}", doc.hash()));
        assert_eq!(doc.hash().len(), 128);
        assert_eq!(serde_json::from_slice::<Value>(doc.json()).unwrap(), *doc.value());
        assert_eq!(doc.value()["openapi"], "3.0.0");
    }
    assert_eq!(serde_json::from_slice::<Value>(api.v3_index_json()).unwrap(), *api.v3_index());
    assert!(api.v3_document("/api/v1").is_some());
    assert!(api.v3_document("apis/nothing/v1").is_none());
    assert_eq!(api.v3_paths().count(), paths.len());
    let resources = path_op(doc(api, "apis/apps/v1"), "/apis/apps/v1/", "get");
    assert_eq!(resources["operationId"], "getAppsV1APIResources");
}

#[test]
fn every_reference_resolves_within_its_document() {
    let api = OpenApi::build(true, &[cache()]);
    for path in api.v3_paths() {
        let doc = api.v3_document(path).unwrap().value();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut missing = Vec::new();
        super::schemas::for_each_ref(doc, &mut |name| {
            if !schemas.contains_key(name) {
                missing.push(name.to_owned());
            }
        });
        assert!(missing.is_empty(), "{path}: {missing:?}");
    }
    let v2: Value = serde_json::from_slice(api.v2_json()).unwrap();
    let defs = v2["definitions"].as_object().unwrap();
    let mut refs = Vec::new();
    collect_v2_refs(&v2, &mut refs);
    assert!(refs.len() > 100);
    for r in refs {
        let name = r.strip_prefix("#/definitions/").unwrap_or_else(|| panic!("{r}"));
        assert!(defs.contains_key(name), "{name}");
    }
}

fn collect_v2_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(s)) => out.push(s.clone()),
                    _ => collect_v2_refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_v2_refs(x, out)),
        _ => {}
    }
}

#[test]
fn custom_resource_appears_in_its_group_document() {
    let api = OpenApi::build(true, &[cache()]);
    let paths = api.v3_index()["paths"].as_object().unwrap();
    assert!(paths.contains_key("apis/example.org/v1") && paths.contains_key("apis/example.org"));
    assert!(paths.contains_key("api/v1"));
    let d = doc(&api, "apis/example.org/v1");
    let def = schema(d, "org.example.v1.Cache");
    assert_eq!(
        def["x-kubernetes-group-version-kind"],
        json!([{"group": "example.org", "kind": "Cache", "version": "v1"}])
    );
    assert_eq!(def["description"], "A cache cluster.");
    assert_eq!(
        def["properties"]["metadata"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    assert_eq!(def["properties"]["spec"]["properties"]["engine"]["enum"], json!(["valkey", "memcached"]));
    assert!(schema(d, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta").is_object());
    assert!(schema(d, "org.example.v1.CacheList").is_object());

    let patch = path_op(d, "/apis/example.org/v1/namespaces/{namespace}/caches/{name}", "patch");
    assert!(param_names(patch, "query").contains(&"fieldValidation".to_owned()));
    assert!(patch["requestBody"]["content"].get("application/strategic-merge-patch+json").is_none());
    assert_eq!(patch["operationId"], "patchExampleOrgV1NamespacedCache");
    assert_eq!(patch["tags"], json!(["exampleOrg_v1"]));
    path_op(d, "/apis/example.org/v1/namespaces/{namespace}/caches/{name}/status", "put");
    path_op(d, "/apis/example.org/v1/namespaces/{namespace}/caches/{name}/scale", "get");
    path_op(d, "/apis/example.org/v1/caches", "get");
    assert!(
        path_op(d, "/apis/example.org/v1/namespaces/{namespace}/caches", "get")["responses"]["200"]["content"]
            .get("application/vnd.kubernetes.protobuf")
            .is_none()
    );

    // Without built-ins, only the custom group is served.
    let alone = OpenApi::build(false, &[cache()]);
    let index: Vec<&str> = alone.v3_paths().collect();
    assert_eq!(index, ["apis", "apis/example.org", "apis/example.org/v1"]);
    assert!(schema(doc(&alone, "apis/example.org/v1"), "io.k8s.api.autoscaling.v1.Scale").is_object());

    // v2: nullable and free-form values are untyped, int-or-string too.
    let v2: Value = serde_json::from_slice(api.v2_json()).unwrap();
    let spec = &v2["definitions"]["org.example.v1.Cache"]["properties"]["spec"]["properties"];
    assert_eq!(spec["engine"]["type"], "string");
    assert!(spec["replicas"].get("type").is_none());
    assert!(spec["size"].get("anyOf").is_none());
    assert!(spec["options"].get("properties").is_none() && spec["options"].get("type").is_none());
    let consumes = &v2["paths"]["/apis/example.org/v1/namespaces/{namespace}/caches/{name}"]["patch"]["consumes"];
    assert!(!consumes.as_array().unwrap().contains(&json!("application/strategic-merge-patch+json")));
}

#[test]
fn schemaless_custom_resource_is_free_form() {
    let (mut resource, _) = cache();
    resource.subresources.clear();
    let api = OpenApi::build(false, &[(resource, Value::Null)]);
    let def = schema(doc(&api, "apis/example.org/v1"), "org.example.v1.Cache");
    assert_eq!(def["x-kubernetes-preserve-unknown-fields"], true);
    assert!(def["properties"]["metadata"].is_object());
}

/// What kubectl's v2 model (kube-openapi `proto.NewOpenAPIData`) rejects.
fn check_kubectl_v2_rules(path: &str, s: &Value, problems: &mut Vec<String>) {
    let Some(m) = s.as_object() else {
        problems.push(format!("{path}: not an object"));
        return;
    };
    if m.contains_key("$ref") {
        if m.contains_key("type") || m.contains_key("properties") {
            problems.push(format!("{path}: typed reference"));
        }
        return;
    }
    for key in ["anyOf", "oneOf", "not", "nullable"] {
        if m.contains_key(key) {
            problems.push(format!("{path}: {key}"));
        }
    }
    match m.get("type") {
        None => {}
        Some(Value::String(t)) => {
            if !["object", "array", "string", "integer", "number", "boolean"].contains(&t.as_str()) {
                problems.push(format!("{path}: type {t}"));
            }
            if t == "array" && !m.get("items").is_some_and(Value::is_object) {
                problems.push(format!("{path}: array without one item schema"));
            }
        }
        Some(other) => problems.push(format!("{path}: type {other}")),
    }
    if let Some(Value::Object(props)) = m.get("properties") {
        for (k, p) in props {
            check_kubectl_v2_rules(&format!("{path}.{k}"), p, problems);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(v @ Value::Object(_)) = m.get(key) {
            check_kubectl_v2_rules(&format!("{path}/{key}"), v, problems);
        }
    }
}

#[test]
fn v2_document_satisfies_kubectl_models() {
    let api = OpenApi::build(true, &[cache()]);
    let v2: Value = serde_json::from_slice(api.v2_json()).unwrap();
    assert_eq!(v2["swagger"], "2.0");
    let mut problems = Vec::new();
    for (name, def) in v2["definitions"].as_object().unwrap() {
        check_kubectl_v2_rules(name, def, &mut problems);
    }
    assert!(problems.is_empty(), "{problems:#?}");
    let mut ids = HashSet::new();
    for (path, item) in v2["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            let id = op["operationId"].as_str().unwrap();
            assert!(ids.insert(id.to_owned()), "duplicate {id} ({method} {path})");
            for p in op["parameters"].as_array().into_iter().flatten() {
                assert!(p.get("schema").is_none() || p["in"] == "body", "{id}: {p}");
            }
        }
    }
    let patch = &v2["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert!(patch["consumes"].as_array().unwrap().contains(&json!("application/strategic-merge-patch+json")));
    assert_eq!(patch["parameters"][0]["in"], "body");
    assert_eq!(patch["parameters"][0]["schema"]["$ref"], "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch");
    assert_eq!(patch["responses"]["200"]["schema"]["$ref"], "#/definitions/io.k8s.api.apps.v1.Deployment");
    assert_eq!(
        patch["produces"],
        json!(["application/json", "application/vnd.kubernetes.protobuf", "application/yaml"])
    );
    // Strategic-merge keys for kubectl apply.
    let spec = &v2["definitions"]["io.k8s.api.core.v1.PodSpec"]["properties"];
    assert_eq!(spec["containers"]["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(spec["containers"]["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(
        v2["definitions"]["io.k8s.api.core.v1.Pod"]["properties"]["spec"],
        json!({"$ref": "#/definitions/io.k8s.api.core.v1.PodSpec", "description": "Desired state of the pod."})
    );
}

#[test]
fn v2_protobuf_round_trips() {
    let api = OpenApi::build(true, &[cache()]);
    let v2: Value = serde_json::from_slice(api.v2_json()).unwrap();
    // The assembled JSON is exactly what serde_json writes for the document.
    assert!(serde_json::to_vec(&v2).unwrap() == api.v2_json());
    let decoded = proto::Document::decode(api.v2_protobuf()).unwrap();
    assert_eq!(decoded, proto::document(&v2));
    assert_eq!(decoded.swagger, "2.0");
    assert_eq!(decoded.info.as_ref().unwrap().title, "Kubernetes");

    // Kinds: definitions with their group/version/kind (YAML-readable JSON).
    let defs = &decoded.definitions.as_ref().unwrap().additional_properties;
    assert_eq!(defs.len(), v2["definitions"].as_object().unwrap().len());
    let gvk_of = |name: &str| -> Value {
        let def = defs.iter().find(|d| d.name == name).unwrap_or_else(|| panic!("{name}")).value.as_ref().unwrap();
        let ext = def.vendor_extension.iter().find(|e| e.name == "x-kubernetes-group-version-kind").unwrap();
        serde_json::from_str(&ext.value.as_ref().unwrap().yaml).unwrap()
    };
    assert_eq!(gvk_of("io.k8s.api.core.v1.Pod"), json!([{"group": "", "kind": "Pod", "version": "v1"}]));
    assert_eq!(gvk_of("org.example.v1.Cache"), json!([{"group": "example.org", "kind": "Cache", "version": "v1"}]));
    let pod = defs.iter().find(|d| d.name == "io.k8s.api.core.v1.Pod").unwrap().value.as_ref().unwrap();
    assert_eq!(pod.r#type.as_ref().unwrap().value, ["object"]);
    let props = &pod.properties.as_ref().unwrap().additional_properties;
    let spec = props.iter().find(|p| p.name == "spec").unwrap().value.as_ref().unwrap();
    assert_eq!(spec.ref_, "#/definitions/io.k8s.api.core.v1.PodSpec");

    // Paths: kubectl's v2 field-validation check reads the PATCH operation's
    // query parameters and group/version/kind.
    let paths = &decoded.paths.as_ref().unwrap().path;
    assert_eq!(paths.len(), v2["paths"].as_object().unwrap().len());
    let pod_item = paths.iter().find(|p| p.name == "/api/v1/namespaces/{namespace}/pods/{name}").unwrap();
    let patch = pod_item.value.as_ref().unwrap().patch.as_ref().unwrap();
    assert_eq!(patch.operation_id, "patchCoreV1NamespacedPod");
    assert!(patch.consumes.contains(&"application/strategic-merge-patch+json".to_owned()));
    let query: Vec<&str> = patch
        .parameters
        .iter()
        .filter_map(|p| match &p.oneof {
            Some(proto::parameters_item::Oneof::Parameter(proto::Parameter {
                oneof: Some(proto::parameter::Oneof::NonBodyParameter(nb)),
            })) => match &nb.oneof {
                Some(proto::non_body_parameter::Oneof::QueryParameterSubSchema(q)) => Some(q.name.as_str()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert!(query.contains(&"fieldValidation"), "{query:?}");
    let gvk = patch.vendor_extension.iter().find(|e| e.name == "x-kubernetes-group-version-kind").unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&gvk.value.as_ref().unwrap().yaml).unwrap(),
        json!({"group": "", "kind": "Pod", "version": "v1"})
    );
    let body = patch.parameters.iter().find_map(|p| match &p.oneof {
        Some(proto::parameters_item::Oneof::Parameter(proto::Parameter {
            oneof: Some(proto::parameter::Oneof::BodyParameter(b)),
        })) => Some(b),
        _ => None,
    });
    assert_eq!(body.unwrap().schema.as_ref().unwrap().ref_, "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch");
    let security = decoded.security_definitions.as_ref().unwrap();
    assert_eq!(security.additional_properties[0].name, "BearerToken");
}

#[test]
fn explain_can_walk_pods_spec_containers() {
    // What `kubectl explain pods.spec.containers` does with the v3 document:
    // find the kind through the operations of the resource's path, then its
    // definition by group/version/kind, then follow the field path.
    let core = doc(builtin(), "api/v1");
    let gvk = &core["paths"]["/api/v1/namespaces/{namespace}/pods"]["get"]["x-kubernetes-group-version-kind"];
    let schemas = core["components"]["schemas"].as_object().unwrap();
    let (_, pod) = schemas
        .iter()
        .find(|(_, s)| s["x-kubernetes-group-version-kind"].as_array().is_some_and(|l| l.contains(gvk)))
        .unwrap();
    let resolve = |s: &Value| -> Value {
        let r = s.get("$ref").or_else(|| s.pointer("/allOf/0/$ref")).and_then(Value::as_str);
        match r {
            Some(r) => schemas[r.strip_prefix("#/components/schemas/").unwrap()].clone(),
            None => s.clone(),
        }
    };
    let spec = resolve(&pod["properties"]["spec"]);
    let containers = &spec["properties"]["containers"];
    assert_eq!(containers["type"], "array");
    assert!(containers["description"].is_string());
    let container = resolve(&containers["items"]);
    assert!(container["description"].as_str().is_some_and(|d| !d.is_empty()));
    for field in ["name", "image", "command", "env", "ports", "resources"] {
        assert!(container["properties"][field]["description"].is_string(), "{field}");
    }
}

#[test]
fn naming_helpers() {
    assert_eq!(names::custom_package("stable.example.com", "v1"), "com.example.stable.v1");
    assert_eq!(names::builtin_package("", "v1"), "io.k8s.api.core.v1");
    assert_eq!(names::builtin_package("rbac.authorization.k8s.io", "v1"), "io.k8s.api.rbac.v1");
    assert_eq!(names::builtin_package("autoscaling", "v2"), "io.k8s.api.autoscaling.v2");
    assert_eq!(names::group_camel("rbac.authorization.k8s.io"), "RbacAuthorization");
    assert_eq!(names::group_camel("cert-manager.io"), "CertManagerIo");
    assert_eq!(names::tag("", "v1"), "core_v1");
    assert_eq!(names::op_prefix("apiextensions.k8s.io", "v1"), "ApiextensionsV1");
    assert_eq!(names::gv_path("apps", "v1"), "apis/apps/v1");
    assert_eq!(names::strip_collision_suffix("EndpointPort2", |n| n == "EndpointPort"), "EndpointPort");
    assert_eq!(names::strip_collision_suffix("V1", |_| false), "V1");
}

#[test]
fn documents_are_deterministic() {
    let a = OpenApi::build(true, &[cache()]);
    let b = OpenApi::build(true, &[cache()]);
    assert_eq!(a.v2_hash(), b.v2_hash());
    assert_eq!(a.v2_protobuf(), b.v2_protobuf());
    assert_eq!(a.v3_index(), b.v3_index());
    // A change of the served set changes the affected documents only.
    let c = OpenApi::build(true, &[]);
    assert_eq!(a.v3_document("api/v1").unwrap().hash(), c.v3_document("api/v1").unwrap().hash());
    assert_eq!(a.v3_document("apis/apps/v1").unwrap().json(), c.v3_document("apis/apps/v1").unwrap().json());
    assert_ne!(a.v2_hash(), c.v2_hash());
    assert_eq!(a.v2_hash(), super::hash(a.v2_json()));
    assert!(c.v3_document("apis/example.org/v1").is_none());
}

#[test]
fn custom_resource_in_a_builtin_group_version_joins_its_document() {
    let (mut resource, crd_schema) = cache();
    resource.group = "apps".into();
    let api = OpenApi::build(true, &[(resource, crd_schema)]);
    let apps = doc(&api, "apis/apps/v1");
    path_op(apps, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "patch");
    path_op(apps, "/apis/apps/v1/namespaces/{namespace}/caches/{name}", "patch");
    assert!(schema(apps, "apps.v1.Cache").is_object());
    assert!(schema(apps, "io.k8s.api.apps.v1.Deployment").is_object());
    assert_ne!(api.v3_document("apis/apps/v1").unwrap().hash(), builtin().v3_document("apis/apps/v1").unwrap().hash());
}
