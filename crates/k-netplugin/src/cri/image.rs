//! CRI's [`ImageService`] without a registry client, and the root
//! filesystem lookup ([`RootfsProvider`]) the process runtime uses.
//!
//! - [`HostImages`]: every image name is "present" and runs on the host's
//!   own filesystem; for a zero-setup demo.
//! - [`LocalImageStore`]: root filesystems imported from a directory or
//!   from an OCI image-layout tarball (what `docker save`, `skopeo copy
//!   oci-archive:` or `buildah push oci-archive:` write), kept under
//!   `<root>/images/<escaped name>/<tag>/rootfs` with an `image.json`
//!   next to each. PullImage of an image that was not imported fails with
//!   NotFound: there is no registry client.
//!
//! # Image references
//!
//! A reference is `name[:tag][@sha256:<hex>]`, with docker's grammar
//! (slightly relaxed): `name` is `/`-separated lowercase components of
//! `[a-z0-9._-]`, the first of which may be a registry host
//! (`localhost`, or containing `.` or `:port`). Normalization is kept
//! simple and does **not** add `docker.io/library/`: a reference without
//! a tag (and without a digest) gets `:latest`, and references are
//! compared after that ([`normalize_reference`]): `nginx` and
//! `nginx:latest` are the same image, `docker.io/library/nginx` is
//! another. A `sha256:<64 hex>` (or the 64 hex digits alone) names an
//! image by id.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{CriError, CriResult, FilesystemUsage, Image, ImageService, ImageSpec};

/// Where a container's root filesystem comes from, for the process runtime.
pub trait RootfsProvider: Send + Sync + std::fmt::Debug {
    /// The root filesystem of `image`; `None`: run on the host's own filesystem.
    fn rootfs(&self, image: &str) -> Option<std::path::PathBuf>;

    /// The image's entrypoint, command, environment and working directory
    /// (to default a container's command), `None` when unknown. The default
    /// knows nothing.
    fn image_config(&self, image: &str) -> Option<ImageConfig> {
        let _ = image;
        None
    }
}

/// What an OCI image's config says about running it (its `config`
/// object: `Entrypoint`, `Cmd`, `Env`, `WorkingDir`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageConfig {
    /// The entrypoint; empty when the image has none.
    #[serde(default)]
    pub entrypoint: Vec<String>,
    /// The default arguments (the command when there is no entrypoint).
    #[serde(default)]
    pub cmd: Vec<String>,
    /// `KEY=value` pairs.
    #[serde(default)]
    pub env: Vec<String>,
    /// The working directory; empty: `/`.
    #[serde(default)]
    pub working_dir: String,
}

// ---------------------------------------------------------------------------
// References
// ---------------------------------------------------------------------------

/// Normalizes an image reference (see the module documentation): checks
/// its grammar and appends `:latest` when it has neither tag nor digest.
///
/// `nginx` → `nginx:latest`; `localhost:5000/a/b` →
/// `localhost:5000/a/b:latest`; `nginx@sha256:<hex>` stays as it is.
pub fn normalize_reference(image: &str) -> CriResult<String> {
    Ok(Reference::parse(image)?.to_string())
}

/// A parsed, validated image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Reference {
    name: String,
    /// `None` only when `digest` is set.
    tag: Option<String>,
    /// `sha256:<hex>`.
    digest: Option<String>,
}

impl Reference {
    fn parse(image: &str) -> CriResult<Reference> {
        let bad = |why: &str| CriError::InvalidArgument(format!("image reference {image:?}: {why}"));
        if image.is_empty() {
            return Err(bad("empty"));
        }
        if image.len() > 512 {
            return Err(bad("too long"));
        }
        let (rest, digest) = match image.split_once('@') {
            Some((rest, digest)) => {
                if parse_sha256_digest(digest).is_none() {
                    return Err(bad("the digest must be sha256:<64 lowercase hex digits>"));
                }
                (rest, Some(digest.to_string()))
            }
            None => (image, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag
            && !valid_tag(tag)
        {
            return Err(bad("a tag is 1 to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'"));
        }
        if !valid_name(name) {
            return Err(bad("a name is '/'-separated components of lowercase [a-z0-9._-] starting and \
                 ending with a letter or digit, the first possibly a registry host[:port]"));
        }
        // A digest pins the content: `name:tag@digest` is `name@digest`.
        let tag = match (tag, &digest) {
            (_, Some(_)) => None,
            (Some(tag), None) => Some(tag.to_string()),
            (None, None) => Some("latest".to_string()),
        };
        Ok(Reference { name: name.to_string(), tag, digest })
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn valid_name(name: &str) -> bool {
    let components: Vec<&str> = name.split('/').collect();
    let host_like = |c: &str| c.contains('.') || c.contains(':') || c == "localhost";
    components.iter().enumerate().all(|(i, c)| {
        if i == 0 && components.len() > 1 && host_like(c) { valid_host(c) } else { valid_path_component(c) }
    })
}

fn valid_host(host: &str) -> bool {
    let (host, port) = match host.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (host, None),
    };
    let b = host.as_bytes();
    let host_ok = !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-'));
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|c| c.is_ascii_digit()));
    host_ok && port_ok
}

fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty()
        && alnum(b[0])
        && alnum(b[b.len() - 1])
        && !c.contains("..")
        && b.iter().all(|&c| alnum(c) || matches!(c, b'.' | b'_' | b'-'))
}

/// `sha256:<64 lowercase hex>` → the hex.
fn parse_sha256_digest(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))).then_some(hex)
}

/// An image id (`sha256:<hex>` or the hex alone) in its `sha256:<hex>` form.
fn as_image_id(image: &str) -> Option<String> {
    if parse_sha256_digest(image).is_some() {
        return Some(image.to_string());
    }
    let with_prefix = format!("sha256:{image}");
    parse_sha256_digest(&with_prefix).is_some().then_some(with_prefix)
}

/// How an `ImageSpec` names an image.
enum Lookup {
    Id(String),
    Reference(Reference),
}

fn lookup(image: &str) -> CriResult<Lookup> {
    match as_image_id(image) {
        Some(id) => Ok(Lookup::Id(id)),
        None => Ok(Lookup::Reference(Reference::parse(image)?)),
    }
}

// ---------------------------------------------------------------------------
// HostImages
// ---------------------------------------------------------------------------

/// Every image is "present" and is the host's own filesystem: for a
/// zero-setup demo. Pull always succeeds; ids are `sha256:<hex SHA-256 of
/// the normalized reference>`; ListImages shows the images pulled or
/// asked about (ImageStatus) and not removed since.
#[derive(Debug, Default)]
pub struct HostImages {
    /// Normalized references.
    seen: Mutex<BTreeSet<String>>,
}

impl HostImages {
    /// No image seen yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn seen(&self) -> MutexGuard<'_, BTreeSet<String>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn image(reference: &str) -> Image {
        Image { id: host_image_id(reference), repo_tags: vec![reference.to_string()], size: 0 }
    }
}

fn host_image_id(reference: &str) -> String {
    format!("sha256:{}", sha256_hex(reference.as_bytes()))
}

impl RootfsProvider for HostImages {
    fn rootfs(&self, _image: &str) -> Option<PathBuf> {
        None
    }
}

#[async_trait]
impl ImageService for HostImages {
    async fn list_images(&self, filter: Option<&ImageSpec>) -> CriResult<Vec<Image>> {
        let seen = self.seen();
        let wanted = match filter.filter(|f| !f.image.is_empty()) {
            Some(f) => Some(lookup(&f.image)?),
            None => None,
        };
        Ok(seen
            .iter()
            .filter(|r| match &wanted {
                None => true,
                Some(Lookup::Id(id)) => host_image_id(r) == *id,
                Some(Lookup::Reference(want)) => **r == want.to_string(),
            })
            .map(|r| Self::image(r))
            .collect())
    }

    async fn image_status(&self, image: &ImageSpec) -> CriResult<Option<Image>> {
        match lookup(&image.image)? {
            Lookup::Id(id) => Ok(self.seen().iter().find(|r| host_image_id(r) == id).map(|r| Self::image(r))),
            Lookup::Reference(reference) => {
                let reference = reference.to_string();
                self.seen().insert(reference.clone());
                Ok(Some(Self::image(&reference)))
            }
        }
    }

    async fn pull_image(&self, image: &ImageSpec) -> CriResult<String> {
        match lookup(&image.image)? {
            Lookup::Id(id) => {
                if self.seen().iter().any(|r| host_image_id(r) == id) {
                    Ok(id)
                } else {
                    Err(CriError::NotFound(format!("image id {id}: pull a name, not an id")))
                }
            }
            Lookup::Reference(reference) => {
                let reference = reference.to_string();
                let id = host_image_id(&reference);
                self.seen().insert(reference);
                Ok(id)
            }
        }
    }

    async fn remove_image(&self, image: &ImageSpec) -> CriResult<()> {
        let lookup = lookup(&image.image)?;
        self.seen().retain(|r| match &lookup {
            Lookup::Id(id) => host_image_id(r) != *id,
            Lookup::Reference(want) => *r != want.to_string(),
        });
        Ok(())
    }

    async fn image_fs_info(&self) -> CriResult<Vec<FilesystemUsage>> {
        Ok(vec![FilesystemUsage { timestamp: now_ns(), mountpoint: "/".to_string(), used_bytes: 0, inodes_used: 0 }])
    }
}

// ---------------------------------------------------------------------------
// LocalImageStore
// ---------------------------------------------------------------------------

/// Root filesystems imported by name and tag, on disk under `root`:
///
/// ```text
/// <root>/images/<escaped name>/<tag>/rootfs/      the filesystem
/// <root>/images/<escaped name>/<tag>/image.json   id, repoTags, size, created, config
/// <root>/tmp/                                     imports in progress, trash
/// ```
///
/// The name is escaped for one directory level (`/`, `:` and anything but
/// `[a-z0-9._-]` become `%XX`). Imports are staged under `tmp/` and
/// renamed into place, so a failed import leaves nothing behind and a
/// re-import replaces the image whole. Containers share an image's
/// rootfs (there is no copy-on-write layer).
///
/// The index is in memory behind a mutex (rebuilt from the `image.json`
/// files by [`open`](Self::open)); disk work runs in `spawn_blocking`.
/// Cloning gives another handle to the same store.
#[derive(Clone, Debug)]
pub struct LocalImageStore {
    inner: Arc<StoreInner>,
}

#[derive(Debug)]
struct StoreInner {
    root: PathBuf,
    /// By normalized `name:tag`.
    index: Mutex<BTreeMap<String, StoredImage>>,
}

#[derive(Clone, Debug)]
struct StoredImage {
    record: ImageRecord,
    /// `<root>/images/<escaped name>/<tag>`.
    dir: PathBuf,
}

/// `image.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageRecord {
    /// `sha256:<hex>`: the config digest of an OCI image; for a directory
    /// import, a hash of the reference and the import time.
    id: String,
    /// The one `name:tag` this directory holds.
    repo_tags: Vec<String>,
    /// Bytes of the regular files of the rootfs.
    size: u64,
    /// Import time, ns since the epoch.
    created: i64,
    /// The OCI manifest's digest (matches `name@sha256:<hex>` references).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    manifest_digest: Option<String>,
    /// From the OCI config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    config: Option<ImageConfig>,
}

const IMAGE_JSON: &str = "image.json";
const ROOTFS: &str = "rootfs";

impl LocalImageStore {
    /// Opens (creating it if needed) the store at `root`: reads every
    /// `images/*/*/image.json` and empties `tmp/` (left-overs of
    /// interrupted imports). Broken image directories are skipped with a
    /// warning.
    pub fn open(root: PathBuf) -> io::Result<Self> {
        fs::create_dir_all(root.join("images"))?;
        let tmp = root.join("tmp");
        if tmp.exists() {
            for entry in fs::read_dir(&tmp)? {
                let path = entry?.path();
                let _ = remove_any(&path);
            }
        }
        fs::create_dir_all(&tmp)?;
        let mut index = BTreeMap::new();
        for name_dir in fs::read_dir(root.join("images"))? {
            let name_dir = name_dir?.path();
            if !name_dir.is_dir() {
                continue;
            }
            for tag_dir in fs::read_dir(&name_dir)? {
                let dir = tag_dir?.path();
                match load_record(&root, &dir) {
                    Ok((reference, record)) => {
                        index.insert(reference, StoredImage { record, dir });
                    }
                    Err(err) => tracing::warn!(dir = %dir.display(), %err, "skipping a broken image directory"),
                }
            }
        }
        Ok(LocalImageStore { inner: Arc::new(StoreInner { root, index: Mutex::new(index) }) })
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Imports the directory tree `dir` as the rootfs of `name_and_tag`
    /// (`:latest` when untagged), replacing an image of that name and tag.
    /// Regular files are hard-linked when possible (so the image shares
    /// them with `dir`: don't modify one of them in place), else copied;
    /// directories and symlinks are recreated with their modes (and, as
    /// root, their owners); sockets and devices are skipped. Returns the
    /// image id.
    pub async fn import_dir(&self, name_and_tag: &str, dir: &Path) -> CriResult<String> {
        let reference = import_reference(name_and_tag)?;
        let this = self.clone();
        let dir = dir.to_path_buf();
        blocking(move || this.import_dir_blocking(&reference, &dir)).await
    }

    /// Imports an OCI image-layout tarball (`oci-layout`, `index.json`,
    /// `blobs/sha256/…`; possibly gzip-compressed as a whole) as the image
    /// `name_and_tag` (`:latest` when untagged), replacing an image of
    /// that name and tag. Returns the image id (the config's digest).
    ///
    /// The manifest: the one of index.json whose
    /// `org.opencontainers.image.ref.name` annotation is the tag (or the
    /// whole reference) when there are several, else the first; an image
    /// index is followed one level, to the host's platform (linux/amd64 on
    /// x86-64) or else its first manifest. Blobs are checked against their
    /// digests and sizes. Layers (tar, gzip or not; zstd is refused) are
    /// applied in order with whiteouts (`.wh.<name>` deletes `<name>` of
    /// the layers below, `.wh..wh..opq` empties its directory of them).
    /// An entry whose path or hard-link target contains `..` fails the
    /// import (InvalidArgument); symlinks are created as they are, but
    /// never followed out of the rootfs while extracting (they resolve as
    /// if the rootfs were `/`). Devices are created only as root; as
    /// another user, a read-only directory of one layer cannot receive
    /// files of a later one.
    pub async fn import_oci_layout(&self, name_and_tag: &str, tarball: &Path) -> CriResult<String> {
        let reference = import_reference(name_and_tag)?;
        let this = self.clone();
        let tarball = tarball.to_path_buf();
        blocking(move || this.import_oci_blocking(&reference, &tarball)).await
    }

    /// The OCI config of `image` (a reference or an id); `None` when the
    /// image is not present or was imported from a directory.
    pub fn image_config(&self, image: &str) -> Option<ImageConfig> {
        let index = self.index();
        find(&index, image).ok()?.first().and_then(|s| s.record.config.clone())
    }

    fn index(&self) -> MutexGuard<'_, BTreeMap<String, StoredImage>> {
        self.inner.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tmp_dir(&self) -> PathBuf {
        self.inner.root.join("tmp")
    }

    fn image_dir(&self, reference: &Reference) -> PathBuf {
        let tag = reference.tag.as_deref().unwrap_or("latest");
        self.inner.root.join("images").join(escape_name(&reference.name)).join(tag)
    }

    fn import_dir_blocking(&self, reference: &Reference, dir: &Path) -> CriResult<String> {
        let meta = fs::metadata(dir).map_err(io_internal(format!("import {}", dir.display())))?;
        if !meta.is_dir() {
            return Err(CriError::InvalidArgument(format!("{} is not a directory", dir.display())));
        }
        let staging = Staging::new(&self.tmp_dir())?;
        let rootfs = staging.path.join(ROOTFS);
        copy_tree(dir, &rootfs, is_root()).map_err(io_internal(format!("copy {}", dir.display())))?;
        let created = now_ns();
        let id = format!("sha256:{}", sha256_hex(format!("dir\n{reference}\n{created}").as_bytes()));
        let size = du(&rootfs).map_err(io_internal("measure the rootfs"))?.bytes;
        let record = ImageRecord {
            id,
            repo_tags: vec![reference.to_string()],
            size,
            created,
            manifest_digest: None,
            config: None,
        };
        self.install(reference, staging, record)
    }

    fn import_oci_blocking(&self, reference: &Reference, tarball: &Path) -> CriResult<String> {
        let staging = Staging::new(&self.tmp_dir())?;
        let layout = staging.path.join("layout");
        let rootfs = staging.path.join(ROOTFS);
        extract_layout(tarball, &layout)?;
        let image = read_layout(&layout, reference)?;
        fs::create_dir(&rootfs).map_err(io_internal("create the rootfs"))?;
        let as_root = is_root();
        for layer in &image.layers {
            let blob = blob_path(&layout, layer)?;
            verify_blob(&blob, layer)?;
            apply_layer(&rootfs, &blob, as_root)?;
        }
        remove_any(&layout).map_err(io_internal("remove the unpacked layout"))?;
        let size = du(&rootfs).map_err(io_internal("measure the rootfs"))?.bytes;
        let record = ImageRecord {
            id: image.config_digest,
            repo_tags: vec![reference.to_string()],
            size,
            created: now_ns(),
            manifest_digest: Some(image.manifest_digest),
            config: Some(image.config),
        };
        self.install(reference, staging, record)
    }

    /// Moves a staged image into place (replacing the previous one) and
    /// indexes it.
    fn install(&self, reference: &Reference, staging: Staging, record: ImageRecord) -> CriResult<String> {
        let json = serde_json::to_vec_pretty(&record).map_err(|e| CriError::Internal(format!("image.json: {e}")))?;
        fs::write(staging.path.join(IMAGE_JSON), json).map_err(io_internal("write image.json"))?;
        let dir = self.image_dir(reference);
        let id = record.id.clone();
        let trash = {
            let mut index = self.index();
            if let Some(parent) = dir.parent() {
                fs::create_dir_all(parent).map_err(io_internal(format!("create {}", parent.display())))?;
            }
            let trash = if fs::symlink_metadata(&dir).is_ok() {
                let trash = self.tmp_dir().join(unique_name("old"));
                fs::rename(&dir, &trash).map_err(io_internal(format!("move {} away", dir.display())))?;
                Some(trash)
            } else {
                None
            };
            fs::rename(&staging.path, &dir).map_err(io_internal(format!("move the import to {}", dir.display())))?;
            index.insert(reference.to_string(), StoredImage { record, dir });
            trash
        };
        drop(staging);
        if let Some(trash) = trash {
            let _ = remove_any(&trash);
        }
        Ok(id)
    }

    fn image_of(index: &BTreeMap<String, StoredImage>, id: &str) -> Option<Image> {
        let mut found = index.values().filter(|s| s.record.id == id).peekable();
        let size = found.peek()?.record.size;
        let mut repo_tags: Vec<String> = found.flat_map(|s| s.record.repo_tags.iter().cloned()).collect();
        repo_tags.sort();
        repo_tags.dedup();
        Some(Image { id: id.to_string(), repo_tags, size })
    }
}

/// The stored images `image` (a reference or an id) names.
fn find<'a>(index: &'a BTreeMap<String, StoredImage>, image: &str) -> CriResult<Vec<&'a StoredImage>> {
    Ok(match lookup(image)? {
        Lookup::Id(id) => index.values().filter(|s| s.record.id == id).collect(),
        Lookup::Reference(r) if r.digest.is_some() => index
            .iter()
            .filter(|(key, s)| {
                s.record.manifest_digest == r.digest && Reference::parse(key).is_ok_and(|stored| stored.name == r.name)
            })
            .map(|(_, s)| s)
            .collect(),
        Lookup::Reference(r) => index.get(&r.to_string()).into_iter().collect(),
    })
}

impl RootfsProvider for LocalImageStore {
    /// Never `None`: an image that is not in the store gets a path that
    /// does not exist, so a runtime that did not check its presence fails
    /// to enter it instead of running on the host.
    fn rootfs(&self, image: &str) -> Option<PathBuf> {
        let index = self.index();
        if let Some(found) = find(&index, image).ok().and_then(|f| f.first().copied()) {
            return Some(found.dir.join(ROOTFS));
        }
        Some(match Reference::parse(image) {
            Ok(reference) if reference.digest.is_none() => self.image_dir(&reference).join(ROOTFS),
            _ => self.inner.root.join("images").join("%missing").join(ROOTFS),
        })
    }

    fn image_config(&self, image: &str) -> Option<ImageConfig> {
        LocalImageStore::image_config(self, image)
    }
}

#[async_trait]
impl ImageService for LocalImageStore {
    async fn list_images(&self, filter: Option<&ImageSpec>) -> CriResult<Vec<Image>> {
        let index = self.index();
        let ids: BTreeSet<&str> = match filter.filter(|f| !f.image.is_empty()) {
            Some(f) => find(&index, &f.image)?.into_iter().map(|s| s.record.id.as_str()).collect(),
            None => index.values().map(|s| s.record.id.as_str()).collect(),
        };
        Ok(ids.into_iter().filter_map(|id| Self::image_of(&index, id)).collect())
    }

    async fn image_status(&self, image: &ImageSpec) -> CriResult<Option<Image>> {
        let index = self.index();
        let found = find(&index, &image.image)?;
        Ok(found.first().and_then(|s| Self::image_of(&index, &s.record.id)))
    }

    async fn pull_image(&self, image: &ImageSpec) -> CriResult<String> {
        let index = self.index();
        match find(&index, &image.image)?.first() {
            Some(found) => Ok(found.record.id.clone()),
            None => Err(CriError::NotFound(format!(
                "image {:?} not present locally; import it first (there is no registry client)",
                image.image
            ))),
        }
    }

    /// Removes the image `image` resolves to, with all its tags (as
    /// containerd's CRI does). Idempotent.
    async fn remove_image(&self, image: &ImageSpec) -> CriResult<()> {
        let trash = {
            let mut index = self.index();
            let ids: BTreeSet<String> = find(&index, &image.image)?.into_iter().map(|s| s.record.id.clone()).collect();
            let keys: Vec<String> =
                index.iter().filter(|(_, s)| ids.contains(&s.record.id)).map(|(k, _)| k.clone()).collect();
            let mut trash = Vec::new();
            for key in keys {
                let Some(stored) = index.get(&key) else { continue };
                let to = self.tmp_dir().join(unique_name("removed"));
                fs::rename(&stored.dir, &to)
                    .map_err(io_internal(format!("remove image {key} ({})", stored.dir.display())))?;
                if let Some(parent) = stored.dir.parent() {
                    let _ = fs::remove_dir(parent); // only when no other tag is left
                }
                index.remove(&key);
                trash.push(to);
            }
            trash
        };
        if !trash.is_empty() {
            blocking(move || {
                for dir in trash {
                    remove_any(&dir).map_err(io_internal(format!("delete {}", dir.display())))?;
                }
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    async fn image_fs_info(&self) -> CriResult<Vec<FilesystemUsage>> {
        let root = self.inner.root.clone();
        let usage = blocking(move || du(&root.join("images")).map_err(io_internal("measure the image store"))).await?;
        Ok(vec![FilesystemUsage {
            timestamp: now_ns(),
            mountpoint: self.inner.root.display().to_string(),
            used_bytes: usage.disk_bytes,
            inodes_used: usage.inodes,
        }])
    }
}

fn import_reference(name_and_tag: &str) -> CriResult<Reference> {
    let reference = Reference::parse(name_and_tag)?;
    if reference.digest.is_some() {
        return Err(CriError::InvalidArgument(format!(
            "import {name_and_tag:?}: name an image to import as name[:tag], without a digest"
        )));
    }
    Ok(reference)
}

fn load_record(root: &Path, dir: &Path) -> io::Result<(String, ImageRecord)> {
    let invalid = |why: String| io::Error::new(io::ErrorKind::InvalidData, why);
    let record: ImageRecord =
        serde_json::from_slice(&fs::read(dir.join(IMAGE_JSON))?).map_err(|e| invalid(format!("image.json: {e}")))?;
    let [tag] = record.repo_tags.as_slice() else {
        return Err(invalid("image.json must have one repo tag".to_string()));
    };
    let reference = Reference::parse(tag).map_err(|e| invalid(e.to_string()))?;
    let expected = root.join("images").join(escape_name(&reference.name)).join(reference.tag.as_deref().unwrap_or(""));
    if reference.to_string() != *tag || expected != dir {
        return Err(invalid(format!("repo tag {tag:?} does not belong in this directory")));
    }
    if !fs::symlink_metadata(dir.join(ROOTFS))?.is_dir() {
        return Err(invalid("rootfs is not a directory".to_string()));
    }
    Ok((tag.clone(), record))
}

/// One directory level for an image name: `[a-z0-9._-]` kept (but a
/// leading `.`), everything else `%XX`.
fn escape_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, b) in name.bytes().enumerate() {
        if b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-' || (b == b'.' && i > 0) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// OCI image layout
// ---------------------------------------------------------------------------

const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";
/// JSON blobs (index, manifest, config) larger than this are refused.
const MAX_JSON_BLOB: u64 = 64 << 20;

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Clone, Debug, Deserialize)]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
}

#[derive(Debug, Deserialize)]
struct IndexJson {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Debug, Deserialize)]
struct ManifestJson {
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Debug, Default, Deserialize)]
struct ConfigJson {
    #[serde(default)]
    config: Option<ContainerConfigJson>,
}

#[derive(Debug, Default, Deserialize)]
struct ContainerConfigJson {
    #[serde(rename = "Entrypoint", default)]
    entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default)]
    cmd: Option<Vec<String>>,
    #[serde(rename = "Env", default)]
    env: Option<Vec<String>>,
    #[serde(rename = "WorkingDir", default)]
    working_dir: Option<String>,
}

/// What an OCI layout yields for one image.
#[derive(Debug)]
struct OciImage {
    manifest_digest: String,
    config_digest: String,
    config: ImageConfig,
    layers: Vec<Descriptor>,
}

fn invalid(why: impl fmt::Display) -> CriError {
    CriError::InvalidArgument(why.to_string())
}

/// Extracts from the (maybe gzipped) layout tarball only what an OCI
/// layout has: `oci-layout`, `index.json` and `blobs/sha256/<hex>`
/// regular files. Anything else is skipped; a path with `..` is refused.
fn extract_layout(tarball: &Path, layout: &Path) -> CriResult<()> {
    let what = |e: io::Error| invalid(format!("OCI layout tarball {}: {e}", tarball.display()));
    let file = fs::File::open(tarball).map_err(io_internal(format!("open {}", tarball.display())))?;
    let reader = decompressed(file).map_err(what)?;
    fs::create_dir_all(layout.join("blobs").join("sha256")).map_err(io_internal("create the layout directory"))?;
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(what)? {
        let mut entry = entry.map_err(what)?;
        let path = entry.path().map_err(what)?.into_owned();
        let components = relative_components(&path)
            .map_err(|why| invalid(format!("OCI layout tarball {}: {why}", tarball.display())))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let names: Vec<&str> = components.iter().filter_map(|c| c.to_str()).collect();
        let dst = match names.as_slice() {
            ["oci-layout"] | ["index.json"] => layout.join(names[0]),
            ["blobs", "sha256", hex] if parse_sha256_digest(&format!("sha256:{hex}")).is_some() => {
                layout.join("blobs").join("sha256").join(hex)
            }
            _ => continue,
        };
        let mut out = fs::File::create(&dst).map_err(io_internal(format!("create {}", dst.display())))?;
        io::copy(&mut entry, &mut out).map_err(what)?;
    }
    Ok(())
}

fn read_layout(layout: &Path, reference: &Reference) -> CriResult<OciImage> {
    let marker = fs::read(layout.join("oci-layout"))
        .map_err(|_| invalid("not an OCI image layout: the tarball has no oci-layout file"))?;
    let marker: serde_json::Value = serde_json::from_slice(&marker).map_err(|e| invalid(format!("oci-layout: {e}")))?;
    if marker.get("imageLayoutVersion").and_then(|v| v.as_str()).is_none() {
        return Err(invalid("oci-layout has no imageLayoutVersion"));
    }
    let index = fs::read(layout.join("index.json")).map_err(|_| invalid("the OCI layout has no index.json"))?;
    let index: IndexJson = serde_json::from_slice(&index).map_err(|e| invalid(format!("index.json: {e}")))?;
    let chosen =
        choose_from_index(&index.manifests, reference).ok_or_else(|| invalid("index.json lists no manifest"))?.clone();
    let doc = read_json_blob(layout, &chosen)?;
    let (manifest_desc, manifest_doc) = if is_index(&chosen, &doc) {
        let nested: IndexJson =
            serde_json::from_value(doc).map_err(|e| invalid(format!("image index {}: {e}", chosen.digest)))?;
        let desc = choose_platform(&nested.manifests)
            .ok_or_else(|| invalid(format!("image index {} lists no manifest", chosen.digest)))?
            .clone();
        let doc = read_json_blob(layout, &desc)?;
        if is_index(&desc, &doc) {
            return Err(invalid(format!("image index {} nests another index", chosen.digest)));
        }
        (desc, doc)
    } else {
        (chosen, doc)
    };
    let manifest: ManifestJson =
        serde_json::from_value(manifest_doc).map_err(|e| invalid(format!("manifest {}: {e}", manifest_desc.digest)))?;
    let config_doc = read_json_blob(layout, &manifest.config)?;
    let config: ConfigJson = serde_json::from_value(config_doc)
        .map_err(|e| invalid(format!("image config {}: {e}", manifest.config.digest)))?;
    let c = config.config.unwrap_or_default();
    for layer in &manifest.layers {
        if layer.media_type.ends_with("+zstd") {
            return Err(invalid(format!("layer {}: zstd-compressed layers are not supported", layer.digest)));
        }
    }
    Ok(OciImage {
        manifest_digest: manifest_desc.digest,
        config_digest: manifest.config.digest,
        config: ImageConfig {
            entrypoint: c.entrypoint.unwrap_or_default(),
            cmd: c.cmd.unwrap_or_default(),
            env: c.env.unwrap_or_default(),
            working_dir: c.working_dir.unwrap_or_default(),
        },
        layers: manifest.layers,
    })
}

/// index.json's manifest for `reference`: when there are several, the one
/// annotated with its tag (or whole reference), else the first.
fn choose_from_index<'a>(manifests: &'a [Descriptor], reference: &Reference) -> Option<&'a Descriptor> {
    if manifests.len() <= 1 {
        return manifests.first();
    }
    let tag = reference.tag.as_deref().unwrap_or("latest");
    let full = reference.to_string();
    let matches = |d: &&Descriptor| {
        let ref_name = d.annotations.get(ANNOTATION_REF_NAME).map(String::as_str);
        ref_name == Some(tag)
            || ref_name == Some(full.as_str())
            || d.annotations.get(ANNOTATION_CONTAINERD_NAME).map(String::as_str) == Some(full.as_str())
    };
    manifests.iter().find(matches).or(manifests.first())
}

/// An image index's manifest for this host (linux and this machine's
/// architecture), else the first that is not an attestation
/// (`unknown/unknown`), else the first.
fn choose_platform(manifests: &[Descriptor]) -> Option<&Descriptor> {
    let arch = oci_arch();
    manifests
        .iter()
        .find(|d| d.platform.as_ref().is_some_and(|p| p.os == "linux" && p.architecture == arch))
        .or_else(|| manifests.iter().find(|d| d.platform.as_ref().is_none_or(|p| p.os != "unknown")))
        .or(manifests.first())
}

/// GOARCH spelling of this machine's architecture.
fn oci_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

fn is_index(desc: &Descriptor, doc: &serde_json::Value) -> bool {
    match desc.media_type.as_str() {
        MT_OCI_INDEX | MT_DOCKER_LIST => true,
        "" => doc.get("manifests").is_some() && doc.get("layers").is_none(),
        _ => doc.get("mediaType").and_then(|m| m.as_str()).is_some_and(|m| m == MT_OCI_INDEX || m == MT_DOCKER_LIST),
    }
}

fn blob_path(layout: &Path, desc: &Descriptor) -> CriResult<PathBuf> {
    let hex = parse_sha256_digest(&desc.digest)
        .ok_or_else(|| invalid(format!("digest {:?}: only sha256 digests are supported", desc.digest)))?;
    let path = layout.join("blobs").join("sha256").join(hex);
    if !path.is_file() {
        return Err(invalid(format!("blob {} is missing from the OCI layout", desc.digest)));
    }
    Ok(path)
}

/// Checks a blob's size and digest against its descriptor.
fn verify_blob(path: &Path, desc: &Descriptor) -> CriResult<()> {
    let mut file = fs::File::open(path).map_err(io_internal(format!("open blob {}", desc.digest)))?;
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 << 10];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io_internal(format!("read blob {}", desc.digest)))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    if let Some(size) = desc.size
        && size != total
    {
        return Err(invalid(format!("blob {}: {total} bytes, its descriptor says {size}", desc.digest)));
    }
    let actual = format!("sha256:{}", hex(&hasher.finalize()));
    if actual != desc.digest {
        return Err(invalid(format!("blob {} has digest {actual}", desc.digest)));
    }
    Ok(())
}

fn read_json_blob(layout: &Path, desc: &Descriptor) -> CriResult<serde_json::Value> {
    let path = blob_path(layout, desc)?;
    let len = fs::metadata(&path).map_err(io_internal(format!("blob {}", desc.digest)))?.len();
    if len > MAX_JSON_BLOB {
        return Err(invalid(format!("blob {}: {len} bytes is too large for JSON", desc.digest)));
    }
    verify_blob(&path, desc)?;
    let raw = fs::read(&path).map_err(io_internal(format!("read blob {}", desc.digest)))?;
    serde_json::from_slice(&raw).map_err(|e| invalid(format!("blob {}: {e}", desc.digest)))
}

/// A reader of `file`, gunzipped when it starts with gzip's magic; zstd is
/// refused.
fn decompressed(file: fs::File) -> io::Result<Box<dyn Read>> {
    let mut reader = BufReader::with_capacity(64 << 10, file);
    let head = reader.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(reader)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Err(io::Error::new(io::ErrorKind::Unsupported, "zstd compression is not supported"))
    } else {
        Ok(Box::new(reader))
    }
}

/// A tar path as components relative to the root: leading `/` and `.`
/// dropped, `..` refused.
fn relative_components(path: &Path) -> Result<Vec<OsString>, String> {
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(c) => out.push(c.to_os_string()),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(format!("entry {} escapes the root (contains ..)", path.display()));
            }
        }
    }
    Ok(out)
}

/// What a whiteout entry asks for.
enum Whiteout {
    /// `.wh..wh..opq`: empty the directory of the lower layers' content.
    Opaque,
    /// `.wh.<name>`: delete `<name>`.
    Delete(OsString),
    /// Other `.wh..wh.*` (aufs internals): nothing.
    Ignore,
}

fn whiteout(name: &OsString) -> Result<Option<Whiteout>, String> {
    let Some(name) = name.to_str() else { return Ok(None) };
    let Some(rest) = name.strip_prefix(".wh.") else { return Ok(None) };
    if rest == ".wh..opq" {
        return Ok(Some(Whiteout::Opaque));
    }
    if rest.starts_with(".wh.") {
        return Ok(Some(Whiteout::Ignore));
    }
    if rest.is_empty() || rest == "." || rest == ".." {
        return Err(format!("bad whiteout {name:?}"));
    }
    Ok(Some(Whiteout::Delete(OsString::from(rest))))
}

fn open_layer(blob: &Path) -> CriResult<tar::Archive<Box<dyn Read>>> {
    let file = fs::File::open(blob).map_err(io_internal(format!("open layer {}", blob.display())))?;
    let reader = decompressed(file).map_err(|e| invalid(format!("layer {}: {e}", blob.display())))?;
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    archive.set_unpack_xattrs(false);
    archive.set_preserve_ownerships(is_root());
    Ok(archive)
}

/// Applies one layer onto `root` in two passes over it: first its
/// whiteouts (which apply to the layers below only; every path is checked
/// here too, so a bad layer fails before it writes anything), then its
/// entries.
fn apply_layer(root: &Path, blob: &Path, as_root: bool) -> CriResult<()> {
    let layer_err = |e: io::Error| invalid(format!("layer {}: {e}", blob.display()));
    let bad = |why: String| invalid(format!("layer {}: {why}", blob.display()));

    let mut archive = open_layer(blob)?;
    for entry in archive.entries().map_err(layer_err)? {
        let entry = entry.map_err(layer_err)?;
        let components = relative_components(&entry.path().map_err(layer_err)?).map_err(bad)?;
        if entry.header().entry_type().is_hard_link() {
            let target = entry.link_name().map_err(layer_err)?.ok_or_else(|| bad("hard link without target".into()))?;
            relative_components(&target).map_err(|why| bad(format!("hard link target: {why}")))?;
        }
        let Some((last, parent)) = components.split_last() else { continue };
        match whiteout(last).map_err(bad)? {
            None | Some(Whiteout::Ignore) => {}
            Some(Whiteout::Opaque) => match resolve_in_root(root, parent, false) {
                Ok(dir) => {
                    if fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
                        for child in fs::read_dir(&dir).map_err(io_internal("opaque whiteout"))? {
                            let child = child.map_err(io_internal("opaque whiteout"))?;
                            remove_any(&child.path()).map_err(io_internal("opaque whiteout"))?;
                        }
                    }
                }
                Err(e) if gone(&e) => {}
                Err(e) => return Err(layer_err(e)),
            },
            Some(Whiteout::Delete(name)) => match resolve_in_root(root, parent, false) {
                Ok(dir) => match remove_any(&dir.join(&name)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(layer_err(e)),
                },
                Err(e) if gone(&e) => {}
                Err(e) => return Err(layer_err(e)),
            },
        }
    }

    // Directories get their final mode and owner after the layer, so a
    // read-only directory can still receive its files.
    let mut dirs: Vec<(PathBuf, u32, u64, u64)> = Vec::new();
    let mut archive = open_layer(blob)?;
    for entry in archive.entries().map_err(layer_err)? {
        let mut entry = entry.map_err(layer_err)?;
        let components = relative_components(&entry.path().map_err(layer_err)?).map_err(bad)?;
        let Some((last, parent)) = components.split_last() else { continue };
        if whiteout(last).map_err(bad)?.is_some() {
            continue;
        }
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink()
        {
            continue;
        }
        let dir = resolve_in_root(root, parent, true).map_err(layer_err)?;
        let target = dir.join(last);
        let existing = fs::symlink_metadata(&target).ok();
        let header = entry.header();
        let mode = header.mode().map_err(layer_err)?;
        let (uid, gid) = (header.uid().map_err(layer_err)?, header.gid().map_err(layer_err)?);
        if kind.is_dir() {
            match existing {
                Some(m) if m.is_dir() => {}
                Some(_) => {
                    remove_any(&target).map_err(layer_err)?;
                    fs::create_dir(&target).map_err(layer_err)?;
                }
                None => fs::create_dir(&target).map_err(layer_err)?,
            }
            dirs.push((target, mode, uid, gid));
            continue;
        }
        if existing.is_some() {
            remove_any(&target).map_err(layer_err)?;
        }
        if kind.is_symlink() {
            let link = entry.link_name().map_err(layer_err)?.ok_or_else(|| bad("symlink without target".into()))?;
            std::os::unix::fs::symlink(&link, &target).map_err(layer_err)?;
            if as_root {
                std::os::unix::fs::lchown(&target, Some(uid as u32), Some(gid as u32)).map_err(layer_err)?;
            }
        } else if kind.is_hard_link() {
            let link = entry.link_name().map_err(layer_err)?.ok_or_else(|| bad("hard link without target".into()))?;
            let link = relative_components(&link).map_err(bad)?;
            let Some((link_last, link_parent)) = link.split_last() else {
                return Err(bad("hard link to the root".into()));
            };
            let source = resolve_in_root(root, link_parent, false).map_err(layer_err)?.join(link_last);
            fs::hard_link(&source, &target).map_err(layer_err)?;
        } else if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
            make_special(&entry, &target, kind, mode, as_root).map_err(layer_err)?;
        } else {
            // Regular files, and (as tar says) any unknown type.
            entry.unpack(&target).map_err(layer_err)?;
        }
    }
    for (dir, mode, uid, gid) in dirs.into_iter().rev() {
        if as_root {
            std::os::unix::fs::lchown(&dir, Some(uid as u32), Some(gid as u32)).map_err(layer_err)?;
        }
        fs::set_permissions(&dir, fs::Permissions::from_mode(mode & 0o7777)).map_err(layer_err)?;
    }
    Ok(())
}

/// Devices (as root only; skipped otherwise) and FIFOs.
fn make_special<R: Read>(
    entry: &tar::Entry<'_, R>,
    target: &Path,
    kind: tar::EntryType,
    mode: u32,
    as_root: bool,
) -> io::Result<()> {
    use rustix::fs::{CWD, FileType, Mode, makedev, mknodat};
    let (file_type, dev) = if kind.is_fifo() {
        (FileType::Fifo, 0)
    } else {
        if !as_root {
            tracing::debug!(path = %target.display(), "skipping a device node: not root");
            return Ok(());
        }
        let major = entry.header().device_major()?.unwrap_or(0);
        let minor = entry.header().device_minor()?.unwrap_or(0);
        let file_type = if kind.is_character_special() { FileType::CharacterDevice } else { FileType::BlockDevice };
        (file_type, makedev(major, minor))
    };
    mknodat(CWD, target, file_type, Mode::from_raw_mode(mode & 0o7777), dev)?;
    fs::set_permissions(target, fs::Permissions::from_mode(mode & 0o7777))
}

/// Whether resolving failed because something is not there.
fn gone(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory)
}

/// The directory `components` names under `root`, resolving symlinks as
/// if `root` were `/` (so nothing resolves outside it); missing
/// directories are created when `create`.
fn resolve_in_root(root: &Path, components: &[OsString], create: bool) -> io::Result<PathBuf> {
    let mut resolved: Vec<OsString> = Vec::new();
    let mut todo: std::collections::VecDeque<OsString> = components.iter().cloned().collect();
    let mut links = 0;
    while let Some(c) = todo.pop_front() {
        if c.is_empty() || c == "." {
            continue;
        }
        if c == ".." {
            resolved.pop();
            continue;
        }
        let mut here: PathBuf = root.to_path_buf();
        here.extend(&resolved);
        here.push(&c);
        match fs::symlink_metadata(&here) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > 40 {
                    return Err(io::Error::other(format!("too many symlinks resolving {}", here.display())));
                }
                let target = fs::read_link(&here)?;
                if target.is_absolute() {
                    resolved.clear();
                }
                let mut more: Vec<OsString> = Vec::new();
                for tc in target.components() {
                    match tc {
                        Component::Normal(n) => more.push(n.to_os_string()),
                        Component::ParentDir => more.push(OsString::from("..")),
                        _ => {}
                    }
                }
                for m in more.into_iter().rev() {
                    todo.push_front(m);
                }
            }
            Ok(m) if m.is_dir() => resolved.push(c),
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("{} is not a directory", here.display()),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                fs::create_dir(&here)?;
                resolved.push(c);
            }
            Err(e) => return Err(e),
        }
    }
    let mut out = root.to_path_buf();
    out.extend(&resolved);
    Ok(out)
}

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

/// A directory under `<root>/tmp` that is deleted when dropped (after a
/// successful install it has been renamed away, so nothing happens).
struct Staging {
    path: PathBuf,
}

impl Staging {
    fn new(tmp: &Path) -> CriResult<Staging> {
        let path = tmp.join(unique_name("import"));
        fs::create_dir_all(&path).map_err(io_internal(format!("create {}", path.display())))?;
        Ok(Staging { path })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if fs::symlink_metadata(&self.path).is_ok() {
            let _ = remove_any(&self.path);
        }
    }
}

/// Removes a file, symlink or directory tree. As an unprivileged user,
/// read-only directories are made writable first.
fn remove_any(path: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if !meta.is_dir() {
        return fs::remove_file(path);
    }
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            make_writable(path);
            fs::remove_dir_all(path)
        }
        other => other,
    }
}

fn make_writable(dir: &Path) {
    if let Ok(meta) = fs::symlink_metadata(dir)
        && meta.is_dir()
    {
        let _ = fs::set_permissions(dir, fs::Permissions::from_mode((meta.mode() & 0o7777) | 0o700));
        if let Ok(entries) = fs::read_dir(dir) {
            for entry in entries.flatten() {
                make_writable(&entry.path());
            }
        }
    }
}

/// Recreates the tree `src` at `dst` (which must not exist).
fn copy_tree(src: &Path, dst: &Path, as_root: bool) -> io::Result<()> {
    fs::create_dir(dst)?;
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let meta = fs::symlink_metadata(&from)?;
        let ft = meta.file_type();
        if ft.is_dir() {
            copy_tree(&from, &to, as_root)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&from)?, &to)?;
            if as_root {
                std::os::unix::fs::lchown(&to, Some(meta.uid()), Some(meta.gid()))?;
            }
        } else if ft.is_file() {
            if fs::hard_link(&from, &to).is_err() {
                fs::copy(&from, &to)?;
                if as_root {
                    std::os::unix::fs::lchown(&to, Some(meta.uid()), Some(meta.gid()))?;
                    fs::set_permissions(&to, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
                }
            }
        } else {
            tracing::debug!(path = %from.display(), "import_dir: skipping a special file");
        }
    }
    let meta = fs::metadata(src)?;
    if as_root {
        std::os::unix::fs::lchown(dst, Some(meta.uid()), Some(meta.gid()))?;
    }
    fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))
}

/// Disk use of a tree, hard links counted once.
#[derive(Debug, Default)]
struct Usage {
    /// Sizes of regular files.
    bytes: u64,
    /// Allocated blocks, in bytes (what `du` shows).
    disk_bytes: u64,
    inodes: u64,
}

fn du(path: &Path) -> io::Result<Usage> {
    fn walk(path: &Path, seen: &mut HashSet<(u64, u64)>, usage: &mut Usage) -> io::Result<()> {
        let meta = fs::symlink_metadata(path)?;
        if !seen.insert((meta.dev(), meta.ino())) {
            return Ok(());
        }
        usage.inodes += 1;
        usage.disk_bytes += meta.blocks() * 512;
        if meta.is_file() {
            usage.bytes += meta.len();
        }
        if meta.is_dir() {
            for entry in fs::read_dir(path)? {
                walk(&entry?.path(), seen, usage)?;
            }
        }
        Ok(())
    }
    let mut usage = Usage::default();
    walk(path, &mut HashSet::new(), &mut usage)?;
    Ok(usage)
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}-{}-{}-{}", std::process::id(), now_ns(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

fn io_internal(context: impl fmt::Display) -> impl FnOnce(io::Error) -> CriError {
    move |e| CriError::Internal(format!("{context}: {e}"))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> CriResult<T> + Send + 'static) -> CriResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| CriError::Internal(format!("image store task: {e}")))?
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(data: &[u8]) -> String {
    super::sha256_hex(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use std::io::Write;

    fn spec(image: &str) -> ImageSpec {
        ImageSpec { image: image.to_string() }
    }

    // ---- tar and OCI layout builders ------------------------------------

    enum E<'a> {
        Dir(&'a str, u32),
        File(&'a str, &'a [u8], u32),
        Symlink(&'a str, &'a str),
        Link(&'a str, &'a str),
        /// A regular file with a raw, unchecked name (for `..`).
        Raw(&'a [u8], &'a [u8]),
    }

    fn tar_of(entries: &[E<'_>]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for e in entries {
            let mut h = tar::Header::new_gnu();
            h.set_mtime(1_700_000_000);
            h.set_uid(0);
            h.set_gid(0);
            match e {
                E::Dir(path, mode) => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_mode(*mode);
                    h.set_size(0);
                    b.append_data(&mut h, path, io::empty()).unwrap();
                }
                E::File(path, data, mode) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_mode(*mode);
                    h.set_size(data.len() as u64);
                    b.append_data(&mut h, path, *data).unwrap();
                }
                E::Symlink(path, target) => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_mode(0o777);
                    h.set_size(0);
                    b.append_link(&mut h, path, target).unwrap();
                }
                E::Link(path, target) => {
                    h.set_entry_type(tar::EntryType::Link);
                    h.set_mode(0o644);
                    h.set_size(0);
                    b.append_link(&mut h, path, target).unwrap();
                }
                E::Raw(name, data) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_mode(0o644);
                    h.set_size(data.len() as u64);
                    h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
                    h.set_cksum();
                    b.append(&h, *data).unwrap();
                }
            }
        }
        b.into_inner().unwrap()
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    const MT_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    const MT_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    const MT_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
    const MT_LAYER_GZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

    #[derive(Default)]
    struct Layout {
        blobs: Vec<(String, Vec<u8>)>,
    }

    impl Layout {
        fn blob(&mut self, media_type: &str, data: Vec<u8>) -> Value {
            let digest = format!("sha256:{}", sha256_hex(&data));
            let desc = json!({"mediaType": media_type, "digest": digest, "size": data.len()});
            self.blobs.push((digest, data));
            desc
        }

        fn json_blob(&mut self, media_type: &str, doc: &Value) -> Value {
            self.blob(media_type, serde_json::to_vec(doc).unwrap())
        }

        /// A manifest of `layers` (tar bytes, gzip them?) and `config`.
        fn image(&mut self, layers: Vec<(Vec<u8>, bool)>, config: Value) -> Value {
            let config = self.json_blob(
                MT_CONFIG,
                &json!({"architecture": oci_arch(), "os": "linux", "config": config,
                        "rootfs": {"type": "layers", "diff_ids": []}}),
            );
            let layers: Vec<Value> = layers
                .into_iter()
                .map(|(tar, gz)| if gz { self.blob(MT_LAYER_GZ, gzip(&tar)) } else { self.blob(MT_LAYER, tar) })
                .collect();
            self.json_blob(
                MT_MANIFEST,
                &json!({"schemaVersion": 2, "mediaType": MT_MANIFEST, "config": config, "layers": layers}),
            )
        }

        /// The layout tarball with `manifests` in index.json.
        fn tarball(&self, manifests: Vec<Value>, gz: bool) -> Vec<u8> {
            let index = serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": manifests})).unwrap();
            let marker = br#"{"imageLayoutVersion":"1.0.0"}"#;
            let mut entries = vec![
                E::File("oci-layout", marker, 0o644),
                E::File("index.json", &index, 0o644),
                E::Dir("blobs", 0o755),
                E::Dir("blobs/sha256", 0o755),
            ];
            let names: Vec<String> =
                self.blobs.iter().map(|(d, _)| format!("blobs/sha256/{}", d.trim_start_matches("sha256:"))).collect();
            for ((_, data), name) in self.blobs.iter().zip(&names) {
                entries.push(E::File(name, data, 0o644));
            }
            let tar = tar_of(&entries);
            if gz { gzip(&tar) } else { tar }
        }
    }

    fn with_annotation(mut desc: Value, ref_name: &str) -> Value {
        desc["annotations"] = json!({ANNOTATION_REF_NAME: ref_name});
        desc
    }

    /// `path kind mode [content|target]` for every entry under `root`.
    fn listing(root: &Path) -> Vec<String> {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
            let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
            entries.sort();
            for path in entries {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                let meta = fs::symlink_metadata(&path).unwrap();
                let mode = meta.mode() & 0o7777;
                if meta.file_type().is_symlink() {
                    out.push(format!("{rel} -> {}", fs::read_link(&path).unwrap().display()));
                } else if meta.is_dir() {
                    out.push(format!("{rel}/ {mode:o}"));
                    walk(root, &path, out);
                } else {
                    out.push(format!("{rel} {mode:o} {}", String::from_utf8_lossy(&fs::read(&path).unwrap())));
                }
            }
        }
        let mut out = Vec::new();
        walk(root, root, &mut out);
        out
    }

    fn write(path: &Path, data: &[u8]) -> PathBuf {
        fs::write(path, data).unwrap();
        path.to_path_buf()
    }

    /// Files and directories named `name` anywhere under `dir`.
    fn find_named(dir: &Path, name: &str) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|n| n == name) {
                out.push(path.clone());
            }
            if fs::symlink_metadata(&path).unwrap().is_dir() {
                out.extend(find_named(&path, name));
            }
        }
        out
    }

    // ---- tests ------------------------------------------------------------

    #[test]
    fn reference_normalization() {
        let digest = format!("sha256:{}", "a".repeat(64));
        for (input, want) in [
            ("nginx", "nginx:latest".to_string()),
            ("nginx:1.25", "nginx:1.25".to_string()),
            ("library/nginx:1.25-alpine", "library/nginx:1.25-alpine".to_string()),
            ("docker.io/library/nginx", "docker.io/library/nginx:latest".to_string()),
            ("localhost:5000/team/app", "localhost:5000/team/app:latest".to_string()),
            ("localhost:5000/team/app:v1.2", "localhost:5000/team/app:v1.2".to_string()),
            ("Registry.Example.com/app:V_1", "Registry.Example.com/app:V_1".to_string()),
            (&format!("nginx@{digest}"), format!("nginx@{digest}")),
            (&format!("nginx:1.25@{digest}"), format!("nginx@{digest}")),
        ] {
            assert_eq!(normalize_reference(input).unwrap(), want, "{input}");
        }
        for bad in [
            "",
            "Nginx",
            "nginx:",
            "nginx:-x",
            "nginx:.x",
            "a b",
            "../x",
            "a//b",
            "-a",
            "a-",
            "nginx@sha256:abc",
            "nginx@md5:0123",
            "host:port/x",
        ] {
            assert!(
                matches!(normalize_reference(bad), Err(CriError::InvalidArgument(_))),
                "{bad:?} should be refused: {:?}",
                normalize_reference(bad)
            );
        }
        assert_eq!(escape_name("localhost:5000/team/app"), "localhost%3A5000%2Fteam%2Fapp");
        assert_eq!(escape_name("nginx"), "nginx");
    }

    #[tokio::test]
    async fn host_images_basics() {
        let host = HostImages::new();
        assert!(host.list_images(None).await.unwrap().is_empty());
        let id = host.pull_image(&spec("busybox")).await.unwrap();
        assert_eq!(id, format!("sha256:{}", sha256_hex(b"busybox:latest")));
        // Asking about an image makes it listed; any name is present.
        let status = host.image_status(&spec("example.com/app:v1")).await.unwrap().unwrap();
        assert_eq!(status.repo_tags, ["example.com/app:v1"]);
        assert_eq!(status.id, host_image_id("example.com/app:v1"));
        let listed: Vec<String> =
            host.list_images(None).await.unwrap().into_iter().map(|i| i.repo_tags[0].clone()).collect();
        assert_eq!(listed, ["busybox:latest", "example.com/app:v1"]);
        // Same image under its normalized name and by id.
        assert_eq!(host.image_status(&spec("busybox:latest")).await.unwrap().unwrap().id, id);
        assert_eq!(host.image_status(&spec(&id)).await.unwrap().unwrap().repo_tags, ["busybox:latest"]);
        let filtered = host.list_images(Some(&spec("busybox"))).await.unwrap();
        assert_eq!(filtered.len(), 1);
        assert_eq!(filtered[0].id, id);
        assert_eq!(host.rootfs("busybox"), None);
        assert_eq!(RootfsProvider::image_config(&host, "busybox"), None);
        // Remove is idempotent and only unlists.
        host.remove_image(&spec("busybox")).await.unwrap();
        host.remove_image(&spec("busybox")).await.unwrap();
        assert_eq!(host.list_images(None).await.unwrap().len(), 1);
        assert!(host.image_status(&spec(&id)).await.unwrap().is_none());
        assert!(matches!(host.pull_image(&spec("Bad Name")).await, Err(CriError::InvalidArgument(_))));
        let fs_info = host.image_fs_info().await.unwrap();
        assert_eq!(fs_info[0].mountpoint, "/");
    }

    #[tokio::test]
    async fn import_dir_then_list_status_remove() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        fs::create_dir_all(src.join("bin")).unwrap();
        fs::create_dir(src.join("empty")).unwrap();
        write(&src.join("bin/tool"), b"#!/bin/sh\necho tool\n");
        fs::set_permissions(src.join("bin/tool"), fs::Permissions::from_mode(0o755)).unwrap();
        write(&src.join("hello.txt"), b"hello");
        std::os::unix::fs::symlink("bin/tool", src.join("tool")).unwrap();
        fs::set_permissions(src.join("empty"), fs::Permissions::from_mode(0o750)).unwrap();

        let store_root = tmp.path().join("store");
        let store = LocalImageStore::open(store_root.clone()).unwrap();
        assert!(store.list_images(None).await.unwrap().is_empty());
        let missing = store.pull_image(&spec("myapp")).await.unwrap_err();
        assert!(matches!(&missing, CriError::NotFound(m) if m.contains("not present locally")), "{missing:?}");

        let id = store.import_dir("myapp", &src).await.unwrap();
        assert!(parse_sha256_digest(&id).is_some(), "{id}");
        let image = store.image_status(&spec("myapp:latest")).await.unwrap().unwrap();
        assert_eq!(image, Image { id: id.clone(), repo_tags: vec!["myapp:latest".into()], size: 20 + 5 });
        assert_eq!(store.list_images(None).await.unwrap(), vec![image.clone()]);
        assert_eq!(store.list_images(Some(&spec("other"))).await.unwrap(), vec![]);
        assert_eq!(store.list_images(Some(&spec(&id))).await.unwrap(), vec![image.clone()]);
        assert_eq!(store.image_status(&spec(&id)).await.unwrap(), Some(image.clone()));
        assert_eq!(store.pull_image(&spec("myapp")).await.unwrap(), id);
        assert_eq!(store.image_config("myapp"), None);

        let rootfs = store.rootfs("myapp").unwrap();
        assert_eq!(rootfs, store_root.join("images/myapp/latest/rootfs"));
        assert_eq!(
            listing(&rootfs),
            [
                "bin/ 755",
                "bin/tool 755 #!/bin/sh\necho tool\n",
                "empty/ 750",
                "hello.txt 644 hello",
                "tool -> bin/tool",
            ]
        );
        let record: Value =
            serde_json::from_slice(&fs::read(store_root.join("images/myapp/latest/image.json")).unwrap()).unwrap();
        assert_eq!(record["id"], json!(id));
        assert_eq!(record["repoTags"], json!(["myapp:latest"]));
        let usage = store.image_fs_info().await.unwrap();
        assert_eq!(usage[0].mountpoint, store_root.display().to_string());
        assert!(usage[0].used_bytes > 0 && usage[0].inodes_used >= 7, "{usage:?}");

        // A second tag elsewhere; a reopened store finds both.
        let id2 = store.import_dir("localhost:5000/team/app:v1", &src).await.unwrap();
        assert_ne!(id2, id);
        assert!(store_root.join("images/localhost%3A5000%2Fteam%2Fapp/v1/rootfs/hello.txt").is_file());
        let reopened = LocalImageStore::open(store_root.clone()).unwrap();
        let tags: Vec<Vec<String>> =
            reopened.list_images(None).await.unwrap().into_iter().map(|i| i.repo_tags).collect();
        assert_eq!(tags.len(), 2);
        assert!(
            tags.contains(&vec!["myapp:latest".to_string()])
                && tags.contains(&vec!["localhost:5000/team/app:v1".to_string()])
        );
        assert_eq!(reopened.image_status(&spec("myapp")).await.unwrap().unwrap().id, id);

        // Re-importing replaces the image.
        write(&src.join("hello.txt"), b"hello again");
        let id3 = store.import_dir("myapp", &src).await.unwrap();
        assert_ne!(id3, id);
        assert_eq!(fs::read(rootfs.join("hello.txt")).unwrap(), b"hello again");
        assert!(store.image_status(&spec(&id)).await.unwrap().is_none());

        // Remove (by name; idempotent); the rootfs lookup then gives a path that does not exist.
        store.remove_image(&spec("myapp")).await.unwrap();
        store.remove_image(&spec("myapp")).await.unwrap();
        store.remove_image(&spec(&id3)).await.unwrap();
        assert!(store.image_status(&spec("myapp")).await.unwrap().is_none());
        assert!(!store_root.join("images/myapp").exists());
        assert!(!store.rootfs("myapp").unwrap().exists());
        assert!(matches!(store.pull_image(&spec("myapp")).await, Err(CriError::NotFound(_))));
        assert_eq!(store.list_images(None).await.unwrap().len(), 1);
        // By id too; the source tree is untouched.
        store.remove_image(&spec(&id2)).await.unwrap();
        assert!(store.list_images(None).await.unwrap().is_empty());
        assert_eq!(fs::read_dir(store_root.join("tmp")).unwrap().count(), 0);
        assert_eq!(fs::read(src.join("hello.txt")).unwrap(), b"hello again");

        // Not a directory, a digest reference, a bad name.
        let file = src.join("hello.txt");
        assert!(matches!(store.import_dir("x", &file).await, Err(CriError::InvalidArgument(_))));
        let digest_ref = format!("x@sha256:{}", "b".repeat(64));
        assert!(matches!(store.import_dir(&digest_ref, &src).await, Err(CriError::InvalidArgument(_))));
        assert!(matches!(store.import_dir("X", &src).await, Err(CriError::InvalidArgument(_))));
    }

    #[tokio::test]
    async fn import_oci_layout_applies_layers_and_whiteouts() {
        let tmp = tempfile::tempdir().unwrap();
        let hello: &[u8] = b"#!/bin/sh\necho hi\n";
        let layer1 = tar_of(&[
            E::Dir("etc", 0o755),
            E::File("etc/hostname", b"one", 0o644),
            E::File("etc/remove-me", b"x", 0o644),
            E::Dir("data", 0o755),
            E::File("data/old1", b"1", 0o644),
            E::Dir("data/sub", 0o755),
            E::File("data/sub/old2", b"2", 0o644),
            E::Dir("bin", 0o755),
            E::File("bin/hello", hello, 0o755),
            E::Symlink("bin/link", "hello"),
            E::Link("bin/hard", "bin/hello"),
            E::Dir("ro", 0o555),
            E::File("ro/inner", b"r", 0o600),
            E::File("./dotted/file", b"d", 0o644),
        ]);
        let layer2 = tar_of(&[
            // Added before the opaque marker, in the same layer: kept.
            E::File("data/new", b"new", 0o644),
            E::File("data/.wh..wh..opq", b"", 0o644),
            E::File("etc/.wh.remove-me", b"", 0o644),
            E::File("etc/.wh.never-existed", b"", 0o644),
            E::File("etc/hostname", b"two", 0o644),
            E::Dir("etc/app", 0o700),
            E::File("etc/app/conf", b"c", 0o640),
            E::File("dotted/.wh.file", b"", 0o644),
        ]);
        let config = json!({
            "Entrypoint": ["/bin/hello"],
            "Cmd": ["--loud"],
            "Env": ["PATH=/bin", "GREETING=hi"],
            "WorkingDir": "/data",
        });
        let mut layout = Layout::default();
        let manifest = layout.image(vec![(layer1, false), (layer2, true)], config);
        let manifest_digest = manifest["digest"].as_str().unwrap().to_string();
        let tarball = write(&tmp.path().join("image.tar"), &layout.tarball(vec![manifest], false));

        let store = LocalImageStore::open(tmp.path().join("store")).unwrap();
        let id = store.import_oci_layout("example.com/hello:1.0", &tarball).await.unwrap();
        let config_digest = layout.blobs[0].0.clone();
        assert_eq!(id, config_digest, "the id is the config's digest");
        let rootfs = store.rootfs("example.com/hello:1.0").unwrap();
        assert_eq!(
            listing(&rootfs),
            [
                "bin/ 755",
                "bin/hard 755 #!/bin/sh\necho hi\n",
                "bin/hello 755 #!/bin/sh\necho hi\n",
                "bin/link -> hello",
                "data/ 755",
                "data/new 644 new",
                "dotted/ 755",
                "etc/ 755",
                "etc/app/ 700",
                "etc/app/conf 640 c",
                "etc/hostname 644 two",
                "ro/ 555",
                "ro/inner 600 r",
            ]
        );
        let (a, b) = (fs::metadata(rootfs.join("bin/hello")).unwrap(), fs::metadata(rootfs.join("bin/hard")).unwrap());
        assert_eq!((a.dev(), a.ino()), (b.dev(), b.ino()), "bin/hard is a hard link");

        let want = ImageConfig {
            entrypoint: vec!["/bin/hello".into()],
            cmd: vec!["--loud".into()],
            env: vec!["PATH=/bin".into(), "GREETING=hi".into()],
            working_dir: "/data".into(),
        };
        assert_eq!(store.image_config("example.com/hello:1.0"), Some(want.clone()));
        assert_eq!(RootfsProvider::image_config(&store, &id), Some(want.clone()));
        let image = store.image_status(&spec("example.com/hello:1.0")).await.unwrap().unwrap();
        assert_eq!(image.repo_tags, ["example.com/hello:1.0"]);
        // Regular files, the hard link counted once.
        assert_eq!(image.size, hello.len() as u64 + 3 + 1 + 3 + 1);
        // By manifest digest.
        let by_digest = store.image_status(&spec(&format!("example.com/hello@{manifest_digest}"))).await.unwrap();
        assert_eq!(by_digest.map(|i| i.id), Some(id.clone()));
        assert!(store.image_status(&spec(&format!("other@{manifest_digest}"))).await.unwrap().is_none());

        // The config survives a reopen; the unpacked layout is gone.
        let reopened = LocalImageStore::open(tmp.path().join("store")).unwrap();
        assert_eq!(reopened.image_config("example.com/hello:1.0"), Some(want));
        assert_eq!(fs::read_dir(tmp.path().join("store/tmp")).unwrap().count(), 0);
        assert_eq!(fs::read_dir(rootfs.parent().unwrap()).unwrap().count(), 2, "rootfs and image.json only");
        make_writable(tmp.path());
    }

    #[tokio::test]
    async fn import_gzipped_layout_picks_manifest_by_tag_and_platform() {
        let tmp = tempfile::tempdir().unwrap();
        let mut layout = Layout::default();
        let which = |w: &'static [u8]| tar_of(&[E::File("which", w, 0o644)]);
        let old = layout.image(vec![(which(b"old"), true)], json!({"Cmd": ["old"]}));
        let mut platform_manifest = |w: &'static [u8], os: &str, arch: &str| {
            let mut desc = layout.image(vec![(which(w), true)], json!({"Cmd": [String::from_utf8_lossy(w)]}));
            desc["platform"] = json!({"os": os, "architecture": arch});
            desc
        };
        let attestation = platform_manifest(b"attestation", "unknown", "unknown");
        let foreign = platform_manifest(b"foreign", "linux", "not-this-arch");
        let native = platform_manifest(b"native", "linux", oci_arch());
        let index = layout.json_blob(
            MT_OCI_INDEX,
            &json!({"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": [attestation, foreign, native]}),
        );
        let tarball = layout.tarball(vec![with_annotation(old, "old"), with_annotation(index, "v2")], true);
        assert_eq!(&tarball[..2], &[0x1f, 0x8b]);
        let tarball = write(&tmp.path().join("image.tar.gz"), &tarball);

        let store = LocalImageStore::open(tmp.path().join("store")).unwrap();
        store.import_oci_layout("example.com/app:v2", &tarball).await.unwrap();
        store.import_oci_layout("example.com/app:old", &tarball).await.unwrap();
        // No annotation matches: the first manifest.
        store.import_oci_layout("example.com/app:other", &tarball).await.unwrap();
        let read = |r: &str| fs::read_to_string(store.rootfs(r).unwrap().join("which")).unwrap();
        assert_eq!(read("example.com/app:v2"), "native");
        assert_eq!(read("example.com/app:old"), "old");
        assert_eq!(read("example.com/app:other"), "old");
        assert_eq!(store.image_config("example.com/app:v2").unwrap().cmd, ["native"]);
        // Two tags of one image are one Image; removing it removes both.
        let images = store.list_images(None).await.unwrap();
        assert_eq!(images.len(), 2);
        let old_image = images.iter().find(|i| i.repo_tags.len() == 2).unwrap();
        assert_eq!(old_image.repo_tags, ["example.com/app:old", "example.com/app:other"]);
        store.remove_image(&spec("example.com/app:other")).await.unwrap();
        let left: Vec<Vec<String>> = store.list_images(None).await.unwrap().into_iter().map(|i| i.repo_tags).collect();
        assert_eq!(left, [vec!["example.com/app:v2".to_string()]]);
        assert!(store.rootfs("example.com/app:v2").unwrap().is_dir());
    }

    #[tokio::test]
    async fn escaping_entries_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let store_root = tmp.path().join("store");
        let store = LocalImageStore::open(store_root.clone()).unwrap();
        let import = |layers: Vec<Vec<u8>>, name: &str| {
            let mut layout = Layout::default();
            let manifest = layout.image(layers.into_iter().map(|l| (l, false)).collect(), json!({}));
            write(&tmp.path().join(format!("{name}.tar")), &layout.tarball(vec![manifest], false))
        };

        // `..` in a layer entry.
        let escape = import(vec![tar_of(&[E::File("ok", b"ok", 0o644), E::Raw(b"../escape", b"pwned")])], "dotdot");
        let err = store.import_oci_layout("evil", &escape).await.unwrap_err();
        assert!(matches!(&err, CriError::InvalidArgument(m) if m.contains("escapes")), "{err:?}");
        // `..` in a hard link's target.
        let link = import(vec![tar_of(&[E::Link("passwd", "../../../../etc/passwd")])], "link");
        let err = store.import_oci_layout("evil", &link).await.unwrap_err();
        assert!(matches!(&err, CriError::InvalidArgument(m) if m.contains("escapes")), "{err:?}");
        // `..` in the layout tarball itself.
        let outer = write(&tmp.path().join("outer.tar"), &tar_of(&[E::Raw(b"../escape", b"pwned")]));
        assert!(matches!(store.import_oci_layout("evil", &outer).await, Err(CriError::InvalidArgument(_))));
        assert!(find_named(tmp.path(), "escape").is_empty(), "nothing written for ../escape");
        assert!(store.list_images(None).await.unwrap().is_empty());
        assert_eq!(fs::read_dir(store_root.join("tmp")).unwrap().count(), 0, "staging cleaned up");

        // Symlinks are created as they are but extraction resolves them
        // inside the rootfs: nothing lands outside.
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        let outside_str = outside.to_str().unwrap();
        let layers = vec![
            tar_of(&[E::Symlink("abs", outside_str), E::Symlink("up", "../../../../.."), E::Dir("d", 0o755)]),
            tar_of(&[
                E::File("abs/pwned", b"x", 0o644),
                E::File("up/top", b"y", 0o644),
                E::Raw(b"/absolute/path", b"z"),
                E::File("abs/.wh.victim", b"", 0o644),
            ]),
        ];
        fs::write(outside.join("victim"), b"keep").unwrap();
        let tarball = import(layers, "symlinks");
        store.import_oci_layout("links", &tarball).await.unwrap();
        let rootfs = store.rootfs("links").unwrap();
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 1, "nothing created outside");
        assert_eq!(fs::read(outside.join("victim")).unwrap(), b"keep", "nothing deleted outside");
        assert_eq!(fs::read_link(rootfs.join("abs")).unwrap(), outside);
        let inside = rootfs.join(outside.strip_prefix("/").unwrap());
        assert_eq!(fs::read(inside.join("pwned")).unwrap(), b"x");
        assert_eq!(fs::read(rootfs.join("top")).unwrap(), b"y");
        assert_eq!(fs::read(rootfs.join("absolute/path")).unwrap(), b"z");

        // Not a layout; a corrupt blob.
        let not_layout = write(&tmp.path().join("plain.tar"), &tar_of(&[E::File("hello", b"x", 0o644)]));
        let err = store.import_oci_layout("x", &not_layout).await.unwrap_err();
        assert!(matches!(&err, CriError::InvalidArgument(m) if m.contains("oci-layout")), "{err:?}");
        let mut layout = Layout::default();
        let manifest = layout.image(vec![(tar_of(&[E::File("f", b"1", 0o644)]), false)], json!({}));
        let last = layout.blobs.len() - 2; // the layer
        layout.blobs[last].1[600] ^= 1;
        let corrupt = write(&tmp.path().join("corrupt.tar"), &layout.tarball(vec![manifest], false));
        let err = store.import_oci_layout("x", &corrupt).await.unwrap_err();
        assert!(matches!(&err, CriError::InvalidArgument(m) if m.contains("digest")), "{err:?}");
    }
}
