//! The `networking.k8s.io` API group: network policies, ingresses and ingress classes.

pub mod v1;
