//! libcni's result cache, in libcni's format, so tools that read
//! `/var/lib/cni/results` see k's attachments and k sees theirs.
//!
//! One file per attachment, `<cacheDir>/results/<network>-<containerID>-<ifname>`
//! (directory 0700, file 0600), holding one JSON object: `kind`
//! (`cniCacheV1`), `containerId`, `config` (the list's bytes, base64 as Go
//! encodes `[]byte`), `ifName`, `networkName`, and when not empty `netns`,
//! `cniArgs` (`[["K","V"],…]`), `capabilityArgs` and `result`. A file
//! without `kind` is libcni's older form: the bare result.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ExecError;

/// The `kind` of libcni's cache files.
pub const CACHE_KIND: &str = "cniCacheV1";

/// One cached attachment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheEntry {
    /// Always [`CACHE_KIND`] when written by k.
    #[serde(default)]
    pub kind: String,
    /// The container's id.
    pub container_id: String,
    /// The network configuration list's bytes.
    #[serde(with = "go_bytes")]
    pub config: Vec<u8>,
    /// The interface name.
    #[serde(rename = "ifName")]
    pub ifname: String,
    /// The network's name.
    pub network_name: String,
    /// The namespace path.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub netns: String,
    /// `CNI_ARGS`, as pairs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cni_args: Vec<(String, String)>,
    /// The runtime's capability arguments.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub capability_args: Map<String, Value>,
    /// The chain's final result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
}

mod go_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = Option::<String>::deserialize(d)?.unwrap_or_default();
        base64::engine::general_purpose::STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// The cache directory (`/var/lib/cni` by default in libcni).
#[derive(Clone, Debug)]
pub struct ResultCache {
    dir: PathBuf,
}

impl ResultCache {
    /// The cache under `dir` (its `results/` folder).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ResultCache { dir: dir.into() }
    }

    /// `<dir>/results`.
    pub fn results_dir(&self) -> PathBuf {
        self.dir.join("results")
    }

    /// The file of one attachment.
    pub fn path(&self, network: &str, container_id: &str, ifname: &str) -> PathBuf {
        self.results_dir().join(format!("{network}-{container_id}-{ifname}"))
    }

    /// Writes `entry` (0600, in a 0700 directory), replacing any older one.
    pub fn write(&self, entry: &CacheEntry) -> Result<PathBuf, ExecError> {
        let path = self.path(&entry.network_name, &entry.container_id, &entry.ifname);
        let fail = |msg: String| ExecError::Cache { path: path.clone(), msg };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(self.results_dir())
            .map_err(|e| fail(e.to_string()))?;
        let mut entry = entry.clone();
        entry.kind = CACHE_KIND.into();
        let bytes = serde_json::to_vec(&entry).map_err(|e| fail(e.to_string()))?;
        // Write a sibling and rename it over, so readers never see half a file.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let file_name = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        // A hidden sibling unique to this write (ids and interface names may
        // hold dots, so the name is built, not derived by extension).
        let tmp = self.results_dir().join(format!(".{file_name}.{}.{n}.tmp", std::process::id()));
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| fail(e.to_string()))?;
        file.write_all(&bytes).and_then(|()| file.sync_all()).map_err(|e| fail(e.to_string()))?;
        fs::rename(&tmp, &path).map_err(|e| fail(e.to_string()))?;
        Ok(path)
    }

    /// Reads one attachment's entry; `None` when there is none. A legacy
    /// bare-result file gives an entry holding only the result and the
    /// names from the call.
    pub fn read(&self, network: &str, container_id: &str, ifname: &str) -> Result<Option<CacheEntry>, ExecError> {
        let path = self.path(network, container_id, ifname);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ExecError::Cache { path, msg: e.to_string() }),
        };
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|e| ExecError::Cache { path: path.clone(), msg: e.to_string() })?;
        if value.get("kind").is_none() {
            return Ok(Some(CacheEntry {
                container_id: container_id.into(),
                ifname: ifname.into(),
                network_name: network.into(),
                result: Some(value),
                ..CacheEntry::default()
            }));
        }
        serde_json::from_value(value).map(Some).map_err(|e| ExecError::Cache { path, msg: e.to_string() })
    }

    /// Removes one attachment's entry; a missing one is fine.
    pub fn remove(&self, network: &str, container_id: &str, ifname: &str) -> Result<(), ExecError> {
        let path = self.path(network, container_id, ifname);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ExecError::Cache { path, msg: e.to_string() }),
        }
    }

    /// Every `cniCacheV1` entry (legacy files are skipped: they do not say
    /// which network they belong to), of one container when given.
    pub fn list(&self, container_id: Option<&str>) -> Result<Vec<CacheEntry>, ExecError> {
        let dir = self.results_dir();
        let read = match fs::read_dir(&dir) {
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(ExecError::Cache { path: dir, msg: e.to_string() }),
        };
        let mut entries = Vec::new();
        for file in read.flatten() {
            // Hidden files are writes in progress (or left by a crash).
            if file.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let Ok(bytes) = fs::read(file.path()) else { continue };
            let Ok(entry) = serde_json::from_slice::<CacheEntry>(&bytes) else { continue };
            if entry.kind == CACHE_KIND && container_id.is_none_or(|id| id == entry.container_id) {
                entries.push(entry);
            }
        }
        entries.sort_by(|a, b| {
            (&a.network_name, &a.container_id, &a.ifname).cmp(&(&b.network_name, &b.container_id, &b.ifname))
        });
        Ok(entries)
    }
}

/// Base64 of `bytes` as Go writes a `[]byte` (for tests comparing files).
pub fn go_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Whether `path` has mode `mode` (permission bits).
pub fn has_mode(path: &Path, mode: u32) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o777 == mode)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn entries_round_trip_in_libcnis_format() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ResultCache::new(dir.path());
        let entry = CacheEntry {
            container_id: "c1".into(),
            config: br#"{"name":"n"}"#.to_vec(),
            ifname: "eth0".into(),
            network_name: "n".into(),
            netns: "/run/netns/p".into(),
            cni_args: vec![("IgnoreUnknown".into(), "1".into())],
            result: Some(json!({"cniVersion": "1.0.0"})),
            ..CacheEntry::default()
        };
        let path = cache.write(&entry).unwrap();
        assert_eq!(path, dir.path().join("results/n-c1-eth0"));
        assert!(has_mode(&path, 0o600) && has_mode(&cache.results_dir(), 0o700));
        let raw: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            raw,
            json!({"kind": "cniCacheV1", "containerId": "c1", "config": "eyJuYW1lIjoibiJ9", "ifName": "eth0",
                   "networkName": "n", "netns": "/run/netns/p", "cniArgs": [["IgnoreUnknown", "1"]],
                   "result": {"cniVersion": "1.0.0"}})
        );
        let back = cache.read("n", "c1", "eth0").unwrap().unwrap();
        assert_eq!(back.config, entry.config);
        assert_eq!(cache.list(Some("c1")).unwrap().len(), 1);
        assert!(cache.list(Some("c2")).unwrap().is_empty());
        fs::write(cache.path("n", "old", "eth0"), br#"{"cniVersion": "0.4.0", "ips": []}"#).unwrap();
        assert_eq!(cache.read("n", "old", "eth0").unwrap().unwrap().result.unwrap()["cniVersion"], "0.4.0");
        assert_eq!(cache.list(None).unwrap().len(), 1, "legacy files are not listed");
        cache.remove("n", "c1", "eth0").unwrap();
        cache.remove("n", "c1", "eth0").unwrap();
        assert!(cache.read("n", "c1", "eth0").unwrap().is_none());
    }
}
