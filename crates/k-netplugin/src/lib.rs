//! k's node networking (issue 8, in progress). See `docs/netplugin/design.md`.

pub mod exec;
pub mod ipam;
pub mod iproute;
pub mod netns;
#[cfg(feature = "proxy")]
pub mod node;
pub mod plugin;
pub mod pod;
#[cfg(feature = "proxy")]
pub mod proxy;
pub mod skel;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod types;

pub use plugin::{Attachment, GcAttachment, NetworkPlugin};
