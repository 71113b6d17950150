//! Bad input gets a Kubernetes Status with the right code and reason.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use k_apiserver::{ApiServer, ServerConfig};
use k_store::Store;
use serde_json::Value;

fn server(config: ServerConfig) -> ApiServer {
    ApiServer::new(Arc::new(Store::in_memory()), config)
}

async fn call(s: &ApiServer, method: Method, path: &str, content_type: &str, body: impl Into<Bytes>) -> (u16, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .unwrap();
    let resp = s.handle(req).await;
    let code = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn assert_status(got: &(u16, Value), code: u16, reason: &str) {
    assert_eq!(got.0, code, "{}", got.1);
    assert_eq!(got.1["kind"], "Status", "{}", got.1);
    assert_eq!(got.1["code"], code);
    assert_eq!(got.1["reason"], reason, "{}", got.1);
    assert_eq!(got.1["status"], "Failure");
}

const CM: &str = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}"#;

#[tokio::test]
async fn malformed_bodies_and_media_types() {
    let s = server(ServerConfig::default());
    let pods = "/api/v1/namespaces/default/configmaps";
    assert_status(&call(&s, Method::POST, pods, "application/json", "{not json").await, 400, "BadRequest");
    assert_status(&call(&s, Method::POST, pods, "application/yaml", "a: [1, 2").await, 400, "BadRequest");
    assert_status(&call(&s, Method::POST, pods, "text/csv", "a,b").await, 415, "UnsupportedMediaType");
    let wrong_kind = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"a"}}"#;
    assert_status(&call(&s, Method::POST, pods, "application/json", wrong_kind).await, 400, "BadRequest");
    let other_ns = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"other"}}"#;
    assert_status(&call(&s, Method::POST, pods, "application/json", other_ns).await, 400, "BadRequest");
    let unknown = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"bogus":1}"#;
    let strict = format!("{pods}?fieldValidation=Strict");
    let got = call(&s, Method::POST, &strict, "application/json", unknown).await;
    assert_status(&got, 400, "BadRequest");
    assert!(got.1["message"].as_str().unwrap().contains(r#"unknown field "bogus""#), "{}", got.1);
    // YAML bodies are accepted.
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ycm\ndata:\n  k: '0400'\n";
    let got = call(&s, Method::POST, pods, "application/yaml", yaml).await;
    assert_eq!(got.0, 201, "{}", got.1);
    assert_eq!(got.1["data"]["k"], "0400");
    // Patches need a patch media type.
    let got = call(&s, Method::PATCH, &format!("{pods}/ycm"), "application/json", "{}").await;
    assert_status(&got, 415, "UnsupportedMediaType");
}

#[tokio::test]
async fn too_large_unknown_and_wrong_verb() {
    let s = server(ServerConfig::default());
    let big = vec![b' '; 3 * 1024 * 1024 + 1];
    assert_status(
        &call(&s, Method::POST, "/api/v1/namespaces/default/configmaps", "application/json", big).await,
        413,
        "RequestEntityTooLarge",
    );
    assert_status(
        &call(&s, Method::GET, "/api/v1/namespaces/default/widgets", "application/json", "").await,
        404,
        "NotFound",
    );
    assert_status(
        &call(&s, Method::GET, "/apis/nope.example/v1/things", "application/json", "").await,
        404,
        "NotFound",
    );
    assert_status(&call(&s, Method::GET, "/no/such/path", "application/json", "").await, 404, "NotFound");
    assert_status(
        &call(&s, Method::POST, "/api/v1/namespaces/default/configmaps/a/status", "application/json", CM).await,
        405,
        "MethodNotAllowed",
    );
    assert_status(&call(&s, Method::POST, "/apis", "application/json", "").await, 405, "MethodNotAllowed");
    let got = call(&s, Method::GET, "/api/v1/namespaces/default/configmaps/missing", "application/json", "").await;
    assert_status(&got, 404, "NotFound");
    assert_eq!(got.1["message"], r#"configmaps "missing" not found"#);
    assert_eq!(got.1["details"]["kind"], "configmaps");
    let got =
        call(&s, Method::GET, "/apis/apps/v1/namespaces/default/deployments/missing", "application/json", "").await;
    assert_eq!(got.1["message"], r#"deployments.apps "missing" not found"#);
    assert_eq!(got.1["details"]["group"], "apps");
    let got = call(&s, Method::GET, "/api/v1/configmaps?fieldSelector=spec.nope%3D1", "application/json", "").await;
    assert_status(&got, 400, "BadRequest");
    let got = call(&s, Method::GET, "/api/v1/configmaps?limit=abc", "application/json", "").await;
    assert_status(&got, 400, "BadRequest");
}

/// A watch from a compacted revision gets an ERROR frame with 410 Expired.
#[tokio::test]
async fn watch_from_a_compacted_revision_is_expired() {
    let store = Store::in_memory();
    let s = ApiServer::new(Arc::new(store.clone()), ServerConfig::default());
    let path = "/api/v1/namespaces/default/configmaps";
    for i in 0..3 {
        let body = format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"c{i}"}}}}"#);
        assert_eq!(call(&s, Method::POST, path, "application/json", body).await.0, 201);
    }
    let rev = store.backend().revision().await.unwrap();
    store.backend().compact(rev).await.unwrap();
    let req =
        Request::builder().uri(format!("{path}?watch=true&resourceVersion=1")).body(Full::new(Bytes::new())).unwrap();
    let resp = s.handle(req).await;
    // kube-apiserver answers 200 and sends the error as the first frame.
    assert_eq!(resp.status().as_u16(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let frame: Value = serde_json::from_slice(body.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(frame["type"], "ERROR");
    assert_eq!(frame["object"]["code"], 410);
    assert_eq!(frame["object"]["reason"], "Expired");
}

/// Over --max-requests-inflight: 429 with Retry-After.
#[tokio::test]
async fn too_many_requests() {
    let s = server(ServerConfig { max_requests_inflight: 1, ..ServerConfig::default() });
    // A request whose body never ends stays in flight.
    let (_tx, body) = {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<http_body::Frame<Bytes>, std::convert::Infallible>>(1);
        (tx, http_body_util::StreamBody::new(tokio_stream_from(rx)))
    };
    let stuck =
        Request::builder().method(Method::POST).uri("/api/v1/namespaces/default/configmaps").body(body).unwrap();
    let s2 = s.clone();
    let held = tokio::spawn(async move { s2.handle(stuck).await });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let req = Request::builder().uri("/api/v1/namespaces").body(Full::new(Bytes::new())).unwrap();
    let resp = s.handle(req).await;
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");
    held.abort();
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
