//! Messages of `meta/v1` (`k8s.io/apimachinery/pkg/apis/meta/v1`).

msg!(OBJECT_META, "ObjectMeta" {
    1 "name" Str O,
    2 "generateName" Str O,
    3 "namespace" Str O,
    4 "selfLink" Str O,
    5 "uid" Str O,
    6 "resourceVersion" Str O,
    7 "generation" I64 O,
    8 "creationTimestamp" Time O,
    9 "deletionTimestamp" Time P,
    10 "deletionGracePeriodSeconds" I64 P,
    11 "labels" (Map Str) L,
    12 "annotations" (Map Str) L,
    13 "ownerReferences" (M OWNER_REFERENCE) L,
    14 "finalizers" Str L,
    17 "managedFields" (M MANAGED_FIELDS_ENTRY) L,
});

msg!(OWNER_REFERENCE, "OwnerReference" {
    5 "apiVersion" Str R,
    1 "kind" Str R,
    3 "name" Str R,
    4 "uid" Str R,
    6 "controller" Bool P,
    7 "blockOwnerDeletion" Bool P,
});

msg!(DELETE_OPTIONS, "DeleteOptions" {
    1 "gracePeriodSeconds" I64 P,
    2 "preconditions" (M PRECONDITIONS) P,
    3 "orphanDependents" Bool P,
    4 "propagationPolicy" Str P,
    5 "dryRun" Str L,
    6 "ignoreStoreReadErrorWithClusterBreakingPotential" Bool P,
});

msg!(PRECONDITIONS, "Preconditions" {
    1 "uid" Str P,
    2 "resourceVersion" Str P,
});

msg!(LABEL_SELECTOR, "LabelSelector" {
    1 "matchLabels" (Map Str) L,
    2 "matchExpressions" (M LABEL_SELECTOR_REQUIREMENT) L,
});

msg!(LABEL_SELECTOR_REQUIREMENT, "LabelSelectorRequirement" {
    1 "key" Str R,
    2 "operator" Str R,
    3 "values" Str L,
});

msg!(MANAGED_FIELDS_ENTRY, "ManagedFieldsEntry" {
    1 "manager" Str O,
    2 "operation" Str O,
    3 "apiVersion" Str O,
    4 "time" Time P,
    6 "fieldsType" Str O,
    7 "fieldsV1" FieldsV1 P,
    8 "subresource" Str O,
});

msg!(CONDITION, "Condition" {
    1 "type" Str R,
    2 "status" Str R,
    3 "observedGeneration" I64 O,
    4 "lastTransitionTime" Time R,
    5 "reason" Str R,
    6 "message" Str R,
});
