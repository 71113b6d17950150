//! apps/v1 kinds: Deployment, ReplicaSet, DaemonSet, StatefulSet and
//! ControllerRevision.
//!
//! Validation follows kube-apiserver, which validates objects after
//! defaulting: call [`ApplyDefaults::apply_defaults`](crate::ApplyDefaults)
//! first, or unset strategies are reported as unsupported.

pub(crate) mod common;
mod controller_revision;
mod daemon_set;
mod deployment;
mod replica_set;
mod stateful_set;

pub use controller_revision::*;
pub use daemon_set::*;
pub use deployment::*;
pub use replica_set::*;
pub use stateful_set::*;
