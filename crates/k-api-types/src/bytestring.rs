//! [`ByteString`]: binary data written as base64 (`Secret.data`, `ConfigMap.binaryData`).

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes that travel as a base64 string, as Go's `[]byte` does in JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ByteString(pub Vec<u8>);

impl From<Vec<u8>> for ByteString {
    fn from(v: Vec<u8>) -> Self {
        Self(v)
    }
}

impl From<&str> for ByteString {
    fn from(s: &str) -> Self {
        Self(s.as_bytes().to_vec())
    }
}

impl Serialize for ByteString {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for ByteString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s: Cow<'de, str> = Deserialize::deserialize(d)?;
        STANDARD
            .decode(s.as_bytes())
            .map(Self)
            .map_err(|e| serde::de::Error::custom(format!("illegal base64 data: {e}")))
    }
}

impl schemars::JsonSchema for ByteString {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("ByteString")
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "format": "byte" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        let b: ByteString = serde_json::from_str("\"c2VjcmV0LXBhc3N3b3Jk\"").unwrap();
        assert_eq!(b.0, b"secret-password");
        assert_eq!(serde_json::to_string(&b).unwrap(), "\"c2VjcmV0LXBhc3N3b3Jk\"");
        let err = serde_json::from_str::<ByteString>("\"not base64!\"").unwrap_err();
        assert!(err.to_string().contains("illegal base64 data"), "{err}");
    }
}
