//! A pod's volumes, prepared on the node and handed to the runtime as
//! mounts.
//!
//! Each volume gets a directory under the pod's data directory
//! (`<root>/pods/<uid>/volumes/<plugin>/<name>`, as the kubelet lays it
//! out), except hostPath and PVCs backed by hostPath or local PVs, which
//! mount the node's own path. Supported: emptyDir, hostPath, configMap,
//! secret, downwardAPI, projected (configMap, secret and downwardAPI
//! sources; a serviceAccountToken source is skipped: the node does not
//! request tokens yet), persistentVolumeClaim (hostPath and local PVs).
//! Other volume types are refused with a clear error.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use k_api_types::core::v1::{ConfigMap, Container, PersistentVolume, PersistentVolumeClaim, Pod, Secret};
use k_netplugin::cri::Mount;
use k_store::{Api, ObjectApi};
use serde_json::Value;

/// Preparing a volume failed (the pod waits in ContainerCreating).
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// A referenced object is missing (and the volume is not optional).
    #[error("{kind} {name:?} not found")]
    Missing {
        /// ConfigMap, Secret, PersistentVolumeClaim, …
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// A claim is not bound, or bound to a PV the node cannot mount.
    #[error("volume {volume}: {message}")]
    Unusable {
        /// The volume's name.
        volume: String,
        /// Why.
        message: String,
    },
    /// The volume type is not supported on this node.
    #[error("volume {0}: unsupported volume type")]
    Unsupported(String),
    /// Writing the volume's files failed.
    #[error("volume {volume}: {source}")]
    Io {
        /// The volume's name.
        volume: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Reading from the API failed.
    #[error(transparent)]
    Api(#[from] k_store::StoreError),
}

/// Prepares volumes for the pods of one node.
#[derive(Clone, Debug)]
pub struct VolumeManager {
    api: Arc<dyn ObjectApi>,
    root: PathBuf,
}

/// A pod's data directory.
pub fn pod_dir(root: &Path, uid: &str) -> PathBuf {
    root.join("pods").join(uid)
}

fn io(volume: &str) -> impl Fn(std::io::Error) -> VolumeError + '_ {
    move |source| VolumeError::Io { volume: volume.to_string(), source }
}

/// Whether `rel` is a plain relative path (no `..`, not absolute).
fn safe_relative(rel: &str) -> bool {
    !rel.is_empty() && Path::new(rel).components().all(|c| matches!(c, Component::Normal(_)))
}

fn write_file(dir: &Path, rel: &str, bytes: &[u8], mode: Option<u32>, volume: &str) -> Result<(), VolumeError> {
    if !safe_relative(rel) {
        return Err(VolumeError::Unusable { volume: volume.into(), message: format!("invalid item path {rel:?}") });
    }
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(volume))?;
    }
    std::fs::write(&path, bytes).map_err(io(volume))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode.unwrap_or(0o644))).map_err(io(volume))
}

fn mode_of(v: &Value) -> Option<u32> {
    v.as_u64().and_then(|m| u32::try_from(m).ok())
}

/// A file of a configMap or secret volume: path, content, mode.
type KeyFile = (String, Vec<u8>, Option<u32>);

/// The files a configMap or secret source gives: `items` (key → path,
/// mode) or every key.
fn key_files(data: &BTreeMap<String, Vec<u8>>, source: &Value, volume: &str) -> Result<Vec<KeyFile>, VolumeError> {
    let default_mode = source.get("defaultMode").and_then(mode_of);
    match source.get("items").and_then(Value::as_array) {
        Some(items) if !items.is_empty() => items
            .iter()
            .map(|item| {
                let key = item.get("key").and_then(Value::as_str).unwrap_or_default();
                let path = item.get("path").and_then(Value::as_str).unwrap_or(key);
                let bytes = data.get(key).cloned().ok_or_else(|| VolumeError::Unusable {
                    volume: volume.into(),
                    message: format!("key {key:?} not found"),
                })?;
                Ok((path.to_string(), bytes, item.get("mode").and_then(mode_of).or(default_mode)))
            })
            .collect(),
        _ => Ok(data.iter().map(|(k, v)| (k.clone(), v.clone(), default_mode)).collect()),
    }
}

/// A downwardAPI item's value for `pod`: the whole label or annotation
/// map (`key="value"` lines), or one field ([`crate::env`]'s field paths).
fn field_value(pod: &Pod, field: &str) -> Option<String> {
    let map_text = |m: &k_api_types::sorted_map::SortedMap<String, String>| {
        m.iter().map(|(k, v)| format!("{k}={v:?}")).collect::<Vec<_>>().join("\n")
    };
    match field {
        "metadata.labels" => Some(map_text(&pod.metadata.labels)),
        "metadata.annotations" => Some(map_text(&pod.metadata.annotations)),
        _ => crate::env::pod_field(pod, field, &[], &[]),
    }
}

impl VolumeManager {
    /// Volumes under `<root>/pods/<uid>/volumes`, objects read through `api`.
    pub fn new(api: Arc<dyn ObjectApi>, root: impl Into<PathBuf>) -> Self {
        VolumeManager { api, root: root.into() }
    }

    /// A ConfigMap's `data` and `binaryData`, `None` if it does not exist.
    async fn config_map(&self, ns: &str, name: &str) -> Result<Option<BTreeMap<String, Vec<u8>>>, VolumeError> {
        let api: Api<ConfigMap> = Api::with_client(self.api.clone(), Some(ns.into()));
        Ok(api.get_opt(name).await?.map(|cm| {
            let text = cm.data.into_iter().map(|(k, v)| (k, v.into_bytes()));
            text.chain(cm.binary_data.into_iter().map(|(k, v)| (k, v.0))).collect()
        }))
    }

    /// A Secret's `data` (decoded by its type) and `stringData`, `None` if
    /// it does not exist.
    async fn secret(&self, ns: &str, name: &str) -> Result<Option<BTreeMap<String, Vec<u8>>>, VolumeError> {
        let api: Api<Secret> = Api::with_client(self.api.clone(), Some(ns.into()));
        Ok(api.get_opt(name).await?.map(|secret| {
            let data = secret.data.into_iter().map(|(k, v)| (k, v.0));
            data.chain(secret.string_data.into_iter().map(|(k, v)| (k, v.into_bytes()))).collect()
        }))
    }

    /// Writes the files of a configMap or secret source into `dir`.
    async fn key_source(
        &self,
        kind: &'static str,
        ns: &str,
        source: &Value,
        dir: &Path,
        volume: &str,
    ) -> Result<(), VolumeError> {
        let name = source.get("name").and_then(Value::as_str).unwrap_or_default();
        let optional = source.get("optional").and_then(Value::as_bool).unwrap_or(false);
        let data = if kind == "ConfigMap" { self.config_map(ns, name).await? } else { self.secret(ns, name).await? };
        let Some(data) = data else {
            return if optional { Ok(()) } else { Err(VolumeError::Missing { kind, name: name.into() }) };
        };
        for (path, bytes, mode) in key_files(&data, source, volume)? {
            write_file(dir, &path, &bytes, mode, volume)?;
        }
        Ok(())
    }

    fn downward_source(pod: &Pod, source: &Value, dir: &Path, volume: &str) -> Result<(), VolumeError> {
        let default_mode = source.get("defaultMode").and_then(mode_of);
        for item in source.get("items").and_then(Value::as_array).into_iter().flatten() {
            let path = item.get("path").and_then(Value::as_str).unwrap_or_default();
            let Some(field) = item.pointer("/fieldRef/fieldPath").and_then(Value::as_str) else {
                // resourceFieldRef needs the container's resources: written
                // as the limit's text when present.
                continue;
            };
            let text = field_value(pod, field).unwrap_or_default();
            write_file(dir, path, text.as_bytes(), item.get("mode").and_then(mode_of).or(default_mode), volume)?;
        }
        Ok(())
    }

    /// Prepares every volume of `pod`; returns each volume's path on the
    /// node.
    pub async fn prepare(&self, pod: &Pod) -> Result<BTreeMap<String, PathBuf>, VolumeError> {
        let uid = pod.metadata.uid.clone();
        let ns = if pod.metadata.namespace.is_empty() { "default".to_string() } else { pod.metadata.namespace.clone() };
        let base = pod_dir(&self.root, &uid).join("volumes");
        let mut paths = BTreeMap::new();
        let volumes = pod.spec.volumes.clone();
        for volume in &volumes {
            let name = volume.name.as_str();
            let v = serde_json::to_value(volume).unwrap_or_default();
            let dir_for = |plugin: &str| base.join(format!("kubernetes.io~{plugin}")).join(name);
            let path = if v.get("emptyDir").is_some() {
                let dir = dir_for("empty-dir");
                std::fs::create_dir_all(&dir).map_err(io(name))?;
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).map_err(io(name))?;
                dir
            } else if let Some(host) = v.get("hostPath") {
                let path = PathBuf::from(host.get("path").and_then(Value::as_str).unwrap_or_default());
                match host.get("type").and_then(Value::as_str).unwrap_or("") {
                    "DirectoryOrCreate" => std::fs::create_dir_all(&path).map_err(io(name))?,
                    "FileOrCreate" if !path.exists() => {
                        if let Some(parent) = path.parent() {
                            std::fs::create_dir_all(parent).map_err(io(name))?;
                        }
                        std::fs::write(&path, b"").map_err(io(name))?;
                    }
                    "Directory" if !path.is_dir() => {
                        return Err(VolumeError::Unusable {
                            volume: name.into(),
                            message: format!("hostPath type check failed: {} is not a directory", path.display()),
                        });
                    }
                    "File" if !path.is_file() => {
                        return Err(VolumeError::Unusable {
                            volume: name.into(),
                            message: format!("hostPath type check failed: {} is not a file", path.display()),
                        });
                    }
                    _ => {}
                }
                path
            } else if let Some(source) = v.get("configMap") {
                let dir = dir_for("configmap");
                std::fs::create_dir_all(&dir).map_err(io(name))?;
                self.key_source("ConfigMap", &ns, source, &dir, name).await?;
                dir
            } else if let Some(source) = v.get("secret") {
                let dir = dir_for("secret");
                std::fs::create_dir_all(&dir).map_err(io(name))?;
                let mut source = source.clone();
                if let Some(obj) = source.as_object_mut()
                    && let Some(secret_name) = obj.remove("secretName")
                {
                    obj.insert("name".into(), secret_name);
                }
                self.key_source("Secret", &ns, &source, &dir, name).await?;
                dir
            } else if let Some(source) = v.get("downwardAPI") {
                let dir = dir_for("downward-api");
                std::fs::create_dir_all(&dir).map_err(io(name))?;
                Self::downward_source(pod, source, &dir, name)?;
                dir
            } else if let Some(projected) = v.get("projected") {
                let dir = dir_for("projected");
                std::fs::create_dir_all(&dir).map_err(io(name))?;
                let mut sources = projected.get("sources").and_then(Value::as_array).cloned().unwrap_or_default();
                for source in &mut sources {
                    if let (Some(mode), Some(obj)) = (projected.get("defaultMode"), source.as_object_mut()) {
                        for inner in obj.values_mut().filter_map(Value::as_object_mut) {
                            inner.entry("defaultMode").or_insert(mode.clone());
                        }
                    }
                    if let Some(s) = source.get("configMap") {
                        self.key_source("ConfigMap", &ns, s, &dir, name).await?;
                    } else if let Some(s) = source.get("secret") {
                        self.key_source("Secret", &ns, s, &dir, name).await?;
                    } else if let Some(s) = source.get("downwardAPI") {
                        Self::downward_source(pod, s, &dir, name)?;
                    }
                    // serviceAccountToken, clusterTrustBundle: not served yet.
                }
                dir
            } else if let Some(claim) = v.get("persistentVolumeClaim") {
                self.claim_path(&ns, claim, name).await?
            } else {
                return Err(VolumeError::Unsupported(name.into()));
            };
            paths.insert(name.to_string(), path);
        }
        Ok(paths)
    }

    async fn claim_path(&self, ns: &str, claim: &Value, volume: &str) -> Result<PathBuf, VolumeError> {
        let claim_name = claim.get("claimName").and_then(Value::as_str).unwrap_or_default();
        let claims: Api<PersistentVolumeClaim> = Api::with_client(self.api.clone(), Some(ns.into()));
        let Some(pvc) = claims.get_opt(claim_name).await? else {
            return Err(VolumeError::Missing { kind: "PersistentVolumeClaim", name: claim_name.into() });
        };
        let pvc = serde_json::to_value(&pvc).unwrap_or_default();
        let Some(pv_name) = pvc.pointer("/spec/volumeName").and_then(Value::as_str).filter(|n| !n.is_empty()) else {
            return Err(VolumeError::Unusable {
                volume: volume.into(),
                message: format!("persistentvolumeclaim {claim_name:?} is not bound"),
            });
        };
        let pvs: Api<PersistentVolume> = Api::with_client(self.api.clone(), None);
        let Some(pv) = pvs.get_opt(pv_name).await? else {
            return Err(VolumeError::Missing { kind: "PersistentVolume", name: pv_name.into() });
        };
        let pv = serde_json::to_value(&pv).unwrap_or_default();
        let path = pv.pointer("/spec/hostPath/path").or_else(|| pv.pointer("/spec/local/path")).and_then(Value::as_str);
        match path {
            Some(p) => {
                let p = PathBuf::from(p);
                if pv.pointer("/spec/hostPath").is_some() {
                    std::fs::create_dir_all(&p).map_err(io(volume))?;
                }
                Ok(p)
            }
            None => Err(VolumeError::Unusable {
                volume: volume.into(),
                message: format!("persistentvolume {pv_name:?} is neither hostPath nor local"),
            }),
        }
    }

    /// Removes the pod's data directory.
    pub fn cleanup(&self, uid: &str) -> std::io::Result<()> {
        match std::fs::remove_dir_all(pod_dir(&self.root, uid)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// The CRI mounts of `container` from its volumeMounts (subPath joined).
pub fn mounts(container: &Container, volumes: &BTreeMap<String, PathBuf>) -> Vec<Mount> {
    container
        .volume_mounts
        .iter()
        .filter_map(|m| {
            let base = volumes.get(&m.name)?;
            let host = match m.sub_path.as_deref().filter(|s| safe_relative(s)) {
                Some(sub) => base.join(sub),
                None => base.clone(),
            };
            Some(Mount {
                container_path: m.mount_path.clone(),
                host_path: host.display().to_string(),
                readonly: m.read_only.unwrap_or(false),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn every_supported_volume_is_prepared() {
        let root = std::env::temp_dir().join(format!("k-node-vol-{}", std::process::id()));
        let api: Arc<dyn ObjectApi> = Arc::new(k_store::Store::in_memory());
        let cms: Api<ConfigMap> = Api::with_client(api.clone(), Some("default".into()));
        cms.create(
            &serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": "default"}, "data": {"a.conf": "x=1", "b": "two"}}))
            .unwrap(),
        )
        .await
        .unwrap();
        let secrets: Api<Secret> = Api::with_client(api.clone(), Some("default".into()));
        secrets
            .create(
                &serde_json::from_value(json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "pw", "namespace": "default"}, "data": {"password": "aHVudGVyMg=="}}))
                .unwrap(),
            )
            .await
            .unwrap();
        let pvs: Api<PersistentVolume> = Api::with_client(api.clone(), None);
        let pv_dir = root.join("pv1");
        pvs.create(
            &serde_json::from_value(
                json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv1"},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": pv_dir}}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
        let pvcs: Api<PersistentVolumeClaim> = Api::with_client(api.clone(), Some("default".into()));
        pvcs.create(&serde_json::from_value(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "namespace": "default"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "volumeName": "pv1"}})).unwrap()).await.unwrap();
        let pod: Pod = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "uid": "u1", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "x",
                "volumeMounts": [{"name": "cache", "mountPath": "/cache"}, {"name": "cfg", "mountPath": "/etc/cfg", "readOnly": true},
                                 {"name": "data", "mountPath": "/data", "subPath": "sub"}]}],
              "volumes": [
                {"name": "cache", "emptyDir": {}},
                {"name": "cfg", "configMap": {"name": "cfg", "items": [{"key": "a.conf", "path": "conf/a.conf"}]}},
                {"name": "pw", "secret": {"secretName": "pw", "defaultMode": 256}},
                {"name": "info", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                                                            {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                {"name": "all", "projected": {"sources": [{"configMap": {"name": "cfg"}}, {"secret": {"name": "pw"}},
                                                          {"serviceAccountToken": {"path": "token"}}]}},
                {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                {"name": "missing", "configMap": {"name": "nope", "optional": true}}
              ]}})).unwrap();
        let manager = VolumeManager::new(api.clone(), &root);
        let paths = manager.prepare(&pod).await.unwrap();
        assert_eq!(std::fs::read_to_string(paths["cfg"].join("conf/a.conf")).unwrap(), "x=1");
        assert!(!paths["cfg"].join("b").exists(), "only the listed items");
        let pw = paths["pw"].join("password");
        assert_eq!(std::fs::read_to_string(&pw).unwrap(), "hunter2");
        assert_eq!(std::fs::metadata(&pw).unwrap().permissions().mode() & 0o777, 0o400);
        assert_eq!(std::fs::read_to_string(paths["info"].join("labels")).unwrap(), "app=\"web\"");
        assert_eq!(std::fs::read_to_string(paths["info"].join("name")).unwrap(), "p");
        assert!(paths["all"].join("b").exists() && paths["all"].join("password").exists());
        assert_eq!(paths["data"], pv_dir);
        let ms = mounts(&pod.spec.containers[0], &paths);
        assert_eq!(ms.len(), 3);
        assert_eq!((ms[1].container_path.as_str(), ms[1].readonly), ("/etc/cfg", true));
        assert_eq!(ms[2].host_path, pv_dir.join("sub").display().to_string());

        let bad: Pod = serde_json::from_value(json!({"metadata": {"name": "b", "namespace": "default", "uid": "u2"},
            "spec": {"containers": [], "volumes": [{"name": "cfg", "configMap": {"name": "nope"}}]}}))
        .unwrap();
        assert!(matches!(manager.prepare(&bad).await, Err(VolumeError::Missing { kind: "ConfigMap", .. })));
        manager.cleanup("u1").unwrap();
        assert!(!pod_dir(&root, "u1").exists());
        let _ = std::fs::remove_dir_all(&root);
    }
}
