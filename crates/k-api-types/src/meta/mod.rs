//! Meta types shared by every kind (the `meta.k8s.io/v1` group): object and
//! list metadata, time stamps, `Status`, watch events, tables, discovery
//! documents and `Scale`.

mod discovery;
mod label_selector;
mod list;
mod object_meta;
mod scale;
mod status;
mod table;
mod time;
mod watch;

pub use discovery::{
    APIGroup, APIGroupList, APIResource, APIResourceList, APIVersions, GroupVersionForDiscovery,
    ServerAddressByClientCIDR,
};
pub use label_selector::{LabelSelector, LabelSelectorRequirement};
pub use list::ObjectList;
pub use object_meta::{
    Condition, DeleteOptions, ListMeta, ManagedFieldsEntry, ObjectMeta, OwnerReference, PartialObjectMetadata,
    Preconditions, TypeMeta,
};
pub use scale::{Scale, ScaleSpec, ScaleStatus};
pub use status::{Status, StatusCause, StatusDetails};
pub use table::{Table, TableColumnDefinition, TableRow, TableRowCondition};
pub use time::{MicroTime, Time, TimeParseError};
pub use watch::WatchEvent;
