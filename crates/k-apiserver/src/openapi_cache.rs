//! Serving the OpenAPI documents, rebuilt when the set of served resources changes.

use std::sync::{Arc, Mutex};

use http::{Response, StatusCode};
use k_store::api::ObjectApi;

use crate::error::{ApiError, ApiResult};
use crate::response::{self, Accept, Body};

/// The documents of the last seen set of resources.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    current: Mutex<Option<(u64, Arc<crate::openapi::OpenApi>)>>,
}

impl Cache {
    pub(crate) async fn serve(
        &self,
        api: &Arc<dyn ObjectApi>,
        path: &str,
        accept: Accept,
    ) -> ApiResult<Response<Body>> {
        let _ = (api, path, accept, &self.current);
        Err(ApiError::new(StatusCode::NOT_FOUND.as_u16(), "NotFound", "OpenAPI is not served yet"))
            .or_else(|e: ApiError| -> ApiResult<Response<Body>> { Ok(response::error(&e)) })
    }
}
