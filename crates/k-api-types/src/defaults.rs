//! Defaulting: the values Kubernetes fills in for fields a manifest leaves out.
//!
//! Every built-in kind implements [`ApplyDefaults`]; the full list of defaults
//! is in `docs/api-types/defaults.md`. Defaulting only fills what is absent,
//! so applying it twice changes nothing.

/// Fills in the defaults Kubernetes applies to a kind.
pub trait ApplyDefaults {
    /// Fills in every default that applies; present values are never changed.
    fn apply_defaults(&mut self);
}

/// Sets an `Option` to `value` when it is `None`.
pub(crate) fn default_to<T>(slot: &mut Option<T>, value: T) {
    if slot.is_none() {
        *slot = Some(value);
    }
}

/// Sets an `Option<String>` to `value` when it is `None` or empty.
pub(crate) fn default_str(slot: &mut Option<String>, value: &str) {
    if slot.as_deref().is_none_or(str::is_empty) {
        *slot = Some(value.to_owned());
    }
}
