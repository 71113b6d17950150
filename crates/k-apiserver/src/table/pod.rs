//! Pods: READY, STATUS (the aggregate reason kubectl shows), RESTARTS and the
//! wide IP / NODE / NOMINATED NODE / READINESS GATES columns.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use k_api_types::meta::TableRowCondition;
use serde_json::Value;

use super::duration::{age, human_duration};
use super::json::{at, bool_at, condition_true, deleting, has, int_at, list_at, name, str_at, time_at};
use super::{AGE, Column, NAME, Printer, Row, cells};

pub(crate) const POD: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Ready", "string", "Ready containers out of all containers of the pod."),
        Column::new("Status", "string", "Summary of the pod's phase and container states."),
        Column::new("Restarts", "string", "Container restarts, with the time since the last one."),
        AGE,
        Column::new("IP", "string", "The pod's (first) IP address.").wide(),
        Column::new("Node", "string", "Node the pod is bound to.").wide(),
        Column::new("Nominated Node", "string", "Node nominated for the pod by preemption.").wide(),
        Column::new("Readiness Gates", "string", "Readiness gates whose condition is True, out of all.").wide(),
    ],
    row: pod_row,
};

/// Whether an init container is a sidecar (`restartPolicy: Always`).
fn is_sidecar(container: &Value) -> bool {
    str_at(container, &["restartPolicy"]) == "Always"
}

/// Keeps the latest of two times.
fn later(cur: Option<DateTime<Utc>>, t: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (cur, t) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// When the container last terminated before its current state.
fn last_termination(status: &Value) -> Option<DateTime<Utc>> {
    time_at(status, &["lastState", "terminated", "finishedAt"])
}

/// `Signal:N` / `ExitCode:N` for a termination without a reason.
fn exit_text(terminated: &Value) -> String {
    let signal = int_at(terminated, &["signal"]);
    if signal != 0 { format!("Signal:{signal}") } else { format!("ExitCode:{}", int_at(terminated, &["exitCode"])) }
}

fn pod_row(pod: &Value, now: DateTime<Utc>) -> Row {
    let spec_containers = list_at(pod, &["spec", "containers"]);
    let init_containers = list_at(pod, &["spec", "initContainers"]);
    let conditions = list_at(pod, &["status", "conditions"]);
    let phase = str_at(pod, &["status", "phase"]);
    let status_reason = str_at(pod, &["status", "reason"]);

    let mut reason = if status_reason.is_empty() { phase.to_owned() } else { status_reason.to_owned() };
    let gated = conditions
        .iter()
        .any(|c| str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated");
    if gated {
        reason = "SchedulingGated".to_owned();
    }

    let sidecars: HashSet<&str> =
        init_containers.iter().filter(|c| is_sidecar(c)).map(|c| str_at(c, &["name"])).collect();
    let total = spec_containers.len() + sidecars.len();
    let mut ready = 0usize;
    let mut restarts = 0i64;
    let mut last_restart = None;
    let mut sidecar_restarts = 0i64;
    let mut last_sidecar_restart = None;

    let mut initializing = false;
    for (i, status) in list_at(pod, &["status", "initContainerStatuses"]).iter().enumerate() {
        let count = int_at(status, &["restartCount"]);
        restarts += count;
        last_restart = later(last_restart, last_termination(status));
        let sidecar = sidecars.contains(str_at(status, &["name"]));
        if sidecar {
            sidecar_restarts += count;
            last_sidecar_restart = later(last_sidecar_restart, last_termination(status));
        }
        let terminated = at(status, &["state", "terminated"]);
        let waiting_reason = str_at(status, &["state", "waiting", "reason"]);
        if terminated.is_some_and(|t| int_at(t, &["exitCode"]) == 0) {
            continue;
        }
        if sidecar && bool_at(status, &["started"]) {
            if bool_at(status, &["ready"]) {
                ready += 1;
            }
            continue;
        }
        reason = if let Some(t) = terminated {
            match str_at(t, &["reason"]) {
                "" => format!("Init:{}", exit_text(t)),
                r => format!("Init:{r}"),
            }
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{i}/{}", init_containers.len())
        };
        initializing = true;
        break;
    }

    if !initializing || condition_true(conditions, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for status in list_at(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts += int_at(status, &["restartCount"]);
            last_restart = later(last_restart, last_termination(status));
            let waiting_reason = str_at(status, &["state", "waiting", "reason"]);
            let terminated = at(status, &["state", "terminated"]);
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_owned();
            } else if let Some(t) = terminated {
                reason = match str_at(t, &["reason"]) {
                    "" => exit_text(t),
                    r => r.to_owned(),
                };
            } else if bool_at(status, &["ready"]) && has(status, &["state", "running"]) {
                has_running = true;
                ready += 1;
            }
        }
        // A completed container next to a running one: the pod still runs.
        if reason == "Completed" && has_running {
            reason = if condition_true(conditions, "Ready") { "Running" } else { "NotReady" }.to_owned();
        }
    }

    if deleting(pod) && status_reason == "NodeLost" {
        reason = "Unknown".to_owned();
    } else if deleting(pod) && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".to_owned();
    }

    let restarts_text = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", human_duration(now - t)),
        _ => restarts.to_string(),
    };

    let ip = list_at(pod, &["status", "podIPs"])
        .first()
        .map(|p| str_at(p, &["ip"]))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| str_at(pod, &["status", "podIP"]));
    let or_none = |s: &str| if s.is_empty() { "<none>".to_owned() } else { s.to_owned() };
    let gates = list_at(pod, &["spec", "readinessGates"]);
    let gates_text = if gates.is_empty() {
        "<none>".to_owned()
    } else {
        let passed = gates.iter().filter(|g| condition_true(conditions, str_at(g, &["conditionType"]))).count();
        format!("{passed}/{}", gates.len())
    };

    let row_conditions = match phase {
        "Succeeded" => vec![completed("Succeeded", "The pod completed successfully.")],
        "Failed" => vec![completed("Failed", "The pod failed.")],
        _ => Vec::new(),
    };
    Row {
        cells: cells![
            name(pod),
            format!("{ready}/{total}"),
            reason,
            restarts_text,
            age(pod, now),
            or_none(ip),
            or_none(str_at(pod, &["spec", "nodeName"])),
            or_none(str_at(pod, &["status", "nominatedNodeName"])),
            gates_text,
        ],
        conditions: row_conditions,
    }
}

/// The `Completed` row condition of a finished pod.
fn completed(reason: &str, message: &str) -> TableRowCondition {
    TableRowCondition {
        type_: "Completed".to_owned(),
        status: "True".to_owned(),
        reason: Some(reason.to_owned()),
        message: Some(message.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::json::parse_time;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        parse_time("2024-06-01T12:00:00Z").unwrap()
    }

    fn pod(spec: Value, status: Value) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web-7d4b9c-x2x9z", "namespace": "default", "creationTimestamp": "2024-06-01T11:00:00Z"},
            "spec": spec,
            "status": status
        })
    }

    fn one_container() -> Value {
        json!({"containers": [{"name": "app", "image": "nginx:1.25"}], "nodeName": "node-1"})
    }

    fn cells_of(p: &Value) -> Vec<Value> {
        pod_row(p, now()).cells
    }

    /// READY, STATUS, RESTARTS.
    fn summary(p: &Value) -> (String, String, String) {
        let c = cells_of(p);
        (c[1].as_str().unwrap().to_owned(), c[2].as_str().unwrap().to_owned(), c[3].as_str().unwrap().to_owned())
    }

    fn s(a: &str, b: &str, c: &str) -> (String, String, String) {
        (a.to_owned(), b.to_owned(), c.to_owned())
    }

    #[test]
    fn running_pod_with_wide_columns() {
        let p = pod(
            json!({"containers": [{"name": "app", "image": "nginx"}, {"name": "log", "image": "fluent-bit"}],
                   "nodeName": "node-1", "readinessGates": [{"conditionType": "example.com/lb-ready"}]}),
            json!({
                "phase": "Running",
                "podIP": "10.244.1.7",
                "podIPs": [{"ip": "10.244.1.7"}, {"ip": "fd00::7"}],
                "conditions": [{"type": "Ready", "status": "True"}, {"type": "example.com/lb-ready", "status": "False"}],
                "containerStatuses": [
                    {"name": "app", "ready": true, "restartCount": 0, "state": {"running": {"startedAt": "2024-06-01T11:00:05Z"}}},
                    {"name": "log", "ready": true, "restartCount": 0, "state": {"running": {"startedAt": "2024-06-01T11:00:05Z"}}}
                ]
            }),
        );
        let row = pod_row(&p, now());
        assert_eq!(
            row.cells,
            vec![
                json!("web-7d4b9c-x2x9z"),
                json!("2/2"),
                json!("Running"),
                json!("0"),
                json!("60m"),
                json!("10.244.1.7"),
                json!("node-1"),
                json!("<none>"),
                json!("0/1")
            ]
        );
        assert!(row.conditions.is_empty());
    }

    #[test]
    fn pending_unscheduled_pod() {
        let p = pod(json!({"containers": [{"name": "app"}]}), json!({"phase": "Pending"}));
        let c = cells_of(&p);
        assert_eq!(summary(&p), s("0/1", "Pending", "0"));
        assert_eq!((c[5].as_str(), c[6].as_str(), c[8].as_str()), (Some("<none>"), Some("<none>"), Some("<none>")));
    }

    #[test]
    fn scheduling_gated() {
        let p = pod(
            json!({"containers": [{"name": "app"}], "schedulingGates": [{"name": "example.com/quota"}]}),
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
        );
        assert_eq!(summary(&p).1, "SchedulingGated");
    }

    #[test]
    fn container_creating() {
        let p = pod(
            one_container(),
            json!({"phase": "Pending", "containerStatuses": [
                {"name": "app", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}
            ]}),
        );
        assert_eq!(summary(&p), s("0/1", "ContainerCreating", "0"));
    }

    #[test]
    fn crash_loop_back_off_with_last_restart() {
        let p = pod(
            one_container(),
            json!({"phase": "Running", "containerStatuses": [{
                "name": "app", "ready": false, "restartCount": 2,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2024-06-01T11:55:00Z"}}
            }]}),
        );
        assert_eq!(summary(&p), s("0/1", "CrashLoopBackOff", "2 (5m ago)"));
    }

    #[test]
    fn completed_pod_has_row_condition() {
        let p = pod(
            json!({"containers": [{"name": "job"}], "restartPolicy": "Never"}),
            json!({"phase": "Succeeded", "containerStatuses": [{
                "name": "job", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": "2024-06-01T11:10:00Z"}}
            }]}),
        );
        let row = pod_row(&p, now());
        assert_eq!(row.cells[1..4], [json!("0/1"), json!("Completed"), json!("0")]);
        assert_eq!(row.conditions.len(), 1);
        assert_eq!(row.conditions[0].type_, "Completed");
        assert_eq!(row.conditions[0].status, "True");
        assert_eq!(row.conditions[0].reason.as_deref(), Some("Succeeded"));
    }

    #[test]
    fn failed_pod_with_exit_code_and_signal() {
        let p = pod(
            one_container(),
            json!({"phase": "Failed", "containerStatuses": [{
                "name": "app", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 137}}
            }]}),
        );
        let row = pod_row(&p, now());
        assert_eq!(row.cells[2], json!("ExitCode:137"));
        assert_eq!(row.conditions[0].reason.as_deref(), Some("Failed"));
        let p = pod(
            one_container(),
            json!({"phase": "Failed", "containerStatuses": [{
                "name": "app", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "signal": 9}}
            }]}),
        );
        assert_eq!(summary(&p).1, "Signal:9");
    }

    #[test]
    fn oom_killed_reason() {
        let p = pod(
            one_container(),
            json!({"phase": "Running", "containerStatuses": [{
                "name": "app", "restartCount": 1,
                "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": "2024-06-01T11:59:30Z"}},
                "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": "2024-06-01T11:58:00Z"}}
            }]}),
        );
        assert_eq!(summary(&p), s("0/1", "OOMKilled", "1 (2m ago)"));
    }

    #[test]
    fn init_containers_in_progress() {
        let spec =
            json!({"initContainers": [{"name": "migrate"}, {"name": "warmup"}], "containers": [{"name": "app"}]});
        let p = pod(
            spec.clone(),
            json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "migrate", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "warmup", "restartCount": 0, "state": {"running": {}}}
            ], "containerStatuses": [
                {"name": "app", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}
            ]}),
        );
        assert_eq!(summary(&p), s("0/1", "Init:1/2", "0"));

        let p = pod(
            spec.clone(),
            json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "migrate", "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-06-01T11:59:00Z"}}},
                {"name": "warmup", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}
            ]}),
        );
        assert_eq!(summary(&p), s("0/1", "Init:CrashLoopBackOff", "3 (60s ago)"));

        let p = pod(
            spec.clone(),
            json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "migrate", "restartCount": 0, "state": {"terminated": {"exitCode": 2}}}
            ]}),
        );
        assert_eq!(summary(&p).1, "Init:ExitCode:2");

        let p = pod(
            spec,
            json!({"phase": "Failed", "initContainerStatuses": [
                {"name": "migrate", "restartCount": 0, "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}
            ]}),
        );
        assert_eq!(summary(&p).1, "Init:Error");
    }

    #[test]
    fn sidecar_init_containers_count_as_containers() {
        let p = pod(
            json!({"initContainers": [{"name": "proxy", "restartPolicy": "Always"}], "containers": [{"name": "app"}]}),
            json!({"phase": "Running",
                   "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
                   "initContainerStatuses": [
                {"name": "proxy", "ready": true, "started": true, "restartCount": 1, "state": {"running": {}},
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-06-01T11:30:00Z"}}}
            ], "containerStatuses": [
                {"name": "app", "ready": true, "restartCount": 2, "state": {"running": {}},
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-06-01T11:40:00Z"}}}
            ]}),
        );
        assert_eq!(summary(&p), s("2/2", "Running", "3 (20m ago)"));
    }

    #[test]
    fn completed_container_beside_running_one() {
        let status = |ready: &str| {
            json!({"phase": "Running", "conditions": [{"type": "Ready", "status": ready}], "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}},
                {"name": "b", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
            ]})
        };
        let spec = json!({"containers": [{"name": "a"}, {"name": "b"}]});
        assert_eq!(summary(&pod(spec.clone(), status("True"))), s("1/2", "Running", "0"));
        assert_eq!(summary(&pod(spec, status("False"))), s("1/2", "NotReady", "0"));
    }

    #[test]
    fn terminating_and_node_lost() {
        let mut p = pod(
            one_container(),
            json!({"phase": "Running", "containerStatuses": [
                {"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}
            ]}),
        );
        p["metadata"]["deletionTimestamp"] = json!("2024-06-01T11:59:00Z");
        assert_eq!(summary(&p).1, "Terminating");

        p["status"]["reason"] = json!("NodeLost");
        assert_eq!(summary(&p).1, "Unknown");

        // Without deletion a NodeLost reason shows as it is.
        let mut lost = pod(one_container(), json!({"phase": "Unknown", "reason": "NodeLost"}));
        assert_eq!(summary(&lost).1, "NodeLost");

        // A finished pod being deleted keeps its final status.
        lost["status"] = json!({"phase": "Succeeded", "containerStatuses": [
            {"name": "app", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
        ]});
        lost["metadata"]["deletionTimestamp"] = json!("2024-06-01T11:59:00Z");
        assert_eq!(summary(&lost).1, "Completed");
    }

    #[test]
    fn evicted_pod_uses_status_reason() {
        let p = pod(one_container(), json!({"phase": "Failed", "reason": "Evicted", "message": "low on memory"}));
        assert_eq!(summary(&p), s("0/1", "Evicted", "0"));
    }

    #[test]
    fn restarts_without_termination_time() {
        let p = pod(
            one_container(),
            json!({"phase": "Running", "containerStatuses": [
                {"name": "app", "ready": true, "restartCount": 4, "state": {"running": {}}}
            ]}),
        );
        assert_eq!(summary(&p), s("1/1", "Running", "4"));
    }

    #[test]
    fn pod_ip_falls_back_to_pod_ip_field() {
        let p = pod(one_container(), json!({"phase": "Running", "podIP": "10.0.0.9", "nominatedNodeName": "node-2"}));
        let c = cells_of(&p);
        assert_eq!((c[5].as_str(), c[7].as_str()), (Some("10.0.0.9"), Some("node-2")));
    }
}
