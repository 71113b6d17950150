//! Reflector caches: a watcher's view of a kind, kept in memory for readers.
//!
//! [`store`] makes a cache as a pair: one [`Writer`], fed the watcher's
//! events (see [`reflector`]), and any number of [`Store`] readers that get
//! objects as `Arc<K>` (no copies). A (re)list is built on the side and
//! swapped in at once on `InitDone`, reusing the objects that did not change,
//! so readers never see half a list and two full copies are never held.
//! Indexes answer "which objects have this value" in O(1): namespaces,
//! controllers ([`Store::controlled_by`]) and orphans
//! ([`Store::orphans_in`]) are indexed from the start, so that a
//! controller claims its children without scanning its namespace; others
//! are added with [`Writer::index`] (pods by node…). [`Store::wait_until_synced`] waits for the
//! first complete list. A transform ([`Writer::transform`]) can trim objects
//! before they are cached (dropping managed fields saves a third of a pod).
//!
//! A cache holds any [`ObjectLike`]: a typed kind, or
//! [`DynamicObject`]s for a kind known only at run time (feed it a dynamic
//! [`watcher`](crate::watcher::watcher) of the kind's resource).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use futures::{Stream, StreamExt};
use k_api_types::{DynamicObject, ObjectLike, Resource};
use tokio::sync::watch;

use crate::watcher::{Error, Event};

/// An object's key in a cache: `namespace/name`, or `name` for
/// cluster-scoped objects (client-go's `MetaNamespaceKeyFunc`).
pub fn key_of<K: ObjectLike>(object: &K) -> String {
    let meta = object.object_meta();
    if meta.namespace.is_empty() { meta.name.clone() } else { format!("{}/{}", meta.namespace, meta.name) }
}

/// The name of the built-in namespace index.
pub const NAMESPACE_INDEX: &str = "namespace";

/// The name of the built-in index of objects by their controller's uid
/// (the owner reference with `controller: true`).
pub const CONTROLLER_INDEX: &str = "controller";

/// The name of the built-in index of objects without a controller, by
/// namespace.
pub const ORPHAN_INDEX: &str = "orphan";

type IndexFn<K> = Arc<dyn Fn(&K) -> Vec<String> + Send + Sync>;
type Transform<K> = Arc<dyn Fn(&mut K) + Send + Sync>;

struct Inner<K> {
    objects: HashMap<String, Arc<K>>,
    /// index name → indexed value → keys.
    indexes: HashMap<String, HashMap<String, HashSet<String>>>,
    index_fns: HashMap<String, IndexFn<K>>,
}

impl<K: ObjectLike> Inner<K> {
    fn index_object(&mut self, key: &str, object: &K) {
        for (name, f) in &self.index_fns {
            let index = self.indexes.entry(name.clone()).or_default();
            for value in f(object) {
                index.entry(value).or_default().insert(key.to_owned());
            }
        }
    }

    fn unindex_object(&mut self, key: &str, object: &K) {
        for (name, f) in &self.index_fns {
            if let Some(index) = self.indexes.get_mut(name) {
                for value in f(object) {
                    if let Some(keys) = index.get_mut(&value) {
                        keys.remove(key);
                        if keys.is_empty() {
                            index.remove(&value);
                        }
                    }
                }
            }
        }
    }

    fn rebuild_indexes(&mut self) {
        self.indexes.clear();
        let objects: Vec<(String, Arc<K>)> = self.objects.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        for (key, object) in objects {
            self.index_object(&key, &object);
        }
    }
}

/// A reader of a cache. Cheap to clone.
pub struct Store<K> {
    inner: Arc<RwLock<Inner<K>>>,
    synced: watch::Receiver<bool>,
}

impl<K> Clone for Store<K> {
    fn clone(&self) -> Self {
        Store { inner: self.inner.clone(), synced: self.synced.clone() }
    }
}

impl<K> fmt::Debug for Store<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("synced", &*self.synced.borrow()).finish_non_exhaustive()
    }
}

impl<K: ObjectLike> Store<K> {
    /// The object with this key (`namespace/name`, or `name`).
    pub fn get(&self, key: &str) -> Option<Arc<K>> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner).objects.get(key).cloned()
    }

    /// Every cached object, in no particular order.
    pub fn state(&self) -> Vec<Arc<K>> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner).objects.values().cloned().collect()
    }

    /// How many objects are cached.
    pub fn len(&self) -> usize {
        self.inner.read().unwrap_or_else(PoisonError::into_inner).objects.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The objects whose index `index` holds `value` (such as the pods of
    /// one node). Empty for an unknown index.
    pub fn by_index(&self, index: &str, value: &str) -> Vec<Arc<K>> {
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let Some(keys) = inner.indexes.get(index).and_then(|i| i.get(value)) else { return Vec::new() };
        keys.iter().filter_map(|k| inner.objects.get(k).cloned()).collect()
    }

    /// The objects of one namespace.
    pub fn in_namespace(&self, namespace: &str) -> Vec<Arc<K>> {
        self.by_index(NAMESPACE_INDEX, namespace)
    }

    /// The objects whose controller (owner reference with `controller:
    /// true`) has this uid.
    pub fn controlled_by(&self, uid: &str) -> Vec<Arc<K>> {
        self.by_index(CONTROLLER_INDEX, uid)
    }

    /// The objects of one namespace that have no controller.
    pub fn orphans_in(&self, namespace: &str) -> Vec<Arc<K>> {
        self.by_index(ORPHAN_INDEX, namespace)
    }

    /// Whether the first complete list has been cached.
    pub fn is_synced(&self) -> bool {
        *self.synced.borrow()
    }

    /// Waits until the first complete list is cached. Returns at once if it
    /// is; returns early only if the writer is gone without ever syncing
    /// (then [`is_synced`](Self::is_synced) stays false).
    pub async fn wait_until_synced(&self) {
        let mut synced = self.synced.clone();
        let _ = synced.wait_for(|s| *s).await;
    }
}

/// The one writer of a cache.
pub struct Writer<K> {
    store: Store<K>,
    synced: watch::Sender<bool>,
    building: Option<HashMap<String, Arc<K>>>,
    transform: Option<Transform<K>>,
    decode_errors: u64,
}

impl<K> fmt::Debug for Writer<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer").field("listing", &self.building.is_some()).finish_non_exhaustive()
    }
}

/// A new, empty cache: its writer and a reader (clone the reader freely).
pub fn store<K: ObjectLike>() -> (Store<K>, Writer<K>) {
    let (synced, synced_rx) = watch::channel(false);
    let namespace: IndexFn<K> = Arc::new(|o: &K| vec![o.object_meta().namespace.clone()]);
    let controller: IndexFn<K> =
        Arc::new(|o: &K| o.object_meta().controller().map(|r| r.uid.clone()).into_iter().collect());
    let orphan: IndexFn<K> = Arc::new(|o: &K| {
        let meta = o.object_meta();
        if meta.controller().is_none() { vec![meta.namespace.clone()] } else { Vec::new() }
    });
    let inner = Inner {
        objects: HashMap::new(),
        indexes: HashMap::new(),
        index_fns: HashMap::from([
            (NAMESPACE_INDEX.to_owned(), namespace),
            (CONTROLLER_INDEX.to_owned(), controller),
            (ORPHAN_INDEX.to_owned(), orphan),
        ]),
    };
    let store = Store { inner: Arc::new(RwLock::new(inner)), synced: synced_rx };
    (store.clone(), Writer { store, synced, building: None, transform: None, decode_errors: 0 })
}

impl<K: ObjectLike> Writer<K> {
    /// A reader of this cache.
    pub fn reader(&self) -> Store<K> {
        self.store.clone()
    }

    /// Adds an index: `f` gives the values an object is found under (none,
    /// one or several). Objects already cached are indexed at once.
    pub fn index(&mut self, name: impl Into<String>, f: impl Fn(&K) -> Vec<String> + Send + Sync + 'static) {
        let mut inner = self.store.inner.write().unwrap_or_else(PoisonError::into_inner);
        inner.index_fns.insert(name.into(), Arc::new(f));
        inner.rebuild_indexes();
    }

    /// Changes each object before it is cached (drop managed fields, large
    /// annotations…).
    pub fn transform(&mut self, f: impl Fn(&mut K) + Send + Sync + 'static) {
        self.transform = Some(Arc::new(f));
    }

    /// How many objects could not be decoded as `K` (and were not cached).
    pub fn decode_errors(&self) -> u64 {
        self.decode_errors
    }

    fn decode(&mut self, object: &DynamicObject) -> Option<Arc<K>> {
        match K::from_dynamic(object).ok() {
            Some(mut k) => {
                if let Some(t) = &self.transform {
                    t(&mut k);
                }
                Some(Arc::new(k))
            }
            None => {
                self.decode_errors += 1;
                None
            }
        }
    }

    /// Applies one event of a dynamic [`watcher`](crate::watcher::watcher)
    /// to the cache (decoding its object as `K`), returning what changed for
    /// the cache's readers (a re-list is compared with what was cached).
    pub fn apply(&mut self, event: &Event) -> Vec<Change<K>> {
        let typed = match event {
            Event::Init => Event::Init,
            Event::InitDone => Event::InitDone,
            Event::InitApply(o) => match self.decode(o) {
                Some(k) => Event::InitApply(k),
                None => return Vec::new(),
            },
            Event::Apply(o) => match self.decode(o) {
                Some(k) => Event::Apply(k),
                None => return Vec::new(),
            },
            Event::Delete(o) => match self.decode(o) {
                Some(k) => Event::Delete(k),
                None => return Vec::new(),
            },
        };
        self.apply_cached(typed)
    }

    /// Applies one event of a [`typed`](crate::watcher::typed) watcher to the
    /// cache, returning what changed for the cache's readers. The event's
    /// object is cached as is (transformed first, if a transform is set).
    pub fn apply_typed(&mut self, event: Event<K>) -> Vec<Change<K>> {
        let event = self.transformed(event);
        self.apply_cached(event)
    }

    /// The event with the transform applied to its object (if one is set).
    fn transformed(&self, event: Event<K>) -> Event<K> {
        let Some(transform) = &self.transform else { return event };
        let transformed = |object: Arc<K>| {
            let mut k = Arc::try_unwrap(object).unwrap_or_else(|shared| (*shared).clone());
            transform(&mut k);
            Arc::new(k)
        };
        match event {
            Event::InitApply(o) => Event::InitApply(transformed(o)),
            Event::Apply(o) => Event::Apply(transformed(o)),
            // A deleted object is only looked up by key.
            other => other,
        }
    }

    fn apply_cached(&mut self, event: Event<K>) -> Vec<Change<K>> {
        match event {
            Event::Init => {
                self.building = Some(HashMap::new());
                Vec::new()
            }
            Event::InitApply(k) => {
                let key = key_of(&*k);
                // Reuse the cached copy of an unchanged object.
                let cached = self.store.get(&key).filter(|c| {
                    c.object_meta().resource_version == k.object_meta().resource_version
                        && !k.object_meta().resource_version.is_empty()
                });
                let object = cached.unwrap_or(k);
                self.building.get_or_insert_with(HashMap::new).insert(key, object);
                Vec::new()
            }
            Event::InitDone => {
                let objects = self.building.take().unwrap_or_default();
                let mut changes = Vec::new();
                {
                    let mut inner = self.store.inner.write().unwrap_or_else(PoisonError::into_inner);
                    for (key, new) in &objects {
                        match inner.objects.get(key) {
                            None => changes.push(Change::Added(new.clone())),
                            Some(old) if !Arc::ptr_eq(old, new) => {
                                changes.push(Change::Updated { old: old.clone(), new: new.clone() });
                            }
                            Some(_) => {}
                        }
                    }
                    for (key, old) in &inner.objects {
                        if !objects.contains_key(key) {
                            changes.push(Change::Deleted(old.clone()));
                        }
                    }
                    inner.objects = objects;
                    inner.rebuild_indexes();
                }
                self.synced.send_replace(true);
                changes
            }
            Event::Apply(k) => {
                let key = key_of(&*k);
                let mut inner = self.store.inner.write().unwrap_or_else(PoisonError::into_inner);
                let old = inner.objects.insert(key.clone(), k.clone());
                if let Some(old) = &old {
                    inner.unindex_object(&key, old);
                }
                inner.index_object(&key, &k);
                vec![match old {
                    Some(old) => Change::Updated { old, new: k },
                    None => Change::Added(k),
                }]
            }
            Event::Delete(k) => {
                let key = key_of(&*k);
                let mut inner = self.store.inner.write().unwrap_or_else(PoisonError::into_inner);
                if let Some(old) = inner.objects.remove(&key) {
                    inner.unindex_object(&key, &old);
                }
                vec![Change::Deleted(k)]
            }
        }
    }
}

/// A change of a cache, as its subscribers see it.
#[derive(Debug)]
pub enum Change<K> {
    /// A new object.
    Added(Arc<K>),
    /// A changed object, before and after.
    Updated {
        /// The object as it was cached.
        old: Arc<K>,
        /// The object now.
        new: Arc<K>,
    },
    /// An object that is gone (its last state).
    Deleted(Arc<K>),
}

impl<K> Clone for Change<K> {
    fn clone(&self) -> Self {
        match self {
            Change::Added(o) => Change::Added(o.clone()),
            Change::Updated { old, new } => Change::Updated { old: old.clone(), new: new.clone() },
            Change::Deleted(o) => Change::Deleted(o.clone()),
        }
    }
}

/// Feeds a typed watcher's events into `writer`, passing them on (errors
/// too) with the objects as cached (transformed).
pub fn typed_reflector<K: Resource>(
    mut writer: Writer<K>,
    events: impl Stream<Item = Result<Event<K>, Error>> + Send + 'static,
) -> impl Stream<Item = Result<Event<K>, Error>> + Send + 'static {
    events.map(move |item| {
        item.map(|event| {
            let event = writer.transformed(event);
            writer.apply_cached(event.clone());
            event
        })
    })
}

/// Feeds a watcher's events into `writer`, passing them on (errors too).
pub fn reflector<K: ObjectLike>(
    mut writer: Writer<K>,
    events: impl Stream<Item = Result<Event, Error>> + Send + 'static,
) -> impl Stream<Item = Result<Event, Error>> + Send + 'static {
    events.map(move |item| {
        if let Ok(event) = &item {
            writer.apply(event);
        }
        item
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use k_api_types::core::v1::Pod;
    use k_store::{Api, Store as ObjectStore};

    use super::*;
    use crate::watcher::{Config, watcher};

    fn pod(ns: &str, name: &str, node: &str) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.namespace = ns.to_owned();
        pod.metadata.name = name.to_owned();
        pod.spec = k_api_types::core::v1::PodSpec {
            node_name: Some(node.to_owned()).filter(|n| !n.is_empty()),
            containers: vec![k_api_types::core::v1::Container {
                name: "c".into(),
                image: Some("busybox".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        pod
    }

    fn node_of(pod: &Pod) -> Vec<String> {
        pod.spec.node_name.clone().into_iter().collect()
    }

    #[test]
    fn controllers_and_orphans_are_indexed_as_references_change() {
        let (reader, mut writer) = store::<Pod>();
        let owned = |name: &str, uid: &str, controller: bool| {
            let mut p = pod("a", name, "");
            p.metadata.resource_version = "1".into();
            p.metadata.owner_references.push(k_api_types::meta::OwnerReference {
                api_version: "apps/v1".into(),
                kind: "ReplicaSet".into(),
                name: "rs".into(),
                uid: uid.into(),
                controller: Some(controller),
                ..Default::default()
            });
            p
        };
        writer.apply_typed(Event::Apply(Arc::new(owned("x", "u1", true))));
        writer.apply_typed(Event::Apply(Arc::new(owned("y", "u1", false))));
        writer.apply_typed(Event::Apply(Arc::new(pod("a", "z", ""))));
        writer.apply_typed(Event::Apply(Arc::new(pod("b", "w", ""))));
        let names = |pods: Vec<Arc<Pod>>| {
            let mut names: Vec<String> = pods.iter().map(|p| p.metadata.name.clone()).collect();
            names.sort();
            names
        };
        assert_eq!(names(reader.controlled_by("u1")), ["x"], "only the controller reference counts");
        assert_eq!(names(reader.orphans_in("a")), ["y", "z"]);
        assert_eq!(names(reader.orphans_in("b")), ["w"]);
        // Released by its controller: an orphan now.
        writer.apply_typed(Event::Apply(Arc::new(pod("a", "x", ""))));
        assert!(reader.controlled_by("u1").is_empty());
        assert_eq!(names(reader.orphans_in("a")), ["x", "y", "z"]);
        // Adopted by another.
        writer.apply_typed(Event::Apply(Arc::new(owned("z", "u2", true))));
        assert_eq!(names(reader.controlled_by("u2")), ["z"]);
        assert_eq!(names(reader.orphans_in("a")), ["x", "y"]);
    }

    #[tokio::test]
    async fn a_cache_follows_the_store_with_indexes() {
        let objects = ObjectStore::in_memory();
        let a: Api<Pod> = Api::namespaced(objects.clone(), "a");
        let b: Api<Pod> = Api::namespaced(objects.clone(), "b");
        for i in 0..5 {
            a.create(&pod("a", &format!("p{i}"), if i % 2 == 0 { "n1" } else { "n2" })).await.unwrap();
        }
        b.create(&pod("b", "q", "n1")).await.unwrap();

        let (reader, mut writer) = store::<Pod>();
        writer.index("node", node_of);
        writer.index("tier", |p: &Pod| p.metadata.labels.get("tier").cloned().into_iter().collect());
        writer.transform(|p: &mut Pod| p.metadata.managed_fields.clear());
        let events = watcher(Arc::new(objects.clone()), Pod::INFO.gvr(), None, Config::default());
        let task = tokio::spawn(reflector(writer, events).for_each(|_| async {}));
        tokio::time::timeout(Duration::from_secs(10), reader.wait_until_synced()).await.expect("synced");
        assert_eq!(reader.len(), 6);
        assert_eq!(reader.in_namespace("a").len(), 5);
        let mut on_n1: Vec<String> = reader.by_index("node", "n1").iter().map(|p| key_of(&**p)).collect();
        on_n1.sort();
        assert_eq!(on_n1, ["a/p0", "a/p2", "a/p4", "b/q"]);

        // Changes move objects between index values; deletes drop them.
        let mut moved = a.get("p0").await.unwrap();
        moved.metadata.labels.insert("tier".into(), "web".into());
        a.update(&moved).await.unwrap();
        // q is bound to a node: only a zero grace period deletes it at once.
        let now = k_api_types::meta::DeleteOptions { grace_period_seconds: Some(0), ..Default::default() };
        b.delete("q", &now).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while reader.by_index("tier", "web").len() != 1 || reader.get("b/q").is_some() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the cache never caught up: web {:?}, q {:?}",
                reader.by_index("tier", "web").len(),
                reader.get("b/q").is_some()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(reader.by_index("node", "n1").len(), 3, "q left n1");
        assert!(reader.in_namespace("b").is_empty());
        assert!(reader.get("a/p0").unwrap().metadata.managed_fields.is_empty(), "transformed before caching");
        task.abort();
    }

    /// A cache of `DynamicObject`s, for a kind the program learns only at
    /// run time (here a custom kind registered after start), with an index
    /// over a field of its spec.
    #[tokio::test]
    async fn a_dynamic_cache_holds_kinds_known_only_at_run_time() {
        let objects = ObjectStore::in_memory();
        let resource = k_api_types::ApiResource {
            group: "example.org".into(),
            version: "v1".into(),
            kind: "Cache".into(),
            plural: "caches".into(),
            singular: "cache".into(),
            namespaced: true,
            verbs: k_api_types::resource::ALL_VERBS.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        };
        objects.register(resource.clone()).unwrap();
        let api: Arc<dyn k_store::ObjectApi> = Arc::new(objects.clone());
        let user = k_store::api::UserInfo::default();
        let cache = |name: &str, engine: &str| {
            let mut o = DynamicObject::new(&resource.gvk(), name);
            o.data.insert("spec".into(), serde_json::json!({"engine": engine}));
            o
        };
        api.create(&resource.gvr(), "ns", cache("a", "valkey"), &user).await.unwrap();

        let (reader, mut writer) = store::<DynamicObject>();
        writer.index("engine", |o: &DynamicObject| {
            o.data.get("spec").and_then(|s| s["engine"].as_str()).map(str::to_owned).into_iter().collect()
        });
        let events = watcher(api.clone(), resource.gvr(), None, Config::default());
        let task = tokio::spawn(reflector(writer, events).for_each(|_| async {}));
        tokio::time::timeout(Duration::from_secs(10), reader.wait_until_synced()).await.expect("synced");
        assert_eq!(reader.get("ns/a").expect("cached").data["spec"]["engine"], "valkey");

        api.create(&resource.gvr(), "ns", cache("b", "redis"), &user).await.unwrap();
        api.delete(&resource.gvr(), "ns", "a", &Default::default(), &user).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while reader.get("ns/a").is_some() || reader.by_index("engine", "redis").len() != 1 {
            assert!(tokio::time::Instant::now() < deadline, "the dynamic cache never caught up");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(reader.by_index("engine", "valkey").is_empty());
        assert_eq!(reader.len(), 1);
        task.abort();
    }

    /// A typed cache transforms objects before caching and passes on the
    /// objects it cached.
    #[tokio::test]
    async fn a_typed_reflector_passes_on_its_transformed_objects() {
        let objects = ObjectStore::in_memory();
        Api::<Pod>::namespaced(objects.clone(), "a").create(&pod("a", "p0", "n1")).await.unwrap();
        let (reader, mut writer) = store::<Pod>();
        writer.transform(|p: &mut Pod| {
            p.metadata.annotations.insert("cached".into(), "yes".into());
        });
        let events = crate::watcher::typed::<Pod>(Arc::new(objects.clone()), None, Config::default());
        let mut stream = Box::pin(typed_reflector(writer, events));
        let mut passed = Vec::new();
        // Init, InitApply(p0), InitDone.
        for _ in 0..3 {
            let event = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.unwrap().unwrap().unwrap();
            if let Event::InitApply(p) = event {
                passed.push(p);
            }
        }
        assert!(reader.is_synced());
        let cached = reader.get("a/p0").expect("cached");
        assert_eq!(cached.metadata.annotations.get("cached").map(String::as_str), Some("yes"));
        assert!(Arc::ptr_eq(&cached, &passed[0]), "the stream passes on the cached object");
    }

    #[test]
    fn a_relist_swaps_at_once_and_reuses_unchanged_objects() {
        let (reader, mut writer) = store::<Pod>();
        let dynamic = |p: &Pod, rv: &str| {
            let mut v = serde_json::to_value(p).unwrap();
            v["apiVersion"] = "v1".into();
            v["kind"] = "Pod".into();
            v["metadata"]["resourceVersion"] = rv.into();
            Arc::new(serde_json::from_value::<DynamicObject>(v).unwrap())
        };
        let (p1, p2, p3) = (pod("a", "p1", ""), pod("a", "p2", ""), pod("a", "p3", ""));
        writer.apply(&Event::Init);
        writer.apply(&Event::InitApply(dynamic(&p1, "1")));
        writer.apply(&Event::InitApply(dynamic(&p2, "2")));
        assert!(!reader.is_synced() && reader.is_empty(), "half a list is not visible");
        writer.apply(&Event::InitDone);
        assert!(reader.is_synced());
        let p1_before = reader.get("a/p1").unwrap();

        // A re-list: p1 unchanged, p2 gone, p3 new.
        writer.apply(&Event::Init);
        writer.apply(&Event::InitApply(dynamic(&p1, "1")));
        writer.apply(&Event::InitApply(dynamic(&p3, "3")));
        assert_eq!(reader.len(), 2, "readers still see the old state");
        assert!(reader.get("a/p2").is_some());
        writer.apply(&Event::InitDone);
        let mut keys: Vec<String> = reader.state().iter().map(|p| key_of(&**p)).collect();
        keys.sort();
        assert_eq!(keys, ["a/p1", "a/p3"]);
        assert!(Arc::ptr_eq(&p1_before, &reader.get("a/p1").unwrap()), "the unchanged object is shared, not copied");
        assert_eq!(reader.in_namespace("a").len(), 2, "indexes rebuilt with the swap");
        assert_eq!(writer.decode_errors(), 0);
    }
}
