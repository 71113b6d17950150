//! How a container process is started and how ExecSync enters it.
//!
//! StartContainer runs this chain (every stage a util-linux or coreutils
//! binary, resolved to an absolute path when the runtime starts):
//!
//! ```text
//! sh -c 'echo $$ > <cgroup.procs of each hierarchy> [&& echo <adj> > /proc/$$/oom_score_adj] && exec "$@"'
//!   nsenter --target <holder pid> --net --uts --ipc --
//!   unshare --mount --pid --fork --kill-child --mount-proc[=<rootfs>/proc] --
//!   sh -c '<in the new mount namespace: /dev for a rootfs, bind mounts>; exec env -i <env> unshare [--root=<rootfs>] --wd=<dir> -- "$@"'
//!   <command> <args>
//! ```
//!
//! The wrapper joins the cgroups before anything else runs, so every
//! process of the container is counted; `nsenter` joins the sandbox's
//! network, UTS and IPC namespaces (held by the sandbox's holder process);
//! `unshare` makes a private mount namespace (propagation private, so
//! nothing mounted inside reaches the host) and a PID namespace in which
//! the command ends up as pid 1, with a `/proc` of its own mounted: at
//! `/proc` in host mode (inside the private mount namespace, the host's
//! `/proc` is untouched), at `<rootfs>/proc` otherwise. With a root
//! filesystem the container also gets a tmpfs `/dev` holding the host's
//! `null`, `zero`, `full`, `random`, `urandom` and `tty` and a tmpfs
//! `/dev/shm`; in host mode it sees the host's `/dev`.
//!
//! ExecSync: `sh -c 'echo $$ > <cgroup.procs…> && exec "$@"' env -i <env>
//! nsenter --target <container pid 1> --net --uts --ipc --mount --pid --root --wd -- <cmd>`.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::cri::{CriError, CriResult};

/// The binaries the runtime runs, as absolute paths.
#[derive(Clone, Debug)]
pub(crate) struct Binaries {
    pub(crate) sh: PathBuf,
    pub(crate) nsenter: PathBuf,
    pub(crate) unshare: PathBuf,
    pub(crate) env: PathBuf,
    pub(crate) mount: PathBuf,
    pub(crate) sleep: PathBuf,
}

impl Binaries {
    /// Finds them on `PATH` and the usual directories; the error names the
    /// Debian package of what is missing.
    pub(crate) fn find() -> CriResult<Binaries> {
        let find = |name: &str, package: &str| {
            crate::iproute::find_binary(name).ok_or_else(|| {
                CriError::Unavailable(format!(
                    "the process runtime needs `{name}` (Debian package {package}), which was not found on PATH"
                ))
            })
        };
        Ok(Binaries {
            sh: find("sh", "dash")?,
            nsenter: find("nsenter", "util-linux")?,
            unshare: find("unshare", "util-linux")?,
            env: find("env", "coreutils")?,
            mount: find("mount", "mount")?,
            sleep: find("sleep", "coreutils")?,
        })
    }
}

/// `s` as one single-quoted shell word.
pub(crate) fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn quote_path(p: &Path) -> String {
    quote(&p.to_string_lossy())
}

/// A bind mount into the container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BindMount {
    /// What is mounted (a host path).
    pub(crate) source: PathBuf,
    /// Where, inside the container.
    pub(crate) target: PathBuf,
    /// Read-only.
    pub(crate) readonly: bool,
}

/// Everything the launch chain needs.
#[derive(Clone, Debug)]
pub(crate) struct Launch {
    /// The sandbox's holder process.
    pub(crate) holder_pid: i32,
    /// The `cgroup.procs` files to join.
    pub(crate) procs_files: Vec<PathBuf>,
    /// Written to `/proc/self/oom_score_adj` when set.
    pub(crate) oom_score_adj: Option<i64>,
    /// The root filesystem; `None`: host mode.
    pub(crate) rootfs: Option<PathBuf>,
    /// Bind mounts, in order.
    pub(crate) mounts: Vec<BindMount>,
    /// The environment (nothing else is passed).
    pub(crate) env: Vec<(String, String)>,
    /// The working directory inside the container.
    pub(crate) working_dir: String,
    /// Command and arguments.
    pub(crate) argv: Vec<String>,
}

impl Launch {
    /// Where a container path is on the host's file system.
    fn host_path(&self, container_path: &Path) -> PathBuf {
        match &self.rootfs {
            Some(root) => root.join(container_path.strip_prefix("/").unwrap_or(container_path)),
            None => container_path.to_path_buf(),
        }
    }

    /// Makes what the chain mounts on: `<rootfs>/proc`, `<rootfs>/dev` and
    /// the working directory in a root filesystem, the targets of the bind
    /// mounts (a directory, or an empty file for a file), anywhere.
    pub(crate) fn prepare(&self) -> io::Result<()> {
        let context = |what: &str, p: &Path| {
            let p = p.to_path_buf();
            let what = what.to_string();
            move |e: io::Error| io::Error::new(e.kind(), format!("{what} {}: {e}", p.display()))
        };
        if let Some(root) = &self.rootfs {
            for dir in ["proc", "dev"] {
                let d = root.join(dir);
                std::fs::create_dir_all(&d).map_err(context("creating", &d))?;
            }
            let wd = self.host_path(Path::new(&self.working_dir));
            std::fs::create_dir_all(&wd).map_err(context("creating the working directory", &wd))?;
        }
        for m in &self.mounts {
            let source = std::fs::metadata(&m.source).map_err(context("the mount source", &m.source))?;
            let target = self.host_path(&m.target);
            if source.is_dir() {
                std::fs::create_dir_all(&target).map_err(context("creating the mount point", &target))?;
            } else if std::fs::symlink_metadata(&target).is_err() {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(context("creating the mount point's directory", parent))?;
                }
                std::fs::write(&target, b"").map_err(context("creating the mount point", &target))?;
            }
        }
        Ok(())
    }

    /// The script run as pid 1 of the new namespaces, before the command.
    fn inner_script(&self, bins: &Binaries) -> String {
        let mount = quote_path(&bins.mount);
        let mut lines = vec!["set -e".to_string()];
        if let Some(root) = &self.rootfs {
            let dev = root.join("dev");
            lines.push(format!("{mount} -t tmpfs -o nosuid,mode=755 k-dev {}", quote_path(&dev)));
            lines.push(format!(
                "for d in null zero full random urandom tty; do [ -e \"/dev/$d\" ] || continue; : > {dev}/\"$d\"; \
                 {mount} --bind \"/dev/$d\" {dev}/\"$d\"; done",
                dev = quote_path(&dev)
            ));
            let shm = dev.join("shm");
            lines.push(format!("mkdir -p {}", quote_path(&shm)));
            lines.push(format!("{mount} -t tmpfs -o nosuid,nodev,mode=1777 k-shm {}", quote_path(&shm)));
        }
        for m in &self.mounts {
            let target = quote_path(&self.host_path(&m.target));
            lines.push(format!("{mount} --rbind {} {target}", quote_path(&m.source)));
            if m.readonly {
                lines.push(format!("{mount} -o remount,bind,ro {target}"));
            }
        }
        let mut exec = format!("exec {} -i", quote_path(&bins.env));
        for (k, v) in &self.env {
            exec.push(' ');
            exec.push_str(&quote(&format!("{k}={v}")));
        }
        exec.push(' ');
        exec.push_str(&quote_path(&bins.unshare));
        if let Some(root) = &self.rootfs {
            exec.push_str(&format!(" --root={}", quote_path(root)));
        }
        exec.push_str(&format!(" --wd={} -- \"$@\"", quote(&self.working_dir)));
        lines.push(exec);
        lines.join("\n")
    }

    /// The whole chain, ready to spawn (output piped, stdin empty, killed
    /// when dropped).
    pub(crate) fn command(&self, bins: &Binaries) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&bins.sh);
        cmd.arg("-c").arg(join_script(&self.procs_files, self.oom_score_adj)).arg("k-container");
        cmd.arg(&bins.nsenter).args(["--target", &self.holder_pid.to_string(), "--net", "--uts", "--ipc", "--"]);
        cmd.arg(&bins.unshare).args(["--mount", "--pid", "--fork", "--kill-child"]);
        match &self.rootfs {
            Some(root) => cmd.arg(format!("--mount-proc={}", root.join("proc").display())),
            None => cmd.arg("--mount-proc"),
        };
        cmd.arg("--").arg(&bins.sh).arg("-c").arg(self.inner_script(bins)).arg("k-init").args(&self.argv);
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        cmd
    }
}

/// `echo $$ > f` for every file, the OOM score, then `exec "$@"`.
fn join_script(procs_files: &[PathBuf], oom_score_adj: Option<i64>) -> String {
    let mut steps: Vec<String> = procs_files.iter().map(|f| format!("echo $$ > {}", quote_path(f))).collect();
    if let Some(adj) = oom_score_adj {
        steps.push(format!("echo {adj} > /proc/$$/oom_score_adj"));
    }
    steps.push("exec \"$@\"".into());
    steps.join(" && ")
}

/// The ExecSync chain: joins the container's cgroups, then every namespace
/// of its pid 1, its root and working directory.
pub(crate) fn exec_command(
    bins: &Binaries,
    init_pid: i32,
    procs_files: &[PathBuf],
    env: &[(String, String)],
    argv: &[String],
) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(&bins.sh);
    cmd.arg("-c").arg(join_script(procs_files, None)).arg("k-exec");
    cmd.arg(&bins.env).arg("-i").args(env.iter().map(|(k, v)| format!("{k}={v}")));
    cmd.arg(&bins.nsenter).args(["--target", &init_pid.to_string()]);
    cmd.args(["--net", "--uts", "--ipc", "--mount", "--pid", "--root", "--wd", "--"]).args(argv);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    cmd
}

/// The container's pid 1 (as the host numbers it): the child of the
/// wrapper `wrapper` in another PID namespace, looked up among the
/// cgroup's processes `candidates`.
pub(crate) fn find_init(wrapper: i32, candidates: &[i32]) -> Option<i32> {
    let ns = |pid: i32| std::fs::metadata(format!("/proc/{pid}/ns/pid")).ok().map(|m| (m.dev(), m.ino()));
    let wrapper_ns = ns(wrapper)?;
    candidates.iter().copied().find(|&pid| {
        pid != wrapper && super::stop::parent_of(pid) == Some(wrapper) && ns(pid).is_some_and(|n| n != wrapper_ns)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bins() -> Binaries {
        Binaries {
            sh: "/bin/sh".into(),
            nsenter: "/usr/bin/nsenter".into(),
            unshare: "/usr/bin/unshare".into(),
            env: "/usr/bin/env".into(),
            mount: "/bin/mount".into(),
            sleep: "/bin/sleep".into(),
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("plain"), "'plain'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn scripts() {
        let launch = Launch {
            holder_pid: 42,
            procs_files: vec!["/cg/cpu/k/a/cgroup.procs".into(), "/cg/memory/k/a/cgroup.procs".into()],
            oom_score_adj: Some(-998),
            rootfs: Some("/images/busybox".into()),
            mounts: vec![BindMount { source: "/data".into(), target: "/mnt/d".into(), readonly: true }],
            env: vec![("A".into(), "x y".into()), ("Q".into(), "it's".into())],
            working_dir: "/w".into(),
            argv: vec!["sh".into(), "-c".into(), "echo $$".into()],
        };
        assert_eq!(
            join_script(&launch.procs_files, launch.oom_score_adj),
            "echo $$ > '/cg/cpu/k/a/cgroup.procs' && echo $$ > '/cg/memory/k/a/cgroup.procs' && \
             echo -998 > /proc/$$/oom_score_adj && exec \"$@\""
        );
        let inner = launch.inner_script(&bins());
        assert!(inner.starts_with("set -e\n'/bin/mount' -t tmpfs"), "{inner}");
        assert!(inner.contains("'/bin/mount' --rbind '/data' '/images/busybox/mnt/d'\n"), "{inner}");
        assert!(inner.contains("'/bin/mount' -o remount,bind,ro '/images/busybox/mnt/d'\n"), "{inner}");
        assert!(
            inner.ends_with(
                r#"exec '/usr/bin/env' -i 'A=x y' 'Q=it'\''s' '/usr/bin/unshare' --root='/images/busybox' --wd='/w' -- "$@""#
            ),
            "{inner}"
        );
        let cmd = launch.command(&bins());
        let args: Vec<String> = cmd.as_std().get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        let at = args.iter().position(|a| a == "k-container").unwrap();
        assert_eq!(
            args[at + 1..at + 18],
            [
                "/usr/bin/nsenter",
                "--target",
                "42",
                "--net",
                "--uts",
                "--ipc",
                "--",
                "/usr/bin/unshare",
                "--mount",
                "--pid",
                "--fork",
                "--kill-child",
                "--mount-proc=/images/busybox/proc",
                "--",
                "/bin/sh",
                "-c",
                &inner,
            ]
        );
        assert_eq!(args[at + 18..], ["k-init", "sh", "-c", "echo $$"]);

        let host = Launch { rootfs: None, mounts: vec![], oom_score_adj: None, ..launch };
        let inner = host.inner_script(&bins());
        assert!(!inner.contains("tmpfs"));
        assert!(inner.contains("--wd='/w'") && !inner.contains("--root"), "{inner}");
        let args: Vec<String> =
            host.command(&bins()).as_std().get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        assert!(args.contains(&"--mount-proc".to_string()));

        let exec = exec_command(&bins(), 7, &host.procs_files, &[("A".into(), "1".into())], &["ls".into()]);
        let args: Vec<String> = exec.as_std().get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(
            args[2..],
            [
                "k-exec",
                "/usr/bin/env",
                "-i",
                "A=1",
                "/usr/bin/nsenter",
                "--target",
                "7",
                "--net",
                "--uts",
                "--ipc",
                "--mount",
                "--pid",
                "--root",
                "--wd",
                "--",
                "ls"
            ]
        );
    }

    #[test]
    fn prepare_makes_mount_points() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("rootfs");
        let data = tmp.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(tmp.path().join("resolv.conf"), "nameserver 10.0.0.10\n").unwrap();
        let launch = Launch {
            holder_pid: 1,
            procs_files: vec![],
            oom_score_adj: None,
            rootfs: Some(root.clone()),
            mounts: vec![
                BindMount { source: data, target: "/mnt/data".into(), readonly: false },
                BindMount { source: tmp.path().join("resolv.conf"), target: "/etc/resolv.conf".into(), readonly: true },
            ],
            env: vec![],
            working_dir: "/work/dir".into(),
            argv: vec!["true".into()],
        };
        launch.prepare().unwrap();
        assert!(root.join("proc").is_dir() && root.join("dev").is_dir() && root.join("work/dir").is_dir());
        assert!(root.join("mnt/data").is_dir());
        assert!(root.join("etc/resolv.conf").is_file());
        let missing = Launch {
            mounts: vec![BindMount { source: tmp.path().join("nope"), target: "/x".into(), readonly: false }],
            ..launch
        };
        let err = missing.prepare().unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
