use std::sync::Arc;

use serde_json::{Value, json};

use super::*;
use crate::framework::{Framework, Listers};
use crate::plugins::node_resources::Fit;
use crate::plugins::taint_toleration::TaintToleration;
use crate::plugins::testing::{node, with_pods};

/// A pod with a priority, a CPU request, a start time (seconds past
/// midnight 2024-01-01) and labels.
fn p(name: &str, priority: i32, cpu: &str, started: u32, labels: Value) -> PodInfo {
    let pod = json!({
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {"priority": priority, "containers": [{"name": "c", "image": "busybox",
                 "resources": {"requests": {"cpu": cpu}}}]},
        "status": {"startTime": format!("2024-01-01T00:00:{:02}Z", started)}
    });
    PodInfo::new(Arc::new(serde_json::from_value(pod).expect("a pod")))
}

/// A low pod: labels none.
fn low(name: &str, priority: i32, cpu: &str, started: u32) -> PodInfo {
    p(name, priority, cpu, started, json!({}))
}

/// The preemptor: priority 100, with extra spec/status merged in.
fn preemptor(cpu: &str, spec: Value, status: Value) -> PodInfo {
    let mut pod = json!({
        "metadata": {"name": "incoming", "namespace": "default"},
        "spec": {"priority": 100, "containers": [{"name": "c", "image": "busybox",
                 "resources": {"requests": {"cpu": cpu}}}]},
        "status": status
    });
    for (k, v) in spec.as_object().into_iter().flatten() {
        pod["spec"][k] = v.clone();
    }
    PodInfo::new(Arc::new(serde_json::from_value(pod).expect("a pod")))
}

fn n(name: &str, cpu: &str, pods: Vec<PodInfo>) -> Arc<NodeInfo> {
    Arc::new(with_pods(node(name, json!({"cpu": cpu, "pods": "10"}), json!({})), pods))
}

fn tainted(name: &str, cpu: &str, pods: Vec<PodInfo>) -> Arc<NodeInfo> {
    let taints = json!({"spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}});
    Arc::new(with_pods(node(name, json!({"cpu": cpu, "pods": "10"}), taints), pods))
}

fn pdb(name: &str, app: &str, allowed: i32) -> Value {
    json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
           "metadata": {"name": name, "namespace": "default"},
           "spec": {"selector": {"matchLabels": {"app": app}}},
           "status": {"disruptionsAllowed": allowed, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1}})
}

/// Runs a cycle (filters, then PostFilter) with NodeResourcesFit,
/// TaintToleration (first, as in kube's default order) and DefaultPreemption built by its factory.
fn preempt(
    args: Option<Value>,
    pdbs: &[Value],
    pod: &PodInfo,
    nodes: &[Arc<NodeInfo>],
) -> (Option<PostFilterResult>, Status) {
    let (listers, mut writers) = Listers::new();
    writers.insert_json(pdbs).expect("pdbs");
    let mut framework = Framework::new("test");
    framework.enable(Arc::new(TaintToleration), 1);
    framework.enable(Arc::new(Fit::default()), 1);
    framework.enable(factory(args.as_ref(), &Handle::new(listers)).expect("plugin"), 1);
    let mut state = CycleState::new();
    let fit = framework.find_feasible(&mut state, pod, nodes, &mut 0).expect_err("no node fits");
    framework.run_post_filter(&state, pod, nodes, &fit.rejected)
}

/// (nominated node, victim names) or the status's reason.
fn outcome(result: (Option<PostFilterResult>, Status)) -> Result<(String, Vec<String>), String> {
    match result {
        (Some(r), s) if s.is_success() => Ok((
            r.nominated_node_name.unwrap_or_default(),
            r.victims.iter().map(|v| v.pod.metadata.name.clone()).collect(),
        )),
        (_, s) => {
            assert_eq!(s.code(), Code::Unschedulable, "{s}");
            Err(s.reasons().join("; "))
        }
    }
}

fn ok(node: &str, victims: &[&str]) -> Result<(String, Vec<String>), String> {
    Ok((node.to_owned(), victims.iter().map(|v| (*v).to_owned()).collect()))
}

#[test]
fn preemption_table() {
    let cpu1 = preemptor("1", json!({}), json!({}));
    let cpu2 = preemptor("2", json!({}), json!({}));
    let app = |a: &str| json!({"app": a});
    #[allow(clippy::type_complexity)]
    let cases: Vec<(
        &str,
        Option<Value>,
        Vec<Value>,
        &PodInfo,
        Vec<Arc<NodeInfo>>,
        Result<(String, Vec<String>), String>,
    )> = vec![
        (
            "picks the node whose highest victim has the lowest priority",
            None,
            vec![],
            &cpu1,
            vec![n("a", "2", vec![low("a-mid", 50, "2", 1)]), n("b", "2", vec![low("b-low", 10, "2", 1)])],
            ok("b", &["b-low"]),
        ),
        (
            "minimal victims: the higher-priority pods are reprieved",
            None,
            vec![],
            &cpu1,
            vec![n("a", "3", vec![low("p10", 10, "1", 1), low("p30", 30, "1", 2), low("p20", 20, "1", 3)])],
            ok("a", &["p10"]),
        ),
        (
            "minimal victims: among equals the latest started goes",
            None,
            vec![],
            &cpu1,
            vec![n("a", "3", vec![low("late", 10, "1", 9), low("early", 10, "1", 1), low("mid", 10, "1", 5)])],
            ok("a", &["late"]),
        ),
        (
            "victims come most important first",
            None,
            vec![],
            &cpu2,
            vec![n("a", "3", vec![low("p10", 10, "1", 1), low("p30", 30, "1", 2), low("p20", 20, "1", 3)])],
            ok("a", &["p20", "p10"]),
        ),
        (
            "same highest priority: the smaller priority sum wins (fewer victims)",
            None,
            vec![],
            &cpu2,
            vec![
                n("a", "2", vec![low("a1", 10, "1", 1), low("a2", 10, "1", 2)]),
                n("b", "2", vec![low("b1", 10, "2", 1)]),
            ],
            ok("b", &["b1"]),
        ),
        (
            "negative priorities are shifted: two victims at -10 sum more than one",
            None,
            vec![],
            &cpu2,
            vec![
                n("a", "2", vec![low("a1", -10, "1", 1), low("a2", -10, "1", 2)]),
                n("b", "2", vec![low("b1", -10, "2", 1)]),
            ],
            ok("b", &["b1"]),
        ),
        (
            "all else equal: the latest-started highest-priority victim wins",
            None,
            vec![],
            &cpu1,
            vec![n("a", "2", vec![low("a1", 10, "2", 1)]), n("b", "2", vec![low("b1", 10, "2", 7)])],
            ok("b", &["b1"]),
        ),
        (
            "never preempts pods of equal or higher priority",
            None,
            vec![],
            &cpu1,
            vec![n("a", "1", vec![low("equal", 100, "1", 1)]), n("b", "1", vec![low("higher", 200, "1", 1)])],
            Err("preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.".into()),
        ),
        (
            "a node where deleting every lower pod is not enough reports the filter's reason",
            None,
            vec![],
            &cpu2,
            vec![n("a", "2", vec![low("lower", 10, "1", 1), low("equal", 100, "1", 2)])],
            Err("preemption: 0/1 nodes are available: 1 Insufficient cpu.".into()),
        ),
        (
            "UnschedulableAndUnresolvable nodes are skipped",
            None,
            vec![],
            &cpu1,
            vec![tainted("a", "1", vec![low("a-low", 1, "1", 1)]), n("b", "1", vec![low("b-mid", 50, "1", 1)])],
            ok("b", &["b-mid"]),
        ),
        (
            "kube's message when nothing helps",
            None,
            vec![],
            &cpu1,
            vec![
                tainted("a", "1", vec![low("a-low", 1, "1", 1)]),
                n("b", "1", vec![low("b-high", 200, "1", 1)]),
                tainted("c", "1", vec![]),
            ],
            Err("preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, \
                 2 Preemption is not helpful for scheduling."
                .into()),
        ),
        (
            "a PDB-protected victim is avoided when another node works",
            None,
            vec![pdb("db", "db", 0)],
            &cpu1,
            vec![
                n("a", "1", vec![p("a-db", 10, "1", 1, app("db"))]),
                n("b", "1", vec![p("b-web", 20, "1", 1, app("web"))]),
            ],
            ok("b", &["b-web"]),
        ),
        (
            "without the PDB the lower-priority pod goes",
            None,
            vec![pdb("db", "other", 0)],
            &cpu1,
            vec![
                n("a", "1", vec![p("a-db", 10, "1", 1, app("db"))]),
                n("b", "1", vec![p("b-web", 20, "1", 1, app("web"))]),
            ],
            ok("a", &["a-db"]),
        ),
        (
            "PDB violations are reprieved first: the unprotected pod goes instead",
            None,
            vec![pdb("db", "db", 0)],
            &cpu1,
            vec![n("a", "2", vec![p("db", 10, "1", 1, app("db")), low("plain", 50, "1", 1)])],
            ok("a", &["plain"]),
        ),
        (
            "a budget allowing one disruption: the second matching pod violates",
            None,
            vec![pdb("db", "db", 1)],
            &cpu2,
            vec![
                n("a", "2", vec![p("a1", 10, "1", 1, app("db")), p("a2", 10, "1", 2, app("db"))]),
                n("b", "2", vec![p("b1", 30, "2", 1, app("web"))]),
            ],
            ok("b", &["b1"]),
        ),
        (
            "when every node breaks a budget, preemption still happens",
            None,
            vec![pdb("db", "db", 0)],
            &cpu1,
            vec![n("a", "1", vec![p("a-db", 10, "1", 1, app("db"))])],
            ok("a", &["a-db"]),
        ),
        (
            "minCandidateNodesAbsolute 1: the first candidate found is taken",
            Some(json!({"minCandidateNodesPercentage": 0, "minCandidateNodesAbsolute": 1})),
            vec![],
            &cpu1,
            vec![n("a", "2", vec![low("a-mid", 50, "2", 1)]), n("b", "2", vec![low("b-low", 10, "2", 1)])],
            ok("a", &["a-mid"]),
        ),
    ];
    for (name, args, pdbs, pod, nodes, expected) in cases {
        assert_eq!(outcome(preempt(args, &pdbs, pod, &nodes)), expected, "{name}");
    }
}

#[test]
fn eligibility() {
    let nodes = || vec![n("a", "1", vec![low("a-low", 10, "1", 1)])];
    let never = preemptor("1", json!({"preemptionPolicy": "Never"}), json!({}));
    assert_eq!(
        outcome(preempt(None, &[], &never, &nodes())),
        Err("preemption: not eligible due to preemptionPolicy=Never.".into())
    );
    // Nominated to a node where a lower-priority victim is still terminating: wait.
    let mut terminating = (*low("going", 10, "1", 1).pod).clone();
    terminating.metadata.deletion_timestamp = terminating.status.as_ref().and_then(|s| s.start_time);
    let waiting_on = vec![n("a", "1", vec![PodInfo::new(Arc::new(terminating))])];
    let nominated = preemptor("1", json!({}), json!({"nominatedNodeName": "a"}));
    assert_eq!(
        outcome(preempt(None, &[], &nominated, &waiting_on)),
        Err("preemption: not eligible due to a terminating pod on the nominated node.".into())
    );
    // Nominated elsewhere (or to a node without terminating pods): preempts.
    let elsewhere = preemptor("1", json!({}), json!({"nominatedNodeName": "gone"}));
    assert_eq!(outcome(preempt(None, &[], &elsewhere, &waiting_on)), ok("a", &["going"]));
    assert_eq!(outcome(preempt(None, &[], &nominated, &nodes())), ok("a", &["a-low"]));
}

#[test]
fn arguments() {
    let parse = |v: Value| DefaultPreemptionArgs::parse(Some(&v));
    assert_eq!(DefaultPreemptionArgs::parse(None), Ok(DefaultPreemptionArgs::default()));
    assert_eq!(
        parse(json!({"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "DefaultPreemptionArgs",
                     "minCandidateNodesPercentage": 20})),
        Ok(DefaultPreemptionArgs { min_candidate_nodes_percentage: 20, min_candidate_nodes_absolute: 100 })
    );
    for bad in [
        json!({"minCandidateNodesPercentage": 101}),
        json!({"minCandidateNodesPercentage": -1}),
        json!({"minCandidateNodesAbsolute": -1}),
        json!({"minCandidateNodesAbsolute": "3"}),
        json!({"minCandidateNodesPercentage": 0, "minCandidateNodesAbsolute": 0}),
        json!({"minCandidates": 1}),
    ] {
        assert!(parse(bad.clone()).is_err(), "{bad}");
    }
    assert!(
        factory(Some(&json!({"minCandidateNodesPercentage": 0, "minCandidateNodesAbsolute": 0})), &Handle::default())
            .is_err()
    );
    let args = DefaultPreemptionArgs::default();
    assert_eq!(args.num_candidates(50), 50, "at most all");
    assert_eq!(args.num_candidates(5000), 500, "10%");
    assert_eq!(args.num_candidates(1500), 150);
    assert_eq!(args.num_candidates(900), 100, "at least 100");
    let args = DefaultPreemptionArgs { min_candidate_nodes_percentage: 0, min_candidate_nodes_absolute: 1 };
    assert_eq!(args.num_candidates(10), 1);
}
