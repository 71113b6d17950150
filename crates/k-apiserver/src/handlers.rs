//! The verbs over resources: get, list, watch, create, update, patch,
//! delete, deletecollection, and the status and scale subresources.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, Response, StatusCode};
use k_api_types::meta::{DeleteOptions, ListMeta, Scale, ScaleSpec, ScaleStatus, WatchEvent};
use k_api_types::{ApiResource, DynamicObject, GroupVersionResource, Object};
use k_store::api::{DeleteOutcome, ListOptions, ObjectApi, Patch, ResourceVersionMatch, UserInfo, WatchOptions};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::request::{Query, ResourceRequest, Verb};
use crate::response::{self, Accept, Body};
use crate::watch;

/// Everything a handler needs about one request.
pub(crate) struct Call<'a> {
    pub(crate) api: &'a Arc<dyn ObjectApi>,
    pub(crate) req: &'a ResourceRequest,
    pub(crate) resource: ApiResource,
    pub(crate) query: &'a Query,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) accept: Accept,
    pub(crate) body: Bytes,
    pub(crate) user: UserInfo,
    pub(crate) watch_timeout: u64,
    pub(crate) log_source: Option<Arc<dyn crate::pods::LogSource>>,
    pub(crate) config: &'a crate::ServerConfig,
}

/// Warnings for the `Warning` response header.
pub(crate) type Warnings = Vec<String>;

impl Call<'_> {
    pub(crate) fn gvr(&self) -> GroupVersionResource {
        self.resource.gvr()
    }

    /// The namespace the verb works in ("" for cluster-scoped kinds).
    pub(crate) fn namespace(&self) -> &str {
        if self.resource.namespaced { &self.req.namespace } else { "" }
    }

    /// The namespace of a collection (None = all namespaces).
    pub(crate) fn collection_namespace(&self) -> Option<&str> {
        if self.resource.namespaced && !self.req.namespace.is_empty() { Some(&self.req.namespace) } else { None }
    }

    pub(crate) fn content_type(&self) -> &str {
        self.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json")
    }

    pub(crate) fn media_type(&self) -> String {
        self.content_type().split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
    }

    /// The request body as JSON (JSON or YAML bodies).
    pub(crate) fn body_value(&self) -> ApiResult<Value> {
        let media = self.media_type();
        match media.as_str() {
            "application/json" | "" | "*/*" => serde_json::from_slice(&self.body).map_err(|e| {
                ApiError::bad_request(format!("the body of the request could not be decoded as JSON: {e}"))
            }),
            "application/yaml" | "application/x-yaml" | "text/yaml" => {
                let text =
                    std::str::from_utf8(&self.body).map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
                k_api_types::manifest::yaml_to_json(text).map_err(|e| {
                    ApiError::bad_request(format!("the body of the request could not be decoded as YAML: {e}"))
                })
            }
            crate::protobuf::MEDIA_TYPE => {
                crate::protobuf::decode(&self.body).map_err(|e| ApiError::bad_request(e.to_string()))
            }
            _ => Err(ApiError::unsupported_media_type(
                self.content_type(),
                &["application/json", "application/yaml", crate::protobuf::MEDIA_TYPE],
            )),
        }
    }

    /// Decodes an object from the body, checking its apiVersion/kind and
    /// applying `fieldValidation` (Strict: unknown fields are a 400; Warn:
    /// warnings; Ignore: dropped). Returns the typed object too when
    /// `fieldValidation` decoded it for its kind.
    async fn body_object(&self, warnings: &mut Warnings) -> ApiResult<(DynamicObject, Option<Object>)> {
        let value = self.body_value()?;
        if !value.is_object() {
            return Err(ApiError::bad_request("the body of the request must be a JSON object"));
        }
        let api_version = value.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        let kind = value.get("kind").and_then(Value::as_str).unwrap_or_default();
        let expected = self.resource.api_version();
        if api_version.is_empty() || kind.is_empty() {
            return Err(ApiError::bad_request(format!(
                "Object 'Kind' is missing in '{}'",
                String::from_utf8_lossy(&self.body).chars().take(200).collect::<String>()
            )));
        }
        if api_version != expected || kind != self.resource.kind {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({api_version}) does not match the expected API version ({expected})"
            )));
        }
        let typed = self.check_fields(&value, warnings).await?;
        let object = serde_json::from_value(value)
            .map_err(|e| ApiError::bad_request(format!("the object does not decode: {e}")))?;
        Ok((object, typed))
    }

    /// Applies `fieldValidation` to a decoded body: unknown fields of a
    /// built-in kind (by its Rust type) or of a custom resource (by its CRD's
    /// structural schema, which prunes them) are a 400 with `Strict`,
    /// warnings with `Warn` (the default), and dropped silently with `Ignore`.
    ///
    /// Returns the object decoded as its kind, when it was.
    pub(crate) async fn check_fields(&self, value: &Value, warnings: &mut Warnings) -> ApiResult<Option<Object>> {
        let mode = self.query.get("fieldValidation").unwrap_or("Warn");
        if !matches!(mode, "Strict" | "Warn" | "Ignore") {
            return Err(ApiError::bad_request(format!(
                "fieldValidation parameter unsupported: {mode:?}: must be one of Ignore, Warn, Strict"
            )));
        }
        if mode == "Ignore" {
            return Ok(None);
        }
        let decoded = Object::decode(value).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let mut unknown: Vec<String> = decoded.unknown_fields.iter().map(|f| format!("unknown field {f:?}")).collect();
        if matches!(decoded.object, Object::Dynamic(_))
            && let Some(schema) = k_store::apply::custom_schema(self.api.as_ref(), &self.resource).await
        {
            let mut pruned = value.clone();
            let paths = k_api_types::structural::prune(&schema, &mut pruned);
            unknown.extend(paths.iter().map(|p| k_api_types::structural::unknown_field_warning(p)));
        }
        if !unknown.is_empty() {
            if mode == "Strict" {
                return Err(ApiError::bad_request(format!("strict decoding error: {}", unknown.join(", "))));
            }
            warnings.extend(unknown);
        }
        Ok(Some(decoded.object))
    }

    fn check_name_and_namespace(&self, object: &mut DynamicObject) -> ApiResult<()> {
        if self.resource.namespaced {
            if object.metadata.namespace.is_empty() {
                object.metadata.namespace = self.req.namespace.clone();
            } else if object.metadata.namespace != self.req.namespace {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        if !self.req.name.is_empty() && object.metadata.name != self.req.name {
            return Err(ApiError::bad_request("the name of the object does not match the name on the URL"));
        }
        Ok(())
    }

    /// Whether the request is a dry run (`dryRun=All`).
    fn dry_run(&self) -> ApiResult<bool> {
        if matches!(self.req.verb, Verb::Delete | Verb::DeleteCollection)
            && !self.body.iter().all(u8::is_ascii_whitespace)
            && let Some(values) = self.body_value()?.get("dryRun").and_then(Value::as_array)
        {
            return match values.iter().find(|v| v.as_str() != Some("All")) {
                None => Ok(!values.is_empty()),
                Some(other) => Err(ApiError::bad_request(format!("unsupported dryRun value {other}: must be All"))),
            };
        }
        match self.query.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!("unsupported dryRun value {other:?}: must be All"))),
        }
    }
}

/// Serves a resource request.
pub(crate) async fn serve(call: Call<'_>) -> ApiResult<Response<Body>> {
    let dry: Arc<dyn ObjectApi>;
    let call =
        if call.dry_run()? && call.req.verb != Verb::Get && call.req.verb != Verb::List && call.req.verb != Verb::Watch
        {
            dry = call
                .api
                .dry_run()
                .ok_or_else(|| ApiError::bad_request("dryRun is not supported by this server's object API"))?;
            Call { api: &dry, ..call }
        } else {
            call
        };
    serve_call(call).await
}

async fn serve_call(call: Call<'_>) -> ApiResult<Response<Body>> {
    let mut warnings = Warnings::new();
    let sub = call.req.subresource.as_str();
    if sub.is_empty() && call.resource.verbs.is_empty() {
        // A kind served only as a subresource (pods/eviction): no path of its own.
        return Err(ApiError::not_found_path());
    }
    if sub.is_empty() && !call.resource.verbs.iter().any(|v| v == call.req.verb.as_str()) {
        return Err(ApiError::method_not_allowed(call.req.verb.as_str(), &call.resource.kind));
    }
    if sub.is_empty() && call.req.verb == Verb::Create {
        // Kinds that are requests, not stored objects.
        match (call.resource.group.as_str(), call.resource.plural.as_str()) {
            ("", "bindings") => {
                let value = call.body_value()?;
                let name = value.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_owned();
                if name.is_empty() {
                    return Err(ApiError::new(
                        422,
                        "Invalid",
                        "metadata.name: Required value: name or generateName is required",
                    ));
                }
                let pods = call.api.resource(&GroupVersionResource::new("", "v1", "pods"))?;
                return binding(&Call { resource: pods, ..call }, &name).await;
            }
            (group, plural) if crate::reviews::is_review(group, plural) => return crate::reviews::serve(&call).await,
            _ => {}
        }
    }
    let response = match (sub, call.req.verb) {
        ("", Verb::Get) => {
            object_response(&call, call.api.get(&call.gvr(), call.namespace(), &call.req.name).await?).await?
        }
        ("", Verb::List) => list(&call).await?,
        ("", Verb::Watch) => return watch(&call).await,
        ("", Verb::Create) => {
            let (mut object, typed) = call.body_object(&mut warnings).await?;
            call.check_name_and_namespace(&mut object)?;
            crate::writes::track_create(&call, &mut object, typed).await?;
            let created = call.api.create(&call.gvr(), call.namespace(), object, &call.user).await?;
            with_code(object_response(&call, created).await?, StatusCode::CREATED)
        }
        ("" | "status", Verb::Update) => {
            let (mut object, _) = call.body_object(&mut warnings).await?;
            call.check_name_and_namespace(&mut object)?;
            let next = crate::writes::to_value(&object)?;
            let updated = crate::writes::modify(&call, sub, |_, _| Ok(next.clone())).await?;
            object_response(&call, updated).await?
        }
        ("" | "status", Verb::Patch) => {
            let patched = crate::patching::patch(&call, sub, &mut warnings).await?;
            let response = object_response(&call, patched.object).await?;
            if patched.created { with_code(response, StatusCode::CREATED) } else { response }
        }
        ("status", Verb::Get) => {
            object_response(&call, call.api.get(&call.gvr(), call.namespace(), &call.req.name).await?).await?
        }
        ("", Verb::Delete) => {
            let options = delete_options(&call)?;
            match call.api.delete(&call.gvr(), call.namespace(), &call.req.name, &options, &call.user).await? {
                DeleteOutcome::Deleted(o) => object_response(&call, o).await?,
                DeleteOutcome::Pending(o) => with_code(object_response(&call, o).await?, StatusCode::ACCEPTED),
            }
        }
        ("", Verb::DeleteCollection) => {
            let options = delete_options(&call)?;
            let list_options = list_options(&call)?;
            let gone = call
                .api
                .delete_collection(&call.gvr(), call.collection_namespace(), &list_options, &options, &call.user)
                .await?;
            let items: Vec<DynamicObject> = gone.into_iter().map(|o| o.object().clone()).collect();
            list_response(&call, items, String::new(), String::new()).await?
        }
        ("scale", verb) => scale(&call, verb, &mut warnings).await?,
        ("finalize", Verb::Update) if call.resource.group.is_empty() && call.resource.plural == "namespaces" => {
            let (mut object, _) = call.body_object(&mut warnings).await?;
            call.check_name_and_namespace(&mut object)?;
            object_response(&call, call.api.finalize_namespace(object, &call.user).await?).await?
        }
        ("binding", Verb::Create) => binding(&call, &call.req.name).await?,
        ("token", Verb::Create) if call.resource.group.is_empty() && call.resource.plural == "serviceaccounts" => {
            return crate::token_request::create(&call).await;
        }
        ("eviction", Verb::Create) => crate::pods::evict(&call, &call.req.name).await?,
        ("log", Verb::Get) => return crate::pods::logs(&call).await,
        (sub, verb) if !sub.is_empty() => {
            return Err(ApiError::method_not_allowed(verb.as_str(), &format!("{}/{sub}", call.resource.plural)));
        }
        (_, verb) => return Err(ApiError::method_not_allowed(verb.as_str(), &call.resource.plural)),
    };
    Ok(add_warnings(response, &warnings))
}

fn with_code(mut r: Response<Body>, code: StatusCode) -> Response<Body> {
    *r.status_mut() = code;
    r
}

fn add_warnings(mut r: Response<Body>, warnings: &Warnings) -> Response<Body> {
    for w in warnings {
        let text = format!("299 - {:?}", w);
        if let Ok(v) = http::HeaderValue::from_str(&text) {
            r.headers_mut().append(http::header::WARNING, v);
        }
    }
    r
}

/// One object, as JSON or as a one-row Table.
async fn object_response(call: &Call<'_>, object: DynamicObject) -> ApiResult<Response<Body>> {
    if call.accept.table {
        return Ok(response::json(
            StatusCode::OK,
            &crate::tables::table(call, vec![object], ListMeta::default()).await?,
        ));
    }
    Ok(response::json(StatusCode::OK, &object))
}

fn list_options(call: &Call<'_>) -> ApiResult<ListOptions> {
    let q = call.query;
    let limit = q.int("limit")?.unwrap_or(0);
    let resource_version_match = match q.get("resourceVersionMatch").filter(|s| !s.is_empty()) {
        None => None,
        Some("NotOlderThan") => Some(ResourceVersionMatch::NotOlderThan),
        Some("Exact") => Some(ResourceVersionMatch::Exact),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "resourceVersionMatch {other:?} is not supported: supported values: Exact, NotOlderThan"
            )));
        }
    };
    let resource_version = q.get("resourceVersion").map(str::to_owned);
    if resource_version_match.is_some() && resource_version.as_deref().is_none_or(str::is_empty) {
        return Err(ApiError::bad_request("resourceVersionMatch is forbidden unless resourceVersion is provided"));
    }
    Ok(ListOptions {
        label_selector: q.get("labelSelector").map(str::to_owned),
        field_selector: q.get("fieldSelector").map(str::to_owned),
        limit: usize::try_from(limit.max(0)).unwrap_or(0),
        continue_token: q.get("continue").map(str::to_owned),
        resource_version,
        resource_version_match,
    })
}

async fn list(call: &Call<'_>) -> ApiResult<Response<Body>> {
    let options = list_options(call)?;
    let page = call.api.list(&call.gvr(), call.collection_namespace(), &options).await?;
    list_response(call, page.items, page.resource_version, page.continue_token).await
}

async fn list_response(
    call: &Call<'_>,
    items: Vec<DynamicObject>,
    resource_version: String,
    continue_token: String,
) -> ApiResult<Response<Body>> {
    let metadata = ListMeta { resource_version, continue_: continue_token, ..Default::default() };
    if call.accept.table {
        return Ok(response::json(StatusCode::OK, &crate::tables::table(call, items, metadata).await?));
    }
    let body = json!({
        "kind": format!("{}List", call.resource.kind),
        "apiVersion": call.resource.api_version(),
        "metadata": metadata,
        "items": items,
    });
    Ok(response::json(StatusCode::OK, &body))
}

async fn watch(call: &Call<'_>) -> ApiResult<Response<Body>> {
    let q = call.query;
    let options = WatchOptions {
        label_selector: q.get("labelSelector").map(str::to_owned),
        field_selector: q.get("fieldSelector").map(str::to_owned),
        resource_version: q.get("resourceVersion").map(str::to_owned),
        allow_bookmarks: q.flag("allowWatchBookmarks")?,
        send_initial_events: q.flag("sendInitialEvents")?,
    };
    let timeout = match q.int("timeoutSeconds")? {
        Some(t) if t > 0 => u64::try_from(t).unwrap_or(call.watch_timeout),
        _ => call.watch_timeout,
    };
    let events = match call.api.watch_shared(&call.gvr(), call.collection_namespace(), &options).await {
        Ok(events) => events,
        // Like kube-apiserver: a revision too old is the stream's first frame.
        Err(e) if e.code() == 410 => futures::stream::once(async move { Err(e) }).boxed(),
        Err(e) => return Err(e.into()),
    };
    let table = if call.accept.table { Some(crate::tables::Printer::new(call).await) } else { None };
    Ok(watch::response(events, std::time::Duration::from_secs(timeout), table))
}

fn delete_options(call: &Call<'_>) -> ApiResult<DeleteOptions> {
    let mut options: DeleteOptions = if call.body.iter().all(u8::is_ascii_whitespace) {
        DeleteOptions::default()
    } else {
        let value = call.body_value()?;
        serde_json::from_value(value).map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?
    };
    if let Some(g) = call.query.int("gracePeriodSeconds")? {
        options.grace_period_seconds = Some(g);
    }
    if let Some(p) = call.query.get("propagationPolicy").filter(|p| !p.is_empty()) {
        options.propagation_policy = Some(p.to_owned());
    }
    if call.query.get("orphanDependents").is_some() {
        options.orphan_dependents = Some(call.query.flag("orphanDependents")?);
    }
    Ok(options)
}

/// Where a kind keeps its replica counts and selector, for the scale subresource.
fn scale_paths(resource: &ApiResource) -> Option<(&'static str, &'static str, &'static str)> {
    match (resource.group.as_str(), resource.plural.as_str()) {
        ("apps", "deployments" | "replicasets" | "statefulsets") | ("", "replicationcontrollers") => {
            Some(("/spec/replicas", "/status/replicas", "/spec/selector"))
        }
        _ if resource.subresources.iter().any(|s| s == "scale") => {
            Some(("/spec/replicas", "/status/replicas", "/status/selector"))
        }
        _ => None,
    }
}

fn selector_string(selector: Option<&Value>) -> String {
    match selector {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(map)) => {
            if map.contains_key("matchLabels") || map.contains_key("matchExpressions") {
                serde_json::from_value::<k_api_types::meta::LabelSelector>(Value::Object(map.clone()))
                    .ok()
                    .and_then(|s| k_api_types::selector::Selector::try_from(&s).ok())
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            } else {
                // A ReplicationController's plain map selector.
                map.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect::<Vec<_>>().join(",")
            }
        }
        _ => String::new(),
    }
}

fn to_scale(resource: &ApiResource, object: &DynamicObject) -> ApiResult<Scale> {
    let (spec, status, selector) = scale_paths(resource).ok_or_else(ApiError::not_found_path)?;
    let value = serde_json::to_value(object).map_err(|e| ApiError::internal(e.to_string()))?;
    let replicas = value.pointer(spec).and_then(Value::as_i64).map(|r| i32::try_from(r).unwrap_or(i32::MAX));
    let mut meta = object.metadata.clone();
    meta.managed_fields.clear();
    meta.labels.clear();
    meta.annotations.clear();
    meta.owner_references.clear();
    meta.finalizers.clear();
    Ok(Scale {
        api_version: "autoscaling/v1".into(),
        kind: "Scale".into(),
        metadata: meta,
        spec: ScaleSpec { replicas: Some(replicas.unwrap_or(1)) },
        status: Some(ScaleStatus {
            replicas: value.pointer(status).and_then(Value::as_i64).map(|r| i32::try_from(r).unwrap_or(0)).unwrap_or(0),
            selector: selector_string(value.pointer(selector)),
        }),
    })
}

async fn scale(call: &Call<'_>, verb: Verb, warnings: &mut Warnings) -> ApiResult<Response<Body>> {
    let Some((spec_path, _, _)) = scale_paths(&call.resource) else { return Err(ApiError::not_found_path()) };
    let gvr = call.gvr();
    // The replicas the request asks for, given the current Scale.
    let requested = |current: &Scale| -> ApiResult<i32> {
        match verb {
            Verb::Update => {
                let value = call.body_value()?;
                let scale: Scale =
                    serde_json::from_value(value).map_err(|e| ApiError::bad_request(format!("invalid Scale: {e}")))?;
                if !scale.metadata.resource_version.is_empty()
                    && scale.metadata.resource_version != current.metadata.resource_version
                {
                    return Err(k_store::StoreError::Conflict {
                        resource: call.resource.plural.clone(),
                        name: call.req.name.clone(),
                        message: k_store::error::CONFLICT_MESSAGE.to_owned(),
                    }
                    .into());
                }
                Ok(scale.spec.replicas.unwrap_or(0))
            }
            _ => {
                let mut value = serde_json::to_value(current).map_err(|e| ApiError::internal(e.to_string()))?;
                match patch_body_for_scale(call)? {
                    Patch::Json(ops) => {
                        let ops: json_patch::Patch = serde_json::from_value(ops)
                            .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
                        json_patch::patch(&mut value, &ops).map_err(|e| ApiError::bad_request(e.to_string()))?;
                    }
                    Patch::Merge(m) | Patch::Strategic(m) => json_patch::merge(&mut value, &m),
                    Patch::Apply { .. } => unreachable!("scale apply patches are refused above"),
                }
                Ok(value
                    .pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .and_then(|r| i32::try_from(r).ok())
                    .unwrap_or(0))
            }
        }
    };
    let updated = match verb {
        Verb::Get => {
            let current = call.api.get(&gvr, call.namespace(), &call.req.name).await?;
            return Ok(response::json(StatusCode::OK, &to_scale(&call.resource, &current)?));
        }
        Verb::Update | Verb::Patch => {
            if verb == Verb::Update {
                let _ = call.check_fields(&call.body_value()?, warnings).await?;
            }
            crate::writes::modify(call, "scale", |current, value| {
                let replicas = requested(&to_scale(&call.resource, current)?)?;
                let mut next = value.clone();
                match next.pointer_mut(spec_path) {
                    Some(slot) => *slot = json!(replicas),
                    None => {
                        let field = spec_path.trim_start_matches("/spec/");
                        next["spec"][field] = json!(replicas);
                    }
                }
                Ok(next)
            })
            .await?
        }
        other => return Err(ApiError::method_not_allowed(other.as_str(), &format!("{}/scale", call.resource.plural))),
    };
    Ok(response::json(StatusCode::OK, &to_scale(&call.resource, &updated)?))
}

fn patch_body_for_scale(call: &Call<'_>) -> ApiResult<Patch> {
    let value: Value = serde_json::from_slice(&call.body)
        .map_err(|e| ApiError::bad_request(format!("the body of the request could not be decoded as JSON: {e}")))?;
    match call.media_type().as_str() {
        "application/json-patch+json" => Ok(Patch::Json(value)),
        // Scale has no lists: a strategic merge patch is a merge patch.
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => Ok(Patch::Merge(value)),
        _ => Err(ApiError::unsupported_media_type(
            call.content_type(),
            &["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"],
        )),
    }
}

/// `pods/binding`: the scheduler's write of `spec.nodeName` (409 if bound).
async fn binding(call: &Call<'_>, pod: &str) -> ApiResult<Response<Body>> {
    if !call.resource.group.is_empty() || call.resource.plural != "pods" {
        return Err(ApiError::not_found_path());
    }
    let value = call.body_value()?;
    let target = value.pointer("/target/name").and_then(Value::as_str).unwrap_or_default().to_owned();
    if target.is_empty() {
        return Err(ApiError::new(422, "Invalid", "Binding.target.name: Required value"));
    }
    let name = value.pointer("/metadata/name").and_then(Value::as_str).unwrap_or(pod).to_owned();
    if name != pod {
        return Err(ApiError::bad_request("the name of the binding does not match the pod on the URL"));
    }
    match call.api.bind_pod(call.namespace(), &name, &target, &call.user).await {
        Ok(_) => Ok(response::json(StatusCode::CREATED, &k_api_types::meta::Status::success())),
        Err(k_store::StoreError::Conflict { message, .. }) => Err(ApiError::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on pods/binding \"{name}\": {message}"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// A watch event's JSON frame.
pub(crate) fn event_frame(event: &WatchEvent<DynamicObject>) -> Vec<u8> {
    let mut out = serde_json::to_vec(event).unwrap_or_default();
    out.push(b'\n');
    out
}
