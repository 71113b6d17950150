//! The k scheduler: kube-scheduler's decisions as a library.
//!
//! Start with [`framework`]: the extension-point traits a plugin implements
//! ([`framework::FilterPlugin`], [`framework::ScorePlugin`], …), the
//! [`framework::Status`] they answer with, and the [`framework::NodeInfo`] /
//! [`framework::PodInfo`] they read (requests and allocatable resources as
//! integers, computed once). The built-in [`plugins`] carry kube-scheduler's
//! names, filters and integer scores.
//!
//! Work in progress (issue 7): the framework types and the plugins that
//! judge one node on its own are here; the framework runtime and profiles,
//! the plugins that look at other pods (InterPodAffinity,
//! PodTopologySpread), volumes, preemption, the queue, the cache, the
//! scheduling loop and the simulator follow. The plan is in
//! `docs/scheduler/design.md`.

pub mod framework;
pub mod plugins;
