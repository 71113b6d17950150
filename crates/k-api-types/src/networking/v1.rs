//! `networking.k8s.io/v1`: [`NetworkPolicy`], [`Ingress`] and [`IngressClass`].

use std::net::IpAddr;

use crate::core::v1::TypedLocalObjectReference;
use crate::defaults::default_str;
use crate::intstr::IntOrString;
use crate::meta::{LabelSelector, ObjectMeta};
use crate::validation::net::parse_cidr;
use crate::validation::{
    DNS1035_LABEL_ERROR, DNS1123_LABEL_ERROR, DNS1123_SUBDOMAIN_ERROR, ErrorList, FieldError, NameRule, Path, Validate,
    is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, validate_immutable, validate_label_selector,
    validate_object_meta, validate_object_meta_update,
};
use crate::{ApplyDefaults, wire};

// ---------------------------------------------------------------------------
// NetworkPolicy
// ---------------------------------------------------------------------------

/// Which traffic pods selected in a namespace may receive and send.
#[wire]
pub struct NetworkPolicy {
    /// APIVersion of the object (`networking.k8s.io/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`NetworkPolicy`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// The policy.
    #[wire(omitempty)]
    pub spec: NetworkPolicySpec,
}

crate::impl_resource!(NetworkPolicy {
    group: "networking.k8s.io",
    version: "v1",
    kind: "NetworkPolicy",
    plural: "networkpolicies",
    singular: "networkpolicy",
    short_names: ["netpol"],
    categories: [],
    namespaced: true,
    verbs: crate::resource::ALL_VERBS,
    subresources: [],
    selectable_fields: []
});

/// A list of network policies.
pub type NetworkPolicyList = crate::meta::ObjectList<NetworkPolicy>;

/// The pods a policy applies to and the traffic it allows.
#[wire]
pub struct NetworkPolicySpec {
    /// Pods the policy applies to (empty: every pod in the namespace).
    pub pod_selector: LabelSelector,
    /// Allowed incoming traffic (any rule matching allows it).
    pub ingress: Vec<NetworkPolicyIngressRule>,
    /// Allowed outgoing traffic.
    pub egress: Vec<NetworkPolicyEgressRule>,
    /// `Ingress`, `Egress` or both: which directions the policy isolates.
    pub policy_types: Vec<String>,
}

/// Incoming traffic allowed from peers on ports.
#[wire]
pub struct NetworkPolicyIngressRule {
    /// Ports (empty: all ports).
    pub ports: Vec<NetworkPolicyPort>,
    /// Sources (empty: all sources).
    pub from: Vec<NetworkPolicyPeer>,
}

/// Outgoing traffic allowed to peers on ports.
#[wire]
pub struct NetworkPolicyEgressRule {
    /// Ports (empty: all ports).
    pub ports: Vec<NetworkPolicyPort>,
    /// Destinations (empty: all destinations).
    pub to: Vec<NetworkPolicyPeer>,
}

/// A port, or a range of ports, of a protocol.
#[wire]
pub struct NetworkPolicyPort {
    /// `TCP` (default), `UDP` or `SCTP`.
    pub protocol: Option<String>,
    /// Port number or named port (absent: all ports).
    pub port: Option<IntOrString>,
    /// Last port of a range starting at `port`.
    pub end_port: Option<i32>,
}

/// A peer: pods by labels (in namespaces by labels), or an IP block.
#[wire]
pub struct NetworkPolicyPeer {
    /// Pods selected by labels (in the policy's namespace unless `namespaceSelector` is set).
    pub pod_selector: Option<LabelSelector>,
    /// Namespaces selected by labels.
    pub namespace_selector: Option<LabelSelector>,
    /// A CIDR range (not combinable with the selectors).
    pub ip_block: Option<IPBlock>,
}

/// A CIDR range, minus exceptions.
#[wire(eq)]
pub struct IPBlock {
    /// The range, such as `10.0.0.0/8` or `2001:db8::/64`.
    pub cidr: String,
    /// Sub-ranges excluded from `cidr`.
    pub except: Vec<String>,
}

// ---------------------------------------------------------------------------
// Ingress
// ---------------------------------------------------------------------------

/// HTTP(S) routing from outside the cluster to services.
#[wire]
pub struct Ingress {
    /// APIVersion of the object (`networking.k8s.io/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`Ingress`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// Desired routing.
    #[wire(omitempty)]
    pub spec: IngressSpec,
    /// Observed state (the load balancer's addresses).
    pub status: Option<IngressStatus>,
}

crate::impl_resource!(Ingress {
    group: "networking.k8s.io",
    version: "v1",
    kind: "Ingress",
    plural: "ingresses",
    singular: "ingress",
    short_names: ["ing"],
    categories: [],
    namespaced: true,
    verbs: crate::resource::ALL_VERBS,
    subresources: ["status"],
    selectable_fields: []
});

/// A list of ingresses.
pub type IngressList = crate::meta::ObjectList<Ingress>;

/// Routing rules, TLS and the default backend of an ingress.
#[wire]
pub struct IngressSpec {
    /// The IngressClass of the controller that implements this ingress.
    pub ingress_class_name: Option<String>,
    /// Backend for requests no rule matches.
    pub default_backend: Option<IngressBackend>,
    /// TLS configuration by host.
    pub tls: Vec<IngressTLS>,
    /// Host and path rules.
    pub rules: Vec<IngressRule>,
}

/// TLS for some hosts.
#[wire(eq)]
pub struct IngressTLS {
    /// Hosts covered by the certificate.
    pub hosts: Vec<String>,
    /// Secret holding the certificate and key.
    pub secret_name: Option<String>,
}

/// Observed state of an ingress.
#[wire]
pub struct IngressStatus {
    /// The load balancer's addresses.
    pub load_balancer: IngressLoadBalancerStatus,
}

/// Addresses of an ingress load balancer.
#[wire]
pub struct IngressLoadBalancerStatus {
    /// Ingress points of the load balancer.
    pub ingress: Vec<IngressLoadBalancerIngress>,
}

/// An ingress point of a load balancer.
#[wire]
pub struct IngressLoadBalancerIngress {
    /// IP address of the ingress point.
    pub ip: Option<String>,
    /// DNS name of the ingress point.
    pub hostname: Option<String>,
    /// Ports of the ingress point.
    pub ports: Vec<IngressPortStatus>,
}

/// Status of a port of a load balancer.
#[wire]
pub struct IngressPortStatus {
    /// Port number.
    pub port: i32,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// Problem with the port, as a CamelCase reason.
    pub error: Option<String>,
}

/// Routing for one host (or all hosts).
#[wire]
pub struct IngressRule {
    /// Host name, possibly with a leading `*.` wildcard (absent: all hosts).
    pub host: Option<String>,
    /// HTTP path routing.
    pub http: Option<HTTPIngressRuleValue>,
}

/// Paths of an HTTP rule.
#[wire]
pub struct HTTPIngressRuleValue {
    /// Paths and their backends.
    #[wire(always)]
    pub paths: Vec<HTTPIngressPath>,
}

/// A path and its backend.
#[wire]
pub struct HTTPIngressPath {
    /// The path, starting with `/` (for `Exact` and `Prefix`).
    pub path: Option<String>,
    /// `Exact`, `Prefix` or `ImplementationSpecific` (required).
    pub path_type: Option<String>,
    /// Where matching requests go.
    pub backend: IngressBackend,
}

/// Where requests go: a service port or another resource.
#[wire]
pub struct IngressBackend {
    /// A service port.
    pub service: Option<IngressServiceBackend>,
    /// An object of another kind, such as a storage bucket.
    pub resource: Option<TypedLocalObjectReference>,
}

/// A service port backend.
#[wire(eq)]
pub struct IngressServiceBackend {
    /// Name of the service.
    pub name: String,
    /// Port of the service, by name or number.
    pub port: ServiceBackendPort,
}

/// A service port, by name or by number.
#[wire(eq)]
pub struct ServiceBackendPort {
    /// Port name.
    pub name: Option<String>,
    /// Port number.
    pub number: Option<i32>,
}

// ---------------------------------------------------------------------------
// IngressClass
// ---------------------------------------------------------------------------

/// A kind of ingress, implemented by a controller.
#[wire]
pub struct IngressClass {
    /// APIVersion of the object (`networking.k8s.io/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`IngressClass`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata (annotation `ingressclass.kubernetes.io/is-default-class` marks the default).
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// The controller and its parameters.
    #[wire(omitempty)]
    pub spec: IngressClassSpec,
}

crate::impl_resource!(IngressClass {
    group: "networking.k8s.io",
    version: "v1",
    kind: "IngressClass",
    plural: "ingressclasses",
    singular: "ingressclass",
    short_names: [],
    categories: [],
    namespaced: false,
    verbs: crate::resource::ALL_VERBS,
    subresources: [],
    selectable_fields: []
});

/// A list of ingress classes.
pub type IngressClassList = crate::meta::ObjectList<IngressClass>;

/// The controller of an ingress class and its parameters.
#[wire]
pub struct IngressClassSpec {
    /// Domain-prefixed name of the controller, such as `example.com/ingress-controller`; immutable.
    pub controller: Option<String>,
    /// Controller-specific configuration.
    pub parameters: Option<IngressClassParametersReference>,
}

/// A reference to an object holding controller parameters.
#[wire(eq)]
pub struct IngressClassParametersReference {
    /// API group of the referent (absent: core group).
    pub api_group: Option<String>,
    /// Kind of the referent.
    pub kind: String,
    /// Name of the referent.
    pub name: String,
    /// `Cluster` (default) or `Namespace`.
    pub scope: Option<String>,
    /// Namespace of the referent, for scope `Namespace`.
    pub namespace: Option<String>,
}

// ---------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------

impl ApplyDefaults for NetworkPolicy {
    fn apply_defaults(&mut self) {
        let spec = &mut self.spec;
        let ports = spec
            .ingress
            .iter_mut()
            .flat_map(|r| r.ports.iter_mut())
            .chain(spec.egress.iter_mut().flat_map(|r| r.ports.iter_mut()));
        for port in ports {
            default_str(&mut port.protocol, "TCP");
        }
        if spec.policy_types.is_empty() {
            spec.policy_types.push("Ingress".to_owned());
            if !spec.egress.is_empty() {
                spec.policy_types.push("Egress".to_owned());
            }
        }
    }
}

impl ApplyDefaults for Ingress {
    fn apply_defaults(&mut self) {}
}

impl ApplyDefaults for IngressClass {
    fn apply_defaults(&mut self) {
        if let Some(p) = &mut self.spec.parameters
            && p.scope.is_none()
        {
            p.scope = Some("Cluster".to_owned());
        }
    }
}

// ---------------------------------------------------------------------------
// Validation helpers
// ---------------------------------------------------------------------------

/// Detail of an out-of-range port number.
const PORT_RANGE_ERROR: &str = "must be between 1 and 65535, inclusive";

/// Checks a port number (1–65535).
fn validate_port_number(port: i32, path: &Path, errs: &mut ErrorList) {
    if !(1..=65535).contains(&port) {
        errs.push(FieldError::invalid(path, port, PORT_RANGE_ERROR));
    }
}

/// The problems of an IANA service (port) name, as Kubernetes words them.
fn port_name_errors(name: &str) -> Vec<&'static str> {
    let mut errs = Vec::new();
    if name.len() > 15 {
        errs.push("must be no more than 15 characters");
    }
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
    }
    if name.contains("--") {
        errs.push("must not contain consecutive hyphens");
    }
    if !name.bytes().any(|b| b.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)");
    }
    if name.starts_with('-') || name.ends_with('-') {
        errs.push("must not begin or end with a hyphen");
    }
    errs
}

/// The address as a 128-bit number and its family's width.
fn ip_bits(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

/// Whether `inner` lies within `outer` with a strictly longer prefix.
fn is_strict_subset(outer: (IpAddr, u8), inner: (IpAddr, u8)) -> bool {
    let ((o, width), (i, iw)) = (ip_bits(outer.0), ip_bits(inner.0));
    if width != iw || inner.1 <= outer.1 {
        return false;
    }
    let shift = u32::from(width - outer.1);
    let mask = if shift >= 128 { 0 } else { u128::MAX << shift };
    (o & mask) == (i & mask)
}

const CIDR_ERROR: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

const WILDCARD_DNS_ERROR: &str = "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/// `*.` followed by a DNS subdomain.
fn is_wildcard_dns1123_subdomain(s: &str) -> bool {
    s.strip_prefix("*.").is_some_and(is_dns1123_subdomain) && s.len() <= 253
}

// ---------------------------------------------------------------------------
// NetworkPolicy validation
// ---------------------------------------------------------------------------

fn validate_network_policy_port(port: &NetworkPolicyPort, path: &Path, errs: &mut ErrorList) {
    if let Some(p) = port.protocol.as_deref()
        && !matches!(p, "TCP" | "UDP" | "SCTP")
    {
        errs.push(FieldError::not_supported(&path.child("protocol"), p, &["TCP", "UDP", "SCTP"]));
    }
    match &port.port {
        Some(IntOrString::Int(n)) => {
            validate_port_number(*n, &path.child("port"), errs);
            if let Some(end) = port.end_port {
                if end < *n {
                    errs.push(FieldError::invalid(
                        &path.child("endPort"),
                        n,
                        "must be greater than or equal to `port`",
                    ));
                }
                validate_port_number(end, &path.child("endPort"), errs);
            }
        }
        Some(IntOrString::String(name)) => {
            if let Some(end) = port.end_port {
                errs.push(FieldError::invalid(
                    &path.child("endPort"),
                    end,
                    "may not be specified when `port` is non-numeric",
                ));
            }
            for msg in port_name_errors(name) {
                errs.push(FieldError::invalid(&path.child("port"), name, msg));
            }
        }
        None => {
            if let Some(end) = port.end_port {
                errs.push(FieldError::invalid(
                    &path.child("endPort"),
                    end,
                    "may not be specified when `port` is not specified",
                ));
            }
        }
    }
}

fn validate_ip_block(block: &IPBlock, path: &Path, errs: &mut ErrorList) {
    if block.cidr.is_empty() {
        errs.push(FieldError::required(&path.child("cidr"), ""));
        return;
    }
    let Some(cidr) = parse_cidr(&block.cidr) else {
        errs.push(FieldError::invalid(&path.child("cidr"), &block.cidr, CIDR_ERROR));
        return;
    };
    for (i, except) in block.except.iter().enumerate() {
        let p = path.child("except").index(i);
        match parse_cidr(except) {
            None => errs.push(FieldError::invalid(&p, except, CIDR_ERROR)),
            Some(e) if !is_strict_subset(cidr, e) => {
                errs.push(FieldError::invalid(&p, except, "must be a strict subset of `cidr`"))
            }
            Some(_) => {}
        }
    }
}

fn validate_peer(peer: &NetworkPolicyPeer, path: &Path, errs: &mut ErrorList) {
    let mut peers = 0;
    if let Some(sel) = &peer.pod_selector {
        peers += 1;
        validate_label_selector(sel, &path.child("podSelector"), errs);
    }
    if let Some(sel) = &peer.namespace_selector {
        peers += 1;
        validate_label_selector(sel, &path.child("namespaceSelector"), errs);
    }
    if let Some(block) = &peer.ip_block {
        peers += 1;
        validate_ip_block(block, &path.child("ipBlock"), errs);
    }
    if peers == 0 {
        errs.push(FieldError::required(path, "must specify a peer"));
    } else if peers > 1 && peer.ip_block.is_some() {
        errs.push(FieldError::forbidden(path, "may not specify both ipBlock and another peer"));
    }
}

fn validate_network_policy_spec(spec: &NetworkPolicySpec, path: &Path, errs: &mut ErrorList) {
    validate_label_selector(&spec.pod_selector, &path.child("podSelector"), errs);
    for (i, rule) in spec.ingress.iter().enumerate() {
        let p = path.child("ingress").index(i);
        for (j, port) in rule.ports.iter().enumerate() {
            validate_network_policy_port(port, &p.child("ports").index(j), errs);
        }
        for (j, peer) in rule.from.iter().enumerate() {
            validate_peer(peer, &p.child("from").index(j), errs);
        }
    }
    for (i, rule) in spec.egress.iter().enumerate() {
        let p = path.child("egress").index(i);
        for (j, port) in rule.ports.iter().enumerate() {
            validate_network_policy_port(port, &p.child("ports").index(j), errs);
        }
        for (j, peer) in rule.to.iter().enumerate() {
            validate_peer(peer, &p.child("to").index(j), errs);
        }
    }
    let types_path = path.child("policyTypes");
    if spec.policy_types.len() > 2 {
        errs.push(FieldError::invalid(&types_path, &spec.policy_types, "may not specify more than two policyTypes"));
        return;
    }
    for (i, t) in spec.policy_types.iter().enumerate() {
        if t != "Ingress" && t != "Egress" {
            errs.push(FieldError::not_supported(&types_path.index(i), t, &["Ingress", "Egress"]));
        }
    }
}

impl Validate for NetworkPolicy {
    fn validate(&self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta(&self.metadata, true, NameRule::Subdomain, &mut errs);
        validate_network_policy_spec(&self.spec, &Path::new("spec"), &mut errs);
        errs
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Subdomain, &mut errs);
        validate_network_policy_spec(&self.spec, &Path::new("spec"), &mut errs);
        errs
    }
}

// ---------------------------------------------------------------------------
// Ingress validation
// ---------------------------------------------------------------------------

/// The annotation that selected an ingress class before `ingressClassName`.
pub const INGRESS_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";

fn path_segment_error(name: &str) -> Option<&'static str> {
    if name == "." || name == ".." {
        Some("may not be '.' or '..'")
    } else if name.contains('/') || name.contains('%') {
        Some("may not contain '/' or '%'")
    } else {
        None
    }
}

/// Validates a typed reference as ingress backends and class parameters use it.
fn validate_typed_reference(api_group: Option<&str>, kind: &str, name: &str, path: &Path, errs: &mut ErrorList) {
    if let Some(g) = api_group
        && !is_dns1123_subdomain(g)
    {
        errs.push(FieldError::invalid(&path.child("apiGroup"), g, DNS1123_SUBDOMAIN_ERROR));
    }
    for (field, value) in [("kind", kind), ("name", name)] {
        if value.is_empty() {
            errs.push(FieldError::required(&path.child(field), format!("{field} is required")));
        } else if let Some(msg) = path_segment_error(value) {
            errs.push(FieldError::invalid(&path.child(field), value, msg));
        }
    }
}

fn validate_backend(backend: &IngressBackend, path: &Path, errs: &mut ErrorList) {
    match (&backend.service, &backend.resource) {
        (Some(_), Some(_)) => errs.push(FieldError::invalid(path, "", "cannot set both resource and service backends")),
        (None, Some(r)) => {
            validate_typed_reference(r.api_group.as_deref(), &r.kind, &r.name, &path.child("resource"), errs)
        }
        (Some(svc), None) => {
            let sp = path.child("service");
            if svc.name.is_empty() {
                errs.push(FieldError::required(&sp.child("name"), ""));
            } else if !is_dns1035_label(&svc.name) {
                errs.push(FieldError::invalid(&sp.child("name"), &svc.name, DNS1035_LABEL_ERROR));
            }
            let name = svc.port.name.as_deref().filter(|n| !n.is_empty());
            let number = svc.port.number.filter(|n| *n != 0);
            match (name, number) {
                (Some(_), Some(_)) => {
                    errs.push(FieldError::invalid(path, "", "cannot set both port name & port number"))
                }
                (Some(n), None) => {
                    for msg in port_name_errors(n) {
                        errs.push(FieldError::invalid(&sp.child("port").child("name"), n, msg));
                    }
                }
                (None, Some(n)) => validate_port_number(n, &sp.child("port").child("number"), errs),
                (None, None) => errs.push(FieldError::required(path, "port name or number is required")),
            }
        }
        (None, None) => errs.push(FieldError::invalid(path, "", "resource or service backend is required")),
    }
}

const SUPPORTED_PATH_TYPES: &[&str] = &["Exact", "ImplementationSpecific", "Prefix"];

fn validate_http_path(p: &HTTPIngressPath, path: &Path, errs: &mut ErrorList) {
    let Some(path_type) = p.path_type.as_deref() else {
        errs.push(FieldError::required(&path.child("pathType"), "pathType must be specified"));
        return;
    };
    let value = p.path.as_deref().unwrap_or("");
    let pp = path.child("path");
    match path_type {
        "Exact" | "Prefix" => {
            if !value.starts_with('/') {
                errs.push(FieldError::invalid(&pp, value, "must be an absolute path"));
            }
            if !value.is_empty() {
                for seq in ["//", "/./", "/../", "%2f", "%2F"] {
                    if value.contains(seq) {
                        errs.push(FieldError::invalid(&pp, value, format!("must not contain '{seq}'")));
                    }
                }
                for suffix in ["/..", "/."] {
                    if value.ends_with(suffix) {
                        errs.push(FieldError::invalid(&pp, value, format!("cannot end with '{suffix}'")));
                    }
                }
            }
        }
        "ImplementationSpecific" => {
            if !value.is_empty() && !value.starts_with('/') {
                errs.push(FieldError::invalid(&pp, value, "must be an absolute path"));
            }
        }
        other => errs.push(FieldError::not_supported(&path.child("pathType"), other, SUPPORTED_PATH_TYPES)),
    }
    validate_backend(&p.backend, &path.child("backend"), errs);
}

fn validate_rules(rules: &[IngressRule], path: &Path, errs: &mut ErrorList) {
    for (i, rule) in rules.iter().enumerate() {
        let rp = path.index(i);
        if let Some(host) = rule.host.as_deref().filter(|h| !h.is_empty()) {
            let hp = rp.child("host");
            if host.parse::<IpAddr>().is_ok() {
                errs.push(FieldError::invalid(&hp, host, "must be a DNS name, not an IP address"));
            }
            if host.contains('*') {
                if !is_wildcard_dns1123_subdomain(host) {
                    errs.push(FieldError::invalid(&hp, host, WILDCARD_DNS_ERROR));
                }
            } else if !is_dns1123_subdomain(host) {
                errs.push(FieldError::invalid(&hp, host, DNS1123_SUBDOMAIN_ERROR));
            }
        }
        if let Some(http) = &rule.http {
            let hp = rp.child("http");
            if http.paths.is_empty() {
                errs.push(FieldError::required(&hp.child("paths"), ""));
            }
            for (j, p) in http.paths.iter().enumerate() {
                validate_http_path(p, &hp.child("paths").index(j), errs);
            }
        }
    }
}

fn validate_tls(tls: &[IngressTLS], path: &Path, errs: &mut ErrorList) {
    let mut wildcard_errs = ErrorList::new();
    for (i, t) in tls.iter().enumerate() {
        let tp = path.index(i);
        for (j, host) in t.hosts.iter().enumerate() {
            let hp = tp.child("hosts").index(j);
            if host.contains('*') {
                if !is_wildcard_dns1123_subdomain(host) {
                    wildcard_errs.push(FieldError::invalid(&hp, host, WILDCARD_DNS_ERROR));
                }
            } else if !is_dns1123_subdomain(host) {
                errs.push(FieldError::invalid(&hp, host, DNS1123_SUBDOMAIN_ERROR));
            }
        }
        if let Some(secret) = t.secret_name.as_deref()
            && !secret.is_empty()
            && !is_dns1123_subdomain(secret)
        {
            errs.push(FieldError::invalid(&tp.child("secretName"), secret, DNS1123_SUBDOMAIN_ERROR));
        }
    }
    errs.extend(wildcard_errs);
}

fn validate_ingress_spec(spec: &IngressSpec, path: &Path, errs: &mut ErrorList) {
    if spec.rules.is_empty() && spec.default_backend.is_none() {
        errs.push(FieldError::invalid(path, &spec.rules, "either `defaultBackend` or `rules` must be specified"));
    }
    if let Some(b) = &spec.default_backend {
        validate_backend(b, &path.child("defaultBackend"), errs);
    }
    validate_rules(&spec.rules, &path.child("rules"), errs);
    validate_tls(&spec.tls, &path.child("tls"), errs);
    if let Some(class) = &spec.ingress_class_name
        && !is_dns1123_subdomain(class)
    {
        errs.push(FieldError::invalid(&path.child("ingressClassName"), class, DNS1123_SUBDOMAIN_ERROR));
    }
}

fn validate_ingress_status(status: &IngressStatus, path: &Path, errs: &mut ErrorList) {
    let lb = path.child("loadBalancer").child("ingress");
    for (i, ing) in status.load_balancer.ingress.iter().enumerate() {
        let p = lb.index(i);
        if let Some(ip) = ing.ip.as_deref().filter(|ip| !ip.is_empty())
            && ip.parse::<IpAddr>().is_err()
        {
            errs.push(FieldError::invalid(&p.child("ip"), ip, "must be a valid IP address"));
        }
        if let Some(host) = ing.hostname.as_deref().filter(|h| !h.is_empty()) {
            if !is_dns1123_subdomain(host) {
                errs.push(FieldError::invalid(&p.child("hostname"), host, DNS1123_SUBDOMAIN_ERROR));
            }
            if host.parse::<IpAddr>().is_ok() {
                errs.push(FieldError::invalid(&p.child("hostname"), host, "must be a DNS name, not an IP address"));
            }
        }
    }
}

impl Ingress {
    /// Validates an update of the `status` subresource.
    pub fn validate_status_update(&self, old: &Self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Subdomain, &mut errs);
        if let Some(status) = &self.status {
            validate_ingress_status(status, &Path::new("status"), &mut errs);
        }
        errs
    }
}

impl Validate for Ingress {
    fn validate(&self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta(&self.metadata, true, NameRule::Subdomain, &mut errs);
        validate_ingress_spec(&self.spec, &Path::new("spec"), &mut errs);
        if let (Some(annotation), Some(class)) =
            (self.metadata.annotations.get(INGRESS_CLASS_ANNOTATION), &self.spec.ingress_class_name)
            && !annotation.is_empty()
            && annotation != class
        {
            errs.push(FieldError::invalid(
                &Path::new("annotations").child(INGRESS_CLASS_ANNOTATION),
                annotation,
                "must match `ingressClassName` when both are specified",
            ));
        }
        errs
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Subdomain, &mut errs);
        validate_ingress_spec(&self.spec, &Path::new("spec"), &mut errs);
        errs
    }
}

// ---------------------------------------------------------------------------
// IngressClass validation
// ---------------------------------------------------------------------------

/// Checks a domain-prefixed path such as `example.com/ingress-nginx`.
fn validate_domain_prefixed_path(value: &str, path: &Path, errs: &mut ErrorList) {
    if value.is_empty() {
        errs.push(FieldError::required(path, ""));
        return;
    }
    let Some((host, rest)) = value.split_once('/').filter(|(h, r)| !h.is_empty() && !r.is_empty()) else {
        errs.push(FieldError::invalid(path, value, "must be a domain-prefixed path (such as \"acme.io/foo\")"));
        return;
    };
    if !is_dns1123_subdomain(host) {
        errs.push(FieldError::invalid(path, host, DNS1123_SUBDOMAIN_ERROR));
    }
    let ok = rest.chars().all(|c| c.is_ascii_alphanumeric() || "/-._~%!$&'()*+,;=:".contains(c));
    if !ok {
        errs.push(FieldError::invalid(
            path,
            rest,
            "Invalid path: regex used for validation is '[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+'",
        ));
    }
}

fn validate_ingress_class_spec(spec: &IngressClassSpec, path: &Path, errs: &mut ErrorList) {
    let controller = spec.controller.as_deref().unwrap_or("");
    let cp = path.child("controller");
    if controller.len() > 250 {
        errs.push(FieldError::too_long(&cp, 250));
    }
    validate_domain_prefixed_path(controller, &cp, errs);
    let Some(params) = &spec.parameters else { return };
    let pp = path.child("parameters");
    validate_typed_reference(params.api_group.as_deref(), &params.kind, &params.name, &pp, errs);
    match params.scope.as_deref() {
        None => errs.push(FieldError::required(&pp.child("scope"), "")),
        Some("Namespace") => match params.namespace.as_deref() {
            None => errs.push(FieldError::required(&pp.child("namespace"), "`parameters.scope` is set to 'Namespace'")),
            Some(ns) if !is_dns1123_label(ns) => {
                errs.push(FieldError::invalid(&pp.child("namespace"), ns, DNS1123_LABEL_ERROR))
            }
            Some(_) => {}
        },
        Some("Cluster") => {
            if params.namespace.is_some() {
                errs.push(FieldError::forbidden(&pp.child("namespace"), "`parameters.scope` is set to 'Cluster'"));
            }
        }
        Some(other) => errs.push(FieldError::not_supported(&pp.child("scope"), other, &["Cluster", "Namespace"])),
    }
}

impl Validate for IngressClass {
    fn validate(&self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta(&self.metadata, false, NameRule::Subdomain, &mut errs);
        validate_ingress_class_spec(&self.spec, &Path::new("spec"), &mut errs);
        errs
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, false, NameRule::Subdomain, &mut errs);
        validate_immutable(
            &self.spec.controller,
            &old.spec.controller,
            &Path::new("spec").child("controller"),
            &mut errs,
        );
        validate_ingress_class_spec(&self.spec, &Path::new("spec"), &mut errs);
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn causes(errs: &ErrorList) -> Vec<(String, &'static str)> {
        errs.iter().map(|e| (e.field.clone(), e.type_.cause())).collect()
    }

    fn expect(pairs: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
        pairs.iter().map(|(f, c)| ((*f).to_owned(), *c)).collect()
    }

    fn netpol() -> serde_json::Value {
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "api", "namespace": "shop"},
            "spec": {
                "podSelector": {"matchLabels": {"app": "api"}},
                "ingress": [{
                    "from": [
                        {"podSelector": {"matchLabels": {"app": "web"}}, "namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "In", "values": ["shop"]}]}},
                        {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}
                    ],
                    "ports": [{"protocol": "TCP", "port": 8080}, {"protocol": "UDP", "port": 30000, "endPort": 32767}, {"port": "metrics"}]
                }],
                "egress": [{"to": [{"ipBlock": {"cidr": "2001:db8::/32"}}], "ports": [{"protocol": "SCTP", "port": 53}]}],
                "policyTypes": ["Ingress", "Egress"]
            }
        })
    }

    #[test]
    fn network_policy_round_trip_and_defaults() {
        let np: NetworkPolicy = serde_json::from_value(netpol()).unwrap();
        assert_eq!(np.spec.ingress[0].ports[2].port, Some(IntOrString::String("metrics".into())));
        assert_eq!(serde_json::to_value(&np).unwrap(), netpol());
        assert!(np.validate().is_empty(), "{:?}", np.validate());

        let mut np: NetworkPolicy = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "n"},
            "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}], "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]}
        }))
        .unwrap();
        np.apply_defaults();
        let v = serde_json::to_value(&np).unwrap();
        assert_eq!(v["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        assert_eq!(v["spec"]["ingress"][0]["ports"][0], json!({"protocol": "TCP", "port": 80}));
        assert_eq!(v["spec"]["egress"][0]["ports"][0], json!({"protocol": "UDP", "port": 53}));

        let mut ingress_only = NetworkPolicy::default();
        ingress_only.apply_defaults();
        assert_eq!(ingress_only.spec.policy_types, ["Ingress"]);
        let mut explicit = NetworkPolicy {
            spec: NetworkPolicySpec { policy_types: vec!["Egress".into()], ..Default::default() },
            ..Default::default()
        };
        explicit.apply_defaults();
        assert_eq!(explicit.spec.policy_types, ["Egress"]);
    }

    #[test]
    fn network_policy_validation() {
        type Case = (&'static str, Box<dyn Fn(&mut NetworkPolicy)>, Vec<(String, &'static str)>);
        let cases: Vec<Case> = vec![
            (
                "bad cidr",
                Box::new(|p| p.spec.ingress[0].from[1].ip_block.as_mut().unwrap().cidr = "10.0.0.0/33".into()),
                expect(&[("spec.ingress[0].from[1].ipBlock.cidr", "FieldValueInvalid")]),
            ),
            (
                "not a cidr",
                Box::new(|p| p.spec.egress[0].to[0].ip_block.as_mut().unwrap().cidr = "2001:db8::".into()),
                expect(&[("spec.egress[0].to[0].ipBlock.cidr", "FieldValueInvalid")]),
            ),
            (
                "except outside",
                Box::new(|p| {
                    p.spec.ingress[0].from[1].ip_block.as_mut().unwrap().except =
                        vec!["192.168.0.0/16".into(), "10.0.0.0/8".into(), "nope".into()]
                }),
                expect(&[
                    ("spec.ingress[0].from[1].ipBlock.except[0]", "FieldValueInvalid"),
                    ("spec.ingress[0].from[1].ipBlock.except[1]", "FieldValueInvalid"),
                    ("spec.ingress[0].from[1].ipBlock.except[2]", "FieldValueInvalid"),
                ]),
            ),
            (
                "ipBlock with selector",
                Box::new(|p| p.spec.ingress[0].from[1].pod_selector = Some(LabelSelector::default())),
                expect(&[("spec.ingress[0].from[1]", "FieldValueForbidden")]),
            ),
            (
                "empty peer",
                Box::new(|p| p.spec.ingress[0].from[0] = NetworkPolicyPeer::default()),
                expect(&[("spec.ingress[0].from[0]", "FieldValueRequired")]),
            ),
            (
                "endPort below port",
                Box::new(|p| p.spec.ingress[0].ports[1].end_port = Some(100)),
                expect(&[("spec.ingress[0].ports[1].endPort", "FieldValueInvalid")]),
            ),
            (
                "endPort with named port",
                Box::new(|p| p.spec.ingress[0].ports[2].end_port = Some(9000)),
                expect(&[("spec.ingress[0].ports[2].endPort", "FieldValueInvalid")]),
            ),
            (
                "bad protocol and port",
                Box::new(|p| {
                    p.spec.egress[0].ports[0].protocol = Some("ICMP".into());
                    p.spec.egress[0].ports[0].port = Some(IntOrString::Int(70000));
                }),
                expect(&[
                    ("spec.egress[0].ports[0].protocol", "FieldValueNotSupported"),
                    ("spec.egress[0].ports[0].port", "FieldValueInvalid"),
                ]),
            ),
            (
                "policy types",
                Box::new(|p| p.spec.policy_types = vec!["Ingress".into(), "Sideways".into()]),
                expect(&[("spec.policyTypes[1]", "FieldValueNotSupported")]),
            ),
            (
                "too many policy types",
                Box::new(|p| p.spec.policy_types = vec!["Ingress".into(), "Egress".into(), "Ingress".into()]),
                expect(&[("spec.policyTypes", "FieldValueInvalid")]),
            ),
        ];
        for (name, mutate, want) in cases {
            let mut np: NetworkPolicy = serde_json::from_value(netpol()).unwrap();
            mutate(&mut np);
            assert_eq!(causes(&np.validate()), want, "{name}");
        }
        assert!(is_strict_subset(parse_cidr("10.0.0.0/8").unwrap(), parse_cidr("10.255.0.0/16").unwrap()));
        assert!(!is_strict_subset(parse_cidr("10.0.0.0/8").unwrap(), parse_cidr("2001:db8::/64").unwrap()));
        assert!(is_strict_subset(parse_cidr("2001:db8::/32").unwrap(), parse_cidr("2001:db8:1::/48").unwrap()));
        assert!(is_strict_subset(parse_cidr("0.0.0.0/0").unwrap(), parse_cidr("1.2.3.4/32").unwrap()));
    }

    fn ingress() -> serde_json::Value {
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "shop", "namespace": "shop", "annotations": {"nginx.ingress.kubernetes.io/rewrite-target": "/"}},
            "spec": {
                "ingressClassName": "nginx",
                "defaultBackend": {"resource": {"apiGroup": "k8s.example.com", "kind": "StorageBucket", "name": "static-assets"}},
                "tls": [{"hosts": ["shop.example.com", "*.shop.example.com"], "secretName": "shop-tls"}],
                "rules": [
                    {"host": "shop.example.com", "http": {"paths": [
                        {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
                        {"path": "/api", "pathType": "Exact", "backend": {"service": {"name": "api", "port": {"name": "http"}}}}
                    ]}},
                    {"host": "*.shop.example.com", "http": {"paths": [{"pathType": "ImplementationSpecific", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}
                ]
            },
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.10", "ports": [{"port": 443, "protocol": "TCP"}]}, {"hostname": "lb.example.net"}]}}
        })
    }

    #[test]
    fn ingress_round_trip() {
        let ing: Ingress = serde_json::from_value(ingress()).unwrap();
        assert_eq!(serde_json::to_value(&ing).unwrap(), ingress());
        assert!(ing.validate().is_empty(), "{:?}", ing.validate());
        assert!(ing.validate_status_update(&ing).is_empty());
        let mut defaulted = ing.clone();
        defaulted.apply_defaults();
        assert_eq!(defaulted, ing, "v1 Ingress has no defaults");
    }

    fn path0(i: &mut Ingress) -> &mut HTTPIngressPath {
        &mut i.spec.rules[0].http.as_mut().unwrap().paths[0]
    }

    #[test]
    fn ingress_validation() {
        type Case = (&'static str, Box<dyn Fn(&mut Ingress)>, Vec<(String, &'static str)>);
        let cases: Vec<Case> = vec![
            (
                "missing pathType",
                Box::new(|i| path0(i).path_type = None),
                expect(&[("spec.rules[0].http.paths[0].pathType", "FieldValueRequired")]),
            ),
            (
                "bad pathType",
                Box::new(|i| path0(i).path_type = Some("Regex".into())),
                expect(&[("spec.rules[0].http.paths[0].pathType", "FieldValueNotSupported")]),
            ),
            (
                "relative prefix path",
                Box::new(|i| path0(i).path = Some("api".into())),
                expect(&[("spec.rules[0].http.paths[0].path", "FieldValueInvalid")]),
            ),
            (
                "dot segments",
                Box::new(|i| path0(i).path = Some("/a/../b".into())),
                expect(&[("spec.rules[0].http.paths[0].path", "FieldValueInvalid")]),
            ),
            (
                "both backends",
                Box::new(|i| {
                    path0(i).backend.resource = Some(TypedLocalObjectReference {
                        kind: "Bucket".into(),
                        name: "b".into(),
                        ..Default::default()
                    })
                }),
                expect(&[("spec.rules[0].http.paths[0].backend", "FieldValueInvalid")]),
            ),
            (
                "no backend",
                Box::new(|i| path0(i).backend = IngressBackend::default()),
                expect(&[("spec.rules[0].http.paths[0].backend", "FieldValueInvalid")]),
            ),
            (
                "port name and number",
                Box::new(|i| path0(i).backend.service.as_mut().unwrap().port.name = Some("http".into())),
                expect(&[("spec.rules[0].http.paths[0].backend", "FieldValueInvalid")]),
            ),
            (
                "no port",
                Box::new(|i| path0(i).backend.service.as_mut().unwrap().port = ServiceBackendPort::default()),
                expect(&[("spec.rules[0].http.paths[0].backend", "FieldValueRequired")]),
            ),
            (
                "bad host",
                Box::new(|i| i.spec.rules[0].host = Some("Shop.example.com".into())),
                expect(&[("spec.rules[0].host", "FieldValueInvalid")]),
            ),
            (
                "ip host",
                Box::new(|i| i.spec.rules[0].host = Some("10.0.0.1".into())),
                expect(&[("spec.rules[0].host", "FieldValueInvalid")]),
            ),
            (
                "bad wildcard",
                Box::new(|i| i.spec.rules[1].host = Some("shop.*.example.com".into())),
                expect(&[("spec.rules[1].host", "FieldValueInvalid")]),
            ),
            (
                "tls host",
                Box::new(|i| i.spec.tls[0].hosts[1] = "*".into()),
                expect(&[("spec.tls[0].hosts[1]", "FieldValueInvalid")]),
            ),
            (
                "no rules or backend",
                Box::new(|i| {
                    i.spec.rules.clear();
                    i.spec.default_backend = None;
                }),
                expect(&[("spec", "FieldValueInvalid")]),
            ),
            (
                "annotation disagrees",
                Box::new(|i| {
                    i.metadata.annotations.insert(INGRESS_CLASS_ANNOTATION.into(), "traefik".into());
                }),
                expect(&[("annotations.kubernetes.io/ingress.class", "FieldValueInvalid")]),
            ),
        ];
        for (name, mutate, want) in cases {
            let mut ing: Ingress = serde_json::from_value(ingress()).unwrap();
            mutate(&mut ing);
            assert_eq!(causes(&ing.validate()), want, "{name}");
        }
    }

    #[test]
    fn ingress_class() {
        let v = json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": {"name": "nginx", "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}},
            "spec": {"controller": "k8s.io/ingress-nginx", "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb", "scope": "Namespace", "namespace": "ingress"}}
        });
        let class: IngressClass = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&class).unwrap(), v);
        assert!(class.validate().is_empty(), "{:?}", class.validate());

        let mut c = class.clone();
        c.spec.parameters.as_mut().unwrap().scope = None;
        c.spec.parameters.as_mut().unwrap().namespace = None;
        assert_eq!(causes(&c.validate()), expect(&[("spec.parameters.scope", "FieldValueRequired")]));
        c.apply_defaults();
        assert_eq!(c.spec.parameters.as_ref().unwrap().scope.as_deref(), Some("Cluster"));
        assert!(c.validate().is_empty());

        let mut c = class.clone();
        c.spec.controller = Some("nginx".into());
        c.spec.parameters.as_mut().unwrap().scope = Some("Cluster".into());
        assert_eq!(
            causes(&c.validate()),
            expect(&[("spec.controller", "FieldValueInvalid"), ("spec.parameters.namespace", "FieldValueForbidden")])
        );

        let mut c = class.clone();
        c.spec.controller = Some("example.com/other".into());
        assert_eq!(causes(&c.validate_update(&class)), expect(&[("spec.controller", "FieldValueInvalid")]));
    }
}
