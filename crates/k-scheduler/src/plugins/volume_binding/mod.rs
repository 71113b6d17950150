//! VolumeBinding: the pod's PersistentVolumeClaims must be bound, or
//! bindable on the node.
//!
//! - PreFilter (Skip without claims) sorts the claims: bound ones (their
//!   volume's node affinity is checked per node), unbound ones of
//!   `WaitForFirstConsumer` classes (bound here, by the scheduler), and
//!   unbound `Immediate` ones, which the PV controller must bind first — the
//!   pod is unschedulable until then.
//! - Filter finds, for each delayed claim, the smallest available volume
//!   that fits on the node, else checks the class can provision there.
//! - Reserve assumes the choice in the plugin's own cache (volumes get a
//!   `claimRef`, provisioned claims the `volume.kubernetes.io/selected-node`
//!   annotation) so later pods do not pick the same volume; Unreserve
//!   reverts it.
//! - PreBind writes those through the API (it does not wait for the PV
//!   controller to finish binding, as kube-scheduler does).

mod claims;
#[cfg(test)]
pub(crate) mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use k_api_types::core::v1::{Node, ObjectReference, PersistentVolume, PersistentVolumeClaim};
use k_api_types::quantity::Quantity;
use k_api_types::selector::label::Selector;
use k_store::Api;
use k_store::api::UserInfo;
use serde_json::Value;

pub(crate) use claims::{
    claim_class, claim_not_found, class_not_found, ephemeral_claim_for_pod, pod_claims, volume_not_found,
    waits_for_first_consumer,
};
use claims::{topology_matches, volume_class, volume_node_affinity_matches};

use crate::framework::{
    Code, CycleState, ExtensionPoints, FilterPlugin, Handle, NodeInfo, Plugin, PodInfo, PreBindPlugin, PreFilterPlugin,
    PreFilterResult, ReservePlugin, Status,
};
use crate::plugins::default_binder::SCHEDULER_USER;

/// Its name.
pub const NAME: &str = "VolumeBinding";
/// A bound volume's node affinity excludes the node.
pub const ERR_NODE_CONFLICT: &str = "node(s) had volume node affinity conflict";
/// No volume fits and none can be provisioned on the node.
pub const ERR_BIND_CONFLICT: &str = "node(s) didn't find available persistent volumes to bind";
/// A bound claim's volume does not exist.
pub const ERR_PV_NOT_EXIST: &str = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";
/// Some claim of an `Immediate` class is not bound yet.
pub const ERR_UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";
/// The claim annotation naming the node a volume is to be provisioned for.
pub const ANN_SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// The claim annotation the PV controller sets once binding is complete.
pub const ANN_BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
/// The volume annotation saying a controller (not a user) bound it.
pub const ANN_BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
/// The provisioner of classes that cannot provision.
pub const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";

const STATE_KEY: &str = "PreFilterVolumeBinding";

/// What the pod needs on a node: volumes to bind its claims to, and claims
/// to provision.
#[derive(Clone, Debug, Default)]
struct PodVolumes {
    /// (volume, claim); after Reserve, the volume carries its `claimRef`.
    static_bindings: Vec<(Arc<PersistentVolume>, Arc<PersistentVolumeClaim>)>,
    /// Claims to provision; after Reserve, annotated with the node.
    dynamic_provisions: Vec<Arc<PersistentVolumeClaim>>,
}

impl PodVolumes {
    fn is_empty(&self) -> bool {
        self.static_bindings.is_empty() && self.dynamic_provisions.is_empty()
    }
}

/// The cycle's state: the pod's claims (PreFilter), what each feasible node
/// needs (Filter, shared between copies as kube shares it) and what was
/// assumed (Reserve).
#[derive(Clone, Debug, Default)]
struct StateData {
    bound: Vec<Arc<PersistentVolumeClaim>>,
    delayed: Vec<Arc<PersistentVolumeClaim>>,
    volumes_by_class: HashMap<String, Vec<Arc<PersistentVolume>>>,
    by_node: Arc<Mutex<HashMap<String, PodVolumes>>>,
    assumed: Option<PodVolumes>,
}

/// An object assumed by Reserve, over the informer's version it was made
/// from: once the informer has another version, the informer's wins.
type AssumedObject<K> = (String, Arc<K>);

#[derive(Debug, Default)]
struct AssumeCache {
    pvs: HashMap<String, AssumedObject<PersistentVolume>>,
    pvcs: HashMap<String, AssumedObject<PersistentVolumeClaim>>,
}

/// The plugin; see the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct VolumeBinding {
    handle: Handle,
    assumed: Arc<Mutex<AssumeCache>>,
}

impl VolumeBinding {
    /// The plugin over `handle`'s caches (and API, for PreBind).
    pub fn new(handle: Handle) -> Self {
        VolumeBinding { handle, assumed: Arc::default() }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, AssumeCache> {
        self.assumed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A volume as the scheduler sees it: assumed, or the informer's.
    fn volume(&self, informer: Arc<PersistentVolume>) -> Arc<PersistentVolume> {
        let mut cache = self.cache();
        let name = &informer.metadata.name;
        match cache.pvs.get(name) {
            Some((base, assumed)) if *base == informer.metadata.resource_version => assumed.clone(),
            Some(_) => {
                cache.pvs.remove(name);
                informer
            }
            None => informer,
        }
    }

    fn volume_named(&self, name: &str) -> Option<Arc<PersistentVolume>> {
        self.handle.listers.pvs.get(name).map(|pv| self.volume(pv))
    }

    /// A claim as the scheduler sees it: assumed, or the informer's.
    fn claim(&self, namespace: &str, name: &str) -> Option<Arc<PersistentVolumeClaim>> {
        let key = format!("{namespace}/{name}");
        let informer = self.handle.listers.pvcs.get(&key)?;
        let mut cache = self.cache();
        match cache.pvcs.get(&key) {
            Some((base, assumed)) if *base == informer.metadata.resource_version => Some(assumed.clone()),
            Some(_) => {
                cache.pvcs.remove(&key);
                Some(informer)
            }
            None => Some(informer),
        }
    }

    /// Checks the pod's claims exist and may be used (kube's podHasPVCs):
    /// whether it has any.
    fn check_claims(&self, pod: &PodInfo) -> Result<Vec<Arc<PersistentVolumeClaim>>, String> {
        let pod = &pod.pod;
        let mut found = Vec::new();
        for (name, ephemeral) in pod_claims(pod) {
            let Some(pvc) = self.claim(&pod.metadata.namespace, &name) else {
                return Err(if ephemeral {
                    format!("waiting for ephemeral volume controller to create the persistentvolumeclaim {name:?}")
                } else {
                    claim_not_found(&name)
                });
            };
            if pvc.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Lost") {
                return Err(format!(
                    "persistentvolumeclaim {name:?} bound to non-existent persistentvolume {:?}",
                    pvc.spec.volume_name.as_deref().unwrap_or_default()
                ));
            }
            if pvc.metadata.deletion_timestamp.is_some() {
                return Err(format!("persistentvolumeclaim {name:?} is being deleted"));
            }
            if ephemeral {
                ephemeral_claim_for_pod(pod, &pvc)?;
            }
            found.push(pvc);
        }
        Ok(found)
    }

    /// Whether a claim's class binds when the first pod is scheduled
    /// (classless or unknown classes bind at once).
    fn delays_binding(&self, pvc: &PersistentVolumeClaim) -> bool {
        let class = claim_class(pvc);
        !class.is_empty()
            && self.handle.listers.storage_classes.get(class).is_some_and(|c| waits_for_first_consumer(&c))
    }

    /// What the pod needs on `node`, or why it cannot run there (kube's
    /// FindPodVolumes); `Err` is an internal error.
    fn find_pod_volumes(&self, state: &StateData, node: &Node) -> Result<(PodVolumes, Vec<&'static str>), String> {
        let mut volumes = PodVolumes::default();
        let mut reasons = Vec::new();
        for pvc in &state.bound {
            let pv_name = pvc.spec.volume_name.as_deref().unwrap_or_default();
            match self.volume_named(pv_name) {
                None => {
                    reasons.push(ERR_PV_NOT_EXIST);
                    break;
                }
                Some(pv) if !volume_node_affinity_matches(&pv, node) => {
                    reasons.push(ERR_NODE_CONFLICT);
                    break;
                }
                Some(_) => {}
            }
        }
        let mut to_match = Vec::new();
        let mut to_provision = Vec::new();
        for pvc in &state.delayed {
            match pvc.metadata.annotations.get(ANN_SELECTED_NODE) {
                Some(selected) if selected != node.metadata.name.as_str() => {
                    reasons.push(ERR_BIND_CONFLICT);
                    return Ok((volumes, reasons));
                }
                Some(_) => to_provision.push(pvc.clone()),
                None => to_match.push(pvc.clone()),
            }
        }
        // Smallest claims first, each taking the smallest volume that fits.
        to_match.sort_by_key(|pvc| request(pvc));
        for pvc in to_match {
            let candidates = state.volumes_by_class.get(claim_class(&pvc)).map(Vec::as_slice).unwrap_or_default();
            let chosen: Vec<&str> = volumes.static_bindings.iter().map(|(pv, _)| pv.metadata.name.as_str()).collect();
            match find_matching_volume(&pvc, candidates, node, &chosen) {
                Some(pv) => volumes.static_bindings.push((pv, pvc)),
                None => to_provision.push(pvc),
            }
        }
        for pvc in &to_provision {
            let class_name = claim_class(pvc);
            if class_name.is_empty() {
                let (namespace, name) = (&pvc.metadata.namespace, &pvc.metadata.name);
                return Err(format!("no class for claim \"{namespace}/{name}\""));
            }
            let Some(class) = self.handle.listers.storage_classes.get(class_name) else {
                return Err(format!("failed to find storage class {class_name:?}"));
            };
            if class.provisioner.is_empty()
                || class.provisioner == NO_PROVISIONER
                || !topology_matches(&class.allowed_topologies, node)
            {
                reasons.push(ERR_BIND_CONFLICT);
                break;
            }
            volumes.dynamic_provisions.push(pvc.clone());
        }
        Ok((volumes, reasons))
    }
}

/// A claim's `requests.storage` (zero when unset).
fn request(pvc: &PersistentVolumeClaim) -> Quantity {
    pvc.spec.resources.requests.get("storage").cloned().unwrap_or_default()
}

fn bound_to(pv: &PersistentVolume, pvc: &PersistentVolumeClaim) -> bool {
    pv.spec.claim_ref.as_ref().is_some_and(|r| {
        r.name == pvc.metadata.name
            && r.namespace == pvc.metadata.namespace
            && (r.uid.is_empty() || r.uid == pvc.metadata.uid)
    })
}

/// The volume a delayed claim gets on `node` (kube's FindMatchingVolume):
/// the volume pre-bound to it if it fits the node, else the smallest
/// available one of its class that is big enough, has its access modes and
/// volume mode, matches its selector and fits the node.
fn find_matching_volume(
    pvc: &PersistentVolumeClaim,
    volumes: &[Arc<PersistentVolume>],
    node: &Node,
    excluded: &[&str],
) -> Option<Arc<PersistentVolume>> {
    let requested = request(pvc);
    let selector = pvc.spec.selector.as_ref().map(Selector::try_from);
    let mode = |m: Option<&str>| m.unwrap_or("Filesystem").to_owned();
    let mut smallest: Option<(&Arc<PersistentVolume>, Quantity)> = None;
    for pv in volumes {
        if excluded.contains(&pv.metadata.name.as_str()) {
            continue;
        }
        if pv.spec.claim_ref.is_some() && !bound_to(pv, pvc) {
            continue;
        }
        let capacity = pv.spec.capacity.get("storage").cloned().unwrap_or_default();
        if capacity < requested
            || mode(pv.spec.volume_mode.as_deref()) != mode(pvc.spec.volume_mode.as_deref())
            || pv.metadata.deletion_timestamp.is_some()
        {
            continue;
        }
        let fits_node = volume_node_affinity_matches(pv, node);
        if bound_to(pv, pvc) {
            return fits_node.then(|| pv.clone());
        }
        let available = pv.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Available");
        let selected = match &selector {
            None => true,
            Some(Ok(s)) => s.matches(&pv.metadata.labels),
            Some(Err(_)) => false,
        };
        if !available
            || !selected
            || volume_class(pv) != claim_class(pvc)
            || !fits_node
            || !pvc.spec.access_modes.iter().all(|m| pv.spec.access_modes.contains(m))
        {
            continue;
        }
        if smallest.as_ref().is_none_or(|(_, q)| *q > capacity) {
            smallest = Some((pv, capacity));
        }
    }
    smallest.map(|(pv, _)| pv.clone())
}

impl Plugin for VolumeBinding {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreFilterPlugin for VolumeBinding {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &[Arc<NodeInfo>],
    ) -> (Option<PreFilterResult>, Status) {
        let claims = match self.check_claims(pod) {
            Ok(claims) if claims.is_empty() => {
                state.write(STATE_KEY, StateData::default());
                return (None, Status::skip());
            }
            Ok(claims) => claims,
            Err(e) => return (None, Status::unresolvable(e)),
        };
        let mut data = StateData::default();
        let mut immediate = false;
        for pvc in claims {
            let volume_name = pvc.spec.volume_name.as_deref().unwrap_or_default();
            if !volume_name.is_empty() && pvc.metadata.annotations.contains_key(ANN_BIND_COMPLETED) {
                data.bound.push(pvc);
            } else if volume_name.is_empty() && self.delays_binding(&pvc) {
                data.delayed.push(pvc);
            } else {
                // Immediate, or pre-bound to a volume: the PV controller binds it.
                immediate = true;
            }
        }
        if immediate {
            return (None, Status::unresolvable(ERR_UNBOUND_IMMEDIATE));
        }
        for pvc in &data.delayed {
            let class = claim_class(pvc);
            if !data.volumes_by_class.contains_key(class) {
                let volumes = self
                    .handle
                    .listers
                    .pvs
                    .state()
                    .into_iter()
                    .filter(|pv| volume_class(pv) == class)
                    .map(|pv| self.volume(pv))
                    .collect();
                data.volumes_by_class.insert(class.to_owned(), volumes);
            }
        }
        state.write(STATE_KEY, data);
        (None, Status::success())
    }
}

impl FilterPlugin for VolumeBinding {
    fn filter(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Status {
        let Some(data) = state.read::<StateData>(STATE_KEY) else {
            return Status::error(format!("cannot read {STATE_KEY:?} from cycleState"));
        };
        match self.find_pod_volumes(data, &node.node) {
            Err(e) => Status::error(e),
            Ok((_, reasons)) if !reasons.is_empty() => Status::with_reasons(
                Code::UnschedulableAndUnresolvable,
                reasons.into_iter().map(str::to_owned).collect(),
            ),
            Ok((volumes, _)) => {
                data.by_node.lock().unwrap_or_else(PoisonError::into_inner).insert(node.name().to_owned(), volumes);
                Status::success()
            }
        }
    }
}

impl ReservePlugin for VolumeBinding {
    fn reserve(&self, state: &mut CycleState, _: &PodInfo, node: &str) -> Status {
        let Some(data) = state.read_mut::<StateData>(STATE_KEY) else {
            return Status::error(format!("cannot read {STATE_KEY:?} from cycleState"));
        };
        let volumes = data.by_node.lock().unwrap_or_else(PoisonError::into_inner).get(node).cloned();
        let Some(volumes) = volumes.filter(|v| !v.is_empty()) else {
            data.assumed = None; // everything is bound
            return Status::success();
        };
        let mut assumed = PodVolumes::default();
        let mut cache = self.cache();
        for (pv, pvc) in volumes.static_bindings {
            let mut new = (*pv).clone();
            if !bound_to(&pv, &pvc) {
                new.metadata.annotations.entry(ANN_BOUND_BY_CONTROLLER.to_owned()).or_insert_with(|| "yes".to_owned());
            }
            new.spec.claim_ref = Some(ObjectReference {
                kind: "PersistentVolumeClaim".to_owned(),
                api_version: "v1".to_owned(),
                namespace: pvc.metadata.namespace.clone(),
                name: pvc.metadata.name.clone(),
                uid: pvc.metadata.uid.clone(),
                resource_version: pvc.metadata.resource_version.clone(),
                ..ObjectReference::default()
            });
            let new = Arc::new(new);
            cache.pvs.insert(pv.metadata.name.clone(), (pv.metadata.resource_version.clone(), new.clone()));
            assumed.static_bindings.push((new, pvc));
        }
        for pvc in volumes.dynamic_provisions {
            let mut new = (*pvc).clone();
            new.metadata.annotations.insert(ANN_SELECTED_NODE.to_owned(), node.to_owned());
            let new = Arc::new(new);
            let key = format!("{}/{}", pvc.metadata.namespace, pvc.metadata.name);
            cache.pvcs.insert(key, (pvc.metadata.resource_version.clone(), new.clone()));
            assumed.dynamic_provisions.push(new);
        }
        data.assumed = Some(assumed);
        Status::success()
    }

    fn unreserve(&self, state: &mut CycleState, _: &PodInfo, _: &str) {
        let Some(assumed) = state.read_mut::<StateData>(STATE_KEY).and_then(|d| d.assumed.take()) else {
            return;
        };
        let mut cache = self.cache();
        for (pv, _) in &assumed.static_bindings {
            cache.pvs.remove(&pv.metadata.name);
        }
        for pvc in &assumed.dynamic_provisions {
            cache.pvcs.remove(&format!("{}/{}", pvc.metadata.namespace, pvc.metadata.name));
        }
    }
}

#[async_trait::async_trait]
impl PreBindPlugin for VolumeBinding {
    async fn pre_bind(&self, state: &CycleState, _: &PodInfo, node: &str) -> Status {
        let Some(data) = state.read::<StateData>(STATE_KEY) else {
            return Status::error(format!("cannot read {STATE_KEY:?} from cycleState"));
        };
        let Some(assumed) = &data.assumed else {
            return Status::success(); // all bound
        };
        let Some(api) = &self.handle.api else {
            return Status::error(format!(
                "VolumeBinding has no API to bind the pod's volumes on node {node:?} through"
            ));
        };
        let user = UserInfo::named(SCHEDULER_USER);
        let pvs = Api::<PersistentVolume>::with_client(api.clone(), None).as_user(user.clone());
        for (pv, _) in &assumed.static_bindings {
            if let Err(e) = pvs.update(pv).await {
                return Status::error(format!("binding volumes: persistentvolume {:?}: {e}", pv.metadata.name));
            }
        }
        for pvc in &assumed.dynamic_provisions {
            let claims = Api::<PersistentVolumeClaim>::with_client(api.clone(), Some(pvc.metadata.namespace.clone()))
                .as_user(user.clone());
            if let Err(e) = claims.update(pvc).await {
                return Status::error(format!("binding volumes: persistentvolumeclaim {:?}: {e}", pvc.metadata.name));
            }
        }
        Status::success()
    }
}

crate::extension_points!(VolumeBinding: pre_filter, filter, reserve, pre_bind);

/// Makes the plugin (its arguments — the bind timeout, capacity scoring —
/// are accepted and ignored).
pub fn factory(_args: Option<&Value>, handle: &Handle) -> Result<Arc<dyn ExtensionPoints>, String> {
    Ok(Arc::new(VolumeBinding::new(handle.clone())))
}
