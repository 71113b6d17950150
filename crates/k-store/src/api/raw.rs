//! Objects as their JSON encodings, for callers that decode them into their
//! own types (such as a typed informer), skipping [`DynamicObject`].
//!
//! [`ObjectApi::list_raw`](super::ObjectApi::list_raw) and
//! [`ObjectApi::watch_raw`](super::ObjectApi::watch_raw) have default
//! implementations over the dynamic methods; the remote client answers them
//! from the response bytes without decoding the objects at all.

use bytes::Bytes;
use futures::stream::BoxStream;
use k_api_types::meta::WatchEvent;
use serde::Deserialize;

use crate::error::{Result, StoreError};

/// One page of a list, each object as its JSON encoding.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawPage {
    /// The objects' JSON, each with its resourceVersion.
    pub items: Vec<Bytes>,
    /// The revision the list was read at.
    pub resource_version: String,
    /// Token for the next page; empty on the last page.
    pub continue_token: String,
}

/// A watch stream whose objects are their JSON encodings (bookmarks too).
/// An `Err` item ends it, as for the dynamic stream.
pub type RawWatchStream = BoxStream<'static, Result<WatchEvent<Bytes>>>;

/// The part of an object's metadata a watcher of raw objects needs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct RawMeta {
    /// `metadata.resourceVersion`.
    #[serde(default)]
    pub resource_version: String,
    /// Whether the object is the bookmark that ends a streamed initial list
    /// (annotation `k8s.io/initial-events-end: "true"`).
    #[serde(default)]
    pub initial_events_end: bool,
}

impl RawMeta {
    /// Reads the resourceVersion and the end-of-initial-events annotation of
    /// an object's JSON, without decoding the rest of it.
    pub fn of(json: &[u8]) -> Result<RawMeta> {
        #[derive(Deserialize)]
        struct Object {
            #[serde(default)]
            metadata: Meta,
        }
        #[derive(Deserialize, Default)]
        #[serde(rename_all = "camelCase")]
        struct Meta {
            #[serde(default)]
            resource_version: String,
            #[serde(default)]
            annotations: Annotations,
        }
        #[derive(Deserialize, Default)]
        struct Annotations {
            #[serde(default, rename = "k8s.io/initial-events-end")]
            initial_events_end: Option<String>,
        }
        let object: Object = serde_json::from_slice(json)
            .map_err(|e| StoreError::Internal(format!("an object's metadata does not decode: {e}")))?;
        Ok(RawMeta {
            resource_version: object.metadata.resource_version,
            initial_events_end: object.metadata.annotations.initial_events_end.as_deref() == Some("true"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_of_an_object_and_a_bookmark() {
        let pod = br#"{"kind":"Pod","metadata":{"name":"a","resourceVersion":"42","labels":{"x":"y"}},"spec":{}}"#;
        assert_eq!(RawMeta::of(pod).unwrap(), RawMeta { resource_version: "42".into(), initial_events_end: false });
        let end = br#"{"metadata":{"resourceVersion":"7","annotations":{"k8s.io/initial-events-end":"true"}}}"#;
        assert_eq!(RawMeta::of(end).unwrap(), RawMeta { resource_version: "7".into(), initial_events_end: true });
        assert!(RawMeta::of(b"[1]").is_err());
    }
}
