//! One etcd watch shared by every watcher of the backend.
//!
//! A [`SharedWatch`] is fed by one etcd watch over the backend's shared
//! prefix (see [`EtcdOptions::shared_watch_prefix`](super::EtcdOptions)),
//! and fans its changes out to any number of watchers through the same
//! [`Fanout`] the embedded backends use: each change is received, decoded
//! and stored once, whatever the number of watchers, as kube-apiserver's
//! watch cache does.
//!
//! It keeps the last [`EtcdOptions::watch_cache_size`](super::EtcdOptions)
//! changes, so that a watcher resuming from a recent revision joins it too.
//! A watcher from a revision older than that history gets its own etcd watch.
//!
//! It starts with its first watcher, at that watcher's revision, and stops
//! when its last watcher goes: the fan-out is closed under its lock, so a
//! new watcher either joins before the close or starts a new shared watch.
//! If the etcd watch fails (a compaction overtook it, or it could not be
//! re-opened), every watcher ends with the error.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use crate::backend::fanout::{Fanout, FanoutHost};
use crate::backend::{Event, Revision};
use crate::error::StoreError;

/// What the shared watch, its task and its watch streams share.
pub(super) struct SharedWatch {
    state: Mutex<State>,
    /// Signalled when the last watcher goes (the task then ends).
    stop: Notify,
    history_limit: usize,
}

struct State {
    fanout: Fanout,
    /// The last changes received, oldest first: every change under the
    /// shared prefix with a revision in `history_base + 1 ..= published`.
    history: VecDeque<Arc<Event>>,
    history_base: Revision,
}

/// The answer to a watcher asking to join.
pub(super) enum Join {
    /// Registered under this id; the changes after the watcher's revision
    /// that were already received come first.
    Joined(u64, Vec<Arc<Event>>),
    /// The watcher's revision is older than the history kept.
    TooOld,
    /// The shared watch has stopped; start another.
    Closed,
}

impl SharedWatch {
    /// A shared watch whose history starts after `after` (its etcd watch
    /// starts at `after + 1`).
    pub(super) fn new(after: Revision, capacity: usize, history_limit: usize) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                fanout: Fanout::new(after, capacity),
                history: VecDeque::new(),
                history_base: after,
            }),
            stop: Notify::new(),
            history_limit,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every mutation below completes without panicking points that
        // leave the state inconsistent, so a poisoned lock is used as is.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a watcher of `prefix` that wants the changes after `after`.
    pub(super) fn join(&self, prefix: &str, after: Revision) -> Join {
        let mut state = self.lock();
        if state.fanout.is_closed() {
            return Join::Closed;
        }
        if after < state.history_base {
            return Join::TooOld;
        }
        let replay: Vec<Arc<Event>> =
            state.history.iter().filter(|e| e.revision() > after && e.kv.key.starts_with(prefix)).cloned().collect();
        match state.fanout.register(prefix) {
            Some((id, _)) => Join::Joined(id, replay),
            None => Join::Closed,
        }
    }

    /// Publishes changes received from etcd, in revision order.
    pub(super) fn publish(&self, events: Vec<Arc<Event>>) {
        let waiters = {
            let mut state = self.lock();
            for event in events {
                if event.revision() <= state.fanout.published() {
                    continue;
                }
                state.fanout.publish(Arc::clone(&event));
                state.history.push_back(event);
            }
            while state.history.len() > self.history_limit {
                if let Some(oldest) = state.history.pop_front() {
                    state.history_base = oldest.revision();
                }
            }
            state.fanout.take_waiters()
        };
        for waker in waiters {
            waker.wake();
        }
    }

    /// Records that every change up to `revision` was received.
    pub(super) fn progress(&self, revision: Revision) {
        self.lock().fanout.advance(revision);
    }

    /// Ends every watcher with `error`.
    pub(super) fn fail(&self, error: StoreError) {
        let waiters = self.lock().fanout.fail(error);
        for waker in waiters {
            waker.wake();
        }
    }

    /// Resolves once the last watcher has gone.
    pub(super) async fn stopped(&self) {
        self.stop.notified().await;
    }

    /// How many watchers are registered.
    pub(super) fn watcher_count(&self) -> usize {
        self.lock().fanout.len()
    }
}

impl FanoutHost for SharedWatch {
    fn with_fanout<R>(&self, f: impl FnOnce(&mut Fanout) -> R) -> R {
        let mut state = self.lock();
        let result = f(&mut state.fanout);
        if state.fanout.len() == 0 && !state.fanout.is_closed() {
            // The last watcher went: stop, and free the history.
            let waiters = state.fanout.close();
            state.history = VecDeque::new();
            drop(state);
            for waker in waiters {
                waker.wake();
            }
            self.stop.notify_one();
        }
        result
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

    /// A late watcher gets the kept history after its revision under its
    /// prefix; one older than the history is refused; the last watcher
    /// leaving closes the shared watch.
    #[test]
    fn join_replays_history_and_closes_when_empty() {
        let shared = SharedWatch::new(10, 100, 3);
        let Join::Joined(first, replay) = shared.join("/a/", 10) else { panic!("first join") };
        assert!(replay.is_empty());
        shared.publish(vec![event("/a/1", 11), event("/b/1", 12), event("/a/2", 13), event("/a/3", 14)]);
        // History keeps 3 changes: 12, 13, 14 (base 11).
        assert!(matches!(shared.join("/a/", 10), Join::TooOld));
        let Join::Joined(second, replay) = shared.join("/a/", 11) else { panic!("second join") };
        assert_eq!(replay.iter().map(|e| e.revision()).collect::<Vec<_>>(), [13, 14]);
        assert_eq!(shared.watcher_count(), 2);
        shared.with_fanout(|f| f.unregister(first));
        assert!(matches!(shared.join("/b/", 14), Join::Joined(..)));
        shared.with_fanout(|f| f.unregister(second));
        assert_eq!(shared.watcher_count(), 1);
    }

    #[test]
    fn last_watcher_leaving_closes() {
        let shared = SharedWatch::new(0, 100, 10);
        let Join::Joined(id, _) = shared.join("/", 0) else { panic!("join") };
        shared.with_fanout(|f| f.unregister(id));
        assert!(matches!(shared.join("/", 0), Join::Closed));
    }
}
