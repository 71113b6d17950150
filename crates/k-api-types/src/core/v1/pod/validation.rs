//! Validation of pods, pod templates and pod specs, following Kubernetes
//! v1.32 (`ValidatePodSpec`, `ValidatePodCreate`, `ValidatePodUpdate`,
//! `ValidatePodTemplateSpec`): same field paths, causes and messages.
//!
//! Fields that defaulting fills (`restartPolicy`, `dnsPolicy`,
//! `imagePullPolicy`, `terminationMessagePolicy`, port `protocol`, probe
//! timings, `httpGet.scheme`, …) are accepted when absent, so an object
//! validates the same before and after [`ApplyDefaults`](crate::ApplyDefaults).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::IpAddr;

use serde_json::Value;

use crate::intstr::IntOrString;
use crate::meta::LabelSelector;
use crate::quantity::{Quantity, ResourceList};
use crate::validation::{
    DNS1123_LABEL_ERROR, DNS1123_SUBDOMAIN_ERROR, ErrorList, FieldError, NameRule, Path, is_dns1123_label,
    is_dns1123_subdomain, is_qualified_name, is_valid_label_value, qualified_name_errors, validate_annotations,
    validate_label_selector, validate_labels, validate_object_meta, validate_object_meta_update,
};
use crate::{Resource, Validate};

use super::{
    Affinity, Container, ContainerPort, DownwardAPIVolumeFile, EnvFromSource, EnvVar, HTTPGetAction, KeyToPath,
    Lifecycle, LifecycleHandler, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, ObjectFieldSelector, Pod,
    PodAffinityTerm, PodDNSConfig, PodSecurityContext, PodSpec, PodTemplate, PodTemplateSpec, Probe,
    ResourceFieldSelector, ResourceRequirements, SeccompProfile, SecurityContext, Toleration, TopologySpreadConstraint,
    Volume, VolumeMount, WeightedPodAffinityTerm,
};

/// Detail of an out-of-range port number.
const PORT_RANGE_ERROR: &str = "must be between 1 and 65535, inclusive";
/// Detail of a negative number.
const NEGATIVE_ERROR: &str = "must be greater than or equal to 0";
/// Detail of a non-positive number.
const NOT_POSITIVE_ERROR: &str = "must be greater than zero";
/// Detail of a file mode out of range.
const FILE_MODE_ERROR: &str = "must be a number between 0 and 0777 (octal), both inclusive";
/// Detail of a user or group ID out of range.
const ID_RANGE_ERROR: &str = "must be between 0 and 2147483647, inclusive";
/// Detail of an invalid IP address.
const IP_ERROR: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
/// Detail of an init-container-only field on a non-sidecar init container.
const INIT_FORBIDDEN: &str = "may not be set for init containers without restartPolicy=Always";
/// Detail of a field ephemeral containers may not have.
const EPHEMERAL_FORBIDDEN: &str = "cannot be set for an Ephemeral Container";
/// The update rule's message.
const POD_UPDATE_FORBIDDEN: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];
const DNS_POLICIES: &[&str] = &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
const PULL_POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];
const TERMINATION_MESSAGE_POLICIES: &[&str] = &["FallbackToLogsOnError", "File"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const HOST_PATH_TYPES: &[&str] =
    &["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"];
const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
const VOLUME_FIELD_PATHS: &[&str] =
    &["metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"];
const RESOURCE_FIELD_PATHS: &[&str] = &[
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];
const MEMORY_DIVISORS: &[&str] = &["1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"];
const TAINT_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];
const PROFILE_TYPES: &[&str] = &["Localhost", "RuntimeDefault", "Unconfined"];

/// What the spec being validated belongs to.
#[derive(Clone, Copy, Debug)]
struct Ctx<'a> {
    /// A pod (not a template): image volumes need a reference.
    is_pod: bool,
    /// Name of the pod, when known (for generated claim names).
    pod_name: Option<&'a str>,
    /// The pod's termination grace period (default 30).
    grace_period: i64,
    /// The pod's restart policy (default `Always`).
    restart_policy: &'a str,
    /// Whether the pod uses the host user namespace (default true).
    host_users: bool,
}

impl<'a> Ctx<'a> {
    fn new(spec: &'a PodSpec, is_pod: bool, pod_name: Option<&'a str>) -> Self {
        Self {
            is_pod,
            pod_name,
            grace_period: spec.termination_grace_period_seconds.unwrap_or(30),
            restart_policy: spec.restart_policy.as_deref().filter(|s| !s.is_empty()).unwrap_or("Always"),
            host_users: spec.host_users.unwrap_or(true),
        }
    }
}

/// The valid volumes of a pod by name.
type VolumeMap<'a> = BTreeMap<&'a str, &'a Volume>;

// ---------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------

/// Validates a pod spec (containers, volumes, policies…), appending errors under `path`.
///
/// This is the validation shared by pods and every pod template; the
/// pod-only rules are in [`Pod`]'s [`Validate`] implementation.
pub fn validate_pod_spec(spec: &PodSpec, path: &Path, errors: &mut ErrorList) {
    validate_spec(spec, path, Ctx::new(spec, false, None), errors);
}

/// Validates a pod template: its metadata labels/annotations (under
/// `path.labels` / `path.annotations`, as Kubernetes reports them) and its
/// spec (under `path.spec`); templates may not have ephemeral containers.
pub fn validate_pod_template_spec(template: &PodTemplateSpec, path: &Path, errors: &mut ErrorList) {
    validate_labels(&template.metadata.labels, &path.child("labels"), errors);
    validate_annotations(&template.metadata.annotations, &path.child("annotations"), errors);
    let spec_path = path.child("spec");
    validate_pod_spec(&template.spec, &spec_path, errors);
    if !template.spec.ephemeral_containers.is_empty() {
        errors.push(FieldError::forbidden(
            &spec_path.child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
}

impl Validate for Pod {
    fn validate(&self) -> ErrorList {
        let mut errors = Vec::new();
        validate_object_meta(&self.metadata, Self::INFO.namespaced, NameRule::Subdomain, &mut errors);
        let spec_path = Path::new("spec");
        validate_spec(&self.spec, &spec_path, Ctx::new(&self.spec, true, Some(&self.metadata.name)), &mut errors);
        if !self.spec.ephemeral_containers.is_empty() {
            errors.push(FieldError::forbidden(&spec_path.child("ephemeralContainers"), "cannot be set on create"));
        }
        if self.spec.node_name.as_deref().is_some_and(|n| !n.is_empty()) && !self.spec.scheduling_gates.is_empty() {
            errors.push(FieldError::forbidden(
                &spec_path.child("nodeName"),
                "cannot be set until all schedulingGates have been cleared",
            ));
        }
        validate_pod_ips(self, &mut errors);
        for (field, containers) in
            [("containers", &self.spec.containers), ("initContainers", &self.spec.init_containers)]
        {
            for (i, c) in containers.iter().enumerate() {
                validate_image_whitespace(
                    c.image.as_deref(),
                    &spec_path.child(field).index(i).child("image"),
                    &mut errors,
                );
            }
        }
        errors
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = Vec::new();
        validate_object_meta_update(
            &self.metadata,
            &old.metadata,
            Self::INFO.namespaced,
            NameRule::Subdomain,
            &mut errors,
        );
        let spec_path = Path::new("spec");
        validate_spec(&self.spec, &spec_path, Ctx::new(&self.spec, true, Some(&self.metadata.name)), &mut errors);
        validate_pod_spec_update(&self.spec, &old.spec, &spec_path, &mut errors);
        errors
    }
}

impl Validate for PodTemplate {
    fn validate(&self) -> ErrorList {
        let mut errors = Vec::new();
        validate_object_meta(&self.metadata, Self::INFO.namespaced, NameRule::Subdomain, &mut errors);
        validate_pod_template_spec(&self.template, &Path::new("template"), &mut errors);
        errors
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = Vec::new();
        validate_object_meta_update(
            &self.metadata,
            &old.metadata,
            Self::INFO.namespaced,
            NameRule::Subdomain,
            &mut errors,
        );
        validate_pod_template_spec(&self.template, &Path::new("template"), &mut errors);
        errors
    }
}

// ---------------------------------------------------------------------------
// Pod updates
// ---------------------------------------------------------------------------

/// `ValidatePodUpdate`'s spec rules: only images, `activeDeadlineSeconds`
/// (set or lowered), added tolerations (or changed `tolerationSeconds`),
/// removed scheduling gates, `terminationGracePeriodSeconds` from negative to
/// 1, and (while gated) added node selector labels may change.
fn validate_pod_spec_update(new: &PodSpec, old: &PodSpec, path: &Path, errors: &mut ErrorList) {
    for (field, new_cs, old_cs) in [
        ("containers", &new.containers, &old.containers),
        ("initContainers", &new.init_containers, &old.init_containers),
    ] {
        let p = path.child(field);
        if new_cs.len() != old_cs.len() {
            errors.push(FieldError::forbidden(&p, "pod updates may not add or remove containers"));
            return;
        }
        for (i, c) in new_cs.iter().enumerate() {
            validate_image_whitespace(c.image.as_deref(), &p.index(i).child("image"), errors);
        }
    }

    let ads = path.child("activeDeadlineSeconds");
    match (new.active_deadline_seconds, old.active_deadline_seconds) {
        (Some(n), _) if !(0..=i64::from(i32::MAX)).contains(&n) => {
            errors.push(FieldError::invalid(&ads, n, "must be between 0 and 2147483647, inclusive"));
            return;
        }
        (Some(n), Some(o)) if o < n => {
            errors.push(FieldError::invalid(&ads, n, "must be less than or equal to previous value"));
            return;
        }
        (None, Some(_)) => {
            errors.push(FieldError::invalid(&ads, Value::Null, "must not update from a positive integer to nil value"))
        }
        _ => {}
    }

    for old_t in &old.tolerations {
        let kept = new
            .tolerations
            .iter()
            .any(|n| Toleration { toleration_seconds: n.toleration_seconds, ..old_t.clone() } == *n);
        if !kept {
            errors.push(FieldError::forbidden(
                &path.child("tolerations"),
                "existing toleration can not be modified except its tolerationSeconds",
            ));
            break;
        }
    }

    let old_gates: HashSet<&str> = old.scheduling_gates.iter().map(|g| g.name.as_str()).collect();
    for (i, g) in new.scheduling_gates.iter().enumerate() {
        if !old_gates.contains(g.name.as_str()) {
            errors.push(FieldError::forbidden(
                &path.child("schedulingGates").index(i).child("name"),
                format!("only deletion is allowed, but found new scheduling gate '{}'", g.name),
            ));
        }
    }

    if new == old {
        return;
    }
    let mut munged = new.clone();
    for (c, o) in munged.containers.iter_mut().zip(&old.containers) {
        c.image.clone_from(&o.image);
    }
    for (c, o) in munged.init_containers.iter_mut().zip(&old.init_containers) {
        c.image.clone_from(&o.image);
    }
    munged.active_deadline_seconds = old.active_deadline_seconds;
    munged.scheduling_gates.clone_from(&old.scheduling_gates);
    munged.tolerations.clone_from(&old.tolerations);
    if old.termination_grace_period_seconds.is_some_and(|g| g < 0) && munged.termination_grace_period_seconds == Some(1)
    {
        munged.termination_grace_period_seconds = old.termination_grace_period_seconds;
    }
    if !old.scheduling_gates.is_empty() && munged.node_selector != old.node_selector {
        let only_added = old.node_selector.iter().all(|(k, v)| munged.node_selector.get(k) == Some(v));
        if !only_added {
            errors.push(FieldError::invalid(
                &path.child("nodeSelector"),
                &munged.node_selector,
                "only additions to spec.nodeSelector are allowed (no mutations or deletions)",
            ));
        }
        munged.node_selector.clone_from(&old.node_selector);
    }
    if munged != *old {
        let mut detail = POD_UPDATE_FORBIDDEN.to_owned();
        let (a, b) = (serde_json::to_value(old).unwrap_or_default(), serde_json::to_value(&munged).unwrap_or_default());
        let mut lines = Vec::new();
        json_diff(&a, &b, path.as_str(), &mut lines);
        for line in lines.iter().take(20) {
            detail.push_str("\n  ");
            detail.push_str(line);
        }
        errors.push(FieldError::forbidden(path, detail));
    }
}

/// Lists the leaf differences between two JSON values as `path: old -> new`.
fn json_diff(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let (va, vb) = (x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null));
                json_diff(va, vb, &format!("{path}.{k}"), out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                json_diff(va, vb, &format!("{path}[{i}]"), out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} -> {b}")),
        _ => {}
    }
}

fn validate_image_whitespace(image: Option<&str>, path: &Path, errors: &mut ErrorList) {
    if let Some(img) = image
        && img.trim() != img
    {
        errors.push(FieldError::invalid(path, img, "must not have leading or trailing whitespace"));
    }
}

/// Pod IPs in the status: valid, unique addresses.
fn validate_pod_ips(pod: &Pod, errors: &mut ErrorList) {
    let Some(status) = &pod.status else { return };
    let path = Path::new("status").child("podIPs");
    let mut seen = HashSet::new();
    for (i, ip) in status.pod_ips.iter().enumerate() {
        if ip.ip.parse::<IpAddr>().is_err() {
            errors.push(FieldError::invalid(&path.index(i), &ip.ip, IP_ERROR));
        } else if !seen.insert(ip.ip.as_str()) {
            errors.push(FieldError::duplicate(&path.index(i), &ip.ip));
        }
    }
}

// ---------------------------------------------------------------------------
// PodSpec
// ---------------------------------------------------------------------------

fn validate_spec(spec: &PodSpec, path: &Path, ctx: Ctx<'_>, errors: &mut ErrorList) {
    let vols = validate_volumes(&spec.volumes, &path.child("volumes"), ctx, errors);
    let claims = validate_pod_resource_claims(spec, &path.child("resourceClaims"), errors);
    validate_containers(&spec.containers, &vols, &claims, &path.child("containers"), ctx, errors);
    validate_init_containers(spec, &vols, &claims, &path.child("initContainers"), ctx, errors);
    validate_ephemeral_containers(spec, &vols, &claims, &path.child("ephemeralContainers"), ctx, errors);
    validate_host_network_ports(spec, path, errors);
    validate_enum(spec.restart_policy.as_deref(), RESTART_POLICIES, &path.child("restartPolicy"), errors);
    validate_enum(spec.dns_policy.as_deref(), DNS_POLICIES, &path.child("dnsPolicy"), errors);
    validate_labels(&spec.node_selector, &path.child("nodeSelector"), errors);
    validate_pod_security_context(spec, path, errors);
    if let Some(a) = &spec.affinity {
        validate_affinity(a, &path.child("affinity"), errors);
    }
    validate_dns_config(spec.dns_config.as_ref(), spec.dns_policy.as_deref(), &path.child("dnsConfig"), errors);
    for (i, gate) in spec.readiness_gates.iter().enumerate() {
        validate_qualified_name(
            &gate.condition_type,
            &path.child("readinessGates").index(i).child("conditionType"),
            errors,
        );
    }
    let mut gates = HashSet::new();
    for (i, gate) in spec.scheduling_gates.iter().enumerate() {
        let p = path.child("schedulingGates").index(i);
        validate_qualified_name(&gate.name, &p, errors);
        if !gates.insert(gate.name.as_str()) {
            errors.push(FieldError::duplicate(&p, &gate.name));
        }
    }
    validate_topology_spread_constraints(
        &spec.topology_spread_constraints,
        &path.child("topologySpreadConstraints"),
        errors,
    );
    if spec.host_users == Some(false) {
        for (field, on) in [("hostNetwork", spec.host_network), ("hostPID", spec.host_pid), ("hostIPC", spec.host_ipc)]
        {
            if on == Some(true) {
                errors.push(FieldError::forbidden(&path.child(field), "when `pod.Spec.HostUsers` is false"));
            }
        }
    }
    for (field, value) in [
        ("serviceAccountName", &spec.service_account_name),
        ("nodeName", &spec.node_name),
        ("priorityClassName", &spec.priority_class_name),
        ("runtimeClassName", &spec.runtime_class_name),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty() || field == "runtimeClassName") {
            validate_subdomain(v, &path.child(field), errors);
        }
    }
    if let Some(ads) = spec.active_deadline_seconds
        && !(1..=i64::from(i32::MAX)).contains(&ads)
    {
        errors.push(FieldError::invalid(
            &path.child("activeDeadlineSeconds"),
            ads,
            "must be between 1 and 2147483647, inclusive",
        ));
    }
    if let Some(g) = spec.termination_grace_period_seconds
        && g < 0
    {
        errors.push(FieldError::invalid(&path.child("terminationGracePeriodSeconds"), g, NEGATIVE_ERROR));
    }
    for (field, value) in [("hostname", &spec.hostname), ("subdomain", &spec.subdomain)] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            validate_label_name(v, &path.child(field), errors);
        }
    }
    validate_tolerations(&spec.tolerations, &path.child("tolerations"), errors);
    for (i, alias) in spec.host_aliases.iter().enumerate() {
        let p = path.child("hostAliases").index(i);
        if alias.ip.parse::<IpAddr>().is_err() {
            errors.push(FieldError::invalid(&p.child("ip"), &alias.ip, IP_ERROR));
        }
        for (j, h) in alias.hostnames.iter().enumerate() {
            validate_subdomain(h, &p.child("hostnames").index(j), errors);
        }
    }
    if let Some(pp) = &spec.preemption_policy {
        validate_enum(Some(pp), &["Never", "PreemptLowerPriority"], &path.child("preemptionPolicy"), errors);
    }
    for (name, q) in &spec.overhead {
        let p = path.child("overhead").key(name);
        validate_container_resource_name(name, &p, errors);
        validate_resource_quantity(name, q, &p, errors);
    }
    if let Some(os) = &spec.os {
        if os.name.is_empty() {
            errors.push(FieldError::required(&path.child("os").child("name"), "cannot be empty"));
        } else if !matches!(os.name.as_str(), "linux" | "windows") {
            errors.push(FieldError::not_supported(&path.child("os"), &os.name, &["linux", "windows"]));
        }
    }
    if let Some(res) = &spec.resources {
        validate_pod_level_resources(res, &path.child("resources"), errors);
    }
}

/// Checks an enumerated value; absent and empty mean "defaulted" and pass.
fn validate_enum(value: Option<&str>, supported: &[&str], path: &Path, errors: &mut ErrorList) {
    if let Some(v) = value
        && !v.is_empty()
        && !supported.contains(&v)
    {
        errors.push(FieldError::not_supported(path, v, supported));
    }
}

fn validate_label_name(v: &str, path: &Path, errors: &mut ErrorList) {
    if v.len() > 63 {
        errors.push(FieldError::invalid(path, v, "must be no more than 63 characters"));
    } else if !is_dns1123_label(v) {
        errors.push(FieldError::invalid(path, v, DNS1123_LABEL_ERROR));
    }
}

fn validate_subdomain(v: &str, path: &Path, errors: &mut ErrorList) {
    if v.len() > 253 {
        errors.push(FieldError::invalid(path, v, "must be no more than 253 characters"));
    } else if !is_dns1123_subdomain(v) {
        errors.push(FieldError::invalid(path, v, DNS1123_SUBDOMAIN_ERROR));
    }
}

fn validate_qualified_name(v: &str, path: &Path, errors: &mut ErrorList) {
    for msg in qualified_name_errors(v) {
        errors.push(FieldError::invalid(path, v, msg));
    }
}

fn validate_host_network_ports(spec: &PodSpec, path: &Path, errors: &mut ErrorList) {
    if spec.host_network != Some(true) {
        return;
    }
    for (i, c) in spec.containers.iter().enumerate() {
        for (j, port) in c.ports.iter().enumerate() {
            if port.host_port.is_some_and(|h| h != 0 && h != port.container_port) {
                errors.push(FieldError::invalid(
                    &path.child("containers").index(i).child("ports").index(j).child("containerPort"),
                    port.container_port,
                    "must match `hostPort` when `hostNetwork` is true",
                ));
            }
        }
    }
}

fn validate_pod_resource_claims<'a>(spec: &'a PodSpec, path: &Path, errors: &mut ErrorList) -> BTreeSet<&'a str> {
    let mut names = BTreeSet::new();
    for (i, claim) in spec.resource_claims.iter().enumerate() {
        let p = path.index(i);
        if claim.name.is_empty() {
            errors.push(FieldError::required(&p.child("name"), ""));
        } else if names.contains(claim.name.as_str()) {
            errors.push(FieldError::duplicate(&p.child("name"), &claim.name));
        } else {
            validate_label_name(&claim.name, &p.child("name"), errors);
            names.insert(claim.name.as_str());
        }
        match (&claim.resource_claim_name, &claim.resource_claim_template_name) {
            (Some(_), Some(_)) => errors.push(FieldError::invalid(
                &p,
                claim,
                "at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified",
            )),
            (None, None) => errors.push(FieldError::invalid(
                &p,
                claim,
                "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`",
            )),
            _ => {}
        }
        if let Some(n) = &claim.resource_claim_name {
            validate_subdomain(n, &p.child("resourceClaimName"), errors);
        }
        if let Some(n) = &claim.resource_claim_template_name {
            validate_subdomain(n, &p.child("resourceClaimTemplateName"), errors);
        }
    }
    names
}

// ---------------------------------------------------------------------------
// Containers
// ---------------------------------------------------------------------------

fn validate_containers(
    containers: &[Container],
    vols: &VolumeMap<'_>,
    claims: &BTreeSet<&str>,
    path: &Path,
    ctx: Ctx<'_>,
    errors: &mut ErrorList,
) {
    if containers.is_empty() {
        errors.push(FieldError::required(path, ""));
        return;
    }
    let mut names = HashSet::new();
    for (i, c) in containers.iter().enumerate() {
        let p = path.index(i);
        validate_container_common(c, vols, claims, &p, ctx, errors);
        if let Some(l) = &c.lifecycle {
            validate_lifecycle(l, ctx.grace_period, &p.child("lifecycle"), errors);
        }
        if !names.insert(c.name.as_str()) {
            errors.push(FieldError::duplicate(&p.child("name"), &c.name));
        }
        validate_probes(c, ctx.grace_period, &p, errors);
        if c.restart_policy.is_some() {
            errors.push(FieldError::forbidden(&p.child("restartPolicy"), "may not be set for non-init containers"));
        }
    }
    let mut host_ports = HashSet::new();
    for (i, c) in containers.iter().enumerate() {
        accumulate_host_ports(c, &path.index(i), &mut host_ports, errors);
    }
}

fn validate_init_containers(
    spec: &PodSpec,
    vols: &VolumeMap<'_>,
    claims: &BTreeSet<&str>,
    path: &Path,
    ctx: Ctx<'_>,
    errors: &mut ErrorList,
) {
    let mut names: HashSet<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
    for (i, c) in spec.init_containers.iter().enumerate() {
        let p = path.index(i);
        validate_container_common(c, vols, claims, &p, ctx, errors);
        let mut sidecar = false;
        if let Some(rp) = &c.restart_policy {
            if rp == "Always" {
                sidecar = true;
            } else {
                errors.push(FieldError::not_supported(&p.child("restartPolicy"), rp, &["Always"]));
            }
        }
        if names.contains(c.name.as_str()) {
            errors.push(FieldError::duplicate(&p.child("name"), &c.name));
        } else if !c.name.is_empty() {
            names.insert(c.name.as_str());
        }
        accumulate_host_ports(c, &p, &mut HashSet::new(), errors);
        if sidecar {
            if let Some(l) = &c.lifecycle {
                validate_lifecycle(l, ctx.grace_period, &p.child("lifecycle"), errors);
            }
            validate_probes(c, ctx.grace_period, &p, errors);
        } else {
            let set = [
                ("lifecycle", c.lifecycle.is_some()),
                ("livenessProbe", c.liveness_probe.is_some()),
                ("readinessProbe", c.readiness_probe.is_some()),
                ("startupProbe", c.startup_probe.is_some()),
            ];
            for (field, _) in set.iter().filter(|(_, on)| *on) {
                errors.push(FieldError::forbidden(&p.child(field), INIT_FORBIDDEN));
            }
        }
        if !c.resize_policy.is_empty() {
            errors.push(FieldError::invalid(
                &p.child("resizePolicy"),
                &c.resize_policy,
                "must not be set for init containers",
            ));
        }
    }
}

fn validate_ephemeral_containers(
    spec: &PodSpec,
    vols: &VolumeMap<'_>,
    claims: &BTreeSet<&str>,
    path: &Path,
    ctx: Ctx<'_>,
    errors: &mut ErrorList,
) {
    let others: HashSet<&str> = spec.containers.iter().chain(&spec.init_containers).map(|c| c.name.as_str()).collect();
    let mut names = HashSet::new();
    for (i, e) in spec.ephemeral_containers.iter().enumerate() {
        let p = path.index(i);
        let c = e.to_container();
        validate_container_common(&c, vols, claims, &p, ctx, errors);
        validate_image_whitespace(c.image.as_deref(), &p.child("image"), errors);
        if others.contains(e.name.as_str()) {
            errors.push(FieldError::invalid(
                &p.child("name"),
                &e.name,
                "must be unique among all containers, init containers and ephemeral containers",
            ));
        } else if !names.insert(e.name.as_str()) {
            errors.push(FieldError::duplicate(&p.child("name"), &e.name));
        }
        if let Some(t) = e.target_container_name.as_deref().filter(|t| !t.is_empty())
            && !others.contains(t)
        {
            errors.push(FieldError::not_found(&p.child("targetContainerName"), t));
        }
        let disallowed = [
            ("ports", !c.ports.is_empty()),
            ("resources", c.resources.as_ref().is_some_and(|r| *r != ResourceRequirements::default())),
            ("resizePolicy", !c.resize_policy.is_empty()),
            ("restartPolicy", c.restart_policy.is_some()),
            ("livenessProbe", c.liveness_probe.is_some()),
            ("readinessProbe", c.readiness_probe.is_some()),
            ("startupProbe", c.startup_probe.is_some()),
            ("lifecycle", c.lifecycle.is_some()),
        ];
        for (field, _) in disallowed.iter().filter(|(_, on)| *on) {
            errors.push(FieldError::forbidden(&p.child(field), EPHEMERAL_FORBIDDEN));
        }
        for (j, m) in c.volume_mounts.iter().enumerate() {
            let mp = p.child("volumeMounts").index(j);
            if m.sub_path.as_deref().is_some_and(|s| !s.is_empty()) {
                errors.push(FieldError::forbidden(&mp.child("subPath"), EPHEMERAL_FORBIDDEN));
            }
            if m.sub_path_expr.as_deref().is_some_and(|s| !s.is_empty()) {
                errors.push(FieldError::forbidden(&mp.child("subPathExpr"), EPHEMERAL_FORBIDDEN));
            }
        }
    }
}

/// `validateContainerCommon`: the checks every kind of container gets.
fn validate_container_common(
    c: &Container,
    vols: &VolumeMap<'_>,
    claims: &BTreeSet<&str>,
    path: &Path,
    ctx: Ctx<'_>,
    errors: &mut ErrorList,
) {
    let name_path = path.child("name");
    if c.name.is_empty() {
        errors.push(FieldError::required(&name_path, ""));
    } else {
        validate_label_name(&c.name, &name_path, errors);
    }
    if c.image.as_deref().is_none_or(str::is_empty) {
        errors.push(FieldError::required(&path.child("image"), ""));
    }
    validate_enum(
        c.termination_message_policy.as_deref(),
        TERMINATION_MESSAGE_POLICIES,
        &path.child("terminationMessagePolicy"),
        errors,
    );
    validate_ports(&c.ports, &path.child("ports"), errors);
    validate_env(&c.env, &path.child("env"), errors);
    validate_env_from(&c.env_from, &path.child("envFrom"), errors);
    validate_volume_mounts(c, vols, &path.child("volumeMounts"), errors);
    validate_volume_devices(c, vols, &path.child("volumeDevices"), errors);
    validate_enum(c.image_pull_policy.as_deref(), PULL_POLICIES, &path.child("imagePullPolicy"), errors);
    if let Some(res) = &c.resources {
        validate_resource_requirements(res, claims, &path.child("resources"), errors);
    }
    validate_resize_policy(c, ctx.restart_policy, &path.child("resizePolicy"), errors);
    if let Some(sc) = &c.security_context {
        validate_security_context(sc, ctx.host_users, &path.child("securityContext"), errors);
    }
}

fn port_name_errors(name: &str) -> Vec<&'static str> {
    let mut msgs = Vec::new();
    if name.len() > 15 {
        msgs.push("must be no more than 15 characters");
    }
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        msgs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
    }
    if !name.bytes().any(|b| b.is_ascii_lowercase()) {
        msgs.push("must contain at least one letter (a-z)");
    }
    if name.contains("--") {
        msgs.push("must not contain consecutive hyphens");
    }
    if name.starts_with('-') || name.ends_with('-') {
        msgs.push("must not begin or end with a hyphen");
    }
    msgs
}

fn validate_port_number(port: i32, path: &Path, errors: &mut ErrorList) {
    if !(1..=65535).contains(&port) {
        errors.push(FieldError::invalid(path, port, PORT_RANGE_ERROR));
    }
}

/// `ValidatePortNumOrName`.
fn validate_port_num_or_name(port: &IntOrString, path: &Path, errors: &mut ErrorList) {
    match port {
        IntOrString::Int(n) => validate_port_number(*n, path, errors),
        IntOrString::String(s) => {
            for msg in port_name_errors(s) {
                errors.push(FieldError::invalid(path, s, msg));
            }
        }
    }
}

fn validate_ports(ports: &[ContainerPort], path: &Path, errors: &mut ErrorList) {
    let mut names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = path.index(i);
        if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty()) {
            let msgs = port_name_errors(name);
            if !msgs.is_empty() {
                for msg in msgs {
                    errors.push(FieldError::invalid(&p.child("name"), name, msg));
                }
            } else if !names.insert(name) {
                errors.push(FieldError::duplicate(&p.child("name"), name));
            }
        }
        if port.container_port == 0 {
            errors.push(FieldError::required(&p.child("containerPort"), ""));
        } else {
            validate_port_number(port.container_port, &p.child("containerPort"), errors);
        }
        if let Some(h) = port.host_port.filter(|h| *h != 0) {
            validate_port_number(h, &p.child("hostPort"), errors);
        }
        validate_enum(port.protocol.as_deref(), PROTOCOLS, &p.child("protocol"), errors);
    }
}

/// Host ports must be unique per host IP and protocol.
fn accumulate_host_ports(c: &Container, path: &Path, seen: &mut HashSet<String>, errors: &mut ErrorList) {
    for (j, port) in c.ports.iter().enumerate() {
        let Some(h) = port.host_port.filter(|h| *h != 0) else { continue };
        let protocol = port.protocol.as_deref().filter(|p| !p.is_empty()).unwrap_or("TCP");
        let key = format!("{}/{protocol}/{h}", port.host_ip.as_deref().unwrap_or_default());
        if seen.contains(&key) {
            errors.push(FieldError::duplicate(&path.child("ports").index(j).child("hostPort"), &key));
        } else {
            seen.insert(key);
        }
    }
}

/// Relaxed environment variable names (beta in 1.32): printable ASCII without `=`.
fn env_name_ok(name: &str) -> bool {
    name.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'=')
}

const ENV_NAME_ERROR: &str =
    "a valid environment variable name must consist only of printable ASCII characters other than '='";

fn validate_env(env: &[EnvVar], path: &Path, errors: &mut ErrorList) {
    for (i, ev) in env.iter().enumerate() {
        let p = path.index(i);
        if ev.name.is_empty() {
            errors.push(FieldError::required(&p.child("name"), ""));
        } else if !env_name_ok(&ev.name) {
            errors.push(FieldError::invalid(&p.child("name"), &ev.name, ENV_NAME_ERROR));
        }
        let Some(from) = &ev.value_from else { continue };
        let vp = p.child("valueFrom");
        let mut sources = 0;
        if let Some(f) = &from.field_ref {
            sources += 1;
            validate_object_field_selector(f, ENV_FIELD_PATHS, &vp.child("fieldRef"), errors);
        }
        if let Some(r) = &from.resource_field_ref {
            sources += 1;
            validate_resource_field_selector(r, false, &vp.child("resourceFieldRef"), errors);
        }
        if let Some(k) = &from.config_map_key_ref {
            sources += 1;
            validate_key_selector(&k.name, &k.key, &vp.child("configMapKeyRef"), errors);
        }
        if let Some(k) = &from.secret_key_ref {
            sources += 1;
            validate_key_selector(&k.name, &k.key, &vp.child("secretKeyRef"), errors);
        }
        if sources == 0 {
            errors.push(FieldError::invalid(
                &vp,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if ev.value.as_deref().is_some_and(|v| !v.is_empty()) {
            errors.push(FieldError::invalid(&vp, "", "may not be specified when `value` is not empty"));
        } else if sources > 1 {
            errors.push(FieldError::invalid(&vp, "", "may not have more than one field specified at a time"));
        }
    }
}

/// `metadata.labels['key']` → (`metadata.labels`, `key`).
fn split_subscript(path: &str) -> Option<(&str, &str)> {
    let s = path.strip_suffix("']")?;
    let (base, sub) = s.split_once("['")?;
    (!base.is_empty()).then_some((base, sub))
}

fn validate_object_field_selector(f: &ObjectFieldSelector, supported: &[&str], path: &Path, errors: &mut ErrorList) {
    let api_version = f.api_version.as_deref().filter(|v| !v.is_empty()).unwrap_or("v1");
    if f.field_path.is_empty() {
        errors.push(FieldError::required(&path.child("fieldPath"), ""));
        return;
    }
    let fp = path.child("fieldPath");
    let convert_error = if api_version != "v1" {
        Some(format!("unsupported pod version: {api_version}"))
    } else if let Some((base, _)) = split_subscript(&f.field_path) {
        (!matches!(base, "metadata.annotations" | "metadata.labels"))
            .then(|| format!("field label does not support subscript: {}", f.field_path))
    } else {
        let known = [
            "metadata.annotations",
            "metadata.labels",
            "metadata.name",
            "metadata.namespace",
            "metadata.uid",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.serviceAccountName",
            "spec.schedulerName",
            "status.phase",
            "status.hostIP",
            "status.hostIPs",
            "status.podIP",
            "status.podIPs",
            "spec.host",
        ];
        (!known.contains(&f.field_path.as_str())).then(|| format!("field label not supported: {}", f.field_path))
    };
    if let Some(e) = convert_error {
        errors.push(FieldError::invalid(&fp, &f.field_path, format!("error converting fieldPath: {e}")));
        return;
    }
    let internal = if f.field_path == "spec.host" { "spec.nodeName" } else { f.field_path.as_str() };
    if let Some((base, sub)) = split_subscript(internal) {
        let key = if base == "metadata.annotations" { sub.to_lowercase() } else { sub.to_owned() };
        for msg in qualified_name_errors(&key) {
            errors.push(FieldError::invalid(path, &key, msg));
        }
    } else if !supported.contains(&internal) {
        errors.push(FieldError::not_supported(&fp, internal, supported));
    }
}

fn validate_resource_field_selector(r: &ResourceFieldSelector, volume: bool, path: &Path, errors: &mut ErrorList) {
    if volume && r.container_name.as_deref().is_none_or(str::is_empty) {
        errors.push(FieldError::required(&path.child("containerName"), ""));
    } else if r.resource.is_empty() {
        errors.push(FieldError::required(&path.child("resource"), ""));
    } else if !RESOURCE_FIELD_PATHS.contains(&r.resource.as_str())
        && !r.resource.starts_with("requests.hugepages-")
        && !r.resource.starts_with("limits.hugepages-")
    {
        errors.push(FieldError::not_supported(&path.child("resource"), &r.resource, RESOURCE_FIELD_PATHS));
    }
    let Some(divisor) = r.divisor.as_ref().filter(|d| !d.is_zero()) else {
        return;
    };
    let divisor = divisor.to_string();
    let rname = r.resource.as_str();
    let problem = match rname {
        "limits.cpu" | "requests.cpu" => {
            (!matches!(divisor.as_str(), "1m" | "1")).then_some("only divisor's values 1m and 1 are supported with the cpu resource")
        }
        "limits.memory" | "requests.memory" => (!MEMORY_DIVISORS.contains(&divisor.as_str()))
            .then_some("only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource"),
        "limits.ephemeral-storage" | "requests.ephemeral-storage" => (!MEMORY_DIVISORS.contains(&divisor.as_str()))
            .then_some("only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the local ephemeral storage resource"),
        _ if rname.starts_with("requests.hugepages-") || rname.starts_with("limits.hugepages-") => (!MEMORY_DIVISORS
            .contains(&divisor.as_str()))
        .then_some("only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the hugepages resource"),
        _ => None,
    };
    if let Some(msg) = problem {
        errors.push(FieldError::invalid(&path.child("divisor"), rname, msg));
    }
}

fn config_map_key_errors(key: &str) -> Vec<&'static str> {
    let mut msgs = Vec::new();
    if key.len() > 253 {
        msgs.push("must be no more than 253 characters");
    }
    if !key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
        msgs.push("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')");
    }
    if key == "." {
        msgs.push("must not be '.'");
    } else if key == ".." {
        msgs.push("must not be '..'");
    } else if key.starts_with("..") {
        msgs.push("must not start with '..'");
    }
    msgs
}

/// `configMapKeyRef` / `secretKeyRef`: a subdomain name and a config key.
fn validate_key_selector(name: &str, key: &str, path: &Path, errors: &mut ErrorList) {
    validate_subdomain(name, &path.child("name"), errors);
    if key.is_empty() {
        errors.push(FieldError::required(&path.child("key"), ""));
    } else {
        for msg in config_map_key_errors(key) {
            errors.push(FieldError::invalid(&path.child("key"), key, msg));
        }
    }
}

fn validate_env_from(env_from: &[EnvFromSource], path: &Path, errors: &mut ErrorList) {
    for (i, ef) in env_from.iter().enumerate() {
        let p = path.index(i);
        if let Some(prefix) = ef.prefix.as_deref().filter(|s| !s.is_empty())
            && !env_name_ok(prefix)
        {
            errors.push(FieldError::invalid(&p.child("prefix"), prefix, ENV_NAME_ERROR));
        }
        let mut sources = 0;
        for (field, name) in [
            ("configMapRef", ef.config_map_ref.as_ref().map(|r| &r.name)),
            ("secretRef", ef.secret_ref.as_ref().map(|r| &r.name)),
        ] {
            let Some(name) = name else { continue };
            sources += 1;
            let np = p.child(field).child("name");
            if name.is_empty() {
                errors.push(FieldError::required(&np, ""));
            } else {
                validate_subdomain(name, &np, errors);
            }
        }
        if sources == 0 {
            errors.push(FieldError::invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"));
        } else if sources > 1 {
            errors.push(FieldError::invalid(path, "", "may not have more than one field specified at a time"));
        }
    }
}

fn is_absolute(p: &str) -> bool {
    p.starts_with('/')
}

fn validate_no_backsteps(target: &str, path: &Path, errors: &mut ErrorList) {
    if target.split(['/', '\\']).any(|part| part == "..") {
        errors.push(FieldError::invalid(path, target, "must not contain '..'"));
    }
}

/// `validateLocalDescendingPath`: relative, no `..` elements.
fn validate_local_descending_path(target: &str, path: &Path, errors: &mut ErrorList) {
    if is_absolute(target) {
        errors.push(FieldError::invalid(path, target, "must be a relative path"));
    }
    validate_no_backsteps(target, path, errors);
}

/// `ValidateLocalNonReservedPath`: a descending path that does not start with `..`.
fn validate_local_non_reserved_path(target: &str, path: &Path, errors: &mut ErrorList) {
    validate_local_descending_path(target, path, errors);
    if target.starts_with("..") && !target.starts_with("../") {
        errors.push(FieldError::invalid(path, target, "must not start with '..'"));
    }
}

fn validate_volume_mounts(c: &Container, vols: &VolumeMap<'_>, path: &Path, errors: &mut ErrorList) {
    let device_names: HashSet<&str> = c.volume_devices.iter().map(|d| d.name.as_str()).collect();
    let device_paths: HashSet<&str> = c.volume_devices.iter().map(|d| d.device_path.as_str()).collect();
    let mut mount_points = HashSet::new();
    for (i, m) in c.volume_mounts.iter().enumerate() {
        let p = path.index(i);
        if m.name.is_empty() {
            errors.push(FieldError::required(&p.child("name"), ""));
        }
        if !vols.contains_key(m.name.as_str()) {
            errors.push(FieldError::not_found(&p.child("name"), &m.name));
        }
        if m.mount_path.is_empty() {
            errors.push(FieldError::required(&p.child("mountPath"), ""));
        }
        if !mount_points.insert(m.mount_path.as_str()) {
            errors.push(FieldError::invalid(&p.child("mountPath"), &m.mount_path, "must be unique"));
        }
        if device_names.contains(m.name.as_str()) {
            errors.push(FieldError::invalid(&p.child("name"), &m.name, "must not already exist in volumeDevices"));
        }
        if device_paths.contains(m.mount_path.as_str()) {
            errors.push(FieldError::invalid(
                &p.child("mountPath"),
                &m.mount_path,
                "must not already exist as a path in volumeDevices",
            ));
        }
        let sub_path = m.sub_path.as_deref().unwrap_or_default();
        if !sub_path.is_empty() {
            validate_local_descending_path(sub_path, &p.child("subPath"), errors);
        }
        if let Some(expr) = m.sub_path_expr.as_deref().filter(|s| !s.is_empty()) {
            if !sub_path.is_empty() {
                errors.push(FieldError::invalid(
                    &p.child("subPathExpr"),
                    expr,
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            validate_local_descending_path(expr, &p.child("subPathExpr"), errors);
        }
        if let Some(mp) = &m.mount_propagation {
            validate_mount_propagation(mp, c, &p.child("mountPropagation"), errors);
        }
        validate_recursive_read_only(m, &p.child("recursiveReadOnly"), errors);
    }
}

fn validate_mount_propagation(mode: &str, c: &Container, path: &Path, errors: &mut ErrorList) {
    match mode {
        "None" | "HostToContainer" => {}
        "Bidirectional" => {
            let privileged = c.security_context.as_ref().and_then(|s| s.privileged).unwrap_or(false);
            if !privileged {
                errors.push(FieldError::forbidden(
                    path,
                    "Bidirectional mount propagation is available only to privileged containers",
                ));
            }
        }
        other => errors.push(FieldError::not_supported(path, other, &["Bidirectional", "HostToContainer", "None"])),
    }
}

fn validate_recursive_read_only(m: &VolumeMount, path: &Path, errors: &mut ErrorList) {
    let Some(rro) = m.recursive_read_only.as_deref() else { return };
    match rro {
        "Disabled" => {}
        "Enabled" | "IfPossible" => {
            if m.read_only != Some(true) {
                errors.push(FieldError::forbidden(path, "may only be specified when readOnly is true"));
            }
            if m.mount_propagation.as_deref().is_some_and(|p| p != "None") {
                errors.push(FieldError::forbidden(
                    path,
                    "may only be specified when mountPropagation is None or not specified",
                ));
            }
        }
        other => errors.push(FieldError::not_supported(path, other, &["Disabled", "IfPossible", "Enabled"])),
    }
}

fn validate_volume_devices(c: &Container, vols: &VolumeMap<'_>, path: &Path, errors: &mut ErrorList) {
    let mount_names: HashSet<&str> = c.volume_mounts.iter().map(|m| m.name.as_str()).collect();
    let mount_paths: HashSet<&str> = c.volume_mounts.iter().map(|m| m.mount_path.as_str()).collect();
    let mut names = HashSet::new();
    let mut paths = HashSet::new();
    for (i, d) in c.volume_devices.iter().enumerate() {
        let p = path.index(i);
        let np = p.child("name");
        let dp = p.child("devicePath");
        if d.name.is_empty() {
            errors.push(FieldError::required(&np, ""));
        }
        if names.contains(d.name.as_str()) {
            errors.push(FieldError::invalid(&np, &d.name, "must be unique"));
        }
        match vols.get(d.name.as_str()) {
            Some(v) if v.persistent_volume_claim.is_none() && v.ephemeral.is_none() => {
                errors.push(FieldError::invalid(
                    &np,
                    &d.name,
                    "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
                ))
            }
            Some(_) => {}
            None => errors.push(FieldError::not_found(&np, &d.name)),
        }
        if d.device_path.is_empty() {
            errors.push(FieldError::required(&dp, ""));
        }
        if paths.contains(d.device_path.as_str()) {
            errors.push(FieldError::invalid(&dp, &d.device_path, "must be unique"));
        }
        if !d.device_path.is_empty() && d.device_path.split(['/', '\\']).any(|s| s == "..") {
            errors.push(FieldError::invalid(&dp, &d.device_path, "can not contain backsteps ('..')"));
        } else {
            paths.insert(d.device_path.as_str());
        }
        if mount_names.contains(d.name.as_str()) {
            errors.push(FieldError::invalid(&np, &d.name, "must not already exist in volumeMounts"));
        }
        if mount_paths.contains(d.device_path.as_str()) {
            errors.push(FieldError::invalid(&dp, &d.device_path, "must not already exist as a path in volumeMounts"));
        }
        if !d.name.is_empty() {
            names.insert(d.name.as_str());
        }
    }
}

fn validate_resize_policy(c: &Container, pod_restart_policy: &str, path: &Path, errors: &mut ErrorList) {
    let mut seen = HashSet::new();
    for (i, rp) in c.resize_policy.iter().enumerate() {
        if !seen.insert(rp.resource_name.as_str()) {
            errors.push(FieldError::duplicate(&path.index(i), &rp.resource_name));
        }
        match rp.resource_name.as_str() {
            "cpu" | "memory" => {}
            "" => errors.push(FieldError::required(path, "")),
            other => errors.push(FieldError::not_supported(path, other, &["cpu", "memory"])),
        }
        match rp.restart_policy.as_str() {
            "NotRequired" | "RestartContainer" => {}
            "" => errors.push(FieldError::required(path, "")),
            other => errors.push(FieldError::not_supported(path, other, &["NotRequired", "RestartContainer"])),
        }
        if pod_restart_policy == "Never" && rp.restart_policy != "NotRequired" {
            errors.push(FieldError::invalid(
                path,
                &rp.restart_policy,
                "must be 'NotRequired' when `restartPolicy` is 'Never'",
            ));
        }
    }
}

// ---------------------------------------------------------------------------
// Probes and lifecycle handlers
// ---------------------------------------------------------------------------

fn validate_probes(c: &Container, grace: i64, path: &Path, errors: &mut ErrorList) {
    for (field, probe) in [
        ("livenessProbe", &c.liveness_probe),
        ("readinessProbe", &c.readiness_probe),
        ("startupProbe", &c.startup_probe),
    ] {
        let Some(probe) = probe else { continue };
        let p = path.child(field);
        validate_probe(probe, grace, &p, errors);
        if field == "readinessProbe" {
            if let Some(t) = probe.termination_grace_period_seconds {
                errors.push(FieldError::invalid(
                    &p.child("terminationGracePeriodSeconds"),
                    t,
                    "must not be set for readinessProbes",
                ));
            }
        } else if let Some(s) = probe.success_threshold
            && s != 1
            && s != 0
        {
            errors.push(FieldError::invalid(&p.child("successThreshold"), s, "must be 1"));
        }
    }
}

fn validate_probe(probe: &Probe, grace: i64, path: &Path, errors: &mut ErrorList) {
    let handlers = [
        ("exec", probe.exec.as_ref().map(Handler::Exec)),
        ("httpGet", probe.http_get.as_ref().map(Handler::HttpGet)),
        ("tcpSocket", probe.tcp_socket.as_ref().map(|t| Handler::TcpSocket(&t.port))),
        ("grpc", probe.grpc.as_ref().map(|g| Handler::Grpc(g.port))),
    ];
    validate_handlers(&handlers, grace, path, errors);
    for (field, value) in [
        ("initialDelaySeconds", probe.initial_delay_seconds),
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ] {
        if let Some(v) = value
            && v < 0
        {
            errors.push(FieldError::invalid(&path.child(field), v, NEGATIVE_ERROR));
        }
    }
    if let Some(t) = probe.termination_grace_period_seconds
        && t <= 0
    {
        errors.push(FieldError::invalid(&path.child("terminationGracePeriodSeconds"), t, "must be greater than 0"));
    }
}

fn validate_lifecycle(l: &Lifecycle, grace: i64, path: &Path, errors: &mut ErrorList) {
    for (field, handler) in [("postStart", &l.post_start), ("preStop", &l.pre_stop)] {
        if let Some(h) = handler {
            validate_lifecycle_handler(h, grace, &path.child(field), errors);
        }
    }
}

fn validate_lifecycle_handler(h: &LifecycleHandler, grace: i64, path: &Path, errors: &mut ErrorList) {
    let handlers = [
        ("exec", h.exec.as_ref().map(Handler::Exec)),
        ("httpGet", h.http_get.as_ref().map(Handler::HttpGet)),
        ("tcpSocket", h.tcp_socket.as_ref().map(|t| Handler::TcpSocket(&t.port))),
        ("sleep", h.sleep.as_ref().map(|s| Handler::Sleep(s.seconds))),
    ];
    validate_handlers(&handlers, grace, path, errors);
}

/// One handler of a probe or lifecycle hook.
#[derive(Clone, Copy, Debug)]
enum Handler<'a> {
    Exec(&'a super::ExecAction),
    HttpGet(&'a HTTPGetAction),
    TcpSocket(&'a IntOrString),
    Grpc(i32),
    Sleep(i64),
}

/// `validateHandler`: exactly one handler, each well-formed.
fn validate_handlers(handlers: &[(&str, Option<Handler<'_>>)], grace: i64, path: &Path, errors: &mut ErrorList) {
    let mut count = 0;
    for (field, handler) in handlers {
        let Some(handler) = handler else { continue };
        let p = path.child(field);
        if count > 0 {
            errors.push(FieldError::forbidden(&p, "may not specify more than 1 handler type"));
            continue;
        }
        count += 1;
        match handler {
            Handler::Exec(e) => {
                if e.command.is_empty() {
                    errors.push(FieldError::required(&p.child("command"), ""));
                }
            }
            Handler::HttpGet(h) => {
                if h.path.as_deref().is_some_and(str::is_empty) {
                    errors.push(FieldError::required(&p.child("path"), ""));
                }
                validate_port_num_or_name(&h.port, &p.child("port"), errors);
                validate_enum(h.scheme.as_deref(), &["HTTP", "HTTPS"], &p.child("scheme"), errors);
                for header in &h.http_headers {
                    if header.name.is_empty() || !header.name.bytes().all(is_header_token_char) {
                        errors.push(FieldError::invalid(
                            &p.child("httpHeaders"),
                            &header.name,
                            "a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')",
                        ));
                    }
                }
            }
            Handler::TcpSocket(port) => validate_port_num_or_name(port, &p.child("port"), errors),
            Handler::Grpc(port) => validate_port_number(*port, &p.child("port"), errors),
            Handler::Sleep(seconds) => {
                if *seconds <= 0 || *seconds > grace {
                    errors.push(FieldError::invalid(
                        &p,
                        seconds,
                        format!(
                            "must be greater than 0 and less than terminationGracePeriodSeconds ({grace}). Enable AllowPodLifecycleSleepActionZeroValue feature gate for zero sleep."
                        ),
                    ));
                }
            }
        }
    }
    if count == 0 {
        errors.push(FieldError::required(path, "must specify a handler type"));
    }
}

fn is_header_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

// ---------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------

fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

fn is_hugepages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

fn is_extended_resource(name: &str) -> bool {
    !is_native_resource(name) && !name.starts_with("requests.") && is_qualified_name(&format!("requests.{name}"))
}

fn is_standard_container_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || is_hugepages(name)
}

fn is_standard_resource(name: &str) -> bool {
    matches!(
        name,
        "cpu"
            | "memory"
            | "ephemeral-storage"
            | "requests.cpu"
            | "requests.memory"
            | "requests.ephemeral-storage"
            | "limits.cpu"
            | "limits.memory"
            | "limits.ephemeral-storage"
            | "pods"
            | "services"
            | "replicationcontrollers"
            | "resourcequotas"
            | "secrets"
            | "configmaps"
            | "persistentvolumeclaims"
            | "storage"
            | "requests.storage"
            | "services.nodeports"
            | "services.loadbalancers"
    ) || is_hugepages(name)
        || name.starts_with("requests.hugepages-")
}

fn is_integer_resource(name: &str) -> bool {
    is_extended_resource(name)
        || matches!(
            name,
            "pods"
                | "services"
                | "replicationcontrollers"
                | "resourcequotas"
                | "secrets"
                | "configmaps"
                | "persistentvolumeclaims"
                | "services.nodeports"
                | "services.loadbalancers"
        )
}

fn validate_container_resource_name(name: &str, path: &Path, errors: &mut ErrorList) {
    let msgs = qualified_name_errors(name);
    if !msgs.is_empty() {
        for msg in msgs {
            errors.push(FieldError::invalid(path, name, msg));
        }
        return;
    }
    if !name.contains('/') {
        if !is_standard_resource(name) {
            errors.push(FieldError::invalid(path, name, "must be a standard resource type or fully qualified"));
        } else if !is_standard_container_resource(name) {
            errors.push(FieldError::invalid(path, name, "must be a standard resource for containers"));
        }
    } else if !is_native_resource(name) && !is_extended_resource(name) {
        errors.push(FieldError::invalid(path, name, "doesn't follow extended resource name standard"));
    }
}

fn validate_resource_quantity(name: &str, q: &Quantity, path: &Path, errors: &mut ErrorList) {
    if q.is_negative() {
        errors.push(FieldError::invalid(path, q.to_string(), NEGATIVE_ERROR));
    }
    if is_integer_resource(name) && q.milli_value() % 1000 != 0 {
        errors.push(FieldError::invalid(path, q.to_string(), "must be an integer"));
    }
}

/// `ValidateResourceRequirements` for a container.
fn validate_resource_requirements(
    res: &ResourceRequirements,
    claims: &BTreeSet<&str>,
    path: &Path,
    errors: &mut ErrorList,
) {
    let lim_path = path.child("limits");
    let req_path = path.child("requests");
    let (mut lim_compute, mut req_compute, mut lim_huge, mut req_huge) = (false, false, false, false);
    for (name, q) in &res.limits {
        let p = lim_path.key(name);
        validate_container_resource_name(name, &p, errors);
        validate_resource_quantity(name, q, &p, errors);
        lim_huge |= is_hugepages(name);
        lim_compute |= matches!(name.as_str(), "cpu" | "memory");
    }
    for (name, q) in &res.requests {
        let p = req_path.key(name);
        validate_container_resource_name(name, &p, errors);
        validate_resource_quantity(name, q, &p, errors);
        compare_request_to_limit(name, q, &res.limits, &req_path, &lim_path, errors);
        req_huge |= is_hugepages(name);
        req_compute |= matches!(name.as_str(), "cpu" | "memory");
    }
    if !lim_compute && !req_compute && (lim_huge || req_huge) {
        errors.push(FieldError::forbidden(path, "HugePages require cpu or memory"));
    }
    let mut seen = HashSet::new();
    for (i, claim) in res.claims.iter().enumerate() {
        let p = path.child("claims").index(i);
        if claim.name.is_empty() {
            errors.push(FieldError::required(&p, ""));
            continue;
        }
        let key = match claim.request.as_deref().filter(|r| !r.is_empty()) {
            Some(r) => format!("{}/{r}", claim.name),
            None => claim.name.clone(),
        };
        if !seen.insert(key) {
            errors.push(FieldError::duplicate(&p, &claim.name));
        }
        if !claims.contains(claim.name.as_str()) {
            let mut e = FieldError::not_found(&p, &claim.name);
            e.detail = if claims.is_empty() {
                "must be one of the names in pod.spec.resourceClaims which is empty".to_owned()
            } else {
                format!(
                    "must be one of the names in pod.spec.resourceClaims: {}",
                    claims.iter().copied().collect::<Vec<_>>().join(", ")
                )
            };
            errors.push(e);
        }
    }
}

fn compare_request_to_limit(
    name: &str,
    q: &Quantity,
    limits: &ResourceList,
    req_path: &Path,
    lim_path: &Path,
    errors: &mut ErrorList,
) {
    let overcommit = is_native_resource(name) && !is_hugepages(name);
    match limits.get(name) {
        Some(limit) if q != limit && !overcommit => {
            errors.push(FieldError::invalid(
                req_path,
                q.to_string(),
                format!("must be equal to {name} limit of {limit}"),
            ));
        }
        Some(limit) if q > limit => {
            errors.push(FieldError::invalid(
                req_path,
                q.to_string(),
                format!("must be less than or equal to {name} limit of {limit}"),
            ));
        }
        Some(_) => {}
        None if !overcommit => {
            errors.push(FieldError::required(lim_path, "Limit must be set for non overcommitable resources"))
        }
        None => {}
    }
}

/// Pod-level resources (alpha `PodLevelResources`): only `cpu` and `memory`.
fn validate_pod_level_resources(res: &ResourceRequirements, path: &Path, errors: &mut ErrorList) {
    for (field, list) in [("limits", &res.limits), ("requests", &res.requests)] {
        for (name, q) in list {
            let p = path.child(field).key(name);
            if !matches!(name.as_str(), "cpu" | "memory") {
                errors.push(FieldError::not_supported(&p, name, &["cpu", "memory"]));
            }
            validate_resource_quantity(name, q, &p, errors);
        }
    }
    for (name, q) in &res.requests {
        compare_request_to_limit(name, q, &res.limits, &path.child("requests"), &path.child("limits"), errors);
    }
}

// ---------------------------------------------------------------------------
// Security contexts
// ---------------------------------------------------------------------------

fn validate_id(id: i64, path: &Path, errors: &mut ErrorList) {
    if !(0..=i64::from(i32::MAX)).contains(&id) {
        errors.push(FieldError::invalid(path, id, ID_RANGE_ERROR));
    }
}

fn validate_security_context(sc: &SecurityContext, host_users: bool, path: &Path, errors: &mut ErrorList) {
    if let Some(u) = sc.run_as_user {
        validate_id(u, &path.child("runAsUser"), errors);
    }
    if let Some(g) = sc.run_as_group {
        validate_id(g, &path.child("runAsGroup"), errors);
    }
    if let Some(pm) = &sc.proc_mount {
        validate_enum(Some(pm), &["Default", "Unmasked"], &path.child("procMount"), errors);
        if host_users && pm == "Unmasked" {
            errors.push(FieldError::invalid(
                &path.child("procMount"),
                pm,
                "`hostUsers` must be false to use `Unmasked`",
            ));
        }
    }
    if let Some(sp) = &sc.seccomp_profile {
        validate_seccomp_profile(sp, &path.child("seccompProfile"), errors);
    }
    if sc.allow_privilege_escalation == Some(false) {
        if sc.privileged == Some(true) {
            errors.push(FieldError::invalid(
                path,
                sc,
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            ));
        }
        if sc.capabilities.as_ref().is_some_and(|c| c.add.iter().any(|a| a == "CAP_SYS_ADMIN")) {
            errors.push(FieldError::invalid(
                path,
                sc,
                "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN",
            ));
        }
    }
    if let Some(ap) = &sc.app_armor_profile {
        validate_app_armor_profile(&ap.type_, ap.localhost_profile.as_deref(), &path.child("appArmorProfile"), errors);
    }
}

fn validate_seccomp_profile(sp: &SeccompProfile, path: &Path, errors: &mut ErrorList) {
    let tp = path.child("type");
    match sp.type_.as_str() {
        "" => errors.push(FieldError::required(&tp, "")),
        t if !PROFILE_TYPES.contains(&t) => errors.push(FieldError::not_supported(&tp, t, PROFILE_TYPES)),
        _ => {}
    }
    let lp = path.child("localhostProfile");
    if sp.type_ == "Localhost" {
        match sp.localhost_profile.as_deref() {
            None => errors.push(FieldError::required(&lp, "must be set when seccomp type is Localhost")),
            Some(p) => validate_local_descending_path(p, &lp, errors),
        }
    } else if sp.localhost_profile.is_some() {
        errors.push(FieldError::invalid(&lp, sp, "can only be set when seccomp type is Localhost"));
    }
}

fn validate_app_armor_profile(type_: &str, localhost: Option<&str>, path: &Path, errors: &mut ErrorList) {
    let tp = path.child("type");
    match type_ {
        "" => errors.push(FieldError::required(&tp, "")),
        t if !PROFILE_TYPES.contains(&t) => errors.push(FieldError::not_supported(&tp, t, PROFILE_TYPES)),
        _ => {}
    }
    let lp = path.child("localhostProfile");
    if type_ == "Localhost" {
        if localhost.is_none_or(|l| l.trim().is_empty()) {
            errors.push(FieldError::required(&lp, "must be set when AppArmor type is Localhost"));
        }
    } else if localhost.is_some() {
        errors.push(FieldError::invalid(&lp, localhost, "can only be set when AppArmor type is Localhost"));
    }
}

/// Sysctl names: dot- or slash-separated segments of `[a-z0-9]([-_a-z0-9]*[a-z0-9])?`, at most 253 characters.
fn is_sysctl_name(name: &str) -> bool {
    name.len() <= 253
        && name.split(['.', '/']).all(|seg| {
            let b = seg.as_bytes();
            let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
            !b.is_empty()
                && alnum(b[0])
                && alnum(b[b.len() - 1])
                && b.iter().all(|&c| alnum(c) || c == b'-' || c == b'_')
        })
}

fn validate_pod_security_context(spec: &PodSpec, spec_path: &Path, errors: &mut ErrorList) {
    let Some(sc): Option<&PodSecurityContext> = spec.security_context.as_deref() else { return };
    let path = spec_path.child("securityContext");
    if let Some(g) = sc.fs_group {
        validate_id(g, &path.child("fsGroup"), errors);
    }
    if let Some(u) = sc.run_as_user {
        validate_id(u, &path.child("runAsUser"), errors);
    }
    if let Some(g) = sc.run_as_group {
        validate_id(g, &path.child("runAsGroup"), errors);
    }
    for (i, g) in sc.supplemental_groups.iter().enumerate() {
        validate_id(*g, &path.child("supplementalGroups").index(i), errors);
    }
    if spec.share_process_namespace == Some(true) && spec.host_pid == Some(true) {
        errors.push(FieldError::invalid(
            &path.child("shareProcessNamespace"),
            true,
            "ShareProcessNamespace and HostPID cannot both be enabled",
        ));
    }
    let mut names = HashSet::new();
    for (i, s) in sc.sysctls.iter().enumerate() {
        let p = path.child("sysctls").index(i).child("name");
        if s.name.is_empty() {
            errors.push(FieldError::required(&p, ""));
        } else if !is_sysctl_name(&s.name) {
            errors.push(FieldError::invalid(
                &p,
                &s.name,
                "must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$",
            ));
        } else if !names.insert(s.name.as_str()) {
            errors.push(FieldError::duplicate(&p, &s.name));
        }
    }
    if let Some(p) = &sc.fs_group_change_policy {
        validate_enum(Some(p), &["OnRootMismatch", "Always"], &path.child("fsGroupChangePolicy"), errors);
    }
    if let Some(sp) = &sc.seccomp_profile {
        validate_seccomp_profile(sp, &path.child("seccompProfile"), errors);
    }
    if let Some(ap) = &sc.app_armor_profile {
        validate_app_armor_profile(&ap.type_, ap.localhost_profile.as_deref(), &path.child("appArmorProfile"), errors);
    }
    if let Some(p) = &sc.supplemental_groups_policy {
        validate_enum(Some(p), &["Merge", "Strict"], &path.child("supplementalGroupsPolicy"), errors);
    }
    if let Some(p) = &sc.se_linux_change_policy {
        validate_enum(Some(p), &["MountOption", "Recursive"], &path.child("seLinuxChangePolicy"), errors);
    }
}

// ---------------------------------------------------------------------------
// Scheduling
// ---------------------------------------------------------------------------

fn validate_tolerations(tolerations: &[Toleration], path: &Path, errors: &mut ErrorList) {
    for (i, t) in tolerations.iter().enumerate() {
        let p = path.index(i);
        let key = t.key.as_deref().unwrap_or_default();
        let operator = t.operator.as_deref().unwrap_or_default();
        let value = t.value.as_deref().unwrap_or_default();
        let effect = t.effect.as_deref().unwrap_or_default();
        if !key.is_empty() {
            validate_qualified_name(key, &p.child("key"), errors);
        }
        if key.is_empty() && operator != "Exists" {
            errors.push(FieldError::invalid(
                &p.child("operator"),
                operator,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if t.toleration_seconds.is_some() && effect != "NoExecute" {
            errors.push(FieldError::invalid(
                &p.child("effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match operator {
            "" | "Equal" => {
                if !is_valid_label_value(value) {
                    let detail = if value.len() > 63 {
                        "must be no more than 63 characters"
                    } else {
                        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
                    };
                    errors.push(FieldError::invalid(&p.child("operator"), value, detail));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errors.push(FieldError::invalid(
                        &p.child("operator"),
                        t,
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errors.push(FieldError::not_supported(&p.child("operator"), other, &["Equal", "Exists"])),
        }
        if !effect.is_empty() && !TAINT_EFFECTS.contains(&effect) {
            errors.push(FieldError::not_supported(&p.child("effect"), effect, TAINT_EFFECTS));
        }
    }
}

fn validate_affinity(a: &Affinity, path: &Path, errors: &mut ErrorList) {
    if let Some(na) = &a.node_affinity {
        let p = path.child("nodeAffinity");
        if let Some(sel) = &na.required_during_scheduling_ignored_during_execution {
            validate_node_selector(sel, &p.child("requiredDuringSchedulingIgnoredDuringExecution"), errors);
        }
        let pp = p.child("preferredDuringSchedulingIgnoredDuringExecution");
        for (i, term) in na.preferred_during_scheduling_ignored_during_execution.iter().enumerate() {
            validate_weight(term.weight, &pp.index(i).child("weight"), errors);
            validate_node_selector_term(&term.preference, &pp.index(i).child("preference"), errors);
        }
    }
    let pod_terms = [
        (
            "podAffinity",
            a.pod_affinity.as_ref().map(|x| {
                (
                    &x.required_during_scheduling_ignored_during_execution,
                    &x.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
        (
            "podAntiAffinity",
            a.pod_anti_affinity.as_ref().map(|x| {
                (
                    &x.required_during_scheduling_ignored_during_execution,
                    &x.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
    ];
    for (field, terms) in pod_terms {
        let Some((required, preferred)) = terms else { continue };
        let p = path.child(field);
        for (i, term) in required.iter().enumerate() {
            validate_pod_affinity_term(
                term,
                &p.child("requiredDuringSchedulingIgnoredDuringExecution").index(i),
                errors,
            );
        }
        for (i, WeightedPodAffinityTerm { weight, pod_affinity_term }) in preferred.iter().enumerate() {
            let wp = p.child("preferredDuringSchedulingIgnoredDuringExecution").index(i);
            validate_weight(*weight, &wp.child("weight"), errors);
            validate_pod_affinity_term(pod_affinity_term, &wp.child("podAffinityTerm"), errors);
        }
    }
}

fn validate_weight(weight: i32, path: &Path, errors: &mut ErrorList) {
    if !(1..=100).contains(&weight) {
        errors.push(FieldError::invalid(path, weight, "must be in the range 1-100"));
    }
}

/// `ValidateNodeSelector`: at least one term, each well-formed.
fn validate_node_selector(sel: &NodeSelector, path: &Path, errors: &mut ErrorList) {
    let tp = path.child("nodeSelectorTerms");
    if sel.node_selector_terms.is_empty() {
        errors.push(FieldError::required(&tp, "must have at least one node selector term"));
        return;
    }
    for (i, term) in sel.node_selector_terms.iter().enumerate() {
        validate_node_selector_term(term, &tp.index(i), errors);
    }
}

fn validate_node_selector_term(term: &NodeSelectorTerm, path: &Path, errors: &mut ErrorList) {
    for (j, req) in term.match_expressions.iter().enumerate() {
        validate_node_selector_requirement(req, &path.child("matchExpressions").index(j), errors);
    }
    for (j, req) in term.match_fields.iter().enumerate() {
        validate_node_field_requirement(req, &path.child("matchFields").index(j), errors);
    }
}

fn validate_node_selector_requirement(req: &NodeSelectorRequirement, path: &Path, errors: &mut ErrorList) {
    let vp = path.child("values");
    match req.operator.as_str() {
        "In" | "NotIn" if req.values.is_empty() => {
            errors.push(FieldError::required(&vp, "must be specified when `operator` is 'In' or 'NotIn'"));
        }
        "Exists" | "DoesNotExist" if !req.values.is_empty() => {
            errors
                .push(FieldError::forbidden(&vp, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
        }
        "Gt" | "Lt" if req.values.len() != 1 => {
            errors.push(FieldError::required(&vp, "must be specified single value when `operator` is 'Lt' or 'Gt'"));
        }
        "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt" => {}
        other => errors.push(FieldError::invalid(&path.child("operator"), other, "not a valid selector operator")),
    }
    validate_qualified_name(&req.key, &path.child("key"), errors);
}

fn validate_node_field_requirement(req: &NodeSelectorRequirement, path: &Path, errors: &mut ErrorList) {
    match req.operator.as_str() {
        "In" | "NotIn" => {
            if req.values.len() != 1 {
                errors.push(FieldError::required(
                    &path.child("values"),
                    "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                ));
            }
        }
        other => errors.push(FieldError::invalid(&path.child("operator"), other, "not a valid selector operator")),
    }
    if req.key != "metadata.name" {
        errors.push(FieldError::invalid(&path.child("key"), &req.key, "not a valid field selector key"));
    } else {
        for (i, v) in req.values.iter().enumerate() {
            validate_subdomain(v, &path.child("values").index(i), errors);
        }
    }
}

fn validate_label_keys(keys: &[String], selector: Option<&LabelSelector>, path: &Path, errors: &mut ErrorList) {
    if keys.is_empty() {
        return;
    }
    if selector.is_none() {
        errors.push(FieldError::forbidden(path, "must not be specified when labelSelector is not set"));
        return;
    }
    for (i, k) in keys.iter().enumerate() {
        validate_qualified_name(k, &path.index(i), errors);
    }
}

fn validate_pod_affinity_term(term: &PodAffinityTerm, path: &Path, errors: &mut ErrorList) {
    if let Some(sel) = &term.label_selector {
        validate_label_selector(sel, &path.child("labelSelector"), errors);
    }
    if let Some(sel) = &term.namespace_selector {
        validate_label_selector(sel, &path.child("namespaceSelector"), errors);
    }
    for ns in &term.namespaces {
        validate_label_name(ns, &path.child("namespace"), errors);
    }
    validate_label_keys(&term.match_label_keys, term.label_selector.as_ref(), &path.child("matchLabelKeys"), errors);
    validate_label_keys(
        &term.mismatch_label_keys,
        term.label_selector.as_ref(),
        &path.child("mismatchLabelKeys"),
        errors,
    );
    for (i, k) in term.match_label_keys.iter().enumerate() {
        if term.mismatch_label_keys.contains(k) {
            errors.push(FieldError::invalid(
                &path.child("matchLabelKeys").index(i),
                k,
                "exists in both matchLabelKeys and mismatchLabelKeys",
            ));
        }
    }
    let tk = path.child("topologyKey");
    if term.topology_key.is_empty() {
        errors.push(FieldError::required(&tk, "can not be empty"));
    }
    validate_qualified_name(&term.topology_key, &tk, errors);
}

fn validate_topology_spread_constraints(constraints: &[TopologySpreadConstraint], path: &Path, errors: &mut ErrorList) {
    for (i, c) in constraints.iter().enumerate() {
        let p = path.index(i);
        if c.max_skew <= 0 {
            errors.push(FieldError::invalid(&p.child("maxSkew"), c.max_skew, NOT_POSITIVE_ERROR));
        }
        if c.topology_key.is_empty() {
            errors.push(FieldError::required(&p.child("topologyKey"), "can not be empty"));
        }
        if !matches!(c.when_unsatisfiable.as_str(), "DoNotSchedule" | "ScheduleAnyway") {
            errors.push(FieldError::not_supported(
                &p.child("whenUnsatisfiable"),
                &c.when_unsatisfiable,
                &["DoNotSchedule", "ScheduleAnyway"],
            ));
        }
        if constraints[i + 1..]
            .iter()
            .any(|o| o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable)
        {
            errors.push(FieldError::duplicate(
                &p.child("{topologyKey, whenUnsatisfiable}"),
                format!("{{{}, {}}}", c.topology_key, c.when_unsatisfiable),
            ));
        }
        if let Some(md) = c.min_domains {
            let mp = p.child("minDomains");
            if md <= 0 {
                errors.push(FieldError::invalid(&mp, md, NOT_POSITIVE_ERROR));
            }
            if c.when_unsatisfiable != "DoNotSchedule" {
                errors.push(FieldError::invalid(
                    &mp,
                    md,
                    format!("can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {}", c.when_unsatisfiable),
                ));
            }
        }
        for (field, policy) in
            [("nodeAffinityPolicy", &c.node_affinity_policy), ("nodeTaintsPolicy", &c.node_taints_policy)]
        {
            if let Some(v) = policy
                && !matches!(v.as_str(), "Honor" | "Ignore")
            {
                errors.push(FieldError::not_supported(&p.child(field), v, &["Honor", "Ignore"]));
            }
        }
        if !c.match_label_keys.is_empty() {
            let mp = p.child("matchLabelKeys");
            let selector_keys: HashSet<&str> = match &c.label_selector {
                Some(sel) => sel
                    .match_labels
                    .keys()
                    .map(String::as_str)
                    .chain(sel.match_expressions.iter().map(|e| e.key.as_str()))
                    .collect(),
                None => {
                    errors.push(FieldError::forbidden(&mp, "must not be specified when labelSelector is not set"));
                    HashSet::new()
                }
            };
            for (j, k) in c.match_label_keys.iter().enumerate() {
                validate_qualified_name(k, &mp.index(j), errors);
                if selector_keys.contains(k.as_str()) {
                    errors.push(FieldError::invalid(
                        &mp.index(j),
                        k,
                        "exists in both matchLabelKeys and labelSelector",
                    ));
                }
            }
        }
        if let Some(sel) = &c.label_selector {
            validate_label_selector(sel, &p.child("labelSelector"), errors);
        }
    }
}

fn validate_dns_config(config: Option<&PodDNSConfig>, policy: Option<&str>, path: &Path, errors: &mut ErrorList) {
    if policy == Some("None") {
        match config {
            None => {
                errors.push(FieldError::required(path, "must provide `dnsConfig` when `dnsPolicy` is None"));
                return;
            }
            Some(c) if c.nameservers.is_empty() => {
                errors.push(FieldError::required(
                    &path.child("nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                ));
                return;
            }
            Some(_) => {}
        }
    }
    let Some(c) = config else { return };
    let np = path.child("nameservers");
    if c.nameservers.len() > 3 {
        errors.push(FieldError::invalid(&np, &c.nameservers, "must not have more than 3 nameservers"));
    }
    for (i, ns) in c.nameservers.iter().enumerate() {
        if ns.parse::<IpAddr>().is_err() {
            errors.push(FieldError::invalid(&np.index(i), ns, IP_ERROR));
        }
    }
    let sp = path.child("searches");
    if c.searches.len() > 32 {
        errors.push(FieldError::invalid(&sp, &c.searches, "must not have more than 32 search paths"));
    }
    if c.searches.join(" ").len() > 2048 {
        errors.push(FieldError::invalid(
            &sp,
            &c.searches,
            "must not have more than 2048 characters (including spaces) in the search list",
        ));
    }
    for (i, s) in c.searches.iter().enumerate() {
        validate_subdomain(s.strip_suffix('.').unwrap_or(s), &sp.index(i), errors);
    }
    for (i, o) in c.options.iter().enumerate() {
        if o.name.as_deref().is_none_or(str::is_empty) {
            errors.push(FieldError::required(&path.child("options").index(i), "must not be empty"));
        }
    }
}

// ---------------------------------------------------------------------------
// Volumes
// ---------------------------------------------------------------------------

/// `ValidateVolumes`: returns the valid volumes by name (mounts of invalid
/// volumes are reported as not found, as in Kubernetes).
fn validate_volumes<'a>(volumes: &'a [Volume], path: &Path, ctx: Ctx<'_>, errors: &mut ErrorList) -> VolumeMap<'a> {
    let mut vols = VolumeMap::new();
    let created_claims: HashSet<String> = match ctx.pod_name.filter(|n| !n.is_empty()) {
        Some(pod) => volumes.iter().filter(|v| v.ephemeral.is_some()).map(|v| format!("{pod}-{}", v.name)).collect(),
        None => HashSet::new(),
    };
    for (i, v) in volumes.iter().enumerate() {
        let p = path.index(i);
        let np = p.child("name");
        let mut errs = Vec::new();
        validate_volume_source(v, &p, ctx, &mut errs);
        if v.name.is_empty() {
            errs.push(FieldError::required(&np, ""));
        } else {
            validate_label_name(&v.name, &np, &mut errs);
        }
        if vols.contains_key(v.name.as_str()) {
            errs.push(FieldError::duplicate(&np, &v.name));
        }
        if errs.is_empty() {
            vols.insert(v.name.as_str(), v);
        } else {
            errors.append(&mut errs);
        }
        if let Some(pvc) = &v.persistent_volume_claim
            && created_claims.contains(&pvc.claim_name)
        {
            errors.push(FieldError::invalid(
                &p.child("persistentVolumeClaim").child("claimName"),
                &pvc.claim_name,
                "must not reference a PVC that gets created for an ephemeral volume",
            ));
        }
    }
    vols
}

fn validate_mode(mode: Option<i32>, path: &Path, errors: &mut ErrorList) {
    if let Some(m) = mode
        && !(0..=0o777).contains(&m)
    {
        errors.push(FieldError::invalid(path, m, FILE_MODE_ERROR));
    }
}

fn validate_key_to_path(kp: &KeyToPath, path: &Path, errors: &mut ErrorList) {
    if kp.key.is_empty() {
        errors.push(FieldError::required(&path.child("key"), ""));
    }
    if kp.path.is_empty() {
        errors.push(FieldError::required(&path.child("path"), ""));
    }
    validate_local_non_reserved_path(&kp.path, &path.child("path"), errors);
    validate_mode(kp.mode, &path.child("mode"), errors);
}

fn validate_downward_file(file: &DownwardAPIVolumeFile, path: &Path, errors: &mut ErrorList) {
    if file.path.is_empty() {
        errors.push(FieldError::required(&path.child("path"), ""));
    }
    validate_local_non_reserved_path(&file.path, &path.child("path"), errors);
    match (&file.field_ref, &file.resource_field_ref) {
        (Some(f), r) => {
            validate_object_field_selector(f, VOLUME_FIELD_PATHS, &path.child("fieldRef"), errors);
            if r.is_some() {
                errors.push(FieldError::invalid(
                    path,
                    "resource",
                    "fieldRef and resourceFieldRef can not be specified simultaneously",
                ));
            }
        }
        (None, Some(r)) => validate_resource_field_selector(r, true, &path.child("resourceFieldRef"), errors),
        (None, None) => errors.push(FieldError::required(path, "one of fieldRef and resourceFieldRef is required")),
    }
    validate_mode(file.mode, &path.child("mode"), errors);
}

/// `validateVolumeSource`: exactly one source, each well-formed.
fn validate_volume_source(v: &Volume, path: &Path, ctx: Ctx<'_>, errors: &mut ErrorList) {
    let names = v.source_names();
    if names.is_empty() {
        errors.push(FieldError::required(path, "must specify a volume type"));
        return;
    }
    for extra in &names[1..] {
        errors.push(FieldError::forbidden(&path.child(extra), "may not specify more than 1 volume type"));
    }
    let p = path.child(names[0]);
    match names[0] {
        "emptyDir" => {
            if let Some(limit) = v.empty_dir.as_ref().and_then(|e| e.size_limit.as_ref())
                && limit.is_negative()
            {
                errors.push(FieldError::forbidden(
                    &p.child("sizeLimit"),
                    "SizeLimit field must be a valid resource quantity",
                ));
            }
        }
        "hostPath" => {
            if let Some(hp) = &v.host_path {
                if hp.path.is_empty() {
                    errors.push(FieldError::required(&p.child("path"), ""));
                } else {
                    validate_no_backsteps(&hp.path, &p.child("path"), errors);
                }
                if let Some(t) = &hp.type_
                    && !HOST_PATH_TYPES.contains(&t.as_str())
                {
                    errors.push(FieldError::not_supported(&p.child("type"), t, HOST_PATH_TYPES));
                }
            }
        }
        "secret" => {
            if let Some(s) = &v.secret {
                if s.secret_name.as_deref().is_none_or(str::is_empty) {
                    errors.push(FieldError::required(&p.child("secretName"), ""));
                }
                validate_mode(s.default_mode, &p.child("defaultMode"), errors);
                for (i, kp) in s.items.iter().enumerate() {
                    validate_key_to_path(kp, &p.child("items").index(i), errors);
                }
            }
        }
        "configMap" => {
            if let Some(cm) = &v.config_map {
                if cm.name.is_empty() {
                    errors.push(FieldError::required(&p.child("name"), ""));
                }
                validate_mode(cm.default_mode, &p.child("defaultMode"), errors);
                for (i, kp) in cm.items.iter().enumerate() {
                    validate_key_to_path(kp, &p.child("items").index(i), errors);
                }
            }
        }
        "nfs" => {
            if let Some(nfs) = &v.nfs {
                if nfs.server.is_empty() {
                    errors.push(FieldError::required(&p.child("server"), ""));
                }
                if nfs.path.is_empty() {
                    errors.push(FieldError::required(&p.child("path"), ""));
                } else if !is_absolute(&nfs.path) {
                    errors.push(FieldError::invalid(&p.child("path"), &nfs.path, "must be an absolute path"));
                }
            }
        }
        "persistentVolumeClaim" => {
            if v.persistent_volume_claim.as_ref().is_some_and(|c| c.claim_name.is_empty()) {
                errors.push(FieldError::required(&p.child("claimName"), ""));
            }
        }
        "downwardAPI" => {
            if let Some(d) = &v.downward_api {
                validate_mode(d.default_mode, &p.child("defaultMode"), errors);
                for (i, f) in d.items.iter().enumerate() {
                    validate_downward_file(f, &p.child("items").index(i), errors);
                }
            }
        }
        "projected" => {
            if let Some(pr) = &v.projected {
                validate_projected(pr, &p, errors);
            }
        }
        "csi" => {
            if let Some(csi) = &v.csi {
                let dp = p.child("driver");
                if csi.driver.is_empty() {
                    errors.push(FieldError::required(&dp, ""));
                } else if csi.driver.len() > 63 {
                    errors.push(FieldError::too_long(&dp, 63));
                } else if !is_dns1123_subdomain(&csi.driver.to_lowercase()) {
                    errors.push(FieldError::invalid(&dp, &csi.driver, DNS1123_SUBDOMAIN_ERROR));
                }
                if let Some(r) = &csi.node_publish_secret_ref {
                    if r.name.is_empty() {
                        errors.push(FieldError::required(&p.child("nodePublishSecretRef").child("name"), ""));
                    } else {
                        validate_subdomain(&r.name, &p.child("nodePublishSecretRef").child("name"), errors);
                    }
                }
            }
        }
        "ephemeral" => {
            if let Some(e) = &v.ephemeral {
                validate_claim_template_json(e.volume_claim_template.as_ref(), &p.child("volumeClaimTemplate"), errors);
            }
        }
        "image" => {
            if let Some(img) = &v.image {
                if ctx.is_pod && img.reference.as_deref().is_none_or(str::is_empty) {
                    errors.push(FieldError::required(&p.child("reference"), ""));
                }
                validate_enum(img.pull_policy.as_deref(), PULL_POLICIES, &p.child("pullPolicy"), errors);
            }
        }
        // The in-tree sources kept as raw JSON must at least be objects.
        _ => {
            let raw = raw_source(v, names[0]);
            if raw.is_some_and(|r| !r.is_object()) {
                errors.push(FieldError::invalid(&p, raw, "must be an object"));
            }
        }
    }
}

fn raw_source<'a>(v: &'a Volume, name: &str) -> Option<&'a Value> {
    match name {
        "gcePersistentDisk" => v.gce_persistent_disk.as_deref(),
        "awsElasticBlockStore" => v.aws_elastic_block_store.as_deref(),
        "gitRepo" => v.git_repo.as_deref(),
        "iscsi" => v.iscsi.as_deref(),
        "glusterfs" => v.glusterfs.as_deref(),
        "rbd" => v.rbd.as_deref(),
        "flexVolume" => v.flex_volume.as_deref(),
        "cinder" => v.cinder.as_deref(),
        "cephfs" => v.cephfs.as_deref(),
        "flocker" => v.flocker.as_deref(),
        "fc" => v.fc.as_deref(),
        "azureFile" => v.azure_file.as_deref(),
        "vsphereVolume" => v.vsphere_volume.as_deref(),
        "quobyte" => v.quobyte.as_deref(),
        "azureDisk" => v.azure_disk.as_deref(),
        "photonPersistentDisk" => v.photon_persistent_disk.as_deref(),
        "portworxVolume" => v.portworx_volume.as_deref(),
        "scaleIO" => v.scale_io.as_deref(),
        "storageos" => v.storageos.as_deref(),
        _ => None,
    }
}

/// The essentials of a claim template kept as JSON: an object whose spec has
/// access modes and a storage request.
fn validate_claim_template_json(template: Option<&Value>, path: &Path, errors: &mut ErrorList) {
    let Some(t) = template else {
        errors.push(FieldError::required(path, ""));
        return;
    };
    let Some(obj) = t.as_object() else {
        errors.push(FieldError::invalid(path, t, "must be an object"));
        return;
    };
    let spec = obj.get("spec");
    let sp = path.child("spec");
    if spec.and_then(|s| s.get("accessModes")).and_then(Value::as_array).is_none_or(Vec::is_empty) {
        errors.push(FieldError::required(&sp.child("accessModes"), "at least 1 access mode is required"));
    }
    let storage = spec.and_then(|s| s.get("resources")).and_then(|r| r.get("requests")).and_then(|r| r.get("storage"));
    if storage.is_none() {
        errors.push(FieldError::required(&sp.child("resources").key("storage"), ""));
    }
}

fn validate_projected(pr: &super::ProjectedVolumeSource, path: &Path, errors: &mut ErrorList) {
    validate_mode(pr.default_mode, &path.child("defaultMode"), errors);
    let mut all_paths = HashSet::new();
    let mut note_path = |file: &str, errors: &mut ErrorList| {
        if !file.is_empty() && !all_paths.insert(file.to_owned()) {
            errors.push(FieldError::invalid(path, file, "conflicting duplicate paths"));
        }
    };
    for (i, source) in pr.sources.iter().enumerate() {
        let sp = path.child("sources").index(i);
        let mut count = 0;
        for (field, name, items) in [
            ("secret", source.secret.as_ref().map(|s| &s.name), source.secret.as_ref().map(|s| &s.items)),
            ("configMap", source.config_map.as_ref().map(|s| &s.name), source.config_map.as_ref().map(|s| &s.items)),
        ] {
            let (Some(name), Some(items)) = (name, items) else { continue };
            count += 1;
            let pp = sp.child(field);
            if name.is_empty() {
                errors.push(FieldError::required(&pp.child("name"), ""));
            }
            for (j, kp) in items.iter().enumerate() {
                validate_key_to_path(kp, &pp.child("items").index(j), errors);
                note_path(&kp.path, errors);
            }
        }
        if let Some(d) = &source.downward_api {
            count += 1;
            for (j, f) in d.items.iter().enumerate() {
                validate_downward_file(f, &sp.child("downwardAPI").child("items").index(j), errors);
                note_path(&f.path, errors);
            }
        }
        if let Some(t) = &source.service_account_token {
            count += 1;
            let tp = sp.child("serviceAccountToken");
            let exp = t.expiration_seconds.unwrap_or(3600);
            if exp < 600 {
                errors.push(FieldError::invalid(
                    &tp.child("expirationSeconds"),
                    exp,
                    "may not specify a duration less than 10 minutes",
                ));
            }
            if exp > 1 << 32 {
                errors.push(FieldError::invalid(
                    &tp.child("expirationSeconds"),
                    exp,
                    "may not specify a duration larger than 2^32 seconds",
                ));
            }
            if t.path.is_empty() {
                errors.push(FieldError::required(&tp.child("path"), ""));
            } else {
                validate_local_non_reserved_path(&t.path, &tp.child("path"), errors);
            }
            note_path(&t.path, errors);
        }
        if let Some(b) = &source.cluster_trust_bundle {
            count += 1;
            let bp = sp.child("clusterTrustBundle");
            match (&b.name, &b.signer_name) {
                (Some(_), Some(_)) => {
                    errors.push(FieldError::invalid(&bp, b, "only one of name and signerName may be used"))
                }
                (Some(n), None) => {
                    if n.is_empty() {
                        errors.push(FieldError::required(&bp.child("name"), "must be a valid object name"));
                    }
                    if b.label_selector.is_some() {
                        errors.push(FieldError::invalid(
                            &bp.child("labelSelector"),
                            &b.label_selector,
                            "labelSelector must be unset if name is specified",
                        ));
                    }
                }
                (None, Some(s)) => {
                    if s.is_empty() {
                        errors.push(FieldError::required(&bp.child("signerName"), "must be a valid signer name"));
                    }
                    if let Some(sel) = &b.label_selector {
                        validate_label_selector(sel, &bp.child("labelSelector"), errors);
                    }
                }
                (None, None) => errors.push(FieldError::required(&bp, "either name or signerName must be specified")),
            }
            if b.path.is_empty() {
                errors.push(FieldError::required(&bp.child("path"), ""));
            }
            validate_local_non_reserved_path(&b.path, &bp.child("path"), errors);
            note_path(&b.path, errors);
        }
        if count > 1 {
            errors.push(FieldError::forbidden(&sp, "may not specify more than 1 volume type per source"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ApplyDefaults;
    use crate::core::v1::{
        EnvVarSource, EphemeralContainer, ExecAction, HostPathVolumeSource, PodOS, PodSchedulingGate,
        ProjectedVolumeSource, SecretVolumeSource, ServiceAccountTokenProjection, TCPSocketAction, VolumeProjection,
    };
    use crate::meta::ObjectMeta;

    type Case = (&'static str, fn(&mut Pod), &'static [(&'static str, &'static str)]);

    fn q(s: &str) -> Quantity {
        s.parse().unwrap()
    }

    fn causes(errors: &ErrorList) -> Vec<(String, &'static str)> {
        errors.iter().map(|e| (e.field.clone(), e.type_.cause())).collect()
    }

    fn expect(pairs: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
        pairs.iter().map(|(f, c)| ((*f).to_owned(), *c)).collect()
    }

    /// A valid, defaulted pod with one container, a port, a mount and resources.
    fn valid_pod() -> Pod {
        let mut pod = Pod::named("web");
        pod.metadata.namespace = "default".into();
        let mut c = Container::new("web", "nginx:1.27");
        c.ports = vec![ContainerPort { name: Some("http".into()), container_port: 80, ..Default::default() }];
        c.volume_mounts = vec![VolumeMount::new("data", "/data")];
        c.resources = Some(ResourceRequirements {
            limits: [("cpu".to_owned(), q("1"))].into(),
            requests: [("cpu".to_owned(), q("500m"))].into(),
            claims: vec![],
        });
        pod.spec.containers = vec![c];
        pod.spec.volumes = vec![Volume { name: "data".into(), empty_dir: Some(Box::default()), ..Default::default() }];
        pod.apply_defaults();
        pod
    }

    fn c0(p: &mut Pod) -> &mut Container {
        &mut p.spec.containers[0]
    }

    #[test]
    fn valid_pods_pass() {
        assert_eq!(valid_pod().validate(), vec![]);
        // Undefaulted specs validate too.
        let mut spec = PodSpec { containers: vec![Container::new("a", "busybox")], ..Default::default() };
        let mut errors = Vec::new();
        validate_pod_spec(&spec, &Path::new("spec"), &mut errors);
        assert_eq!(errors, vec![]);
        spec.apply_defaults();
        validate_pod_spec(&spec, &Path::new("spec"), &mut errors);
        assert_eq!(errors, vec![]);
    }

    #[test]
    fn validation_table() {
        let cases: &[Case] = &[
            ("no containers", |p| p.spec.containers.clear(), &[("spec.containers", "FieldValueRequired")]),
            (
                "duplicate container",
                |p| p.spec.containers.push(p.spec.containers[0].clone()),
                &[("spec.containers[1].name", "FieldValueDuplicate")],
            ),
            (
                "init container name clashes",
                |p| p.spec.init_containers.push(Container::new("web", "busybox")),
                &[("spec.initContainers[0].name", "FieldValueDuplicate")],
            ),
            ("bad container name", |p| c0(p).name = "Web".into(), &[("spec.containers[0].name", "FieldValueInvalid")]),
            ("missing image", |p| c0(p).image = None, &[("spec.containers[0].image", "FieldValueRequired")]),
            (
                "port too big",
                |p| c0(p).ports[0].container_port = 70000,
                &[("spec.containers[0].ports[0].containerPort", "FieldValueInvalid")],
            ),
            (
                "port zero",
                |p| c0(p).ports[0].container_port = 0,
                &[("spec.containers[0].ports[0].containerPort", "FieldValueRequired")],
            ),
            (
                "bad host port",
                |p| c0(p).ports[0].host_port = Some(-1),
                &[("spec.containers[0].ports[0].hostPort", "FieldValueInvalid")],
            ),
            (
                "bad protocol",
                |p| c0(p).ports[0].protocol = Some("HTTP".into()),
                &[("spec.containers[0].ports[0].protocol", "FieldValueNotSupported")],
            ),
            (
                "bad port name",
                |p| c0(p).ports[0].name = Some("HTTP".into()),
                &[
                    ("spec.containers[0].ports[0].name", "FieldValueInvalid"),
                    ("spec.containers[0].ports[0].name", "FieldValueInvalid"),
                ],
            ),
            (
                "duplicate port name",
                |p| {
                    let mut port = c0(p).ports[0].clone();
                    port.container_port = 81;
                    c0(p).ports.push(port);
                },
                &[("spec.containers[0].ports[1].name", "FieldValueDuplicate")],
            ),
            (
                "duplicate host port",
                |p| {
                    c0(p).ports[0].host_port = Some(8080);
                    let mut other = Container::new("other", "busybox");
                    other.ports =
                        vec![ContainerPort { container_port: 90, host_port: Some(8080), ..Default::default() }];
                    p.spec.containers.push(other);
                },
                &[("spec.containers[1].ports[0].hostPort", "FieldValueDuplicate")],
            ),
            (
                "unsupported restartPolicy",
                |p| p.spec.restart_policy = Some("Sometimes".into()),
                &[("spec.restartPolicy", "FieldValueNotSupported")],
            ),
            (
                "unsupported dnsPolicy",
                |p| p.spec.dns_policy = Some("Google".into()),
                &[("spec.dnsPolicy", "FieldValueNotSupported")],
            ),
            (
                "dnsPolicy None needs config",
                |p| p.spec.dns_policy = Some("None".into()),
                &[("spec.dnsConfig", "FieldValueRequired")],
            ),
            (
                "unsupported pull policy",
                |p| c0(p).image_pull_policy = Some("Sometimes".into()),
                &[("spec.containers[0].imagePullPolicy", "FieldValueNotSupported")],
            ),
            (
                "unsupported termination message policy",
                |p| c0(p).termination_message_policy = Some("Log".into()),
                &[("spec.containers[0].terminationMessagePolicy", "FieldValueNotSupported")],
            ),
            (
                "mount of missing volume",
                |p| c0(p).volume_mounts.push(VolumeMount::new("missing", "/m")),
                &[("spec.containers[0].volumeMounts[1].name", "FieldValueNotFound")],
            ),
            (
                "mount path required",
                |p| c0(p).volume_mounts[0].mount_path.clear(),
                &[("spec.containers[0].volumeMounts[0].mountPath", "FieldValueRequired")],
            ),
            (
                "absolute subPath",
                |p| c0(p).volume_mounts[0].sub_path = Some("/etc".into()),
                &[("spec.containers[0].volumeMounts[0].subPath", "FieldValueInvalid")],
            ),
            (
                "requests above limits",
                |p| {
                    c0(p).resources.as_mut().unwrap().requests.insert("cpu".into(), q("2"));
                },
                &[("spec.containers[0].resources.requests", "FieldValueInvalid")],
            ),
            (
                "negative limit",
                |p| {
                    c0(p).resources.as_mut().unwrap().limits.insert("memory".into(), q("-1"));
                },
                &[("spec.containers[0].resources.limits[memory]", "FieldValueInvalid")],
            ),
            (
                "non-container resource",
                |p| {
                    c0(p).resources.as_mut().unwrap().limits.insert("pods".into(), q("1"));
                },
                &[("spec.containers[0].resources.limits[pods]", "FieldValueInvalid")],
            ),
            (
                "extended resource needs equal limit",
                |p| {
                    c0(p).resources.as_mut().unwrap().requests.insert("example.com/gpu".into(), q("1"));
                },
                &[("spec.containers[0].resources.limits", "FieldValueRequired")],
            ),
            (
                "claim not in pod",
                |p| {
                    c0(p).resources.as_mut().unwrap().claims =
                        vec![super::super::ResourceClaim { name: "gpu".into(), request: None }]
                },
                &[("spec.containers[0].resources.claims[0]", "FieldValueNotFound")],
            ),
            (
                "duplicate volume",
                |p| p.spec.volumes.push(p.spec.volumes[0].clone()),
                &[("spec.volumes[1].name", "FieldValueDuplicate")],
            ),
            (
                "two volume sources",
                |p| {
                    p.spec.volumes[0].host_path =
                        Some(Box::new(HostPathVolumeSource { path: "/x".into(), type_: None }))
                },
                &[
                    ("spec.volumes[0].hostPath", "FieldValueForbidden"),
                    ("spec.containers[0].volumeMounts[0].name", "FieldValueNotFound"),
                ],
            ),
            (
                "no volume source",
                |p| p.spec.volumes.push(Volume { name: "none".into(), ..Default::default() }),
                &[("spec.volumes[1]", "FieldValueRequired")],
            ),
            (
                "bad volume name and secret",
                |p| {
                    p.spec.volumes.push(Volume {
                        name: "Bad".into(),
                        secret: Some(Box::new(SecretVolumeSource { default_mode: Some(0o1777), ..Default::default() })),
                        ..Default::default()
                    })
                },
                &[
                    ("spec.volumes[1].secret.secretName", "FieldValueRequired"),
                    ("spec.volumes[1].secret.defaultMode", "FieldValueInvalid"),
                    ("spec.volumes[1].name", "FieldValueInvalid"),
                ],
            ),
            (
                "short token",
                |p| {
                    p.spec.volumes.push(Volume {
                        name: "tok".into(),
                        projected: Some(Box::new(ProjectedVolumeSource {
                            sources: vec![VolumeProjection {
                                service_account_token: Some(ServiceAccountTokenProjection {
                                    expiration_seconds: Some(60),
                                    path: "../t".into(),
                                    ..Default::default()
                                }),
                                ..Default::default()
                            }],
                            default_mode: None,
                        })),
                        ..Default::default()
                    })
                },
                &[
                    ("spec.volumes[1].projected.sources[0].serviceAccountToken.expirationSeconds", "FieldValueInvalid"),
                    ("spec.volumes[1].projected.sources[0].serviceAccountToken.path", "FieldValueInvalid"),
                ],
            ),
            (
                "image volume needs a reference in pods",
                |p| {
                    p.spec.volumes.push(Volume {
                        name: "img".into(),
                        image: Some(Box::default()),
                        ..Default::default()
                    })
                },
                &[("spec.volumes[1].image.reference", "FieldValueRequired")],
            ),
            (
                "env name required",
                |p| c0(p).env.push(EnvVar::new("", "x")),
                &[("spec.containers[0].env[0].name", "FieldValueRequired")],
            ),
            (
                "env two sources",
                |p| {
                    c0(p).env.push(EnvVar {
                        name: "X".into(),
                        value_from: Some(Box::new(EnvVarSource {
                            field_ref: Some(ObjectFieldSelector {
                                api_version: None,
                                field_path: "metadata.name".into(),
                            }),
                            resource_field_ref: Some(ResourceFieldSelector {
                                resource: "limits.gpu".into(),
                                ..Default::default()
                            }),
                            ..Default::default()
                        })),
                        ..Default::default()
                    })
                },
                &[
                    ("spec.containers[0].env[0].valueFrom.resourceFieldRef.resource", "FieldValueNotSupported"),
                    ("spec.containers[0].env[0].valueFrom", "FieldValueInvalid"),
                ],
            ),
            (
                "env unsupported field",
                |p| {
                    c0(p).env.push(EnvVar {
                        name: "X".into(),
                        value_from: Some(Box::new(EnvVarSource {
                            field_ref: Some(ObjectFieldSelector {
                                api_version: None,
                                field_path: "status.phase".into(),
                            }),
                            ..Default::default()
                        })),
                        ..Default::default()
                    })
                },
                &[("spec.containers[0].env[0].valueFrom.fieldRef.fieldPath", "FieldValueNotSupported")],
            ),
            (
                "env no source",
                |p| c0(p).env.push(EnvVar { name: "X".into(), value_from: Some(Box::default()), ..Default::default() }),
                &[("spec.containers[0].env[0].valueFrom", "FieldValueInvalid")],
            ),
            (
                "liveness success threshold",
                |p| {
                    c0(p).liveness_probe = Some(Box::new(Probe {
                        exec: Some(ExecAction { command: vec!["true".into()] }),
                        success_threshold: Some(2),
                        ..Default::default()
                    }))
                },
                &[("spec.containers[0].livenessProbe.successThreshold", "FieldValueInvalid")],
            ),
            (
                "probe with two handlers",
                |p| {
                    c0(p).readiness_probe = Some(Box::new(Probe {
                        exec: Some(ExecAction { command: vec!["true".into()] }),
                        tcp_socket: Some(TCPSocketAction { port: IntOrString::Int(80), host: None }),
                        ..Default::default()
                    }))
                },
                &[("spec.containers[0].readinessProbe.tcpSocket", "FieldValueForbidden")],
            ),
            (
                "probe without handler",
                |p| c0(p).startup_probe = Some(Box::default()),
                &[("spec.containers[0].startupProbe", "FieldValueRequired")],
            ),
            (
                "restartPolicy on app container",
                |p| c0(p).restart_policy = Some("Always".into()),
                &[("spec.containers[0].restartPolicy", "FieldValueForbidden")],
            ),
            (
                "probe on plain init container",
                |p| {
                    let mut init = Container::new("init", "busybox");
                    init.liveness_probe = Some(Box::new(Probe {
                        exec: Some(ExecAction { command: vec!["true".into()] }),
                        ..Default::default()
                    }));
                    p.spec.init_containers.push(init);
                },
                &[("spec.initContainers[0].livenessProbe", "FieldValueForbidden")],
            ),
            (
                "init restartPolicy",
                |p| {
                    let mut init = Container::new("init", "busybox");
                    init.restart_policy = Some("OnFailure".into());
                    p.spec.init_containers.push(init);
                },
                &[("spec.initContainers[0].restartPolicy", "FieldValueNotSupported")],
            ),
            (
                "toleration Exists with value",
                |p| {
                    p.spec.tolerations.push(Toleration {
                        key: Some("k".into()),
                        operator: Some("Exists".into()),
                        value: Some("v".into()),
                        ..Default::default()
                    })
                },
                &[("spec.tolerations[0].operator", "FieldValueInvalid")],
            ),
            (
                "tolerationSeconds without NoExecute",
                |p| {
                    p.spec.tolerations.push(Toleration {
                        key: Some("k".into()),
                        effect: Some("NoSchedule".into()),
                        toleration_seconds: Some(5),
                        ..Default::default()
                    })
                },
                &[("spec.tolerations[0].effect", "FieldValueInvalid")],
            ),
            (
                "toleration bad effect and operator",
                |p| {
                    p.spec.tolerations.push(Toleration {
                        key: Some("k".into()),
                        operator: Some("Like".into()),
                        effect: Some("Evict".into()),
                        ..Default::default()
                    })
                },
                &[
                    ("spec.tolerations[0].operator", "FieldValueNotSupported"),
                    ("spec.tolerations[0].effect", "FieldValueNotSupported"),
                ],
            ),
            (
                "empty key needs Exists",
                |p| p.spec.tolerations.push(Toleration::default()),
                &[("spec.tolerations[0].operator", "FieldValueInvalid")],
            ),
            (
                "bad nodeSelector",
                |p| {
                    p.spec.node_selector.insert("bad key!".into(), "x".into());
                },
                &[("spec.nodeSelector", "FieldValueInvalid")],
            ),
            (
                "affinity term",
                |p| {
                    p.spec.affinity = Some(Box::new(Affinity {
                        pod_affinity: Some(super::super::PodAffinity {
                            required_during_scheduling_ignored_during_execution: vec![PodAffinityTerm::default()],
                            ..Default::default()
                        }),
                        node_affinity: Some(super::super::NodeAffinity {
                            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                                node_selector_terms: vec![NodeSelectorTerm {
                                    match_expressions: vec![NodeSelectorRequirement {
                                        key: "zone".into(),
                                        operator: "Near".into(),
                                        values: vec![],
                                    }],
                                    match_fields: vec![],
                                }],
                            }),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }))
                },
                &[
                    (
                        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator",
                        "FieldValueInvalid",
                    ),
                    (
                        "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
                        "FieldValueRequired",
                    ),
                    (
                        "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
                        "FieldValueInvalid",
                    ),
                ],
            ),
            (
                "topology spread",
                |p| {
                    p.spec
                        .topology_spread_constraints
                        .push(TopologySpreadConstraint { when_unsatisfiable: "Maybe".into(), ..Default::default() })
                },
                &[
                    ("spec.topologySpreadConstraints[0].maxSkew", "FieldValueInvalid"),
                    ("spec.topologySpreadConstraints[0].topologyKey", "FieldValueRequired"),
                    ("spec.topologySpreadConstraints[0].whenUnsatisfiable", "FieldValueNotSupported"),
                ],
            ),
            ("bad hostname", |p| p.spec.hostname = Some("web.0".into()), &[("spec.hostname", "FieldValueInvalid")]),
            ("bad subdomain", |p| p.spec.subdomain = Some("Web".into()), &[("spec.subdomain", "FieldValueInvalid")]),
            (
                "activeDeadlineSeconds zero",
                |p| p.spec.active_deadline_seconds = Some(0),
                &[("spec.activeDeadlineSeconds", "FieldValueInvalid")],
            ),
            (
                "negative grace period",
                |p| p.spec.termination_grace_period_seconds = Some(-1),
                &[("spec.terminationGracePeriodSeconds", "FieldValueInvalid")],
            ),
            (
                "bad priorityClassName",
                |p| p.spec.priority_class_name = Some("High!".into()),
                &[("spec.priorityClassName", "FieldValueInvalid")],
            ),
            ("bad os", |p| p.spec.os = Some(PodOS { name: "plan9".into() }), &[("spec.os", "FieldValueNotSupported")]),
            (
                "hostNetwork port mismatch",
                |p| {
                    p.spec.host_network = Some(true);
                    c0(p).ports[0].host_port = Some(8080);
                },
                &[("spec.containers[0].ports[0].containerPort", "FieldValueInvalid")],
            ),
            (
                "bad runAsUser",
                |p| {
                    c0(p).security_context =
                        Some(Box::new(SecurityContext { run_as_user: Some(-1), ..Default::default() }))
                },
                &[("spec.containers[0].securityContext.runAsUser", "FieldValueInvalid")],
            ),
            (
                "ephemeral containers on create",
                |p| {
                    p.spec.ephemeral_containers.push(EphemeralContainer::from_container(
                        Container::new("debug", "busybox"),
                        Some("web".into()),
                    ))
                },
                &[("spec.ephemeralContainers", "FieldValueForbidden")],
            ),
            (
                "nodeName with scheduling gates",
                |p| {
                    p.spec.node_name = Some("node-1".into());
                    p.spec.scheduling_gates.push(PodSchedulingGate { name: "example.com/wait".into() });
                },
                &[("spec.nodeName", "FieldValueForbidden")],
            ),
            (
                "image whitespace",
                |p| c0(p).image = Some(" nginx".into()),
                &[("spec.containers[0].image", "FieldValueInvalid")],
            ),
            ("missing namespace", |p| p.metadata.namespace.clear(), &[("metadata.namespace", "FieldValueRequired")]),
        ];
        for (name, mutate, want) in cases {
            let mut pod = valid_pod();
            mutate(&mut pod);
            assert_eq!(causes(&pod.validate()), expect(want), "case {name:?}");
        }
    }

    #[test]
    fn messages_match_kubernetes() {
        let messages = |mutate: fn(&mut Pod)| {
            let mut pod = valid_pod();
            mutate(&mut pod);
            pod.validate().iter().map(ToString::to_string).collect::<Vec<_>>()
        };
        assert_eq!(
            messages(|p| {
                c0(p).resources.as_mut().unwrap().requests.insert("cpu".into(), q("2"));
            }),
            [
                "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1"
            ]
        );
        assert_eq!(
            messages(|p| c0(p).ports[0].container_port = 70000),
            ["spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"]
        );
        assert_eq!(
            messages(|p| p.spec.restart_policy = Some("Sometimes".into())),
            [
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""
            ]
        );
        assert_eq!(messages(|p| c0(p).image = None), ["spec.containers[0].image: Required value"]);
        assert_eq!(
            messages(|p| c0(p).volume_mounts[0].name = "nope".into()),
            ["spec.containers[0].volumeMounts[0].name: Not found: \"nope\""]
        );
        assert_eq!(
            messages(|p| p.spec.containers.push(p.spec.containers[0].clone())),
            ["spec.containers[1].name: Duplicate value: \"web\""]
        );
    }

    #[test]
    fn template_validation() {
        let mut template = PodTemplate {
            metadata: ObjectMeta::namespaced("default", "t"),
            template: PodTemplateSpec {
                metadata: ObjectMeta { labels: [("bad key!".to_owned(), "x".to_owned())].into(), ..Default::default() },
                spec: PodSpec {
                    volumes: vec![Volume { name: "img".into(), image: Some(Box::default()), ..Default::default() }],
                    ..Default::default()
                },
            },
            ..Default::default()
        };
        assert_eq!(
            causes(&template.validate()),
            expect(&[("template.labels", "FieldValueInvalid"), ("template.spec.containers", "FieldValueRequired")])
        );
        template.template.metadata.labels.clear();
        template.template.spec.containers.push(Container::new("c", "busybox"));
        template
            .template
            .spec
            .ephemeral_containers
            .push(EphemeralContainer::from_container(Container::new("d", "busybox"), None));
        assert_eq!(
            causes(&template.validate()),
            expect(&[("template.spec.ephemeralContainers", "FieldValueForbidden")])
        );
        template.template.spec.ephemeral_containers.clear();
        assert_eq!(template.validate_update(&template.clone()), vec![]);
    }

    #[test]
    fn ephemeral_container_rules() {
        let mut spec = valid_pod().spec;
        let mut debug = Container::new("debug", "busybox");
        debug.ports = vec![ContainerPort { container_port: 80, ..Default::default() }];
        debug.volume_mounts = vec![VolumeMount { sub_path: Some("x".into()), ..VolumeMount::new("data", "/d") }];
        spec.ephemeral_containers = vec![
            EphemeralContainer::from_container(debug, Some("nope".into())),
            EphemeralContainer::from_container(Container::new("web", "busybox"), None),
        ];
        let mut errors = Vec::new();
        validate_pod_spec(&spec, &Path::new("spec"), &mut errors);
        assert_eq!(
            causes(&errors),
            expect(&[
                ("spec.ephemeralContainers[0].targetContainerName", "FieldValueNotFound"),
                ("spec.ephemeralContainers[0].ports", "FieldValueForbidden"),
                ("spec.ephemeralContainers[0].volumeMounts[0].subPath", "FieldValueForbidden"),
                ("spec.ephemeralContainers[1].name", "FieldValueInvalid"),
            ])
        );
    }

    #[test]
    fn update_rules() {
        let old = valid_pod();
        let update = |mutate: fn(&mut Pod)| {
            let mut new = old.clone();
            mutate(&mut new);
            causes(&new.validate_update(&old))
        };
        assert_eq!(update(|_| {}), vec![]);
        assert_eq!(update(|p| c0(p).image = Some("nginx:1.28".into())), vec![], "image may change");
        assert_eq!(update(|p| p.spec.active_deadline_seconds = Some(600)), vec![], "deadline may be set");
        assert_eq!(
            update(|p| p.spec.tolerations.push(Toleration { operator: Some("Exists".into()), ..Default::default() })),
            vec![],
            "tolerations may be added"
        );
        assert_eq!(
            update(|p| p.spec.restart_policy = Some("Never".into())),
            expect(&[("spec", "FieldValueForbidden")])
        );
        assert_eq!(
            update(|p| p.spec.containers.push(Container::new("b", "busybox"))),
            expect(&[("spec.containers", "FieldValueForbidden")])
        );
        assert_eq!(update(|p| p.metadata.name = "other".into()), expect(&[("metadata.name", "FieldValueInvalid")]));
        assert_eq!(
            update(|p| p.spec.scheduling_gates.push(PodSchedulingGate { name: "example.com/g".into() })),
            expect(&[("spec.schedulingGates[0].name", "FieldValueForbidden")])
        );

        let mut mutated = old.clone();
        c0(&mut mutated).image_pull_policy = Some("Never".into());
        let errors = mutated.validate_update(&old);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].detail.starts_with("pod updates may not change fields other than `spec.containers[*].image`"),
            "{}",
            errors[0].detail
        );
        assert!(
            errors[0].detail.contains("spec.containers[0].imagePullPolicy: \"IfNotPresent\" -> \"Never\""),
            "{}",
            errors[0].detail
        );

        // Deadline: only set or lowered.
        let mut with_deadline = old.clone();
        with_deadline.spec.active_deadline_seconds = Some(100);
        let mut raised = with_deadline.clone();
        raised.spec.active_deadline_seconds = Some(200);
        assert_eq!(
            causes(&raised.validate_update(&with_deadline)),
            expect(&[("spec.activeDeadlineSeconds", "FieldValueInvalid")])
        );
        let mut lowered = with_deadline.clone();
        lowered.spec.active_deadline_seconds = Some(50);
        assert_eq!(lowered.validate_update(&with_deadline), vec![]);

        // Tolerations: existing ones may only change tolerationSeconds.
        let mut tolerating = old.clone();
        tolerating.spec.tolerations = vec![Toleration {
            key: Some("k".into()),
            operator: Some("Exists".into()),
            effect: Some("NoExecute".into()),
            toleration_seconds: Some(10),
            ..Default::default()
        }];
        let mut longer = tolerating.clone();
        longer.spec.tolerations[0].toleration_seconds = Some(20);
        assert_eq!(longer.validate_update(&tolerating), vec![]);
        let mut changed = tolerating.clone();
        changed.spec.tolerations[0].key = Some("other".into());
        assert_eq!(
            causes(&changed.validate_update(&tolerating)),
            expect(&[("spec.tolerations", "FieldValueForbidden")])
        );

        // A negative grace period may become 1.
        let mut negative = old.clone();
        negative.spec.termination_grace_period_seconds = Some(-1);
        let mut one = old.clone();
        one.spec.termination_grace_period_seconds = Some(1);
        assert_eq!(one.validate_update(&negative), vec![]);

        // Gated pods may gain node selector labels and lose gates.
        let mut gated = old.clone();
        gated.spec.scheduling_gates = vec![PodSchedulingGate { name: "example.com/g".into() }];
        let mut released = gated.clone();
        released.spec.scheduling_gates.clear();
        released.spec.node_selector.insert("zone".into(), "a".into());
        assert_eq!(released.validate_update(&gated), vec![]);
    }
}
