//! NodeVolumeLimits (kube's CSILimits): a node takes at most as many
//! unique volumes of a CSI driver as its CSINode allows
//! (`spec.drivers[].allocatable.count`, or the node's
//! `attachable-volumes-csi-<driver>` allocatable).
//!
//! A volume counts through its claim: the bound volume's `csi.driver` and
//! `volumeHandle`, or, for an unbound claim, its class's provisioner (each
//! such claim counting once). Generic ephemeral volumes count through their
//! claims. A volume several pods share counts once. No CSINode or no limit
//! for the driver: the node passes.

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use k_api_types::core::v1::{PersistentVolumeClaim, Pod};
use k_api_types::storage::v1::CSINode;
use serde_json::Value;

use crate::framework::{
    CycleState, ExtensionPoints, FilterPlugin, Handle, NodeInfo, Plugin, PodInfo, PreFilterPlugin, PreFilterResult,
    Status,
};
use crate::plugins::volume_binding::{claim_class, claim_not_found, ephemeral_claim_for_pod, pod_claims};

/// Its name.
pub const NAME: &str = "NodeVolumeLimits";
/// The reason it gives.
pub const ERR_MAX_VOLUME_COUNT_EXCEEDED: &str = "node(s) exceed max volume count";
/// The prefix of the node allocatable resources that limit a driver's volumes.
pub const ATTACH_LIMIT_PREFIX: &str = "attachable-volumes-csi-";

/// The plugin; see the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct NodeVolumeLimits {
    handle: Handle,
}

/// Unique volume (`driver/handle`) → driver.
type Volumes = HashMap<String, String>;

impl NodeVolumeLimits {
    /// The plugin reading claims, volumes, classes and CSINodes from `handle`.
    pub fn new(handle: Handle) -> Self {
        NodeVolumeLimits { handle }
    }

    /// Adds the CSI volumes of `pod` to `out`. For the pod being scheduled
    /// (`new`), a missing claim is an error (Unresolvable); for the node's
    /// pods it is not counted.
    fn attachable_volumes(&self, pod: &Pod, new: bool, out: &mut Volumes) -> Result<(), Status> {
        let namespace = &pod.metadata.namespace;
        for (claim, ephemeral) in pod_claims(pod) {
            if claim.is_empty() {
                return Err(Status::error("PersistentVolumeClaim had no name"));
            }
            let Some(pvc) = self.handle.listers.pvcs.get(&format!("{namespace}/{claim}")) else {
                if new {
                    return Err(Status::unresolvable(format!(
                        "looking up PVC {namespace}/{claim}: {}",
                        claim_not_found(&claim)
                    )));
                }
                continue;
            };
            if ephemeral {
                ephemeral_claim_for_pod(pod, &pvc).map_err(Status::error)?;
            }
            if let Some((driver, handle)) = self.driver_of(&pvc) {
                out.insert(format!("{driver}/{handle}"), driver);
            }
        }
        Ok(())
    }

    /// The CSI driver and volume handle of a claim: its bound volume's, or
    /// (unbound, or the volume is not there yet) its class's provisioner
    /// and a handle naming the claim.
    fn driver_of(&self, pvc: &PersistentVolumeClaim) -> Option<(String, String)> {
        let pv_name = pvc.spec.volume_name.as_deref().unwrap_or_default();
        if let Some(pv) = (!pv_name.is_empty()).then(|| self.handle.listers.pvs.get(pv_name)).flatten() {
            let csi = pv.spec.csi.as_ref()?;
            return (!csi.driver.is_empty() && !csi.volume_handle.is_empty())
                .then(|| (csi.driver.clone(), csi.volume_handle.clone()));
        }
        let class = claim_class(pvc);
        if class.is_empty() {
            return None;
        }
        let class = self.handle.listers.storage_classes.get(class)?;
        let handle = format!("unbound-{}/{}", pvc.metadata.namespace, pvc.metadata.name);
        (!class.provisioner.is_empty()).then(|| (class.provisioner.clone(), handle))
    }
}

/// The volume limit of each driver on a node: its CSINode's, else the
/// node's allocatable `attachable-volumes-csi-<driver>`.
fn volume_limits(node: &NodeInfo, csi_node: Option<&CSINode>) -> HashMap<String, i64> {
    let mut limits: HashMap<String, i64> = node
        .allocatable
        .scalar
        .iter()
        .filter_map(|(name, count)| Some((name.strip_prefix(ATTACH_LIMIT_PREFIX)?.to_owned(), *count)))
        .collect();
    for driver in csi_node.map(|c| c.spec.drivers.as_slice()).unwrap_or_default() {
        if let Some(count) = driver.allocatable.as_ref().and_then(|a| a.count) {
            limits.insert(driver.name.clone(), i64::from(count));
        }
    }
    limits
}

impl Plugin for NodeVolumeLimits {
    fn name(&self) -> &'static str {
        NAME
    }
}

/// The [`CycleState`] key of the pod's own volumes, worked out once in
/// PreFilter (they do not depend on the node).
const STATE_KEY: &str = "PreFilterNodeVolumeLimits";

#[derive(Clone, Debug)]
struct PodVolumes(Result<Volumes, Status>);

impl PreFilterPlugin for NodeVolumeLimits {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &[Arc<NodeInfo>],
    ) -> (Option<PreFilterResult>, Status) {
        let uses_claims =
            pod.pod.spec.volumes.iter().any(|v| v.persistent_volume_claim.is_some() || v.ephemeral.is_some());
        if !uses_claims {
            return (None, Status::skip());
        }
        let mut volumes = Volumes::new();
        let result = self.attachable_volumes(&pod.pod, true, &mut volumes).map(|()| volumes);
        state.write(STATE_KEY, PodVolumes(result));
        (None, Status::success())
    }
}

impl FilterPlugin for NodeVolumeLimits {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if pod.pod.spec.volumes.is_empty() {
            return Status::success();
        }
        let computed;
        let new_volumes = match state.read::<PodVolumes>(STATE_KEY) {
            Some(PodVolumes(Ok(volumes))) => volumes,
            Some(PodVolumes(Err(status))) => return status.clone(),
            // Filter called on its own (without PreFilter): work them out here.
            None => {
                let mut volumes = Volumes::new();
                if let Err(status) = self.attachable_volumes(&pod.pod, true, &mut volumes) {
                    return status;
                }
                computed = volumes;
                &computed
            }
        };
        let csi_node = self.handle.listers.csi_nodes.get(node.name());
        if new_volumes.is_empty() {
            return Status::success();
        }
        let limits = volume_limits(node, csi_node.as_deref());
        if limits.is_empty() {
            return Status::success();
        }
        let mut attached = Volumes::new();
        for other in &node.pods {
            if let Err(status) = self.attachable_volumes(&other.pod, false, &mut attached) {
                return status;
            }
        }
        let mut attached_count: HashMap<&str, i64> = HashMap::new();
        for driver in attached.values() {
            *attached_count.entry(driver).or_default() += 1;
        }
        // The pod's volumes already attached to the node count once.
        let mut new_count: HashMap<&str, i64> = HashMap::new();
        for (_, driver) in new_volumes.iter().filter(|(volume, _)| !attached.contains_key(*volume)) {
            *new_count.entry(driver).or_default() += 1;
        }
        let exceeded = new_count.iter().any(|(driver, count)| {
            limits.get(*driver).is_some_and(|limit| attached_count.get(driver).copied().unwrap_or(0) + count > *limit)
        });
        if exceeded { Status::unschedulable(ERR_MAX_VOLUME_COUNT_EXCEEDED) } else { Status::success() }
    }
}

crate::extension_points!(NodeVolumeLimits: pre_filter, filter);

/// Makes the plugin (it takes no arguments).
pub fn factory(_args: Option<&Value>, handle: &Handle) -> Result<Arc<dyn ExtensionPoints>, String> {
    Ok(Arc::new(NodeVolumeLimits::new(handle.clone())))
}
