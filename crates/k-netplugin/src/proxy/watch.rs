//! The proxy's watch loop: Services, EndpointSlices and Endpoints through
//! k-runtime informers, turned into a [`ProxyState`] ([`build_state`]) and
//! handed to a [`Proxier`] by a [`ServiceProxy`] — at most once per
//! `min_sync_period`, with a full rewrite at start, periodically and after a
//! failed sync.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k_api_types::core::v1::{Endpoints, Service};
use k_api_types::discovery::v1::{EndpointSlice, LABEL_SERVICE_NAME};
use k_api_types::intstr::IntOrString;
use k_runtime::informer::InformerFactory;
use k_runtime::watcher::Config;
use k_store::ObjectApi;
use tokio::sync::watch;
use tokio::time::Instant;

use super::model::{
    Affinity, ChangeSet, DEFAULT_AFFINITY_TIMEOUT, Endpoint, Protocol, ProxyState, ServicePort, ServicePortName,
};
use super::{Proxier, SyncStats};

/// Builds the proxy's state from the cluster's objects.
///
/// One [`ServicePort`] per port of every service that has a cluster IP
/// (headless services, `ExternalName` services and cluster IPs that are not
/// addresses are skipped, as are ports with an unknown protocol). Endpoints
/// come from the service's EndpointSlices (label
/// `kubernetes.io/service-name`, same namespace; the slice port with the
/// service port's name and protocol; `ready` absent counts as ready; FQDN
/// slices skipped; an address:port in several slices counted once, from the
/// first slice by name). A service without any slice falls back to its
/// Endpoints object: `addresses` are ready, `notReadyAddresses` not, ports
/// matched by name. Endpoints are sorted by address.
pub fn build_state(services: &[Service], slices: &[EndpointSlice], endpoints: &[Endpoints]) -> ProxyState {
    build(services, slices, endpoints)
}

/// [`build_state`] over anything that borrows as the objects (the
/// informers' `Arc`s, without cloning them).
fn build<S, L, E>(services: &[S], slices: &[L], endpoints: &[E]) -> ProxyState
where
    S: Borrow<Service>,
    L: Borrow<EndpointSlice>,
    E: Borrow<Endpoints>,
{
    // Slices of each (namespace, service), sorted by name for a stable
    // choice among duplicates.
    let mut by_service: HashMap<(&str, &str), Vec<&EndpointSlice>> = HashMap::new();
    for slice in slices {
        let slice = slice.borrow();
        if let Some(service) = slice.metadata.labels.get(LABEL_SERVICE_NAME) {
            by_service.entry((slice.metadata.namespace.as_str(), service.as_str())).or_default().push(slice);
        }
    }
    for list in by_service.values_mut() {
        list.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    }
    let legacy: HashMap<(&str, &str), &Endpoints> = endpoints
        .iter()
        .map(|e| {
            let e = e.borrow();
            ((e.metadata.namespace.as_str(), e.metadata.name.as_str()), e)
        })
        .collect();

    let mut state = ProxyState::default();
    for service in services {
        let service = service.borrow();
        let spec = &service.spec;
        if spec.type_.as_deref() == Some("ExternalName") {
            continue;
        }
        let Some(cluster_ip) = spec.cluster_ip.as_deref().and_then(|ip| ip.parse::<IpAddr>().ok()) else {
            continue; // headless ("None"), not allocated yet, or not an address
        };
        let affinity = match spec.session_affinity.as_deref() {
            Some("ClientIP") => {
                let seconds = spec
                    .session_affinity_config
                    .as_ref()
                    .and_then(|c| c.client_ip.as_ref())
                    .and_then(|c| c.timeout_seconds)
                    .filter(|s| *s > 0);
                Affinity::ClientIp {
                    timeout: seconds.map_or(DEFAULT_AFFINITY_TIMEOUT, |s| Duration::from_secs(s.unsigned_abs().into())),
                }
            }
            _ => Affinity::None,
        };
        let external_ips: Vec<IpAddr> = spec.external_ips.iter().filter_map(|ip| ip.parse().ok()).collect();
        let (namespace, name) = (service.metadata.namespace.as_str(), service.metadata.name.as_str());
        let service_slices = by_service.get(&(namespace, name));
        for port in &spec.ports {
            let Some(protocol) = Protocol::from_api(port.protocol.as_deref()) else { continue };
            let Ok(number) = u16::try_from(port.port) else { continue };
            if number == 0 {
                continue;
            }
            let port_name = port.name.clone().unwrap_or_default();
            let endpoints = match service_slices {
                Some(list) => from_slices(list, &port_name, protocol),
                None => legacy
                    .get(&(namespace, name))
                    .map(|e| from_endpoints(e, &port_name, protocol, port.target_port.as_ref(), number))
                    .unwrap_or_default(),
            };
            let name =
                ServicePortName { namespace: namespace.to_owned(), name: name.to_owned(), port: port_name, protocol };
            let node_port = port.node_port.and_then(|p| u16::try_from(p).ok()).filter(|p| *p != 0);
            let service_port = ServicePort {
                name: name.clone(),
                cluster_ip: Some(cluster_ip),
                port: number,
                node_port,
                external_ips: external_ips.clone(),
                affinity,
                endpoints,
            };
            state.services.insert(name, service_port);
        }
    }
    state
}

/// The endpoints of one service port in its slices (sorted by name).
fn from_slices(slices: &[&EndpointSlice], port_name: &str, protocol: Protocol) -> Vec<Endpoint> {
    let mut seen: BTreeMap<(IpAddr, u16), Endpoint> = BTreeMap::new();
    for slice in slices {
        if !matches!(slice.address_type.as_str(), "IPv4" | "IPv6") {
            continue; // FQDN slices are not proxied
        }
        let Some(port) = slice.ports.iter().find(|p| {
            p.name.as_deref().unwrap_or("") == port_name && Protocol::from_api(p.protocol.as_deref()) == Some(protocol)
        }) else {
            continue;
        };
        let Some(number) = port.port.and_then(|p| u16::try_from(p).ok()).filter(|p| *p != 0) else { continue };
        for endpoint in &slice.endpoints {
            // kube-proxy uses the first address of an endpoint.
            let Some(ip) = endpoint.addresses.first().and_then(|a| a.parse::<IpAddr>().ok()) else { continue };
            seen.entry((ip, number)).or_insert_with(|| Endpoint {
                ip,
                port: number,
                ready: endpoint.conditions.ready.unwrap_or(true),
                node_name: endpoint.node_name.clone(),
            });
        }
    }
    seen.into_values().collect()
}

/// The endpoints of one service port in a legacy Endpoints object.
fn from_endpoints(
    endpoints: &Endpoints,
    port_name: &str,
    protocol: Protocol,
    target_port: Option<&IntOrString>,
    service_port: u16,
) -> Vec<Endpoint> {
    let mut seen: BTreeMap<(IpAddr, u16), Endpoint> = BTreeMap::new();
    for subset in &endpoints.subsets {
        let matching: Vec<u16> = subset
            .ports
            .iter()
            .filter(|p| {
                p.name.as_deref().unwrap_or("") == port_name
                    && Protocol::from_api(p.protocol.as_deref()) == Some(protocol)
            })
            .filter_map(|p| u16::try_from(p.port).ok().filter(|p| *p != 0))
            .collect();
        // An unnamed single port may be written without a name on either
        // side; a subset without ports at all gets the numeric target port.
        let number = match matching.first() {
            Some(n) => *n,
            None if subset.ports.is_empty() => match target_port {
                Some(IntOrString::Int(n)) => match u16::try_from(*n) {
                    Ok(n) if n != 0 => n,
                    _ => continue,
                },
                None => service_port,
                Some(IntOrString::String(_)) => continue,
            },
            None => continue,
        };
        let groups = [(&subset.addresses, true), (&subset.not_ready_addresses, false)];
        for (addresses, ready) in groups {
            for address in addresses {
                let Ok(ip) = address.ip.parse::<IpAddr>() else { continue };
                seen.entry((ip, number)).or_insert_with(|| Endpoint {
                    ip,
                    port: number,
                    ready,
                    node_name: address.node_name.clone(),
                });
            }
        }
    }
    seen.into_values().collect()
}

/// How a [`ServiceProxy`] paces its syncs.
#[derive(Clone, Debug)]
pub struct ServiceProxyOptions {
    /// The least time between two syncs (kube-proxy's `minSyncPeriod`);
    /// changes arriving meanwhile are batched. Default 1 s.
    pub min_sync_period: Duration,
    /// A full rewrite this often (kube-proxy's `syncPeriod`). Default 1 h.
    pub full_sync_period: Duration,
    /// The first wait after a failed sync; doubled after each further
    /// failure up to `max_retry_backoff`. Default 1 s.
    pub retry_backoff: Duration,
    /// The longest wait between retries. Default 1 min.
    pub max_retry_backoff: Duration,
}

impl Default for ServiceProxyOptions {
    fn default() -> Self {
        ServiceProxyOptions {
            min_sync_period: Duration::from_secs(1),
            full_sync_period: Duration::from_secs(3600),
            retry_backoff: Duration::from_secs(1),
            max_retry_backoff: Duration::from_secs(60),
        }
    }
}

/// What the proxy has programmed so far, published after every sync.
#[derive(Clone, Debug, Default)]
pub struct SyncStatus {
    /// Successful syncs so far.
    pub syncs: u64,
    /// Failed syncs so far.
    pub failures: u64,
    /// The state of the last successful sync.
    pub state: Arc<ProxyState>,
    /// What the last successful sync did.
    pub stats: SyncStats,
    /// The error of the last sync, if it failed.
    pub last_error: Option<String>,
}

/// kube-proxy's control loop: watches Services, EndpointSlices and
/// Endpoints and keeps a [`Proxier`] programmed with the resulting
/// [`ProxyState`].
pub struct ServiceProxy {
    api: Arc<dyn ObjectApi>,
    proxier: Arc<dyn Proxier>,
    options: ServiceProxyOptions,
    status: watch::Sender<SyncStatus>,
}

impl fmt::Debug for ServiceProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceProxy")
            .field("proxier", &self.proxier)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl ServiceProxy {
    /// A proxy programming `proxier` from the objects behind `api`, with the
    /// default pacing.
    pub fn new(api: Arc<dyn ObjectApi>, proxier: Arc<dyn Proxier>) -> Self {
        ServiceProxy { api, proxier, options: ServiceProxyOptions::default(), status: watch::Sender::default() }
    }

    /// Replaces the pacing options.
    pub fn with_options(mut self, options: ServiceProxyOptions) -> Self {
        self.options = options;
        self
    }

    /// Sets the least time between two syncs.
    pub fn with_min_sync_period(mut self, period: Duration) -> Self {
        self.options.min_sync_period = period;
        self
    }

    /// Sets the period of full rewrites.
    pub fn with_full_sync_period(mut self, period: Duration) -> Self {
        self.options.full_sync_period = period;
        self
    }

    /// The proxier being programmed.
    pub fn proxier(&self) -> Arc<dyn Proxier> {
        self.proxier.clone()
    }

    /// The sync status, updated after every sync (successful or not); wait
    /// on it with [`watch::Receiver::wait_for`].
    pub fn status(&self) -> watch::Receiver<SyncStatus> {
        self.status.subscribe()
    }

    /// Waits until a state for which `ready` holds has been synced
    /// successfully, and returns it (at once if the last one does).
    pub async fn wait_synced(&self, ready: impl FnMut(&ProxyState) -> bool) -> Arc<ProxyState> {
        wait_synced(&mut self.status(), ready).await
    }

    /// Runs until `shutdown` completes: waits for the three caches to sync,
    /// then syncs (the first time at once and in full) after every change,
    /// at most once per `min_sync_period`. Whatever the proxier programmed
    /// stays in place; call [`Proxier::cleanup`] to remove it.
    pub async fn run(&self, shutdown: impl Future<Output = ()> + Send) {
        let mut shutdown = std::pin::pin!(shutdown);
        let informers = InformerFactory::new(self.api.clone(), Config::default());
        let services = informers.informer::<Service>(None, None, None);
        let slices = informers.informer::<EndpointSlice>(None, None, None);
        let endpoints = informers.informer::<Endpoints>(None, None, None);
        let mut changes = futures::stream::select_all([
            services.subscribe().map(|_| ()).boxed(),
            slices.subscribe().map(|_| ()).boxed(),
            endpoints.subscribe().map(|_| ()).boxed(),
        ]);
        let (service_store, slice_store, endpoint_store) = (services.store(), slices.store(), endpoints.store());
        let synced = async {
            service_store.wait_until_synced().await;
            slice_store.wait_until_synced().await;
            endpoint_store.wait_until_synced().await;
        };
        tokio::select! {
            () = synced => {}
            () = &mut shutdown => {
                informers.shutdown();
                return;
            }
        }
        let mut pacer = Pacer::new(self.options.clone(), Instant::now());
        let mut last = Arc::new(ProxyState::default());
        loop {
            let deadline = pacer.next_sync();
            tokio::select! {
                () = &mut shutdown => break,
                change = changes.next() => match change {
                    Some(()) => pacer.changed(),
                    None => break, // the informers are gone
                },
                () = tokio::time::sleep_until(deadline) => {
                    let now = Instant::now();
                    let full = pacer.start(now);
                    let state = build(&service_store.state(), &slice_store.state(), &endpoint_store.state());
                    let mut changed = ChangeSet::between(&last, &state);
                    changed.full = full;
                    if changed.is_empty() {
                        pacer.done(now, true);
                        continue;
                    }
                    match self.proxier.sync(&state, &changed).await {
                        Ok(stats) => {
                            pacer.done(now, true);
                            tracing::debug!(services = stats.services, written = stats.written, removed = stats.removed, full, "proxy synced");
                            let state = Arc::new(state);
                            last = state.clone();
                            self.status.send_modify(|s| {
                                s.syncs += 1;
                                s.state = state;
                                s.stats = stats;
                                s.last_error = None;
                            });
                        }
                        Err(error) => {
                            pacer.done(now, false);
                            tracing::warn!(%error, "proxy sync failed; retrying with a full sync");
                            self.status.send_modify(|s| {
                                s.failures += 1;
                                s.last_error = Some(error.to_string());
                            });
                        }
                    }
                }
            }
        }
        informers.shutdown();
    }
}

/// Waits on a status channel until a synced state satisfies `ready`.
async fn wait_synced(
    status: &mut watch::Receiver<SyncStatus>,
    mut ready: impl FnMut(&ProxyState) -> bool,
) -> Arc<ProxyState> {
    if let Ok(s) = status.wait_for(|s| s.syncs > 0 && ready(&s.state)).await {
        return s.state.clone();
    }
    // The proxy is gone: what it last synced.
    watch::Receiver::borrow(status).state.clone()
}

/// When the next sync is due (pure, for tests): the first at once, a change
/// no earlier than `min_sync_period` after the last sync, a full one every
/// `full_sync_period` and after a failure (then after a growing back-off).
#[derive(Debug)]
struct Pacer {
    options: ServiceProxyOptions,
    /// When the last sync started (none yet: the first is due at once).
    last_sync: Option<Instant>,
    /// When the last full sync succeeded.
    last_full: Instant,
    /// A change not synced yet.
    dirty: bool,
    /// The next sync must be full (start, after a failure).
    need_full: bool,
    /// After failures: the earliest retry and the next back-off.
    retry_at: Option<Instant>,
    backoff: Duration,
}

impl Pacer {
    fn new(options: ServiceProxyOptions, now: Instant) -> Pacer {
        let backoff = options.retry_backoff;
        Pacer { options, last_sync: None, last_full: now, dirty: true, need_full: true, retry_at: None, backoff }
    }

    fn changed(&mut self) {
        self.dirty = true;
    }

    /// When the next sync is due.
    fn next_sync(&self) -> Instant {
        let Some(last) = self.last_sync else { return self.last_full };
        let periodic = self.last_full + self.options.full_sync_period;
        if self.dirty || self.need_full {
            let paced = last + self.options.min_sync_period;
            self.retry_at.map_or(paced, |r| r.max(paced))
        } else {
            periodic
        }
    }

    /// A sync starts: whether it must be full.
    fn start(&mut self, now: Instant) -> bool {
        if now >= self.last_full + self.options.full_sync_period {
            self.need_full = true;
        }
        self.last_sync = Some(now);
        self.dirty = false;
        self.need_full
    }

    /// A sync ended (or found nothing to do).
    fn done(&mut self, now: Instant, ok: bool) {
        if ok {
            if self.need_full {
                self.last_full = now;
            }
            self.need_full = false;
            self.retry_at = None;
            self.backoff = self.options.retry_backoff;
        } else {
            self.need_full = true;
            self.retry_at = Some(now + self.backoff);
            self.backoff = (self.backoff * 2).min(self.options.max_retry_backoff);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use k_api_types::SortedMap;
    use k_api_types::core::v1::{
        ClientIPConfig, EndpointAddress, EndpointPort as LegacyPort, EndpointSubset, ServicePort as ApiPort,
        ServiceSpec, SessionAffinityConfig,
    };
    use k_api_types::discovery::v1::{Endpoint as SliceEndpoint, EndpointConditions, EndpointPort};

    use super::*;

    fn names(state: &ProxyState) -> BTreeSet<String> {
        state.services.keys().map(ToString::to_string).collect()
    }

    fn service(name: &str, ip: &str, ports: &[(&str, &str, i32)]) -> Service {
        let mut s = Service::default();
        s.metadata.namespace = "ns".into();
        s.metadata.name = name.into();
        s.spec = ServiceSpec {
            cluster_ip: Some(ip.into()),
            ports: ports
                .iter()
                .map(|(n, proto, port)| ApiPort {
                    name: (!n.is_empty()).then(|| (*n).to_owned()),
                    protocol: Some((*proto).into()),
                    port: *port,
                    target_port: Some(IntOrString::String(format!("t-{n}"))),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        s
    }

    fn slice(service: &str, name: &str, ports: &[(&str, &str, i32)], eps: &[(&str, Option<bool>)]) -> EndpointSlice {
        let mut s = EndpointSlice::default();
        s.metadata.namespace = "ns".into();
        s.metadata.name = name.into();
        s.metadata.labels = SortedMap::from_iter([(LABEL_SERVICE_NAME.to_owned(), service.to_owned())]);
        s.address_type = "IPv4".into();
        s.ports = ports
            .iter()
            .map(|(n, proto, port)| EndpointPort {
                name: Some((*n).into()),
                protocol: Some((*proto).into()),
                port: Some(*port),
                ..Default::default()
            })
            .collect();
        s.endpoints = eps
            .iter()
            .map(|(ip, ready)| SliceEndpoint {
                addresses: vec![(*ip).into()],
                conditions: EndpointConditions { ready: *ready, ..Default::default() },
                node_name: Some("node-1".into()),
                ..Default::default()
            })
            .collect();
        s
    }

    fn spn(name: &str, port: &str, protocol: Protocol) -> ServicePortName {
        ServicePortName { namespace: "ns".into(), name: name.into(), port: port.into(), protocol }
    }

    fn addrs(port: &ServicePort) -> Vec<(String, bool)> {
        port.endpoints.iter().map(|e| (e.addr().to_string(), e.ready)).collect()
    }

    #[test]
    fn slices_give_named_multi_port_endpoints_sorted_with_readiness() {
        let svc = service("web", "10.96.0.10", &[("http", "TCP", 80), ("dns", "UDP", 53)]);
        // The slice's ports carry the resolved (named) target ports.
        let a = slice(
            "web",
            "web-b",
            &[("http", "TCP", 8080), ("dns", "UDP", 5353)],
            &[("10.0.0.3", None), ("10.0.0.1", Some(false))],
        );
        let b = slice("web", "web-a", &[("http", "TCP", 8080)], &[("10.0.0.2", Some(true)), ("10.0.0.3", Some(false))]);
        let other = slice("other", "other-a", &[("http", "TCP", 9999)], &[("10.0.0.9", None)]);
        let state = build_state(&[svc], &[a, b, other], &[]);
        assert_eq!(state.services.len(), 2);
        let http = &state.services[&spn("web", "http", Protocol::Tcp)];
        assert_eq!(http.cluster_ip, Some("10.96.0.10".parse().unwrap()));
        assert_eq!(http.port, 80);
        assert_eq!(http.node_port, None);
        assert_eq!(http.affinity, Affinity::None);
        // 10.0.0.3 is in both slices: the first slice by name (web-a) wins.
        assert_eq!(
            addrs(http),
            [("10.0.0.1:8080".into(), false), ("10.0.0.2:8080".into(), true), ("10.0.0.3:8080".into(), false)]
        );
        assert_eq!(http.ready_endpoints().count(), 1);
        assert_eq!(http.endpoints[0].node_name.as_deref(), Some("node-1"));
        let dns = &state.services[&spn("web", "dns", Protocol::Udp)];
        assert_eq!(dns.port, 53);
        assert_eq!(addrs(dns), [("10.0.0.1:5353".into(), false), ("10.0.0.3:5353".into(), true)]);
    }

    #[test]
    fn slice_ports_match_by_name_and_protocol() {
        let svc = service("dns", "10.96.0.53", &[("dns", "UDP", 53), ("dns-tcp", "TCP", 53)]);
        let s = slice("dns", "dns-1", &[("dns", "TCP", 1053), ("dns-tcp", "TCP", 2053)], &[("10.0.0.1", None)]);
        let state = build_state(&[svc], &[s], &[]);
        assert!(state.services[&spn("dns", "dns", Protocol::Udp)].endpoints.is_empty(), "protocol differs");
        assert_eq!(addrs(&state.services[&spn("dns", "dns-tcp", Protocol::Tcp)]), [("10.0.0.1:2053".into(), true)]);
    }

    #[test]
    fn fqdn_slices_are_skipped() {
        let svc = service("web", "10.96.0.10", &[("", "TCP", 80)]);
        let mut s = slice("web", "web-1", &[("", "TCP", 80)], &[("example.com", None)]);
        s.address_type = "FQDN".into();
        let state = build_state(&[svc], &[s], &[]);
        assert!(state.services[&spn("web", "", Protocol::Tcp)].endpoints.is_empty());
    }

    #[test]
    fn node_ports_external_ips_and_affinity() {
        let mut svc = service("web", "10.96.0.10", &[("", "TCP", 80)]);
        svc.spec.type_ = Some("NodePort".into());
        svc.spec.ports[0].node_port = Some(30080);
        svc.spec.external_ips = vec!["192.0.2.7".into(), "bogus".into()];
        svc.spec.session_affinity = Some("ClientIP".into());
        svc.spec.session_affinity_config =
            Some(SessionAffinityConfig { client_ip: Some(ClientIPConfig { timeout_seconds: Some(60) }) });
        let mut plain = service("plain", "10.96.0.11", &[("", "TCP", 80)]);
        plain.spec.session_affinity = Some("ClientIP".into());
        let state = build_state(&[svc, plain], &[], &[]);
        let web = &state.services[&spn("web", "", Protocol::Tcp)];
        assert_eq!(web.node_port, Some(30080));
        assert_eq!(web.external_ips, ["192.0.2.7".parse::<IpAddr>().unwrap()]);
        assert_eq!(web.affinity, Affinity::ClientIp { timeout: Duration::from_secs(60) });
        let plain = &state.services[&spn("plain", "", Protocol::Tcp)];
        assert_eq!(plain.affinity, Affinity::ClientIp { timeout: DEFAULT_AFFINITY_TIMEOUT });
        assert_eq!(plain.affinity, Affinity::ClientIp { timeout: Duration::from_secs(10_800) });
    }

    #[test]
    fn headless_external_name_and_unallocated_services_are_skipped() {
        let headless = service("headless", "None", &[("", "TCP", 80)]);
        let mut external = service("ext", "", &[("", "TCP", 80)]);
        external.spec.type_ = Some("ExternalName".into());
        external.spec.external_name = Some("example.com".into());
        let mut external_with_ip = service("ext2", "10.96.0.12", &[("", "TCP", 80)]);
        external_with_ip.spec.type_ = Some("ExternalName".into());
        let unallocated = service("new", "", &[("", "TCP", 80)]);
        let v6 = service("v6", "fd00::10", &[("", "TCP", 80)]);
        let state = build_state(&[headless, external, external_with_ip, unallocated, v6], &[], &[]);
        assert_eq!(names(&state), BTreeSet::from(["ns/v6".to_owned()]));
    }

    fn legacy(name: &str, ready: &[&str], not_ready: &[&str], ports: &[(&str, i32)]) -> Endpoints {
        let mut e = Endpoints::default();
        e.metadata.namespace = "ns".into();
        e.metadata.name = name.into();
        let address = |ip: &&str| EndpointAddress { ip: (*ip).into(), ..Default::default() };
        e.subsets = vec![EndpointSubset {
            addresses: ready.iter().map(address).collect(),
            not_ready_addresses: not_ready.iter().map(address).collect(),
            ports: ports
                .iter()
                .map(|(n, p)| LegacyPort {
                    name: (!n.is_empty()).then(|| (*n).to_owned()),
                    port: *p,
                    protocol: Some("TCP".into()),
                    ..Default::default()
                })
                .collect(),
        }];
        e
    }

    #[test]
    fn endpoints_are_the_fallback_only_without_slices() {
        let web = service("web", "10.96.0.10", &[("http", "TCP", 80), ("admin", "TCP", 81)]);
        let db = service("db", "10.96.0.11", &[("", "TCP", 5432)]);
        let web_eps = legacy("web", &["10.0.0.2", "10.0.0.1"], &["10.0.0.3"], &[("http", 8080), ("admin", 8081)]);
        let db_eps = legacy("db", &["10.0.1.1"], &[], &[("", 5432)]);
        // db has a slice: its Endpoints object is ignored.
        let db_slice = slice("db", "db-1", &[("", "TCP", 15432)], &[("10.0.1.2", None)]);
        let state = build_state(&[web, db], &[db_slice], &[web_eps, db_eps]);
        assert_eq!(
            addrs(&state.services[&spn("web", "http", Protocol::Tcp)]),
            [("10.0.0.1:8080".into(), true), ("10.0.0.2:8080".into(), true), ("10.0.0.3:8080".into(), false)]
        );
        assert_eq!(addrs(&state.services[&spn("web", "admin", Protocol::Tcp)])[0], ("10.0.0.1:8081".into(), true));
        assert_eq!(addrs(&state.services[&spn("db", "", Protocol::Tcp)]), [("10.0.1.2:15432".into(), true)]);
    }

    #[test]
    fn a_service_without_endpoints_has_an_empty_port() {
        let state = build_state(&[service("web", "10.96.0.10", &[("", "TCP", 80)])], &[], &[]);
        assert!(state.services[&spn("web", "", Protocol::Tcp)].endpoints.is_empty());
    }

    fn opts() -> ServiceProxyOptions {
        ServiceProxyOptions {
            min_sync_period: Duration::from_secs(1),
            full_sync_period: Duration::from_secs(100),
            retry_backoff: Duration::from_secs(2),
            max_retry_backoff: Duration::from_secs(5),
        }
    }

    #[test]
    fn pacer_first_sync_is_immediate_and_full_then_paced() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut p = Pacer::new(opts(), t0);
        assert_eq!(p.next_sync(), t0);
        assert!(p.start(t0), "the first sync is full");
        p.done(t0, true);
        // Nothing changed: the next one is the periodic full sync.
        assert_eq!(p.next_sync(), t0 + s(100));
        // A change right after: not before min_sync_period.
        p.changed();
        assert_eq!(p.next_sync(), t0 + s(1));
        assert!(!p.start(t0 + s(1)));
        p.done(t0 + s(1), true);
        // A change much later: due at once.
        p.changed();
        assert_eq!(p.next_sync(), t0 + s(2));
        // A failure: a full retry after the back-off, doubling up to the cap.
        assert!(!p.start(t0 + s(50)));
        p.done(t0 + s(50), false);
        assert_eq!(p.next_sync(), t0 + s(52));
        assert!(p.start(t0 + s(52)), "the retry is full");
        p.done(t0 + s(52), false);
        assert_eq!(p.next_sync(), t0 + s(56));
        p.start(t0 + s(56));
        p.done(t0 + s(56), false);
        assert_eq!(p.next_sync(), t0 + s(61), "capped at 5 s");
        p.start(t0 + s(61));
        p.done(t0 + s(61), true);
        // The periodic full sync counts from the last full one.
        assert_eq!(p.next_sync(), t0 + s(161));
        assert!(p.start(t0 + s(161)));
    }

    /// Records every sync; fails the next `fail` ones.
    #[derive(Debug, Default)]
    struct Recorder {
        syncs: std::sync::Mutex<Vec<(ProxyState, ChangeSet)>>,
        fail: std::sync::atomic::AtomicU32,
    }

    #[async_trait::async_trait]
    impl Proxier for Recorder {
        async fn sync(&self, state: &ProxyState, changed: &ChangeSet) -> Result<SyncStats, super::super::ProxyError> {
            self.syncs.lock().unwrap().push((state.clone(), changed.clone()));
            let failing = self.fail.load(std::sync::atomic::Ordering::SeqCst);
            if failing > 0 {
                self.fail.store(failing - 1, std::sync::atomic::Ordering::SeqCst);
                return Err(super::super::ProxyError::Other("told to fail".into()));
            }
            Ok(SyncStats { services: state.services.len(), written: changed.changed.len(), removed: 0 })
        }

        async fn cleanup(&self) -> Result<(), super::super::ProxyError> {
            Ok(())
        }
    }

    fn ready_count(state: &ProxyState, name: &ServicePortName) -> usize {
        state.services.get(name).map_or(0, |p| p.ready_endpoints().count())
    }

    #[tokio::test]
    async fn service_proxy_syncs_changes_paced_and_retries_failures_in_full() {
        let store = k_store::Store::in_memory();
        let services: k_store::Api<Service> = k_store::Api::namespaced(store.clone(), "ns");
        let slices: k_store::Api<EndpointSlice> = k_store::Api::namespaced(store.clone(), "ns");
        services.create(&service("web", "10.96.0.10", &[("http", "TCP", 80)])).await.unwrap();
        slices.create(&slice("web", "web-1", &[("http", "TCP", 8080)], &[("10.0.0.1", None)])).await.unwrap();

        let recorder = Arc::new(Recorder::default());
        let proxy = ServiceProxy::new(Arc::new(store.clone()), recorder.clone()).with_options(ServiceProxyOptions {
            min_sync_period: Duration::from_millis(200),
            full_sync_period: Duration::from_secs(3600),
            retry_backoff: Duration::from_millis(50),
            max_retry_backoff: Duration::from_millis(100),
        });
        let mut status = proxy.status();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            proxy
                .run(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        let http = spn("web", "http", Protocol::Tcp);
        let wait = |status: &mut watch::Receiver<SyncStatus>, n: usize| {
            let http = http.clone();
            let mut status = status.clone();
            async move {
                tokio::time::timeout(Duration::from_secs(10), wait_synced(&mut status, |s| ready_count(s, &http) == n))
                    .await
                    .expect("synced in time")
            }
        };
        let first = wait(&mut status, 1).await;
        assert_eq!(first.services[&http].cluster_ip, Some("10.96.0.10".parse().unwrap()));
        {
            let syncs = recorder.syncs.lock().unwrap();
            assert!(syncs[0].1.full, "the first sync is full");
            assert!(syncs[0].1.changed.contains(&http));
        }

        // Two changes in quick succession: batched, at least 200 ms after the first sync.
        let synced_at = std::time::Instant::now();
        let mut s = slices.get("web-1").await.unwrap();
        s.endpoints.push(slice("web", "x", &[], &[("10.0.0.2", None)]).endpoints.remove(0));
        let s = slices.update(&s).await.unwrap();
        let mut s2 = s.clone();
        s2.endpoints.push(slice("web", "x", &[], &[("10.0.0.3", None)]).endpoints.remove(0));
        slices.update(&s2).await.unwrap();
        wait(&mut status, 3).await;
        assert!(synced_at.elapsed() >= Duration::from_millis(150), "paced by min_sync_period");
        {
            let syncs = recorder.syncs.lock().unwrap();
            let (_, last) = syncs.last().unwrap();
            assert!(!last.full);
            assert_eq!(last.changed, BTreeSet::from([http.clone()]));
        }

        // A failing sync is retried, in full.
        recorder.fail.store(1, std::sync::atomic::Ordering::SeqCst);
        let mut s = slices.get("web-1").await.unwrap();
        s.endpoints.pop();
        slices.update(&s).await.unwrap();
        wait(&mut status, 2).await;
        {
            let syncs = recorder.syncs.lock().unwrap();
            let (failed, retried) = (&syncs[syncs.len() - 2], &syncs[syncs.len() - 1]);
            assert!(!failed.1.full);
            assert!(retried.1.full, "the retry after a failure is full");
            assert_eq!(ready_count(&retried.0, &http), 2);
        }
        let now = status.borrow().clone();
        assert_eq!(now.failures, 1);
        assert!(now.last_error.is_none());
        assert_eq!(now.stats.services, 1);

        // A deleted service disappears from the state.
        services.delete("web", &Default::default()).await.unwrap();
        let empty = tokio::time::timeout(Duration::from_secs(10), wait_synced(&mut status, |s| s.services.is_empty()))
            .await
            .expect("synced in time");
        assert!(empty.services.is_empty());
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), task).await.expect("stops").unwrap();
    }
}
