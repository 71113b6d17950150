//! core/v1 kinds.

mod pod;

pub use pod::*;
