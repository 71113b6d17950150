//! InterPodAffinity: required and preferred pod affinity and anti-affinity
//! by topology key (kube-scheduler 1.32 semantics).
//!
//! A term names pods (a label selector over namespaces) and a topology key
//! (a node label such as `topology.kubernetes.io/zone`); the *domain* of a
//! node is its value for that label.
//!
//! **Filtering.** PreFilter counts, per (topology key, value):
//! - pods of the cluster that match *all* the incoming pod's required
//!   affinity terms (once per term's domain);
//! - pods that match each of its required anti-affinity terms;
//! - existing pods' required anti-affinity terms that match the incoming pod.
//!
//! Filter then rejects a node that lacks a required affinity term's
//! topology key, or whose domain holds no matching pod
//! (UnschedulableAndUnresolvable, "node(s) didn't match pod affinity rules")
//! — unless no pod anywhere matches and the pod matches its own terms (the
//! first pod of a group); a node whose domain holds a pod the incoming pod
//! repels ("node(s) didn't match pod anti-affinity rules") or a pod that
//! repels it ("node(s) didn't satisfy existing pods anti-affinity rules"),
//! both Unschedulable (preemption can remove them). PreFilter answers Skip
//! when the pod has no required terms and no existing pod's anti-affinity
//! matches it; `add_pod`/`remove_pod` keep the counts right for preemption
//! and nominated pods.
//!
//! **Scoring.** PreScore sums weights per topology value: the incoming
//! pod's preferred terms matched by existing pods (+/− weight), existing
//! pods' required affinity terms matched by the incoming pod
//! (+`hardPodAffinityWeight`) and their preferred terms (+/− weight; these
//! are skipped altogether when `ignorePreferredTermsOfExistingPods` is set
//! and the incoming pod has no preferred terms). A node scores the sum over
//! its labels; NormalizeScore maps the lowest..highest to 0..100.
//!
//! **Namespaces.** The incoming pod's terms with a `namespaceSelector`
//! have the namespaces it selects (from [`Listers::namespaces`]) merged
//! into their namespace list; existing pods' terms are matched against the
//! incoming pod's namespace labels.
//!
//! [`Listers::namespaces`]: crate::framework::Listers::namespaces

mod filtering;
mod scoring;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use k_api_types::SortedMap;
use k_api_types::core::v1::Namespace;
use k_api_types::selector::label::Selector;
use k_runtime::reflector::Store;
use serde_json::Value;

use crate::framework::{AffinityTerm, ExtensionPoints, Handle, NodeInfo, Plugin};

/// Its name.
pub const NAME: &str = "InterPodAffinity";
/// Filter's reason when the pod's required affinity is not met.
pub const REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
/// Filter's reason when the pod's required anti-affinity is not met.
pub const REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
/// Filter's reason when an existing pod's required anti-affinity repels the pod.
pub const REASON_EXISTING_ANTI_AFFINITY: &str = "node(s) didn't satisfy existing pods anti-affinity rules";

/// The plugin's arguments (kube-scheduler's `InterPodAffinityArgs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterPodAffinityArgs {
    /// The score an existing pod's required affinity term adds to the
    /// domain when the incoming pod matches it (0–100; default 1).
    pub hard_pod_affinity_weight: i64,
    /// Whether existing pods' affinity terms are left out of scoring when
    /// the incoming pod has no preferred (anti-)affinity terms.
    pub ignore_preferred_terms_of_existing_pods: bool,
}

impl Default for InterPodAffinityArgs {
    fn default() -> Self {
        InterPodAffinityArgs { hard_pod_affinity_weight: 1, ignore_preferred_terms_of_existing_pods: false }
    }
}

impl InterPodAffinityArgs {
    /// Decodes and validates `pluginConfig` arguments (`None`: defaults).
    pub fn from_json(args: Option<&Value>) -> Result<Self, String> {
        let mut parsed = InterPodAffinityArgs::default();
        let Some(args) = args.filter(|a| !a.is_null()) else { return Ok(parsed) };
        let args = args.as_object().ok_or("InterPodAffinityArgs must be an object")?;
        if let Some(weight) = args.get("hardPodAffinityWeight").filter(|w| !w.is_null()) {
            parsed.hard_pod_affinity_weight =
                weight.as_i64().ok_or_else(|| format!("hardPodAffinityWeight: {weight} is not an integer"))?;
        }
        if let Some(ignore) = args.get("ignorePreferredTermsOfExistingPods").filter(|i| !i.is_null()) {
            parsed.ignore_preferred_terms_of_existing_pods = ignore
                .as_bool()
                .ok_or_else(|| format!("ignorePreferredTermsOfExistingPods: {ignore} is not a boolean"))?;
        }
        if !(0..=100).contains(&parsed.hard_pod_affinity_weight) {
            return Err(format!(
                "hardPodAffinityWeight: Invalid value: {}: not in valid range [0-100]",
                parsed.hard_pod_affinity_weight
            ));
        }
        Ok(parsed)
    }
}

/// The plugin; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct InterPodAffinity {
    args: InterPodAffinityArgs,
    namespaces: Store<Namespace>,
}

impl Default for InterPodAffinity {
    fn default() -> Self {
        InterPodAffinity::new(InterPodAffinityArgs::default(), k_runtime::reflector::store::<Namespace>().0)
    }
}

impl InterPodAffinity {
    /// The plugin with `args`, reading namespace labels from `namespaces`.
    pub fn new(args: InterPodAffinityArgs, namespaces: Store<Namespace>) -> Self {
        InterPodAffinity { args, namespaces }
    }

    /// Its arguments.
    pub fn args(&self) -> InterPodAffinityArgs {
        self.args
    }

    /// The labels of namespace `name` (none when it is not cached, as kube
    /// assumes).
    fn namespace_labels(&self, name: &str) -> SortedMap<String, String> {
        self.namespaces.get(name).map(|ns| ns.metadata.labels.clone()).unwrap_or_default()
    }

    /// `terms` (the incoming pod's), with the namespaces their
    /// `namespaceSelector` selects merged into their namespace sets and the
    /// selector then cleared (kube's `mergeAffinityTermNamespacesIfNotEmpty`:
    /// the empty selector, matching every namespace, is kept as it is).
    fn merge_namespaces<'a>(&self, terms: impl IntoIterator<Item = &'a AffinityTerm>) -> Vec<AffinityTerm> {
        let mut cached: Option<Vec<Arc<Namespace>>> = None;
        terms
            .into_iter()
            .map(|term| {
                let mut term = term.clone();
                let selector = &term.namespace_selector;
                if !selector.is_empty() && !selector.is_nothing() {
                    let all = cached.get_or_insert_with(|| self.namespaces.state());
                    for ns in all.iter().filter(|ns| selector.matches(&ns.metadata.labels)) {
                        term.namespaces.insert(ns.metadata.name.clone());
                    }
                    term.namespace_selector = Selector::nothing();
                }
                term
            })
            .collect()
    }
}

impl Plugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        NAME
    }
}

crate::extension_points!(InterPodAffinity: pre_filter, filter, pre_score, score);

/// Makes the plugin from its `pluginConfig` arguments
/// (`hardPodAffinityWeight`, `ignorePreferredTermsOfExistingPods`).
pub fn factory(args: Option<&Value>, handle: &Handle) -> Result<Arc<dyn ExtensionPoints>, String> {
    let args = InterPodAffinityArgs::from_json(args)?;
    Ok(Arc::new(InterPodAffinity::new(args, handle.listers.namespaces.clone())))
}

/// No labels: what the incoming pod's (namespace-merged) terms are matched with.
static NO_LABELS: SortedMap<String, String> = SortedMap::new();

/// Adds `delta` to `map[key][value]` and returns the new count; the keys
/// are allocated only for a new entry (this runs for every counted pod).
fn add_count(map: &mut HashMap<String, HashMap<String, i64>>, key: &str, value: &str, delta: i64) -> i64 {
    let values = match map.get_mut(key) {
        Some(values) => values,
        None => map.entry(key.to_owned()).or_default(),
    };
    match values.get_mut(value) {
        Some(count) => {
            *count += delta;
            *count
        }
        None => {
            values.insert(value.to_owned(), delta);
            delta
        }
    }
}

/// Counts by topology key and value; entries that fall to zero are removed,
/// so an empty map means nothing was counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct TopologyCounts(HashMap<String, HashMap<String, i64>>);

impl TopologyCounts {
    /// Adds `delta` to the domain of `node` for `key`, if the node has the label.
    fn update(&mut self, node: &NodeInfo, key: &str, delta: i64) {
        let Some(value) = node.node.metadata.labels.get(key) else { return };
        if add_count(&mut self.0, key, value, delta) == 0
            && let Some(values) = self.0.get_mut(key)
        {
            values.remove(value);
            if values.is_empty() {
                self.0.remove(key);
            }
        }
    }

    /// The count of one domain.
    fn get(&self, key: &str, value: &str) -> i64 {
        self.0.get(key).and_then(|values| values.get(value)).copied().unwrap_or(0)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
