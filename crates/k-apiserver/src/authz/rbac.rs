//! RBAC: Roles and ClusterRoles grant rules; RoleBindings (in their
//! namespace) and ClusterRoleBindings (everywhere) grant them to users,
//! groups and service accounts.
//!
//! A rule matches a request when its verbs, API groups, resources and
//! resource names all match (`*` matches anything; a resource is named
//! `resource/subresource` for subresources, and `*/subresource` matches that
//! subresource of any resource; an empty `resourceNames` matches every
//! name), or, for non-resource requests, its verbs and `nonResourceURLs` (a
//! trailing `*` matches any rest of the path). Rules only allow: a request
//! no rule allows gets no opinion, and the chain refuses it.

use std::sync::Arc;

use k_api_types::rbac::v1::PolicyRule;
use k_store::api::UserInfo;

use super::cache::RbacCache;
use super::{Attributes, Authorizer, Decision, NonResourceRule, ResourceRule, Rules};

/// The RBAC authorizer, deciding from an [`RbacCache`].
#[derive(Clone, Debug)]
pub struct Rbac {
    cache: Arc<RbacCache>,
}

impl Rbac {
    /// An authorizer reading `cache`.
    pub fn new(cache: Arc<RbacCache>) -> Self {
        Rbac { cache }
    }

    /// The cache it reads.
    pub fn cache(&self) -> &Arc<RbacCache> {
        &self.cache
    }
}

fn matches(list: &[String], value: &str) -> bool {
    list.iter().any(|item| item == "*" || item == value)
}

/// Whether `rule` allows the request `attributes` describes.
pub fn rule_allows(rule: &PolicyRule, attributes: &Attributes<'_>) -> bool {
    if !matches(&rule.verbs, attributes.verb) {
        return false;
    }
    if !attributes.resource_request {
        return rule.non_resource_urls.iter().any(|url| {
            url == "*"
                || url == attributes.path
                || url.strip_suffix('*').is_some_and(|prefix| attributes.path.starts_with(prefix))
        });
    }
    if !matches(&rule.api_groups, attributes.api_group) {
        return false;
    }
    let resource_matches = if attributes.subresource.is_empty() {
        matches(&rule.resources, attributes.resource)
    } else {
        // `resource/subresource` or `*/subresource`, compared without building either.
        rule.resources.iter().any(|r| {
            r == "*"
                || r.split_once('/').is_some_and(|(res, sub)| {
                    (res == "*" || res == attributes.resource) && sub == attributes.subresource
                })
        })
    };
    resource_matches && (rule.resource_names.is_empty() || rule.resource_names.iter().any(|n| n == attributes.name))
}

impl Authorizer for Rbac {
    fn authorize(&self, attributes: &Attributes<'_>) -> Decision {
        let index = self.cache.index();
        let namespace = if attributes.resource_request { attributes.namespace } else { "" };
        for grant in index.grants(attributes.user, namespace) {
            if grant.rules.iter().any(|rule| rule_allows(rule, attributes)) {
                return Decision::Allow(grant.reason.clone());
            }
        }
        Decision::NoOpinion(None)
    }

    fn rules_for(&self, user: &UserInfo, namespace: &str) -> Rules {
        let index = self.cache.index();
        let mut rules = Rules::default();
        for grant in index.grants(user, namespace) {
            for rule in grant.rules.iter() {
                if !rule.resources.is_empty() {
                    let resource = ResourceRule {
                        verbs: rule.verbs.clone(),
                        api_groups: rule.api_groups.clone(),
                        resources: rule.resources.clone(),
                        resource_names: rule.resource_names.clone(),
                    };
                    if !rules.resource_rules.contains(&resource) {
                        rules.resource_rules.push(resource);
                    }
                }
                if !rule.non_resource_urls.is_empty() {
                    let path = NonResourceRule {
                        verbs: rule.verbs.clone(),
                        non_resource_urls: rule.non_resource_urls.clone(),
                    };
                    if !rules.non_resource_rules.contains(&path) {
                        rules.non_resource_rules.push(path);
                    }
                }
            }
        }
        rules
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str]) -> PolicyRule {
        let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        PolicyRule {
            verbs: owned(verbs),
            api_groups: owned(groups),
            resources: owned(resources),
            resource_names: owned(names),
            non_resource_urls: Vec::new(),
        }
    }

    fn request<'a>(
        jane: &'a UserInfo,
        verb: &'a str,
        group: &'a str,
        resource: &'a str,
        sub: &'a str,
        name: &'a str,
    ) -> Attributes<'a> {
        Attributes::resource(jane, verb, group, resource, sub, "default", name)
    }

    #[test]
    fn rules_match_verbs_groups_resources_subresources_and_names() {
        let jane = UserInfo::named("jane");
        let pods = rule(&["get", "list"], &[""], &["pods"], &[]);
        assert!(rule_allows(&pods, &request(&jane, "get", "", "pods", "", "web")));
        assert!(!rule_allows(&pods, &request(&jane, "delete", "", "pods", "", "web")));
        assert!(!rule_allows(&pods, &request(&jane, "get", "apps", "pods", "", "web")));
        assert!(!rule_allows(&pods, &request(&jane, "get", "", "pods", "log", "web")), "pods does not cover pods/log");
        let logs = rule(&["get"], &[""], &["pods/log"], &[]);
        assert!(rule_allows(&logs, &request(&jane, "get", "", "pods", "log", "web")));
        assert!(!rule_allows(&logs, &request(&jane, "get", "", "pods", "", "web")));
        let any_status = rule(&["*"], &["*"], &["*/status"], &[]);
        assert!(rule_allows(&any_status, &request(&jane, "update", "apps", "deployments", "status", "d")));
        assert!(!rule_allows(&any_status, &request(&jane, "update", "apps", "deployments", "scale", "d")));
        let named = rule(&["get"], &[""], &["configmaps"], &["settings"]);
        assert!(rule_allows(&named, &request(&jane, "get", "", "configmaps", "", "settings")));
        assert!(!rule_allows(&named, &request(&jane, "get", "", "configmaps", "", "other")));
        assert!(!rule_allows(&named, &request(&jane, "list", "", "configmaps", "", "")));
        let all = rule(&["*"], &["*"], &["*"], &[]);
        assert!(rule_allows(&all, &request(&jane, "deletecollection", "batch", "jobs", "", "")));
        assert!(rule_allows(&all, &request(&jane, "get", "", "pods", "exec", "web")));
    }

    #[test]
    fn paths_match_exactly_or_by_prefix() {
        let mut health = rule(&["get"], &[], &[], &[]);
        health.non_resource_urls = vec!["/healthz".into(), "/apis/*".into()];
        let jane = UserInfo::named("jane");
        let path = |p: &'static str| Attributes::non_resource(&jane, "get", p);
        assert!(rule_allows(&health, &path("/healthz")));
        assert!(!rule_allows(&health, &path("/healthz/etcd")));
        assert!(rule_allows(&health, &path("/apis/apps/v1")));
        assert!(!rule_allows(&health, &path("/api/v1")));
        assert!(!rule_allows(&health, &request(&jane, "get", "", "pods", "", "")), "path rules grant no resources");
    }
}
