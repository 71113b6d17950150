//! The `storage.k8s.io` API group: storage classes.

pub mod v1;
