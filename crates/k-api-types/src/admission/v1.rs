//! `admission.k8s.io/v1`: [`AdmissionReview`], what the API server sends a
//! webhook (a [`AdmissionRequest`]) and what it answers (a
//! [`AdmissionResponse`], possibly with a JSON patch).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::authentication::v1::UserInfo;
use crate::meta::Status;
use crate::{ByteString, wire};

/// A group, version and kind, as AdmissionReview spells them.
#[wire(eq)]
pub struct GroupVersionKind {
    /// API group ("" for core).
    #[wire(always)]
    pub group: String,
    /// Version.
    #[wire(always)]
    pub version: String,
    /// Kind.
    #[wire(always)]
    pub kind: String,
}

/// A group, version and resource, as AdmissionReview spells them.
#[wire(eq)]
pub struct GroupVersionResource {
    /// API group ("" for core).
    #[wire(always)]
    pub group: String,
    /// Version.
    #[wire(always)]
    pub version: String,
    /// Resource (plural).
    #[wire(always)]
    pub resource: String,
}

/// The write under review.
#[wire]
pub struct AdmissionRequest {
    /// Identifies this call; the response carries it back.
    #[wire(always)]
    pub uid: String,
    /// The kind of the object.
    #[wire(always)]
    pub kind: GroupVersionKind,
    /// The resource written.
    #[wire(always)]
    pub resource: GroupVersionResource,
    /// The subresource written (`status`), if any.
    #[wire(omitempty)]
    pub sub_resource: String,
    /// The kind the client sent (the same here: k serves one version per kind).
    pub request_kind: Option<GroupVersionKind>,
    /// The resource the client wrote.
    pub request_resource: Option<GroupVersionResource>,
    /// The subresource the client wrote.
    #[wire(omitempty)]
    pub request_sub_resource: String,
    /// The object's name (may be empty on create with generateName).
    #[wire(omitempty)]
    pub name: String,
    /// The object's namespace.
    #[wire(omitempty)]
    pub namespace: String,
    /// `CREATE`, `UPDATE`, `DELETE` or `CONNECT`.
    #[wire(always)]
    pub operation: String,
    /// Who writes.
    #[wire(always)]
    pub user_info: UserInfo,
    /// The object as it would be stored (absent for deletes).
    pub object: Option<Value>,
    /// The stored object (updates and deletes).
    pub old_object: Option<Value>,
    /// Whether nothing will be stored.
    pub dry_run: Option<bool>,
    /// The write's options (CreateOptions, UpdateOptions, DeleteOptions).
    pub options: Option<Value>,
}

/// A webhook's answer.
#[wire]
pub struct AdmissionResponse {
    /// The request's uid.
    #[wire(always)]
    pub uid: String,
    /// Whether the write may go on.
    #[wire(always)]
    pub allowed: bool,
    /// Why not (code and message), when refused.
    pub status: Option<Status>,
    /// A JSON patch (RFC 6902) to apply to the object (mutating webhooks).
    pub patch: Option<ByteString>,
    /// `JSONPatch` when there is a patch.
    pub patch_type: Option<String>,
    /// Annotations for the audit log.
    pub audit_annotations: BTreeMap<String, String>,
    /// Warnings for the client.
    pub warnings: Vec<String>,
}

/// The message exchanged with webhooks.
#[wire]
pub struct AdmissionReview {
    /// `admission.k8s.io/v1`.
    #[wire(omitempty)]
    pub api_version: String,
    /// `AdmissionReview`.
    #[wire(omitempty)]
    pub kind: String,
    /// The request (sent by the API server).
    pub request: Option<AdmissionRequest>,
    /// The response (sent back by the webhook).
    pub response: Option<AdmissionResponse>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reviews_round_trip() {
        let value = json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": {"uid": "u1", "allowed": true, "patchType": "JSONPatch",
                         "patch": "W3sib3AiOiJhZGQifV0=", "warnings": ["careful"]}
        });
        let review: AdmissionReview = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&review).unwrap(), value);
        let response = review.response.unwrap();
        assert_eq!(response.patch.unwrap().0, br#"[{"op":"add"}]"#);
    }
}
