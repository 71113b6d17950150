//! Server settings.

/// Settings of an [`ApiServer`](crate::ApiServer).
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Concurrent non-long-running requests before answering 429
    /// (`--max-requests-inflight`, default 400; 0 = unlimited).
    pub max_requests_inflight: usize,
    /// Largest accepted request body (default 3 MiB, as kube-apiserver).
    pub max_body_bytes: usize,
    /// Default and maximum watch duration when the client gives no
    /// `timeoutSeconds` (`--min-request-timeout`, default 1800 s).
    pub watch_timeout_seconds: u64,
    /// The Kubernetes version reported by `/version` (minor).
    pub kubernetes_minor: u32,
    /// The address clients should use, reported in `/api` and `/apis`.
    pub external_address: String,
    /// Where `pods/log` reads container logs (the node agent plugs in
    /// here); without one, logs are answered 503 ServiceUnavailable.
    pub log_source: Option<std::sync::Arc<dyn crate::pods::LogSource>>,
    /// Who requests come from. `None` (the default, for in-process and
    /// test servers) runs every request as `system:admin` in
    /// `system:masters`; with authentication, a request it refuses is
    /// answered 401.
    pub authentication: Option<crate::authn::Authentication>,
    /// Who may do what. `None` (the default) allows every request; with a
    /// chain, a request it does not allow is answered 403 in
    /// kube-apiserver's words. Impersonation headers are honoured either way,
    /// checked by this chain when there is one.
    pub authorization: Option<crate::authz::Authorization>,
    /// Signs the tokens of the TokenRequest subresource
    /// (`serviceaccounts/<name>/token`); without it those requests are
    /// answered 503. Add the same value to `authentication` to accept the
    /// tokens it issues.
    pub service_accounts: Option<std::sync::Arc<crate::authn::service_account::ServiceAccountTokens>>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_requests_inflight: 400,
            max_body_bytes: 3 * 1024 * 1024,
            watch_timeout_seconds: 1800,
            kubernetes_minor: 32,
            external_address: "127.0.0.1:6443".into(),
            log_source: None,
            authentication: None,
            authorization: None,
            service_accounts: None,
        }
    }
}
