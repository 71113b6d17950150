//! `Scale` (autoscaling/v1): the `scale` subresource's body.

use super::ObjectMeta;
use crate::wire;

/// The scale subresource of a workload (autoscaling/v1 Scale).
#[wire]
pub struct Scale {
    /// `autoscaling/v1`.
    #[wire(omitempty)]
    pub api_version: String,
    /// `Scale`.
    #[wire(omitempty)]
    pub kind: String,
    /// Metadata of the scaled object.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// Desired scale.
    pub spec: ScaleSpec,
    /// Current scale.
    pub status: Option<ScaleStatus>,
}

/// Desired number of replicas.
#[wire(eq)]
pub struct ScaleSpec {
    /// Desired replicas.
    pub replicas: Option<i32>,
}

/// Observed number of replicas and the label selector of the pods.
#[wire(eq)]
pub struct ScaleStatus {
    /// Actual replicas.
    #[wire(always)]
    pub replicas: i32,
    /// Label selector of the pods, in string form.
    #[wire(omitempty)]
    pub selector: String,
}
