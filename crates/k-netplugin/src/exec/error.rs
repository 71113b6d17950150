//! What can go wrong running a plugin.

use std::path::PathBuf;
use std::time::Duration;

use crate::types::{CniError, ErrorCode};

/// An error from the executor: a plugin's own Error JSON (with the plugin
/// and command it came from and its stderr), or a failure to run it.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The plugin ran and answered with an Error.
    #[error("plugin {plugin} failed on {command}: {error}{}", stderr_suffix(stderr))]
    Plugin {
        /// The plugin's type.
        plugin: String,
        /// The CNI command.
        command: String,
        /// Its Error (code, msg, details).
        error: Box<CniError>,
        /// What it wrote on stderr.
        stderr: String,
    },
    /// No binary of that name on `CNI_PATH`.
    #[error("failed to find plugin {plugin:?} in path {path:?}")]
    NotFound {
        /// The plugin's type.
        plugin: String,
        /// Where it was looked for.
        path: Vec<PathBuf>,
    },
    /// The plugin did not finish in time and was killed.
    #[error("plugin {plugin} timed out on {command} after {after:?}")]
    Timeout {
        /// The plugin's type.
        plugin: String,
        /// The CNI command.
        command: String,
        /// The limit.
        after: Duration,
    },
    /// The configuration or the versions do not allow the call.
    #[error("{0}")]
    Config(CniError),
    /// Running the binary or reading its output failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The result cache could not be read or written.
    #[error("result cache {path}: {msg}")]
    Cache {
        /// The cache file.
        path: PathBuf,
        /// What went wrong.
        msg: String,
    },
    /// Several errors (GC goes on after a failure and reports them all).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Multiple(Vec<ExecError>),
}

fn stderr_suffix(stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() { String::new() } else { format!(" (stderr: {stderr})") }
}

impl ExecError {
    /// The CNI error code: the plugin's own, or the nearest reserved one
    /// (5 for I/O and timeouts, 7 for a missing plugin).
    pub fn code(&self) -> u32 {
        match self {
            ExecError::Plugin { error, .. } => error.code,
            ExecError::Config(error) => error.code,
            ExecError::NotFound { .. } => ErrorCode::InvalidNetworkConfig as u32,
            ExecError::Timeout { .. } | ExecError::Io { .. } | ExecError::Cache { .. } => ErrorCode::Io as u32,
            ExecError::Multiple(errors) => errors.first().map_or(ErrorCode::Generic as u32, ExecError::code),
        }
    }

    /// The plugin's Error, when it answered with one.
    pub fn cni_error(&self) -> Option<&CniError> {
        match self {
            ExecError::Plugin { error, .. } => Some(error),
            ExecError::Config(error) => Some(error),
            _ => None,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> ExecError {
        ExecError::Io { context: context.into(), source }
    }
}

impl From<CniError> for ExecError {
    fn from(error: CniError) -> Self {
        ExecError::Config(error)
    }
}
