//! The admission hook: called on every write with the operation, the new
//! and old objects and the user — after defaulting and before validation to
//! mutate or reject ([`AdmissionHook::admit`]), and after validation to
//! reject ([`AdmissionHook::validate`]).

use k_api_types::{ApiResource, Object};

use crate::api::{Operation, UserInfo};
use crate::error::Result;

/// A write under admission.
#[derive(Debug)]
pub struct AdmissionRequest<'a> {
    /// Create, update or delete.
    pub operation: Operation,
    /// The resource written.
    pub resource: &'a ApiResource,
    /// `status` for status writes, otherwise `None`.
    pub subresource: Option<&'a str>,
    /// Namespace of the object.
    pub namespace: &'a str,
    /// Name of the object.
    pub name: &'a str,
    /// The object being written (absent for deletes); mutable.
    pub object: Option<&'a mut Object>,
    /// The stored object (updates and deletes).
    pub old_object: Option<&'a Object>,
    /// Who is writing.
    pub user: &'a UserInfo,
    /// Whether this is a dry run (`dryRun=All`): nothing will be stored, so
    /// hooks with side effects (quota reservations) must leave it alone.
    pub dry_run: bool,
}

/// An admission plugin. Return an error (usually `StoreError::Forbidden` or
/// `StoreError::Invalid`) to reject the write.
///
/// The store runs every hook's [`admit`](Self::admit) (mutating), then
/// validates the object, then runs every hook's
/// [`validate`](Self::validate), as kube-apiserver orders mutating
/// admission, validation and validating admission. A hook with side effects
/// (a quota reservation) belongs in `validate`: an invalid object never
/// reaches it. Each phase runs once per write, also when the store retries
/// the write after a conflict on deletes.
#[async_trait::async_trait]
pub trait AdmissionHook: Send + Sync + std::fmt::Debug {
    /// Admits (possibly mutating) or rejects a write.
    async fn admit(&self, request: &mut AdmissionRequest<'_>) -> Result<()>;

    /// Accepts or rejects a write that passed validation (default: accepts).
    async fn validate(&self, _request: &AdmissionRequest<'_>) -> Result<()> {
        Ok(())
    }
}
