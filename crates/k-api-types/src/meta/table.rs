//! `Table`: the server-side printing format `kubectl get` asks for.

use crate::wire;

use super::ListMeta;

/// Rows of objects with typed columns (meta.k8s.io/v1 Table).
#[wire]
pub struct Table {
    /// `meta.k8s.io/v1`.
    #[wire(omitempty)]
    pub api_version: String,
    /// `Table`.
    #[wire(omitempty)]
    pub kind: String,
    /// List metadata (resourceVersion, continue).
    pub metadata: ListMeta,
    /// The columns, in order.
    #[wire(always)]
    pub column_definitions: Vec<TableColumnDefinition>,
    /// One row per object.
    #[wire(always)]
    pub rows: Vec<TableRow>,
}

/// A column of a [`Table`].
#[wire]
pub struct TableColumnDefinition {
    /// Column title.
    pub name: String,
    /// OpenAPI type: `string`, `integer`, `number`, `boolean`, `date`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Format hint, such as `name` (gets the `kind/` prefix) or `date`.
    pub format: String,
    /// Description of the column.
    pub description: String,
    /// 0 for standard columns, higher for `-o wide` only.
    pub priority: i32,
}

/// A row of a [`Table`].
#[wire]
pub struct TableRow {
    /// One cell per column.
    #[wire(always)]
    pub cells: Vec<serde_json::Value>,
    /// Row conditions (e.g. `Completed`).
    pub conditions: Vec<TableRowCondition>,
    /// The object, usually as PartialObjectMetadata.
    pub object: Option<serde_json::Value>,
}

/// A condition of a table row.
#[wire]
pub struct TableRowCondition {
    /// Condition type.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Machine-readable reason.
    pub reason: Option<String>,
    /// Human-readable message.
    pub message: Option<String>,
}
