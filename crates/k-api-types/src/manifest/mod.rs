//! Reading Kubernetes manifests.
//!
//! Kubernetes (kubectl and the API server) reads YAML through `sigs.k8s.io/yaml`, which
//! parses it with go-yaml v2 — a **YAML 1.1** parser — into Go values and re-encodes those
//! as JSON before decoding into typed objects. This module does the same in Rust:
//!
//! 1. [`parse_documents`] / [`yaml_to_json`] turn YAML (or JSON) text into
//!    [`serde_json::Value`]s, resolving plain scalars with the YAML 1.1 rules go-yaml v2 uses;
//! 2. [`decode`] / [`decode_strict`] turn a value into a typed object, reporting the
//!    Kubernetes-style field path (`spec.containers[0].ports[1].containerPort`) of a type
//!    error and of every unknown field.
//!
//! # Scalar resolution
//!
//! Quoted (`'…'`, `"…"`) and block (`|`, `>`) scalars are always strings. Plain (unquoted)
//! scalars resolve as go-yaml v2 resolves them:
//!
//! | plain scalar | JSON |
//! |---|---|
//! | empty, `~`, `null`, `Null`, `NULL` | `null` |
//! | `true` `True` `TRUE` `yes` `Yes` `YES` `y` `Y` `on` `On` `ON` | `true` |
//! | `false` `False` `FALSE` `no` `No` `NO` `n` `N` `off` `Off` `OFF` | `false` |
//! | `12`, `+12`, `-12`, `1_000` | integer (underscores are dropped first) |
//! | `0x1F` / `0X1F`, `0o17` / `0O17`, `0b101` / `0B101` (signs allowed) | integer |
//! | `0400` — a leading `0` means octal, as in YAML 1.1 | `256` |
//! | `1.5`, `.5`, `-.5`, `1.`, `1e3`, `1_000.5` | number |
//! | `.inf`, `+.inf`, `-.inf`, `.nan` (and `.Inf`/`.INF`/`.NaN`/`.NAN`) | error: JSON has no infinity or NaN |
//! | anything else (`2024-01-01`, `1.2.3`, `0x`, `+`, `12abc`, …) | string |
//!
//! Mixed-case words other than those listed (`tRUE`, `yES`, `oN`) are strings, as in go-yaml.
//!
//! Numeric details, each following go-yaml v2 (`strconv.ParseInt(s, 0, 64)`, then
//! `ParseUint`, then `ParseFloat` guarded by the YAML float pattern):
//!
//! * Integers that fit `i64` are `i64`; larger positive ones that fit `u64` are `u64`.
//!   Decimal integers beyond `u64` become floats (`99999999999999999999` → `1e20`); hex,
//!   octal or binary ones beyond `u64` stay strings.
//! * A leading-zero number that is not valid octal is read as a *decimal float*:
//!   `080` → `80`, `09.5` → `9.5` (go-yaml: `ParseInt` fails, the float pattern matches).
//! * Floats are written to JSON the way Go's `encoding/json` would print them, so a float
//!   with an integral value (`1.0`, `1e3`, `080`) becomes a JSON *integer* when it fits in
//!   `i64`/`u64` — `replicas: 1.0` decodes into an `i32`, as it does in Kubernetes — while
//!   `version: 1.10` is the float `1.1`.
//! * A float too large for `f64` (`1e400`) stays a string (Go's `ParseFloat` fails).
//!
//! Timestamps (`2001-12-14T21:59:43Z`) stay strings, as go-yaml v2 does when decoding into
//! an untyped value.
//!
//! # Tags
//!
//! `!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!binary` and `!!timestamp` are
//! honoured on any scalar (quoted or not): `!!str 0400` is `"0400"`, `!!int "12"` is `12`,
//! `!!float 1` is `1.0`; a value that does not fit its tag is an error
//! (``cannot decode !!str `abc` as a !!int``). `!!binary` base64-decodes its content into a
//! (lossily UTF-8) string, like go-yaml. Other tags (`!custom`, `!!map` on a scalar, …) are
//! ignored and the scalar is a string; tags on collections are ignored.
//!
//! # Mappings
//!
//! * Anchors and aliases (`&a`, `*a`) are expanded; an expansion exceeding one million
//!   aliased nodes is an error (protection against "billion laughs" documents).
//! * Merge keys (`<<: *base`, `<<: [*a, *b]`, `<<: {inline: map}`) follow the YAML merge
//!   spec: keys written in the mapping win over merged ones wherever they appear, and among
//!   merged maps the earlier one wins.
//! * Keys are converted to strings as `sigs.k8s.io/yaml` does: `1: x` → `"1"`,
//!   `0x10: x` → `"16"`, `true: x` and `on: x` → `"true"`, floats via Go's
//!   `FormatFloat(f, 'g', -1, 32)` (`1.5` → `"1.5"`, `1e6` → `"1e+06"`). A `null` key, or a
//!   mapping or sequence as a key, is an error.
//! * A key defined twice in one mapping (after that conversion, so `1:` and `"1":` clash) is
//!   an error: `mapping key "x" already defined at line 3`. (go-yaml v2 reports duplicates in
//!   strict mode, which `kubectl` and the API server's strict field validation use.)
//! * Nesting deeper than 1000 collections is an error.
//!
//! # Streams
//!
//! [`parse_documents`] reads multi-document YAML or a stream of JSON values, skips empty
//! documents and expands `List` kinds; see its documentation.

mod decode;
mod scalar;
mod yaml;

#[cfg(test)]
mod tests;

pub use decode::{DecodeError, Decoded, decode, decode_strict};

use serde_json::{Map, Value};

/// One document of a manifest stream, as returned by [`parse_documents`].
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// 0-based position of the source document in the stream.
    ///
    /// Every YAML document counts, including the empty ones [`parse_documents`] skips, so
    /// the number matches the `document N` of a [`ManifestError`] and what a reader counts
    /// between `---` separators. For JSON input it is the position of the value in the
    /// stream. The items of an expanded list all share the list's index.
    pub index: usize,
    /// `Some(i)` when this document is item `i` (0-based) of an expanded `List` document;
    /// `None` for a document that stands for itself.
    pub item: Option<usize>,
    /// 1-based line where the document's content starts (its first node, after any `---`
    /// and comments). Items of an expanded list carry the line of the list.
    pub line: usize,
    /// The document converted to JSON.
    pub value: Value,
}

/// An error reading a manifest: a YAML syntax error, a value JSON cannot hold, a duplicate
/// key, invalid JSON, or a wrong document count.
///
/// Displays as `document 2 (line 14): mapping key "name" already defined at line 12`,
/// where the document number is the 0-based [`Document::index`] of the failing document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("document {document} (line {line}): {message}")]
pub struct ManifestError {
    document: usize,
    line: usize,
    column: usize,
    message: String,
}

impl ManifestError {
    /// Builds an error; `line` and `column` are 1-based.
    pub(crate) fn new(document: usize, line: usize, column: usize, message: impl Into<String>) -> Self {
        Self { document, line, column, message: message.into() }
    }

    /// 0-based index of the document in the stream where the error occurred.
    #[must_use]
    pub fn document(&self) -> usize {
        self.document
    }

    /// 1-based line of the error in the input text.
    #[must_use]
    pub fn line(&self) -> usize {
        self.line
    }

    /// 1-based column (in characters) of the error in the input text.
    #[must_use]
    pub fn column(&self) -> usize {
        self.column
    }

    /// The error message, without the document and line prefix.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Splits a manifest stream into documents, converting each to JSON.
///
/// * Input whose first non-whitespace character (after an optional byte-order mark) is `{`
///   or `[` is read as JSON, as kubectl sniffs it: one value or several concatenated values
///   (`{…}{…}` or whitespace separated). A YAML flow mapping at the very start is therefore
///   read as JSON too, exactly as kubectl does.
/// * Anything else is multi-document YAML 1.1 (see the [module documentation](self)):
///   `---` separators, an optional leading `---`, comments, `...` document ends.
/// * Empty documents (only comments, whitespace or `---`) are skipped, as kubectl skips
///   them. A document that is explicitly `null` (`~`, `null`) is kept as a `null` value.
/// * A top-level object whose `kind` ends in `List` and that has an `items` array
///   (kubectl's `v1 List`, or `PodList` and the like) is replaced by its items, each its own
///   [`Document`] with the list's index and line and `item: Some(i)`. A `kind: List` without
///   `items` yields no document. An item of a typed list (`PodList`) that has no `kind`
///   gets the list kind without the `List` suffix, and the list's `apiVersion` if it has
///   none, as the API server omits them in list responses. Items are not expanded further.
///
/// # Errors
/// A [`ManifestError`] naming the document and line of the first syntax error, duplicate
/// key, infinite/NaN number, invalid tag content or invalid JSON.
///
/// # Examples
/// ```
/// use k_api_types::manifest::parse_documents;
///
/// let docs = parse_documents("# pods\n---\nkind: Pod\n---\nkind: Service\nspec:\n  port: 0x50\n")?;
/// assert_eq!(docs.len(), 2);
/// assert_eq!((docs[0].index, docs[0].line), (0, 3));
/// assert_eq!(docs[1].value["spec"]["port"], 80);
/// # Ok::<(), k_api_types::manifest::ManifestError>(())
/// ```
pub fn parse_documents(text: &str) -> Result<Vec<Document>, ManifestError> {
    let text = strip_bom(text);
    let mut out = Vec::new();
    if looks_like_json(text) {
        for (index, line, value) in json_stream(text)? {
            expand_list(index, line, value, &mut out);
        }
    } else {
        for raw in yaml::parse_stream(text)? {
            if let Some(value) = raw.value {
                expand_list(raw.index, raw.line, value, &mut out);
            }
        }
    }
    Ok(out)
}

/// Converts exactly one YAML document to JSON, with the YAML 1.1 rules of the
/// [module documentation](self). Lists are not expanded; since JSON is YAML, JSON text is
/// accepted too.
///
/// # Errors
/// A [`ManifestError`] for invalid YAML (see [`parse_documents`]), for a stream with no
/// document (empty or only comments), or with more than one non-empty document.
///
/// # Examples
/// ```
/// use k_api_types::manifest::yaml_to_json;
///
/// let value = yaml_to_json("defaultMode: 0400\nenabled: yes\nversion: \"1.10\"\n")?;
/// assert_eq!(value, serde_json::json!({"defaultMode": 256, "enabled": true, "version": "1.10"}));
/// # Ok::<(), k_api_types::manifest::ManifestError>(())
/// ```
pub fn yaml_to_json(text: &str) -> Result<Value, ManifestError> {
    let mut found: Option<(usize, Value)> = None;
    for raw in yaml::parse_stream(strip_bom(text))? {
        let Some(value) = raw.value else { continue };
        if found.is_some() {
            return Err(ManifestError::new(
                raw.index,
                raw.line,
                1,
                "expected a single YAML document, found another one",
            ));
        }
        found = Some((raw.index, value));
    }
    match found {
        Some((_, value)) => Ok(value),
        None => Err(ManifestError::new(0, 1, 1, "expected a YAML document, found none")),
    }
}

fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// kubectl's sniffing rule: JSON when the first non-whitespace byte opens an object or array.
fn looks_like_json(text: &str) -> bool {
    matches!(text.trim_start_matches([' ', '\t', '\r', '\n']).as_bytes().first(), Some(b'{' | b'['))
}

/// Reads a stream of concatenated JSON values: `(index, line, value)` for each.
fn json_stream(text: &str) -> Result<Vec<(usize, usize, Value)>, ManifestError> {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut out = Vec::new();
    let (mut counted_to, mut line) = (0usize, 1usize);
    loop {
        let offset = stream.byte_offset();
        let start = text
            .get(offset..)
            .and_then(|rest| rest.find(|c: char| !matches!(c, ' ' | '\t' | '\r' | '\n')))
            .map_or(text.len(), |skip| offset + skip);
        if let Some(between) = text.get(counted_to..start) {
            line += between.matches('\n').count();
        }
        counted_to = start;
        match stream.next() {
            None => return Ok(out),
            Some(Ok(value)) => out.push((out.len(), line, value)),
            Some(Err(error)) => {
                let full = error.to_string();
                let position = format!(" at line {} column {}", error.line(), error.column());
                let message = full.strip_suffix(&position).unwrap_or(&full);
                return Err(ManifestError::new(
                    out.len(),
                    error.line(),
                    error.column().max(1),
                    format!("invalid JSON: {message}"),
                ));
            }
        }
    }
}

/// Pushes `value` as one document, or its items when it is a list kind.
fn expand_list(index: usize, line: usize, value: Value, out: &mut Vec<Document>) {
    let Value::Object(mut list) = value else {
        out.push(Document { index, item: None, line, value });
        return;
    };
    let kind = match list.get("kind") {
        Some(Value::String(kind)) if kind.ends_with("List") => kind.clone(),
        _ => {
            out.push(Document { index, item: None, line, value: Value::Object(list) });
            return;
        }
    };
    let items = match list.remove("items") {
        Some(Value::Array(items)) => items,
        Some(Value::Null) | None if kind == "List" => Vec::new(),
        other => {
            if let Some(items) = other {
                list.insert("items".to_owned(), items);
            }
            out.push(Document { index, item: None, line, value: Value::Object(list) });
            return;
        }
    };
    let item_kind = kind.strip_suffix("List").filter(|k| !k.is_empty());
    let api_version = list.get("apiVersion").cloned();
    for (i, mut item) in items.into_iter().enumerate() {
        if let (Some(item_kind), Value::Object(fields)) = (item_kind, &mut item) {
            fill_missing(fields, "kind", Value::String(item_kind.to_owned()));
            if let Some(api_version) = &api_version {
                fill_missing(fields, "apiVersion", api_version.clone());
            }
        }
        out.push(Document { index, item: Some(i), line, value: item });
    }
}

fn fill_missing(fields: &mut Map<String, Value>, key: &str, value: Value) {
    if matches!(fields.get(key), None | Some(Value::Null)) {
        fields.insert(key.to_owned(), value);
    }
}
