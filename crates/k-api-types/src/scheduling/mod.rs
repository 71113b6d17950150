//! The `scheduling.k8s.io` API group: priority classes.

pub mod v1;
