//! Pods on a node: what to do next ([`actions`]) and what to report
//! ([`status`]).

pub mod actions;
pub mod status;
