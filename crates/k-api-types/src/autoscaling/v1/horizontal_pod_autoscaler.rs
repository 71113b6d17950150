//! HorizontalPodAutoscaler (autoscaling/v1): scales a workload on CPU utilization.

use crate::autoscaling::v2::validate_replica_bounds;
use crate::defaults::default_to;
use crate::meta::{ObjectMeta, Time};
use crate::validation::{
    ErrorList, FieldError, NameRule, Path, Validate, validate_object_meta, validate_object_meta_update,
};
use crate::{ApplyDefaults, wire};

pub use crate::autoscaling::v2::CrossVersionObjectReference;

/// Automatic scaling of a scalable workload on average CPU utilization
/// (autoscaling/v1 HorizontalPodAutoscaler).
#[wire]
pub struct HorizontalPodAutoscaler {
    /// APIVersion of the object (`autoscaling/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`HorizontalPodAutoscaler`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// Desired behaviour.
    #[wire(omitempty)]
    pub spec: HorizontalPodAutoscalerSpec,
    /// Observed state.
    pub status: Option<HorizontalPodAutoscalerStatus>,
}

crate::impl_resource!(HorizontalPodAutoscaler {
    group: "autoscaling",
    version: "v1",
    kind: "HorizontalPodAutoscaler",
    plural: "horizontalpodautoscalers",
    singular: "horizontalpodautoscaler",
    short_names: ["hpa"],
    categories: ["all"],
    namespaced: true,
    verbs: crate::resource::ALL_VERBS,
    subresources: ["status"],
    selectable_fields: [],
});

/// A list of horizontal pod autoscalers (autoscaling/v1).
pub type HorizontalPodAutoscalerList = crate::meta::ObjectList<HorizontalPodAutoscaler>;

/// The desired behaviour of an autoscaler.
#[wire]
pub struct HorizontalPodAutoscalerSpec {
    /// The scaled workload (it must have a `scale` subresource).
    pub scale_target_ref: CrossVersionObjectReference,
    /// Lower replica limit (default 1).
    pub min_replicas: Option<i32>,
    /// Upper replica limit; at least `minReplicas`.
    #[wire(always)]
    pub max_replicas: i32,
    /// Target average CPU utilization, in percent of requests (the server uses 80 when unset).
    #[serde(rename = "targetCPUUtilizationPercentage")]
    pub target_cpu_utilization_percentage: Option<i32>,
}

/// The observed state of an autoscaler.
#[wire]
pub struct HorizontalPodAutoscalerStatus {
    /// The generation the controller last observed.
    pub observed_generation: Option<i64>,
    /// When the autoscaler last changed the replica count.
    pub last_scale_time: Option<Time>,
    /// Current replicas of the target.
    #[wire(always)]
    pub current_replicas: i32,
    /// Desired replicas as last computed.
    #[wire(always)]
    pub desired_replicas: i32,
    /// Current average CPU utilization, in percent of requests.
    #[serde(rename = "currentCPUUtilizationPercentage")]
    pub current_cpu_utilization_percentage: Option<i32>,
}

impl ApplyDefaults for HorizontalPodAutoscaler {
    /// `minReplicas` 1 (the CPU target is applied by the server's conversion, not defaulting).
    fn apply_defaults(&mut self) {
        default_to(&mut self.spec.min_replicas, 1);
    }
}

impl Validate for HorizontalPodAutoscaler {
    fn validate(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta(&self.metadata, true, NameRule::Subdomain, &mut errors);
        validate_spec(&self.spec, &Path::new("spec"), &mut errors);
        errors
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Subdomain, &mut errors);
        validate_spec(&self.spec, &Path::new("spec"), &mut errors);
        errors
    }
}

fn validate_spec(spec: &HorizontalPodAutoscalerSpec, path: &Path, errors: &mut ErrorList) {
    validate_replica_bounds(spec.min_replicas, spec.max_replicas, &spec.scale_target_ref, path, errors);
    if let Some(target) = spec.target_cpu_utilization_percentage.filter(|t| *t < 1) {
        errors.push(FieldError::invalid(
            &path.child("targetCPUUtilizationPercentage"),
            target,
            "must be greater than 0",
        ));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Resource;
    use crate::apps::v1::common::test_support::causes;

    #[test]
    fn round_trip_defaults_validation() {
        let wire = json!({
            "apiVersion": "autoscaling/v1",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "prod"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"}, "minReplicas": 2, "maxReplicas": 5, "targetCPUUtilizationPercentage": 60},
            "status": {"observedGeneration": 1, "lastScaleTime": "2024-01-01T00:00:00Z", "currentReplicas": 2, "desiredReplicas": 3, "currentCPUUtilizationPercentage": 75}
        });
        let h: HorizontalPodAutoscaler = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(serde_json::to_value(&h).unwrap(), wire);
        assert_eq!(HorizontalPodAutoscaler::INFO.api_version, "autoscaling/v1");

        let mut d = HorizontalPodAutoscaler::default();
        d.apply_defaults();
        assert_eq!((d.spec.min_replicas, d.spec.target_cpu_utilization_percentage), (Some(1), None));

        assert_eq!(causes(&h.validate()), []);
        let mut bad = h.clone();
        bad.spec.target_cpu_utilization_percentage = Some(0);
        bad.spec.max_replicas = 1;
        assert_eq!(
            causes(&bad.validate_update(&h)),
            [
                ("spec.maxReplicas".to_owned(), "FieldValueInvalid"),
                ("spec.targetCPUUtilizationPercentage".to_owned(), "FieldValueInvalid")
            ]
        );
    }
}
