//! The defaults Kubernetes v1.32 applies to pods and pod templates
//! (`SetDefaults_Pod`, `SetDefaults_PodSpec`, `SetDefaults_Container`,
//! probes, handlers, ports, volume sources and resource lists).
//!
//! Pod-only defaults (requests from limits, `enableServiceLinks`, host ports
//! under `hostNetwork`) are applied to [`Pod`] but not to templates, as in
//! Kubernetes.

use serde_json::{Map, Value};

use crate::ApplyDefaults;
use crate::defaults::{default_str, default_to};
use crate::quantity::{Quantity, ResourceList};

use super::{
    Container, DownwardAPIVolumeFile, EphemeralContainer, HTTPGetAction, Lifecycle, LifecycleHandler,
    ObjectFieldSelector, Pod, PodSpec, PodTemplate, PodTemplateSpec, Probe, ResourceRequirements, Volume,
};

/// Default permission bits of secret, configMap, downwardAPI and projected files (0644).
pub(super) const DEFAULT_FILE_MODE: i32 = 0o644;
/// Default lifetime of a projected service account token (one hour).
const DEFAULT_TOKEN_EXPIRATION_SECONDS: i64 = 3600;

impl ApplyDefaults for Pod {
    /// `SetDefaults_Pod` (requests from limits, `enableServiceLinks`, host
    /// ports under `hostNetwork`), then the pod spec defaults.
    fn apply_defaults(&mut self) {
        let spec = &mut self.spec;
        for c in spec.containers.iter_mut().chain(spec.init_containers.iter_mut()) {
            if let Some(res) = &mut c.resources {
                default_requests_from_limits(res);
            }
        }
        default_to(&mut spec.enable_service_links, true);
        if spec.host_network == Some(true) {
            for c in spec.containers.iter_mut().chain(spec.init_containers.iter_mut()) {
                for port in &mut c.ports {
                    if port.host_port.unwrap_or(0) == 0 {
                        port.host_port = Some(port.container_port);
                    }
                }
            }
        }
        spec.apply_defaults();
        if let Some(status) = &mut self.status {
            let statuses = status
                .container_statuses
                .iter_mut()
                .chain(status.init_container_statuses.iter_mut())
                .chain(status.ephemeral_container_statuses.iter_mut());
            for cs in statuses {
                round_up_to_milli(&mut cs.allocated_resources);
                if let Some(res) = &mut cs.resources {
                    round_requirements(res);
                }
            }
        }
    }
}

impl ApplyDefaults for PodSpec {
    /// `SetDefaults_PodSpec` plus the defaults of every container, probe,
    /// handler, port, volume source and resource list in the spec.
    fn apply_defaults(&mut self) {
        default_str(&mut self.dns_policy, "ClusterFirst");
        default_str(&mut self.restart_policy, "Always");
        default_to(&mut self.security_context, Default::default());
        default_to(&mut self.termination_grace_period_seconds, 30);
        default_str(&mut self.scheduler_name, "default-scheduler");
        // Conversion keeps the deprecated alias in step with serviceAccountName.
        if self.service_account_name.as_deref().is_none_or(str::is_empty) {
            if let Some(sa) = self.service_account.as_ref().filter(|s| !s.is_empty()) {
                self.service_account_name = Some(sa.clone());
            }
        } else if self.service_account.is_none() {
            self.service_account.clone_from(&self.service_account_name);
        }
        for v in &mut self.volumes {
            default_volume(v);
        }
        for c in self.containers.iter_mut().chain(self.init_containers.iter_mut()) {
            default_container(c);
        }
        for e in &mut self.ephemeral_containers {
            let mut c = e.to_container();
            default_container(&mut c);
            *e = EphemeralContainer::from_container(c, e.target_container_name.take());
        }
        round_up_to_milli(&mut self.overhead);
        if let Some(res) = &mut self.resources {
            round_requirements(res);
        }
    }
}

impl ApplyDefaults for PodTemplateSpec {
    /// The pod spec defaults (not the pod-only ones).
    fn apply_defaults(&mut self) {
        self.spec.apply_defaults();
    }
}

impl ApplyDefaults for PodTemplate {
    /// The defaults of the template's pod spec.
    fn apply_defaults(&mut self) {
        self.template.apply_defaults();
    }
}

/// Copies each limit without a request into the requests.
fn default_requests_from_limits(res: &mut ResourceRequirements) {
    for (name, limit) in &res.limits {
        res.requests.entry(name.clone()).or_insert_with(|| limit.clone());
    }
}

/// `SetDefaults_ResourceList`: rounds every quantity up to milli precision.
fn round_up_to_milli(list: &mut ResourceList) {
    for q in list.values_mut() {
        let milli = q.milli_value();
        if milli == i64::MAX || milli == i64::MIN {
            continue;
        }
        let rounded = Quantity::from_milli(milli);
        if rounded != *q {
            *q = rounded;
        }
    }
}

fn round_requirements(res: &mut ResourceRequirements) {
    round_up_to_milli(&mut res.limits);
    round_up_to_milli(&mut res.requests);
}

/// Sets an `Option<i32>` to `value` when it is absent or zero (Go's zero value).
fn default_nonzero(slot: &mut Option<i32>, value: i32) {
    if slot.unwrap_or(0) == 0 {
        *slot = Some(value);
    }
}

fn default_container(c: &mut Container) {
    if c.image_pull_policy.as_deref().is_none_or(str::is_empty) {
        c.image_pull_policy = Some(default_pull_policy(c.image.as_deref().unwrap_or_default()).to_owned());
    }
    default_str(&mut c.termination_message_path, "/dev/termination-log");
    default_str(&mut c.termination_message_policy, "File");
    for port in &mut c.ports {
        default_str(&mut port.protocol, "TCP");
    }
    for env in &mut c.env {
        if let Some(field_ref) = env.value_from.as_mut().and_then(|v| v.field_ref.as_mut()) {
            default_field_selector(field_ref);
        }
    }
    if let Some(res) = &mut c.resources {
        round_requirements(res);
    }
    for probe in [&mut c.liveness_probe, &mut c.readiness_probe, &mut c.startup_probe].into_iter().flatten() {
        default_probe(probe);
    }
    if let Some(Lifecycle { post_start, pre_stop }) = c.lifecycle.as_deref_mut() {
        for handler in [post_start, pre_stop].into_iter().flatten() {
            default_handler(handler);
        }
    }
}

fn default_probe(p: &mut Probe) {
    default_nonzero(&mut p.timeout_seconds, 1);
    default_nonzero(&mut p.period_seconds, 10);
    default_nonzero(&mut p.success_threshold, 1);
    default_nonzero(&mut p.failure_threshold, 3);
    if let Some(http) = &mut p.http_get {
        default_http_get(http);
    }
    if let Some(grpc) = &mut p.grpc {
        default_to(&mut grpc.service, String::new());
    }
}

fn default_handler(h: &mut LifecycleHandler) {
    if let Some(http) = &mut h.http_get {
        default_http_get(http);
    }
}

fn default_http_get(http: &mut HTTPGetAction) {
    default_str(&mut http.path, "/");
    default_str(&mut http.scheme, "HTTP");
}

fn default_field_selector(f: &mut ObjectFieldSelector) {
    default_str(&mut f.api_version, "v1");
}

fn default_downward_files(items: &mut [DownwardAPIVolumeFile]) {
    for item in items {
        if let Some(f) = &mut item.field_ref {
            default_field_selector(f);
        }
    }
}

fn default_volume(v: &mut Volume) {
    if v.source_names().is_empty() {
        v.empty_dir = Some(Default::default());
    }
    if let Some(hp) = &mut v.host_path {
        default_to(&mut hp.type_, String::new());
    }
    if let Some(s) = &mut v.secret {
        default_to(&mut s.default_mode, DEFAULT_FILE_MODE);
    }
    if let Some(cm) = &mut v.config_map {
        default_to(&mut cm.default_mode, DEFAULT_FILE_MODE);
    }
    if let Some(d) = &mut v.downward_api {
        default_to(&mut d.default_mode, DEFAULT_FILE_MODE);
        default_downward_files(&mut d.items);
    }
    if let Some(p) = &mut v.projected {
        default_to(&mut p.default_mode, DEFAULT_FILE_MODE);
        for source in &mut p.sources {
            if let Some(d) = &mut source.downward_api {
                default_downward_files(&mut d.items);
            }
            if let Some(t) = &mut source.service_account_token {
                default_to(&mut t.expiration_seconds, DEFAULT_TOKEN_EXPIRATION_SECONDS);
            }
        }
    }
    if let Some(img) = &mut v.image
        && img.pull_policy.as_deref().is_none_or(str::is_empty)
    {
        img.pull_policy = Some(default_pull_policy(img.reference.as_deref().unwrap_or_default()).to_owned());
    }
    if let Some(Value::Object(t)) = v.ephemeral.as_mut().and_then(|e| e.volume_claim_template.as_mut()) {
        let spec = t.entry("spec").or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(spec) = spec {
            spec.entry("volumeMode").or_insert_with(|| Value::from("Filesystem"));
        }
    }
    // The in-tree sources kept as raw JSON.
    default_json(v.iscsi.as_deref_mut(), &[("iscsiInterface", Value::from("default"))], true);
    default_json(
        v.rbd.as_deref_mut(),
        &[("pool", Value::from("rbd")), ("user", Value::from("admin")), ("keyring", Value::from("/etc/ceph/keyring"))],
        true,
    );
    default_json(
        v.azure_disk.as_deref_mut(),
        &[
            ("cachingMode", Value::from("ReadWrite")),
            ("kind", Value::from("Shared")),
            ("fsType", Value::from("ext4")),
            ("readOnly", Value::from(false)),
        ],
        false,
    );
    default_json(
        v.scale_io.as_deref_mut(),
        &[("storageMode", Value::from("ThinProvisioned")), ("fsType", Value::from("xfs"))],
        true,
    );
}

/// Fills absent keys of a raw JSON source (and, with `empty_is_unset`, keys
/// holding `""`, like Go's string zero value).
fn default_json(source: Option<&mut Value>, defaults: &[(&str, Value)], empty_is_unset: bool) {
    let Some(Value::Object(map)) = source else { return };
    for (key, value) in defaults {
        let unset = match map.get(*key) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => empty_is_unset && s.is_empty(),
            Some(_) => false,
        };
        if unset {
            map.insert((*key).to_owned(), value.clone());
        }
    }
}

/// The pull policy Kubernetes defaults for an image: `Always` when the tag is
/// `latest` or there is neither tag nor digest, else `IfNotPresent` (also for
/// references that do not parse).
pub(super) fn default_pull_policy(image: &str) -> &'static str {
    match parse_image_reference(image) {
        Some((Some("latest"), _)) | Some((None, false)) => "Always",
        _ => "IfNotPresent",
    }
}

/// Parses a container image reference (`[domain/]path[:tag][@digest]`) as
/// the Docker reference grammar does, returning its tag and whether it has a
/// digest; `None` when it does not parse.
pub(super) fn parse_image_reference(image: &str) -> Option<(Option<&str>, bool)> {
    let (name_tag, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest
        && !is_digest(d)
    {
        return None;
    }
    let last_component_start = name_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_tag[last_component_start..].rfind(':') {
        Some(i) => {
            let at = last_component_start + i;
            (&name_tag[..at], Some(&name_tag[at + 1..]))
        }
        None => (name_tag, None),
    };
    if let Some(t) = tag
        && !is_tag(t)
    {
        return None;
    }
    if name.is_empty() || name.len() > 255 {
        return None;
    }
    let mut components: Vec<&str> = name.split('/').collect();
    if components.len() > 1 {
        let first = components[0];
        let is_domain =
            first.contains(['.', ':']) || first == "localhost" || first.bytes().any(|b| b.is_ascii_uppercase());
        if is_domain {
            if !is_domain_name(first) {
                return None;
            }
            components.remove(0);
        }
    }
    components.iter().all(|c| is_path_component(c)).then_some((tag, digest.is_some()))
}

/// `[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`.
fn is_digest(d: &str) -> bool {
    let Some((algo, hex)) = d.split_once(':') else { return false };
    let algo_ok = algo.split(['-', '_', '+', '.']).all(|part| {
        part.bytes().next().is_some_and(|b| b.is_ascii_alphabetic()) && part.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    algo_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `[\w][\w.-]{0,127}`.
fn is_tag(t: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let b = t.as_bytes();
    !b.is_empty() && b.len() <= 128 && word(b[0]) && b.iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

/// A registry host (DNS labels or a bracketed IPv6 address) with an optional port.
fn is_domain_name(d: &str) -> bool {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        let Some((ip, after)) = rest.split_once(']') else { return false };
        if ip.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match after {
            "" => return true,
            p => match p.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return false,
            },
        }
    } else {
        match d.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (d, None),
        }
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    host.is_empty() && d.starts_with('[')
        || host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
        })
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn is_path_component(c: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let b = c.as_bytes();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|s| s == b'-');
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::v1::{
        ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource, GRPCAction, ImageVolumeSource,
        ProjectedVolumeSource, SecretVolumeSource, ServiceAccountTokenProjection, VolumeProjection,
    };
    use crate::intstr::IntOrString;

    fn q(s: &str) -> Quantity {
        s.parse().unwrap()
    }

    #[test]
    fn pull_policy_from_image() {
        let cases = [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.27", "IfNotPresent"),
            ("registry.example:5000/team/app", "Always"),
            ("registry.example:5000/team/app:v2", "IfNotPresent"),
            ("localhost/app:latest", "Always"),
            ("app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "IfNotPresent"),
            ("app:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "Always"),
            ("app:1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "IfNotPresent"),
            ("", "IfNotPresent"),
            ("Upper/case", "Always"),
            ("upper/Case", "IfNotPresent"),
            ("bad image", "IfNotPresent"),
            ("[::1]:5000/app", "Always"),
        ];
        for (image, want) in cases {
            assert_eq!(default_pull_policy(image), want, "{image:?}");
        }
    }

    fn pod_with(c: Container) -> Pod {
        Pod { spec: PodSpec { containers: vec![c], ..Default::default() }, ..Default::default() }
    }

    #[test]
    fn pod_defaults_table() {
        let mut pod = pod_with(Container::new("app", "nginx:1.27"));
        pod.apply_defaults();
        let s = &pod.spec;
        assert_eq!(s.restart_policy.as_deref(), Some("Always"));
        assert_eq!(s.dns_policy.as_deref(), Some("ClusterFirst"));
        assert_eq!(s.termination_grace_period_seconds, Some(30));
        assert_eq!(s.scheduler_name.as_deref(), Some("default-scheduler"));
        assert_eq!(s.security_context, Some(Default::default()));
        assert_eq!(s.enable_service_links, Some(true));
        assert_eq!(s.priority, None, "priority is admission's job");
        assert_eq!(s.preemption_policy, None);
        let c = &s.containers[0];
        assert_eq!(c.termination_message_path.as_deref(), Some("/dev/termination-log"));
        assert_eq!(c.termination_message_policy.as_deref(), Some("File"));
        assert_eq!(c.image_pull_policy.as_deref(), Some("IfNotPresent"));

        // The defaulted pod serializes as kube-apiserver writes it.
        let json = serde_json::to_value(&pod.spec).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "containers": [{"name": "app", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
                    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
                "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
                "securityContext": {}, "schedulerName": "default-scheduler", "enableServiceLinks": true
            })
        );

        // Idempotent, and present values are kept.
        let again = {
            let mut p = pod.clone();
            p.apply_defaults();
            p
        };
        assert_eq!(again, pod);
        let mut custom = pod_with(Container::new("app", "nginx"));
        custom.spec.restart_policy = Some("Never".into());
        custom.spec.termination_grace_period_seconds = Some(0);
        custom.spec.enable_service_links = Some(false);
        custom.apply_defaults();
        assert_eq!(custom.spec.restart_policy.as_deref(), Some("Never"));
        assert_eq!(custom.spec.termination_grace_period_seconds, Some(0));
        assert_eq!(custom.spec.enable_service_links, Some(false));
        assert_eq!(custom.spec.containers[0].image_pull_policy.as_deref(), Some("Always"));

        let mut with_sa = PodSpec { service_account_name: Some("robot".into()), ..Default::default() };
        with_sa.apply_defaults();
        assert_eq!(with_sa.service_account.as_deref(), Some("robot"));
        let mut legacy_sa = PodSpec { service_account: Some("old".into()), ..Default::default() };
        legacy_sa.apply_defaults();
        assert_eq!(legacy_sa.service_account_name.as_deref(), Some("old"));
    }

    #[test]
    fn container_parts() {
        let mut c = Container::new("app", "nginx:latest");
        c.ports = vec![ContainerPort { container_port: 80, ..Default::default() }];
        c.env = vec![EnvVar {
            name: "POD".into(),
            value_from: Some(Box::new(EnvVarSource {
                field_ref: Some(ObjectFieldSelector { field_path: "metadata.name".into(), ..Default::default() }),
                ..Default::default()
            })),
            ..Default::default()
        }];
        c.liveness_probe = Some(Box::new(Probe {
            http_get: Some(HTTPGetAction { port: IntOrString::Int(8080), ..Default::default() }),
            ..Default::default()
        }));
        c.readiness_probe = Some(Box::new(Probe {
            grpc: Some(GRPCAction { port: 9000, service: None }),
            timeout_seconds: Some(5),
            ..Default::default()
        }));
        c.lifecycle = Some(Box::new(Lifecycle {
            pre_stop: Some(LifecycleHandler {
                http_get: Some(HTTPGetAction { port: IntOrString::String("http".into()), ..Default::default() }),
                ..Default::default()
            }),
            post_start: None,
        }));
        c.resources = Some(ResourceRequirements {
            limits: [("cpu".to_owned(), q("1")), ("memory".to_owned(), q("1Gi"))].into(),
            requests: [("cpu".to_owned(), q("100n"))].into(),
            claims: vec![],
        });
        let mut pod = pod_with(c);
        pod.spec.host_network = Some(true);
        pod.apply_defaults();
        let c = &pod.spec.containers[0];
        assert_eq!(c.image_pull_policy.as_deref(), Some("Always"));
        assert_eq!(c.ports[0].protocol.as_deref(), Some("TCP"));
        assert_eq!(c.ports[0].host_port, Some(80), "hostNetwork copies containerPort to hostPort");
        let field_ref = c.env[0].value_from.as_ref().unwrap().field_ref.as_ref().unwrap();
        assert_eq!(field_ref.api_version.as_deref(), Some("v1"));
        let live = c.liveness_probe.as_ref().unwrap();
        assert_eq!(
            (
                live.timeout_seconds,
                live.period_seconds,
                live.success_threshold,
                live.failure_threshold,
                live.initial_delay_seconds
            ),
            (Some(1), Some(10), Some(1), Some(3), None)
        );
        let http = live.http_get.as_ref().unwrap();
        assert_eq!((http.path.as_deref(), http.scheme.as_deref()), (Some("/"), Some("HTTP")));
        let ready = c.readiness_probe.as_ref().unwrap();
        assert_eq!(ready.timeout_seconds, Some(5));
        assert_eq!(ready.grpc.as_ref().unwrap().service.as_deref(), Some(""));
        let pre_stop = c.lifecycle.as_ref().unwrap().pre_stop.as_ref().unwrap().http_get.as_ref().unwrap();
        assert_eq!(pre_stop.scheme.as_deref(), Some("HTTP"));
        let res = c.resources.as_ref().unwrap();
        assert_eq!(res.requests.get("cpu"), Some(&q("1m")), "requests kept, rounded up to milli");
        assert_eq!(res.requests.get("memory"), Some(&q("1Gi")), "missing request copied from limit");
    }

    #[test]
    fn template_gets_no_pod_only_defaults() {
        let mut c = Container::new("app", "nginx");
        c.ports = vec![ContainerPort { container_port: 80, ..Default::default() }];
        c.resources = Some(ResourceRequirements { limits: [("cpu".to_owned(), q("1"))].into(), ..Default::default() });
        let mut t = PodTemplate {
            template: PodTemplateSpec {
                spec: PodSpec { containers: vec![c], host_network: Some(true), ..Default::default() },
                ..Default::default()
            },
            ..Default::default()
        };
        t.apply_defaults();
        let s = &t.template.spec;
        assert_eq!(s.enable_service_links, None);
        assert_eq!(s.containers[0].ports[0].host_port, None);
        assert!(s.containers[0].resources.as_ref().unwrap().requests.is_empty());
        assert_eq!(s.restart_policy.as_deref(), Some("Always"));
        assert_eq!(s.containers[0].ports[0].protocol.as_deref(), Some("TCP"));
    }

    #[test]
    fn volume_defaults() {
        let mut spec = PodSpec {
            volumes: vec![
                Volume { name: "none".into(), ..Default::default() },
                Volume {
                    name: "s".into(),
                    secret: Some(Box::new(SecretVolumeSource::default())),
                    ..Default::default()
                },
                Volume {
                    name: "p".into(),
                    projected: Some(Box::new(ProjectedVolumeSource {
                        sources: vec![VolumeProjection {
                            service_account_token: Some(ServiceAccountTokenProjection {
                                path: "token".into(),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }],
                        default_mode: Some(0o600),
                    })),
                    ..Default::default()
                },
                Volume {
                    name: "i".into(),
                    image: Some(Box::new(ImageVolumeSource { reference: Some("tools:1.0".into()), pull_policy: None })),
                    ..Default::default()
                },
                Volume {
                    name: "e".into(),
                    ephemeral: Some(Box::new(super::super::EphemeralVolumeSource {
                        volume_claim_template: Some(serde_json::json!({"spec": {"accessModes": ["ReadWriteOnce"]}})),
                    })),
                    ..Default::default()
                },
                Volume {
                    name: "r".into(),
                    rbd: Some(Box::new(serde_json::json!({"image": "x", "pool": ""}))),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        spec.apply_defaults();
        let v = &spec.volumes;
        assert_eq!(v[0].empty_dir.as_deref(), Some(&EmptyDirVolumeSource::default()), "no source defaults to emptyDir");
        assert_eq!(v[1].secret.as_ref().unwrap().default_mode, Some(420));
        let p = v[2].projected.as_ref().unwrap();
        assert_eq!(p.default_mode, Some(0o600));
        assert_eq!(p.sources[0].service_account_token.as_ref().unwrap().expiration_seconds, Some(3600));
        assert_eq!(v[3].image.as_ref().unwrap().pull_policy.as_deref(), Some("IfNotPresent"));
        let tmpl = v[4].ephemeral.as_ref().unwrap().volume_claim_template.as_ref().unwrap();
        assert_eq!(tmpl["spec"]["volumeMode"], "Filesystem");
        assert_eq!(
            v[5].rbd.as_deref(),
            Some(&serde_json::json!({"image": "x", "pool": "rbd", "user": "admin", "keyring": "/etc/ceph/keyring"}))
        );
    }
}
