//! A complete CNI IPAM plugin in a few lines: it hands out the addresses
//! listed in its configuration (`ipam.addresses`), like the reference
//! `static` plugin.
//!
//! ```text
//! cargo build --release -p k-netplugin --example static-ipam
//! cp target/release/examples/static-ipam /opt/cni/bin/
//! ```
//!
//! then use `"ipam": {"type": "static-ipam", "addresses": [{"address": "10.10.0.5/24", "gateway": "10.10.0.1"}]}`
//! under the reference `bridge` plugin (or any plugin that delegates IPAM).

use async_trait::async_trait;
use k_netplugin::types::{CniError, CniResult, ErrorCode, IpConfig, PluginConf};
use k_netplugin::{Attachment, NetworkPlugin};

#[derive(Debug)]
struct StaticIpam;

#[async_trait]
impl NetworkPlugin for StaticIpam {
    async fn add(&self, conf: &PluginConf, _at: &Attachment) -> Result<CniResult, CniError> {
        let addresses = conf.ipam.as_ref().and_then(|ipam| ipam.get("addresses")).cloned().unwrap_or_default();
        let ips: Vec<IpConfig> = serde_json::from_value(addresses).map_err(|e| {
            CniError::new(ErrorCode::InvalidNetworkConfig, "ipam.addresses").with_details(e.to_string())
        })?;
        if ips.is_empty() {
            return Err(CniError::new(ErrorCode::InvalidNetworkConfig, "ipam.addresses is empty"));
        }
        Ok(CniResult { ips, ..CniResult::default() })
    }

    // Nothing was reserved, so there is nothing to release or check.
    async fn del(&self, _conf: &PluginConf, _at: &Attachment) -> Result<(), CniError> {
        Ok(())
    }

    async fn check(&self, _conf: &PluginConf, _at: &Attachment) -> Result<(), CniError> {
        Ok(())
    }
}

fn main() {
    k_netplugin::skel::run(StaticIpam)
}
