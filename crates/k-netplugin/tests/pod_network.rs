//! Pods on two nodes reach each other by pod IP, without NAT, through
//! host-gw routes kept by each node's controller from the Nodes' podCIDRs
//! (root; two network namespaces stand in for the hosts).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k_api_types::core::v1::Node;
use k_api_types::meta::DeleteOptions;
use k_netplugin::exec::{Executor, load_dir};
use k_netplugin::iproute;
use k_netplugin::netns::NetNs;
use k_netplugin::node::{HostGwConfig, HostGwNode, ROUTE_PROTOCOL};
use k_netplugin::pod::{PodNetwork, PodSandbox};
use k_netplugin::testing::{self, TestNet};
use k_store::{Api, ObjectApi, Store};
use serde_json::json;
use tokio::sync::watch;

fn node(name: &str, cidr: &str, ip: &str) -> Node {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name},
        "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
        "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}]}
    }))
    .unwrap()
}

struct NodeUnderTest {
    ns: NetNs,
    conf_dir: PathBuf,
    routes: watch::Receiver<BTreeMap<String, String>>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

fn start_node(net: &TestNet, api: Arc<dyn ObjectApi>, name: &str, ns: NetNs) -> NodeUnderTest {
    let mut config = HostGwConfig::new(name, ns.clone());
    config.conf_dir = net.dir().join(name).join("net.d");
    config.data_dir = net.dir().join(name).join("ipam");
    config.ipam_type = "k-host-local".into();
    config.resync = Duration::from_millis(500);
    let conf_dir = config.conf_dir.clone();
    let (tx, routes) = watch::channel(BTreeMap::new());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let controller = HostGwNode::new(config);
    let task = tokio::spawn(async move {
        controller
            .run(api, tx, async {
                let _ = stopped.await;
            })
            .await
            .expect("host-gw controller");
    });
    NodeUnderTest { ns, conf_dir, routes, stop, task }
}

async fn wait_routes(node: &mut NodeUnderTest, want: &BTreeMap<String, String>) {
    let waited = tokio::time::timeout(Duration::from_secs(20), node.routes.wait_for(|r| r == want)).await.is_ok();
    assert!(waited, "routes of {} never became {want:?}: {:?}", node.ns.name(), *node.routes.borrow());
}

/// A CNI_PATH with `k-host-local` and the reference plugins.
fn cni_path(net: &TestNet) -> Vec<PathBuf> {
    let bin = net.dir().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_k-host-local"), bin.join("k-host-local")).unwrap();
    vec![bin, testing::reference_plugin_dir()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_on_different_nodes_talk_by_pod_ip_without_nat() {
    testing::require_command("iptables", "iptables");
    let mut net = TestNet::new();
    let (host1, host2) = (net.netns(), net.netns());
    net.veth(&host1, "to-n2", "192.168.77.1/24", &host2, "to-n1", "192.168.77.2/24");

    let api: Arc<dyn ObjectApi> = Arc::new(Store::in_memory());
    let nodes: Api<Node> = Api::with_client(api.clone(), None);
    nodes.create(&node("node1", "10.244.1.0/24", "192.168.77.1")).await.unwrap();
    nodes.create(&node("node2", "10.244.2.0/24", "192.168.77.2")).await.unwrap();

    let mut n1 = start_node(&net, api.clone(), "node1", host1.clone());
    let mut n2 = start_node(&net, api.clone(), "node2", host2.clone());
    let to = |cidr: &str, via: &str| BTreeMap::from([(cidr.to_string(), via.to_string())]);
    wait_routes(&mut n1, &to("10.244.2.0/24", "192.168.77.2")).await;
    wait_routes(&mut n2, &to("10.244.1.0/24", "192.168.77.1")).await;
    let installed = iproute::routes(&host1, Some(ROUTE_PROTOCOL)).unwrap();
    assert_eq!(installed.len(), 1);
    assert_eq!((installed[0].dst.as_str(), installed[0].via.as_deref()), ("10.244.2.0/24", Some("192.168.77.2")));
    assert_eq!(iproute::sysctl_get(&host1, "net.ipv4.ip_forward").unwrap(), "1");
    // A route removed behind the controller's back comes back at the next resync.
    iproute::route_del(&host1, "10.244.2.0/24").unwrap();
    let mut restored = false;
    for _ in 0..100 {
        if iproute::routes(&host1, Some(ROUTE_PROTOCOL)).unwrap().len() == 1 {
            restored = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(restored, "the resync put the route back");

    // Each node's pods, attached with the conflist its controller wrote.
    let cni_path = cni_path(&net);
    let mut pods = Vec::new();
    for (i, n) in [&n1, &n2].into_iter().enumerate() {
        let lists = load_dir(&n.conf_dir).unwrap();
        assert_eq!(lists.len(), 1, "one conflist in {}", n.conf_dir.display());
        let executor =
            Executor::new(cni_path.clone(), net.dir().join(format!("cache{i}"))).with_host_netns(&n.ns).unwrap();
        let network = PodNetwork::new(executor, lists[0].clone());
        let sandbox = PodSandbox {
            id: format!("pod-on-node{}", i + 1),
            netns_name: net.unique_name(),
            namespace: "default".into(),
            name: format!("web{}", i + 1),
            uid: format!("uid{i}"),
            ..PodSandbox::default()
        };
        let attached = network.setup(&sandbox).await.unwrap();
        net.track(attached.netns.clone());
        pods.push((network, sandbox, attached));
    }
    let (a, b) = (&pods[0].2, &pods[1].2);
    assert!(a.ips[0].to_string().starts_with("10.244.1."), "{:?}", a.ips);
    assert!(b.ips[0].to_string().starts_with("10.244.2."), "{:?}", b.ips);

    let worker = b.netns.worker().unwrap();
    let _server = testing::tcp_echo_server(&worker, SocketAddr::new(b.ips[0], 9000), "web2").unwrap();
    let (greeting, echo) =
        testing::tcp_request(&a.netns, SocketAddr::new(b.ips[0], 9000), None, "across").await.unwrap();
    assert_eq!(greeting, format!("web2 {}", a.ips[0]), "the server on node 2 sees node 1's pod address: no NAT");
    assert_eq!(echo, "across");

    // Node 2 leaves: node 1's route to it goes.
    nodes.delete("node2", &DeleteOptions::default()).await.unwrap();
    wait_routes(&mut n1, &BTreeMap::new()).await;
    assert!(iproute::routes(&host1, Some(ROUTE_PROTOCOL)).unwrap().is_empty());
    let err = testing::tcp_request(&a.netns, SocketAddr::new(b.ips[0], 9000), None, "x").await;
    assert!(err.is_err(), "without the route node 2's pods are unreachable");

    for (network, sandbox, _) in &pods {
        network.teardown(sandbox).await.unwrap();
    }
    for n in [n1, n2] {
        let _ = n.stop.send(());
        n.task.await.unwrap();
    }
}
