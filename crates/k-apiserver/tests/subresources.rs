//! pods/binding, pods/eviction (with PodDisruptionBudgets), pods/log, and
//! the top-level bindings resource, over HTTP requests to the service.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use k_apiserver::{ApiServer, ServerConfig};
use k_store::Store;
use serde_json::{Value, json};

async fn call(s: &ApiServer, method: Method, path: &str, body: Value) -> (u16, Value) {
    let body = if body.is_null() { Bytes::new() } else { Bytes::from(body.to_string()) };
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(Full::new(body))
        .unwrap();
    let resp = s.handle(req).await;
    let code = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn pod(name: &str, labels: Value) -> Value {
    json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":name,"labels":labels},
           "spec":{"containers":[{"name":"c","image":"busybox"}]}})
}

const PODS: &str = "/api/v1/namespaces/default/pods";

#[tokio::test]
async fn binding_assigns_a_node_once() {
    let s = ApiServer::new(Arc::new(Store::in_memory()), ServerConfig::default());
    assert_eq!(call(&s, Method::POST, PODS, pod("p", json!({}))).await.0, 201);
    let binding =
        json!({"apiVersion":"v1","kind":"Binding","metadata":{"name":"p"},"target":{"kind":"Node","name":"n1"}});
    let (code, body) = call(&s, Method::POST, &format!("{PODS}/p/binding"), binding.clone()).await;
    assert_eq!(code, 201, "{body}");
    let (_, got) = call(&s, Method::GET, &format!("{PODS}/p"), Value::Null).await;
    assert_eq!(got["spec"]["nodeName"], "n1");
    let (code, body) = call(&s, Method::POST, &format!("{PODS}/p/binding"), binding).await;
    assert_eq!(code, 409, "{body}");
    assert!(body["message"].as_str().unwrap().contains("is already assigned to node \"n1\""), "{body}");
    // The top-level bindings resource does the same, and stores nothing.
    assert_eq!(call(&s, Method::POST, PODS, pod("q", json!({}))).await.0, 201);
    let binding =
        json!({"apiVersion":"v1","kind":"Binding","metadata":{"name":"q"},"target":{"kind":"Node","name":"n2"}});
    let (code, body) = call(&s, Method::POST, "/api/v1/namespaces/default/bindings", binding).await;
    assert_eq!(code, 201, "{body}");
    let (_, got) = call(&s, Method::GET, &format!("{PODS}/q"), Value::Null).await;
    assert_eq!(got["spec"]["nodeName"], "n2");
    let (code, _) = call(&s, Method::GET, "/api/v1/namespaces/default/bindings", Value::Null).await;
    assert_eq!(code, 405, "bindings are create-only");
}

#[tokio::test]
async fn eviction_honours_disruption_budgets() {
    let s = ApiServer::new(Arc::new(Store::in_memory()), ServerConfig::default());
    assert_eq!(call(&s, Method::POST, PODS, pod("guarded", json!({"app":"db"}))).await.0, 201);
    assert_eq!(call(&s, Method::POST, PODS, pod("free", json!({"app":"web"}))).await.0, 201);
    let pdb = json!({"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"db"},
                     "spec":{"minAvailable":1,"selector":{"matchLabels":{"app":"db"}}}});
    let pdbs = "/apis/policy/v1/namespaces/default/poddisruptionbudgets";
    assert_eq!(call(&s, Method::POST, pdbs, pdb).await.0, 201);
    let eviction = |name: &str| json!({"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":name}});
    // No budget room (the disruption controller has not computed any): 429.
    let (code, body) = call(&s, Method::POST, &format!("{PODS}/guarded/eviction"), eviction("guarded")).await;
    assert_eq!(code, 429, "{body}");
    assert_eq!(body["reason"], "TooManyRequests");
    assert_eq!(body["details"]["causes"][0]["reason"], "DisruptionBudget");
    assert_eq!(call(&s, Method::GET, &format!("{PODS}/guarded"), Value::Null).await.0, 200, "still there");
    // A budget with room: one eviction passes and uses it up.
    let (_, current) = call(&s, Method::GET, &format!("{pdbs}/db"), Value::Null).await;
    let status = json!({"apiVersion":"policy/v1","kind":"PodDisruptionBudget",
        "metadata":{"name":"db","resourceVersion":current["metadata"]["resourceVersion"]},
        "spec": current["spec"],
        "status":{"observedGeneration":1,"disruptionsAllowed":1,"currentHealthy":2,"desiredHealthy":1,"expectedPods":2}});
    let (code, body) = call(&s, Method::PUT, &format!("{pdbs}/db/status"), status).await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = call(&s, Method::POST, &format!("{PODS}/guarded/eviction"), eviction("guarded")).await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(call(&s, Method::GET, &format!("{PODS}/guarded"), Value::Null).await.0, 404);
    let (_, after) = call(&s, Method::GET, &format!("{pdbs}/db"), Value::Null).await;
    assert_eq!(after["status"]["disruptionsAllowed"], 0);
    assert!(after["status"]["disruptedPods"].get("guarded").is_some(), "{after}");
    // Pods no budget covers are evicted at once.
    let (code, body) = call(&s, Method::POST, &format!("{PODS}/free/eviction"), eviction("free")).await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(call(&s, Method::GET, &format!("{PODS}/free"), Value::Null).await.0, 404);
    // Evicting a missing pod: 404.
    assert_eq!(call(&s, Method::POST, &format!("{PODS}/nope/eviction"), eviction("nope")).await.0, 404);
}

#[tokio::test]
async fn logs_without_a_node_agent_are_unavailable() {
    let s = ApiServer::new(Arc::new(Store::in_memory()), ServerConfig::default());
    assert_eq!(call(&s, Method::GET, &format!("{PODS}/p/log"), Value::Null).await.0, 404);
    assert_eq!(call(&s, Method::POST, PODS, pod("p", json!({}))).await.0, 201);
    let (code, body) = call(&s, Method::GET, &format!("{PODS}/p/log"), Value::Null).await;
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["reason"], "ServiceUnavailable");
    let (code, body) = call(&s, Method::GET, &format!("{PODS}/p/log?container=other"), Value::Null).await;
    assert_eq!(code, 400, "{body}");
}
