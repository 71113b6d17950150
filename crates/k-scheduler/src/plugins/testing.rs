//! Builders for plugin tests.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::framework::{NodeInfo, PodInfo};

/// A pod named `name` in `default` with `spec` (containers default to one).
pub(crate) fn pod(name: &str, spec: Value) -> PodInfo {
    let mut spec = spec;
    if spec.get("containers").is_none() {
        spec["containers"] = json!([{"name": "c", "image": "busybox"}]);
    }
    let pod = serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default"}, "spec": spec}))
        .expect("a pod");
    PodInfo::new(Arc::new(pod))
}

/// A pod whose containers request `requests` each (one container per entry).
pub(crate) fn pod_requesting(name: &str, requests: &[Value]) -> PodInfo {
    let containers: Vec<Value> = requests
        .iter()
        .enumerate()
        .map(|(i, r)| json!({"name": format!("c{i}"), "image": "busybox", "resources": {"requests": r}}))
        .collect();
    pod(name, json!({"containers": containers}))
}

/// A node named `name` with `allocatable` and the rest of `node` merged in.
pub(crate) fn node(name: &str, allocatable: Value, extra: Value) -> NodeInfo {
    let mut node = json!({"metadata": {"name": name}, "status": {"allocatable": allocatable}});
    if let Some(spec) = extra.get("spec") {
        node["spec"] = spec.clone();
    }
    if let Some(labels) = extra.get("labels") {
        node["metadata"]["labels"] = labels.clone();
    }
    if let Some(images) = extra.get("images") {
        node["status"]["images"] = images.clone();
    }
    NodeInfo::new(Arc::new(serde_json::from_value(node).expect("a node")))
}

/// `node` with `pods` placed on it.
pub(crate) fn with_pods(mut node: NodeInfo, pods: Vec<PodInfo>) -> NodeInfo {
    for p in pods {
        node.add_pod(Arc::new(p));
    }
    node
}
