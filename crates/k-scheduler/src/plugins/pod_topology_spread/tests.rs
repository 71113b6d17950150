//! Table tests with hand-computed counts, skews and scores.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::filtering::read_state;
use super::scoring::{read_pre_score, topology_normalizing_weight};
use super::*;
use crate::framework::{
    Code, CycleState, FilterPlugin, NodeScore, PreFilterPlugin, PreScorePlugin, ScorePlugin, Status,
};

/// A pod in `default` (unless `meta` says otherwise) with `meta` merged in.
fn pod(name: &str, meta: Value, spec: Value) -> PodInfo {
    let mut metadata = json!({"name": name, "namespace": "default"});
    for (k, v) in meta.as_object().into_iter().flatten() {
        metadata[k] = v.clone();
    }
    let mut spec = spec;
    spec["containers"] = json!([{"name": "c", "image": "busybox"}]);
    PodInfo::new(Arc::new(serde_json::from_value(json!({"metadata": metadata, "spec": spec})).unwrap()))
}

/// A pod labelled `labels`, without constraints.
fn labelled(name: &str, labels: Value) -> PodInfo {
    pod(name, json!({"labels": labels}), json!({}))
}

/// A node with its hostname label, a zone (when given), `extra` labels and `spec`.
fn node(name: &str, zone: Option<&str>, extra: Value, spec: Value, pods: Vec<PodInfo>) -> Arc<NodeInfo> {
    let mut labels = json!({"kubernetes.io/hostname": name});
    if let Some(zone) = zone {
        labels["topology.kubernetes.io/zone"] = json!(zone);
    }
    for (k, v) in extra.as_object().into_iter().flatten() {
        labels[k] = v.clone();
    }
    let node = json!({"metadata": {"name": name, "labels": labels}, "spec": spec});
    let mut info = NodeInfo::new(Arc::new(serde_json::from_value(node).unwrap()));
    for p in pods {
        info.add_pod(Arc::new(p));
    }
    Arc::new(info)
}

fn zoned(name: &str, zone: &str, pods: Vec<PodInfo>) -> Arc<NodeInfo> {
    node(name, Some(zone), json!({}), json!({}), pods)
}

fn foos(prefix: &str, n: usize) -> Vec<PodInfo> {
    (0..n).map(|i| labelled(&format!("{prefix}{i}"), json!({"foo": ""}))).collect()
}

fn constraint(key: &str, max_skew: i32, when: &str, extra: Value) -> Value {
    let mut c = json!({"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when,
                       "labelSelector": {"matchExpressions": [{"key": "foo", "operator": "Exists"}]}});
    for (k, v) in extra.as_object().into_iter().flatten() {
        c[k] = v.clone();
    }
    c
}

/// The incoming pod: labelled `foo` (unless `labels` is given) with `constraints`.
fn incoming(constraints: Vec<Value>, labels: Value, spec: Value) -> PodInfo {
    let mut spec = spec;
    spec["topologySpreadConstraints"] = Value::Array(constraints);
    pod("incoming", json!({"labels": labels}), spec)
}

/// PreFilter then Filter on every node: "ok", "skew" or "label" per node.
fn filter_all(plugin: &PodTopologySpread, pod: &PodInfo, nodes: &[Arc<NodeInfo>]) -> (CycleState, Vec<&'static str>) {
    let mut state = CycleState::new();
    let (result, status) = plugin.pre_filter(&mut state, pod, nodes);
    assert!(result.is_none());
    assert!(status.is_success(), "{status}");
    let verdicts = nodes.iter().map(|n| verdict(&plugin.filter(&state, pod, n))).collect();
    (state, verdicts)
}

fn verdict(status: &Status) -> &'static str {
    match (status.code(), status.reasons().first().map(String::as_str)) {
        (Code::Success, _) => "ok",
        (Code::Unschedulable, Some(REASON_CONSTRAINTS_NOT_MATCH)) => "skew",
        (Code::UnschedulableAndUnresolvable, Some(REASON_NODE_LABEL_NOT_MATCH)) => "label",
        _ => panic!("unexpected status {status}"),
    }
}

fn counts(state: &CycleState, i: usize) -> HashMap<String, i64> {
    read_state(state).unwrap().matches[i].iter().map(|(k, v)| (k.clone(), *v)).collect()
}

fn map(entries: &[(&str, i64)]) -> HashMap<String, i64> {
    entries.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// Zones: zone1 = {a: 1 foo, b: 1 foo}, zone2 = {x: 1 foo, y: a foo pod in
/// another namespace, a terminating one and a non-matching one}, and z
/// without a zone label.
fn two_zones() -> Vec<Arc<NodeInfo>> {
    let elsewhere = pod("other-ns", json!({"namespace": "other", "labels": {"foo": ""}}), json!({}));
    let terminating =
        pod("terminating", json!({"labels": {"foo": ""}, "deletionTimestamp": "2024-01-01T00:00:00Z"}), json!({}));
    vec![
        zoned("a", "zone1", foos("a", 1)),
        zoned("b", "zone1", foos("b", 1)),
        zoned("x", "zone2", foos("x", 1)),
        zoned("y", "zone2", vec![elsewhere, terminating, labelled("bar", json!({"bar": ""}))]),
        node("z", None, json!({}), json!({}), foos("z", 3)),
    ]
}

#[test]
fn filter_skew_across_zones() {
    let nodes = two_zones();
    let p = incoming(vec![constraint(LABEL_ZONE, 1, "DoNotSchedule", json!({}))], json!({"foo": ""}), json!({}));
    let (state, verdicts) = filter_all(&PodTopologySpread::default(), &p, &nodes);
    assert_eq!(
        counts(&state, 0),
        map(&[("zone1", 2), ("zone2", 1)]),
        "other namespaces, terminating pods and nodes without the key do not count"
    );
    // zone1: 2 + 1 − 1 = 2 > 1; zone2: 1 + 1 − 1 = 1.
    assert_eq!(verdicts, ["skew", "skew", "ok", "ok", "label"]);
    // A pod that does not match its own selector adds no self-match: 2 − 1 = 1.
    let p = incoming(vec![constraint(LABEL_ZONE, 1, "DoNotSchedule", json!({}))], json!({}), json!({}));
    assert_eq!(filter_all(&PodTopologySpread::default(), &p, &nodes).1, ["ok", "ok", "ok", "ok", "label"]);
}

#[test]
fn filter_skew_across_hostnames() {
    let nodes = vec![zoned("a", "zone1", foos("a", 2)), zoned("b", "zone1", foos("b", 1)), zoned("c", "zone2", vec![])];
    let cases = [
        // (maxSkew, pod labels, verdicts): min is c's 0.
        (1, json!({"foo": ""}), ["skew", "skew", "ok"]), // 3, 2, 1
        (1, json!({}), ["skew", "ok", "ok"]),            // 2, 1, 0
        (2, json!({"foo": ""}), ["skew", "ok", "ok"]),   // 3 > 2
        (3, json!({"foo": ""}), ["ok", "ok", "ok"]),
    ];
    for (max_skew, labels, want) in cases {
        let p = incoming(vec![constraint(LABEL_HOSTNAME, max_skew, "DoNotSchedule", json!({}))], labels, json!({}));
        let (state, verdicts) = filter_all(&PodTopologySpread::default(), &p, &nodes);
        assert_eq!(verdicts, want, "maxSkew {max_skew}");
        assert_eq!(counts(&state, 0), map(&[("a", 2), ("b", 1), ("c", 0)]));
    }
}

#[test]
fn two_constraints_must_both_hold() {
    // zone1 = 3 (a: 2, b: 1), zone2 = 1 (c: 1): zone skew on c is 1 + 1 − 1 = 1;
    // hostname counts a 2, b 1, c 1, min 1.
    let nodes =
        vec![zoned("a", "zone1", foos("a", 2)), zoned("b", "zone1", foos("b", 1)), zoned("c", "zone2", foos("c", 1))];
    let p = incoming(
        vec![
            constraint(LABEL_ZONE, 1, "DoNotSchedule", json!({})),
            constraint(LABEL_HOSTNAME, 1, "DoNotSchedule", json!({})),
            constraint("rack", 1, "ScheduleAnyway", json!({})), // soft: not a filter
        ],
        json!({"foo": ""}),
        json!({}),
    );
    let (state, verdicts) = filter_all(&PodTopologySpread::default(), &p, &nodes);
    assert_eq!(verdicts, ["skew", "skew", "ok"]);
    assert_eq!(counts(&state, 1), map(&[("a", 2), ("b", 1), ("c", 1)]));
}

#[test]
fn min_domains_makes_the_global_minimum_zero() {
    // Two zones with 1 matching pod each: skew 1 + 1 − 1 = 1 normally.
    let nodes = vec![zoned("a", "zone1", foos("a", 1)), zoned("b", "zone2", foos("b", 1))];
    for (min_domains, want) in [(json!(null), ["ok", "ok"]), (json!(2), ["ok", "ok"]), (json!(3), ["skew", "skew"])] {
        let c = constraint(LABEL_ZONE, 1, "DoNotSchedule", json!({"minDomains": min_domains}));
        let p = incoming(vec![c], json!({"foo": ""}), json!({}));
        assert_eq!(filter_all(&PodTopologySpread::default(), &p, &nodes).1, want, "minDomains {min_domains}");
    }
}

#[test]
fn node_inclusion_policies() {
    // The pod wants disk=ssd. zone1: a (ssd, 1 pod); zone2: b (ssd, 2 pods);
    // zone3: c (no ssd, tainted, 0 pods).
    let taint = json!({"taints": [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]});
    let nodes = vec![
        node("a", Some("zone1"), json!({"disk": "ssd"}), json!({}), foos("a", 1)),
        node("b", Some("zone2"), json!({"disk": "ssd"}), json!({}), foos("b", 2)),
        node("c", Some("zone3"), json!({}), taint, vec![]),
    ];
    let cases = [
        // Honor affinity (default): zone3 does not count, min 1: a 1 + 1 − 1 = 1.
        (json!({}), map(&[("zone1", 1), ("zone2", 2)]), ["ok", "skew", "ok"]),
        // Ignore affinity: zone3 counts, min 0: a 1 + 1 = 2.
        (
            json!({"nodeAffinityPolicy": "Ignore"}),
            map(&[("zone1", 1), ("zone2", 2), ("zone3", 0)]),
            ["skew", "skew", "ok"],
        ),
        // Ignore affinity, Honor taints: c's taint keeps zone3 out again.
        (
            json!({"nodeAffinityPolicy": "Ignore", "nodeTaintsPolicy": "Honor"}),
            map(&[("zone1", 1), ("zone2", 2)]),
            ["ok", "skew", "ok"],
        ),
    ];
    for (policies, want_counts, want) in cases {
        let c = constraint(LABEL_ZONE, 1, "DoNotSchedule", policies.clone());
        let p = incoming(vec![c], json!({"foo": ""}), json!({"nodeSelector": {"disk": "ssd"}}));
        let (state, verdicts) = filter_all(&PodTopologySpread::default(), &p, &nodes);
        assert_eq!(counts(&state, 0), want_counts, "{policies}");
        assert_eq!(verdicts, want, "{policies}");
    }
    // A toleration lets the tainted node count under Honor.
    let c = constraint(
        LABEL_ZONE,
        1,
        "DoNotSchedule",
        json!({"nodeAffinityPolicy": "Ignore", "nodeTaintsPolicy": "Honor"}),
    );
    let tolerant =
        incoming(vec![c], json!({"foo": ""}), json!({"tolerations": [{"key": "dedicated", "operator": "Exists"}]}));
    let (state, _) = filter_all(&PodTopologySpread::default(), &tolerant, &nodes);
    assert_eq!(counts(&state, 0), map(&[("zone1", 1), ("zone2", 2), ("zone3", 0)]));
}

#[test]
fn match_label_keys_narrow_the_selector() {
    let web = |name: &str, version: &str| labelled(name, json!({"app": "web", "version": version}));
    let nodes =
        vec![zoned("a", "zone1", vec![web("w1", "v1"), web("w2", "v1")]), zoned("b", "zone2", vec![web("w3", "v2")])];
    let base = json!({"maxSkew": 1, "topologyKey": LABEL_ZONE, "whenUnsatisfiable": "DoNotSchedule",
                      "labelSelector": {"matchLabels": {"app": "web"}}});
    let mut keyed = base.clone();
    keyed["matchLabelKeys"] = json!(["version", "absent"]);
    let labels = json!({"app": "web", "version": "v2"});
    // All versions: zone1 2, zone2 1 → a 2 + 1 − 1 = 2.
    let (state, verdicts) =
        filter_all(&PodTopologySpread::default(), &incoming(vec![base], labels.clone(), json!({})), &nodes);
    assert_eq!((counts(&state, 0), verdicts), (map(&[("zone1", 2), ("zone2", 1)]), vec!["skew", "ok"]));
    // Only version v2: zone1 0, zone2 1 → b 1 + 1 − 0 = 2.
    let (state, verdicts) =
        filter_all(&PodTopologySpread::default(), &incoming(vec![keyed], labels.clone(), json!({})), &nodes);
    assert_eq!((counts(&state, 0), verdicts), (map(&[("zone1", 0), ("zone2", 1)]), vec!["ok", "skew"]));
    // Without a labelSelector nothing matches, unless matchLabelKeys pin values.
    let bare = json!({"maxSkew": 1, "topologyKey": LABEL_ZONE, "whenUnsatisfiable": "DoNotSchedule"});
    let (state, _) =
        filter_all(&PodTopologySpread::default(), &incoming(vec![bare.clone()], labels.clone(), json!({})), &nodes);
    assert_eq!(counts(&state, 0), map(&[("zone1", 0), ("zone2", 0)]));
    let mut bare_keyed = bare;
    bare_keyed["matchLabelKeys"] = json!(["app"]);
    let (state, _) = filter_all(&PodTopologySpread::default(), &incoming(vec![bare_keyed], labels, json!({})), &nodes);
    assert_eq!(counts(&state, 0), map(&[("zone1", 2), ("zone2", 1)]));
}

fn listers(objects: &[Value]) -> Listers {
    let (listers, mut writers) = Listers::new();
    assert!(writers.insert_json(objects).unwrap().is_empty());
    listers
}

fn service(namespace: &str, selector: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc", "namespace": namespace},
           "spec": {"selector": selector}})
}

#[test]
fn default_constraints_come_from_selecting_services() {
    let defaults: Vec<TopologySpreadConstraint> = serde_json::from_value(json!([
        {"maxSkew": 1, "topologyKey": LABEL_ZONE, "whenUnsatisfiable": "DoNotSchedule"}
    ]))
    .unwrap();
    let web = |name: &str| labelled(name, json!({"app": "web", "tier": "fe"}));
    let nodes =
        vec![zoned("a", "zone1", vec![web("w1")]), zoned("b", "zone2", vec![labelled("db", json!({"app": "db"}))])];
    let p = labelled("incoming", json!({"app": "web", "tier": "fe"}));

    let selecting = listers(&[service("default", json!({"app": "web"}))]);
    let plugin = PodTopologySpread::new(defaults.clone(), DefaultingType::List, selecting).unwrap();
    let (state, verdicts) = filter_all(&plugin, &p, &nodes);
    assert_eq!(counts(&state, 0), map(&[("zone1", 1), ("zone2", 0)]));
    assert_eq!(verdicts, ["skew", "ok"]);

    // No Service selecting the pod (another namespace, another selector): no
    // default constraints, PreFilter skips.
    for objects in
        [vec![], vec![service("other", json!({"app": "web"}))], vec![service("default", json!({"app": "db"}))]]
    {
        let plugin = PodTopologySpread::new(defaults.clone(), DefaultingType::List, listers(&objects)).unwrap();
        let (_, status) = plugin.pre_filter(&mut CycleState::new(), &p, &nodes);
        assert_eq!(status.code(), Code::Skip, "{objects:?}");
    }

    // The pod's own constraints replace the defaults.
    let plugin =
        PodTopologySpread::new(defaults, DefaultingType::List, listers(&[service("default", json!({"app": "web"}))]))
            .unwrap();
    let own =
        incoming(vec![constraint(LABEL_HOSTNAME, 1, "ScheduleAnyway", json!({}))], json!({"app": "web"}), json!({}));
    assert_eq!(plugin.pre_filter(&mut CycleState::new(), &own, &nodes).1.code(), Code::Skip);
}

#[test]
fn default_selector_merges_services_and_the_controller() {
    let owned = |kind: &str, api_version: &str| {
        pod(
            "p",
            json!({"labels": {"app": "web", "tier": "fe", "track": "stable"},
                   "ownerReferences": [{"apiVersion": api_version, "kind": kind, "name": "owner", "uid": "1", "controller": true}]}),
            json!({}),
        )
    };
    let objects = [
        service("default", json!({"app": "web"})),
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "owner", "namespace": "default"},
               "spec": {"selector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe"]}]}}}),
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "owner", "namespace": "default"},
               "spec": {"selector": {"matchLabels": {"track": "stable"}}}}),
        json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "owner", "namespace": "default"},
               "spec": {"selector": {"tier": "fe"}}}),
    ];
    let listers = listers(&objects);
    let cases = [
        ("ReplicaSet", "apps/v1", "app=web,tier in (fe)"),
        ("StatefulSet", "apps/v1", "app=web,track=stable"),
        ("ReplicationController", "v1", "app=web,tier=fe"),
        ("Deployment", "apps/v1", "app=web"),
        ("ReplicaSet", "extensions/v1beta1", "app=web"),
    ];
    for (kind, api_version, want) in cases {
        assert_eq!(default_selector(&owned(kind, api_version).pod, &listers).to_string(), want, "{kind}");
    }
}

#[test]
fn add_and_remove_pod_update_the_counts() {
    let nodes = two_zones();
    let p = incoming(vec![constraint(LABEL_ZONE, 1, "DoNotSchedule", json!({}))], json!({"foo": ""}), json!({}));
    let plugin = PodTopologySpread::default();
    let (mut state, verdicts) = filter_all(&plugin, &p, &nodes);
    assert_eq!(verdicts[..2], ["skew", "skew"]);

    let extra: Arc<PodInfo> = Arc::new(labelled("extra", json!({"foo": ""})));
    let copy = state.clone();
    assert!(plugin.add_pod(&mut state, &p, &extra, &nodes[2]).is_success());
    assert_eq!(counts(&state, 0), map(&[("zone1", 2), ("zone2", 2)]));
    assert_eq!(read_state(&state).unwrap().paths[0].min(), 2);
    // zone1: 2 + 1 − 2 = 1 now fits.
    assert_eq!(verdict(&plugin.filter(&state, &p, &nodes[0])), "ok");
    assert_eq!(counts(&copy, 0), map(&[("zone1", 2), ("zone2", 1)]), "a clone is a copy");

    // Another namespace, a non-matching pod, a node without the key: no change.
    let other: Arc<PodInfo> = Arc::new(pod("o", json!({"namespace": "other", "labels": {"foo": ""}}), json!({})));
    let bar: Arc<PodInfo> = Arc::new(labelled("bar2", json!({"bar": ""})));
    plugin.add_pod(&mut state, &p, &other, &nodes[0]);
    plugin.add_pod(&mut state, &p, &bar, &nodes[0]);
    plugin.add_pod(&mut state, &p, &extra, &nodes[4]);
    assert_eq!(counts(&state, 0), map(&[("zone1", 2), ("zone2", 2)]));

    assert!(plugin.remove_pod(&mut state, &p, &extra, &nodes[2]).is_success());
    plugin.remove_pod(&mut state, &p, &extra, &nodes[0]);
    assert_eq!(counts(&state, 0), map(&[("zone1", 1), ("zone2", 1)]));
    assert_eq!(read_state(&state).unwrap().paths[0].min(), 1);
    // zone1 now 1 + 1 − 1 = 1 fits; zone2 too.
    assert_eq!(nodes[..4].iter().map(|n| verdict(&plugin.filter(&state, &p, n))).collect::<Vec<_>>(), ["ok"; 4]);
}

#[test]
fn filter_without_pre_filter_state_is_an_error() {
    let p = incoming(vec![constraint(LABEL_ZONE, 1, "DoNotSchedule", json!({}))], json!({}), json!({}));
    let status = PodTopologySpread::default().filter(&CycleState::new(), &p, &zoned("a", "zone1", vec![]));
    assert_eq!(status.code(), Code::Error);
}

#[test]
fn an_invalid_selector_is_an_error() {
    let nodes = vec![zoned("a", "zone1", vec![])];
    let bad = json!({"matchExpressions": [{"key": "foo", "operator": "Near"}]});
    for when in ["DoNotSchedule", "ScheduleAnyway"] {
        let p = incoming(vec![constraint(LABEL_ZONE, 1, when, json!({"labelSelector": bad}))], json!({}), json!({}));
        let plugin = PodTopologySpread::default();
        let mut state = CycleState::new();
        let (_, status) = plugin.pre_filter(&mut state, &p, &nodes);
        let status = if when == "DoNotSchedule" { status } else { plugin.pre_score(&mut state, &p, &nodes, &nodes) };
        assert_eq!(status.code(), Code::Error, "{when}");
        assert!(status.reasons()[0].starts_with("obtaining pod's"), "{status}");
    }
}

/// PreFilter over `all`, PreScore over `feasible`, then Score and
/// NormalizeScore: (raw, normalized), or the PreScore status when not Success.
fn scores(
    plugin: &PodTopologySpread,
    pod: &PodInfo,
    all: &[Arc<NodeInfo>],
    feasible: &[Arc<NodeInfo>],
) -> Result<(Vec<i64>, Vec<i64>), Status> {
    let mut state = CycleState::new();
    let (_, status) = plugin.pre_filter(&mut state, pod, all);
    assert!(matches!(status.code(), Code::Success | Code::Skip), "{status}");
    let status = plugin.pre_score(&mut state, pod, feasible, all);
    if !status.is_success() {
        return Err(status);
    }
    let mut list: Vec<NodeScore> = feasible
        .iter()
        .map(|n| NodeScore { name: n.shared_name(), score: plugin.score(&state, pod, n).unwrap() })
        .collect();
    let raw = list.iter().map(|s| s.score).collect();
    assert!(plugin.normalize(&state, pod, &mut list).is_success());
    Ok((raw, list.iter().map(|s| s.score).collect()))
}

/// zone1 = {a: 2 foo, b: 1 foo}, zone2 = {x: none, y: 1 foo}.
fn scoring_nodes() -> Vec<Arc<NodeInfo>> {
    vec![
        zoned("a", "zone1", foos("a", 2)),
        zoned("b", "zone1", foos("b", 1)),
        zoned("x", "zone2", vec![]),
        zoned("y", "zone2", foos("y", 1)),
    ]
}

#[test]
fn normalizing_weight_is_log_of_size_plus_two() {
    assert!((topology_normalizing_weight(2) - 4_f64.ln()).abs() < 1e-12);
    assert!((topology_normalizing_weight(0) - 2_f64.ln()).abs() < 1e-12);
}

#[test]
fn scores_spread_across_zones_and_hostnames() {
    let nodes = scoring_nodes();
    let soft = |key: &str, max_skew| constraint(key, max_skew, "ScheduleAnyway", json!({}));
    let cases: [(Vec<Value>, [i64; 4], [i64; 4]); 3] = [
        // 2 zones: weight ln 4 = 1.386; zone1 3 pods → 4.159 → 4, zone2 1 → 1.386 → 1.
        // Normalized 100 × (4 + 1 − s) / 4.
        (vec![soft(LABEL_ZONE, 1)], [4, 4, 1, 1], [25, 25, 100, 100]),
        // maxSkew 3 adds 2: 6.159 → 6, 3.386 → 3; 100 × (9 − s) / 6.
        (vec![soft(LABEL_ZONE, 3)], [6, 6, 3, 3], [50, 50, 100, 100]),
        // Plus hostname (4 nodes: ln 6 = 1.792 per pod on the node itself):
        // a 4.159 + 3.584 = 7.742 → 8, b 4.159 + 1.792 → 6, x 1.386 → 1,
        // y 1.386 + 1.792 = 3.178 → 3; 100 × (9 − s) / 8.
        (vec![soft(LABEL_ZONE, 1), soft(LABEL_HOSTNAME, 1)], [8, 6, 1, 3], [12, 37, 100, 75]),
    ];
    for (constraints, raw, normalized) in cases {
        let p = incoming(constraints.clone(), json!({"foo": ""}), json!({}));
        let (got_raw, got) = scores(&PodTopologySpread::default(), &p, &nodes, &nodes).unwrap();
        assert_eq!((got_raw.as_slice(), got.as_slice()), (&raw[..], &normalized[..]), "{constraints:?}");
    }
}

#[test]
fn scores_count_pods_on_every_node_but_domains_of_feasible_ones() {
    // Only a and x are feasible, but zone1 counts b's pod and zone2 y's.
    let nodes = scoring_nodes();
    let feasible = [nodes[0].clone(), nodes[2].clone()];
    let p = incoming(vec![constraint(LABEL_ZONE, 1, "ScheduleAnyway", json!({}))], json!({}), json!({}));
    let (raw, normalized) = scores(&PodTopologySpread::default(), &p, &nodes, &feasible).unwrap();
    assert_eq!((raw, normalized), (vec![4, 1], vec![25, 100]));
}

#[test]
fn nodes_missing_a_key_score_zero_and_are_left_out_of_normalizing() {
    let mut nodes = scoring_nodes();
    nodes.push(node("z", None, json!({}), json!({}), vec![]));
    let p = incoming(vec![constraint(LABEL_ZONE, 1, "ScheduleAnyway", json!({}))], json!({}), json!({}));
    let plugin = PodTopologySpread::default();
    let (raw, normalized) = scores(&plugin, &p, &nodes, &nodes).unwrap();
    assert_eq!(raw, [4, 4, 1, 1, 0]);
    assert_eq!(normalized, [25, 25, 100, 100, 0]);
    let mut state = CycleState::new();
    plugin.pre_score(&mut state, &p, &nodes, &nodes);
    let s = read_pre_score(&state).unwrap();
    assert_eq!(s.ignored.iter().collect::<Vec<_>>(), ["z"]);
    assert_eq!(s.counts[0].clone().into_iter().collect::<HashMap<_, _>>(), map(&[("zone1", 3), ("zone2", 1)]));
}

#[test]
fn system_defaults_spread_a_service_and_tolerate_nodes_without_zones() {
    // a (zone1) runs 1 web pod; b (zone1) none; c has no zone label.
    let nodes = vec![
        zoned("a", "zone1", vec![labelled("w1", json!({"app": "web"}))]),
        zoned("b", "zone1", vec![]),
        node("c", None, json!({}), json!({}), vec![]),
    ];
    let p = labelled("incoming", json!({"app": "web"}));
    let handle = Handle::new(listers(&[service("default", json!({"app": "web"}))]));
    let plugin = factory(None, &handle).unwrap().as_score().unwrap();
    let plugin_ref = PodTopologySpread::new(vec![], DefaultingType::System, handle.listers.clone()).unwrap();
    let (raw, normalized) = scores(&plugin_ref, &p, &nodes, &nodes).unwrap();
    // Zone domains: "zone1" and "" (c) → ln 4 = 1.386; hostname: 3 nodes → ln 5 = 1.609.
    // a: 1 × 1.609 + 2 + 1 × 1.386 + 4 = 8.996 → 9; b: 2 + 5.386 → 7; c: hostname only, 2.
    // 100 × (9 + 2 − s) / 9.
    assert_eq!(raw, [9, 7, 2]);
    assert_eq!(normalized, [22, 44, 100]);
    assert_eq!(plugin.name(), NAME);

    // No Service: no default constraints, PreScore skips.
    let lonely = PodTopologySpread::default();
    assert_eq!(scores(&lonely, &p, &nodes, &nodes).unwrap_err().code(), Code::Skip);
}

#[test]
fn pre_score_skips_without_soft_constraints() {
    let nodes = scoring_nodes();
    let hard = incoming(vec![constraint(LABEL_ZONE, 1, "DoNotSchedule", json!({}))], json!({}), json!({}));
    assert_eq!(scores(&PodTopologySpread::default(), &hard, &nodes, &nodes).unwrap_err().code(), Code::Skip);
}

#[test]
fn normalize_with_all_zero_scores_gives_the_maximum() {
    // No matching pods anywhere: every node scores maxSkew − 1 = 0 → all 100.
    let nodes = vec![zoned("a", "zone1", vec![]), zoned("b", "zone2", vec![])];
    let p = incoming(vec![constraint(LABEL_ZONE, 1, "ScheduleAnyway", json!({}))], json!({}), json!({}));
    assert_eq!(scores(&PodTopologySpread::default(), &p, &nodes, &nodes).unwrap(), (vec![0, 0], vec![100, 100]));
}

#[test]
fn factory_validates_its_arguments() {
    let handle = Handle::default();
    let make = |args: Value| factory(Some(&args), &handle).map(|_| ());
    let zone = json!({"maxSkew": 1, "topologyKey": LABEL_ZONE, "whenUnsatisfiable": "DoNotSchedule"});
    assert!(factory(None, &handle).is_ok());
    assert!(make(json!(null)).is_ok());
    assert!(make(json!({"kind": "PodTopologySpreadArgs", "defaultingType": "System"})).is_ok());
    assert!(make(json!({"defaultingType": "List", "defaultConstraints": [zone.clone()]})).is_ok());
    assert!(make(json!({"defaultingType": "List"})).is_ok(), "List with no constraints: no defaults");
    let err = |args: Value| make(args).unwrap_err();
    assert!(err(json!({"defaultConstraints": [zone.clone()]})).contains("when .defaultConstraints are not empty"));
    assert!(err(json!({"defaultingType": "Other"})).contains("defaultingType: Unsupported value"));
    let mut bad = zone.clone();
    bad["maxSkew"] = json!(0);
    assert!(err(json!({"defaultingType": "List", "defaultConstraints": [bad]})).contains("maxSkew"));
    let mut bad = zone.clone();
    bad["labelSelector"] = json!({});
    assert!(err(json!({"defaultingType": "List", "defaultConstraints": [bad]})).contains("labelSelector: Forbidden"));
    let mut bad = zone.clone();
    bad["whenUnsatisfiable"] = json!("Sometimes");
    assert!(err(json!({"defaultingType": "List", "defaultConstraints": [bad]})).contains("whenUnsatisfiable"));
    let mut bad = zone.clone();
    bad["topologyKey"] = json!("not a key");
    assert!(err(json!({"defaultingType": "List", "defaultConstraints": [bad]})).contains("topologyKey"));
    assert!(err(json!({"defaultingType": "List", "defaultConstraints": [zone.clone(), zone]})).contains("Duplicate"));
    assert!(err(json!({"unknown": 1})).contains("unknown field"));
}

#[test]
fn critical_paths_track_the_two_smallest() {
    let mut paths = super::filtering::CriticalPaths::default();
    for (value, num) in [("a", 3), ("b", 1), ("c", 2)] {
        paths.update(value, num);
    }
    assert_eq!(paths.min(), 1);
    paths.update("b", 4); // b grows past c
    assert_eq!(paths.min(), 2);
}
