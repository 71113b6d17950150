//! Watch events as they travel on the wire.

use serde::{Deserialize, Serialize};

use super::Status;

/// One frame of a watch stream: `{"type": "ADDED", "object": {...}}`.
///
/// `T` is the object type; an `ERROR` frame always carries a [`Status`]
/// (for example code 410 reason `Expired` when the watch's revision has been
/// compacted).
// Objects are usually larger than a Status and error frames are rare, so
// neither variant is boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "object")]
pub enum WatchEvent<T> {
    /// The object was created (or is part of the initial state).
    #[serde(rename = "ADDED")]
    Added(T),
    /// The object was changed.
    #[serde(rename = "MODIFIED")]
    Modified(T),
    /// The object was deleted; this is its last state.
    #[serde(rename = "DELETED")]
    Deleted(T),
    /// Progress notification: only `metadata.resourceVersion` is meaningful.
    #[serde(rename = "BOOKMARK")]
    Bookmark(T),
    /// The watch failed; the stream ends.
    #[serde(rename = "ERROR")]
    Error(Status),
}

impl<T> WatchEvent<T> {
    /// The wire name of the event type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Added(_) => "ADDED",
            Self::Modified(_) => "MODIFIED",
            Self::Deleted(_) => "DELETED",
            Self::Bookmark(_) => "BOOKMARK",
            Self::Error(_) => "ERROR",
        }
    }

    /// The object of a non-error event.
    pub fn object(&self) -> Option<&T> {
        match self {
            Self::Added(o) | Self::Modified(o) | Self::Deleted(o) | Self::Bookmark(o) => Some(o),
            Self::Error(_) => None,
        }
    }
}
