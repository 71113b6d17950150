//! Descriptions of the supported Kubernetes messages, one table per message.
//!
//! Each table lists the message's fields in Go struct order (the order `encoding/json` writes
//! them) with their protobuf field number, JSON name, value [`Kind`] and [`Pres`]ence rule.

use std::fmt;

/// Declares a `static` message description. Used from the group modules below, so the paths it
/// expands to are relative to them (`super::` is this module).
///
/// `msg!(NAME, "GoName" { number "jsonName" kind presence, ... })` where kind is a [`Kind`]
/// variant name, `(M TABLE)` for a nested message, `(In TABLE)` for an inlined (embedded) struct
/// whose fields appear in the parent object, or `(Map Kind)` for `map<string, Kind>`.
macro_rules! msg {
    ($id:ident, $name:literal { $($num:literal $json:literal $kind:tt $pres:ident),* $(,)? }) => {
        pub(crate) static $id: super::Msg = super::Msg {
            name: $name,
            fields: &[$(super::Field {
                num: $num,
                json: $json,
                kind: kind!($kind),
                pres: super::Pres::$pres,
            }),*],
        };
    };
}

/// Expands the kind shorthand used by [`msg!`].
macro_rules! kind {
    ((M $t:path)) => {
        super::Kind::Msg(&$t)
    };
    ((In $t:path)) => {
        super::Kind::Inline(&$t)
    };
    ((Map $k:ident)) => {
        super::Kind::Map(&super::Kind::$k)
    };
    ($k:ident) => {
        super::Kind::$k
    };
}

pub(crate) mod apps;
pub(crate) mod authentication;
pub(crate) mod authorization;
pub(crate) mod autoscaling;
pub(crate) mod batch;
pub(crate) mod coordination;
pub(crate) mod core;
pub(crate) mod meta;
pub(crate) mod networking;
pub(crate) mod policy;
pub(crate) mod rbac;
pub(crate) mod scheduling;

/// A message description.
pub(crate) struct Msg {
    /// The Go type name, used in error paths.
    pub(crate) name: &'static str,
    /// The fields, in Go struct (JSON output) order.
    pub(crate) fields: &'static [Field],
}

impl fmt::Debug for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only the name: the tables are deep and would print the whole API.
        f.debug_struct("Msg").field("name", &self.name).field("fields", &self.fields.len()).finish()
    }
}

/// One field of a message.
#[derive(Debug)]
pub(crate) struct Field {
    /// The protobuf field number.
    pub(crate) num: u32,
    /// The JSON name; empty for inlined structs.
    pub(crate) json: &'static str,
    /// What the value is.
    pub(crate) kind: Kind,
    /// How Go's `encoding/json` writes the field when it is empty or absent.
    pub(crate) pres: Pres,
}

/// The kind of a field's value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// `string`.
    Str,
    /// `bool`.
    Bool,
    /// `int32`.
    I32,
    /// `int64`.
    I64,
    /// `bytes`: a base64 string in JSON.
    Bytes,
    /// `metav1.Time`: RFC 3339 seconds, or null when zero.
    Time,
    /// `metav1.MicroTime`: RFC 3339 with microseconds, or null when zero.
    MicroTime,
    /// `metav1.Duration`: Go duration string. No supported kind has one yet; kept so that tables
    /// for further API groups can use it.
    #[allow(dead_code)]
    Duration,
    /// `resource.Quantity`: string.
    Quantity,
    /// `intstr.IntOrString`: number or string.
    IntOrString,
    /// `runtime.RawExtension`: embedded JSON object.
    RawExtension,
    /// `metav1.FieldsV1`: embedded JSON.
    FieldsV1,
    /// A message holding `repeated string items = 1` that Go marshals as a plain list.
    StrList,
    /// A nested message.
    Msg(&'static Msg),
    /// An embedded Go struct: its fields are written into the parent object.
    Inline(&'static Msg),
    /// `map<string, V>`.
    Map(&'static Kind),
}

impl Kind {
    /// Scalars for which `omitempty` drops the zero value (Go structs are never dropped).
    pub(crate) fn is_plain_scalar(self) -> bool {
        matches!(self, Self::Str | Self::Bool | Self::I32 | Self::I64 | Self::Bytes)
    }

    /// The expected wire type, for error messages.
    pub(crate) fn wire_name(self) -> &'static str {
        match self {
            Self::Bool | Self::I32 | Self::I64 => "varint",
            _ => "length-delimited",
        }
    }

    /// A short name of the kind, for error messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Str => "string",
            Self::Bool => "bool",
            Self::I32 => "int32",
            Self::I64 => "int64",
            Self::Bytes => "bytes",
            Self::Time => "Time",
            Self::MicroTime => "MicroTime",
            Self::Duration => "Duration",
            Self::Quantity => "Quantity",
            Self::IntOrString => "IntOrString",
            Self::RawExtension => "RawExtension",
            Self::FieldsV1 => "FieldsV1",
            Self::StrList => "string list",
            Self::Msg(msg) | Self::Inline(msg) => msg.name,
            Self::Map(_) => "map",
        }
    }
}

/// How a field appears in the JSON, mirroring the Go field's type and `omitempty` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pres {
    /// Non-pointer with `omitempty`: a scalar's zero value is dropped (a struct is always written).
    O,
    /// Non-pointer without `omitempty`: always written, the zero value when absent.
    R,
    /// Pointer with `omitempty`: written exactly when present on the wire, even if zero.
    P,
    /// Pointer without `omitempty`: as [`Pres::P`], but `null` when absent.
    Pn,
    /// Slice or map with `omitempty`: written when not empty.
    L,
    /// Slice or map without `omitempty`: `null` when empty.
    Lr,
}

/// The message describing the top-level object of kind `kind` in `api_version`.
pub(crate) fn root(api_version: &str, kind: &str) -> Option<&'static Msg> {
    // Option types are registered in every group version; accept them whatever the version.
    if kind == "DeleteOptions" {
        return Some(&meta::DELETE_OPTIONS);
    }
    ROOTS.iter().find(|(v, k, _)| *v == api_version && *k == kind).map(|(_, _, msg)| *msg)
}

/// Every supported top-level kind: (apiVersion, kind, message).
pub(crate) static ROOTS: &[(&str, &str, &Msg)] = &[
    ("v1", "Namespace", &core::NAMESPACE),
    ("v1", "ConfigMap", &core::CONFIG_MAP),
    ("v1", "Secret", &core::SECRET),
    ("v1", "Service", &core::SERVICE),
    ("v1", "ServiceAccount", &core::SERVICE_ACCOUNT),
    ("v1", "Pod", &core::POD),
    ("v1", "ResourceQuota", &core::RESOURCE_QUOTA),
    ("v1", "Binding", &core::BINDING),
    ("v1", "Event", &core::EVENT),
    ("apps/v1", "Deployment", &apps::DEPLOYMENT),
    ("apps/v1", "ReplicaSet", &apps::REPLICA_SET),
    ("apps/v1", "StatefulSet", &apps::STATEFUL_SET),
    ("apps/v1", "DaemonSet", &apps::DAEMON_SET),
    ("apps/v1", "ControllerRevision", &apps::CONTROLLER_REVISION),
    ("batch/v1", "Job", &batch::JOB),
    ("batch/v1", "CronJob", &batch::CRON_JOB),
    ("rbac.authorization.k8s.io/v1", "Role", &rbac::ROLE),
    ("rbac.authorization.k8s.io/v1", "ClusterRole", &rbac::CLUSTER_ROLE),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", &rbac::ROLE_BINDING),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", &rbac::CLUSTER_ROLE_BINDING),
    ("scheduling.k8s.io/v1", "PriorityClass", &scheduling::PRIORITY_CLASS),
    ("policy/v1", "PodDisruptionBudget", &policy::POD_DISRUPTION_BUDGET),
    ("policy/v1", "Eviction", &policy::EVICTION),
    ("networking.k8s.io/v1", "Ingress", &networking::INGRESS),
    ("networking.k8s.io/v1", "IngressClass", &networking::INGRESS_CLASS),
    ("authentication.k8s.io/v1", "TokenRequest", &authentication::TOKEN_REQUEST),
    ("authentication.k8s.io/v1", "TokenReview", &authentication::TOKEN_REVIEW),
    ("authentication.k8s.io/v1", "SelfSubjectReview", &authentication::SELF_SUBJECT_REVIEW),
    ("authorization.k8s.io/v1", "SubjectAccessReview", &authorization::SUBJECT_ACCESS_REVIEW),
    ("authorization.k8s.io/v1", "LocalSubjectAccessReview", &authorization::LOCAL_SUBJECT_ACCESS_REVIEW),
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview", &authorization::SELF_SUBJECT_ACCESS_REVIEW),
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview", &authorization::SELF_SUBJECT_RULES_REVIEW),
    ("autoscaling/v1", "Scale", &autoscaling::SCALE),
    ("coordination.k8s.io/v1", "Lease", &coordination::LEASE),
    ("autoscaling/v1", "HorizontalPodAutoscaler", &autoscaling::HORIZONTAL_POD_AUTOSCALER),
];
