//! Read-only accessors over wire JSON: a missing field, or one of the wrong
//! type, reads as Go's zero value, as it would in a decoded Kubernetes object.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// The value at `path`, or `None` when a step is missing or the value is null.
pub(crate) fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for key in path {
        cur = cur.get(key)?;
    }
    (!cur.is_null()).then_some(cur)
}

/// Whether `path` holds a non-null value (a Go pointer that is set).
pub(crate) fn has(v: &Value, path: &[&str]) -> bool {
    at(v, path).is_some()
}

/// The string at `path`, if any.
pub(crate) fn opt_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(v, path).and_then(Value::as_str)
}

/// The string at `path`, empty when absent.
pub(crate) fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    opt_str(v, path).unwrap_or("")
}

/// The integer at `path`, if any (a float is truncated).
pub(crate) fn opt_int(v: &Value, path: &[&str]) -> Option<i64> {
    at(v, path).and_then(|x| x.as_i64().or_else(|| x.as_f64().map(|f| f as i64)))
}

/// The integer at `path`, 0 when absent.
pub(crate) fn int_at(v: &Value, path: &[&str]) -> i64 {
    opt_int(v, path).unwrap_or(0)
}

/// The boolean at `path`, if any.
pub(crate) fn opt_bool(v: &Value, path: &[&str]) -> Option<bool> {
    at(v, path).and_then(Value::as_bool)
}

/// The boolean at `path`, false when absent.
pub(crate) fn bool_at(v: &Value, path: &[&str]) -> bool {
    opt_bool(v, path).unwrap_or(false)
}

/// The array at `path`, empty when absent.
pub(crate) fn list_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    at(v, path).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// The object at `path`, if any.
pub(crate) fn map_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Map<String, Value>> {
    at(v, path).and_then(Value::as_object)
}

/// Number of entries of the object (or array) at `path`.
pub(crate) fn len_at(v: &Value, path: &[&str]) -> usize {
    match at(v, path) {
        Some(Value::Object(m)) => m.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    }
}

/// Parses an RFC 3339 timestamp as Kubernetes writes them.
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// The timestamp at `path`, if present and valid.
pub(crate) fn time_at(v: &Value, path: &[&str]) -> Option<DateTime<Utc>> {
    opt_str(v, path).and_then(parse_time)
}

/// `metadata.name`.
pub(crate) fn name(v: &Value) -> &str {
    str_at(v, &["metadata", "name"])
}

/// `metadata.annotations[key]`.
pub(crate) fn annotation<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    map_at(v, &["metadata", "annotations"]).and_then(|m| m.get(key)).and_then(Value::as_str)
}

/// Whether `metadata.deletionTimestamp` is set.
pub(crate) fn deleting(v: &Value) -> bool {
    has(v, &["metadata", "deletionTimestamp"])
}

/// The first element of `list` whose `type` is `type_`.
pub(crate) fn condition<'a>(list: &'a [Value], type_: &str) -> Option<&'a Value> {
    list.iter().find(|c| str_at(c, &["type"]) == type_)
}

/// Whether the first condition of `type_` in `list` has status `True`.
pub(crate) fn condition_true(list: &[Value], type_: &str) -> bool {
    condition(list, type_).is_some_and(|c| str_at(c, &["status"]) == "True")
}
