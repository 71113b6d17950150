//! `k-cni-testplugin`: a chained CNI plugin for k's tests, built on the
//! skeleton. It passes `prevResult` on with one DNS search domain added
//! (`searchDomain`, default `k.test`), appends `<COMMAND> <containerID>
//! <ifname>` (after `tag`, when set) to `logFile` for every call, and fails when `failOn` names
//! the command (code 100, details naming the plugin).

use std::io::Write;
use std::path::PathBuf;

use async_trait::async_trait;
use k_netplugin::types::{CniError, CniResult, PluginConf};
use k_netplugin::{Attachment, GcAttachment, NetworkPlugin};

#[derive(Debug)]
struct TestPlugin;

impl TestPlugin {
    fn record(&self, conf: &PluginConf, command: &str, at: Option<&Attachment>) -> Result<(), CniError> {
        if let Some(log) = conf.extra.get("logFile").and_then(|v| v.as_str()) {
            let tag = conf.extra.get("tag").and_then(|v| v.as_str()).map(|t| format!("{t} ")).unwrap_or_default();
            let line = match at {
                Some(at) => format!("{tag}{command} {} {}\n", at.container_id, at.ifname),
                None => format!("{tag}{command}\n"),
            };
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .and_then(|mut f| f.write_all(line.as_bytes()))
                .map_err(|e| CniError::custom(5, format!("writing {log}")).with_details(e.to_string()))?;
        }
        if conf.extra.get("failOn").and_then(|v| v.as_str()) == Some(command) {
            return Err(
                CniError::custom(100, format!("asked to fail on {command}")).with_details("k-cni-testplugin: failOn")
            );
        }
        Ok(())
    }
}

#[async_trait]
impl NetworkPlugin for TestPlugin {
    async fn add(&self, conf: &PluginConf, at: &Attachment) -> Result<CniResult, CniError> {
        self.record(conf, "ADD", Some(at))?;
        let mut result = match &conf.prev_result {
            Some(prev) => CniResult::from_json(prev)?,
            None => CniResult::default(),
        };
        let domain = conf.extra.get("searchDomain").and_then(|v| v.as_str()).unwrap_or("k.test");
        result.dns.search.push(domain.to_string());
        Ok(result)
    }

    async fn del(&self, conf: &PluginConf, at: &Attachment) -> Result<(), CniError> {
        self.record(conf, "DEL", Some(at))
    }

    async fn check(&self, conf: &PluginConf, at: &Attachment) -> Result<(), CniError> {
        self.record(conf, "CHECK", Some(at))?;
        match &conf.prev_result {
            Some(_) => Ok(()),
            None => Err(CniError::custom(101, "CHECK without prevResult")),
        }
    }

    async fn status(&self, conf: &PluginConf, _path: &[PathBuf]) -> Result<(), CniError> {
        self.record(conf, "STATUS", None)
    }

    async fn gc(&self, conf: &PluginConf, valid: &[GcAttachment], _path: &[PathBuf]) -> Result<(), CniError> {
        self.record(conf, &format!("GC {}", valid.len()), None)
    }
}

fn main() {
    k_netplugin::skel::run(TestPlugin)
}
