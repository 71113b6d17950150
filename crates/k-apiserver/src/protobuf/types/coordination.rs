//! Messages of `coordination.k8s.io/v1`.

use super::meta::OBJECT_META;

msg!(LEASE, "Lease" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M LEASE_SPEC) O,
});

msg!(LEASE_SPEC, "LeaseSpec" {
    1 "holderIdentity" Str P,
    2 "leaseDurationSeconds" I32 P,
    3 "acquireTime" MicroTime P,
    4 "renewTime" MicroTime P,
    5 "leaseTransitions" I32 P,
    6 "strategy" Str P,
    7 "preferredHolder" Str P,
});
