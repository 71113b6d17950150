//! The `authorization` API group (placeholder until its kinds land).
