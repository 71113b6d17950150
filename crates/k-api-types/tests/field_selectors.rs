//! Field selectors against typed kinds: each kind's supported fields, the
//! kube-apiserver error for others, and matching through `field_value`.

use k_api_types::Resource;
use k_api_types::core::v1::{Namespace, Node, Pod, PodStatus, Secret};
use k_api_types::selector::FieldSelector;

fn pod(name: &str, node: &str, phase: &str) -> Pod {
    let mut p = Pod::named(name);
    p.metadata.namespace = "shop".into();
    p.spec.node_name = Some(node.into());
    p.status = Some(PodStatus { phase: Some(phase.into()), ..Default::default() });
    p
}

#[test]
fn pod_field_selectors() {
    let pods = [pod("a", "worker-1", "Running"), pod("b", "worker-2", "Running"), pod("c", "worker-1", "Failed")];
    let cases = [
        ("spec.nodeName=worker-1", vec!["a", "c"]),
        ("spec.nodeName=worker-1,status.phase!=Failed", vec!["a"]),
        ("status.phase==Running", vec!["a", "b"]),
        ("metadata.name=b", vec!["b"]),
        ("metadata.namespace=shop,metadata.name!=a", vec!["b", "c"]),
        ("spec.nodeName=", vec![]),
        ("", vec!["a", "b", "c"]),
    ];
    for (text, expected) in cases {
        let sel: FieldSelector = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        Pod::INFO.check_field_selector(&sel).unwrap_or_else(|e| panic!("{text}: {e}"));
        let got: Vec<_> = pods.iter().filter(|p| sel.matches_resource(*p)).map(|p| p.metadata.name.as_str()).collect();
        assert_eq!(got, expected, "{text}");
    }
}

#[test]
fn unsupported_fields_are_rejected_per_kind() {
    let cases: [(&str, &k_api_types::ResourceInfo, Option<&str>); 6] = [
        ("spec.nodeName=x", &Pod::INFO, None),
        ("spec.nodeName=x", &Secret::INFO, Some("field label not supported: spec.nodeName")),
        ("type=Opaque", &Secret::INFO, None),
        ("status.phase=Active", &Namespace::INFO, None),
        ("spec.unschedulable=true", &Node::INFO, None),
        ("spec.foo=bar", &Pod::INFO, Some("field label not supported: spec.foo")),
    ];
    for (text, info, error) in cases {
        let sel: FieldSelector = text.parse().unwrap();
        let result = info.check_field_selector(&sel);
        assert_eq!(result.as_ref().err().map(ToString::to_string).as_deref(), error, "{text} on {}", info.kind);
    }
    assert!("spec.nodeName in (a)".parse::<FieldSelector>().is_err());
}
