//! Writes with field management: every create, update and patch records its
//! field manager in `metadata.managedFields` (see [`k_store::apply`]), and
//! changes of an existing object are read-modify-write cycles retried on
//! conflict.

use k_api_types::DynamicObject;
use k_api_types::meta::ManagedFieldsEntry;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::handlers::Call;
use k_store::apply::{self, Context, KindSchema, stored_form};

impl Call<'_> {
    /// The schema of the call's kind (see [`KindSchema::of`]).
    pub(crate) async fn kind_schema(&self) -> KindSchema {
        KindSchema::of(self.api.as_ref(), &self.resource).await
    }
    /// The field manager of this write: the `fieldManager` parameter, else
    /// the program name of the User-Agent (`kubectl` of
    /// `kubectl/v1.32.0 (linux/amd64)`), as Kubernetes derives it.
    pub(crate) fn field_manager(&self) -> ApiResult<String> {
        if let Some(manager) = self.query.get("fieldManager") {
            if manager.chars().count() > 128 {
                return Err(ApiError::bad_request("fieldManager: Too long: may not be more than 128 bytes"));
            }
            if manager.chars().any(|c| c.is_control()) {
                return Err(ApiError::bad_request(format!(
                    "fieldManager: Invalid value: {manager:?}: must only contain printable characters"
                )));
            }
            return Ok(manager.to_owned());
        }
        let agent = self.headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let program: String = agent.split('/').next().unwrap_or_default().chars().take(128).collect();
        Ok(if program.is_empty() { "unknown".to_owned() } else { program })
    }

    /// The field-management context of a write through `subresource`.
    pub(crate) fn managed_context<'s>(&self, source: &'s KindSchema, subresource: &'s str) -> Context<'s> {
        source.context(&self.resource, subresource)
    }
}

/// Records the creator of a new object as the manager of all its fields.
/// `typed` is the body already decoded as its kind, if it was (it saves
/// decoding it again).
pub(crate) async fn track_create(
    call: &Call<'_>,
    object: &mut DynamicObject,
    typed: Option<k_api_types::Object>,
) -> ApiResult<()> {
    let manager = call.field_manager()?;
    let source = call.kind_schema().await;
    // Owned as stored: with defaults, without fields the server drops.
    let value = match (&source, typed) {
        (KindSchema::Builtin(_), Some(mut typed)) if !matches!(typed, k_api_types::Object::Dynamic(_)) => {
            // The body's own metadata (namespace filled in) as sent.
            *typed.metadata_mut() = object.metadata.clone();
            stored_form(&mut typed);
            typed.to_value().map_err(|e| ApiError::internal(e.to_string()))?
        }
        _ => apply::Normalize::normalize(&source, &to_value(object)?),
    };
    let cx = call.managed_context(&source, "");
    if let Some(entries) = apply::update(&[], None, &value, &manager, &cx) {
        object.metadata.managed_fields = entries;
    }
    Ok(())
}

/// Changes an existing object: reads it, lets `change` make the next one,
/// records the field manager and writes it with the read revision as a
/// precondition, retrying on conflict. A next object carrying another
/// resourceVersion than the one read is a client precondition: a conflict
/// with it is the client's 409.
pub(crate) async fn modify(
    call: &Call<'_>,
    subresource: &str,
    mut change: impl FnMut(&DynamicObject, &Value) -> ApiResult<Value>,
) -> ApiResult<DynamicObject> {
    let manager = call.field_manager()?;
    let source = call.kind_schema().await;
    let status = subresource == "status";
    k_store::api::modify(
        call.api.as_ref(),
        &call.gvr(),
        call.namespace(),
        &call.req.name,
        status,
        &call.user,
        |current| {
            let current_value = to_value(current)?;
            // Compare as stored: fields the server completes with defaults are
            // not the writer's changes.
            let next = apply::Normalize::normalize(&source, &change(current, &current_value)?);
            let cx = call.managed_context(&source, subresource);
            let managed = match requested_managed_fields(&next, current, subresource) {
                // The store reads `[{}]` as "clear them" (nothing would keep them).
                Requested::Reset => vec![ManagedFieldsEntry::default()],
                Requested::Base(base) => {
                    apply::update(&base, Some(&current_value), &next, &manager, &cx).unwrap_or(base)
                }
            };
            let mut next: DynamicObject = serde_json::from_value(next)
                .map_err(|e| ApiError::bad_request(format!("the changed object does not decode: {e}")))?;
            next.metadata.managed_fields = managed;
            Ok(Some(next))
        },
    )
    .await
}

/// What a write asks of the managed fields.
enum Requested {
    /// `managedFields: [{}]`: forget them all (and do not track this write).
    Reset,
    /// Track this write on top of these entries.
    Base(Vec<ManagedFieldsEntry>),
}

/// The managed fields a write of the object itself brings: as Kubernetes
/// does, `[{}]` resets them, and other valid entries that differ from the
/// stored ones replace them; otherwise (and through subresources) the
/// stored entries stand.
fn requested_managed_fields(next: &Value, current: &DynamicObject, subresource: &str) -> Requested {
    let stored = || Requested::Base(current.metadata.managed_fields.clone());
    if !subresource.is_empty() {
        return stored();
    }
    let Some(sent @ Value::Array(entries)) = next.pointer("/metadata/managedFields") else { return stored() };
    if let [Value::Object(only)] = entries.as_slice()
        && only.is_empty()
    {
        return Requested::Reset;
    }
    // Read in place: the entries are not copied to be decoded.
    match <Vec<ManagedFieldsEntry> as serde::Deserialize>::deserialize(sent) {
        Ok(sent) if !sent.is_empty() && sent != current.metadata.managed_fields => {
            let valid = sent.iter().all(|e| {
                !e.manager.is_empty()
                    && matches!(e.operation.as_str(), "Apply" | "Update")
                    && e.fields_v1.as_ref().is_none_or(|f| k_store::apply::FieldSet::from_fields_v1(f).is_ok())
            });
            if valid { Requested::Base(sent) } else { stored() }
        }
        _ => stored(),
    }
}

pub(crate) fn to_value(object: &DynamicObject) -> ApiResult<Value> {
    serde_json::to_value(object).map_err(|e| ApiError::internal(e.to_string()))
}
