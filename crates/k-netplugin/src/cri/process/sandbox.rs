//! Pod sandboxes: a network namespace and a holder process.
//!
//! The network namespace is `/run/netns/<prefix><first 12 hex digits of
//! the id>`, set up by [`PodNetwork::setup`] (loopback plus the node's
//! network) when the runtime has a network, or made with `lo` up and
//! nothing else when it has none; a `hostNetwork` sandbox has none of its
//! own. The holder, started from a thread inside that namespace (children
//! inherit the thread's network namespace), is
//! `unshare --uts --ipc -- sh -c '<set the hostname>; echo ready; exec sleep infinity'`:
//! it owns the pod's UTS and IPC namespaces, and its pid is what the
//! containers' `nsenter --target` joins.

use std::io;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use super::container::Binaries;
use crate::cri::{CriError, CriResult, PodSandboxConfig, PodSandboxNetworkStatus};
use crate::netns::NetNs;
use crate::pod::{PodNetwork, PodSandbox};

/// How long the holder may take to say it is ready.
const HOLDER_START: Duration = Duration::from_secs(10);

/// A sandbox's network.
#[derive(Clone, Debug)]
pub(crate) enum SandboxNet {
    /// The host's network namespace (`hostNetwork`).
    Host,
    /// A namespace of its own with loopback only.
    Loopback(NetNs),
    /// A namespace attached through CNI.
    Cni(NetNs, PodSandbox),
}

impl SandboxNet {
    /// The namespace, unless host network.
    pub(crate) fn netns(&self) -> Option<&NetNs> {
        match self {
            SandboxNet::Host => None,
            SandboxNet::Loopback(ns) | SandboxNet::Cni(ns, _) => Some(ns),
        }
    }
}

/// CNI's `portMappings` capability argument for the sandbox's ports.
fn port_mappings(config: &PodSandboxConfig) -> Option<Value> {
    let ports: Vec<Value> = config
        .port_mappings
        .iter()
        .filter(|p| p.host_port > 0)
        .map(|p| {
            let protocol = if p.protocol.is_empty() { "tcp".to_string() } else { p.protocol.to_lowercase() };
            json!({"hostPort": p.host_port, "containerPort": p.container_port, "protocol": protocol, "hostIP": p.host_ip})
        })
        .collect();
    if ports.is_empty() { None } else { Some(Value::Array(ports)) }
}

/// Sets up the sandbox's network; returns it and its addresses.
pub(crate) async fn setup_network(
    network: Option<&PodNetwork>,
    id: &str,
    netns_name: &str,
    config: &PodSandboxConfig,
) -> CriResult<(SandboxNet, Option<PodSandboxNetworkStatus>)> {
    if config.host_network {
        return Ok((SandboxNet::Host, None));
    }
    let Some(network) = network else {
        let name = netns_name.to_string();
        let ns = tokio::task::spawn_blocking(move || -> io::Result<NetNs> {
            let ns = NetNs::create(&name)?;
            if let Err(e) = crate::iproute::link_up(&ns, "lo") {
                let _ = ns.delete();
                return Err(io::Error::other(format!("setting lo up in {name}: {e}")));
            }
            Ok(ns)
        })
        .await
        .map_err(|e| CriError::Internal(format!("creating the network namespace: {e}")))?
        .map_err(|e| CriError::Internal(format!("creating the network namespace {netns_name}: {e}")))?;
        return Ok((SandboxNet::Loopback(ns), None));
    };
    let mut pod = PodSandbox {
        id: id.to_string(),
        netns_name: netns_name.to_string(),
        namespace: config.metadata.namespace.clone(),
        name: config.metadata.name.clone(),
        uid: config.metadata.uid.clone(),
        ..PodSandbox::default()
    };
    if let Some(ports) = port_mappings(config) {
        pod.capability_args.insert("portMappings".into(), ports);
    }
    let attached = network
        .setup(&pod)
        .await
        .map_err(|e| CriError::Unavailable(format!("setting up the pod network of sandbox {id}: {e}")))?;
    let mut ips = attached.ips.iter().map(|ip| ip.to_string());
    let status = PodSandboxNetworkStatus { ip: ips.next().unwrap_or_default(), additional_ips: ips.collect() };
    Ok((SandboxNet::Cni(attached.netns, pod), Some(status)))
}

/// Undoes [`setup_network`]; repeating it is fine.
pub(crate) async fn teardown_network(network: Option<&PodNetwork>, net: &SandboxNet) -> CriResult<()> {
    match net {
        SandboxNet::Host => Ok(()),
        SandboxNet::Loopback(ns) => {
            let ns = ns.clone();
            let name = ns.name().to_string();
            tokio::task::spawn_blocking(move || ns.delete())
                .await
                .map_err(|e| CriError::Internal(format!("deleting the network namespace {name}: {e}")))?
                .map_err(|e| CriError::Internal(format!("deleting the network namespace {name}: {e}")))
        }
        SandboxNet::Cni(ns, pod) => match network {
            Some(network) => network
                .teardown(pod)
                .await
                .map_err(|e| CriError::Internal(format!("tearing down the pod network of sandbox {}: {e}", pod.id))),
            // The runtime lost its network meanwhile (cannot happen: the
            // configuration is fixed); at least drop the namespace.
            None => ns.delete().map_err(|e| CriError::Internal(e.to_string())),
        },
    }
}

/// The `resolv.conf` for a sandbox's DNS settings.
pub(crate) fn resolv_conf(dns: &crate::cri::DnsConfig) -> String {
    let mut text = String::new();
    if !dns.searches.is_empty() {
        text.push_str(&format!("search {}\n", dns.searches.join(" ")));
    }
    for server in &dns.servers {
        text.push_str(&format!("nameserver {server}\n"));
    }
    if !dns.options.is_empty() {
        text.push_str(&format!("options {}\n", dns.options.join(" ")));
    }
    text
}

/// Starts the holder inside `net`'s namespace, with `hostname`; returns
/// once it has set the hostname.
pub(crate) async fn spawn_holder(
    bins: &Binaries,
    net: &SandboxNet,
    hostname: &str,
) -> CriResult<(tokio::process::Child, i32)> {
    const SCRIPT: &str =
        r#"if [ -n "$1" ]; then echo "$1" > /proc/sys/kernel/hostname || exit 1; fi; echo ready; exec "$2" infinity"#;
    let mut cmd = tokio::process::Command::new(&bins.unshare);
    cmd.args(["--uts", "--ipc", "--"]).arg(&bins.sh).args(["-c", SCRIPT, "k-holder", hostname]).arg(&bins.sleep);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let spawn_error = |e: io::Error| CriError::Internal(format!("starting the sandbox holder process: {e}"));
    let mut child = match net.netns() {
        None => cmd.spawn().map_err(spawn_error)?,
        Some(ns) => {
            // The child inherits the spawning thread's namespace; the
            // runtime's handle lets tokio reap it later.
            let handle = tokio::runtime::Handle::current();
            ns.run(move || {
                let _entered = handle.enter();
                cmd.spawn()
            })
            .and_then(|spawned| spawned)
            .map_err(spawn_error)?
        }
    };
    let pid =
        child.id().and_then(|p| i32::try_from(p).ok()).ok_or_else(|| CriError::Internal("holder has no pid".into()))?;
    let mut stdout = BufReader::new(child.stdout.take().ok_or_else(|| CriError::Internal("holder stdout".into()))?);
    let mut line = String::new();
    let ready = tokio::time::timeout(HOLDER_START, stdout.read_line(&mut line)).await;
    if !matches!(ready, Ok(Ok(_))) || line.trim() != "ready" {
        let _ = child.start_kill();
        let mut stderr = String::new();
        if let Some(mut err) = child.stderr.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), err.read_to_string(&mut stderr)).await;
        }
        let status = child.wait().await.map(|s| s.to_string()).unwrap_or_default();
        return Err(CriError::Internal(format!(
            "the sandbox holder process did not start ({status}): {}",
            stderr.trim()
        )));
    }
    Ok((child, pid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cri::{DnsConfig, PortMapping};

    #[test]
    fn resolv_conf_and_ports() {
        let dns = DnsConfig {
            servers: vec!["10.96.0.10".into()],
            searches: vec!["default.svc.cluster.local".into(), "svc.cluster.local".into()],
            options: vec!["ndots:5".into()],
        };
        assert_eq!(
            resolv_conf(&dns),
            "search default.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"
        );
        let mut config = PodSandboxConfig::default();
        assert_eq!(port_mappings(&config), None);
        config.port_mappings = vec![
            PortMapping { protocol: "TCP".into(), container_port: 80, host_port: 8080, host_ip: String::new() },
            PortMapping { protocol: "UDP".into(), container_port: 53, host_port: 0, host_ip: String::new() },
        ];
        assert_eq!(
            port_mappings(&config),
            Some(json!([{"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": ""}]))
        );
    }
}
