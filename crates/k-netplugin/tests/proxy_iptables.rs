//! The iptables proxier against real iptables (root): a node namespace joined
//! by veths to three backend namespaces and a client namespace; the proxier
//! programs the node namespace's nat and filter tables.
//!
//! ```text
//!   client 10.201.9.2 ── 10.201.9.1 ┐
//!                                   node ── 10.201.1.1 ── 10.201.1.2 b1 :8080
//!                                        ── 10.201.2.1 ── 10.201.2.2 b2 :8080
//!                                        ── 10.201.3.1 ── 10.201.3.2 b3 :8080
//! ```
//!
//! Connections from the node itself (nat OUTPUT) to a cluster IP reach every
//! backend, masqueraded (the node's address is outside the cluster CIDR);
//! ClientIP affinity pins the node to one backend; a port without endpoints
//! is refused; the node port answers from the client namespace; a removed
//! endpoint gets no new connections; cleanup leaves no KUBE-* chain behind.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use k_netplugin::iproute;
use k_netplugin::netns::NetNs;
use k_netplugin::proxy::iptables::chains::{endpoint_chain, service_chain};
use k_netplugin::proxy::iptables::{Iptables, IptablesProxier, RenderOptions};
use k_netplugin::proxy::{
    Affinity, ChangeSet, DEFAULT_AFFINITY_TIMEOUT, Endpoint, Protocol, Proxier, ProxyState, ServicePort,
    ServicePortName,
};
use k_netplugin::testing::{self, TestNet};

const WEB_IP: &str = "10.96.0.10";
const STICKY_IP: &str = "10.96.0.11";
const EMPTY_IP: &str = "10.96.0.12";
const NODE_PORT: u16 = 30080;

fn spn(name: &str) -> ServicePortName {
    ServicePortName { namespace: "ns1".into(), name: name.into(), port: "http".into(), protocol: Protocol::Tcp }
}

fn backend(i: u8) -> Endpoint {
    Endpoint { ip: format!("10.201.{i}.2").parse().unwrap(), port: 8080, ready: true, node_name: None }
}

fn service(name: &str, ip: &str, endpoints: Vec<Endpoint>) -> ServicePort {
    ServicePort {
        name: spn(name),
        cluster_ip: Some(ip.parse().unwrap()),
        port: 80,
        node_port: None,
        external_ips: Vec::new(),
        affinity: Affinity::None,
        endpoints,
    }
}

fn state(ports: Vec<ServicePort>) -> ProxyState {
    let mut state = ProxyState::default();
    for p in ports {
        state.services.insert(p.name.clone(), p);
    }
    state
}

/// Opens `n` connections to `to` from `from_ns` and counts the greetings
/// (`"<backend> <peer ip>"`); every echo must come back whole.
async fn tally(from_ns: &NetNs, to: SocketAddr, n: usize) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for i in 0..n {
        let payload = format!("hello {i}");
        let (greeting, echo) = testing::tcp_request(from_ns, to, None, &payload)
            .await
            .unwrap_or_else(|e| panic!("connection {i} to {to} from {}: {e}", from_ns.name()));
        assert_eq!(echo, payload, "echo through {to}");
        *seen.entry(greeting).or_insert(0) += 1;
    }
    seen
}

async fn nat_table(node: &NetNs) -> String {
    Iptables::in_namespace(node.clone()).save("nat").await.expect("iptables-save -t nat")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iptables_proxier_in_a_node_namespace() {
    let mut net = TestNet::new();
    testing::require_command("iptables-restore", "iptables");
    testing::require_command("iptables-save", "iptables");
    testing::require_command("iptables", "iptables");

    let node = net.netns();
    let client = net.netns();
    let mut workers = Vec::new();
    let mut servers = Vec::new();
    for i in 1..=3u8 {
        let b = net.netns();
        net.veth(&node, &format!("b{i}"), &format!("10.201.{i}.1/24"), &b, "eth0", &format!("10.201.{i}.2/24"));
        iproute::route_replace(&b, "default", &format!("10.201.{i}.1"), None).expect("backend default route");
        let worker = b.worker().expect("backend worker");
        let addr: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        servers.push(testing::tcp_echo_server(&worker, addr, &format!("b{i}")).expect("echo server"));
        workers.push(worker);
    }
    net.veth(&node, "c0", "10.201.9.1/24", &client, "eth0", "10.201.9.2/24");
    iproute::ip_forward(&node).expect("ip_forward in the node namespace");
    // The node needs a route towards the service range for its own
    // connections to get as far as nat OUTPUT (a real node has a default route).
    iproute::route_replace(&node, "10.96.0.0/16", "10.201.1.2", None).expect("service range route");

    // A leftover chain from an earlier run: the first (full) sync removes it.
    Iptables::in_namespace(node.clone())
        .restore("*nat\n:KUBE-SVC-LEFTOVER00000000 - [0:0]\n-A KUBE-SVC-LEFTOVER00000000 -j RETURN\nCOMMIT\n")
        .await
        .expect("planting a leftover chain");

    let mut web = service("web", WEB_IP, vec![backend(1), backend(2), backend(3)]);
    web.node_port = Some(NODE_PORT);
    let mut sticky = service("sticky", STICKY_IP, vec![backend(1), backend(2), backend(3)]);
    sticky.affinity = Affinity::ClientIp { timeout: DEFAULT_AFFINITY_TIMEOUT };
    let empty = service("empty", EMPTY_IP, vec![Endpoint { ready: false, ..backend(1) }]);
    let first = state(vec![web.clone(), sticky.clone(), empty.clone()]);

    let proxier =
        IptablesProxier::new(RenderOptions::default().with_cluster_cidr("10.244.0.0/16")).in_namespace(node.clone());
    let stats = proxier.sync(&first, &ChangeSet::full()).await.expect("first sync");
    assert_eq!((stats.services, stats.written, stats.removed), (3, 3, 0));
    let nat = nat_table(&node).await;
    assert!(!nat.contains("LEFTOVER"), "a full sync removes stale service chains:\n{nat}");
    assert!(nat.contains("-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"), "{nat}");
    assert!(
        nat.contains("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"),
        "{nat}"
    );
    assert!(nat.contains("-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING"));

    // Random balancing from the node itself: every backend within 60
    // connections (a miss has probability 3·(2/3)^60 ≈ 1e-10), each seeing
    // the node's address on its own link (masqueraded).
    let web_addr: SocketAddr = format!("{WEB_IP}:80").parse().unwrap();
    let seen = tally(&node, web_addr, 60).await;
    let expected: Vec<String> = (1..=3).map(|i| format!("b{i} 10.201.{i}.1")).collect();
    assert_eq!(seen.keys().cloned().collect::<Vec<_>>(), expected, "backends seen: {seen:?}");

    // ClientIP affinity: the node keeps its first backend.
    let sticky_addr: SocketAddr = format!("{STICKY_IP}:80").parse().unwrap();
    let seen = tally(&node, sticky_addr, 20).await;
    assert_eq!(seen.len(), 1, "affinity pins one backend: {seen:?}");

    // No ready endpoints: the filter table rejects at once.
    let refused = testing::tcp_request(&node, format!("{EMPTY_IP}:80").parse().unwrap(), None, "x").await;
    match refused {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}"),
        Ok(answer) => panic!("a port without endpoints answered: {answer:?}"),
    }

    // The node port, from another namespace through PREROUTING and FORWARD.
    let node_port: SocketAddr = format!("10.201.9.1:{NODE_PORT}").parse().unwrap();
    let seen = tally(&client, node_port, 30).await;
    for greeting in seen.keys() {
        assert!(expected.contains(greeting), "node-port traffic is masqueraded to the node: {seen:?}");
    }

    // b2 leaves web: only web's chains are written, b2's chain deleted.
    let mut web2 = web.clone();
    web2.endpoints.retain(|e| e.ip.to_string() != "10.201.2.2");
    let second = state(vec![web2, sticky.clone(), empty.clone()]);
    let stats = proxier.sync(&second, &ChangeSet::between(&first, &second)).await.expect("second sync");
    assert_eq!((stats.services, stats.written, stats.removed), (3, 1, 0));
    let input = proxier.last_restore_input();
    let b2_chain = endpoint_chain(&spn("web"), &backend(2));
    assert!(input.contains(&format!("-X {b2_chain}\n")), "{input}");
    assert!(input.contains(&format!(":{} - [0:0]", service_chain(&spn("web")))), "{input}");
    let sticky_chain = service_chain(&spn("sticky"));
    assert!(!input.contains(&format!(":{sticky_chain} ")), "an unchanged port is not written:\n{input}");
    assert!(!input.contains(&format!("-A {sticky_chain} ")), "an unchanged port is not written:\n{input}");
    let b1_chain = endpoint_chain(&spn("web"), &backend(1));
    assert!(!input.contains(&format!(":{b1_chain} ")), "unchanged endpoint chain written:\n{input}");
    assert!(!input.contains("*filter"), "the filter table did not change:\n{input}");
    assert!(!nat_table(&node).await.contains(&b2_chain));

    let seen = tally(&node, web_addr, 30).await;
    assert!(!seen.keys().any(|g| g.starts_with("b2 ")), "no new connection to a removed endpoint: {seen:?}");
    assert!(seen.keys().any(|g| g.starts_with("b1 ")) && seen.keys().any(|g| g.starts_with("b3 ")), "{seen:?}");

    // Cleanup leaves no KUBE-* chain and no jump rule.
    proxier.cleanup().await.expect("cleanup");
    let ipt = Iptables::in_namespace(node.clone());
    for table in ["nat", "filter"] {
        let save = ipt.save(table).await.expect("iptables-save");
        assert!(!save.contains("KUBE-"), "{table} after cleanup:\n{save}");
    }

    // A sync after cleanup is full again and works.
    let stats = proxier.sync(&second, &ChangeSet::default()).await.expect("sync after cleanup");
    assert_eq!(stats.written, 3);
    let seen = tally(&node, web_addr, 5).await;
    assert!(!seen.keys().any(|g| g.starts_with("b2 ")), "{seen:?}");
    proxier.cleanup().await.expect("second cleanup");

    for s in &servers {
        s.abort();
    }
    drop(workers);
    // Give aborted servers a moment before the namespaces go.
    tokio::time::sleep(Duration::from_millis(50)).await;
}
