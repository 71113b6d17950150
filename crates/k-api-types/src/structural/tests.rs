//! Pruning, defaulting and validation against a realistic CRD schema (the
//! `Cache` of `examples/manifests/16-crd.yaml`, grown to use every feature).

use serde_json::{Value, json};

use super::*;
use crate::manifest::{parse_documents, yaml_to_json};
use crate::validation::{DNS1035_LABEL_ERROR, DNS1123_LABEL_ERROR, ErrorList};

const CACHE_SCHEMA: &str = r#"
type: object
properties:
  apiVersion: {type: string}
  kind: {type: string}
  metadata:
    type: object
    properties:
      name: {type: string, maxLength: 20}
  spec:
    type: object
    required: ["engine"]
    properties:
      engine:
        type: string
        enum: ["valkey", "memcached"]
      replicas:
        type: integer
        format: int32
        minimum: 1
        maximum: 9
        default: 1
      memory:
        type: string
        pattern: '^\d+(Mi|Gi)$'
        default: 1Gi
      port:
        x-kubernetes-int-or-string: true
        anyOf: [{type: integer}, {type: string}]
      ratio:
        type: number
        multipleOf: 0.5
        maximum: 1000000.0
        exclusiveMaximum: true
      owner:
        type: string
        format: email
        nullable: true
      description:
        type: string
        minLength: 2
        maxLength: 8
      createdAt: {type: string, format: date-time}
      tags:
        type: array
        maxItems: 4
        x-kubernetes-list-type: set
        items: {type: string}
      endpoints:
        type: array
        minItems: 1
        x-kubernetes-list-type: map
        x-kubernetes-list-map-keys: ["name"]
        items:
          type: object
          required: ["name"]
          properties:
            name: {type: string}
            port: {type: integer}
            protocol: {type: string, default: TCP}
      labels:
        type: object
        maxProperties: 2
        additionalProperties: {type: string}
      shards:
        type: object
        additionalProperties:
          type: object
          properties:
            weight: {type: integer, default: 1}
            zone: {type: string}
      backup:
        type: object
        default: {}
        properties:
          schedule: {type: string, default: "@daily"}
          retain: {type: integer, default: 7}
          target: {type: string, nullable: true, default: s3}
      config:
        type: object
        x-kubernetes-preserve-unknown-fields: true
        properties:
          mode: {type: string}
          limits:
            type: object
            properties:
              cpu: {type: string}
      template:
        type: object
        x-kubernetes-embedded-resource: true
        x-kubernetes-preserve-unknown-fields: true
    x-kubernetes-validations:
      - rule: "self.replicas <= 9"
  status:
    type: object
    properties:
      replicas: {type: integer}
      phase: {type: string}
"#;

fn cache_schema() -> StructuralSchema {
    StructuralSchema::new(&yaml_to_json(CACHE_SCHEMA).expect("yaml")).expect("compiles")
}

/// A schema whose `spec` has the given properties.
fn spec_schema(properties: Value) -> StructuralSchema {
    StructuralSchema::new(
        &json!({"type": "object", "properties": {"spec": {"type": "object", "properties": properties}}}),
    )
    .expect("compiles")
}

fn cache(spec: Value) -> Value {
    json!({"apiVersion": "example.org/v1alpha1", "kind": "Cache", "metadata": {"name": "sessions"}, "spec": spec})
}

fn messages(schema: &StructuralSchema, object: &Value) -> Vec<String> {
    validate(schema, object).iter().map(ToString::to_string).collect()
}

#[test]
fn rejects_what_cannot_be_compiled() {
    let err = |v: Value| StructuralSchema::new(&v).expect_err("rejected");
    assert_eq!(err(json!(5)), "openAPIV3Schema must be an object, not 5");
    assert_eq!(
        err(json!({"type": "object", "properties": {"spec": {"$ref": "#/definitions/Spec"}}})),
        "OpenAPIV3Schema '$ref' is not supported"
    );
    assert_eq!(
        err(json!({"type": "object", "properties": {"a": {"type": "array", "items": [{"type": "string"}]}}})),
        "OpenAPIV3Schema 'items' must be a schema, but is an array"
    );
    assert_eq!(
        err(json!({"type": "object", "x-kubernetes-preserve-unknown-fields": false})),
        "'x-kubernetes-preserve-unknown-fields' must be true or undefined"
    );
    assert!(err(json!({"type": 5})).starts_with("invalid openAPIV3Schema: "));
}

#[test]
fn prunes_undeclared_fields_and_reports_their_paths() {
    let schema = cache_schema();
    let mut obj = json!({
        "apiVersion": "example.org/v1alpha1",
        "kind": "Cache",
        "metadata": {"name": "sessions", "namespace": "shop", "labels": {"a": "b"}, "bogus": 1},
        "extra": true,
        "spec": {
            "engine": "valkey",
            "color": "blue",
            "endpoints": [{"name": "a", "port": 1, "weight": 3}, {"name": "b"}],
            "labels": {"x": "y"},
            "shards": {"s1": {"weight": 2, "rack": "r1"}},
            "config": {"anything": {"deep": 1}, "mode": "fast", "limits": {"cpu": "1", "gpu": "2"}},
            "template": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p", "labels": {"app": "p"}, "color": "red"},
                "spec": {"containers": []}
            }
        },
        "status": {"phase": "Ready", "message": "hi"}
    });
    assert_eq!(
        prune(&schema, &mut obj),
        [
            "extra",
            "spec.color",
            "spec.config.limits.gpu",
            "spec.endpoints[0].weight",
            "spec.shards.s1.rack",
            "spec.template.metadata.color",
            "status.message",
        ]
    );
    assert_eq!(
        obj,
        json!({
            "apiVersion": "example.org/v1alpha1",
            "kind": "Cache",
            "metadata": {"name": "sessions", "namespace": "shop", "labels": {"a": "b"}, "bogus": 1},
            "spec": {
                "engine": "valkey",
                "endpoints": [{"name": "a", "port": 1}, {"name": "b"}],
                "labels": {"x": "y"},
                "shards": {"s1": {"weight": 2}},
                "config": {"anything": {"deep": 1}, "mode": "fast", "limits": {"cpu": "1"}},
                "template": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": "p", "labels": {"app": "p"}},
                    "spec": {"containers": []}
                }
            },
            "status": {"phase": "Ready"}
        })
    );
    // Pruning is idempotent.
    assert!(prune(&schema, &mut obj).is_empty());
    assert_eq!(unknown_field_warning("spec.color"), r#"unknown field "spec.color""#);
}

#[test]
fn prunes_maps_without_a_value_schema_and_keeps_scalars() {
    let schema = spec_schema(json!({
        "free": {"type": "object", "additionalProperties": true},
        "list": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}},
        "name": {"type": "string"}
    }));
    let mut obj = cache(json!({
        "free": {"scalar": 1, "nested": {"x": 1, "y": [{"z": 2}]}},
        "list": [{"a": "1", "b": "2"}, "not-an-object", [{"c": 3}]],
        "name": {"surprise": true}
    }));
    // additionalProperties: true keeps the keys but, like kube, declares nothing below them.
    assert_eq!(
        prune(&schema, &mut obj),
        ["spec.free.nested.x", "spec.free.nested.y", "spec.list[0].b", "spec.list[2][0].c", "spec.name.surprise"]
    );
    assert_eq!(
        obj["spec"],
        json!({"free": {"scalar": 1, "nested": {}}, "list": [{"a": "1"}, "not-an-object", [{}]], "name": {}})
    );
}

#[test]
fn applies_defaults_recursively_with_kube_null_handling() {
    let schema = cache_schema();
    let mut obj = cache(json!({
        "engine": "valkey",
        "endpoints": [{"name": "a"}, null, {"name": "b", "protocol": "UDP"}],
        "shards": {"s1": {}, "s2": null, "s3": {"weight": 5}},
        "owner": null,
        "description": null,
        "backup": {"target": null, "retain": null}
    }));
    apply_defaults(&schema, &mut obj);
    assert_eq!(
        obj["spec"],
        json!({
            "engine": "valkey",
            "replicas": 1,
            "memory": "1Gi",
            // An item null stays: the item schema has no default.
            "endpoints": [{"name": "a", "protocol": "TCP"}, null, {"name": "b", "protocol": "UDP"}],
            // A map value null without default is dropped; present values get their defaults.
            "shards": {"s1": {"weight": 1}, "s3": {"weight": 5}},
            // nullable: the null is kept.
            "owner": null,
            // "description" (null, not nullable, no default) is gone.
            "backup": {"schedule": "@daily", "retain": 7, "target": null}
        })
    );

    // A defaulted object gets its own fields' defaults; present values are left alone.
    let mut bare = cache(json!({"engine": "memcached", "replicas": 3}));
    apply_defaults(&schema, &mut bare);
    assert_eq!(
        bare["spec"],
        json!({
            "engine": "memcached",
            "replicas": 3,
            "memory": "1Gi",
            "backup": {"schedule": "@daily", "retain": 7, "target": "s3"}
        })
    );
    // Defaulting is idempotent and leaves the root metadata alone.
    let before = bare.clone();
    apply_defaults(&schema, &mut bare);
    assert_eq!(bare, before);
    assert_eq!(bare["metadata"], json!({"name": "sessions"}));
}

#[test]
fn defaults_replace_non_nullable_nulls_in_items_and_maps() {
    let schema = spec_schema(json!({
        "ports": {"type": "array", "items": {"type": "integer", "default": 80}},
        "weights": {"type": "object", "additionalProperties": {"type": "integer", "default": 1}},
        "mode": {"type": "string", "default": "auto"},
        "note": {"type": "string", "nullable": true, "default": "none"},
        "off": {"type": "string", "default": null}
    }));
    let mut obj = cache(json!({"ports": [null, 443], "weights": {"a": null, "b": 3}, "mode": null, "off": null}));
    apply_defaults(&schema, &mut obj);
    // A `default: null` never applies: "off" (null, not nullable) is dropped.
    assert_eq!(obj["spec"], json!({"ports": [80, 443], "weights": {"a": 1, "b": 3}, "mode": "auto", "note": "none"}));
}

#[test]
fn validation_reports_kube_paths_causes_and_messages() {
    let schema = cache_schema();
    let obj = json!({
        "apiVersion": "example.org/v1alpha1",
        "kind": "Cache",
        "metadata": {"name": "a-name-that-is-far-too-long", "labels": 5},
        "spec": {
            "replicas": "three",
            "memory": "2GB",
            "port": true,
            "ratio": 0.75,
            "owner": "not-an-email",
            "description": "much too long",
            "createdAt": "yesterday",
            "tags": ["a", "b", "a", "c", "d"],
            "endpoints": [{"name": "x", "port": 80.5}, {"name": "x"}, {"port": 1}],
            "labels": {"a": "1", "b": 2, "c": "3"}
        },
        "status": {"replicas": 1.0}
    });
    assert_eq!(
        messages(&schema, &obj),
        [
            "metadata.name: Too long: may not be more than 20 bytes",
            r#"spec.createdAt: Invalid value: "yesterday": spec.createdAt in body must be of type date-time: "yesterday""#,
            "spec.description: Too long: may not be more than 8 bytes",
            r#"spec.endpoints[0].port: Invalid value: "number": spec.endpoints[0].port in body must be of type integer: "number""#,
            "spec.endpoints[2].name: Required value",
            // maxProperties fails first and stops the map's other checks, as in kube.
            "spec.labels: Too many: 3: must have at most 2 items",
            r#"spec.memory: Invalid value: "2GB": spec.memory in body should match '^\d+(Mi|Gi)$'"#,
            r#"spec.owner: Invalid value: "not-an-email": spec.owner in body must be of type email: "not-an-email""#,
            r#"spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean""#,
            r#": Invalid value: "": "spec.port" must validate at least one schema (anyOf)"#,
            r#"spec.port: Invalid value: "boolean": spec.port in body must be of type integer: "boolean""#,
            "spec.ratio: Invalid value: 0.75: spec.ratio in body should be a multiple of 0.5",
            r#"spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#,
            "spec.tags: Too many: 5: must have at most 4 items",
            "spec.engine: Required value",
            r#"spec.endpoints[1]: Duplicate value: {"name":"x"}"#,
            r#"spec.tags[2]: Duplicate value: "a""#,
        ]
    );
    let causes: Vec<(String, &str)> =
        validate(&schema, &obj).iter().map(|e| (e.field.clone(), e.type_.cause())).take(5).collect();
    assert_eq!(
        causes,
        [
            ("metadata.name".to_owned(), "FieldValueTooLong"),
            ("spec.createdAt".to_owned(), "FieldValueTypeInvalid"),
            ("spec.description".to_owned(), "FieldValueTooLong"),
            ("spec.endpoints[0].port".to_owned(), "FieldValueTypeInvalid"),
            ("spec.endpoints[2].name".to_owned(), "FieldValueRequired"),
        ]
    );
}

#[test]
fn a_valid_cache_passes() {
    let schema = cache_schema();
    let mut obj = cache(json!({
        "engine": "valkey",
        "replicas": 3,
        "memory": "512Mi",
        "port": "redis",
        "ratio": 2.5,
        "owner": "Ops Team <ops@example.org>",
        "description": "sessions",
        "createdAt": "2024-05-01T12:00:00Z",
        "tags": ["hot", "eu"],
        "endpoints": [{"name": "main", "port": 6379}, {"name": "replica", "port": 6380}],
        "labels": {"team": "web"},
        "shards": {"s1": {"zone": "a"}},
        "config": {"mode": "lru", "anything": [1, 2]},
        "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"k": "v"}}
    }));
    assert!(prune(&schema, &mut obj).is_empty());
    apply_defaults(&schema, &mut obj);
    assert_eq!(validate(&schema, &obj), ErrorList::new());
    assert_eq!(obj["spec"]["shards"]["s1"], json!({"zone": "a", "weight": 1}));
    assert_eq!(obj["spec"]["endpoints"][1]["protocol"], "TCP");
    // An integral float is an integer; an int-or-string takes either.
    let mut other = obj.clone();
    other["spec"]["replicas"] = json!(2.0);
    other["spec"]["port"] = json!(6379);
    assert_eq!(validate(&schema, &other), ErrorList::new());
}

#[test]
fn numbers_and_bounds() {
    let schema = spec_schema(json!({
        "replicas": {"type": "integer", "minimum": 1, "maximum": 9},
        "step": {"type": "integer", "multipleOf": 3, "minimum": 0, "exclusiveMinimum": true},
        "load": {"type": "number", "maximum": 1000000.0, "exclusiveMaximum": true, "minimum": 0.25},
        "half": {"type": "integer", "minimum": 1.5},
        "level": {"type": "integer", "enum": [1, 2]}
    }));
    let msgs = |spec: Value| messages(&schema, &cache(spec));
    assert_eq!(
        msgs(json!({"replicas": 0})),
        ["spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"]
    );
    assert_eq!(
        msgs(json!({"replicas": 10})),
        ["spec.replicas: Invalid value: 10: spec.replicas in body should be less than or equal to 9"]
    );
    assert_eq!(msgs(json!({"step": 0})), ["spec.step: Invalid value: 0: spec.step in body should be greater than 0"]);
    assert_eq!(msgs(json!({"step": 7})), ["spec.step: Invalid value: 7: spec.step in body should be a multiple of 3"]);
    assert_eq!(
        msgs(json!({"load": 1000000.0})),
        ["spec.load: Invalid value: 1000000.0: spec.load in body should be less than 1e+06"]
    );
    assert_eq!(
        msgs(json!({"load": 0.125})),
        ["spec.load: Invalid value: 0.125: spec.load in body should be greater than or equal to 0.25"]
    );
    // An integer is compared with the bound truncated to an integer, as kube does.
    assert_eq!(msgs(json!({"half": 1})), Vec::<String>::new());
    assert_eq!(
        msgs(json!({"half": 0})),
        ["spec.half: Invalid value: 0: spec.half in body should be greater than or equal to 1"]
    );
    // Enum values match across integer and float representations.
    assert_eq!(msgs(json!({"level": 2.0})), Vec::<String>::new());
    assert_eq!(msgs(json!({"level": 3})), [r#"spec.level: Unsupported value: 3: supported values: "1", "2""#]);
    assert_eq!(
        msgs(json!({"replicas": 1.5})),
        [r#"spec.replicas: Invalid value: "number": spec.replicas in body must be of type integer: "number""#]
    );
}

#[test]
fn strings_formats_and_types() {
    let schema = spec_schema(json!({
        "code": {"type": "string", "minLength": 3, "pattern": "^[a-z]+$"},
        "data": {"type": "string", "format": "byte"},
        "id": {"type": "string", "format": "uuid"},
        "size": {"type": "string", "format": "int32"},
        "flag": {"type": "boolean"},
        "list": {"type": "array", "minItems": 2, "items": {"type": "string"}},
        "obj": {"type": "object", "minProperties": 1, "properties": {"a": {"type": "string"}}},
        "closed": {"type": "object", "additionalProperties": false}
    }));
    let msgs = |spec: Value| messages(&schema, &cache(spec));
    // minLength is reported before (and instead of) the pattern.
    assert_eq!(
        msgs(json!({"code": "AB"})),
        [r#"spec.code: Invalid value: "AB": spec.code in body should be at least 3 chars long"#]
    );
    assert_eq!(
        msgs(json!({"code": "ABC"})),
        [r#"spec.code: Invalid value: "ABC": spec.code in body should match '^[a-z]+$'"#]
    );
    assert_eq!(
        msgs(json!({"data": "not base64!", "id": "123e4567-e89b-12d3-a456-426614174000"})),
        [r#"spec.data: Invalid value: "not base64!": spec.data in body must be of type byte: "not base64!""#]
    );
    // A number where a formatted string is expected fails on the format first.
    assert_eq!(
        msgs(json!({"data": 5})),
        [r#"spec.data: Invalid value: "int64": spec.data in body must be of type byte: "int64""#]
    );
    // int32 is not a format kube checks: only the type is.
    assert_eq!(msgs(json!({"size": "anything"})), Vec::<String>::new());
    assert_eq!(
        msgs(json!({"flag": "yes", "list": ["a"], "obj": {}})),
        [
            r#"spec.flag: Invalid value: "string": spec.flag in body must be of type boolean: "string""#,
            "spec.list: Invalid value: 1: spec.list in body should have at least 2 items",
            "spec.obj: Invalid value: 0: spec.obj in body should have at least 1 properties",
        ]
    );
    assert_eq!(
        msgs(json!({"closed": {"x": 1}, "list": {"a": 1}})),
        [
            r#"spec.closed: Invalid value: "x": spec.closed.x in body is a forbidden property"#,
            r#"spec.list: Invalid value: "object": spec.list in body must be of type array: "object""#,
        ]
    );
    let causes: Vec<&str> =
        validate(&schema, &cache(json!({"closed": {"x": 1}, "list": {}}))).iter().map(|e| e.type_.cause()).collect();
    assert_eq!(causes, ["FieldValueInvalid", "FieldValueTypeInvalid"]);
}

#[test]
fn nulls_are_type_errors_unless_nullable() {
    let schema = spec_schema(json!({
        "owner": {"type": "string", "nullable": true},
        "memory": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "tier": {"type": "string", "nullable": true, "enum": ["gold", "silver"]}
    }));
    let msgs = |spec: Value| messages(&schema, &cache(spec));
    assert_eq!(msgs(json!({"owner": null})), Vec::<String>::new());
    assert_eq!(
        msgs(json!({"memory": null, "tags": [null, "a"]})),
        [
            r#"spec.memory: Invalid value: "null": spec.memory in body must be of type string: "null""#,
            r#"spec.tags[0]: Invalid value: "null": spec.tags[0] in body must be of type string: "null""#,
        ]
    );
    // kube-openapi never matches null against an enum, nullable or not.
    assert_eq!(
        msgs(json!({"tier": null})),
        [r#"spec.tier: Unsupported value: "null": supported values: "gold", "silver""#]
    );
    // Defaulting first drops the non-nullable null field (not the array item).
    let mut obj = cache(json!({"memory": null, "tags": [null]}));
    apply_defaults(&schema, &mut obj);
    assert_eq!(obj["spec"], json!({"tags": [null]}));
}

#[test]
fn junctors_report_like_kube_openapi() {
    let schema = spec_schema(json!({
        "size": {
            "type": "object",
            "properties": {"min": {"type": "integer"}, "max": {"type": "integer"}},
            "anyOf": [{"required": ["min"]}, {"required": ["max"]}]
        },
        "mode": {"type": "string", "oneOf": [{"pattern": "^a"}, {"pattern": "b$"}], "not": {"enum": ["apple"]}},
        "level": {"type": "integer", "allOf": [{"minimum": 1}, {"maximum": 5}]}
    }));
    let msgs = |spec: Value| messages(&schema, &cache(spec));
    assert_eq!(msgs(json!({"size": {"max": 3}, "mode": "ax", "level": 3})), Vec::<String>::new());
    assert_eq!(
        msgs(json!({"size": {}})),
        [
            r#": Invalid value: "": "spec.size" must validate at least one schema (anyOf)"#,
            "spec.size.min: Required value"
        ]
    );
    assert_eq!(
        msgs(json!({"mode": "ab"})),
        [
            r#": Invalid value: "": "spec.mode" must validate one and only one schema (oneOf). Found 2 valid alternatives"#
        ]
    );
    assert_eq!(
        msgs(json!({"mode": "xx"})),
        [
            r#": Invalid value: "": "spec.mode" must validate one and only one schema (oneOf). Found none valid"#,
            r#"spec.mode: Invalid value: "xx": spec.mode in body should match '^a'"#,
        ]
    );
    assert_eq!(
        msgs(json!({"mode": "apple"})),
        [r#": Invalid value: "": "spec.mode" must not validate the schema (not)"#]
    );
    assert_eq!(
        msgs(json!({"level": 7})),
        [
            "spec.level: Invalid value: 7: spec.level in body should be less than or equal to 5",
            r#": Invalid value: "": "spec.level" must validate all the schemas (allOf)"#,
        ]
    );
    let errs = validate(&schema, &cache(json!({"size": {}})));
    assert_eq!((errs[0].field.as_str(), errs[0].type_.cause()), ("", "FieldValueInvalid"));
}

#[test]
fn embedded_resources_need_type_and_valid_metadata() {
    let schema = cache_schema();
    let msgs = |template: Value| messages(&schema, &cache(json!({"engine": "valkey", "template": template})));
    assert_eq!(msgs(json!({"apiVersion": "apps/v1", "kind": "Deployment"})), Vec::<String>::new());
    assert_eq!(
        msgs(json!({"metadata": {"name": "ok"}})),
        ["spec.template.apiVersion: Required value", "spec.template.kind: Required value"]
    );
    assert_eq!(
        msgs(json!({"apiVersion": "a/b/c", "kind": "pod!"})),
        [
            r#"spec.template.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c"#.to_owned(),
            format!(
                r#"spec.template.kind: Invalid value: "pod!": may have mixed case, but should otherwise match: {DNS1035_LABEL_ERROR}"#
            ),
        ]
    );
    assert_eq!(
        msgs(json!({"apiVersion": 5, "kind": ""})),
        ["spec.template.apiVersion: Invalid value: 5: must be a string", "spec.template.kind: Required value"]
    );
    assert_eq!(
        msgs(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a/b", "namespace": "Bad_NS"}})),
        [
            r#"spec.template.metadata.name: Invalid value: "a/b": may not contain '/' or '%'"#.to_owned(),
            format!(r#"spec.template.metadata.namespace: Invalid value: "Bad_NS": {DNS1123_LABEL_ERROR}"#),
        ]
    );
    let errs =
        validate(&schema, &cache(json!({"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": 5}}})));
    let last = errs.last().expect("an error");
    assert_eq!((last.field.as_str(), last.type_.cause()), ("spec.template.metadata", "FieldValueInvalid"));
}

#[test]
fn list_types_require_unique_items_and_keys() {
    let schema = spec_schema(json!({
        "set": {"type": "array", "x-kubernetes-list-type": "set", "items": {"x-kubernetes-preserve-unknown-fields": true}},
        "ports": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["port", "protocol"],
            "items": {"type": "object", "properties": {"port": {"type": "integer"}, "protocol": {"type": "string"}}}
        },
        "byName": {
            "type": "object",
            "additionalProperties": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "properties": {"name": {"type": "string"}}}
            }
        }
    }));
    let msgs = |spec: Value| messages(&schema, &cache(spec));
    assert_eq!(
        msgs(json!({"set": [1, 1.0, {"a": 1}, {"a": 1}, "x", "x", "x"]})),
        [r#"spec.set[3]: Duplicate value: {"a":1}"#, r#"spec.set[5]: Duplicate value: "x""#]
    );
    assert_eq!(
        msgs(
            json!({"ports": [{"port": 80, "protocol": "TCP"}, {"port": 80, "protocol": "UDP"}, {"protocol": "TCP", "port": 80}]})
        ),
        [r#"spec.ports[2]: Duplicate value: {"port":80,"protocol":"TCP"}"#]
    );
    assert_eq!(
        msgs(json!({"byName": {"a": [{"name": "x"}, {}, {"name": "x"}, null]}})),
        [
            r#"spec.byName.a[3]: Invalid value: "null": spec.byName.a[3] in body must be of type object: "null""#,
            r#"spec.byName[a][2]: Duplicate value: {"name":"x"}"#,
            "spec.byName[a][3]: Duplicate value: {}",
        ]
    );
    assert_eq!(
        msgs(json!({"ports": [{"port": 1}, "p"]})),
        [
            r#"spec.ports[1]: Invalid value: "string": spec.ports[1] in body must be of type object: "string""#,
            r#"spec.ports[1]: Invalid value: "p": must be an object for an array of list-type map"#,
        ]
    );
}

#[test]
fn root_metadata_only_checks_name_and_generate_name() {
    let schema = StructuralSchema::new(&json!({
        "type": "object",
        "properties": {
            "metadata": {"type": "object", "properties": {"name": {"type": "string", "pattern": "^[a-z]+$"}}},
            "spec": {"type": "object"}
        }
    }))
    .expect("compiles");
    let mut obj = json!({"metadata": {"name": "web", "labels": 5, "whatever": {"x": 1}}, "spec": {}});
    assert!(prune(&schema, &mut obj).is_empty());
    assert_eq!(obj["metadata"]["whatever"], json!({"x": 1}));
    assert_eq!(validate(&schema, &obj), ErrorList::new());
    obj["metadata"]["name"] = json!("Web1");
    assert_eq!(
        messages(&schema, &obj),
        [r#"metadata.name: Invalid value: "Web1": metadata.name in body should match '^[a-z]+$'"#]
    );
}

#[test]
fn the_example_manifest_round_trips() {
    let docs = parse_documents(include_str!("../../../../examples/manifests/16-crd.yaml")).expect("manifest");
    let crd = &docs[0].value;
    let schema = StructuralSchema::new(&crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]).expect("compiles");
    let mut cache = docs[1].value.clone();
    cache["spec"]["size"] = json!("large");
    cache["spec"].as_object_mut().expect("spec").remove("replicas");
    assert_eq!(prune(&schema, &mut cache), ["spec.size"]);
    apply_defaults(&schema, &mut cache);
    assert_eq!(cache["spec"], json!({"engine": "valkey", "replicas": 1, "memory": "2Gi"}));
    assert_eq!(validate(&schema, &cache), ErrorList::new());
    cache["spec"]["replicas"] = json!(0);
    cache["spec"]["engine"] = json!("redis");
    assert_eq!(
        messages(&schema, &cache),
        [
            r#"spec.engine: Unsupported value: "redis": supported values: "valkey", "memcached""#,
            "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1",
        ]
    );
}
