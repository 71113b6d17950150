//! NodeResourcesFit (PodFitsResources) and NodeResourcesBalancedAllocation.
//!
//! **Fit, filter**: the pod's requests must fit in what the node has left
//! (`allocatable − requested`) for CPU, memory, ephemeral storage and every
//! extended resource it asks for, and one more pod must fit the node's pod
//! count. Every shortfall is a reason (`Insufficient cpu`, `Too many pods`).
//!
//! **Fit, score**, over the configured resources and weights (default CPU
//! and memory, weight 1 each), with non-zero requests (a container asking
//! no CPU or memory counts 100m and 200 MiB): `LeastAllocated` (default)
//! scores `(allocatable − requested) × 100 / allocatable` per resource,
//! `MostAllocated` `min(requested, allocatable) × 100 / allocatable`, and
//! `RequestedToCapacityRatio` a broken-linear shape over utilization (shape
//! scores 0–10, scaled ×10). The node's score is the weighted mean, with
//! integer division (rounded for RequestedToCapacityRatio). Resources the
//! node does not offer, and extended resources the pod does not ask for,
//! are left out.
//!
//! **BalancedAllocation, score**: with the real requests, each resource's
//! fraction `requested / allocatable` (at most 1); with two resources
//! `std = |f₁ − f₂| / 2`, with more the population standard deviation;
//! score `⌊(1 − std) × 100⌋`.

use crate::framework::{
    CycleState, FilterPlugin, MAX_NODE_SCORE, NodeInfo, Plugin, PodInfo, Resource, ResourceKey, ScorePlugin, Status,
};

/// The Fit plugin's name.
pub const FIT: &str = "NodeResourcesFit";
/// The BalancedAllocation plugin's name.
pub const BALANCED_ALLOCATION: &str = "NodeResourcesBalancedAllocation";

/// A resource scored, with its weight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceSpec {
    /// `cpu`, `memory`, `ephemeral-storage` or an extended resource.
    pub name: String,
    /// Its weight (at least 1).
    pub weight: i64,
    key: ResourceKey,
}

impl ResourceSpec {
    /// A resource with a weight.
    pub fn new(name: &str, weight: i64) -> Self {
        ResourceSpec { name: name.to_owned(), weight, key: ResourceKey::of(name) }
    }

    /// CPU and memory, weight 1 each (kube-scheduler's default).
    pub fn defaults() -> Vec<ResourceSpec> {
        vec![ResourceSpec::new("cpu", 1), ResourceSpec::new("memory", 1)]
    }
}

/// A point of a RequestedToCapacityRatio shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShapePoint {
    /// Utilization, 0–100.
    pub utilization: i64,
    /// Score, 0–10 (as in the configuration).
    pub score: i64,
}

/// How Fit scores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScoringStrategy {
    /// Prefer emptier nodes (default).
    LeastAllocated,
    /// Prefer fuller nodes (bin packing).
    MostAllocated,
    /// A custom shape over utilization.
    RequestedToCapacityRatio(Vec<ShapePoint>),
}

/// NodeResourcesFit; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct Fit {
    strategy: ScoringStrategy,
    resources: Vec<ResourceSpec>,
    ignored: Vec<String>,
}

impl Default for Fit {
    fn default() -> Self {
        Fit::new(ScoringStrategy::LeastAllocated, ResourceSpec::defaults())
    }
}

impl Fit {
    /// Fit with a scoring strategy over `resources`.
    pub fn new(strategy: ScoringStrategy, resources: Vec<ResourceSpec>) -> Self {
        Fit { strategy, resources, ignored: Vec::new() }
    }

    /// Extended resources the filter does not check (`ignoredResources`).
    #[must_use]
    pub fn ignoring(mut self, resources: Vec<String>) -> Self {
        self.ignored = resources;
        self
    }

    /// Why `pod` does not fit `node` (empty: it fits).
    pub fn insufficient(&self, pod: &PodInfo, node: &NodeInfo) -> Vec<String> {
        let mut reasons = Vec::new();
        if node.pods.len() as i64 + 1 > node.allocatable.allowed_pod_number {
            reasons.push("Too many pods".to_owned());
        }
        let want = &pod.requests;
        if want.milli_cpu == 0
            && want.memory == 0
            && want.ephemeral_storage == 0
            && want.scalar.values().all(|v| *v == 0)
        {
            return reasons;
        }
        let left = |name: &str| node.allocatable.get(name) - node.requested.get(name);
        for (name, amount) in
            [("cpu", want.milli_cpu), ("memory", want.memory), ("ephemeral-storage", want.ephemeral_storage)]
        {
            if amount > 0 && amount > left(name) {
                reasons.push(format!("Insufficient {name}"));
            }
        }
        for (name, amount) in &want.scalar {
            if *amount > 0 && !self.ignored.contains(name) && *amount > left(name) {
                reasons.push(format!("Insufficient {name}"));
            }
        }
        reasons
    }
}

impl Plugin for Fit {
    fn name(&self) -> &'static str {
        FIT
    }
}

impl FilterPlugin for Fit {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let reasons = self.insufficient(pod, node);
        if reasons.is_empty() {
            Status::success()
        } else {
            Status::with_reasons(crate::framework::Code::Unschedulable, reasons).from_plugin(FIT)
        }
    }
}

/// For each configured resource the node offers (and, for an extended
/// resource, the pod asks for): (allocatable, requested after placing the
/// pod, weight). `real` uses the real requests; otherwise the non-zero ones
/// for CPU and memory.
fn allocation<'a>(
    resources: &'a [ResourceSpec],
    pod: &'a PodInfo,
    node: &'a NodeInfo,
    real: bool,
) -> impl Iterator<Item = (i64, i64, i64)> + 'a {
    let (pod_requests, node_requests): (&Resource, &Resource) =
        if real { (&pod.requests, &node.requested) } else { (&pod.non_zero_requests, &node.non_zero_requested) };
    resources.iter().filter_map(move |spec| {
        let key = &spec.key;
        let cpu_or_memory = matches!(key, ResourceKey::Cpu | ResourceKey::Memory);
        let wanted = if cpu_or_memory { pod_requests.get_key(key) } else { pod.requests.get_key(key) };
        if key.is_scalar() && wanted == 0 {
            return None;
        }
        let on_node = if cpu_or_memory { node_requests.get_key(key) } else { node.requested.get_key(key) };
        let allocatable = node.allocatable.get_key(key);
        (allocatable != 0).then_some((allocatable, on_node + wanted, spec.weight))
    })
}

fn least_requested(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity { 0 } else { (capacity - requested) * MAX_NODE_SCORE / capacity }
}

fn most_requested(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 { 0 } else { requested.min(capacity) * MAX_NODE_SCORE / capacity }
}

/// The broken-linear function of a shape (scores already scaled to 0–100).
fn broken_linear(shape: &[ShapePoint], utilization: i64) -> i64 {
    let Some(first) = shape.first() else { return 0 };
    if utilization < first.utilization {
        return first.score;
    }
    for pair in shape.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if utilization < b.utilization {
            return a.score + (b.score - a.score) * (utilization - a.utilization) / (b.utilization - a.utilization);
        }
    }
    shape.last().map_or(0, |p| p.score)
}

impl ScorePlugin for Fit {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let weights: i64 = allocation(&self.resources, pod, node, false).map(|r| r.2).sum();
        if weights == 0 {
            return Ok(0);
        }
        let resources = allocation(&self.resources, pod, node, false);
        Ok(match &self.strategy {
            ScoringStrategy::LeastAllocated => {
                resources.map(|(alloc, req, w)| least_requested(req, alloc) * w).sum::<i64>() / weights
            }
            ScoringStrategy::MostAllocated => {
                resources.map(|(alloc, req, w)| most_requested(req, alloc) * w).sum::<i64>() / weights
            }
            ScoringStrategy::RequestedToCapacityRatio(shape) => {
                let scaled: Vec<ShapePoint> = shape
                    .iter()
                    .map(|p| ShapePoint { utilization: p.utilization, score: p.score * (MAX_NODE_SCORE / 10) })
                    .collect();
                let total: i64 = resources
                    .map(|(alloc, req, w)| {
                        let utilization = if alloc == 0 || req > alloc { 100 } else { req * 100 / alloc };
                        broken_linear(&scaled, utilization) * w
                    })
                    .sum();
                (total as f64 / weights as f64).round() as i64
            }
        })
    }
}

/// NodeResourcesBalancedAllocation; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct BalancedAllocation {
    resources: Vec<ResourceSpec>,
}

impl Default for BalancedAllocation {
    fn default() -> Self {
        BalancedAllocation { resources: ResourceSpec::defaults() }
    }
}

impl BalancedAllocation {
    /// Balancing these resources (weights are not used by this plugin).
    pub fn new(resources: Vec<ResourceSpec>) -> Self {
        BalancedAllocation { resources }
    }
}

impl Plugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        BALANCED_ALLOCATION
    }
}

impl ScorePlugin for BalancedAllocation {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let fraction = |(alloc, req, _): (i64, i64, i64)| (req as f64 / alloc as f64).min(1.0);
        let (mut n, mut sum, mut first, mut second) = (0usize, 0.0, 0.0, 0.0);
        for f in allocation(&self.resources, pod, node, true).map(fraction) {
            match n {
                0 => first = f,
                1 => second = f,
                _ => {}
            }
            n += 1;
            sum += f;
        }
        let std = match n {
            0 | 1 => 0.0,
            2 => ((first - second) / 2.0).abs(),
            _ => {
                let mean = sum / n as f64;
                let variance = allocation(&self.resources, pod, node, true)
                    .map(fraction)
                    .map(|f| (f - mean) * (f - mean))
                    .sum::<f64>()
                    / n as f64;
                variance.sqrt()
            }
        };
        Ok(((1.0 - std) * MAX_NODE_SCORE as f64) as i64)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plugins::testing::{node, pod, pod_requesting, with_pods};

    fn state() -> CycleState {
        CycleState::new()
    }

    #[test]
    fn fit_filter_reasons() {
        let n = with_pods(
            node("n", json!({"cpu": "2", "memory": "4Gi", "pods": "2", "example.com/gpu": "1"}), json!({})),
            vec![pod_requesting("running", &[json!({"cpu": "1500m", "memory": "1Gi"})])],
        );
        let fit = Fit::default();
        let cases = [
            (pod_requesting("a", &[json!({"cpu": "500m"})]), vec![]),
            (pod_requesting("b", &[json!({"cpu": "600m"})]), vec!["Insufficient cpu"]),
            (
                pod_requesting("c", &[json!({"cpu": "1", "memory": "4Gi"})]),
                vec!["Insufficient cpu", "Insufficient memory"],
            ),
            (pod_requesting("d", &[json!({"example.com/gpu": "2"})]), vec!["Insufficient example.com/gpu"]),
            (pod_requesting("e", &[json!({"example.com/gpu": "1"})]), vec![]),
            (pod("f", json!({})), vec![]),
        ];
        for (p, expected) in cases {
            let status = fit.filter(&state(), &p, &n);
            assert_eq!(status.reasons(), expected.as_slice(), "{}", p.pod.metadata.name);
        }
        let full = with_pods(node("full", json!({"cpu": "2", "pods": "1"}), json!({})), vec![pod("x", json!({}))]);
        assert_eq!(
            fit.filter(&state(), &pod("g", json!({})), &full).reasons(),
            ["Too many pods"],
            "even without requests"
        );
        assert!(
            Fit::default()
                .ignoring(vec!["example.com/gpu".into()])
                .filter(&state(), &pod_requesting("h", &[json!({"example.com/gpu": "5"})]), &n)
                .is_success()
        );
    }

    // The two nodes of kube-scheduler's least_allocated tests: 4000m/10000
    // and 6000m/10000 (memory in bytes here).
    fn nodes() -> (NodeInfo, NodeInfo) {
        (
            node("a", json!({"cpu": "4", "memory": "10000"}), json!({})),
            node("b", json!({"cpu": "6", "memory": "10000"}), json!({})),
        )
    }

    #[test]
    fn least_allocated() {
        let (a, b) = nodes();
        let fit = Fit::default();
        // 3000m / 5000: a: cpu (4000-3000)*100/4000 = 25, memory (10000-5000)*100/10000 = 50 → 37.
        let p = pod_requesting("p", &[json!({"cpu": "1", "memory": "2000"}), json!({"cpu": "2", "memory": "3000"})]);
        assert_eq!(fit.score(&state(), &p, &a).unwrap(), 37);
        // b: cpu (6000-3000)*100/6000 = 50, memory 50 → 50.
        assert_eq!(fit.score(&state(), &p, &b).unwrap(), 50);
        // A pod without requests counts 100m and 200 MiB: memory over capacity scores 0.
        let empty = pod("e", json!({}));
        assert_eq!(fit.score(&state(), &empty, &a).unwrap(), (3900 * 100 / 4000) / 2);
        // Weights: cpu 3, memory 1 → (25*3 + 50)/4 = 31.
        let weighted = Fit::new(
            ScoringStrategy::LeastAllocated,
            vec![ResourceSpec::new("cpu", 3), ResourceSpec::new("memory", 1)],
        );
        assert_eq!(weighted.score(&state(), &p, &a).unwrap(), 31);
    }

    #[test]
    fn most_allocated_and_requested_to_capacity_ratio() {
        let (a, _) = nodes();
        let p = pod_requesting("p", &[json!({"cpu": "3", "memory": "5000"})]);
        let most = Fit::new(ScoringStrategy::MostAllocated, ResourceSpec::defaults());
        // cpu 3000*100/4000 = 75, memory 50 → 62.
        assert_eq!(most.score(&state(), &p, &a).unwrap(), 62);
        let over = pod_requesting("o", &[json!({"cpu": "5", "memory": "5000"})]);
        assert_eq!(most.score(&state(), &over, &a).unwrap(), 75, "requested capped at allocatable: (100+50)/2");
        // Shape (0,0) (100,10): bin packing. cpu 75% → 75, memory 50% → 50 → 62.5 → 63 (rounded).
        let shape = vec![ShapePoint { utilization: 0, score: 0 }, ShapePoint { utilization: 100, score: 10 }];
        let ratio = Fit::new(ScoringStrategy::RequestedToCapacityRatio(shape), ResourceSpec::defaults());
        assert_eq!(ratio.score(&state(), &p, &a).unwrap(), 63);
        // A broken line: (0,10) (50,0) (100,5): 75% → 0 + (50-0)*(75-50)/50 = 25; 50% → 0 → 12.5 → 13.
        let broken = vec![
            ShapePoint { utilization: 0, score: 10 },
            ShapePoint { utilization: 50, score: 0 },
            ShapePoint { utilization: 100, score: 5 },
        ];
        let ratio = Fit::new(ScoringStrategy::RequestedToCapacityRatio(broken), ResourceSpec::defaults());
        assert_eq!(ratio.score(&state(), &p, &a).unwrap(), 13);
    }

    #[test]
    fn extended_resources_are_scored_only_when_asked_for() {
        let n = node("n", json!({"cpu": "4", "memory": "10000", "example.com/gpu": "8"}), json!({}));
        let fit = Fit::new(
            ScoringStrategy::LeastAllocated,
            vec![ResourceSpec::new("cpu", 1), ResourceSpec::new("memory", 1), ResourceSpec::new("example.com/gpu", 2)],
        );
        let plain = pod_requesting("p", &[json!({"cpu": "2", "memory": "5000"})]);
        assert_eq!(fit.score(&state(), &plain, &n).unwrap(), 50, "the gpu is left out");
        let gpu = pod_requesting("g", &[json!({"cpu": "2", "memory": "5000", "example.com/gpu": "2"})]);
        // (50 + 50 + 75*2) / 4 = 62.
        assert_eq!(fit.score(&state(), &gpu, &n).unwrap(), 62);
    }

    #[test]
    fn balanced_allocation() {
        let (a, _) = nodes();
        let balanced = BalancedAllocation::default();
        // cpu 3000/4000 = 0.75, memory 5000/10000 = 0.5 → std 0.125 → 87.
        let p = pod_requesting("p", &[json!({"cpu": "3", "memory": "5000"})]);
        assert_eq!(balanced.score(&state(), &p, &a).unwrap(), 87);
        // Real requests: a pod without requests on an empty node is perfectly balanced.
        assert_eq!(balanced.score(&state(), &pod("e", json!({})), &a).unwrap(), 100);
        // Fractions cap at 1: cpu 6000/4000 → 1, memory 0.5 → std 0.25 → 75.
        let over = pod_requesting("o", &[json!({"cpu": "6", "memory": "5000"})]);
        assert_eq!(balanced.score(&state(), &over, &a).unwrap(), 75);
        // Three resources: population standard deviation.
        let n = node("n", json!({"cpu": "4", "memory": "10000", "ephemeral-storage": "1000"}), json!({}));
        let three = BalancedAllocation::new(vec![
            ResourceSpec::new("cpu", 1),
            ResourceSpec::new("memory", 1),
            ResourceSpec::new("ephemeral-storage", 1),
        ]);
        let p = pod_requesting("p", &[json!({"cpu": "2", "memory": "5000", "ephemeral-storage": "1000"})]);
        // 0.5, 0.5, 1.0: mean 2/3, variance ((1/6)²·2 + (1/3)²)/3 = 1/18, std 0.2357 → 76.
        assert_eq!(three.score(&state(), &p, &n).unwrap(), 76);
    }
}
