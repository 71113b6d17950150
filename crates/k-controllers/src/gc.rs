//! The garbage collector: objects whose owners are gone go too.
//!
//! As kube-controller-manager's `garbagecollector`, it keeps a graph of
//! every object's `metadata.ownerReferences` over **every served kind**
//! that can be listed, watched and deleted (custom resources included;
//! `events` left out), discovered from the object API and discovered again
//! every [`GcOptions::discovery_period`], so kinds of CustomResourceDefinitions
//! created later are covered too. Each kind is watched with k-runtime's
//! [`watcher`](k_runtime::watcher::watcher) of dynamic objects.
//!
//! The graph holds one node per uid, with its owners (the object's
//! references) and its dependents (the objects referring to it). An owner
//! known only from a reference is a *virtual* node: it is looked up live
//! (by the reference's apiVersion, kind and name, in the dependent's
//! namespace when the owner's kind is namespaced, cluster-wide otherwise)
//! and, when no object with that uid is there, dropped from the graph and
//! its dependents examined. Work goes through a [`WorkQueue`] with
//! per-item exponential backoff on failures.
//!
//! What it does, as Kubernetes does:
//!
//! - **Background**: a dependent whose owners are all gone (the live read
//!   of each answers 404 or another uid) is deleted, with a uid
//!   precondition, with the propagation its own finalizers ask for
//!   (`orphan`, `foregroundDeletion`, else Background). When some owners
//!   remain, only the dangling references are removed. A dependent is never
//!   deleted because its owner is missing from the graph alone: every
//!   owner is confirmed gone by a live read (absent owners are remembered).
//! - **Foreground**: an owner with a `deletionTimestamp` and the
//!   [`FOREGROUND_FINALIZER`] (what k-store adds for
//!   `propagationPolicy=Foreground`) has its dependents deleted, in the
//!   foreground too, so the deletion goes down the whole chain (Kubernetes
//!   does that for the dependents it knows dependents of, Background for
//!   the others; here every one, so a graph lagging behind a watch does not
//!   let a grandchild outlive its parent). Once no dependent with
//!   `blockOwnerDeletion: true` remains in the graph, the finalizer is
//!   removed and the owner goes. A dependent that also has a live owner is
//!   not deleted: its reference to the owner being deleted is removed
//!   instead.
//! - **Orphan**: an owner with a `deletionTimestamp` and the
//!   [`ORPHAN_FINALIZER`] has its reference removed from every dependent,
//!   then the finalizer removed.
//! - A cluster-scoped object referring to a namespaced owner is invalid;
//!   it is left alone (Kubernetes records `OwnerRefInvalidNamespace`).
//! - An owner whose kind is not served (say, its CRD was deleted) is never
//!   assumed gone: its dependents are retried with backoff until the kind
//!   is served again and the owner can be read.
//!
//! Not covered: the cycle breaking of foreground deletion (Kubernetes
//! clears `blockOwnerDeletion` on references that would deadlock, so two
//! objects owning each other and deleted in the foreground wait for ever
//! here), the `OwnerRefInvalidNamespace` event, and metrics of the graph.
//! As in Kubernetes, a blocking dependent the watches have not delivered
//! yet does not hold its owner's foreground deletion (it is collected in
//! the background after).
//!
//! k-runtime's [`Manager`] runs reconcilers only, so
//! [`add_garbage_collector`] starts the collector from a small controller
//! of namespaces (once the first namespace is seen, which every cluster
//! has); [`GarbageCollector::run`] runs it alone.
//!
//! ```no_run
//! # async fn demo(api: std::sync::Arc<dyn k_store::ObjectApi>) {
//! use k_controllers::gc::GarbageCollector;
//! let gc = GarbageCollector::new(api, std::sync::Arc::new(k_runtime::clock::SystemClock));
//! gc.run(std::future::pending()).await;
//! # }
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use futures::StreamExt;
use k_api_types::core::v1::Namespace;
use k_api_types::meta::{DeleteOptions, OwnerReference, Preconditions};
use k_api_types::resource::split_api_version;
use k_api_types::{ApiResource, DynamicObject, GroupVersionResource};
use k_runtime::clock::{Clock, SystemClock};
use k_runtime::controller::{Action, Context, Controller, Reconciler};
use k_runtime::manager::Manager;
use k_runtime::queue::{WorkQueue, default_controller_rate_limiter};
use k_runtime::watcher::{self, Event};
use k_store::api::{UserInfo, modify};
use k_store::store::{FOREGROUND_FINALIZER, ORPHAN_FINALIZER};
use k_store::{ObjectApi, StoreError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Why one piece of work failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A read or write of the object API failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An owner reference names a kind that is not served.
    #[error("no served resource for apiVersion {api_version:?}, kind {kind:?}")]
    UnknownKind {
        /// The reference's apiVersion.
        api_version: String,
        /// The reference's kind.
        kind: String,
    },
}

/// The collector's options.
#[derive(Clone, Debug)]
pub struct GcOptions {
    /// How often the served kinds are discovered again (30 s).
    pub discovery_period: Duration,
    /// How often every object with owners, and every owner waiting on its
    /// dependents, is examined again even without a change (1 h).
    pub resync_period: Duration,
    /// How many items are worked on at once (5).
    pub workers: usize,
    /// How long the workers wait for the first lists of every kind before
    /// starting anyway (30 s).
    pub sync_timeout: Duration,
    /// Resources left out, as `(group, plural)` (`events` of the core and
    /// `events.k8s.io` groups).
    pub ignored_resources: Vec<(String, String)>,
}

impl Default for GcOptions {
    fn default() -> Self {
        GcOptions {
            discovery_period: Duration::from_secs(30),
            resync_period: Duration::from_secs(3600),
            workers: 5,
            sync_timeout: Duration::from_secs(30),
            ignored_resources: vec![
                (String::new(), "events".to_owned()),
                ("events.k8s.io".to_owned(), "events".to_owned()),
            ],
        }
    }
}

// ---------------------------------------------------------------------------
// The graph
// ---------------------------------------------------------------------------

/// Where an object is: what a live read needs.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Identity {
    api_version: String,
    kind: String,
    /// The object's namespace; for a virtual node, the namespace of the
    /// dependent that named it (ignored if the kind is cluster-scoped).
    namespace: String,
    name: String,
}

/// One object of the graph.
#[derive(Debug)]
struct Node {
    identity: Identity,
    /// The object's references (empty for a virtual node).
    owners: Vec<OwnerReference>,
    /// The uids of the objects referring to this one.
    dependents: HashSet<String>,
    /// Seen by a watch (false: known only from references).
    observed: bool,
    /// Being deleted in the foreground.
    deleting_dependents: bool,
    /// Being deleted with its dependents orphaned.
    orphaning: bool,
}

/// A piece of work, by uid.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Work {
    /// See whether the object must go (or, waiting on its dependents, whether it may).
    Delete(String),
    /// Remove the object's references from its dependents.
    Orphan(String),
}

/// The ownership graph.
#[derive(Debug, Default)]
struct Graph {
    nodes: HashMap<String, Node>,
}

fn blocks(r: &OwnerReference) -> bool {
    r.block_owner_deletion == Some(true)
}

fn has_finalizer(o: &DynamicObject, finalizer: &str) -> bool {
    o.metadata.finalizers.iter().any(|f| f == finalizer)
}

impl Graph {
    /// Records the object as a watch saw it.
    fn observe(&mut self, object: &DynamicObject, queue: &WorkQueue<Work>) {
        let meta = &object.metadata;
        if meta.uid.is_empty() {
            return;
        }
        let uid = meta.uid.clone();
        let identity = Identity {
            api_version: object.api_version.clone(),
            kind: object.kind.clone(),
            namespace: meta.namespace.clone(),
            name: meta.name.clone(),
        };
        let deleting = meta.deletion_timestamp.is_some();
        let deleting_dependents = deleting && has_finalizer(object, FOREGROUND_FINALIZER);
        let orphaning = deleting && has_finalizer(object, ORPHAN_FINALIZER);
        let owners = meta.owner_references.clone();
        let (old_owners, was_deleting_dependents, was_orphaning) = match self.nodes.get_mut(&uid) {
            Some(node) => {
                let old = std::mem::replace(&mut node.owners, owners.clone());
                let was = (node.deleting_dependents, node.orphaning);
                node.identity = identity;
                node.observed = true;
                node.deleting_dependents = deleting_dependents;
                node.orphaning = orphaning;
                (old, was.0, was.1)
            }
            None => {
                self.nodes.insert(
                    uid.clone(),
                    Node {
                        identity,
                        owners: owners.clone(),
                        dependents: HashSet::new(),
                        observed: true,
                        deleting_dependents,
                        orphaning,
                    },
                );
                (Vec::new(), false, false)
            }
        };
        for old in &old_owners {
            match owners.iter().find(|r| r.uid == old.uid) {
                None => self.unlink(&uid, old, queue),
                // No longer blocking: the owner may be able to go.
                Some(new) if blocks(old) && !blocks(new) => self.wake_if_waiting(&old.uid, queue),
                Some(_) => {}
            }
        }
        for new in &owners {
            if !old_owners.iter().any(|r| r.uid == new.uid) {
                self.link(&uid, &meta.namespace, new, queue);
            }
        }
        if orphaning && !was_orphaning {
            queue.add(Work::Orphan(uid.clone()));
        }
        if deleting_dependents && !was_deleting_dependents {
            if let Some(node) = self.nodes.get(&uid) {
                for dependent in &node.dependents {
                    queue.add(Work::Delete(dependent.clone()));
                }
            }
            queue.add(Work::Delete(uid.clone()));
        }
        // A dependent of an owner waiting on its dependents goes too.
        if owners.iter().any(|r| self.nodes.get(&r.uid).is_some_and(|o| o.deleting_dependents)) {
            queue.add(Work::Delete(uid));
        }
    }

    /// Adds `dependent` to the owner `reference` names (a virtual node, to
    /// verify, if the owner is unknown).
    fn link(&mut self, dependent: &str, namespace: &str, reference: &OwnerReference, queue: &WorkQueue<Work>) {
        if reference.uid.is_empty() {
            return;
        }
        match self.nodes.get_mut(&reference.uid) {
            Some(owner) => {
                owner.dependents.insert(dependent.to_owned());
                if !owner.observed {
                    // A virtual owner is checked again for its new dependent,
                    // in its namespace if the first one gave none (a
                    // cluster-scoped dependent).
                    if owner.identity.namespace.is_empty() {
                        owner.identity.namespace = namespace.to_owned();
                    }
                    queue.add(Work::Delete(reference.uid.clone()));
                }
            }
            None => {
                self.nodes.insert(
                    reference.uid.clone(),
                    Node {
                        identity: Identity {
                            api_version: reference.api_version.clone(),
                            kind: reference.kind.clone(),
                            namespace: namespace.to_owned(),
                            name: reference.name.clone(),
                        },
                        owners: Vec::new(),
                        dependents: HashSet::from([dependent.to_owned()]),
                        observed: false,
                        deleting_dependents: false,
                        orphaning: false,
                    },
                );
                queue.add(Work::Delete(reference.uid.clone()));
            }
        }
    }

    /// Removes `dependent` from the owner `reference` names.
    fn unlink(&mut self, dependent: &str, reference: &OwnerReference, queue: &WorkQueue<Work>) {
        let Some(owner) = self.nodes.get_mut(&reference.uid) else { return };
        owner.dependents.remove(dependent);
        if !owner.observed && owner.dependents.is_empty() {
            self.nodes.remove(&reference.uid);
            return;
        }
        if blocks(reference) {
            self.wake_if_waiting(&reference.uid, queue);
        }
    }

    fn wake_if_waiting(&self, owner: &str, queue: &WorkQueue<Work>) {
        if self.nodes.get(owner).is_some_and(|o| o.deleting_dependents) {
            queue.add(Work::Delete(owner.to_owned()));
        }
    }

    /// Removes the node of a gone object; its dependents are examined, and
    /// its owners waiting on their dependents looked at again.
    fn remove(&mut self, uid: &str, queue: &WorkQueue<Work>) -> bool {
        let Some(node) = self.nodes.remove(uid) else { return false };
        for reference in &node.owners {
            if let Some(owner) = self.nodes.get_mut(&reference.uid) {
                owner.dependents.remove(uid);
                if owner.deleting_dependents {
                    queue.add(Work::Delete(reference.uid.clone()));
                } else if !owner.observed && owner.dependents.is_empty() {
                    self.nodes.remove(&reference.uid);
                }
            }
        }
        for dependent in &node.dependents {
            queue.add(Work::Delete(dependent.clone()));
        }
        !node.dependents.is_empty()
    }

    /// A live read found no object with this uid at `identity`: removes
    /// the node unless a watch saw it elsewhere.
    fn virtual_delete(&mut self, uid: &str, identity: &Identity, queue: &WorkQueue<Work>) {
        let Some(node) = self.nodes.get(uid) else { return };
        if node.observed && node.identity != *identity {
            return;
        }
        self.remove(uid, queue);
    }

    /// The dependents whose reference to `owner` blocks its deletion.
    fn blocking_dependents(&self, owner: &str) -> Vec<(String, bool)> {
        let Some(node) = self.nodes.get(owner) else { return Vec::new() };
        node.dependents
            .iter()
            .filter_map(|d| {
                let dependent = self.nodes.get(d)?;
                dependent
                    .owners
                    .iter()
                    .any(|r| r.uid == owner && blocks(r))
                    .then(|| (d.clone(), dependent.deleting_dependents))
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------
// The collector
// ---------------------------------------------------------------------------

/// What the workers and watches share.
#[derive(Debug)]
struct Shared {
    api: Arc<dyn ObjectApi>,
    graph: Mutex<Graph>,
    queue: WorkQueue<Work>,
    /// The served resources, refreshed on discovery and on a miss.
    resources: RwLock<Vec<ApiResource>>,
    /// Owners a live read found absent (uids are never reused).
    absent: Mutex<HashSet<String>>,
}

/// How many absent owners are remembered before the memory is cleared.
const ABSENT_CACHE_LIMIT: usize = 10_000;

/// What a live read of an owner found.
enum OwnerState {
    /// Not there, or another object (another uid).
    Absent,
    /// There, being deleted in the foreground.
    Waiting,
    /// There.
    Solid,
    /// A namespaced owner of a cluster-scoped object: an invalid reference.
    Invalid,
}

/// What to do with an item after working on it.
enum Next {
    Done,
    Again,
}

impl Shared {
    fn graph(&self) -> std::sync::MutexGuard<'_, Graph> {
        self.graph.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The served resource of `api_version` and `kind` (another served
    /// version of the same group and kind if that one is not).
    fn resolve(&self, api_version: &str, kind: &str) -> Option<ApiResource> {
        let find = |resources: &[ApiResource]| {
            let (group, _) = split_api_version(api_version);
            let top = |r: &&ApiResource| r.kind == kind && !r.plural.contains('/');
            resources
                .iter()
                .filter(top)
                .find(|r| r.api_version() == api_version)
                .or_else(|| resources.iter().filter(top).find(|r| r.group == group))
                .cloned()
        };
        if let Some(r) = find(&self.resources.read().unwrap_or_else(PoisonError::into_inner)) {
            return Some(r);
        }
        let fresh = self.api.resources();
        let found = find(&fresh);
        *self.resources.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        found
    }

    fn remember_absent(&self, key: String) {
        let mut absent = self.absent.lock().unwrap_or_else(PoisonError::into_inner);
        if absent.len() >= ABSENT_CACHE_LIMIT {
            absent.clear();
        }
        absent.insert(key);
    }

    fn is_absent(&self, key: &str) -> bool {
        self.absent.lock().unwrap_or_else(PoisonError::into_inner).contains(key)
    }

    /// The object at `identity` now, with its resource (a namespaced kind
    /// without a namespace is an invalid identity).
    async fn read(&self, identity: &Identity) -> Result<Read, Error> {
        let resource = self.resolve(&identity.api_version, &identity.kind).ok_or_else(|| Error::UnknownKind {
            api_version: identity.api_version.clone(),
            kind: identity.kind.clone(),
        })?;
        if resource.namespaced && identity.namespace.is_empty() {
            return Ok(Read::Invalid);
        }
        let namespace = if resource.namespaced { identity.namespace.as_str() } else { "" };
        match self.api.get(&resource.gvr(), namespace, &identity.name).await {
            Ok(object) => Ok(Read::Found(resource.gvr(), Box::new(object))),
            Err(e) if e.is_not_found() => Ok(Read::Missing),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the owner `reference` of an object in `namespace` is there.
    async fn owner_state(&self, reference: &OwnerReference, namespace: &str) -> Result<OwnerState, Error> {
        let resource = self.resolve(&reference.api_version, &reference.kind).ok_or_else(|| Error::UnknownKind {
            api_version: reference.api_version.clone(),
            kind: reference.kind.clone(),
        })?;
        if resource.namespaced && namespace.is_empty() {
            return Ok(OwnerState::Invalid);
        }
        let namespace = if resource.namespaced { namespace } else { "" };
        let key = format!("{}|{}|{}|{}|{}", reference.uid, resource.group, resource.kind, namespace, reference.name);
        if self.is_absent(&key) {
            return Ok(OwnerState::Absent);
        }
        match self.api.get(&resource.gvr(), namespace, &reference.name).await {
            Err(e) if e.is_not_found() => {
                self.remember_absent(key);
                Ok(OwnerState::Absent)
            }
            Err(e) => Err(e.into()),
            Ok(owner) if owner.metadata.uid != reference.uid => {
                self.remember_absent(key);
                Ok(OwnerState::Absent)
            }
            Ok(owner) => {
                Ok(if owner.metadata.deletion_timestamp.is_some() && has_finalizer(&owner, FOREGROUND_FINALIZER) {
                    OwnerState::Waiting
                } else {
                    OwnerState::Solid
                })
            }
        }
    }

    /// Works on one item.
    async fn work(&self, item: &Work) -> Result<Next, Error> {
        match item {
            Work::Delete(uid) => self.attempt_to_delete(uid).await,
            Work::Orphan(uid) => self.attempt_to_orphan(uid).await,
        }
    }

    async fn attempt_to_delete(&self, uid: &str) -> Result<Next, Error> {
        let (identity, observed) = match self.graph().nodes.get(uid) {
            Some(node) => (node.identity.clone(), node.observed),
            // Gone meanwhile.
            None => return Ok(Next::Done),
        };
        let (gvr, latest) = match self.read(&identity).await? {
            Read::Found(gvr, o) if o.metadata.uid == uid => (gvr, *o),
            Read::Invalid => {
                tracing::info!(?identity, uid, "a cluster-scoped object refers to a namespaced owner; ignored");
                return Ok(Next::Done);
            }
            Read::Found(..) | Read::Missing => {
                // Gone (or replaced): its dependents are examined.
                self.graph().virtual_delete(uid, &identity, &self.queue);
                return Ok(Next::Done);
            }
        };
        let next = self.examine(uid, &gvr, latest).await?;
        // A virtual node that exists is looked at again until a watch sees it.
        Ok(if observed { next } else { Next::Again })
    }

    async fn examine(&self, uid: &str, gvr: &GroupVersionResource, latest: DynamicObject) -> Result<Next, Error> {
        let meta = &latest.metadata;
        if meta.deletion_timestamp.is_some() {
            if !has_finalizer(&latest, FOREGROUND_FINALIZER) {
                // On its way: its dependents are examined once it is gone.
                return Ok(Next::Done);
            }
            return self.deleting_dependents(uid, gvr, &latest).await;
        }
        if meta.owner_references.is_empty() {
            return Ok(Next::Done);
        }
        let (mut solid, mut dangling, mut waiting) = (Vec::new(), Vec::new(), Vec::new());
        // A reference without a uid names no object (Kubernetes refuses
        // them): it neither holds nor condemns the object.
        for reference in meta.owner_references.iter().filter(|r| !r.uid.is_empty()) {
            match self.owner_state(reference, &meta.namespace).await? {
                OwnerState::Absent => dangling.push(reference.uid.clone()),
                OwnerState::Waiting => waiting.push(reference.uid.clone()),
                OwnerState::Solid => solid.push(reference.uid.clone()),
                OwnerState::Invalid => {
                    tracing::info!(
                        kind = %latest.kind, name = %meta.name, owner = %reference.name,
                        "a cluster-scoped object refers to a namespaced owner; ignored"
                    );
                    return Ok(Next::Done);
                }
            }
        }
        tracing::debug!(uid, ?solid, ?dangling, ?waiting, "examined the owners");
        if solid.is_empty() && dangling.is_empty() && waiting.is_empty() {
            return Ok(Next::Done);
        }
        if !solid.is_empty() {
            if dangling.is_empty() && waiting.is_empty() {
                return Ok(Next::Done);
            }
            let stale: HashSet<String> = dangling.into_iter().chain(waiting).collect();
            self.strip_references(gvr, &latest, &stale).await?;
            return Ok(Next::Done);
        }
        // An owner waits for its dependents: they go in the foreground too,
        // so that theirs go first. (Kubernetes does that only for the ones
        // it knows dependents of; a graph that lags behind could miss them,
        // and a foreground deletion of an object without dependents costs
        // one more write.)
        let policy = if !waiting.is_empty() {
            "Foreground"
        } else if has_finalizer(&latest, ORPHAN_FINALIZER) {
            "Orphan"
        } else if has_finalizer(&latest, FOREGROUND_FINALIZER) {
            "Foreground"
        } else {
            "Background"
        };
        tracing::info!(kind = %latest.kind, namespace = %meta.namespace, name = %meta.name, policy, "deleting a dependent whose owners are gone");
        let options = DeleteOptions {
            preconditions: Some(Preconditions { uid: Some(uid.to_owned()), resource_version: None }),
            propagation_policy: Some(policy.to_owned()),
            ..Default::default()
        };
        match self.api.delete(gvr, &meta.namespace, &meta.name, &options, &UserInfo::default()).await {
            Ok(_) => Ok(Next::Done),
            Err(e) if e.is_not_found() => Ok(Next::Done),
            Err(e) => Err(e.into()),
        }
    }

    /// An owner being deleted in the foreground: its blocking dependents
    /// go first, then its finalizer.
    async fn deleting_dependents(
        &self,
        uid: &str,
        gvr: &GroupVersionResource,
        latest: &DynamicObject,
    ) -> Result<Next, Error> {
        let blocking = {
            let mut graph = self.graph();
            if let Some(node) = graph.nodes.get_mut(uid)
                && !node.deleting_dependents
            {
                // The watch has not told yet.
                node.deleting_dependents = true;
                for dependent in &node.dependents {
                    self.queue.add(Work::Delete(dependent.clone()));
                }
            }
            graph.blocking_dependents(uid)
        };
        if blocking.is_empty() {
            self.remove_finalizer(gvr, latest, FOREGROUND_FINALIZER).await?;
            return Ok(Next::Done);
        }
        for (dependent, deleting) in blocking {
            if !deleting {
                self.queue.add(Work::Delete(dependent));
            }
        }
        Ok(Next::Done)
    }

    async fn attempt_to_orphan(&self, uid: &str) -> Result<Next, Error> {
        let (identity, dependents) = match self.graph().nodes.get(uid) {
            Some(node) => (node.identity.clone(), node.dependents.iter().cloned().collect::<Vec<_>>()),
            None => return Ok(Next::Done),
        };
        let (gvr, latest) = match self.read(&identity).await? {
            Read::Found(gvr, o) if o.metadata.uid == uid => (gvr, *o),
            _ => return Ok(Next::Done),
        };
        if latest.metadata.deletion_timestamp.is_none() || !has_finalizer(&latest, ORPHAN_FINALIZER) {
            return Ok(Next::Done);
        }
        let owner = HashSet::from([uid.to_owned()]);
        for dependent in dependents {
            let Some(identity) = self.graph().nodes.get(&dependent).map(|n| n.identity.clone()) else { continue };
            match self.read(&identity).await {
                Ok(Read::Found(gvr, o)) if o.metadata.uid == dependent => {
                    self.strip_references(&gvr, &o, &owner).await?;
                }
                Ok(_) => {}
                Err(Error::UnknownKind { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.remove_finalizer(&gvr, &latest, ORPHAN_FINALIZER).await?;
        Ok(Next::Done)
    }

    /// Removes the references to `owners` from `object` (the same uid, read again on conflict).
    async fn strip_references(
        &self,
        gvr: &GroupVersionResource,
        object: &DynamicObject,
        owners: &HashSet<String>,
    ) -> Result<(), Error> {
        let uid = object.metadata.uid.clone();
        tracing::info!(kind = %object.kind, namespace = %object.metadata.namespace, name = %object.metadata.name, ?owners, "removing owner references");
        let result = modify::<StoreError>(
            &*self.api,
            gvr,
            &object.metadata.namespace,
            &object.metadata.name,
            false,
            &UserInfo::default(),
            |current| {
                if current.metadata.uid != uid {
                    return Ok(None);
                }
                let mut next = current.clone();
                next.metadata.owner_references.retain(|r| !owners.contains(&r.uid));
                Ok((next.metadata.owner_references.len() != current.metadata.owner_references.len()).then_some(next))
            },
        )
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes `finalizer` from `object` (the same uid).
    async fn remove_finalizer(
        &self,
        gvr: &GroupVersionResource,
        object: &DynamicObject,
        finalizer: &str,
    ) -> Result<(), Error> {
        let uid = object.metadata.uid.clone();
        tracing::info!(kind = %object.kind, namespace = %object.metadata.namespace, name = %object.metadata.name, finalizer, "removing the finalizer");
        let result = modify::<StoreError>(
            &*self.api,
            gvr,
            &object.metadata.namespace,
            &object.metadata.name,
            false,
            &UserInfo::default(),
            |current| {
                if current.metadata.uid != uid || !has_finalizer(current, finalizer) {
                    return Ok(None);
                }
                let mut next = current.clone();
                next.metadata.finalizers.retain(|f| f != finalizer);
                Ok(Some(next))
            },
        )
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every object to look at again on a resync.
    fn resync(&self) {
        let graph = self.graph();
        for (uid, node) in &graph.nodes {
            if node.orphaning {
                self.queue.add(Work::Orphan(uid.clone()));
            }
            if !node.owners.is_empty() || node.deleting_dependents || !node.observed {
                self.queue.add(Work::Delete(uid.clone()));
            }
        }
    }
}

/// What a live read of an identity found.
enum Read {
    Found(GroupVersionResource, Box<DynamicObject>),
    Missing,
    Invalid,
}

/// Whether the collector watches `resource`.
fn collectable(resource: &ApiResource, ignored: &[(String, String)]) -> bool {
    !resource.plural.contains('/')
        && ["list", "watch", "delete"].iter().all(|v| resource.verbs.iter().any(|x| x == v))
        && !ignored.iter().any(|(g, p)| *g == resource.group && *p == resource.plural)
}

/// Watches one kind into the graph.
async fn monitor(shared: Arc<Shared>, resource: ApiResource, config: watcher::Config, synced: watch::Sender<bool>) {
    let mut events = Box::pin(watcher::watcher(shared.api.clone(), resource.gvr(), None, config));
    // The uids this watch holds, and those of a list in progress.
    let mut known: HashSet<String> = HashSet::new();
    let mut listing: Option<HashSet<String>> = None;
    // Objects carry their type, or are given the watched one.
    let typed = |o: &Arc<DynamicObject>| {
        if !o.api_version.is_empty() && !o.kind.is_empty() {
            return o.clone();
        }
        let mut o = (**o).clone();
        if o.api_version.is_empty() {
            o.api_version = resource.api_version();
        }
        if o.kind.is_empty() {
            o.kind = resource.kind.clone();
        }
        Arc::new(o)
    };
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Init) => listing = Some(HashSet::new()),
            Ok(Event::InitApply(o)) => {
                if let Some(listed) = listing.as_mut() {
                    listed.insert(o.metadata.uid.clone());
                }
                known.insert(o.metadata.uid.clone());
                shared.graph().observe(&typed(&o), &shared.queue);
            }
            Ok(Event::InitDone) => {
                if let Some(listed) = listing.take() {
                    let mut graph = shared.graph();
                    for gone in known.difference(&listed) {
                        if graph.nodes.get(gone).is_some_and(|n| n.observed) {
                            graph.remove(gone, &shared.queue);
                        }
                    }
                    known = listed;
                }
                let _ = synced.send(true);
            }
            Ok(Event::Apply(o)) => {
                known.insert(o.metadata.uid.clone());
                shared.graph().observe(&typed(&o), &shared.queue);
            }
            Ok(Event::Delete(o)) => {
                known.remove(&o.metadata.uid);
                shared.graph().remove(&o.metadata.uid, &shared.queue);
            }
            Err(e) => tracing::debug!(resource = %resource.gvr(), error = %e, "garbage collector watch failed"),
        }
    }
}

/// Aborts tasks when dropped.
#[derive(Default)]
struct Tasks(BTreeMap<(String, String), (ApiResource, JoinHandle<()>)>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for (_, task) in self.0.values() {
            task.abort();
        }
    }
}

/// The garbage collector (see the [module documentation](self)).
#[derive(Debug)]
pub struct GarbageCollector {
    shared: Arc<Shared>,
    clock: Arc<dyn Clock>,
    options: GcOptions,
}

impl GarbageCollector {
    /// A collector over `api`, telling time (discovery, resync, backoff) by `clock`.
    pub fn new(api: Arc<dyn ObjectApi>, clock: Arc<dyn Clock>) -> Self {
        let queue: WorkQueue<Work> = WorkQueue::with(
            "garbagecollector",
            clock.clone(),
            Box::new(default_controller_rate_limiter(clock.clone())),
        );
        let shared = Arc::new(Shared {
            api,
            graph: Mutex::new(Graph::default()),
            queue,
            resources: RwLock::new(Vec::new()),
            absent: Mutex::new(HashSet::new()),
        });
        GarbageCollector { shared, clock, options: GcOptions::default() }
    }

    /// With `options`.
    #[must_use]
    pub fn with_options(mut self, options: GcOptions) -> Self {
        self.options = options;
        self
    }

    /// Starts a watch of every collectable resource not watched yet, stops
    /// those no longer served; returns the sync signals of the new ones.
    fn sync_monitors(&self, shared: &Arc<Shared>, monitors: &mut Tasks) -> Vec<watch::Receiver<bool>> {
        let resources = shared.api.resources();
        let mut wanted: BTreeMap<(String, String), ApiResource> = BTreeMap::new();
        let mut sorted: Vec<&ApiResource> =
            resources.iter().filter(|r| collectable(r, &self.options.ignored_resources)).collect();
        sorted.sort_by(|a, b| (&a.group, &a.plural, &a.version).cmp(&(&b.group, &b.plural, &b.version)));
        for r in sorted {
            // One version of each group/resource: they are the same objects.
            wanted.entry((r.group.clone(), r.plural.clone())).or_insert_with(|| r.clone());
        }
        *shared.resources.write().unwrap_or_else(PoisonError::into_inner) = resources;
        let mut unserved = Vec::new();
        monitors.0.retain(|key, (resource, task)| {
            let served = wanted.contains_key(key);
            if !served {
                unserved.push(resource.clone());
            }
            let keep = served && !task.is_finished();
            if !keep {
                task.abort();
            }
            keep
        });
        if !unserved.is_empty() {
            // The objects of kinds no longer served cannot be watched: they
            // become virtual, looked at until served again (an owner of an
            // unknown kind is never assumed gone).
            let mut graph = shared.graph();
            let gone: Vec<String> = graph
                .nodes
                .iter()
                .filter(|(_, n)| {
                    n.observed
                        && unserved.iter().any(|r| {
                            r.kind == n.identity.kind && r.group == split_api_version(&n.identity.api_version).0
                        })
                })
                .map(|(uid, _)| uid.clone())
                .collect();
            for uid in gone {
                if let Some(node) = graph.nodes.get_mut(&uid) {
                    node.observed = false;
                    for dependent in &node.dependents {
                        shared.queue.add(Work::Delete(dependent.clone()));
                    }
                }
                shared.queue.add(Work::Delete(uid));
            }
        }
        let mut signals = Vec::new();
        for (key, resource) in wanted {
            if monitors.0.contains_key(&key) {
                continue;
            }
            tracing::debug!(resource = %resource.gvr(), "garbage collector watches");
            let (synced, signal) = watch::channel(false);
            let config = watcher::Config { clock: self.clock.clone(), ..Default::default() };
            let task = tokio::spawn(monitor(shared.clone(), resource.clone(), config, synced));
            monitors.0.insert(key, (resource, task));
            signals.push(signal);
        }
        signals
    }

    /// Runs until `shutdown` completes, then lets the work in flight finish.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let shared = self.shared.clone();
        let queue = shared.queue.clone();
        let (ready_tx, ready) = watch::channel(false);
        let mut workers = Vec::new();
        for _ in 0..self.options.workers.max(1) {
            let (shared, mut ready) = (shared.clone(), ready.clone());
            workers.push(tokio::spawn(async move {
                if ready.wait_for(|r| *r).await.is_err() {
                    return;
                }
                while let Some(item) = shared.queue.get().await {
                    match shared.work(&item).await {
                        Ok(Next::Done) => shared.queue.forget(&item),
                        Ok(Next::Again) => shared.queue.add_rate_limited(item.clone()),
                        Err(e) => {
                            tracing::debug!(?item, error = %e, "garbage collection failed; retrying");
                            shared.queue.add_rate_limited(item.clone());
                        }
                    }
                    shared.queue.done(&item);
                }
            }));
        }
        let driver = async {
            let mut monitors = Tasks::default();
            let signals = self.sync_monitors(&shared, &mut monitors);
            let all_synced = futures::future::join_all(signals.into_iter().map(|mut s| async move {
                let _ = s.wait_for(|v| *v).await;
            }));
            tokio::select! {
                _ = all_synced => {}
                () = self.clock.sleep_until(self.clock.now() + self.options.sync_timeout) => {
                    tracing::info!("garbage collector starts before every kind was listed");
                }
            }
            let _ = ready_tx.send(true);
            let mut next_discovery = self.clock.now() + self.options.discovery_period;
            let mut next_resync = self.clock.now() + self.options.resync_period;
            loop {
                self.clock.sleep_until(next_discovery.min(next_resync)).await;
                let now = self.clock.now();
                if now >= next_discovery {
                    self.sync_monitors(&shared, &mut monitors);
                    next_discovery = now + self.options.discovery_period;
                }
                if now >= next_resync {
                    shared.resync();
                    next_resync = now + self.options.resync_period;
                }
            }
        };
        tokio::select! {
            () = driver => {}
            () = shutdown => {}
        }
        drop(ready_tx);
        queue.shutdown_and_drain().await;
        for worker in workers {
            let _ = worker.await;
        }
    }
}

// ---------------------------------------------------------------------------
// In a Manager
// ---------------------------------------------------------------------------

/// Starts the collector it holds at its first reconcile, and stops it when
/// dropped (the manager shut down, or lost its lease).
struct Starter {
    collector: Mutex<Option<GarbageCollector>>,
    /// Dropped with the starter: the collector's shutdown signal.
    stop: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

impl std::fmt::Debug for Starter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Starter").finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Reconciler<Namespace> for Starter {
    type Error = std::convert::Infallible;

    async fn reconcile(&self, _: Arc<Namespace>, _: &Context) -> Result<Action, Self::Error> {
        let collector = self.collector.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(collector) = collector {
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            *self.stop.lock().unwrap_or_else(PoisonError::into_inner) = Some(stop);
            tokio::spawn(collector.run(async move {
                // A send or the sender's drop: both mean stop.
                let _ = stopped.await;
            }));
        }
        Ok(Action::AwaitChange)
    }
}

/// Adds the garbage collector to `manager` with `options` (system clock).
///
/// k-runtime's [`Manager`] runs reconcilers only: the collector is started
/// by a controller of namespaces named `garbagecollector` at its first
/// reconcile (the first namespace seen), and stopped when that controller
/// stops (shutdown, lost lease).
pub fn add_garbage_collector_with(manager: &mut Manager, options: GcOptions) {
    let collector = GarbageCollector::new(manager.api(), Arc::new(SystemClock)).with_options(options);
    let starter = Starter { collector: Mutex::new(Some(collector)), stop: Mutex::new(None) };
    let controller = Controller::<Namespace>::new(manager.informers(), None).named("garbagecollector");
    manager.add(controller, starter);
}

/// Adds the garbage collector to `manager` with the default options.
pub fn add_garbage_collector(manager: &mut Manager) {
    add_garbage_collector_with(manager, GcOptions::default());
}

#[cfg(test)]
mod tests {
    use k_api_types::meta::ObjectMeta;
    use k_runtime::testing::TestEnv;
    use k_store::api::DeleteOutcome;

    use super::*;

    const WIDGET_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.org}
spec:
  group: example.org
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;

    /// A running collector; dropping it stops the collector and the clock ticker.
    struct Running {
        env: TestEnv,
        shared: Arc<Shared>,
        _stop: tokio::sync::oneshot::Sender<()>,
        ticker: JoinHandle<()>,
    }

    impl Drop for Running {
        fn drop(&mut self) {
            self.ticker.abort();
        }
    }

    /// Starts a collector on the fake clock, which a ticker moves 100 ms
    /// every 5 ms (so discovery, backoff and retries happen quickly).
    fn start(env: &TestEnv) -> Running {
        let options = GcOptions { workers: 2, ..Default::default() };
        let gc = GarbageCollector::new(env.api.clone(), Arc::new(env.clock.clone())).with_options(options);
        let shared = gc.shared.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(gc.run(async {
            let _ = stopped.await;
        }));
        let clock = env.clock.clone();
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(5)).await;
                clock.advance(Duration::from_millis(100));
            }
        });
        Running { env: env.clone(), shared, _stop: stop, ticker }
    }

    fn resource(env: &TestEnv, api_version: &str, kind: &str) -> ApiResource {
        env.api.resources().into_iter().find(|r| r.api_version() == api_version && r.kind == kind).unwrap()
    }

    fn owner_ref(owner: &DynamicObject, block: bool) -> OwnerReference {
        OwnerReference {
            api_version: owner.api_version.clone(),
            kind: owner.kind.clone(),
            name: owner.metadata.name.clone(),
            uid: owner.metadata.uid.clone(),
            controller: None,
            block_owner_deletion: block.then_some(true),
        }
    }

    /// Creates an object of `api_version`/`kind` in `default` (namespaced kinds).
    async fn create(
        env: &TestEnv,
        api_version: &str,
        kind: &str,
        name: &str,
        owners: Vec<OwnerReference>,
        finalizers: &[&str],
    ) -> DynamicObject {
        let r = resource(env, api_version, kind);
        let namespace = if r.namespaced { "default" } else { "" };
        let mut object = DynamicObject {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            metadata: ObjectMeta::namespaced(namespace, name),
            data: Default::default(),
        };
        object.metadata.owner_references = owners;
        object.metadata.finalizers = finalizers.iter().map(|f| (*f).to_owned()).collect();
        let mut created = env.api.create(&r.gvr(), namespace, object, &UserInfo::default()).await.unwrap();
        created.api_version = api_version.to_owned();
        created.kind = kind.to_owned();
        created
    }

    async fn cm(env: &TestEnv, name: &str, owners: Vec<OwnerReference>) -> DynamicObject {
        create(env, "v1", "ConfigMap", name, owners, &[]).await
    }

    async fn get(env: &TestEnv, object: &DynamicObject) -> Option<DynamicObject> {
        let r = resource(env, &object.api_version, &object.kind);
        match env.api.get(&r.gvr(), &object.metadata.namespace, &object.metadata.name).await {
            Ok(o) => Some(o),
            Err(e) if e.is_not_found() => None,
            Err(e) => panic!("{e}"),
        }
    }

    async fn delete(env: &TestEnv, object: &DynamicObject, policy: &str) -> DeleteOutcome {
        let r = resource(env, &object.api_version, &object.kind);
        let options = DeleteOptions { propagation_policy: Some(policy.to_owned()), ..Default::default() };
        env.api
            .delete(&r.gvr(), &object.metadata.namespace, &object.metadata.name, &options, &UserInfo::default())
            .await
            .unwrap()
    }

    async fn remove_finalizers(env: &TestEnv, object: &DynamicObject) {
        let r = resource(env, &object.api_version, &object.kind);
        let mut current = get(env, object).await.unwrap();
        current.metadata.finalizers.clear();
        env.api.update(&r.gvr(), &object.metadata.namespace, current, &UserInfo::default()).await.unwrap();
    }

    /// Waits (real time) until `check` holds for the current state of `object`.
    async fn eventually(
        env: &TestEnv,
        object: &DynamicObject,
        what: &str,
        check: impl Fn(Option<&DynamicObject>) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let current = get(env, object).await;
            if check(current.as_ref()) {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "never: {what} ({:?})", current.map(|o| o.metadata));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn gone(env: &TestEnv, object: &DynamicObject) {
        eventually(env, object, &format!("{} gone", object.metadata.name), |o| o.is_none()).await;
    }

    /// `object` is still there after a while (the collector had time to act).
    async fn stays(env: &TestEnv, object: &DynamicObject) -> DynamicObject {
        tokio::time::sleep(Duration::from_millis(400)).await;
        get(env, object).await.unwrap_or_else(|| panic!("{} was deleted", object.metadata.name))
    }

    impl Running {
        /// Waits until the graph has `dependent` among the dependents of `owner`.
        async fn linked(&self, owner: &DynamicObject, dependent: &DynamicObject) {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                let seen = {
                    let graph = self.shared.graph();
                    graph.nodes.get(&owner.metadata.uid).is_some_and(|n| {
                        n.observed
                            && n.dependents.contains(&dependent.metadata.uid)
                            && graph.nodes.get(&dependent.metadata.uid).is_some_and(|d| d.observed)
                    })
                };
                if seen {
                    return;
                }
                assert!(tokio::time::Instant::now() < deadline, "never linked: {}", dependent.metadata.name);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }

    fn owner_uids(o: &DynamicObject) -> Vec<&str> {
        o.metadata.owner_references.iter().map(|r| r.uid.as_str()).collect()
    }

    fn object(kind: &str, name: &str, uid: &str, owners: Vec<OwnerReference>) -> DynamicObject {
        let mut o = DynamicObject {
            api_version: "v1".into(),
            kind: kind.into(),
            metadata: ObjectMeta::namespaced("default", name),
            data: Default::default(),
        };
        o.metadata.uid = uid.into();
        o.metadata.owner_references = owners;
        o
    }

    async fn drain(queue: &WorkQueue<Work>) -> HashSet<Work> {
        let mut out = HashSet::new();
        while !queue.is_empty() {
            let item = queue.get().await.unwrap();
            queue.done(&item);
            out.insert(item);
        }
        out
    }

    #[tokio::test]
    async fn the_graph_links_owners_virtual_nodes_and_blocking_dependents() {
        let queue: WorkQueue<Work> = WorkQueue::new("test");
        let mut graph = Graph::default();
        let owner = object("ConfigMap", "o", "o-uid", vec![]);
        graph.observe(&owner, &queue);
        assert!(drain(&queue).await.is_empty(), "nothing to do for an object without owners");

        let unknown = OwnerReference {
            uid: "ghost".into(),
            name: "ghost".into(),
            kind: "Secret".into(),
            api_version: "v1".into(),
            ..Default::default()
        };
        let dependent = object("Pod", "d", "d-uid", vec![owner_ref(&owner, true), unknown.clone()]);
        graph.observe(&dependent, &queue);
        // The unknown owner is a virtual node, to verify.
        assert_eq!(drain(&queue).await, HashSet::from([Work::Delete("ghost".into())]));
        let ghost = &graph.nodes["ghost"];
        assert!(!ghost.observed);
        assert_eq!(ghost.identity.namespace, "default", "looked for in the dependent's namespace");
        assert!(graph.nodes["o-uid"].dependents.contains("d-uid"));
        assert_eq!(graph.blocking_dependents("o-uid"), [("d-uid".to_owned(), false)]);
        assert!(graph.blocking_dependents("ghost").is_empty(), "its reference does not block");

        // Foreground deletion of the owner: its dependents and itself are examined.
        let mut deleting = owner.clone();
        deleting.metadata.deletion_timestamp = Some(k_api_types::meta::Time(chrono::Utc::now()));
        deleting.metadata.finalizers = vec![FOREGROUND_FINALIZER.into()];
        graph.observe(&deleting, &queue);
        assert_eq!(drain(&queue).await, HashSet::from([Work::Delete("d-uid".into()), Work::Delete("o-uid".into())]));

        // The dependent drops its references: the virtual owner goes, the waiting owner is woken.
        graph.observe(&object("Pod", "d", "d-uid", vec![]), &queue);
        assert!(!graph.nodes.contains_key("ghost"));
        assert!(graph.blocking_dependents("o-uid").is_empty());
        assert_eq!(drain(&queue).await, HashSet::from([Work::Delete("o-uid".into())]));

        // An owner that goes has its dependents examined.
        graph.observe(&dependent, &queue);
        drain(&queue).await;
        assert!(graph.remove("o-uid", &queue));
        assert_eq!(drain(&queue).await, HashSet::from([Work::Delete("d-uid".into())]));
    }

    #[test]
    fn every_listable_watchable_deletable_kind_is_collected_but_events() {
        let env = TestEnv::new();
        let ignored = GcOptions::default().ignored_resources;
        let collected: Vec<ApiResource> =
            env.api.resources().into_iter().filter(|r| collectable(r, &ignored)).collect();
        for (group, plural) in [("", "configmaps"), ("", "pods"), ("apps", "deployments"), ("", "namespaces")] {
            assert!(collected.iter().any(|r| r.group == group && r.plural == plural), "{plural}");
        }
        assert!(!collected.iter().any(|r| r.plural == "events"));
        assert!(!collected.iter().any(|r| r.plural.contains('/')));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dependents_of_a_deleted_owner_are_deleted_across_kinds() {
        let env = TestEnv::new();
        env.apply(WIDGET_CRD).await.unwrap();
        let running = start(&env);
        let owner = cm(&env, "owner", vec![]).await;
        let dependent = cm(&env, "dependent", vec![owner_ref(&owner, false)]).await;
        let widget = create(&env, "example.org/v1", "Widget", "w", vec![owner_ref(&owner, true)], &[]).await;
        let under_widget = cm(&env, "under-widget", vec![owner_ref(&widget, false)]).await;
        let unrelated = cm(&env, "unrelated", vec![]).await;
        // Owners alive: nothing is collected.
        assert!(stays(&env, &dependent).await.metadata.deletion_timestamp.is_none());
        assert!(get(&env, &under_widget).await.is_some());

        delete(&env, &owner, "Background").await;
        gone(&running.env, &dependent).await;
        gone(&env, &widget).await;
        gone(&env, &under_widget).await;
        assert!(get(&env, &unrelated).await.is_some());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_owner_of_two_gone_removes_only_its_reference() {
        let env = TestEnv::new();
        let _running = start(&env);
        let a = cm(&env, "a", vec![]).await;
        let b = cm(&env, "b", vec![]).await;
        let dependent = cm(&env, "dependent", vec![owner_ref(&a, true), owner_ref(&b, false)]).await;
        delete(&env, &a, "Background").await;
        let b_uid = b.metadata.uid.clone();
        eventually(&env, &dependent, "a's reference removed", |o| o.is_some_and(|o| owner_uids(o) == [b_uid.as_str()]))
            .await;
        let kept = stays(&env, &dependent).await;
        assert!(kept.metadata.deletion_timestamp.is_none());
        assert_eq!(kept.metadata.uid, dependent.metadata.uid);

        // The last owner going takes the dependent.
        delete(&env, &b, "Background").await;
        gone(&env, &dependent).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn foreground_deletion_waits_for_blocking_dependents() {
        let env = TestEnv::new();
        let _running = start(&env);
        let owner = cm(&env, "owner", vec![]).await;
        let blocking =
            create(&env, "v1", "ConfigMap", "blocking", vec![owner_ref(&owner, true)], &["example.com/hold"]).await;
        let loose = cm(&env, "loose", vec![owner_ref(&owner, false)]).await;
        let outcome = delete(&env, &owner, "Foreground").await;
        assert!(matches!(outcome, DeleteOutcome::Pending(_)), "held by the foregroundDeletion finalizer");

        gone(&env, &loose).await;
        eventually(&env, &blocking, "blocking dependent being deleted", |o| {
            o.is_some_and(|o| o.metadata.deletion_timestamp.is_some())
        })
        .await;
        let waiting = stays(&env, &owner).await;
        assert!(waiting.metadata.deletion_timestamp.is_some());
        assert!(has_finalizer(&waiting, FOREGROUND_FINALIZER));

        remove_finalizers(&env, &blocking).await;
        gone(&env, &blocking).await;
        gone(&env, &owner).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn foreground_deletion_goes_down_a_chain_of_kinds() {
        let env = TestEnv::new();
        env.apply(WIDGET_CRD).await.unwrap();
        let running = start(&env);
        // Deployment → ReplicaSet → Pod, with any kinds.
        let top = create(&env, "example.org/v1", "Widget", "top", vec![], &[]).await;
        let middle = cm(&env, "middle", vec![owner_ref(&top, true)]).await;
        let leaf = create(&env, "v1", "Secret", "leaf", vec![owner_ref(&middle, true)], &["example.com/hold"]).await;
        // Three kinds, three watches: let the graph see them all (as in
        // Kubernetes, a dependent not yet seen does not hold its owner).
        running.linked(&top, &middle).await;
        running.linked(&middle, &leaf).await;
        delete(&env, &top, "Foreground").await;

        // The middle is deleted in the foreground too, and waits for the leaf.
        eventually(&env, &middle, "middle deleted in the foreground", |o| {
            o.is_some_and(|o| o.metadata.deletion_timestamp.is_some() && has_finalizer(o, FOREGROUND_FINALIZER))
        })
        .await;
        eventually(&env, &leaf, "leaf being deleted", |o| o.is_some_and(|o| o.metadata.deletion_timestamp.is_some()))
            .await;
        assert!(stays(&env, &top).await.metadata.deletion_timestamp.is_some());
        assert!(get(&env, &middle).await.is_some());

        remove_finalizers(&env, &leaf).await;
        gone(&env, &leaf).await;
        gone(&env, &middle).await;
        gone(&env, &top).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn background_deletion_goes_down_a_chain() {
        let env = TestEnv::new();
        let _running = start(&env);
        let top = cm(&env, "top", vec![]).await;
        let middle = create(&env, "v1", "Secret", "middle", vec![owner_ref(&top, true)], &[]).await;
        let leaf = cm(&env, "leaf", vec![owner_ref(&middle, true)]).await;
        delete(&env, &top, "Background").await;
        gone(&env, &middle).await;
        gone(&env, &leaf).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn orphan_deletion_strips_references_and_keeps_dependents() {
        let env = TestEnv::new();
        let _running = start(&env);
        let owner = cm(&env, "owner", vec![]).await;
        let other = cm(&env, "other", vec![]).await;
        let only = cm(&env, "only", vec![owner_ref(&owner, true)]).await;
        let shared = cm(&env, "shared", vec![owner_ref(&owner, true), owner_ref(&other, false)]).await;
        let outcome = delete(&env, &owner, "Orphan").await;
        assert!(matches!(outcome, DeleteOutcome::Pending(_)), "held by the orphan finalizer");
        gone(&env, &owner).await;
        let only = stays(&env, &only).await;
        assert!(only.metadata.owner_references.is_empty());
        assert!(only.metadata.deletion_timestamp.is_none());
        let shared = get(&env, &shared).await.unwrap();
        assert_eq!(owner_uids(&shared), [other.metadata.uid.as_str()]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_owner_recreated_under_the_same_name_does_not_keep_old_dependents() {
        let env = TestEnv::new();
        let _running = start(&env);
        let first = cm(&env, "owner", vec![]).await;
        delete(&env, &first, "Background").await;
        let second = cm(&env, "owner", vec![]).await;
        assert_ne!(first.metadata.uid, second.metadata.uid);
        let stale = cm(&env, "of-first", vec![owner_ref(&first, true)]).await;
        let current = cm(&env, "of-second", vec![owner_ref(&second, true)]).await;
        gone(&env, &stale).await;
        let kept = stays(&env, &current).await;
        assert_eq!(owner_uids(&kept), [second.metadata.uid.as_str()]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dependents_created_after_their_owner_went_are_collected_even_of_new_kinds() {
        let env = TestEnv::new();
        let _running = start(&env);
        let ghost = OwnerReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: "ghost".into(),
            uid: "no-such-uid".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        };
        let late = cm(&env, "late", vec![ghost.clone()]).await;
        gone(&env, &late).await;

        // A cluster-scoped object cannot have a namespaced owner: left alone.
        let invalid = create(&env, "v1", "Namespace", "invalid-owner", vec![ghost.clone()], &[]).await;
        assert_eq!(owner_uids(&stays(&env, &invalid).await), ["no-such-uid"]);

        // A kind served after the collector started is covered at the next discovery.
        env.apply(WIDGET_CRD).await.unwrap();
        let widget = create(&env, "example.org/v1", "Widget", "w", vec![ghost], &[]).await;
        gone(&env, &widget).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_owner_of_a_kind_no_longer_served_is_not_assumed_gone() {
        let env = TestEnv::new();
        let crd = env.apply(WIDGET_CRD).await.unwrap().remove(0);
        let _running = start(&env);
        let widget = create(&env, "example.org/v1", "Widget", "w", vec![], &[]).await;
        let dependent = cm(&env, "of-widget", vec![owner_ref(&widget, true)]).await;
        stays(&env, &dependent).await;
        let crds = resource(&env, "apiextensions.k8s.io/v1", "CustomResourceDefinition");
        env.api
            .delete(&crds.gvr(), "", &crd.metadata.name, &DeleteOptions::default(), &UserInfo::default())
            .await
            .unwrap();
        assert!(!env.api.resources().iter().any(|r| r.kind == "Widget"));
        // The owner cannot be read: kept, and retried.
        assert_eq!(owner_uids(&stays(&env, &dependent).await), [widget.metadata.uid.as_str()]);
        // Served again: the store kept the widget, so the dependent stays…
        env.apply(WIDGET_CRD).await.unwrap();
        assert!(get(&env, &widget).await.is_some());
        assert_eq!(owner_uids(&stays(&env, &dependent).await), [widget.metadata.uid.as_str()]);
        // …until the widget goes.
        delete(&env, &widget, "Background").await;
        gone(&env, &dependent).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_in_a_manager() {
        let env = TestEnv::new();
        env.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n").await.unwrap();
        let mut manager = env.manager();
        add_garbage_collector(&mut manager);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(manager.run(async {
            let _ = stopped.await;
        }));
        let owner = cm(&env, "owner", vec![]).await;
        let dependent = cm(&env, "dependent", vec![owner_ref(&owner, true)]).await;
        delete(&env, &owner, "Background").await;
        gone(&env, &dependent).await;
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(5), run).await.unwrap().unwrap();
    }
}
