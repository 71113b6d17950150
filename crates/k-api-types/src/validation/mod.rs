//! Validation: every error with its field path and Kubernetes cause type.
//!
//! Each built-in kind implements [`Validate`]. Errors accumulate in an
//! [`ErrorList`] (validation never stops at the first problem) and render as
//! Kubernetes does, e.g. `spec.containers[0].image: Required value`, or as an
//! `Invalid` [`Status`] with one cause per error.

mod field;
mod meta;
mod names;
pub mod net;

pub use field::{ErrorList, ErrorType, FieldError, Path};
pub use meta::{NameRule, validate_object_meta, validate_object_meta_update};
pub use names::{
    DNS1035_LABEL_ERROR, DNS1123_LABEL_ERROR, DNS1123_SUBDOMAIN_ERROR, is_dns1035_label, is_dns1123_label,
    is_dns1123_subdomain, is_port_name, is_qualified_name, is_valid_label_value, qualified_name_errors,
    validate_annotations, validate_label_selector, validate_labels,
};

use crate::meta::Status;

/// Validation of a kind, on create and on update.
pub trait Validate {
    /// Validates a new object.
    fn validate(&self) -> ErrorList;

    /// Validates an update of `old` to `self`: everything [`validate`](Self::validate)
    /// checks plus the fields Kubernetes makes immutable.
    fn validate_update(&self, old: &Self) -> ErrorList;
}

/// Renders an error list as the `Invalid` (422) status kube-apiserver returns,
/// e.g. `Pod "web" is invalid: spec.containers[0].image: Required value`.
pub fn invalid_status(kind: &str, group: &str, name: &str, errors: &ErrorList) -> Status {
    let body = if errors.len() == 1 {
        errors.iter().map(ToString::to_string).collect::<String>()
    } else {
        format!("[{}]", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
    };
    let qualified = if group.is_empty() { kind.to_owned() } else { format!("{kind}.{group}") };
    Status::failure(422, "Invalid", format!("{qualified} {name:?} is invalid: {body}")).with_details(
        crate::meta::StatusDetails {
            name: name.to_owned(),
            group: group.to_owned(),
            kind: kind.to_owned(),
            causes: errors.iter().map(FieldError::to_cause).collect(),
            ..Default::default()
        },
    )
}

/// Checks that an update left a field unchanged, adding `field is immutable` if not.
pub fn validate_immutable<T: PartialEq + serde::Serialize>(new: &T, old: &T, path: &Path, errors: &mut ErrorList) {
    if new != old {
        errors.push(FieldError::invalid(path, new, "field is immutable"));
    }
}
