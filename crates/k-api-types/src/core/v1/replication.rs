//! ReplicationController.

use crate::SortedMap;

use super::{PodTemplateSpec, validate_pod_template_spec};
use crate::defaults::default_to;
use crate::meta::{ObjectMeta, Time};
use crate::resource::{ALL_VERBS, Resource, metadata_field};
use crate::validation::{
    ErrorList, FieldError, NameRule, Path, validate_labels, validate_object_meta, validate_object_meta_update,
};
use crate::{ApplyDefaults, Validate, wire};

/// Keeps a number of pod replicas running (the predecessor of ReplicaSet).
#[wire]
pub struct ReplicationController {
    /// APIVersion of the object (`v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`ReplicationController`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// Desired state: replicas, selector and pod template.
    #[wire(omitempty)]
    pub spec: ReplicationControllerSpec,
    /// Observed state.
    pub status: Option<ReplicationControllerStatus>,
}
crate::impl_resource!(ReplicationController {
    group: "",
    version: "v1",
    kind: "ReplicationController",
    plural: "replicationcontrollers",
    singular: "replicationcontroller",
    short_names: ["rc"],
    categories: ["all"],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: ["status", "scale"],
    selectable_fields: ["status.replicas"],
    field_value: rc_field_value
});
/// A list of replication controllers.
pub type ReplicationControllerList = crate::meta::ObjectList<ReplicationController>;

fn rc_field_value(rc: &ReplicationController, field: &str) -> Option<String> {
    match field {
        "status.replicas" => Some(rc.status.as_ref().map_or(0, |s| s.replicas).to_string()),
        _ => metadata_field(rc.metadata(), field),
    }
}

/// Desired state of a replication controller.
#[wire]
pub struct ReplicationControllerSpec {
    /// Desired number of pods (default 1).
    pub replicas: Option<i32>,
    /// Seconds a new pod must be ready, without crashing, to count as available.
    pub min_ready_seconds: Option<i32>,
    /// Labels the managed pods carry (defaults to the template's labels).
    pub selector: SortedMap<String, String>,
    /// Template of the pods to create.
    pub template: Option<PodTemplateSpec>,
}

/// Observed state of a replication controller.
#[wire]
pub struct ReplicationControllerStatus {
    /// Number of pods.
    #[wire(always)]
    pub replicas: i32,
    /// Number of pods whose labels match the template's.
    pub fully_labeled_replicas: Option<i32>,
    /// Number of ready pods.
    pub ready_replicas: Option<i32>,
    /// Number of available pods (ready for at least `minReadySeconds`).
    pub available_replicas: Option<i32>,
    /// The generation the status reflects.
    pub observed_generation: Option<i64>,
    /// Current conditions (`ReplicaFailure`).
    pub conditions: Vec<ReplicationControllerCondition>,
}

/// A condition of a replication controller.
#[wire]
pub struct ReplicationControllerCondition {
    /// Condition type, such as `ReplicaFailure`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// When the condition last changed status.
    pub last_transition_time: Option<Time>,
    /// Machine-readable CamelCase reason.
    pub reason: Option<String>,
    /// Human-readable message.
    pub message: Option<String>,
}

impl ApplyDefaults for ReplicationController {
    /// Kubernetes' `SetDefaults_ReplicationController`: the selector and the
    /// object's labels default to the template's labels, replicas to 1; the
    /// template gets the pod defaults.
    fn apply_defaults(&mut self) {
        if let Some(t) = &mut self.spec.template {
            let labels = &t.metadata.labels;
            if !labels.is_empty() {
                if self.spec.selector.is_empty() {
                    self.spec.selector = labels.clone();
                }
                if self.metadata.labels.is_empty() {
                    self.metadata.labels = labels.clone();
                }
            }
            t.apply_defaults();
        }
        default_to(&mut self.spec.replicas, 1);
    }
}

fn validate_rc_spec(spec: &ReplicationControllerSpec, errors: &mut ErrorList) {
    let path = Path::new("spec");
    if let Some(m) = spec.min_ready_seconds
        && m < 0
    {
        errors.push(FieldError::invalid(&path.child("minReadySeconds"), m, "must be greater than or equal to 0"));
    }
    let sel_path = path.child("selector");
    if spec.selector.is_empty() {
        errors.push(FieldError::required(&sel_path, ""));
    } else {
        validate_labels(&spec.selector, &sel_path, errors);
    }
    if let Some(r) = spec.replicas
        && r < 0
    {
        errors.push(FieldError::invalid(&path.child("replicas"), r, "must be greater than or equal to 0"));
    }
    let tpath = path.child("template");
    let Some(t) = &spec.template else {
        errors.push(FieldError::required(&tpath, ""));
        return;
    };
    if !spec.selector.is_empty() && !spec.selector.iter().all(|(k, v)| t.metadata.labels.get(k) == Some(v)) {
        errors.push(FieldError::invalid(
            &tpath.child("metadata").child("labels"),
            &t.metadata.labels,
            "`selector` does not match template `labels`",
        ));
    }
    validate_pod_template_spec(t, &tpath, errors);
    // A missing restart policy is defaulted to Always.
    if let Some(p) = t.spec.restart_policy.as_deref()
        && p != "Always"
    {
        errors.push(FieldError::not_supported(&tpath.child("spec").child("restartPolicy"), p, &["Always"]));
    }
    if t.spec.active_deadline_seconds.is_some() {
        errors.push(FieldError::invalid(
            &tpath.child("spec").child("activeDeadlineSeconds"),
            t.spec.active_deadline_seconds,
            "activeDeadlineSeconds in ReplicationController is not Supported",
        ));
    }
}

impl Validate for ReplicationController {
    fn validate(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta(&self.metadata, true, NameRule::Subdomain, &mut errors);
        validate_rc_spec(&self.spec, &mut errors);
        errors
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Subdomain, &mut errors);
        validate_rc_spec(&self.spec, &mut errors);
        errors
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::{causes, expect};
    use super::*;

    fn rc() -> ReplicationController {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "work"},
            "spec": {
                "replicas": 3,
                "selector": {"app": "web"},
                "template": {
                    "metadata": {"labels": {"app": "web", "tier": "front"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}], "restartPolicy": "Always"}
                }
            }
        }))
        .unwrap()
    }

    #[test]
    fn round_trip() {
        let v = json!({
            "apiVersion": "v1", "kind": "ReplicationController",
            "metadata": {"name": "web", "namespace": "work", "labels": {"app": "web"}},
            "spec": {
                "replicas": 3,
                "minReadySeconds": 5,
                "selector": {"app": "web"},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}
                }
            },
            "status": {
                "replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 2, "availableReplicas": 2, "observedGeneration": 4,
                "conditions": [{"type": "ReplicaFailure", "status": "True", "lastTransitionTime": "2026-01-02T03:04:05Z", "reason": "FailedCreate", "message": "quota"}]
            }
        });
        let r: ReplicationController = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&r).unwrap(), v);
        // status.replicas is always written.
        let bare = ReplicationController { status: Some(Default::default()), ..Default::default() };
        assert_eq!(serde_json::to_value(&bare).unwrap(), json!({"status": {"replicas": 0}}));
    }

    #[test]
    fn info_and_fields() {
        assert_eq!(ReplicationController::INFO.short_names, ["rc"]);
        assert_eq!(ReplicationController::INFO.categories, ["all"]);
        assert_eq!(ReplicationController::INFO.subresources, ["status", "scale"]);
        let mut r = rc();
        assert_eq!(r.field_value("status.replicas").as_deref(), Some("0"));
        r.status = Some(ReplicationControllerStatus { replicas: 3, ..Default::default() });
        assert_eq!(r.field_value("status.replicas").as_deref(), Some("3"));
        assert_eq!(r.field_value("metadata.namespace").as_deref(), Some("work"));
        assert_eq!(r.field_value("spec.replicas"), None);
    }

    #[test]
    fn defaults() {
        let mut r: ReplicationController = serde_json::from_value(json!({
            "metadata": {"name": "web"},
            "spec": {"template": {"metadata": {"labels": {"app": "web"}}}}
        }))
        .unwrap();
        r.apply_defaults();
        assert_eq!(r.spec.replicas, Some(1));
        assert_eq!(r.spec.selector, SortedMap::from([("app".to_owned(), "web".to_owned())]));
        assert_eq!(r.metadata.labels, SortedMap::from([("app".to_owned(), "web".to_owned())]));
        // Present values are kept.
        let mut kept = rc();
        kept.metadata.labels.insert("team".into(), "a".into());
        kept.spec.replicas = Some(0);
        kept.apply_defaults();
        assert_eq!(kept.spec.replicas, Some(0));
        assert_eq!(kept.spec.selector, SortedMap::from([("app".to_owned(), "web".to_owned())]));
        assert_eq!(kept.metadata.labels, SortedMap::from([("team".to_owned(), "a".to_owned())]));
        // No template: only replicas.
        let mut empty = ReplicationController::default();
        empty.apply_defaults();
        assert_eq!(serde_json::to_value(&empty).unwrap(), json!({"spec": {"replicas": 1}}));
    }

    #[test]
    fn validation() {
        type Case = (&'static str, fn(&mut ReplicationController), &'static [(&'static str, &'static str)]);
        let cases: &[Case] = &[
            ("valid", |_| {}, &[]),
            ("no selector", |r| r.spec.selector.clear(), &[("spec.selector", "FieldValueRequired")]),
            (
                "selector mismatch",
                |r| {
                    r.spec.selector.insert("app".into(), "api".into());
                },
                &[("spec.template.metadata.labels", "FieldValueInvalid")],
            ),
            ("negative replicas", |r| r.spec.replicas = Some(-1), &[("spec.replicas", "FieldValueInvalid")]),
            (
                "negative minReadySeconds",
                |r| r.spec.min_ready_seconds = Some(-1),
                &[("spec.minReadySeconds", "FieldValueInvalid")],
            ),
            ("no template", |r| r.spec.template = None, &[("spec.template", "FieldValueRequired")]),
            (
                "restart never",
                |r| {
                    if let Some(t) = &mut r.spec.template {
                        t.spec.restart_policy = Some("Never".into());
                    }
                },
                &[("spec.template.spec.restartPolicy", "FieldValueNotSupported")],
            ),
            (
                "active deadline",
                |r| {
                    if let Some(t) = &mut r.spec.template {
                        t.spec.active_deadline_seconds = Some(10);
                    }
                },
                &[("spec.template.spec.activeDeadlineSeconds", "FieldValueInvalid")],
            ),
        ];
        for (name, mutate, want) in cases {
            let mut r = rc();
            r.apply_defaults();
            mutate(&mut r);
            assert_eq!(causes(&r.validate()), expect(want), "{name}");
        }
        let mut mismatch = rc();
        mismatch.apply_defaults();
        mismatch.spec.selector.insert("app".into(), "api".into());
        let msg = mismatch.validate()[0].to_string();
        assert!(msg.ends_with("`selector` does not match template `labels`"), "{msg}");
    }

    #[test]
    fn update() {
        let mut old = rc();
        old.apply_defaults();
        let mut scaled = old.clone();
        scaled.spec.replicas = Some(5);
        assert!(scaled.validate_update(&old).is_empty());
        let mut moved = old.clone();
        moved.metadata.namespace = "other".into();
        assert_eq!(causes(&moved.validate_update(&old)), expect(&[("metadata.namespace", "FieldValueInvalid")]));
    }
}
