//! Authorization: may this user do this?
//!
//! Every authenticated request becomes [`Attributes`] (user, verb, and
//! either a resource — group, resource, subresource, namespace, name — or a
//! non-resource path) that an [`Authorization`] chain decides, as
//! kube-apiserver's `--authorization-mode` does: each [`Authorizer`] allows,
//! denies or has no opinion; the first to allow or deny decides, and a
//! request nobody allows is refused with kube-apiserver's 403 message
//! (`pods is forbidden: User "jane" cannot list resource "pods" in API
//! group "" in the namespace "default"`).
//!
//! Built in: [`AlwaysAllow`], [`AlwaysDeny`] and [`rbac::Rbac`] (Roles,
//! ClusterRoles and their bindings, read from watch-fed caches; the
//! [`bootstrap`] policy is created at start; [`escalation`] keeps users from
//! granting what they do not hold). [`Mode`] parses `--authorization-mode`.

pub mod bootstrap;
pub mod cache;
pub mod escalation;
pub mod rbac;

use std::sync::Arc;

use k_api_types::meta::StatusDetails;
use k_store::api::UserInfo;

use crate::error::ApiError;

/// What a request asks to do, as authorizers see it (borrowed from the
/// request: building it copies nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attributes<'a> {
    /// Who asks.
    pub user: &'a UserInfo,
    /// The verb: `get`, `list`, `create`, … for resources (also
    /// `impersonate`, `bind`, `escalate`, `use`); the lower-case HTTP method
    /// for paths.
    pub verb: &'a str,
    /// Whether this is a resource request (else a non-resource path).
    pub resource_request: bool,
    /// Namespace ("" for cluster-scoped requests).
    pub namespace: &'a str,
    /// API group ("" for the core group).
    pub api_group: &'a str,
    /// API version.
    pub api_version: &'a str,
    /// Resource (plural).
    pub resource: &'a str,
    /// Subresource ("" when none).
    pub subresource: &'a str,
    /// Object name ("" for collections and creates without a name).
    pub name: &'a str,
    /// The path of a non-resource request.
    pub path: &'a str,
}

impl<'a> Attributes<'a> {
    /// A resource request.
    pub fn resource(
        user: &'a UserInfo,
        verb: &'a str,
        api_group: &'a str,
        resource: &'a str,
        subresource: &'a str,
        namespace: &'a str,
        name: &'a str,
    ) -> Self {
        Attributes {
            user,
            verb,
            resource_request: true,
            namespace,
            api_group,
            api_version: "",
            resource,
            subresource,
            name,
            path: "",
        }
    }

    /// A non-resource request (`/healthz`, `/apis`, …).
    pub fn non_resource(user: &'a UserInfo, verb: &'a str, path: &'a str) -> Self {
        Attributes {
            user,
            verb,
            resource_request: false,
            namespace: "",
            api_group: "",
            api_version: "",
            resource: "",
            subresource: "",
            name: "",
            path,
        }
    }

    /// kube-apiserver's words for a refusal of these attributes.
    pub fn forbidden_message(&self) -> String {
        let user = &self.user.username;
        if !self.resource_request {
            return format!("User {user:?} cannot {} path {:?}", self.verb, self.path);
        }
        let mut resource = self.resource.to_owned();
        if !self.subresource.is_empty() {
            resource = format!("{resource}/{}", self.subresource);
        }
        let scope = if self.namespace.is_empty() {
            "at the cluster scope".to_owned()
        } else {
            format!("in the namespace {:?}", self.namespace)
        };
        format!("User {user:?} cannot {} resource {resource:?} in API group {:?} {scope}", self.verb, self.api_group)
    }

    /// The 403 Forbidden Status answered for these attributes, with the
    /// authorizers' reason appended when there is one.
    pub fn forbidden(&self, reason: &str) -> ApiError {
        let mut message = self.forbidden_message();
        if !reason.is_empty() {
            message = format!("{message}: {reason}");
        }
        let qualified = if !self.resource_request || self.resource.is_empty() {
            String::new()
        } else if self.api_group.is_empty() {
            self.resource.to_owned()
        } else {
            format!("{}.{}", self.resource, self.api_group)
        };
        let text = match (qualified.is_empty(), self.name.is_empty()) {
            (true, _) => format!("forbidden: {message}"),
            (false, true) => format!("{qualified} is forbidden: {message}"),
            (false, false) => format!("{qualified} {:?} is forbidden: {message}", self.name),
        };
        let mut error = ApiError::new(403, "Forbidden", text);
        error.status.details = Some(StatusDetails {
            name: self.name.to_owned(),
            group: self.api_group.to_owned(),
            kind: self.resource.to_owned(),
            ..StatusDetails::default()
        });
        error
    }
}

/// Why an authorizer decided as it did (shared, so deciding allocates nothing).
pub type Reason = Arc<str>;

/// An authorizer's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed (with the reason, such as the binding that allows it).
    Allow(Reason),
    /// Denied outright: later authorizers are not asked.
    Deny(Reason),
    /// Neither: the next authorizer decides (the reason, often empty, is
    /// kept for the 403).
    NoOpinion(Option<Reason>),
}

impl Decision {
    /// Whether the request is allowed.
    pub fn allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }

    /// The reason given.
    pub fn reason(&self) -> &str {
        match self {
            Decision::Allow(r) | Decision::Deny(r) | Decision::NoOpinion(Some(r)) => r,
            Decision::NoOpinion(None) => "",
        }
    }
}

/// A rule of a SelfSubjectRulesReview: what a user may do on resources.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceRule {
    /// Verbs.
    pub verbs: Vec<String>,
    /// API groups.
    pub api_groups: Vec<String>,
    /// Resources.
    pub resources: Vec<String>,
    /// Resource names (empty: all).
    pub resource_names: Vec<String>,
}

/// A rule of a SelfSubjectRulesReview: what a user may do on paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NonResourceRule {
    /// Verbs.
    pub verbs: Vec<String>,
    /// Paths (a trailing `*` matches any rest).
    pub non_resource_urls: Vec<String>,
}

/// The rules a user has in a namespace (SelfSubjectRulesReview).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rules {
    /// Rules over resources.
    pub resource_rules: Vec<ResourceRule>,
    /// Rules over paths.
    pub non_resource_rules: Vec<NonResourceRule>,
    /// Whether an authorizer could not list what it would allow, so the
    /// list may be short.
    pub incomplete: bool,
}

/// One way of deciding requests; see the [module docs](self).
pub trait Authorizer: Send + Sync + std::fmt::Debug {
    /// Decides one request.
    fn authorize(&self, attributes: &Attributes<'_>) -> Decision;

    /// What `user` may do in `namespace`, for SelfSubjectRulesReview. The
    /// default lists nothing and says the list is incomplete.
    fn rules_for(&self, _user: &UserInfo, _namespace: &str) -> Rules {
        Rules { incomplete: true, ..Rules::default() }
    }
}

/// Allows everything (`--authorization-mode=AlwaysAllow`).
#[derive(Clone, Copy, Debug, Default)]
pub struct AlwaysAllow;

impl Authorizer for AlwaysAllow {
    fn authorize(&self, _: &Attributes<'_>) -> Decision {
        Decision::Allow(Arc::from(""))
    }

    fn rules_for(&self, _: &UserInfo, _: &str) -> Rules {
        let all = vec!["*".to_owned()];
        Rules {
            resource_rules: vec![ResourceRule {
                verbs: all.clone(),
                api_groups: all.clone(),
                resources: all.clone(),
                resource_names: Vec::new(),
            }],
            non_resource_rules: vec![NonResourceRule { verbs: all.clone(), non_resource_urls: all }],
            incomplete: false,
        }
    }
}

/// Denies everything (`--authorization-mode=AlwaysDeny`).
#[derive(Clone, Copy, Debug, Default)]
pub struct AlwaysDeny;

impl Authorizer for AlwaysDeny {
    fn authorize(&self, _: &Attributes<'_>) -> Decision {
        Decision::Deny(Arc::from("Everything is forbidden."))
    }

    fn rules_for(&self, _: &UserInfo, _: &str) -> Rules {
        Rules::default()
    }
}

/// Allows every request of a member of `system:masters`, ahead of the
/// configured authorizers, as kube-apiserver does: administrators keep
/// access even when the RBAC policy is broken or deleted.
#[derive(Clone, Debug)]
pub struct PrivilegedGroup {
    reason: Reason,
}

/// The group [`PrivilegedGroup`] allows.
pub const SYSTEM_MASTERS: &str = "system:masters";

impl Default for PrivilegedGroup {
    fn default() -> Self {
        PrivilegedGroup { reason: Arc::from("allowed: member of system:masters") }
    }
}

impl Authorizer for PrivilegedGroup {
    fn authorize(&self, attributes: &Attributes<'_>) -> Decision {
        if attributes.user.groups.iter().any(|g| g == SYSTEM_MASTERS) {
            Decision::Allow(self.reason.clone())
        } else {
            Decision::NoOpinion(None)
        }
    }

    fn rules_for(&self, user: &UserInfo, namespace: &str) -> Rules {
        if user.groups.iter().any(|g| g == SYSTEM_MASTERS) {
            AlwaysAllow.rules_for(user, namespace)
        } else {
            Rules::default()
        }
    }
}

/// The API server itself (`system:apiserver` in `system:masters`), as the
/// writer of what it creates and maintains on its own: the bootstrap policy,
/// the system priority classes, quota usage.
pub fn apiserver_user() -> UserInfo {
    UserInfo { username: "system:apiserver".to_owned(), groups: vec![SYSTEM_MASTERS.to_owned()], ..UserInfo::default() }
}

/// A mode of `--authorization-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// [`AlwaysAllow`].
    AlwaysAllow,
    /// [`AlwaysDeny`].
    AlwaysDeny,
    /// [`rbac::Rbac`].
    Rbac,
}

impl Mode {
    /// Parses a comma-separated `--authorization-mode` value
    /// (`RBAC`, `AlwaysAllow`, `AlwaysDeny`; `Node` and `Webhook` are not
    /// served and say so).
    pub fn parse_list(text: &str) -> Result<Vec<Mode>, String> {
        let mut modes = Vec::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let mode = match name {
                "AlwaysAllow" => Mode::AlwaysAllow,
                "AlwaysDeny" => Mode::AlwaysDeny,
                "RBAC" => Mode::Rbac,
                "Node" | "Webhook" | "ABAC" => {
                    return Err(format!(
                        "authorization mode {name:?} is not supported (use RBAC, AlwaysAllow, AlwaysDeny)"
                    ));
                }
                other => return Err(format!("unknown authorization mode {other:?}")),
            };
            if modes.contains(&mode) {
                return Err(format!("authorization mode {name:?} is given twice"));
            }
            modes.push(mode);
        }
        if modes.is_empty() {
            return Err("at least one authorization mode is needed".to_owned());
        }
        Ok(modes)
    }
}

/// Authorizers asked in order; see the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct Authorization {
    chain: Vec<Arc<dyn Authorizer>>,
}

impl Authorization {
    /// No authorizer: every request is refused until authorizers are added.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an authorizer after those already there.
    #[must_use]
    pub fn with(self, authorizer: impl Authorizer + 'static) -> Self {
        self.with_shared(Arc::new(authorizer))
    }

    /// Adds a shared authorizer after those already there.
    #[must_use]
    pub fn with_shared(mut self, authorizer: Arc<dyn Authorizer>) -> Self {
        self.chain.push(authorizer);
        self
    }

    /// Decides: the first authorizer to allow or deny; if none does, no
    /// opinion (a refusal), with every reason given.
    pub fn authorize(&self, attributes: &Attributes<'_>) -> Decision {
        let mut reasons: Vec<Reason> = Vec::new();
        for authorizer in &self.chain {
            match authorizer.authorize(attributes) {
                Decision::NoOpinion(reason) => reasons.extend(reason.filter(|r| !r.is_empty())),
                decided => return decided,
            }
        }
        match reasons.len() {
            0 => Decision::NoOpinion(None),
            1 => Decision::NoOpinion(reasons.pop()),
            _ => Decision::NoOpinion(Some(Arc::from(reasons.join("\n")))),
        }
    }

    /// Ok when allowed, else the 403 to answer.
    pub fn check(&self, attributes: &Attributes<'_>) -> Result<(), ApiError> {
        match self.authorize(attributes) {
            Decision::Allow(_) => Ok(()),
            refused => Err(attributes.forbidden(refused.reason())),
        }
    }

    /// Every authorizer's rules for `user` in `namespace`, together.
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> Rules {
        let mut rules = Rules::default();
        for authorizer in &self.chain {
            let more = authorizer.rules_for(user, namespace);
            rules.resource_rules.extend(more.resource_rules);
            rules.non_resource_rules.extend(more.non_resource_rules);
            rules.incomplete |= more.incomplete;
        }
        rules
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jane() -> UserInfo {
        UserInfo::named("jane")
    }

    #[test]
    fn forbidden_messages_read_like_kube_apiservers() {
        let jane = jane();
        let list = Attributes::resource(&jane, "list", "", "pods", "", "default", "");
        assert_eq!(
            list.forbidden("").status.message,
            r#"pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "default""#
        );
        let get = Attributes::resource(&jane, "get", "apps", "deployments", "scale", "", "web");
        assert_eq!(
            get.forbidden("").status.message,
            r#"deployments.apps "web" is forbidden: User "jane" cannot get resource "deployments/scale" in API group "apps" at the cluster scope"#
        );
        let path = Attributes::non_resource(&jane, "get", "/metrics");
        let error = path.forbidden("no");
        assert_eq!(error.status.message, r#"forbidden: User "jane" cannot get path "/metrics": no"#);
        assert_eq!((error.code(), error.status.reason.as_str()), (403, "Forbidden"));
    }

    #[test]
    fn the_first_decision_wins_and_nobody_allowing_is_a_refusal() {
        let jane = jane();
        let attrs = Attributes::resource(&jane, "get", "", "pods", "", "default", "web");
        assert!(Authorization::new().with(AlwaysAllow).with(AlwaysDeny).authorize(&attrs).allowed());
        let denied = Authorization::new().with(AlwaysDeny).with(AlwaysAllow).check(&attrs).unwrap_err();
        assert!(denied.status.message.ends_with(": Everything is forbidden."), "{}", denied.status.message);
        assert!(!Authorization::new().authorize(&attrs).allowed());
        assert_eq!(Mode::parse_list("RBAC, AlwaysAllow").unwrap(), [Mode::Rbac, Mode::AlwaysAllow]);
        assert!(Mode::parse_list("Node").unwrap_err().contains("not supported"));
        assert!(Mode::parse_list("RBAC,RBAC").is_err());
    }
}
