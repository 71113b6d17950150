//! Response bodies: JSON documents, Status errors and streams.

use std::convert::Infallible;

use bytes::Bytes;
use futures::Stream;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use serde::Serialize;

use crate::error::ApiError;

/// The body of every response.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// `application/json`.
pub const JSON: &str = "application/json";

/// A complete body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

/// A streamed body.
pub fn stream(chunks: impl Stream<Item = Bytes> + Send + 'static) -> Body {
    use futures::StreamExt;
    StreamBody::new(chunks.map(|b| Ok::<_, Infallible>(Frame::data(b)))).boxed_unsync()
}

/// A response with a body and content type.
pub fn bytes(code: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = code;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(CONTENT_TYPE, v);
    }
    r
}

/// A JSON response.
pub fn json<T: Serialize + ?Sized>(code: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(body) => bytes(code, JSON, body),
        Err(e) => error(&ApiError::internal(format!("encoding the response: {e}"))),
    }
}

/// A Status response for an error.
pub fn error(e: &ApiError) -> Response<Body> {
    let code = StatusCode::from_u16(e.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(&e.status).unwrap_or_else(|_| b"{}".to_vec());
    let mut r = bytes(code, JSON, body);
    if let Some(secs) = e.retry_after {
        r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    r
}

/// A plain-text response.
pub fn text(code: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    bytes(code, "text/plain; charset=utf-8", body)
}

/// What a client accepts, from its `Accept` header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Accept {
    /// It asks for a `meta.k8s.io` Table.
    pub table: bool,
    /// It asks for aggregated discovery (`apidiscovery.k8s.io` v2 `APIGroupDiscoveryList`).
    pub aggregated_discovery: bool,
    /// It asks for protobuf first (only OpenAPI v2 is served as protobuf;
    /// other protobuf requests get JSON, which clients accept too).
    pub protobuf: bool,
}

impl Accept {
    /// Parses an `Accept` header value.
    pub fn parse(header: Option<&str>) -> Self {
        let mut accept = Accept::default();
        let Some(header) = header else { return accept };
        for (i, range) in header.split(',').enumerate() {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default();
            let params: Vec<(&str, &str)> = parts.filter_map(|p| p.split_once('=')).collect();
            let param = |k: &str| params.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
            if media == "application/json" && param("as") == Some("Table") && param("g") == Some("meta.k8s.io") {
                accept.table = true;
            }
            if media == "application/json"
                && param("as") == Some("APIGroupDiscoveryList")
                && param("g") == Some("apidiscovery.k8s.io")
                && param("v") == Some("v2")
            {
                accept.aggregated_discovery = true;
            }
            if i == 0 && media.contains("protobuf") {
                accept.protobuf = true;
            }
            let _ = i;
        }
        accept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers_as_kubectl_sends_them() {
        let a = Accept::parse(Some(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
        ));
        assert!(a.table && !a.aggregated_discovery);
        let a = Accept::parse(Some(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
        ));
        assert!(a.aggregated_discovery && !a.table);
        let a = Accept::parse(Some("application/com.github.proto-openapi.spec.v2@v1.0+protobuf"));
        assert!(a.protobuf);
        assert_eq!(Accept::parse(None), Accept::default());
    }
}
