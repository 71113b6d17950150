//! The object API: what controllers, the API server and tools use to read and
//! write objects, in-process or (later) over HTTP.
//!
//! [`ObjectApi`] is the dynamic contract (any kind, as [`DynamicObject`]);
//! [`Api`] is the typed view of one kind on top of it.

mod modify;
mod options;
mod raw;
mod shared;
mod typed;

pub use modify::modify;
pub use options::{
    ApplyParams, DeleteOutcome, ListOptions, ObjectPage, Operation, Patch, ResourceVersionMatch, UserInfo, WatchOptions,
};
pub use raw::{RawMeta, RawPage, RawWatchStream};
pub use shared::{SharedEvent, SharedWatchStream};
pub use typed::Api;

use futures::stream::BoxStream;
use k_api_types::meta::{DeleteOptions, WatchEvent};
use k_api_types::{ApiResource, DynamicObject, GroupVersionResource};

use crate::error::Result;

/// A watch stream of dynamic objects. An `Err` item ends it (Expired, WatcherTooSlow…).
pub type DynamicWatchStream = BoxStream<'static, Result<WatchEvent<DynamicObject>>>;

/// The dynamic object API: Kubernetes' verbs over any served kind.
///
/// `namespace` is ignored for cluster-scoped kinds; `None` in `list`/`watch`
/// means all namespaces.
#[async_trait::async_trait]
pub trait ObjectApi: Send + Sync + std::fmt::Debug {
    /// The description of a served resource (NotFound if it is not served).
    fn resource(&self, gvr: &GroupVersionResource) -> Result<ApiResource>;

    /// Every served resource (for discovery), in no particular order.
    fn resources(&self) -> Vec<ApiResource>;

    /// The same API in dry-run mode (`dryRun=All`): writes are checked and
    /// answered but not stored. None if this implementation cannot do that.
    fn dry_run(&self) -> Option<std::sync::Arc<dyn ObjectApi>> {
        None
    }

    /// Reads one object.
    async fn get(&self, gvr: &GroupVersionResource, namespace: &str, name: &str) -> Result<DynamicObject>;

    /// Lists objects, with selectors, pagination and resourceVersion semantics.
    async fn list(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> Result<ObjectPage>;

    /// Watches objects.
    async fn watch(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &WatchOptions,
    ) -> Result<DynamicWatchStream>;

    /// Watches objects, sharing each event's object and encoded frame with
    /// the other watchers of the same change (what an API server serving many
    /// watches wants). The default wraps [`watch`](Self::watch), sharing
    /// nothing.
    async fn watch_shared(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &WatchOptions,
    ) -> Result<SharedWatchStream> {
        use futures::StreamExt;
        let events = self.watch(gvr, namespace, options).await?;
        Ok(events
            .map(|item| {
                item.map(|event| {
                    SharedEvent::new(match event {
                        WatchEvent::Added(o) => WatchEvent::Added(std::sync::Arc::new(o)),
                        WatchEvent::Modified(o) => WatchEvent::Modified(std::sync::Arc::new(o)),
                        WatchEvent::Deleted(o) => WatchEvent::Deleted(std::sync::Arc::new(o)),
                        WatchEvent::Bookmark(o) => WatchEvent::Bookmark(std::sync::Arc::new(o)),
                        WatchEvent::Error(s) => WatchEvent::Error(s),
                    })
                })
            })
            .boxed())
    }

    /// Lists objects like [`list`](Self::list), each as its JSON encoding,
    /// for callers that decode into their own types. The default encodes
    /// the dynamic objects; the remote client passes the response's bytes on.
    async fn list_raw(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> Result<RawPage> {
        let page = self.list(gvr, namespace, options).await?;
        let items = page
            .items
            .iter()
            .map(|o| serde_json::to_vec(o).map(bytes::Bytes::from))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| crate::error::StoreError::Internal(format!("encoding a listed object: {e}")))?;
        Ok(RawPage { items, resource_version: page.resource_version, continue_token: page.continue_token })
    }

    /// Watches objects like [`watch`](Self::watch), each object as its JSON
    /// encoding. The default takes it from the shared watch's frames
    /// (encoded once per change for every watcher); the remote client
    /// passes the response's bytes on.
    async fn watch_raw(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &WatchOptions,
    ) -> Result<RawWatchStream> {
        use futures::StreamExt;
        let events = self.watch_shared(gvr, namespace, options).await?;
        Ok(events.map(|item| item.map(|event| event.raw())).boxed())
    }

    /// Creates an object.
    async fn create(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        object: DynamicObject,
        user: &UserInfo,
    ) -> Result<DynamicObject>;

    /// Replaces an object's spec and metadata (its status is kept when the kind
    /// has a status subresource). A set `resourceVersion` is a precondition.
    async fn update(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        object: DynamicObject,
        user: &UserInfo,
    ) -> Result<DynamicObject>;

    /// Replaces an object's status only (the `status` subresource).
    async fn update_status(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        object: DynamicObject,
        user: &UserInfo,
    ) -> Result<DynamicObject>;

    /// Replaces a namespace's `spec.finalizers` (the `namespaces/finalize`
    /// subresource; nothing else of `namespace` is read). A namespace being
    /// deleted that is left with no finalizers is removed.
    async fn finalize_namespace(&self, namespace: DynamicObject, user: &UserInfo) -> Result<DynamicObject> {
        let _ = (namespace, user);
        Err(crate::error::StoreError::UnknownResource("namespaces/finalize".into()))
    }

    /// Patches an object (or its status, with `status = true`).
    async fn patch(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        name: &str,
        patch: &Patch,
        status: bool,
        user: &UserInfo,
    ) -> Result<DynamicObject>;

    /// Deletes an object: at once, or gracefully when it has finalizers (or is a
    /// running pod), in which case it is returned with its deletionTimestamp.
    async fn delete(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        name: &str,
        options: &DeleteOptions,
        user: &UserInfo,
    ) -> Result<DeleteOutcome>;

    /// Deletes every object matching the list options.
    async fn delete_collection(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        list: &ListOptions,
        options: &DeleteOptions,
        user: &UserInfo,
    ) -> Result<Vec<DeleteOutcome>>;

    /// Binds a pod to a node (the `pods/binding` subresource, the
    /// scheduler's write): sets `spec.nodeName` and the PodScheduled
    /// condition; Conflict if the pod is already bound or being deleted.
    async fn bind_pod(&self, namespace: &str, name: &str, node: &str, user: &UserInfo) -> Result<DynamicObject> {
        let _ = (namespace, name, node, user);
        Err(crate::error::StoreError::BadRequest("binding pods is not supported by this object API".into()))
    }
}
