//! NamespaceLifecycle: nothing is created in a namespace that does not
//! exist or is being deleted, and the namespaces every cluster needs
//! (`default`, `kube-system`, `kube-public`) cannot be deleted.

use std::sync::Arc;

use k_api_types::GroupVersionResource;
use k_store::admission::AdmissionRequest;
use k_store::api::Operation;
use k_store::{ObjectApi, StoreError};

use super::{AdmissionPlugin, forbidden};

/// Namespaces that may not be deleted.
pub const IMMORTAL: &[&str] = &["default", "kube-system", "kube-public"];

/// The plugin; see the [module docs](self).
#[derive(Debug)]
pub struct NamespaceLifecycle {
    api: Arc<dyn ObjectApi>,
}

impl NamespaceLifecycle {
    /// The plugin, reading namespaces from `api`.
    pub fn new(api: Arc<dyn ObjectApi>) -> Self {
        Self { api }
    }
}

#[async_trait::async_trait]
impl AdmissionPlugin for NamespaceLifecycle {
    fn name(&self) -> &'static str {
        "NamespaceLifecycle"
    }

    async fn validate(&self, request: &AdmissionRequest<'_>) -> k_store::Result<()> {
        let namespaces = request.resource.group.is_empty() && request.resource.plural == "namespaces";
        if namespaces && request.operation == Operation::Delete && IMMORTAL.contains(&request.name) {
            return Err(forbidden(request, "this namespace may not be deleted"));
        }
        if request.operation != Operation::Create || !request.resource.namespaced || request.namespace.is_empty() {
            return Ok(());
        }
        let gvr = GroupVersionResource::new("", "v1", "namespaces");
        match self.api.get(&gvr, "", request.namespace).await {
            Ok(namespace) => {
                let phase = namespace.data.get("status").and_then(|s| s.get("phase")).and_then(|p| p.as_str());
                if namespace.metadata.deletion_timestamp.is_some() || phase == Some("Terminating") {
                    return Err(forbidden(
                        request,
                        format!(
                            "unable to create new content in namespace {} because it is being terminated",
                            request.namespace
                        ),
                    ));
                }
                Ok(())
            }
            Err(e) if e.is_not_found() => {
                Err(StoreError::NotFound { resource: "namespaces".to_owned(), name: request.namespace.to_owned() })
            }
            Err(e) => Err(e),
        }
    }
}
