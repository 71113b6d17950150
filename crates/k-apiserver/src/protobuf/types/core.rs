//! Messages of the core (`v1`) API group.

use super::meta::{CONDITION, LABEL_SELECTOR, OBJECT_META};

msg!(VOLUME, "Volume" {
    1 "name" Str R,
    2 "" (In VOLUME_SOURCE) O,
});

msg!(VOLUME_SOURCE, "VolumeSource" {
    1 "hostPath" (M HOST_PATH_VOLUME_SOURCE) P,
    2 "emptyDir" (M EMPTY_DIR_VOLUME_SOURCE) P,
    3 "gcePersistentDisk" (M GCE_PERSISTENT_DISK_VOLUME_SOURCE) P,
    4 "awsElasticBlockStore" (M AWS_ELASTIC_BLOCK_STORE_VOLUME_SOURCE) P,
    5 "gitRepo" (M GIT_REPO_VOLUME_SOURCE) P,
    6 "secret" (M SECRET_VOLUME_SOURCE) P,
    7 "nfs" (M NFS_VOLUME_SOURCE) P,
    8 "iscsi" (M ISCSI_VOLUME_SOURCE) P,
    9 "glusterfs" (M GLUSTERFS_VOLUME_SOURCE) P,
    10 "persistentVolumeClaim" (M PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE) P,
    11 "rbd" (M RBD_VOLUME_SOURCE) P,
    12 "flexVolume" (M FLEX_VOLUME_SOURCE) P,
    13 "cinder" (M CINDER_VOLUME_SOURCE) P,
    14 "cephfs" (M CEPH_FS_VOLUME_SOURCE) P,
    15 "flocker" (M FLOCKER_VOLUME_SOURCE) P,
    16 "downwardAPI" (M DOWNWARD_API_VOLUME_SOURCE) P,
    17 "fc" (M FC_VOLUME_SOURCE) P,
    18 "azureFile" (M AZURE_FILE_VOLUME_SOURCE) P,
    19 "configMap" (M CONFIG_MAP_VOLUME_SOURCE) P,
    20 "vsphereVolume" (M VSPHERE_VIRTUAL_DISK_VOLUME_SOURCE) P,
    21 "quobyte" (M QUOBYTE_VOLUME_SOURCE) P,
    22 "azureDisk" (M AZURE_DISK_VOLUME_SOURCE) P,
    23 "photonPersistentDisk" (M PHOTON_PERSISTENT_DISK_VOLUME_SOURCE) P,
    26 "projected" (M PROJECTED_VOLUME_SOURCE) P,
    24 "portworxVolume" (M PORTWORX_VOLUME_SOURCE) P,
    25 "scaleIO" (M SCALE_IO_VOLUME_SOURCE) P,
    27 "storageos" (M STORAGE_OS_VOLUME_SOURCE) P,
    28 "csi" (M CSI_VOLUME_SOURCE) P,
    29 "ephemeral" (M EPHEMERAL_VOLUME_SOURCE) P,
    30 "image" (M IMAGE_VOLUME_SOURCE) P,
});

msg!(PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE, "PersistentVolumeClaimVolumeSource" {
    1 "claimName" Str R,
    2 "readOnly" Bool O,
});

msg!(PERSISTENT_VOLUME_CLAIM_SPEC, "PersistentVolumeClaimSpec" {
    1 "accessModes" Str L,
    4 "selector" (M LABEL_SELECTOR) P,
    2 "resources" (M VOLUME_RESOURCE_REQUIREMENTS) O,
    3 "volumeName" Str O,
    5 "storageClassName" Str P,
    6 "volumeMode" Str P,
    7 "dataSource" (M TYPED_LOCAL_OBJECT_REFERENCE) P,
    8 "dataSourceRef" (M TYPED_OBJECT_REFERENCE) P,
    9 "volumeAttributesClassName" Str P,
});

msg!(TYPED_OBJECT_REFERENCE, "TypedObjectReference" {
    1 "apiGroup" Str Pn,
    2 "kind" Str R,
    3 "name" Str R,
    4 "namespace" Str P,
});

msg!(HOST_PATH_VOLUME_SOURCE, "HostPathVolumeSource" {
    1 "path" Str R,
    2 "type" Str P,
});

msg!(EMPTY_DIR_VOLUME_SOURCE, "EmptyDirVolumeSource" {
    1 "medium" Str O,
    2 "sizeLimit" Quantity P,
});

msg!(GLUSTERFS_VOLUME_SOURCE, "GlusterfsVolumeSource" {
    1 "endpoints" Str R,
    2 "path" Str R,
    3 "readOnly" Bool O,
});

msg!(RBD_VOLUME_SOURCE, "RBDVolumeSource" {
    1 "monitors" Str Lr,
    2 "image" Str R,
    3 "fsType" Str O,
    4 "pool" Str O,
    5 "user" Str O,
    6 "keyring" Str O,
    7 "secretRef" (M LOCAL_OBJECT_REFERENCE) P,
    8 "readOnly" Bool O,
});

msg!(CINDER_VOLUME_SOURCE, "CinderVolumeSource" {
    1 "volumeID" Str R,
    2 "fsType" Str O,
    3 "readOnly" Bool O,
    4 "secretRef" (M LOCAL_OBJECT_REFERENCE) P,
});

msg!(CEPH_FS_VOLUME_SOURCE, "CephFSVolumeSource" {
    1 "monitors" Str Lr,
    2 "path" Str O,
    3 "user" Str O,
    4 "secretFile" Str O,
    5 "secretRef" (M LOCAL_OBJECT_REFERENCE) P,
    6 "readOnly" Bool O,
});

msg!(FLOCKER_VOLUME_SOURCE, "FlockerVolumeSource" {
    1 "datasetName" Str O,
    2 "datasetUUID" Str O,
});

msg!(GCE_PERSISTENT_DISK_VOLUME_SOURCE, "GCEPersistentDiskVolumeSource" {
    1 "pdName" Str R,
    2 "fsType" Str O,
    3 "partition" I32 O,
    4 "readOnly" Bool O,
});

msg!(QUOBYTE_VOLUME_SOURCE, "QuobyteVolumeSource" {
    1 "registry" Str R,
    2 "volume" Str R,
    3 "readOnly" Bool O,
    4 "user" Str O,
    5 "group" Str O,
    6 "tenant" Str O,
});

msg!(FLEX_VOLUME_SOURCE, "FlexVolumeSource" {
    1 "driver" Str R,
    2 "fsType" Str O,
    3 "secretRef" (M LOCAL_OBJECT_REFERENCE) P,
    4 "readOnly" Bool O,
    5 "options" (Map Str) L,
});

msg!(AWS_ELASTIC_BLOCK_STORE_VOLUME_SOURCE, "AWSElasticBlockStoreVolumeSource" {
    1 "volumeID" Str R,
    2 "fsType" Str O,
    3 "partition" I32 O,
    4 "readOnly" Bool O,
});

msg!(GIT_REPO_VOLUME_SOURCE, "GitRepoVolumeSource" {
    1 "repository" Str R,
    2 "revision" Str O,
    3 "directory" Str O,
});

msg!(SECRET_VOLUME_SOURCE, "SecretVolumeSource" {
    1 "secretName" Str O,
    2 "items" (M KEY_TO_PATH) L,
    3 "defaultMode" I32 P,
    4 "optional" Bool P,
});

msg!(SECRET_PROJECTION, "SecretProjection" {
    1 "" (In LOCAL_OBJECT_REFERENCE) O,
    2 "items" (M KEY_TO_PATH) L,
    4 "optional" Bool P,
});

msg!(NFS_VOLUME_SOURCE, "NFSVolumeSource" {
    1 "server" Str R,
    2 "path" Str R,
    3 "readOnly" Bool O,
});

msg!(ISCSI_VOLUME_SOURCE, "ISCSIVolumeSource" {
    1 "targetPortal" Str R,
    2 "iqn" Str R,
    3 "lun" I32 R,
    4 "iscsiInterface" Str O,
    5 "fsType" Str O,
    6 "readOnly" Bool O,
    7 "portals" Str L,
    8 "chapAuthDiscovery" Bool O,
    11 "chapAuthSession" Bool O,
    10 "secretRef" (M LOCAL_OBJECT_REFERENCE) P,
    12 "initiatorName" Str P,
});

msg!(FC_VOLUME_SOURCE, "FCVolumeSource" {
    1 "targetWWNs" Str L,
    2 "lun" I32 P,
    3 "fsType" Str O,
    4 "readOnly" Bool O,
    5 "wwids" Str L,
});

msg!(AZURE_FILE_VOLUME_SOURCE, "AzureFileVolumeSource" {
    1 "secretName" Str R,
    2 "shareName" Str R,
    3 "readOnly" Bool O,
});

msg!(VSPHERE_VIRTUAL_DISK_VOLUME_SOURCE, "VsphereVirtualDiskVolumeSource" {
    1 "volumePath" Str R,
    2 "fsType" Str O,
    3 "storagePolicyName" Str O,
    4 "storagePolicyID" Str O,
});

msg!(PHOTON_PERSISTENT_DISK_VOLUME_SOURCE, "PhotonPersistentDiskVolumeSource" {
    1 "pdID" Str R,
    2 "fsType" Str O,
});

msg!(AZURE_DISK_VOLUME_SOURCE, "AzureDiskVolumeSource" {
    1 "diskName" Str R,
    2 "diskURI" Str R,
    3 "cachingMode" Str P,
    4 "fsType" Str P,
    5 "readOnly" Bool P,
    6 "kind" Str P,
});

msg!(PORTWORX_VOLUME_SOURCE, "PortworxVolumeSource" {
    1 "volumeID" Str R,
    2 "fsType" Str O,
    3 "readOnly" Bool O,
});

msg!(SCALE_IO_VOLUME_SOURCE, "ScaleIOVolumeSource" {
    1 "gateway" Str R,
    2 "system" Str R,
    3 "secretRef" (M LOCAL_OBJECT_REFERENCE) Pn,
    4 "sslEnabled" Bool O,
    5 "protectionDomain" Str O,
    6 "storagePool" Str O,
    7 "storageMode" Str O,
    8 "volumeName" Str O,
    9 "fsType" Str O,
    10 "readOnly" Bool O,
});

msg!(STORAGE_OS_VOLUME_SOURCE, "StorageOSVolumeSource" {
    1 "volumeName" Str O,
    2 "volumeNamespace" Str O,
    3 "fsType" Str O,
    4 "readOnly" Bool O,
    5 "secretRef" (M LOCAL_OBJECT_REFERENCE) P,
});

msg!(CONFIG_MAP_VOLUME_SOURCE, "ConfigMapVolumeSource" {
    1 "" (In LOCAL_OBJECT_REFERENCE) O,
    2 "items" (M KEY_TO_PATH) L,
    3 "defaultMode" I32 P,
    4 "optional" Bool P,
});

msg!(CONFIG_MAP_PROJECTION, "ConfigMapProjection" {
    1 "" (In LOCAL_OBJECT_REFERENCE) O,
    2 "items" (M KEY_TO_PATH) L,
    4 "optional" Bool P,
});

msg!(SERVICE_ACCOUNT_TOKEN_PROJECTION, "ServiceAccountTokenProjection" {
    1 "audience" Str O,
    2 "expirationSeconds" I64 P,
    3 "path" Str R,
});

msg!(CLUSTER_TRUST_BUNDLE_PROJECTION, "ClusterTrustBundleProjection" {
    1 "name" Str P,
    2 "signerName" Str P,
    3 "labelSelector" (M LABEL_SELECTOR) P,
    5 "optional" Bool P,
    4 "path" Str R,
});

msg!(PROJECTED_VOLUME_SOURCE, "ProjectedVolumeSource" {
    1 "sources" (M VOLUME_PROJECTION) Lr,
    2 "defaultMode" I32 P,
});

msg!(VOLUME_PROJECTION, "VolumeProjection" {
    1 "secret" (M SECRET_PROJECTION) P,
    2 "downwardAPI" (M DOWNWARD_API_PROJECTION) P,
    3 "configMap" (M CONFIG_MAP_PROJECTION) P,
    4 "serviceAccountToken" (M SERVICE_ACCOUNT_TOKEN_PROJECTION) P,
    5 "clusterTrustBundle" (M CLUSTER_TRUST_BUNDLE_PROJECTION) P,
});

msg!(KEY_TO_PATH, "KeyToPath" {
    1 "key" Str R,
    2 "path" Str R,
    3 "mode" I32 P,
});

msg!(CSI_VOLUME_SOURCE, "CSIVolumeSource" {
    1 "driver" Str R,
    2 "readOnly" Bool P,
    3 "fsType" Str P,
    4 "volumeAttributes" (Map Str) L,
    5 "nodePublishSecretRef" (M LOCAL_OBJECT_REFERENCE) P,
});

msg!(EPHEMERAL_VOLUME_SOURCE, "EphemeralVolumeSource" {
    1 "volumeClaimTemplate" (M PERSISTENT_VOLUME_CLAIM_TEMPLATE) P,
});

msg!(PERSISTENT_VOLUME_CLAIM_TEMPLATE, "PersistentVolumeClaimTemplate" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M PERSISTENT_VOLUME_CLAIM_SPEC) R,
});

msg!(CONTAINER_PORT, "ContainerPort" {
    1 "name" Str O,
    2 "hostPort" I32 O,
    3 "containerPort" I32 R,
    4 "protocol" Str O,
    5 "hostIP" Str O,
});

msg!(VOLUME_MOUNT, "VolumeMount" {
    1 "name" Str R,
    2 "readOnly" Bool O,
    7 "recursiveReadOnly" Str P,
    3 "mountPath" Str R,
    4 "subPath" Str O,
    5 "mountPropagation" Str P,
    6 "subPathExpr" Str O,
});

msg!(VOLUME_DEVICE, "VolumeDevice" {
    1 "name" Str R,
    2 "devicePath" Str R,
});

msg!(ENV_VAR, "EnvVar" {
    1 "name" Str R,
    2 "value" Str O,
    3 "valueFrom" (M ENV_VAR_SOURCE) P,
});

msg!(ENV_VAR_SOURCE, "EnvVarSource" {
    1 "fieldRef" (M OBJECT_FIELD_SELECTOR) P,
    2 "resourceFieldRef" (M RESOURCE_FIELD_SELECTOR) P,
    3 "configMapKeyRef" (M CONFIG_MAP_KEY_SELECTOR) P,
    4 "secretKeyRef" (M SECRET_KEY_SELECTOR) P,
});

msg!(OBJECT_FIELD_SELECTOR, "ObjectFieldSelector" {
    1 "apiVersion" Str O,
    2 "fieldPath" Str R,
});

msg!(RESOURCE_FIELD_SELECTOR, "ResourceFieldSelector" {
    1 "containerName" Str O,
    2 "resource" Str R,
    3 "divisor" Quantity O,
});

msg!(CONFIG_MAP_KEY_SELECTOR, "ConfigMapKeySelector" {
    1 "" (In LOCAL_OBJECT_REFERENCE) O,
    2 "key" Str R,
    3 "optional" Bool P,
});

msg!(SECRET_KEY_SELECTOR, "SecretKeySelector" {
    1 "" (In LOCAL_OBJECT_REFERENCE) O,
    2 "key" Str R,
    3 "optional" Bool P,
});

msg!(ENV_FROM_SOURCE, "EnvFromSource" {
    1 "prefix" Str O,
    2 "configMapRef" (M CONFIG_MAP_ENV_SOURCE) P,
    3 "secretRef" (M SECRET_ENV_SOURCE) P,
});

msg!(CONFIG_MAP_ENV_SOURCE, "ConfigMapEnvSource" {
    1 "" (In LOCAL_OBJECT_REFERENCE) O,
    2 "optional" Bool P,
});

msg!(SECRET_ENV_SOURCE, "SecretEnvSource" {
    1 "" (In LOCAL_OBJECT_REFERENCE) O,
    2 "optional" Bool P,
});

msg!(HTTP_HEADER, "HTTPHeader" {
    1 "name" Str R,
    2 "value" Str R,
});

msg!(HTTP_GET_ACTION, "HTTPGetAction" {
    1 "path" Str O,
    2 "port" IntOrString R,
    3 "host" Str O,
    4 "scheme" Str O,
    5 "httpHeaders" (M HTTP_HEADER) L,
});

msg!(TCP_SOCKET_ACTION, "TCPSocketAction" {
    1 "port" IntOrString R,
    2 "host" Str O,
});

msg!(GRPC_ACTION, "GRPCAction" {
    1 "port" I32 R,
    2 "service" Str Pn,
});

msg!(EXEC_ACTION, "ExecAction" {
    1 "command" Str L,
});

msg!(SLEEP_ACTION, "SleepAction" {
    1 "seconds" I64 R,
});

msg!(PROBE, "Probe" {
    1 "" (In PROBE_HANDLER) O,
    2 "initialDelaySeconds" I32 O,
    3 "timeoutSeconds" I32 O,
    4 "periodSeconds" I32 O,
    5 "successThreshold" I32 O,
    6 "failureThreshold" I32 O,
    7 "terminationGracePeriodSeconds" I64 P,
});

msg!(CONTAINER_RESIZE_POLICY, "ContainerResizePolicy" {
    1 "resourceName" Str R,
    2 "restartPolicy" Str R,
});

msg!(CAPABILITIES, "Capabilities" {
    1 "add" Str L,
    2 "drop" Str L,
});

msg!(RESOURCE_REQUIREMENTS, "ResourceRequirements" {
    1 "limits" (Map Quantity) L,
    2 "requests" (Map Quantity) L,
    3 "claims" (M RESOURCE_CLAIM) L,
});

msg!(VOLUME_RESOURCE_REQUIREMENTS, "VolumeResourceRequirements" {
    1 "limits" (Map Quantity) L,
    2 "requests" (Map Quantity) L,
});

msg!(RESOURCE_CLAIM, "ResourceClaim" {
    1 "name" Str R,
    2 "request" Str O,
});

msg!(CONTAINER, "Container" {
    1 "name" Str R,
    2 "image" Str O,
    3 "command" Str L,
    4 "args" Str L,
    5 "workingDir" Str O,
    6 "ports" (M CONTAINER_PORT) L,
    19 "envFrom" (M ENV_FROM_SOURCE) L,
    7 "env" (M ENV_VAR) L,
    8 "resources" (M RESOURCE_REQUIREMENTS) O,
    23 "resizePolicy" (M CONTAINER_RESIZE_POLICY) L,
    24 "restartPolicy" Str P,
    9 "volumeMounts" (M VOLUME_MOUNT) L,
    21 "volumeDevices" (M VOLUME_DEVICE) L,
    10 "livenessProbe" (M PROBE) P,
    11 "readinessProbe" (M PROBE) P,
    22 "startupProbe" (M PROBE) P,
    12 "lifecycle" (M LIFECYCLE) P,
    13 "terminationMessagePath" Str O,
    20 "terminationMessagePolicy" Str O,
    14 "imagePullPolicy" Str O,
    15 "securityContext" (M SECURITY_CONTEXT) P,
    16 "stdin" Bool O,
    17 "stdinOnce" Bool O,
    18 "tty" Bool O,
});

msg!(PROBE_HANDLER, "ProbeHandler" {
    1 "exec" (M EXEC_ACTION) P,
    2 "httpGet" (M HTTP_GET_ACTION) P,
    3 "tcpSocket" (M TCP_SOCKET_ACTION) P,
    4 "grpc" (M GRPC_ACTION) P,
});

msg!(LIFECYCLE_HANDLER, "LifecycleHandler" {
    1 "exec" (M EXEC_ACTION) P,
    2 "httpGet" (M HTTP_GET_ACTION) P,
    3 "tcpSocket" (M TCP_SOCKET_ACTION) P,
    4 "sleep" (M SLEEP_ACTION) P,
});

msg!(LIFECYCLE, "Lifecycle" {
    1 "postStart" (M LIFECYCLE_HANDLER) P,
    2 "preStop" (M LIFECYCLE_HANDLER) P,
});

msg!(CONTAINER_STATE_WAITING, "ContainerStateWaiting" {
    1 "reason" Str O,
    2 "message" Str O,
});

msg!(CONTAINER_STATE_RUNNING, "ContainerStateRunning" {
    1 "startedAt" Time O,
});

msg!(CONTAINER_STATE_TERMINATED, "ContainerStateTerminated" {
    1 "exitCode" I32 R,
    2 "signal" I32 O,
    3 "reason" Str O,
    4 "message" Str O,
    5 "startedAt" Time O,
    6 "finishedAt" Time O,
    7 "containerID" Str O,
});

msg!(CONTAINER_STATE, "ContainerState" {
    1 "waiting" (M CONTAINER_STATE_WAITING) P,
    2 "running" (M CONTAINER_STATE_RUNNING) P,
    3 "terminated" (M CONTAINER_STATE_TERMINATED) P,
});

msg!(POD_CONDITION, "PodCondition" {
    1 "type" Str R,
    2 "status" Str R,
    3 "lastProbeTime" Time O,
    4 "lastTransitionTime" Time O,
    5 "reason" Str O,
    6 "message" Str O,
});

msg!(NODE_SELECTOR, "NodeSelector" {
    1 "nodeSelectorTerms" (M NODE_SELECTOR_TERM) Lr,
});

msg!(NODE_SELECTOR_TERM, "NodeSelectorTerm" {
    1 "matchExpressions" (M NODE_SELECTOR_REQUIREMENT) L,
    2 "matchFields" (M NODE_SELECTOR_REQUIREMENT) L,
});

msg!(NODE_SELECTOR_REQUIREMENT, "NodeSelectorRequirement" {
    1 "key" Str R,
    2 "operator" Str R,
    3 "values" Str L,
});

msg!(AFFINITY, "Affinity" {
    1 "nodeAffinity" (M NODE_AFFINITY) P,
    2 "podAffinity" (M POD_AFFINITY) P,
    3 "podAntiAffinity" (M POD_ANTI_AFFINITY) P,
});

msg!(POD_AFFINITY, "PodAffinity" {
    1 "requiredDuringSchedulingIgnoredDuringExecution" (M POD_AFFINITY_TERM) L,
    2 "preferredDuringSchedulingIgnoredDuringExecution" (M WEIGHTED_POD_AFFINITY_TERM) L,
});

msg!(POD_ANTI_AFFINITY, "PodAntiAffinity" {
    1 "requiredDuringSchedulingIgnoredDuringExecution" (M POD_AFFINITY_TERM) L,
    2 "preferredDuringSchedulingIgnoredDuringExecution" (M WEIGHTED_POD_AFFINITY_TERM) L,
});

msg!(WEIGHTED_POD_AFFINITY_TERM, "WeightedPodAffinityTerm" {
    1 "weight" I32 R,
    2 "podAffinityTerm" (M POD_AFFINITY_TERM) R,
});

msg!(POD_AFFINITY_TERM, "PodAffinityTerm" {
    1 "labelSelector" (M LABEL_SELECTOR) P,
    2 "namespaces" Str L,
    3 "topologyKey" Str R,
    4 "namespaceSelector" (M LABEL_SELECTOR) P,
    5 "matchLabelKeys" Str L,
    6 "mismatchLabelKeys" Str L,
});

msg!(NODE_AFFINITY, "NodeAffinity" {
    1 "requiredDuringSchedulingIgnoredDuringExecution" (M NODE_SELECTOR) P,
    2 "preferredDuringSchedulingIgnoredDuringExecution" (M PREFERRED_SCHEDULING_TERM) L,
});

msg!(PREFERRED_SCHEDULING_TERM, "PreferredSchedulingTerm" {
    1 "weight" I32 R,
    2 "preference" (M NODE_SELECTOR_TERM) R,
});

msg!(TOLERATION, "Toleration" {
    1 "key" Str O,
    2 "operator" Str O,
    3 "value" Str O,
    4 "effect" Str O,
    5 "tolerationSeconds" I64 P,
});

msg!(POD_READINESS_GATE, "PodReadinessGate" {
    1 "conditionType" Str R,
});

msg!(POD_SPEC, "PodSpec" {
    1 "volumes" (M VOLUME) L,
    20 "initContainers" (M CONTAINER) L,
    2 "containers" (M CONTAINER) Lr,
    34 "ephemeralContainers" (M EPHEMERAL_CONTAINER) L,
    3 "restartPolicy" Str O,
    4 "terminationGracePeriodSeconds" I64 P,
    5 "activeDeadlineSeconds" I64 P,
    6 "dnsPolicy" Str O,
    7 "nodeSelector" (Map Str) L,
    8 "serviceAccountName" Str O,
    9 "serviceAccount" Str O,
    21 "automountServiceAccountToken" Bool P,
    10 "nodeName" Str O,
    11 "hostNetwork" Bool O,
    12 "hostPID" Bool O,
    13 "hostIPC" Bool O,
    27 "shareProcessNamespace" Bool P,
    14 "securityContext" (M POD_SECURITY_CONTEXT) P,
    15 "imagePullSecrets" (M LOCAL_OBJECT_REFERENCE) L,
    16 "hostname" Str O,
    17 "subdomain" Str O,
    18 "affinity" (M AFFINITY) P,
    19 "schedulerName" Str O,
    22 "tolerations" (M TOLERATION) L,
    23 "hostAliases" (M HOST_ALIAS) L,
    24 "priorityClassName" Str O,
    25 "priority" I32 P,
    26 "dnsConfig" (M POD_DNS_CONFIG) P,
    28 "readinessGates" (M POD_READINESS_GATE) L,
    29 "runtimeClassName" Str P,
    30 "enableServiceLinks" Bool P,
    31 "preemptionPolicy" Str P,
    32 "overhead" (Map Quantity) L,
    33 "topologySpreadConstraints" (M TOPOLOGY_SPREAD_CONSTRAINT) L,
    35 "setHostnameAsFQDN" Bool P,
    36 "os" (M POD_OS) P,
    37 "hostUsers" Bool P,
    38 "schedulingGates" (M POD_SCHEDULING_GATE) L,
    39 "resourceClaims" (M POD_RESOURCE_CLAIM) L,
    40 "resources" (M RESOURCE_REQUIREMENTS) P,
});

msg!(POD_RESOURCE_CLAIM, "PodResourceClaim" {
    1 "name" Str R,
    3 "resourceClaimName" Str P,
    4 "resourceClaimTemplateName" Str P,
});

msg!(POD_RESOURCE_CLAIM_STATUS, "PodResourceClaimStatus" {
    1 "name" Str R,
    2 "resourceClaimName" Str P,
});

msg!(POD_OS, "PodOS" {
    1 "name" Str R,
});

msg!(POD_SCHEDULING_GATE, "PodSchedulingGate" {
    1 "name" Str R,
});

msg!(TOPOLOGY_SPREAD_CONSTRAINT, "TopologySpreadConstraint" {
    1 "maxSkew" I32 R,
    2 "topologyKey" Str R,
    3 "whenUnsatisfiable" Str R,
    4 "labelSelector" (M LABEL_SELECTOR) P,
    5 "minDomains" I32 P,
    6 "nodeAffinityPolicy" Str P,
    7 "nodeTaintsPolicy" Str P,
    8 "matchLabelKeys" Str L,
});

msg!(HOST_ALIAS, "HostAlias" {
    1 "ip" Str R,
    2 "hostnames" Str L,
});

msg!(POD_SECURITY_CONTEXT, "PodSecurityContext" {
    1 "seLinuxOptions" (M SE_LINUX_OPTIONS) P,
    8 "windowsOptions" (M WINDOWS_SECURITY_CONTEXT_OPTIONS) P,
    2 "runAsUser" I64 P,
    6 "runAsGroup" I64 P,
    3 "runAsNonRoot" Bool P,
    4 "supplementalGroups" I64 L,
    12 "supplementalGroupsPolicy" Str P,
    5 "fsGroup" I64 P,
    7 "sysctls" (M SYSCTL) L,
    9 "fsGroupChangePolicy" Str P,
    10 "seccompProfile" (M SECCOMP_PROFILE) P,
    11 "appArmorProfile" (M APP_ARMOR_PROFILE) P,
    13 "seLinuxChangePolicy" Str P,
});

msg!(SECCOMP_PROFILE, "SeccompProfile" {
    1 "type" Str R,
    2 "localhostProfile" Str P,
});

msg!(POD_DNS_CONFIG, "PodDNSConfig" {
    1 "nameservers" Str L,
    2 "searches" Str L,
    3 "options" (M POD_DNS_CONFIG_OPTION) L,
});

msg!(POD_DNS_CONFIG_OPTION, "PodDNSConfigOption" {
    1 "name" Str O,
    2 "value" Str P,
});

msg!(POD_IP, "PodIP" {
    1 "ip" Str R,
});

msg!(HOST_IP, "HostIP" {
    1 "ip" Str R,
});

msg!(EPHEMERAL_CONTAINER, "EphemeralContainer" {
    1 "" (In CONTAINER) O,
    2 "targetContainerName" Str O,
});

msg!(POD_STATUS, "PodStatus" {
    1 "phase" Str O,
    2 "conditions" (M POD_CONDITION) L,
    3 "message" Str O,
    4 "reason" Str O,
    11 "nominatedNodeName" Str O,
    5 "hostIP" Str O,
    16 "hostIPs" (M HOST_IP) L,
    6 "podIP" Str O,
    12 "podIPs" (M POD_IP) L,
    7 "startTime" Time P,
    10 "initContainerStatuses" (M CONTAINER_STATUS) L,
    8 "containerStatuses" (M CONTAINER_STATUS) L,
    9 "qosClass" Str O,
    13 "ephemeralContainerStatuses" (M CONTAINER_STATUS) L,
    14 "resize" Str O,
    15 "resourceClaimStatuses" (M POD_RESOURCE_CLAIM_STATUS) L,
});

msg!(POD, "Pod" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M POD_SPEC) O,
    3 "status" (M POD_STATUS) O,
});

msg!(POD_TEMPLATE_SPEC, "PodTemplateSpec" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M POD_SPEC) O,
});

msg!(SESSION_AFFINITY_CONFIG, "SessionAffinityConfig" {
    1 "clientIP" (M CLIENT_IP_CONFIG) P,
});

msg!(CLIENT_IP_CONFIG, "ClientIPConfig" {
    1 "timeoutSeconds" I32 P,
});

msg!(SERVICE_STATUS, "ServiceStatus" {
    1 "loadBalancer" (M LOAD_BALANCER_STATUS) O,
    2 "conditions" (M CONDITION) L,
});

msg!(LOAD_BALANCER_STATUS, "LoadBalancerStatus" {
    1 "ingress" (M LOAD_BALANCER_INGRESS) L,
});

msg!(LOAD_BALANCER_INGRESS, "LoadBalancerIngress" {
    1 "ip" Str O,
    2 "hostname" Str O,
    3 "ipMode" Str P,
    4 "ports" (M PORT_STATUS) L,
});

msg!(SERVICE_SPEC, "ServiceSpec" {
    1 "ports" (M SERVICE_PORT) L,
    2 "selector" (Map Str) L,
    3 "clusterIP" Str O,
    18 "clusterIPs" Str L,
    4 "type" Str O,
    5 "externalIPs" Str L,
    7 "sessionAffinity" Str O,
    8 "loadBalancerIP" Str O,
    9 "loadBalancerSourceRanges" Str L,
    10 "externalName" Str O,
    11 "externalTrafficPolicy" Str O,
    12 "healthCheckNodePort" I32 O,
    13 "publishNotReadyAddresses" Bool O,
    14 "sessionAffinityConfig" (M SESSION_AFFINITY_CONFIG) P,
    19 "ipFamilies" Str L,
    17 "ipFamilyPolicy" Str P,
    20 "allocateLoadBalancerNodePorts" Bool P,
    21 "loadBalancerClass" Str P,
    22 "internalTrafficPolicy" Str P,
    23 "trafficDistribution" Str P,
});

msg!(SERVICE_PORT, "ServicePort" {
    1 "name" Str O,
    2 "protocol" Str O,
    6 "appProtocol" Str P,
    3 "port" I32 R,
    4 "targetPort" IntOrString O,
    5 "nodePort" I32 O,
});

msg!(SERVICE, "Service" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M SERVICE_SPEC) O,
    3 "status" (M SERVICE_STATUS) O,
});

msg!(SERVICE_ACCOUNT, "ServiceAccount" {
    1 "metadata" (M OBJECT_META) O,
    2 "secrets" (M OBJECT_REFERENCE) L,
    3 "imagePullSecrets" (M LOCAL_OBJECT_REFERENCE) L,
    4 "automountServiceAccountToken" Bool P,
});

msg!(NAMESPACE_SPEC, "NamespaceSpec" {
    1 "finalizers" Str L,
});

msg!(NAMESPACE_STATUS, "NamespaceStatus" {
    1 "phase" Str O,
    2 "conditions" (M NAMESPACE_CONDITION) L,
});

msg!(NAMESPACE_CONDITION, "NamespaceCondition" {
    1 "type" Str R,
    2 "status" Str R,
    4 "lastTransitionTime" Time O,
    5 "reason" Str O,
    6 "message" Str O,
});

msg!(NAMESPACE, "Namespace" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M NAMESPACE_SPEC) O,
    3 "status" (M NAMESPACE_STATUS) O,
});

msg!(BINDING, "Binding" {
    1 "metadata" (M OBJECT_META) O,
    2 "target" (M OBJECT_REFERENCE) R,
});

msg!(OBJECT_REFERENCE, "ObjectReference" {
    1 "kind" Str O,
    2 "namespace" Str O,
    3 "name" Str O,
    4 "uid" Str O,
    5 "apiVersion" Str O,
    6 "resourceVersion" Str O,
    7 "fieldPath" Str O,
});

msg!(LOCAL_OBJECT_REFERENCE, "LocalObjectReference" {
    1 "name" Str O,
});

msg!(TYPED_LOCAL_OBJECT_REFERENCE, "TypedLocalObjectReference" {
    1 "apiGroup" Str Pn,
    2 "kind" Str R,
    3 "name" Str R,
});

msg!(RESOURCE_QUOTA_SPEC, "ResourceQuotaSpec" {
    1 "hard" (Map Quantity) L,
    2 "scopes" Str L,
    3 "scopeSelector" (M SCOPE_SELECTOR) P,
});

msg!(SCOPE_SELECTOR, "ScopeSelector" {
    1 "matchExpressions" (M SCOPED_RESOURCE_SELECTOR_REQUIREMENT) L,
});

msg!(SCOPED_RESOURCE_SELECTOR_REQUIREMENT, "ScopedResourceSelectorRequirement" {
    1 "scopeName" Str R,
    2 "operator" Str R,
    3 "values" Str L,
});

msg!(RESOURCE_QUOTA_STATUS, "ResourceQuotaStatus" {
    1 "hard" (Map Quantity) L,
    2 "used" (Map Quantity) L,
});

msg!(RESOURCE_QUOTA, "ResourceQuota" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M RESOURCE_QUOTA_SPEC) O,
    3 "status" (M RESOURCE_QUOTA_STATUS) O,
});

msg!(SECRET, "Secret" {
    1 "metadata" (M OBJECT_META) O,
    5 "immutable" Bool P,
    2 "data" (Map Bytes) L,
    4 "stringData" (Map Str) L,
    3 "type" Str O,
});

msg!(CONFIG_MAP, "ConfigMap" {
    1 "metadata" (M OBJECT_META) O,
    4 "immutable" Bool P,
    2 "data" (Map Str) L,
    3 "binaryData" (Map Bytes) L,
});

msg!(DOWNWARD_API_VOLUME_SOURCE, "DownwardAPIVolumeSource" {
    1 "items" (M DOWNWARD_API_VOLUME_FILE) L,
    2 "defaultMode" I32 P,
});

msg!(DOWNWARD_API_VOLUME_FILE, "DownwardAPIVolumeFile" {
    1 "path" Str R,
    2 "fieldRef" (M OBJECT_FIELD_SELECTOR) P,
    3 "resourceFieldRef" (M RESOURCE_FIELD_SELECTOR) P,
    4 "mode" I32 P,
});

msg!(DOWNWARD_API_PROJECTION, "DownwardAPIProjection" {
    1 "items" (M DOWNWARD_API_VOLUME_FILE) L,
});

msg!(SECURITY_CONTEXT, "SecurityContext" {
    1 "capabilities" (M CAPABILITIES) P,
    2 "privileged" Bool P,
    3 "seLinuxOptions" (M SE_LINUX_OPTIONS) P,
    10 "windowsOptions" (M WINDOWS_SECURITY_CONTEXT_OPTIONS) P,
    4 "runAsUser" I64 P,
    8 "runAsGroup" I64 P,
    5 "runAsNonRoot" Bool P,
    6 "readOnlyRootFilesystem" Bool P,
    7 "allowPrivilegeEscalation" Bool P,
    9 "procMount" Str P,
    11 "seccompProfile" (M SECCOMP_PROFILE) P,
    12 "appArmorProfile" (M APP_ARMOR_PROFILE) P,
});

msg!(APP_ARMOR_PROFILE, "AppArmorProfile" {
    1 "type" Str R,
    2 "localhostProfile" Str P,
});

msg!(SE_LINUX_OPTIONS, "SELinuxOptions" {
    1 "user" Str O,
    2 "role" Str O,
    3 "type" Str O,
    4 "level" Str O,
});

msg!(WINDOWS_SECURITY_CONTEXT_OPTIONS, "WindowsSecurityContextOptions" {
    1 "gmsaCredentialSpecName" Str P,
    2 "gmsaCredentialSpec" Str P,
    3 "runAsUserName" Str P,
    4 "hostProcess" Bool P,
});

msg!(SYSCTL, "Sysctl" {
    1 "name" Str R,
    2 "value" Str R,
});

msg!(PORT_STATUS, "PortStatus" {
    1 "port" I32 R,
    2 "protocol" Str R,
    3 "error" Str P,
});

msg!(IMAGE_VOLUME_SOURCE, "ImageVolumeSource" {
    1 "reference" Str O,
    2 "pullPolicy" Str O,
});

msg!(CONTAINER_STATUS, "ContainerStatus" {
    1 "name" Str R,
    2 "state" (M CONTAINER_STATE) O,
    3 "lastState" (M CONTAINER_STATE) O,
    4 "ready" Bool R,
    5 "restartCount" I32 R,
    6 "image" Str R,
    7 "imageID" Str R,
    8 "containerID" Str O,
    9 "started" Bool P,
    10 "allocatedResources" (Map Quantity) L,
    11 "resources" (M RESOURCE_REQUIREMENTS) P,
    12 "volumeMounts" (M VOLUME_MOUNT_STATUS) L,
    13 "user" (M CONTAINER_USER) P,
    14 "allocatedResourcesStatus" (M RESOURCE_STATUS) L,
});

msg!(VOLUME_MOUNT_STATUS, "VolumeMountStatus" {
    1 "name" Str R,
    2 "mountPath" Str R,
    3 "readOnly" Bool O,
    4 "recursiveReadOnly" Str P,
});

msg!(CONTAINER_USER, "ContainerUser" {
    1 "linux" (M LINUX_CONTAINER_USER) P,
});

msg!(LINUX_CONTAINER_USER, "LinuxContainerUser" {
    1 "uid" I64 R,
    2 "gid" I64 R,
    3 "supplementalGroups" I64 L,
});

msg!(RESOURCE_STATUS, "ResourceStatus" {
    1 "name" Str R,
    2 "resources" (M RESOURCE_HEALTH) L,
});

msg!(RESOURCE_HEALTH, "ResourceHealth" {
    1 "resourceID" Str R,
    2 "health" Str O,
});

msg!(PERSISTENT_VOLUME_CLAIM, "PersistentVolumeClaim" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M PERSISTENT_VOLUME_CLAIM_SPEC) O,
    3 "status" (M PERSISTENT_VOLUME_CLAIM_STATUS) O,
});

msg!(PERSISTENT_VOLUME_CLAIM_STATUS, "PersistentVolumeClaimStatus" {
    1 "phase" Str O,
    2 "accessModes" Str L,
    3 "capacity" (Map Quantity) L,
    4 "conditions" (M PERSISTENT_VOLUME_CLAIM_CONDITION) L,
    5 "allocatedResources" (Map Quantity) L,
    7 "allocatedResourceStatuses" (Map Str) L,
    8 "currentVolumeAttributesClassName" Str P,
    9 "modifyVolumeStatus" (M MODIFY_VOLUME_STATUS) P,
});

msg!(PERSISTENT_VOLUME_CLAIM_CONDITION, "PersistentVolumeClaimCondition" {
    1 "type" Str R,
    2 "status" Str R,
    3 "lastProbeTime" Time O,
    4 "lastTransitionTime" Time O,
    5 "reason" Str O,
    6 "message" Str O,
});

msg!(MODIFY_VOLUME_STATUS, "ModifyVolumeStatus" {
    1 "targetVolumeAttributesClassName" Str O,
    2 "status" Str R,
});

msg!(EVENT, "Event" {
    1 "metadata" (M OBJECT_META) R,
    2 "involvedObject" (M OBJECT_REFERENCE) R,
    3 "reason" Str O,
    4 "message" Str O,
    5 "source" (M EVENT_SOURCE) O,
    6 "firstTimestamp" Time O,
    7 "lastTimestamp" Time O,
    8 "count" I32 O,
    9 "type" Str O,
    10 "eventTime" MicroTime O,
    11 "series" (M EVENT_SERIES) P,
    12 "action" Str O,
    13 "related" (M OBJECT_REFERENCE) P,
    14 "reportingComponent" Str R,
    15 "reportingInstance" Str R,
});

msg!(EVENT_SOURCE, "EventSource" {
    1 "component" Str O,
    2 "host" Str O,
});

msg!(EVENT_SERIES, "EventSeries" {
    1 "count" I32 O,
    2 "lastObservedTime" MicroTime O,
});
