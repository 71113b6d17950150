//! k's node agent: what the kubelet does, as a library over CRI
//! ([`k_netplugin::cri`]) and CNI.
//!
//! Start with [`NodeAgent`]: give it an object API (the store in process,
//! or `k_store::remote::RemoteApi` for an API server), a CRI runtime and
//! image service (`k_netplugin::cri::fake::FakeRuntime` for tests and
//! simulations, `k_netplugin::cri::process::ProcessRuntime` to run
//! processes on Linux) and a [`NodeConfig`], then [`NodeAgent::run`]. It
//! registers the Node, renews its Lease, and runs every pod bound to it
//! (volumes, sandbox, init and app containers, probes, hooks, restarts with
//! back-off, status, graceful deletion), static pods from a manifest
//! directory included. [`sim::SimulatedNodes`] runs many agents on fake
//! runtimes in one process; [`logs::NodeLogs`] (and, with the feature
//! `apiserver`, `logs::ApiLogSource`) serves `kubectl logs`.
//!
//! The pieces are usable alone: [`pods::actions`] (what to do next, as the
//! kubelet's computePodActions) and [`pods::status`] (the pod's status) are
//! pure functions; [`probes`], [`lifecycle`], [`volumes`], [`env`](mod@env),
//! [`static_pods`], [`stats`] and [`node`] each do one job. The guide is
//! `docs/node/node.md`, the design `docs/node/design.md`.

pub mod agent;
pub mod config;
pub mod env;
pub mod lifecycle;
pub mod logs;
pub mod node;
pub mod pods;
pub mod probes;
pub mod sim;
pub mod static_pods;
pub mod stats;
pub mod volumes;

pub use agent::NodeAgent;
pub use config::NodeConfig;
