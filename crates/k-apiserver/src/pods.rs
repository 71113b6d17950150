//! Pod subresources beyond status: `pods/eviction` (honouring
//! PodDisruptionBudgets) and `pods/log` (through a pluggable [`LogSource`]).

use bytes::Bytes;
use futures::stream::BoxStream;
use http::{Response, StatusCode};
use k_api_types::meta::{DeleteOptions, Status, StatusCause, StatusDetails};
use k_api_types::policy::v1::PodDisruptionBudget;
use k_api_types::selector::Selector;
use k_api_types::{GroupVersionResource, Resource};
use k_store::api::{ListOptions, Patch};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::handlers::Call;
use crate::response::{self, Body};

/// Options of a log request (the `pods/log` query).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Container name (required when the pod has more than one).
    pub container: Option<String>,
    /// Keep streaming new lines.
    pub follow: bool,
    /// The previous instance's log.
    pub previous: bool,
    /// Last lines only.
    pub tail_lines: Option<i64>,
    /// Prefix lines with timestamps.
    pub timestamps: bool,
}

/// Where container logs come from (the node agent implements it).
#[async_trait::async_trait]
pub trait LogSource: Send + Sync + std::fmt::Debug {
    /// The log of a container of a pod, as a byte stream.
    async fn logs(
        &self,
        namespace: &str,
        pod: &str,
        options: &LogOptions,
    ) -> Result<BoxStream<'static, Bytes>, ApiError>;
}

/// `GET pods/{name}/log`.
pub(crate) async fn logs(call: &Call<'_>) -> ApiResult<Response<Body>> {
    let pod = call.api.get(&call.gvr(), call.namespace(), &call.req.name).await?;
    let q = call.query;
    let options = LogOptions {
        container: q.get("container").filter(|c| !c.is_empty()).map(str::to_owned),
        follow: q.flag("follow")?,
        previous: q.flag("previous")?,
        tail_lines: q.int("tailLines")?,
        timestamps: q.flag("timestamps")?,
    };
    let containers: Vec<String> = pod
        .data
        .get("spec")
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array)
        .map(|cs| cs.iter().filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_owned)).collect())
        .unwrap_or_default();
    if let Some(c) = &options.container {
        if !containers.contains(c) {
            return Err(ApiError::bad_request(format!("container {c} is not valid for pod {}", call.req.name)));
        }
    } else if containers.len() > 1 {
        return Err(ApiError::bad_request(format!(
            "a container name must be specified for pod {}, choose one of: [{}]",
            call.req.name,
            containers.join(" ")
        )));
    }
    let Some(source) = &call.log_source else {
        return Err(ApiError::new(
            503,
            "ServiceUnavailable",
            format!("no node agent serves logs for pod {} yet", call.req.name),
        ));
    };
    let stream = source.logs(call.namespace(), &call.req.name, &options).await?;
    let mut r = Response::new(response::stream(stream));
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain"));
    Ok(r)
}

fn too_many(message: String) -> ApiError {
    let mut e =
        ApiError::new(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.");
    e.status.details = Some(StatusDetails {
        causes: vec![StatusCause { reason: "DisruptionBudget".into(), message, field: String::new() }],
        ..Default::default()
    });
    e
}

/// `POST pods/{name}/eviction`: deletes the pod unless a
/// PodDisruptionBudget forbids it (429), consuming one allowed disruption.
pub(crate) async fn evict(call: &Call<'_>, name: &str) -> ApiResult<Response<Body>> {
    let body = call.body_value()?;
    let body_name = body.pointer("/metadata/name").and_then(Value::as_str).unwrap_or(name);
    if body_name != name {
        return Err(ApiError::bad_request(format!(
            "name in URL does not match name in Eviction object: {name} != {body_name}"
        )));
    }
    let options: DeleteOptions = match body.get("deleteOptions") {
        Some(o) if !o.is_null() => serde_json::from_value(o.clone())
            .map_err(|e| ApiError::bad_request(format!("invalid deleteOptions: {e}")))?,
        _ => DeleteOptions::default(),
    };
    let pods = call.gvr();
    let ns = call.namespace();
    let pod = call.api.get(&pods, ns, name).await?;
    let phase = pod.data.get("status").and_then(|s| s.get("phase")).and_then(Value::as_str).unwrap_or_default();
    let terminal = matches!(phase, "Succeeded" | "Failed");
    if !terminal && pod.metadata.deletion_timestamp.is_none() {
        let pdbs = PodDisruptionBudget::INFO.gvr();
        let list = call.api.list(&pdbs, Some(ns), &ListOptions::default()).await?;
        let mut matching = Vec::new();
        for item in list.items {
            let Ok(pdb) = serde_json::to_value(&item).and_then(serde_json::from_value::<PodDisruptionBudget>) else {
                continue;
            };
            let selects = match &pdb.spec.selector {
                None => false,
                Some(sel) => Selector::try_from(sel).is_ok_and(|s| !s.is_empty() && s.matches(&pod.metadata.labels)),
            };
            if selects {
                matching.push(pdb);
            }
        }
        if matching.len() > 1 {
            return Err(ApiError::internal(
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            ));
        }
        if let Some(pdb) = matching.pop() {
            consume_disruption(call, &pdbs, pdb, name).await?;
        }
    }
    call.api.delete(&pods, ns, name, &options, &call.user).await?;
    Ok(response::json(StatusCode::CREATED, &Status::success()))
}

/// Takes one allowed disruption of the budget (with its revision as a
/// precondition), or refuses the eviction.
async fn consume_disruption(
    call: &Call<'_>,
    gvr: &GroupVersionResource,
    pdb: PodDisruptionBudget,
    pod: &str,
) -> ApiResult<()> {
    let name = pdb.metadata.name.clone();
    let status = pdb.status.clone().unwrap_or_default();
    let current_generation = pdb.metadata.generation.unwrap_or(0);
    if status.observed_generation.unwrap_or(0) < current_generation {
        return Err(too_many(format!("The disruption budget {name} is still being processed by the server.")));
    }
    if status.disruptions_allowed <= 0 {
        return Err(too_many(format!(
            "The disruption budget {name} needs {} healthy pods and has {} currently",
            status.desired_healthy, status.current_healthy
        )));
    }
    let now = k_api_types::meta::Time::now();
    let patch = Patch::Merge(json!({
        "metadata": { "resourceVersion": pdb.metadata.resource_version },
        "status": {
            "disruptionsAllowed": status.disruptions_allowed - 1,
            "disruptedPods": { pod: now },
        },
    }));
    match call.api.patch(gvr, call.namespace(), &name, &patch, true, &call.user).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_conflict() => Err(too_many(format!("The disruption budget {name} changed; retry"))),
        Err(e) => Err(e.into()),
    }
}
