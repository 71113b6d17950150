//! The `authentication` API group (placeholder until its kinds land).
