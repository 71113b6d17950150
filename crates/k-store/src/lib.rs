//! Revisioned object storage with watch for k control planes.
//!
//! - [`backend`]: the byte-level contract ([`backend::Backend`]) and its
//!   implementations: [`backend::memory`] (the embedded default), durable
//!   embedded, and etcd (feature `etcd`).
//! - [`key`]: where objects live in a backend.
//! - [`error::StoreError`]: failures, mapped 1:1 to Kubernetes Status reasons.
//!
//! The design is in `docs/store/design.md` of the repository.

pub mod backend;
pub mod error;
pub mod key;

pub use error::{Result, StoreError};
