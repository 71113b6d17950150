//! Service and Endpoints.

use crate::SortedMap;
use std::collections::HashSet;
use std::net::IpAddr;

use super::ObjectReference;
use super::common::{PORT_RANGE_ERROR, validate_app_protocol, validate_port_num, validate_protocol};
use crate::defaults::{default_str, default_to};
use crate::intstr::IntOrString;
use crate::meta::{Condition, ObjectMeta};
use crate::resource::ALL_VERBS;
use crate::validation::net::{is_ip, parse_cidr};
use crate::validation::{
    DNS1123_LABEL_ERROR, DNS1123_SUBDOMAIN_ERROR, ErrorList, FieldError, NameRule, Path, is_dns1123_label,
    is_dns1123_subdomain, is_port_name, qualified_name_errors, validate_immutable, validate_labels,
    validate_object_meta, validate_object_meta_update,
};
use crate::{ApplyDefaults, Validate, wire};

/// Service types.
const SERVICE_TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
/// Session affinity values.
const SESSION_AFFINITIES: &[&str] = &["ClientIP", "None"];
/// Traffic policy values (external and internal).
const TRAFFIC_POLICIES: &[&str] = &["Cluster", "Local"];
/// IP families.
const IP_FAMILIES: &[&str] = &["IPv4", "IPv6"];
/// IP family policies.
const IP_FAMILY_POLICIES: &[&str] = &["PreferDualStack", "RequireDualStack", "SingleStack"];
/// Traffic distribution values.
const TRAFFIC_DISTRIBUTIONS: &[&str] = &["PreferClose"];
/// Default session stickiness for `ClientIP` affinity (3 hours).
pub const DEFAULT_CLIENT_IP_SERVICE_AFFINITY_SECONDS: i32 = 10800;
/// Longest allowed `ClientIP` affinity timeout (1 day).
pub const MAX_CLIENT_IP_SERVICE_AFFINITY_SECONDS: i32 = 86400;

// ---------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------

/// A named abstraction of a set of pods (selected by labels) reachable at a
/// stable address and ports.
#[wire]
pub struct Service {
    /// APIVersion of the object (`v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`Service`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// Desired behaviour: ports, selector, type and addresses.
    #[wire(omitempty)]
    pub spec: ServiceSpec,
    /// Observed state: load balancer and conditions.
    pub status: Option<ServiceStatus>,
}
crate::impl_resource!(Service {
    group: "",
    version: "v1",
    kind: "Service",
    plural: "services",
    singular: "service",
    short_names: ["svc"],
    categories: ["all"],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: ["status", "proxy"],
    selectable_fields: []
});
/// A list of services.
pub type ServiceList = crate::meta::ObjectList<Service>;

/// The desired behaviour of a service.
#[wire]
pub struct ServiceSpec {
    /// Ports the service exposes.
    pub ports: Vec<ServicePort>,
    /// Labels of the pods traffic is routed to; empty means endpoints are managed externally.
    pub selector: SortedMap<String, String>,
    /// Primary virtual IP: an address, `None` for a headless service, or empty to allocate one.
    #[serde(rename = "clusterIP")]
    pub cluster_ip: Option<String>,
    /// All virtual IPs (at most one per IP family); the first equals `clusterIP`.
    #[serde(rename = "clusterIPs")]
    pub cluster_ips: Vec<String>,
    /// `ClusterIP` (default), `NodePort`, `LoadBalancer` or `ExternalName`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// Extra IPs nodes accept traffic for this service on.
    #[serde(rename = "externalIPs")]
    pub external_ips: Vec<String>,
    /// `None` (default) or `ClientIP` for client-IP based stickiness.
    pub session_affinity: Option<String>,
    /// Deprecated: requested load balancer IP.
    #[serde(rename = "loadBalancerIP")]
    pub load_balancer_ip: Option<String>,
    /// Client CIDRs allowed through a cloud load balancer.
    pub load_balancer_source_ranges: Vec<String>,
    /// DNS name a CNAME record points to, for `ExternalName` services.
    pub external_name: Option<String>,
    /// `Cluster` or `Local` routing of external traffic.
    pub external_traffic_policy: Option<String>,
    /// Node port serving health checks, for `LoadBalancer` with `Local` policy.
    pub health_check_node_port: Option<i32>,
    /// Publish addresses of pods that are not ready.
    pub publish_not_ready_addresses: Option<bool>,
    /// Configuration of session affinity.
    pub session_affinity_config: Option<SessionAffinityConfig>,
    /// IP families of the service (`IPv4`, `IPv6`).
    pub ip_families: Vec<String>,
    /// `SingleStack`, `PreferDualStack` or `RequireDualStack`.
    pub ip_family_policy: Option<String>,
    /// Whether node ports are allocated for a `LoadBalancer` service (default true).
    pub allocate_load_balancer_node_ports: Option<bool>,
    /// Load balancer implementation to use, such as `example.com/internal-vip`.
    pub load_balancer_class: Option<String>,
    /// `Cluster` or `Local` routing of traffic from inside the cluster.
    pub internal_traffic_policy: Option<String>,
    /// Preference for distributing traffic to endpoints (`PreferClose`).
    pub traffic_distribution: Option<String>,
}

/// A port a service exposes.
#[wire]
pub struct ServicePort {
    /// Name of the port (a DNS label), required when there are several ports.
    pub name: Option<String>,
    /// `TCP` (default), `UDP` or `SCTP`.
    pub protocol: Option<String>,
    /// Application protocol, such as `kubernetes.io/h2c` or `https`.
    pub app_protocol: Option<String>,
    /// Port the service listens on.
    #[wire(always)]
    pub port: i32,
    /// Port number or named port on the pods (defaults to `port`).
    pub target_port: Option<IntOrString>,
    /// Port on every node, for `NodePort` and `LoadBalancer` services.
    pub node_port: Option<i32>,
}

/// Session affinity configuration.
#[wire(eq)]
pub struct SessionAffinityConfig {
    /// Settings of `ClientIP` affinity.
    #[serde(rename = "clientIP")]
    pub client_ip: Option<ClientIPConfig>,
}

/// Settings of `ClientIP` session affinity.
#[wire(eq)]
pub struct ClientIPConfig {
    /// Stickiness time, 1–86400 seconds (default 10800).
    pub timeout_seconds: Option<i32>,
}

/// Observed state of a service.
#[wire]
pub struct ServiceStatus {
    /// State of the load balancer, if any. Always written, as Go writes it.
    pub load_balancer: LoadBalancerStatus,
    /// Current conditions.
    pub conditions: Vec<Condition>,
}

/// State of a load balancer.
#[wire]
pub struct LoadBalancerStatus {
    /// Ingress points of the load balancer.
    pub ingress: Vec<LoadBalancerIngress>,
}

/// An ingress point of a load balancer.
#[wire]
pub struct LoadBalancerIngress {
    /// IP address of the ingress point.
    pub ip: Option<String>,
    /// Hostname of the ingress point.
    pub hostname: Option<String>,
    /// `VIP` (traffic arrives with the load balancer IP as destination) or `Proxy`.
    pub ip_mode: Option<String>,
    /// Status of the service ports.
    pub ports: Vec<PortStatus>,
}

/// Status of a service port on a load balancer.
#[wire]
pub struct PortStatus {
    /// Port number.
    #[wire(always)]
    pub port: i32,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// Error of the port, as a CamelCase reason.
    pub error: Option<String>,
}

impl Service {
    /// Whether the service is headless (`clusterIP: None`).
    pub fn is_headless(&self) -> bool {
        self.spec.cluster_ip.as_deref() == Some("None")
    }

    fn type_str(&self) -> &str {
        self.spec.type_.as_deref().unwrap_or("ClusterIP")
    }
}

/// Whether a service of this type is reachable from outside the cluster:
/// NodePort, LoadBalancer, or ClusterIP with external IPs (as Kubernetes decides).
fn externally_accessible(ty: &str, external_ips: &[String]) -> bool {
    ty == "NodePort" || ty == "LoadBalancer" || (ty == "ClusterIP" && !external_ips.is_empty())
}

impl ApplyDefaults for Service {
    /// Kubernetes' `SetDefaults_Service`.
    fn apply_defaults(&mut self) {
        let spec = &mut self.spec;
        default_str(&mut spec.session_affinity, "None");
        default_str(&mut spec.type_, "ClusterIP");
        for p in &mut spec.ports {
            default_str(&mut p.protocol, "TCP");
            let unset = match &p.target_port {
                None => true,
                Some(IntOrString::Int(0)) => true,
                Some(IntOrString::String(s)) => s.is_empty(),
                Some(IntOrString::Int(_)) => false,
            };
            if unset {
                p.target_port = Some(IntOrString::Int(p.port));
            }
        }
        let ty = spec.type_.as_deref().unwrap_or_default();
        let external = externally_accessible(ty, &spec.external_ips);
        if external {
            default_str(&mut spec.external_traffic_policy, "Cluster");
        }
        if external || ty == "ClusterIP" {
            default_to(&mut spec.internal_traffic_policy, "Cluster".to_owned());
        }
        if ty == "LoadBalancer" {
            default_to(&mut spec.allocate_load_balancer_node_ports, true);
        }
        // Kubernetes drops the affinity config of a service without affinity.
        if spec.session_affinity.as_deref() == Some("None") {
            spec.session_affinity_config = None;
        }
        if spec.session_affinity.as_deref() == Some("ClientIP") {
            let cfg = spec.session_affinity_config.get_or_insert_with(Default::default);
            let client = cfg.client_ip.get_or_insert_with(Default::default);
            default_to(&mut client.timeout_seconds, DEFAULT_CLIENT_IP_SERVICE_AFFINITY_SECONDS);
        }
        if ty == "LoadBalancer"
            && let Some(status) = &mut self.status
        {
            for ing in &mut status.load_balancer.ingress {
                if ing.ip.as_deref().is_some_and(|ip| !ip.is_empty()) {
                    default_to(&mut ing.ip_mode, "VIP".to_owned());
                }
            }
        }
    }
}

/// Validates a service port's target: a port number or an IANA port name.
fn validate_port_num_or_name(port: &IntOrString, path: &Path, errors: &mut ErrorList) {
    match port {
        IntOrString::Int(n) => validate_port_num(*n, path, errors),
        IntOrString::String(s) => {
            if !is_port_name(s) {
                errors.push(FieldError::invalid(
                    path,
                    s,
                    "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-), contain at least one letter, \
                     not start or end with a hyphen, not contain adjacent hyphens, and be at most 15 characters",
                ));
            }
        }
    }
}

fn validate_service_spec(svc: &Service, errors: &mut ErrorList) {
    let spec = &svc.spec;
    let path = Path::new("spec");
    let ty = svc.type_str();
    let is_external_name = ty == "ExternalName";

    if let Some(t) = spec.type_.as_deref()
        && !SERVICE_TYPES.contains(&t)
    {
        errors.push(FieldError::not_supported(&path.child("type"), t, SERVICE_TYPES));
    }

    // Ports.
    let ports_path = path.child("ports");
    if spec.ports.is_empty() && !svc.is_headless() && !is_external_name {
        errors.push(FieldError::required(&ports_path, ""));
    }
    let require_name = spec.ports.len() > 1;
    let mut names = HashSet::new();
    let mut port_keys = HashSet::new();
    let mut node_port_keys = HashSet::new();
    for (i, p) in spec.ports.iter().enumerate() {
        let pp = ports_path.index(i);
        match p.name.as_deref() {
            None | Some("") if require_name => errors.push(FieldError::required(&pp.child("name"), "")),
            None | Some("") => {}
            Some(name) => {
                if !is_dns1123_label(name) {
                    errors.push(FieldError::invalid(&pp.child("name"), name, DNS1123_LABEL_ERROR));
                } else if !names.insert(name) {
                    errors.push(FieldError::duplicate(&pp.child("name"), name));
                }
            }
        }
        validate_port_num(p.port, &pp.child("port"), errors);
        // A missing protocol is defaulted to TCP.
        if p.protocol.is_some() {
            validate_protocol(p.protocol.as_deref(), &pp.child("protocol"), errors);
        }
        validate_app_protocol(p.app_protocol.as_deref(), &pp.child("appProtocol"), errors);
        if let Some(tp) = &p.target_port {
            validate_port_num_or_name(tp, &pp.child("targetPort"), errors);
        }
        let protocol = p.protocol.as_deref().unwrap_or("TCP");
        if !port_keys.insert((p.port, protocol)) {
            errors.push(FieldError::duplicate(&pp, format!("{}/{protocol}", p.port)));
        }
        if let Some(np) = p.node_port
            && np != 0
        {
            let np_path = pp.child("nodePort");
            if ty == "ClusterIP" {
                errors.push(FieldError::forbidden(&np_path, "may not be used when `type` is 'ClusterIP'"));
            } else if !(0..=65535).contains(&np) {
                errors.push(FieldError::invalid(&np_path, np, PORT_RANGE_ERROR));
            } else if !node_port_keys.insert((np, protocol)) {
                errors.push(FieldError::duplicate(&np_path, np));
            }
        }
    }

    validate_labels(&spec.selector, &path.child("selector"), errors);

    // Cluster IPs.
    if let Some(ip) = spec.cluster_ip.as_deref()
        && !ip.is_empty()
    {
        if is_external_name {
            errors.push(FieldError::forbidden(&path.child("clusterIP"), "may not be set for ExternalName services"));
        } else if ip != "None" && !is_ip(ip) {
            errors.push(FieldError::invalid(
                &path.child("clusterIP"),
                ip,
                "must be empty, 'None', or a valid IP address",
            ));
        }
    }
    let ips_path = path.child("clusterIPs");
    if is_external_name && !spec.cluster_ips.is_empty() {
        errors.push(FieldError::forbidden(&ips_path, "may not be set for ExternalName services"));
    } else {
        for (i, ip) in spec.cluster_ips.iter().enumerate() {
            let ok = is_ip(ip) || (ip == "None" && spec.cluster_ips.len() == 1);
            if !ok {
                errors.push(FieldError::invalid(
                    &ips_path.index(i),
                    ip,
                    "must be empty, 'None', or a valid IP address",
                ));
            }
        }
        if let (Some(first), Some(ip)) = (spec.cluster_ips.first(), spec.cluster_ip.as_deref())
            && !ip.is_empty()
            && first != ip
        {
            errors.push(FieldError::invalid(&ips_path, &spec.cluster_ips, "first value must match `clusterIP`"));
        }
        if spec.cluster_ips.len() > 2 {
            errors.push(FieldError::invalid(&ips_path, &spec.cluster_ips, "may only hold up to 2 values"));
        } else if let [a, b] = spec.cluster_ips.as_slice()
            && let (Ok(a), Ok(b)) = (a.parse::<IpAddr>(), b.parse::<IpAddr>())
            && a.is_ipv4() == b.is_ipv4()
        {
            errors.push(FieldError::invalid(
                &ips_path,
                &spec.cluster_ips,
                "may specify no more than one IP for each IP family",
            ));
        }
    }

    // IP families.
    let fam_path = path.child("ipFamilies");
    if is_external_name && !spec.ip_families.is_empty() {
        errors.push(FieldError::forbidden(&fam_path, "may not be set for ExternalName services"));
    }
    let mut seen = HashSet::new();
    for (i, f) in spec.ip_families.iter().enumerate() {
        if !IP_FAMILIES.contains(&f.as_str()) {
            errors.push(FieldError::not_supported(&fam_path.index(i), f, IP_FAMILIES));
        } else if !seen.insert(f) {
            errors.push(FieldError::duplicate(&fam_path.index(i), f));
        }
    }
    if let Some(p) = spec.ip_family_policy.as_deref() {
        if is_external_name {
            errors
                .push(FieldError::forbidden(&path.child("ipFamilyPolicy"), "may not be set for ExternalName services"));
        } else if !IP_FAMILY_POLICIES.contains(&p) {
            errors.push(FieldError::not_supported(&path.child("ipFamilyPolicy"), p, IP_FAMILY_POLICIES));
        }
    }

    // ExternalName.
    if is_external_name {
        let name = spec.external_name.as_deref().unwrap_or_default();
        let trimmed = name.strip_suffix('.').unwrap_or(name);
        if trimmed.is_empty() {
            errors.push(FieldError::required(&path.child("externalName"), ""));
        } else if !is_dns1123_subdomain(trimmed) {
            errors.push(FieldError::invalid(&path.child("externalName"), name, DNS1123_SUBDOMAIN_ERROR));
        }
    }

    // Session affinity.
    let affinity = spec.session_affinity.as_deref();
    let cfg_path = path.child("sessionAffinityConfig");
    match affinity {
        Some(a) if !SESSION_AFFINITIES.contains(&a) => {
            errors.push(FieldError::not_supported(&path.child("sessionAffinity"), a, SESSION_AFFINITIES));
        }
        Some("ClientIP") => {
            let timeout_path = cfg_path.child("clientIP").child("timeoutSeconds");
            match spec
                .session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds)
            {
                // Filled in by defaulting.
                None => {}
                Some(t) if t <= 0 || t > MAX_CLIENT_IP_SERVICE_AFFINITY_SECONDS => {
                    errors.push(FieldError::invalid(
                        &timeout_path,
                        t,
                        format!("must be greater than 0 and less than {MAX_CLIENT_IP_SERVICE_AFFINITY_SECONDS}"),
                    ));
                }
                Some(_) => {}
            }
        }
        _ => {
            if let Some(cfg) = &spec.session_affinity_config {
                errors.push(FieldError::invalid(&cfg_path, cfg, "must not be set when session affinity is None"));
            }
        }
    }

    // External IPs and load balancer fields.
    for (i, ip) in spec.external_ips.iter().enumerate() {
        if !is_ip(ip) {
            errors.push(FieldError::invalid(&path.child("externalIPs").index(i), ip, "must be a valid IP address"));
        }
    }
    let is_lb = ty == "LoadBalancer";
    if let Some(ip) = spec.load_balancer_ip.as_deref()
        && !ip.is_empty()
        && !is_ip(ip)
    {
        errors.push(FieldError::invalid(&path.child("loadBalancerIP"), ip, "must be a valid IP address"));
    }
    if !spec.load_balancer_source_ranges.is_empty() {
        let ranges = path.child("loadBalancerSourceRanges");
        if !is_lb {
            errors.push(FieldError::forbidden(&ranges, "may only be used when `type` is 'LoadBalancer'"));
        }
        for (i, r) in spec.load_balancer_source_ranges.iter().enumerate() {
            if parse_cidr(r.trim()).is_none() {
                errors.push(FieldError::invalid(
                    &ranges.index(i),
                    r,
                    "must be a list of IP ranges. For example, 10.240.0.0/24,10.250.0.0/24 ",
                ));
            }
        }
    }
    if spec.allocate_load_balancer_node_ports.is_some() && !is_lb {
        errors.push(FieldError::forbidden(
            &path.child("allocateLoadBalancerNodePorts"),
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    if let Some(class) = spec.load_balancer_class.as_deref() {
        let class_path = path.child("loadBalancerClass");
        if !is_lb {
            errors.push(FieldError::forbidden(&class_path, "may only be used when `type` is 'LoadBalancer'"));
        } else {
            for msg in qualified_name_errors(class) {
                errors.push(FieldError::invalid(&class_path, class, msg));
            }
        }
    }

    // Traffic policies.
    let external = externally_accessible(ty, &spec.external_ips);
    let etp_path = path.child("externalTrafficPolicy");
    match spec.external_traffic_policy.as_deref() {
        None | Some("") => {}
        Some(p) if !external => {
            errors.push(FieldError::invalid(&etp_path, p, "may only be set for externally-accessible services"));
        }
        Some(p) if !TRAFFIC_POLICIES.contains(&p) => {
            errors.push(FieldError::not_supported(&etp_path, p, TRAFFIC_POLICIES));
        }
        Some(_) => {}
    }
    if let Some(p) = spec.internal_traffic_policy.as_deref()
        && !TRAFFIC_POLICIES.contains(&p)
    {
        errors.push(FieldError::not_supported(&path.child("internalTrafficPolicy"), p, TRAFFIC_POLICIES));
    }
    if let Some(hc) = spec.health_check_node_port
        && hc != 0
    {
        let hc_path = path.child("healthCheckNodePort");
        if !(is_lb && spec.external_traffic_policy.as_deref() == Some("Local")) {
            errors.push(FieldError::invalid(
                &hc_path,
                hc,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ));
        } else {
            validate_port_num(hc, &hc_path, errors);
        }
    }
    if let Some(d) = spec.traffic_distribution.as_deref()
        && !TRAFFIC_DISTRIBUTIONS.contains(&d)
    {
        errors.push(FieldError::not_supported(&path.child("trafficDistribution"), d, TRAFFIC_DISTRIBUTIONS));
    }
}

impl Validate for Service {
    fn validate(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta(&self.metadata, true, NameRule::Label1035, &mut errors);
        validate_service_spec(self, &mut errors);
        errors
    }

    /// `clusterIP` (and each assigned `clusterIPs` entry) is immutable once set,
    /// unless the service changes to or from `ExternalName`.
    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Label1035, &mut errors);
        validate_service_spec(self, &mut errors);
        let either_external_name = self.type_str() == "ExternalName" || old.type_str() == "ExternalName";
        if !either_external_name && old.spec.cluster_ip.as_deref().is_some_and(|ip| !ip.is_empty()) {
            let path = Path::new("spec");
            validate_immutable(&self.spec.cluster_ip, &old.spec.cluster_ip, &path.child("clusterIP"), &mut errors);
            for (i, (new, prev)) in self.spec.cluster_ips.iter().zip(&old.spec.cluster_ips).enumerate() {
                if new != prev {
                    errors.push(FieldError::invalid(
                        &path.child("clusterIPs").index(i),
                        &self.spec.cluster_ips,
                        "may not change once set",
                    ));
                }
            }
        }
        errors
    }
}

// ---------------------------------------------------------------------------
// Endpoints
// ---------------------------------------------------------------------------

/// The addresses and ports that implement a service (maintained by the
/// endpoints controller for services with a selector).
#[wire]
pub struct Endpoints {
    /// APIVersion of the object (`v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`Endpoints`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// Sets of addresses that share the same ports.
    pub subsets: Vec<EndpointSubset>,
}
crate::impl_resource!(Endpoints {
    group: "",
    version: "v1",
    kind: "Endpoints",
    plural: "endpoints",
    singular: "endpoints",
    short_names: ["ep"],
    categories: [],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: [],
    selectable_fields: []
});
/// A list of endpoints.
pub type EndpointsList = crate::meta::ObjectList<Endpoints>;

/// A group of addresses with a common set of ports.
#[wire]
pub struct EndpointSubset {
    /// Addresses ready to receive traffic.
    pub addresses: Vec<EndpointAddress>,
    /// Addresses not (yet) ready.
    pub not_ready_addresses: Vec<EndpointAddress>,
    /// Ports available on every address.
    pub ports: Vec<EndpointPort>,
}

/// One endpoint address.
#[wire]
pub struct EndpointAddress {
    /// IP address of the endpoint.
    pub ip: String,
    /// Hostname of the endpoint.
    pub hostname: Option<String>,
    /// Node hosting the endpoint.
    pub node_name: Option<String>,
    /// The object (usually a pod) providing the endpoint.
    pub target_ref: Option<ObjectReference>,
}

/// A port of an endpoint subset.
#[wire]
pub struct EndpointPort {
    /// Name of the port, matching the service port's name.
    pub name: Option<String>,
    /// Port number.
    #[wire(always)]
    pub port: i32,
    /// `TCP` (default), `UDP` or `SCTP`.
    pub protocol: Option<String>,
    /// Application protocol.
    pub app_protocol: Option<String>,
}

impl ApplyDefaults for Endpoints {
    /// Port protocol `TCP`.
    fn apply_defaults(&mut self) {
        for subset in &mut self.subsets {
            for p in &mut subset.ports {
                default_str(&mut p.protocol, "TCP");
            }
        }
    }
}

/// Rejects addresses Kubernetes does not allow as endpoints.
fn validate_endpoint_ip(ip: &str, path: &Path, errors: &mut ErrorList) {
    let Ok(addr) = ip.parse::<IpAddr>() else {
        errors.push(FieldError::invalid(path, ip, "must be a valid IP address"));
        return;
    };
    let problem = match addr {
        IpAddr::V4(a) if a.is_unspecified() => Some("may not be unspecified (0.0.0.0)"),
        IpAddr::V6(a) if a.is_unspecified() => Some("may not be unspecified (::)"),
        IpAddr::V4(a) if a.is_loopback() => Some("may not be in the loopback range (127.0.0.0/8, ::1/128)"),
        IpAddr::V6(a) if a.is_loopback() => Some("may not be in the loopback range (127.0.0.0/8, ::1/128)"),
        IpAddr::V4(a) if a.is_link_local() => Some("may not be in the link-local range (169.254.0.0/16, fe80::/10)"),
        IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80 => {
            Some("may not be in the link-local range (169.254.0.0/16, fe80::/10)")
        }
        IpAddr::V4(a) if a.octets()[..3] == [224, 0, 0] => {
            Some("may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")
        }
        IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xff00 && a.segments()[0] & 0x000f == 2 => {
            Some("may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")
        }
        _ => None,
    };
    if let Some(msg) = problem {
        errors.push(FieldError::invalid(path, ip, msg));
    }
}

fn validate_endpoint_address(a: &EndpointAddress, path: &Path, errors: &mut ErrorList) {
    validate_endpoint_ip(&a.ip, &path.child("ip"), errors);
    if let Some(h) = a.hostname.as_deref()
        && !h.is_empty()
        && !is_dns1123_label(h)
    {
        errors.push(FieldError::invalid(&path.child("hostname"), h, DNS1123_LABEL_ERROR));
    }
    if let Some(n) = a.node_name.as_deref()
        && !is_dns1123_subdomain(n)
    {
        errors.push(FieldError::invalid(&path.child("nodeName"), n, DNS1123_SUBDOMAIN_ERROR));
    }
}

fn validate_endpoints_subsets(eps: &Endpoints, errors: &mut ErrorList) {
    let subsets = Path::new("subsets");
    for (i, ss) in eps.subsets.iter().enumerate() {
        let sp = subsets.index(i);
        if ss.addresses.is_empty() && ss.not_ready_addresses.is_empty() {
            errors.push(FieldError::required(&sp, "must specify `addresses` or `notReadyAddresses`"));
        }
        for (j, a) in ss.addresses.iter().enumerate() {
            validate_endpoint_address(a, &sp.child("addresses").index(j), errors);
        }
        for (j, a) in ss.not_ready_addresses.iter().enumerate() {
            validate_endpoint_address(a, &sp.child("notReadyAddresses").index(j), errors);
        }
        let require_name = ss.ports.len() > 1;
        let mut names = HashSet::new();
        for (j, p) in ss.ports.iter().enumerate() {
            let pp = sp.child("ports").index(j);
            match p.name.as_deref() {
                None | Some("") if require_name => errors.push(FieldError::required(&pp.child("name"), "")),
                None | Some("") => {}
                Some(name) => {
                    if !is_dns1123_label(name) {
                        errors.push(FieldError::invalid(&pp.child("name"), name, DNS1123_LABEL_ERROR));
                    } else if !names.insert(name) {
                        errors.push(FieldError::duplicate(&pp.child("name"), name));
                    }
                }
            }
            validate_port_num(p.port, &pp.child("port"), errors);
            if p.protocol.is_some() {
                validate_protocol(p.protocol.as_deref(), &pp.child("protocol"), errors);
            }
            validate_app_protocol(p.app_protocol.as_deref(), &pp.child("appProtocol"), errors);
        }
    }
}

impl Validate for Endpoints {
    fn validate(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta(&self.metadata, true, NameRule::Subdomain, &mut errors);
        validate_endpoints_subsets(self, &mut errors);
        errors
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Subdomain, &mut errors);
        validate_endpoints_subsets(self, &mut errors);
        errors
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::{causes, expect};
    use super::*;
    use crate::Resource;

    fn svc() -> Service {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "work"},
            "spec": {
                "selector": {"app": "web"},
                "ports": [{"name": "http", "port": 80, "targetPort": 8080}, {"name": "https", "port": 443, "targetPort": "https"}]
            }
        }))
        .unwrap()
    }

    #[test]
    fn service_round_trip() {
        let v = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "work", "labels": {"app": "web"}},
            "spec": {
                "ports": [
                    {"name": "http", "protocol": "TCP", "appProtocol": "http", "port": 80, "targetPort": 8080, "nodePort": 30080},
                    {"name": "dns", "protocol": "UDP", "port": 53, "targetPort": "dns", "nodePort": 30053}
                ],
                "selector": {"app": "web"},
                "clusterIP": "10.96.0.10",
                "clusterIPs": ["10.96.0.10", "fd00::10"],
                "type": "LoadBalancer",
                "externalIPs": ["192.0.2.1"],
                "sessionAffinity": "ClientIP",
                "loadBalancerIP": "198.51.100.7",
                "loadBalancerSourceRanges": ["10.0.0.0/8"],
                "externalTrafficPolicy": "Local",
                "healthCheckNodePort": 31000,
                "publishNotReadyAddresses": true,
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 600}},
                "ipFamilies": ["IPv4", "IPv6"],
                "ipFamilyPolicy": "PreferDualStack",
                "allocateLoadBalancerNodePorts": false,
                "loadBalancerClass": "example.com/lb",
                "internalTrafficPolicy": "Local",
                "trafficDistribution": "PreferClose"
            },
            "status": {
                "loadBalancer": {"ingress": [
                    {"ip": "198.51.100.7", "ipMode": "VIP", "ports": [{"port": 80, "protocol": "TCP", "error": "Pending"}]},
                    {"hostname": "lb.example.com"}
                ]},
                "conditions": [{"type": "LoadBalancerReady", "status": "True", "lastTransitionTime": "2026-01-02T03:04:05Z", "reason": "Ready", "message": ""}]
            }
        });
        let s: Service = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&s).unwrap(), v);
        assert!(s.validate().is_empty(), "{:?}", s.validate());
        // An empty status still writes `loadBalancer: {}` as Kubernetes does.
        let bare = Service { status: Some(ServiceStatus::default()), ..Service::named("x") };
        assert_eq!(
            serde_json::to_value(&bare).unwrap(),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "status": {"loadBalancer": {}}})
        );
    }

    #[test]
    fn endpoints_round_trip() {
        let v = json!({
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "web", "namespace": "work"},
            "subsets": [{
                "addresses": [{"ip": "10.1.0.5", "hostname": "web-0", "nodeName": "node-1",
                               "targetRef": {"kind": "Pod", "namespace": "work", "name": "web-0", "uid": "u1"}}],
                "notReadyAddresses": [{"ip": "10.1.0.6"}],
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP", "appProtocol": "http"}]
            }]
        });
        let e: Endpoints = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&e).unwrap(), v);
        assert!(e.validate().is_empty(), "{:?}", e.validate());
    }

    #[test]
    fn resource_info() {
        assert_eq!(Service::INFO.short_names, ["svc"]);
        assert_eq!(Service::INFO.categories, ["all"]);
        assert_eq!(Service::INFO.subresources, ["status", "proxy"]);
        assert_eq!(Endpoints::INFO.short_names, ["ep"]);
        assert_eq!(Endpoints::INFO.singular, "endpoints");
        assert_eq!(ServiceList::new(vec![]).kind, "ServiceList");
    }

    #[test]
    fn service_defaults() {
        let cases: Vec<(serde_json::Value, serde_json::Value)> = vec![
            (
                json!({"ports": [{"port": 80}]}),
                json!({"ports": [{"protocol": "TCP", "port": 80, "targetPort": 80}], "type": "ClusterIP",
                       "sessionAffinity": "None", "internalTrafficPolicy": "Cluster"}),
            ),
            (
                json!({"type": "NodePort", "ports": [{"port": 80, "targetPort": "http", "protocol": "UDP"}]}),
                json!({"ports": [{"protocol": "UDP", "port": 80, "targetPort": "http"}], "type": "NodePort",
                       "sessionAffinity": "None", "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster"}),
            ),
            (
                json!({"type": "LoadBalancer", "sessionAffinity": "ClientIP"}),
                json!({"type": "LoadBalancer", "sessionAffinity": "ClientIP", "externalTrafficPolicy": "Cluster",
                       "internalTrafficPolicy": "Cluster", "allocateLoadBalancerNodePorts": true,
                       "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}}}),
            ),
            (
                json!({"type": "ExternalName", "externalName": "db.example.com"}),
                json!({"type": "ExternalName", "externalName": "db.example.com", "sessionAffinity": "None"}),
            ),
            (
                json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local", "internalTrafficPolicy": "Local",
                       "allocateLoadBalancerNodePorts": false, "ports": [{"port": 443, "targetPort": 0}]}),
                json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local", "internalTrafficPolicy": "Local",
                       "allocateLoadBalancerNodePorts": false, "sessionAffinity": "None",
                       "ports": [{"port": 443, "protocol": "TCP", "targetPort": 443}]}),
            ),
        ];
        for (input, want) in cases {
            let mut s = Service { spec: serde_json::from_value(input.clone()).unwrap(), ..Default::default() };
            s.apply_defaults();
            assert_eq!(serde_json::to_value(&s.spec).unwrap(), want, "{input}");
            let once = s.clone();
            s.apply_defaults();
            assert_eq!(s, once);
        }
        let mut lb: Service = serde_json::from_value(json!({
            "spec": {"type": "LoadBalancer"},
            "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}, {"hostname": "h"}, {"ip": "5.6.7.8", "ipMode": "Proxy"}]}}
        }))
        .unwrap();
        lb.apply_defaults();
        assert_eq!(
            serde_json::to_value(&lb.status).unwrap(),
            json!({"loadBalancer": {"ingress": [{"ip": "1.2.3.4", "ipMode": "VIP"}, {"hostname": "h"}, {"ip": "5.6.7.8", "ipMode": "Proxy"}]}})
        );
        let mut eps: Endpoints =
            serde_json::from_value(json!({"subsets": [{"ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]}]}))
                .unwrap();
        eps.apply_defaults();
        assert_eq!(
            serde_json::to_value(&eps.subsets).unwrap(),
            json!([{"ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}])
        );
    }

    #[test]
    fn service_validation() {
        type Case = (&'static str, fn(&mut Service), &'static [(&'static str, &'static str)]);
        let cases: &[Case] = &[
            ("valid", |_| {}, &[]),
            ("dns-1035 name", |s| s.metadata.name = "1web".into(), &[("metadata.name", "FieldValueInvalid")]),
            ("no ports", |s| s.spec.ports.clear(), &[("spec.ports", "FieldValueRequired")]),
            (
                "headless without ports",
                |s| {
                    s.spec.ports.clear();
                    s.spec.cluster_ip = Some("None".into());
                },
                &[],
            ),
            ("port zero", |s| s.spec.ports[0].port = 0, &[("spec.ports[0].port", "FieldValueInvalid")]),
            ("port too big", |s| s.spec.ports[0].port = 70000, &[("spec.ports[0].port", "FieldValueInvalid")]),
            ("missing name", |s| s.spec.ports[1].name = None, &[("spec.ports[1].name", "FieldValueRequired")]),
            (
                "duplicate name",
                |s| s.spec.ports[1].name = Some("http".into()),
                &[("spec.ports[1].name", "FieldValueDuplicate")],
            ),
            (
                "single unnamed port",
                |s| {
                    s.spec.ports.truncate(1);
                    s.spec.ports[0].name = None;
                },
                &[],
            ),
            (
                "bad protocol",
                |s| s.spec.ports[0].protocol = Some("HTTP".into()),
                &[("spec.ports[0].protocol", "FieldValueNotSupported")],
            ),
            (
                "bad target name",
                |s| s.spec.ports[1].target_port = Some("HTTPS".into()),
                &[("spec.ports[1].targetPort", "FieldValueInvalid")],
            ),
            (
                "bad target number",
                |s| s.spec.ports[0].target_port = Some(IntOrString::Int(0)),
                &[("spec.ports[0].targetPort", "FieldValueInvalid")],
            ),
            (
                "nodePort on ClusterIP",
                |s| s.spec.ports[0].node_port = Some(30080),
                &[("spec.ports[0].nodePort", "FieldValueForbidden")],
            ),
            (
                "nodePort out of range",
                |s| {
                    s.spec.type_ = Some("NodePort".into());
                    s.spec.ports[0].node_port = Some(70000);
                },
                &[("spec.ports[0].nodePort", "FieldValueInvalid")],
            ),
            (
                "bad clusterIP",
                |s| s.spec.cluster_ip = Some("10.0.0.300".into()),
                &[("spec.clusterIP", "FieldValueInvalid")],
            ),
            ("bad type", |s| s.spec.type_ = Some("Internal".into()), &[("spec.type", "FieldValueNotSupported")]),
            (
                "ExternalName without name",
                |s| s.spec.type_ = Some("ExternalName".into()),
                &[("spec.externalName", "FieldValueRequired")],
            ),
            (
                "ExternalName bad name",
                |s| {
                    s.spec.type_ = Some("ExternalName".into());
                    s.spec.external_name = Some("Db_Host".into());
                },
                &[("spec.externalName", "FieldValueInvalid")],
            ),
            (
                "ExternalName trailing dot",
                |s| {
                    s.spec.type_ = Some("ExternalName".into());
                    s.spec.external_name = Some("db.example.com.".into());
                },
                &[],
            ),
            (
                "bad affinity",
                |s| s.spec.session_affinity = Some("Cookie".into()),
                &[("spec.sessionAffinity", "FieldValueNotSupported")],
            ),
            (
                "affinity timeout too long",
                |s| {
                    s.spec.session_affinity = Some("ClientIP".into());
                    s.spec.session_affinity_config = Some(SessionAffinityConfig {
                        client_ip: Some(ClientIPConfig { timeout_seconds: Some(86401) }),
                    });
                },
                &[("spec.sessionAffinityConfig.clientIP.timeoutSeconds", "FieldValueInvalid")],
            ),
            (
                "affinity config with None",
                |s| {
                    s.spec.session_affinity = Some("None".into());
                    s.spec.session_affinity_config = Some(SessionAffinityConfig::default());
                },
                &[("spec.sessionAffinityConfig", "FieldValueInvalid")],
            ),
            (
                "externalTrafficPolicy on ClusterIP",
                |s| s.spec.external_traffic_policy = Some("Local".into()),
                &[("spec.externalTrafficPolicy", "FieldValueInvalid")],
            ),
            (
                "bad externalTrafficPolicy",
                |s| {
                    s.spec.type_ = Some("NodePort".into());
                    s.spec.external_traffic_policy = Some("Nearest".into());
                },
                &[("spec.externalTrafficPolicy", "FieldValueNotSupported")],
            ),
            (
                "source ranges on NodePort",
                |s| {
                    s.spec.type_ = Some("NodePort".into());
                    s.spec.load_balancer_source_ranges = vec!["10.0.0.0/33".into()];
                },
                &[
                    ("spec.loadBalancerSourceRanges", "FieldValueForbidden"),
                    ("spec.loadBalancerSourceRanges[0]", "FieldValueInvalid"),
                ],
            ),
            (
                "bad externalIP",
                |s| s.spec.external_ips = vec!["example.com".into()],
                &[("spec.externalIPs[0]", "FieldValueInvalid")],
            ),
            (
                "duplicate ip family",
                |s| s.spec.ip_families = vec!["IPv4".into(), "IPv4".into()],
                &[("spec.ipFamilies[1]", "FieldValueDuplicate")],
            ),
            (
                "lb class on ClusterIP",
                |s| s.spec.load_balancer_class = Some("example.com/lb".into()),
                &[("spec.loadBalancerClass", "FieldValueForbidden")],
            ),
            (
                "bad selector",
                |s| {
                    s.spec.selector.insert("app".into(), "not valid!".into());
                },
                &[("spec.selector[app]", "FieldValueInvalid")],
            ),
        ];
        for (name, mutate, want) in cases {
            let mut s = svc();
            mutate(&mut s);
            assert_eq!(causes(&s.validate()), expect(want), "{name}");
        }
    }

    #[test]
    fn service_update() {
        let mut old = svc();
        old.spec.cluster_ip = Some("10.96.0.10".into());
        old.spec.cluster_ips = vec!["10.96.0.10".into()];
        let mut ports = old.clone();
        ports.spec.ports[0].port = 8080;
        assert!(ports.validate_update(&old).is_empty());

        let mut moved = old.clone();
        moved.spec.cluster_ip = Some("10.96.0.11".into());
        moved.spec.cluster_ips = vec!["10.96.0.11".into()];
        let errs = moved.validate_update(&old);
        assert_eq!(
            causes(&errs),
            expect(&[("spec.clusterIP", "FieldValueInvalid"), ("spec.clusterIPs[0]", "FieldValueInvalid")])
        );
        assert_eq!(errs[0].to_string(), "spec.clusterIP: Invalid value: \"10.96.0.11\": field is immutable");

        // An unassigned clusterIP may be filled in; dual-stack may be added.
        let mut fresh = svc();
        fresh.spec.cluster_ip = Some(String::new());
        let mut assigned = fresh.clone();
        assigned.spec.cluster_ip = Some("10.96.0.12".into());
        assert!(assigned.validate_update(&fresh).is_empty());
        let mut dual = old.clone();
        dual.spec.cluster_ips.push("fd00::12".into());
        assert!(dual.validate_update(&old).is_empty());

        // Switching to ExternalName releases the IP.
        let mut ext = old.clone();
        ext.spec.type_ = Some("ExternalName".into());
        ext.spec.external_name = Some("db.example.com".into());
        ext.spec.cluster_ip = None;
        ext.spec.cluster_ips.clear();
        assert!(ext.validate_update(&old).is_empty(), "{:?}", ext.validate_update(&old));
    }

    #[test]
    fn endpoints_validation() {
        type Case = (&'static str, fn(&mut Endpoints), &'static [(&'static str, &'static str)]);
        let base: Endpoints = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "work"},
            "subsets": [{"addresses": [{"ip": "10.1.0.5"}], "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}]
        }))
        .unwrap();
        let cases: &[Case] = &[
            ("valid", |_| {}, &[]),
            ("no addresses", |e| e.subsets[0].addresses.clear(), &[("subsets[0]", "FieldValueRequired")]),
            (
                "bad ip",
                |e| e.subsets[0].addresses[0].ip = "10.1.0".into(),
                &[("subsets[0].addresses[0].ip", "FieldValueInvalid")],
            ),
            (
                "loopback ip",
                |e| e.subsets[0].addresses[0].ip = "127.0.0.1".into(),
                &[("subsets[0].addresses[0].ip", "FieldValueInvalid")],
            ),
            (
                "link-local ip",
                |e| e.subsets[0].addresses[0].ip = "fe80::1".into(),
                &[("subsets[0].addresses[0].ip", "FieldValueInvalid")],
            ),
            ("bad port", |e| e.subsets[0].ports[0].port = 0, &[("subsets[0].ports[0].port", "FieldValueInvalid")]),
            (
                "unnamed second port",
                |e| e.subsets[0].ports.push(EndpointPort { port: 81, ..Default::default() }),
                &[("subsets[0].ports[1].name", "FieldValueRequired")],
            ),
            (
                "bad protocol",
                |e| e.subsets[0].ports[0].protocol = Some("tcp".into()),
                &[("subsets[0].ports[0].protocol", "FieldValueNotSupported")],
            ),
        ];
        for (name, mutate, want) in cases {
            let mut e = base.clone();
            mutate(&mut e);
            assert_eq!(causes(&e.validate()), expect(want), "{name}");
        }
    }
}
