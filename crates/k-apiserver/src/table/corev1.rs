//! Core (`v1`) kinds other than pods, plus `events.k8s.io` events.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::duration::{age, since};
use super::format::{access_modes, containers, labels, quantity};
use super::json::{
    annotation, at, bool_at, deleting, has, int_at, len_at, list_at, map_at, name, opt_int, opt_str, str_at, time_at,
};
use super::{AGE, CONTAINERS, Column, IMAGES, NAME, Printer, Row, cells};

pub(crate) const POD_TEMPLATE: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Containers", "string", "Names of the containers in the template."),
        Column::new("Images", "string", "Images of the containers in the template."),
        Column::new("Pod Labels", "string", "Labels of the pod template."),
    ],
    row: |obj, _| {
        let (names, images) = containers(list_at(obj, &["template", "spec", "containers"]));
        cells![name(obj), names, images, labels(map_at(obj, &["template", "metadata", "labels"]))].into()
    },
};

pub(crate) const REPLICATION_CONTROLLER: Printer = Printer {
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
        let (names, images) = containers(list_at(obj, &["spec", "template", "spec", "containers"]));
        cells![
            name(obj),
            opt_int(obj, &["spec", "replicas"]).unwrap_or(1),
            int_at(obj, &["status", "replicas"]),
            int_at(obj, &["status", "readyReplicas"]),
            age(obj, now),
            names,
            images,
            labels(map_at(obj, &["spec", "selector"])),
        ]
        .into()
    },
};

pub(crate) const SERVICE: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Type", "string", "How the service is exposed."),
        Column::new("Cluster-IP", "string", "The service's (first) cluster IP."),
        Column::new("External-IP", "string", "External addresses of the service."),
        Column::new("Port(s)", "string", "Ports of the service."),
        AGE,
        Column::new("Selector", "string", "Label selector of the backing pods.").wide(),
    ],
    row: service_row,
};

fn service_row(svc: &Value, now: DateTime<Utc>) -> Row {
    let type_ = opt_str(svc, &["spec", "type"]).filter(|t| !t.is_empty()).unwrap_or("ClusterIP");
    let cluster_ip = list_at(svc, &["spec", "clusterIPs"])
        .first()
        .and_then(Value::as_str)
        .or_else(|| opt_str(svc, &["spec", "clusterIP"]))
        .filter(|s| !s.is_empty())
        .unwrap_or("<none>");
    let ports: Vec<String> = list_at(svc, &["spec", "ports"])
        .iter()
        .map(|p| {
            let port = int_at(p, &["port"]);
            let protocol = opt_str(p, &["protocol"]).filter(|s| !s.is_empty()).unwrap_or("TCP");
            match int_at(p, &["nodePort"]) {
                0 => format!("{port}/{protocol}"),
                node_port => format!("{port}:{node_port}/{protocol}"),
            }
        })
        .collect();
    let ports = if ports.is_empty() { "<none>".to_owned() } else { ports.join(",") };
    cells![
        name(svc),
        type_,
        cluster_ip,
        service_external_ip(svc, type_),
        ports,
        age(svc, now),
        labels(map_at(svc, &["spec", "selector"])),
    ]
    .into()
}

/// The IPs or host names of load-balancer ingress points, sorted and unique.
pub(crate) fn load_balancer_ingress(status: &Value) -> Vec<String> {
    let set: BTreeSet<&str> = list_at(status, &["loadBalancer", "ingress"])
        .iter()
        .filter_map(|i| {
            let ip = str_at(i, &["ip"]);
            let host = str_at(i, &["hostname"]);
            if !ip.is_empty() {
                Some(ip)
            } else if !host.is_empty() {
                Some(host)
            } else {
                None
            }
        })
        .collect();
    set.into_iter().map(str::to_owned).collect()
}

fn service_external_ip(svc: &Value, type_: &str) -> String {
    let external: Vec<String> =
        list_at(svc, &["spec", "externalIPs"]).iter().filter_map(Value::as_str).map(str::to_owned).collect();
    match type_ {
        "ClusterIP" | "NodePort" => {
            if external.is_empty() {
                "<none>".to_owned()
            } else {
                external.join(",")
            }
        }
        "LoadBalancer" => {
            let mut all = at(svc, &["status"]).map(load_balancer_ingress).unwrap_or_default();
            if all.is_empty() && external.is_empty() {
                return "<pending>".to_owned();
            }
            all.extend(external);
            all.join(",")
        }
        "ExternalName" => str_at(svc, &["spec", "externalName"]).to_owned(),
        _ => "<unknown>".to_owned(),
    }
}

pub(crate) const ENDPOINTS: Printer = Printer {
    columns: &[NAME, Column::new("Endpoints", "string", "Addresses (and ports) of the endpoints."), AGE],
    row: |obj, now| cells![name(obj), format_endpoints(obj), age(obj, now)].into(),
};

/// An address joined with a port, IPv6 addresses in brackets.
fn host_port(ip: &str, port: i64) -> String {
    if ip.contains(':') { format!("[{ip}]:{port}") } else { format!("{ip}:{port}") }
}

fn format_endpoints(obj: &Value) -> String {
    let subsets = list_at(obj, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".to_owned();
    }
    const MAX: usize = 3;
    let mut list: Vec<String> = Vec::new();
    let mut count = 0usize;
    let mut more = false;
    for subset in subsets {
        let addresses = list_at(subset, &["addresses"]);
        let ports = list_at(subset, &["ports"]);
        if ports.is_empty() {
            // Headless services may have no ports.
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(str_at(a, &["ip"]).to_owned());
            }
            continue;
        }
        for port in ports {
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(host_port(str_at(a, &["ip"]), int_at(port, &["port"])));
            }
        }
    }
    let joined = list.join(",");
    if more { format!("{joined} + {} more...", count - MAX) } else { joined }
}

pub(crate) const NODE: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Status", "string", "Readiness of the node, and whether scheduling is disabled."),
        Column::new("Roles", "string", "Roles of the node, from its node-role labels."),
        AGE,
        Column::new("Version", "string", "Kubelet version."),
        Column::new("Internal-IP", "string", "First internal IP address.").wide(),
        Column::new("External-IP", "string", "First external IP address.").wide(),
        Column::new("OS-Image", "string", "Operating system image.").wide(),
        Column::new("Kernel-Version", "string", "Kernel version.").wide(),
        Column::new("Container-Runtime", "string", "Container runtime and version.").wide(),
    ],
    row: node_row,
};

fn node_row(node: &Value, now: DateTime<Utc>) -> Row {
    // The last condition of a type wins, as in a map keyed by type.
    let ready = list_at(node, &["status", "conditions"]).iter().rev().find(|c| str_at(c, &["type"]) == "Ready");
    let mut status: Vec<&str> = vec![match ready {
        Some(c) if str_at(c, &["status"]) == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if bool_at(node, &["spec", "unschedulable"]) {
        status.push("SchedulingDisabled");
    }
    let mut roles = BTreeSet::new();
    for (key, value) in map_at(node, &["metadata", "labels"]).into_iter().flatten() {
        if let Some(role) = key.strip_prefix("node-role.kubernetes.io/").filter(|r| !r.is_empty()) {
            roles.insert(role.to_owned());
        } else if key == "kubernetes.io/role" && value.as_str().is_some_and(|v| !v.is_empty()) {
            roles.insert(value.as_str().unwrap_or_default().to_owned());
        }
    }
    let roles = if roles.is_empty() { "<none>".to_owned() } else { roles.into_iter().collect::<Vec<_>>().join(",") };
    let address = |type_: &str| {
        list_at(node, &["status", "addresses"])
            .iter()
            .find(|a| str_at(a, &["type"]) == type_)
            .map_or_else(|| "<none>".to_owned(), |a| str_at(a, &["address"]).to_owned())
    };
    let info = |field: &str| {
        let v = str_at(node, &["status", "nodeInfo", field]);
        if v.is_empty() { "<unknown>".to_owned() } else { v.to_owned() }
    };
    cells![
        name(node),
        status.join(","),
        roles,
        age(node, now),
        str_at(node, &["status", "nodeInfo", "kubeletVersion"]),
        address("InternalIP"),
        address("ExternalIP"),
        info("osImage"),
        info("kernelVersion"),
        info("containerRuntimeVersion"),
    ]
    .into()
}

pub(crate) const NAMESPACE: Printer = Printer {
    columns: &[NAME, Column::new("Status", "string", "Phase of the namespace."), AGE],
    row: |obj, now| cells![name(obj), str_at(obj, &["status", "phase"]), age(obj, now)].into(),
};

pub(crate) const CONFIG_MAP: Printer = Printer {
    columns: &[NAME, Column::new("Data", "string", "Number of data and binaryData entries."), AGE],
    row: |obj, now| {
        let n = len_at(obj, &["data"]) + len_at(obj, &["binaryData"]);
        cells![name(obj), n as i64, age(obj, now)].into()
    },
};

pub(crate) const SECRET: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Type", "string", "Type of the secret."),
        Column::new("Data", "string", "Number of data entries."),
        AGE,
    ],
    row: |obj, now| {
        let type_ = opt_str(obj, &["type"]).filter(|t| !t.is_empty()).unwrap_or("Opaque");
        // `stringData` is merged into `data` on write; count keys only it has too.
        let data = map_at(obj, &["data"]);
        let extra = map_at(obj, &["stringData"])
            .map_or(0, |m| m.keys().filter(|k| !data.is_some_and(|d| d.contains_key(*k))).count());
        let n = data.map_or(0, |d| d.len()) + extra;
        cells![name(obj), type_, n as i64, age(obj, now)].into()
    },
};

pub(crate) const SERVICE_ACCOUNT: Printer = Printer {
    columns: &[NAME, Column::new("Secrets", "string", "Number of secrets the account references."), AGE],
    row: |obj, now| cells![name(obj), len_at(obj, &["secrets"]) as i64, age(obj, now)].into(),
};

const EVENT_COLUMNS: &[Column] = &[
    Column::new("Last Seen", "string", "Time since the event was last observed."),
    Column::new("Type", "string", "Type of the event (Normal, Warning)."),
    Column::new("Reason", "string", "Machine-readable reason of the event."),
    Column::new("Object", "string", "The object the event is about, as kind/name."),
    Column::new("Subobject", "string", "Field path within the object.").wide(),
    Column::new("Source", "string", "Component (and host) that reported the event.").wide(),
    Column::new("Message", "string", "Human-readable description."),
    Column::new("First Seen", "string", "Time since the event was first observed.").wide(),
    Column::new("Count", "string", "Number of occurrences.").wide(),
    NAME.wide(),
];

pub(crate) const EVENT: Printer = Printer { columns: EVENT_COLUMNS, row: |obj, now| event_row(obj, now, &CORE_EVENT) };

pub(crate) const EVENTS_V1_EVENT: Printer =
    Printer { columns: EVENT_COLUMNS, row: |obj, now| event_row(obj, now, &EVENTS_V1) };

/// Where the fields of an event live in each API version.
struct EventFields {
    regarding: &'static str,
    message: &'static str,
    first: &'static str,
    last: &'static str,
    count: &'static str,
    source: &'static str,
    controller: &'static str,
}

const CORE_EVENT: EventFields = EventFields {
    regarding: "involvedObject",
    message: "message",
    first: "firstTimestamp",
    last: "lastTimestamp",
    count: "count",
    source: "source",
    controller: "reportingComponent",
};

const EVENTS_V1: EventFields = EventFields {
    regarding: "regarding",
    message: "note",
    first: "deprecatedFirstTimestamp",
    last: "deprecatedLastTimestamp",
    count: "deprecatedCount",
    source: "deprecatedSource",
    controller: "reportingController",
};

fn event_row(ev: &Value, now: DateTime<Utc>, f: &EventFields) -> Row {
    let first = match time_at(ev, &[f.first]) {
        Some(t) => since(Some(t), now),
        None => since(time_at(ev, &["eventTime"]), now),
    };
    let mut last = match time_at(ev, &[f.last]) {
        Some(t) => since(Some(t), now),
        None => first.clone(),
    };
    let mut count = int_at(ev, &[f.count]);
    if has(ev, &["series"]) {
        last = since(time_at(ev, &["series", "lastObservedTime"]), now);
        count = int_at(ev, &["series", "count"]);
    } else if count == 0 {
        count = 1;
    }
    let kind = str_at(ev, &[f.regarding, "kind"]).to_lowercase();
    let target = match str_at(ev, &[f.regarding, "name"]) {
        "" => kind,
        n => format!("{kind}/{n}"),
    };
    let first_non_empty = |a: &'static str, b: &'static str| {
        let a = str_at(ev, &[f.source, a]);
        if a.is_empty() { str_at(ev, &[b]) } else { a }
    };
    let component = first_non_empty("component", f.controller);
    let host = first_non_empty("host", "reportingInstance");
    let source = if host.is_empty() { component.to_owned() } else { format!("{component}, {host}") };
    cells![
        last,
        str_at(ev, &["type"]),
        str_at(ev, &["reason"]),
        target,
        str_at(ev, &[f.regarding, "fieldPath"]),
        source,
        str_at(ev, &[f.message]).trim(),
        first,
        count,
        name(ev),
    ]
    .into()
}

pub(crate) const PERSISTENT_VOLUME: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Capacity", "string", "Storage capacity of the volume."),
        Column::new("Access Modes", "string", "Access modes of the volume."),
        Column::new("Reclaim Policy", "string", "What happens to the volume when released."),
        Column::new("Status", "string", "Phase of the volume."),
        Column::new("Claim", "string", "The claim bound to the volume, as namespace/name."),
        Column::new("StorageClass", "string", "Storage class of the volume."),
        Column::new("VolumeAttributesClass", "string", "Volume attributes class of the volume."),
        Column::new("Reason", "string", "Reason for a failed phase."),
        AGE,
        Column::new("VolumeMode", "string", "Filesystem or Block.").wide(),
    ],
    row: |pv, now| {
        let claim = match at(pv, &["spec", "claimRef"]) {
            Some(c) => format!("{}/{}", str_at(c, &["namespace"]), str_at(c, &["name"])),
            None => String::new(),
        };
        let phase = if deleting(pv) { "Terminating" } else { str_at(pv, &["status", "phase"]) };
        let class = annotation(pv, BETA_STORAGE_CLASS).unwrap_or_else(|| str_at(pv, &["spec", "storageClassName"]));
        cells![
            name(pv),
            quantity(at(pv, &["spec", "capacity", "storage"])),
            access_modes(list_at(pv, &["spec", "accessModes"])),
            str_at(pv, &["spec", "persistentVolumeReclaimPolicy"]),
            phase,
            claim,
            class,
            opt_str(pv, &["spec", "volumeAttributesClassName"]).unwrap_or("<unset>"),
            str_at(pv, &["status", "reason"]),
            age(pv, now),
            opt_str(pv, &["spec", "volumeMode"]).unwrap_or("<unset>"),
        ]
        .into()
    },
};

/// The storage-class annotation that predates `storageClassName`.
const BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

pub(crate) const PERSISTENT_VOLUME_CLAIM: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Status", "string", "Phase of the claim."),
        Column::new("Volume", "string", "The volume bound to the claim."),
        Column::new("Capacity", "string", "Capacity of the bound volume."),
        Column::new("Access Modes", "string", "Access modes of the bound volume."),
        Column::new("StorageClass", "string", "Storage class of the claim."),
        Column::new("VolumeAttributesClass", "string", "Volume attributes class of the claim."),
        AGE,
        Column::new("VolumeMode", "string", "Filesystem or Block.").wide(),
    ],
    row: |pvc, now| {
        let phase = if deleting(pvc) { "Terminating" } else { str_at(pvc, &["status", "phase"]) };
        let volume = str_at(pvc, &["spec", "volumeName"]);
        let (capacity, modes) = if volume.is_empty() {
            (String::new(), String::new())
        } else {
            (
                quantity(at(pvc, &["status", "capacity", "storage"])),
                access_modes(list_at(pvc, &["status", "accessModes"])),
            )
        };
        let class =
            annotation(pvc, BETA_STORAGE_CLASS).or_else(|| opt_str(pvc, &["spec", "storageClassName"])).unwrap_or("");
        cells![
            name(pvc),
            phase,
            volume,
            capacity,
            modes,
            class,
            opt_str(pvc, &["spec", "volumeAttributesClassName"]).unwrap_or("<unset>"),
            age(pvc, now),
            opt_str(pvc, &["spec", "volumeMode"]).unwrap_or("<unset>"),
        ]
        .into()
    },
};

pub(crate) const RESOURCE_QUOTA: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Request", "string", "Used and hard amounts of requests and object counts."),
        Column::new("Limit", "string", "Used and hard amounts of limits."),
        AGE,
    ],
    row: |rq, now| {
        let mut request = Vec::new();
        let mut limit = Vec::new();
        if let Some(hard) = map_at(rq, &["status", "hard"]) {
            let mut names: Vec<&String> = hard.keys().collect();
            names.sort();
            for resource in names {
                let used = quantity(at(rq, &["status", "used", resource]));
                let text = format!("{resource}: {used}/{}", quantity(hard.get(resource.as_str())));
                if resource.split('.').next() == Some("limits") && resource.contains('.') {
                    limit.push(text);
                } else {
                    request.push(text);
                }
            }
        }
        cells![name(rq), request.join(", "), limit.join(", "), age(rq, now)].into()
    },
};

#[cfg(test)]
#[path = "corev1_tests.rs"]
mod tests;
