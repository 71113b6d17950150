//! The one interface every CNI plugin has in k: [`NetworkPlugin`].
//!
//! A plugin written in Rust implements it and becomes a binary through
//! [`crate::skel::run`]; a plugin binary on disk is driven through the same
//! trait by [`crate::exec::ExternalPlugin`]; and the executor runs chains of
//! either kind.

use std::fmt::Debug;
use std::path::PathBuf;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::types::{CniError, CniResult, ErrorCode, PluginConf, VersionInfo};

/// What a runtime tells a plugin about one attachment: the `CNI_*`
/// variables other than the command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attachment {
    /// `CNI_CONTAINERID`.
    pub container_id: String,
    /// `CNI_NETNS`: the namespace's path; may be absent on DEL.
    pub netns: Option<PathBuf>,
    /// `CNI_IFNAME`: the interface inside the namespace.
    pub ifname: String,
    /// `CNI_ARGS` (`K=V;K=V`), in order.
    pub args: Vec<(String, String)>,
    /// `CNI_PATH`: where plugins (for example a delegated IPAM) are found.
    pub path: Vec<PathBuf>,
}

impl Attachment {
    /// An attachment of `container_id`'s `ifname` in the namespace at `netns`.
    pub fn new(container_id: impl Into<String>, netns: impl Into<PathBuf>, ifname: impl Into<String>) -> Self {
        Attachment {
            container_id: container_id.into(),
            netns: Some(netns.into()),
            ifname: ifname.into(),
            ..Attachment::default()
        }
    }

    /// The value of `CNI_ARGS` key `key`, if given.
    pub fn arg(&self, key: &str) -> Option<&str> {
        self.args.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// `CNI_ARGS` as the variable's text: `K=V;K=V`.
    pub fn args_string(&self) -> String {
        self.args.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(";")
    }

    /// Parses `CNI_ARGS` text; an element without `=` is a code-4 error.
    pub fn parse_args(text: &str) -> Result<Vec<(String, String)>, CniError> {
        text.split(';')
            .filter(|part| !part.is_empty())
            .map(|part| match part.split_once('=') {
                Some((k, v)) => Ok((k.to_string(), v.to_string())),
                None => Err(CniError::new(ErrorCode::InvalidEnvironment, format!("invalid CNI_ARGS pair {part:?}"))),
            })
            .collect()
    }
}

/// An attachment that is still in use, as GC's `cni.dev/valid-attachments`
/// names it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GcAttachment {
    /// The container's id.
    #[serde(rename = "containerID")]
    pub container_id: String,
    /// The interface name.
    pub ifname: String,
}

/// A CNI plugin: written in Rust, or a binary on disk driven through
/// [`crate::exec::ExternalPlugin`].
///
/// `conf` is the plugin's configuration as it arrives on stdin (the list's
/// `name` and `cniVersion` set, `prevResult` for chained plugins); a result
/// is returned as a [`CniResult`] and written in `conf.cni_version` by
/// whoever prints it.
#[async_trait]
pub trait NetworkPlugin: Send + Sync + Debug {
    /// VERSION: the versions the plugin speaks.
    async fn version(&self) -> Result<VersionInfo, CniError> {
        Ok(VersionInfo::k())
    }

    /// ADD: attach the container to the network.
    async fn add(&self, conf: &PluginConf, at: &Attachment) -> Result<CniResult, CniError>;

    /// DEL: release what ADD created; must succeed when repeated or when
    /// ADD never ran.
    async fn del(&self, conf: &PluginConf, at: &Attachment) -> Result<(), CniError>;

    /// CHECK: whether the attachment is still as ADD left it
    /// (`conf.prev_result` holds ADD's result).
    async fn check(&self, conf: &PluginConf, at: &Attachment) -> Result<(), CniError>;

    /// STATUS (1.1.0): whether the plugin is ready to ADD
    /// (codes 50 and 51 when not).
    async fn status(&self, _conf: &PluginConf, _path: &[PathBuf]) -> Result<(), CniError> {
        Ok(())
    }

    /// GC (1.1.0): release everything not held by one of `valid`.
    async fn gc(&self, _conf: &PluginConf, _valid: &[GcAttachment], _path: &[PathBuf]) -> Result<(), CniError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cni_args_round_trip_and_bad_pairs_are_code_4() {
        let args = Attachment::parse_args("IgnoreUnknown=1;IP=10.1.0.9;K8S_POD_NAME=a=b").unwrap();
        assert_eq!(args[2], ("K8S_POD_NAME".to_string(), "a=b".to_string()));
        let at = Attachment { args, ..Attachment::default() };
        assert_eq!(at.arg("IP"), Some("10.1.0.9"));
        assert_eq!(at.args_string(), "IgnoreUnknown=1;IP=10.1.0.9;K8S_POD_NAME=a=b");
        assert_eq!(Attachment::parse_args("A=1;junk").unwrap_err().code, 4);
    }
}
