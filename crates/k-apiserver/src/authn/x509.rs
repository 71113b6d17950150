//! Client certificates: the user is the leaf certificate's Common Name, the
//! groups its Organization names, as kube-apiserver reads them. The chain
//! was verified against the client CA during the TLS handshake
//! ([`ApiServer::serve_tls`](crate::ApiServer::serve_tls)); this only reads it.

use k_store::api::UserInfo;

use super::{Authenticator, Outcome};
use crate::tls::PeerCertificates;

/// Authenticates requests by their verified TLS client certificate.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientCertificates;

#[async_trait::async_trait]
impl Authenticator for ClientCertificates {
    async fn authenticate(&self, request: &http::request::Parts) -> Outcome {
        let Some(certs) = request.extensions.get::<PeerCertificates>() else { return Outcome::NotMine };
        if certs.chain().is_empty() {
            return Outcome::NotMine;
        }
        // Parsed once per connection, not per request.
        match certs.user(|chain| user_of(&chain[0])) {
            Ok(user) => Outcome::Authenticated(user.clone()),
            Err(reason) => Outcome::Invalid(reason.clone()),
        }
    }
}

/// CN → user, O → groups.
fn user_of(der: &[u8]) -> Result<UserInfo, String> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| format!("the client certificate does not parse: {e}"))?;
    let subject = cert.subject();
    let text = |attr: &x509_parser::x509::AttributeTypeAndValue<'_>| attr.as_str().ok().map(str::to_owned);
    let username = subject.iter_common_name().next().and_then(text).unwrap_or_default();
    if username.is_empty() {
        return Err("the client certificate has no common name".into());
    }
    let mut groups: Vec<String> = subject.iter_organization().filter_map(text).collect();
    // Added here, once per connection, rather than on every request.
    groups.push(super::AUTHENTICATED.to_owned());
    Ok(UserInfo { username, groups, ..UserInfo::default() })
}
