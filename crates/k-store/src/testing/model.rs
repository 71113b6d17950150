//! A reference model of the backend semantics, checked against a backend on
//! sequences of operations.
//!
//! The model is deliberately naive: it keeps the log of every change and
//! computes the state at a revision by replaying the log from the start.
//! [`check_sequence`] applies [`Op`]s to a backend and to the model and
//! panics at the first difference (results, errors, revisions, and at the
//! end the watch history). Property tests generate the ops (see
//! `tests/model.rs` of this crate for a proptest strategy); [`random_ops`]
//! makes seeded sequences without extra dependencies.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::backend::{Backend, Event, EventKind, KeyValue, RangePage, Revision};
use crate::error::StoreError;

use super::support::{Config, expect_watch_error, next_event, value};

/// Keys the operations touch, relative to the sequence's root.
pub const KEYS: [&str; 5] = ["a/1", "a/2", "ab/1", "b/1", "b/2"];

/// Prefixes the ranges read, relative to the root (`a` covers `a/` and `ab/`;
/// `c/` is empty).
pub const PREFIXES: [&str; 6] = ["", "a/", "ab/", "b/", "a", "c/"];

/// The expected revision an operation passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The key's current `mod_revision` (succeeds if the key exists).
    Current,
    /// One below it (Conflict if the key exists).
    Stale,
}

/// The revision a read asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// The latest (`None`).
    Latest,
    /// This many revisions before the latest (at least 0); Expired if compacted.
    Back(u8),
    /// This many revisions after the next one: TooLargeResourceVersion.
    Future(u8),
}

/// One operation of a sequence. Key and prefix indices are taken modulo
/// [`KEYS`] and [`PREFIXES`]; values are written as `v<value>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `create(key, value)`.
    Create {
        /// Index into [`KEYS`].
        key: usize,
        /// Value number.
        value: u8,
    },
    /// `update(key, value, expected)`.
    Update {
        /// Index into [`KEYS`].
        key: usize,
        /// Value number.
        value: u8,
        /// Right or stale expected revision.
        expected: Expect,
    },
    /// `delete(key, expected)`.
    Delete {
        /// Index into [`KEYS`].
        key: usize,
        /// No precondition, or a right or stale one.
        expected: Option<Expect>,
    },
    /// `get(key, at)`.
    Get {
        /// Index into [`KEYS`].
        key: usize,
        /// Which revision.
        at: At,
    },
    /// `range(prefix, start_after, limit, at)`.
    Range {
        /// Index into [`PREFIXES`].
        prefix: usize,
        /// Index into [`KEYS`] to start after.
        start_after: Option<usize>,
        /// Page size (0 = all).
        limit: usize,
        /// Which revision.
        at: At,
    },
    /// `compact(latest - back)`, skipped when that is not above the compacted revision.
    Compact {
        /// How far behind the latest revision.
        back: u8,
    },
    /// `watch(root, latest - back)`: the events after it (Expired if compacted).
    Watch {
        /// How far behind the latest revision.
        back: u8,
    },
}

/// What an operation returned, comparable between backend and model.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Written(Revision),
    Deleted(Revision, KeyValue),
    Value(Option<KeyValue>),
    Page(RangePage),
    Done,
    Failed(Failure),
}

/// An error, reduced to what the contract specifies.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Failure {
    NotFound,
    AlreadyExists,
    Conflict,
    Expired { requested: Revision, compacted: Revision },
    TooLarge { requested: Revision, current: Revision },
    Other(String),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => Self::NotFound,
            StoreError::AlreadyExists { .. } => Self::AlreadyExists,
            StoreError::Conflict { .. } => Self::Conflict,
            StoreError::Expired { requested, compacted } => Self::Expired { requested, compacted },
            StoreError::TooLargeResourceVersion { requested, current } => Self::TooLarge { requested, current },
            other => Self::Other(format!("{other:?}")),
        }
    }
}

fn outcome<T>(r: crate::Result<T>, f: impl FnOnce(T) -> Outcome) -> Outcome {
    match r {
        Ok(v) => f(v),
        Err(e) => Outcome::Failed(e.into()),
    }
}

/// The reference model.
struct Model {
    root: String,
    revision: Revision,
    compacted: Revision,
    /// Every change made by the sequence, in order.
    log: Vec<Event>,
    current: BTreeMap<String, KeyValue>,
}

impl Model {
    fn key(&self, i: usize) -> String {
        format!("{}{}", self.root, KEYS[i % KEYS.len()])
    }

    fn state_at(&self, at: Revision) -> BTreeMap<String, KeyValue> {
        let mut state = BTreeMap::new();
        for e in self.log.iter().take_while(|e| e.revision() <= at) {
            match e.kind {
                EventKind::Put => state.insert(e.kv.key.clone(), e.kv.clone()),
                EventKind::Delete => state.remove(&e.kv.key),
            };
        }
        state
    }

    /// The revision to read at, or the failure the read must give.
    fn resolve(&self, at: At) -> Result<Option<Revision>, Failure> {
        match at {
            At::Latest => Ok(None),
            At::Back(n) => {
                let at = (self.revision - Revision::from(n)).max(0);
                if at < self.compacted {
                    Err(Failure::Expired { requested: at, compacted: self.compacted })
                } else {
                    Ok(Some(at))
                }
            }
            At::Future(n) => {
                Err(Failure::TooLarge { requested: self.revision + 1 + Revision::from(n), current: self.revision })
            }
        }
    }

    fn record(&mut self, event: Event) -> Revision {
        self.revision = event.revision();
        match event.kind {
            EventKind::Put => self.current.insert(event.kv.key.clone(), event.kv.clone()),
            EventKind::Delete => self.current.remove(&event.kv.key),
        };
        self.log.push(event);
        self.revision
    }

    fn expected_revision(&self, key: &str, expected: Expect) -> Revision {
        match (self.current.get(key), expected) {
            (Some(kv), Expect::Current) => kv.mod_revision,
            (Some(kv), Expect::Stale) => kv.mod_revision - 1,
            // Absent: any revision gives NotFound.
            (None, _) => self.revision,
        }
    }
}

/// Checks `ops` against the model on a fresh backend, under the root `/model/`.
///
/// # Panics
///
/// At the first difference between the backend and the model, saying which
/// operation and what differed.
pub async fn check_sequence(backend: &dyn Backend, ops: &[Op]) {
    check_sequence_under(backend, "/model/", ops).await;
}

/// Checks `ops` against the model, with every key under `root` (which must
/// end with `/` and hold no key yet; other keys of the backend are ignored,
/// but nothing else may write while the check runs).
///
/// # Panics
///
/// At the first difference between the backend and the model.
pub async fn check_sequence_under(backend: &dyn Backend, root: &str, ops: &[Op]) {
    let b = backend;
    let mut m = Model {
        root: root.to_owned(),
        revision: b.revision().await.unwrap(),
        compacted: b.compacted_revision().await.unwrap(),
        log: Vec::new(),
        current: BTreeMap::new(),
    };
    assert!(b.range(root, None, 0, None).await.unwrap().kvs.is_empty(), "the root {root} is not empty");

    for (i, op) in ops.iter().enumerate() {
        let (actual, expected) = match *op {
            Op::Create { key, value: v } => {
                let key = m.key(key);
                let actual = outcome(b.create(&key, value(&format!("v{v}"))).await, Outcome::Written);
                let expected = if m.current.contains_key(&key) {
                    Outcome::Failed(Failure::AlreadyExists)
                } else {
                    let rev = m.revision + 1;
                    let kv = KeyValue { key, value: value(&format!("v{v}")), create_revision: rev, mod_revision: rev };
                    Outcome::Written(m.record(Event::new(EventKind::Put, kv, None)))
                };
                (actual, expected)
            }
            Op::Update { key, value: v, expected } => {
                let key = m.key(key);
                let exp = m.expected_revision(&key, expected);
                let actual = outcome(b.update(&key, value(&format!("v{v}")), exp).await, Outcome::Written);
                let expected = match m.current.get(&key) {
                    None => Outcome::Failed(Failure::NotFound),
                    Some(kv) if kv.mod_revision != exp => Outcome::Failed(Failure::Conflict),
                    Some(prev) => {
                        let rev = m.revision + 1;
                        let kv = KeyValue { value: value(&format!("v{v}")), mod_revision: rev, ..prev.clone() };
                        let event = Event::new(EventKind::Put, kv, Some(prev.clone()));
                        Outcome::Written(m.record(event))
                    }
                };
                (actual, expected)
            }
            Op::Delete { key, expected } => {
                let key = m.key(key);
                let exp = expected.map(|e| m.expected_revision(&key, e));
                let actual = outcome(b.delete(&key, exp).await, |(rev, kv)| Outcome::Deleted(rev, kv));
                let expected = match m.current.get(&key) {
                    None => Outcome::Failed(Failure::NotFound),
                    Some(kv) if exp.is_some_and(|e| e != kv.mod_revision) => Outcome::Failed(Failure::Conflict),
                    Some(prev) => {
                        let prev = prev.clone();
                        let kv = KeyValue { mod_revision: m.revision + 1, ..prev.clone() };
                        let rev = m.record(Event::new(EventKind::Delete, kv, Some(prev.clone())));
                        Outcome::Deleted(rev, prev)
                    }
                };
                (actual, expected)
            }
            Op::Get { key, at } => {
                let key = m.key(key);
                let resolved = m.resolve(at);
                let asked = asked_revision(&m, at);
                let actual = outcome(b.get(&key, asked).await, Outcome::Value);
                let expected = match resolved {
                    Err(f) => Outcome::Failed(f),
                    Ok(None) => Outcome::Value(m.current.get(&key).cloned()),
                    Ok(Some(at)) => Outcome::Value(m.state_at(at).remove(&key)),
                };
                (actual, expected)
            }
            Op::Range { prefix, start_after, limit, at } => {
                let prefix = format!("{root}{}", PREFIXES[prefix % PREFIXES.len()]);
                let start_after = start_after.map(|k| m.key(k));
                let asked = asked_revision(&m, at);
                let actual = outcome(b.range(&prefix, start_after.as_deref(), limit, asked).await, Outcome::Page);
                let expected = match m.resolve(at) {
                    Err(f) => Outcome::Failed(f),
                    Ok(at) => {
                        let revision = at.unwrap_or(m.revision);
                        let covered: Vec<KeyValue> = m
                            .state_at(revision)
                            .into_values()
                            .filter(|kv| kv.key.starts_with(&prefix))
                            .filter(|kv| start_after.as_ref().is_none_or(|s| kv.key > *s))
                            .collect();
                        let more = limit > 0 && covered.len() > limit;
                        let kvs = if limit > 0 { covered.into_iter().take(limit).collect() } else { covered };
                        Outcome::Page(RangePage { kvs, revision, more })
                    }
                };
                (actual, expected)
            }
            Op::Compact { back } => {
                let target = (m.revision - Revision::from(back)).max(0);
                // Revision 1 is skipped: in etcd it is the empty initial
                // state (no change to compact away, and no way to observe a
                // compaction at it), in the embedded backends the first write.
                if target <= m.compacted || target <= 1 {
                    continue;
                }
                let actual = outcome(b.compact(target).await, |()| Outcome::Done);
                m.compacted = target;
                (actual, Outcome::Done)
            }
            Op::Watch { back } => {
                let after = (m.revision - Revision::from(back)).max(0);
                if after < m.compacted {
                    let e = expect_watch_error(b.watch(root, after).await).await;
                    (
                        Outcome::Failed(e.into()),
                        Outcome::Failed(Failure::Expired { requested: after, compacted: m.compacted }),
                    )
                } else {
                    let mut w = b.watch(root, after).await.unwrap();
                    for e in m.log.iter().filter(|e| e.revision() > after) {
                        assert_eq!(&next_event(&mut w).await, e, "op #{i} {op:?}: watch from {after}");
                    }
                    (Outcome::Done, Outcome::Done)
                }
            }
        };
        assert_eq!(actual, expected, "op #{i} {op:?} (backend left, model right)");
        assert_eq!(b.revision().await.unwrap(), m.revision, "op #{i} {op:?}: revision");
    }

    assert_eq!(b.compacted_revision().await.unwrap(), m.compacted, "compacted revision at the end");
    assert_eq!(b.range(root, None, 0, None).await.unwrap().kvs, m.current.values().cloned().collect::<Vec<_>>());

    // The whole history still available, exactly, and nothing after it.
    let mut w = b.watch(root, m.compacted).await.unwrap();
    for e in m.log.iter().filter(|e| e.revision() > m.compacted) {
        assert_eq!(&next_event(&mut w).await, e, "watch of the remaining history");
    }
    let sentinel = format!("{root}zz-sentinel");
    let rev = b.create(&sentinel, value("end")).await.unwrap();
    let e = next_event(&mut w).await;
    assert_eq!((e.kv.key.as_str(), e.revision()), (sentinel.as_str(), rev), "watch: an extra event");
}

/// The revision a read passes to the backend for `at`.
fn asked_revision(m: &Model, at: At) -> Option<Revision> {
    match at {
        At::Latest => None,
        At::Back(n) => Some((m.revision - Revision::from(n)).max(0)),
        At::Future(n) => Some(m.revision + 1 + Revision::from(n)),
    }
}

/// SplitMix64: a tiny deterministic generator for [`random_ops`].
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn small(&mut self, n: u64) -> u8 {
        u8::try_from(self.below(n)).unwrap_or(u8::MAX)
    }

    fn index(&mut self, n: usize) -> usize {
        usize::try_from(self.below(n as u64)).unwrap_or(0)
    }

    fn expect(&mut self) -> Expect {
        if self.below(4) == 0 { Expect::Stale } else { Expect::Current }
    }

    fn at(&mut self) -> At {
        match self.below(8) {
            0..=3 => At::Latest,
            4..=6 => At::Back(self.small(12)),
            _ => At::Future(self.small(3)),
        }
    }
}

/// A deterministic pseudo-random sequence of `len` operations, weighted
/// towards writes of few keys so that conflicts, re-creations and
/// compactions happen.
pub fn random_ops(seed: u64, len: usize) -> Vec<Op> {
    let mut r = SplitMix(seed);
    (0..len)
        .map(|_| match r.below(100) {
            0..=24 => Op::Create { key: r.index(KEYS.len()), value: r.small(10) },
            25..=49 => Op::Update { key: r.index(KEYS.len()), value: r.small(10), expected: r.expect() },
            50..=61 => {
                let key = r.index(KEYS.len());
                let expected = match r.below(3) {
                    0 => None,
                    _ => Some(r.expect()),
                };
                Op::Delete { key, expected }
            }
            62..=73 => Op::Get { key: r.index(KEYS.len()), at: r.at() },
            74..=88 => Op::Range {
                prefix: r.index(PREFIXES.len()),
                start_after: if r.below(2) == 0 { None } else { Some(r.index(KEYS.len())) },
                limit: r.index(4),
                at: r.at(),
            },
            89..=94 => Op::Compact { back: r.small(8) },
            _ => Op::Watch { back: r.small(10) },
        })
        .collect()
}

/// Checks `config.model_sequences` seeded random sequences of
/// `config.model_ops` operations against the model, one after the other on
/// the same backend, each under its own root (`/model/<n>/`).
pub async fn model_random_sequences(backend: Arc<dyn Backend>, config: &Config) {
    for n in 0..config.model_sequences {
        let seed = 0x6b5f_7374_6f72_6500 ^ n as u64;
        let ops = random_ops(seed, config.model_ops);
        check_sequence_under(&*backend, &format!("/model/{n}/"), &ops).await;
    }
}
