//! The memory backend's watch stream.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::sync::mpsc;
use tokio::time::{Interval, MissedTickBehavior};

use super::Shared;
use crate::backend::{Event, Revision, WatchItem};
use crate::error::{Result, StoreError};

/// What a writer puts into a watcher's queue.
pub(super) enum Msg {
    /// A change under the watcher's prefix.
    Event(Arc<Event>),
    /// The queue was full: the watcher is cut off (always the last message).
    TooSlow,
}

/// A watch of the memory backend: replays the history snapshot taken at
/// registration, then the live queue, with progress ticks when idle.
pub(super) struct MemoryWatch {
    /// Weak, so that a forgotten stream does not keep the backend alive.
    shared: Weak<Shared>,
    after: Revision,
    replay: std::vec::IntoIter<Arc<Event>>,
    rx: mpsc::Receiver<Msg>,
    capacity: usize,
    period: Duration,
    /// Created at the first idle poll inside a tokio runtime.
    ticker: Option<Interval>,
    done: bool,
}

impl MemoryWatch {
    pub(super) fn new(
        shared: Weak<Shared>,
        after: Revision,
        replay: Vec<Arc<Event>>,
        rx: mpsc::Receiver<Msg>,
        capacity: usize,
        period: Duration,
    ) -> Self {
        Self { shared, after, replay: replay.into_iter(), rx, capacity, period, ticker: None, done: false }
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
        self.replay = Vec::new().into_iter();
    }
}

fn event_item(event: Arc<Event>) -> Poll<Option<Result<WatchItem>>> {
    Poll::Ready(Some(Ok(WatchItem::Event(Arc::unwrap_or_clone(event)))))
}

impl Stream for MemoryWatch {
    type Item = Result<WatchItem>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(event) = this.replay.next() {
            return event_item(event);
        }
        loop {
            match this.rx.poll_recv(cx) {
                Poll::Ready(Some(Msg::Event(event))) => {
                    if event.revision() > this.after {
                        return event_item(event);
                    }
                    continue;
                }
                Poll::Ready(Some(Msg::TooSlow)) => {
                    this.end();
                    return Poll::Ready(Some(Err(StoreError::WatcherTooSlow { capacity: this.capacity })));
                }
                Poll::Ready(None) => {
                    // The backend is gone.
                    this.end();
                    return Poll::Ready(None);
                }
                Poll::Pending => {}
            }
            // Idle: the queue is empty and will wake us. Report progress on ticks.
            let Some(ticker) = this.ticker() else { return Poll::Pending };
            if ticker.poll_tick(cx).is_pending() {
                return Poll::Pending;
            }
            let Some(shared) = this.shared.upgrade() else {
                this.end();
                return Poll::Ready(None);
            };
            let revision = {
                // Writers push under this lock: with it held, an empty queue
                // means every change up to `revision` has been delivered.
                let state = shared.lock();
                if !this.rx.is_empty() {
                    continue;
                }
                state.revision()
            };
            if revision >= this.after {
                return Poll::Ready(Some(Ok(WatchItem::Progress(revision))));
            }
            // Watching from a future revision not reached yet: nothing to
            // report; loop to poll the ticker again so that it wakes us.
        }
    }
}

impl fmt::Debug for MemoryWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryWatch")
            .field("after", &self.after)
            .field("replay_remaining", &self.replay.len())
            .field("capacity", &self.capacity)
            .field("period", &self.period)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
