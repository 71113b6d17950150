//! `coordination.k8s.io/v1`: [`Lease`], used for leader election and node heartbeats.

use crate::meta::{MicroTime, ObjectMeta};
use crate::validation::{
    ErrorList, FieldError, NameRule, Path, Validate, qualified_name_errors, validate_object_meta,
    validate_object_meta_update,
};
use crate::{ApplyDefaults, wire};

/// A lease: who holds it, and until when.
#[wire]
pub struct Lease {
    /// APIVersion of the object (`coordination.k8s.io/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`Lease`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// The lease's holder and timing.
    #[wire(omitempty)]
    pub spec: LeaseSpec,
}

crate::impl_resource!(Lease {
    group: "coordination.k8s.io",
    version: "v1",
    kind: "Lease",
    plural: "leases",
    singular: "lease",
    short_names: [],
    categories: [],
    namespaced: true,
    verbs: crate::resource::ALL_VERBS,
    subresources: [],
    selectable_fields: []
});

/// A list of leases.
pub type LeaseList = crate::meta::ObjectList<Lease>;

/// Holder and timing of a lease.
#[wire]
pub struct LeaseSpec {
    /// Identity of the current holder.
    pub holder_identity: Option<String>,
    /// How long candidates wait after the last renewal before taking the lease over.
    pub lease_duration_seconds: Option<i32>,
    /// When the current holder acquired the lease.
    pub acquire_time: Option<MicroTime>,
    /// When the holder last renewed the lease.
    pub renew_time: Option<MicroTime>,
    /// How many times the lease changed holders.
    pub lease_transitions: Option<i32>,
    /// How coordinated leader election picks the next holder, such as `OldestEmulationVersion`.
    pub strategy: Option<String>,
    /// Holder the strategy prefers, signalling the current holder to step down.
    pub preferred_holder: Option<String>,
}

impl ApplyDefaults for Lease {
    fn apply_defaults(&mut self) {}
}

fn validate_lease_spec(spec: &LeaseSpec, path: &Path, errs: &mut ErrorList) {
    if let Some(d) = spec.lease_duration_seconds
        && d <= 0
    {
        errs.push(FieldError::invalid(&path.child("leaseDurationSeconds"), d, "must be greater than 0"));
    }
    if let Some(t) = spec.lease_transitions
        && t < 0
    {
        errs.push(FieldError::invalid(&path.child("leaseTransitions"), t, "must be greater than or equal to 0"));
    }
    if let Some(s) = spec.strategy.as_deref() {
        let sp = path.child("strategy");
        if s.contains('/') {
            for msg in qualified_name_errors(s) {
                errs.push(FieldError::invalid(&sp, s, msg));
            }
        } else if s != "OldestEmulationVersion" {
            errs.push(FieldError::not_supported(&sp, s, &["OldestEmulationVersion"]));
        }
    }
    if spec.preferred_holder.as_deref().is_some_and(|h| !h.is_empty())
        && spec.strategy.as_deref().is_none_or(str::is_empty)
    {
        errs.push(FieldError::forbidden(
            &path.child("preferredHolder"),
            "may only be specified if `strategy` is defined",
        ));
    }
}

impl Validate for Lease {
    fn validate(&self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta(&self.metadata, true, NameRule::Subdomain, &mut errs);
        validate_lease_spec(&self.spec, &Path::new("spec"), &mut errs);
        errs
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Subdomain, &mut errs);
        validate_lease_spec(&self.spec, &Path::new("spec"), &mut errs);
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn causes(errs: &ErrorList) -> Vec<(String, &'static str)> {
        errs.iter().map(|e| (e.field.clone(), e.type_.cause())).collect()
    }

    fn expect(pairs: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
        pairs.iter().map(|(f, c)| ((*f).to_owned(), *c)).collect()
    }

    #[test]
    fn round_trip() {
        let v = json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "kube-controller-manager", "namespace": "kube-system"},
            "spec": {
                "holderIdentity": "cp-1_4f6c",
                "leaseDurationSeconds": 15,
                "acquireTime": "2026-03-01T10:00:00.000000Z",
                "renewTime": "2026-03-01T10:05:02.123456Z",
                "leaseTransitions": 3,
                "strategy": "OldestEmulationVersion",
                "preferredHolder": "cp-2_9a1b"
            }
        });
        let lease: Lease = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(lease.spec.renew_time.map(|t| t.to_string()).as_deref(), Some("2026-03-01T10:05:02.123456Z"));
        assert_eq!(serde_json::to_value(&lease).unwrap(), v);
        assert!(lease.validate().is_empty(), "{:?}", lease.validate());
        // MicroTime always writes microseconds.
        let short: Lease = serde_json::from_value(json!({"spec": {"renewTime": "2026-03-01T10:05:02Z"}})).unwrap();
        assert_eq!(serde_json::to_value(&short).unwrap()["spec"]["renewTime"], "2026-03-01T10:05:02.000000Z");
    }

    #[test]
    fn validation() {
        let base = || Lease { metadata: ObjectMeta::namespaced("kube-node-lease", "node-1"), ..Default::default() };
        type Case = (&'static str, Box<dyn Fn(&mut LeaseSpec)>, Vec<(String, &'static str)>);
        let cases: Vec<Case> = vec![
            ("empty", Box::new(|_| {}), expect(&[])),
            (
                "zero duration",
                Box::new(|s| s.lease_duration_seconds = Some(0)),
                expect(&[("spec.leaseDurationSeconds", "FieldValueInvalid")]),
            ),
            (
                "negative transitions",
                Box::new(|s| s.lease_transitions = Some(-1)),
                expect(&[("spec.leaseTransitions", "FieldValueInvalid")]),
            ),
            (
                "unknown strategy",
                Box::new(|s| s.strategy = Some("Newest".into())),
                expect(&[("spec.strategy", "FieldValueNotSupported")]),
            ),
            ("custom strategy", Box::new(|s| s.strategy = Some("example.com/round-robin".into())), expect(&[])),
            (
                "preferred holder without strategy",
                Box::new(|s| s.preferred_holder = Some("x".into())),
                expect(&[("spec.preferredHolder", "FieldValueForbidden")]),
            ),
        ];
        for (name, mutate, want) in cases {
            let mut lease = base();
            mutate(&mut lease.spec);
            assert_eq!(causes(&lease.validate()), want, "{name}");
        }
    }
}
