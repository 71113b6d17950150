//! Admission webhooks: `MutatingAdmissionWebhook` and
//! `ValidatingAdmissionWebhook` call the HTTPS endpoints that
//! MutatingWebhookConfigurations and ValidatingWebhookConfigurations name,
//! with an `admission.k8s.io/v1` AdmissionReview, for the writes their rules
//! match.
//!
//! - **Matching**: operations, API groups, versions, resources (with
//!   `resource/subresource`, `*` and `*/*`), scope, the namespace selector
//!   (on the namespace's labels) and the object selector (on the new or old
//!   object's labels). Writes to the webhook configurations themselves are
//!   never sent to webhooks, so a broken webhook cannot lock itself in.
//! - **Calls**: HTTPS POST to `clientConfig.url`, trusting
//!   `clientConfig.caBundle`, within `timeoutSeconds`. Service references
//!   need in-cluster service routing, which k does not have yet (the
//!   service-proxy issue): calling one fails, and `failurePolicy` decides.
//! - **Answers**: a refusal is answered with the webhook's code and
//!   `admission webhook "<name>" denied the request: <message>`; a mutating
//!   webhook's `JSONPatch` is applied to the object; a call that fails (no
//!   connection, timeout, a malformed answer) refuses the write under
//!   `failurePolicy: Fail` and is logged and skipped under `Ignore`.
//!   Mutating webhooks run in the mutating phase, in the order of their
//!   configurations' names; validating ones after every mutation.
//!
//! Configurations are listed from the store on each write (CEL
//! `matchConditions` are stored but not evaluated).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use k_api_types::admission::v1 as review;
use k_api_types::admissionregistration::v1::{
    MutatingWebhookConfiguration, RuleWithOperations, ValidatingWebhookConfiguration, WebhookClientConfig,
};
use k_api_types::meta::LabelSelector;
use k_api_types::{GroupVersionResource, Object};
use k_store::admission::AdmissionRequest;
use k_store::api::{ListOptions, Operation};
use k_store::{ObjectApi, StoreError};
use serde_json::Value;

use super::AdmissionPlugin;
use crate::tls::rustls;

/// One webhook, whichever kind.
#[derive(Clone, Debug)]
struct Hook {
    name: String,
    client: WebhookClientConfig,
    rules: Vec<RuleWithOperations>,
    ignore_failures: bool,
    namespace_selector: Option<LabelSelector>,
    object_selector: Option<LabelSelector>,
    timeout: Duration,
    /// `sideEffects` is `None` or `NoneOnDryRun`.
    dry_run_safe: bool,
}

/// The webhooks of one kind of configuration; see the [module docs](self).
#[derive(Debug)]
pub struct Webhooks {
    api: Arc<dyn ObjectApi>,
    mutating: bool,
}

impl Webhooks {
    /// `MutatingAdmissionWebhook`.
    pub fn mutating(api: Arc<dyn ObjectApi>) -> Self {
        Self { api, mutating: true }
    }

    /// `ValidatingAdmissionWebhook`.
    pub fn validating(api: Arc<dyn ObjectApi>) -> Self {
        Self { api, mutating: false }
    }

    async fn hooks(&self) -> k_store::Result<Vec<Hook>> {
        let plural = if self.mutating { "mutatingwebhookconfigurations" } else { "validatingwebhookconfigurations" };
        let gvr = GroupVersionResource::new("admissionregistration.k8s.io", "v1", plural);
        let mut page = self.api.list(&gvr, None, &ListOptions::default()).await?.items;
        page.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        // Both kinds of webhook carry the same fields this needs.
        macro_rules! hook {
            ($w:expr) => {{
                let w = $w;
                let timeout = u64::try_from(w.timeout_seconds.unwrap_or(10)).unwrap_or(10).clamp(1, 30);
                Hook {
                    name: w.name,
                    client: w.client_config,
                    rules: w.rules,
                    ignore_failures: w.failure_policy.as_deref() == Some("Ignore"),
                    namespace_selector: w.namespace_selector,
                    object_selector: w.object_selector,
                    timeout: Duration::from_secs(timeout),
                    dry_run_safe: matches!(w.side_effects.as_deref(), Some("None" | "NoneOnDryRun")),
                }
            }};
        }
        let mut hooks = Vec::new();
        for object in page {
            if self.mutating {
                let Ok(config) = object.to_typed::<MutatingWebhookConfiguration>() else { continue };
                hooks.extend(config.webhooks.into_iter().map(|w| hook!(w)));
            } else {
                let Ok(config) = object.to_typed::<ValidatingWebhookConfiguration>() else { continue };
                hooks.extend(config.webhooks.into_iter().map(|w| hook!(w)));
            }
        }
        Ok(hooks)
    }

    /// Runs every matching webhook; mutating ones may replace the object.
    async fn run(&self, request: &mut AdmissionRequest<'_>) -> k_store::Result<()> {
        if request.resource.group == "admissionregistration.k8s.io" {
            return Ok(());
        }
        let hooks = self.hooks().await?;
        if hooks.is_empty() {
            return Ok(());
        }
        let mut namespace_labels = None;
        for hook in hooks {
            if !matches_rules(&hook.rules, request)
                || !self.matches_selectors(&hook, request, &mut namespace_labels).await?
            {
                continue;
            }
            if request.dry_run && !hook.dry_run_safe {
                return Err(StoreError::BadRequest(format!(
                    "admission webhook {:?} has side effects and does not support dry run",
                    hook.name
                )));
            }
            let body = review_of(request)?;
            let uid = body.request.as_ref().map(|r| r.uid.clone()).unwrap_or_default();
            let answer = match call(&hook, &body).await {
                Ok(answer) => answer,
                Err(reason) => {
                    if hook.ignore_failures {
                        tracing::warn!("admission webhook {:?} failed (failurePolicy Ignore): {reason}", hook.name);
                        continue;
                    }
                    return Err(StoreError::Internal(format!(
                        "Internal error occurred: failed calling webhook {:?}: {reason}",
                        hook.name
                    )));
                }
            };
            let Some(response) = answer.response.filter(|r| r.uid == uid) else {
                let reason = "the webhook's AdmissionReview has no response for this request's uid";
                if hook.ignore_failures {
                    tracing::warn!("admission webhook {:?}: {reason}", hook.name);
                    continue;
                }
                return Err(StoreError::Internal(format!(
                    "Internal error occurred: failed calling webhook {:?}: {reason}",
                    hook.name
                )));
            };
            if !response.allowed {
                let status = response.status.unwrap_or_default();
                let message = format!("admission webhook {:?} denied the request: {}", hook.name, status.message);
                return Err(match status.code {
                    400 => StoreError::BadRequest(message),
                    _ => StoreError::Forbidden(message),
                });
            }
            if let Some(patch) = response.patch {
                if !self.mutating {
                    tracing::warn!("validating webhook {:?} sent a patch, which is ignored", hook.name);
                    continue;
                }
                apply_patch(request, &hook.name, &patch.0)?;
            }
        }
        Ok(())
    }

    async fn matches_selectors(
        &self,
        hook: &Hook,
        request: &AdmissionRequest<'_>,
        namespace_labels: &mut Option<k_api_types::SortedMap<String, String>>,
    ) -> k_store::Result<bool> {
        let selects = |selector: &Option<LabelSelector>, labels: &k_api_types::SortedMap<String, String>| {
            selector.as_ref().is_none_or(|s| k_api_types::selector::selector_matches(Some(s), labels))
        };
        // The new or the old object: dropping a label does not escape a webhook.
        let empty = k_api_types::SortedMap::default();
        let new_labels = request.object.as_deref().map(|o| &o.metadata().labels);
        let old_labels = request.old_object.map(|o| &o.metadata().labels);
        let labels = new_labels.or(old_labels).unwrap_or(&empty);
        let selected = [new_labels, old_labels].into_iter().flatten().any(|l| selects(&hook.object_selector, l))
            || (new_labels.is_none() && old_labels.is_none() && selects(&hook.object_selector, &empty));
        if !selected {
            return Ok(false);
        }
        let is_namespace = request.resource.group.is_empty() && request.resource.plural == "namespaces";
        if is_namespace {
            return Ok(selects(&hook.namespace_selector, labels));
        }
        if !request.resource.namespaced
            || hook.namespace_selector.as_ref().is_none_or(|s| *s == LabelSelector::default())
        {
            return Ok(true);
        }
        if namespace_labels.is_none() {
            let gvr = GroupVersionResource::new("", "v1", "namespaces");
            let namespace = self.api.get(&gvr, "", request.namespace).await?;
            *namespace_labels = Some(namespace.metadata.labels);
        }
        Ok(namespace_labels.as_ref().is_some_and(|l| selects(&hook.namespace_selector, l)))
    }
}

fn operation(op: Operation) -> &'static str {
    match op {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
    }
}

/// Whether a webhook's rules cover the write.
fn matches_rules(rules: &[RuleWithOperations], request: &AdmissionRequest<'_>) -> bool {
    let any = |list: &[String], value: &str| list.iter().any(|v| v == "*" || v == value);
    let resource = &request.resource;
    rules.iter().any(|rule| {
        let scope = rule.scope.as_deref().unwrap_or("*");
        let scoped = match scope {
            "Cluster" => !resource.namespaced,
            "Namespaced" => resource.namespaced,
            _ => true,
        };
        // As Kubernetes splits them: `pods` is ("pods", ""), `pods/*` and
        // `*/*` also match the resource itself, `*` matches no subresource.
        let resource_matches = rule.resources.iter().any(|r| {
            let (res, sub) = r.split_once('/').unwrap_or((r.as_str(), ""));
            (res == "*" || res == resource.plural) && (sub == "*" || sub == request.subresource.unwrap_or_default())
        });
        scoped
            && any(&rule.operations, operation(request.operation))
            && any(&rule.api_groups, &resource.group)
            && any(&rule.api_versions, &resource.version)
            && resource_matches
    })
}

fn review_of(request: &AdmissionRequest<'_>) -> k_store::Result<review::AdmissionReview> {
    let to_value = |o: &Object| o.to_value().map_err(|e| StoreError::Internal(e.to_string()));
    let resource = request.resource;
    let kind = review::GroupVersionKind {
        group: resource.group.clone(),
        version: resource.version.clone(),
        kind: resource.kind.clone(),
    };
    let gvr = review::GroupVersionResource {
        group: resource.group.clone(),
        version: resource.version.clone(),
        resource: resource.plural.clone(),
    };
    let user = request.user;
    let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Ok(review::AdmissionReview {
        api_version: "admission.k8s.io/v1".into(),
        kind: "AdmissionReview".into(),
        request: Some(review::AdmissionRequest {
            uid: uuid::Uuid::new_v4().to_string(),
            kind: kind.clone(),
            resource: gvr.clone(),
            sub_resource: request.subresource.unwrap_or_default().to_owned(),
            request_kind: Some(kind),
            request_resource: Some(gvr),
            request_sub_resource: request.subresource.unwrap_or_default().to_owned(),
            name: request.name.to_owned(),
            namespace: request.namespace.to_owned(),
            operation: operation(request.operation).to_owned(),
            user_info: k_api_types::authentication::v1::UserInfo {
                username: some(&user.username),
                uid: some(&user.uid),
                groups: user.groups.clone(),
                extra: user.extra.clone(),
            },
            object: request.object.as_deref().map(to_value).transpose()?,
            old_object: request.old_object.map(to_value).transpose()?,
            dry_run: Some(request.dry_run),
            options: None,
        }),
        response: None,
    })
}

fn apply_patch(request: &mut AdmissionRequest<'_>, hook: &str, patch: &[u8]) -> k_store::Result<()> {
    let failed = |why: String| StoreError::Internal(format!("Internal error occurred: webhook {hook:?}: {why}"));
    let Some(object) = request.object.as_deref_mut() else { return Ok(()) };
    let patch: json_patch::Patch =
        serde_json::from_slice(patch).map_err(|e| failed(format!("the patch is not a JSON patch: {e}")))?;
    let mut value = object.to_value().map_err(|e| failed(e.to_string()))?;
    json_patch::patch(&mut value, &patch).map_err(|e| failed(format!("the patch does not apply: {e}")))?;
    let decoded = Object::decode(&value).map_err(|e| failed(format!("the patched object does not decode: {e}")))?;
    *object = decoded.object;
    Ok(())
}

/// Posts the review to the webhook over HTTPS; its answer, or why not.
async fn call(hook: &Hook, body: &review::AdmissionReview) -> Result<review::AdmissionReview, String> {
    let url = match (&hook.client.url, &hook.client.service) {
        (Some(url), _) => url.clone(),
        (None, Some(service)) => {
            return Err(format!(
                "service {}/{} cannot be reached: k routes no service traffic yet; use clientConfig.url",
                service.namespace, service.name
            ));
        }
        (None, None) => return Err("the webhook has neither url nor service".into()),
    };
    let uri: http::Uri = url.parse().map_err(|e| format!("bad URL {url:?}: {e}"))?;
    if uri.scheme_str() != Some("https") {
        return Err(format!("{url:?} is not an https URL"));
    }
    let host = uri.host().ok_or_else(|| format!("{url:?} names no host"))?.trim_matches(['[', ']']).to_owned();
    let port = uri.port_u16().unwrap_or(443);
    let ca = hook.client.ca_bundle.as_ref().ok_or("no caBundle: k trusts only the CA a webhook configuration gives")?;
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&ca.0) {
        roots.add(cert.map_err(|e| format!("caBundle: {e}"))?).map_err(|e| format!("caBundle: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let payload = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    let exchange = async {
        let tcp =
            tokio::net::TcpStream::connect((host.as_str(), port)).await.map_err(|e| format!("Post {url:?}: {e}"))?;
        let name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| e.to_string())?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("Post {url:?}: {e}"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .map_err(|e| format!("Post {url:?}: {e}"))?;
        tokio::spawn(connection);
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let request = http::Request::post(path)
            .header(http::header::HOST, uri.authority().map_or(host.clone(), |a| a.to_string()))
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json")
            .body(Full::new(bytes::Bytes::from(payload)))
            .map_err(|e| e.to_string())?;
        let response = sender.send_request(request).await.map_err(|e| format!("Post {url:?}: {e}"))?;
        let status = response.status();
        let bytes = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        if !status.is_success() {
            return Err(format!("Post {url:?}: the webhook answered {status}"));
        }
        serde_json::from_slice::<review::AdmissionReview>(&bytes)
            .map_err(|e| format!("the answer is not an AdmissionReview: {e}"))
    };
    match tokio::time::timeout(hook.timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(format!("Post {url:?}: context deadline exceeded ({} s)", hook.timeout.as_secs())),
    }
}

/// A JSON patch as the base64 text of `AdmissionResponse.patch` (for
/// webhook servers building answers).
pub fn encode_patch(patch: &Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(patch.to_string())
}

#[async_trait::async_trait]
impl AdmissionPlugin for Webhooks {
    fn name(&self) -> &'static str {
        if self.mutating { "MutatingAdmissionWebhook" } else { "ValidatingAdmissionWebhook" }
    }

    async fn admit(&self, request: &mut AdmissionRequest<'_>) -> k_store::Result<()> {
        if self.mutating { self.run(request).await } else { Ok(()) }
    }

    async fn validate(&self, request: &AdmissionRequest<'_>) -> k_store::Result<()> {
        if self.mutating {
            return Ok(());
        }
        // Validating webhooks cannot change the object: run them on a copy.
        let mut object = request.object.as_deref().cloned();
        let mut copy = AdmissionRequest {
            operation: request.operation,
            resource: request.resource,
            subresource: request.subresource,
            namespace: request.namespace,
            name: request.name,
            object: object.as_mut(),
            old_object: request.old_object,
            user: request.user,
            dry_run: request.dry_run,
        };
        self.run(&mut copy).await
    }
}
