//! Reading claims, volumes and classes as kube's volume helpers do; shared
//! with the other volume plugins.

use k_api_types::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k_api_types::meta::ObjectMeta;
use k_api_types::storage::v1::{StorageClass, TopologySelectorTerm};

use crate::plugins::helper::term_matches;

/// The beta annotation naming a claim's or volume's class (it wins over the field).
const ANN_BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

/// The claims a pod uses: (claim name, whether it is a generic ephemeral
/// volume's claim, named `<pod>-<volume>`), in volume order.
pub(crate) fn pod_claims(pod: &Pod) -> Vec<(String, bool)> {
    pod.spec
        .volumes
        .iter()
        .filter_map(|v| {
            if let Some(pvc) = &v.persistent_volume_claim {
                Some((pvc.claim_name.clone(), false))
            } else {
                v.ephemeral.as_ref().map(|_| (format!("{}-{}", pod.metadata.name, v.name), true))
            }
        })
        .collect()
}

/// Kube's NotFound message for a claim.
pub(crate) fn claim_not_found(name: &str) -> String {
    format!("persistentvolumeclaim {name:?} not found")
}

/// Kube's NotFound message for a volume.
pub(crate) fn volume_not_found(name: &str) -> String {
    format!("persistentvolume {name:?} not found")
}

/// Kube's NotFound message for a storage class.
pub(crate) fn class_not_found(name: &str) -> String {
    format!("storageclass.storage.k8s.io {name:?} not found")
}

/// Whether an ephemeral volume's claim belongs to the pod (the pod is its controller).
pub(crate) fn ephemeral_claim_for_pod(pod: &Pod, pvc: &PersistentVolumeClaim) -> Result<(), String> {
    let owned = pvc.metadata.owner_references.iter().any(|o| o.controller == Some(true) && o.uid == pod.metadata.uid);
    if owned {
        Ok(())
    } else {
        Err(format!(
            "PVC {}/{} was not created for pod {}/{} (pod is not owner)",
            pvc.metadata.namespace, pvc.metadata.name, pod.metadata.namespace, pod.metadata.name
        ))
    }
}

fn class_of<'a>(meta: &'a ObjectMeta, field: Option<&'a str>) -> &'a str {
    meta.annotations.get(ANN_BETA_STORAGE_CLASS).map(String::as_str).or(field).unwrap_or_default()
}

/// A claim's storage class ("" for none).
pub(crate) fn claim_class(pvc: &PersistentVolumeClaim) -> &str {
    class_of(&pvc.metadata, pvc.spec.storage_class_name.as_deref())
}

/// A volume's storage class ("" for none).
pub(crate) fn volume_class(pv: &PersistentVolume) -> &str {
    class_of(&pv.metadata, pv.spec.storage_class_name.as_deref())
}

/// Whether a class binds when the first pod is scheduled (`WaitForFirstConsumer`).
pub(crate) fn waits_for_first_consumer(class: &StorageClass) -> bool {
    class.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer")
}

/// Whether a volume's node affinity (if any) admits the node.
pub(crate) fn volume_node_affinity_matches(pv: &PersistentVolume, node: &Node) -> bool {
    match pv.spec.node_affinity.as_ref().and_then(|a| a.required.as_ref()) {
        None => true,
        Some(selector) => selector.node_selector_terms.iter().any(|t| term_matches(t, node)),
    }
}

/// Whether a node's labels satisfy a class's allowed topologies (none: any node).
pub(crate) fn topology_matches(terms: &[TopologySelectorTerm], node: &Node) -> bool {
    terms.is_empty()
        || terms.iter().any(|term| {
            term.match_label_expressions
                .iter()
                .all(|r| node.metadata.labels.get(r.key.as_str()).is_some_and(|v| r.values.iter().any(|x| x == v)))
        })
}
