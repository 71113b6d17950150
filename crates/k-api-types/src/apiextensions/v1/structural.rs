//! Checks that a CRD schema is *structural* and uses only what Kubernetes
//! accepts: [`structural_errors`].
//!
//! This follows kube-apiserver's rules: the OpenAPI checks every node gets
//! (no `$ref`, `id`, `definitions`, `patternProperties`, `dependencies`,
//! `additionalItems`, tuple `items`, `uniqueItems`; `additionalProperties` and
//! `properties` exclusive; valid `x-kubernetes-*` extensions), the structural
//! invariants (every specified node typed, `items` for arrays, logical
//! junctors only restricting values, metadata restricted to `name` and
//! `generateName`, …) and the validity of `default` values.

use std::collections::BTreeSet;

use serde_json::Value;

use super::schema::{JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool};
use crate::validation::{ErrorList, FieldError, Path};

/// The `type` values OpenAPI v3 allows.
const OPENAPI_TYPES: &[&str] = &["array", "boolean", "integer", "number", "object", "string"];
/// The `reason` values of `x-kubernetes-validations` rules.
const VALIDATION_REASONS: &[&str] =
    &["FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"];

/// Validates a CRD version's `openAPIV3Schema` rooted at `path` (such as
/// `spec.versions[0].schema.openAPIV3Schema`), returning every reason
/// kube-apiserver would reject it for.
///
/// An empty list means the schema is structural, uses only supported
/// keywords and extensions, and has valid defaults. (CEL rules in
/// `x-kubernetes-validations` are checked for presence and shape, not compiled.)
pub fn structural_errors(schema: &JSONSchemaProps, path: &Path) -> ErrorList {
    let mut errors = ErrorList::new();
    if schema.nullable == Some(true) {
        errors.push(FieldError::forbidden(&path.child("nullable"), "nullable cannot be true at the root"));
    }
    // Kubernetes builds the structural form only when no unsupported keyword
    // is used; those are reported by the OpenAPI checks below instead.
    if !has_unsupported(schema) {
        let mut structural = ErrorList::new();
        invariants(schema, Level::Root, path, &mut structural);
        value_completeness(schema, schema, path, path, &mut structural);
        structural.sort_by_cached_key(ToString::to_string);
        if structural.is_empty() {
            defaults(schema, path, &mut errors);
        }
        errors.extend(structural);
    }
    openapi(schema, path, &Ctx::default(), true, &mut errors);
    errors
}

/// Where a node sits, for the "type must not be empty" message.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Root,
    Item,
    Field,
}

fn ty(s: &JSONSchemaProps) -> &str {
    s.type_.as_deref().unwrap_or("")
}

fn is_true(b: Option<bool>) -> bool {
    b == Some(true)
}

/// Whether a node (or one below it) uses a keyword the structural form cannot represent.
fn has_unsupported(s: &JSONSchemaProps) -> bool {
    s.id.as_deref().is_some_and(|id| !id.is_empty())
        || s.additional_items.is_some()
        || !s.pattern_properties.is_empty()
        || !s.definitions.is_empty()
        || !s.dependencies.is_empty()
        || s.ref_.is_some()
        || matches!(s.items, Some(JSONSchemaPropsOrArray::Schemas(_)))
        || children(s).any(has_unsupported)
}

/// Every direct sub-schema of the structural part and the junctors.
fn children(s: &JSONSchemaProps) -> impl Iterator<Item = &JSONSchemaProps> {
    s.items_schema()
        .into_iter()
        .chain(s.properties.values())
        .chain(s.additional_properties_schema())
        .chain(&s.all_of)
        .chain(&s.any_of)
        .chain(&s.one_of)
        .chain(s.not.as_deref())
}

/// `anyOf: [{type: integer}, {type: string}]`, the IntOrString pattern.
fn is_int_or_string_any_of(any_of: &[JSONSchemaProps]) -> bool {
    any_of.len() == 2 && any_of[0] == JSONSchemaProps::typed("integer") && any_of[1] == JSONSchemaProps::typed("string")
}

/// The invariants of the structural part of a schema.
fn invariants(s: &JSONSchemaProps, lvl: Level, path: &Path, errs: &mut ErrorList) {
    let t = ty(s);
    if t == "array" && s.items.is_none() {
        errs.push(FieldError::required(&path.child("items"), "must be specified"));
    }
    if let Some(items) = s.items_schema() {
        invariants(items, Level::Item, &path.child("items"), errs);
    }
    for (k, v) in &s.properties {
        invariants(v, Level::Field, &path.child("properties").key(k), errs);
    }
    if let Some(ap) = &s.additional_properties {
        if lvl == Level::Root {
            errs.push(FieldError::forbidden(&path.child("additionalProperties"), "must not be used at the root"));
        }
        if let JSONSchemaPropsOrBool::Schema(ap) = ap {
            invariants(ap, Level::Field, &path.child("additionalProperties"), errs);
        }
    }
    let int_or_string = is_true(s.x_kubernetes_int_or_string);
    let preserve = is_true(s.x_kubernetes_preserve_unknown_fields);
    let embedded = is_true(s.x_kubernetes_embedded_resource);
    if int_or_string && preserve {
        errs.push(FieldError::invalid(
            &path.child("x-kubernetes-preserve-unknown-fields"),
            true,
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    if int_or_string && embedded {
        errs.push(FieldError::invalid(
            &path.child("x-kubernetes-embedded-resource"),
            true,
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    let skip_any_of = is_int_or_string_any_of(&s.any_of);
    let skip_first_all_of_any_of = s.all_of.first().is_some_and(|a| is_int_or_string_any_of(&a.any_of));
    value_validation(s, skip_any_of, skip_first_all_of_any_of, lvl, path, errs);

    let check_metadata = lvl == Level::Root || embedded;
    if embedded && t != "object" {
        let detail = "must be object if x-kubernetes-embedded-resource is true";
        if t.is_empty() {
            errs.push(FieldError::required(&path.child("type"), detail));
        } else {
            errs.push(FieldError::invalid(&path.child("type"), t, detail));
        }
    } else if t.is_empty() && !int_or_string && !preserve {
        let detail = match lvl {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        errs.push(FieldError::required(&path.child("type"), detail));
    }
    if embedded && s.additional_properties.is_some() {
        errs.push(FieldError::forbidden(
            &path.child("additionalProperties"),
            "must not be used if x-kubernetes-embedded-resource is set",
        ));
    }
    if lvl == Level::Root && !t.is_empty() && t != "object" {
        errs.push(FieldError::invalid(&path.child("type"), t, "must be object at the root"));
    }
    if check_metadata {
        for key in ["kind", "apiVersion"] {
            if let Some(p) = s.properties.get(key)
                && ty(p) != "string"
            {
                errs.push(FieldError::invalid(
                    &path.child("properties").key(key).child("type"),
                    ty(p),
                    "must be string",
                ));
            }
        }
    }
    if let Some(meta) = s.properties.get("metadata") {
        let meta_path = path.child("properties").key("metadata");
        if check_metadata && ty(meta) != "object" {
            errs.push(FieldError::invalid(&meta_path.child("type"), ty(meta), "must be object"));
        }
        if lvl == Level::Root && !only_name_and_generate_name(meta) {
            errs.push(FieldError::forbidden(
                &meta_path,
                "must not specify anything other than name and generateName, but metadata is implicitly specified",
            ));
        }
    }
    if embedded && !preserve && s.properties.is_empty() {
        errs.push(FieldError::required(
            &path.child("properties"),
            "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
        ));
    }
}

/// Whether a root `metadata` schema restricts nothing but `name` and
/// `generateName` (its `type` and `default` aside).
fn only_name_and_generate_name(meta: &JSONSchemaProps) -> bool {
    let mut m = meta.clone();
    m.type_ = None;
    m.default = None;
    // Not part of the structural form.
    m.example = None;
    m.external_docs = None;
    m.schema = None;
    if !m.properties.is_empty() && m.properties.keys().all(|k| k == "name" || k == "generateName") {
        m.properties.clear();
    }
    m == JSONSchemaProps::default()
}

/// The value validations (`allOf`, `anyOf`, `oneOf`, `not`) of a node.
fn value_validation(
    v: &JSONSchemaProps,
    skip_any_of: bool,
    skip_first_all_of_any_of: bool,
    lvl: Level,
    path: &Path,
    errs: &mut ErrorList,
) {
    if !skip_any_of {
        for (i, b) in v.any_of.iter().enumerate() {
            nested(b, false, false, lvl, &path.child("anyOf").index(i), errs);
        }
    }
    for (i, b) in v.all_of.iter().enumerate() {
        nested(b, skip_first_all_of_any_of && i == 0, false, lvl, &path.child("allOf").index(i), errs);
    }
    for (i, b) in v.one_of.iter().enumerate() {
        nested(b, false, false, lvl, &path.child("oneOf").index(i), errs);
    }
    if let Some(n) = &v.not {
        nested(n, false, false, lvl, &path.child("not"), errs);
    }
}

/// A schema inside a logical junctor: it may only restrict values.
fn nested(
    v: &JSONSchemaProps,
    skip_any_of: bool,
    skip_all_of_any_of: bool,
    lvl: Level,
    path: &Path,
    errs: &mut ErrorList,
) {
    value_validation(v, skip_any_of, skip_all_of_any_of, lvl, path, errs);
    if let Some(items) = v.items_schema() {
        nested(items, false, false, lvl, &path.child("items"), errs);
    }
    for (k, p) in &v.properties {
        nested(p, false, false, Level::Field, &path.child("properties").key(k), errs);
    }
    let forbid =
        |errs: &mut ErrorList, field: &str, detail: &str| errs.push(FieldError::forbidden(&path.child(field), detail));
    if !ty(v).is_empty() {
        forbid(errs, "type", "must be empty to be structural");
    }
    if v.additional_properties.is_some() {
        forbid(errs, "additionalProperties", "must be undefined to be structural");
    }
    if v.default.is_some() {
        forbid(errs, "default", "must be undefined to be structural");
    }
    if v.title.as_deref().is_some_and(|t| !t.is_empty()) {
        forbid(errs, "title", "must be empty to be structural");
    }
    if v.description.as_deref().is_some_and(|d| !d.is_empty()) {
        forbid(errs, "description", "must be empty to be structural");
    }
    if is_true(v.nullable) {
        forbid(errs, "nullable", "must be false to be structural");
    }
    if is_true(v.x_kubernetes_preserve_unknown_fields) {
        forbid(errs, "x-kubernetes-preserve-unknown-fields", "must be false to be structural");
    }
    if is_true(v.x_kubernetes_embedded_resource) {
        forbid(errs, "x-kubernetes-embedded-resource", "must be false to be structural");
    }
    if is_true(v.x_kubernetes_int_or_string) {
        forbid(errs, "x-kubernetes-int-or-string", "must be false to be structural");
    }
    if !v.x_kubernetes_list_map_keys.is_empty() {
        forbid(errs, "x-kubernetes-list-map-keys", "must be empty to be structural");
    }
    if v.x_kubernetes_list_type.is_some() {
        forbid(errs, "x-kubernetes-list-type", "must be undefined to be structural");
    }
    if v.x_kubernetes_map_type.is_some() {
        forbid(errs, "x-kubernetes-map-type", "must be undefined to be structural");
    }
    if !v.x_kubernetes_validations.is_empty() {
        forbid(errs, "x-kubernetes-validations", "must be empty to be structural");
    }
    if v.properties.contains_key("metadata") {
        errs.push(FieldError::forbidden(
            &path.child("properties").key("metadata"),
            "must not be specified in a nested context",
        ));
    }
}

/// Every property or items a junctor (of the root) talks about must also be
/// specified in the structural part.
fn value_completeness(v: &JSONSchemaProps, s: &JSONSchemaProps, s_path: &Path, v_path: &Path, errs: &mut ErrorList) {
    if let Some(n) = &v.not {
        nested_completeness(n, Some(s), s_path, &v_path.child("not"), errs);
    }
    for (key, list) in [("allOf", &v.all_of), ("anyOf", &v.any_of), ("oneOf", &v.one_of)] {
        for (i, b) in list.iter().enumerate() {
            nested_completeness(b, Some(s), s_path, &v_path.child(key).index(i), errs);
        }
    }
}

fn nested_completeness(
    v: &JSONSchemaProps,
    s: Option<&JSONSchemaProps>,
    s_path: &Path,
    v_path: &Path,
    errs: &mut ErrorList,
) {
    let Some(s) = s else {
        errs.push(FieldError::required(s_path, format!("because it is defined in {v_path}")));
        return;
    };
    value_completeness(v, s, s_path, v_path, errs);
    if let Some(items) = v.items_schema() {
        nested_completeness(items, s.items_schema(), &s_path.child("items"), &v_path.child("items"), errs);
    }
    for (k, vf) in &v.properties {
        let sp = s_path.child("properties").key(k);
        let vp = v_path.child("properties").key(k);
        match s.properties.get(k) {
            Some(sf) => nested_completeness(vf, Some(sf), &sp, &vp, errs),
            None => errs.push(FieldError::required(&sp, format!("because it is defined in {vp}"))),
        }
    }
}

/// Where defaults are allowed during the OpenAPI checks.
#[derive(Clone, Default)]
struct Ctx {
    /// Why defaults are forbidden here, if they are.
    no_defaults: Option<String>,
    /// Inside the `metadata`, `kind` or `apiVersion` of a resource.
    inside_meta: bool,
}

/// The checks kube-apiserver applies to every node of a CRD schema.
fn openapi(s: &JSONSchemaProps, path: &Path, ctx: &Ctx, is_root: bool, errs: &mut ErrorList) {
    let t = ty(s);
    if !t.is_empty() && !OPENAPI_TYPES.contains(&t) {
        errs.push(FieldError::not_supported(&path.child("type"), t, OPENAPI_TYPES));
    }
    if s.default.is_some()
        && let Some(reason) = &ctx.no_defaults
    {
        errs.push(FieldError::forbidden(&path.child("default"), format!("must not be set {reason}")));
    }
    if s.id.as_deref().is_some_and(|id| !id.is_empty()) {
        errs.push(FieldError::forbidden(&path.child("id"), "id is not supported"));
    }
    if s.additional_items.is_some() {
        errs.push(FieldError::forbidden(&path.child("additionalItems"), "additionalItems is not supported"));
    }
    if !s.pattern_properties.is_empty() {
        errs.push(FieldError::forbidden(&path.child("patternProperties"), "patternProperties is not supported"));
    }
    if !s.definitions.is_empty() {
        errs.push(FieldError::forbidden(&path.child("definitions"), "definitions is not supported"));
    }
    if !s.dependencies.is_empty() {
        errs.push(FieldError::forbidden(&path.child("dependencies"), "dependencies is not supported"));
    }
    if s.ref_.is_some() {
        errs.push(FieldError::forbidden(&path.child("$ref"), "$ref is not supported"));
    }
    if t == "null" {
        errs.push(FieldError::forbidden(
            &path.child("type"),
            "type cannot be set to null, use nullable as an alternative",
        ));
    }
    if matches!(&s.items, Some(JSONSchemaPropsOrArray::Schemas(list)) if !list.is_empty()) {
        errs.push(FieldError::forbidden(&path.child("items"), "items must be a schema object and not an array"));
    }
    if ctx.inside_meta && is_true(s.x_kubernetes_embedded_resource) {
        errs.push(FieldError::forbidden(
            &path.child("x-kubernetes-embedded-resource"),
            "must not be used inside of resource meta",
        ));
    }
    if is_true(s.unique_items) {
        errs.push(FieldError::forbidden(
            &path.child("uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ));
    }
    if let Some(ap) = &s.additional_properties {
        let restricts = !matches!(ap, JSONSchemaPropsOrBool::Bool(true));
        if !s.properties.is_empty() && restricts {
            errs.push(FieldError::forbidden(
                &path.child("additionalProperties"),
                "additionalProperties and properties are mutual exclusive",
            ));
        }
        if let JSONSchemaPropsOrBool::Schema(ap) = ap {
            let mut sub = ctx.clone();
            if ctx.inside_meta {
                sub.no_defaults = Some("inside additionalProperties applying to object metadata".to_owned());
            }
            openapi(ap, &path.child("additionalProperties"), &sub, false, errs);
        }
    }
    let embedded = is_true(s.x_kubernetes_embedded_resource);
    for (k, p) in &s.properties {
        let mut sub = ctx.clone();
        if (is_root || embedded) && matches!(k.as_str(), "metadata" | "kind" | "apiVersion") {
            sub.inside_meta = true;
            if is_root {
                sub.no_defaults = Some(format!("in top-level {k}"));
            }
        }
        openapi(p, &path.child("properties").key(k), &sub, false, errs);
    }
    if let Some(n) = &s.not {
        openapi(n, &path.child("not"), ctx, false, errs);
    }
    for (key, list) in [("allOf", &s.all_of), ("oneOf", &s.one_of), ("anyOf", &s.any_of)] {
        for (i, b) in list.iter().enumerate() {
            openapi(b, &path.child(key).index(i), ctx, false, errs);
        }
    }
    for (k, d) in &s.definitions {
        openapi(d, &path.child("definitions").key(k), ctx, false, errs);
    }
    match &s.items {
        Some(JSONSchemaPropsOrArray::Schema(items)) => openapi(items, &path.child("items"), ctx, false, errs),
        Some(JSONSchemaPropsOrArray::Schemas(list)) => {
            for (i, items) in list.iter().enumerate() {
                openapi(items, &path.child("items").index(i), ctx, false, errs);
            }
        }
        None => {}
    }
    for (k, d) in &s.dependencies {
        if let super::schema::JSONSchemaPropsOrStringArray::Schema(d) = d {
            openapi(d, &path.child("dependencies").key(k), ctx, false, errs);
        }
    }
    extensions(s, path, errs);
    validation_rules(s, path, errs);
}

/// `x-kubernetes-preserve-unknown-fields`, `-map-type`, `-list-type` and `-list-map-keys`.
fn extensions(s: &JSONSchemaProps, path: &Path, errs: &mut ErrorList) {
    let t = ty(s);
    if s.x_kubernetes_preserve_unknown_fields == Some(false) {
        errs.push(FieldError::invalid(
            &path.child("x-kubernetes-preserve-unknown-fields"),
            false,
            "must be true or undefined",
        ));
    }
    let type_must_be = |errs: &mut ErrorList, want: &str, detail: &str| {
        if t.is_empty() {
            errs.push(FieldError::required(&path.child("type"), detail));
        } else if t != want {
            errs.push(FieldError::invalid(&path.child("type"), t, detail));
        }
    };
    if let Some(mt) = &s.x_kubernetes_map_type {
        type_must_be(errs, "object", "must be object if x-kubernetes-map-type is specified");
        if mt != "atomic" && mt != "granular" {
            errs.push(FieldError::not_supported(&path.child("x-kubernetes-map-type"), mt, &["atomic", "granular"]));
        }
    }
    let list_type = s.x_kubernetes_list_type.as_deref();
    if let Some(lt) = list_type {
        if t != "array" {
            type_must_be(errs, "array", "must be array if x-kubernetes-list-type is specified");
        } else if lt == "set"
            && let Some(items) = s.items_schema()
        {
            let items_path = path.child("items");
            match ty(items) {
                "array" if items.x_kubernetes_list_type.as_deref().is_some_and(|l| l != "atomic") => {
                    errs.push(FieldError::invalid(
                        &items_path.child("x-kubernetes-list-type"),
                        &items.x_kubernetes_list_type,
                        "must be atomic as item of a list with x-kubernetes-list-type=set",
                    ))
                }
                "object" if items.x_kubernetes_map_type.as_deref() != Some("atomic") => errs.push(FieldError::invalid(
                    &items_path.child("x-kubernetes-map-type"),
                    &items.x_kubernetes_map_type,
                    "must be atomic as item of a list with x-kubernetes-list-type=set",
                )),
                _ => {}
            }
        }
        if !matches!(lt, "atomic" | "set" | "map") {
            errs.push(FieldError::not_supported(&path.child("x-kubernetes-list-type"), lt, &["atomic", "set", "map"]));
        }
    }
    let keys = &s.x_kubernetes_list_map_keys;
    if !keys.is_empty() {
        let detail = "must be map if x-kubernetes-list-map-keys is non-empty";
        match list_type {
            None => errs.push(FieldError::required(&path.child("x-kubernetes-list-type"), detail)),
            Some(lt) if lt != "map" => {
                errs.push(FieldError::invalid(&path.child("x-kubernetes-list-type"), lt, detail))
            }
            Some(_) => {}
        }
    }
    if list_type == Some("map") {
        if keys.is_empty() {
            errs.push(FieldError::required(
                &path.child("x-kubernetes-list-map-keys"),
                "must not be empty if x-kubernetes-list-type is map",
            ));
        }
        match &s.items {
            None => errs.push(FieldError::required(
                &path.child("items"),
                "must have a schema if x-kubernetes-list-type is map",
            )),
            Some(JSONSchemaPropsOrArray::Schemas(list)) => {
                errs.push(FieldError::invalid(
                    &path.child("items"),
                    list,
                    "must only have a single schema if x-kubernetes-list-type is map",
                ));
            }
            Some(JSONSchemaPropsOrArray::Schema(items)) if ty(items) != "object" => errs.push(FieldError::invalid(
                &path.child("items").child("type"),
                ty(items),
                "must be object if parent array's x-kubernetes-list-type is map",
            )),
            Some(JSONSchemaPropsOrArray::Schema(items)) => {
                let mut seen = BTreeSet::new();
                for k in keys {
                    match items.properties.get(k) {
                        Some(p) if matches!(ty(p), "array" | "object") => errs.push(FieldError::invalid(
                            &path.child("items").child("properties").key(k).child("type"),
                            ty(items),
                            "must be a scalar type if parent array's x-kubernetes-list-type is map",
                        )),
                        Some(_) => {}
                        None => errs.push(FieldError::invalid(
                            &path.child("x-kubernetes-list-map-keys"),
                            keys,
                            "entries must all be names of item properties",
                        )),
                    }
                    if !seen.insert(k) {
                        errs.push(FieldError::invalid(
                            &path.child("x-kubernetes-list-map-keys"),
                            keys,
                            "must not contain duplicate entries",
                        ));
                    }
                }
            }
        }
    }
    // Items of set and map lists, and the keys of map lists.
    if let (Some(lt @ ("set" | "map")), Some(items)) = (list_type, s.items_schema()) {
        let items_path = path.child("items");
        if is_true(items.nullable) {
            errs.push(FieldError::forbidden(
                &items_path.child("nullable"),
                format!("cannot be nullable when x-kubernetes-list-type is {lt}"),
            ));
        }
        if lt == "map" {
            for k in keys {
                let Some(p) = items.properties.get(k) else { continue };
                let p_path = items_path.child("properties").key(k);
                if !items.required.contains(k) && p.default.is_none() {
                    errs.push(FieldError::required(
                        &p_path.child("default"),
                        "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
                    ));
                }
                if is_true(p.nullable) {
                    errs.push(FieldError::forbidden(
                        &p_path.child("nullable"),
                        "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
                    ));
                }
            }
        }
    }
}

/// The shape of `x-kubernetes-validations` rules (the CEL itself is not compiled).
fn validation_rules(s: &JSONSchemaProps, path: &Path, errs: &mut ErrorList) {
    let has_newlines = |t: &str| t.contains(['\n', '\r']);
    for (i, rule) in s.x_kubernetes_validations.iter().enumerate() {
        let p = path.child("x-kubernetes-validations").index(i);
        let trimmed_rule = rule.rule.trim();
        let message = rule.message.as_deref().unwrap_or("");
        let trimmed_msg = message.trim();
        if trimmed_rule.is_empty() {
            errs.push(FieldError::required(&p.child("rule"), "rule is not specified"));
        } else if !message.is_empty() && trimmed_msg.is_empty() {
            errs.push(FieldError::invalid(&p.child("message"), message, "message must be non-empty if specified"));
        } else if has_newlines(trimmed_msg) {
            errs.push(FieldError::invalid(&p.child("message"), message, "message must not contain line breaks"));
        } else if has_newlines(trimmed_rule) && trimmed_msg.is_empty() {
            errs.push(FieldError::required(
                &p.child("message"),
                "message must be specified if rule contains line breaks",
            ));
        }
        if let Some(expr) = rule.message_expression.as_deref()
            && !expr.is_empty()
            && expr.trim().is_empty()
        {
            errs.push(FieldError::required(
                &p.child("messageExpression"),
                "messageExpression must be non-empty if specified",
            ));
        }
        if let Some(reason) = rule.reason.as_deref()
            && !VALIDATION_REASONS.contains(&reason)
        {
            errs.push(FieldError::not_supported(&p.child("reason"), reason, VALIDATION_REASONS));
        }
        if let Some(fp) = rule.field_path.as_deref() {
            if !fp.is_empty() && fp.trim().is_empty() {
                errs.push(FieldError::invalid(&p.child("fieldPath"), fp, "fieldPath must be non-empty if specified"));
            }
            if has_newlines(fp) {
                errs.push(FieldError::invalid(&p.child("fieldPath"), fp, "fieldPath must not contain line breaks"));
            }
            if !fp.is_empty() && !field_path_valid(s, fp) {
                errs.push(FieldError::invalid(&p.child("fieldPath"), fp, "fieldPath must be a valid path"));
            }
        }
    }
}

/// Whether `.a.b['c']` names a field the schema specifies.
fn field_path_valid(s: &JSONSchemaProps, path: &str) -> bool {
    let mut rest = path.trim();
    let mut node = s;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let (name, tail) = if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            (&r[..end], &r[end..])
        } else if let Some(r) = rest.strip_prefix("['") {
            let Some(end) = r.find("']") else { return false };
            (&r[..end], &r[end + 2..])
        } else {
            return false;
        };
        if name.is_empty() {
            return false;
        }
        node = match node.properties.get(name).or(node.additional_properties_schema()) {
            Some(n) => n,
            None => return false,
        };
        rest = tail;
    }
    true
}

/// Checks every `default` of the structural part against its schema.
fn defaults(s: &JSONSchemaProps, path: &Path, errs: &mut ErrorList) {
    if let Some(d) = &s.default {
        let dp = path.child("default");
        if !is_pruned(d, s) {
            errs.push(FieldError::invalid(&dp, d, "must not have unknown fields"));
        }
        check_value(d, s, &dp, errs);
    }
    if let Some(items) = s.items_schema() {
        defaults(items, &path.child("items"), errs);
    }
    for (k, p) in &s.properties {
        defaults(p, &path.child("properties").key(k), errs);
    }
    if let Some(ap) = s.additional_properties_schema() {
        defaults(ap, &path.child("additionalProperties"), errs);
    }
}

/// Whether pruning would leave `v` unchanged.
fn is_pruned(v: &Value, s: &JSONSchemaProps) -> bool {
    if is_true(s.x_kubernetes_preserve_unknown_fields) {
        return true;
    }
    match v {
        Value::Object(map) => map.iter().all(|(k, val)| {
            if is_true(s.x_kubernetes_embedded_resource) && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                return true;
            }
            match s.properties.get(k).or(s.additional_properties_schema()) {
                Some(p) => is_pruned(val, p),
                None => matches!(s.additional_properties, Some(JSONSchemaPropsOrBool::Bool(true))),
            }
        }),
        Value::Array(items) => s.items_schema().is_none_or(|is| items.iter().all(|i| is_pruned(i, is))),
        _ => true,
    }
}

/// Validates a value against a schema (types, enums, bounds, required fields).
fn check_value(v: &Value, s: &JSONSchemaProps, path: &Path, errs: &mut ErrorList) {
    let t = ty(s);
    if v.is_null() {
        if !is_true(s.nullable) && !t.is_empty() {
            errs.push(FieldError::invalid(path, v, format!("must be of type {t}")));
        }
        return;
    }
    if is_true(s.x_kubernetes_int_or_string) {
        if !(v.is_string() || v.is_i64() || v.is_u64()) {
            errs.push(FieldError::invalid(path, v, "must be an integer or a string"));
        }
    } else {
        let ok = match t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "boolean" => v.is_boolean(),
            "number" => v.is_number(),
            "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
            _ => true,
        };
        if !ok {
            errs.push(FieldError::invalid(path, v, format!("must be of type {t}")));
            return;
        }
    }
    if !s.enum_.is_empty() && !s.enum_.contains(v) {
        let allowed: Vec<String> =
            s.enum_.iter().map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned)).collect();
        let refs: Vec<&str> = allowed.iter().map(String::as_str).collect();
        errs.push(FieldError::not_supported(path, v, &refs));
    }
    match v {
        Value::String(st) => {
            let n = i64::try_from(st.chars().count()).unwrap_or(i64::MAX);
            if let Some(min) = s.min_length
                && n < min
            {
                errs.push(FieldError::invalid(path, v, format!("should be at least {min} chars long")));
            }
            if let Some(max) = s.max_length
                && n > max
            {
                errs.push(FieldError::invalid(path, v, format!("should be at most {max} chars long")));
            }
        }
        Value::Number(num) => {
            let f = num.as_f64().unwrap_or_default();
            if let Some(min) = s.minimum {
                let exclusive = is_true(s.exclusive_minimum);
                if f < min || (exclusive && f == min) {
                    let op = if exclusive { "greater than" } else { "greater than or equal to" };
                    errs.push(FieldError::invalid(path, v, format!("should be {op} {min}")));
                }
            }
            if let Some(max) = s.maximum {
                let exclusive = is_true(s.exclusive_maximum);
                if f > max || (exclusive && f == max) {
                    let op = if exclusive { "less than" } else { "less than or equal to" };
                    errs.push(FieldError::invalid(path, v, format!("should be {op} {max}")));
                }
            }
        }
        Value::Array(items) => {
            let n = i64::try_from(items.len()).unwrap_or(i64::MAX);
            if let Some(min) = s.min_items
                && n < min
            {
                errs.push(FieldError::invalid(path, n, format!("should have at least {min} items")));
            }
            if let Some(max) = s.max_items
                && n > max
            {
                errs.push(FieldError::too_many(path, items.len(), usize::try_from(max).unwrap_or(0)));
            }
            if let Some(is) = s.items_schema() {
                for (i, item) in items.iter().enumerate() {
                    check_value(item, is, &path.index(i), errs);
                }
            }
        }
        Value::Object(map) => {
            for r in &s.required {
                if !map.contains_key(r) {
                    errs.push(FieldError::required(&path.child(r), ""));
                }
            }
            for (k, val) in map {
                if let Some(p) = s.properties.get(k).or(s.additional_properties_schema()) {
                    check_value(val, p, &path.child(k), errs);
                }
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(schema: Value) -> Vec<(String, &'static str)> {
        let s: JSONSchemaProps = serde_json::from_value(schema).unwrap();
        structural_errors(&s, &Path::new("schema")).iter().map(|e| (e.field.clone(), e.type_.cause())).collect()
    }

    fn expect(pairs: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
        pairs.iter().map(|(f, c)| ((*f).to_owned(), *c)).collect()
    }

    #[test]
    fn accepts_structural_schemas() {
        let good = json!({
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 63}}},
                "spec": {
                    "type": "object",
                    "required": ["engine"],
                    "properties": {
                        "engine": {"type": "string", "enum": ["postgres", "mysql"], "default": "postgres"},
                        "replicas": {"type": "integer", "format": "int32", "minimum": 0, "default": 1},
                        "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                        "budget": {"x-kubernetes-int-or-string": true, "allOf": [{"anyOf": [{"type": "integer"}, {"type": "string"}]}, {"pattern": "^[0-9]+%?$"}]},
                        "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "raw": {"x-kubernetes-preserve-unknown-fields": true},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}, "x-kubernetes-map-type": "atomic"},
                        "ports": {
                            "type": "array",
                            "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["name"],
                            "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}
                        },
                        "template": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}
                    },
                    "oneOf": [{"required": ["engine"]}, {"properties": {"replicas": {"minimum": 1}}}],
                    "x-kubernetes-validations": [{"rule": "self.replicas >= 0", "message": "no negative replicas", "fieldPath": ".replicas", "reason": "FieldValueInvalid"}]
                },
                "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}
            }
        });
        assert_eq!(errors(good), expect(&[]));
    }

    #[test]
    fn rejects_non_structural_schemas() {
        let cases: Vec<(Value, Vec<(String, &'static str)>)> = vec![
            // Missing types at every level.
            (
                json!({"properties": {"spec": {"properties": {"a": {}}}, "list": {"type": "array", "items": {}}}}),
                expect(&[
                    ("schema.properties[list].items.type", "FieldValueRequired"),
                    ("schema.properties[spec].properties[a].type", "FieldValueRequired"),
                    ("schema.properties[spec].type", "FieldValueRequired"),
                    ("schema.type", "FieldValueRequired"),
                ]),
            ),
            // $ref is unsupported: reported alone, without the structural checks.
            (
                json!({"type": "object", "properties": {"spec": {"$ref": "#/definitions/Spec"}}}),
                expect(&[("schema.properties[spec].$ref", "FieldValueForbidden")]),
            ),
            // additionalProperties next to properties.
            (
                json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false}}}),
                expect(&[("schema.properties[spec].additionalProperties", "FieldValueForbidden")]),
            ),
            // Arrays need items; tuples are not allowed.
            (
                json!({"type": "object", "properties": {"a": {"type": "array"}, "b": {"type": "array", "items": [{"type": "string"}]}}}),
                expect(&[("schema.properties[b].items", "FieldValueForbidden")]),
            ),
            (
                json!({"type": "object", "properties": {"a": {"type": "array"}}}),
                expect(&[("schema.properties[a].items", "FieldValueRequired")]),
            ),
            // Junctors may only restrict values.
            (
                json!({"type": "object", "properties": {"a": {"type": "string", "anyOf": [{"type": "string", "description": "x"}, {"default": "y", "nullable": true}]}}}),
                expect(&[
                    ("schema.properties[a].anyOf[0].description", "FieldValueForbidden"),
                    ("schema.properties[a].anyOf[0].type", "FieldValueForbidden"),
                    ("schema.properties[a].anyOf[1].default", "FieldValueForbidden"),
                    ("schema.properties[a].anyOf[1].nullable", "FieldValueForbidden"),
                ]),
            ),
            // Properties named in a junctor must exist in the structural part.
            (
                json!({"type": "object", "properties": {"a": {"type": "string"}}, "anyOf": [{"properties": {"b": {"minLength": 1}}}]}),
                expect(&[("schema.properties[b]", "FieldValueRequired")]),
            ),
            // Metadata may only restrict name and generateName; root must be an object.
            (
                json!({"type": "array", "items": {"type": "string"}, "properties": {"metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}}}),
                expect(&[("schema.properties[metadata]", "FieldValueForbidden"), ("schema.type", "FieldValueInvalid")]),
            ),
            // additionalProperties at the root; nullable root.
            (
                json!({"type": "object", "nullable": true, "additionalProperties": {"type": "string"}}),
                expect(&[
                    ("schema.nullable", "FieldValueForbidden"),
                    ("schema.additionalProperties", "FieldValueForbidden"),
                ]),
            ),
            // Extensions.
            (
                json!({"type": "object", "properties": {
                    "a": {"type": "string", "x-kubernetes-preserve-unknown-fields": false},
                    "b": {"x-kubernetes-int-or-string": true, "x-kubernetes-preserve-unknown-fields": true},
                    "c": {"type": "object", "x-kubernetes-list-type": "set"},
                    "d": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "map"},
                    "e": {"type": "integer", "uniqueItems": true}
                }}),
                expect(&[
                    ("schema.properties[b].x-kubernetes-preserve-unknown-fields", "FieldValueInvalid"),
                    ("schema.properties[a].x-kubernetes-preserve-unknown-fields", "FieldValueInvalid"),
                    ("schema.properties[c].type", "FieldValueInvalid"),
                    ("schema.properties[d].x-kubernetes-list-map-keys", "FieldValueRequired"),
                    ("schema.properties[d].items.type", "FieldValueInvalid"),
                    ("schema.properties[e].uniqueItems", "FieldValueForbidden"),
                ]),
            ),
            // Bad defaults: wrong type, not in enum, unknown field; none allowed in metadata.
            (
                json!({"type": "object", "properties": {
                    "a": {"type": "integer", "default": "one"},
                    "b": {"type": "string", "enum": ["x"], "default": "y"},
                    "c": {"type": "object", "properties": {"d": {"type": "string"}}, "default": {"e": 1}},
                    "metadata": {"type": "object", "default": {}}
                }}),
                expect(&[
                    ("schema.properties[a].default", "FieldValueInvalid"),
                    ("schema.properties[b].default", "FieldValueNotSupported"),
                    ("schema.properties[c].default", "FieldValueInvalid"),
                    ("schema.properties[metadata].default", "FieldValueForbidden"),
                ]),
            ),
            // Unknown type; CEL rule shapes.
            (
                json!({"type": "object", "properties": {"a": {"type": "text"}}, "x-kubernetes-validations": [{"rule": " "}, {"rule": "self.a", "reason": "Bad", "fieldPath": ".nope"}]}),
                expect(&[
                    ("schema.properties[a].type", "FieldValueNotSupported"),
                    ("schema.x-kubernetes-validations[0].rule", "FieldValueRequired"),
                    ("schema.x-kubernetes-validations[1].reason", "FieldValueNotSupported"),
                    ("schema.x-kubernetes-validations[1].fieldPath", "FieldValueInvalid"),
                ]),
            ),
        ];
        for (i, (schema, want)) in cases.into_iter().enumerate() {
            assert_eq!(errors(schema), want, "case {i}");
        }
    }

    #[test]
    fn messages_match_kubernetes() {
        let s: JSONSchemaProps =
            serde_json::from_value(json!({"type": "object", "properties": {"spec": {"properties": {}}}})).unwrap();
        let msgs: Vec<String> = structural_errors(&s, &Path::new("spec.versions[0].schema.openAPIV3Schema"))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            msgs,
            [
                "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields"
            ]
        );
    }
}
