//! The CNI Error result and the specification's error codes.

use serde::{Deserialize, Serialize};

/// The error codes the specification reserves (plugins use 100 and up for
/// their own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ErrorCode {
    /// 1: incompatible CNI version.
    IncompatibleVersion = 1,
    /// 2: unsupported field in the network configuration.
    UnsupportedField = 2,
    /// 3: container unknown or does not exist (no cleanup needed).
    UnknownContainer = 3,
    /// 4: invalid necessary environment variables.
    InvalidEnvironment = 4,
    /// 5: I/O failure.
    Io = 5,
    /// 6: failed to decode content.
    Decode = 6,
    /// 7: invalid network configuration.
    InvalidNetworkConfig = 7,
    /// 11: try again later.
    TryAgainLater = 11,
    /// 50: STATUS: the plugin is not available.
    NotAvailable = 50,
    /// 51: STATUS: not available, and existing containers may have limited
    /// connectivity.
    LimitedConnectivity = 51,
    /// 999: a generic failure (what the reference plugins use).
    Generic = 999,
}

/// An Error result: what a plugin prints on stdout when it fails.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("CNI error {code}: {msg}{}", if details.is_empty() { String::new() } else { format!(" ({details})") })]
pub struct CniError {
    /// The version of this answer (left out when empty, as the reference
    /// plugins do for errors found before the version is known).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cni_version: String,
    /// The code (see [`ErrorCode`]; 100+ are the plugin's own).
    pub code: u32,
    /// A short message.
    #[serde(default)]
    pub msg: String,
    /// More detail.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub details: String,
}

impl CniError {
    /// An error with a reserved code.
    pub fn new(code: ErrorCode, msg: impl Into<String>) -> Self {
        CniError { cni_version: String::new(), code: code as u32, msg: msg.into(), details: String::new() }
    }

    /// An error with the plugin's own code.
    pub fn custom(code: u32, msg: impl Into<String>) -> Self {
        CniError { cni_version: String::new(), code, msg: msg.into(), details: String::new() }
    }

    /// The same error with `details`.
    #[must_use]
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = details.into();
        self
    }

    /// The same error answering in `version`.
    #[must_use]
    pub fn in_version(mut self, version: impl Into<String>) -> Self {
        self.cni_version = version.into();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_form() {
        let e = CniError::new(ErrorCode::InvalidEnvironment, "required env variables [CNI_NETNS] missing")
            .in_version("1.0.0");
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"cniVersion": "1.0.0", "code": 4, "msg": "required env variables [CNI_NETNS] missing"})
        );
        let back: CniError = serde_json::from_str(r#"{"code": 7, "msg": "bad", "details": "no name"}"#).unwrap();
        assert_eq!(back, CniError::new(ErrorCode::InvalidNetworkConfig, "bad").with_details("no name"));
        assert_eq!(back.to_string(), "CNI error 7: bad (no name)");
    }
}
