//! The writer thread: group commit.
//!
//! Writes arrive on a channel. The thread takes every request waiting (up to
//! [`MAX_BATCH`]), applies them in arrival order in one redb write
//! transaction — each successful write gets the next revision, and checks see
//! the writes of earlier requests of the batch — commits once with
//! `Durability::Immediate` (fsync), and only then answers the requests and
//! hands the events to the watchers. Requests that fail their check
//! (AlreadyExists, Conflict, NotFound) take no revision and do not affect the
//! rest of the batch; a storage failure fails the whole batch and changes
//! nothing.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use bytes::Bytes;
use redb::{Durability, ReadableTable, Table};
use tokio::sync::oneshot;

use super::codec::{CURRENT, Current, LOG, LogRecord, META, META_COMPACTED, META_REVISION, log_key};
use super::{Shared, db_err};
use crate::backend::{Event, EventKind, KeyValue, Revision};
use crate::error::{Result, StoreError};

/// The most requests committed together.
const MAX_BATCH: usize = 1024;

/// A write.
#[derive(Debug)]
pub(super) enum Op {
    Create { key: String, value: Bytes },
    Update { key: String, value: Bytes, expected: Revision },
    Delete { key: String, expected: Option<Revision> },
    Compact { revision: Revision },
}

/// What a write answers.
#[derive(Debug)]
pub(super) enum Reply {
    Revision(Revision),
    Deleted(Revision, KeyValue),
    Compacted,
}

/// A write and where to answer it.
#[derive(Debug)]
pub(super) struct Request {
    pub(super) op: Op,
    pub(super) reply: oneshot::Sender<Result<Reply>>,
}

/// The writer thread's state.
pub(super) struct Writer {
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Request>,
    head: Revision,
    compacted: Revision,
    /// Revisions of history kept by automatic compaction (0 = no automatic compaction).
    history: i64,
}

impl Drop for Writer {
    /// Ends the live watches when the thread stops (the backend was dropped,
    /// or the thread panicked).
    fn drop(&mut self) {
        self.shared.hub.close();
    }
}

/// The tables of one write transaction.
struct Tables<'t> {
    current: Table<'t, &'static str, &'static [u8]>,
    log: Table<'t, u64, &'static [u8]>,
    meta: Table<'t, &'static str, i64>,
}

impl Writer {
    pub(super) fn new(
        shared: Arc<Shared>,
        rx: mpsc::Receiver<Request>,
        head: Revision,
        compacted: Revision,
        history: i64,
    ) -> Self {
        Self { shared, rx, head, compacted, history }
    }

    /// Serves writes until every sender is gone.
    pub(super) fn run(mut self) {
        while let Ok(first) = self.rx.recv() {
            let mut batch = Vec::with_capacity(64);
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match self.rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            self.commit_batch(batch);
        }
    }

    fn commit_batch(&mut self, batch: Vec<Request>) {
        let (head, compacted) = (self.head, self.compacted);
        let mut events = Vec::new();
        let outcome = self.apply(&batch, &mut events);
        let replies = match outcome {
            Ok(replies) => replies,
            Err(e) => {
                self.head = head;
                self.compacted = compacted;
                events.clear();
                batch.iter().map(|_| Err(e.clone())).collect()
            }
        };
        self.shared.revision.store(self.head, Ordering::Release);
        self.shared.compacted.store(self.compacted, Ordering::Release);
        for (req, reply) in batch.into_iter().zip(replies) {
            // The caller may have gone away; its write stands.
            let _ = req.reply.send(reply);
        }
        self.shared.hub.publish(events, self.head);
    }

    /// Applies the batch in one transaction and commits it; the answers, in order.
    fn apply(&mut self, batch: &[Request], events: &mut Vec<Event>) -> Result<Vec<Result<Reply>>> {
        let mut txn = self.shared.db.begin_write().map_err(db_err)?;
        txn.set_durability(Durability::Immediate).map_err(db_err)?;
        let (head, compacted) = (self.head, self.compacted);
        let mut replies = Vec::with_capacity(batch.len());
        {
            let mut t = Tables {
                current: txn.open_table(CURRENT).map_err(db_err)?,
                log: txn.open_table(LOG).map_err(db_err)?,
                meta: txn.open_table(META).map_err(db_err)?,
            };
            for req in batch {
                replies.push(self.apply_one(&mut t, &req.op, events)?);
            }
            if self.history > 0 && self.head - self.history > self.compacted {
                self.compact(&mut t, self.head - self.history)?;
            }
            if self.head != head {
                t.meta.insert(META_REVISION, self.head).map_err(db_err)?;
            }
            if self.compacted != compacted {
                t.meta.insert(META_COMPACTED, self.compacted).map_err(db_err)?;
            }
        }
        if self.head == head && self.compacted == compacted {
            txn.abort().map_err(db_err)?;
        } else {
            txn.commit().map_err(db_err)?;
            self.shared.commits.fetch_add(1, Ordering::Relaxed);
        }
        Ok(replies)
    }

    /// Applies one request; the outer error is a storage failure, the inner one the request's answer.
    fn apply_one(&mut self, t: &mut Tables<'_>, op: &Op, events: &mut Vec<Event>) -> Result<Result<Reply>> {
        let existing = |t: &Tables<'_>, key: &str| -> Result<Option<Current>> {
            t.current.get(key).map_err(db_err)?.map(|g| Current::decode(g.value())).transpose()
        };
        Ok(match op {
            Op::Create { key, value } => {
                if existing(t, key)?.is_some() {
                    Err(StoreError::key_exists(key))
                } else {
                    let rev = self.head + 1;
                    let rec = LogRecord {
                        kind: EventKind::Put,
                        key: key.clone(),
                        create_revision: rev,
                        prev_revision: 0,
                        value: value.clone(),
                        old_value: Bytes::new(),
                    };
                    self.write(t, rev, rec, events)?;
                    Ok(Reply::Revision(rev))
                }
            }
            Op::Update { key, value, expected } => match existing(t, key)? {
                None => Err(StoreError::key_not_found(key)),
                Some(cur) if cur.mod_revision != *expected => Err(StoreError::key_conflict(key)),
                Some(cur) => {
                    let rev = self.head + 1;
                    let rec = LogRecord {
                        kind: EventKind::Put,
                        key: key.clone(),
                        create_revision: cur.create_revision,
                        prev_revision: cur.mod_revision,
                        value: value.clone(),
                        old_value: cur.value,
                    };
                    self.write(t, rev, rec, events)?;
                    Ok(Reply::Revision(rev))
                }
            },
            Op::Delete { key, expected } => match existing(t, key)? {
                None => Err(StoreError::key_not_found(key)),
                Some(cur) if expected.is_some_and(|e| e != cur.mod_revision) => Err(StoreError::key_conflict(key)),
                Some(cur) => {
                    let rev = self.head + 1;
                    let deleted = cur.clone().into_kv(key.clone());
                    let rec = LogRecord {
                        kind: EventKind::Delete,
                        key: key.clone(),
                        create_revision: cur.create_revision,
                        prev_revision: cur.mod_revision,
                        value: Bytes::new(),
                        old_value: cur.value,
                    };
                    self.write(t, rev, rec, events)?;
                    Ok(Reply::Deleted(rev, deleted))
                }
            },
            Op::Compact { revision } => {
                if *revision > self.head {
                    Err(StoreError::TooLargeResourceVersion { requested: *revision, current: self.head })
                } else {
                    self.compact(t, *revision)?;
                    Ok(Reply::Compacted)
                }
            }
        })
    }

    /// Records a change at `rev`: the log record, the current state, the event.
    fn write(&mut self, t: &mut Tables<'_>, rev: Revision, rec: LogRecord, events: &mut Vec<Event>) -> Result<()> {
        t.log.insert(log_key(rev), rec.encode()?.as_slice()).map_err(db_err)?;
        match rec.kind {
            EventKind::Put => {
                let cur = Current::encode(rec.create_revision, rev, &rec.value);
                t.current.insert(rec.key.as_str(), cur.as_slice()).map_err(db_err)?;
            }
            EventKind::Delete => {
                t.current.remove(rec.key.as_str()).map_err(db_err)?;
            }
        }
        self.head = rev;
        events.push(rec.into_event(rev));
        Ok(())
    }

    /// Drops the log records at and before `revision`.
    fn compact(&mut self, t: &mut Tables<'_>, revision: Revision) -> Result<()> {
        if revision <= self.compacted {
            return Ok(());
        }
        t.log.retain_in(..=log_key(revision), |_, _| false).map_err(db_err)?;
        self.compacted = revision;
        Ok(())
    }
}
