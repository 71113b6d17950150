//! HTTP(S) to the API server: the hyper client, TLS, credentials, and
//! turning failed responses into [`StoreError`]s.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue, USER_AGENT};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use k_api_types::meta::Status;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use super::config::{ConfigError, Credentials, RemoteConfig};
use super::status::to_store_error;
use crate::api::UserInfo;
use crate::error::{Result, StoreError};

/// How often a token file is re-read.
const TOKEN_FILE_REFRESH: Duration = Duration::from_secs(60);
/// Attempts of a request answered 429 Too Many Requests.
const THROTTLE_ATTEMPTS: usize = 5;

type HyperClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A request body and its content type.
pub(crate) struct Body {
    pub(crate) content_type: &'static str,
    pub(crate) bytes: Bytes,
}

impl Body {
    pub(crate) fn json(value: &impl serde::Serialize) -> Result<Self> {
        let bytes = serde_json::to_vec(value).map_err(|e| StoreError::BadRequest(format!("encoding the body: {e}")))?;
        Ok(Self { content_type: "application/json", bytes: Bytes::from(bytes) })
    }
}

/// The connection to one API server.
pub(crate) struct Transport {
    client: HyperClient,
    server: String,
    credentials: Credentials,
    token_cache: Mutex<Option<(Instant, HeaderValue)>>,
    user_agent: HeaderValue,
    request_timeout: Option<Duration>,
    impersonate: bool,
    https: bool,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport").field("server", &self.server).field("credentials", &self.credentials).finish()
    }
}

/// A `Display` of an error and its sources: hyper's errors say little at the top.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

impl Transport {
    pub(crate) fn new(config: &RemoteConfig) -> std::result::Result<Self, ConfigError> {
        let uri: Uri = config
            .server
            .parse()
            .map_err(|e| ConfigError(format!("the server URL {:?} is not a URL: {e}", config.server)))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => {
                return Err(ConfigError(format!(
                    "the server URL {:?} must start with http:// or https://",
                    config.server
                )));
            }
        };
        if uri.host().is_none_or(str::is_empty) {
            return Err(ConfigError(format!("the server URL {:?} has no host", config.server)));
        }
        let tls = tls_config(config, https)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(config.connect_timeout));
        let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http();
        let builder = match &config.tls_server_name {
            Some(name) => {
                let name = ServerName::try_from(name.clone())
                    .map_err(|e| ConfigError(format!("tls-server-name {name:?} is not a valid name: {e}")))?;
                builder.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name))
            }
            None => builder,
        };
        let connector = builder.enable_http1().enable_http2().wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(90)).build(connector);
        let user_agent = HeaderValue::from_str(&config.user_agent)
            .map_err(|_| ConfigError(format!("the user agent {:?} is not a valid header", config.user_agent)))?;
        if let Credentials::Token(t) = &config.credentials {
            bearer(t).map_err(|_| ConfigError("the bearer token is not a valid header value".into()))?;
        }
        Ok(Self {
            client,
            server: config.server.clone(),
            credentials: config.credentials.clone(),
            token_cache: Mutex::new(None),
            user_agent,
            request_timeout: config.request_timeout,
            impersonate: config.impersonate,
            https,
        })
    }

    pub(crate) fn server(&self) -> &str {
        &self.server
    }

    fn authorization(&self) -> Result<Option<HeaderValue>> {
        match &self.credentials {
            Credentials::None => Ok(None),
            Credentials::Token(t) => Ok(Some(bearer(t)?)),
            Credentials::Basic { username, password } => {
                use base64::Engine as _;
                let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
                let mut v = HeaderValue::from_str(&format!("Basic {encoded}"))
                    .map_err(|_| StoreError::BadRequest("the basic credentials are not a valid header value".into()))?;
                v.set_sensitive(true);
                Ok(Some(v))
            }
            Credentials::TokenFile(path) => {
                let mut cache = self.token_cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some((at, v)) = cache.as_ref()
                    && at.elapsed() < TOKEN_FILE_REFRESH
                {
                    return Ok(Some(v.clone()));
                }
                let token = std::fs::read_to_string(path).map_err(|e| {
                    StoreError::Internal(format!("reading the token file {} for {}: {e}", path.display(), self.server))
                })?;
                let v = bearer(token.trim())?;
                *cache = Some((Instant::now(), v.clone()));
                Ok(Some(v))
            }
        }
    }

    /// Sends a request; `path` starts with `/` and includes the query. Connection
    /// failures are `Internal` errors naming the server.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Body>,
        user: Option<&UserInfo>,
    ) -> Result<Response<Incoming>> {
        let url = format!("{}{path}", self.server);
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(&url)
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, self.user_agent.clone());
        if let Some(auth) = self.authorization()? {
            builder = builder.header(AUTHORIZATION, auth);
        }
        if self.impersonate
            && let Some(user) = user.filter(|u| !u.username.is_empty())
        {
            builder = impersonation(builder, user)?;
        }
        let request = match body {
            Some(b) => builder.header(CONTENT_TYPE, b.content_type).body(Full::new(b.bytes.clone())),
            None => builder.body(Full::new(Bytes::new())),
        }
        .map_err(|e| StoreError::BadRequest(format!("building the request {method} {url}: {e}")))?;
        let sent = self.client.request(request);
        let response = match self.request_timeout {
            Some(t) => tokio::time::timeout(t, sent).await.map_err(|_| {
                StoreError::Internal(format!("{method} {url}: no answer from the API server within {t:?}"))
            })?,
            None => sent.await,
        };
        response.map_err(|e| {
            let mut message = format!("cannot reach the API server at {}: {method} {url}: {}", self.server, chain(&e));
            if self.https && message.contains("UnknownIssuer") {
                message.push_str(" (the server certificate is not signed by a trusted certificate authority)");
            }
            StoreError::Internal(message)
        })
    }

    /// Sends a request and reads the whole answer; a failed answer is the
    /// `StoreError` its Status stands for. Retries 429s after `Retry-After`.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Body>,
        user: Option<&UserInfo>,
    ) -> Result<(StatusCode, Bytes)> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let response = self.send(method.clone(), path, body, user).await?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let bytes = self.read_body(&method, path, response.into_body()).await?;
            if status == StatusCode::TOO_MANY_REQUESTS && attempt < THROTTLE_ATTEMPTS {
                tokio::time::sleep(Duration::from_secs(retry_after.unwrap_or(1).clamp(1, 5))).await;
                continue;
            }
            if status.is_success() {
                return Ok((status, bytes));
            }
            return Err(self.failure(&method, path, status, &bytes));
        }
    }

    async fn read_body(&self, method: &Method, path: &str, body: Incoming) -> Result<Bytes> {
        let collect = body.collect();
        let collected = match self.request_timeout {
            Some(t) => tokio::time::timeout(t, collect).await.map_err(|_| {
                StoreError::Internal(format!("{method} {}{path}: the answer did not arrive within {t:?}", self.server))
            })?,
            None => collect.await,
        };
        collected.map(|c| c.to_bytes()).map_err(|e| {
            StoreError::Internal(format!("{method} {}{path}: reading the answer failed: {}", self.server, chain(&e)))
        })
    }

    /// The error of a failed answer: its Status mapped back, or an `Internal`
    /// error quoting the body when it is not a Status.
    pub(crate) fn failure(&self, method: &Method, path: &str, code: StatusCode, body: &[u8]) -> StoreError {
        match serde_json::from_slice::<Status>(body) {
            Ok(status) if status.kind == "Status" || !status.reason.is_empty() => {
                to_store_error(&status, code.as_u16())
            }
            _ => {
                let text: String = String::from_utf8_lossy(body).chars().take(300).collect();
                let status =
                    Status::failure(code.as_u16(), "", format!("{method} {}{path}: HTTP {code}: {text}", self.server));
                match to_store_error(&status, code.as_u16()) {
                    // Without a Status, only the code is known: keep the whole text.
                    StoreError::NotFound { .. } | StoreError::UnknownResource(_) => {
                        StoreError::UnknownResource(status.message)
                    }
                    other => other,
                }
            }
        }
    }

    /// GET of a JSON document.
    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T> {
        let (_, bytes) = self.call(Method::GET, path, None, None).await?;
        decode(&self.server, path, &bytes)
    }
}

/// Decodes a JSON answer.
pub(crate) fn decode<'a, T: serde::Deserialize<'a>>(server: &str, path: &str, bytes: &'a [u8]) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Internal(format!("the answer of {server}{path} does not decode: {e}")))
}

fn bearer(token: &str) -> Result<HeaderValue> {
    let mut v = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| StoreError::BadRequest("the bearer token is not a valid header value".into()))?;
    v.set_sensitive(true);
    Ok(v)
}

/// The impersonation headers for `user`.
fn impersonation(mut builder: http::request::Builder, user: &UserInfo) -> Result<http::request::Builder> {
    let value = |s: &str| {
        HeaderValue::from_str(s).map_err(|_| StoreError::BadRequest(format!("{s:?} cannot be sent as a header value")))
    };
    builder = builder.header("Impersonate-User", value(&user.username)?);
    if !user.uid.is_empty() {
        builder = builder.header("Impersonate-Uid", value(&user.uid)?);
    }
    for g in &user.groups {
        builder = builder.header("Impersonate-Group", value(g)?);
    }
    for (key, values) in &user.extra {
        let name = HeaderName::from_bytes(format!("Impersonate-Extra-{}", super::escape(key)).as_bytes())
            .map_err(|_| StoreError::BadRequest(format!("the extra key {key:?} cannot be sent as a header")))?;
        for v in values {
            builder = builder.header(name.clone(), value(v)?);
        }
    }
    Ok(builder)
}

/// The rustls client configuration: the configured CAs (or no verification),
/// and the client certificate if any.
fn tls_config(config: &RemoteConfig, https: bool) -> std::result::Result<rustls::ClientConfig, ConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError(format!("TLS setup: {e}")))?;
    let builder = if config.insecure_skip_tls_verify {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyServerCert(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        for pem in &config.ca_pems {
            let mut found = false;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| ConfigError(format!("the certificate authority is not valid PEM: {e}")))?;
                roots.add(cert).map_err(|e| ConfigError(format!("the certificate authority is not usable: {e}")))?;
                found = true;
            }
            if !found {
                return Err(ConfigError("the certificate authority data holds no PEM certificate".into()));
            }
        }
        if https && roots.is_empty() {
            return Err(ConfigError(format!(
                "{} is an https server but no certificate authority is configured (certificate-authority, \
                 certificate-authority-data, RemoteConfig::ca_pem) and insecure-skip-tls-verify is off",
                config.server
            )));
        }
        builder.with_root_certificates(roots)
    };
    match &config.client_identity {
        None => Ok(builder.with_no_client_auth()),
        Some((cert, key)) => {
            let chain = CertificateDer::pem_slice_iter(cert)
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| ConfigError(format!("the client certificate is not valid PEM: {e}")))?;
            if chain.is_empty() {
                return Err(ConfigError("the client certificate data holds no PEM certificate".into()));
            }
            let key = PrivateKeyDer::from_pem_slice(key)
                .map_err(|e| ConfigError(format!("the client key is not a PEM private key: {e}")))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| ConfigError(format!("the client certificate and key do not fit together: {e}")))
        }
    }
}

/// `insecure-skip-tls-verify`: any certificate is accepted, but handshake
/// signatures are still checked.
#[derive(Debug)]
struct AnyServerCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
