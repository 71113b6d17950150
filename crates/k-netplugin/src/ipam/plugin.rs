//! [`HostLocal`]: the IPAM plugin, host-local's commands over a
//! [`DiskStore`].

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::allocator::Allocator;
use super::config::IpamConfig;
use super::dns::read_resolv_conf;
use super::store::{DiskStore, Store};
use crate::plugin::{Attachment, GcAttachment, NetworkPlugin};
use crate::types::{CniError, CniResult, Dns, ErrorCode, PluginConf, VersionInfo};

/// The host-local compatible IPAM plugin.
///
/// `HostLocal::default()` is what the `k-host-local` binary runs: the data
/// directory comes from `ipam.dataDir`, else
/// [`DEFAULT_DATA_DIR`](super::DEFAULT_DATA_DIR).
#[derive(Debug, Default, Clone)]
pub struct HostLocal {
    /// The data directory used when the configuration names none (`None`:
    /// the reference's default).
    default_data_dir: Option<PathBuf>,
}

impl HostLocal {
    /// The plugin as the binary runs it.
    pub fn new() -> Self {
        HostLocal::default()
    }

    /// The plugin with `dir` as the data directory of configurations
    /// without `ipam.dataDir` (an in-process user's own state directory).
    pub fn with_default_data_dir(dir: impl Into<PathBuf>) -> Self {
        HostLocal { default_data_dir: Some(dir.into()) }
    }

    /// Reads the configuration, this plugin's default data directory
    /// applied.
    pub fn config(&self, conf: &PluginConf, cni_args: &[(String, String)]) -> Result<IpamConfig, CniError> {
        let mut cfg = IpamConfig::from_conf(conf, cni_args)?;
        if let Some(dir) = &self.default_data_dir
            && !IpamConfig::data_dir_given(conf)
        {
            cfg.data_dir.clone_from(dir);
        }
        Ok(cfg)
    }

    /// ADD, synchronously: one address per range set, released again if
    /// a later set (or a leftover requested address) fails.
    pub fn add_blocking(&self, conf: &PluginConf, at: &Attachment) -> Result<CniResult, CniError> {
        let cfg = self.config(conf, &at.args)?;
        let dns = match &cfg.resolv_conf {
            Some(path) => read_resolv_conf(path)?,
            None => Dns::default(),
        };
        let store = DiskStore::open(&cfg.data_dir, &cfg.network)?;
        let _lock = store.lock()?;
        let mut requested = cfg.requested_ips.clone();
        let mut taken = Vec::new();
        let mut ips = Vec::new();
        let undo = |taken: &[std::net::IpAddr]| {
            for ip in taken {
                // Best effort: the error being reported matters more.
                let _ = store.release(*ip);
            }
        };
        for (index, set) in cfg.ranges.iter().enumerate() {
            let wanted = requested.iter().position(|ip| set.contains(*ip)).map(|i| requested.remove(i));
            match Allocator::new(set, &store, index).get(&at.container_id, &at.ifname, wanted) {
                Ok(allocation) => {
                    taken.push(allocation.address);
                    ips.push(allocation.to_ip_config());
                }
                Err(mut e) => {
                    undo(&taken);
                    e.msg = format!("failed to allocate for range {index}: {}", e.msg);
                    return Err(e);
                }
            }
        }
        if !requested.is_empty() {
            undo(&taken);
            let left: Vec<String> = requested.iter().map(ToString::to_string).collect();
            return Err(CniError::new(
                ErrorCode::Generic,
                format!("failed to allocate all requested IPs: {}", left.join(" ")),
            ));
        }
        Ok(CniResult { cni_version: conf.cni_version.clone(), ips, routes: cfg.routes, dns, ..CniResult::default() })
    }

    /// DEL, synchronously: frees every address of the attachment; nothing
    /// to free is success.
    pub fn del_blocking(&self, conf: &PluginConf, at: &Attachment) -> Result<(), CniError> {
        let cfg = self.config(conf, &at.args)?;
        let store = DiskStore::open(&cfg.data_dir, &cfg.network)?;
        let _lock = store.lock()?;
        store.release_by_id(&at.container_id, &at.ifname)?;
        Ok(())
    }

    /// CHECK, synchronously: the attachment must hold an address.
    pub fn check_blocking(&self, conf: &PluginConf, at: &Attachment) -> Result<(), CniError> {
        let cfg = self.config(conf, &at.args)?;
        let store = DiskStore::open(&cfg.data_dir, &cfg.network)?;
        let _lock = store.lock()?;
        if store.get_by_id(&at.container_id, &at.ifname)?.is_empty() {
            return Err(CniError::new(
                ErrorCode::Generic,
                format!("host-local: Failed to find address added by container {}", at.container_id),
            ));
        }
        Ok(())
    }

    /// STATUS, synchronously: code 50 when the network's directory cannot
    /// be created or written.
    pub fn status_blocking(&self, conf: &PluginConf) -> Result<(), CniError> {
        let cfg = self.config(conf, &[])?;
        let unavailable = |e: CniError| {
            CniError::new(ErrorCode::NotAvailable, format!("data directory {} is not writable", cfg.data_dir.display()))
                .with_details(format!("{}: {}", e.msg, e.details))
        };
        let store = DiskStore::open(&cfg.data_dir, &cfg.network).map_err(unavailable)?;
        writable(store.dir()).map_err(unavailable)
    }

    /// GC, synchronously: frees the addresses whose owner is not in
    /// `valid` (an old-format file is kept while its container has any
    /// valid attachment).
    pub fn gc_blocking(&self, conf: &PluginConf, valid: &[GcAttachment]) -> Result<(), CniError> {
        let cfg = self.config(conf, &[])?;
        let store = DiskStore::open(&cfg.data_dir, &cfg.network)?;
        let _lock = store.lock()?;
        store.release_where(|owner| !valid.iter().any(|v| owner.matches(&v.container_id, &v.ifname)))?;
        Ok(())
    }
}

fn writable(dir: &Path) -> Result<(), CniError> {
    rustix::fs::access(dir, rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK).map_err(|e| {
        CniError::new(ErrorCode::Io, format!("{} is not writable", dir.display())).with_details(e.to_string())
    })
}

/// Runs `op` off the async runtime (the store's lock blocks), or right
/// here when there is no tokio runtime.
async fn blocking<T, F>(op: F) -> Result<T, CniError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, CniError> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle.spawn_blocking(op).await.map_err(|e| {
            CniError::new(ErrorCode::Generic, "the host-local operation did not finish").with_details(e.to_string())
        })?,
        Err(_) => op(),
    }
}

#[async_trait]
impl NetworkPlugin for HostLocal {
    async fn version(&self) -> Result<VersionInfo, CniError> {
        Ok(VersionInfo::k())
    }

    async fn add(&self, conf: &PluginConf, at: &Attachment) -> Result<CniResult, CniError> {
        let (me, conf, at) = (self.clone(), conf.clone(), at.clone());
        blocking(move || me.add_blocking(&conf, &at)).await
    }

    async fn del(&self, conf: &PluginConf, at: &Attachment) -> Result<(), CniError> {
        let (me, conf, at) = (self.clone(), conf.clone(), at.clone());
        blocking(move || me.del_blocking(&conf, &at)).await
    }

    async fn check(&self, conf: &PluginConf, at: &Attachment) -> Result<(), CniError> {
        let (me, conf, at) = (self.clone(), conf.clone(), at.clone());
        blocking(move || me.check_blocking(&conf, &at)).await
    }

    async fn status(&self, conf: &PluginConf, _path: &[PathBuf]) -> Result<(), CniError> {
        let (me, conf) = (self.clone(), conf.clone());
        blocking(move || me.status_blocking(&conf)).await
    }

    async fn gc(&self, conf: &PluginConf, valid: &[GcAttachment], _path: &[PathBuf]) -> Result<(), CniError> {
        let (me, conf, valid) = (self.clone(), conf.clone(), valid.to_vec());
        blocking(move || me.gc_blocking(&conf, &valid)).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::fs;
    use std::net::IpAddr;

    use serde_json::{Value, json};

    use super::*;
    use crate::types::{Route, Version};

    fn conf(data_dir: &Path, ipam: Value, extra: Value) -> PluginConf {
        let mut ipam = ipam;
        ipam["type"] = json!("host-local");
        ipam["dataDir"] = json!(data_dir);
        let mut value = json!({"cniVersion": "1.0.0", "name": "n1", "type": "host-local", "ipam": ipam});
        if let Value::Object(extra) = extra {
            value.as_object_mut().unwrap().extend(extra);
        }
        serde_json::from_value(value).unwrap()
    }

    fn at(id: &str, args: &str) -> Attachment {
        Attachment { args: Attachment::parse_args(args).unwrap(), ..Attachment::new(id, "/proc/self/ns/net", "eth0") }
    }

    fn files(dir: &Path) -> BTreeSet<String> {
        fs::read_dir(dir.join("n1")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect()
    }

    fn addresses(result: &CniResult) -> Vec<&str> {
        result.ips.iter().map(|ip| ip.address.as_str()).collect()
    }

    #[tokio::test]
    async fn add_del_check_with_ipv4_and_ipv6_sets() {
        let tmp = tempfile::tempdir().unwrap();
        let c = conf(
            tmp.path(),
            json!({"ranges": [[{"subnet": "10.9.0.0/24"}], [{"subnet": "fd00:9::/64"}]],
                   "routes": [{"dst": "0.0.0.0/0"}]}),
            json!({}),
        );
        let hl = HostLocal::default();
        let r = hl.add(&c, &at("a", "")).await.unwrap();
        assert_eq!(addresses(&r), ["10.9.0.2/24", "fd00:9::2/64"]);
        assert_eq!(r.ips[1].gateway.as_deref(), Some("fd00:9::1"));
        assert_eq!(r.ips[0].interface, None);
        assert_eq!(r.routes, [Route { dst: "0.0.0.0/0".into(), ..Route::default() }]);
        assert_eq!(r.to_json(Version::V0_4).unwrap()["ips"][1]["version"], "6");
        let r = hl.add(&c, &at("b", "")).await.unwrap();
        assert_eq!(addresses(&r), ["10.9.0.3/24", "fd00:9::3/64"]);
        hl.check(&c, &at("a", "")).await.unwrap();
        let e = hl.check(&c, &at("zz", "")).await.unwrap_err();
        assert_eq!((e.code, e.msg.as_str()), (999, "host-local: Failed to find address added by container zz"));
        let e = hl.add(&c, &at("a", "")).await.unwrap_err();
        assert_eq!(
            e.msg,
            "failed to allocate for range 0: 10.9.0.2 has been allocated to a, duplicate allocation is not allowed"
        );
        hl.del(&c, &at("a", "")).await.unwrap();
        hl.del(&c, &at("a", "")).await.unwrap();
        hl.del(&c, &at("never", "")).await.unwrap();
        assert!(hl.check(&c, &at("a", "")).await.is_err());
        let expected = ["10.9.0.3", "fd00:9::3", "last_reserved_ip.0", "last_reserved_ip.1", "lock"];
        assert_eq!(files(tmp.path()), expected.iter().map(|s| s.to_string()).collect());
        // DEL of a network never used creates the directory, as the reference does.
        let other = conf(&tmp.path().join("other"), json!({"ranges": [[{"subnet": "10.9.0.0/24"}]]}), json!({}));
        hl.del(&other, &at("a", "")).await.unwrap();
        assert!(tmp.path().join("other/n1/lock").exists());
    }

    #[tokio::test]
    async fn requested_ips_through_the_three_routes_and_leftovers_released() {
        let tmp = tempfile::tempdir().unwrap();
        let ranges = json!({"ranges": [[{"subnet": "10.9.0.0/24"}], [{"subnet": "fd00:9::/64"}]]});
        let hl = HostLocal::default();
        let c = conf(tmp.path(), ranges.clone(), json!({}));
        let r = hl.add(&c, &at("a", "IgnoreUnknown=1;K8S_POD_NAME=p;IP=10.9.0.50,fd00:9::50")).await.unwrap();
        assert_eq!(addresses(&r), ["10.9.0.50/24", "fd00:9::50/64"]);
        let c = conf(tmp.path(), ranges.clone(), json!({"args": {"cni": {"ips": ["fd00:9::60"]}}}));
        assert_eq!(addresses(&hl.add(&c, &at("b", "")).await.unwrap()), ["10.9.0.51/24", "fd00:9::60/64"]);
        let c = conf(tmp.path(), ranges.clone(), json!({"runtimeConfig": {"ips": ["10.9.0.70/24"]}}));
        assert_eq!(addresses(&hl.add(&c, &at("c", "")).await.unwrap()), ["10.9.0.70/24", "fd00:9::61/64"]);
        let before = files(tmp.path());
        let c = conf(tmp.path(), ranges.clone(), json!({"args": {"cni": {"ips": ["10.9.0.80", "10.9.0.81"]}}}));
        let e = hl.add(&c, &at("d", "")).await.unwrap_err();
        assert_eq!((e.code, e.msg.as_str()), (999, "failed to allocate all requested IPs: 10.9.0.81"));
        let after: BTreeSet<String> = files(tmp.path());
        assert_eq!(after, before, "what the failed ADD took was released");
        let c = conf(tmp.path(), ranges.clone(), json!({}));
        let e = hl.add(&c, &at("d", "IP=10.9.0.1")).await.unwrap_err();
        assert_eq!(e.msg, "failed to allocate for range 0: requested ip 10.9.0.1 is subnet's gateway");
        let e = hl.add(&c, &at("d", "IP=fd00:9::50")).await.unwrap_err();
        assert_eq!(
            e.msg,
            "failed to allocate for range 1: requested IP address fd00:9::50 is not available in range set fd00:9::1-fd00:9::ffff:ffff:ffff:ffff"
        );
        assert_eq!(files(tmp.path()), before, "set 0's address was given back");
        let e = hl.add(&c, &at("d", "FOO=1")).await.unwrap_err();
        assert_eq!(e.code, 4);
    }

    #[tokio::test]
    async fn a_failure_in_a_later_set_keeps_earlier_addresses_of_the_attachment() {
        // The reference releases everything of the id+ifname here, an
        // address of an earlier ADD included; we release what this ADD took.
        let tmp = tempfile::tempdir().unwrap();
        let hl = HostLocal::default();
        let one = conf(tmp.path(), json!({"ranges": [[{"subnet": "fd00:9::/64"}]]}), json!({}));
        hl.add(&one, &at("a", "")).await.unwrap();
        let two =
            conf(tmp.path(), json!({"ranges": [[{"subnet": "10.9.0.0/24"}], [{"subnet": "fd00:9::/64"}]]}), json!({}));
        let e = hl.add(&two, &at("a", "")).await.unwrap_err();
        assert!(e.msg.starts_with("failed to allocate for range 1: fd00:9::2 has been allocated to a"), "{e}");
        assert!(files(tmp.path()).contains("fd00:9::2"));
        assert!(!files(tmp.path()).contains("10.9.0.2"));
    }

    #[tokio::test]
    async fn resolv_conf_fills_dns_and_the_default_data_dir_override() {
        let tmp = tempfile::tempdir().unwrap();
        let resolv = tmp.path().join("resolv.conf");
        fs::write(&resolv, "nameserver 10.96.0.10\nsearch default.svc.cluster.local\noptions ndots:5\n").unwrap();
        let mut c = conf(tmp.path(), json!({"ranges": [[{"subnet": "10.9.0.0/24"}]], "resolvConf": resolv}), json!({}));
        c.ipam.as_mut().unwrap().as_object_mut().unwrap().remove("dataDir");
        let hl = HostLocal::with_default_data_dir(tmp.path().join("state"));
        let r = hl.add(&c, &at("a", "")).await.unwrap();
        assert_eq!(r.dns.nameservers, ["10.96.0.10"]);
        assert_eq!(r.dns.search, ["default.svc.cluster.local"]);
        assert_eq!(r.dns.options, ["ndots:5"]);
        assert_eq!(fs::read(tmp.path().join("state/n1/10.9.0.2")).unwrap(), b"a\r\neth0");
        c.ipam.as_mut().unwrap()["resolvConf"] = json!(tmp.path().join("missing"));
        assert_eq!(hl.add(&c, &at("b", "")).await.unwrap_err().code, 5);
    }

    #[tokio::test]
    async fn gc_frees_addresses_of_invalid_attachments_and_status() {
        let tmp = tempfile::tempdir().unwrap();
        let c =
            conf(tmp.path(), json!({"ranges": [[{"subnet": "10.9.0.0/24"}], [{"subnet": "fd00:9::/64"}]]}), json!({}));
        let hl = HostLocal::default();
        for id in ["a", "b", "c"] {
            hl.add(&c, &at(id, "")).await.unwrap();
        }
        fs::write(tmp.path().join("n1/10.9.0.99"), "b").unwrap(); // old format, container b
        fs::write(tmp.path().join("n1/10.9.0.98"), "z").unwrap(); // old format, gone
        let valid = [
            GcAttachment { container_id: "a".into(), ifname: "eth0".into() },
            GcAttachment { container_id: "b".into(), ifname: "eth1".into() },
        ];
        hl.gc(&c, &valid, &[]).await.unwrap();
        let left: Vec<IpAddr> = {
            let store = DiskStore::open(tmp.path(), "n1").unwrap();
            store.allocations().unwrap().into_iter().map(|(ip, _)| ip).collect()
        };
        let expect: Vec<IpAddr> = ["10.9.0.2", "10.9.0.99", "fd00:9::2"].iter().map(|s| s.parse().unwrap()).collect();
        assert_eq!(left, expect, "a's addresses and b's old-format file stay");
        hl.status(&c, &[]).await.unwrap();
        let file = tmp.path().join("file");
        fs::write(&file, "").unwrap();
        let bad = conf(&file, json!({"ranges": [[{"subnet": "10.9.0.0/24"}]]}), json!({}));
        assert_eq!(hl.status(&bad, &[]).await.unwrap_err().code, 50);
        let invalid = conf(tmp.path(), json!({"ranges": []}), json!({}));
        assert_eq!(hl.status(&invalid, &[]).await.unwrap_err().code, 7);
        assert_eq!(hl.version().await.unwrap(), VersionInfo::k());
    }

    #[tokio::test]
    async fn exhaustion_wrap_and_gateway_skip() {
        let tmp = tempfile::tempdir().unwrap();
        let c = conf(
            tmp.path(),
            json!({"ranges": [[{"subnet": "10.9.0.0/29", "rangeStart": "10.9.0.3", "rangeEnd": "10.9.0.5", "gateway": "10.9.0.4"},
                               {"subnet": "10.9.1.0/30"}]]}),
            json!({}),
        );
        let hl = HostLocal::default();
        let mut got = Vec::new();
        for i in 1..=3 {
            got.push(hl.add(&c, &at(&format!("c{i}"), "")).await.unwrap().ips[0].clone());
        }
        assert_eq!(
            got.iter().map(|ip| ip.address.as_str()).collect::<Vec<_>>(),
            ["10.9.0.3/29", "10.9.0.5/29", "10.9.1.2/30"]
        );
        assert_eq!(got[2].gateway.as_deref(), Some("10.9.1.1"));
        let e = hl.add(&c, &at("c4", "")).await.unwrap_err();
        assert_eq!(
            (e.code, e.msg.as_str()),
            (
                999,
                "failed to allocate for range 0: no IP addresses available in range set: 10.9.0.3-10.9.0.5,10.9.1.1-10.9.1.2"
            )
        );
        hl.del(&c, &at("c1", "")).await.unwrap();
        assert_eq!(hl.add(&c, &at("c5", "")).await.unwrap().ips[0].address, "10.9.0.3/29");
    }

    #[test]
    fn works_without_a_tokio_runtime() {
        let tmp = tempfile::tempdir().unwrap();
        let c = conf(tmp.path(), json!({"ranges": [[{"subnet": "10.9.0.0/24"}]]}), json!({}));
        let hl = HostLocal::default();
        let result = futures_lite_block_on(hl.add(&c, &at("a", "")));
        assert_eq!(result.unwrap().ips[0].address, "10.9.0.2/24");
    }

    /// A minimal executor: the future only waits on nothing when no tokio
    /// runtime is around.
    fn futures_lite_block_on<F: std::future::Future>(future: F) -> F::Output {
        use std::task::{Context, Poll, Waker};
        let mut future = std::pin::pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
        }
    }
}
