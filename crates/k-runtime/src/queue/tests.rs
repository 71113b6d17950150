use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;
use crate::clock::FakeClock;

fn fake_queue() -> (WorkQueue<String>, FakeClock) {
    let clock = FakeClock::new();
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let queue = WorkQueue::with("test", shared.clone(), Box::new(default_controller_rate_limiter(shared)));
    (queue, clock)
}

/// The next item, if one is ready without waiting.
async fn ready(queue: &WorkQueue<String>) -> Option<String> {
    tokio::time::timeout(Duration::from_millis(50), queue.get()).await.ok().flatten()
}

#[tokio::test]
async fn adds_deduplicate_and_keep_order() {
    let (q, _) = fake_queue();
    for item in ["a", "b", "a", "c", "b"] {
        q.add(item.to_owned());
    }
    assert_eq!(q.len(), 3);
    let mut got = Vec::new();
    for _ in 0..3 {
        let item = ready(&q).await.unwrap();
        q.done(&item);
        got.push(item);
    }
    assert_eq!(got, ["a", "b", "c"]);
    assert!(ready(&q).await.is_none());
}

#[tokio::test]
async fn an_item_is_never_processed_twice_at_once() {
    let (q, _) = fake_queue();
    q.add("a".to_owned());
    let first = ready(&q).await.unwrap();
    // Added again while being processed: not handed to another worker...
    q.add("a".to_owned());
    q.add("a".to_owned());
    assert!(ready(&q).await.is_none(), "a is in flight");
    assert_eq!(q.len(), 0, "it waits outside the queue until done (client-go's Len)");
    // ...but once more after done.
    q.done(&first);
    let again = ready(&q).await.unwrap();
    assert_eq!(again, "a");
    q.done(&again);
    assert!(ready(&q).await.is_none(), "exactly once more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_workers_never_share_an_item() {
    let q: WorkQueue<u32> = WorkQueue::new("concurrency");
    let in_flight: Arc<std::sync::Mutex<std::collections::HashSet<u32>>> = Arc::default();
    let processed = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (q, in_flight, processed) = (q.clone(), in_flight.clone(), processed.clone());
        workers.push(tokio::spawn(async move {
            while let Some(item) = q.get().await {
                assert!(in_flight.lock().unwrap().insert(item), "{item} handed out twice at once");
                tokio::task::yield_now().await;
                in_flight.lock().unwrap().remove(&item);
                processed.fetch_add(1, Ordering::SeqCst);
                q.done(&item);
            }
        }));
    }
    for round in 0..200u32 {
        q.add(round % 10);
        if round % 7 == 0 {
            tokio::task::yield_now().await;
        }
    }
    q.shutdown_and_drain().await;
    for w in workers {
        w.await.unwrap();
    }
    let n = processed.load(Ordering::SeqCst);
    assert!((10..=200).contains(&n), "every key at least once, never more than added: {n}");
    assert!(q.is_empty());
}

#[tokio::test]
async fn held_items_wait_for_their_time() {
    let (q, clock) = fake_queue();
    q.add_after("later".to_owned(), Duration::from_secs(10));
    q.add_after("sooner".to_owned(), Duration::from_secs(5));
    q.add_after("later".to_owned(), Duration::from_secs(60)); // keeps the earlier time
    assert_eq!(q.held(), 2);
    assert!(ready(&q).await.is_none());
    clock.advance(Duration::from_secs(5));
    assert_eq!(ready(&q).await.as_deref(), Some("sooner"));
    clock.advance(Duration::from_secs(4));
    assert!(ready(&q).await.is_none());
    clock.advance(Duration::from_secs(1));
    assert_eq!(ready(&q).await.as_deref(), Some("later"));
    assert_eq!(q.held(), 0);
}

#[tokio::test]
async fn a_waiting_worker_wakes_when_time_comes() {
    let (q, clock) = fake_queue();
    let worker = {
        let q = q.clone();
        tokio::spawn(async move { q.get().await })
    };
    q.add_after("x".to_owned(), Duration::from_secs(3));
    while clock.sleepers() == 0 {
        tokio::task::yield_now().await;
    }
    clock.advance(Duration::from_secs(3));
    let got = tokio::time::timeout(Duration::from_secs(5), worker).await.expect("woke").unwrap();
    assert_eq!(got.as_deref(), Some("x"));
}

#[tokio::test]
async fn rate_limited_retries_back_off_and_reset_on_success() {
    let (q, clock) = fake_queue();
    for expected_ms in [5u64, 10, 20] {
        q.add_rate_limited("k".to_owned());
        clock.advance(Duration::from_millis(expected_ms - 1));
        assert!(ready(&q).await.is_none(), "waits {expected_ms} ms");
        clock.advance(Duration::from_millis(1));
        let item = ready(&q).await.unwrap();
        q.done(&item);
    }
    assert_eq!(q.retries(&"k".to_owned()), 3);
    q.forget(&"k".to_owned());
    assert_eq!(q.retries(&"k".to_owned()), 0);
    q.add_rate_limited("k".to_owned());
    clock.advance(Duration::from_millis(5));
    assert!(ready(&q).await.is_some(), "back to the shortest wait");
}

#[tokio::test]
async fn low_priority_items_wait_behind_normal_ones() {
    let (q, _) = fake_queue();
    q.add_low_priority("initial-1".to_owned());
    q.add_low_priority("initial-2".to_owned());
    q.add("change".to_owned());
    q.add("initial-2".to_owned()); // a real change of an initial item moves it forward
    let mut order = Vec::new();
    while let Some(item) = ready(&q).await {
        q.done(&item);
        order.push(item);
    }
    assert_eq!(order, ["change", "initial-2", "initial-1"]);
}

#[tokio::test]
async fn shutdown_drains_what_is_queued_then_ends() {
    let (q, _) = fake_queue();
    q.add("a".to_owned());
    q.add("b".to_owned());
    q.add_after("held".to_owned(), Duration::from_secs(1));
    let a = ready(&q).await.unwrap();
    let drained = {
        let q = q.clone();
        tokio::spawn(async move { q.shutdown_and_drain().await })
    };
    while !q.is_shutting_down() {
        tokio::task::yield_now().await;
    }
    q.add("ignored".to_owned());
    assert_eq!(q.held(), 0, "held items are dropped");
    let b = q.get().await.unwrap();
    assert_eq!(b, "b");
    q.done(&b);
    assert!(!drained.is_finished(), "a is still in flight");
    q.done(&a);
    tokio::time::timeout(Duration::from_secs(5), drained).await.expect("drained").unwrap();
    assert_eq!(q.get().await, None);
}

#[tokio::test]
async fn metrics_are_exported_with_the_queue_name() {
    let (q, _) = fake_queue();
    let mut registry = Registry::default();
    q.register_metrics(&mut registry);
    q.add("a".to_owned());
    q.add("b".to_owned());
    let a = ready(&q).await.unwrap();
    q.done(&a);
    q.add_rate_limited("c".to_owned());
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(text.contains("workqueue_depth{name=\"test\"} 1"), "{text}");
    assert!(text.contains("workqueue_adds_total{name=\"test\"} 2"), "{text}");
    assert!(text.contains("workqueue_retries_total{name=\"test\"} 1"), "{text}");
    assert!(text.contains("workqueue_work_duration_seconds_count{name=\"test\"} 1"), "{text}");
    assert_eq!(q.longest_running(), None);
}
