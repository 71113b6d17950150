//! OpenAPI v3 paths and documents, laid out as kube-apiserver serves them:
//! one document per group/version (`/openapi/v3/api/v1`,
//! `/openapi/v3/apis/apps/v1`), with the paths of its resources and the
//! definitions they use.

use serde_json::{Map, Value, json};

use super::names::{self, op_prefix, upper_first};
use super::schemas::schema_ref;

/// The Kubernetes version the documents describe.
pub(crate) const KUBERNETES_VERSION: &str = "v1.32.0";

const JSON: &str = "application/json";
const YAML: &str = "application/yaml";
const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";
const JSON_WATCH: &str = "application/json;stream=watch";
const PROTOBUF_WATCH: &str = "application/vnd.kubernetes.protobuf;stream=watch";
const JSON_PATCH: &str = "application/json-patch+json";
const MERGE_PATCH: &str = "application/merge-patch+json";
const STRATEGIC_MERGE_PATCH: &str = "application/strategic-merge-patch+json";
const APPLY_PATCH: &str = "application/apply-patch+yaml";

/// A served resource, as the path generator needs it.
#[derive(Clone, Debug)]
pub(crate) struct Served {
    /// API group; empty for the core group.
    pub(crate) group: String,
    /// Version.
    pub(crate) version: String,
    /// Kind.
    pub(crate) kind: String,
    /// Plural resource name.
    pub(crate) plural: String,
    /// Whether objects live in namespaces.
    pub(crate) namespaced: bool,
    /// Verbs served.
    pub(crate) verbs: Vec<String>,
    /// Subresources served.
    pub(crate) subresources: Vec<String>,
    /// Name of the kind's definition (its list is this plus `List`).
    pub(crate) def: String,
    /// Custom resources speak JSON and YAML only, and take no strategic merge patches.
    pub(crate) custom: bool,
}

impl Served {
    fn has(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }
}

/// The skeleton of a document around its paths and definitions.
pub(crate) fn document(paths: Map<String, Value>, schemas: Map<String, Value>) -> Value {
    json!({
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "BearerToken": {
                    "description": "Bearer Token authentication",
                    "in": "header",
                    "name": "authorization",
                    "type": "apiKey"
                }
            }
        },
        "info": { "title": "Kubernetes", "version": KUBERNETES_VERSION },
        "openapi": "3.0.0",
        "paths": paths,
        "security": [{ "BearerToken": [] }]
    })
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({ "group": group, "kind": kind, "version": version })
}

fn query(name: &str, ty: &str, description: &str) -> Value {
    json!({
        "description": description,
        "in": "query",
        "name": name,
        "schema": { "type": ty, "uniqueItems": true }
    })
}

fn path_param(name: &str, description: &str) -> Value {
    json!({
        "description": description,
        "in": "path",
        "name": name,
        "required": true,
        "schema": { "type": "string", "uniqueItems": true }
    })
}

fn pretty() -> Value {
    query("pretty", "string", "If 'true', the output is pretty printed.")
}

fn dry_run() -> Value {
    query(
        "dryRun",
        "string",
        "When present, the request is checked and processed but nothing is persisted. The only valid value is `All`.",
    )
}

fn write_params(patch: bool) -> Vec<Value> {
    let mut params = vec![
        dry_run(),
        query(
            "fieldManager",
            "string",
            "Name of the actor making the change: at most 128 printable characters. Required for apply patches.",
        ),
        query(
            "fieldValidation",
            "string",
            "What the server does with unknown or duplicate fields in the body: `Ignore` drops them, `Warn` (the default) drops them with a warning for each, `Strict` fails the request.",
        ),
    ];
    if patch {
        params.push(query(
            "force",
            "boolean",
            "Lets an apply patch take over fields other managers own instead of failing with a conflict. Only for apply patches.",
        ));
    }
    params
}

fn selector_params() -> [Value; 2] {
    [
        query("fieldSelector", "string", "Only objects whose fields match this selector. Defaults to everything."),
        query("labelSelector", "string", "Only objects whose labels match this selector. Defaults to everything."),
    ]
}

fn version_params() -> [Value; 2] {
    [
        query(
            "resourceVersion",
            "string",
            "Which resource version the request may be served from; see the resource version semantics of the API concepts. Defaults to unset.",
        ),
        query(
            "resourceVersionMatch",
            "string",
            "How `resourceVersion` applies to a list: `Exact` or `NotOlderThan`. Defaults to unset.",
        ),
    ]
}

fn chunk_params() -> [Value; 2] {
    [
        query(
            "continue",
            "string",
            "The `metadata.continue` token of a previous chunk of the same list, to get the next chunk. Not for watches.",
        ),
        query(
            "limit",
            "integer",
            "Largest number of objects to return; if there are more, the list's `metadata.continue` is set to get the rest. Not for watches.",
        ),
    ]
}

fn list_params() -> Vec<Value> {
    let mut params = vec![query(
        "allowWatchBookmarks",
        "boolean",
        "Asks for BOOKMARK events in a watch; the server sends them when it chooses. Ignored for lists.",
    )];
    params.extend(chunk_params());
    params.extend(selector_params());
    params.extend(version_params());
    params.push(query(
        "sendInitialEvents",
        "boolean",
        "With `watch=true`, starts the stream with ADDED events for the current objects, ended by a bookmark.",
    ));
    params.push(query("timeoutSeconds", "integer", "Time limit of the list or watch call, in seconds."));
    params.push(query(
        "watch",
        "boolean",
        "Watch for changes to the objects instead of listing them: a stream of ADDED, MODIFIED and DELETED events.",
    ));
    params
}

fn delete_params() -> Vec<Value> {
    vec![
        dry_run(),
        query(
            "gracePeriodSeconds",
            "integer",
            "Seconds before the object is deleted: zero deletes at once. Defaults to the kind's grace period.",
        ),
        query(
            "ignoreStoreReadErrorWithClusterBreakingPotential",
            "boolean",
            "Deletes an object that can no longer be read from storage. May break the cluster; needs extra permission.",
        ),
        query(
            "orphanDependents",
            "boolean",
            "Deprecated, use propagationPolicy: whether the object's dependents are orphaned.",
        ),
        query(
            "propagationPolicy",
            "string",
            "Whether and how the garbage collector deletes the object's dependents: `Orphan`, `Background` or `Foreground`.",
        ),
    ]
}

fn delete_collection_params() -> Vec<Value> {
    let mut params = delete_params();
    params.extend(chunk_params());
    params.extend(selector_params());
    params.extend(version_params());
    params.push(query("sendInitialEvents", "boolean", "Not used when deleting a collection."));
    params.push(query("timeoutSeconds", "integer", "Time limit of the call, in seconds."));
    params
}

/// `content` of a request body or response: each media type with the schema.
fn content(types: &[&str], schema: &Value) -> Value {
    let map: Map<String, Value> = types.iter().map(|t| ((*t).to_owned(), json!({ "schema": schema }))).collect();
    Value::Object(map)
}

fn body(types: &[&str], schema: &Value, required: bool) -> Value {
    let mut b = json!({ "content": content(types, schema) });
    if required {
        b["required"] = true.into();
    }
    b
}

/// Responses with the given codes, all with `schema`, plus 401.
fn responses(codes: &[(&str, &str)], types: &[&str], schema: &Value) -> Value {
    let mut map = Map::new();
    for (code, description) in codes {
        map.insert((*code).to_owned(), json!({ "content": content(types, schema), "description": description }));
    }
    map.insert("401".into(), json!({ "description": "Unauthorized" }));
    Value::Object(map)
}

/// One operation.
struct Op {
    action: Option<&'static str>,
    id: String,
    description: String,
    gvk: Option<Value>,
    params: Vec<Value>,
    body: Option<Value>,
    responses: Value,
}

impl Op {
    fn into_value(self, tag: &str) -> Value {
        let mut op = Map::new();
        op.insert("description".into(), self.description.into());
        op.insert("operationId".into(), self.id.into());
        if !self.params.is_empty() {
            op.insert("parameters".into(), Value::Array(self.params));
        }
        if let Some(body) = self.body {
            op.insert("requestBody".into(), body);
        }
        op.insert("responses".into(), self.responses);
        op.insert("tags".into(), json!([tag]));
        if let Some(action) = self.action {
            op.insert("x-kubernetes-action".into(), action.into());
        }
        if let Some(gvk) = self.gvk {
            op.insert("x-kubernetes-group-version-kind".into(), gvk);
        }
        Value::Object(op)
    }
}

/// Builds the paths of one resource.
struct ResourcePaths<'a> {
    r: &'a Served,
    /// `/api/v1` or `/apis/<group>/<version>`.
    prefix: String,
    /// `CoreV1`, `AppsV1`.
    ids: String,
    tag: String,
    /// `Namespaced` or empty.
    scope: &'static str,
    /// `/namespaces/{namespace}` or empty.
    ns_segment: &'static str,
    /// Media types of responses.
    produces: &'static [&'static str],
    /// Media types of list responses (with the watch streams).
    list_produces: &'static [&'static str],
    /// Media types of patch bodies.
    patch_types: &'static [&'static str],
    object: Value,
    gvk: Value,
}

impl<'a> ResourcePaths<'a> {
    fn new(r: &'a Served) -> Self {
        let prefix =
            if r.group.is_empty() { format!("/api/{}", r.version) } else { format!("/apis/{}/{}", r.group, r.version) };
        let (produces, list_produces, patch_types): (&[&str], &[&str], &[&str]) = if r.custom {
            (&[JSON, YAML], &[JSON, YAML, JSON_WATCH], &[JSON_PATCH, MERGE_PATCH, APPLY_PATCH])
        } else {
            (
                &[JSON, YAML, PROTOBUF],
                &[JSON, YAML, PROTOBUF, JSON_WATCH, PROTOBUF_WATCH],
                &[JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH],
            )
        };
        ResourcePaths {
            prefix,
            ids: op_prefix(&r.group, &r.version),
            tag: names::tag(&r.group, &r.version),
            scope: if r.namespaced { "Namespaced" } else { "" },
            ns_segment: if r.namespaced { "/namespaces/{namespace}" } else { "" },
            produces,
            list_produces,
            patch_types,
            object: schema_ref(&r.def),
            gvk: gvk(&r.group, &r.version, &r.kind),
            r,
        }
    }

    fn namespace_params(&self) -> Vec<Value> {
        if self.r.namespaced { vec![path_param("namespace", "Namespace of the objects.")] } else { Vec::new() }
    }

    fn item_params(&self) -> Vec<Value> {
        let mut params = vec![path_param("name", &format!("Name of the {}.", self.r.kind))];
        params.extend(self.namespace_params());
        params.push(pretty());
        params
    }

    fn item_path(&self) -> String {
        format!("{}{}/{}/{{name}}", self.prefix, self.ns_segment, self.r.plural)
    }

    fn op(&self, action: &'static str, id: String, description: String) -> Op {
        Op {
            action: Some(action),
            id,
            description,
            gvk: Some(self.gvk.clone()),
            params: Vec::new(),
            body: None,
            responses: Value::Null,
        }
    }

    fn insert(&self, paths: &mut Map<String, Value>, path: String, ops: Vec<(&str, Op)>, params: Vec<Value>) {
        if ops.is_empty() {
            return;
        }
        let mut item = Map::new();
        for (method, op) in ops {
            item.insert(method.to_owned(), op.into_value(&self.tag));
        }
        if !params.is_empty() {
            item.insert("parameters".into(), Value::Array(params));
        }
        paths.insert(path, Value::Object(item));
    }

    fn status(&self) -> Value {
        schema_ref(&names::meta("Status"))
    }

    fn list_op(&self, id: String) -> Op {
        let mut op = self.op("list", id, format!("list or watch objects of kind {}", self.r.kind));
        op.params = list_params();
        op.responses = responses(&[("200", "OK")], self.list_produces, &schema_ref(&format!("{}List", self.r.def)));
        op
    }

    fn watch_op(&self, action: &'static str, id: String, description: String) -> Op {
        let mut op = self.op(action, id, description);
        op.params = list_params();
        op.responses = responses(&[("200", "OK")], self.list_produces, &schema_ref(&names::meta("WatchEvent")));
        op
    }

    /// A read/replace/patch triple on `path` with `schema` as the body, for the
    /// object itself or its `status`, `scale`, … subresource.
    fn read_replace_patch(&self, suffix: &str, what: &str, schema: &Value, gvk: &Value) -> Vec<(&'static str, Op)> {
        let (r, ids, scope) = (self.r, &self.ids, self.scope);
        let kind = &r.kind;
        let mut ops = Vec::new();
        if r.has("get") {
            let mut op =
                self.op("get", format!("read{ids}{scope}{kind}{suffix}"), format!("read {what}the specified {kind}"));
            op.gvk = Some(gvk.clone());
            op.responses = responses(&[("200", "OK")], self.produces, schema);
            ops.push(("get", op));
        }
        if r.has("update") {
            let mut op = self.op(
                "put",
                format!("replace{ids}{scope}{kind}{suffix}"),
                format!("replace {what}the specified {kind}"),
            );
            op.gvk = Some(gvk.clone());
            op.params = write_params(false);
            op.body = Some(body(&["*/*"], schema, true));
            op.responses = responses(&[("200", "OK"), ("201", "Created")], self.produces, schema);
            ops.push(("put", op));
        }
        if r.has("patch") {
            let mut op = self.op(
                "patch",
                format!("patch{ids}{scope}{kind}{suffix}"),
                format!("partially update {what}the specified {kind}"),
            );
            op.gvk = Some(gvk.clone());
            op.params = write_params(true);
            op.body = Some(body(self.patch_types, &schema_ref(&names::meta("Patch")), true));
            op.responses = responses(&[("200", "OK"), ("201", "Created")], self.produces, schema);
            ops.push(("patch", op));
        }
        ops
    }

    fn build(&self, paths: &mut Map<String, Value>, has_def: &dyn Fn(&str) -> bool) {
        let (r, ids, scope, kind) = (self.r, &self.ids, self.scope, &self.r.kind);
        let collection = format!("{}{}/{}", self.prefix, self.ns_segment, r.plural);

        // The collection: list, create, delete collection.
        let mut ops = Vec::new();
        if r.has("list") {
            ops.push(("get", self.list_op(format!("list{ids}{scope}{kind}"))));
        }
        if r.has("create") {
            let mut op = self.op("post", format!("create{ids}{scope}{kind}"), format!("create a {kind}"));
            op.params = write_params(false);
            op.body = Some(body(&["*/*"], &self.object, true));
            op.responses =
                responses(&[("200", "OK"), ("201", "Created"), ("202", "Accepted")], self.produces, &self.object);
            ops.push(("post", op));
        }
        if r.has("deletecollection") {
            let mut op = self.op(
                "deletecollection",
                format!("delete{ids}Collection{scope}{kind}"),
                format!("delete collection of {kind}"),
            );
            op.params = delete_collection_params();
            op.body = Some(body(&["*/*"], &schema_ref(&names::meta("DeleteOptions")), false));
            op.responses = responses(&[("200", "OK")], self.produces, &self.status());
            ops.push(("delete", op));
        }
        let mut params = self.namespace_params();
        params.push(pretty());
        self.insert(paths, collection, ops, params);

        // One object: read, replace, patch, delete.
        let mut ops = self.read_replace_patch("", "", &self.object, &self.gvk);
        if r.has("delete") {
            let mut op = self.op("delete", format!("delete{ids}{scope}{kind}"), format!("delete a {kind}"));
            op.params = delete_params();
            op.body = Some(body(&["*/*"], &schema_ref(&names::meta("DeleteOptions")), false));
            op.responses = responses(&[("200", "OK"), ("202", "Accepted")], self.produces, &self.status());
            ops.push(("delete", op));
        }
        self.insert(paths, self.item_path(), ops, self.item_params());

        // Every namespace at once.
        if r.namespaced && r.has("list") {
            let op = self.list_op(format!("list{ids}{kind}ForAllNamespaces"));
            self.insert(paths, format!("{}/{}", self.prefix, r.plural), vec![("get", op)], vec![pretty()]);
        }

        // The deprecated watch paths.
        if r.has("watch") {
            let base = format!("{}/watch{}/{}", self.prefix, self.ns_segment, r.plural);
            let op = self.watch_op(
                "watchlist",
                format!("watch{ids}{scope}{kind}List"),
                format!("watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with a list operation instead."),
            );
            let mut params = self.namespace_params();
            params.push(pretty());
            self.insert(paths, base.clone(), vec![("get", op)], params);
            let op = self.watch_op(
                "watch",
                format!("watch{ids}{scope}{kind}"),
                format!("watch changes to an object of kind {kind}. deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter."),
            );
            self.insert(paths, format!("{base}/{{name}}"), vec![("get", op)], self.item_params());
            if r.namespaced {
                let op = self.watch_op(
                    "watchlist",
                    format!("watch{ids}{kind}ListForAllNamespaces"),
                    format!("watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with a list operation instead."),
                );
                self.insert(paths, format!("{}/watch/{}", self.prefix, r.plural), vec![("get", op)], vec![pretty()]);
            }
        }

        for sub in &r.subresources {
            self.subresource(paths, sub, has_def);
        }
    }

    fn subresource(&self, paths: &mut Map<String, Value>, sub: &str, has_def: &dyn Fn(&str) -> bool) {
        let (r, ids, scope, kind) = (self.r, &self.ids, self.scope, &self.r.kind);
        let suffix = upper_first(sub);
        let path = format!("{}/{sub}", self.item_path());
        match sub {
            "status" | "ephemeralcontainers" | "resize" => {
                let ops = self.read_replace_patch(&suffix, &format!("{sub} of "), &self.object, &self.gvk);
                self.insert(paths, path, ops, self.item_params());
            }
            "scale" => {
                let def = format!("{}.Scale", names::AUTOSCALING_V1);
                if has_def(&def) {
                    let gvk = gvk("autoscaling", "v1", "Scale");
                    let ops = self.read_replace_patch(&suffix, "scale of ", &schema_ref(&def), &gvk);
                    self.insert(paths, path, ops, self.item_params());
                }
            }
            "binding" | "eviction" | "token" => {
                let (group, version, body_kind) = match sub {
                    "binding" => ("", "v1", "Binding"),
                    "eviction" => ("policy", "v1", "Eviction"),
                    _ => ("authentication.k8s.io", "v1", "TokenRequest"),
                };
                let def = format!("{}.{body_kind}", names::builtin_package(group, version));
                if !has_def(&def) {
                    return;
                }
                let schema = schema_ref(&def);
                let mut op =
                    self.op("post", format!("create{ids}{scope}{kind}{suffix}"), format!("create {sub} of a {kind}"));
                op.gvk = Some(gvk(group, version, body_kind));
                op.params = write_params(false);
                op.body = Some(body(&["*/*"], &schema, true));
                op.responses =
                    responses(&[("200", "OK"), ("201", "Created"), ("202", "Accepted")], self.produces, &schema);
                self.insert(paths, path, vec![("post", op)], self.item_params());
            }
            "finalize" => {
                let mut op = self.op(
                    "put",
                    format!("replace{ids}{scope}{kind}{suffix}"),
                    format!("replace finalize of the specified {kind}"),
                );
                op.params = write_params(false);
                op.body = Some(body(&["*/*"], &self.object, true));
                op.responses = responses(&[("200", "OK"), ("201", "Created")], self.produces, &self.object);
                self.insert(paths, path, vec![("put", op)], self.item_params());
            }
            "log" => {
                let mut op = self.op(
                    "get",
                    format!("read{ids}{scope}{kind}{suffix}"),
                    format!("read log of the specified {kind}"),
                );
                op.params = vec![
                    query(
                        "container",
                        "string",
                        "The container to read the log of; may be omitted if the pod has one container.",
                    ),
                    query("follow", "boolean", "Follow the log stream. Defaults to false."),
                    query(
                        "insecureSkipTLSVerifyBackend",
                        "boolean",
                        "Skip verifying the serving certificate of the kubelet the log is read from.",
                    ),
                    query("limitBytes", "integer", "Stop after this many bytes of log."),
                    query(
                        "previous",
                        "boolean",
                        "Return the log of the previous, terminated container. Defaults to false.",
                    ),
                    query("sinceSeconds", "integer", "Only the log lines of the last this many seconds."),
                    query("stream", "string", "`Stdout`, `Stderr` or `All` (the default)."),
                    query("tailLines", "integer", "Only this many lines from the end of the log."),
                    query("timestamps", "boolean", "Prefix every line with an RFC 3339 timestamp. Defaults to false."),
                ];
                op.responses =
                    responses(&[("200", "OK")], &["text/plain", JSON, YAML, PROTOBUF], &json!({ "type": "string" }));
                self.insert(paths, path, vec![("get", op)], self.item_params());
            }
            "exec" | "attach" | "portforward" => {
                let (options, params) = match sub {
                    "exec" => ("ExecOptions", stream_params(true)),
                    "attach" => ("AttachOptions", stream_params(false)),
                    _ => ("PortForwardOptions", vec![query("ports", "integer", "Ports to forward.")]),
                };
                let gvk = gvk(&r.group, &r.version, &format!("{kind}{options}"));
                let mut ops = Vec::new();
                for method in ["get", "post"] {
                    let m = upper_first(method);
                    let mut op = self.op(
                        "connect",
                        format!("connect{ids}{m}{scope}{kind}{suffix}"),
                        format!("connect {method} requests to {sub} of {kind}"),
                    );
                    op.gvk = Some(gvk.clone());
                    op.params = params.clone();
                    op.responses = responses(&[("200", "OK")], &["*/*"], &json!({ "type": "string" }));
                    ops.push((method, op));
                }
                let mut params = vec![path_param("name", &format!("Name of the {kind}."))];
                params.extend(self.namespace_params());
                self.insert(paths, path, ops, params);
            }
            "proxy" => {
                let gvk = gvk(&r.group, &r.version, &format!("{kind}ProxyOptions"));
                for with_path in [false, true] {
                    let mut ops = Vec::new();
                    for method in ["get", "put", "post", "delete", "options", "head", "patch"] {
                        let m = upper_first(method);
                        let tail = if with_path { "WithPath" } else { "" };
                        let mut op = self.op(
                            "connect",
                            format!("connect{ids}{m}{scope}{kind}{suffix}{tail}"),
                            format!("connect {method} requests to proxy of {kind}"),
                        );
                        op.gvk = Some(gvk.clone());
                        op.responses = responses(&[("200", "OK")], &["*/*"], &json!({ "type": "string" }));
                        ops.push((method, op));
                    }
                    let mut params = vec![path_param("name", &format!("Name of the {kind}."))];
                    params.extend(self.namespace_params());
                    if with_path {
                        params.push(path_param("path", "Path to the resource, relative to the proxied object."));
                        self.insert(paths, format!("{path}/{{path}}"), ops, params);
                    } else {
                        params.push(query("path", "string", "Path to the resource, relative to the proxied object."));
                        self.insert(paths, path.clone(), ops, params);
                    }
                }
            }
            _ => {}
        }
    }
}

fn stream_params(command: bool) -> Vec<Value> {
    let mut params = Vec::new();
    if command {
        params.push(query("command", "string", "The command to run, one argument per parameter."));
    }
    params.extend([
        query("container", "string", "The container to connect to; may be omitted if the pod has one container."),
        query("stderr", "boolean", "Stream the container's standard error."),
        query("stdin", "boolean", "Stream to the container's standard input."),
        query("stdout", "boolean", "Stream the container's standard output."),
        query("tty", "boolean", "Allocate a terminal."),
    ]);
    params
}

/// Adds the paths of one resource (its collection, objects, watch paths and
/// subresources) to `paths`. `has_def` tells whether a definition exists
/// (subresources whose body kind is not served are left out).
pub(crate) fn resource_paths(r: &Served, paths: &mut Map<String, Value>, has_def: &dyn Fn(&str) -> bool) {
    ResourcePaths::new(r).build(paths, has_def);
}

fn discovery_op(id: String, description: &str, tag: String, schema: &str) -> Value {
    Op {
        action: None,
        id,
        description: description.to_owned(),
        gvk: None,
        params: Vec::new(),
        body: None,
        responses: responses(&[("200", "OK")], &[JSON, YAML, PROTOBUF], &schema_ref(schema)),
    }
    .into_value(&tag)
}

/// The group/version's own path (`/api/v1/`, `/apis/apps/v1/`): its resource list.
pub(crate) fn resources_path(group: &str, version: &str, paths: &mut Map<String, Value>) {
    let path = if group.is_empty() { format!("/api/{version}/") } else { format!("/apis/{group}/{version}/") };
    let op = discovery_op(
        format!("get{}APIResources", op_prefix(group, version)),
        "get available resources",
        names::tag(group, version),
        &names::meta("APIResourceList"),
    );
    paths.insert(path, json!({ "get": op }));
}

/// The document of a group (`/apis/apps/`): its versions.
pub(crate) fn group_paths(group: &str) -> Map<String, Value> {
    let camel = names::group_camel(group);
    let mut tag = camel.clone();
    if let Some(first) = tag.get_mut(0..1) {
        first.make_ascii_lowercase();
    }
    let op = discovery_op(format!("get{camel}APIGroup"), "get information of a group", tag, &names::meta("APIGroup"));
    let mut paths = Map::new();
    paths.insert(format!("/apis/{group}/"), json!({ "get": op }));
    paths
}

/// The document of `/api/`: the core group's versions.
pub(crate) fn core_paths() -> Map<String, Value> {
    let op = discovery_op(
        "getCoreAPIVersions".into(),
        "get available API versions",
        "core".into(),
        &names::meta("APIVersions"),
    );
    let mut paths = Map::new();
    paths.insert("/api/".into(), json!({ "get": op }));
    paths
}

/// The document of `/apis/`: every group.
pub(crate) fn groups_paths() -> Map<String, Value> {
    let op = discovery_op(
        "getAPIVersions".into(),
        "get available API versions",
        "apis".into(),
        &names::meta("APIGroupList"),
    );
    let mut paths = Map::new();
    paths.insert("/apis/".into(), json!({ "get": op }));
    paths
}
