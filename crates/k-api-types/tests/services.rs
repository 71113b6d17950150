//! Service defaulting and validation cases Kubernetes accepts.

use k_api_types::core::v1::Service;
use k_api_types::object::{Object, read_manifests};
use k_api_types::{ApplyDefaults, Validate};

fn service(yaml: &str) -> Service {
    match read_manifests(yaml, true).unwrap().remove(0).object {
        Object::Service(s) => *s,
        other => panic!("not a service: {other:?}"),
    }
}

#[test]
fn cluster_ip_with_external_ips_is_externally_accessible() {
    let mut svc = service(
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: t}\n\
         spec: {externalIPs: [198.51.100.7], externalTrafficPolicy: Local, ports: [{port: 80}]}\n",
    );
    svc.apply_defaults();
    assert_eq!(svc.spec.external_traffic_policy.as_deref(), Some("Local"));
    assert!(svc.validate().is_empty(), "{:?}", svc.validate());
    let mut plain =
        service("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: t}\nspec: {ports: [{port: 80}]}\n");
    plain.apply_defaults();
    assert_eq!(plain.spec.external_traffic_policy, None);
    plain.spec.external_traffic_policy = Some("Local".into());
    let fields: Vec<_> = plain.validate().into_iter().map(|e| e.field).collect();
    assert_eq!(fields, ["spec.externalTrafficPolicy"]);
}

#[test]
fn affinity_config_is_dropped_without_affinity() {
    let mut svc = service(
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: t}\n\
         spec: {sessionAffinity: None, sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}, ports: [{port: 80}]}\n",
    );
    svc.apply_defaults();
    assert_eq!(svc.spec.session_affinity_config, None);
    assert!(svc.validate().is_empty(), "{:?}", svc.validate());
}
