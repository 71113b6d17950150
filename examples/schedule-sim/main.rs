//! The scheduling simulator: where would these pods go, and why?
//!
//! `cargo run --release --example schedule-sim -- SCENARIO.yaml [--output json|summary]`
//!
//! The scenario has an optional `profile` (a KubeSchedulerConfiguration
//! profile), `nodes` and `pods` (see `k_scheduler::simulator`). JSON output
//! gives, for each pending pod in order, the chosen node (or null and each
//! node's reasons), the feasible nodes, and each feasible node's per-plugin
//! normalized scores and weighted total. `summary` prints each pod's node,
//! then how many were scheduled and the throughput (scenario loading
//! excluded).

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use k_scheduler::framework::registry::Registry;
use k_scheduler::simulator::{Scenario, report, simulate_with};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Output {
    Json,
    Summary,
}

/// Schedules a scenario's pending pods with kube-scheduler's plugins.
#[derive(Debug, Parser)]
#[command(name = "schedule-sim")]
struct Options {
    /// The scenario (YAML or JSON).
    scenario: PathBuf,
    /// What to print.
    #[arg(long, value_enum, default_value = "json")]
    output: Output,
}

fn main() {
    let options = Options::parse();
    let text = match std::fs::read_to_string(&options.scenario) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("schedule-sim: {}: {e}", options.scenario.display());
            std::process::exit(1);
        }
    };
    let detail = matches!(options.output, Output::Json);
    let outcome = Scenario::parse(&text).and_then(|scenario| simulate_with(&scenario, &Registry::builtin(), detail));
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!("schedule-sim: {}: {e}", options.scenario.display());
            std::process::exit(1);
        }
    };
    match options.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&report(&outcome)).unwrap_or_default()),
        Output::Summary => {
            for decision in &outcome.decisions {
                println!("{} {}", decision.pod, decision.node.as_deref().unwrap_or("-"));
            }
            println!(
                "scheduled {} of {} pods in {:.3} ms: {:.0} pods/s",
                outcome.scheduled(),
                outcome.decisions.len(),
                outcome.elapsed.as_secs_f64() * 1000.0,
                outcome.pods_per_second()
            );
        }
    }
}
