//! Shared informers: one watch per kind, namespace and selectors for the
//! whole process, however many controllers read it.
//!
//! An [`InformerFactory`] hands out [`Informer`]s. The first request for a
//! (kind, namespace, selectors) starts its watcher and cache; later requests
//! get the same one. Each informer has a cache ([`Informer::store`]) and
//! subscribers ([`Informer::subscribe`]) that receive every [`Change`]; a
//! subscriber that arrives late first receives the current state as
//! `Added`, then every change after it — nothing missed, nothing twice.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use futures::{Stream, StreamExt};
use k_api_types::{GroupVersionResource, Resource};
use k_store::ObjectApi;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::reflector::{self, Change, Store};
use crate::watcher::{self, Config};

/// What identifies a shared watch.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct InformerKey {
    /// The Rust type objects are decoded as (two types may share a resource).
    type_id: std::any::TypeId,
    gvr: GroupVersionResource,
    namespace: Option<String>,
    label_selector: Option<String>,
    field_selector: Option<String>,
}

/// Makes and shares informers over one object API.
pub struct InformerFactory {
    api: Arc<dyn ObjectApi>,
    config: Config,
    informers: Mutex<HashMap<InformerKey, Arc<dyn Any + Send + Sync>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl fmt::Debug for InformerFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.informers.lock().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("InformerFactory").field("informers", &n).finish_non_exhaustive()
    }
}

impl InformerFactory {
    /// A factory over `api`; its watchers use `config`'s page size, backoff
    /// and clock (selectors are per informer).
    pub fn new(api: Arc<dyn ObjectApi>, config: Config) -> Self {
        InformerFactory { api, config, informers: Mutex::default(), tasks: Mutex::default() }
    }

    /// The shared informer of `K` in `namespace` (all namespaces: `None`)
    /// with these selectors, started on first use (inside a tokio runtime).
    pub fn informer<K: Resource>(
        &self,
        namespace: Option<&str>,
        label_selector: Option<&str>,
        field_selector: Option<&str>,
    ) -> Informer<K> {
        let key = InformerKey {
            type_id: std::any::TypeId::of::<K>(),
            gvr: K::INFO.gvr(),
            namespace: namespace.map(str::to_owned),
            label_selector: label_selector.map(str::to_owned),
            field_selector: field_selector.map(str::to_owned),
        };
        let mut informers = self.informers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = informers.get(&key).and_then(|i| i.clone().downcast::<Shared<K>>().ok()) {
            return Informer { shared: existing };
        }
        let (store, writer) = reflector::store::<K>();
        let shared = Arc::new(Shared { store, subscribers: Mutex::default() });
        let config = Config {
            label_selector: key.label_selector.clone(),
            field_selector: key.field_selector.clone(),
            ..self.config.clone()
        };
        let events = watcher::typed::<K>(self.api.clone(), key.namespace.clone(), config);
        let task = tokio::spawn(run(shared.clone(), writer, events));
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner).push(task);
        informers.insert(key, shared.clone());
        Informer { shared }
    }

    /// Stops every informer's watch (their caches keep their last state).
    pub fn shutdown(&self) {
        for task in self.tasks.lock().unwrap_or_else(PoisonError::into_inner).drain(..) {
            task.abort();
        }
    }
}

impl Drop for InformerFactory {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Where a subscriber is sent each change, and whether it comes from a list.
type Subscriber<K> = mpsc::UnboundedSender<(Change<K>, bool)>;

struct Shared<K> {
    store: Store<K>,
    /// Subscribers, sent each change and whether it comes from a list (the
    /// current state, a re-list) rather than a watch; also held while a
    /// change is applied and sent, so that a new subscriber's snapshot and
    /// its first change never overlap.
    subscribers: Mutex<Vec<Subscriber<K>>>,
}

async fn run<K: Resource>(
    shared: Arc<Shared<K>>,
    mut writer: reflector::Writer<K>,
    events: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
) {
    let mut events = Box::pin(events);
    while let Some(item) = events.next().await {
        // Errors are retried by the watcher itself.
        let Ok(event) = item else { continue };
        let listed = matches!(event, watcher::Event::InitDone);
        let mut subscribers = shared.subscribers.lock().unwrap_or_else(PoisonError::into_inner);
        let changes = writer.apply_typed(event);
        if !changes.is_empty() {
            subscribers.retain(|s| changes.iter().all(|c| s.send((c.clone(), listed)).is_ok()));
        }
    }
}

/// A shared watch of one kind: its cache and its subscribers. Cheap to clone.
pub struct Informer<K> {
    shared: Arc<Shared<K>>,
}

impl<K> Clone for Informer<K> {
    fn clone(&self) -> Self {
        Informer { shared: self.shared.clone() }
    }
}

impl<K> fmt::Debug for Informer<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Informer").finish_non_exhaustive()
    }
}

impl<K: Resource> Informer<K> {
    /// The informer's cache.
    pub fn store(&self) -> Store<K> {
        self.shared.store.clone()
    }

    /// Every change from now on, preceded by the current state (as `Added`).
    pub fn subscribe(&self) -> impl Stream<Item = Change<K>> + Send + 'static {
        self.subscribe_listed().map(|(change, _)| change)
    }

    /// [`subscribe`](Self::subscribe), saying of each change whether it
    /// comes from a list (the current state, a re-list) rather than a watch.
    pub(crate) fn subscribe_listed(&self) -> impl Stream<Item = (Change<K>, bool)> + Send + 'static {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut subscribers = self.shared.subscribers.lock().unwrap_or_else(PoisonError::into_inner);
        for object in self.shared.store.state() {
            let _ = tx.send((Change::Added(object), true));
        }
        subscribers.push(tx);
        drop(subscribers);
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) })
    }

    /// Whether two handles share one watch.
    pub fn same(&self, other: &Informer<K>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use k_api_types::core::v1::ConfigMap;
    use k_store::{Api, Store as ObjectStore};

    use super::*;

    fn cm(name: &str, value: &str) -> ConfigMap {
        let mut cm = ConfigMap::default();
        cm.metadata.name = name.to_owned();
        cm.metadata.namespace = "ns".to_owned();
        cm.data.insert("k".to_owned(), value.to_owned());
        cm
    }

    fn describe(change: &Change<ConfigMap>) -> String {
        match change {
            Change::Added(o) => format!("added {}={}", o.metadata.name, o.data["k"]),
            Change::Updated { old, new } => {
                format!("updated {} {}->{}", new.metadata.name, old.data["k"], new.data["k"])
            }
            Change::Deleted(o) => format!("deleted {}", o.metadata.name),
        }
    }

    async fn take(stream: &mut (impl Stream<Item = Change<ConfigMap>> + Unpin), n: usize) -> Vec<String> {
        let mut out = Vec::new();
        for _ in 0..n {
            let change = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.expect("in time").unwrap();
            out.push(describe(&change));
        }
        out
    }

    #[tokio::test]
    async fn one_watch_is_shared_and_late_subscribers_get_the_state_first() {
        let objects = ObjectStore::in_memory();
        let api: Api<ConfigMap> = Api::namespaced(objects.clone(), "ns");
        api.create(&cm("a", "1")).await.unwrap();
        let factory = InformerFactory::new(Arc::new(objects.clone()), Config::default());
        let first = factory.informer::<ConfigMap>(Some("ns"), None, None);
        let second = factory.informer::<ConfigMap>(Some("ns"), None, None);
        assert!(first.same(&second), "one watch for the same kind, namespace and selectors");
        let other = factory.informer::<ConfigMap>(Some("ns"), Some("x=y"), None);
        assert!(!first.same(&other));

        let mut early = Box::pin(first.subscribe());
        assert_eq!(take(&mut early, 1).await, ["added a=1"]);
        first.store().wait_until_synced().await;

        let mut changed = api.get("a").await.unwrap();
        changed.data.insert("k".into(), "2".into());
        api.update(&changed).await.unwrap();
        api.create(&cm("b", "1")).await.unwrap();
        assert_eq!(take(&mut early, 2).await, ["updated a 1->2", "added b=1"]);

        // A late subscriber: the current state, then what happens next.
        let mut late = Box::pin(second.subscribe());
        let mut state = take(&mut late, 2).await;
        state.sort();
        assert_eq!(state, ["added a=2", "added b=1"]);
        api.delete("a", &Default::default()).await.unwrap();
        assert_eq!(take(&mut late, 1).await, ["deleted a"]);
        assert_eq!(take(&mut early, 1).await, ["deleted a"]);
        assert_eq!(first.store().len(), 1);
        factory.shutdown();
    }
}
