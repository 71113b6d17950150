//! Container cgroups, v1 or v2 (detected).
//!
//! - **v1** (a hierarchy per controller under the mount point,
//!   `/sys/fs/cgroup/<controller>`): a container gets
//!   `<controller>/<root>/<sandbox>/<container>` in each of `cpu`,
//!   `cpuacct`, `memory` and `pids` that is mounted (hierarchies mounted
//!   together, like `cpu,cpuacct`, count once). CPU shares go to
//!   `cpu.shares`, quota and period to `cpu.cfs_quota_us` and
//!   `cpu.cfs_period_us`, the memory limit to `memory.limit_in_bytes` and
//!   (no swap beyond it, as the kubelet asks) `memory.memsw.limit_in_bytes`.
//!   OOM kills are counted in `memory.oom_control`'s `oom_kill`; usage comes
//!   from `cpuacct.usage` and `memory.usage_in_bytes` minus
//!   `total_inactive_file`.
//! - **v2** (unified, `cgroup.controllers` at the mount point): one
//!   directory `<root>/<sandbox>/<container>`, with `cpu`, `memory` and
//!   `pids` enabled in the `cgroup.subtree_control` of every level above
//!   it; shares become `cpu.weight` (`1 + ((shares − 2) × 9999) / 262142`,
//!   the kubelet's and runc's conversion), quota and period `cpu.max`, the
//!   limit `memory.max` (and `memory.swap.max` 0); OOM kills come from
//!   `memory.events`, usage from `cpu.stat` `usage_usec` and
//!   `memory.current` minus `inactive_file`.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cri::LinuxContainerResources;

/// The v1 controllers a container joins.
const V1_CONTROLLERS: [&str; 4] = ["cpu", "cpuacct", "memory", "pids"];

/// The v2 controllers enabled for containers.
const V2_CONTROLLERS: [&str; 3] = ["cpu", "memory", "pids"];

/// Which cgroup layout the host has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Hierarchy {
    /// One hierarchy per controller: `(controller, its mount directory)`.
    V1(Vec<(&'static str, PathBuf)>),
    /// The unified hierarchy's mount point.
    V2(PathBuf),
}

impl Hierarchy {
    /// The layout under `mount` (`/sys/fs/cgroup`).
    pub(crate) fn detect(mount: &Path) -> io::Result<Hierarchy> {
        if mount.join("cgroup.controllers").is_file() {
            return Ok(Hierarchy::V2(mount.to_path_buf()));
        }
        let mut controllers: Vec<(&'static str, PathBuf)> = Vec::new();
        let mut seen: Vec<PathBuf> = Vec::new();
        for name in V1_CONTROLLERS {
            let dir = mount.join(name);
            if !dir.join("cgroup.procs").is_file() {
                continue;
            }
            let real = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
            if seen.contains(&real) {
                continue;
            }
            seen.push(real);
            controllers.push((name, dir));
        }
        if !controllers.iter().any(|(c, _)| *c == "memory") || !controllers.iter().any(|(c, _)| *c == "cpu") {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "no usable cgroups under {}: neither cgroup v2 (cgroup.controllers) nor the v1 cpu and memory \
                     hierarchies",
                    mount.display()
                ),
            ));
        }
        Ok(Hierarchy::V1(controllers))
    }

    /// Whether this is cgroup v2.
    pub(crate) fn is_v2(&self) -> bool {
        matches!(self, Hierarchy::V2(_))
    }

    /// The cgroup at `rel` (relative to each hierarchy's root).
    pub(crate) fn cgroup(&self, rel: &Path) -> Cgroup {
        match self {
            Hierarchy::V1(controllers) => Cgroup {
                v2_root: None,
                rel: rel.to_path_buf(),
                dirs: controllers.iter().map(|(c, dir)| (*c, dir.join(rel))).collect(),
            },
            Hierarchy::V2(root) => {
                Cgroup { v2_root: Some(root.clone()), rel: rel.to_path_buf(), dirs: vec![("unified", root.join(rel))] }
            }
        }
    }
}

/// One cgroup (a directory per v1 controller, or one v2 directory).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cgroup {
    v2_root: Option<PathBuf>,
    rel: PathBuf,
    dirs: Vec<(&'static str, PathBuf)>,
}

impl Cgroup {
    /// Its directories.
    pub(crate) fn dirs(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|(_, d)| d.clone()).collect()
    }

    /// The directory holding `controller`'s files.
    fn dir(&self, controller: &str) -> Option<&Path> {
        if self.v2_root.is_some() {
            return self.dirs.first().map(|(_, d)| d.as_path());
        }
        self.dirs.iter().find(|(c, _)| *c == controller).map(|(_, d)| d.as_path())
    }

    /// The `cgroup.procs` files a process writes its pid to, to join.
    pub(crate) fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|(_, d)| d.join("cgroup.procs")).collect()
    }

    /// Creates the directories (and, on v2, enables the controllers on
    /// the way down).
    pub(crate) fn create(&self) -> io::Result<()> {
        if let Some(root) = &self.v2_root {
            // Every level above the container's (the root, then each
            // ancestor of `rel`) enables the controllers its children need.
            let mut dir = root.clone();
            for comp in self.rel.components() {
                create_dir(&dir)?;
                enable_controllers(&dir);
                dir.push(comp);
            }
            return create_dir(&dir);
        }
        for (_, dir) in &self.dirs {
            create_dir(dir)?;
        }
        Ok(())
    }

    /// Writes `r` into the cgroup's files. Zero fields clear their limit
    /// (shares stay as they are when 0).
    pub(crate) fn apply(&self, r: &LinuxContainerResources) -> io::Result<()> {
        if self.v2_root.is_some() { self.apply_v2(r) } else { self.apply_v1(r) }
    }

    fn apply_v1(&self, r: &LinuxContainerResources) -> io::Result<()> {
        if let Some(cpu) = self.dir("cpu") {
            if r.cpu_shares > 0 {
                write(cpu, "cpu.shares", &r.cpu_shares.clamp(2, 262_144).to_string())?;
            }
            if r.cpu_period > 0 {
                write(cpu, "cpu.cfs_period_us", &r.cpu_period.to_string())?;
            }
            let quota = if r.cpu_quota > 0 { r.cpu_quota } else { -1 };
            write(cpu, "cpu.cfs_quota_us", &quota.to_string())?;
        }
        if let Some(memory) = self.dir("memory") {
            let limit = if r.memory_limit_in_bytes > 0 { r.memory_limit_in_bytes.to_string() } else { "-1".into() };
            let memsw = memory.join("memory.memsw.limit_in_bytes").is_file();
            // memsw must stay at or above the memory limit: lowering goes
            // memory first, raising memsw first.
            if let Err(first) = write(memory, "memory.limit_in_bytes", &limit) {
                if !memsw {
                    return Err(first);
                }
                write(memory, "memory.memsw.limit_in_bytes", &limit)?;
                write(memory, "memory.limit_in_bytes", &limit)?;
            } else if memsw {
                write(memory, "memory.memsw.limit_in_bytes", &limit)?;
            }
        }
        Ok(())
    }

    fn apply_v2(&self, r: &LinuxContainerResources) -> io::Result<()> {
        let Some(dir) = self.dir("unified") else { return Ok(()) };
        if r.cpu_shares > 0 && dir.join("cpu.weight").exists() {
            write(dir, "cpu.weight", &cpu_weight(r.cpu_shares).to_string())?;
        }
        if dir.join("cpu.max").exists() {
            let period = if r.cpu_period > 0 { r.cpu_period } else { 100_000 };
            let quota = if r.cpu_quota > 0 { r.cpu_quota.to_string() } else { "max".into() };
            write(dir, "cpu.max", &format!("{quota} {period}"))?;
        }
        if dir.join("memory.max").exists() {
            let limit = if r.memory_limit_in_bytes > 0 { r.memory_limit_in_bytes.to_string() } else { "max".into() };
            write(dir, "memory.max", &limit)?;
            if dir.join("memory.swap.max").exists() {
                let swap = if r.memory_limit_in_bytes > 0 { "0" } else { "max" };
                write(dir, "memory.swap.max", swap)?;
            }
        }
        Ok(())
    }

    /// The processes in the cgroup (every directory's `cgroup.procs`).
    pub(crate) fn pids(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = Vec::new();
        for file in self.procs_files() {
            if let Ok(text) = std::fs::read_to_string(&file) {
                for pid in text.split_whitespace().filter_map(|p| p.parse().ok()) {
                    if !pids.contains(&pid) {
                        pids.push(pid);
                    }
                }
            }
        }
        pids
    }

    /// How many processes the kernel's OOM killer killed in the cgroup.
    pub(crate) fn oom_kills(&self) -> u64 {
        let file = if self.v2_root.is_some() { "memory.events" } else { "memory.oom_control" };
        self.dir("memory").and_then(|d| read_key(&d.join(file), "oom_kill")).unwrap_or(0)
    }

    /// CPU time used, ns.
    pub(crate) fn cpu_usage_ns(&self) -> u64 {
        if self.v2_root.is_some() {
            return self.dir("cpu").and_then(|d| read_key(&d.join("cpu.stat"), "usage_usec")).unwrap_or(0) * 1000;
        }
        let dir = self.dir("cpuacct").or_else(|| self.dir("cpu"));
        dir.and_then(|d| read_number(&d.join("cpuacct.usage"))).unwrap_or(0)
    }

    /// Memory in use minus what can be reclaimed easily (inactive file
    /// pages), as the kubelet counts the working set.
    pub(crate) fn working_set_bytes(&self) -> u64 {
        let Some(dir) = self.dir("memory") else { return 0 };
        let (usage, inactive) = if self.v2_root.is_some() {
            (read_number(&dir.join("memory.current")), read_key(&dir.join("memory.stat"), "inactive_file"))
        } else {
            (read_number(&dir.join("memory.usage_in_bytes")), read_key(&dir.join("memory.stat"), "total_inactive_file"))
        };
        usage.unwrap_or(0).saturating_sub(inactive.unwrap_or(0))
    }

    /// Removes the directories, waiting up to `patience` for processes
    /// that are still leaving. Missing directories are fine.
    pub(crate) async fn remove(&self, patience: Duration) -> io::Result<()> {
        let deadline = tokio::time::Instant::now() + patience;
        for (_, dir) in &self.dirs {
            loop {
                match std::fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                    Err(e) if tokio::time::Instant::now() < deadline => {
                        tracing::debug!("removing the cgroup {}: {e}; retrying", dir.display());
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Err(e) => {
                        return Err(io::Error::new(e.kind(), format!("removing the cgroup {}: {e}", dir.display())));
                    }
                }
            }
        }
        Ok(())
    }
}

/// cgroup v1 CPU shares as a v2 `cpu.weight` (runc's conversion, which
/// the kubelet uses): 2 → 1, 1024 → 39, 262144 → 10000.
pub(crate) fn cpu_weight(shares: i64) -> i64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

fn create_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| io::Error::new(e.kind(), format!("creating the cgroup {}: {e}", dir.display())))
}

/// Enables the v2 controllers (those available) for `dir`'s children; best
/// effort (a controller that cannot be enabled is left out).
fn enable_controllers(dir: &Path) {
    let available = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let enabled = std::fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    for controller in V2_CONTROLLERS {
        let has = |text: &str| text.split_whitespace().any(|c| c == controller);
        if has(&available) && !has(&enabled) {
            let control = dir.join("cgroup.subtree_control");
            if let Err(e) = std::fs::write(&control, format!("+{controller}")) {
                tracing::warn!("enabling the {controller} controller in {}: {e}", control.display());
            }
        }
    }
}

fn write(dir: &Path, file: &str, value: &str) -> io::Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, value)
        .map_err(|e| io::Error::new(e.kind(), format!("writing {value:?} to {}: {e}", path.display())))
}

fn read_number(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The value of `key` in a flat-keyed file (`key value` lines).
fn read_key(path: &Path, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        if k == key { v.trim().parse().ok() } else { None }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path, names: &[(&str, &str)]) {
        std::fs::create_dir_all(dir).unwrap();
        for (name, content) in names {
            std::fs::write(dir.join(name), content).unwrap();
        }
    }

    fn read(path: PathBuf) -> String {
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn weights() {
        assert_eq!(cpu_weight(2), 1);
        assert_eq!(cpu_weight(1024), 39);
        assert_eq!(cpu_weight(262_144), 10_000);
        assert_eq!(cpu_weight(1), 1);
        assert_eq!(cpu_weight(1_000_000), 10_000);
    }

    #[test]
    fn detects_v1_and_v2() {
        let tmp = tempfile::tempdir().unwrap();
        let v1 = tmp.path().join("v1");
        for c in ["cpu", "memory", "pids", "devices"] {
            files(&v1.join(c), &[("cgroup.procs", "")]);
        }
        // cpuacct mounted together with cpu: a link to the same directory.
        std::os::unix::fs::symlink(v1.join("cpu"), v1.join("cpuacct")).unwrap();
        let h = Hierarchy::detect(&v1).unwrap();
        assert!(!h.is_v2());
        assert_eq!(
            h,
            Hierarchy::V1(vec![("cpu", v1.join("cpu")), ("memory", v1.join("memory")), ("pids", v1.join("pids"))])
        );

        let v2 = tmp.path().join("v2");
        files(&v2, &[("cgroup.controllers", "cpu memory pids"), ("cgroup.procs", "")]);
        assert_eq!(Hierarchy::detect(&v2).unwrap(), Hierarchy::V2(v2.clone()));

        let empty = tmp.path().join("none");
        std::fs::create_dir_all(&empty).unwrap();
        let err = Hierarchy::detect(&empty).unwrap_err();
        assert!(err.to_string().contains("no usable cgroups"), "{err}");
    }

    #[test]
    fn v1_files() {
        let tmp = tempfile::tempdir().unwrap();
        let h = Hierarchy::V1(vec![("cpu", tmp.path().join("cpu")), ("memory", tmp.path().join("memory"))]);
        let cg = h.cgroup(Path::new("k/sb/c1"));
        cg.create().unwrap();
        assert_eq!(cg.dirs(), vec![tmp.path().join("cpu/k/sb/c1"), tmp.path().join("memory/k/sb/c1")]);
        assert_eq!(cg.procs_files()[1], tmp.path().join("memory/k/sb/c1/cgroup.procs"));
        let mem = tmp.path().join("memory/k/sb/c1");
        files(&mem, &[("memory.memsw.limit_in_bytes", "")]);
        let r = LinuxContainerResources {
            cpu_shares: 512,
            cpu_quota: 50_000,
            cpu_period: 100_000,
            memory_limit_in_bytes: 64 << 20,
            ..Default::default()
        };
        cg.apply(&r).unwrap();
        let cpu = tmp.path().join("cpu/k/sb/c1");
        assert_eq!(read(cpu.join("cpu.shares")), "512");
        assert_eq!(read(cpu.join("cpu.cfs_quota_us")), "50000");
        assert_eq!(read(cpu.join("cpu.cfs_period_us")), "100000");
        assert_eq!(read(mem.join("memory.limit_in_bytes")), (64u64 << 20).to_string());
        assert_eq!(read(mem.join("memory.memsw.limit_in_bytes")), (64u64 << 20).to_string());
        cg.apply(&LinuxContainerResources::default()).unwrap();
        assert_eq!(read(cpu.join("cpu.cfs_quota_us")), "-1");
        assert_eq!(read(mem.join("memory.limit_in_bytes")), "-1");
        assert_eq!(read(cpu.join("cpu.shares")), "512", "shares 0 leaves them");

        files(&mem, &[("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")]);
        assert_eq!(cg.oom_kills(), 2);
        files(&mem, &[("memory.usage_in_bytes", "10000\n"), ("memory.stat", "cache 5\ntotal_inactive_file 4000\n")]);
        assert_eq!(cg.working_set_bytes(), 6000);
        files(&cpu, &[("cpuacct.usage", "123456789\n")]);
        assert_eq!(cg.cpu_usage_ns(), 123_456_789, "cpuacct files found in cpu when mounted together");
        files(&cpu, &[("cgroup.procs", "5\n7\n")]);
        files(&mem, &[("cgroup.procs", "7\n9\n")]);
        assert_eq!(cg.pids(), vec![5, 7, 9]);
    }

    #[test]
    fn v2_files() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        files(&root, &[("cgroup.controllers", "cpuset cpu io memory pids"), ("cgroup.subtree_control", "")]);
        let h = Hierarchy::V2(root.clone());
        let cg = h.cgroup(Path::new("k/sb/c1"));
        // A fake tree: the kernel would fill the new directories; here the
        // files the code reads are made by hand.
        files(&root.join("k"), &[("cgroup.controllers", "cpu memory pids"), ("cgroup.subtree_control", "")]);
        cg.create().unwrap();
        assert!(root.join("k/sb/c1").is_dir());
        // Writing a regular file replaces it: the last controller enabled is what is left.
        assert_eq!(read(root.join("cgroup.subtree_control")), "+pids");
        assert_eq!(read(root.join("k/cgroup.subtree_control")), "+pids");
        let dir = root.join("k/sb/c1");
        files(&dir, &[("cpu.weight", ""), ("cpu.max", ""), ("memory.max", ""), ("memory.swap.max", "")]);
        let r = LinuxContainerResources {
            cpu_shares: 1024,
            cpu_quota: 20_000,
            memory_limit_in_bytes: 1 << 30,
            ..Default::default()
        };
        cg.apply(&r).unwrap();
        assert_eq!(read(dir.join("cpu.weight")), "39");
        assert_eq!(read(dir.join("cpu.max")), "20000 100000");
        assert_eq!(read(dir.join("memory.max")), (1u64 << 30).to_string());
        assert_eq!(read(dir.join("memory.swap.max")), "0");
        cg.apply(&LinuxContainerResources { cpu_period: 50_000, ..Default::default() }).unwrap();
        assert_eq!(read(dir.join("cpu.max")), "max 50000");
        assert_eq!(read(dir.join("memory.max")), "max");

        files(&dir, &[("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")]);
        assert_eq!(cg.oom_kills(), 1);
        files(&dir, &[("cpu.stat", "usage_usec 1500\nuser_usec 1000\n"), ("memory.current", "8192\n")]);
        files(&dir, &[("memory.stat", "anon 1\ninactive_file 4096\n")]);
        assert_eq!(cg.cpu_usage_ns(), 1_500_000);
        assert_eq!(cg.working_set_bytes(), 4096);
    }

    #[tokio::test]
    async fn remove_is_idempotent() {
        let tmp = tempfile::tempdir().unwrap();
        let h = Hierarchy::V1(vec![("cpu", tmp.path().join("cpu")), ("memory", tmp.path().join("memory"))]);
        let cg = h.cgroup(Path::new("k/sb/c1"));
        cg.create().unwrap();
        cg.remove(Duration::from_millis(100)).await.unwrap();
        assert!(!tmp.path().join("cpu/k/sb/c1").exists());
        assert!(tmp.path().join("cpu/k/sb").exists());
        cg.remove(Duration::from_millis(100)).await.unwrap();
    }
}
