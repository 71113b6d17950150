//! Deployment: declarative, rolling updates of ReplicaSets and their pods.

use super::common::{
    PodFacts, int_or_percent_value, validate_nonnegative, validate_not_more_than_100_percent,
    validate_positive_int_or_percent, validate_restart_always, validate_selector_matches, validate_workload_selector,
};
use crate::core::v1::{PodTemplateSpec, validate_pod_template_spec};
use crate::defaults::{default_str, default_to};
use crate::intstr::IntOrString;
use crate::meta::{LabelSelector, ObjectMeta, Time};
use crate::validation::{
    ErrorList, FieldError, NameRule, Path, Validate, validate_immutable, validate_object_meta,
    validate_object_meta_update,
};
use crate::{ApplyDefaults, wire};

/// A set of identical pods kept at a desired count and updated in a
/// controlled way (apps/v1 Deployment).
#[wire]
pub struct Deployment {
    /// APIVersion of the object (`apps/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`Deployment`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[wire(omitempty)]
    pub spec: DeploymentSpec,
    /// Observed state.
    pub status: Option<DeploymentStatus>,
}

crate::impl_resource!(Deployment {
    group: "apps",
    version: "v1",
    kind: "Deployment",
    plural: "deployments",
    singular: "deployment",
    short_names: ["deploy"],
    categories: ["all"],
    namespaced: true,
    verbs: crate::resource::ALL_VERBS,
    subresources: ["status", "scale"],
    selectable_fields: [],
});

/// A list of deployments.
pub type DeploymentList = crate::meta::ObjectList<Deployment>;

/// The desired state of a deployment.
#[wire]
pub struct DeploymentSpec {
    /// Number of desired pods (default 1).
    pub replicas: Option<i32>,
    /// Label query over the pods; must match the template's labels and cannot change.
    pub selector: Option<LabelSelector>,
    /// Template of the pods to create.
    pub template: PodTemplateSpec,
    /// How existing pods are replaced by new ones.
    pub strategy: Option<DeploymentStrategy>,
    /// Seconds a new pod must be ready, without crashing, to count as available.
    pub min_ready_seconds: Option<i32>,
    /// Number of old ReplicaSets kept to allow rollback (default 10).
    pub revision_history_limit: Option<i32>,
    /// Whether the deployment is paused.
    pub paused: Option<bool>,
    /// Seconds a rollout may make no progress before it is reported failed (default 600).
    pub progress_deadline_seconds: Option<i32>,
}

/// How a deployment replaces its pods.
#[wire(eq)]
pub struct DeploymentStrategy {
    /// `Recreate` or `RollingUpdate` (default).
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// Parameters of a rolling update; only with type `RollingUpdate`.
    pub rolling_update: Option<RollingUpdateDeployment>,
}

/// Parameters of a deployment's rolling update.
#[wire(eq)]
pub struct RollingUpdateDeployment {
    /// Pods (or percentage of desired pods) that may be unavailable during the update (default 25%).
    pub max_unavailable: Option<IntOrString>,
    /// Pods (or percentage) that may be created above the desired count (default 25%).
    pub max_surge: Option<IntOrString>,
}

/// The observed state of a deployment.
#[wire]
pub struct DeploymentStatus {
    /// The generation the controller last observed.
    pub observed_generation: Option<i64>,
    /// Non-terminated pods targeted by the deployment.
    pub replicas: Option<i32>,
    /// Non-terminated pods with the desired template.
    pub updated_replicas: Option<i32>,
    /// Pods with a Ready condition.
    pub ready_replicas: Option<i32>,
    /// Pods available for at least `minReadySeconds`.
    pub available_replicas: Option<i32>,
    /// Pods still needed for the deployment to be fully available.
    pub unavailable_replicas: Option<i32>,
    /// Latest observations of the deployment's state.
    pub conditions: Vec<DeploymentCondition>,
    /// Count of hash collisions, used to name the newest ReplicaSet.
    pub collision_count: Option<i32>,
}

/// A condition of a deployment (`Available`, `Progressing`, `ReplicaFailure`).
#[wire(eq)]
pub struct DeploymentCondition {
    /// Type of the condition.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// When the condition was last updated.
    pub last_update_time: Option<Time>,
    /// When the condition last changed status.
    pub last_transition_time: Option<Time>,
    /// Machine-readable reason of the last transition.
    pub reason: Option<String>,
    /// Human-readable details of the last transition.
    pub message: Option<String>,
}

impl ApplyDefaults for Deployment {
    fn apply_defaults(&mut self) {
        let spec = &mut self.spec;
        default_to(&mut spec.replicas, 1);
        let strategy = spec.strategy.get_or_insert_with(DeploymentStrategy::default);
        default_str(&mut strategy.type_, "RollingUpdate");
        if strategy.type_.as_deref() == Some("RollingUpdate") {
            let rolling = strategy.rolling_update.get_or_insert_with(RollingUpdateDeployment::default);
            default_to(&mut rolling.max_unavailable, IntOrString::String("25%".to_owned()));
            default_to(&mut rolling.max_surge, IntOrString::String("25%".to_owned()));
        }
        default_to(&mut spec.revision_history_limit, 10);
        default_to(&mut spec.progress_deadline_seconds, 600);
        spec.template.apply_defaults();
    }
}

impl Validate for Deployment {
    fn validate(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta(&self.metadata, true, NameRule::Subdomain, &mut errors);
        validate_deployment_spec(&self.spec, &Path::new("spec"), &mut errors);
        errors
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Subdomain, &mut errors);
        validate_deployment_spec(&self.spec, &Path::new("spec"), &mut errors);
        validate_immutable(&self.spec.selector, &old.spec.selector, &Path::new("spec").child("selector"), &mut errors);
        errors
    }
}

/// Validates a ReplicaSet-style pod template: labels matched by the selector,
/// the pod template itself, `restartPolicy: Always`, no `activeDeadlineSeconds`.
pub(crate) fn validate_replica_set_template(
    template: &PodTemplateSpec,
    selector: &crate::selector::Selector,
    path: &Path,
    errors: &mut ErrorList,
) {
    validate_selector_matches(selector, template, &path.child("metadata").child("labels"), errors);
    validate_pod_template_spec(template, path, errors);
    let facts = PodFacts::of(&template.spec);
    validate_restart_always(&facts, path, errors);
    if let Some(ads) = &facts.active_deadline_seconds {
        errors.push(FieldError::invalid(
            &path.child("spec").child("activeDeadlineSeconds"),
            ads,
            "must not be specified",
        ));
    }
}

fn validate_deployment_spec(spec: &DeploymentSpec, path: &Path, errors: &mut ErrorList) {
    validate_nonnegative(i64::from(spec.replicas.unwrap_or(0)), &path.child("replicas"), errors);
    let selector_path = path.child("selector");
    if let Some(selector) = validate_workload_selector(
        spec.selector.as_ref(),
        "deployment",
        "invalid label selector",
        &selector_path,
        errors,
    ) {
        validate_replica_set_template(&spec.template, &selector, &path.child("template"), errors);
    }
    validate_strategy(&spec.strategy.clone().unwrap_or_default(), &path.child("strategy"), errors);
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    validate_nonnegative(i64::from(min_ready), &path.child("minReadySeconds"), errors);
    if let Some(limit) = spec.revision_history_limit {
        validate_nonnegative(i64::from(limit), &path.child("revisionHistoryLimit"), errors);
    }
    if let Some(deadline) = spec.progress_deadline_seconds {
        let p = path.child("progressDeadlineSeconds");
        validate_nonnegative(i64::from(deadline), &p, errors);
        if deadline <= min_ready {
            errors.push(FieldError::invalid(&p, deadline, "must be greater than minReadySeconds"));
        }
    }
}

fn validate_strategy(strategy: &DeploymentStrategy, path: &Path, errors: &mut ErrorList) {
    match strategy.type_.as_deref().unwrap_or_default() {
        "Recreate" => {
            if strategy.rolling_update.is_some() {
                errors.push(FieldError::forbidden(
                    &path.child("rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match &strategy.rolling_update {
            None => errors
                .push(FieldError::required(&path.child("rollingUpdate"), "this should be defaulted and never be nil")),
            Some(rolling) => validate_rolling_update(rolling, &path.child("rollingUpdate"), errors),
        },
        _ => errors.push(FieldError::not_supported(path, strategy, &["Recreate", "RollingUpdate"])),
    }
}

fn validate_rolling_update(rolling: &RollingUpdateDeployment, path: &Path, errors: &mut ErrorList) {
    let max_unavailable = rolling.max_unavailable.clone().unwrap_or_default();
    let max_surge = rolling.max_surge.clone().unwrap_or_default();
    let unavailable_path = path.child("maxUnavailable");
    validate_positive_int_or_percent(&max_unavailable, &unavailable_path, errors);
    validate_positive_int_or_percent(&max_surge, &path.child("maxSurge"), errors);
    if int_or_percent_value(&max_unavailable) == 0 && int_or_percent_value(&max_surge) == 0 {
        errors.push(FieldError::invalid(&unavailable_path, &max_unavailable, "may not be 0 when `maxSurge` is 0"));
    }
    validate_not_more_than_100_percent(&max_unavailable, &unavailable_path, errors);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Resource;
    use crate::apps::v1::common::test_support::{causes, labels, template};

    fn valid() -> Deployment {
        let mut d = Deployment::named("web");
        d.metadata.namespace = "default".into();
        d.spec.selector = Some(LabelSelector::from_labels([("app", "web")]));
        d.spec.template = template("Always");
        d.apply_defaults();
        d
    }

    #[test]
    fn resource_info() {
        assert_eq!(Deployment::INFO.api_version, "apps/v1");
        assert_eq!(Deployment::INFO.short_names, ["deploy"]);
        assert_eq!(Deployment::INFO.subresources, ["status", "scale"]);
        assert_eq!(Deployment::INFO.categories, ["all"]);
    }

    #[test]
    fn round_trip() {
        let wire = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "prod", "labels": {"app": "web"}, "generation": 4},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe"]}]},
                "template": {"metadata": {"labels": {"app": "web", "tier": "fe"}}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "50%"}},
                "minReadySeconds": 5,
                "revisionHistoryLimit": 3,
                "paused": true,
                "progressDeadlineSeconds": 120
            },
            "status": {
                "observedGeneration": 4,
                "replicas": 3,
                "updatedReplicas": 2,
                "readyReplicas": 3,
                "availableReplicas": 3,
                "unavailableReplicas": 1,
                "collisionCount": 1,
                "conditions": [{
                    "type": "Progressing", "status": "True",
                    "lastUpdateTime": "2024-05-01T10:00:00Z", "lastTransitionTime": "2024-05-01T09:00:00Z",
                    "reason": "NewReplicaSetAvailable", "message": "ReplicaSet \"web-5d\" has successfully progressed."
                }]
            }
        });
        let d: Deployment = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(
            d.spec.strategy.as_ref().unwrap().rolling_update.as_ref().unwrap().max_surge,
            Some(IntOrString::String("50%".into()))
        );
        assert_eq!(serde_json::to_value(&d).unwrap(), wire);
        let list = DeploymentList::new(vec![d]);
        assert_eq!(list.kind, "DeploymentList");
    }

    #[test]
    fn defaults() {
        let mut d = Deployment::default();
        d.apply_defaults();
        let mut spec = serde_json::to_value(&d.spec).unwrap();
        assert!(spec.as_object_mut().unwrap().remove("template").is_some());
        assert_eq!(
            spec,
            json!({
                "replicas": 1,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600
            })
        );
        // Present values are kept; only the missing half of rollingUpdate is filled.
        let mut d = Deployment::default();
        d.spec.replicas = Some(0);
        d.spec.strategy = Some(DeploymentStrategy {
            type_: None,
            rolling_update: Some(RollingUpdateDeployment {
                max_unavailable: Some(IntOrString::Int(2)),
                max_surge: None,
            }),
        });
        d.apply_defaults();
        assert_eq!(d.spec.replicas, Some(0));
        assert_eq!(
            d.spec.strategy,
            Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_unavailable: Some(IntOrString::Int(2)),
                    max_surge: Some(IntOrString::String("25%".into())),
                }),
            })
        );
        // Recreate gets no rollingUpdate.
        let mut d = Deployment::default();
        d.spec.strategy = Some(DeploymentStrategy { type_: Some("Recreate".into()), rolling_update: None });
        d.apply_defaults();
        assert_eq!(d.spec.strategy, Some(DeploymentStrategy { type_: Some("Recreate".into()), rolling_update: None }));
        let once = d.clone();
        d.apply_defaults();
        assert_eq!(d, once);
    }

    #[test]
    fn validation() {
        assert_eq!(causes(&valid().validate()), []);
        type Mutation = fn(&mut Deployment);
        type Case = (&'static str, Mutation, Vec<(&'static str, &'static str)>);
        let cases: Vec<Case> = vec![
            ("negative replicas", |d| d.spec.replicas = Some(-1), vec![("spec.replicas", "FieldValueInvalid")]),
            (
                "missing selector",
                |d| d.spec.selector = None,
                vec![("spec.selector", "FieldValueRequired"), ("spec.template.metadata.labels", "FieldValueInvalid")],
            ),
            (
                "empty selector",
                |d| d.spec.selector = Some(LabelSelector::default()),
                vec![("spec.selector", "FieldValueInvalid")],
            ),
            (
                "selector mismatch",
                |d| d.spec.selector = Some(LabelSelector::from_labels([("app", "db")])),
                vec![("spec.template.metadata.labels", "FieldValueInvalid")],
            ),
            (
                "restartPolicy Never",
                |d| d.spec.template = template("Never"),
                vec![("spec.template.spec.restartPolicy", "FieldValueNotSupported")],
            ),
            (
                "maxSurge = maxUnavailable = 0",
                |d| {
                    let ru = d.spec.strategy.as_mut().unwrap().rolling_update.as_mut().unwrap();
                    ru.max_surge = Some(IntOrString::Int(0));
                    ru.max_unavailable = Some(IntOrString::String("0%".into()));
                },
                vec![("spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid")],
            ),
            (
                "bad percentages",
                |d| {
                    let ru = d.spec.strategy.as_mut().unwrap().rolling_update.as_mut().unwrap();
                    ru.max_surge = Some(IntOrString::String("x%".into()));
                    ru.max_unavailable = Some(IntOrString::String("120%".into()));
                },
                vec![
                    ("spec.strategy.rollingUpdate.maxSurge", "FieldValueInvalid"),
                    ("spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid"),
                ],
            ),
            (
                "Recreate with rollingUpdate",
                |d| d.spec.strategy.as_mut().unwrap().type_ = Some("Recreate".into()),
                vec![("spec.strategy.rollingUpdate", "FieldValueForbidden")],
            ),
            (
                "unknown strategy",
                |d| d.spec.strategy.as_mut().unwrap().type_ = Some("BlueGreen".into()),
                vec![("spec.strategy", "FieldValueNotSupported")],
            ),
            (
                "negative history",
                |d| d.spec.revision_history_limit = Some(-1),
                vec![("spec.revisionHistoryLimit", "FieldValueInvalid")],
            ),
            (
                "deadline not above minReadySeconds",
                |d| {
                    d.spec.min_ready_seconds = Some(30);
                    d.spec.progress_deadline_seconds = Some(30);
                },
                vec![("spec.progressDeadlineSeconds", "FieldValueInvalid")],
            ),
            ("bad name", |d| d.metadata.name = "Web".into(), vec![("metadata.name", "FieldValueInvalid")]),
        ];
        for (name, mutate, want) in cases {
            let mut d = valid();
            mutate(&mut d);
            let want: Vec<_> = want.into_iter().map(|(f, c)| (f.to_owned(), c)).collect();
            assert_eq!(causes(&d.validate()), want, "{name}");
        }
    }

    #[test]
    fn messages() {
        let mut d = valid();
        d.spec.selector = Some(LabelSelector::from_labels([("app", "db")]));
        assert_eq!(
            d.validate()[0].to_string(),
            "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`"
        );
        let mut d = valid();
        d.spec.selector = Some(LabelSelector::default());
        assert_eq!(
            d.validate()[0].to_string(),
            "spec.selector: Invalid value: {}: empty selector is invalid for deployment"
        );
        let mut d = valid();
        d.spec.strategy = Some(DeploymentStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateDeployment {
                max_unavailable: Some(0.into()),
                max_surge: Some(0.into()),
            }),
        });
        assert_eq!(
            d.validate()[0].to_string(),
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"
        );
        assert_eq!(labels("web"), d.spec.template.metadata.labels);
    }

    #[test]
    fn update() {
        let old = valid();
        let mut new = old.clone();
        new.spec.replicas = Some(5);
        assert_eq!(causes(&new.validate_update(&old)), []);
        new.spec.selector = Some(LabelSelector::from_labels([("app", "web"), ("tier", "fe")]));
        new.spec.template.metadata.labels.insert("tier".into(), "fe".into());
        let errs = new.validate_update(&old);
        assert_eq!(causes(&errs), [("spec.selector".to_owned(), "FieldValueInvalid")]);
        assert!(errs[0].detail.contains("field is immutable"));
    }
}
