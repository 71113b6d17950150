//! Helpers of the conformance suite (public, for backend-specific tests).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;

use crate::backend::{Backend, Event, KeyValue, Revision, WatchItem, WatchStream};
use crate::error::{Result, StoreError};

/// How long the suite waits for any single expected watch item.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

/// Tuning of the conformance suite for one backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Writes made while a watcher never reads, in [`slow_watcher_is_ended`]:
    /// must exceed the backend's watch queue capacity (default 25 000, above
    /// the memory backend's default of 10 000).
    ///
    /// [`slow_watcher_is_ended`]: crate::testing::slow_watcher_is_ended
    pub slow_watcher_writes: usize,
    /// How long [`watch_progress_when_idle`] waits for each progress
    /// notification (default 10 s).
    ///
    /// [`watch_progress_when_idle`]: crate::testing::watch_progress_when_idle
    pub progress_timeout: Duration,
    /// How many seeded random sequences [`model_random_sequences`] checks
    /// (default 8).
    ///
    /// [`model_random_sequences`]: crate::testing::model_random_sequences
    pub model_sequences: usize,
    /// Operations per sequence in [`model_random_sequences`] (default 40).
    ///
    /// [`model_random_sequences`]: crate::testing::model_random_sequences
    pub model_ops: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self { slow_watcher_writes: 25_000, progress_timeout: TIMEOUT, model_sequences: 8, model_ops: 40 }
    }
}

/// What a conformance factory may return: anything that becomes an
/// `Arc<dyn Backend>`.
pub trait IntoSharedBackend {
    /// The backend, shared.
    fn into_shared(self) -> Arc<dyn Backend>;
}

impl IntoSharedBackend for Arc<dyn Backend> {
    fn into_shared(self) -> Arc<dyn Backend> {
        self
    }
}

impl IntoSharedBackend for Box<dyn Backend> {
    fn into_shared(self) -> Arc<dyn Backend> {
        Arc::from(self)
    }
}

impl<B: Backend> IntoSharedBackend for Arc<B> {
    fn into_shared(self) -> Arc<dyn Backend> {
        self
    }
}

impl<B: Backend> IntoSharedBackend for B {
    fn into_shared(self) -> Arc<dyn Backend> {
        Arc::new(self)
    }
}

/// A value from a string.
pub fn value(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// A key-value, to write expected values out.
pub fn kv(key: &str, val: &str, create_revision: Revision, mod_revision: Revision) -> KeyValue {
    KeyValue { key: key.to_owned(), value: value(val), create_revision, mod_revision }
}

/// The next item of a watch stream (None if it ended).
///
/// # Panics
///
/// If nothing arrives within 10 s.
pub async fn next_item(stream: &mut WatchStream) -> Option<Result<WatchItem>> {
    match tokio::time::timeout(TIMEOUT, stream.next()).await {
        Ok(item) => item,
        Err(_) => panic!("no watch item within {TIMEOUT:?}"),
    }
}

/// The next event of a watch stream, skipping progress notifications.
///
/// # Panics
///
/// If the stream fails, ends, or yields no event within 10 s.
pub async fn next_event(stream: &mut WatchStream) -> Event {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => panic!("no watch event within {TIMEOUT:?}"),
            Ok(None) => panic!("the watch stream ended while an event was expected"),
            Ok(Some(Err(e))) => panic!("the watch stream failed while an event was expected: {e:?}"),
            Ok(Some(Ok(WatchItem::Progress(_)))) => continue,
            Ok(Some(Ok(WatchItem::Event(event)))) => return std::sync::Arc::unwrap_or_clone(event),
        }
    }
}

/// The first progress notification of at least `min`, skipping smaller ones.
///
/// # Panics
///
/// If the stream fails, ends, yields an event, or yields no such
/// notification within `timeout`.
pub async fn next_progress(stream: &mut WatchStream, min: Revision, timeout: Duration) -> Revision {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => panic!("no progress notification of revision >= {min} within {timeout:?}"),
            Ok(None) => panic!("the watch stream ended while progress was expected"),
            Ok(Some(Err(e))) => panic!("the watch stream failed while progress was expected: {e:?}"),
            Ok(Some(Ok(WatchItem::Event(event)))) => {
                panic!("unexpected event while idle (nothing under the prefix changed): {event:?}")
            }
            Ok(Some(Ok(WatchItem::Progress(revision)))) if revision >= min => return revision,
            Ok(Some(Ok(WatchItem::Progress(_)))) => continue,
        }
    }
}

/// The error a watch fails with, either at once (from
/// [`Backend::watch`]) or as the first item of its stream (backends that
/// learn about compaction asynchronously, such as etcd).
///
/// # Panics
///
/// If the watch yields an event, ends, or does not fail within 10 s.
pub async fn expect_watch_error(watch: Result<WatchStream>) -> StoreError {
    let mut stream = match watch {
        Err(e) => return e,
        Ok(stream) => stream,
    };
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => panic!("the watch did not fail within {TIMEOUT:?}"),
            Ok(None) => panic!("the watch ended without an error"),
            Ok(Some(Err(e))) => return e,
            Ok(Some(Ok(WatchItem::Progress(_)))) => continue,
            Ok(Some(Ok(WatchItem::Event(event)))) => panic!("the watch yielded {event:?} instead of failing"),
        }
    }
}
