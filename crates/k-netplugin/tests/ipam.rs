//! host-local compatibility: our `HostLocal` and the reference `host-local`
//! binary run the same operations on copies of one data directory and must
//! leave the same files and give the same results; and both binaries
//! allocate from one directory concurrently without handing an address out
//! twice.
//!
//! Needs the reference binary (Debian package `containernetworking-plugins`,
//! found in `$K_CNI_PLUGIN_DIR`, `/usr/lib/cni` or `/opt/cni/bin`); no root.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use k_netplugin::ipam::HostLocal;
use k_netplugin::types::{CniError, CniResult, PluginConf};
use k_netplugin::{Attachment, NetworkPlugin};
use serde_json::{Value, json};

/// The reference host-local binary; panics naming the package when absent.
fn reference() -> PathBuf {
    let dirs = std::env::var_os("K_CNI_PLUGIN_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain(["/usr/lib/cni", "/opt/cni/bin"].map(PathBuf::from));
    for dir in dirs {
        let path = dir.join("host-local");
        if path.is_file() {
            return path;
        }
    }
    panic!(
        "the reference host-local plugin is missing: install the Debian package containernetworking-plugins \
         (or point K_CNI_PLUGIN_DIR at a directory holding host-local)"
    );
}

/// One CNI call.
#[derive(Clone, Debug)]
struct Call {
    command: &'static str,
    id: String,
    ifname: String,
    args: String,
    /// The configuration without `ipam.dataDir`, which each side sets.
    conf: Value,
}

fn call(command: &'static str, id: &str, conf: &Value) -> Call {
    Call { command, id: id.into(), ifname: "eth0".into(), args: String::new(), conf: conf.clone() }
}

impl Call {
    fn args(mut self, args: &str) -> Call {
        self.args = args.into();
        self
    }

    fn ifname(mut self, ifname: &str) -> Call {
        self.ifname = ifname.into();
        self
    }

    fn stdin(&self, data_dir: &Path) -> Value {
        let mut conf = self.conf.clone();
        conf["ipam"]["dataDir"] = json!(data_dir);
        conf
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CNI_COMMAND", self.command.to_string()),
            ("CNI_CONTAINERID", self.id.clone()),
            ("CNI_NETNS", "/proc/self/ns/net".into()),
            ("CNI_IFNAME", self.ifname.clone()),
            ("CNI_PATH", "/usr/lib/cni".into()),
            ("CNI_ARGS", self.args.clone()),
        ]
    }

    /// A process running `binary` for this call, stdin written.
    fn spawn(&self, binary: &Path, data_dir: &Path) -> std::process::Child {
        let mut child = Command::new(binary)
            .envs(self.env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("running {}: {e}", binary.display()));
        let stdin = self.stdin(data_dir).to_string();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child
    }

    /// The call through a binary: the result (ADD), nothing, or its Error.
    fn run_binary(&self, binary: &Path, data_dir: &Path) -> Outcome {
        let out = self.spawn(binary, data_dir).wait_with_output().unwrap();
        outcome_of(out.status.success(), &out.stdout, &out.stderr)
    }

    /// The call through our plugin, in-process.
    async fn run_ours(&self, data_dir: &Path) -> Outcome {
        let conf: PluginConf = serde_json::from_value(self.stdin(data_dir)).unwrap();
        let at = Attachment {
            args: Attachment::parse_args(&self.args).unwrap(),
            ..Attachment::new(self.id.clone(), "/proc/self/ns/net", self.ifname.clone())
        };
        let plugin = HostLocal::default();
        match self.command {
            "ADD" => plugin.add(&conf, &at).await.map(Some),
            "DEL" => plugin.del(&conf, &at).await.map(|()| None),
            "CHECK" => plugin.check(&conf, &at).await.map(|()| None),
            other => panic!("no such command in these tests: {other}"),
        }
    }
}

type Outcome = Result<Option<CniResult>, CniError>;

fn outcome_of(success: bool, stdout: &[u8], stderr: &[u8]) -> Outcome {
    let context =
        || format!("stdout {:?}, stderr {:?}", String::from_utf8_lossy(stdout), String::from_utf8_lossy(stderr));
    if !success {
        return Err(serde_json::from_slice(stdout).unwrap_or_else(|e| panic!("no Error JSON ({e}): {}", context())));
    }
    if stdout.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: Value = serde_json::from_slice(stdout).unwrap_or_else(|e| panic!("no result JSON ({e}): {}", context()));
    Ok(Some(CniResult::from_json(&value).unwrap()))
}

/// A directory's files: name → (content, mode).
fn snapshot(dir: &Path) -> BTreeMap<String, (Vec<u8>, u32)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .map(|e| {
            let e = e.unwrap();
            let mode = e.metadata().unwrap().permissions().mode() & 0o7777;
            (e.file_name().into_string().unwrap(), (fs::read(e.path()).unwrap(), mode))
        })
        .collect()
}

fn show(files: &BTreeMap<String, (Vec<u8>, u32)>) -> String {
    files
        .iter()
        .map(|(name, (content, mode))| format!("{name} {mode:o} {:?}", String::from_utf8_lossy(content)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The two outcomes agree: same success, same result (the reference's
/// empty `"dns": {}` reads as no DNS), and on failure the same message
/// where we kept the reference's (allocation failures, code 999).
fn assert_same(step: usize, call: &Call, theirs: &Outcome, ours: &Outcome) {
    let what = format!("step {step}: {} {} {} {:?}", call.command, call.id, call.ifname, call.args);
    match (theirs, ours) {
        (Ok(a), Ok(b)) => {
            let strip = |r: &Option<CniResult>| r.clone().map(|r| CniResult { cni_version: String::new(), ..r });
            assert_eq!(strip(a), strip(b), "{what}: results differ");
        }
        (Err(a), Err(b)) => {
            if b.code == 999 {
                assert_eq!((a.code, &a.msg), (b.code, &b.msg), "{what}: errors differ");
            } else {
                assert_eq!(a.code, 999, "{what}: the reference's code");
            }
        }
        _ => panic!("{what}: the reference gave {theirs:?}, we gave {ours:?}"),
    }
}

/// Runs `calls` with the reference on one copy of `seed` and with ours on
/// another, comparing each outcome and the network directory after each
/// step. With `shared`, a third directory is driven by both, alternating
/// step by step, and must end up the same too.
async fn compare(seed: &BTreeMap<String, Vec<u8>>, calls: &[Call], shared: bool) {
    let reference = reference();
    let tmp = tempfile::tempdir().unwrap();
    let sides = ["theirs", "ours", "mixed"].map(|s| tmp.path().join(s));
    let network = calls[0].conf["name"].as_str().unwrap().to_owned();
    for side in &sides {
        if !seed.is_empty() {
            fs::create_dir_all(side.join(&network)).unwrap();
        }
        for (name, content) in seed {
            fs::write(side.join(&network).join(name), content).unwrap();
        }
    }
    for (step, call) in calls.iter().enumerate() {
        let theirs = call.run_binary(&reference, &sides[0]);
        let ours = call.run_ours(&sides[1]).await;
        assert_same(step, call, &theirs, &ours);
        let (a, b) = (snapshot(&sides[0].join(&network)), snapshot(&sides[1].join(&network)));
        assert!(
            a == b,
            "step {step} ({call:?}): directories differ\n--- reference\n{}\n--- ours\n{}",
            show(&a),
            show(&b)
        );
        if shared {
            let mixed =
                if step % 2 == 0 { call.run_binary(&reference, &sides[2]) } else { call.run_ours(&sides[2]).await };
            assert_same(step, call, &theirs, &mixed);
            let c = snapshot(&sides[2].join(&network));
            assert!(
                a == c,
                "step {step}: the shared directory differs\n--- reference\n{}\n--- mixed\n{}",
                show(&a),
                show(&c)
            );
        }
    }
}

fn net(cni_version: &str, ipam: Value) -> Value {
    let mut ipam = ipam;
    ipam["type"] = json!("host-local");
    json!({"cniVersion": cni_version, "name": "n1", "type": "bridge", "ipam": ipam})
}

#[tokio::test]
async fn exhaustion_round_robin_wrap_and_release() {
    let conf = net("1.0.0", json!({"ranges": [[{"subnet": "10.9.0.0/29"}]]}));
    let mut calls: Vec<Call> = (1..=7).map(|i| call("ADD", &format!("c{i}"), &conf)).collect();
    calls.extend([
        call("DEL", "c2", &conf),
        call("DEL", "c4", &conf),
        call("DEL", "c4", &conf),
        call("DEL", "unknown", &conf),
        call("ADD", "c8", &conf),
        call("ADD", "c9", &conf),
        call("ADD", "c10", &conf),
        call("ADD", "c8", &conf),
        call("CHECK", "c8", &conf),
        call("CHECK", "c8", &conf).ifname("eth1"),
        call("ADD", "c8", &conf).ifname("eth1"),
        call("DEL", "c8", &conf),
        call("CHECK", "c8", &conf),
    ]);
    compare(&BTreeMap::new(), &calls, true).await;
}

#[tokio::test]
async fn ipv4_and_ipv6_sets_routes_dns_and_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let resolv = tmp.path().join("resolv.conf");
    fs::write(&resolv, "# test\nnameserver 10.96.0.10\nnameserver fd00::10\ndomain cluster.local\nsearch a.svc b.svc\noptions ndots:5\n").unwrap();
    let ipam = json!({
        "ranges": [[{"subnet": "10.9.0.0/24", "rangeStart": "10.9.0.200"}], [{"subnet": "fd00:9::/64"}]],
        "routes": [{"dst": "0.0.0.0/0"}, {"dst": "10.0.0.0/8", "gw": "10.9.0.254"}, {"dst": "::/0"}],
        "resolvConf": resolv,
    });
    let v1 = net("1.0.0", ipam.clone());
    let v04 = net("0.4.0", ipam.clone());
    let v031 = net("0.3.1", ipam);
    let calls = [
        call("ADD", "a", &v1),
        call("ADD", "b", &v04),
        call("ADD", "c", &v031),
        call("ADD", "d", &v1).ifname("net1"),
        call("CHECK", "d", &v1).ifname("net1"),
        call("DEL", "b", &v04),
        call("ADD", "e", &v1),
    ];
    compare(&BTreeMap::new(), &calls, true).await;
}

#[tokio::test]
async fn ranges_with_start_end_and_a_gateway_inside() {
    let conf = net(
        "1.0.0",
        json!({"ranges": [[
            {"subnet": "10.9.0.0/28", "rangeStart": "10.9.0.3", "rangeEnd": "10.9.0.6", "gateway": "10.9.0.4"},
            {"subnet": "10.9.1.0/30"},
            {"subnet": "10.9.2.0/24", "rangeStart": "10.9.2.250"}
        ], [{"subnet": "fd00:1:2:3:4:5:6:0/126"}]]}),
    );
    let mut calls: Vec<Call> = (1..=9).map(|i| call("ADD", &format!("c{i}"), &conf)).collect();
    calls.extend([
        call("DEL", "c1", &conf),
        call("DEL", "c3", &conf),
        call("ADD", "c10", &conf),
        call("ADD", "c11", &conf),
    ]);
    compare(&BTreeMap::new(), &calls, true).await;
}

#[tokio::test]
async fn requested_addresses_through_the_three_routes() {
    let ipam = json!({"ranges": [[{"subnet": "10.9.0.0/24"}], [{"subnet": "fd00:9::/64"}]]});
    let plain = net("1.0.0", ipam.clone());
    let mut with_args = net("1.0.0", ipam.clone());
    with_args["args"] = json!({"cni": {"ips": ["10.9.0.60", "fd00:9::60"]}});
    let mut with_runtime = net("1.0.0", ipam.clone());
    with_runtime["runtimeConfig"] = json!({"ips": ["10.9.0.70/24"]});
    let mut outside = net("1.0.0", ipam);
    outside["runtimeConfig"] = json!({"ips": ["10.10.0.1"]});
    let calls = [
        call("ADD", "a", &plain).args("IP=10.9.0.50"),
        call("ADD", "b", &plain)
            .args("IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID=b;IP=10.9.0.51"),
        call("ADD", "c", &plain).args("K8S_POD_NAME=p"),
        call("ADD", "c", &plain).args("IgnoreUnknown=true;FOO=x"),
        call("ADD", "d", &with_args),
        call("ADD", "e", &with_runtime),
        call("ADD", "f", &plain).args("IP=10.9.0.50"),
        call("ADD", "f", &plain).args("IP=10.9.0.1"),
        call("ADD", "f", &plain).args("IP=fd00:9::60"),
        call("ADD", "f", &outside),
        call("ADD", "f", &plain).args("IP="),
        call("ADD", "g", &plain).args("IP=zzz"),
        call("DEL", "a", &plain),
        call("ADD", "h", &plain).args("IP=10.9.0.50"),
    ];
    compare(&BTreeMap::new(), &calls, true).await;
}

#[tokio::test]
async fn legacy_range_runtime_ranges_and_an_existing_directory() {
    let legacy = net(
        "1.0.0",
        json!({"subnet": "10.5.0.0/24", "rangeStart": "10.5.0.10", "gateway": "10.5.0.254",
               "ranges": [[{"subnet": "10.6.0.0/24"}]]}),
    );
    let mut runtime = legacy.clone();
    runtime["runtimeConfig"] = json!({"ipRanges": [[{"subnet": "10.20.0.0/24"}]]});
    // A directory as an older version left it: an old-format file, a
    // last_reserved_ip in the middle of the range.
    let seed: BTreeMap<String, Vec<u8>> = [
        ("10.5.0.11".to_string(), b"old".to_vec()),
        ("10.5.0.12".to_string(), b"keep\r\neth0".to_vec()),
        ("last_reserved_ip.0".to_string(), b"10.5.0.11".to_vec()),
    ]
    .into();
    let calls = [
        call("ADD", "a", &legacy),
        call("ADD", "b", &runtime),
        call("CHECK", "old", &legacy).ifname("eth7"),
        call("DEL", "old", &legacy),
        call("ADD", "c", &legacy),
        call("DEL", "b", &runtime),
        call("DEL", "keep", &legacy).ifname("eth1"),
    ];
    compare(&seed, &calls, false).await;
}

#[tokio::test]
async fn configuration_errors_fail_on_both_sides() {
    let confs = [
        json!({"ranges": [[{"subnet": "10.9.0.5/24"}]]}),
        json!({"ranges": [[{"subnet": "10.9.0.0/31"}]]}),
        json!({"ranges": [[{"subnet": "10.9.2.0/24", "rangeStart": "10.9.3.1"}]]}),
        json!({"ranges": [[]]}),
        json!({"ranges": [[{"subnet": "10.9.2.0/24"}, {"subnet": "fd00::/64"}]]}),
        json!({"ranges": [[{"subnet": "10.9.2.0/24"}], [{"subnet": "10.9.2.128/25"}]]}),
        json!({}),
    ];
    let reference = reference();
    for ipam in confs {
        let conf = net("1.0.0", ipam.clone());
        let tmp = tempfile::tempdir().unwrap();
        let c = call("ADD", "a", &conf);
        let theirs = c.run_binary(&reference, &tmp.path().join("theirs")).unwrap_err();
        let ours = c.run_ours(&tmp.path().join("ours")).await.unwrap_err();
        assert_eq!((theirs.code, ours.code), (999, 7), "{ipam}: {theirs:?} / {ours:?}");
    }
}

/// 16 ADDs at once on one data directory, alternately by the reference
/// binary and by `k-host-local`, then 16 DELs the same way.
#[test]
fn sixteen_concurrent_adds_from_both_binaries() {
    let reference = reference();
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_k-host-local"));
    let tmp = tempfile::tempdir().unwrap();
    let conf = net("1.0.0", json!({"ranges": [[{"subnet": "10.44.0.0/24"}]]}));
    let binary = |i: usize| if i.is_multiple_of(2) { &reference } else { &ours };
    let calls: Vec<Call> = (0..16).map(|i| call("ADD", &format!("pod{i:02}"), &conf)).collect();
    let children: Vec<_> = calls.iter().enumerate().map(|(i, c)| c.spawn(binary(i), tmp.path())).collect();
    let mut addresses = BTreeSet::new();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        let who = binary(i).display();
        let result = outcome_of(out.status.success(), &out.stdout, &out.stderr)
            .unwrap_or_else(|e| panic!("ADD pod{i:02} by {who}: {e}"))
            .unwrap_or_else(|| panic!("ADD pod{i:02} by {who} printed no result"));
        assert_eq!(result.ips.len(), 1);
        let address = result.ips[0].address.trim_end_matches("/24").to_owned();
        let owner = fs::read(tmp.path().join("n1").join(&address)).unwrap();
        assert_eq!(owner, format!("pod{i:02}\r\neth0").as_bytes(), "{address}'s file names its pod");
        assert!(addresses.insert(address.clone()), "{address} handed out twice");
    }
    assert_eq!(addresses.len(), 16);
    let files = snapshot(&tmp.path().join("n1"));
    let owner_files: Vec<&String> = files.keys().filter(|n| n.parse::<std::net::IpAddr>().is_ok()).collect();
    assert_eq!(owner_files.len(), 16, "{}", show(&files));
    let dels: Vec<Call> = (0..16).map(|i| call("DEL", &format!("pod{i:02}"), &conf)).collect();
    let children: Vec<_> = dels.iter().enumerate().map(|(i, c)| c.spawn(binary(i + 1), tmp.path())).collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "DEL: {}", String::from_utf8_lossy(&out.stdout));
    }
    let left: Vec<String> = snapshot(&tmp.path().join("n1")).into_keys().collect();
    assert_eq!(left, ["last_reserved_ip.0", "lock"]);
}
