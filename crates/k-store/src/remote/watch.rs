//! Watch streams: newline-delimited JSON frames over a chunked body, decoded
//! into events; ERROR frames end the stream with the matching `StoreError`.
//! When the server ends the response (its watch timeout) or the connection
//! breaks, the watch is resumed from the last revision seen, when one is known.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use http::Response;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use k_api_types::meta::{Status, WatchEvent};
use k_api_types::{ApiResource, DynamicObject};

use super::RemoteApi;
use super::status::to_store_error;
use super::transport::chain;
use crate::api::{RawMeta, WatchOptions};
use crate::error::{Result, StoreError};
use crate::store::INITIAL_EVENTS_END;

/// Reconnection attempts after a connection failure, before the stream
/// ends with the error.
const RECONNECT_ATTEMPTS: u32 = 4;

/// What a watch stream yields objects as: decoded, or as their JSON.
pub(crate) trait FrameObject: Sized + Send + 'static {
    /// What is kept of the last object delivered, to resume after it: cheap
    /// to take, read only when the watch is resumed.
    type Mark: Send;
    /// Decodes one frame (a line) of the response.
    fn decode(line: Bytes, resource: &ApiResource) -> std::result::Result<WatchEvent<Self>, String>;
    /// The object's resourceVersion, and whether it ends a streamed initial list.
    fn meta(&self) -> (String, bool);
    /// A mark of the object.
    fn mark(&self) -> Self::Mark;
    /// The resourceVersion of a marked object.
    fn marked_revision(mark: &Self::Mark) -> String;
}

impl FrameObject for DynamicObject {
    type Mark = String;

    fn mark(&self) -> String {
        self.metadata.resource_version.clone()
    }

    fn marked_revision(mark: &String) -> String {
        mark.clone()
    }

    fn decode(line: Bytes, resource: &ApiResource) -> std::result::Result<WatchEvent<Self>, String> {
        let typed = |mut o: DynamicObject| {
            if o.api_version.is_empty() {
                o.api_version = resource.api_version();
            }
            if o.kind.is_empty() {
                o.kind = resource.kind.clone();
            }
            o
        };
        Ok(match serde_json::from_slice::<WatchEvent<DynamicObject>>(&line).map_err(|e| e.to_string())? {
            WatchEvent::Added(o) => WatchEvent::Added(typed(o)),
            WatchEvent::Modified(o) => WatchEvent::Modified(typed(o)),
            WatchEvent::Deleted(o) => WatchEvent::Deleted(typed(o)),
            WatchEvent::Bookmark(o) => WatchEvent::Bookmark(typed(o)),
            WatchEvent::Error(s) => WatchEvent::Error(s),
        })
    }

    fn meta(&self) -> (String, bool) {
        let end = self.metadata.annotations.get(INITIAL_EVENTS_END).is_some_and(|v| v == "true");
        (self.metadata.resource_version.clone(), end)
    }
}

/// A frame with its object left as JSON.
#[derive(serde::Deserialize)]
struct RawFrame<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(borrow)]
    object: &'a serde_json::value::RawValue,
}

impl FrameObject for Bytes {
    /// The object's JSON: its resourceVersion is read only on a resume.
    type Mark = Bytes;

    fn mark(&self) -> Bytes {
        self.clone()
    }

    fn marked_revision(mark: &Bytes) -> String {
        RawMeta::of(mark).map(|m| m.resource_version).unwrap_or_default()
    }

    fn decode(line: Bytes, _: &ApiResource) -> std::result::Result<WatchEvent<Self>, String> {
        let frame: RawFrame<'_> = serde_json::from_slice(&line).map_err(|e| e.to_string())?;
        let object = line.slice_ref(frame.object.get().as_bytes());
        Ok(match frame.kind {
            "ADDED" => WatchEvent::Added(object),
            "MODIFIED" => WatchEvent::Modified(object),
            "DELETED" => WatchEvent::Deleted(object),
            "BOOKMARK" => WatchEvent::Bookmark(object),
            "ERROR" => WatchEvent::Error(serde_json::from_slice::<Status>(&object).map_err(|e| e.to_string())?),
            other => return Err(format!("unknown event type {other:?}")),
        })
    }

    fn meta(&self) -> (String, bool) {
        RawMeta::of(self).map(|m| (m.resource_version, m.initial_events_end)).unwrap_or_default()
    }
}

struct Watch<O: FrameObject> {
    api: RemoteApi,
    resource: ApiResource,
    namespace: Option<String>,
    options: WatchOptions,
    body: Option<Incoming>,
    buf: Vec<u8>,
    ready: VecDeque<Result<WatchEvent<O>>>,
    /// The revision to resume from: set while the stream is past its initial
    /// state (a watch from a revision, or a streaming list after its end
    /// bookmark), advanced by every event.
    resume: Option<String>,
    /// The last object delivered after `resume` was set, whose revision
    /// supersedes it (read when the watch is resumed).
    last: Option<O::Mark>,
    /// Nothing delivered yet: the same request can simply be made again.
    fresh: bool,
    /// Consecutive failures (broken or at once ended responses, failed
    /// reconnections) since the last data.
    failures: u32,
    /// When the current response started.
    opened: Instant,
    done: bool,
}

/// A response that ends sooner than this without data counts as a failure.
const QUICK_END: Duration = Duration::from_millis(500);

fn backoff(failures: u32) -> Duration {
    Duration::from_millis(100 << failures.min(6))
}

/// The stream of a watch whose first response is `first`.
pub(crate) fn stream<O: FrameObject>(
    api: RemoteApi,
    resource: ApiResource,
    namespace: Option<String>,
    options: WatchOptions,
    first: Response<Incoming>,
) -> BoxStream<'static, Result<WatchEvent<O>>> {
    let resume =
        options.resource_version.clone().filter(|rv| !rv.is_empty() && rv != "0" && !options.send_initial_events);
    let watch = Watch {
        api,
        resource,
        namespace,
        options,
        body: Some(first.into_body()),
        buf: Vec::new(),
        ready: VecDeque::new(),
        resume,
        last: None,
        fresh: true,
        failures: 0,
        opened: Instant::now(),
        done: false,
    };
    futures::stream::unfold(watch, |mut w| async move { w.next().await.map(|item| (item, w)) }).boxed()
}

impl<O: FrameObject> Watch<O> {
    async fn next(&mut self) -> Option<Result<WatchEvent<O>>> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
            if self.done {
                return None;
            }
            let Some(body) = self.body.as_mut() else {
                if let Err(e) = self.reconnect().await {
                    self.done = true;
                    return Some(Err(e));
                }
                continue;
            };
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.failures = 0;
                        self.buf.extend_from_slice(&data);
                        self.take_lines();
                    }
                }
                Some(Err(e)) => {
                    self.body = None;
                    self.buf.clear();
                    self.failures += 1;
                    if !self.resumable() || self.failures >= RECONNECT_ATTEMPTS {
                        self.done = true;
                        return Some(Err(StoreError::Internal(format!(
                            "the watch of {} from {} broke: {}",
                            self.resource.plural,
                            self.api.server(),
                            chain(&e)
                        ))));
                    }
                }
                None => {
                    self.body = None;
                    let rest = std::mem::take(&mut self.buf);
                    self.line(Bytes::from(rest));
                    if !self.resumable() {
                        self.done = true;
                    } else if self.opened.elapsed() < QUICK_END {
                        // A server that ends watches at once: do not hammer it.
                        self.failures += 1;
                        if self.failures >= RECONNECT_ATTEMPTS {
                            self.done = true;
                        } else {
                            tokio::time::sleep(backoff(self.failures)).await;
                        }
                    }
                }
            }
        }
    }

    fn resumable(&self) -> bool {
        !self.done && (self.resume.is_some() || self.fresh)
    }

    /// Decodes every complete line of the buffer.
    fn take_lines(&mut self) {
        let mut start = 0;
        while let Some(end) = self.buf[start..].iter().position(|b| *b == b'\n') {
            let line = Bytes::copy_from_slice(&self.buf[start..start + end]);
            start += end + 1;
            self.line(line);
            if self.done {
                self.buf.clear();
                return;
            }
        }
        self.buf.drain(..start);
    }

    fn line(&mut self, line: Bytes) {
        if line.iter().all(u8::is_ascii_whitespace) || self.done {
            return;
        }
        let event = match O::decode(line, &self.resource) {
            Ok(e) => e,
            Err(e) => {
                self.fail(StoreError::Internal(format!(
                    "a watch frame of {} from {} does not decode: {e}",
                    self.resource.plural,
                    self.api.server()
                )));
                return;
            }
        };
        match &event {
            WatchEvent::Error(status) => {
                let code = u16::try_from(status.code).unwrap_or(500);
                self.fail(to_store_error(status, code));
                return;
            }
            WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) => {
                if self.resume.is_some() {
                    self.last = Some(o.mark());
                }
            }
            WatchEvent::Bookmark(o) => {
                let (rv, end_of_initial) = o.meta();
                if !rv.is_empty() && (end_of_initial || self.resume.is_some()) {
                    self.resume = Some(rv);
                    self.last = None;
                }
            }
        }
        self.fresh = false;
        self.ready.push_back(Ok(event));
    }

    fn fail(&mut self, e: StoreError) {
        self.ready.push_back(Err(e));
        self.done = true;
        self.body = None;
    }

    /// Opens the watch again: from the resume revision, or (nothing delivered
    /// yet) with the original options.
    async fn reconnect(&mut self) -> Result<()> {
        if let Some(last) = self.last.take() {
            let rv = O::marked_revision(&last);
            if !rv.is_empty() {
                self.resume = Some(rv);
            }
        }
        let options = match &self.resume {
            Some(rv) => {
                WatchOptions { resource_version: Some(rv.clone()), send_initial_events: false, ..self.options.clone() }
            }
            None => self.options.clone(),
        };
        loop {
            match self.api.open_watch(&self.resource, self.namespace.as_deref(), &options).await {
                Ok(response) => {
                    self.body = Some(response.into_body());
                    self.opened = Instant::now();
                    return Ok(());
                }
                Err(StoreError::Internal(_)) if self.failures + 1 < RECONNECT_ATTEMPTS => {
                    self.failures += 1;
                    tokio::time::sleep(backoff(self.failures)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}
