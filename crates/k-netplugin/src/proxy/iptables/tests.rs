//! Golden tests of the rendered rules and of the restore inputs a
//! [`IptablesProxier`] writes, run without root (dry run).
//!
//! Services, addresses and ports follow kube-proxy's own golden test
//! (`TestOverallIPTablesRules`) where they can, so the hashed chain names
//! can be checked against its output.

use std::time::Duration;

use super::*;
use crate::proxy::model::{Affinity, ChangeSet, Endpoint, Protocol, ProxyState, ServicePort, ServicePortName};
use crate::proxy::{DEFAULT_AFFINITY_TIMEOUT, Proxier, SyncStats};

fn spn(ns: &str, name: &str, port: &str, protocol: Protocol) -> ServicePortName {
    ServicePortName { namespace: ns.into(), name: name.into(), port: port.into(), protocol }
}

fn ep(addr: &str, ready: bool) -> Endpoint {
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    Endpoint { ip: addr.ip(), port: addr.port(), ready, node_name: None }
}

fn port(name: ServicePortName, cluster_ip: &str, port: u16) -> ServicePort {
    ServicePort {
        name,
        cluster_ip: Some(cluster_ip.parse().unwrap()),
        port,
        node_port: None,
        external_ips: Vec::new(),
        affinity: Affinity::None,
        endpoints: Vec::new(),
    }
}

fn state(ports: Vec<ServicePort>) -> ProxyState {
    let mut state = ProxyState::default();
    for p in ports {
        state.services.insert(p.name.clone(), p);
    }
    state
}

/// The services of the golden test.
fn golden_state() -> ProxyState {
    // ClusterIP with 3 ready endpoints (given out of order) and a not-ready one.
    let mut svc1 = port(spn("ns1", "svc1", "p80", Protocol::Tcp), "172.30.0.41", 80);
    svc1.endpoints = vec![
        ep("10.180.0.3:80", true),
        ep("10.180.0.1:80", true),
        ep("10.180.0.9:80", false),
        ep("10.180.0.2:80", true),
    ];
    // NodePort with an external IP.
    let mut svc2 = port(spn("ns2", "svc2", "p80", Protocol::Tcp), "172.30.0.42", 80);
    svc2.node_port = Some(3001);
    svc2.external_ips = vec!["192.168.99.22".parse().unwrap()];
    svc2.endpoints = vec![ep("10.180.0.2:80", true)];
    // Multi-port: TCP with a node port, UDP without.
    let mut svc3_tcp = port(spn("ns3", "svc3", "p80", Protocol::Tcp), "172.30.0.43", 80);
    svc3_tcp.node_port = Some(3003);
    svc3_tcp.endpoints = vec![ep("10.180.0.3:80", true)];
    let mut svc3_udp = port(spn("ns3", "svc3", "p53", Protocol::Udp), "172.30.0.43", 53);
    svc3_udp.endpoints = vec![ep("10.180.0.3:5353", true)];
    // ClientIP affinity, custom timeout, two endpoints.
    let mut svc4 = port(spn("ns4", "svc4", "p80", Protocol::Tcp), "172.30.0.44", 80);
    svc4.affinity = Affinity::ClientIp { timeout: Duration::from_secs(600) };
    svc4.endpoints = vec![ep("10.180.0.4:80", true), ep("10.180.0.5:80", true)];
    // ClientIP affinity, default timeout.
    let mut svc5 = port(spn("ns5", "svc5", "p80", Protocol::Tcp), "172.30.0.45", 80);
    svc5.affinity = Affinity::ClientIp { timeout: DEFAULT_AFFINITY_TIMEOUT };
    svc5.endpoints = vec![ep("10.180.0.3:80", true)];
    // No ready endpoints, with a node port and an external IP.
    let mut svc6 = port(spn("ns6", "svc6", "p80", Protocol::Tcp), "172.30.0.46", 80);
    svc6.node_port = Some(3006);
    svc6.external_ips = vec!["192.168.99.66".parse().unwrap()];
    svc6.endpoints = vec![ep("10.180.0.6:80", false)];
    // Headless: not proxied.
    let mut svc7 = port(spn("ns7", "svc7", "p80", Protocol::Tcp), "0.0.0.0", 80);
    svc7.cluster_ip = None;
    svc7.endpoints = vec![ep("10.180.0.7:80", true)];
    // A single unnamed port.
    let mut svc8 = port(spn("ns8", "svc8", "", Protocol::Tcp), "172.30.0.48", 8080);
    svc8.endpoints = vec![ep("10.180.0.8:8080", true)];
    state(vec![svc1, svc2, svc3_tcp, svc3_udp, svc4, svc5, svc6, svc7, svc8])
}

fn options() -> RenderOptions {
    RenderOptions::default().with_cluster_cidr("10.0.0.0/8")
}

fn proxier() -> IptablesProxier {
    IptablesProxier::new(options()).dry_run()
}

async fn sync(p: &IptablesProxier, s: &ProxyState, changed: &ChangeSet) -> SyncStats {
    p.sync(s, changed).await.expect("dry-run sync")
}

/// Full rewrite of the golden state. Reviewed by hand against kube-proxy's
/// conventions: hashed names (ns1/svc1:p80 → XPGD46QRK7WJZT7O with endpoint
/// 10.180.0.1:80 → SXIVWICOYRO3J4NJ, ns2/svc2:p80 → GNZBNJ2PO5MGZ6GT with
/// 10.180.0.2:80 → RS4RBKLTHTF2IUXJ, ns3/svc3:p80 → X27LE4BHSL4DOUIK with
/// 10.180.0.3:80 → OYPFS5VJICHGATKP, ns4/svc4:p80 → 4SW47YFZTEDKD3PK with
/// UKSFD7AGPMPPLUHC and C6EBXVWJJZMIWKLZ, ns5/svc5:p80 → NUKIZ6OKUXPJNT4C with
/// I77PXRDZVX7PMWMN are the names in kube-proxy's own golden output),
/// comments quoted only with spaces, `1/(n−i)` with 10 decimals and the
/// last endpoint unconditional, affinity `--rcheck` rules before the
/// balancing ones and `--set` before the DNAT, the not-ready 10.180.0.9 and
/// 6's endpoint absent, 6 only in the filter table, headless 7 nowhere.
const GOLDEN_FULL: &str = r#"*filter
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FORWARD - [0:0]
-A KUBE-SERVICES -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.46 --dport 80 -j REJECT
-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp -p tcp -d 192.168.99.66 --dport 80 -j REJECT
-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns6/svc6:p80 has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3006 -j REJECT
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
*nat
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
:KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]
:KUBE-SEP-LXVODXWDISEETFEF - [0:0]
:KUBE-SEP-ICDUIKC33SFI6ZPR - [0:0]
:KUBE-SVC-GNZBNJ2PO5MGZ6GT - [0:0]
:KUBE-EXT-GNZBNJ2PO5MGZ6GT - [0:0]
:KUBE-SEP-RS4RBKLTHTF2IUXJ - [0:0]
:KUBE-SVC-WDPK6WGRMTSY3GOD - [0:0]
:KUBE-SEP-TJX64L2SICJ6SRGO - [0:0]
:KUBE-SVC-X27LE4BHSL4DOUIK - [0:0]
:KUBE-EXT-X27LE4BHSL4DOUIK - [0:0]
:KUBE-SEP-OYPFS5VJICHGATKP - [0:0]
:KUBE-SVC-4SW47YFZTEDKD3PK - [0:0]
:KUBE-SEP-UKSFD7AGPMPPLUHC - [0:0]
:KUBE-SEP-C6EBXVWJJZMIWKLZ - [0:0]
:KUBE-SVC-NUKIZ6OKUXPJNT4C - [0:0]
:KUBE-SEP-I77PXRDZVX7PMWMN - [0:0]
:KUBE-SVC-ZRNUF7L2MCNBVIPQ - [0:0]
:KUBE-SEP-ZNDZAF5XFVOGMX7C - [0:0]
-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 80 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 external IP" -m tcp -p tcp -d 192.168.99.22 --dport 80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
-A KUBE-SERVICES -m comment --comment "ns3/svc3:p53 cluster IP" -m udp -p udp -d 172.30.0.43 --dport 53 -j KUBE-SVC-WDPK6WGRMTSY3GOD
-A KUBE-SERVICES -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 -j KUBE-SVC-X27LE4BHSL4DOUIK
-A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 -j KUBE-SVC-4SW47YFZTEDKD3PK
-A KUBE-SERVICES -m comment --comment "ns5/svc5:p80 cluster IP" -m tcp -p tcp -d 172.30.0.45 --dport 80 -j KUBE-SVC-NUKIZ6OKUXPJNT4C
-A KUBE-SERVICES -m comment --comment "ns8/svc8 cluster IP" -m tcp -p tcp -d 172.30.0.48 --dport 8080 -j KUBE-SVC-ZRNUF7L2MCNBVIPQ
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
-A KUBE-NODEPORTS -m comment --comment ns3/svc3:p80 -m tcp -p tcp --dport 3003 -j KUBE-EXT-X27LE4BHSL4DOUIK
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-SXIVWICOYRO3J4NJ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.2:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-LXVODXWDISEETFEF
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.3:80" -j KUBE-SEP-ICDUIKC33SFI6ZPR
-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80
-A KUBE-SEP-LXVODXWDISEETFEF -m comment --comment ns1/svc1:p80 -s 10.180.0.2 -j KUBE-MARK-MASQ
-A KUBE-SEP-LXVODXWDISEETFEF -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.2:80
-A KUBE-SEP-ICDUIKC33SFI6ZPR -m comment --comment ns1/svc1:p80 -s 10.180.0.3 -j KUBE-MARK-MASQ
-A KUBE-SEP-ICDUIKC33SFI6ZPR -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:80
-A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment "ns2/svc2:p80 -> 10.180.0.2:80" -j KUBE-SEP-RS4RBKLTHTF2IUXJ
-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "masquerade traffic for ns2/svc2:p80 external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
-A KUBE-SEP-RS4RBKLTHTF2IUXJ -m comment --comment ns2/svc2:p80 -s 10.180.0.2 -j KUBE-MARK-MASQ
-A KUBE-SEP-RS4RBKLTHTF2IUXJ -m comment --comment ns2/svc2:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.2:80
-A KUBE-SVC-WDPK6WGRMTSY3GOD -m comment --comment "ns3/svc3:p53 cluster IP" -m udp -p udp -d 172.30.0.43 --dport 53 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-WDPK6WGRMTSY3GOD -m comment --comment "ns3/svc3:p53 -> 10.180.0.3:5353" -j KUBE-SEP-TJX64L2SICJ6SRGO
-A KUBE-SEP-TJX64L2SICJ6SRGO -m comment --comment ns3/svc3:p53 -s 10.180.0.3 -j KUBE-MARK-MASQ
-A KUBE-SEP-TJX64L2SICJ6SRGO -m comment --comment ns3/svc3:p53 -m udp -p udp -j DNAT --to-destination 10.180.0.3:5353
-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.180.0.3:80" -j KUBE-SEP-OYPFS5VJICHGATKP
-A KUBE-EXT-X27LE4BHSL4DOUIK -m comment --comment "masquerade traffic for ns3/svc3:p80 external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-X27LE4BHSL4DOUIK -j KUBE-SVC-X27LE4BHSL4DOUIK
-A KUBE-SEP-OYPFS5VJICHGATKP -m comment --comment ns3/svc3:p80 -s 10.180.0.3 -j KUBE-MARK-MASQ
-A KUBE-SEP-OYPFS5VJICHGATKP -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:80
-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.180.0.4:80" -m recent --name KUBE-SEP-UKSFD7AGPMPPLUHC --rcheck --seconds 600 --reap -j KUBE-SEP-UKSFD7AGPMPPLUHC
-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.180.0.5:80" -m recent --name KUBE-SEP-C6EBXVWJJZMIWKLZ --rcheck --seconds 600 --reap -j KUBE-SEP-C6EBXVWJJZMIWKLZ
-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.180.0.4:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-UKSFD7AGPMPPLUHC
-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.180.0.5:80" -j KUBE-SEP-C6EBXVWJJZMIWKLZ
-A KUBE-SEP-UKSFD7AGPMPPLUHC -m comment --comment ns4/svc4:p80 -s 10.180.0.4 -j KUBE-MARK-MASQ
-A KUBE-SEP-UKSFD7AGPMPPLUHC -m comment --comment ns4/svc4:p80 -m recent --name KUBE-SEP-UKSFD7AGPMPPLUHC --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.4:80
-A KUBE-SEP-C6EBXVWJJZMIWKLZ -m comment --comment ns4/svc4:p80 -s 10.180.0.5 -j KUBE-MARK-MASQ
-A KUBE-SEP-C6EBXVWJJZMIWKLZ -m comment --comment ns4/svc4:p80 -m recent --name KUBE-SEP-C6EBXVWJJZMIWKLZ --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.5:80
-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 cluster IP" -m tcp -p tcp -d 172.30.0.45 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 -> 10.180.0.3:80" -m recent --name KUBE-SEP-I77PXRDZVX7PMWMN --rcheck --seconds 10800 --reap -j KUBE-SEP-I77PXRDZVX7PMWMN
-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 -> 10.180.0.3:80" -j KUBE-SEP-I77PXRDZVX7PMWMN
-A KUBE-SEP-I77PXRDZVX7PMWMN -m comment --comment ns5/svc5:p80 -s 10.180.0.3 -j KUBE-MARK-MASQ
-A KUBE-SEP-I77PXRDZVX7PMWMN -m comment --comment ns5/svc5:p80 -m recent --name KUBE-SEP-I77PXRDZVX7PMWMN --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:80
-A KUBE-SVC-ZRNUF7L2MCNBVIPQ -m comment --comment "ns8/svc8 cluster IP" -m tcp -p tcp -d 172.30.0.48 --dport 8080 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-ZRNUF7L2MCNBVIPQ -m comment --comment "ns8/svc8 -> 10.180.0.8:8080" -j KUBE-SEP-ZNDZAF5XFVOGMX7C
-A KUBE-SEP-ZNDZAF5XFVOGMX7C -m comment --comment ns8/svc8 -s 10.180.0.8 -j KUBE-MARK-MASQ
-A KUBE-SEP-ZNDZAF5XFVOGMX7C -m comment --comment ns8/svc8 -m tcp -p tcp -j DNAT --to-destination 10.180.0.8:8080
COMMIT
"#;

#[tokio::test]
async fn golden_full_rewrite() {
    let p = proxier();
    let stats = sync(&p, &golden_state(), &ChangeSet::full()).await;
    assert_eq!(p.last_restore_input(), GOLDEN_FULL);
    assert_eq!(stats, SyncStats { services: 8, written: 8, removed: 0 });
}

/// nat `KUBE-SERVICES` and `KUBE-NODEPORTS` rules of the golden state, less
/// the node-port tail of `KUBE-SERVICES`.
const SERVICES_RULES: &str = r#"-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 80 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 external IP" -m tcp -p tcp -d 192.168.99.22 --dport 80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
-A KUBE-SERVICES -m comment --comment "ns3/svc3:p53 cluster IP" -m udp -p udp -d 172.30.0.43 --dport 53 -j KUBE-SVC-WDPK6WGRMTSY3GOD
-A KUBE-SERVICES -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 -j KUBE-SVC-X27LE4BHSL4DOUIK
-A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 -j KUBE-SVC-4SW47YFZTEDKD3PK
-A KUBE-SERVICES -m comment --comment "ns5/svc5:p80 cluster IP" -m tcp -p tcp -d 172.30.0.45 --dport 80 -j KUBE-SVC-NUKIZ6OKUXPJNT4C
-A KUBE-SERVICES -m comment --comment "ns8/svc8 cluster IP" -m tcp -p tcp -d 172.30.0.48 --dport 8080 -j KUBE-SVC-ZRNUF7L2MCNBVIPQ
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
-A KUBE-NODEPORTS -m comment --comment ns3/svc3:p80 -m tcp -p tcp --dport 3003 -j KUBE-EXT-X27LE4BHSL4DOUIK
"#;

#[tokio::test]
async fn one_service_change_writes_only_its_chains() {
    let p = proxier();
    let mut s = golden_state();
    sync(&p, &s, &ChangeSet::full()).await;

    // svc1 loses 10.180.0.2 and gains 10.180.0.10 (sorted after .3).
    let old = s.clone();
    let svc1 = s.services.get_mut(&spn("ns1", "svc1", "p80", Protocol::Tcp)).unwrap();
    svc1.endpoints.retain(|e| e.ip.to_string() != "10.180.0.2");
    svc1.endpoints.push(ep("10.180.0.10:80", true));
    let changed = ChangeSet::between(&old, &s);
    assert_eq!(changed.changed.len(), 1);
    let stats = sync(&p, &s, &changed).await;
    assert_eq!(stats, SyncStats { services: 8, written: 1, removed: 0 });

    // KUBE-SERVICES and KUBE-NODEPORTS, svc1's KUBE-SVC (new probabilities)
    // and the new endpoint's KUBE-SEP; the SEPs of .1 and .3 are unchanged
    // and not written; .2's SEP is flushed and deleted after every rule;
    // the filter table did not change and is left out.
    let expected = String::from(
        "*nat\n\
         :KUBE-SERVICES - [0:0]\n\
         :KUBE-NODEPORTS - [0:0]\n\
         :KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]\n\
         :KUBE-SEP-A6IB6ZRNSXM7OKSA - [0:0]\n\
         :KUBE-SEP-LXVODXWDISEETFEF - [0:0]\n",
    ) + SERVICES_RULES
        + r#"-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-SXIVWICOYRO3J4NJ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.3:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-ICDUIKC33SFI6ZPR
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.10:80" -j KUBE-SEP-A6IB6ZRNSXM7OKSA
-A KUBE-SEP-A6IB6ZRNSXM7OKSA -m comment --comment ns1/svc1:p80 -s 10.180.0.10 -j KUBE-MARK-MASQ
-A KUBE-SEP-A6IB6ZRNSXM7OKSA -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.10:80
-X KUBE-SEP-LXVODXWDISEETFEF
COMMIT
"#;
    assert_eq!(p.last_restore_input(), expected);
}

#[tokio::test]
async fn removed_service_is_deleted_after_the_rules() {
    let p = proxier();
    let mut s = golden_state();
    sync(&p, &s, &ChangeSet::full()).await;

    let old = s.clone();
    s.services.remove(&spn("ns2", "svc2", "p80", Protocol::Tcp));
    let stats = sync(&p, &s, &ChangeSet::between(&old, &s)).await;
    assert_eq!(stats, SyncStats { services: 7, written: 0, removed: 1 });

    let services: String =
        SERVICES_RULES.lines().filter(|l| !l.contains("ns2/svc2")).map(|l| format!("{l}\n")).collect();
    let expected = String::from(
        "*nat\n\
         :KUBE-SERVICES - [0:0]\n\
         :KUBE-NODEPORTS - [0:0]\n\
         :KUBE-EXT-GNZBNJ2PO5MGZ6GT - [0:0]\n\
         :KUBE-SEP-RS4RBKLTHTF2IUXJ - [0:0]\n\
         :KUBE-SVC-GNZBNJ2PO5MGZ6GT - [0:0]\n",
    ) + &services
        + "-X KUBE-EXT-GNZBNJ2PO5MGZ6GT\n\
           -X KUBE-SEP-RS4RBKLTHTF2IUXJ\n\
           -X KUBE-SVC-GNZBNJ2PO5MGZ6GT\n\
           COMMIT\n";
    assert_eq!(p.last_restore_input(), expected);
}

#[tokio::test]
async fn losing_all_endpoints_moves_a_port_to_the_filter_table() {
    let p = proxier();
    let mut s = golden_state();
    sync(&p, &s, &ChangeSet::full()).await;

    let old = s.clone();
    let svc5 = s.services.get_mut(&spn("ns5", "svc5", "p80", Protocol::Tcp)).unwrap();
    svc5.endpoints[0].ready = false;
    let stats = sync(&p, &s, &ChangeSet::between(&old, &s)).await;
    assert_eq!(stats, SyncStats { services: 8, written: 1, removed: 0 });

    // filter KUBE-SERVICES changed (svc5 now rejected); KUBE-EXTERNAL-SERVICES
    // did not (svc5 has no node port) and is not written. svc5's nat chains go.
    let services: String =
        SERVICES_RULES.lines().filter(|l| !l.contains("ns5/svc5")).map(|l| format!("{l}\n")).collect();
    let expected = String::from(
        r#"*filter
:KUBE-SERVICES - [0:0]
-A KUBE-SERVICES -m comment --comment "ns5/svc5:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.45 --dport 80 -j REJECT
-A KUBE-SERVICES -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.46 --dport 80 -j REJECT
COMMIT
*nat
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-SEP-I77PXRDZVX7PMWMN - [0:0]
:KUBE-SVC-NUKIZ6OKUXPJNT4C - [0:0]
"#,
    ) + &services
        + "-X KUBE-SEP-I77PXRDZVX7PMWMN\n\
           -X KUBE-SVC-NUKIZ6OKUXPJNT4C\n\
           COMMIT\n";
    assert_eq!(p.last_restore_input(), expected);
}

#[tokio::test]
async fn nothing_changed_runs_nothing_and_full_requests_rewrite_all() {
    let p = proxier();
    let s = golden_state();
    sync(&p, &s, &ChangeSet::full()).await;
    let first = p.last_restore_input();

    // A change of the model that does not change the rules (not-ready
    // endpoint's node) and an empty change set: no restore at all.
    let mut s2 = s.clone();
    s2.services.get_mut(&spn("ns1", "svc1", "p80", Protocol::Tcp)).unwrap().endpoints[2].node_name = Some("n".into());
    let stats = sync(&p, &s2, &ChangeSet::between(&s, &s2)).await;
    assert_eq!(stats, SyncStats { services: 8, written: 0, removed: 0 });
    let stats = sync(&p, &s2, &ChangeSet::default()).await;
    assert_eq!(stats, SyncStats { services: 8, written: 0, removed: 0 });
    assert_eq!(p.last_restore_input(), first, "no restore ran");

    // A full sync rewrites everything, identically.
    let stats = sync(&p, &s2, &ChangeSet::full()).await;
    assert_eq!(stats, SyncStats { services: 8, written: 8, removed: 0 });
    assert_eq!(p.last_restore_input(), GOLDEN_FULL);
}

#[tokio::test]
async fn expired_full_sync_period_rewrites_everything() {
    let p = IptablesProxier::new(options()).dry_run().with_full_sync_period(Duration::ZERO);
    let s = golden_state();
    sync(&p, &s, &ChangeSet::default()).await;
    assert_eq!(p.last_restore_input(), GOLDEN_FULL, "the first sync is full whatever the change set");
    let stats = sync(&p, &s, &ChangeSet::default()).await;
    assert_eq!(stats.written, 8);
    assert_eq!(p.last_restore_input(), GOLDEN_FULL);
}

#[test]
fn options_shape_the_rules() {
    let mut svc = port(spn("ns1", "svc1", "p80", Protocol::Sctp), "172.30.0.41", 80);
    svc.endpoints = vec![ep("10.180.0.1:8080", true), ep("[fd00::1]:8080", true)];

    // No cluster CIDR: no masquerade rule in KUBE-SVC; IPv6 endpoint left out.
    let rules = render_port(&svc, &RenderOptions::default()).unwrap();
    let names: Vec<&str> = rules.nat_chains.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(
        rules.nat_chains[0].rules,
        format!(
            "-A {svc} -m comment --comment \"ns1/svc1:p80 -> 10.180.0.1:8080\" -j {sep}\n",
            svc = names[0],
            sep = names[1]
        )
    );
    assert!(rules.nat_chains[1].rules.contains("-m sctp -p sctp -j DNAT --to-destination 10.180.0.1:8080"));

    // --masquerade-all, another mark, node ports on given addresses.
    let opts = RenderOptions {
        masquerade_all: true,
        node_port_addresses: vec!["192.168.1.10".parse().unwrap(), "fd00::10".parse().unwrap()],
        ..RenderOptions::default().with_cluster_cidr("10.0.0.0/8").with_masquerade_bit(15)
    };
    let rules = render_port(&svc, &opts).unwrap();
    assert!(rules.nat_chains[0].rules.starts_with(&format!(
        "-A {} -m comment --comment \"ns1/svc1:p80 cluster IP\" -m sctp -p sctp -d 172.30.0.41 --dport 80 -j KUBE-MARK-MASQ\n",
        names[0]
    )));
    let shared = render_shared([&rules], &opts);
    let services = &shared.nat_chain("KUBE-SERVICES").unwrap().rules;
    assert!(services.ends_with(
        "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -d 192.168.1.10 -j KUBE-NODEPORTS\n"
    ));
    assert_eq!(shared.nat_chain("KUBE-MARK-MASQ").unwrap().rules, "-A KUBE-MARK-MASQ -j MARK --or-mark 0x8000\n");

    // IPv6 and headless ports are not rendered.
    let mut v6 = svc.clone();
    v6.cluster_ip = Some("fd00::100".parse().unwrap());
    assert!(render_port(&v6, &opts).is_none());
}
