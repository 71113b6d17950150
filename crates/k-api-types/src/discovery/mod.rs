//! The `discovery` API group (placeholder until its kinds land).
