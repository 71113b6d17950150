//! Applying a strategic merge patch to an object's JSON.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::StrategicMergeError as Error;
use super::meta::{FieldMeta, Node, PatchMeta, Registry, Strategy, UNKNOWN};

/// `$patch: replace | delete` in a map or a list item.
const DIRECTIVE: &str = "$patch";
/// `$retainKeys: [..]` in a map.
const RETAIN_KEYS: &str = "$retainKeys";
/// `$setElementOrder/<field>: [..]` beside a list field.
const SET_ELEMENT_ORDER: &str = "$setElementOrder";
/// `$deleteFromPrimitiveList/<field>: [..]` beside a list of scalars.
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";

/// Applies a strategic merge patch to the object's JSON, as kube-apiserver
/// does for `PATCH` with `Content-Type: application/strategic-merge-patch+json`.
///
/// `meta` describes the object's kind ([`PatchMeta::for_kind`]). Both the
/// object and the patch must be JSON objects. The result has no directives
/// left; it still has to be decoded, defaulted and validated as any update.
pub fn strategic_merge(original: &Value, patch: &Value, meta: &PatchMeta) -> Result<Value, Error> {
    let Value::Object(original) = original else { return Err(Error::NotAnObject { what: "object" }) };
    let Value::Object(patch) = patch else { return Err(Error::NotAnObject { what: "patch" }) };
    let merger = Merger { registry: meta.registry };
    let merged = merger.merge_map(original.clone(), patch.clone(), &meta.root, &Path::root())?;
    Ok(Value::Object(merged))
}

/// A place in the document, rendered only for error messages.
struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    step: Step<'a>,
}

#[derive(Clone, Copy)]
enum Step<'a> {
    Root,
    Key(&'a str),
    Index(usize),
}

impl<'a> Path<'a> {
    fn root() -> Path<'static> {
        Path { parent: None, step: Step::Root }
    }

    fn key(&'a self, key: &'a str) -> Path<'a> {
        Path { parent: Some(self), step: Step::Key(key) }
    }

    fn index(&'a self, index: usize) -> Path<'a> {
        Path { parent: Some(self), step: Step::Index(index) }
    }

    fn render(&self) -> String {
        let mut steps = Vec::new();
        let mut at = Some(self);
        while let Some(path) = at {
            steps.push(path.step);
            at = path.parent;
        }
        let mut out = String::new();
        for step in steps.iter().rev() {
            match step {
                Step::Root => {}
                Step::Key(key) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(key);
                }
                Step::Index(index) => {
                    let _ = write!(out, "[{index}]");
                }
            }
        }
        if out.is_empty() { "<root>".to_owned() } else { out }
    }
}

/// A `$patch` directive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Directive {
    Replace,
    Delete,
}

/// The `$patch` directive of a patch map.
fn map_directive(map: &Map<String, Value>, path: &Path<'_>) -> Result<Option<Directive>, Error> {
    match map.get(DIRECTIVE) {
        None => Ok(None),
        Some(Value::String(s)) if s == "replace" => Ok(Some(Directive::Replace)),
        Some(Value::String(s)) if s == "delete" => Ok(Some(Directive::Delete)),
        Some(other) => Err(Error::UnknownPatchType { path: path.render(), value: other.to_string() }),
    }
}

/// The `$patch` directive of an item of a patch list.
fn item_directive(map: &Map<String, Value>, path: &Path<'_>) -> Result<Option<Directive>, Error> {
    match map.get(DIRECTIVE) {
        Some(Value::String(s)) if s == "merge" => Err(Error::MergeDirectiveInList { path: path.render() }),
        _ => map_directive(map, path),
    }
}

/// The field a `$setElementOrder/<field>` or `$deleteFromPrimitiveList/<field>` key names.
fn directive_field<'k>(key: &'k str, prefix: &str, path: &Path<'_>) -> Result<&'k str, Error> {
    match key.split_once('/') {
        Some((head, field)) if head == prefix && !field.is_empty() => Ok(field),
        _ => Err(Error::InvalidDirective {
            path: path.render(),
            directive: key.to_owned(),
            reason: format!("expected {prefix}/<field>"),
        }),
    }
}

/// JSON equality, with numbers compared by value (`80` equals `80.0`), as
/// Kubernetes compares decoded values.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || (x.as_f64().is_some() && x.as_f64() == y.as_f64()),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Position of `id` among `ids`.
fn position(ids: &[Option<Value>], id: &Value) -> Option<usize> {
    ids.iter().position(|x| x.as_ref().is_some_and(|x| json_eq(x, id)))
}

/// What the items of a merged list are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ItemKind {
    Object,
    String,
    Number,
    Bool,
}

/// The common kind of the items of both lists (which are not both empty).
fn item_kind(original: &[Value], patch: &[Value], path: &Path<'_>) -> Result<ItemKind, Error> {
    let invalid = |reason| Error::InvalidList { path: path.render(), reason };
    let mut kind = None;
    for item in original.iter().chain(patch) {
        let this = match item {
            Value::Object(_) => ItemKind::Object,
            Value::String(_) => ItemKind::String,
            Value::Number(_) => ItemKind::Number,
            Value::Bool(_) => ItemKind::Bool,
            Value::Array(_) => return Err(invalid("lists of lists are not supported")),
            Value::Null => return Err(invalid("a merged list cannot hold null")),
        };
        match kind {
            None => kind = Some(this),
            Some(k) if k != this => return Err(invalid("list element types are not identical")),
            Some(_) => {}
        }
    }
    kind.ok_or_else(|| invalid("no elements in any of the given slices"))
}

/// The identity of an item for ordering: its merge key's value, or the item itself.
fn identity(item: &Value, key: Option<&str>, path: &Path<'_>) -> Result<Value, Error> {
    match key {
        None => Ok(item.clone()),
        Some(key) => item.get(key).cloned().ok_or_else(|| Error::MissingMergeKey {
            path: path.render(),
            key: key.to_owned(),
            item: item.to_string(),
        }),
    }
}

/// Orders a merged list: the items the patch (or its `$setElementOrder`)
/// names come in that order; the other items (the object's own) keep their
/// order, and each is placed before the first patch item that came after it
/// in the object.
fn order(
    merged: Vec<Value>,
    patch_ids: &[Option<Value>],
    server_ids: &[Option<Value>],
    key: Option<&str>,
    path: &Path<'_>,
) -> Result<Vec<Value>, Error> {
    let mut patch_items = Vec::new();
    let mut server_only = Vec::new();
    for item in merged {
        let id = identity(&item, key, path)?;
        match position(patch_ids, &id) {
            Some(at) => patch_items.push((at, position(server_ids, &id), item)),
            None => server_only.push((position(server_ids, &id).unwrap_or(usize::MAX), item)),
        }
    }
    patch_items.sort_by_key(|(at, _, _)| *at);
    server_only.sort_by_key(|(at, _)| *at);
    let mut out = Vec::with_capacity(patch_items.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = patch_items.into_iter().peekable();
    loop {
        let server_first = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some((l, _)), Some((_, r, _))) => *l != usize::MAX && r.is_some_and(|r| *l < r),
        };
        if server_first {
            out.extend(left.next().map(|(_, item)| item));
        } else {
            out.extend(right.next().map(|(_, _, item)| item));
        }
    }
    Ok(out)
}

/// Applies patches under the metadata of one kind.
struct Merger<'a> {
    registry: &'a Registry,
}

impl<'a> Merger<'a> {
    /// The field `key` of a value of shape `node`.
    fn field(&self, node: &'a Node, key: &str) -> &'a FieldMeta {
        self.registry.field(node, key).unwrap_or(&UNKNOWN)
    }

    /// Merges a patch map into an object map.
    fn merge_map(
        &self,
        mut original: Map<String, Value>,
        mut patch: Map<String, Value>,
        node: &'a Node,
        path: &Path<'_>,
    ) -> Result<Map<String, Value>, Error> {
        match map_directive(&patch, path)? {
            Some(Directive::Replace) => {
                patch.remove(DIRECTIVE);
                return self.merge_map(Map::new(), patch, node, path);
            }
            // Kubernetes keeps the key, with an empty map.
            Some(Directive::Delete) => return Ok(Map::new()),
            None => {}
        }
        if let Some(retain) = patch.remove(RETAIN_KEYS) {
            retain_keys(&mut original, &patch, retain, path)?;
        }
        let order_keys: Vec<String> = patch.keys().filter(|k| k.starts_with(SET_ELEMENT_ORDER)).cloned().collect();
        for key in order_keys {
            let order = patch.remove(&key).unwrap_or_default();
            self.set_element_order(&mut original, &mut patch, &key, order, node, path)?;
        }
        // Deletions from lists of scalars come last, so that they win over
        // additions of the same values (Kubernetes takes the keys in random
        // order).
        let mut deletions = Vec::new();
        for (key, value) in patch {
            if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
                deletions.push((key, value));
                continue;
            }
            if value.is_null() {
                original.remove(&key);
                continue;
            }
            let meta = self.field(node, &key);
            let merged = {
                let path = path.key(&key);
                match original.get_mut(&key) {
                    None => self.added(value, meta, &path)?,
                    Some(slot) => self.merge_value(slot.take(), value, meta, &path)?,
                }
            };
            match merged {
                Some(value) => {
                    original.insert(key, value);
                }
                None => {
                    original.remove(&key);
                }
            }
        }
        for (key, values) in deletions {
            let field = directive_field(&key, DELETE_FROM_PRIMITIVE_LIST, path)?;
            delete_from_primitive_list(&mut original, field, values, &key, path)?;
        }
        Ok(original)
    }

    /// Merges a patch value into the object's value of a field (`None`: drop the field).
    fn merge_value(
        &self,
        original: Value,
        patch: Value,
        meta: &'a FieldMeta,
        path: &Path<'_>,
    ) -> Result<Option<Value>, Error> {
        match (original, patch) {
            (Value::Object(original), Value::Object(patch)) => {
                let base = if meta.strategy == Strategy::Replace { Map::new() } else { original };
                Ok(Some(Value::Object(self.merge_map(base, patch, &meta.node, path)?)))
            }
            (Value::Array(original), Value::Array(patch)) => {
                Ok(Some(Value::Array(self.merge_list_field(original, patch, meta, path)?)))
            }
            (_, patch) => self.added(patch, meta, path),
        }
    }

    /// A patch value for a field the object lacks (or has with another JSON
    /// type): the value with its directives applied and its nulls dropped
    /// (`None`: a map deleted by `$patch: delete`, so no field).
    fn added(&self, value: Value, meta: &'a FieldMeta, path: &Path<'_>) -> Result<Option<Value>, Error> {
        match value {
            Value::Object(map) => match map_directive(&map, path)? {
                Some(Directive::Delete) => Ok(None),
                _ => Ok(Some(Value::Object(self.merge_map(Map::new(), map, &meta.node, path)?))),
            },
            Value::Array(items) => Ok(Some(Value::Array(self.added_list(items, meta, path)?))),
            other => Ok(Some(other)),
        }
    }

    /// A patch list that replaces (or creates) a list: items carrying a
    /// `$patch` directive are dropped, the others added as values.
    fn added_list(&self, items: Vec<Value>, meta: &'a FieldMeta, path: &Path<'_>) -> Result<Vec<Value>, Error> {
        let item_meta = meta.items();
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let path = path.index(index);
            if let Value::Object(map) = &item
                && map.contains_key(DIRECTIVE)
            {
                item_directive(map, &path)?;
                continue;
            }
            out.extend(self.added(item, item_meta, &path)?);
        }
        Ok(out)
    }

    /// Merges a patch list into the object's list of a field, by the field's strategy.
    fn merge_list_field(
        &self,
        original: Vec<Value>,
        patch: Vec<Value>,
        meta: &'a FieldMeta,
        path: &Path<'_>,
    ) -> Result<Vec<Value>, Error> {
        if meta.strategy == Strategy::Merge {
            self.merge_list(original, patch, meta, path)
        } else {
            self.added_list(patch, meta, path)
        }
    }

    /// Merges lists with the merge strategy: scalars as a set, objects by merge key.
    fn merge_list(
        &self,
        original: Vec<Value>,
        patch: Vec<Value>,
        meta: &'a FieldMeta,
        path: &Path<'_>,
    ) -> Result<Vec<Value>, Error> {
        if original.is_empty() && patch.is_empty() {
            return Ok(original);
        }
        if item_kind(&original, &patch, path)? != ItemKind::Object {
            let server_ids: Vec<Option<Value>> = original.iter().cloned().map(Some).collect();
            let patch_ids: Vec<Option<Value>> = patch.iter().cloned().map(Some).collect();
            let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
            for item in original.into_iter().chain(patch) {
                if !merged.iter().any(|m| json_eq(m, &item)) {
                    merged.push(item);
                }
            }
            return order(merged, &patch_ids, &server_ids, None, path);
        }
        let Some(key) = meta.merge_key else { return Err(Error::NoMergeKey { path: path.render() }) };
        let item_meta = meta.items();
        let mut original = original;
        let mut plain = Vec::with_capacity(patch.len());
        let mut replace = false;
        for (index, item) in patch.into_iter().enumerate() {
            let Value::Object(map) = item else { continue };
            let item_path = path.index(index);
            match item_directive(&map, &item_path)? {
                None => plain.push((index, map)),
                Some(Directive::Replace) => replace = true,
                Some(Directive::Delete) => {
                    let id = identity(&Value::Object(map), Some(key), &item_path)?;
                    original.retain(|o| !o.get(key).is_some_and(|v| json_eq(v, &id)));
                }
            }
        }
        if replace {
            // `{"$patch": "replace"}`: the other items are the whole list.
            let mut out = Vec::with_capacity(plain.len());
            for (index, map) in plain {
                let item_path = path.index(index);
                let merged = self.merge_map(Map::new(), map, &item_meta.node, &item_path)?;
                let item = Value::Object(merged);
                identity(&item, Some(key), &item_path)?;
                out.push(item);
            }
            return Ok(out);
        }
        let server_ids: Vec<Option<Value>> = original.iter().map(|o| o.get(key).cloned()).collect();
        let mut patch_ids = Vec::with_capacity(plain.len());
        let mut merged = original;
        for (index, map) in plain {
            let item_path = path.index(index);
            let Some(id) = map.get(key).cloned() else {
                return Err(Error::MissingMergeKey {
                    path: item_path.render(),
                    key: key.to_owned(),
                    item: Value::Object(map).to_string(),
                });
            };
            let found = merged.iter().position(|o| o.get(key).is_some_and(|v| json_eq(v, &id)));
            match found {
                Some(at) => {
                    let base = match merged[at].take() {
                        Value::Object(o) => o,
                        _ => Map::new(),
                    };
                    merged[at] = Value::Object(self.merge_map(base, map, &item_meta.node, &item_path)?);
                }
                None => merged.push(Value::Object(self.merge_map(Map::new(), map, &item_meta.node, &item_path)?)),
            }
            patch_ids.push(Some(id));
        }
        order(merged, &patch_ids, &server_ids, Some(key), path)
    }

    /// Applies `$setElementOrder/<field>`: merges the field's patch list (if
    /// any) and orders the result.
    fn set_element_order(
        &self,
        original: &mut Map<String, Value>,
        patch: &mut Map<String, Value>,
        directive: &str,
        order_list: Value,
        node: &'a Node,
        path: &Path<'_>,
    ) -> Result<(), Error> {
        let invalid = |reason: &str| Error::InvalidDirective {
            path: path.render(),
            directive: directive.to_owned(),
            reason: reason.to_owned(),
        };
        let Value::Array(order_list) = order_list else { return Err(invalid("not a list")) };
        let field = directive_field(directive, SET_ELEMENT_ORDER, path)?;
        let meta = self.field(node, field);
        let field_path = path.key(field);
        let original_list = match original.get_mut(field) {
            None | Some(Value::Null) => None,
            Some(Value::Array(list)) => Some(std::mem::take(list)),
            Some(_) => return Err(invalid("the object's field is not a list")),
        };
        let patch_list = match patch.remove(field) {
            None => None,
            Some(Value::Array(list)) => Some(list),
            Some(_) => return Err(invalid("the patch's field is not a list")),
        };
        let key = meta.merge_key;
        validate_order(patch_list.as_deref().unwrap_or_default(), &order_list, key, &field_path)?;
        let mut server_ids: Vec<Option<Value>> = match (&original_list, key) {
            (Some(list), Some(key)) => list.iter().map(|o| o.get(key).cloned()).collect(),
            (Some(list), None) => list.iter().cloned().map(Some).collect(),
            (None, _) => Vec::new(),
        };
        if let (Some(patch), Some(key), Strategy::Merge) = (&patch_list, key, meta.strategy) {
            server_ids = in_place_view(server_ids, patch, key);
        }
        if original_list.is_none() && patch_list.is_none() {
            return Ok(());
        }
        // Kubernetes insists on items of one type, and on at least one item.
        item_kind(
            original_list.as_deref().unwrap_or_default(),
            patch_list.as_deref().unwrap_or_default(),
            &field_path,
        )?;
        let merged = match (original_list, patch_list) {
            (Some(list), None) => list,
            (None, Some(list)) => self.added_list(list, meta, &field_path)?,
            (Some(original), Some(patch)) => self.merge_list_field(original, patch, meta, &field_path)?,
            (None, None) => return Ok(()),
        };
        let order_ids =
            order_list.iter().map(|item| identity(item, key, &field_path).map(Some)).collect::<Result<Vec<_>, _>>()?;
        let ordered = order(merged, &order_ids, &server_ids, key, &field_path)?;
        original.insert(field.to_owned(), Value::Array(ordered));
        Ok(())
    }
}

/// The object's list as Kubernetes sees it when it orders a merged list by
/// `$setElementOrder`: its merge of the patch list edited the object's list in
/// place (Go slices share their array), so that the positions it compares are
/// those of the list after `$patch: delete` items shifted the rest down and
/// the first added items took the freed slots (the slots past the shortened
/// list keep what was there).
fn in_place_view(mut ids: Vec<Option<Value>>, patch: &[Value], key: &str) -> Vec<Option<Value>> {
    let capacity = ids.len();
    let mut len = capacity;
    let id_of = |item: &Value| item.get(key).cloned();
    let mut added = Vec::new();
    for item in patch {
        let Some(map) = item.as_object() else { continue };
        match map.get(DIRECTIVE).and_then(Value::as_str) {
            None => added.extend(id_of(item)),
            Some("replace") => return ids,
            Some("delete") => {
                let Some(id) = id_of(item) else { continue };
                while let Some(at) = ids[..len].iter().position(|x| x.as_ref().is_some_and(|x| json_eq(x, &id))) {
                    // The items after it move down one slot; the last slot
                    // keeps its value.
                    for i in at..len - 1 {
                        ids[i] = ids[i + 1].clone();
                    }
                    len -= 1;
                }
            }
            Some(_) => {}
        }
    }
    for id in added {
        if ids[..len].iter().any(|x| x.as_ref().is_some_and(|x| json_eq(x, &id))) {
            continue;
        }
        if len == capacity {
            break;
        }
        ids[len] = Some(id);
        len += 1;
    }
    ids
}

/// Applies `$retainKeys`: checks that the patch sets only listed keys and
/// drops the object's keys that are not listed.
fn retain_keys(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    retain: Value,
    path: &Path<'_>,
) -> Result<(), Error> {
    let Value::Array(keys) = retain else {
        return Err(Error::InvalidRetainKeys { path: path.render(), reason: "not a list".to_owned() });
    };
    let listed = |k: &str| keys.iter().any(|x| x.as_str() == Some(k));
    for (key, value) in patch {
        if value.is_null() || key.starts_with(DELETE_FROM_PRIMITIVE_LIST) || key.starts_with(SET_ELEMENT_ORDER) {
            continue;
        }
        if !listed(key) {
            return Err(Error::InvalidRetainKeys {
                path: path.render(),
                reason: format!("the patch sets {key:?}, which is not listed"),
            });
        }
    }
    original.retain(|k, _| listed(k));
    Ok(())
}

/// Applies `$deleteFromPrimitiveList/<field>`: removes the listed values from the object's list.
fn delete_from_primitive_list(
    original: &mut Map<String, Value>,
    field: &str,
    values: Value,
    directive: &str,
    path: &Path<'_>,
) -> Result<(), Error> {
    match values {
        // As Kubernetes does: a null list removes the field.
        Value::Null => {
            original.remove(field);
        }
        Value::Array(values) => {
            if let Some(Value::Array(list)) = original.get_mut(field) {
                list.retain(|v| !values.iter().any(|d| json_eq(d, v)));
            }
        }
        _ => {
            return Err(Error::InvalidDirective {
                path: path.render(),
                directive: directive.to_owned(),
                reason: "not a list".to_owned(),
            });
        }
    }
    Ok(())
}

/// Checks that the items of a patch list come in the order of its
/// `$setElementOrder` list (items deleted by `$patch: delete` aside) and that
/// the order names all of them.
fn validate_order(patch: &[Value], order: &[Value], key: Option<&str>, path: &Path<'_>) -> Result<(), Error> {
    if patch.is_empty() || order.is_empty() {
        return Ok(());
    }
    let is_deleted = |item: &&Value| key.is_some() && item.get(DIRECTIVE).and_then(Value::as_str) == Some("delete");
    let items: Vec<&Value> = patch.iter().filter(|item| !is_deleted(item)).collect();
    let (mut at_patch, mut at_order) = (0, 0);
    while at_patch < items.len() && at_order < order.len() {
        let item = items[at_patch];
        if item.as_object().is_some_and(|m| m.contains_key(DIRECTIVE)) {
            at_patch += 1;
            continue;
        }
        let equal = match key {
            None => json_eq(item, &order[at_order]),
            Some(_) => json_eq(&identity(item, key, path)?, &identity(&order[at_order], key, path)?),
        };
        if equal {
            at_patch += 1;
        }
        at_order += 1;
    }
    if at_patch < items.len() {
        return Err(Error::OrderMismatch { path: path.render() });
    }
    Ok(())
}
