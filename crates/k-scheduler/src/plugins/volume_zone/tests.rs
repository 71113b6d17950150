use serde_json::{Value, json};

use super::*;
use crate::plugins::volume_binding::tests::{bound_pvc, claim_pod, class, handle, labelled, pv, pvc, run};

fn zoned_pv(name: &str, labels: Value) -> Value {
    pv(name, json!({}), labels)
}

#[test]
fn volume_zones_against_node_zones() {
    let nodes = [
        labelled("a", json!({ZONE: "us-east-1a", REGION: "us-east-1"})),
        labelled("b", json!({ZONE: "us-east-1b", REGION: "us-east-1"})),
        labelled("beta-a", json!({BETA_ZONE: "us-east-1a"})),
        labelled("plain", json!({"kubernetes.io/hostname": "plain"})),
    ];
    let conflict = Status::unresolvable(ERR_REASON_CONFLICT);
    let ok = Status::success();
    // (case, the pod's volume's labels, each node's outcome)
    let cases: Vec<(&str, Value, Vec<Status>)> = vec![
        ("no topology labels", json!({"app": "db"}), vec![ok.clone(), ok.clone(), ok.clone(), ok.clone()]),
        ("GA zone", json!({ZONE: "us-east-1a"}), vec![ok.clone(), conflict.clone(), conflict.clone(), ok.clone()]),
        (
            "beta zone matches GA and beta node labels",
            json!({BETA_ZONE: "us-east-1a"}),
            vec![ok.clone(), conflict.clone(), ok.clone(), ok.clone()],
        ),
        (
            "several zones",
            json!({ZONE: "us-east-1a__us-east-1b"}),
            vec![ok.clone(), ok.clone(), conflict.clone(), ok.clone()],
        ),
        (
            "zone and region",
            json!({ZONE: "us-east-1b", REGION: "us-east-1"}),
            vec![conflict.clone(), ok.clone(), conflict.clone(), ok.clone()],
        ),
        (
            "another region",
            json!({REGION: "eu-west-1"}),
            vec![conflict.clone(), conflict.clone(), conflict.clone(), ok.clone()],
        ),
    ];
    for (name, labels, want) in cases {
        let plugin = VolumeZone::new(handle(&[bound_pvc("data", "pv"), zoned_pv("pv", labels)]));
        let got = run(&plugin, &mut CycleState::new(), &claim_pod("p", &["data"]), &nodes).unwrap();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn claims_that_cannot_be_placed() {
    let wait = class("wait", "csi.example.com", "WaitForFirstConsumer", json!([]));
    let now = class("now", "csi.example.com", "Immediate", json!([]));
    let cases: Vec<(&str, Vec<Value>, Result<(), Status>)> = vec![
        ("missing claim", vec![], Err(Status::unresolvable("persistentvolumeclaim \"data\" not found"))),
        (
            "missing volume",
            vec![bound_pvc("data", "pv")],
            Err(Status::unresolvable("persistentvolume \"pv\" not found")),
        ),
        (
            "unbound without class",
            vec![pvc("data", json!({}))],
            Err(Status::unresolvable("PersistentVolumeClaim had no pv name and storageClass name")),
        ),
        (
            "unbound with a missing class",
            vec![pvc("data", json!({"storageClassName": "gone"}))],
            Err(Status::unresolvable("storageclass.storage.k8s.io \"gone\" not found")),
        ),
        (
            "unbound, waiting for the first consumer: skipped",
            vec![wait, pvc("data", json!({"storageClassName": "wait"}))],
            Ok(()),
        ),
        (
            "unbound, immediate",
            vec![now, pvc("data", json!({"storageClassName": "now"}))],
            Err(Status::unresolvable("PersistentVolume had no name")),
        ),
    ];
    for (name, objects, want) in cases {
        let plugin = VolumeZone::new(handle(&objects));
        let (_, status) = plugin.pre_filter(&mut CycleState::new(), &claim_pod("p", &["data"]), &[]);
        match want {
            Ok(()) => assert_eq!(status, Status::skip(), "{name}"),
            Err(want) => assert_eq!(status, want, "{name}"),
        }
    }
}
