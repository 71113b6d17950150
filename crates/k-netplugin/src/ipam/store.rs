//! Where reservations live: the [`Store`] trait and [`DiskStore`], the
//! reference host-local's data directory format, so both plugins can share
//! one directory.
//!
//! `<dataDir>/<network>/` (0755) holds one file per reserved address,
//! named by the address's text (`10.1.0.5`, `fd00::5`), 0644, holding
//! `<containerID>\r\n<ifname>` with no trailing newline (files of older
//! versions hold `<containerID>` alone); creating it with `O_EXCL` is the
//! reservation. `last_reserved_ip.<i>` holds the last address reserved in
//! range set `i`. `lock` (empty, created 0750 as the reference does) is
//! locked with `flock(LOCK_EX)` around every operation.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, Mode, OFlags};

use super::range::canonical_ip;
use crate::types::{CniError, ErrorCode};

/// The prefix of the per-range-set last-reserved files.
pub const LAST_RESERVED_PREFIX: &str = "last_reserved_ip.";
/// The lock file's name.
pub const LOCK_FILE: &str = "lock";
/// What separates the container id from the interface name in an address
/// file.
pub const LINE_BREAK: &str = "\r\n";

/// Who holds an address, as its file says.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner {
    /// The container id.
    pub container_id: String,
    /// The interface; `None` for files of older versions, which name the
    /// container alone.
    pub ifname: Option<String>,
}

impl Owner {
    /// Reads an address file's content (surrounding whitespace ignored).
    pub fn parse(content: &str) -> Owner {
        match content.trim().split_once(LINE_BREAK) {
            Some((id, ifname)) => Owner { container_id: id.to_owned(), ifname: Some(ifname.to_owned()) },
            None => Owner { container_id: content.trim().to_owned(), ifname: None },
        }
    }

    /// The file content for `id` and `ifname`: `<id>\r\n<ifname>`.
    pub fn content(id: &str, ifname: &str) -> String {
        format!("{}{LINE_BREAK}{ifname}", id.trim())
    }

    /// Whether the address belongs to `id`'s `ifname` (an old-format file
    /// belongs to every interface of `id`).
    pub fn matches(&self, id: &str, ifname: &str) -> bool {
        self.container_id == id.trim() && self.ifname.as_deref().is_none_or(|i| i == ifname)
    }
}

/// The reservations of one network. Callers hold the store's lock (see
/// [`DiskStore::lock`]) around a whole operation; the methods do not lock.
pub trait Store: fmt::Debug + Send + Sync {
    /// Reserves `ip` for `id`/`ifname` and records it as range set
    /// `range_set`'s last reservation. `Ok(false)` when it is taken.
    fn reserve(&self, id: &str, ifname: &str, ip: IpAddr, range_set: usize) -> Result<bool, CniError>;

    /// The last address reserved in range set `range_set`, if recorded and
    /// readable.
    fn last_reserved_ip(&self, range_set: usize) -> Result<Option<IpAddr>, CniError>;

    /// Frees `ip`; `Ok(false)` when it was not reserved.
    fn release(&self, ip: IpAddr) -> Result<bool, CniError>;

    /// Frees every address of `id`/`ifname` (and the old-format addresses
    /// of `id`); returns them.
    fn release_by_id(&self, id: &str, ifname: &str) -> Result<Vec<IpAddr>, CniError>;

    /// The addresses of `id`/`ifname` (old-format addresses of `id`
    /// included), sorted.
    fn get_by_id(&self, id: &str, ifname: &str) -> Result<Vec<IpAddr>, CniError> {
        Ok(self.allocations()?.into_iter().filter(|(_, o)| o.matches(id, ifname)).map(|(ip, _)| ip).collect())
    }

    /// Every reservation, sorted by address.
    fn allocations(&self) -> Result<Vec<(IpAddr, Owner)>, CniError>;
}

fn io_error(what: impl fmt::Display, e: &io::Error) -> CniError {
    CniError::new(ErrorCode::Io, what.to_string()).with_details(e.to_string())
}

/// The reference's on-disk store: `<dataDir>/<network>/`.
#[derive(Debug)]
pub struct DiskStore {
    dir: PathBuf,
    lock: OwnedFd,
}

/// The store's lock, held until dropped.
#[derive(Debug)]
#[must_use = "the lock is released when this is dropped"]
pub struct StoreLock<'a> {
    store: &'a DiskStore,
}

impl Drop for StoreLock<'_> {
    fn drop(&mut self) {
        // Closing the store's descriptor would release it as well.
        let _ = rustix::fs::flock(&self.store.lock, FlockOperation::Unlock);
    }
}

impl DiskStore {
    /// Opens network `network`'s store under `data_dir`, creating the
    /// directory (0755) and the lock file (0750) as the reference does.
    /// Code 5 when that fails.
    pub fn open(data_dir: &Path, network: &str) -> Result<Self, CniError> {
        let dir = data_dir.join(network);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&dir)
            .map_err(|e| io_error(format!("creating {}", dir.display()), &e))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock =
            rustix::fs::open(&lock_path, OFlags::CREATE | OFlags::RDONLY | OFlags::CLOEXEC, Mode::from_raw_mode(0o750))
                .map_err(|e| io_error(format!("opening {}", lock_path.display()), &e.into()))?;
        Ok(DiskStore { dir, lock })
    }

    /// The network's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes the store's exclusive lock (`flock(LOCK_EX)` on `lock`),
    /// waiting for other holders — the reference plugin included. This
    /// blocks the thread: call it off the async runtime.
    pub fn lock(&self) -> Result<StoreLock<'_>, CniError> {
        loop {
            match rustix::fs::flock(&self.lock, FlockOperation::LockExclusive) {
                Ok(()) => return Ok(StoreLock { store: self }),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(io_error(format!("locking {}", self.dir.join(LOCK_FILE).display()), &e.into())),
            }
        }
    }

    /// Takes the lock if it is free; `Ok(None)` when someone holds it.
    pub fn try_lock(&self) -> Result<Option<StoreLock<'_>>, CniError> {
        match rustix::fs::flock(&self.lock, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Some(StoreLock { store: self })),
            Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
            Err(e) => Err(io_error(format!("locking {}", self.dir.join(LOCK_FILE).display()), &e.into())),
        }
    }

    fn address_path(&self, ip: IpAddr) -> PathBuf {
        self.dir.join(canonical_ip(ip).to_string())
    }

    fn write_new(path: &Path, content: &str) -> io::Result<()> {
        let mut file: File = OpenOptions::new().read(true).write(true).create_new(true).mode(0o644).open(path)?;
        if let Err(e) = file.write_all(content.as_bytes()) {
            drop(file);
            let _ = fs::remove_file(path);
            return Err(e);
        }
        Ok(())
    }

    fn write_last_reserved(&self, ip: IpAddr, range_set: usize) -> io::Result<()> {
        let path = self.dir.join(format!("{LAST_RESERVED_PREFIX}{range_set}"));
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o644).open(path)?;
        file.write_all(canonical_ip(ip).to_string().as_bytes())
    }

    /// Removes the address files whose owner `release` picks; returns them.
    pub fn release_where(&self, mut release: impl FnMut(&Owner) -> bool) -> Result<Vec<IpAddr>, CniError> {
        let mut released = Vec::new();
        for (ip, owner) in self.allocations()? {
            if release(&owner) && self.release(ip)? {
                released.push(ip);
            }
        }
        Ok(released)
    }
}

impl Store for DiskStore {
    fn reserve(&self, id: &str, ifname: &str, ip: IpAddr, range_set: usize) -> Result<bool, CniError> {
        let path = self.address_path(ip);
        match DiskStore::write_new(&path, &Owner::content(id, ifname)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(false),
            Err(e) => return Err(io_error(format!("reserving {}", path.display()), &e)),
        }
        self.write_last_reserved(ip, range_set)
            .map_err(|e| io_error(format!("recording the last reserved address of range set {range_set}"), &e))?;
        Ok(true)
    }

    fn last_reserved_ip(&self, range_set: usize) -> Result<Option<IpAddr>, CniError> {
        let path = self.dir.join(format!("{LAST_RESERVED_PREFIX}{range_set}"));
        match fs::read_to_string(&path) {
            Ok(text) => Ok(text.trim().parse::<IpAddr>().ok().map(canonical_ip)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(format!("reading {}", path.display()), &e)),
        }
    }

    fn release(&self, ip: IpAddr) -> Result<bool, CniError> {
        let path = self.address_path(ip);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error(format!("releasing {}", path.display()), &e)),
        }
    }

    fn release_by_id(&self, id: &str, ifname: &str) -> Result<Vec<IpAddr>, CniError> {
        self.release_where(|owner| owner.matches(id, ifname))
    }

    fn allocations(&self) -> Result<Vec<(IpAddr, Owner)>, CniError> {
        let entries = fs::read_dir(&self.dir).map_err(|e| io_error(format!("listing {}", self.dir.display()), &e))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error(format!("listing {}", self.dir.display()), &e))?;
            // Only files named by an address are reservations.
            let Some(ip) = entry.file_name().to_str().and_then(|n| n.parse::<IpAddr>().ok()) else {
                continue;
            };
            match fs::read(entry.path()) {
                Ok(bytes) if entry.file_type().is_ok_and(|t| t.is_file()) => {
                    out.push((canonical_ip(ip), Owner::parse(&String::from_utf8_lossy(&bytes))));
                }
                // Gone since listed (a release without our lock), or not a file.
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(format!("reading {}", entry.path().display()), &e)),
            }
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_reference_format_byte_for_byte() {
        let tmp = tempfile::tempdir().unwrap();
        let store = DiskStore::open(tmp.path(), "net1").unwrap();
        let dir = tmp.path().join("net1");
        assert_eq!(store.dir(), dir);
        let _lock = store.lock().unwrap();
        assert!(store.reserve("c1", "eth0", ip("10.1.0.2"), 0).unwrap());
        assert!(!store.reserve("c2", "eth0", ip("10.1.0.2"), 0).unwrap(), "O_EXCL: taken");
        assert!(store.reserve(" c2 ", "eth1", ip("fd00::2"), 1).unwrap());
        assert_eq!(fs::read(dir.join("10.1.0.2")).unwrap(), b"c1\r\neth0");
        assert_eq!(fs::read(dir.join("fd00::2")).unwrap(), b"c2\r\neth1", "the id is trimmed");
        assert_eq!(fs::read(dir.join("last_reserved_ip.0")).unwrap(), b"10.1.0.2");
        assert_eq!(fs::read(dir.join("last_reserved_ip.1")).unwrap(), b"fd00::2");
        assert_eq!(fs::read(dir.join("lock")).unwrap(), b"");
        // The reference's modes under the usual umask 022.
        let umask = !mode(&dir) & 0o022;
        assert_eq!(mode(&dir), 0o755 & !umask);
        assert_eq!(mode(&dir.join("10.1.0.2")), 0o644 & !umask);
        assert_eq!(mode(&dir.join("last_reserved_ip.0")), 0o644 & !umask);
        assert_eq!(mode(&dir.join("lock")), 0o750 & !umask);
        assert_eq!(store.last_reserved_ip(1).unwrap(), Some(ip("fd00::2")));
        assert_eq!(store.last_reserved_ip(2).unwrap(), None);
    }

    #[test]
    fn release_by_id_get_by_id_and_old_files() {
        let tmp = tempfile::tempdir().unwrap();
        let store = DiskStore::open(tmp.path(), "n").unwrap();
        let dir = store.dir().to_path_buf();
        store.reserve("a", "eth0", ip("10.1.0.2"), 0).unwrap();
        store.reserve("a", "eth1", ip("10.1.0.3"), 0).unwrap();
        store.reserve("b", "eth0", ip("10.1.0.4"), 0).unwrap();
        fs::write(dir.join("10.1.0.5"), "a\n").unwrap(); // an older version's file
        fs::write(dir.join("notes"), "a\r\neth0").unwrap(); // not an address: never touched
        assert_eq!(store.get_by_id("a", "eth0").unwrap(), [ip("10.1.0.2"), ip("10.1.0.5")]);
        assert_eq!(store.get_by_id("a", "eth9").unwrap(), [ip("10.1.0.5")]);
        assert!(store.get_by_id("zz", "eth0").unwrap().is_empty());
        let all = store.allocations().unwrap();
        assert_eq!(all.len(), 4);
        assert_eq!(all[3].1, Owner { container_id: "a".into(), ifname: None });
        assert_eq!(store.release_by_id("a", "eth0").unwrap(), [ip("10.1.0.2"), ip("10.1.0.5")]);
        assert!(store.release_by_id("a", "eth0").unwrap().is_empty(), "idempotent");
        assert!(!store.release(ip("10.1.0.2")).unwrap());
        let left: Vec<IpAddr> = store.allocations().unwrap().into_iter().map(|(ip, _)| ip).collect();
        assert_eq!(left, [ip("10.1.0.3"), ip("10.1.0.4")]);
        assert!(dir.join("notes").exists());
    }

    #[test]
    fn the_lock_excludes_other_holders() {
        let tmp = tempfile::tempdir().unwrap();
        let one = DiskStore::open(tmp.path(), "n").unwrap();
        let two = DiskStore::open(tmp.path(), "n").unwrap();
        let held = one.lock().unwrap();
        assert!(two.try_lock().unwrap().is_none(), "flock is per open file, so two stores exclude each other");
        drop(held);
        assert!(two.try_lock().unwrap().is_some());
    }

    #[test]
    fn an_unusable_data_dir_is_code_5() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        fs::write(&file, "").unwrap();
        assert_eq!(DiskStore::open(&file, "n").unwrap_err().code, 5);
    }
}
