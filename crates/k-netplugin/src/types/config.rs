//! Network configuration: a list of plugins (`.conflist`) or one plugin
//! (`.conf`, read as a list of one, as libcni does). Keys the
//! specification does not name are kept, since plugins define their own.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{CniError, Dns, ErrorCode, Version};

/// One plugin's configuration, as it is given on stdin.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginConf {
    /// The plugin binary's name (`bridge`, `host-local`, …).
    /// (Absent on stdin is tolerated, as the reference plugins do; lists
    /// refuse plugins without one.)
    #[serde(rename = "type", default)]
    pub type_: String,
    /// The network's name (the executor copies the list's in).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The version of this configuration (the executor copies the list's in).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cni_version: String,
    /// Capability arguments the plugin accepts in `runtimeConfig`
    /// (`portMappings`, `ips`, `mac`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub capabilities: BTreeMap<String, bool>,
    /// The IPAM plugin's configuration (its `type` names the binary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipam: Option<Value>,
    /// DNS settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<Dns>,
    /// Capability arguments from the runtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_config: Option<Value>,
    /// Extra arguments from the runtime (`args.cni.ips`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Value>,
    /// The previous plugin's result in a chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_result: Option<Value>,
    /// Every other key, kept for the plugin.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A network configuration list.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkConfigList {
    /// The version of the list.
    pub cni_version: String,
    /// 1.1.0: every version the list may be used with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cni_versions: Vec<String>,
    /// The network's name.
    pub name: String,
    /// Skip CHECK.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_check: bool,
    /// 1.1.0: skip GC.
    #[serde(default, rename = "disableGC", skip_serializing_if = "std::ops::Not::not")]
    pub disable_gc: bool,
    /// The plugins, run in order for ADD.
    pub plugins: Vec<PluginConf>,
    /// Every other key, kept.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// The bytes the list was read from (empty when built in code); the
    /// executor caches these, as libcni does.
    #[serde(skip)]
    pub raw: Vec<u8>,
}

fn invalid(msg: impl Into<String>) -> CniError {
    CniError::new(ErrorCode::InvalidNetworkConfig, msg)
}

/// Whether `name` is a valid network name (`[A-Za-z0-9][A-Za-z0-9_.-]*`).
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

impl NetworkConfigList {
    /// Reads a `.conflist`, or a single plugin's `.conf` as a list of one
    /// (its name and version lifted to the list), and checks it: a valid
    /// name, a readable version, at least one plugin, each with a type.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CniError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| {
            CniError::new(ErrorCode::Decode, "the network configuration is not JSON").with_details(e.to_string())
        })?;
        let list = if value.get("plugins").is_some() {
            serde_json::from_value::<NetworkConfigList>(value)
                .map_err(|e| invalid("invalid network configuration list").with_details(e.to_string()))?
        } else {
            let plugin: PluginConf = serde_json::from_value(value)
                .map_err(|e| invalid("invalid network configuration").with_details(e.to_string()))?;
            NetworkConfigList {
                cni_version: plugin.cni_version.clone(),
                name: plugin.name.clone(),
                plugins: vec![plugin],
                ..NetworkConfigList::default()
            }
        };
        list.validate()?;
        let mut list = list;
        list.raw = bytes.to_vec();
        Ok(list)
    }

    /// Checks what [`from_bytes`](Self::from_bytes) checks.
    pub fn validate(&self) -> Result<(), CniError> {
        if !valid_name(&self.name) {
            return Err(invalid(format!("invalid network name {:?}", self.name)));
        }
        self.cni_version.parse::<Version>()?;
        for v in &self.cni_versions {
            v.parse::<Version>()?;
        }
        if self.plugins.is_empty() {
            return Err(invalid(format!("network {:?} has no plugins", self.name)));
        }
        if let Some(i) = self.plugins.iter().position(|p| p.type_.is_empty()) {
            return Err(invalid(format!("plugin {i} of network {:?} has no type", self.name)));
        }
        Ok(())
    }

    /// The versions the list may be used with: `cniVersions` and
    /// `cniVersion`, highest first.
    pub fn versions(&self) -> Vec<Version> {
        let mut versions: Vec<Version> =
            self.cni_versions.iter().chain([&self.cni_version]).filter_map(|v| v.parse().ok()).collect();
        versions.sort_unstable_by(|a, b| b.cmp(a));
        versions.dedup();
        versions
    }

    /// Plugin `index` as it is sent on stdin in `version`: the list's name
    /// and the version set, `prevResult` when given.
    pub fn plugin_stdin(&self, index: usize, version: Version, prev_result: Option<Value>) -> Option<PluginConf> {
        let mut plugin = self.plugins.get(index)?.clone();
        plugin.name.clone_from(&self.name);
        plugin.cni_version = version.to_string();
        plugin.prev_result = prev_result;
        Some(plugin)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lists_keep_unknown_keys_and_plugins_get_the_lists_name() {
        let text = json!({
            "cniVersion": "1.0.0", "cniVersions": ["1.1.0", "0.4.0"], "name": "k8s-pod-network",
            "plugins": [
                {"type": "bridge", "bridge": "cni0", "isGateway": true,
                 "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.1.0.0/24"}]]}},
                {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}
            ],
            "x-vendor": {"keep": "me"}
        });
        let list = NetworkConfigList::from_bytes(text.to_string().as_bytes()).unwrap();
        assert_eq!(list.plugins[0].extra["bridge"], "cni0");
        assert!(list.plugins[1].capabilities["portMappings"]);
        assert_eq!(list.extra["x-vendor"]["keep"], "me");
        assert_eq!(serde_json::to_value(&list).unwrap(), text, "written back as read");
        assert_eq!(list.versions(), [Version::V1_1, Version::V1_0, Version::V0_4]);
        let stdin = list.plugin_stdin(1, Version::V1_0, Some(json!({"cniVersion": "1.0.0"}))).unwrap();
        let stdin = serde_json::to_value(&stdin).unwrap();
        assert_eq!(stdin["name"], "k8s-pod-network");
        assert_eq!(stdin["cniVersion"], "1.0.0");
        assert_eq!(stdin["snat"], true);
        assert_eq!(stdin["prevResult"]["cniVersion"], "1.0.0");
    }

    #[test]
    fn a_single_plugin_conf_is_a_list_of_one() {
        let conf = br#"{"cniVersion": "0.4.0", "name": "lo", "type": "loopback"}"#;
        let list = NetworkConfigList::from_bytes(conf).unwrap();
        assert_eq!((list.name.as_str(), list.cni_version.as_str(), list.plugins.len()), ("lo", "0.4.0", 1));
        assert_eq!(list.plugins[0].type_, "loopback");
    }

    #[test]
    fn bad_configurations_are_refused_with_the_specs_codes() {
        let code = |text: &str| NetworkConfigList::from_bytes(text.as_bytes()).unwrap_err().code;
        assert_eq!(code("{not json"), ErrorCode::Decode as u32);
        assert_eq!(code(r#"{"cniVersion": "1.0.0", "name": "-bad", "plugins": [{"type": "bridge"}]}"#), 7);
        assert_eq!(code(r#"{"cniVersion": "1.0.0", "name": "n", "plugins": []}"#), 7);
        assert_eq!(code(r#"{"cniVersion": "1.0.0", "name": "n", "plugins": [{"bridge": "x"}]}"#), 7);
        assert_eq!(code(r#"{"cniVersion": "one", "name": "n", "plugins": [{"type": "bridge"}]}"#), 1);
    }
}
