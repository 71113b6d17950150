//! Resource use of the node and its pods, from the runtime's container
//! stats: what the kubelet's `/stats/summary` gives metrics-server, and
//! through it the HPA's resource metrics.
//!
//! CPU is a rate: [`StatsCollector`] keeps each container's previous
//! cumulative CPU time and reports the usage between two collections in
//! nanocores; memory is the working set.

use std::collections::BTreeMap;

use k_netplugin::cri::{ContainerFilter, CriResult, RuntimeService};

use crate::pods::actions::{CONTAINER_NAME_LABEL, POD_NAME_LABEL, POD_NAMESPACE_LABEL};

/// One container's use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerUsage {
    /// The container's name in its pod.
    pub name: String,
    /// CPU in nanocores (10⁻⁹ cores) since the previous collection; 0 at the first.
    pub cpu_nanocores: u64,
    /// Cumulative CPU time, ns.
    pub cpu_usage_core_nanoseconds: u64,
    /// Working set, bytes.
    pub memory_working_set_bytes: u64,
}

/// One pod's use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodUsage {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub name: String,
    /// Its containers.
    pub containers: Vec<ContainerUsage>,
}

impl PodUsage {
    /// The pod's CPU in nanocores.
    pub fn cpu_nanocores(&self) -> u64 {
        self.containers.iter().map(|c| c.cpu_nanocores).sum()
    }

    /// The pod's working set in bytes.
    pub fn memory_working_set_bytes(&self) -> u64 {
        self.containers.iter().map(|c| c.memory_working_set_bytes).sum()
    }
}

/// The summary of one collection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// When collected, ns since the epoch.
    pub timestamp: i64,
    /// Every pod with running containers, by `<namespace>/<name>`.
    pub pods: BTreeMap<String, PodUsage>,
}

impl Summary {
    /// The node's CPU in nanocores (the pods' sum).
    pub fn node_cpu_nanocores(&self) -> u64 {
        self.pods.values().map(PodUsage::cpu_nanocores).sum()
    }

    /// The node's working set in bytes (the pods' sum).
    pub fn node_memory_working_set_bytes(&self) -> u64 {
        self.pods.values().map(PodUsage::memory_working_set_bytes).sum()
    }
}

/// One node's stats, shareable: each [`summary`](Self::summary) reports
/// the use since the previous one (what a metrics source polls, as
/// metrics-server polls the kubelet's `/stats/summary`). Get it from
/// [`NodeAgent::stats`](crate::NodeAgent::stats).
#[derive(Clone)]
pub struct NodeStats {
    runtime: std::sync::Arc<dyn RuntimeService>,
    collector: std::sync::Arc<tokio::sync::Mutex<StatsCollector>>,
}

impl std::fmt::Debug for NodeStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeStats").finish_non_exhaustive()
    }
}

impl NodeStats {
    /// The stats of the containers `runtime` runs.
    pub fn new(runtime: std::sync::Arc<dyn RuntimeService>) -> Self {
        NodeStats { runtime, collector: std::sync::Arc::default() }
    }

    /// A summary now (CPU rates since the previous call; 0 at the first).
    pub async fn summary(&self) -> CriResult<Summary> {
        self.collector.lock().await.collect(self.runtime.as_ref()).await
    }
}

/// Collects summaries, remembering the previous CPU readings.
#[derive(Debug, Default)]
pub struct StatsCollector {
    previous: BTreeMap<String, (i64, u64)>,
}

impl StatsCollector {
    /// A collector with no history.
    pub fn new() -> Self {
        StatsCollector::default()
    }

    /// Reads every running container's stats from `runtime`.
    pub async fn collect(&mut self, runtime: &dyn RuntimeService) -> CriResult<Summary> {
        let containers = runtime.list_containers(&ContainerFilter::default()).await?;
        let stats = runtime.list_container_stats(&ContainerFilter::default()).await?;
        let mut summary = Summary::default();
        let mut seen = BTreeMap::new();
        for s in stats {
            let Some(c) = containers.iter().find(|c| c.id == s.id) else { continue };
            let label = |k: &str| c.labels.get(k).cloned().unwrap_or_default();
            let (ns, pod) = (label(POD_NAMESPACE_LABEL), label(POD_NAME_LABEL));
            let name = c.labels.get(CONTAINER_NAME_LABEL).cloned().unwrap_or_else(|| c.metadata.name.clone());
            let rate = match self.previous.get(&s.id) {
                Some((t, used)) if s.timestamp > *t && s.usage_core_nano_seconds >= *used => {
                    let dt = u128::try_from(s.timestamp - t).unwrap_or(1).max(1);
                    let du = u128::from(s.usage_core_nano_seconds - used);
                    u64::try_from(du * 1_000_000_000 / dt).unwrap_or(u64::MAX)
                }
                _ => 0,
            };
            seen.insert(s.id.clone(), (s.timestamp, s.usage_core_nano_seconds));
            summary.timestamp = summary.timestamp.max(s.timestamp);
            let entry = summary.pods.entry(format!("{ns}/{pod}")).or_insert_with(|| PodUsage {
                namespace: ns.clone(),
                name: pod.clone(),
                containers: Vec::new(),
            });
            entry.containers.push(ContainerUsage {
                name,
                cpu_nanocores: rate,
                cpu_usage_core_nanoseconds: s.usage_core_nano_seconds,
                memory_working_set_bytes: s.working_set_bytes,
            });
        }
        self.previous = seen;
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use k_netplugin::cri::fake::{FakeRuntime, ManualClock, Script};
    use k_netplugin::cri::{ContainerConfig, ContainerMetadata, ImageSpec, PodSandboxConfig, PodSandboxMetadata};

    use super::*;

    #[tokio::test]
    async fn cpu_is_a_rate_and_memory_a_working_set() {
        let clock = Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000)));
        // Half a core and 64 MiB.
        let runtime = FakeRuntime::new(clock.clone())
            .with_images(["busy"])
            .with_script("busy", Script::runs_forever().stats(500_000_000, 64 << 20));
        let sandbox_config = PodSandboxConfig {
            metadata: PodSandboxMetadata { name: "p".into(), uid: "u".into(), namespace: "ns".into(), attempt: 0 },
            ..PodSandboxConfig::default()
        };
        let sandbox = runtime.run_pod_sandbox(&sandbox_config).await.unwrap();
        let config = ContainerConfig {
            metadata: ContainerMetadata { name: "c".into(), attempt: 0 },
            image: ImageSpec { image: "busy".into() },
            labels: [(POD_NAME_LABEL, "p"), (POD_NAMESPACE_LABEL, "ns"), (CONTAINER_NAME_LABEL, "c")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..ContainerConfig::default()
        };
        let id = runtime.create_container(&sandbox, &config, &sandbox_config).await.unwrap();
        runtime.start_container(&id).await.unwrap();
        let mut collector = StatsCollector::new();
        clock.advance(Duration::from_secs(10));
        let first = collector.collect(&runtime).await.unwrap();
        assert_eq!(first.pods["ns/p"].cpu_nanocores(), 0, "no rate from one reading");
        assert_eq!(first.pods["ns/p"].memory_working_set_bytes(), 64 << 20);
        clock.advance(Duration::from_secs(10));
        let second = collector.collect(&runtime).await.unwrap();
        let cpu = second.node_cpu_nanocores();
        assert!((450_000_000..=550_000_000).contains(&cpu), "about half a core: {cpu}");
        assert_eq!(second.node_memory_working_set_bytes(), 64 << 20);
    }
}
