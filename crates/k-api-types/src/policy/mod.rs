//! The `policy` API group: disruption budgets and evictions.

pub mod v1;
