//! `Status`: the body of every API error (and of some successful deletes).

use super::ListMeta;
use crate::wire;

/// The result of an operation that does not return an object (metav1.Status).
#[wire]
pub struct Status {
    /// `v1`.
    #[wire(omitempty)]
    pub api_version: String,
    /// `Status`.
    #[wire(omitempty)]
    pub kind: String,
    /// Always written, as `{}` when empty.
    pub metadata: ListMeta,
    /// `Success` or `Failure`.
    #[wire(omitempty)]
    pub status: String,
    /// Human-readable description.
    #[wire(omitempty)]
    pub message: String,
    /// Machine-readable reason such as `NotFound` or `AlreadyExists`.
    #[wire(omitempty)]
    pub reason: String,
    /// Extra data about the reason.
    pub details: Option<StatusDetails>,
    /// HTTP status code.
    #[wire(omitempty)]
    pub code: i32,
}

impl Status {
    /// A `Failure` status with a code, a reason and a message.
    pub fn failure(code: u16, reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            api_version: "v1".into(),
            kind: "Status".into(),
            status: "Failure".into(),
            code: i32::from(code),
            reason: reason.into(),
            message: message.into(),
            ..Self::default()
        }
    }

    /// A `Success` status.
    pub fn success() -> Self {
        Self { api_version: "v1".into(), kind: "Status".into(), status: "Success".into(), ..Self::default() }
    }

    /// Sets the details.
    pub fn with_details(mut self, details: StatusDetails) -> Self {
        self.details = Some(details);
        self
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.reason, self.code, self.message)
    }
}

/// Details of a `Status`: which object, and for `Invalid` the individual causes.
#[wire]
pub struct StatusDetails {
    /// Name of the object concerned.
    #[wire(omitempty)]
    pub name: String,
    /// API group of the object.
    #[wire(omitempty)]
    pub group: String,
    /// Kind (Kubernetes puts the plural resource name here for most errors).
    #[wire(omitempty)]
    pub kind: String,
    /// UID of the object.
    #[wire(omitempty)]
    pub uid: String,
    /// One entry per problem.
    pub causes: Vec<StatusCause>,
    /// Seconds the client should wait before retrying.
    #[wire(omitempty)]
    pub retry_after_seconds: i32,
}

/// One problem of a failed request, usually a field validation error.
#[wire(eq)]
pub struct StatusCause {
    /// Cause type such as `FieldValueRequired`.
    #[wire(omitempty)]
    pub reason: String,
    /// Human-readable description.
    #[wire(omitempty)]
    pub message: String,
    /// The field path, such as `spec.containers[0].name`.
    #[wire(omitempty)]
    pub field: String,
}
