//! Field managers: who owns which fields (`metadata.managedFields`), how an
//! update moves ownership, and how an apply merges, conflicts and prunes.

use std::fmt;

use k_api_types::meta::{ManagedFieldsEntry, Time};
use serde_json::Value;

use super::fieldset::FieldSet;
use super::schema::Shape;
use super::walk;

/// Which part of an object a write goes through, which decides the fields
/// it can own (Kubernetes resets the others).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The object itself; `status` is not owned through it when the kind
    /// has a status subresource.
    Object {
        /// Whether the kind has a `status` subresource.
        status_subresource: bool,
    },
    /// The `status` subresource: only `status` is owned through it.
    Status,
    /// Another subresource (such as `scale`): whatever it changes.
    Other,
}

/// Completes an object as the server will store it (its defaults).
pub trait Normalize: Send + Sync {
    /// The object as it would be stored.
    fn normalize(&self, object: &Value) -> Value;
}

/// What a write is: its schema, scope and version.
#[derive(Clone)]
pub struct Context<'a> {
    /// The kind's schema.
    pub shape: Shape<'a>,
    /// The part of the object written.
    pub scope: Scope,
    /// The `apiVersion` the write was made in.
    pub api_version: String,
    /// The subresource written ("" for the object itself).
    pub subresource: &'a str,
    /// Completes an object as the server will store it (defaults), so that
    /// an apply can tell whether it changes anything; `None` compares the
    /// merged object as it is.
    pub normalize: Option<&'a dyn Normalize>,
}

impl fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("shape", &self.shape)
            .field("scope", &self.scope)
            .field("api_version", &self.api_version)
            .field("subresource", &self.subresource)
            .field("normalize", &self.normalize.is_some())
            .finish()
    }
}

/// Metadata fields no manager owns: the server sets them.
const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "managedFields",
];

/// Metadata fields an applied configuration cannot set (the server's own):
/// dropped from it, as Kubernetes resets them.
const RESET_METADATA: &[&str] = &[
    "uid",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "managedFields",
];

impl Context<'_> {
    /// An applied configuration without what this write cannot change: the
    /// server's metadata, and `status` through the object of a kind with a
    /// status subresource (or everything but `status` through `status`).
    fn configuration(&self, applied: &Value) -> Value {
        let Value::Object(map) = applied else { return applied.clone() };
        let mut out = map.clone();
        match self.scope {
            Scope::Object { status_subresource: true } => {
                out.remove("status");
            }
            Scope::Status => out.retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status")),
            Scope::Object { .. } | Scope::Other => {}
        }
        if let Some(Value::Object(meta)) = out.get_mut("metadata") {
            meta.retain(|k, _| !RESET_METADATA.contains(&k.as_str()));
        }
        Value::Object(out)
    }

    /// [`tracked`](Self::tracked), for the tests.
    #[cfg(test)]
    pub(crate) fn tracked_for_tests(&self, object: &Value) -> Value {
        self.tracked(object)
    }

    /// The part of an object whose fields can be owned through this write.
    fn tracked(&self, object: &Value) -> Value {
        let Value::Object(map) = object else { return Value::Object(Default::default()) };
        let mut out = serde_json::Map::new();
        for (key, value) in map {
            match key.as_str() {
                "apiVersion" | "kind" => {}
                "status" if self.scope == (Scope::Object { status_subresource: true }) => {}
                _ if self.scope == Scope::Status && key != "status" => {}
                "metadata" => {
                    if let Value::Object(meta) = value {
                        let kept: serde_json::Map<String, Value> = meta
                            .iter()
                            .filter(|(k, _)| !SERVER_METADATA.contains(&k.as_str()))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect();
                        if !kept.is_empty() {
                            out.insert(key.clone(), Value::Object(kept));
                        }
                    }
                }
                _ => {
                    out.insert(key.clone(), value.clone());
                }
            }
        }
        Value::Object(out)
    }
}

/// One manager's entry, with its set decoded.
#[derive(Clone, Debug)]
struct Entry {
    raw: ManagedFieldsEntry,
    set: FieldSet,
}

impl Entry {
    fn is(&self, manager: &str, operation: &str, subresource: &str) -> bool {
        self.raw.manager == manager && self.raw.operation == operation && self.raw.subresource == subresource
    }

    fn encode(mut self) -> ManagedFieldsEntry {
        self.raw.fields_type = "FieldsV1".to_owned();
        self.raw.fields_v1 = Some(self.set.to_fields_v1());
        self.raw
    }
}

/// Decodes entries, dropping those whose field sets do not decode (kube
/// resets managed fields it cannot read).
fn decode(entries: &[ManagedFieldsEntry]) -> Vec<Entry> {
    entries
        .iter()
        .filter_map(|raw| {
            let set = match &raw.fields_v1 {
                Some(v) => FieldSet::from_fields_v1(v).ok()?,
                None => FieldSet::new(),
            };
            Some(Entry { raw: raw.clone(), set })
        })
        .collect()
}

fn encode(entries: Vec<Entry>) -> Vec<ManagedFieldsEntry> {
    entries.into_iter().filter(|e| !e.set.is_empty()).map(Entry::encode).collect()
}

fn new_entry(manager: &str, operation: &str, cx: &Context<'_>, set: FieldSet) -> Entry {
    Entry {
        raw: ManagedFieldsEntry {
            manager: manager.to_owned(),
            operation: operation.to_owned(),
            api_version: cx.api_version.clone(),
            time: Some(Time::now()),
            subresource: cx.subresource.to_owned(),
            ..Default::default()
        },
        set,
    }
}

/// The managed fields after a write that is not an apply (create, update,
/// patch): the fields it added or changed become `manager`'s (operation
/// `Update`) and no other manager's; fields it removed are nobody's.
///
/// `old` is `None` for a create. Returns `None` when nothing owned changed
/// (the entries stay as they are, times included).
pub fn update(
    entries: &[ManagedFieldsEntry],
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    cx: &Context<'_>,
) -> Option<Vec<ManagedFieldsEntry>> {
    if old.is_none() && entries.is_empty() {
        return created(new, manager, cx);
    }
    let (mut changed, mut removed) = (FieldSet::new(), FieldSet::new());
    let after = cx.tracked(new);
    match old {
        Some(old) => walk::diff(&cx.tracked(old), &after, cx.shape, &mut changed, &mut removed),
        None => walk::added_fields(&after, cx.shape, &mut changed),
    }
    if changed.is_empty() && removed.is_empty() {
        return None;
    }
    let mut entries = decode(entries);
    for entry in &mut entries {
        if !entry.is(manager, "Update", cx.subresource) {
            entry.set = entry.set.difference(&changed);
        }
        entry.set.remove_subtrees(&removed);
    }
    match entries.iter_mut().find(|e| e.is(manager, "Update", cx.subresource)) {
        Some(entry) => {
            entry.set.union(&changed);
            entry.raw.time = Some(Time::now());
            entry.raw.api_version = cx.api_version.clone();
        }
        None if !changed.is_empty() => entries.push(new_entry(manager, "Update", cx, changed)),
        None => {}
    }
    Some(encode(entries))
}

/// The entries of a new object: its creator owns every field (the same
/// result as [`walk::added_fields`], built straight into `FieldsV1`).
fn created(object: &Value, manager: &str, cx: &Context<'_>) -> Option<Vec<ManagedFieldsEntry>> {
    let Value::Object(map) = object else { return None };
    let mut fields = serde_json::Map::new();
    for (key, value) in map {
        let shape = cx.shape.field(key);
        let node = match key.as_str() {
            "apiVersion" | "kind" => continue,
            "status" if cx.scope == (Scope::Object { status_subresource: true }) => continue,
            _ if cx.scope == Scope::Status && key != "status" => continue,
            "metadata" => {
                let Value::Object(meta) = value else { continue };
                let mut node = serde_json::Map::new();
                for (k, v) in meta.iter().filter(|(k, _)| !SERVER_METADATA.contains(&k.as_str())) {
                    node.insert(format!("f:{k}"), walk::added_v1(v, shape.field(k)));
                }
                node
            }
            _ => match walk::added_v1(value, shape) {
                Value::Object(mut node) => {
                    // Top-level objects get no "." of their own (see added_fields).
                    if value.is_object() {
                        node.remove(".");
                    }
                    node
                }
                _ => continue,
            },
        };
        let leaf = !value.is_object() && !value.is_array() || node.is_empty() && !value.is_object();
        if !node.is_empty() || leaf {
            fields.insert(format!("f:{key}"), Value::Object(node));
        }
    }
    if fields.is_empty() {
        return None;
    }
    let mut entry = new_entry(manager, "Update", cx, FieldSet::new()).raw;
    entry.fields_type = "FieldsV1".to_owned();
    entry.fields_v1 = Some(Value::Object(fields));
    Some(vec![entry])
}

/// Fields an apply would change that other managers own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflicts(pub Vec<Conflict>);

/// One conflicting field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The manager that owns the field.
    pub manager: String,
    /// The subresource it wrote the field through ("" for none).
    pub subresource: String,
    /// The apiVersion it wrote in.
    pub api_version: String,
    /// The field, as `.spec.replicas`.
    pub path: String,
}

impl Conflict {
    /// The manager as Kubernetes names it in conflict messages:
    /// `"kubectl-scale" with subresource "scale" using apps/v1`.
    pub fn manager_display(&self) -> String {
        let mut out = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            out.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if !self.api_version.is_empty() {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }
}

impl fmt::Display for Conflicts {
    /// Kubernetes' wording: `Apply failed with 1 conflict: conflict with
    /// "kubectl-scale" using apps/v1: .spec.replicas`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [one] = self.0.as_slice() {
            return write!(f, "Apply failed with 1 conflict: conflict with {}: {}", one.manager_display(), one.path);
        }
        let mut managers: Vec<String> = self.0.iter().map(Conflict::manager_display).collect();
        managers.sort();
        managers.dedup();
        let mut lines = Vec::new();
        for manager in managers {
            lines.push(format!("conflicts with {manager}:"));
            for c in self.0.iter().filter(|c| c.manager_display() == manager) {
                lines.push(format!("- {}", c.path));
            }
        }
        write!(f, "Apply failed with {} conflicts: {}", self.0.len(), lines.join("\n"))
    }
}

/// The result of an apply.
#[derive(Clone, Debug)]
pub struct Applied {
    /// The object to write (the live object with the configuration merged in
    /// and the fields the manager stopped applying removed), without
    /// `metadata.managedFields`.
    pub object: Value,
    /// The managed fields to write with it.
    pub managed_fields: Vec<ManagedFieldsEntry>,
    /// Whether anything changed: an apply of the same configuration again
    /// changes nothing (not even times) and need not be written.
    pub changed: bool,
}

/// Server-side apply of the configuration `applied` by `manager` to the
/// live object (`None` when it does not exist yet).
///
/// The fields the configuration sets are the manager's (operation `Apply`).
/// A field it would change that another manager owns is a conflict, unless
/// `force` takes it from them. A field the manager applied before and leaves
/// out now is removed from the object, unless another manager owns it too.
///
/// # Errors
/// The conflicts, when there are some and `force` is false.
pub fn apply(
    entries: &[ManagedFieldsEntry],
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    cx: &Context<'_>,
) -> Result<Applied, Conflicts> {
    let empty = Value::Object(Default::default());
    let live_value = live.unwrap_or(&empty);
    let applied = &cx.configuration(applied);
    let mut merged = walk::merge(live_value, applied, cx.shape);
    if let Value::Object(m) = &mut merged
        && let Some(Value::Object(meta)) = m.get_mut("metadata")
    {
        meta.remove("managedFields");
    }
    // The object as it will be stored: fields the server drops (unknown to
    // the schema) cannot be owned, and defaults are no change.
    let stored = cx.tracked(&match cx.normalize {
        Some(n) => n.normalize(&merged),
        None => merged.clone(),
    });
    let claimed = {
        let mut all = FieldSet::new();
        let tracked_config = cx.tracked(applied);
        walk::set_of(&tracked_config, cx.shape, &mut all);
        let mut set = walk::present(&all, &stored, cx.shape);
        // A field set to null is claimed too: the configuration says it
        // must not be there.
        set.union(&walk::nulls(&tracked_config, cx.shape));
        set.clear_member();
        set
    };
    let (mut changed, mut removed) = (FieldSet::new(), FieldSet::new());
    walk::diff(&cx.tracked(live_value), &stored, cx.shape, &mut changed, &mut removed);
    let mut changing = changed.intersection(&claimed);
    let removing = removed.intersection(&claimed);
    changing.union(&removing);

    let mut entries = decode(entries);
    // An object nobody manages yet (written without field tracking) is
    // owned, for this first apply, by `before-first-apply`, as in Kubernetes:
    // changing what it holds is a conflict.
    if entries.is_empty()
        && let Some(live) = live
    {
        let mut set = FieldSet::new();
        walk::added_fields(&cx.tracked(live), cx.shape, &mut set);
        entries.push(new_entry("before-first-apply", "Update", cx, set));
    }
    let mut conflicts = Vec::new();
    let mut took = false;
    for entry in entries.iter_mut().filter(|e| !e.is(manager, "Apply", cx.subresource)) {
        let theirs = entry.set.intersection(&changing);
        if theirs.is_empty() {
            continue;
        }
        if force {
            took = true;
            entry.set = entry.set.difference(&theirs);
        } else {
            conflicts.extend(theirs.paths().into_iter().map(|path| Conflict {
                manager: entry.raw.manager.clone(),
                subresource: entry.raw.subresource.clone(),
                api_version: entry.raw.api_version.clone(),
                path,
            }));
        }
    }
    if !conflicts.is_empty() {
        return Err(Conflicts(conflicts));
    }
    // Fields the configuration removes are nobody's any more.
    for entry in entries.iter_mut().filter(|e| !e.is(manager, "Apply", cx.subresource)) {
        entry.set.remove_subtrees(&removing);
    }

    // Fields the manager applied before and no longer does, that nobody
    // else owns, go.
    let before = entries.iter().find(|e| e.is(manager, "Apply", cx.subresource)).map(|e| e.set.clone());
    if let Some(before) = &before {
        let mut others = FieldSet::new();
        for entry in entries.iter().filter(|e| !e.is(manager, "Apply", cx.subresource)) {
            others.union(&entry.set);
        }
        let gone = before.difference(&claimed).difference(&others);
        if !gone.is_empty() {
            let mut keep = others;
            keep.union(&claimed);
            walk::remove(&mut merged, &gone, &keep, cx.shape);
        }
    }

    let object_changed = live.is_none_or(|l| {
        let mut l = l.clone();
        if let Value::Object(m) = &mut l
            && let Some(Value::Object(meta)) = m.get_mut("metadata")
        {
            meta.remove("managedFields");
        }
        match cx.normalize {
            Some(normalize) => l != normalize.normalize(&merged),
            None => l != merged,
        }
    });
    let ownership_changed = before.as_ref() != Some(&claimed) || took;
    match entries.iter_mut().find(|e| e.is(manager, "Apply", cx.subresource)) {
        Some(entry) => {
            if object_changed || ownership_changed {
                entry.raw.time = Some(Time::now());
            }
            entry.raw.api_version = cx.api_version.clone();
            entry.set = claimed;
        }
        None => entries.push(new_entry(manager, "Apply", cx, claimed)),
    }
    let changed = object_changed || ownership_changed || before.is_none();
    Ok(Applied { object: merged, managed_fields: encode(entries), changed })
}
