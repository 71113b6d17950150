//! The byte-level storage contract every backend implements.
//!
//! The contract is etcd's, reduced to what a Kubernetes registry needs: one
//! revision counter per store, key-values with create and modification
//! revisions, compare-and-swap writes, consistent ranges at a revision,
//! watches from a revision, and compaction. See `docs/store/design.md`.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures::Stream;

use crate::error::Result;

pub mod durable;
#[cfg(feature = "etcd")]
pub mod etcd;
mod fanout;
pub mod memory;

/// A store revision (etcd's `mod_revision`, Kubernetes' `resourceVersion`).
/// Revision 0 means "none"; the first write gets revision 1.
pub type Revision = i64;

/// A stored value with its revisions.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key, such as `/registry/pods/default/web`.
    pub key: String,
    /// The value (JSON of the object, without resourceVersion).
    pub value: Bytes,
    /// Revision at which the key was created.
    pub create_revision: Revision,
    /// Revision of the last change.
    pub mod_revision: Revision,
}

impl fmt::Debug for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyValue")
            .field("key", &self.key)
            .field("value", &format_args!("{} bytes", self.value.len()))
            .field("create_revision", &self.create_revision)
            .field("mod_revision", &self.mod_revision)
            .finish()
    }
}

/// One page of a range read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangePage {
    /// The key-values, in key order.
    pub kvs: Vec<KeyValue>,
    /// The revision the page was read at.
    pub revision: Revision,
    /// Whether keys remain after the last one returned.
    pub more: bool,
}

/// What happened to a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// Created or updated.
    Put,
    /// Deleted.
    Delete,
}

/// A change seen by a watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Put or delete.
    pub kind: EventKind,
    /// For a put, the new key-value; for a delete, the last value with
    /// `mod_revision` set to the deletion's revision.
    pub kv: KeyValue,
    /// The previous value, when there was one.
    pub prev: Option<KeyValue>,
    /// What the layers above derive from the event once for all of its
    /// watchers (the decoded object, its watch frames).
    pub cache: EventCache,
}

/// Forms of an [`Event`] derived once and shared by every watcher that
/// receives the event (they all hold the same `Arc<Event>`): the object
/// decoded, and its JSON watch frames. Empty when the event is made;
/// filled by the first watcher that needs each form.
#[derive(Default)]
pub struct EventCache {
    /// The object of `kv`, decoded (with its apiVersion and kind filled).
    pub object: std::sync::OnceLock<Arc<k_api_types::DynamicObject>>,
    /// Newline-terminated JSON watch frames of the object, by event type:
    /// ADDED, MODIFIED, DELETED.
    pub frames: [std::sync::OnceLock<Bytes>; 3],
}

impl Clone for EventCache {
    /// A copy of an event starts with an empty cache.
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for EventCache {
    /// Caches hold derived forms only: they never make events differ.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for EventCache {}

impl fmt::Debug for EventCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventCache").field("decoded", &self.object.get().is_some()).finish_non_exhaustive()
    }
}

impl Event {
    /// A change with an empty cache.
    pub fn new(kind: EventKind, kv: KeyValue, prev: Option<KeyValue>) -> Self {
        Event { kind, kv, prev, cache: EventCache::default() }
    }

    /// The revision of the change.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// An item of a watch stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchItem {
    /// A change, shared by every watcher that receives it.
    Event(Arc<Event>),
    /// Progress notification: every change up to this revision has been sent.
    Progress(Revision),
}

/// A watch stream. It ends with an error item when the watcher is cut off
/// (`WatcherTooSlow`) or the history it needs is compacted (`Expired`).
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchItem>> + Send>>;

/// The storage contract: a revisioned key-value store with watch.
///
/// Implementations must be cheap to share (`Arc<dyn Backend>`), linearizable
/// for writes, and must never block writers on slow watchers.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + fmt::Debug + 'static {
    /// The latest revision.
    async fn revision(&self) -> Result<Revision>;

    /// The oldest revision whose history is still available (0 if nothing was compacted).
    async fn compacted_revision(&self) -> Result<Revision>;

    /// Reads a key at the latest revision, or at `at` (Expired if compacted,
    /// TooLargeResourceVersion if in the future).
    async fn get(&self, key: &str, at: Option<Revision>) -> Result<Option<KeyValue>>;

    /// Reads keys that start with `prefix`, in key order, strictly after
    /// `start_after`, at most `limit` (0 = no limit), at the latest revision or at `at`.
    async fn range(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        at: Option<Revision>,
    ) -> Result<RangePage>;

    /// Creates a key; AlreadyExists if present. Returns the new revision.
    async fn create(&self, key: &str, value: Bytes) -> Result<Revision>;

    /// Replaces a key's value if its `mod_revision` is `expected`; Conflict
    /// otherwise, NotFound if the key is absent. Returns the new revision.
    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<Revision>;

    /// Deletes a key, if `expected` is given only when its `mod_revision`
    /// matches. Returns the deletion's revision and the deleted value.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(Revision, KeyValue)>;

    /// Watches keys under `prefix`: every change with revision greater than
    /// `after`, in order, then live changes; progress notifications at least
    /// every `progress_interval` of the backend (and whenever idle).
    /// Expired if `after` is older than the compacted revision.
    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream>;

    /// Forgets the history at and before `revision` (the current values stay).
    async fn compact(&self, revision: Revision) -> Result<()>;
}
