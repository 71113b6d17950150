//! VolumeRestrictions (the notes' NoDiskConflict): volumes that cannot be
//! shared between pods.
//!
//! - Filter: a GCE persistent disk may be mounted by several pods of a node
//!   only if all mount it read-only; an AWS EBS volume by one pod; an RBD
//!   image (same monitor, pool and image) or an iSCSI volume (same IQN)
//!   again only read-only.
//! - PreFilter: a ReadWriteOncePod claim already used by a pod anywhere
//!   makes the pod unschedulable (preemption may help, as in kube 1.32);
//!   the pod's claims must exist. Skip when the pod has neither kind of volume.

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::sync::Arc;

use k_api_types::core::v1::{Pod, Volume};
use serde_json::Value;

use crate::framework::{
    CycleState, ExtensionPoints, FilterPlugin, Handle, NodeInfo, Plugin, PodInfo, PreFilterPlugin, PreFilterResult,
    Status,
};
use crate::plugins::volume_binding::claim_not_found;

/// Its name.
pub const NAME: &str = "VolumeRestrictions";
/// The reason for a disk conflict.
pub const ERR_DISK_CONFLICT: &str = "node(s) had no available disk";
/// The reason for a ReadWriteOncePod claim already in use.
pub const ERR_READ_WRITE_ONCE_POD_CONFLICT: &str =
    "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode";

const STATE_KEY: &str = "PreFilterVolumeRestrictions";

/// PreFilter's findings.
#[derive(Clone, Debug, Default)]
struct PreFilterState {
    /// The pod's claims with the ReadWriteOncePod access mode.
    read_write_once_pod: BTreeSet<String>,
    /// How many of them scheduled pods use.
    conflicts: i64,
}

impl PreFilterState {
    fn conflicts_of(&self, pod: &Pod, namespace: &str) -> i64 {
        if pod.metadata.namespace != namespace {
            return 0;
        }
        claim_names(pod).filter(|c| self.read_write_once_pod.contains(*c)).count() as i64
    }
}

/// The plugin; see the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct VolumeRestrictions {
    handle: Handle,
}

impl VolumeRestrictions {
    /// The plugin reading claims from `handle`.
    pub fn new(handle: Handle) -> Self {
        VolumeRestrictions { handle }
    }
}

impl Plugin for VolumeRestrictions {
    fn name(&self) -> &'static str {
        NAME
    }
}

fn claim_names(pod: &Pod) -> impl Iterator<Item = &str> {
    pod.spec.volumes.iter().filter_map(|v| v.persistent_volume_claim.as_ref()).map(|c| c.claim_name.as_str())
}

fn needs_check(v: &Volume) -> bool {
    v.gce_persistent_disk.is_some() || v.aws_elastic_block_store.is_some() || v.rbd.is_some() || v.iscsi.is_some()
}

fn text<'a>(source: &'a Value, field: &str) -> &'a str {
    source.get(field).and_then(Value::as_str).unwrap_or_default()
}

fn read_only(source: &Value) -> bool {
    source.get("readOnly").and_then(Value::as_bool).unwrap_or(false)
}

fn both<'a>(a: &'a Option<Box<Value>>, b: &'a Option<Box<Value>>) -> Option<(&'a Value, &'a Value)> {
    Some((a.as_deref()?, b.as_deref()?))
}

/// Whether `volume` conflicts with any volume of `pod` (kube's isVolumeConflict).
fn conflicts(volume: &Volume, pod: &Pod) -> bool {
    pod.spec.volumes.iter().any(|existing| {
        let shared_rw = |a: &Value, b: &Value| !(read_only(a) && read_only(b));
        if let Some((a, b)) = both(&volume.gce_persistent_disk, &existing.gce_persistent_disk)
            && text(a, "pdName") == text(b, "pdName")
            && shared_rw(a, b)
        {
            return true;
        }
        if let Some((a, b)) = both(&volume.aws_elastic_block_store, &existing.aws_elastic_block_store)
            && text(a, "volumeID") == text(b, "volumeID")
        {
            return true;
        }
        if let Some((a, b)) = both(&volume.iscsi, &existing.iscsi)
            && text(a, "iqn") == text(b, "iqn")
            && shared_rw(a, b)
        {
            return true;
        }
        if let Some((a, b)) = both(&volume.rbd, &existing.rbd) {
            let monitors = |v: &Value| -> Vec<String> {
                v.get("monitors")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            };
            let pool = |v: &Value| v.get("pool").and_then(Value::as_str).unwrap_or("rbd").to_owned();
            let (ma, mb) = (monitors(a), monitors(b));
            if ma.iter().any(|m| mb.contains(m))
                && pool(a) == pool(b)
                && text(a, "image") == text(b, "image")
                && shared_rw(a, b)
            {
                return true;
            }
        }
        false
    })
}

impl PreFilterPlugin for VolumeRestrictions {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[Arc<NodeInfo>],
    ) -> (Option<PreFilterResult>, Status) {
        let pod = &pod.pod;
        let namespace = pod.metadata.namespace.as_str();
        let mut data = PreFilterState::default();
        for claim in claim_names(pod) {
            let Some(pvc) = self.handle.listers.pvcs.get(&format!("{namespace}/{claim}")) else {
                return (None, Status::unresolvable(claim_not_found(claim)));
            };
            if pvc.spec.access_modes.iter().any(|m| m == "ReadWriteOncePod") {
                data.read_write_once_pod.insert(claim.to_owned());
            }
        }
        // A ReadWriteOncePod claim is used by at most one pod: count claims, not pods.
        data.conflicts =
            data.read_write_once_pod
                .iter()
                .filter(|claim| {
                    nodes.iter().flat_map(|n| &n.pods).any(|p| {
                        p.pod.metadata.namespace == namespace && claim_names(&p.pod).any(|c| c == claim.as_str())
                    })
                })
                .count() as i64;
        if !pod.spec.volumes.iter().any(needs_check) && data.conflicts == 0 {
            return (None, Status::skip());
        }
        state.write(STATE_KEY, data);
        (None, Status::success())
    }

    fn add_pod(&self, state: &mut CycleState, pod: &PodInfo, other: &Arc<PodInfo>, _: &NodeInfo) -> Status {
        if let Some(data) = state.read_mut::<PreFilterState>(STATE_KEY) {
            data.conflicts += data.conflicts_of(&other.pod, &pod.pod.metadata.namespace);
        }
        Status::success()
    }

    fn remove_pod(&self, state: &mut CycleState, pod: &PodInfo, other: &Arc<PodInfo>, _: &NodeInfo) -> Status {
        if let Some(data) = state.read_mut::<PreFilterState>(STATE_KEY) {
            data.conflicts -= data.conflicts_of(&other.pod, &pod.pod.metadata.namespace);
        }
        Status::success()
    }
}

impl FilterPlugin for VolumeRestrictions {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let disk_conflict = pod
            .pod
            .spec
            .volumes
            .iter()
            .filter(|v| needs_check(v))
            .any(|v| node.pods.iter().any(|other| conflicts(v, &other.pod)));
        if disk_conflict {
            return Status::unschedulable(ERR_DISK_CONFLICT);
        }
        match state.read::<PreFilterState>(STATE_KEY) {
            None => Status::error(format!("cannot read {STATE_KEY:?} from cycleState")),
            Some(data) if data.conflicts > 0 => Status::unschedulable(ERR_READ_WRITE_ONCE_POD_CONFLICT),
            Some(_) => Status::success(),
        }
    }
}

crate::extension_points!(VolumeRestrictions: pre_filter, filter);

/// Makes the plugin (it takes no arguments).
pub fn factory(_args: Option<&Value>, handle: &Handle) -> Result<Arc<dyn ExtensionPoints>, String> {
    Ok(Arc::new(VolumeRestrictions::new(handle.clone())))
}
