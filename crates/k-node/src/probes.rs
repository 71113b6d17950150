//! Liveness, readiness and startup probes.
//!
//! [`ProbeState`] is the bookkeeping of one probe of one container
//! (initialDelaySeconds, periodSeconds, success and failure thresholds);
//! [`Prober`] runs one attempt: exec through the runtime's ExecSync,
//! tcpSocket and httpGet over the network (success when
//! 200 ≤ status < 400), from the node's network namespace when one is given
//! (the process runtime's pods live behind a bridge there).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use k_api_types::core::v1::{Container, Probe};
use k_api_types::intstr::IntOrString;
use k_netplugin::cri::RuntimeService;
use k_netplugin::netns::NetNs;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The three kinds of probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProbeKind {
    /// Restart the container when it fails.
    Liveness,
    /// Take the pod out of service when it fails.
    Readiness,
    /// Hold the other probes until it succeeds.
    Startup,
}

/// One attempt's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// It passed.
    Success,
    /// It failed, and why.
    Failure(String),
}

/// One probe of one container: when it is due and what it concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeState {
    /// Which probe.
    pub kind: ProbeKind,
    initial_delay: Duration,
    period: Duration,
    success_threshold: u32,
    failure_threshold: u32,
    successes: u32,
    failures: u32,
    /// The current conclusion: `None` until the thresholds decided
    /// (readiness and startup start as not passed, liveness as passed).
    pub passed: Option<bool>,
    /// The last failure's message.
    pub message: String,
    last_run: Option<SystemTime>,
}

fn secs(v: Option<i32>, default: u64, min: u64) -> Duration {
    Duration::from_secs(v.and_then(|v| u64::try_from(v).ok()).unwrap_or(default).max(min))
}

impl ProbeState {
    /// The bookkeeping for `probe` with Kubernetes' defaults (period 10 s,
    /// success 1, failure 3, no initial delay).
    pub fn new(kind: ProbeKind, probe: &Probe) -> Self {
        ProbeState {
            kind,
            initial_delay: secs(probe.initial_delay_seconds, 0, 0),
            period: secs(probe.period_seconds, 10, 1),
            success_threshold: probe.success_threshold.and_then(|v| u32::try_from(v).ok()).unwrap_or(1).max(1),
            failure_threshold: probe.failure_threshold.and_then(|v| u32::try_from(v).ok()).unwrap_or(3).max(1),
            successes: 0,
            failures: 0,
            passed: None,
            message: String::new(),
            last_run: None,
        }
    }

    /// When the next attempt is due for a container started at `started`.
    pub fn next_due(&self, started: SystemTime) -> SystemTime {
        match self.last_run {
            None => started + self.initial_delay,
            Some(last) => last + self.period,
        }
    }

    /// Records an attempt at `now`; returns whether the conclusion changed.
    pub fn record(&mut self, outcome: &ProbeOutcome, now: SystemTime) -> bool {
        self.last_run = Some(now);
        let before = self.passed;
        match outcome {
            ProbeOutcome::Success => {
                self.failures = 0;
                self.successes = self.successes.saturating_add(1);
                if self.successes >= self.success_threshold {
                    self.passed = Some(true);
                    self.message.clear();
                }
            }
            ProbeOutcome::Failure(message) => {
                self.successes = 0;
                self.failures = self.failures.saturating_add(1);
                self.message.clone_from(message);
                if self.failures >= self.failure_threshold {
                    self.passed = Some(false);
                }
            }
        }
        before != self.passed
    }

    /// Forgets the history (a restarted container starts over).
    pub fn reset(&mut self) {
        self.successes = 0;
        self.failures = 0;
        self.passed = None;
        self.message.clear();
        self.last_run = None;
    }

    /// The probe's timeout.
    pub fn timeout(probe: &Probe) -> Duration {
        secs(probe.timeout_seconds, 1, 1)
    }
}

/// Runs one probe attempt.
#[async_trait]
pub trait Prober: Send + Sync + std::fmt::Debug {
    /// Probes `container` (runtime id `container_id`) of a pod at `pod_ip`.
    async fn probe(
        &self,
        probe: &Probe,
        container: &Container,
        container_id: &str,
        pod_ip: Option<IpAddr>,
        runtime: &dyn RuntimeService,
    ) -> ProbeOutcome;
}

/// The real prober: ExecSync for exec, TCP and HTTP connections for the
/// others, made from `netns` when given.
#[derive(Clone, Debug, Default)]
pub struct NetworkProber {
    netns: Option<NetNs>,
}

impl NetworkProber {
    /// Connections from this process's network namespace.
    pub fn new() -> Self {
        NetworkProber::default()
    }

    /// Connections from `ns` (the node's namespace).
    pub fn in_namespace(ns: NetNs) -> Self {
        NetworkProber { netns: Some(ns) }
    }
}

/// Resolves a probe's port: a number, or the name of one of the
/// container's ports.
pub fn resolve_port(port: &IntOrString, container: &Container) -> Option<u16> {
    match port {
        IntOrString::Int(n) => u16::try_from(*n).ok(),
        IntOrString::String(name) => container
            .ports
            .iter()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .and_then(|p| u16::try_from(p.container_port).ok())
            .or_else(|| name.parse().ok()),
    }
}

async fn in_ns<F, Fut, T>(netns: &Option<NetNs>, f: F) -> std::io::Result<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = std::io::Result<T>>,
    T: Send + 'static,
{
    match netns {
        None => f().await,
        Some(ns) => ns.run_async(f).await?,
    }
}

/// An HTTP/1.1 GET; the status code.
async fn http_get(
    addr: SocketAddr,
    host: String,
    path: String,
    headers: Vec<(String, String)>,
) -> std::io::Result<u16> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: kube-probe/1.32\r\nAccept: */*\r\nConnection: close\r\n"
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 8192 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {:?}", line.lines().next().unwrap_or(""))))
}

#[async_trait]
impl Prober for NetworkProber {
    async fn probe(
        &self,
        probe: &Probe,
        container: &Container,
        container_id: &str,
        pod_ip: Option<IpAddr>,
        runtime: &dyn RuntimeService,
    ) -> ProbeOutcome {
        let timeout = ProbeState::timeout(probe);
        if let Some(exec) = &probe.exec {
            return match runtime.exec_sync(container_id, &exec.command, timeout).await {
                Ok(r) if r.exit_code == 0 => ProbeOutcome::Success,
                Ok(r) => ProbeOutcome::Failure(format!(
                    "command {:?} exited with {}: {}",
                    exec.command,
                    r.exit_code,
                    String::from_utf8_lossy(&r.stdout).trim()
                )),
                Err(e) => ProbeOutcome::Failure(format!("exec failed: {e}")),
            };
        }
        self.probe_network(probe, container, pod_ip).await
    }
}

impl NetworkProber {
    /// A tcpSocket or httpGet probe (exec probes need the runtime: see
    /// [`Prober::probe`]).
    pub async fn probe_network(&self, probe: &Probe, container: &Container, pod_ip: Option<IpAddr>) -> ProbeOutcome {
        let timeout = ProbeState::timeout(probe);
        if probe.exec.is_some() {
            return ProbeOutcome::Failure("exec probes run through the container runtime".into());
        }
        let host_of = |host: &Option<String>| -> Option<IpAddr> {
            host.as_deref().filter(|h| !h.is_empty()).and_then(|h| h.parse().ok()).or(pod_ip)
        };
        if let Some(tcp) = &probe.tcp_socket {
            let (Some(ip), Some(port)) = (host_of(&tcp.host), resolve_port(&tcp.port, container)) else {
                return ProbeOutcome::Failure("no address or port to probe".into());
            };
            let addr = SocketAddr::new(ip, port);
            let attempt = in_ns(&self.netns, move || async move {
                tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr))
                    .await
                    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"))?
                    .map(drop)
            });
            return match attempt.await {
                Ok(()) => ProbeOutcome::Success,
                Err(e) => ProbeOutcome::Failure(format!("dial tcp {addr}: {e}")),
            };
        }
        if let Some(http) = &probe.http_get {
            let (Some(ip), Some(port)) = (host_of(&http.host), resolve_port(&http.port, container)) else {
                return ProbeOutcome::Failure("no address or port to probe".into());
            };
            if http.scheme.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("HTTPS")) {
                return ProbeOutcome::Failure("HTTPS probes are not supported".into());
            }
            let addr = SocketAddr::new(ip, port);
            let path = http.path.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "/".into());
            let host = http
                .http_headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("host"))
                .map_or_else(|| addr.to_string(), |h| h.value.clone());
            let headers: Vec<(String, String)> = http
                .http_headers
                .iter()
                .filter(|h| !h.name.eq_ignore_ascii_case("host"))
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect();
            let url = format!("http://{addr}{path}");
            let attempt = in_ns(&self.netns, move || async move {
                tokio::time::timeout(timeout, http_get(addr, host, path, headers))
                    .await
                    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"))?
            });
            return match attempt.await {
                Ok(code) if (200..400).contains(&code) => ProbeOutcome::Success,
                Ok(code) => ProbeOutcome::Failure(format!("HTTP probe failed with statuscode: {code}")),
                Err(e) => ProbeOutcome::Failure(format!("Get \"{url}\": {e}")),
            };
        }
        if probe.grpc.is_some() {
            return ProbeOutcome::Failure("gRPC probes are not supported".into());
        }
        ProbeOutcome::Failure("the probe has no handler".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(json: serde_json::Value) -> Probe {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn thresholds_and_timing() {
        let p = probe(serde_json::json!({"tcpSocket": {"port": 80}, "initialDelaySeconds": 5, "periodSeconds": 2,
                                          "successThreshold": 2, "failureThreshold": 2}));
        let mut s = ProbeState::new(ProbeKind::Readiness, &p);
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        assert_eq!(s.next_due(t0), t0 + Duration::from_secs(5));
        assert!(!s.record(&ProbeOutcome::Success, t0 + Duration::from_secs(5)), "one success of two");
        assert_eq!(s.next_due(t0), t0 + Duration::from_secs(7));
        assert!(s.record(&ProbeOutcome::Success, t0 + Duration::from_secs(7)));
        assert_eq!(s.passed, Some(true));
        assert!(!s.record(&ProbeOutcome::Failure("x".into()), t0 + Duration::from_secs(9)));
        assert!(s.record(&ProbeOutcome::Failure("refused".into()), t0 + Duration::from_secs(11)));
        assert_eq!((s.passed, s.message.as_str()), (Some(false), "refused"));
        s.reset();
        assert_eq!(s.passed, None);
        let defaults = ProbeState::new(ProbeKind::Liveness, &probe(serde_json::json!({"exec": {"command": ["true"]}})));
        assert_eq!(
            (defaults.period, defaults.success_threshold, defaults.failure_threshold),
            (Duration::from_secs(10), 1, 3)
        );
    }

    #[test]
    fn named_ports_resolve_from_the_container() {
        let c: Container = serde_json::from_value(
            serde_json::json!({"name": "web", "ports": [{"name": "http", "containerPort": 8080}]}),
        )
        .unwrap();
        assert_eq!(resolve_port(&IntOrString::String("http".into()), &c), Some(8080));
        assert_eq!(resolve_port(&IntOrString::Int(9090), &c), Some(9090));
        assert_eq!(resolve_port(&IntOrString::String("nope".into()), &c), None);
    }

    #[tokio::test]
    async fn tcp_and_http_probes_against_real_listeners() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let mut n = 0;
            loop {
                let Ok((mut s, _)) = listener.accept().await else { return };
                n += 1;
                let status = if n == 1 { "200 OK" } else { "503 Service Unavailable" };
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes()).await;
            }
        });
        let c: Container = serde_json::from_value(serde_json::json!({"name": "web"})).unwrap();
        let prober = NetworkProber::new();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let http = probe(serde_json::json!({"httpGet": {"path": "/healthz", "port": port}}));
        assert_eq!(prober.probe_network(&http, &c, Some(ip)).await, ProbeOutcome::Success);
        let second = prober.probe_network(&http, &c, Some(ip)).await;
        assert_eq!(second, ProbeOutcome::Failure("HTTP probe failed with statuscode: 503".into()));
        let tcp = probe(serde_json::json!({"tcpSocket": {"port": port}}));
        assert_eq!(prober.probe_network(&tcp, &c, Some(ip)).await, ProbeOutcome::Success);
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let tcp = probe(serde_json::json!({"tcpSocket": {"port": closed}}));
        assert!(matches!(prober.probe_network(&tcp, &c, Some(ip)).await, ProbeOutcome::Failure(_)));
    }
}
