//! Namespace.

use super::common::VERBS_NO_DELETECOLLECTION;
use crate::defaults::default_str;
use crate::meta::{ObjectMeta, Time};
use crate::resource::{Resource, metadata_field};
use crate::validation::{
    ErrorList, FieldError, NameRule, Path, qualified_name_errors, validate_object_meta, validate_object_meta_update,
};
use crate::{ApplyDefaults, Validate, wire};

/// The finalizer the namespace controller removes once a namespace's content is deleted.
pub const FINALIZER_KUBERNETES: &str = "kubernetes";
/// Label Kubernetes sets on every namespace to its name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// A scope for names: most namespaced objects live in one.
#[wire]
pub struct Namespace {
    /// APIVersion of the object (`v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`Namespace`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// Desired state: the finalizers.
    #[wire(omitempty)]
    pub spec: NamespaceSpec,
    /// Observed state: the phase.
    pub status: Option<NamespaceStatus>,
}
crate::impl_resource!(Namespace {
    group: "",
    version: "v1",
    kind: "Namespace",
    plural: "namespaces",
    singular: "namespace",
    short_names: ["ns"],
    categories: [],
    namespaced: false,
    verbs: VERBS_NO_DELETECOLLECTION,
    subresources: ["status", "finalize"],
    selectable_fields: ["status.phase"],
    field_value: namespace_field_value
});
/// A list of namespaces.
pub type NamespaceList = crate::meta::ObjectList<Namespace>;

/// Desired state of a namespace.
#[wire(eq)]
pub struct NamespaceSpec {
    /// Finalizers that must be removed (through the `finalize` subresource)
    /// before the namespace is deleted.
    pub finalizers: Vec<String>,
}

/// Observed state of a namespace.
#[wire]
pub struct NamespaceStatus {
    /// `Active` or `Terminating`.
    pub phase: Option<String>,
    /// Current conditions (`NamespaceDeletionContentFailure`, …).
    pub conditions: Vec<NamespaceCondition>,
}

/// A condition of a namespace.
#[wire]
pub struct NamespaceCondition {
    /// Condition type, such as `NamespaceContentRemaining`.
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

fn namespace_field_value(ns: &Namespace, field: &str) -> Option<String> {
    match field {
        "status.phase" => Some(ns.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default()),
        _ => metadata_field(ns.metadata(), field),
    }
}

impl ApplyDefaults for Namespace {
    /// Phase `Active`, the `kubernetes.io/metadata.name` label, and — as the
    /// registry does on create — the `kubernetes` finalizer when there are none.
    fn apply_defaults(&mut self) {
        if !self.metadata.name.is_empty() {
            self.metadata.labels.insert(NAMESPACE_NAME_LABEL.to_owned(), self.metadata.name.clone());
        }
        if self.spec.finalizers.is_empty() {
            self.spec.finalizers.push(FINALIZER_KUBERNETES.to_owned());
        }
        let status = self.status.get_or_insert_with(Default::default);
        default_str(&mut status.phase, "Active");
    }
}

fn validate_finalizers(spec: &NamespaceSpec, errors: &mut ErrorList) {
    let path = Path::new("spec").child("finalizers");
    for f in &spec.finalizers {
        let msgs = qualified_name_errors(f);
        let ok = msgs.is_empty();
        for msg in msgs {
            errors.push(FieldError::invalid(&path, f, msg));
        }
        if ok && !f.contains('/') && f != FINALIZER_KUBERNETES {
            errors.push(FieldError::invalid(
                &path,
                f,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
}

impl Validate for Namespace {
    fn validate(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta(&self.metadata, false, NameRule::Label, &mut errors);
        validate_finalizers(&self.spec, &mut errors);
        errors
    }

    /// `spec.finalizers` may only change through the `finalize` subresource.
    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, false, NameRule::Label, &mut errors);
        validate_finalizers(&self.spec, &mut errors);
        if self.spec.finalizers != old.spec.finalizers {
            errors.push(FieldError::forbidden(
                &Path::new("spec").child("finalizers"),
                "may only be changed through the finalize subresource",
            ));
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::{causes, expect};
    use super::*;

    #[test]
    fn round_trip() {
        let v = json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "work", "labels": {"kubernetes.io/metadata.name": "work"}},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Terminating", "conditions": [{
                "type": "NamespaceDeletionContentFailure", "status": "False",
                "lastTransitionTime": "2026-01-02T03:04:05Z", "reason": "ContentDeleted", "message": "All content successfully deleted"
            }]}
        });
        let ns: Namespace = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&ns).unwrap(), v);
        assert!(ns.validate().is_empty());
        assert_eq!(serde_json::to_value(Namespace::default()).unwrap(), json!({}));
    }

    #[test]
    fn info_and_fields() {
        assert_eq!(Namespace::INFO.short_names, ["ns"]);
        const { assert!(!Namespace::INFO.namespaced) };
        assert_eq!(Namespace::INFO.subresources, ["status", "finalize"]);
        assert!(!Namespace::INFO.verbs.contains(&"deletecollection"));
        let mut ns = Namespace::named("work");
        assert_eq!(ns.field_value("status.phase").as_deref(), Some(""));
        ns.apply_defaults();
        assert_eq!(ns.field_value("status.phase").as_deref(), Some("Active"));
        assert_eq!(ns.field_value("metadata.name").as_deref(), Some("work"));
        assert_eq!(ns.field_value("spec.finalizers"), None);
    }

    #[test]
    fn defaults() {
        let mut ns = Namespace::named("work");
        ns.apply_defaults();
        assert_eq!(
            serde_json::to_value(&ns).unwrap(),
            json!({
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "work", "labels": {"kubernetes.io/metadata.name": "work"}},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"}
            })
        );
        let once = ns.clone();
        ns.apply_defaults();
        assert_eq!(ns, once);
        // Present values are kept; the name label always follows the name.
        let mut custom: Namespace = serde_json::from_value(json!({
            "metadata": {"name": "b", "labels": {"kubernetes.io/metadata.name": "stale"}},
            "spec": {"finalizers": ["example.com/cleanup"]},
            "status": {"phase": "Terminating"}
        }))
        .unwrap();
        custom.apply_defaults();
        assert_eq!(custom.metadata.labels[NAMESPACE_NAME_LABEL], "b");
        assert_eq!(custom.spec.finalizers, ["example.com/cleanup"]);
        assert_eq!(custom.status.and_then(|s| s.phase).as_deref(), Some("Terminating"));
    }

    #[test]
    fn validation() {
        type Case = (&'static str, fn(&mut Namespace), &'static [(&'static str, &'static str)]);
        let cases: &[Case] = &[
            ("valid", |_| {}, &[]),
            ("subdomain name", |n| n.metadata.name = "a.b".into(), &[("metadata.name", "FieldValueInvalid")]),
            ("namespaced", |n| n.metadata.namespace = "x".into(), &[("metadata.namespace", "FieldValueForbidden")]),
            (
                "unknown short finalizer",
                |n| n.spec.finalizers = vec!["cleanup".into()],
                &[("spec.finalizers", "FieldValueInvalid")],
            ),
            ("qualified finalizer", |n| n.spec.finalizers = vec!["example.com/cleanup".into()], &[]),
            (
                "bad finalizer",
                |n| n.spec.finalizers = vec!["bad finalizer".into()],
                &[("spec.finalizers", "FieldValueInvalid")],
            ),
        ];
        for (name, mutate, want) in cases {
            let mut n = Namespace::named("work");
            n.apply_defaults();
            mutate(&mut n);
            assert_eq!(causes(&n.validate()), expect(want), "{name}");
        }
    }

    #[test]
    fn update() {
        let mut old = Namespace::named("work");
        old.apply_defaults();
        let mut relabeled = old.clone();
        relabeled.metadata.labels.insert("team".into(), "a".into());
        assert!(relabeled.validate_update(&old).is_empty());
        let mut unfinalized = old.clone();
        unfinalized.spec.finalizers.clear();
        assert_eq!(causes(&unfinalized.validate_update(&old)), expect(&[("spec.finalizers", "FieldValueForbidden")]));
        let mut renamed = old.clone();
        renamed.metadata.name = "other".into();
        assert_eq!(causes(&renamed.validate_update(&old)), expect(&[("metadata.name", "FieldValueInvalid")]));
    }
}
