//! Messages of `batch/v1`.

use super::core::{OBJECT_REFERENCE, POD_TEMPLATE_SPEC};
use super::meta::{LABEL_SELECTOR, OBJECT_META};

msg!(JOB, "Job" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M JOB_SPEC) O,
    3 "status" (M JOB_STATUS) O,
});

msg!(POD_FAILURE_POLICY_ON_EXIT_CODES_REQUIREMENT, "PodFailurePolicyOnExitCodesRequirement" {
    1 "containerName" Str P,
    2 "operator" Str R,
    3 "values" I32 Lr,
});

msg!(POD_FAILURE_POLICY_ON_POD_CONDITIONS_PATTERN, "PodFailurePolicyOnPodConditionsPattern" {
    1 "type" Str R,
    2 "status" Str R,
});

msg!(POD_FAILURE_POLICY_RULE, "PodFailurePolicyRule" {
    1 "action" Str R,
    2 "onExitCodes" (M POD_FAILURE_POLICY_ON_EXIT_CODES_REQUIREMENT) P,
    3 "onPodConditions" (M POD_FAILURE_POLICY_ON_POD_CONDITIONS_PATTERN) L,
});

msg!(POD_FAILURE_POLICY, "PodFailurePolicy" {
    1 "rules" (M POD_FAILURE_POLICY_RULE) Lr,
});

msg!(SUCCESS_POLICY, "SuccessPolicy" {
    1 "rules" (M SUCCESS_POLICY_RULE) Lr,
});

msg!(SUCCESS_POLICY_RULE, "SuccessPolicyRule" {
    1 "succeededIndexes" Str P,
    2 "succeededCount" I32 P,
});

msg!(JOB_SPEC, "JobSpec" {
    1 "parallelism" I32 P,
    2 "completions" I32 P,
    3 "activeDeadlineSeconds" I64 P,
    11 "podFailurePolicy" (M POD_FAILURE_POLICY) P,
    16 "successPolicy" (M SUCCESS_POLICY) P,
    7 "backoffLimit" I32 P,
    12 "backoffLimitPerIndex" I32 P,
    13 "maxFailedIndexes" I32 P,
    4 "selector" (M LABEL_SELECTOR) P,
    5 "manualSelector" Bool P,
    6 "template" (M POD_TEMPLATE_SPEC) R,
    8 "ttlSecondsAfterFinished" I32 P,
    9 "completionMode" Str P,
    10 "suspend" Bool P,
    14 "podReplacementPolicy" Str P,
    15 "managedBy" Str P,
});

msg!(JOB_STATUS, "JobStatus" {
    1 "conditions" (M JOB_CONDITION) L,
    2 "startTime" Time P,
    3 "completionTime" Time P,
    4 "active" I32 O,
    5 "succeeded" I32 O,
    6 "failed" I32 O,
    11 "terminating" I32 P,
    7 "completedIndexes" Str O,
    10 "failedIndexes" Str P,
    8 "uncountedTerminatedPods" (M UNCOUNTED_TERMINATED_PODS) P,
    9 "ready" I32 P,
});

msg!(UNCOUNTED_TERMINATED_PODS, "UncountedTerminatedPods" {
    1 "succeeded" Str L,
    2 "failed" Str L,
});

msg!(JOB_CONDITION, "JobCondition" {
    1 "type" Str R,
    2 "status" Str R,
    3 "lastProbeTime" Time O,
    4 "lastTransitionTime" Time O,
    5 "reason" Str O,
    6 "message" Str O,
});

msg!(JOB_TEMPLATE_SPEC, "JobTemplateSpec" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M JOB_SPEC) O,
});

msg!(CRON_JOB, "CronJob" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M CRON_JOB_SPEC) O,
    3 "status" (M CRON_JOB_STATUS) O,
});

msg!(CRON_JOB_SPEC, "CronJobSpec" {
    1 "schedule" Str R,
    8 "timeZone" Str P,
    2 "startingDeadlineSeconds" I64 P,
    3 "concurrencyPolicy" Str O,
    4 "suspend" Bool P,
    5 "jobTemplate" (M JOB_TEMPLATE_SPEC) R,
    6 "successfulJobsHistoryLimit" I32 P,
    7 "failedJobsHistoryLimit" I32 P,
});

msg!(CRON_JOB_STATUS, "CronJobStatus" {
    1 "active" (M OBJECT_REFERENCE) L,
    4 "lastScheduleTime" Time P,
    5 "lastSuccessfulTime" Time P,
});
