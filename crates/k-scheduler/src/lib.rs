//! The k scheduler: kube-scheduler's decisions as a library.
//!
//! Start with [`framework`]: the extension-point traits a plugin implements
//! ([`framework::FilterPlugin`], [`framework::ScorePlugin`], …), the
//! [`framework::Status`] they answer with, and the [`framework::NodeInfo`] /
//! [`framework::PodInfo`] they read (requests and allocatable resources as
//! integers, computed once). The built-in [`plugins`] carry kube-scheduler's
//! names, filters and integer scores.
//!
//! [`framework::Framework`] runs one profile for a pod (filter, score,
//! pick); [`config`] reads KubeSchedulerConfiguration profiles into
//! frameworks with the plugins of [`framework::registry::Registry`];
//! [`simulator`] answers "where would these pods go, and why?" for a
//! scenario file (the `schedule-sim` example).
//!
//! [`queue::SchedulingQueue`] holds pending pods between attempts and
//! [`cache::Cache`] the nodes with their (assumed) pods.
//! [`scheduler::Scheduler`] puts it all together over any k-store object
//! API (the in-process store or a remote API server): informers, the
//! scheduling cycle, binding in the background through `pods/binding`,
//! preemption, events, the PodScheduled condition, metrics and leader
//! election — what `cargo run --release --example control-plane` runs.
//!
//! Where to start: `docs/scheduler/scheduler.md` (running it),
//! `docs/scheduler/design.md` (modules, semantics, differences from
//! kube-scheduler), `docs/scheduler/benchmarks.md` (throughput and memory;
//! `cargo run --release --example scheduler-perf`).

pub mod cache;
pub mod config;
pub mod framework;
pub mod plugins;
pub mod queue;
pub mod scheduler;
pub mod simulator;
