//! The whole system as the architecture notes describe it (root only):
//! k-apiserver over HTTP, the controller manager (k-controllers), the
//! scheduler (k-scheduler), the service proxy (k-netplugin's userspace
//! proxier, in the host network namespace) and two real node agents on
//! the process runtime (the harness in `support/`), each component with
//! its own HTTP client as separate processes would have.
//!
//! One scenario, driven with `kubectl` as a user would:
//! 1. `kubectl apply -f` a Deployment of 3 `python3 -m http.server` pods
//!    (httpGet readiness) and a ClusterIP Service in front: the Deployment
//!    makes a ReplicaSet, the ReplicaSet the pods, the scheduler binds them
//!    across both nodes, the agents start them in their own network
//!    namespaces with IPs from each node's pod CIDR, the Endpoints list the
//!    3 ready pod IPs and the ClusterIP answers HTTP (every pod serving).
//! 2. `kubectl scale` to 5, then back to 2.
//! 3. An argument change (`kubectl patch`) rolled out: `kubectl rollout
//!    status` completes, and the ClusterIP serves the new content.
//! 4. `kubectl delete pod`: a replacement comes up.
//! 5. One node agent stopped (its pods' processes go on): the node turns
//!    Ready Unknown and gets the unreachable taint, its pod is evicted and
//!    re-created on the other node, and the Service keeps answering.
//!
//! Needs what `agent_process.rs` needs: root, `python3`, util-linux,
//! iproute2, the reference CNI plugins and `kubectl`.

mod support;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use k_api_types::Resource;
use k_api_types::apps::v1::{Deployment, ReplicaSet};
use k_api_types::core::v1::{Endpoints, Namespace, Node, Pod, Service};
use k_apiserver::allocator::{ServiceAllocator, ServiceRanges};
use k_controllers::nodelifecycle::NodeLifecycleOptions;
use k_controllers::{ControllerManager, ControllerOptions, Selection};
use k_netplugin::proxy::userspace::{UserspaceOptions, UserspaceProxier};
use k_netplugin::proxy::{Proxier, ServiceProxy};
use k_scheduler::scheduler::{Scheduler, SchedulerOptions};
use k_store::api::ListOptions;
use k_store::remote::{RemoteApi, RemoteConfig};
use k_store::{Api, ObjectApi};
use support::*;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long a node may miss heartbeats (the agents renew every second).
const NODE_GRACE: Duration = Duration::from_secs(5);
/// How long each wait may take.
const WAIT: Duration = Duration::from_secs(60);

/// The control plane on top of the harness's API server.
struct ControlPlane {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    proxy: Arc<ServiceProxy>,
    proxier: Arc<UserspaceProxier>,
}

impl ControlPlane {
    async fn start(env: &Env) -> ControlPlane {
        // The API server's Service address allocator (ClusterIPs), in a
        // range of this test's own.
        let octet = 200 + std::process::id() % 50;
        let ranges = ServiceRanges::parse(&format!("10.{octet}.250.0/24"), "30000-32767").expect("service ranges");
        ServiceAllocator::install(&env.store, ranges).await.expect("the service allocator");
        let namespaces: Api<Namespace> = Api::with_client(env.client.clone(), None);
        for name in ["default", "kube-system", "kube-node-lease"] {
            if namespaces.get_opt(name).await.expect("reading namespaces").is_none() {
                namespaces.create(&Namespace::named(name)).await.expect("creating a namespace");
            }
        }
        let (stop, stopped) = watch::channel(false);
        let until = || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            }
        };
        let mut tasks = Vec::new();

        let options = ControllerOptions {
            node_lifecycle: Some(NodeLifecycleOptions {
                node_monitor_grace_period: NODE_GRACE,
                ..NodeLifecycleOptions::default()
            }),
            ..ControllerOptions::default()
        };
        let manager = ControllerManager::with_options(client(env).await, Selection::default(), options);
        tasks.push(tokio::spawn(manager.run(until())));

        let scheduler = Scheduler::new(client(env).await, SchedulerOptions::default()).expect("the scheduler");
        tasks.push(tokio::spawn(scheduler.run(until())));

        let proxier = Arc::new(UserspaceProxier::new(UserspaceOptions::default()));
        let proxy = Arc::new(
            ServiceProxy::new(client(env).await, proxier.clone()).with_min_sync_period(Duration::from_millis(100)),
        );
        let (running, shutdown) = (proxy.clone(), until());
        tasks.push(tokio::spawn(async move { running.run(shutdown).await }));
        ControlPlane { stop, tasks, proxy, proxier }
    }

    /// Stops every component and removes the proxy's addresses.
    async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            if tokio::time::timeout(Duration::from_secs(10), task).await.is_err() {
                eprintln!("whole_system: a control-plane task did not stop within 10 s");
            }
        }
        if let Err(e) = self.proxier.cleanup().await {
            eprintln!("whole_system: cleaning up the service proxy: {e}");
        }
    }
}

/// A client of the API server of its own.
async fn client(env: &Env) -> Arc<dyn ObjectApi> {
    Arc::new(RemoteApi::connect(RemoteConfig::new(env.url.clone())).await.expect("connecting to the API server"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_behind_a_cluster_ip_on_two_process_nodes() {
    let mut env = Env::start(2).await;
    let control = ControlPlane::start(&env).await;
    let started = Instant::now();
    let outcome = AssertUnwindSafe(scenario(&mut env, &control)).catch_unwind().await;
    eprintln!("whole_system: scenario {:?}", started.elapsed());
    control.stop().await;
    env.stop().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn scenario(env: &mut Env, control: &ControlPlane) {
    for node in &env.nodes {
        wait_until(&format!("node {} Ready", node.name), || async {
            let nodes: Api<Node> = Api::with_client(env.client.clone(), None);
            let node = nodes.get_opt(&node.name).await.ok()??;
            node_ready(&node).filter(|s| s == "True").map(|_| ())
        })
        .await;
    }

    // 1. Deployment and Service through kubectl apply.
    let v2 = env.net.dir().join("site-v2");
    std::fs::create_dir_all(&v2).unwrap();
    std::fs::write(v2.join("hello.txt"), "hello from v2\n").unwrap();
    let manifest = env.net.dir().join("web.yaml");
    std::fs::write(&manifest, web_manifest(&site(env))).unwrap();
    let (ok, out, err) = env.kubectl(&["apply", "-f", &manifest.display().to_string()]).await;
    assert!(ok, "kubectl apply: {out} {err}");
    assert!(out.contains("deployment.apps/web created") && out.contains("service/web created"), "{out}");

    let pods = wait_available(env, 3).await;
    let rs: Api<ReplicaSet> = Api::with_client(env.client.clone(), Some("default".into()));
    let sets = rs.list(&ListOptions::default()).await.unwrap().items;
    assert_eq!(sets.len(), 1, "one ReplicaSet");
    let owner = &sets[0].metadata.owner_references;
    assert!(owner.iter().any(|o| o.kind == "Deployment" && o.name == "web"), "{owner:?}");
    for pod in &pods {
        let owners = &pod.metadata.owner_references;
        assert!(owners.iter().any(|o| o.kind == "ReplicaSet" && o.name == sets[0].metadata.name), "{owners:?}");
    }
    let nodes_used: BTreeSet<&str> = pods.iter().filter_map(|p| p.spec.node_name.as_deref()).collect();
    assert_eq!(nodes_used.len(), 2, "the 3 pods are spread across both nodes: {nodes_used:?}");
    for pod in &pods {
        let spec = &pod.spec;
        let node = env.nodes.iter().find(|n| Some(&n.name) == spec.node_name.as_ref()).expect("a known node");
        let ip = ip_of(pod);
        assert!(node.contains(ip), "{ip} is in {}'s pod CIDR", node.name);
        let uid = pod.metadata.uid.as_str();
        assert_eq!(env.sandboxes(node, uid).await.len(), 1, "one sandbox (network namespace) per pod on its node");
    }
    let cluster_ip = cluster_ip(env).await;
    wait_endpoints(env, control, &pods).await;
    let target = SocketAddr::new(IpAddr::V4(cluster_ip), 80);
    // Round robin: six requests reach every pod.
    for _ in 0..6 {
        let answer = http_get_retrying(target, "/hello.txt").await;
        assert!(answer.starts_with("HTTP/1.0 200") && answer.ends_with("hello from the pod\n"), "{answer}");
    }
    for pod in &pods {
        let name = pod.metadata.name.as_str();
        let (ok, out, err) = env.kubectl(&["logs", name]).await;
        assert!(
            ok && out.contains("GET /hello.txt"),
            "pod {name} served no request through the ClusterIP: {out} {err}"
        );
    }

    // 2. Scale to 5 and back to 2.
    let (ok, out, err) = env.kubectl(&["scale", "deployment/web", "--replicas=5"]).await;
    assert!(ok, "kubectl scale: {out} {err}");
    let pods = wait_available(env, 5).await;
    wait_endpoints(env, control, &pods).await;
    let (ok, out, err) = env.kubectl(&["scale", "deployment/web", "--replicas=2"]).await;
    assert!(ok, "kubectl scale: {out} {err}");
    let pods = wait_available(env, 2).await;
    wait_endpoints(env, control, &pods).await;
    wait_until("the 3 removed pods gone", || async {
        let all = env.pods().list(&ListOptions::default()).await.ok()?.items;
        (all.len() == 2).then_some(())
    })
    .await;

    // 3. An argument change, rolled out.
    let patch = format!(
        r#"{{"spec":{{"template":{{"spec":{{"containers":[{{"name":"web","command":["python3","-m","http.server","8080","--bind","0.0.0.0","--directory","{}"]}}]}}}}}}}}"#,
        v2.display()
    );
    let (ok, out, err) = env.kubectl(&["patch", "deployment/web", "-p", &patch]).await;
    assert!(ok, "kubectl patch: {out} {err}");
    let (ok, out, err) = env.kubectl(&["rollout", "status", "deployment/web", "--timeout=120s"]).await;
    assert!(ok, "kubectl rollout status: {out} {err}");
    assert!(out.contains("successfully rolled out"), "{out}");
    let pods = wait_available(env, 2).await;
    for pod in &pods {
        let command = &pod.spec.containers[0].command;
        assert!(command.iter().any(|a| a == "--directory"), "pod {} runs the new arguments", pod.metadata.name);
    }
    assert_eq!(rs.list(&ListOptions::default()).await.unwrap().items.len(), 2, "the old and the new ReplicaSet");
    wait_endpoints(env, control, &pods).await;
    for _ in 0..4 {
        let answer = http_get_retrying(target, "/hello.txt").await;
        assert!(answer.ends_with("hello from v2\n"), "the ClusterIP serves the new version: {answer}");
    }

    // 4. A deleted pod is replaced.
    let victim = pods[0].metadata.name.clone();
    let (ok, out, err) = env.kubectl(&["delete", "pod", &victim]).await;
    assert!(ok, "kubectl delete pod: {out} {err}");
    let pods = wait_available(env, 2).await;
    assert!(pods.iter().all(|p| p.metadata.name != victim), "{victim} was replaced");
    wait_endpoints(env, control, &pods).await;

    // 5. A node agent stops: its pod is evicted and re-created elsewhere.
    let index = env
        .nodes
        .iter()
        .position(|n| pods.iter().any(|p| p.spec.node_name.as_ref() == Some(&n.name)))
        .expect("a node with a pod");
    let (down, up) = (env.nodes[index].name.clone(), env.nodes[1 - index].name.clone());
    let stranded: Vec<String> = pods
        .iter()
        .filter(|p| p.spec.node_name.as_deref() == Some(down.as_str()))
        .map(|p| p.metadata.name.clone())
        .collect();
    let stopped_at = Instant::now();
    env.nodes[index].stop_agent().await;
    wait_until(&format!("{down} Ready Unknown with the unreachable taint"), || async {
        let nodes: Api<Node> = Api::with_client(env.client.clone(), None);
        let node = nodes.get_opt(&down).await.ok()??;
        let tainted =
            node.spec.taints.iter().any(|t| t.key == "node.kubernetes.io/unreachable" && t.effect == "NoExecute");
        (node_ready(&node)? == "Unknown" && tainted).then_some(())
    })
    .await;
    eprintln!("whole_system: {down} unreachable after {:?}", stopped_at.elapsed());
    wait_until(&format!("{stranded:?} evicted"), || async {
        for name in &stranded {
            if env.pods().get_opt(name).await.ok()?.is_some_and(|p| p.metadata.deletion_timestamp.is_none()) {
                return None;
            }
        }
        Some(())
    })
    .await;
    eprintln!("whole_system: evicted after {:?}", stopped_at.elapsed());
    let pods = wait_available(env, 2).await;
    for pod in &pods {
        assert_eq!(pod.spec.node_name.as_deref(), Some(up.as_str()), "{} runs on {up}", pod.metadata.name);
        assert!(!stranded.contains(&pod.metadata.name));
    }
    eprintln!("whole_system: re-created on {up} after {:?}", stopped_at.elapsed());
    wait_endpoints(env, control, &pods).await;
    let answer = http_get_retrying(target, "/hello.txt").await;
    assert!(answer.ends_with("hello from v2\n"), "{answer}");
}

/// The Deployment (3 replicas of http.server on 8080, readiness on
/// `/hello.txt`) and its ClusterIP Service (80 → 8080).
///
/// The pods resolve through 127.0.0.1 (see `support::pod`), spread by
/// hostname, and tolerate an unreachable node for 2 s only (instead of
/// the 300 s Kubernetes' admission would add).
fn web_manifest(site: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 3
  selector:
    matchLabels: {{app: web}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      dnsPolicy: None
      dnsConfig:
        nameservers: [127.0.0.1]
      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: kubernetes.io/hostname
        whenUnsatisfiable: ScheduleAnyway
        labelSelector:
          matchLabels: {{app: web}}
      tolerations:
      - {{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}}
      - {{key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}}
      containers:
      - name: web
        image: host/python
        command: [python3, -m, http.server, "8080", --bind, 0.0.0.0]
        workingDir: {site}
        ports:
        - {{name: http, containerPort: 8080}}
        resources:
          requests: {{cpu: 100m, memory: 32Mi}}
        readinessProbe:
          httpGet: {{path: /hello.txt, port: 8080}}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
spec:
  type: ClusterIP
  selector: {{app: web}}
  ports:
  - {{name: http, port: 80, targetPort: http}}
"#
    )
}

/// Polls `check` every 200 ms until it gives `Some`, failing after [`WAIT`].
async fn wait_until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "whole_system: {what}: not seen within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The node's Ready condition status.
fn node_ready(node: &Node) -> Option<String> {
    let status = node.status.as_ref()?;
    status.conditions.iter().find(|c| c.type_ == "Ready").map(|c| c.status.clone())
}

fn pod_ready(pod: &Pod) -> bool {
    pod.status.as_ref().is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn ip_of(pod: &Pod) -> Ipv4Addr {
    let ip = pod.status.as_ref().and_then(|s| s.pod_ip.as_deref()).expect("a pod IP");
    ip.parse().expect("an IPv4 pod IP")
}

/// Waits until the Deployment is fully rolled out with `replicas` pods
/// (all updated and available, none left over) and every live pod is
/// Ready; returns those pods.
async fn wait_available(env: &Env, replicas: i32) -> Vec<Pod> {
    let deployments: Api<Deployment> = Api::with_client(env.client.clone(), Some("default".into()));
    wait_until(&format!("web with {replicas} available pods"), || async {
        let d = deployments.get("web").await.ok()?;
        let status = d.status.as_ref()?;
        let done = d.spec.replicas == Some(replicas)
            && status.observed_generation >= d.metadata.generation
            && status.replicas == Some(replicas)
            && status.updated_replicas == Some(replicas)
            && status.available_replicas == Some(replicas);
        if !done {
            return None;
        }
        let live: Vec<Pod> = env
            .pods()
            .list(&ListOptions { label_selector: Some("app=web".into()), ..Default::default() })
            .await
            .ok()?
            .items
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        (live.len() == replicas as usize && live.iter().all(pod_ready)).then_some(live)
    })
    .await
}

/// The Service's ClusterIP, from the allocator's range.
async fn cluster_ip(env: &Env) -> Ipv4Addr {
    let services: Api<Service> = Api::with_client(env.client.clone(), Some("default".into()));
    let service = services.get("web").await.expect("the Service");
    let ip = service.spec.cluster_ip.clone().expect("a ClusterIP");
    let ip: Ipv4Addr = ip.parse().expect("an IPv4 ClusterIP");
    let octet = 200 + std::process::id() % 50;
    assert!(ip.to_string().starts_with(&format!("10.{octet}.250.")), "{ip} is from the service range");
    ip
}

/// Waits until the Service's Endpoints list exactly `pods`' IPs as ready
/// addresses on port 8080 (and no not-ready ones), and the service proxy
/// has programmed exactly those.
async fn wait_endpoints(env: &Env, control: &ControlPlane, pods: &[Pod]) {
    let want: BTreeSet<String> = pods.iter().map(|p| ip_of(p).to_string()).collect();
    let endpoints: Api<Endpoints> = Api::with_client(env.client.clone(), Some("default".into()));
    wait_until(&format!("Endpoints web = {want:?}"), || async {
        let e = endpoints.get_opt("web").await.ok()??;
        let mut ready = BTreeSet::new();
        for subset in &e.subsets {
            if !subset.not_ready_addresses.is_empty() || !subset.ports.iter().any(|p| p.port == 8080) {
                return None;
            }
            ready.extend(subset.addresses.iter().map(|a| a.ip.clone()));
        }
        (ready == want).then_some(())
    })
    .await;
    let want: BTreeSet<SocketAddr> = pods.iter().map(|p| SocketAddr::new(IpAddr::V4(ip_of(p)), 8080)).collect();
    let programmed = control.proxy.wait_synced(|state| {
        state.services.values().any(|port| {
            port.name.namespace == "default"
                && port.name.name == "web"
                && port.ready_endpoints().map(|e| e.addr()).collect::<BTreeSet<_>>() == want
        })
    });
    if tokio::time::timeout(WAIT, programmed).await.is_err() {
        panic!("whole_system: the service proxy did not program {want:?} within {WAIT:?}");
    }
}
