//! Sets of field paths, in Kubernetes' `FieldsV1` trie format.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value};

/// A set of paths into an object: which fields, list items and set values a
/// manager owns, or which changed.
///
/// It is a trie keyed by path elements as `FieldsV1` writes them:
/// `f:<field>`, `k:<JSON object of key fields>` (an item of a list keyed by
/// those fields), `v:<JSON value>` (a value of a set) and `i:<index>`. A node
/// is a *member* when the path ending there is in the set (`FieldsV1` writes
/// `{}` for a member without children and `".": {}` beside the children of
/// one with them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    member: bool,
    children: BTreeMap<String, FieldSet>,
}

impl FieldSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the set has no paths.
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.values().all(FieldSet::is_empty)
    }

    /// Whether the path ending at this node is in the set.
    pub fn is_member(&self) -> bool {
        self.member
    }

    /// Puts the path ending at this node in the set.
    pub fn set_member(&mut self) {
        self.member = true;
    }

    /// Takes the path ending at this node out of the set (its children stay).
    pub fn clear_member(&mut self) {
        self.member = false;
    }

    /// The node for path element `element` (`f:spec`), created if missing.
    pub fn child(&mut self, element: impl Into<String>) -> &mut FieldSet {
        self.children.entry(element.into()).or_default()
    }

    /// The node for path element `element`, if the set has paths through it.
    pub fn get(&self, element: &str) -> Option<&FieldSet> {
        self.children.get(element)
    }

    /// The path elements below this node and their nodes, in order.
    pub fn children(&self) -> impl Iterator<Item = (&str, &FieldSet)> {
        self.children.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Adds every path of `other`.
    pub fn union(&mut self, other: &FieldSet) {
        self.member |= other.member;
        for (key, child) in &other.children {
            self.child(key.clone()).union(child);
        }
    }

    /// The paths of this set that `other` does not have.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet { member: self.member && !other.member, children: BTreeMap::new() };
        for (key, child) in &self.children {
            let rest = match other.children.get(key) {
                Some(theirs) => child.difference(theirs),
                None => child.clone(),
            };
            if !rest.is_empty() {
                out.children.insert(key.clone(), rest);
            }
        }
        out
    }

    /// The paths both sets have.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet { member: self.member && other.member, children: BTreeMap::new() };
        for (key, child) in &self.children {
            if let Some(theirs) = other.children.get(key) {
                let both = child.intersection(theirs);
                if !both.is_empty() {
                    out.children.insert(key.clone(), both);
                }
            }
        }
        out
    }

    /// Removes every path that lies at or below a member of `gone` (a set
    /// of removed subtrees).
    pub fn remove_subtrees(&mut self, gone: &FieldSet) {
        for (key, removed) in &gone.children {
            if removed.member {
                self.children.remove(key);
            } else if let Some(child) = self.children.get_mut(key) {
                child.remove_subtrees(removed);
                if child.is_empty() {
                    self.children.remove(key);
                }
            }
        }
    }

    /// Drops empty nodes.
    pub fn compact(&mut self) {
        self.children.retain(|_, child| {
            child.compact();
            !child.is_empty()
        });
    }

    /// The set in `FieldsV1` form: `{"f:spec":{"f:replicas":{}}}`.
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        if self.member && !self.children.is_empty() {
            map.insert(".".to_owned(), Value::Object(Map::new()));
        }
        for (key, child) in &self.children {
            if !child.is_empty() {
                map.insert(key.clone(), child.to_fields_v1());
            }
        }
        Value::Object(map)
    }

    /// Reads a set in `FieldsV1` form.
    ///
    /// # Errors
    /// A message when the value is not a `FieldsV1` trie.
    pub fn from_fields_v1(value: &Value) -> Result<FieldSet, String> {
        let mut set = FieldSet::new();
        set.read(value, true)?;
        Ok(set)
    }

    fn read(&mut self, value: &Value, root: bool) -> Result<(), String> {
        let Value::Object(map) = value else { return Err(format!("expected an object in fieldsV1, found {value}")) };
        if map.is_empty() && !root {
            self.member = true;
        }
        for (key, child) in map {
            if key == "." {
                self.member = true;
                continue;
            }
            if !matches!(key.get(..2), Some("f:" | "k:" | "v:" | "i:")) {
                return Err(format!("unknown path element {key:?} in fieldsV1"));
            }
            self.child(key.clone()).read(child, false)?;
        }
        Ok(())
    }

    /// The paths of the members, written as Kubernetes writes them in
    /// conflict messages: `.spec.replicas`,
    /// `.spec.containers[name="web"].image`, `.metadata.finalizers[="x"]`.
    pub fn paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_paths(&mut String::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut String, out: &mut Vec<String>) {
        if self.member {
            out.push(prefix.clone());
        }
        for (key, child) in &self.children {
            let len = prefix.len();
            write_element(prefix, key);
            child.collect_paths(prefix, out);
            prefix.truncate(len);
        }
    }
}

/// Appends the display form of one path element.
fn write_element(out: &mut String, element: &str) {
    let (kind, rest) = element.split_at(2.min(element.len()));
    match kind {
        "f:" => {
            out.push('.');
            out.push_str(rest);
        }
        "k:" => {
            out.push('[');
            if let Ok(Value::Object(keys)) = serde_json::from_str::<Value>(rest) {
                let parts: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
                out.push_str(&parts.join(","));
            } else {
                out.push_str(rest);
            }
            out.push(']');
        }
        "v:" => {
            let _ = write!(out, "[={rest}]");
        }
        _ => {
            let _ = write!(out, "[{rest}]");
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn set(value: Value) -> FieldSet {
        FieldSet::from_fields_v1(&value).unwrap()
    }

    #[test]
    fn fields_v1_round_trips() {
        let value = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}}}
        });
        assert_eq!(set(value.clone()).to_fields_v1(), value);
    }

    #[test]
    fn set_algebra() {
        let a = set(json!({"f:spec": {"f:replicas": {}, "f:paused": {}}}));
        let b = set(json!({"f:spec": {"f:replicas": {}}, "f:metadata": {"f:labels": {"f:a": {}}}}));
        assert_eq!(a.intersection(&b).paths(), [".spec.replicas"]);
        assert_eq!(a.difference(&b).paths(), [".spec.paused"]);
        let mut u = a.clone();
        u.union(&b);
        assert_eq!(u.paths(), [".metadata.labels.a", ".spec.paused", ".spec.replicas"]);
        assert!(a.difference(&a).is_empty());
    }

    #[test]
    fn removed_subtrees_take_everything_below() {
        let mut owned = set(json!({"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}}}}}));
        owned.remove_subtrees(&set(json!({"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {}}}})));
        assert!(owned.is_empty());
        assert_eq!(owned.to_fields_v1(), json!({}));
    }

    #[test]
    fn paths_read_like_kubernetes() {
        let s = set(json!({
            "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {"f:image": {}}}},
            "f:metadata": {"f:finalizers": {"v:\"x\"": {}}}
        }));
        assert_eq!(s.paths(), [".metadata.finalizers[=\"x\"]", ".spec.containers[name=\"web\"].image"]);
    }

    #[test]
    fn malformed_fields_v1_is_an_error() {
        assert!(FieldSet::from_fields_v1(&json!({"spec": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!([])).is_err());
    }
}
