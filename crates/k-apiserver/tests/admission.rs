//! The admission plugins on a real store: namespace lifecycle, LimitRange
//! defaults and bounds, service-account credentials, priority, default
//! tolerations and storage class, and ResourceQuota under a race of
//! concurrent creates (in-process and over HTTP).

use std::sync::Arc;

use k_api_types::Resource;
use k_api_types::core::v1::{Namespace, PersistentVolumeClaim, Pod, ResourceQuota};
use k_api_types::meta::DeleteOptions;
use k_apiserver::admission::Admission;
use k_apiserver::{ApiServer, ServerConfig};
use k_store::remote::{RemoteApi, RemoteConfig};
use k_store::{Api, ObjectApi, Store, StoreError};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn typed<T: DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("a valid object")
}

fn pod(name: &str, spec: Value) -> Pod {
    let mut spec = spec;
    if spec.get("containers").is_none() {
        spec["containers"] = json!([{"name": "c", "image": "busybox"}]);
    }
    typed(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}))
}

/// A store with every default plugin, and namespaces `default` and `team`.
async fn store_with(enable: &[&str], disable: &[&str]) -> Store {
    let store = Store::in_memory();
    let api: Arc<dyn ObjectApi> = Arc::new(store.clone());
    let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    Admission::from_flags(&owned(enable), &owned(disable), api.clone()).expect("plugins").install(&store);
    k_apiserver::admission::priority::ensure_system_classes(api.as_ref()).await.expect("classes");
    let namespaces: Api<Namespace> = Api::all(store.clone());
    for ns in ["default", "team"] {
        namespaces.create(&Namespace::named(ns)).await.expect("namespace");
    }
    store
}

fn forbidden(e: &StoreError) -> &str {
    match e {
        StoreError::Forbidden(m) => m,
        other => panic!("expected Forbidden, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_lifecycle() {
    let store = store_with(&[], &[]).await;
    let missing: Api<Pod> = Api::namespaced(store.clone(), "nope");
    let err = missing.create(&pod("x", json!({}))).await.expect_err("no namespace");
    assert!(
        matches!(&err, StoreError::NotFound { resource, name } if resource == "namespaces" && name == "nope"),
        "{err:?}"
    );
    let namespaces: Api<Namespace> = Api::all(store.clone());
    for name in ["default", "kube-system", "kube-public"] {
        namespaces.create(&Namespace::named(name)).await.ok();
        let err = namespaces.delete(name, &DeleteOptions::default()).await.expect_err("immortal");
        assert_eq!(forbidden(&err), format!("namespaces {name:?} is forbidden: this namespace may not be deleted"));
    }
    // A namespace being deleted takes nothing new.
    let team_pods: Api<Pod> = Api::namespaced(store.clone(), "team");
    team_pods.create(&pod("keep", json!({}))).await.expect("pod");
    let mut finalized = Namespace::named("closing");
    finalized.metadata.finalizers = vec!["k.io/hold".into()];
    namespaces.create(&finalized).await.expect("namespace");
    namespaces.delete("closing", &DeleteOptions::default()).await.expect("delete starts");
    let closing: Api<Pod> = Api::namespaced(store.clone(), "closing");
    let err = closing.create(&pod("late", json!({}))).await.expect_err("terminating");
    assert_eq!(
        forbidden(&err),
        r#"pods "late" is forbidden: unable to create new content in namespace closing because it is being terminated"#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_ranges_default_and_bound_containers() {
    let store = store_with(&[], &[]).await;
    let api: Arc<dyn ObjectApi> = Arc::new(store.clone());
    let ranges: Api<k_api_types::core::v1::LimitRange> = Api::with_client(api.clone(), Some("team".into()));
    ranges
        .create(&typed(json!({
            "apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "limits"},
            "spec": {"limits": [
                {"type": "Container", "default": {"cpu": "500m", "memory": "256Mi"}, "defaultRequest": {"cpu": "100m"},
                 "min": {"cpu": "50m"}, "max": {"memory": "1Gi"}, "maxLimitRequestRatio": {"cpu": "10"}},
                {"type": "Pod", "max": {"cpu": "2"}}
            ]}
        })))
        .await
        .expect("limit range");
    // Defaults, visible on the created pod — served over HTTP, as a client sees it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = ApiServer::new(api.clone(), ServerConfig::default());
    tokio::spawn(async move { server.serve(listener, std::future::pending()).await });
    let remote = RemoteApi::connect(RemoteConfig::new(format!("http://{addr}"))).await.expect("connect");
    let pods: Api<Pod> = Api::with_client(Arc::new(remote), Some("team".into()));
    pods.create(&pod("plain", json!({}))).await.expect("pod");
    let created = pods.get("plain").await.expect("get");
    let resources = created.spec.containers[0].resources.clone().expect("resources");
    let text = |list: &k_api_types::quantity::ResourceList| {
        list.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
    };
    assert_eq!(text(&resources.limits), "cpu=500m,memory=256Mi");
    assert_eq!(text(&resources.requests), "cpu=100m,memory=256Mi", "defaultRequest, then default");
    // What the pod says itself is kept.
    let own = pod(
        "own",
        json!({"containers": [{"name": "c", "image": "busybox", "resources": {"limits": {"cpu": "200m"}}}]}),
    );
    let created = pods.create(&own).await.expect("pod");
    let resources = created.spec.containers[0].resources.clone().expect("resources");
    assert_eq!(text(&resources.limits), "cpu=200m,memory=256Mi");
    // Bounds.
    let big = pod(
        "big",
        json!({"containers": [{"name": "c", "image": "busybox", "resources": {"limits": {"memory": "2Gi"}}}]}),
    );
    let err = pods.create(&big).await.expect_err("too much memory");
    assert_eq!(
        forbidden(&err),
        r#"pods "big" is forbidden: [maximum memory usage per Container is 1Gi, but limit is 2Gi]"#
    );
    let tiny = pod(
        "tiny",
        json!({"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "10m"}}}]}),
    );
    let err = pods.create(&tiny).await.expect_err("too little cpu");
    assert!(forbidden(&err).contains("minimum cpu usage per Container is 50m, but request is 10m"), "{err:?}");
    assert!(
        forbidden(&err).contains("cpu max limit to request ratio per Container is 10, but provided ratio is 50"),
        "{err:?}"
    );
    let three = json!({"containers": [
        {"name": "a", "image": "busybox", "resources": {"limits": {"cpu": "1"}}},
        {"name": "b", "image": "busybox", "resources": {"limits": {"cpu": "1"}}},
        {"name": "c", "image": "busybox", "resources": {"limits": {"cpu": "1"}}}]});
    let err = pods.create(&pod("wide", three)).await.expect_err("pod max");
    assert!(forbidden(&err).contains("maximum cpu usage per Pod is 2, but limit is 3"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_accounts_priority_tolerations_and_storage_classes() {
    let store = store_with(&[], &[]).await;
    let pods: Api<Pod> = Api::namespaced(store.clone(), "team");
    // The default account's credentials are mounted in every container.
    let two = json!({"containers": [{"name": "a", "image": "busybox"}, {"name": "b", "image": "busybox"}]});
    let created = pods.create(&pod("creds", two)).await.expect("pod");
    assert_eq!(created.spec.service_account_name.as_deref(), Some("default"));
    let volume = &created.spec.volumes[0];
    assert!(volume.name.starts_with("kube-api-access-"), "{}", volume.name);
    let sources = &volume.projected.as_ref().expect("projected").sources;
    assert_eq!(sources[0].service_account_token.as_ref().expect("token").expiration_seconds, Some(3607));
    for container in &created.spec.containers {
        let mount = container.volume_mounts.iter().find(|m| m.name == volume.name).expect("mounted");
        assert_eq!(mount.mount_path, "/var/run/secrets/kubernetes.io/serviceaccount");
        assert_eq!(mount.read_only, Some(true));
    }
    let off = pods.create(&pod("nocreds", json!({"automountServiceAccountToken": false}))).await.expect("pod");
    assert!(off.spec.volumes.is_empty());
    let err = pods.create(&pod("ghost", json!({"serviceAccountName": "ghost"}))).await.expect_err("no account");
    assert!(
        forbidden(&err).contains(r#"error looking up service account team/ghost: serviceaccount "ghost" not found"#)
    );

    // Default tolerations: 300 s for not-ready and unreachable, unless given.
    let tolerations = |p: &Pod| -> Vec<(String, Option<i64>)> {
        p.spec.tolerations.iter().map(|t| (t.key.clone().unwrap_or_default(), t.toleration_seconds)).collect()
    };
    assert_eq!(
        tolerations(&created),
        [
            ("node.kubernetes.io/not-ready".to_owned(), Some(300)),
            ("node.kubernetes.io/unreachable".to_owned(), Some(300))
        ]
    );
    let own = json!({"tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}]});
    let patient = pods.create(&pod("patient", own)).await.expect("pod");
    assert_eq!(
        tolerations(&patient),
        [
            ("node.kubernetes.io/unreachable".to_owned(), Some(5)),
            ("node.kubernetes.io/not-ready".to_owned(), Some(300))
        ]
    );

    // Priority from the class name, the global default, or refusals.
    assert_eq!(created.spec.priority, Some(0), "no class, no default: 0");
    let critical =
        pods.create(&pod("critical", json!({"priorityClassName": "system-node-critical"}))).await.expect("pod");
    assert_eq!(critical.spec.priority, Some(2_000_001_000));
    assert_eq!(critical.spec.preemption_policy.as_deref(), Some("PreemptLowerPriority"));
    let err = pods.create(&pod("nameless", json!({"priorityClassName": "gold"}))).await.expect_err("no class");
    assert_eq!(forbidden(&err), r#"pods "nameless" is forbidden: no PriorityClass with name gold was found"#);
    let classes: Api<k_api_types::scheduling::v1::PriorityClass> = Api::all(store.clone());
    classes
        .create(&typed(json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                               "metadata": {"name": "normal"}, "value": 1000, "globalDefault": true})))
        .await
        .expect("class");
    let defaulted = pods.create(&pod("defaulted", json!({}))).await.expect("pod");
    assert_eq!((defaulted.spec.priority_class_name.as_deref(), defaulted.spec.priority), (Some("normal"), Some(1000)));
    let err =
        pods.create(&pod("liar", json!({"priorityClassName": "normal", "priority": 7}))).await.expect_err("mismatch");
    assert!(forbidden(&err).contains("the integer value of priority (7) must not be provided in pod spec"), "{err:?}");

    // The default storage class, for claims that name none.
    let claim = |name: &str, class: Option<&str>| -> PersistentVolumeClaim {
        let mut spec = json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}});
        if let Some(class) = class {
            spec["storageClassName"] = class.into();
        }
        typed(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name}, "spec": spec}))
    };
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(store.clone(), "team");
    let before = claims.create(&claim("before", None)).await.expect("claim");
    assert_eq!(before.spec.storage_class_name, None, "no default class yet");
    let storage: Api<k_api_types::storage::v1::StorageClass> = Api::all(store.clone());
    storage
        .create(&typed(json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "provisioner": "k.io/local",
                               "metadata": {"name": "fast", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}})))
        .await
        .expect("class");
    let after = claims.create(&claim("after", None)).await.expect("claim");
    assert_eq!(after.spec.storage_class_name.as_deref(), Some("fast"));
    let none = claims.create(&claim("none", Some(""))).await.expect("claim");
    assert_eq!(none.spec.storage_class_name.as_deref(), Some(""), "\"\" asks for no class");
}

fn quota(hard: Value) -> ResourceQuota {
    typed(json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"}, "spec": {"hard": hard}}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_quota_race_never_exceeds_hard() {
    let store = store_with(&[], &[]).await;
    let quotas: Api<ResourceQuota> = Api::namespaced(store.clone(), "team");
    quotas.create(&quota(json!({"pods": "5", "requests.cpu": "2"}))).await.expect("quota");
    // 64 concurrent creates of pods asking 100m each: the pod count binds first.
    let mut tasks = Vec::new();
    for i in 0..64 {
        let pods: Api<Pod> = Api::namespaced(store.clone(), "team");
        tasks.push(tokio::spawn(async move {
            let spec =
                json!({"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "100m"}}}]});
            pods.create(&pod(&format!("p{i}"), spec)).await
        }));
    }
    let mut created = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => created += 1,
            Err(e) => assert!(
                forbidden(&e).contains("exceeded quota: q, requested: pods=1, used: pods=5, limited: pods=5"),
                "{e:?}"
            ),
        }
    }
    assert_eq!(created, 5, "exactly the hard limit of pods was admitted");
    let pods: Api<Pod> = Api::namespaced(store.clone(), "team");
    assert_eq!(pods.list(&Default::default()).await.expect("list").items.len(), 5);
    let status = quotas.get("q").await.expect("quota").status.expect("status");
    assert_eq!(status.used["pods"].to_string(), "5");
    assert_eq!(status.used["requests.cpu"].to_string(), "500m");
    // A delete gives the pod back.
    let first = pods.list(&Default::default()).await.expect("list").items[0].metadata.name.clone();
    pods.delete(&first, &DeleteOptions { grace_period_seconds: Some(0), ..Default::default() }).await.expect("delete");
    assert_eq!(quotas.get("q").await.expect("quota").status.expect("status").used["pods"].to_string(), "4");
    // Dry runs are admitted but reserve nothing.
    let dry = Api::<Pod>::with_client(Arc::new(store.dry_run()), Some("team".into()));
    let small = json!({"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "100m"}}}]});
    dry.create(&pod("dry", small)).await.expect("dry run fits");
    assert_eq!(quotas.get("q").await.expect("quota").status.expect("status").used["pods"].to_string(), "4");
    pods.create(&pod(
        "again",
        json!({"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "1"}}}]}),
    ))
    .await
    .expect("room for one more");
    // CPU binds now: 4×100m + 1 = 1.4 of 2; 700m more does not fit.
    let err = pods
        .create(&pod(
            "heavy",
            json!({"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "700m"}}}]}),
        ))
        .await
        .expect_err("cpu");
    assert!(forbidden(&err).contains("exceeded quota: q, requested: pods=1,requests.cpu=700m"), "{err:?}");
    // A compute quota needs containers to say what they use.
    let err = pods.create(&pod("vague", json!({}))).await.expect_err("no requests");
    assert!(forbidden(&err).contains("failed quota: q: must specify requests.cpu for: c"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_quota_race_over_http_and_existing_objects_counted() {
    let store = store_with(&[], &[]).await;
    // Config maps made before the quota count against it.
    let maps: Api<k_api_types::core::v1::ConfigMap> = Api::namespaced(store.clone(), "team");
    for i in 0..3 {
        maps.create(&k_api_types::core::v1::ConfigMap::named(format!("old{i}"))).await.expect("map");
    }
    let quotas: Api<ResourceQuota> = Api::namespaced(store.clone(), "team");
    quotas.create(&quota(json!({"configmaps": "10", "count/configmaps": "10"}))).await.expect("quota");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = ApiServer::new(Arc::new(store.clone()), ServerConfig::default());
    tokio::spawn(async move { server.serve(listener, std::future::pending()).await });
    let remote = Arc::new(RemoteApi::connect(RemoteConfig::new(format!("http://{addr}"))).await.expect("connect"));
    let mut tasks = Vec::new();
    for i in 0..40 {
        let maps: Api<k_api_types::core::v1::ConfigMap> = Api::with_client(remote.clone(), Some("team".into()));
        tasks.push(tokio::spawn(async move {
            maps.create(&k_api_types::core::v1::ConfigMap::named(format!("new{i}"))).await
        }));
    }
    let mut created = 0;
    for task in tasks {
        if task.await.expect("task").is_ok() {
            created += 1;
        }
    }
    assert_eq!(created, 7, "10 allowed, 3 already there");
    assert_eq!(maps.list(&Default::default()).await.expect("list").items.len(), 10);
    let used = quotas.get("q").await.expect("quota").status.expect("status").used;
    assert_eq!(
        (used["configmaps"].to_string(), used["count/configmaps"].to_string()),
        ("10".to_owned(), "10".to_owned())
    );
}

#[tokio::test]
async fn plugins_are_chosen_by_flags() {
    let api: Arc<dyn ObjectApi> = Arc::new(Store::in_memory());
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<String>>();
    let all = Admission::from_flags(&[], &[], api.clone()).expect("defaults");
    assert_eq!(all.names(), k_apiserver::admission::DEFAULT_PLUGINS);
    let fewer = Admission::from_flags(&s(&["NamespaceLifecycle"]), &s(&["ResourceQuota", "LimitRanger"]), api.clone())
        .expect("flags");
    assert!(!fewer.names().contains(&"ResourceQuota") && !fewer.names().contains(&"LimitRanger"));
    let err = Admission::from_flags(&s(&["PodSecurity"]), &[], api.clone()).expect_err("not served");
    assert!(err.contains("not served"), "{err}");
    let err = Admission::from_flags(&s(&["Bogus"]), &[], api.clone()).expect_err("unknown");
    assert!(err.contains("unknown admission plugin"), "{err}");
    let err = Admission::from_flags(&s(&["Priority"]), &s(&["Priority"]), api).expect_err("both");
    assert!(err.contains("both enabled and disabled"), "{err}");
}

/// What the test's webhook server saw: (path, operation, namespace, user).
type Seen = Arc<std::sync::Mutex<Vec<(String, String, String, String)>>>;

/// A real HTTPS webhook server: `/mutate` annotates, `/validate` refuses
/// objects labelled `deny`, `/slow` answers after three seconds.
async fn webhook_server(pki: &k_apiserver::tls::Pki, seen: Seen) -> std::net::SocketAddr {
    use hyper::service::service_fn;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let acceptor = tokio_rustls::TlsAcceptor::from(
        k_apiserver::tls::server_config(&pki.serving.cert_pem, &pki.serving.key_pem, None).expect("tls"),
    );
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { continue };
            let (acceptor, seen) = (acceptor.clone(), seen.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let seen = seen.clone();
                    async move {
                        use http_body_util::BodyExt;
                        let path = request.uri().path().to_owned();
                        let body = request.into_body().collect().await.expect("body").to_bytes();
                        let review: Value = serde_json::from_slice(&body).expect("an AdmissionReview");
                        let req = &review["request"];
                        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
                        seen.lock().unwrap().push((
                            path.clone(),
                            text(&req["operation"]),
                            text(&req["namespace"]),
                            text(&req["userInfo"]["username"]),
                        ));
                        let mut response = json!({"uid": req["uid"], "allowed": true});
                        match path.as_str() {
                            "/mutate" => {
                                let patch = json!([{"op": "add", "path": "/metadata/annotations", "value": {"webhook.example.com/seen": "yes"}}]);
                                response["patchType"] = "JSONPatch".into();
                                response["patch"] = k_apiserver::admission::webhook::encode_patch(&patch).into();
                            }
                            "/validate" if req["object"]["metadata"]["labels"].get("deny").is_some() => {
                                response["allowed"] = false.into();
                                response["status"] =
                                    json!({"code": 403, "message": "objects labelled deny are refused"});
                            }
                            "/slow" => tokio::time::sleep(std::time::Duration::from_secs(3)).await,
                            _ => {}
                        }
                        let answer = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response});
                        Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(
                            bytes::Bytes::from(answer.to_string()),
                        )))
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    addr
}

fn webhook_config(kind: &str, name: &str, url: &str, ca: &str, resources: &str, policy: &str, extra: Value) -> Value {
    let mut hook = json!({
        "name": name,
        "clientConfig": {"url": url, "caBundle": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, ca)},
        "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": [resources]}],
        "failurePolicy": policy, "sideEffects": "None", "admissionReviewVersions": ["v1"], "timeoutSeconds": 1,
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        hook[k] = v;
    }
    json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
           "metadata": {"name": name.split('.').next().unwrap()}, "webhooks": [hook]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_mutate_and_validate_over_https() {
    let store = store_with(&[], &[]).await;
    let api: Arc<dyn ObjectApi> = Arc::new(store.clone());
    let dir = std::env::temp_dir().join(format!("k-webhook-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let pki = k_apiserver::tls::Pki::load_or_create(&dir, &[], &[]).expect("pki");
    let seen = Seen::default();
    let addr = webhook_server(&pki, seen.clone()).await;
    let url = |path: &str| format!("https://127.0.0.1:{}{path}", addr.port());
    let ca = pki.ca.cert_pem.clone();
    let user = k_store::api::UserInfo { username: "writer".into(), ..Default::default() };
    let create = |resource: &str, ns: &str, object: Value| {
        let (api, user) = (api.clone(), user.clone());
        let gvr = k_api_types::GroupVersionResource::new("", "v1", resource);
        let ns = ns.to_owned();
        async move { api.create(&gvr, &ns, serde_json::from_value(object).expect("object"), &user).await }
    };
    let configs = |kind: &str| {
        let plural = if kind.starts_with("Mutating") {
            "mutatingwebhookconfigurations"
        } else {
            "validatingwebhookconfigurations"
        };
        k_api_types::GroupVersionResource::new("admissionregistration.k8s.io", "v1", plural)
    };
    let register = |kind: &'static str, config: Value| {
        let (api, user) = (api.clone(), user.clone());
        async move {
            api.create(&configs(kind), "", serde_json::from_value(config).expect("config"), &user)
                .await
                .expect("webhook configuration")
        }
    };
    // Namespace team is labelled for the mutating webhook; default is not.
    let namespaces: Api<Namespace> = Api::all(store.clone());
    let mut team = namespaces.get("team").await.expect("team");
    team.metadata.labels.insert("webhooks".into(), "on".into());
    namespaces.update(&team).await.expect("label team");
    register(
        "MutatingWebhookConfiguration",
        webhook_config(
            "MutatingWebhookConfiguration",
            "annotate.example.com",
            &url("/mutate"),
            &ca,
            "pods",
            "Fail",
            json!({"namespaceSelector": {"matchLabels": {"webhooks": "on"}}}),
        ),
    )
    .await;
    register(
        "ValidatingWebhookConfiguration",
        webhook_config(
            "ValidatingWebhookConfiguration",
            "deny.example.com",
            &url("/validate"),
            &ca,
            "pods",
            "Fail",
            json!({}),
        ),
    )
    .await;

    let plain = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
    let mutated = create("pods", "team", plain.clone()).await.expect("admitted");
    assert_eq!(
        mutated.metadata.annotations.get("webhook.example.com/seen").map(String::as_str),
        Some("yes"),
        "the JSON patch applied"
    );
    let untouched = create("pods", "default", plain.clone()).await.expect("admitted");
    assert!(untouched.metadata.annotations.is_empty(), "the namespace selector excludes default");
    let mut denied = plain.clone();
    denied["metadata"] = json!({"name": "d", "labels": {"deny": "yes"}});
    let err = create("pods", "team", denied).await.expect_err("refused");
    assert_eq!(
        forbidden(&err),
        r#"admission webhook "deny.example.com" denied the request: objects labelled deny are refused"#
    );
    {
        let seen = seen.lock().unwrap();
        assert!(seen.contains(&("/mutate".into(), "CREATE".into(), "team".into(), "writer".into())), "{seen:?}");
        assert!(!seen.iter().any(|(p, _, ns, _)| p == "/mutate" && ns == "default"), "{seen:?}");
        assert_eq!(seen.iter().filter(|(p, ..)| p == "/validate").count(), 3, "{seen:?}");
    }

    // failurePolicy: an unreachable webhook is skipped under Ignore and
    // refuses under Fail; a slow one times out.
    register(
        "ValidatingWebhookConfiguration",
        webhook_config(
            "ValidatingWebhookConfiguration",
            "gone.example.com",
            "https://127.0.0.1:1/",
            &ca,
            "configmaps",
            "Ignore",
            json!({}),
        ),
    )
    .await;
    let map = |name: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
    create("configmaps", "team", map("ignored")).await.expect("Ignore lets it through");
    register(
        "ValidatingWebhookConfiguration",
        webhook_config(
            "ValidatingWebhookConfiguration",
            "strict.example.com",
            "https://127.0.0.1:1/",
            &ca,
            "configmaps",
            "Fail",
            json!({}),
        ),
    )
    .await;
    let err = create("configmaps", "team", map("refused")).await.expect_err("Fail refuses");
    assert!(
        matches!(&err, StoreError::Internal(m) if m.contains(r#"failed calling webhook "strict.example.com""#)),
        "{err:?}"
    );
    register(
        "ValidatingWebhookConfiguration",
        webhook_config(
            "ValidatingWebhookConfiguration",
            "slow.example.com",
            &url("/slow"),
            &ca,
            "secrets",
            "Fail",
            json!({}),
        ),
    )
    .await;
    let started = std::time::Instant::now();
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}});
    let err = create("secrets", "team", secret).await.expect_err("timed out");
    assert!(matches!(&err, StoreError::Internal(m) if m.contains("deadline exceeded")), "{err:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_millis(2500),
        "the 1 s timeout held: {:?}",
        started.elapsed()
    );
    // A webhook configuration itself is never sent to webhooks: with a
    // failing webhook on everything, configurations can still be written.
    let everything =
        json!({"rules": [{"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}]});
    register(
        "ValidatingWebhookConfiguration",
        webhook_config(
            "ValidatingWebhookConfiguration",
            "all.example.com",
            "https://127.0.0.1:1/",
            &ca,
            "*",
            "Fail",
            everything,
        ),
    )
    .await;
    let err = create(
        "services",
        "team",
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}),
    )
    .await
    .expect_err("the catch-all webhook is live");
    assert!(matches!(&err, StoreError::Internal(m) if m.contains("all.example.com")), "{err:?}");
    register(
        "MutatingWebhookConfiguration",
        webhook_config(
            "MutatingWebhookConfiguration",
            "later.example.com",
            "https://127.0.0.1:1/",
            &ca,
            "pods",
            "Ignore",
            json!({}),
        ),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_charges_only_what_is_written() {
    let store = store_with(&[], &[]).await;
    let quotas: Api<ResourceQuota> = Api::namespaced(store.clone(), "team");
    quotas.create(&quota(json!({"services": "3", "services.nodeports": "1", "configmaps": "2"}))).await.expect("quota");
    let used = |key: &'static str| {
        let quotas = quotas.clone();
        async move { quotas.get("q").await.expect("quota").status.and_then(|s| s.used.get(key).map(|q| q.to_string())) }
    };
    let services: Api<k_api_types::core::v1::Service> = Api::namespaced(store.clone(), "team");
    let service = |name: &str, kind: &str| -> k_api_types::core::v1::Service {
        typed(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                     "spec": {"type": kind, "ports": [{"port": 80}], "selector": {"app": name}}}))
    };
    services.create(&service("a", "ClusterIP")).await.expect("service");
    // An invalid object and a taken name charge nothing.
    let mut invalid = service("b", "ClusterIP");
    invalid.spec.ports.clear();
    services.create(&invalid).await.expect_err("invalid: no ports");
    services.create(&service("a", "ClusterIP")).await.expect_err("exists");
    assert_eq!(used("services").await.as_deref(), Some("1"));
    // An update charges what it adds: a node port.
    let mut a = services.get("a").await.expect("get");
    a.spec.type_ = Some("NodePort".into());
    services.update(&a).await.expect("to NodePort");
    assert_eq!(used("services.nodeports").await.as_deref(), Some("1"));
    services.create(&service("c", "NodePort")).await.expect_err("no node port left");
    let mut a = services.get("a").await.expect("get");
    a.spec.type_ = Some("ClusterIP".into());
    a.spec.external_traffic_policy = None;
    for port in &mut a.spec.ports {
        port.node_port = None;
    }
    services.update(&a).await.expect("back to ClusterIP");
    assert_eq!(used("services.nodeports").await.as_deref(), Some("0"), "the update gave the node port back");
    // A delete that fails before it starts gives nothing back.
    let maps: Api<k_api_types::core::v1::ConfigMap> = Api::namespaced(store.clone(), "team");
    maps.create(&k_api_types::core::v1::ConfigMap::named("m")).await.expect("map");
    let bogus = DeleteOptions { propagation_policy: Some("Bogus".into()), ..Default::default() };
    for _ in 0..3 {
        maps.delete("m", &bogus).await.expect_err("bad policy");
    }
    assert_eq!(used("configmaps").await.as_deref(), Some("1"));
    maps.delete("m", &DeleteOptions::default()).await.expect("delete");
    assert_eq!(used("configmaps").await.as_deref(), Some("0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_made_before_a_limit_range_can_still_be_updated() {
    let store = store_with(&[], &[]).await;
    let pods: Api<Pod> = Api::namespaced(store.clone(), "team");
    let big = pod(
        "big",
        json!({"containers": [{"name": "c", "image": "busybox", "resources": {"limits": {"memory": "2Gi"}}}]}),
    );
    pods.create(&big).await.expect("no limit range yet");
    let ranges: Api<k_api_types::core::v1::LimitRange> = Api::namespaced(store.clone(), "team");
    ranges
        .create(&typed(json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "l"},
                               "spec": {"limits": [{"type": "Container", "max": {"memory": "1Gi"}}]}})))
        .await
        .expect("limit range");
    let mut existing = pods.get("big").await.expect("get");
    existing.metadata.labels.insert("touched".into(), "yes".into());
    pods.update(&existing).await.expect("an update of an older pod is not re-checked");
}
