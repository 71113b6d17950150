//! The userspace proxier: the service proxy as a tokio TCP/UDP relay.
//!
//! Every cluster IP (and external IP) becomes a host address (`/32`,
//! `/128`) on `lo` of the proxy's network namespace (this kernel has no
//! `dummy` links), and the proxy listens on it directly at the service port;
//! node ports listen on the node's addresses (all addresses when none are
//! given). A listener hands each TCP connection to an endpoint — the
//! client's ClientIP-affinity endpoint while that entry is younger than the
//! timeout, else the next one round-robin — tries the next endpoint when a
//! connect fails (each once), and then copies both ways. A port without a
//! ready endpoint resets its connections at once. UDP keeps one upstream
//! socket per client address, relays the replies back from the service
//! address and closes the upstream once idle.
//!
//! A sync updates each port's balancer in place (open connections go on;
//! affinity entries of removed endpoints are dropped), opens the listeners
//! and addresses that are new, and closes those that are gone. Every socket
//! — listeners and upstream connections — is created inside the proxy's
//! namespace (on an [`NsWorker`] thread) when one is configured, then
//! driven by the runtime the proxier is called from.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use socket2::{Domain, SockRef, Socket, Type};
use tokio::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use super::model::{Affinity, ChangeSet, Protocol, ProxyState, ServicePort, ServicePortName};
use super::{Proxier, ProxyError, SyncStats};
use crate::netns::{NetNs, NsWorker};

/// How a [`UserspaceProxier`] runs.
#[derive(Clone, Debug)]
pub struct UserspaceOptions {
    /// The addresses node ports listen on; empty: every address (`0.0.0.0`,
    /// or `::` for IPv6 services).
    pub node_addresses: Vec<IpAddr>,
    /// The namespace the proxy lives in: its addresses go on that
    /// namespace's `lo` and its sockets are created there. `None`: the
    /// namespace of the calling process.
    pub netns: Option<NetNs>,
    /// How long a UDP client's upstream socket stays open without traffic
    /// either way. Default 30 s.
    pub udp_idle_timeout: Duration,
    /// How long one endpoint may take to accept a connection before the
    /// next one is tried. Default 2 s.
    pub connect_timeout: Duration,
    /// The listen backlog of TCP listeners. Default 1024.
    pub backlog: u32,
}

impl Default for UserspaceOptions {
    fn default() -> Self {
        UserspaceOptions {
            node_addresses: Vec::new(),
            netns: None,
            udp_idle_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(2),
            backlog: 1024,
        }
    }
}

/// kube-proxy's userspace mode on tokio (see the [module](self) docs).
///
/// It must be synced from within a tokio runtime; its listeners and
/// connections run as tasks of that runtime. Dropping it stops the
/// listeners (and open connections) but leaves the addresses it added;
/// [`Proxier::cleanup`] removes those too.
#[derive(Debug)]
pub struct UserspaceProxier {
    options: UserspaceOptions,
    sockets: Sockets,
    inner: tokio::sync::Mutex<Inner>,
    /// Bumped by `cleanup` (and on drop): open connections end.
    closing: watch::Sender<u64>,
}

/// What a proxier has set up.
#[derive(Debug, Default)]
struct Inner {
    /// Every proxied port and its balancer.
    ports: HashMap<ServicePortName, Arc<PortRuntime>>,
    /// Every listener: protocol and address → the port it serves.
    listeners: HashMap<(Protocol, SocketAddr), Listener>,
    /// The addresses we put on `lo`.
    addresses: BTreeSet<IpAddr>,
}

/// One running listener.
#[derive(Debug)]
struct Listener {
    port: Arc<PortRuntime>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Listener {
    /// Stops the listener and waits until its socket (and, for UDP, every
    /// upstream socket) is closed.
    async fn close(mut self) {
        drop(self.stop.take());
        let _ = (&mut self.task).await;
    }
}

/// A service port as the relays see it.
#[derive(Debug)]
struct PortRuntime {
    name: ServicePortName,
    balancer: Mutex<Balancer>,
}

impl PortRuntime {
    fn next(&self, client: IpAddr, tried: &[SocketAddr]) -> Option<SocketAddr> {
        self.balancer.lock().unwrap_or_else(PoisonError::into_inner).next(client, Instant::now(), tried)
    }

    fn failed(&self, client: IpAddr, endpoint: SocketAddr) {
        self.balancer.lock().unwrap_or_else(PoisonError::into_inner).failed(client, endpoint);
    }

    /// Whether `endpoint` still serves this port.
    fn has_endpoint(&self, endpoint: SocketAddr) -> bool {
        self.balancer.lock().unwrap_or_else(PoisonError::into_inner).endpoints.contains(&endpoint)
    }
}

/// What every relay task needs.
#[derive(Debug)]
struct Context {
    sockets: Sockets,
    connect_timeout: Duration,
    udp_idle_timeout: Duration,
    closing: watch::Receiver<u64>,
    /// The zero of the UDP sessions' activity clocks.
    epoch: Instant,
}

impl UserspaceProxier {
    /// A proxier with these options; nothing is set up before the first sync.
    pub fn new(options: UserspaceOptions) -> Self {
        let sockets = Sockets { netns: options.netns.clone(), worker: Arc::default(), pool: Arc::default() };
        UserspaceProxier { options, sockets, inner: tokio::sync::Mutex::default(), closing: watch::Sender::new(0) }
    }

    /// The options it was made with.
    pub fn options(&self) -> &UserspaceOptions {
        &self.options
    }

    /// The addresses it listens on now, sorted (for tests and diagnostics).
    pub async fn listening(&self) -> Vec<(Protocol, SocketAddr)> {
        let inner = self.inner.lock().await;
        let mut out: Vec<_> = inner.listeners.keys().copied().collect();
        out.sort();
        out
    }

    fn context(&self) -> Arc<Context> {
        Arc::new(Context {
            sockets: self.sockets.clone(),
            connect_timeout: self.options.connect_timeout,
            udp_idle_timeout: self.options.udp_idle_timeout,
            closing: self.closing.subscribe(),
            epoch: Instant::now(),
        })
    }

    /// The listen addresses of one port.
    fn listen_addrs(&self, port: &ServicePort, cluster_ip: IpAddr) -> Vec<SocketAddr> {
        let mut out = vec![SocketAddr::new(cluster_ip, port.port)];
        out.extend(port.external_ips.iter().map(|ip| SocketAddr::new(*ip, port.port)));
        if let Some(node_port) = port.node_port {
            if self.options.node_addresses.is_empty() {
                let any = if cluster_ip.is_ipv6() {
                    IpAddr::V6(Ipv6Addr::UNSPECIFIED)
                } else {
                    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
                };
                out.push(SocketAddr::new(any, node_port));
            } else {
                out.extend(self.options.node_addresses.iter().map(|ip| SocketAddr::new(*ip, node_port)));
            }
        }
        out
    }

    async fn open(
        &self,
        protocol: Protocol,
        addr: SocketAddr,
        port: Arc<PortRuntime>,
        ctx: &Arc<Context>,
    ) -> io::Result<Listener> {
        let (stop, stopped) = oneshot::channel();
        let task = match protocol {
            Protocol::Tcp => {
                let backlog = self.options.backlog;
                let socket = self.sockets.make(move || tcp_listener(addr, backlog)).await?;
                let listener = TcpListener::from_std(socket)?;
                tokio::spawn(serve_tcp(listener, port.clone(), ctx.clone(), stopped))
            }
            Protocol::Udp => {
                let socket = self.sockets.make(move || udp_socket(addr)).await?;
                let socket = UdpSocket::from_std(socket)?;
                tokio::spawn(serve_udp(Arc::new(socket), port.clone(), ctx.clone(), stopped))
            }
            Protocol::Sctp => {
                return Err(io::Error::new(io::ErrorKind::Unsupported, "SCTP is not proxied in userspace"));
            }
        };
        Ok(Listener { port, stop: Some(stop), task })
    }
}

#[async_trait]
impl Proxier for UserspaceProxier {
    async fn sync(&self, state: &ProxyState, changed: &ChangeSet) -> Result<SyncStats, ProxyError> {
        let mut inner = self.inner.lock().await;
        let ctx = self.context();
        let mut errors: Vec<String> = Vec::new();

        // The ports we proxy (TCP and UDP with a cluster IP), their
        // balancers updated in place.
        let mut wanted: BTreeMap<&ServicePortName, (&ServicePort, IpAddr)> = BTreeMap::new();
        for (name, port) in &state.services {
            if let (Protocol::Tcp | Protocol::Udp, Some(ip)) = (port.name.protocol, port.cluster_ip) {
                wanted.insert(name, (port, ip));
            }
        }
        let mut listeners: HashMap<(Protocol, SocketAddr), &ServicePortName> = HashMap::new();
        let mut addresses: BTreeSet<IpAddr> = BTreeSet::new();
        for (name, (port, cluster_ip)) in &wanted {
            let endpoints: Vec<SocketAddr> = port.ready_endpoints().map(|e| e.addr()).collect();
            let affinity = match port.affinity {
                Affinity::ClientIp { timeout } => Some(timeout),
                Affinity::None => None,
            };
            let runtime = inner.ports.entry((*name).clone()).or_insert_with(|| {
                Arc::new(PortRuntime { name: (*name).clone(), balancer: Mutex::new(Balancer::default()) })
            });
            runtime.balancer.lock().unwrap_or_else(PoisonError::into_inner).update(endpoints, affinity);
            addresses.insert(*cluster_ip);
            addresses.extend(port.external_ips.iter().copied());
            for addr in self.listen_addrs(port, *cluster_ip) {
                if let Some(other) = listeners.insert((name.protocol, addr), name)
                    && other != *name
                {
                    errors.push(format!("{addr}/{} wanted by both {other} and {name}", name.protocol.lower()));
                }
            }
        }

        // Listeners that are gone or serve another port now.
        let stale: Vec<(Protocol, SocketAddr)> = inner
            .listeners
            .iter()
            .filter(|(key, l)| listeners.get(key) != Some(&&l.port.name))
            .map(|(key, _)| *key)
            .collect();
        for key in stale {
            if let Some(listener) = inner.listeners.remove(&key) {
                listener.close().await;
            }
        }

        // New addresses, then new listeners.
        let mut missing_addresses = BTreeSet::new();
        for ip in addresses.difference(&inner.addresses.clone()) {
            match self.sockets.add_address(*ip).await {
                Ok(()) => {
                    inner.addresses.insert(*ip);
                }
                Err(e) => {
                    errors.push(format!("adding {ip} to lo: {e}"));
                    missing_addresses.insert(*ip);
                }
            }
        }
        let mut opened: Vec<((Protocol, SocketAddr), &ServicePortName)> =
            listeners.iter().filter(|(key, _)| !inner.listeners.contains_key(key)).map(|(k, n)| (*k, *n)).collect();
        opened.sort();
        for ((protocol, addr), name) in opened {
            if missing_addresses.contains(&addr.ip()) {
                continue;
            }
            let runtime = inner.ports[name].clone();
            match self.open(protocol, addr, runtime, &ctx).await {
                Ok(listener) => {
                    inner.listeners.insert((protocol, addr), listener);
                }
                Err(e) => errors.push(format!("listening on {addr}/{} for {name}: {e}", protocol.lower())),
            }
        }

        // Addresses no port needs any more.
        let unused: Vec<IpAddr> = inner.addresses.difference(&addresses).copied().collect();
        for ip in unused {
            match self.sockets.del_address(ip).await {
                Ok(()) => {
                    inner.addresses.remove(&ip);
                }
                Err(e) => errors.push(format!("removing {ip} from lo: {e}")),
            }
        }

        // Ports that are gone.
        let before = inner.ports.len();
        inner.ports.retain(|name, _| wanted.contains_key(name));
        let removed = before - inner.ports.len();
        let written = if changed.full {
            wanted.len()
        } else {
            changed.changed.iter().filter(|name| wanted.contains_key(name)).count()
        };
        if errors.is_empty() {
            Ok(SyncStats { services: wanted.len(), written, removed })
        } else {
            Err(ProxyError::Other(errors.join("; ")))
        }
    }

    async fn cleanup(&self) -> Result<(), ProxyError> {
        let mut inner = self.inner.lock().await;
        self.closing.send_modify(|generation| *generation += 1);
        for (_, listener) in inner.listeners.drain() {
            listener.close().await;
        }
        inner.ports.clear();
        let mut errors = Vec::new();
        for ip in std::mem::take(&mut inner.addresses) {
            if let Err(e) = self.sockets.del_address(ip).await {
                errors.push(format!("removing {ip} from lo: {e}"));
                inner.addresses.insert(ip);
            }
        }
        *self.sockets.pool.lock().unwrap_or_else(PoisonError::into_inner) = Default::default();
        if errors.is_empty() { Ok(()) } else { Err(ProxyError::Other(errors.join("; "))) }
    }
}

impl Drop for UserspaceProxier {
    fn drop(&mut self) {
        self.closing.send_modify(|generation| *generation += 1);
        for (_, listener) in self.inner.get_mut().listeners.drain() {
            listener.task.abort();
        }
    }
}

// ---------------------------------------------------------------------------
// Balancing (pure)
// ---------------------------------------------------------------------------

/// Prune expired affinity entries after this many picks.
const PRUNE_EVERY: u32 = 1024;

/// One service port's endpoint choice: round-robin over the ready
/// endpoints, with optional ClientIP affinity.
#[derive(Debug, Default)]
struct Balancer {
    endpoints: Vec<SocketAddr>,
    /// The next round-robin position.
    next: usize,
    /// The ClientIP affinity timeout, if the port has affinity.
    affinity: Option<Duration>,
    /// Each client's endpoint and when it was last used.
    clients: HashMap<IpAddr, (SocketAddr, Instant)>,
    picks: u32,
}

impl Balancer {
    /// New endpoints (ready only, in order) and affinity: entries of
    /// endpoints that are gone are dropped; all of them when affinity
    /// changes.
    fn update(&mut self, endpoints: Vec<SocketAddr>, affinity: Option<Duration>) {
        if affinity != self.affinity {
            self.clients.clear();
            self.affinity = affinity;
        }
        if endpoints != self.endpoints {
            self.clients.retain(|_, (endpoint, _)| endpoints.contains(endpoint));
            self.endpoints = endpoints;
            if !self.endpoints.is_empty() {
                self.next %= self.endpoints.len();
            } else {
                self.next = 0;
            }
        }
    }

    /// The endpoint for a connection of `client`, not one of `tried`: its
    /// affinity endpoint on a first try while the entry is younger than the
    /// timeout, else the next untried one round-robin (remembered for the
    /// client under affinity). `None` when every endpoint has been tried.
    fn next(&mut self, client: IpAddr, now: Instant, tried: &[SocketAddr]) -> Option<SocketAddr> {
        if self.endpoints.is_empty() {
            return None;
        }
        if let Some(timeout) = self.affinity {
            self.picks = self.picks.wrapping_add(1);
            if self.picks.is_multiple_of(PRUNE_EVERY) {
                self.clients.retain(|_, (_, used)| now.saturating_duration_since(*used) < timeout);
            }
            if tried.is_empty()
                && let Some((endpoint, used)) = self.clients.get_mut(&client)
                && now.saturating_duration_since(*used) < timeout
            {
                *used = now;
                return Some(*endpoint);
            }
        }
        let n = self.endpoints.len();
        for _ in 0..n {
            let endpoint = self.endpoints[self.next % n];
            self.next = (self.next + 1) % n;
            if tried.contains(&endpoint) {
                continue;
            }
            if self.affinity.is_some() {
                self.clients.insert(client, (endpoint, now));
            }
            return Some(endpoint);
        }
        None
    }

    /// A connect of `client` to `endpoint` failed: forget the pairing.
    fn failed(&mut self, client: IpAddr, endpoint: SocketAddr) {
        if self.clients.get(&client).is_some_and(|(e, _)| *e == endpoint) {
            self.clients.remove(&client);
        }
    }
}

// ---------------------------------------------------------------------------
// Relays
// ---------------------------------------------------------------------------

/// Accepts connections until stopped; each runs on its own task and
/// outlives the listener.
async fn serve_tcp(listener: TcpListener, port: Arc<PortRuntime>, ctx: Arc<Context>, mut stop: oneshot::Receiver<()>) {
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((conn, client)) => {
                    tokio::spawn(relay_tcp(conn, client, port.clone(), ctx.clone()));
                }
                Err(e) => {
                    // Out of descriptors and the like: let it pass.
                    tracing::debug!(port = %port.name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
}

/// One client connection: an endpoint (trying each once), then bytes both
/// ways until either side is done or the proxier is cleaned up.
async fn relay_tcp(mut conn: TcpStream, client: SocketAddr, port: Arc<PortRuntime>, ctx: Arc<Context>) {
    let mut closing = ctx.closing.clone();
    let relay = async {
        let mut tried = Vec::new();
        let mut upstream = loop {
            let Some(endpoint) = port.next(client.ip(), &tried) else {
                // No (more) endpoints: reset the connection, like a reject.
                let _ = SockRef::from(&conn).set_linger(Some(Duration::ZERO));
                return;
            };
            tried.push(endpoint);
            match tokio::time::timeout(ctx.connect_timeout, ctx.sockets.connect(endpoint)).await {
                Ok(Ok(stream)) => break stream,
                Ok(Err(e)) => tracing::debug!(port = %port.name, %endpoint, error = %e, "endpoint refused"),
                Err(_) => tracing::debug!(port = %port.name, %endpoint, "endpoint timed out"),
            }
            port.failed(client.ip(), endpoint);
        };
        let _ = conn.set_nodelay(true);
        let _ = upstream.set_nodelay(true);
        let _ = tokio::io::copy_bidirectional(&mut conn, &mut upstream).await;
    };
    tokio::select! {
        () = relay => {}
        _ = closing.changed() => {}
    }
}

/// One UDP client's upstream socket.
#[derive(Debug)]
struct Session {
    upstream: UdpSocket,
    /// The endpoint the upstream socket is connected to.
    endpoint: SocketAddr,
    /// Milliseconds since the context's epoch of the last datagram either way.
    last: AtomicU64,
}

impl Session {
    fn touch(&self, ctx: &Context) {
        self.last.store(millis_since(ctx.epoch), Ordering::Relaxed);
    }

    fn idle_until(&self, ctx: &Context) -> Instant {
        ctx.epoch + Duration::from_millis(self.last.load(Ordering::Relaxed)) + ctx.udp_idle_timeout
    }
}

fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

type Sessions = Arc<Mutex<HashMap<SocketAddr, Arc<Session>>>>;

/// Relays datagrams until stopped; then closes every upstream socket
/// before returning.
async fn serve_udp(socket: Arc<UdpSocket>, port: Arc<PortRuntime>, ctx: Arc<Context>, mut stop: oneshot::Receiver<()>) {
    let sessions: Sessions = Arc::default();
    let mut replies = JoinSet::new();
    let mut buf = vec![0u8; 65_536];
    loop {
        while replies.try_join_next().is_some() {}
        let (n, client) = tokio::select! {
            _ = &mut stop => break,
            received = socket.recv_from(&mut buf) => match received {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(port = %port.name, error = %e, "udp receive failed");
                    continue;
                }
            }
        };
        let existing = sessions.lock().unwrap_or_else(PoisonError::into_inner).get(&client).cloned();
        // A session whose endpoint left the service is dropped, so a client
        // that keeps sending (a resolver on a fixed port) moves on; its reply
        // task ends when it next wakes up.
        let existing = match existing {
            Some(session) if !port.has_endpoint(session.endpoint) => {
                let mut map = sessions.lock().unwrap_or_else(PoisonError::into_inner);
                if map.get(&client).is_some_and(|s| Arc::ptr_eq(s, &session)) {
                    map.remove(&client);
                }
                session.last.store(0, Ordering::Relaxed);
                None
            }
            other => other,
        };
        let session = match existing {
            Some(session) => session,
            None => {
                let Some(session) = open_session(client, &port, &ctx).await else { continue };
                sessions.lock().unwrap_or_else(PoisonError::into_inner).insert(client, session.clone());
                replies.spawn(udp_replies(socket.clone(), client, session.clone(), sessions.clone(), ctx.clone()));
                session
            }
        };
        session.touch(&ctx);
        if let Err(e) = session.upstream.send(&buf[..n]).await {
            tracing::debug!(port = %port.name, %client, error = %e, "udp send upstream failed");
        }
    }
    replies.shutdown().await;
}

/// An upstream socket for a new UDP client (trying each endpoint once).
async fn open_session(client: SocketAddr, port: &PortRuntime, ctx: &Context) -> Option<Arc<Session>> {
    let mut tried = Vec::new();
    loop {
        let endpoint = port.next(client.ip(), &tried)?;
        tried.push(endpoint);
        match ctx.sockets.udp_upstream(endpoint).await {
            Ok(upstream) => {
                let session = Session { upstream, endpoint, last: AtomicU64::new(millis_since(ctx.epoch)) };
                return Some(Arc::new(session));
            }
            Err(e) => {
                tracing::debug!(port = %port.name, %endpoint, error = %e, "udp upstream failed");
                port.failed(client.ip(), endpoint);
            }
        }
    }
}

/// Sends an upstream's replies to its client from the service address;
/// ends (and forgets the session) once it has been idle long enough.
async fn udp_replies(
    listener: Arc<UdpSocket>,
    client: SocketAddr,
    session: Arc<Session>,
    sessions: Sessions,
    ctx: Arc<Context>,
) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let deadline = session.idle_until(&ctx);
        match tokio::time::timeout_at(deadline, session.upstream.recv(&mut buf)).await {
            Ok(Ok(n)) => {
                session.touch(&ctx);
                let _ = listener.send_to(&buf[..n], client).await;
            }
            // An ICMP error (the endpoint's port closed): keep waiting.
            Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(1)).await,
            Err(_) => {
                if session.idle_until(&ctx) <= Instant::now() {
                    let mut map = sessions.lock().unwrap_or_else(PoisonError::into_inner);
                    if map.get(&client).is_some_and(|s| Arc::ptr_eq(s, &session)) {
                        map.remove(&client);
                    }
                    return;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Sockets and addresses, in the proxy's namespace
// ---------------------------------------------------------------------------

/// Unconnected TCP sockets made ahead, per batch, for upstream connections
/// (creating one inside a namespace is a round trip to its worker thread).
const POOL_BATCH: usize = 16;

/// Makes sockets and host addresses in the proxy's namespace.
#[derive(Clone, Debug)]
struct Sockets {
    netns: Option<NetNs>,
    /// The namespace's worker thread, started on first use.
    worker: Arc<Mutex<Option<NsWorker>>>,
    /// Sockets ready for upstream connections: IPv4, IPv6.
    pool: Arc<Mutex<[Vec<Socket>; 2]>>,
}

impl Sockets {
    fn worker(&self, netns: &NetNs) -> io::Result<NsWorker> {
        let mut worker = self.worker.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(w) = worker.as_ref() {
            return Ok(w.clone());
        }
        let w = netns.worker()?;
        *worker = Some(w.clone());
        Ok(w)
    }

    /// Runs `f` (which makes sockets) inside the namespace.
    async fn make<R, F>(&self, f: F) -> io::Result<R>
    where
        F: FnOnce() -> io::Result<R> + Send + 'static,
        R: Send + 'static,
    {
        match &self.netns {
            None => f(),
            Some(netns) => {
                let worker = self.worker(netns)?;
                match worker.spawn(move || async move { f() }).await {
                    Ok(result) => result,
                    Err(e) => {
                        // The worker is gone: start a new one next time.
                        self.worker.lock().unwrap_or_else(PoisonError::into_inner).take();
                        Err(e)
                    }
                }
            }
        }
    }

    /// A TCP connection to `endpoint` from the namespace.
    async fn connect(&self, endpoint: SocketAddr) -> io::Result<TcpStream> {
        if self.netns.is_none() {
            return TcpStream::connect(endpoint).await;
        }
        let family = usize::from(endpoint.is_ipv6());
        let pooled = self.pool.lock().unwrap_or_else(PoisonError::into_inner)[family].pop();
        let socket = match pooled {
            Some(socket) => socket,
            None => {
                let v6 = endpoint.is_ipv6();
                let mut batch =
                    self.make(move || (0..POOL_BATCH).map(|_| tcp_client(v6)).collect::<io::Result<Vec<_>>>()).await?;
                let socket = batch.pop().ok_or_else(|| io::Error::other("no socket made"))?;
                self.pool.lock().unwrap_or_else(PoisonError::into_inner)[family].extend(batch);
                socket
            }
        };
        TcpSocket::from_std_stream(socket.into()).connect(endpoint).await
    }

    /// A UDP socket connected to `endpoint`, from the namespace.
    async fn udp_upstream(&self, endpoint: SocketAddr) -> io::Result<UdpSocket> {
        let any =
            if endpoint.is_ipv6() { IpAddr::V6(Ipv6Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::UNSPECIFIED) };
        let socket = self.make(move || udp_socket(SocketAddr::new(any, 0))).await?;
        let socket = UdpSocket::from_std(socket)?;
        socket.connect(endpoint).await?;
        Ok(socket)
    }

    /// Puts `ip` on `lo` as a host address (and sets `lo` up).
    async fn add_address(&self, ip: IpAddr) -> io::Result<()> {
        let cidr = host_cidr(ip);
        let netns = self.netns.clone();
        blocking(move || match netns {
            Some(ns) => crate::iproute::addr_add_local(&ns, &cidr),
            None => crate::iproute::run_ip(&["addr", "replace", &cidr, "dev", "lo"]).map(drop),
        })
        .await
    }

    /// Takes `ip` off `lo`.
    async fn del_address(&self, ip: IpAddr) -> io::Result<()> {
        let cidr = host_cidr(ip);
        let netns = self.netns.clone();
        blocking(move || match netns {
            // A namespace that is gone took its addresses with it.
            Some(ns) if !ns.exists() => Ok(()),
            Some(ns) => crate::iproute::addr_del(&ns, "lo", &cidr),
            None => crate::iproute::run_ip(&["addr", "del", &cidr, "dev", "lo"]).map(drop),
        })
        .await
    }
}

/// Runs an `ip` call off the runtime's threads.
async fn blocking(f: impl FnOnce() -> Result<(), crate::iproute::IpError> + Send + 'static) -> io::Result<()> {
    tokio::task::spawn_blocking(f).await.map_err(io::Error::other)?.map_err(io::Error::from)
}

/// `ip/32` or `ip/128`.
fn host_cidr(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(_) => format!("{ip}/32"),
        IpAddr::V6(_) => format!("{ip}/128"),
    }
}

fn tcp_listener(addr: SocketAddr, backlog: u32) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(socket2::Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}

fn udp_socket(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(socket2::Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

fn tcp_client(v6: bool) -> io::Result<Socket> {
    let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
    let socket = Socket::new(domain, Type::STREAM, Some(socket2::Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(last: u8) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)), 8080)
    }

    fn client(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 168, 0, last))
    }

    #[test]
    fn round_robin_visits_each_endpoint_in_turn() {
        let mut b = Balancer::default();
        b.update(vec![ep(1), ep(2), ep(3)], None);
        let now = Instant::now();
        let picks: Vec<_> = (0..30).map(|_| b.next(client(1), now, &[]).unwrap()).collect();
        for e in [ep(1), ep(2), ep(3)] {
            assert_eq!(picks.iter().filter(|p| **p == e).count(), 10);
        }
        assert_eq!(&picks[..4], &[ep(1), ep(2), ep(3), ep(1)]);
        assert!(b.clients.is_empty(), "no affinity, nothing remembered");
    }

    #[test]
    fn retries_skip_tried_endpoints_and_stop_after_each_once() {
        let mut b = Balancer::default();
        b.update(vec![ep(1), ep(2), ep(3)], None);
        let now = Instant::now();
        let mut tried = Vec::new();
        while let Some(e) = b.next(client(1), now, &tried) {
            assert!(!tried.contains(&e));
            tried.push(e);
        }
        assert_eq!(tried, [ep(1), ep(2), ep(3)]);
        let mut empty = Balancer::default();
        assert_eq!(empty.next(client(1), now, &[]), None, "no endpoints");
    }

    #[test]
    fn affinity_pins_a_client_until_the_timeout() {
        let mut b = Balancer::default();
        b.update(vec![ep(1), ep(2), ep(3)], Some(Duration::from_secs(10)));
        let t0 = Instant::now();
        let first = b.next(client(1), t0, &[]).unwrap();
        let other = b.next(client(2), t0, &[]).unwrap();
        assert_ne!(first, other, "a new client gets the next endpoint");
        for i in 0..20 {
            assert_eq!(b.next(client(1), t0 + Duration::from_secs(i), &[]), Some(first));
        }
        // Each use refreshes the entry: 9 s after the last use still pinned.
        assert_eq!(b.next(client(1), t0 + Duration::from_secs(28), &[]), Some(first));
        // 10 s idle: balanced again (and pinned to the new choice).
        let later = t0 + Duration::from_secs(38);
        let again = b.next(client(1), later, &[]).unwrap();
        assert_eq!(b.next(client(1), later, &[]), Some(again));
    }

    #[test]
    fn a_failed_connect_moves_the_client_on() {
        let mut b = Balancer::default();
        b.update(vec![ep(1), ep(2)], Some(Duration::from_secs(10)));
        let now = Instant::now();
        let first = b.next(client(1), now, &[]).unwrap();
        b.failed(client(1), first);
        let retry = b.next(client(1), now, &[first]).unwrap();
        assert_ne!(retry, first);
        assert_eq!(b.next(client(1), now, &[]), Some(retry), "pinned to the endpoint that answered");
    }

    #[test]
    fn endpoint_changes_keep_affinity_of_remaining_endpoints_only() {
        let mut b = Balancer::default();
        b.update(vec![ep(1), ep(2), ep(3)], Some(Duration::from_secs(100)));
        let now = Instant::now();
        let pins: Vec<SocketAddr> = (1..=3).map(|c| b.next(client(c), now, &[]).unwrap()).collect();
        assert_eq!(pins, [ep(1), ep(2), ep(3)]);
        b.update(vec![ep(1), ep(3)], Some(Duration::from_secs(100)));
        assert_eq!(b.next(client(1), now, &[]), Some(ep(1)));
        assert_eq!(b.next(client(3), now, &[]), Some(ep(3)));
        let moved = b.next(client(2), now, &[]).unwrap();
        assert_ne!(moved, ep(2), "the removed endpoint is never chosen");
        for _ in 0..10 {
            assert_ne!(b.next(client(9), now, &[]), Some(ep(2)));
        }
        // Changing the affinity forgets every client.
        b.update(vec![ep(1), ep(3)], None);
        assert!(b.clients.is_empty());
        // No endpoints at all: nothing to pick.
        b.update(Vec::new(), None);
        assert_eq!(b.next(client(1), now, &[]), None);
    }

    #[test]
    fn host_cidrs() {
        assert_eq!(host_cidr("10.96.0.1".parse().unwrap()), "10.96.0.1/32");
        assert_eq!(host_cidr("fd00::1".parse().unwrap()), "fd00::1/128");
    }
}
