//! The Node object of this agent: registration, status with its
//! conditions, and the heartbeat Lease in `kube-node-lease`.
//!
//! As the kubelet does, the agent heartbeats two ways: it renews its Lease
//! every `lease_renew_interval` (10 s; cheap, what the node lifecycle
//! controller watches) and writes the Node's status every
//! `node_status_update_frequency`, sooner when a condition changes.

use std::sync::Arc;

use k_api_types::coordination::v1::Lease;
use k_api_types::core::v1::{Node, NodeCondition};
use k_api_types::meta::{MicroTime, Time};
use k_netplugin::cri::RuntimeService;
use k_store::{Api, ObjectApi, StoreError};
use serde_json::json;

use crate::config::{NodeConfig, meminfo};

/// The namespace of node Leases.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";

/// What the node's conditions are made from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeHealth {
    /// The runtime answers and says it is ready.
    pub runtime_ready: bool,
    /// The pod network is ready.
    pub network_ready: bool,
    /// Why not ready, when not.
    pub message: String,
    /// Memory is short.
    pub memory_pressure: bool,
    /// Disk is short.
    pub disk_pressure: bool,
    /// Process ids are short.
    pub pid_pressure: bool,
}

/// Keeps this agent's Node and Lease.
#[derive(Clone, Debug)]
pub struct NodeStatusManager {
    config: NodeConfig,
    nodes: Api<Node>,
    leases: Api<Lease>,
    runtime: Arc<dyn RuntimeService>,
    /// Read the host's memory, disk and pids for the pressure conditions
    /// (off for simulated nodes).
    host_pressure: bool,
}

impl NodeStatusManager {
    /// The manager of `config`'s Node through `api`.
    pub fn new(api: Arc<dyn ObjectApi>, config: NodeConfig, runtime: Arc<dyn RuntimeService>) -> Self {
        NodeStatusManager {
            nodes: Api::with_client(api.clone(), None),
            leases: Api::with_client(api, Some(LEASE_NAMESPACE.into())),
            config,
            runtime,
            host_pressure: false,
        }
    }

    /// Reads the host for the pressure conditions (process nodes).
    #[must_use]
    pub fn with_host_pressure(mut self) -> Self {
        self.host_pressure = true;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The Node as this agent registers it (labels, podCIDR, status).
    pub fn desired_node(&self, health: &NodeHealth) -> Node {
        let c = &self.config;
        let mut labels = serde_json::Map::new();
        labels.insert("kubernetes.io/hostname".into(), json!(c.name));
        labels.insert("kubernetes.io/os".into(), json!("linux"));
        labels.insert("kubernetes.io/arch".into(), json!(go_arch()));
        labels.insert("beta.kubernetes.io/os".into(), json!("linux"));
        labels.insert("beta.kubernetes.io/arch".into(), json!(go_arch()));
        for (k, v) in &c.labels {
            labels.insert(k.clone(), json!(v));
        }
        let mut spec = json!({});
        if let Some(cidr) = &c.pod_cidr {
            spec = json!({"podCIDR": cidr, "podCIDRs": [cidr]});
        }
        let node = json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": c.name, "labels": labels},
            "spec": spec,
            "status": self.status_json(health, None),
        });
        // The JSON above is a valid Node; decoding cannot fail.
        serde_json::from_value(node).unwrap_or_default()
    }

    fn status_json(&self, health: &NodeHealth, old: Option<&[NodeCondition]>) -> serde_json::Value {
        let c = &self.config;
        let addresses: Vec<_> = c.addresses.iter().map(|(t, a)| json!({"type": t, "address": a})).collect();
        let conditions = conditions(health, old);
        json!({
            "capacity": c.capacity,
            "allocatable": c.allocatable(),
            "conditions": conditions,
            "addresses": addresses,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": c.kubelet_port}},
            "nodeInfo": {
                "machineID": std::fs::read_to_string("/etc/machine-id").unwrap_or_default().trim(),
                "systemUUID": "", "bootID": std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default().trim(),
                "kernelVersion": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
                "osImage": "k", "containerRuntimeVersion": c.runtime_version,
                "kubeletVersion": concat!("v1.32.0-k", env!("CARGO_PKG_VERSION")),
                "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": go_arch()
            }
        })
    }

    /// The node's health now: the runtime's conditions and, for process
    /// nodes, the host's memory, disk and pids.
    pub async fn health(&self) -> NodeHealth {
        let mut health = NodeHealth::default();
        match self.runtime.status().await {
            Ok(status) => {
                for c in &status.conditions {
                    match c.type_.as_str() {
                        "RuntimeReady" => health.runtime_ready = c.status,
                        "NetworkReady" => health.network_ready = c.status,
                        _ => {}
                    }
                    if !c.status && health.message.is_empty() {
                        health.message = format!("{} is false: {} {}", c.type_, c.reason, c.message);
                    }
                }
            }
            Err(e) => health.message = format!("container runtime is down: {e}"),
        }
        if self.host_pressure {
            // kubelet's default hard eviction thresholds: memory.available
            // < 100Mi, nodefs.available < 10%.
            health.memory_pressure = meminfo("MemAvailable").is_some_and(|kib| kib < 100 * 1024);
            health.disk_pressure = rustix::fs::statvfs(self.config.root_dir.as_path())
                .or_else(|_| rustix::fs::statvfs("/"))
                .is_ok_and(|s| s.f_blocks > 0 && s.f_bavail * 10 < s.f_blocks);
            health.pid_pressure = pid_pressure();
        }
        health
    }

    /// Creates the Node, or updates an existing one's labels and status.
    pub async fn register(&self) -> Result<Node, StoreError> {
        let health = self.health().await;
        let desired = self.desired_node(&health);
        match self.nodes.create(&desired).await {
            Ok(node) => Ok(node),
            Err(StoreError::AlreadyExists { .. }) => {
                let labels = desired.metadata.labels.clone();
                let cidr = self.config.pod_cidr.clone();
                let node = self
                    .nodes
                    .guaranteed_update(&self.config.name, move |node| {
                        node.metadata.labels.extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
                        if node.spec.pod_cidr.as_deref().unwrap_or("").is_empty()
                            && let Some(cidr) = &cidr
                        {
                            node.spec.pod_cidr = Some(cidr.clone());
                            node.spec.pod_cidrs = vec![cidr.clone()];
                        }
                    })
                    .await?;
                drop(node);
                self.update_status(&health).await
            }
            Err(e) => Err(e),
        }
    }

    /// Writes the status: capacity, addresses, nodeInfo and conditions
    /// with a fresh heartbeat (transition times kept when unchanged).
    pub async fn update_status(&self, health: &NodeHealth) -> Result<Node, StoreError> {
        let this = self.clone();
        let health = health.clone();
        self.nodes
            .guaranteed_update_status(&self.config.name, move |node| {
                let old = node.status.as_ref().map(|s| s.conditions.clone()).unwrap_or_default();
                let images = node.status.as_ref().map(|s| s.images.clone()).unwrap_or_default();
                if let Ok(mut status) =
                    serde_json::from_value::<k_api_types::core::v1::NodeStatus>(this.status_json(&health, Some(&old)))
                {
                    status.images = images;
                    node.status = Some(status);
                }
            })
            .await
    }

    /// Renews (or creates) the Lease `kube-node-lease/<node>`.
    pub async fn renew_lease(&self) -> Result<Lease, StoreError> {
        let name = self.config.name.clone();
        let seconds = i32::try_from(self.config.lease_duration.as_secs()).unwrap_or(40);
        match self.leases.get_opt(&name).await? {
            Some(_) => {
                let holder = name.clone();
                self.leases
                    .guaranteed_update(&name, move |lease| {
                        lease.spec.holder_identity = Some(holder.clone());
                        lease.spec.lease_duration_seconds = Some(seconds);
                        lease.spec.renew_time = Some(MicroTime::now());
                    })
                    .await
            }
            None => {
                let node = self.nodes.get_opt(&name).await?;
                let owner =
                    node.map(|n| json!([{"apiVersion": "v1", "kind": "Node", "name": name, "uid": n.metadata.uid}]));
                let lease = json!({
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": name, "namespace": LEASE_NAMESPACE, "ownerReferences": owner.unwrap_or(json!([]))},
                    "spec": {"holderIdentity": name, "leaseDurationSeconds": seconds, "renewTime": MicroTime::now()}
                });
                let lease: Lease = serde_json::from_value(lease).map_err(|e| StoreError::Internal(e.to_string()))?;
                self.leases.create(&lease).await
            }
        }
    }

    /// Heartbeats until `shutdown`: the Lease every renew interval; the
    /// status when the health changes (checked every second and every
    /// update frequency) and at least every report frequency. Errors
    /// are logged and retried at the next tick.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut lease_tick = tokio::time::interval(self.config.lease_renew_interval);
        let mut status_tick = tokio::time::interval(self.config.node_status_update_frequency);
        let mut health_tick =
            tokio::time::interval(std::time::Duration::from_secs(1).min(self.config.node_status_update_frequency));
        for tick in [&mut lease_tick, &mut status_tick, &mut health_tick] {
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        }
        let mut last_health: Option<NodeHealth> = None;
        let mut last_write: Option<tokio::time::Instant> = None;
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                _ = lease_tick.tick() => {
                    if let Err(e) = self.renew_lease().await {
                        tracing::warn!(node = %self.config.name, error = %e, "renewing the node lease");
                    }
                }
                _ = status_tick.tick() => {
                    let health = self.health().await;
                    let due = last_write.is_none_or(|t: tokio::time::Instant| t.elapsed() >= self.config.node_status_report_frequency);
                    if due || last_health.as_ref() != Some(&health) {
                        match self.update_status(&health).await {
                            Ok(_) => {
                                last_health = Some(health);
                                last_write = Some(tokio::time::Instant::now());
                            }
                            Err(e) => tracing::warn!(node = %self.config.name, error = %e, "updating node status"),
                        }
                    }
                }
                _ = health_tick.tick() => {
                    let health = self.health().await;
                    if last_health.as_ref().is_some_and(|h| *h != health) {
                        match self.update_status(&health).await {
                            Ok(_) => {
                                last_health = Some(health);
                                last_write = Some(tokio::time::Instant::now());
                            }
                            Err(e) => tracing::warn!(node = %self.config.name, error = %e, "updating node status"),
                        }
                    }
                }
            }
        }
    }
}

/// The conditions for `health`, keeping each old condition's transition
/// time when its status did not change.
fn conditions(health: &NodeHealth, old: Option<&[NodeCondition]>) -> Vec<serde_json::Value> {
    let now = Time::now();
    let ready = health.runtime_ready && health.network_ready;
    let list = [
        (
            "MemoryPressure",
            health.memory_pressure,
            if health.memory_pressure { "KubeletHasInsufficientMemory" } else { "KubeletHasSufficientMemory" },
            if health.memory_pressure {
                "kubelet has insufficient memory available"
            } else {
                "kubelet has sufficient memory available"
            },
        ),
        (
            "DiskPressure",
            health.disk_pressure,
            if health.disk_pressure { "KubeletHasDiskPressure" } else { "KubeletHasNoDiskPressure" },
            if health.disk_pressure { "kubelet has disk pressure" } else { "kubelet has no disk pressure" },
        ),
        (
            "PIDPressure",
            health.pid_pressure,
            if health.pid_pressure { "KubeletHasInsufficientPID" } else { "KubeletHasSufficientPID" },
            if health.pid_pressure {
                "kubelet has insufficient PID available"
            } else {
                "kubelet has sufficient PID available"
            },
        ),
        (
            "Ready",
            ready,
            if ready { "KubeletReady" } else { "KubeletNotReady" },
            if ready { "kubelet is posting ready status" } else { health.message.as_str() },
        ),
    ];
    list.into_iter()
        .map(|(type_, on, reason, message)| {
            let status = if on { "True" } else { "False" };
            let since = old
                .and_then(|o| o.iter().find(|c| c.type_ == type_ && c.status == status))
                .and_then(|c| c.last_transition_time)
                .unwrap_or(now);
            json!({"type": type_, "status": status, "reason": reason, "message": message,
                   "lastHeartbeatTime": now, "lastTransitionTime": since})
        })
        .collect()
}

/// Go's name of this machine's architecture.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Whether fewer than 10 % of process ids are left.
fn pid_pressure() -> bool {
    let max: u64 =
        std::fs::read_to_string("/proc/sys/kernel/pid_max").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
    let used = std::fs::read_dir("/proc")
        .map(|r| {
            r.flatten().filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit())).count() as u64
        })
        .unwrap_or(0);
    max > 0 && used * 10 > max * 9
}

#[cfg(test)]
mod tests {
    use k_netplugin::cri::fake::{FakeRuntime, SystemClock};

    use super::*;

    #[tokio::test]
    async fn registers_heartbeats_and_reports_readiness() {
        let api: Arc<dyn ObjectApi> = Arc::new(k_store::Store::in_memory());
        let runtime = Arc::new(FakeRuntime::new(SystemClock));
        let mut config = NodeConfig::simulated("sim-1");
        config.pod_cidr = Some("10.244.7.0/24".into());
        config.addresses.push(("InternalIP".into(), "10.0.0.7".into()));
        let manager = NodeStatusManager::new(api.clone(), config, runtime.clone());
        let node = manager.register().await.unwrap();
        assert_eq!(node.metadata.labels.get("kubernetes.io/hostname").map(String::as_str), Some("sim-1"));
        assert_eq!(node.spec.pod_cidr.as_deref(), Some("10.244.7.0/24"));
        let status = node.status.clone().unwrap();
        let ready = status.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!((ready.status.as_str(), ready.reason.as_deref()), ("True", Some("KubeletReady")));
        assert_eq!(status.conditions.len(), 4);
        assert_eq!(serde_json::to_value(&status.capacity).unwrap()["pods"], "110");
        assert!(status.addresses.iter().any(|a| a.type_ == "InternalIP" && a.address == "10.0.0.7"));

        // Registering again (an agent restart) keeps the Node and updates it.
        let again = manager.register().await.unwrap();
        assert_eq!(again.metadata.uid, node.metadata.uid);

        // The Lease is created, owned by the Node, then renewed.
        let lease = manager.renew_lease().await.unwrap();
        assert_eq!(lease.spec.holder_identity.as_deref(), Some("sim-1"));
        assert_eq!(lease.spec.lease_duration_seconds, Some(40));
        assert_eq!(lease.metadata.owner_references[0].uid, node.metadata.uid);
        let first = lease.spec.renew_time.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let renewed = manager.renew_lease().await.unwrap();
        assert!(renewed.spec.renew_time.unwrap() > first);

        // A runtime whose network is down makes the node NotReady, and the
        // transition time moves while the other conditions keep theirs.
        let before = again.status.unwrap().conditions;
        runtime.set_network_ready(false);
        let health = manager.health().await;
        assert!(!health.network_ready);
        let updated = manager.update_status(&health).await.unwrap();
        let conditions = updated.status.unwrap().conditions;
        let ready = conditions.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!((ready.status.as_str(), ready.reason.as_deref()), ("False", Some("KubeletNotReady")));
        assert!(ready.message.as_deref().unwrap_or("").contains("NetworkReady"), "{:?}", ready.message);
        let memory =
            |cs: &[NodeCondition]| cs.iter().find(|c| c.type_ == "MemoryPressure").unwrap().last_transition_time;
        assert_eq!(memory(&conditions), memory(&before), "unchanged conditions keep their transition time");
    }
}
