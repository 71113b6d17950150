//! Test support (feature `testing`, and the crate's own tests): namespaces
//! that clean up after themselves, lookups that fail naming the Debian
//! package to install, and small TCP/UDP servers and clients inside
//! namespaces.
//!
//! Everything a [`TestNet`] makes is named `kt<pid>-…`: namespaces
//! `kt<pid>-<n>` and temporary directories `kt<pid>-d<n>`, with `n` from a
//! process-wide counter, so parallel tests (and parallel test processes)
//! never clash. Dropping a `TestNet` kills what it started and deletes what it
//! made, also while unwinding from a panic; a `TestNet` created later removes
//! what a killed test process (a dead pid) left behind.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::iproute;
use crate::netns::{NETNS_RUN_DIR, NetNs, NsTask, NsWorker};

/// How long [`tcp_request`] and [`udp_request`] wait in all.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The counter behind every name a [`TestNet`] hands out.
static NEXT: AtomicU32 = AtomicU32::new(0);

/// Panics with a clear message unless the process runs as root.
pub fn require_root() {
    if !rustix::process::geteuid().is_root() {
        panic!(
            "these tests need root: they create network namespaces, veths and routes \
             (run them as root, for example with `sudo -E cargo test`)"
        );
    }
}

/// The directory holding the reference CNI plugins: the first of
/// `$K_CNI_PLUGIN_DIR`, `/usr/lib/cni` and `/opt/cni/bin` that holds
/// `bridge`. Panics naming the Debian package `containernetworking-plugins`
/// when none does.
pub fn reference_plugin_dir() -> PathBuf {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("K_CNI_PLUGIN_DIR").filter(|d| !d.is_empty()) {
        candidates.push(dir.into());
    }
    candidates.push("/usr/lib/cni".into());
    candidates.push("/opt/cni/bin".into());
    if let Some(dir) = candidates.iter().find(|d| d.join("bridge").is_file()) {
        return dir.clone();
    }
    panic!(
        "the reference CNI plugins were not found (no `bridge` in {}): install the Debian package \
         containernetworking-plugins (apt-get install containernetworking-plugins) or set K_CNI_PLUGIN_DIR",
        candidates.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
    );
}

/// The executable `cmd` on `PATH` (then `/usr/sbin`, `/sbin` and the bin
/// directories); panics naming the Debian `package` that provides it when it
/// is not found.
pub fn require_command(cmd: &str, package: &str) -> PathBuf {
    iproute::find_binary(cmd).unwrap_or_else(|| {
        panic!(
            "the command `{cmd}` was not found on PATH, /usr/sbin or /sbin: install the Debian package \
             {package} (apt-get install {package})"
        )
    })
}

/// Namespaces, processes and a directory for one test, all removed on drop.
#[derive(Debug)]
pub struct TestNet {
    namespaces: Vec<NetNs>,
    children: Vec<Child>,
    dir: PathBuf,
}

impl Default for TestNet {
    fn default() -> Self {
        TestNet::new()
    }
}

impl TestNet {
    /// Checks for root and `ip`, removes what dead test processes left
    /// behind, and creates this test's temporary directory.
    pub fn new() -> TestNet {
        require_root();
        require_command("ip", "iproute2");
        cleanup_leftovers();
        let dir = std::env::temp_dir().join(format!("kt{}-d{}", std::process::id(), next()));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            panic!("creating the test directory {}: {e}", dir.display());
        }
        TestNet { namespaces: Vec::new(), children: Vec::new(), dir }
    }

    /// A fresh name `kt<pid>-<n>` (at most 15 characters), not created.
    pub fn unique_name(&self) -> String {
        format!("kt{}-{}", std::process::id(), next())
    }

    /// A new namespace `kt<pid>-<n>` with `lo` up, deleted on drop.
    pub fn netns(&mut self) -> NetNs {
        let name = self.unique_name();
        let ns = NetNs::create(&name).unwrap_or_else(|e| panic!("creating network namespace {name}: {e}"));
        self.namespaces.push(ns.clone());
        if let Err(e) = iproute::link_up(&ns, "lo") {
            panic!("setting lo up in {name}: {e}");
        }
        ns
    }

    /// Deletes `ns` on drop too (for namespaces made by the code under test),
    /// after killing the processes inside it.
    pub fn track(&mut self, ns: NetNs) {
        if !self.namespaces.contains(&ns) {
            self.namespaces.push(ns);
        }
    }

    /// Joins `a` and `b` by the veth pair `a_if`–`b_if`, gives each end its
    /// address (`10.1.0.1/24`) and sets both up.
    pub fn veth(&mut self, a: &NetNs, a_if: &str, a_cidr: &str, b: &NetNs, b_if: &str, b_cidr: &str) {
        let done = iproute::veth_pair(a, a_if, b, b_if)
            .and_then(|()| iproute::addr_add(a, a_if, a_cidr))
            .and_then(|()| iproute::addr_add(b, b_if, b_cidr))
            .and_then(|()| iproute::link_up(a, a_if))
            .and_then(|()| iproute::link_up(b, b_if));
        if let Err(e) = done {
            panic!("veth {}:{a_if} – {}:{b_if}: {e}", a.name(), b.name());
        }
    }

    /// Starts `cmd` inside `ns`; it is killed on drop. Returns its pid.
    pub fn spawn(&mut self, ns: &NetNs, mut cmd: Command) -> u32 {
        let shown = format!("{cmd:?}");
        let child = ns
            .run(move || cmd.spawn())
            .and_then(|spawned| spawned)
            .unwrap_or_else(|e| panic!("starting {shown} in {}: {e}", ns.name()));
        let pid = child.id();
        self.children.push(child);
        pid
    }

    /// A temporary directory of this test, removed on drop.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in self.namespaces.iter().rev() {
            kill_processes_in(ns);
            if let Err(e) = ns.delete() {
                eprintln!("TestNet: deleting network namespace {}: {e}", ns.name());
            }
        }
        match std::fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => eprintln!("TestNet: removing {}: {e}", self.dir.display()),
            _ => {}
        }
    }
}

fn next() -> u32 {
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// SIGKILLs every process (other than this one) whose network namespace is `ns`.
fn kill_processes_in(ns: &NetNs) {
    if !ns.exists() {
        return;
    }
    let Ok(out) = iproute::run_ip(&["netns", "pids", ns.name()]) else { return };
    let own = std::process::id();
    for pid in out.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
        if pid as u32 == own {
            continue;
        }
        if let Some(pid) = rustix::process::Pid::from_raw(pid) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

/// The pid in a name `kt<pid>-<rest>`, with whether `<rest>` is a plain
/// namespace counter (`<n>`) or directory counter (`d<n>`).
fn parse_owner(name: &str) -> Option<(u32, &str)> {
    let rest = name.strip_prefix("kt")?;
    let (pid, tail) = rest.split_once('-')?;
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) || tail.is_empty() {
        return None;
    }
    Some((pid.parse().ok()?, tail))
}

/// Removes namespaces and directories of dead test processes, and — once per
/// process, before it made any — those carrying this process's own pid (a
/// killed earlier process that had the same pid).
fn cleanup_leftovers() {
    static OWN: Once = Once::new();
    // The first call also removes what an earlier process with this pid
    // left; `call_once` holds every other caller until it is done, so it
    // never sees (and removes) what a parallel test of this process has
    // just made.
    OWN.call_once(|| remove_stale(true));
    remove_stale(false);
}

/// Removes the namespaces and directories of dead test processes, and with
/// `include_own` those named after this process's pid as well.
fn remove_stale(include_own: bool) {
    let own = std::process::id();
    let stale = |name: &str, dir: bool| -> bool {
        let Some((pid, tail)) = parse_owner(name) else { return false };
        if pid == own {
            let counter = if dir { tail.strip_prefix('d') } else { Some(tail) };
            include_own && counter.is_some_and(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()))
        } else {
            !Path::new("/proc").join(pid.to_string()).exists()
        }
    };
    if let Ok(entries) = std::fs::read_dir(NETNS_RUN_DIR) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if stale(&name, false) {
                let ns = NetNs::open(&name);
                if let Ok(ns) = ns {
                    kill_processes_in(&ns);
                    let _ = ns.delete();
                }
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("kt") && entry.path().is_dir() && stale(&name, true) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// Serves TCP on `addr` inside `worker`'s namespace: on every connection it
/// first writes `"<name> <peer ip>\n"`, then echoes what it reads until EOF.
/// Returns once the socket is bound; aborting the task (or dropping the
/// worker) stops the server and its open connections. Do not call it from
/// a task of the same worker (it waits for the worker to bind).
pub fn tcp_echo_server(worker: &NsWorker, addr: SocketAddr, name: &str) -> io::Result<NsTask<()>> {
    let name = name.to_string();
    let (bound_tx, bound_rx) = std::sync::mpsc::channel::<io::Result<()>>();
    let task = worker.spawn(move || async move {
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => {
                let _ = bound_tx.send(Ok(()));
                listener
            }
            Err(e) => {
                let _ = bound_tx.send(Err(e));
                return;
            }
        };
        let mut conns = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        conns.spawn_local(serve_tcp(stream, peer, name.clone()));
                    }
                    Err(e) => {
                        tracing::warn!("echo server {name}: accept: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
    });
    wait_bound(bound_rx, "tcp", addr)?;
    Ok(task)
}

async fn serve_tcp(mut stream: tokio::net::TcpStream, peer: SocketAddr, name: String) {
    let greeting = format!("{name} {}\n", peer.ip().to_canonical());
    if stream.write_all(greeting.as_bytes()).await.is_err() {
        return;
    }
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = stream.shutdown().await;
}

/// Serves UDP on `addr` inside `worker`'s namespace: every datagram is
/// answered with `"<name> <peer ip>\n"`. Returns once the socket is bound;
/// stops when the task is aborted or the worker dropped.
pub fn udp_echo_server(worker: &NsWorker, addr: SocketAddr, name: &str) -> io::Result<NsTask<()>> {
    let name = name.to_string();
    let (bound_tx, bound_rx) = std::sync::mpsc::channel::<io::Result<()>>();
    let task = worker.spawn(move || async move {
        let socket = match tokio::net::UdpSocket::bind(addr).await {
            Ok(socket) => {
                let _ = bound_tx.send(Ok(()));
                socket
            }
            Err(e) => {
                let _ = bound_tx.send(Err(e));
                return;
            }
        };
        let mut buf = [0u8; 64 * 1024];
        loop {
            match socket.recv_from(&mut buf).await {
                Ok((_, peer)) => {
                    let answer = format!("{name} {}\n", peer.ip().to_canonical());
                    let _ = socket.send_to(answer.as_bytes(), peer).await;
                }
                Err(e) => {
                    tracing::debug!("udp echo server {name}: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    });
    wait_bound(bound_rx, "udp", addr)?;
    Ok(task)
}

fn wait_bound(rx: std::sync::mpsc::Receiver<io::Result<()>>, proto: &str, addr: SocketAddr) -> io::Result<()> {
    match rx.recv_timeout(REQUEST_TIMEOUT) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(io::Error::new(e.kind(), format!("binding {proto} {addr}: {e}"))),
        Err(_) => Err(io::Error::other(format!("the {proto} server on {addr} did not start (worker stopped?)"))),
    }
}

/// Connects to `to` from inside `ns` (from the address `from` when given),
/// reads the server's first line (the greeting), sends `payload`, reads as
/// many bytes back (less if the server closes first) and returns
/// `(greeting without its newline, echo)`. Gives up after 10 s with
/// [`io::ErrorKind::TimedOut`].
pub async fn tcp_request(
    ns: &NetNs,
    to: SocketAddr,
    from: Option<IpAddr>,
    payload: &str,
) -> io::Result<(String, String)> {
    let payload = payload.to_string();
    ns.run_async(move || async move {
        let exchange = async {
            let socket = if to.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
            if let Some(ip) = from {
                socket.bind(SocketAddr::new(ip, 0))?;
            }
            let stream = socket.connect(to).await?;
            let (read, mut write) = stream.into_split();
            let mut read = BufReader::new(read);
            let mut greeting = String::new();
            read.read_line(&mut greeting).await?;
            if !greeting.ends_with('\n') {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{to} closed before a whole greeting line (got {greeting:?})"),
                ));
            }
            greeting.pop();
            write.write_all(payload.as_bytes()).await?;
            let mut echo = vec![0u8; payload.len()];
            let mut got = 0;
            while got < echo.len() {
                let n = read.read(&mut echo[got..]).await?;
                if n == 0 {
                    break;
                }
                got += n;
            }
            echo.truncate(got);
            let _ = write.shutdown().await;
            Ok((greeting, String::from_utf8_lossy(&echo).into_owned()))
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, format!("tcp request to {to} timed out"))),
        }
    })
    .await?
}

/// Sends `payload` to `to` from inside `ns` and returns the first answer
/// without its trailing newline (for [`udp_echo_server`]:
/// `"<name> <our ip>"`). The datagram is resent every 2 s until an answer
/// comes; gives up after 10 s with [`io::ErrorKind::TimedOut`], or at once
/// when the port is unreachable.
pub async fn udp_request(ns: &NetNs, to: SocketAddr, payload: &str) -> io::Result<String> {
    let payload = payload.to_string();
    ns.run_async(move || async move {
        let local: IpAddr = if to.is_ipv4() { Ipv4Addr::UNSPECIFIED.into() } else { Ipv6Addr::UNSPECIFIED.into() };
        let socket = tokio::net::UdpSocket::bind(SocketAddr::new(local, 0)).await?;
        socket.connect(to).await?;
        let deadline = tokio::time::Instant::now() + REQUEST_TIMEOUT;
        let mut buf = [0u8; 64 * 1024];
        loop {
            socket.send(payload.as_bytes()).await?;
            let wait = (deadline - tokio::time::Instant::now()).min(Duration::from_secs(2));
            match tokio::time::timeout(wait, socket.recv(&mut buf)).await {
                Ok(Ok(n)) => {
                    let answer = String::from_utf8_lossy(&buf[..n]);
                    return Ok(answer.strip_suffix('\n').unwrap_or(&answer).to_string());
                }
                Ok(Err(e)) => return Err(e),
                Err(_) if tokio::time::Instant::now() >= deadline => {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, format!("udp request to {to} timed out")));
                }
                Err(_) => {}
            }
        }
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alive(pid: u32) -> bool {
        // A killed and reaped child has no /proc entry; a zombie would show state Z.
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'),
            Err(_) => false,
        }
    }

    #[test]
    fn drop_removes_namespaces_processes_and_dir() {
        let mut net = TestNet::new();
        let a = net.netns();
        let b = net.netns();
        assert!(a.name().len() <= 15 && a.name().starts_with(&format!("kt{}-", std::process::id())));
        assert_ne!(a, b);
        assert!(Path::new("/run/netns").join(a.name()).exists());
        let mut sleep = Command::new("sleep");
        sleep.arg("1000");
        let pid = net.spawn(&a, sleep);
        assert!(alive(pid));
        // The process runs inside `a`.
        let ns_of_pid = std::fs::metadata(format!("/proc/{pid}/ns/net")).unwrap();
        let ns_a = std::fs::metadata(a.path()).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!((ns_of_pid.dev(), ns_of_pid.ino()), (ns_a.dev(), ns_a.ino()));
        // A process we did not start ourselves (a grandchild) is killed too.
        let mut sh = Command::new("sh");
        sh.args(["-c", "sleep 1000 & echo $! > \"$0\"; wait", &net.dir().join("grandchild").display().to_string()]);
        net.spawn(&b, sh);
        let grandchild_file = net.dir().join("grandchild");
        let mut grandchild = None;
        for _ in 0..500 {
            if let Some(pid) = std::fs::read_to_string(&grandchild_file).ok().and_then(|s| s.trim().parse::<u32>().ok())
            {
                grandchild = Some(pid);
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let grandchild = grandchild.expect("the shell wrote its child's pid");
        let dir = net.dir().to_path_buf();
        std::fs::write(dir.join("f"), "x").unwrap();
        let tracked = NetNs::create(&net.unique_name()).unwrap();
        net.track(tracked.clone());

        drop(net);
        assert!(!Path::new("/run/netns").join(a.name()).exists());
        assert!(!b.exists());
        assert!(!tracked.exists());
        assert!(!alive(pid), "the spawned process was killed");
        for _ in 0..500 {
            if !alive(grandchild) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!alive(grandchild), "a process left in the namespace was killed");
        assert!(!dir.exists());
    }

    #[test]
    fn drop_cleans_up_after_a_panic() {
        let names = std::sync::Mutex::new(Vec::<NetNs>::new());
        let dir = std::sync::Mutex::new(PathBuf::new());
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut net = TestNet::new();
            *dir.lock().unwrap() = net.dir().to_path_buf();
            for _ in 0..2 {
                let ns = net.netns();
                names.lock().unwrap().push(ns);
            }
            assert!(names.lock().unwrap().iter().all(|ns| ns.exists()));
            panic!("the test body failed");
        }));
        assert!(outcome.is_err());
        let names = names.into_inner().unwrap();
        assert_eq!(names.len(), 2);
        for ns in &names {
            assert!(!Path::new("/run/netns").join(ns.name()).exists(), "{} left behind", ns.name());
        }
        assert!(!dir.into_inner().unwrap().exists());
    }

    #[test]
    fn leftovers_of_dead_processes_are_removed() {
        // A pid that is certainly dead: a child that exited and was reaped.
        let mut child = Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        assert!(!Path::new("/proc").join(dead.to_string()).exists());
        let stale = NetNs::create(&format!("kt{dead}-7")).unwrap();
        let stale_dir = std::env::temp_dir().join(format!("kt{dead}-d7"));
        std::fs::create_dir_all(stale_dir.join("sub")).unwrap();
        // Something that is not ours by name is left alone.
        let _net = TestNet::new();
        let removed = !stale.exists();
        let dir_removed = !stale_dir.exists();
        let _ = stale.delete();
        let _ = std::fs::remove_dir_all(&stale_dir);
        assert!(removed, "the namespace of a dead pid was removed");
        assert!(dir_removed, "the directory of a dead pid was removed");
        assert_eq!(parse_owner("kt123-4"), Some((123, "4")));
        assert_eq!(parse_owner("kt123-d4"), Some((123, "d4")));
        assert_eq!(parse_owner("ktx-4"), None);
        assert_eq!(parse_owner("kt123"), None);
        assert_eq!(parse_owner("cni-1234"), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn echo_servers_inside_one_namespace() {
        let mut net = TestNet::new();
        let ns = net.netns();
        let worker = ns.worker().unwrap();
        let addr: SocketAddr = "127.0.0.1:7100".parse().unwrap();
        let tcp = tcp_echo_server(&worker, addr, "one").unwrap();
        let udp = udp_echo_server(&worker, addr, "one-udp").unwrap();
        // Binding twice fails before returning.
        let err = tcp_echo_server(&worker, addr, "two").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");

        let (greeting, echo) = tcp_request(&ns, addr, None, "some bytes").await.unwrap();
        assert_eq!((greeting.as_str(), echo.as_str()), ("one 127.0.0.1", "some bytes"));
        let big = "z".repeat(100_000);
        let (_, echo) = tcp_request(&ns, addr, Some("127.0.0.1".parse().unwrap()), &big).await.unwrap();
        assert_eq!(echo.len(), big.len());
        let (_, echo) = tcp_request(&ns, addr, None, "").await.unwrap();
        assert_eq!(echo, "");
        assert_eq!(udp_request(&ns, addr, "hi").await.unwrap(), "one-udp 127.0.0.1");

        // IPv6 loopback.
        let v6: SocketAddr = "[::1]:7101".parse().unwrap();
        let _tcp6 = tcp_echo_server(&worker, v6, "six").unwrap();
        assert_eq!(tcp_request(&ns, v6, None, "x").await.unwrap().0, "six ::1");

        // The servers are only in `ns`; from another namespace nothing answers.
        let other = net.netns();
        let err = tcp_request(&other, addr, None, "x").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        let err = udp_request(&other, addr, "x").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);

        tcp.abort();
        assert_eq!(tcp.await.unwrap_err().kind(), io::ErrorKind::Interrupted);
        udp.abort();
        let err = tcp_request(&ns, addr, None, "x").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    }

    #[test]
    fn lookups() {
        assert!(reference_plugin_dir().join("bridge").is_file());
        assert!(require_command("ip", "iproute2").is_file());
        let panic = std::panic::catch_unwind(|| require_command("no-such-command-kt", "some-debian-package"))
            .expect_err("a missing command panics");
        let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("some-debian-package") && msg.contains("no-such-command-kt"), "{msg}");
    }
}
