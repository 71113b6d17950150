//! TLS for the secure port: the control plane's certificates and the rustls
//! configuration that serves with them.
//!
//! [`Pki::load_or_create`] keeps, in a directory, what a cluster needs to
//! start securely: a CA (`ca.crt`, `ca.key`), the API server's serving
//! certificate signed by it (`apiserver.crt`, `apiserver.key`, with SANs for
//! the server's names and addresses) and an administrator's client
//! certificate (`admin.crt`, `admin.key`: CN `admin`, O `system:masters`),
//! and the key that signs service-account tokens (`sa.key`, `sa.pub`).
//! What exists is kept; what is missing is created (keys are ECDSA P-256,
//! files mode 0600). The CA is valid for ten years, the other certificates
//! for one, as kubeadm makes them; a serving or admin certificate with less
//! than 30 days left is made again at start. [`server_config`] turns a certificate, its key and the
//! CA that signs client certificates into a rustls `ServerConfig` that asks
//! clients for a certificate without requiring one (tokens and anonymous
//! requests come without), and [`ApiServer::serve_tls`](crate::ApiServer::serve_tls)
//! serves with it; the verified client chain reaches handlers as the
//! request extension [`PeerCertificates`].
//!
//! kube-apiserver's own flags map onto this: `--tls-cert-file` and
//! `--tls-private-key-file` are the serving pair, `--client-ca-file` the CA.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SanType,
};
/// The rustls this module configures (so callers name the same types).
pub use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why certificates could not be made, read or used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A certificate or key could not be made or parsed.
    #[error("{0}")]
    Certificate(String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The verified certificate chain a client presented (leaf first), put in
/// every request's extensions by [`ApiServer::serve_tls`](crate::ApiServer::serve_tls).
/// One value per connection: what is read from the chain is kept with it,
/// so the connection's requests do not parse the certificate again.
#[derive(Clone, Debug, Default)]
pub struct PeerCertificates {
    chain: Arc<Vec<CertificateDer<'static>>>,
    user: Arc<std::sync::OnceLock<Result<k_store::api::UserInfo, String>>>,
}

impl PeerCertificates {
    /// The chain of one connection.
    pub fn new(chain: Vec<CertificateDer<'static>>) -> Self {
        PeerCertificates { chain: Arc::new(chain), user: Arc::default() }
    }

    /// The chain, leaf first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The user the leaf names, read once per connection by `read`.
    pub(crate) fn user(
        &self,
        read: impl FnOnce(&[CertificateDer<'static>]) -> Result<k_store::api::UserInfo, String>,
    ) -> &Result<k_store::api::UserInfo, String> {
        self.user.get_or_init(|| read(&self.chain))
    }
}

/// A PEM certificate and its PEM private key.
#[derive(Clone, Debug)]
pub struct CertifiedKey {
    /// The certificate (PEM).
    pub cert_pem: String,
    /// Its private key (PEM).
    pub key_pem: String,
}

/// The control plane's certificates; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct Pki {
    /// The directory the files live in.
    pub dir: PathBuf,
    /// The cluster CA: it signs the serving and client certificates.
    pub ca: CertifiedKey,
    /// The API server's serving certificate.
    pub serving: CertifiedKey,
    /// The administrator's client certificate (CN `admin`, O `system:masters`).
    pub admin: CertifiedKey,
    /// The key that signs service-account tokens (`sa.key`, PKCS#8 PEM;
    /// its public half is `sa.pub`), as kube-apiserver's
    /// `--service-account-signing-key-file`.
    pub service_account_key_pem: String,
}

impl Pki {
    /// Loads the PKI from `dir`, creating the directory and whatever is
    /// missing. The serving certificate names `localhost`, `kubernetes`,
    /// `kubernetes.default`, `kubernetes.default.svc`, the given `names`,
    /// 127.0.0.1, ::1 and the given `addresses`. An existing serving
    /// certificate is kept as it is (delete it to have it made again).
    pub fn load_or_create(dir: &Path, names: &[String], addresses: &[IpAddr]) -> Result<Pki, TlsError> {
        std::fs::create_dir_all(dir).map_err(|source| TlsError::Io { path: dir.to_owned(), source })?;
        let ca = match read_pair(dir, "ca")? {
            Some(pair) => pair,
            None => write_pair(dir, "ca", &new_ca()?)?,
        };
        let ca_key = KeyPair::from_pem(&ca.key_pem).map_err(cert_error("the CA key"))?;
        let issuer = Issuer::from_ca_cert_pem(&ca.cert_pem, ca_key).map_err(cert_error("the CA certificate"))?;
        let serving = match read_pair(dir, "apiserver")?.filter(lasts) {
            Some(pair) => pair,
            None => write_pair(dir, "apiserver", &new_serving(&issuer, names, addresses)?)?,
        };
        let admin = match read_pair(dir, "admin")?.filter(lasts) {
            Some(pair) => pair,
            None => write_pair(dir, "admin", &new_client(&issuer, "admin", Some("system:masters"))?)?,
        };
        let service_account_key_pem = service_account_key(dir)?;
        Ok(Pki { dir: dir.to_owned(), ca, serving, admin, service_account_key_pem })
    }

    /// A new client certificate for `user` (CN), in `group` (O) if given,
    /// signed by the CA (for tests and for handing out credentials); nothing
    /// is written. One group at most: rcgen writes one value per name
    /// attribute (certificates from other tools may carry several O, and
    /// authentication reads them all).
    pub fn client_certificate(&self, user: &str, group: Option<&str>) -> Result<CertifiedKey, TlsError> {
        let ca_key = KeyPair::from_pem(&self.ca.key_pem).map_err(cert_error("the CA key"))?;
        let issuer = Issuer::from_ca_cert_pem(&self.ca.cert_pem, ca_key).map_err(cert_error("the CA certificate"))?;
        new_client(&issuer, user, group)
    }

    /// The rustls configuration serving with this PKI's serving
    /// certificate and accepting clients certified by its CA.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        server_config(&self.serving.cert_pem, &self.serving.key_pem, Some(&self.ca.cert_pem))
    }
}

/// A rustls server configuration (HTTP/2 and HTTP/1.1 by ALPN) from a PEM
/// certificate chain and key; with `client_ca_pem`, client certificates
/// signed by it are asked for and verified, but not required.
pub fn server_config(
    cert_chain_pem: &str,
    key_pem: &str,
    client_ca_pem: Option<&str>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_chain_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Certificate(format!("the serving certificate: {e}")))?;
    if chain.is_empty() {
        return Err(TlsError::Certificate("the serving certificate file holds no certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| TlsError::Certificate(format!("the serving key: {e}")))?;
    let builder =
        rustls::ServerConfig::builder_with_provider(Arc::clone(&provider)).with_safe_default_protocol_versions()?;
    let builder = match client_ca_pem {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                let cert = cert.map_err(|e| TlsError::Certificate(format!("the client CA: {e}")))?;
                roots.add(cert)?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::Certificate(format!("the client CA: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// How long certificates are valid, in days.
const CA_DAYS: i64 = 3650;
const LEAF_DAYS: i64 = 365;
/// A leaf with less than this left is renewed at start.
const RENEW_DAYS: i64 = 30;

/// Sets a validity from an hour ago (clocks differ) to `days` from now.
fn valid_for(params: &mut CertificateParams, days: i64) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(days);
}

/// Whether a certificate read from disk has more than [`RENEW_DAYS`] left
/// (an unreadable one does not: it is made again).
fn lasts(pair: &CertifiedKey) -> bool {
    let Ok((_, pem)) = x509_parser::pem::parse_x509_pem(pair.cert_pem.as_bytes()) else { return false };
    let Ok(cert) = pem.parse_x509() else { return false };
    let left = cert.validity().not_after.timestamp() - time::OffsetDateTime::now_utc().unix_timestamp();
    left > RENEW_DAYS * 86_400
}

fn cert_error(what: &'static str) -> impl Fn(rcgen::Error) -> TlsError {
    move |e| TlsError::Certificate(format!("{what}: {e}"))
}

fn new_ca() -> Result<CertifiedKey, TlsError> {
    let key = KeyPair::generate().map_err(cert_error("a CA key"))?;
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, "k-ca");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    valid_for(&mut params, CA_DAYS);
    let cert = params.self_signed(&key).map_err(cert_error("the CA certificate"))?;
    Ok(CertifiedKey { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
}

fn new_serving(issuer: &Issuer<'_, KeyPair>, names: &[String], addresses: &[IpAddr]) -> Result<CertifiedKey, TlsError> {
    let mut dns: Vec<String> =
        ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"].map(String::from).into();
    for name in names.iter().filter(|n| !n.is_empty()) {
        if !dns.contains(name) {
            dns.push(name.clone());
        }
    }
    let mut params = CertificateParams::new(dns).map_err(cert_error("a serving certificate name"))?;
    let mut ips: Vec<IpAddr> = vec![[127, 0, 0, 1].into(), std::net::Ipv6Addr::LOCALHOST.into()];
    for address in addresses.iter().filter(|a| !a.is_unspecified()) {
        if !ips.contains(address) {
            ips.push(*address);
        }
    }
    params.subject_alt_names.extend(ips.into_iter().map(SanType::IpAddress));
    params.distinguished_name.push(DnType::CommonName, "kube-apiserver");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    valid_for(&mut params, LEAF_DAYS);
    let key = KeyPair::generate().map_err(cert_error("a serving key"))?;
    let cert = params.signed_by(&key, issuer).map_err(cert_error("the serving certificate"))?;
    Ok(CertifiedKey { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
}

fn new_client(issuer: &Issuer<'_, KeyPair>, user: &str, group: Option<&str>) -> Result<CertifiedKey, TlsError> {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, user);
    if let Some(group) = group {
        params.distinguished_name.push(DnType::OrganizationName, group);
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    valid_for(&mut params, LEAF_DAYS);
    let key = KeyPair::generate().map_err(cert_error("a client key"))?;
    let cert = params.signed_by(&key, issuer).map_err(cert_error("a client certificate"))?;
    Ok(CertifiedKey { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
}

/// The service-account signing key `<dir>/sa.key` (PKCS#8 PEM), made
/// (with its public half `sa.pub`) when missing.
pub fn service_account_key(dir: &Path) -> Result<String, TlsError> {
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Io { path: dir.to_owned(), source })?;
    let path = dir.join("sa.key");
    if path.exists() {
        return std::fs::read_to_string(&path).map_err(|source| TlsError::Io { path, source });
    }
    let key = KeyPair::generate().map_err(cert_error("the service-account key"))?;
    let public = dir.join("sa.pub");
    write_private(&public, &key.public_key_pem()).map_err(|source| TlsError::Io { path: public, source })?;
    let pem = key.serialize_pem();
    write_private(&path, &pem).map_err(|source| TlsError::Io { path, source })?;
    Ok(pem)
}

/// `<dir>/<name>.crt` and `.key`, if both exist.
fn read_pair(dir: &Path, name: &str) -> Result<Option<CertifiedKey>, TlsError> {
    let (cert, key) = (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
    if !cert.exists() || !key.exists() {
        return Ok(None);
    }
    let read =
        |path: &Path| std::fs::read_to_string(path).map_err(|source| TlsError::Io { path: path.to_owned(), source });
    Ok(Some(CertifiedKey { cert_pem: read(&cert)?, key_pem: read(&key)? }))
}

/// Writes `<dir>/<name>.crt` and `.key` (mode 0600).
fn write_pair(dir: &Path, name: &str, pair: &CertifiedKey) -> Result<CertifiedKey, TlsError> {
    for (ext, text) in [("crt", &pair.cert_pem), ("key", &pair.key_pem)] {
        let path = dir.join(format!("{name}.{ext}"));
        write_private(&path, text).map_err(|source| TlsError::Io { path, source })?;
    }
    Ok(pair.clone())
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}
