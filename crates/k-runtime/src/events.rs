//! An event recorder: core/v1 Events about objects, as `kubectl describe`
//! shows them, aggregated and rate-limited as client-go's recorder does.
//!
//! - The same event (object, type, reason, message) again is not a new
//!   Event: the existing one's `count` and `lastTimestamp` go up.
//! - Each object gets a token bucket (burst 25, then one every 5 minutes):
//!   a controller stuck in a loop cannot flood the store. Dropped events
//!   are counted ([`Recorder::dropped`]).

use std::num::NonZeroUsize;

use lru::LruCache;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use k_api_types::Resource;
use k_api_types::core::v1::{Event, EventSource, ObjectReference};
use k_api_types::meta::Time;
use k_store::{Api, ObjectApi, StoreError};

use crate::clock::{Clock, SystemClock};
use crate::queue::TokenBucket;

/// `Normal` or `Warning`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// Something worth knowing.
    Normal,
    /// Something that may need attention.
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// A reference to `object` for the events about it.
pub fn reference_to<K: Resource>(object: &K) -> ObjectReference {
    let meta = object.metadata();
    ObjectReference {
        kind: K::INFO.kind.to_owned(),
        namespace: meta.namespace.clone(),
        name: meta.name.clone(),
        uid: meta.uid.clone(),
        api_version: K::INFO.api_version.to_owned(),
        resource_version: meta.resource_version.clone(),
        ..Default::default()
    }
}

/// How many events and objects a [`Recorder`] remembers (for aggregation and
/// its spam filter), as client-go's recorder: a long-running component that
/// reports on ever new objects keeps a bounded memory.
pub const CACHE_ENTRIES: NonZeroUsize = NonZeroUsize::new(4096).expect("non-zero");

/// Records Events on behalf of one component (a controller, a node agent).
pub struct Recorder {
    api: Arc<dyn ObjectApi>,
    component: String,
    host: String,
    clock: Arc<dyn Clock>,
    /// Event already written, by (object uid, kind, name, type, reason,
    /// message): its name, namespace and count.
    /// At most [`CACHE_ENTRIES`], the least recently used forgotten first.
    written: Mutex<LruCache<String, (String, String, i32)>>,
    /// A spam filter per object.
    buckets: Mutex<LruCache<String, Arc<TokenBucket>>>,
    dropped: AtomicU64,
    sequence: AtomicU64,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("component", &self.component).finish_non_exhaustive()
    }
}

impl Recorder {
    /// A recorder for `component` (such as `deployment-controller`) on
    /// `host` (may be empty).
    pub fn new(api: Arc<dyn ObjectApi>, component: impl Into<String>, host: impl Into<String>) -> Self {
        Self::with_clock(api, component, host, Arc::new(SystemClock))
    }

    /// A recorder on the given clock (for the spam filter and timestamps).
    pub fn with_clock(
        api: Arc<dyn ObjectApi>,
        component: impl Into<String>,
        host: impl Into<String>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Recorder {
            api,
            component: component.into(),
            host: host.into(),
            clock,
            written: Mutex::new(LruCache::new(CACHE_ENTRIES)),
            buckets: Mutex::new(LruCache::new(CACHE_ENTRIES)),
            dropped: AtomicU64::new(0),
            sequence: AtomicU64::new(0),
        }
    }

    /// How many events the spam filter dropped.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Records an event about `regarding`.
    ///
    /// # Errors
    /// The store's error if the Event could not be written.
    pub async fn publish(
        &self,
        regarding: &ObjectReference,
        type_: EventType,
        reason: &str,
        message: &str,
    ) -> Result<(), StoreError> {
        let object_key = format!("{}/{}/{}/{}", regarding.kind, regarding.namespace, regarding.name, regarding.uid);
        let bucket = {
            let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
            buckets
                .get_or_insert(object_key.clone(), || Arc::new(TokenBucket::new(1.0 / 300.0, 25, self.clock.clone())))
                .clone()
        };
        if !bucket.try_take() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let namespace = if regarding.namespace.is_empty() { "default".to_owned() } else { regarding.namespace.clone() };
        let events: Api<Event> = Api::with_client(self.api.clone(), Some(namespace.clone()));
        let key = format!("{object_key}/{}/{reason}/{message}", type_.as_str());
        let now = Time(self.clock.wall());
        let seen = self.written.lock().unwrap_or_else(PoisonError::into_inner).get(&key).cloned();
        if let Some((name, _, _)) = seen {
            let updated = events
                .guaranteed_update(&name, |e| {
                    e.count = Some(e.count.unwrap_or(1) + 1);
                    e.last_timestamp = Some(now);
                })
                .await;
            match updated {
                Ok(e) => {
                    let count = e.count.unwrap_or(1);
                    self.written.lock().unwrap_or_else(PoisonError::into_inner).put(key, (name, namespace, count));
                    return Ok(());
                }
                // Gone (expired or deleted): write a new one.
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        let mut event = Event::default();
        // Named like client-go's (object name, time in hex nanoseconds), plus
        // a per-recorder sequence so two events in one tick do not collide.
        let nanos = self.clock.wall().timestamp_nanos_opt().unwrap_or_default().unsigned_abs();
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        event.metadata.name = format!("{}.{:x}", regarding.name, nanos.wrapping_add(sequence));
        event.metadata.namespace = namespace.clone();
        event.involved_object = regarding.clone();
        event.reason = Some(reason.to_owned());
        event.message = Some(message.to_owned());
        event.type_ = Some(type_.as_str().to_owned());
        event.source = EventSource {
            component: Some(self.component.clone()),
            host: Some(self.host.clone()).filter(|h| !h.is_empty()),
        };
        event.first_timestamp = Some(now);
        event.last_timestamp = Some(now);
        event.count = Some(1);
        event.reporting_component = self.component.clone();
        event.reporting_instance = self.host.clone();
        let created = events.create(&event).await?;
        self.written.lock().unwrap_or_else(PoisonError::into_inner).put(key, (created.metadata.name, namespace, 1));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use k_api_types::core::v1::ConfigMap;
    use k_store::Store;

    use std::time::Duration;

    use super::*;
    use crate::clock::FakeClock;

    #[tokio::test]
    async fn repeats_aggregate_and_floods_are_cut() {
        let store = Store::in_memory();
        let cms: Api<ConfigMap> = Api::namespaced(store.clone(), "ns");
        let mut cm = ConfigMap::default();
        cm.metadata.name = "a".into();
        let cm = cms.create(&cm).await.unwrap();
        let clock = FakeClock::new();
        let recorder =
            Recorder::with_clock(Arc::new(store.clone()), "test-controller", "host-1", Arc::new(clock.clone()));
        let regarding = reference_to(&cm);
        for _ in 0..3 {
            recorder.publish(&regarding, EventType::Normal, "Synced", "all good").await.unwrap();
            clock.advance(Duration::from_secs(1));
        }
        recorder.publish(&regarding, EventType::Warning, "Failed", "something broke").await.unwrap();
        let events: Api<Event> = Api::namespaced(store.clone(), "ns");
        let mut listed = events.list(&Default::default()).await.unwrap().items;
        listed.sort_by_key(|e| e.reason.clone());
        assert_eq!(listed.len(), 2);
        let synced = &listed[1];
        assert_eq!((synced.reason.as_deref(), synced.count), (Some("Synced"), Some(3)));
        assert_eq!(synced.involved_object.uid, cm.metadata.uid);
        assert_eq!(synced.source.component.as_deref(), Some("test-controller"));
        assert!(synced.last_timestamp > synced.first_timestamp, "the repeats moved lastTimestamp");
        assert_eq!(listed[0].type_.as_deref(), Some("Warning"));

        // 4 events so far; 21 more distinct ones fit the burst of 25, the rest are dropped.
        for i in 0..30 {
            recorder.publish(&regarding, EventType::Normal, "Loop", &format!("iteration {i}")).await.unwrap();
        }
        assert_eq!(recorder.dropped(), 9);
        assert_eq!(events.list(&Default::default()).await.unwrap().items.len(), 2 + 21);
        // Five minutes later, one more token.
        clock.advance(Duration::from_secs(300));
        recorder.publish(&regarding, EventType::Normal, "Loop", "after a pause").await.unwrap();
        assert_eq!(recorder.dropped(), 9);
    }
}
