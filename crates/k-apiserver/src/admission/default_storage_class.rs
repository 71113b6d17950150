//! DefaultStorageClass: a new PersistentVolumeClaim that names no storage
//! class (the field absent, not `""`) gets the default one: the
//! StorageClass annotated `storageclass.kubernetes.io/is-default-class:
//! "true"`, the newest when several are.

use std::sync::Arc;

use k_api_types::{GroupVersionResource, Object};
use k_store::ObjectApi;
use k_store::admission::AdmissionRequest;
use k_store::api::{ListOptions, Operation};

use super::AdmissionPlugin;

/// The annotation that marks the default class.
pub const DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";

/// The plugin; see the [module docs](self).
#[derive(Debug)]
pub struct DefaultStorageClass {
    api: Arc<dyn ObjectApi>,
}

impl DefaultStorageClass {
    /// The plugin, reading classes from `api`.
    pub fn new(api: Arc<dyn ObjectApi>) -> Self {
        Self { api }
    }
}

#[async_trait::async_trait]
impl AdmissionPlugin for DefaultStorageClass {
    fn name(&self) -> &'static str {
        "DefaultStorageClass"
    }

    async fn admit(&self, request: &mut AdmissionRequest<'_>) -> k_store::Result<()> {
        if request.operation != Operation::Create || request.subresource.is_some() {
            return Ok(());
        }
        let Some(Object::PersistentVolumeClaim(claim)) = request.object.as_deref_mut() else { return Ok(()) };
        if claim.spec.storage_class_name.is_some() {
            return Ok(());
        }
        let gvr = GroupVersionResource::new("storage.k8s.io", "v1", "storageclasses");
        let classes = self.api.list(&gvr, None, &ListOptions::default()).await?;
        let default = classes
            .items
            .iter()
            .filter(|c| c.metadata.annotations.get(DEFAULT_CLASS).is_some_and(|v| v == "true"))
            .max_by(|a, b| {
                (a.metadata.creation_timestamp, &a.metadata.name)
                    .cmp(&(b.metadata.creation_timestamp, &b.metadata.name))
            });
        if let Some(class) = default {
            claim.spec.storage_class_name = Some(class.metadata.name.clone());
        }
        Ok(())
    }
}
