//! Decode/encode throughput of a 10,000-pod PodList: k-api-types vs k8s-openapi.

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A pod as a kubelet-managed Deployment pod looks when listed from a cluster.
fn pod(i: usize) -> Value {
    let rs = format!("web-{:x}", 0x5d9c7b8f4u64 + (i as u64 / 50));
    let name = format!("{rs}-{:05x}", i * 7919 % 0xfffff);
    let node = format!("node-{:04}", i % 500);
    let ip = format!("10.{}.{}.{}", 64 + i / 65536 % 64, i / 256 % 256, i % 256);
    json!({
        "metadata": {
            "name": name,
            "generateName": format!("{rs}-"),
            "namespace": format!("team-{}", i % 20),
            "uid": format!("{:08x}-1b2c-4d5e-8f90-{:012x}", i, i * 31),
            "resourceVersion": (1_000_000 + i).to_string(),
            "creationTimestamp": "2026-11-01T10:00:00Z",
            "labels": {"app": "web", "pod-template-hash": "5d9c7b8f4", "tier": "frontend", "version": "v1.4.2"},
            "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9113"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs,
                "uid": "6f1d2c3b-aaaa-4bbb-8ccc-0123456789ab", "controller": true, "blockOwnerDeletion": true}],
            "managedFields": [{"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
                "time": "2026-11-01T10:00:00Z", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:generateName": {}, "f:labels": {".": {}, "f:app": {}}}}}]
        },
        "spec": {
            "volumes": [
                {"name": "config", "configMap": {"name": "web-config", "defaultMode": 420}},
                {"name": "kube-api-access-x7k2p", "projected": {"defaultMode": 420, "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
                ]}}
            ],
            "containers": [
                {
                    "name": "web", "image": "nginx:1.25.3",
                    "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                    "env": [{"name": "MODE", "value": "production"},
                            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
                    "resources": {"limits": {"cpu": "1", "memory": "256Mi"}, "requests": {"cpu": "250m", "memory": "64Mi"}},
                    "volumeMounts": [{"name": "config", "readOnly": true, "mountPath": "/etc/web"},
                                     {"name": "kube-api-access-x7k2p", "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                        "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
                    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                    "imagePullPolicy": "IfNotPresent"
                },
                {
                    "name": "exporter", "image": "nginx/nginx-prometheus-exporter:1.1.0",
                    "args": ["--nginx.scrape-uri=http://localhost/stub_status"],
                    "ports": [{"name": "metrics", "containerPort": 9113, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                    "imagePullPolicy": "IfNotPresent"
                }
            ],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default", "serviceAccount": "default", "nodeName": node,
            "securityContext": {}, "schedulerName": "default-scheduler",
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            ],
            "priority": 0, "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority"
        },
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "PodReadyToStartContainers", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2026-11-01T10:00:03Z"},
                {"type": "Initialized", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2026-11-01T10:00:01Z"},
                {"type": "Ready", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2026-11-01T10:00:09Z"},
                {"type": "ContainersReady", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2026-11-01T10:00:09Z"},
                {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2026-11-01T10:00:00Z"}
            ],
            "hostIP": "192.168.1.10", "hostIPs": [{"ip": "192.168.1.10"}],
            "podIP": ip, "podIPs": [{"ip": ip}],
            "startTime": "2026-11-01T10:00:00Z",
            "containerStatuses": [
                {"name": "exporter", "state": {"running": {"startedAt": "2026-11-01T10:00:05Z"}}, "lastState": {},
                 "ready": true, "restartCount": 0, "image": "docker.io/nginx/nginx-prometheus-exporter:1.1.0",
                 "imageID": "docker.io/nginx/nginx-prometheus-exporter@sha256:0f6d1c0b1f5e4a3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d",
                 "containerID": "containerd://4b7e0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b", "started": true},
                {"name": "web", "state": {"running": {"startedAt": "2026-11-01T10:00:04Z"}}, "lastState": {},
                 "ready": true, "restartCount": 0, "image": "docker.io/library/nginx:1.25.3",
                 "imageID": "docker.io/library/nginx@sha256:9d6b1d8f1f2e3d4c5b6a7f8e9d0c1b2a3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c",
                 "containerID": "containerd://a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2", "started": true}
            ],
            "qosClass": "Burstable"
        }
    })
}

/// Removes `null` members: to Kubernetes a null field is an absent one.
fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn rate(items: usize, d: Duration) -> f64 {
    items as f64 / d.as_secs_f64()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let pods: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(15);
    let list = json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "2000000"},
        "items": (0..pods).map(pod).collect::<Vec<_>>()});
    let text = serde_json::to_string(&list).expect("serializing generated JSON cannot fail");
    println!("PodList: {pods} pods, {:.1} MiB of JSON, {rounds} rounds (median)", text.len() as f64 / 1048576.0);

    // Sanity: both libraries read the same list and write JSON that reads back equal.
    let k_list: k_api_types::core::v1::PodList = serde_json::from_str(&text).expect("k decodes the list");
    let o_list: k8s_openapi::List<k8s_openapi::api::core::v1::Pod> =
        serde_json::from_str(&text).expect("k8s-openapi decodes the list");
    assert_eq!(k_list.items.len(), pods);
    assert_eq!(o_list.items.len(), pods);
    let k_value = serde_json::to_value(&k_list.items[0]).expect("k encodes");
    let mut expected = list["items"][0].clone();
    strip_nulls(&mut expected);
    assert_eq!(k_value, expected, "k-api-types must round-trip a pod exactly (nulls mean absent)");

    let (mut kd, mut od, mut ke, mut oe) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let k_first = round % 2 == 0;
        for turn in 0..2 {
            if (turn == 0) == k_first {
                let t = Instant::now();
                let l: k_api_types::core::v1::PodList = serde_json::from_str(black_box(&text)).expect("decode");
                kd.push(t.elapsed());
                let t = Instant::now();
                let out = serde_json::to_vec(black_box(&l)).expect("encode");
                ke.push(t.elapsed());
                black_box(out);
            } else {
                let t = Instant::now();
                let l: k8s_openapi::List<k8s_openapi::api::core::v1::Pod> =
                    serde_json::from_str(black_box(&text)).expect("decode");
                od.push(t.elapsed());
                let t = Instant::now();
                let out = serde_json::to_vec(black_box(&l)).expect("encode");
                oe.push(t.elapsed());
                black_box(out);
            }
        }
    }
    let (kd, od, ke, oe) = (median(kd), median(od), median(ke), median(oe));
    println!("{:<8} {:>16} {:>16} {:>8}", "", "k-api-types", "k8s-openapi", "ratio");
    println!(
        "{:<8} {:>10.0} pods/s {:>10.0} pods/s {:>7.2}x",
        "decode",
        rate(pods, kd),
        rate(pods, od),
        od.as_secs_f64() / kd.as_secs_f64()
    );
    println!(
        "{:<8} {:>10.0} pods/s {:>10.0} pods/s {:>7.2}x",
        "encode",
        rate(pods, ke),
        rate(pods, oe),
        oe.as_secs_f64() / ke.as_secs_f64()
    );
    println!("(ratio = k8s-openapi time / k-api-types time; above 1.0 means k is faster)");
}
