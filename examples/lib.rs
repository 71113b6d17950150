//! The k examples. Run one with `cargo run --release --example <name>`:
//!
//! - `control-plane`: a store and the API server that kubectl drives.
//! - `node-perf`, `controller-perf`: benchmarks of the node agent and of
//!   the controller manager (shared pieces in [`perf`]).
//! - `schedule-sim`, `scheduler-perf`, `scheduler-plugin`: the scheduler
//!   replayed, measured and extended.

pub mod perf;
