//! The review kinds, answered by the authentication and authorization
//! chains rather than stored: TokenReview and SelfSubjectReview
//! (`authentication.k8s.io`), SubjectAccessReview,
//! SelfSubjectAccessReview, LocalSubjectAccessReview and
//! SelfSubjectRulesReview (`authorization.k8s.io`). `kubectl auth can-i`
//! sends the self reviews, `kubectl auth whoami` a SelfSubjectReview.
//!
//! A server without an authorization chain allows everything, and says so
//! in its answers; one without authentication cannot review tokens.

use http::{Response, StatusCode};
use k_api_types::authentication::v1 as authn;
use k_api_types::authorization::v1 as authz;
use k_store::api::UserInfo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::authz::{Attributes, Decision, Rules};
use crate::error::{ApiError, ApiResult};
use crate::handlers::Call;
use crate::response::{self, Body};

/// Whether `plural` in `group` is a review kind this module answers.
pub(crate) fn is_review(group: &str, plural: &str) -> bool {
    matches!(
        (group, plural),
        ("authentication.k8s.io", "tokenreviews" | "selfsubjectreviews")
            | (
                "authorization.k8s.io",
                "subjectaccessreviews"
                    | "selfsubjectaccessreviews"
                    | "localsubjectaccessreviews"
                    | "selfsubjectrulesreviews"
            )
    )
}

fn decode<T: DeserializeOwned>(call: &Call<'_>) -> ApiResult<T> {
    let value = call.body_value()?;
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or_default();
    if kind != call.resource.kind {
        return Err(ApiError::bad_request(format!("expected a {} object, got kind {kind:?}", call.resource.kind)));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("the {} does not decode: {e}", call.resource.kind)))
}

fn invalid(kind: &str, message: impl Into<String>) -> ApiError {
    let message = message.into();
    ApiError::new(422, "Invalid", format!("{kind}.{} \"\" is invalid: {message}", "authorization.k8s.io"))
}

fn created<T: Serialize>(object: &T) -> Response<Body> {
    response::json(StatusCode::CREATED, object)
}

/// Answers a create of a review kind.
pub(crate) async fn serve(call: &Call<'_>) -> ApiResult<Response<Body>> {
    match call.resource.plural.as_str() {
        "selfsubjectreviews" => {
            let mut review: authn::SelfSubjectReview = decode(call)?;
            review.status = Some(authn::SelfSubjectReviewStatus { user_info: wire_user(&call.user) });
            Ok(created(&review))
        }
        "tokenreviews" => token_review(call).await,
        "selfsubjectaccessreviews" => {
            let mut review: authz::SelfSubjectAccessReview = decode(call)?;
            let status = {
                let attributes = attributes(
                    "SelfSubjectAccessReview",
                    &call.user,
                    review.spec.resource_attributes.as_ref(),
                    review.spec.non_resource_attributes.as_ref(),
                )?;
                decide(call, &attributes)
            };
            review.status = Some(status);
            Ok(created(&review))
        }
        "subjectaccessreviews" | "localsubjectaccessreviews" => {
            let local = call.resource.plural == "localsubjectaccessreviews";
            let kind = if local { "LocalSubjectAccessReview" } else { "SubjectAccessReview" };
            let mut value = call.body_value()?;
            if value.get("kind").and_then(Value::as_str) != Some(kind) {
                return Err(ApiError::bad_request(format!("expected a {kind} object")));
            }
            let spec: authz::SubjectAccessReviewSpec =
                serde_json::from_value(value.get("spec").cloned().unwrap_or(Value::Null))
                    .map_err(|e| ApiError::bad_request(format!("the {kind} does not decode: {e}")))?;
            let username = spec.user.clone().unwrap_or_default();
            if username.is_empty() && spec.groups.is_empty() {
                return Err(invalid(
                    kind,
                    "spec.user: Invalid value: \"\": at least one of user or group must be specified",
                ));
            }
            if local {
                let namespace = call.req.namespace.as_str();
                match &spec.resource_attributes {
                    Some(r) if r.namespace.as_deref().unwrap_or_default() == namespace => {}
                    Some(_) => {
                        return Err(invalid(
                            kind,
                            "spec.resourceAttributes.namespace: Invalid value: must match metadata.namespace",
                        ));
                    }
                    None => {
                        return Err(invalid(
                            kind,
                            "spec.nonResourceAttributes: Invalid value: disallowed on this kind of request",
                        ));
                    }
                }
                if !value.get("metadata").is_some_and(Value::is_object) {
                    value["metadata"] = serde_json::json!({});
                }
                value["metadata"]["namespace"] = Value::String(namespace.to_owned());
            }
            let subject = UserInfo {
                username,
                uid: spec.uid.clone().unwrap_or_default(),
                groups: spec.groups.clone(),
                extra: spec.extra.clone(),
            };
            let attributes =
                attributes(kind, &subject, spec.resource_attributes.as_ref(), spec.non_resource_attributes.as_ref())?;
            value["status"] = serde_json::to_value(decide(call, &attributes)).unwrap_or(Value::Null);
            Ok(created(&value))
        }
        "selfsubjectrulesreviews" => {
            let mut review: authz::SelfSubjectRulesReview = decode(call)?;
            let namespace = review.spec.namespace.clone().unwrap_or_default();
            if namespace.is_empty() {
                return Err(invalid(
                    "SelfSubjectRulesReview",
                    "spec.namespace: Required value: the namespace is required",
                ));
            }
            let rules = match &call.config.authorization {
                Some(chain) => chain.rules_for(&call.user, &namespace),
                None => crate::authz::Authorizer::rules_for(&crate::authz::AlwaysAllow, &call.user, &namespace),
            };
            review.status = Some(rules_status(rules));
            Ok(created(&review))
        }
        _ => Err(ApiError::not_found_path()),
    }
}

async fn token_review(call: &Call<'_>) -> ApiResult<Response<Body>> {
    let mut review: authn::TokenReview = decode(call)?;
    let token = review.spec.token.clone().unwrap_or_default();
    if token.is_empty() {
        return Err(ApiError::new(
            422,
            "Invalid",
            "TokenReview.authentication.k8s.io \"\" is invalid: spec.token: Required value: token must not be empty",
        ));
    }
    let Some(authentication) = &call.config.authentication else {
        return Err(ApiError::new(
            503,
            "ServiceUnavailable",
            "this server authenticates nobody (no authentication is configured), so it cannot review tokens",
        ));
    };
    let status = match authentication.review_token(&token, &review.spec.audiences).await {
        Ok((user, audiences)) => {
            authn::TokenReviewStatus { authenticated: Some(true), user: wire_user(&user), audiences, error: None }
        }
        Err(reason) => authn::TokenReviewStatus {
            authenticated: Some(false),
            user: authn::UserInfo::default(),
            audiences: Vec::new(),
            error: Some(reason),
        },
    };
    review.status = Some(status);
    Ok(created(&review))
}

fn wire_user(user: &UserInfo) -> authn::UserInfo {
    let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    authn::UserInfo {
        username: some(&user.username),
        uid: some(&user.uid),
        groups: user.groups.clone(),
        extra: user.extra.clone(),
    }
}

/// The attributes a review asks about (exactly one of the two kinds).
fn attributes<'a>(
    kind: &str,
    user: &'a UserInfo,
    resource: Option<&'a authz::ResourceAttributes>,
    path: Option<&'a authz::NonResourceAttributes>,
) -> ApiResult<Attributes<'a>> {
    let text = |s: &'a Option<String>| s.as_deref().unwrap_or_default();
    match (resource, path) {
        (Some(r), None) => Ok(Attributes {
            api_version: text(&r.version),
            ..Attributes::resource(
                user,
                text(&r.verb),
                text(&r.group),
                text(&r.resource),
                text(&r.subresource),
                text(&r.namespace),
                text(&r.name),
            )
        }),
        (None, Some(p)) => Ok(Attributes::non_resource(user, text(&p.verb), text(&p.path))),
        _ => Err(invalid(
            kind,
            "spec.resourceAttributes: Invalid value: exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )),
    }
}

fn decide(call: &Call<'_>, attributes: &Attributes<'_>) -> authz::SubjectAccessReviewStatus {
    let decision = match &call.config.authorization {
        Some(chain) => chain.authorize(attributes),
        None => Decision::Allow("no authorization is configured: everything is allowed".into()),
    };
    let reason = (!decision.reason().is_empty()).then(|| decision.reason().to_owned());
    authz::SubjectAccessReviewStatus {
        allowed: decision.allowed(),
        denied: matches!(decision, Decision::Deny(_)).then_some(true),
        reason,
        evaluation_error: None,
    }
}

fn rules_status(rules: Rules) -> authz::SubjectRulesReviewStatus {
    authz::SubjectRulesReviewStatus {
        resource_rules: rules
            .resource_rules
            .into_iter()
            .map(|r| authz::ResourceRule {
                verbs: r.verbs,
                api_groups: r.api_groups,
                resources: r.resources,
                resource_names: r.resource_names,
            })
            .collect(),
        non_resource_rules: rules
            .non_resource_rules
            .into_iter()
            .map(|r| authz::NonResourceRule { verbs: r.verbs, non_resource_urls: r.non_resource_urls })
            .collect(),
        incomplete: rules.incomplete,
        evaluation_error: None,
    }
}
