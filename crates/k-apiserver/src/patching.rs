//! PATCH: JSON patch, merge patch, strategic merge patch (built-in kinds)
//! and server-side apply, each applied to the object read, then written with
//! the read revision as a precondition (retried on conflict) and the field
//! manager recorded.

use k_api_types::DynamicObject;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::handlers::{Call, Warnings};
use crate::writes;
use k_store::apply;

/// The media type of server-side apply.
pub(crate) const APPLY: &str = "application/apply-patch+yaml";

/// The patch content types the server accepts.
pub(crate) const PATCH_TYPES: &[&str] =
    &["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json", APPLY];

/// A parsed patch body.
enum Body {
    Json(json_patch::Patch),
    Merge(Value),
    Strategic(Value, k_store::patch::strategic::PatchMeta),
}

/// The outcome of a patch: the object, and whether it was created (an apply
/// of an object that did not exist).
pub(crate) struct Patched {
    pub(crate) object: DynamicObject,
    pub(crate) created: bool,
}

/// Applies the request's patch to the object (or its status).
pub(crate) async fn patch(call: &Call<'_>, subresource: &str, warnings: &mut Warnings) -> ApiResult<Patched> {
    let media = call.media_type();
    let force = force(call, &media)?;
    if media == APPLY {
        return server_side_apply(call, subresource, force, warnings).await;
    }
    let body = parse(call, &media)?;
    let object = writes::modify(call, subresource, |_, current| {
        let mut value = current.clone();
        match &body {
            Body::Json(ops) => json_patch::patch(&mut value, ops)
                .map_err(|e| ApiError::new(422, "Invalid", format!("the JSON patch could not be applied: {e}")))?,
            Body::Merge(m) => json_patch::merge(&mut value, m),
            Body::Strategic(p, meta) => {
                value = k_store::patch::strategic::strategic_merge(current, p, meta)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
            }
        }
        Ok(value)
    })
    .await?;
    Ok(Patched { object, created: false })
}

/// The `force` parameter, which only apply patches take.
fn force(call: &Call<'_>, media: &str) -> ApiResult<bool> {
    match call.query.get("force") {
        None | Some("" | "false") => Ok(false),
        Some("true") if media == APPLY => Ok(true),
        Some("true") => {
            Err(ApiError::bad_request("force: Invalid value: true: may not be specified for non-apply patch"))
        }
        Some(other) => Err(ApiError::bad_request(format!("force: Invalid value: {other:?}: must be true or false"))),
    }
}

fn parse(call: &Call<'_>, media: &str) -> ApiResult<Body> {
    let value = || -> ApiResult<Value> {
        serde_json::from_slice(&call.body)
            .map_err(|e| ApiError::bad_request(format!("the body of the request could not be decoded as JSON: {e}")))
    };
    match media {
        "application/json-patch+json" => serde_json::from_value(value()?)
            .map(Body::Json)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}"))),
        "application/merge-patch+json" => Ok(Body::Merge(value()?)),
        "application/strategic-merge-patch+json" => {
            let patch = value()?;
            if !patch.is_object() {
                return Err(ApiError::bad_request("a strategic merge patch must be a JSON object"));
            }
            match k_store::patch::strategic::PatchMeta::for_kind(&call.resource.gvk()) {
                Some(meta) => Ok(Body::Strategic(patch, meta)),
                None => Err(ApiError::unsupported_media_type(
                    call.content_type(),
                    &["application/json-patch+json", "application/merge-patch+json", APPLY],
                )),
            }
        }
        _ => Err(ApiError::unsupported_media_type(call.content_type(), PATCH_TYPES)),
    }
}

/// `application/apply-patch+yaml`: server-side apply, done by
/// [`k_store::apply::server_side_apply`] over the call's object API.
async fn server_side_apply(
    call: &Call<'_>,
    subresource: &str,
    force: bool,
    warnings: &mut Warnings,
) -> ApiResult<Patched> {
    if call.query.get("fieldManager").is_none_or(str::is_empty) {
        return Err(ApiError::bad_request("PATCH, application/apply-patch+yaml requires fieldManager to be set"));
    }
    let manager = call.field_manager()?;
    let text = std::str::from_utf8(&call.body).map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    let mut configuration = k_api_types::manifest::yaml_to_json(text)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
    let request = apply::ApplyRequest {
        resource: &call.resource,
        namespace: call.namespace(),
        name: &call.req.name,
        field_manager: &manager,
        force,
        subresource,
        user: &call.user,
    };
    apply::check_configuration(&request, &mut configuration)?;
    let _ = call.check_fields(&configuration, warnings).await?;
    let out = apply::server_side_apply(call.api.as_ref(), &request, configuration).await?;
    Ok(Patched { object: out.object, created: out.created })
}
