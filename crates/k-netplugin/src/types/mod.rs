//! The CNI specification's data: configuration, results, errors, versions.

mod config;
mod error;
mod result;
mod version;

pub use config::{NetworkConfigList, PluginConf};
pub use error::{CniError, ErrorCode};
pub use result::{CniResult, Dns, Interface, IpConfig, Route};
pub use version::{SUPPORTED_VERSIONS, Version, VersionInfo, negotiate};
