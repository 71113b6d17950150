//! PATCH: JSON patch and merge patch (applied by the object API), and
//! strategic merge patch for built-in kinds (applied here, then written with
//! the read revision as a precondition, retrying on conflict).

use k_api_types::DynamicObject;
use k_store::api::Patch;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::handlers::Call;

/// The patch content types the server accepts.
pub(crate) const PATCH_TYPES: &[&str] =
    &["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"];

/// How many times a strategic merge patch is retried on conflict.
const RETRIES: usize = 64;

/// Applies the request's patch to the object (or its status).
pub(crate) async fn patch(call: &Call<'_>, status: bool) -> ApiResult<DynamicObject> {
    let media = call.media_type();
    let value = || -> ApiResult<Value> {
        serde_json::from_slice(&call.body)
            .map_err(|e| ApiError::bad_request(format!("the body of the request could not be decoded as JSON: {e}")))
    };
    let gvr = call.gvr();
    let ns = call.namespace();
    let name = &call.req.name;
    let patch = match media.as_str() {
        "application/json-patch+json" => Patch::Json(value()?),
        "application/merge-patch+json" => Patch::Merge(value()?),
        "application/strategic-merge-patch+json" => {
            let patch = value()?;
            if !patch.is_object() {
                return Err(ApiError::bad_request("a strategic merge patch must be a JSON object"));
            }
            let Some(meta) = crate::patch::strategic::PatchMeta::for_kind(&call.resource.gvk()) else {
                return Err(ApiError::unsupported_media_type(
                    call.content_type(),
                    &["application/json-patch+json", "application/merge-patch+json"],
                ));
            };
            let mut last = None;
            for _ in 0..RETRIES {
                let current = call.api.get(&gvr, ns, name).await?;
                let original = serde_json::to_value(&current).map_err(|e| ApiError::internal(e.to_string()))?;
                let merged = crate::patch::strategic::strategic_merge(&original, &patch, &meta)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                let mut next: DynamicObject = serde_json::from_value(merged)
                    .map_err(|e| ApiError::bad_request(format!("the patched object does not decode: {e}")))?;
                let precondition = next.metadata.resource_version != current.metadata.resource_version;
                if !precondition {
                    next.metadata.resource_version = current.metadata.resource_version.clone();
                }
                let written = if status {
                    call.api.update_status(&gvr, ns, next, &call.user).await
                } else {
                    call.api.update(&gvr, ns, next, &call.user).await
                };
                match written {
                    Err(e) if e.is_conflict() && !precondition => last = Some(e),
                    other => return Ok(other?),
                }
            }
            return Err(last.map(ApiError::from).unwrap_or_else(|| ApiError::internal("patch gave up")));
        }
        _ => {
            let mut supported = PATCH_TYPES.to_vec();
            supported.push("application/apply-patch+yaml");
            return Err(ApiError::unsupported_media_type(call.content_type(), &supported));
        }
    };
    Ok(call.api.patch(&gvr, ns, name, &patch, status, &call.user).await?)
}
