//! CNI versions (`x.y.z`), VERSION's answer, and negotiation.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{CniError, ErrorCode};

/// The versions k reads and writes, oldest first.
pub const SUPPORTED_VERSIONS: &[&str] = &["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

/// A CNI specification version, ordered numerically.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Patch.
    pub patch: u32,
}

impl Version {
    /// `major.minor.patch`.
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Version { major, minor, patch }
    }

    /// 1.0.0: results without `ips[].version`.
    pub const V1_0: Version = Version::new(1, 0, 0);
    /// 1.1.0: STATUS, GC and `cniVersions`.
    pub const V1_1: Version = Version::new(1, 1, 0);
    /// 0.4.0: CHECK.
    pub const V0_4: Version = Version::new(0, 4, 0);
}

impl FromStr for Version {
    type Err = CniError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || CniError::new(ErrorCode::IncompatibleVersion, format!("invalid version {s:?}"));
        let mut parts = s.split('.').map(|p| p.parse::<u32>().map_err(|_| bad()));
        let major = parts.next().ok_or_else(bad)??;
        let minor = parts.next().transpose()?.unwrap_or(0);
        let patch = parts.next().transpose()?.unwrap_or(0);
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Version { major, minor, patch })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A plugin's answer to VERSION.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    /// The version of this answer.
    pub cni_version: String,
    /// Every version the plugin implements.
    pub supported_versions: Vec<String>,
}

impl VersionInfo {
    /// The answer of a plugin implementing [`SUPPORTED_VERSIONS`].
    pub fn k() -> Self {
        VersionInfo {
            cni_version: Version::V1_1.to_string(),
            supported_versions: SUPPORTED_VERSIONS.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    /// The supported versions, parsed (unparsable ones left out).
    pub fn versions(&self) -> Vec<Version> {
        self.supported_versions.iter().filter_map(|v| v.parse().ok()).collect()
    }
}

/// The highest of `wanted` that `supported` has too (libcni's choice among
/// a list's `cniVersions`), or an IncompatibleVersion error listing both.
pub fn negotiate(wanted: &[Version], supported: &[Version]) -> Result<Version, CniError> {
    wanted.iter().filter(|v| supported.contains(v)).max().copied().ok_or_else(|| {
        let list = |vs: &[Version]| vs.iter().map(Version::to_string).collect::<Vec<_>>().join(", ");
        CniError::new(ErrorCode::IncompatibleVersion, "no common CNI version").with_details(format!(
            "wanted [{}], supported [{}]",
            list(wanted),
            list(supported)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_order_and_negotiate() {
        let v: Version = "0.3.1".parse().unwrap();
        assert_eq!(v, Version::new(0, 3, 1));
        assert_eq!("1.1".parse::<Version>().unwrap(), Version::V1_1);
        assert!("1.x.0".parse::<Version>().is_err());
        assert!("1.0.0.1".parse::<Version>().is_err());
        assert!(Version::new(0, 10, 0) > Version::new(0, 4, 0), "numeric, not lexical");
        let ours = VersionInfo::k().versions();
        let wanted = ["1.0.0", "1.1.0", "2.0.0"].map(|v| v.parse().unwrap());
        assert_eq!(negotiate(&wanted, &ours).unwrap(), Version::V1_1);
        let reference = ["0.4.0", "1.0.0"].map(|v| v.parse::<Version>().unwrap());
        assert_eq!(negotiate(&wanted, &reference).unwrap(), Version::V1_0);
        let none = negotiate(&[Version::new(2, 0, 0)], &reference).unwrap_err();
        assert_eq!(none.code, ErrorCode::IncompatibleVersion as u32);
        assert_eq!(none.details, "wanted [2.0.0], supported [0.4.0, 1.0.0]");
    }
}
