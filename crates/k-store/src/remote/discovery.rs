//! Discovery: which resources the server serves, read from the legacy
//! discovery documents (`/api`, `/api/v1`, `/apis`, `/apis/{g}/{v}`).

use std::collections::BTreeMap;

use k_api_types::meta::{APIGroupList, APIResourceList, APIVersions};
use k_api_types::{ApiResource, GroupVersionResource};

use super::transport::Transport;
use crate::error::{Result, StoreError};

/// The served resources, by group and version.
#[derive(Debug, Default, Clone)]
pub(crate) struct Catalog {
    by_version: BTreeMap<(String, String), Vec<ApiResource>>,
}

impl Catalog {
    pub(crate) fn find(&self, gvr: &GroupVersionResource) -> Option<ApiResource> {
        self.by_version
            .get(&(gvr.group.clone(), gvr.version.clone()))?
            .iter()
            .find(|r| r.plural == gvr.resource)
            .cloned()
    }

    pub(crate) fn all(&self) -> Vec<ApiResource> {
        self.by_version.values().flatten().cloned().collect()
    }

    /// Replaces (or, with `None`, forgets) one group-version.
    pub(crate) fn set(&mut self, group: &str, version: &str, resources: Option<Vec<ApiResource>>) {
        let key = (group.to_owned(), version.to_owned());
        match resources {
            Some(r) => {
                self.by_version.insert(key, r);
            }
            None => {
                self.by_version.remove(&key);
            }
        }
    }
}

/// The discovery path of a group-version.
fn version_path(group: &str, version: &str) -> String {
    if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") }
}

/// The resources of one document, subresources folded into their parents.
pub(crate) fn resources_of(list: &APIResourceList, group: &str, version: &str) -> Vec<ApiResource> {
    let mut out: Vec<ApiResource> = Vec::new();
    for r in list.resources.iter().filter(|r| !r.name.contains('/')) {
        out.push(ApiResource {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: r.kind.clone(),
            plural: r.name.clone(),
            singular: if r.singular_name.is_empty() { r.kind.to_lowercase() } else { r.singular_name.clone() },
            short_names: r.short_names.clone(),
            categories: r.categories.clone(),
            namespaced: r.namespaced,
            verbs: r.verbs.clone(),
            subresources: Vec::new(),
            selectable_fields: Vec::new(),
        });
    }
    for r in &list.resources {
        if let Some((parent, sub)) = r.name.split_once('/')
            && let Some(p) = out.iter_mut().find(|p| p.plural == parent)
        {
            p.subresources.push(sub.to_owned());
        }
    }
    out
}

/// Reads one group-version; `None` when the server does not serve it.
pub(crate) async fn fetch_version(http: &Transport, group: &str, version: &str) -> Result<Option<Vec<ApiResource>>> {
    match http.get_json::<APIResourceList>(&version_path(group, version)).await {
        Ok(list) => Ok(Some(resources_of(&list, group, version))),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads every group-version the server lists. A group-version that fails
/// (an aggregated API that is down) is left out; the root documents must answer.
pub(crate) async fn fetch_all(http: &Transport) -> Result<Catalog> {
    let core: APIVersions = http.get_json("/api").await?;
    let groups: APIGroupList = match http.get_json("/apis").await {
        Ok(g) => g,
        Err(e) if e.is_not_found() => APIGroupList::default(),
        Err(e) => return Err(e),
    };
    let mut wanted: Vec<(String, String)> = core.versions.iter().map(|v| (String::new(), v.clone())).collect();
    for g in &groups.groups {
        for v in &g.versions {
            wanted.push((g.name.clone(), v.version.clone()));
        }
    }
    let fetched = futures::future::join_all(wanted.iter().map(|(g, v)| fetch_version(http, g, v))).await;
    let mut catalog = Catalog::default();
    for ((g, v), result) in wanted.iter().zip(fetched) {
        match result {
            Ok(resources) => catalog.set(g, v, resources),
            // The core group is the least a server serves.
            Err(e) if g.is_empty() => return Err(e),
            Err(StoreError::Internal(m)) if m.starts_with("cannot reach") => return Err(StoreError::Internal(m)),
            Err(_) => {}
        }
    }
    Ok(catalog)
}
