//! The `rbac` API group (placeholder until its kinds land).
