//! A Kubernetes-compatible REST API server over any k-store object API.
//!
//! Start with [`ApiServer`]: give it an `Arc<dyn ObjectApi>` (such as a
//! [`k_store::Store`]) and a [`ServerConfig`], then either call
//! [`ApiServer::serve`] with a TCP listener, or use it as a tower
//! `Service<http::Request<B>>` inside your own hyper server. Unmodified
//! kubectl drives it: discovery (legacy and aggregated), OpenAPI v2/v3,
//! every built-in kind and custom resources, watch, JSON/merge/strategic
//! patches, server-side apply with managed fields, Tables, the
//! status/scale/binding/eviction/log subresources, health and Prometheus
//! metrics.
//!
//! - [`request`]: paths and queries into [`request::ResourceRequest`]s.
//! - [`discovery`]: the discovery documents.
//! - [`error::ApiError`]: failures, answered as Kubernetes `Status` objects.
//! - [`table`]: server-side printing (the columns `kubectl get` shows).
//! - [`openapi`]: the OpenAPI documents.
//! - Strategic merge patch and server-side apply are k-store's
//!   ([`k_store::patch::strategic`], [`k_store::apply`]): the server records
//!   every write's field manager and runs applies through them.
//! - [`protobuf`]: decoding the protobuf request bodies kubectl's typed commands send.
//! - [`tls`]: the secure port's certificates (a generated PKI or given
//!   files) and rustls configuration, served by [`ApiServer::serve_tls`].
//! - [`authn`]: who a request comes from (client certificates, a token
//!   file, service-account tokens, anonymous), as a tower layer; impersonation.
//! - [`authz`]: may they? `AlwaysAllow`, `AlwaysDeny` and RBAC (from
//!   watch-fed caches, with the bootstrap policy and escalation checks);
//!   kube-apiserver's 403s.
//! - [`security`]: both chains from kube-apiserver's options; start here to
//!   secure a server. The review kinds (TokenReview, SubjectAccessReview…)
//!   and TokenRequest are answered from them.
//! - [`admission`]: the admission plugins and webhooks, installed on the store.
//! - [`allocator`]: Service cluster IPs and node ports.
//! - [`pods`]: eviction and logs (the [`pods::LogSource`] trait).
//!
//! The design is in `docs/apiserver/design.md`.

pub mod admission;
pub mod allocator;
pub mod authn;
pub mod authz;
pub mod config;
pub mod discovery;
pub mod error;
mod handlers;
mod metrics;
pub mod openapi;
mod patching;
pub mod pods;
pub mod protobuf;
pub mod request;
pub mod response;
mod reviews;
pub mod security;
pub mod table;
mod tables;
pub mod tls;
mod token_request;
mod watch;
mod writes;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use k_api_types::GroupVersionResource;
use k_store::api::{ListOptions, ObjectApi, UserInfo};
use serde_json::json;
use tokio::net::TcpListener;

pub use config::ServerConfig;
pub use error::ApiError;
pub use response::Body;

use crate::discovery::{AGGREGATED_CONTENT_TYPE, Discovery};
use crate::request::{Query, Target};
use crate::response::Accept;

/// The API server: a cheap-to-clone tower service.
#[derive(Clone, Debug)]
pub struct ApiServer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    api: Arc<dyn ObjectApi>,
    config: ServerConfig,
    metrics: metrics::Metrics,
    inflight: AtomicUsize,
    openapi: openapi_cache::Cache,
}

mod openapi_cache;

/// Decrements a gauge when dropped (open watches).
struct WatchGuard(prometheus_client::metrics::gauge::Gauge<i64, std::sync::atomic::AtomicI64>);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The verb of a non-resource request: the lower-case method.
fn method_verb(method: &Method) -> &'static str {
    match *method {
        Method::GET => "get",
        Method::HEAD => "head",
        Method::POST => "post",
        Method::PUT => "put",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        Method::OPTIONS => "options",
        _ => "unknown",
    }
}

/// Requests served without [`ServerConfig::authentication`] run as this
/// user (in-process and test servers).
fn default_user() -> UserInfo {
    UserInfo {
        username: "system:admin".into(),
        groups: vec!["system:masters".into(), "system:authenticated".into()],
        ..UserInfo::default()
    }
}

impl ApiServer {
    /// A server of `api`.
    pub fn new(api: Arc<dyn ObjectApi>, config: ServerConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                api,
                config,
                metrics: metrics::Metrics::new(),
                inflight: AtomicUsize::new(0),
                openapi: openapi_cache::Cache::default(),
            }),
        }
    }

    /// The object API it serves.
    pub fn api(&self) -> &Arc<dyn ObjectApi> {
        &self.inner.api
    }

    /// Serves plain HTTP connections from `listener` (HTTP/1.1 and HTTP/2)
    /// until `shutdown` completes, then lets open requests finish (watches
    /// end).
    pub async fn serve(&self, listener: TcpListener, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        self.serve_connections(listener, None, shutdown).await
    }

    /// Serves HTTPS connections from `listener` with `tls` (see
    /// [`tls::Pki::server_config`]), as [`serve`](Self::serve) does HTTP.
    /// A client's verified certificate chain reaches every request as the
    /// extension [`tls::PeerCertificates`]; a failed handshake closes only
    /// its connection.
    pub async fn serve_tls(
        &self,
        listener: TcpListener,
        tls: Arc<tokio_rustls::rustls::ServerConfig>,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        self.serve_connections(listener, Some(tokio_rustls::TlsAcceptor::from(tls)), shutdown).await
    }

    async fn serve_connections(
        &self,
        listener: TcpListener,
        tls: Option<tokio_rustls::TlsAcceptor>,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let builder = auto::Builder::new(TokioExecutor::new());
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::warn!("accept failed: {e}");
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let (server, builder, watcher, tls) = (self.clone(), builder.clone(), graceful.watcher(), tls.clone());
                    tokio::spawn(async move {
                        let result = match tls {
                            None => {
                                let service = Self::service(server, None);
                                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                                watcher.watch(conn.into_owned()).await
                            }
                            Some(acceptor) => {
                                let stream = match acceptor.accept(stream).await {
                                    Ok(s) => s,
                                    Err(e) => {
                                        tracing::debug!("TLS handshake with {peer} failed: {e}");
                                        return;
                                    }
                                };
                                let certs = stream.get_ref().1.peer_certificates().map(|c| {
                                    tls::PeerCertificates::new(c.iter().map(|d| d.clone().into_owned()).collect())
                                });
                                let service = Self::service(server, certs);
                                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                                watcher.watch(conn.into_owned()).await
                            }
                        };
                        if let Err(e) = result {
                            tracing::debug!("connection ended: {e}");
                        }
                    });
                }
                () = &mut shutdown => break,
            }
        }
        // Watches would keep connections open forever: give requests a moment.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), graceful.shutdown()).await;
        Ok(())
    }

    /// The hyper service of one connection: the server, behind the
    /// [`authn::layer::AuthenticationLayer`] when authentication is set.
    fn service(
        server: ApiServer,
        certs: Option<tls::PeerCertificates>,
    ) -> impl hyper::service::Service<
        Request<hyper::body::Incoming>,
        Response = Response<Body>,
        Error = Infallible,
        Future = impl Future<Output = Result<Response<Body>, Infallible>> + Send,
    > + Clone
    + Send
    + 'static {
        use tower::{Layer, ServiceExt};
        let layer = server.inner.config.authentication.clone().map(authn::layer::AuthenticationLayer::new);
        let stack = tower::util::option_layer(layer).layer(server);
        hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
            if let Some(certs) = &certs {
                req.extensions_mut().insert(certs.clone());
            }
            let stack = stack.clone();
            async move {
                match stack.oneshot(req).await {
                    Ok(response) => Ok::<_, Infallible>(response),
                    Err(error) => Ok(response::error(&ApiError::internal(error.to_string()))),
                }
            }
        })
    }

    /// Answers one request.
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let start = Instant::now();
        let (mut parts, body) = req.into_parts();
        // Taken, not cloned: the authentication layer's user is this request's.
        let authenticated = parts.extensions.remove::<authn::layer::Authenticated>().map(|a| a.0);
        let query = Query::parse(parts.uri.query());
        let watch_param = query.flag("watch").unwrap_or(false);
        let target = request::parse_target(&parts.method, parts.uri.path(), watch_param);
        let (verb, group, version, resource, subresource) = match &target {
            Ok(Target::Resource(r)) => (
                r.verb.as_str().to_owned(),
                r.group.clone(),
                r.version.clone(),
                r.resource.clone(),
                r.subresource.clone(),
            ),
            _ => (parts.method.as_str().to_lowercase(), String::new(), String::new(), String::new(), String::new()),
        };
        let is_watch = verb == "watch";
        let limit = self.inner.config.max_requests_inflight;
        let counted = !is_watch;
        let response = if counted && limit > 0 && self.inner.inflight.fetch_add(1, Ordering::AcqRel) >= limit {
            self.inner.inflight.fetch_sub(1, Ordering::AcqRel);
            response::error(&ApiError::too_many_requests())
        } else {
            if counted {
                self.inner.metrics.inflight.inc();
            } else {
                self.inner.inflight.fetch_add(1, Ordering::AcqRel);
            }
            let limit = self.inner.config.max_body_bytes;
            let r = match Limited::new(body, limit).collect().await {
                Err(e) => {
                    if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                        response::error(&ApiError::too_large(limit))
                    } else {
                        response::error(&ApiError::bad_request(format!("reading the request body: {e}")))
                    }
                }
                Ok(collected) => {
                    let body = collected.to_bytes();
                    match self.route(&parts, authenticated, target, &query, body).await {
                        Ok(r) => r,
                        Err(e) => response::error(&e),
                    }
                }
            };
            self.inner.inflight.fetch_sub(1, Ordering::AcqRel);
            if counted {
                self.inner.metrics.inflight.dec();
            }
            r
        };
        let code = response.status().as_u16().to_string();
        self.inner
            .metrics
            .observe(metrics::RequestLabels { verb, group, version, resource, subresource, code }, start.elapsed());
        if is_watch && response.status() == StatusCode::OK {
            let gauge = self.inner.metrics.watches.clone();
            gauge.inc();
            let guard = WatchGuard(gauge);
            let (parts, body) = response.into_parts();
            let body = body
                .map_frame(move |f| {
                    let _ = &guard;
                    f
                })
                .boxed_unsync();
            return Response::from_parts(parts, body);
        }
        response
    }

    async fn route(
        &self,
        parts: &http::request::Parts,
        authenticated: Option<UserInfo>,
        target: Result<Target, ApiError>,
        query: &Query,
        body: Bytes,
    ) -> Result<Response<Body>, ApiError> {
        let accept = Accept::parse(parts.headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()));
        let path = parts.uri.path();
        let read_only = parts.method == Method::GET || parts.method == Method::HEAD;
        let config = &self.inner.config;
        let authenticated = match authenticated {
            Some(user) => user,
            None => match &config.authentication {
                None => default_user(),
                Some(authentication) => authentication.authenticate(parts).await?,
            },
        };
        let user = authn::impersonation::impersonate(&parts.headers, authenticated, config.authorization.as_ref())?;
        let target = target?;
        if let Some(authorization) = &config.authorization {
            let attributes = match &target {
                Target::Resource(r) => authz::Attributes::resource(
                    &user,
                    r.verb.as_str(),
                    &r.group,
                    &r.resource,
                    &r.subresource,
                    &r.namespace,
                    &r.name,
                ),
                _ => authz::Attributes::non_resource(&user, method_verb(&parts.method), path),
            };
            authorization.check(&attributes)?;
        }
        match target {
            Target::Resource(req) => {
                let gvr = GroupVersionResource::new(&req.group, &req.version, &req.resource);
                let resource =
                    self.inner.api.resource(&gvr).map_err(|_| ApiError::unknown_resource(&format!("{}", gvr)))?;
                // A cluster-scoped kind has no path under a namespace (only a
                // namespace itself: /api/v1/namespaces/<ns>[/status|/finalize]),
                // so a namespace's permissions never reach cluster objects.
                let own_namespace =
                    resource.group.is_empty() && resource.plural == "namespaces" && req.name == req.namespace;
                if !resource.namespaced && !req.namespace.is_empty() && !own_namespace {
                    return Err(ApiError::not_found_path());
                }
                if req.verb == request::Verb::Patch
                    && let Some(authorization) = &config.authorization
                    && parts
                        .headers
                        .get(http::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|t| t.starts_with("application/apply-patch"))
                    && self
                        .inner
                        .api
                        .get(&gvr, if resource.namespaced { &req.namespace } else { "" }, &req.name)
                        .await
                        .is_err_and(|e| e.is_not_found())
                {
                    // An apply that creates the object needs `create` too.
                    authorization.check(&authz::Attributes::resource(
                        &user,
                        "create",
                        &req.group,
                        &req.resource,
                        &req.subresource,
                        &req.namespace,
                        &req.name,
                    ))?;
                }
                let call = handlers::Call {
                    api: &self.inner.api,
                    req: &req,
                    resource,
                    query,
                    headers: &parts.headers,
                    accept,
                    body,
                    user,
                    watch_timeout: self.inner.config.watch_timeout_seconds,
                    log_source: self.inner.config.log_source.clone(),
                    config,
                };
                handlers::serve(call).await
            }
            _ if !read_only => {
                Err(ApiError::new(405, "MethodNotAllowed", format!("{} is not allowed on {path}", parts.method)))
            }
            Target::Groups { legacy } => {
                let d = self.discovery();
                if accept.aggregated_discovery {
                    return Ok(response::bytes(
                        StatusCode::OK,
                        AGGREGATED_CONTENT_TYPE,
                        serde_json::to_vec(&d.aggregated(legacy)).unwrap_or_default(),
                    ));
                }
                if legacy {
                    Ok(response::json(StatusCode::OK, &d.api_versions()))
                } else {
                    Ok(response::json(StatusCode::OK, &d.group_list()))
                }
            }
            Target::Group(group) => {
                let g = self.discovery().group(&group).ok_or_else(ApiError::not_found_path)?;
                Ok(response::json(StatusCode::OK, &g))
            }
            Target::GroupVersion { group, version } => {
                let list = self.discovery().resource_list(&group, &version).ok_or_else(ApiError::not_found_path)?;
                Ok(response::json(StatusCode::OK, &list))
            }
            Target::Other => self.non_resource(path, query, accept).await,
        }
    }

    fn discovery(&self) -> Discovery {
        Discovery::new(self.inner.api.resources(), &self.inner.config.external_address)
    }

    async fn non_resource(&self, path: &str, query: &Query, accept: Accept) -> Result<Response<Body>, ApiError> {
        match path {
            "/version" | "/version/" => Ok(response::json(StatusCode::OK, &self.version())),
            "/healthz" | "/livez" => Ok(response::text(StatusCode::OK, "ok")),
            "/readyz" => {
                let ready = self.ready().await;
                let verbose = query.get("verbose").is_some();
                let body = match (&ready, verbose) {
                    (Ok(()), false) => "ok".to_owned(),
                    (Ok(()), true) => "[+]ping ok\n[+]store ok\nreadyz check passed\n".to_owned(),
                    (Err(e), _) => format!("[+]ping ok\n[-]store failed: {e}\nreadyz check failed\n"),
                };
                let code = if ready.is_ok() { StatusCode::OK } else { StatusCode::INTERNAL_SERVER_ERROR };
                Ok(response::text(code, body))
            }
            "/metrics" => Ok(response::bytes(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                self.inner.metrics.encode(),
            )),
            p if p == "/openapi/v2" || p.starts_with("/openapi/v3") => {
                self.inner.openapi.serve(&self.inner.api, p, query, accept).await
            }
            "/" => {
                let paths = [
                    "/api",
                    "/apis",
                    "/healthz",
                    "/livez",
                    "/metrics",
                    "/openapi/v2",
                    "/openapi/v3",
                    "/readyz",
                    "/version",
                ];
                Ok(response::json(StatusCode::OK, &json!({ "paths": paths })))
            }
            _ => Err(ApiError::not_found_path()),
        }
    }

    async fn ready(&self) -> Result<(), ApiError> {
        let gvr = GroupVersionResource::new("", "v1", "namespaces");
        self.inner.api.list(&gvr, None, &ListOptions { limit: 1, ..Default::default() }).await?;
        Ok(())
    }

    fn version(&self) -> serde_json::Value {
        let minor = self.inner.config.kubernetes_minor;
        json!({
            "major": "1",
            "minor": minor.to_string(),
            "gitVersion": format!("v1.{minor}.0-k{}", env!("CARGO_PKG_VERSION")),
            "gitCommit": "",
            "gitTreeState": "clean",
            "buildDate": "",
            "goVersion": "rust",
            "compiler": "rustc",
            "platform": format!("{}/{}", std::env::consts::OS, if std::env::consts::ARCH == "x86_64" { "amd64" } else { std::env::consts::ARCH }),
        })
    }
}

impl<B> tower::Service<Request<B>> for ApiServer
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let server = self.clone();
        Box::pin(async move { Ok(server.handle(req).await) })
    }
}
