//! Turning a request's method, path and query into what it asks for.

use std::collections::BTreeMap;

use http::Method;

use crate::error::{ApiError, ApiResult};

/// The verb of a resource request, as RBAC and metrics name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    /// GET of one object.
    Get,
    /// GET of a collection.
    List,
    /// GET with `watch=true` (or the legacy `/watch/` prefix).
    Watch,
    /// POST.
    Create,
    /// PUT.
    Update,
    /// PATCH.
    Patch,
    /// DELETE of one object.
    Delete,
    /// DELETE of a collection.
    DeleteCollection,
}

impl Verb {
    /// The lower-case name (`deletecollection`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
        }
    }
}

/// A request for a resource: `/api/v1/namespaces/default/pods/web/status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceRequest {
    /// API group (empty for the core group).
    pub group: String,
    /// API version.
    pub version: String,
    /// Namespace from the path (empty when none).
    pub namespace: String,
    /// Resource (plural).
    pub resource: String,
    /// Object name (empty for collections).
    pub name: String,
    /// Subresource (`status`, `scale`, `binding`, …), empty when none.
    pub subresource: String,
    /// The verb.
    pub verb: Verb,
}

/// What a path names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A resource request.
    Resource(ResourceRequest),
    /// `/api` or `/apis` (discovery of groups).
    Groups {
        /// Whether `/api` (legacy core) rather than `/apis`.
        legacy: bool,
    },
    /// `/apis/{group}` (the group).
    Group(String),
    /// `/api/v1` or `/apis/{group}/{version}` (discovery of resources).
    GroupVersion {
        /// Group (empty for core).
        group: String,
        /// Version.
        version: String,
    },
    /// Anything else (`/version`, `/healthz`, `/openapi/...`, unknown).
    Other,
}

/// Namespace subresources that stay on the namespace itself.
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

/// Parses a path and method (and whether the query asks for a watch).
pub fn parse_target(method: &Method, path: &str, watch_param: bool) -> ApiResult<Target> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').filter(|p| !p.is_empty()).collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api"] => return Ok(Target::Groups { legacy: true }),
        ["apis"] => return Ok(Target::Groups { legacy: false }),
        ["api", version, rest @ ..] => (String::new(), (*version).to_owned(), rest),
        ["apis", group] => return Ok(Target::Group((*group).to_owned())),
        ["apis", group, version, rest @ ..] => ((*group).to_owned(), (*version).to_owned(), rest),
        _ => return Ok(Target::Other),
    };
    if rest.is_empty() {
        return Ok(Target::GroupVersion { group, version });
    }
    let mut rest: Vec<&str> = rest.to_vec();
    let mut watch = watch_param;
    if rest.first() == Some(&"watch") {
        watch = true;
        rest.remove(0);
    }
    let mut namespace = String::new();
    if rest.first() == Some(&"namespaces") && rest.len() > 1 {
        namespace = rest[1].to_owned();
        if rest.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&rest[2]) {
            rest.drain(..2);
        }
    }
    let resource = rest.first().copied().unwrap_or_default().to_owned();
    let name = rest.get(1).copied().unwrap_or_default().to_owned();
    let subresource = rest.get(2).copied().unwrap_or_default().to_owned();
    if rest.len() > 3 || resource.is_empty() {
        return Err(ApiError::not_found_path());
    }
    let verb = match *method {
        Method::GET | Method::HEAD if watch => Verb::Watch,
        Method::GET | Method::HEAD if name.is_empty() => Verb::List,
        Method::GET | Method::HEAD => Verb::Get,
        Method::POST => Verb::Create,
        Method::PUT => Verb::Update,
        Method::PATCH => Verb::Patch,
        Method::DELETE if name.is_empty() => Verb::DeleteCollection,
        Method::DELETE => Verb::Delete,
        _ => return Err(ApiError::new(405, "MethodNotAllowed", format!("method {method} is not allowed"))),
    };
    Ok(Target::Resource(ResourceRequest { group, version, namespace, resource, name, subresource, verb }))
}

/// Query parameters (the last value of each name wins, as in Go's `Get`).
#[derive(Clone, Debug, Default)]
pub struct Query(BTreeMap<String, String>);

impl Query {
    /// Parses a query string.
    pub fn parse(query: Option<&str>) -> Self {
        let mut map = BTreeMap::new();
        if let Some(q) = query {
            for (k, v) in form_urlencoded::parse(q.as_bytes()) {
                map.insert(k.into_owned(), v.into_owned());
            }
        }
        Self(map)
    }

    /// A parameter's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A boolean parameter (`true`/`1`); a bad value is a 400.
    pub fn flag(&self, name: &str) -> ApiResult<bool> {
        match self.get(name) {
            None | Some("") | Some("false") | Some("0") => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!("invalid value {other:?} for query parameter {name}"))),
        }
    }

    /// An integer parameter; a bad value is a 400.
    pub fn int(&self, name: &str) -> ApiResult<Option<i64>> {
        match self.get(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!("invalid value {v:?} for query parameter {name}: not an integer"))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(method: Method, path: &str) -> ResourceRequest {
        match parse_target(&method, path, false).unwrap() {
            Target::Resource(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn paths() {
        let r = res(Method::GET, "/api/v1/namespaces/default/pods/web/status");
        assert_eq!((r.namespace.as_str(), r.resource.as_str(), r.name.as_str()), ("default", "pods", "web"));
        assert_eq!((r.subresource.as_str(), r.verb), ("status", Verb::Get));
        let r = res(Method::GET, "/api/v1/namespaces/kube-system");
        assert_eq!((r.resource.as_str(), r.name.as_str(), r.verb), ("namespaces", "kube-system", Verb::Get));
        let r = res(Method::PUT, "/api/v1/namespaces/ns1/finalize");
        assert_eq!((r.resource.as_str(), r.name.as_str(), r.subresource.as_str()), ("namespaces", "ns1", "finalize"));
        let r = res(Method::GET, "/apis/apps/v1/deployments");
        assert_eq!((r.group.as_str(), r.namespace.as_str(), r.verb), ("apps", "", Verb::List));
        let r = res(Method::GET, "/apis/apps/v1/watch/namespaces/a/deployments");
        assert_eq!((r.namespace.as_str(), r.resource.as_str(), r.verb), ("a", "deployments", Verb::Watch));
        let r = res(Method::DELETE, "/api/v1/namespaces/a/pods");
        assert_eq!(r.verb, Verb::DeleteCollection);
        assert_eq!(parse_target(&Method::GET, "/apis/apps", false).unwrap(), Target::Group("apps".into()));
        assert_eq!(
            parse_target(&Method::GET, "/api/v1", false).unwrap(),
            Target::GroupVersion { group: String::new(), version: "v1".into() }
        );
        assert_eq!(parse_target(&Method::GET, "/version", false).unwrap(), Target::Other);
        assert!(parse_target(&Method::GET, "/api/v1/namespaces/a/pods/x/y/z", false).is_err());
    }

    #[test]
    fn query() {
        let q = Query::parse(Some("watch=1&labelSelector=app%3Dweb&limit=5&bad=x"));
        assert!(q.flag("watch").unwrap());
        assert_eq!(q.get("labelSelector"), Some("app=web"));
        assert_eq!(q.int("limit").unwrap(), Some(5));
        assert!(q.int("bad").is_err());
        assert!(q.flag("bad").is_err());
    }
}
