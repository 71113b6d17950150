//! Owner references: who owns an object (and so deletes it with itself).

use k_api_types::Resource;
use k_api_types::meta::{ObjectMeta, OwnerReference};

/// A reference to `owner`, as its children carry it. A controller
/// reference (`controller: true`) marks the one owner that manages the
/// child; it also blocks the owner's foreground deletion until the child is
/// gone (`blockOwnerDeletion`).
pub fn owner_reference<K: Resource>(owner: &K, controller: bool) -> OwnerReference {
    let meta = owner.metadata();
    OwnerReference {
        api_version: K::INFO.api_version.to_owned(),
        kind: K::INFO.kind.to_owned(),
        name: meta.name.clone(),
        uid: meta.uid.clone(),
        controller: controller.then_some(true),
        block_owner_deletion: controller.then_some(true),
    }
}

/// Whether `child` names `owner` (by uid) among its owners.
pub fn is_owned_by<K: Resource>(child: &ObjectMeta, owner: &K) -> bool {
    let uid = &owner.metadata().uid;
    !uid.is_empty() && child.owner_references.iter().any(|r| &r.uid == uid)
}

/// Adds (or replaces, by uid) a reference on `child`.
pub fn set_owner_reference(child: &mut ObjectMeta, reference: OwnerReference) {
    match child.owner_references.iter_mut().find(|r| r.uid == reference.uid) {
        Some(existing) => *existing = reference,
        None => child.owner_references.push(reference),
    }
}

#[cfg(test)]
mod tests {
    use k_api_types::apps::v1::Deployment;

    use super::*;

    #[test]
    fn controller_references_name_and_block() {
        let mut deployment = Deployment::default();
        deployment.metadata.name = "web".into();
        deployment.metadata.uid = "u1".into();
        let reference = owner_reference(&deployment, true);
        assert_eq!(
            (reference.api_version.as_str(), reference.kind.as_str(), reference.name.as_str()),
            ("apps/v1", "Deployment", "web")
        );
        assert_eq!((reference.controller, reference.block_owner_deletion), (Some(true), Some(true)));
        let mut child = ObjectMeta::default();
        set_owner_reference(&mut child, owner_reference(&deployment, false));
        set_owner_reference(&mut child, reference.clone());
        assert_eq!(child.owner_references, [reference], "one reference per owner");
        assert!(is_owned_by(&child, &deployment));
        assert_eq!(child.controller().map(|r| r.name.as_str()), Some("web"));
    }
}
