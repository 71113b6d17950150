//! Everything that makes a server secure, assembled from kube-apiserver's
//! options: [`SecurityOptions`] → [`Security`], whose parts go into a
//! [`ServerConfig`].
//!
//! ```no_run
//! # async fn run(api: std::sync::Arc<dyn k_store::ObjectApi>, pki: k_apiserver::tls::Pki) -> Result<(), String> {
//! use k_apiserver::security::SecurityOptions;
//! let security = SecurityOptions::new(&pki.service_account_key_pem).build(api.clone()).await?;
//! let mut config = k_apiserver::ServerConfig::default();
//! security.configure(&mut config);
//! // With a k_store::Store: store.add_admission(security.escalation_guard());
//! let server = k_apiserver::ApiServer::new(api, config);
//! # Ok(()) }
//! ```
//!
//! The authentication chain is kube-apiserver's: client certificates, the
//! token file, service-account tokens, then anonymous (when allowed). The
//! authorization chain allows `system:masters` first, then follows
//! `authorization_modes` (default RBAC, whose
//! bootstrap policy is created first and whose cache is filled before
//! `build` returns, so the first request is decided on the real policy).

use std::path::PathBuf;
use std::sync::Arc;

use k_store::ObjectApi;

use crate::ServerConfig;
use crate::authn::Authentication;
use crate::authn::service_account::{DEFAULT_ISSUER, ServiceAccountTokens};
use crate::authn::token_file::TokenFile;
use crate::authn::x509::ClientCertificates;
use crate::authz::cache::RbacCache;
use crate::authz::escalation::EscalationGuard;
use crate::authz::rbac::Rbac;
use crate::authz::{AlwaysAllow, AlwaysDeny, Authorization, Mode, PrivilegedGroup};

/// kube-apiserver's security options; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct SecurityOptions {
    /// `--token-auth-file`.
    pub token_auth_file: Option<PathBuf>,
    /// `--anonymous-auth`.
    pub anonymous: bool,
    /// `--authorization-mode` (default `[Rbac]`).
    pub authorization_modes: Vec<Mode>,
    /// `--service-account-issuer` (the first issues; all are accepted).
    pub service_account_issuers: Vec<String>,
    /// `--api-audiences` (default: the first issuer).
    pub api_audiences: Vec<String>,
    /// `--service-account-signing-key-file`'s contents (PKCS#8 PEM).
    pub service_account_signing_key_pem: String,
    /// `--service-account-key-file`s' contents: more keys that verify tokens.
    pub service_account_key_pems: Vec<String>,
    /// `--service-account-max-token-expiration`, in seconds.
    pub max_token_expiration_seconds: Option<i64>,
    /// Whether to create the bootstrap RBAC policy (when RBAC is on).
    pub bootstrap_policy: bool,
}

impl SecurityOptions {
    /// The defaults, signing service-account tokens with `signing_key_pem`:
    /// no token file, anonymous off, RBAC, issuer
    /// `https://kubernetes.default.svc.cluster.local`, bootstrap policy on.
    pub fn new(signing_key_pem: &str) -> Self {
        SecurityOptions {
            token_auth_file: None,
            anonymous: false,
            authorization_modes: vec![Mode::Rbac],
            service_account_issuers: vec![DEFAULT_ISSUER.to_owned()],
            api_audiences: Vec::new(),
            service_account_signing_key_pem: signing_key_pem.to_owned(),
            service_account_key_pems: Vec::new(),
            max_token_expiration_seconds: None,
            bootstrap_policy: true,
        }
    }

    /// Builds the chains over `api` (which service-account tokens are
    /// checked against and RBAC's cache follows).
    pub async fn build(self, api: Arc<dyn ObjectApi>) -> Result<Security, String> {
        let issuer = self.service_account_issuers.first().cloned().unwrap_or_else(|| DEFAULT_ISSUER.to_owned());
        let mut tokens =
            ServiceAccountTokens::new(&self.service_account_signing_key_pem, issuer, self.api_audiences, api.clone())?;
        for other in self.service_account_issuers.iter().skip(1) {
            tokens = tokens.accept_issuer(other.clone());
        }
        for pem in &self.service_account_key_pems {
            tokens = tokens.verify_with(pem)?;
        }
        if let Some(max) = self.max_token_expiration_seconds {
            tokens = tokens.max_expiration(max);
        }
        let tokens = Arc::new(tokens);
        let mut authentication = Authentication::new().with(ClientCertificates);
        if let Some(path) = &self.token_auth_file {
            authentication = authentication.with(TokenFile::load(path)?);
        }
        let authentication = authentication.with(tokens.clone()).anonymous(self.anonymous);
        // system:masters first, whatever the modes (as kube-apiserver).
        let mut authorization = Authorization::new().with(PrivilegedGroup::default());
        let mut rbac = None;
        for mode in &self.authorization_modes {
            authorization = match mode {
                Mode::AlwaysAllow => authorization.with(AlwaysAllow),
                Mode::AlwaysDeny => authorization.with(AlwaysDeny),
                Mode::Rbac => {
                    if self.bootstrap_policy {
                        crate::authz::bootstrap::ensure(api.as_ref())
                            .await
                            .map_err(|e| format!("creating the bootstrap RBAC policy: {e}"))?;
                    }
                    let cache = RbacCache::start(api.clone()).await;
                    rbac = Some(cache.clone());
                    authorization.with(Rbac::new(cache))
                }
            };
        }
        let escalation = Arc::new(EscalationGuard::new(authorization.clone(), api));
        Ok(Security { authentication, authorization, service_accounts: tokens, rbac, escalation })
    }
}

/// The assembled chains; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct Security {
    /// Who requests come from.
    pub authentication: Authentication,
    /// Who may do what.
    pub authorization: Authorization,
    /// Issues and checks service-account tokens.
    pub service_accounts: Arc<ServiceAccountTokens>,
    /// RBAC's cache, when RBAC is on.
    pub rbac: Option<Arc<RbacCache>>,
    escalation: Arc<EscalationGuard>,
}

impl Security {
    /// Puts the chains into `config`.
    pub fn configure(&self, config: &mut ServerConfig) {
        config.authentication = Some(self.authentication.clone());
        config.authorization = Some(self.authorization.clone());
        config.service_accounts = Some(self.service_accounts.clone());
    }

    /// RBAC's escalation checks, to install on the store
    /// (`store.add_admission(security.escalation_guard())`): writes of roles
    /// and bindings that grant more than the writer holds are refused.
    pub fn escalation_guard(&self) -> Arc<EscalationGuard> {
        self.escalation.clone()
    }
}
