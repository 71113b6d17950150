//! The IPAM configuration as host-local reads it: the plugin
//! configuration's `ipam` object, `runtimeConfig` (`ipRanges`, `ips`),
//! `args.cni.ips` and the `IP` key of `CNI_ARGS`.

use std::net::IpAddr;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

use super::range::{IpPrefix, RangeSet, RangeSpec, parse_ip};
use crate::types::{CniError, ErrorCode, PluginConf, Route};

/// Where host-local keeps its data when `ipam.dataDir` is not given.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/cni/networks";

/// host-local's configuration, checked and with everything folded in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpamConfig {
    /// The network's name (the configuration's `name`): the data
    /// directory's subdirectory.
    pub network: String,
    /// The configuration's `cniVersion`.
    pub cni_version: String,
    /// The range sets, one address taken from each: `runtimeConfig.ipRanges`,
    /// then the legacy top-level range, then `ranges`.
    pub ranges: Vec<RangeSet>,
    /// Routes copied into the result.
    pub routes: Vec<Route>,
    /// `dataDir`, or the default.
    pub data_dir: PathBuf,
    /// `resolvConf`: a resolv.conf whose settings become the result's `dns`.
    pub resolv_conf: Option<PathBuf>,
    /// Requested addresses, in order: `CNI_ARGS` `IP`, `args.cni.ips`,
    /// `runtimeConfig.ips`; duplicates dropped.
    pub requested_ips: Vec<IpAddr>,
}

/// The `ipam` object as written.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawIpam {
    /// The legacy single range at the top level.
    #[serde(flatten)]
    legacy: RangeSpec,
    #[serde(default)]
    ranges: Option<Vec<Vec<RangeSpec>>>,
    #[serde(default)]
    routes: Option<Vec<Route>>,
    #[serde(default)]
    data_dir: Option<String>,
    #[serde(default)]
    resolv_conf: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRuntimeConfig {
    #[serde(default)]
    ip_ranges: Option<Vec<Vec<RangeSpec>>>,
    #[serde(default)]
    ips: Option<Vec<String>>,
}

fn invalid(msg: impl Into<String>) -> CniError {
    CniError::new(ErrorCode::InvalidNetworkConfig, msg)
}

fn decode<T: for<'de> Deserialize<'de> + Default>(what: &str, value: Option<&Value>) -> Result<T, CniError> {
    match value {
        None | Some(Value::Null) => Ok(T::default()),
        Some(value) => serde_json::from_value(value.clone())
            .map_err(|e| invalid(format!("invalid {what}")).with_details(e.to_string())),
    }
}

fn args_error(msg: impl Into<String>) -> CniError {
    CniError::new(ErrorCode::InvalidEnvironment, format!("ARGS: {}", msg.into()))
}

/// The addresses requested through `CNI_ARGS`: `IP=<ip>[,<ip>…]` (each
/// plain or with a prefix length; empty: none). `IgnoreUnknown` takes
/// `1`/`true`/`0`/`false` in any case; any other key (`K8S_POD_NAME`, …) is
/// a code-4 error unless `IgnoreUnknown` is true, in which case it is
/// ignored — as the reference does.
pub fn ips_from_cni_args(args: &[(String, String)]) -> Result<Vec<IpAddr>, CniError> {
    let mut ignore_unknown = false;
    for (key, value) in args.iter().filter(|(k, _)| k == "IgnoreUnknown") {
        ignore_unknown = match value.to_ascii_lowercase().as_str() {
            "1" | "true" => true,
            "0" | "false" => false,
            _ => {
                return Err(args_error(format!(
                    "error parsing value of pair \"{key}={value}\": boolean unmarshal error: invalid input {value}"
                )));
            }
        };
    }
    let mut ips = Vec::new();
    let mut unknown = Vec::new();
    for (key, value) in args {
        match key.as_str() {
            "IgnoreUnknown" => {}
            "IP" => {
                for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let ip = parse_ip(part).map_err(|_| {
                        args_error(format!("error parsing value of pair \"{key}={value}\": invalid IP address {part}"))
                    })?;
                    ips.push(ip);
                }
            }
            _ => unknown.push(format!("{:?}", format!("{key}={value}"))),
        }
    }
    if !unknown.is_empty() && !ignore_unknown {
        return Err(args_error(format!("unknown args [{}]", unknown.join(" "))));
    }
    Ok(ips)
}

fn range_sets(specs: Vec<Vec<RangeSpec>>, offset: usize) -> Result<Vec<RangeSet>, CniError> {
    specs
        .iter()
        .enumerate()
        .map(|(i, set)| {
            RangeSet::from_specs(set)
                .map_err(|e| invalid(format!("invalid range set {}: {}", i + offset, e.msg)).with_details(e.details))
        })
        .collect()
}

fn check_route(route: &Route) -> Result<(), CniError> {
    route.dst.parse::<IpPrefix>().map_err(|_| invalid(format!("invalid route destination {:?}", route.dst)))?;
    if let Some(gw) = &route.gw {
        gw.parse::<IpAddr>().map_err(|_| invalid(format!("invalid route gateway {gw:?}")))?;
    }
    Ok(())
}

/// Whether `name` can name the network's directory: not empty, not `.`
/// or `..`, no `/` and no NUL.
fn usable_network_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

impl IpamConfig {
    /// Reads the configuration of a host-local call: `conf` as given on
    /// stdin and the `CNI_ARGS` pairs (empty for STATUS and GC).
    ///
    /// Errors: code 7 for a missing `ipam`, no ranges, a bad range,
    /// overlapping range sets, a bad route or requested address in the
    /// configuration; code 4 for bad `CNI_ARGS` (see [`ips_from_cni_args`]).
    pub fn from_conf(conf: &PluginConf, cni_args: &[(String, String)]) -> Result<Self, CniError> {
        let Some(ipam) = conf.ipam.as_ref() else {
            return Err(invalid("IPAM config missing 'ipam' key"));
        };
        if !usable_network_name(&conf.name) {
            return Err(invalid(format!("invalid network name {:?}", conf.name)));
        }
        let raw: RawIpam = decode("ipam configuration", Some(ipam))?;
        let runtime: RawRuntimeConfig = decode("runtimeConfig", conf.runtime_config.as_ref())?;
        let cni_ips: Option<Vec<String>> =
            decode("args.cni.ips", conf.args.as_ref().and_then(|a| a.get("cni")).and_then(|c| c.get("ips")))?;

        let mut requested = ips_from_cni_args(cni_args)?;
        for text in cni_ips.iter().flatten().chain(runtime.ips.iter().flatten()) {
            requested.push(parse_ip(text).map_err(|e| invalid(format!("cannot understand ip: {}", e.msg)))?);
        }
        let mut requested_ips: Vec<IpAddr> = Vec::with_capacity(requested.len());
        for ip in requested {
            if !requested_ips.contains(&ip) {
                requested_ips.push(ip);
            }
        }

        let mut specs: Vec<Vec<RangeSpec>> = runtime.ip_ranges.unwrap_or_default();
        if !raw.legacy.subnet.is_empty() {
            specs.push(vec![raw.legacy.clone()]);
        }
        specs.extend(raw.ranges.unwrap_or_default());
        if specs.is_empty() {
            return Err(invalid("no IP ranges specified"));
        }
        let ranges = range_sets(specs, 0)?;
        for (i, a) in ranges.iter().enumerate() {
            if let Some(j) = ranges[i + 1..].iter().position(|b| a.overlaps(b)) {
                return Err(invalid(format!("range set {i} overlaps with {}", i + 1 + j)));
            }
        }

        let routes = raw.routes.unwrap_or_default();
        routes.iter().try_for_each(check_route)?;
        Ok(IpamConfig {
            network: conf.name.clone(),
            cni_version: conf.cni_version.clone(),
            ranges,
            routes,
            data_dir: PathBuf::from(raw.data_dir.filter(|d| !d.is_empty()).unwrap_or_else(|| DEFAULT_DATA_DIR.into())),
            resolv_conf: raw.resolv_conf.filter(|r| !r.is_empty()).map(PathBuf::from),
            requested_ips,
        })
    }

    /// Whether `ipam.dataDir` was given; [`IpamConfig::from_conf`] puts
    /// [`DEFAULT_DATA_DIR`] in `data_dir` otherwise.
    pub fn data_dir_given(conf: &PluginConf) -> bool {
        conf.ipam.as_ref().and_then(|ipam| ipam.get("dataDir")).and_then(Value::as_str).is_some_and(|d| !d.is_empty())
    }

    /// The network's directory: `<dataDir>/<network>`.
    pub fn network_dir(&self) -> PathBuf {
        self.data_dir.join(&self.network)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn conf(value: Value) -> PluginConf {
        serde_json::from_value(value).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn args(text: &str) -> Vec<(String, String)> {
        crate::plugin::Attachment::parse_args(text).unwrap()
    }

    #[test]
    fn legacy_range_runtime_ranges_and_defaults() {
        let c = conf(json!({
            "cniVersion": "1.0.0", "name": "n1", "type": "bridge",
            "ipam": {"type": "host-local", "subnet": "10.5.0.0/24", "rangeStart": "10.5.0.10", "gateway": "10.5.0.254",
                     "ranges": [[{"subnet": "10.6.0.0/24"}], [{"subnet": "fd00::/64"}]],
                     "routes": [{"dst": "0.0.0.0/0"}, {"dst": "10.0.0.0/8", "gw": "10.5.0.254"}],
                     "unknown": "ignored"},
            "runtimeConfig": {"ipRanges": [[{"subnet": "10.20.0.0/24"}]]}
        }));
        let cfg = IpamConfig::from_conf(&c, &[]).unwrap();
        let sets: Vec<String> = cfg.ranges.iter().map(ToString::to_string).collect();
        assert_eq!(
            sets,
            [
                "10.20.0.1-10.20.0.254",
                "10.5.0.10-10.5.0.254",
                "10.6.0.1-10.6.0.254",
                "fd00::1-fd00::ffff:ffff:ffff:ffff"
            ]
        );
        assert_eq!(cfg.ranges[1].ranges()[0].gateway, ip("10.5.0.254"));
        assert_eq!(cfg.routes[1].gw.as_deref(), Some("10.5.0.254"));
        assert_eq!(cfg.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert!(!IpamConfig::data_dir_given(&c));
        assert_eq!(cfg.network_dir(), PathBuf::from("/var/lib/cni/networks/n1"));
        assert_eq!(cfg.resolv_conf, None);
        assert!(cfg.requested_ips.is_empty());
    }

    #[test]
    fn requested_ips_from_the_three_routes() {
        let c = conf(json!({
            "cniVersion": "1.0.0", "name": "n1", "type": "host-local",
            "ipam": {"type": "host-local", "dataDir": "/tmp/d", "resolvConf": "/etc/r",
                     "ranges": [[{"subnet": "10.9.0.0/24"}], [{"subnet": "fd00:9::/64"}]]},
            "args": {"cni": {"ips": ["fd00:9::60", "10.9.0.50"]}},
            "runtimeConfig": {"ips": ["10.9.0.70/24"]}
        }));
        let cfg = IpamConfig::from_conf(&c, &args("IgnoreUnknown=1;K8S_POD_NAME=p;IP=10.9.0.50,10.9.0.51")).unwrap();
        assert_eq!(cfg.requested_ips, [ip("10.9.0.50"), ip("10.9.0.51"), ip("fd00:9::60"), ip("10.9.0.70")]);
        assert_eq!(cfg.data_dir, PathBuf::from("/tmp/d"));
        assert!(IpamConfig::data_dir_given(&c));
        assert_eq!(cfg.resolv_conf, Some(PathBuf::from("/etc/r")));
    }

    #[test]
    fn cni_args_like_the_reference() {
        assert_eq!(ips_from_cni_args(&args("IP=10.9.0.50")).unwrap(), [ip("10.9.0.50")]);
        assert!(ips_from_cni_args(&args("IP=")).unwrap().is_empty());
        assert!(ips_from_cni_args(&args("IgnoreUnknown=True;FOO=x")).unwrap().is_empty());
        let e = ips_from_cni_args(&args("K8S_POD_NAME=x;IP=10.9.0.52")).unwrap_err();
        assert_eq!((e.code, e.msg.as_str()), (4, "ARGS: unknown args [\"K8S_POD_NAME=x\"]"));
        let e = ips_from_cni_args(&args("IgnoreUnknown=0;FOO=x;ip=1")).unwrap_err();
        assert_eq!(e.msg, "ARGS: unknown args [\"FOO=x\" \"ip=1\"]", "keys are case-sensitive");
        let e = ips_from_cni_args(&args("IgnoreUnknown=yes")).unwrap_err();
        assert_eq!(
            e.msg,
            "ARGS: error parsing value of pair \"IgnoreUnknown=yes\": boolean unmarshal error: invalid input yes"
        );
        let e = ips_from_cni_args(&args("IP=zzz")).unwrap_err();
        assert_eq!(
            (e.code, e.msg.as_str()),
            (4, "ARGS: error parsing value of pair \"IP=zzz\": invalid IP address zzz")
        );
    }

    #[test]
    fn invalid_configurations_are_code_7() {
        let err = |ipam: Value| {
            let c = conf(json!({"cniVersion": "1.0.0", "name": "n1", "type": "host-local", "ipam": ipam}));
            let e = IpamConfig::from_conf(&c, &[]).unwrap_err();
            assert_eq!(e.code, 7, "{e}");
            e.msg
        };
        assert_eq!(err(json!({"type": "host-local"})), "no IP ranges specified");
        assert_eq!(err(json!({"ranges": [[]]})), "invalid range set 0: empty range set");
        assert_eq!(
            err(json!({"ranges": [[{"subnet": "10.9.2.0/24"}], [{"subnet": "10.9.2.128/25"}]]})),
            "range set 0 overlaps with 1"
        );
        assert_eq!(
            err(json!({"ranges": [[{"subnet": "10.9.0.0/24"}], [{"subnet": "10.9.0.0/31"}]]})),
            "invalid range set 1: Network 10.9.0.0/31 too small to allocate from"
        );
        assert_eq!(
            err(json!({"ranges": [[{"subnet": "10.9.2.0/33"}]]})),
            "invalid range set 0: invalid CIDR address: 10.9.2.0/33"
        );
        assert_eq!(err(json!({"ranges": "x"})), "invalid ipam configuration");
        assert_eq!(
            err(json!({"ranges": [[{"subnet": "10.9.2.0/24"}]], "routes": [{"dst": "nope"}]})),
            "invalid route destination \"nope\""
        );
        let c = conf(json!({"cniVersion": "1.0.0", "name": "n1", "type": "host-local"}));
        assert_eq!(IpamConfig::from_conf(&c, &[]).unwrap_err().msg, "IPAM config missing 'ipam' key");
        let c = conf(json!({"cniVersion": "1.0.0", "name": "../x", "type": "host-local",
                            "ipam": {"ranges": [[{"subnet": "10.9.2.0/24"}]]}}));
        assert_eq!(IpamConfig::from_conf(&c, &[]).unwrap_err().code, 7);
        let c = conf(json!({"cniVersion": "1.0.0", "name": "n", "type": "host-local",
                            "ipam": {"ranges": [[{"subnet": "10.9.2.0/24"}]]}, "runtimeConfig": {"ips": ["x"]}}));
        assert_eq!(IpamConfig::from_conf(&c, &[]).unwrap_err().msg, "cannot understand ip: invalid IP address x");
    }
}
