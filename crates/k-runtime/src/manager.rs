//! The manager: many controllers over one client and one set of shared
//! informers, with one metrics registry, optional leader election, and a
//! graceful shutdown (on a signal, or any future).

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::BoxFuture;
use k_api_types::Resource;
use k_store::ObjectApi;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

use crate::client_metrics::MeteredApi;
use crate::controller::{Controller, Reconciler};
use crate::informer::InformerFactory;
use crate::leader::{LeaderElectionConfig, LeaderElector, Outcome};
use crate::tasks::AbortOnDrop;
use crate::watcher::Config;

/// Runs a controller until the shutdown signal is raised.
type Runner = Box<dyn FnOnce(watch::Receiver<bool>) -> BoxFuture<'static, ()> + Send>;

/// Many controllers sharing a client, informers and metrics.
pub struct Manager {
    api: Arc<dyn ObjectApi>,
    factory: Arc<InformerFactory>,
    registry: Arc<Mutex<Registry>>,
    runners: Vec<Runner>,
    leader_election: Option<LeaderElectionConfig>,
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manager")
            .field("controllers", &self.runners.len())
            .field("leader_election", &self.leader_election.as_ref().map(|c| &c.name))
            .finish_non_exhaustive()
    }
}

impl Manager {
    /// A manager over `api` (in-process `Store` or `RemoteApi`). Every
    /// request through it is measured ([`MeteredApi`]).
    pub fn new(api: Arc<dyn ObjectApi>) -> Self {
        let metered = MeteredApi::new(api);
        let mut registry = Registry::default();
        metered.register(&mut registry);
        let api: Arc<dyn ObjectApi> = Arc::new(metered);
        let factory = Arc::new(InformerFactory::new(api.clone(), Config::default()));
        Manager { api, factory, registry: Arc::new(Mutex::new(registry)), runners: Vec::new(), leader_election: None }
    }

    /// The shared informers, to build controllers with (and to read caches).
    pub fn informers(&self) -> Arc<InformerFactory> {
        self.factory.clone()
    }

    /// The object API the controllers use (measured).
    pub fn api(&self) -> Arc<dyn ObjectApi> {
        self.api.clone()
    }

    /// Adds a controller and its reconciler; its metrics join the
    /// manager's registry.
    pub fn add<K: Resource, R: Reconciler<K>>(&mut self, controller: Controller<K>, reconciler: R) -> &mut Self {
        controller.register_metrics(&mut self.registry.lock().unwrap_or_else(PoisonError::into_inner));
        let api = self.api.clone();
        self.runners.push(Box::new(move |mut stop| {
            Box::pin(async move {
                controller
                    .run(reconciler, api, async move {
                        let _ = stop.wait_for(|stopped| *stopped).await;
                    })
                    .await;
            })
        }));
        self
    }

    /// Runs the controllers only while this process holds the election's
    /// Lease (see [`crate::leader`]).
    pub fn leader_election(&mut self, config: LeaderElectionConfig) -> &mut Self {
        self.leader_election = Some(config);
        self
    }

    /// Serves the metrics of every controller at `GET /metrics` on
    /// `listener` until `shutdown` (run it beside [`run`](Self::run)).
    ///
    /// # Errors
    /// An error accepting connections.
    pub fn serve_metrics(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = std::io::Result<()>> + Send + 'static {
        crate::metrics::serve(listener, self.registry.clone(), shutdown)
    }

    /// The metrics of every controller, in the Prometheus text format.
    pub fn metrics_text(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        // Encoding into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }

    /// Runs every controller until `shutdown` completes, then stops them
    /// gracefully (reconciles in flight finish). With leader election, the
    /// controllers run only while leading, and a lost lease ends the run.
    pub async fn run(mut self, shutdown: impl Future<Output = ()> + Send) -> Outcome {
        let (stop, stopped) = watch::channel(false);
        let runners = std::mem::take(&mut self.runners);
        let started = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let started_flag = started.clone();
        let all = async move {
            started_flag.store(true, std::sync::atomic::Ordering::SeqCst);
            let tasks: Vec<_> = runners.into_iter().map(|r| tokio::spawn(r(stopped.clone()))).collect();
            // Dropping this future (a lost lease) aborts the controllers.
            let _abort = AbortOnDrop::new(&tasks);
            for task in tasks {
                let _ = task.await;
            }
        };
        let outcome = match self.leader_election.take() {
            Some(config) => {
                let elector = LeaderElector::new(self.api.clone(), config);
                let requested = std::sync::atomic::AtomicBool::new(false);
                // On shutdown the controllers are told to stop and drain; the
                // work then ends by itself and the lease is released after.
                // (Not leading yet: the candidate just stops.)
                let graceful = async {
                    shutdown.await;
                    requested.store(true, std::sync::atomic::Ordering::SeqCst);
                    let _ = stop.send(true);
                    if started.load(std::sync::atomic::Ordering::SeqCst) {
                        futures::future::pending::<()>().await;
                    }
                };
                match elector.run(all, graceful).await {
                    Outcome::Finished if requested.load(std::sync::atomic::Ordering::SeqCst) => Outcome::ShutDown,
                    other => other,
                }
            }
            None => {
                let mut all = Box::pin(all);
                tokio::select! {
                    () = &mut all => Outcome::Finished,
                    () = shutdown => {
                        let _ = stop.send(true);
                        all.await;
                        Outcome::ShutDown
                    }
                }
            }
        };
        self.factory.shutdown();
        outcome
    }

    /// [`run`](Self::run) until Ctrl-C or SIGTERM.
    pub async fn run_until_signal(self) -> Outcome {
        self.run(async {
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(unix)]
            {
                let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(term) => term,
                    Err(_) => {
                        let _ = ctrl_c.await;
                        return;
                    }
                };
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            #[cfg(not(unix))]
            {
                let _ = ctrl_c.await;
            }
        })
        .await
    }
}

/// Aborts tasks when dropped.
#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use k_api_types::core::v1::ConfigMap;
    use k_store::{Api, Store};

    use super::*;
    use crate::controller::{Action, Context};

    /// Counts reconciles.
    struct Count(Arc<AtomicUsize>);

    #[derive(Debug, thiserror::Error)]
    #[error("never")]
    struct Never;

    #[async_trait::async_trait]
    impl Reconciler<ConfigMap> for Count {
        type Error = Never;
        async fn reconcile(&self, _: Arc<ConfigMap>, _: &Context) -> Result<Action, Never> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(Action::AwaitChange)
        }
    }

    fn manager(store: &Store, count: &Arc<AtomicUsize>, identity: &str) -> Manager {
        let mut manager = Manager::new(Arc::new(store.clone()));
        let controller = Controller::<ConfigMap>::new(manager.informers(), Some("ns"));
        manager.add(controller, Count(count.clone()));
        manager.leader_election(LeaderElectionConfig {
            lease_duration: Duration::from_millis(800),
            renew_deadline: Duration::from_millis(500),
            retry_period: Duration::from_millis(100),
            ..LeaderElectionConfig::new("ns", "counter", identity)
        });
        manager
    }

    async fn eventually(what: &str, check: impl Fn() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !check() {
            assert!(tokio::time::Instant::now() < deadline, "never: {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn only_the_leader_reconciles_and_the_other_takes_over() {
        let store = Store::in_memory();
        let cms: Api<ConfigMap> = Api::namespaced(store.clone(), "ns");
        let mut cm = ConfigMap::default();
        cm.metadata.name = "a".into();
        cms.create(&cm).await.unwrap();
        let (first_count, second_count) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let first = manager(&store, &first_count, "first");
        // Requests through the manager's client are measured.
        first.api().get(&ConfigMap::INFO.gvr(), "ns", "missing").await.unwrap_err();
        let text = first.metrics_text();
        assert!(text.contains("controller_reconcile_total{controller=\"configmaps\"} 0"), "{text}");
        assert!(text.contains("client_requests_total{verb=\"get\",resource=\"configmaps\",code=\"404\"} 1"), "{text}");
        let (stop_first, first_stopped) = tokio::sync::oneshot::channel::<()>();
        let first_run = tokio::spawn(first.run(async {
            let _ = first_stopped.await;
        }));
        eventually("the first manager reconciles", || first_count.load(Ordering::SeqCst) > 0).await;
        let second = manager(&store, &second_count, "second");
        let _second_run = tokio::spawn(second.run(futures::future::pending()));
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(second_count.load(Ordering::SeqCst), 0, "the standby does not reconcile");

        let _ = stop_first.send(());
        assert_eq!(tokio::time::timeout(Duration::from_secs(10), first_run).await.unwrap().unwrap(), Outcome::ShutDown);
        eventually("the standby takes over", || second_count.load(Ordering::SeqCst) > 0).await;

        // A standby asked to stop stops, without ever leading.
        let third = manager(&store, &Arc::new(AtomicUsize::new(0)), "third");
        let outcome =
            tokio::time::timeout(Duration::from_secs(5), third.run(tokio::time::sleep(Duration::from_millis(300))))
                .await
                .expect("a standby stops when asked");
        assert_eq!(outcome, Outcome::ShutDown);
    }
}
