//! The OpenAPI documents kube-apiserver serves, for kubectl and other clients:
//!
//! - `/openapi/v3`: an index of one document per group/version,
//!   `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=…"}, …}}`;
//! - `/openapi/v3/<path>`: each document, with the paths of its resources
//!   (list, create, read, replace, patch, delete, delete collection, watch,
//!   subresources) and the definitions they use;
//! - `/openapi/v2`: one Swagger 2.0 document of everything, as JSON and as the
//!   protobuf kubectl asks for (gnostic's `openapi.v2.Document`).
//!
//! kubectl relies on them for `kubectl explain` (it finds a kind by the
//! `x-kubernetes-group-version-kind` of its definition, through the operations
//! of the resource's path), for detecting server-side field validation (the
//! `fieldValidation` parameter of the resource's PATCH operation), for the
//! patch type and strategic-merge keys of `kubectl apply`, and for client-side
//! validation of `List` manifests.
//!
//! Definitions are named as Kubernetes names them (`io.k8s.api.core.v1.Pod`,
//! `io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta`; custom resources by
//! their reversed group, `com.example.stable.v1.CronTab`) and described by
//! the doc comments of the `k-api-types` models.
//!
//! Serving them: the v3 index and documents are JSON
//! ([`V3Document::json`]); a request for a document whose `hash` query
//! parameter equals [`V3Document::hash`] may be answered with
//! `Cache-Control: public, immutable`, and the hash serves as the ETag. The v2
//! document is JSON ([`OpenApi::v2_json`]) unless the client accepts one of
//! [`V2_PROTOBUF_ACCEPT`]: then it is [`OpenApi::v2_protobuf`], sent with
//! `Content-Type` [`V2_PROTOBUF_CONTENT_TYPE`].

mod names;
mod proto;
mod schemas;
mod v2;
mod v3;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use k_api_types::ApiResource;
use prost::Message;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha512};

use schemas::{DefSet, Defs};
use v3::Served;

/// The `Content-Type` of the protobuf form of `/openapi/v2`. Clients ask for
/// it as [`V2_PROTOBUF_ACCEPT`] (kubectl sends the `@` spelling), but the
/// answer must use this spelling: Go's media-type parser, and so kubectl,
/// rejects the `@`.
pub const V2_PROTOBUF_CONTENT_TYPE: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// The `Accept` media types that ask `/openapi/v2` for protobuf.
pub const V2_PROTOBUF_ACCEPT: [&str; 2] =
    ["application/com.github.proto-openapi.spec.v2@v1.0+protobuf", "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"];

/// One document of `/openapi/v3/<path>`.
#[derive(Clone, Debug)]
pub struct V3Document {
    value: Value,
    json: Vec<u8>,
    hash: String,
}

impl V3Document {
    /// The document.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The document as JSON, as served.
    pub fn json(&self) -> &[u8] {
        &self.json
    }

    /// The document's hash (upper-case hex SHA-512 of its JSON): the `hash`
    /// query parameter of its URL in the index, and its ETag.
    pub fn hash(&self) -> &str {
        &self.hash
    }
}

/// The served resources' OpenAPI documents, built once per change of the set
/// of served resources.
#[derive(Clone, Debug)]
pub struct OpenApi {
    index: Value,
    index_json: Vec<u8>,
    v3: BTreeMap<String, V3Document>,
    v2_json: Vec<u8>,
    v2_protobuf: Vec<u8>,
    v2_hash: String,
}

/// Upper-case hex SHA-512, as kube-apiserver hashes its documents.
fn hash(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let digest = Sha512::digest(bytes);
    let mut out = String::with_capacity(digest.len() * 2);
    for b in digest {
        let _ = write!(out, "{b:02X}");
    }
    out
}

/// In a group/version's document, `DeleteOptions` and `WatchEvent` name only
/// `v1` and that group/version, so that a change elsewhere (a new CRD
/// group) leaves the document and its hash alone.
fn own_kind_lists(mut schemas: Map<String, Value>, doc_path: &str) -> Map<String, Value> {
    let own = match doc_path.split('/').collect::<Vec<_>>()[..] {
        ["apis", group, version] => Some((group, version)),
        _ => None,
    };
    for kind in ["DeleteOptions", "WatchEvent"] {
        if let Some(Value::Object(def)) = schemas.get_mut(&names::meta(kind)) {
            let mut list = vec![("", "v1", kind)];
            list.extend(own.map(|(g, v)| (g, v, kind)));
            def.insert("x-kubernetes-group-version-kind".into(), schemas::gvk_list(list));
        }
    }
    schemas
}

impl OpenApi {
    /// Documents for the built-in kinds (when `builtin`) plus the given custom
    /// resources, one entry per served version: its description and the
    /// version's `openAPIV3Schema` (`null` or `{}` for a version without
    /// schema, served as free-form).
    pub fn build(builtin: bool, custom: &[(ApiResource, Value)]) -> OpenApi {
        let base = schemas::builtin();
        let mut extra = Defs::new();
        let mut served = Vec::new();
        if builtin {
            for (info, def) in &base.kinds {
                extra.insert(format!("{def}List"), schemas::list_def(def, info.group, info.version, info.kind));
                served.push(Served {
                    group: info.group.to_owned(),
                    version: info.version.to_owned(),
                    kind: info.kind.to_owned(),
                    plural: info.plural.to_owned(),
                    namespaced: info.namespaced,
                    verbs: info.verbs.iter().map(|s| (*s).to_owned()).collect(),
                    subresources: info.subresources.iter().map(|s| (*s).to_owned()).collect(),
                    def: def.clone(),
                    custom: false,
                });
            }
        }
        for (resource, schema) in custom {
            let (name, def) = schemas::custom_def(resource, schema);
            extra.insert(
                format!("{name}List"),
                schemas::list_def(&name, &resource.group, &resource.version, &resource.kind),
            );
            extra.insert(name.clone(), def);
            served.push(Served {
                group: resource.group.clone(),
                version: resource.version.clone(),
                kind: resource.kind.clone(),
                plural: resource.plural.clone(),
                namespaced: resource.namespaced,
                verbs: resource.verbs.clone(),
                subresources: resource.subresources.clone(),
                def: name,
                custom: true,
            });
        }

        // `DeleteOptions` and `WatchEvent` name every served group/version.
        let group_versions: BTreeSet<(&str, &str)> =
            served.iter().map(|r| (r.group.as_str(), r.version.as_str())).collect();
        let gvks = |kind: &'static str| {
            let mut list = vec![("", "v1", kind)];
            list.extend(group_versions.iter().filter(|gv| **gv != ("", "v1")).map(|(g, v)| (*g, *v, kind)));
            schemas::gvk_list(list)
        };
        let delete_options = names::meta("DeleteOptions");
        if let Some(Value::Object(mut def)) = base.defs.get(&delete_options).cloned() {
            def.insert("x-kubernetes-group-version-kind".into(), gvks("DeleteOptions"));
            extra.insert(delete_options, Value::Object(def));
        }
        extra.insert(names::meta("WatchEvent"), schemas::watch_event(gvks("WatchEvent")));
        let defs = DefSet { base: &base.defs, extra };

        // Paths of each document.
        let mut docs: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
        let has_def = |name: &str| defs.get(name).is_some();
        for r in &served {
            let paths = docs.entry(names::gv_path(&r.group, &r.version)).or_insert_with(|| {
                let mut paths = Map::new();
                v3::resources_path(&r.group, &r.version, &mut paths);
                paths
            });
            v3::resource_paths(r, paths, &has_def);
        }
        let groups: BTreeSet<&str> = served.iter().map(|r| r.group.as_str()).collect();
        for group in &groups {
            if group.is_empty() {
                docs.insert("api".into(), v3::core_paths());
            } else {
                docs.insert(format!("apis/{group}"), v3::group_paths(group));
            }
        }
        if groups.iter().any(|g| !g.is_empty()) {
            docs.insert("apis".into(), v3::groups_paths());
        }

        // The v3 documents and their index; every path for v2.
        let mut all_paths = Map::new();
        let mut v3_docs = BTreeMap::new();
        let mut index = Map::new();
        for (path, paths) in docs {
            let paths = Value::Object(paths);
            let schemas = defs.closure(&paths);
            let Value::Object(paths) = paths else { unreachable!("built as an object") };
            let schemas = own_kind_lists(schemas, &path);
            all_paths.extend(paths.iter().map(|(k, v)| (k.clone(), v.clone())));
            let value = v3::document(paths, schemas);
            let json = serde_json::to_vec(&value).unwrap_or_default();
            let hash = hash(&json);
            index.insert(path.clone(), json!({ "serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}") }));
            v3_docs.insert(path, V3Document { value, json, hash });
        }
        let index = json!({ "paths": index });
        let index_json = serde_json::to_vec(&index).unwrap_or_default();

        let all_paths_value = Value::Object(all_paths);
        let all_defs = defs.closure(&all_paths_value);
        let Value::Object(all_paths) = all_paths_value else { unreachable!("built as an object") };
        let v2 = v2::document(&all_paths, &all_defs);
        let v2_json = serde_json::to_vec(&v2).unwrap_or_default();
        let v2_protobuf = proto::document(&v2).encode_to_vec();
        let v2_hash = hash(&v2_json);
        OpenApi { index, index_json, v3: v3_docs, v2_json, v2_protobuf, v2_hash }
    }

    /// `/openapi/v3`: `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=…"}, …}}`.
    pub fn v3_index(&self) -> &Value {
        &self.index
    }

    /// `/openapi/v3` as JSON, as served.
    pub fn v3_index_json(&self) -> &[u8] {
        &self.index_json
    }

    /// `/openapi/v3/<path>` (`api/v1`, `apis/apps/v1`, `apis/apps`, `api`,
    /// `apis`; a leading `/` is ignored), `None` if there is no such document.
    pub fn v3_document(&self, path: &str) -> Option<&V3Document> {
        self.v3.get(path.trim_start_matches('/'))
    }

    /// The paths of the v3 documents, as the index lists them.
    pub fn v3_paths(&self) -> impl Iterator<Item = &str> {
        self.v3.keys().map(String::as_str)
    }

    /// `/openapi/v2` as JSON.
    pub fn v2_json(&self) -> &[u8] {
        &self.v2_json
    }

    /// `/openapi/v2` as protobuf (gnostic's `openapi.v2.Document` message; see
    /// [`V2_PROTOBUF_ACCEPT`] and [`V2_PROTOBUF_CONTENT_TYPE`]).
    pub fn v2_protobuf(&self) -> &[u8] {
        &self.v2_protobuf
    }

    /// The v2 document's hash (upper-case hex SHA-512 of its JSON), for its ETag.
    pub fn v2_hash(&self) -> &str {
        &self.v2_hash
    }
}
