//! Temporary stand-ins while the real modules are written.
#![allow(missing_docs, unreachable_pub, missing_debug_implementations, dead_code)]

pub mod table {
    use k_api_types::ApiResource;
    use k_api_types::meta::{Table, TableColumnDefinition, TableRow};

    #[derive(Clone, Copy, Debug)]
    pub enum IncludeObject {
        None,
        Metadata,
        Object,
    }
    impl IncludeObject {
        pub fn parse(s: &str) -> Option<Self> {
            match s {
                "None" => Some(Self::None),
                "Metadata" => Some(Self::Metadata),
                "Object" => Some(Self::Object),
                _ => None,
            }
        }
    }
    pub fn to_table(
        _resource: &ApiResource,
        _cols: Option<&[()]>,
        objects: &[serde_json::Value],
        _include: IncludeObject,
        _now: chrono::DateTime<chrono::Utc>,
    ) -> Table {
        Table {
            api_version: "meta.k8s.io/v1".into(),
            kind: "Table".into(),
            column_definitions: vec![TableColumnDefinition {
                name: "Name".into(),
                type_: "string".into(),
                format: "name".into(),
                ..Default::default()
            }],
            rows: objects
                .iter()
                .map(|o| TableRow { cells: vec![o["metadata"]["name"].clone()], ..Default::default() })
                .collect(),
            ..Default::default()
        }
    }
}

pub mod patch {
    pub mod strategic {
        use k_api_types::GroupVersionKind;
        pub struct PatchMeta;
        impl PatchMeta {
            pub fn for_kind(_gvk: &GroupVersionKind) -> Option<PatchMeta> {
                None
            }
        }
        pub fn strategic_merge(
            _o: &serde_json::Value,
            _p: &serde_json::Value,
            _m: &PatchMeta,
        ) -> Result<serde_json::Value, String> {
            Err("not yet".into())
        }
    }
}

pub mod openapi {
    #[derive(Debug)]
    pub struct OpenApi;
}
