//! Probes and lifecycle handlers.

use crate::intstr::IntOrString;
use crate::wire;

/// A health check of a container: one handler plus timing and thresholds.
#[wire]
pub struct Probe {
    /// Run a command in the container.
    pub exec: Option<ExecAction>,
    /// Send an HTTP GET request.
    pub http_get: Option<HTTPGetAction>,
    /// Open a TCP connection.
    pub tcp_socket: Option<TCPSocketAction>,
    /// Call the gRPC health checking service.
    pub grpc: Option<GRPCAction>,
    /// Seconds after the container starts before the first probe.
    pub initial_delay_seconds: Option<i32>,
    /// Seconds after which a probe times out (default 1).
    pub timeout_seconds: Option<i32>,
    /// Seconds between probes (default 10).
    pub period_seconds: Option<i32>,
    /// Consecutive successes to be considered successful after a failure (default 1; must be 1 for liveness and startup).
    pub success_threshold: Option<i32>,
    /// Consecutive failures to be considered failed (default 3).
    pub failure_threshold: Option<i32>,
    /// Grace period when the probe fails and the container is killed; overrides the pod's.
    pub termination_grace_period_seconds: Option<i64>,
}

/// Hooks run after a container starts and before it stops.
#[wire]
pub struct Lifecycle {
    /// Handler run right after the container is created.
    pub post_start: Option<LifecycleHandler>,
    /// Handler run before the container is terminated.
    pub pre_stop: Option<LifecycleHandler>,
}

/// One lifecycle action (exactly one field).
#[wire]
pub struct LifecycleHandler {
    /// Run a command in the container.
    pub exec: Option<ExecAction>,
    /// Send an HTTP GET request.
    pub http_get: Option<HTTPGetAction>,
    /// Open a TCP connection (deprecated for lifecycle hooks).
    pub tcp_socket: Option<TCPSocketAction>,
    /// Sleep for a while.
    pub sleep: Option<SleepAction>,
}

/// A command run inside the container; exit status 0 is success.
#[wire(eq)]
pub struct ExecAction {
    /// Command line (not run in a shell).
    pub command: Vec<String>,
}

/// An HTTP GET request; a 2xx or 3xx status is success.
#[wire]
pub struct HTTPGetAction {
    /// Path to request (default `/`).
    pub path: Option<String>,
    /// Port number or name on the container.
    pub port: IntOrString,
    /// Host to connect to (default: the pod IP).
    pub host: Option<String>,
    /// `HTTP` (default) or `HTTPS`.
    pub scheme: Option<String>,
    /// Extra request headers.
    pub http_headers: Vec<HTTPHeader>,
}

/// An HTTP header.
#[wire(eq)]
pub struct HTTPHeader {
    /// Header name.
    pub name: String,
    /// Header value.
    pub value: String,
}

/// A TCP connection attempt; connecting is success.
#[wire]
pub struct TCPSocketAction {
    /// Port number or name on the container.
    pub port: IntOrString,
    /// Host to connect to (default: the pod IP).
    pub host: Option<String>,
}

/// A call of the gRPC health checking protocol.
#[wire(eq)]
pub struct GRPCAction {
    /// Port number of the gRPC service.
    pub port: i32,
    /// Service name sent in the HealthCheckRequest (default `""`).
    pub service: Option<String>,
}

/// A pause before the container stops.
#[wire(eq)]
pub struct SleepAction {
    /// Seconds to sleep.
    pub seconds: i64,
}
