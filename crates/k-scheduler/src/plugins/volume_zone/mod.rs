//! VolumeZone: volumes bound to a zone or region (their
//! `topology.kubernetes.io/zone`, `…/region` labels, or the beta
//! `failure-domain.beta.kubernetes.io/…` ones) keep the pod on nodes with
//! the same labels. A label value may list several zones, joined by `__`.
//! Nodes without any topology label pass (single-zone clusters); unbound
//! claims of `WaitForFirstConsumer` classes are left to VolumeBinding.

#[cfg(test)]
mod tests;

use std::sync::Arc;

use k_api_types::core::v1::PersistentVolume;
use serde_json::Value;

use crate::framework::{
    CycleState, ExtensionPoints, FilterPlugin, Handle, NodeInfo, Plugin, PodInfo, PreFilterPlugin, PreFilterResult,
    Status,
};
use crate::plugins::volume_binding::{
    claim_class, claim_not_found, class_not_found, pod_claims, volume_not_found, waits_for_first_consumer,
};

/// Its name.
pub const NAME: &str = "VolumeZone";
/// The reason it gives.
pub const ERR_REASON_CONFLICT: &str = "node(s) had no available volume zone";

const BETA_ZONE: &str = "failure-domain.beta.kubernetes.io/zone";
const BETA_REGION: &str = "failure-domain.beta.kubernetes.io/region";
const ZONE: &str = "topology.kubernetes.io/zone";
const REGION: &str = "topology.kubernetes.io/region";
/// The labels compared, in kube's order.
const TOPOLOGY_LABELS: [&str; 4] = [BETA_ZONE, BETA_REGION, ZONE, REGION];

const STATE_KEY: &str = "PreFilterVolumeZone";

/// One topology label of one of the pod's volumes, with its values.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PvTopology {
    key: &'static str,
    values: Vec<String>,
}

#[derive(Clone, Debug, Default)]
struct StateData(Vec<PvTopology>);

/// The plugin; see the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct VolumeZone {
    handle: Handle,
}

impl VolumeZone {
    /// The plugin reading claims, volumes and classes from `handle`.
    pub fn new(handle: Handle) -> Self {
        VolumeZone { handle }
    }

    /// The topology labels of the pod's bound volumes, or why the pod
    /// cannot be placed.
    fn pod_topologies(&self, pod: &PodInfo) -> Result<Vec<PvTopology>, Status> {
        let listers = &self.handle.listers;
        let namespace = &pod.pod.metadata.namespace;
        let mut topologies = Vec::new();
        for (claim, _) in pod_claims(&pod.pod) {
            if claim.is_empty() {
                return Err(Status::unresolvable("PersistentVolumeClaim had no name"));
            }
            let pvc = listers
                .pvcs
                .get(&format!("{namespace}/{claim}"))
                .ok_or_else(|| Status::unresolvable(claim_not_found(&claim)))?;
            let pv_name = pvc.spec.volume_name.as_deref().unwrap_or_default();
            if pv_name.is_empty() {
                let class_name = claim_class(&pvc);
                if class_name.is_empty() {
                    return Err(Status::unresolvable("PersistentVolumeClaim had no pv name and storageClass name"));
                }
                let class = listers
                    .storage_classes
                    .get(class_name)
                    .ok_or_else(|| Status::unresolvable(class_not_found(class_name)))?;
                if class.volume_binding_mode.is_none() {
                    return Err(Status::unresolvable(format!(
                        "VolumeBindingMode not set for StorageClass {class_name:?}"
                    )));
                }
                if waits_for_first_consumer(&class) {
                    continue;
                }
                return Err(Status::unresolvable("PersistentVolume had no name"));
            }
            let pv = listers.pvs.get(pv_name).ok_or_else(|| Status::unresolvable(volume_not_found(pv_name)))?;
            topologies.extend(volume_topologies(&pv));
        }
        Ok(topologies)
    }
}

fn volume_topologies(pv: &PersistentVolume) -> impl Iterator<Item = PvTopology> + '_ {
    TOPOLOGY_LABELS.into_iter().filter_map(|key| {
        let value = pv.metadata.labels.get(key)?;
        let values: Vec<String> = value.split("__").map(|z| z.trim().to_owned()).filter(|z| !z.is_empty()).collect();
        (!values.is_empty()).then_some(PvTopology { key, values })
    })
}

/// The GA label for a beta one (else the same).
fn ga_label(key: &str) -> &str {
    match key {
        BETA_ZONE => ZONE,
        BETA_REGION => REGION,
        other => other,
    }
}

impl Plugin for VolumeZone {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreFilterPlugin for VolumeZone {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &[Arc<NodeInfo>],
    ) -> (Option<PreFilterResult>, Status) {
        match self.pod_topologies(pod) {
            Err(status) => (None, status),
            Ok(topologies) if topologies.is_empty() => (None, Status::skip()),
            Ok(topologies) => {
                state.write(STATE_KEY, StateData(topologies));
                (None, Status::success())
            }
        }
    }
}

impl FilterPlugin for VolumeZone {
    fn filter(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Status {
        // PreFilter wrote the state, or answered Skip (then Filter does not run).
        let Some(StateData(topologies)) = state.read::<StateData>(STATE_KEY) else {
            return Status::error(format!("reading {STATE_KEY:?} from cycleState: not found")).from_plugin(NAME);
        };
        let labels = &node.node.metadata.labels;
        if !TOPOLOGY_LABELS.iter().any(|key| labels.contains_key(*key)) {
            return Status::success();
        }
        let fits = topologies.iter().all(|t| {
            let value = labels.get(t.key).or_else(|| labels.get(ga_label(t.key)));
            value.is_some_and(|v| t.values.contains(v))
        });
        if fits { Status::success() } else { Status::unresolvable(ERR_REASON_CONFLICT) }
    }
}

crate::extension_points!(VolumeZone: pre_filter, filter);

/// Makes the plugin (it takes no arguments).
pub fn factory(_args: Option<&Value>, handle: &Handle) -> Result<Arc<dyn ExtensionPoints>, String> {
    Ok(Arc::new(VolumeZone::new(handle.clone())))
}
