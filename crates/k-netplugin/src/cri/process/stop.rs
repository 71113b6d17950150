//! Stopping containers: SIGTERM to the container's first process (pid 1 of
//! its PID namespace), up to the timeout for it to exit, then SIGKILL to
//! the wrapper process and every process left in the container's cgroup.
//! A timeout of zero kills at once, as containerd does.
//!
//! As in every container runtime, pid 1 of a PID namespace ignores signals
//! it has no handler for: a command that does not handle SIGTERM runs until
//! the SIGKILL.

use std::time::Duration;

use rustix::process::{Pid, Signal};
use tokio::sync::watch;

use super::cgroups::Cgroup;

/// How long to wait for the processes to go after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// Sends `sig` to `pid`; whether it was delivered.
pub(crate) fn send(pid: i32, sig: Signal) -> bool {
    match Pid::from_raw(pid) {
        Some(pid) => rustix::process::kill_process(pid, sig).is_ok(),
        None => false,
    }
}

/// `pid`'s parent, from `/proc/<pid>/stat`.
pub(crate) fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold anything;
    // the state and the parent follow the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let _state = fields.next()?;
    fields.next()?.parse().ok()
}

/// Every process descending from `pid` (children first found, then
/// theirs), from a scan of `/proc`.
pub(crate) fn descendants(pid: i32) -> Vec<i32> {
    let mut parents: Vec<(i32, i32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(p) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
            if let Some(pp) = parent_of(p) {
                parents.push((p, pp));
            }
        }
    }
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let current = found[i];
        for (p, pp) in &parents {
            if *pp == current && !found.contains(p) {
                found.push(*p);
            }
        }
        i += 1;
    }
    found.remove(0);
    found
}

/// SIGKILLs `first` (the wrapper, so that it dies by the signal rather
/// than reporting its child's death), then everything in `cgroup`, a few
/// rounds (processes may fork meanwhile).
pub(crate) fn kill_all(first: Option<i32>, cgroup: &Cgroup) {
    if let Some(pid) = first {
        send(pid, Signal::KILL);
    }
    for _ in 0..5 {
        let pids = cgroup.pids();
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            send(pid, Signal::KILL);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits up to `timeout` until `exited` says so.
pub(crate) async fn wait_exit(exited: &mut watch::Receiver<bool>, timeout: Duration) -> bool {
    if *exited.borrow() {
        return true;
    }
    matches!(tokio::time::timeout(timeout, exited.wait_for(|e| *e)).await, Ok(Ok(_)))
}

/// Stops a running container; Ok once its wrapper process has exited
/// (and the exit been recorded).
pub(crate) async fn stop(
    wrapper: i32,
    init: Option<i32>,
    cgroup: &Cgroup,
    mut exited: watch::Receiver<bool>,
    timeout: Duration,
) -> Result<(), String> {
    if *exited.borrow() {
        return Ok(());
    }
    if !timeout.is_zero() {
        send(init.unwrap_or(wrapper), Signal::TERM);
        if wait_exit(&mut exited, timeout).await {
            return Ok(());
        }
    }
    let deadline = tokio::time::Instant::now() + KILL_WAIT;
    while tokio::time::Instant::now() < deadline {
        kill_all(Some(wrapper), cgroup);
        if wait_exit(&mut exited, Duration::from_millis(500)).await {
            return Ok(());
        }
    }
    Err(format!("the container's processes (wrapper pid {wrapper}) did not exit {KILL_WAIT:?} after SIGKILL"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_and_descendants() {
        let me = std::process::id() as i32;
        let mut child = std::process::Command::new("sh").args(["-c", "sleep 30 & wait"]).spawn().unwrap();
        let pid = child.id() as i32;
        assert_eq!(parent_of(pid), Some(me));
        let mut below = Vec::new();
        for _ in 0..500 {
            below = descendants(pid);
            if !below.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(below.len(), 1, "sh's sleep: {below:?}");
        assert_eq!(parent_of(below[0]), Some(pid));
        assert!(descendants(me).contains(&pid));
        assert!(send(below[0], Signal::KILL));
        assert!(send(pid, Signal::KILL));
        child.wait().unwrap();
        assert_eq!(parent_of(pid), None);
        assert!(!send(0, Signal::KILL));
    }
}
