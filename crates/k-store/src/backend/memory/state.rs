//! The state behind the memory backend's lock, and every operation on it.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;
use std::task::Waker;

use bytes::Bytes;

use crate::backend::{Event, EventKind, KeyValue, RangePage, Revision};
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
    /// them (at most `watch_capacity + 1`; more than `watch_capacity` means
    /// the watcher is too slow).
    pending: VecDeque<Arc<Event>>,
    /// The waker generation and index in `State::waiters` of its registered
    /// waker, if any.
    waiting: Option<(u64, usize)>,
}

/// What a watch stream gets when it asks for the changes after its cursor.
pub(super) enum Fill {
    /// Changes were appended to the stream's buffer.
    Events,
    /// Nothing new: every change up to this revision was delivered; the
    /// stream's waker is registered for the next write.
    Idle(Revision),
    /// Changes were appended (at most the capacity) and the watcher is then
    /// cut off (it is unregistered).
    TooSlow,
    /// The watcher is not registered (anymore).
    Gone,
}

/// Everything the memory backend stores.
pub(super) struct State {
    /// Current key-values.
    kvs: BTreeMap<String, KeyValue>,
    /// The latest revision.
    revision: Revision,
    /// History at and before this revision is gone.
    compacted: Revision,
    /// One event per revision in `compacted + 1 ..= revision`, oldest first.
    history: VecDeque<Arc<Event>>,
    /// Maximum history length (0 = unbounded).
    max_history: usize,
    /// Changes buffered per watcher.
    watch_capacity: usize,
    /// The shared live log: the changes in `live_base + 1 ..= revision`, kept
    /// while watchers are registered, oldest first. Writers append once;
    /// watchers read after their cursor.
    live: VecDeque<Arc<Event>>,
    live_base: Revision,
    /// Length of the live log at which lagging watchers are swept and the
    /// older half is dropped.
    live_limit: usize,
    watchers: HashMap<u64, Watcher>,
    next_id: u64,
    /// Wakers of idle watch streams, woken (outside the lock) after a write.
    waiters: Vec<Waker>,
    /// Incremented whenever `waiters` is taken.
    waiters_gen: u64,
}

impl State {
    pub(super) fn new(max_history: usize, watch_capacity: usize) -> Self {
        Self {
            kvs: BTreeMap::new(),
            revision: 0,
            compacted: 0,
            history: VecDeque::new(),
            max_history,
            watch_capacity,
            live: VecDeque::new(),
            live_base: 0,
            live_limit: watch_capacity.max(MIN_LIVE_LOG),
            watchers: HashMap::new(),
            next_id: 0,
            waiters: Vec::new(),
            waiters_gen: 0,
        }
    }

    pub(super) fn revision(&self) -> Revision {
        self.revision
    }

    pub(super) fn compacted(&self) -> Revision {
        self.compacted
    }

    pub(super) fn len(&self) -> usize {
        self.kvs.len()
    }

    pub(super) fn watcher_count(&self) -> usize {
        self.watchers.len()
    }

    /// The revision a read at `at` is served at, or why it cannot be.
    fn read_revision(&self, at: Option<Revision>) -> Result<Revision> {
        match at {
            None => Ok(self.revision),
            Some(r) if r < 0 => Err(StoreError::BadRequest(format!("invalid revision {r}"))),
            Some(r) if r > self.revision => {
                Err(StoreError::TooLargeResourceVersion { requested: r, current: self.revision })
            }
            Some(r) if r < self.compacted => Err(StoreError::Expired { requested: r, compacted: self.compacted }),
            Some(r) => Ok(r),
        }
    }

    /// The history events with revision greater than `after` (which must be at
    /// least the compacted revision).
    fn history_after(&self, after: Revision) -> std::collections::vec_deque::Iter<'_, Arc<Event>> {
        let skip = usize::try_from(after.saturating_sub(self.compacted)).unwrap_or(usize::MAX);
        self.history.range(skip.min(self.history.len())..)
    }

    pub(super) fn get(&self, key: &str, at: Option<Revision>) -> Result<Option<KeyValue>> {
        let at = self.read_revision(at)?;
        if at < self.revision {
            // The first change after `at` knows the value at `at`.
            if let Some(event) = self.history_after(at).find(|e| e.kv.key == key) {
                return Ok(event.prev.clone());
            }
        }
        Ok(self.kvs.get(key).cloned())
    }

    pub(super) fn range(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        at: Option<Revision>,
    ) -> Result<RangePage> {
        let at = self.read_revision(at)?;
        let covered = |key: &str| key.starts_with(prefix) && start_after.is_none_or(|s| key > s);

        // Keys changed after `at`, with their value at `at` (None: absent then).
        let mut overlay: BTreeMap<&str, Option<&KeyValue>> = BTreeMap::new();
        if at < self.revision {
            for event in self.history_after(at) {
                if covered(&event.kv.key) {
                    overlay.entry(event.kv.key.as_str()).or_insert(event.prev.as_ref());
                }
            }
        }

        let lower = match start_after {
            Some(s) if s >= prefix => Bound::Excluded(s),
            _ => Bound::Included(prefix),
        };
        let mut current = self
            .kvs
            .range::<str, _>((lower, Bound::Unbounded))
            .map(|(_, kv)| kv)
            .take_while(|kv| covered(&kv.key))
            .peekable();
        let mut past = overlay.into_iter().peekable();

        let mut kvs = Vec::new();
        let mut more = false;
        loop {
            let order = match (current.peek(), past.peek()) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(c), Some((p, _))) => c.key.as_str().cmp(p),
            };
            let next = match order {
                Ordering::Less => current.next(),
                Ordering::Equal => {
                    current.next();
                    past.next().and_then(|(_, kv)| kv)
                }
                Ordering::Greater => past.next().and_then(|(_, kv)| kv),
            };
            let Some(kv) = next else { continue };
            if limit > 0 && kvs.len() == limit {
                more = true;
                break;
            }
            kvs.push(kv.clone());
        }
        Ok(RangePage { kvs, revision: at, more })
    }

    pub(super) fn create(&mut self, key: &str, value: Bytes) -> Result<Revision> {
        if self.kvs.contains_key(key) {
            return Err(StoreError::key_exists(key));
        }
        let revision = self.revision + 1;
        let kv = KeyValue { key: key.to_owned(), value, create_revision: revision, mod_revision: revision };
        self.kvs.insert(key.to_owned(), kv.clone());
        self.revision = revision;
        self.record(Event { kind: EventKind::Put, kv, prev: None });
        Ok(revision)
    }

    pub(super) fn update(&mut self, key: &str, value: Bytes, expected: Revision) -> Result<Revision> {
        let Some(current) = self.kvs.get_mut(key) else { return Err(StoreError::key_not_found(key)) };
        if current.mod_revision != expected {
            return Err(StoreError::key_conflict(key));
        }
        let revision = self.revision + 1;
        let kv = KeyValue {
            key: current.key.clone(),
            value,
            create_revision: current.create_revision,
            mod_revision: revision,
        };
        let prev = std::mem::replace(current, kv.clone());
        self.revision = revision;
        self.record(Event { kind: EventKind::Put, kv, prev: Some(prev) });
        Ok(revision)
    }

    pub(super) fn delete(&mut self, key: &str, expected: Option<Revision>) -> Result<(Revision, KeyValue)> {
        match (self.kvs.get(key), expected) {
            (None, _) => return Err(StoreError::key_not_found(key)),
            (Some(current), Some(expected)) if current.mod_revision != expected => {
                return Err(StoreError::key_conflict(key));
            }
            _ => {}
        }
        let Some(prev) = self.kvs.remove(key) else { return Err(StoreError::key_not_found(key)) };
        let revision = self.revision + 1;
        let kv = KeyValue { mod_revision: revision, ..prev.clone() };
        self.revision = revision;
        self.record(Event { kind: EventKind::Delete, kv, prev: Some(prev.clone()) });
        Ok((revision, prev))
    }

    /// Appends a change (whose revision is the new `self.revision`) to the
    /// history and, when watchers are registered, to the live log, never
    /// waiting for them. The idle watchers are woken by [`State::take_waiters`].
    fn record(&mut self, event: Event) {
        let event = Arc::new(event);
        if self.watchers.is_empty() {
            self.live.clear();
            self.live_base = self.revision;
        } else {
            self.live.push_back(Arc::clone(&event));
            if self.live.len() >= self.live_limit {
                self.sweep();
            }
        }
        self.history.push_back(event);
        if self.max_history > 0 {
            while self.history.len() > self.max_history {
                if let Some(oldest) = self.history.pop_front() {
                    self.compacted = oldest.revision();
                }
            }
        }
    }

    pub(super) fn compact(&mut self, revision: Revision) -> Result<()> {
        if revision > self.revision {
            return Err(StoreError::TooLargeResourceVersion { requested: revision, current: self.revision });
        }
        if revision <= self.compacted {
            return Ok(());
        }
        while self.history.front().is_some_and(|e| e.revision() <= revision) {
            self.history.pop_front();
        }
        self.compacted = revision;
        Ok(())
    }

    /// Drops the older half of the live log, first moving the matching
    /// changes of the watchers that have not taken them yet into their own
    /// pending queues (up to one more than the capacity: too slow).
    fn sweep(&mut self) {
        let drop = self.live.len() / 2;
        let boundary = self.live_base + i64::try_from(drop).unwrap_or(i64::MAX);
        let capacity = self.watch_capacity;
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

    /// Registers a watcher of `prefix` and returns its id with the history it
    /// must replay first (changes after `after`); live changes are those after
    /// the current revision.
    pub(super) fn register_watch(&mut self, prefix: &str, after: Revision) -> Result<(u64, Vec<Arc<Event>>)> {
        if after < self.compacted {
            return Err(StoreError::Expired { requested: after, compacted: self.compacted });
        }
        let replay = self.history_after(after).filter(|e| e.kv.key.starts_with(prefix)).cloned().collect();
        if self.watchers.is_empty() {
            self.live.clear();
            self.live_base = self.revision;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.watchers.insert(
            id,
            Watcher { prefix: prefix.to_owned(), cursor: self.revision, pending: VecDeque::new(), waiting: None },
        );
        Ok((id, replay))
    }

    pub(super) fn unregister_watch(&mut self, id: u64) {
        self.watchers.remove(&id);
        if self.watchers.is_empty() {
            self.live.clear();
            self.live_base = self.revision;
        }
    }

    /// Appends to `buf` every change for watcher `id` after its cursor, in one
    /// go. A watcher with more than the capacity undelivered gets the first
    /// `capacity` of them and is cut off. With nothing new, `waker` is
    /// registered for the next write.
    pub(super) fn fill(&mut self, id: u64, buf: &mut VecDeque<Arc<Event>>, waker: &Waker) -> Fill {
        let capacity = self.watch_capacity;
        let Some(w) = self.watchers.get_mut(&id) else { return Fill::Gone };
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
            w.cursor = self.revision;
        }
        if too_slow {
            self.unregister_watch(id);
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
        Fill::Idle(self.revision)
    }

    /// The wakers of the idle watch streams, to wake once the lock is released.
    pub(super) fn take_waiters(&mut self) -> Vec<Waker> {
        if self.waiters.is_empty() {
            return Vec::new();
        }
        self.waiters_gen += 1;
        std::mem::take(&mut self.waiters)
    }
}

impl Drop for State {
    /// Wakes the idle watch streams: they find the backend gone and end.
    fn drop(&mut self) {
        for waker in self.waiters.drain(..) {
            waker.wake();
        }
    }
}
