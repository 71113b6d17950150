//! [`DynamicObject`]: any kind, keeping every field it was given.

use serde::{Deserialize, Serialize};

use crate::meta::ObjectMeta;
use crate::resource::GroupVersionKind;

/// An object of any kind: typed metadata plus every other top-level field as
/// JSON, so nothing is lost on a decode/encode round trip.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DynamicObject {
    /// `group/version` or `v1`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// Kind.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Metadata.
    #[serde(default, skip_serializing_if = "is_empty_meta")]
    pub metadata: ObjectMeta,
    /// Every other top-level field (`spec`, `status`, `data`, …).
    #[serde(flatten)]
    pub data: serde_json::Map<String, serde_json::Value>,
}

fn is_empty_meta(meta: &ObjectMeta) -> bool {
    *meta == ObjectMeta::default()
}

impl DynamicObject {
    /// An empty object of the given kind and name.
    pub fn new(gvk: &GroupVersionKind, name: impl Into<String>) -> Self {
        Self {
            api_version: gvk.api_version(),
            kind: gvk.kind.clone(),
            metadata: ObjectMeta::named(name),
            data: serde_json::Map::new(),
        }
    }

    /// The object's group/version/kind.
    pub fn gvk(&self) -> GroupVersionKind {
        GroupVersionKind::from_api_version(&self.api_version, self.kind.clone())
    }

    /// A top-level field such as `spec`.
    pub fn get(&self, field: &str) -> Option<&serde_json::Value> {
        self.data.get(field)
    }

    /// Converts to a typed object (errors name the field that did not decode).
    pub fn to_typed<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::to_value(self).and_then(serde_json::from_value)
    }

    /// Converts from a typed object.
    pub fn from_typed<T: Serialize>(obj: &T) -> Result<Self, serde_json::Error> {
        serde_json::to_value(obj).and_then(serde_json::from_value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_every_field() {
        let input = serde_json::json!({
            "apiVersion": "example.com/v1",
            "kind": "Database",
            "metadata": {"name": "orders", "namespace": "work", "labels": {"a": "b"}},
            "spec": {"engine": "postgres", "replicas": 2, "x-unknown": [1, {"deep": null}]},
            "status": {"phase": "Ready"},
            "extra": true
        });
        let obj: DynamicObject = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(obj.metadata.name, "orders");
        assert_eq!(obj.gvk(), GroupVersionKind::new("example.com", "v1", "Database"));
        assert_eq!(serde_json::to_value(&obj).unwrap(), input);
    }
}
