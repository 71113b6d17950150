//! A flannel-like node network in host-gw mode.
//!
//! Every node owns a pod range (`spec.podCIDR`). On its node,
//! [`HostGwNode`] renders the CNI configuration for that range — the
//! reference `bridge` plugin (bridge `cni0`, the pods' gateway, hairpin
//! mode, no masquerade) with host-local IPAM over the podCIDR, then
//! `portmap` — and keeps one route per other node, `<their podCIDR> via
//! <their InternalIP>`, so pods reach pods on every node by pod IP without
//! NAT. Routes carry k's own route protocol number, so the ones that are no
//! longer wanted are found and removed.
//!
//! [`HostGwNode::run`] is the controller: it watches Nodes, writes the
//! conflist once its own node has a podCIDR, and reconciles the routes on
//! every change.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use k_api_types::core::v1::Node;
use k_runtime::informer::InformerFactory;
use k_runtime::watcher::Config;
use k_store::ObjectApi;
use serde_json::json;

use crate::iproute::{self, IpError};
use crate::netns::NetNs;
use crate::types::NetworkConfigList;

/// The route protocol number k's host-gw routes carry (`ip route … proto 188`).
pub const ROUTE_PROTOCOL: u8 = 188;

/// How a node's network is laid out.
#[derive(Clone, Debug)]
pub struct HostGwConfig {
    /// This node's name.
    pub node_name: String,
    /// The namespace that stands for the node (its "host" network).
    pub netns: NetNs,
    /// The network's name in the conflist.
    pub network_name: String,
    /// The bridge's name.
    pub bridge: String,
    /// The IPAM plugin's type: `host-local` or `k-host-local`.
    pub ipam_type: String,
    /// host-local's data directory.
    pub data_dir: PathBuf,
    /// Where the conflist is written (`10-<network>.conflist`).
    pub conf_dir: PathBuf,
    /// The route protocol number marking k's routes.
    pub route_protocol: u8,
    /// How often the controller reconciles even without a Node change
    /// (routes someone removed come back; failures are retried).
    pub resync: std::time::Duration,
}

impl HostGwConfig {
    /// Defaults: network `k-hostgw`, bridge `cni0`, IPAM `host-local`,
    /// data in `/var/lib/cni/networks`, configuration in `/etc/cni/net.d`.
    pub fn new(node_name: impl Into<String>, netns: NetNs) -> Self {
        HostGwConfig {
            node_name: node_name.into(),
            netns,
            network_name: "k-hostgw".into(),
            bridge: "cni0".into(),
            ipam_type: "host-local".into(),
            data_dir: PathBuf::from("/var/lib/cni/networks"),
            conf_dir: PathBuf::from("/etc/cni/net.d"),
            route_protocol: ROUTE_PROTOCOL,
            resync: std::time::Duration::from_secs(30),
        }
    }
}

/// A host-gw node network failed.
#[derive(Debug, thiserror::Error)]
pub enum HostGwError {
    /// A link, route or sysctl operation failed.
    #[error(transparent)]
    Ip(#[from] IpError),
    /// Writing the configuration failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// One node's host-gw network.
#[derive(Clone, Debug)]
pub struct HostGwNode {
    config: HostGwConfig,
}

/// The first `InternalIP` of a node (else its first address).
pub fn node_internal_ip(node: &Node) -> Option<String> {
    let addresses = &node.status.as_ref()?.addresses;
    addresses.iter().find(|a| a.type_ == "InternalIP").or_else(|| addresses.first()).map(|a| a.address.clone())
}

/// The node's `InternalIP` of the same family as `cidr`.
fn internal_ip_for(node: &Node, cidr: &str) -> Option<String> {
    let v6 = cidr.contains(':');
    let addresses = &node.status.as_ref()?.addresses;
    addresses.iter().find(|a| a.type_ == "InternalIP" && a.address.contains(':') == v6).map(|a| a.address.clone())
}

/// The node's pod ranges: `spec.podCIDRs`, else `spec.podCIDR`.
fn pod_cidrs(node: &Node) -> Vec<String> {
    let spec = &node.spec;
    if !spec.pod_cidrs.is_empty() {
        return spec.pod_cidrs.clone();
    }
    spec.pod_cidr.iter().filter(|c| !c.is_empty()).cloned().collect()
}

impl HostGwNode {
    /// The node network laid out by `config`.
    pub fn new(config: HostGwConfig) -> Self {
        HostGwNode { config }
    }

    /// Its configuration.
    pub fn config(&self) -> &HostGwConfig {
        &self.config
    }

    /// The conflist for a node whose pod ranges are `pod_cidrs` (one
    /// address per family: dual-stack nodes get one range set and one
    /// default route per family).
    pub fn conflist(&self, pod_cidrs: &[String]) -> NetworkConfigList {
        let c = &self.config;
        let ranges: Vec<_> = pod_cidrs.iter().map(|cidr| json!([{"subnet": cidr}])).collect();
        let mut routes = Vec::new();
        if pod_cidrs.iter().any(|c| !c.contains(':')) {
            routes.push(json!({"dst": "0.0.0.0/0"}));
        }
        if pod_cidrs.iter().any(|c| c.contains(':')) {
            routes.push(json!({"dst": "::/0"}));
        }
        let text = json!({
            "cniVersion": "1.0.0",
            "name": c.network_name,
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": c.bridge,
                    "isGateway": true,
                    "hairpinMode": true,
                    "ipMasq": false,
                    "ipam": {
                        "type": c.ipam_type,
                        "dataDir": c.data_dir,
                        "ranges": ranges,
                        "routes": routes
                    }
                },
                {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}
            ]
        });
        // The text above is always a valid list; a default never happens.
        NetworkConfigList::from_bytes(text.to_string().as_bytes()).unwrap_or_default()
    }

    /// Writes the conflist to `<conf_dir>/10-<network>.conflist`.
    pub fn write_conflist(&self, pod_cidrs: &[String]) -> Result<PathBuf, HostGwError> {
        let path = self.config.conf_dir.join(format!("10-{}.conflist", self.config.network_name));
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&self.config.conf_dir)?;
            let text = serde_json::to_vec_pretty(&self.conflist(pod_cidrs)).map_err(std::io::Error::other)?;
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, text)?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|source| HostGwError::Write { path: path.clone(), source })?;
        Ok(path)
    }

    /// The routes this node should have: every other node's podCIDRs, each
    /// via its InternalIP of the same family.
    pub fn desired_routes(&self, nodes: &[Arc<Node>]) -> BTreeMap<String, String> {
        nodes
            .iter()
            .filter(|n| n.metadata.name != self.config.node_name)
            .flat_map(|n| {
                pod_cidrs(n)
                    .into_iter()
                    .filter_map(|cidr| Some((internal_ip_for(n, &cidr)?, cidr)))
                    .map(|(ip, cidr)| (cidr, ip))
            })
            .collect()
    }

    /// Installs `desired` (replacing changed routes) and removes k's routes
    /// that are not in it. A prefix already routed by someone else (another
    /// route protocol) is left alone and reported. Returns how many routes
    /// were added or changed and how many removed.
    pub fn apply_routes(&self, desired: &BTreeMap<String, String>) -> Result<(usize, usize), HostGwError> {
        let ns = &self.config.netns;
        let proto = self.config.route_protocol;
        let ours: BTreeMap<String, Option<String>> =
            iproute::routes(ns, Some(proto))?.into_iter().map(|r| (r.dst, r.via)).collect();
        let foreign: Vec<String> =
            iproute::routes(ns, None)?.into_iter().filter(|r| !ours.contains_key(&r.dst)).map(|r| r.dst).collect();
        let mut changed = 0;
        for (dst, via) in desired {
            if foreign.contains(dst) {
                tracing::warn!(node = %self.config.node_name, %dst, "a route to this pod range exists already and is not k's: left alone");
                continue;
            }
            if ours.get(dst).and_then(|v| v.as_deref()) != Some(via.as_str()) {
                iproute::route_replace(ns, dst, via, Some(proto))?;
                changed += 1;
            }
        }
        let mut removed = 0;
        for dst in ours.keys().filter(|d| !desired.contains_key(*d)) {
            iproute::route_del_proto(ns, dst, proto)?;
            removed += 1;
        }
        Ok((changed, removed))
    }

    /// Prepares the node namespace: IP forwarding on.
    pub fn prepare(&self) -> Result<(), HostGwError> {
        iproute::ip_forward(&self.config.netns)?;
        Ok(())
    }

    /// The controller: watches Nodes through `api`; writes the conflist
    /// when this node has a podCIDR, and keeps the routes to the others,
    /// reconciling on every Node change and every `resync` (failures are
    /// logged and retried). Publishes each reconciled route table on
    /// `routes` (for tests and status). Runs until `shutdown` resolves.
    pub async fn run(
        self,
        api: Arc<dyn ObjectApi>,
        routes: tokio::sync::watch::Sender<BTreeMap<String, String>>,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), HostGwError> {
        self.prepare()?;
        let factory = InformerFactory::new(api, Config::default());
        let informer = factory.informer::<Node>(None, None, None);
        let mut changes = Box::pin(informer.subscribe());
        let store = informer.store();
        tokio::pin!(shutdown);
        tokio::select! {
            () = &mut shutdown => {
                factory.shutdown();
                return Ok(());
            }
            () = store.wait_until_synced() => {}
        }
        let mut written: Option<Vec<String>> = None;
        let mut tick = tokio::time::interval(self.config.resync);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let nodes = store.state();
            if let Some(own) = nodes.iter().find(|n| n.metadata.name == self.config.node_name) {
                let cidrs = pod_cidrs(own);
                if !cidrs.is_empty() && written.as_ref() != Some(&cidrs) {
                    match self.write_conflist(&cidrs) {
                        Ok(_) => written = Some(cidrs),
                        Err(e) => tracing::warn!(node = %self.config.node_name, error = %e, "host-gw conflist"),
                    }
                }
            }
            let desired = self.desired_routes(&nodes);
            match self.apply_routes(&desired) {
                Ok(_) => {
                    routes.send_replace(desired);
                }
                Err(e) => tracing::warn!(node = %self.config.node_name, error = %e, "host-gw routes"),
            }
            tokio::select! {
                () = &mut shutdown => break,
                _ = tick.tick() => {}
                change = changes.next() => if change.is_none() { break },
            }
            // Take every change that is already queued before reconciling.
            while let Some(Some(_)) = changes.next().now_or_never() {}
        }
        factory.shutdown();
        Ok(())
    }
}
