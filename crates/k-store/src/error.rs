//! [`StoreError`]: every failure of the store, mapped 1:1 to a Kubernetes Status reason.

use k_api_types::meta::{Status, StatusCause, StatusDetails};
use k_api_types::validation::{ErrorList, invalid_status};

/// The message of a Conflict caused by a stale resourceVersion, in Kubernetes' words.
pub const CONFLICT_MESSAGE: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

/// A store result.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What went wrong, as Kubernetes would report it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist (404 NotFound).
    #[error("{resource} {name:?} not found")]
    NotFound {
        /// The resource, qualified by its group as Kubernetes names it in
        /// messages (`pods`, `deployments.apps`).
        resource: String,
        /// Object name (or storage key for backend errors).
        name: String,
    },
    /// The object already exists (409 AlreadyExists).
    #[error("{resource} {name:?} already exists")]
    AlreadyExists {
        /// The resource, qualified by its group (`deployments.apps`).
        resource: String,
        /// Object name.
        name: String,
    },
    /// A precondition or compare-and-swap failed (409 Conflict).
    #[error("Operation cannot be fulfilled on {resource} {name:?}: {message}")]
    Conflict {
        /// The resource, qualified by its group (`deployments.apps`).
        resource: String,
        /// Object name.
        name: String,
        /// Why, e.g. "the object has been modified; please apply your changes to the latest version and try again".
        message: String,
    },
    /// A server-side apply would change fields other managers own (409
    /// Conflict, one `FieldManagerConflict` cause per field); apply again
    /// with `force` to take them, or leave them out of the configuration.
    #[error("{conflicts}")]
    ApplyConflict {
        /// The resource, qualified by its group (`deployments.apps`).
        resource: String,
        /// Object name.
        name: String,
        /// The conflicting fields and their managers.
        conflicts: crate::apply::Conflicts,
    },
    /// The requested revision has been compacted (410 Expired / Gone).
    #[error("too old resource version: {requested} ({compacted})")]
    Expired {
        /// The revision asked for.
        requested: i64,
        /// The oldest revision still available.
        compacted: i64,
    },
    /// The object failed validation (422 Invalid).
    #[error("{kind} {name:?} is invalid: {}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    Invalid {
        /// Kind of the object.
        kind: String,
        /// API group.
        group: String,
        /// Object name.
        name: String,
        /// Every field error.
        errors: ErrorList,
    },
    /// The request is malformed (400 BadRequest).
    #[error("{0}")]
    BadRequest(String),
    /// Admission refused the request (403 Forbidden).
    #[error("{0}")]
    Forbidden(String),
    /// The request asked for a revision the store has not reached (504 Timeout, as
    /// kube-apiserver answers "Too large resource version").
    #[error("Too large resource version: {requested}, current: {current}")]
    TooLargeResourceVersion {
        /// The revision asked for.
        requested: i64,
        /// The store's revision.
        current: i64,
    },
    /// A watcher fell too far behind and was ended; re-list and watch again (410 Expired,
    /// so clients react as to a compacted revision).
    #[error("watcher fell behind by more than {capacity} events and was ended; re-list and watch again")]
    WatcherTooSlow {
        /// The watcher's queue capacity.
        capacity: usize,
    },
    /// The kind is not served (404 NotFound).
    #[error("the server could not find the requested resource ({0})")]
    UnknownResource(String),
    /// The backend failed (500 InternalError).
    #[error("storage backend error: {0}")]
    Internal(String),
}

impl StoreError {
    /// NotFound for a storage key (backends name keys; the `Store` renames them).
    pub fn key_not_found(key: &str) -> Self {
        Self::NotFound { resource: String::new(), name: key.to_owned() }
    }

    /// AlreadyExists for a storage key.
    pub fn key_exists(key: &str) -> Self {
        Self::AlreadyExists { resource: String::new(), name: key.to_owned() }
    }

    /// Conflict (the key's revision moved) for a storage key.
    pub fn key_conflict(key: &str) -> Self {
        Self::Conflict { resource: String::new(), name: key.to_owned(), message: CONFLICT_MESSAGE.to_owned() }
    }

    /// Whether this is NotFound (of an object or of a resource).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. } | Self::UnknownResource(_))
    }

    /// Whether this is AlreadyExists.
    pub fn is_already_exists(&self) -> bool {
        matches!(self, Self::AlreadyExists { .. })
    }

    /// Whether this is a Conflict: a stale revision or failed precondition
    /// (retry with a fresh read), or an apply's field conflict
    /// ([`ApplyConflict`](Self::ApplyConflict), which a retry does not
    /// resolve: see [`is_apply_conflict`](Self::is_apply_conflict)).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. } | Self::ApplyConflict { .. })
    }

    /// Whether this is a server-side apply's conflict with other managers'
    /// fields (apply with force, or leave the fields out).
    pub fn is_apply_conflict(&self) -> bool {
        matches!(self, Self::ApplyConflict { .. })
    }

    /// Whether the revision is gone (Expired, or a watcher that fell behind): re-list.
    pub fn is_expired(&self) -> bool {
        matches!(self, Self::Expired { .. } | Self::WatcherTooSlow { .. })
    }

    /// Whether this is Invalid.
    pub fn is_invalid(&self) -> bool {
        matches!(self, Self::Invalid { .. })
    }

    /// The HTTP status code Kubernetes uses for this error.
    pub fn code(&self) -> u16 {
        match self {
            Self::NotFound { .. } | Self::UnknownResource(_) => 404,
            Self::AlreadyExists { .. } | Self::Conflict { .. } | Self::ApplyConflict { .. } => 409,
            Self::Expired { .. } | Self::WatcherTooSlow { .. } => 410,
            Self::Invalid { .. } => 422,
            Self::BadRequest(_) => 400,
            Self::Forbidden(_) => 403,
            Self::TooLargeResourceVersion { .. } => 504,
            Self::Internal(_) => 500,
        }
    }

    /// The Kubernetes Status for this error.
    pub fn status(&self) -> Status {
        // `resource` is qualified (`deployments.apps`): details split it.
        let details = |resource: &str, name: &str| {
            let (kind, group) = resource.split_once('.').unwrap_or((resource, ""));
            StatusDetails {
                name: name.to_owned(),
                kind: kind.to_owned(),
                group: group.to_owned(),
                ..Default::default()
            }
        };
        match self {
            Self::NotFound { resource, name } => {
                Status::failure(404, "NotFound", self.to_string()).with_details(details(resource, name))
            }
            Self::AlreadyExists { resource, name } => {
                Status::failure(409, "AlreadyExists", self.to_string()).with_details(details(resource, name))
            }
            Self::Conflict { resource, name, .. } => {
                Status::failure(409, "Conflict", self.to_string()).with_details(details(resource, name))
            }
            Self::ApplyConflict { resource, name, conflicts } => {
                let mut details = details(resource, name);
                details.causes = conflicts
                    .0
                    .iter()
                    .map(|c| StatusCause {
                        reason: "FieldManagerConflict".to_owned(),
                        message: format!("conflict with {}", c.manager_display()),
                        field: c.path.clone(),
                    })
                    .collect();
                Status::failure(409, "Conflict", self.to_string()).with_details(details)
            }
            Self::Expired { .. } | Self::WatcherTooSlow { .. } => Status::failure(410, "Expired", self.to_string()),
            Self::Invalid { kind, group, name, errors } => invalid_status(kind, group, name, errors),
            Self::BadRequest(m) => Status::failure(400, "BadRequest", m.clone()),
            Self::Forbidden(m) => Status::failure(403, "Forbidden", m.clone()),
            Self::TooLargeResourceVersion { .. } => {
                let mut s = Status::failure(504, "Timeout", self.to_string());
                s.details = Some(StatusDetails { retry_after_seconds: 1, ..Default::default() });
                s
            }
            Self::UnknownResource(_) => Status::failure(404, "NotFound", self.to_string()),
            Self::Internal(m) => Status::failure(500, "InternalError", m.clone()),
        }
    }
}
