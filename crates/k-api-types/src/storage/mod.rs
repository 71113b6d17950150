//! The `storage.k8s.io` API group: storage classes and CSINodes.

pub mod v1;
