//! Admission: plugins that mutate, then validate, every write.
//!
//! An [`Admission`] chain runs as k-store's [`AdmissionHook`]: for each
//! write, every plugin's [`AdmissionPlugin::admit`] (mutating, in order),
//! then the store validates the object, then every plugin's
//! [`AdmissionPlugin::validate`] — kube-apiserver's order, so a quota is
//! never charged for an object that fails validation. Install it on the
//! store with [`Admission::install`]; every writer (API clients and
//! in-process controllers alike) then goes through it, as every write goes
//! through kube-apiserver's admission. Dry-run writes are admitted too, but
//! plugins with side effects (ResourceQuota) leave them alone.
//!
//! Built-in plugins, by kube-apiserver's names: [`namespace_lifecycle`],
//! [`limit_ranger`], [`service_account`], [`priority`],
//! [`default_toleration_seconds`], [`default_storage_class`],
//! [`webhook`] (`MutatingAdmissionWebhook`, `ValidatingAdmissionWebhook`)
//! and [`resource_quota`]. [`Admission::from_flags`] reads
//! `--enable-admission-plugins` / `--disable-admission-plugins` over the
//! default set, and orders plugins as kube-apiserver does whatever order
//! the flags give.

pub mod default_storage_class;
pub mod default_toleration_seconds;
pub mod limit_ranger;
pub mod namespace_lifecycle;
pub mod priority;
pub mod resource_quota;
pub mod service_account;
pub mod webhook;

use std::sync::Arc;

use k_store::admission::{AdmissionHook, AdmissionRequest};
use k_store::{ObjectApi, Store};

/// One admission plugin; see the [module docs](self).
#[async_trait::async_trait]
pub trait AdmissionPlugin: Send + Sync + std::fmt::Debug {
    /// kube-apiserver's name for it (`NamespaceLifecycle`, …).
    fn name(&self) -> &'static str;

    /// Mutates the write (default: nothing).
    async fn admit(&self, _request: &mut AdmissionRequest<'_>) -> k_store::Result<()> {
        Ok(())
    }

    /// Accepts or refuses the write, after every plugin mutated it (default: accepts).
    async fn validate(&self, _request: &AdmissionRequest<'_>) -> k_store::Result<()> {
        Ok(())
    }
}

/// The plugins k serves, in the order they run (kube-apiserver's order).
pub const PLUGINS: &[&str] = &[
    "NamespaceLifecycle",
    "LimitRanger",
    "ServiceAccount",
    "Priority",
    "DefaultTolerationSeconds",
    "DefaultStorageClass",
    "MutatingAdmissionWebhook",
    "ValidatingAdmissionWebhook",
    "ResourceQuota",
];

/// Those on by default (kube-apiserver's defaults, of those k serves).
pub const DEFAULT_PLUGINS: &[&str] = PLUGINS;

/// kube-apiserver plugins k does not serve (named so the flags can say so).
const NOT_SERVED: &[&str] = &[
    "AlwaysAdmit",
    "AlwaysDeny",
    "AlwaysPullImages",
    "CertificateApproval",
    "CertificateSigning",
    "CertificateSubjectRestriction",
    "ClusterTrustBundleAttest",
    "DefaultIngressClass",
    "DenyServiceExternalIPs",
    "EventRateLimit",
    "ExtendedResourceToleration",
    "ImagePolicyWebhook",
    "LimitPodHardAntiAffinityTopology",
    "NodeRestriction",
    "OwnerReferencesPermissionEnforcement",
    "PersistentVolumeClaimResize",
    "PodNodeSelector",
    "PodSecurity",
    "PodTolerationRestriction",
    "RuntimeClass",
    "StorageObjectInUseProtection",
    "TaintNodesByCondition",
    "ValidatingAdmissionPolicy",
];

/// An ordered chain of plugins; see the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct Admission {
    plugins: Vec<Arc<dyn AdmissionPlugin>>,
}

impl Admission {
    /// No plugin.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a plugin after those already there.
    #[must_use]
    pub fn with(mut self, plugin: impl AdmissionPlugin + 'static) -> Self {
        self.plugins.push(Arc::new(plugin));
        self
    }

    /// The plugins' names, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.plugins.iter().map(|p| p.name()).collect()
    }

    /// The built-in plugin `name` over `api`.
    pub fn plugin(name: &str, api: Arc<dyn ObjectApi>) -> Result<Arc<dyn AdmissionPlugin>, String> {
        Ok(match name {
            "NamespaceLifecycle" => Arc::new(namespace_lifecycle::NamespaceLifecycle::new(api)),
            "LimitRanger" => Arc::new(limit_ranger::LimitRanger::new(api)),
            "ServiceAccount" => Arc::new(service_account::ServiceAccount::new(api)),
            "Priority" => Arc::new(priority::Priority::new(api)),
            "DefaultTolerationSeconds" => Arc::new(default_toleration_seconds::DefaultTolerationSeconds),
            "DefaultStorageClass" => Arc::new(default_storage_class::DefaultStorageClass::new(api)),
            "MutatingAdmissionWebhook" => Arc::new(webhook::Webhooks::mutating(api)),
            "ValidatingAdmissionWebhook" => Arc::new(webhook::Webhooks::validating(api)),
            "ResourceQuota" => Arc::new(resource_quota::ResourceQuota::new(api)),
            other if NOT_SERVED.contains(&other) => {
                return Err(format!("admission plugin {other:?} is not served by k (served: {})", PLUGINS.join(", ")));
            }
            other => return Err(format!("unknown admission plugin {other:?} (served: {})", PLUGINS.join(", "))),
        })
    }

    /// kube-apiserver's flags: the default set, plus `enable`, minus
    /// `disable`, in the order of [`PLUGINS`]. A name in both lists, or one
    /// k does not serve, is an error.
    pub fn from_flags(enable: &[String], disable: &[String], api: Arc<dyn ObjectApi>) -> Result<Self, String> {
        for name in enable.iter().chain(disable) {
            if !PLUGINS.contains(&name.as_str()) {
                Self::plugin(name, api.clone())?;
            }
        }
        if let Some(both) = enable.iter().find(|n| disable.contains(n)) {
            return Err(format!("admission plugin {both:?} is both enabled and disabled"));
        }
        let mut admission = Admission::new();
        for name in PLUGINS {
            let on = (DEFAULT_PLUGINS.contains(name) || enable.iter().any(|n| n == name))
                && !disable.iter().any(|n| n == name);
            if on {
                admission.plugins.push(Self::plugin(name, api.clone())?);
            }
        }
        Ok(admission)
    }

    /// Makes `store` run this chain on every write (after the hooks it
    /// already has).
    pub fn install(self, store: &Store) {
        store.add_admission(Arc::new(self));
    }
}

#[async_trait::async_trait]
impl AdmissionHook for Admission {
    async fn admit(&self, request: &mut AdmissionRequest<'_>) -> k_store::Result<()> {
        for plugin in &self.plugins {
            plugin.admit(request).await?;
        }
        Ok(())
    }

    async fn validate(&self, request: &AdmissionRequest<'_>) -> k_store::Result<()> {
        for plugin in &self.plugins {
            plugin.validate(request).await?;
        }
        Ok(())
    }
}

/// `<resource> "<name>" is forbidden: <why>` (kube-apiserver's words for
/// an admission refusal), as a 403.
pub(crate) fn forbidden(request: &AdmissionRequest<'_>, why: impl std::fmt::Display) -> k_store::StoreError {
    let resource = if request.resource.group.is_empty() {
        request.resource.plural.clone()
    } else {
        format!("{}.{}", request.resource.plural, request.resource.group)
    };
    if request.name.is_empty() {
        k_store::StoreError::Forbidden(format!("{resource} is forbidden: {why}"))
    } else {
        k_store::StoreError::Forbidden(format!("{resource} {:?} is forbidden: {why}", request.name))
    }
}

/// Whether the request creates a pod (the main resource).
pub(crate) fn creates_pod(request: &AdmissionRequest<'_>) -> bool {
    request.operation == k_store::api::Operation::Create
        && request.subresource.is_none()
        && request.resource.group.is_empty()
        && request.resource.plural == "pods"
}
