//! Named network namespaces under `/run/netns`, and running code inside them.
//!
//! A [`NetNs`] is a handle to `/run/netns/<name>`, the bind mount that
//! `ip netns add` makes and every iproute2 tool (and CNI's `CNI_NETNS`)
//! understands. Creating and deleting one goes through `ip netns add/delete`:
//! the workspace forbids `unsafe`, and rustix only offers `unshare` as an
//! `unsafe` function. Entering one is rustix's safe `setns`
//! ([`rustix::thread::move_into_link_name_space`]), always on a thread of our
//! own that never leaves it:
//!
//! - [`NetNs::run`] runs a closure on a fresh thread inside the namespace;
//! - [`NetNs::run_async`] runs a future on a current-thread tokio runtime on
//!   such a thread, and is awaited without blocking the caller's runtime;
//! - [`NetNs::worker`] starts a long-lived thread with a tokio runtime inside
//!   the namespace, to which [`NsWorker::spawn`] hands tasks (servers, child
//!   processes).
//!
//! A network namespace is a property of the thread, but what that thread
//! creates belongs to the namespace for good: a socket made inside (for
//! example `std::net::TcpListener::bind` in [`NetNs::run`]) can be returned
//! and used from any thread or runtime afterwards and still listens, connects
//! and routes inside the namespace; a child process forked inside (by
//! `std::process::Command` or `tokio::process::Command`) lives in the
//! namespace with everything it starts.

use std::future::Future;
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::sync::{Notify, mpsc, oneshot};

/// Where `ip netns` keeps its named namespaces.
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// `ip netns add/delete` calls of this process go one at a time: the first
/// `add` also prepares `/run/netns` as a shared mount, which concurrent first
/// calls can trip over.
static NETNS_LOCK: Mutex<()> = Mutex::new(());

/// A named network namespace: `/run/netns/<name>`.
///
/// The handle is only a name: cloning it does not duplicate the namespace, and
/// dropping it does not delete it ([`NetNs::delete`] does).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// Creates the namespace `name` (`ip netns add`). Fails with
    /// [`io::ErrorKind::AlreadyExists`] when it exists already.
    pub fn create(name: &str) -> io::Result<NetNs> {
        check_name(name)?;
        let ns = NetNs { name: name.to_string() };
        let _guard = NETNS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        if ns.exists() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("network namespace {} exists already", ns.path().display()),
            ));
        }
        crate::iproute::run_ip(&["netns", "add", name]).map_err(io::Error::from)?;
        Ok(ns)
    }

    /// A handle to the existing namespace `name`. Fails with
    /// [`io::ErrorKind::NotFound`] when `/run/netns/<name>` does not exist.
    pub fn open(name: &str) -> io::Result<NetNs> {
        check_name(name)?;
        let ns = NetNs { name: name.to_string() };
        if !ns.exists() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("network namespace {} does not exist", ns.path().display()),
            ));
        }
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/run/netns/<name>`: what `CNI_NETNS` and `ip netns` take.
    pub fn path(&self) -> PathBuf {
        Path::new(NETNS_RUN_DIR).join(&self.name)
    }

    /// Whether `/run/netns/<name>` exists.
    pub fn exists(&self) -> bool {
        self.path().exists()
    }

    /// Deletes the namespace (`ip netns delete`). A namespace that is gone
    /// already is no error. Threads and processes still inside keep the
    /// namespace itself alive, but it loses its name.
    pub fn delete(&self) -> io::Result<()> {
        let _guard = NETNS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        if !self.exists() {
            return Ok(());
        }
        match crate::iproute::run_ip(&["netns", "delete", &self.name]) {
            Ok(_) => Ok(()),
            Err(_) if !self.exists() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Runs `f` on a fresh thread inside the namespace and returns its value;
    /// the calling thread blocks until then. A panic of `f` is resumed on the
    /// caller. Sockets `f` creates and returns stay in the namespace.
    pub fn run<F, R>(&self, f: F) -> io::Result<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let file = self.open_file()?;
        let handle = std::thread::Builder::new().name(self.thread_name()).spawn(move || {
            enter(&file)?;
            drop(file);
            Ok(f())
        })?;
        match handle.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Runs the future made by `f` on a current-thread tokio runtime (time,
    /// I/O and processes enabled) on a fresh thread inside the namespace; the
    /// caller awaits the result without blocking its own runtime (any
    /// executor will do). A panic of the future is resumed on the caller.
    pub async fn run_async<F, Fut, R>(&self, f: F) -> io::Result<R>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = R>,
        R: Send + 'static,
    {
        let file = self.open_file()?;
        let (tx, rx) = oneshot::channel();
        std::thread::Builder::new().name(self.thread_name()).spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                enter(&file)?;
                drop(file);
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                Ok(runtime.block_on(f()))
            }));
            let _ = tx.send(outcome);
        })?;
        match rx.await {
            Ok(Ok(result)) => result,
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => Err(io::Error::other("namespace thread ended without an answer")),
        }
    }

    /// Starts a long-lived worker thread inside the namespace, running a
    /// current-thread tokio runtime (time, I/O and processes enabled) for
    /// tasks handed to it by [`NsWorker::spawn`]. Returns once the thread is
    /// inside the namespace and its runtime runs.
    pub fn worker(&self) -> io::Result<NsWorker> {
        let file = self.open_file()?;
        let (jobs_tx, mut jobs_rx) = mpsc::unbounded_channel::<Job>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();
        std::thread::Builder::new().name(self.thread_name()).spawn(move || {
            let setup = enter(&file).and_then(|()| tokio::runtime::Builder::new_current_thread().enable_all().build());
            drop(file);
            let runtime = match setup {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let local = tokio::task::LocalSet::new();
            let _ = ready_tx.send(Ok(()));
            local.block_on(&runtime, async move {
                while let Some(job) = jobs_rx.recv().await {
                    job();
                }
            });
            // Dropping the LocalSet here drops (aborts) the tasks still running.
            drop(local);
        })?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(NsWorker { ns: self.clone(), jobs: jobs_tx }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::other("namespace worker thread ended while starting")),
        }
    }

    fn open_file(&self) -> io::Result<std::fs::File> {
        std::fs::File::open(self.path())
            .map_err(|e| io::Error::new(e.kind(), format!("network namespace {}: {e}", self.path().display())))
    }

    fn thread_name(&self) -> String {
        format!("netns-{}", self.name)
    }
}

/// Moves the calling thread into the network namespace `file` refers to.
fn enter(file: &std::fs::File) -> io::Result<()> {
    rustix::thread::move_into_link_name_space(file.as_fd(), Some(rustix::thread::LinkNameSpaceType::Network))
        .map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("setns into a network namespace: {e}")))
}

fn check_name(name: &str) -> io::Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("invalid network namespace name {name:?}")));
    }
    Ok(())
}

type Job = Box<dyn FnOnce() + Send>;

/// What a task of an [`NsWorker`] ended with: its value, or why there is none.
type TaskOutcome<R> = Result<R, io::Error>;

/// A long-lived thread inside a namespace with a current-thread tokio runtime
/// (see [`NetNs::worker`]).
///
/// Clones share the thread. The thread ends when every clone is dropped;
/// tasks still running then are dropped (aborted). A task holding a clone of
/// its own worker keeps the thread alive.
#[derive(Debug, Clone)]
pub struct NsWorker {
    ns: NetNs,
    jobs: mpsc::UnboundedSender<Job>,
}

impl NsWorker {
    /// The namespace the worker runs in.
    pub fn netns(&self) -> &NetNs {
        &self.ns
    }

    /// Spawns a task inside the namespace: `f` is called on the worker thread
    /// and the future it makes runs there as a local task (it need not be
    /// `Send`). The returned [`NsTask`] can be awaited from any runtime;
    /// dropping it detaches the task, [`NsTask::abort`] cancels it.
    ///
    /// Never block the worker thread waiting for one of its own tasks.
    pub fn spawn<F, Fut, R>(&self, f: F) -> NsTask<R>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = R> + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<TaskOutcome<R>>();
        let abort = Arc::new(Notify::new());
        let abort_wait = abort.clone();
        let done = Arc::new(AtomicBool::new(false));
        let done_guard = DoneGuard(done.clone());
        let job: Job = Box::new(move || {
            let mut inner = tokio::task::spawn_local(f());
            tokio::task::spawn_local(async move {
                let _done = done_guard;
                let joined = tokio::select! {
                    joined = &mut inner => joined,
                    () = abort_wait.notified() => {
                        inner.abort();
                        inner.await
                    }
                };
                let outcome = match joined {
                    Ok(value) => Ok(value),
                    Err(e) if e.is_panic() => {
                        Err(io::Error::other(format!("namespace task panicked: {}", panic_message(e.into_panic()))))
                    }
                    Err(_) => Err(aborted()),
                };
                let _ = tx.send(outcome);
            });
        });
        // When the worker is gone the job (and `tx`) is dropped: the task
        // then resolves to an error.
        let _ = self.jobs.send(job);
        NsTask { rx, abort, done }
    }
}

/// A task running on an [`NsWorker`]; awaiting it gives the task's value, or
/// an error when it panicked, was aborted, or its worker stopped first.
#[derive(Debug)]
pub struct NsTask<R> {
    rx: oneshot::Receiver<TaskOutcome<R>>,
    abort: Arc<Notify>,
    done: Arc<AtomicBool>,
}

/// Marks a task finished when its watcher (or the job that never ran) is dropped.
struct DoneGuard(Arc<AtomicBool>);

impl Drop for DoneGuard {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl<R> NsTask<R> {
    /// Cancels the task: its future is dropped on the worker thread at its
    /// next await point, and awaiting this handle then gives an
    /// [`io::ErrorKind::Interrupted`] error (unless it had finished already).
    pub fn abort(&self) {
        self.abort.notify_one();
    }

    /// Whether the task has finished (with a value or otherwise).
    pub fn is_finished(&self) -> bool {
        self.done.load(Ordering::SeqCst) || !self.rx.is_empty() || self.rx.is_terminated()
    }
}

impl<R> Future for NsTask<R> {
    type Output = io::Result<R>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(outcome)) => Poll::Ready(outcome),
            Poll::Ready(Err(_)) => {
                Poll::Ready(Err(io::Error::other("namespace worker stopped before the task finished")))
            }
        }
    }
}

fn aborted() -> io::Error {
    io::Error::new(io::ErrorKind::Interrupted, "namespace task aborted")
}

fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::unix::fs::MetadataExt;
    use std::time::Duration;

    use super::*;
    use crate::testing::TestNet;

    /// (device, inode) of the calling thread's network namespace.
    fn current_ns_id() -> (u64, u64) {
        let meta = std::fs::metadata("/proc/thread-self/ns/net").expect("stat /proc/thread-self/ns/net");
        (meta.dev(), meta.ino())
    }

    fn ns_id(ns: &NetNs) -> (u64, u64) {
        let meta = std::fs::metadata(ns.path()).expect("stat the namespace");
        (meta.dev(), meta.ino())
    }

    #[test]
    fn create_open_run_delete() {
        let mut net = TestNet::new();
        let ns = net.netns();
        assert!(ns.exists());
        assert_eq!(ns.path(), Path::new("/run/netns").join(ns.name()));
        assert_eq!(NetNs::open(ns.name()).unwrap(), ns);
        let err = NetNs::create(ns.name()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);

        // The closure runs inside the namespace, and so do the processes it forks.
        let inside = ns.run(current_ns_id).unwrap();
        assert_eq!(inside, ns_id(&ns));
        assert_ne!(inside, current_ns_id());
        let links = ns
            .run(|| std::process::Command::new(crate::iproute::ip_binary()).args(["-j", "link", "show"]).output())
            .unwrap()
            .unwrap();
        assert!(links.status.success());
        let links: Vec<serde_json::Value> = serde_json::from_slice(&links.stdout).unwrap();
        let names: Vec<&str> = links.iter().filter_map(|l| l["ifname"].as_str()).collect();
        assert_eq!(names, ["lo"], "a fresh namespace has only lo");

        ns.delete().unwrap();
        assert!(!ns.exists());
        assert!(!ns.path().exists());
        ns.delete().unwrap(); // idempotent
        assert_eq!(NetNs::open(ns.name()).unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(ns.run(|| ()).unwrap_err().kind(), io::ErrorKind::NotFound);
        assert!(NetNs::create("a/b").is_err());
        assert!(NetNs::open("").is_err());
    }

    #[test]
    fn run_resumes_a_panic() {
        let mut net = TestNet::new();
        let ns = net.netns();
        let ns2 = ns.clone();
        let caught = std::panic::catch_unwind(move || ns2.run(|| panic!("inside the namespace")));
        let payload = caught.unwrap_err();
        assert_eq!(panic_message(payload), "inside the namespace");
    }

    #[test]
    fn sockets_made_inside_stay_inside() {
        let mut net = TestNet::new();
        let a = net.netns();
        let b = net.netns();
        // Bound inside `a`, then used from this (host) thread.
        let listener = a.run(|| TcpListener::bind("127.0.0.1:0")).unwrap().unwrap();
        let addr = listener.local_addr().unwrap();

        // The client runs inside `a` on its own thread while this one accepts.
        let a2 = a.clone();
        let client = std::thread::spawn(move || {
            a2.run(move || -> io::Result<String> {
                let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
                s.set_read_timeout(Some(Duration::from_secs(10)))?;
                s.write_all(b"ping")?;
                s.shutdown(std::net::Shutdown::Write)?;
                let mut answer = String::new();
                s.read_to_string(&mut answer)?;
                Ok(answer)
            })
        });
        let (mut conn, peer) = listener.accept().unwrap();
        assert_eq!(peer.ip(), addr.ip());
        conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = [0u8; 4];
        conn.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
        conn.write_all(b"pong").unwrap();
        drop(conn);
        assert_eq!(client.join().unwrap().unwrap().unwrap(), "pong");

        // Not reachable from another namespace: its loopback has no listener.
        let err = b.run(move || TcpStream::connect_timeout(&addr, Duration::from_secs(10))).unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn run_async_runs_tokio_inside() {
        let mut net = TestNet::new();
        let ns = net.netns();
        let want = ns_id(&ns);
        let (id, port, links) = ns
            .run_async(|| async {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let port = listener.local_addr().unwrap().port();
                let out = tokio::process::Command::new(crate::iproute::ip_binary())
                    .args(["-j", "link", "show"])
                    .output()
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(10)).await;
                (current_ns_id(), port, String::from_utf8(out.stdout).unwrap())
            })
            .await
            .unwrap();
        assert_eq!(id, want);
        assert_ne!(port, 0);
        let links: Vec<serde_json::Value> = serde_json::from_str(&links).unwrap();
        assert_eq!(links.len(), 1, "only lo inside: {links:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn worker_runs_tasks_inside() {
        let mut net = TestNet::new();
        let ns = net.netns();
        let want = ns_id(&ns);
        let worker = ns.worker().unwrap();
        assert_eq!(worker.netns(), &ns);

        let tasks: Vec<NsTask<(usize, (u64, u64))>> = (0..10)
            .map(|i| {
                worker.spawn(move || async move {
                    tokio::time::sleep(Duration::from_millis(5 * i as u64)).await;
                    (i, current_ns_id())
                })
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            assert_eq!(task.await.unwrap(), (i, want));
        }

        // Tasks can serve sockets the others use (non-Send futures are fine).
        let server = worker.spawn(|| async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let local = std::rc::Rc::new(port);
            (listener, *local)
        });
        let (listener, port) = server.await.unwrap();
        assert_eq!(listener.local_addr().unwrap().port(), port);

        // is_finished turns true once the task is done, before it is awaited.
        let quick = worker.spawn(|| async { 7 });
        for _ in 0..1000 {
            if quick.is_finished() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(quick.is_finished());
        assert_eq!(quick.await.unwrap(), 7);

        // A panic becomes an error.
        let panicking: NsTask<()> = worker.spawn(|| async { panic!("boom") });
        let err = panicking.await.unwrap_err();
        assert!(err.to_string().contains("boom"), "{err}");

        // Abort.
        let forever = worker.spawn(std::future::pending::<()>);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!forever.is_finished());
        forever.abort();
        let err = tokio::time::timeout(Duration::from_secs(10), forever).await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Interrupted);

        // Dropping every clone stops the thread and drops running tasks.
        struct Guard(Option<std::sync::mpsc::Sender<()>>);
        impl Drop for Guard {
            fn drop(&mut self) {
                let _ = self.0.take().unwrap().send(());
            }
        }
        let (dropped_tx, dropped_rx) = std::sync::mpsc::channel();
        let clone = worker.clone();
        let pending = clone.spawn(move || async move {
            let _guard = Guard(Some(dropped_tx));
            std::future::pending::<()>().await
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(worker);
        drop(clone);
        tokio::task::spawn_blocking(move || dropped_rx.recv_timeout(Duration::from_secs(10)))
            .await
            .unwrap()
            .expect("the running task was dropped with its worker");
        let err = tokio::time::timeout(Duration::from_secs(10), pending).await.unwrap().unwrap_err();
        assert!(err.to_string().contains("worker stopped"), "{err}");
    }

    #[test]
    fn worker_of_a_missing_namespace_fails() {
        let ns = NetNs { name: format!("kt{}-missing", std::process::id()) };
        assert_eq!(ns.worker().unwrap_err().kind(), io::ErrorKind::NotFound);
    }
}
