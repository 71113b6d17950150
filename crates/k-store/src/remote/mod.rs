//! The object API over HTTP (feature `remote`): [`RemoteApi`] implements
//! [`ObjectApi`] by speaking Kubernetes REST to an API server, this
//! project's `k-apiserver` or any Kubernetes cluster, so code written
//! against the in-process [`Store`](crate::Store) runs unchanged against a
//! remote control plane.
//!
//! ```no_run
//! # async fn demo() -> k_store::Result<()> {
//! use std::sync::Arc;
//! use k_api_types::core::v1::ConfigMap;
//! use k_store::Api;
//! use k_store::remote::RemoteApi;
//!
//! let remote = RemoteApi::from_default_kubeconfig().await?; // KUBECONFIG or ~/.kube/config
//! let namespace = remote.default_namespace().to_owned();
//! let configmaps: Api<ConfigMap> = Api::with_client(Arc::new(remote), Some(namespace));
//! for cm in configmaps.list(&Default::default()).await?.items {
//!     println!("{}", cm.metadata.name);
//! }
//! # Ok(()) }
//! ```
//!
//! - Configuration: [`RemoteConfig`], from a kubeconfig or built in code
//!   (server URL, bearer token or token file, basic auth, CA and client
//!   certificate PEM, `insecure-skip-tls-verify`, `tls-server-name`). https
//!   uses rustls (ring); http works as well.
//! - Discovery: the served resources are read at connect from `/api`,
//!   `/api/{v}`, `/apis` and `/apis/{g}/{v}`, kept in a snapshot for the
//!   synchronous [`ObjectApi::resource`] and [`ObjectApi::resources`], and a
//!   group-version is read again when a request names a resource the
//!   snapshot does not know (custom resources appear at run time).
//! - Errors: a failed answer's `Status` becomes the [`StoreError`] it was
//!   made from (NotFound, AlreadyExists, Conflict, Invalid with its causes,
//!   Expired, BadRequest, Forbidden, TooLargeResourceVersion, …); a server
//!   that cannot be reached is [`StoreError::Internal`] naming its URL.
//! - Watches: frames are decoded as they arrive; an ERROR frame ends the
//!   stream with its error (410 → [`StoreError::Expired`]); when the server
//!   closes a watch (its timeout), the stream resumes from the last revision
//!   it delivered, for watches from a revision and streaming lists.
//!
//! See `docs/store/remote.md`.

mod config;
mod discovery;
mod status;
mod transport;
mod watch;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use http::{Method, Response, StatusCode};
use hyper::body::Incoming;
use k_api_types::meta::DeleteOptions;
use k_api_types::{ApiResource, DynamicObject, GroupVersionResource};
use serde::Deserialize;

pub use config::{ConfigError, Credentials, RemoteConfig};
/// The TLS library the client uses, for callers that need its types.
pub use rustls;

use self::discovery::Catalog;
use self::transport::{Body, Transport, decode};
use crate::api::{DeleteOutcome, DynamicWatchStream, ListOptions, ObjectApi, ObjectPage, Patch, ResourceVersionMatch};
use crate::api::{RawPage, RawWatchStream, UserInfo, WatchOptions};
use crate::error::{Result, StoreError};

/// The object API of a remote Kubernetes API server. Cheap to clone (the
/// connection pool and the discovery snapshot are shared).
#[derive(Clone)]
pub struct RemoteApi {
    inner: Arc<Inner>,
}

struct Inner {
    http: Transport,
    namespace: String,
    catalog: RwLock<Catalog>,
    /// When a group-version was last read in the background for `resource()`.
    background: Mutex<HashMap<(String, String), Instant>>,
}

/// How often `resource()` may read the same group-version in the background.
const BACKGROUND_REREAD: Duration = Duration::from_secs(1);

impl std::fmt::Debug for RemoteApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteApi")
            .field("server", &self.server())
            .field("namespace", &self.inner.namespace)
            .finish_non_exhaustive()
    }
}

impl RemoteApi {
    /// Connects: checks the configuration, then reads discovery (so an
    /// unreachable server or a refused credential fails here).
    pub async fn connect(config: RemoteConfig) -> Result<Self> {
        let http = Transport::new(&config)?;
        let catalog = discovery::fetch_all(&http).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                namespace: config.namespace.clone(),
                catalog: RwLock::new(catalog),
                background: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Connects with the current context of a kubeconfig file.
    pub async fn from_kubeconfig(path: impl AsRef<Path>) -> Result<Self> {
        Self::connect(RemoteConfig::from_kubeconfig(path)?).await
    }

    /// Connects with the kubeconfig `kubectl` would use (`KUBECONFIG`, else
    /// `~/.kube/config`).
    pub async fn from_default_kubeconfig() -> Result<Self> {
        Self::connect(RemoteConfig::from_default_kubeconfig()?).await
    }

    /// The server URL.
    pub fn server(&self) -> &str {
        self.inner.http.server()
    }

    /// The namespace of the configuration (the kubeconfig context's, or
    /// `default`): what `kubectl` would use when none is given.
    pub fn default_namespace(&self) -> &str {
        &self.inner.namespace
    }

    /// Reads discovery again (every group and version).
    pub async fn refresh_discovery(&self) -> Result<()> {
        let catalog = discovery::fetch_all(&self.inner.http).await?;
        *self.inner.catalog.write().unwrap_or_else(std::sync::PoisonError::into_inner) = catalog;
        Ok(())
    }

    fn cached(&self, gvr: &GroupVersionResource) -> Option<ApiResource> {
        self.inner.catalog.read().unwrap_or_else(std::sync::PoisonError::into_inner).find(gvr)
    }

    /// The served resource, reading its group-version again if the snapshot
    /// does not know it.
    async fn resolve(&self, gvr: &GroupVersionResource) -> Result<ApiResource> {
        if let Some(r) = self.cached(gvr) {
            return Ok(r);
        }
        self.reread(gvr).await?;
        self.cached(gvr).ok_or_else(|| StoreError::UnknownResource(gvr.to_string()))
    }

    async fn reread(&self, gvr: &GroupVersionResource) -> Result<()> {
        let resources = discovery::fetch_version(&self.inner.http, &gvr.group, &gvr.version).await?;
        self.inner.catalog.write().unwrap_or_else(std::sync::PoisonError::into_inner).set(
            &gvr.group,
            &gvr.version,
            resources,
        );
        Ok(())
    }

    /// Runs a request; when the server says the resource itself is not
    /// served (a deleted CRD), the snapshot forgets it.
    async fn call(
        &self,
        resource: &ApiResource,
        method: Method,
        path: &str,
        body: Option<&Body>,
        user: Option<&UserInfo>,
    ) -> Result<(StatusCode, bytes::Bytes)> {
        let result = self.inner.http.call(method, path, body, user).await;
        if let Err(StoreError::UnknownResource(what)) = &result
            && *what == resource.gvr().to_string()
        {
            let _ = self.reread(&resource.gvr()).await;
        }
        result
    }

    async fn object(
        &self,
        resource: &ApiResource,
        method: Method,
        path: &str,
        body: Option<&Body>,
        user: Option<&UserInfo>,
    ) -> Result<(StatusCode, DynamicObject)> {
        let (code, bytes) = self.call(resource, method, path, body, user).await?;
        let mut object: DynamicObject = decode(self.server(), path, &bytes)?;
        fill_type(resource, &mut object);
        Ok((code, object))
    }

    /// Sends a list request; returns the resource, the path and the body.
    async fn list_body(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> Result<(ApiResource, String, bytes::Bytes)> {
        let resource = self.resolve(gvr).await?;
        let mut query = Query::default();
        query.list(options);
        let path = format!("{}{}", collection_path(&resource, namespace), query.finish());
        let (_, bytes) = self.call(&resource, Method::GET, &path, None, None).await?;
        Ok((resource, path, bytes))
    }

    /// Sends a watch request and checks its status (the stream is read by
    /// the caller).
    async fn open_watch(
        &self,
        resource: &ApiResource,
        namespace: Option<&str>,
        options: &WatchOptions,
    ) -> Result<Response<Incoming>> {
        let mut query = Query::default();
        query.push("watch", "true");
        query.opt("labelSelector", options.label_selector.as_deref());
        query.opt("fieldSelector", options.field_selector.as_deref());
        query.opt("resourceVersion", options.resource_version.as_deref());
        if options.allow_bookmarks {
            query.push("allowWatchBookmarks", "true");
        }
        if options.send_initial_events {
            query.push("sendInitialEvents", "true");
            query.push("resourceVersionMatch", "NotOlderThan");
        }
        let path = format!("{}{}", collection_path(resource, namespace), query.finish());
        let response = self.inner.http.send(Method::GET, &path, None, None).await?;
        if response.status().is_success() {
            return Ok(response);
        }
        let code = response.status();
        let bytes =
            http_body_util::BodyExt::collect(response.into_body()).await.map(|c| c.to_bytes()).unwrap_or_default();
        Err(self.inner.http.failure(&Method::GET, &path, code, &bytes))
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query string under construction.
#[derive(Default)]
struct Query(Vec<String>);

impl Query {
    fn push(&mut self, key: &str, value: &str) {
        self.0.push(format!("{key}={}", escape(value)));
    }

    fn opt(&mut self, key: &str, value: Option<&str>) {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            self.push(key, v);
        }
    }

    fn list(&mut self, options: &ListOptions) {
        self.opt("labelSelector", options.label_selector.as_deref());
        self.opt("fieldSelector", options.field_selector.as_deref());
        if options.limit > 0 {
            self.push("limit", &options.limit.to_string());
        }
        self.opt("continue", options.continue_token.as_deref());
        self.opt("resourceVersion", options.resource_version.as_deref());
        match options.resource_version_match {
            Some(ResourceVersionMatch::Exact) => self.push("resourceVersionMatch", "Exact"),
            Some(ResourceVersionMatch::NotOlderThan) => self.push("resourceVersionMatch", "NotOlderThan"),
            None => {}
        }
    }

    fn finish(&self) -> String {
        if self.0.is_empty() { String::new() } else { format!("?{}", self.0.join("&")) }
    }
}

/// `/api/v1[/namespaces/{ns}]/{plural}` or `/apis/{g}/{v}[/namespaces/{ns}]/{plural}`.
fn collection_path(resource: &ApiResource, namespace: Option<&str>) -> String {
    let mut path = if resource.group.is_empty() {
        format!("/api/{}", resource.version)
    } else {
        format!("/apis/{}/{}", resource.group, resource.version)
    };
    if resource.namespaced
        && let Some(ns) = namespace.filter(|n| !n.is_empty())
    {
        path.push_str("/namespaces/");
        path.push_str(&escape(ns));
    }
    path.push('/');
    path.push_str(&resource.plural);
    path
}

/// The path of one object (of its subresource when `sub` is not empty).
fn object_path(resource: &ApiResource, namespace: &str, name: &str, sub: &str) -> Result<String> {
    if name.is_empty() {
        return Err(StoreError::BadRequest(format!("a name is required to address {}", resource.plural)));
    }
    if resource.namespaced && namespace.is_empty() {
        return Err(StoreError::BadRequest("a namespace is required for namespaced resources".into()));
    }
    let mut path = collection_path(resource, Some(namespace));
    path.push('/');
    path.push_str(&escape(name));
    if !sub.is_empty() {
        path.push('/');
        path.push_str(sub);
    }
    Ok(path)
}

/// Sets apiVersion and kind when the server left them out (list items).
fn fill_type(resource: &ApiResource, object: &mut DynamicObject) {
    if object.api_version.is_empty() {
        object.api_version = resource.api_version();
    }
    if object.kind.is_empty() {
        object.kind = resource.kind.clone();
    }
}

/// The namespace a write goes to: the argument, else the object's.
fn write_namespace<'a>(resource: &ApiResource, namespace: &'a str, object: &'a DynamicObject) -> &'a str {
    if !resource.namespaced {
        ""
    } else if namespace.is_empty() {
        &object.metadata.namespace
    } else {
        namespace
    }
}

fn delete_body(options: &DeleteOptions) -> Result<Body> {
    let mut options = options.clone();
    if options.kind.is_empty() {
        options.kind = "DeleteOptions".into();
        options.api_version = "v1".into();
    }
    Body::json(&options)
}

/// A list answer (items may be `null`).
#[derive(Deserialize)]
struct ListBody {
    #[serde(default)]
    metadata: ListBodyMeta,
    #[serde(default)]
    items: Option<Vec<DynamicObject>>,
}

/// A list answer with its items left as JSON (slices of the body).
#[derive(Deserialize)]
struct RawListBody<'a> {
    #[serde(default)]
    metadata: ListBodyMeta,
    #[serde(default, borrow)]
    items: Option<Vec<&'a serde_json::value::RawValue>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ListBodyMeta {
    #[serde(default)]
    resource_version: String,
    #[serde(default, rename = "continue")]
    continue_token: String,
}

/// Whether an object returned by a delete is still there, being deleted.
fn looks_pending(object: &DynamicObject) -> bool {
    object.metadata.deletion_timestamp.is_some()
        && (!object.metadata.finalizers.is_empty() || object.metadata.deletion_grace_period_seconds.unwrap_or(0) > 0)
}

#[async_trait::async_trait]
impl ObjectApi for RemoteApi {
    fn resource(&self, gvr: &GroupVersionResource) -> Result<ApiResource> {
        if let Some(r) = self.cached(gvr) {
            return Ok(r);
        }
        // Synchronous: answer from the snapshot, and read the group-version
        // in the background so that a new custom resource is known soon.
        let due = {
            let mut last = self.inner.background.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let key = (gvr.group.clone(), gvr.version.clone());
            match last.get(&key) {
                Some(at) if at.elapsed() < BACKGROUND_REREAD => false,
                _ => {
                    last.insert(key, Instant::now());
                    true
                }
            }
        };
        if due && let Ok(handle) = tokio::runtime::Handle::try_current() {
            let this = self.clone();
            let gvr = gvr.clone();
            handle.spawn(async move {
                let _ = this.reread(&gvr).await;
            });
        }
        Err(StoreError::UnknownResource(gvr.to_string()))
    }

    fn resources(&self) -> Vec<ApiResource> {
        self.inner.catalog.read().unwrap_or_else(std::sync::PoisonError::into_inner).all()
    }

    async fn get(&self, gvr: &GroupVersionResource, namespace: &str, name: &str) -> Result<DynamicObject> {
        let resource = self.resolve(gvr).await?;
        let path = object_path(&resource, namespace, name, "")?;
        Ok(self.object(&resource, Method::GET, &path, None, None).await?.1)
    }

    async fn list(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> Result<ObjectPage> {
        let (resource, path, bytes) = self.list_body(gvr, namespace, options).await?;
        let list: ListBody = decode(self.server(), &path, &bytes)?;
        let mut items = list.items.unwrap_or_default();
        for item in &mut items {
            fill_type(&resource, item);
        }
        Ok(ObjectPage {
            items,
            resource_version: list.metadata.resource_version,
            continue_token: list.metadata.continue_token,
        })
    }

    async fn watch(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &WatchOptions,
    ) -> Result<DynamicWatchStream> {
        let resource = self.resolve(gvr).await?;
        let first = self.open_watch(&resource, namespace, options).await?;
        Ok(watch::stream::<DynamicObject>(self.clone(), resource, namespace.map(str::to_owned), options.clone(), first))
    }

    async fn list_raw(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> Result<RawPage> {
        let (_, path, bytes) = self.list_body(gvr, namespace, options).await?;
        let list: RawListBody<'_> = decode(self.server(), &path, &bytes)?;
        let items =
            list.items.unwrap_or_default().into_iter().map(|raw| bytes.slice_ref(raw.get().as_bytes())).collect();
        Ok(RawPage {
            items,
            resource_version: list.metadata.resource_version,
            continue_token: list.metadata.continue_token,
        })
    }

    async fn watch_raw(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &WatchOptions,
    ) -> Result<RawWatchStream> {
        let resource = self.resolve(gvr).await?;
        let first = self.open_watch(&resource, namespace, options).await?;
        Ok(watch::stream::<bytes::Bytes>(self.clone(), resource, namespace.map(str::to_owned), options.clone(), first))
    }

    async fn create(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        mut object: DynamicObject,
        user: &UserInfo,
    ) -> Result<DynamicObject> {
        let resource = self.resolve(gvr).await?;
        fill_type(&resource, &mut object);
        let ns = write_namespace(&resource, namespace, &object).to_owned();
        if resource.namespaced && ns.is_empty() {
            return Err(StoreError::BadRequest("a namespace is required for namespaced resources".into()));
        }
        let path = collection_path(&resource, Some(&ns));
        let body = Body::json(&object)?;
        Ok(self.object(&resource, Method::POST, &path, Some(&body), Some(user)).await?.1)
    }

    async fn update(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        mut object: DynamicObject,
        user: &UserInfo,
    ) -> Result<DynamicObject> {
        let resource = self.resolve(gvr).await?;
        fill_type(&resource, &mut object);
        let path = object_path(&resource, write_namespace(&resource, namespace, &object), &object.metadata.name, "")?;
        let body = Body::json(&object)?;
        Ok(self.object(&resource, Method::PUT, &path, Some(&body), Some(user)).await?.1)
    }

    async fn update_status(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        mut object: DynamicObject,
        user: &UserInfo,
    ) -> Result<DynamicObject> {
        let resource = self.resolve(gvr).await?;
        fill_type(&resource, &mut object);
        let ns = write_namespace(&resource, namespace, &object);
        let path = object_path(&resource, ns, &object.metadata.name, "status")?;
        let body = Body::json(&object)?;
        Ok(self.object(&resource, Method::PUT, &path, Some(&body), Some(user)).await?.1)
    }

    async fn finalize_namespace(&self, mut namespace: DynamicObject, user: &UserInfo) -> Result<DynamicObject> {
        let resource = self.resolve(&GroupVersionResource::new("", "v1", "namespaces")).await?;
        fill_type(&resource, &mut namespace);
        let path = object_path(&resource, "", &namespace.metadata.name, "finalize")?;
        let body = Body::json(&namespace)?;
        Ok(self.object(&resource, Method::PUT, &path, Some(&body), Some(user)).await?.1)
    }

    async fn patch(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        name: &str,
        patch: &Patch,
        status: bool,
        user: &UserInfo,
    ) -> Result<DynamicObject> {
        let resource = self.resolve(gvr).await?;
        let mut path = object_path(&resource, namespace, name, if status { "status" } else { "" })?;
        let (content_type, value) = match patch {
            Patch::Json(v) => ("application/json-patch+json", v),
            Patch::Merge(v) => ("application/merge-patch+json", v),
            Patch::Strategic(v) => ("application/strategic-merge-patch+json", v),
            Patch::Apply { configuration, field_manager, force } => {
                // JSON is YAML: the configuration is sent as it is.
                let mut query = Query::default();
                query.push("fieldManager", field_manager);
                if *force {
                    query.push("force", "true");
                }
                path.push_str(&query.finish());
                ("application/apply-patch+yaml", configuration)
            }
        };
        let body = Body { content_type, ..Body::json(value)? };
        Ok(self.object(&resource, Method::PATCH, &path, Some(&body), Some(user)).await?.1)
    }

    async fn delete(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        name: &str,
        options: &DeleteOptions,
        user: &UserInfo,
    ) -> Result<DeleteOutcome> {
        let resource = self.resolve(gvr).await?;
        let path = object_path(&resource, namespace, name, "")?;
        let body = delete_body(options)?;
        let (code, bytes) = self.call(&resource, Method::DELETE, &path, Some(&body), Some(user)).await?;
        let value: serde_json::Value = decode(self.server(), &path, &bytes)?;
        if value.get("kind").and_then(serde_json::Value::as_str) == Some("Status") {
            // Some servers answer a finished delete with a Success Status.
            let mut gone = DynamicObject::new(&resource.gvk(), name);
            gone.metadata.namespace = if resource.namespaced { namespace.to_owned() } else { String::new() };
            return Ok(DeleteOutcome::Deleted(gone));
        }
        let mut object: DynamicObject = decode(self.server(), &path, &bytes)?;
        fill_type(&resource, &mut object);
        if code == StatusCode::ACCEPTED {
            return Ok(DeleteOutcome::Pending(object));
        }
        if object.metadata.deletion_timestamp.is_none() {
            return Ok(DeleteOutcome::Deleted(object));
        }
        if !object.metadata.finalizers.is_empty() {
            return Ok(DeleteOutcome::Pending(object));
        }
        // 200 with a deletionTimestamp and no finalizers: kube-apiserver answers
        // a graceful (pod) deletion so; the object tells whether it is still there.
        match self.get(gvr, namespace, name).await {
            Ok(now) if now.metadata.uid == object.metadata.uid => Ok(DeleteOutcome::Pending(now)),
            Ok(_) => Ok(DeleteOutcome::Deleted(object)),
            Err(e) if e.is_not_found() => Ok(DeleteOutcome::Deleted(object)),
            Err(e) => Err(e),
        }
    }

    async fn delete_collection(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        list: &ListOptions,
        options: &DeleteOptions,
        user: &UserInfo,
    ) -> Result<Vec<DeleteOutcome>> {
        let resource = self.resolve(gvr).await?;
        let mut query = Query::default();
        query.list(list);
        let path = format!("{}{}", collection_path(&resource, namespace), query.finish());
        let body = delete_body(options)?;
        let (_, bytes) = self.call(&resource, Method::DELETE, &path, Some(&body), Some(user)).await?;
        let value: serde_json::Value = decode(self.server(), &path, &bytes)?;
        if value.get("kind").and_then(serde_json::Value::as_str) == Some("Status") {
            return Ok(Vec::new());
        }
        let list: ListBody = decode(self.server(), &path, &bytes)?;
        Ok(list
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|mut o| {
                fill_type(&resource, &mut o);
                if looks_pending(&o) { DeleteOutcome::Pending(o) } else { DeleteOutcome::Deleted(o) }
            })
            .collect())
    }

    async fn bind_pod(&self, namespace: &str, name: &str, node: &str, user: &UserInfo) -> Result<DynamicObject> {
        let gvr = GroupVersionResource::new("", "v1", "pods");
        let resource = self.resolve(&gvr).await?;
        if node.is_empty() {
            return Err(StoreError::BadRequest("a binding needs a target node name".into()));
        }
        let path = object_path(&resource, namespace, name, "binding")?;
        let binding = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        });
        self.call(&resource, Method::POST, &path, Some(&Body::json(&binding)?), Some(user)).await?;
        // The answer is a Status: read the bound pod.
        self.get(&gvr, namespace, name).await
    }
}
