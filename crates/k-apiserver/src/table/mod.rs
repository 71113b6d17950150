//! Server-side Table printing: the response kube-apiserver gives to
//! `Accept: application/json;as=Table;g=meta.k8s.io;v=v1`, which is what
//! `kubectl get` renders as columns.
//!
//! Each built-in kind has the columns and cell values of Kubernetes 1.32's
//! printers; all columns are always sent (those with priority 1 are the ones
//! kubectl shows only with `-o wide`). Custom resources get `Name` plus their
//! CRD's `additionalPrinterColumns` (or `Age` when there are none); kinds
//! without a printer get `Name` and `Created At`.
//!
//! ```text
//! let table = to_table(&resource, None, &objects, IncludeObject::Metadata, Utc::now());
//! ```

use chrono::{DateTime, SecondsFormat, Utc};
use k_api_types::ApiResource;
use k_api_types::apiextensions::v1::CustomResourceColumnDefinition;
use k_api_types::meta::{
    ListMeta, ObjectMeta, PartialObjectMetadata, Table, TableColumnDefinition, TableRow, TableRowCondition,
};
use serde_json::Value;

mod apps;
mod autoscaling;
mod batch;
mod corev1;
mod custom;
mod duration;
mod format;
mod json;
mod jsonpath;
mod networking;
mod other;
mod pod;
mod rbac;
mod storage;

pub use duration::human_duration;

use custom::CustomColumns;

/// What a row's `object` holds (the `includeObject` query parameter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum IncludeObject {
    /// No object.
    None,
    /// The object's metadata as a `meta.k8s.io/v1` `PartialObjectMetadata`
    /// (the default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Parses the `includeObject` value: `None`, `Metadata` or `Object`; an
    /// empty value is the default, `Metadata`. Anything else is `None` (the
    /// caller answers 400).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "None" => Some(Self::None),
            "Metadata" | "" => Some(Self::Metadata),
            "Object" => Some(Self::Object),
            _ => None,
        }
    }

    /// The wire spelling: `None`, `Metadata` or `Object`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "None",
            Self::Metadata => "Metadata",
            Self::Object => "Object",
        }
    }
}

/// Builds the Table for objects of one resource.
///
/// `printer_columns` are the `additionalPrinterColumns` of the served version
/// of a custom resource (`Some(&[])` when the CRD defines none, which prints
/// `Name` and `Age`). With `None` the resource is printed as a built-in kind;
/// a kind of a group that is not a Kubernetes API group is then treated as a
/// custom resource without columns.
///
/// Each object is the wire JSON of one item; `now` is the reference for ages.
/// The returned Table has empty list metadata: the caller sets
/// `resourceVersion` and `continue`.
pub fn to_table(
    resource: &ApiResource,
    printer_columns: Option<&[CustomResourceColumnDefinition]>,
    objects: &[Value],
    include: IncludeObject,
    now: DateTime<Utc>,
) -> Table {
    let printer = TablePrinter::new(resource, printer_columns);
    let rows = objects
        .iter()
        .map(|obj| {
            let Row { cells, conditions } = printer.row(obj, now);
            TableRow { cells, conditions, object: row_object(resource, obj, include) }
        })
        .collect();
    Table {
        api_version: "meta.k8s.io/v1".to_owned(),
        kind: "Table".to_owned(),
        metadata: ListMeta::default(),
        column_definitions: printer.definitions(),
        rows,
    }
}

/// The column definitions [`to_table`] uses for a resource (for example for a
/// watch, whose later events may omit them).
pub fn column_definitions(
    resource: &ApiResource,
    printer_columns: Option<&[CustomResourceColumnDefinition]>,
) -> Vec<TableColumnDefinition> {
    TablePrinter::new(resource, printer_columns).definitions()
}

/// A column of a built-in printer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Column {
    pub(crate) name: &'static str,
    pub(crate) type_: &'static str,
    pub(crate) format: &'static str,
    pub(crate) priority: i32,
    pub(crate) description: &'static str,
}

impl Column {
    /// A standard column.
    pub(crate) const fn new(name: &'static str, type_: &'static str, description: &'static str) -> Self {
        Self { name, type_, format: "", priority: 0, description }
    }

    /// The same column, shown only in wide output.
    pub(crate) const fn wide(self) -> Self {
        Self { priority: 1, ..self }
    }

    /// The same column with a format hint.
    pub(crate) const fn with_format(self, format: &'static str) -> Self {
        Self { format, ..self }
    }

    pub(crate) fn definition(&self) -> TableColumnDefinition {
        TableColumnDefinition {
            name: self.name.to_owned(),
            type_: self.type_.to_owned(),
            format: self.format.to_owned(),
            description: self.description.to_owned(),
            priority: self.priority,
        }
    }
}

/// The object's name; the column kubectl prefixes with `kind/`.
pub(crate) const NAME: Column =
    Column::new("Name", "string", "Name of the object, unique within its namespace (or the cluster).")
        .with_format("name");
/// Time since creation.
pub(crate) const AGE: Column =
    Column::new("Age", "string", "Time since the object was created (metadata.creationTimestamp).");
/// Container names of a pod template.
pub(crate) const CONTAINERS: Column =
    Column::new("Containers", "string", "Names of the containers in the pod template.").wide();
/// Container images of a pod template.
pub(crate) const IMAGES: Column =
    Column::new("Images", "string", "Images of the containers in the pod template.").wide();

/// The cells (and row conditions) of one object.
#[derive(Debug, Default)]
pub(crate) struct Row {
    pub(crate) cells: Vec<Value>,
    pub(crate) conditions: Vec<TableRowCondition>,
}

impl From<Vec<Value>> for Row {
    fn from(cells: Vec<Value>) -> Self {
        Self { cells, conditions: Vec::new() }
    }
}

/// The printer of a built-in kind.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Printer {
    pub(crate) columns: &'static [Column],
    pub(crate) row: fn(&Value, DateTime<Utc>) -> Row,
}

/// A list of JSON cells: `cells![name, 3_i64, "x".to_owned()]`.
macro_rules! cells {
    ($($cell:expr),* $(,)?) => {
        vec![$(serde_json::Value::from($cell)),*]
    };
}
pub(crate) use cells;

/// How the rows of a resource are printed.
#[derive(Debug)]
enum TablePrinter {
    BuiltIn(Printer),
    Custom(CustomColumns),
    /// kube-apiserver's default for kinds without a printer.
    Default,
}

impl TablePrinter {
    fn new(resource: &ApiResource, printer_columns: Option<&[CustomResourceColumnDefinition]>) -> Self {
        if let Some(cols) = printer_columns {
            return Self::Custom(CustomColumns::new(cols));
        }
        if let Some(p) = built_in(&resource.group, &resource.kind) {
            return Self::BuiltIn(p);
        }
        if is_kubernetes_group(&resource.group) { Self::Default } else { Self::Custom(CustomColumns::new(&[])) }
    }

    fn definitions(&self) -> Vec<TableColumnDefinition> {
        match self {
            Self::BuiltIn(p) => p.columns.iter().map(Column::definition).collect(),
            Self::Custom(c) => c.definitions(),
            Self::Default => vec![
                NAME.definition(),
                Column::new("Created At", "date", "Time the object was created (metadata.creationTimestamp).")
                    .definition(),
            ],
        }
    }

    fn row(&self, obj: &Value, now: DateTime<Utc>) -> Row {
        match self {
            Self::BuiltIn(p) => (p.row)(obj, now),
            Self::Custom(c) => c.cells(obj, now).into(),
            Self::Default => {
                let created = json::time_at(obj, &["metadata", "creationTimestamp"]).map_or_else(
                    || "0001-01-01T00:00:00Z".to_owned(),
                    |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
                );
                cells![json::name(obj), created].into()
            }
        }
    }
}

/// The printer of a built-in kind, by API group and kind.
fn built_in(group: &str, kind: &str) -> Option<Printer> {
    Some(match (group, kind) {
        ("", "Pod") => pod::POD,
        ("", "PodTemplate") => corev1::POD_TEMPLATE,
        ("", "ReplicationController") => corev1::REPLICATION_CONTROLLER,
        ("", "Service") => corev1::SERVICE,
        ("", "Endpoints") => corev1::ENDPOINTS,
        ("", "Node") => corev1::NODE,
        ("", "Namespace") => corev1::NAMESPACE,
        ("", "ConfigMap") => corev1::CONFIG_MAP,
        ("", "Secret") => corev1::SECRET,
        ("", "ServiceAccount") => corev1::SERVICE_ACCOUNT,
        ("", "Event") => corev1::EVENT,
        ("events.k8s.io", "Event") => corev1::EVENTS_V1_EVENT,
        ("", "PersistentVolume") => corev1::PERSISTENT_VOLUME,
        ("", "PersistentVolumeClaim") => corev1::PERSISTENT_VOLUME_CLAIM,
        ("", "ResourceQuota") => corev1::RESOURCE_QUOTA,
        ("apps", "Deployment") => apps::DEPLOYMENT,
        ("apps", "ReplicaSet") => apps::REPLICA_SET,
        ("apps", "StatefulSet") => apps::STATEFUL_SET,
        ("apps", "DaemonSet") => apps::DAEMON_SET,
        ("apps", "ControllerRevision") => apps::CONTROLLER_REVISION,
        ("batch", "Job") => batch::JOB,
        ("batch", "CronJob") => batch::CRON_JOB,
        ("autoscaling", "HorizontalPodAutoscaler") => autoscaling::HORIZONTAL_POD_AUTOSCALER,
        ("networking.k8s.io", "Ingress") => networking::INGRESS,
        ("networking.k8s.io", "IngressClass") => networking::INGRESS_CLASS,
        ("networking.k8s.io", "NetworkPolicy") => networking::NETWORK_POLICY,
        ("networking.k8s.io", "ServiceCIDR") => networking::SERVICE_CIDR,
        ("networking.k8s.io", "IPAddress") => networking::IP_ADDRESS,
        ("discovery.k8s.io", "EndpointSlice") => networking::ENDPOINT_SLICE,
        ("rbac.authorization.k8s.io", "RoleBinding") => rbac::ROLE_BINDING,
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => rbac::CLUSTER_ROLE_BINDING,
        ("storage.k8s.io", "StorageClass") => storage::STORAGE_CLASS,
        ("storage.k8s.io", "CSIDriver") => storage::CSI_DRIVER,
        ("storage.k8s.io", "CSINode") => storage::CSI_NODE,
        ("storage.k8s.io", "VolumeAttachment") => storage::VOLUME_ATTACHMENT,
        ("coordination.k8s.io", "Lease") => other::LEASE,
        ("scheduling.k8s.io", "PriorityClass") => other::PRIORITY_CLASS,
        ("policy", "PodDisruptionBudget") => other::POD_DISRUPTION_BUDGET,
        ("node.k8s.io", "RuntimeClass") => other::RUNTIME_CLASS,
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration") => {
            other::WEBHOOK_CONFIGURATION
        }
        ("certificates.k8s.io", "CertificateSigningRequest") => other::CERTIFICATE_SIGNING_REQUEST,
        ("apiregistration.k8s.io", "APIService") => other::API_SERVICE,
        _ => return None,
    })
}

/// Whether `group` is served by kube-apiserver itself (so a kind without a
/// printer there gets the default `Name` / `Created At` columns).
fn is_kubernetes_group(group: &str) -> bool {
    matches!(
        group,
        "" | "apps"
            | "batch"
            | "autoscaling"
            | "policy"
            | "extensions"
            | "admissionregistration.k8s.io"
            | "apiextensions.k8s.io"
            | "apiregistration.k8s.io"
            | "authentication.k8s.io"
            | "authorization.k8s.io"
            | "certificates.k8s.io"
            | "coordination.k8s.io"
            | "discovery.k8s.io"
            | "events.k8s.io"
            | "flowcontrol.apiserver.k8s.io"
            | "internal.apiserver.k8s.io"
            | "networking.k8s.io"
            | "node.k8s.io"
            | "rbac.authorization.k8s.io"
            | "resource.k8s.io"
            | "scheduling.k8s.io"
            | "storage.k8s.io"
            | "storagemigration.k8s.io"
    )
}

/// The `object` of a row.
fn row_object(resource: &ApiResource, obj: &Value, include: IncludeObject) -> Option<Value> {
    match include {
        IncludeObject::None => None,
        IncludeObject::Metadata => {
            let raw = obj.get("metadata").cloned().unwrap_or_else(|| Value::Object(Default::default()));
            // Typed when the metadata reads as ObjectMeta; as it is otherwise.
            let typed = serde_json::from_value::<ObjectMeta>(raw.clone()).ok().and_then(|metadata| {
                serde_json::to_value(PartialObjectMetadata {
                    api_version: "meta.k8s.io/v1".to_owned(),
                    kind: "PartialObjectMetadata".to_owned(),
                    metadata,
                })
                .ok()
            });
            Some(typed.unwrap_or_else(|| {
                serde_json::json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": raw})
            }))
        }
        IncludeObject::Object => {
            let mut full = obj.clone();
            if let Some(map) = full.as_object_mut() {
                for (key, value) in [("apiVersion", resource.api_version()), ("kind", resource.kind.clone())] {
                    if map.get(key).and_then(Value::as_str).is_none_or(str::is_empty) {
                        map.insert(key.to_owned(), Value::from(value));
                    }
                }
            }
            Some(full)
        }
    }
}

#[cfg(test)]
mod tests;
