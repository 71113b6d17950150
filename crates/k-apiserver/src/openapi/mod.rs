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
use std::sync::{Arc, OnceLock};

use k_api_types::ApiResource;
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
pub const V2_PROTOBUF_ACCEPT: [&str; 2] = [
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
];

/// One document of `/openapi/v3/<path>`.
#[derive(Clone, Debug)]
pub struct V3Document {
    value: Value,
    json: Vec<u8>,
    hash: String,
    /// The v2 entries of its paths, converted on first use.
    v2_paths: OnceLock<Vec<(String, v2::Entry)>>,
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

    fn v2_paths(&self) -> &[(String, v2::Entry)] {
        self.v2_paths.get_or_init(|| {
            let paths = self.value["paths"].as_object().into_iter().flatten();
            paths.map(|(k, item)| (k.clone(), v2::path_entry(k, item))).collect()
        })
    }
}

/// The served resources' OpenAPI documents, built once per change of the set
/// of served resources.
///
/// Cheap to clone (documents are shared). The documents of the built-in
/// group/versions are built once per process and shared by every `OpenApi`;
/// the v2 document is built on first use.
#[derive(Clone, Debug)]
pub struct OpenApi {
    index: Arc<(Value, Vec<u8>)>,
    v3: BTreeMap<String, Arc<V3Document>>,
    /// The definitions of this build (they shadow the built-in ones), for v2.
    extra: Arc<Defs>,
    v2: Arc<OnceLock<V2Document>>,
}

/// The v2 entries of the built-in definitions, converted once per process.
fn builtin_v2_definitions() -> &'static BTreeMap<String, v2::Entry> {
    static ENTRIES: OnceLock<BTreeMap<String, v2::Entry>> = OnceLock::new();
    ENTRIES.get_or_init(|| {
        schemas::builtin().defs.iter().map(|(name, def)| (name.clone(), v2::definition_entry(name, def))).collect()
    })
}

/// The v2 document in its two encodings.
#[derive(Debug)]
struct V2Document {
    json: Vec<u8>,
    protobuf: Vec<u8>,
    hash: String,
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
/// `v1` and that group/version, so that a change elsewhere (a new CRD group)
/// leaves the document and its hash alone.
fn own_kind_lists(mut defs: Map<String, Value>, doc_path: &str) -> Map<String, Value> {
    let own = match doc_path.split('/').collect::<Vec<_>>()[..] {
        ["apis", group, version] => Some((group, version)),
        _ => None,
    };
    for kind in ["DeleteOptions", "WatchEvent"] {
        if let Some(Value::Object(def)) = defs.get_mut(&names::meta(kind)) {
            let mut list = vec![("", "v1", kind)];
            list.extend(own.map(|(g, v)| (g, v, kind)));
            def.insert("x-kubernetes-group-version-kind".into(), schemas::gvk_list(list));
        }
    }
    defs
}

/// Documents by path.
type Docs = BTreeMap<String, Arc<V3Document>>;

/// The documents of the built-in kinds alone, built once per process.
fn builtin_docs() -> &'static Docs {
    static DOCS: OnceLock<Docs> = OnceLock::new();
    DOCS.get_or_init(|| {
        let served = builtin_served();
        let defs = DefSet { base: &schemas::builtin().defs, extra: Defs::new() };
        let all: BTreeSet<String> = doc_paths(&served).into_iter().collect();
        make_docs(&served, &defs, &all)
    })
}

fn builtin_served() -> Vec<Served> {
    schemas::builtin()
        .kinds
        .iter()
        .map(|(info, def)| Served {
            group: info.group.to_owned(),
            version: info.version.to_owned(),
            kind: info.kind.to_owned(),
            plural: info.plural.to_owned(),
            namespaced: info.namespaced,
            verbs: info.verbs.iter().map(|s| (*s).to_owned()).collect(),
            subresources: info.subresources.iter().map(|s| (*s).to_owned()).collect(),
            def: def.clone(),
            custom: false,
        })
        .collect()
}

/// The documents serving resources: one per group/version, one per group,
/// `api` for the core group and `apis` for the others.
fn doc_paths(served: &[Served]) -> Vec<String> {
    let mut out = Vec::new();
    for r in served {
        out.push(names::gv_path(&r.group, &r.version));
        out.push(if r.group.is_empty() { "api".to_owned() } else { format!("apis/{}", r.group) });
        if !r.group.is_empty() {
            out.push("apis".to_owned());
        }
    }
    out
}

/// Builds the documents named in `wanted` from the served resources.
fn make_docs(served: &[Served], defs: &DefSet, wanted: &BTreeSet<String>) -> Docs {
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let has_def = |name: &str| defs.get(name).is_some();
    for r in served {
        let gv = names::gv_path(&r.group, &r.version);
        if !wanted.contains(&gv) {
            continue;
        }
        let doc = paths.entry(gv).or_insert_with(|| {
            let mut paths = Map::new();
            v3::resources_path(&r.group, &r.version, &mut paths);
            paths
        });
        v3::resource_paths(r, doc, &has_def);
    }
    for doc in wanted {
        match doc.split('/').collect::<Vec<_>>()[..] {
            ["api"] => {
                paths.insert(doc.clone(), v3::core_paths());
            }
            ["apis"] => {
                paths.insert(doc.clone(), v3::groups_paths());
            }
            ["apis", group] => {
                paths.insert(doc.clone(), v3::group_paths(group));
            }
            _ => {}
        }
    }
    let mut docs = Docs::new();
    for (path, doc_paths) in paths {
        let doc_paths = Value::Object(doc_paths);
        let schemas = own_kind_lists(defs.closure(&doc_paths), &path);
        let Value::Object(doc_paths) = doc_paths else { unreachable!("built as an object") };
        let value = v3::document(doc_paths, schemas);
        let json = serde_json::to_vec(&value).unwrap_or_default();
        let hash = hash(&json);
        docs.insert(path, Arc::new(V3Document { value, json, hash, v2_paths: OnceLock::new() }));
    }
    docs
}

impl OpenApi {
    /// Documents for the built-in kinds (when `builtin`) plus the given custom
    /// resources, one entry per served version: its description and the
    /// version's `openAPIV3Schema` (`null` or `{}` for a version without
    /// schema, served as free-form).
    pub fn build(builtin: bool, custom: &[(ApiResource, Value)]) -> OpenApi {
        let base = schemas::builtin();
        let mut extra = Defs::new();
        let mut served = if builtin { builtin_served() } else { Vec::new() };
        let mut custom_served = Vec::new();
        for (resource, schema) in custom {
            let (name, def) = schemas::custom_def(resource, schema);
            extra.insert(
                format!("{name}List"),
                schemas::list_def(&name, &resource.group, &resource.version, &resource.kind),
            );
            extra.insert(name.clone(), def);
            custom_served.push(Served {
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
        served.extend(custom_served.iter().cloned());

        // In the v2 document, `DeleteOptions` and `WatchEvent` name every
        // served group/version, as Kubernetes publishes them.
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

        // Documents that custom resources touch are built; the built-in
        // ones are shared.
        let touched: BTreeSet<String> = doc_paths(&custom_served).into_iter().collect();
        let mut docs = make_docs(&served, &defs, &touched);
        if builtin {
            for (path, doc) in builtin_docs() {
                if !touched.contains(path) {
                    docs.insert(path.clone(), Arc::clone(doc));
                }
            }
        }

        let index: Map<String, Value> = docs
            .iter()
            .map(|(path, doc)| {
                let url = format!("/openapi/v3/{path}?hash={}", doc.hash);
                (path.clone(), json!({ "serverRelativeURL": url }))
            })
            .collect();
        let index = json!({ "paths": index });
        let index_json = serde_json::to_vec(&index).unwrap_or_default();
        OpenApi {
            index: Arc::new((index, index_json)),
            v3: docs,
            extra: Arc::new(defs.extra),
            v2: Arc::new(OnceLock::new()),
        }
    }

    /// The v2 document, built on first use: the paths of every v3 document
    /// and the definitions they use, each converted once (the built-in ones
    /// once per process).
    fn v2(&self) -> &V2Document {
        self.v2.get_or_init(|| {
            let mut paths: Vec<(&str, &v2::Entry)> =
                self.v3.values().flat_map(|d| d.v2_paths().iter().map(|(k, e)| (k.as_str(), e))).collect();
            paths.sort_unstable_by(|a, b| a.0.cmp(b.0));
            paths.dedup_by(|a, b| a.0 == b.0);
            let names: BTreeSet<&str> = self
                .v3
                .values()
                .filter_map(|d| d.value["components"]["schemas"].as_object())
                .flat_map(|schemas| schemas.keys().map(String::as_str))
                .collect();
            let own: BTreeMap<&str, v2::Entry> =
                names.iter().filter_map(|n| self.extra.get(*n).map(|def| (*n, v2::definition_entry(n, def)))).collect();
            let builtin = builtin_v2_definitions();
            let definitions: Vec<(&str, &v2::Entry)> =
                names.iter().filter_map(|n| own.get(n).or_else(|| builtin.get(*n)).map(|e| (*n, e))).collect();
            let (json, protobuf) = v2::assemble(&paths, &definitions);
            V2Document { hash: hash(&json), json, protobuf }
        })
    }

    /// `/openapi/v3`: `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=…"}, …}}`.
    pub fn v3_index(&self) -> &Value {
        &self.index.0
    }

    /// `/openapi/v3` as JSON, as served.
    pub fn v3_index_json(&self) -> &[u8] {
        &self.index.1
    }

    /// `/openapi/v3/<path>` (`api/v1`, `apis/apps/v1`, `apis/apps`, `api`,
    /// `apis`; a leading `/` is ignored), `None` if there is no such document.
    pub fn v3_document(&self, path: &str) -> Option<&V3Document> {
        self.v3.get(path.trim_start_matches('/')).map(|d| &**d)
    }

    /// The paths of the v3 documents, as the index lists them.
    pub fn v3_paths(&self) -> impl Iterator<Item = &str> {
        self.v3.keys().map(String::as_str)
    }

    /// `/openapi/v2` as JSON.
    pub fn v2_json(&self) -> &[u8] {
        &self.v2().json
    }

    /// `/openapi/v2` as protobuf (gnostic's `openapi.v2.Document` message; see
    /// [`V2_PROTOBUF_ACCEPT`] and [`V2_PROTOBUF_CONTENT_TYPE`]).
    pub fn v2_protobuf(&self) -> &[u8] {
        &self.v2().protobuf
    }

    /// The v2 document's hash (upper-case hex SHA-512 of its JSON), for its ETag.
    pub fn v2_hash(&self) -> &str {
        &self.v2().hash
    }
}
