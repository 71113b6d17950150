//! Controllers: reconcile loops over shared informers and a work queue.
//!
//! Write a [`Reconciler`] — given the current state of one object, make
//! the world match it and say what next ([`Action`]) — and run it with a
//! [`Controller`]:
//!
//! ```ignore
//! Controller::<ConfigMap>::new(factory.clone(), Some("default"))
//!     .owns::<Secret>()                                // child changes wake the owner
//!     .with_predicate(Predicate::GenerationChanged)    // ignore status-only updates
//!     .workers(4)
//!     .run(MyReconciler, api, shutdown)
//!     .await;
//! ```
//!
//! Keys (`namespace/name`) go through a [`WorkQueue`]: an object is never
//! reconciled by two workers at once, changes made meanwhile are reconciled
//! once more after, errors are retried with per-key backoff that resets on
//! success, and objects of the initial list wait behind live changes.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use k_api_types::Resource;
use k_store::ObjectApi;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::task::JoinHandle;

use crate::clock::{Clock, SystemClock};
use crate::informer::{Informer, InformerFactory};
use crate::queue::{WorkQueue, default_controller_rate_limiter};
use crate::reflector::{Change, key_of};
use crate::tasks::AbortOnDrop;

/// What to do after a reconcile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing until the object (or something it watches) changes.
    AwaitChange,
    /// Reconcile again after this long, even without a change.
    RequeueAfter(Duration),
}

/// What a reconciler is given besides the object.
#[derive(Clone, Debug)]
pub struct Context {
    /// The controller's name (its metrics label, and the field manager of
    /// [`applier`](Self::applier)).
    pub controller: Arc<str>,
    /// The object API the controller reads and writes through.
    pub api: Arc<dyn ObjectApi>,
    /// The controller's clock.
    pub clock: Arc<dyn Clock>,
    /// How many times this object's reconcile has failed in a row.
    pub retries: u32,
}

impl Context {
    /// A server-side [`Applier`](crate::apply::Applier) through the
    /// controller's API, with the controller's name as field manager.
    pub fn applier(&self) -> crate::apply::Applier {
        crate::apply::Applier::new(Arc::clone(&self.api), &*self.controller)
    }
}

/// The logic of a controller.
#[async_trait::async_trait]
pub trait Reconciler<K: Resource>: Send + Sync + 'static {
    /// The failure of a reconcile; the key is retried with backoff.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Makes the world match `object` (its current cached state).
    async fn reconcile(&self, object: Arc<K>, ctx: &Context) -> Result<Action, Self::Error>;
}

/// A test of an update: the old and the new object.
pub type ChangeFilter<K> = Box<dyn Fn(&K, &K) -> bool + Send + Sync>;

/// Which updates of the primary object wake the controller (all of a
/// controller's predicates must pass; creations and deletions always do).
pub enum Predicate<K> {
    /// `metadata.generation` changed (a spec change, not a status one).
    GenerationChanged,
    /// The labels changed.
    LabelsChanged,
    /// The annotations changed.
    AnnotationsChanged,
    /// A function of the old and new object.
    Custom(ChangeFilter<K>),
}

impl<K: Resource> Predicate<K> {
    fn passes(&self, old: &K, new: &K) -> bool {
        match self {
            Predicate::GenerationChanged => old.metadata().generation != new.metadata().generation,
            Predicate::LabelsChanged => old.metadata().labels != new.metadata().labels,
            Predicate::AnnotationsChanged => old.metadata().annotations != new.metadata().annotations,
            Predicate::Custom(f) => f(old, new),
        }
    }
}

impl<K> fmt::Debug for Predicate<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Predicate::GenerationChanged => "GenerationChanged",
            Predicate::LabelsChanged => "LabelsChanged",
            Predicate::AnnotationsChanged => "AnnotationsChanged",
            Predicate::Custom(_) => "Custom",
        })
    }
}

/// Starts the task that feeds keys of another kind's changes into the queue.
type Source = Box<dyn FnOnce(&InformerFactory, WorkQueue<String>) -> JoinHandle<()> + Send>;

/// A controller of `K`: its sources of work, workers and queue.
pub struct Controller<K: Resource> {
    name: String,
    factory: Arc<InformerFactory>,
    namespace: Option<String>,
    sources: Vec<Source>,
    predicates: Vec<Predicate<K>>,
    workers: usize,
    clock: Arc<dyn Clock>,
    metrics: ControllerMetrics,
}

impl<K: Resource> fmt::Debug for Controller<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Controller").field("name", &self.name).field("workers", &self.workers).finish_non_exhaustive()
    }
}

impl<K: Resource> Controller<K> {
    /// A controller of `K` objects in `namespace` (all: `None`), reading
    /// through `factory`'s shared informers. Its name (for metrics and its
    /// queue) is the kind's plural.
    pub fn new(factory: Arc<InformerFactory>, namespace: Option<&str>) -> Self {
        Controller {
            name: K::INFO.plural.to_owned(),
            factory,
            namespace: namespace.map(str::to_owned),
            sources: Vec::new(),
            predicates: Vec::new(),
            workers: 1,
            clock: Arc::new(SystemClock),
            metrics: ControllerMetrics::default(),
        }
    }

    /// Renames the controller (metrics label, queue name).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Reconciles the owner of every changed `C` (its controller
    /// ownerReference of kind `K`).
    pub fn owns<C: Resource>(self) -> Self {
        let namespace = self.namespace.clone();
        self.watches::<C>(namespace, |child| {
            child
                .metadata()
                .owner_references
                .iter()
                .filter(|r| {
                    r.controller == Some(true) && r.kind == K::INFO.kind && r.api_version == K::INFO.api_version
                })
                .map(|r| {
                    let ns = &child.metadata().namespace;
                    if ns.is_empty() || !K::INFO.namespaced { r.name.clone() } else { format!("{ns}/{}", r.name) }
                })
                .collect()
        })
    }

    /// Reconciles the keys (`namespace/name` of `K` objects) that `map`
    /// gives for every changed `O` in `namespace`.
    pub fn watches<O: Resource>(
        mut self,
        namespace: Option<String>,
        map: impl Fn(&O) -> Vec<String> + Send + Sync + 'static,
    ) -> Self {
        self.sources.push(Box::new(move |factory, queue| {
            let informer: Informer<O> = factory.informer(namespace.as_deref(), None, None);
            let mut changes = Box::pin(informer.subscribe());
            tokio::spawn(async move {
                while let Some(change) = changes.next().await {
                    let keys = match &change {
                        Change::Added(o) | Change::Deleted(o) => map(o),
                        Change::Updated { old, new } => {
                            let mut keys = map(old);
                            keys.extend(map(new));
                            keys.dedup();
                            keys
                        }
                    };
                    for key in keys {
                        queue.add(key);
                    }
                }
            })
        }));
        self
    }

    /// Only updates that pass `predicate` wake the controller.
    pub fn with_predicate(mut self, predicate: Predicate<K>) -> Self {
        self.predicates.push(predicate);
        self
    }

    /// How many objects may be reconciled at once (default 1).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// The clock for backoff and requeues.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Registers the controller's metrics, labelled `controller=<name>`:
    /// `controller_reconcile`, `controller_reconcile_errors` and
    /// `controller_reconcile_duration_seconds`.
    pub fn register_metrics(&self, registry: &mut Registry) {
        let sub = registry.sub_registry_with_label(("controller".into(), self.name.clone().into()));
        sub.register("controller_reconcile", "Reconciles", self.metrics.reconciles.clone());
        sub.register("controller_reconcile_errors", "Reconciles that failed", self.metrics.errors.clone());
        sub.register(
            "controller_reconcile_duration_seconds",
            "How long reconciles take",
            self.metrics.duration.clone(),
        );
    }

    /// Runs until `shutdown` completes, then lets the reconciles in flight
    /// finish and returns.
    pub async fn run<R: Reconciler<K>>(
        self,
        reconciler: R,
        api: Arc<dyn ObjectApi>,
        shutdown: impl Future<Output = ()>,
    ) {
        let queue: WorkQueue<String> = WorkQueue::with(
            self.name.clone(),
            self.clock.clone(),
            Box::new(default_controller_rate_limiter(self.clock.clone())),
        );
        let primary: Informer<K> = self.factory.informer(self.namespace.as_deref(), None, None);
        let mut feeders = Vec::new();
        {
            let queue = queue.clone();
            let predicates = self.predicates;
            let mut changes = Box::pin(primary.subscribe_listed());
            feeders.push(tokio::spawn(async move {
                while let Some((change, listed)) = changes.next().await {
                    match change {
                        // Objects of a list wait behind live changes.
                        Change::Added(o) if listed => queue.add_low_priority(key_of(&*o)),
                        Change::Added(o) | Change::Deleted(o) => queue.add(key_of(&*o)),
                        Change::Updated { old, new } => {
                            if predicates.iter().all(|p| p.passes(&old, &new)) {
                                queue.add(key_of(&*new));
                            }
                        }
                    }
                }
            }));
        }
        for source in self.sources {
            feeders.push(source(&self.factory, queue.clone()));
        }
        let reconciler = Arc::new(reconciler);
        let controller: Arc<str> = Arc::from(self.name.as_str());
        let mut workers = Vec::new();
        for _ in 0..self.workers {
            let (queue, store, reconciler, api, clock, metrics, controller) = (
                queue.clone(),
                primary.store(),
                reconciler.clone(),
                api.clone(),
                self.clock.clone(),
                self.metrics.clone(),
                controller.clone(),
            );
            workers.push(tokio::spawn(async move {
                while let Some(key) = queue.get().await {
                    // A deleted object has nothing left to reconcile (use a
                    // finalizer to act on deletion).
                    if let Some(object) = store.get(&key) {
                        let ctx = Context {
                            controller: controller.clone(),
                            api: api.clone(),
                            clock: clock.clone(),
                            retries: queue.retries(&key),
                        };
                        let started = Instant::now();
                        // A panic is a failure like any other: the key is
                        // retried and still marked done (or draining would wait for it).
                        let outcome = AssertUnwindSafe(reconciler.reconcile(object, &ctx)).catch_unwind().await;
                        metrics.reconciles.inc();
                        metrics.duration.observe(started.elapsed().as_secs_f64());
                        match outcome {
                            Ok(Ok(Action::AwaitChange)) => queue.forget(&key),
                            Ok(Ok(Action::RequeueAfter(after))) => {
                                queue.forget(&key);
                                queue.add_after(key.clone(), after);
                            }
                            Ok(Err(_)) | Err(_) => {
                                metrics.errors.inc();
                                queue.add_rate_limited(key.clone());
                            }
                        }
                    } else {
                        queue.forget(&key);
                    }
                    queue.done(&key);
                }
            }));
        }
        // If this future is dropped (its manager lost the lease), every task stops.
        let _abort = AbortOnDrop::new(feeders.iter().chain(&workers));
        shutdown.await;
        for feeder in &feeders {
            feeder.abort();
        }
        queue.shutdown_and_drain().await;
        for worker in workers {
            let _ = worker.await;
        }
    }
}

/// A controller's Prometheus metrics.
#[derive(Clone, Debug)]
struct ControllerMetrics {
    reconciles: Counter,
    errors: Counter,
    duration: Histogram,
}

impl Default for ControllerMetrics {
    fn default() -> Self {
        ControllerMetrics {
            reconciles: Counter::default(),
            errors: Counter::default(),
            duration: Histogram::new(exponential_buckets(1e-4, 4.0, 12)),
        }
    }
}

#[cfg(test)]
mod tests;
