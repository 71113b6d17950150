//! The Success result of ADD, in every version k speaks.
//!
//! 0.3.x/0.4.0 and 1.x results differ in one field: before 1.0.0 each IP
//! carries `"version": "4"` or `"6"`. 1.1.0 adds optional route (`mtu`,
//! `advmss`, `priority`, `table`, `scope`) and interface (`mtu`,
//! `socketPath`, `pciID`) fields, kept as they are. 0.1.0/0.2.0 results
//! (`ip4`/`ip6`) are refused.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{CniError, ErrorCode, Version};

/// An interface the plugin created or configured.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Interface {
    /// Its name.
    pub name: String,
    /// Its hardware address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac: String,
    /// The namespace path it lives in (empty: the host).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sandbox: String,
    /// Every other key (1.1's `mtu`, `socketPath`, `pciID`, …), kept.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An address given to an interface.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpConfig {
    /// The address with its prefix, `10.1.0.5/24`.
    pub address: String,
    /// The default gateway, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// Index into the result's interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<usize>,
}

impl IpConfig {
    /// `"4"` or `"6"`, from the address.
    pub fn family(&self) -> &'static str {
        if self.address.contains(':') { "6" } else { "4" }
    }
}

/// A route.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    /// The destination, `0.0.0.0/0`.
    pub dst: String,
    /// The next hop (none: the interface's default gateway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw: Option<String>,
    /// Every other key (1.1's `mtu`, `advmss`, `priority`, `table`,
    /// `scope`), kept.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// DNS settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dns {
    /// Name servers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
    /// The local domain.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// Search domains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search: Vec<String>,
    /// Resolver options.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

impl Dns {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self == &Dns::default()
    }
}

/// A Success result, independent of the version it is written in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CniResult {
    /// The version it was read in, or is to be written in.
    #[serde(default)]
    pub cni_version: String,
    /// Interfaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<Interface>,
    /// Addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<IpConfig>,
    /// Routes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// DNS.
    #[serde(default, skip_serializing_if = "Dns::is_empty")]
    pub dns: Dns,
}

impl CniResult {
    /// Reads a result of any version from 0.3.0 on (`ips[].version` is
    /// dropped: it follows from the address).
    pub fn from_json(value: &Value) -> Result<Self, CniError> {
        if value.get("ip4").is_some() || value.get("ip6").is_some() {
            return Err(CniError::new(ErrorCode::IncompatibleVersion, "0.1.0/0.2.0 results are not supported"));
        }
        let mut value = value.clone();
        if let Some(ips) = value.get_mut("ips").and_then(Value::as_array_mut) {
            for ip in ips.iter_mut().filter_map(Value::as_object_mut) {
                ip.remove("version");
            }
        }
        let result: CniResult = serde_json::from_value(value)
            .map_err(|e| CniError::new(ErrorCode::Decode, "decoding the result").with_details(e.to_string()))?;
        if !result.cni_version.is_empty() {
            let version: Version = result.cni_version.parse()?;
            if version < Version::new(0, 3, 0) {
                return Err(CniError::new(
                    ErrorCode::IncompatibleVersion,
                    format!("results of version {version} are not supported"),
                ));
            }
        }
        Ok(result)
    }

    /// The result written in `version` (0.3.0 or later).
    pub fn to_json(&self, version: Version) -> Result<Value, CniError> {
        if version < Version::new(0, 3, 0) {
            return Err(CniError::new(ErrorCode::IncompatibleVersion, format!("cannot write a {version} result")));
        }
        let mut result = self.clone();
        result.cni_version = version.to_string();
        let mut value = serde_json::to_value(&result)
            .map_err(|e| CniError::new(ErrorCode::Decode, "encoding the result").with_details(e.to_string()))?;
        if version < Version::V1_0
            && let Some(ips) = value.get_mut("ips").and_then(Value::as_array_mut)
        {
            for (ip, config) in ips.iter_mut().zip(&self.ips) {
                if let Some(ip) = ip.as_object_mut() {
                    ip.insert("version".into(), Value::from(config.family()));
                }
            }
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn bridge_result_040() -> Value {
        json!({
            "cniVersion": "0.4.0",
            "interfaces": [
                {"name": "cni0", "mac": "0a:58:0a:01:00:01"},
                {"name": "veth1a2b", "mac": "6e:1d:4b:00:00:02"},
                {"name": "eth0", "mac": "0a:58:0a:01:00:05", "sandbox": "/run/netns/pod1"}
            ],
            "ips": [
                {"version": "4", "address": "10.1.0.5/24", "gateway": "10.1.0.1", "interface": 2},
                {"version": "6", "address": "fd00:1::5/64", "interface": 2}
            ],
            "routes": [{"dst": "0.0.0.0/0"}],
            "dns": {"nameservers": ["10.96.0.10"], "search": ["default.svc.cluster.local"]}
        })
    }

    #[test]
    fn converts_between_versions() {
        let result = CniResult::from_json(&bridge_result_040()).unwrap();
        assert_eq!(result.ips[0].address, "10.1.0.5/24");
        assert_eq!((result.ips[0].family(), result.ips[1].family()), ("4", "6"));
        let v1 = result.to_json(Version::V1_0).unwrap();
        assert_eq!(v1["cniVersion"], "1.0.0");
        assert!(v1["ips"][0].get("version").is_none(), "1.0.0 has no ips[].version");
        assert_eq!(v1["ips"][0], json!({"address": "10.1.0.5/24", "gateway": "10.1.0.1", "interface": 2}));
        let back = result.to_json(Version::V0_4).unwrap();
        assert_eq!(back, bridge_result_040(), "0.4.0 → model → 0.4.0 is exact");
        let old = result.to_json(Version::new(0, 3, 1)).unwrap();
        assert_eq!(old["ips"][1]["version"], "6");
    }

    #[test]
    fn keeps_1_1_fields_and_refuses_old_results() {
        let v11 = json!({
            "cniVersion": "1.1.0",
            "interfaces": [{"name": "eth0", "sandbox": "/run/netns/p", "mtu": 1450, "socketPath": "/run/vhost.sock"}],
            "ips": [{"address": "10.1.0.5/24", "interface": 0}],
            "routes": [{"dst": "10.2.0.0/16", "gw": "10.1.0.1", "mtu": 1400, "priority": 10, "table": 100, "scope": 0}]
        });
        let result = CniResult::from_json(&v11).unwrap();
        assert_eq!(result.routes[0].extra["table"], 100);
        assert_eq!(result.to_json(Version::V1_1).unwrap(), v11);
        let old = json!({"cniVersion": "0.2.0", "ip4": {"ip": "10.1.0.5/24"}});
        assert_eq!(CniResult::from_json(&old).unwrap_err().code, ErrorCode::IncompatibleVersion as u32);
        let garbage = json!({"cniVersion": "1.0.0", "ips": "nope"});
        assert_eq!(CniResult::from_json(&garbage).unwrap_err().code, ErrorCode::Decode as u32);
    }
}
