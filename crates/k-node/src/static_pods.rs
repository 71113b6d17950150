//! Static pods: pods a node runs from manifest files in a directory
//! (`--pod-manifest-path`), without the API server, and their mirror pods.
//!
//! As the kubelet does: each file (YAML or JSON, one pod per document) is a
//! pod named `<name>-<node>`, in its namespace (default `default`), bound
//! to this node, with a uid derived from the manifest and the node (so the
//! same manifest keeps its uid across restarts and a changed manifest gets
//! a new one) and the annotations `kubernetes.io/config.source: file`,
//! `kubernetes.io/config.hash: <uid>`. The directory is re-read every 20 s.
//! A **mirror pod** — the same pod with `kubernetes.io/config.mirror:
//! <hash>` — is created in the API so users see it; it is recreated if
//! deleted and replaced when the manifest changes.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use k_api_types::core::v1::Pod;
use k_api_types::meta::DeleteOptions;
use k_store::{Api, ObjectApi, StoreError};
use sha2::{Digest, Sha256};

/// The annotation naming a pod's source.
pub const CONFIG_SOURCE: &str = "kubernetes.io/config.source";
/// The annotation holding a static pod's hash (its uid).
pub const CONFIG_HASH: &str = "kubernetes.io/config.hash";
/// The annotation marking a mirror pod.
pub const CONFIG_MIRROR: &str = "kubernetes.io/config.mirror";

/// A manifest that could not be read (the others still run).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestProblem {
    /// The file.
    pub file: String,
    /// What is wrong.
    pub message: String,
}

/// Reads every `*.yaml`, `*.yml` and `*.json` file of `dir` (hidden files
/// skipped) into static pods for `node`, keyed by `<namespace>/<name>`.
pub fn read_manifests(dir: &Path, node: &str) -> (BTreeMap<String, Pod>, Vec<ManifestProblem>) {
    let mut pods = BTreeMap::new();
    let mut problems = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return (pods, problems) };
    let mut files: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            !name.starts_with('.') && p.extension().is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
        })
        .collect();
    files.sort();
    for file in files {
        let shown = file.display().to_string();
        let problem = |message: String| ManifestProblem { file: shown.clone(), message };
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) => {
                problems.push(problem(e.to_string()));
                continue;
            }
        };
        let documents = match k_api_types::manifest::parse_documents(&text) {
            Ok(docs) => docs,
            Err(e) => {
                problems.push(problem(e.to_string()));
                continue;
            }
        };
        for doc in documents {
            match static_pod(&doc.value, node) {
                Ok(pod) => {
                    pods.insert(format!("{}/{}", pod.metadata.namespace, pod.metadata.name), pod);
                }
                Err(message) => problems.push(problem(message)),
            }
        }
    }
    (pods, problems)
}

/// One manifest document as a static pod of `node`.
pub fn static_pod(value: &serde_json::Value, node: &str) -> Result<Pod, String> {
    if value.get("kind").and_then(serde_json::Value::as_str) != Some("Pod") {
        return Err("a static pod manifest must be a Pod".into());
    }
    let mut pod: Pod = serde_json::from_value(value.clone()).map_err(|e| format!("not a valid Pod: {e}"))?;
    if pod.metadata.name.is_empty() {
        return Err("the pod has no name".into());
    }
    let mut hasher = Sha256::new();
    hasher.update(serde_json::to_vec(value).unwrap_or_default());
    hasher.update(node.as_bytes());
    let digest = hasher.finalize();
    let hash: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    pod.metadata.name = format!("{}-{node}", pod.metadata.name);
    if pod.metadata.namespace.is_empty() {
        pod.metadata.namespace = "default".into();
    }
    pod.metadata.uid = hash.clone();
    pod.metadata.annotations.insert(CONFIG_SOURCE.into(), "file".into());
    pod.metadata.annotations.insert(CONFIG_HASH.into(), hash);
    pod.spec.node_name = Some(node.into());
    Ok(pod)
}

/// The mirror pod of a static pod: what is created in the API.
pub fn mirror_of(pod: &Pod) -> Pod {
    let mut mirror = pod.clone();
    let hash = pod.metadata.annotations.get(CONFIG_HASH).cloned().unwrap_or_default();
    mirror.metadata.annotations.insert(CONFIG_MIRROR.into(), hash);
    // The API server gives the mirror its own uid.
    mirror.metadata.uid = String::new();
    mirror.status = None;
    mirror
}

/// Whether an API pod is a mirror pod.
pub fn is_mirror(pod: &Pod) -> bool {
    pod.metadata.annotations.contains_key(CONFIG_MIRROR)
}

/// Keeps the API's mirror pods in line with the static pods: creates
/// missing ones, replaces those of changed manifests, deletes those whose
/// manifest is gone. Returns how many it created and deleted.
pub async fn sync_mirrors(
    api: Arc<dyn ObjectApi>,
    node: &str,
    pods: &BTreeMap<String, Pod>,
) -> Result<(usize, usize), StoreError> {
    let (mut created, mut deleted) = (0, 0);
    let all: Api<Pod> = Api::with_client(api.clone(), None);
    let listed = all.list(&k_store::api::ListOptions::default()).await?;
    let mine: Vec<Pod> =
        listed.items.into_iter().filter(|p| is_mirror(p) && p.spec.node_name.as_deref() == Some(node)).collect();
    for mirror in &mine {
        let key = format!("{}/{}", mirror.metadata.namespace, mirror.metadata.name);
        let wanted = pods.get(&key).and_then(|p| p.metadata.annotations.get(CONFIG_HASH));
        if wanted != mirror.metadata.annotations.get(CONFIG_MIRROR) {
            let api: Api<Pod> = Api::with_client(api.clone(), Some(mirror.metadata.namespace.clone()));
            let options = DeleteOptions { grace_period_seconds: Some(0), ..DeleteOptions::default() };
            match api.delete(&mirror.metadata.name, &options).await {
                Ok(_) | Err(StoreError::NotFound { .. }) => deleted += 1,
                Err(e) => return Err(e),
            }
        }
    }
    for (key, pod) in pods {
        let exists = mine.iter().any(|m| {
            format!("{}/{}", m.metadata.namespace, m.metadata.name) == *key
                && m.metadata.annotations.get(CONFIG_MIRROR) == pod.metadata.annotations.get(CONFIG_HASH)
        });
        if !exists {
            let api: Api<Pod> = Api::with_client(api.clone(), Some(pod.metadata.namespace.clone()));
            match api.create(&mirror_of(pod)).await {
                Ok(_) | Err(StoreError::AlreadyExists { .. }) => created += 1,
                Err(e) => return Err(e),
            }
        }
    }
    Ok((created, deleted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manifests_become_static_pods_with_mirrors() {
        let dir = std::env::temp_dir().join(format!("k-node-static-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("web.yaml"),
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: kube-system\nspec:\n  containers:\n  - name: c\n    image: nginx\n",
        )
        .unwrap();
        std::fs::write(dir.join("bad.yaml"), "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n").unwrap();
        std::fs::write(dir.join(".hidden.yaml"), "kind: Pod\n").unwrap();
        let (pods, problems) = read_manifests(&dir, "n1");
        assert_eq!(pods.keys().collect::<Vec<_>>(), ["kube-system/web-n1"]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        let pod = &pods["kube-system/web-n1"];
        assert_eq!(pod.spec.node_name.as_deref(), Some("n1"));
        assert_eq!(pod.metadata.annotations.get(CONFIG_SOURCE).map(String::as_str), Some("file"));
        let (again, _) = read_manifests(&dir, "n1");
        assert_eq!(again["kube-system/web-n1"].metadata.uid, pod.metadata.uid, "the uid is stable");

        let api: Arc<dyn ObjectApi> = Arc::new(k_store::Store::in_memory());
        assert_eq!(sync_mirrors(api.clone(), "n1", &pods).await.unwrap(), (1, 0));
        assert_eq!(sync_mirrors(api.clone(), "n1", &pods).await.unwrap(), (0, 0), "nothing to do");
        let in_api: Api<Pod> = Api::with_client(api.clone(), Some("kube-system".into()));
        let mirror = in_api.get("web-n1").await.unwrap();
        assert!(is_mirror(&mirror));

        // A changed manifest replaces the mirror; a removed one deletes it.
        std::fs::write(
            dir.join("web.yaml"),
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: kube-system\nspec:\n  containers:\n  - name: c\n    image: nginx:2\n",
        )
        .unwrap();
        let (changed, _) = read_manifests(&dir, "n1");
        assert_ne!(changed["kube-system/web-n1"].metadata.uid, pod.metadata.uid);
        assert_eq!(sync_mirrors(api.clone(), "n1", &changed).await.unwrap(), (1, 1));
        assert_eq!(sync_mirrors(api.clone(), "n1", &BTreeMap::new()).await.unwrap(), (0, 1));
        assert!(in_api.get_opt("web-n1").await.unwrap().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
