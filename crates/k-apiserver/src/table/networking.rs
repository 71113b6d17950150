//! `networking.k8s.io/v1` and `discovery.k8s.io/v1`: ingresses, ingress
//! classes, network policies, service CIDRs, IP addresses and endpoint slices.

use serde_json::Value;

use super::corev1::load_balancer_ingress;
use super::duration::age;
use super::format::{format_label_selector, list_with_more};
use super::json::{at, has, list_at, name, opt_int, opt_str, str_at};
use super::{AGE, Column, NAME, Printer, cells};

pub(crate) const INGRESS: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Class", "string", "Ingress class handling the ingress."),
        Column::new("Hosts", "string", "Hosts the rules match."),
        Column::new("Address", "string", "Load-balancer addresses of the ingress."),
        Column::new("Ports", "string", "Ports served (443 with TLS)."),
        AGE,
    ],
    row: |ing, now| {
        let rules = list_at(ing, &["spec", "rules"]);
        let address = at(ing, &["status"]).map(load_balancer_ingress).unwrap_or_default().join(",");
        let ports = if list_at(ing, &["spec", "tls"]).is_empty() { "80" } else { "80, 443" };
        cells![
            name(ing),
            opt_str(ing, &["spec", "ingressClassName"]).unwrap_or("<none>"),
            ingress_hosts(rules),
            address,
            ports,
            age(ing, now),
        ]
        .into()
    },
};

/// Up to three rule hosts, `*` when no rule names a host.
fn ingress_hosts(rules: &[Value]) -> String {
    const MAX: usize = 3;
    let mut list: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if list.len() == MAX {
            more = true;
        }
        let host = str_at(rule, &["host"]);
        if !more && !host.is_empty() {
            list.push(host);
        }
    }
    if list.is_empty() {
        return "*".to_owned();
    }
    let joined = list.join(",");
    if more { format!("{joined} + {} more...", rules.len() - MAX) } else { joined }
}

pub(crate) const INGRESS_CLASS: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Controller", "string", "Controller implementing the class."),
        Column::new("Parameters", "string", "Resource holding the class parameters."),
        AGE,
    ],
    row: |obj, now| {
        let parameters = match at(obj, &["spec", "parameters"]) {
            None => "<none>".to_owned(),
            Some(p) => {
                let group = opt_str(p, &["apiGroup"]).map(|g| format!(".{g}")).unwrap_or_default();
                format!("{}{group}/{}", str_at(p, &["kind"]), str_at(p, &["name"]))
            }
        };
        cells![name(obj), str_at(obj, &["spec", "controller"]), parameters, age(obj, now)].into()
    },
};

pub(crate) const NETWORK_POLICY: Printer = Printer {
    columns: &[NAME, Column::new("Pod-Selector", "string", "Pods the policy applies to."), AGE],
    row: |obj, now| {
        let selector = at(obj, &["spec", "podSelector"]);
        cells![name(obj), format_label_selector(selector), age(obj, now)].into()
    },
};

pub(crate) const SERVICE_CIDR: Printer = Printer {
    columns: &[NAME, Column::new("CIDRs", "string", "Ranges of the service CIDR."), AGE],
    row: |obj, now| {
        let cidrs: Vec<&str> = list_at(obj, &["spec", "cidrs"]).iter().filter_map(Value::as_str).collect();
        cells![name(obj), cidrs.join(","), age(obj, now)].into()
    },
};

pub(crate) const IP_ADDRESS: Printer = Printer {
    columns: &[NAME, Column::new("ParentRef", "string", "The object the address is allocated to.")],
    row: |obj, _| {
        let parent = match at(obj, &["spec", "parentRef"]) {
            None => "<none>".to_owned(),
            Some(p) => {
                let resource = str_at(p, &["resource"]);
                let mut text = match str_at(p, &["group"]) {
                    "" => resource.to_lowercase(),
                    g => format!("{resource}.{g}").to_lowercase(),
                };
                let ns = str_at(p, &["namespace"]);
                if !ns.is_empty() {
                    text.push('/');
                    text.push_str(ns);
                }
                format!("{text}/{}", str_at(p, &["name"]))
            }
        };
        cells![name(obj), parent].into()
    },
};

pub(crate) const ENDPOINT_SLICE: Printer = Printer {
    columns: &[
        NAME,
        Column::new("AddressType", "string", "Type of the addresses (IPv4, IPv6, FQDN)."),
        Column::new("Ports", "string", "Ports of the slice."),
        Column::new("Endpoints", "string", "Addresses of the endpoints."),
        AGE,
    ],
    row: |obj, now| {
        let ports: Vec<String> = list_at(obj, &["ports"])
            .iter()
            .map(|p| match opt_int(p, &["port"]) {
                Some(n) => n.to_string(),
                None if has(p, &["name"]) => str_at(p, &["name"]).to_owned(),
                None => "*".to_owned(),
            })
            .collect();
        let addresses: Vec<String> = list_at(obj, &["endpoints"])
            .iter()
            .flat_map(|e| list_at(e, &["addresses"]))
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        cells![
            name(obj),
            str_at(obj, &["addressType"]),
            list_with_more(&ports, 3),
            list_with_more(&addresses, 3),
            age(obj, now),
        ]
        .into()
    },
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::json::parse_time;
    use chrono::{DateTime, Utc};
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        parse_time("2024-06-01T12:00:00Z").unwrap()
    }

    fn meta(name: &str) -> Value {
        json!({"name": name, "namespace": "default", "creationTimestamp": "2024-06-01T11:00:00Z"})
    }

    #[test]
    fn ingress() {
        let ing = json!({
            "metadata": meta("shop"),
            "spec": {"ingressClassName": "nginx",
                     "tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}],
                     "rules": [{"host": "shop.example.com"}, {"host": "api.example.com"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}, {"hostname": "lb.example.net"}, {"ip": "203.0.113.10"}]}}
        });
        let cells = (INGRESS.row)(&ing, now()).cells;
        assert_eq!(
            cells,
            vec![
                json!("shop"),
                json!("nginx"),
                json!("shop.example.com,api.example.com"),
                json!("203.0.113.10,lb.example.net"),
                json!("80, 443"),
                json!("60m")
            ]
        );
        let bare = json!({"metadata": meta("x"), "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}});
        let cells = (INGRESS.row)(&bare, now()).cells;
        assert_eq!(cells[1..5], [json!("<none>"), json!("*"), json!(""), json!("80")]);
    }

    #[test]
    fn ingress_with_many_hosts() {
        let rules: Vec<Value> = ["a", "b", "", "c", "d", "e"].iter().map(|h| json!({"host": h})).collect();
        assert_eq!(ingress_hosts(&rules), "a,b,c + 3 more...");
    }

    #[test]
    fn ingress_class() {
        let ic = json!({"metadata": meta("nginx"), "spec": {"controller": "k8s.io/ingress-nginx",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"}}});
        let cells = (INGRESS_CLASS.row)(&ic, now()).cells;
        assert_eq!(
            cells,
            vec![
                json!("nginx"),
                json!("k8s.io/ingress-nginx"),
                json!("IngressParameters.k8s.example.com/external-lb"),
                json!("60m")
            ]
        );
        let plain = json!({"metadata": meta("x"), "spec": {"controller": "c"}});
        assert_eq!((INGRESS_CLASS.row)(&plain, now()).cells[2], json!("<none>"));
    }

    #[test]
    fn network_policy() {
        let np = json!({"metadata": meta("deny-all"), "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}});
        assert_eq!((NETWORK_POLICY.row)(&np, now()).cells, vec![json!("deny-all"), json!("<none>"), json!("60m")]);
        let np = json!({"metadata": meta("db"), "spec": {"podSelector": {"matchLabels": {"role": "db"}}}});
        assert_eq!((NETWORK_POLICY.row)(&np, now()).cells[1], json!("role=db"));
    }

    #[test]
    fn endpoint_slice() {
        let eps = json!({
            "metadata": meta("web-abc12"),
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "metrics"}],
            "endpoints": [
                {"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]},
                {"addresses": ["10.0.0.3"]}, {"addresses": ["10.0.0.4", "10.0.0.5"]}
            ]
        });
        let cells = (ENDPOINT_SLICE.row)(&eps, now()).cells;
        assert_eq!(
            cells,
            vec![
                json!("web-abc12"),
                json!("IPv4"),
                json!("80,metrics"),
                json!("10.0.0.1,10.0.0.2,10.0.0.3 + 2 more..."),
                json!("60m")
            ]
        );
        let empty = json!({"metadata": meta("e"), "addressType": "IPv6", "ports": [{}]});
        let cells = (ENDPOINT_SLICE.row)(&empty, now()).cells;
        assert_eq!(cells[2..4], [json!("*"), json!("<unset>")]);
    }

    #[test]
    fn service_cidr_and_ip_address() {
        let cidr = json!({"metadata": meta("kubernetes"), "spec": {"cidrs": ["10.96.0.0/12", "fd00:10:96::/112"]}});
        assert_eq!((SERVICE_CIDR.row)(&cidr, now()).cells[1], json!("10.96.0.0/12,fd00:10:96::/112"));
        let ip = json!({"metadata": meta("10.96.0.1"),
                        "spec": {"parentRef": {"group": "", "resource": "services", "namespace": "default", "name": "kubernetes"}}});
        assert_eq!((IP_ADDRESS.row)(&ip, now()).cells[1], json!("services/default/kubernetes"));
    }
}
