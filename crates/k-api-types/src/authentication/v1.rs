//! `authentication.k8s.io/v1`: [`TokenReview`], [`TokenRequest`] and [`SelfSubjectReview`].
//!
//! These kinds are only ever created (the response carries the status), so
//! they have no list types. A `TokenRequest` is created through a service
//! account's `token` subresource.

use std::collections::BTreeMap;

use crate::defaults::default_to;
use crate::meta::{ObjectMeta, Time};
use crate::validation::{ErrorList, FieldError, Path, Validate};
use crate::{ApplyDefaults, wire};

/// Default lifetime of a requested token, in seconds.
pub const DEFAULT_TOKEN_EXPIRATION_SECONDS: i64 = 3600;
/// Shortest lifetime a token may be requested for, in seconds.
pub const MIN_TOKEN_EXPIRATION_SECONDS: i64 = 600;

/// Asks the API server to authenticate a bearer token.
#[wire]
pub struct TokenReview {
    /// APIVersion of the object (`authentication.k8s.io/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`TokenReview`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// The token.
    pub spec: TokenReviewSpec,
    /// The result, filled in by the server.
    pub status: Option<TokenReviewStatus>,
}

crate::impl_resource!(TokenReview {
    group: "authentication.k8s.io",
    version: "v1",
    kind: "TokenReview",
    plural: "tokenreviews",
    singular: "tokenreview",
    short_names: [],
    categories: [],
    namespaced: false,
    verbs: crate::resource::CREATE_ONLY,
    subresources: [],
    selectable_fields: []
});

/// The token to review.
#[wire(eq)]
pub struct TokenReviewSpec {
    /// The opaque bearer token.
    pub token: Option<String>,
    /// Audiences the token must be valid for (empty: the API server's).
    pub audiences: Vec<String>,
}

/// The result of a token review.
#[wire]
pub struct TokenReviewStatus {
    /// Whether the token is valid.
    pub authenticated: Option<bool>,
    /// The user the token belongs to.
    pub user: UserInfo,
    /// Which of the requested audiences the token is valid for.
    pub audiences: Vec<String>,
    /// Why the token could not be checked.
    pub error: Option<String>,
}

/// A user as an authenticator describes it.
#[wire(eq)]
pub struct UserInfo {
    /// User name.
    pub username: Option<String>,
    /// Unique and stable identifier of the user.
    pub uid: Option<String>,
    /// Groups the user belongs to.
    pub groups: Vec<String>,
    /// Extra attributes from the authenticator.
    pub extra: BTreeMap<String, Vec<String>>,
}

/// Asks for a service account token (created on `serviceaccounts/<name>/token`).
#[wire]
pub struct TokenRequest {
    /// APIVersion of the object (`authentication.k8s.io/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`TokenRequest`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// What the token is for.
    pub spec: TokenRequestSpec,
    /// The token, filled in by the server.
    pub status: Option<TokenRequestStatus>,
}

crate::impl_resource!(TokenRequest {
    group: "authentication.k8s.io",
    version: "v1",
    kind: "TokenRequest",
    plural: "tokenrequests",
    singular: "tokenrequest",
    short_names: [],
    categories: [],
    namespaced: true,
    verbs: crate::resource::SUBRESOURCE_ONLY,
    subresources: [],
    selectable_fields: []
});

/// What a requested token is for.
#[wire]
pub struct TokenRequestSpec {
    /// Audiences of the token (empty: the API server's).
    #[wire(always)]
    pub audiences: Vec<String>,
    /// Requested lifetime in seconds (default 3600, at least 600).
    pub expiration_seconds: Option<i64>,
    /// An object the token is bound to: it stops working when the object goes.
    pub bound_object_ref: Option<BoundObjectReference>,
}

/// The object a token is bound to.
#[wire(eq)]
pub struct BoundObjectReference {
    /// `Pod`, `Secret` or `Node`.
    pub kind: Option<String>,
    /// API version of the object.
    pub api_version: Option<String>,
    /// Name of the object.
    pub name: Option<String>,
    /// UID of the object.
    pub uid: Option<String>,
}

/// A requested token.
#[wire]
pub struct TokenRequestStatus {
    /// The token.
    pub token: String,
    /// When the token expires.
    pub expiration_timestamp: Option<Time>,
}

/// Asks who the requesting user is.
#[wire]
pub struct SelfSubjectReview {
    /// APIVersion of the object (`authentication.k8s.io/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`SelfSubjectReview`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// The answer, filled in by the server.
    pub status: Option<SelfSubjectReviewStatus>,
}

crate::impl_resource!(SelfSubjectReview {
    group: "authentication.k8s.io",
    version: "v1",
    kind: "SelfSubjectReview",
    plural: "selfsubjectreviews",
    singular: "selfsubjectreview",
    short_names: [],
    categories: [],
    namespaced: false,
    verbs: crate::resource::CREATE_ONLY,
    subresources: [],
    selectable_fields: []
});

/// Who the requesting user is.
#[wire(eq)]
pub struct SelfSubjectReviewStatus {
    /// The user's attributes.
    pub user_info: UserInfo,
}

impl ApplyDefaults for TokenReview {
    fn apply_defaults(&mut self) {}
}

impl ApplyDefaults for SelfSubjectReview {
    fn apply_defaults(&mut self) {}
}

impl ApplyDefaults for TokenRequest {
    fn apply_defaults(&mut self) {
        default_to(&mut self.spec.expiration_seconds, DEFAULT_TOKEN_EXPIRATION_SECONDS);
    }
}

impl Validate for TokenReview {
    /// kube-apiserver rejects a review without a token, or with a namespace.
    fn validate(&self) -> ErrorList {
        let mut errs = ErrorList::new();
        if self.spec.token.as_deref().is_none_or(str::is_empty) {
            errs.push(FieldError::required(
                &Path::new("spec").child("token"),
                "token is required for TokenReview in authentication",
            ));
        }
        if !self.metadata.namespace.is_empty() {
            errs.push(FieldError::forbidden(
                &Path::new("metadata").child("namespace"),
                "namespace is not allowed on this type",
            ));
        }
        errs
    }

    fn validate_update(&self, _old: &Self) -> ErrorList {
        self.validate()
    }
}

impl Validate for TokenRequest {
    fn validate(&self) -> ErrorList {
        let mut errs = ErrorList::new();
        let spec = Path::new("spec");
        if let Some(secs) = self.spec.expiration_seconds {
            let p = spec.child("expirationSeconds");
            if secs < MIN_TOKEN_EXPIRATION_SECONDS {
                errs.push(FieldError::invalid(&p, secs, "may not specify a duration less than 10 minutes"));
            }
            if secs > 1 << 32 {
                errs.push(FieldError::invalid(&p, secs, "may not specify a duration larger than 2^32 seconds"));
            }
        }
        if let Some(kind) = self.spec.bound_object_ref.as_ref().and_then(|r| r.kind.as_deref())
            && !matches!(kind, "Pod" | "Secret" | "Node")
        {
            errs.push(FieldError::not_supported(
                &spec.child("boundObjectRef").child("kind"),
                kind,
                &["Pod", "Secret", "Node"],
            ));
        }
        errs
    }

    fn validate_update(&self, _old: &Self) -> ErrorList {
        self.validate()
    }
}

impl Validate for SelfSubjectReview {
    fn validate(&self) -> ErrorList {
        ErrorList::new()
    }

    fn validate_update(&self, _old: &Self) -> ErrorList {
        ErrorList::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn causes(errs: &ErrorList) -> Vec<(String, &'static str)> {
        errs.iter().map(|e| (e.field.clone(), e.type_.cause())).collect()
    }

    fn expect(pairs: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
        pairs.iter().map(|(f, c)| ((*f).to_owned(), *c)).collect()
    }

    #[test]
    fn round_trips() {
        let review = json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "audiences": ["https://kubernetes.default.svc"]},
            "status": {
                "authenticated": true,
                "user": {"username": "system:serviceaccount:shop:web", "uid": "7d1e", "groups": ["system:serviceaccounts", "system:serviceaccounts:shop"], "extra": {"authentication.kubernetes.io/pod-name": ["web-0"]}},
                "audiences": ["https://kubernetes.default.svc"]
            }
        });
        let r: TokenReview = serde_json::from_value(review.clone()).unwrap();
        assert_eq!(serde_json::to_value(&r).unwrap(), review);
        assert!(r.validate().is_empty());

        let request = json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"audiences": ["vault"], "expirationSeconds": 7200, "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web-0", "uid": "0b7e"}},
            "status": {"token": "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "expirationTimestamp": "2026-05-01T12:00:00Z"}
        });
        let r: TokenRequest = serde_json::from_value(request.clone()).unwrap();
        assert_eq!(serde_json::to_value(&r).unwrap(), request);
        assert!(r.validate().is_empty());

        let who = json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "SelfSubjectReview",
            "metadata": {"creationTimestamp": "2026-05-01T12:00:00Z"},
            "status": {"userInfo": {"username": "jane", "groups": ["devs", "system:authenticated"]}}
        });
        let r: SelfSubjectReview = serde_json::from_value(who.clone()).unwrap();
        assert_eq!(serde_json::to_value(&r).unwrap(), who);
    }

    #[test]
    fn defaults_and_validation() {
        let mut r = TokenRequest::default();
        assert_eq!(serde_json::to_value(&r).unwrap(), json!({"spec": {"audiences": []}}));
        r.apply_defaults();
        assert_eq!(r.spec.expiration_seconds, Some(3600));
        assert!(r.validate().is_empty());
        r.spec.expiration_seconds = Some(599);
        r.spec.bound_object_ref = Some(BoundObjectReference { kind: Some("Deployment".into()), ..Default::default() });
        assert_eq!(
            causes(&r.validate()),
            expect(&[
                ("spec.expirationSeconds", "FieldValueInvalid"),
                ("spec.boundObjectRef.kind", "FieldValueNotSupported")
            ])
        );
        r.spec.expiration_seconds = Some((1 << 32) + 1);
        r.spec.bound_object_ref = None;
        assert_eq!(causes(&r.validate()), expect(&[("spec.expirationSeconds", "FieldValueInvalid")]));

        let empty = TokenReview::default();
        assert_eq!(causes(&empty.validate()), expect(&[("spec.token", "FieldValueRequired")]));
    }
}
