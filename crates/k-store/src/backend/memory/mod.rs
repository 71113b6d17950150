//! The in-memory backend: the embedded default, zero setup.
//!
//! [`MemoryBackend`] keeps everything behind one [`std::sync::Mutex`]:
//!
//! - the current key-values in a `BTreeMap` (key order for ranges),
//! - the revision counter and the compacted revision,
//! - a history log of every change after the compacted revision, one event
//!   per revision (so the event of revision `r` sits at index
//!   `r - compacted - 1`),
//! - the registered watchers.
//!
//! # Reads at an older revision
//!
//! The history is the only record of the past: a read at revision `at`
//! starts from the current values and undoes the changes made after `at`.
//! For each key changed after `at`, the first such change carries the
//! key's value at `at` as its `prev` (none if the key did not exist). A
//! `get` scans the history after `at` for the key; a `range` collects those
//! first changes for the keys it covers into an overlay and merges it, in
//! key order, with the current values. Both cost one pass over the history
//! newer than `at` and see one consistent revision, which is what list
//! pagination needs across pages. Writes stay cheap: one lock, one map
//! update, one history push, `Bytes` clones only.
//!
//! # Watches
//!
//! A watch registers itself and snapshots the matching history under the
//! same lock as the writers, so the replayed part and the live part meet
//! with no gap and no duplicate. Live delivery is batched: while watchers
//! are registered, a writer appends each change once to a shared live log
//! (an `Arc` per change, O(1)) and wakes only the watch streams that are
//! idle, after releasing the lock. Each watcher has a cursor in the log;
//! when polled, a watch stream takes every change after its cursor under
//! its prefix in one go and yields them from a local buffer. When the log
//! reaches its bound the changes of watchers that have not taken them are
//! moved into their own pending queues and the older half is dropped;
//! a watcher with more than `watch_capacity` undelivered changes is cut off
//! and ends with [`StoreError::WatcherTooSlow`] after the first
//! `watch_capacity` of them. Writers never wait for watchers. Idle watch
//! streams emit [`WatchItem::Progress`] every `progress_interval` when
//! polled inside a tokio runtime (the backend itself needs no runtime).

//! # Compaction
//!
//! [`Backend::compact`] drops history up to a revision; the history is also
//! compacted automatically to keep at most [`MemoryOptions::history`]
//! revisions.
//!
//! [`Backend::compact`]: crate::backend::Backend::compact
//! [`WatchItem::Progress`]: crate::backend::WatchItem::Progress

mod state;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;

use crate::backend::{Backend, KeyValue, RangePage, Revision, WatchStream};
use crate::error::{Result, StoreError};

use crate::backend::fanout::{Fanout, FanoutHost, FanoutStream, Registration};
use state::State;

/// Upper bound of [`MemoryOptions::watch_capacity`] (queues allocate lazily).
const MAX_WATCH_CAPACITY: usize = usize::MAX >> 4;

/// Tuning of a [`MemoryBackend`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryOptions {
    /// Changes buffered per watcher before it is ended with
    /// [`StoreError::WatcherTooSlow`] (default 10 000; at least 1, at most
    /// `usize::MAX / 16`).
    pub watch_capacity: usize,
    /// Past revisions kept before the oldest are compacted automatically
    /// (default 100 000); 0 keeps everything until [`Backend::compact`].
    pub history: usize,
    /// How often an idle watch stream reports progress (default 5 s; at
    /// least 1 ms).
    pub progress_interval: Duration,
}

impl Default for MemoryOptions {
    fn default() -> Self {
        Self { watch_capacity: 10_000, history: 100_000, progress_interval: Duration::from_secs(5) }
    }
}

/// The in-memory backend. Cheap to construct, needs no runtime; share it as
/// `Arc<dyn Backend>`. See the [module documentation](self) for how it works.
pub struct MemoryBackend {
    shared: Arc<Shared>,
}

/// What the backend and its watch streams share.
struct Shared {
    state: Mutex<State>,
    options: MemoryOptions,
}

impl Shared {
    /// Locks the state. A panic while the lock was held cannot leave the state
    /// half-written in a way later operations would trip over (every write
    /// validates before it mutates), so a poisoned lock is used as is.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs a write under the lock, then wakes the idle watch streams once
    /// the lock is released.
    fn write<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let (result, waiters) = {
            let mut state = self.lock();
            let result = f(&mut state);
            (result, state.fanout().take_waiters())
        };
        for waker in waiters {
            waker.wake();
        }
        result
    }
}

impl FanoutHost for Shared {
    fn with_fanout<R>(&self, f: impl FnOnce(&mut Fanout) -> R) -> R {
        f(self.lock().fanout())
    }
}

impl MemoryBackend {
    /// An empty backend with the default [`MemoryOptions`].
    pub fn new() -> Self {
        Self::with_options(MemoryOptions::default())
    }

    /// An empty backend with the given options.
    pub fn with_options(options: MemoryOptions) -> Self {
        let options = MemoryOptions {
            watch_capacity: options.watch_capacity.clamp(1, MAX_WATCH_CAPACITY),
            history: options.history,
            progress_interval: options.progress_interval.max(Duration::from_millis(1)),
        };
        let state = State::new(options.history, options.watch_capacity);
        Self { shared: Arc::new(Shared { state: Mutex::new(state), options }) }
    }

    /// The options in effect (after clamping).
    pub fn options(&self) -> &MemoryOptions {
        &self.shared.options
    }

    /// How many watchers are registered. A dropped watch stream is
    /// unregistered right away.
    pub fn watcher_count(&self) -> usize {
        self.shared.lock().watcher_count()
    }

    /// How many keys currently exist.
    pub fn len(&self) -> usize {
        self.shared.lock().len()
    }

    /// Whether no key exists.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MemoryBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("MemoryBackend");
        // try_lock: formatting must never deadlock, even from inside a write.
        match self.shared.state.try_lock() {
            Ok(state) => {
                d.field("revision", &state.revision())
                    .field("compacted", &state.compacted())
                    .field("keys", &state.len())
                    .field("watchers", &state.watcher_count());
            }
            Err(_) => {
                d.field("state", &format_args!("<locked>"));
            }
        }
        d.field("options", &self.shared.options).finish()
    }
}

#[async_trait::async_trait]
impl Backend for MemoryBackend {
    async fn revision(&self) -> Result<Revision> {
        Ok(self.shared.lock().revision())
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        Ok(self.shared.lock().compacted())
    }

    async fn get(&self, key: &str, at: Option<Revision>) -> Result<Option<KeyValue>> {
        self.shared.lock().get(key, at)
    }

    async fn range(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        at: Option<Revision>,
    ) -> Result<RangePage> {
        self.shared.lock().range(prefix, start_after, limit, at)
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<Revision> {
        self.shared.write(|s| s.create(key, value))
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<Revision> {
        self.shared.write(|s| s.update(key, value, expected))
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(Revision, KeyValue)> {
        self.shared.write(|s| s.delete(key, expected))
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        if after < 0 {
            return Err(StoreError::BadRequest(format!("invalid watch revision {after}")));
        }
        let (id, replay) = self.shared.lock().register_watch(prefix, after)?;
        Ok(Box::pin(FanoutStream::new(
            Registration::new(&self.shared, id),
            after,
            replay,
            self.shared.options.watch_capacity,
            self.shared.options.progress_interval,
        )))
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.shared.lock().compact(revision)
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;
    use crate::backend::WatchItem;

    async fn next_rev(w: &mut WatchStream) -> Revision {
        loop {
            match w.next().await {
                Some(Ok(WatchItem::Event(e))) => return e.revision(),
                Some(Ok(WatchItem::Progress(_))) => {}
                other => panic!("{other:?}"),
            }
        }
    }

    /// A watcher lagging across sweeps of the live log gets every change of
    /// its prefix, in order; other watchers are unaffected.
    #[tokio::test]
    async fn lagging_watchers_survive_sweeps_of_the_live_log() {
        let b = MemoryBackend::with_options(MemoryOptions { watch_capacity: 2_000, ..MemoryOptions::default() });
        let mut lagging = b.watch("/a/", 0).await.unwrap();
        let mut prompt = b.watch("/b/", 0).await.unwrap();
        let mut idle = b.watch("/c/", 0).await.unwrap();
        let mut expected_b = Vec::new();
        for i in 0..6_000 {
            let key = if i % 2 == 0 { format!("/a/{i}") } else { format!("/b/{i}") };
            let rev = b.create(&key, Bytes::from_static(b"v")).await.unwrap();
            if i % 2 == 1 {
                expected_b.push(rev);
            }
            if i % 100 == 99 {
                for r in expected_b.drain(..) {
                    assert_eq!(next_rev(&mut prompt).await, r);
                }
            }
        }
        // 3,000 changes under /a/ > capacity: the first 2,000 then the error.
        for r in 0..2_000 {
            assert_eq!(next_rev(&mut lagging).await, 2 * r + 1);
        }
        assert!(matches!(lagging.next().await, Some(Err(StoreError::WatcherTooSlow { capacity: 2_000 }))));
        assert!(lagging.next().await.is_none());
        let rev = b.create("/c/x", Bytes::from_static(b"v")).await.unwrap();
        assert_eq!(next_rev(&mut idle).await, rev);
        assert_eq!(b.watcher_count(), 2);
        drop(prompt);
        assert_eq!(b.watcher_count(), 1);
    }

    /// Within the capacity, a watcher that reads late gets everything.
    #[tokio::test]
    async fn late_reader_within_capacity_gets_every_change() {
        let b = MemoryBackend::with_options(MemoryOptions { watch_capacity: 3_000, ..MemoryOptions::default() });
        let mut late = b.watch("/a/", 0).await.unwrap();
        for i in 0..6_000 {
            let key = if i % 2 == 0 { format!("/a/{i}") } else { format!("/b/{i}") };
            b.create(&key, Bytes::from_static(b"v")).await.unwrap();
        }
        for r in 0..3_000 {
            assert_eq!(next_rev(&mut late).await, 2 * r + 1);
        }
        let rev = b.create("/a/x", Bytes::from_static(b"v")).await.unwrap();
        assert_eq!(next_rev(&mut late).await, rev);
    }
}
