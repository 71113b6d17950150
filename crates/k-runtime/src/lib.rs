//! The controller runtime of k: what controllers are built on.
//!
//! k-runtime turns the k-store object API — the in-process
//! [`k_store::Store`] or the HTTP `RemoteApi`, both `Arc<dyn ObjectApi>` —
//! into work for reconcile loops:
//!
//! - [`queue::WorkQueue`]: client-go's work queue semantics — deduplication,
//!   never two workers on one item, delayed, low-priority and rate-limited
//!   adds, draining shutdown, Prometheus metrics — with the
//!   [`queue::RateLimiter`]s controllers use (per-item exponential backoff
//!   that resets on success, a token bucket, the larger of both).
//! - [`clock::Clock`]: injectable time; [`clock::FakeClock`] lets tests move
//!   time by hand instead of sleeping.
//! - [`watcher::watcher`] and [`watcher::typed`]: a kind's objects as a
//!   stream that lists, watches, resumes, re-lists on Expired and backs off
//!   after errors, marking where each (re)list starts and ends; the typed
//!   one decodes objects straight from the JSON the API hands over.
//! - [`reflector::store`]: a cache fed by a watcher — one writer, many
//!   readers of `Arc` objects, atomic swaps on re-list, indexes,
//!   `wait_until_synced`, transforms.
//! - [`informer::InformerFactory`]: one watch per kind, namespace and
//!   selectors for the whole process; subscribers get every change, late
//!   ones the current state first.
//!
//! - [`controller::Controller`]: a [`controller::Reconciler`] run over
//!   shared informers and a work queue: `owns` children, `watches` other
//!   kinds, predicates, N workers, per-key backoff, metrics.
//!
//! - [`leader::LeaderElector`]: leader election on Leases with client-go's
//!   timings, release on exit, and fencing (work stops when the lease is
//!   lost).
//!
//! - Helpers: [`finalizer::finalizer`] (act on deletion, safe under
//!   conflicts), [`owner`] references, server-side [`apply`]
//!   ([`apply::Applier`], `Context::applier`), status [`conditions`], and
//!   an [`events::Recorder`] (aggregation of repeats, a spam filter per
//!   object).
//!
//! - [`manager::Manager`]: many controllers over one client and one set of
//!   informers, one metrics registry, optional leader election, graceful
//!   shutdown on a signal.
//!
//! - [`testing::TestEnv`]: an in-process environment for operator tests
//!   (memory store, CRDs served on creation, fake clock, `apply` manifests,
//!   `wait_for` conditions) — no etcd, no binaries.
//!
//! - [`metrics::serve`]: `GET /metrics` from a registry (the manager's:
//!   [`manager::Manager::serve_metrics`]); [`client_metrics::MeteredApi`]
//!   counts and times every request of the manager's client.
//!
//! The design and the benchmark against kube-runtime are in `docs/runtime/`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use k_runtime::queue::WorkQueue;
//!
//! let queue = WorkQueue::new("pods");
//! queue.add("default/web".to_owned());
//! queue.add("default/web".to_owned()); // already waiting: no second entry
//! let item = queue.get().await.unwrap();
//! // ... reconcile `item` ...
//! queue.forget(&item); // it succeeded: reset its backoff
//! queue.done(&item);
//! assert_eq!(queue.len(), 0);
//! # }
//! ```

pub mod apply;
pub mod client_metrics;
pub mod clock;
pub mod conditions;
pub mod controller;
pub mod events;
pub mod finalizer;
pub mod informer;
pub mod leader;
pub mod manager;
pub mod metrics;
pub mod owner;
pub mod queue;
pub mod reflector;
mod tasks;
pub mod testing;
pub mod watcher;

#[cfg(test)]
mod test_support;
