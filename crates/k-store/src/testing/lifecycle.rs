//! Conformance of the object lifecycle ([`Store`]) over any
//! backend: run with [`store_conformance_tests!`](crate::store_conformance_tests).
//! Test support: every function panics on the first violation.

use k_api_types::SortedMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k_api_types::apps::v1::Deployment;
use k_api_types::core::v1::{ConfigMap, Container, Namespace, Pod, PodStatus};
use k_api_types::meta::{DeleteOptions, LabelSelector, ObjectMeta, Preconditions, WatchEvent};
use k_api_types::{ApiResource, DynamicObject, GroupVersionKind, Resource};

use crate::admission::{AdmissionHook, AdmissionRequest};
use crate::api::{
    DeleteOutcome, ListOptions, ObjectApi, Operation, Patch, ResourceVersionMatch, UserInfo, WatchOptions,
};
use crate::{Api, Store, StoreError};

/// What a lifecycle check runs against: the object API under test (the
/// store itself, or a client of a server in front of it) and the [`Store`]
/// behind it, for what has no API (compaction, admission hooks, registering
/// a resource).
#[derive(Clone, Debug)]
pub struct Harness {
    /// The API under test.
    pub api: Arc<dyn ObjectApi>,
    /// The store behind it.
    pub store: Store,
}

impl Harness {
    /// The store tested directly.
    pub fn local(store: Store) -> Self {
        Self { api: Arc::new(store.clone()), store }
    }

    /// A typed API of one namespace, through the API under test.
    pub fn ns<K: Resource>(&self, namespace: &str) -> Api<K> {
        Api::with_client(Arc::clone(&self.api), Some(namespace.to_owned()))
    }

    /// A typed API of all namespaces (or of a cluster-scoped kind).
    pub fn all<K: Resource>(&self) -> Api<K> {
        Api::with_client(Arc::clone(&self.api), None)
    }
}

/// Expands to one `#[tokio::test]` per lifecycle check, each on a fresh store
/// from `$factory` (an async expression evaluating to a [`Store`](crate::Store)).
/// The checks themselves take a [`Harness`], so that other implementations
/// of the object API (a remote client) can run them too.
#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:expr) => {
        $crate::store_conformance_tests!(@tests $factory;
            create_sets_system_fields, generation_tracks_spec_only, status_path_is_isolated,
            optimistic_concurrency, finalizers_and_graceful_deletion, propagation_policy_finalizers,
            namespace_lifecycle,
            pod_graceful_deletion, validation_and_defaulting, admission_hooks, selectors,
            pagination_is_consistent, list_resource_version_semantics, watch_semantics,
            patches, strategic_merge_patches, server_side_apply, guaranteed_update_contention,
            delete_collection, custom_resources);
    };
    (@tests $factory:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $crate::testing::lifecycle::$name($crate::testing::lifecycle::Harness::local($factory.await)).await;
            }
        )*
    };
}

fn pod(name: &str, labels: &[(&str, &str)]) -> Pod {
    let mut p = Pod::named(name);
    p.metadata.labels = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    p.spec.containers = vec![Container { name: "c".into(), image: Some("busybox:1.36".into()), ..Default::default() }];
    p
}

fn config_map(name: &str) -> ConfigMap {
    let mut c = ConfigMap::named(name);
    c.data.insert("k".into(), "v".into());
    c
}

/// Create sets uid, creationTimestamp, generation 1 and a numeric
/// resourceVersion; a second create is AlreadyExists; generateName works.
pub async fn create_sets_system_fields(h: Harness) {
    let api: Api<ConfigMap> = h.ns("ns1");
    let c = api.create(&config_map("a")).await.expect("create");
    assert!(!c.metadata.uid.is_empty());
    assert!(c.metadata.creation_timestamp.is_some());
    assert_eq!(c.metadata.generation, Some(1));
    assert_eq!(c.metadata.namespace, "ns1");
    assert!(c.metadata.resource_version.parse::<i64>().expect("numeric rv") > 0);
    let err = api.create(&config_map("a")).await.expect_err("duplicate");
    assert!(err.is_already_exists(), "{err}");
    assert_eq!(err.status().reason, "AlreadyExists");
    assert_eq!(err.status().code, 409);
    let mut g = ConfigMap::default();
    g.metadata.generate_name = "gen-".into();
    let g = api.create(&g).await.expect("generateName");
    assert!(g.metadata.name.starts_with("gen-") && g.metadata.name.len() == 9, "{}", g.metadata.name);
    let mut with_rv = config_map("b");
    with_rv.metadata.resource_version = "5".into();
    assert!(matches!(api.create(&with_rv).await, Err(StoreError::BadRequest(_))));
    let err = api.get("missing").await.expect_err("missing");
    assert!(err.is_not_found());
    assert_eq!(err.to_string(), "configmaps \"missing\" not found");
}

/// Generation starts at 1 and is bumped by spec changes only.
pub async fn generation_tracks_spec_only(h: Harness) {
    let api: Api<Deployment> = h.ns("ns1");
    let mut d = Deployment::named("web");
    d.spec.selector = Some(LabelSelector::from_labels([("app", "web")]));
    d.spec.template.metadata.labels = SortedMap::from([("app".into(), "web".into())]);
    d.spec.template.spec.containers = pod("x", &[]).spec.containers;
    let d = api.create(&d).await.expect("create");
    assert_eq!(d.metadata.generation, Some(1));
    assert_eq!(d.spec.replicas, Some(1), "defaulted");
    let mut labelled = d.clone();
    labelled.metadata.labels.insert("team".into(), "a".into());
    let labelled = api.update(&labelled).await.expect("label update");
    assert_eq!(labelled.metadata.generation, Some(1), "metadata changes keep generation");
    let mut scaled = labelled.clone();
    scaled.spec.replicas = Some(3);
    let scaled = api.update(&scaled).await.expect("scale");
    assert_eq!(scaled.metadata.generation, Some(2));
    let unchanged = api.update(&scaled).await.expect("no-op");
    assert_eq!(unchanged.metadata.resource_version, scaled.metadata.resource_version, "no-op updates do not write");
}

/// The main path cannot change status; the status path changes only status.
pub async fn status_path_is_isolated(h: Harness) {
    let api: Api<Pod> = h.ns("ns1");
    let p = api.create(&pod("p", &[])).await.expect("create");
    assert_eq!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Pending"));
    let mut via_main = p.clone();
    via_main.status = Some(PodStatus { phase: Some("Running".into()), ..Default::default() });
    let after = api.update(&via_main).await.expect("main update");
    assert_eq!(after.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Pending"), "main path keeps status");
    let mut via_status = after.clone();
    via_status.status = Some(PodStatus { phase: Some("Running".into()), ..Default::default() });
    via_status.metadata.labels.insert("ignored".into(), "yes".into());
    via_status.spec.active_deadline_seconds = Some(100);
    let after = api.update_status(&via_status).await.expect("status update");
    assert_eq!(after.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Running"));
    assert!(!after.metadata.labels.contains_key("ignored"), "status path keeps metadata");
    assert_eq!(after.spec.active_deadline_seconds, None, "status path keeps spec");
    assert_eq!(after.metadata.generation, p.metadata.generation);
    let cms: Api<ConfigMap> = h.ns("ns1");
    let c = cms.create(&config_map("no-status")).await.expect("create");
    let err = cms.update_status(&c).await.expect_err("configmaps have no status");
    assert!(err.is_not_found(), "{err}");
}

/// Stale resourceVersions and wrong uids are Conflicts.
pub async fn optimistic_concurrency(h: Harness) {
    let api: Api<ConfigMap> = h.ns("ns1");
    let v1 = api.create(&config_map("c")).await.expect("create");
    let mut v2 = v1.clone();
    v2.data.insert("k".into(), "v2".into());
    api.update(&v2).await.expect("update");
    let mut stale = v1.clone();
    stale.data.insert("k".into(), "stale".into());
    let err = api.update(&stale).await.expect_err("stale");
    assert!(err.is_conflict(), "{err}");
    assert_eq!(err.status().code, 409);
    assert!(err.to_string().contains("the object has been modified"), "{err}");
    let mut wrong_uid = api.get("c").await.expect("get");
    wrong_uid.metadata.uid = "not-it".into();
    assert!(api.update(&wrong_uid).await.expect_err("uid").is_conflict());
    let mut unconditional = api.get("c").await.expect("get");
    unconditional.metadata.resource_version.clear();
    unconditional.data.insert("k".into(), "v3".into());
    assert_eq!(api.update(&unconditional).await.expect("unconditional").data["k"], "v3");
    let pre = DeleteOptions {
        preconditions: Some(Preconditions { uid: Some("other".into()), resource_version: None }),
        ..Default::default()
    };
    assert!(api.delete("c", &pre).await.expect_err("delete precondition").is_conflict());
}

/// Objects with finalizers are only marked; removing the last finalizer deletes them.
pub async fn finalizers_and_graceful_deletion(h: Harness) {
    let api: Api<ConfigMap> = h.ns("ns1");
    let mut c = config_map("f");
    c.metadata.finalizers = vec!["example.com/hold".into()];
    let c = api.create(&c).await.expect("create");
    let mut watch = api
        .watch(&WatchOptions { resource_version: Some(c.metadata.resource_version.clone()), ..Default::default() })
        .await
        .expect("watch");
    let outcome = api.delete("f", &DeleteOptions::default()).await.expect("delete");
    let DeleteOutcome::Pending(marked) = outcome else { panic!("expected pending, got {outcome:?}") };
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert_eq!(marked.metadata.deletion_grace_period_seconds, Some(0));
    let still = api.get("f").await.expect("still there");
    assert!(still.metadata.deletion_timestamp.is_some());
    // Deleting again changes nothing.
    assert!(matches!(api.delete("f", &DeleteOptions::default()).await.expect("again"), DeleteOutcome::Pending(_)));
    let mut release = still.clone();
    release.metadata.finalizers.clear();
    api.update(&release).await.expect("remove finalizer");
    assert!(api.get_opt("f").await.expect("get").is_none(), "gone after the last finalizer");
    let mut kinds = Vec::new();
    while kinds.last().map(String::as_str) != Some("DELETED") {
        let event = tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .expect("event")
            .expect("open")
            .expect("ok");
        kinds.push(event.type_name().to_owned());
    }
    assert_eq!(kinds, ["MODIFIED", "DELETED"]);
}

/// Orphan and Foreground propagation add the garbage collector's finalizers.
pub async fn propagation_policy_finalizers(h: Harness) {
    let api: Api<ConfigMap> = h.ns("ns1");
    for (name, policy, finalizer) in [("o", "Orphan", "orphan"), ("fg", "Foreground", "foregroundDeletion")] {
        api.create(&config_map(name)).await.expect("create");
        let options = DeleteOptions { propagation_policy: Some(policy.into()), ..Default::default() };
        let DeleteOutcome::Pending(obj) = api.delete(name, &options).await.expect("delete") else { panic!("pending") };
        assert_eq!(obj.metadata.finalizers, [finalizer.to_owned()]);
    }
    api.create(&config_map("bg")).await.expect("create");
    let options = DeleteOptions { propagation_policy: Some("Background".into()), ..Default::default() };
    assert!(matches!(api.delete("bg", &options).await.expect("delete"), DeleteOutcome::Deleted(_)));
    let bad = DeleteOptions { propagation_policy: Some("Sideways".into()), ..Default::default() };
    api.create(&config_map("x")).await.expect("create");
    assert!(matches!(api.delete("x", &bad).await, Err(StoreError::BadRequest(_))));
}

/// A namespace stays `Terminating` while `spec.finalizers` hold entries;
/// those change only through the finalize path, and a terminating
/// namespace left without them is removed.
pub async fn namespace_lifecycle(h: Harness) {
    let api: Api<Namespace> = h.all();
    let named = |name: &str| Namespace {
        metadata: ObjectMeta { name: name.into(), ..Default::default() },
        ..Default::default()
    };
    let created = api.create(&named("doomed")).await.expect("create");
    assert_eq!(created.spec.finalizers, ["kubernetes"]);
    assert_eq!(created.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Active"));
    // A plain update cannot drop the finalizer.
    let mut stripped = created.clone();
    stripped.spec.finalizers.clear();
    stripped.metadata.labels.insert("touched".into(), "yes".into());
    let updated = api.update(&stripped).await.expect("update");
    assert_eq!(updated.spec.finalizers, ["kubernetes"]);
    assert_eq!(updated.metadata.labels.get("touched").map(String::as_str), Some("yes"));
    // Deleting leaves it Terminating, as often as it is asked.
    for _ in 0..2 {
        let DeleteOutcome::Pending(ns) = api.delete("doomed", &DeleteOptions::default()).await.expect("delete") else {
            panic!("a namespace with spec finalizers is deleted gracefully")
        };
        assert!(ns.metadata.deletion_timestamp.is_some());
        assert_eq!(ns.data.get("status").and_then(|s| s.get("phase")).and_then(|p| p.as_str()), Some("Terminating"));
    }
    let terminating = api.get("doomed").await.expect("still there");
    // A status write keeps the finalizers and the namespace.
    let mut status = terminating.clone();
    status.spec.finalizers.clear();
    let after_status = api.update_status(&status).await.expect("status");
    assert_eq!(after_status.spec.finalizers, ["kubernetes"]);
    // Finalize: only spec.finalizers change; emptied, the namespace goes.
    let mut finalized = terminating.clone();
    finalized.spec.finalizers.clear();
    finalized.metadata.labels.insert("ignored".into(), "by finalize".into());
    api.finalize(&finalized).await.expect("finalize");
    assert!(api.get_opt("doomed").await.expect("get").is_none(), "finalized terminating namespace is gone");

    // An active namespace finalized to nothing lives on, and is then
    // deleted at once.
    let active = api.create(&named("quick")).await.expect("create");
    let mut empty = active.clone();
    empty.spec.finalizers.clear();
    empty.metadata.labels.insert("ignored".into(), "by finalize".into());
    let kept = api.finalize(&empty).await.expect("finalize");
    assert!(kept.spec.finalizers.is_empty());
    assert!(!kept.metadata.labels.contains_key("ignored"), "finalize changes nothing but spec.finalizers");
    let relabelled = api.update(&kept).await.expect("update");
    assert!(relabelled.spec.finalizers.is_empty(), "defaulting does not bring the finalizer back on update");
    assert!(matches!(api.delete("quick", &DeleteOptions::default()).await.expect("delete"), DeleteOutcome::Deleted(_)));
}

/// A pod bound to a node waits for its grace period; grace 0 deletes it.
pub async fn pod_graceful_deletion(h: Harness) {
    let api: Api<Pod> = h.ns("ns1");
    api.create(&pod("unbound", &[])).await.expect("create");
    assert!(matches!(
        api.delete("unbound", &DeleteOptions::default()).await.expect("delete"),
        DeleteOutcome::Deleted(_)
    ));
    let mut bound = pod("bound", &[]);
    bound.spec.node_name = Some("node-1".into());
    api.create(&bound).await.expect("create");
    let DeleteOutcome::Pending(p) = api.delete("bound", &DeleteOptions::default()).await.expect("delete") else {
        panic!("pending")
    };
    assert_eq!(p.metadata.deletion_grace_period_seconds, Some(30));
    // While its grace period runs, the pod takes status writes (its node
    // agent reports the containers stopping) and stays.
    let mut terminating = api.get("bound").await.expect("get");
    terminating.status.get_or_insert_with(Default::default).phase = Some("Failed".into());
    let written = api.update_status(&terminating).await.expect("status during the grace period");
    assert_eq!(written.status.and_then(|s| s.phase).as_deref(), Some("Failed"));
    assert!(api.get_opt("bound").await.expect("get").is_some(), "a status write does not delete a terminating pod");
    let force = DeleteOptions { grace_period_seconds: Some(0), ..Default::default() };
    assert!(matches!(api.delete("bound", &force).await.expect("force"), DeleteOutcome::Deleted(_)));
}

/// Invalid objects are rejected with every cause; defaults are applied.
pub async fn validation_and_defaulting(h: Harness) {
    let api: Api<Pod> = h.ns("ns1");
    let mut bad = pod("Bad_Name", &[]);
    bad.spec.containers[0].image = None;
    let err = api.create(&bad).await.expect_err("invalid");
    let status = err.status();
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    let fields: Vec<_> = status.details.expect("details").causes.into_iter().map(|c| c.field).collect();
    assert_eq!(fields, ["metadata.name", "spec.containers[0].image"]);
    let created = api.create(&pod("good", &[])).await.expect("create");
    assert_eq!(created.spec.restart_policy.as_deref(), Some("Always"));
    assert_eq!(created.spec.containers[0].image_pull_policy.as_deref(), Some("IfNotPresent"));
    let mut changed = created.clone();
    changed.spec.containers[0].name = "renamed".into();
    let err = api.update(&changed).await.expect_err("pod spec is immutable");
    assert!(err.is_invalid(), "{err}");
}

#[derive(Debug)]
struct LabelAndDeny;

#[async_trait::async_trait]
impl AdmissionHook for LabelAndDeny {
    async fn admit(&self, request: &mut AdmissionRequest<'_>) -> crate::Result<()> {
        if request.name == "denied" {
            return Err(StoreError::Forbidden(format!(
                "{} \"denied\" is forbidden by policy",
                request.resource.plural
            )));
        }
        if let (Operation::Create, Some(obj)) = (request.operation, request.object.as_deref_mut()) {
            obj.metadata_mut().labels.insert("admitted-by".into(), request.user.username.clone());
        }
        Ok(())
    }
}

/// Admission hooks can mutate and reject.
pub async fn admission_hooks(h: Harness) {
    h.store.add_admission(Arc::new(LabelAndDeny));
    let api: Api<ConfigMap> = h.ns("ns1").as_user(UserInfo::named("alice"));
    let c = api.create(&config_map("ok")).await.expect("create");
    assert_eq!(c.metadata.labels["admitted-by"], "alice");
    let err = api.create(&config_map("denied")).await.expect_err("denied");
    assert_eq!(err.status().code, 403);
}

/// Label and field selectors on list; unsupported fields are a BadRequest.
pub async fn selectors(h: Harness) {
    let api: Api<Pod> = h.ns("ns1");
    for (name, app, node) in [("a", "web", "n1"), ("b", "web", "n2"), ("c", "db", "n1")] {
        let mut p = pod(name, &[("app", app)]);
        p.spec.node_name = Some(node.into());
        api.create(&p).await.expect("create");
    }
    let names =
        |l: k_api_types::meta::ObjectList<Pod>| l.items.into_iter().map(|p| p.metadata.name).collect::<Vec<_>>();
    assert_eq!(names(api.list(&ListOptions::labels("app=web")).await.expect("list")), ["a", "b"]);
    assert_eq!(names(api.list(&ListOptions::labels("app in (db),app!=web")).await.expect("list")), ["c"]);
    assert_eq!(names(api.list(&ListOptions::fields("spec.nodeName=n1")).await.expect("list")), ["a", "c"]);
    let both = ListOptions {
        label_selector: Some("app=web".into()),
        field_selector: Some("spec.nodeName=n1".into()),
        ..Default::default()
    };
    assert_eq!(names(api.list(&both).await.expect("list")), ["a"]);
    let err = api.list(&ListOptions::fields("spec.foo=x")).await.expect_err("unsupported field");
    assert_eq!(err.to_string(), "field label not supported: spec.foo");
    assert!(matches!(api.list(&ListOptions::labels("app in (")).await, Err(StoreError::BadRequest(_))));
    let all: Api<Pod> = h.all();
    assert_eq!(all.list(&ListOptions::default()).await.expect("all").items.len(), 3);
    let other: Api<Pod> = h.ns("ns2");
    assert!(other.list(&ListOptions::default()).await.expect("other").items.is_empty());
}

/// Pages keep the revision of the first page while writes happen.
pub async fn pagination_is_consistent(h: Harness) {
    let api: Api<ConfigMap> = h.ns("ns1");
    for i in 0..5 {
        api.create(&config_map(&format!("cm-{i}"))).await.expect("create");
    }
    let mut options = ListOptions { limit: 2, ..Default::default() };
    let first = api.list(&options).await.expect("page 1");
    assert_eq!(first.items.len(), 2);
    assert!(!first.metadata.continue_.is_empty());
    // Writes between pages are not seen by later pages.
    api.create(&config_map("cm-2a")).await.expect("create");
    api.delete("cm-4", &DeleteOptions::default()).await.expect("delete");
    let mut names: Vec<String> = first.items.iter().map(|c| c.metadata.name.clone()).collect();
    let mut continue_token = first.metadata.continue_.clone();
    while !continue_token.is_empty() {
        options.continue_token = Some(continue_token);
        let page = api.list(&options).await.expect("next page");
        assert_eq!(page.metadata.resource_version, first.metadata.resource_version);
        names.extend(page.items.iter().map(|c| c.metadata.name.clone()));
        continue_token = page.metadata.continue_.clone();
    }
    assert_eq!(names, ["cm-0", "cm-1", "cm-2", "cm-3", "cm-4"]);
    let bad = ListOptions { continue_token: Some("!!".into()), ..Default::default() };
    assert!(matches!(api.list(&bad).await, Err(StoreError::BadRequest(_))));
}

/// resourceVersion on list: Exact reads the past; future is too large; compacted is Expired.
pub async fn list_resource_version_semantics(h: Harness) {
    let api: Api<ConfigMap> = h.ns("ns1");
    let c = api.create(&config_map("v")).await.expect("create");
    let rv1 = c.metadata.resource_version.clone();
    let mut c2 = c.clone();
    c2.data.insert("k".into(), "v2".into());
    api.update(&c2).await.expect("update");
    let exact = ListOptions {
        resource_version: Some(rv1.clone()),
        resource_version_match: Some(ResourceVersionMatch::Exact),
        ..Default::default()
    };
    let old = api.list(&exact).await.expect("exact");
    assert_eq!(old.items[0].data["k"], "v");
    assert_eq!(old.metadata.resource_version, rv1);
    let latest =
        api.list(&ListOptions { resource_version: Some("0".into()), ..Default::default() }).await.expect("any");
    assert_eq!(latest.items[0].data["k"], "v2");
    let future = ListOptions { resource_version: Some("999999999".into()), ..Default::default() };
    let err = api.list(&future).await.expect_err("future");
    assert!(matches!(err, StoreError::TooLargeResourceVersion { .. }), "{err}");
    let current = h.store.backend().revision().await.expect("revision");
    h.store.backend().compact(current).await.expect("compact");
    let err = api.list(&exact).await.expect_err("compacted");
    assert!(err.is_expired(), "{err}");
    assert_eq!(err.status().code, 410);
}

/// Watch from no revision sends the state first; from a revision only changes;
/// label changes move objects in and out of a selected watch.
pub async fn watch_semantics(h: Harness) {
    let api: Api<Pod> = h.ns("ns1");
    let a = api.create(&pod("a", &[("app", "web")])).await.expect("create");
    api.create(&pod("b", &[("app", "db")])).await.expect("create");
    let mut from_state =
        api.watch(&WatchOptions { label_selector: Some("app=web".into()), ..Default::default() }).await.expect("watch");
    let mut from_rv = api
        .watch(&WatchOptions { resource_version: Some(a.metadata.resource_version.clone()), ..Default::default() })
        .await
        .expect("watch");
    let mut streaming = api
        .watch(&WatchOptions { send_initial_events: true, allow_bookmarks: true, ..Default::default() })
        .await
        .expect("watch");
    let mut moved = api.get("b").await.expect("get");
    moved.metadata.labels.insert("app".into(), "web".into());
    api.update(&moved).await.expect("relabel in");
    let mut out = api.get("a").await.expect("get");
    out.metadata.labels.insert("app".into(), "other".into());
    api.update(&out).await.expect("relabel out");
    async fn next(s: &mut futures::stream::BoxStream<'static, crate::Result<WatchEvent<Pod>>>) -> (String, String) {
        let e =
            tokio::time::timeout(Duration::from_secs(10), s.next()).await.expect("in time").expect("open").expect("ok");
        let name = e.object().map(|p| p.metadata.name.clone()).unwrap_or_default();
        (e.type_name().to_owned(), name)
    }
    let expect = |v: &[(&str, &str)]| v.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect::<Vec<_>>();
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(next(&mut from_state).await);
    }
    assert_eq!(got, expect(&[("ADDED", "a"), ("ADDED", "b"), ("DELETED", "a")]));
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(next(&mut from_rv).await);
    }
    assert_eq!(got, expect(&[("ADDED", "b"), ("MODIFIED", "b"), ("MODIFIED", "a")]));
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(next(&mut streaming).await);
    }
    assert_eq!(got, expect(&[("ADDED", "a"), ("ADDED", "b"), ("BOOKMARK", "")]));
}

/// JSON patch and merge patch; a bad patch is a BadRequest.
pub async fn patches(h: Harness) {
    let api: Api<ConfigMap> = h.ns("ns1");
    api.create(&config_map("p")).await.expect("create");
    let merged =
        api.patch("p", &Patch::Merge(serde_json::json!({"data": {"k": null, "new": "1"}}))).await.expect("merge");
    assert_eq!(merged.data, SortedMap::from([("new".into(), "1".into())]));
    let ops = serde_json::json!([{"op": "add", "path": "/metadata/labels", "value": {"x": "y"}}]);
    let patched = api.patch("p", &Patch::Json(ops)).await.expect("json patch");
    assert_eq!(patched.metadata.labels["x"], "y");
    let bad = serde_json::json!([{"op": "remove", "path": "/nope"}]);
    assert!(matches!(api.patch("p", &Patch::Json(bad)).await, Err(StoreError::BadRequest(_))));
    let stale = serde_json::json!({"metadata": {"resourceVersion": "1"}, "data": {"z": "1"}});
    assert!(api.patch("p", &Patch::Merge(stale)).await.expect_err("precondition").is_conflict());
}

/// N tasks × M guaranteed updates of one counter end at exactly N×M.
pub async fn guaranteed_update_contention(h: Harness) {
    const TASKS: usize = 8;
    const UPDATES: usize = 25;
    let api: Api<ConfigMap> = h.ns("ns1");
    let mut counter = config_map("counter");
    counter.data.insert("n".into(), "0".into());
    api.create(&counter).await.expect("create");
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..UPDATES {
                api.guaranteed_update("counter", |c| {
                    let n: usize = c.data["n"].parse().expect("number");
                    c.data.insert("n".into(), (n + 1).to_string());
                })
                .await
                .expect("guaranteed update");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    assert_eq!(api.get("counter").await.expect("get").data["n"], (TASKS * UPDATES).to_string());
}

/// delete_collection deletes what the selector selects.
pub async fn delete_collection(h: Harness) {
    let api: Api<ConfigMap> = h.ns("ns1");
    for (name, tier) in [("a", "x"), ("b", "x"), ("c", "y")] {
        let mut c = config_map(name);
        c.metadata.labels.insert("tier".into(), tier.into());
        api.create(&c).await.expect("create");
    }
    let deleted =
        api.delete_collection(&ListOptions::labels("tier=x"), &DeleteOptions::default()).await.expect("delete");
    assert_eq!(deleted.len(), 2);
    let left: Vec<_> =
        api.list(&ListOptions::default()).await.expect("list").items.into_iter().map(|c| c.metadata.name).collect();
    assert_eq!(left, ["c"]);
}

/// Registered custom resources are served dynamically; unknown ones are NotFound.
pub async fn custom_resources(h: Harness) {
    let gvr = k_api_types::GroupVersionResource::new("example.org", "v1", "caches");
    assert!(h.api.resource(&gvr).is_err());
    h.store
        .register(ApiResource {
            group: "example.org".into(),
            version: "v1".into(),
            kind: "Cache".into(),
            plural: "caches".into(),
            singular: "cache".into(),
            namespaced: true,
            verbs: k_api_types::resource::ALL_VERBS.iter().map(|s| (*s).to_owned()).collect(),
            subresources: vec!["status".into()],
            ..Default::default()
        })
        .expect("register");
    let mut obj = DynamicObject::new(&GroupVersionKind::new("example.org", "v1", "Cache"), "sessions");
    obj.data.insert("spec".into(), serde_json::json!({"engine": "valkey"}));
    obj.data.insert("status".into(), serde_json::json!({"ready": true}));
    let user = UserInfo::default();
    let created = h.api.create(&gvr, "ns1", obj, &user).await.expect("create");
    assert!(created.data.get("status").is_none(), "status is written through the status path");
    let got = h.api.get(&gvr, "ns1", "sessions").await.expect("get");
    assert_eq!(got.data["spec"]["engine"], "valkey");
    let mut status = got.clone();
    status.data.insert("status".into(), serde_json::json!({"ready": true}));
    let updated = h.api.update_status(&gvr, "ns1", status, &user).await.expect("status");
    assert_eq!(updated.data["status"]["ready"], true);
}

/// Strategic merge patch merges keyed lists by their keys (containers by
/// name); kinds without patch metadata refuse it with a BadRequest.
pub async fn strategic_merge_patches(h: Harness) {
    let api: Api<Pod> = h.ns("ns1");
    let mut p = pod("smp", &[]);
    p.spec.containers.push(Container { name: "side".into(), image: Some("busybox:1".into()), ..Default::default() });
    api.create(&p).await.expect("create");
    let patch = serde_json::json!({"spec": {"containers": [{"name": "side", "image": "busybox:2"}]}});
    let patched = api.patch("smp", &Patch::Strategic(patch)).await.expect("strategic patch");
    let images: Vec<_> = patched.spec.containers.iter().map(|c| (c.name.as_str(), c.image.as_deref())).collect();
    assert_eq!(images, [("c", Some("busybox:1.36")), ("side", Some("busybox:2"))], "merged by name, order kept");
    let not_object = api.patch("smp", &Patch::Strategic(serde_json::json!([1]))).await;
    assert!(matches!(not_object, Err(StoreError::BadRequest(_))), "{not_object:?}");
}

fn apply(configuration: serde_json::Value, manager: &str) -> Patch {
    Patch::apply(configuration, manager)
}

/// Server-side apply through the object API: create on first apply, no
/// write when nothing changes, conflicts with other managers (taken with
/// force), removal of fields a manager stops applying, keyed lists merged
/// by key, the status subresource, preconditions and bad configurations.
pub async fn server_side_apply(h: Harness) {
    let gvr = ConfigMap::INFO.gvr();
    let user = UserInfo::default();
    let cm = |data: serde_json::Value| serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "data": data});
    let patch = |p: Patch| {
        let api = Arc::clone(&h.api);
        let (gvr, user) = (gvr.clone(), user.clone());
        async move { api.patch(&gvr, "ns1", "cfg", &p, false, &user).await }
    };

    // Created by the first apply, owned by its manager.
    let created = patch(apply(cm(serde_json::json!({"x": "1", "y": "2"})), "a")).await.expect("create by apply");
    assert_eq!(created.data["data"], serde_json::json!({"x": "1", "y": "2"}));
    assert_eq!(created.metadata.namespace, "ns1");
    let entries = &created.metadata.managed_fields;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!((entries[0].manager.as_str(), entries[0].operation.as_str()), ("a", "Apply"));
    let owned = entries[0].fields_v1.as_ref().expect("fieldsV1");
    assert!(owned["f:data"].get("f:x").is_some() && owned["f:data"].get("f:y").is_some(), "{owned}");

    // The same configuration again changes nothing.
    let again = patch(apply(cm(serde_json::json!({"x": "1", "y": "2"})), "a")).await.expect("re-apply");
    assert_eq!(again.metadata.resource_version, created.metadata.resource_version, "an unchanged apply writes nothing");

    // Another manager changing a's field conflicts, naming field and owner.
    let err = patch(apply(cm(serde_json::json!({"x": "9"})), "b")).await.expect_err("conflict");
    assert!(err.is_conflict(), "{err:?}");
    let StoreError::ApplyConflict { conflicts, .. } = &err else { panic!("not an apply conflict: {err:?}") };
    assert_eq!(conflicts.0.len(), 1, "{conflicts:?}");
    assert_eq!((conflicts.0[0].manager.as_str(), conflicts.0[0].path.as_str()), ("a", ".data.x"));
    assert_eq!(err.status().details.expect("details").causes[0].reason, "FieldManagerConflict");
    // Agreeing on the value is no conflict; force takes the field.
    patch(apply(cm(serde_json::json!({"x": "1"})), "c")).await.expect("shared value");
    let forced = patch(apply(cm(serde_json::json!({"x": "9"})), "b").force()).await.expect("forced");
    assert_eq!(forced.data["data"]["x"], "9");

    // a stops applying x (now b's) and y: x stays, y goes.
    let dropped = patch(apply(cm(serde_json::json!({})), "a")).await.expect("drop fields");
    assert_eq!(dropped.data["data"], serde_json::json!({"x": "9"}), "a's y removed, b's x kept");

    // A stale resourceVersion is a precondition failure, not a field conflict.
    let mut stale = cm(serde_json::json!({"x": "9"}));
    stale["metadata"] = serde_json::json!({"resourceVersion": created.metadata.resource_version});
    let err = patch(apply(stale, "b")).await.expect_err("stale");
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");

    // Bad configurations are BadRequests and write nothing.
    for (bad, why) in [
        (apply(cm(serde_json::json!({})), ""), "no field manager"),
        (apply(serde_json::json!({"apiVersion": "v1", "kind": "Secret"}), "a"), "another kind"),
        (apply(serde_json::json!({"kind": "ConfigMap"}), "a"), "no apiVersion"),
        (
            apply(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other"}}), "a"),
            "name",
        ),
        (apply(serde_json::json!([]), "a"), "not an object"),
    ] {
        let err = patch(bad).await.expect_err(why);
        assert!(matches!(err, StoreError::BadRequest(_)), "{why}: {err:?}");
    }
    let after = h.api.get(&gvr, "ns1", "cfg").await.expect("get");
    assert_eq!(after.data["data"], serde_json::json!({"x": "9"}));

    // Typed: a Deployment whose containers merge by name across managers.
    let api: Api<Deployment> = h.ns("ns1");
    let mut d = Deployment::named("web");
    d.spec.selector = Some(LabelSelector::from_labels([("app", "web")]));
    d.spec.template.metadata.labels = SortedMap::from([("app".into(), "web".into())]);
    d.spec.template.spec.containers = pod("x", &[]).spec.containers;
    let params = crate::api::ApplyParams::new("owner");
    let web = api.apply(&d, &params).await.expect("typed apply");
    assert_eq!(web.spec.replicas, Some(1), "defaulted");
    let mut sidecar = Deployment::named("web");
    sidecar.spec.template.spec.containers =
        vec![Container { name: "proxy".into(), image: Some("envoy:1".into()), ..Default::default() }];
    let both = api.apply(&sidecar, &crate::api::ApplyParams::new("mesh")).await.expect("sidecar apply");
    let names: Vec<_> = both.spec.template.spec.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["c", "proxy"], "keyed list merged");
    let unmeshed = api.apply(&Deployment::named("web"), &crate::api::ApplyParams::new("mesh")).await.expect("unmesh");
    let names: Vec<_> = unmeshed.spec.template.spec.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["c"], "the sidecar goes with its manager");

    // Status through the status subresource, owned separately.
    let mut status = Deployment::named("web");
    status.status.get_or_insert_default().observed_generation = Some(7);
    let reported = api.apply_status(&status, &crate::api::ApplyParams::new("ctrl")).await.expect("status apply");
    assert_eq!(reported.status.as_ref().and_then(|s| s.observed_generation), Some(7));
    assert_eq!(reported.spec.template.spec.containers.len(), 1, "spec untouched");
    let entry = reported.metadata.managed_fields.iter().find(|e| e.manager == "ctrl").expect("ctrl entry");
    assert_eq!(entry.subresource, "status");
    let missing = api.apply_status(&Deployment::named("nope"), &params).await;
    assert!(missing.expect_err("no object").is_not_found());

    // An update that sends no managed fields keeps them; `[{}]` clears them.
    let mut stripped = api.get("web").await.expect("get");
    stripped.metadata.managed_fields.clear();
    stripped.metadata.labels.insert("edited".into(), "yes".into());
    let kept = api.update(&stripped).await.expect("update without managed fields");
    assert!(kept.metadata.managed_fields.iter().any(|e| e.manager == "owner"), "{:?}", kept.metadata.managed_fields);
    let mut reset = kept.clone();
    reset.metadata.managed_fields = vec![Default::default()];
    let cleared = api.update(&reset).await.expect("reset");
    assert!(cleared.metadata.managed_fields.is_empty(), "{:?}", cleared.metadata.managed_fields);
}
