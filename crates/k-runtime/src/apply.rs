//! Server-side apply for reconcilers: declare the objects a controller
//! manages and let the server merge them.
//!
//! An [`Applier`] is a client and a field manager. [`Applier::apply`] sends
//! any typed object as that manager's whole configuration of it (the object
//! is created when missing; fields the manager applied before and leaves
//! out now are removed; fields others set stay), and
//! [`Applier::apply_status`] does the same for the `status` subresource.
//! A reconciler gets one named after its controller from
//! [`Context::applier`](crate::controller::Context::applier).
//!
//! Controllers apply with force by default (controller-runtime's advice):
//! they are the authority on the fields they set, and a conflict would only
//! stall them. [`Applier::without_force`] makes conflicts errors
//! ([`StoreError::ApplyConflict`]) instead.
//!
//! It works the same over the in-process `Store` (and so in
//! [`TestEnv`](crate::testing::TestEnv)) and over HTTP: the server-side
//! apply engine is k-store's ([`k_store::apply`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use k_api_types::core::v1::ConfigMap;
//! use k_api_types::Resource;
//! use k_runtime::apply::Applier;
//! use k_runtime::testing::TestEnv;
//!
//! let env = TestEnv::new();
//! let applier = Applier::new(env.api.clone(), "settings-controller");
//! let mut wanted = ConfigMap::named("settings");
//! wanted.metadata.namespace = "default".into();
//! wanted.data.insert("mode".into(), "fast".into());
//! let live = applier.apply(&wanted).await.unwrap();
//! assert_eq!(live.data["mode"], "fast");
//! assert_eq!(live.metadata.managed_fields[0].manager, "settings-controller");
//! # }
//! ```

use std::sync::Arc;

use k_api_types::Resource;
use k_store::api::ApplyParams;
use k_store::{Api, ObjectApi, StoreError};

/// Applies objects as one field manager; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct Applier {
    api: Arc<dyn ObjectApi>,
    params: ApplyParams,
}

impl Applier {
    /// Applies through `api` as `field_manager`, with force.
    pub fn new(api: Arc<dyn ObjectApi>, field_manager: impl Into<String>) -> Self {
        Applier { api, params: ApplyParams::new(field_manager).force() }
    }

    /// Fails with [`StoreError::ApplyConflict`] on fields other managers
    /// own, instead of taking them.
    #[must_use]
    pub fn without_force(mut self) -> Self {
        self.params.force = false;
        self
    }

    /// The field manager.
    pub fn field_manager(&self) -> &str {
        &self.params.field_manager
    }

    /// Applies `object` (its namespace and name say which object; a
    /// namespaced kind needs a namespace) and returns the object as stored.
    pub async fn apply<K: Resource>(&self, object: &K) -> Result<K, StoreError> {
        self.api_for(object)?.apply(object, &self.params).await
    }

    /// Applies `object`'s status through the `status` subresource; the
    /// object must exist.
    pub async fn apply_status<K: Resource>(&self, object: &K) -> Result<K, StoreError> {
        self.api_for(object)?.apply_status(object, &self.params).await
    }

    fn api_for<K: Resource>(&self, object: &K) -> Result<Api<K>, StoreError> {
        let meta = object.metadata();
        if meta.name.is_empty() {
            return Err(StoreError::BadRequest(format!("an applied {} needs a name", K::INFO.kind)));
        }
        let namespace = match (K::INFO.namespaced, meta.namespace.is_empty()) {
            (true, true) => {
                return Err(StoreError::BadRequest(format!(
                    "an applied {} needs a namespace ({:?} has none)",
                    K::INFO.kind,
                    meta.name
                )));
            }
            (true, false) => Some(meta.namespace.clone()),
            (false, _) => None,
        };
        Ok(Api::with_client(Arc::clone(&self.api), namespace))
    }
}
