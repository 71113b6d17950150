//! `/metrics`: request counts, latencies, in-flight requests and open
//! watches, in Prometheus' text format, named as kube-apiserver names them.

use std::sync::atomic::AtomicI64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of a request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub(crate) verb: String,
    pub(crate) group: String,
    pub(crate) version: String,
    pub(crate) resource: String,
    pub(crate) subresource: String,
    pub(crate) code: String,
}

/// Labels of a latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct LatencyLabels {
    pub(crate) verb: String,
    pub(crate) resource: String,
}

/// The server's metrics.
pub(crate) struct Metrics {
    registry: Registry,
    pub(crate) requests: Family<RequestLabels, Counter>,
    pub(crate) latency: Family<LatencyLabels, Histogram>,
    pub(crate) inflight: Gauge<i64, AtomicI64>,
    pub(crate) watches: Gauge<i64, AtomicI64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<LatencyLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        let inflight = Gauge::<i64, AtomicI64>::default();
        let watches = Gauge::<i64, AtomicI64>::default();
        registry.register("apiserver_request", "Requests by verb, resource and HTTP code", requests.clone());
        registry.register(
            "apiserver_request_duration_seconds",
            "Response latency by verb and resource",
            latency.clone(),
        );
        registry.register(
            "apiserver_current_inflight_requests",
            "Requests being served (not watches)",
            inflight.clone(),
        );
        registry.register("apiserver_longrunning_requests", "Open watch connections", watches.clone());
        Self { registry, requests, latency, inflight, watches }
    }

    pub(crate) fn observe(&self, labels: RequestLabels, elapsed: Duration) {
        self.latency
            .get_or_create(&LatencyLabels { verb: labels.verb.clone(), resource: labels.resource.clone() })
            .observe(elapsed.as_secs_f64());
        self.requests.get_or_create(&labels).inc();
    }

    /// The text exposition.
    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
