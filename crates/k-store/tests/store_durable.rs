//! The object-lifecycle conformance suite over the durable embedded backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use k_store::Store;
use k_store::backend::durable::DurableBackend;

/// A store over a fresh durable backend in its own temporary directory. The
/// directory is removed when the process exits normally (best effort).
async fn store() -> Store {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "k-store-lifecycle-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    match DurableBackend::open(&dir) {
        Ok(backend) => Store::new(Arc::new(backend)),
        Err(e) => panic!("opening {}: {e}", dir.display()),
    }
}

k_store::store_conformance_tests!(store());
