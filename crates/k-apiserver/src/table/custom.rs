//! Custom resources: the Name column plus the CRD version's
//! `additionalPrinterColumns`, each a JSONPath evaluated against the object.

use chrono::{DateTime, Utc};
use k_api_types::apiextensions::v1::CustomResourceColumnDefinition;
use k_api_types::meta::TableColumnDefinition;
use serde_json::Value;

use super::duration::since;
use super::format::go_value;
use super::json::{name, parse_time};
use super::jsonpath::JsonPath;
use super::{AGE, NAME};

/// The parsed printer columns of one custom resource version.
#[derive(Debug)]
pub(crate) struct CustomColumns {
    columns: Vec<(TableColumnDefinition, JsonPath)>,
}

impl CustomColumns {
    /// Parses the CRD's columns. An empty list means the default `Age` column.
    /// A column whose path does not parse drops it and every column after it,
    /// as kube-apiserver keeps only the columns it read before the error.
    pub(crate) fn new(defs: &[CustomResourceColumnDefinition]) -> Self {
        let default_age;
        let defs = if defs.is_empty() {
            default_age = [CustomResourceColumnDefinition {
                name: AGE.name.to_owned(),
                type_: "date".to_owned(),
                description: Some(AGE.description.to_owned()),
                json_path: ".metadata.creationTimestamp".to_owned(),
                ..Default::default()
            }];
            &default_age[..]
        } else {
            defs
        };
        let mut columns = Vec::with_capacity(defs.len());
        for def in defs {
            let Ok(path) = JsonPath::parse(&def.json_path) else { break };
            let description = match def.description.as_deref() {
                Some(d) if !d.is_empty() => d.to_owned(),
                _ => format!("Custom resource column, JSONPath {}", def.json_path),
            };
            let column = TableColumnDefinition {
                name: def.name.clone(),
                type_: def.type_.clone(),
                format: def.format.clone().unwrap_or_default(),
                description,
                priority: def.priority.unwrap_or(0),
            };
            columns.push((column, path));
        }
        Self { columns }
    }

    /// Name followed by the custom columns.
    pub(crate) fn definitions(&self) -> Vec<TableColumnDefinition> {
        std::iter::once(NAME.definition()).chain(self.columns.iter().map(|(c, _)| c.clone())).collect()
    }

    /// The cells of one object.
    pub(crate) fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        std::iter::once(Value::from(name(obj)))
            .chain(self.columns.iter().map(|(col, path)| cell(&col.type_, path, obj, now)))
            .collect()
    }
}

/// One cell: the first value the path selects, typed by the column; null when
/// nothing is selected, evaluation fails or the value has the wrong type.
fn cell(type_: &str, path: &JsonPath, obj: &Value, now: DateTime<Utc>) -> Value {
    let Ok(found) = path.find(obj) else { return Value::Null };
    let Some(value) = found.first() else { return Value::Null };
    if type_ == "string" {
        // Anything prints as text; a null prints as Go's missing value.
        return Value::from(if value.is_null() { "<no value>".to_owned() } else { go_value(value) });
    }
    match (type_, *value) {
        (_, Value::Null) => Value::Null,
        ("integer", Value::Number(n)) => Value::from(n.as_i64().unwrap_or_else(|| n.as_f64().map_or(0, |f| f as i64))),
        ("number", Value::Number(n)) => number_cell(n.as_f64().unwrap_or(0.0)),
        ("boolean", Value::Bool(b)) => Value::from(*b),
        ("date", Value::String(s)) => {
            if s.is_empty() || s == "null" {
                return Value::from("<unknown>");
            }
            match parse_time(s) {
                Some(t) => Value::from(since(Some(t), now)),
                None => Value::from("<invalid>"),
            }
        }
        _ => Value::Null,
    }
}

/// A float cell written as Go writes a float64: integral values without a
/// fraction (`3`, not `3.0`).
fn number_cell(f: f64) -> Value {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        parse_time("2024-06-01T12:00:00Z").unwrap()
    }

    fn col(name: &str, type_: &str, path: &str, priority: Option<i32>) -> CustomResourceColumnDefinition {
        CustomResourceColumnDefinition {
            name: name.to_owned(),
            type_: type_.to_owned(),
            json_path: path.to_owned(),
            priority,
            ..Default::default()
        }
    }

    fn certificate() -> Value {
        json!({
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": "web-tls", "namespace": "default", "creationTimestamp": "2024-06-01T09:00:00Z"},
            "spec": {"secretName": "web-tls", "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"},
                     "dnsNames": ["a.example.com", "b.example.com"], "replicas": 2.0, "weight": 0.25,
                     "labels": {"b": 1, "a": "x"}},
            "status": {
                "conditions": [
                    {"type": "Issuing", "status": "False"},
                    {"type": "Ready", "status": "True", "message": "Certificate is up to date and has not expired"}
                ],
                "notAfter": "2024-08-30T09:00:00Z",
                "renewed": true,
                "revision": 3,
                "nothing": null
            }
        })
    }

    #[test]
    fn typed_cells() {
        let cols = CustomColumns::new(&[
            col("Ready", "string", r#".status.conditions[?(@.type=="Ready")].status"#, None),
            col("Secret", "string", ".spec.secretName", None),
            col("Issuer", "string", ".spec.issuerRef.name", Some(1)),
            col("Revision", "integer", ".status.revision", None),
            col("Replicas", "integer", ".spec.replicas", None),
            col("Weight", "number", ".spec.weight", None),
            col("AsNumber", "number", ".status.revision", None),
            col("Renewed", "boolean", ".status.renewed", None),
            col("Status", "string", r#".status.conditions[?(@.type=="Ready")].message"#, Some(1)),
            col("Age", "date", ".metadata.creationTimestamp", None),
        ]);
        let cells = cols.cells(&certificate(), now());
        assert_eq!(
            cells,
            vec![
                json!("web-tls"),
                json!("True"),
                json!("web-tls"),
                json!("letsencrypt"),
                json!(3),
                json!(2),
                json!(0.25),
                json!(3),
                json!(true),
                json!("Certificate is up to date and has not expired"),
                json!("3h"),
            ]
        );
        let defs = cols.definitions();
        assert_eq!(defs.len(), 11);
        assert_eq!((defs[0].name.as_str(), defs[0].format.as_str()), ("Name", "name"));
        assert_eq!((defs[3].name.as_str(), defs[3].priority), ("Issuer", 1));
        assert_eq!(defs[10].type_, "date");
    }

    #[test]
    fn missing_and_mistyped_values_are_null() {
        let cols = CustomColumns::new(&[
            col("Missing", "string", ".status.absent", None),
            col("WrongType", "integer", ".spec.secretName", None),
            col("BadIndex", "string", ".spec.dnsNames[7]", None),
            col("Null", "string", ".status.nothing", None),
            col("NullInt", "integer", ".status.nothing", None),
            col("NotADate", "date", ".spec.secretName", None),
            col("DateNumber", "date", ".status.revision", None),
        ]);
        let cells = cols.cells(&certificate(), now());
        assert_eq!(
            cells,
            vec![
                json!("web-tls"),
                Value::Null,
                Value::Null,
                Value::Null,
                json!("<no value>"),
                Value::Null,
                json!("<invalid>"),
                Value::Null
            ]
        );
    }

    #[test]
    fn string_columns_print_any_value_and_take_the_first_match() {
        let cols = CustomColumns::new(&[
            col("Hosts", "string", ".spec.dnsNames[*]", None),
            col("AllHosts", "string", ".spec.dnsNames", None),
            col("Labels", "string", ".spec.labels", None),
            col("Rev", "string", ".status.revision", None),
            col("Renewed", "string", ".status.renewed", None),
            col("Expires", "date", ".status.notAfter", None),
        ]);
        let cells = cols.cells(&certificate(), now());
        assert_eq!(cells[1], json!("a.example.com"));
        assert_eq!(cells[2], json!("[a.example.com b.example.com]"));
        assert_eq!(cells[3], json!("map[a:x b:1]"));
        assert_eq!(cells[4], json!("3"));
        assert_eq!(cells[5], json!("true"));
        // A future date is a negative duration.
        assert_eq!(cells[6], json!("<invalid>"));
    }

    #[test]
    fn no_columns_means_age() {
        let cols = CustomColumns::new(&[]);
        let defs = cols.definitions();
        let names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["Name", "Age"]);
        assert_eq!(defs[1].type_, "date");
        assert_eq!(cols.cells(&certificate(), now()), vec![json!("web-tls"), json!("3h")]);
    }

    #[test]
    fn unparseable_column_drops_the_rest() {
        let cols = CustomColumns::new(&[
            col("A", "string", ".spec.secretName", None),
            col("B", "string", ".spec.dnsNames[1,2]", None),
            col("C", "string", ".spec.secretName", None),
        ]);
        let names: Vec<String> = cols.definitions().into_iter().map(|d| d.name).collect();
        assert_eq!(names, ["Name", "A"]);
    }
}
