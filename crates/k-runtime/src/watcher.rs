//! The watcher: a resilient stream of a kind's objects over any object API.
//!
//! It lists (in pages of 500), then watches from the list's revision;
//! follows bookmarks; resumes from the last revision it saw when the watch
//! ends (a server timeout, a dropped connection); lists again when that
//! revision is gone (410 Expired, or the watcher was cut off as too slow);
//! and backs off with jitter after errors (800 ms doubling to 30 s, reset
//! after 2 minutes without errors). With [`InitialList::Streaming`] the
//! initial state comes through the watch itself (`sendInitialEvents`).
//!
//! The stream says where each list starts and ends ([`Event::Init`],
//! [`Event::InitApply`], [`Event::InitDone`]), so a cache can swap its
//! content atomically on `InitDone`. Errors are items of the stream; it
//! keeps going after them.
//!
//! Two flavours share that logic: [`watcher`] yields [`DynamicObject`]s,
//! [`typed`] yields `K`s decoded straight from the JSON the object API
//! hands over ([`ObjectApi::list_raw`], [`ObjectApi::watch_raw`]): over
//! HTTP, from the response bytes, with no dynamic object in between.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use k_api_types::meta::{Status, WatchEvent};
use k_api_types::{DynamicObject, GroupVersionResource, Resource};
use k_store::StoreError;
use k_store::api::{ListOptions, ObjectApi, RawMeta, WatchOptions};
use rand::Rng;

use crate::clock::{Clock, SystemClock};

/// Annotation of the bookmark that ends a streamed initial list.
const INITIAL_EVENTS_END: &str = "k8s.io/initial-events-end";

/// What the watcher saw: objects of type `O` ([`DynamicObject`] from
/// [`watcher`], `K` from [`typed`]).
#[derive(Debug)]
pub enum Event<O = DynamicObject> {
    /// A (re)list starts: the objects up to [`InitDone`](Event::InitDone)
    /// are the whole state.
    Init,
    /// An object of the list.
    InitApply(Arc<O>),
    /// The list is complete: objects not in it are gone.
    InitDone,
    /// An object was created or changed.
    Apply(Arc<O>),
    /// An object was deleted (its last state).
    Delete(Arc<O>),
}

impl<O> Clone for Event<O> {
    fn clone(&self) -> Self {
        match self {
            Event::Init => Event::Init,
            Event::InitApply(o) => Event::InitApply(o.clone()),
            Event::InitDone => Event::InitDone,
            Event::Apply(o) => Event::Apply(o.clone()),
            Event::Delete(o) => Event::Delete(o.clone()),
        }
    }
}

/// A failure the watcher reports and then retries after a backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Listing failed.
    #[error("listing failed: {0}")]
    List(#[source] StoreError),
    /// Starting or following the watch failed.
    #[error("watching failed: {0}")]
    Watch(#[source] StoreError),
    /// An object did not decode as the watched type; it was skipped (the
    /// watcher goes on).
    #[error("an object does not decode: {0}")]
    Decode(String),
}

/// How the initial state is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InitialList {
    /// A paged list, then a watch from its revision (every server).
    #[default]
    Paged,
    /// One watch with `sendInitialEvents=true`: the state arrives as events,
    /// ended by a bookmark (servers with the WatchList feature).
    Streaming,
}

/// Backoff after errors: exponential with jitter, reset after a quiet spell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait (800 ms).
    pub initial: Duration,
    /// The longest wait (30 s).
    pub max: Duration,
    /// Without an error for this long, the next wait is `initial` again (2 min).
    pub reset_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(800),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(120),
        }
    }
}

/// What to watch, and how.
#[derive(Clone, Debug)]
pub struct Config {
    /// Only objects with these labels.
    pub label_selector: Option<String>,
    /// Only objects with these fields.
    pub field_selector: Option<String>,
    /// Objects per list page (500).
    pub page_size: usize,
    /// How the initial state is read.
    pub initial_list: InitialList,
    /// Ask for bookmarks (so a resumed watch starts from a recent revision).
    pub bookmarks: bool,
    /// Waits after errors.
    pub backoff: Backoff,
    /// The clock the backoff waits on.
    pub clock: Arc<dyn Clock>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            label_selector: None,
            field_selector: None,
            page_size: 500,
            initial_list: InitialList::Paged,
            bookmarks: true,
            backoff: Backoff::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

impl Config {
    /// Only objects with these labels (`app=web,tier!=db`).
    pub fn labels(mut self, selector: impl Into<String>) -> Self {
        self.label_selector = Some(selector.into());
        self
    }

    /// Only objects with these fields (`spec.nodeName=worker-1`).
    pub fn fields(mut self, selector: impl Into<String>) -> Self {
        self.field_selector = Some(selector.into());
        self
    }

    /// Read the initial state through the watch (`sendInitialEvents`).
    pub fn streaming_list(mut self) -> Self {
        self.initial_list = InitialList::Streaming;
        self
    }
}

/// Watches the objects of `gvr` (in `namespace`, or all namespaces) through
/// `api`, for ever: see the [module docs](self).
pub fn watcher(
    api: Arc<dyn ObjectApi>,
    gvr: GroupVersionResource,
    namespace: Option<String>,
    config: Config,
) -> impl Stream<Item = Result<Event, Error>> + Send + 'static {
    run(Dynamic, api, gvr, namespace, config)
}

/// Watches the `K` objects (in `namespace`, or all namespaces) through
/// `api`, for ever, decoding them straight from their JSON: see the
/// [module docs](self).
pub fn typed<K: Resource>(
    api: Arc<dyn ObjectApi>,
    namespace: Option<String>,
    config: Config,
) -> impl Stream<Item = Result<Event<K>, Error>> + Send + 'static {
    run(Typed::<K>(std::marker::PhantomData), api, K::INFO.gvr(), namespace, config)
}

fn run<S: Source>(
    source: S,
    api: Arc<dyn ObjectApi>,
    gvr: GroupVersionResource,
    namespace: Option<String>,
    config: Config,
) -> impl Stream<Item = Result<Event<S::Object>, Error>> + Send + 'static {
    let machine = Machine {
        source,
        api,
        gvr,
        namespace,
        backoff: BackoffState::new(config.backoff),
        config,
        phase: Phase::Start,
        wait: None,
        decode_errors: VecDeque::new(),
    };
    futures::stream::unfold(machine, |mut m| async move {
        let item = m.step().await;
        Some((item, m))
    })
}

/// One item of a watch, as a [`Source`] reads it.
enum Item<O> {
    Apply(Arc<O>, String),
    Delete(Arc<O>, String),
    /// A bookmark: its revision, and whether it ends a streamed initial list.
    Bookmark(String, bool),
    Error(Box<Status>),
}

/// A page of a list, as a [`Source`] reads it.
struct Page<O> {
    items: Vec<Arc<O>>,
    /// Objects that did not decode.
    errors: Vec<String>,
    resource_version: String,
    continue_token: String,
}

/// Items of a watch; a decoding failure is an `Ok(Err(_))` item (the watch goes on).
type ItemStream<O> = BoxStream<'static, Result<Result<Item<O>, String>, StoreError>>;

/// How a watcher reads objects.
#[async_trait::async_trait]
trait Source: Send + Sync + 'static {
    type Object: Send + Sync + 'static;

    async fn list(
        &self,
        api: &dyn ObjectApi,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> Result<Page<Self::Object>, StoreError>;

    async fn watch(
        &self,
        api: &dyn ObjectApi,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &WatchOptions,
    ) -> Result<ItemStream<Self::Object>, StoreError>;
}

/// Objects as [`DynamicObject`]s.
struct Dynamic;

#[async_trait::async_trait]
impl Source for Dynamic {
    type Object = DynamicObject;

    async fn list(
        &self,
        api: &dyn ObjectApi,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> Result<Page<DynamicObject>, StoreError> {
        let page = api.list(gvr, namespace, options).await?;
        Ok(Page {
            items: page.items.into_iter().map(Arc::new).collect(),
            errors: Vec::new(),
            resource_version: page.resource_version,
            continue_token: page.continue_token,
        })
    }

    async fn watch(
        &self,
        api: &dyn ObjectApi,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &WatchOptions,
    ) -> Result<ItemStream<DynamicObject>, StoreError> {
        let events = api.watch_shared(gvr, namespace, options).await?;
        Ok(events
            .map(|item| {
                item.map(|event| {
                    Ok(match event.event {
                        WatchEvent::Added(o) | WatchEvent::Modified(o) => {
                            let rv = o.metadata.resource_version.clone();
                            Item::Apply(o, rv)
                        }
                        WatchEvent::Deleted(o) => {
                            let rv = o.metadata.resource_version.clone();
                            Item::Delete(o, rv)
                        }
                        WatchEvent::Bookmark(o) => Item::Bookmark(
                            o.metadata.resource_version.clone(),
                            o.metadata.annotations.get(INITIAL_EVENTS_END).is_some_and(|v| v == "true"),
                        ),
                        WatchEvent::Error(status) => Item::Error(Box::new(status)),
                    })
                })
            })
            .boxed())
    }
}

/// Objects decoded as `K` from their JSON.
struct Typed<K>(std::marker::PhantomData<fn() -> K>);

fn decode<K: Resource>(json: &[u8]) -> Result<K, String> {
    serde_json::from_slice(json)
        .map_err(|e| format!("{} as {}: {e}", String::from_utf8_lossy(json.get(..200).unwrap_or(json)), K::INFO.kind))
}

#[async_trait::async_trait]
impl<K: Resource> Source for Typed<K> {
    type Object = K;

    async fn list(
        &self,
        api: &dyn ObjectApi,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> Result<Page<K>, StoreError> {
        let page = api.list_raw(gvr, namespace, options).await?;
        let mut items = Vec::with_capacity(page.items.len());
        let mut errors = Vec::new();
        for json in &page.items {
            match decode::<K>(json) {
                Ok(k) => items.push(Arc::new(k)),
                Err(e) => errors.push(e),
            }
        }
        Ok(Page { items, errors, resource_version: page.resource_version, continue_token: page.continue_token })
    }

    async fn watch(
        &self,
        api: &dyn ObjectApi,
        gvr: &GroupVersionResource,
        namespace: Option<&str>,
        options: &WatchOptions,
    ) -> Result<ItemStream<K>, StoreError> {
        let events = api.watch_raw(gvr, namespace, options).await?;
        Ok(events
            .map(|item| {
                item.map(|event| match event {
                    WatchEvent::Added(json) | WatchEvent::Modified(json) => decode::<K>(&json).map(|k| {
                        let rv = k.metadata().resource_version.clone();
                        Item::Apply(Arc::new(k), rv)
                    }),
                    WatchEvent::Deleted(json) => decode::<K>(&json).map(|k| {
                        let rv = k.metadata().resource_version.clone();
                        Item::Delete(Arc::new(k), rv)
                    }),
                    WatchEvent::Bookmark(json) => RawMeta::of(&json)
                        .map(|m| Item::Bookmark(m.resource_version, m.initial_events_end))
                        .map_err(|e| e.to_string()),
                    WatchEvent::Error(status) => Ok(Item::Error(Box::new(status))),
                })
            })
            .boxed())
    }
}

enum Phase<O> {
    /// A (re)list is due.
    Start,
    /// Paging through a list.
    Listing { continue_token: Option<String>, buffer: VecDeque<Arc<O>>, revision: String, last_page: bool },
    /// Reading a streamed initial list.
    Streaming { stream: ItemStream<O> },
    /// Watching from `revision` (the stream is opened when missing).
    Watching { revision: String, stream: Option<ItemStream<O>> },
}

struct Machine<S: Source> {
    source: S,
    api: Arc<dyn ObjectApi>,
    gvr: GroupVersionResource,
    namespace: Option<String>,
    config: Config,
    phase: Phase<S::Object>,
    backoff: BackoffState,
    /// A wait due before the next attempt (set after an error).
    wait: Option<Duration>,
    /// Objects of a list page that did not decode, to report.
    decode_errors: VecDeque<String>,
}

impl<S: Source> Machine<S> {
    fn fail(&mut self, error: Error, next: Phase<S::Object>) -> Result<Event<S::Object>, Error> {
        self.phase = next;
        self.wait = Some(self.backoff.next(self.config.clock.now()));
        Err(error)
    }

    fn watch_options(&self, revision: Option<String>, initial: bool) -> WatchOptions {
        WatchOptions {
            label_selector: self.config.label_selector.clone(),
            field_selector: self.config.field_selector.clone(),
            resource_version: revision,
            allow_bookmarks: self.config.bookmarks || initial,
            send_initial_events: initial,
        }
    }

    async fn step(&mut self) -> Result<Event<S::Object>, Error> {
        loop {
            if let Some(error) = self.decode_errors.pop_front() {
                return Err(Error::Decode(error));
            }
            if let Some(wait) = self.wait.take() {
                let clock = &self.config.clock;
                clock.sleep_until(clock.now() + wait).await;
            }
            match &mut self.phase {
                Phase::Start => match self.config.initial_list {
                    InitialList::Paged => {
                        self.phase = Phase::Listing {
                            continue_token: None,
                            buffer: VecDeque::new(),
                            revision: String::new(),
                            last_page: false,
                        };
                        return Ok(Event::Init);
                    }
                    InitialList::Streaming => {
                        let options = self.watch_options(None, true);
                        match self.source.watch(&*self.api, &self.gvr, self.namespace.as_deref(), &options).await {
                            Ok(stream) => {
                                self.phase = Phase::Streaming { stream };
                                return Ok(Event::Init);
                            }
                            Err(e) => return self.fail(Error::Watch(e), Phase::Start),
                        }
                    }
                },
                Phase::Listing { continue_token, buffer, revision, last_page } => {
                    if let Some(object) = buffer.pop_front() {
                        return Ok(Event::InitApply(object));
                    }
                    if *last_page {
                        let revision = std::mem::take(revision);
                        self.phase = Phase::Watching { revision, stream: None };
                        return Ok(Event::InitDone);
                    }
                    let options = ListOptions {
                        label_selector: self.config.label_selector.clone(),
                        field_selector: self.config.field_selector.clone(),
                        limit: self.config.page_size,
                        continue_token: continue_token.clone(),
                        ..Default::default()
                    };
                    match self.source.list(&*self.api, &self.gvr, self.namespace.as_deref(), &options).await {
                        Ok(page) => {
                            buffer.extend(page.items);
                            self.decode_errors.extend(page.errors);
                            if continue_token.is_none() {
                                *revision = page.resource_version;
                            }
                            *last_page = page.continue_token.is_empty();
                            *continue_token = Some(page.continue_token).filter(|t| !t.is_empty());
                        }
                        // A page whose snapshot is gone (or any failure): list again from the start.
                        Err(e) => return self.fail(Error::List(e), Phase::Start),
                    }
                }
                Phase::Streaming { stream } => match stream.next().await {
                    Some(Ok(Ok(item))) => match item {
                        Item::Apply(o, _) => return Ok(Event::InitApply(o)),
                        Item::Bookmark(revision, true) => {
                            let Phase::Streaming { stream } = std::mem::replace(&mut self.phase, Phase::Start) else {
                                unreachable!("matched above")
                            };
                            self.phase = Phase::Watching { revision, stream: Some(stream) };
                            return Ok(Event::InitDone);
                        }
                        Item::Delete(..) | Item::Bookmark(..) => {}
                        Item::Error(status) => {
                            return self.fail(Error::Watch(status_error(&status)), Phase::Start);
                        }
                    },
                    Some(Ok(Err(e))) => return Err(Error::Decode(e)),
                    Some(Err(e)) => return self.fail(Error::Watch(e), Phase::Start),
                    None => self.phase = Phase::Start,
                },
                Phase::Watching { revision, stream: None } => {
                    let revision = revision.clone();
                    let options = self.watch_options(Some(revision.clone()), false);
                    match self.source.watch(&*self.api, &self.gvr, self.namespace.as_deref(), &options).await {
                        Ok(opened) => self.phase = Phase::Watching { revision, stream: Some(opened) },
                        Err(e) if e.is_expired() => self.phase = Phase::Start,
                        Err(e) => return self.fail(Error::Watch(e), Phase::Watching { revision, stream: None }),
                    }
                }
                Phase::Watching { revision, stream: Some(stream) } => match stream.next().await {
                    Some(Ok(Ok(item))) => match item {
                        Item::Apply(o, rv) => {
                            *revision = rv;
                            return Ok(Event::Apply(o));
                        }
                        Item::Delete(o, rv) => {
                            *revision = rv;
                            return Ok(Event::Delete(o));
                        }
                        Item::Bookmark(rv, _) => *revision = rv,
                        Item::Error(status) if status.code == 410 => self.phase = Phase::Start,
                        Item::Error(status) => {
                            let revision = revision.clone();
                            return self
                                .fail(Error::Watch(status_error(&status)), Phase::Watching { revision, stream: None });
                        }
                    },
                    // An object that does not decode is skipped; its
                    // revision is passed by the next event.
                    Some(Ok(Err(e))) => return Err(Error::Decode(e)),
                    Some(Err(e)) if e.is_expired() => self.phase = Phase::Start,
                    Some(Err(e)) => {
                        let revision = revision.clone();
                        return self.fail(Error::Watch(e), Phase::Watching { revision, stream: None });
                    }
                    // The watch ended (a timeout, a closed connection): resume.
                    None => {
                        let revision = revision.clone();
                        self.phase = Phase::Watching { revision, stream: None };
                    }
                },
            }
        }
    }
}

/// A watch stream's ERROR frame as an error.
fn status_error(status: &Status) -> StoreError {
    StoreError::Internal(format!("{} ({}): {}", status.reason, status.code, status.message))
}

/// The backoff's running state.
#[derive(Debug)]
struct BackoffState {
    config: Backoff,
    current: Duration,
    last_error: Option<Instant>,
}

impl BackoffState {
    fn new(config: Backoff) -> Self {
        BackoffState { config, current: config.initial, last_error: None }
    }

    /// The wait after an error at `now`: the current step with ±50% jitter,
    /// then the step doubles (up to the maximum).
    fn next(&mut self, now: Instant) -> Duration {
        if self.last_error.is_some_and(|at| now.saturating_duration_since(at) >= self.config.reset_after) {
            self.current = self.config.initial;
        }
        self.last_error = Some(now);
        let base = self.current;
        self.current = (self.current * 2).min(self.config.max);
        let factor: f64 = rand::rng().random_range(0.5..1.5);
        base.mul_f64(factor).min(self.config.max)
    }
}

#[cfg(test)]
mod tests;
