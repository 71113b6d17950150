//! Tables and the byte encoding of their values.
//!
//! - `log`: revision → [`LogRecord`] (every change after the compacted revision);
//! - `current`: key → (create_revision, mod_revision, value), the latest state;
//! - `meta`: name → i64 (`revision`, `compacted`).
//!
//! Integers are little-endian; lengths are u32.

use bytes::Bytes;
use redb::TableDefinition;

use crate::backend::{Event, EventKind, KeyValue, Revision};
use crate::error::{Result, StoreError};

/// Revision → encoded [`LogRecord`].
pub(super) const LOG: TableDefinition<'static, u64, &[u8]> = TableDefinition::new("log");
/// Key → encoded [`Current`].
pub(super) const CURRENT: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("current");
/// Name → value.
pub(super) const META: TableDefinition<'static, &str, i64> = TableDefinition::new("meta");

/// `meta` entry: the latest revision (kept so that a log compacted to its end still knows it).
pub(super) const META_REVISION: &str = "revision";
/// `meta` entry: the compacted revision.
pub(super) const META_COMPACTED: &str = "compacted";

const PUT: u8 = 0;
const DELETE: u8 = 1;

fn corrupt(what: &str) -> StoreError {
    StoreError::Internal(format!("durable backend: corrupt {what} record"))
}

fn take<'a>(buf: &mut &'a [u8], n: usize, what: &str) -> Result<&'a [u8]> {
    if buf.len() < n {
        return Err(corrupt(what));
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Ok(head)
}

fn take_i64(buf: &mut &[u8], what: &str) -> Result<i64> {
    let b = take(buf, 8, what)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(i64::from_le_bytes(a))
}

fn take_len(buf: &mut &[u8], what: &str) -> Result<usize> {
    let b = take(buf, 4, what)?;
    let mut a = [0u8; 4];
    a.copy_from_slice(b);
    usize::try_from(u32::from_le_bytes(a)).map_err(|_| corrupt(what))
}

fn put_len(out: &mut Vec<u8>, len: usize) -> Result<()> {
    let len = u32::try_from(len).map_err(|_| StoreError::BadRequest("key or value larger than 4 GiB".into()))?;
    out.extend_from_slice(&len.to_le_bytes());
    Ok(())
}

/// The latest state of a key (`current` table).
#[derive(Debug, Clone)]
pub(super) struct Current {
    pub(super) create_revision: Revision,
    pub(super) mod_revision: Revision,
    pub(super) value: Bytes,
}

impl Current {
    pub(super) fn encode(create_revision: Revision, mod_revision: Revision, value: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + value.len());
        out.extend_from_slice(&create_revision.to_le_bytes());
        out.extend_from_slice(&mod_revision.to_le_bytes());
        out.extend_from_slice(value);
        out
    }

    pub(super) fn decode(mut buf: &[u8]) -> Result<Self> {
        let create_revision = take_i64(&mut buf, "current")?;
        let mod_revision = take_i64(&mut buf, "current")?;
        Ok(Self { create_revision, mod_revision, value: Bytes::copy_from_slice(buf) })
    }

    pub(super) fn into_kv(self, key: String) -> KeyValue {
        KeyValue { key, value: self.value, create_revision: self.create_revision, mod_revision: self.mod_revision }
    }
}

/// One change (`log` table): what the key became, and what it was before.
#[derive(Debug, Clone)]
pub(super) struct LogRecord {
    pub(super) kind: EventKind,
    pub(super) key: String,
    /// The key's create revision (for a delete: of the deleted value).
    pub(super) create_revision: Revision,
    /// The previous value's mod revision; 0 when the key did not exist before.
    pub(super) prev_revision: Revision,
    /// The new value (empty for a delete).
    pub(super) value: Bytes,
    /// The previous value (empty when there was none).
    pub(super) old_value: Bytes,
}

impl LogRecord {
    pub(super) fn encode(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(29 + self.key.len() + self.value.len() + self.old_value.len());
        out.push(match self.kind {
            EventKind::Put => PUT,
            EventKind::Delete => DELETE,
        });
        out.extend_from_slice(&self.create_revision.to_le_bytes());
        out.extend_from_slice(&self.prev_revision.to_le_bytes());
        put_len(&mut out, self.key.len())?;
        out.extend_from_slice(self.key.as_bytes());
        put_len(&mut out, self.value.len())?;
        out.extend_from_slice(&self.value);
        out.extend_from_slice(&self.old_value);
        Ok(out)
    }

    pub(super) fn decode(mut buf: &[u8]) -> Result<Self> {
        let kind = match take(&mut buf, 1, "log")?[0] {
            PUT => EventKind::Put,
            DELETE => EventKind::Delete,
            _ => return Err(corrupt("log")),
        };
        let create_revision = take_i64(&mut buf, "log")?;
        let prev_revision = take_i64(&mut buf, "log")?;
        let klen = take_len(&mut buf, "log")?;
        let key = std::str::from_utf8(take(&mut buf, klen, "log")?).map_err(|_| corrupt("log"))?.to_owned();
        let vlen = take_len(&mut buf, "log")?;
        let value = Bytes::copy_from_slice(take(&mut buf, vlen, "log")?);
        let old_value = Bytes::copy_from_slice(buf);
        Ok(Self { kind, key, create_revision, prev_revision, value, old_value })
    }

    /// The key's state just before this change (`None` if it did not exist).
    pub(super) fn before(&self) -> Option<KeyValue> {
        (self.prev_revision != 0).then(|| KeyValue {
            key: self.key.clone(),
            value: self.old_value.clone(),
            create_revision: self.create_revision,
            mod_revision: self.prev_revision,
        })
    }

    /// The watch event of this change, made at `revision`.
    pub(super) fn into_event(self, revision: Revision) -> Event {
        let prev = self.before();
        let value = match self.kind {
            EventKind::Put => self.value,
            EventKind::Delete => self.old_value,
        };
        Event::new(
            self.kind,
            KeyValue { key: self.key, value, create_revision: self.create_revision, mod_revision: revision },
            prev,
        )
    }
}

/// A revision as a `log` key (revisions are never negative).
pub(super) fn log_key(revision: Revision) -> u64 {
    u64::try_from(revision).unwrap_or(0)
}

/// A `log` key as a revision.
pub(super) fn revision_of(key: u64) -> Revision {
    i64::try_from(key).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_record_round_trip() {
        let r = LogRecord {
            kind: EventKind::Delete,
            key: "/registry/pods/a/b".into(),
            create_revision: 3,
            prev_revision: 7,
            value: Bytes::new(),
            old_value: Bytes::from_static(b"{\"x\":1}"),
        };
        let d = LogRecord::decode(&r.encode().unwrap()).unwrap();
        assert_eq!(d.kind, EventKind::Delete);
        assert_eq!(d.key, r.key);
        assert_eq!((d.create_revision, d.prev_revision), (3, 7));
        assert_eq!(d.old_value, r.old_value);
        assert!(d.value.is_empty());
        let ev = d.into_event(9);
        assert_eq!(ev.kv.mod_revision, 9);
        assert_eq!(ev.kv.value, r.old_value);
        assert_eq!(ev.prev.unwrap().mod_revision, 7);
        assert!(LogRecord::decode(&[0, 1, 2]).is_err());
    }

    #[test]
    fn current_round_trip() {
        let c = Current::decode(&Current::encode(2, 5, b"v")).unwrap();
        assert_eq!((c.create_revision, c.mod_revision, &c.value[..]), (2, 5, &b"v"[..]));
        assert!(Current::decode(&[1, 2]).is_err());
    }
}
