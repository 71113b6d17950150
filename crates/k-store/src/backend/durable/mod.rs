//! The durable embedded backend, on [redb](https://docs.rs/redb): one database
//! file in a directory, every acknowledged write fsynced.
//!
//! # Layout
//!
//! Like kine's log on SQL, three tables in `<dir>/k-store.redb`:
//!
//! - `log`: revision → (kind, key, create revision, previous revision, value,
//!   previous value): every change after the compacted revision. Watches
//!   replay it; reads at an older revision undo its records after that
//!   revision (each record carries the key's previous value).
//! - `current`: key → (create revision, mod revision, value): the latest
//!   state, for reads at the latest revision.
//! - `meta`: the latest and the compacted revision.
//!
//! Reopening recovers the revision counter, the current state and the history.
//!
//! # Writes: group commit
//!
//! One dedicated thread owns the writes. Callers queue their request and await
//! an answer; the thread takes every queued request, applies them in order in
//! one write transaction (each successful write gets its own revision, and
//! compare-and-swap checks see the earlier writes of the batch), commits once
//! with `Durability::Immediate`, then answers them and offers the events to the
//! watchers. Concurrent writers thus share one fsync, and nothing blocks the
//! async runtime. Reads run on tokio's blocking pool, each in one redb read
//! transaction (a consistent snapshot).
//!
//! # Watches
//!
//! As in the memory backend: history from the log, then live events through a
//! bounded per-watcher queue; a watcher whose queue fills is ended with
//! [`StoreError::WatcherTooSlow`] and writers never wait. Progress
//! notifications are sent after `progress_interval`, once every published
//! change has been delivered.
//!
//! ```no_run
//! # async fn demo() -> k_store::Result<()> {
//! use k_store::backend::Backend;
//! use k_store::backend::durable::DurableBackend;
//!
//! let backend = DurableBackend::open("/var/lib/k/store")?;
//! let rev = backend.create("/registry/pods/default/web", "{}".into()).await?;
//! assert_eq!(backend.get("/registry/pods/default/web", None).await?.unwrap().mod_revision, rev);
//! # Ok(())
//! # }
//! ```

mod codec;
mod read;
mod watch;
mod writer;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use redb::Database;
use tokio::sync::oneshot;

use self::codec::{CURRENT, LOG, META};
use self::read::Snapshot;
use self::watch::Hub;
use self::writer::{Op, Reply, Request, Writer};
use crate::backend::{Backend, KeyValue, RangePage, Revision, WatchStream};
use crate::error::{Result, StoreError};

/// The database file's name in the backend's directory.
pub const DATABASE_FILE: &str = "k-store.redb";

/// Upper bound of [`DurableOptions::watch_capacity`] (tokio's channels have a hard limit).
const MAX_WATCH_CAPACITY: usize = usize::MAX >> 4;

/// Tuning of a [`DurableBackend`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurableOptions {
    /// Changes buffered per watcher before it is ended with
    /// [`StoreError::WatcherTooSlow`] (default 10 000; at least 1, at most
    /// `usize::MAX / 16`).
    pub watch_capacity: usize,
    /// Past revisions kept in the log before the oldest are compacted
    /// automatically (default 100 000); 0 keeps everything until
    /// [`Backend::compact`].
    pub history: usize,
    /// How often an idle watch stream reports progress (default 5 s; at
    /// least 1 ms).
    pub progress_interval: Duration,
    /// redb's page cache, in bytes (default 64 MiB).
    pub cache_size: usize,
}

impl Default for DurableOptions {
    fn default() -> Self {
        Self {
            watch_capacity: 10_000,
            history: 100_000,
            progress_interval: Duration::from_secs(5),
            cache_size: 64 * 1024 * 1024,
        }
    }
}

/// What the writer thread, readers and watch streams share.
struct Shared {
    db: Database,
    hub: Hub,
    /// The latest committed revision (stored after each commit, before answering).
    revision: AtomicI64,
    /// The compacted revision.
    compacted: AtomicI64,
    /// Durable commits made since open.
    commits: AtomicU64,
    progress_interval: Duration,
}

/// A storage failure of redb, as a store error.
fn db_err(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Internal(format!("durable backend: {}", e.into()))
}

/// The durable embedded backend: a redb database with a group-committing
/// writer thread. See the [module documentation](self).
///
/// Dropping it finishes the queued writes and stops the writer thread; the
/// database file is closed once the watch streams are dropped too.
pub struct DurableBackend {
    shared: Arc<Shared>,
    options: DurableOptions,
    path: PathBuf,
    requests: Option<mpsc::Sender<Request>>,
    writer: Option<JoinHandle<()>>,
}

impl fmt::Debug for DurableBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DurableBackend")
            .field("path", &self.path)
            .field("revision", &self.shared.revision.load(Ordering::Relaxed))
            .field("compacted", &self.shared.compacted.load(Ordering::Relaxed))
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl DurableBackend {
    /// Opens (creating if needed) the store in `dir`, with default options.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(dir, DurableOptions::default())
    }

    /// Opens (creating if needed) the store in `dir`.
    ///
    /// Fails if the directory cannot be created or the database is open
    /// elsewhere. Opening does blocking file I/O (after a crash, redb repairs
    /// the file, which takes time proportional to its size): open before
    /// serving, or from `spawn_blocking`.
    pub fn open_with(dir: impl AsRef<Path>, options: DurableOptions) -> Result<Self> {
        let options = DurableOptions {
            watch_capacity: options.watch_capacity.clamp(1, MAX_WATCH_CAPACITY),
            progress_interval: options.progress_interval.max(Duration::from_millis(1)),
            ..options
        };
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Internal(format!("durable backend: creating {}: {e}", dir.display())))?;
        let path = dir.join(DATABASE_FILE);
        let db = Database::builder().set_cache_size(options.cache_size).create(&path).map_err(db_err)?;
        // Create the tables, so that readers always find them.
        let txn = db.begin_write().map_err(db_err)?;
        txn.open_table(LOG).map_err(db_err)?;
        txn.open_table(CURRENT).map_err(db_err)?;
        txn.open_table(META).map_err(db_err)?;
        txn.commit().map_err(db_err)?;

        let (head, compacted) = {
            let snap = Snapshot::begin(&db)?;
            (snap.head, snap.compacted)
        };
        let shared = Arc::new(Shared {
            db,
            hub: Hub::new(head, options.watch_capacity),
            revision: AtomicI64::new(head),
            compacted: AtomicI64::new(compacted),
            commits: AtomicU64::new(0),
            progress_interval: options.progress_interval,
        });
        let (tx, rx) = mpsc::channel();
        let history = i64::try_from(options.history).unwrap_or(i64::MAX);
        let writer = Writer::new(shared.clone(), rx, head, compacted, history);
        let handle = std::thread::Builder::new()
            .name("k-store-durable-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| StoreError::Internal(format!("durable backend: starting the writer thread: {e}")))?;
        Ok(Self { shared, options, path, requests: Some(tx), writer: Some(handle) })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many durable commits (each one fsync) the writer thread has made
    /// since open; concurrent writes share commits, so under load this grows
    /// much slower than the revision.
    pub fn commits(&self) -> u64 {
        self.shared.commits.load(Ordering::Relaxed)
    }

    /// The options in effect (after clamping).
    pub fn options(&self) -> &DurableOptions {
        &self.options
    }

    async fn write(&self, op: Op) -> Result<Reply> {
        let gone = || StoreError::Internal("durable backend: the writer thread has stopped".into());
        let (reply, answer) = oneshot::channel();
        self.requests.as_ref().ok_or_else(gone)?.send(Request { op, reply }).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    async fn read<T: Send + 'static>(&self, f: impl FnOnce(&Snapshot) -> Result<T> + Send + 'static) -> Result<T> {
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || f(&Snapshot::begin(&shared.db)?))
            .await
            .map_err(|e| StoreError::Internal(format!("durable backend: read failed: {e}")))?
    }
}

impl Drop for DurableBackend {
    fn drop(&mut self) {
        // The writer finishes the queued requests, then stops.
        self.requests.take();
        if let Some(handle) = self.writer.take() {
            let _ = handle.join();
        }
    }
}

fn unexpected(reply: Reply) -> StoreError {
    StoreError::Internal(format!("durable backend: unexpected writer reply {reply:?}"))
}

#[async_trait::async_trait]
impl Backend for DurableBackend {
    async fn revision(&self) -> Result<Revision> {
        Ok(self.shared.revision.load(Ordering::Acquire))
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        Ok(self.shared.compacted.load(Ordering::Acquire))
    }

    async fn get(&self, key: &str, at: Option<Revision>) -> Result<Option<KeyValue>> {
        let key = key.to_owned();
        self.read(move |s| s.get(&key, at)).await
    }

    async fn range(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        at: Option<Revision>,
    ) -> Result<RangePage> {
        let prefix = prefix.to_owned();
        let start_after = start_after.map(str::to_owned);
        self.read(move |s| s.range(&prefix, start_after.as_deref(), limit, at)).await
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<Revision> {
        match self.write(Op::Create { key: key.to_owned(), value }).await? {
            Reply::Revision(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<Revision> {
        match self.write(Op::Update { key: key.to_owned(), value, expected }).await? {
            Reply::Revision(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(Revision, KeyValue)> {
        match self.write(Op::Delete { key: key.to_owned(), expected }).await? {
            Reply::Deleted(r, kv) => Ok((r, kv)),
            other => Err(unexpected(other)),
        }
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        if after < 0 {
            return Err(StoreError::BadRequest(format!("invalid watch revision {after}")));
        }
        let compacted = self.shared.compacted.load(Ordering::Acquire);
        if after < compacted {
            return Err(StoreError::Expired { requested: after, compacted });
        }
        Ok(watch::start(&self.shared, prefix, after))
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        match self.write(Op::Compact { revision }).await? {
            Reply::Compacted => Ok(()),
            other => Err(unexpected(other)),
        }
    }
}
