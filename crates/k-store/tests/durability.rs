//! Every acknowledged write of the durable backend survives `kill -9`.
//!
//! [`acknowledged_writes_survive_sigkill`] re-runs this test binary as a child
//! process ([`child_writer`], selected with `--exact` and enabled by an
//! environment variable) that writes as fast as it can with concurrent
//! writers and prints every acknowledged write. The parent kills it with
//! SIGKILL at a random moment, reopens the store and checks that every
//! acknowledged write is there and that revisions only go forward. The same
//! directory is reused across rounds, so each round also recovers from the
//! previous crash.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use k_store::backend::durable::{DurableBackend, DurableOptions};
use k_store::backend::{Backend, Revision, WatchItem};

/// Set in the child: the store directory.
const CHILD_DIR: &str = "K_STORE_DURABILITY_CHILD_DIR";
/// Set in the child: the round number (part of its keys).
const CHILD_ROUND: &str = "K_STORE_DURABILITY_CHILD_ROUND";
const ROUNDS: usize = 20;
const WRITERS: usize = 16;

/// One acknowledged write, as the child printed it.
#[derive(Debug, Clone)]
enum Ack {
    /// `ACK C <key> <revision>`: a create of `<key>` with value `v:<key>`.
    Create { key: String, revision: Revision },
    /// `ACK U <key> <revision> <n>`: the writer's counter key set to `n`.
    Update { key: String, revision: Revision, n: u64 },
}

fn parse(line: &str) -> Option<Ack> {
    let mut parts = line.strip_prefix("ACK ")?.split(' ');
    match (parts.next()?, parts.next()?, parts.next()?.parse().ok()?) {
        ("C", key, revision) => Some(Ack::Create { key: key.to_owned(), revision }),
        ("U", key, revision) => Some(Ack::Update { key: key.to_owned(), revision, n: parts.next()?.parse().ok()? }),
        _ => None,
    }
}

/// The child: writes until killed. A no-op unless started by the parent.
#[test]
fn child_writer() {
    let Ok(dir) = std::env::var(CHILD_DIR) else { return };
    let round: usize = std::env::var(CHILD_ROUND).unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        let b = Arc::new(DurableBackend::open(&dir).unwrap());
        {
            let mut out = std::io::stdout().lock();
            // libtest has printed "test child_writer ... " without a newline.
            writeln!(out, "\nREADY").unwrap();
            out.flush().unwrap();
        }
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let b = b.clone();
                tokio::spawn(async move {
                    let counter = format!("/registry/kill-counters/{round}/{w}");
                    let mut counter_rev = b.create(&counter, Bytes::from_static(b"0")).await.unwrap();
                    for i in 1u64.. {
                        let key = format!("/registry/kill/{round}/{w}/{i}");
                        let rev = b.create(&key, Bytes::from(format!("v:{key}"))).await.unwrap();
                        let mut line = format!("ACK C {key} {rev}\n");
                        if i % 4 == 0 {
                            counter_rev = b.update(&counter, Bytes::from(i.to_string()), counter_rev).await.unwrap();
                            line.push_str(&format!("ACK U {counter} {counter_rev} {i}\n"));
                        }
                        let mut out = std::io::stdout().lock();
                        out.write_all(line.as_bytes()).unwrap();
                        out.flush().unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap();
        }
    });
}

/// A tiny xorshift generator (no dependency needed for a random delay).
struct Rng(u64);

impl Rng {
    fn seeded() -> Self {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        Self((nanos as u64) ^ 0x9E37_79B9_7F4A_7C15 | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Runs one child until a random moment after it is ready, kills it with
/// SIGKILL, and returns the writes it acknowledged.
fn run_and_kill(dir: &Path, round: usize, delay: Duration) -> Vec<Ack> {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", "child_writer", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir)
        .env(CHILD_ROUND, round.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut line = String::new();
        loop {
            line.clear();
            match r.read_line(&mut line) {
                // Only complete lines count: a torn last line was not acknowledged.
                Ok(n) if n > 0 && line.ends_with('\n') => {
                    if tx.send(line.trim_end().to_owned()).is_err() {
                        break;
                    }
                }
                _ => break,
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let line = rx.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        match line {
            Ok(l) if l == "READY" => break,
            Ok(_) => {}
            Err(e) => {
                let _ = child.kill();
                panic!("round {round}: the child did not get ready: {e}");
            }
        }
    }
    std::thread::sleep(delay);
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "round {round}: the child exited on its own: {status:?}");
    reader.join().unwrap();
    rx.try_iter().filter_map(|l| parse(&l)).collect()
}

/// Checks the store in `dir` against everything acknowledged so far; returns its revision.
async fn verify(
    dir: &Path,
    round: usize,
    creates: &BTreeMap<String, Revision>,
    counters: &HashMap<String, (Revision, u64)>,
    last_revision: Revision,
) -> Revision {
    let b = DurableBackend::open(dir).unwrap();
    let revision = b.revision().await.unwrap();
    let max_acked = creates.values().chain(counters.values().map(|(r, _)| r)).copied().max().unwrap_or(0);
    assert!(revision >= max_acked, "round {round}: revision {revision} is behind an acknowledged write at {max_acked}");
    assert!(revision >= last_revision, "round {round}: revision went back from {last_revision} to {revision}");

    let kvs: HashMap<String, _> = b
        .range("/registry/kill/", None, 0, None)
        .await
        .unwrap()
        .kvs
        .into_iter()
        .map(|kv| (kv.key.clone(), kv))
        .collect();
    for (key, &rev) in creates {
        let kv = kvs.get(key).unwrap_or_else(|| panic!("round {round}: acknowledged create {key}@{rev} is lost"));
        assert_eq!(kv.value, Bytes::from(format!("v:{key}")), "round {round}: value of {key}");
        assert_eq!((kv.create_revision, kv.mod_revision), (rev, rev), "round {round}: revisions of {key}");
    }
    for (key, &(rev, n)) in counters {
        let kv = b.get(key, None).await.unwrap().unwrap_or_else(|| panic!("round {round}: counter {key} is lost"));
        let stored: u64 = std::str::from_utf8(&kv.value).unwrap().parse().unwrap();
        assert!(kv.mod_revision >= rev, "round {round}: counter {key} went back from {rev} to {}", kv.mod_revision);
        assert!(stored >= n, "round {round}: counter {key} went back from {n} to {stored}");
        if kv.mod_revision == rev {
            assert_eq!(stored, n, "round {round}: counter {key} at {rev}");
        }
    }
    // Writes go on after the recovered revision.
    let next = b.create(&format!("/registry/kill-probe/{round}"), Bytes::from_static(b"p")).await.unwrap();
    assert_eq!(next, revision + 1, "round {round}: the next write must get the next revision");
    next
}

/// The history replays every acknowledged create at its revision.
async fn verify_history(dir: &Path, creates: &BTreeMap<String, Revision>) {
    let options = DurableOptions { progress_interval: Duration::from_millis(50), ..DurableOptions::default() };
    let b = DurableBackend::open_with(dir, options).unwrap();
    let head = b.revision().await.unwrap();
    let compacted = b.compacted_revision().await.unwrap();
    let mut w = b.watch("/registry/kill/", compacted).await.unwrap();
    let mut seen = HashMap::new();
    let mut last = compacted;
    'outer: while last < head {
        let item = tokio::time::timeout(Duration::from_secs(10), w.next()).await.unwrap().unwrap().unwrap();
        match item {
            WatchItem::Event(e) => {
                assert!(e.revision() > last, "history out of order");
                last = e.revision();
                seen.insert(e.kv.key.clone(), e.revision());
            }
            WatchItem::Progress(r) if r >= head => break 'outer,
            WatchItem::Progress(_) => {}
        }
    }
    for (key, rev) in creates.iter().filter(|(_, r)| **r > compacted) {
        assert_eq!(seen.get(key), Some(rev), "history of {key}");
    }
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if std::env::var(CHILD_DIR).is_ok() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("k-store-durability-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _cleanup = RemoveOnDrop(dir.clone());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut rng = Rng::seeded();
    let started = Instant::now();
    let mut creates: BTreeMap<String, Revision> = BTreeMap::new();
    let mut counters: HashMap<String, (Revision, u64)> = HashMap::new();
    let mut revisions = HashSet::new();
    let mut last_revision = 0;
    for round in 0..ROUNDS {
        let delay = Duration::from_millis(10 + rng.below(191));
        let acks = run_and_kill(&dir, round, delay);
        let acked = acks.len();
        for ack in acks {
            let rev = match ack {
                Ack::Create { key, revision } => {
                    assert!(creates.insert(key.clone(), revision).is_none(), "{key} acknowledged twice");
                    revision
                }
                Ack::Update { key, revision, n } => {
                    let e = counters.entry(key).or_insert((0, 0));
                    if revision > e.0 {
                        *e = (revision, n);
                    }
                    revision
                }
            };
            // A revision acknowledged twice (in this or any earlier round) was reused after a crash.
            assert!(revisions.insert(rev), "round {round}: revision {rev} acknowledged twice");
        }
        last_revision = rt.block_on(verify(&dir, round, &creates, &counters, last_revision));
        revisions.insert(last_revision);
        eprintln!(
            "round {round}: killed after {delay:?}, {acked} writes acknowledged, store at revision {last_revision}"
        );
    }
    rt.block_on(verify_history(&dir, &creates));
    assert!(!creates.is_empty(), "the children never acknowledged a write");
    eprintln!("{ROUNDS} kills, {} acknowledged creates, all present, in {:?}", creates.len(), started.elapsed());
}

/// Removes the store directory when the test ends, passed or failed.
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
