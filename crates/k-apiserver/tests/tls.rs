//! The secure port: the PKI the control plane creates in its data directory
//! and `ApiServer::serve_tls`, driven by the remote client over real HTTPS.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use k_api_types::Resource;
use k_api_types::core::v1::ConfigMap;
use k_apiserver::authn::Authentication;
use k_apiserver::authn::x509::ClientCertificates;
use k_apiserver::tls::Pki;
use k_apiserver::{ApiServer, ServerConfig};
use k_store::ObjectApi;
use k_store::remote::{RemoteApi, RemoteConfig};
use k_store::{Api, Store, StoreError};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("k-tls-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Serves a memory store over HTTPS with `pki`; returns the address.
async fn serve(pki: &Pki) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = ApiServer::new(Arc::new(Store::in_memory()), ServerConfig::default());
    let tls = pki.server_config().expect("server config");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        server
            .serve_tls(listener, tls, async {
                let _ = rx.await;
            })
            .await
    });
    (addr, tx)
}

#[test]
fn the_pki_is_created_once_and_kept() {
    let dir = temp_dir("pki");
    let pki = Pki::load_or_create(&dir, &["k.example.org".into()], &["10.0.0.7".parse().unwrap()]).expect("create");
    for name in ["ca", "apiserver", "admin"] {
        for ext in ["crt", "key"] {
            let path = dir.join(format!("{name}.{ext}"));
            let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).expect("file").permissions());
            assert_eq!(mode & 0o777, 0o600, "{}", path.display());
        }
    }
    // Ten years for the CA, one for the others (as kubeadm), from about now.
    let days_left = |pem: &str| {
        let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("pem");
        let cert = pem.parse_x509().expect("certificate");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        assert!(cert.validity().not_before.timestamp() <= now, "valid from now");
        (cert.validity().not_after.timestamp() - now) / 86_400
    };
    assert!((3649..=3650).contains(&days_left(&pki.ca.cert_pem)));
    assert!((364..=365).contains(&days_left(&pki.serving.cert_pem)));
    assert!((364..=365).contains(&days_left(&pki.admin.cert_pem)));

    let again = Pki::load_or_create(&dir, &[], &[]).expect("load");
    assert_eq!(again.ca.cert_pem, pki.ca.cert_pem, "the CA is kept");
    assert_eq!(again.serving.cert_pem, pki.serving.cert_pem, "the serving certificate is kept");
    assert_eq!(again.admin.key_pem, pki.admin.key_pem);

    // A missing serving certificate is made again, signed by the same CA.
    std::fs::remove_file(dir.join("apiserver.crt")).unwrap();
    let renewed = Pki::load_or_create(&dir, &[], &[]).expect("renew");
    assert_eq!(renewed.ca.cert_pem, pki.ca.cert_pem);
    assert_ne!(renewed.serving.cert_pem, pki.serving.cert_pem);

    // A client certificate that cannot be read (or is about to expire) is
    // made again; a broken CA is an error naming what is wrong, not a
    // silent new CA.
    std::fs::write(dir.join("admin.crt"), "garbage").unwrap();
    let remade = Pki::load_or_create(&dir, &[], &[]).expect("remade admin");
    assert!((364..=365).contains(&days_left(&remade.admin.cert_pem)));
    std::fs::write(dir.join("ca.key"), "not a key").unwrap();
    let err = Pki::load_or_create(&dir, &[], &[]).expect_err("broken CA key");
    assert!(err.to_string().contains("the CA key"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_the_created_ca_and_admin_certificate() {
    let dir = temp_dir("serve");
    let pki = Pki::load_or_create(&dir, &["k.example.org".into()], &[]).expect("pki");
    let (addr, _stop) = serve(&pki).await;

    // The serving certificate names what it was asked to, and nothing else.
    let named =
        |name: &str| RemoteConfig::new(format!("https://{addr}")).ca_pem(pki.ca.cert_pem.clone()).tls_server_name(name);
    RemoteApi::connect(named("k.example.org")).await.expect("an extra name is in the certificate");
    RemoteApi::connect(named("kubernetes.default.svc")).await.expect("the in-cluster name is in the certificate");
    assert!(RemoteApi::connect(named("elsewhere.example.org")).await.is_err(), "a name not in the certificate");

    // By address and by name (both in the serving certificate's SANs),
    // with the admin's client certificate.
    for (i, url) in [format!("https://{addr}"), format!("https://localhost:{}", addr.port())].into_iter().enumerate() {
        let config = RemoteConfig::new(&url)
            .ca_pem(pki.ca.cert_pem.clone())
            .client_cert_pem(pki.admin.cert_pem.clone(), pki.admin.key_pem.clone());
        let remote = RemoteApi::connect(config).await.unwrap_or_else(|e| panic!("{url}: {e}"));
        let api: Api<ConfigMap> = Api::with_client(Arc::new(remote), Some("default".into()));
        let created = api.create(&ConfigMap::named(format!("over-tls-{i}"))).await.expect("create");
        assert_eq!(created.metadata.namespace, "default");
    }

    // Without a client certificate the handshake still succeeds (tokens
    // and anonymous requests carry none).
    let remote = RemoteApi::connect(RemoteConfig::new(format!("https://{addr}")).ca_pem(pki.ca.cert_pem.clone()))
        .await
        .expect("no client certificate");
    assert!(remote.resources().iter().any(|r| r.kind == ConfigMap::INFO.kind));

    // A client that trusts another CA refuses the server, naming it.
    let other = Pki::load_or_create(&temp_dir("other"), &[], &[]).expect("other pki");
    let url = format!("https://{addr}");
    let err =
        RemoteApi::connect(RemoteConfig::new(&url).ca_pem(other.ca.cert_pem.clone())).await.expect_err("untrusted");
    assert!(matches!(&err, StoreError::Internal(m) if m.contains(&url) && m.contains("certificate")), "{err:?}");

    // A client certificate from another CA is refused by the server.
    let config = RemoteConfig::new(&url)
        .ca_pem(pki.ca.cert_pem.clone())
        .client_cert_pem(other.admin.cert_pem.clone(), other.admin.key_pem.clone());
    assert!(RemoteApi::connect(config).await.is_err(), "a foreign client certificate is refused");

    // Plain HTTP to the secure port gets no API.
    let err = RemoteApi::connect(RemoteConfig::new(format!("http://{addr}"))).await.expect_err("plain http");
    assert!(matches!(&err, StoreError::Internal(m) if m.contains(&addr.to_string())), "{err:?}");
}

/// The HTTP status of a GET of `path` over TLS, trusting `ca`, without a
/// client certificate.
async fn status_without_certificate(addr: SocketAddr, ca: &str, path: &str) -> u16 {
    use k_apiserver::tls::rustls;
    use rustls::pki_types::pem::PemObject;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots.add(cert.expect("ca")).expect("root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut tls = connector.connect(name, tcp).await.expect("handshake");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("{text}"))
}

/// Records who writes, as admission sees it.
#[derive(Debug, Default)]
struct Writers(std::sync::Mutex<Vec<(String, Vec<String>)>>);

#[async_trait::async_trait]
impl k_store::admission::AdmissionHook for Writers {
    async fn admit(&self, request: &mut k_store::admission::AdmissionRequest<'_>) -> k_store::Result<()> {
        let user = request.user;
        self.0.lock().unwrap().push((user.username.clone(), user.groups.clone()));
        Ok(())
    }
}

/// A server over `store` with client-certificate authentication.
async fn serve_authenticated(pki: &Pki, store: Store, anonymous: bool) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let authentication = Authentication::new().with(ClientCertificates).anonymous(anonymous);
    let config = ServerConfig { authentication: Some(authentication), ..ServerConfig::default() };
    let server = ApiServer::new(Arc::new(store), config);
    let tls = pki.server_config().expect("server config");
    tokio::spawn(async move { server.serve_tls(listener, tls, std::future::pending()).await });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_name_the_user_and_nothing_else_gets_in() {
    let pki = Pki::load_or_create(&temp_dir("authn"), &[], &[]).expect("pki");
    let store = Store::in_memory();
    let writers = Arc::new(Writers::default());
    store.add_admission(writers.clone());
    let addr = serve_authenticated(&pki, store.clone(), false).await;
    let url = format!("https://{addr}");
    let as_cert = |cert: &k_apiserver::tls::CertifiedKey| {
        RemoteConfig::new(&url)
            .ca_pem(pki.ca.cert_pem.clone())
            .client_cert_pem(cert.cert_pem.clone(), cert.key_pem.clone())
    };

    // CN is the user, O the groups, plus system:authenticated.
    let jane = pki.client_certificate("jane", Some("dev")).expect("jane's certificate");
    for (i, cert) in [&pki.admin, &jane].into_iter().enumerate() {
        let remote = RemoteApi::connect(as_cert(cert)).await.expect("connect");
        let api: Api<ConfigMap> = Api::with_client(Arc::new(remote), Some("default".into()));
        api.create(&ConfigMap::named(format!("by-{i}"))).await.expect("create");
    }
    let seen = writers.0.lock().unwrap().clone();
    let expected = |user: &str, groups: &[&str]| (user.to_owned(), groups.iter().map(|g| (*g).to_owned()).collect());
    assert_eq!(
        seen,
        [
            expected("admin", &["system:masters", "system:authenticated"]),
            expected("jane", &["dev", "system:authenticated"])
        ]
    );

    // No certificate and anonymous off: 401 for resources and health alike.
    let err = RemoteApi::connect(RemoteConfig::new(&url).ca_pem(pki.ca.cert_pem.clone())).await.expect_err("401");
    assert!(matches!(&err, StoreError::Forbidden(m) if m.contains("Unauthorized")), "{err:?}");
    for path in ["/readyz", "/api/v1/namespaces/default/configmaps"] {
        assert_eq!(status_without_certificate(addr, &pki.ca.cert_pem, path).await, 401, "{path}");
    }

    // Anonymous on: no certificate is system:anonymous.
    let writers2 = Arc::new(Writers::default());
    let store2 = Store::in_memory();
    store2.add_admission(writers2.clone());
    let addr = serve_authenticated(&pki, store2, true).await;
    let remote = RemoteApi::connect(RemoteConfig::new(format!("https://{addr}")).ca_pem(pki.ca.cert_pem.clone()))
        .await
        .expect("anonymous allowed");
    let api: Api<ConfigMap> = Api::with_client(Arc::new(remote), Some("default".into()));
    api.create(&ConfigMap::named("anon")).await.expect("anonymous create");
    assert_eq!(writers2.0.lock().unwrap().clone(), [expected("system:anonymous", &["system:unauthenticated"])]);
}
