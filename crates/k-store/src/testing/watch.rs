//! Conformance: watches (order, prefixes, history, resumption, progress, slow watchers).

use std::sync::Arc;

use crate::backend::{Backend, Event, EventKind, Revision, WatchItem};
use crate::error::StoreError;

use super::support::{Config, expect_watch_error, kv, next_event, next_item, next_progress, value};

fn put(key: &str, val: &str, create: Revision, rev: Revision, prev: Option<(&str, Revision)>) -> Event {
    Event::new(EventKind::Put, kv(key, val, create, rev), prev.map(|(pv, pm)| kv(key, pv, create, pm)))
}

fn del(key: &str, last: &str, create: Revision, last_mod: Revision, rev: Revision) -> Event {
    Event::new(EventKind::Delete, kv(key, last, create, rev), Some(kv(key, last, create, last_mod)))
}

/// A watch yields the changes under its prefix (and only those), history
/// first, then live, in revision order.
pub async fn watch_order_and_prefix(backend: Arc<dyn Backend>) {
    let b = &*backend;
    let r0 = b.revision().await.unwrap();
    let p = "/registry/pods/a/";

    b.create("/registry/pods/a/x", value("x1")).await.unwrap(); // r0+1
    b.create("/registry/pods/ab/y", value("y1")).await.unwrap(); // r0+2
    b.create("/registry/pods/a/z", value("z1")).await.unwrap(); // r0+3
    let mut w = b.watch(p, r0).await.unwrap();
    b.update("/registry/pods/a/x", value("x2"), r0 + 1).await.unwrap(); // r0+4
    b.create("/registry/pods/b/q", value("q1")).await.unwrap(); // r0+5
    b.create("/registry/pods/a", value("no slash")).await.unwrap(); // r0+6
    b.create("/registry/pods/a/b/deep", value("d1")).await.unwrap(); // r0+7
    b.delete("/registry/pods/a/z", None).await.unwrap(); // r0+8
    b.update("/registry/pods/ab/y", value("y2"), r0 + 2).await.unwrap(); // r0+9

    let expected = [
        put("/registry/pods/a/x", "x1", r0 + 1, r0 + 1, None),
        put("/registry/pods/a/z", "z1", r0 + 3, r0 + 3, None),
        put("/registry/pods/a/x", "x2", r0 + 1, r0 + 4, Some(("x1", r0 + 1))),
        put("/registry/pods/a/b/deep", "d1", r0 + 7, r0 + 7, None),
        del("/registry/pods/a/z", "z1", r0 + 3, r0 + 3, r0 + 8),
    ];
    for e in &expected {
        assert_eq!(&next_event(&mut w).await, e);
    }
    // Nothing else in between: the next change under the prefix comes next.
    b.create("/registry/pods/a/sentinel", value("s")).await.unwrap(); // r0+10
    assert_eq!(next_event(&mut w).await, put("/registry/pods/a/sentinel", "s", r0 + 10, r0 + 10, None));

    // A watch of everything sees every change in order.
    let mut all = b.watch("", r0).await.unwrap();
    for rev in r0 + 1..=r0 + 10 {
        assert_eq!(next_event(&mut all).await.revision(), rev);
    }
}

/// Deletes carry the last value with the deletion's revision; updates and
/// deletes carry the previous value; creates carry none.
pub async fn watch_delete_and_prev(backend: Arc<dyn Backend>) {
    let b = &*backend;
    let r0 = b.revision().await.unwrap();
    let k = "/registry/secrets/ns/s";
    let mut w = b.watch("/registry/secrets/", r0).await.unwrap();

    b.create(k, value("v1")).await.unwrap(); // r0+1
    b.update(k, value("v2"), r0 + 1).await.unwrap(); // r0+2
    b.delete(k, Some(r0 + 2)).await.unwrap(); // r0+3
    b.create(k, value("v3")).await.unwrap(); // r0+4
    b.delete(k, None).await.unwrap(); // r0+5

    assert_eq!(next_event(&mut w).await, put(k, "v1", r0 + 1, r0 + 1, None));
    assert_eq!(next_event(&mut w).await, put(k, "v2", r0 + 1, r0 + 2, Some(("v1", r0 + 1))));
    let e = next_event(&mut w).await;
    assert_eq!(e, del(k, "v2", r0 + 1, r0 + 2, r0 + 3));
    assert_eq!(e.revision(), r0 + 3);
    assert_eq!(next_event(&mut w).await, put(k, "v3", r0 + 4, r0 + 4, None));
    assert_eq!(next_event(&mut w).await, del(k, "v3", r0 + 4, r0 + 4, r0 + 5));

    // The same events replayed from history.
    let mut h = b.watch("/registry/secrets/", r0 + 2).await.unwrap();
    assert_eq!(next_event(&mut h).await, del(k, "v2", r0 + 1, r0 + 2, r0 + 3));
    assert_eq!(next_event(&mut h).await, put(k, "v3", r0 + 4, r0 + 4, None));
    assert_eq!(next_event(&mut h).await, del(k, "v3", r0 + 4, r0 + 4, r0 + 5));
}

/// A watcher reads some events and goes away; a new watch from the last
/// revision it saw yields exactly the remaining events.
pub async fn watch_resume_without_loss_or_duplication(backend: Arc<dyn Backend>) {
    let b = &*backend;
    let r0 = b.revision().await.unwrap();
    let p = "/registry/deployments/ns/";
    let key = |i: i64| format!("{p}d{i}");

    let mut w = b.watch(p, r0).await.unwrap();
    for i in 0..10 {
        b.create(&key(i), value("v1")).await.unwrap(); // r0+1+i
    }
    b.create("/registry/other/x", value("x")).await.unwrap(); // r0+11
    let mut last_seen = r0;
    for i in 0..4 {
        let e = next_event(&mut w).await;
        assert_eq!(e, put(&key(i), "v1", r0 + 1 + i, r0 + 1 + i, None));
        last_seen = e.revision();
    }
    drop(w);
    assert_eq!(last_seen, r0 + 4);

    for i in 0..5 {
        b.update(&key(i), value("v2"), r0 + 1 + i).await.unwrap(); // r0+12+i
    }
    b.delete(&key(9), None).await.unwrap(); // r0+17

    let mut w = b.watch(p, last_seen).await.unwrap();
    for i in 4..10 {
        assert_eq!(next_event(&mut w).await, put(&key(i), "v1", r0 + 1 + i, r0 + 1 + i, None));
    }
    for i in 0..5 {
        assert_eq!(next_event(&mut w).await, put(&key(i), "v2", r0 + 1 + i, r0 + 12 + i, Some(("v1", r0 + 1 + i))));
    }
    assert_eq!(next_event(&mut w).await, del(&key(9), "v1", r0 + 10, r0 + 10, r0 + 17));
    // And nothing more: the next change is the next event.
    b.create(&key(100), value("sentinel")).await.unwrap(); // r0+18
    assert_eq!(next_event(&mut w).await, put(&key(100), "sentinel", r0 + 18, r0 + 18, None));
}

/// A watch from an older (not compacted) revision replays the history after
/// it, then continues live.
pub async fn watch_replays_history(backend: Arc<dyn Backend>) {
    let b = &*backend;
    let r0 = b.revision().await.unwrap();
    let p = "/registry/jobs/";

    b.create("/registry/jobs/ns/a", value("a1")).await.unwrap(); // r0+1
    b.create("/registry/cronjobs/ns/a", value("c1")).await.unwrap(); // r0+2
    b.update("/registry/jobs/ns/a", value("a2"), r0 + 1).await.unwrap(); // r0+3
    b.create("/registry/jobs/ns/b", value("b1")).await.unwrap(); // r0+4
    b.delete("/registry/jobs/ns/a", None).await.unwrap(); // r0+5

    let mut all = vec![
        put("/registry/jobs/ns/a", "a1", r0 + 1, r0 + 1, None),
        put("/registry/jobs/ns/a", "a2", r0 + 1, r0 + 3, Some(("a1", r0 + 1))),
        put("/registry/jobs/ns/b", "b1", r0 + 4, r0 + 4, None),
        del("/registry/jobs/ns/a", "a2", r0 + 1, r0 + 3, r0 + 5),
    ];
    for (after, skip) in [(r0, 0), (r0 + 1, 1), (r0 + 2, 1), (r0 + 3, 2), (r0 + 4, 3)] {
        let mut w = b.watch(p, after).await.unwrap();
        for e in &all[skip..] {
            assert_eq!(&next_event(&mut w).await, e, "watch from {after}");
        }
        // Then live (each round's live change is history for the next rounds).
        let live = format!("/registry/jobs/live/{after}");
        let rev = b.create(&live, value("live")).await.unwrap();
        let e = put(&live, "live", rev, rev, None);
        assert_eq!(next_event(&mut w).await, e, "watch from {after}: the first live event");
        all.push(e);
    }

    // From the latest revision: only live events.
    let latest = b.revision().await.unwrap();
    let mut w = b.watch(p, latest).await.unwrap();
    let rev = b.update("/registry/jobs/ns/b", value("b2"), r0 + 4).await.unwrap();
    assert_eq!(next_event(&mut w).await, put("/registry/jobs/ns/b", "b2", r0 + 4, rev, Some(("b1", r0 + 4))));
}

/// A watch from below the compacted revision fails with Expired (at once or
/// as its first item); from the compacted revision itself it works.
pub async fn watch_from_compacted_revision_expires(backend: Arc<dyn Backend>) {
    let b = &*backend;
    let r0 = b.revision().await.unwrap();
    let p = "/registry/leases/";
    for i in 0..5 {
        b.create(&format!("{p}l{i}"), value("v")).await.unwrap(); // r0+1+i
    }
    b.compact(r0 + 3).await.unwrap();

    match expect_watch_error(b.watch(p, r0 + 2).await).await {
        StoreError::Expired { requested, compacted } => assert_eq!((requested, compacted), (r0 + 2, r0 + 3)),
        other => panic!("watch below the compacted revision: expected Expired, got {other:?}"),
    }
    let e = expect_watch_error(b.watch(p, r0).await).await;
    assert!(matches!(e, StoreError::Expired { .. }), "{e:?}");

    let mut w = b.watch(p, r0 + 3).await.unwrap();
    assert_eq!(next_event(&mut w).await, put(&format!("{p}l3"), "v", r0 + 4, r0 + 4, None));
    assert_eq!(next_event(&mut w).await, put(&format!("{p}l4"), "v", r0 + 5, r0 + 5, None));
}

/// A watch opened while another task writes joins its history part and its
/// live part with no gap and no duplicate. Assumes a watch capacity of at
/// least 50 events.
pub async fn watch_joins_history_and_live_without_gap(backend: Arc<dyn Backend>) {
    const WRITES: i64 = 100;
    let r0 = backend.revision().await.unwrap();
    let p = "/registry/events/ns/";
    let writer = {
        let backend = Arc::clone(&backend);
        tokio::spawn(async move {
            for i in 0..WRITES {
                let rev = backend.create(&format!("{p}e{i:03}"), value("v")).await.unwrap();
                assert_eq!(rev, r0 + 1 + i);
                tokio::task::yield_now().await;
            }
        })
    };
    // Open the watch in the middle of the writes, from an older revision.
    while backend.revision().await.unwrap() < r0 + WRITES / 2 {
        tokio::task::yield_now().await;
    }
    let mut w = backend.watch(p, r0 + 10).await.unwrap();
    for i in 10..WRITES {
        let e = next_event(&mut w).await;
        assert_eq!(e, put(&format!("{p}e{i:03}"), "v", r0 + 1 + i, r0 + 1 + i, None));
    }
    writer.await.unwrap();
    let rev = backend.create(&format!("{p}sentinel"), value("s")).await.unwrap();
    assert_eq!(next_event(&mut w).await.revision(), rev);
}

/// An idle watch reports progress: a notification arrives (within
/// `config.progress_timeout`) with a revision at least the latest one, also
/// after changes outside its prefix; it never claims a revision not reached.
pub async fn watch_progress_when_idle(backend: Arc<dyn Backend>, config: &Config) {
    let b = &*backend;
    let r1 = b.create("/registry/progress/other/a", value("x")).await.unwrap();
    let mut w = b.watch("/registry/progress/watched/", r1).await.unwrap();
    let p = next_progress(&mut w, r1, config.progress_timeout).await;
    assert!(p <= b.revision().await.unwrap(), "progress {p} beyond the latest revision");

    let r2 = b.create("/registry/progress/other/b", value("y")).await.unwrap();
    let p = next_progress(&mut w, r2, config.progress_timeout).await;
    assert!(p <= b.revision().await.unwrap(), "progress {p} beyond the latest revision");

    // Progress does not get in the way of events.
    let r3 = b.create("/registry/progress/watched/c", value("z")).await.unwrap();
    assert_eq!(next_event(&mut w).await, put("/registry/progress/watched/c", "z", r3, r3, None));
}

/// A watcher that never reads while `config.slow_watcher_writes` changes
/// happen is ended with WatcherTooSlow after the events it had buffered (a
/// gap-free prefix of the changes); every write succeeds, and a new watch
/// works.
pub async fn slow_watcher_is_ended(backend: Arc<dyn Backend>, config: &Config) {
    let b = &*backend;
    let r0 = b.revision().await.unwrap();
    let p = "/registry/slow/";
    let k = "/registry/slow/ns/counter";
    let mut slow = b.watch(p, r0).await.unwrap();
    // A watcher of another prefix is not affected.
    let mut elsewhere = b.watch("/registry/elsewhere/", r0).await.unwrap();

    let n = i64::try_from(config.slow_watcher_writes).unwrap();
    let mut rev = b.create(k, value("0")).await.unwrap();
    assert_eq!(rev, r0 + 1);
    for i in 1..n {
        let next = b.update(k, value(&i.to_string()), rev).await.unwrap();
        assert_eq!(next, rev + 1);
        rev = next;
    }
    assert_eq!(b.revision().await.unwrap(), r0 + n);

    // Drain: buffered events in order with no gap, then the error, then the end.
    let mut expected_rev = r0 + 1;
    let error = loop {
        match next_item(&mut slow).await {
            Some(Ok(WatchItem::Event(e))) => {
                assert_eq!(e.revision(), expected_rev, "a gap or duplicate before the watcher was ended");
                assert_eq!(e.kv.value, value(&(expected_rev - r0 - 1).to_string()));
                expected_rev += 1;
            }
            Some(Ok(WatchItem::Progress(_))) => {}
            Some(Err(e)) => break e,
            None => panic!("the slow watcher ended without WatcherTooSlow"),
        }
    };
    assert!(matches!(error, StoreError::WatcherTooSlow { .. }), "expected WatcherTooSlow, got {error:?}");
    assert!(expected_rev <= r0 + n, "the slow watcher received every event: it was not cut off");
    assert!(next_item(&mut slow).await.is_none(), "the stream must end after WatcherTooSlow");

    // Re-list and watch again.
    let page = b.range(p, None, 0, None).await.unwrap();
    assert_eq!(page.kvs, vec![kv(k, &(n - 1).to_string(), r0 + 1, r0 + n)]);
    let mut again = b.watch(p, page.revision).await.unwrap();
    let last = b.update(k, value("last"), r0 + n).await.unwrap();
    assert_eq!(next_event(&mut again).await, put(k, "last", r0 + 1, last, Some((&(n - 1).to_string(), r0 + n))));

    let other = b.create("/registry/elsewhere/x", value("x")).await.unwrap();
    assert_eq!(next_event(&mut elsewhere).await, put("/registry/elsewhere/x", "x", other, other, None));
}
