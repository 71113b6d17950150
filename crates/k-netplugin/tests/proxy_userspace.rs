//! The userspace proxier behind the service proxy's watch loop, in network
//! namespaces (root): a node namespace with three backend namespaces and a
//! client namespace joined by veths, Services and EndpointSlices in an
//! in-process store, a `ServiceProxy` over a `UserspaceProxier` in the node
//! namespace. Build with `--all-features` (the `testing` feature).
#![cfg(all(feature = "testing", feature = "proxy"))]

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use k_api_types::SortedMap;
use k_api_types::core::v1::{ClientIPConfig, Service, ServicePort as ApiPort, ServiceSpec, SessionAffinityConfig};
use k_api_types::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice, LABEL_SERVICE_NAME};
use k_api_types::intstr::IntOrString;
use k_netplugin::iproute;
use k_netplugin::netns::{NetNs, NsTask, NsWorker};
use k_netplugin::proxy::userspace::{UserspaceOptions, UserspaceProxier};
use k_netplugin::proxy::{Protocol, Proxier, ProxyState, ServicePortName, ServiceProxy, SyncStatus};
use k_netplugin::testing::{self, TestNet};
use k_store::{Api, Store};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::watch;

const WEB_IP: &str = "10.96.0.10";
const STICKY_IP: &str = "10.96.0.11";
const EMPTY_IP: &str = "10.96.0.12";
const DNS_IP: &str = "10.96.0.53";
const NODE_IP: &str = "192.168.50.1";
const CLIENT_IP: &str = "192.168.50.2";
const NODE_PORT: u16 = 30080;

fn addr(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), port)
}

fn backend_ip(k: usize) -> String {
    format!("10.0.{k}.2")
}

fn service(name: &str, ip: &str, protocol: &str, port: i32, target: &str) -> Service {
    let mut s = Service::default();
    s.metadata.namespace = "default".into();
    s.metadata.name = name.into();
    s.spec = ServiceSpec {
        cluster_ip: Some(ip.into()),
        cluster_ips: vec![ip.into()],
        type_: Some("ClusterIP".into()),
        ports: vec![ApiPort {
            name: Some("p".into()),
            protocol: Some(protocol.into()),
            port,
            target_port: Some(IntOrString::String(target.into())),
            ..Default::default()
        }],
        ..Default::default()
    };
    s
}

/// A slice of `service` with port `p` → `port` and these backends (1-3).
fn slice(service: &str, protocol: &str, port: i32, backends: &[usize]) -> EndpointSlice {
    let mut s = EndpointSlice::default();
    s.metadata.namespace = "default".into();
    s.metadata.name = format!("{service}-abc");
    s.metadata.labels = SortedMap::from_iter([(LABEL_SERVICE_NAME.to_owned(), service.to_owned())]);
    s.address_type = "IPv4".into();
    s.ports = vec![EndpointPort {
        name: Some("p".into()),
        protocol: Some(protocol.into()),
        port: Some(port),
        ..Default::default()
    }];
    s.endpoints = backends
        .iter()
        .map(|k| Endpoint {
            addresses: vec![backend_ip(*k)],
            conditions: EndpointConditions { ready: Some(true), ..Default::default() },
            ..Default::default()
        })
        .collect();
    s
}

fn spn(name: &str, protocol: Protocol) -> ServicePortName {
    ServicePortName { namespace: "default".into(), name: name.into(), port: "p".into(), protocol }
}

fn ready(state: &ProxyState, name: &str, protocol: Protocol) -> Option<usize> {
    state.services.get(&spn(name, protocol)).map(|p| p.ready_endpoints().count())
}

/// Waits (without a fixed sleep) until the proxy has synced a state for
/// which `pred` holds.
async fn synced(status: &watch::Receiver<SyncStatus>, what: &str, pred: impl Fn(&ProxyState) -> bool) {
    let mut status = status.clone();
    let waited =
        tokio::time::timeout(Duration::from_secs(30), status.wait_for(|s| s.syncs > 0 && pred(&s.state))).await;
    let done = waited.is_ok_and(|r| r.is_ok());
    assert!(done, "the proxy never synced {what}; last status: {:?}", *status.borrow());
}

/// The backend's name from a greeting `"<name> <peer ip>"`.
fn backend_of(greeting: &str) -> String {
    greeting.split_whitespace().next().unwrap_or_default().to_owned()
}

/// `n` TCP exchanges from `ns` (from `from` when given): backend → count.
async fn hits(ns: &NetNs, to: SocketAddr, from: Option<IpAddr>, n: usize) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for i in 0..n {
        let payload = format!("hello {i}");
        let (greeting, echo) = testing::tcp_request(ns, to, from, &payload)
            .await
            .unwrap_or_else(|e| panic!("request {i} to {to} from {from:?}: {e}"));
        assert_eq!(echo, payload, "echoed through the proxy");
        *out.entry(backend_of(&greeting)).or_default() += 1;
    }
    out
}

/// A connection through the proxy that stays open: its backend and the stream.
async fn open(ns: &NetNs, to: SocketAddr) -> (String, BufReader<TcpStream>) {
    let ns = ns.clone();
    let std = tokio::task::spawn_blocking(move || {
        ns.run(move || std::net::TcpStream::connect_timeout(&to, Duration::from_secs(5)))
    })
    .await
    .unwrap()
    .unwrap()
    .unwrap_or_else(|e| panic!("connect {to}: {e}"));
    std.set_nonblocking(true).unwrap();
    let mut stream = BufReader::new(TcpStream::from_std(std).unwrap());
    let mut greeting = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_line(&mut greeting)).await.unwrap().unwrap();
    (backend_of(&greeting), stream)
}

async fn echo(stream: &mut BufReader<TcpStream>, line: &str) -> String {
    stream.get_mut().write_all(format!("{line}\n").as_bytes()).await.unwrap();
    let mut back = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_line(&mut back)).await.expect("echo in time").unwrap();
    back.trim_end().to_owned()
}

fn lo_addrs(ns: &NetNs) -> Vec<String> {
    iproute::addrs(ns, "lo").expect("ip addr show lo")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userspace_proxy_balances_pins_follows_endpoints_and_serves_node_ports_and_udp() {
    let mut net = TestNet::new();
    let node = net.netns();
    let client = net.netns();
    net.veth(&node, "vc", &format!("{NODE_IP}/24"), &client, "eth0", &format!("{CLIENT_IP}/24"));
    // The client reaches cluster IPs through the node, as a pod would.
    iproute::route_replace(&client, "10.96.0.0/16", NODE_IP, None).unwrap();
    let mut workers: Vec<NsWorker> = Vec::new();
    let mut servers: Vec<NsTask<()>> = Vec::new();
    for k in 1..=3 {
        let backend = net.netns();
        net.veth(&node, &format!("vb{k}"), &format!("10.0.{k}.1/24"), &backend, "eth0", &format!("10.0.{k}.2/24"));
        let worker = backend.worker().unwrap();
        let ip = backend_ip(k);
        servers.push(testing::tcp_echo_server(&worker, addr(&ip, 8080), &format!("backend-{k}")).unwrap());
        servers.push(testing::udp_echo_server(&worker, addr(&ip, 5353), &format!("backend-{k}")).unwrap());
        workers.push(worker);
    }

    // The cluster: web (NodePort, named target port), sticky (ClientIP
    // affinity), empty (no endpoints), dns (UDP).
    let store = Store::in_memory();
    let services: Api<Service> = Api::namespaced(store.clone(), "default");
    let slices: Api<EndpointSlice> = Api::namespaced(store.clone(), "default");
    let mut web = service("web", WEB_IP, "TCP", 80, "http");
    web.spec.type_ = Some("NodePort".into());
    web.spec.ports[0].node_port = Some(i32::from(NODE_PORT));
    services.create(&web).await.unwrap();
    let mut sticky = service("sticky", STICKY_IP, "TCP", 80, "http");
    sticky.spec.session_affinity = Some("ClientIP".into());
    sticky.spec.session_affinity_config =
        Some(SessionAffinityConfig { client_ip: Some(ClientIPConfig { timeout_seconds: Some(600) }) });
    services.create(&sticky).await.unwrap();
    services.create(&service("empty", EMPTY_IP, "TCP", 80, "http")).await.unwrap();
    services.create(&service("dns", DNS_IP, "UDP", 53, "dns")).await.unwrap();
    slices.create(&slice("web", "TCP", 8080, &[1, 2, 3])).await.unwrap();
    slices.create(&slice("sticky", "TCP", 8080, &[1, 2, 3])).await.unwrap();
    slices.create(&slice("dns", "UDP", 5353, &[1, 2, 3])).await.unwrap();

    let proxier = Arc::new(UserspaceProxier::new(UserspaceOptions {
        node_addresses: vec![NODE_IP.parse().unwrap()],
        netns: Some(node.clone()),
        udp_idle_timeout: Duration::from_secs(5),
        ..Default::default()
    }));
    let proxy = Arc::new(
        ServiceProxy::new(Arc::new(store.clone()), proxier.clone()).with_min_sync_period(Duration::from_millis(100)),
    );
    let status = proxy.status();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = {
        let proxy = proxy.clone();
        tokio::spawn(async move {
            proxy
                .run(async move {
                    let _ = stopped.await;
                })
                .await;
        })
    };
    synced(&status, "all four services", |s| {
        ready(s, "web", Protocol::Tcp) == Some(3)
            && ready(s, "sticky", Protocol::Tcp) == Some(3)
            && ready(s, "dns", Protocol::Udp) == Some(3)
            && ready(s, "empty", Protocol::Tcp) == Some(0)
    })
    .await;
    let on_lo = lo_addrs(&node);
    for ip in [WEB_IP, STICKY_IP, EMPTY_IP, DNS_IP] {
        assert!(on_lo.contains(&format!("{ip}/32")), "{ip}/32 on lo of the node namespace: {on_lo:?}");
    }

    // Round-robin: 30 connections, 10 per backend.
    let web_addr = addr(WEB_IP, 80);
    let counts = hits(&node, web_addr, None, 30).await;
    assert_eq!(counts, BTreeMap::from([("backend-1".into(), 10), ("backend-2".into(), 10), ("backend-3".into(), 10)]));

    // The cluster IP from another namespace routed through the node, and
    // the node port on the node's address.
    let from_client = hits(&client, web_addr, None, 3).await;
    assert_eq!(from_client.len(), 3, "three connections, three backends: {from_client:?}");
    let node_port = hits(&client, addr(NODE_IP, NODE_PORT), None, 3).await;
    assert_eq!(node_port.len(), 3, "the node port balances too: {node_port:?}");

    // ClientIP affinity: each client address sticks to one backend; three
    // new clients get three different ones.
    let sticky_addr = addr(STICKY_IP, 80);
    let mut pinned: BTreeMap<usize, String> = BTreeMap::new();
    for k in 1..=3 {
        let from: IpAddr = format!("10.0.{k}.1").parse().unwrap();
        let counts = hits(&node, sticky_addr, Some(from), 10).await;
        assert_eq!(counts.len(), 1, "client {from} pinned to one backend: {counts:?}");
        pinned.insert(k, counts.into_keys().next().unwrap());
    }
    let distinct: std::collections::BTreeSet<&String> = pinned.values().collect();
    assert_eq!(distinct.len(), 3, "new clients are balanced: {pinned:?}");

    // UDP: one upstream per client socket, balanced, replies relayed back.
    let mut udp: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..6 {
        let answer =
            testing::udp_request(&node, addr(DNS_IP, 53), &format!("q{i}")).await.expect("udp through the proxy");
        *udp.entry(backend_of(&answer)).or_default() += 1;
    }
    assert_eq!(udp, BTreeMap::from([("backend-1".into(), 2), ("backend-2".into(), 2), ("backend-3".into(), 2)]));
    let answer = testing::udp_request(&client, addr(DNS_IP, 53), "from the client").await.expect("udp from the client");
    assert!(answer.starts_with("backend-"), "{answer}");

    // No endpoints: the connection is refused at once.
    let refused = testing::tcp_request(&node, addr(EMPTY_IP, 80), None, "x").await;
    assert!(refused.is_err(), "a port without endpoints must not answer: {refused:?}");

    // Hold a connection to backend-2, then take backend-2 out of web's and
    // sticky's slices.
    let mut held = None;
    for _ in 0..3 {
        let (backend, stream) = open(&node, web_addr).await;
        if backend == "backend-2" {
            held = Some(stream);
            break;
        }
    }
    let mut held = held.expect("one of three round-robin connections reaches backend-2");
    assert_eq!(echo(&mut held, "before").await, "before");
    let on_two = pinned.iter().find(|(_, b)| *b == "backend-2").map(|(k, _)| *k).unwrap();
    // A UDP client on a fixed port whose session goes to backend-2.
    let mut fixed = None;
    for _ in 0..3 {
        let socket = node.run(|| std::net::UdpSocket::bind("0.0.0.0:0")).unwrap().unwrap();
        socket.set_nonblocking(true).unwrap();
        let socket = tokio::net::UdpSocket::from_std(socket).unwrap();
        if udp_ask(&socket, "who").await == "backend-2" {
            fixed = Some(socket);
            break;
        }
    }
    let fixed = fixed.expect("one of three UDP sessions reaches backend-2");
    assert_eq!(udp_ask(&fixed, "again").await, "backend-2", "a UDP session keeps its endpoint");
    for name in ["web", "sticky", "dns"] {
        let mut s = slices.get(&format!("{name}-abc")).await.unwrap();
        s.endpoints.retain(|e| e.addresses[0] != backend_ip(2));
        slices.update(&s).await.unwrap();
    }
    synced(&status, "backend-2 removed", |s| {
        ready(s, "web", Protocol::Tcp) == Some(2)
            && ready(s, "sticky", Protocol::Tcp) == Some(2)
            && ready(s, "dns", Protocol::Udp) == Some(2)
    })
    .await;
    let moved = udp_ask(&fixed, "after").await;
    assert!(moved == "backend-1" || moved == "backend-3", "the fixed-port UDP client moved off backend-2: {moved}");
    let counts = hits(&node, web_addr, None, 20).await;
    assert_eq!(
        counts,
        BTreeMap::from([("backend-1".into(), 10), ("backend-3".into(), 10)]),
        "no new connection reaches backend-2"
    );
    assert_eq!(echo(&mut held, "after").await, "after", "an open connection goes on");
    drop(held);
    // The client pinned to backend-2 moves, and sticks to its new backend;
    // the others keep theirs.
    for (k, before) in &pinned {
        let from: IpAddr = format!("10.0.{k}.1").parse().unwrap();
        let counts = hits(&node, sticky_addr, Some(from), 5).await;
        assert_eq!(counts.len(), 1, "client {from} still pinned: {counts:?}");
        let now = counts.keys().next().unwrap();
        if *k == on_two {
            assert_ne!(now, "backend-2");
        } else {
            assert_eq!(now, before, "client {from} keeps its backend");
        }
    }

    // A deleted service: its listener closes and its address leaves lo.
    services.delete("empty", &Default::default()).await.unwrap();
    synced(&status, "empty deleted", |s| !s.services.contains_key(&spn("empty", Protocol::Tcp))).await;
    assert!(!lo_addrs(&node).contains(&format!("{EMPTY_IP}/32")));
    assert!(!proxier.listening().await.contains(&(Protocol::Tcp, addr(EMPTY_IP, 80))));

    // Stop the loop, clean up: no listener, no address left.
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), running).await.expect("the proxy stops").unwrap();
    proxier.cleanup().await.unwrap();
    assert!(proxier.listening().await.is_empty());
    let left = lo_addrs(&node);
    assert!(!left.iter().any(|a| a.starts_with("10.96.")), "cluster IPs removed from lo: {left:?}");
    assert!(testing::tcp_request(&client, addr(NODE_IP, NODE_PORT), None, "x").await.is_err(), "node port closed");
    for server in &servers {
        server.abort();
    }
}

/// Sends `payload` from `socket` to the dns service and returns the backend
/// that answered (resending every second, for 10 s).
async fn udp_ask(socket: &tokio::net::UdpSocket, payload: &str) -> String {
    let mut buf = [0u8; 512];
    for _ in 0..10 {
        socket.send_to(payload.as_bytes(), addr(DNS_IP, 53)).await.unwrap();
        if let Ok(Ok((n, _))) = tokio::time::timeout(Duration::from_secs(1), socket.recv_from(&mut buf)).await {
            return backend_of(String::from_utf8_lossy(&buf[..n]).trim());
        }
    }
    panic!("no UDP answer to {payload:?}");
}
