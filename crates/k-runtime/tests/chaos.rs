//! Chaos: while objects are created, changed and deleted, the informers'
//! watch connections are cut and the store's history is compacted, again
//! and again. Once the chaos stops, every cache must equal the store
//! exactly, and the reconciler must have seen the final state of every
//! object.
//!
//! Two runs: over HTTP through k-apiserver with a TCP proxy that severs
//! every connection (paged lists of 20, so lists span cuts and compactions
//! and their continue tokens expire), and in-process with watch streams cut
//! by a wrapper of the object API (streaming initial lists).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k_api_types::core::v1::ConfigMap;
use k_api_types::meta::DeleteOptions;
use k_api_types::{ApiResource, DynamicObject, GroupVersionResource};
use k_apiserver::{ApiServer, ServerConfig};
use k_runtime::controller::{Action, Context, Controller, Reconciler};
use k_runtime::informer::{Informer, InformerFactory};
use k_runtime::watcher::{Backoff, Config, InitialList};
use k_store::api::{
    DeleteOutcome, DynamicWatchStream, ListOptions, ObjectPage, Patch, SharedWatchStream, UserInfo, WatchOptions,
};
use k_store::remote::{RemoteApi, RemoteConfig};
use k_store::{Api, ObjectApi, Store, StoreError};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

const NAMESPACE: &str = "chaos";
const NAMES: u64 = 60;
const CHAOS_FOR: Duration = Duration::from_secs(4);
/// How long a watch request is held up before it reaches the store.
const RESUME_DELAY: Duration = Duration::from_millis(30);

/// Records the resourceVersion of the last state reconciled, per name.
#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<BTreeMap<String, String>>>,
}

#[async_trait::async_trait]
impl Reconciler<ConfigMap> for Recorder {
    type Error = std::convert::Infallible;

    async fn reconcile(&self, cm: Arc<ConfigMap>, _ctx: &Context) -> Result<Action, Self::Error> {
        let rv = cm.metadata.resource_version.clone();
        self.seen.lock().unwrap().insert(cm.metadata.name.clone(), rv);
        Ok(Action::AwaitChange)
    }
}

/// A small deterministic generator (xorshift), so that a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Random creates, updates and deletes on `NAMES` names until `stop`.
async fn write_randomly(store: Store, seed: u64, stop: Arc<std::sync::atomic::AtomicBool>) -> usize {
    let api: Api<ConfigMap> = Api::namespaced(store, NAMESPACE);
    let mut rng = Rng(seed);
    let mut writes = 0;
    while !stop.load(Ordering::Relaxed) {
        let name = format!("cm-{}", rng.below(NAMES));
        let result = match api.get_opt(&name).await.unwrap() {
            None => {
                let mut cm = ConfigMap::default();
                cm.metadata.name = name;
                cm.data.insert("v".into(), "0".into());
                api.create(&cm).await.map(drop)
            }
            Some(_) if rng.below(10) < 3 => api.delete(&name, &DeleteOptions::default()).await.map(drop),
            Some(mut cm) => {
                cm.data.insert("v".into(), rng.below(1_000_000).to_string());
                api.update(&cm).await.map(drop)
            }
        };
        match result {
            Ok(()) => writes += 1,
            // The other writer got there first.
            Err(StoreError::Conflict { .. } | StoreError::AlreadyExists { .. } | StoreError::NotFound { .. }) => {}
            Err(e) => panic!("write failed: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    writes
}

/// The store's ConfigMaps: name → (resourceVersion, data).
async fn truth(store: &Store) -> BTreeMap<String, (String, k_api_types::SortedMap<String, String>)> {
    let api: Api<ConfigMap> = Api::namespaced(store.clone(), NAMESPACE);
    let list = api.list(&ListOptions::default()).await.unwrap();
    list.items.into_iter().map(|c| (c.metadata.name.clone(), (c.metadata.resource_version.clone(), c.data))).collect()
}

fn cached(informer: &Informer<ConfigMap>) -> BTreeMap<String, (String, k_api_types::SortedMap<String, String>)> {
    informer
        .store()
        .state()
        .into_iter()
        .map(|c| (c.metadata.name.clone(), (c.metadata.resource_version.clone(), c.data.clone())))
        .collect()
}

fn config(initial_list: InitialList) -> Config {
    Config {
        page_size: 20,
        initial_list,
        backoff: Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(200),
            reset_after: Duration::from_secs(2),
        },
        ..Config::default()
    }
}

/// Runs the scenario: a controller and its informer on `api`, writers and
/// chaos (`cut` severs the watches; the history is compacted every other
/// time) on the store, then checks convergence.
async fn scenario(store: Store, api: Arc<dyn ObjectApi>, initial_list: InitialList, cut: impl Fn() + Send + 'static) {
    let factory = Arc::new(InformerFactory::new(api.clone(), config(initial_list)));
    let informer: Informer<ConfigMap> = factory.informer(Some(NAMESPACE), None, None);
    let recorder = Recorder::default();
    let seen = recorder.seen.clone();
    let (stop_controller, stopped) = tokio::sync::oneshot::channel::<()>();
    let controller = Controller::<ConfigMap>::new(factory.clone(), Some(NAMESPACE)).workers(2);
    let run = tokio::spawn(controller.run(recorder, api, async {
        let _ = stopped.await;
    }));

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> =
        (1..=2u64).map(|seed| tokio::spawn(write_randomly(store.clone(), seed * 7919, stop.clone()))).collect();
    let chaos = {
        let (store, stop) = (store.clone(), stop.clone());
        tokio::spawn(async move {
            let mut rng = Rng(42);
            let (mut cuts, mut compactions) = (0, 0);
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(50 + rng.below(150))).await;
                cut();
                cuts += 1;
                // Every other cut, compact while the watchers come back (their
                // watches are held up by `RESUME_DELAY`): they resume from a
                // revision that is gone, and must re-list.
                if cuts % 2 == 0 {
                    tokio::time::sleep(RESUME_DELAY / 3).await;
                    let backend = store.backend();
                    let head = backend.revision().await.unwrap();
                    backend.compact(head).await.unwrap();
                    compactions += 1;
                }
            }
            (cuts, compactions)
        })
    };
    tokio::time::sleep(CHAOS_FOR).await;
    stop.store(true, Ordering::Relaxed);
    let mut writes = 0;
    for writer in writers {
        writes += writer.await.unwrap();
    }
    let (cuts, compactions) = chaos.await.unwrap();
    assert!(writes > 500, "only {writes} writes happened");
    assert!(cuts >= 10 && compactions >= 5, "only {cuts} cuts and {compactions} compactions");

    // Settle: the cache equals the store, and every object's final state was reconciled.
    let expected = truth(&store).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let cache = cached(&informer);
        let reconciled: BTreeMap<String, String> = seen.lock().unwrap().clone();
        let caught_up = expected.iter().all(|(name, (rv, _))| reconciled.get(name) == Some(rv));
        if cache == expected && caught_up {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            let missing: Vec<_> = expected.keys().filter(|k| !cache.contains_key(*k)).collect();
            let extra: Vec<_> = cache.keys().filter(|k| !expected.contains_key(*k)).collect();
            let stale: Vec<_> =
                expected.iter().filter(|(k, v)| cache.get(*k).is_some_and(|c| c != *v)).map(|(k, _)| k).collect();
            let unreconciled: Vec<_> =
                expected.iter().filter(|(k, (rv, _))| reconciled.get(*k) != Some(rv)).map(|(k, _)| k).collect();
            panic!(
                "no convergence after {writes} writes, {cuts} cuts, {compactions} compactions: \
                 missing {missing:?}, extra {extra:?}, stale {stale:?}, final state not reconciled {unreconciled:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!expected.is_empty(), "the writers left no object to compare");
    eprintln!("{writes} writes, {cuts} cuts, {compactions} compactions; {} objects at the end", expected.len());
    let _ = stop_controller.send(());
    tokio::time::timeout(Duration::from_secs(10), run).await.expect("the controller stops").unwrap();
    factory.shutdown();
}

/// A TCP proxy whose every connection is severed on demand.
async fn proxy(target: SocketAddr) -> (SocketAddr, broadcast::Sender<()>, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (cut, _) = broadcast::channel::<()>(16);
    let accepted = Arc::new(AtomicUsize::new(0));
    let (cut_tx, count) = (cut.clone(), accepted.clone());
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::Relaxed);
            let mut severed = cut_tx.subscribe();
            tokio::spawn(async move {
                let Ok(mut server) = TcpStream::connect(target).await else { return };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    _ = severed.recv() => {}
                }
            });
        }
    });
    (addr, cut, accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_caches_converge_through_cuts_and_compactions() {
    let store = Store::in_memory();
    // The server's side of the store: watches held up and counted (never cut
    // here: the proxy severs the connections).
    let (never, _) = broadcast::channel(1);
    let served = Severable::new(store.clone(), never);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server_addr = listener.local_addr().unwrap();
    let server = ApiServer::new(
        served.clone(),
        ServerConfig { external_address: server_addr.to_string(), ..ServerConfig::default() },
    );
    tokio::spawn(async move { server.serve(listener, futures::future::pending()).await });
    let (proxy_addr, cut, accepted) = proxy(server_addr).await;
    let remote: Arc<dyn ObjectApi> =
        Arc::new(RemoteApi::connect(RemoteConfig::new(format!("http://{proxy_addr}"))).await.unwrap());
    scenario(store, remote, InitialList::Paged, move || {
        let _ = cut.send(());
    })
    .await;
    let connections = accepted.load(Ordering::Relaxed);
    served.check_chaos(&format!("over HTTP ({connections} connections)"));
    assert!(connections > 10, "the client reconnected only {connections} times");
}

/// The object API of a store whose watch streams all end when cut, whose
/// watch requests are held up by `RESUME_DELAY`, and which counts watches
/// and those that found their revision compacted.
#[derive(Debug)]
struct Severable {
    inner: Store,
    cut: broadcast::Sender<()>,
    watches: AtomicUsize,
    /// Watches refused or ended because their revision was compacted.
    expired: Arc<AtomicUsize>,
}

impl Severable {
    fn new(inner: Store, cut: broadcast::Sender<()>) -> Arc<Self> {
        Arc::new(Severable { inner, cut, watches: AtomicUsize::new(0), expired: Arc::default() })
    }

    /// Checks that the informer had to come back often, and to re-list.
    fn check_chaos(&self, what: &str) {
        let watches = self.watches.load(Ordering::Relaxed);
        let expired = self.expired.load(Ordering::Relaxed);
        eprintln!("{what}: {watches} watches, {expired} found their revision compacted");
        assert!(watches > 10, "{what}: the informer re-watched only {watches} times");
        assert!(expired > 0, "{what}: no watch ever found its revision compacted");
    }

    fn severed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.cut.subscribe();
        async move {
            let _ = rx.recv().await;
        }
    }
}

#[async_trait::async_trait]
impl ObjectApi for Severable {
    fn resource(&self, gvr: &GroupVersionResource) -> k_store::Result<ApiResource> {
        self.inner.resource(gvr)
    }
    fn resources(&self) -> Vec<ApiResource> {
        self.inner.resources()
    }
    async fn get(&self, gvr: &GroupVersionResource, namespace: &str, name: &str) -> k_store::Result<DynamicObject> {
        self.inner.get(gvr, namespace, name).await
    }
    async fn list(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> k_store::Result<ObjectPage> {
        self.inner.list(gvr, namespace, options).await
    }
    async fn watch(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &WatchOptions,
    ) -> k_store::Result<DynamicWatchStream> {
        // The same cuts, delay and counts as the shared watch.
        let events = self.watch_shared(gvr, namespace, options).await?;
        Ok(events.map(|item| item.map(|event| event.to_owned_event())).boxed())
    }
    async fn watch_shared(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &WatchOptions,
    ) -> k_store::Result<SharedWatchStream> {
        self.watches.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(RESUME_DELAY).await;
        let expired = self.expired.clone();
        let count = move |e: &StoreError| {
            if matches!(e, StoreError::Expired { .. }) {
                expired.fetch_add(1, Ordering::Relaxed);
            }
        };
        match self.inner.watch_shared(gvr, namespace, options).await {
            Ok(stream) => Ok(stream.inspect_err(count).take_until(self.severed()).boxed()),
            Err(e) => {
                count(&e);
                Err(e)
            }
        }
    }
    async fn create(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        object: DynamicObject,
        user: &UserInfo,
    ) -> k_store::Result<DynamicObject> {
        self.inner.create(gvr, namespace, object, user).await
    }
    async fn update(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        object: DynamicObject,
        user: &UserInfo,
    ) -> k_store::Result<DynamicObject> {
        self.inner.update(gvr, namespace, object, user).await
    }
    async fn update_status(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        object: DynamicObject,
        user: &UserInfo,
    ) -> k_store::Result<DynamicObject> {
        self.inner.update_status(gvr, namespace, object, user).await
    }
    async fn patch(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        name: &str,
        patch: &Patch,
        status: bool,
        user: &UserInfo,
    ) -> k_store::Result<DynamicObject> {
        self.inner.patch(gvr, namespace, name, patch, status, user).await
    }
    async fn delete(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        name: &str,
        options: &DeleteOptions,
        user: &UserInfo,
    ) -> k_store::Result<DeleteOutcome> {
        self.inner.delete(gvr, namespace, name, options, user).await
    }
    async fn delete_collection(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        list: &ListOptions,
        options: &DeleteOptions,
        user: &UserInfo,
    ) -> k_store::Result<Vec<DeleteOutcome>> {
        self.inner.delete_collection(gvr, namespace, list, options, user).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_caches_converge_through_cuts_and_compactions() {
    let store = Store::in_memory();
    let (cut, _) = broadcast::channel(16);
    let api = Severable::new(store.clone(), cut.clone());
    scenario(store, api.clone(), InitialList::Streaming, move || {
        let _ = cut.send(());
    })
    .await;
    api.check_chaos("in-process");
}
