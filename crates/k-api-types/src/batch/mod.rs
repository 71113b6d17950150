//! The `batch` API group: run-to-completion and scheduled work.

pub mod v1;
