//! Reads from one consistent snapshot of the database (a redb read transaction).
//!
//! The latest state comes from the `current` table. The state at an older
//! revision `at` is the latest state with every change after `at` undone: the
//! log records after `at` carry each key's previous value, so the first record
//! of a key after `at` says what the key was at `at`.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::ops::Bound;

use redb::{Database, ReadTransaction, ReadableDatabase};

use super::codec::{CURRENT, Current, LOG, LogRecord, META, META_COMPACTED, META_REVISION, log_key, revision_of};
use super::db_err;
use crate::backend::{Event, KeyValue, RangePage, Revision};
use crate::error::{Result, StoreError};

/// A read transaction with the revisions it sees.
pub(super) struct Snapshot {
    txn: ReadTransaction,
    /// The latest revision in the snapshot.
    pub(super) head: Revision,
    /// The compacted revision in the snapshot.
    pub(super) compacted: Revision,
}

impl Snapshot {
    /// Begins a read transaction.
    pub(super) fn begin(db: &Database) -> Result<Self> {
        let txn = db.begin_read().map_err(db_err)?;
        let (head, compacted) = {
            let meta = txn.open_table(META).map_err(db_err)?;
            let get = |name: &str| -> Result<Revision> {
                Ok(meta.get(name).map_err(db_err)?.map(|g| g.value()).unwrap_or(0))
            };
            (get(META_REVISION)?, get(META_COMPACTED)?)
        };
        Ok(Self { txn, head, compacted })
    }

    /// The revision a read at `at` is answered at, or why it cannot be.
    fn read_revision(&self, at: Option<Revision>) -> Result<Revision> {
        match at {
            None => Ok(self.head),
            Some(r) if r < 0 => Err(StoreError::BadRequest(format!("invalid revision {r}"))),
            Some(r) if r > self.head => Err(StoreError::TooLargeResourceVersion { requested: r, current: self.head }),
            Some(r) if r < self.compacted => Err(StoreError::Expired { requested: r, compacted: self.compacted }),
            Some(r) => Ok(r),
        }
    }

    /// Visits the log records with revisions in `(after, upto]`, in order, until `f` says stop.
    fn scan_log(&self, after: Revision, upto: Revision, mut f: impl FnMut(Revision, LogRecord) -> bool) -> Result<()> {
        if after >= upto {
            return Ok(());
        }
        let log = self.txn.open_table(LOG).map_err(db_err)?;
        for entry in log.range(log_key(after + 1)..=log_key(upto)).map_err(db_err)? {
            let (k, v) = entry.map_err(db_err)?;
            if !f(revision_of(k.value()), LogRecord::decode(v.value())?) {
                break;
            }
        }
        Ok(())
    }

    /// A key's value at the latest revision or at `at`.
    pub(super) fn get(&self, key: &str, at: Option<Revision>) -> Result<Option<KeyValue>> {
        let at = self.read_revision(at)?;
        let mut undone = None;
        self.scan_log(at, self.head, |_, rec| {
            if rec.key == key {
                undone = Some(rec.before());
                false
            } else {
                true
            }
        })?;
        if let Some(before) = undone {
            return Ok(before);
        }
        let current = self.txn.open_table(CURRENT).map_err(db_err)?;
        let found = current.get(key).map_err(db_err)?;
        found.map(|g| Current::decode(g.value()).map(|c| c.into_kv(key.to_owned()))).transpose()
    }

    /// Keys under `prefix`, strictly after `start_after`, at most `limit` (0 = all).
    pub(super) fn range(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        at: Option<Revision>,
    ) -> Result<RangePage> {
        let at = self.read_revision(at)?;
        let after = start_after.filter(|s| *s >= prefix);
        let wanted = |k: &str| k.starts_with(prefix) && after.is_none_or(|a| k > a);

        // Keys changed after `at`: their state at `at`.
        let mut undone: BTreeMap<String, Option<KeyValue>> = BTreeMap::new();
        self.scan_log(at, self.head, |_, rec| {
            if wanted(&rec.key)
                && let Entry::Vacant(e) = undone.entry(rec.key.clone())
            {
                e.insert(rec.before());
            }
            true
        })?;

        let current = self.txn.open_table(CURRENT).map_err(db_err)?;
        let lower = match after {
            Some(a) => Bound::Excluded(a),
            None => Bound::Included(prefix),
        };
        let mut iter = current.range::<&str>((lower, Bound::Unbounded)).map_err(db_err)?;
        let mut exhausted = false;
        let mut next_current = || -> Result<Option<KeyValue>> {
            if exhausted {
                return Ok(None);
            }
            match iter.next() {
                Some(entry) => {
                    let (k, v) = entry.map_err(db_err)?;
                    let k = k.value();
                    if k.starts_with(prefix) {
                        return Ok(Some(Current::decode(v.value())?.into_kv(k.to_owned())));
                    }
                    exhausted = true;
                    Ok(None)
                }
                None => {
                    exhausted = true;
                    Ok(None)
                }
            }
        };

        let mut kvs = Vec::new();
        let mut more = false;
        let mut undone = undone.into_iter().peekable();
        let mut cur = next_current()?;
        loop {
            let take_current = match (&cur, undone.peek()) {
                (None, None) => break,
                (Some(kv), Some((k, _))) => {
                    if kv.key == *k {
                        // Changed after `at`: the undone state wins.
                        cur = next_current()?;
                        false
                    } else {
                        kv.key < *k
                    }
                }
                (Some(_), None) => true,
                (None, Some(_)) => false,
            };
            let item = if take_current {
                let kv = cur.take();
                cur = next_current()?;
                kv
            } else {
                undone.next().and_then(|(_, state)| state)
            };
            if let Some(kv) = item {
                if limit > 0 && kvs.len() == limit {
                    more = true;
                    break;
                }
                kvs.push(kv);
            }
        }
        Ok(RangePage { kvs, revision: at, more })
    }

    /// The events under `prefix` with revisions in `(after, upto]` (at most up to the
    /// snapshot's head); Expired if they were compacted.
    pub(super) fn events(&self, prefix: &str, after: Revision, upto: Revision) -> Result<Vec<Event>> {
        if after < self.compacted {
            return Err(StoreError::Expired { requested: after, compacted: self.compacted });
        }
        let mut out = Vec::new();
        self.scan_log(after, upto.min(self.head), |rev, rec| {
            if rec.key.starts_with(prefix) {
                out.push(rec.into_event(rev));
            }
            true
        })?;
        Ok(out)
    }
}
