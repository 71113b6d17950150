//! autoscaling/v2 kinds: HorizontalPodAutoscaler with multiple metric sources.

mod horizontal_pod_autoscaler;

pub use horizontal_pod_autoscaler::*;
