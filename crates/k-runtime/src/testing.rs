//! A test environment for operator authors: an in-process API server's
//! worth of storage (the k-store memory store, every built-in kind, CRDs
//! served as they are created), a fake clock, and helpers to apply
//! manifests and wait for conditions. No etcd, no binaries, no network.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use k_api_types::core::v1::ConfigMap;
//! use k_runtime::testing::TestEnv;
//! use std::time::Duration;
//!
//! let env = TestEnv::new();
//! env.apply(r#"
//! apiVersion: v1
//! kind: ConfigMap
//! metadata: {name: settings, namespace: default}
//! data: {mode: fast}
//! "#).await.unwrap();
//! let cm: ConfigMap = env
//!     .wait_for("default", "settings", |c: &ConfigMap| c.data.contains_key("mode"), Duration::from_secs(5))
//!     .await
//!     .unwrap();
//! assert_eq!(cm.data["mode"], "fast");
//! # }
//! ```

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k_api_types::meta::WatchEvent;
use k_api_types::{DynamicObject, Resource};
use k_store::api::WatchOptions;
use k_store::{ObjectApi, Store, StoreError};

use crate::clock::FakeClock;
use crate::manager::Manager;

/// Why a helper failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The manifest does not parse.
    #[error("bad manifest: {0}")]
    Manifest(String),
    /// A kind of the manifest is not served.
    #[error("{0} is not served")]
    NotServed(String),
    /// The store refused a write or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The condition did not hold in time.
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, String),
}

/// The environment: a store, its API and a fake clock.
#[derive(Clone, Debug)]
pub struct TestEnv {
    /// The store (memory backend).
    pub store: Store,
    /// The same store as the object API controllers take.
    pub api: Arc<dyn ObjectApi>,
    /// A clock for the components under test; it moves only when advanced.
    pub clock: FakeClock,
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    /// A fresh, empty environment.
    pub fn new() -> Self {
        let store = Store::in_memory();
        TestEnv { api: Arc::new(store.clone()), store, clock: FakeClock::new() }
    }

    /// A manager over this environment's API.
    pub fn manager(&self) -> Manager {
        Manager::new(self.api.clone())
    }

    /// Creates each object of a YAML or JSON manifest, or replaces it if it
    /// exists (as `kubectl apply` would leave it). CustomResourceDefinitions
    /// are served at once, so a manifest may define a CRD and then use it.
    ///
    /// # Errors
    /// The first failure; the objects before it stay written.
    pub async fn apply(&self, manifest: &str) -> Result<Vec<DynamicObject>, Error> {
        let documents = k_api_types::manifest::parse_documents(manifest).map_err(|e| Error::Manifest(e.to_string()))?;
        let mut out = Vec::new();
        for document in documents {
            let object: DynamicObject =
                serde_json::from_value(document.value).map_err(|e| Error::Manifest(e.to_string()))?;
            let resource = self
                .api
                .resources()
                .into_iter()
                .find(|r| r.api_version() == object.api_version && r.kind == object.kind)
                .ok_or_else(|| Error::NotServed(format!("{} {}", object.api_version, object.kind)))?;
            let gvr = resource.gvr();
            let namespace = if resource.namespaced && object.metadata.namespace.is_empty() {
                "default".to_owned()
            } else {
                object.metadata.namespace.clone()
            };
            let written = match self.api.create(&gvr, &namespace, object.clone(), &Default::default()).await {
                Err(e) if e.is_already_exists() => {
                    let current = self.api.get(&gvr, &namespace, &object.metadata.name).await?;
                    let mut replacement = object;
                    replacement.metadata.resource_version = current.metadata.resource_version;
                    self.api.update(&gvr, &namespace, replacement, &Default::default()).await?
                }
                other => other?,
            };
            out.push(written);
        }
        Ok(out)
    }

    /// Waits until the object `namespace/name` of kind `K` exists and
    /// `condition` holds for it, and returns it.
    ///
    /// # Errors
    /// [`Error::Timeout`] when `timeout` passes first (real time: the
    /// components under test run for real).
    pub async fn wait_for<K: Resource>(
        &self,
        namespace: &str,
        name: &str,
        condition: impl Fn(&K) -> bool,
        timeout: Duration,
    ) -> Result<K, Error> {
        let gvr = K::INFO.gvr();
        let what = format!("{} {namespace}/{name}", K::INFO.kind);
        let wait = async {
            let options = WatchOptions {
                field_selector: Some(format!("metadata.name={name}")),
                send_initial_events: true,
                ..Default::default()
            };
            let ns = if K::INFO.namespaced { Some(namespace) } else { None };
            let mut events = self.api.watch_shared(&gvr, ns, &options).await?;
            while let Some(event) = events.next().await {
                if let WatchEvent::Added(o) | WatchEvent::Modified(o) = event?.event
                    && let Ok(object) = o.to_typed::<K>()
                    && condition(&object)
                {
                    return Ok(object);
                }
            }
            Err(Error::Timeout(timeout, what.clone()))
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout(timeout, what)),
        }
    }
}

#[cfg(test)]
mod tests {
    use k_api_types::core::v1::ConfigMap;

    use super::*;

    #[tokio::test]
    async fn applies_crds_and_their_objects_and_waits() {
        let env = TestEnv::new();
        let written = env
            .apply(
                r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.org}
spec:
  group: example.org
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, properties: {size: {type: integer, default: 3}}}
---
apiVersion: example.org/v1
kind: Widget
metadata: {name: w, namespace: default}
spec: {}
"#,
            )
            .await
            .unwrap();
        assert_eq!(written.len(), 2);
        assert_eq!(written[1].data["spec"]["size"], 3, "served with its schema's defaults");

        // Applying again replaces.
        env.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '1'}\n").await.unwrap();
        env.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '2'}\n").await.unwrap();
        let cm: ConfigMap =
            env.wait_for("default", "c", |c: &ConfigMap| c.data["a"] == "2", Duration::from_secs(5)).await.unwrap();
        assert_eq!(cm.data["a"], "2");

        // A condition that only a later change satisfies.
        let waiting = {
            let env = env.clone();
            tokio::spawn(async move {
                env.wait_for(
                    "default",
                    "c",
                    |c: &ConfigMap| c.data.get("a").is_some_and(|a| a == "3"),
                    Duration::from_secs(5),
                )
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        env.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '3'}\n").await.unwrap();
        assert_eq!(waiting.await.unwrap().unwrap().data["a"], "3");

        let err = env.wait_for("default", "nope", |_: &ConfigMap| true, Duration::from_millis(100)).await.unwrap_err();
        assert!(matches!(err, Error::Timeout(..)), "{err}");
        let err = env.apply("apiVersion: v9\nkind: Nothing\nmetadata: {name: x}\n").await.unwrap_err();
        assert!(matches!(err, Error::NotServed(_)), "{err}");
    }
}
