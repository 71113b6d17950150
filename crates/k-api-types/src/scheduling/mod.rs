//! The `scheduling` API group (placeholder until its kinds land).
