//! `x-kubernetes-list-type`: the items of a `set` list are unique, and so are
//! the `x-kubernetes-list-map-keys` of a `map` list's items.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{Node, gofmt};
use crate::validation::{ErrorList, FieldError, Path};

/// Checks every `set` and `map` list in `x`.
pub(super) fn validate(s: &Node, x: &Value, path: &Path, errors: &mut ErrorList) {
    match x {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            if let Some(a) = s.additional_schema() {
                for k in &keys {
                    if !s.properties.contains_key(k.as_str()) {
                        validate(a, &map[k.as_str()], &path.key(k), errors);
                    }
                }
            }
            for k in keys {
                if let Some(prop) = s.properties.get(k) {
                    validate(prop, &map[k], &path.child(k), errors);
                }
            }
        }
        Value::Array(items) => {
            match s.list_type.as_deref() {
                Some("set") => {
                    for i in first_repeats(items.iter().map(Key::of)) {
                        errors.push(FieldError::duplicate(&path.index(i), &items[i]));
                    }
                }
                Some("map") => map_list(s, items, path, errors),
                _ => {}
            }
            if let Some(item_schema) = &s.items {
                for (i, v) in items.iter().enumerate() {
                    validate(item_schema, v, &path.index(i), errors);
                }
            }
        }
        _ => {}
    }
}

/// What makes two items equal: scalars by type and value (`1` and `1.0`
/// differ), objects and arrays by their JSON text (where they do not).
#[derive(PartialEq, Eq, Hash)]
enum Key {
    /// A map-list item without the key field.
    Unspecified,
    Null,
    Bool(bool),
    Int(i64),
    Float(u64),
    Str(String),
    Compound(String),
}

impl Key {
    fn of(v: &Value) -> Self {
        match v {
            Value::Null => Self::Null,
            Value::Bool(b) => Self::Bool(*b),
            Value::String(s) => Self::Str(s.clone()),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Self::Int(i),
                None => Self::Float(n.as_f64().unwrap_or_default().to_bits()),
            },
            Value::Array(_) | Value::Object(_) => Self::Compound(gofmt::json(v)),
        }
    }
}

/// The indexes of the second occurrence of each repeated key.
fn first_repeats(keys: impl Iterator<Item = Key>) -> Vec<usize> {
    let mut seen: HashMap<Key, usize> = HashMap::new();
    let mut out = Vec::new();
    for (i, k) in keys.enumerate() {
        let n = seen.entry(k).or_insert(0);
        *n += 1;
        if *n == 2 {
            out.push(i);
        }
    }
    out
}

fn map_list(s: &Node, items: &[Value], path: &Path, errors: &mut ErrorList) {
    if let Some(i) = items.iter().position(|x| !x.is_null() && !x.is_object()) {
        errors.push(FieldError::invalid(&path.index(i), &items[i], "must be an object for an array of list-type map"));
        return;
    }
    if let [key] = s.list_map_keys.as_slice() {
        let values: Vec<Option<&Value>> = items.iter().map(|x| x.get(key)).collect();
        let keys = values.iter().map(|v| v.map_or(Key::Unspecified, Key::of));
        for i in first_repeats(keys) {
            let mut dup = Map::new();
            if let Some(v) = values[i] {
                dup.insert(key.clone(), v.clone());
            }
            errors.push(FieldError::duplicate(&path.index(i), Value::Object(dup)));
        }
        return;
    }
    let tuples: Vec<Value> = items
        .iter()
        .map(|x| {
            let mut m = Map::new();
            for k in &s.list_map_keys {
                if let Some(v) = x.get(k) {
                    m.insert(k.clone(), v.clone());
                }
            }
            Value::Object(m)
        })
        .collect();
    for i in first_repeats(tuples.iter().map(Key::of)) {
        errors.push(FieldError::duplicate(&path.index(i), &tuples[i]));
    }
}
