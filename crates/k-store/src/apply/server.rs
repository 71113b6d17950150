//! Server-side apply as a request over any [`ObjectApi`]: the schema of the
//! kind, the configuration's checks, and the read-apply-write cycle. The
//! [`Store`](crate::Store) serves [`Patch::Apply`](crate::api::Patch::Apply)
//! with it, and k-apiserver serves `application/apply-patch+yaml` with it,
//! so both behave the same.

use k_api_types::structural::StructuralSchema;
use k_api_types::{ApiResource, DynamicObject, GroupVersionResource};
use serde_json::Value;

use super::{Context, Normalize, Scope, Shape, apply};
use crate::api::{ObjectApi, UserInfo};
use crate::error::{Result, StoreError};
use crate::patch::strategic::SchemaCursor;

/// The schema field management walks for a kind: a built-in kind's, a
/// custom resource's (compiled from its CRD), or none.
#[derive(Debug)]
pub enum KindSchema {
    /// A built-in kind, with its patch strategies and merge keys.
    Builtin(SchemaCursor),
    /// A custom resource's structural schema (the version served).
    Custom(Box<StructuralSchema>),
    /// Nothing known: every list is atomic.
    Unknown,
}

impl KindSchema {
    /// The schema of `resource`: a built-in kind's, else the one its
    /// CustomResourceDefinition declares for the version (read through
    /// `api`), else none.
    pub async fn of(api: &dyn ObjectApi, resource: &ApiResource) -> KindSchema {
        if let Some(cursor) = SchemaCursor::for_kind(&resource.gvk()) {
            return KindSchema::Builtin(cursor);
        }
        match custom_schema(api, resource).await {
            Some(schema) => KindSchema::Custom(Box::new(schema)),
            None => KindSchema::Unknown,
        }
    }

    /// The shape apply walks.
    pub fn shape(&self) -> Shape<'_> {
        match self {
            KindSchema::Builtin(c) => Shape::Builtin(*c),
            KindSchema::Custom(s) => Shape::CustomRoot(s.root()),
            KindSchema::Unknown => Shape::Unknown,
        }
    }

    /// The field-management context of a write of `resource` through
    /// `subresource` ("" for the object itself).
    pub fn context<'s>(&'s self, resource: &ApiResource, subresource: &'s str) -> Context<'s> {
        let scope = match subresource {
            "" => Scope::Object { status_subresource: resource.has_subresource("status") },
            "status" => Scope::Status,
            _ => Scope::Other,
        };
        Context { shape: self.shape(), scope, api_version: resource.api_version(), subresource, normalize: Some(self) }
    }
}

impl Normalize for KindSchema {
    /// The object as the store will keep it: unknown fields dropped,
    /// defaults applied.
    fn normalize(&self, object: &Value) -> Value {
        match self {
            KindSchema::Builtin(_) => k_api_types::Object::from_value(object)
                .ok()
                .and_then(|mut typed| {
                    stored_form(&mut typed);
                    typed.to_value().ok()
                })
                .unwrap_or_else(|| object.clone()),
            KindSchema::Custom(schema) => {
                let mut out = object.clone();
                k_api_types::structural::prune(schema, &mut out);
                k_api_types::structural::apply_defaults(schema, &mut out);
                out
            }
            KindSchema::Unknown => object.clone(),
        }
    }
}

/// The structural schema of a custom resource's version, from its CRD.
pub async fn custom_schema(api: &dyn ObjectApi, resource: &ApiResource) -> Option<StructuralSchema> {
    let crds = GroupVersionResource::new("apiextensions.k8s.io", "v1", "customresourcedefinitions");
    let name = format!("{}.{}", resource.plural, resource.group);
    let crd = api.get(&crds, "", &name).await.ok()?;
    let versions = crd.data.get("spec")?.get("versions")?.as_array()?;
    let version = versions.iter().find(|v| v.get("name").and_then(Value::as_str) == Some(&resource.version))?;
    StructuralSchema::new(version.pointer("/schema/openAPIV3Schema")?).ok()
}

/// A typed object as the store keeps it: defaults applied, a Secret's
/// `stringData` folded into `data`.
pub fn stored_form(typed: &mut k_api_types::Object) {
    typed.apply_defaults();
    if let k_api_types::Object::Secret(secret) = typed {
        secret.fold_string_data();
    }
}

/// One server-side apply: who applies what to which object.
#[derive(Clone, Copy, Debug)]
pub struct ApplyRequest<'a> {
    /// The kind.
    pub resource: &'a ApiResource,
    /// The object's namespace ("" for cluster-scoped kinds).
    pub namespace: &'a str,
    /// The object's name.
    pub name: &'a str,
    /// The field manager (required).
    pub field_manager: &'a str,
    /// Take fields other managers own instead of failing with a conflict.
    pub force: bool,
    /// "" for the object, `status` for the status subresource.
    pub subresource: &'a str,
    /// Who writes (for admission).
    pub user: &'a UserInfo,
}

/// What an apply did.
#[derive(Clone, Debug)]
pub struct ApplyOutcome {
    /// The object after the apply.
    pub object: DynamicObject,
    /// Whether the apply created it.
    pub created: bool,
}

/// Checks an apply configuration against the request, as kube-apiserver
/// does: apiVersion and kind set and those of the resource, the name (filled
/// in when left out) and namespace those of the request, no managedFields.
pub fn check_configuration(request: &ApplyRequest<'_>, configuration: &mut Value) -> Result<()> {
    let bad = |m: &str| StoreError::BadRequest(m.to_owned());
    if request.field_manager.is_empty() {
        return Err(bad("PATCH, application/apply-patch+yaml requires fieldManager to be set"));
    }
    if request.field_manager.chars().count() > 128 {
        return Err(bad("fieldManager: Too long: may not be more than 128 bytes"));
    }
    if request.field_manager.chars().any(char::is_control) {
        return Err(StoreError::BadRequest(format!(
            "fieldManager: Invalid value: {:?}: must only contain printable characters",
            request.field_manager
        )));
    }
    let Value::Object(map) = configuration else {
        return Err(bad("an apply patch must be a YAML or JSON object"));
    };
    let api_version = map.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
    if api_version.is_empty() || kind.is_empty() {
        return Err(bad("invalid object type: apply patches must set apiVersion and kind"));
    }
    let expected = request.resource.api_version();
    if api_version != expected || kind != request.resource.kind {
        return Err(StoreError::BadRequest(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({expected})"
        )));
    }
    let meta = map.entry("metadata").or_insert_with(|| Value::Object(Default::default()));
    let Value::Object(meta) = meta else { return Err(bad("metadata must be an object")) };
    match meta.get("name").and_then(Value::as_str) {
        None | Some("") => {
            meta.insert("name".into(), Value::String(request.name.to_owned()));
        }
        Some(name) if name != request.name => {
            return Err(bad("the name of the object does not match the name on the URL"));
        }
        Some(_) => {}
    }
    if request.resource.namespaced {
        match meta.get("namespace").and_then(Value::as_str) {
            None | Some("") => {}
            Some(ns) if ns != request.namespace => {
                return Err(bad(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            Some(_) => {}
        }
    }
    if meta.get("managedFields").is_some_and(|m| !m.is_null()) {
        return Err(bad("metadata.managedFields must be nil"));
    }
    Ok(())
}

/// Server-side apply of `configuration` through `api`: checks it, creates
/// the object when it does not exist (not through a subresource), else
/// merges it into the live object and writes the result with the read
/// revision as a precondition, retrying on conflict. An apply that changes
/// nothing writes nothing. Fields other managers own are an
/// [`StoreError::ApplyConflict`] unless `force` is set.
pub async fn server_side_apply(
    api: &dyn ObjectApi,
    request: &ApplyRequest<'_>,
    mut configuration: Value,
) -> Result<ApplyOutcome> {
    check_configuration(request, &mut configuration)?;
    let resource = request.resource;
    if !request.subresource.is_empty() && !resource.has_subresource(request.subresource) {
        return Err(StoreError::UnknownResource(format!("{}/{}", resource.gvr(), request.subresource)));
    }
    let gvr = resource.gvr();
    let schema = KindSchema::of(api, resource).await;
    let cx = schema.context(resource, request.subresource);
    let conflict = |conflicts| StoreError::ApplyConflict {
        resource: qualified(resource),
        name: request.name.to_owned(),
        conflicts,
    };
    let (ns, name) = (request.namespace, request.name);
    if request.subresource.is_empty() {
        match api.get(&gvr, ns, name).await {
            Err(e) if e.is_not_found() => {
                let out =
                    apply(&[], None, &configuration, request.field_manager, request.force, &cx).map_err(conflict)?;
                let mut object = decode(out.object)?;
                object.metadata.managed_fields = out.managed_fields;
                if resource.namespaced && object.metadata.namespace.is_empty() {
                    object.metadata.namespace = ns.to_owned();
                }
                match api.create(&gvr, ns, object, request.user).await {
                    Ok(object) => return Ok(ApplyOutcome { object, created: true }),
                    // Created meanwhile: apply to it as to any live object.
                    Err(e) if e.is_already_exists() => {}
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
            Ok(_) => {}
        }
    }
    let status = request.subresource == "status";
    let object = crate::api::modify::<StoreError>(api, &gvr, ns, name, status, request.user, |current| {
        let live = serde_json::to_value(current).map_err(|e| StoreError::Internal(e.to_string()))?;
        let out = apply(
            &current.metadata.managed_fields,
            Some(&live),
            &configuration,
            request.field_manager,
            request.force,
            &cx,
        )
        .map_err(conflict)?;
        if !out.changed {
            return Ok(None);
        }
        // A resourceVersion in the configuration is the client's
        // precondition (see `modify`).
        let mut next = decode(out.object)?;
        next.metadata.managed_fields = out.managed_fields;
        Ok(Some(next))
    })
    .await?;
    Ok(ApplyOutcome { object, created: false })
}

fn decode(value: Value) -> Result<DynamicObject> {
    serde_json::from_value(value)
        .map_err(|e| StoreError::BadRequest(format!("the applied object does not decode: {e}")))
}

/// `deployments.apps`, as errors name resources.
fn qualified(resource: &ApiResource) -> String {
    if resource.group.is_empty() { resource.plural.clone() } else { format!("{}.{}", resource.plural, resource.group) }
}
