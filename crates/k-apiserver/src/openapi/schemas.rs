//! The definitions (`components/schemas`): built-in kinds from their schemars
//! schemas, renamed and reshaped the way kube-apiserver publishes them;
//! custom resources from their CRD schemas; and the few meta types written
//! here (list kinds, `WatchEvent`, `Patch`, `RawExtension`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::OnceLock;

use k_api_types::meta::{
    APIGroup, APIGroupList, APIResourceList, APIVersions, Condition, DeleteOptions, LabelSelector, ListMeta, MicroTime,
    ObjectMeta, Scale, Status, Time,
};
use k_api_types::quantity::Quantity;
use k_api_types::{ApiResource, ByteString, ResourceInfo, intstr::IntOrString};
use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use super::names::{self, INT_OR_STRING, QUANTITY, RAW_EXTENSION};

/// Definitions by name, in the OpenAPI v3 form.
pub(crate) type Defs = BTreeMap<String, Value>;

/// How OpenAPI v3 documents refer to a definition.
pub(crate) const V3_REF: &str = "#/components/schemas/";

/// A reference to the named definition.
pub(crate) fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("{V3_REF}{name}") })
}

/// A property holding the named definition (the `allOf` wrapper lets a
/// description stand beside the reference).
fn ref_property(name: &str, description: &str) -> Value {
    json!({ "allOf": [schema_ref(name)], "description": description })
}

/// The `x-kubernetes-group-version-kind` value of a definition.
pub(crate) fn gvk_list<'a>(gvks: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>) -> Value {
    gvks.into_iter().map(|(group, version, kind)| json!({ "group": group, "kind": kind, "version": version })).collect()
}

/// The built-in definitions, generated once per process.
#[derive(Debug)]
pub(crate) struct Builtin {
    /// Every definition reachable from a built-in kind or a meta type, and
    /// the list kinds.
    pub(crate) defs: Defs,
    /// Each built-in kind and the name of its definition.
    pub(crate) kinds: Vec<(&'static ResourceInfo, String)>,
}

/// The built-in definitions (generated on first use).
pub(crate) fn builtin() -> &'static Builtin {
    static BUILTIN: OnceLock<Builtin> = OnceLock::new();
    BUILTIN.get_or_init(generate)
}

/// The definition name schemars gave a type, from the reference it returned.
fn ref_name(schema: &Value) -> Option<String> {
    schema.get("$ref")?.as_str()?.strip_prefix(V3_REF).map(str::to_owned)
}

/// Calls `f` with the definition name of every `$ref` in `value`.
pub(crate) fn for_each_ref(value: &Value, f: &mut impl FnMut(&str)) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    if let Some(name) = v.as_str().and_then(|r| r.strip_prefix(V3_REF)) {
                        f(name);
                    }
                } else {
                    for_each_ref(v, f);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| for_each_ref(v, f)),
        _ => {}
    }
}

/// Kubernetes names for schemars' definition names.
#[derive(Default)]
struct Naming {
    /// schemars name → Kubernetes name.
    names: HashMap<String, String>,
    /// Kubernetes names given out.
    taken: HashSet<String>,
    /// Definitions to inline where used (no Kubernetes counterpart).
    inline: HashSet<String>,
    /// Starting points of the walk that names nested types: (schemars name, package).
    roots: Vec<(String, String)>,
}

impl Naming {
    /// Names the definition of `T` (generating it) `full`.
    fn explicit<T: JsonSchema>(&mut self, generator: &mut SchemaGenerator, full: &str) {
        if let Some(name) = ref_name(generator.subschema_for::<T>().as_value()) {
            self.root(name, full.to_owned());
        }
    }

    /// Records a definition whose name is known, and walks its nested types
    /// into its package.
    fn root(&mut self, schemars_name: String, full: String) {
        let package = full.rsplit_once('.').map_or("", |(p, _)| p).to_owned();
        self.taken.insert(full.clone());
        self.names.entry(schemars_name.clone()).or_insert(full);
        self.roots.push((schemars_name, package));
    }

    /// Names every definition reachable from the roots, in order: a nested
    /// type belongs to the package of the first root that reaches it (core
    /// kinds come first, so `PodTemplateSpec` is `core.v1` even though
    /// `Deployment` uses it too).
    fn walk(&mut self, raw: &Map<String, Value>) {
        for (root, package) in std::mem::take(&mut self.roots) {
            let mut stack = vec![root];
            while let Some(current) = stack.pop() {
                let Some(schema) = raw.get(&current) else { continue };
                for_each_ref(schema, &mut |name| {
                    if self.names.contains_key(name) || self.inline.contains(name) {
                        return;
                    }
                    let base = names::strip_collision_suffix(name, |b| raw.contains_key(b));
                    let mut full = format!("{package}.{base}");
                    if self.taken.contains(&full) {
                        full = format!("{package}.{name}");
                    }
                    self.taken.insert(full.clone());
                    self.names.insert(name.to_owned(), full);
                    stack.push(name.to_owned());
                });
            }
        }
    }
}

/// Generates and reshapes the built-in definitions.
fn generate() -> Builtin {
    let mut generator = SchemaSettings::openapi3().into_generator();
    let mut naming = Naming::default();
    // Meta types first, so that they keep their plain names whatever else is
    // called `Condition` or `Status`.
    let meta = names::meta;
    naming.explicit::<ObjectMeta>(&mut generator, &meta("ObjectMeta"));
    naming.explicit::<ListMeta>(&mut generator, &meta("ListMeta"));
    naming.explicit::<Status>(&mut generator, &meta("Status"));
    naming.explicit::<DeleteOptions>(&mut generator, &meta("DeleteOptions"));
    naming.explicit::<Time>(&mut generator, &meta("Time"));
    naming.explicit::<MicroTime>(&mut generator, &meta("MicroTime"));
    naming.explicit::<LabelSelector>(&mut generator, &meta("LabelSelector"));
    naming.explicit::<Condition>(&mut generator, &meta("Condition"));
    naming.explicit::<APIResourceList>(&mut generator, &meta("APIResourceList"));
    naming.explicit::<APIGroupList>(&mut generator, &meta("APIGroupList"));
    naming.explicit::<APIGroup>(&mut generator, &meta("APIGroup"));
    naming.explicit::<APIVersions>(&mut generator, &meta("APIVersions"));
    naming.explicit::<Scale>(&mut generator, &format!("{}.Scale", names::AUTOSCALING_V1));
    naming.explicit::<Quantity>(&mut generator, QUANTITY);
    naming.explicit::<IntOrString>(&mut generator, INT_OR_STRING);
    if let Some(name) = ref_name(generator.subschema_for::<ByteString>().as_value()) {
        naming.inline.insert(name);
    }
    let mut kinds = Vec::new();
    for (info, schema) in k_api_types::object::builtin_schemas(&mut generator) {
        let Some(name) = ref_name(schema.as_value()) else { continue };
        let full = format!("{}.{}", names::builtin_package(info.group, info.version), info.kind);
        naming.root(name.clone(), full);
        kinds.push((info, name));
    }
    let raw = generator.take_definitions(true);
    naming.walk(&raw);

    let inline: HashMap<&str, &Value> =
        naming.inline.iter().filter_map(|n| raw.get(n).map(|s| (n.as_str(), s))).collect();
    let normalizer = Normalizer { names: &naming.names, inline: &inline };
    let mut defs = Defs::new();
    for (name, schema) in &raw {
        if naming.inline.contains(name) {
            continue;
        }
        let full = naming.names.get(name).cloned().unwrap_or_else(|| format!("io.k8s.api.unknown.{name}"));
        defs.insert(full, normalizer.normalize(schema));
    }
    let kinds: Vec<_> = kinds.into_iter().map(|(info, name)| (info, naming.names[&name].clone())).collect();
    for (info, def) in &kinds {
        defs.insert(format!("{def}List"), list_def(def, info.group, info.version, info.kind));
    }

    // Kinds carry their group/version/kind; explain and kubectl's OpenAPI
    // lookups find a kind's schema by it.
    for (info, def) in &kinds {
        if let Some(Value::Object(schema)) = defs.get_mut(def) {
            schema.insert("x-kubernetes-group-version-kind".into(), gvk_list([(info.group, info.version, info.kind)]));
        }
    }
    for kind in ["Status", "APIResourceList", "APIGroupList", "APIGroup", "APIVersions"] {
        if let Some(Value::Object(schema)) = defs.get_mut(&meta(kind)) {
            schema.insert("x-kubernetes-group-version-kind".into(), gvk_list([("", "v1", kind)]));
        }
    }
    if let Some(Value::Object(schema)) = defs.get_mut(&format!("{}.Scale", names::AUTOSCALING_V1)) {
        schema.insert("x-kubernetes-group-version-kind".into(), gvk_list([("autoscaling", "v1", "Scale")]));
    }
    // Scalars of several JSON types; the v2 document turns them into strings.
    defs.insert(
        QUANTITY.to_owned(),
        json!({
            "description": "A fixed-point decimal number with an optional SI or binary suffix, such as `500m`, `1.5Gi` or `2`.",
            "oneOf": [{ "type": "string" }, { "type": "number" }]
        }),
    );
    defs.insert(
        INT_OR_STRING.to_owned(),
        json!({
            "description": "Either an integer or a string, such as a port number or a port name, or a count or a percentage.",
            "format": "int-or-string",
            "oneOf": [{ "type": "integer" }, { "type": "string" }]
        }),
    );
    defs.insert(
        RAW_EXTENSION.to_owned(),
        json!({ "description": "An embedded object of any kind, as JSON.", "type": "object" }),
    );
    defs.insert(
        meta("Patch"),
        json!({
            "description": "The body of a PATCH request; the request's Content-Type says which patch format it is in.",
            "type": "object"
        }),
    );
    defs.insert(meta("WatchEvent"), watch_event(Value::Array(Vec::new())));
    apply_patch_strategies(&mut defs);
    Builtin { defs, kinds }
}

/// The `WatchEvent` definition with the given group/version/kind list.
pub(crate) fn watch_event(gvks: Value) -> Value {
    json!({
        "description": "One event of a watch stream.",
        "properties": {
            "object": ref_property(
                RAW_EXTENSION,
                "The object: its new state for ADDED and MODIFIED, its last state for DELETED, an object carrying only the resource version for BOOKMARK, a Status for ERROR."
            ),
            "type": { "description": "ADDED, MODIFIED, DELETED, BOOKMARK or ERROR.", "type": "string" }
        },
        "required": ["type", "object"],
        "type": "object",
        "x-kubernetes-group-version-kind": gvks
    })
}

/// The `…List` definition of a kind.
pub(crate) fn list_def(kind_def: &str, group: &str, version: &str, kind: &str) -> Value {
    let list_kind = format!("{kind}List");
    json!({
        "description": format!("A list of {kind} objects."),
        "properties": {
            "apiVersion": api_version_property(),
            "items": {
                "description": format!("The {kind} objects."),
                "items": schema_ref(kind_def),
                "type": "array"
            },
            "kind": kind_property(),
            "metadata": ref_property(&names::meta("ListMeta"), "Standard list metadata.")
        },
        "required": ["items"],
        "type": "object",
        "x-kubernetes-group-version-kind": gvk_list([(group, version, list_kind.as_str())])
    })
}

fn api_version_property() -> Value {
    json!({
        "description": "The versioned schema of this representation of the object, such as `v1` or `apps/v1`.",
        "type": "string"
    })
}

fn kind_property() -> Value {
    json!({ "description": "The kind of the object, in CamelCase, such as `Pod`.", "type": "string" })
}

/// The definition name and definition of a custom resource: its CRD schema
/// with `apiVersion`, `kind` and a `metadata` of type `ObjectMeta`, and its
/// group/version/kind.
pub(crate) fn custom_def(resource: &ApiResource, schema: &Value) -> (String, Value) {
    let name = format!("{}.{}", names::custom_package(&resource.group, &resource.version), resource.kind);
    let mut def = match schema {
        Value::Object(map) if !map.is_empty() => Value::Object(map.clone()),
        _ => json!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true }),
    };
    let Value::Object(map) = &mut def else { unreachable!("built as an object") };
    map.entry("type").or_insert_with(|| "object".into());
    let properties = map.entry("properties").or_insert_with(|| json!({}));
    if !properties.is_object() {
        *properties = json!({});
    }
    if let Value::Object(properties) = properties {
        properties.insert("apiVersion".into(), api_version_property());
        properties.insert("kind".into(), kind_property());
        properties.insert("metadata".into(), ref_property(&names::meta("ObjectMeta"), "Standard object metadata."));
    }
    map.insert(
        "x-kubernetes-group-version-kind".into(),
        gvk_list([(resource.group.as_str(), resource.version.as_str(), resource.kind.as_str())]),
    );
    (name, def)
}

/// The list-merge keys and strategies kubectl's strategic merge patches use
/// (`kubectl apply` reads them from `/openapi/v2`): definition, property,
/// strategy, merge key.
const PATCH_STRATEGIES: &[(&str, &str, &str, &str)] = &[
    ("io.k8s.api.core.v1.PodSpec", "containers", "merge", "name"),
    ("io.k8s.api.core.v1.PodSpec", "initContainers", "merge", "name"),
    ("io.k8s.api.core.v1.PodSpec", "ephemeralContainers", "merge", "name"),
    ("io.k8s.api.core.v1.PodSpec", "volumes", "merge,retainKeys", "name"),
    ("io.k8s.api.core.v1.PodSpec", "imagePullSecrets", "merge", "name"),
    ("io.k8s.api.core.v1.PodSpec", "hostAliases", "merge", "ip"),
    ("io.k8s.api.core.v1.PodSpec", "topologySpreadConstraints", "merge", "topologyKey"),
    ("io.k8s.api.core.v1.PodSpec", "resourceClaims", "merge,retainKeys", "name"),
    ("io.k8s.api.core.v1.PodSpec", "schedulingGates", "merge", "name"),
    ("io.k8s.api.core.v1.Container", "env", "merge", "name"),
    ("io.k8s.api.core.v1.Container", "ports", "merge", "containerPort"),
    ("io.k8s.api.core.v1.Container", "volumeMounts", "merge", "mountPath"),
    ("io.k8s.api.core.v1.Container", "volumeDevices", "merge", "devicePath"),
    ("io.k8s.api.core.v1.EphemeralContainer", "env", "merge", "name"),
    ("io.k8s.api.core.v1.EphemeralContainer", "ports", "merge", "containerPort"),
    ("io.k8s.api.core.v1.EphemeralContainer", "volumeMounts", "merge", "mountPath"),
    ("io.k8s.api.core.v1.EphemeralContainer", "volumeDevices", "merge", "devicePath"),
    ("io.k8s.api.core.v1.ServiceSpec", "ports", "merge", "port"),
    ("io.k8s.api.core.v1.PodStatus", "conditions", "merge", "type"),
    ("io.k8s.api.core.v1.NodeStatus", "conditions", "merge", "type"),
    ("io.k8s.api.core.v1.NodeStatus", "addresses", "merge", "type"),
    ("io.k8s.api.apps.v1.DeploymentSpec", "strategy", "retainKeys", ""),
    ("io.k8s.api.apps.v1.DeploymentStatus", "conditions", "merge", "type"),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers", "merge", ""),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "ownerReferences", "merge", "uid"),
];

/// Adds `x-kubernetes-patch-strategy` and `x-kubernetes-patch-merge-key` to
/// the properties of [`PATCH_STRATEGIES`] that exist.
fn apply_patch_strategies(defs: &mut Defs) {
    for (def, property, strategy, key) in PATCH_STRATEGIES {
        let Some(Value::Object(node)) =
            defs.get_mut(*def).and_then(|d| d.pointer_mut(&format!("/properties/{property}")))
        else {
            continue;
        };
        node.insert("x-kubernetes-patch-strategy".into(), (*strategy).into());
        if !key.is_empty() {
            node.insert("x-kubernetes-patch-merge-key".into(), (*key).into());
        }
    }
}

/// Rewrites schemars' OpenAPI 3 output into the shapes kube-apiserver
/// publishes: Kubernetes definition names, no `nullable` (optional values are
/// just absent), `allOf: [$ref]` for described references, `int32`/`int64`
/// integer formats.
struct Normalizer<'a> {
    names: &'a HashMap<String, String>,
    inline: &'a HashMap<&'a str, &'a Value>,
}

impl Normalizer<'_> {
    fn normalize(&self, value: &Value) -> Value {
        let map = match value {
            Value::Object(map) => map,
            Value::Bool(true) => return json!({}),
            other => return other.clone(),
        };
        let mut out = Map::new();
        // Fields of merged subschemas; they never override the node's own.
        let mut merged: Vec<Map<String, Value>> = Vec::new();
        for (key, v) in map {
            match key.as_str() {
                "nullable" | "$schema" | "examples" | "deprecated" | "writeOnly" => {}
                "$ref" => {
                    let target = v.as_str().and_then(|r| r.strip_prefix(V3_REF)).unwrap_or_default();
                    if let Some(schema) = self.inline.get(target) {
                        if let Value::Object(m) = self.normalize(schema) {
                            merged.push(m);
                        }
                    } else {
                        let full = self.names.get(target).map_or(target, String::as_str);
                        out.insert(key.clone(), format!("{V3_REF}{full}").into());
                    }
                }
                "anyOf" | "oneOf" => {
                    let Value::Array(branches) = v else { continue };
                    let real: Vec<&Value> = branches.iter().filter(|b| !is_null_branch(b)).collect();
                    // `Option<T>`: T alone. Real alternatives (int or string,
                    // schema or bool) are published untyped, as Kubernetes does.
                    if real.len() == 1
                        && real.len() < branches.len()
                        && let Value::Object(branch) = self.normalize(real[0])
                    {
                        if branch.len() == 1 && branch.contains_key("$ref") {
                            out.insert("allOf".into(), Value::Array(vec![Value::Object(branch)]));
                        } else {
                            merged.push(branch);
                        }
                    }
                }
                "type" => match v {
                    Value::Array(types) => {
                        if let Some(t) = types.iter().find(|t| t.as_str() != Some("null")) {
                            out.insert(key.clone(), t.clone());
                        }
                    }
                    other => {
                        out.insert(key.clone(), other.clone());
                    }
                },
                "const" => {
                    out.insert("enum".into(), Value::Array(vec![v.clone()]));
                }
                "enum" => {
                    if let Value::Array(values) = v {
                        let values: Vec<Value> = values.iter().filter(|x| !x.is_null()).cloned().collect();
                        if !values.is_empty() {
                            out.insert(key.clone(), Value::Array(values));
                        }
                    }
                }
                "format" => {
                    out.insert(key.clone(), v.as_str().map_or_else(|| v.clone(), |f| integer_format(f).into()));
                }
                "default" if v.is_null() => {}
                "properties" => {
                    let props = match v {
                        Value::Object(props) => props.iter().map(|(k, p)| (k.clone(), self.normalize(p))).collect(),
                        _ => Map::new(),
                    };
                    out.insert(key.clone(), Value::Object(props));
                }
                "items" | "additionalProperties" | "not" | "allOf" => {
                    let converted = match v {
                        Value::Array(items) => Value::Array(items.iter().map(|i| self.normalize(i)).collect()),
                        other => self.normalize(other),
                    };
                    out.insert(key.clone(), converted);
                }
                _ => {
                    out.insert(key.clone(), v.clone());
                }
            }
        }
        for m in merged {
            for (k, v) in m {
                out.entry(k).or_insert(v);
            }
        }
        Value::Object(out)
    }
}

/// Whether an `anyOf` branch only admits `null` (how schemars spells `Option`).
fn is_null_branch(branch: &Value) -> bool {
    branch.get("type").and_then(Value::as_str) == Some("null")
        || branch.get("enum") == Some(&json!([null]))
        || branch.as_object().is_some_and(|o| o.len() == 1 && o.contains_key("nullable"))
}

/// Kubernetes knows `int32` and `int64`; schemars also writes the Rust widths.
fn integer_format(format: &str) -> &str {
    match format {
        "int8" | "int16" | "uint8" | "uint16" => "int32",
        "uint32" | "uint64" | "uint" | "int" | "int128" | "uint128" => "int64",
        other => other,
    }
}

/// The built-in definitions plus the ones of one build (lists, custom
/// resources, meta types whose group/version/kind lists depend on what is served).
#[derive(Debug)]
pub(crate) struct DefSet {
    /// Built-in definitions.
    pub(crate) base: &'static Defs,
    /// This build's definitions (they shadow built-in ones of the same name).
    pub(crate) extra: Defs,
}

impl DefSet {
    /// The named definition.
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.extra.get(name).or_else(|| self.base.get(name))
    }

    /// Every definition `value` refers to, directly or not.
    pub(crate) fn closure(&self, value: &Value) -> Map<String, Value> {
        let mut seen = BTreeSet::new();
        let mut stack = Vec::new();
        for_each_ref(value, &mut |name| stack.push(name.to_owned()));
        while let Some(name) = stack.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            if let Some(def) = self.get(&name) {
                for_each_ref(def, &mut |n| {
                    if !seen.contains(n) {
                        stack.push(n.to_owned());
                    }
                });
            }
        }
        seen.into_iter().filter_map(|name| self.get(&name).cloned().map(|def| (name, def))).collect()
    }
}
