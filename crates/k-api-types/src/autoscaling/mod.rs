//! The `autoscaling` API group: the `scale` subresource and horizontal pod autoscalers.

pub mod v1;
pub mod v2;
