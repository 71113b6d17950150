//! Pods on a node: what to do next ([`actions`]), what to report
//! ([`status`]) and the task that does it for one pod ([`worker`]).

pub mod actions;
pub mod status;
pub mod worker;
