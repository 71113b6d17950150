//! Conformance: compare-and-swap under contention.

use std::sync::Arc;

use crate::backend::Backend;
use crate::error::StoreError;

use super::support::{kv, value};

/// Tasks contending on one key.
const TASKS: i64 = 8;
/// Guaranteed updates per task.
const UPDATES: i64 = 50;

/// 8 tasks each make 50 guaranteed updates of one counter (read, increment,
/// update with the read revision, retry on Conflict): the counter ends at
/// exactly 400, and the key's revision moved once per successful update.
pub async fn cas_under_contention(backend: Arc<dyn Backend>) {
    let k = "/registry/cas/ns/counter";
    let created = backend.create(k, value("0")).await.unwrap();

    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let backend = Arc::clone(&backend);
            tokio::spawn(async move {
                let mut conflicts = 0_u64;
                for _ in 0..UPDATES {
                    loop {
                        let current = backend.get(k, None).await.unwrap().expect("the counter exists");
                        let n: i64 = std::str::from_utf8(&current.value).unwrap().parse().unwrap();
                        match backend.update(k, value(&(n + 1).to_string()), current.mod_revision).await {
                            Ok(_) => break,
                            Err(StoreError::Conflict { .. }) => conflicts += 1,
                            Err(e) => panic!("guaranteed update failed: {e:?}"),
                        }
                        // Let the others move on between retries.
                        tokio::task::yield_now().await;
                    }
                }
                conflicts
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }

    let total = TASKS * UPDATES;
    assert_eq!(backend.get(k, None).await.unwrap(), Some(kv(k, &total.to_string(), created, created + total)));
    assert_eq!(backend.revision().await.unwrap(), created + total);
}
