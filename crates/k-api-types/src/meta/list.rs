//! `ObjectList<T>`: the `…List` kinds (`PodList`, `DeploymentList`, …).

use serde::{Deserialize, Serialize};

use super::ListMeta;
use crate::resource::Resource;

/// A list of objects of one kind, as list requests return them.
///
/// `items` is always written, as `[]` when empty (some clients require it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectList<T> {
    /// API version of the items.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// The list kind, such as `PodList`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// List metadata.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The objects.
    #[serde(default)]
    pub items: Vec<T>,
}

impl<T> Default for ObjectList<T> {
    fn default() -> Self {
        Self { api_version: String::new(), kind: String::new(), metadata: ListMeta::default(), items: Vec::new() }
    }
}

impl<T: Resource> ObjectList<T> {
    /// A list with `apiVersion` and `kind` (`<Kind>List`) filled in.
    pub fn new(items: Vec<T>) -> Self {
        Self {
            api_version: T::INFO.api_version.to_owned(),
            kind: format!("{}List", T::INFO.kind),
            metadata: ListMeta::default(),
            items,
        }
    }
}

impl<T> IntoIterator for ObjectList<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}
