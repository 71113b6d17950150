//! The `rbac.authorization.k8s.io` API group: roles, cluster roles and their bindings.

pub mod v1;
