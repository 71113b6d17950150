//! k's controller manager: the controllers that turn stored intent into a
//! running system, each usable alone, built on k-runtime's controller
//! framework (informers, work queues, reconcilers).
//!
//! Start with [`ControllerManager`]: it runs a chosen set of controllers
//! (`--controllers` with `*` and `-name`, as kube-controller-manager) over
//! one object API, with shared informers and optional leader election.
//! Each controller module also offers its reconciler alone, to add to your
//! own [`k_runtime::manager::Manager`]. The design is
//! `docs/controllers/design.md`, the benchmark (`cargo run --release
//! --example controller-perf`) `docs/controllers/benchmarks.md`.
//!
//! Controllers: [`replicaset`] (ReplicaSet and ReplicationController),
//! [`deployment`], [`daemonset`], [`statefulset`], [`job`], [`cronjob`],
//! [`endpoints`] (Endpoints and EndpointSlice), [`namespace`],
//! [`serviceaccount`], [`gc`] (garbage collector), [`nodelifecycle`],
//! [`nodeipam`], [`pvbinder`] (PersistentVolume binder and provisioning),
//! [`resourcequota`] and [`hpa`] (HorizontalPodAutoscaler v2). Shared
//! pieces (claiming, expectations, template hashes, revisions) are in
//! [`util`].

pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod endpoints;
pub mod gc;
pub mod hpa;
pub mod job;
pub mod manager;
pub mod namespace;
pub mod nodeipam;
pub mod nodelifecycle;
pub mod pvbinder;
pub mod replicaset;
pub mod resourcequota;
pub mod serviceaccount;
pub mod statefulset;
pub mod util;

pub use manager::{ControllerManager, ControllerOptions, Selection, SelectionError};
