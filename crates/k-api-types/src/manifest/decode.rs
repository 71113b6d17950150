//! Typed decoding of JSON values with field paths in errors and unknown-field tracking.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::Value;

/// A decoded object and the paths of the fields the target type did not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<T> {
    /// The decoded object.
    pub object: T,
    /// Kubernetes-style paths of ignored (unknown) fields, in the order they were met, such as
    /// `spec.containers[0].imagePullPolicyy`.
    pub unknown_fields: Vec<String>,
}

/// An error decoding a JSON value into a type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A value has the wrong type or is invalid for its field. Displays as
    /// `spec.containers[0].ports[1].containerPort: invalid type: string "eighty", expected i32`
    /// (only the message when the error is at the root).
    Invalid {
        /// Kubernetes-style path of the field (`spec.containers[0].name`), empty for the
        /// root value.
        path: String,
        /// The deserializer's message.
        message: String,
    },
    /// Strict decoding found fields the type does not know. Displays as the API server's
    /// strict field validation does:
    /// `strict decoding error: unknown field "spec.foo", unknown field "spec.bar"`.
    UnknownFields {
        /// Paths of every unknown field, in the order they were met.
        paths: Vec<String>,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Invalid { path, message } if path.is_empty() => f.write_str(message),
            DecodeError::Invalid { path, message } => write!(f, "{path}: {message}"),
            DecodeError::UnknownFields { paths } => {
                f.write_str("strict decoding error: ")?;
                for (i, path) in paths.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "unknown field {path:?}")?;
                }
                Ok(())
            }
        }
    }
}

impl DecodeError {
    /// The field path of the error: the failing field for [`DecodeError::Invalid`] (empty
    /// for the root), the first unknown field for [`DecodeError::UnknownFields`].
    #[must_use]
    pub fn path(&self) -> &str {
        match self {
            DecodeError::Invalid { path, .. } => path,
            DecodeError::UnknownFields { paths } => paths.first().map_or("", String::as_str),
        }
    }

    /// The paths of the unknown fields (empty for [`DecodeError::Invalid`]).
    #[must_use]
    pub fn unknown_fields(&self) -> &[String] {
        match self {
            DecodeError::Invalid { .. } => &[],
            DecodeError::UnknownFields { paths } => paths,
        }
    }
}

/// Decodes `value` into `T`, collecting the paths of fields `T` ignores.
///
/// Borrows the value: nothing is cloned beyond what `T` itself owns.
///
/// # Errors
/// [`DecodeError::Invalid`] with the path of the first field that fails to decode.
///
/// # Examples
/// ```
/// use k_api_types::manifest::decode;
///
/// #[derive(Debug, serde::Deserialize)]
/// struct Port { port: i32 }
///
/// let ok = decode::<Port>(&serde_json::json!({"port": 80, "prot": "TCP"}))?;
/// assert_eq!((ok.object.port, ok.unknown_fields), (80, vec!["prot".to_owned()]));
///
/// let err = decode::<Port>(&serde_json::json!({"port": "eighty"})).unwrap_err();
/// assert_eq!(err.to_string(), r#"port: invalid type: string "eighty", expected i32"#);
/// # Ok::<(), k_api_types::manifest::DecodeError>(())
/// ```
pub fn decode<T: DeserializeOwned>(value: &Value) -> Result<Decoded<T>, DecodeError> {
    let mut unknown_fields = Vec::new();
    let mut record = |path: serde_ignored::Path<'_>| unknown_fields.push(ignored_path(&path));
    let deserializer = serde_ignored::Deserializer::new(value, &mut record);
    let result: Result<T, _> = serde_path_to_error::deserialize(deserializer);
    match result {
        Ok(object) => Ok(Decoded { object, unknown_fields }),
        Err(error) => Err(DecodeError::Invalid { path: error_path(error.path()), message: error.inner().to_string() }),
    }
}

/// Decodes `value` into `T` with strict field validation, as `kubectl --validate=strict`
/// and the API server's `fieldValidation=Strict` do: unknown fields are an error listing
/// all of them.
///
/// # Errors
/// [`DecodeError::Invalid`] for a type error (reported first), otherwise
/// [`DecodeError::UnknownFields`] when any field is unknown.
pub fn decode_strict<T: DeserializeOwned>(value: &Value) -> Result<T, DecodeError> {
    let decoded = decode(value)?;
    if decoded.unknown_fields.is_empty() {
        Ok(decoded.object)
    } else {
        Err(DecodeError::UnknownFields { paths: decoded.unknown_fields })
    }
}

/// Renders a `serde_path_to_error` path as `a.b[0].c`.
fn error_path(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            serde_path_to_error::Segment::Seq { index } => push_index(&mut out, *index),
            serde_path_to_error::Segment::Map { key } => push_key(&mut out, key),
            serde_path_to_error::Segment::Enum { variant } => push_key(&mut out, variant),
            serde_path_to_error::Segment::Unknown => push_key(&mut out, "?"),
        }
    }
    out
}

/// Renders a `serde_ignored` path as `a.b[0].c` (its own format is `a.b.0.c` with `?`
/// for options and newtypes, which are transparent in JSON).
fn ignored_path(path: &serde_ignored::Path<'_>) -> String {
    let mut segments = Vec::new();
    let mut current = path;
    loop {
        match current {
            serde_ignored::Path::Root => break,
            serde_ignored::Path::Seq { parent, index } => {
                segments.push(Err(*index));
                current = parent;
            }
            serde_ignored::Path::Map { parent, key } => {
                segments.push(Ok(key.as_str()));
                current = parent;
            }
            serde_ignored::Path::Some { parent }
            | serde_ignored::Path::NewtypeStruct { parent }
            | serde_ignored::Path::NewtypeVariant { parent } => current = parent,
        }
    }
    let mut out = String::new();
    for segment in segments.into_iter().rev() {
        match segment {
            Ok(key) => push_key(&mut out, key),
            Err(index) => push_index(&mut out, index),
        }
    }
    out
}

fn push_key(out: &mut String, key: &str) {
    if !out.is_empty() {
        out.push('.');
    }
    out.push_str(key);
}

fn push_index(out: &mut String, index: usize) {
    out.push('[');
    out.push_str(&index.to_string());
    out.push(']');
}
