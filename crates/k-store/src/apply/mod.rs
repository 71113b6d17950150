//! Server-side apply and field management (`metadata.managedFields`), with
//! kube-apiserver's semantics.
//!
//! Every write through k-apiserver records who set which field:
//!
//! - a create, update or patch is an `Update` by its field manager (the
//!   `fieldManager` parameter, else the client's User-Agent program name):
//!   the fields it added or changed become that manager's and stop being any
//!   other's ([`update`]);
//! - an `application/apply-patch+yaml` patch is an `Apply` ([`apply`]): the
//!   configuration is merged into the live object (keyed lists item by item,
//!   sets by value, atomic lists and objects whole), and the manager's set
//!   becomes exactly the fields the configuration names. Changing a field
//!   another manager owns is a conflict (409, each field a
//!   `FieldManagerConflict` cause) unless `force=true` takes it; a field the
//!   manager applied before and leaves out now is removed, unless another
//!   manager owns it.
//!
//! [`server_side_apply`] runs an apply as a request over any object API;
//! the [`Store`](crate::Store) serves [`Patch::Apply`](crate::api::Patch::Apply)
//! with it. Plain creates and updates through a `Store` (not through
//! k-apiserver) are not recorded as `Update` entries: they carry no field
//! manager, so a field they change stays with its previous owner.
//!
//! Sets are [`FieldSet`]s, stored as `FieldsV1` tries. How lists merge comes
//! from the kind's schema ([`Shape`]): built-in lists follow their patch
//! strategy and merge key (container ports and service ports are keyed by
//! port and protocol, as Kubernetes declares), custom resource lists follow
//! `x-kubernetes-list-type`/`x-kubernetes-list-map-keys` (atomic when not
//! declared).
//!
//! Differences from Kubernetes (see `docs/store/apply.md`): every object
//! that is added gets its own `.` member (Kubernetes leaves it out for Go
//! struct fields that are never nil); `Update` entries are not split by
//! apiVersion nor merged into `ancient-changes` past ten managers; the
//! CSA-to-SSA migration of `last-applied` annotations is not done; list
//! types come from patch metadata plus a table of Kubernetes' exceptions,
//! not from `x-kubernetes-list-type` markers; a keyed list with a duplicate
//! or missing key is treated as atomic.

mod fieldset;
mod managers;
mod schema;
mod server;
mod walk;

#[cfg(test)]
mod tests;

pub use fieldset::FieldSet;
pub use managers::{Applied, Conflict, Conflicts, Context, Normalize, Scope, apply, update};
pub use schema::{ListKind, Shape};
pub use server::{
    ApplyOutcome, ApplyRequest, KindSchema, check_configuration, custom_schema, server_side_apply, stored_form,
};
