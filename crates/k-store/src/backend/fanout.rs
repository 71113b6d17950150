//! Live watch fan-out shared by the embedded backends.
//!
//! A [`Fanout`] keeps one log of the changes published while watchers are
//! registered: a writer appends each change once (an `Arc`, O(1)), whatever
//! the number of watchers. Every watcher has a cursor in the log; its
//! stream ([`FanoutStream`]), when polled, takes every change after its
//! cursor under its prefix in one go and yields them from a local buffer,
//! so a burst of writes costs a watcher one lock, not one per change.
//! Only idle streams register wakers, and they are woken after the writer
//! releases the lock.
//!
//! When the log reaches its bound, the changes of watchers that have not
//! taken them are moved into their own pending queues and the older half
//! is dropped. A watcher with more than its capacity undelivered is cut off:
//! its stream yields the first `capacity` changes, then
//! [`StoreError::WatcherTooSlow`]. Writers never wait for watchers and
//! memory stays bounded by `capacity` per watcher plus the log.
//!
//! The fan-out lives behind the host's lock ([`FanoutHost`]): the memory
//! backend keeps it inside its state, so that registration and the history
//! snapshot are atomic with writes; the durable backend keeps it in its own
//! mutex, published to by the writer thread after each commit.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures::Stream;
use tokio::task::coop;
use tokio::time::{Interval, MissedTickBehavior};

use crate::backend::{Event, Revision, WatchItem};
use crate::error::{Result, StoreError};

/// Smallest length of the shared live log before lagging watchers are swept.
const MIN_LIVE_LOG: usize = 1024;

/// A registered watcher: its prefix and where it is in the live log.
struct Watcher {
    prefix: String,
    /// Every change up to this revision has been handed to the watcher (or
    /// moved into `pending`).
    cursor: Revision,
    /// Matching changes moved out of the live log before the watcher took
    /// them (at most `capacity + 1`; more than `capacity` means the watcher
    /// is too slow).
    pending: VecDeque<Arc<Event>>,
    /// The waker generation and index in `Fanout::waiters` of its registered
    /// waker, if any.
    waiting: Option<(u64, usize)>,
}

/// What a watch stream gets when it asks for the changes after its cursor.
pub(crate) enum Fill {
    /// Changes were appended to the stream's buffer.
    Events,
    /// Nothing new: every change up to this revision was delivered; the
    /// stream's waker is registered for the next publication.
    Idle(Revision),
    /// Changes were appended (at most the capacity) and the watcher is then
    /// cut off (it is unregistered).
    TooSlow,
    /// The watcher is not registered (anymore).
    Gone,
    /// Every watcher was ended with this error (see [`Fanout::fail`]).
    Failed(StoreError),
}

/// The registered watchers and the shared live log.
pub(crate) struct Fanout {
    /// Every change up to this revision has been published.
    published: Revision,
    /// The changes in `live_base + 1 ..= published`, kept while watchers are
    /// registered, oldest first.
    live: VecDeque<Arc<Event>>,
    live_base: Revision,
    /// Length of the live log at which lagging watchers are swept.
    live_limit: usize,
    /// Changes buffered per watcher.
    capacity: usize,
    watchers: HashMap<u64, Watcher>,
    next_id: u64,
    /// Wakers of idle watch streams, to wake after a publication.
    waiters: Vec<Waker>,
    /// Incremented whenever `waiters` is taken.
    waiters_gen: u64,
    /// No more watchers are accepted (the backend is gone, or the source of
    /// the changes failed).
    closed: bool,
    /// Why every watcher was ended, if the source of the changes failed.
    failure: Option<StoreError>,
}

impl Fanout {
    /// An empty fan-out whose changes up to `published` are history.
    pub(crate) fn new(published: Revision, capacity: usize) -> Self {
        Self {
            published,
            live: VecDeque::new(),
            live_base: published,
            live_limit: capacity.max(MIN_LIVE_LOG),
            capacity: capacity.max(1),
            watchers: HashMap::new(),
            next_id: 0,
            waiters: Vec::new(),
            waiters_gen: 0,
            closed: false,
            failure: None,
        }
    }

    /// Every change up to this revision has been published.
    pub(crate) fn published(&self) -> Revision {
        self.published
    }

    /// How many watchers are registered.
    pub(crate) fn len(&self) -> usize {
        self.watchers.len()
    }

    /// Publishes a change newer than every published one. Never waits; the
    /// idle watchers are woken with [`Fanout::take_waiters`].
    pub(crate) fn publish(&mut self, event: Arc<Event>) {
        let revision = event.revision();
        if revision <= self.published {
            return;
        }
        // The log holds one change per revision; skip over a gap first.
        self.advance(revision - 1);
        self.published = revision;
        if self.watchers.is_empty() {
            self.live.clear();
            self.live_base = revision;
            return;
        }
        self.live.push_back(event);
        if self.live.len() >= self.live_limit {
            self.sweep_front(self.live.len() / 2);
        }
    }

    /// Marks every revision up to `revision` published, for revisions that
    /// carry no change (the watchers' queues keep what they have not taken).
    pub(crate) fn advance(&mut self, revision: Revision) {
        if revision <= self.published {
            return;
        }
        self.sweep_front(self.live.len());
        self.live_base = revision;
        self.published = revision;
    }

    /// Drops the first `drop` changes of the live log, first moving the
    /// matching ones of the watchers that have not taken them into their
    /// pending queues (up to one more than the capacity: too slow).
    fn sweep_front(&mut self, drop: usize) {
        let boundary = self.live_base + i64::try_from(drop).unwrap_or(i64::MAX);
        let capacity = self.capacity;
        for w in self.watchers.values_mut() {
            if w.cursor >= boundary {
                continue;
            }
            let start = usize::try_from(w.cursor - self.live_base).unwrap_or(0);
            for event in self.live.range(start..drop) {
                if w.pending.len() > capacity {
                    break;
                }
                if event.kv.key.starts_with(&w.prefix) {
                    w.pending.push_back(Arc::clone(event));
                }
            }
            w.cursor = boundary;
        }
        self.live.drain(..drop);
        self.live_base = boundary;
    }

    /// Registers a watcher of `prefix`; it receives the changes published
    /// after the returned revision. None once closed.
    pub(crate) fn register(&mut self, prefix: &str) -> Option<(u64, Revision)> {
        if self.closed {
            return None;
        }
        if self.watchers.is_empty() {
            self.live.clear();
            self.live_base = self.published;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.watchers.insert(
            id,
            Watcher { prefix: prefix.to_owned(), cursor: self.published, pending: VecDeque::new(), waiting: None },
        );
        Some((id, self.published))
    }

    /// Forgets a watcher.
    pub(crate) fn unregister(&mut self, id: u64) {
        self.watchers.remove(&id);
        if self.watchers.is_empty() {
            self.live.clear();
            self.live_base = self.published;
        }
    }

    /// Ends every watcher and refuses new ones; returns the wakers to wake.
    pub(crate) fn close(&mut self) -> Vec<Waker> {
        self.closed = true;
        self.watchers.clear();
        self.live.clear();
        self.take_waiters()
    }

    /// Whether new watchers are refused.
    #[cfg_attr(not(feature = "etcd"), allow(dead_code))]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Ends every watcher with `error` (their streams yield it after what
    /// they already took) and refuses new ones; returns the wakers to wake.
    #[cfg_attr(not(feature = "etcd"), allow(dead_code))]
    pub(crate) fn fail(&mut self, error: StoreError) -> Vec<Waker> {
        self.failure = Some(error);
        self.close()
    }

    /// Appends to `buf` every change for watcher `id` after its cursor, in one
    /// go. A watcher with more than the capacity undelivered gets the first
    /// `capacity` of them and is cut off. With nothing new, `waker` is
    /// registered for the next publication.
    pub(crate) fn fill(&mut self, id: u64, buf: &mut VecDeque<Arc<Event>>, waker: &Waker) -> Fill {
        let capacity = self.capacity;
        let Some(w) = self.watchers.get_mut(&id) else {
            return match &self.failure {
                Some(error) => Fill::Failed(error.clone()),
                None => Fill::Gone,
            };
        };
        let mut taken = 0usize;
        let mut too_slow = false;
        for event in w.pending.drain(..) {
            if taken == capacity {
                too_slow = true;
                break;
            }
            buf.push_back(event);
            taken += 1;
        }
        if !too_slow {
            let start = usize::try_from(w.cursor - self.live_base).unwrap_or(0);
            for event in self.live.range(start.min(self.live.len())..) {
                if event.kv.key.starts_with(&w.prefix) {
                    if taken == capacity {
                        too_slow = true;
                        break;
                    }
                    buf.push_back(Arc::clone(event));
                    taken += 1;
                }
            }
            w.cursor = self.published;
        }
        if too_slow {
            self.unregister(id);
            return Fill::TooSlow;
        }
        if taken > 0 {
            return Fill::Events;
        }
        match w.waiting {
            Some((generation, index)) if generation == self.waiters_gen => {
                if !self.waiters[index].will_wake(waker) {
                    self.waiters[index] = waker.clone();
                }
            }
            _ => {
                w.waiting = Some((self.waiters_gen, self.waiters.len()));
                self.waiters.push(waker.clone());
            }
        }
        Fill::Idle(self.published)
    }

    /// The wakers of the idle watch streams, to wake once the lock is released.
    pub(crate) fn take_waiters(&mut self) -> Vec<Waker> {
        if self.waiters.is_empty() {
            return Vec::new();
        }
        self.waiters_gen += 1;
        std::mem::take(&mut self.waiters)
    }
}

impl Drop for Fanout {
    /// Wakes the idle watch streams: they find the backend gone and end.
    fn drop(&mut self) {
        for waker in self.waiters.drain(..) {
            waker.wake();
        }
    }
}

/// Whatever holds a [`Fanout`] behind its lock.
pub(crate) trait FanoutHost: Send + Sync + 'static {
    /// Runs `f` with the fan-out locked.
    fn with_fanout<R>(&self, f: impl FnOnce(&mut Fanout) -> R) -> R;
}

/// A watcher's registration; dropping it unregisters the watcher.
pub(crate) struct Registration<H: FanoutHost> {
    /// Weak, so that a forgotten stream does not keep the backend alive.
    host: Weak<H>,
    id: u64,
}

impl<H: FanoutHost> Registration<H> {
    /// Wraps the registration `id` of `host`'s fan-out.
    pub(crate) fn new(host: &Arc<H>, id: u64) -> Self {
        Self { host: Arc::downgrade(host), id }
    }
}

impl<H: FanoutHost> Drop for Registration<H> {
    fn drop(&mut self) {
        if let Some(host) = self.host.upgrade() {
            host.with_fanout(|f| f.unregister(self.id));
        }
    }
}

/// The live part of a watch: first a replayed history (if any), then the
/// published changes in batches, with progress ticks when idle.
pub(crate) struct FanoutStream<H: FanoutHost> {
    registration: Option<Registration<H>>,
    /// Changes at or before this revision are skipped.
    after: Revision,
    /// Changes taken but not yet yielded (first the replayed history).
    buf: VecDeque<Arc<Event>>,
    /// The buffer ends with the watcher being cut off.
    too_slow: bool,
    capacity: usize,
    period: Duration,
    /// Created at the first idle poll inside a tokio runtime.
    ticker: Option<Interval>,
}

impl<H: FanoutHost> FanoutStream<H> {
    /// A stream of the changes after `after`: `replay` first, then those of
    /// the registration.
    pub(crate) fn new(
        registration: Registration<H>,
        after: Revision,
        replay: Vec<Arc<Event>>,
        capacity: usize,
        period: Duration,
    ) -> Self {
        Self {
            registration: Some(registration),
            after,
            buf: replay.into(),
            too_slow: false,
            capacity,
            period,
            ticker: None,
        }
    }

    /// The progress ticker, created on first use; None outside a tokio runtime
    /// (the stream then works without progress notifications).
    fn ticker(&mut self) -> Option<&mut Interval> {
        if self.ticker.is_none() {
            tokio::runtime::Handle::try_current().ok()?;
            let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + self.period, self.period);
            ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
            self.ticker = Some(ticker);
        }
        self.ticker.as_mut()
    }

    fn end(&mut self) {
        self.registration = None;
        self.ticker = None;
        self.buf = VecDeque::new();
    }
}

impl<H: FanoutHost> Stream for FanoutStream<H> {
    type Item = Result<WatchItem>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        // Batches are yielded without locking: take part in tokio's
        // cooperative budget so that a long batch lets other tasks (writers)
        // run. Outside a tokio runtime this always proceeds.
        let budget = std::task::ready!(coop::poll_proceed(cx));
        loop {
            while let Some(event) = this.buf.pop_front() {
                if event.revision() > this.after {
                    budget.made_progress();
                    return Poll::Ready(Some(Ok(WatchItem::Event(event))));
                }
            }
            let Some(registration) = &this.registration else { return Poll::Ready(None) };
            if this.too_slow {
                this.end();
                return Poll::Ready(Some(Err(StoreError::WatcherTooSlow { capacity: this.capacity })));
            }
            let Some(host) = registration.host.upgrade() else {
                // The backend is gone.
                this.end();
                return Poll::Ready(None);
            };
            let id = registration.id;
            let fill = host.with_fanout(|f| f.fill(id, &mut this.buf, cx.waker()));
            drop(host);
            let revision = match fill {
                Fill::Events => continue,
                Fill::TooSlow => {
                    this.too_slow = true;
                    continue;
                }
                Fill::Gone => {
                    this.end();
                    return Poll::Ready(None);
                }
                Fill::Failed(error) => {
                    this.end();
                    return Poll::Ready(Some(Err(error)));
                }
                Fill::Idle(revision) => revision,
            };
            // Idle: every change up to `revision` has been delivered and the
            // next publication wakes us. Report progress on ticks.
            let Some(ticker) = this.ticker() else { return Poll::Pending };
            if ticker.poll_tick(cx).is_pending() {
                return Poll::Pending;
            }
            if revision >= this.after {
                return Poll::Ready(Some(Ok(WatchItem::Progress(revision))));
            }
            // Watching from a future revision not reached yet: nothing to
            // report; loop to poll the ticker again so that it wakes us.
        }
    }
}

impl<H: FanoutHost> fmt::Debug for FanoutStream<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FanoutStream")
            .field("id", &self.registration.as_ref().map(|r| r.id))
            .field("after", &self.after)
            .field("buffered", &self.buf.len())
            .field("capacity", &self.capacity)
            .field("period", &self.period)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::backend::{EventKind, KeyValue};

    fn event(key: &str, revision: Revision) -> Arc<Event> {
        let kv =
            KeyValue { key: key.to_owned(), value: Bytes::new(), create_revision: revision, mod_revision: revision };
        Arc::new(Event::new(EventKind::Put, kv, None))
    }

    fn revisions(buf: &VecDeque<Arc<Event>>) -> Vec<Revision> {
        buf.iter().map(|e| e.revision()).collect()
    }

    /// Revisions without a change (a gap) keep every pending change and
    /// the cursor arithmetic right.
    #[test]
    fn gaps_in_revisions_lose_nothing() {
        let waker = futures::task::noop_waker();
        let mut f = Fanout::new(10, 100);
        let (id, at) = f.register("/a/").unwrap();
        assert_eq!(at, 10);
        f.publish(event("/a/1", 11));
        f.publish(event("/b/1", 12));
        f.advance(15);
        f.publish(event("/a/2", 17));
        let mut buf = VecDeque::new();
        assert!(matches!(f.fill(id, &mut buf, &waker), Fill::Events));
        assert_eq!(revisions(&buf), [11, 17]);
        buf.clear();
        assert!(matches!(f.fill(id, &mut buf, &waker), Fill::Idle(17)));
        f.publish(event("/a/3", 18));
        assert_eq!(f.take_waiters().len(), 1);
        assert!(matches!(f.fill(id, &mut buf, &waker), Fill::Events));
        assert_eq!(revisions(&buf), [18]);
    }

    /// A watcher past its capacity gets the first `capacity` changes, then
    /// is cut off; closing ends the others.
    #[test]
    fn capacity_and_close() {
        let waker = futures::task::noop_waker();
        let mut f = Fanout::new(0, 3);
        let (slow, _) = f.register("/").unwrap();
        let (other, _) = f.register("/x/").unwrap();
        for r in 1..=5 {
            f.publish(event("/a", r));
        }
        let mut buf = VecDeque::new();
        assert!(matches!(f.fill(slow, &mut buf, &waker), Fill::TooSlow));
        assert_eq!(revisions(&buf), [1, 2, 3]);
        assert!(matches!(f.fill(slow, &mut buf, &waker), Fill::Gone));
        assert_eq!(f.len(), 1);
        assert!(matches!(f.fill(other, &mut buf, &waker), Fill::Idle(5)));
        assert_eq!(f.close().len(), 1);
        assert!(matches!(f.fill(other, &mut buf, &waker), Fill::Gone));
        assert!(f.register("/").is_none());
    }
}
