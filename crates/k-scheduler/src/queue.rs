//! The scheduling queue: pending pods wait here between attempts, as in
//! kube-scheduler.
//!
//! - **activeQ**: pods ready to be tried, served in the profile's
//!   QueueSort order ([`pop`](SchedulingQueue::pop) waits for one).
//! - **backoffQ**: pods that failed recently wait
//!   `1 s × 2^(attempts − 1)`, at most 10 s, then move to activeQ
//!   ([`flush_backoff_completed`](SchedulingQueue::flush_backoff_completed)).
//! - **unschedulable**: pods no node fits wait for a cluster event that
//!   could help (a node added or changed, a pod deleted, a volume change:
//!   [`move_all_to_active_or_backoff`](SchedulingQueue::move_all_to_active_or_backoff)),
//!   or at most 5 minutes. A pod that failed while such an event happened
//!   during its attempt goes to backoffQ instead, so no event is missed.
//! - Pods held by PreEnqueue (scheduling gates) wait in unschedulable until
//!   an update lets them through.
//!
//! Time comes from an injectable [`Clock`], so tests move it by hand.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use k_runtime::clock::Clock;

use crate::framework::{PodInfo, QueueSortPlugin, QueuedPodInfo, Status};

/// First backoff.
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// Longest backoff.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Longest stay in unschedulable without an event.
pub const MAX_UNSCHEDULABLE: Duration = Duration::from_secs(300);

/// Decides whether a pod may enter activeQ (the profile's PreEnqueue plugins).
pub type PreEnqueue = Arc<dyn Fn(&PodInfo) -> Status + Send + Sync>;

struct Active {
    info: QueuedPodInfo,
    sort: Arc<dyn QueueSortPlugin>,
}

impl PartialEq for Active {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Active {}
impl PartialOrd for Active {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Active {
    /// The heap pops the greatest: the pod QueueSort puts first.
    fn cmp(&self, other: &Self) -> Ordering {
        if self.sort.less(&self.info, &other.info) {
            Ordering::Greater
        } else if self.sort.less(&other.info, &self.info) {
            Ordering::Less
        } else {
            Ordering::Equal
        }
    }
}

struct Backoff {
    until: Instant,
    info: QueuedPodInfo,
}

impl PartialEq for Backoff {
    fn eq(&self, other: &Self) -> bool {
        self.until == other.until
    }
}
impl Eq for Backoff {}
impl PartialOrd for Backoff {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Backoff {
    /// The heap pops the earliest expiry.
    fn cmp(&self, other: &Self) -> Ordering {
        other.until.cmp(&self.until)
    }
}

/// Where a pod is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Active,
    Backoff,
    Unschedulable,
    /// Popped and being scheduled.
    InFlight,
}

struct Inner {
    active: BinaryHeap<Active>,
    backoff: BinaryHeap<Backoff>,
    unschedulable: HashMap<String, (QueuedPodInfo, Instant)>,
    /// Every pod the queue knows and where it is (heaps may hold stale
    /// entries for pods moved or deleted; this is the truth).
    places: HashMap<String, Place>,
    scheduling_cycle: u64,
    move_request_cycle: u64,
    closed: bool,
}

/// The queue; see the [module docs](self).
pub struct SchedulingQueue {
    inner: Mutex<Inner>,
    ready: tokio::sync::Notify,
    clock: Arc<dyn Clock>,
    sort: Arc<dyn QueueSortPlugin>,
    pre_enqueue: Option<PreEnqueue>,
}

impl std::fmt::Debug for SchedulingQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (a, b, u) = self.lengths();
        f.debug_struct("SchedulingQueue").field("active", &a).field("backoff", &b).field("unschedulable", &u).finish()
    }
}

/// The backoff of a pod after `attempts` tries.
pub fn backoff_duration(attempts: u32) -> Duration {
    let mut duration = INITIAL_BACKOFF;
    for _ in 1..attempts {
        duration *= 2;
        if duration >= MAX_BACKOFF {
            return MAX_BACKOFF;
        }
    }
    duration
}

impl SchedulingQueue {
    /// A queue ordered by `sort`, on `clock`, with the profile's PreEnqueue check.
    pub fn new(sort: Arc<dyn QueueSortPlugin>, clock: Arc<dyn Clock>, pre_enqueue: Option<PreEnqueue>) -> Self {
        SchedulingQueue {
            inner: Mutex::new(Inner {
                active: BinaryHeap::new(),
                backoff: BinaryHeap::new(),
                unschedulable: HashMap::new(),
                places: HashMap::new(),
                scheduling_cycle: 0,
                move_request_cycle: 0,
                closed: false,
            }),
            ready: tokio::sync::Notify::new(),
            clock,
            sort,
            pre_enqueue,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push_active(&self, inner: &mut Inner, info: QueuedPodInfo) {
        let key = info.pod.key();
        if let Some(check) = &self.pre_enqueue
            && !check(&info.pod).is_success()
        {
            inner.places.insert(key.clone(), Place::Unschedulable);
            inner.unschedulable.insert(key, (info, self.clock.now()));
            return;
        }
        inner.places.insert(key, Place::Active);
        inner.active.push(Active { info, sort: self.sort.clone() });
        self.ready.notify_one();
    }

    /// Adds a new pending pod (to activeQ, or held by PreEnqueue).
    pub fn add(&self, pod: Arc<PodInfo>) {
        let now = self.clock.now();
        let mut inner = self.lock();
        let key = pod.key();
        if inner.places.contains_key(&key) {
            drop(inner);
            self.update(pod);
            return;
        }
        let info = QueuedPodInfo { pod, initial_attempt_timestamp: now, timestamp: now, attempts: 0 };
        self.push_active(&mut inner, info);
    }

    /// The next pod to schedule, and the scheduling cycle it is tried in;
    /// waits for one; `None` once the queue is closed.
    pub async fn pop(&self) -> Option<(QueuedPodInfo, u64)> {
        loop {
            let notified = self.ready.notified();
            {
                let mut inner = self.lock();
                if inner.closed {
                    return None;
                }
                while let Some(entry) = inner.active.pop() {
                    let key = entry.info.pod.key();
                    if inner.places.get(&key) != Some(&Place::Active) {
                        continue; // moved or deleted since it was pushed
                    }
                    inner.places.insert(key, Place::InFlight);
                    inner.scheduling_cycle += 1;
                    let mut info = entry.info;
                    info.attempts += 1;
                    return Some((info, inner.scheduling_cycle));
                }
            }
            notified.await;
        }
    }

    /// Puts back a pod whose attempt in `cycle` failed: to unschedulable, or
    /// to backoffQ when a cluster event arrived during its attempt.
    pub fn add_unschedulable(&self, mut info: QueuedPodInfo, cycle: u64) {
        let now = self.clock.now();
        info.timestamp = now;
        let mut inner = self.lock();
        let key = info.pod.key();
        if inner.places.get(&key) != Some(&Place::InFlight) {
            return; // deleted while being scheduled
        }
        if inner.move_request_cycle >= cycle {
            let until = now + backoff_duration(info.attempts);
            inner.places.insert(key, Place::Backoff);
            inner.backoff.push(Backoff { until, info });
        } else {
            inner.places.insert(key.clone(), Place::Unschedulable);
            inner.unschedulable.insert(key, (info, now));
        }
    }

    /// Puts back a pod whose attempt failed with an error: to backoffQ.
    pub fn add_backoff(&self, mut info: QueuedPodInfo) {
        let now = self.clock.now();
        info.timestamp = now;
        let mut inner = self.lock();
        let key = info.pod.key();
        if inner.places.get(&key) != Some(&Place::InFlight) {
            return;
        }
        let until = now + backoff_duration(info.attempts);
        inner.places.insert(key, Place::Backoff);
        inner.backoff.push(Backoff { until, info });
    }

    /// The pod was bound (or given up on): the queue forgets it.
    pub fn done(&self, key: &str) {
        let mut inner = self.lock();
        if inner.places.get(key) == Some(&Place::InFlight) {
            inner.places.remove(key);
        }
    }

    /// A cluster event that could make unschedulable pods fit: each moves
    /// to backoffQ if its backoff has not passed, else to activeQ.
    pub fn move_all_to_active_or_backoff(&self) {
        let now = self.clock.now();
        let mut inner = self.lock();
        inner.move_request_cycle = inner.scheduling_cycle;
        let waiting: Vec<(String, (QueuedPodInfo, Instant))> = inner.unschedulable.drain().collect();
        for (key, (info, _)) in waiting {
            self.requeue(&mut inner, key, info, now);
        }
    }

    fn requeue(&self, inner: &mut Inner, key: String, info: QueuedPodInfo, now: Instant) {
        let until = info.timestamp + backoff_duration(info.attempts);
        if info.attempts > 0 && until > now {
            inner.places.insert(key, Place::Backoff);
            inner.backoff.push(Backoff { until, info });
        } else {
            self.push_active(inner, info);
        }
    }

    /// Moves pods whose backoff has passed to activeQ (run every second).
    pub fn flush_backoff_completed(&self) {
        let now = self.clock.now();
        let mut inner = self.lock();
        while inner.backoff.peek().is_some_and(|b| b.until <= now) {
            let Some(entry) = inner.backoff.pop() else { break };
            let key = entry.info.pod.key();
            if inner.places.get(&key) != Some(&Place::Backoff) {
                continue;
            }
            self.push_active(&mut inner, entry.info);
        }
    }

    /// Moves pods unschedulable for more than [`MAX_UNSCHEDULABLE`] (run
    /// every 30 seconds).
    pub fn flush_unschedulable_left_over(&self) {
        let now = self.clock.now();
        let mut inner = self.lock();
        let old: Vec<String> = inner
            .unschedulable
            .iter()
            .filter(|(_, (_, since))| now.duration_since(*since) >= MAX_UNSCHEDULABLE)
            .map(|(k, _)| k.clone())
            .collect();
        for key in old {
            if let Some((info, _)) = inner.unschedulable.remove(&key) {
                self.requeue(&mut inner, key, info, now);
            }
        }
    }

    /// The pod changed: a waiting pod is tried again with the new version
    /// (an update can lift a scheduling gate or change what it asks for).
    pub fn update(&self, pod: Arc<PodInfo>) {
        let now = self.clock.now();
        let mut inner = self.lock();
        let key = pod.key();
        match inner.places.get(&key).copied() {
            Some(Place::Unschedulable) => {
                if let Some((mut info, _)) = inner.unschedulable.remove(&key) {
                    info.pod = pod;
                    self.requeue(&mut inner, key, info, now);
                }
            }
            Some(Place::Active) => {
                // A second entry with the new version; whichever the order
                // puts first is popped, and the other is skipped (known
                // limit: an update that does not change the order may be
                // served as the older version for this one attempt).
                let info = QueuedPodInfo { pod, initial_attempt_timestamp: now, timestamp: now, attempts: 0 };
                inner.active.push(Active { info, sort: self.sort.clone() });
            }
            Some(Place::Backoff) | Some(Place::InFlight) => {}
            None => {
                drop(inner);
                self.add(pod);
            }
        }
    }

    /// The pod was deleted (or bound by someone else).
    pub fn delete(&self, key: &str) {
        let mut inner = self.lock();
        inner.places.remove(key);
        inner.unschedulable.remove(key);
    }

    /// (activeQ, backoffQ, unschedulable) sizes.
    pub fn lengths(&self) -> (usize, usize, usize) {
        let inner = self.lock();
        let count = |place: Place| inner.places.values().filter(|p| **p == place).count();
        (count(Place::Active), count(Place::Backoff), count(Place::Unschedulable))
    }

    /// Ends every `pop`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_waiters();
    }

    /// Flushes backoffQ every second and old unschedulable pods every 30
    /// seconds, until the queue is closed.
    pub async fn run(&self) {
        let mut ticks = 0u64;
        loop {
            self.clock.sleep_until(self.clock.now() + Duration::from_secs(1)).await;
            if self.lock().closed {
                return;
            }
            self.flush_backoff_completed();
            ticks += 1;
            if ticks.is_multiple_of(30) {
                self.flush_unschedulable_left_over();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use k_runtime::clock::FakeClock;
    use serde_json::json;

    use super::*;
    use crate::plugins::priority_sort::PrioritySort;
    use crate::plugins::scheduling_gates::SchedulingGates;
    use crate::plugins::testing::pod;

    fn queue(clock: &FakeClock) -> SchedulingQueue {
        let gates: PreEnqueue =
            Arc::new(|p: &PodInfo| crate::framework::PreEnqueuePlugin::pre_enqueue(&SchedulingGates, p));
        SchedulingQueue::new(Arc::new(PrioritySort), Arc::new(clock.clone()), Some(gates))
    }

    fn named(name: &str, priority: i32) -> Arc<PodInfo> {
        Arc::new(pod(name, json!({"priority": priority})))
    }

    #[tokio::test]
    async fn priority_order_then_age() {
        let clock = FakeClock::new();
        let q = queue(&clock);
        q.add(named("low", 1));
        clock.advance(Duration::from_millis(1));
        q.add(named("high", 10));
        clock.advance(Duration::from_millis(1));
        q.add(named("low2", 1));
        let order: Vec<String> = [q.pop().await, q.pop().await, q.pop().await]
            .into_iter()
            .map(|p| p.unwrap().0.pod.pod.metadata.name.clone())
            .collect();
        assert_eq!(order, ["high", "low", "low2"]);
    }

    #[test]
    fn backoff_doubles_to_ten_seconds() {
        let seconds: Vec<u64> = (1..=6).map(|a| backoff_duration(a).as_secs()).collect();
        assert_eq!(seconds, [1, 2, 4, 8, 10, 10]);
    }

    #[tokio::test]
    async fn unschedulable_pods_wait_for_an_event_then_back_off() {
        let clock = FakeClock::new();
        let q = queue(&clock);
        q.add(named("p", 0));
        let (info, cycle) = q.pop().await.unwrap();
        q.add_unschedulable(info, cycle);
        assert_eq!(q.lengths(), (0, 0, 1));
        q.flush_backoff_completed();
        assert_eq!(q.lengths(), (0, 0, 1), "no event: it stays");
        // An event 0.5 s later: still backing off (1 s after one attempt).
        clock.advance(Duration::from_millis(500));
        q.move_all_to_active_or_backoff();
        assert_eq!(q.lengths(), (0, 1, 0));
        clock.advance(Duration::from_millis(400));
        q.flush_backoff_completed();
        assert_eq!(q.lengths(), (0, 1, 0));
        clock.advance(Duration::from_millis(200));
        q.flush_backoff_completed();
        assert_eq!(q.lengths(), (1, 0, 0));
        let (info, _) = q.pop().await.unwrap();
        assert_eq!(info.attempts, 2);
    }

    #[tokio::test]
    async fn an_event_during_the_attempt_is_not_missed() {
        let clock = FakeClock::new();
        let q = queue(&clock);
        q.add(named("p", 0));
        let (info, cycle) = q.pop().await.unwrap();
        q.move_all_to_active_or_backoff(); // a node appeared while scheduling
        q.add_unschedulable(info, cycle);
        assert_eq!(q.lengths(), (0, 1, 0), "straight to backoff, not to wait for another event");
    }

    #[tokio::test]
    async fn leftovers_move_after_five_minutes() {
        let clock = FakeClock::new();
        let q = queue(&clock);
        q.add(named("p", 0));
        let (info, cycle) = q.pop().await.unwrap();
        q.add_unschedulable(info, cycle);
        clock.advance(Duration::from_secs(299));
        q.flush_unschedulable_left_over();
        assert_eq!(q.lengths(), (0, 0, 1));
        clock.advance(Duration::from_secs(1));
        q.flush_unschedulable_left_over();
        assert_eq!(q.lengths(), (1, 0, 0));
    }

    #[tokio::test]
    async fn gated_pods_wait_for_an_update_and_deleted_pods_are_gone() {
        let clock = FakeClock::new();
        let q = queue(&clock);
        q.add(Arc::new(pod("gated", json!({"schedulingGates": [{"name": "wait"}]}))));
        assert_eq!(q.lengths(), (0, 0, 1));
        q.move_all_to_active_or_backoff();
        assert_eq!(q.lengths(), (0, 0, 1), "events do not lift gates");
        q.update(Arc::new(pod("gated", json!({}))));
        assert_eq!(q.lengths(), (1, 0, 0));
        q.add(named("other", 5));
        q.delete("default/other");
        let (info, _) = q.pop().await.unwrap();
        assert_eq!(info.pod.pod.metadata.name, "gated", "the deleted pod is skipped");
        q.done("default/gated");
        assert_eq!(q.lengths(), (0, 0, 0));
        q.close();
        assert!(q.pop().await.is_none());
    }
}
