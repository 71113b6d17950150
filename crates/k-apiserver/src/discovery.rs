//! Discovery: which groups, versions and resources the server serves, in the
//! legacy documents (`/api`, `/apis`, `/api/v1`, `/apis/{g}/{v}`) and as
//! aggregated discovery (`apidiscovery.k8s.io/v2`, one document for all).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use k_api_types::ApiResource;
use k_api_types::meta::{
    APIGroup, APIGroupList, APIResource, APIResourceList, APIVersions, GroupVersionForDiscovery,
    ServerAddressByClientCIDR,
};
use serde_json::{Value, json};

/// Content type of aggregated discovery responses.
pub const AGGREGATED_CONTENT_TYPE: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Built-in groups in the order kube-apiserver lists them; other groups follow by name.
const GROUP_ORDER: &[&str] = &[
    "",
    "apiregistration.k8s.io",
    "apps",
    "events.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "node.k8s.io",
    "discovery.k8s.io",
    "flowcontrol.apiserver.k8s.io",
];

/// Orders versions as Kubernetes does: GA before beta before alpha, higher
/// numbers first; versions that do not follow the pattern last, by name.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn key(v: &str) -> Option<(u8, u64, u64)> {
        let rest = v.strip_prefix('v')?;
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let major: u64 = rest[..digits].parse().ok()?;
        let tail = &rest[digits..];
        if tail.is_empty() {
            return Some((3, major, 0));
        }
        let (level, n) = if let Some(n) = tail.strip_prefix("beta") {
            (2, n)
        } else if let Some(n) = tail.strip_prefix("alpha") {
            (1, n)
        } else {
            return None;
        };
        Some((level, major, n.parse().ok()?))
    }
    match (key(a), key(b)) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

fn group_rank(group: &str) -> (usize, &str) {
    (GROUP_ORDER.iter().position(|g| *g == group).unwrap_or(GROUP_ORDER.len()), group)
}

/// A group's versions, each with its resources.
type Versions = Vec<(String, Vec<ApiResource>)>;

/// The served resources, arranged by group and version.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Groups in discovery order; versions in preference order; resources by name.
    groups: Vec<(String, Versions)>,
    address: String,
}

/// A subresource's discovery facts: (name, response group, version, kind, verbs).
fn subresource_facts(r: &ApiResource, sub: &str) -> Option<(String, String, String, Vec<&'static str>)> {
    let (group, version, kind, verbs): (&str, &str, &str, Vec<&'static str>) = match sub {
        "status" => (&r.group, &r.version, &r.kind, vec!["get", "patch", "update"]),
        "scale" => ("autoscaling", "v1", "Scale", vec!["get", "patch", "update"]),
        "binding" => ("", "v1", "Binding", vec!["create"]),
        "eviction" => ("policy", "v1", "Eviction", vec!["create"]),
        "log" => ("", "v1", "Pod", vec!["get"]),
        "token" => ("authentication.k8s.io", "v1", "TokenRequest", vec!["create"]),
        "finalize" => ("", "v1", "Namespace", vec!["update"]),
        _ => return None,
    };
    Some((group.to_owned(), version.to_owned(), kind.to_owned(), verbs))
}

impl Discovery {
    /// Arranges `resources`; `address` is what `/api` and `/apis` report for clients.
    pub fn new(resources: Vec<ApiResource>, address: &str) -> Self {
        let mut by_group: BTreeMap<String, BTreeMap<String, Vec<ApiResource>>> = BTreeMap::new();
        for r in resources {
            by_group.entry(r.group.clone()).or_default().entry(r.version.clone()).or_default().push(r);
        }
        let mut groups: Vec<(String, Versions)> = by_group
            .into_iter()
            .map(|(g, versions)| {
                let mut versions: Versions = versions
                    .into_iter()
                    .map(|(v, mut rs)| {
                        rs.sort_by(|a, b| a.plural.cmp(&b.plural));
                        (v, rs)
                    })
                    .collect();
                versions.sort_by(|a, b| compare_versions(&a.0, &b.0));
                (g, versions)
            })
            .collect();
        groups.sort_by(|a, b| group_rank(&a.0).cmp(&group_rank(&b.0)));
        Self { groups, address: address.to_owned() }
    }

    fn addresses(&self) -> Vec<ServerAddressByClientCIDR> {
        vec![ServerAddressByClientCIDR { client_cidr: "0.0.0.0/0".into(), server_address: self.address.clone() }]
    }

    /// `/api`.
    pub fn api_versions(&self) -> APIVersions {
        let versions = self.versions_of("").map(|vs| vs.iter().map(|(v, _)| v.clone()).collect()).unwrap_or_default();
        APIVersions {
            kind: "APIVersions".into(),
            api_version: String::new(),
            versions,
            server_address_by_client_cidrs: self.addresses(),
        }
    }

    fn versions_of(&self, group: &str) -> Option<&Versions> {
        self.groups.iter().find(|(g, _)| g == group).map(|(_, v)| v)
    }

    /// `/apis/{group}`, if served.
    pub fn group(&self, group: &str) -> Option<APIGroup> {
        if group.is_empty() {
            return None;
        }
        let versions = self.versions_of(group)?;
        let gv: Vec<GroupVersionForDiscovery> = versions
            .iter()
            .map(|(v, _)| GroupVersionForDiscovery { group_version: format!("{group}/{v}"), version: v.clone() })
            .collect();
        Some(APIGroup {
            kind: "APIGroup".into(),
            api_version: "v1".into(),
            name: group.to_owned(),
            preferred_version: gv.first().cloned(),
            versions: gv,
            server_address_by_client_cidrs: Vec::new(),
        })
    }

    /// `/apis`.
    pub fn group_list(&self) -> APIGroupList {
        let groups = self.groups.iter().filter(|(g, _)| !g.is_empty()).filter_map(|(g, _)| self.group(g)).collect();
        APIGroupList { kind: "APIGroupList".into(), api_version: "v1".into(), groups }
    }

    /// `/api/v1` or `/apis/{group}/{version}`, if served.
    pub fn resource_list(&self, group: &str, version: &str) -> Option<APIResourceList> {
        let (_, resources) = self.versions_of(group)?.iter().find(|(v, _)| v == version)?;
        let mut list = Vec::new();
        // Kinds served only as subresources (pods/eviction) have no entry of their own.
        for r in resources.iter().filter(|r| !r.verbs.is_empty()) {
            list.push(APIResource {
                name: r.plural.clone(),
                singular_name: r.singular.clone(),
                namespaced: r.namespaced,
                group: String::new(),
                version: String::new(),
                kind: r.kind.clone(),
                verbs: r.verbs.clone(),
                short_names: r.short_names.clone(),
                categories: r.categories.clone(),
                storage_version_hash: String::new(),
            });
            for sub in &r.subresources {
                let Some((g, v, kind, verbs)) = subresource_facts(r, sub) else { continue };
                let differs = g != r.group || v != r.version;
                list.push(APIResource {
                    name: format!("{}/{sub}", r.plural),
                    singular_name: String::new(),
                    namespaced: r.namespaced,
                    group: if differs { g } else { String::new() },
                    version: if differs { v } else { String::new() },
                    kind,
                    verbs: verbs.into_iter().map(str::to_owned).collect(),
                    short_names: Vec::new(),
                    categories: Vec::new(),
                    storage_version_hash: String::new(),
                });
            }
        }
        let group_version = if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") };
        Some(APIResourceList {
            kind: "APIResourceList".into(),
            api_version: "v1".into(),
            group_version,
            resources: list,
        })
    }

    /// Aggregated discovery for `/api` (`legacy`) or `/apis`.
    pub fn aggregated(&self, legacy: bool) -> Value {
        let items: Vec<Value> = self
            .groups
            .iter()
            .filter(|(g, _)| g.is_empty() == legacy)
            .map(|(g, versions)| {
                let versions: Vec<Value> = versions
                    .iter()
                    .map(|(v, resources)| {
                        let resources: Vec<Value> =
                            resources.iter().filter(|r| !r.verbs.is_empty()).map(aggregated_resource).collect();
                        json!({ "version": v, "resources": resources, "freshness": "Current" })
                    })
                    .collect();
                let metadata = if g.is_empty() {
                    json!({ "creationTimestamp": null })
                } else {
                    json!({ "name": g, "creationTimestamp": null })
                };
                json!({ "metadata": metadata, "versions": versions })
            })
            .collect();
        json!({
            "kind": "APIGroupDiscoveryList",
            "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {},
            "items": items,
        })
    }
}

fn aggregated_resource(r: &ApiResource) -> Value {
    let subresources: Vec<Value> = r
        .subresources
        .iter()
        .filter_map(|sub| {
            let (g, v, kind, verbs) = subresource_facts(r, sub)?;
            Some(json!({
                "subresource": sub,
                "responseKind": { "group": g, "version": v, "kind": kind },
                "verbs": verbs,
            }))
        })
        .collect();
    let mut out = json!({
        "resource": r.plural,
        "responseKind": { "group": r.group, "version": r.version, "kind": r.kind },
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular,
        "verbs": r.verbs,
    });
    if !r.short_names.is_empty() {
        out["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        out["categories"] = json!(r.categories);
    }
    if !subresources.is_empty() {
        out["subresources"] = json!(subresources);
    }
    out
}

#[cfg(test)]
mod tests {
    use k_api_types::Registry;

    use super::*;

    #[test]
    fn versions_order_like_kubernetes() {
        let mut v = vec!["v1beta1", "v1", "v2alpha1", "foo", "v2", "v1beta2", "v10"];
        v.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(v, ["v10", "v2", "v1", "v1beta2", "v1beta1", "v2alpha1", "foo"]);
    }

    #[test]
    fn builtin_discovery() {
        let resources = Registry::builtin().iter().map(|r| (**r).clone()).collect();
        let d = Discovery::new(resources, "127.0.0.1:6443");
        assert_eq!(d.api_versions().versions, ["v1"]);
        let groups = d.group_list();
        assert_eq!(groups.groups[0].name, "apps");
        let core = d.resource_list("", "v1").unwrap();
        let pods = core.resources.iter().find(|r| r.name == "pods").unwrap();
        assert!(pods.namespaced && pods.short_names == ["po"]);
        let scale = d.resource_list("apps", "v1").unwrap();
        let scale = scale.resources.iter().find(|r| r.name == "deployments/scale").unwrap();
        assert_eq!((scale.group.as_str(), scale.version.as_str(), scale.kind.as_str()), ("autoscaling", "v1", "Scale"));
        let agg = d.aggregated(false);
        let apps = &agg["items"][0];
        assert_eq!(apps["metadata"]["name"], "apps");
        let deploy = apps["versions"][0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "deployments")
            .unwrap();
        assert_eq!(deploy["scope"], "Namespaced");
        assert_eq!(deploy["responseKind"]["kind"], "Deployment");
        assert!(d.resource_list("apps", "v9").is_none());
    }
}
