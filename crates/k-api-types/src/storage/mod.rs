//! The `storage` API group (placeholder until its kinds land).
