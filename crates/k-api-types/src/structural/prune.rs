//! Pruning: dropping the fields a structural schema does not declare.

use serde_json::{Map, Value};

use super::{Node, StructuralSchema, gofmt};

/// The type and object metadata fields every resource (the root, and each
/// `x-kubernetes-embedded-resource` object) keeps whatever the schema says.
const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// The JSON fields of `ObjectMeta`: what an embedded resource's `metadata` keeps.
const OBJECT_META_FIELDS: [&str; 15] = [
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Removes every field of `object` the schema does not declare, as
/// kube-apiserver does before defaulting and validation, and returns the
/// removed fields' paths, sorted (`spec.foo`, `spec.ports[1].extra`).
///
/// Kept: the root `apiVersion`, `kind` and `metadata` (pruning the root
/// metadata is `ObjectMeta`'s business), everything under a node with
/// `x-kubernetes-preserve-unknown-fields` that is not itself declared (the
/// declared properties below it are still pruned), every key of a map
/// (`additionalProperties`), and the `apiVersion`, `kind` and `metadata` of an
/// `x-kubernetes-embedded-resource` object, whose `metadata` keeps only
/// `ObjectMeta` fields (the others are pruned and reported).
///
/// For `fieldValidation=Strict` each path is an error, for `Warn` a warning:
/// [`unknown_field_warning`] words them.
pub fn prune(schema: &StructuralSchema, object: &mut Value) -> Vec<String> {
    let mut pruner = Pruner::default();
    pruner.prune(object, Some(&schema.root), true);
    pruner.unknown.sort();
    pruner.unknown
}

/// The warning (or strict-mode error message) kube-apiserver words for a
/// pruned field path: `unknown field "spec.foo"`.
pub fn unknown_field_warning(path: &str) -> String {
    format!("unknown field {}", gofmt::quote(path))
}

#[derive(Default)]
struct Pruner {
    /// The path of the value being pruned.
    path: String,
    unknown: Vec<String>,
}

impl Pruner {
    fn record(&mut self, key: &str) {
        let p = if self.path.is_empty() { key.to_owned() } else { format!("{}.{key}", self.path) };
        self.unknown.push(p);
    }

    /// Runs `f` with `key` appended to the path.
    fn in_key(&mut self, key: &str, f: impl FnOnce(&mut Self)) {
        let len = self.path.len();
        if !self.path.is_empty() {
            self.path.push('.');
        }
        self.path.push_str(key);
        f(self);
        self.path.truncate(len);
    }

    fn in_index(&mut self, i: usize, f: impl FnOnce(&mut Self)) {
        let len = self.path.len();
        self.path.push_str(&format!("[{i}]"));
        f(self);
        self.path.truncate(len);
    }

    /// Prunes `x` against `s` (`None`: nothing is declared there).
    fn prune(&mut self, x: &mut Value, s: Option<&Node>, root: bool) {
        if let Some(s) = s
            && s.preserve_unknown
        {
            self.skip(x, s, root);
            return;
        }
        match x {
            Value::Object(map) => {
                let Some(s) = s else {
                    let keys: Vec<String> = map.keys().cloned().collect();
                    for k in keys {
                        self.record(&k);
                    }
                    map.clear();
                    return;
                };
                let resource = root || s.embedded;
                let keys: Vec<String> = map.keys().cloned().collect();
                for k in keys {
                    if resource && META_FIELDS.contains(&k.as_str()) {
                        if !root && k == "metadata" {
                            self.prune_embedded_meta(map);
                        }
                        continue;
                    }
                    let Some(v) = map.get_mut(&k) else { continue };
                    if let Some(prop) = s.properties.get(&k) {
                        self.in_key(&k, |p| p.prune(v, Some(prop), false));
                    } else if s.additional.is_some() {
                        let child = s.additional_schema();
                        self.in_key(&k, |p| p.prune(v, child, false));
                    } else {
                        self.record(&k);
                        map.remove(&k);
                    }
                }
            }
            Value::Array(items) => {
                let item_schema = s.and_then(|s| s.items.as_deref());
                for (i, v) in items.iter_mut().enumerate() {
                    self.in_index(i, |p| p.prune(v, item_schema, false));
                }
            }
            _ => {}
        }
    }

    /// Below `x-kubernetes-preserve-unknown-fields`: unknown fields stay, the
    /// declared ones are pruned by their own schema.
    fn skip(&mut self, x: &mut Value, s: &Node, root: bool) {
        match x {
            Value::Object(map) => {
                let resource = root || s.embedded;
                let keys: Vec<String> = map.keys().cloned().collect();
                for k in keys {
                    if resource && META_FIELDS.contains(&k.as_str()) {
                        if !root && k == "metadata" {
                            self.prune_embedded_meta(map);
                        }
                        continue;
                    }
                    let Some(v) = map.get_mut(&k) else { continue };
                    if let Some(prop) = s.properties.get(&k) {
                        self.in_key(&k, |p| p.prune(v, Some(prop), false));
                    } else if s.additional.is_some() {
                        let child = s.additional_schema();
                        self.in_key(&k, |p| p.prune(v, child, false));
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item_schema) = s.items.as_deref() {
                    for (i, v) in items.iter_mut().enumerate() {
                        self.in_index(i, |p| p.skip(v, item_schema, false));
                    }
                }
            }
            _ => {}
        }
    }

    /// An embedded resource's `metadata` keeps only `ObjectMeta` fields.
    fn prune_embedded_meta(&mut self, resource: &mut Map<String, Value>) {
        let Some(Value::Object(meta)) = resource.get_mut("metadata") else { return };
        let unknown: Vec<String> = meta.keys().filter(|k| !OBJECT_META_FIELDS.contains(&k.as_str())).cloned().collect();
        self.in_key("metadata", |p| {
            for k in &unknown {
                p.record(k);
                meta.remove(k);
            }
        });
    }
}
