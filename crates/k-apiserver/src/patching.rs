//! PATCH: JSON patch, merge patch, strategic merge patch (built-in kinds)
//! and server-side apply, each applied to the object read, then written with
//! the read revision as a precondition (retried on conflict) and the field
//! manager recorded.

use k_api_types::DynamicObject;
use serde_json::Value;

use crate::apply;
use crate::error::{ApiError, ApiResult};
use crate::handlers::{Call, Warnings};
use crate::writes::{self, Change, ShapeSource};

/// The media type of server-side apply.
pub(crate) const APPLY: &str = "application/apply-patch+yaml";

/// The patch content types the server accepts.
pub(crate) const PATCH_TYPES: &[&str] =
    &["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json", APPLY];

/// A parsed patch body.
enum Body {
    Json(json_patch::Patch),
    Merge(Value),
    Strategic(Value, crate::patch::strategic::PatchMeta),
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
    let object = writes::modify(call, subresource, |_, current, _| {
        let mut value = current.clone();
        match &body {
            Body::Json(ops) => json_patch::patch(&mut value, ops)
                .map_err(|e| ApiError::new(422, "Invalid", format!("the JSON patch could not be applied: {e}")))?,
            Body::Merge(m) => json_patch::merge(&mut value, m),
            Body::Strategic(p, meta) => {
                value = crate::patch::strategic::strategic_merge(current, p, meta)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
            }
        }
        Ok(Change::Write(value))
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
            match crate::patch::strategic::PatchMeta::for_kind(&call.resource.gvk()) {
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

/// The applied configuration of an apply patch, checked against the URL.
async fn configuration(call: &Call<'_>, warnings: &mut Warnings) -> ApiResult<Value> {
    let text = std::str::from_utf8(&call.body).map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    let mut applied = k_api_types::manifest::yaml_to_json(text)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
    let Value::Object(map) = &mut applied else {
        return Err(ApiError::bad_request("an apply patch must be a YAML or JSON object"));
    };
    let api_version = map.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
    if api_version.is_empty() || kind.is_empty() {
        return Err(ApiError::bad_request("invalid object type: apply patches must set apiVersion and kind"));
    }
    let expected = call.resource.api_version();
    if api_version != expected || kind != call.resource.kind {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({expected})"
        )));
    }
    let meta = map.entry("metadata").or_insert_with(|| Value::Object(Default::default()));
    let Value::Object(meta) = meta else { return Err(ApiError::bad_request("metadata must be an object")) };
    match meta.get("name").and_then(Value::as_str) {
        None | Some("") => {
            meta.insert("name".into(), Value::String(call.req.name.clone()));
        }
        Some(name) if name != call.req.name => {
            return Err(ApiError::bad_request("the name of the object does not match the name on the URL"));
        }
        Some(_) => {}
    }
    if call.resource.namespaced {
        match meta.get("namespace").and_then(Value::as_str) {
            None | Some("") => {}
            Some(ns) if ns != call.req.namespace => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            Some(_) => {}
        }
    }
    if meta.get("managedFields").is_some_and(|m| !m.is_null()) {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    let _ = call.check_fields(&applied, warnings).await?;
    Ok(applied)
}

/// `application/apply-patch+yaml`: server-side apply.
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
    let applied = configuration(call, warnings).await?;
    let gvr = call.gvr();
    match call.api.get(&gvr, call.namespace(), &call.req.name).await {
        Err(e) if e.is_not_found() && subresource.is_empty() => {
            let source = ShapeSource::of(call).await;
            let cx = call.managed_context(&source, subresource);
            let out = apply::apply(&[], None, &applied, &manager, force, &cx)
                .map_err(|c| writes::conflict_error(call, &c))?;
            let mut object: DynamicObject = serde_json::from_value(out.object)
                .map_err(|e| ApiError::bad_request(format!("the applied object does not decode: {e}")))?;
            object.metadata.managed_fields = out.managed_fields;
            if call.resource.namespaced && object.metadata.namespace.is_empty() {
                object.metadata.namespace = call.req.namespace.clone();
            }
            match call.api.create(&gvr, call.namespace(), object, &call.user).await {
                Ok(object) => return Ok(Patched { object, created: true }),
                // Created meanwhile: apply to it as to any live object.
                Err(e) if e.is_already_exists() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(e) => return Err(e.into()),
        Ok(_) => {}
    }
    let object = writes::modify(call, subresource, |current, value, source| {
        let cx = call.managed_context(source, subresource);
        let out = apply::apply(&current.metadata.managed_fields, Some(value), &applied, &manager, force, &cx)
            .map_err(|c| writes::conflict_error(call, &c))?;
        if !out.changed {
            return Ok(Change::Keep);
        }
        Ok(Change::WriteManaged(out.object, out.managed_fields))
    })
    .await?;
    Ok(Patched { object, created: false })
}
