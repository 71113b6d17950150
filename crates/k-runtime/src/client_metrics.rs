//! Client request metrics: an [`ObjectApi`] that counts and times every
//! request it passes on, in-process or over HTTP alike.
//!
//! The [`Manager`](crate::manager::Manager) wraps its client in one, so
//! every controller's and informer's requests are measured:
//!
//! - `client_requests_total{verb, resource, code}`: requests by verb
//!   (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
//!   `deletecollection`, `bind`), resource (`pods`, `deployments.apps`…)
//!   and outcome (the HTTP status code the answer has or maps to: 200,
//!   201, 404, 409…);
//! - `client_request_duration_seconds{verb, resource}`: how long each took
//!   (for a watch, until its stream was open).
//!
//! ```
//! # use std::sync::Arc;
//! use k_runtime::client_metrics::MeteredApi;
//! use prometheus_client::registry::Registry;
//!
//! let store = k_store::Store::in_memory();
//! let api = MeteredApi::new(Arc::new(store));
//! let mut registry = Registry::default();
//! api.register(&mut registry);
//! ```

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use k_api_types::meta::DeleteOptions;
use k_api_types::{ApiResource, DynamicObject, GroupVersionResource};
use k_store::api::{
    DeleteOutcome, DynamicWatchStream, ListOptions, ObjectPage, Patch, RawPage, RawWatchStream, SharedWatchStream,
    UserInfo, WatchOptions,
};
use k_store::{ObjectApi, Result};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    verb: &'static str,
    resource: String,
    code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurationLabels {
    verb: &'static str,
    resource: String,
}

type Durations = Family<DurationLabels, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    // 0.5 ms to about 65 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 18))
}

/// The metrics a [`MeteredApi`] records (shared by its clones and its dry-run view).
#[derive(Clone)]
struct Metrics {
    requests: Family<RequestLabels, Counter>,
    durations: Durations,
}

/// An [`ObjectApi`] that records request metrics (see the [module docs](self))
/// and passes every call on to the API it wraps.
#[derive(Clone)]
pub struct MeteredApi {
    inner: Arc<dyn ObjectApi>,
    metrics: Metrics,
}

impl fmt::Debug for MeteredApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeteredApi").field("inner", &self.inner).finish_non_exhaustive()
    }
}

/// The resource label: `plural` or `plural.group`.
fn resource(gvr: &GroupVersionResource) -> String {
    if gvr.group.is_empty() { gvr.resource.clone() } else { format!("{}.{}", gvr.resource, gvr.group) }
}

impl MeteredApi {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn ObjectApi>) -> Self {
        MeteredApi {
            inner,
            metrics: Metrics {
                requests: Family::default(),
                durations: Family::new_with_constructor(duration_histogram as fn() -> Histogram),
            },
        }
    }

    /// The wrapped API.
    pub fn inner(&self) -> &Arc<dyn ObjectApi> {
        &self.inner
    }

    /// Adds the metrics to `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "client_requests",
            "Object API requests by verb, resource and status code",
            self.metrics.requests.clone(),
        );
        registry.register(
            "client_request_duration_seconds",
            "Object API request durations by verb and resource",
            self.metrics.durations.clone(),
        );
    }

    /// Runs one request and records it; `ok` is the status code of a success.
    async fn measure<T>(
        &self,
        verb: &'static str,
        gvr: &GroupVersionResource,
        ok: u16,
        request: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let started = Instant::now();
        let result = request.await;
        let resource = resource(gvr);
        let code = match &result {
            Ok(_) => ok,
            Err(e) => e.code(),
        };
        self.metrics
            .durations
            .get_or_create(&DurationLabels { verb, resource: resource.clone() })
            .observe(started.elapsed().as_secs_f64());
        self.metrics.requests.get_or_create(&RequestLabels { verb, resource, code }).inc();
        result
    }
}

#[async_trait::async_trait]
impl ObjectApi for MeteredApi {
    fn resource(&self, gvr: &GroupVersionResource) -> Result<ApiResource> {
        self.inner.resource(gvr)
    }

    fn resources(&self) -> Vec<ApiResource> {
        self.inner.resources()
    }

    fn dry_run(&self) -> Option<Arc<dyn ObjectApi>> {
        let inner = self.inner.dry_run()?;
        Some(Arc::new(MeteredApi { inner, metrics: self.metrics.clone() }))
    }

    async fn get(&self, gvr: &GroupVersionResource, namespace: &str, name: &str) -> Result<DynamicObject> {
        self.measure("get", gvr, 200, self.inner.get(gvr, namespace, name)).await
    }

    async fn list(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> Result<ObjectPage> {
        self.measure("list", gvr, 200, self.inner.list(gvr, namespace, options)).await
    }

    async fn list_raw(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> Result<RawPage> {
        self.measure("list", gvr, 200, self.inner.list_raw(gvr, namespace, options)).await
    }

    async fn watch(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &WatchOptions,
    ) -> Result<DynamicWatchStream> {
        self.measure("watch", gvr, 200, self.inner.watch(gvr, namespace, options)).await
    }

    async fn watch_shared(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &WatchOptions,
    ) -> Result<SharedWatchStream> {
        self.measure("watch", gvr, 200, self.inner.watch_shared(gvr, namespace, options)).await
    }

    async fn watch_raw(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &WatchOptions,
    ) -> Result<RawWatchStream> {
        self.measure("watch", gvr, 200, self.inner.watch_raw(gvr, namespace, options)).await
    }

    async fn create(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        object: DynamicObject,
        user: &UserInfo,
    ) -> Result<DynamicObject> {
        self.measure("create", gvr, 201, self.inner.create(gvr, namespace, object, user)).await
    }

    async fn update(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        object: DynamicObject,
        user: &UserInfo,
    ) -> Result<DynamicObject> {
        self.measure("update", gvr, 200, self.inner.update(gvr, namespace, object, user)).await
    }

    async fn update_status(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        object: DynamicObject,
        user: &UserInfo,
    ) -> Result<DynamicObject> {
        self.measure("update", gvr, 200, self.inner.update_status(gvr, namespace, object, user)).await
    }

    async fn finalize_namespace(&self, namespace: DynamicObject, user: &UserInfo) -> Result<DynamicObject> {
        let gvr = GroupVersionResource::new("", "v1", "namespaces");
        self.measure("update", &gvr, 200, self.inner.finalize_namespace(namespace, user)).await
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
        self.measure("patch", gvr, 200, self.inner.patch(gvr, namespace, name, patch, status, user)).await
    }

    async fn delete(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        name: &str,
        options: &DeleteOptions,
        user: &UserInfo,
    ) -> Result<DeleteOutcome> {
        self.measure("delete", gvr, 200, self.inner.delete(gvr, namespace, name, options, user)).await
    }

    async fn delete_collection(
        &self,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        list: &ListOptions,
        options: &DeleteOptions,
        user: &UserInfo,
    ) -> Result<Vec<DeleteOutcome>> {
        self.measure("deletecollection", gvr, 200, self.inner.delete_collection(gvr, namespace, list, options, user))
            .await
    }

    async fn bind_pod(&self, namespace: &str, name: &str, node: &str, user: &UserInfo) -> Result<DynamicObject> {
        let pods = GroupVersionResource::new("", "v1", "pods");
        self.measure("bind", &pods, 201, self.inner.bind_pod(namespace, name, node, user)).await
    }
}

#[cfg(test)]
mod tests {
    use k_api_types::Resource;
    use k_api_types::core::v1::ConfigMap;
    use k_store::{Api, Store, StoreError};

    use super::*;

    /// Successes and failures are counted by verb, resource and code, and timed.
    #[tokio::test]
    async fn requests_are_counted_and_timed() {
        let api = Arc::new(MeteredApi::new(Arc::new(Store::in_memory())));
        let mut registry = Registry::default();
        api.register(&mut registry);
        let cms: Api<ConfigMap> = Api::with_client(api.clone(), Some("ns".into()));
        let mut cm = ConfigMap::default();
        cm.metadata.name = "a".into();
        cms.create(&cm).await.unwrap();
        assert!(matches!(cms.create(&cm).await, Err(StoreError::AlreadyExists { .. })));
        cms.get("a").await.unwrap();
        assert!(cms.get("missing").await.is_err());
        let _ = api.watch(&ConfigMap::INFO.gvr(), Some("ns"), &WatchOptions::default()).await.unwrap();

        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            r#"client_requests_total{verb="create",resource="configmaps",code="201"} 1"#,
            r#"client_requests_total{verb="create",resource="configmaps",code="409"} 1"#,
            r#"client_requests_total{verb="get",resource="configmaps",code="200"} 1"#,
            r#"client_requests_total{verb="get",resource="configmaps",code="404"} 1"#,
            r#"client_requests_total{verb="watch",resource="configmaps",code="200"} 1"#,
            r#"client_request_duration_seconds_count{verb="create",resource="configmaps"} 2"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
    }
}
