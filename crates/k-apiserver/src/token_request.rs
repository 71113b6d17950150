//! The TokenRequest subresource, `serviceaccounts/<name>/token`: a signed,
//! expiring token for a service account, optionally bound to a pod or a
//! secret (what kubelets mount into pods and `kubectl create token` asks
//! for). Tokens are signed by [`ServerConfig::service_accounts`](crate::ServerConfig).

use http::{Response, StatusCode};
use k_api_types::GroupVersionResource;
use k_api_types::authentication::v1::{TokenRequest, TokenRequestStatus};
use k_api_types::meta::Time;
use serde_json::Value;

use crate::authn::service_account::{Grant, ObjectRef, unix_now};
use crate::error::{ApiError, ApiResult};
use crate::handlers::Call;
use crate::response::{self, Body};

fn invalid(name: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::new(422, "Invalid", format!("TokenRequest.authentication.k8s.io {name:?} is invalid: {message}"))
}

/// Answers `POST .../serviceaccounts/<name>/token`.
pub(crate) async fn create(call: &Call<'_>) -> ApiResult<Response<Body>> {
    let Some(tokens) = &call.config.service_accounts else {
        return Err(ApiError::new(
            503,
            "ServiceUnavailable",
            "this server has no service-account signing key, so it issues no tokens",
        ));
    };
    let name = call.req.name.as_str();
    let namespace = call.req.namespace.as_str();
    let value = call.body_value()?;
    if value.get("kind").and_then(Value::as_str).is_some_and(|k| k != "TokenRequest") {
        return Err(ApiError::bad_request("the body of serviceaccounts/token must be a TokenRequest"));
    }
    let mut request: TokenRequest = serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("the TokenRequest does not decode: {e}")))?;
    let account = call.api.get(&GroupVersionResource::new("", "v1", "serviceaccounts"), namespace, name).await?;
    let expiration = tokens.expiration(request.spec.expiration_seconds).map_err(|e| invalid(name, e))?;
    let mut grant = Grant {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        uid: account.metadata.uid.clone(),
        audiences: request.spec.audiences.clone(),
        expiration_seconds: expiration,
        pod: None,
        secret: None,
    };
    if let Some(bound) = &request.spec.bound_object_ref {
        let kind = bound.kind.clone().unwrap_or_default();
        let resource = match kind.as_str() {
            "Pod" => "pods",
            "Secret" => "secrets",
            _ => {
                return Err(invalid(
                    name,
                    format!(
                        "spec.boundObjectRef.kind: Unsupported value: {kind:?}: supported values: \"Pod\", \"Secret\""
                    ),
                ));
            }
        };
        let bound_name = bound.name.clone().unwrap_or_default();
        if bound_name.is_empty() {
            return Err(invalid(name, "spec.boundObjectRef.name: Required value"));
        }
        let object = call
            .api
            .get(&GroupVersionResource::new("", "v1", resource), namespace, &bound_name)
            .await
            .map_err(ApiError::from)?;
        if let Some(uid) = bound.uid.as_deref().filter(|u| !u.is_empty())
            && uid != object.metadata.uid
        {
            return Err(ApiError::new(
                409,
                "Conflict",
                format!(
                    "the UID in the bound object reference ({uid}) does not match the {kind}'s ({})",
                    object.metadata.uid
                ),
            ));
        }
        if resource == "pods" {
            let runs_as = object.data.get("spec").and_then(|s| s.get("serviceAccountName")).and_then(Value::as_str);
            if runs_as.unwrap_or("default") != name {
                return Err(ApiError::bad_request(format!(
                    "cannot bind token for serviceaccount {name:?} to pod running with different serviceaccount name"
                )));
            }
        }
        let reference = ObjectRef { name: bound_name, uid: object.metadata.uid.clone() };
        if resource == "pods" {
            grant.pod = Some(reference);
        } else {
            grant.secret = Some(reference);
        }
    }
    let (token, expires) = tokens.sign(&grant, unix_now()).map_err(ApiError::internal)?;
    if request.spec.audiences.is_empty() {
        request.spec.audiences = tokens.api_audiences().to_vec();
    }
    request.spec.expiration_seconds = Some(expiration);
    request.metadata.name = name.to_owned();
    request.metadata.namespace = namespace.to_owned();
    request.metadata.creation_timestamp = Some(Time(chrono::Utc::now()));
    request.api_version = "authentication.k8s.io/v1".to_owned();
    request.kind = "TokenRequest".to_owned();
    let expires = chrono::DateTime::from_timestamp(expires, 0).unwrap_or_default();
    request.status = Some(TokenRequestStatus { token, expiration_timestamp: Some(Time(expires)) });
    Ok(response::json(StatusCode::CREATED, &request))
}
