//! Messages of `policy/v1`.

use super::meta::{CONDITION, DELETE_OPTIONS, LABEL_SELECTOR, OBJECT_META};

msg!(POD_DISRUPTION_BUDGET_SPEC, "PodDisruptionBudgetSpec" {
    1 "minAvailable" IntOrString P,
    2 "selector" (M LABEL_SELECTOR) P,
    3 "maxUnavailable" IntOrString P,
    4 "unhealthyPodEvictionPolicy" Str P,
});

msg!(POD_DISRUPTION_BUDGET_STATUS, "PodDisruptionBudgetStatus" {
    1 "observedGeneration" I64 O,
    2 "disruptedPods" (Map Time) L,
    3 "disruptionsAllowed" I32 R,
    4 "currentHealthy" I32 R,
    5 "desiredHealthy" I32 R,
    6 "expectedPods" I32 R,
    7 "conditions" (M CONDITION) L,
});

msg!(POD_DISRUPTION_BUDGET, "PodDisruptionBudget" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M POD_DISRUPTION_BUDGET_SPEC) O,
    3 "status" (M POD_DISRUPTION_BUDGET_STATUS) O,
});

msg!(EVICTION, "Eviction" {
    1 "metadata" (M OBJECT_META) O,
    2 "deleteOptions" (M DELETE_OPTIONS) P,
});
