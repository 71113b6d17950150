//! policy/v1 kinds: PodDisruptionBudget and Eviction.

mod eviction;
mod pod_disruption_budget;

pub use eviction::*;
pub use pod_disruption_budget::*;
