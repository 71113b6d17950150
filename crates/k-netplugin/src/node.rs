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

fn pod_cidr(node: &Node) -> Option<String> {
    let spec = &node.spec;
    spec.pod_cidr.clone().filter(|c| !c.is_empty()).or_else(|| spec.pod_cidrs.first().cloned())
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

    /// The conflist for a node whose pod range is `pod_cidr`.
    pub fn conflist(&self, pod_cidr: &str) -> NetworkConfigList {
        let c = &self.config;
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
                        "ranges": [[{"subnet": pod_cidr}]],
                        "routes": [{"dst": "0.0.0.0/0"}]
                    }
                },
                {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}
            ]
        });
        // The text above is always a valid list; a default never happens.
        NetworkConfigList::from_bytes(text.to_string().as_bytes()).unwrap_or_default()
    }

    /// Writes the conflist to `<conf_dir>/10-<network>.conflist`.
    pub fn write_conflist(&self, pod_cidr: &str) -> Result<PathBuf, HostGwError> {
        let path = self.config.conf_dir.join(format!("10-{}.conflist", self.config.network_name));
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&self.config.conf_dir)?;
            let text = serde_json::to_vec_pretty(&self.conflist(pod_cidr)).map_err(std::io::Error::other)?;
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, text)?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|source| HostGwError::Write { path: path.clone(), source })?;
        Ok(path)
    }

    /// The routes this node should have: every other node's podCIDR via
    /// its InternalIP.
    pub fn desired_routes(&self, nodes: &[Arc<Node>]) -> BTreeMap<String, String> {
        nodes
            .iter()
            .filter(|n| n.metadata.name != self.config.node_name)
            .filter_map(|n| Some((pod_cidr(n)?, node_internal_ip(n)?)))
            .collect()
    }

    /// Installs `desired` (replacing changed routes) and removes k's routes
    /// that are not in it. Returns how many routes were added or changed
    /// and how many removed.
    pub fn apply_routes(&self, desired: &BTreeMap<String, String>) -> Result<(usize, usize), HostGwError> {
        let ns = &self.config.netns;
        let proto = self.config.route_protocol;
        let current: BTreeMap<String, Option<String>> =
            iproute::routes(ns, Some(proto))?.into_iter().map(|r| (r.dst, r.via)).collect();
        let mut changed = 0;
        for (dst, via) in desired {
            if current.get(dst).and_then(|v| v.as_deref()) != Some(via.as_str()) {
                iproute::route_replace(ns, dst, via, Some(proto))?;
                changed += 1;
            }
        }
        let mut removed = 0;
        for dst in current.keys().filter(|d| !desired.contains_key(*d)) {
            iproute::route_del(ns, dst)?;
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
    /// when this node has a podCIDR, and keeps the routes to the others.
    /// Publishes each reconciled route table on `routes` (for tests and
    /// status). Runs until `shutdown` resolves.
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
        let mut written: Option<String> = None;
        store.wait_until_synced().await;
        loop {
            let nodes = store.state();
            if let Some(own) = nodes.iter().find(|n| n.metadata.name == self.config.node_name)
                && let Some(cidr) = pod_cidr(own)
                && written.as_deref() != Some(cidr.as_str())
            {
                self.write_conflist(&cidr)?;
                written = Some(cidr);
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
                change = changes.next() => if change.is_none() { break },
            }
            // Take every change that is already queued before reconciling.
            while let Some(Some(_)) = changes.next().now_or_never() {}
        }
        factory.shutdown();
        Ok(())
    }
}
