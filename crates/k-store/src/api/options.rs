//! Options and results of the object API.

use std::collections::BTreeMap;

use k_api_types::DynamicObject;

/// Which revision a list reads, given a resourceVersion (Kubernetes' rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceVersionMatch {
    /// Any revision at least as new as the given one (the default when a
    /// resourceVersion is given).
    NotOlderThan,
    /// Exactly the given revision (Expired if compacted).
    Exact,
}

/// Options of a list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Label selector, in the string form (`app=web,tier!=db`).
    pub label_selector: Option<String>,
    /// Field selector (`spec.nodeName=node-1`).
    pub field_selector: Option<String>,
    /// Page size; 0 means everything.
    pub limit: usize,
    /// Continue token of the previous page.
    pub continue_token: Option<String>,
    /// `None`/`""`: latest; `"0"`: any; `"N"`: see `resource_version_match`.
    pub resource_version: Option<String>,
    /// How to interpret `resource_version`.
    pub resource_version_match: Option<ResourceVersionMatch>,
}

impl ListOptions {
    /// Options with a label selector.
    pub fn labels(selector: impl Into<String>) -> Self {
        Self { label_selector: Some(selector.into()), ..Self::default() }
    }

    /// Options with a field selector.
    pub fn fields(selector: impl Into<String>) -> Self {
        Self { field_selector: Some(selector.into()), ..Self::default() }
    }
}

/// One page of a list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObjectPage {
    /// The objects, each with its resourceVersion.
    pub items: Vec<DynamicObject>,
    /// The revision the list was read at.
    pub resource_version: String,
    /// Token for the next page; empty on the last page.
    pub continue_token: String,
}

/// Options of a watch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchOptions {
    /// Label selector.
    pub label_selector: Option<String>,
    /// Field selector.
    pub field_selector: Option<String>,
    /// `None`, `""` or `"0"`: first the current state as ADDED events, then
    /// changes; `"N"`: changes after revision N.
    pub resource_version: Option<String>,
    /// Send BOOKMARK events with progress.
    pub allow_bookmarks: bool,
    /// Send the current state first, then a BOOKMARK annotated
    /// `k8s.io/initial-events-end: "true"` (streaming lists).
    pub send_initial_events: bool,
}

/// A patch body.
#[derive(Clone, Debug, PartialEq)]
pub enum Patch {
    /// RFC 6902 JSON patch (`application/json-patch+json`).
    Json(serde_json::Value),
    /// RFC 7386 JSON merge patch (`application/merge-patch+json`).
    Merge(serde_json::Value),
    /// Strategic merge patch (`application/strategic-merge-patch+json`):
    /// lists merge by their keys; built-in kinds only.
    Strategic(serde_json::Value),
    /// Server-side apply (`application/apply-patch+yaml`): the value is the
    /// manager's whole configuration of the object (with apiVersion and
    /// kind); the object is created when it does not exist. See
    /// [`crate::apply`].
    Apply {
        /// The configuration.
        configuration: serde_json::Value,
        /// Who applies it (required).
        field_manager: String,
        /// Take fields other managers own instead of failing with
        /// [`StoreError::ApplyConflict`](crate::StoreError::ApplyConflict).
        force: bool,
    },
}

impl Patch {
    /// A server-side apply of `configuration` by `field_manager`, without force.
    pub fn apply(configuration: serde_json::Value, field_manager: impl Into<String>) -> Self {
        Patch::Apply { configuration, field_manager: field_manager.into(), force: false }
    }

    /// This patch with `force` set (an apply; other patches are unchanged).
    #[must_use]
    pub fn force(mut self) -> Self {
        if let Patch::Apply { force, .. } = &mut self {
            *force = true;
        }
        self
    }
}

/// Who applies, for [`Api::apply`](crate::Api::apply).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplyParams {
    /// The field manager (required), such as the controller's name.
    pub field_manager: String,
    /// Take fields other managers own instead of failing with a conflict
    /// (controllers usually do: they are the authority on their fields).
    pub force: bool,
}

impl ApplyParams {
    /// Applies as `field_manager`, without force.
    pub fn new(field_manager: impl Into<String>) -> Self {
        ApplyParams { field_manager: field_manager.into(), force: false }
    }

    /// With `force` set.
    #[must_use]
    pub fn force(mut self) -> Self {
        self.force = true;
        self
    }
}

/// What a delete did.
#[derive(Clone, Debug, PartialEq)]
pub enum DeleteOutcome {
    /// The object is gone; this was its last state.
    Deleted(DynamicObject),
    /// The object is being deleted (finalizers or graceful termination
    /// remain); this is its state, with deletionTimestamp set.
    Pending(DynamicObject),
}

impl DeleteOutcome {
    /// The object, deleted or pending.
    pub fn object(&self) -> &DynamicObject {
        match self {
            Self::Deleted(o) | Self::Pending(o) => o,
        }
    }
}

/// Who is making a request (for admission).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// User name, such as `admin` or `system:serviceaccount:ns:name`.
    pub username: String,
    /// User uid.
    pub uid: String,
    /// Groups, such as `system:authenticated`.
    pub groups: Vec<String>,
    /// Extra attributes.
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// A user with a name and no groups.
    pub fn named(name: impl Into<String>) -> Self {
        Self { username: name.into(), ..Self::default() }
    }
}

/// The kind of write admission sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Create.
    Create,
    /// Update (including status updates, patches and graceful-deletion updates).
    Update,
    /// Delete.
    Delete,
}
