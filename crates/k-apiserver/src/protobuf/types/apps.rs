//! Messages of `apps/v1`.

use super::core::{PERSISTENT_VOLUME_CLAIM, POD_TEMPLATE_SPEC};
use super::meta::{LABEL_SELECTOR, OBJECT_META};

msg!(STATEFUL_SET, "StatefulSet" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M STATEFUL_SET_SPEC) O,
    3 "status" (M STATEFUL_SET_STATUS) O,
});

msg!(STATEFUL_SET_UPDATE_STRATEGY, "StatefulSetUpdateStrategy" {
    1 "type" Str O,
    2 "rollingUpdate" (M ROLLING_UPDATE_STATEFUL_SET_STRATEGY) P,
});

msg!(ROLLING_UPDATE_STATEFUL_SET_STRATEGY, "RollingUpdateStatefulSetStrategy" {
    1 "partition" I32 P,
    2 "maxUnavailable" IntOrString P,
});

msg!(STATEFUL_SET_PERSISTENT_VOLUME_CLAIM_RETENTION_POLICY, "StatefulSetPersistentVolumeClaimRetentionPolicy" {
    1 "whenDeleted" Str O,
    2 "whenScaled" Str O,
});

msg!(STATEFUL_SET_ORDINALS, "StatefulSetOrdinals" {
    1 "start" I32 R,
});

msg!(STATEFUL_SET_SPEC, "StatefulSetSpec" {
    1 "replicas" I32 P,
    2 "selector" (M LABEL_SELECTOR) Pn,
    3 "template" (M POD_TEMPLATE_SPEC) R,
    4 "volumeClaimTemplates" (M PERSISTENT_VOLUME_CLAIM) L,
    5 "serviceName" Str O,
    6 "podManagementPolicy" Str O,
    7 "updateStrategy" (M STATEFUL_SET_UPDATE_STRATEGY) O,
    8 "revisionHistoryLimit" I32 P,
    9 "minReadySeconds" I32 O,
    10 "persistentVolumeClaimRetentionPolicy" (M STATEFUL_SET_PERSISTENT_VOLUME_CLAIM_RETENTION_POLICY) P,
    11 "ordinals" (M STATEFUL_SET_ORDINALS) P,
});

msg!(STATEFUL_SET_STATUS, "StatefulSetStatus" {
    1 "observedGeneration" I64 O,
    2 "replicas" I32 R,
    3 "readyReplicas" I32 O,
    4 "currentReplicas" I32 O,
    5 "updatedReplicas" I32 O,
    6 "currentRevision" Str O,
    7 "updateRevision" Str O,
    9 "collisionCount" I32 P,
    10 "conditions" (M STATEFUL_SET_CONDITION) L,
    11 "availableReplicas" I32 R,
});

msg!(STATEFUL_SET_CONDITION, "StatefulSetCondition" {
    1 "type" Str R,
    2 "status" Str R,
    3 "lastTransitionTime" Time O,
    4 "reason" Str O,
    5 "message" Str O,
});

msg!(DEPLOYMENT, "Deployment" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M DEPLOYMENT_SPEC) O,
    3 "status" (M DEPLOYMENT_STATUS) O,
});

msg!(DEPLOYMENT_SPEC, "DeploymentSpec" {
    1 "replicas" I32 P,
    2 "selector" (M LABEL_SELECTOR) Pn,
    3 "template" (M POD_TEMPLATE_SPEC) R,
    4 "strategy" (M DEPLOYMENT_STRATEGY) O,
    5 "minReadySeconds" I32 O,
    6 "revisionHistoryLimit" I32 P,
    7 "paused" Bool O,
    9 "progressDeadlineSeconds" I32 P,
});

msg!(DEPLOYMENT_STRATEGY, "DeploymentStrategy" {
    1 "type" Str O,
    2 "rollingUpdate" (M ROLLING_UPDATE_DEPLOYMENT) P,
});

msg!(ROLLING_UPDATE_DEPLOYMENT, "RollingUpdateDeployment" {
    1 "maxUnavailable" IntOrString P,
    2 "maxSurge" IntOrString P,
});

msg!(DEPLOYMENT_STATUS, "DeploymentStatus" {
    1 "observedGeneration" I64 O,
    2 "replicas" I32 O,
    3 "updatedReplicas" I32 O,
    7 "readyReplicas" I32 O,
    4 "availableReplicas" I32 O,
    5 "unavailableReplicas" I32 O,
    9 "terminatingReplicas" I32 P,
    6 "conditions" (M DEPLOYMENT_CONDITION) L,
    8 "collisionCount" I32 P,
});

msg!(DEPLOYMENT_CONDITION, "DeploymentCondition" {
    1 "type" Str R,
    2 "status" Str R,
    6 "lastUpdateTime" Time O,
    7 "lastTransitionTime" Time O,
    4 "reason" Str O,
    5 "message" Str O,
});

msg!(DAEMON_SET_UPDATE_STRATEGY, "DaemonSetUpdateStrategy" {
    1 "type" Str O,
    2 "rollingUpdate" (M ROLLING_UPDATE_DAEMON_SET) P,
});

msg!(ROLLING_UPDATE_DAEMON_SET, "RollingUpdateDaemonSet" {
    1 "maxUnavailable" IntOrString P,
    2 "maxSurge" IntOrString P,
});

msg!(DAEMON_SET_SPEC, "DaemonSetSpec" {
    1 "selector" (M LABEL_SELECTOR) Pn,
    2 "template" (M POD_TEMPLATE_SPEC) R,
    3 "updateStrategy" (M DAEMON_SET_UPDATE_STRATEGY) O,
    4 "minReadySeconds" I32 O,
    6 "revisionHistoryLimit" I32 P,
});

msg!(DAEMON_SET_STATUS, "DaemonSetStatus" {
    1 "currentNumberScheduled" I32 R,
    2 "numberMisscheduled" I32 R,
    3 "desiredNumberScheduled" I32 R,
    4 "numberReady" I32 R,
    5 "observedGeneration" I64 O,
    6 "updatedNumberScheduled" I32 O,
    7 "numberAvailable" I32 O,
    8 "numberUnavailable" I32 O,
    9 "collisionCount" I32 P,
    10 "conditions" (M DAEMON_SET_CONDITION) L,
});

msg!(DAEMON_SET_CONDITION, "DaemonSetCondition" {
    1 "type" Str R,
    2 "status" Str R,
    3 "lastTransitionTime" Time O,
    4 "reason" Str O,
    5 "message" Str O,
});

msg!(DAEMON_SET, "DaemonSet" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M DAEMON_SET_SPEC) O,
    3 "status" (M DAEMON_SET_STATUS) O,
});

msg!(REPLICA_SET, "ReplicaSet" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M REPLICA_SET_SPEC) O,
    3 "status" (M REPLICA_SET_STATUS) O,
});

msg!(REPLICA_SET_SPEC, "ReplicaSetSpec" {
    1 "replicas" I32 P,
    4 "minReadySeconds" I32 O,
    2 "selector" (M LABEL_SELECTOR) Pn,
    3 "template" (M POD_TEMPLATE_SPEC) O,
});

msg!(REPLICA_SET_STATUS, "ReplicaSetStatus" {
    1 "replicas" I32 R,
    2 "fullyLabeledReplicas" I32 O,
    4 "readyReplicas" I32 O,
    5 "availableReplicas" I32 O,
    7 "terminatingReplicas" I32 P,
    3 "observedGeneration" I64 O,
    6 "conditions" (M REPLICA_SET_CONDITION) L,
});

msg!(REPLICA_SET_CONDITION, "ReplicaSetCondition" {
    1 "type" Str R,
    2 "status" Str R,
    3 "lastTransitionTime" Time O,
    4 "reason" Str O,
    5 "message" Str O,
});

msg!(CONTROLLER_REVISION, "ControllerRevision" {
    1 "metadata" (M OBJECT_META) O,
    2 "data" RawExtension O,
    3 "revision" I64 R,
});
