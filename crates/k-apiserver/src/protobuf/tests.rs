//! Tests: real kubectl 1.32 request bodies, and hand-built bodies for the edge cases.
//!
//! `testdata/*.pb` are request bodies captured from `kubectl` 1.32 talking to a stub server;
//! the matching `*.json` is what the same command prints with `--dry-run=client -o json`, i.e.
//! Go's `encoding/json` rendering of the very object kubectl encoded.

use serde_json::{Value, json};

use super::{MEDIA_TYPE, ProtobufError, decode};

/// Decodes a captured body and compares it with kubectl's own JSON for the object.
fn check_fixture(name: &str, body: &[u8], expected: &str) {
    let expected: Value = serde_json::from_str(expected).unwrap_or_else(|e| panic!("{name}.json: {e}"));
    let actual = decode(body).unwrap_or_else(|e| panic!("{name}.pb: {e}"));
    if let Ok(dir) = std::env::var("PROTOBUF_TEST_DUMP") {
        let _ = std::fs::write(format!("{dir}/{name}.json"), serde_json::to_string_pretty(&actual).unwrap_or_default());
    }
    assert_eq!(actual, expected, "{name}: decoded protobuf differs from kubectl's JSON");
}

macro_rules! fixtures {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                check_fixture(
                    $name,
                    include_bytes!(concat!("testdata/", $name, ".pb")),
                    include_str!(concat!("testdata/", $name, ".json")),
                );
            }
        )*
    };
}

fixtures! {
    kubectl_create_namespace => "namespace",
    kubectl_create_configmap => "configmap",
    kubectl_create_configmap_binary => "configmap_binary",
    kubectl_create_secret_generic => "secret_generic",
    kubectl_create_secret_docker_registry => "secret_docker",
    kubectl_create_deployment => "deployment",
    kubectl_create_deployment_zero_replicas => "deployment_zero",
    kubectl_create_service_clusterip => "service_clusterip",
    kubectl_create_service_nodeport => "service_nodeport",
    kubectl_create_service_headless => "service_headless",
    kubectl_create_service_externalname => "service_externalname",
    kubectl_create_serviceaccount => "serviceaccount",
    kubectl_create_job => "job",
    kubectl_create_job_from_rich_cronjob => "job_from_cronjob",
    kubectl_create_cronjob => "cronjob",
    kubectl_create_role => "role",
    kubectl_create_clusterrole => "clusterrole",
    kubectl_create_clusterrole_aggregate => "clusterrole_aggregate",
    kubectl_create_rolebinding => "rolebinding",
    kubectl_create_clusterrolebinding => "clusterrolebinding",
    kubectl_create_priorityclass => "priorityclass",
    kubectl_create_priorityclass_zero => "priorityclass_zero",
    kubectl_create_quota => "quota",
    kubectl_create_pdb_percent => "pdb_percent",
    kubectl_create_pdb_int => "pdb_int",
    kubectl_create_ingress => "ingress",
    kubectl_autoscale => "hpa",
}

#[test]
fn kubectl_create_token() {
    let actual = decode(include_bytes!("testdata/token_request.pb")).unwrap();
    assert_eq!(
        actual,
        json!({
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": null},
            "spec": {
                "audiences": ["api"],
                "expirationSeconds": 3600,
                "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": "123"}
            },
            "status": {"token": "", "expirationTimestamp": null}
        })
    );
}

#[test]
fn kubectl_drain_delete_options() {
    let actual = decode(include_bytes!("testdata/delete_options.pb")).unwrap();
    assert_eq!(actual, json!({"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 5}));
}

// ---- A tiny protobuf encoder for hand-built bodies ----

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A message under construction.
#[derive(Default, Clone)]
struct Enc(Vec<u8>);

impl Enc {
    fn new() -> Self {
        Self::default()
    }
    fn key(mut self, num: u32, wire: u64) -> Self {
        varint(u64::from(num) << 3 | wire, &mut self.0);
        self
    }
    fn int(self, num: u32, v: i64) -> Self {
        let mut s = self.key(num, 0);
        varint(v as u64, &mut s.0);
        s
    }
    fn bytes(self, num: u32, b: &[u8]) -> Self {
        let mut s = self.key(num, 2);
        varint(b.len() as u64, &mut s.0);
        s.0.extend_from_slice(b);
        s
    }
    fn str(self, num: u32, v: &str) -> Self {
        self.bytes(num, v.as_bytes())
    }
    fn msg(self, num: u32, m: Enc) -> Self {
        self.bytes(num, &m.0)
    }
    fn entry(self, num: u32, key: &str, value: Enc) -> Self {
        self.msg(num, Enc::new().str(1, key).bytes(2, &value.0))
    }
    fn str_entry(self, num: u32, key: &str, value: &str) -> Self {
        self.msg(num, Enc::new().str(1, key).str(2, value))
    }
    fn fixed32(self, num: u32, v: u32) -> Self {
        let mut s = self.key(num, 5);
        s.0.extend_from_slice(&v.to_le_bytes());
        s
    }
    fn fixed64(self, num: u32, v: u64) -> Self {
        let mut s = self.key(num, 1);
        s.0.extend_from_slice(&v.to_le_bytes());
        s
    }
}

/// Wraps an object's message in the `k8s\0` + `runtime.Unknown` envelope.
fn body(api_version: &str, kind: &str, raw: Enc) -> Vec<u8> {
    let unknown = Enc::new().msg(1, Enc::new().str(1, api_version).str(2, kind)).msg(2, raw).str(3, "").str(4, "");
    let mut out = b"k8s\0".to_vec();
    out.extend_from_slice(&unknown.0);
    out
}

fn meta(name: &str) -> Enc {
    Enc::new().str(1, name)
}

#[test]
fn media_type_constant() {
    assert_eq!(MEDIA_TYPE, "application/vnd.kubernetes.protobuf");
}

#[test]
fn explicit_zero_pointer_kept_and_absent_pointer_dropped() {
    // replicas (pointer) explicitly 0, revisionHistoryLimit absent, paused (omitempty) false.
    let spec = Enc::new().int(1, 0).int(7, 0).msg(3, Enc::new());
    let out = decode(&body("apps/v1", "Deployment", Enc::new().msg(1, meta("d")).msg(2, spec))).unwrap();
    assert_eq!(out["spec"]["replicas"], json!(0));
    assert!(out["spec"].get("revisionHistoryLimit").is_none());
    assert!(out["spec"].get("paused").is_none());
    // selector is a pointer without omitempty: null when absent.
    assert_eq!(out["spec"]["selector"], Value::Null);
    // Non-pointer structs are always written.
    assert_eq!(out["spec"]["strategy"], json!({}));
    assert_eq!(out["status"], json!({}));
    assert_eq!(out["spec"]["template"], json!({"metadata": {"creationTimestamp": null}, "spec": {"containers": null}}));
}

#[test]
fn required_scalars_written_even_when_zero() {
    let port = Enc::new().int(3, 0).str(1, "");
    let container = Enc::new().str(1, "c").msg(6, port);
    let pod = Enc::new().msg(1, meta("p")).msg(2, Enc::new().msg(2, container));
    let out = decode(&body("v1", "Pod", pod)).unwrap();
    assert_eq!(out["spec"]["containers"][0]["ports"][0], json!({"containerPort": 0}));
    assert_eq!(out["spec"]["containers"][0]["resources"], json!({}));
}

#[test]
fn negative_int32_and_int64() {
    // int32 -1 is sign-extended to ten bytes on the wire.
    let pc = Enc::new().msg(1, meta("neg")).int(2, -1);
    let out = decode(&body("scheduling.k8s.io/v1", "PriorityClass", pc)).unwrap();
    assert_eq!(out["value"], json!(-1));
    let opts = Enc::new().int(1, -30);
    let out = decode(&body("v1", "DeleteOptions", opts)).unwrap();
    assert_eq!(out["gracePeriodSeconds"], json!(-30));
}

#[test]
fn secret_bytes_are_base64_and_string_data_kept() {
    let secret = Enc::new()
        .msg(1, meta("s"))
        .entry(2, "bin", Enc(vec![0xff, 0x00, 0x01]))
        .entry(2, "empty", Enc::new())
        .str_entry(4, "plain", "text")
        .str(3, "Opaque")
        .int(5, 0);
    let out = decode(&body("v1", "Secret", secret)).unwrap();
    assert_eq!(
        out,
        json!({
            "kind": "Secret", "apiVersion": "v1",
            "metadata": {"name": "s", "creationTimestamp": null},
            "immutable": false,
            "data": {"bin": "/wAB", "empty": ""},
            "stringData": {"plain": "text"},
            "type": "Opaque"
        })
    );
}

#[test]
fn times_and_managed_fields() {
    let ts = Enc::new().int(1, 1_700_000_000).int(2, 123_000_000);
    let managed = Enc::new()
        .str(1, "kubectl")
        .str(2, "Update")
        .msg(4, ts.clone())
        .str(6, "FieldsV1")
        .msg(7, Enc::new().bytes(1, br#"{"f:data":{}}"#));
    let m = meta("t").msg(8, ts).msg(9, Enc::new()).msg(17, managed);
    let out = decode(&body("v1", "ConfigMap", Enc::new().msg(1, m))).unwrap();
    // metav1.Time keeps whole seconds; an empty Time message is the zero time (null).
    assert_eq!(out["metadata"]["creationTimestamp"], json!("2023-11-14T22:13:20Z"));
    assert_eq!(out["metadata"]["deletionTimestamp"], Value::Null);
    assert_eq!(
        out["metadata"]["managedFields"],
        json!([{
            "manager": "kubectl", "operation": "Update", "time": "2023-11-14T22:13:20Z",
            "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {}}
        }])
    );
}

#[test]
fn int_or_string_and_quantities() {
    let pdb = Enc::new()
        .msg(1, meta("p"))
        .msg(2, Enc::new().msg(1, Enc::new().int(1, 1).str(3, "25%")).msg(3, Enc::new().int(1, 0).int(2, 3)));
    let out = decode(&body("policy/v1", "PodDisruptionBudget", pdb)).unwrap();
    assert_eq!(out["spec"], json!({"minAvailable": "25%", "maxUnavailable": 3}));

    let quota = Enc::new()
        .msg(1, meta("q"))
        .msg(2, Enc::new().entry(1, "cpu", Enc::new().str(1, "500m")).entry(1, "pods", Enc::new()));
    let out = decode(&body("v1", "ResourceQuota", quota)).unwrap();
    assert_eq!(out["spec"]["hard"], json!({"cpu": "500m", "pods": "0"}));
}

#[test]
fn packed_and_unpacked_repeated_ints() {
    let mut packed = Vec::new();
    for v in [1u64, 2, 300] {
        varint(v, &mut packed);
    }
    let sc = Enc::new().bytes(4, &packed).int(4, 7);
    let pod = Enc::new().msg(2, Enc::new().msg(14, sc));
    let out = decode(&body("v1", "Pod", pod)).unwrap();
    assert_eq!(out["spec"]["securityContext"]["supplementalGroups"], json!([1, 2, 300, 7]));
}

#[test]
fn unknown_fields_are_skipped() {
    let ns = Enc::new()
        .msg(1, meta("n").str(99, "future"))
        .int(50, 7)
        .fixed32(51, 1)
        .fixed64(52, 2)
        .msg(2, Enc::new().str(1, "kubernetes"));
    let out = decode(&body("v1", "Namespace", ns)).unwrap();
    assert_eq!(
        out,
        json!({
            "kind": "Namespace", "apiVersion": "v1",
            "metadata": {"name": "n", "creationTimestamp": null},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {}
        })
    );
}

#[test]
fn repeated_message_occurrences_merge() {
    // A non-repeated message field sent twice is merged, as protobuf requires.
    let ns = Enc::new().msg(1, meta("a")).msg(1, Enc::new().str(3, "ns"));
    let out = decode(&body("v1", "Namespace", ns)).unwrap();
    assert_eq!(out["metadata"], json!({"name": "a", "namespace": "ns", "creationTimestamp": null}));
}

#[test]
fn eviction_with_delete_options() {
    let opts = Enc::new().int(1, 0).msg(2, Enc::new().str(1, "uid-1")).str(4, "Foreground").str(5, "All");
    let ev = Enc::new().msg(1, meta("p1").str(3, "default")).msg(2, opts);
    let out = decode(&body("policy/v1", "Eviction", ev)).unwrap();
    assert_eq!(
        out,
        json!({
            "kind": "Eviction", "apiVersion": "policy/v1",
            "metadata": {"name": "p1", "namespace": "default", "creationTimestamp": null},
            "deleteOptions": {
                "gracePeriodSeconds": 0,
                "preconditions": {"uid": "uid-1"},
                "propagationPolicy": "Foreground",
                "dryRun": ["All"]
            }
        })
    );
}

#[test]
fn scale_and_binding() {
    let scale =
        Enc::new().msg(1, meta("web")).msg(2, Enc::new().int(1, 0)).msg(3, Enc::new().int(1, 2).str(2, "app=web"));
    let out = decode(&body("autoscaling/v1", "Scale", scale)).unwrap();
    assert_eq!(out["spec"], json!({}));
    assert_eq!(out["status"], json!({"replicas": 2, "selector": "app=web"}));

    let binding = Enc::new().msg(1, meta("p")).msg(2, Enc::new().str(1, "Node").str(3, "n1"));
    let out = decode(&body("v1", "Binding", binding)).unwrap();
    assert_eq!(out["target"], json!({"kind": "Node", "name": "n1"}));
}

#[test]
fn token_review_extra_values() {
    let user = Enc::new().str(1, "alice").entry(4, "scopes", Enc::new().str(1, "a").str(1, "b"));
    let tr = Enc::new().msg(2, Enc::new().str(1, "tok")).msg(3, Enc::new().int(1, 1).msg(2, user));
    let out = decode(&body("authentication.k8s.io/v1", "TokenReview", tr)).unwrap();
    assert_eq!(out["spec"], json!({"token": "tok"}));
    assert_eq!(
        out["status"],
        json!({"authenticated": true, "user": {"username": "alice", "extra": {"scopes": ["a", "b"]}}})
    );
}

#[test]
fn unsupported_kind_is_a_clear_error() {
    let err = decode(&body("example.com/v1", "Widget", Enc::new())).unwrap_err();
    assert_eq!(err.to_string(), "protobuf decoding of example.com/v1/Widget is not supported; send JSON");
    assert!(matches!(err, ProtobufError::Unsupported { .. }));
}

#[test]
fn missing_magic_is_rejected() {
    let err = decode(b"{\"kind\":\"Namespace\"}").unwrap_err();
    assert!(err.to_string().contains("k8s\\0 magic"), "{err}");
}

#[test]
fn content_encoding_is_rejected() {
    let unknown = Enc::new().msg(1, Enc::new().str(1, "v1").str(2, "Namespace")).str(3, "gzip");
    let mut b = b"k8s\0".to_vec();
    b.extend_from_slice(&unknown.0);
    let err = decode(&b).unwrap_err();
    assert!(matches!(err, ProtobufError::UnsupportedEnvelope(_)), "{err}");
}

#[test]
fn truncated_body_reports_where() {
    let full = body("apps/v1", "Deployment", Enc::new().msg(1, meta("web")).msg(2, Enc::new().int(1, 3)));
    // Corrupt the length of the nested spec message so it runs past the end.
    let mut bad = full.clone();
    let spec_at = bad.len() - 2 - 4 - 2; // ...0x12 <len> 0x08 0x03 then contentEncoding/contentType
    assert_eq!(bad[spec_at], 0x12);
    bad[spec_at + 1] = 0x7f;
    let err = decode(&bad).unwrap_err();
    assert!(matches!(err, ProtobufError::Malformed { .. }), "{err}");

    // A wire type that does not match the field: a varint where metadata (a message) is expected.
    let err = decode(&body("v1", "Namespace", Enc::new().int(1, 5))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "malformed protobuf body at Namespace.metadata: expected length-delimited for a ObjectMeta, got varint"
    );

    // Truncated varint inside a nested message.
    let err = decode(&body("v1", "Namespace", Enc::new().bytes(1, &[0x38, 0xff]))).unwrap_err();
    assert_eq!(err.to_string(), "malformed protobuf body at Namespace.metadata: truncated varint at byte 1");
}

#[test]
fn go_duration_strings() {
    use super::decode::go_duration;
    let cases = [
        (0, "0s"),
        (1, "1ns"),
        (1_500, "1.5µs"),
        (2_000_000, "2ms"),
        (1_500_000_000, "1.5s"),
        (60_000_000_000, "1m0s"),
        (3_600_000_000_000, "1h0m0s"),
        (5_430_100_000_000, "1h30m30.1s"),
        (-90_000_000_000, "-1m30s"),
    ];
    for (nanos, want) in cases {
        assert_eq!(go_duration(nanos), want, "{nanos}ns");
    }
}

#[test]
fn base64_matches_go() {
    use super::decode::base64;
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
}

#[test]
fn every_root_decodes_an_empty_object() {
    for (api_version, kind, _) in super::types::ROOTS {
        let out = decode(&body(api_version, kind, Enc::new())).unwrap_or_else(|e| panic!("{api_version}/{kind}: {e}"));
        assert_eq!(out["kind"], json!(kind));
    }
}

#[test]
fn lease_micro_times() {
    let at = Enc::new().int(1, 1_700_000_000).int(2, 123_456_789);
    let spec = Enc::new().str(1, "holder").int(2, 15).msg(3, at.clone()).msg(4, at).int(5, 0);
    let out = decode(&body("coordination.k8s.io/v1", "Lease", Enc::new().msg(1, meta("l")).msg(2, spec))).unwrap();
    assert_eq!(
        out["spec"],
        json!({
            "holderIdentity": "holder",
            "leaseDurationSeconds": 15,
            "acquireTime": "2023-11-14T22:13:20.123456Z",
            "renewTime": "2023-11-14T22:13:20.123456Z",
            "leaseTransitions": 0
        })
    );
}

#[test]
fn event_defaults() {
    let ev = Enc::new().msg(1, meta("e")).msg(2, Enc::new().str(1, "Pod").str(3, "p")).str(3, "Started");
    let out = decode(&body("v1", "Event", ev)).unwrap();
    assert_eq!(
        out,
        json!({
            "kind": "Event", "apiVersion": "v1",
            "metadata": {"name": "e", "creationTimestamp": null},
            "involvedObject": {"kind": "Pod", "name": "p"},
            "reason": "Started",
            "source": {},
            "firstTimestamp": null,
            "lastTimestamp": null,
            "eventTime": null,
            "reportingComponent": "",
            "reportingInstance": ""
        })
    );
}

#[test]
fn raw_extension_json_and_nested_protobuf() {
    let rev = Enc::new().msg(1, meta("r")).msg(2, Enc::new().bytes(1, br#"{"spec":{"a":1}}"#)).int(3, 4);
    let out = decode(&body("apps/v1", "ControllerRevision", rev)).unwrap();
    assert_eq!(out["data"], json!({"spec": {"a": 1}}));
    assert_eq!(out["revision"], json!(4));

    let nested = body("v1", "ConfigMap", Enc::new().msg(1, meta("inner")).str_entry(2, "k", "v"));
    let rev = Enc::new().msg(1, meta("r")).msg(2, Enc::new().bytes(1, &nested)).int(3, 1);
    let out = decode(&body("apps/v1", "ControllerRevision", rev)).unwrap();
    assert_eq!(
        out["data"],
        json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "inner", "creationTimestamp": null}, "data": {"k": "v"}})
    );

    let rev = Enc::new().msg(1, meta("r")).msg(2, Enc::new().bytes(1, b"not json"));
    let err = decode(&body("apps/v1", "ControllerRevision", rev)).unwrap_err();
    assert!(
        err.to_string().starts_with("malformed protobuf body at ControllerRevision.data: embedded object is not JSON"),
        "{err}"
    );
}
