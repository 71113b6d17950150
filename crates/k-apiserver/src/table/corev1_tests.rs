use super::*;
use crate::table::json::parse_time;
use serde_json::json;

fn now() -> DateTime<Utc> {
    parse_time("2024-06-01T12:00:00Z").unwrap()
}

fn meta(name: &str) -> Value {
    json!({"name": name, "namespace": "default", "creationTimestamp": "2024-06-01T11:30:00Z"})
}

fn row(p: &Printer, obj: &Value) -> Vec<Value> {
    let cells = (p.row)(obj, now()).cells;
    assert_eq!(cells.len(), p.columns.len(), "one cell per column");
    cells
}

#[test]
fn cluster_ip_service() {
    let svc = json!({
        "metadata": meta("web"),
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.12.34", "clusterIPs": ["10.96.12.34", "fd00::1234"],
                 "selector": {"app": "web", "tier": "front"},
                 "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
                           {"name": "dns", "port": 53, "protocol": "UDP"}]}
    });
    assert_eq!(
        row(&SERVICE, &svc),
        vec![
            json!("web"),
            json!("ClusterIP"),
            json!("10.96.12.34"),
            json!("<none>"),
            json!("80/TCP,53/UDP"),
            json!("30m"),
            json!("app=web,tier=front")
        ]
    );
}

#[test]
fn headless_and_node_port_services() {
    let headless = json!({"metadata": meta("db"), "spec": {"clusterIP": "None", "selector": {"app": "db"}}});
    let cells = row(&SERVICE, &headless);
    assert_eq!(cells[1..5], [json!("ClusterIP"), json!("None"), json!("<none>"), json!("<none>")]);

    let np = json!({"metadata": meta("np"), "spec": {"type": "NodePort", "clusterIPs": ["10.96.0.20"],
        "externalIPs": ["192.0.2.5"], "ports": [{"port": 443, "nodePort": 30443}]}});
    let cells = row(&SERVICE, &np);
    assert_eq!(cells[1..5], [json!("NodePort"), json!("10.96.0.20"), json!("192.0.2.5"), json!("443:30443/TCP")]);
    assert_eq!(cells[6], json!("<none>"));
}

#[test]
fn load_balancer_and_external_name_services() {
    let pending = json!({"metadata": meta("lb"), "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.0.30"],
        "ports": [{"port": 80, "nodePort": 31080, "protocol": "TCP"}]}, "status": {"loadBalancer": {}}});
    assert_eq!(row(&SERVICE, &pending)[3], json!("<pending>"));

    let ready = json!({"metadata": meta("lb"), "spec": {"type": "LoadBalancer", "externalIPs": ["198.51.100.9"]},
        "status": {"loadBalancer": {"ingress": [{"hostname": "a1b2c3-1234567890.elb.eu-west-1.amazonaws.com"}, {"ip": "203.0.113.7"}]}}});
    assert_eq!(
        row(&SERVICE, &ready)[3],
        json!("203.0.113.7,a1b2c3-1234567890.elb.eu-west-1.amazonaws.com,198.51.100.9")
    );

    let ext = json!({"metadata": meta("mail"), "spec": {"type": "ExternalName", "externalName": "mail.example.com"}});
    let cells = row(&SERVICE, &ext);
    assert_eq!(cells[1..5], [json!("ExternalName"), json!("<none>"), json!("mail.example.com"), json!("<none>")]);
}

#[test]
fn endpoints() {
    let ep = json!({"metadata": meta("web"), "subsets": [
        {"addresses": [{"ip": "10.244.1.5"}, {"ip": "10.244.2.9"}], "ports": [{"name": "http", "port": 8080}, {"name": "m", "port": 9090}]}
    ]});
    assert_eq!(
        row(&ENDPOINTS, &ep),
        vec![json!("web"), json!("10.244.1.5:8080,10.244.2.9:8080,10.244.1.5:9090 + 1 more..."), json!("30m")]
    );
    let v6 = json!({"metadata": meta("v6"), "subsets": [{"addresses": [{"ip": "fd00::5"}], "ports": [{"port": 53}]}]});
    assert_eq!(row(&ENDPOINTS, &v6)[1], json!("[fd00::5]:53"));
    let headless = json!({"metadata": meta("h"), "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}]}]});
    assert_eq!(row(&ENDPOINTS, &headless)[1], json!("10.0.0.1,10.0.0.2"));
    let none = json!({"metadata": meta("n")});
    assert_eq!(row(&ENDPOINTS, &none)[1], json!("<none>"));
}

#[test]
fn nodes() {
    let node = json!({
        "metadata": {"name": "cp-1", "creationTimestamp": "2024-05-01T12:00:00Z",
                     "labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/etcd": "",
                                "kubernetes.io/role": "master", "kubernetes.io/hostname": "cp-1"}},
        "spec": {"unschedulable": true},
        "status": {
            "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "192.168.1.10"}, {"type": "Hostname", "address": "cp-1"}],
            "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Ubuntu 24.04 LTS", "kernelVersion": "6.8.0-31-generic",
                         "containerRuntimeVersion": "containerd://1.7.22"}
        }
    });
    assert_eq!(
        row(&NODE, &node),
        vec![
            json!("cp-1"),
            json!("Ready,SchedulingDisabled"),
            json!("control-plane,etcd,master"),
            json!("31d"),
            json!("v1.32.0"),
            json!("192.168.1.10"),
            json!("<none>"),
            json!("Ubuntu 24.04 LTS"),
            json!("6.8.0-31-generic"),
            json!("containerd://1.7.22")
        ]
    );
    let new_node =
        json!({"metadata": {"name": "w-1"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
    let cells = row(&NODE, &new_node);
    assert_eq!(cells[1..3], [json!("NotReady"), json!("<none>")]);
    assert_eq!(cells[7..], [json!("<unknown>"), json!("<unknown>"), json!("<unknown>")]);
    let bare = json!({"metadata": {"name": "w-2"}});
    assert_eq!(row(&NODE, &bare)[1], json!("Unknown"));
}

#[test]
fn namespaces_config_maps_secrets_service_accounts() {
    let ns = json!({"metadata": {"name": "shop", "creationTimestamp": "2024-06-01T11:00:00Z"}, "status": {"phase": "Active"}});
    assert_eq!(row(&NAMESPACE, &ns), vec![json!("shop"), json!("Active"), json!("60m")]);
    let gone = json!({"metadata": {"name": "old"}, "status": {"phase": "Terminating"}});
    assert_eq!(row(&NAMESPACE, &gone)[1], json!("Terminating"));

    let cm =
        json!({"metadata": meta("conf"), "data": {"a.yaml": "x", "b.yaml": "y"}, "binaryData": {"logo.png": "iVBO"}});
    assert_eq!(row(&CONFIG_MAP, &cm), vec![json!("conf"), json!(3), json!("30m")]);
    assert_eq!(row(&CONFIG_MAP, &json!({"metadata": meta("empty")}))[1], json!(0));

    let secret =
        json!({"metadata": meta("tls"), "type": "kubernetes.io/tls", "data": {"tls.crt": "LS0t", "tls.key": "LS0t"}});
    assert_eq!(row(&SECRET, &secret), vec![json!("tls"), json!("kubernetes.io/tls"), json!(2), json!("30m")]);
    let opaque = json!({"metadata": meta("o"), "stringData": {"password": "hunter2"}});
    assert_eq!(row(&SECRET, &opaque)[1..3], [json!("Opaque"), json!(1)]);

    let sa = json!({"metadata": meta("builder"), "secrets": [{"name": "builder-token"}]});
    assert_eq!(row(&SERVICE_ACCOUNT, &sa), vec![json!("builder"), json!(1), json!("30m")]);
    assert_eq!(row(&SERVICE_ACCOUNT, &json!({"metadata": meta("default")}))[1], json!(0));
}

#[test]
fn core_events() {
    let ev = json!({
        "metadata": {"name": "web-7d4b9c-x2x9z.17d8a1b2c3d4e5f6", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web-7d4b9c-x2x9z", "fieldPath": "spec.containers{app}"},
        "reason": "BackOff", "message": "Back-off restarting failed container app\n", "type": "Warning",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": "2024-06-01T11:00:00Z", "lastTimestamp": "2024-06-01T11:58:00Z", "count": 14
    });
    assert_eq!(
        row(&EVENT, &ev),
        vec![
            json!("2m"),
            json!("Warning"),
            json!("BackOff"),
            json!("pod/web-7d4b9c-x2x9z"),
            json!("spec.containers{app}"),
            json!("kubelet, node-1"),
            json!("Back-off restarting failed container app"),
            json!("60m"),
            json!(14),
            json!("web-7d4b9c-x2x9z.17d8a1b2c3d4e5f6")
        ]
    );
    let names: Vec<&str> = EVENT.columns.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        ["Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message", "First Seen", "Count", "Name"]
    );
    assert_eq!(EVENT.columns.iter().map(|c| c.priority).collect::<Vec<_>>(), [0, 0, 0, 0, 1, 1, 0, 1, 1, 1]);
}

#[test]
fn new_style_events_through_core_api() {
    // Written by events.k8s.io clients: eventTime, series and reporting fields only.
    let ev = json!({
        "metadata": {"name": "e1"},
        "involvedObject": {"kind": "Node", "name": "node-1"},
        "reason": "Rebooted", "message": "Node rebooted", "type": "Normal",
        "eventTime": "2024-06-01T11:00:00.000000Z",
        "series": {"count": 3, "lastObservedTime": "2024-06-01T11:55:00.000000Z"},
        "reportingComponent": "kubelet", "reportingInstance": "node-1"
    });
    let cells = row(&EVENT, &ev);
    assert_eq!(cells[0], json!("5m"));
    assert_eq!(cells[3], json!("node/node-1"));
    assert_eq!(cells[5], json!("kubelet, node-1"));
    assert_eq!(cells[7..9], [json!("60m"), json!(3)]);

    let singleton = json!({"metadata": {"name": "e2"}, "involvedObject": {"kind": "Namespace"}, "reason": "X",
                           "eventTime": "2024-06-01T11:59:00.000000Z", "reportingComponent": "ctrl"});
    let cells = row(&EVENT, &singleton);
    assert_eq!(
        (cells[0].clone(), cells[3].clone(), cells[5].clone(), cells[8].clone()),
        (json!("60s"), json!("namespace"), json!("ctrl"), json!(1))
    );
    let undated = json!({"metadata": {"name": "e3"}});
    assert_eq!(row(&EVENT, &undated)[0], json!("<unknown>"));
}

#[test]
fn events_k8s_io_events() {
    let ev = json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "db-0.17d8"},
        "regarding": {"kind": "Pod", "name": "db-0"},
        "reason": "Scheduled", "note": "Successfully assigned default/db-0 to node-2", "type": "Normal",
        "eventTime": "2024-06-01T11:59:30.000000Z", "reportingController": "default-scheduler",
        "reportingInstance": "default-scheduler-cp-1", "action": "Binding"
    });
    assert_eq!(
        row(&EVENTS_V1_EVENT, &ev),
        vec![
            json!("30s"),
            json!("Normal"),
            json!("Scheduled"),
            json!("pod/db-0"),
            json!(""),
            json!("default-scheduler, default-scheduler-cp-1"),
            json!("Successfully assigned default/db-0 to node-2"),
            json!("30s"),
            json!(1),
            json!("db-0.17d8")
        ]
    );
}

#[test]
fn persistent_volumes() {
    let pv = json!({
        "metadata": {"name": "pvc-3f2a", "creationTimestamp": "2024-06-01T10:00:00Z"},
        "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"],
                 "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "standard", "volumeMode": "Filesystem",
                 "claimRef": {"kind": "PersistentVolumeClaim", "namespace": "shop", "name": "data-db-0"}},
        "status": {"phase": "Bound"}
    });
    assert_eq!(
        row(&PERSISTENT_VOLUME, &pv),
        vec![
            json!("pvc-3f2a"),
            json!("10Gi"),
            json!("RWO"),
            json!("Delete"),
            json!("Bound"),
            json!("shop/data-db-0"),
            json!("standard"),
            json!("<unset>"),
            json!(""),
            json!("120m"),
            json!("Filesystem")
        ]
    );
    let mut released = pv.clone();
    released["metadata"]["annotations"] = json!({"volume.beta.kubernetes.io/storage-class": "legacy"});
    released["metadata"]["deletionTimestamp"] = json!("2024-06-01T11:00:00Z");
    released["spec"]["capacity"] = json!({"storage": "1536Mi"});
    released["status"] = json!({"phase": "Failed", "reason": "VolumeFailedDelete"});
    let cells = row(&PERSISTENT_VOLUME, &released);
    assert_eq!(cells[1], json!("1536Mi"));
    assert_eq!(cells[4], json!("Terminating"));
    assert_eq!(cells[6], json!("legacy"));
    assert_eq!(cells[8], json!("VolumeFailedDelete"));
    let bare = json!({"metadata": {"name": "x"}, "spec": {}});
    let cells = row(&PERSISTENT_VOLUME, &bare);
    assert_eq!((cells[1].clone(), cells[5].clone(), cells[10].clone()), (json!("0"), json!(""), json!("<unset>")));
}

#[test]
fn persistent_volume_claims() {
    let bound = json!({
        "metadata": meta("data-db-0"),
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}},
                 "storageClassName": "standard", "volumeName": "pvc-3f2a", "volumeMode": "Filesystem",
                 "volumeAttributesClassName": "gold"},
        "status": {"phase": "Bound", "accessModes": ["ReadWriteOnce", "ReadOnlyMany"], "capacity": {"storage": "10Gi"}}
    });
    assert_eq!(
        row(&PERSISTENT_VOLUME_CLAIM, &bound),
        vec![
            json!("data-db-0"),
            json!("Bound"),
            json!("pvc-3f2a"),
            json!("10Gi"),
            json!("RWO,ROX"),
            json!("standard"),
            json!("gold"),
            json!("30m"),
            json!("Filesystem")
        ]
    );
    let pending = json!({"metadata": meta("cache"), "spec": {"resources": {"requests": {"storage": "1Gi"}}}, "status": {"phase": "Pending"}});
    let cells = row(&PERSISTENT_VOLUME_CLAIM, &pending);
    assert_eq!(cells[1..7], [json!("Pending"), json!(""), json!(""), json!(""), json!(""), json!("<unset>")]);
}

#[test]
fn resource_quotas() {
    let rq = json!({
        "metadata": meta("compute"),
        "status": {
            "hard": {"limits.cpu": "4", "limits.memory": "8Gi", "requests.cpu": "2", "requests.memory": "4Gi", "pods": "10"},
            "used": {"limits.cpu": "1500m", "limits.memory": "2Gi", "requests.cpu": "500m", "pods": "3"}
        }
    });
    assert_eq!(
        row(&RESOURCE_QUOTA, &rq),
        vec![
            json!("compute"),
            json!("pods: 3/10, requests.cpu: 500m/2, requests.memory: 0/4Gi"),
            json!("limits.cpu: 1500m/4, limits.memory: 2Gi/8Gi"),
            json!("30m")
        ]
    );
    assert_eq!(row(&RESOURCE_QUOTA, &json!({"metadata": meta("new")}))[1..3], [json!(""), json!("")]);
}

#[test]
fn replication_controllers_and_pod_templates() {
    let rc = json!({
        "metadata": meta("legacy"),
        "spec": {"replicas": 2, "selector": {"app": "legacy"},
                 "template": {"spec": {"containers": [{"name": "app", "image": "busybox:1.36"}]}}},
        "status": {"replicas": 2, "readyReplicas": 1}
    });
    assert_eq!(
        row(&REPLICATION_CONTROLLER, &rc),
        vec![
            json!("legacy"),
            json!(2),
            json!(2),
            json!(1),
            json!("30m"),
            json!("app"),
            json!("busybox:1.36"),
            json!("app=legacy")
        ]
    );
    let pt = json!({"metadata": meta("tpl"), "template": {"metadata": {"labels": {"run": "x"}},
        "spec": {"containers": [{"name": "a", "image": "alpine"}, {"name": "b", "image": "busybox"}]}}});
    assert_eq!(row(&POD_TEMPLATE, &pt), vec![json!("tpl"), json!("a,b"), json!("alpine,busybox"), json!("run=x")]);
}
