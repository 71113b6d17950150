//! "Where would these pods go, and why?" — scheduling a scenario without a
//! cluster.
//!
//! A scenario (YAML or JSON) has an optional `profile` (a
//! KubeSchedulerConfiguration profile: plugins, weights, pluginConfig),
//! `nodes` (Node objects with `status.allocatable`, labels, taints,
//! `status.images`) and `pods` (Pod objects: those with `spec.nodeName` are
//! already running; the others are pending and are scheduled in order, each
//! counting as running for the next). [`simulate`] answers, for each pending
//! pod, the chosen node (or none, with each node's reasons), the feasible
//! nodes, and each feasible node's per-plugin normalized scores and weighted
//! total. The `schedule-sim` example prints it as JSON.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k_api_types::core::v1::{Node, Pod};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{ProfileConfig, build_profile_config};
use crate::framework::registry::Registry;
use crate::framework::{NodeInfo, PodInfo};

/// A scenario; see the [module docs](self).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Scenario {
    /// The profile (default: kube-scheduler's default plugins).
    #[serde(default)]
    pub profile: Option<ProfileConfig>,
    /// Cores filtering one pod's nodes (as KubeSchedulerConfiguration's
    /// `parallelism`; absent: 1).
    #[serde(default)]
    pub parallelism: Option<u32>,
    /// The nodes.
    #[serde(default)]
    pub nodes: Vec<Node>,
    /// Running pods (with `spec.nodeName`) and pending pods, in order.
    #[serde(default)]
    pub pods: Vec<Pod>,
}

impl Scenario {
    /// Reads a scenario from YAML or JSON.
    pub fn parse(text: &str) -> Result<Self, String> {
        let value = k_api_types::manifest::yaml_to_json(text).map_err(|e| e.to_string())?;
        let mut scenario: Scenario = serde_json::from_value(value).map_err(|e| format!("scenario: {e}"))?;
        for pod in &mut scenario.pods {
            if pod.metadata.namespace.is_empty() {
                pod.metadata.namespace = "default".to_owned();
            }
        }
        Ok(scenario)
    }
}

/// One feasible node's scores.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NodeScoreReport {
    /// The node.
    pub node: String,
    /// Each score plugin's normalized score.
    pub scores: BTreeMap<String, i64>,
    /// Σ score × weight.
    pub total: i64,
}

/// What happened to one pending pod.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// `namespace/name`.
    pub pod: String,
    /// The chosen node; `None` when no node fits.
    pub node: Option<String>,
    /// The feasible nodes (of those evaluated).
    pub feasible: Vec<String>,
    /// Each feasible node's scores (empty when only one was feasible).
    pub scores: Vec<NodeScoreReport>,
    /// Why each rejected node was rejected.
    pub reasons: BTreeMap<String, Vec<String>>,
    /// kube-scheduler's FailedScheduling message, when no node fits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The decisions, and how long scheduling took (scenario loading excluded).
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// One per pending pod, in order.
    pub decisions: Vec<Decision>,
    /// Time spent scheduling.
    pub elapsed: Duration,
}

impl Outcome {
    /// How many pods got a node.
    pub fn scheduled(&self) -> usize {
        self.decisions.iter().filter(|d| d.node.is_some()).count()
    }

    /// Pods scheduled (or attempted) per second.
    pub fn pods_per_second(&self) -> f64 {
        self.decisions.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Schedules the scenario's pending pods in order; see the [module docs](self).
pub fn simulate(scenario: &Scenario, registry: &Registry) -> Result<Outcome, String> {
    simulate_with(scenario, registry, true)
}

/// As [`simulate`]; without `detail`, decisions keep only the chosen node and
/// the failure message (what `--output summary` prints), so large scenarios
/// measure scheduling rather than report building.
pub fn simulate_with(scenario: &Scenario, registry: &Registry, detail: bool) -> Result<Outcome, String> {
    let profile = build_profile_config(&scenario.profile.clone().unwrap_or_default(), 0, registry)?;
    let mut framework = profile.framework;
    framework.set_parallelism(scenario.parallelism.unwrap_or(1).max(1) as usize);
    let mut nodes: Vec<NodeInfo> = scenario.nodes.iter().map(|n| NodeInfo::new(Arc::new(n.clone()))).collect();
    let index: BTreeMap<String, usize> = nodes.iter().enumerate().map(|(i, n)| (n.name().to_owned(), i)).collect();
    let mut pending = Vec::new();
    for pod in &scenario.pods {
        match pod.spec.node_name.as_deref().filter(|n| !n.is_empty()) {
            Some(node) => {
                let at = *index
                    .get(node)
                    .ok_or_else(|| format!("pod {} runs on unknown node {node:?}", pod.metadata.name))?;
                nodes[at].add_pod(Arc::new(PodInfo::new(Arc::new(pod.clone()))));
            }
            None => pending.push(PodInfo::new(Arc::new(pod.clone()))),
        }
    }
    NodeInfo::count_images(&mut nodes);
    let nodes: Vec<Arc<NodeInfo>> = nodes.into_iter().map(Arc::new).collect();
    schedule_all(&framework, nodes, &index, pending, detail)
}

fn schedule_all(
    framework: &crate::framework::Framework,
    mut nodes: Vec<Arc<NodeInfo>>,
    index: &BTreeMap<String, usize>,
    pending: Vec<PodInfo>,
    detail: bool,
) -> Result<Outcome, String> {
    let started = Instant::now();
    let mut start = 0;
    let mut decisions = Vec::with_capacity(pending.len());
    for pod in pending {
        let key = pod.key();
        let status = framework.run_pre_enqueue(&pod);
        if !status.is_success() {
            decisions.push(Decision { pod: key, message: Some(status.to_string()), ..Decision::default() });
            continue;
        }
        let lookup = |name: &str| index.get(name).copied();
        match framework.schedule_indexed(&pod, &nodes, Some(&lookup), &mut start) {
            Ok(result) => {
                let (feasible, scores) = if detail {
                    let feasible = result.feasible.iter().map(|n| n.to_string()).collect();
                    let scores = result
                        .scores
                        .rows()
                        .into_iter()
                        .map(|s| NodeScoreReport {
                            node: s.name,
                            scores: s.scores.iter().map(|(p, v)| ((*p).to_owned(), *v)).collect(),
                            total: s.total,
                        })
                        .collect();
                    (feasible, scores)
                } else {
                    (Vec::new(), Vec::new())
                };
                // The pod now runs there, for the pods after it.
                let mut placed = (*pod.pod).clone();
                placed.spec.node_name = Some(result.node.clone());
                let at = index[&result.node];
                Arc::make_mut(&mut nodes[at]).add_pod(Arc::new(PodInfo::new(Arc::new(placed))));
                decisions.push(Decision { pod: key, node: Some(result.node), feasible, scores, ..Decision::default() });
            }
            Err(error) => {
                let reasons = if detail {
                    error.rejected.iter().map(|(n, s)| (n.clone(), s.reasons().to_vec())).collect()
                } else {
                    BTreeMap::new()
                };
                decisions.push(Decision { pod: key, reasons, message: Some(error.to_string()), ..Decision::default() });
            }
        }
    }
    Ok(Outcome { decisions, elapsed: started.elapsed() })
}

/// The decisions as the simulator prints them (JSON).
pub fn report(outcome: &Outcome) -> Value {
    serde_json::to_value(&outcome.decisions).unwrap_or(Value::Null)
}
