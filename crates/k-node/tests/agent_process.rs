//! The node agent on the process runtime, end to end (root only); the
//! harness (API server, kubeconfig, nodes with CNI bridge networks) is in
//! `support/`. Pods are created already bound (`spec.nodeName`).
//!
//! Covered: readiness (httpGet) and the pod IP answering HTTP from the
//! host; a SIGKILLed container restarted (137 in lastState); a failing
//! liveness probe restarting its container; a memory limit enforced by an
//! OOM kill; `kubectl logs` (`--tail`, `-c`); `kubectl delete` stopping
//! the processes within the grace period, removing the pod and releasing
//! its IP; a pod on one node reaching a pod on another by pod IP.
//!
//! Needs root, `python3`, `nsenter`/`unshare` (util-linux), the reference
//! CNI plugins (containernetworking-plugins) and `kubectl` on PATH.

mod support;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use futures::FutureExt;
use k_api_types::core::v1::Event;
use k_netplugin::cri::RuntimeService;
use k_store::Api;
use k_store::api::ListOptions;
use serde_json::{Value, json};
use support::*;

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

/// 1. Readiness over httpGet, a pod IP from the node's CIDR, HTTP from the
///    host to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_pod_becomes_ready_and_answers_on_its_pod_ip() {
    with_env(1, |env| {
        async move {
            let node = &env.nodes[0];
            env.create(pod("web", &node.name, json!([web_container(env, "web")]), json!({}))).await;
            let status = env.wait_status("web", "Ready", Duration::from_secs(30), is_ready).await;
            assert_eq!(status["phase"], "Running");
            let ip = pod_ip(&status);
            assert!(node.contains(ip), "{ip} is in the node's pod CIDR {}0/24", node.prefix);
            assert_eq!(status["hostIP"], node.gateway.to_string());
            let web = container(&status, "web");
            assert_eq!(web["ready"], true);
            assert_eq!(web["restartCount"], 0);
            assert!(web["state"]["running"]["startedAt"].is_string(), "{web}");

            let answer = http_get_retrying(SocketAddr::new(ip.into(), 8080), "/hello.txt").await;
            assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
            assert!(answer.ends_with("hello from the pod\n"), "{answer}");
            // The pod's dnsConfig (dnsPolicy None) is the container's resolv.conf.
            let cat = ["cat".to_string(), "/etc/resolv.conf".to_string()];
            let resolv = node.runtime.exec_sync(&runtime_id(web), &cat, Duration::from_secs(10)).await.unwrap();
            assert_eq!(String::from_utf8_lossy(&resolv.stdout), "nameserver 127.0.0.1\n");
            // The Node registered with its address.
            let nodes: Api<k_api_types::core::v1::Node> = Api::with_client(env.client.clone(), None);
            let registered = serde_json::to_value(nodes.get(&node.name).await.unwrap()).unwrap();
            assert!(
                registered["status"]["addresses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a["address"] == node.gateway.to_string()),
                "{registered}"
            );
        }
        .boxed()
    })
    .await;
}

/// 2. SIGKILL of the container's process: restarted, restartCount 1,
///    lastState terminated with 137, Ready again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_container_is_restarted() {
    with_env(1, |env| {
        async move {
            let node = &env.nodes[0];
            env.create(pod("victim", &node.name, json!([web_container(env, "web")]), json!({}))).await;
            let status = env.wait_status("victim", "Ready", Duration::from_secs(30), is_ready).await;
            let first = runtime_id(container(&status, "web"));
            let pid = node.runtime.container_pid(&first).expect("the running container's pid");
            assert!(alive(pid));
            sigkill(pid);

            let status = env
                .wait_status("victim", "restarted and Ready", Duration::from_secs(45), |s| {
                    container(s, "web")["restartCount"] == 1 && is_ready(s)
                })
                .await;
            let web = container(&status, "web");
            let last = &web["lastState"]["terminated"];
            assert_eq!(last["exitCode"], 137, "{web}");
            assert_eq!(last["containerID"], format!("k://{first}"), "{web}");
            assert!(web["state"]["running"].is_object(), "{web}");
            let second = runtime_id(web);
            assert_ne!(second, first);
            let new_pid = node.runtime.container_pid(&second).expect("the new instance's pid");
            assert!(!alive(pid) && alive(new_pid));
            let answer = http_get_retrying(SocketAddr::new(pod_ip(&status).into(), 8080), "/hello.txt").await;
            assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
        }
        .boxed()
    })
    .await;
}

/// 3. A liveness probe that fails (httpGet on a port nothing listens on)
///    gets the container restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_liveness_probe_restarts_the_container() {
    with_env(1, |env| {
        async move {
            let node = &env.nodes[0];
            let mut web = web_container(env, "web");
            web["livenessProbe"] =
                json!({"httpGet": {"path": "/", "port": 8081}, "periodSeconds": 1, "failureThreshold": 1});
            env.create(pod("sick", &node.name, json!([web]), json!({"terminationGracePeriodSeconds": 1}))).await;
            let status = env
                .wait_status("sick", "a restart", Duration::from_secs(45), |s| {
                    container(s, "web")["restartCount"].as_u64().is_some_and(|n| n >= 1)
                })
                .await;
            let web = container(&status, "web");
            assert!(web["lastState"]["terminated"].is_object(), "{web}");
            // The kubelet's events say why.
            let events: Api<Event> = Api::with_client(env.client.clone(), Some("default".into()));
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let list = events.list(&ListOptions::default()).await.unwrap();
                let said = |reason: &str, text: &str| {
                    list.items.iter().any(|e| {
                        e.involved_object.name == "sick"
                            && e.reason.as_deref() == Some(reason)
                            && e.message.as_deref().is_some_and(|m| m.contains(text))
                    })
                };
                if said("Unhealthy", "Liveness probe failed") && said("Killing", "failed liveness probe") {
                    break;
                }
                assert!(Instant::now() < deadline, "no Unhealthy/Killing events: {:?}", list.items);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        .boxed()
    })
    .await;
}

/// 4. limits.memory is enforced: the container is OOM-killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_limit_is_enforced_by_an_oom_kill() {
    with_env(1, |env| {
        async move {
            let node = &env.nodes[0];
            let hog = json!({
                "name": "hog", "image": "host/python",
                "command": ["python3", "-c", "b=bytearray(200*1024*1024); import time; time.sleep(60)"],
                "resources": {"limits": {"memory": "32Mi"}},
            });
            let created = env.create(pod("hog", &node.name, json!([hog]), json!({"restartPolicy": "Never"}))).await;
            let status = env
                .wait_status("hog", "terminated", Duration::from_secs(30), |s| {
                    container(s, "hog")["state"]["terminated"].is_object()
                })
                .await;
            let hog = container(&status, "hog");
            let terminated = &hog["state"]["terminated"];
            assert_eq!(terminated["reason"], "OOMKilled", "{hog}");
            assert_eq!(terminated["exitCode"], 137, "{hog}");
            // The runtime's cgroup carries the limit.
            let sandbox = env.sandboxes(node, &created.metadata.uid).await;
            assert_eq!(sandbox.len(), 1);
            let id = runtime_id(hog);
            let dirs = node.runtime.cgroup_dirs(&sandbox[0], Some(&id));
            let file = if node.runtime.cgroup_v2() { "memory.max" } else { "memory.limit_in_bytes" };
            let limit = dirs.iter().map(|d| d.join(file)).find(|f| f.exists()).expect("the memory limit file");
            assert_eq!(std::fs::read_to_string(limit).unwrap().trim(), (32u64 << 20).to_string());
            let status =
                env.wait_status("hog", "phase Failed", Duration::from_secs(10), |s| s["phase"] == "Failed").await;
            assert_eq!(container(&status, "hog")["restartCount"], 0);
        }
        .boxed()
    })
    .await;
}

/// 5. `kubectl logs`, `--tail=1` and `-c` read the containers' output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_logs_reads_the_containers_output() {
    with_env(1, |env| {
        async move {
            let node = &env.nodes[0];
            let talk = |name: &str, script: &str| {
                json!({"name": name, "image": "host/sh", "command": ["sh", "-c", format!("{script}; exec sleep 3600")]})
            };
            env.create(pod(
                "solo",
                &node.name,
                json!([talk("talk", "echo line-one; echo line-two; echo line-three")]),
                json!({}),
            ))
            .await;
            env.create(pod(
                "duo",
                &node.name,
                json!([talk("a", "echo from-a"), talk("b", "echo from-b-out; echo from-b-err >&2")]),
                json!({}),
            ))
            .await;
            let running = |s: &Value| {
                s["containerStatuses"]
                    .as_array()
                    .is_some_and(|all| !all.is_empty() && all.iter().all(|c| c["state"]["running"].is_object()))
            };
            env.wait_status("solo", "running", Duration::from_secs(30), running).await;
            env.wait_status("duo", "running", Duration::from_secs(30), running).await;

            // The output may still be on its way to the file.
            let logs = async |args: &[&str], want: &(dyn Fn(&str) -> bool + Sync)| -> String {
                let deadline = Instant::now() + Duration::from_secs(10);
                loop {
                    let (ok, out, err) = env.kubectl(args).await;
                    if ok && want(&out) {
                        return out;
                    }
                    assert!(Instant::now() < deadline, "kubectl {args:?}: ok={ok} stdout={out:?} stderr={err:?}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            };
            let all = logs(&["logs", "solo"], &|out| out.contains("line-three")).await;
            assert_eq!(all, "line-one\nline-two\nline-three\n");
            let tail = logs(&["logs", "solo", "--tail=1"], &|out| !out.is_empty()).await;
            assert_eq!(tail, "line-three\n");
            let a = logs(&["logs", "duo", "-c", "a"], &|out| !out.is_empty()).await;
            assert_eq!(a, "from-a\n");
            let b = logs(&["logs", "duo", "-c", "b"], &|out| out.lines().count() == 2).await;
            let mut lines: Vec<&str> = b.lines().collect();
            lines.sort_unstable();
            assert_eq!(lines, ["from-b-err", "from-b-out"], "stdout and stderr: {b:?}");
            let (ok, _, err) = env.kubectl(&["logs", "duo", "-c", "nope"]).await;
            assert!(!ok, "no container nope: {err}");

            // `kubectl logs -f` streams lines as they are written and ends
            // when the container exits.
            env.create(pod(
                "ticker",
                &node.name,
                json!([{"name": "tick", "image": "host/sh", "command": ["sh", "-c",
                    "for i in 1 2 3; do echo tick-$i; sleep 1; done"]}]),
                json!({"restartPolicy": "Never"}),
            ))
            .await;
            env.wait_status("ticker", "running", Duration::from_secs(30), running).await;
            let started = Instant::now();
            let (ok, out, err) = env.kubectl(&["logs", "-f", "ticker"]).await;
            let took = started.elapsed();
            assert!(ok, "kubectl logs -f: {err}");
            assert_eq!(out, "tick-1\ntick-2\ntick-3\n");
            assert!(took >= Duration::from_millis(1500), "followed the output as it came ({took:?})");
            assert!(took < Duration::from_secs(15), "ended when the container exited ({took:?})");
        }
        .boxed()
    })
    .await;
}

/// 6. `kubectl delete pod`: the processes stop within the grace period
///    (one exits on SIGTERM, one ignores it and is killed), the pod object
///    goes, and the pod's IP, namespace and cgroups are released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_pod_stops_it_within_the_grace_period_and_releases_its_ip() {
    with_env(1, |env| {
        async move {
            let node = &env.nodes[0];
            let polite = json!({"name": "polite", "image": "host/sh",
                "command": ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]});
            let grace = 4;
            let created = env
                .create(pod(
                    "doomed",
                    &node.name,
                    json!([web_container(env, "web"), polite]),
                    json!({"terminationGracePeriodSeconds": grace}),
                ))
                .await;
            let status = env.wait_status("doomed", "Ready", Duration::from_secs(30), is_ready).await;
            let ip = pod_ip(&status);
            let ip_file = node.ipam_dir.join(ip.to_string());
            assert!(ip_file.exists(), "host-local holds {ip} in {}", ip_file.display());
            let web_pid = node.runtime.container_pid(&runtime_id(container(&status, "web"))).unwrap();
            let polite_pid = node.runtime.container_pid(&runtime_id(container(&status, "polite"))).unwrap();
            let sandboxes = env.sandboxes(node, &created.metadata.uid).await;
            assert_eq!(sandboxes.len(), 1);
            let netns = node.runtime.sandbox_netns(&sandboxes[0]).expect("the pod's network namespace");
            assert!(netns.exists());
            let cgroups = node.runtime.cgroup_dirs(&sandboxes[0], None);
            assert!(cgroups.iter().any(|d| d.exists()));

            let started = Instant::now();
            let kubectl = {
                let mut cmd = Command::new("kubectl");
                cmd.arg("--kubeconfig").arg(&env.kubeconfig).arg("--cache-dir").arg(env.net.dir().join("kube-cache"));
                cmd.args(["delete", "pod", "doomed", "--timeout=60s"]);
                tokio::task::spawn_blocking(move || cmd.output())
            };
            let mut polite_gone = None;
            let mut web_gone = None;
            while polite_gone.is_none() || web_gone.is_none() {
                let now = started.elapsed();
                if polite_gone.is_none() && !alive(polite_pid) {
                    polite_gone = Some(now);
                }
                if web_gone.is_none() && !alive(web_pid) {
                    web_gone = Some(now);
                }
                assert!(now < Duration::from_secs(20), "processes still alive after {now:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let (polite_gone, web_gone) = (polite_gone.unwrap(), web_gone.unwrap());
            eprintln!("deletion: polite gone after {polite_gone:?}, web after {web_gone:?}");
            let grace = Duration::from_secs(grace);
            assert!(polite_gone < grace, "SIGTERM honoured at once: {polite_gone:?}");
            // http.server has no SIGTERM handler and is pid 1 of its PID
            // namespace: the signal is ignored, so it runs until the grace
            // period ends and SIGKILL comes.
            assert!(web_gone > grace - Duration::from_secs(1), "not killed before the grace period ends: {web_gone:?}");
            assert!(web_gone < grace + Duration::from_secs(2), "killed at the end of the grace period: {web_gone:?}");

            let out = kubectl.await.unwrap().expect("running kubectl delete");
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "kubectl delete: {stdout} {}", String::from_utf8_lossy(&out.stderr));
            assert!(stdout.contains("deleted"), "{stdout}");
            assert!(env.pods().get_opt("doomed").await.unwrap().is_none(), "the pod object is gone");
            eprintln!("deletion: pod object gone after {:?}", started.elapsed());
            assert!(!ip_file.exists(), "{ip} released");
            assert!(!netns.exists(), "the network namespace is deleted");
            assert!(cgroups.iter().all(|d| !d.exists()), "the pod's cgroups are removed");
            assert!(env.sandboxes(node, &created.metadata.uid).await.is_empty(), "the sandbox is removed");
        }
        .boxed()
    })
    .await;
}

/// 7. Two nodes on one machine: a pod on node 1 reaches an http.server pod
///    on node 2 by pod IP, routed by the host (no NAT: the server sees the
///    client's pod IP).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_reaches_a_pod_on_another_node_by_pod_ip() {
    with_env(2, |env| {
        async move {
            std::fs::write(IP_FORWARD, "1").expect("turning IP forwarding on");
            let (one, two) = (&env.nodes[0], &env.nodes[1]);
            env.create(pod("server", &two.name, json!([web_container(env, "web")]), json!({}))).await;
            let client = json!({"name": "c", "image": "host/python", "command": ["sleep", "3600"]});
            env.create(pod("client", &one.name, json!([client]), json!({"terminationGracePeriodSeconds": 0}))).await;
            let server = env.wait_status("server", "Ready", Duration::from_secs(30), is_ready).await;
            let client = env
                .wait_status("client", "running", Duration::from_secs(30), |s| {
                    container(s, "c")["state"]["running"].is_object() && s["podIP"].is_string()
                })
                .await;
            let (server_ip, client_ip) = (pod_ip(&server), pod_ip(&client));
            assert!(two.contains(server_ip) && one.contains(client_ip), "{server_ip} on node 2, {client_ip} on node 1");

            let script = format!(
                "import urllib.request as u; r = u.urlopen('http://{server_ip}:8080/hello.txt', timeout=5); \
                 print(r.status, r.read().decode().strip())"
            );
            let argv = ["python3".to_string(), "-c".to_string(), script];
            let id = runtime_id(container(&client, "c"));
            let answer = one.runtime.exec_sync(&id, &argv, Duration::from_secs(20)).await.expect("exec in the client");
            let (stdout, stderr) = (String::from_utf8_lossy(&answer.stdout), String::from_utf8_lossy(&answer.stderr));
            assert_eq!(answer.exit_code, 0, "stdout {stdout} stderr {stderr}");
            assert_eq!(stdout, "200 hello from the pod\n");
            // The server saw the client's own address.
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let (ok, out, err) = env.kubectl(&["logs", "server"]).await;
                if ok && out.lines().any(|l| l.starts_with(&client_ip.to_string()) && l.contains("GET /hello.txt")) {
                    break;
                }
                assert!(Instant::now() < deadline, "the server's log does not show {client_ip}: {out} {err}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        .boxed()
    })
    .await;
}
