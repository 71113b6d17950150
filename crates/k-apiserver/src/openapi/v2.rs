//! The Swagger 2.0 document of `/openapi/v2`, converted from the v3 paths and
//! definitions: request bodies become `body` parameters, media types become
//! `consumes`/`produces`, and schemas lose what v2 cannot say (`anyOf`,
//! `oneOf`, `not`, `nullable`), the way kube-apiserver downgrades them.

use serde_json::{Map, Value, json};

use super::proto;
use super::schemas::V3_REF;
use super::v3::KUBERNETES_VERSION;

/// How v2 documents refer to a definition.
pub(crate) const V2_REF: &str = "#/definitions/";

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch"];

/// One entry of the v2 document (a path item or a definition), converted
/// once and kept in both encodings, so that a document is assembled by
/// concatenation.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// The value, as JSON.
    json: Vec<u8>,
    /// The named message (`NamedPathItem` or `NamedSchema`), encoded as an
    /// element of its repeated field.
    proto: Vec<u8>,
}

/// The v2 entry of a v3 path item.
pub(crate) fn path_entry(path: &str, item: &Value) -> Entry {
    let value = path_item(item);
    let message = proto::NamedPathItem { name: path.to_owned(), value: Some(proto::path_item(proto::object(&value))) };
    let mut encoded = Vec::new();
    prost::encoding::message::encode(2, &message, &mut encoded);
    Entry { json: serde_json::to_vec(&value).unwrap_or_default(), proto: encoded }
}

/// The v2 entry of a v3 definition.
pub(crate) fn definition_entry(name: &str, def: &Value) -> Entry {
    let value = schema(def);
    let message = proto::NamedSchema { name: name.to_owned(), value: Some(proto::schema(proto::object(&value))) };
    let mut encoded = Vec::new();
    prost::encoding::message::encode(1, &message, &mut encoded);
    Entry { json: serde_json::to_vec(&value).unwrap_or_default(), proto: encoded }
}

/// The parts of the document around its paths and definitions (every key
/// but `definitions` and `paths`).
fn frame() -> Value {
    json!({
        "info": { "title": "Kubernetes", "version": KUBERNETES_VERSION },
        "security": [{ "BearerToken": [] }],
        "securityDefinitions": {
            "BearerToken": {
                "description": "Bearer Token authentication",
                "in": "header",
                "name": "authorization",
                "type": "apiKey"
            }
        },
        "swagger": "2.0"
    })
}

/// Writes `{"name":value,…}` from sorted entries.
fn json_object<'a>(out: &mut Vec<u8>, entries: impl Iterator<Item = (&'a str, &'a Entry)>) {
    out.push(b'{');
    for (i, (name, entry)) in entries.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend(serde_json::to_vec(name).unwrap_or_default());
        out.push(b':');
        out.extend(&entry.json);
    }
    out.push(b'}');
}

/// A length-delimited field made of already encoded elements.
fn proto_field<'a>(out: &mut Vec<u8>, tag: u32, entries: impl Iterator<Item = &'a Entry> + Clone) {
    let len: usize = entries.clone().map(|e| e.proto.len()).sum();
    prost::encoding::encode_key(tag, prost::encoding::WireType::LengthDelimited, out);
    prost::encoding::encode_varint(len as u64, out);
    for e in entries {
        out.extend(&e.proto);
    }
}

/// The whole v2 document from its path items and definitions (each sorted
/// by name), as JSON and as protobuf. The JSON is what `serde_json` writes for
/// the document; the protobuf is the `Document` message of that JSON.
pub(crate) fn assemble(paths: &[(&str, &Entry)], definitions: &[(&str, &Entry)]) -> (Vec<u8>, Vec<u8>) {
    let frame = frame();
    let Value::Object(parts) = &frame else { unreachable!("built as an object") };
    let mut json = Vec::with_capacity(
        paths.iter().chain(definitions).map(|(n, e)| n.len() + e.json.len() + 4).sum::<usize>() + 1024,
    );
    json.extend(br#"{"definitions":"#);
    json_object(&mut json, definitions.iter().copied());
    // Keys in order: `paths` sorts between `info` and `security`.
    for (key, value) in parts {
        if key == "security" {
            json.extend(br#","paths":"#);
            json_object(&mut json, paths.iter().copied());
        }
        json.push(b',');
        json.extend(serde_json::to_vec(key).unwrap_or_default());
        json.push(b':');
        json.extend(serde_json::to_vec(value).unwrap_or_default());
    }
    json.push(b'}');

    // Fields in number order, as prost writes them: swagger (1), info (2),
    // paths (8), definitions (9), security (12), security definitions (13).
    let head = proto::document(&frame);
    let mut protobuf = Vec::new();
    prost::encoding::string::encode(1, &head.swagger, &mut protobuf);
    if let Some(info) = &head.info {
        prost::encoding::message::encode(2, info, &mut protobuf);
    }
    proto_field(&mut protobuf, 8, paths.iter().map(|(_, e)| *e));
    proto_field(&mut protobuf, 9, definitions.iter().map(|(_, e)| *e));
    for requirement in &head.security {
        prost::encoding::message::encode(12, requirement, &mut protobuf);
    }
    if let Some(security) = &head.security_definitions {
        prost::encoding::message::encode(13, security, &mut protobuf);
    }
    (json, protobuf)
}

/// Converts a v3 schema to v2.
pub(crate) fn schema(value: &Value) -> Value {
    let Value::Object(map) = value else {
        // `true` (anything) is the empty schema; v2 has no `false`.
        return json!({});
    };
    // A reference stands alone in v2 (kubectl rejects a typed reference); it
    // keeps its description and extensions.
    let reference = map.get("$ref").or_else(|| match map.get("allOf") {
        Some(Value::Array(all)) if all.len() == 1 => all[0].get("$ref"),
        _ => None,
    });
    if let Some(Value::String(r)) = reference {
        let mut out = Map::new();
        out.insert("$ref".into(), convert_ref(r).into());
        for (k, v) in map {
            if k == "description" || k.starts_with("x-") {
                out.insert(k.clone(), v.clone());
            }
        }
        return Value::Object(out);
    }
    // Nullable and free-form values lose their type: kubectl's v2 model
    // would otherwise reject `null` or unknown fields.
    let untyped = map.get("nullable") == Some(&Value::Bool(true))
        || map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    let mut out = Map::new();
    for (key, v) in map {
        match key.as_str() {
            "nullable" | "anyOf" | "oneOf" | "not" | "deprecated" | "writeOnly" | "discriminator" => {}
            "type" | "properties" | "items" if untyped => {}
            "properties" => {
                let props = match v {
                    Value::Object(p) => p.iter().map(|(k, s)| (k.clone(), schema(s))).collect(),
                    _ => Map::new(),
                };
                out.insert(key.clone(), Value::Object(props));
            }
            "items" | "allOf" => {
                let converted = match v {
                    Value::Array(items) => Value::Array(items.iter().map(schema).collect()),
                    other => schema(other),
                };
                out.insert(key.clone(), converted);
            }
            "additionalProperties" => {
                let converted = if v.is_object() { schema(v) } else { v.clone() };
                out.insert(key.clone(), converted);
            }
            _ => {
                out.insert(key.clone(), v.clone());
            }
        }
    }
    // A scalar of several types (`oneOf` of bare types, how Kubernetes writes
    // `Quantity` and `IntOrString` in v3) is a string in v2, as Kubernetes
    // publishes it; kubectl's v2 validation takes any scalar for a string.
    if !untyped && !out.contains_key("type") && scalar_alternatives(map.get("oneOf")) {
        out.insert("type".into(), "string".into());
    }
    // kubectl's v2 model requires one item schema for every array.
    if out.get("type").and_then(Value::as_str) == Some("array") && !out.contains_key("items") {
        out.insert("items".into(), json!({}));
    }
    Value::Object(out)
}

/// Whether `oneOf` lists only bare scalar types, one of them `string`.
fn scalar_alternatives(one_of: Option<&Value>) -> bool {
    let Some(Value::Array(branches)) = one_of else { return false };
    let types: Vec<Option<&str>> = branches
        .iter()
        .map(|b| match b.as_object() {
            Some(m) if m.len() == 1 => m.get("type").and_then(Value::as_str),
            _ => None,
        })
        .collect();
    types.iter().all(|t| matches!(t, Some("string" | "integer" | "number" | "boolean")))
        && types.contains(&Some("string"))
}

fn convert_ref(r: &str) -> String {
    match r.strip_prefix(V3_REF) {
        Some(name) => format!("{V2_REF}{name}"),
        None => r.to_owned(),
    }
}

fn path_item(item: &Value) -> Value {
    let Value::Object(map) = item else { return item.clone() };
    let mut out = Map::new();
    for (key, v) in map {
        if key == "parameters" {
            out.insert(key.clone(), parameters(v));
        } else if METHODS.contains(&key.as_str()) {
            out.insert(key.clone(), operation(v));
        } else {
            out.insert(key.clone(), v.clone());
        }
    }
    Value::Object(out)
}

fn parameters(list: &Value) -> Value {
    match list {
        Value::Array(params) => Value::Array(params.iter().map(parameter).collect()),
        _ => Value::Array(Vec::new()),
    }
}

/// A v3 parameter (`schema` holds its type) in v2 form (the type is inline).
fn parameter(p: &Value) -> Value {
    let Value::Object(map) = p else { return p.clone() };
    let mut out = Map::new();
    for (key, v) in map {
        if key == "schema" {
            if let Value::Object(s) = v {
                for (k, sv) in s {
                    out.insert(k.clone(), sv.clone());
                }
            }
        } else {
            out.insert(key.clone(), v.clone());
        }
    }
    Value::Object(out)
}

/// The media types of a `content` map, in order.
fn media_types(content: Option<&Value>) -> impl Iterator<Item = &String> {
    content.and_then(Value::as_object).into_iter().flat_map(|c| c.keys())
}

fn first_schema(content: Option<&Value>) -> Option<&Value> {
    content.and_then(Value::as_object).and_then(|c| c.values().next()).and_then(|m| m.get("schema"))
}

fn operation(op: &Value) -> Value {
    let Value::Object(map) = op else { return op.clone() };
    let mut out = Map::new();
    let mut params: Vec<Value> = Vec::new();
    let mut produces: Vec<String> = Vec::new();
    for (key, v) in map {
        match key.as_str() {
            "parameters" => {
                if let Value::Array(list) = parameters(v) {
                    params.extend(list);
                }
            }
            "requestBody" => {
                let content = v.get("content");
                let consumes: Vec<Value> = media_types(content).map(|t| t.clone().into()).collect();
                out.insert("consumes".into(), Value::Array(consumes));
                let mut body = json!({ "in": "body", "name": "body" });
                if v.get("required") == Some(&Value::Bool(true)) {
                    body["required"] = true.into();
                }
                body["schema"] = first_schema(content).map_or_else(|| json!({}), schema);
                params.insert(0, body);
            }
            "responses" => {
                let mut responses = Map::new();
                for (code, response) in v.as_object().into_iter().flatten() {
                    let content = response.get("content");
                    for t in media_types(content) {
                        if !produces.contains(t) {
                            produces.push(t.clone());
                        }
                    }
                    let mut r = json!({ "description": response.get("description").cloned().unwrap_or_default() });
                    if let Some(s) = first_schema(content) {
                        r["schema"] = schema(s);
                    }
                    responses.insert(code.clone(), r);
                }
                out.insert(key.clone(), Value::Object(responses));
            }
            _ => {
                out.insert(key.clone(), v.clone());
            }
        }
    }
    if !params.is_empty() {
        out.insert("parameters".into(), Value::Array(params));
    }
    if !produces.is_empty() {
        out.insert("produces".into(), produces.into_iter().map(Value::from).collect());
    }
    out.insert("schemes".into(), json!(["https"]));
    Value::Object(out)
}
