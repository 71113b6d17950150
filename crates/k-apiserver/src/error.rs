//! API errors: every failure is answered as a Kubernetes `Status`.

use k_api_types::meta::{Status, StatusDetails};
use k_store::StoreError;

/// A failed request, with the Status to answer.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{}", .status.message)]
pub struct ApiError {
    /// The Status body (its `code` is the HTTP status).
    pub status: Box<Status>,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// An error with the given code, reason and message.
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        Self { status: Box::new(Status::failure(code, reason, message)), retry_after: None }
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 404 NotFound for a path the server does not serve.
    pub fn not_found_path() -> Self {
        Self::new(404, "NotFound", "the server could not find the requested resource")
    }

    /// 404 NotFound for a resource type the server does not serve.
    pub fn unknown_resource(resource: &str) -> Self {
        Self::new(404, "NotFound", format!("the server could not find the requested resource ({resource})"))
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(verb: &str, resource: &str) -> Self {
        Self::new(405, "MethodNotAllowed", format!("{verb} is not supported on resources of kind {resource:?}"))
    }

    /// 406 NotAcceptable.
    pub fn not_acceptable(accept: &str) -> Self {
        Self::new(
            406,
            "NotAcceptable",
            format!("only the following media types are accepted: application/json, application/yaml (got {accept:?})"),
        )
    }

    /// 413 RequestEntityTooLarge.
    pub fn too_large(limit: usize) -> Self {
        Self::new(413, "RequestEntityTooLarge", format!("the request body is larger than the limit of {limit} bytes"))
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media_type(content_type: &str, supported: &[&str]) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {} (got {content_type:?})",
                supported.join(", ")
            ),
        )
    }

    /// 401 Unauthorized: missing or invalid credentials (the reason is not told).
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// 429 TooManyRequests with Retry-After.
    pub fn too_many_requests() -> Self {
        let mut e = Self::new(429, "TooManyRequests", "Too many requests, please try again later.");
        e.status.details = Some(StatusDetails { retry_after_seconds: 1, ..Default::default() });
        e.retry_after = Some(1);
        e
    }

    /// 500 InternalError.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// The HTTP status code.
    pub fn code(&self) -> u16 {
        u16::try_from(self.status.code).ok().filter(|c| (100..600).contains(c)).unwrap_or(500)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let retry_after = match &e {
            StoreError::TooLargeResourceVersion { .. } => Some(1),
            _ => None,
        };
        Self { status: Box::new(e.status()), retry_after }
    }
}

/// A result of the API.
pub type ApiResult<T> = Result<T, ApiError>;
