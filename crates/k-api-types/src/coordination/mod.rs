//! The `coordination` API group (placeholder until its kinds land).
