use serde_json::{Value, json};

use super::*;
use crate::framework::Code;
use crate::plugins::testing::{pod, with_pods};
use crate::plugins::volume_binding::tests::{claim_pod, handle, labelled, pvc, run};

fn volume_pod(name: &str, volume: Value) -> PodInfo {
    let mut volume = volume;
    volume["name"] = json!("v");
    pod(name, json!({"volumes": [volume]}))
}

#[test]
fn disk_conflicts() {
    let gce = |pd: &str, ro: bool| json!({"gcePersistentDisk": {"pdName": pd, "readOnly": ro}});
    let ebs = |id: &str, ro: bool| json!({"awsElasticBlockStore": {"volumeID": id, "readOnly": ro}});
    let rbd = |mons: &[&str], pool: Option<&str>, image: &str, ro: bool| {
        let mut source = json!({"monitors": mons, "image": image, "readOnly": ro});
        if let Some(pool) = pool {
            source["pool"] = json!(pool);
        }
        json!({"rbd": source})
    };
    let iscsi =
        |iqn: &str, ro: bool| json!({"iscsi": {"targetPortal": "10.0.0.1:3260", "iqn": iqn, "lun": 0, "readOnly": ro}});
    // (case, the node's pod's volume, the new pod's volume, fits)
    let cases = [
        ("same GCE disk read-write", gce("d1", false), gce("d1", false), false),
        ("same GCE disk, one read-only", gce("d1", true), gce("d1", false), false),
        ("same GCE disk, both read-only", gce("d1", true), gce("d1", true), true),
        ("other GCE disk", gce("d1", false), gce("d2", false), true),
        ("same EBS volume, even read-only", ebs("vol-1", true), ebs("vol-1", true), false),
        ("other EBS volume", ebs("vol-1", false), ebs("vol-2", false), true),
        (
            "RBD sharing a monitor, default pool",
            rbd(&["m1", "m2"], None, "img", false),
            rbd(&["m2"], Some("rbd"), "img", false),
            false,
        ),
        ("RBD read-only on both", rbd(&["m1"], None, "img", true), rbd(&["m1"], None, "img", true), true),
        ("RBD in another pool", rbd(&["m1"], Some("a"), "img", false), rbd(&["m1"], Some("b"), "img", false), true),
        ("RBD without a common monitor", rbd(&["m1"], None, "img", false), rbd(&["m2"], None, "img", false), true),
        ("same iSCSI IQN", iscsi("iqn.1", false), iscsi("iqn.1", true), false),
        ("same iSCSI IQN read-only", iscsi("iqn.1", true), iscsi("iqn.1", true), true),
        ("other iSCSI IQN", iscsi("iqn.1", false), iscsi("iqn.2", false), true),
        ("different kinds", gce("d1", false), ebs("d1", false), true),
    ];
    let plugin = VolumeRestrictions::new(handle(&[]));
    for (name, existing, new, fits) in cases {
        let node = Arc::new(with_pods((*labelled("n1", json!({}))).clone(), vec![volume_pod("old", existing)]));
        let got = run(&plugin, &mut CycleState::new(), &volume_pod("new", new), &[node]).unwrap();
        let want = if fits { Status::success() } else { Status::unschedulable(ERR_DISK_CONFLICT) };
        assert_eq!(got, [want], "{name}");
    }
}

#[test]
fn prefilter_skips_and_missing_claims() {
    let plugin = VolumeRestrictions::new(handle(&[pvc("data", json!({}))]));
    let skip = |p: &PodInfo| plugin.pre_filter(&mut CycleState::new(), p, &[]).1.code();
    assert_eq!(skip(&pod("plain", json!({"volumes": [{"name": "tmp", "emptyDir": {}}]}))), Code::Skip);
    assert_eq!(skip(&claim_pod("rwo", &["data"])), Code::Skip, "a ReadWriteOnce claim has no restriction");
    assert_eq!(skip(&volume_pod("gce", json!({"gcePersistentDisk": {"pdName": "d"}}))), Code::Success);
    let (_, missing) = plugin.pre_filter(&mut CycleState::new(), &claim_pod("p", &["nope"]), &[]);
    assert_eq!(missing, Status::unresolvable("persistentvolumeclaim \"nope\" not found"));
}

#[test]
fn read_write_once_pod_claims_in_use() {
    let plugin = VolumeRestrictions::new(handle(&[
        pvc("solo", json!({"accessModes": ["ReadWriteOncePod"]})),
        pvc("shared", json!({"accessModes": ["ReadWriteMany"]})),
    ]));
    let user = Arc::new(claim_pod("user", &["solo", "shared"]));
    let busy = Arc::new(with_pods((*labelled("busy", json!({}))).clone(), vec![(*user).clone()]));
    let idle = labelled("idle", json!({}));
    let nodes = [busy.clone(), idle.clone()];

    let conflict = Status::unschedulable(ERR_READ_WRITE_ONCE_POD_CONFLICT);
    let mut state = CycleState::new();
    let p = claim_pod("p", &["solo"]);
    assert_eq!(run(&plugin, &mut state, &p, &nodes).unwrap(), [conflict.clone(), conflict], "in use anywhere");
    // Preemption's view without the user: the claim is free again.
    assert!(plugin.remove_pod(&mut state, &p, &user, &busy).is_success());
    assert!(plugin.filter(&state, &p, &idle).is_success());
    assert!(plugin.add_pod(&mut state, &p, &user, &busy).is_success());
    assert_eq!(plugin.filter(&state, &p, &idle).code(), Code::Unschedulable);

    let rwx = claim_pod("q", &["shared"]);
    assert_eq!(run(&plugin, &mut CycleState::new(), &rwx, &nodes).unwrap(), [Status::success(), Status::success()]);
}
