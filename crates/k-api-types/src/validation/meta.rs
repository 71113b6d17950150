//! Validation of `ObjectMeta` on create and update.

use std::collections::HashSet;

use super::names::{qualified_name_errors, validate_annotations, validate_labels};
use super::{
    DNS1035_LABEL_ERROR, DNS1123_LABEL_ERROR, DNS1123_SUBDOMAIN_ERROR, is_dns1035_label, is_dns1123_label,
    is_dns1123_subdomain,
};
use super::{ErrorList, FieldError, Path, validate_immutable};
use crate::meta::ObjectMeta;

/// Which syntax a kind's names must follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// DNS-1123 subdomain (most kinds).
    Subdomain,
    /// DNS-1123 label (Namespace, …).
    Label,
    /// DNS-1035 label (Service).
    Label1035,
    /// RBAC names: anything but `.`, `..`, or containing `/` or `%`.
    Path,
}

impl NameRule {
    fn check(self, name: &str) -> Option<&'static str> {
        match self {
            Self::Subdomain => (!is_dns1123_subdomain(name)).then_some(DNS1123_SUBDOMAIN_ERROR),
            Self::Label => (!is_dns1123_label(name)).then_some(DNS1123_LABEL_ERROR),
            Self::Label1035 => (!is_dns1035_label(name)).then_some(DNS1035_LABEL_ERROR),
            Self::Path => {
                if name == "." || name == ".." {
                    Some("may not be '.' or '..'")
                } else if name.contains('/') || name.contains('%') {
                    Some("may not contain '/' or '%'")
                } else {
                    None
                }
            }
        }
    }
}

/// Validates metadata of a new object: name (or generateName) syntax,
/// namespace presence for namespaced kinds (and absence otherwise), labels,
/// annotations, owner references and finalizers.
pub fn validate_object_meta(meta: &ObjectMeta, namespaced: bool, rule: NameRule, errors: &mut ErrorList) {
    let path = Path::new("metadata");
    if meta.name.is_empty() {
        if meta.generate_name.is_empty() {
            errors.push(FieldError::required(&path.child("name"), "name or generateName is required"));
        } else {
            // The generated suffix is alphanumeric, so a trailing '-' is fine.
            let prefix = meta.generate_name.trim_end_matches('-');
            if let Some(detail) = rule.check(if prefix.is_empty() { "a" } else { prefix }) {
                errors.push(FieldError::invalid(&path.child("generateName"), &meta.generate_name, detail));
            }
        }
    } else if let Some(detail) = rule.check(&meta.name) {
        errors.push(FieldError::invalid(&path.child("name"), &meta.name, detail));
    }
    if namespaced {
        if meta.namespace.is_empty() {
            errors.push(FieldError::required(&path.child("namespace"), ""));
        } else if !is_dns1123_label(&meta.namespace) {
            errors.push(FieldError::invalid(&path.child("namespace"), &meta.namespace, DNS1123_LABEL_ERROR));
        }
    } else if !meta.namespace.is_empty() {
        errors.push(FieldError::forbidden(&path.child("namespace"), "not allowed on this type"));
    }
    if let Some(g) = meta.generation
        && g < 0
    {
        errors.push(FieldError::invalid(&path.child("generation"), g, "must be greater than or equal to 0"));
    }
    validate_labels(&meta.labels, &path.child("labels"), errors);
    validate_annotations(&meta.annotations, &path.child("annotations"), errors);
    let owners = path.child("ownerReferences");
    let mut controllers = 0;
    for (i, r) in meta.owner_references.iter().enumerate() {
        let p = owners.index(i);
        for (field, value) in [("apiVersion", &r.api_version), ("kind", &r.kind), ("name", &r.name), ("uid", &r.uid)] {
            if value.is_empty() {
                errors.push(FieldError::required(&p.child(field), ""));
            }
        }
        if r.controller == Some(true) {
            controllers += 1;
        }
    }
    if controllers > 1 {
        errors.push(FieldError::invalid(&owners, controllers, "Only one reference can have Controller set to true"));
    }
    let mut seen = HashSet::new();
    for (i, f) in meta.finalizers.iter().enumerate() {
        let p = path.child("finalizers").index(i);
        for msg in qualified_name_errors(f) {
            errors.push(FieldError::invalid(&p, f, msg));
        }
        if !seen.insert(f) {
            errors.push(FieldError::duplicate(&p, f));
        }
    }
}

/// Validates metadata of an update: everything [`validate_object_meta`] checks,
/// plus immutability of name, namespace, uid and creationTimestamp.
pub fn validate_object_meta_update(
    new: &ObjectMeta,
    old: &ObjectMeta,
    namespaced: bool,
    rule: NameRule,
    errors: &mut ErrorList,
) {
    validate_object_meta(new, namespaced, rule, errors);
    let path = Path::new("metadata");
    validate_immutable(&new.name, &old.name, &path.child("name"), errors);
    validate_immutable(&new.namespace, &old.namespace, &path.child("namespace"), errors);
    if !old.uid.is_empty() {
        validate_immutable(&new.uid, &old.uid, &path.child("uid"), errors);
    }
    if old.creation_timestamp.is_some() {
        validate_immutable(&new.creation_timestamp, &old.creation_timestamp, &path.child("creationTimestamp"), errors);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::OwnerReference;

    fn causes(meta: &ObjectMeta, namespaced: bool, rule: NameRule) -> Vec<(String, &'static str)> {
        let mut errs = Vec::new();
        validate_object_meta(meta, namespaced, rule, &mut errs);
        errs.iter().map(|e| (e.field.clone(), e.type_.cause())).collect()
    }

    #[test]
    fn meta_cases() {
        let ok = ObjectMeta::namespaced("work", "web-0");
        assert!(causes(&ok, true, NameRule::Subdomain).is_empty());
        assert_eq!(
            causes(&ObjectMeta::default(), false, NameRule::Subdomain),
            [("metadata.name".to_owned(), "FieldValueRequired")]
        );
        assert_eq!(
            causes(&ObjectMeta::named("Web"), false, NameRule::Subdomain),
            [("metadata.name".to_owned(), "FieldValueInvalid")]
        );
        assert_eq!(
            causes(&ObjectMeta::named("a.b"), false, NameRule::Label1035),
            [("metadata.name".to_owned(), "FieldValueInvalid")]
        );
        assert_eq!(
            causes(&ObjectMeta::named("web"), true, NameRule::Subdomain),
            [("metadata.namespace".to_owned(), "FieldValueRequired")]
        );
        assert_eq!(
            causes(&ObjectMeta::namespaced("x", "web"), false, NameRule::Subdomain),
            [("metadata.namespace".to_owned(), "FieldValueForbidden")]
        );
        let gen_name = ObjectMeta { generate_name: "web-".into(), ..Default::default() };
        assert!(causes(&gen_name, false, NameRule::Subdomain).is_empty());
        let two_controllers = ObjectMeta {
            name: "x".into(),
            owner_references: vec![
                OwnerReference {
                    api_version: "v1".into(),
                    kind: "A".into(),
                    name: "a".into(),
                    uid: "1".into(),
                    controller: Some(true),
                    ..Default::default()
                },
                OwnerReference {
                    api_version: "v1".into(),
                    kind: "B".into(),
                    name: "b".into(),
                    uid: "".into(),
                    controller: Some(true),
                    ..Default::default()
                },
            ],
            finalizers: vec!["example.com/f".into(), "example.com/f".into()],
            ..Default::default()
        };
        assert_eq!(
            causes(&two_controllers, false, NameRule::Subdomain),
            [
                ("metadata.ownerReferences[1].uid".to_owned(), "FieldValueRequired"),
                ("metadata.ownerReferences".to_owned(), "FieldValueInvalid"),
                ("metadata.finalizers[1]".to_owned(), "FieldValueDuplicate"),
            ]
        );
    }

    #[test]
    fn immutable_on_update() {
        let old = ObjectMeta { uid: "u1".into(), ..ObjectMeta::namespaced("a", "x") };
        let new = ObjectMeta { uid: "u2".into(), ..ObjectMeta::namespaced("a", "y") };
        let mut errs = Vec::new();
        validate_object_meta_update(&new, &old, true, NameRule::Subdomain, &mut errs);
        let msgs: Vec<_> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            [
                "metadata.name: Invalid value: \"y\": field is immutable",
                "metadata.uid: Invalid value: \"u2\": field is immutable"
            ]
        );
    }
}
