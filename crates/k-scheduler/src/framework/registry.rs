//! Plugin factories by name, with typed arguments.
//!
//! A profile names plugins; the [`Registry`] makes them, handing each
//! factory the `pluginConfig` arguments given for it (JSON, decoded by the
//! factory into its own argument type) and the registry's [`Handle`] (the
//! caches and API some plugins read). [`Registry::builtin`] knows
//! kube-scheduler's plugins that k implements; add your own with
//! [`Registry::register`].

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::{ExtensionPoints, Handle};
use crate::plugins::node_resources::{BalancedAllocation, Fit, ResourceSpec, ScoringStrategy, ShapePoint};
use crate::plugins::{
    default_binder, default_preemption, image_locality, inter_pod_affinity, node_affinity, node_name, node_ports,
    node_resources, node_unschedulable, node_volume_limits, pod_topology_spread, priority_sort, scheduling_gates,
    taint_toleration, volume_binding, volume_restrictions, volume_zone,
};

/// Makes a plugin from its arguments (`None` when the profile gives none)
/// and the handle.
pub type Factory = Arc<dyn Fn(Option<&Value>, &Handle) -> Result<Arc<dyn ExtensionPoints>, String> + Send + Sync>;

/// Factories by plugin name; see the [module docs](self).
#[derive(Clone, Default)]
pub struct Registry {
    factories: BTreeMap<String, Factory>,
    handle: Handle,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.factories.keys()).finish()
    }
}

fn plain<P: ExtensionPoints + Default + 'static>() -> Factory {
    Arc::new(|_, _| Ok(Arc::new(P::default()) as Arc<dyn ExtensionPoints>))
}

fn resources(args: &Value) -> Result<Vec<ResourceSpec>, String> {
    let Some(list) = args.get("resources") else { return Ok(ResourceSpec::defaults()) };
    let list = list.as_array().ok_or("resources must be a list")?;
    list.iter()
        .map(|r| {
            let name = r.get("name").and_then(Value::as_str).ok_or("a resource needs a name")?;
            let weight = r.get("weight").and_then(Value::as_i64).unwrap_or(1);
            if !(1..=100).contains(&weight) {
                return Err(format!("resource {name}: weight {weight} is not in 1..=100"));
            }
            Ok(ResourceSpec::new(name, weight))
        })
        .collect()
}

fn fit(args: Option<&Value>, _: &Handle) -> Result<Arc<dyn ExtensionPoints>, String> {
    let Some(args) = args else { return Ok(Arc::new(Fit::default())) };
    let strategy = args.get("scoringStrategy").cloned().unwrap_or(Value::Null);
    let specs = resources(&strategy)?;
    let kind = strategy.get("type").and_then(Value::as_str).unwrap_or("LeastAllocated");
    let strategy = match kind {
        "LeastAllocated" => ScoringStrategy::LeastAllocated,
        "MostAllocated" => ScoringStrategy::MostAllocated,
        "RequestedToCapacityRatio" => {
            let shape = strategy
                .pointer("/requestedToCapacityRatio/shape")
                .and_then(Value::as_array)
                .ok_or("RequestedToCapacityRatio needs requestedToCapacityRatio.shape")?;
            let mut points = Vec::new();
            for p in shape {
                let utilization = p.get("utilization").and_then(Value::as_i64).unwrap_or(0);
                let score = p.get("score").and_then(Value::as_i64).unwrap_or(0);
                if !(0..=100).contains(&utilization) || !(0..=10).contains(&score) {
                    return Err(format!("shape point ({utilization}, {score}): utilization is 0–100, score 0–10"));
                }
                if points.last().is_some_and(|last: &ShapePoint| last.utilization >= utilization) {
                    return Err("shape utilizations must increase".into());
                }
                points.push(ShapePoint { utilization, score });
            }
            if points.is_empty() {
                return Err("the shape needs at least one point".into());
            }
            ScoringStrategy::RequestedToCapacityRatio(points)
        }
        other => return Err(format!("unknown scoring strategy {other:?}")),
    };
    let ignored = args
        .get("ignoredResources")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    Ok(Arc::new(Fit::new(strategy, specs).ignoring(ignored)))
}

fn balanced(args: Option<&Value>, _: &Handle) -> Result<Arc<dyn ExtensionPoints>, String> {
    match args {
        None => Ok(Arc::new(BalancedAllocation::default())),
        Some(args) => Ok(Arc::new(BalancedAllocation::new(resources(args)?))),
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// kube-scheduler's plugins that k implements.
    pub fn builtin() -> Self {
        let mut registry = Registry::new();
        registry.register(priority_sort::NAME, plain::<priority_sort::PrioritySort>());
        registry.register(scheduling_gates::NAME, plain::<scheduling_gates::SchedulingGates>());
        registry.register(node_unschedulable::NAME, plain::<node_unschedulable::NodeUnschedulable>());
        registry.register(node_name::NAME, plain::<node_name::NodeName>());
        registry.register(node_ports::NAME, plain::<node_ports::NodePorts>());
        registry.register(node_resources::FIT, Arc::new(fit));
        registry.register(node_resources::BALANCED_ALLOCATION, Arc::new(balanced));
        registry.register(node_affinity::NAME, plain::<node_affinity::NodeAffinity>());
        registry.register(taint_toleration::NAME, plain::<taint_toleration::TaintToleration>());
        registry.register(image_locality::NAME, plain::<image_locality::ImageLocality>());
        registry.register(inter_pod_affinity::NAME, Arc::new(inter_pod_affinity::factory));
        registry.register(pod_topology_spread::NAME, Arc::new(pod_topology_spread::factory));
        registry.register(volume_restrictions::NAME, Arc::new(volume_restrictions::factory));
        registry.register(volume_binding::NAME, Arc::new(volume_binding::factory));
        registry.register(volume_zone::NAME, Arc::new(volume_zone::factory));
        registry.register(node_volume_limits::NAME, Arc::new(node_volume_limits::factory));
        registry.register(default_preemption::NAME, Arc::new(default_preemption::factory));
        registry.register(default_binder::NAME, Arc::new(default_binder::factory));
        registry
    }

    /// The handle factories are given.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Sets the handle factories are given (the scheduler's caches and API).
    pub fn set_handle(&mut self, handle: Handle) {
        self.handle = handle;
    }

    /// Adds (or replaces) a factory.
    pub fn register(&mut self, name: &str, factory: Factory) {
        self.factories.insert(name.to_owned(), factory);
    }

    /// Whether `name` is known.
    pub fn contains(&self, name: &str) -> bool {
        self.factories.contains_key(name)
    }

    /// Makes plugin `name` with `args`.
    pub fn make(&self, name: &str, args: Option<&Value>) -> Result<Arc<dyn ExtensionPoints>, String> {
        let factory = self.factories.get(name).ok_or_else(|| format!("plugin {name:?} is not registered"))?;
        factory(args, &self.handle).map_err(|e| format!("plugin {name}: {e}"))
    }
}
