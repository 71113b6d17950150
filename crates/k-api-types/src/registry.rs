//! The [`Registry`]: maps kinds to resources and back, for built-in kinds and
//! for custom resources registered at run time.

use std::collections::HashMap;
use std::sync::Arc;

use crate::resource::{ApiResource, GroupVersionKind, GroupVersionResource};

/// A registration that conflicts with one already present.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The resource path is already served by another kind.
    #[error("resource {gvr} is already registered for kind {existing}")]
    ResourceTaken {
        /// The resource being registered.
        gvr: GroupVersionResource,
        /// The kind that already has it.
        existing: String,
    },
    /// The kind is already registered under another resource name.
    #[error("kind {gvk} is already registered as resource {existing}")]
    KindTaken {
        /// The kind being registered.
        gvk: GroupVersionKind,
        /// The resource it already has.
        existing: String,
    },
}

/// Kind ↔ resource lookups for every served kind.
///
/// Cheap to clone (entries are shared). [`Registry::builtin`] holds every
/// built-in kind of this crate; custom resources are added with
/// [`Registry::register`] and removed with [`Registry::unregister`].
#[derive(Clone, Debug, Default)]
pub struct Registry {
    by_gvk: HashMap<GroupVersionKind, Arc<ApiResource>>,
    by_gvr: HashMap<GroupVersionResource, Arc<ApiResource>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry of every built-in kind.
    pub fn builtin() -> Self {
        let mut r = Self::new();
        for info in crate::object::BUILTIN_RESOURCES {
            // Built-ins are distinct by construction; a clash is a bug in this crate.
            let res = r.register(ApiResource::from(*info));
            debug_assert!(res.is_ok(), "{res:?}");
        }
        r
    }

    /// Adds a kind. Registering the same description again is a no-op;
    /// registering a different kind under a taken resource (or the same kind
    /// under another resource) is an error.
    pub fn register(&mut self, resource: ApiResource) -> Result<(), RegistryError> {
        let gvk = resource.gvk();
        let gvr = resource.gvr();
        if let Some(existing) = self.by_gvr.get(&gvr)
            && existing.kind != resource.kind
        {
            return Err(RegistryError::ResourceTaken { gvr, existing: existing.kind.clone() });
        }
        if let Some(existing) = self.by_gvk.get(&gvk)
            && existing.plural != resource.plural
        {
            return Err(RegistryError::KindTaken { gvk, existing: existing.plural.clone() });
        }
        let entry = Arc::new(resource);
        self.by_gvk.insert(gvk, Arc::clone(&entry));
        self.by_gvr.insert(gvr, entry);
        Ok(())
    }

    /// Adds every served version of a CustomResourceDefinition.
    pub fn register_crd(
        &mut self,
        crd: &crate::apiextensions::v1::CustomResourceDefinition,
    ) -> Result<(), RegistryError> {
        for resource in crate::custom_resource::crd_resources(crd) {
            self.register(resource)?;
        }
        Ok(())
    }

    /// Removes every version of a resource (`group`, `plural`), returning what was removed.
    pub fn unregister(&mut self, group: &str, plural: &str) -> Vec<Arc<ApiResource>> {
        let gone: Vec<_> = self.by_gvr.values().filter(|r| r.group == group && r.plural == plural).cloned().collect();
        for r in &gone {
            self.by_gvr.remove(&r.gvr());
            self.by_gvk.remove(&r.gvk());
        }
        gone
    }

    /// The resource of a kind.
    pub fn by_kind(&self, gvk: &GroupVersionKind) -> Option<&Arc<ApiResource>> {
        self.by_gvk.get(gvk)
    }

    /// The kind of a resource.
    pub fn by_resource(&self, gvr: &GroupVersionResource) -> Option<&Arc<ApiResource>> {
        self.by_gvr.get(gvr)
    }

    /// Resolves a name as kubectl does: plural, singular, short name or kind
    /// (case-insensitive), optionally qualified by group (`deployments.apps`,
    /// `deploy.apps`). Returns every match, core group first, then by group name.
    pub fn resolve(&self, name: &str) -> Vec<&Arc<ApiResource>> {
        let name = name.to_lowercase();
        let mut found: Vec<&Arc<ApiResource>> = self
            .by_gvr
            .values()
            .filter(|r| {
                let names = |r: &ApiResource| {
                    let mut v = vec![r.plural.clone(), r.singular.clone(), r.kind.to_lowercase()];
                    v.extend(r.short_names.iter().cloned());
                    v
                };
                names(r).iter().any(|n| *n == name || (!r.group.is_empty() && format!("{n}.{}", r.group) == name))
            })
            .collect();
        found.sort_by(|a, b| {
            (!a.group.is_empty(), &a.group, &a.version).cmp(&(!b.group.is_empty(), &b.group, &b.version))
        });
        found
    }

    /// Every registered kind, sorted by group, version and plural.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<ApiResource>> {
        let mut all: Vec<_> = self.by_gvr.values().collect();
        all.sort_by(|a, b| (&a.group, &a.version, &a.plural).cmp(&(&b.group, &b.version, &b.plural)));
        all.into_iter()
    }

    /// The kinds of one group/version.
    pub fn group_version(&self, group: &str, version: &str) -> impl Iterator<Item = &Arc<ApiResource>> {
        self.iter().filter(move |r| r.group == group && r.version == version)
    }

    /// Number of registered kinds.
    pub fn len(&self) -> usize {
        self.by_gvk.len()
    }

    /// Whether nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.by_gvk.is_empty()
    }
}
