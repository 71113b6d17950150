//! The remote object API (`k_store::remote::RemoteApi`) against the real
//! server: the k-store lifecycle conformance checks run through HTTP, plus
//! kubeconfig parsing, error mapping, watch resumption, custom resources
//! appearing at run time, and https with a CA and a client certificate.
//!
//! Every test starts its own `ApiServer` over `Store::in_memory()` on a free
//! loopback port and keeps the `Store` for what has no HTTP API (compaction,
//! admission hooks, registering a resource directly).

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k_api_types::apps::v1::Deployment;
use k_api_types::core::v1::{ConfigMap, Container, Pod};
use k_api_types::meta::{DeleteOptions, WatchEvent};
use k_api_types::{DynamicObject, GroupVersionKind, GroupVersionResource, Resource};
use k_apiserver::{ApiServer, ServerConfig};
use k_store::api::{ListOptions, ObjectApi, UserInfo, WatchOptions};
use k_store::remote::{Credentials, RemoteApi, RemoteConfig, rustls};
use k_store::{Api, Store, StoreError};

/// A server on a loopback port, the store behind it, and a client of it.
struct Cluster {
    store: Store,
    remote: RemoteApi,
    addr: SocketAddr,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Cluster {
    async fn start() -> Self {
        Self::start_with(ServerConfig::default(), |c| c).await
    }

    /// A cluster whose server has `config` and whose client is configured by `client`.
    async fn start_with(config: ServerConfig, client: impl FnOnce(RemoteConfig) -> RemoteConfig) -> Self {
        let store = Store::in_memory();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server =
            ApiServer::new(Arc::new(store.clone()), ServerConfig { external_address: addr.to_string(), ..config });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            server
                .serve(listener, async {
                    let _ = rx.await;
                })
                .await
        });
        let remote = RemoteApi::connect(client(RemoteConfig::new(format!("http://{addr}")))).await.expect("connect");
        Cluster { store, remote, addr, _shutdown: tx }
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("k-remote-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Standard base64 (kubeconfig `*-data` fields).
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// The lifecycle conformance suite through the client.
//
// `k_store::store_conformance_tests!` hands each check a `Store`, so it
// cannot be pointed at another `ObjectApi`. The checks of
// `k_store::testing::lifecycle` are repeated here unchanged, except that
// every object-API call goes through the `RemoteApi` and what has no HTTP
// API (compaction, admission hooks, registering a resource) goes to the
// server's `Store`.
// ---------------------------------------------------------------------------

/// The client under test, with the server's store behind it.
fn harness(cluster: &Cluster) -> k_store::testing::lifecycle::Harness {
    k_store::testing::lifecycle::Harness { api: Arc::new(cluster.remote.clone()), store: cluster.store.clone() }
}

macro_rules! through_the_client {
    ($($name:ident),* $(,)?) => {
        mod conformance {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let cluster = super::Cluster::start().await;
                    k_store::testing::lifecycle::$name(super::harness(&cluster)).await;
                }
            )*

            /// Admission sees the request's user: over HTTP that is the
            /// authenticated identity, or the one the client impersonates.
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn admission_hooks() {
                let cluster = super::Cluster::start_with(Default::default(), |c| c.impersonate_users(true)).await;
                k_store::testing::lifecycle::admission_hooks(super::harness(&cluster)).await;
            }
        }
    };
}

through_the_client!(
    create_sets_system_fields,
    generation_tracks_spec_only,
    status_path_is_isolated,
    optimistic_concurrency,
    finalizers_and_graceful_deletion,
    propagation_policy_finalizers,
    namespace_lifecycle,
    pod_graceful_deletion,
    validation_and_defaulting,
    selectors,
    pagination_is_consistent,
    list_resource_version_semantics,
    watch_semantics,
    patches,
    strategic_merge_patches,
    server_side_apply,
    guaranteed_update_contention,
    delete_collection,
    custom_resources,
);

// ---------------------------------------------------------------------------
// Configuration.
// ---------------------------------------------------------------------------

/// A kubeconfig with two contexts: `dev` (token, embedded CA, namespace) and
/// `ops` (a token file given relative to the kubeconfig, a CA file, no namespace).
fn write_kubeconfig(dir: &std::path::Path, server: &str) -> PathBuf {
    std::fs::write(dir.join("token"), "file-token\n").expect("token file");
    std::fs::write(dir.join("ca.crt"), CA_CERT).expect("ca file");
    let config = format!(
        r#"apiVersion: v1
kind: Config
current-context: dev
preferences: {{}}
clusters:
- name: local
  cluster:
    server: {server}
    certificate-authority-data: {ca}
- name: files
  cluster:
    server: https://127.0.0.1:1/prefix/
    certificate-authority: ca.crt
    tls-server-name: localhost
contexts:
- name: dev
  context:
    cluster: local
    user: alice
    namespace: team-a
- name: ops
  context:
    cluster: files
    user: robot
users:
- name: alice
  user:
    token: t0k3n
- name: robot
  user:
    tokenFile: token
"#,
        ca = base64(CA_CERT.as_bytes()),
    );
    let path = dir.join("kubeconfig");
    std::fs::write(&path, config).expect("kubeconfig");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubeconfig_token_ca_data_and_namespace() {
    let cluster = Cluster::start().await;
    let dir = temp_dir("kubeconfig");
    let path = write_kubeconfig(&dir, &format!("http://{}", cluster.addr));

    let dev = RemoteConfig::from_kubeconfig(&path).expect("current context");
    assert_eq!(dev.server(), format!("http://{}", cluster.addr));
    assert_eq!(dev.default_namespace(), "team-a");
    assert_eq!(dev.credentials(), &Credentials::Token("t0k3n".into()));
    assert!(!format!("{dev:?}").contains("t0k3n"), "Debug hides the token: {dev:?}");

    let ops = RemoteConfig::from_kubeconfig_context(&path, Some("ops")).expect("ops context");
    assert_eq!(ops.server(), "https://127.0.0.1:1/prefix");
    assert_eq!(ops.default_namespace(), "default");
    assert_eq!(ops.credentials(), &Credentials::TokenFile(dir.join("token")), "relative to the kubeconfig");

    // The kubeconfig's context works end to end (plain http: the CA is unused).
    let remote = RemoteApi::from_kubeconfig(&path).await.expect("connect");
    assert_eq!(remote.default_namespace(), "team-a");
    let configmaps: Api<ConfigMap> =
        Api::with_client(Arc::new(remote.clone()), Some(remote.default_namespace().to_owned()));
    configmaps.create(&ConfigMap::named("from-kubeconfig")).await.expect("create");
    let stored: Api<ConfigMap> = Api::namespaced(cluster.store.clone(), "team-a");
    assert!(stored.get_opt("from-kubeconfig").await.expect("get").is_some());
}

/// Answers the first request on a plain socket with 503 and returns its head.
fn capture_one_request() -> (SocketAddr, std::thread::JoinHandle<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).expect("read") == 1 {
            head.push(byte[0]);
        }
        let body = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"not today","reason":"ServiceUnavailable","code":503}"#;
        let _ = write!(
            s,
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        String::from_utf8_lossy(&head).into_owned()
    });
    (addr, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_and_path_prefix_are_sent() {
    let dir = temp_dir("credentials");
    std::fs::write(dir.join("token"), "  rotated-token\n").expect("token");
    let token_file = dir.join("token");
    type Setup = Box<dyn Fn(RemoteConfig) -> RemoteConfig>;
    let cases: Vec<(Setup, &str)> = vec![
        (Box::new(|c| c.bearer_token("t0k3n")), "authorization: Bearer t0k3n"),
        (Box::new(move |c| c.token_file(token_file.clone())), "authorization: Bearer rotated-token"),
        (Box::new(|c| c.basic_auth("admin", "pw")), "authorization: Basic YWRtaW46cHc="),
    ];
    for (setup, expected) in cases {
        let (addr, head) = capture_one_request();
        let config = setup(RemoteConfig::new(format!("http://{addr}/prefix/")).user_agent("remote-test/1"));
        let err = RemoteApi::connect(config).await.expect_err("503");
        assert!(matches!(&err, StoreError::Internal(m) if m == "not today"), "{err:?}");
        let head = head.join().expect("server thread").to_lowercase();
        assert!(head.starts_with("get /prefix/api http/1.1\r\n"), "{head}");
        assert!(head.contains(&expected.to_lowercase()), "{expected} in {head}");
        assert!(head.contains("user-agent: remote-test/1"), "{head}");
    }
}

#[test]
fn kubeconfig_errors_say_what_is_wrong() {
    let dir = temp_dir("kubeconfig-errors");
    let path = write_kubeconfig(&dir, "http://127.0.0.1:1");
    let err = RemoteConfig::from_kubeconfig_context(&path, Some("nope")).expect_err("no such context");
    assert!(err.to_string().contains("no context named \"nope\""), "{err}");
    let err = RemoteConfig::from_kubeconfig(dir.join("absent")).expect_err("no file");
    assert!(err.to_string().contains("reading kubeconfig"), "{err}");
    let exec = r"
current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: 'https://127.0.0.1:6443', insecure-skip-tls-verify: true}}]
users: [{name: u, user: {exec: {command: aws, apiVersion: client.authentication.k8s.io/v1}}}]
";
    let err = RemoteConfig::from_kubeconfig_str(exec, &dir, None).expect_err("exec plugin");
    assert!(err.to_string().contains("exec plugin"), "{err}");
    let bad = "current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\nclusters: [{name: k, cluster: {server: 'https://h', certificate-authority-data: '%%%'}}]\n";
    let err = RemoteConfig::from_kubeconfig_str(bad, &dir, None).expect_err("bad base64");
    assert!(err.to_string().contains("certificate-authority-data is not base64"), "{err}");
    let no_server =
        "current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\nclusters: [{name: k, cluster: {}}]\n";
    let err = RemoteConfig::from_kubeconfig_str(no_server, &dir, None).expect_err("no server");
    assert!(err.to_string().contains("has no server"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_is_an_internal_error_naming_it() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let url = format!("http://{closed}");
    let err = RemoteApi::connect(RemoteConfig::new(&url)).await.expect_err("nothing listens");
    let StoreError::Internal(message) = &err else { panic!("{err:?}") };
    assert!(message.contains(&format!("cannot reach the API server at {url}")), "{message}");
    let err = RemoteApi::connect(RemoteConfig::new("ftp://x")).await.expect_err("scheme");
    assert!(matches!(err, StoreError::BadRequest(_)), "{err:?}");
    let err = RemoteApi::connect(RemoteConfig::new("https://127.0.0.1:1")).await.expect_err("no CA");
    assert!(err.to_string().contains("no certificate authority is configured"), "{err}");

    // A server that goes away after connect: requests fail the same way.
    let cluster = Cluster::start().await;
    let remote = cluster.remote.clone();
    let url = remote.server().to_owned();
    drop(cluster);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let api: Api<ConfigMap> = Api::namespaced(remote, "ns1");
    let err = api.get("x").await.expect_err("server gone");
    assert!(matches!(&err, StoreError::Internal(m) if m.contains(&url)), "{err:?}");
}

// ---------------------------------------------------------------------------
// Errors from the real server.
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_map_back_to_store_errors() {
    let cluster = Cluster::start().await;
    let api: Api<ConfigMap> = Api::namespaced(cluster.remote.clone(), "ns1");
    let direct: Api<ConfigMap> = Api::namespaced(cluster.store.clone(), "ns1");

    // 404 NotFound: the same error as in-process.
    let remote_err = api.get("missing").await.expect_err("404");
    let local_err = direct.get("missing").await.expect_err("404");
    assert!(matches!(remote_err, StoreError::NotFound { .. }), "{remote_err:?}");
    assert_eq!(remote_err.to_string(), local_err.to_string());
    assert_eq!(remote_err.status(), local_err.status());

    // 409 AlreadyExists and Conflict.
    let created = api.create(&ConfigMap::named("c")).await.expect("create");
    let err = api.create(&ConfigMap::named("c")).await.expect_err("409");
    assert!(matches!(&err, StoreError::AlreadyExists { resource, name } if resource == "configmaps" && name == "c"));
    let mut newer = created.clone();
    newer.data.insert("k".into(), "v".into());
    api.update(&newer).await.expect("update");
    let err = api.update(&created).await.expect_err("stale");
    let StoreError::Conflict { resource, name, message } = &err else { panic!("{err:?}") };
    assert_eq!(
        (resource.as_str(), name.as_str(), message.as_str()),
        ("configmaps", "c", k_store::error::CONFLICT_MESSAGE)
    );

    // 422 Invalid with every cause, as the store reported them.
    let pods: Api<Pod> = Api::namespaced(cluster.remote.clone(), "ns1");
    let mut bad = Pod::named("Bad_Name");
    bad.spec.containers = vec![Container { name: "c".into(), ..Default::default() }];
    let remote_err = pods.create(&bad).await.expect_err("422");
    let local_err = Api::<Pod>::namespaced(cluster.store.clone(), "ns1").create(&bad).await.expect_err("422");
    let StoreError::Invalid { kind, errors, .. } = &remote_err else { panic!("{remote_err:?}") };
    assert_eq!(kind, "Pod");
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["metadata.name", "spec.containers[0].image"]);
    assert_eq!(format!("{remote_err:?}"), format!("{local_err:?}"), "field errors cross HTTP unchanged");

    // 400, 504 and unknown resources.
    let err = api.list(&ListOptions::labels("a in (")).await.expect_err("400");
    assert!(matches!(err, StoreError::BadRequest(_)), "{err:?}");
    let future = ListOptions { resource_version: Some("999999".into()), ..Default::default() };
    let err = api.list(&future).await.expect_err("504");
    assert!(matches!(err, StoreError::TooLargeResourceVersion { requested: 999_999, .. }), "{err:?}");
    let err = cluster
        .remote
        .get(&GroupVersionResource::new("nothing.example", "v1", "things"), "ns1", "x")
        .await
        .expect_err("unknown");
    assert!(matches!(err, StoreError::UnknownResource(_)), "{err:?}");

    // 410: a watch from a compacted revision ends with Expired.
    let now = cluster.store.backend().revision().await.expect("revision");
    cluster.store.backend().compact(now).await.expect("compact");
    let options =
        WatchOptions { resource_version: Some(created.metadata.resource_version.clone()), ..Default::default() };
    let mut watch = api.watch(&options).await.expect("watch opens; the error is its first frame");
    let first = tokio::time::timeout(Duration::from_secs(10), watch.next()).await.expect("in time").expect("an item");
    let err = first.expect_err("Expired");
    let requested: i64 = created.metadata.resource_version.parse().expect("rv");
    assert!(
        matches!(err, StoreError::Expired { requested: r, compacted } if r == requested && compacted == now),
        "{err:?}"
    );
    assert_eq!(err.status().code, 410);
    assert!(tokio::time::timeout(Duration::from_secs(10), watch.next()).await.expect("ends").is_none());
}

// ---------------------------------------------------------------------------
// Watches.
// ---------------------------------------------------------------------------

async fn next_event<K>(s: &mut futures::stream::BoxStream<'static, k_store::Result<WatchEvent<K>>>) -> WatchEvent<K> {
    tokio::time::timeout(Duration::from_secs(20), s.next()).await.expect("event in time").expect("open").expect("ok")
}

/// A watch from a revision sees every later write exactly once, in order,
/// also when the server ends the response (its watch timeout, 1 s here)
/// several times while writes go on: the client resumes from the last
/// revision it delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_resumes_from_a_revision_without_gaps() {
    let config = ServerConfig { watch_timeout_seconds: 1, ..ServerConfig::default() };
    let cluster = Cluster::start_with(config, |c| c).await;
    let api: Api<ConfigMap> = Api::namespaced(cluster.remote.clone(), "ns1");
    for i in 0..3 {
        api.create(&ConfigMap::named(format!("before-{i}"))).await.expect("create");
    }
    let start = api.list(&ListOptions::default()).await.expect("list").metadata.resource_version;
    let mut watch =
        api.watch(&WatchOptions { resource_version: Some(start.clone()), ..Default::default() }).await.expect("watch");
    let writer = {
        let api = api.clone();
        tokio::spawn(async move {
            let mut revisions = Vec::new();
            for i in 0..12 {
                let c = api.create(&ConfigMap::named(format!("cm-{i}"))).await.expect("create");
                revisions.push(c.metadata.resource_version.clone());
                let mut c2 = c.clone();
                c2.data.insert("n".into(), i.to_string());
                revisions.push(api.update(&c2).await.expect("update").metadata.resource_version);
                if i % 3 == 2 {
                    revisions.push(
                        api.delete(&c.metadata.name, &DeleteOptions::default())
                            .await
                            .expect("delete")
                            .object()
                            .metadata
                            .resource_version
                            .clone(),
                    );
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            revisions
        })
    };
    let written = writer.await.expect("writer");
    assert!(written.len() > 20);
    let mut seen = Vec::new();
    while seen.len() < written.len() {
        let event = next_event(&mut watch).await;
        let object = event.object().expect("object");
        seen.push(object.metadata.resource_version.clone());
    }
    assert_eq!(seen, written, "every write once, in order, across several server-side watch ends");
    let last: i64 = written.last().expect("last").parse().expect("rv");
    assert!(last > start.parse::<i64>().expect("rv"));

    // Nothing more arrives (no duplicates after further resumes).
    assert!(tokio::time::timeout(Duration::from_millis(2500), watch.next()).await.is_err());
}

/// A streaming list (sendInitialEvents) resumes after its end bookmark, and
/// a watch started from the current state ends when the server ends it
/// (there is no revision to resume from).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_lists_resume_and_state_watches_end() {
    let config = ServerConfig { watch_timeout_seconds: 1, ..ServerConfig::default() };
    let cluster = Cluster::start_with(config, |c| c).await;
    let api: Api<ConfigMap> = Api::namespaced(cluster.remote.clone(), "ns1");
    api.create(&ConfigMap::named("a")).await.expect("create");
    let mut streaming = api
        .watch(&WatchOptions { send_initial_events: true, allow_bookmarks: true, ..Default::default() })
        .await
        .expect("watch");
    let mut from_state = api.watch(&WatchOptions::default()).await.expect("watch");
    assert_eq!(next_event(&mut streaming).await.type_name(), "ADDED");
    let end = next_event(&mut streaming).await;
    assert_eq!(end.type_name(), "BOOKMARK");
    assert_eq!(end.object().expect("bookmark").metadata.annotations["k8s.io/initial-events-end"], "true");
    assert_eq!(next_event(&mut from_state).await.type_name(), "ADDED");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    api.create(&ConfigMap::named("b")).await.expect("create");
    loop {
        let event = next_event(&mut streaming).await;
        if event.type_name() == "BOOKMARK" {
            continue;
        }
        assert_eq!((event.type_name(), event.object().expect("o").metadata.name.as_str()), ("ADDED", "b"));
        break;
    }
    let rest: Vec<_> =
        tokio::time::timeout(Duration::from_secs(10), from_state.collect::<Vec<_>>()).await.expect("ends");
    assert!(rest.is_empty(), "a state watch ends with the response: {rest:?}");
}

/// The scheduler's write: `pods/binding` through the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_are_bound_through_the_binding_subresource() {
    let cluster = Cluster::start().await;
    let pods: Api<Pod> = Api::namespaced(cluster.remote.clone(), "ns1");
    let mut p = Pod::named("p");
    p.spec.containers = vec![Container { name: "c".into(), image: Some("busybox:1.36".into()), ..Default::default() }];
    pods.create(&p).await.expect("create");
    let bound = cluster.remote.bind_pod("ns1", "p", "node-1", &UserInfo::default()).await.expect("bind");
    assert_eq!(bound.data["spec"]["nodeName"], "node-1");
    let conditions = bound.data["status"]["conditions"].as_array().expect("conditions");
    assert!(conditions.iter().any(|c| c["type"] == "PodScheduled" && c["status"] == "True"), "{conditions:?}");
    let err = cluster.remote.bind_pod("ns1", "p", "node-2", &UserInfo::default()).await.expect_err("bound already");
    assert!(err.is_conflict(), "{err:?}");
    let err = cluster.remote.bind_pod("ns1", "absent", "node-1", &UserInfo::default()).await.expect_err("no pod");
    assert!(err.is_not_found(), "{err:?}");
}

// ---------------------------------------------------------------------------
// Discovery.
// ---------------------------------------------------------------------------

fn widget_crd() -> DynamicObject {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.org"},
        "spec": {
            "group": "example.org",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
                "subresources": {"status": {}}
            }]
        }
    }))
    .expect("crd")
}

/// Resources come from discovery at connect; a CRD created later is found
/// without reconnecting, and a deleted one stops being served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_follows_custom_resources() {
    let cluster = Cluster::start().await;
    let remote = &cluster.remote;
    // Kinds served only as subresources (pods/eviction) are not in discovery.
    let local = cluster.store.resources().iter().filter(|r| !r.verbs.is_empty()).count();
    assert_eq!(remote.resources().len(), local, "every served resource");
    let pods = remote.resource(&Pod::INFO.gvr()).expect("pods");
    assert!(pods.namespaced && pods.has_subresource("status") && pods.has_subresource("binding"), "{pods:?}");
    let namespaces = remote.resource(&GroupVersionResource::new("", "v1", "namespaces")).expect("namespaces");
    assert!(!namespaces.namespaced);
    let deployments = remote.resource(&Deployment::INFO.gvr()).expect("deployments");
    assert_eq!(deployments.gvr().to_string(), "apps/v1/deployments");

    let widgets = GroupVersionResource::new("example.org", "v1", "widgets");
    assert!(remote.resource(&widgets).is_err());
    let crds = GroupVersionResource::new("apiextensions.k8s.io", "v1", "customresourcedefinitions");
    remote.create(&crds, "", widget_crd(), &UserInfo::default()).await.expect("create CRD");
    let mut w = DynamicObject::new(&GroupVersionKind::new("example.org", "v1", "Widget"), "w1");
    w.data.insert("spec".into(), serde_json::json!({"size": 3}));
    let created = remote.create(&widgets, "ns1", w, &UserInfo::default()).await.expect("create widget");
    assert_eq!(created.data["spec"]["size"], 3);
    assert!(remote.resource(&widgets).expect("now known").has_subresource("status"));
    assert!(remote.resources().iter().any(|r| r.plural == "widgets"));
    let listed = remote.list(&widgets, None, &ListOptions::default()).await.expect("list");
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].kind, "Widget");

    remote
        .delete(&crds, "", "widgets.example.org", &DeleteOptions::default(), &UserInfo::default())
        .await
        .expect("delete CRD");
    let err = remote.get(&widgets, "ns1", "w1").await.expect_err("no longer served");
    assert!(err.is_not_found(), "{err:?}");
    remote.refresh_discovery().await.expect("refresh");
    assert!(remote.resource(&widgets).is_err());
}

// ---------------------------------------------------------------------------
// https: a rustls TLS terminator in front of the server, which requires a
// client certificate signed by the test CA.
// ---------------------------------------------------------------------------

const CA_CERT: &str = r"-----BEGIN CERTIFICATE-----
MIIBjjCCATWgAwIBAgIUTutbiVANh4ZUdtkBhWKvFrs7PdswCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJay10ZXN0LWNhMCAXDTI2MTEyMjE3MTcwNVoYDzIxMjYxMDI5
MTcxNzA1WjAUMRIwEAYDVQQDDAlrLXRlc3QtY2EwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAREBnnFMhlyHTfcosAubH/viCG3I4dpyLnJbpl+CeTJHiIbu7Ivs6YO
FIw++t0yWrx8fsY+nk+j4DZ79jPznx3mo2MwYTAdBgNVHQ4EFgQUgjHO1atgcwdM
vhbvCJhNTFibXf4wHwYDVR0jBBgwFoAUgjHO1atgcwdMvhbvCJhNTFibXf4wDwYD
VR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwCgYIKoZIzj0EAwIDRwAwRAIg
bu7GHOYDUzlicQzyej3rZBb13k83mxrE8q0zkaS40rgCIBGad/klZGomN25uI9Qx
IBxUVcM/6Kk8kUINeqEsIBnd
-----END CERTIFICATE-----
";

const SERVER_CERT: &str = r"-----BEGIN CERTIFICATE-----
MIIBvzCCAWSgAwIBAgIUEg5rXWE9kNnh39joVI4z95lAAXYwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJay10ZXN0LWNhMCAXDTI2MTEyMjE3MTcwNVoYDzIxMjYxMDI5
MTcxNzA1WjAWMRQwEgYDVQQDDAtrLWFwaXNlcnZlcjBZMBMGByqGSM49AgEGCCqG
SM49AwEHA0IABIXOpNlYmg8sKgUpBb2mbjm7VnCRp44AaH4kjIMvg79o59s5wSN3
PioMeQSuZwGzASzVvDufuof0FmBRZw7ukXejgY8wgYwwGgYDVR0RBBMwEYcEfwAA
AYIJbG9jYWxob3N0MAkGA1UdEwQCMAAwDgYDVR0PAQH/BAQDAgeAMBMGA1UdJQQM
MAoGCCsGAQUFBwMBMB0GA1UdDgQWBBQQmLgA4nNVEkpol5kAuBuPnP7XGjAfBgNV
HSMEGDAWgBSCMc7Vq2BzB0y+Fu8ImE1MWJtd/jAKBggqhkjOPQQDAgNJADBGAiEA
5rHG4nBhaCeLg409Wpv01ZGjJaFRi3TfN1+LI5XP/jsCIQD8jJnWVc3geoqV+D2c
NshK4Fb3pQaYoUkS3R2RwVHqzQ==
-----END CERTIFICATE-----
";

const SERVER_KEY: &str = r"-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgqB9bjnmRn488G5LC
UlqHahLK/S7wWi+KLEDtTYMdCI2hRANCAASFzqTZWJoPLCoFKQW9pm45u1ZwkaeO
AGh+JIyDL4O/aOfbOcEjdz4qDHkErmcBswEs1bw7n7qH9BZgUWcO7pF3
-----END PRIVATE KEY-----
";

const CLIENT_CERT: &str = r"-----BEGIN CERTIFICATE-----
MIIBsjCCAVmgAwIBAgIUEg5rXWE9kNnh39joVI4z95lAAXcwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJay10ZXN0LWNhMCAXDTI2MTEyMjE3MTcwNVoYDzIxMjYxMDI5
MTcxNzA1WjApMRcwFQYDVQQKDA5zeXN0ZW06bWFzdGVyczEOMAwGA1UEAwwFYWRt
aW4wWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARwC2uEAnIiosW7R7tE0YFEIq+A
x8aBearxLWOwSiMMee5d6IaH8rWqEpPmt40G/iNSSvFE/EPJ4HvjiU0+9MSXo3Iw
cDAJBgNVHRMEAjAAMA4GA1UdDwEB/wQEAwIHgDATBgNVHSUEDDAKBggrBgEFBQcD
AjAdBgNVHQ4EFgQUBoZDrQ1kU4l8kAwnDlZMGotnh18wHwYDVR0jBBgwFoAUgjHO
1atgcwdMvhbvCJhNTFibXf4wCgYIKoZIzj0EAwIDRwAwRAIgHnV7seOrD+uKYUeA
LInEAVcBZpN3ifDfOeup3R7ILSgCIH+JoxM6VZJujeTwFQ/TxBNhuyZ553S8Xvxb
Qkf4Aci6
-----END CERTIFICATE-----
";

const CLIENT_KEY: &str = r"-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgnSBVjR1fHTXaimje
EM6xr6vC6UN+c+62hTF4lzJLVBahRANCAARwC2uEAnIiosW7R7tE0YFEIq+Ax8aB
earxLWOwSiMMee5d6IaH8rWqEpPmt40G/iNSSvFE/EPJ4HvjiU0+9MSX
-----END PRIVATE KEY-----
";

const OTHER_CA_CERT: &str = r"-----BEGIN CERTIFICATE-----
MIIBkTCCATegAwIBAgIUO195laldTaFd0TG+Z0yW6+NJuogwCgYIKoZIzj0EAwIw
FTETMBEGA1UEAwwKay1vdGhlci1jYTAgFw0yNjExMjIxNzE3MDVaGA8yMTI2MTAy
OTE3MTcwNVowFTETMBEGA1UEAwwKay1vdGhlci1jYTBZMBMGByqGSM49AgEGCCqG
SM49AwEHA0IABMiE18q46i30d6XovSPzWh6r5HeBDvvIG3/i1Si2/r3kleYXS5zz
8KdWZ/JC0SCQRqwgIlZFGW0vaw8zcv8ZAaSjYzBhMB0GA1UdDgQWBBQMs4xXY9sz
i26l5VaGK5qPLy5QHDAfBgNVHSMEGDAWgBQMs4xXY9szi26l5VaGK5qPLy5QHDAP
BgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwIBBjAKBggqhkjOPQQDAgNIADBF
AiEA3Ax2REGXpoM1Y3TpjeA/oSj2K67Z3mVe7PB9F7NKi48CIAmFJcmwlIFI+TZk
HH/5AJQBNTU1SHhqlAxfHPK61VnH
-----END CERTIFICATE-----
";

fn pem_certs(pem: &str) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()).collect::<Result<_, _>>().expect("certs")
}

/// Listens on a loopback port, terminates TLS (requiring a client
/// certificate from the test CA) and relays the plain bytes to `backend`.
fn tls_terminator(backend: SocketAddr) -> SocketAddr {
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in pem_certs(CA_CERT) {
        roots.add(c).expect("root");
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
        .build()
        .expect("client verifier");
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(pem_certs(SERVER_CERT), PrivateKeyDer::from_pem_slice(SERVER_KEY.as_bytes()).expect("key"))
        .expect("server config");
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let config = Arc::clone(&config);
            std::thread::spawn(move || relay(stream, backend, config));
        }
    });
    addr
}

/// One TLS connection relayed to `backend`, both sockets non-blocking,
/// until either side closes. Test support: polls with short sleeps.
fn relay(mut tls: std::net::TcpStream, backend: SocketAddr, config: Arc<rustls::ServerConfig>) {
    use std::io::ErrorKind::WouldBlock;
    let Ok(mut conn) = rustls::ServerConnection::new(config) else { return };
    let Ok(mut plain) = std::net::TcpStream::connect(backend) else { return };
    if tls.set_nonblocking(true).is_err() || plain.set_nonblocking(true).is_err() {
        return;
    }
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while std::time::Instant::now() < deadline {
        let mut busy = false;
        match conn.read_tls(&mut tls) {
            Ok(0) => return,
            Ok(_) => {
                busy = true;
                if conn.process_new_packets().is_err() {
                    let _ = conn.write_tls(&mut tls);
                    return;
                }
            }
            Err(e) if e.kind() == WouldBlock => {}
            Err(_) => return,
        }
        match conn.reader().read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                busy = true;
                let mut rest = &buf[..n];
                while !rest.is_empty() {
                    match plain.write(rest) {
                        Ok(k) => rest = &rest[k..],
                        Err(e) if e.kind() == WouldBlock => std::thread::sleep(Duration::from_millis(1)),
                        Err(_) => return,
                    }
                }
            }
            Err(e) if e.kind() == WouldBlock => {}
            Err(_) => return,
        }
        match plain.read(&mut buf) {
            Ok(0) => {
                conn.send_close_notify();
                while conn.wants_write() && conn.write_tls(&mut tls).is_ok() {}
                return;
            }
            Ok(n) => {
                busy = true;
                if conn.writer().write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == WouldBlock => {}
            Err(_) => return,
        }
        while conn.wants_write() {
            match conn.write_tls(&mut tls) {
                Ok(_) => busy = true,
                Err(e) if e.kind() == WouldBlock => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(_) => return,
            }
        }
        if !busy {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

fn tls_kubeconfig(dir: &std::path::Path, server: &str, ca: &str, client_cert: bool, insecure: bool) -> PathBuf {
    let user = if client_cert {
        format!(
            "client-certificate-data: {}\n    client-key-data: {}",
            base64(CLIENT_CERT.as_bytes()),
            base64(CLIENT_KEY.as_bytes())
        )
    } else {
        "token: unused".to_owned()
    };
    let cluster = if insecure {
        "insecure-skip-tls-verify: true".to_owned()
    } else {
        format!("certificate-authority-data: {}", base64(ca.as_bytes()))
    };
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: tls\nclusters:\n- name: k\n  cluster:\n    server: {server}\n    {cluster}\n\
         contexts:\n- name: tls\n  context: {{cluster: k, user: admin, namespace: secure}}\nusers:\n- name: admin\n  user:\n    {user}\n"
    );
    let path = dir.join(format!("kubeconfig-{client_cert}-{insecure}-{}", ca.len()));
    std::fs::write(&path, text).expect("kubeconfig");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_kubeconfig_ca_and_client_certificate() {
    let cluster = Cluster::start().await;
    let tls = tls_terminator(cluster.addr);
    let dir = temp_dir("tls");
    for (i, host) in [format!("https://{tls}"), format!("https://localhost:{}", tls.port())].into_iter().enumerate() {
        let path = tls_kubeconfig(&dir, &host, CA_CERT, true, false);
        let remote = RemoteApi::from_kubeconfig(&path).await.expect("connect over https");
        assert_eq!(remote.default_namespace(), "secure");
        let api: Api<ConfigMap> = Api::with_client(Arc::new(remote.clone()), Some("secure".into()));
        let name = format!("over-tls-{i}");
        let created = api.create(&ConfigMap::named(&name)).await.expect("create");
        let mut watch = api
            .watch(&WatchOptions {
                resource_version: Some(created.metadata.resource_version.clone()),
                ..Default::default()
            })
            .await
            .expect("watch");
        let mut changed = created.clone();
        changed.data.insert("k".into(), "v".into());
        api.update(&changed).await.expect("update");
        let event = next_event(&mut watch).await;
        assert_eq!((event.type_name(), event.object().expect("o").data["k"].as_str()), ("MODIFIED", "v"));
    }

    // insecure-skip-tls-verify still presents the client certificate.
    let path = tls_kubeconfig(&dir, &format!("https://{tls}"), CA_CERT, true, true);
    let remote = RemoteApi::from_kubeconfig(&path).await.expect("insecure connect");
    assert!(!remote.resources().is_empty());

    // A server certificate from another CA is refused, naming the server.
    let url = format!("https://{tls}");
    let path = tls_kubeconfig(&dir, &url, OTHER_CA_CERT, true, false);
    let err = RemoteApi::from_kubeconfig(&path).await.expect_err("untrusted server");
    let StoreError::Internal(message) = &err else { panic!("{err:?}") };
    assert!(message.contains(&url) && message.contains("not signed by a trusted certificate authority"), "{message}");

    // Without a client certificate the terminator refuses the handshake.
    let path = tls_kubeconfig(&dir, &url, CA_CERT, false, false);
    let err = RemoteApi::from_kubeconfig(&path).await.expect_err("no client certificate");
    assert!(matches!(&err, StoreError::Internal(m) if m.contains(&url)), "{err:?}");

    // The builder in code does the same as the kubeconfig.
    let config =
        RemoteConfig::new(&url).ca_pem(CA_CERT).client_cert_pem(CLIENT_CERT, CLIENT_KEY).tls_server_name("localhost");
    let remote = RemoteApi::connect(config).await.expect("builder");
    let pods: Api<Pod> = Api::with_client(Arc::new(remote), Some("secure".into()));
    assert!(pods.list(&ListOptions::default()).await.expect("list").items.is_empty());
}
