//! Messages of `authorization.k8s.io/v1` (the review kinds `kubectl auth can-i` sends).

use super::meta::{LABEL_SELECTOR_REQUIREMENT, OBJECT_META};

msg!(SUBJECT_ACCESS_REVIEW, "SubjectAccessReview" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M SUBJECT_ACCESS_REVIEW_SPEC) R,
    3 "status" (M SUBJECT_ACCESS_REVIEW_STATUS) O,
});

msg!(LOCAL_SUBJECT_ACCESS_REVIEW, "LocalSubjectAccessReview" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M SUBJECT_ACCESS_REVIEW_SPEC) R,
    3 "status" (M SUBJECT_ACCESS_REVIEW_STATUS) O,
});

msg!(SELF_SUBJECT_ACCESS_REVIEW, "SelfSubjectAccessReview" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M SELF_SUBJECT_ACCESS_REVIEW_SPEC) R,
    3 "status" (M SUBJECT_ACCESS_REVIEW_STATUS) O,
});

msg!(SELF_SUBJECT_RULES_REVIEW, "SelfSubjectRulesReview" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M SELF_SUBJECT_RULES_REVIEW_SPEC) R,
    3 "status" (M SUBJECT_RULES_REVIEW_STATUS) O,
});

msg!(SUBJECT_ACCESS_REVIEW_SPEC, "SubjectAccessReviewSpec" {
    1 "resourceAttributes" (M RESOURCE_ATTRIBUTES) P,
    2 "nonResourceAttributes" (M NON_RESOURCE_ATTRIBUTES) P,
    3 "user" Str O,
    4 "groups" Str L,
    5 "extra" (Map StrList) L,
    6 "uid" Str O,
});

msg!(SELF_SUBJECT_ACCESS_REVIEW_SPEC, "SelfSubjectAccessReviewSpec" {
    1 "resourceAttributes" (M RESOURCE_ATTRIBUTES) P,
    2 "nonResourceAttributes" (M NON_RESOURCE_ATTRIBUTES) P,
});

msg!(SELF_SUBJECT_RULES_REVIEW_SPEC, "SelfSubjectRulesReviewSpec" {
    1 "namespace" Str O,
});

msg!(RESOURCE_ATTRIBUTES, "ResourceAttributes" {
    1 "namespace" Str O,
    2 "verb" Str O,
    3 "group" Str O,
    4 "version" Str O,
    5 "resource" Str O,
    6 "subresource" Str O,
    7 "name" Str O,
    8 "fieldSelector" (M FIELD_SELECTOR_ATTRIBUTES) P,
    9 "labelSelector" (M LABEL_SELECTOR_ATTRIBUTES) P,
});

msg!(FIELD_SELECTOR_ATTRIBUTES, "FieldSelectorAttributes" {
    1 "rawSelector" Str O,
    2 "requirements" (M FIELD_SELECTOR_REQUIREMENT) L,
});

msg!(FIELD_SELECTOR_REQUIREMENT, "FieldSelectorRequirement" {
    1 "key" Str R,
    2 "operator" Str R,
    3 "values" Str L,
});

msg!(LABEL_SELECTOR_ATTRIBUTES, "LabelSelectorAttributes" {
    1 "rawSelector" Str O,
    2 "requirements" (M LABEL_SELECTOR_REQUIREMENT) L,
});

msg!(NON_RESOURCE_ATTRIBUTES, "NonResourceAttributes" {
    1 "path" Str O,
    2 "verb" Str O,
});

msg!(SUBJECT_ACCESS_REVIEW_STATUS, "SubjectAccessReviewStatus" {
    1 "allowed" Bool R,
    4 "denied" Bool O,
    2 "reason" Str O,
    3 "evaluationError" Str O,
});

msg!(SUBJECT_RULES_REVIEW_STATUS, "SubjectRulesReviewStatus" {
    1 "resourceRules" (M RESOURCE_RULE) Lr,
    2 "nonResourceRules" (M NON_RESOURCE_RULE) Lr,
    3 "incomplete" Bool R,
    4 "evaluationError" Str O,
});

msg!(RESOURCE_RULE, "ResourceRule" {
    1 "verbs" Str Lr,
    2 "apiGroups" Str L,
    3 "resources" Str L,
    4 "resourceNames" Str L,
});

msg!(NON_RESOURCE_RULE, "NonResourceRule" {
    1 "verbs" Str Lr,
    2 "nonResourceURLs" Str L,
});
