//! Pure rendering: a [`ServicePort`] in, its iptables rules out, as the text
//! `iptables-restore` reads (`-A CHAIN …` lines).
//!
//! Each port renders on its own ([`render_port`]): the nat chains it owns
//! (`KUBE-SVC-…`, `KUBE-EXT-…`, one `KUBE-SEP-…` per ready endpoint) and the
//! lines it adds to the shared chains (nat `KUBE-SERVICES` and
//! `KUBE-NODEPORTS`, filter `KUBE-SERVICES` and `KUBE-EXTERNAL-SERVICES`).
//! [`render_shared`] assembles the shared chains from the ports, sorted by
//! port name, plus the fixed ones (`KUBE-MARK-MASQ`, `KUBE-POSTROUTING`,
//! `KUBE-FORWARD`). The rule shapes are those of kube-proxy's iptables mode
//! (its current golden tests), without what this model does not carry
//! (traffic policies, load-balancer addresses, health-check node ports).
//!
//! This is the IPv4 (`iptables`) renderer: ports whose cluster IP is IPv6 or
//! absent (headless services) are not rendered, and IPv6 endpoints and
//! external IPs are left out.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use super::chains::{
    KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_MARK_MASQ, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_SERVICES,
    endpoint_chain, external_chain, service_chain,
};
use crate::proxy::model::{Affinity, Endpoint, ServicePort};

/// kube-proxy's default masquerade mark: bit 14.
pub const DEFAULT_MASQUERADE_MARK: u32 = 0x4000;

/// Settings that shape the rules (kube-proxy's flags of the same names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderOptions {
    /// `--cluster-cidr`: traffic to a cluster IP from outside it is
    /// masqueraded (`! -s <cidr> -j KUBE-MARK-MASQ`). `None`: no such rule.
    pub cluster_cidr: Option<String>,
    /// `--masquerade-all`: masquerade all traffic to cluster IPs.
    pub masquerade_all: bool,
    /// The packet mark meaning "masquerade me" (`1 << --iptables-masquerade-bit`),
    /// 0x4000 by default.
    pub masquerade_mark: u32,
    /// `--nodeport-addresses`, resolved to addresses: node ports answer only
    /// on these. Empty: on every local address (`-m addrtype --dst-type LOCAL`).
    pub node_port_addresses: Vec<IpAddr>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            cluster_cidr: None,
            masquerade_all: false,
            masquerade_mark: DEFAULT_MASQUERADE_MARK,
            node_port_addresses: Vec::new(),
        }
    }
}

impl RenderOptions {
    /// With `--cluster-cidr`.
    pub fn with_cluster_cidr(mut self, cidr: impl Into<String>) -> Self {
        self.cluster_cidr = Some(cidr.into());
        self
    }

    /// With the mark `1 << bit` (`--iptables-masquerade-bit`, 0–31).
    pub fn with_masquerade_bit(mut self, bit: u8) -> Self {
        self.masquerade_mark = 1u32 << (bit & 31);
        self
    }

    /// The mark as iptables prints it: `0x4000`.
    pub fn mark(&self) -> String {
        format!("{:#x}", self.masquerade_mark)
    }
}

/// One chain's rules: its name and its `-A <name> …` lines, each ending in a
/// newline (empty for an empty chain).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    /// The chain's name.
    pub name: String,
    /// Its rules, `-A` lines, newline-terminated.
    pub rules: String,
}

impl Chain {
    fn new(name: impl Into<String>) -> Chain {
        Chain { name: name.into(), rules: String::new() }
    }

    /// Appends one rule: `-A <name> <args>`.
    fn add(&mut self, args: std::fmt::Arguments<'_>) {
        let _ = writeln!(self.rules, "-A {} {}", self.name, args);
    }
}

/// Everything one service port contributes, rendered.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PortRules {
    /// nat chains owned by the port, in order: `KUBE-SVC-`, `KUBE-EXT-`
    /// (when it has a node port or external IPs), then the `KUBE-SEP-`s by
    /// endpoint address. Empty without ready endpoints.
    pub nat_chains: Vec<Chain>,
    /// Its lines in nat `KUBE-SERVICES` (cluster IP, external IPs).
    pub nat_services: String,
    /// Its lines in nat `KUBE-NODEPORTS`.
    pub nat_nodeports: String,
    /// Its lines in filter `KUBE-SERVICES` (REJECT without endpoints).
    pub filter_services: String,
    /// Its lines in filter `KUBE-EXTERNAL-SERVICES` (REJECT for external IPs
    /// and the node port without endpoints).
    pub filter_external: String,
}

/// The chains shared by all ports, assembled by [`render_shared`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedRules {
    /// nat: `KUBE-SERVICES`, `KUBE-NODEPORTS`, `KUBE-MARK-MASQ`, `KUBE-POSTROUTING`.
    pub nat: Vec<Chain>,
    /// filter: `KUBE-SERVICES`, `KUBE-EXTERNAL-SERVICES`, `KUBE-FORWARD`.
    pub filter: Vec<Chain>,
}

impl SharedRules {
    /// The nat chain named `name`.
    pub fn nat_chain(&self, name: &str) -> Option<&Chain> {
        self.nat.iter().find(|c| c.name == name)
    }

    /// The filter chain named `name`.
    pub fn filter_chain(&self, name: &str) -> Option<&Chain> {
        self.filter.iter().find(|c| c.name == name)
    }
}

/// `--comment` argument: quoted when it holds a space (as kube-proxy writes
/// it; iptables-restore splits on unquoted spaces).
fn comment(text: &str) -> String {
    if text.contains(' ') { format!("\"{text}\"") } else { text.to_string() }
}

/// The probability of the `i`-th of `n` balancing rules: `1/(n−i)`, printed
/// with 10 decimals as kube-proxy does (`%0.10f`).
pub fn probability(n: usize, i: usize) -> String {
    format!("{:.10}", 1.0 / (n - i) as f64)
}

/// Whether `port` is rendered: it has an IPv4 cluster IP.
pub fn is_rendered(port: &ServicePort) -> bool {
    matches!(port.cluster_ip, Some(IpAddr::V4(_)))
}

/// The endpoints that get rules: ready, IPv4, sorted by address, duplicates
/// (the same `ip:port` twice, e.g. from two slices) once.
pub fn rendered_endpoints(port: &ServicePort) -> Vec<&Endpoint> {
    let mut eps: Vec<&Endpoint> = port.ready_endpoints().filter(|e| e.ip.is_ipv4()).collect();
    eps.sort_by_key(|e| e.addr());
    eps.dedup_by_key(|e| e.addr());
    eps
}

fn v4(ip: &IpAddr) -> Option<Ipv4Addr> {
    match ip {
        IpAddr::V4(v) => Some(*v),
        IpAddr::V6(_) => None,
    }
}

/// Renders one service port; `None` when it is not rendered (see
/// [`is_rendered`]).
pub fn render_port(port: &ServicePort, opts: &RenderOptions) -> Option<PortRules> {
    let cluster_ip = port.cluster_ip.as_ref().and_then(v4)?;
    let spn = port.name.to_string();
    let proto = port.name.protocol.lower();
    let endpoints = rendered_endpoints(port);
    let external_ips: Vec<Ipv4Addr> = port.external_ips.iter().filter_map(v4).collect();
    let svc_chain = service_chain(&port.name);
    let ext_chain = external_chain(&port.name);
    let mut out = PortRules::default();

    if endpoints.is_empty() {
        // No nat chains at all: the filter table rejects the port's
        // addresses, so clients get "connection refused" at once.
        let why = comment(&format!("{spn} has no endpoints"));
        let mut services = Chain::new(KUBE_SERVICES);
        services.add(format_args!(
            "-m comment --comment {why} -m {proto} -p {proto} -d {cluster_ip} --dport {} -j REJECT",
            port.port
        ));
        out.filter_services = services.rules;
        let mut external = Chain::new(KUBE_EXTERNAL_SERVICES);
        for ip in &external_ips {
            external.add(format_args!(
                "-m comment --comment {why} -m {proto} -p {proto} -d {ip} --dport {} -j REJECT",
                port.port
            ));
        }
        if let Some(node_port) = port.node_port {
            external.add(format_args!(
                "-m comment --comment {why} -m addrtype --dst-type LOCAL -m {proto} -p {proto} --dport {node_port} -j REJECT"
            ));
        }
        out.filter_external = external.rules;
        return Some(out);
    }

    let externally_accessible = port.node_port.is_some() || !external_ips.is_empty();

    // Entry rules in the shared chains.
    let mut services = Chain::new(KUBE_SERVICES);
    let cluster_comment = comment(&format!("{spn} cluster IP"));
    services.add(format_args!(
        "-m comment --comment {cluster_comment} -m {proto} -p {proto} -d {cluster_ip} --dport {} -j {svc_chain}",
        port.port
    ));
    let external_comment = comment(&format!("{spn} external IP"));
    for ip in &external_ips {
        services.add(format_args!(
            "-m comment --comment {external_comment} -m {proto} -p {proto} -d {ip} --dport {} -j {ext_chain}",
            port.port
        ));
    }
    out.nat_services = services.rules;
    if let Some(node_port) = port.node_port {
        let mut nodeports = Chain::new(KUBE_NODEPORTS);
        nodeports.add(format_args!(
            "-m comment --comment {} -m {proto} -p {proto} --dport {node_port} -j {ext_chain}",
            comment(&spn)
        ));
        out.nat_nodeports = nodeports.rules;
    }

    // KUBE-SVC-…: masquerade off-cluster sources, stick, balance.
    let sep_chains: Vec<String> = endpoints.iter().map(|e| endpoint_chain(&port.name, e)).collect();
    let mut svc = Chain::new(svc_chain.clone());
    let cluster_match =
        format!("-m comment --comment {cluster_comment} -m {proto} -p {proto} -d {cluster_ip} --dport {}", port.port);
    if opts.masquerade_all {
        svc.add(format_args!("{cluster_match} -j {KUBE_MARK_MASQ}"));
    } else if let Some(cidr) = &opts.cluster_cidr {
        svc.add(format_args!("{cluster_match} ! -s {cidr} -j {KUBE_MARK_MASQ}"));
    }
    if let Affinity::ClientIp { timeout } = port.affinity {
        for (ep, sep) in endpoints.iter().zip(&sep_chains) {
            svc.add(format_args!(
                "-m comment --comment {} -m recent --name {sep} --rcheck --seconds {} --reap -j {sep}",
                comment(&format!("{spn} -> {}", ep.addr())),
                timeout.as_secs()
            ));
        }
    }
    let n = endpoints.len();
    for (i, (ep, sep)) in endpoints.iter().zip(&sep_chains).enumerate() {
        let to = comment(&format!("{spn} -> {}", ep.addr()));
        if i + 1 < n {
            svc.add(format_args!(
                "-m comment --comment {to} -m statistic --mode random --probability {} -j {sep}",
                probability(n, i)
            ));
        } else {
            svc.add(format_args!("-m comment --comment {to} -j {sep}"));
        }
    }
    out.nat_chains.push(svc);

    // KUBE-EXT-…: node-port and external-IP traffic is always masqueraded
    // (Cluster traffic policy), then balanced like cluster-IP traffic.
    if externally_accessible {
        let mut ext = Chain::new(ext_chain.clone());
        ext.add(format_args!(
            "-m comment --comment {} -j {KUBE_MARK_MASQ}",
            comment(&format!("masquerade traffic for {spn} external destinations"))
        ));
        ext.add(format_args!("-j {svc_chain}"));
        out.nat_chains.push(ext);
    }

    // KUBE-SEP-…: hairpin masquerade, affinity record, DNAT.
    let affinity = matches!(port.affinity, Affinity::ClientIp { .. });
    for (ep, sep) in endpoints.iter().zip(sep_chains) {
        let mut chain = Chain::new(sep.clone());
        let c = comment(&spn);
        chain.add(format_args!("-m comment --comment {c} -s {} -j {KUBE_MARK_MASQ}", ep.ip));
        let recent = if affinity { format!("-m recent --name {sep} --set ") } else { String::new() };
        chain.add(format_args!(
            "-m comment --comment {c} {recent}-m {proto} -p {proto} -j DNAT --to-destination {}",
            ep.addr()
        ));
        out.nat_chains.push(chain);
    }
    Some(out)
}

/// Assembles the shared chains from the ports' lines (in the iterator's
/// order, which callers keep sorted by port name) and the fixed rules.
pub fn render_shared<'a>(ports: impl IntoIterator<Item = &'a PortRules>, opts: &RenderOptions) -> SharedRules {
    let mut nat_services = Chain::new(KUBE_SERVICES);
    let mut nat_nodeports = Chain::new(KUBE_NODEPORTS);
    let mut filter_services = Chain::new(KUBE_SERVICES);
    let mut filter_external = Chain::new(KUBE_EXTERNAL_SERVICES);
    for p in ports {
        nat_services.rules.push_str(&p.nat_services);
        nat_nodeports.rules.push_str(&p.nat_nodeports);
        filter_services.rules.push_str(&p.filter_services);
        filter_external.rules.push_str(&p.filter_external);
    }
    // Node ports last: only after every service address had its chance.
    let last = comment("kubernetes service nodeports; NOTE: this must be the last rule in this chain");
    if opts.node_port_addresses.is_empty() {
        nat_services.add(format_args!("-m comment --comment {last} -m addrtype --dst-type LOCAL -j {KUBE_NODEPORTS}"));
    } else {
        for ip in opts.node_port_addresses.iter().filter(|ip| ip.is_ipv4()) {
            nat_services.add(format_args!("-m comment --comment {last} -d {ip} -j {KUBE_NODEPORTS}"));
        }
    }

    let mark = opts.mark();
    let mut mark_masq = Chain::new(KUBE_MARK_MASQ);
    mark_masq.add(format_args!("-j MARK --or-mark {mark}"));
    let mut postrouting = Chain::new(KUBE_POSTROUTING);
    postrouting.add(format_args!("-m mark ! --mark {mark}/{mark} -j RETURN"));
    postrouting.add(format_args!("-j MARK --xor-mark {mark}"));
    postrouting.add(format_args!(
        "-m comment --comment {} -j MASQUERADE",
        comment("kubernetes service traffic requiring SNAT")
    ));

    let mut forward = Chain::new(KUBE_FORWARD);
    forward.add(format_args!("-m conntrack --ctstate INVALID -j DROP"));
    forward.add(format_args!(
        "-m comment --comment {} -m mark --mark {mark}/{mark} -j ACCEPT",
        comment("kubernetes forwarding rules")
    ));
    forward.add(format_args!(
        "-m comment --comment {} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        comment("kubernetes forwarding conntrack rule")
    ));

    SharedRules {
        nat: vec![nat_services, nat_nodeports, mark_masq, postrouting],
        filter: vec![filter_services, filter_external, forward],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_as_kube_proxy_prints_them() {
        assert_eq!(probability(3, 0), "0.3333333333");
        assert_eq!(probability(3, 1), "0.5000000000");
        assert_eq!(probability(7, 0), "0.1428571429");
        assert_eq!(probability(2, 0), "0.5000000000");
    }

    #[test]
    fn comments_are_quoted_only_with_spaces() {
        assert_eq!(comment("ns1/svc1:p80"), "ns1/svc1:p80");
        assert_eq!(comment("ns1/svc1:p80 cluster IP"), "\"ns1/svc1:p80 cluster IP\"");
    }

    #[test]
    fn masquerade_bit() {
        assert_eq!(RenderOptions::default().mark(), "0x4000");
        assert_eq!(RenderOptions::default().with_masquerade_bit(15).mark(), "0x8000");
    }
}
