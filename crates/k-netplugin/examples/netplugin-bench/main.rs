//! k-netplugin's benchmarks (root): `cni`, `proxy` and `iptables`.
//!
//! ```text
//! cargo build --release -p k-netplugin --bins --examples
//! target/release/examples/netplugin-bench cni [rounds]
//! target/release/examples/netplugin-bench proxy [seconds]
//! target/release/examples/netplugin-bench iptables [limit-seconds]
//! ```
//!
//! - `cni`: ADD+DEL latency of the reference `bridge` with k's IPAM
//!   (`k-host-local`) against `bridge` with the reference `host-local`,
//!   interleaved in one run, p50/p99 and the ratio.
//! - `proxy`: the userspace proxy's throughput and connection rate against
//!   direct connections to the backend, and the p99 latency it adds.
//! - `iptables`: the iptables proxier's full and one-service sync time for
//!   1,000 and 10,000 services, inside a network namespace.
//!
//! Everything happens in namespaces made for the run (`kb<pid>-…`) and
//! removed at the end.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use k_netplugin::exec::{Executor, RuntimeConf};
use k_netplugin::netns::NetNs;
use k_netplugin::types::NetworkConfigList;
use serde_json::json;

mod proxy_bench;

/// Namespaces removed when dropped.
#[derive(Debug, Default)]
struct Spaces(Vec<NetNs>);

impl Spaces {
    fn create(&mut self, tag: &str) -> NetNs {
        let name = format!("kb{}-{tag}", std::process::id());
        let ns = NetNs::create(&name).unwrap_or_else(|e| panic!("creating namespace {name} (root needed): {e}"));
        k_netplugin::iproute::link_up(&ns, "lo").expect("lo up");
        self.0.push(ns.clone());
        ns
    }
}

impl Drop for Spaces {
    fn drop(&mut self) {
        for ns in &self.0 {
            let _ = ns.delete();
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn reference_dir() -> PathBuf {
    ["/usr/lib/cni", "/opt/cni/bin"]
        .into_iter()
        .map(PathBuf::from)
        .find(|d| d.join("bridge").is_file())
        .expect("the reference plugins: apt-get install containernetworking-plugins")
}

fn our_bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(|p| p.parent()).expect("target dir").to_path_buf();
    assert!(
        dir.join("k-host-local").is_file(),
        "{} has no k-host-local: run `cargo build --release -p k-netplugin --bins --examples` first",
        dir.display()
    );
    dir
}

/// ADD+DEL of `lists[0]` (k) and `lists[1]` (the reference), interleaved
/// round by round after one warm-up round, then p50/p99 and the ratio.
async fn compare(
    exec: &Executor,
    pod: &NetNs,
    lists: [&NetworkConfigList; 2],
    rounds: usize,
    title: &str,
    labels: [&str; 2],
    attachment: impl Fn(usize, usize) -> (String, String),
) {
    let mut samples: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    for round in 0..=rounds {
        for (i, l) in lists.into_iter().enumerate() {
            let (id, ifname) = attachment(round, i);
            let rt = RuntimeConf::new(id, pod.path(), ifname);
            let start = Instant::now();
            exec.add(l, &rt).await.expect("ADD");
            exec.del(l, &rt).await.expect("DEL");
            if round > 0 {
                samples[i].push(start.elapsed());
            }
        }
    }
    for s in &mut samples {
        s.sort();
    }
    let (o50, o99) = (percentile(&samples[0], 0.5), percentile(&samples[0], 0.99));
    let (r50, r99) = (percentile(&samples[1], 0.5), percentile(&samples[1], 0.99));
    println!("{title}, {rounds} rounds interleaved");
    println!("  {:<22} p50 {:.2} ms  p99 {:.2} ms", format!("{}:", labels[0]), ms(o50), ms(o99));
    println!("  {:<22} p50 {:.2} ms  p99 {:.2} ms", format!("{}:", labels[1]), ms(r50), ms(r99));
    println!(
        "  ratio (reference / k): p50 {:.2}x  p99 {:.2}x",
        r50.as_secs_f64() / o50.as_secs_f64(),
        r99.as_secs_f64() / o99.as_secs_f64()
    );
}

async fn cni(rounds: usize) {
    let mut spaces = Spaces::default();
    let node = spaces.create("node");
    let work = std::env::temp_dir().join(format!("kb{}-cni", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let exec =
        Executor::new(vec![our_bin_dir(), reference_dir()], work.join("cache")).with_host_netns(&node).expect("node");
    let list = |ipam: &str, bridge: &str, subnet: &str| {
        let text = json!({"cniVersion": "1.0.0", "name": format!("bench-{ipam}"), "plugins": [{
            "type": "bridge", "bridge": bridge, "isGateway": true,
            "ipam": {"type": ipam, "dataDir": work.join("ipam"), "ranges": [[{"subnet": subnet}]]}}]});
        NetworkConfigList::from_bytes(text.to_string().as_bytes()).expect("list")
    };
    let ours = list("k-host-local", "kb-ours", "10.201.0.0/16");
    let theirs = list("host-local", "kb-ref", "10.202.0.0/16");
    let pod = spaces.create("pod");
    let labels = ["bridge + k-host-local", "bridge + host-local"];
    compare(&exec, &pod, [&ours, &theirs], rounds, "CNI ADD+DEL, bridge + IPAM", labels, |round, i| {
        (format!("c{round}"), format!("eth{i}"))
    })
    .await;
    // The IPAM plugins alone (what differs between the two chains above).
    let ipam_only = |ipam: &str, subnet: &str| {
        let text = json!({"cniVersion": "1.0.0", "name": format!("ipam-{ipam}"), "plugins": [{
            "type": ipam, "ipam": {"type": ipam, "dataDir": work.join("ipam"), "ranges": [[{"subnet": subnet}]]}}]});
        NetworkConfigList::from_bytes(text.to_string().as_bytes()).expect("list")
    };
    let (ours, theirs) = (ipam_only("k-host-local", "10.203.0.0/16"), ipam_only("host-local", "10.204.0.0/16"));
    let labels = ["k-host-local", "host-local"];
    compare(&exec, &pod, [&ours, &theirs], rounds, "IPAM alone (ADD+DEL through the executor)", labels, |round, _| {
        (format!("i{round}"), "eth0".into())
    })
    .await;
    let _ = std::fs::remove_dir_all(&work);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let what = args.first().map(String::as_str).unwrap_or("");
    let n: Option<usize> = args.get(1).and_then(|a| a.parse().ok());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    match what {
        "cni" => runtime.block_on(cni(n.unwrap_or(200))),
        "proxy" => runtime.block_on(proxy_bench::proxy(n.unwrap_or(5))),
        "iptables" => runtime.block_on(proxy_bench::iptables(Duration::from_secs(n.unwrap_or(120) as u64))),
        _ => {
            eprintln!("usage: netplugin-bench cni [rounds] | proxy [seconds] | iptables [limit-seconds]");
            std::process::exit(2);
        }
    }
}
