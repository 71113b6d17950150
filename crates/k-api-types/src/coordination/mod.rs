//! The `coordination.k8s.io` API group: leases.

pub mod v1;
