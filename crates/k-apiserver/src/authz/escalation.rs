//! RBAC's escalation checks: nobody grants permissions they do not hold.
//!
//! As kube-apiserver's RBAC storage does, a write of a Role or ClusterRole
//! is refused unless the writer already has every permission its rules
//! grant (in the role's namespace, or cluster-wide), or may `escalate`
//! roles; a write of a RoleBinding or ClusterRoleBinding is refused unless
//! the writer may `bind` the role it refers to, or already has every
//! permission of that role (in the binding's namespace, or cluster-wide).
//! Members of `system:masters` are exempt (they hold everything, and
//! bootstrap writes the first roles). A ClusterRole with an
//! `aggregationRule` takes in rules its writer never names, so writing one
//! needs every permission; binding one is checked against its aggregated
//! rules.
//!
//! A rule is held when the authorization chain allows each of its
//! combinations (verb × group × resource × name, or verb × path); `*` is
//! held only through a `*` of one's own. [`EscalationGuard`] runs as a
//! k-store admission hook, so it sees the object as it will be stored,
//! whether created, replaced, patched or applied.

use std::sync::Arc;

use k_api_types::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use k_api_types::{GroupVersionResource, Object};
use k_store::admission::{AdmissionHook, AdmissionRequest};
use k_store::api::{ListOptions, Operation, UserInfo};
use k_store::{ObjectApi, StoreError};

use super::{Attributes, Authorization};

const GROUP: &str = "rbac.authorization.k8s.io";
/// The group whose members may grant anything.
pub const PRIVILEGED_GROUP: &str = "system:masters";

/// The check, as an admission hook; see the [module docs](self).
#[derive(Debug)]
pub struct EscalationGuard {
    authorization: Authorization,
    api: Arc<dyn ObjectApi>,
}

impl EscalationGuard {
    /// A guard deciding with `authorization`, reading referred roles from `api`.
    pub fn new(authorization: Authorization, api: Arc<dyn ObjectApi>) -> Self {
        Self { authorization, api }
    }

    fn allowed(&self, attributes: &Attributes<'_>) -> bool {
        self.authorization.authorize(attributes).allowed()
    }

    /// The rules of `rules` that `user` does not hold in `namespace`.
    fn not_held<'r>(&self, user: &UserInfo, namespace: &str, rules: &'r [PolicyRule]) -> Vec<&'r PolicyRule> {
        rules.iter().filter(|rule| !self.holds(user, namespace, rule)).collect()
    }

    fn holds(&self, user: &UserInfo, namespace: &str, rule: &PolicyRule) -> bool {
        for verb in &rule.verbs {
            for url in &rule.non_resource_urls {
                if !self.allowed(&Attributes::non_resource(user, verb, url)) {
                    return false;
                }
            }
            for group in &rule.api_groups {
                for resource in &rule.resources {
                    let (resource, sub) = resource.split_once('/').unwrap_or((resource, ""));
                    let names: Vec<&str> = if rule.resource_names.is_empty() {
                        vec![""]
                    } else {
                        rule.resource_names.iter().map(String::as_str).collect()
                    };
                    for name in names {
                        let attributes = Attributes::resource(user, verb, group, resource, sub, namespace, name);
                        if !self.allowed(&attributes) {
                            return false;
                        }
                    }
                }
            }
        }
        true
    }

    /// The rules of the role a binding refers to.
    async fn role_rules(&self, kind: &str, namespace: &str, name: &str) -> k_store::Result<Vec<PolicyRule>> {
        let internal = |e: serde_json::Error| StoreError::Internal(e.to_string());
        match kind {
            "ClusterRole" => {
                let gvr = GroupVersionResource::new(GROUP, "v1", "clusterroles");
                let role: ClusterRole = self.api.get(&gvr, "", name).await?.to_typed().map_err(internal)?;
                if role.aggregation_rule.is_none() {
                    return Ok(role.rules);
                }
                // What RBAC will grant: the role with everything it aggregates.
                let all = self.api.list(&gvr, None, &ListOptions::default()).await?;
                let roles = all
                    .items
                    .iter()
                    .filter_map(|o| o.to_typed::<ClusterRole>().ok().map(|r| (r.metadata.name.clone(), r)))
                    .collect();
                Ok(super::cache::aggregate_rules(name, &roles))
            }
            "Role" => {
                let gvr = GroupVersionResource::new(GROUP, "v1", "roles");
                let role: Role = self.api.get(&gvr, namespace, name).await?.to_typed().map_err(internal)?;
                Ok(role.rules)
            }
            other => Err(StoreError::BadRequest(format!("roleRef.kind {other:?} must be Role or ClusterRole"))),
        }
    }
}

/// Every permission: what cluster-admin holds.
fn everything() -> PolicyRule {
    let all = vec!["*".to_owned()];
    PolicyRule {
        verbs: all.clone(),
        api_groups: all.clone(),
        resources: all.clone(),
        resource_names: Vec::new(),
        non_resource_urls: all,
    }
}

fn describe(rule: &PolicyRule) -> String {
    let list = |l: &[String]| format!("[{}]", l.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(" "));
    let mut parts = Vec::new();
    if !rule.api_groups.is_empty() {
        parts.push(format!("APIGroups:{}", list(&rule.api_groups)));
    }
    if !rule.resources.is_empty() {
        parts.push(format!("Resources:{}", list(&rule.resources)));
    }
    if !rule.resource_names.is_empty() {
        parts.push(format!("ResourceNames:{}", list(&rule.resource_names)));
    }
    if !rule.non_resource_urls.is_empty() {
        parts.push(format!("NonResourceURLs:{}", list(&rule.non_resource_urls)));
    }
    parts.push(format!("Verbs:{}", list(&rule.verbs)));
    format!("{{{}}}", parts.join(", "))
}

fn refusal(request: &AdmissionRequest<'_>, missing: &[&PolicyRule]) -> StoreError {
    let user = request.user;
    let groups = user.groups.iter().map(|g| format!("{g:?}")).collect::<Vec<_>>().join(" ");
    let rules = missing.iter().map(|r| describe(r)).collect::<Vec<_>>().join("\n");
    crate::admission::forbidden(
        request,
        format!(
            "user {:?} (groups=[{groups}]) is attempting to grant RBAC permissions not currently held:\n{rules}",
            user.username
        ),
    )
}

#[async_trait::async_trait]
impl AdmissionHook for EscalationGuard {
    async fn admit(&self, _request: &mut AdmissionRequest<'_>) -> k_store::Result<()> {
        Ok(())
    }

    async fn validate(&self, request: &AdmissionRequest<'_>) -> k_store::Result<()> {
        if request.resource.group != GROUP
            || request.subresource.is_some()
            || request.operation == Operation::Delete
            || request.user.groups.iter().any(|g| g == PRIVILEGED_GROUP)
        {
            return Ok(());
        }
        let user = request.user;
        let namespace = request.namespace;
        let plural = request.resource.plural.as_str();
        let internal = |e: serde_json::Error| StoreError::Internal(e.to_string());
        let to_value = |o: &Object| o.to_value().map_err(|e| StoreError::Internal(e.to_string()));
        let Some(object) = request.object.as_deref() else { return Ok(()) };
        match plural {
            "roles" | "clusterroles" => {
                let escalate = Attributes::resource(user, "escalate", GROUP, plural, "", namespace, request.name);
                if self.allowed(&escalate) {
                    return Ok(());
                }
                let rules = if plural == "roles" {
                    serde_json::from_value::<Role>(to_value(object)?).map_err(internal)?.rules
                } else {
                    let role = serde_json::from_value::<ClusterRole>(to_value(object)?).map_err(internal)?;
                    // An aggregated role takes in rules the writer never names:
                    // only those who hold everything may write one (as in Kubernetes).
                    if role.aggregation_rule.is_some() && !self.holds(user, "", &everything()) {
                        let groups = user.groups.iter().map(|g| format!("{g:?}")).collect::<Vec<_>>().join(" ");
                        return Err(crate::admission::forbidden(
                            request,
                            format!(
                                "user {:?} (groups=[{groups}]) must have cluster-admin privileges to write an aggregated ClusterRole",
                                user.username
                            ),
                        ));
                    }
                    role.rules
                };
                let missing = self.not_held(user, namespace, &rules);
                if missing.is_empty() { Ok(()) } else { Err(refusal(request, &missing)) }
            }
            "rolebindings" | "clusterrolebindings" => {
                let role_ref = if plural == "rolebindings" {
                    serde_json::from_value::<RoleBinding>(to_value(object)?).map_err(internal)?.role_ref
                } else {
                    serde_json::from_value::<ClusterRoleBinding>(to_value(object)?).map_err(internal)?.role_ref
                };
                let role_plural = if role_ref.kind == "Role" { "roles" } else { "clusterroles" };
                let bind = Attributes::resource(user, "bind", GROUP, role_plural, "", namespace, &role_ref.name);
                if self.allowed(&bind) {
                    return Ok(());
                }
                let rules = match self.role_rules(&role_ref.kind, namespace, &role_ref.name).await {
                    Ok(rules) => rules,
                    // A binding to a role that does not exist grants nothing yet;
                    // kube-apiserver refuses it without `bind`, and so does k.
                    Err(e) if e.is_not_found() => {
                        return Err(crate::admission::forbidden(
                            request,
                            format!(
                                "user {:?} cannot bind {} {:?}, which does not exist",
                                user.username, role_ref.kind, role_ref.name
                            ),
                        ));
                    }
                    Err(e) => return Err(e),
                };
                let missing = self.not_held(user, namespace, &rules);
                if missing.is_empty() { Ok(()) } else { Err(refusal(request, &missing)) }
            }
            _ => Ok(()),
        }
    }
}
