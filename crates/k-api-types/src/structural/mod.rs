//! Custom resources checked against their CRD's structural schema, as
//! kube-apiserver 1.32 does it: [`prune`], [`apply_defaults`] and [`validate`].
//!
//! Compile a version's `openAPIV3Schema` once with [`StructuralSchema::new`]
//! and reuse it for every request. kube-apiserver runs the three steps in this
//! order, and so should a caller:
//!
//! 1. [`prune`] drops every field the schema does not declare, except under
//!    `x-kubernetes-preserve-unknown-fields`, and returns their paths
//!    (`spec.foo`, `spec.ports[1].extra`), sorted. With `fieldValidation=Strict`
//!    each path is an error, with `Warn` a warning: [`unknown_field_warning`]
//!    words it as kube does (`unknown field "spec.foo"`). The root `apiVersion`,
//!    `kind` and `metadata` are always kept, and so are those of
//!    `x-kubernetes-embedded-resource` objects; inside an embedded resource's
//!    `metadata` only `ObjectMeta` fields are kept.
//! 2. [`apply_defaults`] first drops `null`s the schema neither allows
//!    (`nullable`) nor defaults, then fills in `default`s: for absent fields,
//!    for non-nullable `null`s, recursively (a defaulted object gets its own
//!    fields' defaults), in array items and `additionalProperties` values.
//! 3. [`validate`] checks the result. It reports what kube-openapi's schema
//!    validator reports (type, `format`, `enum`, `required`, `nullable`,
//!    bounds, `multipleOf`, lengths, `pattern`, item and property counts,
//!    `additionalProperties`, `allOf`/`anyOf`/`oneOf`/`not`), then the
//!    `apiVersion`/`kind`/`metadata` of embedded resources, then the uniqueness
//!    of `x-kubernetes-list-type: set` and `map` lists — each with kube's field
//!    path, cause type and message, e.g.
//!    `spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"`.
//!
//! The root `metadata` is not checked against the schema beyond the
//! `metadata.name` and `metadata.generateName` constraints a CRD may declare
//! (kube's `ObjectMeta` rules for it are [`validate_object_meta`]'s job).
//!
//! What kube does and this module does not:
//! - CEL rules (`x-kubernetes-validations`) are not evaluated.
//! - Validation ratcheting on update (unchanged invalid values tolerated) is not
//!   done: every call validates the whole object.
//! - Embedded `metadata` fields of the wrong type are not coerced or dropped.
//! - kube-openapi reports errors of one object in Go map order (random); here
//!   properties go in name order and data keys in key order. Which failing
//!   `anyOf`/`oneOf` branch's own errors are shown follows kube's "branch that
//!   passed the most checks" rule through an equivalent count, ties to the
//!   first branch.
//! - `pattern` uses the `regex` crate with Go's RE2 meaning of `\d`, `\w`,
//!   `\s`, `\b` (ASCII) and `\Q…\E` translated; formats are checked with
//!   faithful re-implementations of the strfmt checks kube enables
//!   (`date-time`, `date`, `duration`, `byte`, `uuid*`, `ipv4`, `ipv6`,
//!   `cidr`, `mac`, `hostname`, `email`, `uri`, `isbn*`, `creditcard`, `ssn`,
//!   `hexcolor`, `rgbcolor`, `bsonobjectid`, `password`); other formats such
//!   as `int32`, `int64` or `float` are ignored, as kube ignores them.
//!
//! [`validate_object_meta`]: crate::validation::validate_object_meta
//!
//! ```
//! use k_api_types::structural::{StructuralSchema, apply_defaults, prune, validate};
//! use serde_json::json;
//!
//! let schema = StructuralSchema::new(&json!({
//!     "type": "object",
//!     "properties": {"spec": {"type": "object", "required": ["engine"], "properties": {
//!         "engine": {"type": "string", "enum": ["valkey", "memcached"]},
//!         "replicas": {"type": "integer", "minimum": 1, "default": 1}
//!     }}}
//! }))?;
//! let mut cache = json!({
//!     "apiVersion": "example.org/v1alpha1", "kind": "Cache", "metadata": {"name": "sessions"},
//!     "spec": {"engine": "redis", "color": "blue"}
//! });
//! assert_eq!(prune(&schema, &mut cache), ["spec.color"]);
//! apply_defaults(&schema, &mut cache);
//! assert_eq!(cache["spec"]["replicas"], 1);
//! let errors: Vec<String> = validate(&schema, &cache).iter().map(ToString::to_string).collect();
//! assert_eq!(errors, [r#"spec.engine: Unsupported value: "redis": supported values: "valkey", "memcached""#]);
//! # Ok::<(), String>(())
//! ```

mod defaults;
mod embedded;
mod formats;
mod gofmt;
mod listtype;
mod pattern;
mod prune;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::apiextensions::v1::{JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool};

pub use defaults::apply_defaults;
pub use prune::{prune, unknown_field_warning};
pub use validate::validate;

/// A compiled structural schema: one CRD version's `openAPIV3Schema`, parsed
/// once (patterns compiled, unsupported formats dropped) and reused for every
/// [`prune`], [`apply_defaults`] and [`validate`] call.
#[derive(Clone, Debug)]
pub struct StructuralSchema {
    root: Node,
}

impl StructuralSchema {
    /// Compiles a CRD version's `openAPIV3Schema`.
    ///
    /// The schema is expected to have passed CRD validation
    /// ([`structural_errors`](crate::apiextensions::v1::structural_errors));
    /// this only fails for what cannot be compiled at all, as kube-apiserver's
    /// structural conversion does: a value that is not a schema object, or
    /// one using `id`, `$ref`, `definitions`, `patternProperties`,
    /// `dependencies`, `additionalItems`, tuple `items`, or
    /// `x-kubernetes-preserve-unknown-fields: false`.
    ///
    /// # Errors
    /// A message naming the first problem found.
    pub fn new(schema: &Value) -> Result<Self, String> {
        if !schema.is_object() {
            return Err(format!("openAPIV3Schema must be an object, not {schema}"));
        }
        let props: JSONSchemaProps =
            serde_json::from_value(schema.clone()).map_err(|e| format!("invalid openAPIV3Schema: {e}"))?;
        let mut root = compile(&props)?;
        // Only the name and generateName constraints of the root metadata apply.
        if let Some(meta) = root.properties.get_mut("metadata") {
            let mut kept = Node::default();
            for key in ["name", "generateName"] {
                if let Some(p) = meta.properties.remove(key) {
                    kept.properties.insert(key.to_owned(), p);
                }
            }
            *meta = kept;
        }
        Ok(Self { root })
    }
}

impl StructuralSchema {
    /// The root of the schema, for walking it alongside an object (server-side
    /// apply does, to learn how each list merges).
    pub fn root(&self) -> SchemaNode<'_> {
        SchemaNode(&self.root)
    }
}

/// A place in a [`StructuralSchema`]: the schema of one value.
#[derive(Clone, Copy, Debug)]
pub struct SchemaNode<'a>(&'a Node);

impl<'a> SchemaNode<'a> {
    /// The schema of field `name` of an object value: its property, else the
    /// `additionalProperties` schema; `None` when the schema says nothing.
    pub fn field(self, name: &str) -> Option<SchemaNode<'a>> {
        self.0.field(name).map(SchemaNode)
    }

    /// The schema of the items of a list value.
    pub fn items(self) -> Option<SchemaNode<'a>> {
        self.0.items.as_deref().map(SchemaNode)
    }

    /// `x-kubernetes-list-type` (`atomic`, `set` or `map`), if declared.
    pub fn list_type(self) -> Option<&'a str> {
        self.0.list_type.as_deref()
    }

    /// `x-kubernetes-list-map-keys` of a `map` list.
    pub fn list_map_keys(self) -> &'a [String] {
        &self.0.list_map_keys
    }

    /// Whether unknown fields are kept here (`x-kubernetes-preserve-unknown-fields`).
    pub fn preserves_unknown_fields(self) -> bool {
        self.0.preserve_unknown
    }
}

/// One compiled schema node: the structural part (types, properties, items,
/// additionalProperties, extensions, default) and its value validations.
#[derive(Clone, Debug, Default)]
struct Node {
    /// `[type]`, `["integer", "string"]` for `x-kubernetes-int-or-string`, or empty.
    types: Vec<String>,
    /// A format kube validates, as written in the schema (`date-time`).
    format: Option<String>,
    nullable: bool,
    /// The default value (`None` also for `default: null`, as kube ignores it).
    default: Option<Value>,
    maximum: Option<f64>,
    exclusive_maximum: bool,
    minimum: Option<f64>,
    exclusive_minimum: bool,
    multiple_of: Option<f64>,
    max_length: Option<i64>,
    min_length: Option<i64>,
    pattern: Option<pattern::Pattern>,
    max_items: Option<i64>,
    min_items: Option<i64>,
    unique_items: bool,
    enum_: Vec<Value>,
    max_properties: Option<i64>,
    min_properties: Option<i64>,
    required: Vec<String>,
    items: Option<Box<Node>>,
    properties: BTreeMap<String, Node>,
    additional: Option<Additional>,
    all_of: Vec<Node>,
    any_of: Vec<Node>,
    one_of: Vec<Node>,
    not: Option<Box<Node>>,
    preserve_unknown: bool,
    embedded: bool,
    list_type: Option<String>,
    list_map_keys: Vec<String>,
}

/// `additionalProperties`: a boolean or a schema.
#[derive(Clone, Debug)]
enum Additional {
    Bool(bool),
    Schema(Box<Node>),
}

impl Node {
    /// The `additionalProperties` schema, if it is one.
    fn additional_schema(&self) -> Option<&Node> {
        match &self.additional {
            Some(Additional::Schema(s)) => Some(s),
            _ => None,
        }
    }

    /// The schema of field `key` of an object: its property, else the
    /// `additionalProperties` schema.
    fn field(&self, key: &str) -> Option<&Node> {
        self.properties.get(key).or_else(|| self.additional_schema())
    }
}

fn compile(s: &JSONSchemaProps) -> Result<Node, String> {
    unsupported(s)?;
    let mut types = Vec::new();
    if let Some(t) = s.type_.as_deref().filter(|t| !t.is_empty()) {
        types.push(t.to_owned());
    }
    if s.x_kubernetes_int_or_string == Some(true) {
        types = vec!["integer".to_owned(), "string".to_owned()];
    }
    let preserve_unknown = match s.x_kubernetes_preserve_unknown_fields {
        Some(false) => return Err("'x-kubernetes-preserve-unknown-fields' must be true or undefined".to_owned()),
        Some(true) => true,
        None => false,
    };
    let items = match &s.items {
        None => None,
        Some(JSONSchemaPropsOrArray::Schema(i)) => Some(Box::new(compile(i)?)),
        Some(JSONSchemaPropsOrArray::Schemas(_)) => {
            return Err("OpenAPIV3Schema 'items' must be a schema, but is an array".to_owned());
        }
    };
    let additional = match &s.additional_properties {
        None => None,
        Some(JSONSchemaPropsOrBool::Bool(b)) => Some(Additional::Bool(*b)),
        Some(JSONSchemaPropsOrBool::Schema(a)) => Some(Additional::Schema(Box::new(compile(a)?))),
    };
    let mut properties = BTreeMap::new();
    for (k, p) in &s.properties {
        properties.insert(k.clone(), compile(p)?);
    }
    let list = |l: &[JSONSchemaProps]| l.iter().map(compile).collect::<Result<Vec<_>, _>>();
    Ok(Node {
        types,
        format: s.format.as_deref().filter(|f| formats::is_supported(f)).map(str::to_owned),
        nullable: s.nullable == Some(true),
        default: s.default.clone().filter(|d| !d.is_null()),
        maximum: s.maximum,
        exclusive_maximum: s.exclusive_maximum == Some(true),
        minimum: s.minimum,
        exclusive_minimum: s.exclusive_minimum == Some(true),
        multiple_of: s.multiple_of,
        max_length: s.max_length,
        min_length: s.min_length,
        pattern: s.pattern.as_deref().map(pattern::Pattern::new),
        max_items: s.max_items,
        min_items: s.min_items,
        unique_items: s.unique_items == Some(true),
        enum_: s.enum_.clone(),
        max_properties: s.max_properties,
        min_properties: s.min_properties,
        required: s.required.clone(),
        items,
        properties,
        additional,
        all_of: list(&s.all_of)?,
        any_of: list(&s.any_of)?,
        one_of: list(&s.one_of)?,
        not: s.not.as_deref().map(compile).transpose()?.map(Box::new),
        preserve_unknown,
        embedded: s.x_kubernetes_embedded_resource == Some(true),
        list_type: s.x_kubernetes_list_type.clone(),
        list_map_keys: s.x_kubernetes_list_map_keys.clone(),
    })
}

/// The keywords a structural schema cannot carry.
fn unsupported(s: &JSONSchemaProps) -> Result<(), String> {
    let bad = if s.id.as_deref().is_some_and(|id| !id.is_empty()) {
        "id"
    } else if s.ref_.as_deref().is_some_and(|r| !r.is_empty()) {
        "$ref"
    } else if !s.pattern_properties.is_empty() {
        "patternProperties"
    } else if !s.dependencies.is_empty() {
        "dependencies"
    } else if s.additional_items.is_some() {
        "additionalItems"
    } else if !s.definitions.is_empty() {
        "definitions"
    } else {
        return Ok(());
    };
    Err(format!("OpenAPIV3Schema '{bad}' is not supported"))
}
