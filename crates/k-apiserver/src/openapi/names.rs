//! Kubernetes naming conventions: definition names (the Go package path of a
//! type, dotted), operation ids, tags and URL prefixes of groups and versions.

/// Package of the `meta.k8s.io/v1` types (`ObjectMeta`, `Status`, …).
pub(crate) const META_V1: &str = "io.k8s.apimachinery.pkg.apis.meta.v1";
/// Definition name of `resource.Quantity`.
pub(crate) const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
/// Definition name of `intstr.IntOrString`.
pub(crate) const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
/// Definition name of `runtime.RawExtension` (the object of a watch event).
pub(crate) const RAW_EXTENSION: &str = "io.k8s.apimachinery.pkg.runtime.RawExtension";
/// Package of `autoscaling/v1`, home of `Scale`.
pub(crate) const AUTOSCALING_V1: &str = "io.k8s.api.autoscaling.v1";

/// A `meta/v1` definition name, such as `io.k8s.apimachinery.pkg.apis.meta.v1.Status`.
pub(crate) fn meta(name: &str) -> String {
    format!("{META_V1}.{name}")
}

/// The definition-name package of a built-in group/version:
/// `io.k8s.api.core.v1`, `io.k8s.api.rbac.v1`,
/// `io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1`, …
pub(crate) fn builtin_package(group: &str, version: &str) -> String {
    match group {
        "" => format!("io.k8s.api.core.{version}"),
        "apiextensions.k8s.io" => format!("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.{version}"),
        "apiregistration.k8s.io" => format!("io.k8s.kube-aggregator.pkg.apis.apiregistration.{version}"),
        group => {
            // `rbac.authorization.k8s.io` lives in package `rbac`, `apps` in `apps`.
            let first = group.split('.').next().unwrap_or(group);
            format!("io.k8s.api.{first}.{version}")
        }
    }
}

/// The definition-name package of a custom resource's group/version: the
/// group's DNS labels reversed, then the version (`stable.example.com`, `v1`
/// → `com.example.stable.v1`).
pub(crate) fn custom_package(group: &str, version: &str) -> String {
    let mut labels: Vec<&str> = group.split('.').filter(|l| !l.is_empty()).collect();
    labels.reverse();
    labels.push(version);
    labels.join(".")
}

/// Upper-cases the first character.
pub(crate) fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Lower-cases the first character.
fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The group as operation ids spell it: `Core`, `Apps`, `RbacAuthorization`,
/// `Apiextensions`, `ExampleCom` (a trailing `.k8s.io` is dropped).
pub(crate) fn group_camel(group: &str) -> String {
    if group.is_empty() {
        return "Core".to_owned();
    }
    let trimmed = group.strip_suffix(".k8s.io").unwrap_or(group);
    trimmed.split(['.', '-']).map(upper_first).collect()
}

/// The tag of a group/version's operations: `core_v1`, `rbacAuthorization_v1`.
pub(crate) fn tag(group: &str, version: &str) -> String {
    format!("{}_{version}", lower_first(&group_camel(group)))
}

/// The document path of a group/version under `/openapi/v3/`: `api/v1`,
/// `apis/apps/v1`.
pub(crate) fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() { format!("api/{version}") } else { format!("apis/{group}/{version}") }
}

/// The group/version part of operation ids: `CoreV1`, `AppsV1`.
pub(crate) fn op_prefix(group: &str, version: &str) -> String {
    format!("{}{}", group_camel(group), upper_first(version))
}

/// The name schemars gave a type whose short name clashed with another's
/// (`EndpointPort2`), without the counter, if the plain name exists too.
pub(crate) fn strip_collision_suffix(name: &str, exists: impl Fn(&str) -> bool) -> &str {
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit());
    if base.len() < name.len() && !base.is_empty() && exists(base) { base } else { name }
}
