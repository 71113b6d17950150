//! The work queue controllers pull keys from, with client-go's semantics
//! (see `docs/runtime/design.md`):
//!
//! - an item waits in the queue at most once (adds deduplicate);
//! - an item is processed by at most one worker: added again while it is
//!   being processed, it is processed once more after [`done`](WorkQueue::done);
//! - [`add_after`](WorkQueue::add_after) holds an item until its time,
//!   [`add_rate_limited`](WorkQueue::add_rate_limited) for as long as the
//!   [`RateLimiter`] says, and [`forget`](WorkQueue::forget) resets its
//!   backoff after a success;
//! - [`add_low_priority`](WorkQueue::add_low_priority) items (from initial
//!   lists) wait behind the others;
//! - after [`shutdown`](WorkQueue::shutdown), adds are ignored, held items
//!   are dropped, and [`get`](WorkQueue::get) hands out what is queued,
//!   then returns `None`.

mod rate_limit;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::sync::Notify;

pub use rate_limit::{ItemExponential, MaxOf, RateLimiter, TokenBucket, default_controller_rate_limiter};

use crate::clock::{Clock, SystemClock};

/// Which queue an item waits in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Priority {
    Normal,
    Low,
}

/// A deduplicating, rate-limited work queue. Cloning gives another handle
/// to the same queue.
pub struct WorkQueue<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for WorkQueue<T> {
    fn clone(&self) -> Self {
        WorkQueue { shared: self.shared.clone() }
    }
}

struct Shared<T> {
    name: String,
    state: Mutex<State<T>>,
    /// Woken when an item may be ready, or on shutdown.
    ready: Notify,
    /// Woken when an item is done (for draining).
    finished: Notify,
    clock: Arc<dyn Clock>,
    limiter: Box<dyn RateLimiter<T>>,
    metrics: QueueMetrics,
}

struct State<T> {
    normal: VecDeque<T>,
    low: VecDeque<T>,
    /// Items waiting to be processed (queued, or added again while being
    /// processed), with when they were added. Queue entries for items not
    /// here, or being processed, are stale and skipped.
    dirty: HashMap<T, (Priority, Instant)>,
    /// Items handed out and not yet done, with when they were handed out.
    processing: HashMap<T, Instant>,
    /// How many dirty items are not being processed (the queue's length).
    queued: usize,
    /// Items held until a time: a heap of (time, sequence), the item per
    /// sequence, and each item's earliest time.
    held: BinaryHeap<Reverse<(Instant, u64)>>,
    held_items: HashMap<u64, T>,
    held_at: HashMap<T, Instant>,
    sequence: u64,
    shutting_down: bool,
}

impl<T: Clone + Eq + Hash + Send + Sync + fmt::Debug + 'static> WorkQueue<T> {
    /// A queue named `name` (its metrics' label) on the system clock, with
    /// client-go's default controller rate limiter.
    pub fn new(name: impl Into<String>) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        Self::with(name, clock.clone(), Box::new(default_controller_rate_limiter(clock)))
    }

    /// A queue with its own clock and rate limiter.
    pub fn with(name: impl Into<String>, clock: Arc<dyn Clock>, limiter: Box<dyn RateLimiter<T>>) -> Self {
        WorkQueue {
            shared: Arc::new(Shared {
                name: name.into(),
                state: Mutex::new(State {
                    normal: VecDeque::new(),
                    low: VecDeque::new(),
                    dirty: HashMap::new(),
                    processing: HashMap::new(),
                    queued: 0,
                    held: BinaryHeap::new(),
                    held_items: HashMap::new(),
                    held_at: HashMap::new(),
                    sequence: 0,
                    shutting_down: false,
                }),
                ready: Notify::new(),
                finished: Notify::new(),
                clock,
                limiter,
                metrics: QueueMetrics::default(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.shared.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Adds an item to be processed (once, however often it is added before
    /// a worker takes it).
    pub fn add(&self, item: T) {
        let mut state = self.lock();
        self.add_locked(&mut state, item, Priority::Normal);
    }

    /// Adds an item behind every normally added one (the events of an
    /// initial list, so that they do not delay changes made meanwhile). A
    /// normal add of the same item later moves it forward.
    pub fn add_low_priority(&self, item: T) {
        let mut state = self.lock();
        self.add_locked(&mut state, item, Priority::Low);
    }

    fn add_locked(&self, state: &mut State<T>, item: T, priority: Priority) {
        if state.shutting_down {
            return;
        }
        self.shared.metrics.adds.inc();
        let now = self.shared.clock.now();
        match state.dirty.get_mut(&item) {
            Some((current, _)) => {
                if *current == Priority::Low && priority == Priority::Normal {
                    *current = Priority::Normal;
                    if !state.processing.contains_key(&item) {
                        // The low-queue entry goes stale.
                        state.normal.push_back(item);
                        self.shared.ready.notify_one();
                    }
                }
            }
            None => {
                state.dirty.insert(item.clone(), (priority, now));
                if !state.processing.contains_key(&item) {
                    match priority {
                        Priority::Normal => state.normal.push_back(item),
                        Priority::Low => state.low.push_back(item),
                    }
                    state.queued += 1;
                    self.shared.metrics.depth.inc();
                    self.shared.ready.notify_one();
                }
            }
        }
    }

    /// Adds an item once `delay` has passed (by the queue's clock). An item
    /// already held keeps the earlier of its two times.
    pub fn add_after(&self, item: T, delay: Duration) {
        let mut state = self.lock();
        if state.shutting_down {
            return;
        }
        if delay.is_zero() {
            self.add_locked(&mut state, item, Priority::Normal);
            return;
        }
        let at = self.shared.clock.now() + delay;
        if state.held_at.get(&item).is_some_and(|earlier| *earlier <= at) {
            return;
        }
        state.sequence += 1;
        let sequence = state.sequence;
        state.held.push(Reverse((at, sequence)));
        state.held_items.insert(sequence, item.clone());
        state.held_at.insert(item, at);
        // Waiting workers sleep until the earliest held item: wake them
        // only if this one is now the earliest.
        if state.held.peek().is_some_and(|Reverse((_, first))| *first == sequence) {
            self.shared.ready.notify_waiters();
        }
    }

    /// Adds an item after the wait its rate limiter gives it (a retry).
    pub fn add_rate_limited(&self, item: T) {
        let delay = self.shared.limiter.when(&item);
        self.shared.metrics.retries.inc();
        self.add_after(item, delay);
    }

    /// Forgets an item's failures: its next retry waits the shortest time.
    pub fn forget(&self, item: &T) {
        self.shared.limiter.forget(item);
    }

    /// How many times an item has been retried since it was last forgotten.
    pub fn retries(&self, item: &T) -> u32 {
        self.shared.limiter.retries(item)
    }

    /// Moves held items whose time has come into the queue.
    fn release_due(&self, state: &mut State<T>, now: Instant) {
        while let Some(Reverse((at, sequence))) = state.held.peek().copied() {
            if at > now {
                break;
            }
            state.held.pop();
            let Some(item) = state.held_items.remove(&sequence) else { continue };
            if state.held_at.get(&item) == Some(&at) {
                state.held_at.remove(&item);
                self.add_locked(state, item, Priority::Normal);
            }
        }
    }

    /// The next item to process, waiting until there is one. `None` once
    /// the queue is shut down and nothing is left in it. Every item handed
    /// out must be given back with [`done`](Self::done).
    pub async fn get(&self) -> Option<T> {
        loop {
            let notified = self.shared.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wake_at = {
                let mut state = self.lock();
                let now = self.shared.clock.now();
                self.release_due(&mut state, now);
                if let Some(item) = self.pop(&mut state, now) {
                    return Some(item);
                }
                if state.shutting_down {
                    return None;
                }
                state.held.peek().map(|Reverse((at, _))| *at)
            };
            match wake_at {
                Some(at) => {
                    let sleep = self.shared.clock.sleep_until(at);
                    tokio::select! {
                        () = &mut notified => {}
                        () = sleep => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Takes the first valid entry, normal items first.
    fn pop(&self, state: &mut State<T>, now: Instant) -> Option<T> {
        loop {
            let item = match state.normal.pop_front() {
                Some(item) => item,
                None => state.low.pop_front()?,
            };
            if state.processing.contains_key(&item) {
                continue;
            }
            let Some((_, added)) = state.dirty.remove(&item) else { continue };
            state.queued -= 1;
            self.shared.metrics.depth.dec();
            self.shared.metrics.latency.observe(now.saturating_duration_since(added).as_secs_f64());
            state.processing.insert(item.clone(), now);
            return Some(item);
        }
    }

    /// Gives back an item handed out by [`get`](Self::get). If it was added
    /// again meanwhile, it is queued again.
    pub fn done(&self, item: &T) {
        let mut state = self.lock();
        let now = self.shared.clock.now();
        // Not being processed: nothing to finish (a dirty item is already queued).
        let Some(started) = state.processing.remove(item) else { return };
        self.shared.metrics.work_duration.observe(now.saturating_duration_since(started).as_secs_f64());
        if let Some((priority, _)) = state.dirty.get(item).copied() {
            match priority {
                Priority::Normal => state.normal.push_back(item.clone()),
                Priority::Low => state.low.push_back(item.clone()),
            }
            state.queued += 1;
            self.shared.metrics.depth.inc();
            self.shared.ready.notify_one();
        }
        drop(state);
        self.shared.finished.notify_waiters();
    }

    /// Stops the queue: adds are ignored from now on, held items are
    /// dropped, and workers get what is queued, then `None`.
    pub fn shutdown(&self) {
        let mut state = self.lock();
        state.shutting_down = true;
        state.held.clear();
        state.held_items.clear();
        state.held_at.clear();
        drop(state);
        self.shared.ready.notify_waiters();
    }

    /// [`shutdown`](Self::shutdown), then waits until every item handed out
    /// or still queued has been processed and given back.
    pub async fn shutdown_and_drain(&self) {
        self.shutdown();
        loop {
            let finished = self.shared.finished.notified();
            tokio::pin!(finished);
            finished.as_mut().enable();
            {
                let state = self.lock();
                if state.processing.is_empty() && state.dirty.is_empty() {
                    return;
                }
            }
            finished.await;
        }
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.lock().shutting_down
    }

    /// How many items are queued (as client-go counts them: not held items,
    /// nor items added again while in flight, which queue when done).
    pub fn len(&self) -> usize {
        self.lock().queued
    }

    /// Whether no item waits to be processed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many items are held for later ([`add_after`](Self::add_after)).
    pub fn held(&self) -> usize {
        self.lock().held_at.len()
    }

    /// How long the longest-running item has been processed.
    pub fn longest_running(&self) -> Option<Duration> {
        let state = self.lock();
        let now = self.shared.clock.now();
        state.processing.values().map(|started| now.saturating_duration_since(*started)).max()
    }

    /// Registers the queue's metrics, labelled `name=<queue name>`:
    /// `workqueue_depth`, `workqueue_adds`, `workqueue_retries`,
    /// `workqueue_queue_duration_seconds` and
    /// `workqueue_work_duration_seconds` (client-go's names).
    pub fn register_metrics(&self, registry: &mut Registry) {
        let sub = registry.sub_registry_with_label(("name".into(), self.shared.name.clone().into()));
        let m = &self.shared.metrics;
        sub.register("workqueue_depth", "Items waiting in the queue", m.depth.clone());
        sub.register("workqueue_adds", "Items added to the queue", m.adds.clone());
        sub.register("workqueue_retries", "Rate-limited re-adds", m.retries.clone());
        sub.register(
            "workqueue_queue_duration_seconds",
            "How long items wait in the queue before a worker takes them",
            m.latency.clone(),
        );
        sub.register("workqueue_work_duration_seconds", "How long processing an item takes", m.work_duration.clone());
    }
}

impl<T> fmt::Debug for WorkQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkQueue").field("name", &self.shared.name).finish_non_exhaustive()
    }
}

/// The queue's Prometheus metrics.
#[derive(Debug, Clone)]
struct QueueMetrics {
    depth: Gauge,
    adds: Counter,
    retries: Counter,
    latency: Histogram,
    work_duration: Histogram,
}

impl Default for QueueMetrics {
    fn default() -> Self {
        QueueMetrics {
            depth: Gauge::default(),
            adds: Counter::default(),
            retries: Counter::default(),
            // 1 µs to about 17 minutes, as client-go's buckets.
            latency: Histogram::new(exponential_buckets(1e-6, 4.0, 16)),
            work_duration: Histogram::new(exponential_buckets(1e-6, 4.0, 16)),
        }
    }
}
