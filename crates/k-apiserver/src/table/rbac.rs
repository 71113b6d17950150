//! `rbac.authorization.k8s.io/v1`: role bindings and cluster role bindings.
//! Roles and cluster roles have no printer (they get `Name` / `Created At`).

use serde_json::Value;

use super::duration::age;
use super::json::{list_at, name, str_at};
use super::{AGE, Column, NAME, Printer, Row, cells};

pub(crate) const ROLE_BINDING: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Role", "string", "The bound role, as Kind/name."),
        AGE,
        Column::new("Users", "string", "Users bound.").wide(),
        Column::new("Groups", "string", "Groups bound.").wide(),
        Column::new("ServiceAccounts", "string", "Service accounts bound, as namespace/name.").wide(),
    ],
    row: binding_row,
};

pub(crate) const CLUSTER_ROLE_BINDING: Printer = ROLE_BINDING;

fn binding_row(obj: &Value, now: chrono::DateTime<chrono::Utc>) -> Row {
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut accounts = Vec::new();
    for subject in list_at(obj, &["subjects"]) {
        let subject_name = str_at(subject, &["name"]);
        match str_at(subject, &["kind"]) {
            "User" => users.push(subject_name.to_owned()),
            "Group" => groups.push(subject_name.to_owned()),
            "ServiceAccount" => accounts.push(format!("{}/{subject_name}", str_at(subject, &["namespace"]))),
            _ => {}
        }
    }
    let role = format!("{}/{}", str_at(obj, &["roleRef", "kind"]), str_at(obj, &["roleRef", "name"]));
    cells![name(obj), role, age(obj, now), users.join(", "), groups.join(", "), accounts.join(", ")].into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::json::parse_time;
    use serde_json::json;

    #[test]
    fn role_binding() {
        let now = parse_time("2024-06-01T12:00:00Z").unwrap();
        let rb = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "dev-edit", "namespace": "dev", "creationTimestamp": "2024-06-01T10:00:00Z"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
            "subjects": [
                {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice@example.com"},
                {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "bob"},
                {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"},
                {"kind": "ServiceAccount", "name": "ci", "namespace": "tools"}
            ]
        });
        let cells = (ROLE_BINDING.row)(&rb, now).cells;
        assert_eq!(
            cells,
            vec![
                json!("dev-edit"),
                json!("ClusterRole/edit"),
                json!("120m"),
                json!("alice@example.com, bob"),
                json!("devs"),
                json!("tools/ci")
            ]
        );
        let crb = json!({"metadata": {"name": "admin"}, "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"}});
        let cells = (CLUSTER_ROLE_BINDING.row)(&crb, now).cells;
        assert_eq!(
            cells,
            vec![
                json!("admin"),
                json!("ClusterRole/cluster-admin"),
                json!("<unknown>"),
                json!(""),
                json!(""),
                json!("")
            ]
        );
    }
}
