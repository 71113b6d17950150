//! Walks over objects and their schema: the field set of a value, the
//! changes between two values, the merge of an applied configuration into a
//! live object, and the removal of a set of fields.

use serde_json::{Map, Value};

use super::fieldset::FieldSet;
use super::schema::{ListKind, Shape};

/// The path element of field `name`.
fn field(name: &str) -> String {
    format!("f:{name}")
}

/// Whether a list's items can be a set (scalars only).
fn scalars(items: &[Value]) -> bool {
    items.iter().all(|v| !v.is_object() && !v.is_array())
}

/// The `k:` path element of each item of a keyed list, or `None` when an
/// item is not an object, misses a key field (without default) or repeats
/// another's key — such a list is treated as atomic.
fn keyed<'v>(items: &'v [Value], keys: &[String], shape: Shape<'_>) -> Option<Vec<(String, &'v Value)>> {
    let mut sorted: Vec<&String> = keys.iter().collect();
    sorted.sort();
    let mut out: Vec<(String, &Value)> = Vec::with_capacity(items.len());
    for item in items {
        let object = item.as_object()?;
        let mut key = Map::new();
        for name in &sorted {
            let value = match object.get(name.as_str()) {
                Some(v) if !v.is_null() => v.clone(),
                _ => Value::String(shape.key_default(name)?.to_owned()),
            };
            key.insert((*name).clone(), value);
        }
        // serde_json's map keeps keys sorted, as Kubernetes writes them.
        let element = format!("k:{}", Value::Object(key));
        if out.iter().any(|(k, _)| *k == element) {
            return None;
        }
        out.push((element, item));
    }
    Some(out)
}

/// Adds the paths of `value` to `node` (the node of the value's own path):
/// its leaves, each item of keyed lists and each value of sets (members of
/// their own), empty objects and atomic values as leaves. This is the set an
/// applied configuration claims.
pub(crate) fn set_of(value: &Value, shape: Shape<'_>, node: &mut FieldSet) {
    match value {
        Value::Object(map) if !shape.atomic_object() => {
            if map.is_empty() {
                node.set_member();
            }
            for (name, child) in map {
                set_of(child, shape.field(name), node.child(field(name)));
            }
        }
        Value::Array(items) if !items.is_empty() => match shape.list_kind() {
            ListKind::Set if scalars(items) => {
                for item in items {
                    node.child(format!("v:{item}")).set_member();
                }
            }
            ListKind::Map(keys) => match keyed(items, &keys, shape.items()) {
                Some(keyed) => {
                    for (key, item) in keyed {
                        let child = node.child(key);
                        child.set_member();
                        set_of(item, shape.items(), child);
                    }
                }
                None => node.set_member(),
            },
            _ => node.set_member(),
        },
        _ => node.set_member(),
    }
}

/// The paths of a value that was added: its own path and, all the way
/// down, the paths of its fields, keyed items and set values (so an added
/// object has its own `"."` member beside its fields'). The same set as
/// [`added_v1`], as a [`FieldSet`].
fn added(value: &Value, shape: Shape<'_>) -> FieldSet {
    let mut node = FieldSet::from_fields_v1(&added_v1(value, shape)).unwrap_or_default();
    node.set_member();
    node
}

/// Adds the fields of a new object (the root of a create): each with
/// everything below it, as [`added`] values. The top-level objects
/// (`metadata`, `spec`, …) get no `"."` of their own: every object has them,
/// as Kubernetes sees it.
pub(crate) fn added_fields(object: &Value, shape: Shape<'_>, out: &mut FieldSet) {
    if let Value::Object(map) = object {
        for (name, value) in map {
            let mut child = added(value, shape.field(name));
            if value.is_object() {
                child.clear_member();
            }
            *out.child(field(name)) = child;
        }
    }
}

/// The `FieldsV1` JSON of a value that was added: its own path (`"."` for
/// a value with children, `{}` for a leaf), and below it every field,
/// keyed item and set value. Creates build their managed fields with it
/// directly, without a [`FieldSet`].
pub(crate) fn added_v1(value: &Value, shape: Shape<'_>) -> Value {
    let mut map = Map::new();
    match value {
        Value::Object(fields) if !shape.atomic_object() => {
            for (name, child) in fields {
                map.insert(field(name), added_v1(child, shape.field(name)));
            }
        }
        Value::Array(items) if !items.is_empty() => match shape.list_kind() {
            ListKind::Set if scalars(items) => {
                for item in items {
                    map.insert(format!("v:{item}"), Value::Object(Map::new()));
                }
            }
            ListKind::Map(keys) => {
                if let Some(keyed) = keyed(items, &keys, shape.items()) {
                    for (key, item) in keyed {
                        map.insert(key, added_v1(item, shape.items()));
                    }
                }
            }
            _ => {}
        },
        _ => {}
    }
    if !map.is_empty() {
        map.insert(".".to_owned(), Value::Object(Map::new()));
    }
    Value::Object(map)
}

/// The changes from `old` to `new`: `changed` gets the paths added or given
/// another value, `removed` the paths whose whole subtree is gone.
pub(crate) fn diff(old: &Value, new: &Value, shape: Shape<'_>, changed: &mut FieldSet, removed: &mut FieldSet) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) if !shape.atomic_object() => {
            for (name, value) in b {
                let element = field(name);
                match a.get(name) {
                    None => *changed.child(element) = added(value, shape.field(name)),
                    Some(before) => {
                        let (mut c, mut r) = (FieldSet::new(), FieldSet::new());
                        diff(before, value, shape.field(name), &mut c, &mut r);
                        if !c.is_empty() {
                            *changed.child(element.clone()) = c;
                        }
                        if !r.is_empty() {
                            *removed.child(element) = r;
                        }
                    }
                }
            }
            for name in a.keys().filter(|k| !b.contains_key(*k)) {
                removed.child(field(name)).set_member();
            }
        }
        (Value::Array(a), Value::Array(b)) => diff_lists(a, b, shape, changed, removed),
        _ => {
            if old != new {
                changed.set_member();
            }
        }
    }
}

fn diff_lists(a: &[Value], b: &[Value], shape: Shape<'_>, changed: &mut FieldSet, removed: &mut FieldSet) {
    match shape.list_kind() {
        ListKind::Set if scalars(a) && scalars(b) => {
            for item in b.iter().filter(|v| !a.contains(v)) {
                changed.child(format!("v:{item}")).set_member();
            }
            for item in a.iter().filter(|v| !b.contains(v)) {
                removed.child(format!("v:{item}")).set_member();
            }
        }
        ListKind::Map(keys) => {
            let items = shape.items();
            match (keyed(a, &keys, items), keyed(b, &keys, items)) {
                (Some(before), Some(after)) => {
                    for (key, value) in &after {
                        match before.iter().find(|(k, _)| k == key) {
                            None => *changed.child(key.clone()) = added(value, items),
                            Some((_, old)) => {
                                let (mut c, mut r) = (FieldSet::new(), FieldSet::new());
                                diff(old, value, items, &mut c, &mut r);
                                if !c.is_empty() {
                                    *changed.child(key.clone()) = c;
                                }
                                if !r.is_empty() {
                                    *removed.child(key.clone()) = r;
                                }
                            }
                        }
                    }
                    for (key, _) in before.iter().filter(|(k, _)| !after.iter().any(|(j, _)| j == k)) {
                        removed.child(key.clone()).set_member();
                    }
                }
                _ if a != b => changed.set_member(),
                _ => {}
            }
        }
        _ => {
            if a != b {
                changed.set_member();
            }
        }
    }
}

/// Merges an applied configuration into a live value: objects merge field by
/// field (a `null` removes the field), keyed lists merge item by item, sets
/// take the union, and everything else is replaced by the applied value.
/// Merged lists follow the configuration's order; items only the live list
/// has keep their places after the item they followed.
pub(crate) fn merge(live: &Value, applied: &Value, shape: Shape<'_>) -> Value {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) if !shape.atomic_object() => {
            let mut out = l.clone();
            for (name, value) in a {
                if value.is_null() {
                    out.remove(name);
                    continue;
                }
                let merged = match l.get(name) {
                    Some(before) => merge(before, value, shape.field(name)),
                    None => value.clone(),
                };
                out.insert(name.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(a)) => match shape.list_kind() {
            ListKind::Set if scalars(l) && scalars(a) => {
                let before: Vec<(String, &Value)> = l.iter().map(|v| (v.to_string(), v)).collect();
                let after: Vec<(String, &Value)> = a.iter().map(|v| (v.to_string(), v)).collect();
                Value::Array(interleave(&before, &after, |_, v| v.clone()))
            }
            ListKind::Map(keys) => {
                let items = shape.items();
                match (keyed(l, &keys, items), keyed(a, &keys, items)) {
                    (Some(before), Some(after)) => {
                        Value::Array(interleave(&before, &after, |live, applied| match live {
                            Some(live) => merge(live, applied, items),
                            None => applied.clone(),
                        }))
                    }
                    _ => applied.clone(),
                }
            }
            _ => applied.clone(),
        },
        _ => applied.clone(),
    }
}

/// Orders a merged list: the applied items in their order (each made by
/// `item` from its live counterpart, if any, and itself), and after each
/// item the live-only items that followed it in the live list (those before
/// any shared item come first). An item applied twice appears once.
fn interleave(
    live: &[(String, &Value)],
    applied: &[(String, &Value)],
    item: impl Fn(Option<&Value>, &Value) -> Value,
) -> Vec<Value> {
    let shared = |key: &str| applied.iter().any(|(k, _)| k == key);
    let mut front = Vec::new();
    let mut following: Vec<(&str, Vec<&Value>)> = Vec::new();
    let mut last: Option<&str> = None;
    for (key, value) in live {
        if shared(key) {
            last = Some(key);
        } else {
            match last {
                None => front.push(*value),
                Some(after) => match following.iter_mut().find(|(k, _)| *k == after) {
                    Some((_, list)) => list.push(value),
                    None => following.push((after, vec![value])),
                },
            }
        }
    }
    let mut out: Vec<Value> = front.into_iter().cloned().collect();
    let mut emitted: Vec<&str> = Vec::new();
    for (key, value) in applied {
        // A value applied twice is one member of the set.
        if emitted.contains(&key.as_str()) {
            continue;
        }
        emitted.push(key);
        let live_item = live.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
        out.push(item(live_item, value));
        if let Some((_, rest)) = following.iter().find(|(k, _)| k == key) {
            out.extend(rest.iter().map(|v| (*v).clone()));
        }
    }
    out
}

/// The paths of the fields a configuration sets to `null` (in objects it
/// merges into, not inside values it replaces whole).
pub(crate) fn nulls(value: &Value, shape: Shape<'_>) -> FieldSet {
    let mut out = FieldSet::new();
    match value {
        Value::Object(map) if !shape.atomic_object() => {
            for (name, child) in map {
                let inner = if child.is_null() {
                    let mut leaf = FieldSet::new();
                    leaf.set_member();
                    leaf
                } else {
                    nulls(child, shape.field(name))
                };
                if !inner.is_empty() {
                    *out.child(field(name)) = inner;
                }
            }
        }
        Value::Array(items) => {
            if let ListKind::Map(keys) = shape.list_kind() {
                for (key, item) in keyed(items, &keys, shape.items()).unwrap_or_default() {
                    let inner = nulls(item, shape.items());
                    if !inner.is_empty() {
                        *out.child(key) = inner;
                    }
                }
            }
        }
        _ => {}
    }
    out
}

/// The paths of `set` that `value` has (a field the server dropped, or an
/// item or set value that is not there, is left out).
pub(crate) fn present(set: &FieldSet, value: &Value, shape: Shape<'_>) -> FieldSet {
    let mut out = FieldSet::new();
    if set.is_member() {
        out.set_member();
    }
    match value {
        Value::Object(map) if !shape.atomic_object() => {
            for (element, child) in set.children() {
                if let Some(name) = element.strip_prefix("f:")
                    && let Some(inner) = map.get(name)
                {
                    let kept = present(child, inner, shape.field(name));
                    if !kept.is_empty() {
                        *out.child(element) = kept;
                    }
                }
            }
        }
        Value::Array(items) => match shape.list_kind() {
            ListKind::Set => {
                for (element, child) in set.children() {
                    let found = element
                        .strip_prefix("v:")
                        .and_then(|v| serde_json::from_str::<Value>(v).ok())
                        .is_some_and(|v| items.contains(&v));
                    if found {
                        *out.child(element) = child.clone();
                    }
                }
            }
            ListKind::Map(keys) => {
                let item_shape = shape.items();
                for (key, item) in keyed(items, &keys, item_shape).unwrap_or_default() {
                    if let Some(child) = set.get(&key) {
                        let kept = present(child, item, item_shape);
                        if !kept.is_empty() {
                            *out.child(key) = kept;
                        }
                    }
                }
            }
            ListKind::Atomic => {}
        },
        _ => {}
    }
    out
}

/// Whether a value is an empty object or list.
fn is_empty_container(value: &Value) -> bool {
    match value {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Removes the members of `set` from `value`: a member field, item or set
/// value goes with everything below it — unless `keep` has paths below it
/// (someone still owns part of it), in which case only its parts that are
/// members of `set` go. Objects and lists left empty by the removal go too.
pub(crate) fn remove(value: &mut Value, set: &FieldSet, keep: &FieldSet, shape: Shape<'_>) {
    let empty = FieldSet::new();
    let kept = |element: &str| keep.get(element).unwrap_or(&empty);
    let partly_kept = |element: &str| keep.get(element).is_some_and(|k| !k.is_empty());
    match value {
        Value::Object(map) if !shape.atomic_object() => {
            for (element, child) in set.children() {
                let Some(name) = element.strip_prefix("f:") else { continue };
                if child.is_member() && !partly_kept(element) {
                    map.remove(name);
                } else if let Some(inner) = map.get_mut(name) {
                    let was_empty = is_empty_container(inner);
                    remove(inner, child, kept(element), shape.field(name));
                    if !was_empty && is_empty_container(inner) {
                        map.remove(name);
                    }
                }
            }
        }
        Value::Array(items) => match shape.list_kind() {
            ListKind::Set => {
                items.retain(|item| {
                    let element = format!("v:{item}");
                    !set.get(&element).is_some_and(FieldSet::is_member) || partly_kept(&element)
                });
            }
            ListKind::Map(keys) => {
                let item_shape = shape.items();
                let Some(keys) =
                    keyed(items, &keys, item_shape).map(|k| k.into_iter().map(|(k, _)| k).collect::<Vec<_>>())
                else {
                    return;
                };
                let mut out = Vec::with_capacity(items.len());
                for (key, mut item) in keys.into_iter().zip(std::mem::take(items)) {
                    match set.get(&key) {
                        Some(child) if child.is_member() && !partly_kept(&key) => {}
                        Some(child) => {
                            remove(&mut item, child, kept(&key), item_shape);
                            out.push(item);
                        }
                        None => out.push(item),
                    }
                }
                *items = out;
            }
            ListKind::Atomic => {}
        },
        _ => {}
    }
}
