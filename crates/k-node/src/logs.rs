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
