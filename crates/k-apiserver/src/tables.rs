//! Table responses (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`),
//! built by [`crate::table`] with the resource's columns.

use chrono::Utc;
use k_api_types::apiextensions::v1::{CustomResourceColumnDefinition, CustomResourceDefinition};
use k_api_types::meta::{ListMeta, Table, WatchEvent};
use k_api_types::{ApiResource, DynamicObject, Resource};

use crate::error::{ApiError, ApiResult};
use crate::handlers::Call;
use crate::table::IncludeObject;

/// Turns objects of one resource into Tables.
#[derive(Debug)]
pub(crate) struct Printer {
    resource: ApiResource,
    include: IncludeObject,
    /// A custom resource's printer columns (from its CRD); None for built-ins.
    columns: Option<Vec<CustomResourceColumnDefinition>>,
}

impl Printer {
    pub(crate) async fn new(call: &Call<'_>) -> Self {
        let include = call.query.get("includeObject").and_then(IncludeObject::parse).unwrap_or(IncludeObject::Metadata);
        let columns = if is_builtin(&call.resource) { None } else { Some(printer_columns(call).await) };
        Self { resource: call.resource.clone(), include, columns }
    }

    fn table(&self, objects: &[DynamicObject], metadata: ListMeta) -> ApiResult<Table> {
        let values: Vec<serde_json::Value> = objects
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<_, _>>()
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let mut table =
            crate::table::to_table(&self.resource, self.columns.as_deref(), &values, self.include, Utc::now());
        table.metadata = metadata;
        Ok(table)
    }

    /// A watch event whose object is a one-row Table.
    pub(crate) fn event_frame(&self, event: WatchEvent<DynamicObject>) -> Vec<u8> {
        let wrap = |o: DynamicObject| -> Option<serde_json::Value> {
            let rv = o.metadata.resource_version.clone();
            let table = self.table(&[o], ListMeta { resource_version: rv, ..Default::default() }).ok()?;
            serde_json::to_value(table).ok()
        };
        let (kind, object) = match event {
            WatchEvent::Added(o) => ("ADDED", wrap(o)),
            WatchEvent::Modified(o) => ("MODIFIED", wrap(o)),
            WatchEvent::Deleted(o) => ("DELETED", wrap(o)),
            // Bookmarks and errors are not objects of the resource: as they are.
            other => return crate::handlers::event_frame(&other),
        };
        let mut out = serde_json::to_vec(&serde_json::json!({ "type": kind, "object": object })).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

/// The Table of a list (or of one object).
pub(crate) async fn table(call: &Call<'_>, objects: Vec<DynamicObject>, metadata: ListMeta) -> ApiResult<Table> {
    Printer::new(call).await.table(&objects, metadata)
}

fn is_builtin(resource: &ApiResource) -> bool {
    k_api_types::object::BUILTIN_RESOURCES.iter().any(|r| r.group == resource.group && r.plural == resource.plural)
}

/// The printer columns of the custom resource's served version (none if
/// its definition cannot be read).
async fn printer_columns(call: &Call<'_>) -> Vec<CustomResourceColumnDefinition> {
    let gvr = CustomResourceDefinition::INFO.gvr();
    let name = format!("{}.{}", call.resource.plural, call.resource.group);
    let Ok(object) = call.api.get(&gvr, "", &name).await else { return Vec::new() };
    let Ok(crd) = serde_json::to_value(&object).and_then(serde_json::from_value::<CustomResourceDefinition>) else {
        return Vec::new();
    };
    crd.spec
        .versions
        .into_iter()
        .find(|v| v.name == call.resource.version)
        .map(|v| v.additional_printer_columns)
        .unwrap_or_default()
}
