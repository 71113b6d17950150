//! `apps/v1`: deployments, replica sets, stateful sets, daemon sets and
//! controller revisions.

use serde_json::Value;

use super::duration::age;
use super::format::{containers, format_label_selector, label_selector, labels};
use super::json::{at, int_at, list_at, map_at, name, opt_int, str_at};
use super::{AGE, CONTAINERS, Column, IMAGES, NAME, Printer, cells};

fn template_containers(obj: &Value) -> (String, String) {
    containers(list_at(obj, &["spec", "template", "spec", "containers"]))
}

/// `spec.replicas`, which defaults to 1.
fn desired(obj: &Value) -> i64 {
    opt_int(obj, &["spec", "replicas"]).unwrap_or(1)
}

pub(crate) const DEPLOYMENT: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Ready", "string", "Ready replicas out of desired replicas."),
        Column::new("Up-to-date", "string", "Replicas running the latest pod template."),
        Column::new("Available", "string", "Replicas available to serve."),
        AGE,
        CONTAINERS,
        IMAGES,
        Column::new("Selector", "string", "Label selector of the pods.").wide(),
    ],
    row: |obj, now| {
        let (names, images) = template_containers(obj);
        let selector = label_selector(at(obj, &["spec", "selector"])).unwrap_or_else(|()| "<invalid>".to_owned());
        cells![
            name(obj),
            format!("{}/{}", int_at(obj, &["status", "readyReplicas"]), desired(obj)),
            int_at(obj, &["status", "updatedReplicas"]),
            int_at(obj, &["status", "availableReplicas"]),
            age(obj, now),
            names,
            images,
            selector,
        ]
        .into()
    },
};

pub(crate) const REPLICA_SET: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Desired", "integer", "Desired number of replicas."),
        Column::new("Current", "integer", "Number of replicas that exist."),
        Column::new("Ready", "integer", "Number of ready replicas."),
        AGE,
        CONTAINERS,
        IMAGES,
        Column::new("Selector", "string", "Label selector of the pods.").wide(),
    ],
    row: |obj, now| {
        let (names, images) = template_containers(obj);
        cells![
            name(obj),
            desired(obj),
            int_at(obj, &["status", "replicas"]),
            int_at(obj, &["status", "readyReplicas"]),
            age(obj, now),
            names,
            images,
            format_label_selector(at(obj, &["spec", "selector"])),
        ]
        .into()
    },
};

pub(crate) const STATEFUL_SET: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Ready", "string", "Ready replicas out of desired replicas."),
        AGE,
        CONTAINERS,
        IMAGES,
    ],
    row: |obj, now| {
        let (names, images) = template_containers(obj);
        cells![
            name(obj),
            format!("{}/{}", int_at(obj, &["status", "readyReplicas"]), desired(obj)),
            age(obj, now),
            names,
            images,
        ]
        .into()
    },
};

pub(crate) const DAEMON_SET: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Desired", "integer", "Nodes that should run the daemon pod."),
        Column::new("Current", "integer", "Nodes running at least one daemon pod."),
        Column::new("Ready", "integer", "Nodes with a ready daemon pod."),
        Column::new("Up-to-date", "integer", "Nodes running the latest daemon pod."),
        Column::new("Available", "integer", "Nodes with an available daemon pod."),
        Column::new("Node Selector", "string", "Node selector of the pod template."),
        AGE,
        CONTAINERS,
        IMAGES,
        Column::new("Selector", "string", "Label selector of the pods.").wide(),
    ],
    row: |obj, now| {
        let (names, images) = template_containers(obj);
        let status = |f: &str| int_at(obj, &["status", f]);
        cells![
            name(obj),
            status("desiredNumberScheduled"),
            status("currentNumberScheduled"),
            status("numberReady"),
            status("updatedNumberScheduled"),
            status("numberAvailable"),
            labels(map_at(obj, &["spec", "template", "spec", "nodeSelector"])),
            age(obj, now),
            names,
            images,
            format_label_selector(at(obj, &["spec", "selector"])),
        ]
        .into()
    },
};

pub(crate) const CONTROLLER_REVISION: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Controller", "string", "The controller owning the revision, as kind.group/name."),
        Column::new("Revision", "string", "Revision number."),
        AGE,
    ],
    row: |obj, now| {
        let owner =
            list_at(obj, &["metadata", "ownerReferences"]).iter().find(|o| super::json::bool_at(o, &["controller"]));
        let controller = match owner {
            None => "<none>".to_owned(),
            Some(o) => {
                let kind = str_at(o, &["kind"]);
                let group = str_at(o, &["apiVersion"]).rsplit_once('/').map_or("", |(g, _)| g);
                let group_kind = if group.is_empty() { kind.to_owned() } else { format!("{kind}.{group}") };
                let owner_name = str_at(o, &["name"]);
                if group_kind.is_empty() {
                    owner_name.to_owned()
                } else {
                    format!("{}/{owner_name}", group_kind.to_lowercase())
                }
            }
        };
        cells![name(obj), controller, int_at(obj, &["revision"]), age(obj, now)].into()
    },
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::json::parse_time;
    use chrono::{DateTime, Utc};
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        parse_time("2024-06-03T12:00:00Z").unwrap()
    }

    fn template() -> Value {
        json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
            {"name": "nginx", "image": "nginx:1.25"}, {"name": "exporter", "image": "nginx/exporter:1.1"}
        ]}})
    }

    #[test]
    fn deployment() {
        let d = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "creationTimestamp": "2024-06-01T12:00:00Z"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template()},
            "status": {"replicas": 3, "updatedReplicas": 3, "readyReplicas": 2, "availableReplicas": 2}
        });
        let cells = (DEPLOYMENT.row)(&d, now()).cells;
        assert_eq!(
            cells,
            vec![
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("2d"),
                json!("nginx,exporter"),
                json!("nginx:1.25,nginx/exporter:1.1"),
                json!("app=web")
            ]
        );
        assert_eq!(DEPLOYMENT.columns.len(), cells.len());
        let names: Vec<&str> = DEPLOYMENT.columns.iter().map(|c| c.name).collect();
        assert_eq!(names, ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"]);
        assert_eq!(DEPLOYMENT.columns.iter().map(|c| c.priority).collect::<Vec<_>>(), [0, 0, 0, 0, 0, 1, 1, 1]);
    }

    #[test]
    fn deployment_fresh_and_scaled_to_zero() {
        let d = json!({"metadata": {"name": "api", "creationTimestamp": "2024-06-03T11:59:55Z"},
                       "spec": {"selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["api"]}]},
                                "template": template()}});
        let cells = (DEPLOYMENT.row)(&d, now()).cells;
        assert_eq!(cells[1..5], [json!("0/1"), json!(0), json!(0), json!("5s")]);
        assert_eq!(cells[7], json!("app in (api)"));
        let zero = json!({"metadata": {"name": "api"}, "spec": {"replicas": 0}, "status": {}});
        let cells = (DEPLOYMENT.row)(&zero, now()).cells;
        assert_eq!(cells[1], json!("0/0"));
        assert_eq!(cells[4], json!("<unknown>"));
        assert_eq!(cells[7], json!(""));
    }

    #[test]
    fn replica_set() {
        let rs = json!({
            "metadata": {"name": "web-7d4b9c", "creationTimestamp": "2024-06-03T11:00:00Z"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "7d4b9c"}},
                     "template": template()},
            "status": {"replicas": 3, "readyReplicas": 1}
        });
        let cells = (REPLICA_SET.row)(&rs, now()).cells;
        assert_eq!(
            cells,
            vec![
                json!("web-7d4b9c"),
                json!(3),
                json!(3),
                json!(1),
                json!("60m"),
                json!("nginx,exporter"),
                json!("nginx:1.25,nginx/exporter:1.1"),
                json!("app=web,pod-template-hash=7d4b9c")
            ]
        );
    }

    #[test]
    fn stateful_set() {
        let sts = json!({
            "metadata": {"name": "db", "creationTimestamp": "2024-05-20T12:00:00Z"},
            "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                     "template": {"spec": {"containers": [{"name": "postgres", "image": "postgres:16"}]}}},
            "status": {"replicas": 3, "readyReplicas": 3}
        });
        let cells = (STATEFUL_SET.row)(&sts, now()).cells;
        assert_eq!(cells, vec![json!("db"), json!("3/3"), json!("14d"), json!("postgres"), json!("postgres:16")]);
        let names: Vec<&str> = STATEFUL_SET.columns.iter().map(|c| c.name).collect();
        assert_eq!(names, ["Name", "Ready", "Age", "Containers", "Images"]);
    }

    #[test]
    fn daemon_set() {
        let ds = json!({
            "metadata": {"name": "kube-proxy", "namespace": "kube-system", "creationTimestamp": "2024-06-03T08:30:00Z"},
            "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
                     "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
                                           "containers": [{"name": "kube-proxy", "image": "registry.k8s.io/kube-proxy:v1.32.0"}]}}},
            "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                       "updatedNumberScheduled": 3, "numberAvailable": 2}
        });
        let cells = (DAEMON_SET.row)(&ds, now()).cells;
        assert_eq!(
            cells,
            vec![
                json!("kube-proxy"),
                json!(3),
                json!(3),
                json!(2),
                json!(3),
                json!(2),
                json!("kubernetes.io/os=linux"),
                json!("3h30m"),
                json!("kube-proxy"),
                json!("registry.k8s.io/kube-proxy:v1.32.0"),
                json!("k8s-app=kube-proxy")
            ]
        );
        let bare = json!({"metadata": {"name": "x"}, "spec": {"template": {"spec": {}}}});
        let cells = (DAEMON_SET.row)(&bare, now()).cells;
        assert_eq!(cells[6], json!("<none>"));
        assert_eq!(cells[10], json!("<none>"));
    }

    #[test]
    fn controller_revision() {
        let cr = json!({
            "metadata": {"name": "db-5f7c", "creationTimestamp": "2024-06-03T11:58:00Z",
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": true}]},
            "revision": 2
        });
        let cells = (CONTROLLER_REVISION.row)(&cr, now()).cells;
        assert_eq!(cells, vec![json!("db-5f7c"), json!("statefulset.apps/db"), json!(2), json!("2m")]);
        let orphan = json!({"metadata": {"name": "x"}, "revision": 1});
        assert_eq!((CONTROLLER_REVISION.row)(&orphan, now()).cells[1], json!("<none>"));
    }
}
