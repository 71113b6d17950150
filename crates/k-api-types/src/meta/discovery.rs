//! Legacy discovery documents: `/api`, `/apis`, `/api/v1`, `/apis/{group}/{version}`.

use crate::wire;

/// The answer of `/api`: the versions of the core group.
#[wire]
pub struct APIVersions {
    /// `APIVersions`.
    #[wire(omitempty)]
    pub kind: String,
    /// `v1`.
    #[wire(omitempty)]
    pub api_version: String,
    /// Versions served, such as `v1`.
    #[wire(always)]
    pub versions: Vec<String>,
    /// Server addresses by client CIDR.
    #[serde(rename = "serverAddressByClientCIDRs")]
    #[wire(always)]
    pub server_address_by_client_cidrs: Vec<ServerAddressByClientCIDR>,
}

/// A server address for clients in a CIDR.
#[wire]
pub struct ServerAddressByClientCIDR {
    /// Client CIDR, such as `0.0.0.0/0`.
    #[serde(rename = "clientCIDR")]
    pub client_cidr: String,
    /// Address to use, `host:port`.
    pub server_address: String,
}

/// The answer of `/apis`: every group and its versions.
#[wire]
pub struct APIGroupList {
    /// `APIGroupList`.
    #[wire(omitempty)]
    pub kind: String,
    /// `v1`.
    #[wire(omitempty)]
    pub api_version: String,
    /// The groups.
    #[wire(always)]
    pub groups: Vec<APIGroup>,
}

/// One API group with its versions.
#[wire]
pub struct APIGroup {
    /// `APIGroup` when served alone.
    #[wire(omitempty)]
    pub kind: String,
    /// `v1` when served alone.
    #[wire(omitempty)]
    pub api_version: String,
    /// Group name, such as `apps`.
    pub name: String,
    /// Versions served.
    #[wire(always)]
    pub versions: Vec<GroupVersionForDiscovery>,
    /// The version clients should prefer.
    pub preferred_version: Option<GroupVersionForDiscovery>,
    /// Server addresses by client CIDR.
    #[serde(rename = "serverAddressByClientCIDRs")]
    pub server_address_by_client_cidrs: Vec<ServerAddressByClientCIDR>,
}

/// A group/version pair as discovery lists it.
#[wire(eq)]
pub struct GroupVersionForDiscovery {
    /// `group/version`, such as `apps/v1`.
    pub group_version: String,
    /// Version alone, such as `v1`.
    pub version: String,
}

/// The resources of one group/version.
#[wire]
pub struct APIResourceList {
    /// `APIResourceList`.
    #[wire(omitempty)]
    pub kind: String,
    /// `v1`.
    #[wire(omitempty)]
    pub api_version: String,
    /// `group/version` (or `v1` for the core group).
    pub group_version: String,
    /// The resources, subresources as `pods/status` entries.
    #[wire(always)]
    pub resources: Vec<APIResource>,
}

/// One resource (or subresource) as discovery describes it.
#[wire]
pub struct APIResource {
    /// Plural resource name, or `resource/subresource`.
    pub name: String,
    /// Singular name, used by kubectl.
    pub singular_name: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Group, when it differs from the list's group (subresources such as `scale`).
    #[wire(omitempty)]
    pub group: String,
    /// Version, when it differs from the list's version.
    #[wire(omitempty)]
    pub version: String,
    /// Kind of the resource.
    pub kind: String,
    /// Supported verbs: get, list, watch, create, update, patch, delete, deletecollection.
    #[wire(always)]
    pub verbs: Vec<String>,
    /// Short names such as `po`.
    pub short_names: Vec<String>,
    /// Categories such as `all`.
    pub categories: Vec<String>,
    /// Hash of the storage version.
    #[wire(omitempty)]
    pub storage_version_hash: String,
}
