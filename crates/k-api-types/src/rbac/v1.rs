//! `rbac.authorization.k8s.io/v1`: [`Role`], [`ClusterRole`], [`RoleBinding`]
//! and [`ClusterRoleBinding`].

use crate::meta::{LabelSelector, ObjectMeta};
use crate::validation::{
    DNS1123_SUBDOMAIN_ERROR, ErrorList, FieldError, NameRule, Path, Validate, is_dns1123_subdomain,
    validate_label_selector, validate_object_meta, validate_object_meta_update,
};
use crate::{ApplyDefaults, wire};

/// The API group of RBAC, also the `apiGroup` of `User` and `Group` subjects.
pub const GROUP_NAME: &str = "rbac.authorization.k8s.io";

/// What a rule allows: verbs on resources, or on non-resource URLs.
#[wire(eq)]
pub struct PolicyRule {
    /// Verbs allowed, such as `get`, `list`, `watch`; `*` for all.
    #[wire(always)]
    pub verbs: Vec<String>,
    /// API groups of the resources (`""` is the core group, `*` all groups).
    pub api_groups: Vec<String>,
    /// Resources, such as `pods` or `pods/log`; `*` for all.
    pub resources: Vec<String>,
    /// Names of the objects the rule is restricted to.
    pub resource_names: Vec<String>,
    /// Non-resource URL paths such as `/healthz` (only in cluster roles).
    #[serde(rename = "nonResourceURLs")]
    pub non_resource_urls: Vec<String>,
}

/// A namespaced set of permissions.
#[wire]
pub struct Role {
    /// APIVersion of the object (`rbac.authorization.k8s.io/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`Role`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// The permissions granted.
    #[wire(always)]
    pub rules: Vec<PolicyRule>,
}

crate::impl_resource!(Role {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "Role",
    plural: "roles",
    singular: "role",
    short_names: [],
    categories: [],
    namespaced: true,
    verbs: crate::resource::ALL_VERBS,
    subresources: [],
    selectable_fields: []
});

/// A list of roles.
pub type RoleList = crate::meta::ObjectList<Role>;

/// A cluster-wide set of permissions, possibly aggregated from other cluster roles.
#[wire]
pub struct ClusterRole {
    /// APIVersion of the object (`rbac.authorization.k8s.io/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`ClusterRole`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// The permissions granted (filled by the controller for aggregated roles).
    #[wire(always)]
    pub rules: Vec<PolicyRule>,
    /// Cluster roles whose rules are aggregated into this one.
    pub aggregation_rule: Option<AggregationRule>,
}

crate::impl_resource!(ClusterRole {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "ClusterRole",
    plural: "clusterroles",
    singular: "clusterrole",
    short_names: [],
    categories: [],
    namespaced: false,
    verbs: crate::resource::ALL_VERBS,
    subresources: [],
    selectable_fields: []
});

/// A list of cluster roles.
pub type ClusterRoleList = crate::meta::ObjectList<ClusterRole>;

/// Which cluster roles are aggregated into a cluster role.
#[wire(eq)]
pub struct AggregationRule {
    /// Cluster roles matching any of these selectors contribute their rules.
    pub cluster_role_selectors: Vec<LabelSelector>,
}

/// Who a binding grants permissions to.
#[wire(eq)]
pub struct Subject {
    /// `User`, `Group` or `ServiceAccount`.
    pub kind: String,
    /// `rbac.authorization.k8s.io` for users and groups, `""` for service accounts.
    #[wire(omitempty)]
    pub api_group: String,
    /// Name of the user, group or service account.
    pub name: String,
    /// Namespace of a service account.
    #[wire(omitempty)]
    pub namespace: String,
}

/// The role a binding grants.
#[wire(eq)]
pub struct RoleRef {
    /// API group of the role (`rbac.authorization.k8s.io`).
    pub api_group: String,
    /// `Role` or `ClusterRole`.
    pub kind: String,
    /// Name of the role.
    pub name: String,
}

/// Grants a role's (or a cluster role's) permissions within a namespace.
#[wire]
pub struct RoleBinding {
    /// APIVersion of the object (`rbac.authorization.k8s.io/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`RoleBinding`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// Who gets the permissions.
    pub subjects: Vec<Subject>,
    /// The role granted; immutable.
    pub role_ref: RoleRef,
}

crate::impl_resource!(RoleBinding {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "RoleBinding",
    plural: "rolebindings",
    singular: "rolebinding",
    short_names: [],
    categories: [],
    namespaced: true,
    verbs: crate::resource::ALL_VERBS,
    subresources: [],
    selectable_fields: []
});

/// A list of role bindings.
pub type RoleBindingList = crate::meta::ObjectList<RoleBinding>;

/// Grants a cluster role's permissions cluster-wide.
#[wire]
pub struct ClusterRoleBinding {
    /// APIVersion of the object (`rbac.authorization.k8s.io/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`ClusterRoleBinding`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// Who gets the permissions.
    pub subjects: Vec<Subject>,
    /// The cluster role granted; immutable.
    pub role_ref: RoleRef,
}

crate::impl_resource!(ClusterRoleBinding {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "ClusterRoleBinding",
    plural: "clusterrolebindings",
    singular: "clusterrolebinding",
    short_names: [],
    categories: [],
    namespaced: false,
    verbs: crate::resource::ALL_VERBS,
    subresources: [],
    selectable_fields: []
});

/// A list of cluster role bindings.
pub type ClusterRoleBindingList = crate::meta::ObjectList<ClusterRoleBinding>;

impl Subject {
    /// A `User` subject.
    pub fn user(name: impl Into<String>) -> Self {
        Self { kind: "User".into(), api_group: GROUP_NAME.into(), name: name.into(), namespace: String::new() }
    }

    /// A `Group` subject.
    pub fn group(name: impl Into<String>) -> Self {
        Self { kind: "Group".into(), api_group: GROUP_NAME.into(), name: name.into(), namespace: String::new() }
    }

    /// A `ServiceAccount` subject.
    pub fn service_account(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self { kind: "ServiceAccount".into(), api_group: String::new(), name: name.into(), namespace: namespace.into() }
    }
}

impl RoleRef {
    /// A reference to a namespaced role.
    pub fn role(name: impl Into<String>) -> Self {
        Self { api_group: GROUP_NAME.into(), kind: "Role".into(), name: name.into() }
    }

    /// A reference to a cluster role.
    pub fn cluster_role(name: impl Into<String>) -> Self {
        Self { api_group: GROUP_NAME.into(), kind: "ClusterRole".into(), name: name.into() }
    }
}

// ---------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------

impl ApplyDefaults for Subject {
    fn apply_defaults(&mut self) {
        if self.api_group.is_empty() && matches!(self.kind.as_str(), "User" | "Group") {
            GROUP_NAME.clone_into(&mut self.api_group);
        }
    }
}

impl ApplyDefaults for RoleRef {
    fn apply_defaults(&mut self) {
        if self.api_group.is_empty() {
            GROUP_NAME.clone_into(&mut self.api_group);
        }
    }
}

impl ApplyDefaults for Role {
    fn apply_defaults(&mut self) {}
}

impl ApplyDefaults for ClusterRole {
    fn apply_defaults(&mut self) {}
}

impl ApplyDefaults for RoleBinding {
    fn apply_defaults(&mut self) {
        self.role_ref.apply_defaults();
        self.subjects.iter_mut().for_each(Subject::apply_defaults);
    }
}

impl ApplyDefaults for ClusterRoleBinding {
    fn apply_defaults(&mut self) {
        self.role_ref.apply_defaults();
        self.subjects.iter_mut().for_each(Subject::apply_defaults);
    }
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

/// RBAC names: anything but `.`, `..`, or containing `/` or `%`.
fn path_segment_errors(name: &str) -> Option<&'static str> {
    if name == "." || name == ".." {
        Some("may not be '.' or '..'")
    } else if name.contains('/') || name.contains('%') {
        Some("may not contain '/' or '%'")
    } else {
        None
    }
}

/// Validates a rule; roles (`namespaced`) may not have non-resource URLs.
pub fn validate_policy_rule(rule: &PolicyRule, namespaced: bool, path: &Path, errs: &mut ErrorList) {
    if rule.verbs.is_empty() {
        errs.push(FieldError::required(&path.child("verbs"), "verbs must contain at least one value"));
    }
    if !rule.non_resource_urls.is_empty() {
        let p = path.child("nonResourceURLs");
        if namespaced {
            errs.push(FieldError::invalid(
                &p,
                &rule.non_resource_urls,
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        if !rule.api_groups.is_empty() || !rule.resources.is_empty() || !rule.resource_names.is_empty() {
            errs.push(FieldError::invalid(
                &p,
                &rule.non_resource_urls,
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        return;
    }
    if rule.api_groups.is_empty() {
        errs.push(FieldError::required(&path.child("apiGroups"), "resource rules must supply at least one api group"));
    }
    if rule.resources.is_empty() {
        errs.push(FieldError::required(&path.child("resources"), "resource rules must supply at least one resource"));
    }
}

/// Validates a subject; cluster role bindings (`!namespaced`) need service
/// account namespaces.
pub fn validate_subject(subject: &Subject, namespaced: bool, path: &Path, errs: &mut ErrorList) {
    if subject.name.is_empty() {
        errs.push(FieldError::required(&path.child("name"), ""));
    }
    match subject.kind.as_str() {
        "ServiceAccount" => {
            if !subject.name.is_empty() && !is_dns1123_subdomain(&subject.name) {
                errs.push(FieldError::invalid(&path.child("name"), &subject.name, DNS1123_SUBDOMAIN_ERROR));
            }
            if !subject.api_group.is_empty() {
                errs.push(FieldError::not_supported(&path.child("apiGroup"), &subject.api_group, &[""]));
            }
            if !namespaced && subject.namespace.is_empty() {
                errs.push(FieldError::required(&path.child("namespace"), ""));
            }
        }
        "User" | "Group" => {
            if subject.api_group != GROUP_NAME {
                errs.push(FieldError::not_supported(&path.child("apiGroup"), &subject.api_group, &[GROUP_NAME]));
            }
        }
        other => errs.push(FieldError::not_supported(&path.child("kind"), other, &["ServiceAccount", "User", "Group"])),
    }
}

fn validate_role_ref(role_ref: &RoleRef, kinds: &[&str], errs: &mut ErrorList) {
    let path = Path::new("roleRef");
    if role_ref.api_group != GROUP_NAME {
        errs.push(FieldError::not_supported(&path.child("apiGroup"), &role_ref.api_group, &[GROUP_NAME]));
    }
    if !kinds.contains(&role_ref.kind.as_str()) {
        errs.push(FieldError::not_supported(&path.child("kind"), &role_ref.kind, kinds));
    }
    if role_ref.name.is_empty() {
        errs.push(FieldError::required(&path.child("name"), ""));
    } else if let Some(msg) = path_segment_errors(&role_ref.name) {
        errs.push(FieldError::invalid(&path.child("name"), &role_ref.name, msg));
    }
}

fn validate_binding(subjects: &[Subject], role_ref: &RoleRef, namespaced: bool, errs: &mut ErrorList) {
    let kinds: &[&str] = if namespaced { &["Role", "ClusterRole"] } else { &["ClusterRole"] };
    validate_role_ref(role_ref, kinds, errs);
    for (i, s) in subjects.iter().enumerate() {
        validate_subject(s, namespaced, &Path::new("subjects").index(i), errs);
    }
}

fn validate_role_ref_unchanged(new: &RoleRef, old: &RoleRef, errs: &mut ErrorList) {
    if new != old {
        errs.push(FieldError::invalid(&Path::new("roleRef"), new, "cannot change roleRef"));
    }
}

fn validate_rules(rules: &[PolicyRule], namespaced: bool, errs: &mut ErrorList) {
    for (i, r) in rules.iter().enumerate() {
        validate_policy_rule(r, namespaced, &Path::new("rules").index(i), errs);
    }
}

impl Validate for Role {
    fn validate(&self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta(&self.metadata, true, NameRule::Path, &mut errs);
        validate_rules(&self.rules, true, &mut errs);
        errs
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Path, &mut errs);
        validate_rules(&self.rules, true, &mut errs);
        errs
    }
}

fn validate_cluster_role_spec(role: &ClusterRole, errs: &mut ErrorList) {
    validate_rules(&role.rules, false, errs);
    if let Some(agg) = &role.aggregation_rule {
        let path = Path::new("aggregationRule").child("clusterRoleSelectors");
        if agg.cluster_role_selectors.is_empty() {
            errs.push(FieldError::required(
                &path,
                "at least one clusterRoleSelector required if aggregationRule is non-nil",
            ));
        }
        for (i, sel) in agg.cluster_role_selectors.iter().enumerate() {
            validate_label_selector(sel, &path.index(i), errs);
        }
    }
}

impl Validate for ClusterRole {
    fn validate(&self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta(&self.metadata, false, NameRule::Path, &mut errs);
        validate_cluster_role_spec(self, &mut errs);
        errs
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, false, NameRule::Path, &mut errs);
        validate_cluster_role_spec(self, &mut errs);
        errs
    }
}

impl Validate for RoleBinding {
    fn validate(&self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta(&self.metadata, true, NameRule::Path, &mut errs);
        validate_binding(&self.subjects, &self.role_ref, true, &mut errs);
        errs
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Path, &mut errs);
        validate_binding(&self.subjects, &self.role_ref, true, &mut errs);
        validate_role_ref_unchanged(&self.role_ref, &old.role_ref, &mut errs);
        errs
    }
}

impl Validate for ClusterRoleBinding {
    fn validate(&self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta(&self.metadata, false, NameRule::Path, &mut errs);
        validate_binding(&self.subjects, &self.role_ref, false, &mut errs);
        errs
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, false, NameRule::Path, &mut errs);
        validate_binding(&self.subjects, &self.role_ref, false, &mut errs);
        validate_role_ref_unchanged(&self.role_ref, &old.role_ref, &mut errs);
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

    #[test]
    fn round_trips() {
        let cluster_role = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "monitoring", "labels": {"rbac.example.com/aggregate-to-monitoring": "true"}},
            "rules": [
                {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["pods", "pods/log"], "resourceNames": ["web-0"]},
                {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/metrics"]}
            ],
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"rbac.example.com/aggregate-to-monitoring": "true"}}]}
        });
        let r: ClusterRole = serde_json::from_value(cluster_role.clone()).unwrap();
        assert_eq!(r.rules[1].non_resource_urls, ["/healthz", "/metrics"]);
        assert_eq!(serde_json::to_value(&r).unwrap(), cluster_role);
        assert!(r.validate().is_empty(), "{:?}", r.validate());

        let binding = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "monitoring"},
            "subjects": [
                {"kind": "ServiceAccount", "name": "prometheus", "namespace": "monitoring"},
                {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane@example.com"},
                {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:authenticated"}
            ],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "monitoring"}
        });
        let b: ClusterRoleBinding = serde_json::from_value(binding.clone()).unwrap();
        assert_eq!(b.subjects[0], Subject::service_account("monitoring", "prometheus"));
        assert_eq!(serde_json::to_value(&b).unwrap(), binding);
        assert!(b.validate().is_empty(), "{:?}", b.validate());

        // An empty role still writes `rules`, as Go does.
        let role = Role { metadata: ObjectMeta::namespaced("default", "empty"), ..Role::default() };
        assert_eq!(
            serde_json::to_value(&role).unwrap(),
            json!({"metadata": {"name": "empty", "namespace": "default"}, "rules": []})
        );
    }

    #[test]
    fn defaults() {
        let mut b: RoleBinding = serde_json::from_value(json!({
            "metadata": {"name": "b", "namespace": "ns"},
            "subjects": [{"kind": "User", "name": "jane"}, {"kind": "Group", "name": "devs"}, {"kind": "ServiceAccount", "name": "sa"}, {"kind": "Robot", "name": "r2"}],
            "roleRef": {"kind": "Role", "name": "reader"}
        }))
        .unwrap();
        b.apply_defaults();
        let groups: Vec<&str> = b.subjects.iter().map(|s| s.api_group.as_str()).collect();
        assert_eq!(groups, [GROUP_NAME, GROUP_NAME, "", ""]);
        assert_eq!(b.role_ref, RoleRef::role("reader"));
        let once = b.clone();
        b.apply_defaults();
        assert_eq!(b, once);
    }

    type Case<T> = (&'static str, Box<dyn Fn(&mut T)>, Vec<(String, &'static str)>);

    #[test]
    fn validation_table() {
        let role = || Role {
            metadata: ObjectMeta::namespaced("ns", "reader"),
            rules: vec![PolicyRule {
                verbs: vec!["get".into()],
                api_groups: vec!["".into()],
                resources: vec!["pods".into()],
                ..Default::default()
            }],
            ..Default::default()
        };
        let binding = || ClusterRoleBinding {
            metadata: ObjectMeta::named("b"),
            subjects: vec![Subject::service_account("ns", "sa"), Subject::user("jane")],
            role_ref: RoleRef::cluster_role("view"),
            ..Default::default()
        };
        let role_cases: Vec<Case<Role>> = vec![
            ("valid", Box::new(|_| {}), expect(&[])),
            ("no verbs", Box::new(|r| r.rules[0].verbs.clear()), expect(&[("rules[0].verbs", "FieldValueRequired")])),
            (
                "no groups or resources",
                Box::new(|r| {
                    r.rules[0].api_groups.clear();
                    r.rules[0].resources.clear();
                }),
                expect(&[("rules[0].apiGroups", "FieldValueRequired"), ("rules[0].resources", "FieldValueRequired")]),
            ),
            (
                "non-resource URL in a role",
                Box::new(|r| {
                    r.rules[0] = PolicyRule {
                        verbs: vec!["get".into()],
                        non_resource_urls: vec!["/healthz".into()],
                        ..Default::default()
                    };
                }),
                expect(&[("rules[0].nonResourceURLs", "FieldValueInvalid")]),
            ),
            (
                "name with slash",
                Box::new(|r| r.metadata.name = "a/b".into()),
                expect(&[("metadata.name", "FieldValueInvalid")]),
            ),
            ("colons are fine", Box::new(|r| r.metadata.name = "system:reader".into()), expect(&[])),
        ];
        for (name, mutate, want) in role_cases {
            let mut r = role();
            mutate(&mut r);
            assert_eq!(causes(&r.validate()), want, "{name}");
        }

        let binding_cases: Vec<Case<ClusterRoleBinding>> = vec![
            ("valid", Box::new(|_| {}), expect(&[])),
            (
                "robot subject",
                Box::new(|b| b.subjects[1].kind = "Robot".into()),
                expect(&[("subjects[1].kind", "FieldValueNotSupported")]),
            ),
            (
                "sa without namespace",
                Box::new(|b| b.subjects[0].namespace.clear()),
                expect(&[("subjects[0].namespace", "FieldValueRequired")]),
            ),
            (
                "sa with api group",
                Box::new(|b| b.subjects[0].api_group = GROUP_NAME.into()),
                expect(&[("subjects[0].apiGroup", "FieldValueNotSupported")]),
            ),
            (
                "user in core group",
                Box::new(|b| b.subjects[1].api_group.clear()),
                expect(&[("subjects[1].apiGroup", "FieldValueNotSupported")]),
            ),
            (
                "missing name",
                Box::new(|b| b.subjects[1].name.clear()),
                expect(&[("subjects[1].name", "FieldValueRequired")]),
            ),
            (
                "binding a Role",
                Box::new(|b| b.role_ref.kind = "Role".into()),
                expect(&[("roleRef.kind", "FieldValueNotSupported")]),
            ),
            (
                "roleRef group",
                Box::new(|b| b.role_ref.api_group = "example.com".into()),
                expect(&[("roleRef.apiGroup", "FieldValueNotSupported")]),
            ),
            ("roleRef name", Box::new(|b| b.role_ref.name.clear()), expect(&[("roleRef.name", "FieldValueRequired")])),
        ];
        for (name, mutate, want) in binding_cases {
            let mut b = binding();
            mutate(&mut b);
            assert_eq!(causes(&b.validate()), want, "{name}");
        }

        // Role bindings may bind Roles, and service accounts default to the binding's namespace.
        let rb = RoleBinding {
            metadata: ObjectMeta::namespaced("ns", "rb"),
            subjects: vec![Subject { kind: "ServiceAccount".into(), name: "sa".into(), ..Default::default() }],
            role_ref: RoleRef::role("reader"),
            ..Default::default()
        };
        assert_eq!(causes(&rb.validate()), expect(&[]));

        // Aggregation rules need selectors.
        let agg = ClusterRole {
            metadata: ObjectMeta::named("agg"),
            aggregation_rule: Some(AggregationRule::default()),
            ..Default::default()
        };
        assert_eq!(causes(&agg.validate()), expect(&[("aggregationRule.clusterRoleSelectors", "FieldValueRequired")]));
    }

    #[test]
    fn role_ref_is_immutable() {
        let old = RoleBinding {
            metadata: ObjectMeta::namespaced("ns", "rb"),
            role_ref: RoleRef::role("reader"),
            ..Default::default()
        };
        let mut new = old.clone();
        new.subjects.push(Subject::user("jane"));
        assert!(new.validate_update(&old).is_empty());
        new.role_ref = RoleRef::cluster_role("admin");
        let errs = new.validate_update(&old);
        assert_eq!(causes(&errs), expect(&[("roleRef", "FieldValueInvalid")]));
        assert!(errs[0].to_string().ends_with("cannot change roleRef"), "{}", errs[0]);
    }
}
