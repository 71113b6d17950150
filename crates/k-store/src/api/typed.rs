//! [`Api<K>`]: the object API for one kind, with typed objects.

use std::marker::PhantomData;
use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use k_api_types::meta::{DeleteOptions, ObjectList, WatchEvent};
use k_api_types::{DynamicObject, GroupVersionResource, Resource};

use super::{ApplyParams, DeleteOutcome, ListOptions, ObjectApi, Patch, UserInfo, WatchOptions};
use crate::error::{Result, StoreError};

/// Typed access to the objects of kind `K` in one namespace (or all
/// namespaces, or a cluster-scoped kind), over any [`ObjectApi`].
///
/// ```
/// # async fn demo() -> k_store::Result<()> {
/// use k_api_types::core::v1::ConfigMap;
/// use k_api_types::Resource;
/// use k_store::{Api, Store};
///
/// let store = Store::in_memory();
/// let api: Api<ConfigMap> = Api::namespaced(store.clone(), "default");
/// let mut cm = ConfigMap::named("settings");
/// cm.data.insert("mode".into(), "fast".into());
/// let created = api.create(&cm).await?;
/// assert_eq!(created.metadata.generation, Some(1));
/// assert_eq!(api.get("settings").await?.data["mode"], "fast");
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
pub struct Api<K> {
    client: Arc<dyn ObjectApi>,
    namespace: Option<String>,
    gvr: GroupVersionResource,
    user: UserInfo,
    _kind: PhantomData<fn() -> K>,
}

impl<K> Clone for Api<K> {
    fn clone(&self) -> Self {
        Self {
            client: Arc::clone(&self.client),
            namespace: self.namespace.clone(),
            gvr: self.gvr.clone(),
            user: self.user.clone(),
            _kind: PhantomData,
        }
    }
}

impl<K> std::fmt::Debug for Api<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").field("resource", &self.gvr).field("namespace", &self.namespace).finish()
    }
}

fn to_dynamic<K: Resource>(obj: &K) -> Result<DynamicObject> {
    let mut d = DynamicObject::from_typed(obj).map_err(|e| StoreError::BadRequest(e.to_string()))?;
    if d.api_version.is_empty() {
        d.api_version = K::INFO.api_version.to_owned();
        d.kind = K::INFO.kind.to_owned();
    }
    Ok(d)
}

fn to_typed<K: Resource>(obj: DynamicObject) -> Result<K> {
    obj.to_typed()
        .map_err(|e| StoreError::Internal(format!("{} does not decode as {}: {e}", obj.metadata.name, K::INFO.kind)))
}

impl<K: Resource> Api<K> {
    fn new(client: impl ObjectApi + 'static, namespace: Option<String>) -> Self {
        Self::with_client(Arc::new(client), namespace)
    }

    /// Over a shared client.
    pub fn with_client(client: Arc<dyn ObjectApi>, namespace: Option<String>) -> Self {
        Self { client, namespace, gvr: K::INFO.gvr(), user: UserInfo::default(), _kind: PhantomData }
    }

    /// Objects of a namespaced kind in one namespace.
    pub fn namespaced(client: impl ObjectApi + 'static, namespace: &str) -> Self {
        Self::new(client, Some(namespace.to_owned()))
    }

    /// Objects in every namespace (or of a cluster-scoped kind).
    pub fn all(client: impl ObjectApi + 'static) -> Self {
        Self::new(client, None)
    }

    /// Acts as `user` (seen by admission hooks).
    pub fn as_user(mut self, user: UserInfo) -> Self {
        self.user = user;
        self
    }

    fn ns(&self) -> &str {
        self.namespace.as_deref().unwrap_or_default()
    }

    fn ns_of<'a>(&'a self, obj: &'a K) -> &'a str {
        let ns = &obj.metadata().namespace;
        if ns.is_empty() { self.ns() } else { ns }
    }

    /// Reads an object.
    pub async fn get(&self, name: &str) -> Result<K> {
        to_typed(self.client.get(&self.gvr, self.ns(), name).await?)
    }

    /// Reads an object, `None` if it does not exist.
    pub async fn get_opt(&self, name: &str) -> Result<Option<K>> {
        match self.get(name).await {
            Ok(o) => Ok(Some(o)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Lists objects.
    pub async fn list(&self, options: &ListOptions) -> Result<ObjectList<K>> {
        let page = self.client.list(&self.gvr, self.namespace.as_deref(), options).await?;
        let mut list = ObjectList::new(page.items.into_iter().map(to_typed).collect::<Result<_>>()?);
        list.metadata.resource_version = page.resource_version;
        list.metadata.continue_ = page.continue_token;
        Ok(list)
    }

    /// Creates an object.
    pub async fn create(&self, obj: &K) -> Result<K> {
        to_typed(self.client.create(&self.gvr, self.ns_of(obj), to_dynamic(obj)?, &self.user).await?)
    }

    /// Replaces an object (a set resourceVersion is a precondition).
    pub async fn update(&self, obj: &K) -> Result<K> {
        to_typed(self.client.update(&self.gvr, self.ns_of(obj), to_dynamic(obj)?, &self.user).await?)
    }

    /// Replaces an object's status.
    pub async fn update_status(&self, obj: &K) -> Result<K> {
        to_typed(self.client.update_status(&self.gvr, self.ns_of(obj), to_dynamic(obj)?, &self.user).await?)
    }

    /// Patches an object.
    pub async fn patch(&self, name: &str, patch: &Patch) -> Result<K> {
        to_typed(self.client.patch(&self.gvr, self.ns(), name, patch, false, &self.user).await?)
    }

    /// Patches an object's status.
    pub async fn patch_status(&self, name: &str, patch: &Patch) -> Result<K> {
        to_typed(self.client.patch(&self.gvr, self.ns(), name, patch, true, &self.user).await?)
    }

    /// Server-side apply: `obj` is `params.field_manager`'s whole
    /// configuration of the object (set only the fields you manage; a
    /// field you applied before and leave out now is removed). The object
    /// is created when it does not exist. Fields other managers own are a
    /// [`StoreError::ApplyConflict`] unless `params.force` is set. A set
    /// `metadata.resourceVersion` is a precondition.
    ///
    /// ```
    /// # async fn demo() -> k_store::Result<()> {
    /// use k_api_types::core::v1::ConfigMap;
    /// use k_api_types::Resource;
    /// use k_store::api::ApplyParams;
    /// use k_store::{Api, Store};
    ///
    /// let api: Api<ConfigMap> = Api::namespaced(Store::in_memory(), "default");
    /// let mut wanted = ConfigMap::named("settings");
    /// wanted.data.insert("mode".into(), "fast".into());
    /// let applied = api.apply(&wanted, &ApplyParams::new("my-operator")).await?;
    /// assert_eq!(applied.data["mode"], "fast");
    /// assert_eq!(applied.metadata.managed_fields[0].manager, "my-operator");
    ///
    /// // Another manager may not change the field without force.
    /// wanted.data.insert("mode".into(), "safe".into());
    /// let refused = api.apply(&wanted, &ApplyParams::new("someone-else")).await;
    /// assert!(refused.unwrap_err().is_conflict());
    /// let taken = api.apply(&wanted, &ApplyParams::new("someone-else").force()).await?;
    /// assert_eq!(taken.data["mode"], "safe");
    /// # Ok(()) }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
    /// ```
    pub async fn apply(&self, obj: &K, params: &ApplyParams) -> Result<K> {
        self.apply_to(obj, params, false).await
    }

    /// Server-side apply of `obj`'s status (the `status` subresource), as
    /// [`apply`](Self::apply): only `status` is taken from `obj`.
    pub async fn apply_status(&self, obj: &K, params: &ApplyParams) -> Result<K> {
        self.apply_to(obj, params, true).await
    }

    async fn apply_to(&self, obj: &K, params: &ApplyParams, status: bool) -> Result<K> {
        let mut configuration =
            serde_json::to_value(to_dynamic(obj)?).map_err(|e| StoreError::BadRequest(e.to_string()))?;
        if let Some(serde_json::Value::Object(meta)) = configuration.get_mut("metadata") {
            // Managed fields are the server's to keep.
            meta.remove("managedFields");
        }
        let patch = Patch::Apply { configuration, field_manager: params.field_manager.clone(), force: params.force };
        let name = &obj.metadata().name;
        to_typed(self.client.patch(&self.gvr, self.ns_of(obj), name, &patch, status, &self.user).await?)
    }

    /// Read-modify-write with retry on conflict.
    pub async fn guaranteed_update(&self, name: &str, mut f: impl FnMut(&mut K) + Send) -> Result<K> {
        let mut last = None;
        for _ in 0..crate::store::MAX_RETRIES {
            let mut obj = self.get(name).await?;
            f(&mut obj);
            match self.update(&obj).await {
                Err(e) if e.is_conflict() => {
                    last = Some(e);
                    tokio::task::yield_now().await;
                }
                other => return other,
            }
        }
        Err(last.unwrap_or_else(|| StoreError::Internal("guaranteed update gave up".into())))
    }

    /// Read-modify-write of the status subresource with retry on conflict.
    pub async fn guaranteed_update_status(&self, name: &str, mut f: impl FnMut(&mut K) + Send) -> Result<K> {
        let mut last = None;
        for _ in 0..crate::store::MAX_RETRIES {
            let mut obj = self.get(name).await?;
            f(&mut obj);
            match self.update_status(&obj).await {
                Err(e) if e.is_conflict() => {
                    last = Some(e);
                    tokio::task::yield_now().await;
                }
                other => return other,
            }
        }
        Err(last.unwrap_or_else(|| StoreError::Internal("guaranteed status update gave up".into())))
    }

    /// Deletes an object; `Pending` when finalizers or graceful termination remain.
    pub async fn delete(&self, name: &str, options: &DeleteOptions) -> Result<DeleteOutcome> {
        self.client.delete(&self.gvr, self.ns(), name, options, &self.user).await
    }

    /// Deletes every object matching the list options.
    pub async fn delete_collection(&self, list: &ListOptions, options: &DeleteOptions) -> Result<Vec<DeleteOutcome>> {
        self.client.delete_collection(&self.gvr, self.namespace.as_deref(), list, options, &self.user).await
    }

    /// Watches objects; ends with an `Err` item when the watch fails.
    pub async fn watch(&self, options: &WatchOptions) -> Result<BoxStream<'static, Result<WatchEvent<K>>>> {
        let stream = self.client.watch(&self.gvr, self.namespace.as_deref(), options).await?;
        Ok(stream
            .map(|item| {
                item.and_then(|event| {
                    Ok(match event {
                        WatchEvent::Added(o) => WatchEvent::Added(to_typed(o)?),
                        WatchEvent::Modified(o) => WatchEvent::Modified(to_typed(o)?),
                        WatchEvent::Deleted(o) => WatchEvent::Deleted(to_typed(o)?),
                        WatchEvent::Bookmark(o) => WatchEvent::Bookmark(to_typed(o)?),
                        WatchEvent::Error(s) => WatchEvent::Error(s),
                    })
                })
            })
            .boxed())
    }
}

impl Api<k_api_types::core::v1::Namespace> {
    /// Replaces the namespace's `spec.finalizers` through the `finalize`
    /// subresource (the only way they change); a namespace being deleted
    /// that is left with no finalizers is removed.
    pub async fn finalize(
        &self,
        namespace: &k_api_types::core::v1::Namespace,
    ) -> Result<k_api_types::core::v1::Namespace> {
        to_typed(self.client.finalize_namespace(to_dynamic(namespace)?, &self.user).await?)
    }
}
