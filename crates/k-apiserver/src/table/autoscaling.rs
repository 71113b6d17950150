//! `autoscaling/v1` and `v2` horizontal pod autoscalers.

use serde_json::{Value, json};

use super::duration::age;
use super::format::quantity_ptr;
use super::json::{at, int_at, list_at, name, opt_int, str_at};
use super::{AGE, Column, NAME, Printer, cells};

pub(crate) const HORIZONTAL_POD_AUTOSCALER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Reference", "string", "The scaled object, as Kind/name."),
        Column::new("Targets", "string", "Current and target values of the metrics."),
        Column::new("MinPods", "string", "Lower limit of replicas."),
        Column::new("MaxPods", "string", "Upper limit of replicas."),
        Column::new("Replicas", "string", "Current number of replicas."),
        AGE,
    ],
    row: |hpa, now| {
        let (specs, statuses) = metrics(hpa);
        let reference = format!(
            "{}/{}",
            str_at(hpa, &["spec", "scaleTargetRef", "kind"]),
            str_at(hpa, &["spec", "scaleTargetRef", "name"])
        );
        let min = opt_int(hpa, &["spec", "minReplicas"]).map_or_else(|| "<unset>".to_owned(), |n| n.to_string());
        cells![
            name(hpa),
            reference,
            format_metrics(&specs, &statuses),
            min,
            int_at(hpa, &["spec", "maxReplicas"]),
            int_at(hpa, &["status", "currentReplicas"]),
            age(hpa, now),
        ]
        .into()
    },
};

/// The metric specs and statuses in the `v2` shape. An `autoscaling/v1` object
/// (`targetCPUUtilizationPercentage`) becomes one CPU utilization metric; with
/// no metric at all the default target is 80% CPU.
fn metrics(hpa: &Value) -> (Vec<Value>, Vec<Value>) {
    let specs = list_at(hpa, &["spec", "metrics"]);
    if !specs.is_empty() {
        return (specs.to_vec(), list_at(hpa, &["status", "currentMetrics"]).to_vec());
    }
    let target = opt_int(hpa, &["spec", "targetCPUUtilizationPercentage"]).unwrap_or(80);
    let spec = json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}});
    let status = match opt_int(hpa, &["status", "currentCPUUtilizationPercentage"]) {
        Some(current) => {
            vec![json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}})]
        }
        None => list_at(hpa, &["status", "currentMetrics"]).to_vec(),
    };
    (vec![spec], status)
}

/// `current/target` per metric, at most two, then `+ N more...`.
fn format_metrics(specs: &[Value], statuses: &[Value]) -> String {
    if specs.is_empty() {
        return "<none>".to_owned();
    }
    let list: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let field = match str_at(spec, &["type"]) {
                "External" => "external",
                "Pods" => "pods",
                "Object" => "object",
                "Resource" => "resource",
                "ContainerResource" => "containerResource",
                _ => return "<unknown type>".to_owned(),
            };
            let source = at(spec, &[field]).unwrap_or(&Value::Null);
            let status = statuses.get(i).and_then(|s| at(s, &[field]));
            let current = |key: &str| status.and_then(|s| at(s, &["current", key]));
            let target = |key: &str| at(source, &["target", key]);
            match field {
                "external" | "object" if target("averageValue").is_some() => {
                    let cur = current("averageValue").map_or_else(|| "<unknown>".to_owned(), |q| quantity_ptr(Some(q)));
                    format!("{cur}/{} (avg)", quantity_ptr(target("averageValue")))
                }
                "external" | "object" => {
                    let cur = status.map_or_else(|| "<unknown>".to_owned(), |_| quantity_ptr(current("value")));
                    format!("{cur}/{}", quantity_ptr(target("value")))
                }
                "pods" => {
                    let cur = status.map_or_else(|| "<unknown>".to_owned(), |_| quantity_ptr(current("averageValue")));
                    format!("{cur}/{}", quantity_ptr(target("averageValue")))
                }
                _ => {
                    let resource = str_at(source, &["name"]);
                    if target("averageValue").is_some() {
                        let cur =
                            status.map_or_else(|| "<unknown>".to_owned(), |_| quantity_ptr(current("averageValue")));
                        format!("{resource}: {cur}/{}", quantity_ptr(target("averageValue")))
                    } else {
                        let percent = |v: Option<&Value>| v.and_then(Value::as_i64).map(|n| format!("{n}%"));
                        let cur = percent(current("averageUtilization")).unwrap_or_else(|| "<unknown>".to_owned());
                        let goal = percent(target("averageUtilization")).unwrap_or_else(|| "<auto>".to_owned());
                        format!("{resource}: {cur}/{goal}")
                    }
                }
            }
        })
        .collect();
    if list.len() > 2 { format!("{} + {} more...", list[..2].join(", "), list.len() - 2) } else { list.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::json::parse_time;
    use chrono::{DateTime, Utc};

    fn now() -> DateTime<Utc> {
        parse_time("2024-06-01T12:00:00Z").unwrap()
    }

    fn hpa(spec_metrics: Value, current: Value) -> Value {
        json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "creationTimestamp": "2024-06-01T11:45:00Z"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "minReplicas": 2, "maxReplicas": 10, "metrics": spec_metrics},
            "status": {"currentReplicas": 3, "desiredReplicas": 3, "currentMetrics": current}
        })
    }

    #[test]
    fn v2_resource_utilization() {
        let h = hpa(
            json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]),
            json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 42, "averageValue": "210m"}}}]),
        );
        assert_eq!(
            (HORIZONTAL_POD_AUTOSCALER.row)(&h, now()).cells,
            vec![
                json!("web"),
                json!("Deployment/web"),
                json!("cpu: 42%/70%"),
                json!("2"),
                json!(10),
                json!(3),
                json!("15m")
            ]
        );
    }

    #[test]
    fn v2_many_metric_kinds() {
        let h = hpa(
            json!([
                {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "512Mi"}}},
                {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}},
                {"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "Value", "value": "30"}}}
            ]),
            json!([
                {"type": "Resource", "resource": {"name": "memory", "current": {"averageValue": "268435456"}}},
                {"type": "Pods", "pods": {"metric": {"name": "rps"}, "current": {"averageValue": "250"}}}
            ]),
        );
        let cells = (HORIZONTAL_POD_AUTOSCALER.row)(&h, now()).cells;
        assert_eq!(cells[2], json!("memory: 268435456/512Mi, 250/1k + 1 more..."));
    }

    #[test]
    fn unknown_current_values() {
        let h = hpa(
            json!([
                {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}},
                {"type": "Object", "object": {"metric": {"name": "hits"}, "target": {"type": "AverageValue", "averageValue": "10"}}}
            ]),
            json!([]),
        );
        assert_eq!(
            (HORIZONTAL_POD_AUTOSCALER.row)(&h, now()).cells[2],
            json!("cpu: <unknown>/80%, <unknown>/10 (avg)")
        );
    }

    #[test]
    fn v1_cpu_target_and_defaults() {
        let v1 = json!({
            "metadata": {"name": "api"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "api"}, "maxReplicas": 5, "targetCPUUtilizationPercentage": 60},
            "status": {"currentReplicas": 1, "currentCPUUtilizationPercentage": 12}
        });
        let cells = (HORIZONTAL_POD_AUTOSCALER.row)(&v1, now()).cells;
        assert_eq!(cells[2..6], [json!("cpu: 12%/60%"), json!("<unset>"), json!(5), json!(1)]);
        let bare = json!({"metadata": {"name": "x"}, "spec": {"scaleTargetRef": {"kind": "StatefulSet", "name": "db"}, "maxReplicas": 3}});
        assert_eq!((HORIZONTAL_POD_AUTOSCALER.row)(&bare, now()).cells[2], json!("cpu: <unknown>/80%"));
    }
}
