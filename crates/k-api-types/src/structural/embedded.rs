//! `x-kubernetes-embedded-resource` objects: their `apiVersion`, `kind` and
//! `metadata` are checked as a resource's own would be.

use serde_json::Value;

use super::Node;
use crate::meta::ObjectMeta;
use crate::validation::{DNS1035_LABEL_ERROR, ErrorList, FieldError, NameRule, Path, validate_object_meta};

/// Checks every embedded resource in `x` (the root itself is not one).
pub(super) fn validate(s: &Node, x: &Value, path: &Path, errors: &mut ErrorList) {
    match x {
        Value::Object(map) => {
            if s.embedded {
                resource(map, path, errors);
            }
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for k in keys {
                if let Some(prop) = s.properties.get(k) {
                    validate(prop, &map[k], &path.child(k), errors);
                } else if let Some(a) = s.additional_schema() {
                    validate(a, &map[k], &path.key(k), errors);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = &s.items {
                for (i, v) in items.iter().enumerate() {
                    validate(item_schema, v, &path.index(i), errors);
                }
            }
        }
        _ => {}
    }
}

/// `apiVersion` and `kind` are required (`metadata` is not) and must be
/// well-formed; `metadata` must be valid object metadata.
fn resource(map: &serde_json::Map<String, Value>, path: &Path, errors: &mut ErrorList) {
    for key in ["apiVersion", "kind"] {
        if !map.contains_key(key) {
            errors.push(FieldError::required(&path.child(key), ""));
        }
    }
    if let Some(v) = map.get("apiVersion") {
        let p = path.child("apiVersion");
        match v.as_str() {
            None => errors.push(FieldError::invalid(&p, v, "must be a string")),
            Some("") => errors.push(FieldError::required(&p, "")),
            Some(av) if av != "/" && av.matches('/').count() > 1 => {
                errors.push(FieldError::invalid(&p, av, format!("unexpected GroupVersion string: {av}")));
            }
            Some(_) => {}
        }
    }
    if let Some(v) = map.get("kind") {
        let p = path.child("kind");
        match v.as_str() {
            None => errors.push(FieldError::invalid(&p, v, "must be a string")),
            Some("") => errors.push(FieldError::required(&p, "")),
            Some(kind) => {
                let problems = dns1035_label_errors(&kind.to_lowercase());
                if !problems.is_empty() {
                    let detail = format!("may have mixed case, but should otherwise match: {}", problems.join(","));
                    errors.push(FieldError::invalid(&p, kind, detail));
                }
            }
        }
    }
    if let Some(v) = map.get("metadata") {
        let p = path.child("metadata");
        match serde_json::from_value::<ObjectMeta>(v.clone()) {
            Err(e) => errors.push(FieldError::invalid(&p, v, e.to_string())),
            Ok(mut meta) => {
                if meta.name.is_empty() {
                    // Only the syntax matters here: an embedded resource needs no name.
                    meta.name = "fakename".to_owned();
                }
                let namespaced = !meta.namespace.is_empty();
                let mut meta_errors = ErrorList::new();
                validate_object_meta(&meta, namespaced, NameRule::Path, &mut meta_errors);
                for mut e in meta_errors {
                    let rest = e.field.strip_prefix("metadata").unwrap_or(&e.field);
                    e.field = format!("{p}{rest}");
                    errors.push(e);
                }
            }
        }
    }
}

/// Why a (lower-cased) kind is not a DNS-1035 label.
fn dns1035_label_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push("must be no more than 63 characters".to_owned());
    }
    let b = s.as_bytes();
    let ok = b.first().is_some_and(u8::is_ascii_lowercase)
        && b.last().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    if !ok {
        errs.push(DNS1035_LABEL_ERROR.to_owned());
    }
    errs
}
