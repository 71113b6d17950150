//! The core (legacy, `""`) API group.

pub mod v1;
