//! Field paths and field errors.

use std::fmt;

use serde::Serialize;

use crate::meta::StatusCause;

/// A path to a field, printed as Kubernetes prints it: `spec.containers[0].ports[1]`,
/// `metadata.labels[app]`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Path(String);

impl Path {
    /// A root path such as `metadata` or `spec`.
    pub fn new(root: &str) -> Self {
        Self(root.to_owned())
    }

    /// A child field.
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() { Self(name.to_owned()) } else { Self(format!("{}.{name}", self.0)) }
    }

    /// An element of a list.
    pub fn index(&self, i: usize) -> Self {
        Self(format!("{}[{i}]", self.0))
    }

    /// An entry of a map.
    pub fn key(&self, k: &str) -> Self {
        Self(format!("{}[{k}]", self.0))
    }

    /// The path as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The kind of a field error, with the cause reason Kubernetes reports for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorType {
    /// `FieldValueNotFound`: a referenced value does not exist.
    NotFound,
    /// `FieldValueRequired`: a required field is empty.
    Required,
    /// `FieldValueDuplicate`: a value that must be unique is repeated.
    Duplicate,
    /// `FieldValueInvalid`: the value is malformed or out of range.
    Invalid,
    /// `FieldValueNotSupported`: the value is not one of the supported values.
    NotSupported,
    /// `FieldValueForbidden`: the field may not be set (here, or at all).
    Forbidden,
    /// `FieldValueTooLong`: a string or list is too long.
    TooLong,
    /// `FieldValueTooMany`: too many items.
    TooMany,
    /// `InternalError`.
    Internal,
    /// `FieldValueTypeInvalid`: the value has the wrong type.
    TypeInvalid,
}

impl ErrorType {
    /// The `StatusCause.reason` Kubernetes uses.
    pub fn cause(self) -> &'static str {
        match self {
            Self::NotFound => "FieldValueNotFound",
            Self::Required => "FieldValueRequired",
            Self::Duplicate => "FieldValueDuplicate",
            Self::Invalid => "FieldValueInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Forbidden => "FieldValueForbidden",
            Self::TooLong => "FieldValueTooLong",
            Self::TooMany => "FieldValueTooMany",
            Self::Internal => "InternalError",
            Self::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// The phrase Kubernetes prints for it.
    pub fn phrase(self) -> &'static str {
        match self {
            Self::NotFound => "Not found",
            Self::Required => "Required value",
            Self::Duplicate => "Duplicate value",
            Self::Invalid => "Invalid value",
            Self::NotSupported => "Unsupported value",
            Self::Forbidden => "Forbidden",
            Self::TooLong => "Too long",
            Self::TooMany => "Too many",
            Self::Internal => "Internal error",
            Self::TypeInvalid => "Invalid value",
        }
    }
}

/// One validation error: a type, a field path, the offending value and a detail.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    /// What is wrong.
    pub type_: ErrorType,
    /// Where.
    pub field: String,
    /// The offending value, when it helps (rendered as JSON).
    pub value: Option<serde_json::Value>,
    /// Why.
    pub detail: String,
}

impl FieldError {
    fn new(type_: ErrorType, path: &Path, value: Option<serde_json::Value>, detail: impl Into<String>) -> Self {
        Self { type_, field: path.to_string(), value, detail: detail.into() }
    }

    /// A required field is missing.
    pub fn required(path: &Path, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Required, path, None, detail)
    }

    /// A value is malformed.
    pub fn invalid(path: &Path, value: impl Serialize, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Invalid, path, serde_json::to_value(value).ok(), detail)
    }

    /// A value is not among `supported`.
    pub fn not_supported(path: &Path, value: impl Serialize, supported: &[&str]) -> Self {
        let list = supported.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
        Self::new(ErrorType::NotSupported, path, serde_json::to_value(value).ok(), format!("supported values: {list}"))
    }

    /// A value that must be unique is repeated.
    pub fn duplicate(path: &Path, value: impl Serialize) -> Self {
        Self::new(ErrorType::Duplicate, path, serde_json::to_value(value).ok(), "")
    }

    /// A field may not be set.
    pub fn forbidden(path: &Path, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Forbidden, path, None, detail)
    }

    /// A value is longer than `max`.
    pub fn too_long(path: &Path, max: usize) -> Self {
        Self::new(ErrorType::TooLong, path, None, format!("may not be more than {max} bytes"))
    }

    /// A list has more than `max` items.
    pub fn too_many(path: &Path, actual: usize, max: usize) -> Self {
        Self::new(
            ErrorType::TooMany,
            path,
            Some(serde_json::Value::from(actual)),
            format!("must have at most {max} items"),
        )
    }

    /// A referenced value does not exist.
    pub fn not_found(path: &Path, value: impl Serialize) -> Self {
        Self::new(ErrorType::NotFound, path, serde_json::to_value(value).ok(), "")
    }

    /// The message without the field: `Invalid value: "x": detail`.
    pub fn body(&self) -> String {
        let mut s = self.type_.phrase().to_owned();
        let shows_value = matches!(
            self.type_,
            ErrorType::Invalid
                | ErrorType::NotSupported
                | ErrorType::Duplicate
                | ErrorType::NotFound
                | ErrorType::TooMany
                | ErrorType::TypeInvalid
        );
        if shows_value && let Some(v) = &self.value {
            s.push_str(": ");
            s.push_str(&v.to_string());
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    /// The `StatusCause` of this error.
    pub fn to_cause(&self) -> StatusCause {
        StatusCause { reason: self.type_.cause().to_owned(), message: self.body(), field: self.field.clone() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

impl std::error::Error for FieldError {}

/// Every error found while validating an object.
pub type ErrorList = Vec<FieldError>;
