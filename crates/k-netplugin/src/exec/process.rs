//! Running one plugin binary.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;

use super::ExecError;
use crate::netns::{NetNs, NsWorker};

/// What a finished plugin process left.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Whether it exited with status 0.
    pub success: bool,
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its standard error.
    pub stderr: Vec<u8>,
}

/// Runs a binary with an environment and stdin: the seam between the
/// executor and processes (tests can record calls instead).
#[async_trait]
pub trait Exec: Send + Sync + std::fmt::Debug {
    /// Runs `binary` with `env` added to this process's environment and
    /// `stdin`; kills it after `timeout`. `Ok(None)` means it timed out.
    async fn run(
        &self,
        binary: &Path,
        env: &[(String, String)],
        stdin: &[u8],
        timeout: Option<Duration>,
    ) -> Result<Option<ExecOutput>, ExecError>;
}

/// Runs plugins as child processes, from inside a network namespace when
/// one is given (the plugin's "host" is then that namespace: `bridge`
/// creates its bridge there and `portmap` writes its rules there).
#[derive(Clone, Debug, Default)]
pub struct ProcessExec {
    worker: Option<NsWorker>,
}

impl ProcessExec {
    /// Plugins run in this process's own network namespace.
    pub fn new() -> Self {
        ProcessExec::default()
    }

    /// Plugins run from a worker thread inside `ns`.
    pub fn in_namespace(ns: &NetNs) -> Result<Self, ExecError> {
        let worker = ns.worker().map_err(|e| ExecError::io(format!("entering network namespace {}", ns.name()), e))?;
        Ok(ProcessExec { worker: Some(worker) })
    }
}

async fn run_process(
    binary: std::path::PathBuf,
    env: Vec<(String, String)>,
    stdin: Vec<u8>,
    timeout: Option<Duration>,
) -> Result<Option<ExecOutput>, ExecError> {
    let shown = binary.display().to_string();
    let mut child = tokio::process::Command::new(&binary)
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ExecError::io(format!("starting {shown}"), e))?;
    // Feed stdin while the output is collected, all under the timeout: a
    // plugin that never reads its stdin, or fills its stderr first, cannot
    // stall the call.
    let pipe = child.stdin.take();
    let feed = async move {
        if let Some(mut pipe) = pipe {
            // A plugin may exit without reading stdin (VERSION): a broken
            // pipe is then not an error.
            match pipe.write_all(&stdin).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => Err(e),
            }
        } else {
            Ok(())
        }
    };
    let both = async { tokio::join!(feed, child.wait_with_output()) };
    let (fed, output) = match timeout {
        Some(limit) => match tokio::time::timeout(limit, both).await {
            Ok(done) => done,
            // Dropping the future drops the child, which kills it.
            Err(_) => return Ok(None),
        },
        None => both.await,
    };
    fed.map_err(|e| ExecError::io(format!("writing {shown}'s stdin"), e))?;
    let output = output.map_err(|e| ExecError::io(format!("waiting for {shown}"), e))?;
    Ok(Some(ExecOutput { success: output.status.success(), stdout: output.stdout, stderr: output.stderr }))
}

#[async_trait]
impl Exec for ProcessExec {
    async fn run(
        &self,
        binary: &Path,
        env: &[(String, String)],
        stdin: &[u8],
        timeout: Option<Duration>,
    ) -> Result<Option<ExecOutput>, ExecError> {
        let (binary, env, stdin) = (binary.to_path_buf(), env.to_vec(), stdin.to_vec());
        match &self.worker {
            None => run_process(binary, env, stdin, timeout).await,
            Some(worker) => worker
                .spawn(move || run_process(binary, env, stdin, timeout))
                .await
                .map_err(|e| ExecError::io("running a plugin inside its network namespace", e))?,
        }
    }
}
