//! Watch fan-out.
//!
//! A watch first catches up from the log, page by page, without being
//! registered anywhere. Once it is within one page of the latest published
//! revision it registers with the [`Hub`] (taking the hub's published revision
//! `R` under its lock), reads the rest of the history up to `R` from the log,
//! then streams live events: the writer thread pushes every event after `R`
//! into the watcher's bounded queue, so history and live part meet without a
//! gap or a duplicate. A full queue ends the watcher with `WatcherTooSlow`;
//! the writer never waits.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::{TryRecvError, TrySendError};
use tokio::time::Instant;

use super::Shared;
use super::read::Snapshot;
use crate::backend::{Event, Revision, WatchItem, WatchStream};
use crate::error::{Result, StoreError};

/// Log records read per catch-up step.
const PAGE: i64 = 512;

struct Watcher {
    prefix: String,
    tx: mpsc::Sender<Event>,
    too_slow: Arc<AtomicBool>,
}

#[derive(Default)]
struct HubState {
    /// Every event up to this revision has been offered to the registered watchers.
    published: Revision,
    watchers: Vec<Watcher>,
    closed: bool,
}

/// The registered (live) watchers.
pub(super) struct Hub {
    state: Mutex<HubState>,
    /// A lock-free copy of `state.published`, stored after the events were queued.
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
        Self {
            state: Mutex::new(HubState { published, ..HubState::default() }),
            published: AtomicI64::new(published),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The latest revision whose events were handed to the watchers.
    pub(super) fn published(&self) -> Revision {
        self.published.load(Ordering::Acquire)
    }

    /// Offers committed events (in revision order) to every watcher, then
    /// marks `head` published. Never blocks on a watcher.
    pub(super) fn publish(&self, events: &[Event], head: Revision) {
        let mut state = self.lock();
        if !events.is_empty() {
            state.watchers.retain(|w| {
                if w.tx.is_closed() {
                    return false;
                }
                for ev in events.iter().filter(|e| e.kv.key.starts_with(&w.prefix)) {
                    match w.tx.try_send(ev.clone()) {
                        Ok(()) => {}
                        Err(TrySendError::Full(_)) => {
                            w.too_slow.store(true, Ordering::Release);
                            return false;
                        }
                        Err(TrySendError::Closed(_)) => return false,
                    }
                }
                true
            });
        }
        state.published = state.published.max(head);
        self.published.store(state.published, Ordering::Release);
    }

    /// Ends every live watcher (the backend is gone).
    pub(super) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.watchers.clear();
    }

    /// Registers a live watcher; returns the revision after which it receives
    /// events, or `None` if the backend is closed.
    fn register(&self, prefix: &str) -> Option<(Revision, mpsc::Receiver<Event>, Arc<AtomicBool>)> {
        let mut state = self.lock();
        if state.closed {
            return None;
        }
        let (tx, rx) = mpsc::channel(self.capacity);
        let too_slow = Arc::new(AtomicBool::new(false));
        state.watchers.push(Watcher { prefix: prefix.to_owned(), tx, too_slow: too_slow.clone() });
        Some((state.published, rx, too_slow))
    }
}

struct Live {
    rx: mpsc::Receiver<Event>,
    too_slow: Arc<AtomicBool>,
    /// Events up to this revision come from the log.
    registered_at: Revision,
}

struct WatchState {
    /// Weak, so that a forgotten stream does not keep the database open.
    shared: Weak<Shared>,
    prefix: String,
    after: Revision,
    /// Every event up to here has been read from the log (delivered or buffered).
    cursor: Revision,
    buffer: VecDeque<Event>,
    live: Option<Live>,
    interval: Duration,
    next_progress: Instant,
    progress_due: bool,
    done: bool,
}

/// Starts a watch of `prefix` after `after` (already checked against compaction).
///
/// A watch close to the head registers at once, so that writes made right
/// after `watch` returns reach it live (and count against its queue); one far
/// behind catches up from the log first.
pub(super) fn start(shared: &Arc<Shared>, prefix: &str, after: Revision) -> WatchStream {
    let interval = shared.progress_interval;
    let mut state = WatchState {
        shared: Arc::downgrade(shared),
        prefix: prefix.to_owned(),
        after,
        cursor: after,
        buffer: VecDeque::new(),
        live: None,
        interval,
        next_progress: Instant::now() + interval,
        progress_due: false,
        done: false,
    };
    if shared.hub.published() - after <= PAGE {
        state.register(shared);
    }
    Box::pin(futures::stream::unfold(state, |mut st| async move {
        let item = st.next_item().await?;
        if item.is_err() {
            st.done = true;
        }
        Some((item, st))
    }))
}

impl WatchState {
    /// Registers with the hub: live events from now on, history up to the registration.
    fn register(&mut self, shared: &Shared) {
        match shared.hub.register(&self.prefix) {
            Some((registered_at, rx, too_slow)) => {
                self.live = Some(Live { rx, too_slow, registered_at });
                self.next_progress = Instant::now() + self.interval;
            }
            None => self.done = true,
        }
    }

    /// Reads the log events in `(cursor, upto]` into the buffer.
    async fn read_history(&mut self, shared: Arc<Shared>, upto: Revision) -> Result<()> {
        let prefix = self.prefix.clone();
        let after = self.cursor;
        let events = tokio::task::spawn_blocking(move || Snapshot::begin(&shared.db)?.events(&prefix, after, upto))
            .await
            .map_err(|e| StoreError::Internal(format!("durable backend: watch read failed: {e}")))?
            .map_err(|e| match e {
                StoreError::Expired { compacted, .. } => StoreError::Expired { requested: self.after, compacted },
                e => e,
            })?;
        self.buffer.extend(events);
        self.cursor = upto;
        Ok(())
    }

    async fn next_item(&mut self) -> Option<Result<WatchItem>> {
        loop {
            if self.done {
                return None;
            }
            if let Some(ev) = self.buffer.pop_front() {
                return Some(Ok(WatchItem::Event(ev)));
            }
            let Some(shared) = self.shared.upgrade() else {
                // The backend is gone.
                self.done = true;
                continue;
            };
            let Some(live) = &self.live else {
                // Catching up: read pages until within one page of the head, then register.
                let published = shared.hub.published();
                if published - self.cursor > PAGE {
                    if let Err(e) = self.read_history(shared, self.cursor + PAGE).await {
                        return Some(Err(e));
                    }
                    continue;
                }
                self.register(&shared);
                continue;
            };
            if self.cursor < live.registered_at {
                let upto = (self.cursor + PAGE).min(live.registered_at);
                if let Err(e) = self.read_history(shared, upto).await {
                    return Some(Err(e));
                }
                continue;
            }
            drop(shared);
            return self.next_live().await;
        }
    }

    async fn next_live(&mut self) -> Option<Result<WatchItem>> {
        let after = self.after;
        let live = self.live.as_mut()?;
        loop {
            if self.progress_due {
                // Everything published before the queue was seen empty has been delivered.
                let published = self.shared.upgrade()?.hub.published();
                match live.rx.try_recv() {
                    Ok(ev) if ev.revision() <= after => continue,
                    Ok(ev) => return Some(Ok(WatchItem::Event(ev))),
                    Err(TryRecvError::Empty) => {
                        self.progress_due = false;
                        self.next_progress = Instant::now() + self.interval;
                        // Watching from a revision not reached yet: nothing to report.
                        if published >= after {
                            return Some(Ok(WatchItem::Progress(published)));
                        }
                    }
                    Err(TryRecvError::Disconnected) => return Self::ended(live),
                }
            }
            tokio::select! {
                biased;
                ev = live.rx.recv() => match ev {
                    Some(ev) if ev.revision() <= after => continue,
                    Some(ev) => return Some(Ok(WatchItem::Event(ev))),
                    None => return Self::ended(live),
                },
                () = tokio::time::sleep_until(self.next_progress) => self.progress_due = true,
            }
        }
    }

    /// The queue was closed: cut off as too slow, or the backend is gone.
    fn ended(live: &Live) -> Option<Result<WatchItem>> {
        if live.too_slow.load(Ordering::Acquire) {
            Some(Err(StoreError::WatcherTooSlow { capacity: live.rx.max_capacity() }))
        } else {
            None
        }
    }
}
