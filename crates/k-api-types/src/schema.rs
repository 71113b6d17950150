//! JSON schemas of the models, and Kubernetes structural schemas.
//!
//! Every model implements [`schemars::JsonSchema`]. [`openapi_schema`] gives
//! the OpenAPI 3 schema of a type (with `$ref`s to shared definitions, for the
//! API server's OpenAPI documents); [`structural_schema`] gives the schema in
//! the form Kubernetes demands of CustomResourceDefinitions: every node typed,
//! no `$ref`, `x-kubernetes-int-or-string` for int-or-string values,
//! `x-kubernetes-preserve-unknown-fields` for free-form JSON, and the
//! properties of enum variants hoisted so that `oneOf`/`anyOf` only restrict.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

/// The OpenAPI 3 schema of `T`, with shared definitions under `components/schemas`.
pub fn openapi_schema<T: JsonSchema>() -> Value {
    SchemaSettings::openapi3().into_generator().into_root_schema_for::<T>().to_value()
}

/// The structural schema of `T`, as a CRD's `openAPIV3Schema` (or one of its
/// properties) must be written.
pub fn structural_schema<T: JsonSchema>() -> Value {
    let settings = SchemaSettings::openapi3().with(|s| s.inline_subschemas = true);
    let mut value = settings.into_generator().into_root_schema_for::<T>().to_value();
    make_structural(&mut value);
    value
}

/// Formats Kubernetes understands for integers and numbers.
const KNOWN_FORMATS: &[&str] = &[
    "int32",
    "int64",
    "float",
    "double",
    "byte",
    "binary",
    "date",
    "date-time",
    "password",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "duration",
    "quantity",
];

/// Rewrites an OpenAPI 3 schema (inlined, from schemars) into a structural one.
pub fn make_structural(schema: &mut Value) {
    let Value::Object(map) = schema else {
        // `true`/`false` schemas: anything goes.
        *schema = json!({ "x-kubernetes-preserve-unknown-fields": true });
        return;
    };
    for key in ["$schema", "$defs", "definitions", "$id", "examples", "readOnly", "writeOnly", "deprecated"] {
        map.remove(key);
    }
    if map.contains_key("$ref") {
        // Recursive types cannot be inlined; structural schemas cannot refer.
        let description = map.get("description").cloned();
        map.clear();
        map.insert("x-kubernetes-preserve-unknown-fields".into(), Value::Bool(true));
        if let Some(d) = description {
            map.insert("description".into(), d);
        }
        return;
    }
    if let Some(c) = map.remove("const") {
        map.insert("enum".into(), Value::Array(vec![c]));
    }
    if let Some(Value::Array(types)) = map.get("type").cloned() {
        let non_null: Vec<_> = types.into_iter().filter(|t| t != "null").collect();
        if non_null.len() == 1 {
            map.insert("type".into(), non_null[0].clone());
            map.insert("nullable".into(), Value::Bool(true));
        } else {
            map.remove("type");
        }
    }
    if let Some(Value::String(f)) = map.get("format")
        && !KNOWN_FORMATS.contains(&f.as_str())
    {
        map.remove("format");
    }
    merge_single_all_of(map);
    strip_null_branch(map, "anyOf");
    strip_null_branch(map, "oneOf");
    for key in ["oneOf", "anyOf"] {
        flatten_enum_branches(map, key);
    }
    match map.get("additionalProperties") {
        Some(Value::Bool(true)) => {
            map.remove("additionalProperties");
            map.insert("x-kubernetes-preserve-unknown-fields".into(), Value::Bool(true));
        }
        Some(Value::Bool(false)) => {
            map.remove("additionalProperties");
        }
        _ => {}
    }
    // Recurse.
    if let Some(Value::Object(props)) = map.get_mut("properties") {
        for v in props.values_mut() {
            make_structural(v);
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(v) = map.get_mut(key)
            && v.is_object()
        {
            make_structural(v);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = map.get_mut(key) {
            for b in branches.iter_mut() {
                make_structural(b);
            }
        }
    }
    let int_or_string = map.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    if !int_or_string {
        for key in ["oneOf", "anyOf"] {
            hoist_branch_properties(map, key);
        }
    }
    // A node that says nothing about its shape holds arbitrary JSON.
    let shapeless = !map.contains_key("type")
        && !int_or_string
        && !map.contains_key("properties")
        && !["oneOf", "anyOf", "allOf", "enum"].iter().any(|k| map.contains_key(*k));
    if shapeless {
        map.insert("x-kubernetes-preserve-unknown-fields".into(), Value::Bool(true));
        if map.contains_key("additionalProperties") {
            map.insert("type".into(), Value::String("object".into()));
        }
    }
}

/// `allOf: [X]` (how schemars attaches a description to a reference) becomes X.
fn merge_single_all_of(map: &mut Map<String, Value>) {
    let single = matches!(map.get("allOf"), Some(Value::Array(a)) if a.len() == 1);
    if !single {
        return;
    }
    if let Some(Value::Array(mut a)) = map.remove("allOf")
        && let Some(Value::Object(inner)) = a.pop()
    {
        for (k, v) in inner {
            map.entry(k).or_insert(v);
        }
    }
}

/// `anyOf: [X, {type: null}]` becomes X with `nullable: true`.
fn strip_null_branch(map: &mut Map<String, Value>, key: &str) {
    let Some(Value::Array(branches)) = map.get(key) else { return };
    // schemars writes the null half of `Option<T>` as `{type: null}`,
    // `{nullable: true}` or `{enum: [null], nullable: true}`.
    let is_null = |b: &Value| {
        b.get("type") == Some(&Value::String("null".into()))
            || b.get("enum") == Some(&json!([null]))
            || b.as_object().is_some_and(|o| o.len() == 1 && o.contains_key("nullable"))
    };
    if branches.len() != 2 || !branches.iter().any(is_null) {
        return;
    }
    if let Some(Value::Array(branches)) = map.remove(key) {
        for b in branches.into_iter().filter(|b| !is_null(b)) {
            if let Value::Object(inner) = b {
                for (k, v) in inner {
                    map.entry(k).or_insert(v);
                }
            }
        }
        map.insert("nullable".into(), Value::Bool(true));
    }
}

/// `oneOf` of single-value enums of one type (documented unit enum variants)
/// becomes one `enum` with that type.
fn flatten_enum_branches(map: &mut Map<String, Value>, key: &str) {
    let Some(Value::Array(branches)) = map.get(key) else { return };
    let mut values = Vec::new();
    let mut ty = None;
    for b in branches {
        let Some(o) = b.as_object() else { return };
        let Some(Value::Array(e)) = o.get("enum").or(o.get("const").map(|_| &Value::Null)) else { return };
        match (&ty, o.get("type")) {
            (None, Some(t)) => ty = Some(t.clone()),
            (Some(t0), Some(t)) if t0 == t => {}
            _ => return,
        }
        values.extend(e.iter().cloned());
    }
    map.remove(key);
    if let Some(t) = ty {
        map.insert("type".into(), t);
    }
    map.insert("enum".into(), Value::Array(values));
}

/// Moves the properties of object branches of `oneOf`/`anyOf` into the parent,
/// leaving only `required` in the branches (structural schemas may not
/// declare properties inside them). Branches of other types make the node
/// free-form.
fn hoist_branch_properties(map: &mut Map<String, Value>, key: &str) {
    let Some(Value::Array(branches)) = map.get(key) else { return };
    // An object branch says `type: object`, or has properties but no type,
    // or only restricts (`required`, perhaps with a description).
    let is_object_branch = |b: &Value| match b.get("type") {
        Some(t) => t == "object",
        None => {
            b.get("properties").is_some()
                || b.as_object().is_some_and(|o| {
                    o.contains_key("required") && o.keys().all(|k| k == "required" || k == "description")
                })
        }
    };
    let all_objects = branches.iter().all(is_object_branch);
    let Some(Value::Array(branches)) = map.remove(key) else { return };
    if !all_objects {
        // Mixed shapes (e.g. an enum with unit and struct variants): accept any JSON.
        map.remove("type");
        map.insert("x-kubernetes-preserve-unknown-fields".into(), Value::Bool(true));
        return;
    }
    let mut props = match map.remove("properties") {
        Some(Value::Object(p)) => p,
        _ => Map::new(),
    };
    let mut restricted = Vec::new();
    for b in branches {
        let Value::Object(mut o) = b else { continue };
        if let Some(Value::Object(p)) = o.remove("properties") {
            for (k, v) in p {
                props.entry(k).or_insert(v);
            }
        }
        match o.remove("required") {
            Some(r) => restricted.push(json!({ "required": r })),
            None => restricted.push(json!({})),
        }
    }
    map.insert("type".into(), Value::String("object".into()));
    map.insert("properties".into(), Value::Object(props));
    if restricted.iter().all(|r| r.get("required").is_some()) {
        map.insert(key.to_owned(), Value::Array(restricted));
    }
}
