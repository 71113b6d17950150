//! `discovery.k8s.io/v1`: [`EndpointSlice`].

use crate::SortedMap;
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::core::v1::ObjectReference;
use crate::defaults::default_to;
use crate::meta::ObjectMeta;
use crate::validation::{
    DNS1123_LABEL_ERROR, DNS1123_SUBDOMAIN_ERROR, ErrorList, FieldError, NameRule, Path, Validate, is_dns1123_label,
    is_dns1123_subdomain, is_valid_label_value, qualified_name_errors, validate_immutable, validate_labels,
    validate_object_meta, validate_object_meta_update,
};
use crate::{ApplyDefaults, wire};

/// The label naming the service a slice belongs to.
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
/// The label naming the controller that manages a slice.
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";

const MAX_ENDPOINTS: usize = 1000;
const MAX_ADDRESSES: usize = 100;
const MAX_PORTS: usize = 20000;
const MAX_TOPOLOGY_LABELS: usize = 16;
const MAX_ZONE_HINTS: usize = 8;

/// A subset of the endpoints of a service.
#[wire]
pub struct EndpointSlice {
    /// APIVersion of the object (`discovery.k8s.io/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`EndpointSlice`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// `IPv4`, `IPv6` or `FQDN`: the kind of every address; immutable.
    pub address_type: String,
    /// The endpoints (at most 1000).
    #[wire(always)]
    pub endpoints: Vec<Endpoint>,
    /// Ports every endpoint exposes.
    #[wire(always)]
    pub ports: Vec<EndpointPort>,
}

crate::impl_resource!(EndpointSlice {
    group: "discovery.k8s.io",
    version: "v1",
    kind: "EndpointSlice",
    plural: "endpointslices",
    singular: "endpointslice",
    short_names: [],
    categories: [],
    namespaced: true,
    verbs: crate::resource::ALL_VERBS,
    subresources: [],
    selectable_fields: []
});

/// A list of endpoint slices.
pub type EndpointSliceList = crate::meta::ObjectList<EndpointSlice>;

/// One backend of a service.
#[wire]
pub struct Endpoint {
    /// Addresses of the endpoint (1 to 100; consumers use the first).
    #[wire(always)]
    pub addresses: Vec<String>,
    /// Readiness of the endpoint.
    pub conditions: EndpointConditions,
    /// Hostname of the endpoint (a DNS label).
    pub hostname: Option<String>,
    /// The object backing the endpoint, usually a pod.
    pub target_ref: Option<ObjectReference>,
    /// Deprecated topology labels; use `nodeName` and `zone`.
    pub deprecated_topology: SortedMap<String, String>,
    /// The node hosting the endpoint.
    pub node_name: Option<String>,
    /// The zone of the endpoint.
    pub zone: Option<String>,
    /// Routing hints for topology-aware routing.
    pub hints: Option<EndpointHints>,
}

/// Readiness of an endpoint.
#[wire(eq)]
pub struct EndpointConditions {
    /// Ready for traffic (absent: unknown, treat as ready).
    pub ready: Option<bool>,
    /// Serving traffic, even while terminating.
    pub serving: Option<bool>,
    /// Terminating.
    pub terminating: Option<bool>,
}

/// Topology hints of an endpoint.
#[wire(eq)]
pub struct EndpointHints {
    /// Zones that should consume this endpoint.
    pub for_zones: Vec<ForZone>,
}

/// A zone that should consume an endpoint.
#[wire(eq)]
pub struct ForZone {
    /// Zone name.
    pub name: String,
}

/// A port of the endpoints of a slice.
#[wire(eq)]
pub struct EndpointPort {
    /// Port name (`""` when the service has a single unnamed port).
    pub name: Option<String>,
    /// `TCP` (default), `UDP` or `SCTP`.
    pub protocol: Option<String>,
    /// Port number (absent: all ports).
    pub port: Option<i32>,
    /// Application protocol, such as `http` or `kubernetes.io/h2c`.
    pub app_protocol: Option<String>,
}

impl ApplyDefaults for EndpointSlice {
    fn apply_defaults(&mut self) {
        for port in &mut self.ports {
            default_to(&mut port.name, String::new());
            default_to(&mut port.protocol, "TCP".to_owned());
        }
    }
}

/// Why an endpoint IP is not usable, as Kubernetes words it.
fn endpoint_ip_error(ip: IpAddr) -> Option<&'static str> {
    let link_local_multicast = match ip {
        IpAddr::V4(v4) => v4.octets()[..3] == [224, 0, 0],
        IpAddr::V6(v6) => v6.segments()[0] & 0xff0f == 0xff02,
    };
    let link_local = match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
    };
    if ip.is_unspecified() {
        Some("may not be unspecified (0.0.0.0)")
    } else if ip.is_loopback() {
        Some("may not be in the loopback range (127.0.0.0/8, ::1/128)")
    } else if link_local {
        Some("may not be in the link-local range (169.254.0.0/16, fe80::/10)")
    } else if link_local_multicast {
        Some("may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")
    } else {
        None
    }
}

fn validate_address(address_type: &str, address: &str, path: &Path, errs: &mut ErrorList) {
    match address_type {
        "IPv4" => match address.parse::<Ipv4Addr>() {
            Ok(ip) => {
                if let Some(msg) = endpoint_ip_error(IpAddr::V4(ip)) {
                    errs.push(FieldError::invalid(path, address, msg));
                }
            }
            Err(_) => errs.push(FieldError::invalid(path, address, "must be a valid IPv4 address")),
        },
        "IPv6" => match address.parse::<Ipv6Addr>() {
            Ok(ip) => {
                if let Some(msg) = endpoint_ip_error(IpAddr::V6(ip)) {
                    errs.push(FieldError::invalid(path, address, msg));
                }
            }
            Err(_) => errs.push(FieldError::invalid(path, address, "must be a valid IPv6 address")),
        },
        "FQDN" => {
            let name = address.strip_suffix('.').unwrap_or(address);
            if address.is_empty() {
                errs.push(FieldError::required(path, ""));
            } else if !is_dns1123_subdomain(name) {
                errs.push(FieldError::invalid(path, name, DNS1123_SUBDOMAIN_ERROR));
            } else if !name.contains('.') {
                errs.push(FieldError::invalid(
                    path,
                    name,
                    "should be a domain with at least two segments separated by dots",
                ));
            } else if let Some(label) = name.split('.').find(|l| !is_dns1123_label(l)) {
                errs.push(FieldError::invalid(path, label, DNS1123_LABEL_ERROR));
            }
        }
        // Unknown types are reported on addressType.
        _ => {}
    }
}

fn validate_endpoints(slice: &EndpointSlice, errs: &mut ErrorList) {
    let path = Path::new("endpoints");
    if slice.endpoints.len() > MAX_ENDPOINTS {
        errs.push(FieldError::too_many(&path, slice.endpoints.len(), MAX_ENDPOINTS));
        return;
    }
    for (i, ep) in slice.endpoints.iter().enumerate() {
        let ip = path.index(i);
        let ap = ip.child("addresses");
        if ep.addresses.is_empty() {
            errs.push(FieldError::required(&ap, "must contain at least 1 address"));
        } else if ep.addresses.len() > MAX_ADDRESSES {
            errs.push(FieldError::too_many(&ap, ep.addresses.len(), MAX_ADDRESSES));
        }
        for (j, a) in ep.addresses.iter().enumerate() {
            validate_address(&slice.address_type, a, &ap.index(j), errs);
        }
        if let Some(node) = ep.node_name.as_deref()
            && !is_dns1123_subdomain(node)
        {
            errs.push(FieldError::invalid(&ip.child("nodeName"), node, DNS1123_SUBDOMAIN_ERROR));
        }
        let tp = ip.child("deprecatedTopology");
        if ep.deprecated_topology.len() > MAX_TOPOLOGY_LABELS {
            errs.push(FieldError::too_many(&tp, ep.deprecated_topology.len(), MAX_TOPOLOGY_LABELS));
        }
        validate_labels(&ep.deprecated_topology, &tp, errs);
        if let Some(h) = ep.hostname.as_deref()
            && !is_dns1123_label(h)
        {
            errs.push(FieldError::invalid(&ip.child("hostname"), h, DNS1123_LABEL_ERROR));
        }
        if let Some(hints) = &ep.hints {
            let fz = ip.child("hints").child("forZones");
            if hints.for_zones.len() > MAX_ZONE_HINTS {
                errs.push(FieldError::too_many(&fz, hints.for_zones.len(), MAX_ZONE_HINTS));
                continue;
            }
            let mut zones = HashSet::new();
            for (j, z) in hints.for_zones.iter().enumerate() {
                let zp = fz.index(j).child("name");
                if !zones.insert(z.name.as_str()) {
                    errs.push(FieldError::duplicate(&zp, &z.name));
                }
                if !is_valid_label_value(&z.name) {
                    errs.push(FieldError::invalid(&zp, &z.name, "must be a valid label value"));
                }
            }
        }
    }
}

fn validate_ports(ports: &[EndpointPort], errs: &mut ErrorList) {
    let path = Path::new("ports");
    if ports.len() > MAX_PORTS {
        errs.push(FieldError::too_many(&path, ports.len(), MAX_PORTS));
        return;
    }
    let mut names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let pp = path.index(i);
        let name = port.name.as_deref().unwrap_or("");
        if !name.is_empty() && !is_dns1123_label(name) {
            errs.push(FieldError::invalid(&pp.child("name"), name, DNS1123_LABEL_ERROR));
        }
        if !names.insert(name) {
            errs.push(FieldError::duplicate(&pp.child("name"), name));
        }
        match port.protocol.as_deref() {
            None => errs.push(FieldError::required(&pp.child("protocol"), "")),
            Some("TCP" | "UDP" | "SCTP") => {}
            Some(other) => errs.push(FieldError::not_supported(&pp.child("protocol"), other, &["SCTP", "TCP", "UDP"])),
        }
        if let Some(app) = port.app_protocol.as_deref() {
            for msg in qualified_name_errors(app) {
                errs.push(FieldError::invalid(&pp.child("appProtocol"), app, msg));
            }
        }
    }
}

fn validate_slice(slice: &EndpointSlice, errs: &mut ErrorList) {
    let at = Path::new("addressType");
    match slice.address_type.as_str() {
        "" => errs.push(FieldError::required(&at, "")),
        "IPv4" | "IPv6" | "FQDN" => {}
        other => errs.push(FieldError::not_supported(&at, other, &["FQDN", "IPv4", "IPv6"])),
    }
    validate_endpoints(slice, errs);
    validate_ports(&slice.ports, errs);
}

impl Validate for EndpointSlice {
    fn validate(&self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta(&self.metadata, true, NameRule::Subdomain, &mut errs);
        validate_slice(self, &mut errs);
        errs
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Subdomain, &mut errs);
        validate_slice(self, &mut errs);
        validate_immutable(&self.address_type, &old.address_type, &Path::new("addressType"), &mut errs);
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

    fn slice() -> serde_json::Value {
        json!({
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": "web-abc12", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
            "addressType": "IPv4",
            "endpoints": [
                {
                    "addresses": ["10.244.1.7"],
                    "conditions": {"ready": true, "serving": true, "terminating": false},
                    "hostname": "web-0",
                    "targetRef": {"kind": "Pod", "namespace": "shop", "name": "web-0", "uid": "0b7e3c1a-5d7e-4f4e-9f3e-2f1a8c9b7d61"},
                    "deprecatedTopology": {"kubernetes.io/hostname": "node-1"},
                    "nodeName": "node-1",
                    "zone": "eu-west-1a",
                    "hints": {"forZones": [{"name": "eu-west-1a"}]}
                },
                {"addresses": ["10.244.2.9"], "conditions": {"ready": false, "serving": true, "terminating": true}, "nodeName": "node-2", "zone": "eu-west-1b"}
            ],
            "ports": [{"name": "http", "protocol": "TCP", "port": 8080, "appProtocol": "kubernetes.io/h2c"}, {"name": "dns", "protocol": "UDP", "port": 53}]
        })
    }

    #[test]
    fn round_trip_and_defaults() {
        let s: EndpointSlice = serde_json::from_value(slice()).unwrap();
        assert_eq!(serde_json::to_value(&s).unwrap(), slice());
        assert!(s.validate().is_empty(), "{:?}", s.validate());

        let mut s: EndpointSlice = serde_json::from_value(json!({
            "metadata": {"name": "x", "namespace": "y"},
            "addressType": "FQDN",
            "endpoints": [{"addresses": ["db.example.com"]}],
            "ports": [{"port": 5432}]
        }))
        .unwrap();
        s.apply_defaults();
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["ports"], json!([{"name": "", "protocol": "TCP", "port": 5432}]));
        // Go writes `conditions` even when empty.
        assert_eq!(v["endpoints"][0], json!({"addresses": ["db.example.com"], "conditions": {}}));
        assert!(s.validate().is_empty(), "{:?}", s.validate());
    }

    #[test]
    fn validation() {
        type Case = (&'static str, Box<dyn Fn(&mut EndpointSlice)>, Vec<(String, &'static str)>);
        let cases: Vec<Case> = vec![
            (
                "address type",
                Box::new(|s| s.address_type = "IP".into()),
                expect(&[("addressType", "FieldValueNotSupported")]),
            ),
            (
                "bad IPv4",
                Box::new(|s| s.endpoints[0].addresses[0] = "fd00::1".into()),
                expect(&[("endpoints[0].addresses[0]", "FieldValueInvalid")]),
            ),
            (
                "loopback",
                Box::new(|s| s.endpoints[1].addresses[0] = "127.0.0.1".into()),
                expect(&[("endpoints[1].addresses[0]", "FieldValueInvalid")]),
            ),
            (
                "link-local",
                Box::new(|s| s.endpoints[1].addresses[0] = "169.254.169.254".into()),
                expect(&[("endpoints[1].addresses[0]", "FieldValueInvalid")]),
            ),
            (
                "no addresses",
                Box::new(|s| s.endpoints[1].addresses.clear()),
                expect(&[("endpoints[1].addresses", "FieldValueRequired")]),
            ),
            (
                "too many addresses",
                Box::new(|s| {
                    s.endpoints[1].addresses = (1..=101).map(|i| format!("10.0.{}.{}", i / 250, i % 250 + 1)).collect()
                }),
                expect(&[("endpoints[1].addresses", "FieldValueTooMany")]),
            ),
            (
                "too many endpoints",
                Box::new(|s| {
                    let ep = s.endpoints[1].clone();
                    s.endpoints = vec![ep; 1001];
                }),
                expect(&[("endpoints", "FieldValueTooMany")]),
            ),
            (
                "hostname",
                Box::new(|s| s.endpoints[0].hostname = Some("web.0".into())),
                expect(&[("endpoints[0].hostname", "FieldValueInvalid")]),
            ),
            (
                "duplicate port names",
                Box::new(|s| s.ports[1].name = Some("http".into())),
                expect(&[("ports[1].name", "FieldValueDuplicate")]),
            ),
            (
                "protocol",
                Box::new(|s| s.ports[0].protocol = Some("QUIC".into())),
                expect(&[("ports[0].protocol", "FieldValueNotSupported")]),
            ),
            (
                "duplicate zone hint",
                Box::new(|s| {
                    s.endpoints[0].hints = Some(EndpointHints {
                        for_zones: vec![ForZone { name: "a".into() }, ForZone { name: "a".into() }],
                    })
                }),
                expect(&[("endpoints[0].hints.forZones[1].name", "FieldValueDuplicate")]),
            ),
        ];
        for (name, mutate, want) in cases {
            let mut s: EndpointSlice = serde_json::from_value(slice()).unwrap();
            mutate(&mut s);
            assert_eq!(causes(&s.validate()), want, "{name}");
        }
        let mut fqdn: EndpointSlice = serde_json::from_value(slice()).unwrap();
        fqdn.address_type = "FQDN".into();
        fqdn.endpoints[0].addresses = vec!["db.example.com.".into()];
        fqdn.endpoints[1].addresses = vec!["localhost".into()];
        assert_eq!(causes(&fqdn.validate()), expect(&[("endpoints[1].addresses[0]", "FieldValueInvalid")]));
    }

    #[test]
    fn address_type_is_immutable() {
        let old: EndpointSlice = serde_json::from_value(slice()).unwrap();
        let mut new = old.clone();
        new.address_type = "FQDN".into();
        new.endpoints.clear();
        assert_eq!(causes(&new.validate_update(&old)), expect(&[("addressType", "FieldValueInvalid")]));
    }
}
