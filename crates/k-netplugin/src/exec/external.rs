//! A plugin binary on disk, driven through [`NetworkPlugin`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::{Exec, ExecError, ProcessExec};
use crate::plugin::{Attachment, GcAttachment, NetworkPlugin};
use crate::types::{CniError, CniResult, ErrorCode, PluginConf, VersionInfo};

/// A CNI plugin binary. Through [`NetworkPlugin`] its failures are
/// [`CniError`]s; [`ExternalPlugin::invoke`] keeps the richer
/// [`ExecError`] (stderr, timeouts) the executor reports.
#[derive(Clone, Debug)]
pub struct ExternalPlugin {
    binary: PathBuf,
    plugin_type: String,
    exec: Arc<dyn Exec>,
    timeout: Option<Duration>,
}

impl ExternalPlugin {
    /// The binary at `binary`, run as a child process.
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        let binary = binary.into();
        let plugin_type = binary.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        ExternalPlugin { binary, plugin_type, exec: Arc::new(ProcessExec::new()), timeout: None }
    }

    /// Runs it through `exec` instead.
    #[must_use]
    pub fn with_exec(mut self, exec: Arc<dyn Exec>) -> Self {
        self.exec = exec;
        self
    }

    /// Kills a call after `timeout`.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// The binary's path.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// Runs `command` with `stdin` and the attachment's variables. Returns
    /// the plugin's stdout parsed as JSON (`None` when it printed nothing).
    pub async fn invoke(
        &self,
        command: &str,
        stdin: &[u8],
        at: Option<&Attachment>,
        path: &[PathBuf],
    ) -> Result<Option<Value>, ExecError> {
        let mut env = vec![("CNI_COMMAND".to_string(), command.to_string())];
        if let Some(at) = at {
            env.push(("CNI_CONTAINERID".into(), at.container_id.clone()));
            env.push(("CNI_NETNS".into(), at.netns.as_ref().map(|p| p.display().to_string()).unwrap_or_default()));
            env.push(("CNI_IFNAME".into(), at.ifname.clone()));
            env.push(("CNI_ARGS".into(), at.args_string()));
        }
        let joined = std::env::join_paths(path).map_err(|e| {
            ExecError::Config(
                CniError::new(ErrorCode::InvalidEnvironment, "invalid CNI_PATH").with_details(e.to_string()),
            )
        })?;
        env.push(("CNI_PATH".into(), joined.to_string_lossy().into_owned()));
        let output = self.exec.run(&self.binary, &env, stdin, self.timeout).await?;
        let Some(output) = output else {
            return Err(ExecError::Timeout {
                plugin: self.plugin_type.clone(),
                command: command.to_string(),
                after: self.timeout.unwrap_or_default(),
            });
        };
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.success {
            let error = serde_json::from_str::<CniError>(&stdout).unwrap_or_else(|_| {
                let text = if stdout.trim().is_empty() { stderr.trim() } else { stdout.trim() };
                CniError::custom(
                    ErrorCode::Generic as u32,
                    format!("plugin exited with an error and no Error JSON: {text}"),
                )
            });
            return Err(ExecError::Plugin {
                plugin: self.plugin_type.clone(),
                command: command.to_string(),
                error: Box::new(error),
                stderr,
            });
        }
        if stdout.trim().is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&stdout).map(Some).map_err(|e| ExecError::Plugin {
            plugin: self.plugin_type.clone(),
            command: command.to_string(),
            error: Box::new(
                CniError::new(ErrorCode::Decode, "the plugin's output is not JSON").with_details(e.to_string()),
            ),
            stderr,
        })
    }
}

fn to_cni(error: ExecError) -> CniError {
    match error {
        ExecError::Plugin { error, .. } => *error,
        ExecError::Config(error) => error,
        other => CniError::custom(other.code(), other.to_string()),
    }
}

fn stdin_of(conf: &PluginConf) -> Result<Vec<u8>, CniError> {
    serde_json::to_vec(conf).map_err(|e| {
        CniError::new(ErrorCode::Decode, "encoding the plugin's configuration").with_details(e.to_string())
    })
}

#[async_trait]
impl NetworkPlugin for ExternalPlugin {
    async fn version(&self) -> Result<VersionInfo, CniError> {
        let out = self.invoke("VERSION", br#"{"cniVersion":"0.4.0"}"#, None, &[]).await.map_err(to_cni)?;
        let out = out.ok_or_else(|| CniError::new(ErrorCode::Decode, "VERSION printed nothing"))?;
        serde_json::from_value(out)
            .map_err(|e| CniError::new(ErrorCode::Decode, "decoding VERSION").with_details(e.to_string()))
    }

    async fn add(&self, conf: &PluginConf, at: &Attachment) -> Result<CniResult, CniError> {
        let out = self.invoke("ADD", &stdin_of(conf)?, Some(at), &at.path).await.map_err(to_cni)?;
        CniResult::from_json(&out.unwrap_or(Value::Null))
    }

    async fn del(&self, conf: &PluginConf, at: &Attachment) -> Result<(), CniError> {
        self.invoke("DEL", &stdin_of(conf)?, Some(at), &at.path).await.map(drop).map_err(to_cni)
    }

    async fn check(&self, conf: &PluginConf, at: &Attachment) -> Result<(), CniError> {
        self.invoke("CHECK", &stdin_of(conf)?, Some(at), &at.path).await.map(drop).map_err(to_cni)
    }

    async fn status(&self, conf: &PluginConf, path: &[PathBuf]) -> Result<(), CniError> {
        self.invoke("STATUS", &stdin_of(conf)?, None, path).await.map(drop).map_err(to_cni)
    }

    async fn gc(&self, conf: &PluginConf, valid: &[GcAttachment], path: &[PathBuf]) -> Result<(), CniError> {
        let mut conf = conf.clone();
        let list = serde_json::to_value(valid).map_err(|e| CniError::new(ErrorCode::Decode, e.to_string()))?;
        // libcni sends the list under both names the spec has used.
        conf.extra.insert("cni.dev/valid-attachments".into(), list.clone());
        conf.extra.insert("cni.dev/attachments".into(), list);
        self.invoke("GC", &stdin_of(&conf)?, None, path).await.map(drop).map_err(to_cni)
    }
}
