//! End-to-end: the real kubectl 1.32 against the server (memory store),
//! asserting on kubectl's own output. Fails with a clear message when
//! kubectl is not installed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use k_apiserver::{ApiServer, ServerConfig};
use k_store::Store;
use serde_json::Value;

struct Cluster {
    dir: PathBuf,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Cluster {
    async fn start() -> Self {
        let kubectl = which("kubectl");
        assert!(kubectl.is_some(), "kubectl is not installed: these tests drive the real kubectl 1.32");
        let store = Store::in_memory();
        k_apiserver::allocator::ServiceAllocator::install(&store, Default::default()).await.expect("allocator");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = ApiServer::new(
            Arc::new(store),
            ServerConfig { external_address: addr.to_string(), ..ServerConfig::default() },
        );
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            server
                .serve(listener, async {
                    let _ = rx.await;
                })
                .await
        });
        let dir = std::env::temp_dir().join(format!("k-kubectl-{}-{}", std::process::id(), addr.port()));
        std::fs::create_dir_all(dir.join("cache")).expect("temp dir");
        let config = serde_json::json!({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "k", "cluster": {"server": format!("http://{addr}")}}],
            "users": [{"name": "admin", "user": {}}],
            "contexts": [{"name": "k", "context": {"cluster": "k", "user": "admin", "namespace": "default"}}],
            "current-context": "k",
        });
        std::fs::write(dir.join("kubeconfig"), config.to_string()).expect("kubeconfig");
        let cluster = Cluster { dir, _shutdown: tx };
        for ns in ["default", "kube-system"] {
            cluster.ok(&["create", "namespace", ns]).await;
        }
        cluster
    }

    /// Runs kubectl (fresh cache dir per cluster); returns (success, stdout, stderr).
    async fn run(&self, args: &[&str]) -> (bool, String, String) {
        let dir = self.dir.clone();
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        tokio::task::spawn_blocking(move || {
            let out = Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(dir.join("kubeconfig"))
                .arg("--cache-dir")
                .arg(dir.join("cache"))
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

    async fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args).await;
        assert!(ok, "kubectl {args:?} failed:\nstdout: {out}\nstderr: {err}");
        out
    }

    async fn fails(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args).await;
        assert!(!ok, "kubectl {args:?} should have failed:\nstdout: {out}");
        err
    }

    async fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&all).await).expect("kubectl -o json output")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn which(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(bin)).find(|p| p.is_file())
}

fn manifests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/manifests")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_commands() {
    let c = Cluster::start().await;
    let resources = c.ok(&["api-resources"]).await;
    for line in ["pods ", "deployments ", "customresourcedefinitions "] {
        assert!(resources.lines().any(|l| l.starts_with(line)), "api-resources lacks {line:?}:\n{resources}");
    }
    let deploy = resources.lines().find(|l| l.starts_with("deployments ")).unwrap();
    assert!(
        deploy.contains("deploy")
            && deploy.contains("apps/v1")
            && deploy.contains("true")
            && deploy.contains("Deployment")
    );
    let versions = c.ok(&["api-versions"]).await;
    for v in ["v1", "apps/v1", "batch/v1", "rbac.authorization.k8s.io/v1"] {
        assert!(versions.lines().any(|l| l == v), "api-versions lacks {v}:\n{versions}");
    }
    let namespaced = c.ok(&["api-resources", "--namespaced=false", "-o", "name"]).await;
    assert!(namespaced.lines().any(|l| l == "nodes") && !namespaced.lines().any(|l| l == "pods"));
    let version = c.ok(&["version", "-o", "json"]).await;
    let version: Value = serde_json::from_str(&version).unwrap();
    assert_eq!(version["serverVersion"]["minor"], "32");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_get_label_patch_delete() {
    let c = Cluster::start().await;
    let dir = manifests();
    let out = c.ok(&["create", "-f", dir.join("00-namespaces.yaml").to_str().unwrap()]).await;
    assert!(out.contains("namespace/shop created"), "{out}");
    let out = c.ok(&["create", "-f", dir.join("04-deployment.yaml").to_str().unwrap()]).await;
    assert!(out.contains("deployment.apps/"), "{out}");

    // Everything in the manifest comes back.
    let manifest = std::fs::read_to_string(dir.join("04-deployment.yaml")).unwrap();
    let doc = k_api_types::manifest::parse_documents(&manifest).unwrap().remove(0).value;
    let name = doc["metadata"]["name"].as_str().unwrap();
    let ns = doc["metadata"]["namespace"].as_str().unwrap_or("default");
    let got = c.json(&["get", "deployment", name, "-n", ns]).await;
    assert_eq!(
        got["spec"]["template"]["spec"]["containers"][0]["image"],
        doc["spec"]["template"]["spec"]["containers"][0]["image"]
    );
    assert_eq!(got["metadata"]["labels"], doc["metadata"]["labels"]);
    assert!(got["metadata"]["uid"].as_str().is_some_and(|u| !u.is_empty()));
    assert_eq!(got["metadata"]["generation"], 1);

    // kubectl's usual columns, from the server's Table.
    let table = c.ok(&["get", "deployments", "-n", ns]).await;
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], "{table}");
    assert!(table.lines().nth(1).unwrap().starts_with(name), "{table}");
    let wide = c.ok(&["get", "deployments", "-n", ns, "-o", "wide"]).await;
    let wide_header: Vec<&str> = wide.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(wide_header[5..], ["CONTAINERS", "IMAGES", "SELECTOR"], "{wide}");
    let all = c.ok(&["get", "deployments", "-A"]).await;
    assert!(all.lines().next().unwrap().starts_with("NAMESPACE"), "{all}");
    assert!(all.lines().nth(1).unwrap().starts_with(ns), "{all}");

    // -o name, -l, -A, --field-selector.
    let names = c.ok(&["get", "deployments", "-A", "-o", "name"]).await;
    assert_eq!(names.trim(), format!("deployment.apps/{name}"));
    let label = doc["metadata"]["labels"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
        .unwrap();
    assert!(c.ok(&["get", "deploy", "-n", ns, "-l", &label, "-o", "name"]).await.contains(name));
    assert_eq!(c.ok(&["get", "deploy", "-n", ns, "-l", "no-such=label", "-o", "name"]).await.trim(), "");
    let by_field =
        c.ok(&["get", "deploy", "-n", ns, "--field-selector", &format!("metadata.name={name}"), "-o", "name"]).await;
    assert!(by_field.contains(name));
    let err = c.fails(&["get", "deploy", "-n", ns, "--field-selector", "spec.nope=1"]).await;
    assert!(err.contains("field label not supported"), "{err}");

    // label, annotate (merge patches), patch (json and merge), scale.
    c.ok(&["label", "deploy", name, "-n", ns, "tier=web"]).await;
    c.ok(&["annotate", "deploy", name, "-n", ns, "note=hello"]).await;
    c.ok(&["patch", "deploy", name, "-n", ns, "--type=merge", "-p", r#"{"spec":{"minReadySeconds":7}}"#]).await;
    c.ok(&[
        "patch",
        "deploy",
        name,
        "-n",
        ns,
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/revisionHistoryLimit","value":3}]"#,
    ])
    .await;
    c.ok(&["scale", "deploy", name, "-n", ns, "--replicas=5"]).await;
    let got = c.json(&["get", "deployment", name, "-n", ns]).await;
    assert_eq!(got["metadata"]["labels"]["tier"], "web");
    assert_eq!(got["metadata"]["annotations"]["note"], "hello");
    assert_eq!(got["spec"]["minReadySeconds"], 7);
    assert_eq!(got["spec"]["revisionHistoryLimit"], 3);
    assert_eq!(got["spec"]["replicas"], 5);
    assert_eq!(got["metadata"]["generation"], 4, "label/annotate do not bump generation; three spec changes do");

    // get -o yaml round trip through kubectl.
    let yaml = c.ok(&["get", "deploy", name, "-n", ns, "-o", "yaml"]).await;
    assert!(yaml.contains(&format!("name: {name}")) && yaml.contains("replicas: 5"));

    // describe reads the object (and its events) through typed clients.
    let described = c.ok(&["describe", "deployment", name, "-n", ns]).await;
    assert!(described.lines().any(|l| l.starts_with("Name:") && l.ends_with(name)), "{described}");
    assert!(described.contains("5 desired"), "{described}");
    assert!(described.contains("tier=web"), "{described}");

    // Server-side dry runs change nothing.
    let out = c.ok(&["delete", "deploy", name, "-n", ns, "--dry-run=server"]).await;
    assert!(out.contains("deleted (server dry run)"), "{out}");
    c.ok(&["get", "deploy", name, "-n", ns]).await;
    let dry = c.json(&["create", "configmap", "dry", "--from-literal=a=b", "--dry-run=server"]).await;
    assert!(dry["metadata"]["uid"].as_str().is_some_and(|u| !u.is_empty()), "checked like a real create: {dry}");
    let err = c.fails(&["get", "configmap", "dry"]).await;
    assert!(err.contains("not found"), "{err}");
    c.ok(&["scale", "deploy", name, "-n", ns, "--replicas=9", "--dry-run=server"]).await;
    assert_eq!(c.json(&["get", "deployment", name, "-n", ns]).await["spec"]["replicas"], 5);

    // delete.
    let out = c.ok(&["delete", "deploy", name, "-n", ns]).await;
    assert!(out.contains(&format!("deployment.apps \"{name}\" deleted")), "{out}");
    let err = c.fails(&["get", "deploy", name, "-n", ns]).await;
    assert!(err.contains("NotFound") && err.contains(&format!("deployments.apps \"{name}\" not found")), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resources_are_served_without_restart() {
    let c = Cluster::start().await;
    let dir = manifests();
    c.ok(&["create", "-f", dir.join("00-namespaces.yaml").to_str().unwrap()]).await;
    let out = c.ok(&["create", "-f", dir.join("16-crd.yaml").to_str().unwrap()]).await;
    assert!(out.contains("customresourcedefinition.apiextensions.k8s.io/caches.example.org created"), "{out}");
    let resources = c.ok(&["api-resources", "--api-group=example.org", "-o", "name"]).await;
    assert_eq!(resources.trim(), "caches.example.org");
    let crd = c.json(&["get", "crd", "caches.example.org"]).await;
    let conditions = crd["status"]["conditions"].as_array().expect("CRD status conditions");
    assert!(conditions.iter().any(|c| c["type"] == "Established" && c["status"] == "True"));
    let all = c.json(&["get", "caches", "-A"]).await;
    assert!(!all["items"].as_array().unwrap().is_empty(), "the manifest's Cache was created: {all}");
    // The CRD's schema: defaults, pruning, validation.
    let minimal = r#"{"apiVersion":"example.org/v1alpha1","kind":"Cache","metadata":{"name":"minimal","namespace":"shop"},"spec":{"engine":"memcached"}}"#;
    let file = c.dir.join("minimal-cache.json");
    std::fs::write(&file, minimal).unwrap();
    c.ok(&["create", "-f", file.to_str().unwrap()]).await;
    let minimal = c.json(&["get", "cache", "minimal", "-n", "shop"]).await;
    assert_eq!(minimal["spec"]["replicas"], 1, "defaulted from the schema: {minimal}");
    let bad = r#"{"apiVersion":"example.org/v1alpha1","kind":"Cache","metadata":{"name":"bad","namespace":"shop"},"spec":{"engine":"redis","replicas":"two"}}"#;
    let file = c.dir.join("bad-cache.json");
    std::fs::write(&file, bad).unwrap();
    let err = c.fails(&["create", "-f", file.to_str().unwrap()]).await;
    assert!(err.contains("is invalid"), "{err}");
    assert!(err.contains(r#"spec.engine: Unsupported value: "redis""#), "{err}");
    assert!(err.contains("spec.replicas in body must be of type integer"), "{err}");
    // Unknown fields: kubectl asks for strict validation; without it they
    // are pruned (with a warning).
    let unknown = r#"{"apiVersion":"example.org/v1alpha1","kind":"Cache","metadata":{"name":"odd","namespace":"shop"},"spec":{"engine":"valkey","colour":"blue"}}"#;
    let file = c.dir.join("odd-cache.json");
    std::fs::write(&file, unknown).unwrap();
    let err = c.fails(&["create", "-f", file.to_str().unwrap()]).await;
    assert!(err.contains(r#"strict decoding error: unknown field "spec.colour""#), "{err}");
    let (ok, _, warnings) = c.run(&["create", "-f", file.to_str().unwrap(), "--validate=warn"]).await;
    assert!(ok && warnings.contains(r#"unknown field "spec.colour""#), "{warnings}");
    let odd = c.json(&["get", "cache", "odd", "-n", "shop"]).await;
    assert!(odd["spec"].get("colour").is_none(), "pruned: {odd}");
    // Server-side apply and scale of a custom resource.
    c.ok(&["apply", "--server-side", "-f", file.to_str().unwrap(), "--validate=false"]).await;
    let applied = c.json(&["get", "cache", "odd", "-n", "shop", "--show-managed-fields"]).await;
    let managers: Vec<&str> = applied["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["manager"].as_str().unwrap())
        .collect();
    assert!(managers.contains(&"kubectl"), "{managers:?}");
    c.ok(&["scale", "cache", "odd", "-n", "shop", "--replicas=4"]).await;
    assert_eq!(c.json(&["get", "cache", "odd", "-n", "shop"]).await["spec"]["replicas"], 4);
    c.ok(&["delete", "cache", "minimal", "odd", "-n", "shop"]).await;
    let table = c.ok(&["get", "caches", "-A"]).await;
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAMESPACE", "NAME", "ENGINE", "REPLICAS"], "printer columns of the CRD: {table}");
    c.ok(&["delete", "crd", "caches.example.org"]).await;
    let resources = c.ok(&["api-resources", "--api-group=example.org", "-o", "name"]).await;
    assert_eq!(resources.trim(), "");
    let err = c.fails(&["get", "caches", "-A"]).await;
    assert!(err.contains("the server doesn't have a resource type \"caches\""), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_with_timeout_sees_changes() {
    let c = Cluster::start().await;
    let watcher = {
        let dir = c.dir.clone();
        tokio::task::spawn_blocking(move || {
            Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(dir.join("kubeconfig"))
                .arg("--cache-dir")
                .arg(dir.join("cache-watch"))
                .args(["get", "configmaps", "--watch", "--request-timeout=4s", "-o", "name"])
                .output()
                .expect("kubectl watch")
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let cm = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"watched"},"data":{"k":"v"}}"#;
    let file = c.dir.join("cm.json");
    std::fs::write(&file, cm).unwrap();
    c.ok(&["create", "-f", file.to_str().unwrap()]).await;
    let out = watcher.await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.lines().any(|l| l == "configmap/watched"),
        "watch output: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_get_cluster_ips_and_node_ports() {
    let c = Cluster::start().await;
    let dir = manifests();
    c.ok(&["create", "-f", dir.join("00-namespaces.yaml").to_str().unwrap()]).await;
    c.ok(&["create", "-f", dir.join("08-services.yaml").to_str().unwrap()]).await;
    let catalog = c.json(&["get", "service", "catalog", "-n", "shop"]).await;
    let ip = catalog["spec"]["clusterIP"].as_str().unwrap();
    assert!(
        ip.starts_with("10.9") || ip.starts_with("10.10") || ip.starts_with("10.11"),
        "clusterIP {ip} in 10.96.0.0/12"
    );
    assert_eq!(catalog["spec"]["ports"][0]["nodePort"], 30551, "the requested node port is kept");
    let lb = c.json(&["get", "service", "storefront-public", "-n", "shop"]).await;
    let np = lb["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
    assert!((30000..=32767).contains(&np), "a LoadBalancer gets a node port: {np}");
    let ext = c.json(&["get", "service", "payments-gateway", "-n", "shop"]).await;
    assert!(ext["spec"].get("clusterIP").is_none(), "ExternalName gets no cluster IP: {ext}");
    let table = c.ok(&["get", "services", "-n", "shop"]).await;
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], "{table}");
    assert!(table.lines().any(|l| l.starts_with("catalog ") && l.contains(ip)), "{table}");
    // Outside the range: 422 with kube-apiserver's message.
    let bad = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"bad","namespace":"shop"},"spec":{"clusterIP":"192.168.0.9","ports":[{"port":80}]}}"#;
    let file = c.dir.join("bad-service.json");
    std::fs::write(&file, bad).unwrap();
    let err = c.fails(&["create", "-f", file.to_str().unwrap()]).await;
    assert!(err.contains("Invalid") && err.contains("is not in the valid range"), "{err}");
    // The same node port twice: 422.
    let dup = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"dup","namespace":"shop"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":30551}]}}"#;
    std::fs::write(&file, dup).unwrap();
    let err = c.fails(&["create", "-f", file.to_str().unwrap()]).await;
    assert!(err.contains("provided port is already allocated"), "{err}");
    // Deleting releases the port.
    c.ok(&["delete", "service", "catalog", "-n", "shop"]).await;
    c.ok(&["create", "-f", file.to_str().unwrap()]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_create_commands_and_client_side_apply() {
    let c = Cluster::start().await;
    // These send protobuf bodies.
    assert_eq!(c.ok(&["create", "namespace", "demo"]).await.trim(), "namespace/demo created");
    c.ok(&["create", "configmap", "cfg", "-n", "demo", "--from-literal=a=b"]).await;
    c.ok(&["create", "secret", "generic", "s", "-n", "demo", "--from-literal=p=q"]).await;
    c.ok(&["create", "deployment", "web", "-n", "demo", "--image=nginx:1.27", "--replicas=2", "--port=80"]).await;
    let cm = c.json(&["get", "configmap", "cfg", "-n", "demo"]).await;
    assert_eq!(cm["data"]["a"], "b");
    let secret = c.json(&["get", "secret", "s", "-n", "demo"]).await;
    assert_eq!(secret["data"]["p"], "cQ==");
    let web = c.json(&["get", "deployment", "web", "-n", "demo"]).await;
    assert_eq!(web["spec"]["replicas"], 2);
    assert_eq!(web["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"], 80);

    // Client-side apply: create, unchanged, a changed field, a removed field.
    let dir = manifests();
    c.ok(&["apply", "-f", dir.join("00-namespaces.yaml").to_str().unwrap()]).await;
    let path = dir.join("04-deployment.yaml");
    let out = c.ok(&["apply", "-f", path.to_str().unwrap()]).await;
    assert!(out.contains("created"), "{out}");
    let out = c.ok(&["apply", "-f", path.to_str().unwrap()]).await;
    assert!(out.contains("unchanged"), "{out}");
    let manifest = std::fs::read_to_string(&path).unwrap();
    let mut doc = k_api_types::manifest::parse_documents(&manifest).unwrap().remove(0).value;
    let name = doc["metadata"]["name"].as_str().unwrap().to_owned();
    doc["spec"]["replicas"] = serde_json::json!(7);
    let labels = doc["metadata"]["labels"].as_object_mut().unwrap();
    let removed = labels.keys().next().unwrap().clone();
    labels.remove(&removed);
    let changed = c.dir.join("changed.json");
    std::fs::write(&changed, doc.to_string()).unwrap();
    let out = c.ok(&["apply", "-f", changed.to_str().unwrap()]).await;
    assert!(out.contains("configured"), "{out}");
    let got = c.json(&["get", "deployment", &name, "-n", "shop"]).await;
    assert_eq!(got["spec"]["replicas"], 7);
    assert!(
        got["metadata"]["labels"].get(&removed).is_none(),
        "label {removed} was removed by apply: {}",
        got["metadata"]
    );
    let remaining = got["metadata"]["labels"].as_object().map_or(0, |m| m.len());
    assert_eq!(remaining, doc["metadata"]["labels"].as_object().unwrap().len());
    // kubectl patch with its default (strategic) type merges containers by name.
    let container = doc["spec"]["template"]["spec"]["containers"][0]["name"].as_str().unwrap().to_owned();
    let patch = format!(
        r#"{{"spec":{{"template":{{"spec":{{"containers":[{{"name":"{container}","image":"example/patched:1"}}]}}}}}}}}"#
    );
    c.ok(&["patch", "deployment", &name, "-n", "shop", "-p", &patch]).await;
    let got = c.json(&["get", "deployment", &name, "-n", "shop"]).await;
    let containers = got["spec"]["template"]["spec"]["containers"].as_array().unwrap();
    assert_eq!(containers.len(), doc["spec"]["template"]["spec"]["containers"].as_array().unwrap().len());
    assert_eq!(containers[0]["image"], "example/patched:1");
    let port = &doc["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"];
    assert_eq!(&containers[0]["ports"][0]["containerPort"], port, "other fields kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_explain_and_server_side_field_validation() {
    let c = Cluster::start().await;
    let explain = c.ok(&["explain", "pods.spec.containers"]).await;
    assert!(explain.contains("KIND:") && explain.contains("Pod"), "{explain}");
    assert!(explain.contains("FIELD: containers <[]Container>"), "{explain}");
    assert!(explain.lines().any(|l| l.trim_start().starts_with("image\t<string>")), "{explain}");
    let explain = c.ok(&["explain", "deployments.spec.replicas"]).await;
    assert!(explain.contains("GROUP:") && explain.contains("apps") && explain.contains("<integer>"), "{explain}");
    // kubectl sees fieldValidation in the OpenAPI documents and asks the server to be strict.
    let bad = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"typo"},"dta":{"a":"b"}}"#;
    let file = c.dir.join("typo.json");
    std::fs::write(&file, bad).unwrap();
    let err = c.fails(&["create", "-f", file.to_str().unwrap()]).await;
    assert!(err.contains(r#"strict decoding error: unknown field "dta""#), "{err}");
    let out = c.ok(&["create", "--validate=warn", "-f", file.to_str().unwrap()]).await;
    assert!(out.contains("configmap/typo created"), "{out}");
    // Custom resources appear in the documents once their CRD exists.
    let dir = manifests();
    c.ok(&["create", "-f", dir.join("00-namespaces.yaml").to_str().unwrap()]).await;
    c.ok(&["create", "-f", dir.join("16-crd.yaml").to_str().unwrap()]).await;
    let explain = c.ok(&["explain", "caches.spec"]).await;
    assert!(explain.contains("engine"), "{explain}");
}

/// The documents of a manifest file, as YAML text.
fn documents(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).expect("manifest");
    let mut docs = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else {
            let doc = docs.last_mut().unwrap();
            doc.push_str(line);
            doc.push('\n');
        }
    }
    docs.retain(|d| d.lines().any(|l| l.starts_with("kind:")));
    docs
}

/// The manifests as files of storable objects, in dependency order: the
/// CRD of `16-crd.yaml` gets a file of its own before its custom resource,
/// and `18-more-kinds.yaml` keeps its stored kinds (its request kinds —
/// Binding, Eviction, the reviews, TokenRequest — are answers, not objects:
/// they have their own tests).
fn manifest_files(dir: &Path) -> Vec<PathBuf> {
    let request_kinds = [
        "Binding",
        "Eviction",
        "TokenReview",
        "SubjectAccessReview",
        "SelfSubjectAccessReview",
        "LocalSubjectAccessReview",
        "SelfSubjectRulesReview",
        "SelfSubjectReview",
        "TokenRequest",
    ];
    let mut files = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(manifests())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    names.sort();
    for path in names {
        let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let docs = documents(&path);
        let (crds, rest): (Vec<String>, Vec<String>) =
            docs.into_iter().partition(|d| d.contains("kind: CustomResourceDefinition"));
        let rest: Vec<String> = rest
            .into_iter()
            .filter(|d| !d.lines().any(|l| request_kinds.iter().any(|k| l == format!("kind: {k}"))))
            .collect();
        for (suffix, part) in [("crds", crds), ("objects", rest)] {
            if part.is_empty() {
                continue;
            }
            let file = dir.join(format!("{stem}-{suffix}.yaml"));
            std::fs::write(&file, part.join("---\n")).unwrap();
            files.push(file);
        }
    }
    files
}

/// Asserts that objects read before and after an operation are the same,
/// resourceVersions included, naming the fields that differ.
fn assert_unchanged(before: &Value, after: &Value, what: &str) {
    let mut differences = Vec::new();
    missing_fields(before, after, "", &mut differences);
    missing_fields(after, before, "", &mut differences);
    assert!(differences.is_empty(), "applying {what} again changed: {differences:#?}");
}

/// Where `actual` lacks or differs from a field of `expected`, by path.
fn missing_fields(expected: &Value, actual: &Value, path: &str, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                match a.get(k) {
                    Some(got) => missing_fields(v, got, &format!("{path}.{k}"), out),
                    None => out.push(format!("{path}.{k} is missing")),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (v, got)) in e.iter().zip(a).enumerate() {
                missing_fields(v, got, &format!("{path}[{i}]"), out);
            }
        }
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => {}
        _ if expected == actual => {}
        _ => out.push(format!("{path}: expected {expected}, got {actual}")),
    }
}

/// Reads back every object of `file` (`kubectl get -f`) and checks that it
/// keeps every field of the manifest. The exceptions are Kubernetes' own:
/// `status` is not written through the object of kinds with a status
/// subresource, and a Secret's `stringData` is folded into `data`.
async fn assert_read_back(c: &Cluster, file: &Path) {
    let file = file.to_str().unwrap();
    let list = c.json(&["get", "-f", file]).await;
    let items = match list.get("items") {
        Some(Value::Array(items)) => items.clone(),
        _ => vec![list.clone()],
    };
    let docs = k_api_types::manifest::parse_documents(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(items.len(), docs.len(), "kubectl get -f {file} returned {} objects", items.len());
    for (doc, got) in docs.iter().zip(&items) {
        let mut expected = doc.value.clone();
        let kind = expected["kind"].as_str().unwrap().to_owned();
        let map = expected.as_object_mut().unwrap();
        if kind == "Secret"
            && let Some(Value::Object(strings)) = map.remove("stringData")
        {
            for (key, text) in strings {
                let encoded = base64_encode(text.as_str().unwrap().as_bytes());
                assert_eq!(got["data"][&key], encoded, "{kind} stringData.{key} is folded into data");
            }
        }
        if ["Node", "Pod", "Service", "Deployment", "Namespace"].contains(&kind.as_str()) {
            map.remove("status");
        }
        let mut missing = Vec::new();
        missing_fields(&expected, got, "", &mut missing);
        assert!(missing.is_empty(), "{kind} {} read back from {file}: {missing:#?}", doc.value["metadata"]["name"]);
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_manifest_by_create() {
    let c = Cluster::start().await;
    for file in manifest_files(&c.dir) {
        let out = c.ok(&["create", "-f", file.to_str().unwrap()]).await;
        assert!(out.lines().all(|l| l.ends_with(" created")), "{out}");
        assert_read_back(&c, &file).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_manifest_by_client_side_apply_twice() {
    let c = Cluster::start().await;
    for file in manifest_files(&c.dir) {
        let path = file.to_str().unwrap();
        let out = c.ok(&["apply", "-f", path]).await;
        assert!(out.lines().all(|l| l.ends_with(" created")), "{out}");
        let before = c.json(&["get", "-f", path]).await;
        let out = c.ok(&["apply", "-f", path]).await;
        // kubectl says "configured" when its patch is not empty, as it is for
        // lists it replaces whole that the server completed with defaults
        // (a StatefulSet's volumeClaimTemplates); the object stays the same.
        assert!(out.lines().all(|l| l.ends_with(" unchanged") || l.ends_with(" configured")), "{out}");
        let after = c.json(&["get", "-f", path]).await;
        assert_unchanged(&before, &after, path);
        assert_read_back(&c, &file).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_manifest_by_server_side_apply_twice() {
    let c = Cluster::start().await;
    for file in manifest_files(&c.dir) {
        let path = file.to_str().unwrap();
        let out = c.ok(&["apply", "--server-side", "-f", path]).await;
        assert!(out.lines().all(|l| l.ends_with(" serverside-applied")), "{out}");
        let before = c.json(&["get", "-f", path]).await;
        c.ok(&["apply", "--server-side", "-f", path]).await;
        let after = c.json(&["get", "-f", path]).await;
        assert_unchanged(&before, &after, path);
        assert_read_back(&c, &file).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_owns_fields_and_reports_conflicts() {
    let c = Cluster::start().await;
    let dir = manifests();
    c.ok(&["apply", "--server-side", "-f", dir.join("00-namespaces.yaml").to_str().unwrap()]).await;
    let deployment = dir.join("04-deployment.yaml");
    let path = deployment.to_str().unwrap();
    c.ok(&["apply", "--server-side", "-f", path]).await;
    let got = c.json(&["get", "deployment", "catalog", "-n", "shop", "--show-managed-fields"]).await;
    let entries = got["metadata"]["managedFields"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{entries:#?}");
    assert_eq!(entries[0]["manager"], "kubectl");
    assert_eq!(entries[0]["operation"], "Apply");
    assert_eq!(entries[0]["fieldsV1"]["f:spec"]["f:replicas"], serde_json::json!({}));

    // Another manager takes the replicas: re-applying the manifest conflicts.
    c.ok(&["scale", "deployment", "catalog", "-n", "shop", "--replicas=7"]).await;
    let err = c.fails(&["apply", "--server-side", "-f", path]).await;
    assert!(err.contains("Apply failed with 1 conflict: conflict with \"kubectl\""), "{err}");
    assert!(err.contains(".spec.replicas"), "{err}");
    assert_eq!(c.json(&["get", "deployment", "catalog", "-n", "shop"]).await["spec"]["replicas"], 7);
    // --force-conflicts takes them back.
    c.ok(&["apply", "--server-side", "--force-conflicts", "-f", path]).await;
    assert_eq!(c.json(&["get", "deployment", "catalog", "-n", "shop"]).await["spec"]["replicas"], 3);

    // A field the manifest no longer sets is removed; others' fields stay.
    c.ok(&["label", "deployment", "catalog", "-n", "shop", "owner=ops"]).await;
    let manifest = std::fs::read_to_string(&deployment).unwrap();
    let changed =
        manifest.replacen("  labels:\n    app: catalog\n", "", 1).replace("minReadySeconds: 5", "minReadySeconds: 6");
    assert_ne!(changed, manifest);
    let edited = c.dir.join("deployment-edited.yaml");
    std::fs::write(&edited, changed).unwrap();
    c.ok(&["apply", "--server-side", "-f", edited.to_str().unwrap()]).await;
    let got = c.json(&["get", "deployment", "catalog", "-n", "shop"]).await;
    assert_eq!(got["spec"]["minReadySeconds"], 6);
    assert_eq!(got["metadata"]["labels"], serde_json::json!({"owner": "ops"}), "app label pruned, owner kept");

    // `managedFields: [{}]` clears them, as in Kubernetes.
    c.ok(&[
        "patch",
        "deployment",
        "catalog",
        "-n",
        "shop",
        "--type=merge",
        "-p",
        r#"{"metadata":{"managedFields":[{}]}}"#,
    ])
    .await;
    let got = c.json(&["get", "deployment", "catalog", "-n", "shop", "--show-managed-fields"]).await;
    assert!(got["metadata"].get("managedFields").is_none(), "{}", got["metadata"]);

    // Bad apply requests are refused with a Status.
    let err = c.fails(&["apply", "--server-side", "--field-manager=", "-f", path]).await;
    assert!(!err.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_cascade_variants() {
    let c = Cluster::start().await;
    for name in ["bg", "orphaned", "fg"] {
        c.ok(&["create", "configmap", name, "--from-literal=a=b"]).await;
    }
    // Background (kubectl's default): gone at once; dependents are the
    // garbage collector's.
    let out = c.ok(&["delete", "configmap", "bg", "--cascade=background"]).await;
    assert!(out.contains("configmap \"bg\" deleted"), "{out}");
    assert!(c.fails(&["get", "configmap", "bg"]).await.contains("not found"));

    // Orphan and foreground leave the object terminating behind the
    // finalizer the garbage collector acts on (it removes the finalizer when
    // it has orphaned or deleted the dependents).
    for (name, cascade, finalizer) in [("orphaned", "orphan", "orphan"), ("fg", "foreground", "foregroundDeletion")] {
        let out = c.ok(&["delete", "configmap", name, &format!("--cascade={cascade}"), "--wait=false"]).await;
        assert!(out.contains(&format!("configmap \"{name}\" deleted")), "{out}");
        let got = c.json(&["get", "configmap", name]).await;
        assert!(got["metadata"]["deletionTimestamp"].is_string(), "{got}");
        assert_eq!(got["metadata"]["finalizers"], serde_json::json!([finalizer]));
        // Removing the finalizer (the collector's last step) deletes it.
        c.ok(&["patch", "configmap", name, "--type=json", "-p", r#"[{"op":"remove","path":"/metadata/finalizers"}]"#])
            .await;
        assert!(c.fails(&["get", "configmap", name]).await.contains("not found"));
    }
}
