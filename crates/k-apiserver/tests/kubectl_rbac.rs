//! The real kubectl 1.32 over HTTPS against a server with authentication
//! and RBAC: a restricted user's kubeconfig (client certificate or token)
//! gets kube-apiserver's Forbidden message, `kubectl auth can-i` and
//! `kubectl auth whoami` answer, and admins act as others with `--as`.
//! Fails with a clear message when kubectl is not installed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use base64::Engine as _;
use k_apiserver::security::SecurityOptions;
use k_apiserver::tls::{CertifiedKey, Pki};
use k_apiserver::{ApiServer, ServerConfig};
use k_store::{ObjectApi, Store};
use serde_json::json;

struct Cluster {
    dir: PathBuf,
}

fn which(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(bin)).find(|p| p.is_file())
}

impl Cluster {
    async fn start() -> (Cluster, Pki, String) {
        assert!(which("kubectl").is_some(), "kubectl is not installed: these tests drive the real kubectl 1.32");
        let dir = std::env::temp_dir().join(format!("k-kubectl-rbac-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("cache")).expect("temp dir");
        let pki = Pki::load_or_create(&dir.join("pki"), &[], &[]).expect("pki");
        std::fs::write(dir.join("tokens.csv"), "bob-token,bob,1002,ops\n").expect("tokens");
        let store = Store::in_memory();
        let api: Arc<dyn ObjectApi> = Arc::new(store);
        let mut options = SecurityOptions::new(&pki.service_account_key_pem);
        options.token_auth_file = Some(dir.join("tokens.csv"));
        let security = options.build(api.clone()).await.expect("security");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut config = ServerConfig { external_address: addr.to_string(), ..ServerConfig::default() };
        security.configure(&mut config);
        let server = ApiServer::new(api, config);
        let tls = pki.server_config().expect("tls");
        tokio::spawn(async move { server.serve_tls(listener, tls, std::future::pending()).await });
        (Cluster { dir }, pki, format!("https://{addr}"))
    }

    /// Writes a kubeconfig named `name` for a certificate or a token.
    fn kubeconfig(&self, name: &str, server: &str, ca: &str, cert: Option<&CertifiedKey>, token: Option<&str>) {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let mut user = json!({});
        if let Some(cert) = cert {
            user["client-certificate-data"] = b64(&cert.cert_pem).into();
            user["client-key-data"] = b64(&cert.key_pem).into();
        }
        if let Some(token) = token {
            user["token"] = token.into();
        }
        let config = json!({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "k", "cluster": {"server": server, "certificate-authority-data": b64(ca)}}],
            "users": [{"name": name, "user": user}],
            "contexts": [{"name": "k", "context": {"cluster": "k", "user": name, "namespace": "default"}}],
            "current-context": "k",
        });
        std::fs::write(self.dir.join(name), config.to_string()).expect("kubeconfig");
    }

    /// kubectl as `who` (a kubeconfig name): (success, stdout, stderr).
    async fn run(&self, who: &str, args: &[&str]) -> (bool, String, String) {
        let dir = self.dir.clone();
        let who = who.to_owned();
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        tokio::task::spawn_blocking(move || {
            let out = Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(dir.join(&who))
                .arg("--cache-dir")
                .arg(dir.join("cache").join(&who))
                .args(&args)
                .output()
                .expect("running kubectl");
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
        .await
        .expect("kubectl task")
    }

    async fn ok(&self, who: &str, args: &[&str]) -> String {
        let (ok, out, err) = self.run(who, args).await;
        assert!(ok, "kubectl as {who} {args:?} failed:\nstdout: {out}\nstderr: {err}");
        out
    }

    async fn refused(&self, who: &str, args: &[&str]) -> String {
        let (ok, out, err) = self.run(who, args).await;
        assert!(!ok, "kubectl as {who} {args:?} should have been refused:\nstdout: {out}");
        err.trim().to_owned()
    }

    async fn can_i(&self, who: &str, args: &[&str]) -> String {
        let mut all = vec!["auth", "can-i"];
        all.extend_from_slice(args);
        self.run(who, &all).await.1.trim().to_owned()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_as_a_restricted_user() {
    let (cluster, pki, server) = Cluster::start().await;
    cluster.kubeconfig("admin", &server, &pki.ca.cert_pem, Some(&pki.admin), None);
    let jane = pki.client_certificate("jane", Some("dev")).expect("jane");
    cluster.kubeconfig("jane", &server, &pki.ca.cert_pem, Some(&jane), None);
    cluster.kubeconfig("bob", &server, &pki.ca.cert_pem, None, Some("bob-token"));

    for ns in ["default", "team"] {
        cluster.ok("admin", &["create", "namespace", ns]).await;
    }
    cluster
        .ok("admin", &["-n", "team", "create", "rolebinding", "jane-view", "--clusterrole=view", "--user=jane"])
        .await;
    cluster.ok("admin", &["-n", "team", "create", "configmap", "settings", "--from-literal=k=v"]).await;

    // The binding reaches RBAC's cache through its watch.
    let mut answer = String::new();
    for _ in 0..100 {
        answer = cluster.can_i("jane", &["list", "pods", "-n", "team"]).await;
        if answer == "yes" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(answer, "yes");
    assert_eq!(cluster.can_i("jane", &["create", "pods", "-n", "team"]).await, "no");
    assert_eq!(cluster.can_i("jane", &["list", "pods", "-n", "default"]).await, "no");
    assert_eq!(cluster.can_i("jane", &["get", "pods", "--subresource=log", "-n", "team"]).await, "yes");
    assert_eq!(cluster.can_i("jane", &["get", "secrets", "-n", "team"]).await, "no");
    assert_eq!(cluster.can_i("admin", &["*", "*", "--all-namespaces"]).await, "yes");
    assert_eq!(cluster.can_i("admin", &["list", "pods", "-n", "team", "--as=jane"]).await, "yes");
    assert_eq!(cluster.can_i("admin", &["list", "pods", "-n", "default", "--as=jane"]).await, "no");

    // kube-apiserver's Forbidden message, for jane and for admin acting as jane.
    let listed = cluster.ok("jane", &["get", "configmaps", "-n", "team", "-o", "name"]).await;
    assert!(listed.contains("configmap/settings"), "{listed}");
    let forbidden = r#"Error from server (Forbidden): pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "default""#;
    assert_eq!(cluster.refused("jane", &["get", "pods", "-n", "default"]).await, forbidden);
    assert_eq!(cluster.refused("admin", &["get", "pods", "-n", "default", "--as=jane"]).await, forbidden);
    let err = cluster.refused("jane", &["-n", "team", "delete", "configmap", "settings"]).await;
    assert_eq!(
        err,
        r#"Error from server (Forbidden): configmaps "settings" is forbidden: User "jane" cannot delete resource "configmaps" in API group "" in the namespace "team""#
    );
    let err = cluster.refused("jane", &["get", "pods", "-n", "team", "--as=admin"]).await;
    assert!(
        err.contains(r#"users "admin" is forbidden: User "jane" cannot impersonate resource "users" in API group "" at the cluster scope"#),
        "{err}"
    );

    // A token user, and whoami for both.
    let err = cluster.refused("bob", &["get", "nodes"]).await;
    assert_eq!(
        err,
        r#"Error from server (Forbidden): nodes is forbidden: User "bob" cannot list resource "nodes" in API group "" at the cluster scope"#
    );
    let whoami = cluster.ok("jane", &["auth", "whoami", "-o", "json"]).await;
    let whoami: serde_json::Value = serde_json::from_str(&whoami).expect("whoami json");
    assert_eq!(whoami["status"]["userInfo"]["username"], "jane");
    assert_eq!(whoami["status"]["userInfo"]["groups"], json!(["dev", "system:authenticated"]));
    let whoami = cluster.ok("bob", &["auth", "whoami"]).await;
    assert!(whoami.contains("bob") && whoami.contains("ops"), "{whoami}");

    // A token kubectl asks for works as its service account.
    cluster.ok("admin", &["-n", "team", "create", "serviceaccount", "robot"]).await;
    let token = cluster.ok("admin", &["-n", "team", "create", "token", "robot", "--duration=10m"]).await;
    cluster.kubeconfig("robot", &server, &pki.ca.cert_pem, None, Some(token.trim()));
    let whoami = cluster.ok("robot", &["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]).await;
    assert_eq!(whoami, "system:serviceaccount:team:robot");
    let err = cluster.refused("robot", &["get", "pods", "-n", "team"]).await;
    assert!(err.contains(r#"User "system:serviceaccount:team:robot" cannot list resource "pods""#), "{err}");
}
