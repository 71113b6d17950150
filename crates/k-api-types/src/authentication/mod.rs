//! The `authentication.k8s.io` API group: token reviews, token requests and
//! "who am I" reviews.

pub mod v1;
