//! Cell formatting shared by the printers: labels, label selectors, container
//! lists, quantities, access modes and Go's `%v` rendering of JSON values.

use std::fmt::Write as _;

use k_api_types::quantity::Quantity;
use serde_json::{Map, Value};

use super::json::{list_at, str_at};

/// `k=v` pairs sorted by key and joined by `,`; `<none>` when empty.
pub(crate) fn labels(map: Option<&Map<String, Value>>) -> String {
    let Some(map) = map.filter(|m| !m.is_empty()) else {
        return "<none>".to_owned();
    };
    let mut pairs: Vec<(&String, &str)> = map.iter().map(|(k, v)| (k, v.as_str().unwrap_or(""))).collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// A label selector (`matchLabels` / `matchExpressions`) in the text form
/// selectors print in: requirements sorted by key, `a=b`, `k in (x,y)`,
/// `k notin (x)`, `k`, `!k`, joined by `,`. A missing or empty selector is the
/// empty string; an invalid one is `Err`.
pub(crate) fn label_selector(sel: Option<&Value>) -> Result<String, ()> {
    let Some(sel) = sel.filter(|s| s.is_object()) else {
        return Ok(String::new());
    };
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            reqs.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or(""))));
        }
    }
    for expr in list_at(sel, &["matchExpressions"]) {
        let key = str_at(expr, &["key"]);
        let mut values: Vec<&str> = list_at(expr, &["values"]).iter().filter_map(Value::as_str).collect();
        values.sort_unstable();
        let text = match str_at(expr, &["operator"]) {
            op @ ("In" | "NotIn") => {
                if values.is_empty() {
                    return Err(());
                }
                let word = if op == "In" { "in" } else { "notin" };
                format!("{key} {word} ({})", values.join(","))
            }
            "Exists" if values.is_empty() => key.to_owned(),
            "DoesNotExist" if values.is_empty() => format!("!{key}"),
            _ => return Err(()),
        };
        reqs.push((key.to_owned(), text));
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(reqs.into_iter().map(|(_, t)| t).collect::<Vec<_>>().join(","))
}

/// A label selector for display: `<none>` when it selects by nothing,
/// `<error>` when invalid.
pub(crate) fn format_label_selector(sel: Option<&Value>) -> String {
    match label_selector(sel) {
        Ok(s) if s.is_empty() => "<none>".to_owned(),
        Ok(s) => s,
        Err(()) => "<error>".to_owned(),
    }
}

/// Container names and images, each joined by `,`.
pub(crate) fn containers(list: &[Value]) -> (String, String) {
    let names: Vec<&str> = list.iter().map(|c| str_at(c, &["name"])).collect();
    let images: Vec<&str> = list.iter().map(|c| str_at(c, &["image"])).collect();
    (names.join(","), images.join(","))
}

/// A quantity in canonical form (`1Gi`, `500m`); a missing one is `0`.
pub(crate) fn quantity(v: Option<&Value>) -> String {
    quantity_or(v, "0")
}

/// A quantity that is a pointer in Go: a missing one prints `<nil>`.
pub(crate) fn quantity_ptr(v: Option<&Value>) -> String {
    quantity_or(v, "<nil>")
}

fn quantity_or(v: Option<&Value>, missing: &str) -> String {
    let text = match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return missing.to_owned(),
    };
    text.trim().parse::<Quantity>().map(|q| q.to_string()).unwrap_or(text)
}

/// Access modes abbreviated in a fixed order: `RWO,ROX,RWX,RWOP`.
pub(crate) fn access_modes(list: &[Value]) -> String {
    let has = |m: &str| list.iter().any(|v| v.as_str() == Some(m));
    [("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP")]
        .iter()
        .filter(|(mode, _)| has(mode))
        .map(|(_, short)| *short)
        .collect::<Vec<_>>()
        .join(",")
}

/// At most `max` items joined by `,`, then ` + N more...`; `<unset>` when empty.
pub(crate) fn list_with_more(items: &[String], max: usize) -> String {
    if items.len() > max {
        return format!("{} + {} more...", items[..max].join(","), items.len() - max);
    }
    if items.is_empty() { "<unset>".to_owned() } else { items.join(",") }
}

/// An int-or-string value as text (`3`, `50%`).
pub(crate) fn int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// `True` / `False`, or `<unset>` for a missing boolean.
pub(crate) fn bool_ptr(v: Option<bool>) -> String {
    match v {
        Some(true) => "True".to_owned(),
        Some(false) => "False".to_owned(),
        None => "<unset>".to_owned(),
    }
}

/// A JSON value as Go's `fmt.Print` renders the decoded value: strings bare,
/// maps as `map[k:v ...]` with sorted keys, arrays as `[a b]`, null as `<nil>`.
pub(crate) fn go_value(v: &Value) -> String {
    let mut out = String::new();
    write_go_value(&mut out, v);
    out
}

fn write_go_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => {
                let _ = write!(out, "{i}");
            }
            (None, Some(u)) => {
                let _ = write!(out, "{u}");
            }
            _ => out.push_str(&go_float(n.as_f64().unwrap_or(0.0))),
        },
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_go_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push_str("map[");
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_go_value(out, &map[k.as_str()]);
            }
            out.push(']');
        }
    }
}

/// A float as Go's `%v` writes it: the shortest digits that round-trip, in
/// exponent form (`1e+06`, `1.5e-07`) when the exponent is below -4 or at
/// least 6 (beyond Go's default precision), plain decimal otherwise.
pub(crate) fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".to_owned() } else { "-Inf".to_owned() };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: `-1.2345e6`.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = mantissa.strip_prefix('-').map_or(("", mantissa), |m| ("-", m));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if !(-4..6).contains(&exp) {
        let mut out = format!("{sign}{}", &digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.unsigned_abs());
        return out;
    }
    if exp < 0 {
        let zeros = "0".repeat((-exp - 1) as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let int_len = exp as usize + 1;
    if digits.len() <= int_len {
        format!("{sign}{digits}{}", "0".repeat(int_len - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_are_sorted_or_none() {
        let m = json!({"tier": "web", "app": "nginx"});
        assert_eq!(labels(m.as_object()), "app=nginx,tier=web");
        assert_eq!(labels(json!({}).as_object()), "<none>");
        assert_eq!(labels(None), "<none>");
    }

    #[test]
    fn selectors_print_requirements_sorted_by_key() {
        let sel = json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["prod", "canary"]},
                {"key": "env", "operator": "NotIn", "values": ["dev"]},
                {"key": "gpu", "operator": "Exists"},
                {"key": "zz", "operator": "DoesNotExist"}
            ]
        });
        assert_eq!(label_selector(Some(&sel)).unwrap(), "app=web,env notin (dev),gpu,tier in (canary,prod),!zz");
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        assert_eq!(format_label_selector(None), "<none>");
        assert_eq!(label_selector(None).unwrap(), "");
        let bad = json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]});
        assert_eq!(format_label_selector(Some(&bad)), "<error>");
        let bad = json!({"matchExpressions": [{"key": "a", "operator": "Matches"}]});
        assert!(label_selector(Some(&bad)).is_err());
    }

    #[test]
    fn containers_join_names_and_images() {
        let list = json!([{"name": "app", "image": "nginx:1.25"}, {"name": "sidecar", "image": "envoy:v1"}]);
        let (n, i) = containers(list.as_array().unwrap());
        assert_eq!(n, "app,sidecar");
        assert_eq!(i, "nginx:1.25,envoy:v1");
        assert_eq!(containers(&[]), (String::new(), String::new()));
    }

    #[test]
    fn quantities_are_canonical() {
        assert_eq!(quantity(Some(&json!("1024Mi"))), "1Gi");
        assert_eq!(quantity(Some(&json!("0.5"))), "500m");
        assert_eq!(quantity(Some(&json!(2))), "2");
        assert_eq!(quantity(None), "0");
        assert_eq!(quantity_ptr(None), "<nil>");
        assert_eq!(quantity(Some(&json!("garbage"))), "garbage");
    }

    #[test]
    fn access_modes_in_fixed_order() {
        let m = json!(["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"]);
        assert_eq!(access_modes(m.as_array().unwrap()), "RWO,RWX");
        assert_eq!(access_modes(&[json!("ReadWriteOncePod"), json!("ReadOnlyMany")]), "ROX,RWOP");
        assert_eq!(access_modes(&[]), "");
    }

    #[test]
    fn lists_with_more() {
        let items: Vec<String> = ["a", "b", "c", "d", "e"].iter().map(|s| s.to_string()).collect();
        assert_eq!(list_with_more(&items, 3), "a,b,c + 2 more...");
        assert_eq!(list_with_more(&items[..3], 3), "a,b,c");
        assert_eq!(list_with_more(&[], 3), "<unset>");
    }

    #[test]
    fn go_values() {
        assert_eq!(go_value(&json!("x")), "x");
        assert_eq!(go_value(&json!(3)), "3");
        assert_eq!(go_value(&json!(true)), "true");
        assert_eq!(go_value(&json!(null)), "<nil>");
        assert_eq!(go_value(&json!(["a", 1, null])), "[a 1 <nil>]");
        assert_eq!(go_value(&json!({"b": {"c": 1.5}, "a": [true]})), "map[a:[true] b:map[c:1.5]]");
    }

    #[test]
    fn go_floats() {
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(3.0), "3");
        assert_eq!(go_float(-0.25), "-0.25");
        assert_eq!(go_float(123456.0), "123456");
        assert_eq!(go_float(1234567.0), "1.234567e+06");
        assert_eq!(go_float(1e6), "1e+06");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(1.5e-7), "1.5e-07");
        assert_eq!(go_float(1e100), "1e+100");
        assert_eq!(go_float(0.0), "0");
        assert_eq!(go_float(f64::INFINITY), "+Inf");
    }
}
