//! The proxy benchmarks: the userspace proxy against direct connections,
//! and iptables sync times.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use k_netplugin::iproute;
use k_netplugin::netns::NsWorker;
use k_netplugin::proxy::iptables::{Backend, IptablesProxier, RenderOptions};
use k_netplugin::proxy::userspace::{UserspaceOptions, UserspaceProxier};
use k_netplugin::proxy::{Affinity, ChangeSet, Endpoint, Protocol, Proxier, ProxyState, ServicePort, ServicePortName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{Spaces, ms, percentile};

const BACKEND: &str = "10.250.0.2";
const CLUSTER_IP: &str = "10.96.0.10";

fn service(name: &str, cluster_ip: IpAddr, port: u16, endpoints: Vec<Endpoint>, node_port: Option<u16>) -> ServicePort {
    ServicePort {
        name: ServicePortName {
            namespace: "bench".into(),
            name: name.into(),
            port: "http".into(),
            protocol: Protocol::Tcp,
        },
        cluster_ip: Some(cluster_ip),
        port,
        node_port,
        external_ips: Vec::new(),
        affinity: Affinity::None,
        endpoints,
    }
}

fn endpoint(ip: IpAddr, port: u16) -> Endpoint {
    Endpoint { ip, port, ready: true, node_name: None }
}

/// The backend: port 8080 echoes, port 8081 counts what it reads until EOF
/// and answers with the count (8 bytes).
fn start_backend(worker: &NsWorker) {
    let addr: IpAddr = BACKEND.parse().expect("ip");
    let _echo = worker.spawn(move || async move {
        let listener = TcpListener::bind(SocketAddr::new(addr, 8080)).await.expect("bind 8080");
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 || stream.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    let _sink = worker.spawn(move || async move {
        let listener = TcpListener::bind(SocketAddr::new(addr, 8081)).await.expect("bind 8081");
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 256 * 1024];
                let mut total: u64 = 0;
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    total += n as u64;
                }
                let _ = stream.write_all(&total.to_be_bytes()).await;
            });
        }
    });
}

/// Bytes per second pushed through one connection to `to` for `secs`.
async fn throughput(to: SocketAddr, secs: f64) -> f64 {
    let mut stream = TcpStream::connect(to).await.expect("connect");
    let chunk = vec![7u8; 256 * 1024];
    let start = Instant::now();
    let mut sent: u64 = 0;
    while start.elapsed().as_secs_f64() < secs {
        stream.write_all(&chunk).await.expect("write");
        sent += chunk.len() as u64;
    }
    stream.shutdown().await.expect("shutdown");
    let mut count = [0u8; 8];
    stream.read_exact(&mut count).await.expect("count");
    assert_eq!(u64::from_be_bytes(count), sent, "every byte arrived");
    sent as f64 / start.elapsed().as_secs_f64()
}

/// Connections per second (connect, 1-byte round trip, close) from
/// `clients` concurrent loops for `secs`, and every connection's latency.
async fn connections(to: SocketAddr, secs: f64, clients: usize) -> (f64, Vec<Duration>) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while start.elapsed().as_secs_f64() < secs {
                let t = Instant::now();
                let mut s = TcpStream::connect(to).await.expect("connect");
                s.set_nodelay(true).expect("nodelay");
                s.write_all(b"x").await.expect("write");
                let mut b = [0u8; 1];
                s.read_exact(&mut b).await.expect("read");
                drop(s);
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("client"));
    }
    let rate = all.len() as f64 / start.elapsed().as_secs_f64();
    all.sort();
    (rate, all)
}

pub(crate) async fn proxy(seconds: usize) {
    let secs = seconds as f64;
    let mut spaces = Spaces::default();
    let node = spaces.create("pnode");
    let backend = spaces.create("pback");
    iproute::veth_pair(&node, "kb-b", &backend, "kb-n").expect("veth");
    iproute::addr_add(&node, "kb-b", "10.250.0.1/24").expect("addr");
    iproute::addr_add(&backend, "kb-n", &format!("{BACKEND}/24")).expect("addr");
    iproute::link_up(&node, "kb-b").expect("up");
    iproute::link_up(&backend, "kb-n").expect("up");
    // Tens of thousands of short connections to one address: let the
    // kernel reuse TIME_WAIT ports and use the whole port range, or the
    // port search, not the proxy, is what gets measured (whichever path
    // runs second would pay for the first one's TIME_WAIT sockets).
    for ns in [&node, &backend] {
        iproute::sysctl(ns, "net.ipv4.tcp_tw_reuse", "1").expect("sysctl");
        iproute::sysctl(ns, "net.ipv4.ip_local_port_range", "1024 65535").expect("sysctl");
    }
    let backend_worker = backend.worker().expect("worker");
    start_backend(&backend_worker);

    let proxier = UserspaceProxier::new(UserspaceOptions { netns: Some(node.clone()), ..UserspaceOptions::default() });
    let cluster_ip: IpAddr = CLUSTER_IP.parse().expect("ip");
    let backend_ip: IpAddr = BACKEND.parse().expect("ip");
    let mut state = ProxyState { services: BTreeMap::new() };
    for (name, port, target) in [("echo", 80, 8080), ("sink", 81, 8081)] {
        let svc = service(name, cluster_ip, port, vec![endpoint(backend_ip, target)], None);
        state.services.insert(svc.name.clone(), svc);
    }
    proxier.sync(&state, &ChangeSet::full()).await.expect("sync");

    // The clients run on a thread inside the node namespace.
    let client = node.worker().expect("worker");
    let (direct, proxied) = (backend_ip, cluster_ip);
    let report = client.spawn(move || async move {
        let d = throughput(SocketAddr::new(direct, 8081), secs).await;
        let p = throughput(SocketAddr::new(proxied, 81), secs).await;
        // Direct and proxied connections alternate in short slices, so both
        // see the same machine state.
        let (mut dl, mut pl) = (Vec::new(), Vec::new());
        let (mut dt, mut pt) = (0.0, 0.0);
        let slices = (secs * 4.0).ceil() as usize;
        for _ in 0..slices {
            let (rate, lat) = connections(SocketAddr::new(direct, 8080), 0.25, 4).await;
            dt += lat.len() as f64 / rate;
            dl.extend(lat);
            let (rate, lat) = connections(SocketAddr::new(proxied, 80), 0.25, 4).await;
            pt += lat.len() as f64 / rate;
            pl.extend(lat);
        }
        dl.sort();
        pl.sort();
        let (dr, pr) = (dl.len() as f64 / dt, pl.len() as f64 / pt);
        let (d50, d99) = (percentile(&dl, 0.5), percentile(&dl, 0.99));
        let (p50, p99) = (percentile(&pl, 0.5), percentile(&pl, 0.99));
        format!(
            "userspace proxy vs direct, {secs} s each, inside namespaces\n\
             \x20 throughput, 1 connection: direct {:.0} MiB/s, proxy {:.0} MiB/s, ratio {:.2}\n\
             \x20 connections/s, 4 clients: direct {dr:.0}, proxy {pr:.0}, ratio {:.2}\n\
             \x20 connection latency: direct p50 {:.3} ms p99 {:.3} ms; proxy p50 {:.3} ms p99 {:.3} ms; added p99 {:.3} ms",
            d / 1048576.0,
            p / 1048576.0,
            p / d,
            pr / dr,
            ms(d50),
            ms(d99),
            ms(p50),
            ms(p99),
            ms(p99.saturating_sub(d99)),
        )
    });
    println!("{}", report.await.expect("clients"));
    proxier.cleanup().await.expect("cleanup");
    drop(backend_worker);
}

fn many_services(n: usize) -> ProxyState {
    let mut services = BTreeMap::new();
    for i in 0..n {
        let ip = IpAddr::from([10, 96, (i / 250) as u8, (i % 250 + 1) as u8]);
        let endpoints = (0..3)
            .map(|e| endpoint(IpAddr::from([10, 244, (i / 80) as u8, ((i % 80) * 3 + e + 1) as u8]), 8080))
            .collect();
        let svc =
            service(&format!("svc{i}"), ip, 80, endpoints, Some(30000 + (i % 2000) as u16).filter(|_| i % 10 == 0));
        services.insert(svc.name.clone(), svc);
    }
    ProxyState { services }
}

pub(crate) async fn iptables(limit: Duration) {
    let mut spaces = Spaces::default();
    println!("iptables proxier sync time, inside a namespace (3 endpoints per service, 1 in 10 with a node port)");
    for backend in [Backend::Legacy, Backend::Nft] {
        for n in [1_000usize, 10_000] {
            let ns = spaces.create(&format!("{}{n}", if backend == Backend::Legacy { "l" } else { "n" }));
            let proxier = IptablesProxier::new(RenderOptions::default().with_cluster_cidr("10.244.0.0/16"))
                .in_namespace(ns.clone())
                .with_backend(backend);
            let mut state = many_services(n);
            let start = Instant::now();
            match tokio::time::timeout(limit, proxier.sync(&state, &ChangeSet::full())).await {
                Ok(done) => {
                    done.expect("full sync");
                }
                Err(_) => {
                    println!("  {backend:?} {n:>6} services: first full sync did not finish in {limit:?}");
                    // Stop the restore still running in the namespace.
                    if let Ok(out) = std::process::Command::new("ip").args(["netns", "pids", ns.name()]).output() {
                        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                            let _ = std::process::Command::new("kill").args(["-9", pid]).status();
                        }
                    }
                    continue;
                }
            }
            let full = start.elapsed();
            // Change one service's endpoints.
            let old = state.clone();
            if let Some(svc) = state.services.values_mut().next() {
                svc.endpoints.pop();
            }
            let changes = ChangeSet::between(&old, &state);
            let start = Instant::now();
            proxier.sync(&state, &changes).await.expect("partial sync");
            let one = start.elapsed();
            let start = Instant::now();
            proxier.sync(&state, &ChangeSet::full()).await.expect("full resync");
            let again = start.elapsed();
            println!(
                "  {backend:?} {n:>6} services: first full sync {:.0} ms, one-service sync {:.1} ms, full resync {:.0} ms",
                ms(full),
                ms(one),
                ms(again)
            );
            proxier.cleanup().await.expect("cleanup");
        }
    }
}
