//! The `apps` API group (placeholder until its kinds land).
