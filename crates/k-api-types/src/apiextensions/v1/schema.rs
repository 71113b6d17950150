//! [`JSONSchemaProps`]: an OpenAPI v3 schema as CustomResourceDefinitions
//! carry it, with Kubernetes' `x-kubernetes-*` extensions.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::wire;

/// A JSON schema (draft 4 subset used by OpenAPI v3) with Kubernetes extensions.
///
/// Every keyword Kubernetes accepts is a field, so a schema survives a round
/// trip unchanged; [`structural_errors`](super::structural_errors) reports the
/// ones a CRD may not use.
#[wire]
pub struct JSONSchemaProps {
    /// Schema identifier (not supported in CRDs).
    pub id: Option<String>,
    /// `$schema`: the meta-schema URL.
    #[serde(rename = "$schema")]
    pub schema: Option<String>,
    /// `$ref`: a reference to another schema (not supported in CRDs).
    #[serde(rename = "$ref")]
    pub ref_: Option<String>,
    /// What the value means (shown by `kubectl explain`).
    pub description: Option<String>,
    /// `object`, `array`, `string`, `integer`, `number` or `boolean`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// Format of the value, such as `int32`, `date-time` or `byte`.
    pub format: Option<String>,
    /// Short title.
    pub title: Option<String>,
    /// Value filled in when the field is absent (`null` is kept: it is a valid
    /// default of a nullable field).
    #[serde(deserialize_with = "present")]
    pub default: Option<Value>,
    /// Largest allowed number.
    #[serde(serialize_with = "go_float")]
    pub maximum: Option<f64>,
    /// Whether `maximum` itself is excluded.
    pub exclusive_maximum: Option<bool>,
    /// Smallest allowed number.
    #[serde(serialize_with = "go_float")]
    pub minimum: Option<f64>,
    /// Whether `minimum` itself is excluded.
    pub exclusive_minimum: Option<bool>,
    /// Longest allowed string, in characters.
    pub max_length: Option<i64>,
    /// Shortest allowed string, in characters.
    pub min_length: Option<i64>,
    /// Regular expression strings must match.
    pub pattern: Option<String>,
    /// Most items an array may have.
    pub max_items: Option<i64>,
    /// Fewest items an array must have.
    pub min_items: Option<i64>,
    /// Whether array items must be distinct (not allowed in CRDs).
    pub unique_items: Option<bool>,
    /// Numbers must be a multiple of this.
    #[serde(serialize_with = "go_float")]
    pub multiple_of: Option<f64>,
    /// The allowed values.
    #[serde(rename = "enum")]
    pub enum_: Vec<Value>,
    /// Most properties an object may have.
    pub max_properties: Option<i64>,
    /// Fewest properties an object must have.
    pub min_properties: Option<i64>,
    /// Properties that must be present.
    pub required: Vec<String>,
    /// Schema of array items (a single schema; the array form is not allowed in CRDs).
    pub items: Option<JSONSchemaPropsOrArray>,
    /// The value must match all of these.
    pub all_of: Vec<JSONSchemaProps>,
    /// The value must match exactly one of these.
    pub one_of: Vec<JSONSchemaProps>,
    /// The value must match at least one of these.
    pub any_of: Vec<JSONSchemaProps>,
    /// The value must not match this.
    pub not: Option<Box<JSONSchemaProps>>,
    /// Schemas of the known properties of an object.
    pub properties: BTreeMap<String, JSONSchemaProps>,
    /// Schema of the values of a map (or `true`/`false`).
    pub additional_properties: Option<JSONSchemaPropsOrBool>,
    /// Schemas of properties by name pattern (not supported in CRDs).
    pub pattern_properties: BTreeMap<String, JSONSchemaProps>,
    /// Property dependencies (not supported in CRDs).
    pub dependencies: BTreeMap<String, JSONSchemaPropsOrStringArray>,
    /// Schema of items beyond a tuple (not supported in CRDs).
    pub additional_items: Option<JSONSchemaPropsOrBool>,
    /// Shared schema definitions (not supported in CRDs).
    pub definitions: BTreeMap<String, JSONSchemaProps>,
    /// A link to more documentation.
    pub external_docs: Option<ExternalDocumentation>,
    /// An example value.
    #[serde(deserialize_with = "present")]
    pub example: Option<Value>,
    /// Whether `null` is accepted (and kept rather than pruned).
    pub nullable: Option<bool>,
    /// Keep fields the schema does not specify instead of pruning them.
    #[serde(rename = "x-kubernetes-preserve-unknown-fields")]
    pub x_kubernetes_preserve_unknown_fields: Option<bool>,
    /// The value is an embedded object with `apiVersion`, `kind` and `metadata`.
    #[serde(rename = "x-kubernetes-embedded-resource")]
    pub x_kubernetes_embedded_resource: Option<bool>,
    /// The value is an integer or a string (`IntOrString`).
    #[serde(rename = "x-kubernetes-int-or-string")]
    pub x_kubernetes_int_or_string: Option<bool>,
    /// Keys identifying the items of a `map` list.
    #[serde(rename = "x-kubernetes-list-map-keys")]
    pub x_kubernetes_list_map_keys: Vec<String>,
    /// `atomic`, `set` or `map`: how server-side apply merges the list.
    #[serde(rename = "x-kubernetes-list-type")]
    pub x_kubernetes_list_type: Option<String>,
    /// `granular` or `atomic`: how server-side apply merges the object.
    #[serde(rename = "x-kubernetes-map-type")]
    pub x_kubernetes_map_type: Option<String>,
    /// CEL validation rules.
    #[serde(rename = "x-kubernetes-validations")]
    pub x_kubernetes_validations: Vec<ValidationRule>,
}

/// A CEL validation rule (`x-kubernetes-validations`).
#[wire(eq)]
pub struct ValidationRule {
    /// The CEL expression, such as `self.minReplicas <= self.maxReplicas`.
    pub rule: String,
    /// Message returned when the rule fails.
    pub message: Option<String>,
    /// CEL expression producing the message.
    pub message_expression: Option<String>,
    /// Reason returned when the rule fails: `FieldValueInvalid` (default),
    /// `FieldValueForbidden`, `FieldValueRequired` or `FieldValueDuplicate`.
    pub reason: Option<String>,
    /// JSON path of the field reported when the rule fails.
    pub field_path: Option<String>,
    /// Evaluate transition rules even when there is no old value.
    pub optional_old_self: Option<bool>,
}

/// A link to external documentation.
#[wire(eq)]
pub struct ExternalDocumentation {
    /// Description of the documentation.
    pub description: Option<String>,
    /// Its URL.
    pub url: Option<String>,
}

/// `items`: one schema for every item, or (not allowed in CRDs) one per position.
#[derive(Clone, Debug, PartialEq)]
pub enum JSONSchemaPropsOrArray {
    /// Every item matches this schema.
    Schema(Box<JSONSchemaProps>),
    /// Item `i` matches schema `i` (a tuple).
    Schemas(Vec<JSONSchemaProps>),
}

/// `additionalProperties` / `additionalItems`: a boolean or a schema.
#[derive(Clone, Debug, PartialEq)]
pub enum JSONSchemaPropsOrBool {
    /// `true` allows anything, `false` nothing.
    Bool(bool),
    /// Values must match this schema.
    Schema(Box<JSONSchemaProps>),
}

/// A `dependencies` entry: a schema or a list of property names.
#[derive(Clone, Debug, PartialEq)]
pub enum JSONSchemaPropsOrStringArray {
    /// The object must also match this schema.
    Schema(Box<JSONSchemaProps>),
    /// These properties must also be present.
    Property(Vec<String>),
}

impl JSONSchemaProps {
    /// A schema of the given `type` and nothing else.
    pub fn typed(type_: &str) -> Self {
        Self { type_: Some(type_.to_owned()), ..Self::default() }
    }

    /// The single `items` schema, if `items` is one.
    pub fn items_schema(&self) -> Option<&JSONSchemaProps> {
        match &self.items {
            Some(JSONSchemaPropsOrArray::Schema(s)) => Some(s),
            _ => None,
        }
    }

    /// The `additionalProperties` schema, if it is one.
    pub fn additional_properties_schema(&self) -> Option<&JSONSchemaProps> {
        match &self.additional_properties {
            Some(JSONSchemaPropsOrBool::Schema(s)) => Some(s),
            _ => None,
        }
    }
}

/// Reads a JSON value that is present, keeping `null` as `Some(Value::Null)`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// Writes a float as Go's `encoding/json` does: integral values without a
/// fraction (`1`, not `1.0`).
fn go_float<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => s.serialize_i64(*f as i64),
        Some(f) => s.serialize_f64(*f),
        None => s.serialize_none(),
    }
}

impl Serialize for JSONSchemaPropsOrArray {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Schema(schema) => schema.serialize(s),
            Self::Schemas(list) => list.serialize(s),
        }
    }
}

impl Serialize for JSONSchemaPropsOrBool {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Bool(b) => s.serialize_bool(*b),
            Self::Schema(schema) => schema.serialize(s),
        }
    }
}

impl Serialize for JSONSchemaPropsOrStringArray {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Schema(schema) => schema.serialize(s),
            Self::Property(list) => list.serialize(s),
        }
    }
}

/// Which shapes a visitor accepts besides an object (a schema).
struct EitherVisitor<T>(&'static str, std::marker::PhantomData<T>);

impl<T> EitherVisitor<T> {
    fn new(expecting: &'static str) -> Self {
        Self(expecting, std::marker::PhantomData)
    }
}

impl<'de> Visitor<'de> for EitherVisitor<JSONSchemaPropsOrArray> {
    type Value = JSONSchemaPropsOrArray;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        JSONSchemaProps::deserialize(MapAccessDeserializer::new(map))
            .map(|s| JSONSchemaPropsOrArray::Schema(Box::new(s)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Vec::<JSONSchemaProps>::deserialize(SeqAccessDeserializer::new(seq)).map(JSONSchemaPropsOrArray::Schemas)
    }
}

impl<'de> Visitor<'de> for EitherVisitor<JSONSchemaPropsOrBool> {
    type Value = JSONSchemaPropsOrBool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        JSONSchemaProps::deserialize(MapAccessDeserializer::new(map))
            .map(|s| JSONSchemaPropsOrBool::Schema(Box::new(s)))
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
        Ok(JSONSchemaPropsOrBool::Bool(b))
    }
}

impl<'de> Visitor<'de> for EitherVisitor<JSONSchemaPropsOrStringArray> {
    type Value = JSONSchemaPropsOrStringArray;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        JSONSchemaProps::deserialize(MapAccessDeserializer::new(map))
            .map(|s| JSONSchemaPropsOrStringArray::Schema(Box::new(s)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Vec::<String>::deserialize(SeqAccessDeserializer::new(seq)).map(JSONSchemaPropsOrStringArray::Property)
    }
}

impl<'de> Deserialize<'de> for JSONSchemaPropsOrArray {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(EitherVisitor::<Self>::new("a schema object or an array of schemas"))
    }
}

impl<'de> Deserialize<'de> for JSONSchemaPropsOrBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(EitherVisitor::<Self>::new("a schema object or a boolean"))
    }
}

impl<'de> Deserialize<'de> for JSONSchemaPropsOrStringArray {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(EitherVisitor::<Self>::new("a schema object or an array of strings"))
    }
}

impl JsonSchema for JSONSchemaPropsOrArray {
    fn schema_name() -> Cow<'static, str> {
        "JSONSchemaPropsOrArray".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let one = generator.subschema_for::<JSONSchemaProps>();
        json_schema!({ "description": "A schema, or an array of schemas.", "x-kubernetes-preserve-unknown-fields": true, "anyOf": [one, {"type": "array", "items": one}] })
    }
}

impl JsonSchema for JSONSchemaPropsOrBool {
    fn schema_name() -> Cow<'static, str> {
        "JSONSchemaPropsOrBool".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let one = generator.subschema_for::<JSONSchemaProps>();
        json_schema!({ "description": "A schema, or a boolean.", "x-kubernetes-preserve-unknown-fields": true, "anyOf": [one, {"type": "boolean"}] })
    }
}

impl JsonSchema for JSONSchemaPropsOrStringArray {
    fn schema_name() -> Cow<'static, str> {
        "JSONSchemaPropsOrStringArray".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let one = generator.subschema_for::<JSONSchemaProps>();
        json_schema!({ "description": "A schema, or an array of property names.", "x-kubernetes-preserve-unknown-fields": true, "anyOf": [one, {"type": "array", "items": {"type": "string"}}] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn either_forms_round_trip() {
        let v = json!({
            "type": "object",
            "properties": {
                "tuple": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]},
                "list": {"type": "array", "items": {"type": "string"}},
                "closed": {"type": "object", "additionalProperties": false},
                "map": {"type": "object", "additionalProperties": {"type": "string"}},
                "deps": {"type": "object", "dependencies": {"a": ["b", "c"], "d": {"required": ["e"]}}},
                "num": {"type": "number", "minimum": 1, "maximum": 2.5, "multipleOf": 0.5, "exclusiveMinimum": true}
            }
        });
        let s: JSONSchemaProps = serde_json::from_value(v.clone()).unwrap();
        let p = &s.properties;
        assert!(matches!(p["tuple"].items, Some(JSONSchemaPropsOrArray::Schemas(ref v)) if v.len() == 2));
        assert_eq!(p["list"].items_schema().and_then(|i| i.type_.as_deref()), Some("string"));
        assert_eq!(p["closed"].additional_properties, Some(JSONSchemaPropsOrBool::Bool(false)));
        assert_eq!(p["map"].additional_properties_schema().map(|s| s.type_.as_deref()), Some(Some("string")));
        assert_eq!(p["deps"].dependencies["a"], JSONSchemaPropsOrStringArray::Property(vec!["b".into(), "c".into()]));
        assert_eq!(p["num"].minimum, Some(1.0));
        assert_eq!(serde_json::to_value(&s).unwrap(), v);
        assert_eq!(
            serde_json::to_string(&p["num"]).unwrap(),
            r#"{"type":"number","maximum":2.5,"minimum":1,"exclusiveMinimum":true,"multipleOf":0.5}"#
        );
    }

    #[test]
    fn wrong_shapes_are_errors() {
        let err = serde_json::from_value::<JSONSchemaProps>(json!({"items": "string"})).unwrap_err();
        assert!(err.to_string().contains("a schema object or an array of schemas"), "{err}");
        let err = serde_json::from_value::<JSONSchemaProps>(json!({"additionalProperties": 1})).unwrap_err();
        assert!(err.to_string().contains("a schema object or a boolean"), "{err}");
        let none: JSONSchemaProps = serde_json::from_value(json!({"items": null})).unwrap();
        assert_eq!(none.items, None);
        let null_default = json!({"type": "string", "nullable": true, "default": null});
        let s: JSONSchemaProps = serde_json::from_value(null_default.clone()).unwrap();
        assert_eq!(s.default, Some(Value::Null));
        assert_eq!(serde_json::to_value(&s).unwrap(), null_default);
    }
}
