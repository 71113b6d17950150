//! Every built-in kind's structural schema passes the CRD structural rules,
//! and the registry knows every built-in kind.

use k_api_types::apiextensions::v1::{JSONSchemaProps, structural_errors};
use k_api_types::registry::Registry;
use k_api_types::schema::structural_schema;
use k_api_types::validation::Path;
use k_api_types::{GroupVersionKind, object::BUILTIN_RESOURCES};

macro_rules! check_structural {
    ($($ty:ty),* $(,)?) => {{
        let mut failures = Vec::new();
        $(
            let value = structural_schema::<$ty>();
            assert!(!value.to_string().contains("$ref"), "{} has a $ref", stringify!($ty));
            match serde_json::from_value::<JSONSchemaProps>(value) {
                Ok(schema) => {
                    let errors = structural_errors(&schema, &Path::new(stringify!($ty)));
                    failures.extend(errors.iter().map(ToString::to_string));
                }
                Err(e) => failures.push(format!("{}: schema does not decode: {e}", stringify!($ty))),
            }
        )*
        failures
    }};
}

#[test]
fn builtin_specs_have_structural_schemas() {
    use k_api_types::{apps, batch, core, networking, rbac};
    let failures = check_structural!(
        core::v1::PodSpec,
        core::v1::PodStatus,
        core::v1::ServiceSpec,
        core::v1::NodeStatus,
        core::v1::PersistentVolumeSpec,
        apps::v1::DeploymentSpec,
        apps::v1::StatefulSetSpec,
        batch::v1::CronJobSpec,
        networking::v1::NetworkPolicySpec,
        rbac::v1::PolicyRule,
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn registry_has_every_builtin() {
    let registry = Registry::builtin();
    assert_eq!(registry.len(), BUILTIN_RESOURCES.len());
    assert!(BUILTIN_RESOURCES.len() >= 42);
    for info in BUILTIN_RESOURCES {
        let r = registry.by_kind(&info.gvk()).unwrap_or_else(|| panic!("{} missing", info.kind));
        assert_eq!(r.plural, info.plural);
    }
    let cases = [
        ("po", "", "Pod"),
        ("pods", "", "Pod"),
        ("deploy", "apps", "Deployment"),
        ("deployments.apps", "apps", "Deployment"),
        ("svc", "", "Service"),
        ("crd", "apiextensions.k8s.io", "CustomResourceDefinition"),
        ("Ingress", "networking.k8s.io", "Ingress"),
    ];
    for (name, group, kind) in cases {
        let found = registry.resolve(name);
        assert!(!found.is_empty(), "{name}");
        assert_eq!((found[0].group.as_str(), found[0].kind.as_str()), (group, kind), "{name}");
    }
    assert!(registry.resolve("nosuchthing").is_empty());
    assert!(registry.by_kind(&GroupVersionKind::new("apps", "v1", "Pod")).is_none());
}
