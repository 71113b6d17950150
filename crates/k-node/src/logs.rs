//! Container logs: reading CRI log files for `kubectl logs`.
//!
//! A runtime writes each container's output as CRI log lines,
//! `<RFC3339Nano timestamp> <stdout|stderr> <P|F> <text>`, where `P` marks
//! a partial line continued by the next record. [`parse_line`] reads one
//! record, [`read_log`] a whole file with `tailLines` and `timestamps`,
//! and [`follow_log`] streams new records as they are written (what
//! `kubectl logs -f` sees), until a stop signal says the container is gone.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::{Stream, StreamExt};

/// One record of a CRI log file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord<'a> {
    /// The timestamp as written (RFC 3339 with nanoseconds).
    pub timestamp: &'a str,
    /// `stdout` or `stderr`.
    pub stream: &'a str,
    /// Whether the line continues in the next record (`P`).
    pub partial: bool,
    /// The text, without the newline.
    pub text: &'a str,
}

/// Parses one CRI log record; `None` for a malformed line.
pub fn parse_line(line: &str) -> Option<LogRecord<'_>> {
    let mut parts = line.splitn(4, ' ');
    let timestamp = parts.next()?;
    let stream = parts.next()?;
    let tag = parts.next()?;
    let text = parts.next().unwrap_or("");
    if !matches!(stream, "stdout" | "stderr") {
        return None;
    }
    Some(LogRecord { timestamp, stream, partial: tag.split(':').next() == Some("P"), text })
}

/// What to read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Only the last N lines.
    pub tail_lines: Option<usize>,
    /// Prefix each line with its timestamp.
    pub timestamps: bool,
}

/// Joins records into the container's output lines (partial records
/// joined), each ending in a newline.
fn lines_of(text: &str, timestamps: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let mut pending = String::new();
    let mut first_ts: Option<&str> = None;
    for record in text.lines().filter_map(parse_line) {
        first_ts.get_or_insert(record.timestamp);
        pending.push_str(record.text);
        if !record.partial {
            let line = match (timestamps, first_ts.take()) {
                (true, Some(ts)) => format!("{ts} {pending}\n"),
                _ => format!("{pending}\n"),
            };
            lines.push(line);
            pending.clear();
        }
    }
    lines
}

/// The container's output from a CRI log file.
pub fn read_log(path: &Path, options: &ReadOptions) -> std::io::Result<Vec<u8>> {
    let text = std::fs::read_to_string(path)?;
    let lines = lines_of(&text, options.timestamps);
    let skip = options.tail_lines.map_or(0, |n| lines.len().saturating_sub(n));
    Ok(lines[skip..].concat().into_bytes())
}

/// The log's current output, then each new complete line as it is
/// written, polling every `poll`, until `done` resolves (then what was
/// written meanwhile is read once more and the stream ends).
pub fn follow_log(
    path: PathBuf,
    options: ReadOptions,
    poll: Duration,
    done: impl std::future::Future<Output = ()> + Send + 'static,
) -> impl Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static {
    futures::stream::unfold(
        (Some(Box::pin(done)), 0usize, true, String::new()),
        move |(mut done, mut offset, first, mut carry)| {
            let path = path.clone();
            let options = options.clone();
            async move {
                {
                    let finished = match done.as_mut() {
                        Some(d) => {
                            if first {
                                false
                            } else {
                                tokio::select! {
                                    () = d.as_mut() => true,
                                    () = tokio::time::sleep(poll) => false,
                                }
                            }
                        }
                        None => return None,
                    };
                    let text = match tokio::fs::read(&path).await {
                        Ok(bytes) => bytes,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                        Err(e) => return Some((Err(e), (None, offset, false, carry))),
                    };
                    // A rotated (shorter) file starts over.
                    if text.len() < offset {
                        offset = 0;
                    }
                    let fresh = String::from_utf8_lossy(&text[offset..]).into_owned();
                    // Only whole records: keep a trailing fragment for later.
                    let upto = fresh.rfind('\n').map_or(0, |i| i + 1);
                    offset += upto;
                    carry.push_str(&fresh[..upto]);
                    // Records after the last complete one (a line still being
                    // written in parts) stay in `carry` for the next round.
                    let records: Vec<&str> = carry.lines().collect();
                    let complete = records.iter().rposition(|l| parse_line(l).is_some_and(|r| !r.partial));
                    let (done_text, rest) = match complete {
                        Some(i) => {
                            (records[..=i].join("\n"), records[i + 1..].iter().map(|l| format!("{l}\n")).collect())
                        }
                        None => (String::new(), carry.clone()),
                    };
                    let mut lines = lines_of(&done_text, options.timestamps);
                    carry = rest;
                    if first && let Some(n) = options.tail_lines {
                        let skip = lines.len().saturating_sub(n);
                        lines.drain(..skip);
                    }
                    let next_done = if finished { None } else { done.take() };
                    if !lines.is_empty() || finished {
                        return Some((Ok(lines.concat().into_bytes()), (next_done, offset, false, carry)));
                    }
                    done = next_done;
                    done.as_ref()?;
                    // Nothing new yet: an empty chunk (filtered out below).
                    Some((Ok(Vec::new()), (done, offset, false, carry)))
                }
            }
        },
    )
    .filter(|chunk| std::future::ready(!matches!(chunk, Ok(bytes) if bytes.is_empty())))
}

/// Why a container's log cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// No such container (or no earlier instance for `previous`).
    #[error("{0}")]
    NotFound(String),
    /// The runtime failed.
    #[error("container runtime: {0}")]
    Runtime(#[from] k_netplugin::cri::CriError),
    /// The file could not be read.
    #[error("reading the log: {0}")]
    Io(#[from] std::io::Error),
}

/// What a `pods/log` request asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogRequest {
    /// The container's name in the pod.
    pub container: String,
    /// Keep streaming new lines until the container exits.
    pub follow: bool,
    /// The previous instance (the one before a restart).
    pub previous: bool,
    /// Only the last N lines.
    pub tail_lines: Option<usize>,
    /// Prefix each line with its timestamp.
    pub timestamps: bool,
}

/// One node's container logs, found through the runtime by the pod
/// labels its agent gives containers: what the API server's `pods/log`
/// reads (through an adapter to its `LogSource`; the control-plane example
/// has one).
#[derive(Clone)]
pub struct NodeLogs {
    runtime: std::sync::Arc<dyn k_netplugin::cri::RuntimeService>,
    poll: Duration,
}

impl std::fmt::Debug for NodeLogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeLogs").finish_non_exhaustive()
    }
}

impl NodeLogs {
    /// Logs of the containers `runtime` runs.
    pub fn new(runtime: std::sync::Arc<dyn k_netplugin::cri::RuntimeService>) -> Self {
        NodeLogs { runtime, poll: Duration::from_millis(200) }
    }

    /// The instance of container `request.container` of pod
    /// `namespace/pod`: the newest, or the one before it for `previous`.
    pub async fn find(
        &self,
        namespace: &str,
        pod: &str,
        request: &LogRequest,
    ) -> Result<k_netplugin::cri::ContainerStatus, LogError> {
        use crate::pods::actions::{CONTAINER_NAME_LABEL, POD_NAME_LABEL, POD_NAMESPACE_LABEL, restart_count};
        let selector = k_netplugin::cri::Labels::from([
            (POD_NAMESPACE_LABEL.to_owned(), namespace.to_owned()),
            (POD_NAME_LABEL.to_owned(), pod.to_owned()),
            (CONTAINER_NAME_LABEL.to_owned(), request.container.clone()),
        ]);
        let filter = k_netplugin::cri::ContainerFilter { label_selector: selector, ..Default::default() };
        let mut instances = Vec::new();
        for c in self.runtime.list_containers(&filter).await? {
            match self.runtime.container_status(&c.id).await {
                Ok(status) => instances.push(status),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        instances.sort_by_key(|c| std::cmp::Reverse((c.created_at, restart_count(c))));
        let index = usize::from(request.previous);
        instances.into_iter().nth(index).ok_or_else(|| {
            LogError::NotFound(if request.previous {
                format!("previous terminated container \"{}\" in pod \"{pod}\" not found", request.container)
            } else {
                format!("container \"{}\" in pod \"{pod}\" is waiting to start: ContainerCreating", request.container)
            })
        })
    }

    /// The container's output: what was written, and with `follow` every
    /// new line until the instance exits.
    pub async fn stream(
        &self,
        namespace: &str,
        pod: &str,
        request: &LogRequest,
    ) -> Result<futures::stream::BoxStream<'static, std::io::Result<Vec<u8>>>, LogError> {
        let instance = self.find(namespace, pod, request).await?;
        if instance.log_path.is_empty() {
            return Err(LogError::NotFound(format!("container \"{}\" has no log file", request.container)));
        }
        let path = PathBuf::from(&instance.log_path);
        let options = ReadOptions { tail_lines: request.tail_lines, timestamps: request.timestamps };
        let running = instance.state == k_netplugin::cri::ContainerState::Running;
        if !request.follow || !running {
            let bytes = match read_log(&path, &options) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(e.into()),
            };
            return Ok(futures::stream::iter([Ok(bytes)]).boxed());
        }
        let runtime = self.runtime.clone();
        let id = instance.id.clone();
        let poll = self.poll;
        let done = async move {
            loop {
                match runtime.container_status(&id).await {
                    Ok(s) if s.state == k_netplugin::cri::ContainerState::Running => {}
                    _ => return,
                }
                tokio::time::sleep(poll).await;
            }
        };
        Ok(follow_log(path, options, poll, done).boxed())
    }
}

#[cfg(feature = "apiserver")]
pub use api_source::ApiLogSource;

#[cfg(feature = "apiserver")]
mod api_source {
    use std::collections::HashMap;
    use std::sync::{Arc, PoisonError, RwLock};

    use bytes::Bytes;
    use futures::StreamExt;
    use futures::stream::BoxStream;
    use k_api_types::core::v1::Pod;
    use k_apiserver::error::ApiError;
    use k_apiserver::pods::{LogOptions, LogSource};
    use k_store::{Api, ObjectApi};

    use super::{LogError, LogRequest, NodeLogs};

    /// The API server's `pods/log` served from node agents in the same
    /// process: the pod is looked up, and its node's [`NodeLogs`] read.
    /// Install it as `ServerConfig::log_source`.
    pub struct ApiLogSource {
        api: Arc<dyn ObjectApi>,
        nodes: RwLock<HashMap<String, NodeLogs>>,
    }

    impl std::fmt::Debug for ApiLogSource {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("ApiLogSource").finish_non_exhaustive()
        }
    }

    impl ApiLogSource {
        /// A source reading pods through `api`, with no nodes yet.
        pub fn new(api: Arc<dyn ObjectApi>) -> Self {
            ApiLogSource { api, nodes: RwLock::default() }
        }

        /// Serves the logs of node `name`.
        pub fn add_node(&self, name: impl Into<String>, logs: NodeLogs) {
            self.nodes.write().unwrap_or_else(PoisonError::into_inner).insert(name.into(), logs);
        }
    }

    #[async_trait::async_trait]
    impl LogSource for ApiLogSource {
        async fn logs(
            &self,
            namespace: &str,
            pod: &str,
            options: &LogOptions,
        ) -> Result<BoxStream<'static, Bytes>, ApiError> {
            let pods: Api<Pod> = Api::with_client(self.api.clone(), Some(namespace.to_owned()));
            let object = pods.get(pod).await.map_err(|e| {
                if e.is_not_found() {
                    ApiError::new(404, "NotFound", format!("pods \"{pod}\" not found"))
                } else {
                    ApiError::internal(e.to_string())
                }
            })?;
            let Some(node) = object.spec.node_name.clone().filter(|n| !n.is_empty()) else {
                return Err(ApiError::bad_request(format!("pod {pod} is not scheduled to a node yet")));
            };
            let container = match &options.container {
                Some(c) => c.clone(),
                None => object.spec.containers.first().map(|c| c.name.clone()).unwrap_or_default(),
            };
            let logs = self.nodes.read().unwrap_or_else(PoisonError::into_inner).get(&node).cloned();
            let Some(logs) = logs else {
                return Err(ApiError::new(
                    503,
                    "ServiceUnavailable",
                    format!("no node agent in this process serves node {node}"),
                ));
            };
            let request = LogRequest {
                container,
                follow: options.follow,
                previous: options.previous,
                tail_lines: options.tail_lines.and_then(|n| usize::try_from(n).ok()),
                timestamps: options.timestamps,
            };
            let stream = logs.stream(namespace, pod, &request).await.map_err(|e| match e {
                LogError::NotFound(message) => ApiError::bad_request(message),
                other => ApiError::internal(other.to_string()),
            })?;
            Ok(stream
                .take_while(|item| futures::future::ready(item.is_ok()))
                .filter_map(|item| futures::future::ready(item.ok().map(Bytes::from)))
                .boxed())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "2026-11-23T10:00:00.000000001Z stdout F hello\n\
                       2026-11-23T10:00:01.000000000Z stderr F oops\n\
                       2026-11-23T10:00:02.000000000Z stdout P a long \n\
                       2026-11-23T10:00:02.100000000Z stdout F line\n\
                       not a record\n";

    #[test]
    fn records_parse_and_partial_lines_join() {
        let r = parse_line("2026-11-23T10:00:00.000000001Z stdout F hello world").unwrap();
        assert_eq!((r.stream, r.partial, r.text), ("stdout", false, "hello world"));
        assert!(parse_line("garbage").is_none());
        let dir = std::env::temp_dir().join(format!("k-node-logs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("0.log");
        std::fs::write(&path, LOG).unwrap();
        let all = read_log(&path, &ReadOptions::default()).unwrap();
        assert_eq!(String::from_utf8(all).unwrap(), "hello\noops\na long line\n");
        let tail = read_log(&path, &ReadOptions { tail_lines: Some(1), timestamps: true }).unwrap();
        assert_eq!(String::from_utf8(tail).unwrap(), "2026-11-23T10:00:02.000000000Z a long line\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn follow_streams_new_lines_until_done() {
        let dir = std::env::temp_dir().join(format!("k-node-follow-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("0.log");
        std::fs::write(&path, "2026-11-23T10:00:00Z stdout F first\n").unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let stream = follow_log(path.clone(), ReadOptions::default(), Duration::from_millis(20), async {
            let _ = stopped.await;
        });
        let mut stream = Box::pin(stream);
        let mut seen = String::new();
        while !seen.contains("first") {
            seen.push_str(&String::from_utf8(stream.next().await.unwrap().unwrap()).unwrap());
        }
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"2026-11-23T10:00:01Z stdout P sec").unwrap();
        f.flush().unwrap();
        f.write_all(b"ond\n2026-11-23T10:00:01Z stdout F  part\n").unwrap();
        while !seen.contains("second part") {
            seen.push_str(&String::from_utf8(stream.next().await.unwrap().unwrap()).unwrap());
        }
        stop.send(()).unwrap();
        while let Some(chunk) = stream.next().await {
            seen.push_str(&String::from_utf8(chunk.unwrap()).unwrap());
        }
        assert_eq!(seen, "first\nsecond part\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
