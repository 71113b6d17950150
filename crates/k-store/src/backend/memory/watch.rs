//! The memory backend's watch stream.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::task::coop;
use tokio::time::{Interval, MissedTickBehavior};

use super::Shared;
use super::state::Fill;
use crate::backend::{Event, Revision, WatchItem};
use crate::error::{Result, StoreError};

/// A watch of the memory backend: replays the history snapshot taken at
/// registration, then takes the live changes in batches from the shared log,
/// with progress ticks when idle.
pub(super) struct MemoryWatch {
    /// Weak, so that a forgotten stream does not keep the backend alive.
    shared: Weak<Shared>,
    /// The watcher's registration.
    id: u64,
    after: Revision,
    /// Changes taken but not yet yielded (first the replayed history).
    buf: VecDeque<Arc<Event>>,
    /// The buffer ends with the watcher being cut off.
    too_slow: bool,
    capacity: usize,
    period: Duration,
    /// Created at the first idle poll inside a tokio runtime.
    ticker: Option<Interval>,
    done: bool,
}

impl MemoryWatch {
    pub(super) fn new(
        shared: Weak<Shared>,
        id: u64,
        after: Revision,
        replay: Vec<Arc<Event>>,
        capacity: usize,
        period: Duration,
    ) -> Self {
        Self { shared, id, after, buf: replay.into(), too_slow: false, capacity, period, ticker: None, done: false }
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
        self.done = true;
        self.ticker = None;
        self.buf = VecDeque::new();
        if let Some(shared) = self.shared.upgrade() {
            shared.lock().unregister_watch(self.id);
        }
    }
}

impl Stream for MemoryWatch {
    type Item = Result<WatchItem>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        // Batches are yielded without locking: take part in tokio's
        // cooperative budget so that a long batch lets other tasks (writers)
        // run. Outside a tokio runtime this always proceeds.
        let budget = std::task::ready!(coop::poll_proceed(cx));
        loop {
            while let Some(event) = this.buf.pop_front() {
                if event.revision() > this.after {
                    budget.made_progress();
                    return Poll::Ready(Some(Ok(WatchItem::Event(Arc::unwrap_or_clone(event)))));
                }
            }
            if this.too_slow {
                this.end();
                return Poll::Ready(Some(Err(StoreError::WatcherTooSlow { capacity: this.capacity })));
            }
            let Some(shared) = this.shared.upgrade() else {
                // The backend is gone.
                this.end();
                return Poll::Ready(None);
            };
            let fill = shared.lock().fill(this.id, &mut this.buf, cx.waker());
            drop(shared);
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
                Fill::Idle(revision) => revision,
            };
            // Idle: every change up to `revision` has been delivered and the
            // next write wakes us. Report progress on ticks.
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

impl Drop for MemoryWatch {
    fn drop(&mut self) {
        if !self.done
            && let Some(shared) = self.shared.upgrade()
        {
            shared.lock().unregister_watch(self.id);
        }
    }
}

impl fmt::Debug for MemoryWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryWatch")
            .field("id", &self.id)
            .field("after", &self.after)
            .field("buffered", &self.buf.len())
            .field("capacity", &self.capacity)
            .field("period", &self.period)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
