use k_api_types::GroupVersionKind;
use serde_json::{Value, json};

use super::meta::testing;
use super::*;

fn meta(group: &str, version: &str, kind: &str) -> PatchMeta {
    PatchMeta::for_kind(&GroupVersionKind::new(group, version, kind)).expect("built-in kind")
}

fn deployment() -> PatchMeta {
    meta("apps", "v1", "Deployment")
}

fn pod() -> PatchMeta {
    meta("", "v1", "Pod")
}

fn apply(original: Value, patch: Value, meta: &PatchMeta) -> Value {
    strategic_merge(&original, &patch, meta).unwrap_or_else(|e| panic!("patch failed: {e}"))
}

fn error(original: Value, patch: Value, meta: &PatchMeta) -> StrategicMergeError {
    strategic_merge(&original, &patch, meta).expect_err("the patch should be refused")
}

fn container_names(pod: &Value) -> Vec<&str> {
    pod["spec"]["containers"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect()
}

// ---- metadata ----

#[test]
fn every_tag_names_a_field_of_the_right_shape() {
    let tagged = testing::tagged_fields();
    assert_eq!(tagged.len(), testing::declared(), "every tagged type must resolve to one definition");
    let definitions = testing::definitions();
    for (type_name, field, strategy, key) in &tagged {
        assert!(definitions.contains_key(type_name), "{type_name} is not a definition");
        let shape = testing::field_shape(type_name, field).unwrap_or_else(|| panic!("{type_name}.{field} is unknown"));
        let expected = match (*strategy, key) {
            ("merge" | "merge,retainKeys", Some(_)) => "list of objects",
            ("merge", None) => "list of scalars",
            ("retainKeys" | "replace", None) => "object",
            other => panic!("unexpected tag {other:?} on {type_name}.{field}"),
        };
        assert_eq!(shape, expected, "{type_name}.{field}");
    }
    // A tagged type whose name was suffixed by a name clash would lose its tags
    // in documents that name it differently: none is.
    for (type_name, ..) in &tagged {
        assert!(!type_name.ends_with(|c: char| c.is_ascii_digit()), "{type_name}");
    }
}

#[test]
fn patch_extensions_report_kubernetes_tags() {
    assert_eq!(patch_extensions("PodSpec", "containers"), Some(("merge", Some("name"))));
    assert_eq!(patch_extensions("PodSpec", "volumes"), Some(("merge,retainKeys", Some("name"))));
    assert_eq!(patch_extensions("Container", "ports"), Some(("merge", Some("containerPort"))));
    assert_eq!(patch_extensions("Container", "volumeMounts"), Some(("merge", Some("mountPath"))));
    assert_eq!(patch_extensions("ObjectMeta", "finalizers"), Some(("merge", None)));
    assert_eq!(patch_extensions("ObjectMeta", "ownerReferences"), Some(("merge", Some("uid"))));
    assert_eq!(patch_extensions("ServiceSpec", "ports"), Some(("merge", Some("port"))));
    assert_eq!(patch_extensions("NodeStatus", "addresses"), Some(("merge", Some("type"))));
    assert_eq!(patch_extensions("DeploymentSpec", "strategy"), Some(("retainKeys", None)));
    assert_eq!(patch_extensions("PodDisruptionBudgetSpec", "selector"), Some(("replace", None)));
    // Lists Kubernetes does not tag are replaced.
    assert_eq!(patch_extensions("PodSpec", "tolerations"), None);
    assert_eq!(patch_extensions("Container", "args"), None);
    assert_eq!(patch_extensions("NoSuchType", "containers"), None);
}

#[test]
fn metadata_exists_for_built_in_kinds_only() {
    for (group, kind) in [("", "Pod"), ("", "Service"), ("", "Node"), ("apps", "Deployment"), ("batch", "CronJob")] {
        assert!(PatchMeta::for_kind(&GroupVersionKind::new(group, "v1", kind)).is_some(), "{kind}");
    }
    assert!(PatchMeta::for_kind(&GroupVersionKind::new("example.org", "v1", "Widget")).is_none());
    assert!(PatchMeta::for_kind(&GroupVersionKind::new("apps", "v1beta1", "Deployment")).is_none());
    assert_eq!(format!("{:?}", deployment()), "PatchMeta { type: \"Deployment\", .. }");
}

#[test]
fn nested_types_carry_their_tags_everywhere() {
    let d = deployment();
    assert_eq!(d.field_tags(&["spec", "template", "spec", "containers"]), Some(("merge", Some("name"))));
    assert_eq!(d.field_tags(&["spec", "template", "spec", "containers", "env"]), Some(("merge", Some("name"))));
    assert_eq!(
        d.field_tags(&["spec", "template", "spec", "initContainers", "ports"]),
        Some(("merge", Some("containerPort")))
    );
    assert_eq!(d.field_tags(&["metadata", "finalizers"]), Some(("merge", None)));
    assert_eq!(d.field_tags(&["spec", "template", "metadata", "ownerReferences"]), Some(("merge", Some("uid"))));
    assert_eq!(d.field_tags(&["spec", "strategy"]), Some(("retainKeys", None)));
    assert_eq!(d.field_tags(&["spec", "template", "spec", "tolerations"]), None);
    assert_eq!(d.field_tags(&["spec", "nope", "containers"]), None);
    let cron = meta("batch", "v1", "CronJob");
    let path = ["spec", "jobTemplate", "spec", "template", "spec", "containers", "volumeMounts"];
    assert_eq!(cron.field_tags(&path), Some(("merge", Some("mountPath"))));
    let crd = meta("apiextensions.k8s.io", "v1", "CustomResourceDefinition");
    let path = ["spec", "versions", "schema", "openAPIV3Schema", "properties", "spec", "x-kubernetes-validations"];
    assert_eq!(crd.field_tags(&path), Some(("merge", Some("rule"))));
}

// ---- kubectl apply ----

fn live_deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": "3f1c",
            "resourceVersion": "41",
            "generation": 3,
            "annotations": {
                "deployment.kubernetes.io/revision": "2",
                "kubectl.kubernetes.io/last-applied-configuration": "{\"old\":true}\n"
            },
            "labels": {"app": "web"}
        },
        "spec": {
            "replicas": 2,
            "minReadySeconds": 5,
            "progressDeadlineSeconds": 600,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{
                        "name": "web",
                        "image": "nginx:1.25",
                        "env": [{"name": "MODE", "value": "prod"}, {"name": "DEBUG", "value": "1"}],
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        "imagePullPolicy": "IfNotPresent",
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File",
                        "resources": {}
                    }],
                    "dnsPolicy": "ClusterFirst",
                    "restartPolicy": "Always",
                    "schedulerName": "default-scheduler",
                    "securityContext": {},
                    "terminationGracePeriodSeconds": 30
                }
            }
        },
        "status": {"replicas": 2, "readyReplicas": 2, "observedGeneration": 3}
    })
}

#[test]
fn kubectl_apply_removes_an_env_var_and_a_dropped_field() {
    // The last applied configuration had `minReadySeconds: 5` and env vars MODE
    // and DEBUG; the new one drops both DEBUG and minReadySeconds and bumps the
    // image. This is the patch `kubectl apply` computes for that.
    let patch = json!({
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"new\":true}\n"}},
        "spec": {
            "minReadySeconds": null,
            "template": {"spec": {
                "$setElementOrder/containers": [{"name": "web"}],
                "containers": [{
                    "$setElementOrder/env": [{"name": "MODE"}],
                    "env": [{"$patch": "delete", "name": "DEBUG"}],
                    "image": "nginx:1.26",
                    "name": "web"
                }]
            }}
        }
    });
    let mut expected = live_deployment();
    expected["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = json!("{\"new\":true}\n");
    expected["spec"].as_object_mut().unwrap().remove("minReadySeconds");
    let container = &mut expected["spec"]["template"]["spec"]["containers"][0];
    container["image"] = json!("nginx:1.26");
    container["env"] = json!([{"name": "MODE", "value": "prod"}]);
    assert_eq!(apply(live_deployment(), patch, &deployment()), expected);
}

#[test]
fn kubectl_apply_adds_a_container_and_replaces_a_port() {
    // New configuration: a `log` sidecar after `web`, and `web` listening on
    // 8080 instead of 80.
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "web"}, {"name": "log"}],
        "containers": [
            {
                "$setElementOrder/ports": [{"containerPort": 8080}],
                "name": "web",
                "ports": [{"containerPort": 8080}, {"$patch": "delete", "containerPort": 80}]
            },
            {"image": "busybox", "name": "log", "args": ["tail", "-f", "/var/log/app.log"]}
        ]
    }}}});
    let result = apply(live_deployment(), patch, &deployment());
    let spec = &result["spec"]["template"]["spec"];
    assert_eq!(container_names(&result["spec"]["template"]), ["web", "log"]);
    assert_eq!(spec["containers"][0]["ports"], json!([{"containerPort": 8080}]));
    assert_eq!(spec["containers"][0]["env"], live_deployment()["spec"]["template"]["spec"]["containers"][0]["env"]);
    assert_eq!(
        spec["containers"][1],
        json!({"name": "log", "image": "busybox", "args": ["tail", "-f", "/var/log/app.log"]})
    );
}

#[test]
fn kubectl_apply_switches_the_deployment_strategy_with_retain_keys() {
    let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": null, "type": "Recreate"}}});
    let result = apply(live_deployment(), patch, &deployment());
    assert_eq!(result["spec"]["strategy"], json!({"type": "Recreate"}));
    // And back: the server's own keys the new configuration does not list go.
    let mut live = live_deployment();
    live["spec"]["strategy"] = json!({"type": "Recreate", "other": 1});
    let patch = json!({"spec": {"strategy": {
        "$retainKeys": ["rollingUpdate", "type"],
        "rollingUpdate": {"maxSurge": 1},
        "type": "RollingUpdate"
    }}});
    let result = apply(live, patch, &deployment());
    assert_eq!(result["spec"]["strategy"], json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}));
}

#[test]
fn kubectl_apply_changes_a_volume_source_with_retain_keys() {
    let live = json!({"metadata": {"name": "p"}, "spec": {
        "containers": [{"name": "app", "image": "app"}],
        "volumes": [
            {"name": "cache", "emptyDir": {}},
            {"name": "data", "emptyDir": {"medium": "Memory"}}
        ]
    }});
    let patch = json!({"spec": {
        "$setElementOrder/volumes": [{"name": "cache"}, {"name": "data"}],
        "volumes": [{"$retainKeys": ["configMap", "name"], "configMap": {"name": "settings"}, "emptyDir": null, "name": "data"}]
    }});
    let result = apply(live, patch, &pod());
    assert_eq!(
        result["spec"]["volumes"],
        json!([{"name": "cache", "emptyDir": {}}, {"name": "data", "configMap": {"name": "settings"}}])
    );
}

#[test]
fn kubectl_apply_finalizers_keep_the_servers_own() {
    // Last applied [a, b]; new configuration [a, d]; the live object also has
    // `c`, added by a controller.
    let live = json!({"metadata": {"name": "x", "finalizers": ["a", "b", "c"]}});
    let patch = json!({"metadata": {
        "$deleteFromPrimitiveList/finalizers": ["b"],
        "$setElementOrder/finalizers": ["a", "d"],
        "finalizers": ["d"]
    }});
    let result = apply(live, patch, &meta("", "v1", "ConfigMap"));
    assert_eq!(result["metadata"]["finalizers"], json!(["a", "d", "c"]));
}

#[test]
fn kubectl_apply_removes_a_container_and_switches_an_env_source() {
    let mut live = live_deployment();
    live["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "log", "image": "busybox", "terminationMessagePath": "/dev/termination-log"}));
    // New configuration: no `log` container; MODE read from a ConfigMap.
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "web"}],
        "containers": [
            {
                "$setElementOrder/env": [{"name": "MODE"}, {"name": "DEBUG"}],
                "env": [{"name": "MODE", "value": null, "valueFrom": {"configMapKeyRef": {"key": "mode", "name": "web"}}}],
                "name": "web"
            },
            {"$patch": "delete", "name": "log"}
        ]
    }}}});
    let result = apply(live, patch, &deployment());
    assert_eq!(container_names(&result["spec"]["template"]), ["web"]);
    assert_eq!(
        result["spec"]["template"]["spec"]["containers"][0]["env"],
        json!([
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"key": "mode", "name": "web"}}},
            {"name": "DEBUG", "value": "1"}
        ])
    );
}

#[test]
fn kubectl_apply_replaces_a_container_beside_an_injected_sidecar() {
    // Last applied [a, b], new configuration [a, c]; a webhook added
    // `istio-proxy` between them. Kubernetes orders the result against the
    // live list as its merge left it in place (b's slot taken by c), which
    // puts the sidecar before c (kubectl 1.32 gives the same).
    let live = json!({"spec": {"containers": [{"name": "a"}, {"name": "istio-proxy"}, {"name": "b"}]}});
    let patch = json!({"spec": {
        "$setElementOrder/containers": [{"name": "a"}, {"name": "c"}],
        "containers": [{"name": "c", "image": "c"}, {"$patch": "delete", "name": "b"}]
    }});
    assert_eq!(container_names(&apply(live, patch, &pod())), ["a", "istio-proxy", "c"]);
}

// ---- kubectl patch / label / annotate / scale ----

#[test]
fn kubectl_label_and_annotate() {
    let live = live_deployment();
    // `kubectl label deploy web tier=frontend app-`
    let result = apply(live.clone(), json!({"metadata": {"labels": {"tier": "frontend", "app": null}}}), &deployment());
    assert_eq!(result["metadata"]["labels"], json!({"tier": "frontend"}));
    assert_eq!(result["spec"], live["spec"]);
    // `kubectl annotate deploy web note='hello world'`
    let result = apply(live.clone(), json!({"metadata": {"annotations": {"note": "hello world"}}}), &deployment());
    assert_eq!(result["metadata"]["annotations"]["note"], "hello world");
    assert_eq!(result["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2");
    // A label on an object without labels.
    let result = apply(json!({"metadata": {"name": "x"}}), json!({"metadata": {"labels": {"a": "b"}}}), &pod());
    assert_eq!(result, json!({"metadata": {"name": "x", "labels": {"a": "b"}}}));
}

#[test]
fn kubectl_scale() {
    let result = apply(live_deployment(), json!({"spec": {"replicas": 5}}), &deployment());
    assert_eq!(result["spec"]["replicas"], 5);
    assert_eq!(result["status"], live_deployment()["status"]);
    // The `scale` subresource's body.
    let scale = meta("autoscaling", "v1", "Scale");
    let live = json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web"},
        "spec": {"replicas": 2}, "status": {"replicas": 2, "selector": "app=web"}});
    let result = apply(live, json!({"spec": {"replicas": 0}}), &scale);
    assert_eq!(result["spec"], json!({"replicas": 0}));
    assert_eq!(result["status"]["selector"], "app=web");
}

#[test]
fn kubectl_patch_merges_containers_by_name() {
    let live = json!({"spec": {"containers": [
        {"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]},
        {"name": "log", "image": "busybox:1"}
    ]}});
    // Change one container's image; the other containers stay.
    let patch = json!({"spec": {"containers": [{"name": "log", "image": "busybox:2"}]}});
    let result = apply(live.clone(), patch, &pod());
    assert_eq!(
        result["spec"]["containers"],
        json!([
            {"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]},
            {"name": "log", "image": "busybox:2"}
        ])
    );
    // A new container comes first, as Kubernetes orders a merged list without
    // `$setElementOrder`: patch items the object lacks precede its own.
    let patch = json!({"spec": {"containers": [{"name": "debug", "image": "alpine"}]}});
    assert_eq!(container_names(&apply(live.clone(), patch, &pod())), ["debug", "web", "log"]);
    // Patch items take the patch's order relative to one another.
    let patch = json!({"spec": {"containers": [{"name": "log", "tty": true}, {"name": "web", "tty": true}]}});
    let result = apply(live, patch, &pod());
    assert_eq!(container_names(&result), ["log", "web"]);
    assert_eq!(result["spec"]["containers"][1]["image"], "nginx:1.25");
}

#[test]
fn merged_list_order_follows_kubernetes() {
    let live = json!({"spec": {"containers": [{"name": "a"}, {"name": "b", "image": "b"}, {"name": "c"}]}});
    let patch = json!({"spec": {"containers": [{"name": "c", "image": "c"}, {"name": "a", "image": "a"}]}});
    let result = apply(live, patch, &pod());
    assert_eq!(
        result["spec"]["containers"],
        json!([{"name": "b", "image": "b"}, {"name": "c", "image": "c"}, {"name": "a", "image": "a"}])
    );
}

#[test]
fn ports_merge_by_container_port() {
    let live = json!({"spec": {"containers": [{"name": "web", "ports": [
        {"containerPort": 80, "protocol": "TCP"},
        {"containerPort": 443, "protocol": "TCP"}
    ]}]}});
    let patch = json!({"spec": {"containers": [{"name": "web", "ports": [
        {"containerPort": 443.0, "name": "https"},
        {"containerPort": 9090, "name": "metrics"}
    ]}]}});
    let result = apply(live, patch, &pod());
    // 443.0 is 443: the port is merged, not added. Items of the object that
    // come before the patch's keep their place.
    assert_eq!(
        result["spec"]["containers"][0]["ports"],
        json!([
            {"containerPort": 80, "protocol": "TCP"},
            {"containerPort": 443.0, "protocol": "TCP", "name": "https"},
            {"containerPort": 9090, "name": "metrics"}
        ])
    );
}

#[test]
fn service_ports_merge_by_port() {
    let svc = meta("", "v1", "Service");
    let live = json!({"spec": {"type": "ClusterIP", "ports": [
        {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}
    ]}});
    let patch = json!({"spec": {
        "$setElementOrder/ports": [{"port": 80}, {"port": 443}],
        "ports": [{"port": 80, "targetPort": 8081}, {"name": "https", "port": 443, "targetPort": 8443}]
    }});
    assert_eq!(
        apply(live, patch, &svc)["spec"]["ports"],
        json!([
            {"name": "http", "port": 80, "targetPort": 8081, "protocol": "TCP"},
            {"name": "https", "port": 443, "targetPort": 8443}
        ])
    );
}

#[test]
fn finalizers_are_a_set() {
    let cm = meta("", "v1", "ConfigMap");
    let live = json!({"metadata": {"name": "x", "finalizers": ["a", "b"]}});
    let result = apply(live.clone(), json!({"metadata": {"finalizers": ["b", "c"]}}), &cm);
    assert_eq!(result["metadata"]["finalizers"], json!(["a", "b", "c"]));
    let result = apply(live.clone(), json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a", "zz"]}}), &cm);
    assert_eq!(result["metadata"]["finalizers"], json!(["b"]));
    // `null` drops the whole list, the way to clear finalizers.
    let result = apply(live, json!({"metadata": {"finalizers": null}}), &cm);
    assert_eq!(result["metadata"], json!({"name": "x"}));
}

#[test]
fn set_element_order_reorders_and_keeps_server_items_in_place() {
    // The object has `istio-proxy`, injected by a webhook, which the
    // configuration does not name: it goes before the first named item that
    // came after it.
    let live = json!({"spec": {"containers": [{"name": "app"}, {"name": "istio-proxy"}, {"name": "log"}]}});
    let patch = json!({"spec": {"$setElementOrder/containers": [{"name": "log"}, {"name": "app"}]}});
    assert_eq!(container_names(&apply(live.clone(), patch, &pod())), ["istio-proxy", "log", "app"]);
    let patch = json!({"spec": {"$setElementOrder/containers": [{"name": "app"}, {"name": "log"}]}});
    assert_eq!(container_names(&apply(live, patch, &pod())), ["app", "istio-proxy", "log"]);
    // Scalars, with an item the list lacks.
    let live = json!({"metadata": {"finalizers": ["a", "c"]}});
    let patch = json!({"metadata": {"$setElementOrder/finalizers": ["c", "b", "a"]}});
    assert_eq!(apply(live, patch, &pod())["metadata"]["finalizers"], json!(["c", "a"]));
}

#[test]
fn patch_replace_and_delete_directives() {
    let live = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"containers": [
        {"name": "web", "image": "nginx", "env": [{"name": "A", "value": "1"}]},
        {"name": "log", "image": "busybox"}
    ]}});
    // `$patch: replace` in a list: the patch list is the list.
    let patch = json!({"spec": {"containers": [{"name": "only", "image": "x"}, {"$patch": "replace"}]}});
    assert_eq!(apply(live.clone(), patch, &pod())["spec"]["containers"], json!([{"name": "only", "image": "x"}]));
    // ... and with nothing else, empties it.
    let patch = json!({"spec": {"containers": [{"$patch": "replace"}]}});
    assert_eq!(apply(live.clone(), patch, &pod())["spec"]["containers"], json!([]));
    // `$patch: replace` in a map.
    let patch = json!({"metadata": {"labels": {"$patch": "replace", "c": "3"}}});
    assert_eq!(apply(live.clone(), patch, &pod())["metadata"]["labels"], json!({"c": "3"}));
    // An item carrying `$patch: replace` is a marker too: it is not kept.
    let patch = json!({"spec": {"containers": [{"name": "web", "image": "x", "$patch": "replace"}]}});
    assert_eq!(apply(live.clone(), patch, &pod())["spec"]["containers"], json!([]));
    // `$patch: delete` of a list item, by merge key.
    let patch = json!({"spec": {"containers": [{"name": "web", "$patch": "delete"}]}});
    assert_eq!(container_names(&apply(live.clone(), patch, &pod())), ["log"]);
    // `$patch: delete` of a map empties it (Kubernetes keeps the key).
    let patch = json!({"metadata": {"labels": {"$patch": "delete"}}});
    assert_eq!(apply(live.clone(), patch, &pod())["metadata"]["labels"], json!({}));
    // ... and a map the object lacks stays absent.
    let patch = json!({"metadata": {"annotations": {"$patch": "delete"}}});
    assert!(apply(live, patch, &pod())["metadata"].get("annotations").is_none());
}

#[test]
fn patch_delete_removes_every_matching_item() {
    let live = json!({"spec": {"containers": [{"name": "web", "env": [
        {"name": "A", "value": "1"},
        {"name": "A", "value": "again"},
        {"name": "B", "value": "2"}
    ]}]}});
    let patch = json!({"spec": {"containers": [{"name": "web", "env": [{"name": "A", "$patch": "delete"}]}]}});
    assert_eq!(apply(live, patch, &pod())["spec"]["containers"][0]["env"], json!([{"name": "B", "value": "2"}]));
}

#[test]
fn replace_strategy_replaces_the_selector() {
    let pdb = meta("policy", "v1", "PodDisruptionBudget");
    let live = json!({"spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web", "tier": "fe"}}}});
    let patch = json!({"spec": {"selector": {"matchLabels": {"app": "api"}}}});
    assert_eq!(
        apply(live, patch, &pdb)["spec"],
        json!({"minAvailable": 1, "selector": {"matchLabels": {"app": "api"}}})
    );
    // Elsewhere, selectors merge.
    let live = json!({"spec": {"selector": {"matchLabels": {"app": "web", "tier": "fe"}}}});
    let patch = json!({"spec": {"selector": {"matchLabels": {"app": "api"}}}});
    assert_eq!(
        apply(live, patch, &deployment())["spec"]["selector"],
        json!({"matchLabels": {"app": "api", "tier": "fe"}})
    );
}

#[test]
fn untagged_lists_are_replaced() {
    let live = json!({"spec": {
        "tolerations": [{"key": "a", "operator": "Exists"}],
        "containers": [{"name": "web", "args": ["--a", "--b"], "command": ["run"]}]
    }});
    let patch = json!({"spec": {
        "tolerations": [{"key": "b", "operator": "Exists", "effect": null}],
        "containers": [{"name": "web", "args": ["--c"]}]
    }});
    let result = apply(live, patch, &pod());
    assert_eq!(result["spec"]["tolerations"], json!([{"key": "b", "operator": "Exists"}]));
    assert_eq!(result["spec"]["containers"], json!([{"name": "web", "args": ["--c"], "command": ["run"]}]));
}

#[test]
fn status_conditions_merge_by_type() {
    let node = meta("", "v1", "Node");
    let live = json!({"status": {
        "addresses": [{"type": "InternalIP", "address": "10.0.0.4"}, {"type": "Hostname", "address": "n1"}],
        "conditions": [
            {"type": "MemoryPressure", "status": "False"},
            {"type": "Ready", "status": "True", "reason": "KubeletReady"}
        ]
    }});
    // The shape of a kubelet's node status patch.
    let patch = json!({"status": {
        "$setElementOrder/conditions": [{"type": "MemoryPressure"}, {"type": "Ready"}],
        "conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady"}]
    }});
    let result = apply(live.clone(), patch, &node);
    assert_eq!(
        result["status"]["conditions"],
        json!([
            {"type": "MemoryPressure", "status": "False"},
            {"type": "Ready", "status": "False", "reason": "KubeletNotReady"}
        ])
    );
    assert_eq!(result["status"]["addresses"], live["status"]["addresses"]);
    let patch = json!({"status": {"addresses": [{"type": "ExternalIP", "address": "1.2.3.4"}]}});
    let addresses = &apply(live, patch, &node)["status"]["addresses"];
    assert_eq!(addresses.as_array().unwrap().len(), 3);
}

#[test]
fn owner_references_merge_by_uid() {
    let live = json!({"metadata": {"ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "u1", "controller": true}
    ]}});
    let patch = json!({"metadata": {"ownerReferences": [
        {"uid": "u1", "blockOwnerDeletion": true},
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "u2"}
    ]}});
    let refs = apply(live, patch, &pod())["metadata"]["ownerReferences"].clone();
    assert_eq!(refs[0]["uid"], "u1");
    assert_eq!(refs[0]["blockOwnerDeletion"], true);
    assert_eq!(refs[0]["controller"], true);
    assert_eq!(refs[1]["uid"], "u2");
}

#[test]
fn recursive_schemas_merge_deep_lists() {
    let crd = meta("apiextensions.k8s.io", "v1", "CustomResourceDefinition");
    let schema = |validations: Value| {
        json!({"spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": {
            "type": "object",
            "properties": {"spec": {"type": "object", "x-kubernetes-validations": validations}}
        }}}]}})
    };
    let live = schema(json!([{"rule": "self.a > 0"}, {"rule": "self.b > 0", "message": "b"}]));
    let patch = json!({"spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": {"properties": {"spec": {
        "x-kubernetes-validations": [{"rule": "self.b > 0", "message": "positive b"}]
    }}}}}]}});
    // `versions` is not merged by key (Kubernetes does not tag it): it is replaced.
    let result = apply(live.clone(), patch, &crd);
    let validations =
        &result["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["x-kubernetes-validations"];
    assert_eq!(validations, &json!([{"rule": "self.b > 0", "message": "positive b"}]));
    let patch = json!({"spec": {"versions": null}});
    assert!(apply(live.clone(), patch, &crd)["spec"].get("versions").is_none());
}

#[test]
fn unknown_fields_merge_as_json_merge_patch() {
    let live = json!({"metadata": {"name": "x"}, "spec": {"containers": [{"name": "web"}]}});
    let patch = json!({"spec": {"extra": {"list": [1, 2], "map": {"a": 1, "gone": null}}}, "other": [{"name": "z"}]});
    let result = apply(live.clone(), patch, &pod());
    assert_eq!(result["spec"]["extra"], json!({"list": [1, 2], "map": {"a": 1}}));
    assert_eq!(result["other"], json!([{"name": "z"}]));
    let patch = json!({"spec": {"extra": {"list": [3], "map": {"a": null, "b": 2}}}});
    let result = apply(result, patch, &pod());
    assert_eq!(result["spec"]["extra"], json!({"list": [3], "map": {"b": 2}}));
    assert_eq!(result["spec"]["containers"], live["spec"]["containers"]);
}

#[test]
fn directives_never_reach_the_result() {
    // A pod without volumes or init containers receives lists with
    // directives, and a new container with nested directives.
    let live = json!({"spec": {"containers": [{"name": "web", "image": "nginx"}]}});
    let patch = json!({"spec": {
        "$setElementOrder/initContainers": [{"name": "b"}, {"name": "a"}],
        "initContainers": [{"name": "b", "image": "b"}, {"name": "a", "image": "a"}, {"name": "c", "$patch": "delete"}],
        "volumes": [{"name": "gone", "$patch": "delete"}, {"name": "v", "emptyDir": {}, "secret": null}],
        "containers": [{
            "name": "new",
            "image": "x",
            "$setElementOrder/env": [{"name": "A"}],
            "env": [{"name": "A", "value": "1"}, {"name": "Z", "$patch": "delete"}],
            "$deleteFromPrimitiveList/args": ["x"],
            "securityContext": {"$retainKeys": ["runAsUser"], "runAsUser": 1000}
        }],
        "affinity": {"$patch": "replace", "nodeAffinity": {"x": 1}}
    }});
    let result = apply(live, patch, &pod());
    assert_eq!(
        result,
        json!({"spec": {
            "initContainers": [{"name": "b", "image": "b"}, {"name": "a", "image": "a"}],
            "volumes": [{"name": "v", "emptyDir": {}}],
            "containers": [
                {"name": "new", "image": "x", "env": [{"name": "A", "value": "1"}], "securityContext": {"runAsUser": 1000}},
                {"name": "web", "image": "nginx"}
            ],
            "affinity": {"nodeAffinity": {"x": 1}}
        }})
    );
    assert!(!result.to_string().contains('$'));
}

#[test]
fn top_level_directives() {
    let live = json!({"metadata": {"name": "x"}, "data": {"a": "1"}});
    let cm = meta("", "v1", "ConfigMap");
    assert_eq!(apply(live.clone(), json!({"$patch": "replace", "data": {"b": "2"}}), &cm), json!({"data": {"b": "2"}}));
    assert_eq!(apply(live.clone(), json!({"$patch": "delete"}), &cm), json!({}));
    assert_eq!(apply(live.clone(), json!({}), &cm), live);
    assert_eq!(apply(live, json!({"data": {"a": null}}), &cm), json!({"metadata": {"name": "x"}, "data": {}}));
}

#[test]
fn type_changes_replace_the_value() {
    let live = json!({"spec": {"containers": [{"name": "web", "ports": [{"containerPort": 80}]}]}});
    let patch = json!({"spec": {"containers": [{"name": "web", "ports": {"weird": true}}]}});
    assert_eq!(apply(live, patch, &pod())["spec"]["containers"][0]["ports"], json!({"weird": true}));
}

// ---- malformed patches ----

#[test]
fn malformed_patches_are_refused() {
    let live = json!({"metadata": {"name": "x", "labels": {"a": "1"}, "finalizers": ["f"]}, "spec": {
        "containers": [{"name": "web", "env": [{"name": "A"}]}],
        "volumes": [{"name": "v", "emptyDir": {}}]
    }});
    let p = pod();
    let cases: Vec<(Value, &str)> = vec![
        (json!({"metadata": {"labels": {"$patch": "explode"}}}), "metadata.labels: unknown patch type: \"explode\""),
        (json!({"metadata": {"labels": {"$patch": "merge"}}}), "metadata.labels: unknown patch type: \"merge\""),
        (
            json!({"spec": {"containers": [{"name": "web", "$patch": "merge"}]}}),
            "spec.containers[0]: merging lists cannot yet be specified in the patch",
        ),
        (
            json!({"spec": {"containers": [{"image": "x"}]}}),
            "spec.containers[0]: map {\"image\":\"x\"} does not contain declared merge key: name",
        ),
        (
            json!({"spec": {"containers": [{"$patch": "delete"}]}}),
            "spec.containers[0]: map {\"$patch\":\"delete\"} does not contain declared merge key: name",
        ),
        (
            json!({"spec": {"volumes": [{"name": "v", "$retainKeys": "name"}]}}),
            "spec.volumes[0]: invalid patch format of $retainKeys: not a list",
        ),
        (
            json!({"spec": {"volumes": [{"name": "v", "$retainKeys": ["name"], "secret": {}}]}}),
            "spec.volumes[0]: invalid patch format of $retainKeys: the patch sets \"secret\", which is not listed",
        ),
        (
            json!({"spec": {"$setElementOrder/containers": [{"name": "a"}], "containers": [{"name": "web"}]}}),
            "spec.containers: the order in the patch list doesn't match the $setElementOrder list",
        ),
        (
            json!({"spec": {"$setElementOrder/containers": [{"name": "web"}, {"name": "a"}], "containers": [{"name": "a"}, {"name": "web"}]}}),
            "spec.containers: the order in the patch list doesn't match the $setElementOrder list",
        ),
        (
            json!({"spec": {"$setElementOrder/containers": {"name": "web"}}}),
            "spec: invalid patch format of $setElementOrder/containers: not a list",
        ),
        (
            json!({"spec": {"$setElementOrderX/containers": []}}),
            "spec: invalid patch format of $setElementOrderX/containers: expected $setElementOrder/<field>",
        ),
        (
            json!({"metadata": {"$deleteFromPrimitiveList": ["f"]}}),
            "metadata: invalid patch format of $deleteFromPrimitiveList: expected $deleteFromPrimitiveList/<field>",
        ),
        (
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "f"}}),
            "metadata: invalid patch format of $deleteFromPrimitiveList/finalizers: not a list",
        ),
        (json!({"metadata": {"finalizers": [["f"]]}}), "metadata.finalizers: lists of lists are not supported"),
        (json!({"metadata": {"finalizers": [1]}}), "metadata.finalizers: list element types are not identical"),
        (
            json!({"metadata": {"finalizers": [{"name": "f"}]}}),
            "metadata.finalizers: list element types are not identical",
        ),
        (json!({"spec": {"containers": ["web"]}}), "spec.containers: list element types are not identical"),
    ];
    for (patch, message) in cases {
        assert_eq!(error(live.clone(), patch.clone(), &p).to_string(), message, "{patch}");
    }
    // Kubernetes cannot order a list that has no items at all.
    let patch =
        json!({"spec": {"containers": [{"name": "web", "volumeMounts": [], "$setElementOrder/volumeMounts": []}]}});
    assert_eq!(
        error(live.clone(), patch, &p).to_string(),
        "spec.containers[0].volumeMounts: no elements in any of the given slices"
    );
    // A list removed while its order is set is contradictory.
    assert_eq!(
        error(
            live.clone(),
            json!({"spec": {"$setElementOrder/containers": [{"name": "web"}], "containers": null}}),
            &p
        )
        .to_string(),
        "spec: invalid patch format of $setElementOrder/containers: the patch's field is not a list"
    );
    assert_eq!(
        error(live.clone(), json!({"$patch": "merge"}), &p).to_string(),
        "<root>: unknown patch type: \"merge\""
    );
    assert_eq!(error(live.clone(), json!([]), &p), StrategicMergeError::NotAnObject { what: "patch" });
    assert_eq!(error(json!("x"), json!({}), &p), StrategicMergeError::NotAnObject { what: "object" });
    assert_eq!(
        error(
            json!({"metadata": {"finalizers": [{"name": "f"}]}}),
            json!({"metadata": {"finalizers": [{"name": "g"}]}}),
            &p
        ),
        StrategicMergeError::NoMergeKey { path: "metadata.finalizers".into() }
    );
}

#[test]
fn dollar_fields_that_are_not_directives_are_data() {
    // JSONSchemaProps has `$ref` and `$schema` fields.
    let crd = meta("apiextensions.k8s.io", "v1", "CustomResourceDefinition");
    let live = json!({"spec": {"group": "example.org"}});
    let patch = json!({"spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": {"$schema": "x", "type": "object"}}}]}});
    let result = apply(live, patch, &crd);
    assert_eq!(result["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["$schema"], "x");
}
