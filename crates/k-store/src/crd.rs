//! Serving custom resources: a CustomResourceDefinition written through a
//! [`Store`] registers its kinds with that store (and its status says
//! `Established`); deleting it stops serving them. Existing definitions are
//! loaded with [`Store::load_custom_resources`].

use k_api_types::apiextensions::v1::{CustomResourceDefinition, CustomResourceDefinitionCondition};
use k_api_types::meta::Time;
use k_api_types::{DynamicObject, GroupVersionResource, Resource};

use crate::api::{ListOptions, ObjectApi, UserInfo};
use crate::error::{Result, StoreError};
use crate::store::Store;

/// The resource of CustomResourceDefinitions.
pub(crate) fn is_crd(gvr: &GroupVersionResource) -> bool {
    gvr.group == CustomResourceDefinition::INFO.group && gvr.resource == CustomResourceDefinition::INFO.plural
}

fn crd_gvr() -> GroupVersionResource {
    CustomResourceDefinition::INFO.gvr()
}

impl Store {
    /// Serves the custom resources of every stored CustomResourceDefinition
    /// (call once at start; later writes of definitions through this store
    /// take effect at once).
    pub async fn load_custom_resources(&self) -> Result<usize> {
        let page = self.list(&crd_gvr(), None, &ListOptions::default()).await?;
        let mut served = 0;
        for obj in page.items {
            let name = obj.metadata.name.clone();
            self.sync_crd(&name, Some(obj)).await?;
            served += 1;
        }
        Ok(served)
    }

    /// Brings the served kinds in line with the stored definition `name`
    /// (`plural.group`), read again unless given.
    pub(crate) async fn sync_crd(&self, name: &str, object: Option<DynamicObject>) -> Result<()> {
        let object = match object {
            Some(o) => Some(o),
            None => match self.get(&crd_gvr(), "", name).await {
                Ok(o) => Some(o),
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e),
            },
        };
        let Some(object) = object else {
            if let Some((plural, group)) = name.split_once('.') {
                self.unregister(group, plural)?;
            }
            return Ok(());
        };
        let value = serde_json::to_value(&object).map_err(|e| StoreError::Internal(e.to_string()))?;
        let crd: CustomResourceDefinition = serde_json::from_value(value)
            .map_err(|e| StoreError::Internal(format!("stored CustomResourceDefinition {name}: {e}")))?;
        // Replace whatever versions were served before.
        self.unregister(&crd.spec.group, &crd.spec.names.plural)?;
        self.register_crd(&crd)?;
        if !established(&crd) {
            self.mark_established(crd).await?;
        }
        Ok(())
    }

    /// Writes the status Kubernetes gives an accepted definition.
    async fn mark_established(&self, mut crd: CustomResourceDefinition) -> Result<()> {
        let now = Some(Time::now());
        let status = crd.status.get_or_insert_with(Default::default);
        status.accepted_names = crd.spec.names.clone();
        for (type_, reason, message) in [
            ("NamesAccepted", "NoConflicts", "no conflicts found"),
            ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ] {
            status.conditions.retain(|c| c.type_ != type_);
            status.conditions.push(CustomResourceDefinitionCondition {
                type_: type_.to_owned(),
                status: "True".to_owned(),
                last_transition_time: now,
                reason: Some(reason.to_owned()),
                message: Some(message.to_owned()),
            });
        }
        for v in crd.spec.versions.iter().filter(|v| v.storage) {
            if !status.stored_versions.contains(&v.name) {
                status.stored_versions.push(v.name.clone());
            }
        }
        let value = serde_json::to_value(&crd).map_err(|e| StoreError::Internal(e.to_string()))?;
        let object: DynamicObject = serde_json::from_value(value).map_err(|e| StoreError::Internal(e.to_string()))?;
        match self.update_status(&crd_gvr(), "", object, &UserInfo::named("system:k-store")).await {
            Ok(_) => Ok(()),
            // Someone else wrote it meanwhile; their write syncs again.
            Err(e) if e.is_conflict() || e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn established(crd: &CustomResourceDefinition) -> bool {
    crd.status.as_ref().is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Established" && c.status == "True"))
}
