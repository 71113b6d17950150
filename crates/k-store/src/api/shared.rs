//! Watch events shared among watchers: each event's object is decoded once,
//! and its JSON watch frame encoded once, however many watchers receive it.

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use k_api_types::DynamicObject;
use k_api_types::meta::WatchEvent;

use crate::backend::Event;
use crate::error::Result;

/// A watch stream of [`SharedEvent`]s. An `Err` item ends it.
pub type SharedWatchStream = BoxStream<'static, Result<SharedEvent>>;

/// A watch event whose object is shared (behind an `Arc`) with every other
/// watcher of the same change, as is its encoded JSON frame.
#[derive(Clone, Debug)]
pub struct SharedEvent {
    /// The event, with its object shared.
    pub event: WatchEvent<Arc<DynamicObject>>,
    /// The stored change it comes from, whose cache keeps the frames.
    source: Option<Arc<Event>>,
}

impl SharedEvent {
    /// An event of its own (nothing to share its frame with).
    pub fn new(event: WatchEvent<Arc<DynamicObject>>) -> Self {
        SharedEvent { event, source: None }
    }

    /// An event derived from a stored change: its frames are cached on it.
    pub fn from_change(event: WatchEvent<Arc<DynamicObject>>, change: Arc<Event>) -> Self {
        SharedEvent { event, source: Some(change) }
    }

    /// The event with an object of its own (a clone of the shared one).
    pub fn to_owned_event(&self) -> WatchEvent<DynamicObject> {
        match &self.event {
            WatchEvent::Added(o) => WatchEvent::Added((**o).clone()),
            WatchEvent::Modified(o) => WatchEvent::Modified((**o).clone()),
            WatchEvent::Deleted(o) => WatchEvent::Deleted((**o).clone()),
            WatchEvent::Bookmark(o) => WatchEvent::Bookmark((**o).clone()),
            WatchEvent::Error(s) => WatchEvent::Error(s.clone()),
        }
    }

    /// The event's newline-terminated JSON frame, `{"type":"MODIFIED","object":{…}}`,
    /// as a watch response sends it. Encoded once per change and type, and
    /// shared by every watcher of it.
    pub fn frame(&self) -> Bytes {
        let slot = match &self.event {
            WatchEvent::Added(_) => Some(0),
            WatchEvent::Modified(_) => Some(1),
            WatchEvent::Deleted(_) => Some(2),
            WatchEvent::Bookmark(_) | WatchEvent::Error(_) => None,
        };
        match (&self.source, slot) {
            (Some(change), Some(i)) => change.cache.frames[i].get_or_init(|| encode(&self.event)).clone(),
            _ => encode(&self.event),
        }
    }

    /// The event with its object as JSON: a slice of the shared frame (see
    /// [`frame`](Self::frame)), so nothing is encoded twice.
    pub fn raw(&self) -> WatchEvent<Bytes> {
        let wrap: fn(Bytes) -> WatchEvent<Bytes> = match &self.event {
            WatchEvent::Added(_) => WatchEvent::Added,
            WatchEvent::Modified(_) => WatchEvent::Modified,
            WatchEvent::Deleted(_) => WatchEvent::Deleted,
            WatchEvent::Bookmark(_) => WatchEvent::Bookmark,
            WatchEvent::Error(status) => return WatchEvent::Error(status.clone()),
        };
        let frame = self.frame();
        let type_name = self.event.type_name().as_bytes();
        let start = FRAME_HEAD.len() + type_name.len() + FRAME_OBJECT.len();
        if frame.get(FRAME_HEAD.len()..FRAME_HEAD.len() + type_name.len()) == Some(type_name)
            && start + 2 <= frame.len()
        {
            // Between the head and the closing `}\n`.
            return wrap(frame.slice(start..frame.len() - 2));
        }
        // Encoding the object failed: the frame is an ERROR frame saying why.
        match serde_json::from_slice::<WatchEvent<DynamicObject>>(&frame) {
            Ok(WatchEvent::Error(status)) => WatchEvent::Error(status),
            _ => WatchEvent::Error(k_api_types::meta::Status::failure(500, "InternalError", "undecodable watch frame")),
        }
    }
}

/// A frame starts `{"type":"<TYPE>","object":` and ends `}\n`.
const FRAME_HEAD: &[u8] = b"{\"type\":\"";
const FRAME_OBJECT: &[u8] = b"\",\"object\":";

/// Encodes a watch frame (the same bytes as serializing a `WatchEvent`).
fn encode(event: &WatchEvent<Arc<DynamicObject>>) -> Bytes {
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(FRAME_HEAD);
    out.extend_from_slice(event.type_name().as_bytes());
    out.extend_from_slice(FRAME_OBJECT);
    let written = match event {
        WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) | WatchEvent::Bookmark(o) => {
            serde_json::to_writer(&mut out, &**o)
        }
        WatchEvent::Error(s) => serde_json::to_writer(&mut out, s),
    };
    if let Err(e) = written {
        let status = k_api_types::meta::Status::failure(500, "InternalError", format!("encoding the event: {e}"));
        let mut frame = serde_json::to_vec(&WatchEvent::<DynamicObject>::Error(status)).unwrap_or_default();
        frame.push(b'\n');
        return Bytes::from(frame);
    }
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_serialized_watch_events() {
        let mut object = DynamicObject { api_version: "v1".into(), kind: "ConfigMap".into(), ..Default::default() };
        object.metadata.name = "a".into();
        object.data.insert("data".into(), serde_json::json!({"k": "v"}));
        let shared = SharedEvent::new(WatchEvent::Modified(Arc::new(object.clone())));
        let mut expected = serde_json::to_vec(&WatchEvent::Modified(object)).unwrap();
        expected.push(b'\n');
        assert_eq!(shared.frame(), Bytes::from(expected));
    }

    #[test]
    fn raw_objects_are_slices_of_the_frame() {
        let mut object = DynamicObject { api_version: "v1".into(), kind: "ConfigMap".into(), ..Default::default() };
        object.metadata.name = "a".into();
        for event in [WatchEvent::Added(Arc::new(object.clone())), WatchEvent::Bookmark(Arc::new(object.clone()))] {
            let shared = SharedEvent::new(event);
            let raw = shared.raw();
            let bytes = raw.object().unwrap();
            assert_eq!(serde_json::from_slice::<DynamicObject>(bytes).unwrap(), object);
            assert_eq!(raw.type_name(), shared.event.type_name());
        }
    }

    #[test]
    fn a_changes_frame_is_encoded_once() {
        let change = Arc::new(Event::new(
            crate::backend::EventKind::Put,
            crate::backend::KeyValue { key: "/k".into(), value: Bytes::new(), create_revision: 1, mod_revision: 1 },
            None,
        ));
        let object = Arc::new(DynamicObject::default());
        let a = SharedEvent::from_change(WatchEvent::Added(object.clone()), change.clone());
        let b = SharedEvent::from_change(WatchEvent::Added(object), change);
        let (fa, fb) = (a.frame(), b.frame());
        assert_eq!(fa.as_ptr(), fb.as_ptr(), "the second watcher gets the first one's bytes");
    }
}
