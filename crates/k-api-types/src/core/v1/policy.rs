//! ResourceQuota and LimitRange.

use std::collections::BTreeSet;

use super::common::{
    is_extended_resource_name, is_standard_container_resource_name, is_standard_quota_resource_name,
    validate_resource_name, validate_resource_quantity,
};
use crate::meta::ObjectMeta;
use crate::quantity::{Quantity, ResourceList};
use crate::resource::ALL_VERBS;
use crate::validation::{
    ErrorList, FieldError, NameRule, Path, qualified_name_errors, validate_object_meta, validate_object_meta_update,
};
use crate::{ApplyDefaults, Validate, wire};

/// Limit types of a LimitRange item.
const LIMIT_TYPES: &[&str] = &["Container", "PersistentVolumeClaim", "Pod"];
/// Quota scopes.
const QUOTA_SCOPES: &[&str] = &[
    "BestEffort",
    "CrossNamespacePodAffinity",
    "NotBestEffort",
    "NotTerminating",
    "PriorityClass",
    "Terminating",
    "VolumeAttributesClass",
];

// ---------------------------------------------------------------------------
// ResourceQuota
// ---------------------------------------------------------------------------

/// Aggregate limits on resource consumption in a namespace.
#[wire]
pub struct ResourceQuota {
    /// APIVersion of the object (`v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`ResourceQuota`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// Desired quota.
    #[wire(omitempty)]
    pub spec: ResourceQuotaSpec,
    /// Enforced limits and current usage.
    pub status: Option<ResourceQuotaStatus>,
}
crate::impl_resource!(ResourceQuota {
    group: "",
    version: "v1",
    kind: "ResourceQuota",
    plural: "resourcequotas",
    singular: "resourcequota",
    short_names: ["quota"],
    categories: [],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: ["status"],
    selectable_fields: []
});
/// A list of resource quotas.
pub type ResourceQuotaList = crate::meta::ObjectList<ResourceQuota>;

/// Desired quota.
#[wire]
pub struct ResourceQuotaSpec {
    /// Hard limit per resource name (`pods`, `requests.cpu`, `count/deployments.apps`, …).
    #[wire(omitempty)]
    pub hard: ResourceList,
    /// Scopes the quota applies to (all must match).
    pub scopes: Vec<String>,
    /// Scope selector (ANDed with `scopes`).
    pub scope_selector: Option<ScopeSelector>,
}

/// A selector of quota scopes.
#[wire(eq)]
pub struct ScopeSelector {
    /// Requirements on scopes, ANDed.
    pub match_expressions: Vec<ScopedResourceSelectorRequirement>,
}

/// A requirement on a quota scope.
#[wire(eq)]
pub struct ScopedResourceSelectorRequirement {
    /// Scope name, such as `PriorityClass`.
    pub scope_name: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: String,
    /// Values for `In` and `NotIn`.
    pub values: Vec<String>,
}

/// Enforced limits and usage of a quota.
#[wire]
pub struct ResourceQuotaStatus {
    /// Enforced hard limits.
    #[wire(omitempty)]
    pub hard: ResourceList,
    /// Current usage.
    #[wire(omitempty)]
    pub used: ResourceList,
}

impl ApplyDefaults for ResourceQuota {
    /// Kubernetes has no ResourceQuota defaults.
    fn apply_defaults(&mut self) {}
}

/// Whether a quota scope may be applied to a (standard) quota resource.
fn scope_valid_for_resource(scope: &str, resource: &str) -> bool {
    const POD_COMPUTE: &[&str] =
        &["pods", "cpu", "memory", "limits.cpu", "limits.memory", "requests.cpu", "requests.memory"];
    match scope {
        "Terminating" | "NotTerminating" | "NotBestEffort" | "PriorityClass" => POD_COMPUTE.contains(&resource),
        "BestEffort" | "CrossNamespacePodAffinity" => resource == "pods",
        "VolumeAttributesClass" => matches!(resource, "persistentvolumeclaims" | "requests.storage"),
        _ => true,
    }
}

fn validate_quota_resources(list: &ResourceList, path: &Path, errors: &mut ErrorList) {
    for (k, q) in list {
        let p = path.key(k);
        let msgs = qualified_name_errors(k);
        let ok = msgs.is_empty();
        for msg in msgs {
            errors.push(FieldError::invalid(&p, k, msg));
        }
        if ok && !k.contains('/') && !is_standard_quota_resource_name(k) {
            errors.push(FieldError::invalid(&p, k, "must be a standard resource for quota"));
        }
        validate_resource_quantity(k, q, &p, errors);
    }
}

fn conflicting(scopes: &BTreeSet<&str>) -> bool {
    (scopes.contains("BestEffort") && scopes.contains("NotBestEffort"))
        || (scopes.contains("Terminating") && scopes.contains("NotTerminating"))
}

fn validate_quota_spec(spec: &ResourceQuotaSpec, errors: &mut ErrorList) {
    let path = Path::new("spec");
    validate_quota_resources(&spec.hard, &path.child("hard"), errors);
    let standard_hard: Vec<&str> =
        spec.hard.keys().map(String::as_str).filter(|k| is_standard_quota_resource_name(k)).collect();

    let scopes_path = path.child("scopes");
    let mut scope_set = BTreeSet::new();
    for scope in &spec.scopes {
        if !QUOTA_SCOPES.contains(&scope.as_str()) {
            errors.push(FieldError::invalid(&scopes_path, &spec.scopes, "unsupported scope"));
        }
        if standard_hard.iter().any(|k| !scope_valid_for_resource(scope, k)) {
            errors.push(FieldError::invalid(&scopes_path, &spec.scopes, "unsupported scope applied to resource"));
        }
        scope_set.insert(scope.as_str());
    }
    if conflicting(&scope_set) {
        errors.push(FieldError::invalid(&scopes_path, &spec.scopes, "conflicting scopes"));
    }

    let Some(sel) = &spec.scope_selector else { return };
    let exprs = path.child("scopeSelector").child("matchExpressions");
    let mut scope_set = BTreeSet::new();
    for req in &sel.match_expressions {
        if !QUOTA_SCOPES.contains(&req.scope_name.as_str()) {
            errors.push(FieldError::invalid(&exprs.child("scopeName"), &req.scope_name, "unsupported scope"));
        }
        if standard_hard.iter().any(|k| !scope_valid_for_resource(&req.scope_name, k)) {
            errors.push(FieldError::invalid(&exprs, sel, "unsupported scope applied to resource"));
        }
        if matches!(
            req.scope_name.as_str(),
            "BestEffort" | "NotBestEffort" | "Terminating" | "NotTerminating" | "CrossNamespacePodAffinity"
        ) && req.operator != "Exists"
        {
            errors.push(FieldError::invalid(
                &exprs.child("operator"),
                &req.operator,
                "must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, \
                 ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity",
            ));
        }
        match req.operator.as_str() {
            "In" | "NotIn" => {
                if req.values.is_empty() {
                    errors.push(FieldError::required(
                        &exprs.child("values"),
                        "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !req.values.is_empty() {
                    errors.push(FieldError::invalid(
                        &exprs.child("values"),
                        &req.values,
                        "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector",
                    ));
                }
            }
            other => errors.push(FieldError::invalid(&exprs.child("operator"), other, "not a valid selector operator")),
        }
        scope_set.insert(req.scope_name.as_str());
    }
    if conflicting(&scope_set) {
        errors.push(FieldError::invalid(&exprs, sel, "conflicting scopes"));
    }
}

fn validate_quota_status(status: Option<&ResourceQuotaStatus>, errors: &mut ErrorList) {
    if let Some(s) = status {
        let path = Path::new("status");
        validate_quota_resources(&s.hard, &path.child("hard"), errors);
        validate_quota_resources(&s.used, &path.child("used"), errors);
    }
}

impl Validate for ResourceQuota {
    fn validate(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta(&self.metadata, true, NameRule::Subdomain, &mut errors);
        validate_quota_spec(&self.spec, &mut errors);
        validate_quota_status(self.status.as_ref(), &mut errors);
        errors
    }

    /// Scopes are immutable.
    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Subdomain, &mut errors);
        validate_quota_spec(&self.spec, &mut errors);
        validate_quota_status(self.status.as_ref(), &mut errors);
        let new_scopes: BTreeSet<&String> = self.spec.scopes.iter().collect();
        let old_scopes: BTreeSet<&String> = old.spec.scopes.iter().collect();
        if new_scopes != old_scopes {
            errors.push(FieldError::invalid(
                &Path::new("spec").child("scopes"),
                &self.spec.scopes,
                "field is immutable",
            ));
        }
        errors
    }
}

// ---------------------------------------------------------------------------
// LimitRange
// ---------------------------------------------------------------------------

/// Per-object resource constraints and defaults in a namespace.
#[wire]
pub struct LimitRange {
    /// APIVersion of the object (`v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`LimitRange`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// The limits.
    #[wire(omitempty)]
    pub spec: LimitRangeSpec,
}
crate::impl_resource!(LimitRange {
    group: "",
    version: "v1",
    kind: "LimitRange",
    plural: "limitranges",
    singular: "limitrange",
    short_names: ["limits"],
    categories: [],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: [],
    selectable_fields: []
});
/// A list of limit ranges.
pub type LimitRangeList = crate::meta::ObjectList<LimitRange>;

/// The limits of a LimitRange.
#[wire]
pub struct LimitRangeSpec {
    /// One item per limited kind of object.
    #[wire(always)]
    pub limits: Vec<LimitRangeItem>,
}

/// Constraints on one kind of object (`Container`, `Pod`, `PersistentVolumeClaim`).
#[wire]
pub struct LimitRangeItem {
    /// `Container`, `Pod` or `PersistentVolumeClaim`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Maximum usage per resource.
    #[wire(omitempty)]
    pub max: ResourceList,
    /// Minimum usage per resource.
    #[wire(omitempty)]
    pub min: ResourceList,
    /// Default limit per resource (containers only).
    #[serde(rename = "default")]
    #[wire(omitempty)]
    pub default_: ResourceList,
    /// Default request per resource (containers only).
    #[wire(omitempty)]
    pub default_request: ResourceList,
    /// Maximum limit/request ratio per resource.
    #[wire(omitempty)]
    pub max_limit_request_ratio: ResourceList,
}

impl ApplyDefaults for LimitRange {
    /// For `Container` items: `default` ← `max`, then `defaultRequest` ←
    /// `default`, then `defaultRequest` ← `min`, per missing resource.
    fn apply_defaults(&mut self) {
        for item in &mut self.spec.limits {
            if item.type_ != "Container" {
                continue;
            }
            for (k, v) in &item.max {
                item.default_.entry(k.clone()).or_insert_with(|| v.clone());
            }
            for (k, v) in &item.default_ {
                item.default_request.entry(k.clone()).or_insert_with(|| v.clone());
            }
            for (k, v) in &item.min {
                item.default_request.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
}

/// Whether a resource may be overcommitted (requests below limits):
/// native resources other than huge pages.
fn is_overcommit_allowed(name: &str) -> bool {
    let native = !name.contains('/') || name.contains("kubernetes.io/");
    native && !name.starts_with("hugepages-")
}

fn validate_limit_resource_name(limit_type: &str, name: &str, path: &Path, errors: &mut ErrorList) {
    validate_resource_name(name, path, errors);
    if limit_type == "Container" || limit_type == "Pod" {
        if !name.contains('/') {
            if !is_standard_container_resource_name(name) {
                errors.push(FieldError::invalid(path, name, "must be a standard resource for containers"));
            }
        } else if !name.contains("kubernetes.io/") && !is_extended_resource_name(name) {
            errors.push(FieldError::invalid(path, name, "doesn't follow extended resource name standard"));
        }
    }
}

fn validate_limit_range_spec(spec: &LimitRangeSpec, errors: &mut ErrorList) {
    let path = Path::new("spec").child("limits");
    let mut types = BTreeSet::new();
    for (i, item) in spec.limits.iter().enumerate() {
        let ip = path.index(i);
        let tp = ip.child("type");
        let t = item.type_.as_str();
        let msgs = qualified_name_errors(t);
        let ok = msgs.is_empty();
        for msg in msgs {
            errors.push(FieldError::invalid(&tp, t, msg));
        }
        if ok && !t.contains('/') && !LIMIT_TYPES.contains(&t) {
            errors.push(FieldError::invalid(&tp, t, "must be a standard limit type or fully qualified"));
        }
        if !types.insert(t) {
            errors.push(FieldError::duplicate(&tp, t));
        }

        let mut keys = BTreeSet::new();
        for (field, list) in [
            ("max", &item.max),
            ("min", &item.min),
            ("default", &item.default_),
            ("defaultRequest", &item.default_request),
            ("maxLimitRequestRatio", &item.max_limit_request_ratio),
        ] {
            if t == "Pod" && matches!(field, "default" | "defaultRequest") {
                if !list.is_empty() {
                    errors.push(FieldError::forbidden(&ip.child(field), "may not be specified when `type` is 'Pod'"));
                }
                continue;
            }
            for k in list.keys() {
                validate_limit_resource_name(t, k, &ip.child(field).key(k), errors);
                keys.insert(k.as_str());
            }
        }
        if t == "PersistentVolumeClaim" && !item.min.contains_key("storage") && !item.max.contains_key("storage") {
            errors.push(FieldError::required(
                &ip.child("limits"),
                "either minimum or maximum storage value is required, but neither was provided",
            ));
        }

        let pod = t == "Pod";
        for k in keys {
            let min = item.min.get(k);
            let max = item.max.get(k);
            let def = if pod { None } else { item.default_.get(k) };
            let def_req = if pod { None } else { item.default_request.get(k) };
            let ratio = item.max_limit_request_ratio.get(k);
            let mut check = |cond: bool, field: &str, value: &Quantity, msg: String| {
                if cond {
                    errors.push(FieldError::invalid(&ip.child(field).key(k), value.to_string(), msg));
                }
            };
            if let (Some(mn), Some(mx)) = (min, max) {
                check(mn > mx, "min", mn, format!("min value {mn} is greater than max value {mx}"));
            }
            if let (Some(dr), Some(mn)) = (def_req, min) {
                check(
                    mn > dr,
                    "defaultRequest",
                    dr,
                    format!("min value {mn} is greater than default request value {dr}"),
                );
            }
            if let (Some(dr), Some(mx)) = (def_req, max) {
                check(
                    dr > mx,
                    "defaultRequest",
                    dr,
                    format!("default request value {dr} is greater than max value {mx}"),
                );
            }
            if let (Some(dr), Some(d)) = (def_req, def) {
                check(
                    dr > d,
                    "defaultRequest",
                    dr,
                    format!("default request value {dr} is greater than default limit value {d}"),
                );
            }
            if let (Some(d), Some(mn)) = (def, min) {
                check(mn > d, "default", d, format!("min value {mn} is greater than default value {d}"));
            }
            if let (Some(d), Some(mx)) = (def, max) {
                check(d > mx, "default", d, format!("default value {d} is greater than max value {mx}"));
            }
            if let Some(r) = ratio {
                let one = Quantity::from_milli(1000);
                check(r < &one, "maxLimitRequestRatio", r, format!("ratio {r} is less than 1"));
                if let (Some(mn), Some(mx)) = (min, max)
                    && !mn.is_zero()
                {
                    let limit = mx.as_f64() / mn.as_f64();
                    check(
                        r.as_f64() > limit,
                        "maxLimitRequestRatio",
                        r,
                        format!("ratio {r} is greater than max/min = {limit:.6}"),
                    );
                }
            }
            if let (Some(d), Some(dr)) = (def, def_req) {
                check(
                    !is_overcommit_allowed(k) && d != dr,
                    "defaultRequest",
                    dr,
                    format!("default value {d} must equal to defaultRequest value {dr} in {k}"),
                );
            }
        }
    }
}

impl Validate for LimitRange {
    fn validate(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta(&self.metadata, true, NameRule::Subdomain, &mut errors);
        validate_limit_range_spec(&self.spec, &mut errors);
        errors
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Subdomain, &mut errors);
        validate_limit_range_spec(&self.spec, &mut errors);
        errors
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::{causes, expect};
    use super::*;

    fn q(s: &str) -> Quantity {
        s.parse().unwrap()
    }

    fn quota() -> ResourceQuota {
        serde_json::from_value(json!({
            "metadata": {"name": "compute", "namespace": "work"},
            "spec": {"hard": {"pods": "10", "requests.cpu": "4", "limits.memory": "8Gi", "count/deployments.apps": "5", "requests.nvidia.com/gpu": "2"}}
        }))
        .unwrap()
    }

    fn limits() -> LimitRange {
        serde_json::from_value(json!({
            "metadata": {"name": "defaults", "namespace": "work"},
            "spec": {"limits": [
                {"type": "Container", "max": {"cpu": "2", "memory": "1Gi"}, "min": {"cpu": "100m"}, "default": {"cpu": "500m"},
                 "defaultRequest": {"cpu": "200m"}, "maxLimitRequestRatio": {"cpu": "10"}},
                {"type": "Pod", "max": {"cpu": "4"}},
                {"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "10Gi"}}
            ]}
        }))
        .unwrap()
    }

    #[test]
    fn round_trips() {
        let v = json!({
            "apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": "compute", "namespace": "work"},
            "spec": {
                "hard": {"pods": "10", "requests.cpu": "4", "requests.memory": "8Gi"},
                "scopes": ["NotBestEffort"],
                "scopeSelector": {"matchExpressions": [{"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}
            },
            "status": {"hard": {"pods": "10"}, "used": {"pods": "3", "requests.cpu": "1500m"}}
        });
        let rq: ResourceQuota = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&rq).unwrap(), v);
        assert!(rq.validate().is_empty(), "{:?}", rq.validate());

        let v = json!({
            "apiVersion": "v1", "kind": "LimitRange",
            "metadata": {"name": "defaults", "namespace": "work"},
            "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"cpu": "100m"}, "default": {"cpu": "500m"},
                                 "defaultRequest": {"cpu": "200m"}, "maxLimitRequestRatio": {"cpu": "10"}}]}
        });
        let lr: LimitRange = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&lr).unwrap(), v);
        // `limits` is always written.
        assert_eq!(serde_json::to_value(LimitRangeSpec::default()).unwrap(), json!({"limits": []}));
    }

    #[test]
    fn resource_info() {
        use crate::Resource;
        assert_eq!(ResourceQuota::INFO.short_names, ["quota"]);
        assert_eq!(ResourceQuota::INFO.subresources, ["status"]);
        assert_eq!(LimitRange::INFO.short_names, ["limits"]);
        assert_eq!(LimitRange::INFO.plural, "limitranges");
    }

    #[test]
    fn limit_range_defaults() {
        let cases = [
            // max → default → defaultRequest.
            (
                json!({"type": "Container", "max": {"cpu": "2"}}),
                json!({"type": "Container", "max": {"cpu": "2"}, "default": {"cpu": "2"}, "defaultRequest": {"cpu": "2"}}),
            ),
            // default → defaultRequest; min only fills what is still missing.
            (
                json!({"type": "Container", "min": {"cpu": "100m", "memory": "64Mi"}, "default": {"cpu": "500m"}}),
                json!({"type": "Container", "min": {"cpu": "100m", "memory": "64Mi"}, "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "500m", "memory": "64Mi"}}),
            ),
            // Present values are kept.
            (
                json!({"type": "Container", "max": {"cpu": "2"}, "default": {"cpu": "1"}, "defaultRequest": {"cpu": "250m"}}),
                json!({"type": "Container", "max": {"cpu": "2"}, "default": {"cpu": "1"}, "defaultRequest": {"cpu": "250m"}}),
            ),
            // Only containers get defaults.
            (json!({"type": "Pod", "max": {"cpu": "2"}}), json!({"type": "Pod", "max": {"cpu": "2"}})),
            (
                json!({"type": "PersistentVolumeClaim", "max": {"storage": "1Gi"}}),
                json!({"type": "PersistentVolumeClaim", "max": {"storage": "1Gi"}}),
            ),
        ];
        for (input, want) in cases {
            let mut lr = LimitRange {
                spec: LimitRangeSpec { limits: vec![serde_json::from_value(input.clone()).unwrap()] },
                ..Default::default()
            };
            lr.apply_defaults();
            assert_eq!(serde_json::to_value(&lr.spec.limits[0]).unwrap(), want, "{input}");
        }
        let mut rq = quota();
        rq.apply_defaults();
        assert_eq!(rq, quota());
    }

    #[test]
    fn quota_validation() {
        type Case = (&'static str, fn(&mut ResourceQuota), &'static [(&'static str, &'static str)]);
        let cases: &[Case] = &[
            ("valid", |_| {}, &[]),
            (
                "unknown resource",
                |r| {
                    r.spec.hard.insert("widgets".into(), q("1"));
                },
                &[("spec.hard[widgets]", "FieldValueInvalid")],
            ),
            (
                "negative",
                |r| {
                    r.spec.hard.insert("requests.cpu".into(), q("-1"));
                },
                &[("spec.hard[requests.cpu]", "FieldValueInvalid")],
            ),
            (
                "fractional count",
                |r| {
                    r.spec.hard.insert("pods".into(), q("1500m"));
                },
                &[("spec.hard[pods]", "FieldValueInvalid")],
            ),
            ("bad scope", |r| r.spec.scopes = vec!["Everything".into()], &[("spec.scopes", "FieldValueInvalid")]),
            (
                "scope not valid for resource",
                |r| r.spec.scopes = vec!["BestEffort".into()],
                &[("spec.scopes", "FieldValueInvalid")],
            ),
            (
                "conflicting scopes",
                |r| {
                    r.spec.hard.retain(|k, _| k == "pods");
                    r.spec.scopes = vec!["Terminating".into(), "NotTerminating".into()];
                },
                &[("spec.scopes", "FieldValueInvalid")],
            ),
            (
                "selector In without values",
                |r| {
                    r.spec.scope_selector = Some(ScopeSelector {
                        match_expressions: vec![ScopedResourceSelectorRequirement {
                            scope_name: "PriorityClass".into(),
                            operator: "In".into(),
                            values: vec![],
                        }],
                    });
                },
                &[("spec.scopeSelector.matchExpressions.values", "FieldValueRequired")],
            ),
            (
                "selector bad operator",
                |r| {
                    r.spec.hard.retain(|k, _| k == "pods");
                    r.spec.scope_selector = Some(ScopeSelector {
                        match_expressions: vec![ScopedResourceSelectorRequirement {
                            scope_name: "Terminating".into(),
                            operator: "In".into(),
                            values: vec!["x".into()],
                        }],
                    });
                },
                &[("spec.scopeSelector.matchExpressions.operator", "FieldValueInvalid")],
            ),
            (
                "negative used",
                |r| {
                    r.status = Some(ResourceQuotaStatus {
                        used: ResourceList::from([("pods".into(), q("-1"))]),
                        ..Default::default()
                    });
                },
                &[("status.used[pods]", "FieldValueInvalid")],
            ),
        ];
        for (name, mutate, want) in cases {
            let mut r = quota();
            mutate(&mut r);
            assert_eq!(causes(&r.validate()), expect(want), "{name}");
        }
        let mut old = quota();
        old.spec.hard.retain(|k, _| k == "pods");
        old.spec.scopes = vec!["Terminating".into()];
        let mut raised = old.clone();
        raised.spec.hard.insert("pods".into(), q("20"));
        assert!(raised.validate_update(&old).is_empty());
        let mut rescoped = old.clone();
        rescoped.spec.scopes = vec!["NotTerminating".into()];
        assert_eq!(causes(&rescoped.validate_update(&old)), expect(&[("spec.scopes", "FieldValueInvalid")]));
    }

    #[test]
    fn limit_range_validation() {
        type Case = (&'static str, fn(&mut LimitRange), &'static [(&'static str, &'static str)]);
        let cases: &[Case] = &[
            ("valid", |_| {}, &[]),
            (
                "bad type",
                |l| l.spec.limits[0].type_ = "Deployment".into(),
                &[("spec.limits[0].type", "FieldValueInvalid")],
            ),
            (
                "duplicate type",
                |l| l.spec.limits[1].type_ = "Container".into(),
                &[("spec.limits[1].type", "FieldValueDuplicate")],
            ),
            (
                "min above max",
                |l| {
                    l.spec.limits[0].min.insert("cpu".into(), q("3"));
                },
                &[
                    ("spec.limits[0].min[cpu]", "FieldValueInvalid"),
                    ("spec.limits[0].defaultRequest[cpu]", "FieldValueInvalid"),
                    ("spec.limits[0].default[cpu]", "FieldValueInvalid"),
                    ("spec.limits[0].maxLimitRequestRatio[cpu]", "FieldValueInvalid"),
                ],
            ),
            (
                "default above max",
                |l| {
                    l.spec.limits[0].default_.insert("cpu".into(), q("3"));
                },
                &[("spec.limits[0].default[cpu]", "FieldValueInvalid")],
            ),
            (
                "defaultRequest above default",
                |l| {
                    l.spec.limits[0].default_request.insert("cpu".into(), q("600m"));
                },
                &[("spec.limits[0].defaultRequest[cpu]", "FieldValueInvalid")],
            ),
            (
                "ratio below one",
                |l| {
                    l.spec.limits[0].max_limit_request_ratio.insert("cpu".into(), q("500m"));
                },
                &[("spec.limits[0].maxLimitRequestRatio[cpu]", "FieldValueInvalid")],
            ),
            (
                "ratio above max/min",
                |l| {
                    l.spec.limits[0].max_limit_request_ratio.insert("cpu".into(), q("30"));
                },
                &[("spec.limits[0].maxLimitRequestRatio[cpu]", "FieldValueInvalid")],
            ),
            (
                "pod default",
                |l| {
                    l.spec.limits[1].default_.insert("cpu".into(), q("1"));
                },
                &[("spec.limits[1].default", "FieldValueForbidden")],
            ),
            (
                "pvc without storage",
                |l| {
                    l.spec.limits[2].min.clear();
                    l.spec.limits[2].max.clear();
                },
                &[("spec.limits[2].limits", "FieldValueRequired")],
            ),
            (
                "non-container resource",
                |l| {
                    l.spec.limits[0].max.insert("pods".into(), q("1"));
                },
                &[("spec.limits[0].max[pods]", "FieldValueInvalid")],
            ),
            (
                "hugepages must not overcommit",
                |l| {
                    l.spec.limits[0].default_.insert("hugepages-2Mi".into(), q("1Mi"));
                    l.spec.limits[0].default_request.insert("hugepages-2Mi".into(), q("512Ki"));
                },
                &[("spec.limits[0].defaultRequest[hugepages-2Mi]", "FieldValueInvalid")],
            ),
        ];
        for (name, mutate, want) in cases {
            let mut l = limits();
            mutate(&mut l);
            assert_eq!(causes(&l.validate()), expect(want), "{name}");
        }
        let mut l = limits();
        l.spec.limits[0].default_.insert("cpu".into(), q("3"));
        assert_eq!(
            l.validate()[0].to_string(),
            "spec.limits[0].default[cpu]: Invalid value: \"3\": default value 3 is greater than max value 2"
        );
    }
}
