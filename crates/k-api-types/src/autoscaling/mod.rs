//! The `autoscaling` API group (placeholder until its kinds land).
