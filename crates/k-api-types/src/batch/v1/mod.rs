//! batch/v1 kinds: Job and CronJob.
//!
//! Validation follows kube-apiserver, which validates objects after
//! defaulting: call [`ApplyDefaults::apply_defaults`](crate::ApplyDefaults) first.

mod cron;
mod cron_job;
mod job;

pub use cron_job::*;
pub use job::*;
