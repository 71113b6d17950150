//! PodDisruptionBudget: limits voluntary disruptions of a set of pods.

use std::collections::BTreeMap;

use crate::apps::v1::common::{validate_not_more_than_100_percent, validate_positive_int_or_percent};
use crate::intstr::IntOrString;
use crate::meta::{Condition, LabelSelector, ObjectMeta, Time};
use crate::validation::{
    ErrorList, FieldError, NameRule, Path, Validate, validate_label_selector, validate_object_meta,
    validate_object_meta_update,
};
use crate::{ApplyDefaults, wire};

/// The most pods of a set that voluntary disruptions (evictions) may take
/// down at once (policy/v1 PodDisruptionBudget).
#[wire]
pub struct PodDisruptionBudget {
    /// APIVersion of the object (`policy/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`PodDisruptionBudget`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[wire(omitempty)]
    pub spec: PodDisruptionBudgetSpec,
    /// Observed state.
    pub status: Option<PodDisruptionBudgetStatus>,
}

crate::impl_resource!(PodDisruptionBudget {
    group: "policy",
    version: "v1",
    kind: "PodDisruptionBudget",
    plural: "poddisruptionbudgets",
    singular: "poddisruptionbudget",
    short_names: ["pdb"],
    categories: [],
    namespaced: true,
    verbs: crate::resource::ALL_VERBS,
    subresources: ["status"],
    selectable_fields: [],
});

/// A list of pod disruption budgets.
pub type PodDisruptionBudgetList = crate::meta::ObjectList<PodDisruptionBudget>;

/// The desired state of a pod disruption budget.
#[wire]
pub struct PodDisruptionBudgetSpec {
    /// Pods (or percentage) that must stay available after an eviction.
    pub min_available: Option<IntOrString>,
    /// The pods covered; an empty selector selects every pod of the namespace.
    pub selector: Option<LabelSelector>,
    /// Pods (or percentage) that may be unavailable after an eviction.
    pub max_unavailable: Option<IntOrString>,
    /// When running but unhealthy pods may be evicted: `IfHealthyBudget` or `AlwaysAllow`.
    pub unhealthy_pod_eviction_policy: Option<String>,
}

/// The observed state of a pod disruption budget.
#[wire]
pub struct PodDisruptionBudgetStatus {
    /// The generation the controller last observed.
    pub observed_generation: Option<i64>,
    /// Pods whose eviction the API server allowed but the controller has not seen yet, with the eviction time.
    pub disrupted_pods: BTreeMap<String, Time>,
    /// Disruptions currently allowed.
    #[wire(always)]
    pub disruptions_allowed: i32,
    /// Current number of healthy pods.
    #[wire(always)]
    pub current_healthy: i32,
    /// Minimum number of healthy pods desired.
    #[wire(always)]
    pub desired_healthy: i32,
    /// Total pods counted by the budget.
    #[wire(always)]
    pub expected_pods: i32,
    /// Latest observations (`DisruptionAllowed`).
    pub conditions: Vec<Condition>,
}

impl ApplyDefaults for PodDisruptionBudget {
    /// Kubernetes defines no defaults for pod disruption budgets.
    fn apply_defaults(&mut self) {}
}

impl Validate for PodDisruptionBudget {
    fn validate(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta(&self.metadata, true, NameRule::Subdomain, &mut errors);
        validate_spec(&self.spec, &Path::new("spec"), &mut errors);
        errors
    }

    /// The spec is mutable since Kubernetes 1.15.
    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Subdomain, &mut errors);
        validate_spec(&self.spec, &Path::new("spec"), &mut errors);
        errors
    }
}

fn validate_spec(spec: &PodDisruptionBudgetSpec, path: &Path, errors: &mut ErrorList) {
    if spec.min_available.is_some() && spec.max_unavailable.is_some() {
        errors.push(FieldError::invalid(path, spec, "minAvailable and maxUnavailable cannot be both set"));
    }
    for (name, value) in [("minAvailable", &spec.min_available), ("maxUnavailable", &spec.max_unavailable)] {
        if let Some(v) = value {
            validate_positive_int_or_percent(v, &path.child(name), errors);
            validate_not_more_than_100_percent(v, &path.child(name), errors);
        }
    }
    if let Some(selector) = &spec.selector {
        validate_label_selector(selector, &path.child("selector"), errors);
    }
    if let Some(policy) = &spec.unhealthy_pod_eviction_policy
        && policy != "AlwaysAllow"
        && policy != "IfHealthyBudget"
    {
        errors.push(FieldError::not_supported(
            &path.child("unhealthyPodEvictionPolicy"),
            policy,
            &["AlwaysAllow", "IfHealthyBudget"],
        ));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Resource;
    use crate::apps::v1::common::test_support::causes;

    fn valid() -> PodDisruptionBudget {
        let mut p = PodDisruptionBudget::named("web");
        p.metadata.namespace = "default".into();
        p.spec.min_available = Some("50%".into());
        p.spec.selector = Some(LabelSelector::from_labels([("app", "web")]));
        p.apply_defaults();
        p
    }

    #[test]
    fn round_trip() {
        let wire = json!({
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "web", "namespace": "prod"},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}, "unhealthyPodEvictionPolicy": "AlwaysAllow"},
            "status": {
                "observedGeneration": 2,
                "disruptedPods": {"web-1": "2024-04-04T04:04:04Z"},
                "disruptionsAllowed": 0, "currentHealthy": 2, "desiredHealthy": 2, "expectedPods": 3,
                "conditions": [{"type": "DisruptionAllowed", "status": "False", "observedGeneration": 2, "lastTransitionTime": "2024-04-04T04:04:00Z", "reason": "InsufficientPods", "message": ""}]
            }
        });
        let p: PodDisruptionBudget = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(serde_json::to_value(&p).unwrap(), wire);
        let mut d = p.clone();
        d.apply_defaults();
        assert_eq!(d, p);
        assert_eq!(PodDisruptionBudget::INFO.short_names, ["pdb"]);
        assert!(PodDisruptionBudget::INFO.categories.is_empty());
    }

    #[test]
    fn validation() {
        assert_eq!(causes(&valid().validate()), []);
        type Mutation = fn(&mut PodDisruptionBudget);
        let cases: Vec<(Mutation, Vec<(&str, &str)>)> = vec![
            (|p| p.spec.max_unavailable = Some(1.into()), vec![("spec", "FieldValueInvalid")]),
            (|p| p.spec.min_available = Some("150%".into()), vec![("spec.minAvailable", "FieldValueInvalid")]),
            (|p| p.spec.min_available = Some((-1).into()), vec![("spec.minAvailable", "FieldValueInvalid")]),
            (
                |p| {
                    p.spec.min_available = None;
                    p.spec.max_unavailable = Some("ten".into());
                },
                vec![("spec.maxUnavailable", "FieldValueInvalid")],
            ),
            (
                |p| p.spec.unhealthy_pod_eviction_policy = Some("Never".into()),
                vec![("spec.unhealthyPodEvictionPolicy", "FieldValueNotSupported")],
            ),
            (
                |p| p.spec.selector = Some(LabelSelector::from_labels([("bad key", "x")])),
                vec![("spec.selector.matchLabels", "FieldValueInvalid")],
            ),
        ];
        for (i, (mutate, want)) in cases.into_iter().enumerate() {
            let mut p = valid();
            mutate(&mut p);
            let want: Vec<_> = want.into_iter().map(|(f, c)| (f.to_owned(), c)).collect();
            assert_eq!(causes(&p.validate()), want, "case {i}");
        }
        let mut changed = valid();
        changed.spec.min_available = Some(2.into());
        assert_eq!(causes(&changed.validate_update(&valid())), []);
    }
}
