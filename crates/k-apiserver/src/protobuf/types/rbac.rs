//! Messages of `rbac.authorization.k8s.io/v1`.

use super::meta::{LABEL_SELECTOR, OBJECT_META};

msg!(POLICY_RULE, "PolicyRule" {
    1 "verbs" Str Lr,
    2 "apiGroups" Str L,
    3 "resources" Str L,
    4 "resourceNames" Str L,
    5 "nonResourceURLs" Str L,
});

msg!(SUBJECT, "Subject" {
    1 "kind" Str R,
    2 "apiGroup" Str O,
    3 "name" Str R,
    4 "namespace" Str O,
});

msg!(ROLE_REF, "RoleRef" {
    1 "apiGroup" Str R,
    2 "kind" Str R,
    3 "name" Str R,
});

msg!(ROLE, "Role" {
    1 "metadata" (M OBJECT_META) O,
    2 "rules" (M POLICY_RULE) Lr,
});

msg!(ROLE_BINDING, "RoleBinding" {
    1 "metadata" (M OBJECT_META) O,
    2 "subjects" (M SUBJECT) L,
    3 "roleRef" (M ROLE_REF) R,
});

msg!(CLUSTER_ROLE, "ClusterRole" {
    1 "metadata" (M OBJECT_META) O,
    2 "rules" (M POLICY_RULE) Lr,
    3 "aggregationRule" (M AGGREGATION_RULE) P,
});

msg!(AGGREGATION_RULE, "AggregationRule" {
    1 "clusterRoleSelectors" (M LABEL_SELECTOR) L,
});

msg!(CLUSTER_ROLE_BINDING, "ClusterRoleBinding" {
    1 "metadata" (M OBJECT_META) O,
    2 "subjects" (M SUBJECT) L,
    3 "roleRef" (M ROLE_REF) R,
});
