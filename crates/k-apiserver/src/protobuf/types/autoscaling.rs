//! Messages of `autoscaling/v1`.

use super::meta::OBJECT_META;

msg!(CROSS_VERSION_OBJECT_REFERENCE, "CrossVersionObjectReference" {
    1 "kind" Str R,
    2 "name" Str R,
    3 "apiVersion" Str O,
});

msg!(HORIZONTAL_POD_AUTOSCALER_SPEC, "HorizontalPodAutoscalerSpec" {
    1 "scaleTargetRef" (M CROSS_VERSION_OBJECT_REFERENCE) R,
    2 "minReplicas" I32 P,
    3 "maxReplicas" I32 R,
    4 "targetCPUUtilizationPercentage" I32 P,
});

msg!(HORIZONTAL_POD_AUTOSCALER_STATUS, "HorizontalPodAutoscalerStatus" {
    1 "observedGeneration" I64 P,
    2 "lastScaleTime" Time P,
    3 "currentReplicas" I32 R,
    4 "desiredReplicas" I32 R,
    5 "currentCPUUtilizationPercentage" I32 P,
});

msg!(HORIZONTAL_POD_AUTOSCALER, "HorizontalPodAutoscaler" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M HORIZONTAL_POD_AUTOSCALER_SPEC) O,
    3 "status" (M HORIZONTAL_POD_AUTOSCALER_STATUS) O,
});

msg!(SCALE, "Scale" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M SCALE_SPEC) O,
    3 "status" (M SCALE_STATUS) O,
});

msg!(SCALE_SPEC, "ScaleSpec" {
    1 "replicas" I32 O,
});

msg!(SCALE_STATUS, "ScaleStatus" {
    1 "replicas" I32 R,
    2 "selector" Str O,
});
