//! The durable backend: the shared conformance suite, restarts, group commit.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use k_store::backend::durable::{DurableBackend, DurableOptions};
use k_store::backend::{Backend, Event, EventKind, KeyValue, RangePage, Revision, WatchItem, WatchStream};
use k_store::testing::Config;
use k_store::testing::model::{At, Expect, KEYS, Op, PREFIXES, check_sequence};
use k_store::{Result, StoreError};
use proptest::prelude::*;

/// A fresh directory path under the system temp dir.
fn unique_dir(tag: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let dir = std::env::temp_dir().join(format!("k-store-durable-{tag}-{}-{n}-{nanos}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A fresh directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        Self(unique_dir(tag))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A durable backend in its own temp dir; both go away on drop.
#[derive(Debug)]
struct TempDurable {
    backend: Option<DurableBackend>,
    dir: PathBuf,
}

impl Drop for TempDurable {
    fn drop(&mut self) {
        drop(self.backend.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl TempDurable {
    fn b(&self) -> &DurableBackend {
        self.backend.as_ref().unwrap()
    }
}

#[async_trait::async_trait]
impl Backend for TempDurable {
    async fn revision(&self) -> Result<Revision> {
        self.b().revision().await
    }
    async fn compacted_revision(&self) -> Result<Revision> {
        self.b().compacted_revision().await
    }
    async fn get(&self, key: &str, at: Option<Revision>) -> Result<Option<KeyValue>> {
        self.b().get(key, at).await
    }
    async fn range(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        at: Option<Revision>,
    ) -> Result<RangePage> {
        self.b().range(prefix, start_after, limit, at).await
    }
    async fn create(&self, key: &str, value: Bytes) -> Result<Revision> {
        self.b().create(key, value).await
    }
    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<Revision> {
        self.b().update(key, value, expected).await
    }
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(Revision, KeyValue)> {
        self.b().delete(key, expected).await
    }
    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        self.b().watch(prefix, after).await
    }
    async fn compact(&self, revision: Revision) -> Result<()> {
        self.b().compact(revision).await
    }
}

fn test_options() -> DurableOptions {
    DurableOptions {
        watch_capacity: 200,
        progress_interval: Duration::from_millis(100),
        history: 0,
        ..DurableOptions::default()
    }
}

async fn fresh() -> Arc<dyn Backend> {
    let dir = unique_dir("conformance");
    let backend = DurableBackend::open_with(&dir, test_options()).unwrap();
    Arc::new(TempDurable { backend: Some(backend), dir })
}

fn suite_config() -> Config {
    Config { slow_watcher_writes: 1_000, progress_timeout: Duration::from_secs(5), ..Config::default() }
}

k_store::backend_conformance_tests!(fresh(), suite_config());

fn v(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Every item of a watch until `upto` is reached (progress skipped).
async fn events_until(stream: &mut WatchStream, upto: Revision) -> Vec<Event> {
    let mut out = Vec::new();
    if upto == 0 {
        return out;
    }
    loop {
        let item = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("watch item in time")
            .expect("stream open")
            .expect("no watch error");
        match item {
            WatchItem::Event(e) => {
                let r = e.revision();
                out.push(std::sync::Arc::unwrap_or_clone(e));
                if r >= upto {
                    return out;
                }
            }
            WatchItem::Progress(r) if r >= upto => return out,
            WatchItem::Progress(_) => {}
        }
    }
}

/// What a backend looks like: revision, compacted revision, the full range
/// at every readable revision, and the watch history from the compacted revision.
#[derive(Debug, PartialEq)]
struct Picture {
    revision: Revision,
    compacted: Revision,
    ranges: Vec<RangePage>,
    gets: Vec<Option<KeyValue>>,
    history: Vec<Event>,
}

async fn picture(b: &dyn Backend, keys: &[&str]) -> Picture {
    picture_under(b, "/registry/", keys).await
}

async fn picture_under(b: &dyn Backend, prefix: &str, keys: &[&str]) -> Picture {
    let revision = b.revision().await.unwrap();
    let compacted = b.compacted_revision().await.unwrap();
    let mut ranges = Vec::new();
    let mut gets = Vec::new();
    for at in compacted..=revision {
        ranges.push(b.range(prefix, None, 0, Some(at)).await.unwrap());
        for k in keys {
            gets.push(b.get(k, Some(at)).await.unwrap());
        }
    }
    let mut w = b.watch(prefix, compacted).await.unwrap();
    let history = events_until(&mut w, revision).await;
    Picture { revision, compacted, ranges, gets, history }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_recovers_state_revision_and_history() {
    let dir = TempDir::new("restart");
    let keys = ["/registry/pods/a", "/registry/pods/b", "/registry/pods/c", "/registry/pods/d"];
    let before = {
        let b = DurableBackend::open(dir.path()).unwrap();
        let r1 = b.create(keys[0], v("a1")).await.unwrap();
        b.create(keys[1], v("b1")).await.unwrap();
        let r3 = b.create(keys[2], v("c1")).await.unwrap();
        let r4 = b.update(keys[0], v("a2"), r1).await.unwrap();
        b.delete(keys[1], None).await.unwrap();
        b.update(keys[2], v("c2"), r3).await.unwrap();
        b.compact(r3).await.unwrap();
        b.create(keys[3], v("d1")).await.unwrap();
        b.update(keys[0], v("a3"), r4).await.unwrap();
        b.create(keys[1], v("b2")).await.unwrap();
        let p = picture(&b, &keys).await;
        assert_eq!((p.revision, p.compacted), (9, 3));
        assert_eq!(p.history.len(), 6);
        p
    };
    let b = DurableBackend::open(dir.path()).unwrap();
    let after = picture(&b, &keys).await;
    assert_eq!(before, after);
    // Reads at an old revision still see the past.
    let a = b.get(keys[0], Some(4)).await.unwrap().unwrap();
    assert_eq!((a.value, a.create_revision, a.mod_revision), (v("a2"), 1, 4));
    assert!(b.get(keys[1], Some(5)).await.unwrap().is_none());
    assert!(matches!(b.get(keys[0], Some(2)).await, Err(StoreError::Expired { requested: 2, compacted: 3 })));
    assert!(b.watch("/registry/", 2).await.err().unwrap().is_expired());
    // The counter goes on where it stopped.
    assert_eq!(b.create("/registry/pods/e", v("e1")).await.unwrap(), 10);
    let mut w = b.watch("/registry/pods/", 8).await.unwrap();
    let evs = events_until(&mut w, 10).await;
    assert_eq!(evs.iter().map(Event::revision).collect::<Vec<_>>(), vec![9, 10]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_compacting_everything_keeps_the_revision() {
    let dir = TempDir::new("compact-all");
    {
        let b = DurableBackend::open(dir.path()).unwrap();
        for i in 0..5 {
            b.create(&format!("/registry/x/{i}"), v("x")).await.unwrap();
        }
        b.compact(5).await.unwrap();
        assert!(matches!(b.compact(6).await, Err(StoreError::TooLargeResourceVersion { .. })));
    }
    let b = DurableBackend::open(dir.path()).unwrap();
    assert_eq!(b.revision().await.unwrap(), 5);
    assert_eq!(b.compacted_revision().await.unwrap(), 5);
    assert_eq!(b.range("/registry/x/", None, 0, None).await.unwrap().kvs.len(), 5);
    assert_eq!(b.create("/registry/x/5", v("x")).await.unwrap(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_compaction_keeps_the_configured_history_across_restarts() {
    let dir = TempDir::new("history");
    let opts = DurableOptions { history: 10, ..DurableOptions::default() };
    {
        let b = DurableBackend::open_with(dir.path(), opts.clone()).unwrap();
        let mut rev = b.create("/registry/k", v("0")).await.unwrap();
        for i in 1..30 {
            rev = b.update("/registry/k", v(&i.to_string()), rev).await.unwrap();
        }
        assert_eq!(b.compacted_revision().await.unwrap(), 20);
        assert_eq!(b.get("/registry/k", Some(20)).await.unwrap().unwrap().value, v("19"));
    }
    let b = DurableBackend::open_with(dir.path(), opts).unwrap();
    assert_eq!((b.revision().await.unwrap(), b.compacted_revision().await.unwrap()), (30, 20));
    let mut w = b.watch("/registry/", 20).await.unwrap();
    let evs = events_until(&mut w, 30).await;
    assert_eq!(evs.len(), 10);
    assert_eq!(evs[0].prev.as_ref().unwrap().value, v("19"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_open_of_the_same_directory_fails_cleanly() {
    let dir = TempDir::new("twice");
    let b = DurableBackend::open(dir.path()).unwrap();
    let err = DurableBackend::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Internal(_)), "{err:?}");
    drop(b);
    // Released on drop: the directory opens again.
    DurableBackend::open(dir.path()).unwrap();
}

/// 64 concurrent writers share commits: far more acknowledged creates per
/// second than fsyncs one at a time would allow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_throughput_with_64_writers() {
    let dir = TempDir::new("throughput");
    let b = Arc::new(DurableBackend::open(dir.path()).unwrap());
    let per_writer: u32 = 200;
    let start = Instant::now();
    let tasks: Vec<_> = (0..64)
        .map(|w| {
            let b = b.clone();
            tokio::spawn(async move {
                for i in 0..per_writer {
                    b.create(&format!("/registry/load/{w}/{i}"), Bytes::from_static(b"{\"kind\":\"Pod\"}"))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = start.elapsed();
    let total: u32 = 64 * per_writer;
    let rate = f64::from(total) / elapsed.as_secs_f64();
    let commits = b.commits();
    eprintln!("{total} durable creates by 64 writers in {elapsed:?}: {rate:.0}/s, {commits} commits");
    assert_eq!(b.revision().await.unwrap(), i64::from(total));
    // Writes share commits (one commit each would be `total`).
    assert!(commits * 8 < u64::from(total), "{commits} commits for {total} writes: no group commit");
    // One fsync per write would manage a few hundred per second here.
    assert!(rate > 1_000.0, "group commit too slow: {rate:.0}/s");
}

/// Concurrent compare-and-swap writers of one key in the same batches: each
/// check sees the earlier writes of its batch, so exactly one per revision wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cas_within_a_batch_sees_earlier_writes() {
    let dir = TempDir::new("cas");
    let b = Arc::new(DurableBackend::open(dir.path()).unwrap());
    let r0 = b.create("/registry/counter", v("0")).await.unwrap();
    // All 32 expect r0: one wins, the rest conflict, whatever the batching.
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let b = b.clone();
            tokio::spawn(async move { b.update("/registry/counter", v(&i.to_string()), r0).await })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(r) => {
                assert_eq!(r, r0 + 1);
                wins += 1;
            }
            Err(e) => assert!(e.is_conflict(), "{e:?}"),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(b.revision().await.unwrap(), r0 + 1);
    // Creates of one key racing: one wins.
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let b = b.clone();
            tokio::spawn(async move { b.create("/registry/once", v("x")).await })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => created += 1,
            Err(e) => assert!(e.is_already_exists(), "{e:?}"),
        }
    }
    assert_eq!(created, 1);
}

/// A watch from far back catches up over many log pages while writes go on,
/// then follows live writes: every event once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_catches_up_over_a_long_history_during_writes() {
    let dir = TempDir::new("catch-up");
    let b = Arc::new(DurableBackend::open_with(dir.path(), test_options()).unwrap());
    let write = |from: usize, to: usize| {
        let b = b.clone();
        tokio::spawn(async move {
            let tasks: Vec<_> = (0..16)
                .map(|w| {
                    let b = b.clone();
                    tokio::spawn(async move {
                        for i in (from..to).filter(|i| i % 16 == w) {
                            b.create(&format!("/registry/pods/{i:05}"), v("p")).await.unwrap();
                            if i % 3 == 0 {
                                b.create(&format!("/registry/other/{i:05}"), v("o")).await.unwrap();
                            }
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        })
    };
    write(0, 1500).await.unwrap();
    let mut w = b.watch("/registry/pods/", 0).await.unwrap();
    let more = write(1500, 2500);
    let mut seen = Vec::new();
    while seen.len() < 2500 {
        let item = tokio::time::timeout(Duration::from_secs(20), w.next()).await.unwrap().unwrap().unwrap();
        if let WatchItem::Event(e) = item {
            assert_eq!(e.kind, EventKind::Put);
            assert!(e.kv.key.starts_with("/registry/pods/"));
            seen.push(e.revision());
        }
    }
    more.await.unwrap();
    assert!(seen.windows(2).all(|p| p[0] < p[1]), "events out of order or duplicated");
    let mut keys = b.range("/registry/pods/", None, 0, None).await.unwrap().kvs;
    keys.sort_by_key(|kv| kv.mod_revision);
    assert_eq!(keys.iter().map(|kv| kv.mod_revision).collect::<Vec<_>>(), seen);
}

/// Dropping the backend ends its live watch streams and releases the file,
/// even while a stream is still held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_ends_watches_and_releases_the_database() {
    let dir = TempDir::new("drop");
    let b = DurableBackend::open(dir.path()).unwrap();
    b.create("/registry/a", v("a")).await.unwrap();
    let mut w = b.watch("/registry/", 0).await.unwrap();
    assert!(matches!(w.next().await, Some(Ok(WatchItem::Event(_)))));
    drop(b);
    let end = tokio::time::timeout(Duration::from_secs(5), w.next()).await.unwrap();
    assert!(end.is_none(), "{end:?}");
    let b = DurableBackend::open(dir.path()).unwrap();
    assert_eq!(b.revision().await.unwrap(), 1);
}

// The model property test (same strategy as `tests/model.rs`), with a restart
// at the end of each sequence that must change nothing.

fn expect() -> impl Strategy<Value = Expect> {
    prop_oneof![3 => Just(Expect::Current), 1 => Just(Expect::Stale)]
}

fn at() -> impl Strategy<Value = At> {
    prop_oneof![
        4 => Just(At::Latest),
        3 => (0u8..12).prop_map(At::Back),
        1 => (0u8..3).prop_map(At::Future),
    ]
}

fn key() -> impl Strategy<Value = usize> {
    0..KEYS.len()
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        25 => (key(), 0u8..10).prop_map(|(key, value)| Op::Create { key, value }),
        25 => (key(), 0u8..10, expect()).prop_map(|(key, value, expected)| Op::Update { key, value, expected }),
        12 => (key(), proptest::option::of(expect())).prop_map(|(key, expected)| Op::Delete { key, expected }),
        12 => (key(), at()).prop_map(|(key, at)| Op::Get { key, at }),
        15 => (0..PREFIXES.len(), proptest::option::of(key()), 0usize..4, at())
            .prop_map(|(prefix, start_after, limit, at)| Op::Range { prefix, start_after, limit, at }),
        5 => (0u8..8).prop_map(|back| Op::Compact { back }),
        6 => (0u8..10).prop_map(|back| Op::Watch { back }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn durable_backend_matches_the_model_and_survives_restart(ops in proptest::collection::vec(op(), 0..=40)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = TempDir::new("model");
        let options = DurableOptions { watch_capacity: 64, progress_interval: Duration::from_millis(5), history: 0, ..DurableOptions::default() };
        let keys: Vec<String> = KEYS.iter().map(|k| format!("/model/{k}")).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let before = rt.block_on(async {
            let b = DurableBackend::open_with(dir.path(), options.clone()).unwrap();
            check_sequence(&b, &ops).await;
            picture_under(&b, "/model/", &keys).await
        });
        let after = rt.block_on(async {
            let b = DurableBackend::open_with(dir.path(), options).unwrap();
            picture_under(&b, "/model/", &keys).await
        });
        prop_assert_eq!(before, after);
    }
}
