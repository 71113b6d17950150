//! Authentication and RBAC over real HTTPS: client certificates from the
//! generated PKI, a token file, service-account tokens from the
//! TokenRequest subresource, impersonation, the review kinds, and an
//! authorization matrix (users × verbs × resources and subresources ×
//! namespaces × resource names) asserting each allow and deny.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use k_apiserver::authn::service_account::{DEFAULT_ISSUER, Grant, ServiceAccountTokens};
use k_apiserver::security::SecurityOptions;
use k_apiserver::tls::{CertifiedKey, Pki, rustls};
use k_apiserver::{ApiServer, ServerConfig};
use k_store::{ObjectApi, Store};
use serde_json::{Value, json};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("k-authz-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Who a request comes from.
#[derive(Clone)]
enum Who {
    Cert(CertifiedKey),
    Token(String),
    Nobody,
}

struct Cluster {
    addr: SocketAddr,
    pki: Pki,
    store: Store,
    tokens: Arc<ServiceAccountTokens>,
    admin: Who,
}

impl Cluster {
    async fn start(name: &str, anonymous: bool) -> Cluster {
        let dir = temp_dir(name);
        let pki = Pki::load_or_create(&dir.join("pki"), &[], &[]).expect("pki");
        let token_file = dir.join("tokens.csv");
        std::fs::write(&token_file, "bob-token,bob,1002,\"ops,dev\"\ncarol-token,carol,1003\n").expect("token file");
        let store = Store::in_memory();
        let api: Arc<dyn ObjectApi> = Arc::new(store.clone());
        let mut options = SecurityOptions::new(&pki.service_account_key_pem);
        options.token_auth_file = Some(token_file);
        options.anonymous = anonymous;
        let security = options.build(api.clone()).await.expect("security");
        store.add_admission(security.escalation_guard());
        let mut config = ServerConfig::default();
        security.configure(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = ApiServer::new(api, config);
        let tls = pki.server_config().expect("tls");
        tokio::spawn(async move { server.serve_tls(listener, tls, std::future::pending()).await });
        let admin = Who::Cert(pki.admin.clone());
        Cluster { addr, pki, store, tokens: security.service_accounts, admin }
    }

    fn cert(&self, user: &str, group: Option<&str>) -> Who {
        Who::Cert(self.pki.client_certificate(user, group).expect("certificate"))
    }

    /// One HTTP/1.1 request over TLS; the status and the JSON body.
    async fn call(
        &self,
        who: &Who,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        use rustls::pki_types::pem::PemObject;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(self.pki.ca.cert_pem.as_bytes()) {
            roots.add(cert.expect("ca")).expect("root");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots);
        let config = match who {
            Who::Cert(cert) => {
                let chain = rustls::pki_types::CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .expect("chain");
                let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).expect("key");
                builder.with_client_auth_cert(chain, key).expect("client auth")
            }
            _ => builder.with_no_client_auth(),
        };
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(self.addr).await.expect("connect");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let mut tls = connector.connect(name, tcp).await.expect("handshake");
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type")) {
            request.push_str("Content-Type: application/json\r\n");
        }
        if let Who::Token(token) = who {
            request.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        tls.write_all(request.as_bytes()).await.expect("write");
        let mut answer = Vec::new();
        let _ = tls.read_to_end(&mut answer).await;
        let text = String::from_utf8_lossy(&answer).into_owned();
        let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let code = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("{text}"));
        let payload = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            dechunk(rest)
        } else {
            rest.to_owned()
        };
        (code, serde_json::from_str(&payload).unwrap_or(Value::String(payload)))
    }

    /// As admin; panics unless the answer is 2xx.
    async fn admin(&self, method: &str, path: &str, body: Value) -> Value {
        let (code, answer) = self.call(&self.admin.clone(), method, path, Some(&body), &[]).await;
        assert!((200..300).contains(&code), "{method} {path}: {code} {answer}");
        answer
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
}

/// The objects the matrix runs against.
async fn fixtures(cluster: &Cluster) -> String {
    for ns in ["team", "default", "other"] {
        let _ = cluster
            .call(
                &cluster.admin,
                "POST",
                "/api/v1/namespaces",
                Some(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})),
                &[],
            )
            .await;
    }
    for (name, ns) in [("web", "team"), ("web", "default")] {
        cluster.admin("POST", &format!("/api/v1/namespaces/{ns}/pods"), pod(name)).await;
    }
    for name in ["settings", "other"] {
        cluster
            .admin(
                "POST",
                "/api/v1/namespaces/team/configmaps",
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}),
            )
            .await;
    }
    cluster
        .admin(
            "POST",
            "/api/v1/namespaces/team/serviceaccounts",
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}}),
        )
        .await;
    let rbac = "/apis/rbac.authorization.k8s.io/v1";
    // jane (certificate, group dev): view in team.
    cluster
        .admin(
            "POST",
            &format!("{rbac}/namespaces/team/rolebindings"),
            json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "jane-view"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane"}]}),
        )
        .await;
    // carol (token file): one config map by name, in team.
    cluster
        .admin("POST", &format!("{rbac}/namespaces/team/roles"), json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "settings-reader"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["settings"], "verbs": ["get", "update"]}]}))
        .await;
    cluster
        .admin(
            "POST",
            &format!("{rbac}/namespaces/team/rolebindings"),
            json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "carol-settings"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "settings-reader"},
            "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "carol"}]}),
        )
        .await;
    // The group ops (bob, from the token file): nodes cluster-wide, pod logs everywhere.
    cluster
        .admin(
            "POST",
            &format!("{rbac}/clusterroles"),
            json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "ops"},
            "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
                      {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
                      {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]}),
        )
        .await;
    cluster
        .admin(
            "POST",
            &format!("{rbac}/clusterrolebindings"),
            json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "ops"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "ops"},
            "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "ops"}]}),
        )
        .await;
    // The service account robot: deployments and their scale in team.
    cluster
        .admin("POST", &format!("{rbac}/namespaces/team/roles"), json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "deployer"},
            "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["create", "get"]},
                      {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "update", "patch"]}]}))
        .await;
    cluster
        .admin(
            "POST",
            &format!("{rbac}/namespaces/team/rolebindings"),
            json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "robot-deployer"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"},
            "subjects": [{"kind": "ServiceAccount", "name": "robot"}]}),
        )
        .await;
    // The service account's token, from the TokenRequest subresource.
    let request = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}});
    let answer = cluster.admin("POST", "/api/v1/namespaces/team/serviceaccounts/robot/token", request).await;
    assert_eq!(answer["spec"]["expirationSeconds"], 3600);
    assert_eq!(answer["spec"]["audiences"], json!([DEFAULT_ISSUER]));
    answer["status"]["token"].as_str().expect("token").to_owned()
}

/// Waits until the RBAC cache has seen a binding (it follows watches):
/// until `who` gets anything but 403 for `path`.
async fn settle(cluster: &Cluster, who: &Who, path: &str) {
    for _ in 0..200 {
        if cluster.call(who, "GET", path, None, &[]).await.0 != 403 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{path} stayed forbidden");
}

fn deployment(name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}},
                                 "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
}

/// One case of the matrix: what, who, method, path, body, expected status.
type Row<'a> = (&'a str, &'a Who, &'a str, String, Option<Value>, u16);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorization_matrix() {
    let cluster = Cluster::start("matrix", false).await;
    let robot_token = fixtures(&cluster).await;
    let jane = cluster.cert("jane", Some("dev"));
    let bob = Who::Token("bob-token".into());
    let carol = Who::Token("carol-token".into());
    let robot = Who::Token(robot_token);
    let admin = cluster.admin.clone();
    let wrong = Who::Token("nope".into());
    settle(&cluster, &robot, "/apis/apps/v1/namespaces/team/deployments/none-yet/scale").await;
    settle(&cluster, &bob, "/api/v1/nodes").await;
    settle(&cluster, &carol, "/api/v1/namespaces/team/configmaps/settings").await;
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"k": "v"}});
    let team_pods = "/api/v1/namespaces/team/pods";
    let rows: Vec<Row<'_>> = vec![
        // admin (system:masters → cluster-admin): everything.
        ("admin lists all pods", &admin, "GET", "/api/v1/pods".into(), None, 200),
        (
            "admin deletes a namespace's config map",
            &admin,
            "DELETE",
            "/api/v1/namespaces/team/configmaps/other".into(),
            None,
            200,
        ),
        ("admin reads metrics", &admin, "GET", "/metrics".into(), None, 200),
        // jane: view in team only.
        ("jane lists pods in team", &jane, "GET", team_pods.into(), None, 200),
        ("jane gets a pod in team", &jane, "GET", format!("{team_pods}/web"), None, 200),
        ("jane watches pods in team", &jane, "GET", format!("{team_pods}?watch=true&timeoutSeconds=1"), None, 200),
        ("jane reads pod status in team", &jane, "GET", format!("{team_pods}/web/status"), None, 200),
        ("jane creates a pod in team", &jane, "POST", team_pods.into(), Some(pod("new")), 403),
        ("jane deletes a pod in team", &jane, "DELETE", format!("{team_pods}/web"), None, 403),
        ("jane lists pods in default", &jane, "GET", "/api/v1/namespaces/default/pods".into(), None, 403),
        ("jane lists pods everywhere", &jane, "GET", "/api/v1/pods".into(), None, 403),
        (
            "jane reads secrets in team (view has none)",
            &jane,
            "GET",
            "/api/v1/namespaces/team/secrets".into(),
            None,
            403,
        ),
        ("jane lists nodes", &jane, "GET", "/api/v1/nodes".into(), None, 403),
        (
            "jane reads roles (not in view)",
            &jane,
            "GET",
            "/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles".into(),
            None,
            403,
        ),
        ("jane discovers APIs", &jane, "GET", "/apis".into(), None, 200),
        ("jane reads the version", &jane, "GET", "/version".into(), None, 200),
        ("jane reads metrics", &jane, "GET", "/metrics".into(), None, 403),
        // carol: get/update the config map "settings" in team, nothing else.
        ("carol gets settings", &carol, "GET", "/api/v1/namespaces/team/configmaps/settings".into(), None, 200),
        (
            "carol updates settings",
            &carol,
            "PUT",
            "/api/v1/namespaces/team/configmaps/settings".into(),
            Some(cm.clone()),
            200,
        ),
        ("carol gets another config map", &carol, "GET", "/api/v1/namespaces/team/configmaps/other".into(), None, 403),
        ("carol lists config maps", &carol, "GET", "/api/v1/namespaces/team/configmaps".into(), None, 403),
        ("carol deletes settings", &carol, "DELETE", "/api/v1/namespaces/team/configmaps/settings".into(), None, 403),
        (
            "carol gets settings elsewhere",
            &carol,
            "GET",
            "/api/v1/namespaces/default/configmaps/settings".into(),
            None,
            403,
        ),
        // bob, by his group ops: nodes cluster-wide, pods/log but not pods.
        ("bob lists nodes", &bob, "GET", "/api/v1/nodes".into(), None, 200),
        ("bob deletes a node", &bob, "DELETE", "/api/v1/nodes/n1".into(), None, 403),
        ("bob reads metrics", &bob, "GET", "/metrics".into(), None, 200),
        ("bob gets a pod (pods/log grants no pods)", &bob, "GET", format!("{team_pods}/web"), None, 403),
        // robot (service account token): deployments and their scale in team.
        (
            "robot creates a deployment in team",
            &robot,
            "POST",
            "/apis/apps/v1/namespaces/team/deployments".into(),
            Some(deployment("app")),
            201,
        ),
        (
            "robot reads its scale",
            &robot,
            "GET",
            "/apis/apps/v1/namespaces/team/deployments/app/scale".into(),
            None,
            200,
        ),
        (
            "robot deletes the deployment",
            &robot,
            "DELETE",
            "/apis/apps/v1/namespaces/team/deployments/app".into(),
            None,
            403,
        ),
        (
            "robot reads its status (no rule)",
            &robot,
            "GET",
            "/apis/apps/v1/namespaces/team/deployments/app/status".into(),
            None,
            403,
        ),
        (
            "robot creates a deployment in default",
            &robot,
            "POST",
            "/apis/apps/v1/namespaces/default/deployments".into(),
            Some(deployment("app")),
            403,
        ),
        ("robot lists pods", &robot, "GET", team_pods.into(), None, 403),
        // Nobody: anonymous is off.
        ("nobody lists pods", &Who::Nobody, "GET", team_pods.into(), None, 401),
        ("nobody reads health", &Who::Nobody, "GET", "/healthz".into(), None, 401),
        ("a wrong token", &wrong, "GET", "/healthz".into(), None, 401),
    ];
    let mut failures = Vec::new();
    for (what, who, method, path, body, expected) in &rows {
        let (code, answer) = cluster.call(who, method, path, body.as_ref(), &[]).await;
        if code != *expected {
            failures.push(format!("{what}: {method} {path}: expected {expected}, got {code}: {answer}"));
        } else if code == 403 {
            assert_eq!(answer["reason"], "Forbidden", "{what}");
            assert_eq!(answer["kind"], "Status", "{what}");
        }
    }
    assert!(failures.is_empty(), "{} of {} rows differ:\n{}", failures.len(), rows.len(), failures.join("\n"));

    // kube-apiserver's words.
    let (_, denied) = cluster.call(&jane, "GET", "/api/v1/namespaces/default/pods", None, &[]).await;
    assert_eq!(
        denied["message"],
        r#"pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "default""#
    );
    let (_, denied) = cluster.call(&carol, "GET", "/api/v1/namespaces/team/configmaps/other", None, &[]).await;
    assert_eq!(
        denied["message"],
        r#"configmaps "other" is forbidden: User "carol" cannot get resource "configmaps" in API group "" in the namespace "team""#
    );
    assert_eq!(denied["details"], json!({"name": "other", "kind": "configmaps"}));
    let (_, denied) =
        cluster.call(&robot, "GET", "/apis/apps/v1/namespaces/team/deployments/app/status", None, &[]).await;
    assert_eq!(
        denied["message"],
        r#"deployments.apps "app" is forbidden: User "system:serviceaccount:team:robot" cannot get resource "deployments/status" in API group "apps" in the namespace "team""#
    );
    let (_, denied) = cluster.call(&jane, "GET", "/metrics", None, &[]).await;
    assert_eq!(denied["message"], r#"forbidden: User "jane" cannot get path "/metrics""#);

    // A binding removed is a permission gone (the cache follows the watch).
    cluster
        .admin("DELETE", "/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings/jane-view", json!({}))
        .await;
    let mut code = 200;
    for _ in 0..100 {
        code = cluster.call(&jane, "GET", team_pods, None, &[]).await.0;
        if code == 403 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(code, 403, "jane's view was unbound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_account_tokens_are_checked_and_reviewed() {
    let cluster = Cluster::start("tokens", false).await;
    let good = fixtures(&cluster).await;
    let uid = |v: &Value| v["metadata"]["uid"].as_str().unwrap_or_default().to_owned();
    let account = cluster.admin("GET", "/api/v1/namespaces/team/serviceaccounts/robot", json!(null)).await;
    let whoami = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
    let review = "/apis/authentication.k8s.io/v1/selfsubjectreviews";

    // The issued token works, as the service account, in its groups.
    let (code, me) = cluster.call(&Who::Token(good.clone()), "POST", review, Some(&whoami), &[]).await;
    assert_eq!(code, 201, "{me}");
    assert_eq!(me["status"]["userInfo"]["username"], "system:serviceaccount:team:robot");
    assert_eq!(me["status"]["userInfo"]["uid"], uid(&account).as_str());
    assert_eq!(
        me["status"]["userInfo"]["groups"],
        json!(["system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"])
    );

    // Expired, wrong-audience and forged tokens: 401.
    let grant = Grant {
        namespace: "team".into(),
        name: "robot".into(),
        uid: uid(&account),
        expiration_seconds: 3600,
        ..Grant::default()
    };
    let now = k_apiserver::authn::service_account::unix_now();
    let (expired, _) = cluster.tokens.sign(&grant, now - 7200).expect("sign");
    let (elsewhere, _) = cluster
        .tokens
        .sign(&Grant { audiences: vec!["https://vault.example".into()], ..grant.clone() }, now)
        .expect("sign");
    let other_key = Pki::load_or_create(&temp_dir("forger"), &[], &[]).expect("other pki").service_account_key_pem;
    let forger =
        ServiceAccountTokens::new(&other_key, DEFAULT_ISSUER, vec![], Arc::new(cluster.store.clone())).expect("forger");
    let (forged, _) = forger.sign(&grant, now).expect("forge");
    let mut tampered = good.clone();
    tampered.insert(good.len() / 2, 'A');
    for (what, token) in
        [("expired", &expired), ("wrong audience", &elsewhere), ("forged", &forged), ("tampered", &tampered)]
    {
        let (code, answer) = cluster.call(&Who::Token(token.clone()), "POST", review, Some(&whoami), &[]).await;
        assert_eq!(code, 401, "{what}: {answer}");
        assert_eq!(answer["reason"], "Unauthorized", "{what}");
    }

    // TokenReview (as admin): the good token, and one for another audience
    // reviewed for that audience.
    let token_review = |token: &str, audiences: Value| json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token, "audiences": audiences}});
    let reviews = "/apis/authentication.k8s.io/v1/tokenreviews";
    let answer = cluster.admin("POST", reviews, token_review(&good, json!([]))).await;
    assert_eq!(answer["status"]["authenticated"], true, "{answer}");
    assert_eq!(answer["status"]["user"]["username"], "system:serviceaccount:team:robot");
    assert_eq!(answer["status"]["audiences"], json!([DEFAULT_ISSUER]));
    let answer = cluster.admin("POST", reviews, token_review(&elsewhere, json!(["https://vault.example"]))).await;
    assert_eq!(answer["status"]["authenticated"], true, "{answer}");
    assert_eq!(answer["status"]["audiences"], json!(["https://vault.example"]));
    for bad in [&expired, &forged] {
        let answer = cluster.admin("POST", reviews, token_review(bad, json!([]))).await;
        assert_eq!(answer["status"]["authenticated"], false, "{answer}");
        assert!(answer["status"]["error"].as_str().is_some_and(|e| !e.is_empty()), "{answer}");
    }
    let answer = cluster.admin("POST", reviews, token_review("bob-token", json!([]))).await;
    assert_eq!(answer["status"]["user"]["username"], "bob", "static tokens review too");
    let (code, _) = cluster
        .call(&Who::Token("carol-token".into()), "POST", reviews, Some(&token_review(&good, json!([]))), &[])
        .await;
    assert_eq!(code, 403, "creating TokenReviews is for auth delegators");

    // A token bound to a pod dies with the pod; any token dies with its account.
    // Bound to a pod that runs as the account (a pod running as another is refused).
    let runs_as_robot = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "robot-pod"},
        "spec": {"serviceAccountName": "robot", "containers": [{"name": "c", "image": "busybox"}]}});
    cluster.admin("POST", "/api/v1/namespaces/team/pods", runs_as_robot).await;
    let elsewhere = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                           "spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web"}}});
    let (code, answer) = cluster
        .call(&cluster.admin, "POST", "/api/v1/namespaces/team/serviceaccounts/robot/token", Some(&elsewhere), &[])
        .await;
    assert_eq!(code, 400, "{answer}");
    let request = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                         "spec": {"expirationSeconds": 600, "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "robot-pod"}}});
    let bound = cluster.admin("POST", "/api/v1/namespaces/team/serviceaccounts/robot/token", request).await;
    let bound = Who::Token(bound["status"]["token"].as_str().expect("token").to_owned());
    let (code, me) = cluster.call(&bound, "POST", review, Some(&whoami), &[]).await;
    assert_eq!(code, 201);
    assert_eq!(me["status"]["userInfo"]["extra"]["authentication.kubernetes.io/pod-name"], json!(["robot-pod"]));
    cluster.admin("DELETE", "/api/v1/namespaces/team/pods/robot-pod?gracePeriodSeconds=0", json!({})).await;
    assert_eq!(cluster.call(&bound, "POST", review, Some(&whoami), &[]).await.0, 401, "its pod is gone");
    let short =
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 60}});
    let (code, answer) = cluster
        .call(&cluster.admin, "POST", "/api/v1/namespaces/team/serviceaccounts/robot/token", Some(&short), &[])
        .await;
    assert_eq!(code, 422, "{answer}");
    assert!(answer["message"].as_str().unwrap_or_default().contains("less than 10 minutes"), "{answer}");
    cluster.admin("DELETE", "/api/v1/namespaces/team/serviceaccounts/robot", json!({})).await;
    assert_eq!(cluster.call(&Who::Token(good), "POST", review, Some(&whoami), &[]).await.0, 401, "its account is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_reviews_impersonation_and_anonymous() {
    let cluster = Cluster::start("reviews", true).await;
    let _ = fixtures(&cluster).await;
    let jane = cluster.cert("jane", Some("dev"));
    settle(&cluster, &jane, "/api/v1/namespaces/team/pods").await;
    let ssar = |verb: &str, resource: &str, namespace: &str| {
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
               "spec": {"resourceAttributes": {"verb": verb, "resource": resource, "namespace": namespace}}})
    };
    let path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    for (verb, resource, namespace, allowed) in
        [("list", "pods", "team", true), ("create", "pods", "team", false), ("list", "pods", "default", false)]
    {
        let (code, answer) = cluster.call(&jane, "POST", path, Some(&ssar(verb, resource, namespace)), &[]).await;
        assert_eq!(code, 201, "{answer}");
        assert_eq!(answer["status"]["allowed"], allowed, "jane {verb} {resource} in {namespace}: {answer}");
    }
    // SubjectAccessReview: admin asks about bob (a group's grant counts
    // only when the groups are given).
    let sar = |groups: Value| {
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
               "spec": {"user": "bob", "groups": groups, "resourceAttributes": {"verb": "list", "resource": "nodes"}}})
    };
    let answer = cluster.admin("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar(json!(["ops"]))).await;
    assert_eq!(answer["status"]["allowed"], true, "{answer}");
    assert!(answer["status"]["reason"].as_str().unwrap_or_default().contains("ClusterRoleBinding \"ops\""), "{answer}");
    let answer = cluster.admin("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar(json!([]))).await;
    assert_eq!(answer["status"]["allowed"], false, "{answer}");
    let (code, _) = cluster
        .call(&jane, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", Some(&sar(json!(["ops"]))), &[])
        .await;
    assert_eq!(code, 403, "asking about others is not for everyone");
    // SelfSubjectRulesReview lists what view grants.
    let rules = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": {"namespace": "team"}});
    let (code, answer) =
        cluster.call(&jane, "POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", Some(&rules), &[]).await;
    assert_eq!(code, 201, "{answer}");
    let granted = answer["status"]["resourceRules"].as_array().expect("rules").clone();
    assert!(granted.iter().any(|r| r["resources"].as_array().is_some_and(|l| l.contains(&json!("pods")))), "{answer}");

    // Impersonation: admin acts as jane and gets jane's refusal; jane may
    // not impersonate.
    let as_jane = [("Impersonate-User", "jane"), ("Impersonate-Group", "dev")];
    let (code, answer) = cluster.call(&cluster.admin, "GET", "/api/v1/namespaces/default/pods", None, &as_jane).await;
    assert_eq!(code, 403, "{answer}");
    assert!(answer["message"].as_str().unwrap_or_default().contains(r#"User "jane" cannot list"#), "{answer}");
    assert_eq!(cluster.call(&cluster.admin, "GET", "/api/v1/namespaces/team/pods", None, &as_jane).await.0, 200);
    let (code, answer) =
        cluster.call(&jane, "GET", "/api/v1/namespaces/team/pods", None, &[("Impersonate-User", "admin")]).await;
    assert_eq!(code, 403);
    assert_eq!(
        answer["message"],
        r#"users "admin" is forbidden: User "jane" cannot impersonate resource "users" in API group "" at the cluster scope"#
    );

    // Anonymous is on here: health and version only.
    assert_eq!(cluster.call(&Who::Nobody, "GET", "/healthz", None, &[]).await.0, 200);
    assert_eq!(cluster.call(&Who::Nobody, "GET", "/version", None, &[]).await.0, 200);
    let (code, answer) = cluster.call(&Who::Nobody, "GET", "/api/v1/namespaces/team/pods", None, &[]).await;
    assert_eq!(code, 403);
    assert_eq!(
        answer["message"],
        r#"pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" in the namespace "team""#
    );
    assert_eq!(
        cluster.call(&Who::Nobody, "GET", "/apis", None, &[]).await.0,
        403,
        "discovery is for the authenticated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_grants_what_they_do_not_hold() {
    let cluster = Cluster::start("escalation", false).await;
    let _ = fixtures(&cluster).await;
    let rbac = "/apis/rbac.authorization.k8s.io/v1";
    let binding = |name: &str, kind: &str, role: &str, user: &str| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": name},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
               "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user}]})
    };
    let role = |name: &str, rules: Value| json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": name}, "rules": rules});
    // lead may write roles and bindings in team, and views it.
    cluster
        .admin("POST", &format!("{rbac}/namespaces/team/roles"), role("rbac-writer", json!([
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"], "verbs": ["create", "update", "get"]}])))
        .await;
    cluster
        .admin(
            "POST",
            &format!("{rbac}/namespaces/team/rolebindings"),
            binding("lead-writer", "Role", "rbac-writer", "lead"),
        )
        .await;
    cluster
        .admin(
            "POST",
            &format!("{rbac}/namespaces/team/rolebindings"),
            binding("lead-view", "ClusterRole", "view", "lead"),
        )
        .await;
    let lead = cluster.cert("lead", None);
    settle(&cluster, &lead, &format!("{rbac}/namespaces/team/roles/rbac-writer")).await;
    settle(&cluster, &lead, "/api/v1/namespaces/team/pods").await;
    let roles = format!("{rbac}/namespaces/team/roles");
    let bindings = format!("{rbac}/namespaces/team/rolebindings");

    // A role within what lead holds; one beyond it.
    let held =
        role("pod-reader", json!([{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]}]));
    assert_eq!(cluster.call(&lead, "POST", &roles, Some(&held), &[]).await.0, 201);
    let beyond = role("secret-reader", json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]));
    let (code, answer) = cluster.call(&lead, "POST", &roles, Some(&beyond), &[]).await;
    assert_eq!(code, 403, "{answer}");
    assert_eq!(
        answer["message"],
        "roles.rbac.authorization.k8s.io \"secret-reader\" is forbidden: user \"lead\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\"]}"
    );
    let wildcard = role("pod-admin", json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}]));
    assert_eq!(cluster.call(&lead, "POST", &roles, Some(&wildcard), &[]).await.0, 403, "* is held only through *");

    // Binding: view (held) yes, edit (not held) no — until lead may bind it.
    assert_eq!(
        cluster
            .call(&lead, "POST", &bindings, Some(&binding("jane-view2", "ClusterRole", "view", "jane")), &[])
            .await
            .0,
        201
    );
    let edit = binding("jane-edit", "ClusterRole", "edit", "jane");
    let (code, answer) = cluster.call(&lead, "POST", &bindings, Some(&edit), &[]).await;
    assert_eq!(code, 403, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap_or_default()
            .contains("is attempting to grant RBAC permissions not currently held")
    );
    cluster
        .admin("POST", &format!("{rbac}/clusterroles"), json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "bind-edit"},
            "rules": [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "resourceNames": ["edit"], "verbs": ["bind"]}]}))
        .await;
    cluster.admin("POST", &bindings, binding("lead-bind-edit", "ClusterRole", "bind-edit", "lead")).await;
    let mut code = 0;
    for _ in 0..100 {
        code = cluster.call(&lead, "POST", &bindings, Some(&edit), &[]).await.0;
        if code == 201 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(code, 201, "the bind verb allows binding edit");
    // Updating a held role to grant more is refused too.
    let mut grown = held.clone();
    grown["rules"][0]["resources"] = json!(["pods", "secrets"]);
    let (code, _) = cluster.call(&lead, "PUT", &format!("{roles}/pod-reader"), Some(&grown), &[]).await;
    assert_eq!(code, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_apply_create_aggregation_and_masters() {
    let cluster = Cluster::start("scope", false).await;
    let _ = fixtures(&cluster).await;
    let jane = cluster.cert("jane", Some("dev"));
    settle(&cluster, &jane, "/api/v1/namespaces/team/pods").await;
    let rbac = "/apis/rbac.authorization.k8s.io/v1";
    // Cluster-scoped kinds have no path under a namespace: 404, whoever asks.
    // (Authorization comes first, as in kube-apiserver: jane, who may read
    // namespaces in team, gets the 404; a kind she may not read is a 403.)
    for path in [
        "/api/v1/namespaces/team/namespaces",
        "/api/v1/namespaces/team/nodes",
        "/api/v1/namespaces/team/namespaces/default",
    ] {
        assert_eq!(cluster.call(&cluster.admin, "GET", path, None, &[]).await.0, 404, "{path}");
    }
    assert_eq!(cluster.call(&jane, "GET", "/api/v1/namespaces/team/namespaces", None, &[]).await.0, 404);
    assert_eq!(cluster.call(&jane, "GET", "/api/v1/namespaces/team/nodes", None, &[]).await.0, 403);
    let hook = json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration", "metadata": {"name": "x"}});
    let (code, _) = cluster
        .call(
            &cluster.admin,
            "POST",
            "/apis/admissionregistration.k8s.io/v1/namespaces/team/validatingwebhookconfigurations",
            Some(&hook),
            &[],
        )
        .await;
    assert_eq!(code, 404);
    assert_eq!(cluster.call(&jane, "GET", "/api/v1/namespaces/team", None, &[]).await.0, 200, "a namespace itself");

    // Server-side apply that would create needs create, not only patch.
    let patcher = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "patcher"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["patch", "get"]}]});
    cluster.admin("POST", &format!("{rbac}/namespaces/team/roles"), patcher).await;
    cluster
        .admin("POST", &format!("{rbac}/namespaces/team/rolebindings"), json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "carol-patcher"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "patcher"},
            "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "carol"}]}))
        .await;
    let carol = Who::Token("carol-token".into());
    settle(&cluster, &carol, "/api/v1/namespaces/team/configmaps/other").await;
    let apply = [("Content-Type", "application/apply-patch+yaml")];
    let body =
        |name: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "b"}});
    let path = |name: &str| format!("/api/v1/namespaces/team/configmaps/{name}?fieldManager=carol");
    let (code, answer) = cluster.call(&carol, "PATCH", &path("brand-new"), Some(&body("brand-new")), &apply).await;
    assert_eq!(code, 403, "{answer}");
    assert!(
        answer["message"].as_str().unwrap_or_default().contains(r#"cannot create resource "configmaps""#),
        "{answer}"
    );
    let (code, answer) = cluster.call(&carol, "PATCH", &path("other"), Some(&body("other")), &apply).await;
    assert_eq!(code, 200, "applying to an existing object needs patch only: {answer}");

    // An aggregated ClusterRole takes in rules its writer never names.
    cluster
        .admin("POST", &format!("{rbac}/clusterroles"), json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "role-writer"},
            "rules": [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["create"]}]}))
        .await;
    cluster
        .admin("POST", &format!("{rbac}/clusterrolebindings"), json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "jane-role-writer"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "role-writer"},
            "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane"}]}))
        .await;
    let sneaky = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "sneaky"},
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"kubernetes.io/bootstrapping": "rbac-defaults"}}]}});
    let mut code = 0;
    let mut answer = Value::Null;
    for _ in 0..100 {
        (code, answer) = cluster.call(&jane, "POST", &format!("{rbac}/clusterroles"), Some(&sneaky), &[]).await;
        if code != 403 || answer["message"].as_str().unwrap_or_default().contains("aggregated") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(code, 403, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap_or_default()
            .contains("must have cluster-admin privileges to write an aggregated ClusterRole"),
        "{answer}"
    );

    // system:masters keeps access even without the cluster-admin binding.
    cluster.admin("DELETE", &format!("{rbac}/clusterrolebindings/cluster-admin"), json!({})).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(cluster.call(&cluster.admin, "GET", "/api/v1/pods", None, &[]).await.0, 200);
}
