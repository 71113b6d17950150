//! Service-account tokens: signed JWTs naming a service account.
//!
//! [`ServiceAccountTokens`] both issues tokens (the TokenRequest
//! subresource `serviceaccounts/<name>/token`) and checks them, as
//! kube-apiserver does with `--service-account-signing-key-file`,
//! `--service-account-key-file`, `--service-account-issuer` and
//! `--api-audiences`. Two shapes of token are accepted:
//!
//! - **bound tokens**, issued here: issuer, audiences, expiry, and the
//!   private claim `kubernetes.io` naming the namespace, the service account
//!   (name and uid) and, when bound, the pod or secret. A bound token is
//!   valid only while its service account and bound object exist with the
//!   same uids;
//! - **legacy tokens**, which the token controller stores in
//!   `kubernetes.io/service-account-token` Secrets: issuer
//!   `kubernetes/serviceaccount`, no expiry, valid only while the Secret
//!   exists and still holds the token.
//!
//! The user is `system:serviceaccount:<namespace>:<name>`, in the groups
//! `system:serviceaccounts` and `system:serviceaccounts:<namespace>`.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use k_api_types::GroupVersionResource;
use k_store::api::{ObjectApi, UserInfo};
use serde::{Deserialize, Serialize};

use super::{Authenticator, Outcome, bearer_token};

/// The issuer of legacy Secret-held tokens.
pub const LEGACY_ISSUER: &str = "kubernetes/serviceaccount";
/// kube-apiserver's default issuer and audience.
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// Shortest lifetime a TokenRequest may ask for.
pub const MIN_EXPIRATION_SECONDS: i64 = 600;
/// Lifetime of a TokenRequest that asks for none.
pub const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;

/// The user name of a service account.
pub fn username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// A service account's namespace and name, from its user name.
pub fn split_username(username: &str) -> Option<(&str, &str)> {
    let rest = username.strip_prefix("system:serviceaccount:")?;
    let (namespace, name) = rest.split_once(':')?;
    (!namespace.is_empty() && !name.is_empty() && !name.contains(':')).then_some((namespace, name))
}

/// An object a token is bound to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    /// Its name.
    pub name: String,
    /// Its uid.
    pub uid: String,
}

/// The `kubernetes.io` private claims of a bound token.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateClaims {
    /// The service account's namespace.
    pub namespace: String,
    /// The service account.
    pub serviceaccount: Option<ObjectRef>,
    /// The pod the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ObjectRef>,
    /// The secret the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectRef>,
}

/// One string or a list of them (the JWT `aud` claim).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
enum Audiences {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl Audiences {
    fn list(&self) -> Vec<String> {
        match self {
            Audiences::None => Vec::new(),
            Audiences::One(a) => vec![a.clone()],
            Audiences::Many(a) => a.clone(),
        }
    }
}

/// The claims of both token shapes.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    #[serde(default, skip_serializing_if = "is_none_audience")]
    aud: Audiences,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    #[serde(rename = "kubernetes.io", default, skip_serializing_if = "Option::is_none")]
    kubernetes: Option<PrivateClaims>,
    #[serde(rename = "kubernetes.io/serviceaccount/namespace", default, skip_serializing_if = "Option::is_none")]
    legacy_namespace: Option<String>,
    #[serde(rename = "kubernetes.io/serviceaccount/secret.name", default, skip_serializing_if = "Option::is_none")]
    legacy_secret: Option<String>,
    #[serde(
        rename = "kubernetes.io/serviceaccount/service-account.name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    legacy_name: Option<String>,
    #[serde(
        rename = "kubernetes.io/serviceaccount/service-account.uid",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    legacy_uid: Option<String>,
}

fn is_none_audience(a: &Audiences) -> bool {
    *a == Audiences::None
}

/// What a token is asked for: a TokenRequest, resolved.
#[derive(Clone, Debug, Default)]
pub struct Grant {
    /// The service account's namespace.
    pub namespace: String,
    /// The service account's name.
    pub name: String,
    /// The service account's uid.
    pub uid: String,
    /// Audiences (empty: the API server's own).
    pub audiences: Vec<String>,
    /// Lifetime in seconds.
    pub expiration_seconds: i64,
    /// The pod it is bound to.
    pub pod: Option<ObjectRef>,
    /// The secret it is bound to.
    pub secret: Option<ObjectRef>,
}

/// Issues and checks service-account tokens; see the [module docs](self).
pub struct ServiceAccountTokens {
    signing: Option<(EncodingKey, Algorithm)>,
    verifying: Vec<(DecodingKey, Algorithm)>,
    issuers: Vec<String>,
    api_audiences: Vec<String>,
    max_expiration_seconds: Option<i64>,
    api: Arc<dyn ObjectApi>,
}

impl std::fmt::Debug for ServiceAccountTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountTokens")
            .field("issuers", &self.issuers)
            .field("api_audiences", &self.api_audiences)
            .field("keys", &self.verifying.len())
            .finish()
    }
}

/// Reads a PEM key: EC (ES256) or RSA (RS256), private or public.
fn decoding_key(pem: &str) -> Result<(DecodingKey, Algorithm), String> {
    if pem.contains("PRIVATE KEY") {
        // The public half of a private key, through its PKCS#8 form.
        let pair = rcgen::KeyPair::from_pem(pem).map_err(|e| format!("the service-account key: {e}"))?;
        return decoding_key(&pair.public_key_pem());
    }
    if let Ok(key) = DecodingKey::from_ec_pem(pem.as_bytes()) {
        return Ok((key, Algorithm::ES256));
    }
    DecodingKey::from_rsa_pem(pem.as_bytes())
        .map(|key| (key, Algorithm::RS256))
        .map_err(|e| format!("the service-account key is neither an EC nor an RSA key: {e}"))
}

fn encoding_key(pem: &str) -> Result<(EncodingKey, Algorithm), String> {
    if let Ok(key) = EncodingKey::from_ec_pem(pem.as_bytes()) {
        return Ok((key, Algorithm::ES256));
    }
    EncodingKey::from_rsa_pem(pem.as_bytes())
        .map(|key| (key, Algorithm::RS256))
        .map_err(|e| format!("the service-account signing key is neither an EC nor an RSA private key: {e}"))
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

impl ServiceAccountTokens {
    /// Tokens signed with `signing_key_pem` (a PKCS#8 EC or RSA private
    /// key) by `issuer`, for `api_audiences` (empty: the issuer), checked
    /// against `api` (service accounts, pods, secrets). The signing key's
    /// public half verifies tokens; add others with [`verify_with`](Self::verify_with).
    pub fn new(
        signing_key_pem: &str,
        issuer: impl Into<String>,
        api_audiences: Vec<String>,
        api: Arc<dyn ObjectApi>,
    ) -> Result<Self, String> {
        let issuer = issuer.into();
        let api_audiences = if api_audiences.is_empty() { vec![issuer.clone()] } else { api_audiences };
        Ok(Self {
            signing: Some(encoding_key(signing_key_pem)?),
            verifying: vec![decoding_key(signing_key_pem)?],
            issuers: vec![issuer],
            api_audiences,
            max_expiration_seconds: None,
            api,
        })
    }

    /// Also accepts tokens signed by this key (a PEM public or private key,
    /// `--service-account-key-file`).
    pub fn verify_with(mut self, pem: &str) -> Result<Self, String> {
        self.verifying.push(decoding_key(pem)?);
        Ok(self)
    }

    /// Also accepts tokens from this issuer (kube-apiserver accepts every
    /// `--service-account-issuer` and issues with the first).
    #[must_use]
    pub fn accept_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Caps the lifetime of issued tokens (`--service-account-max-token-expiration`).
    #[must_use]
    pub fn max_expiration(mut self, seconds: i64) -> Self {
        self.max_expiration_seconds = Some(seconds);
        self
    }

    /// The issuer tokens are issued by.
    pub fn issuer(&self) -> &str {
        &self.issuers[0]
    }

    /// The API server's audiences (the default audiences of issued tokens).
    pub fn api_audiences(&self) -> &[String] {
        &self.api_audiences
    }

    /// The lifetime a TokenRequest gets: its own (default one hour), capped
    /// by the server's maximum. Errors name what is wrong, as validation does.
    pub fn expiration(&self, requested: Option<i64>) -> Result<i64, String> {
        let seconds = requested.unwrap_or(DEFAULT_EXPIRATION_SECONDS);
        if seconds < MIN_EXPIRATION_SECONDS {
            return Err("spec.expirationSeconds: Invalid value: may not specify a duration less than 10 minutes".into());
        }
        if seconds > 1 << 32 {
            return Err(
                "spec.expirationSeconds: Invalid value: may not specify a duration larger than 2^32 seconds".into()
            );
        }
        Ok(self.max_expiration_seconds.map_or(seconds, |max| seconds.min(max)))
    }

    /// Signs a token for `grant`, issued at `issued_at` (Unix seconds);
    /// returns it and its expiry.
    pub fn sign(&self, grant: &Grant, issued_at: i64) -> Result<(String, i64), String> {
        let (key, algorithm) = self.signing.as_ref().ok_or("this server has no service-account signing key")?;
        let audiences = if grant.audiences.is_empty() { self.api_audiences.clone() } else { grant.audiences.clone() };
        let exp = issued_at + grant.expiration_seconds;
        let claims = Claims {
            iss: self.issuer().to_owned(),
            sub: username(&grant.namespace, &grant.name),
            aud: Audiences::Many(audiences),
            exp: Some(exp),
            iat: Some(issued_at),
            nbf: Some(issued_at),
            jti: Some(uuid::Uuid::new_v4().to_string()),
            kubernetes: Some(PrivateClaims {
                namespace: grant.namespace.clone(),
                serviceaccount: Some(ObjectRef { name: grant.name.clone(), uid: grant.uid.clone() }),
                pod: grant.pod.clone(),
                secret: grant.secret.clone(),
            }),
            ..Claims::default()
        };
        let token = jsonwebtoken::encode(&Header::new(*algorithm), &claims, key).map_err(|e| e.to_string())?;
        Ok((token, exp))
    }

    /// Signs a legacy token for the Secret `secret` of a service account
    /// (what the token controller stores in
    /// `kubernetes.io/service-account-token` Secrets): no audience, no expiry.
    pub fn sign_legacy(&self, namespace: &str, name: &str, uid: &str, secret: &str) -> Result<String, String> {
        let (key, algorithm) = self.signing.as_ref().ok_or("this server has no service-account signing key")?;
        let claims = Claims {
            iss: LEGACY_ISSUER.to_owned(),
            sub: username(namespace, name),
            legacy_namespace: Some(namespace.to_owned()),
            legacy_secret: Some(secret.to_owned()),
            legacy_name: Some(name.to_owned()),
            legacy_uid: Some(uid.to_owned()),
            ..Claims::default()
        };
        jsonwebtoken::encode(&Header::new(*algorithm), &claims, key).map_err(|e| e.to_string())
    }

    /// Checks a token for `audiences` (empty: the API's own): signature,
    /// issuer, audience, times, and that what it names still exists.
    /// Returns the user and the audiences it is valid for, `NotMine` for
    /// something that is not a service-account JWT.
    pub async fn check(&self, token: &str, audiences: &[String]) -> (Outcome, Vec<String>) {
        let Ok(header) = jsonwebtoken::decode_header(token) else { return (Outcome::NotMine, Vec::new()) };
        let mut claims = None;
        let mut last_error = String::from("no verification key");
        for (key, algorithm) in self.verifying.iter().filter(|(_, a)| *a == header.alg) {
            let mut validation = Validation::new(*algorithm);
            validation.required_spec_claims.clear();
            validation.validate_aud = false;
            validation.validate_nbf = true;
            validation.leeway = 60;
            match jsonwebtoken::decode::<Claims>(token, key, &validation) {
                Ok(data) => {
                    claims = Some(data.claims);
                    break;
                }
                Err(e) => last_error = e.to_string(),
            }
        }
        let Some(claims) = claims else {
            // A JWT from someone else (another issuer's key) is not ours to judge.
            let theirs = unverified_issuer(token)
                .map(|iss| !self.issuers.contains(&iss) && iss != LEGACY_ISSUER)
                .unwrap_or(true);
            if theirs {
                return (Outcome::NotMine, Vec::new());
            }
            return (Outcome::Invalid(format!("service-account token: {last_error}")), Vec::new());
        };
        let result = if claims.iss == LEGACY_ISSUER {
            // A token without audiences is good for the API server's own only.
            let valid: Vec<String> = if audiences.is_empty() {
                self.api_audiences.clone()
            } else {
                audiences.iter().filter(|a| self.api_audiences.contains(a)).cloned().collect()
            };
            if valid.is_empty() {
                return (Outcome::Invalid("service-account token: token audiences do not match".into()), Vec::new());
            }
            self.check_legacy(token, &claims).await.map(|user| (user, valid))
        } else if self.issuers.contains(&claims.iss) {
            self.check_bound(&claims, audiences).await
        } else {
            return (Outcome::NotMine, Vec::new());
        };
        match result {
            Ok((user, audiences)) => (Outcome::Authenticated(user), audiences),
            Err(reason) => (Outcome::Invalid(format!("service-account token: {reason}")), Vec::new()),
        }
    }

    async fn check_bound(&self, claims: &Claims, audiences: &[String]) -> Result<(UserInfo, Vec<String>), String> {
        let wanted = if audiences.is_empty() { &self.api_audiences[..] } else { audiences };
        let token_audiences = claims.aud.list();
        let valid: Vec<String> = wanted.iter().filter(|a| token_audiences.contains(a)).cloned().collect();
        if valid.is_empty() {
            return Err("token audiences do not match".into());
        }
        if claims.exp.is_none() {
            return Err("a bound token must expire".into());
        }
        let private = claims.kubernetes.as_ref().ok_or("the kubernetes.io claims are missing")?;
        let account = private.serviceaccount.as_ref().ok_or("the service account claim is missing")?;
        if claims.sub != username(&private.namespace, &account.name) {
            return Err("the subject does not match the service account".into());
        }
        let core = |resource: &str| GroupVersionResource::new("", "v1", resource);
        self.still_there(&core("serviceaccounts"), &private.namespace, account).await?;
        if let Some(pod) = &private.pod {
            self.still_there(&core("pods"), &private.namespace, pod).await?;
        }
        if let Some(secret) = &private.secret {
            self.still_there(&core("secrets"), &private.namespace, secret).await?;
        }
        let mut extra = BTreeMap::new();
        if let Some(pod) = &private.pod {
            extra.insert("authentication.kubernetes.io/pod-name".to_owned(), vec![pod.name.clone()]);
            extra.insert("authentication.kubernetes.io/pod-uid".to_owned(), vec![pod.uid.clone()]);
        }
        if let Some(jti) = &claims.jti {
            extra.insert("authentication.kubernetes.io/credential-id".to_owned(), vec![format!("JTI={jti}")]);
        }
        Ok((user_of(&private.namespace, &account.name, &account.uid, extra), valid))
    }

    async fn check_legacy(&self, token: &str, claims: &Claims) -> Result<UserInfo, String> {
        let (Some(namespace), Some(name), Some(secret)) =
            (&claims.legacy_namespace, &claims.legacy_name, &claims.legacy_secret)
        else {
            return Err("a legacy token needs namespace, service account and secret claims".into());
        };
        if claims.sub != username(namespace, name) {
            return Err("the subject does not match the service account".into());
        }
        let uid = claims.legacy_uid.clone().unwrap_or_default();
        let account = ObjectRef { name: name.clone(), uid: uid.clone() };
        self.still_there(&GroupVersionResource::new("", "v1", "serviceaccounts"), namespace, &account).await?;
        let stored = self
            .api
            .get(&GroupVersionResource::new("", "v1", "secrets"), namespace, secret)
            .await
            .map_err(|_| format!("the secret {namespace}/{secret} no longer exists"))?;
        let held = stored
            .data
            .get("data")
            .and_then(|d| d.get("token"))
            .and_then(|t| t.as_str())
            .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok());
        if held.as_deref() != Some(token.as_bytes()) {
            return Err(format!("the secret {namespace}/{secret} no longer holds this token"));
        }
        Ok(user_of(namespace, name, &uid, BTreeMap::new()))
    }

    /// That the object still exists, with the same uid when one is named.
    async fn still_there(&self, gvr: &GroupVersionResource, namespace: &str, object: &ObjectRef) -> Result<(), String> {
        let what = format!("{} {namespace}/{}", gvr.resource, object.name);
        match self.api.get(gvr, namespace, &object.name).await {
            Ok(found) if object.uid.is_empty() || found.metadata.uid == object.uid => {
                // A pod shutting down may still call the API: its tokens hold
                // until a minute after its deletion time, as in Kubernetes.
                if let Some(deleted) = &found.metadata.deletion_timestamp
                    && deleted.0.timestamp() + 60 < now()
                {
                    return Err(format!("{what} was deleted"));
                }
                Ok(())
            }
            Ok(_) => Err(format!("{what} has a different uid: the token was issued to an earlier one")),
            Err(_) => Err(format!("{what} no longer exists")),
        }
    }
}

/// The `iss` claim of a token whose signature is not (yet) trusted.
fn unverified_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("iss")?.as_str().map(str::to_owned)
}

fn user_of(namespace: &str, name: &str, uid: &str, extra: BTreeMap<String, Vec<String>>) -> UserInfo {
    UserInfo {
        username: username(namespace, name),
        uid: uid.to_owned(),
        groups: vec!["system:serviceaccounts".to_owned(), format!("system:serviceaccounts:{namespace}")],
        extra,
    }
}

#[async_trait::async_trait]
impl Authenticator for ServiceAccountTokens {
    async fn authenticate(&self, request: &http::request::Parts) -> Outcome {
        match bearer_token(request) {
            Some(token) => self.check(token, &[]).await.0,
            None => Outcome::NotMine,
        }
    }

    async fn authenticate_token(&self, token: &str, audiences: &[String]) -> (Outcome, Vec<String>) {
        self.check(token, audiences).await
    }
}

/// The current time in Unix seconds (what tokens are issued at).
pub fn unix_now() -> i64 {
    now()
}
