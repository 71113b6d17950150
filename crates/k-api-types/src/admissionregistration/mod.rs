//! The `admissionregistration.k8s.io` API group: admission webhook
//! configurations.

pub mod v1;
