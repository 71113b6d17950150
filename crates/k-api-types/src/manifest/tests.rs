//! Tests of the manifest reader: YAML 1.1 scalars, streams, errors and typed decoding.

use crate::SortedMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::scalar::go_format_float32_g;
use super::*;

/// Converts `v: <scalar>` and returns the value of `v`.
fn scalar(text: &str) -> Result<Value, ManifestError> {
    yaml_to_json(&format!("v: {text}\n")).map(|doc| doc["v"].clone())
}

fn check_table(table: &[(&str, Value)]) {
    for (input, expected) in table {
        let got = scalar(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(&got, expected, "input {input:?}");
        // Guard against 1 vs 1.0 confusion: compare the JSON text too.
        assert_eq!(got.to_string(), expected.to_string(), "input {input:?}");
    }
}

#[test]
fn yaml_1_1_nulls_and_bools() {
    check_table(&[
        ("~", Value::Null),
        ("null", Value::Null),
        ("Null", Value::Null),
        ("NULL", Value::Null),
        ("", Value::Null),
        ("nULL", json!("nULL")),
        ("true", json!(true)),
        ("True", json!(true)),
        ("TRUE", json!(true)),
        ("yes", json!(true)),
        ("Yes", json!(true)),
        ("YES", json!(true)),
        ("y", json!(true)),
        ("Y", json!(true)),
        ("on", json!(true)),
        ("On", json!(true)),
        ("ON", json!(true)),
        ("false", json!(false)),
        ("False", json!(false)),
        ("FALSE", json!(false)),
        ("no", json!(false)),
        ("No", json!(false)),
        ("NO", json!(false)),
        ("n", json!(false)),
        ("N", json!(false)),
        ("off", json!(false)),
        ("Off", json!(false)),
        ("OFF", json!(false)),
        ("tRUE", json!("tRUE")),
        ("yEs", json!("yEs")),
        ("oN", json!("oN")),
        ("yess", json!("yess")),
    ]);
}

#[test]
fn yaml_1_1_integers() {
    check_table(&[
        ("12", json!(12)),
        ("+5", json!(5)),
        ("-5", json!(-5)),
        ("0", json!(0)),
        ("-0", json!(0)),
        ("1_000", json!(1000)),
        ("1__0_", json!(10)),
        ("0x1F", json!(31)),
        ("0X1f", json!(31)),
        ("-0x1F", json!(-31)),
        ("0o400", json!(256)),
        ("0O17", json!(15)),
        ("0400", json!(256)),
        ("-0400", json!(-256)),
        ("00", json!(0)),
        ("0b101", json!(5)),
        ("-0b101", json!(-5)),
        ("9223372036854775807", json!(i64::MAX)),
        ("-9223372036854775808", json!(i64::MIN)),
        ("9223372036854775808", json!(9_223_372_036_854_775_808_u64)),
        ("18446744073709551615", json!(u64::MAX)),
        ("0xFFFFFFFFFFFFFFFF", json!(u64::MAX)),
        // Beyond u64: decimal becomes a float, other bases stay strings.
        ("99999999999999999999", json!(1e20)),
        ("0x1FFFFFFFFFFFFFFFF", json!("0x1FFFFFFFFFFFFFFFF")),
        ("+9223372036854775808", json!(9_223_372_036_854_775_808_u64)),
        // Not valid octal: go-yaml parses a decimal float, printed as an integer.
        ("080", json!(80)),
        ("09", json!(9)),
        ("09.5", json!(9.5)),
        ("0x", json!("0x")),
        ("0b2", json!("0b2")),
        ("12abc", json!("12abc")),
        ("+", json!("+")),
        ("-x", json!("-x")),
    ]);
}

#[test]
fn yaml_1_1_floats_and_strings() {
    check_table(&[
        ("1.5", json!(1.5)),
        (".5", json!(0.5)),
        ("-.5", json!(-0.5)),
        ("+1.5", json!(1.5)),
        ("1.10", json!(1.1)),
        ("1.", json!(1)),
        ("1.0", json!(1)),
        ("1e3", json!(1000)),
        ("1.5E3", json!(1500)),
        ("1e-3", json!(0.001)),
        ("1_000.5", json!(1000.5)),
        (".5_5", json!(0.55)),
        ("1e21", json!(1e21)),
        ("1e400", json!("1e400")),
        ("._5", json!("._5")),
        (".", json!(".")),
        ("1e", json!("1e")),
        ("1.2.3", json!("1.2.3")),
        ("-.nan", json!("-.nan")),
        (".iNf", json!(".iNf")),
        ("2001-12-14", json!("2001-12-14")),
        ("2001-12-14T21:59:43.10-05:00", json!("2001-12-14T21:59:43.10-05:00")),
        ("<<", json!("<<")),
        ("hello world", json!("hello world")),
        ("'0400'", json!("0400")),
        ("\"0400\"", json!("0400")),
        ("'yes'", json!("yes")),
        ("\"~\"", json!("~")),
        ("''", json!("")),
        ("\"1.10\"", json!("1.10")),
        ("|\n  0400\n", json!("0400\n")),
        (">-\n  yes\n  no\n", json!("yes no")),
    ]);
}

#[test]
fn infinity_and_nan_are_errors() {
    for (input, shown) in
        [(".inf", ".inf"), ("+.INF", ".inf"), ("-.Inf", "-.inf"), (".NaN", ".nan"), ("!!float .inf", ".inf")]
    {
        let err = scalar(input).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("document 0 (line 1): float value {shown} cannot be represented in JSON"),
            "input {input:?}"
        );
        assert_eq!((err.document(), err.line(), err.column()), (0, 1, 4));
    }
    let err = parse_documents("a: 1\n---\nkind: Pod\nspec:\n  ratio: .nan\n").unwrap_err();
    assert_eq!(err.to_string(), "document 1 (line 5): float value .nan cannot be represented in JSON");
}

#[test]
fn tags() {
    check_table(&[
        ("!!str 0400", json!("0400")),
        ("!!str yes", json!("yes")),
        ("!!str", json!("")),
        ("!!int \"12\"", json!(12)),
        ("!!int '0x10'", json!(16)),
        ("!!float 1", json!(1)),
        ("!!float '2.5'", json!(2.5)),
        ("!!bool yes", json!(true)),
        ("!!bool 'off'", json!(false)),
        ("!!null ~", Value::Null),
        ("!!null ''", Value::Null),
        ("!!binary aGVsbG8=", json!("hello")),
        ("!!binary |\n  aGVs\n  bG8=\n", json!("hello")),
        ("!!timestamp 2001-12-14", json!("2001-12-14")),
        ("!<tag:yaml.org,2002:int> '7'", json!(7)),
        ("!custom 12", json!("12")),
        ("! 12", json!("12")),
        ("!!map 12", json!("12")),
    ]);
    for (input, message) in [
        ("!!int abc", "cannot decode !!str `abc` as a !!int"),
        ("!!int 1.5", "cannot decode !!float `1.5` as a !!int"),
        ("!!bool 1", "cannot decode !!int `1` as a !!bool"),
        ("!!null x", "cannot decode !!str `x` as a !!null"),
        ("!!float yes", "cannot decode !!bool `yes` as a !!float"),
        ("!!binary '***'", "!!binary value contains invalid base64 data"),
    ] {
        let err = scalar(input).unwrap_err();
        assert_eq!(err.message(), message, "input {input:?}");
        assert_eq!(err.to_string(), format!("document 0 (line 1): {message}"));
    }
}

#[test]
fn non_string_keys_become_strings() {
    let value = yaml_to_json(
        "on: yes\n1: x\n0x10: hex\n0400: octal\n1.5: f\n2.0: two\n1e6: big\n0.00001: small\n\
         3.14159265358979: pi\n.inf: inf\n-.inf: ninf\n.nan: nan\n\"off\": quoted\nN: n\n",
    )
    .unwrap();
    assert_eq!(
        value,
        json!({
            "true": true, "1": "x", "16": "hex", "256": "octal", "1.5": "f", "2": "two",
            "1e+06": "big", "1e-05": "small", "3.1415927": "pi", ".inf": "inf",
            "-.inf": "ninf", ".nan": "nan", "off": "quoted", "false": false,
        })
    );
    // `true:` after `on:` is a duplicate once converted (both are the key "true").
    let err = yaml_to_json("on: yes\ntrue: t\n").unwrap_err();
    assert_eq!(err.to_string(), "document 0 (line 2): mapping key \"true\" already defined at line 1");
    let err = yaml_to_json("1.0: a\n1: b\n").unwrap_err();
    assert_eq!(err.message(), "mapping key \"1\" already defined at line 1");
    let err = yaml_to_json("a: 1\n~: x\n").unwrap_err();
    assert_eq!(err.to_string(), "document 0 (line 2): unsupported map key: null");
    let err = yaml_to_json("? {a: 1}\n: x\n").unwrap_err();
    assert_eq!(err.message(), "invalid map key: a mapping cannot be a key");
}

#[test]
fn go_float_key_formatting() {
    for (f, expected) in [
        (1.5, "1.5"),
        (1.0, "1"),
        (-2.0, "-2"),
        (100_000.0, "100000"),
        (1_000_000.0, "1e+06"),
        (1_234_567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.000_012_5, "1.25e-05"),
        (1.1, "1.1"),
        (-0.0, "-0"),
        (1e40, ".inf"),
        (1e-100, "0"),
    ] {
        assert_eq!(go_format_float32_g(f), expected, "{f}");
    }
}

#[test]
fn multi_document_stream_with_lines() {
    let text = "\
# leading comment
---
apiVersion: v1
kind: ConfigMap
data:
  mode: 0400
---
# a document of comments only
---

---
# comment before content
kind: Secret
...
---
- 1
- 2
...
";
    let docs = parse_documents(text).unwrap();
    let summary: Vec<(usize, Option<usize>, usize)> = docs.iter().map(|d| (d.index, d.item, d.line)).collect();
    assert_eq!(summary, vec![(0, None, 3), (3, None, 13), (4, None, 16)]);
    assert_eq!(docs[0].value, json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"mode": 256}}));
    assert_eq!(docs[1].value, json!({"kind": "Secret"}));
    assert_eq!(docs[2].value, json!([1, 2]));

    // No leading `---`, trailing empty document, explicit null document kept.
    let docs = parse_documents("a: 1\n---\n~\n---\nb: 2\n---\n").unwrap();
    let summary: Vec<(usize, usize, Value)> = docs.into_iter().map(|d| (d.index, d.line, d.value)).collect();
    assert_eq!(summary, vec![(0, 1, json!({"a": 1})), (1, 3, Value::Null), (2, 5, json!({"b": 2}))]);

    // Byte-order mark, CRLF line ends.
    let docs = parse_documents("\u{feff}a: 1\r\n---\r\nb: yes\r\n").unwrap();
    assert_eq!(
        docs.iter().map(|d| (d.line, d.value.clone())).collect::<Vec<_>>(),
        vec![(1, json!({"a": 1})), (3, json!({"b": true}))]
    );

    for empty in ["", "\n\n", "# only a comment\n", "---\n", "---\n# c\n---\n...\n"] {
        assert_eq!(parse_documents(empty).unwrap(), Vec::new(), "input {empty:?}");
    }
}

#[test]
fn anchors_aliases_and_merge_keys() {
    let text = "\
base: &base
  image: nginx
  ports: &ports [80, 443]
a:
  <<: *base
  image: custom
b:
  name: b
  <<: [*base, {extra: 1, image: other}]
c: *ports
d: &mode 0400
e: *mode
f:
  image: explicit-first
  <<: *base
g:
  \"<<\": literal
h:
  !!merge <<: {m: 1}
i: &k key
*k : aliased-key
";
    assert_eq!(
        yaml_to_json(text).unwrap(),
        json!({
            "base": {"image": "nginx", "ports": [80, 443]},
            "a": {"image": "custom", "ports": [80, 443]},
            "b": {"name": "b", "image": "nginx", "ports": [80, 443], "extra": 1},
            "c": [80, 443],
            "d": 256,
            "e": 256,
            "f": {"image": "explicit-first", "ports": [80, 443]},
            "g": {"<<": "literal"},
            "h": {"m": 1},
            "i": "key",
            "key": "aliased-key",
        })
    );

    let err = yaml_to_json("a: 1\nb:\n  <<: 5\n").unwrap_err();
    assert_eq!(err.to_string(), "document 0 (line 3): map merge requires map or sequence of maps as the value");
    let err = yaml_to_json("b:\n  <<: [{a: 1}, 2]\n").unwrap_err();
    assert_eq!(err.message(), "map merge requires map or sequence of maps as the value");
    // A merged key never clashes with an explicit one, but two explicit ones do.
    let err = yaml_to_json("x: &x {a: 1}\ny:\n  <<: *x\n  a: 2\n  a: 3\n").unwrap_err();
    assert_eq!(err.to_string(), "document 0 (line 5): mapping key \"a\" already defined at line 4");
    let err = yaml_to_json("a: *nope\n").unwrap_err();
    assert_eq!((err.document(), err.line()), (0, 1));
}

#[test]
fn excessive_aliasing_and_nesting_are_errors() {
    let mut lines = vec!["a: &a [x, x, x, x, x, x, x, x, x, x]".to_owned()];
    for (name, prev) in ["b", "c", "d", "e", "f", "g", "h"].iter().zip(["a", "b", "c", "d", "e", "f", "g"]) {
        let refs = vec![format!("*{prev}"); 10].join(", ");
        lines.push(format!("{name}: &{name} [{refs}]"));
    }
    let text = lines.join("\n");
    let err = yaml_to_json(&text).unwrap_err();
    assert_eq!(err.message(), "document contains excessive aliasing");

    // Block sequences nest without limit in the parser (flow collections stop at 255).
    let deep = format!("{}x\n", "- ".repeat(1001));
    let err = yaml_to_json(&deep).unwrap_err();
    assert_eq!(err.message(), "document nesting exceeds 1000 levels");
    let ok = format!("{}x\n", "- ".repeat(1000));
    assert!(yaml_to_json(&ok).is_ok());
    let err = yaml_to_json(&format!("a: {}\n", "[".repeat(300))).unwrap_err();
    assert_eq!(err.message(), "recursion limit exceeded");
}

#[test]
fn duplicate_key_error_names_document_and_lines() {
    let text = "kind: A\n---\n# second\nmetadata:\n  name: x\n  labels: {}\n  name: y\n";
    let err = parse_documents(text).unwrap_err();
    assert_eq!(err.to_string(), "document 1 (line 7): mapping key \"name\" already defined at line 5");
    assert_eq!((err.document(), err.line(), err.column()), (1, 7, 3));
    // Keys of different mappings never clash.
    assert!(yaml_to_json("a: {name: 1}\nb: {name: 2}\n").is_ok());
}

#[test]
fn syntax_errors_name_document_and_line() {
    let text = "kind: A\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   labels: y\n";
    let err = parse_documents(text).unwrap_err();
    assert_eq!(err.to_string(), "document 1 (line 7): mapping values are not allowed in this context");
    assert_eq!(err.column(), 10);

    let err = parse_documents("a:\n  - b\n  -c: 1\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "document 0 (line 3): while parsing a block collection, did not find expected '-' indicator"
    );
    let err = yaml_to_json("key: \"unterminated\n").unwrap_err();
    assert_eq!((err.document(), err.line()), (0, 1));
}

#[test]
fn yaml_to_json_wants_exactly_one_document() {
    assert_eq!(yaml_to_json("---\na: 1\n---\n# trailing\n").unwrap(), json!({"a": 1}));
    assert_eq!(yaml_to_json("{\"a\": [1, \"x\"]}").unwrap(), json!({"a": [1, "x"]}));
    let err = yaml_to_json("# nothing\n").unwrap_err();
    assert_eq!(err.to_string(), "document 0 (line 1): expected a YAML document, found none");
    let err = yaml_to_json("a: 1\n---\n---\nb: 2\n").unwrap_err();
    assert_eq!(err.to_string(), "document 2 (line 4): expected a single YAML document, found another one");
    // Lists are not expanded.
    assert_eq!(yaml_to_json("kind: List\nitems: []\n").unwrap(), json!({"kind": "List", "items": []}));
}

#[test]
fn json_input() {
    let docs = parse_documents("  {\"kind\": \"Pod\", \"spec\": {\"n\": 1.0}}\n").unwrap();
    assert_eq!(
        docs,
        vec![Document { index: 0, item: None, line: 1, value: json!({"kind": "Pod", "spec": {"n": 1.0}}) }]
    );

    let docs = parse_documents("{\"kind\": \"A\"}\n\n{\n  \"kind\": \"B\"\n}{\"kind\": \"C\"}").unwrap();
    let summary: Vec<(usize, usize, Value)> = docs.into_iter().map(|d| (d.index, d.line, d.value)).collect();
    assert_eq!(
        summary,
        vec![(0, 1, json!({"kind": "A"})), (1, 3, json!({"kind": "B"})), (2, 5, json!({"kind": "C"})),]
    );

    let err = parse_documents("{\"kind\": \"A\"}\n{\"kind\": \"B\",\n \"x\": ]}").unwrap_err();
    assert_eq!(err.to_string(), "document 1 (line 3): invalid JSON: expected value");
    assert_eq!(err.column(), 7);
    // kubectl sniffs `{` as JSON, so a YAML flow mapping at the start is invalid JSON.
    let err = parse_documents("{a: 1}").unwrap_err();
    assert_eq!(err.to_string(), "document 0 (line 1): invalid JSON: key must be a string");
}

#[test]
fn list_kinds_are_expanded() {
    let json_list = r#"{"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b"}}
    ]}"#;
    let docs = parse_documents(json_list).unwrap();
    assert_eq!(
        docs,
        vec![
            Document {
                index: 0,
                item: Some(0),
                line: 1,
                value: json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}),
            },
            Document {
                index: 0,
                item: Some(1),
                line: 1,
                value: json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b"}}),
            },
        ]
    );

    let yaml = "\
kind: Namespace
metadata: {name: ns}
---
apiVersion: v1
kind: PodList
items:
- metadata: {name: p1}
- apiVersion: v1
  kind: Pod
  metadata: {name: p2}
---
kind: List
---
kind: ConfigMapList
---
kind: List
items: []
";
    let docs = parse_documents(yaml).unwrap();
    let summary: Vec<(usize, Option<usize>, usize, Value)> =
        docs.into_iter().map(|d| (d.index, d.item, d.line, d.value)).collect();
    assert_eq!(
        summary,
        vec![
            (0, None, 1, json!({"kind": "Namespace", "metadata": {"name": "ns"}})),
            (1, Some(0), 4, json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1"}})),
            (1, Some(1), 4, json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p2"}})),
            (3, None, 14, json!({"kind": "ConfigMapList"})),
        ]
    );
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct TestPod {
    api_version: String,
    kind: String,
    metadata: TestMeta,
    spec: Option<TestSpec>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct TestMeta {
    name: String,
    #[serde(default)]
    labels: SortedMap<String, String>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct TestSpec {
    containers: Vec<TestContainer>,
    restart_policy: Option<String>,
    default_mode: Option<i32>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct TestContainer {
    name: String,
    image_pull_policy: Option<String>,
    #[serde(default)]
    ports: Vec<TestPort>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct TestPort {
    container_port: i32,
    protocol: Option<String>,
}

const POD: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  defaultMode: 0400
  restartPolicy: Always
  containers:
  - name: nginx
    imagePullPolicyy: Always
    ports:
    - containerPort: 080
    - containerPort: 443.0
      protocol: TCP
  foo: bar
";

#[test]
fn decode_collects_unknown_fields() {
    let value = yaml_to_json(POD).unwrap();
    let decoded: Decoded<TestPod> = decode(&value).unwrap();
    assert_eq!(
        decoded.object,
        TestPod {
            api_version: "v1".into(),
            kind: "Pod".into(),
            metadata: TestMeta { name: "web".into(), labels: SortedMap::from([("app".to_owned(), "web".to_owned())]) },
            spec: Some(TestSpec {
                containers: vec![TestContainer {
                    name: "nginx".into(),
                    image_pull_policy: None,
                    ports: vec![
                        TestPort { container_port: 80, protocol: None },
                        TestPort { container_port: 443, protocol: Some("TCP".into()) },
                    ],
                }],
                restart_policy: Some("Always".into()),
                default_mode: Some(256),
            }),
        }
    );
    assert_eq!(decoded.unknown_fields, vec!["spec.containers[0].imagePullPolicyy", "spec.foo"]);

    let err = decode_strict::<TestPod>(&value).unwrap_err();
    assert_eq!(
        err.to_string(),
        "strict decoding error: unknown field \"spec.containers[0].imagePullPolicyy\", unknown field \"spec.foo\""
    );
    assert_eq!(err.path(), "spec.containers[0].imagePullPolicyy");
    assert_eq!(err.unknown_fields(), ["spec.containers[0].imagePullPolicyy", "spec.foo"]);

    let clean = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}});
    let pod: TestPod = decode_strict(&clean).unwrap();
    assert_eq!((pod.metadata.name.as_str(), pod.spec), ("x", None));
}

#[test]
fn decode_reports_field_path_of_type_errors() {
    let mut value = yaml_to_json(POD).unwrap();
    value["spec"]["containers"][0]["ports"][1]["containerPort"] = json!("eighty");
    let err = decode::<TestPod>(&value).unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec.containers[0].ports[1].containerPort: invalid type: string \"eighty\", expected i32"
    );
    assert_eq!(err.path(), "spec.containers[0].ports[1].containerPort");
    assert_eq!(
        err,
        DecodeError::Invalid {
            path: "spec.containers[0].ports[1].containerPort".into(),
            message: "invalid type: string \"eighty\", expected i32".into(),
        }
    );
    // decode_strict reports the type error, not the unknown fields.
    assert_eq!(decode_strict::<TestPod>(&value).unwrap_err(), err);

    let value = yaml_to_json("apiVersion: 1.10\nkind: Pod\nmetadata: {name: x}\n").unwrap();
    let err = decode::<TestPod>(&value).unwrap_err();
    assert_eq!(err.to_string(), "apiVersion: invalid type: floating point `1.1`, expected a string");

    let err = decode::<TestPod>(&json!({"apiVersion": "v1", "kind": "Pod", "metadata": {}})).unwrap_err();
    assert_eq!(err.to_string(), "metadata: missing field `name`");

    let err = decode::<TestPod>(&json!("pod")).unwrap_err();
    assert_eq!(err.path(), "");
    assert_eq!(err.to_string(), "invalid type: string \"pod\", expected struct TestPod");
    assert!(err.unknown_fields().is_empty());
}
