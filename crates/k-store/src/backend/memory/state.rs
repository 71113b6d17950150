//! The state behind the memory backend's lock, and every operation on it.

use std::cmp::Ordering;
use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use crate::backend::fanout::Fanout;
use crate::backend::{Event, EventKind, KeyValue, RangePage, Revision};
use crate::error::{Result, StoreError};

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
    /// The registered watchers and the live log they read.
    fanout: Fanout,
}

impl State {
    pub(super) fn new(max_history: usize, watch_capacity: usize) -> Self {
        Self {
            kvs: BTreeMap::new(),
            revision: 0,
            compacted: 0,
            history: VecDeque::new(),
            max_history,
            fanout: Fanout::new(0, watch_capacity),
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
        self.fanout.len()
    }

    /// The watchers' fan-out.
    pub(super) fn fanout(&mut self) -> &mut Fanout {
        &mut self.fanout
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
        self.record(Event::new(EventKind::Put, kv, None));
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
        self.record(Event::new(EventKind::Put, kv, Some(prev)));
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
        self.record(Event::new(EventKind::Delete, kv, Some(prev.clone())));
        Ok((revision, prev))
    }

    /// Appends a change (whose revision is the new `self.revision`) to the
    /// history and, when watchers are registered, to the live log, never
    /// waiting for them. The idle watchers are woken by [`State::take_waiters`].
    fn record(&mut self, event: Event) {
        let event = Arc::new(event);
        self.fanout.publish(Arc::clone(&event));
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

    /// Registers a watcher of `prefix` and returns its id with the history it
    /// must replay first (changes after `after`); live changes are those after
    /// the current revision.
    pub(super) fn register_watch(&mut self, prefix: &str, after: Revision) -> Result<(u64, Vec<Arc<Event>>)> {
        if after < self.compacted {
            return Err(StoreError::Expired { requested: after, compacted: self.compacted });
        }
        let replay = self.history_after(after).filter(|e| e.kv.key.starts_with(prefix)).cloned().collect();
        let (id, _) =
            self.fanout.register(prefix).ok_or_else(|| StoreError::Internal("the backend is closed".into()))?;
        Ok((id, replay))
    }
}
