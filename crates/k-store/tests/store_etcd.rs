//! The object-lifecycle conformance suite over the etcd backend, each test on
//! its own real etcd server (Debian `etcd-server`).
#![cfg(feature = "etcd")]

use std::sync::Arc;

use k_store::Store;
use k_store::etcd_harness::EtcdTestBackend;

async fn store() -> Store {
    match EtcdTestBackend::start().await {
        Ok(backend) => Store::new(Arc::new(backend)),
        Err(e) => panic!("{e}"),
    }
}

k_store::store_conformance_tests!(store());
