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
//! Built in: [`x509::ClientCertificates`] (CN is the user, O the groups,
//! from the chain the TLS layer verified). Bearer tokens (static token
//! file, service-account JWTs) follow (issue 5, `docs/apiserver/security.md`).

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
        if self.anonymous {
            return Ok(UserInfo {
                username: ANONYMOUS_USER.to_owned(),
                groups: vec![UNAUTHENTICATED.to_owned()],
                ..UserInfo::default()
            });
        }
        Err(ApiError::unauthorized())
    }
}
