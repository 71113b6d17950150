//! What the benchmark examples (`node-perf`, `controller-perf`) share: a
//! component run as a child process of the benchmark, so that its CPU time
//! and memory are measured on their own, and percentiles.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k_api_types::core::v1::Node;
use k_store::{Api, ObjectApi};

/// A child process of the benchmark (the same executable with `args`),
/// started when its first line of output arrives; killed on drop.
#[derive(Debug)]
pub struct ChildProcess {
    child: Child,
    /// The child's first line of output (an address, or "ready").
    pub first_line: String,
}

impl ChildProcess {
    /// Starts `current_exe args…` and waits for its first stdout line.
    /// The child should stop when its stdin closes.
    pub fn start(args: &[&str]) -> Result<ChildProcess, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting {args:?}: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut first_line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut first_line).map_err(|e| e.to_string())?;
        if first_line.is_empty() {
            let _ = child.kill();
            return Err(format!("{args:?} ended before it was ready"));
        }
        Ok(ChildProcess { child, first_line: first_line.trim().to_owned() })
    }

    /// CPU seconds (user + system) the child has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds_of(&format!("/proc/{}/stat", self.child.id()))
    }

    /// The child's resident memory now and at its peak, in MiB.
    pub fn memory_mib(&self) -> (u64, u64) {
        memory_of(&format!("/proc/{}/status", self.child.id()))
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Blocks until stdin closes (the parent ended or dropped its handle).
pub async fn stdin_closed() {
    let _ = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        while std::io::stdin().lock().read_line(&mut line).is_ok_and(|n| n > 0) {
            line.clear();
        }
    })
    .await;
}

/// utime + stime of a /proc stat file, in seconds (USER_HZ is 100 on Linux).
pub fn cpu_seconds_of(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command (which may hold spaces) start after ") ".
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command.
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// VmRSS and VmHWM (peak) of a /proc status file, in MiB.
pub fn memory_of(path: &str) -> (u64, u64) {
    let status = std::fs::read_to_string(path).unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (kib("VmRSS:") >> 10, kib("VmHWM:") >> 10)
}

/// The `p`th percentile (nearest rank) of sorted values; NaN when empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Waits until `count` Nodes are Ready, failing after `limit`.
pub async fn wait_nodes(api: &std::sync::Arc<dyn ObjectApi>, count: usize, limit: Duration) -> Result<(), String> {
    let nodes: Api<Node> = Api::with_client(api.clone(), None);
    let deadline = Instant::now() + limit;
    loop {
        let list = nodes.list(&Default::default()).await.map_err(|e| e.to_string())?;
        let ready = list
            .items
            .iter()
            .filter(|n| {
                n.status.as_ref().is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
            .count();
        if ready >= count {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("only {ready} of {count} nodes became Ready"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
