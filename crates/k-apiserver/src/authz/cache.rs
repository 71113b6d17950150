//! The RBAC objects, kept from watches, and the index requests are decided
//! from.
//!
//! [`RbacCache::start`] lists Roles, ClusterRoles, RoleBindings and
//! ClusterRoleBindings once, then follows each kind's watch (listing again
//! when a watch ends). Requests never read the store: they read an
//! [`Index`], built from the cached objects when they last changed, which
//! maps each subject (a user or a group; service accounts are users) to the
//! rules its bindings grant, cluster-wide and per namespace. A request
//! looks at its own user's and groups' entries only (hash lookups by the
//! names it carries, allocating nothing), so the number of bindings in the
//! cluster does not slow it down.
//!
//! k-apiserver depends on k-store alone (DESIGN.md), so this is a small
//! watch-fed cache of its own rather than k-runtime's informers.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use futures::StreamExt;
use k_api_types::meta::WatchEvent;
use k_api_types::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject as RbacSubject};
use k_api_types::{DynamicObject, GroupVersionResource};
use k_store::api::{ListOptions, ObjectApi, UserInfo, WatchOptions};

use crate::authn::service_account;

/// The four kinds, in the order of [`Objects`]' maps.
const KINDS: [&str; 4] = ["roles", "clusterroles", "rolebindings", "clusterrolebindings"];

/// The cached objects of each kind, decoded once as they arrive, by
/// `namespace/name` (`name` for cluster-scoped kinds).
#[derive(Debug, Default)]
struct Objects {
    roles: HashMap<String, Role>,
    cluster_roles: HashMap<String, ClusterRole>,
    role_bindings: HashMap<String, RoleBinding>,
    cluster_role_bindings: HashMap<String, ClusterRoleBinding>,
}

impl Objects {
    /// Stores an object of `KINDS[kind]` (one that does not decode is
    /// logged and left out: it grants nothing).
    fn insert(&mut self, kind: usize, object: &DynamicObject) {
        let key = key_of(object);
        let stored = match kind {
            0 => object.to_typed().map(|r| drop(self.roles.insert(key, r))),
            1 => object.to_typed().map(|r| drop(self.cluster_roles.insert(key, r))),
            2 => object.to_typed().map(|r| drop(self.role_bindings.insert(key, r))),
            _ => object.to_typed().map(|r| drop(self.cluster_role_bindings.insert(key, r))),
        };
        if let Err(e) = stored {
            tracing::warn!("RBAC cache: {} {} does not decode: {e}", KINDS[kind], key_of(object));
        }
    }

    fn remove(&mut self, kind: usize, object: &DynamicObject) {
        let key = key_of(object);
        match kind {
            0 => drop(self.roles.remove(&key)),
            1 => drop(self.cluster_roles.remove(&key)),
            2 => drop(self.role_bindings.remove(&key)),
            _ => drop(self.cluster_role_bindings.remove(&key)),
        }
    }

    /// Replaces every object of one kind (after a list).
    fn replace(&mut self, kind: usize, items: &[DynamicObject]) {
        match kind {
            0 => self.roles.clear(),
            1 => self.cluster_roles.clear(),
            2 => self.role_bindings.clear(),
            _ => self.cluster_role_bindings.clear(),
        }
        for item in items {
            self.insert(kind, item);
        }
    }

    fn counts(&self) -> [usize; 4] {
        [self.roles.len(), self.cluster_roles.len(), self.role_bindings.len(), self.cluster_role_bindings.len()]
    }
}

/// Rules granted to a subject by one binding.
#[derive(Clone, Debug)]
pub struct Grant {
    /// How kube-apiserver words an allow through it: `RBAC: allowed by
    /// RoleBinding "ns/name" of Role "r" to User "jane"`.
    pub reason: Arc<str>,
    /// The role's rules (aggregated ClusterRoles resolved).
    pub rules: Arc<[PolicyRule]>,
}

/// Grants by subject: users (service accounts by their user names) and groups.
#[derive(Debug, Default)]
struct Grants {
    users: HashMap<String, Vec<Grant>>,
    groups: HashMap<String, Vec<Grant>>,
}

impl Grants {
    fn add(&mut self, subject: Subject, grant: Grant) {
        match subject {
            Subject::User(name) => self.users.entry(name).or_default().push(grant),
            Subject::Group(name) => self.groups.entry(name).or_default().push(grant),
        }
    }

    fn of<'a>(&'a self, user: &'a UserInfo) -> impl Iterator<Item = &'a Grant> + 'a {
        let own = self.users.get(&user.username).into_iter().flatten();
        let groups = user.groups.iter().filter_map(|g| self.groups.get(g)).flatten();
        own.chain(groups)
    }
}

/// Subjects → what their bindings grant; see the [module docs](self).
#[derive(Debug, Default)]
pub struct Index {
    generation: u64,
    /// Through ClusterRoleBindings.
    cluster: Grants,
    /// Through RoleBindings, by namespace.
    namespaced: HashMap<String, Grants>,
}

/// A binding's subject, as the index keys it.
enum Subject {
    User(String),
    Group(String),
}

impl Index {
    /// The grants that apply to `user` (by name and groups) in `namespace`
    /// ("" for cluster-wide only): cluster-wide ones first. Looking them up
    /// allocates nothing.
    pub fn grants<'a>(&'a self, user: &'a UserInfo, namespace: &str) -> impl Iterator<Item = &'a Grant> + 'a {
        let local = if namespace.is_empty() { None } else { self.namespaced.get(namespace) };
        self.cluster.of(user).chain(local.into_iter().flat_map(move |g| g.of(user)))
    }

    fn build(objects: &Objects, generation: u64) -> Index {
        let roles: HashMap<&str, Arc<[PolicyRule]>> =
            objects.roles.iter().map(|(k, r)| (k.as_str(), Arc::from(r.rules.clone()))).collect();
        let cluster_roles = &objects.cluster_roles;
        let mut resolved: HashMap<String, Arc<[PolicyRule]>> = HashMap::new();
        for name in cluster_roles.keys() {
            let mut seen = HashSet::new();
            let rules = aggregate(name, cluster_roles, &mut seen);
            resolved.insert(name.clone(), Arc::from(rules));
        }
        let mut index = Index { generation, ..Index::default() };
        for binding in objects.cluster_role_bindings.values() {
            if binding.role_ref.kind != "ClusterRole" {
                continue;
            }
            let Some(rules) = resolved.get(&binding.role_ref.name) else { continue };
            for subject in &binding.subjects {
                let Some(key) = subject_key(subject, "") else { continue };
                let reason = format!(
                    "RBAC: allowed by ClusterRoleBinding {:?} of ClusterRole {:?} to {}",
                    binding.metadata.name,
                    binding.role_ref.name,
                    describe(subject)
                );
                index.cluster.add(key, Grant { reason: reason.into(), rules: rules.clone() });
            }
        }
        for binding in objects.role_bindings.values() {
            let namespace = &binding.metadata.namespace;
            let rules = match binding.role_ref.kind.as_str() {
                "ClusterRole" => resolved.get(&binding.role_ref.name),
                "Role" => roles.get(format!("{namespace}/{}", binding.role_ref.name).as_str()),
                _ => None,
            };
            let Some(rules) = rules else { continue };
            for subject in &binding.subjects {
                let Some(key) = subject_key(subject, namespace) else { continue };
                let reason = format!(
                    "RBAC: allowed by RoleBinding {:?} of {} {:?} to {}",
                    format!("{namespace}/{}", binding.metadata.name),
                    binding.role_ref.kind,
                    binding.role_ref.name,
                    describe(subject)
                );
                index
                    .namespaced
                    .entry(namespace.clone())
                    .or_default()
                    .add(key, Grant { reason: reason.into(), rules: rules.clone() });
            }
        }
        index
    }
}

/// A ClusterRole's rules with those it aggregates (see [`Index`]).
pub fn aggregate_rules(name: &str, roles: &HashMap<String, ClusterRole>) -> Vec<PolicyRule> {
    aggregate(name, roles, &mut HashSet::new())
}

/// A ClusterRole's rules and, through its `aggregationRule`, the rules of
/// every ClusterRole its selectors match (transitively, each role once).
fn aggregate(name: &str, roles: &HashMap<String, ClusterRole>, seen: &mut HashSet<String>) -> Vec<PolicyRule> {
    if !seen.insert(name.to_owned()) {
        return Vec::new();
    }
    let Some(role) = roles.get(name) else { return Vec::new() };
    let mut rules = role.rules.clone();
    if let Some(aggregation) = &role.aggregation_rule {
        let mut names: Vec<&String> = roles
            .iter()
            .filter(|(other, r)| {
                other.as_str() != name
                    && aggregation
                        .cluster_role_selectors
                        .iter()
                        .any(|s| k_api_types::selector::selector_matches(Some(s), &r.metadata.labels))
            })
            .map(|(other, _)| other)
            .collect();
        names.sort();
        for other in names {
            for rule in aggregate(other, roles, seen) {
                if !rules.contains(&rule) {
                    rules.push(rule);
                }
            }
        }
    }
    rules
}

/// The index key of a binding's subject (service accounts become their
/// user names; a service account without a namespace takes the binding's).
fn subject_key(subject: &RbacSubject, binding_namespace: &str) -> Option<Subject> {
    match subject.kind.as_str() {
        "User" => Some(Subject::User(subject.name.clone())),
        "Group" => Some(Subject::Group(subject.name.clone())),
        "ServiceAccount" => {
            let namespace = if subject.namespace.is_empty() { binding_namespace } else { &subject.namespace };
            (!namespace.is_empty()).then(|| Subject::User(service_account::username(namespace, &subject.name)))
        }
        _ => None,
    }
}

fn describe(subject: &RbacSubject) -> String {
    match subject.kind.as_str() {
        "ServiceAccount" => format!("ServiceAccount {:?}", format!("{}/{}", subject.namespace, subject.name)),
        kind => format!("{kind} {:?}", subject.name),
    }
}

/// Watch-fed RBAC objects; see the [module docs](self).
#[derive(Debug)]
pub struct RbacCache {
    objects: RwLock<Objects>,
    generation: AtomicU64,
    index: RwLock<Arc<Index>>,
    tasks: Vec<tokio::task::AbortHandle>,
}

impl Drop for RbacCache {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn key_of(object: &DynamicObject) -> String {
    if object.metadata.namespace.is_empty() {
        object.metadata.name.clone()
    } else {
        format!("{}/{}", object.metadata.namespace, object.metadata.name)
    }
}

impl RbacCache {
    /// Lists the four kinds from `api` (waiting until it can), then keeps
    /// following them in the background until the cache is dropped.
    pub async fn start(api: Arc<dyn ObjectApi>) -> Arc<RbacCache> {
        let mut objects = Objects::default();
        let mut versions = Vec::new();
        for (kind, name) in KINDS.iter().enumerate() {
            let (items, version) = list_until_ok(api.as_ref(), name).await;
            objects.replace(kind, &items);
            versions.push(version);
        }
        Arc::new_cyclic(|weak: &Weak<RbacCache>| {
            let tasks = versions
                .into_iter()
                .enumerate()
                .map(|(i, version)| tokio::spawn(follow(api.clone(), weak.clone(), i, version)).abort_handle())
                .collect();
            RbacCache {
                objects: RwLock::new(objects),
                generation: AtomicU64::new(1),
                index: RwLock::new(Arc::new(Index::default())),
                tasks,
            }
        })
    }

    /// The index of the objects as they are now (built when they changed
    /// since the last one).
    pub fn index(&self) -> Arc<Index> {
        let generation = self.generation.load(Ordering::Acquire);
        {
            let index = self.index.read().unwrap_or_else(|e| e.into_inner());
            if index.generation == generation {
                return index.clone();
            }
        }
        let objects = self.objects.read().unwrap_or_else(|e| e.into_inner());
        let generation = self.generation.load(Ordering::Acquire);
        let built = Arc::new(Index::build(&objects, generation));
        drop(objects);
        let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
        if index.generation < built.generation {
            *index = built.clone();
        }
        built
    }

    /// How many objects of each kind are cached (roles, clusterroles,
    /// rolebindings, clusterrolebindings).
    pub fn counts(&self) -> [usize; 4] {
        let objects = self.objects.read().unwrap_or_else(|e| e.into_inner());
        objects.counts()
    }

    fn change(&self, apply: impl FnOnce(&mut Objects)) {
        let mut objects = self.objects.write().unwrap_or_else(|e| e.into_inner());
        apply(&mut objects);
        // Bumped under the lock, so an index built under the read lock
        // carries the generation of exactly what it saw.
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

fn gvr(kind: &str) -> GroupVersionResource {
    GroupVersionResource::new("rbac.authorization.k8s.io", "v1", kind)
}

async fn list_until_ok(api: &dyn ObjectApi, kind: &str) -> (Vec<DynamicObject>, String) {
    loop {
        match api.list(&gvr(kind), None, &ListOptions::default()).await {
            Ok(page) => return (page.items, page.resource_version),
            Err(e) => {
                tracing::warn!("RBAC cache: listing {kind}: {e}; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Follows one kind's watch from `version`, listing again whenever the
/// watch ends, until the cache is gone.
async fn follow(api: Arc<dyn ObjectApi>, cache: Weak<RbacCache>, kind: usize, mut version: String) {
    // A watch that ends is followed by a new list, so events need not
    // track the version.
    loop {
        let options =
            WatchOptions { resource_version: Some(version.clone()), allow_bookmarks: true, ..WatchOptions::default() };
        match api.watch(&gvr(KINDS[kind]), None, &options).await {
            Ok(mut events) => {
                while let Some(event) = events.next().await {
                    let Some(cache) = cache.upgrade() else { return };
                    match event {
                        Ok(WatchEvent::Added(o) | WatchEvent::Modified(o)) => {
                            cache.change(|objects| objects.insert(kind, &o));
                        }
                        Ok(WatchEvent::Deleted(o)) => {
                            cache.change(|objects| objects.remove(kind, &o));
                        }
                        Ok(WatchEvent::Bookmark(_)) => {}
                        Ok(WatchEvent::Error(_)) | Err(_) => break,
                    }
                }
            }
            Err(e) => tracing::debug!("RBAC cache: watching {}: {e}", KINDS[kind]),
        }
        // The watch ended (expired, or the store restarted): list again.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (items, listed) = list_until_ok(api.as_ref(), KINDS[kind]).await;
        let Some(cache) = cache.upgrade() else { return };
        cache.change(|objects| objects.replace(kind, &items));
        version = listed;
    }
}
