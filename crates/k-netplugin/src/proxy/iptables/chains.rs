//! Chain names: the fixed chains every sync writes and the hashed per-port
//! chains, named exactly as kube-proxy names them so that tools (and people)
//! used to kube-proxy's rules recognise ours.
//!
//! A per-port chain is a prefix plus the first 16 characters of the RFC 4648
//! base32 encoding of SHA-256 over `<ns>/<name>[:<port name>]` (the
//! [`ServicePortName`]'s `Display` form, kube-proxy's `ServicePortName.String()`)
//! followed by the lower-case protocol; an endpoint chain hashes that plus the
//! endpoint's `ip:port` (`[ip]:port` for IPv6).

use sha2::{Digest, Sha256};

use crate::proxy::model::{Endpoint, ServicePortName};

/// nat and filter: the entry chain, one rule per service address.
pub const KUBE_SERVICES: &str = "KUBE-SERVICES";
/// nat: node ports, jumped to last from `KUBE-SERVICES` for local addresses.
pub const KUBE_NODEPORTS: &str = "KUBE-NODEPORTS";
/// nat: marks a packet for masquerading.
pub const KUBE_MARK_MASQ: &str = "KUBE-MARK-MASQ";
/// nat: masquerades marked packets (jumped to from `POSTROUTING`).
pub const KUBE_POSTROUTING: &str = "KUBE-POSTROUTING";
/// filter: accepts marked and established forwarded traffic.
pub const KUBE_FORWARD: &str = "KUBE-FORWARD";
/// filter: rejects external addresses and node ports without endpoints.
pub const KUBE_EXTERNAL_SERVICES: &str = "KUBE-EXTERNAL-SERVICES";

/// Prefix of a service port's cluster chain.
pub const SVC_PREFIX: &str = "KUBE-SVC-";
/// Prefix of a service port's external-traffic chain.
pub const EXT_PREFIX: &str = "KUBE-EXT-";
/// Prefix of an endpoint chain.
pub const SEP_PREFIX: &str = "KUBE-SEP-";

/// Every prefix kube-proxy uses for per-port nat chains (`KUBE-FW-` and
/// `KUBE-SVL-` are never written by us, but are removed like ours when
/// found, as kube-proxy does).
pub const SERVICE_CHAIN_PREFIXES: [&str; 5] = ["KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-"];

/// Whether `chain` is a per-port chain (by prefix), one a full sync or a
/// cleanup may delete when it is no longer wanted.
pub fn is_service_chain(chain: &str) -> bool {
    SERVICE_CHAIN_PREFIXES.iter().any(|p| chain.starts_with(p))
}

/// The first 16 characters of base32(SHA-256(`input`)).
fn hash16(input: &str) -> String {
    let digest = Sha256::digest(input.as_bytes());
    let mut encoded = data_encoding::BASE32.encode(&digest);
    encoded.truncate(16);
    encoded
}

/// The hash part shared by a port's `KUBE-SVC-` and `KUBE-EXT-` chains.
fn port_hash(name: &ServicePortName) -> String {
    hash16(&format!("{}{}", name, name.protocol.lower()))
}

/// `KUBE-SVC-…`: the port's cluster chain, balancing over its endpoints.
pub fn service_chain(name: &ServicePortName) -> String {
    format!("{SVC_PREFIX}{}", port_hash(name))
}

/// `KUBE-EXT-…`: the port's chain for node-port and external-IP traffic.
pub fn external_chain(name: &ServicePortName) -> String {
    format!("{EXT_PREFIX}{}", port_hash(name))
}

/// `KUBE-SEP-…`: one endpoint of the port (DNAT to it).
pub fn endpoint_chain(name: &ServicePortName, endpoint: &Endpoint) -> String {
    format!("{SEP_PREFIX}{}", hash16(&format!("{}{}{}", name, name.protocol.lower(), endpoint.addr())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::model::Protocol;

    fn spn(ns: &str, name: &str, port: &str) -> ServicePortName {
        ServicePortName { namespace: ns.into(), name: name.into(), port: port.into(), protocol: Protocol::Tcp }
    }

    #[test]
    fn golden_service_hash() {
        assert_eq!(service_chain(&spn("default", "kubernetes", "https")), "KUBE-SVC-NPX46M4PTMTKRN6Y");
        assert_eq!(external_chain(&spn("default", "kubernetes", "https")), "KUBE-EXT-NPX46M4PTMTKRN6Y");
    }

    #[test]
    fn golden_endpoint_hash() {
        let ep = Endpoint { ip: "10.180.0.1".parse().unwrap(), port: 80, ready: true, node_name: None };
        assert_eq!(endpoint_chain(&spn("ns1", "svc1", "p80"), &ep), "KUBE-SEP-SXIVWICOYRO3J4NJ");
    }

    #[test]
    fn kube_proxy_golden_names() {
        // Further names from kube-proxy's own golden rules.
        assert_eq!(service_chain(&spn("ns1", "svc1", "p80")), "KUBE-SVC-XPGD46QRK7WJZT7O");
        assert_eq!(service_chain(&spn("ns5", "svc5", "p80")), "KUBE-SVC-NUKIZ6OKUXPJNT4C");
        let ep = Endpoint { ip: "10.180.0.3".parse().unwrap(), port: 80, ready: true, node_name: None };
        assert_eq!(endpoint_chain(&spn("ns5", "svc5", "p80"), &ep), "KUBE-SEP-I77PXRDZVX7PMWMN");
    }

    #[test]
    fn protocol_and_port_name_change_the_hash() {
        let tcp = spn("ns", "svc", "");
        let udp = ServicePortName { protocol: Protocol::Udp, ..tcp.clone() };
        assert_ne!(service_chain(&tcp), service_chain(&udp));
        assert_ne!(service_chain(&tcp), service_chain(&spn("ns", "svc", "p")));
        // Without a port name the input has no ':' ("ns/svc" + "tcp").
        assert_eq!(service_chain(&tcp), format!("KUBE-SVC-{}", hash16("ns/svctcp")));
        assert!(service_chain(&tcp).len() == "KUBE-SVC-".len() + 16);
    }

    #[test]
    fn service_chain_prefixes() {
        assert!(is_service_chain("KUBE-SEP-SXIVWICOYRO3J4NJ"));
        assert!(is_service_chain("KUBE-FW-NUKIZ6OKUXPJNT4C"));
        assert!(!is_service_chain(KUBE_SERVICES));
        assert!(!is_service_chain(KUBE_MARK_MASQ));
    }
}
