//! Patch metadata: the patch strategy and merge key of every field of the
//! built-in kinds that Kubernetes tags, and a walk of the kinds' schemas that
//! tells, for any place in an object, what its fields are and how they merge.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use k_api_types::{GroupVersionKind, apiextensions, apps, autoscaling, batch, core, meta, policy};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value};

/// One field's Kubernetes patch tags.
#[derive(Debug)]
struct Tag {
    /// The field's type's schema (a `$ref` naming its definition).
    schema: fn(&mut SchemaGenerator) -> Schema,
    /// JSON name of the field.
    field: &'static str,
    /// `x-kubernetes-patch-strategy`: `merge`, `retainKeys`, `merge,retainKeys` or `replace`.
    strategy: &'static str,
    /// `x-kubernetes-patch-merge-key`, for lists of objects merged by key.
    merge_key: Option<&'static str>,
}

fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

macro_rules! tags {
    ($($ty:ty { $($field:literal: $strategy:literal $(by $key:literal)?),+ $(,)? })*) => {
        &[$($(Tag {
            schema: schema_of::<$ty>,
            field: $field,
            strategy: $strategy,
            merge_key: tags!(@key $($key)?),
        },)+)*]
    };
    (@key) => { None };
    (@key $key:literal) => { Some($key) };
}

/// The `patchStrategy`/`patchMergeKey` struct tags of Kubernetes 1.32
/// (k8s.io/api, k8s.io/apimachinery, k8s.io/apiextensions-apiserver) on the
/// fields of the types this project models. Every list field not named here
/// is replaced by a patch.
static TAGS: &[Tag] = tags! {
    meta::ObjectMeta {
        "finalizers": "merge",
        "ownerReferences": "merge" by "uid",
    }
    core::v1::PodSpec {
        "containers": "merge" by "name",
        "initContainers": "merge" by "name",
        "ephemeralContainers": "merge" by "name",
        "volumes": "merge,retainKeys" by "name",
        "imagePullSecrets": "merge" by "name",
        "hostAliases": "merge" by "ip",
        "topologySpreadConstraints": "merge" by "topologyKey",
        "schedulingGates": "merge" by "name",
        "resourceClaims": "merge,retainKeys" by "name",
    }
    core::v1::Container {
        "env": "merge" by "name",
        "ports": "merge" by "containerPort",
        "volumeMounts": "merge" by "mountPath",
        "volumeDevices": "merge" by "devicePath",
    }
    core::v1::EphemeralContainer {
        "env": "merge" by "name",
        "ports": "merge" by "containerPort",
        "volumeMounts": "merge" by "mountPath",
        "volumeDevices": "merge" by "devicePath",
    }
    core::v1::ContainerStatus {
        "volumeMounts": "merge" by "mountPath",
        "allocatedResourcesStatus": "merge" by "name",
    }
    core::v1::PodStatus {
        "conditions": "merge" by "type",
        "podIPs": "merge" by "ip",
        "hostIPs": "merge" by "ip",
        "resourceClaimStatuses": "merge,retainKeys" by "name",
    }
    core::v1::NodeSpec {
        "podCIDRs": "merge",
    }
    core::v1::NodeStatus {
        "addresses": "merge" by "type",
        "conditions": "merge" by "type",
    }
    core::v1::ServiceSpec {
        "ports": "merge" by "port",
    }
    core::v1::ServiceStatus {
        "conditions": "merge" by "type",
    }
    core::v1::ServiceAccount {
        "secrets": "merge" by "name",
    }
    core::v1::NamespaceStatus {
        "conditions": "merge" by "type",
    }
    core::v1::PersistentVolumeClaimStatus {
        "conditions": "merge" by "type",
    }
    core::v1::ReplicationControllerStatus {
        "conditions": "merge" by "type",
    }
    apps::v1::DeploymentSpec {
        "strategy": "retainKeys",
    }
    apps::v1::DeploymentStatus {
        "conditions": "merge" by "type",
    }
    apps::v1::DaemonSetStatus {
        "conditions": "merge" by "type",
    }
    apps::v1::ReplicaSetStatus {
        "conditions": "merge" by "type",
    }
    apps::v1::StatefulSetStatus {
        "conditions": "merge" by "type",
    }
    autoscaling::v2::HorizontalPodAutoscalerStatus {
        "conditions": "merge" by "type",
    }
    batch::v1::JobStatus {
        "conditions": "merge" by "type",
    }
    policy::v1::PodDisruptionBudgetSpec {
        "selector": "replace",
    }
    policy::v1::PodDisruptionBudgetStatus {
        "conditions": "merge" by "type",
    }
    apiextensions::v1::JSONSchemaProps {
        "x-kubernetes-validations": "merge" by "rule",
    }
};

/// How a patch treats a field whose object and patch values are both maps or both lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Strategy {
    /// Maps merge, lists are replaced.
    Default,
    /// Lists merge (by merge key for objects, as a set for scalars); maps merge.
    Merge,
    /// The value is replaced whole.
    Replace,
}

/// What is known about one field (or list item, or map value).
#[derive(Clone, Debug)]
pub(super) struct FieldMeta {
    /// The shape of the value.
    pub(super) node: Node,
    /// How it merges.
    pub(super) strategy: Strategy,
    /// The merge key of a list of objects with the merge strategy.
    pub(super) merge_key: Option<&'static str>,
    /// The Kubernetes tags, as declared.
    tag: Option<(&'static str, Option<&'static str>)>,
}

/// A value of unknown shape: it merges as in a JSON merge patch.
pub(super) static UNKNOWN: FieldMeta = FieldMeta::plain(Node::Any);

impl FieldMeta {
    const fn plain(node: Node) -> Self {
        FieldMeta { node, strategy: Strategy::Default, merge_key: None, tag: None }
    }

    fn tagged(node: Node, tag: &'static Tag) -> Self {
        let mut strategy = Strategy::Default;
        for part in tag.strategy.split(',') {
            match part {
                "merge" => strategy = Strategy::Merge,
                "replace" => strategy = Strategy::Replace,
                // `retainKeys` tells clients to send `$retainKeys`; a server
                // applies that directive wherever it finds it.
                _ => {}
            }
        }
        FieldMeta { node, strategy, merge_key: tag.merge_key, tag: Some((tag.strategy, tag.merge_key)) }
    }

    /// What the items of this list field are.
    pub(super) fn items(&self) -> &FieldMeta {
        match &self.node {
            Node::List(items) => items,
            Node::Union(alternatives) => alternatives
                .iter()
                .find_map(|n| match n {
                    Node::List(items) => Some(&**items),
                    _ => None,
                })
                .unwrap_or(&UNKNOWN),
            _ => &UNKNOWN,
        }
    }
}

/// The shape of a value, as far as patching cares.
#[derive(Clone, Debug)]
pub(super) enum Node {
    /// Anything (free-form JSON, or not described).
    Any,
    /// A string, number or boolean.
    Scalar,
    /// An object with known fields: an index into [`Registry::types`].
    Object(usize),
    /// A map with string keys and values of one shape.
    Map(Box<FieldMeta>),
    /// A list.
    List(Box<FieldMeta>),
    /// One of several shapes (chosen by the JSON type of the value).
    Union(Vec<Node>),
}

/// An object type and its fields.
#[derive(Debug)]
struct TypeDesc {
    /// The schema definition's name.
    name: String,
    /// Its fields by JSON name.
    fields: HashMap<String, FieldMeta>,
}

/// The patch metadata of every built-in kind, built once.
#[derive(Debug)]
pub(super) struct Registry {
    /// Object types, indexed by [`Node::Object`].
    types: Vec<TypeDesc>,
    /// The root of each kind.
    kinds: HashMap<GroupVersionKind, Node>,
    /// Patch tags by schema definition name and field.
    tags: HashMap<String, HashMap<&'static str, &'static Tag>>,
}

impl Registry {
    /// The field `key` of a value of shape `node`, if the schema says what it is.
    pub(super) fn field<'a>(&'a self, node: &'a Node, key: &str) -> Option<&'a FieldMeta> {
        match node {
            Node::Object(index) => self.types[*index].fields.get(key),
            Node::Map(values) => Some(values),
            Node::Union(alternatives) => alternatives
                .iter()
                .filter(|n| matches!(n, Node::Object(_) | Node::Map(_)))
                .find_map(|n| self.field(n, key)),
            Node::Any | Node::Scalar | Node::List(_) => None,
        }
    }
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(build_registry)
}

/// The definition name a `$ref` schema points to.
fn ref_name(schema: &Value) -> Option<String> {
    let reference = schema.get("$ref")?.as_str()?;
    let name = reference.rsplit('/').next()?;
    Some(name.replace("~1", "/").replace("~0", "~"))
}

fn build_registry() -> Registry {
    let mut generator = SchemaSettings::openapi3().into_generator();
    let mut kinds: Vec<(GroupVersionKind, Schema)> = k_api_types::object::builtin_schemas(&mut generator)
        .into_iter()
        .map(|(info, schema)| (info.gvk(), schema))
        .collect();
    // The body of the `scale` subresource, which is patched too.
    kinds.push((GroupVersionKind::new("autoscaling", "v1", "Scale"), generator.subschema_for::<meta::Scale>()));
    // The definition names of the tagged types, as this generator assigned
    // them (names of types that share a Rust name get suffixes).
    let mut tags: HashMap<String, HashMap<&'static str, &'static Tag>> = HashMap::new();
    for tag in TAGS {
        let schema = (tag.schema)(&mut generator);
        if let Some(name) = ref_name(schema.as_value()) {
            tags.entry(name).or_default().insert(tag.field, tag);
        }
    }
    let mut walker = Walker {
        definitions: generator.take_definitions(true),
        tags: &tags,
        types: Vec::new(),
        resolved: HashMap::new(),
        in_progress: Vec::new(),
    };
    let kinds = kinds.into_iter().map(|(gvk, schema)| (gvk, walker.node(schema.as_value()))).collect();
    Registry { types: walker.types, kinds, tags }
}

/// Turns schemars definitions into [`Node`]s.
struct Walker<'t> {
    definitions: Map<String, Value>,
    tags: &'t HashMap<String, HashMap<&'static str, &'static Tag>>,
    types: Vec<TypeDesc>,
    /// Definitions already turned into nodes.
    resolved: HashMap<String, Node>,
    /// Non-object definitions being resolved (to cut cycles).
    in_progress: Vec<String>,
}

impl Walker<'_> {
    fn node(&mut self, schema: &Value) -> Node {
        let Value::Object(s) = schema else { return Node::Any };
        if let Some(name) = ref_name(schema) {
            return self.definition(&name);
        }
        if let Some(Value::Object(properties)) = s.get("properties") {
            return self.object("", properties.clone());
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = s.get(key) {
                let mut alternatives: Vec<Node> = Vec::new();
                for branch in branches.iter().filter(|b| !is_null_schema(b)) {
                    match self.node(branch) {
                        Node::Union(more) => alternatives.extend(more),
                        other => alternatives.push(other),
                    }
                }
                if alternatives.iter().all(|n| matches!(n, Node::Scalar)) {
                    return if alternatives.is_empty() { Node::Any } else { Node::Scalar };
                }
                if alternatives.len() == 1 {
                    return alternatives.remove(0);
                }
                return Node::Union(alternatives);
            }
        }
        let types: Vec<&str> = match s.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect(),
            _ => Vec::new(),
        };
        if types.contains(&"array") || s.contains_key("items") {
            let items = s.get("items").map_or(Node::Any, |items| self.node(items));
            return Node::List(Box::new(FieldMeta::plain(items)));
        }
        match s.get("additionalProperties") {
            Some(values @ Value::Object(_)) => return Node::Map(Box::new(FieldMeta::plain(self.node(values)))),
            Some(Value::Bool(true)) => return Node::Map(Box::new(FieldMeta::plain(Node::Any))),
            _ => {}
        }
        if s.contains_key("enum") || s.contains_key("const") {
            return Node::Scalar;
        }
        if !types.is_empty() && types.iter().all(|t| matches!(*t, "string" | "integer" | "number" | "boolean")) {
            return Node::Scalar;
        }
        Node::Any
    }

    fn definition(&mut self, name: &str) -> Node {
        if let Some(node) = self.resolved.get(name) {
            return node.clone();
        }
        if self.in_progress.iter().any(|n| n == name) {
            return Node::Any;
        }
        let Some(schema) = self.definitions.get(name).cloned() else { return Node::Any };
        if let Some(Value::Object(properties)) = schema.get("properties") {
            return self.object(name, properties.clone());
        }
        self.in_progress.push(name.to_owned());
        let node = self.node(&schema);
        self.in_progress.pop();
        self.resolved.insert(name.to_owned(), node.clone());
        node
    }

    /// Registers an object type (before its fields, which may refer back to it).
    fn object(&mut self, name: &str, properties: Map<String, Value>) -> Node {
        let index = self.types.len();
        self.types.push(TypeDesc { name: name.to_owned(), fields: HashMap::new() });
        let node = Node::Object(index);
        if !name.is_empty() {
            self.resolved.insert(name.to_owned(), node.clone());
        }
        let tags = self.tags.get(name);
        let mut fields = HashMap::with_capacity(properties.len());
        for (field, schema) in &properties {
            let shape = self.node(schema);
            let meta = match tags.and_then(|t| t.get(field.as_str())) {
                Some(tag) => FieldMeta::tagged(shape, tag),
                None => FieldMeta::plain(shape),
            };
            fields.insert(field.clone(), meta);
        }
        self.types[index].fields = fields;
        node
    }
}

/// Whether a schema only admits `null` (the second half of an `Option<T>`).
fn is_null_schema(schema: &Value) -> bool {
    let Value::Object(s) = schema else { return false };
    s.get("type").and_then(Value::as_str) == Some("null")
        || s.get("enum") == Some(&Value::Array(vec![Value::Null]))
        || (s.len() == 1 && s.contains_key("nullable"))
}

/// Patch metadata of one built-in kind: for each list field, its patch
/// strategy and merge key (and the shape of every nested value, so that the
/// tags of nested types apply wherever they occur).
///
/// Cheap to clone: the metadata of all kinds is built once and shared.
#[derive(Clone)]
pub struct PatchMeta {
    pub(super) registry: &'static Registry,
    pub(super) root: Node,
}

impl PatchMeta {
    /// The metadata of a built-in kind, or of `autoscaling/v1` `Scale` (the
    /// body of `scale` subresources). `None` for kinds without a Rust type:
    /// custom resources, which Kubernetes refuses strategic merge patches for
    /// (the caller answers 415 Unsupported Media Type).
    pub fn for_kind(gvk: &GroupVersionKind) -> Option<PatchMeta> {
        let registry = registry();
        registry.kinds.get(gvk).map(|root| PatchMeta { registry, root: root.clone() })
    }

    /// The Kubernetes patch tags (strategy, merge key) of the field at `path`
    /// (JSON field names from the object's root; list items are passed
    /// through, so `["spec", "containers", "env"]` names every container's
    /// `env`). `None` for fields without tags and unknown fields.
    pub fn field_tags(&self, path: &[&str]) -> Option<(&'static str, Option<&'static str>)> {
        let (last, parents) = path.split_last()?;
        let mut node = &self.root;
        for key in parents {
            let field = self.registry.field(node, key)?;
            node = match &field.node {
                Node::List(items) => &items.node,
                other => other,
            };
        }
        self.registry.field(node, last)?.tag
    }
}

impl fmt::Debug for PatchMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.root {
            Node::Object(index) => self.registry.types[index].name.as_str(),
            _ => "?",
        };
        f.debug_struct("PatchMeta").field("type", &name).finish_non_exhaustive()
    }
}

/// The Kubernetes patch extensions of a field of a named schema type, for
/// OpenAPI documents: (`x-kubernetes-patch-strategy`,
/// `x-kubernetes-patch-merge-key`). `type_name` is the name of the type's
/// definition as [`k_api_types::object::builtin_schemas`] generates them with
/// OpenAPI 3 settings (normally the Rust type name, such as `PodSpec`); `field`
/// is the JSON field name. `None` for fields Kubernetes does not tag.
pub fn patch_extensions(type_name: &str, field: &str) -> Option<(&'static str, Option<&'static str>)> {
    let tag = registry().tags.get(type_name)?.get(field)?;
    Some((tag.strategy, tag.merge_key))
}

/// A place in a built-in kind's schema, for walking it alongside an object
/// (server-side apply does, to learn how each list merges and which objects
/// are atomic).
#[derive(Clone, Copy)]
pub struct SchemaCursor {
    registry: &'static Registry,
    node: &'static Node,
    strategy: Strategy,
    merge_key: Option<&'static str>,
    atomic_map: bool,
}

/// Maps Kubernetes declares atomic (`+mapType=atomic`), by (type, field).
const ATOMIC_MAPS: &[(&str, &str)] =
    &[("PodSpec", "nodeSelector"), ("ServiceSpec", "selector"), ("ReplicationControllerSpec", "selector")];

impl SchemaCursor {
    /// The root of a built-in kind (or `autoscaling/v1` `Scale`); `None` for
    /// kinds without a Rust type.
    pub fn for_kind(gvk: &GroupVersionKind) -> Option<SchemaCursor> {
        let registry = registry();
        let node = registry.kinds.get(gvk)?;
        Some(SchemaCursor { registry, node, strategy: Strategy::Default, merge_key: None, atomic_map: false })
    }

    fn at(registry: &'static Registry, meta: &'static FieldMeta) -> SchemaCursor {
        SchemaCursor {
            registry,
            node: &meta.node,
            strategy: meta.strategy,
            merge_key: meta.merge_key,
            atomic_map: false,
        }
    }

    /// Field `name` of an object (or the values of a map); `None` when the
    /// schema does not describe it.
    pub fn field(self, name: &str) -> Option<SchemaCursor> {
        let mut cursor = self.registry.field(self.node, name).map(|meta| Self::at(self.registry, meta))?;
        cursor.atomic_map = self.type_name().is_some_and(|t| ATOMIC_MAPS.contains(&(t, name)));
        Some(cursor)
    }

    /// Whether a map here is replaced whole (`+mapType=atomic`, such as a
    /// pod's `nodeSelector` or a Service's `selector`).
    pub fn atomic_map(self) -> bool {
        self.atomic_map
    }

    /// The items of a list.
    pub fn items(self) -> Option<SchemaCursor> {
        let items = match self.node {
            Node::List(items) => Some(&**items),
            Node::Union(alternatives) => alternatives.iter().find_map(|n| match n {
                Node::List(items) => Some(&**items),
                _ => None,
            }),
            _ => None,
        }?;
        Some(Self::at(self.registry, items))
    }

    /// Whether a list here merges (by [`merge_key`](Self::merge_key) for
    /// objects, as a set for scalars) rather than being replaced whole.
    pub fn merges(self) -> bool {
        self.strategy == Strategy::Merge
    }

    /// The merge key of a merging list of objects.
    pub fn merge_key(self) -> Option<&'static str> {
        self.merge_key
    }

    /// The schema definition name of an object type here (the Rust type's
    /// name, such as `LabelSelector`).
    pub fn type_name(self) -> Option<&'static str> {
        match self.node {
            Node::Object(index) => Some(self.registry.types[*index].name.as_str()),
            _ => None,
        }
    }
}

impl fmt::Debug for SchemaCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaCursor").field("type", &self.type_name()).field("merges", &self.merges()).finish()
    }
}

#[cfg(test)]
pub(super) mod testing {
    //! Access for the tests to the tagged definitions.

    use super::*;

    /// (definition name, field, strategy, merge key) of every tag.
    pub(in super::super) fn tagged_fields() -> Vec<(String, &'static str, &'static str, Option<&'static str>)> {
        let mut out = Vec::new();
        for (name, fields) in &registry().tags {
            for (field, tag) in fields {
                out.push((name.clone(), *field, tag.strategy, tag.merge_key));
            }
        }
        out.sort();
        out
    }

    /// The number of tags declared.
    pub(in super::super) fn declared() -> usize {
        TAGS.len()
    }

    /// The schema definitions of the built-in kinds, as the registry saw them.
    pub(in super::super) fn definitions() -> Map<String, Value> {
        let mut generator = SchemaSettings::openapi3().into_generator();
        let _ = k_api_types::object::builtin_schemas(&mut generator);
        generator.take_definitions(true)
    }

    /// The shape of a field of a definition as the registry resolved it.
    pub(in super::super) fn field_shape(type_name: &str, field: &str) -> Option<String> {
        let registry = registry();
        let ty = registry.types.iter().find(|t| t.name == type_name)?;
        let meta = ty.fields.get(field)?;
        Some(match &meta.node {
            Node::Any => "any".into(),
            Node::Scalar => "scalar".into(),
            Node::Object(_) => "object".into(),
            Node::Map(_) => "map".into(),
            Node::List(items) => match items.node {
                Node::Object(_) => "list of objects".into(),
                Node::Scalar => "list of scalars".into(),
                _ => "list".into(),
            },
            Node::Union(_) => "union".into(),
        })
    }
}
