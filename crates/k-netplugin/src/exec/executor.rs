//! [`Executor`]: libcni's role, for Rust plugins and binaries alike.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use super::cache::{CacheEntry, ResultCache};
use super::{Exec, ExecError, ExternalPlugin, ProcessExec};
use crate::netns::NetNs;
use crate::plugin::{Attachment, GcAttachment, NetworkPlugin};
use crate::types::{
    CniError, CniResult, ErrorCode, NetworkConfigList, PluginConf, SUPPORTED_VERSIONS, Version, negotiate,
};

/// What the runtime says about one attachment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuntimeConf {
    /// The container's (sandbox's) id.
    pub container_id: String,
    /// Its network namespace's path (may be absent on DEL).
    pub netns: Option<PathBuf>,
    /// The interface to create in it (`eth0`).
    pub ifname: String,
    /// `CNI_ARGS`.
    pub args: Vec<(String, String)>,
    /// Capability arguments (`portMappings`, `ips`, `mac`, `bandwidth`, …);
    /// each plugin gets in its `runtimeConfig` the ones it declares.
    pub capability_args: Map<String, Value>,
}

impl RuntimeConf {
    /// The attachment of `container_id`'s `ifname` in `netns`.
    pub fn new(container_id: impl Into<String>, netns: impl Into<PathBuf>, ifname: impl Into<String>) -> Self {
        RuntimeConf {
            container_id: container_id.into(),
            netns: Some(netns.into()),
            ifname: ifname.into(),
            ..RuntimeConf::default()
        }
    }
}

/// Reads every `*.conflist`, `*.conf` and `*.json` in `dir`, in lexical
/// file-name order (a single plugin's file becomes a list of one). The
/// first is the default network, by containerd's convention.
pub fn load_dir(dir: &Path) -> Result<Vec<NetworkConfigList>, ExecError> {
    let read = std::fs::read_dir(dir).map_err(|e| ExecError::io(format!("reading {}", dir.display()), e))?;
    let mut files: Vec<PathBuf> = read
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "conflist" || x == "conf" || x == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|file| {
            let bytes = std::fs::read(file).map_err(|e| ExecError::io(format!("reading {}", file.display()), e))?;
            NetworkConfigList::from_bytes(&bytes).map_err(|e| {
                let details = if e.details.is_empty() {
                    file.display().to_string()
                } else {
                    format!("{}: {}", file.display(), e.details)
                };
                ExecError::Config(e.with_details(details))
            })
        })
        .collect()
}

/// A plugin found for a type.
#[derive(Clone, Debug)]
enum Resolved {
    InProcess(Arc<dyn NetworkPlugin>),
    Binary(ExternalPlugin),
}

/// Runs network configuration lists: the equivalent of libcni.
///
/// Plugins are looked up among those registered with
/// [`with_plugin`](Self::with_plugin), then as binaries on `CNI_PATH`.
/// Every plugin of a list gets the list's `name` and chosen `cniVersion`,
/// the capability arguments it declares in `runtimeConfig`, and in a chain
/// the previous plugin's result as `prevResult`. Results are cached in
/// libcni's format under the cache directory.
///
/// The version: the highest of the list's `cniVersions` and `cniVersion`
/// that k speaks and, unless [`libcni_version_choice`](Self::libcni_version_choice)
/// is set, that every plugin of the chain reports in VERSION (the
/// reference plugins stop at 1.0.0 while lists may say 1.1.0).
#[derive(Clone, Debug)]
pub struct Executor {
    cni_path: Vec<PathBuf>,
    cache: ResultCache,
    exec: Arc<dyn Exec>,
    timeout: Option<Duration>,
    plugins: BTreeMap<String, Arc<dyn NetworkPlugin>>,
    libcni_versions: bool,
    versions: Arc<Mutex<HashMap<BinaryKey, Vec<Version>>>>,
}

/// A plugin binary as of one version of it: path, size, modification time.
type BinaryKey = (PathBuf, u64, Option<SystemTime>);

/// libcni's default per-call timeout is none; k's is one minute.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

impl Executor {
    /// Plugins from `cni_path`, results cached under `cache_dir`
    /// (`/var/lib/cni` is libcni's).
    pub fn new(cni_path: Vec<PathBuf>, cache_dir: impl Into<PathBuf>) -> Self {
        Executor {
            cni_path,
            cache: ResultCache::new(cache_dir),
            exec: Arc::new(ProcessExec::new()),
            timeout: Some(DEFAULT_TIMEOUT),
            plugins: BTreeMap::new(),
            libcni_versions: false,
            versions: Arc::default(),
        }
    }

    /// Kills a plugin call after `per_call` (default 60 s).
    #[must_use]
    pub fn with_timeout(mut self, per_call: Duration) -> Self {
        self.timeout = Some(per_call);
        self
    }

    /// Runs plugin binaries from inside `ns`: what they do to "the host"
    /// (bridges, veth host ends, iptables rules) happens there.
    pub fn with_host_netns(mut self, ns: &NetNs) -> Result<Self, ExecError> {
        self.exec = Arc::new(ProcessExec::in_namespace(ns)?);
        Ok(self)
    }

    /// Runs plugin binaries through `exec`.
    #[must_use]
    pub fn with_exec(mut self, exec: Arc<dyn Exec>) -> Self {
        self.exec = exec;
        self
    }

    /// Serves plugin type `ty` with an in-process plugin, before `CNI_PATH`.
    #[must_use]
    pub fn with_plugin(mut self, ty: &str, plugin: Arc<dyn NetworkPlugin>) -> Self {
        self.plugins.insert(ty.to_string(), plugin);
        self
    }

    /// Chooses versions as libcni does: the highest the list names that k
    /// speaks, without asking the plugins.
    #[must_use]
    pub fn libcni_version_choice(mut self) -> Self {
        self.libcni_versions = true;
        self
    }

    /// The result cache.
    pub fn cache(&self) -> &ResultCache {
        &self.cache
    }

    /// The cached attachments (of one container when given).
    pub fn cached_attachments(&self, container_id: Option<&str>) -> Result<Vec<CacheEntry>, ExecError> {
        self.cache.list(container_id)
    }

    fn resolve(&self, ty: &str) -> Result<Resolved, ExecError> {
        if let Some(plugin) = self.plugins.get(ty) {
            return Ok(Resolved::InProcess(plugin.clone()));
        }
        if ty.contains('/') || ty.is_empty() {
            return Err(ExecError::Config(CniError::new(
                ErrorCode::InvalidNetworkConfig,
                format!("invalid plugin type {ty:?}"),
            )));
        }
        for dir in &self.cni_path {
            let candidate = dir.join(ty);
            if candidate.is_file() {
                let plugin = ExternalPlugin::new(candidate).with_exec(self.exec.clone()).with_timeout(self.timeout);
                return Ok(Resolved::Binary(plugin));
            }
        }
        Err(ExecError::NotFound { plugin: ty.to_string(), path: self.cni_path.clone() })
    }

    async fn plugin_versions(&self, ty: &str, resolved: &Resolved) -> Result<Vec<Version>, ExecError> {
        let plugin_error = |error: CniError| ExecError::Plugin {
            plugin: ty.to_string(),
            command: "VERSION".into(),
            error: Box::new(error),
            stderr: String::new(),
        };
        match resolved {
            Resolved::InProcess(p) => Ok(p.version().await.map_err(plugin_error)?.versions()),
            Resolved::Binary(p) => {
                let meta = std::fs::metadata(p.binary()).ok();
                let key = (
                    p.binary().to_path_buf(),
                    meta.as_ref().map_or(0, |m| m.len()),
                    meta.and_then(|m| m.modified().ok()),
                );
                if let Some(known) = self.versions.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
                    return Ok(known.clone());
                }
                let out = p.invoke("VERSION", br#"{"cniVersion":"0.4.0"}"#, None, &self.cni_path).await?;
                let info: crate::types::VersionInfo =
                    serde_json::from_value(out.unwrap_or(Value::Null)).map_err(|e| {
                        plugin_error(CniError::new(ErrorCode::Decode, "decoding VERSION").with_details(e.to_string()))
                    })?;
                let versions = info.versions();
                self.versions.lock().unwrap_or_else(|e| e.into_inner()).insert(key, versions.clone());
                Ok(versions)
            }
        }
    }

    /// Resolves every plugin of `list` and chooses the version.
    async fn prepare(&self, list: &NetworkConfigList) -> Result<(Version, Vec<Resolved>), ExecError> {
        list.validate()?;
        let ours: Vec<Version> = SUPPORTED_VERSIONS.iter().filter_map(|v| v.parse().ok()).collect();
        let resolved = list.plugins.iter().map(|p| self.resolve(&p.type_)).collect::<Result<Vec<_>, _>>()?;
        let mut supported = ours;
        if !self.libcni_versions {
            for (plugin, r) in list.plugins.iter().zip(&resolved) {
                let theirs = self.plugin_versions(&plugin.type_, r).await?;
                supported.retain(|v| theirs.contains(v));
            }
        }
        let version = negotiate(&list.versions(), &supported).map_err(|e| {
            let details =
                format!("network {:?}: no version both the list and its plugins speak: {}", list.name, e.details);
            ExecError::Config(e.with_details(details))
        })?;
        Ok((version, resolved))
    }

    /// Checks the container id and interface name as libcni does (code 4).
    fn validate(rt: &RuntimeConf) -> Result<(), ExecError> {
        if !crate::skel::valid_container_id(&rt.container_id) {
            return Err(ExecError::Config(
                CniError::new(ErrorCode::InvalidEnvironment, "invalid characters in containerID")
                    .with_details(rt.container_id.clone()),
            ));
        }
        crate::skel::check_ifname(&rt.ifname).map_err(ExecError::Config)
    }

    fn attachment(&self, rt: &RuntimeConf) -> Attachment {
        Attachment {
            container_id: rt.container_id.clone(),
            netns: rt.netns.clone(),
            ifname: rt.ifname.clone(),
            args: rt.args.clone(),
            path: self.cni_path.clone(),
        }
    }

    /// Plugin `index`'s stdin: the list's name and `version`,
    /// `prevResult`, and the capability arguments it declares.
    fn plugin_conf(
        list: &NetworkConfigList,
        index: usize,
        version: Version,
        prev: Option<Value>,
        rt: &RuntimeConf,
    ) -> PluginConf {
        let mut conf = list.plugin_stdin(index, version, prev).unwrap_or_default();
        let runtime: Map<String, Value> = conf
            .capabilities
            .iter()
            .filter(|(_, on)| **on)
            .filter_map(|(cap, _)| rt.capability_args.get(cap).map(|v| (cap.clone(), v.clone())))
            .collect();
        if !runtime.is_empty() {
            conf.runtime_config = Some(Value::Object(runtime));
        }
        conf
    }

    async fn call(
        &self,
        command: &str,
        resolved: &Resolved,
        conf: &PluginConf,
        at: &Attachment,
    ) -> Result<Option<CniResult>, ExecError> {
        let in_process = |error: CniError| ExecError::Plugin {
            plugin: conf.type_.clone(),
            command: command.to_string(),
            error: Box::new(error),
            stderr: String::new(),
        };
        match resolved {
            Resolved::InProcess(p) => {
                let run = async {
                    match command {
                        "ADD" => p.add(conf, at).await.map(Some),
                        "DEL" => p.del(conf, at).await.map(|()| None),
                        "CHECK" => p.check(conf, at).await.map(|()| None),
                        _ => p.status(conf, &at.path).await.map(|()| None),
                    }
                };
                match self.timeout {
                    Some(limit) => tokio::time::timeout(limit, run)
                        .await
                        .map_err(|_| ExecError::Timeout {
                            plugin: conf.type_.clone(),
                            command: command.into(),
                            after: limit,
                        })?
                        .map_err(in_process),
                    None => run.await.map_err(in_process),
                }
            }
            Resolved::Binary(p) => {
                let stdin = serde_json::to_vec(conf)
                    .map_err(|e| in_process(CniError::new(ErrorCode::Decode, e.to_string())))?;
                let out = p.invoke(command, &stdin, Some(at), &self.cni_path).await?;
                match (command, out) {
                    ("ADD", Some(value)) => Ok(Some(CniResult::from_json(&value).map_err(in_process)?)),
                    ("ADD", None) => Err(in_process(CniError::new(ErrorCode::Decode, "ADD printed no result"))),
                    _ => Ok(None),
                }
            }
        }
    }

    /// ADD: runs the chain in order, each result the next plugin's
    /// `prevResult`, and caches the last. Returns it in the list's chosen
    /// version.
    pub async fn add(&self, list: &NetworkConfigList, rt: &RuntimeConf) -> Result<CniResult, ExecError> {
        Self::validate(rt)?;
        let (version, resolved) = self.prepare(list).await?;
        let at = self.attachment(rt);
        let mut prev: Option<Value> = None;
        let mut last = CniResult::default();
        for (i, r) in resolved.iter().enumerate() {
            let conf = Self::plugin_conf(list, i, version, prev.take(), rt);
            let result = self.call("ADD", r, &conf, &at).await?.unwrap_or_default();
            prev = Some(result.to_json(version)?);
            last = result;
        }
        last.cni_version = version.to_string();
        let entry = CacheEntry {
            container_id: rt.container_id.clone(),
            config: if list.raw.is_empty() { serde_json::to_vec(list).unwrap_or_default() } else { list.raw.clone() },
            ifname: rt.ifname.clone(),
            network_name: list.name.clone(),
            netns: rt.netns.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            cni_args: rt.args.clone(),
            capability_args: rt.capability_args.clone(),
            result: prev,
            ..CacheEntry::default()
        };
        self.cache.write(&entry)?;
        Ok(last)
    }

    /// The cached result of an attachment, in `version`.
    fn cached_result(
        &self,
        list: &NetworkConfigList,
        rt: &RuntimeConf,
        version: Version,
    ) -> Result<Option<Value>, ExecError> {
        let Some(entry) = self.cache.read(&list.name, &rt.container_id, &rt.ifname)? else { return Ok(None) };
        let Some(result) = entry.result else { return Ok(None) };
        Ok(Some(CniResult::from_json(&result)?.to_json(version)?))
    }

    /// DEL: runs the chain in reverse with the cached result as
    /// `prevResult` (or none: DEL works after a failed ADD and when
    /// repeated), then drops the cache entry. The first failure stops it
    /// and keeps the entry, so the DEL can be retried.
    pub async fn del(&self, list: &NetworkConfigList, rt: &RuntimeConf) -> Result<(), ExecError> {
        Self::validate(rt)?;
        let (version, resolved) = self.prepare(list).await?;
        let at = self.attachment(rt);
        let prev = if version >= Version::V0_4 { self.cached_result(list, rt, version).unwrap_or(None) } else { None };
        for (i, r) in resolved.iter().enumerate().rev() {
            let conf = Self::plugin_conf(list, i, version, prev.clone(), rt);
            self.call("DEL", r, &conf, &at).await?;
        }
        self.cache.remove(&list.name, &rt.container_id, &rt.ifname)
    }

    /// CHECK (0.4.0 and later; nothing when `disableCheck`): runs the chain
    /// in order with the cached result as `prevResult`.
    pub async fn check(&self, list: &NetworkConfigList, rt: &RuntimeConf) -> Result<(), ExecError> {
        Self::validate(rt)?;
        let (version, resolved) = self.prepare(list).await?;
        if version < Version::V0_4 {
            return Err(ExecError::Config(CniError::new(
                ErrorCode::IncompatibleVersion,
                format!("configuration version {version} does not support CHECK"),
            )));
        }
        if list.disable_check {
            return Ok(());
        }
        let Some(prev) = self.cached_result(list, rt, version)? else {
            return Err(ExecError::Cache {
                path: self.cache.path(&list.name, &rt.container_id, &rt.ifname),
                msg: "no cached result to CHECK against".into(),
            });
        };
        let at = self.attachment(rt);
        for (i, r) in resolved.iter().enumerate() {
            let conf = Self::plugin_conf(list, i, version, Some(prev.clone()), rt);
            self.call("CHECK", r, &conf, &at).await?;
        }
        Ok(())
    }

    /// STATUS (1.1.0 and later; earlier lists are taken as ready): every
    /// plugin in order, the first error returned.
    pub async fn status(&self, list: &NetworkConfigList) -> Result<(), ExecError> {
        let (version, resolved) = self.prepare(list).await?;
        if version < Version::V1_1 {
            return Ok(());
        }
        let at = Attachment { path: self.cni_path.clone(), ..Attachment::default() };
        for (i, r) in resolved.iter().enumerate() {
            let conf = Self::plugin_conf(list, i, version, None, &RuntimeConf::default());
            self.call("STATUS", r, &conf, &at).await?;
        }
        Ok(())
    }

    /// GC (nothing when `disableGC`): DEL for every cached attachment of
    /// the network not in `valid` (rebuilt from its cache entry), then for
    /// 1.1.0 lists GC to every plugin with the valid attachments. Goes on
    /// after failures and reports them all.
    pub async fn gc(&self, list: &NetworkConfigList, valid: &[GcAttachment]) -> Result<(), ExecError> {
        if list.disable_gc {
            return Ok(());
        }
        let (version, resolved) = self.prepare(list).await?;
        let keep: BTreeSet<(&str, &str)> = valid.iter().map(|v| (v.container_id.as_str(), v.ifname.as_str())).collect();
        let mut errors = Vec::new();
        for entry in self.cache.list(None)? {
            if entry.network_name != list.name || keep.contains(&(entry.container_id.as_str(), entry.ifname.as_str())) {
                continue;
            }
            let rt = RuntimeConf {
                container_id: entry.container_id.clone(),
                netns: (!entry.netns.is_empty()).then(|| PathBuf::from(&entry.netns)),
                ifname: entry.ifname.clone(),
                args: entry.cni_args.clone(),
                capability_args: entry.capability_args.clone(),
            };
            if let Err(e) = self.del(list, &rt).await {
                errors.push(e);
            }
        }
        if version >= Version::V1_1 {
            for (i, r) in resolved.iter().enumerate() {
                let conf = Self::plugin_conf(list, i, version, None, &RuntimeConf::default());
                let outcome = match r {
                    Resolved::InProcess(p) => {
                        p.gc(&conf, valid, &self.cni_path).await.map_err(|error| ExecError::Plugin {
                            plugin: conf.type_.clone(),
                            command: "GC".into(),
                            error: Box::new(error),
                            stderr: String::new(),
                        })
                    }
                    Resolved::Binary(p) => {
                        let mut conf = conf.clone();
                        let valid = serde_json::to_value(valid).unwrap_or_default();
                        // libcni sends the list under both names the spec has used.
                        conf.extra.insert("cni.dev/valid-attachments".into(), valid.clone());
                        conf.extra.insert("cni.dev/attachments".into(), valid);
                        let stdin = serde_json::to_vec(&conf).unwrap_or_default();
                        p.invoke("GC", &stdin, None, &self.cni_path).await.map(drop)
                    }
                };
                if let Err(e) = outcome {
                    errors.push(e);
                }
            }
        }
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(ExecError::Multiple(errors)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use serde_json::json;

    use super::*;
    use crate::types::{IpConfig, VersionInfo};

    /// Appends `<name> <COMMAND> <prevResult's ips>` to a shared log; its
    /// ADD adds one address; `fail` names a command to fail.
    #[derive(Debug)]
    struct Recorder {
        name: &'static str,
        log: Arc<Mutex<Vec<String>>>,
        versions: &'static [&'static str],
    }

    impl Recorder {
        fn note(&self, command: &str, conf: &PluginConf) -> Result<(), CniError> {
            let prev = conf.prev_result.as_ref().map_or(0, |p| p["ips"].as_array().map_or(0, Vec::len));
            let rc = conf.runtime_config.as_ref().map(|v| v.to_string()).unwrap_or_default();
            self.log.lock().unwrap().push(format!("{} {command} {} prev={prev}{rc}", self.name, conf.cni_version));
            if conf.extra.get("fail").and_then(Value::as_str) == Some(command) {
                return Err(CniError::custom(120, format!("{} refuses {command}", self.name)).with_details("asked"));
            }
            Ok(())
        }
    }

    #[async_trait]
    impl NetworkPlugin for Recorder {
        async fn version(&self) -> Result<VersionInfo, CniError> {
            Ok(VersionInfo {
                cni_version: "1.0.0".into(),
                supported_versions: self.versions.iter().map(|v| v.to_string()).collect(),
            })
        }
        async fn add(&self, conf: &PluginConf, _at: &Attachment) -> Result<CniResult, CniError> {
            self.note("ADD", conf)?;
            let mut result = match &conf.prev_result {
                Some(prev) => CniResult::from_json(prev)?,
                None => CniResult::default(),
            };
            result.ips.push(IpConfig { address: format!("10.0.0.{}/24", result.ips.len() + 2), ..IpConfig::default() });
            Ok(result)
        }
        async fn del(&self, conf: &PluginConf, _at: &Attachment) -> Result<(), CniError> {
            self.note("DEL", conf)
        }
        async fn check(&self, conf: &PluginConf, _at: &Attachment) -> Result<(), CniError> {
            self.note("CHECK", conf)
        }
        async fn status(&self, conf: &PluginConf, _path: &[PathBuf]) -> Result<(), CniError> {
            self.note("STATUS", conf)
        }
        async fn gc(&self, conf: &PluginConf, valid: &[GcAttachment], _path: &[PathBuf]) -> Result<(), CniError> {
            self.note(&format!("GC{}", valid.len()), conf)
        }
    }

    fn setup(b_versions: &'static [&'static str]) -> (Executor, Arc<Mutex<Vec<String>>>, tempfile::TempDir) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let dir = tempfile::tempdir().unwrap();
        let all = &["0.4.0", "1.0.0", "1.1.0"];
        let exec = Executor::new(vec![dir.path().join("nothing-here")], dir.path())
            .with_plugin("a", Arc::new(Recorder { name: "a", log: log.clone(), versions: all }))
            .with_plugin("b", Arc::new(Recorder { name: "b", log: log.clone(), versions: b_versions }));
        (exec, log, dir)
    }

    fn list(extra: Value) -> NetworkConfigList {
        let mut text = json!({"cniVersion": "1.0.0", "cniVersions": ["1.1.0"], "name": "net",
            "plugins": [{"type": "a"}, {"type": "b", "capabilities": {"portMappings": true, "mac": false}}]});
        if let (Some(t), Some(e)) = (text.as_object_mut(), extra.as_object()) {
            t.extend(e.clone());
        }
        NetworkConfigList::from_bytes(text.to_string().as_bytes()).unwrap()
    }

    fn rt(id: &str) -> RuntimeConf {
        let mut rt = RuntimeConf::new(id, "/run/netns/x", "eth0");
        rt.capability_args
            .insert("portMappings".into(), json!([{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]));
        rt.capability_args.insert("mac".into(), json!("aa:bb:cc:dd:ee:ff"));
        rt
    }

    fn take(log: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
        std::mem::take(&mut *log.lock().unwrap())
    }

    #[tokio::test]
    async fn add_chains_in_order_del_in_reverse_and_the_cache_follows() {
        let (exec, log, dir) = setup(&["0.4.0", "1.0.0", "1.1.0"]);
        let l = list(json!({}));
        let result = exec.add(&l, &rt("c1")).await.unwrap();
        assert_eq!(result.ips.len(), 2, "each plugin saw the previous result");
        assert_eq!(result.cni_version, "1.1.0");
        assert_eq!(
            take(&log),
            [
                "a ADD 1.1.0 prev=0".to_string(),
                r#"b ADD 1.1.0 prev=1{"portMappings":[{"containerPort":80,"hostPort":8080,"protocol":"tcp"}]}"#.into()
            ],
            "only declared capabilities reach runtimeConfig"
        );
        let cached = exec.cache().read("net", "c1", "eth0").unwrap().unwrap();
        assert_eq!(cached.result.unwrap()["ips"].as_array().unwrap().len(), 2);
        assert_eq!(NetworkConfigList::from_bytes(&cached.config).unwrap(), l);
        exec.check(&l, &rt("c1")).await.unwrap();
        assert_eq!(take(&log).len(), 2);
        exec.del(&l, &rt("c1")).await.unwrap();
        let dels = take(&log);
        assert!(dels[0].starts_with("b DEL 1.1.0 prev=2") && dels[1].starts_with("a DEL 1.1.0 prev=2"), "{dels:?}");
        assert!(exec.cache().read("net", "c1", "eth0").unwrap().is_none());
        exec.del(&l, &rt("c1")).await.unwrap();
        assert!(take(&log)[0].starts_with("b DEL 1.1.0 prev=0"), "a repeated DEL runs without a cached result");
        assert!(exec.check(&l, &rt("c1")).await.is_err(), "CHECK needs a cached result");
        drop(dir);
    }

    #[tokio::test]
    async fn failures_keep_code_msg_details_and_leave_no_cache() {
        let (exec, log, _dir) = setup(&["1.0.0", "1.1.0"]);
        let l = NetworkConfigList::from_bytes(
            br#"{"cniVersion": "1.0.0", "name": "net", "plugins": [{"type": "a"}, {"type": "b", "fail": "ADD"}]}"#,
        )
        .unwrap();
        let err = exec.add(&l, &rt("c2")).await.unwrap_err();
        let cni = err.cni_error().unwrap();
        assert_eq!((cni.code, cni.msg.as_str(), cni.details.as_str()), (120, "b refuses ADD", "asked"));
        assert!(matches!(&err, ExecError::Plugin { plugin, command, .. } if plugin == "b" && command == "ADD"));
        assert!(exec.cache().read("net", "c2", "eth0").unwrap().is_none());
        take(&log);
        exec.del(&l, &rt("c2")).await.unwrap();
        assert_eq!(take(&log).len(), 2, "DEL after a failed ADD still runs every plugin");
        let missing =
            NetworkConfigList::from_bytes(br#"{"cniVersion": "1.0.0", "name": "net", "plugins": [{"type": "zz"}]}"#)
                .unwrap();
        let err = exec.add(&missing, &rt("c3")).await.unwrap_err();
        assert!(matches!(err, ExecError::NotFound { .. }), "{err}");
    }

    #[tokio::test]
    async fn versions_are_capped_by_the_plugins_unless_libcni_choice() {
        let (exec, log, _dir) = setup(&["0.4.0", "1.0.0"]);
        let l = list(json!({}));
        exec.add(&l, &rt("c1")).await.unwrap();
        assert!(take(&log)[0].starts_with("a ADD 1.0.0"), "b stops at 1.0.0");
        exec.status(&l).await.unwrap();
        assert!(take(&log).is_empty(), "STATUS is a 1.1.0 command");
        let libcni = exec.clone().libcni_version_choice();
        libcni.add(&l, &rt("c2")).await.unwrap();
        assert!(take(&log)[0].starts_with("a ADD 1.1.0"));
        let only2 = list(json!({"cniVersion": "0.3.1", "cniVersions": ["0.3.0"]}));
        let err = exec.add(&only2, &rt("c3")).await.unwrap_err();
        assert_eq!(err.code(), 1);
    }

    #[tokio::test]
    async fn gc_deletes_stale_cached_attachments_and_tells_the_plugins() {
        let (exec, log, _dir) = setup(&["0.4.0", "1.0.0", "1.1.0"]);
        let l = list(json!({}));
        for i in 0..4 {
            exec.add(&l, &rt(&format!("c{i}"))).await.unwrap();
        }
        take(&log);
        let valid = [GcAttachment { container_id: "c1".into(), ifname: "eth0".into() }];
        exec.gc(&l, &valid).await.unwrap();
        let calls = take(&log);
        assert_eq!(
            calls.iter().filter(|c| c.contains(" DEL ")).count(),
            6,
            "3 stale attachments × 2 plugins: {calls:?}"
        );
        assert!(calls.iter().any(|c| c.starts_with("a GC1 1.1.0")) && calls.iter().any(|c| c.starts_with("b GC1")));
        let left: Vec<String> = exec.cached_attachments(None).unwrap().into_iter().map(|e| e.container_id).collect();
        assert_eq!(left, ["c1"]);
        exec.status(&l).await.unwrap();
        assert_eq!(take(&log).len(), 2);
        let off = list(json!({"disableGC": true}));
        exec.gc(&off, &[]).await.unwrap();
        assert!(take(&log).is_empty());
    }
}
