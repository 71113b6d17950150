//! Container logs in the CRI format: one entry per line,
//! `<RFC3339Nano UTC timestamp> <stdout|stderr> <P|F> <text>\n`.
//!
//! A reader task per stream ([`copy_stream`]) cuts what the container
//! writes into lines; a line longer than [`MAX_ENTRY`] bytes becomes
//! `P` (partial) entries of that size followed by the `F` (full) rest, and
//! an unterminated last line is written as `F` at EOF. Both streams write
//! whole entries with one `write` to a file opened for appending, so the
//! entries of the two streams interleave but never mix. The timestamp
//! always has nine fractional digits (Go's `RFC3339Nano` parser, which the
//! kubelet uses, accepts it).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt};

/// The longest text of one log entry; longer lines are split into `P` parts.
pub(crate) const MAX_ENTRY: usize = 16 * 1024;

/// What util-linux `unshare --fork` prints on stderr when the process it
/// forked was killed by SIGKILL (it cannot re-raise SIGKILL on itself and
/// exits 1 instead). Not logged; it tells the exit watcher the truth.
pub(crate) const UNSHARE_SIGKILL_LINE: &[u8] = b"unshare: sigprocmask unblock failed";

/// Which stream an entry came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// A container's log file (or none: output is then discarded).
#[derive(Debug)]
pub(crate) struct LogFile {
    path: Option<PathBuf>,
    file: Mutex<Option<File>>,
}

impl LogFile {
    /// Opens (creates, appends to) `path` and its parent directories.
    pub(crate) fn open(path: Option<PathBuf>) -> io::Result<LogFile> {
        let file = match &path {
            Some(p) => Some(open_append(p)?),
            None => None,
        };
        Ok(LogFile { path, file: Mutex::new(file) })
    }

    /// Opens the file anew by its path (after it was renamed away by log
    /// rotation): later entries go to the new file.
    pub(crate) fn reopen(&self) -> io::Result<()> {
        let Some(path) = &self.path else { return Ok(()) };
        let file = open_append(path)?;
        *self.file.lock().unwrap_or_else(|e| e.into_inner()) = Some(file);
        Ok(())
    }

    /// Writes one entry.
    pub(crate) fn write_entry(&self, stream: Stream, partial: bool, text: &[u8]) {
        let entry = format_entry(now_ns(), stream, partial, text);
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(file) = guard.as_mut()
            && let Err(e) = file.write_all(&entry)
        {
            tracing::warn!("writing the container log {:?}: {e}", self.path);
        }
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| io::Error::new(e.kind(), format!("creating the log directory {}: {e}", parent.display())))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("opening the log file {}: {e}", path.display())))
}

/// Nanoseconds since the Unix epoch, now.
pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// One entry as it goes to the file.
pub(crate) fn format_entry(ts_ns: i64, stream: Stream, partial: bool, text: &[u8]) -> Vec<u8> {
    let head = format!("{} {} {} ", rfc3339_nano(ts_ns), stream.name(), if partial { 'P' } else { 'F' });
    let mut entry = Vec::with_capacity(head.len() + text.len() + 1);
    entry.extend_from_slice(head.as_bytes());
    entry.extend_from_slice(text);
    entry.push(b'\n');
    entry
}

/// `ns` since the epoch as `2006-01-02T15:04:05.999999999Z` (always nine
/// fractional digits).
pub(crate) fn rfc3339_nano(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = u32::try_from(ns.rem_euclid(1_000_000_000)).unwrap_or(0);
    chrono::DateTime::from_timestamp(secs, nanos).unwrap_or_default().format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

/// Takes the complete entries out of `pending`: `(partial, text)` for every
/// full line and for every [`MAX_ENTRY`]-sized piece of a longer one; at
/// `eof` the rest too (as a full entry).
pub(crate) fn take_entries(pending: &mut Vec<u8>, eof: bool) -> Vec<(bool, Vec<u8>)> {
    let mut entries = Vec::new();
    let mut start = 0;
    loop {
        let rest = &pending[start..];
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) if i <= MAX_ENTRY => {
                entries.push((false, rest[..i].to_vec()));
                start += i + 1;
            }
            Some(_) => {
                entries.push((true, rest[..MAX_ENTRY].to_vec()));
                start += MAX_ENTRY;
            }
            // Wait for one byte more than an entry holds: a line of exactly
            // MAX_ENTRY bytes whose newline comes later stays one entry.
            None if rest.len() > MAX_ENTRY => {
                entries.push((true, rest[..MAX_ENTRY].to_vec()));
                start += MAX_ENTRY;
            }
            None => {
                if eof && !rest.is_empty() {
                    entries.push((false, rest.to_vec()));
                    start = pending.len();
                }
                break;
            }
        }
    }
    pending.drain(..start);
    entries
}

/// What a stream's copier saw.
#[derive(Debug, Default)]
pub(crate) struct StreamEnd {
    /// util-linux `unshare` reported that the container's first process
    /// was killed by SIGKILL (see [`UNSHARE_SIGKILL_LINE`]).
    pub(crate) init_sigkilled: bool,
}

/// Copies `reader` into `log` as CRI entries until EOF.
pub(crate) async fn copy_stream<R: AsyncRead + Unpin>(mut reader: R, stream: Stream, log: Arc<LogFile>) -> StreamEnd {
    let mut end = StreamEnd::default();
    let mut pending = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let (n, eof) = match reader.read(&mut buf).await {
            Ok(0) => (0, true),
            Ok(n) => (n, false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::debug!("reading the container's {}: {e}", stream.name());
                (0, true)
            }
        };
        pending.extend_from_slice(&buf[..n]);
        for (partial, text) in take_entries(&mut pending, eof) {
            if stream == Stream::Stderr && !partial && text.starts_with(UNSHARE_SIGKILL_LINE) {
                end.init_sigkilled = true;
                continue;
            }
            log.write_entry(stream, partial, &text);
        }
        if eof {
            return end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339_nano(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339_nano(1_475_713_029_669_794_202), "2016-10-06T00:17:09.669794202Z");
        // A leap day and the end of a year.
        assert_eq!(rfc3339_nano(951_782_400_000_000_001), "2000-02-29T00:00:00.000000001Z");
        assert_eq!(rfc3339_nano(1_704_067_199_999_999_999), "2023-12-31T23:59:59.999999999Z");
        assert_eq!(rfc3339_nano(-1), "1969-12-31T23:59:59.999999999Z");
    }

    #[test]
    fn entries_format() {
        let e = format_entry(1_475_713_029_669_794_202, Stream::Stderr, false, b"hello world");
        assert_eq!(e, b"2016-10-06T00:17:09.669794202Z stderr F hello world\n");
        let e = format_entry(0, Stream::Stdout, true, b"");
        assert_eq!(e, b"1970-01-01T00:00:00.000000000Z stdout P \n");
    }

    #[test]
    fn lines_are_cut_and_long_ones_split() {
        let mut pending = b"one\ntwo\nthr".to_vec();
        assert_eq!(take_entries(&mut pending, false), vec![(false, b"one".to_vec()), (false, b"two".to_vec())]);
        assert_eq!(pending, b"thr");
        pending.extend_from_slice(b"ee\n\n");
        assert_eq!(take_entries(&mut pending, false), vec![(false, b"three".to_vec()), (false, Vec::new())]);
        assert!(pending.is_empty());

        // 40,000 bytes then a newline: two P parts and the F rest.
        let mut pending = vec![b'a'; 40_000];
        pending.push(b'\n');
        let entries = take_entries(&mut pending, false);
        let shape: Vec<(bool, usize)> = entries.iter().map(|(p, t)| (*p, t.len())).collect();
        assert_eq!(shape, vec![(true, MAX_ENTRY), (true, MAX_ENTRY), (false, 40_000 - 2 * MAX_ENTRY)]);

        // Exactly MAX_ENTRY bytes whose newline arrives later stays one entry.
        let mut pending = vec![b'b'; MAX_ENTRY];
        assert!(take_entries(&mut pending, false).is_empty());
        pending.push(b'\n');
        let entries = take_entries(&mut pending, false);
        assert_eq!(entries.len(), 1);
        assert_eq!((entries[0].0, entries[0].1.len()), (false, MAX_ENTRY));

        // Without a newline a long run is split as it comes.
        let mut pending = vec![b'c'; MAX_ENTRY + 1];
        let entries = take_entries(&mut pending, false);
        assert_eq!(entries.len(), 1);
        assert!(entries[0].0);
        assert_eq!(pending, b"c");

        // EOF writes the unterminated rest as a full entry.
        let mut pending = b"tail".to_vec();
        assert_eq!(take_entries(&mut pending, true), vec![(false, b"tail".to_vec())]);
        let mut empty = Vec::new();
        assert!(take_entries(&mut empty, true).is_empty());
    }

    #[tokio::test]
    async fn copies_a_stream_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/0.log");
        let log = Arc::new(LogFile::open(Some(path.clone())).unwrap());
        let input: &[u8] = b"first\nsecond\nunshare: sigprocmask unblock failed: Invalid argument\nno newline";
        let end = copy_stream(input, Stream::Stderr, log.clone()).await;
        assert!(end.init_sigkilled);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        for (line, want) in lines.iter().zip(["first", "second", "no newline"]) {
            let (ts, rest) = line.split_once(' ').unwrap();
            assert_eq!(ts.len(), 30, "{ts}");
            assert!(ts.ends_with('Z'));
            assert_eq!(rest, format!("stderr F {want}"));
        }

        std::fs::rename(&path, dir.path().join("sub/0.log.1")).unwrap();
        log.reopen().unwrap();
        let end = copy_stream(&b"after\n"[..], Stream::Stdout, log.clone()).await;
        assert!(!end.init_sigkilled);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with(" stdout F after\n"), "{text}");
        assert_eq!(text.lines().count(), 1);

        // No file: output is discarded.
        let none = Arc::new(LogFile::open(None).unwrap());
        copy_stream(&b"x\n"[..], Stream::Stdout, none.clone()).await;
        none.reopen().unwrap();
    }
}
