//! Eviction: a request to evict a pod, honouring disruption budgets.

use crate::meta::{DeleteOptions, ObjectMeta};
use crate::validation::{ErrorList, FieldError, NameRule, Path, Validate, is_dns1123_label, validate_object_meta};
use crate::{ApplyDefaults, wire};

/// A request to evict a pod, posted to the pod's `eviction` subresource
/// (policy/v1 Eviction). The eviction's name is the pod's name.
#[wire]
pub struct Eviction {
    /// APIVersion of the object (`policy/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`Eviction`).
    #[wire(omitempty)]
    pub kind: String,
    /// Name and namespace of the pod to evict.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// Options of the pod's deletion.
    pub delete_options: Option<DeleteOptions>,
}

crate::impl_resource!(Eviction {
    group: "policy",
    version: "v1",
    kind: "Eviction",
    plural: "evictions",
    singular: "eviction",
    short_names: [],
    categories: [],
    namespaced: true,
    verbs: crate::resource::SUBRESOURCE_ONLY,
    subresources: [],
    selectable_fields: [],
});

impl Eviction {
    /// An eviction of the pod `namespace/name`.
    pub fn for_pod(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            api_version: "policy/v1".to_owned(),
            kind: "Eviction".to_owned(),
            metadata: ObjectMeta::namespaced(namespace, name),
            delete_options: None,
        }
    }
}

impl ApplyDefaults for Eviction {
    /// Kubernetes defines no defaults for evictions.
    fn apply_defaults(&mut self) {}
}

impl Validate for Eviction {
    /// The pod name, an optional namespace (the request's is used when empty)
    /// and the delete options.
    fn validate(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta(&self.metadata, false, NameRule::Subdomain, &mut errors);
        // The namespace may be left to the request path; drop the cluster-scope complaint.
        errors.retain(|e| e.field != "metadata.namespace");
        if !self.metadata.namespace.is_empty() && !is_dns1123_label(&self.metadata.namespace) {
            errors.push(FieldError::invalid(
                &Path::new("metadata").child("namespace"),
                &self.metadata.namespace,
                crate::validation::DNS1123_LABEL_ERROR,
            ));
        }
        if let Some(options) = &self.delete_options {
            validate_delete_options(options, &Path::new("deleteOptions"), &mut errors);
        }
        errors
    }

    /// Evictions are only created; an update is validated as a creation.
    fn validate_update(&self, _old: &Self) -> ErrorList {
        self.validate()
    }
}

/// Kubernetes' `ValidateDeleteOptions`: propagation policy, dry run and the
/// deprecated `orphanDependents`.
fn validate_delete_options(options: &DeleteOptions, path: &Path, errors: &mut ErrorList) {
    let policy_path = path.child("propagationPolicy");
    if options.orphan_dependents.is_some() && options.propagation_policy.is_some() {
        errors.push(FieldError::invalid(
            &policy_path,
            &options.propagation_policy,
            "orphanDependents and deletionPropagation cannot be both set",
        ));
    }
    if let Some(policy) = &options.propagation_policy
        && !matches!(policy.as_str(), "Foreground" | "Background" | "Orphan")
    {
        errors.push(FieldError::not_supported(&policy_path, policy, &["Foreground", "Background", "Orphan", "nil"]));
    }
    if options.dry_run.iter().any(|d| d != "All") {
        errors.push(FieldError::not_supported(&path.child("dryRun"), &options.dry_run, &["All"]));
    }
    if let Some(grace) = options.grace_period_seconds.filter(|g| *g < 0) {
        errors.push(FieldError::invalid(
            &path.child("gracePeriodSeconds"),
            grace,
            "must be greater than or equal to 0",
        ));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Resource;
    use crate::apps::v1::common::test_support::causes;

    #[test]
    fn round_trip_and_validation() {
        let wire = json!({
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": "web-0", "namespace": "prod"},
            "deleteOptions": {"gracePeriodSeconds": 30, "preconditions": {"uid": "u1"}, "propagationPolicy": "Background", "dryRun": ["All"]}
        });
        let e: Eviction = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(serde_json::to_value(&e).unwrap(), wire);
        assert_eq!(Eviction::INFO.plural, "evictions");
        assert!(Eviction::INFO.verbs.is_empty(), "served only as pods/eviction");
        assert_eq!(causes(&e.validate()), []);
        assert_eq!(causes(&Eviction::for_pod("", "web-0").validate()), []);

        let mut bad = e.clone();
        bad.metadata.name.clear();
        bad.delete_options = Some(DeleteOptions {
            orphan_dependents: Some(true),
            propagation_policy: Some("Sideways".into()),
            dry_run: vec!["Some".into()],
            ..Default::default()
        });
        assert_eq!(
            causes(&bad.validate_update(&e)),
            [
                ("metadata.name".to_owned(), "FieldValueRequired"),
                ("deleteOptions.propagationPolicy".to_owned(), "FieldValueInvalid"),
                ("deleteOptions.propagationPolicy".to_owned(), "FieldValueNotSupported"),
                ("deleteOptions.dryRun".to_owned(), "FieldValueNotSupported"),
            ]
        );
    }
}
