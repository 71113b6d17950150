//! Authentication as a tower layer.
//!
//! [`AuthenticationLayer`] wraps any service of HTTP requests: each request
//! is authenticated with an [`Authentication`] and either answered 401 (a
//! Kubernetes Status) or passed on with the user in its extensions as
//! [`Authenticated`]. [`ApiServer`](crate::ApiServer) puts this layer in
//! front of itself on every connection when
//! [`ServerConfig::authentication`](crate::ServerConfig) is set, and reads
//! the user from the extension; a service of your own behind the layer can
//! do the same.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use k_store::api::UserInfo;

use super::Authentication;
use crate::response::{self, Body};

/// The user a request was authenticated as (a request extension).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated(pub UserInfo);

/// The tower layer; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct AuthenticationLayer {
    authentication: Arc<Authentication>,
}

impl AuthenticationLayer {
    /// A layer authenticating with `authentication`.
    pub fn new(authentication: Authentication) -> Self {
        Self { authentication: Arc::new(authentication) }
    }
}

impl<S> tower::Layer<S> for AuthenticationLayer {
    type Service = AuthenticationService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthenticationService { inner, authentication: self.authentication.clone() }
    }
}

/// The service [`AuthenticationLayer`] makes.
#[derive(Clone, Debug)]
pub struct AuthenticationService<S> {
    inner: S,
    authentication: Arc<Authentication>,
}

impl<S, B> tower::Service<Request<B>> for AuthenticationService<S>
where
    S: tower::Service<Request<B>, Response = Response<Body>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The clone that was made ready serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let authentication = self.authentication.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            match authentication.authenticate(&parts).await {
                Ok(user) => {
                    parts.extensions.insert(Authenticated(user));
                    inner.call(Request::from_parts(parts, body)).await
                }
                Err(error) => Ok(response::error(&error)),
            }
        })
    }
}
