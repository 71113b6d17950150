//! Authentication: who a request comes from.
//!
//! An [`Authentication`] tries its [`Authenticator`]s in order, as
//! kube-apiserver does: the first that recognizes the request's credentials
//! names the user, who also joins `system:authenticated`. Credentials that
//! are presented but wrong end the request with 401 Unauthorized (they do
//! not fall back to anonymous). A request with no credentials is
//! `system:anonymous` in `system:unauthenticated` when anonymous requests
//! are allowed, and 401 otherwise.
//!
//! Built in, in kube-apiserver's order:
//! - [`x509::ClientCertificates`]: CN is the user, O the groups, from the
//!   chain the TLS layer verified;
//! - [`token_file::TokenFile`]: `--token-auth-file`, static bearer tokens;
//! - [`service_account::ServiceAccountTokens`]: signed service-account JWTs
//!   (issued by the `serviceaccounts/token` subresource, or stored in
//!   `kubernetes.io/service-account-token` Secrets).
//!
//! A bearer token that no authenticator recognizes is a 401, not an
//! anonymous request. Token authenticators also answer TokenReviews
//! ([`Authentication::review_token`]).
//!
//! [`layer::AuthenticationLayer`] runs an [`Authentication`] as a tower
//! layer in front of any service; [`ApiServer`](crate::ApiServer) runs it for
//! every request when [`ServerConfig::authentication`](crate::ServerConfig)
//! is set.

pub mod impersonation;
pub mod layer;
pub mod service_account;
pub mod token_file;
pub mod x509;

use std::sync::Arc;

use k_store::api::UserInfo;

use crate::error::ApiError;

/// The group of every authenticated user.
pub const AUTHENTICATED: &str = "system:authenticated";
/// The user of anonymous requests.
pub const ANONYMOUS_USER: &str = "system:anonymous";
/// The group of anonymous requests.
pub const UNAUTHENTICATED: &str = "system:unauthenticated";

/// What one authenticator makes of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The credentials are valid: this user.
    Authenticated(UserInfo),
    /// No credentials of this authenticator's kind.
    NotMine,
    /// Credentials of its kind that are not valid (the reason is logged,
    /// not sent).
    Invalid(String),
}

/// One way of recognizing users; see the [module docs](self).
#[async_trait::async_trait]
pub trait Authenticator: Send + Sync + std::fmt::Debug {
    /// Looks at the request's credentials (headers, the TLS client chain
    /// in the extensions).
    async fn authenticate(&self, request: &http::request::Parts) -> Outcome;

    /// Checks a bearer token presented for `audiences` (a TokenReview's, or
    /// the API server's own when empty). On success, also returns the
    /// audiences the token is valid for. Authenticators of other kinds of
    /// credentials answer `NotMine` (the default).
    async fn authenticate_token(&self, _token: &str, _audiences: &[String]) -> (Outcome, Vec<String>) {
        (Outcome::NotMine, Vec::new())
    }
}

#[async_trait::async_trait]
impl<T: Authenticator + ?Sized> Authenticator for Arc<T> {
    async fn authenticate(&self, request: &http::request::Parts) -> Outcome {
        (**self).authenticate(request).await
    }

    async fn authenticate_token(&self, token: &str, audiences: &[String]) -> (Outcome, Vec<String>) {
        (**self).authenticate_token(token, audiences).await
    }
}

/// The bearer token of a request's `Authorization` header, if any.
pub fn bearer_token(request: &http::request::Parts) -> Option<&str> {
    let value = request.headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Authenticators tried in order, and whether anonymous requests are allowed.
#[derive(Clone, Debug, Default)]
pub struct Authentication {
    chain: Vec<Arc<dyn Authenticator>>,
    anonymous: bool,
}

impl Authentication {
    /// No authenticator, anonymous requests refused: every request is 401
    /// until authenticators are added.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an authenticator after those already there.
    #[must_use]
    pub fn with(mut self, authenticator: impl Authenticator + 'static) -> Self {
        self.chain.push(Arc::new(authenticator));
        self
    }

    /// Allows requests without credentials, as `system:anonymous`
    /// (kube-apiserver's `--anonymous-auth`).
    #[must_use]
    pub fn anonymous(mut self, allowed: bool) -> Self {
        self.anonymous = allowed;
        self
    }

    /// The user a request comes from, or the 401 to answer.
    pub async fn authenticate(&self, request: &http::request::Parts) -> Result<UserInfo, ApiError> {
        for authenticator in &self.chain {
            match authenticator.authenticate(request).await {
                Outcome::Authenticated(mut user) => {
                    if !user.groups.iter().any(|g| g == AUTHENTICATED) {
                        user.groups.push(AUTHENTICATED.to_owned());
                    }
                    return Ok(user);
                }
                Outcome::NotMine => {}
                Outcome::Invalid(reason) => {
                    tracing::info!("unauthorized {} {}: {reason}", request.method, request.uri.path());
                    return Err(ApiError::unauthorized());
                }
            }
        }
        if bearer_token(request).is_some() {
            // A token nobody recognizes is a bad credential, not anonymity.
            tracing::info!("unauthorized {} {}: unknown bearer token", request.method, request.uri.path());
            return Err(ApiError::unauthorized());
        }
        if self.anonymous {
            return Ok(UserInfo {
                username: ANONYMOUS_USER.to_owned(),
                groups: vec![UNAUTHENTICATED.to_owned()],
                ..UserInfo::default()
            });
        }
        Err(ApiError::unauthorized())
    }

    /// Whether anonymous requests are allowed.
    pub fn allows_anonymous(&self) -> bool {
        self.anonymous
    }

    /// A TokenReview: asks the token authenticators, in order, who `token`
    /// belongs to. Returns the user (with `system:authenticated`) and the
    /// audiences it is valid for, or why not.
    pub async fn review_token(&self, token: &str, audiences: &[String]) -> Result<(UserInfo, Vec<String>), String> {
        for authenticator in &self.chain {
            match authenticator.authenticate_token(token, audiences).await {
                (Outcome::Authenticated(mut user), audiences) => {
                    if !user.groups.iter().any(|g| g == AUTHENTICATED) {
                        user.groups.push(AUTHENTICATED.to_owned());
                    }
                    return Ok((user, audiences));
                }
                (Outcome::NotMine, _) => {}
                (Outcome::Invalid(reason), _) => return Err(reason),
            }
        }
        Err("invalid bearer token".to_owned())
    }
}
