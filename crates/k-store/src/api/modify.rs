//! [`modify`]: the read-change-write cycle every patch and apply is.

use k_api_types::{DynamicObject, GroupVersionResource};

use super::{ObjectApi, UserInfo};
use crate::error::StoreError;

/// How many times a change is tried again after losing a race.
const RETRIES: usize = 64;

/// Changes an existing object (or its status, with `status`): reads it,
/// lets `change` make the next one (`None`: nothing to write, the current
/// object is the answer) and writes that with the read revision as a
/// precondition, retrying from a fresh read on conflict. A next object that
/// carries a revision of its own is the caller's precondition: a conflict
/// with it is returned, not retried.
pub async fn modify<E: From<StoreError>>(
    api: &dyn ObjectApi,
    gvr: &GroupVersionResource,
    namespace: &str,
    name: &str,
    status: bool,
    user: &UserInfo,
    mut change: impl FnMut(&DynamicObject) -> Result<Option<DynamicObject>, E>,
) -> Result<DynamicObject, E> {
    let mut last = None;
    for _ in 0..RETRIES {
        let current = api.get(gvr, namespace, name).await?;
        let Some(mut next) = change(&current)? else { return Ok(current) };
        let rv = &current.metadata.resource_version;
        let precondition = !next.metadata.resource_version.is_empty() && next.metadata.resource_version != *rv;
        if next.metadata.resource_version.is_empty() {
            next.metadata.resource_version = rv.clone();
        }
        let written = if status {
            api.update_status(gvr, namespace, next, user).await
        } else {
            api.update(gvr, namespace, next, user).await
        };
        match written {
            Err(e) if e.is_conflict() && !precondition => {
                last = Some(e);
                tokio::task::yield_now().await;
            }
            other => return Ok(other?),
        }
    }
    Err(last.unwrap_or_else(|| StoreError::Internal("the write gave up after repeated conflicts".into())).into())
}
