//! The service proxy (kube-proxy): Services and EndpointSlices in, a
//! [`ProxyState`] out, programmed by a [`Proxier`]: the userspace proxy on
//! tokio ([`userspace`]) or iptables rules ([`iptables`]).

pub mod iptables;
pub mod model;
pub mod userspace;

use async_trait::async_trait;

pub use model::{
    Affinity, ChangeSet, DEFAULT_AFFINITY_TIMEOUT, Endpoint, Protocol, ProxyState, ServicePort, ServicePortName,
};

/// What a sync did, for logs and benchmarks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Service ports programmed in total.
    pub services: usize,
    /// Service ports (re)written by this sync.
    pub written: usize,
    /// Service ports removed by this sync.
    pub removed: usize,
}

/// A proxier failed to program the state.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// An I/O error (listening, running iptables-restore, …).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A command failed.
    #[error("{command} failed ({status}): {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// Its standard error.
        stderr: String,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// One of kube-proxy's backends.
#[async_trait]
pub trait Proxier: Send + Sync + std::fmt::Debug {
    /// Programs `state`; `changed` says which ports differ from the last
    /// successful sync (or asks for a full rewrite).
    async fn sync(&self, state: &ProxyState, changed: &ChangeSet) -> Result<SyncStats, ProxyError>;
    /// Removes everything this proxier installed.
    async fn cleanup(&self) -> Result<(), ProxyError>;
}

mod watch;

pub use watch::{ServiceProxy, ServiceProxyOptions, SyncStatus, build_state};
