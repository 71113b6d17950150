//! The k control plane: a store and the Kubernetes API server.
//!
//! `cargo run --release --example control-plane` keeps its data in
//! `./k-data`, serves HTTPS on 127.0.0.1:6443 and writes `./kubeconfig`;
//! then `kubectl --kubeconfig ./kubeconfig get namespaces` works. On first
//! start it creates a CA, the server's certificate and an admin client
//! certificate in `./k-data/pki` (or serves with `--tls-cert-file` and
//! `--tls-private-key-file`); the kubeconfig carries the CA and the admin
//! certificate. Requests are authenticated (client certificates,
//! `--token-auth-file`, service-account tokens) and authorized by RBAC with
//! Kubernetes' bootstrap roles. The scheduler runs in the same process
//! (k-scheduler, the default profile or `--scheduler-config`), under leader
//! election so that several control planes can share one etcd. `--help`
//! lists the options (in-memory store, etcd, addresses, security, the
//! insecure port, the scheduler). Nodes run in the same process: one
//! simulated node by default (`--nodes N` for more, `--nodes 0` for none),
//! and with `--process-node NAME` (root) a real node that runs pods as
//! processes on this machine; `kubectl logs` reads their logs. The
//! controller manager (k-controllers, `--controllers`) runs here too, and
//! with a process node the service proxy (`--service-proxy`) makes
//! ClusterIPs answer on this machine; `--cluster-cidr` hands out node pod
//! ranges.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use k_api_types::Resource;
use k_api_types::core::v1::Namespace;
use k_apiserver::allocator::{ServiceAllocator, ServiceRanges};
use k_apiserver::authz::Mode;
use k_apiserver::security::SecurityOptions;
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
    /// Port to serve HTTPS on.
    #[arg(long, default_value_t = 6443)]
    secure_port: u16,
    /// Where the generated certificates live (default: `<data-dir>/pki`).
    #[arg(long)]
    cert_dir: Option<PathBuf>,
    /// Serving certificate (PEM, chain allowed) instead of a generated one.
    #[arg(long, requires = "tls_private_key_file")]
    tls_cert_file: Option<PathBuf>,
    /// Private key of `--tls-cert-file` (PEM).
    #[arg(long, requires = "tls_cert_file")]
    tls_private_key_file: Option<PathBuf>,
    /// CA that signs client certificates (with `--tls-cert-file`; the
    /// generated PKI uses its own CA).
    #[arg(long)]
    client_ca_file: Option<PathBuf>,
    /// Let requests without credentials in, as `system:anonymous` (RBAC's
    /// bootstrap policy lets them read only health and version).
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set)]
    anonymous_auth: bool,
    /// Static bearer tokens: CSV lines `token,user,uid,"group1,group2"`.
    #[arg(long)]
    token_auth_file: Option<PathBuf>,
    /// Authorizers, in order (comma-separated): RBAC, AlwaysAllow, AlwaysDeny.
    #[arg(long, default_value = "RBAC")]
    authorization_mode: String,
    /// Issuer of service-account tokens (repeat to accept more; the first issues).
    #[arg(long, default_value = k_apiserver::authn::service_account::DEFAULT_ISSUER)]
    service_account_issuer: Vec<String>,
    /// Key that signs service-account tokens (PKCS#8 PEM, EC or RSA;
    /// default: `<cert-dir>/sa.key`, created on first start).
    #[arg(long)]
    service_account_signing_key_file: Option<PathBuf>,
    /// More keys that verify service-account tokens (PEM; repeatable).
    #[arg(long)]
    service_account_key_file: Vec<PathBuf>,
    /// Audiences of the API (default: the issuer), comma-separated.
    #[arg(long, value_delimiter = ',')]
    api_audiences: Vec<String>,
    /// Admission plugins to turn on besides the defaults (comma-separated).
    #[arg(long, value_delimiter = ',')]
    enable_admission_plugins: Vec<String>,
    /// Admission plugins to turn off (comma-separated).
    #[arg(long, value_delimiter = ',')]
    disable_admission_plugins: Vec<String>,
    /// Longest lifetime of a requested service-account token, in seconds.
    #[arg(long)]
    service_account_max_token_expiration: Option<i64>,
    /// Also serve plain HTTP on this port (0: off). Unauthenticated and
    /// unencrypted: for local debugging only, never in production.
    #[arg(long, default_value_t = 0)]
    insecure_port: u16,
    /// Address of the insecure port.
    #[arg(long, default_value = "127.0.0.1")]
    insecure_bind_address: std::net::IpAddr,
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
    /// Run the scheduler in this process.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    scheduler: bool,
    /// KubeSchedulerConfiguration file (kubescheduler.config.k8s.io/v1)
    /// with the scheduler's profiles (default: one default profile).
    #[arg(long)]
    scheduler_config: Option<PathBuf>,
    /// Schedule only while holding the `kube-system/kube-scheduler` Lease.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    leader_elect: bool,
    /// Serve the scheduler's Prometheus metrics on this port of
    /// `--bind-address`, at `/metrics` (0: off).
    #[arg(long, default_value_t = 0)]
    scheduler_metrics_port: u16,
    /// Simulated nodes to run in this process (k-node agents on the fake
    /// runtime, named `sim-node-<i>`): pods bound to them go through the
    /// whole kubelet sequence without running anything.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Run a real node named NAME on this machine (root): pods bound to it
    /// run as processes in their own network namespace (CNI bridge
    /// `k-cni0`), with images mapped to the host's filesystem.
    #[arg(long, value_name = "NAME")]
    process_node: Option<String>,
    /// Controllers to run (kube-controller-manager's `--controllers`:
    /// `*` for the defaults, `name` to add, `-name` to remove; empty for
    /// none).
    #[arg(long, default_value = "*")]
    controllers: String,
    /// The process node's pod CIDR.
    #[arg(long, default_value = "10.244.0.0/24")]
    process_node_pod_cidr: String,
    /// The pods' address range: with it, the node IPAM controller gives
    /// every node without a `spec.podCIDR` a range of it
    /// (kube-controller-manager's `--cluster-cidr` with
    /// `--allocate-node-cidrs`).
    #[arg(long, value_name = "CIDR")]
    cluster_cidr: Option<String>,
    /// The size of each node's range of `--cluster-cidr`.
    #[arg(long, default_value_t = 24)]
    node_cidr_mask_size: u8,
    /// Run the service proxy (k-netplugin's userspace proxier) in this
    /// machine's network namespace, so that ClusterIPs answer here: `on`,
    /// `off`, or `auto` (on with `--process-node`, whose pods are real).
    #[arg(long, default_value = "auto", value_parser = ["auto", "on", "off"])]
    service_proxy: String,
    /// Where the reference CNI plugins are (the process node's network).
    #[arg(long, default_value = "/usr/lib/cni")]
    cni_bin_dir: PathBuf,
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
    let (tls, credentials) = tls(&options)?;
    let api: Arc<dyn k_store::ObjectApi> = Arc::new(store.clone());
    let metrics = Arc::new(std::sync::Mutex::new(prometheus_client::registry::Registry::default()));
    let scheduler = if options.scheduler { Some(scheduler(&options, api.clone(), metrics.clone())?) } else { None };
    let admission = k_apiserver::admission::Admission::from_flags(
        &options.enable_admission_plugins,
        &options.disable_admission_plugins,
        api.clone(),
    )?;
    tracing::info!("admission plugins: {}", admission.names().join(", "));
    admission.install(&store);
    k_apiserver::admission::priority::ensure_system_classes(api.as_ref())
        .await
        .map_err(|e| format!("creating the system priority classes: {e}"))?;
    let security = security(&options, api.clone()).await?;
    store.add_admission(security.escalation_guard());
    let logs = Arc::new(k_node::logs::ApiLogSource::new(api.clone()));
    let config = ServerConfig {
        log_source: Some(logs.clone()),
        max_requests_inflight: options.max_requests_inflight,
        external_address: addr.to_string(),
        ..ServerConfig::default()
    };
    let mut secure = config.clone();
    security.configure(&mut secure);
    let server = ApiServer::new(api.clone(), secure);
    let host = if addr.ip().is_unspecified() { SocketAddr::from(([127, 0, 0, 1], addr.port())) } else { addr };
    let server_url = format!("https://{host}");
    write_kubeconfig(&options.write_kubeconfig, &server_url, &credentials)?;

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let insecure = if options.insecure_port == 0 {
        None
    } else {
        let addr = SocketAddr::new(options.insecure_bind_address, options.insecure_port);
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("listening on {addr} (insecure): {e}"))?;
        tracing::warn!(
            "the insecure port serves plain HTTP on {addr} without authentication or encryption: \
             for local debugging only, disable it in production (--insecure-port 0)"
        );
        // The insecure port authenticates and authorizes nobody
        // (kube-apiserver's did the same); it can still issue tokens.
        let server = ApiServer::new(
            Arc::new(store),
            ServerConfig { service_accounts: Some(security.service_accounts.clone()), ..config },
        );
        let mut stopped = stopped.clone();
        Some(tokio::spawn(async move {
            server
                .serve(listener, async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await
        }))
    };
    let serving = tokio::spawn({
        let server = server.clone();
        async move {
            let result = server.serve_tls(listener, tls, shutdown_signal()).await;
            let _ = stop.send(true);
            result
        }
    });
    wait_ready(&options.write_kubeconfig).await?;
    if options.scheduler_metrics_port != 0 {
        let addr = SocketAddr::new(options.bind_address, options.scheduler_metrics_port);
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("listening on {addr} (metrics): {e}"))?;
        let mut stopped = stopped.clone();
        tokio::spawn(k_runtime::metrics::serve(listener, metrics, async move {
            let _ = stopped.wait_for(|s| *s).await;
        }));
        println!("scheduler metrics at http://{addr}/metrics");
    }
    if let Some(ca) = &credentials.ca {
        use base64::Engine;
        let pem = base64::engine::general_purpose::STANDARD.decode(ca).unwrap_or_default();
        tokio::spawn(publish_root_ca(api.clone(), String::from_utf8_lossy(&pem).into_owned()));
    }
    let controllers = if options.controllers.trim().is_empty() {
        None
    } else {
        let selection = k_controllers::Selection::parse(&options.controllers).map_err(|e| e.to_string())?;
        let node_ipam = match &options.cluster_cidr {
            Some(cidr) => Some(
                k_controllers::nodeipam::NodeIpamOptions::parse(cidr, options.node_cidr_mask_size)
                    .map_err(|e| format!("--cluster-cidr: {e}"))?,
            ),
            None => None,
        };
        let controller_options = k_controllers::ControllerOptions { node_ipam, ..Default::default() };
        let mut manager = k_controllers::ControllerManager::with_options(api.clone(), selection, controller_options);
        if options.leader_elect {
            let identity = format!(
                "{}_{}",
                std::env::var("HOSTNAME").unwrap_or_else(|_| "control-plane".into()),
                std::process::id()
            );
            manager = manager.with_leader_election(identity);
        }
        tracing::info!("controllers: {}", manager.names().join(", "));
        let mut stopped = stopped.clone();
        Some(tokio::spawn(manager.run(async move {
            let _ = stopped.wait_for(|s| *s).await;
        })))
    };
    let node_tasks = nodes(&options, api.clone(), &logs, &stopped)?;
    let proxying = service_proxy(&options, api.clone(), &stopped)?;
    let scheduling = scheduler.map(|scheduler| {
        let mut stopped = stopped.clone();
        tokio::spawn(scheduler.run(async move {
            let _ = stopped.wait_for(|s| *s).await;
        }))
    });
    println!(
        "k control plane ready: API server at {server_url}, store {described} ({crds} custom resource definitions)"
    );
    println!("try: kubectl --kubeconfig {} get namespaces", options.write_kubeconfig.display());
    if let Some(insecure) = insecure {
        let _ = insecure.await;
    }
    if let Some(scheduling) = scheduling {
        let _ = scheduling.await;
    }
    for task in node_tasks {
        let _ = task.await;
    }
    if let Some(proxying) = proxying {
        let _ = proxying.await;
    }
    if let Some(controllers) = controllers {
        let _ = controllers.await;
    }
    match serving.await {
        Ok(Ok(())) => {
            println!("k control plane stopped");
            Ok(())
        }
        Ok(Err(e)) => Err(format!("serving: {e}")),
        Err(e) => Err(format!("serving: {e}")),
    }
}

/// The simulated nodes and the process node, as `--nodes` and
/// `--process-node` say; their logs are served through `logs`.
fn nodes(
    options: &Options,
    api: Arc<dyn k_store::ObjectApi>,
    logs: &Arc<k_node::logs::ApiLogSource>,
    stopped: &tokio::sync::watch::Receiver<bool>,
) -> Result<Vec<tokio::task::JoinHandle<()>>, String> {
    let mut tasks = Vec::new();
    let until = |stopped: &tokio::sync::watch::Receiver<bool>| {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    if options.nodes > 0 {
        let source = logs.clone();
        let sim = k_node::sim::SimulatedNodes::new(api.clone(), options.nodes)
            .on_start(move |agent| source.add_node(agent.name(), agent.logs()));
        println!("{} simulated node(s): {}", options.nodes, sim.names().join(", "));
        tasks.push(tokio::spawn(sim.run(until(stopped))));
    }
    if let Some(name) = &options.process_node {
        if !running_as_root() {
            return Err(format!("--process-node {name} needs root (network namespaces, cgroups)"));
        }
        let root = options.data_dir.join("nodes").join(name);
        let list = serde_json::json!({"cniVersion": "1.0.0", "name": "k-pod-network", "plugins": [
            {"type": "bridge", "bridge": "k-cni0", "isGateway": true, "ipMasq": true,
             "ipam": {"type": "host-local", "dataDir": root.join("ipam"),
                      "ranges": [[{"subnet": options.process_node_pod_cidr}]],
                      "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "portmap", "capabilities": {"portMappings": true}}
        ]});
        let list = k_netplugin::types::NetworkConfigList::from_bytes(list.to_string().as_bytes())
            .map_err(|e| format!("the process node's network: {e}"))?;
        let executor = k_netplugin::exec::Executor::new(vec![options.cni_bin_dir.clone()], root.join("cni-cache"));
        let images = Arc::new(k_netplugin::cri::image::HostImages::new());
        let mut config = k_netplugin::cri::process::ProcessRuntimeConfig::new(root.join("runtime"), images.clone());
        config.network = Some(k_netplugin::pod::PodNetwork::new(executor, list));
        let runtime = Arc::new(
            k_netplugin::cri::process::ProcessRuntime::new(config).map_err(|e| format!("the process runtime: {e}"))?,
        );
        let mut node = k_node::NodeConfig::new(name.clone());
        node.root_dir = root.join("agent");
        node.pod_cidr = Some(options.process_node_pod_cidr.clone());
        node.runtime_version = "k-process".into();
        let agent = k_node::NodeAgent::new(api, runtime.clone(), images, node).with_host_pressure();
        logs.add_node(name.clone(), agent.logs());
        println!("process node {name}: pods in {}", options.process_node_pod_cidr);
        let stop = until(stopped);
        tasks.push(tokio::spawn(async move {
            agent.run(stop).await;
            // The process runtime keeps no state across restarts: its
            // pods stop with the control plane (and start again with it).
            if let Err(e) = runtime.shutdown().await {
                tracing::warn!("stopping the process node's pods: {e}");
            }
        }));
    }
    Ok(tasks)
}

/// The service proxy, as `--service-proxy` says: ClusterIPs go on `lo`
/// of this machine's network namespace (removed again on shutdown) and
/// the proxy relays their connections to the Services' ready endpoints.
fn service_proxy(
    options: &Options,
    api: Arc<dyn k_store::ObjectApi>,
    stopped: &tokio::sync::watch::Receiver<bool>,
) -> Result<Option<tokio::task::JoinHandle<()>>, String> {
    use k_netplugin::proxy::Proxier;
    let on = match options.service_proxy.as_str() {
        "on" => true,
        "off" => false,
        _ => options.process_node.is_some(),
    };
    if !on {
        return Ok(None);
    }
    if !running_as_root() {
        return Err("--service-proxy on needs root (it adds the ClusterIPs to lo)".into());
    }
    let proxier = Arc::new(k_netplugin::proxy::userspace::UserspaceProxier::new(Default::default()));
    let proxy = k_netplugin::proxy::ServiceProxy::new(api, proxier.clone());
    let mut stopped = stopped.clone();
    println!("service proxy: ClusterIPs answer on this machine (userspace proxier)");
    Ok(Some(tokio::spawn(async move {
        proxy
            .run(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await;
        if let Err(e) = proxier.cleanup().await {
            tracing::warn!("removing the service proxy's addresses: {e}");
        }
    })))
}

/// Keeps the ConfigMap `kube-root-ca.crt` (the cluster's CA, which every
/// pod's service-account volume mounts) in every namespace, as
/// kube-controller-manager's root-ca-cert-publisher does.
async fn publish_root_ca(api: Arc<dyn k_store::ObjectApi>, ca: String) {
    use k_api_types::core::v1::ConfigMap;
    let namespaces: Api<Namespace> = Api::with_client(api.clone(), None);
    loop {
        if let Ok(list) = namespaces.list(&Default::default()).await {
            for ns in list.items.iter().filter(|n| n.metadata.deletion_timestamp.is_none()) {
                let maps: Api<ConfigMap> = Api::with_client(api.clone(), Some(ns.metadata.name.clone()));
                if matches!(maps.get_opt("kube-root-ca.crt").await, Ok(None)) {
                    let mut map = ConfigMap::named("kube-root-ca.crt");
                    map.metadata.namespace.clone_from(&ns.metadata.name);
                    map.data.insert("ca.crt".into(), ca.clone());
                    if let Err(e) = maps.create(&map).await
                        && !e.is_already_exists()
                    {
                        tracing::warn!("publishing kube-root-ca.crt in {}: {e}", ns.metadata.name);
                    }
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}

/// Whether this process runs as root (effective uid 0).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|s| s.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(2)) == Some("0"))
}

/// Authentication (certificates, token file, service-account tokens,
/// anonymous) and authorization from the options.
async fn security(
    options: &Options,
    api: Arc<dyn k_store::ObjectApi>,
) -> Result<k_apiserver::security::Security, String> {
    let read = |path: &PathBuf| std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()));
    let signing_key = match &options.service_account_signing_key_file {
        Some(path) => read(path)?,
        None => {
            let dir = options.cert_dir.clone().unwrap_or_else(|| options.data_dir.join("pki"));
            k_apiserver::tls::service_account_key(&dir).map_err(|e| format!("the service-account key: {e}"))?
        }
    };
    let mut security = SecurityOptions::new(&signing_key);
    security.token_auth_file = options.token_auth_file.clone();
    security.anonymous = options.anonymous_auth;
    security.authorization_modes =
        Mode::parse_list(&options.authorization_mode).map_err(|e| format!("--authorization-mode: {e}"))?;
    security.service_account_issuers = options.service_account_issuer.clone();
    security.api_audiences = options.api_audiences.clone();
    security.service_account_key_pems = options.service_account_key_file.iter().map(read).collect::<Result<_, _>>()?;
    security.max_token_expiration_seconds = options.service_account_max_token_expiration;
    security.build(api).await
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

/// What the kubeconfig carries for TLS: the CA that signed the server's
/// certificate, and a client certificate and key (base64 PEM, as kubeconfig
/// `*-data` fields hold them).
#[derive(Default)]
struct Credentials {
    ca: Option<String>,
    client: Option<(String, String)>,
}

/// The secure port's TLS configuration: the given files, or the PKI in
/// `--cert-dir` (created on first start).
fn tls(options: &Options) -> Result<(Arc<k_apiserver::tls::rustls::ServerConfig>, Credentials), String> {
    use base64::Engine;
    let b64 = |pem: &str| base64::engine::general_purpose::STANDARD.encode(pem);
    let read = |path: &PathBuf| std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()));
    if let (Some(cert), Some(key)) = (&options.tls_cert_file, &options.tls_private_key_file) {
        let client_ca = options.client_ca_file.as_ref().map(read).transpose()?;
        let config = k_apiserver::tls::server_config(&read(cert)?, &read(key)?, client_ca.as_deref())
            .map_err(|e| format!("TLS: {e}"))?;
        // The kubeconfig trusts the client CA, assumed to sign the server's
        // certificate too; clients bring their own credentials.
        return Ok((config, Credentials { ca: client_ca.as_deref().map(b64), client: None }));
    }
    let dir = options.cert_dir.clone().unwrap_or_else(|| options.data_dir.join("pki"));
    let pki = k_apiserver::tls::Pki::load_or_create(&dir, &[], &[options.bind_address])
        .map_err(|e| format!("certificates in {}: {e}", dir.display()))?;
    let config = pki.server_config().map_err(|e| format!("TLS: {e}"))?;
    let credentials = Credentials {
        ca: Some(b64(&pki.ca.cert_pem)),
        client: Some((b64(&pki.admin.cert_pem), b64(&pki.admin.key_pem))),
    };
    Ok((config, credentials))
}

fn write_kubeconfig(path: &PathBuf, server: &str, credentials: &Credentials) -> Result<(), String> {
    let mut cluster = serde_json::json!({ "server": server });
    if let Some(ca) = &credentials.ca {
        cluster["certificate-authority-data"] = ca.clone().into();
    }
    let mut user = serde_json::json!({});
    if let Some((cert, key)) = &credentials.client {
        user["client-certificate-data"] = cert.clone().into();
        user["client-key-data"] = key.clone().into();
    }
    // JSON is YAML: kubectl reads it as is.
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": "k", "cluster": cluster }],
        "users": [{ "name": "admin", "user": user }],
        "contexts": [{ "name": "k", "context": { "cluster": "k", "user": "admin", "namespace": "default" } }],
        "current-context": "k",
        "preferences": {},
    });
    let text = serde_json::to_string_pretty(&config).map_err(|e| e.to_string())?;
    write_private(path, &text).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Writes a file only its owner can read (the kubeconfig holds a key).
fn write_private(path: &PathBuf, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

/// The scheduler over the store, as `--scheduler-config` and
/// `--leader-elect` say.
fn scheduler(
    options: &Options,
    api: Arc<dyn k_store::ObjectApi>,
    metrics: Arc<std::sync::Mutex<prometheus_client::registry::Registry>>,
) -> Result<k_scheduler::scheduler::Scheduler, String> {
    use k_scheduler::config::KubeSchedulerConfiguration;
    use k_scheduler::scheduler::{Scheduler, SchedulerOptions};
    let config = match &options.scheduler_config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
            KubeSchedulerConfiguration::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => KubeSchedulerConfiguration::default(),
    };
    let identity =
        format!("{}_{}", std::env::var("HOSTNAME").unwrap_or_else(|_| "control-plane".into()), std::process::id());
    let leader_election = options
        .leader_elect
        .then(|| k_runtime::leader::LeaderElectionConfig::new("kube-system", "kube-scheduler", identity));
    let options = SchedulerOptions { config, leader_election, metrics: Some(metrics), ..SchedulerOptions::default() };
    let scheduler = Scheduler::new(api, options).map_err(|e| format!("the scheduler: {e}"))?;
    tracing::info!("scheduler profiles: {}", scheduler.profiles().join(", "));
    Ok(scheduler)
}

/// Connects as the kubeconfig says (TLS and all) until the server answers.
async fn wait_ready(kubeconfig: &PathBuf) -> Result<(), String> {
    let mut last = String::new();
    for _ in 0..100 {
        match k_store::remote::RemoteApi::from_kubeconfig(kubeconfig).await {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Err(format!("the server did not answer through {}: {last}", kubeconfig.display()))
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
