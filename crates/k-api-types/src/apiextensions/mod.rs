//! The `apiextensions.k8s.io` API group: CustomResourceDefinitions.

pub mod v1;
