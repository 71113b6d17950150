//! VolumeBinding's tests, and builders the other volume plugins' tests share.

use std::sync::Arc;

use k_api_types::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k_store::{Api, Store};
use serde_json::{Value, json};

use super::*;
use crate::framework::{Listers, PreFilterPlugin};
use crate::plugins::testing::{node, pod};

/// A handle whose caches hold `objects` (decoded by kind).
pub(crate) fn handle(objects: &[Value]) -> Handle {
    let (listers, mut writers) = Listers::new();
    let ignored = writers.insert_json(objects).expect("objects decode");
    assert!(ignored.is_empty(), "no cache for {ignored:?}");
    Handle::new(listers)
}

/// A claim in `default` with `spec` (access modes default to RWO, 1Gi).
pub(crate) fn pvc(name: &str, spec: Value) -> Value {
    let mut object = json!({"kind": "PersistentVolumeClaim", "apiVersion": "v1",
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"), "resourceVersion": "1"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
    for (k, v) in spec.as_object().expect("a spec object") {
        object["spec"][k] = v.clone();
    }
    object
}

/// A claim bound to `volume` (binding completed).
pub(crate) fn bound_pvc(name: &str, volume: &str) -> Value {
    let mut object = pvc(name, json!({"volumeName": volume}));
    object["metadata"]["annotations"] = json!({ANN_BIND_COMPLETED: "yes"});
    object["status"] = json!({"phase": "Bound"});
    object
}

/// An available volume with `spec` merged in (1Gi, RWO, a CSI source) and `labels`.
pub(crate) fn pv(name: &str, spec: Value, labels: Value) -> Value {
    let mut object = json!({"kind": "PersistentVolume", "apiVersion": "v1",
        "metadata": {"name": name, "labels": labels, "resourceVersion": "1"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                 "csi": {"driver": "csi.example.com", "volumeHandle": name}},
        "status": {"phase": "Available"}});
    for (k, v) in spec.as_object().expect("a spec object") {
        object["spec"][k] = v.clone();
    }
    object
}

/// A storage class.
pub(crate) fn class(name: &str, provisioner: &str, mode: &str, topologies: Value) -> Value {
    json!({"kind": "StorageClass", "apiVersion": "storage.k8s.io/v1", "metadata": {"name": name},
           "provisioner": provisioner, "volumeBindingMode": mode, "allowedTopologies": topologies})
}

/// A pod using `claims`, one volume each.
pub(crate) fn claim_pod(name: &str, claims: &[&str]) -> PodInfo {
    let volumes: Vec<Value> =
        claims.iter().map(|c| json!({"name": format!("v-{c}"), "persistentVolumeClaim": {"claimName": c}})).collect();
    pod(name, json!({"volumes": volumes}))
}

/// A node named `name` with `labels`.
pub(crate) fn labelled(name: &str, labels: Value) -> Arc<NodeInfo> {
    Arc::new(node(name, json!({"pods": "110"}), json!({"labels": labels})))
}

/// PreFilter then Filter on each node: PreFilter's rejection, or each node's
/// status (all Success when PreFilter skipped).
pub(crate) fn run<P: PreFilterPlugin + FilterPlugin>(
    plugin: &P,
    state: &mut CycleState,
    pod: &PodInfo,
    nodes: &[Arc<NodeInfo>],
) -> Result<Vec<Status>, Status> {
    let (_, status) = plugin.pre_filter(state, pod, nodes);
    match status.code() {
        Code::Skip => Ok(nodes.iter().map(|_| Status::success()).collect()),
        Code::Success => Ok(nodes.iter().map(|n| plugin.filter(state, pod, n)).collect()),
        _ => Err(status),
    }
}

fn zone_affinity(zone: &str) -> Value {
    json!({"required": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "topology.kubernetes.io/zone", "operator": "In", "values": [zone]}]}]}})
}

fn nodes() -> Vec<Arc<NodeInfo>> {
    vec![
        labelled("a1", json!({"topology.kubernetes.io/zone": "a"})),
        labelled("b1", json!({"topology.kubernetes.io/zone": "b"})),
    ]
}

/// Each node's outcome as text: "ok", or the code and reasons.
fn outcomes(result: Result<Vec<Status>, Status>) -> Result<Vec<String>, String> {
    let text = |s: &Status| if s.is_success() { "ok".to_owned() } else { s.to_string() };
    result.map(|v| v.iter().map(text).collect()).map_err(|s| text(&s))
}

#[test]
fn claims_and_volumes_per_node() {
    let wait = "WaitForFirstConsumer";
    let local = class("local", NO_PROVISIONER, wait, json!([]));
    let fast = class("fast", "csi.example.com", wait, json!([]));
    let zoned = class(
        "zoned",
        "csi.example.com",
        wait,
        json!([{"matchLabelExpressions": [{"key": "topology.kubernetes.io/zone", "values": ["b"]}]}]),
    );
    let immediate = class("standard", "csi.example.com", "Immediate", json!([]));
    let unresolvable = |r: &str| format!("UnschedulableAndUnresolvable: {r}");
    type Case = (&'static str, Vec<Value>, Vec<&'static str>, Result<Vec<String>, String>);
    let cases: Vec<Case> = vec![
        ("no claims: skipped", vec![], vec![], Ok(vec!["ok".into(), "ok".into()])),
        ("missing claim", vec![], vec!["data"], Err(unresolvable("persistentvolumeclaim \"data\" not found"))),
        (
            "unbound immediate claim",
            vec![immediate.clone(), pvc("data", json!({"storageClassName": "standard"}))],
            vec!["data"],
            Err(unresolvable(ERR_UNBOUND_IMMEDIATE)),
        ),
        (
            "classless claims bind immediately",
            vec![pvc("data", json!({}))],
            vec!["data"],
            Err(unresolvable(ERR_UNBOUND_IMMEDIATE)),
        ),
        (
            "bound volume's node affinity",
            vec![bound_pvc("data", "pv-a"), pv("pv-a", json!({"nodeAffinity": zone_affinity("a")}), json!({}))],
            vec!["data"],
            Ok(vec!["ok".into(), unresolvable(ERR_NODE_CONFLICT)]),
        ),
        (
            "bound to a missing volume",
            vec![bound_pvc("data", "gone")],
            vec!["data"],
            Ok(vec![unresolvable(ERR_PV_NOT_EXIST), unresolvable(ERR_PV_NOT_EXIST)]),
        ),
        (
            "WaitForFirstConsumer with a local volume on one node",
            vec![
                local.clone(),
                pvc("data", json!({"storageClassName": "local"})),
                pv("pv-b", json!({"storageClassName": "local", "nodeAffinity": zone_affinity("b")}), json!({})),
            ],
            vec!["data"],
            Ok(vec![unresolvable(ERR_BIND_CONFLICT), "ok".into()]),
        ),
        (
            "WaitForFirstConsumer: too small, wrong mode, access or class, bound elsewhere, not available",
            vec![
                local.clone(),
                pvc("data", json!({"storageClassName": "local", "resources": {"requests": {"storage": "2Gi"}}})),
                pv("small", json!({"storageClassName": "local"}), json!({})),
                pv(
                    "block",
                    json!({"storageClassName": "local", "capacity": {"storage": "5Gi"}, "volumeMode": "Block"}),
                    json!({}),
                ),
                pv(
                    "rox",
                    json!({"storageClassName": "local", "capacity": {"storage": "5Gi"}, "accessModes": ["ReadOnlyMany"]}),
                    json!({}),
                ),
                pv("other-class", json!({"storageClassName": "fast", "capacity": {"storage": "5Gi"}}), json!({})),
                pv(
                    "taken",
                    json!({"storageClassName": "local", "capacity": {"storage": "5Gi"},
                    "claimRef": {"namespace": "default", "name": "other"}}),
                    json!({}),
                ),
                {
                    let mut released =
                        pv("released", json!({"storageClassName": "local", "capacity": {"storage": "5Gi"}}), json!({}));
                    released["status"]["phase"] = json!("Released");
                    released
                },
            ],
            vec!["data"],
            Ok(vec![unresolvable(ERR_BIND_CONFLICT), unresolvable(ERR_BIND_CONFLICT)]),
        ),
        (
            "WaitForFirstConsumer with no volume but a provisioner",
            vec![fast.clone(), pvc("data", json!({"storageClassName": "fast"}))],
            vec!["data"],
            Ok(vec!["ok".into(), "ok".into()]),
        ),
        (
            "provisioning limited by allowed topologies",
            vec![zoned, pvc("data", json!({"storageClassName": "zoned"}))],
            vec!["data"],
            Ok(vec![unresolvable(ERR_BIND_CONFLICT), "ok".into()]),
        ),
        (
            "a claim already selected for another node",
            vec![fast.clone(), {
                let mut claim = pvc("data", json!({"storageClassName": "fast"}));
                claim["metadata"]["annotations"] = json!({ANN_SELECTED_NODE: "b1"});
                claim
            }],
            vec!["data"],
            Ok(vec![unresolvable(ERR_BIND_CONFLICT), "ok".into()]),
        ),
        (
            "bound and unbound claims both failing",
            vec![
                local,
                bound_pvc("logs", "pv-a"),
                pv("pv-a", json!({"nodeAffinity": zone_affinity("a")}), json!({})),
                pvc("data", json!({"storageClassName": "local"})),
            ],
            vec!["logs", "data"],
            Ok(vec![
                unresolvable(ERR_BIND_CONFLICT),
                format!("UnschedulableAndUnresolvable: {ERR_NODE_CONFLICT}, {ERR_BIND_CONFLICT}"),
            ]),
        ),
    ];
    for (name, objects, claims, want) in cases {
        let plugin = VolumeBinding::new(handle(&objects));
        let got = outcomes(run(&plugin, &mut CycleState::new(), &claim_pod("p", &claims), &nodes()));
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn smallest_fitting_volume_and_reserve_keeps_it_from_the_next_pod() {
    let objects = vec![
        class("local", NO_PROVISIONER, "WaitForFirstConsumer", json!([])),
        pvc("data-0", json!({"storageClassName": "local"})),
        pvc("data-1", json!({"storageClassName": "local"})),
        pv("big", json!({"storageClassName": "local", "capacity": {"storage": "10Gi"}}), json!({})),
        pv("small", json!({"storageClassName": "local", "capacity": {"storage": "2Gi"}}), json!({})),
    ];
    let plugin = VolumeBinding::new(handle(&objects));
    let nodes = nodes();
    let chosen = |pod: &PodInfo, state: &CycleState| {
        let data = state.read::<StateData>(STATE_KEY).unwrap();
        let assumed = data.assumed.as_ref().expect("volumes assumed");
        assert_eq!(assumed.static_bindings.len(), 1, "{}", pod.key());
        let (pv, _) = &assumed.static_bindings[0];
        (pv.metadata.name.clone(), pv.spec.claim_ref.as_ref().unwrap().name.clone())
    };

    let first = claim_pod("p0", &["data-0"]);
    let mut state = CycleState::new();
    assert!(run(&plugin, &mut state, &first, &nodes).unwrap().iter().all(Status::is_success));
    assert!(plugin.reserve(&mut state, &first, "a1").is_success());
    assert_eq!(chosen(&first, &state), ("small".to_owned(), "data-0".to_owned()), "the smallest fit");

    let second = claim_pod("p1", &["data-1"]);
    let mut state1 = CycleState::new();
    assert!(run(&plugin, &mut state1, &second, &nodes).unwrap().iter().all(Status::is_success));
    assert!(plugin.reserve(&mut state1, &second, "a1").is_success());
    assert_eq!(chosen(&second, &state1), ("big".to_owned(), "data-1".to_owned()), "small is assumed by p0");

    // p0 is unreserved: its volume is free again for the next pod.
    plugin.unreserve(&mut state, &first, "a1");
    let third = claim_pod("p2", &["data-0"]);
    let mut state2 = CycleState::new();
    run(&plugin, &mut state2, &third, &nodes).unwrap();
    assert!(plugin.reserve(&mut state2, &third, "a1").is_success());
    assert_eq!(chosen(&third, &state2).0, "small");

    // The informer's newer version of a volume wins over the assumed one.
    let mut writers_objects = objects.clone();
    writers_objects[3]["metadata"]["resourceVersion"] = json!("2");
    writers_objects[3]["spec"]["claimRef"] = json!({"namespace": "default", "name": "data-1", "uid": "uid-data-1"});
    let (listers, mut writers) = Listers::new();
    writers.insert_json(&writers_objects).unwrap();
    let cache = plugin.assumed.clone();
    let refreshed = VolumeBinding { handle: Handle::new(listers), assumed: cache };
    let big = refreshed.volume_named("big").unwrap();
    assert_eq!(big.metadata.resource_version, "2");
    assert_eq!(refreshed.cache().pvs.len(), 1, "the stale assumption of big is gone; small's stays");
}

#[tokio::test]
async fn no_pvcs_reserve_and_prebind_do_nothing() {
    let plugin = VolumeBinding::new(handle(&[]));
    let p = pod("p", json!({}));
    let mut state = CycleState::new();
    assert_eq!(plugin.pre_filter(&mut state, &p, &[]).1.code(), Code::Skip);
    assert!(plugin.reserve(&mut state, &p, "a1").is_success());
    let status = plugin.pre_bind(&state, &p, "a1").await;
    assert!(status.is_success(), "nothing to bind, no API needed: {status}");
}

/// Creates `value` in the store and returns what the store holds.
async fn create<K: k_api_types::Resource>(store: &Store, value: Value) -> Value {
    let object: K = serde_json::from_value(value).unwrap();
    let api: Api<K> = Api::with_client(Arc::new(store.clone()), Some("default".into()));
    let created = api.create(&object).await.unwrap();
    serde_json::to_value(created).unwrap()
}

#[tokio::test]
async fn prebind_writes_the_claim_ref_and_the_selected_node() {
    let store = Store::in_memory();
    let mut objects = vec![
        class("local", NO_PROVISIONER, "WaitForFirstConsumer", json!([])),
        class("fast", "csi.example.com", "WaitForFirstConsumer", json!([])),
    ];
    let strip = |mut v: Value| {
        v["metadata"].as_object_mut().unwrap().remove("uid");
        v["metadata"].as_object_mut().unwrap().remove("resourceVersion");
        v
    };
    let mut volume = create::<PersistentVolume>(
        &store,
        strip(pv("pv-1", json!({"storageClassName": "local", "nodeAffinity": zone_affinity("a")}), json!({}))),
    )
    .await;
    volume["status"] = json!({"phase": "Available"}); // as the PV controller would
    objects.push(volume);
    objects
        .push(create::<PersistentVolumeClaim>(&store, strip(pvc("data", json!({"storageClassName": "local"})))).await);
    objects.push(
        create::<PersistentVolumeClaim>(&store, strip(pvc("scratch", json!({"storageClassName": "fast"})))).await,
    );

    let p = claim_pod("p", &["data", "scratch"]);
    let without_api = VolumeBinding::new(handle(&objects));
    let mut state = CycleState::new();
    assert_eq!(
        outcomes(run(&without_api, &mut state, &p, &nodes())),
        Ok(vec!["ok".into(), format!("UnschedulableAndUnresolvable: {ERR_BIND_CONFLICT}")])
    );
    assert!(without_api.reserve(&mut state, &p, "a1").is_success());
    let status = without_api.pre_bind(&state, &p, "a1").await;
    assert_eq!(status.code(), Code::Error, "bindings to write and no API: {status}");

    let plugin = VolumeBinding::new(handle(&objects).with_api(Arc::new(store.clone())));
    let mut state = CycleState::new();
    run(&plugin, &mut state, &p, &nodes()).unwrap();
    assert!(plugin.reserve(&mut state, &p, "a1").is_success());
    let status = plugin.pre_bind(&state, &p, "a1").await;
    assert!(status.is_success(), "{status}");

    let pvs: Api<PersistentVolume> = Api::with_client(Arc::new(store.clone()), None);
    let written = pvs.get("pv-1").await.unwrap();
    let claim_ref = written.spec.claim_ref.expect("claimRef written");
    assert_eq!((claim_ref.namespace.as_str(), claim_ref.name.as_str()), ("default", "data"));
    assert!(!claim_ref.uid.is_empty());
    assert_eq!(written.metadata.annotations.get(ANN_BOUND_BY_CONTROLLER).map(String::as_str), Some("yes"));
    let claims: Api<PersistentVolumeClaim> = Api::with_client(Arc::new(store.clone()), Some("default".into()));
    let scratch = claims.get("scratch").await.unwrap();
    assert_eq!(scratch.metadata.annotations.get(ANN_SELECTED_NODE).map(String::as_str), Some("a1"));
    let data = claims.get("data").await.unwrap();
    assert!(!data.metadata.annotations.contains_key(ANN_SELECTED_NODE), "statically bound, not provisioned");
}
