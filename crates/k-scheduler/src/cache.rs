//! The scheduler's view of the cluster: nodes with the pods on them,
//! including pods the scheduler has placed but not yet seen bound.
//!
//! After choosing a node, the scheduler **assumes** the pod there (it counts
//! against the node at once, so the next pod sees it) and binds it in the
//! background. When the informer reports the pod bound, the assumption is
//! **confirmed**; if binding fails, the scheduler **forgets** it. Each
//! scheduling cycle reads a [`Snapshot`], refreshed from the cache by
//! copying only the nodes that changed since the last one (nodes are shared
//! `Arc`s, changed copy-on-write).
//!
//! Image counts (how many nodes have each image, for ImageLocality) are kept
//! as nodes come and go.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use k_api_types::core::v1::{Node, Pod};

use k_runtime::reflector::key_of;

use crate::framework::{NodeInfo, PodInfo};

/// Why the cache refused a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    /// The pod is already assumed or known.
    #[error("pod {0} is already in the cache")]
    PodExists(String),
    /// The pod is not in the cache.
    #[error("pod {0} is not in the cache")]
    PodNotFound(String),
    /// The node is not in the cache.
    #[error("node {0} is not in the cache")]
    NodeNotFound(String),
}

#[derive(Clone, Debug)]
struct PodState {
    node: String,
    info: Arc<PodInfo>,
    assumed: bool,
}

/// The cache; see the [module docs](self).
#[derive(Debug, Default)]
pub struct Cache {
    nodes: Vec<Arc<NodeInfo>>,
    index: HashMap<String, usize>,
    pods: HashMap<String, PodState>,
    /// Pods reported on nodes the cache does not know yet, by node.
    orphans: HashMap<String, Vec<Arc<PodInfo>>>,
    images: HashMap<String, BTreeSet<String>>,
    changed: BTreeSet<usize>,
    restructured: bool,
}

/// The nodes one scheduling cycle reads.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// Every node, in the cache's order.
    pub nodes: Vec<Arc<NodeInfo>>,
    /// Each node's position in `nodes`, by name.
    pub index: HashMap<String, usize>,
}

impl Snapshot {
    /// The position of node `name` in `nodes`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }
}

impl Cache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many nodes it holds.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// How many pods it holds (assumed included).
    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    fn node_mut(&mut self, name: &str) -> Option<&mut NodeInfo> {
        let at = *self.index.get(name)?;
        self.changed.insert(at);
        Some(Arc::make_mut(&mut self.nodes[at]))
    }

    /// Sets the image counts of every node that has one of `names`.
    fn recount_images(&mut self, names: &BTreeSet<String>) {
        for name in names {
            let holders: Vec<String> = self.images.get(name).map(|s| s.iter().cloned().collect()).unwrap_or_default();
            let count = holders.len() as i64;
            for holder in holders {
                if let Some(node) = self.node_mut(&holder)
                    && let Some(state) = node.image_states.get_mut(name)
                {
                    state.num_nodes = count;
                }
            }
        }
    }

    fn image_names(node: &NodeInfo) -> BTreeSet<String> {
        node.image_states.keys().cloned().collect()
    }

    /// A node appeared (or changed: its pods stay).
    pub fn add_node(&mut self, node: impl Into<Arc<Node>>) {
        let node: Arc<Node> = node.into();
        let name = node.metadata.name.clone();
        let mut info = NodeInfo::new(node);
        let new_images = Self::image_names(&info);
        let mut touched = new_images.clone();
        match self.index.get(&name).copied() {
            Some(at) => {
                let old = self.nodes[at].clone();
                for pod in &old.pods {
                    info.add_pod(pod.clone());
                }
                for image in Self::image_names(&old) {
                    if let Some(holders) = self.images.get_mut(&image) {
                        holders.remove(&name);
                    }
                    touched.insert(image);
                }
                self.nodes[at] = Arc::new(info);
                self.changed.insert(at);
            }
            None => {
                for pod in self.orphans.remove(&name).unwrap_or_default() {
                    info.add_pod(pod);
                }
                self.index.insert(name.clone(), self.nodes.len());
                self.nodes.push(Arc::new(info));
                self.restructured = true;
            }
        }
        for image in &new_images {
            self.images.entry(image.clone()).or_default().insert(name.clone());
        }
        self.recount_images(&touched);
    }

    /// A node went away. Its pods stay known (they leave when their own
    /// deletion is reported), waiting as orphans in case the node comes back
    /// under the same name; assumed ones are dropped.
    pub fn remove_node(&mut self, name: &str) -> Result<(), CacheError> {
        let at = self.index.remove(name).ok_or_else(|| CacheError::NodeNotFound(name.to_owned()))?;
        let old = self.nodes.remove(at);
        for pod in &old.pods {
            let key = pod.key();
            if self.pods.get(&key).is_some_and(|s| s.assumed) {
                self.pods.remove(&key);
            } else {
                self.orphans.entry(name.to_owned()).or_default().push(pod.clone());
            }
        }
        for (i, node) in self.nodes.iter().enumerate().skip(at) {
            self.index.insert(node.name().to_owned(), i);
        }
        let images = Self::image_names(&old);
        for image in &images {
            if let Some(holders) = self.images.get_mut(image) {
                holders.remove(name);
            }
        }
        self.restructured = true;
        self.recount_images(&images);
        Ok(())
    }

    /// The scheduler chose `node` for `pod`: it counts there from now on.
    pub fn assume_pod(&mut self, pod: Arc<PodInfo>, node: &str) -> Result<(), CacheError> {
        let key = pod.key();
        if self.pods.contains_key(&key) {
            return Err(CacheError::PodExists(key));
        }
        let target = self.node_mut(node).ok_or_else(|| CacheError::NodeNotFound(node.to_owned()))?;
        target.add_pod(pod.clone());
        self.pods.insert(key, PodState { node: node.to_owned(), info: pod, assumed: true });
        Ok(())
    }

    /// Binding failed: the assumed pod no longer counts.
    pub fn forget_pod(&mut self, key: &str) -> Result<(), CacheError> {
        match self.pods.get(key) {
            Some(state) if state.assumed => {}
            _ => return Err(CacheError::PodNotFound(key.to_owned())),
        }
        let state = self.pods.remove(key).expect("checked above");
        let (namespace, name) = key.split_once('/').unwrap_or(("", key));
        if let Some(node) = self.node_mut(&state.node) {
            node.remove_pod(namespace, name);
        }
        Ok(())
    }

    /// Whether the pod is assumed and not yet confirmed.
    pub fn is_assumed(&self, key: &str) -> bool {
        self.pods.get(key).is_some_and(|s| s.assumed)
    }

    /// A pod bound to a node was reported (by the informer): confirms an
    /// assumption (moving it if it was bound elsewhere) or adds it.
    pub fn add_pod(&mut self, pod: impl Into<Arc<Pod>>) {
        let pod: Arc<Pod> = pod.into();
        let Some(node) = pod.spec.node_name.clone().filter(|n| !n.is_empty()) else { return };
        let key = key_of(&*pod);
        let info = Arc::new(PodInfo::new(pod));
        if let Some(state) = self.pods.get(&key).cloned() {
            self.take_off(&key, &state.node);
        }
        match self.node_mut(&node) {
            Some(target) => target.add_pod(info.clone()),
            None => self.orphans.entry(node.clone()).or_default().push(info.clone()),
        }
        self.pods.insert(key, PodState { node, info, assumed: false });
    }

    /// Takes pod `key` off `node`, or out of the node's orphans.
    fn take_off(&mut self, key: &str, node: &str) {
        let (namespace, name) = key.split_once('/').unwrap_or(("", key));
        if self.index.contains_key(node) {
            if let Some(info) = self.node_mut(node) {
                info.remove_pod(namespace, name);
            }
        } else if let Some(orphans) = self.orphans.get_mut(node) {
            orphans.retain(|p| p.key() != key);
            if orphans.is_empty() {
                self.orphans.remove(node);
            }
        }
    }

    /// A known pod changed (its requests, say).
    pub fn update_pod(&mut self, pod: impl Into<Arc<Pod>>) {
        self.add_pod(pod);
    }

    /// A pod was deleted (or finished: it no longer takes room).
    pub fn remove_pod(&mut self, namespace: &str, name: &str) {
        let key = format!("{namespace}/{name}");
        if let Some(state) = self.pods.remove(&key) {
            self.take_off(&key, &state.node);
        }
    }

    /// The pod `key` and its node, if known.
    pub fn pod(&self, key: &str) -> Option<(Arc<PodInfo>, &str)> {
        self.pods.get(key).map(|s| (s.info.clone(), s.node.as_str()))
    }

    /// Brings `snapshot` up to date, copying only the nodes that changed.
    pub fn update_snapshot(&mut self, snapshot: &mut Snapshot) {
        if self.restructured || snapshot.nodes.len() != self.nodes.len() {
            snapshot.nodes.clone_from(&self.nodes);
            snapshot.index.clone_from(&self.index);
        } else {
            for at in &self.changed {
                snapshot.nodes[*at] = self.nodes[*at].clone();
            }
        }
        self.changed.clear();
        self.restructured = false;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn node(name: &str, images: serde_json::Value) -> Node {
        serde_json::from_value(json!({"metadata": {"name": name},
            "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}, "images": images}}))
        .unwrap()
    }

    fn pod(name: &str, node: Option<&str>, cpu: &str) -> Pod {
        let mut spec =
            json!({"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": cpu}}}]});
        if let Some(node) = node {
            spec["nodeName"] = node.into();
        }
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default"}, "spec": spec})).unwrap()
    }

    fn info(pod: Pod) -> Arc<PodInfo> {
        Arc::new(PodInfo::new(Arc::new(pod)))
    }

    fn cpu(snapshot: &Snapshot, at: usize) -> i64 {
        snapshot.nodes[at].requested.milli_cpu
    }

    #[test]
    fn assume_confirm_and_forget() {
        let mut cache = Cache::new();
        cache.add_node(node("n1", json!([])));
        cache.add_node(node("n2", json!([])));
        let mut snapshot = Snapshot::default();
        cache.update_snapshot(&mut snapshot);
        assert_eq!(snapshot.nodes.len(), 2);

        cache.assume_pod(info(pod("a", None, "500m")), "n1").unwrap();
        assert!(cache.is_assumed("default/a"));
        assert_eq!(
            cache.assume_pod(info(pod("a", None, "500m")), "n1"),
            Err(CacheError::PodExists("default/a".into()))
        );
        cache.update_snapshot(&mut snapshot);
        assert_eq!(cpu(&snapshot, 0), 500);

        // Confirmed on another node than assumed: it moves.
        cache.add_pod(pod("a", Some("n2"), "500m"));
        assert!(!cache.is_assumed("default/a"));
        cache.update_snapshot(&mut snapshot);
        assert_eq!((cpu(&snapshot, 0), cpu(&snapshot, 1)), (0, 500));

        // A failed binding is forgotten; a confirmed pod cannot be.
        cache.assume_pod(info(pod("b", None, "1")), "n1").unwrap();
        cache.forget_pod("default/b").unwrap();
        assert!(cache.forget_pod("default/a").is_err());
        cache.remove_pod("default", "a");
        cache.update_snapshot(&mut snapshot);
        assert_eq!((cpu(&snapshot, 0), cpu(&snapshot, 1)), (0, 0));
        assert_eq!(cache.pod_count(), 0);
    }

    #[test]
    fn snapshots_copy_only_changed_nodes() {
        let mut cache = Cache::new();
        cache.add_node(node("n1", json!([])));
        cache.add_node(node("n2", json!([])));
        let mut snapshot = Snapshot::default();
        cache.update_snapshot(&mut snapshot);
        let before = snapshot.nodes[1].clone();
        cache.assume_pod(info(pod("a", None, "1")), "n1").unwrap();
        cache.update_snapshot(&mut snapshot);
        assert!(Arc::ptr_eq(&before, &snapshot.nodes[1]), "n2 did not change: the same Arc");
        assert_eq!(cpu(&snapshot, 0), 1000);
        // A cycle still holding the old snapshot is unaffected by later changes.
        let held = snapshot.nodes[0].clone();
        cache.assume_pod(info(pod("b", None, "1")), "n1").unwrap();
        assert_eq!(held.requested.milli_cpu, 1000);
    }

    #[test]
    fn pods_before_their_node_and_node_removal() {
        let mut cache = Cache::new();
        cache.add_pod(pod("early", Some("n9"), "250m"));
        cache.add_node(node("n9", json!([])));
        let mut snapshot = Snapshot::default();
        cache.update_snapshot(&mut snapshot);
        assert_eq!(cpu(&snapshot, 0), 250, "the pod was waiting for its node");
        cache.add_node(node("n9", json!([])));
        cache.update_snapshot(&mut snapshot);
        assert_eq!(cpu(&snapshot, 0), 250, "an updated node keeps its pods");
        cache.remove_node("n9").unwrap();
        cache.update_snapshot(&mut snapshot);
        assert!(snapshot.nodes.is_empty());
        assert_eq!(cache.pod_count(), 1, "the pod is known until its own deletion");
        cache.add_node(node("n9", json!([])));
        cache.update_snapshot(&mut snapshot);
        assert_eq!(cpu(&snapshot, 0), 250, "a node back under its name gets its pods back");
        cache.remove_node("n9").unwrap();
        cache.remove_pod("default", "early");
        cache.add_node(node("n9", json!([])));
        cache.update_snapshot(&mut snapshot);
        assert_eq!((cpu(&snapshot, 0), cache.pod_count()), (0, 0), "a deleted orphan is gone");
    }

    #[test]
    fn orphans_updated_before_their_node_count_once() {
        let mut cache = Cache::new();
        cache.add_pod(pod("early", Some("n9"), "250m"));
        cache.update_pod(pod("early", Some("n9"), "500m"));
        cache.add_pod(pod("gone", Some("n9"), "1"));
        cache.remove_pod("default", "gone");
        cache.add_node(node("n9", json!([])));
        let mut snapshot = Snapshot::default();
        cache.update_snapshot(&mut snapshot);
        assert_eq!(cpu(&snapshot, 0), 500, "the latest version only, the deleted pod not at all");
    }

    #[test]
    fn image_counts_follow_nodes() {
        let image = |name: &str| json!([{"names": [name], "sizeBytes": 100}]);
        let mut cache = Cache::new();
        cache.add_node(node("a", image("nginx:1")));
        cache.add_node(node("b", image("nginx:1")));
        let mut snapshot = Snapshot::default();
        cache.update_snapshot(&mut snapshot);
        assert_eq!(snapshot.nodes[0].image_states["nginx:1"].num_nodes, 2);
        cache.remove_node("b").unwrap();
        cache.update_snapshot(&mut snapshot);
        assert_eq!(snapshot.nodes[0].image_states["nginx:1"].num_nodes, 1);
    }
}
