//! `storage.k8s.io/v1`: storage classes, CSI drivers and nodes, volume
//! attachments.

use serde_json::Value;

use super::duration::age;
use super::json::{annotation, bool_at, has, len_at, list_at, name, opt_bool, opt_str, str_at};
use super::{AGE, Column, NAME, Printer, cells};

/// Whether a storage class is marked as the default one.
fn is_default_class(obj: &Value) -> bool {
    annotation(obj, "storageclass.kubernetes.io/is-default-class") == Some("true")
        || annotation(obj, "storageclass.beta.kubernetes.io/is-default-class") == Some("true")
}

pub(crate) const STORAGE_CLASS: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Provisioner", "string", "Volume plugin provisioning the volumes."),
        Column::new("ReclaimPolicy", "string", "Reclaim policy of provisioned volumes."),
        Column::new("VolumeBindingMode", "string", "When volumes are bound and provisioned."),
        Column::new("AllowVolumeExpansion", "string", "Whether volumes can be expanded."),
        AGE,
    ],
    row: |obj, now| {
        let mut display = name(obj).to_owned();
        if is_default_class(obj) {
            display.push_str(" (default)");
        }
        cells![
            display,
            str_at(obj, &["provisioner"]),
            opt_str(obj, &["reclaimPolicy"]).unwrap_or("Delete"),
            opt_str(obj, &["volumeBindingMode"]).unwrap_or("Immediate"),
            bool_at(obj, &["allowVolumeExpansion"]),
            age(obj, now),
        ]
        .into()
    },
};

pub(crate) const CSI_DRIVER: Printer = Printer {
    columns: &[
        NAME,
        Column::new("AttachRequired", "boolean", "Whether volumes need an attach step."),
        Column::new("PodInfoOnMount", "boolean", "Whether pod information is passed on mount."),
        Column::new("StorageCapacity", "boolean", "Whether storage capacity is tracked."),
        Column::new("TokenRequests", "string", "Audiences of the service account tokens passed."),
        Column::new("RequiresRepublish", "boolean", "Whether volumes are periodically republished."),
        Column::new("Modes", "string", "Volume lifecycle modes supported."),
        AGE,
    ],
    row: |obj, now| {
        let modes: Vec<&str> =
            list_at(obj, &["spec", "volumeLifecycleModes"]).iter().filter_map(Value::as_str).collect();
        let modes = if modes.is_empty() { "<none>".to_owned() } else { modes.join(",") };
        let tokens = if has(obj, &["spec", "tokenRequests"]) {
            list_at(obj, &["spec", "tokenRequests"])
                .iter()
                .map(|t| str_at(t, &["audience"]))
                .collect::<Vec<_>>()
                .join(",")
        } else {
            "<unset>".to_owned()
        };
        cells![
            name(obj),
            opt_bool(obj, &["spec", "attachRequired"]).unwrap_or(true),
            bool_at(obj, &["spec", "podInfoOnMount"]),
            bool_at(obj, &["spec", "storageCapacity"]),
            tokens,
            bool_at(obj, &["spec", "requiresRepublish"]),
            modes,
            age(obj, now),
        ]
        .into()
    },
};

pub(crate) const CSI_NODE: Printer = Printer {
    columns: &[NAME, Column::new("Drivers", "integer", "Number of CSI drivers registered on the node."), AGE],
    row: |obj, now| cells![name(obj), len_at(obj, &["spec", "drivers"]) as i64, age(obj, now)].into(),
};

pub(crate) const VOLUME_ATTACHMENT: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Attacher", "string", "Driver handling the attachment.").with_format("name"),
        Column::new("PV", "string", "Persistent volume being attached."),
        Column::new("Node", "string", "Node the volume is attached to."),
        Column::new("Attached", "boolean", "Whether the volume is attached."),
        AGE,
    ],
    row: |obj, now| {
        cells![
            name(obj),
            str_at(obj, &["spec", "attacher"]),
            str_at(obj, &["spec", "source", "persistentVolumeName"]),
            str_at(obj, &["spec", "nodeName"]),
            bool_at(obj, &["status", "attached"]),
            age(obj, now),
        ]
        .into()
    },
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::json::parse_time;
    use chrono::{DateTime, Utc};
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        parse_time("2024-06-01T12:00:00Z").unwrap()
    }

    #[test]
    fn storage_class() {
        let sc = json!({
            "metadata": {"name": "standard", "creationTimestamp": "2024-05-01T12:00:00Z",
                         "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "rancher.io/local-path", "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer"
        });
        assert_eq!(
            (STORAGE_CLASS.row)(&sc, now()).cells,
            vec![
                json!("standard (default)"),
                json!("rancher.io/local-path"),
                json!("Delete"),
                json!("WaitForFirstConsumer"),
                json!(false),
                json!("31d")
            ]
        );
        let sc = json!({"metadata": {"name": "fast"}, "provisioner": "ebs.csi.aws.com", "reclaimPolicy": "Retain",
                        "allowVolumeExpansion": true});
        let cells = (STORAGE_CLASS.row)(&sc, now()).cells;
        assert_eq!(
            cells[..5],
            [json!("fast"), json!("ebs.csi.aws.com"), json!("Retain"), json!("Immediate"), json!(true)]
        );
    }

    #[test]
    fn csi_driver_node_and_attachment() {
        let drv = json!({"metadata": {"name": "ebs.csi.aws.com"}, "spec": {"attachRequired": true,
            "tokenRequests": [{"audience": "sts.amazonaws.com"}], "volumeLifecycleModes": ["Persistent", "Ephemeral"]}});
        assert_eq!(
            (CSI_DRIVER.row)(&drv, now()).cells,
            vec![
                json!("ebs.csi.aws.com"),
                json!(true),
                json!(false),
                json!(false),
                json!("sts.amazonaws.com"),
                json!(false),
                json!("Persistent,Ephemeral"),
                json!("<unknown>")
            ]
        );
        let bare = json!({"metadata": {"name": "x"}, "spec": {"attachRequired": false}});
        let cells = (CSI_DRIVER.row)(&bare, now()).cells;
        assert_eq!(
            (cells[1].clone(), cells[4].clone(), cells[6].clone()),
            (json!(false), json!("<unset>"), json!("<none>"))
        );

        let node = json!({"metadata": {"name": "node-1"}, "spec": {"drivers": [{"name": "a"}, {"name": "b"}]}});
        assert_eq!((CSI_NODE.row)(&node, now()).cells[1], json!(2));

        let va = json!({"metadata": {"name": "csi-123"}, "spec": {"attacher": "ebs.csi.aws.com", "nodeName": "node-1",
            "source": {"persistentVolumeName": "pvc-9"}}, "status": {"attached": true}});
        assert_eq!(
            (VOLUME_ATTACHMENT.row)(&va, now()).cells[..5],
            [json!("csi-123"), json!("ebs.csi.aws.com"), json!("pvc-9"), json!("node-1"), json!(true)]
        );
    }
}
