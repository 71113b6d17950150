//! A container's environment, command and resources as CRI wants them.
//!
//! [`container_env`] builds the environment the kubelet gives a container:
//! `envFrom` sources first, then `env` entries, with `$(VAR)` references
//! expanded ([`expand`]) and `valueFrom` sources resolved (pod fields,
//! container resources, ConfigMap and Secret keys read through the API).
//! [`command_and_args`] expands the command line against that environment
//! and [`linux_resources`] turns requests and limits into cgroup settings
//! and an OOM score adjustment.

use std::collections::{BTreeMap, HashMap};

use std::sync::Arc;

use k_api_types::Resource;
use k_api_types::core::v1::{
    ConfigMap, Container, EnvVarSource, ObjectFieldSelector, Pod, ResourceFieldSelector, Secret,
};
use k_api_types::quantity::Quantity;
use k_netplugin::cri::{KeyValue, LinuxContainerResources};
use k_store::{Api, ObjectApi};

use crate::pods::status::{QOS_BEST_EFFORT, QOS_GUARANTEED, qos_class};

/// Why an environment could not be built (the kubelet reports these as
/// the waiting reason CreateContainerConfigError with this message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// A referenced ConfigMap does not exist and is not optional.
    #[error("configmap \"{name}\" not found")]
    ConfigMapNotFound {
        /// The ConfigMap's name.
        name: String,
    },
    /// A referenced Secret does not exist and is not optional.
    #[error("secret \"{name}\" not found")]
    SecretNotFound {
        /// The Secret's name.
        name: String,
    },
    /// A `configMapKeyRef` names a key the ConfigMap does not have.
    #[error("couldn't find key {key} in ConfigMap {namespace}/{name}")]
    ConfigMapKeyNotFound {
        /// The missing key.
        key: String,
        /// The pod's namespace.
        namespace: String,
        /// The ConfigMap's name.
        name: String,
    },
    /// A `secretKeyRef` names a key the Secret does not have.
    #[error("couldn't find key {key} in Secret {namespace}/{name}")]
    SecretKeyNotFound {
        /// The missing key.
        key: String,
        /// The pod's namespace.
        namespace: String,
        /// The Secret's name.
        name: String,
    },
    /// A `fieldRef` in another API version than `v1`.
    #[error("unsupported pod version: {0}")]
    UnsupportedVersion(String),
    /// A `fieldRef` path the environment cannot take.
    #[error("unsupported fieldPath: {0}")]
    UnsupportedFieldPath(String),
    /// A `resourceFieldRef` resource that is not supported.
    #[error("unsupported container resource: {0}")]
    UnsupportedResource(String),
    /// A `resourceFieldRef` names a container the pod does not have.
    #[error("container {0} not found")]
    ContainerNotFound(String),
    /// Reading from the API failed, or an object could not be decoded.
    #[error("{0}")]
    Store(String),
}

/// The priority class whose pods get the Guaranteed OOM score whatever
/// their resources (kubelet's node-critical pods).
const SYSTEM_NODE_CRITICAL: &str = "system-node-critical";
/// OOM score adjustment of Guaranteed (and node-critical) containers.
const GUARANTEED_OOM_SCORE_ADJ: i64 = -997;
/// OOM score adjustment of BestEffort containers.
const BEST_EFFORT_OOM_SCORE_ADJ: i64 = 1000;
/// cgroup v1 cpu.shares bounds and scale.
const MIN_SHARES: i64 = 2;
const MAX_SHARES: i64 = 262_144;
const SHARES_PER_CPU: i64 = 1024;
/// CFS period (µs) and the smallest quota the kubelet sets.
const QUOTA_PERIOD: i64 = 100_000;
const MIN_QUOTA: i64 = 1000;
/// Resources whose missing limit is taken from the node's allocatable.
const NODE_DEFAULTED: [&str; 3] = ["cpu", "memory", "ephemeral-storage"];

/// An environment being built: insertion order kept, a later value for a
/// name replaces the earlier one in place.
#[derive(Default)]
struct EnvList {
    vars: Vec<KeyValue>,
    index: HashMap<String, usize>,
}

impl EnvList {
    fn set(&mut self, key: String, value: String) {
        match self.index.get(&key) {
            Some(&i) => self.vars[i].value = value,
            None => {
                self.index.insert(key.clone(), self.vars.len());
                self.vars.push(KeyValue { key, value });
            }
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.index.get(key).map(|&i| self.vars[i].value.as_str())
    }
}

/// Whether `name` may be an environment variable name (Kubernetes' relaxed
/// rule, as k's pod validation applies it: printable ASCII without `=`).
fn valid_env_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'=')
}

/// The ConfigMaps and Secrets of one namespace, each read at most once.
struct Objects {
    api: Arc<dyn ObjectApi>,
    namespace: String,
    config_maps: HashMap<String, Option<BTreeMap<String, String>>>,
    secrets: HashMap<String, Option<BTreeMap<String, String>>>,
}

impl Objects {
    fn new(api: &Arc<dyn ObjectApi>, namespace: &str) -> Self {
        Objects {
            api: api.clone(),
            namespace: namespace.to_owned(),
            config_maps: HashMap::new(),
            secrets: HashMap::new(),
        }
    }

    /// An object of the pod's namespace, `None` if it does not exist.
    async fn read<K: Resource>(&self, name: &str) -> Result<Option<K>, EnvError> {
        let api: Api<K> = Api::with_client(self.api.clone(), Some(self.namespace.clone()));
        api.get_opt(name).await.map_err(|e| EnvError::Store(e.to_string()))
    }

    /// A ConfigMap's `data` (binaryData is not part of the environment).
    async fn config_map(&mut self, name: &str) -> Result<Option<&BTreeMap<String, String>>, EnvError> {
        if !self.config_maps.contains_key(name) {
            let data = self.read::<ConfigMap>(name).await?.map(|cm| cm.data.into_iter().collect());
            self.config_maps.insert(name.to_string(), data);
        }
        Ok(self.config_maps[name].as_ref())
    }

    /// A Secret's `data` (decoded by its type), as text.
    async fn secret(&mut self, name: &str) -> Result<Option<&BTreeMap<String, String>>, EnvError> {
        if !self.secrets.contains_key(name) {
            let data = self.read::<Secret>(name).await?.map(|secret| {
                secret.data.into_iter().map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned())).collect()
            });
            self.secrets.insert(name.to_string(), data);
        }
        Ok(self.secrets[name].as_ref())
    }
}

/// The environment of `container` in `pod`, in Kubernetes' order: envFrom
/// sources first (configMapRef/secretRef, with prefix; keys that are not
/// valid env names are skipped), then `env` entries (a later entry with the
/// same name wins, keeping the first position); `value` strings have $(VAR)
/// references expanded against the variables defined before them
/// (`$$` escapes, unknown references kept as written); valueFrom: fieldRef
/// (metadata.name, metadata.namespace, metadata.uid, metadata.labels['k'],
/// metadata.annotations['k'], spec.nodeName, spec.serviceAccountName,
/// status.podIP, status.podIPs, status.hostIP, status.hostIPs),
/// resourceFieldRef (limits.cpu, limits.memory, requests.cpu,
/// requests.memory, limits.ephemeral-storage, requests.ephemeral-storage,
/// with divisor; cpu rounds up to whole units of the divisor, as Kubernetes
/// does; a missing limit falls back to the node allocatable given),
/// configMapKeyRef, secretKeyRef (optional=true tolerates absence).
/// ConfigMaps and Secrets are read through `api` in the pod's namespace.
///
/// `pod_ips` and `host_ips` feed `status.podIP(s)` and `status.hostIP(s)`;
/// when empty, the pod's status is used instead.
pub async fn container_env(
    api: &Arc<dyn ObjectApi>,
    pod: &Pod,
    container: &Container,
    pod_ips: &[String],
    host_ips: &[String],
    node_allocatable: &BTreeMap<String, String>,
) -> Result<Vec<KeyValue>, EnvError> {
    let namespace = pod.metadata.namespace.as_str();
    let mut objects = Objects::new(api, namespace);
    let mut env = EnvList::default();

    for source in &container.env_from {
        let prefix = source.prefix.as_deref().unwrap_or_default();
        let data = if let Some(r) = &source.config_map_ref {
            match objects.config_map(&r.name).await? {
                Some(data) => data,
                None if r.optional == Some(true) => continue,
                None => return Err(EnvError::ConfigMapNotFound { name: r.name.clone() }),
            }
        } else if let Some(r) = &source.secret_ref {
            match objects.secret(&r.name).await? {
                Some(data) => data,
                None if r.optional == Some(true) => continue,
                None => return Err(EnvError::SecretNotFound { name: r.name.clone() }),
            }
        } else {
            continue;
        };
        let mut skipped = Vec::new();
        for (key, value) in data {
            let name = format!("{prefix}{key}");
            if valid_env_name(&name) {
                env.set(name, value.clone());
            } else {
                skipped.push(name);
            }
        }
        if !skipped.is_empty() {
            tracing::warn!(pod = %pod.metadata.name, namespace, ?skipped,
                "envFrom keys skipped: not valid environment variable names");
        }
    }

    let ips = Ips::of(pod, pod_ips, host_ips);
    for var in &container.env {
        let value = match (&var.value, &var.value_from) {
            (Some(v), _) if !v.is_empty() => expand_with(v, |name| env.get(name)),
            (_, Some(from)) => match value_from(&mut objects, from, pod, container, &ips, node_allocatable).await? {
                Some(v) => v,
                None => continue,
            },
            _ => String::new(),
        };
        env.set(var.name.clone(), value);
    }
    Ok(env.vars)
}

/// The pod's and node's addresses for `status.*` field references.
struct Ips {
    pod: Vec<String>,
    host: Vec<String>,
}

impl Ips {
    fn of(pod: &Pod, pod_ips: &[String], host_ips: &[String]) -> Self {
        let status = pod.status.as_ref();
        let pod_ips = if pod_ips.is_empty() {
            status
                .map(|s| {
                    if s.pod_ips.is_empty() {
                        s.pod_ip.iter().filter(|ip| !ip.is_empty()).cloned().collect()
                    } else {
                        s.pod_ips.iter().map(|ip| ip.ip.clone()).collect()
                    }
                })
                .unwrap_or_default()
        } else {
            pod_ips.to_vec()
        };
        let host_ips = if host_ips.is_empty() {
            status
                .map(|s| {
                    if s.host_ips.is_empty() {
                        s.host_ip.iter().filter(|ip| !ip.is_empty()).cloned().collect()
                    } else {
                        s.host_ips.iter().map(|ip| ip.ip.clone()).collect()
                    }
                })
                .unwrap_or_default()
        } else {
            host_ips.to_vec()
        };
        Ips { pod: pod_ips, host: host_ips }
    }
}

/// The value of a `valueFrom`, `None` when an optional source is absent
/// (the variable is then left out).
async fn value_from(
    objects: &mut Objects,
    from: &EnvVarSource,
    pod: &Pod,
    container: &Container,
    ips: &Ips,
    node_allocatable: &BTreeMap<String, String>,
) -> Result<Option<String>, EnvError> {
    if let Some(field) = &from.field_ref {
        return field_value(pod, field, ips).map(Some);
    }
    if let Some(resource) = &from.resource_field_ref {
        return resource_value(pod, container, resource, node_allocatable).map(Some);
    }
    if let Some(r) = &from.config_map_key_ref {
        let optional = r.optional == Some(true);
        let namespace = objects.namespace.to_string();
        return match objects.config_map(&r.name).await? {
            Some(data) => match data.get(&r.key) {
                Some(v) => Ok(Some(v.clone())),
                None if optional => Ok(None),
                None => Err(EnvError::ConfigMapKeyNotFound { key: r.key.clone(), namespace, name: r.name.clone() }),
            },
            None if optional => Ok(None),
            None => Err(EnvError::ConfigMapNotFound { name: r.name.clone() }),
        };
    }
    if let Some(r) = &from.secret_key_ref {
        let optional = r.optional == Some(true);
        let namespace = objects.namespace.to_string();
        return match objects.secret(&r.name).await? {
            Some(data) => match data.get(&r.key) {
                Some(v) => Ok(Some(v.clone())),
                None if optional => Ok(None),
                None => Err(EnvError::SecretKeyNotFound { key: r.key.clone(), namespace, name: r.name.clone() }),
            },
            None if optional => Ok(None),
            None => Err(EnvError::SecretNotFound { name: r.name.clone() }),
        };
    }
    Ok(Some(String::new()))
}

/// A `fieldRef` value (the paths Kubernetes allows in env).
fn field_value(pod: &Pod, field: &ObjectFieldSelector, ips: &Ips) -> Result<String, EnvError> {
    let version = field.api_version.as_deref().filter(|v| !v.is_empty()).unwrap_or("v1");
    if version != "v1" {
        return Err(EnvError::UnsupportedVersion(version.to_string()));
    }
    let path = field.field_path.as_str();
    pod_field(pod, path, &ips.pod, &ips.host).ok_or_else(|| EnvError::UnsupportedFieldPath(path.to_string()))
}

/// A pod field by its `fieldPath`, as env `fieldRef`s and downwardAPI
/// volumes read them: `metadata.name`, `.namespace`, `.uid`, one label or
/// annotation (`metadata.labels['k']`, empty when absent),
/// `spec.nodeName`, `spec.serviceAccountName`, and `status.podIP(s)` /
/// `status.hostIP(s)` from the given addresses. `None` for other paths.
pub(crate) fn pod_field(pod: &Pod, path: &str, pod_ips: &[String], host_ips: &[String]) -> Option<String> {
    let meta = &pod.metadata;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let value = match path {
        "metadata.name" => meta.name.clone(),
        "metadata.namespace" => meta.namespace.clone(),
        "metadata.uid" => meta.uid.clone(),
        "spec.nodeName" => text(&pod.spec.node_name),
        "spec.serviceAccountName" => text(&pod.spec.service_account_name),
        "status.podIP" => pod_ips.first().cloned().unwrap_or_default(),
        "status.podIPs" => pod_ips.join(","),
        "status.hostIP" => host_ips.first().cloned().unwrap_or_default(),
        "status.hostIPs" => host_ips.join(","),
        _ => {
            let subscript = |base: &str| path.strip_prefix(base)?.strip_prefix("['")?.strip_suffix("']");
            if let Some(key) = subscript("metadata.labels") {
                meta.labels.get(key).cloned().unwrap_or_default()
            } else if let Some(key) = subscript("metadata.annotations") {
                meta.annotations.get(key).cloned().unwrap_or_default()
            } else {
                return None;
            }
        }
    };
    Some(value)
}

/// Parses a quantity given as text (node allocatable), ignoring bad ones.
fn parse_quantity(s: &str) -> Option<Quantity> {
    s.parse().ok()
}

/// `⌈a / b⌉` for `a ≥ 0`, `b > 0`.
fn ceil_div(a: i64, b: i64) -> i64 {
    let (a, b) = (i128::from(a.max(0)), i128::from(b.max(1)));
    i64::try_from((a + b - 1) / b).unwrap_or(i64::MAX)
}

/// A `resourceFieldRef` value: the container's request or limit (a missing
/// cpu, memory or ephemeral-storage limit is the node's allocatable) in
/// whole units of the divisor, rounded up.
fn resource_value(
    pod: &Pod,
    container: &Container,
    selector: &ResourceFieldSelector,
    node_allocatable: &BTreeMap<String, String>,
) -> Result<String, EnvError> {
    let target = match selector.container_name.as_deref().filter(|n| !n.is_empty()) {
        None => container,
        Some(name) => pod
            .spec
            .containers
            .iter()
            .chain(&pod.spec.init_containers)
            .find(|c| c.name == name)
            .ok_or_else(|| EnvError::ContainerNotFound(name.to_string()))?,
    };
    let unsupported = || EnvError::UnsupportedResource(selector.resource.clone());
    let (kind, name) = selector.resource.split_once('.').ok_or_else(unsupported)?;
    if !(NODE_DEFAULTED.contains(&name) || name.starts_with("hugepages-")) {
        return Err(unsupported());
    }
    let resources = target.resources.as_ref();
    let limit = resources.and_then(|r| r.limits.get(name));
    let quantity = match kind {
        "limits" => limit.cloned().or_else(|| {
            node_allocatable.get(name).filter(|_| NODE_DEFAULTED.contains(&name)).and_then(|s| parse_quantity(s))
        }),
        // A request left unset defaults to the limit, as the API server's
        // defaults do.
        "requests" => resources.and_then(|r| r.requests.get(name)).or(limit).cloned(),
        _ => return Err(unsupported()),
    }
    .unwrap_or_default();
    let one = Quantity::from_value(1, k_api_types::quantity::QuantityFormat::DecimalSI);
    let divisor = selector.divisor.clone().filter(|d| !d.is_zero() && !d.is_negative()).unwrap_or(one);
    let value = if name == "cpu" {
        ceil_div(quantity.milli_value(), divisor.milli_value())
    } else {
        ceil_div(quantity.value(), divisor.value())
    };
    Ok(value.to_string())
}

/// Expands `$(VAR)` references in `s` with `lookup` (Kubernetes' rules:
/// `$$` → `$`, unknown or unterminated references are kept as written).
fn expand_with<'a>(s: &str, lookup: impl Fn(&str) -> Option<&'a str>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('(') {
            match tail.find(')') {
                Some(end) => {
                    let name = &tail[..end];
                    match lookup(name) {
                        Some(value) => out.push_str(value),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &tail[end + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = tail;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Expands $(VAR) references in `s` against `env` (Kubernetes' rules:
/// `$$` → `$`, unknown or unterminated references are kept as written).
pub fn expand(s: &str, env: &[KeyValue]) -> String {
    expand_with(s, |name| env.iter().rev().find(|kv| kv.key == name).map(|kv| kv.value.as_str()))
}

/// command and args with $(VAR) expanded.
pub fn command_and_args(container: &Container, env: &[KeyValue]) -> (Vec<String>, Vec<String>) {
    let lookup: HashMap<&str, &str> = env.iter().map(|kv| (kv.key.as_str(), kv.value.as_str())).collect();
    let expand_all =
        |items: &[String]| items.iter().map(|s| expand_with(s, |name| lookup.get(name).copied())).collect::<Vec<_>>();
    (expand_all(&container.command), expand_all(&container.args))
}

/// cpu.shares for a cpu request in millicores.
fn milli_cpu_to_shares(milli: i64) -> i64 {
    if milli <= 0 {
        return MIN_SHARES;
    }
    (milli.saturating_mul(SHARES_PER_CPU) / 1000).clamp(MIN_SHARES, MAX_SHARES)
}

/// The Linux resources of a container from its requests/limits, as the kubelet computes them:
/// cpu_shares = requests.cpu (or limits.cpu when no request) in millicores * 1024 / 1000, at least 2 (2 when none);
/// cpu_period = 100000 and cpu_quota = limits.cpu millicores * 100000 / 1000 (at least 1000) when a cpu limit is set, else 0/0;
/// memory_limit_in_bytes = limits.memory in bytes (0 when none); oom_score_adj by QoS class
/// (Guaranteed -997, BestEffort 1000, Burstable: 1000 - 1000*memoryRequest/nodeMemoryCapacity
/// clamped to [3, 999] as the kubelet does (1000 + the Guaranteed adjustment is its floor);
/// `node_memory` is the node's memory capacity in bytes). Pods of the
/// `system-node-critical` priority class get the Guaranteed adjustment.
pub fn linux_resources(pod: &Pod, container: &Container, node_memory: u64) -> LinuxContainerResources {
    let resources = container.resources.as_ref();
    let limit = |name: &str| resources.and_then(|r| r.limits.get(name)).filter(|q| !q.is_zero());
    let request = |name: &str| resources.and_then(|r| r.requests.get(name)).or_else(|| limit(name));

    let cpu_shares = milli_cpu_to_shares(request("cpu").map(Quantity::milli_value).unwrap_or(0));
    let (cpu_period, cpu_quota) = match limit("cpu").map(Quantity::milli_value).filter(|m| *m > 0) {
        Some(milli) => (QUOTA_PERIOD, (milli.saturating_mul(QUOTA_PERIOD) / 1000).max(MIN_QUOTA)),
        None => (0, 0),
    };
    let memory_limit_in_bytes = limit("memory").map(Quantity::as_bytes).unwrap_or(0).max(0);

    let oom_score_adj = if pod.spec.priority_class_name.as_deref() == Some(SYSTEM_NODE_CRITICAL) {
        GUARANTEED_OOM_SCORE_ADJ
    } else {
        match qos_class(pod) {
            QOS_GUARANTEED => GUARANTEED_OOM_SCORE_ADJ,
            QOS_BEST_EFFORT => BEST_EFFORT_OOM_SCORE_ADJ,
            _ => {
                let memory_request = i128::from(request("memory").map(Quantity::as_bytes).unwrap_or(0).max(0));
                let capacity = i128::from(node_memory);
                let adj = if capacity == 0 { 1000 } else { 1000 - 1000 * memory_request / capacity };
                let adj = i64::try_from(adj).unwrap_or(i64::MIN);
                adj.clamp(1000 + GUARANTEED_OOM_SCORE_ADJ, BEST_EFFORT_OOM_SCORE_ADJ - 1)
            }
        }
    };
    LinuxContainerResources { cpu_period, cpu_quota, cpu_shares, memory_limit_in_bytes, oom_score_adj }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue { key: key.into(), value: value.into() }
    }

    async fn store() -> Arc<dyn ObjectApi> {
        let api: Arc<dyn ObjectApi> = Arc::new(k_store::Store::in_memory());
        let cms: Api<ConfigMap> = Api::with_client(api.clone(), Some("default".into()));
        cms.create(
            &serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "cfg", "namespace": "default"}, "data": {"A": "from-cm", "B": "b"}}))
            .unwrap(),
        )
        .await
        .unwrap();
        let secrets: Api<Secret> = Api::with_client(api.clone(), Some("default".into()));
        secrets
            .create(
                &serde_json::from_value(json!({"apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": "pw", "namespace": "default"},
                    "data": {"password": "aHVudGVyMg==", "user": "YWRtaW4="}}))
                .unwrap(),
            )
            .await
            .unwrap();
        api
    }

    fn pod(containers: Value) -> Pod {
        serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-1", "namespace": "default", "uid": "uid-1",
                         "labels": {"app": "web"}, "annotations": {"example.com/owner": "team-a"}},
            "spec": {"nodeName": "node-1", "serviceAccountName": "robot", "containers": containers},
            "status": {"podIP": "10.9.9.9", "podIPs": [{"ip": "10.9.9.9"}], "hostIP": "192.168.9.9"}}))
        .unwrap()
    }

    async fn env_of(api: &Arc<dyn ObjectApi>, pod: &Pod, pod_ips: &[&str]) -> Result<Vec<KeyValue>, EnvError> {
        let pod_ips: Vec<String> = pod_ips.iter().map(|s| s.to_string()).collect();
        let host_ips = vec!["192.168.1.2".to_string(), "fd00::2".to_string()];
        let allocatable: BTreeMap<String, String> = [("cpu", "4"), ("memory", "8Gi"), ("ephemeral-storage", "10Gi")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        container_env(api, pod, &pod.spec.containers[0], &pod_ips, &host_ips, &allocatable).await
    }

    #[tokio::test]
    async fn env_from_then_env_in_order_with_overrides_and_expansion() {
        let api = store().await;
        let p = pod(json!([{"name": "c", "image": "x",
        "envFrom": [
            {"configMapRef": {"name": "cfg"}},
            {"prefix": "S_", "secretRef": {"name": "pw"}},
            {"prefix": "BAD=", "configMapRef": {"name": "cfg"}},
            {"configMapRef": {"name": "nope", "optional": true}},
            {"secretRef": {"name": "nope", "optional": true}}
        ],
        "env": [
            {"name": "B", "value": "override-$(A)"},
            {"name": "C", "value": "c1"},
            {"name": "D", "value": "$(C)-$(E)-$$(C)"},
            {"name": "E", "value": "e"},
            {"name": "C", "value": "c2"},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "pw", "key": "password"}}},
            {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "missing", "optional": true}}},
            {"name": "OPT2", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k", "optional": true}}},
            {"name": "OPT3", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k", "optional": true}}},
            {"name": "CMK", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "A"}}},
            {"name": "EMPTY"}
        ]}]));
        let env = env_of(&api, &p, &[]).await.unwrap();
        assert_eq!(
            env,
            vec![
                kv("A", "from-cm"),
                kv("B", "override-from-cm"),
                kv("S_password", "hunter2"),
                kv("S_user", "admin"),
                kv("C", "c2"),
                kv("D", "c1-$(E)-$(C)"),
                kv("E", "e"),
                kv("PW", "hunter2"),
                kv("CMK", "from-cm"),
                kv("EMPTY", ""),
            ]
        );
    }

    #[test]
    fn env_names_follow_the_relaxed_rule() {
        assert!(valid_env_name("PATH") && valid_env_name("1abc") && valid_env_name("a.b-c d"));
        assert!(!valid_env_name("") && !valid_env_name("A=B") && !valid_env_name("tab\there") && !valid_env_name("é"));
    }

    #[tokio::test]
    async fn missing_sources_fail_with_kubelet_messages() {
        let api = store().await;
        let cases = [
            (json!({"envFrom": [{"configMapRef": {"name": "nope"}}]}), "configmap \"nope\" not found"),
            (json!({"envFrom": [{"secretRef": {"name": "nope"}}]}), "secret \"nope\" not found"),
            (
                json!({"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "zz"}}}]}),
                "couldn't find key zz in ConfigMap default/cfg",
            ),
            (
                json!({"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "pw", "key": "zz"}}}]}),
                "couldn't find key zz in Secret default/pw",
            ),
            (
                json!({"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "a"}}}]}),
                "configmap \"nope\" not found",
            ),
            (
                json!({"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "a"}}}]}),
                "secret \"nope\" not found",
            ),
            (
                json!({"env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "spec.restartPolicy"}}}]}),
                "unsupported fieldPath: spec.restartPolicy",
            ),
            (
                json!({"env": [{"name": "X", "valueFrom": {"fieldRef": {"apiVersion": "v2", "fieldPath": "metadata.name"}}}]}),
                "unsupported pod version: v2",
            ),
            (
                json!({"env": [{"name": "X", "valueFrom": {"resourceFieldRef": {"resource": "limits.gpu"}}}]}),
                "unsupported container resource: limits.gpu",
            ),
            (
                json!({"env": [{"name": "X", "valueFrom": {"resourceFieldRef": {"containerName": "ghost", "resource": "limits.cpu"}}}]}),
                "container ghost not found",
            ),
        ];
        for (fields, message) in cases {
            let mut container = json!({"name": "c", "image": "x"});
            container.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
            let err = env_of(&api, &pod(json!([container])), &[]).await.unwrap_err();
            assert_eq!(err.to_string(), message);
        }
        assert_eq!(
            env_of(
                &api,
                &pod(json!([{"name": "c", "image": "x", "envFrom": [{"configMapRef": {"name": "nope"}}]}])),
                &[]
            )
            .await,
            Err(EnvError::ConfigMapNotFound { name: "nope".into() })
        );
    }

    #[tokio::test]
    async fn field_refs() {
        let api = store().await;
        let field = |name: &str, path: &str| json!({"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}});
        let p = pod(json!([{"name": "c", "image": "x", "env": [
            field("NAME", "metadata.name"),
            field("NS", "metadata.namespace"),
            field("UID", "metadata.uid"),
            field("APP", "metadata.labels['app']"),
            field("NOLABEL", "metadata.labels['missing']"),
            field("OWNER", "metadata.annotations['example.com/owner']"),
            field("NODE", "spec.nodeName"),
            field("SA", "spec.serviceAccountName"),
            field("POD_IP", "status.podIP"),
            field("POD_IPS", "status.podIPs"),
            field("HOST_IP", "status.hostIP"),
            field("HOST_IPS", "status.hostIPs"),
            {"name": "V1", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
            {"name": "GREETING", "value": "$(NAME) on $(NODE)"}
        ]}]));
        let env = env_of(&api, &p, &["10.0.0.5", "fd00::5"]).await.unwrap();
        let get = |k: &str| env.iter().find(|kv| kv.key == k).map(|kv| kv.value.as_str()).unwrap();
        assert_eq!(get("NAME"), "web-1");
        assert_eq!(get("NS"), "default");
        assert_eq!(get("UID"), "uid-1");
        assert_eq!(get("APP"), "web");
        assert_eq!(get("NOLABEL"), "");
        assert_eq!(get("OWNER"), "team-a");
        assert_eq!(get("NODE"), "node-1");
        assert_eq!(get("SA"), "robot");
        assert_eq!(get("POD_IP"), "10.0.0.5");
        assert_eq!(get("POD_IPS"), "10.0.0.5,fd00::5");
        assert_eq!(get("HOST_IP"), "192.168.1.2");
        assert_eq!(get("HOST_IPS"), "192.168.1.2,fd00::2");
        assert_eq!(get("V1"), "web-1");
        assert_eq!(get("GREETING"), "web-1 on node-1");

        // Without IPs given, the pod's status is used.
        let env = container_env(&api, &p, &p.spec.containers[0], &[], &[], &BTreeMap::new()).await.unwrap();
        let get = |k: &str| env.iter().find(|kv| kv.key == k).map(|kv| kv.value.clone()).unwrap();
        assert_eq!(
            (get("POD_IP"), get("POD_IPS"), get("HOST_IP")),
            ("10.9.9.9".into(), "10.9.9.9".into(), "192.168.9.9".into())
        );
    }

    #[tokio::test]
    async fn resource_field_refs_with_divisors_and_node_defaults() {
        let api = store().await;
        let res = |name: &str, resource: &str, divisor: Option<&str>, container: Option<&str>| {
            let mut sel = json!({"resource": resource});
            if let Some(d) = divisor {
                sel["divisor"] = json!(d);
            }
            if let Some(c) = container {
                sel["containerName"] = json!(c);
            }
            json!({"name": name, "valueFrom": {"resourceFieldRef": sel}})
        };
        let p = pod(json!([
            {"name": "c", "image": "x",
             "resources": {"limits": {"cpu": "250m", "memory": "64Mi"}, "requests": {"cpu": "100m"}},
             "env": [
                res("CPU", "limits.cpu", None, None),
                res("CPU_1", "limits.cpu", Some("1"), None),
                res("CPU_M", "limits.cpu", Some("1m"), None),
                res("REQ_CPU_M", "requests.cpu", Some("1m"), None),
                res("MEM_MI", "limits.memory", Some("1Mi"), None),
                res("MEM", "limits.memory", None, None),
                res("REQ_MEM", "requests.memory", None, None),
                res("EPH_GI", "limits.ephemeral-storage", Some("1Gi"), None),
                res("REQ_EPH", "requests.ephemeral-storage", None, None),
                res("SIDE_CPU", "limits.cpu", None, Some("side")),
                res("SIDE_MEM_GI", "limits.memory", Some("1Gi"), Some("side")),
                res("SIDE_REQ_CPU", "requests.cpu", None, Some("side")),
                res("SIDE_REQ_MEM_K", "requests.memory", Some("1k"), Some("side"))
             ]},
            {"name": "side", "image": "x", "resources": {"requests": {"cpu": "1500m", "memory": "1500"}}}
        ]));
        let env = env_of(&api, &p, &[]).await.unwrap();
        let get = |k: &str| env.iter().find(|kv| kv.key == k).map(|kv| kv.value.as_str()).unwrap();
        assert_eq!(get("CPU"), "1", "250m rounds up to one cpu");
        assert_eq!(get("CPU_1"), "1");
        assert_eq!(get("CPU_M"), "250");
        assert_eq!(get("REQ_CPU_M"), "100");
        assert_eq!(get("MEM_MI"), "64");
        assert_eq!(get("MEM"), "67108864");
        assert_eq!(get("REQ_MEM"), "67108864", "an unset request is the limit");
        assert_eq!(get("EPH_GI"), "10", "node allocatable");
        assert_eq!(get("REQ_EPH"), "0");
        assert_eq!(get("SIDE_CPU"), "4", "node allocatable");
        assert_eq!(get("SIDE_MEM_GI"), "8");
        assert_eq!(get("SIDE_REQ_CPU"), "2", "1500m rounds up");
        assert_eq!(get("SIDE_REQ_MEM_K"), "2", "1500 bytes in 1k units rounds up");
    }

    #[test]
    fn expansion_rules() {
        let env = [kv("A", "x"), kv("B", "y"), kv("A", "z")];
        let cases = [
            ("$(A)", "z"),
            ("$(B)$(A)", "yz"),
            ("pre-$(B)-post", "pre-y-post"),
            ("$$(A)", "$(A)"),
            ("$$$(A)", "$z"),
            ("$(C)", "$(C)"),
            ("$(A", "$(A"),
            ("$($(B)", "$($(B)"),
            ("$(A $(B)", "$(A $(B)"),
            ("$(A$(B)", "$(A$(B)"),
            ("$()", "$()"),
            ("a$b", "a$b"),
            ("$", "$"),
            ("$$", "$"),
            ("end$", "end$"),
            ("é$(B)ü$é", "éyü$é"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(expand(input, &env), want, "expanding {input:?}");
        }
    }

    #[test]
    fn command_and_args_are_expanded() {
        let container: Container = serde_json::from_value(json!({"name": "c", "image": "x",
            "command": ["sh", "-c", "echo $(A) $$(B)"], "args": ["$(B)", "$(Z)", "$(A"]}))
        .unwrap();
        let (command, args) = command_and_args(&container, &[kv("A", "x"), kv("B", "y")]);
        assert_eq!(command, ["sh", "-c", "echo x $(B)"]);
        assert_eq!(args, ["y", "$(Z)", "$(A"]);
    }

    fn resources_pod(resources: Value, priority_class: Option<&str>) -> Pod {
        let mut p = pod(json!([{"name": "c", "image": "x", "resources": resources}]));
        p.spec.priority_class_name = priority_class.map(str::to_string);
        p
    }

    fn lr(cpu_period: i64, cpu_quota: i64, cpu_shares: i64, memory: i64, oom: i64) -> LinuxContainerResources {
        LinuxContainerResources { cpu_period, cpu_quota, cpu_shares, memory_limit_in_bytes: memory, oom_score_adj: oom }
    }

    #[test]
    fn linux_resources_by_qos_class() {
        const GI: u64 = 1 << 30;
        let of = |p: &Pod| linux_resources(p, &p.spec.containers[0], 4 * GI);

        let guaranteed = resources_pod(
            json!({"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "500m", "memory": "128Mi"}}),
            None,
        );
        assert_eq!(of(&guaranteed), lr(100_000, 50_000, 512, 128 << 20, -997));
        // Limits only: requests default to them, still Guaranteed.
        let limits_only = resources_pod(json!({"limits": {"cpu": "2", "memory": "1Gi"}}), None);
        assert_eq!(of(&limits_only), lr(100_000, 200_000, 2048, 1 << 30, -997));

        let burstable =
            resources_pod(json!({"requests": {"cpu": "100m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}), None);
        assert_eq!(of(&burstable), lr(0, 0, 102, 2 << 30, 750));
        let tiny_cpu = resources_pod(json!({"limits": {"cpu": "1m"}}), None);
        assert_eq!(of(&tiny_cpu), lr(100_000, 1000, 2, 0, 999), "quota and shares floors; no memory request → 999");
        let huge_memory = resources_pod(json!({"requests": {"memory": "8Gi"}}), None);
        assert_eq!(of(&huge_memory).oom_score_adj, 3, "floor above Guaranteed's");
        let cpu_only = resources_pod(json!({"requests": {"cpu": "300000"}}), None);
        assert_eq!(of(&cpu_only).cpu_shares, 262_144, "shares ceiling");

        let best_effort = resources_pod(json!({}), None);
        assert_eq!(of(&best_effort), lr(0, 0, 2, 0, 1000));
        let critical = resources_pod(json!({}), Some("system-node-critical"));
        assert_eq!(of(&critical).oom_score_adj, -997);
    }
}
