use serde_json::{Value, json};

use super::*;
use crate::framework::Code;
use crate::plugins::testing::{node, pod, with_pods};
use crate::plugins::volume_binding::tests::{bound_pvc, claim_pod, class, handle, pv, pvc, run};

fn csi_node(name: &str, drivers: Value) -> Value {
    json!({"kind": "CSINode", "apiVersion": "storage.k8s.io/v1", "metadata": {"name": name},
           "spec": {"drivers": drivers}})
}

fn driver(name: &str, count: Option<i32>) -> Value {
    let mut d = json!({"name": name, "nodeID": "n1"});
    if let Some(count) = count {
        d["allocatable"] = json!({"count": count});
    }
    d
}

/// Claims c0…c4 bound to ebs volumes v0…v4, c5 bound to a gce-pd volume,
/// `unbound` of an ebs class.
fn objects() -> Vec<Value> {
    let mut objects = vec![
        class("ebs", "ebs.csi.aws.com", "WaitForFirstConsumer", json!([])),
        pvc("unbound", json!({"storageClassName": "ebs"})),
        bound_pvc("c5", "v5"),
        pv("v5", json!({"csi": {"driver": "pd.csi.storage.gke.io", "volumeHandle": "v5"}}), json!({})),
    ];
    for i in 0..5 {
        objects.push(bound_pvc(&format!("c{i}"), &format!("v{i}")));
        objects.push(pv(
            &format!("v{i}"),
            json!({"csi": {"driver": "ebs.csi.aws.com", "volumeHandle": format!("v{i}")}}),
            json!({}),
        ));
    }
    objects
}

#[test]
fn limits_per_driver() {
    let exceeded = Status::unschedulable(ERR_MAX_VOLUME_COUNT_EXCEEDED);
    let ok = Status::success();
    // (case, CSINode drivers (None: no CSINode), claims of the node's pods, the new pod's claims, outcome)
    type Case = (&'static str, Option<Value>, Vec<Vec<&'static str>>, Vec<&'static str>, Status);
    let cases: Vec<Case> = vec![
        (
            "under the limit",
            Some(json!([driver("ebs.csi.aws.com", Some(3))])),
            vec![vec!["c0"]],
            vec!["c1", "c2"],
            ok.clone(),
        ),
        (
            "over the limit",
            Some(json!([driver("ebs.csi.aws.com", Some(3))])),
            vec![vec!["c0", "c1"]],
            vec!["c2", "c3"],
            exceeded.clone(),
        ),
        (
            "at the limit already",
            Some(json!([driver("ebs.csi.aws.com", Some(2))])),
            vec![vec!["c0"], vec!["c1"]],
            vec!["c2"],
            exceeded.clone(),
        ),
        (
            "a shared volume counts once",
            Some(json!([driver("ebs.csi.aws.com", Some(2))])),
            vec![vec!["c0", "c1"]],
            vec!["c1"],
            ok.clone(),
        ),
        (
            "another driver's limit",
            Some(json!([driver("ebs.csi.aws.com", Some(1))])),
            vec![vec!["c0"]],
            vec!["c5"],
            ok.clone(),
        ),
        ("no CSINode", None, vec![vec!["c0", "c1", "c2"]], vec!["c3"], ok.clone()),
        (
            "driver without a count",
            Some(json!([driver("ebs.csi.aws.com", None)])),
            vec![vec!["c0"]],
            vec!["c1"],
            ok.clone(),
        ),
        (
            "unbound claims count by their class",
            Some(json!([driver("ebs.csi.aws.com", Some(1))])),
            vec![vec!["c0"]],
            vec!["unbound"],
            exceeded.clone(),
        ),
        ("a zero limit", Some(json!([driver("ebs.csi.aws.com", Some(0))])), vec![], vec!["c0"], exceeded),
    ];
    for (name, drivers, existing, claims, want) in cases {
        let mut objects = objects();
        objects.extend(drivers.map(|d| csi_node("n1", d)));
        let plugin = NodeVolumeLimits::new(handle(&objects));
        let pods = existing.iter().enumerate().map(|(i, c)| claim_pod(&format!("old{i}"), c)).collect();
        let n = Arc::new(with_pods(node("n1", json!({"pods": "110"}), json!({})), pods));
        let got = run(&plugin, &mut CycleState::new(), &claim_pod("new", &claims), &[n]).unwrap();
        assert_eq!(got, [want], "{name}");
    }
}

#[test]
fn node_allocatable_limits_skips_and_missing_claims() {
    let plugin = NodeVolumeLimits::new(handle(&objects()));
    let limited = Arc::new(with_pods(
        node("n2", json!({"pods": "110", "attachable-volumes-csi-ebs.csi.aws.com": "1"}), json!({})),
        vec![claim_pod("old", &["c0"])],
    ));
    let got = run(&plugin, &mut CycleState::new(), &claim_pod("new", &["c1"]), std::slice::from_ref(&limited)).unwrap();
    assert_eq!(got, [Status::unschedulable(ERR_MAX_VOLUME_COUNT_EXCEEDED)], "the node's allocatable limit");

    let inline = pod("inline", json!({"volumes": [{"name": "v", "csi": {"driver": "ebs.csi.aws.com"}}]}));
    assert_eq!(plugin.pre_filter(&mut CycleState::new(), &inline, &[]).1.code(), Code::Skip);

    let missing = plugin.filter(&CycleState::new(), &claim_pod("new", &["nope"]), &limited);
    assert_eq!(missing, Status::unresolvable("looking up PVC default/nope: persistentvolumeclaim \"nope\" not found"));
    // A node's pod with a missing claim is just not counted.
    let stale = Arc::new(with_pods(
        node("n3", json!({"pods": "110", "attachable-volumes-csi-ebs.csi.aws.com": "1"}), json!({})),
        vec![claim_pod("old", &["nope"])],
    ));
    assert!(plugin.filter(&CycleState::new(), &claim_pod("new", &["c1"]), &stale).is_success());
}
