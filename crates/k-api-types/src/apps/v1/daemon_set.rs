//! DaemonSet: one pod on each (selected) node.

use super::common::{
    PodFacts, as_selector, int_or_percent_value, validate_nonnegative, validate_not_more_than_100_percent,
    validate_positive_int_or_percent, validate_restart_always, validate_selector_matches,
};
use crate::core::v1::{PodTemplateSpec, validate_pod_template_spec};
use crate::defaults::{default_str, default_to};
use crate::intstr::IntOrString;
use crate::meta::{LabelSelector, ObjectMeta, Time};
use crate::validation::{
    ErrorList, FieldError, NameRule, Path, Validate, validate_immutable, validate_label_selector, validate_object_meta,
    validate_object_meta_update,
};
use crate::{ApplyDefaults, wire};

/// A pod run on every eligible node (apps/v1 DaemonSet).
#[wire]
pub struct DaemonSet {
    /// APIVersion of the object (`apps/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`DaemonSet`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[wire(omitempty)]
    pub spec: DaemonSetSpec,
    /// Observed state.
    pub status: Option<DaemonSetStatus>,
}

crate::impl_resource!(DaemonSet {
    group: "apps",
    version: "v1",
    kind: "DaemonSet",
    plural: "daemonsets",
    singular: "daemonset",
    short_names: ["ds"],
    categories: ["all"],
    namespaced: true,
    verbs: crate::resource::ALL_VERBS,
    subresources: ["status"],
    selectable_fields: [],
});

/// A list of daemon sets.
pub type DaemonSetList = crate::meta::ObjectList<DaemonSet>;

/// The desired state of a daemon set.
#[wire]
pub struct DaemonSetSpec {
    /// Label query over the pods; must match the template's labels and cannot change.
    pub selector: Option<LabelSelector>,
    /// Template of the pods, one per eligible node.
    pub template: PodTemplateSpec,
    /// How existing pods are replaced when the template changes.
    pub update_strategy: Option<DaemonSetUpdateStrategy>,
    /// Seconds a new pod must be ready, without crashing, to count as available.
    pub min_ready_seconds: Option<i32>,
    /// Number of old histories kept to allow rollback (default 10).
    pub revision_history_limit: Option<i32>,
}

/// How a daemon set replaces its pods.
#[wire(eq)]
pub struct DaemonSetUpdateStrategy {
    /// `RollingUpdate` (default) or `OnDelete`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// Parameters of a rolling update; only with type `RollingUpdate`.
    pub rolling_update: Option<RollingUpdateDaemonSet>,
}

/// Parameters of a daemon set's rolling update.
#[wire(eq)]
pub struct RollingUpdateDaemonSet {
    /// Nodes (or percentage) whose pod may be unavailable during the update (default 1).
    pub max_unavailable: Option<IntOrString>,
    /// Nodes (or percentage) that may run an extra, updated pod during the update (default 0).
    pub max_surge: Option<IntOrString>,
}

/// The observed state of a daemon set.
#[wire]
pub struct DaemonSetStatus {
    /// Nodes running at least one daemon pod that should run it.
    #[wire(always)]
    pub current_number_scheduled: i32,
    /// Nodes running a daemon pod that should not run it.
    #[wire(always)]
    pub number_misscheduled: i32,
    /// Nodes that should run the daemon pod.
    #[wire(always)]
    pub desired_number_scheduled: i32,
    /// Nodes whose daemon pod is ready.
    #[wire(always)]
    pub number_ready: i32,
    /// The generation the controller last observed.
    pub observed_generation: Option<i64>,
    /// Nodes running the updated daemon pod.
    pub updated_number_scheduled: Option<i32>,
    /// Nodes whose daemon pod has been available for `minReadySeconds`.
    pub number_available: Option<i32>,
    /// Nodes that should run the daemon pod but have none available.
    pub number_unavailable: Option<i32>,
    /// Count of hash collisions, used to name the newest ControllerRevision.
    pub collision_count: Option<i32>,
    /// Latest observations of the daemon set's state.
    pub conditions: Vec<DaemonSetCondition>,
}

/// A condition of a daemon set.
#[wire(eq)]
pub struct DaemonSetCondition {
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

impl ApplyDefaults for DaemonSet {
    fn apply_defaults(&mut self) {
        let spec = &mut self.spec;
        let strategy = spec.update_strategy.get_or_insert_with(DaemonSetUpdateStrategy::default);
        default_str(&mut strategy.type_, "RollingUpdate");
        if strategy.type_.as_deref() == Some("RollingUpdate") {
            let rolling = strategy.rolling_update.get_or_insert_with(RollingUpdateDaemonSet::default);
            default_to(&mut rolling.max_unavailable, IntOrString::Int(1));
            default_to(&mut rolling.max_surge, IntOrString::Int(0));
        }
        default_to(&mut spec.revision_history_limit, 10);
        spec.template.apply_defaults();
    }
}

impl Validate for DaemonSet {
    fn validate(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta(&self.metadata, true, NameRule::Subdomain, &mut errors);
        validate_daemon_set_spec(&self.spec, &Path::new("spec"), &mut errors);
        errors
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Subdomain, &mut errors);
        validate_daemon_set_spec(&self.spec, &Path::new("spec"), &mut errors);
        validate_immutable(&self.spec.selector, &old.spec.selector, &Path::new("spec").child("selector"), &mut errors);
        errors
    }
}

/// Kubernetes' DaemonSet rules: unlike the other workloads a missing selector
/// is reported only through the template-labels mismatch.
fn validate_daemon_set_spec(spec: &DaemonSetSpec, path: &Path, errors: &mut ErrorList) {
    let selector_path = path.child("selector");
    let template_path = path.child("template");
    if let Some(sel) = &spec.selector {
        validate_label_selector(sel, &selector_path, errors);
    }
    if let Some(selector) = as_selector(spec.selector.as_ref()) {
        validate_selector_matches(&selector, &spec.template, &template_path.child("metadata").child("labels"), errors);
    }
    if let Some(sel) = &spec.selector
        && sel.match_labels.is_empty()
        && sel.match_expressions.is_empty()
    {
        errors.push(FieldError::invalid(&selector_path, sel, "empty selector is invalid for daemonset"));
    }
    validate_pod_template_spec(&spec.template, &template_path, errors);
    let facts = PodFacts::of(&spec.template.spec);
    validate_restart_always(&facts, &template_path, errors);
    if let Some(ads) = &facts.active_deadline_seconds {
        errors.push(FieldError::invalid(
            &template_path.child("spec").child("activeDeadlineSeconds"),
            ads,
            "activeDeadlineSeconds in DaemonSet is not Supported",
        ));
    }
    validate_nonnegative(i64::from(spec.min_ready_seconds.unwrap_or(0)), &path.child("minReadySeconds"), errors);
    validate_update_strategy(&spec.update_strategy.clone().unwrap_or_default(), &path.child("updateStrategy"), errors);
    if let Some(limit) = spec.revision_history_limit {
        validate_nonnegative(i64::from(limit), &path.child("revisionHistoryLimit"), errors);
    }
}

fn validate_update_strategy(strategy: &DaemonSetUpdateStrategy, path: &Path, errors: &mut ErrorList) {
    match strategy.type_.as_deref().unwrap_or_default() {
        "OnDelete" => {}
        "RollingUpdate" => match &strategy.rolling_update {
            None => errors.push(FieldError::required(&path.child("rollingUpdate"), "")),
            Some(rolling) => validate_rolling_update(rolling, &path.child("rollingUpdate"), errors),
        },
        _ => errors.push(FieldError::not_supported(path, strategy, &["RollingUpdate", "OnDelete"])),
    }
}

fn validate_rolling_update(rolling: &RollingUpdateDaemonSet, path: &Path, errors: &mut ErrorList) {
    let max_unavailable = rolling.max_unavailable.clone().unwrap_or_default();
    let max_surge = rolling.max_surge.clone().unwrap_or_default();
    let (unavailable_path, surge_path) = (path.child("maxUnavailable"), path.child("maxSurge"));
    validate_positive_int_or_percent(&max_unavailable, &unavailable_path, errors);
    validate_positive_int_or_percent(&max_surge, &surge_path, errors);
    validate_not_more_than_100_percent(&max_unavailable, &unavailable_path, errors);
    validate_not_more_than_100_percent(&max_surge, &surge_path, errors);
    let has_unavailable = int_or_percent_value(&max_unavailable) != 0;
    let has_surge = int_or_percent_value(&max_surge) != 0;
    if has_unavailable && has_surge {
        errors.push(FieldError::invalid(&surge_path, &max_surge, "may not be set when maxUnavailable is non-zero"));
    } else if !has_unavailable && !has_surge {
        errors.push(FieldError::required(&unavailable_path, "cannot be 0 when maxSurge is 0"));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Resource;
    use crate::apps::v1::common::test_support::{causes, template};

    fn valid() -> DaemonSet {
        let mut ds = DaemonSet::named("agent");
        ds.metadata.namespace = "kube-system".into();
        ds.spec.selector = Some(LabelSelector::from_labels([("app", "web")]));
        ds.spec.template = template("Always");
        ds.apply_defaults();
        ds
    }

    fn rolling(ds: &mut DaemonSet) -> &mut RollingUpdateDaemonSet {
        ds.spec.update_strategy.as_mut().unwrap().rolling_update.as_mut().unwrap()
    }

    #[test]
    fn round_trip() {
        let wire = json!({
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "kube-system"},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "a", "image": "agent:1"}]}},
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%", "maxSurge": 0}},
                "minReadySeconds": 10,
                "revisionHistoryLimit": 5
            },
            "status": {
                "currentNumberScheduled": 3, "numberMisscheduled": 0, "desiredNumberScheduled": 3, "numberReady": 2,
                "observedGeneration": 2, "updatedNumberScheduled": 3, "numberAvailable": 2, "numberUnavailable": 1,
                "collisionCount": 0,
                "conditions": [{"type": "Stalled", "status": "False", "reason": "Fine"}]
            }
        });
        let ds: DaemonSet = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(serde_json::to_value(&ds).unwrap(), wire);
        assert_eq!(
            serde_json::to_value(DaemonSetStatus::default()).unwrap(),
            json!({"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0, "numberReady": 0})
        );
        assert_eq!(DaemonSet::INFO.short_names, ["ds"]);
        assert_eq!(DaemonSet::INFO.subresources, ["status"]);
    }

    #[test]
    fn defaults() {
        let mut ds = DaemonSet::default();
        ds.apply_defaults();
        assert_eq!(
            serde_json::to_value(&ds.spec.update_strategy).unwrap(),
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        );
        assert_eq!(ds.spec.revision_history_limit, Some(10));
        let mut ds = DaemonSet::default();
        ds.spec.update_strategy = Some(DaemonSetUpdateStrategy {
            type_: None,
            rolling_update: Some(RollingUpdateDaemonSet { max_unavailable: None, max_surge: Some("20%".into()) }),
        });
        ds.apply_defaults();
        assert_eq!(
            serde_json::to_value(&ds.spec.update_strategy).unwrap(),
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "20%"}})
        );
        let mut ds = DaemonSet::default();
        ds.spec.update_strategy =
            Some(DaemonSetUpdateStrategy { type_: Some("OnDelete".into()), rolling_update: None });
        ds.apply_defaults();
        assert_eq!(serde_json::to_value(&ds.spec.update_strategy).unwrap(), json!({"type": "OnDelete"}));
    }

    #[test]
    fn validation() {
        assert_eq!(causes(&valid().validate()), []);
        type Mutation = fn(&mut DaemonSet);
        let cases: Vec<(Mutation, Vec<(&str, &str)>)> = vec![
            (|d| d.spec.selector = None, vec![("spec.template.metadata.labels", "FieldValueInvalid")]),
            (|d| d.spec.selector = Some(LabelSelector::default()), vec![("spec.selector", "FieldValueInvalid")]),
            (
                |d| d.spec.template = template("Never"),
                vec![("spec.template.spec.restartPolicy", "FieldValueNotSupported")],
            ),
            (
                |d| {
                    let r = rolling(d);
                    r.max_unavailable = Some(0.into());
                    r.max_surge = Some("0%".into());
                },
                vec![("spec.updateStrategy.rollingUpdate.maxUnavailable", "FieldValueRequired")],
            ),
            (
                |d| rolling(d).max_surge = Some("10%".into()),
                vec![("spec.updateStrategy.rollingUpdate.maxSurge", "FieldValueInvalid")],
            ),
            (
                |d| rolling(d).max_unavailable = Some("101%".into()),
                vec![("spec.updateStrategy.rollingUpdate.maxUnavailable", "FieldValueInvalid")],
            ),
            (
                |d| d.spec.update_strategy.as_mut().unwrap().type_ = Some("Rolling".into()),
                vec![("spec.updateStrategy", "FieldValueNotSupported")],
            ),
            (|d| d.spec.min_ready_seconds = Some(-1), vec![("spec.minReadySeconds", "FieldValueInvalid")]),
        ];
        for (i, (mutate, want)) in cases.into_iter().enumerate() {
            let mut d = valid();
            mutate(&mut d);
            let want: Vec<_> = want.into_iter().map(|(f, c)| (f.to_owned(), c)).collect();
            assert_eq!(causes(&d.validate()), want, "case {i}");
        }
    }

    #[test]
    fn update() {
        let old = valid();
        let mut new = old.clone();
        new.spec.min_ready_seconds = Some(4);
        assert_eq!(causes(&new.validate_update(&old)), []);
        new.spec.selector.as_mut().unwrap().match_expressions.push(crate::meta::LabelSelectorRequirement {
            key: "zone".into(),
            operator: "Exists".into(),
            values: vec![],
        });
        new.spec.template.metadata.labels.insert("zone".into(), "a".into());
        assert_eq!(causes(&new.validate_update(&old)), [("spec.selector".to_owned(), "FieldValueInvalid")]);
    }
}
