//! Service cluster IPs and node ports, allocated as kube-apiserver does:
//! a Service gets a free clusterIP from `--service-cluster-ip-range` (a
//! requested one must be inside it and free, else 422 Invalid; headless
//! `None` and ExternalName get none), and NodePort/LoadBalancer ports get
//! free node ports from `--service-node-port-range` (unique across
//! services). Deleting a Service releases both.
//!
//! [`ServiceAllocator`] is a k-store admission hook: install it on the
//! [`Store`] with [`ServiceAllocator::install`], which first loads what the
//! stored Services hold, so allocations stay consistent across restarts.
//! Writes that fail after admission may leave an address marked used; the
//! allocator reloads from the store before it reports a range full or a
//! requested address taken, so nothing stays lost.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use k_api_types::core::v1::Service;
use k_api_types::validation::{ErrorList, FieldError, Path};
use k_api_types::{Object, Resource};
use k_store::admission::{AdmissionHook, AdmissionRequest};
use k_store::api::{ListOptions, ObjectApi, Operation};
use k_store::{Store, StoreError};

/// The ranges to allocate from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRanges {
    /// The IPv4 service CIDR (`--service-cluster-ip-range`, default `10.96.0.0/12`).
    pub cluster_ip_range: (Ipv4Addr, u8),
    /// Node ports, inclusive (`--service-node-port-range`, default 30000-32767).
    pub node_ports: (u16, u16),
}

impl Default for ServiceRanges {
    fn default() -> Self {
        Self { cluster_ip_range: (Ipv4Addr::new(10, 96, 0, 0), 12), node_ports: (30000, 32767) }
    }
}

impl ServiceRanges {
    /// Parses `10.96.0.0/12` and `30000-32767`.
    pub fn parse(cidr: &str, ports: &str) -> Result<Self, String> {
        let cluster_ip_range = match k_api_types::validation::net::parse_cidr(cidr) {
            Some((IpAddr::V4(ip), prefix)) if prefix <= 30 => (mask(ip, prefix), prefix),
            Some(_) => return Err(format!("service cluster IP range {cidr:?} must be an IPv4 CIDR of at most /30")),
            None => return Err(format!("invalid service cluster IP range {cidr:?}")),
        };
        let (lo, hi) =
            ports.split_once('-').ok_or_else(|| format!("invalid node port range {ports:?}: want LOW-HIGH"))?;
        let (lo, hi): (u16, u16) = match (lo.trim().parse(), hi.trim().parse()) {
            (Ok(lo), Ok(hi)) if lo <= hi && lo > 0 => (lo, hi),
            _ => return Err(format!("invalid node port range {ports:?}")),
        };
        Ok(Self { cluster_ip_range, node_ports: (lo, hi) })
    }

    fn cidr_string(&self) -> String {
        format!("{}/{}", self.cluster_ip_range.0, self.cluster_ip_range.1)
    }

    /// Usable offsets in the range: the network address and the first
    /// address (the `kubernetes` service's) are kept out, as is broadcast.
    fn ip_offsets(&self) -> (u32, u32) {
        let size = 1u32 << (32 - u32::from(self.cluster_ip_range.1));
        (1, size - 2)
    }

    fn offset_of(&self, ip: Ipv4Addr) -> Option<u32> {
        let (base, prefix) = self.cluster_ip_range;
        (mask(ip, prefix) == base).then(|| u32::from(ip) - u32::from(base))
    }

    fn ip_at(&self, offset: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.cluster_ip_range.0) + offset)
    }
}

fn mask(ip: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    let bits = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
    Ipv4Addr::from(u32::from(ip) & bits)
}

#[derive(Debug, Default)]
struct Used {
    ips: BTreeSet<u32>,
    ports: BTreeSet<u16>,
    next_ip: u32,
    next_port: u16,
}

/// The cluster-IP and node-port allocator (an admission hook).
#[derive(Debug)]
pub struct ServiceAllocator {
    ranges: ServiceRanges,
    used: Mutex<Used>,
    store: Store,
}

fn invalid(service: &Service, errors: ErrorList) -> StoreError {
    StoreError::Invalid { kind: "Service".into(), group: String::new(), name: service.metadata.name.clone(), errors }
}

impl ServiceAllocator {
    /// Loads the addresses the stored Services hold and installs the
    /// allocator as an admission hook of `store`.
    pub async fn install(store: &Store, ranges: ServiceRanges) -> Result<Arc<Self>, StoreError> {
        let allocator = Arc::new(Self { ranges, used: Mutex::new(Used::default()), store: store.clone() });
        allocator.reload().await?;
        store.add_admission(allocator.clone());
        Ok(allocator)
    }

    /// The ranges it allocates from.
    pub fn ranges(&self) -> &ServiceRanges {
        &self.ranges
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Used> {
        self.used.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Rebuilds the used sets from the stored Services.
    async fn reload(&self) -> Result<(), StoreError> {
        let page = self.store.list(&Service::INFO.gvr(), None, &ListOptions::default()).await?;
        let mut used = Used::default();
        for item in page.items {
            let Ok(value) = serde_json::to_value(&item) else { continue };
            let Ok(service) = serde_json::from_value::<Service>(value) else { continue };
            for ip in &service.spec.cluster_ips {
                if let Some(off) = ip.parse::<Ipv4Addr>().ok().and_then(|ip| self.ranges.offset_of(ip)) {
                    used.ips.insert(off);
                }
            }
            for p in &service.spec.ports {
                if let Some(np) = p.node_port.and_then(|n| u16::try_from(n).ok()) {
                    used.ports.insert(np);
                }
            }
        }
        let mut current = self.lock();
        used.next_ip = current.next_ip;
        used.next_port = current.next_port;
        *current = used;
        Ok(())
    }

    fn take_ip(&self, requested: Option<Ipv4Addr>) -> Result<Ipv4Addr, String> {
        let mut used = self.lock();
        if let Some(ip) = requested {
            let (lo, hi) = self.ranges.ip_offsets();
            let Some(off) = self.ranges.offset_of(ip).filter(|o| (lo..=hi).contains(o)) else {
                return Err(format!(
                    "failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {}",
                    self.ranges.cidr_string()
                ));
            };
            if !used.ips.insert(off) {
                return Err(format!("failed to allocate IP {ip}: provided IP is already allocated"));
            }
            return Ok(ip);
        }
        let (lo, hi) = self.ranges.ip_offsets();
        let span = hi - lo + 1;
        let start = used.next_ip;
        for i in 0..span {
            let off = lo + (start + i) % span;
            if used.ips.insert(off) {
                used.next_ip = (start + i + 1) % span;
                return Ok(self.ranges.ip_at(off));
            }
        }
        Err(format!("failed to allocate a serviceIP: range is full ({})", self.ranges.cidr_string()))
    }

    fn take_port(&self, requested: Option<u16>) -> Result<u16, String> {
        let (lo, hi) = self.ranges.node_ports;
        let mut used = self.lock();
        if let Some(p) = requested {
            if !(lo..=hi).contains(&p) {
                return Err(format!("provided port is not in the valid range. The range of valid ports is {lo}-{hi}"));
            }
            if !used.ports.insert(p) {
                return Err("provided port is already allocated".into());
            }
            return Ok(p);
        }
        let span = u32::from(hi - lo) + 1;
        let start = u32::from(used.next_port);
        for i in 0..span {
            let p = lo + u16::try_from((start + i) % span).unwrap_or(0);
            if used.ports.insert(p) {
                used.next_port = u16::try_from((start + i + 1) % span).unwrap_or(0);
                return Ok(p);
            }
        }
        Err(format!("range is full: no free node port in {lo}-{hi}"))
    }

    fn release(&self, service: &Service) {
        let mut used = self.lock();
        for ip in &service.spec.cluster_ips {
            if let Some(off) = ip.parse::<Ipv4Addr>().ok().and_then(|ip| self.ranges.offset_of(ip)) {
                used.ips.remove(&off);
            }
        }
        for p in &service.spec.ports {
            if let Some(np) = p.node_port.and_then(|n| u16::try_from(n).ok()) {
                used.ports.remove(&np);
            }
        }
    }

    /// Allocates with one retry after reloading from the store.
    async fn with_reload<T>(&self, f: impl Fn() -> Result<T, String>) -> Result<T, String> {
        match f() {
            Ok(v) => Ok(v),
            Err(_) => {
                if let Err(e) = self.reload().await {
                    return Err(format!("reloading allocated service addresses: {e}"));
                }
                f()
            }
        }
    }

    async fn allocate(&self, service: &mut Service, old: Option<&Service>) -> Result<(), StoreError> {
        let type_ = service.spec.type_.clone().unwrap_or_else(|| "ClusterIP".into());
        let spec_path = Path::new("spec");
        let mut errors = ErrorList::new();
        // Cluster IP.
        let had_ip = old.and_then(|o| o.spec.cluster_ip.clone()).filter(|ip| !ip.is_empty());
        if type_ != "ExternalName" && service.spec.cluster_ip.as_deref() != Some("None") {
            let requested = service.spec.cluster_ip.clone().filter(|ip| !ip.is_empty());
            match (&had_ip, &requested) {
                (Some(old_ip), Some(new_ip)) if old_ip == new_ip => {}
                (Some(old_ip), None) => service.spec.cluster_ip = Some(old_ip.clone()),
                _ => {
                    let parsed = match requested.as_deref().map(str::parse::<Ipv4Addr>) {
                        None => Ok(None),
                        Some(Ok(ip)) => Ok(Some(ip)),
                        Some(Err(_)) => Err(()),
                    };
                    match parsed {
                        Err(()) => {}
                        Ok(ip) => match self.with_reload(|| self.take_ip(ip)).await {
                            Ok(ip) => service.spec.cluster_ip = Some(ip.to_string()),
                            Err(message) => errors.push(FieldError::invalid(
                                &spec_path.child("clusterIPs").index(0),
                                requested.unwrap_or_default(),
                                message,
                            )),
                        },
                    }
                }
            }
            if let Some(ip) = service.spec.cluster_ip.clone()
                && service.spec.cluster_ips.first() != Some(&ip)
            {
                service.spec.cluster_ips = vec![ip];
            }
            if service.spec.ip_families.is_empty() {
                service.spec.ip_families = vec!["IPv4".into()];
            }
            if service.spec.ip_family_policy.is_none() {
                service.spec.ip_family_policy = Some("SingleStack".into());
            }
        }
        // Node ports.
        let wants_node_ports = type_ == "NodePort"
            || (type_ == "LoadBalancer" && service.spec.allocate_load_balancer_node_ports != Some(false));
        let old_ports: BTreeSet<i32> =
            old.map(|o| o.spec.ports.iter().filter_map(|p| p.node_port).collect()).unwrap_or_default();
        if wants_node_ports {
            for (i, port) in service.spec.ports.iter_mut().enumerate() {
                match port.node_port {
                    Some(np) if old_ports.contains(&np) => {}
                    requested => {
                        let req = requested.map(|n| u16::try_from(n).unwrap_or(0));
                        match self.with_reload(|| self.take_port(req)).await {
                            Ok(p) => port.node_port = Some(i32::from(p)),
                            Err(message) => errors.push(FieldError::invalid(
                                &spec_path.child("ports").index(i).child("nodePort"),
                                requested.unwrap_or_default(),
                                message,
                            )),
                        }
                    }
                }
            }
        } else {
            for port in &mut service.spec.ports {
                port.node_port = None;
            }
        }
        if !errors.is_empty() {
            return Err(invalid(service, errors));
        }
        // Ports the update dropped go back.
        if old.is_some() {
            let kept: BTreeSet<i32> = service.spec.ports.iter().filter_map(|p| p.node_port).collect();
            let mut used = self.lock();
            for np in old_ports.difference(&kept) {
                if let Ok(p) = u16::try_from(*np) {
                    used.ports.remove(&p);
                }
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl AdmissionHook for ServiceAllocator {
    async fn admit(&self, request: &mut AdmissionRequest<'_>) -> k_store::Result<()> {
        if request.resource.group != Service::INFO.group
            || request.resource.plural != Service::INFO.plural
            || request.subresource.is_some()
        {
            return Ok(());
        }
        let old = match request.old_object {
            Some(Object::Service(s)) => Some(s.as_ref().clone()),
            _ => None,
        };
        match request.operation {
            Operation::Delete => {
                if let Some(old) = &old {
                    self.release(old);
                }
                Ok(())
            }
            Operation::Create | Operation::Update => match request.object.as_deref_mut() {
                Some(Object::Service(service)) => self.allocate(service, old.as_ref()).await,
                _ => Ok(()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use k_store::Api;

    use super::*;

    fn service(name: &str, type_: &str, ip: Option<&str>, node_port: Option<i32>) -> Service {
        let mut s = Service::named(name);
        s.metadata.namespace = "default".into();
        s.spec.type_ = Some(type_.into());
        s.spec.cluster_ip = ip.map(str::to_owned);
        s.spec.ports = vec![k_api_types::core::v1::ServicePort { port: 80, node_port, ..Default::default() }];
        s
    }

    #[tokio::test]
    async fn allocates_checks_and_releases() {
        let store = Store::in_memory();
        let ranges = ServiceRanges::parse("10.0.0.0/29", "30000-30001").unwrap();
        ServiceAllocator::install(&store, ranges.clone()).await.unwrap();
        let api: Api<Service> = Api::namespaced(store.clone(), "default");
        let a = api.create(&service("a", "ClusterIP", None, None)).await.unwrap();
        assert_eq!(a.spec.cluster_ip.as_deref(), Some("10.0.0.1"));
        assert_eq!(a.spec.cluster_ips, ["10.0.0.1"]);
        let err = api.create(&service("b", "ClusterIP", Some("10.1.0.5"), None)).await.unwrap_err();
        assert!(err.to_string().contains("not in the valid range"), "{err}");
        assert_eq!(err.code(), 422);
        let err = api.create(&service("b", "ClusterIP", Some("10.0.0.1"), None)).await.unwrap_err();
        assert!(err.to_string().contains("already allocated"), "{err}");
        let headless = api.create(&service("h", "ClusterIP", Some("None"), None)).await.unwrap();
        assert_eq!(headless.spec.cluster_ip.as_deref(), Some("None"));
        let np = api.create(&service("np", "NodePort", None, None)).await.unwrap();
        let port = np.spec.ports[0].node_port.unwrap();
        assert!((30000..=30001).contains(&port));
        let err = api.create(&service("np2", "NodePort", None, Some(port))).await.unwrap_err();
        assert!(err.to_string().contains("provided port is already allocated"), "{err}");
        let np3 = api.create(&service("np3", "NodePort", None, None)).await.unwrap();
        assert_ne!(np3.spec.ports[0].node_port, Some(port));
        let err = api.create(&service("np4", "NodePort", None, None)).await.unwrap_err();
        assert!(err.to_string().contains("range is full"), "{err}");
        // Delete releases: the port and IP can be had again.
        api.delete("np", &Default::default()).await.unwrap();
        let again = api.create(&service("np5", "NodePort", None, Some(port))).await.unwrap();
        assert_eq!(again.spec.ports[0].node_port, Some(port));
        // A new allocator over the same store (a restart) knows what is taken.
        let restarted = Store::new(store.backend().clone());
        ServiceAllocator::install(&restarted, ranges).await.unwrap();
        let api2: Api<Service> = Api::namespaced(restarted, "default");
        let err = api2.create(&service("c", "ClusterIP", Some("10.0.0.1"), None)).await.unwrap_err();
        assert!(err.to_string().contains("already allocated"), "{err}");
    }
}
