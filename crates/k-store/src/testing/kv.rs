//! Conformance: revisions, single-key reads and writes, old and compacted revisions.

use std::sync::Arc;

use crate::backend::Backend;
use crate::error::StoreError;

use super::support::{kv, value};

/// Every successful write (create, update, delete) advances the revision by
/// exactly one and returns it; failed writes leave it alone.
pub async fn revisions_increase_by_one(backend: Arc<dyn Backend>) {
    let b = &*backend;
    let r0 = b.revision().await.unwrap();
    let k = "/registry/pods/default/web";

    assert_eq!(b.create(k, value("v1")).await.unwrap(), r0 + 1);
    assert_eq!(b.revision().await.unwrap(), r0 + 1);
    assert_eq!(b.update(k, value("v2"), r0 + 1).await.unwrap(), r0 + 2);
    assert_eq!(b.create("/registry/pods/default/db", value("d1")).await.unwrap(), r0 + 3);
    let (rev, _) = b.delete(k, None).await.unwrap();
    assert_eq!(rev, r0 + 4);
    assert_eq!(b.create(k, value("v3")).await.unwrap(), r0 + 5);
    assert_eq!(b.revision().await.unwrap(), r0 + 5);

    // Failures do not write.
    assert!(b.create(k, value("x")).await.is_err());
    assert!(b.update(k, value("x"), r0 + 1).await.is_err());
    assert!(b.update("/registry/pods/default/missing", value("x"), r0 + 5).await.is_err());
    assert!(b.delete("/registry/pods/default/missing", None).await.is_err());
    assert!(b.delete(k, Some(r0 + 1)).await.is_err());
    assert_eq!(b.revision().await.unwrap(), r0 + 5);

    // Reads do not write either.
    b.get(k, None).await.unwrap();
    b.range("/registry/", None, 0, None).await.unwrap();
    assert_eq!(b.revision().await.unwrap(), r0 + 5);
}

/// Create, get, update and delete, with the exact key-values they produce.
pub async fn create_get_update_delete(backend: Arc<dyn Backend>) {
    let b = &*backend;
    let r0 = b.revision().await.unwrap();
    let k = "/registry/pods/default/web";

    assert_eq!(b.get(k, None).await.unwrap(), None);

    let r1 = b.create(k, value("v1")).await.unwrap();
    assert_eq!(r1, r0 + 1);
    assert_eq!(b.get(k, None).await.unwrap(), Some(kv(k, "v1", r0 + 1, r0 + 1)));

    let r2 = b.update(k, value("v2"), r1).await.unwrap();
    assert_eq!(r2, r0 + 2);
    // create_revision stays, mod_revision moves.
    assert_eq!(b.get(k, None).await.unwrap(), Some(kv(k, "v2", r0 + 1, r0 + 2)));

    // Updating to the same bytes is still a write.
    let r3 = b.update(k, value("v2"), r2).await.unwrap();
    assert_eq!(r3, r0 + 3);
    assert_eq!(b.get(k, None).await.unwrap(), Some(kv(k, "v2", r0 + 1, r0 + 3)));

    // Delete without precondition returns the deleted value as it was stored.
    let (r4, deleted) = b.delete(k, None).await.unwrap();
    assert_eq!(r4, r0 + 4);
    assert_eq!(deleted, kv(k, "v2", r0 + 1, r0 + 3));
    assert_eq!(b.get(k, None).await.unwrap(), None);

    // Re-creating starts a new life: a new create_revision.
    let r5 = b.create(k, value("v3")).await.unwrap();
    assert_eq!(r5, r0 + 5);
    assert_eq!(b.get(k, None).await.unwrap(), Some(kv(k, "v3", r0 + 5, r0 + 5)));

    // Delete with the right expected revision.
    let (r6, deleted) = b.delete(k, Some(r5)).await.unwrap();
    assert_eq!(r6, r0 + 6);
    assert_eq!(deleted, kv(k, "v3", r0 + 5, r0 + 5));
    assert_eq!(b.get(k, None).await.unwrap(), None);

    // Empty values are values.
    let r7 = b.create(k, value("")).await.unwrap();
    assert_eq!(b.get(k, None).await.unwrap(), Some(kv(k, "", r7, r7)));
}

/// AlreadyExists, Conflict on a stale expected revision, NotFound on missing
/// keys; failed writes change nothing.
pub async fn write_errors(backend: Arc<dyn Backend>) {
    let b = &*backend;
    let k = "/registry/pods/default/web";
    let missing = "/registry/pods/default/missing";

    let r1 = b.create(k, value("v1")).await.unwrap();
    let e = b.create(k, value("again")).await.unwrap_err();
    assert!(matches!(e, StoreError::AlreadyExists { .. }), "create of an existing key: {e:?}");

    let r2 = b.update(k, value("v2"), r1).await.unwrap();
    // Stale expected revision (the previous one), and one never used.
    let e = b.update(k, value("stale"), r1).await.unwrap_err();
    assert!(matches!(e, StoreError::Conflict { .. }), "update with a stale revision: {e:?}");
    let e = b.update(k, value("stale"), r2 + 100).await.unwrap_err();
    assert!(matches!(e, StoreError::Conflict { .. }), "update with a wrong revision: {e:?}");
    let e = b.delete(k, Some(r1)).await.unwrap_err();
    assert!(matches!(e, StoreError::Conflict { .. }), "delete with a stale revision: {e:?}");
    assert_eq!(b.get(k, None).await.unwrap(), Some(kv(k, "v2", r1, r2)));

    let e = b.update(missing, value("x"), r2).await.unwrap_err();
    assert!(matches!(e, StoreError::NotFound { .. }), "update of a missing key: {e:?}");
    let e = b.delete(missing, None).await.unwrap_err();
    assert!(matches!(e, StoreError::NotFound { .. }), "delete of a missing key: {e:?}");
    let e = b.delete(missing, Some(r2)).await.unwrap_err();
    assert!(matches!(e, StoreError::NotFound { .. }), "delete of a missing key with a revision: {e:?}");
    assert_eq!(b.get(missing, None).await.unwrap(), None);

    // After a delete, the key is missing for update (NotFound, not Conflict).
    let (r3, _) = b.delete(k, Some(r2)).await.unwrap();
    let e = b.update(k, value("x"), r2).await.unwrap_err();
    assert!(matches!(e, StoreError::NotFound { .. }), "update of a deleted key: {e:?}");
    let e = b.delete(k, None).await.unwrap_err();
    assert!(matches!(e, StoreError::NotFound { .. }), "delete of a deleted key: {e:?}");
    assert_eq!(b.revision().await.unwrap(), r3);
}

/// `get` and `range` at an older revision see the values of that revision.
pub async fn reads_at_old_revisions(backend: Arc<dyn Backend>) {
    let b = &*backend;
    let r0 = b.revision().await.unwrap();
    let a = "/registry/configmaps/ns/a";
    let c = "/registry/configmaps/ns/c";
    let p = "/registry/configmaps/ns/";

    b.create(a, value("a1")).await.unwrap(); // r0+1
    b.update(a, value("a2"), r0 + 1).await.unwrap(); // r0+2
    b.create(c, value("c1")).await.unwrap(); // r0+3
    b.delete(a, None).await.unwrap(); // r0+4
    b.update(c, value("c2"), r0 + 3).await.unwrap(); // r0+5
    b.create(a, value("a3")).await.unwrap(); // r0+6

    let get = |key: &'static str, at: i64| async move { b.get(key, Some(at)).await.unwrap() };
    assert_eq!(get(a, r0).await, None);
    assert_eq!(get(a, r0 + 1).await, Some(kv(a, "a1", r0 + 1, r0 + 1)));
    assert_eq!(get(a, r0 + 2).await, Some(kv(a, "a2", r0 + 1, r0 + 2)));
    assert_eq!(get(a, r0 + 3).await, Some(kv(a, "a2", r0 + 1, r0 + 2)));
    assert_eq!(get(a, r0 + 4).await, None);
    assert_eq!(get(a, r0 + 5).await, None);
    assert_eq!(get(a, r0 + 6).await, Some(kv(a, "a3", r0 + 6, r0 + 6)));
    assert_eq!(get(c, r0 + 2).await, None);
    assert_eq!(get(c, r0 + 4).await, Some(kv(c, "c1", r0 + 3, r0 + 3)));
    assert_eq!(get(c, r0 + 6).await, Some(kv(c, "c2", r0 + 3, r0 + 5)));
    assert_eq!(b.get(a, None).await.unwrap(), Some(kv(a, "a3", r0 + 6, r0 + 6)));

    let range = |at: i64| async move { b.range(p, None, 0, Some(at)).await.unwrap() };
    let page = range(r0).await;
    assert_eq!((page.kvs, page.revision, page.more), (vec![], r0, false));
    let page = range(r0 + 2).await;
    assert_eq!((page.kvs, page.revision, page.more), (vec![kv(a, "a2", r0 + 1, r0 + 2)], r0 + 2, false));
    let page = range(r0 + 3).await;
    assert_eq!(page.kvs, vec![kv(a, "a2", r0 + 1, r0 + 2), kv(c, "c1", r0 + 3, r0 + 3)]);
    let page = range(r0 + 4).await;
    assert_eq!(page.kvs, vec![kv(c, "c1", r0 + 3, r0 + 3)]);
    let page = range(r0 + 6).await;
    assert_eq!(page.kvs, vec![kv(a, "a3", r0 + 6, r0 + 6), kv(c, "c2", r0 + 3, r0 + 5)]);
    assert_eq!(page.revision, r0 + 6);

    // A latest read reports the latest revision.
    let page = b.range(p, None, 0, None).await.unwrap();
    assert_eq!(page.revision, r0 + 6);
    assert_eq!(page.kvs, vec![kv(a, "a3", r0 + 6, r0 + 6), kv(c, "c2", r0 + 3, r0 + 5)]);

    // Paginated at an old revision.
    let page = b.range(p, None, 1, Some(r0 + 3)).await.unwrap();
    assert_eq!((page.kvs, page.more), (vec![kv(a, "a2", r0 + 1, r0 + 2)], true));
    let page = b.range(p, Some(a), 1, Some(r0 + 3)).await.unwrap();
    assert_eq!((page.kvs, page.more), (vec![kv(c, "c1", r0 + 3, r0 + 3)], false));
}

/// Reads below the compacted revision fail with Expired, reads above the
/// latest with TooLargeResourceVersion; reads at the compacted revision
/// itself still work.
pub async fn compacted_and_future_revisions(backend: Arc<dyn Backend>) {
    let b = &*backend;
    let r0 = b.revision().await.unwrap();
    let k = "/registry/secrets/ns/s";
    let p = "/registry/secrets/";

    b.create(k, value("s1")).await.unwrap(); // r0+1
    b.update(k, value("s2"), r0 + 1).await.unwrap(); // r0+2
    b.update(k, value("s3"), r0 + 2).await.unwrap(); // r0+3
    b.update(k, value("s4"), r0 + 3).await.unwrap(); // r0+4

    b.compact(r0 + 2).await.unwrap();
    assert_eq!(b.compacted_revision().await.unwrap(), r0 + 2);

    for e in [b.get(k, Some(r0 + 1)).await.unwrap_err(), b.range(p, None, 0, Some(r0 + 1)).await.unwrap_err()] {
        match e {
            StoreError::Expired { requested, compacted } => assert_eq!((requested, compacted), (r0 + 1, r0 + 2)),
            other => panic!("read below the compacted revision: expected Expired, got {other:?}"),
        }
    }
    assert_eq!(b.get(k, Some(r0 + 2)).await.unwrap(), Some(kv(k, "s2", r0 + 1, r0 + 2)));
    assert_eq!(b.get(k, Some(r0 + 3)).await.unwrap(), Some(kv(k, "s3", r0 + 1, r0 + 3)));
    let page = b.range(p, None, 0, Some(r0 + 2)).await.unwrap();
    assert_eq!((page.kvs, page.revision), (vec![kv(k, "s2", r0 + 1, r0 + 2)], r0 + 2));
    // The current values survive compaction.
    assert_eq!(b.get(k, None).await.unwrap(), Some(kv(k, "s4", r0 + 1, r0 + 4)));

    let future = [
        (r0 + 5, b.get(k, Some(r0 + 5)).await.map(|_| ())),
        (r0 + 9, b.range(p, None, 0, Some(r0 + 9)).await.map(|_| ())),
    ];
    for (asked, result) in future {
        match result {
            Err(StoreError::TooLargeResourceVersion { requested, current }) => {
                assert_eq!((requested, current), (asked, r0 + 4));
            }
            other => panic!("read above the latest revision: expected TooLargeResourceVersion, got {other:?}"),
        }
    }

    // Compacting everything keeps the latest revision readable.
    b.compact(r0 + 4).await.unwrap();
    assert_eq!(b.compacted_revision().await.unwrap(), r0 + 4);
    assert_eq!(b.get(k, Some(r0 + 4)).await.unwrap(), Some(kv(k, "s4", r0 + 1, r0 + 4)));
    assert!(matches!(b.get(k, Some(r0 + 3)).await, Err(StoreError::Expired { .. })));
    // Writes go on after compaction.
    assert_eq!(b.update(k, value("s5"), r0 + 4).await.unwrap(), r0 + 5);
    assert_eq!(b.get(k, Some(r0 + 4)).await.unwrap(), Some(kv(k, "s4", r0 + 1, r0 + 4)));
}
