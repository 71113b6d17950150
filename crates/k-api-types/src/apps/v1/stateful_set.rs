//! StatefulSet: pods with stable identities and per-pod storage.

use super::common::{
    PodFacts, int_or_percent_value, validate_nonnegative, validate_not_more_than_100_percent,
    validate_positive_int_or_percent, validate_restart_always, validate_selector_matches, validate_workload_selector,
};
use crate::core::v1::{PersistentVolumeClaim, PodTemplateSpec, validate_pod_template_spec};
use crate::defaults::{default_str, default_to};
use crate::intstr::IntOrString;
use crate::meta::{LabelSelector, ObjectMeta, Time};
use crate::validation::{
    DNS1123_LABEL_ERROR, ErrorList, FieldError, NameRule, Path, Validate, is_dns1123_label, validate_immutable,
    validate_object_meta, validate_object_meta_update,
};
use crate::{ApplyDefaults, wire};

/// Pods with stable network identities and storage, created and updated in
/// order (apps/v1 StatefulSet).
#[wire]
pub struct StatefulSet {
    /// APIVersion of the object (`apps/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`StatefulSet`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[wire(omitempty)]
    pub spec: StatefulSetSpec,
    /// Observed state.
    pub status: Option<StatefulSetStatus>,
}

crate::impl_resource!(StatefulSet {
    group: "apps",
    version: "v1",
    kind: "StatefulSet",
    plural: "statefulsets",
    singular: "statefulset",
    short_names: ["sts"],
    categories: ["all"],
    namespaced: true,
    verbs: crate::resource::ALL_VERBS,
    subresources: ["status", "scale"],
    selectable_fields: [],
});

/// A list of stateful sets.
pub type StatefulSetList = crate::meta::ObjectList<StatefulSet>;

/// The desired state of a stateful set.
#[wire]
pub struct StatefulSetSpec {
    /// Number of desired pods (default 1).
    pub replicas: Option<i32>,
    /// Label query over the pods; must match the template's labels and cannot change.
    pub selector: Option<LabelSelector>,
    /// Template of the pods; each pod gets a stable name `<set>-<ordinal>`.
    pub template: PodTemplateSpec,
    /// Claims each pod gets one of, mounted by volume name.
    pub volume_claim_templates: Vec<PersistentVolumeClaim>,
    /// Name of the (headless) service giving the pods their network identity.
    #[wire(always)]
    pub service_name: String,
    /// `OrderedReady` (default) or `Parallel` creation and deletion of pods.
    pub pod_management_policy: Option<String>,
    /// How pods are replaced when the template changes.
    pub update_strategy: Option<StatefulSetUpdateStrategy>,
    /// Number of old revisions kept (default 10).
    pub revision_history_limit: Option<i32>,
    /// Seconds a new pod must be ready, without crashing, to count as available.
    pub min_ready_seconds: Option<i32>,
    /// What happens to the claims when the set is deleted or scaled down.
    pub persistent_volume_claim_retention_policy: Option<StatefulSetPersistentVolumeClaimRetentionPolicy>,
    /// Numbering of the pods' ordinals.
    pub ordinals: Option<StatefulSetOrdinals>,
}

/// How a stateful set replaces its pods.
#[wire(eq)]
pub struct StatefulSetUpdateStrategy {
    /// `RollingUpdate` (default) or `OnDelete`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// Parameters of a rolling update; only with type `RollingUpdate`.
    pub rolling_update: Option<RollingUpdateStatefulSetStrategy>,
}

/// Parameters of a stateful set's rolling update.
#[wire(eq)]
pub struct RollingUpdateStatefulSetStrategy {
    /// Pods with an ordinal below this keep the old revision (default 0).
    pub partition: Option<i32>,
    /// Pods (or percentage) that may be unavailable during the update (alpha).
    pub max_unavailable: Option<IntOrString>,
}

/// What happens to the claims of a stateful set's pods.
#[wire(eq)]
pub struct StatefulSetPersistentVolumeClaimRetentionPolicy {
    /// `Retain` (default) or `Delete` when the set is deleted.
    pub when_deleted: Option<String>,
    /// `Retain` (default) or `Delete` when the set is scaled down.
    pub when_scaled: Option<String>,
}

/// Numbering of a stateful set's pods.
#[wire(eq)]
pub struct StatefulSetOrdinals {
    /// The ordinal of the first pod (default 0).
    #[wire(always)]
    pub start: i32,
}

/// The observed state of a stateful set.
#[wire]
pub struct StatefulSetStatus {
    /// The generation the controller last observed.
    pub observed_generation: Option<i64>,
    /// Pods created by the controller.
    #[wire(always)]
    pub replicas: i32,
    /// Pods with a Ready condition.
    pub ready_replicas: Option<i32>,
    /// Pods at `currentRevision`.
    pub current_replicas: Option<i32>,
    /// Pods at `updateRevision`.
    pub updated_replicas: Option<i32>,
    /// Revision of the pods with ordinals below `currentReplicas`.
    pub current_revision: Option<String>,
    /// Revision the pods are being updated to.
    pub update_revision: Option<String>,
    /// Count of hash collisions, used to name the newest ControllerRevision.
    pub collision_count: Option<i32>,
    /// Latest observations of the stateful set's state.
    pub conditions: Vec<StatefulSetCondition>,
    /// Pods available for at least `minReadySeconds`.
    #[wire(always)]
    pub available_replicas: i32,
}

/// A condition of a stateful set.
#[wire(eq)]
pub struct StatefulSetCondition {
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

impl ApplyDefaults for StatefulSet {
    fn apply_defaults(&mut self) {
        let spec = &mut self.spec;
        default_str(&mut spec.pod_management_policy, "OrderedReady");
        let strategy = spec.update_strategy.get_or_insert_with(StatefulSetUpdateStrategy::default);
        if strategy.type_.as_deref().is_none_or(str::is_empty) {
            strategy.type_ = Some("RollingUpdate".to_owned());
            strategy.rolling_update.get_or_insert_with(RollingUpdateStatefulSetStrategy::default);
        }
        // As in Kubernetes, an explicit RollingUpdate without parameters keeps rollingUpdate unset.
        if strategy.type_.as_deref() == Some("RollingUpdate")
            && let Some(rolling) = &mut strategy.rolling_update
        {
            default_to(&mut rolling.partition, 0);
        }
        let retention = spec
            .persistent_volume_claim_retention_policy
            .get_or_insert_with(StatefulSetPersistentVolumeClaimRetentionPolicy::default);
        default_str(&mut retention.when_deleted, "Retain");
        default_str(&mut retention.when_scaled, "Retain");
        default_to(&mut spec.replicas, 1);
        default_to(&mut spec.revision_history_limit, 10);
        spec.template.apply_defaults();
        for claim in &mut spec.volume_claim_templates {
            claim.apply_defaults();
        }
    }
}

impl Validate for StatefulSet {
    fn validate(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        // Pod names (`<set>-<ordinal>`) are host names, so set names are DNS labels.
        validate_object_meta(&self.metadata, true, NameRule::Label, &mut errors);
        validate_stateful_set_spec(&self.spec, &Path::new("spec"), &mut errors);
        errors
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = ErrorList::new();
        // Names are not re-checked as labels on update (older sets may have subdomain names).
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Subdomain, &mut errors);
        validate_stateful_set_spec(&self.spec, &Path::new("spec"), &mut errors);
        let mut unchanged = self.spec.clone();
        unchanged.replicas = old.spec.replicas;
        unchanged.template = old.spec.template.clone();
        unchanged.update_strategy = old.spec.update_strategy.clone();
        unchanged.min_ready_seconds = old.spec.min_ready_seconds;
        unchanged.ordinals = old.spec.ordinals.clone();
        unchanged.revision_history_limit = old.spec.revision_history_limit;
        unchanged.persistent_volume_claim_retention_policy = old.spec.persistent_volume_claim_retention_policy.clone();
        if unchanged != old.spec {
            errors.push(FieldError::forbidden(
                &Path::new("spec"),
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ));
        }
        // Reported separately too, so the selector is named (it is also covered by the rule above).
        validate_immutable(&self.spec.selector, &old.spec.selector, &Path::new("spec").child("selector"), &mut errors);
        errors
    }
}

fn validate_stateful_set_spec(spec: &StatefulSetSpec, path: &Path, errors: &mut ErrorList) {
    let policy_path = path.child("podManagementPolicy");
    match spec.pod_management_policy.as_deref().unwrap_or_default() {
        "" => errors.push(FieldError::required(&policy_path, "")),
        "OrderedReady" | "Parallel" => {}
        other => errors.push(FieldError::invalid(&policy_path, other, "must be 'OrderedReady' or 'Parallel'")),
    }
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    let strategy_path = path.child("updateStrategy");
    match strategy.type_.as_deref().unwrap_or_default() {
        "" => errors.push(FieldError::required(&strategy_path, "")),
        "OnDelete" => {
            if let Some(rolling) = &strategy.rolling_update {
                errors.push(FieldError::invalid(
                    &strategy_path.child("rollingUpdate"),
                    rolling,
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            if let Some(rolling) = &strategy.rolling_update {
                validate_rolling_update(rolling, &strategy_path.child("rollingUpdate"), errors);
            }
        }
        _ => errors.push(FieldError::invalid(&strategy_path, &strategy, "must be 'RollingUpdate' or 'OnDelete'")),
    }
    if let Some(policy) = &spec.persistent_volume_claim_retention_policy {
        let p = path.child("persistentVolumeClaimRetentionPolicy");
        for (name, value) in [("whenDeleted", &policy.when_deleted), ("whenScaled", &policy.when_scaled)] {
            let value = value.as_deref().unwrap_or_default();
            if value != "Retain" && value != "Delete" {
                errors.push(FieldError::not_supported(&p.child(name), value, &["Retain", "Delete"]));
            }
        }
    }
    validate_nonnegative(i64::from(spec.replicas.unwrap_or(0)), &path.child("replicas"), errors);
    validate_nonnegative(i64::from(spec.min_ready_seconds.unwrap_or(0)), &path.child("minReadySeconds"), errors);
    if let Some(ordinals) = &spec.ordinals {
        validate_nonnegative(i64::from(ordinals.start), &path.child("ordinals").child("start"), errors);
    }
    let template_path = path.child("template");
    if let Some(selector) =
        validate_workload_selector(spec.selector.as_ref(), "statefulset", "", &path.child("selector"), errors)
    {
        validate_selector_matches(&selector, &spec.template, &template_path.child("metadata").child("labels"), errors);
        // The controller adds one volume per claim template to every pod, so
        // mounts may name them; validate the template as the pods will be.
        let mut template = spec.template.clone();
        for claim in &spec.volume_claim_templates {
            let name = &claim.metadata.name;
            // Unnamed claims are reported under volumeClaimTemplates.
            if !name.is_empty() && !template.spec.volumes.iter().any(|v| &v.name == name) {
                template.spec.volumes.push(crate::core::v1::Volume {
                    name: name.clone(),
                    persistent_volume_claim: Some(Box::new(crate::core::v1::PersistentVolumeClaimVolumeSource {
                        claim_name: name.clone(),
                        read_only: None,
                    })),
                    ..Default::default()
                });
            }
        }
        validate_pod_template_spec(&template, &template_path, errors);
    }
    let facts = PodFacts::of(&spec.template.spec);
    validate_restart_always(&facts, &template_path, errors);
    if facts.active_deadline_seconds.is_some() {
        errors.push(FieldError::forbidden(
            &template_path.child("spec").child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in StatefulSet is not Supported",
        ));
    }
    // The service name becomes the pods' `subdomain`, a DNS label.
    if !spec.service_name.is_empty() && !is_dns1123_label(&spec.service_name) {
        errors.push(FieldError::invalid(&path.child("serviceName"), &spec.service_name, DNS1123_LABEL_ERROR));
    }
    validate_volume_claim_templates(&spec.volume_claim_templates, &path.child("volumeClaimTemplates"), errors);
}

fn validate_rolling_update(rolling: &RollingUpdateStatefulSetStrategy, path: &Path, errors: &mut ErrorList) {
    validate_nonnegative(i64::from(rolling.partition.unwrap_or(0)), &path.child("partition"), errors);
    if let Some(max_unavailable) = &rolling.max_unavailable {
        let p = path.child("maxUnavailable");
        validate_positive_int_or_percent(max_unavailable, &p, errors);
        if int_or_percent_value(max_unavailable) == 0 {
            errors.push(FieldError::invalid(&p, max_unavailable, "cannot be 0"));
        }
        validate_not_more_than_100_percent(max_unavailable, &p, errors);
    }
}

/// Validates each claim template as a PersistentVolumeClaim, minus the
/// namespace (claims are created in the set's namespace).
fn validate_volume_claim_templates(claims: &[PersistentVolumeClaim], path: &Path, errors: &mut ErrorList) {
    for (i, claim) in claims.iter().enumerate() {
        let prefix = path.index(i);
        errors.extend(claim.validate().into_iter().filter(|e| e.field != "metadata.namespace").map(|mut e| {
            e.field = format!("{prefix}.{}", e.field);
            e
        }));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Resource;
    use crate::apps::v1::common::test_support::{causes, template};

    fn claim(name: &str) -> PersistentVolumeClaim {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
        }))
        .unwrap()
    }

    fn valid() -> StatefulSet {
        let mut s = StatefulSet::named("db");
        s.metadata.namespace = "default".into();
        s.spec.selector = Some(LabelSelector::from_labels([("app", "web")]));
        s.spec.template = template("Always");
        s.spec.service_name = "db".into();
        s.spec.volume_claim_templates = vec![claim("data")];
        s.apply_defaults();
        s
    }

    #[test]
    fn round_trip() {
        let wire = json!({
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "prod"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "db"}},
                "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": "postgres:16"}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}}],
                "serviceName": "db",
                "podManagementPolicy": "Parallel",
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1, "maxUnavailable": "50%"}},
                "revisionHistoryLimit": 4,
                "minReadySeconds": 2,
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Retain"},
                "ordinals": {"start": 5}
            },
            "status": {
                "observedGeneration": 3, "replicas": 3, "readyReplicas": 3, "currentReplicas": 2, "updatedReplicas": 1,
                "currentRevision": "db-7c", "updateRevision": "db-8d", "collisionCount": 0, "availableReplicas": 3,
                "conditions": [{"type": "Healthy", "status": "True", "lastTransitionTime": "2024-03-03T03:03:03Z"}]
            }
        });
        let s: StatefulSet = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(serde_json::to_value(&s).unwrap(), wire);
        // serviceName, status.replicas and status.availableReplicas are always written.
        assert_eq!(
            serde_json::to_value(StatefulSetSpec::default()).unwrap(),
            json!({"template": {}, "serviceName": ""})
        );
        assert_eq!(
            serde_json::to_value(StatefulSetStatus::default()).unwrap(),
            json!({"replicas": 0, "availableReplicas": 0})
        );
        assert_eq!(StatefulSet::INFO.short_names, ["sts"]);
        assert_eq!(StatefulSet::INFO.subresources, ["status", "scale"]);
    }

    #[test]
    fn defaults() {
        let mut s = StatefulSet::default();
        s.spec.volume_claim_templates = vec![claim("data")];
        s.apply_defaults();
        let mut spec = serde_json::to_value(&s.spec).unwrap();
        let obj = spec.as_object_mut().unwrap();
        obj.remove("template");
        let claims = obj.remove("volumeClaimTemplates").unwrap();
        assert_eq!(
            spec,
            json!({
                "replicas": 1,
                "serviceName": "",
                "podManagementPolicy": "OrderedReady",
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                "revisionHistoryLimit": 10,
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"}
            })
        );
        assert_eq!(claims[0]["spec"]["volumeMode"], "Filesystem");
        assert_eq!(claims[0]["status"]["phase"], "Pending");

        // An explicit RollingUpdate without parameters is left as is.
        let mut s = StatefulSet::default();
        s.spec.update_strategy =
            Some(StatefulSetUpdateStrategy { type_: Some("RollingUpdate".into()), rolling_update: None });
        s.spec.persistent_volume_claim_retention_policy = Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
            when_deleted: Some("Delete".into()),
            when_scaled: None,
        });
        s.apply_defaults();
        assert_eq!(
            s.spec.update_strategy,
            Some(StatefulSetUpdateStrategy { type_: Some("RollingUpdate".into()), rolling_update: None })
        );
        assert_eq!(
            s.spec.persistent_volume_claim_retention_policy,
            Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
                when_deleted: Some("Delete".into()),
                when_scaled: Some("Retain".into())
            })
        );
        let mut s = StatefulSet::default();
        s.spec.update_strategy =
            Some(StatefulSetUpdateStrategy { type_: Some("OnDelete".into()), rolling_update: None });
        s.apply_defaults();
        assert_eq!(
            s.spec.update_strategy,
            Some(StatefulSetUpdateStrategy { type_: Some("OnDelete".into()), rolling_update: None })
        );
    }

    #[test]
    fn validation() {
        assert_eq!(causes(&valid().validate()), []);
        type Mutation = fn(&mut StatefulSet);
        let cases: Vec<(Mutation, Vec<(&str, &str)>)> = vec![
            (
                |s| s.spec.pod_management_policy = Some("Random".into()),
                vec![("spec.podManagementPolicy", "FieldValueInvalid")],
            ),
            (
                |s| {
                    s.spec.update_strategy = Some(StatefulSetUpdateStrategy {
                        type_: Some("OnDelete".into()),
                        rolling_update: Some(Default::default()),
                    })
                },
                vec![("spec.updateStrategy.rollingUpdate", "FieldValueInvalid")],
            ),
            (
                |s| {
                    s.spec.update_strategy.as_mut().unwrap().rolling_update =
                        Some(RollingUpdateStatefulSetStrategy { partition: Some(-1), max_unavailable: Some(0.into()) })
                },
                vec![
                    ("spec.updateStrategy.rollingUpdate.partition", "FieldValueInvalid"),
                    ("spec.updateStrategy.rollingUpdate.maxUnavailable", "FieldValueInvalid"),
                ],
            ),
            (
                |s| s.spec.persistent_volume_claim_retention_policy.as_mut().unwrap().when_scaled = Some("Keep".into()),
                vec![("spec.persistentVolumeClaimRetentionPolicy.whenScaled", "FieldValueNotSupported")],
            ),
            (
                |s| s.spec.ordinals = Some(StatefulSetOrdinals { start: -1 }),
                vec![("spec.ordinals.start", "FieldValueInvalid")],
            ),
            (
                |s| s.spec.selector = None,
                vec![("spec.selector", "FieldValueRequired"), ("spec.template.metadata.labels", "FieldValueInvalid")],
            ),
            (
                |s| s.spec.template = template("OnFailure"),
                vec![("spec.template.spec.restartPolicy", "FieldValueNotSupported")],
            ),
            (|s| s.spec.service_name = "DB_svc".into(), vec![("spec.serviceName", "FieldValueInvalid")]),
            (|s| s.metadata.name = "db.v1".into(), vec![("metadata.name", "FieldValueInvalid")]),
            (
                |s| s.spec.volume_claim_templates[0].metadata.name.clear(),
                vec![("spec.volumeClaimTemplates[0].metadata.name", "FieldValueRequired")],
            ),
        ];
        for (i, (mutate, want)) in cases.into_iter().enumerate() {
            let mut s = valid();
            mutate(&mut s);
            let want: Vec<_> = want.into_iter().map(|(f, c)| (f.to_owned(), c)).collect();
            assert_eq!(causes(&s.validate()), want, "case {i}");
        }
    }

    #[test]
    fn update() {
        let old = valid();
        let mut new = old.clone();
        new.spec.replicas = Some(5);
        new.spec.min_ready_seconds = Some(10);
        new.spec.revision_history_limit = Some(2);
        new.spec.ordinals = Some(StatefulSetOrdinals { start: 1 });
        new.spec.template.metadata.annotations.insert("rev".into(), "2".into());
        assert_eq!(causes(&new.validate_update(&old)), []);

        let mut new = old.clone();
        new.spec.service_name = "other".into();
        let errs = new.validate_update(&old);
        assert_eq!(causes(&errs), [("spec".to_owned(), "FieldValueForbidden")]);
        assert!(errs[0].detail.starts_with("updates to statefulset spec for fields other than 'replicas'"));

        let mut new = old.clone();
        new.spec.selector = Some(LabelSelector::from_labels([("app", "web"), ("v", "2")]));
        new.spec.template.metadata.labels.insert("v".into(), "2".into());
        assert_eq!(
            causes(&new.validate_update(&old)),
            [("spec".to_owned(), "FieldValueForbidden"), ("spec.selector".to_owned(), "FieldValueInvalid")]
        );
    }
}
