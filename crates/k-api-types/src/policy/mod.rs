//! The `policy` API group (placeholder until its kinds land).
