//! The controllers end to end: the whole controller manager, the
//! scheduler and simulated nodes (k-node agents on the fake runtime) over
//! one in-memory store, in real time. Each test drives the cluster only
//! through objects, as a user with kubectl would.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k_api_types::Resource;
use k_api_types::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k_api_types::batch::v1::Job;
use k_api_types::core::v1::{Namespace, Node, PersistentVolumeClaim, Pod};
use k_api_types::meta::{DeleteOptions, WatchEvent};
use k_controllers::{ControllerManager, ControllerOptions, Selection};
use k_netplugin::cri::fake::{FakeRuntime, Script, SystemClock};
use k_node::sim::SimulatedNodes;
use k_runtime::testing::TestEnv;
use k_scheduler::scheduler::{Scheduler, SchedulerOptions};
use k_store::api::{ListOptions, WatchOptions};
use k_store::{Api, ObjectApi};
use tokio::sync::watch;

const WAIT: Duration = Duration::from_secs(30);

/// A running cluster; everything stops when it is dropped.
struct Cluster {
    env: TestEnv,
    stop: watch::Sender<bool>,
    /// Stops one group of nodes each.
    node_groups: Vec<watch::Sender<bool>>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for g in &self.node_groups {
            let _ = g.send(true);
        }
    }
}

fn until(rx: &watch::Receiver<bool>) -> impl std::future::Future<Output = ()> + Send + 'static {
    let mut rx = rx.clone();
    async move {
        let _ = rx.wait_for(|s| *s).await;
    }
}

/// Containers of image `fail` exit 1 after 50 ms; others run until stopped.
fn runtime(cidr: &str) -> FakeRuntime {
    FakeRuntime::new(SystemClock).with_pod_cidr(cidr).with_script("fail", Script::exits(Duration::from_millis(50), 1))
}

impl Cluster {
    /// The controller manager (`options`), the scheduler, and one group of
    /// simulated nodes per entry of `groups` (node names; each group can
    /// be stopped alone).
    async fn start(groups: &[&[&str]], options: ControllerOptions) -> Cluster {
        let env = TestEnv::new();
        let namespaces: Api<Namespace> = Api::with_client(env.api.clone(), None);
        for name in ["default", "kube-system", "kube-node-lease"] {
            namespaces.create(&Namespace::named(name)).await.expect("namespace");
        }
        let (stop, stopped) = watch::channel(false);
        let manager = ControllerManager::with_options(env.api.clone(), Selection::default(), options);
        tokio::spawn(manager.run(until(&stopped)));
        let scheduler = Scheduler::new(env.api.clone(), SchedulerOptions::default()).expect("scheduler");
        tokio::spawn(scheduler.run(until(&stopped)));
        let mut node_groups = Vec::new();
        let mut index = 0;
        for group in groups {
            let (group_stop, group_stopped) = watch::channel(false);
            let names: Vec<String> = group.iter().map(|s| (*s).to_owned()).collect();
            let first = index;
            index += names.len();
            let sim = SimulatedNodes::named(env.api.clone(), names.clone())
                .with_sync_period(Duration::from_millis(200))
                .with_events(false)
                .configure(move |config| {
                    // Heartbeats well inside the node-failure test's 3 s grace.
                    config.lease_renew_interval = Duration::from_millis(500);
                    // Distinct pod CIDRs across groups.
                    let i = names.iter().position(|n| *n == config.name).unwrap_or(0) + first;
                    config.pod_cidr = Some(k_node::sim::pod_cidr(i));
                })
                .with_runtime(|_, cidr| runtime(cidr));
            tokio::spawn(sim.run(until(&group_stopped)));
            node_groups.push(group_stop);
        }
        let cluster = Cluster { env, stop, node_groups };
        for group in groups {
            for name in *group {
                cluster.wait_node_ready(name).await;
            }
        }
        cluster
    }

    fn api(&self) -> Arc<dyn ObjectApi> {
        self.env.api.clone()
    }

    async fn apply(&self, manifest: &str) {
        self.env.apply(manifest).await.expect("apply");
    }

    async fn wait_for<K: Resource>(&self, ns: &str, name: &str, what: &str, f: impl Fn(&K) -> bool) -> K {
        match self.env.wait_for(ns, name, f, WAIT).await {
            Ok(k) => k,
            Err(e) => panic!("{what}: {e}"),
        }
    }

    async fn wait_node_ready(&self, name: &str) {
        self.wait_for::<Node>("", name, "node ready", |n| {
            n.status.as_ref().is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .await;
    }

    async fn pods(&self, ns: &str, selector: &str) -> Vec<Pod> {
        let api: Api<Pod> = Api::with_client(self.api(), Some(ns.to_owned()));
        let options = ListOptions { label_selector: Some(selector.to_owned()), ..Default::default() };
        api.list(&options).await.expect("list pods").items
    }

    /// Polls `f` until it gives `Some`, or fails with `what`.
    async fn eventually<T, F, Fut>(&self, what: &str, mut f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(t) = f().await {
                return t;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn is_ready(pod: &Pod) -> bool {
    pod.status.as_ref().is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn deployment(image: &str) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: default}}
spec:
  replicas: 4
  selector: {{matchLabels: {{app: web}}}}
  strategy: {{type: RollingUpdate, rollingUpdate: {{maxSurge: 1, maxUnavailable: 1}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: web, image: "{image}"}}]
"#
    )
}

fn complete(d: &Deployment) -> bool {
    let replicas = d.spec.replicas.unwrap_or(1);
    d.status.as_ref().is_some_and(|s| {
        s.observed_generation >= d.metadata.generation
            && s.updated_replicas == Some(replicas)
            && s.replicas == Some(replicas)
            && s.available_replicas == Some(replicas)
    })
}

/// What the rollout watcher saw at its worst.
#[derive(Debug, Default)]
struct Extremes {
    /// Most replicas the Deployment's ReplicaSets asked for at once.
    max_desired: i32,
    /// Fewest pods ready and not being deleted at once.
    min_available: Option<usize>,
}

/// Watches the Deployment's ReplicaSets and pods until `stop`, recording
/// the extremes of desired and available replicas.
fn watch_rollout(api: Arc<dyn ObjectApi>, stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<Extremes> {
    tokio::spawn(async move {
        let options = WatchOptions { send_initial_events: true, ..Default::default() };
        let rs_gvr = ReplicaSet::INFO.gvr();
        let pod_gvr = Pod::INFO.gvr();
        let mut sets = api.watch_shared(&rs_gvr, Some("default"), &options).await.expect("watch");
        let mut pods = api.watch_shared(&pod_gvr, Some("default"), &options).await.expect("watch");
        let mut desired: BTreeMap<String, i32> = BTreeMap::new();
        let mut available: BTreeSet<String> = BTreeSet::new();
        let mut extremes = Extremes::default();
        // Availability counts once the initial rollout shows all replicas.
        let mut settled = false;
        let mut stop = stop;
        loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                Some(event) = sets.next() => {
                    match event.expect("event").event {
                        WatchEvent::Added(o) | WatchEvent::Modified(o) => {
                            let rs: ReplicaSet = o.to_typed().expect("rs");
                            desired.insert(rs.metadata.name.clone(), rs.spec.replicas.unwrap_or(1));
                        }
                        WatchEvent::Deleted(o) => {
                            desired.remove(&o.metadata.name);
                        }
                        _ => {}
                    }
                    extremes.max_desired = extremes.max_desired.max(desired.values().sum());
                }
                Some(event) = pods.next() => {
                    match event.expect("event").event {
                        WatchEvent::Added(o) | WatchEvent::Modified(o) => {
                            let pod: Pod = o.to_typed().expect("pod");
                            if is_ready(&pod) && pod.metadata.deletion_timestamp.is_none() {
                                available.insert(pod.metadata.name.clone());
                            } else {
                                available.remove(&pod.metadata.name);
                            }
                        }
                        WatchEvent::Deleted(o) => {
                            available.remove(&o.metadata.name);
                        }
                        _ => {}
                    }
                    let now = available.len();
                    settled |= now >= 4;
                    if settled {
                        extremes.min_available = Some(extremes.min_available.map_or(now, |m| m.min(now)));
                    }
                }
            }
        }
        extremes
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_rollout_keeps_surge_and_availability_and_rolls_back() {
    let cluster = Cluster::start(&[&["node-a", "node-b", "node-c"]], ControllerOptions::default()).await;
    cluster.apply(&deployment("web:v1")).await;
    let v1 = cluster.wait_for::<Deployment>("default", "web", "v1 available", complete).await;
    assert_eq!(v1.metadata.annotations.get("deployment.kubernetes.io/revision").map(String::as_str), Some("1"));

    let (stop, stopped) = watch::channel(false);
    let watcher = watch_rollout(cluster.api(), stopped);
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.apply(&deployment("web:v2")).await;
    cluster
        .wait_for::<Deployment>("default", "web", "v2 rolled out", |d| {
            complete(d)
                && d.metadata.annotations.get("deployment.kubernetes.io/revision").map(String::as_str) == Some("2")
        })
        .await;
    let _ = stop.send(true);
    let extremes = watcher.await.expect("watcher");
    assert!(extremes.max_desired <= 5, "maxSurge 1 over 4 replicas exceeded: {extremes:?}");
    assert!(extremes.min_available.is_some_and(|m| m >= 3), "maxUnavailable 1 of 4 exceeded: {extremes:?}");
    let pods = cluster.pods("default", "app=web").await;
    let live: Vec<&Pod> = pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none()).collect();
    assert_eq!(live.len(), 4);
    assert!(live.iter().all(|p| p.spec.containers[0].image.as_deref() == Some("web:v2")));

    // Rollback (what `kubectl rollout undo` does): the template goes back
    // to v1's, and the Deployment reuses v1's ReplicaSet as revision 3.
    let sets: Api<ReplicaSet> = Api::with_client(cluster.api(), Some("default".into()));
    let before: BTreeSet<String> =
        sets.list(&ListOptions::default()).await.expect("list").items.into_iter().map(|r| r.metadata.name).collect();
    assert_eq!(before.len(), 2, "{before:?}");
    cluster.apply(&deployment("web:v1")).await;
    cluster
        .wait_for::<Deployment>("default", "web", "rolled back", |d| {
            complete(d)
                && d.metadata.annotations.get("deployment.kubernetes.io/revision").map(String::as_str) == Some("3")
        })
        .await;
    let after = sets.list(&ListOptions::default()).await.expect("list").items;
    assert_eq!(after.iter().map(|r| r.metadata.name.clone()).collect::<BTreeSet<_>>(), before, "no new ReplicaSet");
    let v1_set = after.iter().find(|r| r.spec.template.spec.containers[0].image.as_deref() == Some("web:v1")).unwrap();
    assert_eq!(v1_set.spec.replicas, Some(4));
    assert_eq!(v1_set.metadata.annotations.get("deployment.kubernetes.io/revision").map(String::as_str), Some("3"));

    // Deleting the Deployment takes its ReplicaSets and pods with it (the
    // garbage collector, background propagation).
    let deployments: Api<Deployment> = Api::with_client(cluster.api(), Some("default".into()));
    deployments.delete("web", &DeleteOptions::default()).await.expect("delete");
    cluster
        .eventually("ReplicaSets collected", || async {
            sets.list(&ListOptions::default()).await.expect("list").items.is_empty().then_some(())
        })
        .await;
    cluster
        .eventually("pods collected", || async { cluster.pods("default", "app=web").await.is_empty().then_some(()) })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateful_set_creates_in_order_with_its_claims() {
    let cluster = Cluster::start(&[&["node-a", "node-b"]], ControllerOptions::default()).await;
    // Creation order, as pods appear.
    let order = Arc::new(Mutex::new(Vec::<(String, bool)>::new()));
    let seen = order.clone();
    let api = cluster.api();
    tokio::spawn(async move {
        let options = WatchOptions { send_initial_events: true, ..Default::default() };
        let mut pods = api.watch_shared(&Pod::INFO.gvr(), Some("default"), &options).await.expect("watch");
        while let Some(Ok(event)) = pods.next().await {
            if let WatchEvent::Added(o) = event.event {
                let name = o.metadata.name.clone();
                // Whether every lower ordinal was ready when this one appeared.
                seen.lock().unwrap().push((name, false));
            }
        }
    });
    // Three volumes for the three claims (the binder binds them).
    for i in 0..3 {
        cluster
            .apply(&format!(
                "apiVersion: v1\nkind: PersistentVolume\nmetadata: {{name: sts-pv-{i}}}\nspec:\n  capacity: {{storage: 1Gi}}\n  \
                 accessModes: [ReadWriteOnce]\n  hostPath: {{path: {}}}\n",
                std::env::temp_dir().join(format!("k-system-sts-{}-{i}", std::process::id())).display()
            ))
            .await;
    }
    cluster
        .apply(
            r#"
apiVersion: v1
kind: Service
metadata: {name: db, namespace: default}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 5432}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: default}
spec:
  serviceName: db
  replicas: 3
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: db
        image: db:1
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
"#,
        )
        .await;
    cluster
        .wait_for::<StatefulSet>("default", "db", "3 ready", |s| {
            s.status.as_ref().is_some_and(|st| st.ready_replicas == Some(3))
        })
        .await;
    let names: Vec<String> = order.lock().unwrap().iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(names, ["db-0", "db-1", "db-2"], "created one at a time, in order");
    // Each pod became ready before the next was created.
    let pods = cluster.pods("default", "app=db").await;
    let created = |name: &str| {
        pods.iter().find(|p| p.metadata.name == name).and_then(|p| p.metadata.creation_timestamp).unwrap().0
    };
    let ready_at = |name: &str| {
        pods.iter()
            .find(|p| p.metadata.name == name)
            .and_then(|p| p.status.as_ref())
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
            .and_then(|c| c.last_transition_time)
            .unwrap()
            .0
    };
    assert!(ready_at("db-0") <= created("db-1"));
    assert!(ready_at("db-1") <= created("db-2"));
    for pod in &pods {
        let ordinal = pod.metadata.name.trim_start_matches("db-");
        assert_eq!(pod.spec.hostname.as_deref(), Some(pod.metadata.name.as_str()));
        assert_eq!(pod.spec.subdomain.as_deref(), Some("db"));
        let claim = pod
            .spec
            .volumes
            .iter()
            .find(|v| v.name == "data")
            .and_then(|v| v.persistent_volume_claim.as_ref())
            .map(|c| c.claim_name.clone());
        assert_eq!(claim.as_deref(), Some(format!("data-db-{ordinal}").as_str()));
    }
    let claims: Api<PersistentVolumeClaim> = Api::with_client(cluster.api(), Some("default".into()));
    let mut claim_names: Vec<String> =
        claims.list(&ListOptions::default()).await.expect("list").items.into_iter().map(|c| c.metadata.name).collect();
    claim_names.sort();
    assert_eq!(claim_names, ["data-db-0", "data-db-1", "data-db-2"]);

    // A deleted pod comes back under the same name, with the same claim.
    let pod_api: Api<Pod> = Api::with_client(cluster.api(), Some("default".into()));
    let old_uid = pods.iter().find(|p| p.metadata.name == "db-1").unwrap().metadata.uid.clone();
    pod_api
        .delete("db-1", &DeleteOptions { grace_period_seconds: Some(0), ..Default::default() })
        .await
        .expect("delete");
    cluster.wait_for::<Pod>("default", "db-1", "db-1 back", |p| p.metadata.uid != old_uid && is_ready(p)).await;
    assert_eq!(claims.list(&ListOptions::default()).await.expect("list").items.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_with_failing_pods_reaches_its_backoff_limit() {
    let cluster = Cluster::start(&[&["node-a"]], ControllerOptions::default()).await;
    cluster
        .apply(
            r#"
apiVersion: batch/v1
kind: Job
metadata: {name: flaky, namespace: default}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: fail}]
"#,
        )
        .await;
    let job = cluster
        .wait_for::<Job>("default", "flaky", "failed", |j| {
            j.status.as_ref().is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Failed" && c.status == "True"))
        })
        .await;
    let status = job.status.unwrap();
    let failed = status.conditions.iter().find(|c| c.type_ == "Failed").unwrap();
    assert_eq!(failed.reason.as_deref(), Some("BackoffLimitExceeded"));
    assert_eq!(status.failed, Some(2), "backoffLimit 1: the first failure is retried once");
    assert_eq!(status.active.unwrap_or(0), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_namespace_deletes_everything_in_it() {
    let cluster = Cluster::start(&[&["node-a"]], ControllerOptions::default()).await;
    cluster
        .apply(
            r#"
apiVersion: v1
kind: Namespace
metadata: {name: doomed}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: doomed}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web:1}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: doomed}
data: {a: b}
"#,
        )
        .await;
    cluster.wait_for::<Deployment>("doomed", "web", "available", complete).await;
    let namespaces: Api<Namespace> = Api::with_client(cluster.api(), None);
    namespaces.delete("doomed", &DeleteOptions::default()).await.expect("delete");
    let terminating = namespaces.get("doomed").await.expect("still there while content remains");
    assert_eq!(terminating.status.and_then(|s| s.phase).as_deref(), Some("Terminating"));
    cluster
        .eventually("namespace gone", || async {
            namespaces.get_opt("doomed").await.expect("get").is_none().then_some(())
        })
        .await;
    assert!(cluster.pods("doomed", "app=web").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_stops_heartbeating_is_tainted_and_its_pods_move() {
    let options = ControllerOptions {
        node_lifecycle: Some(k_controllers::nodelifecycle::NodeLifecycleOptions {
            node_monitor_grace_period: Duration::from_secs(3),
            ..Default::default()
        }),
        ..Default::default()
    };
    let cluster = Cluster::start(&[&["node-a"], &["node-b"]], options).await;
    // Tolerate unreachability for 1 s (the default is 300 s).
    cluster
        .apply(
            r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: web:1}]
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 1}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 1}
"#,
        )
        .await;
    cluster.wait_for::<Deployment>("default", "web", "available", complete).await;
    let on_b = cluster
        .pods("default", "app=web")
        .await
        .into_iter()
        .filter(|p| p.spec.node_name.as_deref() == Some("node-b"))
        .count();
    assert!(on_b > 0, "the scheduler spreads the pods over both nodes");

    // node-b's agent stops.
    let _ = cluster.node_groups[1].send(true);
    let node = cluster
        .wait_for::<Node>("", "node-b", "tainted unreachable", |n| {
            n.spec.taints.iter().any(|t| t.key == "node.kubernetes.io/unreachable" && t.effect == "NoExecute")
        })
        .await;
    let ready = node.status.unwrap().conditions.into_iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!(ready.status, "Unknown");
    // Its pods are evicted and replaced on node-a.
    cluster
        .eventually("4 ready pods on node-a", || async {
            let pods = cluster.pods("default", "app=web").await;
            let on_a = pods
                .iter()
                .filter(|p| {
                    p.metadata.deletion_timestamp.is_none()
                        && p.spec.node_name.as_deref() == Some("node-a")
                        && is_ready(p)
                })
                .count();
            let evicted = pods
                .iter()
                .filter(|p| p.spec.node_name.as_deref() == Some("node-b"))
                .all(|p| p.metadata.deletion_timestamp.is_some());
            if on_a != 4 || !evicted {
                let seen: Vec<_> = pods
                    .iter()
                    .map(|p| {
                        (
                            p.metadata.name.clone(),
                            p.spec.node_name.clone(),
                            is_ready(p),
                            p.metadata.deletion_timestamp.is_some(),
                        )
                    })
                    .collect();
                eprintln!("pods: {seen:?}");
            }
            (on_a == 4 && evicted).then_some(())
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_binds_to_the_smallest_volume_that_fits() {
    let cluster = Cluster::start(&[&["node-a"]], ControllerOptions::default()).await;
    let volume = |name: &str, size: &str, class: &str| {
        format!(
            "apiVersion: v1\nkind: PersistentVolume\nmetadata: {{name: {name}}}\nspec:\n  capacity: {{storage: {size}}}\n  \
             accessModes: [ReadWriteOnce]\n  storageClassName: \"{class}\"\n  hostPath: {{path: /tmp/{name}}}\n"
        )
    };
    for (name, size, class) in
        [("small", "1Gi", "slow"), ("medium", "5Gi", "slow"), ("large", "10Gi", "slow"), ("other", "5Gi", "fast")]
    {
        cluster.apply(&volume(name, size, class)).await;
    }
    cluster
        .apply(
            r#"
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: default}
spec:
  storageClassName: slow
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 4Gi}}
"#,
        )
        .await;
    let claim = cluster
        .wait_for::<PersistentVolumeClaim>("default", "data", "bound", |c| {
            c.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound")
        })
        .await;
    assert_eq!(claim.spec.volume_name.as_deref(), Some("medium"));
}
