//! core/v1 kinds.

mod pod;

pub use pod::*;

mod binding;
mod config;
mod event;
mod namespace;
mod node;
mod policy;
mod replication;
mod service;
mod storage;

pub use binding::*;
pub use config::*;
pub use event::*;
pub use namespace::*;
pub use node::*;
pub use policy::*;
pub use replication::*;
pub use service::*;
pub use storage::*;

/// Validation helpers shared by the core/v1 kinds other than Pod.
mod common {

    use crate::quantity::Quantity;
    use crate::validation::{ErrorList, FieldError, Path, is_qualified_name, qualified_name_errors};

    /// Verbs of kinds that do not support `deletecollection` (namespaces).
    pub(super) const VERBS_NO_DELETECOLLECTION: &[&str] =
        &["create", "delete", "get", "list", "patch", "update", "watch"];

    /// Detail of an out-of-range port number.
    pub(super) const PORT_RANGE_ERROR: &str = "must be between 1 and 65535, inclusive";

    /// Checks a port number (1–65535).
    pub(super) fn validate_port_num(port: i32, path: &Path, errors: &mut ErrorList) {
        if !(1..=65535).contains(&port) {
            errors.push(FieldError::invalid(path, port, PORT_RANGE_ERROR));
        }
    }

    /// Checks a port protocol: required, and one of TCP, UDP, SCTP.
    pub(super) fn validate_protocol(protocol: Option<&str>, path: &Path, errors: &mut ErrorList) {
        match protocol {
            None | Some("") => errors.push(FieldError::required(path, "")),
            Some("TCP" | "UDP" | "SCTP") => {}
            Some(other) => errors.push(FieldError::not_supported(path, other, &["SCTP", "TCP", "UDP"])),
        }
    }

    /// Checks an `appProtocol`: a qualified name.
    pub(super) fn validate_app_protocol(app_protocol: Option<&str>, path: &Path, errors: &mut ErrorList) {
        if let Some(p) = app_protocol {
            for msg in qualified_name_errors(p) {
                errors.push(FieldError::invalid(path, p, msg));
            }
        }
    }

    /// Checks that a quantity is not negative.
    pub(super) fn validate_nonnegative_quantity(q: &Quantity, path: &Path, errors: &mut ErrorList) {
        if q.is_negative() {
            errors.push(FieldError::invalid(path, q.to_string(), "must be greater than or equal to 0"));
        }
    }

    /// Checks that a quantity is greater than zero.
    pub(super) fn validate_positive_quantity(q: &Quantity, path: &Path, errors: &mut ErrorList) {
        if q.is_negative() || q.is_zero() {
            errors.push(FieldError::invalid(path, q.to_string(), "must be greater than zero"));
        }
    }

    /// Resource names whose quantities must be whole numbers (object counts).
    pub(super) fn is_integer_resource_name(name: &str) -> bool {
        matches!(
            name,
            "pods"
                | "services"
                | "replicationcontrollers"
                | "resourcequotas"
                | "secrets"
                | "configmaps"
                | "persistentvolumeclaims"
                | "services.nodeports"
                | "services.loadbalancers"
        ) || name.starts_with("count/")
            || is_extended_resource_name(name)
    }

    /// Extended resources: domain-prefixed names outside `kubernetes.io`, not
    /// starting with `requests.`.
    pub(super) fn is_extended_resource_name(name: &str) -> bool {
        if !name.contains('/') || name.starts_with("requests.") || name.starts_with("count/") {
            return false;
        }
        let domain = name.split('/').next().unwrap_or_default();
        !(domain == "kubernetes.io" || domain.ends_with(".kubernetes.io")) && is_qualified_name(name)
    }

    /// Compute resources a container may request (`cpu`, `memory`, …).
    pub(super) fn is_standard_container_resource_name(name: &str) -> bool {
        matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
    }

    /// The resource names Kubernetes knows without a domain prefix.
    pub(super) fn is_standard_resource_name(name: &str) -> bool {
        is_standard_container_resource_name(name)
            || is_standard_quota_resource_name(name)
            || matches!(name, "storage" | "requests.hugepages")
    }

    /// Resource names a ResourceQuota may limit without a domain prefix.
    pub(super) fn is_standard_quota_resource_name(name: &str) -> bool {
        matches!(
            name,
            "cpu"
                | "memory"
                | "ephemeral-storage"
                | "requests.cpu"
                | "requests.memory"
                | "requests.storage"
                | "requests.ephemeral-storage"
                | "limits.cpu"
                | "limits.memory"
                | "limits.ephemeral-storage"
                | "pods"
                | "services"
                | "replicationcontrollers"
                | "resourcequotas"
                | "secrets"
                | "persistentvolumeclaims"
                | "configmaps"
                | "services.nodeports"
                | "services.loadbalancers"
        ) || name.starts_with("hugepages-")
            || name.starts_with("requests.hugepages-")
    }

    /// Checks a resource quantity: not negative, and whole for count resources.
    pub(super) fn validate_resource_quantity(name: &str, q: &Quantity, path: &Path, errors: &mut ErrorList) {
        validate_nonnegative_quantity(q, path, errors);
        if is_integer_resource_name(name) && q.milli_value() % 1000 != 0 {
            errors.push(FieldError::invalid(path, q.to_string(), "must be an integer"));
        }
    }

    /// Checks a resource name: qualified, and standard when it has no prefix.
    pub(super) fn validate_resource_name(name: &str, path: &Path, errors: &mut ErrorList) {
        let msgs = qualified_name_errors(name);
        let ok = msgs.is_empty();
        for msg in msgs {
            errors.push(FieldError::invalid(path, name, msg));
        }
        if ok && !name.contains('/') && !is_standard_resource_name(name) {
            errors.push(FieldError::invalid(path, name, "must be a standard resource type or fully qualified"));
        }
    }
}

#[cfg(test)]
mod test_support {
    use crate::validation::ErrorList;

    /// `(field, cause)` pairs of an error list, for table tests.
    pub(super) fn causes(errors: &ErrorList) -> Vec<(String, &'static str)> {
        errors.iter().map(|e| (e.field.clone(), e.type_.cause())).collect()
    }

    /// Builds an expected `(field, cause)` list.
    pub(super) fn expect(pairs: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
        pairs.iter().map(|(f, c)| ((*f).to_owned(), *c)).collect()
    }
}
