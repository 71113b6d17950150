//! Validation helpers shared by the workload kinds of apps/v1, batch/v1 and
//! policy/v1 (Kubernetes' `pkg/apis/apps/validation` helpers).

use std::collections::BTreeSet;

use crate::core::v1::{PodSpec, PodTemplateSpec};
use crate::intstr::IntOrString;
use crate::meta::LabelSelector;
use crate::selector::Selector;
use crate::validation::{ErrorList, FieldError, Path, validate_label_selector};

/// Detail of a negative value where zero or more is required.
pub(crate) const NONNEGATIVE: &str = "must be greater than or equal to 0";

/// Detail of a string that is not a `<digits>%` percentage.
pub(crate) const PERCENT_ERROR: &str = "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')";

/// Detail of a template whose labels the selector does not match.
pub(crate) const SELECTOR_MISMATCH: &str = "`selector` does not match template `labels`";

/// Adds `must be greater than or equal to 0` when `value` is negative.
pub(crate) fn validate_nonnegative(value: i64, path: &Path, errors: &mut ErrorList) {
    if value < 0 {
        errors.push(FieldError::invalid(path, value, NONNEGATIVE));
    }
}

/// The number of a valid `<digits>%` string (0 when the digits overflow, as
/// Go's `strconv.Atoi` error is ignored there).
fn percent_value(v: &IntOrString) -> Option<i64> {
    let IntOrString::String(s) = v else { return None };
    let digits = s.strip_suffix('%')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse().unwrap_or(0))
}

/// The value of an int-or-percent: the percentage number for a valid
/// percentage, the integer otherwise (a non-numeric string counts as 0).
pub(crate) fn int_or_percent_value(v: &IntOrString) -> i64 {
    match (percent_value(v), v) {
        (Some(p), _) => p,
        (None, IntOrString::Int(n)) => i64::from(*n),
        (None, IntOrString::String(s)) => s.parse().unwrap_or(0),
    }
}

/// A non-negative integer or a `<digits>%` percentage.
pub(crate) fn validate_positive_int_or_percent(v: &IntOrString, path: &Path, errors: &mut ErrorList) {
    match v {
        IntOrString::String(_) if percent_value(v).is_none() => {
            errors.push(FieldError::invalid(path, v, PERCENT_ERROR))
        }
        IntOrString::String(_) => {}
        IntOrString::Int(n) => validate_nonnegative(i64::from(*n), path, errors),
    }
}

/// A percentage may not exceed 100%.
pub(crate) fn validate_not_more_than_100_percent(v: &IntOrString, path: &Path, errors: &mut ErrorList) {
    if percent_value(v).is_some_and(|p| p > 100) {
        errors.push(FieldError::invalid(path, v, "must not be greater than 100%"));
    }
}

/// Checks the selector of a ReplicaSet-like workload: required, valid and
/// non-empty (`empty selector is invalid for <kind>`). Returns the selector to
/// match the template labels with ([`Selector::nothing`] for a missing one),
/// or `None` when it cannot be converted (reported as `invalid_detail`).
pub(crate) fn validate_workload_selector(
    selector: Option<&LabelSelector>,
    kind: &str,
    invalid_detail: &str,
    path: &Path,
    errors: &mut ErrorList,
) -> Option<Selector> {
    let Some(sel) = selector else {
        errors.push(FieldError::required(path, ""));
        return Some(Selector::nothing());
    };
    validate_label_selector(sel, path, errors);
    if sel.match_labels.is_empty() && sel.match_expressions.is_empty() {
        errors.push(FieldError::invalid(path, sel, format!("empty selector is invalid for {kind}")));
    }
    match Selector::try_from(sel) {
        Ok(s) => Some(s),
        Err(_) => {
            errors.push(FieldError::invalid(path, sel, invalid_detail));
            None
        }
    }
}

/// Converts an optional selector as Kubernetes' `LabelSelectorAsSelector`
/// does: a missing selector matches nothing; `None` when it does not convert.
pub(crate) fn as_selector(selector: Option<&LabelSelector>) -> Option<Selector> {
    match selector {
        None => Some(Selector::nothing()),
        Some(sel) => Selector::try_from(sel).ok(),
    }
}

/// Adds `` `selector` does not match template `labels` `` at `labels_path`
/// when a non-empty selector does not match the template's labels.
pub(crate) fn validate_selector_matches(
    selector: &Selector,
    template: &PodTemplateSpec,
    labels_path: &Path,
    errors: &mut ErrorList,
) {
    if !selector.is_empty() && !selector.matches(&template.metadata.labels) {
        errors.push(FieldError::invalid(labels_path, &template.metadata.labels, SELECTOR_MISMATCH));
    }
}

/// The pod-spec facts the workload validations look at.
#[derive(Debug, Default)]
pub(crate) struct PodFacts {
    /// `restartPolicy`, empty when unset.
    pub(crate) restart_policy: String,
    /// `activeDeadlineSeconds`, when set.
    pub(crate) active_deadline_seconds: Option<i64>,
    /// Names of the containers and init containers.
    pub(crate) container_names: BTreeSet<String>,
}

impl PodFacts {
    /// Reads the facts of a pod spec.
    pub(crate) fn of(spec: &PodSpec) -> Self {
        Self {
            restart_policy: spec.restart_policy.clone().unwrap_or_default(),
            active_deadline_seconds: spec.active_deadline_seconds,
            container_names: spec.containers.iter().chain(&spec.init_containers).map(|c| c.name.clone()).collect(),
        }
    }
}

/// Checks that a template's `restartPolicy` is `Always` (path `<template>.spec.restartPolicy`).
pub(crate) fn validate_restart_always(facts: &PodFacts, template_path: &Path, errors: &mut ErrorList) {
    if facts.restart_policy != "Always" {
        errors.push(FieldError::not_supported(
            &template_path.child("spec").child("restartPolicy"),
            &facts.restart_policy,
            &["Always"],
        ));
    }
}

/// `may not be '.'`-style problems of a name used as a URL path segment
/// (Kubernetes' `IsValidPathSegmentName`).
pub(crate) fn path_segment_name_errors(name: &str) -> Vec<String> {
    if name == "." || name == ".." {
        return vec![format!("may not be '{name}'")];
    }
    ["/", "%"].iter().filter(|bad| name.contains(**bad)).map(|bad| format!("may not contain '{bad}'")).collect()
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Builders shared by the workload tests.

    use crate::core::v1::PodTemplateSpec;
    use crate::validation::ErrorList;

    /// `{app: <app>}`.
    pub(crate) fn labels(app: &str) -> crate::SortedMap<String, String> {
        crate::SortedMap::from([("app".to_owned(), app.to_owned())])
    }

    /// A valid pod template labelled `app: web` with the given restart policy.
    pub(crate) fn template(restart_policy: &str) -> PodTemplateSpec {
        serde_json::from_value(serde_json::json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "restartPolicy": restart_policy,
                "containers": [{"name": "app", "image": "nginx:1.27"}]
            }
        }))
        .expect("template")
    }

    /// `(field, cause)` pairs of an error list.
    pub(crate) fn causes(errors: &ErrorList) -> Vec<(String, &'static str)> {
        errors.iter().map(|e| (e.field.clone(), e.type_.cause())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_or_percent() {
        let p = Path::new("x");
        let cases: &[(IntOrString, i64, usize)] = &[
            (IntOrString::Int(3), 3, 0),
            (IntOrString::Int(-1), -1, 1),
            ("25%".into(), 25, 0),
            ("150%".into(), 150, 1),
            ("abc".into(), 0, 1),
            ("-5%".into(), 0, 1),
            ("%".into(), 0, 1),
        ];
        for (v, value, errs) in cases {
            let mut e = ErrorList::new();
            validate_positive_int_or_percent(v, &p, &mut e);
            validate_not_more_than_100_percent(v, &p, &mut e);
            assert_eq!(int_or_percent_value(v), *value, "{v:?}");
            assert_eq!(e.len(), *errs, "{v:?}: {e:?}");
        }
    }

    #[test]
    fn path_segments() {
        assert_eq!(path_segment_name_errors(".."), ["may not be '..'"]);
        assert_eq!(path_segment_name_errors("a/b%"), ["may not contain '/'", "may not contain '%'"]);
        assert!(path_segment_name_errors("web").is_empty());
    }
}
