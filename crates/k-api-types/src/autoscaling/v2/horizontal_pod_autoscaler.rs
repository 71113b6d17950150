//! HorizontalPodAutoscaler (autoscaling/v2): scales a workload on metrics.

use crate::apps::v1::common::path_segment_name_errors;
use crate::defaults::default_to;
use crate::meta::{LabelSelector, ObjectMeta, Time};
use crate::quantity::Quantity;
use crate::validation::{
    DNS1123_LABEL_ERROR, ErrorList, FieldError, NameRule, Path, Validate, is_dns1123_label, validate_object_meta,
    validate_object_meta_update,
};
use crate::{ApplyDefaults, wire};

/// CPU utilization targeted when an autoscaler lists no metrics.
const DEFAULT_CPU_UTILIZATION: i32 = 80;
const MAX_PERIOD_SECONDS: i32 = 1800;
const MAX_STABILIZATION_WINDOW_SECONDS: i32 = 3600;
const METRIC_SOURCE_TYPES: &[&str] = &["ContainerResource", "External", "Object", "Pods", "Resource"];

/// Automatic scaling of a scalable workload's replicas from metrics
/// (autoscaling/v2 HorizontalPodAutoscaler).
#[wire]
pub struct HorizontalPodAutoscaler {
    /// APIVersion of the object (`autoscaling/v2`).
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
    version: "v2",
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

/// A list of horizontal pod autoscalers.
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
    /// Metrics the desired replica count is computed from; the largest proposal wins
    /// (default: 80% average CPU utilization).
    pub metrics: Vec<MetricSpec>,
    /// How fast to scale up and down (default: the controller's built-in rules).
    pub behavior: Option<HorizontalPodAutoscalerBehavior>,
}

/// A reference to an object of any group and version.
#[wire(eq)]
pub struct CrossVersionObjectReference {
    /// Kind of the referent, such as `Deployment`.
    pub kind: String,
    /// Name of the referent.
    pub name: String,
    /// API version of the referent, such as `apps/v1`.
    pub api_version: Option<String>,
}

/// One metric to scale on; exactly the source matching `type` is set.
#[wire]
pub struct MetricSpec {
    /// `ContainerResource`, `External`, `Object`, `Pods` or `Resource`.
    #[serde(rename = "type")]
    pub type_: String,
    /// A metric describing a single Kubernetes object.
    pub object: Option<ObjectMetricSource>,
    /// A metric averaged over the target's pods.
    pub pods: Option<PodsMetricSource>,
    /// A resource (CPU, memory) of the target's pods.
    pub resource: Option<ResourceMetricSource>,
    /// A resource of one container of the target's pods.
    pub container_resource: Option<ContainerResourceMetricSource>,
    /// A metric not tied to any Kubernetes object.
    pub external: Option<ExternalMetricSource>,
}

/// A metric of one Kubernetes object.
#[wire]
pub struct ObjectMetricSource {
    /// The object the metric describes.
    pub described_object: CrossVersionObjectReference,
    /// The target value.
    pub target: MetricTarget,
    /// The metric.
    pub metric: MetricIdentifier,
}

/// A per-pod metric, averaged over the target's pods.
#[wire]
pub struct PodsMetricSource {
    /// The metric.
    pub metric: MetricIdentifier,
    /// The target value (`AverageValue` only).
    pub target: MetricTarget,
}

/// A resource metric of the target's pods.
#[wire]
pub struct ResourceMetricSource {
    /// The resource, such as `cpu`.
    pub name: String,
    /// The target value.
    pub target: MetricTarget,
}

/// A resource metric of one container of the target's pods.
#[wire]
pub struct ContainerResourceMetricSource {
    /// The resource, such as `cpu`.
    pub name: String,
    /// The target value.
    pub target: MetricTarget,
    /// The container.
    pub container: String,
}

/// A metric from outside the cluster.
#[wire]
pub struct ExternalMetricSource {
    /// The metric.
    pub metric: MetricIdentifier,
    /// The target value.
    pub target: MetricTarget,
}

/// A metric's name and label selector.
#[wire(eq)]
pub struct MetricIdentifier {
    /// Name of the metric.
    pub name: String,
    /// Selects the metric's series; all series are aggregated when unset.
    pub selector: Option<LabelSelector>,
}

/// The target value of a metric.
#[wire]
pub struct MetricTarget {
    /// `Utilization`, `Value` or `AverageValue`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Target value of the metric.
    pub value: Option<Quantity>,
    /// Target value of the metric averaged over pods.
    pub average_value: Option<Quantity>,
    /// Target percentage of the pods' resource requests (resource metrics only).
    pub average_utilization: Option<i32>,
}

/// Scaling rules in each direction.
#[wire]
pub struct HorizontalPodAutoscalerBehavior {
    /// Rules for scaling up (default: stabilization 0 s; 4 pods or 100% per 15 s; the larger).
    pub scale_up: Option<HPAScalingRules>,
    /// Rules for scaling down (default: 100% per 15 s; the controller's 300 s stabilization).
    pub scale_down: Option<HPAScalingRules>,
}

/// Rules limiting the rate of scaling in one direction.
#[wire(eq)]
pub struct HPAScalingRules {
    /// Seconds of past recommendations considered, to avoid flapping (0–3600).
    pub stabilization_window_seconds: Option<i32>,
    /// `Max`, `Min` or `Disabled`: which policy's proposal applies.
    pub select_policy: Option<String>,
    /// The policies.
    pub policies: Vec<HPAScalingPolicy>,
}

/// A limit on the change in replicas during a period.
#[wire(eq)]
pub struct HPAScalingPolicy {
    /// `Pods` or `Percent`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The amount of change allowed.
    #[wire(always)]
    pub value: i32,
    /// The period the policy applies over (1–1800 s).
    #[wire(always)]
    pub period_seconds: i32,
}

/// The observed state of an autoscaler.
#[wire]
pub struct HorizontalPodAutoscalerStatus {
    /// The generation the controller last observed.
    pub observed_generation: Option<i64>,
    /// When the autoscaler last changed the replica count.
    pub last_scale_time: Option<Time>,
    /// Current replicas of the target.
    pub current_replicas: Option<i32>,
    /// Desired replicas as last computed.
    #[wire(always)]
    pub desired_replicas: i32,
    /// Last read values of the metrics.
    pub current_metrics: Vec<MetricStatus>,
    /// Latest observations of the autoscaler's state.
    pub conditions: Vec<HorizontalPodAutoscalerCondition>,
}

/// The current value of one metric.
#[wire]
pub struct MetricStatus {
    /// `ContainerResource`, `External`, `Object`, `Pods` or `Resource`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Value of an object metric.
    pub object: Option<ObjectMetricStatus>,
    /// Value of a pods metric.
    pub pods: Option<PodsMetricStatus>,
    /// Value of a resource metric.
    pub resource: Option<ResourceMetricStatus>,
    /// Value of a container resource metric.
    pub container_resource: Option<ContainerResourceMetricStatus>,
    /// Value of an external metric.
    pub external: Option<ExternalMetricStatus>,
}

/// The current value of an object metric.
#[wire]
pub struct ObjectMetricStatus {
    /// The metric.
    pub metric: MetricIdentifier,
    /// Its current value.
    pub current: MetricValueStatus,
    /// The object it describes.
    pub described_object: CrossVersionObjectReference,
}

/// The current value of a pods metric.
#[wire]
pub struct PodsMetricStatus {
    /// The metric.
    pub metric: MetricIdentifier,
    /// Its current value.
    pub current: MetricValueStatus,
}

/// The current value of a resource metric.
#[wire]
pub struct ResourceMetricStatus {
    /// The resource.
    pub name: String,
    /// Its current value.
    pub current: MetricValueStatus,
}

/// The current value of a container resource metric.
#[wire]
pub struct ContainerResourceMetricStatus {
    /// The resource.
    pub name: String,
    /// Its current value.
    pub current: MetricValueStatus,
    /// The container.
    pub container: String,
}

/// The current value of an external metric.
#[wire]
pub struct ExternalMetricStatus {
    /// The metric.
    pub metric: MetricIdentifier,
    /// Its current value.
    pub current: MetricValueStatus,
}

/// A metric's current value.
#[wire]
pub struct MetricValueStatus {
    /// The value.
    pub value: Option<Quantity>,
    /// The value averaged over pods.
    pub average_value: Option<Quantity>,
    /// The average percentage of the pods' resource requests.
    pub average_utilization: Option<i32>,
}

/// A condition of an autoscaler (`AbleToScale`, `ScalingActive`, `ScalingLimited`).
#[wire(eq)]
pub struct HorizontalPodAutoscalerCondition {
    /// Type of the condition.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// When the condition last changed status.
    pub last_transition_time: Option<Time>,
    /// Machine-readable reason of the last transition.
    pub reason: Option<String>,
    /// Human-readable details of the last transition.
    pub message: Option<String>,
}

impl HPAScalingRules {
    /// The scale-up rules Kubernetes fills in: no stabilization, at most
    /// 4 pods or 100% per 15 s, whichever is larger.
    pub fn default_scale_up() -> Self {
        Self {
            stabilization_window_seconds: Some(0),
            select_policy: Some("Max".to_owned()),
            policies: vec![
                HPAScalingPolicy { type_: "Pods".to_owned(), value: 4, period_seconds: 15 },
                HPAScalingPolicy { type_: "Percent".to_owned(), value: 100, period_seconds: 15 },
            ],
        }
    }

    /// The scale-down rules Kubernetes fills in: at most 100% per 15 s; the
    /// stabilization window stays unset (the controller applies its 300 s default).
    pub fn default_scale_down() -> Self {
        Self {
            stabilization_window_seconds: None,
            select_policy: Some("Max".to_owned()),
            policies: vec![HPAScalingPolicy { type_: "Percent".to_owned(), value: 100, period_seconds: 15 }],
        }
    }

    /// Fills the unset parts of `rules` from `defaults`.
    fn merged(rules: Option<&Self>, defaults: Self) -> Self {
        let Some(rules) = rules else { return defaults };
        Self {
            stabilization_window_seconds: rules.stabilization_window_seconds.or(defaults.stabilization_window_seconds),
            select_policy: rules.select_policy.clone().or(defaults.select_policy),
            policies: if rules.policies.is_empty() { defaults.policies } else { rules.policies.clone() },
        }
    }
}

impl ApplyDefaults for HorizontalPodAutoscaler {
    /// `minReplicas` 1; an 80% CPU utilization metric when none is given; and,
    /// only when `behavior` is given, the unset parts of both directions' rules.
    fn apply_defaults(&mut self) {
        let spec = &mut self.spec;
        default_to(&mut spec.min_replicas, 1);
        if spec.metrics.is_empty() {
            spec.metrics = vec![MetricSpec {
                type_: "Resource".to_owned(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".to_owned(),
                    target: MetricTarget {
                        type_: "Utilization".to_owned(),
                        average_utilization: Some(DEFAULT_CPU_UTILIZATION),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }];
        }
        if let Some(behavior) = &mut spec.behavior {
            behavior.scale_up =
                Some(HPAScalingRules::merged(behavior.scale_up.as_ref(), HPAScalingRules::default_scale_up()));
            behavior.scale_down =
                Some(HPAScalingRules::merged(behavior.scale_down.as_ref(), HPAScalingRules::default_scale_down()));
        }
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

/// The replica-count rules shared with autoscaling/v1: `minReplicas` ≥ 1,
/// `maxReplicas` ≥ 1 and ≥ `minReplicas`, and a valid target reference.
pub(crate) fn validate_replica_bounds(
    min_replicas: Option<i32>,
    max_replicas: i32,
    target: &CrossVersionObjectReference,
    path: &Path,
    errors: &mut ErrorList,
) {
    if let Some(min) = min_replicas.filter(|m| *m < 1) {
        errors.push(FieldError::invalid(&path.child("minReplicas"), min, "must be greater than or equal to 1"));
    }
    if max_replicas < 1 {
        errors.push(FieldError::invalid(&path.child("maxReplicas"), max_replicas, "must be greater than 0"));
    }
    if let Some(min) = min_replicas
        && max_replicas < min
    {
        errors.push(FieldError::invalid(
            &path.child("maxReplicas"),
            max_replicas,
            "must be greater than or equal to `minReplicas`",
        ));
    }
    validate_cross_version_ref(target, &path.child("scaleTargetRef"), errors);
}

fn validate_spec(spec: &HorizontalPodAutoscalerSpec, path: &Path, errors: &mut ErrorList) {
    validate_replica_bounds(spec.min_replicas, spec.max_replicas, &spec.scale_target_ref, path, errors);
    let metrics_path = path.child("metrics");
    for (i, metric) in spec.metrics.iter().enumerate() {
        validate_metric_spec(metric, &metrics_path.index(i), errors);
    }
    if spec.min_replicas == Some(0) && !spec.metrics.iter().any(|m| m.type_ == "Object" || m.type_ == "External") {
        errors.push(FieldError::forbidden(
            &metrics_path,
            "must specify at least one Object or External metric to support scaling to zero replicas",
        ));
    }
    if let Some(behavior) = &spec.behavior {
        let p = path.child("behavior");
        for (name, rules) in [("scaleUp", &behavior.scale_up), ("scaleDown", &behavior.scale_down)] {
            if let Some(rules) = rules {
                validate_scaling_rules(rules, &p.child(name), errors);
            }
        }
    }
}

fn validate_cross_version_ref(r: &CrossVersionObjectReference, path: &Path, errors: &mut ErrorList) {
    for (name, value) in [("kind", &r.kind), ("name", &r.name)] {
        if value.is_empty() {
            errors.push(FieldError::required(&path.child(name), ""));
        }
        for msg in path_segment_name_errors(value) {
            errors.push(FieldError::invalid(&path.child(name), value, msg));
        }
    }
}

fn validate_metric_identifier(id: &MetricIdentifier, path: &Path, errors: &mut ErrorList) {
    let p = path.child("name");
    if id.name.is_empty() {
        errors.push(FieldError::required(&p, "must specify a metric name"));
    }
    for msg in path_segment_name_errors(&id.name) {
        errors.push(FieldError::invalid(&p, &id.name, msg));
    }
}

fn validate_metric_target(t: &MetricTarget, path: &Path, errors: &mut ErrorList) {
    if t.type_.is_empty() {
        errors.push(FieldError::required(&path.child("type"), "must specify a metric target type"));
    }
    if !matches!(t.type_.as_str(), "Utilization" | "Value" | "AverageValue") {
        errors.push(FieldError::invalid(
            &path.child("type"),
            &t.type_,
            "must be either Utilization, Value, or AverageValue",
        ));
    }
    for (name, q) in [("value", &t.value), ("averageValue", &t.average_value)] {
        if let Some(q) = q
            && (q.is_zero() || q.is_negative())
        {
            errors.push(FieldError::invalid(&path.child(name), q, "must be positive"));
        }
    }
    if let Some(u) = t.average_utilization.filter(|u| *u < 1) {
        errors.push(FieldError::invalid(&path.child("averageUtilization"), u, "must be greater than 0"));
    }
}

/// Checks a resource-style target: exactly one of utilization and average value.
fn validate_resource_target(t: &MetricTarget, target_path: &Path, errors: &mut ErrorList) {
    validate_metric_target(t, target_path, errors);
    match (t.average_utilization.is_some(), t.average_value.is_some()) {
        (false, false) => errors.push(FieldError::required(
            &target_path.child("averageUtilization"),
            "must set either a target raw value or a target utilization",
        )),
        (true, true) => errors.push(FieldError::forbidden(
            &target_path.child("averageValue"),
            "may not set both a target raw value and a target utilization",
        )),
        _ => {}
    }
}

fn validate_metric_spec(spec: &MetricSpec, path: &Path, errors: &mut ErrorList) {
    if spec.type_.is_empty() {
        errors.push(FieldError::required(&path.child("type"), "must specify a metric source type"));
    }
    if !METRIC_SOURCE_TYPES.contains(&spec.type_.as_str()) {
        errors.push(FieldError::not_supported(&path.child("type"), &spec.type_, METRIC_SOURCE_TYPES));
    }
    // Sources in Kubernetes' order; only the first one present is validated.
    let present: Vec<&str> = [
        ("Object", spec.object.is_some()),
        ("External", spec.external.is_some()),
        ("Pods", spec.pods.is_some()),
        ("Resource", spec.resource.is_some()),
        ("ContainerResource", spec.container_resource.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    match present.first().copied() {
        Some("Object") => {
            if let Some(src) = &spec.object {
                let p = path.child("object");
                validate_cross_version_ref(&src.described_object, &p.child("describedObject"), errors);
                validate_metric_identifier(&src.metric, &p.child("metric"), errors);
                validate_metric_target(&src.target, &p.child("target"), errors);
                if src.target.value.is_none() && src.target.average_value.is_none() {
                    errors.push(FieldError::required(
                        &p.child("target").child("averageValue"),
                        "must set either a target value or averageValue",
                    ));
                }
            }
        }
        Some("External") => {
            if let Some(src) = &spec.external {
                let p = path.child("external");
                validate_metric_identifier(&src.metric, &p.child("metric"), errors);
                validate_metric_target(&src.target, &p.child("target"), errors);
                match (src.target.value.is_some(), src.target.average_value.is_some()) {
                    (false, false) => errors.push(FieldError::required(
                        &p.child("target").child("averageValue"),
                        "must set either a target value for metric or a per-pod target",
                    )),
                    (true, true) => errors.push(FieldError::forbidden(
                        &p.child("target").child("value"),
                        "may not set both a target value for metric and a per-pod target",
                    )),
                    _ => {}
                }
            }
        }
        Some("Pods") => {
            if let Some(src) = &spec.pods {
                let p = path.child("pods");
                validate_metric_identifier(&src.metric, &p.child("metric"), errors);
                validate_metric_target(&src.target, &p.child("target"), errors);
                if src.target.average_value.is_none() {
                    errors.push(FieldError::required(
                        &p.child("target").child("averageValue"),
                        "must specify a positive target averageValue",
                    ));
                }
            }
        }
        Some("Resource") => {
            if let Some(src) = &spec.resource {
                let p = path.child("resource");
                if src.name.is_empty() {
                    errors.push(FieldError::required(&p.child("name"), "must specify a resource name"));
                }
                validate_resource_target(&src.target, &p.child("target"), errors);
            }
        }
        Some(_) => {
            if let Some(src) = &spec.container_resource {
                let p = path.child("containerResource");
                if src.name.is_empty() {
                    errors.push(FieldError::required(&p.child("name"), "must specify a resource name"));
                } else if !src.name.contains('/') && !is_standard_container_resource(&src.name) {
                    errors.push(FieldError::invalid(
                        &p.child("name"),
                        &src.name,
                        "must be a standard resource for containers",
                    ));
                }
                if src.container.is_empty() {
                    errors.push(FieldError::required(&p.child("container"), "must specify a container"));
                } else if !is_dns1123_label(&src.container) {
                    errors.push(FieldError::invalid(&p.child("container"), &src.container, DNS1123_LABEL_ERROR));
                }
                validate_resource_target(&src.target, &p.child("target"), errors);
            }
        }
        None => {}
    }
    let (expected, set) = match spec.type_.as_str() {
        "Object" => ("object", spec.object.is_some()),
        "Pods" => ("pods", spec.pods.is_some()),
        "Resource" => ("resource", spec.resource.is_some()),
        "External" => ("external", spec.external.is_some()),
        "ContainerResource" => ("containerResource", spec.container_resource.is_some()),
        _ => {
            errors.push(FieldError::not_supported(&path.child("type"), &spec.type_, METRIC_SOURCE_TYPES));
            ("", true)
        }
    };
    if !set {
        errors
            .push(FieldError::required(&path.child(expected), "must populate information for the given metric source"));
    }
    if present.len() != 1 {
        for other in present.iter().filter(|t| **t != spec.type_) {
            // Kubernetes names the extra source by its lower-cased type (`containerresource`).
            errors.push(FieldError::forbidden(
                &path.child(&other.to_lowercase()),
                "must populate the given metric source only",
            ));
        }
    }
}

fn is_standard_container_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

fn validate_scaling_rules(rules: &HPAScalingRules, path: &Path, errors: &mut ErrorList) {
    if let Some(window) = rules.stabilization_window_seconds {
        let p = path.child("stabilizationWindowSeconds");
        if window < 0 {
            errors.push(FieldError::invalid(&p, window, "must be greater than or equal to zero"));
        }
        if window > MAX_STABILIZATION_WINDOW_SECONDS {
            errors.push(FieldError::invalid(
                &p,
                window,
                format!("must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}"),
            ));
        }
    }
    if let Some(select) = &rules.select_policy
        && !matches!(select.as_str(), "Max" | "Min" | "Disabled")
    {
        errors.push(FieldError::not_supported(&path.child("selectPolicy"), select, &["Disabled", "Max", "Min"]));
    }
    let policies_path = path.child("policies");
    if rules.policies.is_empty() {
        errors.push(FieldError::required(&policies_path, "must specify at least one Policy"));
    }
    for (i, policy) in rules.policies.iter().enumerate() {
        let p = policies_path.index(i);
        if policy.type_ != "Pods" && policy.type_ != "Percent" {
            errors.push(FieldError::not_supported(&p.child("type"), &policy.type_, &["Percent", "Pods"]));
        }
        if policy.value <= 0 {
            errors.push(FieldError::invalid(&p.child("value"), policy.value, "must be greater than zero"));
        }
        if policy.period_seconds <= 0 {
            errors.push(FieldError::invalid(
                &p.child("periodSeconds"),
                policy.period_seconds,
                "must be greater than zero",
            ));
        }
        if policy.period_seconds > MAX_PERIOD_SECONDS {
            errors.push(FieldError::invalid(
                &p.child("periodSeconds"),
                policy.period_seconds,
                format!("must be less than or equal to {MAX_PERIOD_SECONDS}"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Resource;
    use crate::apps::v1::common::test_support::causes;

    fn valid() -> HorizontalPodAutoscaler {
        let mut h = HorizontalPodAutoscaler::named("web");
        h.metadata.namespace = "default".into();
        h.spec.scale_target_ref = CrossVersionObjectReference {
            kind: "Deployment".into(),
            name: "web".into(),
            api_version: Some("apps/v1".into()),
        };
        h.spec.max_replicas = 10;
        h.apply_defaults();
        h
    }

    #[test]
    fn round_trip() {
        let wire = json!({
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "prod"},
            "spec": {
                "scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
                "minReplicas": 2,
                "maxReplicas": 20,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}},
                    {"type": "ContainerResource", "containerResource": {"name": "memory", "container": "app", "target": {"type": "AverageValue", "averageValue": "512Mi"}}},
                    {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}},
                    {"type": "Object", "object": {"describedObject": {"kind": "Ingress", "name": "main", "apiVersion": "networking.k8s.io/v1"}, "metric": {"name": "hits", "selector": {"matchLabels": {"verb": "GET"}}}, "target": {"type": "Value", "value": "10k"}}},
                    {"type": "External", "external": {"metric": {"name": "queue_depth"}, "target": {"type": "AverageValue", "averageValue": "30"}}}
                ],
                "behavior": {
                    "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}]},
                    "scaleDown": {"selectPolicy": "Min", "policies": [{"type": "Percent", "value": 10, "periodSeconds": 60}]}
                }
            },
            "status": {
                "observedGeneration": 3,
                "lastScaleTime": "2024-02-02T02:02:02Z",
                "currentReplicas": 4,
                "desiredReplicas": 5,
                "currentMetrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "current": {"averageValue": "250m", "averageUtilization": 83}}},
                    {"type": "External", "external": {"metric": {"name": "queue_depth"}, "current": {"value": "120"}}}
                ],
                "conditions": [{"type": "AbleToScale", "status": "True", "lastTransitionTime": "2024-02-02T02:00:00Z", "reason": "ReadyForNewScale", "message": "recommended size matches current size"}]
            }
        });
        let h: HorizontalPodAutoscaler = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(serde_json::to_value(&h).unwrap(), wire);
        assert_eq!(
            h.spec.metrics[1].container_resource.as_ref().unwrap().target.average_value,
            Some("512Mi".parse().unwrap())
        );
        assert_eq!(HorizontalPodAutoscaler::INFO.api_version, "autoscaling/v2");
        assert_eq!(HorizontalPodAutoscaler::INFO.short_names, ["hpa"]);
    }

    #[test]
    fn defaults() {
        let mut h = HorizontalPodAutoscaler::default();
        h.apply_defaults();
        assert_eq!(h.spec.min_replicas, Some(1));
        assert_eq!(
            serde_json::to_value(&h.spec.metrics).unwrap(),
            json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}])
        );
        assert_eq!(h.spec.behavior, None);

        // Given behavior: unset directions and fields are filled.
        let mut h = HorizontalPodAutoscaler::default();
        h.spec.behavior = Some(HorizontalPodAutoscalerBehavior {
            scale_up: None,
            scale_down: Some(HPAScalingRules { stabilization_window_seconds: Some(60), ..Default::default() }),
        });
        h.apply_defaults();
        assert_eq!(
            serde_json::to_value(&h.spec.behavior).unwrap(),
            json!({
                "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
                    {"type": "Pods", "value": 4, "periodSeconds": 15},
                    {"type": "Percent", "value": 100, "periodSeconds": 15}
                ]},
                "scaleDown": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max", "policies": [
                    {"type": "Percent", "value": 100, "periodSeconds": 15}
                ]}
            })
        );
        let mut h = HorizontalPodAutoscaler::default();
        h.spec.behavior = Some(HorizontalPodAutoscalerBehavior::default());
        h.apply_defaults();
        assert_eq!(h.spec.behavior.as_ref().unwrap().scale_down, Some(HPAScalingRules::default_scale_down()));
        assert_eq!(h.spec.behavior.as_ref().unwrap().scale_down.as_ref().unwrap().stabilization_window_seconds, None);
    }

    #[test]
    fn validation() {
        assert_eq!(causes(&valid().validate()), []);
        type Mutation = fn(&mut HorizontalPodAutoscaler);
        let cases: Vec<(Mutation, Vec<(&str, &str)>)> = vec![
            (
                |h| h.spec.max_replicas = 0,
                vec![("spec.maxReplicas", "FieldValueInvalid"), ("spec.maxReplicas", "FieldValueInvalid")],
            ),
            (|h| h.spec.min_replicas = Some(11), vec![("spec.maxReplicas", "FieldValueInvalid")]),
            (
                |h| h.spec.min_replicas = Some(0),
                vec![("spec.minReplicas", "FieldValueInvalid"), ("spec.metrics", "FieldValueForbidden")],
            ),
            (
                |h| {
                    h.spec.scale_target_ref =
                        CrossVersionObjectReference { kind: String::new(), name: "a/b".into(), api_version: None }
                },
                vec![
                    ("spec.scaleTargetRef.kind", "FieldValueRequired"),
                    ("spec.scaleTargetRef.name", "FieldValueInvalid"),
                ],
            ),
            (
                |h| h.spec.metrics[0].resource.as_mut().unwrap().target.average_utilization = Some(0),
                vec![("spec.metrics[0].resource.target.averageUtilization", "FieldValueInvalid")],
            ),
            (
                |h| h.spec.metrics[0].resource.as_mut().unwrap().target.type_ = "Percent".into(),
                vec![("spec.metrics[0].resource.target.type", "FieldValueInvalid")],
            ),
            (|h| h.spec.metrics[0].type_ = "Pods".into(), vec![("spec.metrics[0].pods", "FieldValueRequired")]),
            (
                |h| h.spec.metrics[0].pods = Some(PodsMetricSource::default()),
                // As in Kubernetes, the first source present (in Object, External, Pods,
                // Resource, ContainerResource order) is validated, even if it is the wrong one.
                vec![
                    ("spec.metrics[0].pods.metric.name", "FieldValueRequired"),
                    ("spec.metrics[0].pods.target.type", "FieldValueRequired"),
                    ("spec.metrics[0].pods.target.type", "FieldValueInvalid"),
                    ("spec.metrics[0].pods.target.averageValue", "FieldValueRequired"),
                    ("spec.metrics[0].pods", "FieldValueForbidden"),
                ],
            ),
            (
                |h| h.spec.metrics[0].type_ = "Magic".into(),
                vec![
                    ("spec.metrics[0].type", "FieldValueNotSupported"),
                    ("spec.metrics[0].type", "FieldValueNotSupported"),
                ],
            ),
            (
                |h| {
                    h.spec.metrics.push(MetricSpec {
                        type_: "Pods".into(),
                        pods: Some(PodsMetricSource {
                            metric: MetricIdentifier { name: "rps".into(), selector: None },
                            target: MetricTarget {
                                type_: "AverageValue".into(),
                                value: Some("-1".parse().unwrap()),
                                ..Default::default()
                            },
                        }),
                        ..Default::default()
                    });
                },
                vec![
                    ("spec.metrics[1].pods.target.value", "FieldValueInvalid"),
                    ("spec.metrics[1].pods.target.averageValue", "FieldValueRequired"),
                ],
            ),
            (
                |h| {
                    h.spec.behavior = Some(HorizontalPodAutoscalerBehavior {
                        scale_up: Some(HPAScalingRules {
                            stabilization_window_seconds: Some(4000),
                            select_policy: Some("Average".into()),
                            policies: vec![HPAScalingPolicy { type_: "Nodes".into(), value: 0, period_seconds: 2000 }],
                        }),
                        scale_down: Some(HPAScalingRules::default()),
                    });
                },
                vec![
                    ("spec.behavior.scaleUp.stabilizationWindowSeconds", "FieldValueInvalid"),
                    ("spec.behavior.scaleUp.selectPolicy", "FieldValueNotSupported"),
                    ("spec.behavior.scaleUp.policies[0].type", "FieldValueNotSupported"),
                    ("spec.behavior.scaleUp.policies[0].value", "FieldValueInvalid"),
                    ("spec.behavior.scaleUp.policies[0].periodSeconds", "FieldValueInvalid"),
                    ("spec.behavior.scaleDown.policies", "FieldValueRequired"),
                ],
            ),
        ];
        for (i, (mutate, want)) in cases.into_iter().enumerate() {
            let mut h = valid();
            mutate(&mut h);
            let want: Vec<_> = want.into_iter().map(|(f, c)| (f.to_owned(), c)).collect();
            assert_eq!(causes(&h.validate()), want, "case {i}");
        }
        let mut h = valid();
        h.spec.min_replicas = Some(5);
        h.spec.max_replicas = 3;
        assert_eq!(
            h.validate_update(&valid())[0].to_string(),
            "spec.maxReplicas: Invalid value: 3: must be greater than or equal to `minReplicas`"
        );
    }
}
