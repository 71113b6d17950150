//! Defaulting from the schema's `default`s, with kube's handling of `null`.

use serde_json::Value;

use super::{Node, StructuralSchema};

/// Applies the schema's `default`s to `object`, as kube-apiserver does after
/// pruning (on requests and on reads from storage).
///
/// First a `null` is dropped wherever the schema neither allows it
/// (`nullable: true`) nor has a default for it (nulls in arrays stay: there
/// is no field to drop). Then:
/// - an absent property with a `default` gets a copy of it, and so does a
///   property that is `null` but not `nullable`;
/// - a non-nullable `null` array item or map value (`additionalProperties`)
///   is replaced by the item or value schema's default;
/// - defaulting then recurses into every declared property, map value and
///   array item, including the values just defaulted (a `default: {}` object
///   gets its own fields' defaults).
///
/// A `default: null` never applies, and a `nullable` field's explicit `null`
/// is kept.
pub fn apply_defaults(schema: &StructuralSchema, object: &mut Value) {
    drop_nulls(object, Some(&schema.root));
    default(object, &schema.root);
}

/// Removes object fields that are `null` but neither nullable nor defaulted.
fn drop_nulls(x: &mut Value, s: Option<&Node>) {
    match x {
        Value::Object(map) => {
            map.retain(|k, v| {
                let field = s.and_then(|s| s.field(k));
                if v.is_null() && field.is_some_and(|f| !f.nullable && f.default.is_none()) {
                    return false;
                }
                drop_nulls(v, field);
                true
            });
        }
        Value::Array(items) => {
            let item_schema = s.and_then(|s| s.items.as_deref());
            for v in items {
                drop_nulls(v, item_schema);
            }
        }
        _ => {}
    }
}

fn non_nullable_null(x: &Value, s: &Node) -> bool {
    x.is_null() && !s.nullable
}

fn default(x: &mut Value, s: &Node) {
    match x {
        Value::Object(map) => {
            for (k, prop) in &s.properties {
                let Some(d) = &prop.default else { continue };
                if map.get(k).is_none_or(|v| non_nullable_null(v, prop)) {
                    map.insert(k.clone(), d.clone());
                }
            }
            for (k, v) in map.iter_mut() {
                if let Some(prop) = s.properties.get(k) {
                    default(v, prop);
                } else if let Some(a) = s.additional_schema() {
                    if non_nullable_null(v, a) {
                        *v = a.default.clone().unwrap_or(Value::Null);
                    }
                    default(v, a);
                }
            }
        }
        Value::Array(items) => {
            let Some(item_schema) = s.items.as_deref() else { return };
            for v in items {
                if non_nullable_null(v, item_schema) {
                    *v = item_schema.default.clone().unwrap_or(Value::Null);
                }
                default(v, item_schema);
            }
        }
        _ => {}
    }
}
