//! The executor driving the reference CNI plugins (Debian's
//! `containernetworking-plugins`) and k's own plugin binaries, inside
//! network namespaces made for each test (root).

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use k_netplugin::exec::{Executor, RuntimeConf, cache};
use k_netplugin::netns::NetNs;
use k_netplugin::pod::{PodNetwork, PodSandbox};
use k_netplugin::testing::{self, TestNet};
use k_netplugin::types::NetworkConfigList;
use k_netplugin::{GcAttachment, iproute};
use serde_json::{Value, json};

/// A CNI_PATH for this test: k's binaries, then the reference plugins.
fn cni_path(net: &TestNet) -> Vec<PathBuf> {
    let bin = net.dir().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for (name, exe) in [
        ("k-host-local", env!("CARGO_BIN_EXE_k-host-local")),
        ("k-cni-testplugin", env!("CARGO_BIN_EXE_k-cni-testplugin")),
    ] {
        std::os::unix::fs::symlink(exe, bin.join(name)).unwrap();
    }
    vec![bin, testing::reference_plugin_dir()]
}

fn bridge_list(net: &TestNet, ipam_type: &str, subnet: &str, extra_plugins: &[Value]) -> NetworkConfigList {
    let mut plugins = vec![json!({
        "type": "bridge", "bridge": "cni0", "isGateway": true, "hairpinMode": true,
        "ipam": {"type": ipam_type, "dataDir": net.dir().join("ipam"), "ranges": [[{"subnet": subnet}]],
                 "routes": [{"dst": "0.0.0.0/0"}]}
    })];
    plugins.extend_from_slice(extra_plugins);
    let text = json!({"cniVersion": "1.0.0", "name": "ktest", "plugins": plugins});
    NetworkConfigList::from_bytes(text.to_string().as_bytes()).unwrap()
}

fn executor(net: &TestNet, node: &NetNs) -> Executor {
    Executor::new(cni_path(net), net.dir().join("cache")).with_host_netns(node).unwrap()
}

fn sandbox(net: &TestNet, i: usize) -> PodSandbox {
    PodSandbox {
        id: format!("sandbox{i:02}"),
        netns_name: net.unique_name(),
        namespace: "default".into(),
        name: format!("pod{i}"),
        uid: format!("uid-{i}"),
        ..PodSandbox::default()
    }
}

/// The data dir's file names, sorted.
fn ipam_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|r| r.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_plugins_give_twenty_pods_working_distinct_addresses() {
    testing::require_command("iptables", "iptables");
    let mut net = TestNet::new();
    let node = net.netns();
    let exec = executor(&net, &node);
    let portmap = json!({"type": "portmap", "capabilities": {"portMappings": true}, "snat": true});
    let list = bridge_list(&net, "host-local", "10.99.0.0/24", &[portmap]);
    let pods = PodNetwork::new(exec.clone(), list.clone());

    let mut sandboxes = Vec::new();
    let mut ips = BTreeSet::new();
    for i in 0..20 {
        let mut sb = sandbox(&net, i);
        if i == 2 {
            sb.capability_args
                .insert("portMappings".into(), json!([{"hostPort": 18080, "containerPort": 8080, "protocol": "tcp"}]));
        }
        let attached = pods.setup(&sb).await.unwrap_or_else(|e| panic!("pod {i}: {e}"));
        net.track(attached.netns.clone());
        assert_eq!(attached.ips.len(), 1, "one IPv4 address: {:?}", attached.result);
        ips.insert(attached.ips[0]);
        sandboxes.push((sb, attached));
    }
    assert_eq!(ips.len(), 20, "20 distinct addresses: {ips:?}");
    assert!(ips.iter().all(|ip| ip.to_string().starts_with("10.99.0.")));

    // The cache file, as libcni writes it.
    let (sb0, _) = &sandboxes[0];
    let path = exec.cache().path("ktest", &sb0.id, "eth0");
    assert!(cache::has_mode(&path, 0o600), "{} is 0600", path.display());
    let raw: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(raw["kind"], "cniCacheV1");
    assert_eq!(
        (raw["containerId"].as_str(), raw["ifName"].as_str(), raw["networkName"].as_str()),
        (Some(sb0.id.as_str()), Some("eth0"), Some("ktest"))
    );
    assert_eq!(raw["netns"], format!("/run/netns/{}", sb0.netns_name));
    assert_eq!(raw["cniArgs"][0], json!(["IgnoreUnknown", "1"]));
    let config = base64::engine::general_purpose::STANDARD.decode(raw["config"].as_str().unwrap()).unwrap();
    assert_eq!(config, list.raw, "the list's own bytes, as libcni stores them");
    assert!(raw.get("capabilityArgs").is_none(), "pod 0 had no capability arguments");
    let with_ports: Value =
        serde_json::from_slice(&std::fs::read(exec.cache().path("ktest", &sandboxes[2].0.id, "eth0")).unwrap())
            .unwrap();
    assert_eq!(with_ports["capabilityArgs"]["portMappings"][0]["hostPort"], 18080);
    assert_eq!(raw["result"]["cniVersion"], "1.0.0");
    assert!(raw["result"]["ips"][0]["address"].as_str().unwrap().starts_with("10.99.0."));

    // A real TCP exchange between two pods.
    let (_, pod1) = &sandboxes[1];
    let (_, pod5) = &sandboxes[5];
    let worker = pod1.netns.worker().unwrap();
    let _server = testing::tcp_echo_server(&worker, SocketAddr::new(pod1.ips[0], 8080), "pod1").unwrap();
    let (greeting, echo) =
        testing::tcp_request(&pod5.netns, SocketAddr::new(pod1.ips[0], 8080), None, "hello").await.unwrap();
    assert_eq!(greeting, format!("pod1 {}", pod5.ips[0]), "pod1 sees pod5's own address");
    assert_eq!(echo, "hello");

    // portMappings reached portmap: the node's bridge address on the host port.
    let (_, pod2) = &sandboxes[2];
    let worker2 = pod2.netns.worker().unwrap();
    let _server2 = testing::tcp_echo_server(&worker2, SocketAddr::new(pod2.ips[0], 8080), "pod2").unwrap();
    let gateway: IpAddr = "10.99.0.1".parse().unwrap();
    let (greeting, _) = testing::tcp_request(&node, SocketAddr::new(gateway, 18080), None, "x").await.unwrap();
    assert!(greeting.starts_with("pod2 "), "host port 18080 reaches pod2: {greeting}");

    // CHECK passes, then fails once the pod's interface is gone.
    let (sb19, pod19) = &sandboxes[19];
    pods.check(sb19).await.unwrap();
    iproute::link_delete(&pod19.netns, "eth0").unwrap();
    let err = pods.check(sb19).await.unwrap_err();
    assert!(err.to_string().contains("eth0"), "CHECK names the missing interface: {err}");

    // GC with 10 valid attachments releases the other 10.
    let valid: Vec<GcAttachment> = sandboxes[..10]
        .iter()
        .map(|(sb, _)| GcAttachment { container_id: sb.id.clone(), ifname: "eth0".into() })
        .collect();
    exec.gc(&list, &valid).await.unwrap();
    let left: Vec<String> = exec
        .cached_attachments(None)
        .unwrap()
        .into_iter()
        .filter(|e| e.network_name == "ktest")
        .map(|e| e.container_id)
        .collect();
    assert_eq!(left, valid.iter().map(|v| v.container_id.clone()).collect::<Vec<_>>());
    let data = net.dir().join("ipam/ktest");
    let addresses = ipam_files(&data).into_iter().filter(|f| f.starts_with("10.99.")).count();
    assert_eq!(addresses, 10, "GC freed the stale addresses");

    // DEL twice succeeds, and the data dir is back to its bookkeeping.
    for (sb, _) in &sandboxes {
        pods.teardown(sb).await.unwrap();
        pods.teardown(sb).await.unwrap();
        assert!(!Path::new("/run/netns").join(&sb.netns_name).exists());
    }
    assert_eq!(ipam_files(&data), ["last_reserved_ip.0", "lock"]);
    assert!(exec.cached_attachments(None).unwrap().is_empty());
}

fn run_plugin(binary: &Path, env: &[(&str, &str)], stdin: &str) -> (i32, Value) {
    let mut child = Command::new(binary)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), json)
}

#[test]
fn skeleton_plugins_answer_bad_input_like_the_reference_plugins() {
    let reference = testing::reference_plugin_dir();
    let ours = [env!("CARGO_BIN_EXE_k-cni-testplugin"), env!("CARGO_BIN_EXE_k-host-local")];
    let theirs = [reference.join("bridge"), reference.join("host-local")];
    let full = [
        ("CNI_COMMAND", "ADD"),
        ("CNI_CONTAINERID", "c1"),
        ("CNI_NETNS", "/proc/self/ns/net"),
        ("CNI_IFNAME", "eth0"),
        ("CNI_PATH", "/nonexistent"),
    ];
    let good = r#"{"cniVersion": "1.0.0", "name": "n", "type": "x"}"#;
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        ("missing env", vec![("CNI_COMMAND", "ADD")], good),
        ("bad JSON", full.to_vec(), "{x"),
        ("version 9.9.9", full.to_vec(), r#"{"cniVersion": "9.9.9", "name": "n", "type": "x"}"#),
        ("unknown command", [&[("CNI_COMMAND", "FOO")][..], &full[1..]].concat(), good),
        ("bad interface name", [&full[..3], &[("CNI_IFNAME", "a/b"), ("CNI_PATH", "/x")][..]].concat(), good),
    ];
    for (what, env, stdin) in &cases {
        for (mine, reference) in ours.iter().zip(&theirs) {
            let (my_code, my_json) = run_plugin(Path::new(mine), env, stdin);
            let (ref_code, ref_json) = run_plugin(reference, env, stdin);
            assert_eq!(my_code, ref_code, "{what}: exit status of {mine} vs {}", reference.display());
            assert_eq!(my_json["code"], ref_json["code"], "{what}: code of {mine}: {my_json} vs {ref_json}");
            if *what != "bad JSON" {
                assert_eq!(my_json["msg"], ref_json["msg"], "{what}: msg of {mine}");
            }
        }
    }
    // An invalid configuration: host-local's ranges missing → code 7 … or
    // the reference's own answer; k-host-local must refuse it with 7.
    let bad_ipam = r#"{"cniVersion": "1.0.0", "name": "n", "type": "k-host-local", "ipam": {"type": "k-host-local"}}"#;
    let (code, json) = run_plugin(Path::new(ours[1]), &full, bad_ipam);
    assert_eq!((code, json["code"].as_u64()), (1, Some(7)), "{json}");
    // VERSION answers with every version k speaks.
    let (code, json) = run_plugin(Path::new(ours[0]), &[("CNI_COMMAND", "VERSION")], "");
    assert_eq!(code, 0);
    assert!(json["supportedVersions"].as_array().unwrap().iter().any(|v| v == "1.1.0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skeleton_plugin_chains_with_the_reference_bridge() {
    let mut net = TestNet::new();
    let node = net.netns();
    let exec = executor(&net, &node);
    let log = net.dir().join("calls.log");
    let test_plugin = |tag: &str, extra: Value| {
        let mut v = json!({"type": "k-cni-testplugin", "logFile": log, "tag": tag, "searchDomain": "chain.k.test"});
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        v
    };
    let list = {
        let bridge = bridge_list(&net, "host-local", "10.98.0.0/24", &[]);
        let mut plugins = vec![test_plugin("before", json!({}))];
        plugins.push(serde_json::to_value(&bridge.plugins[0]).unwrap());
        plugins.push(test_plugin("after", json!({})));
        let text = json!({"cniVersion": "1.0.0", "name": "ktest", "plugins": plugins});
        NetworkConfigList::from_bytes(text.to_string().as_bytes()).unwrap()
    };
    let pod = net.netns();
    let rt = RuntimeConf::new("chain1", pod.path(), "eth0");
    let result = exec.add(&list, &rt).await.unwrap();
    assert_eq!(result.dns.search, ["chain.k.test"], "the last plugin added its search domain to bridge's result");
    assert!(result.ips[0].address.starts_with("10.98.0."));
    exec.check(&list, &rt).await.unwrap();
    exec.del(&list, &rt).await.unwrap();
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        calls.lines().collect::<Vec<_>>(),
        [
            "before ADD chain1 eth0",
            "after ADD chain1 eth0",
            "before CHECK chain1 eth0",
            "after CHECK chain1 eth0",
            "after DEL chain1 eth0",
            "before DEL chain1 eth0"
        ],
        "ADD and CHECK in order, DEL in reverse"
    );

    // A failing ADD: code, msg and details surface; no cache; DEL frees the IP.
    let failing = bridge_list(&net, "host-local", "10.98.0.0/24", &[test_plugin("fail", json!({"failOn": "ADD"}))]);
    let rt2 = RuntimeConf::new("chain2", pod.path(), "eth1");
    let err = exec.add(&failing, &rt2).await.unwrap_err();
    let cni = err.cni_error().unwrap();
    assert_eq!(
        (cni.code, cni.msg.as_str(), cni.details.as_str()),
        (100, "asked to fail on ADD", "k-cni-testplugin: failOn")
    );
    assert!(err.to_string().contains("k-cni-testplugin"), "{err}");
    assert!(!exec.cache().path("ktest", "chain2", "eth1").exists(), "a failed ADD leaves no cache entry");
    let data = net.dir().join("ipam/ktest");
    assert_eq!(ipam_files(&data).iter().filter(|f| f.starts_with("10.98.")).count(), 1, "bridge took an address first");
    exec.del(&failing, &rt2).await.unwrap();
    assert_eq!(
        ipam_files(&data).iter().filter(|f| f.starts_with("10.98.")).count(),
        0,
        "DEL after the failed ADD freed it"
    );

    // STATUS on a 1.1.0 list of k's plugins reaches them; GC too.
    let ours = json!({"cniVersion": "1.1.0", "name": "kours", "plugins": [test_plugin("status", json!({}))]});
    let ours = NetworkConfigList::from_bytes(ours.to_string().as_bytes()).unwrap();
    exec.status(&ours).await.unwrap();
    exec.gc(&ours, &[]).await.unwrap();
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(calls.lines().any(|l| l == "status STATUS"), "{calls}");
    assert!(calls.lines().any(|l| l == "status GC 0"), "{calls}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_hangs_is_killed_at_the_timeout() {
    let mut net = TestNet::new();
    let node = net.netns();
    let path = cni_path(&net);
    let slow = path[0].join("k-slow");
    std::fs::write(
        &slow,
        "#!/bin/sh\nif [ \"$CNI_COMMAND\" = VERSION ]; then echo '{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"1.0.0\"]}'; exit 0; fi\necho $$ > \"$0.pid\"\nexec sleep 30\n",
    )
    .unwrap();
    std::fs::set_permissions(&slow, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let exec = Executor::new(path, net.dir().join("cache"))
        .with_host_netns(&node)
        .unwrap()
        .with_timeout(std::time::Duration::from_millis(500));
    let list =
        NetworkConfigList::from_bytes(br#"{"cniVersion": "1.0.0", "name": "slow", "plugins": [{"type": "k-slow"}]}"#)
            .unwrap();
    let pod = net.netns();
    let started = std::time::Instant::now();
    let err = exec.add(&list, &RuntimeConf::new("s1", pod.path(), "eth0")).await.unwrap_err();
    assert!(
        matches!(&err, k_netplugin::exec::ExecError::Timeout { plugin, command, .. } if plugin == "k-slow" && command == "ADD"),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "gave up at the timeout");
    assert_eq!(err.code(), 5);
    let pid: i32 = std::fs::read_to_string(slow.with_extension("pid")).unwrap().trim().parse().unwrap();
    // The killed plugin is gone (reaped, or at most a zombie for a moment).
    let mut gone = false;
    for _ in 0..50 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if status.is_empty() || status.contains("State:\tZ") {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(gone, "the plugin process {pid} was killed");
}
