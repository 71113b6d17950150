//! Conformance: range reads, prefixes, order, pagination.

use std::sync::Arc;

use crate::backend::{Backend, KeyValue};

use super::support::{kv, value};

fn keys(kvs: &[KeyValue]) -> Vec<&str> {
    kvs.iter().map(|kv| kv.key.as_str()).collect()
}

/// A range covers exactly the keys starting with the prefix (as strings:
/// `/registry/pods/a/` does not cover `/registry/pods/ab/x`), in key order.
pub async fn range_prefix_and_order(backend: Arc<dyn Backend>) {
    let b = &*backend;
    let r0 = b.revision().await.unwrap();
    let created = [
        "/registry/pods/ab/x",
        "/registry/pods/a/z",
        "/registry/pods/a/b",
        "/registry/pods/b/a",
        "/registry/podsx/a/y",
        "/registry/pods/a/a.1",
        "/registry/pods/a/a-1",
        "/registry/pod/a/q",
    ];
    for (i, k) in created.iter().enumerate() {
        assert_eq!(b.create(k, value(&format!("v{i}"))).await.unwrap(), r0 + 1 + i as i64);
    }

    let page = b.range("/registry/pods/a/", None, 0, None).await.unwrap();
    assert_eq!(
        page.kvs,
        vec![
            kv("/registry/pods/a/a-1", "v6", r0 + 7, r0 + 7),
            kv("/registry/pods/a/a.1", "v5", r0 + 6, r0 + 6),
            kv("/registry/pods/a/b", "v2", r0 + 3, r0 + 3),
            kv("/registry/pods/a/z", "v1", r0 + 2, r0 + 2),
        ]
    );
    assert_eq!((page.revision, page.more), (r0 + 8, false));

    let page = b.range("/registry/pods/", None, 0, None).await.unwrap();
    assert_eq!(
        keys(&page.kvs),
        [
            "/registry/pods/a/a-1",
            "/registry/pods/a/a.1",
            "/registry/pods/a/b",
            "/registry/pods/a/z",
            "/registry/pods/ab/x",
            "/registry/pods/b/a",
        ]
    );

    let all = [
        "/registry/pod/a/q",
        "/registry/pods/a/a-1",
        "/registry/pods/a/a.1",
        "/registry/pods/a/b",
        "/registry/pods/a/z",
        "/registry/pods/ab/x",
        "/registry/pods/b/a",
        "/registry/podsx/a/y",
    ];
    assert_eq!(keys(&b.range("/registry/", None, 0, None).await.unwrap().kvs), all);
    assert_eq!(keys(&b.range("", None, 0, None).await.unwrap().kvs), all);

    let page = b.range("/registry/pods/c/", None, 0, None).await.unwrap();
    assert_eq!((page.kvs, page.revision, page.more), (vec![], r0 + 8, false));
    // A full key is a prefix of itself.
    assert_eq!(keys(&b.range("/registry/pods/a/b", None, 0, None).await.unwrap().kvs), ["/registry/pods/a/b"]);
}

/// `limit` and `start_after` page through a prefix; `more` tells whether keys
/// remain.
pub async fn range_pagination(backend: Arc<dyn Backend>) {
    let b = &*backend;
    let r0 = b.revision().await.unwrap();
    let p = "/registry/configmaps/ns/";
    for i in 0..10 {
        b.create(&format!("{p}k{i:02}"), value(&format!("v{i}"))).await.unwrap();
    }
    // Neighbours that must never show up.
    b.create("/registry/configmaps/nr/z", value("x")).await.unwrap();
    b.create("/registry/configmaps/ns2/k00", value("x")).await.unwrap();
    let r = r0 + 12;
    let key = |i: usize| format!("{p}k{i:02}");
    let expected = |i: usize| kv(&key(i), &format!("v{i}"), r0 + 1 + i as i64, r0 + 1 + i as i64);

    let mut after: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let page = b.range(p, after.as_deref(), 3, None).await.unwrap();
        assert_eq!(page.revision, r);
        after = page.kvs.last().map(|kv| kv.key.clone());
        let more = page.more;
        pages.push(page.kvs);
        if !more {
            break;
        }
    }
    assert_eq!(
        pages,
        vec![
            (0..3).map(expected).collect::<Vec<_>>(),
            (3..6).map(expected).collect(),
            (6..9).map(expected).collect(),
            vec![expected(9)],
        ]
    );

    // Exactly the remaining keys: no more.
    let page = b.range(p, Some(&key(4)), 5, None).await.unwrap();
    assert_eq!((page.kvs, page.more), ((5..10).map(expected).collect(), false));
    // One short: more.
    let page = b.range(p, Some(&key(3)), 5, None).await.unwrap();
    assert_eq!((page.kvs, page.more), ((4..9).map(expected).collect(), true));
    // start_after need not exist.
    let page = b.range(p, Some(&format!("{p}k03x")), 2, None).await.unwrap();
    assert_eq!((page.kvs, page.more), (vec![expected(4), expected(5)], true));
    // start_after before the prefix starts at the beginning; after it, nothing.
    let page = b.range(p, Some("/a"), 1, None).await.unwrap();
    assert_eq!((page.kvs, page.more), (vec![expected(0)], true));
    let page = b.range(p, Some("/registry/configmaps/nt"), 0, None).await.unwrap();
    assert_eq!((page.kvs, page.more), (vec![], false));
    let page = b.range(p, Some(&key(9)), 0, None).await.unwrap();
    assert_eq!((page.kvs, page.more), (vec![], false));
    // limit 0: everything.
    let page = b.range(p, None, 0, None).await.unwrap();
    assert_eq!((page.kvs, page.more), ((0..10).map(expected).collect(), false));
    // limit above the count.
    let page = b.range(p, None, 100, None).await.unwrap();
    assert_eq!((page.kvs.len(), page.more), (10, false));
}

/// Pagination keeps one revision: page 1 read at R, then writes (updates,
/// deletes and creates before, inside and after the remaining pages), then
/// the remaining pages read at R: the pages together are the state at R.
pub async fn range_pagination_consistent_under_writes(backend: Arc<dyn Backend>) {
    let b = &*backend;
    let r0 = b.revision().await.unwrap();
    let p = "/registry/services/ns/";
    let key = |i: usize| format!("{p}k{i:02}");
    for i in 0..10 {
        b.create(&key(i), value(&format!("v{i}"))).await.unwrap();
    }
    let expected = |i: usize| kv(&key(i), &format!("v{i}"), r0 + 1 + i as i64, r0 + 1 + i as i64);
    let state_at_r: Vec<KeyValue> = (0..10).map(expected).collect();

    let page1 = b.range(p, None, 4, None).await.unwrap();
    let r = page1.revision;
    assert_eq!(r, r0 + 10);
    assert_eq!((page1.kvs.clone(), page1.more), ((0..4).map(expected).collect::<Vec<_>>(), true));

    // Writes between pages.
    b.update(&key(4), value("new"), r0 + 5).await.unwrap();
    b.delete(&key(5), None).await.unwrap();
    b.create(&format!("{p}k045"), value("inserted")).await.unwrap();
    b.delete(&key(1), None).await.unwrap();
    b.update(&key(9), value("new"), r0 + 10).await.unwrap();
    b.create(&key(10), value("appended")).await.unwrap();
    b.create(&format!("{p}a"), value("before")).await.unwrap();

    let mut all = page1.kvs;
    let mut after = all.last().map(|kv| kv.key.clone());
    loop {
        let page = b.range(p, after.as_deref(), 4, Some(r)).await.unwrap();
        assert_eq!(page.revision, r);
        after = page.kvs.last().map(|kv| kv.key.clone());
        all.extend(page.kvs);
        if !page.more {
            break;
        }
    }
    assert_eq!(all, state_at_r);
    assert_eq!(b.range(p, None, 0, Some(r)).await.unwrap().kvs, state_at_r);

    // The latest state did move.
    let latest = b.range(p, None, 0, None).await.unwrap();
    assert_eq!(latest.revision, r0 + 17);
    assert_eq!(
        keys(&latest.kvs),
        [format!("{p}a"), key(0), key(2), key(3), key(4), format!("{p}k045"), key(6), key(7), key(8), key(9), key(10),]
    );
}
