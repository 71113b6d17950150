//! [`RemoteConfig`]: where the API server is and how to authenticate to it,
//! built in code or read from a kubeconfig.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::error::StoreError;

/// A configuration that cannot be used: an unreadable or malformed
/// kubeconfig, a missing context, cluster or user, bad PEM data.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl From<ConfigError> for StoreError {
    fn from(e: ConfigError) -> Self {
        StoreError::BadRequest(e.0)
    }
}

/// How requests authenticate.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Credentials {
    /// No credentials (or only a client certificate).
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    Token(String),
    /// A bearer token read from a file, re-read every minute (projected
    /// service-account tokens rotate).
    TokenFile(PathBuf),
    /// `Authorization: Basic` with a user name and password.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Token(_) => f.write_str("Token(<redacted>)"),
            Self::TokenFile(p) => f.debug_tuple("TokenFile").field(p).finish(),
            Self::Basic { username, .. } => {
                f.debug_struct("Basic").field("username", username).field("password", &"<redacted>").finish()
            }
        }
    }
}

/// Where a Kubernetes API server is and how to talk to it: the input of
/// [`RemoteApi::connect`](super::RemoteApi::connect).
///
/// Build one in code:
///
/// ```
/// use k_store::remote::RemoteConfig;
///
/// let config = RemoteConfig::new("https://127.0.0.1:6443")
///     .bearer_token("s3cr3t")
///     .ca_pem(b"-----BEGIN CERTIFICATE-----\n...".to_vec())
///     .namespace("team-a");
/// assert_eq!(config.server(), "https://127.0.0.1:6443");
/// assert_eq!(config.default_namespace(), "team-a");
/// ```
///
/// or read a kubeconfig with [`RemoteConfig::from_kubeconfig`] /
/// [`RemoteConfig::from_default_kubeconfig`].
#[derive(Clone)]
pub struct RemoteConfig {
    pub(crate) server: String,
    pub(crate) namespace: String,
    pub(crate) credentials: Credentials,
    pub(crate) ca_pems: Vec<Vec<u8>>,
    pub(crate) client_identity: Option<(Vec<u8>, Vec<u8>)>,
    pub(crate) insecure_skip_tls_verify: bool,
    pub(crate) tls_server_name: Option<String>,
    pub(crate) impersonate: bool,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) connect_timeout: Duration,
    pub(crate) user_agent: String,
}

impl fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteConfig")
            .field("server", &self.server)
            .field("namespace", &self.namespace)
            .field("credentials", &self.credentials)
            .field("ca_pems", &self.ca_pems.len())
            .field("client_identity", &self.client_identity.is_some())
            .field("insecure_skip_tls_verify", &self.insecure_skip_tls_verify)
            .field("tls_server_name", &self.tls_server_name)
            .field("impersonate", &self.impersonate)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl RemoteConfig {
    /// A configuration for the server at `server` (`http://host:port` or
    /// `https://host:port`, optionally with a path prefix), without
    /// credentials, in namespace `default`.
    pub fn new(server: impl Into<String>) -> Self {
        Self {
            server: server.into().trim_end_matches('/').to_owned(),
            namespace: "default".into(),
            credentials: Credentials::None,
            ca_pems: Vec::new(),
            client_identity: None,
            insecure_skip_tls_verify: false,
            tls_server_name: None,
            impersonate: false,
            request_timeout: Some(Duration::from_secs(60)),
            connect_timeout: Duration::from_secs(10),
            user_agent: format!("k-store-remote/{}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// The server URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The namespace of the kubeconfig context (`default` when it names none).
    pub fn default_namespace(&self) -> &str {
        &self.namespace
    }

    /// The credentials requests carry.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Sets the default namespace.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Authenticates with a bearer token.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.credentials = Credentials::Token(token.into());
        self
    }

    /// Authenticates with a bearer token read from a file (re-read every minute).
    pub fn token_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.credentials = Credentials::TokenFile(path.into());
        self
    }

    /// Authenticates with HTTP basic authentication.
    pub fn basic_auth(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Credentials::Basic { username: username.into(), password: password.into() };
        self
    }

    /// Trusts the certificate authorities in `pem` (one or more PEM
    /// certificates) for https servers. May be called more than once.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pems.push(pem.into());
        self
    }

    /// Presents a client certificate (PEM chain) and its private key (PEM:
    /// PKCS#8, PKCS#1 or SEC1) to https servers.
    pub fn client_cert_pem(mut self, cert: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        self.client_identity = Some((cert.into(), key.into()));
        self
    }

    /// Accepts any server certificate (kubeconfig `insecure-skip-tls-verify`).
    /// For tests only: anyone on the path can impersonate the server.
    pub fn insecure_skip_tls_verify(mut self, skip: bool) -> Self {
        self.insecure_skip_tls_verify = skip;
        self
    }

    /// Verifies the server certificate against this name instead of the URL's
    /// host (kubeconfig `tls-server-name`).
    pub fn tls_server_name(mut self, name: impl Into<String>) -> Self {
        self.tls_server_name = Some(name.into());
        self
    }

    /// Sends the [`UserInfo`](crate::api::UserInfo) of each write as
    /// impersonation headers (`Impersonate-User`, `Impersonate-Group`,
    /// `Impersonate-Uid`, `Impersonate-Extra-*`) when it names a user. Off by
    /// default: the server must allow the authenticated identity to
    /// impersonate, and without it the request runs as that identity.
    pub fn impersonate_users(mut self, on: bool) -> Self {
        self.impersonate = on;
        self
    }

    /// Gives up on a request (not a watch) after this long; `None`: never.
    /// Default 60 seconds.
    pub fn request_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Gives up on connecting after this long. Default 10 seconds.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = agent.into();
        self
    }

    /// Reads a kubeconfig file and uses its current context.
    pub fn from_kubeconfig(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        Self::from_kubeconfig_context(path, None)
    }

    /// Reads a kubeconfig file and uses the named context (the current
    /// context when `None`).
    pub fn from_kubeconfig_context(path: impl AsRef<Path>, context: Option<&str>) -> Result<Self, ConfigError> {
        Kubeconfig::read(path.as_ref())?.config(context)
    }

    /// Reads the kubeconfig `kubectl` would: the files listed in `KUBECONFIG`
    /// (merged, the first to define a name wins), else `~/.kube/config`.
    pub fn from_default_kubeconfig() -> Result<Self, ConfigError> {
        Self::from_kubeconfig_env(std::env::var_os("KUBECONFIG"), std::env::var_os("HOME"))
    }

    /// [`from_default_kubeconfig`](Self::from_default_kubeconfig) given the
    /// values of `KUBECONFIG` and `HOME`.
    fn from_kubeconfig_env(kubeconfig: Option<OsString>, home: Option<OsString>) -> Result<Self, ConfigError> {
        let Some(list) = kubeconfig.filter(|v| !v.is_empty()) else {
            let home =
                home.ok_or_else(|| ConfigError("neither KUBECONFIG nor HOME is set: no kubeconfig to read".into()))?;
            return Kubeconfig::read(&Path::new(&home).join(".kube").join("config"))?.config(None);
        };
        let mut merged = Kubeconfig::default();
        let mut read_any = false;
        for path in std::env::split_paths(&list) {
            if path.as_os_str().is_empty() || !path.exists() {
                continue;
            }
            merged.merge(Kubeconfig::read(&path)?);
            read_any = true;
        }
        if !read_any {
            return Err(ConfigError(format!(
                "none of the kubeconfig files in KUBECONFIG ({}) exists",
                list.to_string_lossy()
            )));
        }
        merged.config(None)
    }

    /// Parses kubeconfig text (YAML or JSON); relative file references are
    /// resolved against `base_dir`.
    pub fn from_kubeconfig_str(text: &str, base_dir: &Path, context: Option<&str>) -> Result<Self, ConfigError> {
        Kubeconfig::parse(text, base_dir, "kubeconfig")?.config(context)
    }
}

/// The parts of a kubeconfig the client uses, with file references made absolute.
#[derive(Debug, Default)]
struct Kubeconfig {
    current_context: String,
    clusters: Vec<(String, Value)>,
    users: Vec<(String, Value)>,
    contexts: Vec<(String, Value)>,
    origin: String,
}

/// Fields holding file paths, resolved against the kubeconfig's directory.
const PATH_FIELDS: &[&str] = &["certificate-authority", "client-certificate", "client-key", "tokenFile"];

impl Kubeconfig {
    fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("reading kubeconfig {}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base, &path.display().to_string())
    }

    fn parse(text: &str, base: &Path, origin: &str) -> Result<Self, ConfigError> {
        let doc = k_api_types::manifest::yaml_to_json(text)
            .map_err(|e| ConfigError(format!("kubeconfig {origin} is not valid YAML: {e}")))?;
        if !doc.is_object() {
            return Err(ConfigError(format!("kubeconfig {origin} is not a mapping")));
        }
        let named = |list: &str, field: &str| -> Result<Vec<(String, Value)>, ConfigError> {
            let mut out = Vec::new();
            let Some(items) = doc.get(list).filter(|v| !v.is_null()) else { return Ok(out) };
            let items =
                items.as_array().ok_or_else(|| ConfigError(format!("kubeconfig {origin}: {list} is not a list")))?;
            for item in items {
                let name = item.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
                let mut body = item.get(field).cloned().unwrap_or(Value::Object(Default::default()));
                if let Some(map) = body.as_object_mut() {
                    for key in PATH_FIELDS {
                        if let Some(Value::String(p)) = map.get_mut(*key)
                            && !p.is_empty()
                            && Path::new(p.as_str()).is_relative()
                        {
                            *p = base.join(p.as_str()).to_string_lossy().into_owned();
                        }
                    }
                }
                out.push((name, body));
            }
            Ok(out)
        };
        Ok(Self {
            current_context: doc.get("current-context").and_then(Value::as_str).unwrap_or_default().to_owned(),
            clusters: named("clusters", "cluster")?,
            users: named("users", "user")?,
            contexts: named("contexts", "context")?,
            origin: origin.to_owned(),
        })
    }

    /// Adds `other`'s entries; names already defined keep their first definition.
    fn merge(&mut self, other: Kubeconfig) {
        if self.current_context.is_empty() {
            self.current_context = other.current_context;
        }
        fn add(into: &mut Vec<(String, Value)>, from: Vec<(String, Value)>) {
            for (name, v) in from {
                if !into.iter().any(|(n, _)| *n == name) {
                    into.push((name, v));
                }
            }
        }
        add(&mut self.clusters, other.clusters);
        add(&mut self.users, other.users);
        add(&mut self.contexts, other.contexts);
        if self.origin.is_empty() {
            self.origin = other.origin;
        } else {
            self.origin = format!("{}, {}", self.origin, other.origin);
        }
    }

    fn config(&self, context: Option<&str>) -> Result<RemoteConfig, ConfigError> {
        let origin = &self.origin;
        let context_name = context.unwrap_or(&self.current_context);
        if context_name.is_empty() {
            return Err(ConfigError(format!("kubeconfig {origin} has no current-context and none was given")));
        }
        let find = |list: &[(String, Value)], what: &str, name: &str| -> Result<Value, ConfigError> {
            list.iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| ConfigError(format!("kubeconfig {origin} has no {what} named {name:?}")))
        };
        let ctx = find(&self.contexts, "context", context_name)?;
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        let cluster_name = text(&ctx, "cluster");
        let cluster = find(&self.clusters, "cluster", &cluster_name)?;
        let server = text(&cluster, "server");
        if server.is_empty() {
            return Err(ConfigError(format!("kubeconfig {origin}: cluster {cluster_name:?} has no server")));
        }
        let mut config = RemoteConfig::new(server);
        let namespace = text(&ctx, "namespace");
        if !namespace.is_empty() {
            config.namespace = namespace;
        }
        config.insecure_skip_tls_verify =
            cluster.get("insecure-skip-tls-verify").and_then(Value::as_bool) == Some(true);
        let server_name = text(&cluster, "tls-server-name");
        if !server_name.is_empty() {
            config.tls_server_name = Some(server_name);
        }
        if let Some(ca) = data_or_file(&cluster, "certificate-authority", origin)? {
            config.ca_pems.push(ca);
        }
        let user_name = text(&ctx, "user");
        if user_name.is_empty() {
            return Ok(config);
        }
        let user = find(&self.users, "user", &user_name)?;
        let cert = data_or_file(&user, "client-certificate", origin)?;
        let key = data_or_file(&user, "client-key", origin)?;
        match (cert, key) {
            (Some(c), Some(k)) => config.client_identity = Some((c, k)),
            (None, None) => {}
            _ => {
                return Err(ConfigError(format!(
                    "kubeconfig {origin}: user {user_name:?} has a client certificate or key without the other"
                )));
            }
        }
        let token = text(&user, "token");
        let token_file = text(&user, "tokenFile");
        let username = text(&user, "username");
        if !token.is_empty() {
            config.credentials = Credentials::Token(token);
        } else if !token_file.is_empty() {
            config.credentials = Credentials::TokenFile(PathBuf::from(token_file));
        } else if !username.is_empty() {
            config.credentials = Credentials::Basic { username, password: text(&user, "password") };
        } else if config.client_identity.is_none() {
            for plugin in ["exec", "auth-provider"] {
                if user.get(plugin).is_some_and(|v| !v.is_null()) {
                    return Err(ConfigError(format!(
                        "kubeconfig {origin}: user {user_name:?} authenticates with an {plugin} plugin, which the \
                         remote client does not run; use a token, a token file or a client certificate"
                    )));
                }
            }
        }
        Ok(config)
    }
}

/// `<field>-data` (base64) or `<field>` (a file), if either is set.
fn data_or_file(section: &Value, field: &str, origin: &str) -> Result<Option<Vec<u8>>, ConfigError> {
    use base64::Engine as _;
    let data_key = format!("{field}-data");
    if let Some(data) = section.get(&data_key).and_then(Value::as_str).filter(|s| !s.is_empty()) {
        let compact: String = data.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .map_err(|e| ConfigError(format!("kubeconfig {origin}: {data_key} is not base64: {e}")))?;
        return Ok(Some(bytes));
    }
    match section.get(field).and_then(Value::as_str).filter(|s| !s.is_empty()) {
        Some(path) => std::fs::read(path)
            .map(Some)
            .map_err(|e| ConfigError(format!("kubeconfig {origin}: reading {field} {path}: {e}"))),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    #[test]
    fn kubeconfig_list_merges_first_definition_wins() {
        let dir = std::env::temp_dir().join(format!("k-remote-config-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).expect("dir");
        let first = write(
            &dir,
            "first",
            "current-context: a\ncontexts:\n- {name: a, context: {cluster: one, user: u, namespace: ns-a}}\n\
             clusters:\n- {name: one, cluster: {server: 'http://first:1'}}\n",
        );
        let second = write(
            &dir.join("sub"),
            "second",
            "current-context: b\ncontexts:\n- {name: a, context: {cluster: two}}\n\
             clusters:\n- {name: one, cluster: {server: 'http://second:2'}}\n\
             users:\n- {name: u, user: {tokenFile: tok, client-certificate-data: Y2VydA==, client-key-data: a2V5}}\n",
        );
        let missing = dir.join("missing");
        let list = std::env::join_paths([missing.as_path(), first.as_path(), second.as_path()]).expect("join");
        let config = RemoteConfig::from_kubeconfig_env(Some(list), None).expect("merged");
        assert_eq!(config.server(), "http://first:1");
        assert_eq!(config.default_namespace(), "ns-a");
        assert_eq!(config.credentials(), &Credentials::TokenFile(dir.join("sub").join("tok")));
        assert_eq!(config.client_identity, Some((b"cert".to_vec(), b"key".to_vec())));

        let err = RemoteConfig::from_kubeconfig_env(Some(missing.clone().into_os_string()), None).expect_err("none");
        assert!(err.to_string().contains("none of the kubeconfig files"), "{err}");
        std::fs::create_dir_all(dir.join(".kube")).expect("dir");
        write(
            &dir.join(".kube"),
            "config",
            "current-context: h\ncontexts: [{name: h, context: {cluster: c}}]\nclusters: [{name: c, cluster: {server: 'http://home:3'}}]\n",
        );
        let config = RemoteConfig::from_kubeconfig_env(None, Some(dir.clone().into_os_string())).expect("home");
        assert_eq!(config.server(), "http://home:3");
        let err = RemoteConfig::from_kubeconfig_env(None, None).expect_err("nothing");
        assert!(err.to_string().contains("neither KUBECONFIG nor HOME"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn debug_hides_secrets() {
        let c = RemoteConfig::new("https://h:6443/").basic_auth("admin", "hunter2").client_cert_pem("c", "k");
        assert_eq!(c.server(), "https://h:6443");
        let text = format!("{c:?}");
        assert!(!text.contains("hunter2") && text.contains("admin"), "{text}");
    }
}
