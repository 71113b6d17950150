//! The `apiextensions` API group (placeholder until its kinds land).
