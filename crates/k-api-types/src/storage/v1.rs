//! `storage.k8s.io/v1`: [`StorageClass`] and [`CSINode`].

use crate::SortedMap;
use std::collections::{BTreeMap, BTreeSet};

use crate::defaults::default_str;
use crate::meta::ObjectMeta;
use crate::validation::{
    ErrorList, FieldError, NameRule, Path, Validate, is_dns1123_subdomain, qualified_name_errors, validate_immutable,
    validate_object_meta, validate_object_meta_update,
};
use crate::{ApplyDefaults, wire};

/// A class of dynamically provisioned persistent volumes.
#[wire]
pub struct StorageClass {
    /// APIVersion of the object (`storage.k8s.io/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`StorageClass`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata (annotation `storageclass.kubernetes.io/is-default-class` marks the default).
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// The volume plugin or CSI driver that provisions volumes, such as `ebs.csi.aws.com`; immutable.
    pub provisioner: String,
    /// Provisioner-specific parameters; immutable.
    pub parameters: SortedMap<String, String>,
    /// `Delete` (default) or `Retain`: what happens to volumes when their claim goes; immutable.
    pub reclaim_policy: Option<String>,
    /// Mount options of the provisioned volumes, such as `ro` or `soft`.
    pub mount_options: Vec<String>,
    /// Whether claims may be resized.
    pub allow_volume_expansion: Option<bool>,
    /// `Immediate` (default) or `WaitForFirstConsumer`: when volumes are bound and provisioned; immutable.
    pub volume_binding_mode: Option<String>,
    /// Topologies volumes may be provisioned in (empty: anywhere).
    pub allowed_topologies: Vec<TopologySelectorTerm>,
}

crate::impl_resource!(StorageClass {
    group: "storage.k8s.io",
    version: "v1",
    kind: "StorageClass",
    plural: "storageclasses",
    singular: "storageclass",
    short_names: ["sc"],
    categories: [],
    namespaced: false,
    verbs: crate::resource::ALL_VERBS,
    subresources: [],
    selectable_fields: []
});

/// A list of storage classes.
pub type StorageClassList = crate::meta::ObjectList<StorageClass>;

/// A topology: all its label requirements must hold.
#[wire(eq)]
pub struct TopologySelectorTerm {
    /// Requirements on topology labels.
    pub match_label_expressions: Vec<TopologySelectorLabelRequirement>,
}

/// A topology label and its allowed values.
#[wire(eq)]
pub struct TopologySelectorLabelRequirement {
    /// The label key, such as `topology.kubernetes.io/zone`.
    pub key: String,
    /// Allowed values.
    #[wire(always)]
    pub values: Vec<String>,
}

impl ApplyDefaults for StorageClass {
    fn apply_defaults(&mut self) {
        default_str(&mut self.reclaim_policy, "Delete");
        default_str(&mut self.volume_binding_mode, "Immediate");
    }
}

const MAX_PARAMETERS: usize = 512;
const MAX_PARAMETERS_SIZE: usize = 256 * 1024;

fn validate_storage_class(sc: &StorageClass, errs: &mut ErrorList) {
    let prov = Path::new("provisioner");
    if sc.provisioner.is_empty() {
        errs.push(FieldError::required(&prov, ""));
    } else {
        for msg in qualified_name_errors(&sc.provisioner.to_lowercase()) {
            errs.push(FieldError::invalid(&prov, &sc.provisioner, msg));
        }
    }
    let params = Path::new("parameters");
    if sc.parameters.len() > MAX_PARAMETERS {
        errs.push(FieldError::too_long(&params, MAX_PARAMETERS));
    } else {
        let mut total = 0;
        for (k, v) in &sc.parameters {
            if k.is_empty() {
                errs.push(FieldError::invalid(&params, k, "field can not be empty."));
            }
            total += k.len() + v.len();
        }
        if total > MAX_PARAMETERS_SIZE {
            errs.push(FieldError::too_long(&params, MAX_PARAMETERS_SIZE));
        }
    }
    if let Some(p) = sc.reclaim_policy.as_deref()
        && !p.is_empty()
        && p != "Delete"
        && p != "Retain"
    {
        errs.push(FieldError::not_supported(&Path::new("reclaimPolicy"), p, &["Delete", "Retain"]));
    }
    let mode = Path::new("volumeBindingMode");
    match sc.volume_binding_mode.as_deref() {
        None => errs.push(FieldError::required(&mode, "")),
        Some("Immediate" | "WaitForFirstConsumer") => {}
        Some(other) => errs.push(FieldError::not_supported(&mode, other, &["Immediate", "WaitForFirstConsumer"])),
    }
    validate_allowed_topologies(&sc.allowed_topologies, &Path::new("allowedTopologies"), errs);
}

fn validate_allowed_topologies(terms: &[TopologySelectorTerm], path: &Path, errs: &mut ErrorList) {
    let mut seen_terms: Vec<BTreeMap<&str, BTreeSet<&str>>> = Vec::new();
    for (i, term) in terms.iter().enumerate() {
        let exprs = path.index(i).child("matchLabelExpressions");
        let mut term_map: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (j, req) in term.match_label_expressions.iter().enumerate() {
            let rp = exprs.index(j);
            let values = rp.child("values");
            if req.values.is_empty() {
                errs.push(FieldError::required(&values, ""));
            }
            let mut set = BTreeSet::new();
            for (k, v) in req.values.iter().enumerate() {
                if !set.insert(v.as_str()) {
                    errs.push(FieldError::duplicate(&values.index(k), v));
                }
            }
            for msg in qualified_name_errors(&req.key) {
                errs.push(FieldError::invalid(&rp.child("key"), &req.key, msg));
            }
            if term_map.insert(&req.key, set).is_some() {
                errs.push(FieldError::duplicate(&rp.child("key"), &req.key));
            }
        }
        if seen_terms.contains(&term_map) {
            errs.push(FieldError::duplicate(&exprs, ""));
        }
        seen_terms.push(term_map);
    }
}

impl Validate for StorageClass {
    fn validate(&self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta(&self.metadata, false, NameRule::Subdomain, &mut errs);
        validate_storage_class(self, &mut errs);
        errs
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, false, NameRule::Subdomain, &mut errs);
        validate_storage_class(self, &mut errs);
        if self.parameters != old.parameters {
            errs.push(FieldError::forbidden(&Path::new("parameters"), "updates to parameters are forbidden."));
        }
        if self.provisioner != old.provisioner {
            errs.push(FieldError::forbidden(&Path::new("provisioner"), "updates to provisioner are forbidden."));
        }
        if self.reclaim_policy != old.reclaim_policy {
            errs.push(FieldError::forbidden(&Path::new("reclaimPolicy"), "updates to reclaimPolicy are forbidden."));
        }
        validate_immutable(
            &self.volume_binding_mode,
            &old.volume_binding_mode,
            &Path::new("volumeBindingMode"),
            &mut errs,
        );
        errs
    }
}

/// The CSI drivers installed on a node (cluster-scoped, named after the node).
#[wire]
pub struct CSINode {
    /// APIVersion of the object (`storage.k8s.io/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`CSINode`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata; the name is the node's.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// The drivers on the node.
    #[wire(omitempty)]
    pub spec: CSINodeSpec,
}

crate::impl_resource!(CSINode {
    group: "storage.k8s.io",
    version: "v1",
    kind: "CSINode",
    plural: "csinodes",
    singular: "csinode",
    short_names: [],
    categories: [],
    namespaced: false,
    verbs: crate::resource::ALL_VERBS,
    subresources: [],
    selectable_fields: []
});

/// A list of CSINodes.
pub type CSINodeList = crate::meta::ObjectList<CSINode>;

/// The CSI drivers of a node.
#[wire]
pub struct CSINodeSpec {
    /// The drivers registered on the node (one entry per driver name).
    #[wire(always)]
    pub drivers: Vec<CSINodeDriver>,
}

/// One CSI driver on a node.
#[wire(eq)]
pub struct CSINodeDriver {
    /// The driver's name, such as `ebs.csi.aws.com`.
    pub name: String,
    /// The node's ID as the driver knows it.
    #[serde(rename = "nodeID")]
    pub node_id: String,
    /// Node label keys the driver reports topology with.
    pub topology_keys: Vec<String>,
    /// How many of the driver's volumes the node can take.
    pub allocatable: Option<VolumeNodeResources>,
}

/// Volume limits of a driver on a node.
#[wire(eq)]
pub struct VolumeNodeResources {
    /// The most unique volumes of the driver the node can use (unset: no limit).
    pub count: Option<i32>,
}

/// Longest CSI driver name.
const CSI_DRIVER_NAME_MAX: usize = 63;
/// Longest node ID a driver may report.
const CSI_NODE_ID_MAX: usize = 192;

fn validate_csi_node_spec(spec: &CSINodeSpec, errs: &mut ErrorList) {
    let drivers = Path::new("spec").child("drivers");
    let mut names = BTreeSet::new();
    for (i, driver) in spec.drivers.iter().enumerate() {
        let path = drivers.index(i);
        let name = path.child("name");
        if driver.name.is_empty() {
            errs.push(FieldError::required(&name, ""));
        } else if driver.name.len() > CSI_DRIVER_NAME_MAX {
            errs.push(FieldError::too_long(&name, CSI_DRIVER_NAME_MAX));
        } else if !is_dns1123_subdomain(&driver.name.to_lowercase()) {
            errs.push(FieldError::invalid(&name, &driver.name, "a CSI driver name must be a DNS-1123 subdomain"));
        }
        if !names.insert(driver.name.as_str()) {
            errs.push(FieldError::duplicate(&name, &driver.name));
        }
        let node_id = path.child("nodeID");
        if driver.node_id.is_empty() {
            errs.push(FieldError::required(&node_id, ""));
        } else if driver.node_id.len() > CSI_NODE_ID_MAX {
            errs.push(FieldError::too_long(&node_id, CSI_NODE_ID_MAX));
        }
        let keys = path.child("topologyKeys");
        let mut seen = BTreeSet::new();
        for (j, key) in driver.topology_keys.iter().enumerate() {
            for msg in qualified_name_errors(key) {
                errs.push(FieldError::invalid(&keys.index(j), key, msg));
            }
            if !seen.insert(key.as_str()) {
                errs.push(FieldError::duplicate(&keys.index(j), key));
            }
        }
        if let Some(count) = driver.allocatable.as_ref().and_then(|a| a.count) {
            crate::apps::v1::common::validate_nonnegative(
                i64::from(count),
                &path.child("allocatable").child("count"),
                errs,
            );
        }
    }
}

impl ApplyDefaults for CSINode {
    fn apply_defaults(&mut self) {}
}

impl Validate for CSINode {
    fn validate(&self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta(&self.metadata, false, NameRule::Subdomain, &mut errs);
        validate_csi_node_spec(&self.spec, &mut errs);
        errs
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, false, NameRule::Subdomain, &mut errs);
        validate_csi_node_spec(&self.spec, &mut errs);
        // Drivers may come and go, but a driver's node ID and topology keys stay.
        for (i, driver) in self.spec.drivers.iter().enumerate() {
            let Some(before) = old.spec.drivers.iter().find(|d| d.name == driver.name) else { continue };
            let path = Path::new("spec").child("drivers").index(i);
            validate_immutable(&driver.node_id, &before.node_id, &path.child("nodeID"), &mut errs);
            validate_immutable(&driver.topology_keys, &before.topology_keys, &path.child("topologyKeys"), &mut errs);
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn causes(errs: &ErrorList) -> Vec<(String, &'static str)> {
        errs.iter().map(|e| (e.field.clone(), e.type_.cause())).collect()
    }

    fn expect(pairs: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
        pairs.iter().map(|(f, c)| ((*f).to_owned(), *c)).collect()
    }

    fn fast() -> serde_json::Value {
        json!({
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "fast", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "ebs.csi.aws.com",
            "parameters": {"type": "gp3", "iops": "6000", "csi.storage.k8s.io/fstype": "xfs"},
            "reclaimPolicy": "Retain",
            "mountOptions": ["noatime"],
            "allowVolumeExpansion": true,
            "volumeBindingMode": "WaitForFirstConsumer",
            "allowedTopologies": [{"matchLabelExpressions": [{"key": "topology.ebs.csi.aws.com/zone", "values": ["eu-west-1a", "eu-west-1b"]}]}]
        })
    }

    #[test]
    fn round_trip() {
        let sc: StorageClass = serde_json::from_value(fast()).unwrap();
        assert_eq!(serde_json::to_value(&sc).unwrap(), fast());
        assert!(sc.validate().is_empty(), "{:?}", sc.validate());
    }

    #[test]
    fn defaults() {
        let mut sc: StorageClass = serde_json::from_value(
            json!({"metadata": {"name": "standard"}, "provisioner": "kubernetes.io/no-provisioner"}),
        )
        .unwrap();
        assert_eq!(causes(&sc.validate()), expect(&[("volumeBindingMode", "FieldValueRequired")]));
        sc.apply_defaults();
        assert_eq!(sc.reclaim_policy.as_deref(), Some("Delete"));
        assert_eq!(sc.volume_binding_mode.as_deref(), Some("Immediate"));
        assert!(sc.validate().is_empty());
        let mut kept: StorageClass = serde_json::from_value(fast()).unwrap();
        kept.apply_defaults();
        assert_eq!(serde_json::to_value(&kept).unwrap(), fast());
    }

    #[test]
    fn validation() {
        type Case = (&'static str, Box<dyn Fn(&mut StorageClass)>, Vec<(String, &'static str)>);
        let cases: Vec<Case> = vec![
            ("no provisioner", Box::new(|s| s.provisioner.clear()), expect(&[("provisioner", "FieldValueRequired")])),
            (
                "bad provisioner",
                Box::new(|s| s.provisioner = "ebs csi".into()),
                expect(&[("provisioner", "FieldValueInvalid")]),
            ),
            (
                "reclaim policy",
                Box::new(|s| s.reclaim_policy = Some("Recycle".into())),
                expect(&[("reclaimPolicy", "FieldValueNotSupported")]),
            ),
            (
                "binding mode",
                Box::new(|s| s.volume_binding_mode = Some("Later".into())),
                expect(&[("volumeBindingMode", "FieldValueNotSupported")]),
            ),
            (
                "empty parameter key",
                Box::new(|s| {
                    s.parameters.insert(String::new(), "x".into());
                }),
                expect(&[("parameters", "FieldValueInvalid")]),
            ),
            (
                "topology",
                Box::new(|s| {
                    let term = s.allowed_topologies[0].clone();
                    s.allowed_topologies.push(term);
                    s.allowed_topologies[0].match_label_expressions[0].values.push("eu-west-1a".into());
                    s.allowed_topologies[0].match_label_expressions.push(TopologySelectorLabelRequirement {
                        key: "topology.ebs.csi.aws.com/zone".into(),
                        values: vec![],
                    });
                }),
                expect(&[
                    ("allowedTopologies[0].matchLabelExpressions[0].values[2]", "FieldValueDuplicate"),
                    ("allowedTopologies[0].matchLabelExpressions[1].values", "FieldValueRequired"),
                    ("allowedTopologies[0].matchLabelExpressions[1].key", "FieldValueDuplicate"),
                ]),
            ),
            (
                "duplicate term",
                Box::new(|s| {
                    let term = s.allowed_topologies[0].clone();
                    s.allowed_topologies.push(term);
                }),
                expect(&[("allowedTopologies[1].matchLabelExpressions", "FieldValueDuplicate")]),
            ),
        ];
        for (name, mutate, want) in cases {
            let mut sc: StorageClass = serde_json::from_value(fast()).unwrap();
            mutate(&mut sc);
            assert_eq!(causes(&sc.validate()), want, "{name}");
        }
    }

    #[test]
    fn immutable_fields() {
        let old: StorageClass = serde_json::from_value(fast()).unwrap();
        let mut new = old.clone();
        new.mount_options.push("discard".into());
        new.allow_volume_expansion = Some(false);
        assert!(new.validate_update(&old).is_empty());
        new.provisioner = "pd.csi.storage.gke.io".into();
        new.parameters.insert("type".into(), "pd-ssd".into());
        new.reclaim_policy = Some("Delete".into());
        new.volume_binding_mode = Some("Immediate".into());
        assert_eq!(
            causes(&new.validate_update(&old)),
            expect(&[
                ("parameters", "FieldValueForbidden"),
                ("provisioner", "FieldValueForbidden"),
                ("reclaimPolicy", "FieldValueForbidden"),
                ("volumeBindingMode", "FieldValueInvalid"),
            ])
        );
    }
    fn csi_node() -> serde_json::Value {
        json!({
            "apiVersion": "storage.k8s.io/v1",
            "kind": "CSINode",
            "metadata": {"name": "node-1"},
            "spec": {"drivers": [
                {"name": "ebs.csi.aws.com", "nodeID": "i-0123", "topologyKeys": ["topology.ebs.csi.aws.com/zone"],
                 "allocatable": {"count": 25}},
                {"name": "hostpath.csi.k8s.io", "nodeID": "node-1"}
            ]}
        })
    }

    #[test]
    fn csi_node_round_trip_and_validation() {
        let node: CSINode = serde_json::from_value(csi_node()).unwrap();
        assert_eq!(serde_json::to_value(&node).unwrap(), csi_node());
        assert_eq!(node.spec.drivers[0].allocatable.as_ref().and_then(|a| a.count), Some(25));
        assert!(node.validate().is_empty(), "{:?}", node.validate());
        let mut bad = node.clone();
        bad.spec.drivers[1].name = "ebs.csi.aws.com".into();
        bad.spec.drivers[1].node_id.clear();
        bad.spec.drivers[0].topology_keys.push("topology.ebs.csi.aws.com/zone".into());
        bad.spec.drivers[0].allocatable = Some(VolumeNodeResources { count: Some(-1) });
        assert_eq!(
            causes(&bad.validate()),
            expect(&[
                ("spec.drivers[0].topologyKeys[1]", "FieldValueDuplicate"),
                ("spec.drivers[0].allocatable.count", "FieldValueInvalid"),
                ("spec.drivers[1].name", "FieldValueDuplicate"),
                ("spec.drivers[1].nodeID", "FieldValueRequired"),
            ])
        );
        let mut moved = node.clone();
        moved.spec.drivers[0].node_id = "i-9999".into();
        moved.spec.drivers.pop();
        assert_eq!(causes(&moved.validate_update(&node)), expect(&[("spec.drivers[0].nodeID", "FieldValueInvalid")]));
    }
}
