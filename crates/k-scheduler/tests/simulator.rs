//! The simulator on the example scenario, with every expected value written
//! out and worked by hand from kube-scheduler's formulas.

use k_scheduler::framework::registry::Registry;
use k_scheduler::simulator::{Scenario, simulate};

fn scenario(name: &str) -> Scenario {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/schedule-sim/scenarios").join(name);
    Scenario::parse(&std::fs::read_to_string(&path).expect("scenario file")).expect("scenario")
}

#[test]
fn the_basic_scenario() {
    let outcome = simulate(&scenario("basic.yaml"), &Registry::builtin()).expect("simulate");
    let d = &outcome.decisions;
    assert_eq!(d.len(), 4);

    // web on n1: Fit (least allocated) cpu 2500/4000 → 37, memory 2.5/8 Gi → 68: 52;
    // balanced |0.625 − 0.3125|/2 → 84; affinity 10 vs 0 → 100; no taint → 100;
    // the 70 MB image on 1 of 4 nodes → 17.5 MB < 23 MB → 0.
    // Total 52 + 84 + 2·100 + 3·100 + 0 = 636. n2: 94 + 98 = 192.
    assert_eq!(d[0].pod, "default/web");
    assert_eq!(d[0].node.as_deref(), Some("n1"));
    assert_eq!(d[0].feasible, ["n1", "n2"]);
    let n1 = &d[0].scores[0];
    assert_eq!(n1.node, "n1");
    let expect = [
        ("ImageLocality", 0),
        ("NodeAffinity", 100),
        ("NodeResourcesBalancedAllocation", 84),
        ("NodeResourcesFit", 52),
        ("TaintToleration", 100),
    ];
    for (plugin, score) in expect {
        assert_eq!(n1.scores[plugin], score, "{plugin}");
    }
    assert_eq!((n1.total, d[0].scores[1].total), (636, 192));

    // batch fits only n2 (n1 has 1.5 CPU left after web, n3 is tainted, n4 cordoned).
    assert_eq!(d[1].node.as_deref(), Some("n2"));
    assert_eq!(d[1].feasible, ["n2"]);
    assert!(d[1].scores.is_empty(), "nothing to compare");

    // cache: zone a only (n1, n3), tolerating n3's taint. n3: cpu 1/2 → 50,
    // memory 1/4 Gi → 75: 62; balanced |0.5 − 0.25|/2 → 87: 62 + 87 + 300 = 449.
    // n1 (3.5 CPU, 3.5 Gi used of 4 / 8): 34 + 78 + 300 = 412.
    assert_eq!(d[2].node.as_deref(), Some("n3"));
    assert_eq!(d[2].scores.iter().map(|s| (s.node.as_str(), s.total)).collect::<Vec<_>>(), [("n1", 412), ("n3", 449)]);

    // huge fits nowhere, in kube-scheduler's words.
    assert_eq!(d[3].node, None);
    assert_eq!(
        d[3].message.as_deref(),
        Some(
            "0/4 nodes are available: 1 node(s) had untolerated taint {dedicated: cache}, 1 node(s) were unschedulable, 2 Insufficient cpu."
        )
    );
    assert_eq!(d[3].reasons["n4"], ["node(s) were unschedulable"]);
    assert_eq!(outcome.scheduled(), 3);
}

#[test]
fn a_profile_changes_the_decision() {
    // Bin packing (MostAllocated, weight 5) and no affinity: web goes to the
    // fuller node n1 even without its zone preference weighing in.
    let mut s = scenario("basic.yaml");
    s.profile = Some(
        serde_json::from_value(serde_json::json!({
            "plugins": {"multiPoint": {"disabled": [{"name": "NodeAffinity"}, {"name": "TaintToleration"}]},
                        "score": {"enabled": [{"name": "NodeResourcesFit", "weight": 5}]}},
            "pluginConfig": [{"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": "MostAllocated"}}}]
        }))
        .expect("profile"),
    );
    let outcome = simulate(&s, &Registry::builtin()).expect("simulate");
    let web = &outcome.decisions[0];
    // n1: most allocated cpu 2500/4000 → 62, memory 2.5/8 → 31: 46 × 5 + 84 = 314.
    // n2: cpu 500/8000 → 6, memory 0.5/16 → 3: 4 × 5 + 98 = 118.
    // Without TaintToleration nothing filters out n3's NoSchedule taint:
    // cpu 500/2000 → 25, memory 0.5/4 → 12: 18 × 5 + 93 = 183.
    assert_eq!(
        web.scores.iter().map(|s| (s.node.as_str(), s.total)).collect::<Vec<_>>(),
        [("n1", 314), ("n2", 118), ("n3", 183)]
    );
    assert!(!web.scores[0].scores.contains_key("NodeAffinity"));
    // With NodeName filtering only: the cordoned n4 is a candidate too.
    let mut s = scenario("basic.yaml");
    s.profile = Some(
        serde_json::from_value(serde_json::json!({
            "plugins": {"multiPoint": {"disabled": [{"name": "*"}]}, "filter": {"enabled": [{"name": "NodeName"}]}}
        }))
        .expect("profile"),
    );
    let outcome = simulate(&s, &Registry::builtin()).expect("simulate");
    assert_eq!(outcome.decisions[3].feasible, ["n1", "n2", "n3", "n4"], "nothing filters huge out, nothing scores");
}

#[test]
fn parallel_filtering_and_scoring_make_the_same_decisions() {
    // 1,500 nodes of varied sizes and taints, 60 pods of varied requests:
    // filtering and scoring on two cores must give exactly what one core gives.
    assert!(rayon::current_num_threads() > 1, "this test needs two cores to filter in parallel");
    let nodes: Vec<serde_json::Value> = (0..1500)
        .map(|i| {
            let mut node = serde_json::json!({"metadata": {"name": format!("n{i}")},
                "status": {"allocatable": {"cpu": format!("{}", 1 + i % 5), "memory": "8Gi", "pods": "110"}}});
            if i % 7 == 0 {
                node["spec"] =
                    serde_json::json!({"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]});
            }
            node
        })
        .collect();
    let pods: Vec<serde_json::Value> = (0..60)
        .map(|i| {
            serde_json::json!({"metadata": {"name": format!("p{i}"), "namespace": "default"},
                "spec": {"containers": [{"name": "c", "image": "busybox",
                    "resources": {"requests": {"cpu": format!("{}m", 500 + 250 * (i % 12))}}}]}})
        })
        .collect();
    let mut one: Scenario = serde_json::from_value(serde_json::json!({"nodes": nodes, "pods": pods})).unwrap();
    let decisions = |scenario: &Scenario| {
        let outcome = simulate(scenario, &Registry::builtin()).expect("simulate");
        outcome.decisions.into_iter().map(|d| (d.pod, d.node, d.feasible, d.scores)).collect::<Vec<_>>()
    };
    let sequential = decisions(&one);
    one.parallelism = Some(2);
    assert_eq!(decisions(&one), sequential);
    assert!(sequential.iter().all(|(_, node, _, _)| node.is_some()));
    assert!(sequential.iter().all(|(_, _, feasible, _)| feasible.len() >= 256), "enough nodes to score in parallel");
}
