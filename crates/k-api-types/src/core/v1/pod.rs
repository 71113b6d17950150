//! Pod, PodSpec, containers and PodTemplateSpec. (Skeleton; being filled in.)

use crate::meta::ObjectMeta;
use crate::validation::{ErrorList, Path};
use crate::{ApplyDefaults, wire};

/// The desired state of a pod.
#[wire]
pub struct PodSpec {
    /// Containers of the pod.
    pub containers: Vec<serde_json::Value>,
}

/// A pod template, as workload controllers embed it.
#[wire]
pub struct PodTemplateSpec {
    /// Metadata of pods created from the template.
    pub metadata: ObjectMeta,
    /// Spec of pods created from the template.
    #[wire(omitempty)]
    pub spec: PodSpec,
}

impl ApplyDefaults for PodSpec {
    fn apply_defaults(&mut self) {}
}

impl ApplyDefaults for PodTemplateSpec {
    fn apply_defaults(&mut self) {
        self.spec.apply_defaults();
    }
}

/// Validates a pod spec (containers, volumes, policies…), appending errors under `path`.
pub fn validate_pod_spec(_spec: &PodSpec, _path: &Path, _errors: &mut ErrorList) {}

/// Validates a pod template: its metadata labels/annotations and its spec (under `path.spec`).
pub fn validate_pod_template_spec(_template: &PodTemplateSpec, _path: &Path, _errors: &mut ErrorList) {}
