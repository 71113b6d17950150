//! The etcd backend against real etcd processes (Debian package
//! `etcd-server`): the conformance suite (a fresh server per test), the
//! model property test, and a 3-member cluster losing a member.
#![cfg(feature = "etcd")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};

use k_store::StoreError;
use k_store::backend::etcd::{EtcdBackend, EtcdOptions};
use k_store::backend::{Backend, EventKind, WatchItem, WatchStream};
use k_store::etcd_harness::{BINARY_NOT_FOUND, EtcdCluster, EtcdTestBackend, HarnessError};
use k_store::testing::model::{At, Expect, KEYS, Op, PREFIXES, check_sequence_under};
use k_store::testing::{Config, kv, next_event, value};

/// Small queues, so that the slow-watcher test needs few writes.
const WATCH_CAPACITY: usize = 200;

fn options() -> EtcdOptions {
    EtcdOptions {
        watch_capacity: WATCH_CAPACITY,
        progress_interval: Duration::from_millis(500),
        ..EtcdOptions::default()
    }
}

async fn fresh_backend() -> Arc<dyn Backend> {
    Arc::new(EtcdTestBackend::start_with(options()).await.expect("start an etcd test server"))
}

// The test harness runs etcd with 500 ms progress notifications.
k_store::backend_conformance_tests!(
    fresh_backend(),
    Config { slow_watcher_writes: 3 * WATCH_CAPACITY, progress_timeout: Duration::from_secs(5), ..Config::default() }
);

#[test]
fn missing_binary_names_the_debian_package() {
    let message = HarnessError::BinaryNotFound.to_string();
    assert_eq!(message, BINARY_NOT_FOUND);
    assert!(message.contains("apt-get install etcd-server"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_revisions_are_mod_revisions() {
    let t = EtcdTestBackend::start_with(options()).await.unwrap();
    let b = t.backend();
    // A fresh etcd is at revision 1: the first write gets 2.
    assert_eq!(b.revision().await.unwrap(), 1);
    assert_eq!(b.compacted_revision().await.unwrap(), 0);
    let k = "/registry/pods/default/web";
    assert_eq!(b.create(k, value("v1")).await.unwrap(), 2);
    // Seen through the raw client: the same key, value and revisions.
    let raw = b.client().clone().get(k, None).await.unwrap();
    let raw = &raw.kvs()[0];
    assert_eq!((raw.key(), raw.value(), raw.create_revision(), raw.mod_revision()), (k.as_bytes(), &b"v1"[..], 2, 2));
    // Revision 0 is the empty state before the first write.
    assert_eq!(b.get(k, Some(0)).await.unwrap(), None);
    assert!(matches!(b.get(k, Some(-1)).await, Err(StoreError::BadRequest(_))));
    // A range starting after the last key of the prefix is empty.
    let page = b.range("/registry/pods/", Some("/registry/pods/default/web"), 0, None).await.unwrap();
    assert_eq!((page.kvs.len(), page.revision, page.more), (0, 2, false));
    // Compacting twice, or below the compacted revision, is fine; beyond the latest is not.
    b.update(k, value("v2"), 2).await.unwrap();
    b.compact(3).await.unwrap();
    b.compact(2).await.unwrap();
    assert_eq!(b.compacted_revision().await.unwrap(), 3);
    assert!(matches!(b.compact(10).await, Err(StoreError::TooLargeResourceVersion { requested: 10, current: 3 })));
    assert!(matches!(b.get(k, Some(0)).await, Err(StoreError::Expired { requested: 0, compacted: 3 })));
}

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

/// Random sequences against the model, on one server: each case (shrinking
/// included) under its own root, one after the other.
#[test]
fn etcd_backend_matches_the_model() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let server = runtime.block_on(EtcdTestBackend::start_with(options())).unwrap();
    let case = AtomicUsize::new(0);
    let mut runner =
        TestRunner::new(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() });
    let result = runner.run(&proptest::collection::vec(op(), 0..=40), |ops| {
        let root = format!("/model/{}/", case.fetch_add(1, Ordering::Relaxed));
        runtime.block_on(check_sequence_under(server.backend(), &root, &ops));
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// The index of the member currently leading the cluster.
async fn leader(cluster: &EtcdCluster) -> usize {
    for i in 0..cluster.len() {
        let endpoint = cluster.endpoint(i).unwrap();
        let Ok(b) = EtcdBackend::connect(&[endpoint]).await else { continue };
        let status = b.client().clone().status().await.unwrap();
        if status.header().map(|h| h.member_id()) == Some(status.leader()) {
            return i;
        }
    }
    panic!("no leader in the cluster");
}

async fn next_put(w: &mut WatchStream, key: &str, rev: i64) {
    let e = next_event(w).await;
    assert_eq!((e.kind, e.kv.key.as_str(), e.revision()), (EventKind::Put, key, rev));
}

/// A 3-member cluster: the backend, connected to all three, keeps serving
/// reads, writes and watches when a member dies (the leader, or the one a
/// watch happens to use), and a new backend can connect with a dead member
/// among its endpoints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_member_cluster_survives_losing_a_member() {
    let mut cluster = tokio::task::spawn_blocking(|| EtcdCluster::start(3)).await.unwrap().unwrap();
    assert_eq!(cluster.len(), 3);
    let b = EtcdBackend::connect_with(&cluster.endpoints(), options()).await.unwrap();
    let p = "/registry/configmaps/ns/";

    let r0 = b.revision().await.unwrap();
    let mut w = b.watch(p, r0).await.unwrap();
    let mut rev = 0;
    for i in 0..10 {
        rev = b.create(&format!("{p}before-{i}"), value("v")).await.unwrap();
        assert_eq!(rev, r0 + 1 + i);
    }
    for i in 0..10 {
        next_put(&mut w, &format!("{p}before-{i}"), r0 + 1 + i).await;
    }

    // Kill the leader: the survivors elect another one.
    let dead = leader(&cluster).await;
    cluster.kill_member(dead).unwrap();
    assert!(!cluster.is_running(dead));

    // Reads are retried until the cluster answers again.
    let page = b.range(p, None, 0, None).await.unwrap();
    assert_eq!(page.kvs.len(), 10);
    assert_eq!(
        b.get(&format!("{p}before-0"), None).await.unwrap(),
        Some(kv(&format!("{p}before-0"), "v", r0 + 1, r0 + 1))
    );

    // Writes go on, and the watch delivers them with no gap.
    for i in 0..10 {
        let key = format!("{p}after-{i}");
        let r = b.create(&key, value("v")).await.unwrap();
        assert_eq!(r, rev + 1);
        rev = r;
        next_put(&mut w, &key, r).await;
    }
    let (r, deleted) = b.delete(&format!("{p}before-0"), Some(r0 + 1)).await.unwrap();
    assert_eq!(deleted.value, value("v"));
    let e = next_event(&mut w).await;
    assert_eq!((e.kind, e.revision(), e.kv.value.clone()), (EventKind::Delete, r, value("v")));

    // A new client with the dead member among its endpoints connects and writes.
    let again = EtcdBackend::connect_with(&cluster.endpoints(), options()).await.unwrap();
    assert_eq!(again.revision().await.unwrap(), r);
    let key = format!("{p}from-second-client");
    let r = again.create(&key, value("x")).await.unwrap();
    next_put(&mut w, &key, r).await;

    // A watch opened after the failure replays everything from the start.
    let mut replay = b.watch(p, r0).await.unwrap();
    let mut seen = 0;
    while seen < 22 {
        match replay.next().await {
            Some(Ok(WatchItem::Event(e))) => {
                seen += 1;
                assert_eq!(e.revision(), r0 + seen);
            }
            Some(Ok(WatchItem::Progress(_))) => {}
            other => panic!("replay: {other:?}"),
        }
    }
}

/// The conformance suite again with one etcd watch per watcher (no shared
/// watch), the path taken by watchers older than the shared watch's history.
mod own_watches {
    use super::*;

    async fn fresh_backend() -> Arc<dyn Backend> {
        let options = EtcdOptions { shared_watch_prefix: None, ..options() };
        Arc::new(EtcdTestBackend::start_with(options).await.expect("start an etcd test server"))
    }

    k_store::backend_conformance_tests!(
        fresh_backend(),
        Config {
            slow_watcher_writes: 3 * WATCH_CAPACITY,
            progress_timeout: Duration::from_secs(5),
            ..Config::default()
        }
    );
}

/// Watchers share one etcd watch: a recent resume joins it and replays the
/// kept history; a resume older than that history gets its own etcd watch
/// and still sees every change; the shared watch stops with its last
/// watcher and a later watch starts another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_share_one_etcd_watch() {
    let options = EtcdOptions { watch_cache_size: 5, ..options() };
    let t = EtcdTestBackend::start_with(options).await.unwrap();
    let b = t.backend();
    let p = "/registry/configmaps/ns/";
    let r0 = b.revision().await.unwrap();
    let mut first = b.watch(p, r0).await.unwrap();
    let mut other_prefix = b.watch("/registry/secrets/", r0).await.unwrap();
    assert_eq!(b.shared_watcher_count().await, 2);
    for i in 1..=10 {
        assert_eq!(b.create(&format!("{p}c{i}"), value("v")).await.unwrap(), r0 + i);
    }
    for i in 1..=10 {
        next_put(&mut first, &format!("{p}c{i}"), r0 + i).await;
    }
    // The kept history holds the last 5 changes: r0+6 ..= r0+10.
    let mut recent = b.watch(p, r0 + 7).await.unwrap();
    assert_eq!(b.shared_watcher_count().await, 3);
    for i in 8..=10 {
        next_put(&mut recent, &format!("{p}c{i}"), r0 + i).await;
    }
    let mut old = b.watch(p, r0 + 2).await.unwrap();
    assert_eq!(b.shared_watcher_count().await, 3, "an old resume gets its own etcd watch");
    for i in 3..=10 {
        next_put(&mut old, &format!("{p}c{i}"), r0 + i).await;
    }
    // Live changes reach all of them; the other prefix sees only its own.
    let r = b.create("/registry/secrets/ns/s", value("s")).await.unwrap();
    let r2 = b.create(&format!("{p}live"), value("v")).await.unwrap();
    next_put(&mut other_prefix, "/registry/secrets/ns/s", r).await;
    for w in [&mut first, &mut recent, &mut old] {
        next_put(w, &format!("{p}live"), r2).await;
    }
    drop((first, recent, other_prefix));
    assert_eq!(b.shared_watcher_count().await, 0, "the last watcher stops the shared watch");
    // A new watch starts a new shared watch, from its own revision.
    let mut again = b.watch(p, r0 + 1).await.unwrap();
    assert_eq!(b.shared_watcher_count().await, 1);
    for i in 2..=10 {
        next_put(&mut again, &format!("{p}c{i}"), r0 + i).await;
    }
    next_put(&mut again, &format!("{p}live"), r2).await;
    drop(old);
}
