//! The `authorization.k8s.io` API group: access reviews ("can I…?" questions
//! answered by the API server's authorizer).

pub mod v1;
