//! `scheduling.k8s.io/v1`: [`PriorityClass`].

use crate::defaults::default_str;
use crate::meta::ObjectMeta;
use crate::validation::{
    ErrorList, FieldError, NameRule, Path, Validate, validate_immutable, validate_object_meta,
    validate_object_meta_update,
};
use crate::{ApplyDefaults, wire};

/// The highest priority a user-defined class may have.
pub const HIGHEST_USER_DEFINABLE_PRIORITY: i32 = 1_000_000_000;
/// The priority of `system-cluster-critical`.
pub const SYSTEM_CRITICAL_PRIORITY: i32 = 2 * HIGHEST_USER_DEFINABLE_PRIORITY;
/// Names starting with this are reserved for the system classes.
pub const SYSTEM_PRIORITY_CLASS_PREFIX: &str = "system-";
/// The built-in classes: name and value (neither is a global default).
pub const SYSTEM_PRIORITY_CLASSES: [(&str, i32); 2] =
    [("system-node-critical", SYSTEM_CRITICAL_PRIORITY + 1000), ("system-cluster-critical", SYSTEM_CRITICAL_PRIORITY)];

/// A named pod priority.
#[wire]
pub struct PriorityClass {
    /// APIVersion of the object (`scheduling.k8s.io/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`PriorityClass`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// The priority of pods of this class (at most 1,000,000,000 for user classes); immutable.
    pub value: i32,
    /// Whether pods without a class get this one (at most one class may be the default).
    pub global_default: Option<bool>,
    /// When to use this class.
    pub description: Option<String>,
    /// `PreemptLowerPriority` (default) or `Never`; immutable.
    pub preemption_policy: Option<String>,
}

crate::impl_resource!(PriorityClass {
    group: "scheduling.k8s.io",
    version: "v1",
    kind: "PriorityClass",
    plural: "priorityclasses",
    singular: "priorityclass",
    short_names: ["pc"],
    categories: [],
    namespaced: false,
    verbs: crate::resource::ALL_VERBS,
    subresources: [],
    selectable_fields: []
});

/// A list of priority classes.
pub type PriorityClassList = crate::meta::ObjectList<PriorityClass>;

impl ApplyDefaults for PriorityClass {
    fn apply_defaults(&mut self) {
        default_str(&mut self.preemption_policy, "PreemptLowerPriority");
    }
}

/// Whether a `system-` class is one of the built-in ones, with their value and
/// global-default setting.
fn known_system_class_error(name: &str, value: i32, global_default: bool) -> Option<String> {
    match SYSTEM_PRIORITY_CLASSES.iter().find(|(n, _)| *n == name) {
        None => Some(format!("{name} is not a known system priority class")),
        Some((_, v)) if *v != value => Some(format!("value of {name} PriorityClass must be {v}")),
        Some(_) if global_default => Some(format!("globalDefault of {name} PriorityClass must be false")),
        Some(_) => None,
    }
}

impl Validate for PriorityClass {
    fn validate(&self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta(&self.metadata, false, NameRule::Subdomain, &mut errs);
        if self.metadata.name.starts_with(SYSTEM_PRIORITY_CLASS_PREFIX) {
            if let Some(err) =
                known_system_class_error(&self.metadata.name, self.value, self.global_default == Some(true))
            {
                errs.push(FieldError::forbidden(
                    &Path::new("metadata").child("name"),
                    format!("priority class names with '{SYSTEM_PRIORITY_CLASS_PREFIX}' prefix are reserved for system use only. error: {err}"),
                ));
            }
        } else if self.value > HIGHEST_USER_DEFINABLE_PRIORITY {
            errs.push(FieldError::forbidden(
                &Path::new("value"),
                format!("maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}"),
            ));
        }
        if let Some(p) = self.preemption_policy.as_deref()
            && p != "PreemptLowerPriority"
            && p != "Never"
        {
            errs.push(FieldError::not_supported(&Path::new("preemptionPolicy"), p, &["Never", "PreemptLowerPriority"]));
        }
        errs
    }

    /// As kube-apiserver does, an update checks metadata and immutability only.
    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, false, NameRule::Subdomain, &mut errs);
        if self.value != old.value {
            errs.push(FieldError::forbidden(&Path::new("value"), "may not be changed in an update."));
        }
        validate_immutable(&self.preemption_policy, &old.preemption_policy, &Path::new("preemptionPolicy"), &mut errs);
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn causes(errs: &ErrorList) -> Vec<(String, &'static str)> {
        errs.iter().map(|e| (e.field.clone(), e.type_.cause())).collect()
    }

    fn expect(pairs: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
        pairs.iter().map(|(f, c)| ((*f).to_owned(), *c)).collect()
    }

    #[test]
    fn round_trip_and_defaults() {
        let v = json!({
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": "high-priority"},
            "value": 1000000,
            "globalDefault": false,
            "description": "Latency-sensitive services.",
            "preemptionPolicy": "Never"
        });
        let pc: PriorityClass = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&pc).unwrap(), v);
        assert!(pc.validate().is_empty());

        let mut pc: PriorityClass = serde_json::from_value(json!({"metadata": {"name": "low"}, "value": 0})).unwrap();
        pc.apply_defaults();
        assert_eq!(
            serde_json::to_value(&pc).unwrap(),
            json!({"metadata": {"name": "low"}, "value": 0, "preemptionPolicy": "PreemptLowerPriority"})
        );
    }

    #[test]
    fn validation() {
        let pc =
            |name: &str, value: i32| PriorityClass { metadata: ObjectMeta::named(name), value, ..Default::default() };
        let cases = [
            (pc("high", 1_000_000_000), expect(&[])),
            (pc("too-high", 1_000_000_001), expect(&[("value", "FieldValueForbidden")])),
            (pc("system-custom", 10), expect(&[("metadata.name", "FieldValueForbidden")])),
            (pc("system-node-critical", 2_000_001_000), expect(&[])),
            (pc("system-cluster-critical", 5), expect(&[("metadata.name", "FieldValueForbidden")])),
            (
                PriorityClass { preemption_policy: Some("Always".into()), ..pc("p", 1) },
                expect(&[("preemptionPolicy", "FieldValueNotSupported")]),
            ),
            (
                PriorityClass { global_default: Some(true), ..pc("system-cluster-critical", SYSTEM_CRITICAL_PRIORITY) },
                expect(&[("metadata.name", "FieldValueForbidden")]),
            ),
        ];
        for (obj, want) in cases {
            assert_eq!(causes(&obj.validate()), want, "{}", obj.metadata.name);
        }
        let errs = pc("system-x", 1).validate();
        assert_eq!(
            errs[0].to_string(),
            "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-x is not a known system priority class"
        );
    }

    #[test]
    fn immutable_fields() {
        let mut old = pc_named("p");
        old.apply_defaults();
        let mut new = old.clone();
        new.description = Some("changed".into());
        new.global_default = Some(true);
        assert!(new.validate_update(&old).is_empty());
        new.value = 7;
        new.preemption_policy = Some("Never".into());
        assert_eq!(
            causes(&new.validate_update(&old)),
            expect(&[("value", "FieldValueForbidden"), ("preemptionPolicy", "FieldValueInvalid")])
        );
    }

    fn pc_named(name: &str) -> PriorityClass {
        PriorityClass { metadata: ObjectMeta::named(name), value: 100, ..Default::default() }
    }
}
