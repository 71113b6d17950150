//! Binding.

use super::ObjectReference;
use crate::meta::ObjectMeta;
use crate::resource::CREATE_ONLY;
use crate::validation::{ErrorList, FieldError, NameRule, Path, validate_object_meta, validate_object_meta_update};
use crate::{ApplyDefaults, Validate, wire};

/// Binds a pod to a node (what a scheduler posts to `pods/{name}/binding`,
/// or to `bindings`). Deprecated in favour of the pod's `binding` subresource.
#[wire]
pub struct Binding {
    /// APIVersion of the object (`v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`Binding`).
    #[wire(omitempty)]
    pub kind: String,
    /// Metadata: the pod's name and namespace.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// The node to bind to.
    pub target: ObjectReference,
}
crate::impl_resource!(Binding {
    group: "",
    version: "v1",
    kind: "Binding",
    plural: "bindings",
    singular: "binding",
    short_names: [],
    categories: [],
    namespaced: true,
    verbs: CREATE_ONLY,
    subresources: [],
    selectable_fields: []
});
/// A list of bindings.
pub type BindingList = crate::meta::ObjectList<Binding>;

impl ApplyDefaults for Binding {
    /// Kubernetes has no Binding defaults.
    fn apply_defaults(&mut self) {}
}

fn validate_target(b: &Binding, errors: &mut ErrorList) {
    let path = Path::new("target");
    if !b.target.kind.is_empty() && b.target.kind != "Node" {
        errors.push(FieldError::not_supported(&path.child("kind"), &b.target.kind, &["Node", "<empty>"]));
    }
    if b.target.name.is_empty() {
        errors.push(FieldError::required(&path.child("name"), ""));
    }
}

impl Validate for Binding {
    fn validate(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta(&self.metadata, true, NameRule::Subdomain, &mut errors);
        validate_target(self, &mut errors);
        errors
    }

    /// Bindings are create-only; an update is checked as a create plus
    /// metadata immutability.
    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Subdomain, &mut errors);
        validate_target(self, &mut errors);
        errors
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::{causes, expect};
    use super::*;
    use crate::Resource;

    fn binding() -> Binding {
        serde_json::from_value(json!({
            "metadata": {"name": "web-0", "namespace": "work"},
            "target": {"kind": "Node", "name": "node-1"}
        }))
        .unwrap()
    }

    #[test]
    fn round_trip_and_info() {
        let v = json!({
            "apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": "web-0", "namespace": "work", "uid": "u-1"},
            "target": {"kind": "Node", "apiVersion": "v1", "name": "node-1"}
        });
        let b: Binding = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&b).unwrap(), v);
        // `target` is always written.
        assert_eq!(serde_json::to_value(Binding::default()).unwrap(), json!({"target": {}}));
        assert_eq!(Binding::INFO.verbs, ["create"]);
        assert_eq!(Binding::INFO.plural, "bindings");
        const { assert!(Binding::INFO.namespaced) };
        let mut d = binding();
        d.apply_defaults();
        assert_eq!(d, binding());
    }

    #[test]
    fn validation() {
        type Case = (&'static str, fn(&mut Binding), &'static [(&'static str, &'static str)]);
        let cases: &[Case] = &[
            ("valid", |_| {}, &[]),
            ("empty kind", |b| b.target.kind.clear(), &[]),
            ("no target name", |b| b.target.name.clear(), &[("target.name", "FieldValueRequired")]),
            ("wrong kind", |b| b.target.kind = "Pod".into(), &[("target.kind", "FieldValueNotSupported")]),
            ("no namespace", |b| b.metadata.namespace.clear(), &[("metadata.namespace", "FieldValueRequired")]),
        ];
        for (name, mutate, want) in cases {
            let mut b = binding();
            mutate(&mut b);
            assert_eq!(causes(&b.validate()), expect(want), "{name}");
        }
        let old = binding();
        let mut moved = old.clone();
        moved.metadata.name = "web-1".into();
        assert_eq!(causes(&moved.validate_update(&old)), expect(&[("metadata.name", "FieldValueInvalid")]));
    }
}
