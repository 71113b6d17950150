//! The `admission.k8s.io` API group: the AdmissionReview messages an API
//! server exchanges with admission webhooks (not stored objects).

pub mod v1;
