//! The k control plane: a store and the Kubernetes API server.
//!
//! `cargo run --release --example control-plane` keeps its data in
//! `./k-data`, serves on 127.0.0.1:6443 and writes `./kubeconfig`; then
//! `kubectl --kubeconfig ./kubeconfig get namespaces` works. `--help` lists
//! the options (in-memory store, etcd, addresses).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use k_api_types::Resource;
use k_api_types::core::v1::Namespace;
use k_apiserver::allocator::{ServiceAllocator, ServiceRanges};
use k_apiserver::{ApiServer, ServerConfig};
use k_store::backend::Backend;
use k_store::backend::durable::DurableBackend;
use k_store::backend::etcd::EtcdBackend;
use k_store::backend::memory::MemoryBackend;
use k_store::{Api, Store};

/// The control plane allocates through mimalloc: with glibc's malloc,
/// allocation takes about a third of the API server's CPU under load
/// (docs/apiserver/benchmarks.md). Libraries leave this choice to binaries.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Command-line options (named like kube-apiserver's).
#[derive(Debug, Parser)]
#[command(name = "control-plane", about = "A k control plane: store and Kubernetes API server")]
struct Options {
    /// Directory of the durable embedded store.
    #[arg(long, default_value = "./k-data")]
    data_dir: PathBuf,
    /// Keep everything in memory (lost at exit).
    #[arg(long, conflicts_with = "etcd_servers")]
    in_memory: bool,
    /// Use etcd at these URLs (comma-separated) instead of the embedded store.
    #[arg(long, value_delimiter = ',')]
    etcd_servers: Vec<String>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind_address: std::net::IpAddr,
    /// Port to listen on.
    #[arg(long, default_value_t = 6443)]
    secure_port: u16,
    /// Where to write the admin kubeconfig.
    #[arg(long, default_value = "./kubeconfig")]
    write_kubeconfig: PathBuf,
    /// IPv4 range of Service cluster IPs.
    #[arg(long, default_value = "10.96.0.0/12")]
    service_cluster_ip_range: String,
    /// Range of Service node ports.
    #[arg(long, default_value = "30000-32767")]
    service_node_port_range: String,
    /// Concurrent requests (not watches) before answering 429.
    #[arg(long, default_value_t = 400)]
    max_requests_inflight: usize,
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    if let Err(e) = run(Options::parse()).await {
        eprintln!("control-plane: {e}");
        std::process::exit(1);
    }
}

async fn run(options: Options) -> Result<(), String> {
    let (backend, described): (Arc<dyn Backend>, String) = if options.in_memory {
        (Arc::new(MemoryBackend::new()), "in memory".into())
    } else if !options.etcd_servers.is_empty() {
        let b = EtcdBackend::connect(&options.etcd_servers).await.map_err(|e| e.to_string())?;
        (Arc::new(b), format!("etcd at {}", options.etcd_servers.join(",")))
    } else {
        let dir = options.data_dir.clone();
        let b = tokio::task::spawn_blocking(move || DurableBackend::open(dir))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("opening the store in {}: {e}", options.data_dir.display()))?;
        (Arc::new(b), format!("durable, in {}", options.data_dir.display()))
    };
    let store = Store::new(backend);
    let crds = store.load_custom_resources().await.map_err(|e| format!("loading custom resources: {e}"))?;
    ensure_namespaces(&store).await?;
    let ranges = ServiceRanges::parse(&options.service_cluster_ip_range, &options.service_node_port_range)?;
    ServiceAllocator::install(&store, ranges).await.map_err(|e| format!("loading service addresses: {e}"))?;

    let addr = SocketAddr::new(options.bind_address, options.secure_port);
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("listening on {addr}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let config = ServerConfig {
        max_requests_inflight: options.max_requests_inflight,
        external_address: addr.to_string(),
        ..ServerConfig::default()
    };
    let server = ApiServer::new(Arc::new(store), config);
    let server_url = format!("http://{addr}");
    write_kubeconfig(&options.write_kubeconfig, &server_url)?;

    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve(listener, shutdown_signal()).await }
    });
    wait_ready(&server_url).await;
    println!(
        "k control plane ready: API server at {server_url}, store {described} ({crds} custom resource definitions)"
    );
    println!("try: kubectl --kubeconfig {} get namespaces", options.write_kubeconfig.display());
    match serving.await {
        Ok(Ok(())) => {
            println!("k control plane stopped");
            Ok(())
        }
        Ok(Err(e)) => Err(format!("serving: {e}")),
        Err(e) => Err(format!("serving: {e}")),
    }
}

/// The namespaces every cluster has.
async fn ensure_namespaces(store: &Store) -> Result<(), String> {
    let api: Api<Namespace> = Api::all(store.clone());
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        match api.create(&Namespace::named(name)).await {
            Ok(_) => {}
            Err(e) if e.is_already_exists() => {}
            Err(e) => return Err(format!("creating namespace {name}: {e}")),
        }
    }
    Ok(())
}

fn write_kubeconfig(path: &PathBuf, server: &str) -> Result<(), String> {
    // JSON is YAML: kubectl reads it as is.
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": "k", "cluster": { "server": server } }],
        "users": [{ "name": "admin", "user": {} }],
        "contexts": [{ "name": "k", "context": { "cluster": "k", "user": "admin", "namespace": "default" } }],
        "current-context": "k",
        "preferences": {},
    });
    let text = serde_json::to_string_pretty(&config).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Polls `/readyz` until it answers ok.
async fn wait_ready(url: &str) {
    let addr = url.trim_start_matches("http://").to_owned();
    for _ in 0..100 {
        if let Ok(mut s) = tokio::net::TcpStream::connect(&addr).await {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let req = format!("GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
            if s.write_all(req.as_bytes()).await.is_ok() {
                let mut out = String::new();
                if s.read_to_string(&mut out).await.is_ok() && out.starts_with("HTTP/1.1 200") {
                    return;
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
