//! The k examples. Run one with `cargo run --release --example <name>`:
//!
//! - `control-plane`: a store and the API server that kubectl drives.
