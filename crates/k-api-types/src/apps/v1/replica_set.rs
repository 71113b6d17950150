//! ReplicaSet: keeps a stable number of identical pods running.

use super::common::{validate_nonnegative, validate_workload_selector};
use super::deployment::validate_replica_set_template;
use crate::core::v1::PodTemplateSpec;
use crate::defaults::default_to;
use crate::meta::{LabelSelector, ObjectMeta, Time};
use crate::resource::metadata_field;
use crate::validation::{
    ErrorList, NameRule, Path, Validate, validate_immutable, validate_object_meta, validate_object_meta_update,
};
use crate::{ApplyDefaults, wire};

/// A set of identical pods kept at a desired count (apps/v1 ReplicaSet).
#[wire]
pub struct ReplicaSet {
    /// APIVersion of the object (`apps/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`ReplicaSet`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[wire(omitempty)]
    pub spec: ReplicaSetSpec,
    /// Observed state.
    pub status: Option<ReplicaSetStatus>,
}

crate::impl_resource!(ReplicaSet {
    group: "apps",
    version: "v1",
    kind: "ReplicaSet",
    plural: "replicasets",
    singular: "replicaset",
    short_names: ["rs"],
    categories: ["all"],
    namespaced: true,
    verbs: crate::resource::ALL_VERBS,
    subresources: ["status", "scale"],
    selectable_fields: ["status.replicas"],
    field_value: replica_set_field,
});

/// A list of replica sets.
pub type ReplicaSetList = crate::meta::ObjectList<ReplicaSet>;

/// Field-selector values of a ReplicaSet: the metadata fields and `status.replicas`.
fn replica_set_field(rs: &ReplicaSet, field: &str) -> Option<String> {
    match field {
        "status.replicas" => Some(rs.status.as_ref().map_or(0, |s| s.replicas).to_string()),
        _ => metadata_field(&rs.metadata, field),
    }
}

/// The desired state of a replica set.
#[wire]
pub struct ReplicaSetSpec {
    /// Number of desired pods (default 1).
    pub replicas: Option<i32>,
    /// Seconds a new pod must be ready, without crashing, to count as available.
    pub min_ready_seconds: Option<i32>,
    /// Label query over the pods; must match the template's labels and cannot change.
    pub selector: Option<LabelSelector>,
    /// Template of the pods created when too few exist.
    #[wire(omitempty)]
    pub template: PodTemplateSpec,
}

/// The observed state of a replica set.
#[wire]
pub struct ReplicaSetStatus {
    /// The most recently observed number of pods.
    #[wire(always)]
    pub replicas: i32,
    /// Pods whose labels match the template's.
    pub fully_labeled_replicas: Option<i32>,
    /// Pods with a Ready condition.
    pub ready_replicas: Option<i32>,
    /// Pods available for at least `minReadySeconds`.
    pub available_replicas: Option<i32>,
    /// The generation the controller last observed.
    pub observed_generation: Option<i64>,
    /// Latest observations of the replica set's state.
    pub conditions: Vec<ReplicaSetCondition>,
}

/// A condition of a replica set (`ReplicaFailure`).
#[wire(eq)]
pub struct ReplicaSetCondition {
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

impl ApplyDefaults for ReplicaSet {
    fn apply_defaults(&mut self) {
        default_to(&mut self.spec.replicas, 1);
        self.spec.template.apply_defaults();
    }
}

impl Validate for ReplicaSet {
    fn validate(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta(&self.metadata, true, NameRule::Subdomain, &mut errors);
        validate_replica_set_spec(&self.spec, &Path::new("spec"), &mut errors);
        errors
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Subdomain, &mut errors);
        validate_replica_set_spec(&self.spec, &Path::new("spec"), &mut errors);
        validate_immutable(&self.spec.selector, &old.spec.selector, &Path::new("spec").child("selector"), &mut errors);
        errors
    }
}

fn validate_replica_set_spec(spec: &ReplicaSetSpec, path: &Path, errors: &mut ErrorList) {
    validate_nonnegative(i64::from(spec.replicas.unwrap_or(0)), &path.child("replicas"), errors);
    validate_nonnegative(i64::from(spec.min_ready_seconds.unwrap_or(0)), &path.child("minReadySeconds"), errors);
    // Kubernetes reports an empty ReplicaSet selector with the Deployment wording.
    if let Some(selector) = validate_workload_selector(
        spec.selector.as_ref(),
        "deployment",
        "invalid label selector",
        &path.child("selector"),
        errors,
    ) {
        validate_replica_set_template(&spec.template, &selector, &path.child("template"), errors);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Resource;
    use crate::apps::v1::common::test_support::{causes, template};

    fn valid() -> ReplicaSet {
        let mut rs = ReplicaSet::named("web-5d");
        rs.metadata.namespace = "default".into();
        rs.spec.selector = Some(LabelSelector::from_labels([("app", "web")]));
        rs.spec.template = template("Always");
        rs.apply_defaults();
        rs
    }

    #[test]
    fn round_trip_and_fields() {
        let wire = json!({
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "web-5d", "namespace": "prod", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "u1", "controller": true, "blockOwnerDeletion": true}]},
            "spec": {
                "replicas": 2,
                "minReadySeconds": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}}
            },
            "status": {
                "replicas": 2, "fullyLabeledReplicas": 2, "readyReplicas": 1, "availableReplicas": 1, "observedGeneration": 1,
                "conditions": [{"type": "ReplicaFailure", "status": "True", "lastTransitionTime": "2024-01-02T03:04:05Z", "reason": "FailedCreate", "message": "quota"}]
            }
        });
        let rs: ReplicaSet = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(serde_json::to_value(&rs).unwrap(), wire);
        assert_eq!(rs.field_value("status.replicas").as_deref(), Some("2"));
        assert_eq!(rs.field_value("metadata.name").as_deref(), Some("web-5d"));
        assert_eq!(ReplicaSet::default().field_value("status.replicas").as_deref(), Some("0"));
        assert_eq!(rs.field_value("spec.replicas"), None);
        // status.replicas is written even when zero.
        assert_eq!(serde_json::to_value(ReplicaSetStatus::default()).unwrap(), json!({"replicas": 0}));
        assert_eq!(ReplicaSet::INFO.short_names, ["rs"]);
        assert_eq!(ReplicaSet::INFO.selectable_fields, ["status.replicas"]);
    }

    #[test]
    fn defaults() {
        let mut rs = ReplicaSet::default();
        rs.apply_defaults();
        assert_eq!(rs.spec.replicas, Some(1));
        let mut rs = ReplicaSet::default();
        rs.spec.replicas = Some(0);
        rs.apply_defaults();
        assert_eq!(rs.spec.replicas, Some(0));
    }

    #[test]
    fn validation() {
        assert_eq!(causes(&valid().validate()), []);
        type Mutation = fn(&mut ReplicaSet);
        let cases: Vec<(Mutation, Vec<(&str, &str)>)> = vec![
            (|r| r.spec.min_ready_seconds = Some(-5), vec![("spec.minReadySeconds", "FieldValueInvalid")]),
            (|r| r.spec.selector = Some(LabelSelector::default()), vec![("spec.selector", "FieldValueInvalid")]),
            (|r| r.spec.template.metadata.labels.clear(), vec![("spec.template.metadata.labels", "FieldValueInvalid")]),
            (
                |r| r.spec.template = template("OnFailure"),
                vec![("spec.template.spec.restartPolicy", "FieldValueNotSupported")],
            ),
            (|r| r.metadata.namespace.clear(), vec![("metadata.namespace", "FieldValueRequired")]),
        ];
        for (i, (mutate, want)) in cases.into_iter().enumerate() {
            let mut r = valid();
            mutate(&mut r);
            let want: Vec<_> = want.into_iter().map(|(f, c)| (f.to_owned(), c)).collect();
            assert_eq!(causes(&r.validate()), want, "case {i}");
        }
    }

    #[test]
    fn update() {
        let old = valid();
        let mut new = old.clone();
        new.spec.replicas = Some(7);
        assert_eq!(causes(&new.validate_update(&old)), []);
        new.spec.selector = Some(LabelSelector::from_labels([("app", "web"), ("x", "y")]));
        new.spec.template.metadata.labels.insert("x".into(), "y".into());
        assert_eq!(causes(&new.validate_update(&old)), [("spec.selector".to_owned(), "FieldValueInvalid")]);
    }
}
