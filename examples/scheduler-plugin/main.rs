//! Writing a scheduler plugin: a Filter and a Score in a few lines,
//! registered by name and enabled in a profile like any built-in.
//!
//! `cargo run --example scheduler-plugin`
//!
//! `RackSpread` keeps pods off racks marked full (`example.com/rack-full`)
//! and prefers nodes with fewer pods already on their rack. It runs on the
//! simulator's example scenario with a KubeSchedulerConfiguration profile
//! that enables it with weight 5 next to the default plugins.

use std::sync::Arc;

use k_scheduler::config::KubeSchedulerConfiguration;
use k_scheduler::extension_points;
use k_scheduler::framework::registry::Registry;
use k_scheduler::framework::{
    CycleState, ExtensionPoints, FilterPlugin, MAX_NODE_SCORE, NodeInfo, NodeScore, Plugin, PodInfo, ScorePlugin,
    Status, default_normalize_score,
};
use k_scheduler::simulator::{Scenario, simulate};

/// Keeps pods off full racks and spreads them over the others.
struct RackSpread {
    /// The label that names a node's rack.
    label: String,
}

impl Plugin for RackSpread {
    fn name(&self) -> &'static str {
        "RackSpread"
    }
}

impl FilterPlugin for RackSpread {
    fn filter(&self, _: &CycleState, _: &PodInfo, node: &NodeInfo) -> Status {
        match node.node.metadata.labels.get("example.com/rack-full").map(String::as_str) {
            Some("true") => Status::unresolvable("node(s) were on a full rack"),
            _ => Status::success(),
        }
    }
}

impl ScorePlugin for RackSpread {
    /// Raw score: how many pods the node already runs (lower is better).
    fn score(&self, _: &CycleState, _: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        if !node.node.metadata.labels.contains_key(self.label.as_str()) {
            return Ok(0);
        }
        Ok(node.pods.len() as i64)
    }

    /// Fewest pods → 100, most → 0.
    fn normalize(&self, _: &CycleState, _: &PodInfo, scores: &mut [NodeScore]) -> Status {
        default_normalize_score(MAX_NODE_SCORE, true, scores);
        Status::success()
    }
}

// The extension points it serves, so a profile can enable it.
extension_points!(RackSpread: filter, score);

const PROFILE: &str = r#"
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
  plugins:
    multiPoint:
      enabled:
      - name: RackSpread
        weight: 5
  pluginConfig:
  - name: RackSpread
    args:
      label: topology.example.com/rack
"#;

fn main() {
    // 1. Register the plugin by name, with a factory that reads its arguments.
    let mut registry = Registry::builtin();
    registry.register(
        "RackSpread",
        Arc::new(|args: Option<&serde_json::Value>, _handle: &k_scheduler::framework::Handle| {
            let label = args
                .and_then(|a| a.get("label"))
                .and_then(|l| l.as_str())
                .unwrap_or("topology.example.com/rack")
                .to_owned();
            Ok(Arc::new(RackSpread { label }) as Arc<dyn ExtensionPoints>)
        }),
    );
    // 2. A profile enables it (here with weight 5 at every point it serves).
    let config = KubeSchedulerConfiguration::parse(PROFILE).expect("the profile");
    let profile = config.profiles[0].clone();
    // 3. Schedule the simulator's scenario with that profile.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schedule-sim/scenarios/basic.yaml");
    let mut scenario = Scenario::parse(&std::fs::read_to_string(&path).expect("scenario")).expect("scenario");
    for node in &mut scenario.nodes {
        // Racks: n1 and n3 on rack 1, which is full; n2 and n4 on rack 2.
        let rack = if node.metadata.name == "n1" || node.metadata.name == "n3" { "1" } else { "2" };
        node.metadata.labels.insert("topology.example.com/rack".into(), rack.into());
        if rack == "1" {
            node.metadata.labels.insert("example.com/rack-full".into(), "true".into());
        }
    }
    scenario.profile = Some(profile);
    let outcome = simulate(&scenario, &registry).expect("simulate");
    for decision in &outcome.decisions {
        match &decision.node {
            Some(node) => println!("{} → {node}", decision.pod),
            None => println!("{} → nowhere: {}", decision.pod, decision.message.as_deref().unwrap_or_default()),
        }
    }
}
