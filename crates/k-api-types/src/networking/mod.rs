//! The `networking` API group (placeholder until its kinds land).
