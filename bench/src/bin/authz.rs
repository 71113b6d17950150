//! What authentication and RBAC cost the API server: gets/s of one pod by
//! name, unauthenticated (the path of the k-apiserver benchmark) against
//! authenticated and RBAC-authorized, with 1,000 RoleBindings in the
//! cluster, in the same run.
//!
//! `cargo run --release --manifest-path bench/Cargo.toml --bin authz`
//!
//! One in-memory store with 2,000 pods in namespace `bench`, 1,000
//! RoleBindings (one per user `user-<i>`, in 100 namespaces, to the `view`
//! ClusterRole) plus the reader's own binding, and the bootstrap policy.
//! Four servers over that store, in one process:
//!
//! - `plain`: HTTP, no authentication or authorization (`ServerConfig::default()`);
//! - `plain+rbac`: HTTP, a bearer token from a token file, RBAC;
//! - `tls`: HTTPS, no authentication or authorization;
//! - `tls+rbac`: HTTPS with a client certificate, RBAC.
//!
//! Each phase runs 64 keep-alive HTTP/1.1 connections doing `GET
//! /api/v1/namespaces/bench/pods/<name>` for `K_BENCH_SECS` (default 2 s).
//! Like is compared with like — `plain+rbac` with `plain`, `tls+rbac` with
//! `tls` — in `K_BENCH_ROUNDS` rounds (default 9) of the two phases back to
//! back; the result is the median of the per-round ratios. Target (issue
//! 5): authorization costs under 10% of throughput.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use k_apiserver::security::SecurityOptions;
use k_apiserver::tls::{CertifiedKey, Pki, rustls};
use k_apiserver::{ApiServer, ServerConfig};
use k_store::api::UserInfo;
use k_store::{ObjectApi, Store};
use serde_json::json;

const NS: &str = "bench";
const PODS: usize = 2_000;
const BINDINGS: usize = 1_000;
const CONNS: usize = 64;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

type Sender = http1::SendRequest<Full<Bytes>>;

/// How a phase reaches its server.
#[derive(Clone)]
enum Client {
    Plain { token: Option<String> },
    Tls { cert: Option<CertifiedKey>, ca: String },
}

async fn create(api: &dyn ObjectApi, resource: (&str, &str), ns: &str, object: serde_json::Value) {
    let admin = UserInfo { username: "admin".into(), groups: vec!["system:masters".into()], ..UserInfo::default() };
    let gvr = k_api_types::GroupVersionResource::new(resource.0, "v1", resource.1);
    match api.create(&gvr, ns, serde_json::from_value(object).expect("object"), &admin).await {
        Ok(_) => {}
        Err(e) if e.is_already_exists() => {}
        Err(e) => panic!("creating {}: {e}", resource.1),
    }
}

fn binding(name: &str, user: &str) -> serde_json::Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": name},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
           "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user}]})
}

async fn fill(store: &Store) {
    let api: &dyn ObjectApi = store;
    let rbac = ("rbac.authorization.k8s.io", "rolebindings");
    for i in 0..100 {
        create(api, ("", "namespaces"), "", json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("ns-{i}")}})).await;
    }
    create(api, ("", "namespaces"), "", json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})).await;
    for i in 0..BINDINGS {
        create(api, rbac, &format!("ns-{}", i % 100), binding(&format!("user-{i}"), &format!("user-{i}"))).await;
    }
    // The reader's binding among 10 others in the same namespace.
    for i in 0..10 {
        create(api, rbac, NS, binding(&format!("other-{i}"), &format!("other-{i}"))).await;
    }
    create(api, rbac, NS, binding("reader", "reader")).await;
    for i in 0..PODS {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("pod-{i}"), "labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "web", "image": "nginx:1.25", "resources": {"requests": {"cpu": "100m"}}}]}});
        create(api, ("", "pods"), NS, pod).await;
    }
}

async fn serve(store: &Store, config: ServerConfig, tls: Option<Arc<rustls::ServerConfig>>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let config = ServerConfig { max_requests_inflight: 0, external_address: addr.to_string(), ..config };
    let server = ApiServer::new(Arc::new(store.clone()), config);
    tokio::spawn(async move {
        match tls {
            None => server.serve(listener, std::future::pending()).await,
            Some(tls) => server.serve_tls(listener, tls, std::future::pending()).await,
        }
    });
    addr
}

async fn connect(addr: SocketAddr, client: &Client) -> Sender {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    match client {
        Client::Plain { .. } => {
            let (sender, conn) = http1::handshake(TokioIo::new(tcp)).await.expect("handshake");
            tokio::spawn(conn);
            sender
        }
        Client::Tls { cert, ca } => {
            use rustls::pki_types::pem::PemObject;
            let mut roots = rustls::RootCertStore::empty();
            for c in rustls::pki_types::CertificateDer::pem_slice_iter(ca.as_bytes()) {
                roots.add(c.expect("ca")).expect("root");
            }
            let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_root_certificates(roots);
            let config = match cert {
                Some(cert) => {
                    let chain = rustls::pki_types::CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes())
                        .collect::<Result<Vec<_>, _>>()
                        .expect("chain");
                    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).expect("key");
                    builder.with_client_auth_cert(chain, key).expect("client cert")
                }
                None => builder.with_no_client_auth(),
            };
            let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
            let stream = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.expect("tls");
            let (sender, conn) = http1::handshake(TokioIo::new(stream)).await.expect("handshake");
            tokio::spawn(conn);
            sender
        }
    }
}

/// Gets/s over `CONNS` connections for `secs`; with p50 and p99 in ms.
async fn gets(addr: SocketAddr, client: &Client, secs: f64) -> (f64, f64, f64) {
    let senders = futures::future::join_all((0..CONNS).map(|_| connect(addr, client))).await;
    let token = match client {
        Client::Plain { token } => token.clone(),
        Client::Tls { .. } => None,
    };
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(w, mut sender)| {
            let token = token.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut i = w * 7919;
                while Instant::now() < deadline {
                    i = (i + 104_729) % PODS;
                    let mut request = Request::builder()
                        .method(Method::GET)
                        .uri(format!("/api/v1/namespaces/{NS}/pods/pod-{i}"))
                        .header(hyper::header::HOST, "localhost")
                        .header(hyper::header::ACCEPT, "application/json");
                    if let Some(token) = &token {
                        request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
                    }
                    let t = Instant::now();
                    sender.ready().await.expect("ready");
                    let response = sender.send_request(request.body(Full::new(Bytes::new())).expect("request")).await.expect("send");
                    let status = response.status();
                    let body = response.into_body().collect().await.expect("body").to_bytes();
                    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
                    latencies.push(t.elapsed().as_nanos() as u64);
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("worker"));
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| all.get(((all.len() as f64 - 1.0) * p) as usize).map_or(0.0, |n| *n as f64 / 1e6);
    (all.len() as f64 / elapsed, pct(0.5), pct(0.99))
}

#[tokio::main]
async fn main() {
    let secs = env("K_BENCH_SECS", 2.0);
    let rounds = env("K_BENCH_ROUNDS", 9usize);
    let dir = std::env::temp_dir().join(format!("k-bench-authz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let pki = Pki::load_or_create(&dir, &[], &[]).expect("pki");
    std::fs::write(dir.join("tokens.csv"), "reader-token,reader,1\n").expect("token file");

    let store = Store::in_memory();
    let started = Instant::now();
    let api: Arc<dyn ObjectApi> = Arc::new(store.clone());
    let mut options = SecurityOptions::new(&pki.service_account_key_pem);
    options.token_auth_file = Some(dir.join("tokens.csv"));
    let security = options.build(api).await.expect("security");
    fill(&store).await;
    let rbac = security.rbac.clone().expect("rbac");
    while rbac.counts()[2] < BINDINGS + 11 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "{PODS} pods, {} RoleBindings, {} ClusterRoleBindings, {} ClusterRoles cached (setup {:.1} s)",
        rbac.counts()[2],
        rbac.counts()[3],
        rbac.counts()[1],
        started.elapsed().as_secs_f64()
    );

    let mut secured = ServerConfig::default();
    security.configure(&mut secured);
    let tls = pki.server_config().expect("tls");
    let reader = pki.client_certificate("reader", None).expect("reader certificate");
    let ca = pki.ca.cert_pem.clone();
    let phases: Vec<(&str, SocketAddr, Client)> = vec![
        ("plain", serve(&store, ServerConfig::default(), None).await, Client::Plain { token: None }),
        ("plain+rbac", serve(&store, secured.clone(), None).await, Client::Plain { token: Some("reader-token".into()) }),
        ("tls", serve(&store, ServerConfig::default(), Some(tls.clone())).await, Client::Tls { cert: None, ca: ca.clone() }),
        ("tls+rbac", serve(&store, secured, Some(tls)).await, Client::Tls { cert: Some(reader), ca }),
    ];
    // Warm up every path once.
    for (_, addr, client) in &phases {
        gets(*addr, client, 1.0).await;
    }
    // Each comparison runs its two phases back to back, round after round,
    // and takes the median of the per-round ratios: the machine's own drift
    // (a shared VM's throughput moves by ±20% over tens of seconds) hits
    // both halves of a round alike.
    for (base, secured) in [(0, 1), (2, 3)] {
        let mut ratios = Vec::new();
        let mut rates = (Vec::new(), Vec::new());
        for round in 0..rounds {
            let a = gets(phases[base].1, &phases[base].2, secs).await;
            let b = gets(phases[secured].1, &phases[secured].2, secs).await;
            println!(
                "round {:>2} {:>5}: {:>6.0} gets/s (p50 {:.2} ms, p99 {:.2} ms)  {:>10}: {:>6.0} gets/s (p50 {:.2} ms, p99 {:.2} ms)  ratio {:.3}",
                round + 1,
                phases[base].0,
                a.0,
                a.1,
                a.2,
                phases[secured].0,
                b.0,
                b.1,
                b.2,
                b.0 / a.0
            );
            ratios.push(b.0 / a.0);
            rates.0.push(a.0);
            rates.1.push(b.0);
        }
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let ratio = median(ratios);
        println!(
            "{} vs {}: median {:.0} vs {:.0} gets/s; median ratio {ratio:.3} (authentication + RBAC cost {:.1}%)\n",
            phases[secured].0,
            phases[base].0,
            median(rates.1),
            median(rates.0),
            (1.0 - ratio) * 100.0
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
