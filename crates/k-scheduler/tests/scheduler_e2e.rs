//! The scheduler end to end: k-apiserver over HTTP, the scheduler as a
//! client of it (informers, `pods/binding`, events, status), many Node
//! objects. Pods get bound; a pod no node fits gets FailedScheduling and the
//! PodScheduled=False condition, then is bound once a node that fits
//! appears; a high-priority pod preempts a low-priority one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k_api_types::core::v1::{Event, Node, Pod};
use k_api_types::meta::DeleteOptions;
use k_apiserver::{ApiServer, ServerConfig};
use k_scheduler::scheduler::{Scheduler, SchedulerOptions};
use k_store::api::ListOptions;
use k_store::remote::{RemoteApi, RemoteConfig};
use k_store::{Api, ObjectApi, Store};
use serde_json::json;

async fn server() -> Arc<dyn ObjectApi> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = ApiServer::new(
        Arc::new(Store::in_memory()),
        ServerConfig { external_address: addr.to_string(), ..ServerConfig::default() },
    );
    tokio::spawn(async move { server.serve(listener, futures::future::pending()).await });
    Arc::new(RemoteApi::connect(RemoteConfig::new(format!("http://{addr}"))).await.expect("connect"))
}

fn node(name: &str, cpu: &str) -> Node {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"allocatable": {"cpu": cpu, "memory": "16Gi", "pods": "110"},
                   "capacity": {"cpu": cpu, "memory": "16Gi", "pods": "110"}}
    }))
    .unwrap()
}

fn pod(name: &str, cpu: &str, priority: i32) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"priority": priority, "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                 "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}]}
    }))
    .unwrap()
}

async fn wait_for<T>(what: &str, within: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn bound(pods: &Api<Pod>, name: &str) -> Option<String> {
    pods.get(name).await.ok()?.spec.node_name.filter(|n| !n.is_empty())
}

/// Stands in for the node agents: pods marked for deletion go at once.
fn finish_deletions(api: Arc<dyn ObjectApi>) {
    tokio::spawn(async move {
        let pods: Api<Pod> = Api::with_client(api, Some("default".into()));
        loop {
            if let Ok(list) = pods.list(&ListOptions::default()).await {
                for p in list.items.iter().filter(|p| p.metadata.deletion_timestamp.is_some()) {
                    let now = DeleteOptions { grace_period_seconds: Some(0), ..DeleteOptions::default() };
                    let _ = pods.delete(&p.metadata.name, &now).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_are_bound_unschedulable_pods_wait_for_a_node_and_preemption_makes_room() {
    let api = server().await;
    let nodes: Api<Node> = Api::with_client(api.clone(), None);
    let pods: Api<Pod> = Api::with_client(api.clone(), Some("default".into()));
    let events: Api<Event> = Api::with_client(api.clone(), Some("default".into()));
    for i in 0..50 {
        nodes.create(&node(&format!("node-{i:02}"), "4")).await.unwrap();
    }
    let scheduler = Scheduler::new(api.clone(), SchedulerOptions::default()).expect("the default profile");
    let metrics = scheduler.metrics();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(scheduler.run(async move {
        let _ = stopped.await;
    }));
    finish_deletions(api.clone());

    // 1. 200 pods of 500m on 50 nodes of 4 CPUs: all bound, none overfull.
    for i in 0..200 {
        pods.create(&pod(&format!("web-{i:03}"), "500m", 0)).await.unwrap();
    }
    let placed = wait_for("200 pods bound", Duration::from_secs(60), async || {
        let list = pods.list(&ListOptions::default()).await.ok()?;
        let bound: Vec<String> = list.items.iter().filter_map(|p| p.spec.node_name.clone()).collect();
        (bound.len() == 200).then_some(bound)
    })
    .await;
    let mut per_node = std::collections::BTreeMap::<String, usize>::new();
    for node in placed {
        *per_node.entry(node).or_default() += 1;
    }
    assert!(per_node.values().all(|n| *n <= 8), "no node holds more than 4 CPUs of pods: {per_node:?}");
    assert!(per_node.len() >= 25, "LeastAllocated spreads pods: {} nodes used", per_node.len());
    let scheduled = wait_for("a Scheduled event", Duration::from_secs(10), async || {
        let list = events.list(&ListOptions::default()).await.ok()?;
        list.items.into_iter().find(|e| e.reason.as_deref() == Some("Scheduled") && e.involved_object.name == "web-000")
    })
    .await;
    let to = bound(&pods, "web-000").await.unwrap();
    assert_eq!(scheduled.message.as_deref(), Some(format!("Successfully assigned default/web-000 to {to}").as_str()));

    // 2. A pod no node fits: FailedScheduling in kube's words, PodScheduled=False.
    pods.create(&pod("big", "16", 0)).await.unwrap();
    let failed = wait_for("FailedScheduling", Duration::from_secs(10), async || {
        let list = events.list(&ListOptions::default()).await.ok()?;
        list.items
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("FailedScheduling") && e.involved_object.name == "big")
    })
    .await;
    assert_eq!(failed.type_.as_deref(), Some("Warning"));
    let message = failed.message.unwrap_or_default();
    assert_eq!(
        message,
        "0/50 nodes are available: 50 Insufficient cpu. \
         preemption: 0/50 nodes are available: 50 No preemption victims found for incoming pod."
    );
    let condition = wait_for("PodScheduled=False", Duration::from_secs(10), async || {
        let p = pods.get("big").await.ok()?;
        p.status?.conditions.into_iter().find(|c| c.type_ == "PodScheduled" && c.status == "False")
    })
    .await;
    assert_eq!(condition.reason.as_deref(), Some("Unschedulable"));
    assert!(bound(&pods, "big").await.is_none());
    // A node that fits appears: the pod is bound there.
    nodes.create(&node("huge", "32")).await.unwrap();
    let placed = wait_for("big bound", Duration::from_secs(20), async || bound(&pods, "big").await).await;
    assert_eq!(placed, "huge");

    // 3. Preemption: every node is full of priority-0 pods; a
    //    high-priority pod takes the room that costs the fewest victims.
    pods.create(&pod("filler-huge", "16", 0)).await.unwrap();
    let placed = wait_for("filler-huge bound", Duration::from_secs(20), async || bound(&pods, "filler-huge").await);
    assert_eq!(placed.await, "huge");
    for i in 0..50 {
        for j in 0..4 {
            pods.create(&pod(&format!("filler-{i:02}-{j}"), "500m", 0)).await.unwrap();
        }
    }
    wait_for("fillers bound", Duration::from_secs(60), async || {
        let list = pods.list(&ListOptions::default()).await.ok()?;
        list.items.iter().all(|p| p.spec.node_name.is_some()).then_some(())
    })
    .await;
    // Each node-xx holds 8 × 500m (two victims would free 1 CPU); huge
    // holds two 16-CPU pods (one victim frees 16): kube picks fewer victims.
    pods.create(&pod("urgent", "1", 1000)).await.unwrap();
    let placed = wait_for("urgent bound", Duration::from_secs(30), async || bound(&pods, "urgent").await).await;
    assert_eq!(placed, "huge");
    let preempted = wait_for("a Preempted event", Duration::from_secs(10), async || {
        let list = events.list(&ListOptions::default()).await.ok()?;
        let victims: Vec<Event> = list.items.into_iter().filter(|e| e.reason.as_deref() == Some("Preempted")).collect();
        (!victims.is_empty()).then_some(victims)
    })
    .await;
    assert_eq!(preempted.len(), 1, "one victim: {preempted:?}");
    let victim = &preempted[0].involved_object.name;
    assert!(victim == "big" || victim == "filler-huge", "{victim}");
    assert_eq!(preempted[0].message.as_deref(), Some("Preempted by pod default/urgent on node huge"));
    assert!(pods.get(victim).await.is_err(), "the victim is gone");
    let attempts: u64 = metrics
        .attempts
        .get_or_create(&k_scheduler::scheduler::AttemptLabels {
            result: "scheduled".into(),
            profile: "default-scheduler".into(),
        })
        .get();
    assert!(attempts >= 402, "{attempts} scheduled attempts counted");

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), running).await.expect("graceful shutdown").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_by_scheduler_name_under_leader_election() {
    use k_api_types::coordination::v1::Lease;
    use k_runtime::leader::LeaderElectionConfig;
    use k_scheduler::config::KubeSchedulerConfiguration;

    let api = server().await;
    let nodes: Api<Node> = Api::with_client(api.clone(), None);
    let pods: Api<Pod> = Api::with_client(api.clone(), Some("default".into()));
    for i in 0..4 {
        nodes.create(&node(&format!("node-{i}"), "4")).await.unwrap();
    }
    let config = KubeSchedulerConfiguration::parse(
        r#"
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
- schedulerName: bin-packing
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy: {type: MostAllocated}
"#,
    )
    .unwrap();
    // Two candidates: only the leader schedules.
    let mut stops = Vec::new();
    let mut runs = Vec::new();
    for identity in ["first", "second"] {
        let election = LeaderElectionConfig {
            lease_duration: Duration::from_secs(2),
            renew_deadline: Duration::from_millis(1500),
            retry_period: Duration::from_millis(200),
            ..LeaderElectionConfig::new("kube-system", "kube-scheduler", identity)
        };
        let options =
            SchedulerOptions { config: config.clone(), leader_election: Some(election), ..SchedulerOptions::default() };
        let scheduler = Scheduler::new(api.clone(), options).unwrap();
        assert_eq!(scheduler.profiles(), ["bin-packing", "default-scheduler"]);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop);
        runs.push(tokio::spawn(scheduler.run(async move {
            let _ = stopped.await;
        })));
    }
    let with_scheduler = |name: &str, scheduler: &str| {
        let mut p = pod(name, "500m", 0);
        p.spec.scheduler_name = Some(scheduler.to_owned());
        p
    };
    for i in 0..4 {
        pods.create(&with_scheduler(&format!("packed-{i}"), "bin-packing")).await.unwrap();
    }
    let packed = wait_for("packed pods bound", Duration::from_secs(20), async || {
        let mut placed = Vec::new();
        for i in 0..4 {
            placed.push(bound(&pods, &format!("packed-{i}")).await?);
        }
        Some(placed)
    })
    .await;
    assert!(packed.windows(2).all(|w| w[0] == w[1]), "MostAllocated packs them on one node: {packed:?}");
    for i in 0..4 {
        pods.create(&with_scheduler(&format!("spread-{i}"), "default-scheduler")).await.unwrap();
    }
    let spread = wait_for("spread pods bound", Duration::from_secs(20), async || {
        let mut placed = std::collections::BTreeSet::new();
        for i in 0..4 {
            placed.insert(bound(&pods, &format!("spread-{i}")).await?);
        }
        Some(placed)
    })
    .await;
    assert!(spread.len() >= 3, "LeastAllocated spreads them: {spread:?}");
    pods.create(&with_scheduler("nobody", "other-scheduler")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(bound(&pods, "nobody").await.is_none(), "a pod for another scheduler is left alone");

    let leases: Api<Lease> = Api::with_client(api.clone(), Some("kube-system".into()));
    let holder = leases.get("kube-scheduler").await.unwrap().spec.holder_identity.unwrap();
    assert!(holder == "first" || holder == "second", "{holder}");
    // The leader stops: the other takes over and schedules.
    let leader = if holder == "first" { 0 } else { 1 };
    let _ = stops.remove(leader).send(());
    tokio::time::timeout(Duration::from_secs(10), runs.remove(leader)).await.expect("graceful shutdown").unwrap();
    pods.create(&with_scheduler("after-failover", "default-scheduler")).await.unwrap();
    wait_for("a pod bound by the new leader", Duration::from_secs(20), async || bound(&pods, "after-failover").await)
        .await;
    let holder_now = leases.get("kube-scheduler").await.unwrap().spec.holder_identity.unwrap();
    assert_ne!(holder_now, holder);
    for stop in stops {
        let _ = stop.send(());
    }
}
