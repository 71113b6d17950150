//! `authorization.k8s.io/v1`: [`SubjectAccessReview`], [`SelfSubjectAccessReview`],
//! [`LocalSubjectAccessReview`] and [`SelfSubjectRulesReview`].
//!
//! These kinds are only ever created (the response carries the status), so
//! they have no list types.

use std::collections::BTreeMap;

use crate::meta::{LabelSelectorRequirement, ObjectMeta};
use crate::validation::{ErrorList, FieldError, Path, Validate, is_valid_label_value, qualified_name_errors};
use crate::{ApplyDefaults, wire};

/// Asks whether a user or group may perform an action.
#[wire]
pub struct SubjectAccessReview {
    /// APIVersion of the object (`authorization.k8s.io/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`SubjectAccessReview`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata (must be empty).
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// The action and who performs it.
    pub spec: SubjectAccessReviewSpec,
    /// The answer, filled in by the server.
    pub status: Option<SubjectAccessReviewStatus>,
}

crate::impl_resource!(SubjectAccessReview {
    group: "authorization.k8s.io",
    version: "v1",
    kind: "SubjectAccessReview",
    plural: "subjectaccessreviews",
    singular: "subjectaccessreview",
    short_names: [],
    categories: [],
    namespaced: false,
    verbs: crate::resource::CREATE_ONLY,
    subresources: [],
    selectable_fields: []
});

/// Asks whether the requesting user may perform an action.
#[wire]
pub struct SelfSubjectAccessReview {
    /// APIVersion of the object (`authorization.k8s.io/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`SelfSubjectAccessReview`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata (must be empty).
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// The action.
    pub spec: SelfSubjectAccessReviewSpec,
    /// The answer, filled in by the server.
    pub status: Option<SubjectAccessReviewStatus>,
}

crate::impl_resource!(SelfSubjectAccessReview {
    group: "authorization.k8s.io",
    version: "v1",
    kind: "SelfSubjectAccessReview",
    plural: "selfsubjectaccessreviews",
    singular: "selfsubjectaccessreview",
    short_names: [],
    categories: [],
    namespaced: false,
    verbs: crate::resource::CREATE_ONLY,
    subresources: [],
    selectable_fields: []
});

/// Asks whether a user or group may perform an action in one namespace
/// (creatable by namespace administrators).
#[wire]
pub struct LocalSubjectAccessReview {
    /// APIVersion of the object (`authorization.k8s.io/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`LocalSubjectAccessReview`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata (only `namespace` may be set).
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// The action and who performs it; `resourceAttributes.namespace` must match the namespace.
    pub spec: SubjectAccessReviewSpec,
    /// The answer, filled in by the server.
    pub status: Option<SubjectAccessReviewStatus>,
}

crate::impl_resource!(LocalSubjectAccessReview {
    group: "authorization.k8s.io",
    version: "v1",
    kind: "LocalSubjectAccessReview",
    plural: "localsubjectaccessreviews",
    singular: "localsubjectaccessreview",
    short_names: [],
    categories: [],
    namespaced: true,
    verbs: crate::resource::CREATE_ONLY,
    subresources: [],
    selectable_fields: []
});

/// Lists what the requesting user may do in a namespace.
#[wire]
pub struct SelfSubjectRulesReview {
    /// APIVersion of the object (`authorization.k8s.io/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`SelfSubjectRulesReview`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// The namespace to list rules in.
    pub spec: SelfSubjectRulesReviewSpec,
    /// The rules, filled in by the server.
    pub status: Option<SubjectRulesReviewStatus>,
}

crate::impl_resource!(SelfSubjectRulesReview {
    group: "authorization.k8s.io",
    version: "v1",
    kind: "SelfSubjectRulesReview",
    plural: "selfsubjectrulesreviews",
    singular: "selfsubjectrulesreview",
    short_names: [],
    categories: [],
    namespaced: false,
    verbs: crate::resource::CREATE_ONLY,
    subresources: [],
    selectable_fields: []
});

/// An action on a resource.
#[wire]
pub struct ResourceAttributes {
    /// Namespace of the action (`""` for cluster-scoped resources or all namespaces).
    pub namespace: Option<String>,
    /// Verb, such as `get`, `list`, `create`; `*` for all.
    pub verb: Option<String>,
    /// API group; `*` for all.
    pub group: Option<String>,
    /// API version; `*` for all.
    pub version: Option<String>,
    /// Resource, such as `pods`; `*` for all.
    pub resource: Option<String>,
    /// Subresource, such as `log`.
    pub subresource: Option<String>,
    /// Name of the object (`""` for all).
    pub name: Option<String>,
    /// Field selector restricting a list or watch.
    pub field_selector: Option<FieldSelectorAttributes>,
    /// Label selector restricting a list or watch.
    pub label_selector: Option<LabelSelectorAttributes>,
}

/// A field selector, raw or parsed.
#[wire]
pub struct FieldSelectorAttributes {
    /// The selector as in a query string, such as `spec.nodeName=node-1`.
    pub raw_selector: Option<String>,
    /// The parsed requirements.
    pub requirements: Vec<FieldSelectorRequirement>,
}

/// A field selector requirement.
#[wire(eq)]
pub struct FieldSelectorRequirement {
    /// The field, such as `spec.nodeName`.
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: String,
    /// The value (one for `In` and `NotIn`).
    pub values: Vec<String>,
}

/// A label selector, raw or parsed.
#[wire]
pub struct LabelSelectorAttributes {
    /// The selector as in a query string, such as `app=web,tier!=db`.
    pub raw_selector: Option<String>,
    /// The parsed requirements.
    pub requirements: Vec<LabelSelectorRequirement>,
}

/// An action on a non-resource URL.
#[wire(eq)]
pub struct NonResourceAttributes {
    /// URL path, such as `/healthz`.
    pub path: Option<String>,
    /// HTTP verb, lower case, such as `get`.
    pub verb: Option<String>,
}

/// What a subject access review asks about.
#[wire]
pub struct SubjectAccessReviewSpec {
    /// An action on a resource (exclusive with `nonResourceAttributes`).
    pub resource_attributes: Option<ResourceAttributes>,
    /// An action on a non-resource URL.
    pub non_resource_attributes: Option<NonResourceAttributes>,
    /// The user.
    pub user: Option<String>,
    /// The user's groups.
    pub groups: Vec<String>,
    /// Extra attributes of the user from the authenticator.
    pub extra: BTreeMap<String, Vec<String>>,
    /// UID of the user.
    pub uid: Option<String>,
}

/// What a self subject access review asks about.
#[wire]
pub struct SelfSubjectAccessReviewSpec {
    /// An action on a resource (exclusive with `nonResourceAttributes`).
    pub resource_attributes: Option<ResourceAttributes>,
    /// An action on a non-resource URL.
    pub non_resource_attributes: Option<NonResourceAttributes>,
}

/// The answer to an access review.
#[wire(eq)]
pub struct SubjectAccessReviewStatus {
    /// Whether the action is allowed.
    pub allowed: bool,
    /// Whether the action is explicitly denied (no other authorizer is asked).
    pub denied: Option<bool>,
    /// Why, in words.
    pub reason: Option<String>,
    /// An error while authorizing (the answer may still be meaningful).
    pub evaluation_error: Option<String>,
}

/// The namespace of a rules review.
#[wire(eq)]
pub struct SelfSubjectRulesReviewSpec {
    /// Namespace to list the rules of.
    pub namespace: Option<String>,
}

/// The rules a user has in a namespace.
#[wire]
pub struct SubjectRulesReviewStatus {
    /// Allowed actions on resources.
    #[wire(always)]
    pub resource_rules: Vec<ResourceRule>,
    /// Allowed actions on non-resource URLs.
    #[wire(always)]
    pub non_resource_rules: Vec<NonResourceRule>,
    /// Whether the list is incomplete (an authorizer cannot list rules).
    pub incomplete: bool,
    /// Errors while listing rules.
    pub evaluation_error: Option<String>,
}

/// Allowed actions on resources.
#[wire(eq)]
pub struct ResourceRule {
    /// Verbs; `*` for all.
    #[wire(always)]
    pub verbs: Vec<String>,
    /// API groups; `*` for all.
    pub api_groups: Vec<String>,
    /// Resources; `*` for all.
    pub resources: Vec<String>,
    /// Object names (empty: all).
    pub resource_names: Vec<String>,
}

/// Allowed actions on non-resource URLs.
#[wire(eq)]
pub struct NonResourceRule {
    /// Verbs; `*` for all.
    #[wire(always)]
    pub verbs: Vec<String>,
    /// URL paths, possibly ending in `*`.
    #[serde(rename = "nonResourceURLs")]
    pub non_resource_urls: Vec<String>,
}

macro_rules! no_defaults {
    ($($ty:ty),*) => {$(
        impl ApplyDefaults for $ty {
            fn apply_defaults(&mut self) {}
        }
    )*};
}
no_defaults!(SubjectAccessReview, SelfSubjectAccessReview, LocalSubjectAccessReview, SelfSubjectRulesReview);

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

fn validate_field_selector(sel: &FieldSelectorAttributes, path: &Path, errs: &mut ErrorList) {
    let raw = sel.raw_selector.as_deref().unwrap_or("");
    if !raw.is_empty() && !sel.requirements.is_empty() {
        errs.push(FieldError::invalid(
            &path.child("rawSelector"),
            raw,
            "may not specified at the same time as requirements",
        ));
    }
    if raw.is_empty() && sel.requirements.is_empty() {
        errs.push(FieldError::required(
            &path.child("requirements"),
            format!("when {path} is specified, requirements or rawSelector is required"),
        ));
    }
    // Unknown operators are allowed (newer clients may know more).
    for (i, r) in sel.requirements.iter().enumerate() {
        let p = path.child("requirements").index(i);
        if r.key.is_empty() {
            errs.push(FieldError::required(&p.child("key"), "must be specified"));
        }
        match r.operator.as_str() {
            "In" | "NotIn" if r.values.len() != 1 => {
                errs.push(FieldError::invalid(&p.child("values"), &r.values, "must have one element"))
            }
            "Exists" | "DoesNotExist" if !r.values.is_empty() => {
                errs.push(FieldError::forbidden(
                    &p.child("values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
            _ => {}
        }
    }
}

fn validate_label_selector_attributes(sel: &LabelSelectorAttributes, path: &Path, errs: &mut ErrorList) {
    let raw = sel.raw_selector.as_deref().unwrap_or("");
    if !raw.is_empty() && !sel.requirements.is_empty() {
        errs.push(FieldError::invalid(
            &path.child("rawSelector"),
            raw,
            "may not specified at the same time as requirements",
        ));
    }
    if raw.is_empty() && sel.requirements.is_empty() {
        errs.push(FieldError::required(
            &path.child("requirements"),
            format!("when {path} is specified, requirements or rawSelector is required"),
        ));
    }
    for (i, r) in sel.requirements.iter().enumerate() {
        let p = path.child("requirements").index(i);
        for msg in qualified_name_errors(&r.key) {
            errs.push(FieldError::invalid(&p.child("key"), &r.key, msg));
        }
        match r.operator.as_str() {
            "In" | "NotIn" if r.values.is_empty() => {
                errs.push(FieldError::required(
                    &p.child("values"),
                    "must be specified when `operator` is 'In' or 'NotIn'",
                ));
            }
            "Exists" | "DoesNotExist" if !r.values.is_empty() => {
                errs.push(FieldError::forbidden(
                    &p.child("values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
            _ => {}
        }
        for (j, v) in r.values.iter().enumerate() {
            if !is_valid_label_value(v) {
                errs.push(FieldError::invalid(&p.child("values").index(j), v, "must be a valid label value"));
            }
        }
    }
}

fn validate_attributes(
    resource: Option<&ResourceAttributes>,
    non_resource: Option<&NonResourceAttributes>,
    path: &Path,
    errs: &mut ErrorList,
) {
    match (resource, non_resource) {
        (Some(_), Some(nr)) => {
            errs.push(FieldError::invalid(
                &path.child("nonResourceAttributes"),
                nr,
                "cannot be specified in combination with resourceAttributes",
            ));
        }
        (None, None) => errs.push(FieldError::invalid(
            &path.child("resourceAttributes"),
            serde_json::Value::Null,
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )),
        _ => {}
    }
    if let Some(ra) = resource {
        let rp = path.child("resourceAttributes");
        if let Some(fs) = &ra.field_selector {
            validate_field_selector(fs, &rp.child("fieldSelector"), errs);
        }
        if let Some(ls) = &ra.label_selector {
            validate_label_selector_attributes(ls, &rp.child("labelSelector"), errs);
        }
    }
}

fn validate_sar_spec(spec: &SubjectAccessReviewSpec, path: &Path, errs: &mut ErrorList) {
    validate_attributes(spec.resource_attributes.as_ref(), spec.non_resource_attributes.as_ref(), path, errs);
    if spec.user.as_deref().is_none_or(str::is_empty) && spec.groups.is_empty() {
        errs.push(FieldError::invalid(
            &path.child("user"),
            spec.user.as_deref().unwrap_or(""),
            "at least one of user or group must be specified",
        ));
    }
}

/// Review metadata carries nothing (except the namespace of local reviews).
fn validate_empty_meta(meta: &ObjectMeta, keep_namespace: bool, errs: &mut ErrorList) {
    let mut m = meta.clone();
    m.managed_fields.clear();
    if keep_namespace {
        m.namespace.clear();
    }
    if m != ObjectMeta::default() {
        let detail = if keep_namespace { "must be empty except for namespace" } else { "must be empty" };
        errs.push(FieldError::invalid(&Path::new("metadata"), meta, detail));
    }
}

impl Validate for SubjectAccessReview {
    fn validate(&self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_sar_spec(&self.spec, &Path::new("spec"), &mut errs);
        validate_empty_meta(&self.metadata, false, &mut errs);
        errs
    }

    fn validate_update(&self, _old: &Self) -> ErrorList {
        self.validate()
    }
}

impl Validate for SelfSubjectAccessReview {
    fn validate(&self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_attributes(
            self.spec.resource_attributes.as_ref(),
            self.spec.non_resource_attributes.as_ref(),
            &Path::new("spec"),
            &mut errs,
        );
        validate_empty_meta(&self.metadata, false, &mut errs);
        errs
    }

    fn validate_update(&self, _old: &Self) -> ErrorList {
        self.validate()
    }
}

impl Validate for LocalSubjectAccessReview {
    fn validate(&self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_sar_spec(&self.spec, &Path::new("spec"), &mut errs);
        validate_empty_meta(&self.metadata, true, &mut errs);
        if let Some(ra) = &self.spec.resource_attributes {
            let ns = ra.namespace.as_deref().unwrap_or("");
            if ns != self.metadata.namespace {
                errs.push(FieldError::invalid(
                    &Path::new("spec").child("resourceAttributes").child("namespace"),
                    ns,
                    "must match metadata.namespace",
                ));
            }
        }
        if let Some(nr) = &self.spec.non_resource_attributes {
            errs.push(FieldError::invalid(
                &Path::new("spec").child("nonResourceAttributes"),
                nr,
                "disallowed on this kind of request",
            ));
        }
        errs
    }

    fn validate_update(&self, _old: &Self) -> ErrorList {
        self.validate()
    }
}

impl Validate for SelfSubjectRulesReview {
    /// The server requires a namespace to list rules in.
    fn validate(&self) -> ErrorList {
        let mut errs = ErrorList::new();
        if self.spec.namespace.as_deref().is_none_or(str::is_empty) {
            errs.push(FieldError::required(&Path::new("spec").child("namespace"), "no namespace on request"));
        }
        errs
    }

    fn validate_update(&self, _old: &Self) -> ErrorList {
        self.validate()
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
        let sar = json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "namespace": "shop", "verb": "list", "group": "apps", "version": "v1", "resource": "deployments",
                    "subresource": "scale", "name": "web",
                    "fieldSelector": {"requirements": [{"key": "metadata.name", "operator": "In", "values": ["web"]}]},
                    "labelSelector": {"rawSelector": "app=web"}
                },
                "user": "jane", "groups": ["devs", "system:authenticated"],
                "extra": {"scopes.example.com": ["read", "write"]}, "uid": "42"
            },
            "status": {"allowed": false, "denied": true, "reason": "no RBAC policy matched", "evaluationError": "webhook timeout"}
        });
        let r: SubjectAccessReview = serde_json::from_value(sar.clone()).unwrap();
        assert_eq!(serde_json::to_value(&r).unwrap(), sar);
        assert!(r.validate().is_empty(), "{:?}", r.validate());

        let rules = json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectRulesReview",
            "spec": {"namespace": "shop"},
            "status": {
                "resourceRules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["web-0"]}],
                "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz", "/version"]}],
                "incomplete": false
            }
        });
        let r: SelfSubjectRulesReview = serde_json::from_value(rules.clone()).unwrap();
        assert_eq!(serde_json::to_value(&r).unwrap(), rules);

        // A fresh self review writes the required spec and nothing else.
        let mut ssar = SelfSubjectAccessReview::default();
        ssar.spec.non_resource_attributes =
            Some(NonResourceAttributes { path: Some("/healthz".into()), verb: Some("get".into()) });
        assert_eq!(
            serde_json::to_value(&ssar).unwrap(),
            json!({"spec": {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}}})
        );
        assert!(ssar.validate().is_empty());
    }

    #[test]
    fn validation() {
        let ra = |ns: &str| ResourceAttributes {
            namespace: Some(ns.into()),
            verb: Some("get".into()),
            resource: Some("pods".into()),
            ..Default::default()
        };
        let sar = |spec: SubjectAccessReviewSpec| SubjectAccessReview { spec, ..Default::default() };
        let user = |u: &str| SubjectAccessReviewSpec {
            user: Some(u.into()),
            resource_attributes: Some(ra("")),
            ..Default::default()
        };

        assert_eq!(causes(&sar(user("jane")).validate()), expect(&[]));
        assert_eq!(
            causes(&sar(SubjectAccessReviewSpec { resource_attributes: None, ..user("jane") }).validate()),
            expect(&[("spec.resourceAttributes", "FieldValueInvalid")])
        );
        assert_eq!(
            causes(
                &sar(SubjectAccessReviewSpec {
                    non_resource_attributes: Some(NonResourceAttributes::default()),
                    ..user("jane")
                })
                .validate()
            ),
            expect(&[("spec.nonResourceAttributes", "FieldValueInvalid")])
        );
        assert_eq!(
            causes(&sar(SubjectAccessReviewSpec { user: None, ..user("") }).validate()),
            expect(&[("spec.user", "FieldValueInvalid")])
        );
        let mut named = sar(user("jane"));
        named.metadata.name = "x".into();
        assert_eq!(causes(&named.validate()), expect(&[("metadata", "FieldValueInvalid")]));

        let mut selectors = ra("");
        selectors.field_selector = Some(FieldSelectorAttributes {
            raw_selector: Some("a=b".into()),
            requirements: vec![FieldSelectorRequirement { key: "a".into(), operator: "In".into(), values: vec![] }],
        });
        selectors.label_selector = Some(LabelSelectorAttributes::default());
        assert_eq!(
            causes(&sar(SubjectAccessReviewSpec { resource_attributes: Some(selectors), ..user("jane") }).validate()),
            expect(&[
                ("spec.resourceAttributes.fieldSelector.rawSelector", "FieldValueInvalid"),
                ("spec.resourceAttributes.fieldSelector.requirements[0].values", "FieldValueInvalid"),
                ("spec.resourceAttributes.labelSelector.requirements", "FieldValueRequired"),
            ])
        );

        let local = LocalSubjectAccessReview {
            metadata: ObjectMeta { namespace: "shop".into(), ..Default::default() },
            spec: SubjectAccessReviewSpec { resource_attributes: Some(ra("other")), ..user("jane") },
            ..Default::default()
        };
        assert_eq!(causes(&local.validate()), expect(&[("spec.resourceAttributes.namespace", "FieldValueInvalid")]));
        let ok = LocalSubjectAccessReview {
            spec: SubjectAccessReviewSpec { resource_attributes: Some(ra("shop")), ..user("jane") },
            ..local
        };
        assert_eq!(causes(&ok.validate()), expect(&[]));

        assert_eq!(
            causes(&SelfSubjectAccessReview::default().validate()),
            expect(&[("spec.resourceAttributes", "FieldValueInvalid")])
        );
        assert_eq!(
            causes(&SelfSubjectRulesReview::default().validate()),
            expect(&[("spec.namespace", "FieldValueRequired")])
        );
    }
}
