//! The ServiceAccount controllers: every active namespace has its
//! `default` ServiceAccount, and legacy token Secrets get their data.
//!
//! - [`ServiceAccountsReconciler`] (over Namespaces): in every namespace
//!   that is not terminating, the ServiceAccounts of
//!   [`ServiceAccountOptions::names`] (`default`) exist; a deleted one is
//!   created again (ServiceAccount changes map to their namespace).
//! - [`TokensReconciler`] (over Secrets, the legacy token controller): a
//!   Secret of type `kubernetes.io/service-account-token` naming a
//!   ServiceAccount (annotation `kubernetes.io/service-account.name`, and
//!   `kubernetes.io/service-account.uid`, filled in when missing) gets
//!   `data.namespace`, `data.ca.crt` (when a CA is configured) and
//!   `data.token` (when a [`TokenGenerator`] is configured: signing needs
//!   the API server's key, which the controllers do not have). A token
//!   Secret whose ServiceAccount is gone (or was replaced: another uid) is
//!   deleted; ServiceAccount changes map to the Secrets naming them.
//!
//! ```no_run
//! # fn demo(api: std::sync::Arc<dyn k_store::ObjectApi>) {
//! let mut manager = k_runtime::manager::Manager::new(api);
//! k_controllers::serviceaccount::add(&mut manager);
//! # }
//! ```

use std::sync::Arc;

use k_api_types::ByteString;
use k_api_types::core::v1::{Namespace, SERVICE_ACCOUNT_NAME_KEY, Secret, ServiceAccount};
use k_api_types::meta::{DeleteOptions, Preconditions};
use k_runtime::controller::{Action, Context, Controller, Reconciler};
use k_runtime::informer::InformerFactory;
use k_runtime::manager::Manager;
use k_runtime::reflector::Store;
use k_store::{Api, StoreError};

/// The ServiceAccount every namespace has.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";
/// The type of legacy ServiceAccount token Secrets.
pub const SERVICE_ACCOUNT_TOKEN_TYPE: &str = "kubernetes.io/service-account-token";
/// The annotation naming a token Secret's ServiceAccount.
pub const ANNOTATION_SERVICE_ACCOUNT_NAME: &str = SERVICE_ACCOUNT_NAME_KEY;
/// The annotation holding the uid of a token Secret's ServiceAccount.
pub const ANNOTATION_SERVICE_ACCOUNT_UID: &str = "kubernetes.io/service-account.uid";
/// The key of the token in a token Secret.
pub const TOKEN_KEY: &str = "token";
/// The key of the namespace in a token Secret.
pub const NAMESPACE_KEY: &str = "namespace";
/// The key of the cluster's CA bundle in a token Secret.
pub const CA_CERT_KEY: &str = "ca.crt";

/// Why a reconcile failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A read or write of the object API failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The token generator failed.
    #[error("generating the token of secret {secret}: {message}")]
    Token {
        /// The Secret, `namespace/name`.
        secret: String,
        /// The generator's message.
        message: String,
    },
}

/// Makes the token of a legacy token Secret (a signed JWT, in a cluster).
pub trait TokenGenerator: Send + Sync {
    /// The token for `secret` of `sa`.
    ///
    /// # Errors
    /// Why no token could be made (the Secret is retried).
    fn token(&self, sa: &ServiceAccount, secret: &Secret) -> Result<String, String>;
}

/// Whether `ns` is being deleted.
fn terminating(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_some()
        || ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some(crate::namespace::PHASE_TERMINATING)
}

// ---------------------------------------------------------------------------
// The default ServiceAccount
// ---------------------------------------------------------------------------

/// The options of [`ServiceAccountsReconciler`].
#[derive(Clone, Debug)]
pub struct ServiceAccountOptions {
    /// The ServiceAccounts every active namespace has (`default`).
    pub names: Vec<String>,
}

impl Default for ServiceAccountOptions {
    fn default() -> Self {
        ServiceAccountOptions { names: vec![DEFAULT_SERVICE_ACCOUNT.to_owned()] }
    }
}

/// Keeps the ServiceAccounts of [`ServiceAccountOptions::names`] in every
/// active namespace (reconciles Namespaces).
#[derive(Clone, Debug)]
pub struct ServiceAccountsReconciler {
    options: ServiceAccountOptions,
    accounts: Store<ServiceAccount>,
}

impl ServiceAccountsReconciler {
    /// A reconciler reading ServiceAccounts through `factory`.
    pub fn new(factory: &InformerFactory, options: ServiceAccountOptions) -> Self {
        ServiceAccountsReconciler { options, accounts: factory.informer::<ServiceAccount>(None, None, None).store() }
    }

    /// The controller: every Namespace, woken by changes of the
    /// ServiceAccounts of `names`.
    pub fn controller(factory: Arc<InformerFactory>, options: &ServiceAccountOptions) -> Controller<Namespace> {
        let names = options.names.clone();
        Controller::new(factory, None).named("serviceaccount").watches::<ServiceAccount>(None, move |sa| {
            if names.contains(&sa.metadata.name) { vec![sa.metadata.namespace.clone()] } else { Vec::new() }
        })
    }
}

#[async_trait::async_trait]
impl Reconciler<Namespace> for ServiceAccountsReconciler {
    type Error = Error;

    async fn reconcile(&self, ns: Arc<Namespace>, ctx: &Context) -> Result<Action, Error> {
        if terminating(&ns) {
            return Ok(Action::AwaitChange);
        }
        let namespace = &ns.metadata.name;
        let api: Api<ServiceAccount> = Api::with_client(ctx.api.clone(), Some(namespace.clone()));
        for name in &self.options.names {
            if self.accounts.get(&format!("{namespace}/{name}")).is_some() {
                continue;
            }
            let mut sa = ServiceAccount::default();
            sa.metadata.name = name.clone();
            sa.metadata.namespace = namespace.clone();
            match api.create(&sa).await {
                Ok(_) => tracing::debug!(namespace = %namespace, name = %name, "created service account"),
                // The cache was behind, or the namespace is going.
                Err(e) if e.is_already_exists() || e.is_not_found() => {}
                Err(StoreError::Forbidden(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Action::AwaitChange)
    }
}

// ---------------------------------------------------------------------------
// Legacy token Secrets
// ---------------------------------------------------------------------------

/// The options of [`TokensReconciler`].
#[derive(Clone, Default)]
pub struct TokenOptions {
    /// Makes `data.token` (none: the token is left alone).
    pub generator: Option<Arc<dyn TokenGenerator>>,
    /// The cluster's CA bundle (PEM), written as `data.ca.crt`.
    pub root_ca: Option<Vec<u8>>,
}

impl std::fmt::Debug for TokenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenOptions")
            .field("generator", &self.generator.is_some())
            .field("root_ca", &self.root_ca.as_ref().map(Vec::len))
            .finish()
    }
}

/// The legacy token controller (reconciles Secrets).
#[derive(Clone, Debug)]
pub struct TokensReconciler {
    options: TokenOptions,
    accounts: Store<ServiceAccount>,
}

/// The ServiceAccount a token Secret names, if it is one.
fn token_account(secret: &Secret) -> Option<&str> {
    if secret.type_.as_deref() != Some(SERVICE_ACCOUNT_TOKEN_TYPE) {
        return None;
    }
    secret.metadata.annotations.get(ANNOTATION_SERVICE_ACCOUNT_NAME).map(String::as_str).filter(|n| !n.is_empty())
}

/// Whether `sa` is the account `secret` names (the uid annotation, if set, matches).
fn matches(sa: &ServiceAccount, secret: &Secret) -> bool {
    secret
        .metadata
        .annotations
        .get(ANNOTATION_SERVICE_ACCOUNT_UID)
        .is_none_or(|uid| uid.is_empty() || *uid == sa.metadata.uid)
}

impl TokensReconciler {
    /// A reconciler reading ServiceAccounts through `factory`.
    pub fn new(factory: &InformerFactory, options: TokenOptions) -> Self {
        TokensReconciler { options, accounts: factory.informer::<ServiceAccount>(None, None, None).store() }
    }

    /// The controller: every Secret, woken by changes of the
    /// ServiceAccounts they name.
    pub fn controller(factory: Arc<InformerFactory>) -> Controller<Secret> {
        let secrets = factory.informer::<Secret>(None, None, None).store();
        Controller::new(factory, None).named("serviceaccount-token").watches::<ServiceAccount>(None, move |sa| {
            secrets
                .in_namespace(&sa.metadata.namespace)
                .iter()
                .filter(|s| token_account(s) == Some(sa.metadata.name.as_str()))
                .map(|s| format!("{}/{}", s.metadata.namespace, s.metadata.name))
                .collect()
        })
    }

    /// The ServiceAccount `secret` names, from the cache, else read live
    /// (a cache behind must not get a Secret deleted).
    async fn account(&self, secret: &Secret, name: &str, ctx: &Context) -> Result<Option<ServiceAccount>, Error> {
        let namespace = &secret.metadata.namespace;
        if let Some(sa) = self.accounts.get(&format!("{namespace}/{name}"))
            && matches(&sa, secret)
        {
            return Ok(Some((*sa).clone()));
        }
        let api: Api<ServiceAccount> = Api::with_client(ctx.api.clone(), Some(namespace.clone()));
        Ok(api.get_opt(name).await?.filter(|sa| matches(sa, secret)))
    }
}

#[async_trait::async_trait]
impl Reconciler<Secret> for TokensReconciler {
    type Error = Error;

    async fn reconcile(&self, secret: Arc<Secret>, ctx: &Context) -> Result<Action, Error> {
        let Some(name) = token_account(&secret) else { return Ok(Action::AwaitChange) };
        if secret.metadata.deletion_timestamp.is_some() {
            return Ok(Action::AwaitChange);
        }
        let namespace = secret.metadata.namespace.clone();
        let api: Api<Secret> = Api::with_client(ctx.api.clone(), Some(namespace.clone()));
        let Some(sa) = self.account(&secret, name, ctx).await? else {
            tracing::debug!(namespace = %namespace, secret = %secret.metadata.name, "deleting token secret of a gone service account");
            let options = DeleteOptions {
                preconditions: Some(Preconditions { uid: Some(secret.metadata.uid.clone()), resource_version: None }),
                ..Default::default()
            };
            return match api.delete(&secret.metadata.name, &options).await {
                Err(e) if !e.is_not_found() && !e.is_conflict() => Err(e.into()),
                _ => Ok(Action::AwaitChange),
            };
        };
        let mut next = (*secret).clone();
        next.metadata
            .annotations
            .entry(ANNOTATION_SERVICE_ACCOUNT_UID.to_owned())
            .and_modify(|uid| {
                if uid.is_empty() {
                    uid.clone_from(&sa.metadata.uid);
                }
            })
            .or_insert_with(|| sa.metadata.uid.clone());
        next.data.insert(NAMESPACE_KEY.to_owned(), ByteString(namespace.clone().into_bytes()));
        if let Some(ca) = &self.options.root_ca {
            next.data.insert(CA_CERT_KEY.to_owned(), ByteString(ca.clone()));
        }
        if let Some(generator) = &self.options.generator
            && next.data.get(TOKEN_KEY).is_none_or(|t| t.0.is_empty())
        {
            let token = generator
                .token(&sa, &secret)
                .map_err(|message| Error::Token { secret: format!("{namespace}/{}", secret.metadata.name), message })?;
            next.data.insert(TOKEN_KEY.to_owned(), ByteString(token.into_bytes()));
        }
        if next != *secret {
            match api.update(&next).await {
                // The next change brings it back.
                Err(e) if e.is_conflict() || e.is_not_found() => {}
                Err(e) => return Err(e.into()),
                Ok(_) => {}
            }
        }
        Ok(Action::AwaitChange)
    }
}

/// Adds the ServiceAccount controller (the `default` ServiceAccount) and
/// the token controller without a token generator or CA.
pub fn add(manager: &mut Manager) {
    let informers = manager.informers();
    let options = ServiceAccountOptions::default();
    manager.add(
        ServiceAccountsReconciler::controller(informers.clone(), &options),
        ServiceAccountsReconciler::new(&informers, options),
    );
    manager.add(
        TokensReconciler::controller(informers.clone()),
        TokensReconciler::new(&informers, TokenOptions::default()),
    );
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use k_runtime::testing::TestEnv;

    use super::*;

    struct Fixed;

    impl TokenGenerator for Fixed {
        fn token(&self, sa: &ServiceAccount, secret: &Secret) -> Result<String, String> {
            Ok(format!("token-for-{}-{}-{}", sa.metadata.name, sa.metadata.uid, secret.metadata.name))
        }
    }

    const CA: &[u8] = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    fn start(env: &TestEnv) -> tokio::sync::oneshot::Sender<()> {
        let mut manager = env.manager();
        let informers = manager.informers();
        let options = ServiceAccountOptions::default();
        manager.add(
            ServiceAccountsReconciler::controller(informers.clone(), &options),
            ServiceAccountsReconciler::new(&informers, options),
        );
        let tokens = TokenOptions { generator: Some(Arc::new(Fixed)), root_ca: Some(CA.to_vec()) };
        manager.add(TokensReconciler::controller(informers.clone()), TokensReconciler::new(&informers, tokens));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(manager.run(async {
            let _ = stopped.await;
        }));
        stop
    }

    async fn create_namespace(env: &TestEnv, name: &str, finalizers: &[&str]) {
        let api: Api<Namespace> = Api::with_client(env.api.clone(), None);
        let mut ns = Namespace::default();
        ns.metadata.name = name.into();
        ns.metadata.finalizers = finalizers.iter().map(|f| (*f).to_owned()).collect();
        api.create(&ns).await.unwrap();
    }

    async fn eventually<F: std::future::Future<Output = bool>>(what: &str, check: impl Fn() -> F) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !check().await {
            assert!(tokio::time::Instant::now() < deadline, "never: {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn default_service_account_in_active_namespaces_recreated_when_deleted() {
        let env = TestEnv::new();
        // A terminating namespace, before the controller starts.
        create_namespace(&env, "going", &["example.com/hold"]).await;
        let namespaces: Api<Namespace> = Api::with_client(env.api.clone(), None);
        namespaces.delete("going", &DeleteOptions::default()).await.unwrap();
        let _stop = start(&env);
        create_namespace(&env, "team", &[]).await;
        let first = env
            .wait_for("team", DEFAULT_SERVICE_ACCOUNT, |_: &ServiceAccount| true, Duration::from_secs(5))
            .await
            .unwrap();

        let accounts: Api<ServiceAccount> = Api::with_client(env.api.clone(), Some("team".into()));
        accounts.delete(DEFAULT_SERVICE_ACCOUNT, &DeleteOptions::default()).await.unwrap();
        let again = env
            .wait_for(
                "team",
                DEFAULT_SERVICE_ACCOUNT,
                |sa: &ServiceAccount| sa.metadata.uid != first.metadata.uid,
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        assert_ne!(again.metadata.uid, first.metadata.uid, "created again");

        // Other accounts are left alone; none in the terminating namespace.
        let mut other = ServiceAccount::default();
        other.metadata.name = "builder".into();
        accounts.create(&other).await.unwrap();
        accounts.delete("builder", &DeleteOptions::default()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(accounts.get_opt("builder").await.unwrap().is_none());
        let going: Api<ServiceAccount> = Api::with_client(env.api.clone(), Some("going".into()));
        assert!(going.get_opt(DEFAULT_SERVICE_ACCOUNT).await.unwrap().is_none());
    }

    fn token_secret(name: &str, account: &str) -> Secret {
        let mut s = Secret::default();
        s.metadata.name = name.into();
        s.metadata.annotations.insert(ANNOTATION_SERVICE_ACCOUNT_NAME.into(), account.into());
        s.type_ = Some(SERVICE_ACCOUNT_TOKEN_TYPE.into());
        s
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn token_secrets_are_filled_and_orphans_deleted() {
        let env = TestEnv::new();
        let _stop = start(&env);
        create_namespace(&env, "apps", &[]).await;
        let accounts: Api<ServiceAccount> = Api::with_client(env.api.clone(), Some("apps".into()));
        let mut builder = ServiceAccount::default();
        builder.metadata.name = "builder".into();
        let builder = accounts.create(&builder).await.unwrap();
        let secrets: Api<Secret> = Api::with_client(env.api.clone(), Some("apps".into()));
        secrets.create(&token_secret("builder-token", "builder")).await.unwrap();
        let mut opaque = token_secret("plain", "ghost");
        opaque.type_ = None;
        secrets.create(&opaque).await.unwrap();

        let filled = env
            .wait_for("apps", "builder-token", |s: &Secret| s.data.contains_key(TOKEN_KEY), Duration::from_secs(5))
            .await
            .unwrap();
        let text = |key: &str| String::from_utf8(filled.data[key].0.clone()).unwrap();
        assert_eq!(text(TOKEN_KEY), format!("token-for-builder-{}-builder-token", builder.metadata.uid));
        assert_eq!(text(NAMESPACE_KEY), "apps");
        assert_eq!(filled.data[CA_CERT_KEY].0, CA);
        assert_eq!(filled.metadata.annotations[ANNOTATION_SERVICE_ACCOUNT_UID], builder.metadata.uid);

        // A token Secret naming no ServiceAccount is deleted; other Secrets stay.
        secrets.create(&token_secret("ghost-token", "ghost")).await.unwrap();
        eventually("the orphan is deleted", || async { secrets.get_opt("ghost-token").await.unwrap().is_none() }).await;
        // So is one of a replaced ServiceAccount (another uid).
        let mut stale = token_secret("stale-token", "builder");
        stale.metadata.annotations.insert(ANNOTATION_SERVICE_ACCOUNT_UID.into(), "not-the-uid".into());
        secrets.create(&stale).await.unwrap();
        eventually("the stale one is deleted", || async { secrets.get_opt("stale-token").await.unwrap().is_none() })
            .await;
        // Deleting the ServiceAccount deletes its token Secret.
        accounts.delete("builder", &DeleteOptions::default()).await.unwrap();
        eventually("the token goes with its account", || async {
            secrets.get_opt("builder-token").await.unwrap().is_none()
        })
        .await;
        assert!(secrets.get_opt("plain").await.unwrap().is_some());
    }
}
