//! Revisioned object storage with watch for k control planes.
//!
//! Start with [`Store`]: the Kubernetes object lifecycle (uid, generation,
//! status path, finalizers, graceful deletion, defaulting, validation,
//! admission) over a [`backend::Backend`], used through the dynamic
//! [`ObjectApi`] or the typed [`Api`]. `Store::in_memory()` needs no setup.
//!
//! - [`backend`]: the byte-level contract and its implementations:
//!   [`backend::memory`] (the embedded default), durable embedded, and etcd
//!   (feature `etcd`).
//! - [`api`]: the object API ([`ObjectApi`], [`Api`], options).
//! - [`admission`]: the admission hook trait.
//! - [`key`]: where objects live in a backend.
//! - Custom resources: writing a CustomResourceDefinition through a `Store`
//!   serves its kinds at once; [`Store::load_custom_resources`] at start.
//! - [`error::StoreError`]: failures, mapped 1:1 to Kubernetes Status reasons.
//!
//! What it is not: an HTTP server (that is `k-apiserver`) or a cache (that is
//! `k-runtime`'s informers). The design is in `docs/store/design.md`.

pub mod admission;
pub mod api;
pub mod apply;
pub mod backend;
mod crd;
pub mod error;
#[cfg(feature = "etcd")]
pub mod etcd_harness;
pub mod key;
pub mod patch;
#[cfg(feature = "remote")]
pub mod remote;
pub mod store;
pub mod testing;

pub use api::{Api, ObjectApi};
pub use error::{Result, StoreError};
pub use store::Store;
