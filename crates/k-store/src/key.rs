//! Storage keys: where an object of a resource lives in the backend.
//!
//! `/registry/<plural>/<namespace>/<name>` for the core group, as
//! kube-apiserver lays out etcd, and `/registry/<group>/<plural>/<namespace>/<name>`
//! for other groups (so custom resources never collide with built-ins).
//! Cluster-scoped kinds omit the namespace.

use k_api_types::ApiResource;

/// The prefix of every object of a resource: `/registry/pods/`.
pub fn resource_prefix(resource: &ApiResource) -> String {
    if resource.group.is_empty() {
        format!("/registry/{}/", resource.plural)
    } else {
        format!("/registry/{}/{}/", resource.group, resource.plural)
    }
}

/// The prefix of a resource's objects in one namespace (or all, for `None`
/// and for cluster-scoped resources).
pub fn list_prefix(resource: &ApiResource, namespace: Option<&str>) -> String {
    let mut p = resource_prefix(resource);
    if resource.namespaced
        && let Some(ns) = namespace.filter(|n| !n.is_empty())
    {
        p.push_str(ns);
        p.push('/');
    }
    p
}

/// The key of one object.
pub fn object_key(resource: &ApiResource, namespace: &str, name: &str) -> String {
    let mut k = resource_prefix(resource);
    if resource.namespaced {
        k.push_str(namespace);
        k.push('/');
    }
    k.push_str(name);
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use k_api_types::Resource;
    use k_api_types::apps::v1::Deployment;
    use k_api_types::core::v1::{Namespace, Pod};

    #[test]
    fn layout() {
        let pods = ApiResource::from(&Pod::INFO);
        let deploy = ApiResource::from(&Deployment::INFO);
        let ns = ApiResource::from(&Namespace::INFO);
        assert_eq!(object_key(&pods, "default", "web"), "/registry/pods/default/web");
        assert_eq!(object_key(&deploy, "a", "b"), "/registry/apps/deployments/a/b");
        assert_eq!(object_key(&ns, "", "kube-system"), "/registry/namespaces/kube-system");
        assert_eq!(list_prefix(&pods, Some("default")), "/registry/pods/default/");
        assert_eq!(list_prefix(&pods, None), "/registry/pods/");
        assert_eq!(list_prefix(&ns, Some("ignored")), "/registry/namespaces/");
    }
}
