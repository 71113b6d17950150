//! The scheduler's Prometheus metrics, named as kube-scheduler's.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of an attempt: its result and profile.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttemptLabels {
    /// `scheduled`, `unschedulable` or `error`.
    pub result: String,
    /// The profile (schedulerName).
    pub profile: String,
}

/// Labels of a queue gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    /// `active`, `backoff` or `unschedulable`.
    pub queue: String,
}

fn latency() -> Histogram {
    // 1 ms … ~16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// The metrics; cheap to clone (they share their values).
#[derive(Clone, Debug)]
pub struct Metrics {
    /// `scheduler_schedule_attempts_total{result, profile}`.
    pub attempts: Family<AttemptLabels, Counter>,
    /// `scheduler_scheduling_attempt_duration_seconds{result, profile}`:
    /// one attempt, from pop to the decision (binding excluded).
    pub attempt_duration: Family<AttemptLabels, Histogram>,
    /// `scheduler_pod_scheduling_sli_duration_seconds`: end to end, from a
    /// pod's first entry in the queue to its binding.
    pub e2e_duration: Histogram,
    /// `scheduler_pending_pods{queue}`.
    pub pending: Family<QueueLabels, Gauge>,
    /// `scheduler_preemption_attempts_total`.
    pub preemption_attempts: Counter,
    /// `scheduler_preemption_victims`: victims per successful preemption.
    pub preemption_victims: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            attempts: Family::default(),
            attempt_duration: Family::new_with_constructor(latency),
            e2e_duration: latency(),
            pending: Family::default(),
            preemption_attempts: Counter::default(),
            preemption_victims: Histogram::new(exponential_buckets(1.0, 2.0, 7)),
        }
    }
}

impl Metrics {
    /// Registers every metric in `registry` (prefix `scheduler_`).
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("scheduler");
        r.register("schedule_attempts", "Scheduling attempts by result and profile", self.attempts.clone());
        r.register(
            "scheduling_attempt_duration_seconds",
            "Duration of one scheduling attempt (binding excluded)",
            self.attempt_duration.clone(),
        );
        r.register(
            "pod_scheduling_sli_duration_seconds",
            "From a pod's first entry in the queue to its binding",
            self.e2e_duration.clone(),
        );
        r.register("pending_pods", "Pending pods by queue", self.pending.clone());
        r.register("preemption_attempts", "Preemption attempts", self.preemption_attempts.clone());
        r.register("preemption_victims", "Victims per preemption", self.preemption_victims.clone());
    }

    /// Counts an attempt of `profile` with `result` that took `seconds`.
    pub fn attempt(&self, result: &str, profile: &str, seconds: f64) {
        let labels = AttemptLabels { result: result.to_owned(), profile: profile.to_owned() };
        self.attempts.get_or_create(&labels).inc();
        self.attempt_duration.get_or_create(&labels).observe(seconds);
    }

    /// Sets the queue gauges.
    pub fn queues(&self, active: usize, backoff: usize, unschedulable: usize) {
        for (queue, n) in [("active", active), ("backoff", backoff), ("unschedulable", unschedulable)] {
            self.pending.get_or_create(&QueueLabels { queue: queue.to_owned() }).set(n as i64);
        }
    }
}
