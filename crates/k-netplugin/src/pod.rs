//! A pod's network: its own network namespace, loopback, and the node's
//! network attached through the [`Executor`], as a container runtime does
//! for a pod sandbox.
//!
//! [`PodNetwork::setup`] creates `/run/netns/<name>`, runs the loopback
//! network (the reference `loopback` plugin, interface `lo`) and the node's
//! network (interface `eth0`) with the `CNI_ARGS` containerd passes
//! (`IgnoreUnknown=1;K8S_POD_NAMESPACE=…;K8S_POD_NAME=…;
//! K8S_POD_INFRA_CONTAINER_ID=…;K8S_POD_UID=…`), and reports `eth0`'s
//! addresses. A failed setup is undone (DEL, namespace removed).
//! [`PodNetwork::teardown`] DELs both and removes the namespace; both are
//! idempotent.

use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::exec::{ExecError, Executor, RuntimeConf};
use crate::netns::NetNs;
use crate::types::{CniResult, NetworkConfigList};

/// Which pod a sandbox is for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodSandbox {
    /// The sandbox's id (`CNI_CONTAINERID`).
    pub id: String,
    /// The network namespace's name under `/run/netns`.
    pub netns_name: String,
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub name: String,
    /// The pod's uid.
    pub uid: String,
    /// Capability arguments for the plugins (`portMappings`, `bandwidth`, …).
    pub capability_args: Map<String, Value>,
}

impl PodSandbox {
    fn args(&self) -> Vec<(String, String)> {
        vec![
            ("IgnoreUnknown".into(), "1".into()),
            ("K8S_POD_NAMESPACE".into(), self.namespace.clone()),
            ("K8S_POD_NAME".into(), self.name.clone()),
            ("K8S_POD_INFRA_CONTAINER_ID".into(), self.id.clone()),
            ("K8S_POD_UID".into(), self.uid.clone()),
        ]
    }

    fn runtime_conf(&self, netns: &NetNs, ifname: &str, capabilities: bool) -> RuntimeConf {
        RuntimeConf {
            container_id: self.id.clone(),
            netns: Some(netns.path()),
            ifname: ifname.into(),
            args: self.args(),
            capability_args: if capabilities { self.capability_args.clone() } else { Map::new() },
        }
    }
}

/// A pod network that is set up.
#[derive(Clone, Debug)]
pub struct PodAttachment {
    /// The pod's namespace.
    pub netns: NetNs,
    /// `eth0`'s addresses, IPv4 first.
    pub ips: Vec<IpAddr>,
    /// The node network's result.
    pub result: CniResult,
}

/// A pod network failed.
#[derive(Debug, thiserror::Error)]
pub enum PodNetworkError {
    /// Creating or removing the namespace failed.
    #[error("network namespace {name}: {source}")]
    Netns {
        /// Its name.
        name: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A plugin failed.
    #[error("network {network}: {source}")]
    Plugin {
        /// The network's name.
        network: String,
        /// The error.
        #[source]
        source: ExecError,
    },
}

/// Sets up and tears down pod networks: loopback plus one node network.
#[derive(Clone, Debug)]
pub struct PodNetwork {
    executor: Executor,
    loopback: NetworkConfigList,
    network: NetworkConfigList,
}

/// The loopback network every pod gets.
pub fn loopback_network() -> NetworkConfigList {
    NetworkConfigList::from_bytes(
        br#"{"cniVersion": "1.0.0", "name": "cni-loopback", "plugins": [{"type": "loopback"}]}"#,
    )
    .unwrap_or_default()
}

impl PodNetwork {
    /// Pods attached to `network` (and loopback) through `executor`.
    pub fn new(executor: Executor, network: NetworkConfigList) -> Self {
        PodNetwork { executor, loopback: loopback_network(), network }
    }

    /// The node network.
    pub fn network(&self) -> &NetworkConfigList {
        &self.network
    }

    /// The executor.
    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    /// Creates the pod's namespace (or uses the one that exists) and
    /// attaches it. A failure is undone: DEL on both networks, and the
    /// namespace removed if this call created it.
    pub async fn setup(&self, pod: &PodSandbox) -> Result<PodAttachment, PodNetworkError> {
        let ns_error = |source| PodNetworkError::Netns { name: pod.netns_name.clone(), source };
        let (netns, created) = match NetNs::open(&pod.netns_name) {
            Ok(ns) => (ns, false),
            Err(_) => (NetNs::create(&pod.netns_name).map_err(ns_error)?, true),
        };
        match self.attach(pod, &netns).await {
            Ok(attachment) => Ok(attachment),
            Err(e) => {
                // Best effort: the error to report is the setup's.
                let released = self.detach(pod, Some(&netns)).await.is_none();
                if created && released {
                    let _ = netns.delete();
                }
                Err(e)
            }
        }
    }

    async fn attach(&self, pod: &PodSandbox, netns: &NetNs) -> Result<PodAttachment, PodNetworkError> {
        let plugin_error = |list: &NetworkConfigList| {
            let network = list.name.clone();
            move |source| PodNetworkError::Plugin { network, source }
        };
        self.executor
            .add(&self.loopback, &pod.runtime_conf(netns, "lo", false))
            .await
            .map_err(plugin_error(&self.loopback))?;
        let result = self
            .executor
            .add(&self.network, &pod.runtime_conf(netns, "eth0", true))
            .await
            .map_err(plugin_error(&self.network))?;
        let mut ips: Vec<IpAddr> = result
            .ips
            .iter()
            .filter(|ip| ip.interface.is_none_or(|i| result.interfaces.get(i).is_none_or(|itf| itf.name == "eth0")))
            .filter_map(|ip| ip.address.split('/').next()?.parse().ok())
            .collect();
        ips.sort_by_key(|ip| ip.is_ipv6());
        Ok(PodAttachment { netns: netns.clone(), ips, result })
    }

    /// CHECK on both networks.
    pub async fn check(&self, pod: &PodSandbox) -> Result<(), PodNetworkError> {
        let netns = NetNs::open(&pod.netns_name)
            .map_err(|source| PodNetworkError::Netns { name: pod.netns_name.clone(), source })?;
        for (list, ifname) in [(&self.loopback, "lo"), (&self.network, "eth0")] {
            self.executor
                .check(list, &pod.runtime_conf(&netns, ifname, ifname == "eth0"))
                .await
                .map_err(|source| PodNetworkError::Plugin { network: list.name.clone(), source })?;
        }
        Ok(())
    }

    /// DELs both networks (node network first), then removes the
    /// namespace. Repeating it, or running it after a failed setup, is fine.
    /// When a DEL fails the namespace is kept, so a retry can still clean up
    /// inside it (as containerd does).
    pub async fn teardown(&self, pod: &PodSandbox) -> Result<(), PodNetworkError> {
        let netns = NetNs::open(&pod.netns_name).ok();
        if let Some(error) = self.detach(pod, netns.as_ref()).await {
            return Err(error);
        }
        match netns.map(|ns| ns.delete()) {
            Some(Err(source)) => Err(PodNetworkError::Netns { name: pod.netns_name.clone(), source }),
            _ => Ok(()),
        }
    }

    /// DEL on both networks; the first error, if any.
    async fn detach(&self, pod: &PodSandbox, netns: Option<&NetNs>) -> Option<PodNetworkError> {
        let conf = |ifname: &str, caps: bool| RuntimeConf {
            container_id: pod.id.clone(),
            netns: netns.map(NetNs::path),
            ifname: ifname.into(),
            args: pod.args(),
            capability_args: if caps { pod.capability_args.clone() } else { Map::new() },
        };
        let mut first_error = None;
        for (list, ifname) in [(&self.network, "eth0"), (&self.loopback, "lo")] {
            if let Err(source) = self.executor.del(list, &conf(ifname, ifname == "eth0")).await {
                first_error.get_or_insert(PodNetworkError::Plugin { network: list.name.clone(), source });
            }
        }
        first_error
    }
}
