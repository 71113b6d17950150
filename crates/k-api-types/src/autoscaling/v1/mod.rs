//! autoscaling/v1 kinds: the `Scale` subresource body and the CPU-only
//! HorizontalPodAutoscaler.

mod horizontal_pod_autoscaler;

pub use crate::meta::{Scale, ScaleSpec, ScaleStatus};
pub use horizontal_pod_autoscaler::*;
