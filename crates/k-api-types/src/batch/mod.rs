//! The `batch` API group (placeholder until its kinds land).
