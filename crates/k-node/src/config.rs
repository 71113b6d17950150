//! How a node agent runs: its name, addresses, capacity and timings.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// A node agent's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    /// The Node's name.
    pub name: String,
    /// Addresses as (type, address): `InternalIP`, `Hostname`, …
    pub addresses: Vec<(String, String)>,
    /// Capacity: `cpu`, `memory`, `pods`, `ephemeral-storage`.
    pub capacity: BTreeMap<String, String>,
    /// Allocatable (capacity minus reservations); `None`: the capacity.
    pub allocatable: Option<BTreeMap<String, String>>,
    /// Labels added to the Node (besides hostname, os and arch).
    pub labels: BTreeMap<String, String>,
    /// The pod range to use when the Node's `spec.podCIDR` is empty.
    pub pod_cidr: Option<String>,
    /// The agent's directory (pod data, logs).
    pub root_dir: PathBuf,
    /// How often the Node's status is computed
    /// (`--node-status-update-frequency`, 10 s); it is written when it
    /// changed, or when `node_status_report_frequency` passed since the
    /// last write.
    pub node_status_update_frequency: Duration,
    /// How often an unchanged status is written anyway
    /// (`--node-status-report-frequency`, 5 min: the Lease is the
    /// heartbeat).
    pub node_status_report_frequency: Duration,
    /// The Lease's duration.
    pub lease_duration: Duration,
    /// How often the Lease is renewed.
    pub lease_renew_interval: Duration,
    /// Static pods' manifests (`--pod-manifest-path`), re-read every 20 s.
    pub pod_manifest_path: Option<PathBuf>,
    /// The port the log server listens on (the kubelet's 10250).
    pub kubelet_port: u16,
    /// The container runtime's name and version for nodeInfo.
    pub runtime_version: String,
}

impl NodeConfig {
    /// A node named `name` with this machine's capacity and Kubernetes'
    /// default timings (status every 10 s, Lease of 40 s renewed every
    /// 10 s, 110 pods).
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        NodeConfig {
            addresses: vec![("Hostname".into(), name.clone())],
            name,
            capacity: host_capacity(),
            allocatable: None,
            labels: BTreeMap::new(),
            pod_cidr: None,
            root_dir: PathBuf::from("/var/lib/k-node"),
            node_status_update_frequency: Duration::from_secs(10),
            node_status_report_frequency: Duration::from_secs(300),
            lease_duration: Duration::from_secs(40),
            lease_renew_interval: Duration::from_secs(10),
            pod_manifest_path: None,
            kubelet_port: 10250,
            runtime_version: String::new(),
        }
    }

    /// A simulated node: fixed capacity (4 CPUs, 16 GiB, 110 pods, 100 GiB
    /// of ephemeral storage), whatever the machine has.
    pub fn simulated(name: impl Into<String>) -> Self {
        let mut config = NodeConfig::new(name);
        config.capacity = BTreeMap::from([
            ("cpu".into(), "4".into()),
            ("memory".into(), "16Gi".into()),
            ("pods".into(), "110".into()),
            ("ephemeral-storage".into(), "100Gi".into()),
        ]);
        config
    }

    /// What the Node offers to pods.
    pub fn allocatable(&self) -> BTreeMap<String, String> {
        self.allocatable.clone().unwrap_or_else(|| self.capacity.clone())
    }
}

/// This machine's capacity: CPUs, memory from `/proc/meminfo`, 110 pods,
/// and the root filesystem's size.
pub fn host_capacity() -> BTreeMap<String, String> {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let mut capacity = BTreeMap::from([("cpu".to_string(), cpus.to_string()), ("pods".to_string(), "110".to_string())]);
    if let Some(kib) = meminfo("MemTotal") {
        capacity.insert("memory".into(), format!("{kib}Ki"));
    }
    if let Ok(bytes) = filesystem_size("/") {
        capacity.insert("ephemeral-storage".into(), format!("{}Ki", bytes / 1024));
    }
    capacity
}

/// A `/proc/meminfo` field in KiB.
pub fn meminfo(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// The size in bytes of the filesystem holding `path`.
fn filesystem_size(path: &str) -> std::io::Result<u64> {
    let stat = rustix::fs::statvfs(path)?;
    Ok(stat.f_blocks.saturating_mul(stat.f_frsize))
}
