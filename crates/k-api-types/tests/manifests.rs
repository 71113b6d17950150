//! The project's manifests (`examples/manifests/`) round-trip through the typed
//! models without loss, and defaulting adds exactly the documented defaults.

use std::collections::BTreeMap;
use std::path::PathBuf;

use k_api_types::object::{Object, read_manifests};
use serde_json::Value;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/manifests")
}

/// Every manifest file, with its text.
fn manifests() -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(manifest_dir())
        .expect("examples/manifests exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 18, "expected the example manifests, found {files:?}");
    files
        .into_iter()
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
        .collect()
}

#[test]
fn every_manifest_round_trips_exactly() {
    let mut kinds = BTreeMap::new();
    for (file, text) in manifests() {
        let docs = k_api_types::manifest::parse_documents(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let objects = read_manifests(&text, true).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(docs.len(), objects.len(), "{file}");
        for (doc, obj) in docs.iter().zip(&objects) {
            let what = format!("{file} document {} ({})", doc.index, obj.object.gvk());
            *kinds.entry(obj.object.gvk().kind).or_insert(0) += 1;
            // decode → encode gives back the input exactly (the manifests are canonical).
            let encoded = obj.object.to_value().unwrap();
            let diff = leaf_diff(&doc.value, &encoded);
            assert!(diff.is_empty(), "{what}: encode(decode(input)) != input:\n{}", diff.join("\n"));
            // … and decode → encode → decode is identical.
            let again = Object::decode(&encoded).unwrap();
            assert!(again.unknown_fields.is_empty(), "{what}: {:?}", again.unknown_fields);
            assert_eq!(again.object, obj.object, "{what}: decode(encode(x)) != x");
        }
    }
    // Every built-in kind is covered by at least one manifest.
    for info in k_api_types::object::BUILTIN_RESOURCES {
        assert!(kinds.contains_key(info.kind), "no example manifest has a {}", info.kind);
    }
}

#[test]
fn example_manifests_are_valid() {
    for (file, text) in manifests() {
        for obj in read_manifests(&text, true).unwrap() {
            let mut o = obj.object.clone();
            // What the API server does on create before validating.
            if let Object::Job(job) = &mut o {
                job.metadata.uid = "0d1f2e3c-4b5a-6978-8a9b-0c1d2e3f4a5b".into();
                job.generate_selector();
            }
            o.apply_defaults();
            let errors = o.validate();
            assert!(
                errors.is_empty(),
                "{file} document {}: {:?}",
                obj.document,
                errors.iter().map(ToString::to_string).collect::<Vec<_>>()
            );
        }
    }
}

/// One row of the defaults table: kinds, field path suffix, and the value when literal.
struct DefaultRow {
    kinds: Vec<String>,
    field: String,
    value: Option<Value>,
}

/// Kinds that embed a pod template (or are pods): "pod templates" in the table.
const POD_KINDS: &[&str] = &[
    "Pod",
    "PodTemplate",
    "ReplicationController",
    "Deployment",
    "ReplicaSet",
    "DaemonSet",
    "StatefulSet",
    "Job",
    "CronJob",
];

/// Reads the table in docs/api-types/defaults.md: `| kinds | `field` | `value` or words | … |`.
fn documented_defaults() -> Vec<DefaultRow> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/api-types/defaults.md");
    let text = std::fs::read_to_string(&path).expect("docs/api-types/defaults.md exists");
    let mut rows = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("| ") && l.contains('`')) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() < 3 {
            continue;
        }
        let kinds = cells[0]
            .split(',')
            .flat_map(|k| {
                let k = k.trim();
                if k == "pod templates" {
                    POD_KINDS.iter().map(|s| (*s).to_owned()).collect()
                } else {
                    vec![k.to_owned()]
                }
            })
            .collect();
        let field = cells[1].trim_matches('`').to_owned();
        let value =
            cells[2].strip_prefix('`').and_then(|v| v.strip_suffix('`')).and_then(|v| serde_json::from_str(v).ok());
        rows.push(DefaultRow { kinds, field, value });
    }
    assert!(rows.len() > 40, "the defaults table looks empty ({} rows)", rows.len());
    rows
}

/// Leaves of a JSON value by path (`spec.containers[*].name` style, indices kept as `[i]`).
fn leaves(v: &Value, path: String, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                leaves(x, if path.is_empty() { k.clone() } else { format!("{path}.{k}") }, out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, x) in a.iter().enumerate() {
                leaves(x, format!("{path}[{i}]"), out);
            }
        }
        other => {
            out.insert(path, other.clone());
        }
    }
}

/// The leaves that differ between two values, one line each.
fn leaf_diff(input: &Value, output: &Value) -> Vec<String> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    leaves(input, String::new(), &mut a);
    leaves(output, String::new(), &mut b);
    let mut out = Vec::new();
    for (path, v) in &a {
        match b.get(path) {
            Some(w) if w == v => {}
            Some(w) => out.push(format!("  {path}: input {v}, output {w}")),
            None => out.push(format!("  {path}: input {v}, missing from output")),
        }
    }
    for (path, w) in b.iter().filter(|(p, _)| !a.contains_key(*p)) {
        out.push(format!("  {path}: added {w}"));
    }
    out
}

fn generalize(path: &str) -> String {
    let mut out = String::new();
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push_str("[*]");
            }
            ']' => in_index = false,
            _ if in_index => {}
            _ => out.push(c),
        }
    }
    out
}

/// Whether the last segments of `path` match `pattern` (segments split at `.`,
/// `*` matching any run of characters within a segment).
fn ends_with_field(path: &str, pattern: &str) -> bool {
    let path: Vec<&str> = path.split('.').collect();
    let pattern: Vec<&str> = pattern.split('.').collect();
    path.len() >= pattern.len() && path[path.len() - pattern.len()..].iter().zip(&pattern).all(|(s, p)| glob(p, s))
}

fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(text) = text.strip_prefix(head) else { return false };
            (0..=text.len()).filter(|&i| text.is_char_boundary(i)).any(|i| glob(rest, &text[i..]))
        }
    }
}

#[test]
fn defaulting_adds_exactly_the_documented_defaults() {
    let table = documented_defaults();
    let mut used = vec![false; table.len()];
    let bare = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/bare-objects.yaml"))
        .expect("tests/data/bare-objects.yaml exists");
    let mut sources = manifests();
    sources.push(("tests/data/bare-objects.yaml".to_owned(), bare));
    for (file, text) in sources {
        for obj in read_manifests(&text, true).unwrap_or_else(|e| panic!("{file}: {e}")) {
            let kind = obj.object.gvk().kind;
            let before = obj.object.to_value().unwrap();
            let mut defaulted = obj.object.clone();
            defaulted.apply_defaults();
            let after = defaulted.to_value().unwrap();
            // Idempotent.
            let mut twice = defaulted.clone();
            twice.apply_defaults();
            assert_eq!(twice, defaulted, "{file} {kind}: defaulting twice changed something");

            let (mut b, mut a) = (BTreeMap::new(), BTreeMap::new());
            leaves(&before, String::new(), &mut b);
            leaves(&after, String::new(), &mut a);
            // An empty string is an unset field (documented in defaults.md):
            // replacing it counts as adding a default.
            b.retain(|path, v| *v != Value::String(String::new()) || a.get(path) == Some(v));
            for (path, value) in &b {
                // The one removal Kubernetes' defaulting makes (documented in defaults.md).
                if kind == "Service"
                    && path.starts_with("spec.sessionAffinityConfig")
                    && after["spec"]["sessionAffinity"] == "None"
                {
                    assert!(!a.contains_key(path), "{file}: sessionAffinityConfig should be dropped");
                    continue;
                }
                assert_eq!(a.get(path), Some(value), "{file} {kind}: defaulting changed or removed {path}");
            }
            for (path, value) in a.iter().filter(|(p, _)| !b.contains_key(*p)) {
                // An empty object in the input that now has content was "added to".
                let general = generalize(path);
                let row = table.iter().position(|r| r.kinds.contains(&kind) && ends_with_field(&general, &r.field));
                let Some(i) = row else {
                    panic!(
                        "{file} {kind}: defaulting added {path} = {value}, which docs/api-types/defaults.md does not list"
                    );
                };
                used[i] = true;
                if let Some(expected) = &table[i].value {
                    assert_eq!(value, expected, "{file} {kind}: {path} defaulted to {value}, the docs say {expected}");
                }
            }
        }
    }
    let unused: Vec<_> =
        table.iter().zip(&used).filter(|(_, u)| !**u).map(|(r, _)| format!("{:?} {}", r.kinds, r.field)).collect();
    assert!(unused.is_empty(), "documented defaults that no example or bare object exercises: {unused:#?}");
}
