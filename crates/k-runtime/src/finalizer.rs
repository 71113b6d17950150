//! Finalizers: act on an object's deletion before it goes.
//!
//! [`finalizer`] wraps a reconcile: it first adds the named finalizer (so
//! the object cannot disappear unnoticed), then hands the object to the
//! reconciler as [`Event::Apply`] while it lives and as [`Event::Cleanup`]
//! once it is being deleted, and removes the finalizer after a successful
//! cleanup — which lets the deletion complete. Both writes re-read and
//! retry on conflict, and touch nothing but the finalizer list.

use std::future::Future;
use std::sync::Arc;

use k_api_types::Resource;
use k_store::{Api, StoreError};

use crate::controller::Action;

/// What the reconciler is asked to do.
#[derive(Debug)]
pub enum Event<K> {
    /// The object lives: make the world match it.
    Apply(Arc<K>),
    /// The object is being deleted: clean up what it owns outside the API.
    Cleanup(Arc<K>),
}

/// A finalizer's failure.
#[derive(Debug, thiserror::Error)]
pub enum Error<E: std::error::Error + 'static> {
    /// The reconciler failed (the finalizer stays).
    #[error("reconcile failed: {0}")]
    Reconcile(#[source] E),
    /// Adding the finalizer failed.
    #[error("adding the finalizer failed: {0}")]
    Add(#[source] StoreError),
    /// Removing the finalizer failed.
    #[error("removing the finalizer failed: {0}")]
    Remove(#[source] StoreError),
}

/// Runs `reconcile` for `object` under the finalizer `name` (such as
/// `example.com/cleanup`); see the [module docs](self).
pub async fn finalizer<K, E, F, Fut>(api: &Api<K>, name: &str, object: Arc<K>, reconcile: F) -> Result<Action, Error<E>>
where
    K: Resource,
    E: std::error::Error + 'static,
    F: FnOnce(Event<K>) -> Fut,
    Fut: Future<Output = Result<Action, E>>,
{
    let meta = object.metadata();
    let has = meta.finalizers.iter().any(|f| f == name);
    match (meta.deletion_timestamp.is_some(), has) {
        // Being deleted, and ours is done (or never was): nothing to do.
        (true, false) => Ok(Action::AwaitChange),
        (false, false) => {
            api.guaranteed_update(&meta.name, |o| {
                if !o.metadata().finalizers.iter().any(|f| f == name) {
                    o.metadata_mut().finalizers.push(name.to_owned());
                }
            })
            .await
            .map_err(Error::Add)?;
            // The update wakes the controller again, which then applies.
            Ok(Action::AwaitChange)
        }
        (false, true) => reconcile(Event::Apply(object)).await.map_err(Error::Reconcile),
        (true, true) => {
            let object_name = meta.name.clone();
            let action = reconcile(Event::Cleanup(object)).await.map_err(Error::Reconcile)?;
            match api.guaranteed_update(&object_name, |o| o.metadata_mut().finalizers.retain(|f| f != name)).await {
                Ok(_) => Ok(action),
                // Already gone: the deletion completed.
                Err(e) if e.is_not_found() => Ok(action),
                Err(e) => Err(Error::Remove(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use k_api_types::core::v1::ConfigMap;
    use k_store::Store;

    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cleanup failed")]
    struct CleanupFailed;

    #[tokio::test]
    async fn adds_applies_cleans_up_then_lets_the_object_go() {
        let store = Store::in_memory();
        let api: Api<ConfigMap> = Api::namespaced(store.clone(), "ns");
        let mut cm = ConfigMap::default();
        cm.metadata.name = "a".into();
        cm.metadata.finalizers = vec!["someone.else/keep".into()];
        api.create(&cm).await.unwrap();
        let seen = Mutex::new(Vec::new());
        let run = |object: ConfigMap| {
            let seen = &seen;
            let api = &api;
            async move {
                finalizer(api, "example.com/cleanup", Arc::new(object), |event| async move {
                    seen.lock().unwrap().push(match event {
                        Event::Apply(_) => "apply",
                        Event::Cleanup(_) => "cleanup",
                    });
                    Ok::<_, CleanupFailed>(Action::AwaitChange)
                })
                .await
            }
        };
        run(api.get("a").await.unwrap()).await.unwrap();
        let after_add = api.get("a").await.unwrap();
        assert_eq!(after_add.metadata.finalizers, ["someone.else/keep", "example.com/cleanup"]);
        assert!(seen.lock().unwrap().is_empty(), "the first pass only adds the finalizer");
        run(after_add).await.unwrap();
        assert_eq!(*seen.lock().unwrap(), ["apply"]);

        api.delete("a", &Default::default()).await.unwrap();
        let deleting = api.get("a").await.unwrap();
        assert!(deleting.metadata.deletion_timestamp.is_some());
        run(deleting).await.unwrap();
        assert_eq!(*seen.lock().unwrap(), ["apply", "cleanup"]);
        let left = api.get("a").await.unwrap();
        assert_eq!(left.metadata.finalizers, ["someone.else/keep"], "only ours is removed");
        // The other finalizer goes: the object is deleted.
        api.guaranteed_update("a", |o| o.metadata.finalizers.clear()).await.unwrap_or_default();
        assert!(api.get_opt("a").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_failed_cleanup_keeps_the_finalizer() {
        let store = Store::in_memory();
        let api: Api<ConfigMap> = Api::namespaced(store.clone(), "ns");
        let mut cm = ConfigMap::default();
        cm.metadata.name = "a".into();
        cm.metadata.finalizers = vec!["example.com/cleanup".into()];
        api.create(&cm).await.unwrap();
        api.delete("a", &Default::default()).await.unwrap();
        let deleting = Arc::new(api.get("a").await.unwrap());
        let result =
            finalizer(&api, "example.com/cleanup", deleting, |_| async { Err::<Action, _>(CleanupFailed) }).await;
        assert!(matches!(result, Err(Error::Reconcile(CleanupFailed))));
        assert_eq!(api.get("a").await.unwrap().metadata.finalizers, ["example.com/cleanup"]);
    }
}
