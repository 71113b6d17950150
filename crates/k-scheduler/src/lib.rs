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
//!
//! Work in progress (issue 7): the plugins that look at other pods
//! (InterPodAffinity, PodTopologySpread), volumes, preemption and the
//! scheduling loop through the API server follow. The
//! plan is in `docs/scheduler/design.md`.

pub mod cache;
pub mod config;
pub mod framework;
pub mod plugins;
pub mod queue;
pub mod scheduler;
pub mod simulator;
