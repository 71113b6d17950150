//! `admissionregistration.k8s.io/v1`: [`MutatingWebhookConfiguration`] and
//! [`ValidatingWebhookConfiguration`], which tell the API server which
//! HTTPS endpoints to call (with an `AdmissionReview`) for which writes.

use crate::defaults::{default_str, default_to};
use crate::meta::{LabelSelector, ObjectMeta};
use crate::validation::{
    ErrorList, FieldError, NameRule, Path, Validate, validate_label_selector, validate_object_meta,
    validate_object_meta_update,
};
use crate::{ApplyDefaults, ByteString, wire};

/// Which writes a webhook is called for.
#[wire(eq)]
pub struct RuleWithOperations {
    /// `CREATE`, `UPDATE`, `DELETE`, `CONNECT` or `*`.
    pub operations: Vec<String>,
    /// API groups (`""` is the core group, `*` all).
    pub api_groups: Vec<String>,
    /// API versions (`*` all).
    pub api_versions: Vec<String>,
    /// Resources, such as `pods` or `pods/status`; `*` and `*/*` for all.
    pub resources: Vec<String>,
    /// `Cluster`, `Namespaced` or `*` (default).
    pub scope: Option<String>,
}

/// A service that serves a webhook.
#[wire(eq)]
pub struct ServiceReference {
    /// The service's namespace.
    #[wire(always)]
    pub namespace: String,
    /// The service's name.
    #[wire(always)]
    pub name: String,
    /// URL path to call.
    pub path: Option<String>,
    /// Port (default 443).
    pub port: Option<i32>,
}

/// How to reach a webhook: a URL, or a service.
#[wire(eq)]
pub struct WebhookClientConfig {
    /// `https://host:port/path`.
    pub url: Option<String>,
    /// A service in the cluster.
    pub service: Option<ServiceReference>,
    /// PEM CA certificates that sign the webhook's serving certificate.
    pub ca_bundle: Option<ByteString>,
}

/// A CEL condition on the request (accepted and stored; k does not evaluate
/// CEL, so a webhook with conditions is called for every matching write).
#[wire(eq)]
pub struct MatchCondition {
    /// Name of the condition.
    #[wire(always)]
    pub name: String,
    /// CEL expression.
    #[wire(always)]
    pub expression: String,
}

/// One mutating webhook.
#[wire]
pub struct MutatingWebhook {
    /// Fully qualified name (`pod-defaults.example.com`).
    #[wire(always)]
    pub name: String,
    /// Where to call it.
    #[wire(always)]
    pub client_config: WebhookClientConfig,
    /// Which writes it is called for.
    pub rules: Vec<RuleWithOperations>,
    /// `Fail` (default: a failed call refuses the write) or `Ignore`.
    pub failure_policy: Option<String>,
    /// `Equivalent` (default) or `Exact`.
    pub match_policy: Option<String>,
    /// Namespaces it applies in (default: all).
    pub namespace_selector: Option<LabelSelector>,
    /// Objects it applies to, by label (default: all).
    pub object_selector: Option<LabelSelector>,
    /// `None` or `NoneOnDryRun` (required).
    pub side_effects: Option<String>,
    /// Seconds to wait (1–30, default 10).
    pub timeout_seconds: Option<i32>,
    /// AdmissionReview versions it understands, in order of preference.
    pub admission_review_versions: Vec<String>,
    /// `Never` (default) or `IfNeeded`.
    pub reinvocation_policy: Option<String>,
    /// CEL conditions (see [`MatchCondition`]).
    pub match_conditions: Vec<MatchCondition>,
}

/// One validating webhook.
#[wire]
pub struct ValidatingWebhook {
    /// Fully qualified name (`policy.example.com`).
    #[wire(always)]
    pub name: String,
    /// Where to call it.
    #[wire(always)]
    pub client_config: WebhookClientConfig,
    /// Which writes it is called for.
    pub rules: Vec<RuleWithOperations>,
    /// `Fail` (default) or `Ignore`.
    pub failure_policy: Option<String>,
    /// `Equivalent` (default) or `Exact`.
    pub match_policy: Option<String>,
    /// Namespaces it applies in (default: all).
    pub namespace_selector: Option<LabelSelector>,
    /// Objects it applies to, by label (default: all).
    pub object_selector: Option<LabelSelector>,
    /// `None` or `NoneOnDryRun` (required).
    pub side_effects: Option<String>,
    /// Seconds to wait (1–30, default 10).
    pub timeout_seconds: Option<i32>,
    /// AdmissionReview versions it understands, in order of preference.
    pub admission_review_versions: Vec<String>,
    /// CEL conditions (see [`MatchCondition`]).
    pub match_conditions: Vec<MatchCondition>,
}

/// Webhooks that may change objects before they are stored.
#[wire]
pub struct MutatingWebhookConfiguration {
    /// APIVersion of the object (`admissionregistration.k8s.io/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`MutatingWebhookConfiguration`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// The webhooks.
    pub webhooks: Vec<MutatingWebhook>,
}

crate::impl_resource!(MutatingWebhookConfiguration {
    group: "admissionregistration.k8s.io",
    version: "v1",
    kind: "MutatingWebhookConfiguration",
    plural: "mutatingwebhookconfigurations",
    singular: "mutatingwebhookconfiguration",
    short_names: [],
    categories: ["api-extensions"],
    namespaced: false,
    verbs: crate::resource::ALL_VERBS,
    subresources: [],
    selectable_fields: []
});

/// A list of mutating webhook configurations.
pub type MutatingWebhookConfigurationList = crate::meta::ObjectList<MutatingWebhookConfiguration>;

/// Webhooks that may refuse writes.
#[wire]
pub struct ValidatingWebhookConfiguration {
    /// APIVersion of the object (`admissionregistration.k8s.io/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`ValidatingWebhookConfiguration`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// The webhooks.
    pub webhooks: Vec<ValidatingWebhook>,
}

crate::impl_resource!(ValidatingWebhookConfiguration {
    group: "admissionregistration.k8s.io",
    version: "v1",
    kind: "ValidatingWebhookConfiguration",
    plural: "validatingwebhookconfigurations",
    singular: "validatingwebhookconfiguration",
    short_names: [],
    categories: ["api-extensions"],
    namespaced: false,
    verbs: crate::resource::ALL_VERBS,
    subresources: [],
    selectable_fields: []
});

/// A list of validating webhook configurations.
pub type ValidatingWebhookConfigurationList = crate::meta::ObjectList<ValidatingWebhookConfiguration>;

fn default_rule(rule: &mut RuleWithOperations) {
    default_str(&mut rule.scope, "*");
}

fn default_client(config: &mut WebhookClientConfig) {
    if let Some(service) = &mut config.service {
        default_to(&mut service.port, 443);
    }
}

fn default_selector(selector: &mut Option<LabelSelector>) {
    if selector.is_none() {
        *selector = Some(LabelSelector::default());
    }
}

impl ApplyDefaults for MutatingWebhookConfiguration {
    fn apply_defaults(&mut self) {
        for hook in &mut self.webhooks {
            default_str(&mut hook.failure_policy, "Fail");
            default_str(&mut hook.match_policy, "Equivalent");
            default_str(&mut hook.reinvocation_policy, "Never");
            default_to(&mut hook.timeout_seconds, 10);
            default_selector(&mut hook.namespace_selector);
            default_selector(&mut hook.object_selector);
            hook.rules.iter_mut().for_each(default_rule);
            default_client(&mut hook.client_config);
        }
    }
}

impl ApplyDefaults for ValidatingWebhookConfiguration {
    fn apply_defaults(&mut self) {
        for hook in &mut self.webhooks {
            default_str(&mut hook.failure_policy, "Fail");
            default_str(&mut hook.match_policy, "Equivalent");
            default_to(&mut hook.timeout_seconds, 10);
            default_selector(&mut hook.namespace_selector);
            default_selector(&mut hook.object_selector);
            hook.rules.iter_mut().for_each(default_rule);
            default_client(&mut hook.client_config);
        }
    }
}

/// What both kinds of webhook share, for validation.
struct Common<'a> {
    name: &'a str,
    client: &'a WebhookClientConfig,
    rules: &'a [RuleWithOperations],
    failure_policy: Option<&'a str>,
    side_effects: Option<&'a str>,
    timeout: Option<i32>,
    versions: &'a [String],
    selectors: [Option<&'a LabelSelector>; 2],
}

fn validate_webhook(hook: &Common<'_>, path: &Path, seen: &mut Vec<String>, errs: &mut ErrorList) {
    let name_path = path.child("name");
    if hook.name.split('.').filter(|p| !p.is_empty()).count() < 3 {
        errs.push(FieldError::invalid(
            &name_path,
            hook.name,
            "should be a domain with at least three segments separated by dots",
        ));
    } else if seen.iter().any(|n| n == hook.name) {
        errs.push(FieldError::duplicate(&name_path, hook.name));
    }
    seen.push(hook.name.to_owned());
    let client = path.child("clientConfig");
    match (&hook.client.url, &hook.client.service) {
        (Some(_), Some(_)) | (None, None) => {
            errs.push(FieldError::required(&client, "exactly one of url or service is required"));
        }
        (Some(url), None) if !url.starts_with("https://") => {
            errs.push(FieldError::invalid(&client.child("url"), url, "'https' is the only allowed URL scheme"));
        }
        (None, Some(service)) => {
            if service.name.is_empty() {
                errs.push(FieldError::required(&client.child("service").child("name"), "service name is required"));
            }
            if service.namespace.is_empty() {
                errs.push(FieldError::required(
                    &client.child("service").child("namespace"),
                    "service namespace is required",
                ));
            }
        }
        _ => {}
    }
    for (i, rule) in hook.rules.iter().enumerate() {
        let at = path.child("rules").index(i);
        for op in &rule.operations {
            if !matches!(op.as_str(), "CREATE" | "UPDATE" | "DELETE" | "CONNECT" | "*") {
                errs.push(FieldError::not_supported(
                    &at.child("operations"),
                    op,
                    &["*", "CONNECT", "CREATE", "DELETE", "UPDATE"],
                ));
            }
        }
        if rule.api_versions.is_empty() {
            errs.push(FieldError::required(&at.child("apiVersions"), "at least one API version is required"));
        }
        if rule.resources.is_empty() {
            errs.push(FieldError::required(&at.child("resources"), "at least one resource is required"));
        }
        if let Some(scope) = rule.scope.as_deref()
            && !matches!(scope, "*" | "Cluster" | "Namespaced")
        {
            errs.push(FieldError::not_supported(&at.child("scope"), scope, &["*", "Cluster", "Namespaced"]));
        }
    }
    if let Some(policy) = hook.failure_policy
        && !matches!(policy, "Fail" | "Ignore")
    {
        errs.push(FieldError::not_supported(&path.child("failurePolicy"), policy, &["Fail", "Ignore"]));
    }
    match hook.side_effects {
        None => errs.push(FieldError::required(&path.child("sideEffects"), "must specify one of None, NoneOnDryRun")),
        Some("None" | "NoneOnDryRun") => {}
        Some(other) => {
            errs.push(FieldError::not_supported(&path.child("sideEffects"), other, &["None", "NoneOnDryRun"]))
        }
    }
    if let Some(timeout) = hook.timeout
        && !(1..=30).contains(&timeout)
    {
        errs.push(FieldError::invalid(
            &path.child("timeoutSeconds"),
            timeout.to_string(),
            "the timeout value must be between 1 and 30 seconds",
        ));
    }
    let versions = path.child("admissionReviewVersions");
    if hook.versions.is_empty() {
        errs.push(FieldError::required(&versions, "must specify one of v1, v1beta1"));
    } else if !hook.versions.iter().any(|v| v == "v1" || v == "v1beta1") {
        errs.push(FieldError::invalid(&versions, hook.versions.join(","), "must include at least one of v1, v1beta1"));
    }
    for (selector, field) in hook.selectors.iter().zip(["namespaceSelector", "objectSelector"]) {
        if let Some(selector) = selector {
            validate_label_selector(selector, &path.child(field), errs);
        }
    }
}

impl Validate for MutatingWebhookConfiguration {
    fn validate(&self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta(&self.metadata, false, NameRule::Subdomain, &mut errs);
        let mut seen = Vec::new();
        for (i, hook) in self.webhooks.iter().enumerate() {
            let common = Common {
                name: &hook.name,
                client: &hook.client_config,
                rules: &hook.rules,
                failure_policy: hook.failure_policy.as_deref(),
                side_effects: hook.side_effects.as_deref(),
                timeout: hook.timeout_seconds,
                versions: &hook.admission_review_versions,
                selectors: [hook.namespace_selector.as_ref(), hook.object_selector.as_ref()],
            };
            validate_webhook(&common, &Path::new("webhooks").index(i), &mut seen, &mut errs);
            if let Some(policy) = hook.reinvocation_policy.as_deref()
                && !matches!(policy, "Never" | "IfNeeded")
            {
                errs.push(FieldError::not_supported(
                    &Path::new("webhooks").index(i).child("reinvocationPolicy"),
                    policy,
                    &["IfNeeded", "Never"],
                ));
            }
        }
        errs
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errs = self.validate();
        validate_object_meta_update(&self.metadata, &old.metadata, false, NameRule::Subdomain, &mut errs);
        errs
    }
}

impl Validate for ValidatingWebhookConfiguration {
    fn validate(&self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta(&self.metadata, false, NameRule::Subdomain, &mut errs);
        let mut seen = Vec::new();
        for (i, hook) in self.webhooks.iter().enumerate() {
            let common = Common {
                name: &hook.name,
                client: &hook.client_config,
                rules: &hook.rules,
                failure_policy: hook.failure_policy.as_deref(),
                side_effects: hook.side_effects.as_deref(),
                timeout: hook.timeout_seconds,
                versions: &hook.admission_review_versions,
                selectors: [hook.namespace_selector.as_ref(), hook.object_selector.as_ref()],
            };
            validate_webhook(&common, &Path::new("webhooks").index(i), &mut seen, &mut errs);
        }
        errs
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errs = self.validate();
        validate_object_meta_update(&self.metadata, &old.metadata, false, NameRule::Subdomain, &mut errs);
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_defaults_and_validation() {
        let value = json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "pod-defaults"},
            "webhooks": [{
                "name": "pod-defaults.example.com",
                "clientConfig": {"url": "https://127.0.0.1:9443/mutate", "caBundle": "Y2E="},
                "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"]
            }]
        });
        let mut config: MutatingWebhookConfiguration = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&config).unwrap(), value);
        assert!(config.validate().is_empty(), "{:?}", config.validate());
        config.apply_defaults();
        let hook = &config.webhooks[0];
        assert_eq!(hook.failure_policy.as_deref(), Some("Fail"));
        assert_eq!(hook.timeout_seconds, Some(10));
        assert_eq!(hook.rules[0].scope.as_deref(), Some("*"));
        assert_eq!(hook.namespace_selector, Some(LabelSelector::default()));

        let mut bad = config.clone();
        bad.webhooks[0].name = "short".into();
        bad.webhooks[0].client_config.url = Some("http://insecure".into());
        bad.webhooks[0].side_effects = Some("Some".into());
        bad.webhooks[0].timeout_seconds = Some(31);
        let fields: Vec<String> = bad.validate().iter().map(|e| e.field.clone()).collect();
        assert_eq!(
            fields,
            [
                "webhooks[0].name",
                "webhooks[0].clientConfig.url",
                "webhooks[0].sideEffects",
                "webhooks[0].timeoutSeconds"
            ]
        );
    }
}
