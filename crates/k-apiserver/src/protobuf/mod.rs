//! Decoding of Kubernetes protobuf request bodies into Kubernetes wire JSON.
//!
//! Typed Kubernetes clients (kubectl's `create`, `run`, `autoscale`, `drain`, ...) send request
//! bodies as `application/vnd.kubernetes.protobuf`: the four magic bytes `k8s\0` followed by a
//! `runtime.Unknown` envelope whose `raw` field holds the object's own message. [`decode`] turns
//! such a body into the JSON the same client would have sent with `application/json`, so the rest
//! of the server only ever deals with JSON.
//!
//! The decoder is table driven: every supported message is described once (field number, JSON
//! name, value kind and how Go's `encoding/json` treats the field when it is empty) in the
//! `types` module, and one generic reader walks the wire format with those descriptions.
//! Unknown field numbers are skipped, so newer clients that send fields this server does not
//! know keep working.

mod decode;
mod types;
mod wire;

#[cfg(test)]
mod tests;

use serde_json::{Map, Value};

use self::wire::{Reader, WireValue};

/// The protobuf media type.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The four bytes every Kubernetes protobuf body starts with.
const MAGIC: &[u8; 4] = b"k8s\0";

/// Why a protobuf body could not be turned into JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtobufError {
    /// The envelope names a kind this decoder has no description for.
    #[error("protobuf decoding of {api_version}/{kind} is not supported; send JSON")]
    Unsupported {
        /// `apiVersion` from the envelope, e.g. `apps/v1`.
        api_version: String,
        /// `kind` from the envelope, e.g. `Deployment`.
        kind: String,
    },
    /// The envelope asks for something this decoder does not do (such as a content encoding).
    #[error("protobuf body not supported: {0}; send JSON")]
    UnsupportedEnvelope(String),
    /// The body is not valid Kubernetes protobuf.
    #[error("malformed protobuf body at {path}: {reason}")]
    Malformed {
        /// Where decoding failed, as a JSON-style path such as `Deployment.spec.template`.
        path: String,
        /// What was wrong there.
        reason: String,
    },
}

impl ProtobufError {
    pub(crate) fn malformed(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Malformed { path: path.into(), reason: reason.into() }
    }
}

/// Decodes a Kubernetes protobuf body (with the `k8s\0` envelope) into the object's JSON,
/// including `apiVersion` and `kind` from the envelope.
///
/// The result matches what Go's `encoding/json` produces for the decoded object: fields absent
/// from the message are absent from the JSON, zero values of `omitempty` fields are dropped,
/// fields without `omitempty` are always present, times are RFC 3339 strings, quantities are
/// strings, int-or-string values are numbers or strings and byte fields are base64.
///
/// # Errors
///
/// [`ProtobufError::Unsupported`] when the envelope names a kind without a description,
/// [`ProtobufError::UnsupportedEnvelope`] for envelope features (content encodings) that are not
/// handled, and [`ProtobufError::Malformed`] for bodies that are not valid protobuf, naming the
/// place where decoding failed.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let Some(envelope) = body.strip_prefix(MAGIC) else {
        return Err(ProtobufError::malformed("envelope", "missing the k8s\\0 magic prefix"));
    };
    let unknown = Unknown::parse(envelope)?;
    if !unknown.content_encoding.is_empty() {
        return Err(ProtobufError::UnsupportedEnvelope(format!("content encoding {:?}", unknown.content_encoding)));
    }
    if !unknown.content_type.is_empty() && unknown.content_type != MEDIA_TYPE {
        return Err(ProtobufError::UnsupportedEnvelope(format!("content type {:?}", unknown.content_type)));
    }
    if unknown.kind.is_empty() {
        return Err(ProtobufError::malformed("envelope.typeMeta", "kind is empty"));
    }
    let Some(msg) = types::root(&unknown.api_version, &unknown.kind) else {
        return Err(ProtobufError::Unsupported { api_version: unknown.api_version, kind: unknown.kind });
    };
    let body = decode::message(msg, unknown.raw, msg.name)?;
    let mut object = Map::with_capacity(body.len() + 2);
    object.insert("kind".to_owned(), Value::String(unknown.kind));
    if !unknown.api_version.is_empty() {
        object.insert("apiVersion".to_owned(), Value::String(unknown.api_version));
    }
    object.extend(body);
    Ok(Value::Object(object))
}

/// The `runtime.Unknown` envelope around every protobuf object.
#[derive(Debug, Default)]
struct Unknown<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    content_encoding: String,
    content_type: String,
}

impl<'a> Unknown<'a> {
    fn parse(buf: &'a [u8]) -> Result<Self, ProtobufError> {
        let mut out = Unknown::default();
        let mut reader = Reader::new(buf);
        while let Some((number, value)) = reader.next_field().map_err(|e| e.at("envelope"))? {
            match (number, value) {
                (1, WireValue::Len(type_meta)) => {
                    let mut inner = Reader::new(type_meta);
                    while let Some((number, value)) = inner.next_field().map_err(|e| e.at("envelope.typeMeta"))? {
                        match (number, value) {
                            (1, WireValue::Len(s)) => out.api_version = lossy(s),
                            (2, WireValue::Len(s)) => out.kind = lossy(s),
                            (1 | 2, _) => return Err(wrong_type("envelope.typeMeta", number)),
                            _ => {}
                        }
                    }
                }
                (2, WireValue::Len(raw)) => out.raw = raw,
                (3, WireValue::Len(s)) => out.content_encoding = lossy(s),
                (4, WireValue::Len(s)) => out.content_type = lossy(s),
                (1..=4, _) => return Err(wrong_type("envelope", number)),
                _ => {}
            }
        }
        Ok(out)
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn wrong_type(path: &str, number: u32) -> ProtobufError {
    ProtobufError::malformed(path, format!("field {number} should be length-delimited"))
}
