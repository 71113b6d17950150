//! Watch fan-out.
//!
//! A watch first catches up from the log, page by page, without being
//! registered anywhere. Once it is within one page of the latest published
//! revision it registers with the [`Hub`] (taking the hub's published revision
//! `R` under its lock), reads the rest of the history up to `R` from the log,
//! then streams live events: after each commit the writer thread publishes
//! the batch's events once to the shared [`Fanout`], whose log every live
//! watcher reads after its own cursor, so history and live part meet without
//! a gap or a duplicate. A watcher with more than its capacity undelivered
//! ends with `WatcherTooSlow`; the writer never waits.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use futures::StreamExt;

use super::Shared;
use super::read::Snapshot;
use crate::backend::fanout::{Fanout, FanoutHost, FanoutStream, Registration};
use crate::backend::{Event, Revision, WatchItem, WatchStream};
use crate::error::{Result, StoreError};

/// Log records read per catch-up step.
const PAGE: i64 = 512;

/// The registered (live) watchers.
pub(super) struct Hub {
    fanout: Mutex<Fanout>,
    /// A lock-free copy of the fan-out's published revision.
    published: AtomicI64,
    capacity: usize,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("published", &self.published()).field("capacity", &self.capacity).finish()
    }
}

impl Hub {
    pub(super) fn new(published: Revision, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self { fanout: Mutex::new(Fanout::new(published, capacity)), published: AtomicI64::new(published), capacity }
    }

    fn lock(&self) -> MutexGuard<'_, Fanout> {
        self.fanout.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The latest revision whose events were handed to the watchers.
    pub(super) fn published(&self) -> Revision {
        self.published.load(Ordering::Acquire)
    }

    /// Publishes committed events (in revision order), then marks `head`
    /// published. Never blocks on a watcher.
    pub(super) fn publish(&self, events: Vec<Event>, head: Revision) {
        let waiters = {
            let mut fanout = self.lock();
            for event in events {
                fanout.publish(Arc::new(event));
            }
            fanout.advance(head);
            self.published.store(fanout.published(), Ordering::Release);
            fanout.take_waiters()
        };
        for waker in waiters {
            waker.wake();
        }
    }

    /// Ends every live watcher (the backend is gone).
    pub(super) fn close(&self) {
        let waiters = self.lock().close();
        for waker in waiters {
            waker.wake();
        }
    }
}

impl FanoutHost for Shared {
    fn with_fanout<R>(&self, f: impl FnOnce(&mut Fanout) -> R) -> R {
        f(&mut self.hub.lock())
    }
}

/// A watch catching up from the log before it goes live.
struct CatchUp {
    /// Weak, so that a forgotten stream does not keep the database open.
    shared: Weak<Shared>,
    prefix: String,
    after: Revision,
    /// Every event up to here has been read from the log.
    cursor: Revision,
    /// Set once registered: the registration and the revision after which
    /// events come live.
    live: Option<(Registration<Shared>, Revision)>,
    capacity: usize,
    interval: Duration,
}

/// One step of a watch: a page of history, the live stream, or an error.
type Part = futures::stream::BoxStream<'static, Result<WatchItem>>;

/// Starts a watch of `prefix` after `after` (already checked against compaction).
///
/// A watch close to the head registers at once, so that writes made right
/// after `watch` returns reach it live (and count against its queue); one far
/// behind catches up from the log first.
pub(super) fn start(shared: &Arc<Shared>, prefix: &str, after: Revision) -> WatchStream {
    let mut catch_up = CatchUp {
        shared: Arc::downgrade(shared),
        prefix: prefix.to_owned(),
        after,
        cursor: after,
        live: None,
        capacity: shared.hub.capacity,
        interval: shared.progress_interval,
    };
    let mut closed = false;
    if shared.hub.published() - after <= PAGE {
        closed = !catch_up.register(shared);
    }
    let state = if closed { None } else { Some(catch_up) };
    Box::pin(
        futures::stream::unfold(state, |state| async move {
            let mut catch_up = state?;
            match catch_up.step().await {
                Ok(Some(events)) => {
                    let part: Part = futures::stream::iter(events.into_iter().map(|e| Ok(WatchItem::Event(e)))).boxed();
                    Some((part, Some(catch_up)))
                }
                Ok(None) => {
                    let (registration, _) = catch_up.live?;
                    let live = FanoutStream::new(
                        registration,
                        catch_up.after,
                        Vec::new(),
                        catch_up.capacity,
                        catch_up.interval,
                    );
                    Some((live.boxed(), None))
                }
                Err(e) => Some((futures::stream::once(async move { Err(e) }).boxed(), None)),
            }
        })
        .flatten(),
    )
}

impl CatchUp {
    /// Registers with the hub; false if the backend is closed.
    fn register(&mut self, shared: &Arc<Shared>) -> bool {
        match shared.hub.lock().register(&self.prefix) {
            Some((id, registered_at)) => {
                self.live = Some((Registration::new(shared, id), registered_at));
                true
            }
            None => false,
        }
    }

    /// Reads the log events in `(cursor, upto]`.
    async fn read_history(&mut self, shared: Arc<Shared>, upto: Revision) -> Result<Vec<Arc<Event>>> {
        let prefix = self.prefix.clone();
        let after = self.cursor;
        let events = tokio::task::spawn_blocking(move || Snapshot::begin(&shared.db)?.events(&prefix, after, upto))
            .await
            .map_err(|e| StoreError::Internal(format!("durable backend: watch read failed: {e}")))?
            .map_err(|e| match e {
                StoreError::Expired { compacted, .. } => StoreError::Expired { requested: self.after, compacted },
                e => e,
            })?;
        self.cursor = upto;
        Ok(events.into_iter().map(Arc::new).collect())
    }

    /// The next page of history, or None when the live part is next (or
    /// the backend is gone: then `live` is None).
    async fn step(&mut self) -> Result<Option<Vec<Arc<Event>>>> {
        loop {
            let Some(shared) = self.shared.upgrade() else {
                self.live = None;
                return Ok(None);
            };
            let Some((_, registered_at)) = &self.live else {
                // Far behind: read pages until within one page of the head, then register.
                let published = shared.hub.published();
                if published - self.cursor > PAGE {
                    let upto = self.cursor + PAGE;
                    return self.read_history(shared, upto).await.map(Some);
                }
                if !self.register(&shared) {
                    return Ok(None);
                }
                continue;
            };
            if self.cursor < *registered_at {
                let upto = (self.cursor + PAGE).min(*registered_at);
                return self.read_history(shared, upto).await.map(Some);
            }
            return Ok(None);
        }
    }
}
