//! The bootstrap RBAC policy: the ClusterRoles and ClusterRoleBindings a
//! cluster starts with, as kube-apiserver creates them.
//!
//! - `cluster-admin` (everything), bound to the group `system:masters`;
//! - the user-facing roles `admin`, `edit` and `view`, aggregated as in
//!   Kubernetes (`view` ⊂ `edit` ⊂ `admin` through the
//!   `rbac.authorization.k8s.io/aggregate-to-*` labels, with the
//!   `system:aggregate-to-*` roles holding the rules). Their `rules` are
//!   written already aggregated;
//! - `system:discovery`, `system:basic-user` (self reviews) and
//!   `system:public-info-viewer`, bound to every authenticated user (and the
//!   last also to unauthenticated ones), and `system:monitoring`;
//! - the components' roles: `system:kube-scheduler`,
//!   `system:kube-controller-manager`, `system:node`, `system:node-proxier`
//!   and `system:auth-delegator`, bound to the users the components run as
//!   (`system:node` to the group `system:nodes`, since k has no Node
//!   authorizer).
//!
//! [`ensure`] creates whichever of these is missing; existing objects are
//! left as the cluster's administrators made them.

use k_api_types::meta::ObjectMeta;
use k_api_types::rbac::v1::{AggregationRule, ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k_api_types::{DynamicObject, GroupVersionResource, Resource};
use k_store::ObjectApi;
use k_store::StoreError;

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
    PolicyRule {
        verbs: strings(verbs),
        api_groups: strings(groups),
        resources: strings(resources),
        resource_names: Vec::new(),
        non_resource_urls: Vec::new(),
    }
}

fn paths(verbs: &[&str], urls: &[&str]) -> PolicyRule {
    PolicyRule { verbs: strings(verbs), non_resource_urls: strings(urls), ..PolicyRule::default() }
}

fn meta(name: &str, labels: &[(&str, &str)]) -> ObjectMeta {
    let mut meta = ObjectMeta { name: name.to_owned(), ..ObjectMeta::default() };
    meta.labels.insert("kubernetes.io/bootstrapping".to_owned(), "rbac-defaults".to_owned());
    for (k, v) in labels {
        meta.labels.insert((*k).to_owned(), (*v).to_owned());
    }
    meta.annotations.insert("rbac.authorization.kubernetes.io/autoupdate".to_owned(), "true".to_owned());
    meta
}

fn role(name: &str, labels: &[(&str, &str)], rules: Vec<PolicyRule>) -> ClusterRole {
    ClusterRole {
        api_version: ClusterRole::INFO.api_version.to_owned(),
        kind: ClusterRole::INFO.kind.to_owned(),
        metadata: meta(name, labels),
        rules,
        aggregation_rule: None,
    }
}

fn aggregated(name: &str, labels: &[(&str, &str)], selects: &str) -> ClusterRole {
    let mut role = role(name, labels, Vec::new());
    role.aggregation_rule = Some(AggregationRule {
        cluster_role_selectors: vec![k_api_types::meta::LabelSelector::from_labels([(
            format!("rbac.authorization.k8s.io/aggregate-to-{selects}"),
            "true",
        )])],
    });
    role
}

const TO_VIEW: (&str, &str) = ("rbac.authorization.k8s.io/aggregate-to-view", "true");
const TO_EDIT: (&str, &str) = ("rbac.authorization.k8s.io/aggregate-to-edit", "true");
const TO_ADMIN: (&str, &str) = ("rbac.authorization.k8s.io/aggregate-to-admin", "true");

/// The bootstrap ClusterRoles, with aggregated roles' rules filled in.
pub fn cluster_roles() -> Vec<ClusterRole> {
    let mut roles = vec![
        role("cluster-admin", &[], vec![rule(&["*"], &["*"], &["*"]), paths(&["*"], &["*"])]),
        role(
            "system:discovery",
            &[],
            vec![paths(
                &["get"],
                &[
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                    "/healthz",
                    "/livez",
                    "/openapi",
                    "/openapi/*",
                    "/readyz",
                    "/version",
                    "/version/",
                ],
            )],
        ),
        role(
            "system:public-info-viewer",
            &[],
            vec![paths(&["get"], &["/healthz", "/livez", "/readyz", "/version", "/version/"])],
        ),
        role(
            "system:basic-user",
            &[],
            vec![
                rule(&["create"], &["authentication.k8s.io"], &["selfsubjectreviews"]),
                rule(&["create"], &["authorization.k8s.io"], &["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
            ],
        ),
        role(
            "system:monitoring",
            &[],
            vec![paths(
                &["get"],
                &["/healthz", "/healthz/*", "/livez", "/livez/*", "/metrics", "/metrics/slis", "/readyz", "/readyz/*"],
            )],
        ),
        role(
            "system:auth-delegator",
            &[],
            vec![
                rule(&["create"], &["authentication.k8s.io"], &["tokenreviews"]),
                rule(&["create"], &["authorization.k8s.io"], &["subjectaccessreviews"]),
            ],
        ),
        aggregated("admin", &[], "admin"),
        aggregated("edit", &[TO_ADMIN], "edit"),
        aggregated("view", &[TO_EDIT], "view"),
        role(
            "system:aggregate-to-view",
            &[TO_VIEW],
            vec![
                rule(
                    READ,
                    &[""],
                    &[
                        "bindings",
                        "configmaps",
                        "endpoints",
                        "events",
                        "limitranges",
                        "namespaces",
                        "namespaces/status",
                        "persistentvolumeclaims",
                        "persistentvolumeclaims/status",
                        "pods",
                        "pods/log",
                        "pods/status",
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "replicationcontrollers/status",
                        "resourcequotas",
                        "resourcequotas/status",
                        "serviceaccounts",
                        "services",
                        "services/status",
                    ],
                ),
                rule(
                    READ,
                    &["apps"],
                    &[
                        "controllerrevisions",
                        "daemonsets",
                        "daemonsets/status",
                        "deployments",
                        "deployments/scale",
                        "deployments/status",
                        "replicasets",
                        "replicasets/scale",
                        "replicasets/status",
                        "statefulsets",
                        "statefulsets/scale",
                        "statefulsets/status",
                    ],
                ),
                rule(READ, &["autoscaling"], &["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
                rule(READ, &["batch"], &["cronjobs", "cronjobs/status", "jobs", "jobs/status"]),
                rule(READ, &["policy"], &["poddisruptionbudgets", "poddisruptionbudgets/status"]),
                rule(READ, &["networking.k8s.io"], &["ingresses", "ingresses/status", "networkpolicies"]),
                rule(READ, &["discovery.k8s.io"], &["endpointslices"]),
                rule(READ, &["events.k8s.io"], &["events"]),
            ],
        ),
        role(
            "system:aggregate-to-edit",
            &[TO_EDIT],
            vec![
                rule(&["impersonate"], &[""], &["serviceaccounts"]),
                rule(WRITE, &[""], &["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"]),
                rule(&["create"], &[""], &["pods/eviction", "serviceaccounts/token"]),
                rule(
                    WRITE,
                    &[""],
                    &[
                        "configmaps",
                        "endpoints",
                        "events",
                        "persistentvolumeclaims",
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "secrets",
                        "serviceaccounts",
                        "services",
                        "services/proxy",
                    ],
                ),
                rule(
                    READ,
                    &[""],
                    &["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"],
                ),
                rule(
                    WRITE,
                    &["apps"],
                    &[
                        "daemonsets",
                        "deployments",
                        "deployments/rollback",
                        "deployments/scale",
                        "replicasets",
                        "replicasets/scale",
                        "statefulsets",
                        "statefulsets/scale",
                    ],
                ),
                rule(WRITE, &["autoscaling"], &["horizontalpodautoscalers"]),
                rule(WRITE, &["batch"], &["cronjobs", "jobs"]),
                rule(WRITE, &["policy"], &["poddisruptionbudgets"]),
                rule(WRITE, &["networking.k8s.io"], &["ingresses", "networkpolicies"]),
                rule(WRITE, &["discovery.k8s.io"], &["endpointslices"]),
            ],
        ),
        role(
            "system:aggregate-to-admin",
            &[TO_ADMIN],
            vec![
                rule(&["create"], &["authorization.k8s.io"], &["localsubjectaccessreviews"]),
                rule(
                    &["get", "list", "watch", "create", "delete", "deletecollection", "patch", "update"],
                    &[RBAC_GROUP],
                    &["rolebindings", "roles"],
                ),
            ],
        ),
        role(
            "system:kube-scheduler",
            &[],
            vec![
                rule(&["create", "patch", "update"], &["", "events.k8s.io"], &["events"]),
                rule(&["create", "get", "update"], &["coordination.k8s.io"], &["leases"]),
                rule(&["create"], &[""], &["bindings", "pods/binding"]),
                rule(&["delete", "get", "list", "watch"], &[""], &["pods"]),
                rule(&["patch", "update"], &[""], &["pods/status"]),
                rule(
                    READ,
                    &[""],
                    &[
                        "namespaces",
                        "nodes",
                        "persistentvolumeclaims",
                        "persistentvolumes",
                        "replicationcontrollers",
                        "services",
                    ],
                ),
                rule(READ, &["apps"], &["replicasets", "statefulsets"]),
                rule(READ, &["policy"], &["poddisruptionbudgets"]),
                rule(
                    READ,
                    &["storage.k8s.io"],
                    &["csidrivers", "csinodes", "csistoragecapacities", "storageclasses", "volumeattachments"],
                ),
                rule(READ, &["scheduling.k8s.io"], &["priorityclasses"]),
                rule(&["create"], &["authentication.k8s.io"], &["tokenreviews"]),
                rule(&["create"], &["authorization.k8s.io"], &["subjectaccessreviews"]),
            ],
        ),
        role(
            "system:kube-controller-manager",
            &[],
            vec![
                rule(
                    &["*"],
                    &[
                        "",
                        "apps",
                        "autoscaling",
                        "batch",
                        "coordination.k8s.io",
                        "discovery.k8s.io",
                        "events.k8s.io",
                        "networking.k8s.io",
                        "policy",
                        "scheduling.k8s.io",
                        "storage.k8s.io",
                    ],
                    &["*"],
                ),
                rule(READ, &[RBAC_GROUP], &["*"]),
                rule(&["create"], &["authentication.k8s.io"], &["tokenreviews"]),
                rule(&["create"], &["authorization.k8s.io"], &["subjectaccessreviews"]),
            ],
        ),
        role(
            "system:node",
            &[],
            vec![
                rule(&["create", "get", "list", "watch", "patch", "update", "delete"], &[""], &["nodes"]),
                rule(&["patch", "update"], &[""], &["nodes/status", "pods/status"]),
                rule(&["create", "delete", "get", "list", "watch"], &[""], &["pods"]),
                rule(&["create"], &[""], &["pods/eviction", "serviceaccounts/token"]),
                rule(&["create", "patch", "update"], &["", "events.k8s.io"], &["events"]),
                rule(
                    READ,
                    &[""],
                    &["configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumes", "secrets", "services"],
                ),
                rule(&["create", "delete", "get", "patch", "update"], &["coordination.k8s.io"], &["leases"]),
                rule(READ, &["storage.k8s.io"], &["csidrivers", "csinodes", "volumeattachments"]),
                rule(READ, &["node.k8s.io"], &["runtimeclasses"]),
                rule(&["create"], &["authentication.k8s.io"], &["tokenreviews"]),
                rule(&["create"], &["authorization.k8s.io"], &["localsubjectaccessreviews", "subjectaccessreviews"]),
            ],
        ),
        role(
            "system:node-proxier",
            &[],
            vec![
                rule(&["list", "watch"], &[""], &["endpoints", "services"]),
                rule(&["get", "list", "watch"], &[""], &["nodes"]),
                rule(&["list", "watch"], &["discovery.k8s.io"], &["endpointslices"]),
                rule(&["create", "patch", "update"], &["", "events.k8s.io"], &["events"]),
            ],
        ),
    ];
    // Write aggregated roles with their rules, as the aggregation
    // controller would.
    let snapshot: std::collections::HashMap<String, ClusterRole> =
        roles.iter().map(|r| (r.metadata.name.clone(), r.clone())).collect();
    for role in &mut roles {
        if role.aggregation_rule.is_some() {
            role.rules = super::cache::aggregate_rules(&role.metadata.name, &snapshot);
        }
    }
    roles
}

fn subject(kind: &str, name: &str) -> Subject {
    Subject { kind: kind.to_owned(), api_group: RBAC_GROUP.to_owned(), name: name.to_owned(), namespace: String::new() }
}

fn binding(role: &str, subjects: Vec<Subject>) -> ClusterRoleBinding {
    ClusterRoleBinding {
        api_version: ClusterRoleBinding::INFO.api_version.to_owned(),
        kind: ClusterRoleBinding::INFO.kind.to_owned(),
        metadata: meta(role, &[]),
        subjects,
        role_ref: RoleRef { api_group: RBAC_GROUP.to_owned(), kind: "ClusterRole".to_owned(), name: role.to_owned() },
    }
}

/// The bootstrap ClusterRoleBindings (each named after its role).
pub fn cluster_role_bindings() -> Vec<ClusterRoleBinding> {
    vec![
        binding("cluster-admin", vec![subject("Group", "system:masters")]),
        binding("system:discovery", vec![subject("Group", "system:authenticated")]),
        binding("system:basic-user", vec![subject("Group", "system:authenticated")]),
        binding(
            "system:public-info-viewer",
            vec![subject("Group", "system:authenticated"), subject("Group", "system:unauthenticated")],
        ),
        binding("system:monitoring", vec![subject("Group", "system:monitoring")]),
        binding("system:kube-scheduler", vec![subject("User", "system:kube-scheduler")]),
        binding("system:kube-controller-manager", vec![subject("User", "system:kube-controller-manager")]),
        binding("system:node", vec![subject("Group", "system:nodes")]),
        binding("system:node-proxier", vec![subject("User", "system:kube-proxy")]),
    ]
}

/// Creates whichever bootstrap ClusterRoles and ClusterRoleBindings are
/// missing from `api`; returns how many it created.
pub async fn ensure(api: &dyn ObjectApi) -> Result<usize, StoreError> {
    let user = super::apiserver_user();
    let mut objects = Vec::new();
    for role in cluster_roles() {
        objects
            .push(("clusterroles", DynamicObject::from_typed(&role).map_err(|e| StoreError::Internal(e.to_string()))?));
    }
    for binding in cluster_role_bindings() {
        objects.push((
            "clusterrolebindings",
            DynamicObject::from_typed(&binding).map_err(|e| StoreError::Internal(e.to_string()))?,
        ));
    }
    let mut created = 0;
    for (resource, object) in objects {
        let gvr = GroupVersionResource::new(RBAC_GROUP, "v1", resource);
        match api.get(&gvr, "", &object.metadata.name).await {
            Ok(_) => continue,
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        match api.create(&gvr, "", object, &user).await {
            Ok(_) => created += 1,
            Err(e) if e.is_already_exists() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(created)
}
