//! Table tests with hand-computed expectations.

use std::sync::Arc;

use serde_json::{Value, json};

use super::filtering::{PRE_FILTER_KEY, PreFilterState};
use super::*;
use crate::framework::{
    Code, CycleState, FilterPlugin, Framework, Listers, NodeInfo, NodeScore, PodInfo, PreFilterPlugin, PreScorePlugin,
    ScorePlugin, Status,
};
use crate::plugins::testing::{node, with_pods};

const ZONE: &str = "topology.kubernetes.io/zone";
const HOST: &str = "kubernetes.io/hostname";

/// A pod `name` in `namespace` with `labels` and `affinity` (`spec.affinity`).
fn pod_in(namespace: &str, name: &str, labels: Value, affinity: Value) -> PodInfo {
    let mut spec = json!({"containers": [{"name": "c", "image": "busybox"}]});
    if !affinity.is_null() {
        spec["affinity"] = affinity;
    }
    let pod = json!({"metadata": {"name": name, "namespace": namespace, "labels": labels}, "spec": spec});
    PodInfo::new(Arc::new(serde_json::from_value(pod).expect("a pod")))
}

/// A pod in `default`.
fn pod(name: &str, labels: Value, affinity: Value) -> PodInfo {
    pod_in("default", name, labels, affinity)
}

/// A term selecting `match_labels` by `key`, with extra fields merged in.
fn term(match_labels: Value, key: &str, extra: Value) -> Value {
    let mut t = json!({"labelSelector": {"matchLabels": match_labels}, "topologyKey": key});
    if let Value::Object(extra) = extra {
        t.as_object_mut().unwrap().extend(extra);
    }
    t
}

fn required(kind: &str, terms: Vec<Value>) -> Value {
    json!({kind: {"requiredDuringSchedulingIgnoredDuringExecution": terms}})
}

fn preferred(kind: &str, weighted: Vec<(i64, Value)>) -> Value {
    let terms: Vec<Value> = weighted.into_iter().map(|(w, t)| json!({"weight": w, "podAffinityTerm": t})).collect();
    json!({kind: {"preferredDuringSchedulingIgnoredDuringExecution": terms}})
}

/// A node `name` with labels `zone` (when given) and hostname, and `pods`.
fn zoned(name: &str, zone: Option<&str>, pods: Vec<PodInfo>) -> Arc<NodeInfo> {
    let mut labels = json!({HOST: name});
    if let Some(zone) = zone {
        labels[ZONE] = json!(zone);
    }
    Arc::new(with_pods(node(name, json!({"pods": "110"}), json!({"labels": labels})), pods))
}

fn plugin() -> InterPodAffinity {
    InterPodAffinity::default()
}

/// Runs PreFilter and then Filter on every node: each node's (code, reason).
fn filter_all(pl: &InterPodAffinity, p: &PodInfo, nodes: &[Arc<NodeInfo>]) -> Vec<(Code, String)> {
    let mut state = CycleState::new();
    let (_, status) = pl.pre_filter(&mut state, p, nodes);
    assert!(status.is_success(), "PreFilter: {status}");
    nodes.iter().map(|n| outcome(&pl.filter(&state, p, n))).collect()
}

fn outcome(status: &Status) -> (Code, String) {
    (status.code(), status.reasons().join(", "))
}

fn ok() -> (Code, String) {
    (Code::Success, String::new())
}

fn affinity_fail() -> (Code, String) {
    (Code::UnschedulableAndUnresolvable, REASON_AFFINITY.into())
}

fn anti_fail() -> (Code, String) {
    (Code::Unschedulable, REASON_ANTI_AFFINITY.into())
}

fn existing_fail() -> (Code, String) {
    (Code::Unschedulable, REASON_EXISTING_ANTI_AFFINITY.into())
}

/// PreScore over `all` (PreFilter first, as the framework does), Score and
/// NormalizeScore over `feasible`: (raw, normalized) scores.
fn score_all(
    pl: &InterPodAffinity,
    p: &PodInfo,
    all: &[Arc<NodeInfo>],
    feasible: &[Arc<NodeInfo>],
) -> (Status, Vec<i64>, Vec<i64>) {
    let mut state = CycleState::new();
    let _ = pl.pre_filter(&mut state, p, all);
    let status = pl.pre_score(&mut state, p, feasible, all);
    if !status.is_success() {
        return (status, Vec::new(), Vec::new());
    }
    let mut scores: Vec<NodeScore> =
        feasible.iter().map(|n| NodeScore { name: n.shared_name(), score: pl.score(&state, p, n).unwrap() }).collect();
    let raw = scores.iter().map(|s| s.score).collect();
    assert!(pl.normalize(&state, p, &mut scores).is_success());
    (status, raw, scores.iter().map(|s| s.score).collect())
}

#[test]
fn args_default_and_validate() {
    assert_eq!(InterPodAffinityArgs::from_json(None).unwrap(), InterPodAffinityArgs::default());
    assert_eq!(InterPodAffinityArgs::default().hard_pod_affinity_weight, 1);
    assert!(!InterPodAffinityArgs::default().ignore_preferred_terms_of_existing_pods);
    let args = json!({"hardPodAffinityWeight": 0, "ignorePreferredTermsOfExistingPods": true});
    assert_eq!(
        InterPodAffinityArgs::from_json(Some(&args)).unwrap(),
        InterPodAffinityArgs { hard_pod_affinity_weight: 0, ignore_preferred_terms_of_existing_pods: true }
    );
    let args = json!({"hardPodAffinityWeight": 100});
    assert_eq!(InterPodAffinityArgs::from_json(Some(&args)).unwrap().hard_pod_affinity_weight, 100);
    for bad in [101, -1] {
        let args = json!({ "hardPodAffinityWeight": bad });
        assert_eq!(
            InterPodAffinityArgs::from_json(Some(&args)).unwrap_err(),
            format!("hardPodAffinityWeight: Invalid value: {bad}: not in valid range [0-100]")
        );
    }
    let args = json!({"ignorePreferredTermsOfExistingPods": "yes"});
    assert!(InterPodAffinityArgs::from_json(Some(&args)).is_err());
    assert!(factory(Some(&json!({"hardPodAffinityWeight": 200})), &Handle::default()).is_err());
    assert!(factory(None, &Handle::default()).is_ok());
}

#[test]
fn required_affinity_needs_a_matching_pod_in_the_domain() {
    let db = || pod("db", json!({"app": "db"}), Value::Null);
    let nodes = [
        zoned("a1", Some("a"), vec![db()]),
        zoned("a2", Some("a"), vec![]),
        zoned("b1", Some("b"), vec![pod("web", json!({"app": "web"}), Value::Null)]),
        zoned("none", None, vec![]),
    ];
    let cases = [
        (
            "zone affinity: the db's zone only; no zone label fails",
            required("podAffinity", vec![term(json!({"app": "db"}), ZONE, Value::Null)]),
            vec![ok(), ok(), affinity_fail(), affinity_fail()],
        ),
        (
            "host affinity: the db's node only",
            required("podAffinity", vec![term(json!({"app": "db"}), HOST, Value::Null)]),
            vec![ok(), affinity_fail(), affinity_fail(), affinity_fail()],
        ),
        (
            "two terms: a pod must match both (db matches zone, none is app=web)",
            required(
                "podAffinity",
                vec![term(json!({"app": "db"}), ZONE, Value::Null), term(json!({"app": "web"}), ZONE, Value::Null)],
            ),
            vec![affinity_fail(), affinity_fail(), affinity_fail(), affinity_fail()],
        ),
        (
            "a term whose topology key no node has",
            required("podAffinity", vec![term(json!({"app": "db"}), "rack", Value::Null)]),
            vec![affinity_fail(), affinity_fail(), affinity_fail(), affinity_fail()],
        ),
    ];
    for (name, affinity, want) in cases {
        let p = pod("p", json!({"app": "client"}), affinity);
        assert_eq!(filter_all(&plugin(), &p, &nodes), want, "{name}");
    }
}

#[test]
fn first_pod_of_a_group_matching_its_own_affinity_is_allowed() {
    let self_affinity = required("podAffinity", vec![term(json!({"app": "web"}), ZONE, Value::Null)]);
    let empty = [zoned("a1", Some("a"), vec![]), zoned("b1", Some("b"), vec![]), zoned("none", None, vec![])];
    // No web pod anywhere, and the pod is app=web: any node with the zone label.
    let first = pod("web-0", json!({"app": "web"}), self_affinity.clone());
    assert_eq!(filter_all(&plugin(), &first, &empty), vec![ok(), ok(), affinity_fail()]);
    // It does not match its own terms: nowhere.
    let stranger = pod("x", json!({"app": "other"}), self_affinity.clone());
    assert_eq!(filter_all(&plugin(), &stranger, &empty), vec![affinity_fail(), affinity_fail(), affinity_fail()]);
    // Once a web pod runs in zone a, the next one must join it.
    let running = [
        zoned("a1", Some("a"), vec![pod("web-0", json!({"app": "web"}), Value::Null)]),
        zoned("b1", Some("b"), vec![]),
    ];
    let second = pod("web-1", json!({"app": "web"}), self_affinity);
    assert_eq!(filter_all(&plugin(), &second, &running), vec![ok(), affinity_fail()]);
}

#[test]
fn required_anti_affinity_keeps_away_from_matching_pods() {
    let nodes = [
        zoned("a1", Some("a"), vec![pod("db", json!({"app": "db"}), Value::Null)]),
        zoned("a2", Some("a"), vec![]),
        zoned("b1", Some("b"), vec![]),
        zoned("none", None, vec![]),
    ];
    let cases = [
        (
            "by host: only the db's node",
            required("podAntiAffinity", vec![term(json!({"app": "db"}), HOST, Value::Null)]),
            vec![anti_fail(), ok(), ok(), ok()],
        ),
        (
            "by zone: the db's zone; a node without the key is fine",
            required("podAntiAffinity", vec![term(json!({"app": "db"}), ZONE, Value::Null)]),
            vec![anti_fail(), anti_fail(), ok(), ok()],
        ),
        (
            "nothing matches",
            required("podAntiAffinity", vec![term(json!({"app": "cache"}), ZONE, Value::Null)]),
            vec![ok(), ok(), ok(), ok()],
        ),
    ];
    for (name, affinity, want) in cases {
        let p = pod("p", json!({"app": "db"}), affinity);
        assert_eq!(filter_all(&plugin(), &p, &nodes), want, "{name}");
    }
    // Affinity is checked first, and is unresolvable.
    let both = pod(
        "p",
        json!({}),
        json!({
            "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term(json!({"app": "db"}), HOST, Value::Null)]},
            "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term(json!({"app": "db"}), ZONE, Value::Null)]}
        }),
    );
    assert_eq!(
        filter_all(&plugin(), &both, &nodes),
        vec![anti_fail(), affinity_fail(), affinity_fail(), affinity_fail()]
    );
}

#[test]
fn existing_pods_anti_affinity_repels_the_incoming_pod() {
    let guard = pod(
        "guard",
        json!({"app": "guard"}),
        required("podAntiAffinity", vec![term(json!({"app": "web"}), ZONE, Value::Null)]),
    );
    let nodes = [zoned("a1", Some("a"), vec![guard]), zoned("a2", Some("a"), vec![]), zoned("b1", Some("b"), vec![])];
    let web = pod("web", json!({"app": "web"}), Value::Null);
    assert_eq!(filter_all(&plugin(), &web, &nodes), vec![existing_fail(), existing_fail(), ok()]);
    // A pod the guard does not repel, with no terms of its own: PreFilter skips.
    let other = pod("other", json!({"app": "other"}), Value::Null);
    let (_, status) = plugin().pre_filter(&mut CycleState::new(), &other, &nodes);
    assert_eq!(status.code(), Code::Skip);
}

#[test]
fn pre_filter_skips_without_terms_and_rejects_unparsable_pods() {
    let nodes = [zoned("a1", Some("a"), vec![pod("db", json!({"app": "db"}), Value::Null)])];
    let plain = pod("p", json!({"app": "x"}), Value::Null);
    let mut state = CycleState::new();
    assert_eq!(plugin().pre_filter(&mut state, &plain, &nodes).1.code(), Code::Skip);
    assert!(state.read::<PreFilterState>(PRE_FILTER_KEY).is_none());
    // Preferred terms alone do not need Filter either.
    let soft = pod("s", json!({}), preferred("podAffinity", vec![(5, term(json!({"app": "db"}), ZONE, Value::Null))]));
    assert_eq!(plugin().pre_filter(&mut CycleState::new(), &soft, &nodes).1.code(), Code::Skip);
    let bad = pod(
        "bad",
        json!({}),
        json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
            "labelSelector": {"matchExpressions": [{"key": "app", "operator": "Near", "values": ["db"]}]},
            "topologyKey": ZONE
        }]}}),
    );
    let (_, status) = plugin().pre_filter(&mut CycleState::new(), &bad, &nodes);
    assert_eq!(status.code(), Code::UnschedulableAndUnresolvable);
    assert!(status.reasons()[0].starts_with("parsing pod: "), "{status}");
    // Filter without PreFilter state is an internal error.
    assert_eq!(plugin().filter(&CycleState::new(), &plain, &nodes[0]).code(), Code::Error);
}

/// Listers with namespaces `team-a` (team=a) and `team-b` (team=b).
fn team_namespaces() -> Listers {
    let (listers, mut writers) = Listers::new();
    let ns = |name: &str, team: &str| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {"team": team}}});
    let ignored = writers.insert_json(&[ns("team-a", "a"), ns("team-b", "b")]).expect("namespaces");
    assert!(ignored.is_empty());
    listers
}

#[test]
fn namespaces_lists_and_selectors() {
    let listers = team_namespaces();
    let pl = InterPodAffinity::new(InterPodAffinityArgs::default(), listers.namespaces.clone());
    let db = |ns: &str| pod_in(ns, "db", json!({"app": "db"}), Value::Null);
    let nodes = [
        zoned("n-default", Some("z1"), vec![db("default")]),
        zoned("n-team-a", Some("z2"), vec![db("team-a")]),
        zoned("n-team-b", Some("z3"), vec![db("team-b")]),
        zoned("n-other", Some("z4"), vec![db("unlisted")]),
    ];
    let cases = [
        ("no namespaces: the pod's own", Value::Null, vec![ok(), affinity_fail(), affinity_fail(), affinity_fail()]),
        (
            "a namespace list",
            json!({"namespaces": ["team-b", "unlisted"]}),
            vec![affinity_fail(), affinity_fail(), ok(), ok()],
        ),
        (
            "a namespace selector, resolved from the cache",
            json!({"namespaceSelector": {"matchLabels": {"team": "a"}}}),
            vec![affinity_fail(), ok(), affinity_fail(), affinity_fail()],
        ),
        (
            "a list and a selector: either",
            json!({"namespaces": ["default"], "namespaceSelector": {"matchLabels": {"team": "b"}}}),
            vec![ok(), affinity_fail(), ok(), affinity_fail()],
        ),
        (
            "the empty selector: every namespace, cached or not",
            json!({"namespaceSelector": {}}),
            vec![ok(), ok(), ok(), ok()],
        ),
    ];
    for (name, namespaces, want) in cases {
        let affinity = required("podAffinity", vec![term(json!({"app": "db"}), ZONE, namespaces)]);
        let p = pod("p", json!({}), affinity);
        assert_eq!(filter_all(&pl, &p, &nodes), want, "{name}");
    }
}

#[test]
fn existing_pods_namespace_selectors_match_the_incoming_pods_namespace_labels() {
    let listers = team_namespaces();
    let pl = InterPodAffinity::new(InterPodAffinityArgs::default(), listers.namespaces.clone());
    let guard = pod_in(
        "team-b",
        "guard",
        json!({}),
        required(
            "podAntiAffinity",
            vec![term(json!({"app": "web"}), ZONE, json!({"namespaceSelector": {"matchLabels": {"team": "a"}}}))],
        ),
    );
    let nodes = [zoned("a1", Some("a"), vec![guard]), zoned("b1", Some("b"), vec![])];
    let web_a = pod_in("team-a", "web", json!({"app": "web"}), Value::Null);
    assert_eq!(filter_all(&pl, &web_a, &nodes), vec![existing_fail(), ok()]);
    let web_b = pod_in("team-b", "web", json!({"app": "web"}), Value::Null);
    assert_eq!(pl.pre_filter(&mut CycleState::new(), &web_b, &nodes).1.code(), Code::Skip, "team=b is not selected");
}

#[test]
fn add_and_remove_pod_update_the_counts() {
    let nodes = [zoned("a1", Some("a"), vec![]), zoned("a2", Some("a"), vec![]), zoned("b1", Some("b"), vec![])];
    let db = Arc::new(pod("db", json!({"app": "db"}), Value::Null));
    let p = pod(
        "p",
        json!({"app": "web"}),
        json!({
            "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term(json!({"app": "db"}), ZONE, Value::Null)]},
            "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term(json!({"app": "web"}), HOST, Value::Null)]}
        }),
    );
    let pl = plugin();
    let mut state = CycleState::new();
    assert!(pl.pre_filter(&mut state, &p, &nodes).1.is_success());
    let check = |state: &CycleState| nodes.iter().map(|n| outcome(&pl.filter(state, &p, n))).collect::<Vec<_>>();
    // No db anywhere and p is not a db: nowhere.
    assert_eq!(check(&state), vec![affinity_fail(), affinity_fail(), affinity_fail()]);

    // A db nominated on a1: zone a opens.
    assert!(pl.add_pod(&mut state, &p, &db, &nodes[0]).is_success());
    assert_eq!(check(&state), vec![ok(), ok(), affinity_fail()]);
    let counts = &state.read::<PreFilterState>(PRE_FILTER_KEY).unwrap().affinity;
    assert_eq!(counts.get(ZONE, "a"), 1);

    // A web pod on a2 (p's anti-affinity), and a guard repelling p on b1.
    let web = Arc::new(pod("web", json!({"app": "web"}), Value::Null));
    assert!(pl.add_pod(&mut state, &p, &web, &nodes[1]).is_success());
    let guard = Arc::new(pod(
        "guard",
        json!({}),
        required("podAntiAffinity", vec![term(json!({"app": "web"}), ZONE, Value::Null)]),
    ));
    assert!(pl.add_pod(&mut state, &p, &guard, &nodes[2]).is_success());
    let s = state.read::<PreFilterState>(PRE_FILTER_KEY).unwrap();
    assert_eq!((s.anti_affinity.get(HOST, "a2"), s.existing_anti_affinity.get(ZONE, "b")), (1, 1));
    assert_eq!(check(&state), vec![ok(), anti_fail(), affinity_fail()]);

    // Preemption works on a copy: removing from it leaves the original.
    let mut copy = state.clone();
    assert!(pl.remove_pod(&mut copy, &p, &web, &nodes[1]).is_success());
    assert!(pl.remove_pod(&mut copy, &p, &db, &nodes[0]).is_success());
    assert_eq!(check(&copy), vec![affinity_fail(), affinity_fail(), affinity_fail()]);
    let s = copy.read::<PreFilterState>(PRE_FILTER_KEY).unwrap();
    assert!(s.affinity.is_empty() && s.anti_affinity.is_empty(), "entries at zero are removed");
    assert_eq!(check(&state), vec![ok(), anti_fail(), affinity_fail()]);

    // Removing the guard: b1 would only fail p's affinity now; the
    // existing anti-affinity count is gone.
    assert!(pl.remove_pod(&mut state, &p, &guard, &nodes[2]).is_success());
    assert!(state.read::<PreFilterState>(PRE_FILTER_KEY).unwrap().existing_anti_affinity.is_empty());

    // Without PreFilter state (a skipped cycle) there is nothing to update.
    let mut empty = CycleState::new();
    assert!(pl.add_pod(&mut empty, &p, &db, &nodes[0]).is_success());
}

#[test]
fn preferred_terms_of_the_incoming_pod_score_and_normalize() {
    let nodes = [
        zoned("n1", Some("a"), vec![pod("db", json!({"app": "db"}), Value::Null)]),
        zoned("n2", Some("a"), vec![pod("cache", json!({"app": "cache"}), Value::Null)]),
        zoned("n3", Some("b"), vec![]),
        zoned("n4", Some("b"), vec![pod("cache", json!({"app": "cache"}), Value::Null)]),
    ];
    let p = pod(
        "p",
        json!({}),
        json!({
            "podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 5, "podAffinityTerm": term(json!({"app": "db"}), ZONE, Value::Null)}]},
            "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 3, "podAffinityTerm": term(json!({"app": "cache"}), HOST, Value::Null)}]}
        }),
    );
    // zone a: +5 (db); host n2, n4: −3 (cache). Raw 5, 2, 0, −3;
    // (s + 3) / 8 × 100: 100, 62.5, 37.5, 0.
    let (status, raw, normalized) = score_all(&plugin(), &p, &nodes, &nodes);
    assert!(status.is_success());
    assert_eq!(raw, [5, 2, 0, -3]);
    assert_eq!(normalized, [100, 62, 37, 0]);
    // Pods on nodes filtered out still count for their domains: n1 is not
    // feasible, but its db still draws p to zone a.
    let (_, raw, normalized) = score_all(&plugin(), &p, &nodes, &nodes[1..]);
    assert_eq!(raw, [2, 0, -3]);
    assert_eq!(normalized, [100, 60, 0]);
}

#[test]
fn existing_pods_terms_score_with_the_hard_affinity_weight() {
    let web = json!({"app": "web"});
    let nodes = || {
        [
            zoned(
                "n1",
                Some("a"),
                vec![pod("likes", json!({}), required("podAffinity", vec![term(web.clone(), ZONE, Value::Null)]))],
            ),
            zoned(
                "n2",
                Some("a"),
                vec![pod(
                    "prefers",
                    json!({}),
                    preferred("podAffinity", vec![(10, term(web.clone(), HOST, Value::Null))]),
                )],
            ),
            zoned(
                "n3",
                Some("b"),
                vec![pod(
                    "avoids",
                    json!({}),
                    preferred("podAntiAffinity", vec![(4, term(web.clone(), ZONE, Value::Null))]),
                )],
            ),
            zoned("n4", Some("b"), vec![pod("plain", web.clone(), Value::Null)]),
        ]
    };
    let nodes = nodes();
    let incoming = pod("web", web.clone(), Value::Null);
    // zone a: +hard; host n2: +10; zone b: −4.
    let cases = [
        (1, [1, 11, -4, -4], [33, 100, 0, 0]),   // 5/15, 15/15
        (10, [10, 20, -4, -4], [58, 100, 0, 0]), // 14/24
        (0, [0, 10, -4, -4], [28, 100, 0, 0]),   // 4/14: the required term is ignored
    ];
    for (weight, want_raw, want) in cases {
        let pl = InterPodAffinity::new(
            InterPodAffinityArgs { hard_pod_affinity_weight: weight, ignore_preferred_terms_of_existing_pods: false },
            Listers::default().namespaces,
        );
        let (status, raw, normalized) = score_all(&pl, &incoming, &nodes, &nodes);
        assert!(status.is_success(), "weight {weight}");
        assert_eq!((raw.as_slice(), normalized.as_slice()), (want_raw.as_slice(), want.as_slice()), "weight {weight}");
    }

    // ignorePreferredTermsOfExistingPods: a pod without preferred terms skips scoring…
    let ignoring = InterPodAffinity::new(
        InterPodAffinityArgs { hard_pod_affinity_weight: 1, ignore_preferred_terms_of_existing_pods: true },
        Listers::default().namespaces,
    );
    assert_eq!(score_all(&ignoring, &incoming, &nodes, &nodes).0.code(), Code::Skip);
    // …one with them counts everything: its own term (+7 on host n4) too.
    let with_terms = pod("web", web.clone(), preferred("podAffinity", vec![(7, term(web.clone(), HOST, Value::Null))]));
    let (status, raw, normalized) = score_all(&ignoring, &with_terms, &nodes, &nodes);
    assert!(status.is_success());
    assert_eq!(raw, [1, 11, -4, 3]);
    assert_eq!(normalized, [33, 100, 0, 46]); // 5/15, 7/15
}

#[test]
fn pre_score_skips_when_nothing_counts_and_equal_scores_normalize_to_zero() {
    let nodes =
        [zoned("n1", Some("a"), vec![pod("db", json!({"app": "db"}), Value::Null)]), zoned("n2", Some("a"), vec![])];
    let plain = pod("p", json!({}), Value::Null);
    assert_eq!(score_all(&plugin(), &plain, &nodes, &nodes).0.code(), Code::Skip, "no affinity anywhere");
    let unmatched =
        pod("p", json!({}), preferred("podAffinity", vec![(5, term(json!({"app": "x"}), ZONE, Value::Null))]));
    assert_eq!(score_all(&plugin(), &unmatched, &nodes, &nodes).0.code(), Code::Skip, "no pod matches");
    // Both nodes are in zone a: the same raw score, normalized to 0.
    let same = pod("p", json!({}), preferred("podAffinity", vec![(5, term(json!({"app": "db"}), ZONE, Value::Null))]));
    let (status, raw, normalized) = score_all(&plugin(), &same, &nodes, &nodes);
    assert!(status.is_success());
    assert_eq!((raw, normalized), (vec![5, 5], vec![0, 0]));
    // kube's float arithmetic: 100 × (29 / 100) truncates to 28.
    let mut state = CycleState::new();
    assert!(plugin().pre_score(&mut state, &same, &nodes, &nodes).is_success());
    let mut scores: Vec<NodeScore> =
        [0, 29, 100].iter().map(|s| NodeScore { name: Arc::from(format!("n{s}")), score: *s }).collect();
    assert!(plugin().normalize(&state, &same, &mut scores).is_success());
    assert_eq!(scores.iter().map(|s| s.score).collect::<Vec<_>>(), [0, 28, 100]);
}

#[test]
fn scheduling_through_the_framework() {
    let mut framework = Framework::new("default-scheduler");
    framework.enable(Arc::new(plugin()), 2);
    let db = || pod("db", json!({"app": "db"}), Value::Null);
    let spread = pod(
        "db-new",
        json!({"app": "db"}),
        required("podAntiAffinity", vec![term(json!({"app": "db"}), HOST, Value::Null)]),
    );
    let nodes =
        vec![zoned("n1", Some("a"), vec![db()]), zoned("n2", Some("a"), vec![]), zoned("n3", Some("b"), vec![db()])];
    let result = framework.schedule(&spread, &nodes, &mut 0).unwrap();
    assert_eq!(result.node, "n2");
    let full = vec![zoned("n1", Some("a"), vec![db()]), zoned("n3", Some("b"), vec![db()])];
    let error = framework.schedule(&spread, &full, &mut 0).unwrap_err();
    assert_eq!(error.to_string(), "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules.");
    // Preferred affinity picks the db's zone among feasible nodes.
    let near =
        pod("web", json!({}), preferred("podAffinity", vec![(50, term(json!({"app": "db"}), ZONE, Value::Null))]));
    let nodes =
        vec![zoned("n1", Some("b"), vec![]), zoned("n2", Some("a"), vec![]), zoned("n3", Some("a"), vec![db()])];
    let result = framework.schedule(&near, &nodes, &mut 0).unwrap();
    assert_eq!(result.scores.columns, vec![(NAME, vec![0, 100, 100])]);
    assert_eq!(result.node, "n2", "ties go to the first evaluated");
}
