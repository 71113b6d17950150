//! The HorizontalPodAutoscaler controller (autoscaling/v2): scales a
//! workload's replicas to keep its metrics at their targets.
//!
//! Metrics come from a [`MetricsSource`], modelled on Kubernetes' metrics
//! APIs: per-pod resource usage (`metrics.k8s.io`), per-pod and per-object
//! custom metrics (`custom.metrics.k8s.io`) and external metrics
//! (`external.metrics.k8s.io`). [`StaticMetrics`] is an in-memory source
//! for tests and for users who push their own numbers.
//!
//! Every [`HorizontalPodAutoscalerOptions::sync_period`] (15 s, as
//! `--horizontal-pod-autoscaler-sync-period`) and whenever its spec
//! changes, an autoscaler:
//!
//! 1. reads its **target** (`scaleTargetRef`: a Deployment, ReplicaSet,
//!    StatefulSet, ReplicationController, or any served kind with
//!    `spec.replicas` and `spec.selector`): its replicas and its pod
//!    selector. The object API has no `scale` subresource, so the target is
//!    read and its `spec.replicas` written through an ordinary update;
//! 2. leaves a target at zero replicas alone (`ScalingDisabled`), brings a
//!    target outside `[minReplicas, maxReplicas]` back inside, and otherwise
//!    computes a **proposal per metric** as Kubernetes' replica calculator
//!    does: `Resource` and `ContainerResource` metrics with `Utilization`
//!    targets compare the pods' usage with their requests, `AverageValue`
//!    targets the average usage; `Pods` metrics average the pods' values;
//!    `Object` and `External` metrics take a `Value` or an `AverageValue`
//!    per current replica. A usage ratio within the tolerance (0.1) of 1
//!    keeps the current count; otherwise the proposal is
//!    `ceil(ratio × ready pods)`. Pods being deleted or failed are ignored;
//!    pending pods, and for CPU pods not yet ready (or whose sample predates
//!    readiness during the 5 minute initialization period), are left out
//!    and count as using nothing when scaling up; pods without a sample
//!    count as using nothing when scaling up and as exactly on target (100%
//!    of their request) when scaling down, and a proposal that would
//!    reverse direction because of them keeps the current count. The
//!    highest proposal wins; if some metrics fail, the autoscaler still
//!    scales up but never down;
//! 3. **stabilizes** the proposal: a scale-down takes the highest
//!    recommendation of the last `scaleDown.stabilizationWindowSeconds`
//!    (default 300 s), a scale-up the lowest of its window (default 0);
//! 4. applies the **rate policies** of `spec.behavior` (`Pods` or `Percent`
//!    per `periodSeconds`, `selectPolicy` `Max`, `Min` or `Disabled`,
//!    counting the scalings of the period), with Kubernetes' defaults when
//!    unset (up: the larger of 100% and 4 pods per 15 s; down: 100% per
//!    15 s), then clamps to `[minReplicas (default 1), maxReplicas]`;
//! 5. writes the target's replicas when they change (event
//!    `SuccessfulRescale`, or `FailedRescale`) and its status when it
//!    changed: `currentReplicas`, `desiredReplicas`, `currentMetrics`,
//!    `lastScaleTime`, `observedGeneration` and the conditions
//!    `AbleToScale` (`SucceededGetScale`, `FailedGetScale`,
//!    `ReadyForNewScale`, `ScaleUpStabilized`, `ScaleDownStabilized`,
//!    `SucceededRescale`, `FailedUpdateScale`), `ScalingActive`
//!    (`ValidMetricFound`, `ScalingDisabled`, `InvalidSelector`,
//!    `FailedGetResourceMetric`, `FailedGetPodsMetric`,
//!    `FailedGetObjectMetric`, `FailedGetExternalMetric`,
//!    `FailedGetContainerResourceMetric`, `InvalidMetricSourceType`) and
//!    `ScalingLimited` (`DesiredWithinRange`, `TooFewReplicas`,
//!    `TooManyReplicas`, `ScaleUpLimit`, `ScaleDownLimit`), with the
//!    matching warning events.
//!
//! Unlike Kubernetes, an autoscaler without `spec.behavior` goes through
//! the same behaviour path with the default rules (Kubernetes keeps an
//! older, equivalent path for it). Recommendations and scaling history
//! live in memory: a restarted controller starts a new stabilization
//! window. Not covered: pod-level `spec.resources` as requests.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use k_api_types::autoscaling::v2::{
    ContainerResourceMetricStatus, CrossVersionObjectReference, ExternalMetricStatus, HPAScalingRules,
    HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition, HorizontalPodAutoscalerStatus, MetricIdentifier,
    MetricSpec, MetricStatus, MetricTarget, MetricValueStatus, ObjectMetricStatus, PodsMetricStatus,
    ResourceMetricStatus,
};
use k_api_types::core::v1::Pod;
use k_api_types::meta::{LabelSelector, Time};
use k_api_types::quantity::{Quantity, ResourceList};
use k_api_types::selector::label::Selector;
use k_api_types::{DynamicObject, GroupVersionResource, SortedMap};
use k_runtime::clock::{Clock, SystemClock};
use k_runtime::controller::{Action, Context, Controller, Predicate, Reconciler};
use k_runtime::events::{EventType, Recorder, reference_to};
use k_runtime::informer::InformerFactory;
use k_runtime::manager::Manager;
use k_runtime::reflector::key_of;
use k_store::{Api, ObjectApi, StoreError};

use crate::util::{phase, ready_since};

/// How often every autoscaler is evaluated (Kubernetes'
/// `--horizontal-pod-autoscaler-sync-period`).
pub const DEFAULT_SYNC_PERIOD: Duration = Duration::from_secs(15);
/// How far from 1 a usage ratio must be to scale
/// (`--horizontal-pod-autoscaler-tolerance`).
pub const DEFAULT_TOLERANCE: f64 = 0.1;
/// The scale-down stabilization window when the autoscaler sets none
/// (`--horizontal-pod-autoscaler-downscale-stabilization`).
pub const DEFAULT_DOWNSCALE_STABILIZATION: Duration = Duration::from_secs(300);
/// How long after a pod starts its CPU samples are only trusted once it
/// is ready (`--horizontal-pod-autoscaler-cpu-initialization-period`).
pub const DEFAULT_CPU_INITIALIZATION_PERIOD: Duration = Duration::from_secs(300);
/// How long after a pod starts a not-ready pod still counts as not yet
/// initialized (`--horizontal-pod-autoscaler-initial-readiness-delay`).
pub const DEFAULT_INITIAL_READINESS_DELAY: Duration = Duration::from_secs(30);
/// The window [`StaticMetrics`] reports for its samples.
pub const STATIC_METRICS_WINDOW: Duration = Duration::from_secs(30);

/// Condition type: whether the target can be scaled.
pub const CONDITION_ABLE_TO_SCALE: &str = "AbleToScale";
/// Condition type: whether metrics give a replica count.
pub const CONDITION_SCALING_ACTIVE: &str = "ScalingActive";
/// Condition type: whether the desired count was limited.
pub const CONDITION_SCALING_LIMITED: &str = "ScalingLimited";

/// Why a reconcile failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A read or write of the object API failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the target's replicas failed.
    #[error("failed to rescale {target}: {source}")]
    Rescale {
        /// The target, `Kind/name`.
        target: String,
        /// The store's error.
        source: StoreError,
    },
}

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

/// Why a metric could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MetricsError(pub String);

/// One pod's sample: its value (cores for CPU, bytes for memory, the
/// metric's unit otherwise), when it was taken, and over how long.
#[derive(Clone, Debug, PartialEq)]
pub struct PodMetric {
    /// The value.
    pub value: Quantity,
    /// When the sample was taken.
    pub timestamp: DateTime<Utc>,
    /// The window the sample covers.
    pub window: Duration,
}

/// Samples by pod name.
pub type PodMetrics = BTreeMap<String, PodMetric>;

/// One value of an object or external metric.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricValue {
    /// The value.
    pub value: Quantity,
    /// When it was taken.
    pub timestamp: DateTime<Utc>,
}

/// Where the autoscaler's numbers come from, split as Kubernetes' metrics
/// APIs are (`metrics.k8s.io` for resources, `custom.metrics.k8s.io` for
/// pods and objects, `external.metrics.k8s.io`).
#[async_trait::async_trait]
pub trait MetricsSource: Send + Sync + fmt::Debug {
    /// Resource usage (`cpu`, `memory`, …) of the pods `selector` selects
    /// in `namespace`, by pod; with `container`, that container's usage
    /// only, otherwise the sum over the pod's containers.
    async fn resource_metrics(
        &self,
        namespace: &str,
        resource: &str,
        selector: &Selector,
        container: Option<&str>,
    ) -> Result<PodMetrics, MetricsError>;

    /// The custom metric `metric` of the pods `selector` selects, by pod
    /// (`metric_selector` narrows the series).
    async fn pods_metric(
        &self,
        namespace: &str,
        metric: &str,
        selector: &Selector,
        metric_selector: &Selector,
    ) -> Result<PodMetrics, MetricsError>;

    /// The custom metric `metric` describing `object` of `namespace`.
    async fn object_metric(
        &self,
        namespace: &str,
        object: &CrossVersionObjectReference,
        metric: &str,
        metric_selector: &Selector,
    ) -> Result<MetricValue, MetricsError>;

    /// The series of the external metric `metric` that `metric_selector`
    /// selects.
    async fn external_metric(
        &self,
        namespace: &str,
        metric: &str,
        metric_selector: &Selector,
    ) -> Result<Vec<MetricValue>, MetricsError>;
}

/// A value and when it was set.
type Stamped<T> = (T, DateTime<Utc>);
/// Usage by container (`""` for the whole pod).
type ContainerUsage = BTreeMap<String, Stamped<ResourceList>>;
/// A labelled series of an external metric.
type Series = (SortedMap<String, String>, Quantity, DateTime<Utc>);

#[derive(Debug, Default)]
struct StaticInner {
    /// (namespace, pod) → container ("" for the whole pod) → usage.
    resources: BTreeMap<(String, String), ContainerUsage>,
    /// (namespace, pod, metric) → value.
    pods: BTreeMap<(String, String, String), (Quantity, DateTime<Utc>)>,
    /// (namespace, kind, name, metric) → value.
    objects: BTreeMap<(String, String, String, String), Stamped<Quantity>>,
    /// (namespace, metric) → labelled series.
    external: BTreeMap<(String, String), Vec<Series>>,
}

/// An in-memory [`MetricsSource`]: set values, the autoscaler reads them.
/// Samples are stamped with the clock's time when set.
///
/// It knows pods by name only, so it answers a pod query with every pod
/// of the namespace it has a value for; the controller keeps the pods the
/// target's selector selects.
#[derive(Debug)]
pub struct StaticMetrics {
    clock: Arc<dyn Clock>,
    inner: Mutex<StaticInner>,
}

impl Default for StaticMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl StaticMetrics {
    /// An empty source on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// An empty source stamping samples with `clock`'s time.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        StaticMetrics { clock, inner: Mutex::default() }
    }

    fn with<T>(&self, f: impl FnOnce(&mut StaticInner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Sets the whole pod's usage of `resource` (replacing per-container
    /// values of that resource).
    pub fn set_pod_usage(&self, namespace: &str, pod: &str, resource: &str, value: Quantity) {
        self.set_container_usage(namespace, pod, "", resource, value);
    }

    /// Sets one container's usage of `resource`.
    pub fn set_container_usage(&self, namespace: &str, pod: &str, container: &str, resource: &str, value: Quantity) {
        let now = self.clock.wall();
        self.with(|i| {
            let containers = i.resources.entry((namespace.to_owned(), pod.to_owned())).or_default();
            if container.is_empty() {
                for (list, _) in containers.values_mut() {
                    list.remove(resource);
                }
            }
            let (list, at) = containers.entry(container.to_owned()).or_default();
            list.insert(resource.to_owned(), value);
            *at = now;
        });
    }

    /// Forgets every sample of a pod.
    pub fn remove_pod(&self, namespace: &str, pod: &str) {
        self.with(|i| {
            i.resources.remove(&(namespace.to_owned(), pod.to_owned()));
            i.pods.retain(|(ns, p, _), _| !(ns == namespace && p == pod));
        });
    }

    /// Sets a pod's custom metric.
    pub fn set_pod_metric(&self, namespace: &str, pod: &str, metric: &str, value: Quantity) {
        let now = self.clock.wall();
        self.with(|i| i.pods.insert((namespace.to_owned(), pod.to_owned(), metric.to_owned()), (value, now)));
    }

    /// Sets an object's custom metric (`kind` and `name` of the object).
    pub fn set_object_metric(&self, namespace: &str, kind: &str, name: &str, metric: &str, value: Quantity) {
        let now = self.clock.wall();
        self.with(|i| {
            i.objects.insert((namespace.to_owned(), kind.to_owned(), name.to_owned(), metric.to_owned()), (value, now))
        });
    }

    /// Sets the external metric's series labelled `labels` (replacing a
    /// series with the same labels).
    pub fn set_external_metric(&self, namespace: &str, metric: &str, labels: &[(&str, &str)], value: Quantity) {
        let now = self.clock.wall();
        let labels: SortedMap<String, String> =
            labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        self.with(|i| {
            let series = i.external.entry((namespace.to_owned(), metric.to_owned())).or_default();
            series.retain(|(l, _, _)| *l != labels);
            series.push((labels, value, now));
        });
    }
}

#[async_trait::async_trait]
impl MetricsSource for StaticMetrics {
    async fn resource_metrics(
        &self,
        namespace: &str,
        resource: &str,
        _selector: &Selector,
        container: Option<&str>,
    ) -> Result<PodMetrics, MetricsError> {
        let metrics: PodMetrics = self.with(|i| {
            i.resources
                .iter()
                .filter(|((ns, _), _)| ns == namespace)
                .filter_map(|((_, pod), containers)| {
                    let mut total: Option<(Quantity, DateTime<Utc>)> = None;
                    for (name, (list, at)) in containers {
                        if container.is_some_and(|c| c != name) {
                            continue;
                        }
                        if let Some(v) = list.get(resource) {
                            total = Some(match total {
                                Some((sum, t)) => (sum + v, t.max(*at)),
                                None => (v.clone(), *at),
                            });
                        }
                    }
                    let (value, timestamp) = total?;
                    Some((pod.clone(), PodMetric { value, timestamp, window: STATIC_METRICS_WINDOW }))
                })
                .collect()
        });
        if metrics.is_empty() {
            return Err(MetricsError(format!("no metrics returned from resource metrics API for {resource}")));
        }
        Ok(metrics)
    }

    async fn pods_metric(
        &self,
        namespace: &str,
        metric: &str,
        _selector: &Selector,
        _metric_selector: &Selector,
    ) -> Result<PodMetrics, MetricsError> {
        let metrics: PodMetrics = self.with(|i| {
            i.pods
                .iter()
                .filter(|((ns, _, m), _)| ns == namespace && m == metric)
                .map(|((_, pod, _), (value, timestamp))| {
                    let sample =
                        PodMetric { value: value.clone(), timestamp: *timestamp, window: STATIC_METRICS_WINDOW };
                    (pod.clone(), sample)
                })
                .collect()
        });
        if metrics.is_empty() {
            return Err(MetricsError(format!("no metrics returned from custom metrics API for {metric}")));
        }
        Ok(metrics)
    }

    async fn object_metric(
        &self,
        namespace: &str,
        object: &CrossVersionObjectReference,
        metric: &str,
        _metric_selector: &Selector,
    ) -> Result<MetricValue, MetricsError> {
        let key = (namespace.to_owned(), object.kind.clone(), object.name.clone(), metric.to_owned());
        self.with(|i| i.objects.get(&key).cloned())
            .map(|(value, timestamp)| MetricValue { value, timestamp })
            .ok_or_else(|| MetricsError(format!("no metric {metric} for {} {}", object.kind, object.name)))
    }

    async fn external_metric(
        &self,
        namespace: &str,
        metric: &str,
        metric_selector: &Selector,
    ) -> Result<Vec<MetricValue>, MetricsError> {
        let values: Vec<MetricValue> = self.with(|i| {
            i.external
                .get(&(namespace.to_owned(), metric.to_owned()))
                .map(|series| {
                    series
                        .iter()
                        .filter(|(labels, _, _)| metric_selector.matches(labels))
                        .map(|(_, value, timestamp)| MetricValue { value: value.clone(), timestamp: *timestamp })
                        .collect()
                })
                .unwrap_or_default()
        });
        if values.is_empty() {
            return Err(MetricsError(format!("no external metric {metric} matches {metric_selector}")));
        }
        Ok(values)
    }
}

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/// The controller's options (kube-controller-manager's
/// `--horizontal-pod-autoscaler-*` flags).
#[derive(Clone, Debug)]
pub struct HorizontalPodAutoscalerOptions {
    /// How often every autoscaler is evaluated.
    pub sync_period: Duration,
    /// How far from 1 a usage ratio must be to scale.
    pub tolerance: f64,
    /// The scale-down stabilization window when the autoscaler sets none.
    pub downscale_stabilization: Duration,
    /// How long after a pod starts its CPU samples need readiness.
    pub cpu_initialization_period: Duration,
    /// How long after a pod starts a not-ready pod counts as initializing.
    pub initial_readiness_delay: Duration,
}

impl Default for HorizontalPodAutoscalerOptions {
    /// Kubernetes' defaults: 15 s, 0.1, 300 s, 300 s, 30 s.
    fn default() -> Self {
        HorizontalPodAutoscalerOptions {
            sync_period: DEFAULT_SYNC_PERIOD,
            tolerance: DEFAULT_TOLERANCE,
            downscale_stabilization: DEFAULT_DOWNSCALE_STABILIZATION,
            cpu_initialization_period: DEFAULT_CPU_INITIALIZATION_PERIOD,
            initial_readiness_delay: DEFAULT_INITIAL_READINESS_DELAY,
        }
    }
}

// ---------------------------------------------------------------------------
// The replica calculator (pure)
// ---------------------------------------------------------------------------

/// The pods of the target, sorted out as Kubernetes' `groupPods` does.
#[derive(Debug, Default)]
struct Grouped {
    ready: usize,
    unready: BTreeSet<String>,
    missing: BTreeSet<String>,
    ignored: BTreeSet<String>,
}

/// Sorts `pods` by their samples; `cpu` applies the readiness rules of
/// CPU samples.
fn group_pods(
    pods: &[Arc<Pod>],
    metrics: &BTreeMap<String, (i64, DateTime<Utc>, Duration)>,
    cpu: bool,
    options: &HorizontalPodAutoscalerOptions,
    now: DateTime<Utc>,
) -> Grouped {
    let mut g = Grouped::default();
    let chrono_of = |d: Duration| chrono::Duration::from_std(d).unwrap_or_else(|_| chrono::Duration::zero());
    for pod in pods {
        let name = pod.metadata.name.clone();
        if pod.metadata.deletion_timestamp.is_some() || phase(pod) == "Failed" {
            g.ignored.insert(name);
            continue;
        }
        if phase(pod) == "Pending" {
            g.unready.insert(name);
            continue;
        }
        let Some((_, timestamp, window)) = metrics.get(&name) else {
            g.missing.insert(name);
            continue;
        };
        if cpu {
            let condition = pod.status.as_ref().and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready")).cloned();
            let start = pod.status.as_ref().and_then(|s| s.start_time);
            let unready = match (condition, start) {
                (Some(c), Some(start)) => {
                    let transition = c.last_transition_time.map(|t| t.0).unwrap_or(start.0);
                    if start.0 + chrono_of(options.cpu_initialization_period) > now {
                        c.status == "False" || *timestamp < transition + chrono_of(*window)
                    } else {
                        c.status == "False" && start.0 + chrono_of(options.initial_readiness_delay) > transition
                    }
                }
                _ => true,
            };
            if unready {
                g.unready.insert(name);
                continue;
            }
        }
        g.ready += 1;
    }
    g
}

/// What a target compares against.
#[derive(Clone, Copy, Debug)]
enum Goal<'a> {
    /// A percentage of the pods' requests (milli-units by pod).
    Utilization { percent: i32, requests: &'a BTreeMap<String, i64> },
    /// An average value per pod, in milli-units.
    Average(i64),
}

/// The usage ratio of `metrics` against `goal`, the current utilization
/// (percent) or average (milli), and the raw average (milli).
fn usage_ratio(metrics: &BTreeMap<String, i64>, goal: Goal<'_>) -> Result<(f64, i64, i64), String> {
    match goal {
        Goal::Utilization { percent, requests } => {
            let (mut used, mut requested, mut n) = (0i64, 0i64, 0i64);
            for (pod, value) in metrics {
                if let Some(r) = requests.get(pod) {
                    used += value;
                    requested += r;
                    n += 1;
                }
            }
            if requested == 0 || n == 0 {
                return Err("no metrics returned matched known pods".into());
            }
            let utilization = used * 100 / requested;
            Ok((utilization as f64 / f64::from(percent.max(1)), utilization, used / n))
        }
        Goal::Average(target) => {
            if metrics.is_empty() {
                return Err("no metrics returned matched known pods".into());
            }
            let n = i64::try_from(metrics.len()).unwrap_or(i64::MAX);
            let average = metrics.values().sum::<i64>() / n;
            Ok((average as f64 / target.max(1) as f64, average, average))
        }
    }
}

fn ceil_replicas(x: f64) -> i32 {
    let c = x.ceil();
    if c >= f64::from(i32::MAX) {
        i32::MAX
    } else if c <= 0.0 {
        0
    } else {
        c as i32
    }
}

/// Kubernetes' replica calculation for per-pod samples: `metrics` (milli,
/// by pod, only the target's pods not ignored) against `goal`. Returns the
/// proposal, the current utilization/average and the raw average.
fn pod_replicas(
    mut metrics: BTreeMap<String, i64>,
    grouped: &Grouped,
    current: i32,
    goal: Goal<'_>,
    tolerance: f64,
) -> Result<(i32, i64, i64), String> {
    for name in grouped.ignored.iter().chain(&grouped.unready) {
        metrics.remove(name);
    }
    if metrics.is_empty() {
        return Err("did not receive metrics for targeted pods (pods might be unready)".into());
    }
    let (ratio, current_value, raw) = usage_ratio(&metrics, goal)?;
    let scale_up_with_unready = !grouped.unready.is_empty() && ratio > 1.0;
    if !scale_up_with_unready && grouped.missing.is_empty() {
        if (1.0 - ratio).abs() <= tolerance {
            return Ok((current, current_value, raw));
        }
        return Ok((ceil_replicas(ratio * grouped.ready as f64), current_value, raw));
    }
    if !grouped.missing.is_empty() {
        for name in &grouped.missing {
            let assumed = if ratio < 1.0 {
                match goal {
                    Goal::Utilization { requests, .. } => requests.get(name).copied().unwrap_or(0),
                    Goal::Average(target) => target,
                }
            } else {
                0
            };
            if ratio != 1.0 {
                metrics.insert(name.clone(), assumed);
            }
        }
    }
    if scale_up_with_unready {
        for name in &grouped.unready {
            metrics.insert(name.clone(), 0);
        }
    }
    let (new_ratio, _, _) = usage_ratio(&metrics, goal)?;
    if (1.0 - new_ratio).abs() <= tolerance || (ratio < 1.0 && new_ratio > 1.0) || (ratio > 1.0 && new_ratio < 1.0) {
        return Ok((current, current_value, raw));
    }
    let proposal = ceil_replicas(new_ratio * metrics.len() as f64);
    if (new_ratio < 1.0 && proposal > current) || (new_ratio > 1.0 && proposal < current) {
        return Ok((current, current_value, raw));
    }
    Ok((proposal, current_value, raw))
}

/// The proposal for a whole-target `ratio` (object and external metrics
/// with `Value` targets): `ceil(ratio × ready pods)` outside the tolerance.
fn ratio_replicas(current: i32, ratio: f64, ready: usize, tolerance: f64) -> i32 {
    if current == 0 {
        return ceil_replicas(ratio);
    }
    if (1.0 - ratio).abs() <= tolerance {
        return current;
    }
    ceil_replicas(ratio * ready as f64)
}

/// The proposal for an `AverageValue` target of a whole-target metric:
/// `ceil(total / target)` outside the tolerance.
fn per_pod_replicas(current: i32, total: i64, target: i64, tolerance: f64) -> i32 {
    let target = target.max(1) as f64;
    let ratio = total as f64 / (target * f64::from(current.max(1)));
    if (1.0 - ratio).abs() <= tolerance { current } else { ceil_replicas(total as f64 / target) }
}

// ---------------------------------------------------------------------------
// Stabilization and rate limits (pure)
// ---------------------------------------------------------------------------

/// What the controller remembers of one autoscaler.
#[derive(Debug, Default)]
struct History {
    /// Recommendations (before stabilization) and when they were made.
    recommendations: Vec<(i32, Instant)>,
    /// Replicas added by scale-ups, and when.
    ups: Vec<(i32, Instant)>,
    /// Replicas removed by scale-downs, and when.
    downs: Vec<(i32, Instant)>,
}

/// The merged scaling rules of both directions.
#[derive(Clone, Debug)]
struct Rules {
    up: HPAScalingRules,
    down: HPAScalingRules,
}

fn rules_of(hpa: &HorizontalPodAutoscaler, downscale_default: Duration) -> Rules {
    let merge = |given: Option<&HPAScalingRules>, defaults: HPAScalingRules| match given {
        None => defaults,
        Some(g) => HPAScalingRules {
            stabilization_window_seconds: g.stabilization_window_seconds.or(defaults.stabilization_window_seconds),
            select_policy: g.select_policy.clone().or(defaults.select_policy),
            policies: if g.policies.is_empty() { defaults.policies } else { g.policies.clone() },
        },
    };
    let behavior = hpa.spec.behavior.as_ref();
    let up = merge(behavior.and_then(|b| b.scale_up.as_ref()), HPAScalingRules::default_scale_up());
    let mut down = merge(behavior.and_then(|b| b.scale_down.as_ref()), HPAScalingRules::default_scale_down());
    if down.stabilization_window_seconds.is_none() {
        down.stabilization_window_seconds = Some(i32::try_from(downscale_default.as_secs()).unwrap_or(i32::MAX));
    }
    Rules { up, down }
}

fn window(rules: &HPAScalingRules) -> Duration {
    Duration::from_secs(u64::try_from(rules.stabilization_window_seconds.unwrap_or(0)).unwrap_or(0))
}

/// Stabilizes `desired` with the recommendations of the window, records
/// it, and returns the stabilized value with the condition reason and
/// message to use when it differs.
fn stabilize(
    history: &mut History,
    rules: &Rules,
    current: i32,
    desired: i32,
    now: Instant,
) -> (i32, &'static str, &'static str) {
    let up = desired >= current;
    let (delay, reason, message) = if up {
        (
            window(&rules.up),
            "ScaleUpStabilized",
            "recent recommendations were lower than current one, applying the lowest recent recommendation",
        )
    } else {
        (
            window(&rules.down),
            "ScaleDownStabilized",
            "recent recommendations were higher than current one, applying the highest recent recommendation",
        )
    };
    let longest = window(&rules.up).max(window(&rules.down));
    let mut recommendation = desired;
    for (value, at) in &history.recommendations {
        // Strictly inside the window: made less than `delay` ago.
        if now.saturating_duration_since(*at) < delay {
            recommendation = if up { recommendation.min(*value) } else { recommendation.max(*value) };
        }
    }
    history.recommendations.retain(|(_, at)| now.saturating_duration_since(*at) <= longest);
    history.recommendations.push((desired, now));
    (recommendation, reason, message)
}

/// The replicas changed by the events of the last `period`.
fn changed_within(events: &[(i32, Instant)], period: Duration, now: Instant) -> i32 {
    events.iter().filter(|(_, at)| now.saturating_duration_since(*at) < period).map(|(n, _)| *n).sum()
}

fn period_of(seconds: i32) -> Duration {
    Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
}

/// The highest count a scale-up may reach now.
fn scale_up_limit(history: &History, rules: &HPAScalingRules, current: i32, now: Instant) -> i32 {
    let policy = rules.select_policy.as_deref().unwrap_or("Max");
    if policy == "Disabled" {
        return current;
    }
    let min = policy == "Min";
    let mut result = if min { i32::MAX } else { i32::MIN };
    for p in &rules.policies {
        let period = period_of(p.period_seconds);
        let start = current - changed_within(&history.ups, period, now) + changed_within(&history.downs, period, now);
        let proposed = match p.type_.as_str() {
            "Pods" => start.saturating_add(p.value),
            _ => ceil_replicas(f64::from(start) * (1.0 + f64::from(p.value) / 100.0)),
        };
        result = if min { result.min(proposed) } else { result.max(proposed) };
    }
    if rules.policies.is_empty() { current } else { result }
}

/// The lowest count a scale-down may reach now.
fn scale_down_limit(history: &History, rules: &HPAScalingRules, current: i32, now: Instant) -> i32 {
    let policy = rules.select_policy.as_deref().unwrap_or("Max");
    if policy == "Disabled" {
        return current;
    }
    let min = policy == "Min";
    let mut result = if min { i32::MIN } else { i32::MAX };
    for p in &rules.policies {
        let period = period_of(p.period_seconds);
        let start = current - changed_within(&history.ups, period, now) + changed_within(&history.downs, period, now);
        let proposed = match p.type_.as_str() {
            "Pods" => start.saturating_sub(p.value),
            // Truncated, as Kubernetes does.
            _ => (f64::from(start) * (1.0 - f64::from(p.value) / 100.0)) as i32,
        };
        result = if min { result.max(proposed) } else { result.min(proposed) };
    }
    if rules.policies.is_empty() { current } else { result }
}

/// Applies the rate limits and the bounds to `desired`; returns the
/// result and the `ScalingLimited` reason and message.
fn limit_rate(
    history: &History,
    rules: &Rules,
    current: i32,
    desired: i32,
    min: i32,
    max: i32,
    now: Instant,
) -> (i32, &'static str, &'static str) {
    if desired > current {
        let limit = scale_up_limit(history, &rules.up, current, now).max(current);
        let (allowed, reason, message) = if max > limit {
            (limit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate")
        } else {
            (max, "TooManyReplicas", "the desired replica count is more than the maximum replica count")
        };
        if desired > allowed {
            return (allowed, reason, message);
        }
    } else if desired < current {
        let limit = scale_down_limit(history, &rules.down, current, now).min(current);
        let (allowed, reason, message) = if min < limit {
            (limit, "ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate")
        } else {
            (min, "TooFewReplicas", "the desired replica count is less than the minimum replica count")
        };
        if desired < allowed {
            return (allowed, reason, message);
        }
    }
    (desired, "DesiredWithinRange", "the desired count is within the acceptable range")
}

// ---------------------------------------------------------------------------
// Conditions and statuses
// ---------------------------------------------------------------------------

/// Sets a condition; its transition time moves only when its status does.
fn set_condition(
    conditions: &mut Vec<HorizontalPodAutoscalerCondition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: String,
    now: DateTime<Utc>,
) {
    let status = if status { "True" } else { "False" };
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != status {
                c.status = status.to_owned();
                c.last_transition_time = Some(Time(now));
            }
            c.reason = Some(reason.to_owned());
            c.message = Some(message);
        }
        None => conditions.push(HorizontalPodAutoscalerCondition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            last_transition_time: Some(Time(now)),
            reason: Some(reason.to_owned()),
            message: Some(message),
        }),
    }
}

fn milli(value: i64) -> Quantity {
    Quantity::from_milli(value)
}

// ---------------------------------------------------------------------------
// The target
// ---------------------------------------------------------------------------

/// The scale target as read.
struct Target {
    gvr: GroupVersionResource,
    object: DynamicObject,
    replicas: i32,
    selector: Option<Result<Selector, String>>,
}

/// The pod selector of a target's `spec.selector`: a label selector, or a
/// plain label map (ReplicationControllers, which default to the
/// template's labels).
fn selector_of(object: &DynamicObject) -> Option<Result<Selector, String>> {
    let spec = object.data.get("spec")?;
    let raw = spec.get("selector").filter(|s| s.as_object().is_some_and(|m| !m.is_empty()));
    let raw = match raw {
        Some(raw) => raw.clone(),
        None => spec.get("template")?.get("metadata")?.get("labels")?.clone(),
    };
    let map = raw.as_object()?;
    if map.is_empty() {
        return None;
    }
    let selector = if map.values().all(serde_json::Value::is_string) {
        serde_json::from_value::<SortedMap<String, String>>(raw)
            .map_err(|e| e.to_string())
            .map(|labels| Selector::from_map(&labels))
    } else {
        serde_json::from_value::<LabelSelector>(raw)
            .map_err(|e| e.to_string())
            .and_then(|s| Selector::try_from(&s).map_err(|e| e.to_string()))
    };
    Some(selector.and_then(|s| if s.is_empty() { Err("the selector selects every pod".into()) } else { Ok(s) }))
}

// ---------------------------------------------------------------------------
// The reconciler
// ---------------------------------------------------------------------------

/// One metric's outcome: the proposal, its status and its name.
type Proposal = (i32, MetricStatus, String);

/// A metric's failure: the condition reason and the message.
type Failure = (&'static str, String);

/// The HorizontalPodAutoscaler controller's reconciler (see the
/// [module documentation](self)).
pub struct HorizontalPodAutoscalerReconciler {
    api: Arc<dyn ObjectApi>,
    informers: Arc<InformerFactory>,
    clock: Arc<dyn Clock>,
    metrics: Arc<dyn MetricsSource>,
    options: HorizontalPodAutoscalerOptions,
    recorder: Recorder,
    history: Mutex<HashMap<String, History>>,
}

impl fmt::Debug for HorizontalPodAutoscalerReconciler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HorizontalPodAutoscalerReconciler")
            .field("metrics", &self.metrics)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl HorizontalPodAutoscalerReconciler {
    /// A reconciler reading pods from `informers`' caches and targets
    /// through `api`, metrics from `metrics`, telling time by `clock`.
    pub fn new(
        api: Arc<dyn ObjectApi>,
        informers: Arc<InformerFactory>,
        clock: Arc<dyn Clock>,
        metrics: Arc<dyn MetricsSource>,
    ) -> Self {
        let recorder = Recorder::with_clock(api.clone(), "horizontal-pod-autoscaler", "", clock.clone());
        HorizontalPodAutoscalerReconciler {
            api,
            informers,
            clock,
            metrics,
            options: HorizontalPodAutoscalerOptions::default(),
            recorder,
            history: Mutex::default(),
        }
    }

    /// The same reconciler with `options`.
    #[must_use]
    pub fn with_options(mut self, options: HorizontalPodAutoscalerOptions) -> Self {
        self.options = options;
        self
    }

    /// Its controller: autoscalers, woken by spec changes (their status
    /// writes do not wake them) and every sync period through requeues.
    pub fn controller(&self) -> Controller<HorizontalPodAutoscaler> {
        Controller::<HorizontalPodAutoscaler>::new(self.informers.clone(), None)
            .named("horizontalpodautoscaling")
            .with_predicate(Predicate::GenerationChanged)
            .clock(self.clock.clone())
            .workers(5)
    }

    async fn event(&self, hpa: &HorizontalPodAutoscaler, type_: EventType, reason: &str, message: &str) {
        if let Err(e) = self.recorder.publish(&reference_to(hpa), type_, reason, message).await {
            tracing::debug!(error = %e, reason, "event not recorded");
        }
    }

    fn with_history<T>(&self, key: &str, f: impl FnOnce(&mut History) -> T) -> T {
        let mut all = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        f(all.entry(key.to_owned()).or_default())
    }

    /// Drops the history of autoscalers the cache no longer shows.
    fn forget_deleted(&self, keep: &str) {
        let store = self.informers.informer::<HorizontalPodAutoscaler>(None, None, None).store();
        if !store.is_synced() {
            return;
        }
        let mut all = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        all.retain(|k, _| k == keep || store.get(k).is_some());
    }

    /// Reads the target.
    async fn target(&self, namespace: &str, reference: &CrossVersionObjectReference) -> Result<Target, String> {
        let resource = self
            .api
            .resources()
            .into_iter()
            .filter(|r| r.kind == reference.kind && r.namespaced && !r.plural.contains('/'))
            .find(|r| reference.api_version.as_deref().is_none_or(|v| v.is_empty() || r.api_version() == v))
            .ok_or_else(|| {
                format!(
                    "the server could not find the requested resource {} {}",
                    reference.api_version.as_deref().unwrap_or_default(),
                    reference.kind
                )
            })?;
        let gvr = resource.gvr();
        let object = self.api.get(&gvr, namespace, &reference.name).await.map_err(|e| e.to_string())?;
        let replicas = object
            .data
            .get("spec")
            .and_then(|s| s.get("replicas"))
            .and_then(serde_json::Value::as_i64)
            .map_or(1, |r| i32::try_from(r).unwrap_or(i32::MAX));
        let selector = selector_of(&object);
        Ok(Target { gvr, object, replicas, selector })
    }

    /// Writes the target's replicas.
    async fn rescale(&self, namespace: &str, target: &Target, replicas: i32) -> Result<(), StoreError> {
        let mut object = target.object.clone();
        let spec = object.data.entry("spec").or_insert_with(|| serde_json::json!({}));
        if let Some(spec) = spec.as_object_mut() {
            spec.insert("replicas".into(), serde_json::json!(replicas));
        }
        self.api.update(&target.gvr, namespace, object, &Default::default()).await.map(|_| ())
    }

    /// The target's pods (by the selector) from the cache.
    async fn pods(&self, namespace: &str, selector: &Selector) -> Vec<Arc<Pod>> {
        let store = self.informers.informer::<Pod>(None, None, None).store();
        store.wait_until_synced().await;
        store.in_namespace(namespace).into_iter().filter(|p| selector.matches(&p.metadata.labels)).collect()
    }

    /// Pods running and ready.
    fn ready_count(pods: &[Arc<Pod>]) -> usize {
        pods.iter().filter(|p| phase(p) == "Running" && ready_since(p).is_some()).count()
    }

    /// A per-pod (`Resource`, `ContainerResource` or `Pods`) proposal.
    #[allow(clippy::too_many_arguments)]
    async fn per_pod_proposal(
        &self,
        namespace: &str,
        selector: &Selector,
        current: i32,
        samples: PodMetrics,
        resource: Option<(&str, Option<&str>)>,
        target: &MetricTarget,
    ) -> Result<(i32, MetricValueStatus), String> {
        let pods = self.pods(namespace, selector).await;
        if pods.is_empty() {
            return Err("no pods returned by selector while calculating replica count".into());
        }
        let known: BTreeSet<&str> = pods.iter().map(|p| p.metadata.name.as_str()).collect();
        let full: BTreeMap<String, (i64, DateTime<Utc>, Duration)> = samples
            .into_iter()
            .filter(|(name, _)| known.contains(name.as_str()))
            .map(|(name, m)| (name, (m.value.milli_value(), m.timestamp, m.window)))
            .collect();
        let cpu = resource.is_some_and(|(r, _)| r == "cpu");
        let grouped = group_pods(&pods, &full, cpu, &self.options, self.clock.wall());
        let metrics: BTreeMap<String, i64> = full.into_iter().map(|(k, (v, _, _))| (k, v)).collect();
        let tolerance = self.options.tolerance;
        match (target.type_.as_str(), resource) {
            ("Utilization", Some((resource, container))) => {
                let percent = target.average_utilization.ok_or("the target utilization is not set")?;
                let requests = pod_requests(&pods, resource, container)?;
                let goal = Goal::Utilization { percent, requests: &requests };
                let (replicas, utilization, raw) = pod_replicas(metrics, &grouped, current, goal, tolerance)?;
                let status = MetricValueStatus {
                    average_value: Some(milli(raw)),
                    average_utilization: Some(i32::try_from(utilization).unwrap_or(i32::MAX)),
                    ..Default::default()
                };
                Ok((replicas, status))
            }
            ("AverageValue", _) => {
                let average = target.average_value.as_ref().ok_or("the target average value is not set")?;
                let goal = Goal::Average(average.milli_value());
                let (replicas, usage, _) = pod_replicas(metrics, &grouped, current, goal, tolerance)?;
                Ok((replicas, MetricValueStatus { average_value: Some(milli(usage)), ..Default::default() }))
            }
            (other, _) => Err(format!("invalid target type {other:?} for this metric")),
        }
    }

    /// One metric's proposal.
    async fn proposal(
        &self,
        hpa: &HorizontalPodAutoscaler,
        spec: &MetricSpec,
        selector: &Selector,
        current: i32,
    ) -> Result<Proposal, Failure> {
        let namespace = hpa.metadata.namespace.as_str();
        let metric_selector = |id: &MetricIdentifier| -> Result<Selector, String> {
            match &id.selector {
                Some(s) => Selector::try_from(s).map_err(|e| e.to_string()),
                None => Ok(Selector::everything()),
            }
        };
        match spec.type_.as_str() {
            "Resource" => {
                const REASON: &str = "FailedGetResourceMetric";
                let source = spec.resource.as_ref().ok_or((REASON, "no resource metric given".to_owned()))?;
                let samples = self
                    .metrics
                    .resource_metrics(namespace, &source.name, selector, None)
                    .await
                    .map_err(|e| (REASON, format!("unable to get metrics for resource {}: {e}", source.name)))?;
                let (replicas, current_value) = self
                    .per_pod_proposal(namespace, selector, current, samples, Some((&source.name, None)), &source.target)
                    .await
                    .map_err(|e| (REASON, format!("failed to get {} utilization: {e}", source.name)))?;
                let name = if source.target.type_ == "Utilization" {
                    format!("{} resource utilization (percentage of request)", source.name)
                } else {
                    format!("{} resource", source.name)
                };
                let status = MetricStatus {
                    type_: "Resource".into(),
                    resource: Some(ResourceMetricStatus { name: source.name.clone(), current: current_value }),
                    ..Default::default()
                };
                Ok((replicas, status, name))
            }
            "ContainerResource" => {
                const REASON: &str = "FailedGetContainerResourceMetric";
                let source = spec
                    .container_resource
                    .as_ref()
                    .ok_or((REASON, "no container resource metric given".to_owned()))?;
                let samples = self
                    .metrics
                    .resource_metrics(namespace, &source.name, selector, Some(&source.container))
                    .await
                    .map_err(|e| (REASON, format!("unable to get metrics for resource {}: {e}", source.name)))?;
                let resource = Some((source.name.as_str(), Some(source.container.as_str())));
                let (replicas, current_value) = self
                    .per_pod_proposal(namespace, selector, current, samples, resource, &source.target)
                    .await
                    .map_err(|e| (REASON, format!("failed to get {} utilization: {e}", source.name)))?;
                let status = MetricStatus {
                    type_: "ContainerResource".into(),
                    container_resource: Some(ContainerResourceMetricStatus {
                        name: source.name.clone(),
                        current: current_value,
                        container: source.container.clone(),
                    }),
                    ..Default::default()
                };
                Ok((
                    replicas,
                    status,
                    format!("{} container resource utilization (percentage of request)", source.name),
                ))
            }
            "Pods" => {
                const REASON: &str = "FailedGetPodsMetric";
                let source = spec.pods.as_ref().ok_or((REASON, "no pods metric given".to_owned()))?;
                let metric_sel = metric_selector(&source.metric).map_err(|e| (REASON, e))?;
                let samples = self
                    .metrics
                    .pods_metric(namespace, &source.metric.name, selector, &metric_sel)
                    .await
                    .map_err(|e| (REASON, format!("unable to get metric {}: {e}", source.metric.name)))?;
                let (replicas, current_value) = self
                    .per_pod_proposal(namespace, selector, current, samples, None, &source.target)
                    .await
                    .map_err(|e| (REASON, format!("failed to get pods metric value: {e}")))?;
                let status = MetricStatus {
                    type_: "Pods".into(),
                    pods: Some(PodsMetricStatus { metric: source.metric.clone(), current: current_value }),
                    ..Default::default()
                };
                Ok((replicas, status, format!("pods metric {}", source.metric.name)))
            }
            "Object" => {
                const REASON: &str = "FailedGetObjectMetric";
                let source = spec.object.as_ref().ok_or((REASON, "no object metric given".to_owned()))?;
                let metric_sel = metric_selector(&source.metric).map_err(|e| (REASON, e))?;
                let value = self
                    .metrics
                    .object_metric(namespace, &source.described_object, &source.metric.name, &metric_sel)
                    .await
                    .map_err(|e| (REASON, format!("unable to get metric {}: {e}", source.metric.name)))?
                    .value
                    .milli_value();
                let (replicas, current_value) = match source.target.type_.as_str() {
                    "Value" => {
                        let target =
                            source.target.value.as_ref().ok_or((REASON, "the target value is not set".into()))?;
                        let ratio = value as f64 / target.milli_value().max(1) as f64;
                        let ready = Self::ready_count(&self.pods(namespace, selector).await);
                        let replicas = ratio_replicas(current, ratio, ready, self.options.tolerance);
                        (replicas, MetricValueStatus { value: Some(milli(value)), ..Default::default() })
                    }
                    "AverageValue" => {
                        let target = source
                            .target
                            .average_value
                            .as_ref()
                            .ok_or((REASON, "the target average value is not set".into()))?;
                        let replicas = per_pod_replicas(current, value, target.milli_value(), self.options.tolerance);
                        let average = value / i64::from(current.max(1));
                        (replicas, MetricValueStatus { average_value: Some(milli(average)), ..Default::default() })
                    }
                    other => return Err((REASON, format!("invalid target type {other:?} for an object metric"))),
                };
                let status = MetricStatus {
                    type_: "Object".into(),
                    object: Some(ObjectMetricStatus {
                        metric: source.metric.clone(),
                        current: current_value,
                        described_object: source.described_object.clone(),
                    }),
                    ..Default::default()
                };
                Ok((replicas, status, format!("{} metric {}", source.described_object.kind, source.metric.name)))
            }
            "External" => {
                const REASON: &str = "FailedGetExternalMetric";
                let source = spec.external.as_ref().ok_or((REASON, "no external metric given".to_owned()))?;
                let metric_sel = metric_selector(&source.metric).map_err(|e| (REASON, e))?;
                let values = self
                    .metrics
                    .external_metric(namespace, &source.metric.name, &metric_sel)
                    .await
                    .map_err(|e| (REASON, format!("unable to get external metric {}: {e}", source.metric.name)))?;
                let total: i64 = values.iter().map(|v| v.value.milli_value()).sum();
                let (replicas, current_value) = match source.target.type_.as_str() {
                    "Value" => {
                        let target =
                            source.target.value.as_ref().ok_or((REASON, "the target value is not set".into()))?;
                        let ratio = total as f64 / target.milli_value().max(1) as f64;
                        let ready = Self::ready_count(&self.pods(namespace, selector).await);
                        let replicas = ratio_replicas(current, ratio, ready, self.options.tolerance);
                        (replicas, MetricValueStatus { value: Some(milli(total)), ..Default::default() })
                    }
                    "AverageValue" => {
                        let target = source
                            .target
                            .average_value
                            .as_ref()
                            .ok_or((REASON, "the target average value is not set".into()))?;
                        let replicas = per_pod_replicas(current, total, target.milli_value(), self.options.tolerance);
                        let average = total / i64::from(current.max(1));
                        (replicas, MetricValueStatus { average_value: Some(milli(average)), ..Default::default() })
                    }
                    other => return Err((REASON, format!("invalid target type {other:?} for an external metric"))),
                };
                let status = MetricStatus {
                    type_: "External".into(),
                    external: Some(ExternalMetricStatus { metric: source.metric.clone(), current: current_value }),
                    ..Default::default()
                };
                Ok((replicas, status, format!("external metric {}({metric_sel})", source.metric.name)))
            }
            other => Err(("InvalidMetricSourceType", format!("unknown metric source type {other:?}"))),
        }
    }

    /// Every metric's proposal: the highest, its name and the statuses;
    /// `Err` (with the statuses) when no proposal may be acted on.
    async fn compute(
        &self,
        hpa: &HorizontalPodAutoscaler,
        selector: &Selector,
        current: i32,
        conditions: &mut Vec<HorizontalPodAutoscalerCondition>,
    ) -> Result<(i32, String, Vec<MetricStatus>), (String, Vec<MetricStatus>)> {
        let now = self.clock.wall();
        let mut best: Option<(i32, String)> = None;
        let mut statuses = Vec::new();
        let mut first_error: Option<String> = None;
        let mut invalid = 0;
        for spec in &hpa.spec.metrics {
            match self.proposal(hpa, spec, selector, current).await {
                Ok((replicas, status, name)) => {
                    statuses.push(status);
                    if best.as_ref().is_none_or(|(b, _)| replicas > *b) {
                        best = Some((replicas, name));
                    }
                }
                Err((reason, message)) => {
                    invalid += 1;
                    self.event(hpa, EventType::Warning, reason, &message).await;
                    let text = format!("the HPA was unable to compute the replica count: {message}");
                    set_condition(conditions, CONDITION_SCALING_ACTIVE, false, reason, text, now);
                    first_error.get_or_insert(message);
                }
            }
        }
        let total = hpa.spec.metrics.len();
        match best {
            Some((replicas, name)) if invalid == 0 || replicas >= current => {
                let text = format!("the HPA was able to successfully calculate a replica count from {name}");
                set_condition(conditions, CONDITION_SCALING_ACTIVE, true, "ValidMetricFound", text, now);
                Ok((replicas, name, statuses))
            }
            _ => {
                let first = first_error.unwrap_or_else(|| "no metrics to compute a replica count from".into());
                if total == 0 {
                    let text = format!("the HPA was unable to compute the replica count: {first}");
                    set_condition(conditions, CONDITION_SCALING_ACTIVE, false, "InvalidMetricSourceType", text, now);
                }
                Err((format!("invalid metrics ({invalid} invalid out of {total}), first error is: {first}"), statuses))
            }
        }
    }

    /// Writes the status when it changed.
    async fn write_status(
        &self,
        api: &Api<HorizontalPodAutoscaler>,
        hpa: &HorizontalPodAutoscaler,
        status: HorizontalPodAutoscalerStatus,
    ) -> Result<(), Error> {
        if hpa.status.as_ref() == Some(&status) {
            return Ok(());
        }
        match api.guaranteed_update_status(&hpa.metadata.name, |h| h.status = Some(status.clone())).await {
            Err(e) if e.is_not_found() => Ok(()),
            other => other.map(|_| ()).map_err(Error::from),
        }
    }
}

/// The requests (milli) of `resource` of each pod, over its containers
/// and sidecars (or only `container`); an error names a container
/// without one.
fn pod_requests(pods: &[Arc<Pod>], resource: &str, container: Option<&str>) -> Result<BTreeMap<String, i64>, String> {
    let mut requests = BTreeMap::new();
    for pod in pods {
        let sidecars = pod.spec.init_containers.iter().filter(|c| c.restart_policy.as_deref() == Some("Always"));
        let mut sum = 0i64;
        for c in pod.spec.containers.iter().chain(sidecars) {
            if container.is_some_and(|name| name != c.name) {
                continue;
            }
            let request = c.resources.as_ref().and_then(|r| r.requests.get(resource));
            match request {
                Some(q) => sum += q.milli_value(),
                None => {
                    return Err(format!(
                        "missing request for {resource} in container {} of Pod {}",
                        c.name, pod.metadata.name
                    ));
                }
            }
        }
        requests.insert(pod.metadata.name.clone(), sum);
    }
    Ok(requests)
}

#[async_trait::async_trait]
impl Reconciler<HorizontalPodAutoscaler> for HorizontalPodAutoscalerReconciler {
    type Error = Error;

    async fn reconcile(&self, hpa: Arc<HorizontalPodAutoscaler>, ctx: &Context) -> Result<Action, Error> {
        let namespace = hpa.metadata.namespace.clone();
        let key = key_of(&*hpa);
        let hpas: Api<HorizontalPodAutoscaler> = Api::with_client(ctx.api.clone(), Some(namespace.clone()));
        let requeue = Ok(Action::RequeueAfter(self.options.sync_period));
        let now_wall = self.clock.wall();
        let now = self.clock.now();
        let previous = hpa.status.clone().unwrap_or_default();
        let mut conditions = previous.conditions.clone();
        let reference = &hpa.spec.scale_target_ref;
        let target_name = format!("{}/{}", reference.kind, reference.name);

        let target = match self.target(&namespace, reference).await {
            Ok(t) => t,
            Err(message) => {
                self.event(&hpa, EventType::Warning, "FailedGetScale", &message).await;
                let text = format!("the HPA controller was unable to get the target's current scale: {message}");
                set_condition(&mut conditions, CONDITION_ABLE_TO_SCALE, false, "FailedGetScale", text, now_wall);
                let status = HorizontalPodAutoscalerStatus {
                    conditions,
                    observed_generation: hpa.metadata.generation,
                    ..previous.clone()
                };
                self.write_status(&hpas, &hpa, status).await?;
                return requeue;
            }
        };
        self.forget_deleted(&key);
        let text = "the HPA controller was able to get the target's current scale".to_owned();
        set_condition(&mut conditions, CONDITION_ABLE_TO_SCALE, true, "SucceededGetScale", text, now_wall);
        let current = target.replicas;
        self.with_history(&key, |h| {
            if h.recommendations.is_empty() {
                h.recommendations.push((current, now));
            }
        });
        let min = hpa.spec.min_replicas.unwrap_or(1);
        let max = hpa.spec.max_replicas;
        let mut metric_statuses = Vec::new();
        let mut reason = String::new();
        let desired;
        let rescale;
        if current == 0 && min != 0 {
            desired = 0;
            rescale = false;
            let text = "scaling is disabled since the replica count of the target is zero".to_owned();
            set_condition(&mut conditions, CONDITION_SCALING_ACTIVE, false, "ScalingDisabled", text, now_wall);
        } else if current > max || current < min {
            let (bound, why, limited, message) = if current > max {
                (
                    max,
                    "Current number of replicas above Spec.MaxReplicas",
                    "TooManyReplicas",
                    "the desired replica count is more than the maximum replica count",
                )
            } else {
                (
                    min,
                    "Current number of replicas below Spec.MinReplicas",
                    "TooFewReplicas",
                    "the desired replica count is less than the minimum replica count",
                )
            };
            desired = bound;
            rescale = true;
            reason = why.to_owned();
            set_condition(&mut conditions, CONDITION_SCALING_LIMITED, true, limited, message.to_owned(), now_wall);
        } else {
            let selector = match &target.selector {
                Some(Ok(s)) => s.clone(),
                problem => {
                    let (event, text) = match problem {
                        Some(Err(e)) => (
                            "InvalidSelector",
                            format!("couldn't convert selector into a corresponding internal selector object: {e}"),
                        ),
                        _ => ("SelectorRequired", "the HPA target's scale is missing a selector".to_owned()),
                    };
                    self.event(&hpa, EventType::Warning, event, &text).await;
                    set_condition(&mut conditions, CONDITION_SCALING_ACTIVE, false, "InvalidSelector", text, now_wall);
                    let status = HorizontalPodAutoscalerStatus {
                        current_replicas: Some(current),
                        desired_replicas: previous.desired_replicas,
                        current_metrics: Vec::new(),
                        last_scale_time: previous.last_scale_time,
                        observed_generation: hpa.metadata.generation,
                        conditions,
                    };
                    self.write_status(&hpas, &hpa, status).await?;
                    return requeue;
                }
            };
            let (proposal, metric_name, statuses) = match self.compute(&hpa, &selector, current, &mut conditions).await
            {
                Ok(found) => found,
                Err((message, statuses)) => {
                    self.event(&hpa, EventType::Warning, "FailedComputeMetricsReplicas", &message).await;
                    let status = HorizontalPodAutoscalerStatus {
                        current_replicas: Some(current),
                        desired_replicas: previous.desired_replicas,
                        current_metrics: statuses,
                        last_scale_time: previous.last_scale_time,
                        observed_generation: hpa.metadata.generation,
                        conditions,
                    };
                    self.write_status(&hpas, &hpa, status).await?;
                    return requeue;
                }
            };
            metric_statuses = statuses;
            if proposal > current {
                reason = format!("{metric_name} above target");
            } else if proposal < current {
                reason = "All metrics below target".to_owned();
            }
            let rules = rules_of(&hpa, self.options.downscale_stabilization);
            let (stabilized, limited, limit_reason, limit_message) = self.with_history(&key, |h| {
                let (stabilized, why, message) = stabilize(h, &rules, current, proposal, now);
                let (limited, limit_reason, limit_message) = limit_rate(h, &rules, current, stabilized, min, max, now);
                ((stabilized, why, message), limited, limit_reason, limit_message)
            });
            let (stabilized, why, message) = stabilized;
            if stabilized != proposal {
                set_condition(&mut conditions, CONDITION_ABLE_TO_SCALE, true, why, message.to_owned(), now_wall);
            } else {
                let text = "recommended size matches current size".to_owned();
                set_condition(&mut conditions, CONDITION_ABLE_TO_SCALE, true, "ReadyForNewScale", text, now_wall);
            }
            let is_limited = limited != stabilized;
            set_condition(
                &mut conditions,
                CONDITION_SCALING_LIMITED,
                is_limited,
                limit_reason,
                limit_message.to_owned(),
                now_wall,
            );
            desired = limited;
            rescale = desired != current;
        }

        let mut last_scale_time = previous.last_scale_time;
        let desired = if rescale {
            if let Err(e) = self.rescale(&namespace, &target, desired).await {
                let message = format!("New size: {desired}; reason: {reason}; error: {e}");
                self.event(&hpa, EventType::Warning, "FailedRescale", &message).await;
                let text = format!("the HPA controller was unable to update the target scale: {e}");
                set_condition(&mut conditions, CONDITION_ABLE_TO_SCALE, false, "FailedUpdateScale", text, now_wall);
                let status = HorizontalPodAutoscalerStatus {
                    current_replicas: Some(current),
                    desired_replicas: previous.desired_replicas,
                    current_metrics: metric_statuses,
                    last_scale_time,
                    observed_generation: hpa.metadata.generation,
                    conditions,
                };
                self.write_status(&hpas, &hpa, status).await?;
                return Err(Error::Rescale { target: target_name, source: e });
            }
            let text = format!("the HPA controller was able to update the target scale to {desired}");
            set_condition(&mut conditions, CONDITION_ABLE_TO_SCALE, true, "SucceededRescale", text, now_wall);
            let message = format!("New size: {desired}; reason: {reason}");
            self.event(&hpa, EventType::Normal, "SuccessfulRescale", &message).await;
            self.with_history(&key, |h| {
                let longest = [&hpa.spec.behavior]
                    .iter()
                    .flat_map(|b| b.iter())
                    .flat_map(|b| b.scale_up.iter().chain(b.scale_down.iter()))
                    .flat_map(|r| r.policies.iter().map(|p| period_of(p.period_seconds)))
                    .max()
                    .unwrap_or(Duration::from_secs(15))
                    .max(Duration::from_secs(15));
                h.ups.retain(|(_, at)| now.saturating_duration_since(*at) < longest);
                h.downs.retain(|(_, at)| now.saturating_duration_since(*at) < longest);
                if desired > current {
                    h.ups.push((desired - current, now));
                } else {
                    h.downs.push((current - desired, now));
                }
            });
            last_scale_time = Some(Time(now_wall));
            desired
        } else {
            current
        };
        let status = HorizontalPodAutoscalerStatus {
            observed_generation: hpa.metadata.generation,
            last_scale_time,
            current_replicas: Some(current),
            desired_replicas: desired,
            current_metrics: metric_statuses,
            conditions,
        };
        self.write_status(&hpas, &hpa, status).await?;
        requeue
    }
}

/// Adds the HorizontalPodAutoscaler controller to `manager` (system
/// clock, default options), reading metrics from `metrics`.
pub fn add_horizontal_pod_autoscalers(manager: &mut Manager, metrics: Arc<dyn MetricsSource>) {
    let reconciler =
        HorizontalPodAutoscalerReconciler::new(manager.api(), manager.informers(), Arc::new(SystemClock), metrics);
    manager.add(reconciler.controller(), reconciler);
}

#[cfg(test)]
mod tests {
    use k_api_types::apps::v1::{Deployment, DeploymentSpec};
    use k_api_types::autoscaling::v2::{
        ExternalMetricSource, HPAScalingPolicy, HorizontalPodAutoscalerBehavior, HorizontalPodAutoscalerSpec,
        ObjectMetricSource, PodsMetricSource, ResourceMetricSource,
    };
    use k_api_types::core::v1::{
        Container, Event, PodCondition, PodSpec, PodStatus, PodTemplateSpec, ResourceRequirements,
    };
    use k_api_types::meta::ObjectMeta;
    use k_runtime::testing::TestEnv;
    use k_runtime::watcher::Config;
    use k_store::api::ListOptions;

    use super::*;

    const NS: &str = "default";

    fn q(s: &str) -> Quantity {
        s.parse().unwrap()
    }

    fn labels(app: &str) -> SortedMap<String, String> {
        [("app".to_owned(), app.to_owned())].into_iter().collect()
    }

    fn container(requests: &[(&str, &str)]) -> Container {
        Container {
            name: "c".into(),
            image: Some("nginx".into()),
            resources: Some(ResourceRequirements {
                requests: requests.iter().map(|(k, v)| ((*k).to_owned(), q(v))).collect(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn resource_metric(name: &str, target: MetricTarget) -> MetricSpec {
        MetricSpec {
            type_: "Resource".into(),
            resource: Some(ResourceMetricSource { name: name.into(), target }),
            ..Default::default()
        }
    }

    fn utilization(percent: i32) -> MetricTarget {
        MetricTarget { type_: "Utilization".into(), average_utilization: Some(percent), ..Default::default() }
    }

    fn average(value: &str) -> MetricTarget {
        MetricTarget { type_: "AverageValue".into(), average_value: Some(q(value)), ..Default::default() }
    }

    fn cpu(percent: i32) -> Vec<MetricSpec> {
        vec![resource_metric("cpu", utilization(percent))]
    }

    fn rules(window: Option<i32>, select: Option<&str>, policies: &[(&str, i32, i32)]) -> HPAScalingRules {
        HPAScalingRules {
            stabilization_window_seconds: window,
            select_policy: select.map(str::to_owned),
            policies: policies
                .iter()
                .map(|(t, v, p)| HPAScalingPolicy { type_: (*t).into(), value: *v, period_seconds: *p })
                .collect(),
        }
    }

    struct Fixture {
        env: TestEnv,
        informers: Arc<InformerFactory>,
        ctx: Context,
        metrics: Arc<StaticMetrics>,
        hpas: Api<HorizontalPodAutoscaler>,
        deployments: Api<Deployment>,
        pods: Api<Pod>,
    }

    impl Fixture {
        fn new() -> Self {
            let env = TestEnv::new();
            let informers = Arc::new(InformerFactory::new(env.api.clone(), Config::default()));
            let ctx = Context {
                controller: Arc::from("horizontalpodautoscaling"),
                api: env.api.clone(),
                clock: Arc::new(env.clock.clone()),
                retries: 0,
            };
            let metrics = Arc::new(StaticMetrics::with_clock(Arc::new(env.clock.clone())));
            Fixture {
                hpas: Api::namespaced(env.store.clone(), NS),
                deployments: Api::namespaced(env.store.clone(), NS),
                pods: Api::namespaced(env.store.clone(), NS),
                env,
                informers,
                ctx,
                metrics,
            }
        }

        fn reconciler(&self) -> HorizontalPodAutoscalerReconciler {
            HorizontalPodAutoscalerReconciler::new(
                self.env.api.clone(),
                self.informers.clone(),
                Arc::new(self.env.clock.clone()),
                self.metrics.clone(),
            )
        }

        /// A deployment `app` of `replicas` with that many ready pods
        /// (`app-0`, …) requesting 100m CPU and 100Mi memory each.
        async fn workload(&self, app: &str, replicas: i32) {
            let template = PodTemplateSpec {
                metadata: ObjectMeta { labels: labels(app), ..Default::default() },
                spec: PodSpec { containers: vec![container(&[])], ..Default::default() },
            };
            self.deployments
                .create(&Deployment {
                    metadata: ObjectMeta::namespaced(NS, app),
                    spec: DeploymentSpec {
                        replicas: Some(replicas),
                        selector: Some(LabelSelector::from_labels([("app", app)])),
                        template,
                        ..Default::default()
                    },
                    ..Default::default()
                })
                .await
                .unwrap();
            for i in 0..replicas {
                self.pod(&format!("{app}-{i}"), app, true).await;
            }
        }

        async fn pod(&self, name: &str, app: &str, ready: bool) {
            let mut pod = self
                .pods
                .create(&Pod {
                    metadata: ObjectMeta { labels: labels(app), ..ObjectMeta::namespaced(NS, name) },
                    spec: PodSpec {
                        containers: vec![container(&[("cpu", "100m"), ("memory", "100Mi")])],
                        ..Default::default()
                    },
                    ..Default::default()
                })
                .await
                .unwrap();
            let long_ago = |minutes: i64| Some(Time(self.env.clock.wall() - chrono::Duration::minutes(minutes)));
            pod.status = Some(PodStatus {
                phase: Some("Running".into()),
                start_time: long_ago(10),
                conditions: vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    last_transition_time: long_ago(9),
                    ..Default::default()
                }],
                ..Default::default()
            });
            self.pods.update_status(&pod).await.unwrap();
        }

        /// Waits until the pod cache shows `n` pods.
        async fn pods_cached(&self, n: usize) {
            let store = self.informers.informer::<Pod>(None, None, None).store();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            while store.state().len() != n || store.state().iter().any(|p| p.status.is_none()) {
                assert!(tokio::time::Instant::now() < deadline, "the pod cache never caught up");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }

        async fn hpa(
            &self,
            name: &str,
            min: Option<i32>,
            max: i32,
            metrics: Vec<MetricSpec>,
            behavior: Option<HorizontalPodAutoscalerBehavior>,
        ) {
            self.hpas
                .create(&HorizontalPodAutoscaler {
                    metadata: ObjectMeta::namespaced(NS, name),
                    spec: HorizontalPodAutoscalerSpec {
                        scale_target_ref: CrossVersionObjectReference {
                            kind: "Deployment".into(),
                            name: name.into(),
                            api_version: Some("apps/v1".into()),
                        },
                        min_replicas: min,
                        max_replicas: max,
                        metrics,
                        behavior,
                    },
                    ..Default::default()
                })
                .await
                .unwrap();
        }

        /// Sets the CPU usage of pods `app-0..n`.
        fn cpu_usage(&self, app: &str, n: i32, usage: &str) {
            for i in 0..n {
                self.metrics.set_pod_usage(NS, &format!("{app}-{i}"), "cpu", q(usage));
            }
        }

        async fn reconcile(&self, r: &HorizontalPodAutoscalerReconciler, name: &str) -> HorizontalPodAutoscaler {
            let hpa = self.hpas.get(name).await.unwrap();
            let action = r.reconcile(Arc::new(hpa), &self.ctx).await.unwrap();
            assert_eq!(action, Action::RequeueAfter(DEFAULT_SYNC_PERIOD));
            self.hpas.get(name).await.unwrap()
        }

        async fn replicas(&self, name: &str) -> Option<i32> {
            self.deployments.get(name).await.unwrap().spec.replicas
        }

        async fn events(&self) -> Vec<(String, String)> {
            let events: Api<Event> = Api::namespaced(self.env.store.clone(), NS);
            events
                .list(&ListOptions::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
                .collect()
        }
    }

    fn condition(hpa: &HorizontalPodAutoscaler, type_: &str) -> (String, String) {
        let c = hpa.status.as_ref().unwrap().conditions.iter().find(|c| c.type_ == type_).unwrap();
        (c.status.clone(), c.reason.clone().unwrap_or_default())
    }

    fn is(status: &str, reason: &str) -> (String, String) {
        (status.to_owned(), reason.to_owned())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scales_up_on_cpu_utilization_and_reports_status() {
        let f = Fixture::new();
        let r = f.reconciler();
        f.workload("web", 2).await;
        f.cpu_usage("web", 2, "100m");
        f.hpa("web", Some(1), 10, cpu(50), None).await;
        f.pods_cached(2).await;
        let hpa = f.reconcile(&r, "web").await;
        assert_eq!(f.replicas("web").await, Some(4), "100% against a 50% target doubles");
        let status = hpa.status.as_ref().unwrap();
        assert_eq!((status.current_replicas, status.desired_replicas), (Some(2), 4));
        assert_eq!(status.observed_generation, hpa.metadata.generation);
        assert_eq!(status.last_scale_time.as_ref().map(|t| t.0.timestamp()), Some(f.env.clock.wall().timestamp()));
        let current = &status.current_metrics[0].resource.as_ref().unwrap().current;
        assert_eq!((current.average_utilization, current.average_value.clone()), (Some(100), Some(q("100m"))));
        assert_eq!(condition(&hpa, CONDITION_ABLE_TO_SCALE), is("True", "SucceededRescale"));
        assert_eq!(condition(&hpa, CONDITION_SCALING_ACTIVE), is("True", "ValidMetricFound"));
        assert_eq!(condition(&hpa, CONDITION_SCALING_LIMITED), is("False", "DesiredWithinRange"));
        let events = f.events().await;
        assert!(
            events.iter().any(|(reason, message)| reason == "SuccessfulRescale"
                && message == "New size: 4; reason: cpu resource utilization (percentage of request) above target"),
            "{events:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn within_tolerance_nothing_changes_and_status_is_written_once() {
        let f = Fixture::new();
        let r = f.reconciler();
        f.workload("web", 2).await;
        f.cpu_usage("web", 2, "54m");
        f.hpa("web", None, 10, cpu(50), None).await;
        f.pods_cached(2).await;
        let first = f.reconcile(&r, "web").await;
        assert_eq!(f.replicas("web").await, Some(2), "108% of the target is within the 10% tolerance");
        let status = first.status.as_ref().unwrap();
        assert_eq!((status.current_replicas, status.desired_replicas), (Some(2), 2));
        assert!(status.last_scale_time.is_none());
        assert_eq!(condition(&first, CONDITION_ABLE_TO_SCALE), is("True", "ReadyForNewScale"));
        f.env.clock.advance(Duration::from_secs(15));
        let again = f.reconcile(&r, "web").await;
        assert_eq!(again.metadata.resource_version, first.metadata.resource_version, "unchanged status: no write");
        assert!(f.events().await.iter().all(|(reason, _)| reason != "SuccessfulRescale"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn clamps_to_max_and_min_replicas() {
        let f = Fixture::new();
        let r = f.reconciler();
        f.workload("big", 5).await;
        f.workload("small", 4).await;
        f.cpu_usage("big", 5, "100m");
        f.cpu_usage("small", 4, "10m");
        f.hpa("big", Some(1), 8, cpu(50), None).await;
        let fast_down =
            HorizontalPodAutoscalerBehavior { scale_down: Some(rules(Some(0), None, &[])), ..Default::default() };
        f.hpa("small", Some(3), 10, cpu(50), Some(fast_down)).await;
        f.pods_cached(9).await;
        let big = f.reconcile(&r, "big").await;
        assert_eq!(f.replicas("big").await, Some(8), "10 wanted, at most 8");
        assert_eq!(condition(&big, CONDITION_SCALING_LIMITED), is("True", "TooManyReplicas"));
        let small = f.reconcile(&r, "small").await;
        assert_eq!(f.replicas("small").await, Some(3), "1 wanted, at least 3");
        assert_eq!(condition(&small, CONDITION_SCALING_LIMITED), is("True", "TooFewReplicas"));
        assert_eq!(small.status.as_ref().unwrap().desired_replicas, 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_stabilization_window_delays_a_scale_down_for_300_seconds() {
        let f = Fixture::new();
        let r = f.reconciler();
        f.workload("web", 4).await;
        f.cpu_usage("web", 4, "10m");
        f.hpa("web", None, 10, cpu(50), None).await;
        f.pods_cached(4).await;
        let hpa = f.reconcile(&r, "web").await;
        assert_eq!(f.replicas("web").await, Some(4));
        assert_eq!(condition(&hpa, CONDITION_ABLE_TO_SCALE), is("True", "ScaleDownStabilized"));
        assert_eq!(hpa.status.as_ref().unwrap().desired_replicas, 4);
        f.env.clock.advance(Duration::from_secs(150));
        f.reconcile(&r, "web").await;
        assert_eq!(f.replicas("web").await, Some(4), "still inside the window");
        f.env.clock.advance(Duration::from_secs(150));
        let hpa = f.reconcile(&r, "web").await;
        assert_eq!(f.replicas("web").await, Some(1), "the window has passed");
        assert_eq!(condition(&hpa, CONDITION_ABLE_TO_SCALE), is("True", "SucceededRescale"));
        assert!(f.events().await.iter().any(|(_, m)| m == "New size: 1; reason: All metrics below target"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn behaviour_policies_limit_scaling() {
        let f = Fixture::new();
        let r = f.reconciler();
        f.workload("web", 2).await;
        f.cpu_usage("web", 2, "200m");
        let behavior = HorizontalPodAutoscalerBehavior {
            scale_up: Some(rules(Some(0), Some("Max"), &[("Pods", 1, 60)])),
            scale_down: Some(rules(Some(0), Some("Disabled"), &[])),
        };
        f.hpa("web", None, 10, cpu(50), Some(behavior)).await;
        f.pods_cached(2).await;
        let hpa = f.reconcile(&r, "web").await;
        assert_eq!(f.replicas("web").await, Some(3), "8 wanted, one pod per minute");
        assert_eq!(condition(&hpa, CONDITION_SCALING_LIMITED), is("True", "ScaleUpLimit"));
        f.env.clock.advance(Duration::from_secs(30));
        f.reconcile(&r, "web").await;
        assert_eq!(f.replicas("web").await, Some(3), "the minute is not over");
        f.env.clock.advance(Duration::from_secs(30));
        f.reconcile(&r, "web").await;
        assert_eq!(f.replicas("web").await, Some(4));
        // Scaling down is disabled.
        f.cpu_usage("web", 2, "1m");
        f.env.clock.advance(Duration::from_secs(60));
        let hpa = f.reconcile(&r, "web").await;
        assert_eq!(f.replicas("web").await, Some(4));
        assert_eq!(condition(&hpa, CONDITION_SCALING_LIMITED), is("True", "ScaleDownLimit"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn average_values_and_custom_metrics_take_the_highest_proposal() {
        let f = Fixture::new();
        let r = f.reconciler();
        f.workload("web", 2).await;
        for pod in ["web-0", "web-1"] {
            f.metrics.set_pod_usage(NS, pod, "memory", q("200Mi"));
            f.metrics.set_pod_metric(NS, pod, "requests_per_second", q("20"));
        }
        f.metrics.set_object_metric(NS, "Ingress", "main", "hits", q("50"));
        f.metrics.set_external_metric(NS, "queue_length", &[("queue", "jobs")], q("25"));
        f.metrics.set_external_metric(NS, "queue_length", &[("queue", "other")], q("1000"));
        let id = |name: &str, selector: Option<LabelSelector>| MetricIdentifier { name: name.into(), selector };
        let metrics = vec![
            resource_metric("memory", average("100Mi")),
            MetricSpec {
                type_: "Pods".into(),
                pods: Some(PodsMetricSource { metric: id("requests_per_second", None), target: average("10") }),
                ..Default::default()
            },
            MetricSpec {
                type_: "Object".into(),
                object: Some(ObjectMetricSource {
                    described_object: CrossVersionObjectReference {
                        kind: "Ingress".into(),
                        name: "main".into(),
                        api_version: Some("networking.k8s.io/v1".into()),
                    },
                    target: MetricTarget { type_: "Value".into(), value: Some(q("100")), ..Default::default() },
                    metric: id("hits", None),
                }),
                ..Default::default()
            },
            MetricSpec {
                type_: "External".into(),
                external: Some(ExternalMetricSource {
                    metric: id("queue_length", Some(LabelSelector::from_labels([("queue", "jobs")]))),
                    target: average("5"),
                }),
                ..Default::default()
            },
        ];
        f.hpa("web", None, 10, metrics, None).await;
        f.pods_cached(2).await;
        let hpa = f.reconcile(&r, "web").await;
        // memory 2× → 4, pods metric 2× → 4, object 0.5× → 1, external 25/5 → 5.
        assert_eq!(f.replicas("web").await, Some(5));
        let status = hpa.status.as_ref().unwrap();
        let current: Vec<&MetricValueStatus> = status
            .current_metrics
            .iter()
            .map(|m| {
                m.resource
                    .as_ref()
                    .map(|s| &s.current)
                    .or(m.pods.as_ref().map(|s| &s.current))
                    .or(m.object.as_ref().map(|s| &s.current))
                    .or(m.external.as_ref().map(|s| &s.current))
                    .unwrap()
            })
            .collect();
        assert_eq!(current.len(), 4);
        assert_eq!(current[0].average_value, Some(q("200Mi")));
        assert_eq!(current[1].average_value, Some(q("20")));
        assert_eq!(current[2].value, Some(q("50")));
        assert_eq!(current[3].average_value, Some(q("12500m")), "25 over 2 replicas; the other queue is not selected");
        let events = f.events().await;
        assert!(
            events.iter().any(|(_, m)| m.starts_with("New size: 5; reason: external metric queue_length(")),
            "{events:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn missing_metrics_set_conditions_and_count_as_on_target_when_scaling_down() {
        let f = Fixture::new();
        let r = f.reconciler();
        f.workload("web", 3).await;
        let fast_down =
            HorizontalPodAutoscalerBehavior { scale_down: Some(rules(Some(0), None, &[])), ..Default::default() };
        f.hpa("web", None, 10, cpu(50), Some(fast_down)).await;
        f.pods_cached(3).await;
        let hpa = f.reconcile(&r, "web").await;
        assert_eq!(condition(&hpa, CONDITION_SCALING_ACTIVE), is("False", "FailedGetResourceMetric"));
        assert_eq!(f.replicas("web").await, Some(3));
        let events = f.events().await;
        assert!(events.iter().any(|(reason, _)| reason == "FailedGetResourceMetric"), "{events:?}");
        assert!(events.iter().any(|(reason, _)| reason == "FailedComputeMetricsReplicas"), "{events:?}");
        assert_eq!(hpa.status.as_ref().unwrap().current_replicas, Some(3));

        // Two of three pods report 10%; the third counts as 100%: 40% is
        // not enough to remove a pod.
        f.cpu_usage("web", 2, "10m");
        let hpa = f.reconcile(&r, "web").await;
        assert_eq!(condition(&hpa, CONDITION_SCALING_ACTIVE), is("True", "ValidMetricFound"));
        assert_eq!(f.replicas("web").await, Some(3));
        f.cpu_usage("web", 3, "10m");
        f.reconcile(&r, "web").await;
        assert_eq!(f.replicas("web").await, Some(1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_missing_target_and_a_target_at_zero() {
        let f = Fixture::new();
        let r = f.reconciler();
        f.hpa("ghost", None, 10, cpu(50), None).await;
        let hpa = f.reconcile(&r, "ghost").await;
        assert_eq!(condition(&hpa, CONDITION_ABLE_TO_SCALE), is("False", "FailedGetScale"));
        f.workload("idle", 0).await;
        f.hpa("idle", None, 10, cpu(50), None).await;
        let hpa = f.reconcile(&r, "idle").await;
        assert_eq!(condition(&hpa, CONDITION_SCALING_ACTIVE), is("False", "ScalingDisabled"));
        assert_eq!(f.replicas("idle").await, Some(0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_running_manager_scales_and_resyncs_every_sync_period() {
        let f = Fixture::new();
        let mut manager = f.env.manager();
        let reconciler = HorizontalPodAutoscalerReconciler::new(
            manager.api(),
            manager.informers(),
            Arc::new(f.env.clock.clone()),
            f.metrics.clone(),
        );
        manager.add(reconciler.controller(), reconciler);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(manager.run(async {
            let _ = stopped.await;
        }));
        f.workload("web", 2).await;
        f.cpu_usage("web", 2, "100m");
        f.hpa("web", None, 10, cpu(50), None).await;
        let replicas = |n: i32| move |d: &Deployment| d.spec.replicas == Some(n);
        f.env.wait_for(NS, "web", replicas(4), Duration::from_secs(10)).await.unwrap();
        // Busier pods: seen at the next sync, 15 s later on the clock.
        f.cpu_usage("web", 2, "200m");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while f.env.clock.sleepers() == 0 {
            assert!(tokio::time::Instant::now() < deadline, "no requeue is waiting");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(f.replicas("web").await, Some(4));
        f.env.clock.advance(DEFAULT_SYNC_PERIOD);
        f.env.wait_for(NS, "web", replicas(8), Duration::from_secs(10)).await.unwrap();
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(10), run).await.unwrap().unwrap();
    }

    #[test]
    fn unready_pods_count_as_idle_when_scaling_up() {
        let requests: BTreeMap<String, i64> = ["a", "b", "c"].iter().map(|p| ((*p).to_owned(), 100)).collect();
        let goal = Goal::Utilization { percent: 100, requests: &requests };
        let metrics: BTreeMap<String, i64> =
            [("a".to_owned(), 300), ("b".to_owned(), 120), ("c".to_owned(), 900)].into();
        let grouped = Grouped { ready: 2, unready: ["c".to_owned()].into(), ..Default::default() };
        // Ready pods at 210%; with the unready one at 0, 140%: ceil(1.4 × 3).
        let (replicas, utilization, _) = pod_replicas(metrics.clone(), &grouped, 3, goal, 0.1).unwrap();
        assert_eq!((replicas, utilization), (5, 210));
        // If that brings the ratio within the tolerance, nothing changes.
        let metrics: BTreeMap<String, i64> = [("a".to_owned(), 160), ("b".to_owned(), 160), ("c".to_owned(), 0)].into();
        assert_eq!(pod_replicas(metrics, &grouped, 3, goal, 0.1).unwrap().0, 3);
    }

    #[test]
    fn rate_limits_follow_the_policies() {
        let now = Instant::now();
        let mut history = History::default();
        let percent = rules(None, Some("Max"), &[("Percent", 50, 60), ("Pods", 1, 60)]);
        assert_eq!(scale_up_limit(&history, &percent, 10, now), 15);
        let min = rules(None, Some("Min"), &[("Percent", 50, 60), ("Pods", 1, 60)]);
        assert_eq!(scale_up_limit(&history, &min, 10, now), 11);
        assert_eq!(scale_down_limit(&history, &percent, 10, now), 5);
        assert_eq!(scale_down_limit(&history, &min, 10, now), 9);
        // 5 replicas added 30 s ago: the period started at 10.
        history.ups.push((5, now));
        let later = now + Duration::from_secs(30);
        assert_eq!(scale_up_limit(&history, &percent, 15, later), 15);
        assert_eq!(scale_up_limit(&history, &percent, 15, now + Duration::from_secs(60)), 23);
    }

    #[test]
    fn selectors_come_from_label_selectors_maps_and_templates() {
        let object = |spec: serde_json::Value| DynamicObject {
            data: [("spec".to_owned(), spec)].into_iter().collect(),
            ..Default::default()
        };
        let deployment = object(serde_json::json!({"selector": {"matchLabels": {"app": "web"}}}));
        let rc = object(serde_json::json!({"selector": {"app": "rc"}}));
        let templated = object(serde_json::json!({"template": {"metadata": {"labels": {"app": "t"}}}}));
        let none = object(serde_json::json!({"replicas": 2}));
        assert!(selector_of(&deployment).unwrap().unwrap().matches(&labels("web")));
        assert!(selector_of(&rc).unwrap().unwrap().matches(&labels("rc")));
        assert!(selector_of(&templated).unwrap().unwrap().matches(&labels("t")));
        assert!(selector_of(&none).is_none());
    }
}
