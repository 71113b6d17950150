//! How each place of an object merges: the list types and atomic objects
//! server-side apply needs, from a built-in kind's patch metadata or a CRD's
//! structural schema.

use k_api_types::structural::SchemaNode;

use crate::patch::strategic::SchemaCursor;

/// How a list merges under server-side apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListKind {
    /// Replaced whole; owned as one field.
    Atomic,
    /// A set of scalars: each value is owned on its own.
    Set,
    /// A list of objects keyed by these fields: each item is owned on its
    /// own, and merges with the item of the same key.
    Map(Vec<String>),
}

/// The schema of one place in an object.
#[derive(Clone, Copy, Debug)]
pub enum Shape<'a> {
    /// Nothing is known: objects merge field by field, lists are atomic.
    Unknown,
    /// A place in a built-in kind.
    Builtin(SchemaCursor),
    /// A place in a custom resource's structural schema.
    Custom(SchemaNode<'a>),
    /// The root of a custom resource: its `metadata` is an ObjectMeta (so
    /// finalizers are a set and ownerReferences are keyed by uid), the rest
    /// follows the schema.
    CustomRoot(SchemaNode<'a>),
}

/// Object types Kubernetes declares atomic (`+structType=atomic`): owned and
/// replaced whole, like a scalar.
const ATOMIC_TYPES: &[&str] = &[
    "LabelSelector",
    "LocalObjectReference",
    "ObjectReference",
    "TypedLocalObjectReference",
    "TypedObjectReference",
    "SecretReference",
    "ConfigMapKeySelector",
    "SecretKeySelector",
    "ObjectFieldSelector",
    "ResourceFieldSelector",
    "NodeSelector",
    "NodeSelectorTerm",
    "TopologySelectorTerm",
];

/// The shape of an ObjectMeta (a ConfigMap's metadata: the same type).
fn object_meta<'a>() -> Shape<'a> {
    SchemaCursor::for_kind(&k_api_types::GroupVersionKind::new("", "v1", "ConfigMap"))
        .and_then(|c| c.field("metadata"))
        .map_or(Shape::Unknown, Shape::Builtin)
}

impl<'a> Shape<'a> {
    /// Field `name` of an object here.
    pub fn field(self, name: &str) -> Shape<'a> {
        match self {
            Shape::Unknown => Shape::Unknown,
            Shape::Builtin(c) => c.field(name).map_or(Shape::Unknown, Shape::Builtin),
            Shape::Custom(n) => n.field(name).map_or(Shape::Unknown, Shape::Custom),
            Shape::CustomRoot(_) if name == "metadata" => object_meta(),
            Shape::CustomRoot(n) => n.field(name).map_or(Shape::Unknown, Shape::Custom),
        }
    }

    /// The items of a list here.
    pub fn items(self) -> Shape<'a> {
        match self {
            Shape::Unknown => Shape::Unknown,
            Shape::Builtin(c) => c.items().map_or(Shape::Unknown, Shape::Builtin),
            Shape::Custom(n) | Shape::CustomRoot(n) => n.items().map_or(Shape::Unknown, Shape::Custom),
        }
    }

    /// How a list here merges.
    ///
    /// Built-in lists merge as their patch strategy says (which is how
    /// Kubernetes derives their list types), with the two compound keys
    /// Kubernetes declares: container ports by `containerPort` and
    /// `protocol`, service ports by `port` and `protocol`, topology spread
    /// constraints by `topologyKey` and `whenUnsatisfiable`. Custom resource
    /// lists follow `x-kubernetes-list-type` (atomic when absent).
    pub fn list_kind(self) -> ListKind {
        match self {
            Shape::Unknown => ListKind::Atomic,
            Shape::Builtin(c) if c.merges() => match c.merge_key() {
                None => ListKind::Set,
                Some(key @ ("containerPort" | "port")) => ListKind::Map(vec![key.to_owned(), "protocol".to_owned()]),
                Some("topologyKey") => ListKind::Map(vec!["topologyKey".to_owned(), "whenUnsatisfiable".to_owned()]),
                Some(key) => ListKind::Map(vec![key.to_owned()]),
            },
            Shape::Builtin(_) => ListKind::Atomic,
            Shape::Custom(n) | Shape::CustomRoot(n) => match n.list_type() {
                Some("set") => ListKind::Set,
                Some("map") if !n.list_map_keys().is_empty() => ListKind::Map(n.list_map_keys().to_vec()),
                _ => ListKind::Atomic,
            },
        }
    }

    /// Whether an object here is owned and replaced whole.
    pub fn atomic_object(self) -> bool {
        match self {
            Shape::Builtin(c) => c.atomic_map() || c.type_name().is_some_and(|t| ATOMIC_TYPES.contains(&t)),
            Shape::Unknown | Shape::Custom(_) | Shape::CustomRoot(_) => false,
        }
    }

    /// The value a missing key field of a list item stands for (Kubernetes
    /// defaults `protocol` to `TCP`), if any.
    pub fn key_default(self, key: &str) -> Option<&'static str> {
        match (self, key) {
            (Shape::Builtin(_), "protocol") => Some("TCP"),
            _ => None,
        }
    }
}
