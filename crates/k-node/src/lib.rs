//! k's node agent (issue 9, in progress): what the kubelet does, as a
//! library over CRI ([`k_netplugin::cri`]) and CNI. See
//! `docs/node/design.md`.

pub mod config;
pub mod lifecycle;
pub mod logs;
pub mod node;
pub mod pods;
pub mod probes;
pub mod static_pods;
pub mod stats;
pub mod volumes;
