//! What the service proxy programs, independent of how: every service port
//! with its virtual addresses and its endpoints, built from Services and
//! EndpointSlices (or Endpoints), and what changed since the last sync.
//!
//! Both proxiers ([`super::userspace`] and [`super::iptables`]) read only
//! this model.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// kube-proxy's default ClientIP affinity timeout: 10,800 s (3 hours).
pub const DEFAULT_AFFINITY_TIMEOUT: Duration = Duration::from_secs(10_800);

/// L4 protocol of a service port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP (the default).
    Tcp,
    /// UDP.
    Udp,
    /// SCTP (rendered by the iptables proxier; the userspace one skips it).
    Sctp,
}

impl Protocol {
    /// From the API's `TCP`/`UDP`/`SCTP` (absent: TCP).
    pub fn from_api(value: Option<&str>) -> Option<Protocol> {
        match value.unwrap_or("TCP") {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// Lower case, as iptables and chain hashes spell it: `tcp`.
    pub fn lower(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// One port of one service: `<namespace>/<name>:<port name>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServicePortName {
    /// The service's namespace.
    pub namespace: String,
    /// The service's name.
    pub name: String,
    /// The port's name (empty for a single unnamed port).
    pub port: String,
    /// The port's protocol.
    pub protocol: Protocol,
}

impl fmt::Display for ServicePortName {
    /// `ns/name:port`, or `ns/name` without a port name (kube-proxy's form).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.port.is_empty() {
            write!(f, "{}/{}", self.namespace, self.name)
        } else {
            write!(f, "{}/{}:{}", self.namespace, self.name, self.port)
        }
    }
}

/// Session affinity of a service port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Affinity {
    /// None: every connection balanced on its own.
    #[default]
    None,
    /// ClientIP: a client keeps its endpoint for `timeout` after its last use.
    ClientIp {
        /// How long an idle client keeps its endpoint.
        timeout: Duration,
    },
}

/// One backend address of a service port.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    /// The pod's address.
    pub ip: IpAddr,
    /// The target port, resolved for this endpoint.
    pub port: u16,
    /// Ready for traffic. Only ready endpoints get traffic.
    pub ready: bool,
    /// The node the endpoint runs on, when known.
    pub node_name: Option<String>,
}

impl Endpoint {
    /// `ip:port` (`[ip]:port` for IPv6).
    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::new(self.ip, self.port)
    }
}

/// What the proxy knows of one service port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePort {
    /// Its name.
    pub name: ServicePortName,
    /// The cluster IP (`None` for headless services, which are not proxied).
    pub cluster_ip: Option<IpAddr>,
    /// The service port number.
    pub port: u16,
    /// The node port, for NodePort and LoadBalancer services.
    pub node_port: Option<u16>,
    /// `spec.externalIPs`.
    pub external_ips: Vec<IpAddr>,
    /// Session affinity.
    pub affinity: Affinity,
    /// The endpoints, sorted by address; may hold not-ready ones.
    pub endpoints: Vec<Endpoint>,
}

impl ServicePort {
    /// The endpoints that get traffic, in order.
    pub fn ready_endpoints(&self) -> impl Iterator<Item = &Endpoint> {
        self.endpoints.iter().filter(|e| e.ready)
    }
}

/// Everything the proxy programs, keyed (and so sorted) by port name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyState {
    /// Every proxied service port.
    pub services: BTreeMap<ServicePortName, ServicePort>,
}

/// What changed between two states; a full sync is asked for by
/// [`ChangeSet::full`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeSet {
    /// Rewrite everything regardless of what changed.
    pub full: bool,
    /// Ports added, changed (service or endpoints) or removed.
    pub changed: BTreeSet<ServicePortName>,
}

impl ChangeSet {
    /// The changes from `old` to `new`.
    pub fn between(old: &ProxyState, new: &ProxyState) -> ChangeSet {
        let mut changed = BTreeSet::new();
        for (name, port) in &new.services {
            if old.services.get(name) != Some(port) {
                changed.insert(name.clone());
            }
        }
        for name in old.services.keys() {
            if !new.services.contains_key(name) {
                changed.insert(name.clone());
            }
        }
        ChangeSet { full: false, changed }
    }

    /// A change set that asks for a full rewrite.
    pub fn full() -> ChangeSet {
        ChangeSet { full: true, changed: BTreeSet::new() }
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        !self.full && self.changed.is_empty()
    }
}
