//! The etcd backend (feature `etcd`): the contract served by an etcd v3 cluster.
//!
//! Keys are stored exactly as given (the [`Store`](crate::Store) uses
//! `/registry/<plural>/<namespace>/<name>`, as kube-apiserver does), values
//! as given. Revisions are etcd's: a key-value's revision is its
//! `mod_revision`, the store's revision is the response header revision.
//! A fresh etcd starts at revision 1, so its first write gets revision 2.
//!
//! | contract | etcd |
//! |---|---|
//! | `create` | txn: `create_revision(key) == 0` → put, else AlreadyExists |
//! | `update` | txn: `create_revision(key) > 0 ∧ mod_revision(key) == expected` → put, else get: NotFound or Conflict |
//! | `delete` | txn: the same compares (mod_revision only when expected) → delete with prev_kv |
//! | `get` / `range` | range at a revision (`start_after + "\0"` .. prefix end, limit, `more`) |
//! | `watch` | watch from `after + 1` with prefix, prev_kv and progress notifications |
//! | `compact` | physical compaction |
//!
//! Errors: etcd's "required revision has been compacted" becomes
//! [`StoreError::Expired`] (the compacted revision is read back from etcd),
//! "required revision is a future revision" becomes
//! [`StoreError::TooLargeResourceVersion`]; anything else is
//! [`StoreError::Internal`].
//!
//! # Availability
//!
//! The client balances over every endpoint given to [`EtcdBackend::connect`].
//! Reads are retried on transient failures (an unreachable member, no
//! leader) until [`EtcdOptions::request_timeout`]; writes are retried only
//! when the failure shows the request never reached etcd, since retrying a
//! write whose outcome is unknown could report a misleading Conflict or
//! AlreadyExists. Requests carry etcd's "require leader" flag, so a member cut
//! off from its cluster refuses them instead of serving stale data.
//!
//! # Watches
//!
//! Watches under [`EtcdOptions::shared_watch_prefix`] (by default every key)
//! share one etcd watch, as kube-apiserver's watch cache does: each change is
//! received and decoded once and fanned out to every watcher through the
//! same bounded fan-out the embedded backends use, and the last
//! [`EtcdOptions::watch_cache_size`] changes are kept so that a watcher
//! resuming from a recent revision joins it. The shared watch starts with
//! its first watcher and stops with its last. A watcher that falls more than
//! [`EtcdOptions::watch_capacity`] changes behind is ended with
//! [`StoreError::WatcherTooSlow`]; the etcd stream is never held up.
//!
//! A watch from an older revision, or outside the shared prefix, opens its
//! own etcd watch stream: a task forwards etcd's responses into a bounded
//! queue of [`EtcdOptions::watch_capacity`] items, and ends the watch with
//! [`StoreError::WatcherTooSlow`] when the queue is full.
//!
//! Either way, if the stream breaks (the member died), the task re-opens it
//! from the revision after the last one delivered, on whichever member
//! answers, for up to [`EtcdOptions::watch_reconnect_timeout`]. A compaction
//! that overtakes the watch ends its watchers with [`StoreError::Expired`].
//!
//! Progress: etcd sends progress notifications to idle watchers every
//! `--experimental-watch-progress-notify-interval` (a server flag, 10 minutes
//! by default; the test harness sets 500 ms). Besides, after
//! [`EtcdOptions::progress_interval`] without a response the task asks the
//! server for one, but only on servers that answer such requests correctly
//! (etcd 3.4.25+, 3.5.8+, 3.6+): older ones may report a revision before
//! delivering the events up to it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use etcd_client::{
    Client, CompactionOptions, Compare, CompareOp, ConnectOptions, DeleteOptions, EventType, GetOptions, TxnOp,
    TxnOpResponse, TxnResponse, WatchOptions, WatchResponse,
};
use futures::Stream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::backend::fanout::{FanoutStream, Registration};
use crate::backend::{Backend, Event, EventKind, KeyValue, RangePage, Revision, WatchItem, WatchStream};
use crate::error::{Result, StoreError};

mod shared;

use shared::{Join, SharedWatch};

/// A key no caller uses, for requests that only need a response header.
const PROBE_KEY: &[u8] = b"\0";

/// Tuning of an [`EtcdBackend`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EtcdOptions {
    /// Items (changes and progress notifications) buffered per watcher before
    /// it is ended with [`StoreError::WatcherTooSlow`] (default 10 000; at least 1).
    pub watch_capacity: usize,
    /// After this long without a response on a watch, ask etcd for a
    /// progress notification, on servers that answer such requests correctly
    /// (default 5 s). See the [module documentation](self).
    pub progress_interval: Duration,
    /// Whether to send progress requests: `None` decides from the server
    /// version at connect time (default), `Some(_)` forces the choice.
    pub request_progress: Option<bool>,
    /// Time limit of one operation, retries included (default 10 s).
    pub request_timeout: Duration,
    /// Time limit of establishing the first connection (default 5 s).
    pub connect_timeout: Duration,
    /// How long a watch whose stream broke keeps trying to re-open it before
    /// ending with [`StoreError::Internal`] (default 30 s).
    pub watch_reconnect_timeout: Duration,
    /// HTTP/2 keep-alive ping interval while streams are open, to notice dead
    /// members; a ping unanswered within `connect_timeout` drops the connection
    /// (default 10 s; etcd refuses pings more frequent than its
    /// `--grpc-keepalive-min-time`, 5 s by default).
    pub keep_alive_interval: Duration,
    /// Watches of keys under this prefix share one etcd watch over it (see
    /// the [module documentation](self)); `None` gives every watch its own
    /// etcd watch. Default: `Some("")`, every key.
    pub shared_watch_prefix: Option<String>,
    /// How many of the latest changes the shared watch keeps, for watchers
    /// that resume from a recent revision (default 10 000).
    pub watch_cache_size: usize,
}

impl Default for EtcdOptions {
    fn default() -> Self {
        Self {
            watch_capacity: 10_000,
            progress_interval: Duration::from_secs(5),
            request_progress: None,
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            watch_reconnect_timeout: Duration::from_secs(30),
            keep_alive_interval: Duration::from_secs(10),
            shared_watch_prefix: Some(String::new()),
            watch_cache_size: 10_000,
        }
    }
}

/// The etcd backend. Cheap to clone (clones share the connections); share it
/// as `Arc<dyn Backend>`. See the [module documentation](self).
#[derive(Clone)]
pub struct EtcdBackend {
    client: Client,
    options: EtcdOptions,
    endpoints: Vec<String>,
    server_version: String,
    request_progress: bool,
    /// The running shared watch, if any (see the module documentation).
    shared: Arc<tokio::sync::Mutex<Option<Arc<SharedWatch>>>>,
}

impl fmt::Debug for EtcdBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdBackend")
            .field("endpoints", &self.endpoints)
            .field("server_version", &self.server_version)
            .field("request_progress", &self.request_progress)
            .field("options", &self.options)
            .finish()
    }
}

/// Why an etcd call failed, as far as the backend cares.
#[derive(Debug)]
enum Failure {
    /// "required revision has been compacted".
    Compacted,
    /// "required revision is a future revision".
    FutureRevision,
    /// Anything else, described.
    Other(String),
}

/// Whether a failed call may be retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transience {
    /// Permanent (or a revision error): report it.
    Permanent,
    /// The request never reached etcd (or etcd refused it before acting): safe to retry.
    Unsent,
    /// The outcome is unknown: retry reads only.
    Unknown,
}

fn classify(e: &etcd_client::Error) -> (Failure, Transience) {
    use etcd_client::Error as E;
    let text = e.to_string();
    let lower = text.to_ascii_lowercase();
    if lower.contains("required revision has been compacted") {
        return (Failure::Compacted, Transience::Permanent);
    }
    if lower.contains("required revision is a future revision") {
        return (Failure::FutureRevision, Transience::Permanent);
    }
    let unsent =
        ["no leader", "error trying to connect", "connection refused", "tcp connect", "dns error", "too many requests"]
            .iter()
            .any(|m| lower.contains(m));
    let transience = match e {
        E::TransportError(_) => Transience::Unsent,
        E::GRpcStatus(_) | E::IoError(_) | E::WatchError(_) if unsent => Transience::Unsent,
        E::GRpcStatus(s)
            if matches!(format!("{:?}", s.code()).as_str(), "Unavailable" | "Unknown" | "Cancelled")
                || lower.contains("transport") =>
        {
            Transience::Unknown
        }
        E::IoError(_) | E::WatchError(_) => Transience::Unknown,
        _ => Transience::Permanent,
    };
    (Failure::Other(text), transience)
}

/// Converts an etcd key-value.
fn convert_kv(kv: &etcd_client::KeyValue) -> Result<KeyValue> {
    let key = std::str::from_utf8(kv.key())
        .map_err(|_| StoreError::Internal(format!("etcd returned a key that is not UTF-8: {:?}", kv.key())))?;
    Ok(KeyValue {
        key: key.to_owned(),
        value: Bytes::copy_from_slice(kv.value()),
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
    })
}

/// The end of the key range of everything starting with `prefix` (`"\0"`: no end).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> Result<Revision> {
    header
        .map(etcd_client::ResponseHeader::revision)
        .ok_or_else(|| StoreError::Internal("etcd response without a header".to_owned()))
}

/// Whether an etcd server of this version answers progress requests only
/// once every event up to the reported revision was sent.
fn answers_progress_requests_correctly(version: &str) -> bool {
    let mut parts = version.split(['.', '-', '+']).map(|p| p.parse::<u32>().ok());
    let (Some(Some(major)), Some(Some(minor)), Some(Some(patch))) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    match (major, minor) {
        (0..=2, _) => false,
        (3, 0..=3) => false,
        (3, 4) => patch >= 25,
        (3, 5) => patch >= 8,
        _ => true,
    }
}

impl EtcdBackend {
    /// Connects to etcd at `endpoints` (such as `http://127.0.0.1:2379`) with
    /// the default [`EtcdOptions`], and checks that it answers.
    pub async fn connect(endpoints: &[String]) -> Result<Self> {
        Self::connect_with(endpoints, EtcdOptions::default()).await
    }

    /// Connects with the given options.
    pub async fn connect_with(endpoints: &[String], options: EtcdOptions) -> Result<Self> {
        if endpoints.is_empty() {
            return Err(StoreError::BadRequest("no etcd endpoints given".to_owned()));
        }
        let options = EtcdOptions { watch_capacity: options.watch_capacity.max(1), ..options };
        let connect = ConnectOptions::new()
            .with_connect_timeout(options.connect_timeout)
            .with_keep_alive(options.keep_alive_interval, options.connect_timeout)
            .with_keep_alive_while_idle(false)
            .with_require_leader(true);
        let client = tokio::time::timeout(options.connect_timeout, Client::connect(endpoints, Some(connect)))
            .await
            .map_err(|_| StoreError::Internal(format!("connecting to etcd at {endpoints:?} timed out")))?
            .map_err(|e| StoreError::Internal(format!("connecting to etcd at {endpoints:?}: {e}")))?;
        let mut backend = Self {
            client,
            options,
            endpoints: endpoints.to_vec(),
            server_version: String::new(),
            request_progress: false,
            shared: Arc::default(),
        };
        // Check that etcd answers, and learn its version.
        let status = backend
            .call(true, |mut c| async move { c.status().await })
            .await
            .map_err(|f| backend.failure(f, &format!("reaching etcd at {endpoints:?}")))?;
        backend.server_version = status.version().to_owned();
        backend.request_progress = backend
            .options
            .request_progress
            .unwrap_or_else(|| answers_progress_requests_correctly(&backend.server_version));
        Ok(backend)
    }

    /// The endpoints given at connect time.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// The version of the etcd member that answered at connect time.
    pub fn server_version(&self) -> &str {
        &self.server_version
    }

    /// The options in effect.
    pub fn options(&self) -> &EtcdOptions {
        &self.options
    }

    /// The underlying etcd client, for operations outside the contract.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs one etcd call with retries (see the module documentation) within
    /// the request timeout.
    async fn call<T, F, Fut>(&self, idempotent: bool, mut f: F) -> std::result::Result<T, Failure>
    where
        F: FnMut(Client) -> Fut,
        Fut: Future<Output = std::result::Result<T, etcd_client::Error>>,
    {
        let timeout = self.options.request_timeout;
        let deadline = Instant::now() + timeout;
        let mut backoff = Duration::from_millis(20);
        let mut quick_retries = 2;
        loop {
            let attempt = tokio::time::timeout_at(deadline, f(self.client.clone())).await;
            let error = match attempt {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e)) => e,
                Err(_) => {
                    let outcome = if idempotent { "" } else { "; the outcome of the write is unknown" };
                    return Err(Failure::Other(format!("etcd request timed out after {timeout:?}{outcome}")));
                }
            };
            let (failure, transience) = classify(&error);
            let retry = match transience {
                Transience::Permanent => false,
                Transience::Unsent => true,
                Transience::Unknown => idempotent,
            };
            if !retry || Instant::now() + backoff >= deadline {
                return Err(failure);
            }
            // A dead member stays in the client's balancer (which reconnects to it
            // in the background): the next attempt most likely goes elsewhere.
            if transience == Transience::Unsent && quick_retries > 0 {
                quick_retries -= 1;
                continue;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(500));
        }
    }

    /// Maps a failure that is not about a revision.
    fn failure(&self, failure: Failure, what: &str) -> StoreError {
        match failure {
            Failure::Compacted => StoreError::Internal(format!("{what}: etcd: required revision has been compacted")),
            Failure::FutureRevision => {
                StoreError::Internal(format!("{what}: etcd: required revision is a future revision"))
            }
            Failure::Other(m) => StoreError::Internal(format!("{what}: {m}")),
        }
    }

    /// Maps a failure of a request at revision `requested`.
    async fn revision_failure(&self, failure: Failure, requested: Revision, what: &str) -> StoreError {
        match failure {
            Failure::Compacted => match self.compacted_revision().await {
                Ok(compacted) => StoreError::Expired { requested, compacted },
                Err(e) => e,
            },
            Failure::FutureRevision => match self.revision().await {
                Ok(current) => StoreError::TooLargeResourceVersion { requested, current },
                Err(e) => e,
            },
            other => self.failure(other, what),
        }
    }

    /// Validates a read revision: negative is a bad request, 0 reads the
    /// (empty) state before the first revision.
    fn read_revision(at: Option<Revision>) -> Result<Option<Revision>> {
        match at {
            Some(r) if r < 0 => Err(StoreError::BadRequest(format!("invalid revision {r}"))),
            other => Ok(other),
        }
    }

    /// A read at revision 0 (before anything): empty, unless history was compacted.
    async fn check_revision_zero(&self) -> Result<()> {
        let compacted = self.compacted_revision().await?;
        if compacted > 0 {
            return Err(StoreError::Expired { requested: 0, compacted });
        }
        Ok(())
    }

    /// Runs a transaction (a write: retried only when unsent).
    async fn txn(&self, txn: etcd_client::Txn, what: &str) -> Result<TxnResponse> {
        self.call(false, |mut c| {
            let txn = txn.clone();
            async move { c.txn(txn).await }
        })
        .await
        .map_err(|f| self.failure(f, what))
    }

    /// After a failed compare: NotFound if the key is gone, else Conflict.
    fn compare_failure(key: &str, response: &TxnResponse) -> StoreError {
        let exists = response.op_responses().iter().any(|r| matches!(r, TxnOpResponse::Get(g) if !g.kvs().is_empty()));
        if exists { StoreError::key_conflict(key) } else { StoreError::key_not_found(key) }
    }

    /// Finds the compacted revision by opening a watch at revision 1, which
    /// etcd cancels, reporting its compacted revision.
    async fn probe_compacted_revision(&self) -> Result<Revision> {
        let timeout = self.options.request_timeout;
        let probe = async {
            let options = WatchOptions::new().with_start_revision(1);
            let mut stream = self
                .call(true, |mut c| {
                    let options = options.clone();
                    async move { c.watch(PROBE_KEY, Some(options)).await }
                })
                .await
                .map_err(|f| self.failure(f, "watching to learn the compacted revision"))?;
            loop {
                match stream.message().await {
                    Ok(Some(resp)) if resp.compact_revision() > 0 => return Ok(resp.compact_revision()),
                    Ok(Some(resp)) if resp.canceled() => {
                        return Err(StoreError::Internal(format!(
                            "etcd canceled the compaction probe: {}",
                            resp.cancel_reason()
                        )));
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => return Err(StoreError::Internal("etcd ended the compaction probe".to_owned())),
                    Err(e) => return Err(StoreError::Internal(format!("probing the compacted revision: {e}"))),
                }
            }
        };
        tokio::time::timeout(timeout, probe)
            .await
            .map_err(|_| StoreError::Internal(format!("probing the compacted revision timed out after {timeout:?}")))?
    }

    /// Opens an etcd watch on `prefix` from `after + 1` and starts the task
    /// that forwards it to `sink`.
    async fn start_forwarder(&self, prefix: &str, after: Revision, sink: Sink) -> Result<()> {
        let forwarder = Forwarder {
            client: self.client.clone(),
            prefix: prefix.to_owned(),
            next: after + 1,
            options: self.options.clone(),
            request_progress: self.request_progress,
        };
        let (requests, responses) = forwarder
            .open_with_retries(self.options.request_timeout)
            .await
            .map_err(|e| StoreError::Internal(format!("opening an etcd watch on {prefix:?}: {e}")))?;
        tokio::spawn(forwarder.run(requests, responses, sink));
        Ok(())
    }

    /// Joins the shared watch over `root`, or starts it; None if `after` is
    /// older than its history. A watcher that joins is served from memory,
    /// with no request to etcd.
    async fn watch_shared(&self, root: &str, prefix: &str, after: Revision) -> Result<Option<WatchStream>> {
        let mut slot = self.shared.lock().await;
        if let Some(shared) = slot.as_ref() {
            match shared.join(prefix, after) {
                Join::Joined(id, replay) => return Ok(Some(self.shared_stream(shared, id, after, replay))),
                Join::TooOld => return Ok(None),
                Join::Closed => {}
            }
        }
        self.check_watch_start(after).await?;
        let shared = SharedWatch::new(after, self.options.watch_capacity, self.options.watch_cache_size);
        let Join::Joined(id, replay) = shared.join(prefix, after) else {
            return Err(StoreError::Internal("a new shared watch refused its first watcher".to_owned()));
        };
        self.start_forwarder(root, after, Sink::Shared(Arc::clone(&shared))).await?;
        let stream = self.shared_stream(&shared, id, after, replay);
        *slot = Some(shared);
        Ok(Some(stream))
    }

    fn shared_stream(
        &self,
        shared: &Arc<SharedWatch>,
        id: u64,
        after: Revision,
        replay: Vec<Arc<Event>>,
    ) -> WatchStream {
        Box::pin(FanoutStream::new(
            Registration::new(shared, id),
            after,
            replay,
            self.options.watch_capacity,
            self.options.progress_interval,
        ))
    }

    /// How many watchers share the running shared watch (0 if none runs).
    pub async fn shared_watcher_count(&self) -> usize {
        self.shared.lock().await.as_ref().map_or(0, |s| s.watcher_count())
    }

    /// Checks, before opening a watch from `after`, that the history after it
    /// is still there (the contract: Expired if `after` is older than the
    /// compacted revision).
    async fn check_watch_start(&self, after: Revision) -> Result<()> {
        if after == 0 {
            return self.check_revision_zero().await;
        }
        let options = GetOptions::new().with_count_only().with_revision(after);
        match self
            .call(true, |mut c| {
                let options = options.clone();
                async move { c.get(PROBE_KEY, Some(options)).await }
            })
            .await
        {
            // A watch may start in the future: it waits for the revisions.
            Ok(_) | Err(Failure::FutureRevision) => Ok(()),
            Err(f) => Err(self.revision_failure(f, after, "checking the watch start revision").await),
        }
    }
}

#[async_trait::async_trait]
impl Backend for EtcdBackend {
    async fn revision(&self) -> Result<Revision> {
        let options = GetOptions::new().with_count_only();
        let resp = self
            .call(true, |mut c| {
                let options = options.clone();
                async move { c.get(PROBE_KEY, Some(options)).await }
            })
            .await
            .map_err(|f| self.failure(f, "reading the etcd revision"))?;
        header_revision(resp.header())
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        // Reading at revision 1 fails only once something after it was compacted.
        let options = GetOptions::new().with_count_only().with_revision(1);
        match self
            .call(true, |mut c| {
                let options = options.clone();
                async move { c.get(PROBE_KEY, Some(options)).await }
            })
            .await
        {
            Ok(_) => Ok(0),
            Err(Failure::Compacted) => self.probe_compacted_revision().await,
            Err(f) => Err(self.failure(f, "reading the compacted revision")),
        }
    }

    async fn get(&self, key: &str, at: Option<Revision>) -> Result<Option<KeyValue>> {
        let at = Self::read_revision(at)?;
        if at == Some(0) {
            self.check_revision_zero().await?;
            return Ok(None);
        }
        let mut options = GetOptions::new();
        if let Some(r) = at {
            options = options.with_revision(r);
        }
        let resp = self
            .call(true, |mut c| {
                let options = options.clone();
                async move { c.get(key, Some(options)).await }
            })
            .await;
        match resp {
            Ok(resp) => resp.kvs().first().map(convert_kv).transpose(),
            Err(f) => Err(self.revision_failure(f, at.unwrap_or(0), &format!("reading {key:?}")).await),
        }
    }

    async fn range(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        at: Option<Revision>,
    ) -> Result<RangePage> {
        let at = Self::read_revision(at)?;
        if at == Some(0) {
            self.check_revision_zero().await?;
            return Ok(RangePage { kvs: Vec::new(), revision: 0, more: false });
        }
        let end = prefix_end(prefix.as_bytes());
        let mut start = match start_after {
            Some(s) if s >= prefix => {
                let mut k = s.as_bytes().to_vec();
                k.push(0);
                k
            }
            _ => prefix.as_bytes().to_vec(),
        };
        if start.is_empty() {
            // The whole key space: etcd's smallest key is "\0".
            start.push(0);
        }
        let mut options = if end != [0] && start >= end {
            // Nothing can be in range; still read at the revision, for its errors.
            start = PROBE_KEY.to_vec();
            GetOptions::new().with_count_only()
        } else {
            GetOptions::new().with_range(end)
        };
        if limit > 0 {
            options = options.with_limit(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        if let Some(r) = at {
            options = options.with_revision(r);
        }
        let resp = self
            .call(true, |mut c| {
                let (start, options) = (start.clone(), options.clone());
                async move { c.get(start, Some(options)).await }
            })
            .await;
        match resp {
            Ok(resp) => {
                let kvs = resp.kvs().iter().map(convert_kv).collect::<Result<Vec<_>>>()?;
                let revision = match at {
                    Some(r) => r,
                    None => header_revision(resp.header())?,
                };
                Ok(RangePage { kvs, revision, more: resp.more() })
            }
            Err(f) => Err(self.revision_failure(f, at.unwrap_or(0), &format!("listing {prefix:?}")).await),
        }
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<Revision> {
        let txn = etcd_client::Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key, value.to_vec(), None)]);
        let resp = self.txn(txn, &format!("creating {key:?}")).await?;
        if !resp.succeeded() {
            return Err(StoreError::key_exists(key));
        }
        header_revision(resp.header())
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<Revision> {
        let txn = etcd_client::Txn::new()
            .when([
                Compare::create_revision(key, CompareOp::Greater, 0),
                Compare::mod_revision(key, CompareOp::Equal, expected),
            ])
            .and_then([TxnOp::put(key, value.to_vec(), None)])
            .or_else([TxnOp::get(key, Some(GetOptions::new().with_keys_only()))]);
        let resp = self.txn(txn, &format!("updating {key:?}")).await?;
        if !resp.succeeded() {
            return Err(Self::compare_failure(key, &resp));
        }
        header_revision(resp.header())
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(Revision, KeyValue)> {
        let mut compares = vec![Compare::create_revision(key, CompareOp::Greater, 0)];
        if let Some(expected) = expected {
            compares.push(Compare::mod_revision(key, CompareOp::Equal, expected));
        }
        let txn = etcd_client::Txn::new()
            .when(compares)
            .and_then([TxnOp::delete(key, Some(DeleteOptions::new().with_prev_key()))])
            .or_else([TxnOp::get(key, Some(GetOptions::new().with_keys_only()))]);
        let resp = self.txn(txn, &format!("deleting {key:?}")).await?;
        if !resp.succeeded() {
            return Err(Self::compare_failure(key, &resp));
        }
        let revision = header_revision(resp.header())?;
        let prev = resp
            .op_responses()
            .iter()
            .find_map(|r| match r {
                TxnOpResponse::Delete(d) => d.prev_kvs().first().map(convert_kv),
                _ => None,
            })
            .transpose()?
            .ok_or_else(|| StoreError::Internal(format!("etcd deleted {key:?} without returning its value")))?;
        Ok((revision, prev))
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        if after < 0 {
            return Err(StoreError::BadRequest(format!("invalid watch revision {after}")));
        }
        if let Some(root) = &self.options.shared_watch_prefix
            && prefix.starts_with(root.as_str())
            && let Some(stream) = self.watch_shared(root, prefix, after).await?
        {
            return Ok(stream);
        }
        self.check_watch_start(after).await?;
        let (tx, rx) = mpsc::channel(self.options.watch_capacity);
        let (end_tx, end_rx) = oneshot::channel();
        self.start_forwarder(prefix, after, Sink::Queue { tx, end: Some(end_tx) }).await?;
        Ok(Box::pin(EtcdWatch { rx, end: Some(end_rx) }))
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        if revision <= 0 {
            return Ok(());
        }
        let result =
            self.call(false, |mut c| async move {
                c.compact(revision, Some(CompactionOptions::new().with_physical())).await
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            // Already compacted at or after `revision`: nothing to do.
            Err(Failure::Compacted) => Ok(()),
            Err(f) => Err(self.revision_failure(f, revision, &format!("compacting at {revision}")).await),
        }
    }
}

/// The receiving side of a watch: buffered items, then the reason it ended.
struct EtcdWatch {
    rx: mpsc::Receiver<Result<WatchItem>>,
    /// The error the forwarder ended with (taken once the queue is drained).
    end: Option<oneshot::Receiver<StoreError>>,
}

impl Stream for EtcdWatch {
    type Item = Result<WatchItem>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match this.rx.poll_recv(cx) {
            Poll::Ready(Some(item)) => Poll::Ready(Some(item)),
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                // The forwarder sets its error before dropping the queue's sender.
                let end = this.end.take().map(|mut end| {
                    end.try_recv().unwrap_or_else(|_| StoreError::Internal("the etcd watch task ended".to_owned()))
                });
                Poll::Ready(end.map(Err))
            }
        }
    }
}

type Responses = etcd_client::WatchResponseStream;
type Requests = etcd_client::WatchRequestSender;

/// Where a [`Forwarder`] delivers: the bounded queue of one watcher, or a
/// shared watch.
enum Sink {
    Queue {
        tx: mpsc::Sender<Result<WatchItem>>,
        /// Takes the error the watch ended with.
        end: Option<oneshot::Sender<StoreError>>,
    },
    Shared(Arc<SharedWatch>),
}

impl Sink {
    /// Resolves once nobody listens any more.
    async fn closed(&self) {
        match self {
            Sink::Queue { tx, .. } => tx.closed().await,
            Sink::Shared(shared) => shared.stopped().await,
        }
    }

    /// Delivers the changes of one response; Err ends the watch.
    fn events(&self, events: Vec<Arc<Event>>, capacity: usize) -> std::result::Result<(), Step> {
        match self {
            Sink::Queue { tx, .. } => {
                for event in events {
                    Self::push(tx, WatchItem::Event(event), capacity)?;
                }
                Ok(())
            }
            Sink::Shared(shared) => {
                shared.publish(events);
                Ok(())
            }
        }
    }

    /// Delivers a progress notification; Err ends the watch.
    fn progress(&self, revision: Revision, capacity: usize) -> std::result::Result<(), Step> {
        match self {
            Sink::Queue { tx, .. } => Self::push(tx, WatchItem::Progress(revision), capacity),
            Sink::Shared(shared) => {
                shared.progress(revision);
                Ok(())
            }
        }
    }

    fn push(tx: &mpsc::Sender<Result<WatchItem>>, item: WatchItem, capacity: usize) -> std::result::Result<(), Step> {
        match tx.try_send(Ok(item)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => Err(Step::End(Some(StoreError::WatcherTooSlow { capacity }))),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Step::End(None)),
        }
    }

    /// Ends the watch, with `error` if it failed.
    fn end(&mut self, error: Option<StoreError>) {
        let Some(error) = error else { return };
        match self {
            Sink::Queue { end, .. } => {
                if let Some(end) = end.take() {
                    let _ = end.send(error);
                }
            }
            Sink::Shared(shared) => shared.fail(error),
        }
    }
}

/// Forwards one etcd watch to a [`Sink`] (see the module documentation).
struct Forwarder {
    client: Client,
    prefix: String,
    /// The first revision not yet delivered (the start revision to re-open at).
    next: Revision,
    options: EtcdOptions,
    request_progress: bool,
}

/// What to do after handling a response.
enum Step {
    Continue,
    Reopen(String),
    End(Option<StoreError>),
}

impl Forwarder {
    async fn open(&self) -> std::result::Result<(Requests, Responses), String> {
        let options =
            WatchOptions::new().with_start_revision(self.next).with_prefix().with_prev_key().with_progress_notify();
        let mut client = self.client.watch_client();
        match tokio::time::timeout(self.options.request_timeout, client.watch(self.prefix.as_str(), Some(options)))
            .await
        {
            Ok(Ok(stream)) => Ok(stream.split()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("timed out after {:?}", self.options.request_timeout)),
        }
    }

    /// Opens the watch, retrying for up to `limit`.
    async fn open_with_retries(&self, limit: Duration) -> std::result::Result<(Requests, Responses), String> {
        let deadline = Instant::now() + limit;
        let mut backoff = Duration::from_millis(20);
        loop {
            match self.open().await {
                Ok(opened) => return Ok(opened),
                Err(e) if Instant::now() + backoff >= deadline => return Err(e),
                Err(_) => {}
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(500));
        }
    }

    async fn run(mut self, mut requests: Requests, mut responses: Responses, mut sink: Sink) {
        let interval = self.options.progress_interval.max(Duration::from_millis(1));
        loop {
            let mut idle_deadline = Instant::now() + interval;
            let step = loop {
                let received = tokio::select! {
                    () = sink.closed() => break Step::End(None),
                    () = tokio::time::sleep_until(idle_deadline), if self.request_progress => {
                        idle_deadline = Instant::now() + interval;
                        if let Err(e) = requests.request_progress().await {
                            break Step::Reopen(e.to_string());
                        }
                        continue;
                    }
                    received = responses.message() => received,
                };
                idle_deadline = Instant::now() + interval;
                match received {
                    Ok(Some(resp)) => match self.handle(resp, &sink) {
                        Step::Continue => {}
                        other => break other,
                    },
                    Ok(None) => break Step::Reopen("etcd closed the watch stream".to_owned()),
                    Err(e) => break Step::Reopen(e.to_string()),
                }
            };
            match step {
                Step::Continue => {}
                Step::End(error) => {
                    sink.end(error);
                    return;
                }
                Step::Reopen(reason) => {
                    let reopened = tokio::select! {
                        () = sink.closed() => return,
                        reopened = self.open_with_retries(self.options.watch_reconnect_timeout) => reopened,
                    };
                    match reopened {
                        Ok((q, r)) => (requests, responses) = (q, r),
                        Err(e) => {
                            sink.end(Some(StoreError::Internal(format!(
                                "the etcd watch on {:?} broke ({reason}) and could not be re-opened at revision {} within {:?}: {e}",
                                self.prefix, self.next, self.options.watch_reconnect_timeout
                            ))));
                            return;
                        }
                    }
                }
            }
        }
    }

    fn handle(&mut self, resp: WatchResponse, sink: &Sink) -> Step {
        let capacity = self.options.watch_capacity;
        if resp.compact_revision() > 0 {
            return Step::End(Some(StoreError::Expired {
                requested: self.next - 1,
                compacted: resp.compact_revision(),
            }));
        }
        if resp.canceled() {
            // E.g. "etcdserver: no leader": try again, elsewhere if need be.
            return Step::Reopen(format!("etcd canceled the watch: {}", resp.cancel_reason()));
        }
        if resp.events().is_empty() {
            if resp.created() {
                return Step::Continue;
            }
            // A progress notification: every change up to the header revision was sent.
            let Some(revision) = resp.header().map(etcd_client::ResponseHeader::revision) else {
                return Step::Continue;
            };
            if revision < self.next - 1 {
                return Step::Continue;
            }
            if let Err(step) = sink.progress(revision, capacity) {
                return step;
            }
            self.next = revision + 1;
            return Step::Continue;
        }
        let mut events = Vec::with_capacity(resp.events().len());
        for event in resp.events() {
            let item = match convert_event(event) {
                Ok(item) => item,
                Err(e) => return Step::End(Some(e)),
            };
            let revision = item.revision();
            if revision < self.next {
                continue; // Already delivered before a re-open.
            }
            self.next = revision + 1;
            events.push(Arc::new(item));
        }
        match sink.events(events, capacity) {
            Ok(()) => Step::Continue,
            Err(step) => step,
        }
    }
}

/// Converts an etcd watch event.
fn convert_event(event: &etcd_client::Event) -> Result<Event> {
    let kv = event.kv().ok_or_else(|| StoreError::Internal("etcd watch event without a key-value".to_owned()))?;
    let prev = event.prev_kv().map(convert_kv).transpose()?;
    match event.event_type() {
        EventType::Put => Ok(Event::new(EventKind::Put, convert_kv(kv)?, prev)),
        EventType::Delete => {
            // etcd's delete event carries only the key and the deletion revision;
            // the contract wants the last value with the deletion's revision.
            let deleted = convert_kv(kv)?;
            let kv = match &prev {
                Some(p) => KeyValue { mod_revision: deleted.mod_revision, ..p.clone() },
                None => deleted,
            };
            Ok(Event::new(EventKind::Delete, kv, prev))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"/registry/pods/"), b"/registry/pods0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b""), vec![0]);
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
    }

    #[test]
    fn progress_request_support_by_version() {
        assert!(!answers_progress_requests_correctly("3.4.23"));
        assert!(answers_progress_requests_correctly("3.4.25"));
        assert!(!answers_progress_requests_correctly("3.5.7"));
        assert!(answers_progress_requests_correctly("3.5.17"));
        assert!(answers_progress_requests_correctly("3.6.0"));
        assert!(!answers_progress_requests_correctly("garbage"));
    }
}
