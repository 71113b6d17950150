//! Leader failover between two processes: two candidates, each a separate
//! OS process running this test binary in "candidate" mode, elect a leader
//! through k-apiserver over HTTP. When the leader's process is killed (no
//! release), the other takes over once the lease expires.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use k_apiserver::{ApiServer, ServerConfig};
use k_runtime::leader::{LeaderElectionConfig, LeaderElector};
use k_store::Store;
use k_store::remote::{RemoteApi, RemoteConfig};

const SERVER: &str = "K_FAILOVER_SERVER";
const IDENTITY: &str = "K_FAILOVER_IDENTITY";

fn config(identity: &str) -> LeaderElectionConfig {
    LeaderElectionConfig {
        lease_duration: Duration::from_millis(1500),
        renew_deadline: Duration::from_millis(1000),
        retry_period: Duration::from_millis(200),
        ..LeaderElectionConfig::new("kube-system", "failover", identity)
    }
}

/// The child process's entry point (not a test of its own: the test below
/// runs it with `--ignored` in each candidate process): runs for the
/// election and prints `LEADING <identity>` once it leads.
#[test]
#[ignore = "the entry point of the candidate processes of the failover test"]
fn candidate() {
    let server = std::env::var(SERVER).expect("run by the failover test, with K_FAILOVER_SERVER set");
    let identity = std::env::var(IDENTITY).expect("run by the failover test, with K_FAILOVER_IDENTITY set");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    runtime.block_on(async move {
        let api = Arc::new(RemoteApi::connect(RemoteConfig::new(server)).await.expect("connect"));
        let elector = LeaderElector::new(api, config(&identity));
        let work = async {
            println!("\nLEADING {identity}");
            futures::future::pending::<()>().await;
        };
        elector.run(work, futures::future::pending()).await;
    });
}

/// A candidate process and the lines it prints.
struct Candidate {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Candidate {
    fn start(server: &str, identity: &str) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "candidate", "--ignored", "--nocapture", "--test-threads=1"])
            .env(SERVER, server)
            .env(IDENTITY, identity)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting a candidate process");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Candidate { child, lines }
    }

    /// Whether it printed that it leads within `within`.
    fn leads_within(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains("LEADING ") => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        false
    }
}

impl Drop for Candidate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_standby_process_takes_over_when_the_leader_dies() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let server = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = ApiServer::new(
            Arc::new(Store::in_memory()),
            ServerConfig { external_address: addr.to_string(), ..ServerConfig::default() },
        );
        tokio::spawn(async move { server.serve(listener, futures::future::pending()).await });
        format!("http://{addr}")
    });

    let mut first = Candidate::start(&server, "first");
    assert!(first.leads_within(Duration::from_secs(20)), "the first candidate never led");
    let second = Candidate::start(&server, "second");
    assert!(!second.leads_within(Duration::from_secs(3)), "the standby led while the leader was alive");

    // The leader's process dies without releasing the lease.
    let killed = Instant::now();
    first.child.kill().unwrap();
    let _ = first.child.wait();
    assert!(second.leads_within(Duration::from_secs(20)), "the standby never took over");
    let took = killed.elapsed();
    assert!(took >= Duration::from_millis(1000), "not before the lease could expire: {took:?}");
}
