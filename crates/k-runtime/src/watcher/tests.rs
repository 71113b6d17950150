use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k_api_types::core::v1::ConfigMap;
use k_api_types::{DynamicObject, Resource};
use k_store::backend::memory::{MemoryBackend, MemoryOptions};
use k_store::{Api, ObjectApi, Store};

use super::*;

fn configmap(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = name.to_owned();
    cm.metadata.namespace = "ns".to_owned();
    for (k, v) in labels {
        cm.metadata.labels.insert((*k).to_owned(), (*v).to_owned());
    }
    cm.data.insert("k".to_owned(), "v".to_owned());
    cm
}

/// A cache fed by watcher events, as a reflector keeps one: (namespace, name) → data.k.
#[derive(Default)]
struct Mirror {
    objects: BTreeMap<String, String>,
    building: Option<BTreeMap<String, String>>,
    inits: usize,
}

impl Mirror {
    fn apply(&mut self, event: &Event) {
        let key = |o: &DynamicObject| o.metadata.name.clone();
        let value = |o: &DynamicObject| o.data["data"]["k"].as_str().unwrap_or_default().to_owned();
        match event {
            Event::Init => {
                self.inits += 1;
                self.building = Some(BTreeMap::new());
            }
            Event::InitApply(o) => {
                self.building.as_mut().expect("InitApply inside a list").insert(key(o), value(o));
            }
            Event::InitDone => self.objects = self.building.take().expect("InitDone ends a list"),
            Event::Apply(o) => {
                self.objects.insert(key(o), value(o));
            }
            Event::Delete(o) => {
                self.objects.remove(&key(o));
            }
        }
    }
}

async fn state_of(store: &Store) -> BTreeMap<String, String> {
    let api: Api<ConfigMap> = Api::namespaced(store.clone(), "ns");
    let list = api.list(&Default::default()).await.unwrap();
    list.items.into_iter().map(|c| (c.metadata.name.clone(), c.data["k"].clone())).collect()
}

async fn next(stream: &mut (impl Stream<Item = Result<Event, Error>> + Unpin)) -> Event {
    tokio::time::timeout(Duration::from_secs(10), stream.next()).await.expect("an event in time").unwrap().unwrap()
}

#[tokio::test]
async fn lists_in_pages_then_follows_changes() {
    let store = Store::in_memory();
    let api: Api<ConfigMap> = Api::namespaced(store.clone(), "ns");
    for i in 0..1203 {
        api.create(&configmap(&format!("cm-{i:04}"), &[])).await.unwrap();
    }
    let stream = watcher(Arc::new(store.clone()), ConfigMap::INFO.gvr(), Some("ns".into()), Config::default());
    let mut stream = Box::pin(stream);
    let mut mirror = Mirror::default();
    assert!(matches!(next(&mut stream).await, Event::Init));
    mirror.apply(&Event::Init);
    let mut listed = 0;
    loop {
        let event = next(&mut stream).await;
        mirror.apply(&event);
        match event {
            Event::InitApply(_) => listed += 1,
            Event::InitDone => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(listed, 1203, "three pages of at most 500");
    assert_eq!(mirror.objects, state_of(&store).await);

    api.create(&configmap("new", &[])).await.unwrap();
    let mut changed = configmap("cm-0000", &[]);
    changed.data.insert("k".into(), "changed".into());
    changed.metadata.resource_version = api.get("cm-0000").await.unwrap().metadata.resource_version;
    api.update(&changed).await.unwrap();
    api.delete("cm-0001", &Default::default()).await.unwrap();
    for expected in ["apply new", "apply cm-0000", "delete cm-0001"] {
        let event = next(&mut stream).await;
        let seen = match &event {
            Event::Apply(o) => format!("apply {}", o.metadata.name),
            Event::Delete(o) => format!("delete {}", o.metadata.name),
            other => format!("{other:?}"),
        };
        assert_eq!(seen, expected);
        mirror.apply(&event);
    }
    assert_eq!(mirror.objects, state_of(&store).await);
}

#[tokio::test]
async fn streams_the_initial_list_and_honours_selectors() {
    let store = Store::in_memory();
    let api: Api<ConfigMap> = Api::namespaced(store.clone(), "ns");
    for i in 0..10 {
        let tier = if i % 2 == 0 { "web" } else { "db" };
        api.create(&configmap(&format!("cm-{i}"), &[("tier", tier)])).await.unwrap();
    }
    let config = Config::default().labels("tier=web").streaming_list();
    let mut stream = Box::pin(watcher(Arc::new(store.clone()), ConfigMap::INFO.gvr(), Some("ns".into()), config));
    assert!(matches!(next(&mut stream).await, Event::Init));
    let mut names = Vec::new();
    loop {
        match next(&mut stream).await {
            Event::InitApply(o) => names.push(o.metadata.name.clone()),
            Event::InitDone => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    names.sort();
    assert_eq!(names, ["cm-0", "cm-2", "cm-4", "cm-6", "cm-8"]);
    api.create(&configmap("db-only", &[("tier", "db")])).await.unwrap();
    api.create(&configmap("web-too", &[("tier", "web")])).await.unwrap();
    match next(&mut stream).await {
        Event::Apply(o) => assert_eq!(o.metadata.name, "web-too", "the db object is filtered out"),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_watcher_cut_off_as_too_slow_lists_again() {
    // A small per-watcher queue: a watcher that does not read is cut off.
    let backend = MemoryBackend::with_options(MemoryOptions { watch_capacity: 16, ..Default::default() });
    let store = Store::new(Arc::new(backend));
    let api: Api<ConfigMap> = Api::namespaced(store.clone(), "ns");
    api.create(&configmap("first", &[])).await.unwrap();
    let config =
        Config { backoff: Backoff { initial: Duration::from_millis(1), ..Backoff::default() }, ..Config::default() };
    let mut stream = Box::pin(watcher(Arc::new(store.clone()), ConfigMap::INFO.gvr(), Some("ns".into()), config));
    let mut mirror = Mirror::default();
    loop {
        let event = next(&mut stream).await;
        mirror.apply(&event);
        if matches!(event, Event::InitDone) {
            break;
        }
    }
    // Open the watch, then write far more than it may queue while nobody reads.
    api.create(&configmap("second", &[])).await.unwrap();
    mirror.apply(&next(&mut stream).await);
    for i in 0..3000 {
        let mut cm = configmap(&format!("bulk-{i}"), &[]);
        cm.data.insert("k".into(), i.to_string());
        api.create(&cm).await.unwrap();
    }
    let want = state_of(&store).await;
    while mirror.objects != want {
        let event = next(&mut stream).await;
        mirror.apply(&event);
    }
    assert!(mirror.inits >= 2, "the cut-off watcher listed again ({} lists)", mirror.inits);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_it_resumes_after_each_timeout_and_converges() {
    let store = Store::in_memory();
    // Watches end after a second, as a real server's do after their timeout.
    let remote = crate::test_support::over_http(&store, 1).await;
    let api: Api<ConfigMap> = Api::namespaced(store.clone(), "ns");
    let ns = serde_json::from_value(
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}),
    )
    .unwrap();
    let _ = store
        .create(&k_api_types::GroupVersionResource::new("", "v1", "namespaces"), "", ns, &Default::default())
        .await;

    let mut stream = Box::pin(watcher(remote, ConfigMap::INFO.gvr(), Some("ns".into()), Config::default()));
    let writer = {
        let api = api.clone();
        tokio::spawn(async move {
            for i in 0..60 {
                let name = format!("cm-{}", i % 20);
                let mut cm = configmap(&name, &[]);
                cm.data.insert("k".into(), i.to_string());
                match api.get(&name).await {
                    Ok(current) => {
                        cm.metadata.resource_version = current.metadata.resource_version;
                        if i % 7 == 0 {
                            api.delete(&name, &Default::default()).await.unwrap();
                        } else {
                            api.update(&cm).await.unwrap();
                        }
                    }
                    Err(_) => {
                        api.create(&cm).await.unwrap();
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let mut mirror = Mirror::default();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(item) = tokio::time::timeout(Duration::from_millis(200), stream.next()).await {
            mirror.apply(&item.expect("the stream goes on").expect("no errors"));
        }
        if writer.is_finished() && mirror.building.is_none() && mirror.objects == state_of(&store).await {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the mirror never caught up");
    }
    writer.await.unwrap();
    assert_eq!(mirror.inits, 1, "resuming after a timeout needs no new list");
}

#[test]
fn backoff_doubles_with_jitter_up_to_the_cap_and_resets_after_quiet() {
    let mut backoff = BackoffState::new(Backoff::default());
    let start = std::time::Instant::now();
    let waits: Vec<Duration> = (0..8).map(|i| backoff.next(start + Duration::from_secs(i))).collect();
    // 0.8 s, 1.6, 3.2, 6.4, 12.8, 25.6, then the 30 s cap; each within ±50%.
    for (wait, step) in waits.iter().zip([0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0]) {
        let (low, high) = (step * 0.5, f64::min(step * 1.5, 30.0));
        assert!((low..=high).contains(&wait.as_secs_f64()), "{wait:?} for a {step} s step");
    }
    // Two quiet minutes later, the next error starts over.
    let after_quiet = backoff.next(start + Duration::from_secs(8 + 120));
    assert!(after_quiet <= Duration::from_millis(1200), "{after_quiet:?}");
}

/// The typed watcher, in-process and over HTTP, with paged and streamed
/// initial lists: it decodes each object straight to `ConfigMap` and follows
/// the store like the dynamic one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_watchers_list_and_follow_changes_in_process_and_over_http() {
    let store = Store::in_memory();
    let api: Api<ConfigMap> = Api::namespaced(store.clone(), "ns");
    for i in 0..7 {
        api.create(&configmap(&format!("cm-{i}"), &[])).await.unwrap();
    }
    let remote = crate::test_support::over_http(&store, 60).await;
    let local: Arc<dyn ObjectApi> = Arc::new(store.clone());
    for (name, object_api) in [("in-process", local), ("over HTTP", remote)] {
        for initial_list in [InitialList::Paged, InitialList::Streaming] {
            let config = Config { page_size: 3, initial_list, ..Config::default() };
            let mut stream = typed::<ConfigMap>(object_api.clone(), Some("ns".into()), config).boxed();
            let mut mirror = TypedMirror::default();
            // The initial list: Init, 7 objects, InitDone.
            for _ in 0..9 {
                mirror.apply(next_typed(&mut stream).await);
            }
            assert_eq!(mirror.objects, state_of(&store).await, "{name} {initial_list:?}: the initial list");
            // Changes: an update, a delete and a create.
            let mut changed = api.get("cm-1").await.unwrap();
            changed.data.insert("k".into(), format!("{name} {initial_list:?}"));
            api.update(&changed).await.unwrap();
            api.delete("cm-2", &Default::default()).await.unwrap();
            api.create(&configmap("cm-2", &[])).await.unwrap();
            for _ in 0..3 {
                mirror.apply(next_typed(&mut stream).await);
            }
            assert_eq!(mirror.objects, state_of(&store).await, "{name} {initial_list:?}: the changes");
        }
    }
}

async fn next_typed(stream: &mut BoxStream<'static, Result<Event<ConfigMap>, Error>>) -> Event<ConfigMap> {
    let item = tokio::time::timeout(Duration::from_secs(10), stream.next()).await;
    item.expect("an event in time").expect("the stream goes on").expect("no errors")
}

/// A cache of typed events: name → data.k.
#[derive(Default)]
struct TypedMirror {
    objects: BTreeMap<String, String>,
    building: Option<BTreeMap<String, String>>,
    inits: usize,
}

impl TypedMirror {
    fn apply(&mut self, event: Event<ConfigMap>) {
        match event {
            Event::Init => {
                self.inits += 1;
                self.building = Some(BTreeMap::new());
            }
            Event::InitApply(c) => {
                self.building.as_mut().expect("inside a list").insert(c.metadata.name.clone(), c.data["k"].clone());
            }
            Event::InitDone => self.objects = self.building.take().expect("a list ends"),
            Event::Apply(c) => {
                self.objects.insert(c.metadata.name.clone(), c.data["k"].clone());
            }
            Event::Delete(c) => {
                self.objects.remove(&c.metadata.name);
            }
        }
    }
}

/// A typed watch over HTTP that the server ends every second resumes from
/// the last object it delivered, with no new list, while writes go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_over_http_resumes_after_each_timeout_without_listing_again() {
    let store = Store::in_memory();
    let remote = crate::test_support::over_http(&store, 1).await;
    let api: Api<ConfigMap> = Api::namespaced(store.clone(), "ns");
    let mut stream =
        typed::<ConfigMap>(remote, Some("ns".into()), Config { bookmarks: false, ..Config::default() }).boxed();
    let mut mirror = TypedMirror::default();
    mirror.apply(next_typed(&mut stream).await);
    mirror.apply(next_typed(&mut stream).await);
    assert_eq!(mirror.building, None, "the (empty) initial list is done");
    // Writes spread over three seconds: the watch is ended and resumed twice or more.
    for i in 0..30 {
        let name = format!("cm-{}", i % 5);
        match api.get_opt(&name).await.unwrap() {
            Some(mut cm) => {
                cm.data.insert("k".into(), i.to_string());
                api.update(&cm).await.unwrap();
            }
            None => {
                api.create(&configmap(&name, &[])).await.unwrap();
            }
        }
        mirror.apply(next_typed(&mut stream).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(mirror.objects, state_of(&store).await);
    assert_eq!(mirror.inits, 1, "resuming after a timeout needs no new list");
}
