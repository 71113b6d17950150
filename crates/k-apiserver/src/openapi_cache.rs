//! Serving the OpenAPI documents, rebuilt when the set of served resources
//! (or a CustomResourceDefinition) changes.

use std::sync::{Arc, Mutex};

use http::header::{CACHE_CONTROL, ETAG, HeaderValue};
use http::{Response, StatusCode};
use k_api_types::apiextensions::v1::CustomResourceDefinition;
use k_api_types::{ApiResource, Resource};
use k_store::api::{ListOptions, ObjectApi};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::openapi::{OpenApi, V2_PROTOBUF_CONTENT_TYPE};
use crate::request::Query;
use crate::response::{self, Accept, Body};

/// The documents of the last seen set of resources.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    current: Mutex<Option<(String, Arc<OpenApi>)>>,
}

/// The custom resources with their schemas, and a key that changes
/// whenever they do.
async fn custom_resources(api: &Arc<dyn ObjectApi>) -> ApiResult<(String, Vec<(ApiResource, Value)>)> {
    let builtin = |r: &ApiResource| {
        k_api_types::object::BUILTIN_RESOURCES.iter().any(|b| b.group == r.group && b.plural == r.plural)
    };
    let mut custom: Vec<ApiResource> = api.resources().into_iter().filter(|r| !builtin(r)).collect();
    custom.sort_by(|a, b| (&a.group, &a.plural, &a.version).cmp(&(&b.group, &b.plural, &b.version)));
    let mut key: String = custom.iter().map(|r| format!("{}/{}/{};", r.group, r.version, r.plural)).collect();
    if custom.is_empty() {
        return Ok((key, Vec::new()));
    }
    let page = api.list(&CustomResourceDefinition::INFO.gvr(), None, &ListOptions::default()).await?;
    key.push_str(&page.resource_version);
    let mut out = Vec::new();
    for object in page.items {
        let Ok(crd) = serde_json::to_value(&object).and_then(serde_json::from_value::<CustomResourceDefinition>) else {
            continue;
        };
        for version in &crd.spec.versions {
            let Some(resource) = custom
                .iter()
                .find(|r| r.group == crd.spec.group && r.plural == crd.spec.names.plural && r.version == version.name)
            else {
                continue;
            };
            let schema = version
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref())
                .and_then(|s| serde_json::to_value(s).ok())
                .unwrap_or(Value::Null);
            out.push((resource.clone(), schema));
        }
    }
    Ok((key, out))
}

impl Cache {
    async fn documents(&self, api: &Arc<dyn ObjectApi>) -> ApiResult<Arc<OpenApi>> {
        let (key, custom) = custom_resources(api).await?;
        {
            let current = self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((k, docs)) = current.as_ref()
                && *k == key
            {
                return Ok(docs.clone());
            }
        }
        let docs = Arc::new(
            tokio::task::spawn_blocking(move || OpenApi::build(true, &custom))
                .await
                .map_err(|e| ApiError::internal(format!("building the OpenAPI documents: {e}")))?,
        );
        *self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((key, docs.clone()));
        Ok(docs)
    }

    /// Answers `/openapi/v2` and `/openapi/v3[/...]`.
    pub(crate) async fn serve(
        &self,
        api: &Arc<dyn ObjectApi>,
        path: &str,
        query: &Query,
        accept: Accept,
    ) -> ApiResult<Response<Body>> {
        let docs = self.documents(api).await?;
        if path == "/openapi/v2" {
            let docs2 = docs.clone();
            let (content_type, body) = tokio::task::spawn_blocking(move || {
                if accept.protobuf {
                    (V2_PROTOBUF_CONTENT_TYPE, bytes::Bytes::copy_from_slice(docs2.v2_protobuf()))
                } else {
                    (response::JSON, bytes::Bytes::copy_from_slice(docs2.v2_json()))
                }
            })
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
            let mut r = response::bytes(StatusCode::OK, content_type, body);
            if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", docs.v2_hash())) {
                r.headers_mut().insert(ETAG, v);
            }
            return Ok(r);
        }
        let rest = path.trim_start_matches("/openapi/v3").trim_matches('/');
        if rest.is_empty() {
            return Ok(response::bytes(StatusCode::OK, response::JSON, docs.v3_index_json().to_vec()));
        }
        let doc = docs.v3_document(rest).ok_or_else(ApiError::not_found_path)?;
        let mut r = response::bytes(StatusCode::OK, response::JSON, doc.json().to_vec());
        if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", doc.hash())) {
            r.headers_mut().insert(ETAG, v);
        }
        if query.get("hash") == Some(doc.hash()) {
            r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("public, immutable"));
        }
        Ok(r)
    }
}
