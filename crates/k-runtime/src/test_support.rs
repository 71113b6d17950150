//! Shared by the unit tests: the same store served over HTTP.

use std::sync::Arc;

use k_apiserver::{ApiServer, ServerConfig};
use k_store::remote::{RemoteApi, RemoteConfig};
use k_store::{ObjectApi, Store};

/// Serves `store` through k-apiserver on loopback, with watches that end
/// after `watch_timeout_seconds` (as a real server's do), and returns a
/// remote client to it. The server lives as long as the test's runtime.
pub(crate) async fn over_http(store: &Store, watch_timeout_seconds: u64) -> Arc<dyn ObjectApi> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = ApiServer::new(
        Arc::new(store.clone()),
        ServerConfig { external_address: addr.to_string(), watch_timeout_seconds, ..ServerConfig::default() },
    );
    tokio::spawn(async move { server.serve(listener, futures::future::pending()).await });
    Arc::new(RemoteApi::connect(RemoteConfig::new(format!("http://{addr}"))).await.unwrap())
}
