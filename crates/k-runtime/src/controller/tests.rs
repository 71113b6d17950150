use std::collections::HashMap;
use std::sync::Mutex;

use k_api_types::core::v1::{ConfigMap, Secret};
use k_api_types::meta::OwnerReference;
use k_store::{Api, Store, StoreError};

use super::*;
use crate::watcher::Config;

/// Keeps a Secret `<name>-copy` with the ConfigMap's data, owned by it.
#[derive(Default)]
struct Mirror {
    calls: Arc<Mutex<HashMap<String, usize>>>,
    /// Fail this many first attempts per object.
    fail_first: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Failed(String);

#[async_trait::async_trait]
impl Reconciler<ConfigMap> for Mirror {
    type Error = Failed;

    async fn reconcile(&self, cm: Arc<ConfigMap>, ctx: &Context) -> Result<Action, Failed> {
        let n = {
            let mut calls = self.calls.lock().unwrap();
            let n = calls.entry(cm.metadata.name.clone()).or_default();
            *n += 1;
            *n
        };
        if n <= self.fail_first {
            return Err(Failed(format!("attempt {n} fails on purpose (retries so far: {})", ctx.retries)));
        }
        let secrets: Api<Secret> = Api::with_client(ctx.api.clone(), Some(cm.metadata.namespace.clone()));
        let name = format!("{}-copy", cm.metadata.name);
        let mut secret = Secret::default();
        secret.metadata.name = name.clone();
        secret.metadata.namespace = cm.metadata.namespace.clone();
        secret.metadata.owner_references = vec![OwnerReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: cm.metadata.name.clone(),
            uid: cm.metadata.uid.clone(),
            controller: Some(true),
            ..Default::default()
        }];
        secret.string_data = cm.data.clone();
        let result = match secrets.get_opt(&name).await.map_err(|e| Failed(e.to_string()))? {
            None => secrets.create(&secret).await,
            Some(existing) => {
                secret.metadata.resource_version = existing.metadata.resource_version;
                secrets.update(&secret).await
            }
        };
        match result {
            Ok(_) => Ok(Action::AwaitChange),
            Err(StoreError::Conflict { .. }) => Ok(Action::RequeueAfter(Duration::from_millis(10))),
            Err(e) => Err(Failed(e.to_string())),
        }
    }
}

fn cm(name: &str, value: &str) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = name.into();
    cm.metadata.namespace = "ns".into();
    cm.data.insert("k".into(), value.into());
    cm
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn decoded(secret: &Secret, key: &str) -> String {
    secret.data.get(key).map(|b| String::from_utf8_lossy(&b.0).into_owned()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciles_creates_changes_and_owned_children() {
    let store = Store::in_memory();
    let api: Arc<dyn ObjectApi> = Arc::new(store.clone());
    mirror_scenario(store, api).await;
}

/// The same controller, unchanged, over HTTP: its informers and writes go
/// through the remote client to k-apiserver (watches ending every second).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_controller_runs_over_http() {
    let store = Store::in_memory();
    let remote = crate::test_support::over_http(&store, 1).await;
    mirror_scenario(store, remote).await;
}

/// The mirror controller's scenario, with the controller on `api` and the
/// test's own reads and writes on `store`.
async fn mirror_scenario(store: Store, api: Arc<dyn ObjectApi>) {
    let cms: Api<ConfigMap> = Api::namespaced(store.clone(), "ns");
    let secrets: Api<Secret> = Api::namespaced(store.clone(), "ns");
    cms.create(&cm("before", "1")).await.unwrap();

    let factory = Arc::new(InformerFactory::new(api.clone(), Config::default()));
    let reconciler = Mirror::default();
    let calls = reconciler.calls.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let controller = Controller::<ConfigMap>::new(factory, Some("ns"))
        .owns::<Secret>()
        .with_predicate(Predicate::GenerationChanged)
        .workers(2);
    let mut registry = Registry::default();
    controller.register_metrics(&mut registry);
    let run = tokio::spawn(controller.run(reconciler, api, async {
        let _ = stopped.await;
    }));

    // The object of the initial list, then a new one.
    eventually("the initial object is mirrored", async || secrets.get_opt("before-copy").await.unwrap().is_some())
        .await;
    cms.create(&cm("after", "1")).await.unwrap();
    eventually("a new object is mirrored", async || secrets.get_opt("after-copy").await.unwrap().is_some()).await;

    // A data change (a new generation) is reconciled...
    let mut changed = cms.get("after").await.unwrap();
    changed.data.insert("k".into(), "2".into());
    cms.update(&changed).await.unwrap();
    eventually("the change is mirrored", async || {
        secrets.get_opt("after-copy").await.unwrap().is_some_and(|s| decoded(&s, "k") == "2")
    })
    .await;
    // ...a label change is filtered out by the predicate (once the child's
    // own update, which wakes its owner too, has been reconciled)...
    let mut before = calls.lock().unwrap()["after"];
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = calls.lock().unwrap()["after"];
        if now == before {
            break;
        }
        before = now;
    }
    let mut labelled = cms.get("after").await.unwrap();
    labelled.metadata.labels.insert("x".into(), "y".into());
    cms.update(&labelled).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(calls.lock().unwrap()["after"], before, "no reconcile for a label change");

    // ...and a deleted child wakes its owner, which recreates it.
    secrets.delete("after-copy", &Default::default()).await.unwrap();
    eventually("the owned child is recreated", async || secrets.get_opt("after-copy").await.unwrap().is_some()).await;

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), run).await.expect("stops").unwrap();
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(text.contains("controller_reconcile_total{controller=\"configmaps\"}"), "{text}");
}

/// Declares a Secret `<name>-applied` with the ConfigMap's data by
/// server-side apply, as the controller's field manager.
struct ApplyMirror;

#[async_trait::async_trait]
impl Reconciler<ConfigMap> for ApplyMirror {
    type Error = StoreError;

    async fn reconcile(&self, cm: Arc<ConfigMap>, ctx: &Context) -> Result<Action, StoreError> {
        let mut secret = Secret::default();
        secret.metadata.name = format!("{}-applied", cm.metadata.name);
        secret.metadata.namespace = cm.metadata.namespace.clone();
        secret.metadata.owner_references = vec![crate::owner::owner_reference(&*cm, true)];
        secret.data = cm.data.iter().map(|(k, v)| (k.clone(), v.as_bytes().to_vec().into())).collect();
        ctx.applier().apply(&secret).await?;
        Ok(Action::AwaitChange)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applying_controller_keeps_other_managers_fields() {
    let store = Store::in_memory();
    let api: Arc<dyn ObjectApi> = Arc::new(store.clone());
    apply_scenario(store, api).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applying_controller_runs_over_http() {
    let store = Store::in_memory();
    let remote = crate::test_support::over_http(&store, 1).await;
    apply_scenario(store, remote).await;
}

/// The apply controller owns the data it applies and nothing else: a label
/// another manager applies survives its next apply, and a key removed from
/// the ConfigMap leaves the Secret.
async fn apply_scenario(store: Store, api: Arc<dyn ObjectApi>) {
    let cms: Api<ConfigMap> = Api::namespaced(store.clone(), "ns");
    let secrets: Api<Secret> = Api::namespaced(store.clone(), "ns");
    let mut source = cm("src", "1");
    source.data.insert("extra".into(), "x".into());
    cms.create(&source).await.unwrap();
    let factory = Arc::new(InformerFactory::new(api.clone(), Config::default()));
    let controller = Controller::<ConfigMap>::new(factory, Some("ns")).named("mirror").owns::<Secret>();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(controller.run(ApplyMirror, api.clone(), async {
        let _ = stopped.await;
    }));

    eventually("the secret is applied", async || secrets.get_opt("src-applied").await.unwrap().is_some()).await;
    let applied = secrets.get("src-applied").await.unwrap();
    let managers: Vec<_> = applied.metadata.managed_fields.iter().map(|e| (&*e.manager, &*e.operation)).collect();
    assert_eq!(managers, [("mirror", "Apply")]);
    assert_eq!(applied.metadata.owner_references[0].uid, cms.get("src").await.unwrap().metadata.uid);

    // Someone else labels the Secret by their own apply.
    let mut label = Secret::default();
    label.metadata.name = "src-applied".into();
    label.metadata.namespace = "ns".into();
    label.metadata.labels.insert("team".into(), "blue".into());
    crate::apply::Applier::new(api.clone(), "human").without_force().apply(&label).await.unwrap();

    // The ConfigMap changes: the data follows, the label stays, the removed key goes.
    let mut changed = cms.get("src").await.unwrap();
    changed.data.insert("k".into(), "2".into());
    changed.data.remove("extra");
    cms.update(&changed).await.unwrap();
    eventually("the change is applied", async || {
        secrets.get("src-applied").await.is_ok_and(|s| decoded(&s, "k") == "2" && !s.data.contains_key("extra"))
    })
    .await;
    let secret = secrets.get("src-applied").await.unwrap();
    assert_eq!(secret.metadata.labels.get("team").map(String::as_str), Some("blue"), "another manager's label kept");

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), run).await.expect("stops").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_with_backoff_until_they_succeed() {
    let store = Store::in_memory();
    let api: Arc<dyn ObjectApi> = Arc::new(store.clone());
    let cms: Api<ConfigMap> = Api::namespaced(store.clone(), "ns");
    let secrets: Api<Secret> = Api::namespaced(store.clone(), "ns");
    let factory = Arc::new(InformerFactory::new(api.clone(), Config::default()));
    let reconciler = Mirror { fail_first: 3, ..Default::default() };
    let calls = reconciler.calls.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(Controller::<ConfigMap>::new(factory, Some("ns")).run(reconciler, api, async {
        let _ = stopped.await;
    }));
    cms.create(&cm("flaky", "1")).await.unwrap();
    eventually("mirrored after three failures", async || secrets.get_opt("flaky-copy").await.unwrap().is_some()).await;
    assert_eq!(calls.lock().unwrap()["flaky"], 4, "three failures (5, 10, 20 ms apart), then success");
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), run).await.expect("stops").unwrap();
}

/// Panics on its first reconcile, then succeeds; counts its calls.
struct PanicsOnce(Arc<std::sync::atomic::AtomicUsize>);

#[async_trait::async_trait]
impl Reconciler<ConfigMap> for PanicsOnce {
    type Error = Failed;

    async fn reconcile(&self, _: Arc<ConfigMap>, _: &Context) -> Result<Action, Failed> {
        if self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            panic!("the first reconcile panics on purpose");
        }
        Ok(Action::AwaitChange)
    }
}

/// A panic in a reconcile is retried like an error, the worker survives,
/// and the controller still shuts down (the key was marked done).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_reconcile_is_retried_and_shutdown_still_drains() {
    let store = Store::in_memory();
    let api: Arc<dyn ObjectApi> = Arc::new(store.clone());
    Api::<ConfigMap>::namespaced(store.clone(), "ns").create(&cm("a", "1")).await.unwrap();
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let factory = Arc::new(InformerFactory::new(api.clone(), Config::default()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(Controller::<ConfigMap>::new(factory, Some("ns")).workers(1).run(
        PanicsOnce(calls.clone()),
        api,
        async {
            let _ = stopped.await;
        },
    ));
    eventually("reconciled again after the panic", async || calls.load(std::sync::atomic::Ordering::SeqCst) >= 2).await;
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), run).await.expect("stops").unwrap();
}

/// Dropping a running controller (as a manager that lost its lease does)
/// stops its workers: later changes are not reconciled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_controller_reconciles_nothing_more() {
    let store = Store::in_memory();
    let api: Arc<dyn ObjectApi> = Arc::new(store.clone());
    let cms: Api<ConfigMap> = Api::namespaced(store.clone(), "ns");
    let factory = Arc::new(InformerFactory::new(api.clone(), Config::default()));
    let reconciler = Mirror::default();
    let calls = reconciler.calls.clone();
    let run = tokio::spawn(Controller::<ConfigMap>::new(factory, Some("ns")).run(
        reconciler,
        api,
        futures::future::pending(),
    ));
    cms.create(&cm("before", "1")).await.unwrap();
    eventually("the controller runs", async || calls.lock().unwrap().contains_key("before")).await;
    run.abort();
    let _ = run.await;
    cms.create(&cm("after", "1")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!calls.lock().unwrap().contains_key("after"), "a dropped controller reconciled");
}
