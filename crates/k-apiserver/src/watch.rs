//! Watch responses: one JSON frame per event, newline-delimited, over a
//! chunked body. The stream ends after the timeout, after an ERROR frame
//! (such as 410 Expired), or when the client goes away.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use k_api_types::meta::WatchEvent;
use k_store::api::SharedWatchStream;

use crate::error::ApiError;
use crate::response::{self, Body};
use crate::tables::Printer;

/// Streams `events` as a watch response for at most `timeout`; with a
/// printer, each object is sent as a one-row Table.
pub(crate) fn response(events: SharedWatchStream, timeout: Duration, printer: Option<Printer>) -> Response<Body> {
    let deadline = tokio::time::sleep(timeout);
    let frames = events
        .scan(false, move |ended, item| {
            if *ended {
                return futures::future::ready(None);
            }
            let frame = match item {
                // The frame of a change is encoded once for all its watchers.
                Ok(event) => match &printer {
                    Some(p) => Bytes::from(p.event_frame(event.to_owned_event())),
                    None => event.frame(),
                },
                Err(e) => {
                    *ended = true;
                    let status = *ApiError::from(e).status;
                    Bytes::from(crate::handlers::event_frame(&WatchEvent::Error(status)))
                }
            };
            futures::future::ready(Some(frame))
        })
        .take_until(deadline);
    let mut r = Response::new(response::stream(frames));
    *r.status_mut() = StatusCode::OK;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(response::JSON));
    r
}
