//! ControllerRevision: an immutable snapshot of a controller's state data.

use super::common::validate_nonnegative;
use crate::meta::ObjectMeta;
use crate::validation::{
    ErrorList, FieldError, NameRule, Path, Validate, validate_immutable, validate_object_meta,
    validate_object_meta_update,
};
use crate::{ApplyDefaults, wire};

/// An immutable snapshot of state data, used by DaemonSet and StatefulSet
/// controllers for updates and rollbacks (apps/v1 ControllerRevision).
#[wire]
pub struct ControllerRevision {
    /// APIVersion of the object (`apps/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`ControllerRevision`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// The serialized state (any JSON object); required and immutable.
    #[wire(omitempty)]
    pub data: serde_json::Value,
    /// The revision number of the state.
    #[wire(always)]
    pub revision: i64,
}

crate::impl_resource!(ControllerRevision {
    group: "apps",
    version: "v1",
    kind: "ControllerRevision",
    plural: "controllerrevisions",
    singular: "controllerrevision",
    short_names: [],
    categories: [],
    namespaced: true,
    verbs: crate::resource::ALL_VERBS,
    subresources: [],
    selectable_fields: [],
});

/// A list of controller revisions.
pub type ControllerRevisionList = crate::meta::ObjectList<ControllerRevision>;

impl ApplyDefaults for ControllerRevision {
    /// Kubernetes defines no defaults for controller revisions.
    fn apply_defaults(&mut self) {}
}

impl Validate for ControllerRevision {
    fn validate(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta(&self.metadata, true, NameRule::Subdomain, &mut errors);
        validate_revision_body(self, &mut errors);
        errors
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Subdomain, &mut errors);
        validate_revision_body(self, &mut errors);
        validate_immutable(&self.data, &old.data, &Path::new("data"), &mut errors);
        errors
    }
}

fn validate_revision_body(revision: &ControllerRevision, errors: &mut ErrorList) {
    if revision.data.is_null() {
        errors.push(FieldError::required(&Path::new("data"), "data is mandatory"));
    }
    validate_nonnegative(revision.revision, &Path::new("revision"), errors);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Resource;
    use crate::apps::v1::common::test_support::causes;

    #[test]
    fn round_trip() {
        let wire = json!({
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": {"name": "db-7c9f", "namespace": "prod", "labels": {"controller-revision-hash": "7c9f"}},
            "data": {"spec": {"template": {"$patch": "replace", "metadata": {"labels": {"app": "db"}}}}},
            "revision": 3
        });
        let r: ControllerRevision = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(serde_json::to_value(&r).unwrap(), wire);
        assert_eq!(serde_json::to_value(ControllerRevision::default()).unwrap(), json!({"revision": 0}));
        assert_eq!(ControllerRevision::INFO.plural, "controllerrevisions");
    }

    #[test]
    fn validation() {
        let mut r = ControllerRevision::named("db-1");
        r.metadata.namespace = "prod".into();
        r.data = json!({"a": 1});
        r.revision = 1;
        r.apply_defaults();
        assert_eq!(causes(&r.validate()), []);
        let mut bad = r.clone();
        bad.data = serde_json::Value::Null;
        bad.revision = -1;
        assert_eq!(
            causes(&bad.validate()),
            [("data".to_owned(), "FieldValueRequired"), ("revision".to_owned(), "FieldValueInvalid")]
        );
        let mut changed = r.clone();
        changed.data = json!({"a": 2});
        assert_eq!(causes(&changed.validate_update(&r)), [("data".to_owned(), "FieldValueInvalid")]);
    }
}
