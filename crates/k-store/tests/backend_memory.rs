//! The memory backend: the conformance suite (with default and with small
//! options) and memory-specific behaviour.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use k_store::StoreError;
use k_store::backend::memory::{MemoryBackend, MemoryOptions};
use k_store::backend::{Backend, EventKind, WatchItem};
use k_store::testing::{Config, kv, next_event, next_item, value};

/// Default options but a faster progress interval (5 s would make the
/// progress test take 10 s): the slow-watcher test writes past the default
/// capacity (10 000).
async fn default_backend() -> Arc<dyn Backend> {
    Arc::new(MemoryBackend::with_options(MemoryOptions {
        progress_interval: Duration::from_millis(500),
        ..MemoryOptions::default()
    }))
}

/// Small queues and fast progress.
async fn small_backend() -> Arc<dyn Backend> {
    Arc::new(MemoryBackend::with_options(small_options()))
}

fn small_options() -> MemoryOptions {
    MemoryOptions { watch_capacity: 64, history: 0, progress_interval: Duration::from_millis(50) }
}

k_store::backend_conformance_tests!(mod defaults, default_backend(), Config { slow_watcher_writes: 12_000, ..Config::default() });
k_store::backend_conformance_tests!(mod small, small_backend(), Config { slow_watcher_writes: 500, ..Config::default() });

// The factory may also return a concrete backend, by value or in an Arc.
k_store::backend_conformance_tests!(mod by_value, async { MemoryBackend::with_options(small_options()) }, Config {
    slow_watcher_writes: 500,
    model_sequences: 2,
    ..Config::default()
});

#[tokio::test]
async fn history_is_compacted_automatically() {
    let b = MemoryBackend::with_options(MemoryOptions { history: 10, ..MemoryOptions::default() });
    let k = "/registry/pods/ns/p";
    let mut rev = b.create(k, value("0")).await.unwrap();
    for i in 1..25 {
        rev = b.update(k, value(&i.to_string()), rev).await.unwrap();
    }
    assert_eq!(rev, 25);
    // Revisions 16..=25 are kept: 15 is the oldest readable state.
    assert_eq!(b.compacted_revision().await.unwrap(), 15);
    assert_eq!(b.get(k, Some(15)).await.unwrap(), Some(kv(k, "14", 1, 15)));
    assert_eq!(b.get(k, Some(20)).await.unwrap(), Some(kv(k, "19", 1, 20)));
    assert!(matches!(b.get(k, Some(14)).await, Err(StoreError::Expired { requested: 14, compacted: 15 })));
    assert!(matches!(b.watch("/", 14).await.err(), Some(StoreError::Expired { requested: 14, compacted: 15 })));
    let mut w = b.watch("/", 15).await.unwrap();
    for r in 16..=25 {
        assert_eq!(next_event(&mut w).await.revision(), r);
    }
    // An explicit compaction below the automatic one is a no-op.
    b.compact(3).await.unwrap();
    assert_eq!(b.compacted_revision().await.unwrap(), 15);
}

#[tokio::test]
async fn history_zero_keeps_everything_until_compact() {
    let b = MemoryBackend::with_options(MemoryOptions { history: 0, ..MemoryOptions::default() });
    let k = "/registry/pods/ns/p";
    let mut rev = b.create(k, value("0")).await.unwrap();
    for i in 1..2_000 {
        rev = b.update(k, value(&i.to_string()), rev).await.unwrap();
    }
    assert_eq!(b.compacted_revision().await.unwrap(), 0);
    assert_eq!(b.get(k, Some(1)).await.unwrap(), Some(kv(k, "0", 1, 1)));
    b.compact(1_000).await.unwrap();
    assert_eq!(b.compacted_revision().await.unwrap(), 1_000);
    assert_eq!(b.get(k, Some(1_000)).await.unwrap(), Some(kv(k, "999", 1, 1_000)));
    // Compacting into the future is refused; compacting the past again is a no-op.
    assert!(matches!(
        b.compact(2_001).await,
        Err(StoreError::TooLargeResourceVersion { requested: 2_001, current: 2_000 })
    ));
    b.compact(10).await.unwrap();
    assert_eq!(b.compacted_revision().await.unwrap(), 1_000);
}

#[tokio::test]
async fn small_watch_capacity_cuts_off_after_exactly_capacity_events() {
    let b = MemoryBackend::with_options(MemoryOptions { watch_capacity: 4, ..MemoryOptions::default() });
    let mut w = b.watch("/registry/", 0).await.unwrap();
    for i in 0..10 {
        b.create(&format!("/registry/k{i}"), value("v")).await.unwrap();
    }
    for r in 1..=4 {
        assert_eq!(next_event(&mut w).await.revision(), r);
    }
    match next_item(&mut w).await {
        Some(Err(StoreError::WatcherTooSlow { capacity: 4 })) => {}
        other => panic!("expected WatcherTooSlow {{ capacity: 4 }}, got {other:?}"),
    }
    assert!(next_item(&mut w).await.is_none());
    assert_eq!(b.watcher_count(), 0);
}

#[tokio::test]
async fn replayed_history_is_not_limited_by_the_watch_capacity() {
    let b = MemoryBackend::with_options(MemoryOptions { watch_capacity: 4, ..MemoryOptions::default() });
    for i in 0..100 {
        b.create(&format!("/registry/k{i:03}"), value("v")).await.unwrap();
    }
    let mut w = b.watch("/registry/", 0).await.unwrap();
    for r in 1..=100 {
        assert_eq!(next_event(&mut w).await.revision(), r);
    }
    // Live events still flow when read promptly.
    for i in 100..120 {
        let rev = b.create(&format!("/registry/k{i:03}"), value("v")).await.unwrap();
        assert_eq!(next_event(&mut w).await.revision(), rev);
    }
}

#[tokio::test]
async fn dropped_watchers_are_unregistered_at_the_next_write() {
    let b = MemoryBackend::new();
    let w1 = b.watch("/a/", 0).await.unwrap();
    let _w2 = b.watch("/b/", 0).await.unwrap();
    assert_eq!(b.watcher_count(), 2);
    drop(w1);
    // Even a write elsewhere prunes it.
    b.create("/c/x", value("v")).await.unwrap();
    assert_eq!(b.watcher_count(), 1);
}

#[tokio::test]
async fn errors_name_the_key() {
    let b = MemoryBackend::new();
    let k = "/registry/pods/ns/p";
    b.create(k, value("v")).await.unwrap();
    match b.create(k, value("v")).await {
        Err(StoreError::AlreadyExists { resource, name }) => assert_eq!((resource.as_str(), name.as_str()), ("", k)),
        other => panic!("{other:?}"),
    }
    match b.update(k, value("v"), 7).await {
        Err(StoreError::Conflict { resource, name, message }) => {
            assert_eq!((resource.as_str(), name.as_str()), ("", k));
            assert_eq!(
                message,
                "the object has been modified; please apply your changes to the latest version and try again"
            );
        }
        other => panic!("{other:?}"),
    }
    match b.delete("/registry/pods/ns/q", None).await {
        Err(StoreError::NotFound { resource, name }) => {
            assert_eq!((resource.as_str(), name.as_str()), ("", "/registry/pods/ns/q"))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(b.get(k, Some(-1)).await, Err(StoreError::BadRequest(_))));
    assert!(matches!(b.watch("/", -1).await.err(), Some(StoreError::BadRequest(_))));
}

#[tokio::test]
async fn watch_from_a_future_revision_starts_there() {
    let b = MemoryBackend::with_options(small_options());
    let mut w = b.watch("/", 3).await.unwrap();
    for i in 1..=5 {
        b.create(&format!("/k{i}"), value("v")).await.unwrap();
    }
    // Revisions 1..=3 are not after 3; progress is only reported once the
    // store has reached the watch's revision.
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match next_item(&mut w).await {
            Some(Ok(WatchItem::Event(e))) => seen.push(e.revision()),
            Some(Ok(WatchItem::Progress(p))) => assert!(p >= 3, "progress {p} before the watch's revision"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(seen, [4, 5]);
}

#[tokio::test]
async fn delete_event_and_result() {
    let b = MemoryBackend::new();
    let k = "/registry/pods/ns/p";
    let mut w = b.watch("/registry/", 0).await.unwrap();
    b.create(k, Bytes::from_static(b"{}")).await.unwrap();
    let (rev, deleted) = b.delete(k, Some(1)).await.unwrap();
    assert_eq!((rev, deleted), (2, kv(k, "{}", 1, 1)));
    assert_eq!(next_event(&mut w).await.kind, EventKind::Put);
    let e = next_event(&mut w).await;
    assert_eq!((e.kind, e.kv, e.prev), (EventKind::Delete, kv(k, "{}", 1, 2), Some(kv(k, "{}", 1, 1))));
}

/// The backend needs no tokio runtime: construct it and use it from a plain
/// thread with a minimal executor (watch streams then just carry no progress
/// notifications).
#[test]
fn works_without_a_tokio_runtime() {
    let b = MemoryBackend::new();
    futures::executor::block_on(async {
        let mut w = b.watch("/", 0).await.unwrap();
        b.create("/x", value("1")).await.unwrap();
        assert_eq!(b.get("/x", None).await.unwrap(), Some(kv("/x", "1", 1, 1)));
        match w.next().await {
            Some(Ok(WatchItem::Event(e))) => assert_eq!(e.kv, kv("/x", "1", 1, 1)),
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn options_are_clamped_and_debug_does_not_lock_up() {
    let b =
        MemoryBackend::with_options(MemoryOptions { watch_capacity: 0, history: 5, progress_interval: Duration::ZERO });
    assert_eq!(b.options().watch_capacity, 1);
    assert_eq!(b.options().progress_interval, Duration::from_millis(1));
    assert!(b.is_empty());
    let debug = format!("{b:?}");
    assert!(debug.contains("revision: 0"), "{debug}");
}
