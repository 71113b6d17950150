//! YAML event stream (saphyr-parser) to JSON values, one per document.

use std::collections::HashMap;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Span, Tag};
use serde_json::{Map, Value};

use super::ManifestError;
use super::scalar::{self, Scalar};

/// Deepest collection nesting accepted in a document.
const MAX_DEPTH: usize = 1000;
/// Most nodes that alias expansion may copy in one document.
const MAX_ALIASED_NODES: usize = 1_000_000;
/// The YAML core schema tag prefix (`!!`).
const CORE_PREFIX: &str = "tag:yaml.org,2002:";

/// One document of a YAML stream; `value` is `None` for an empty document.
#[derive(Debug)]
pub(crate) struct RawDocument {
    pub(crate) index: usize,
    pub(crate) line: usize,
    pub(crate) value: Option<Value>,
}

/// Parses every document of a YAML stream.
pub(crate) fn parse_stream(text: &str) -> Result<Vec<RawDocument>, ManifestError> {
    let mut parser = Parser::new_from_str(text);
    let mut documents = Vec::new();
    let mut current: Option<DocumentBuilder> = None;
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|error| {
            let mark = error.marker();
            ManifestError::new(documents.len(), mark.line(), mark.col() + 1, error.info())
        })?;
        match event {
            Event::DocumentStart(_) => current = Some(DocumentBuilder::new(documents.len())),
            Event::DocumentEnd => {
                if let Some(builder) = current.take() {
                    documents.push(builder.finish());
                }
            }
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
            event => {
                let builder = current.get_or_insert_with(|| DocumentBuilder::new(documents.len()));
                builder.event(event, span)?;
            }
        }
    }
    if let Some(builder) = current.take() {
        documents.push(builder.finish());
    }
    Ok(documents)
}

/// A node before it is placed in its parent: scalars stay unresolved to JSON until we
/// know whether they are keys (keys and values convert differently).
#[derive(Debug, Clone)]
enum Node {
    Scalar(Scalar),
    Value(Value),
}

/// A finished node with what its parent needs to know about it.
#[derive(Debug)]
struct Finished {
    node: Node,
    /// An untagged plain `<<`, i.e. a merge key when in key position.
    merge: bool,
    /// An untagged, unanchored empty plain scalar (an empty document when at the root).
    empty: bool,
    mark: Marker,
}

/// A key waiting for its value.
#[derive(Debug)]
enum PendingKey {
    Named(String),
    Merge(Marker),
}

/// A collection under construction.
#[derive(Debug)]
enum Frame {
    Seq {
        anchor: usize,
        mark: Marker,
        items: Vec<Value>,
    },
    Map {
        anchor: usize,
        mark: Marker,
        map: Map<String, Value>,
        /// Line of each explicitly written key, for duplicate errors.
        key_lines: HashMap<String, usize>,
        key: Option<PendingKey>,
        /// Maps to merge in, highest precedence first.
        merges: Vec<Map<String, Value>>,
    },
}

/// Builds one document from its events.
#[derive(Debug)]
struct DocumentBuilder {
    index: usize,
    line: usize,
    stack: Vec<Frame>,
    /// Anchor id → node and its node count.
    anchors: HashMap<usize, (Node, usize)>,
    aliased: usize,
    root: Option<Value>,
    empty: bool,
}

impl DocumentBuilder {
    fn new(index: usize) -> Self {
        Self { index, line: 1, stack: Vec::new(), anchors: HashMap::new(), aliased: 0, root: None, empty: true }
    }

    fn finish(self) -> RawDocument {
        let value = if self.empty { None } else { self.root };
        RawDocument { index: self.index, line: self.line, value }
    }

    fn error(&self, mark: Marker, message: impl Into<String>) -> ManifestError {
        ManifestError::new(self.index, mark.line(), mark.col() + 1, message)
    }

    /// Records where the document's content starts when a root node begins.
    fn node_start(&mut self, mark: Marker) {
        if self.stack.is_empty() {
            self.line = mark.line();
        }
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), ManifestError> {
        let mark = span.start;
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.node_start(mark);
                let plain = style == ScalarStyle::Plain;
                let (scalar, merge) = match tag.as_deref() {
                    None if plain => (scalar::resolve_plain(&text), text == "<<"),
                    None => (Scalar::Str(text.to_string()), false),
                    Some(tag) => {
                        let core = core_name(tag);
                        let scalar = scalar::resolve_tagged(core.as_deref(), &text)
                            .map_err(|message| self.error(mark, message))?;
                        (scalar, core.as_deref() == Some("merge") && text == "<<")
                    }
                };
                let empty = plain && tag.is_none() && anchor == 0 && text.is_empty();
                if anchor != 0 {
                    self.anchors.insert(anchor, (Node::Scalar(scalar.clone()), 1));
                }
                self.finished(Finished { node: Node::Scalar(scalar), merge, empty, mark })
            }
            Event::SequenceStart(anchor, _) => self.push(Frame::Seq { anchor, mark, items: Vec::new() }, mark),
            Event::MappingStart(anchor, _) => self.push(
                Frame::Map { anchor, mark, map: Map::new(), key_lines: HashMap::new(), key: None, merges: Vec::new() },
                mark,
            ),
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return Err(self.error(mark, "unbalanced collection end"));
                };
                let (anchor, mark, value) = match frame {
                    Frame::Seq { anchor, mark, items } => (anchor, mark, Value::Array(items)),
                    Frame::Map { anchor, mark, mut map, merges, .. } => {
                        for merged in merges {
                            for (key, value) in merged {
                                map.entry(key).or_insert(value);
                            }
                        }
                        (anchor, mark, Value::Object(map))
                    }
                };
                if anchor != 0 {
                    let count = node_count(&value);
                    self.anchors.insert(anchor, (Node::Value(value.clone()), count));
                }
                self.finished(Finished { node: Node::Value(value), merge: false, empty: false, mark })
            }
            Event::Alias(anchor) => {
                self.node_start(mark);
                let Some((node, count)) = self.anchors.get(&anchor) else {
                    return Err(self.error(mark, "alias refers to an anchor that is not defined yet"));
                };
                self.aliased = self.aliased.saturating_add(*count);
                if self.aliased > MAX_ALIASED_NODES {
                    return Err(self.error(mark, "document contains excessive aliasing"));
                }
                let node = node.clone();
                self.finished(Finished { node, merge: false, empty: false, mark })
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentStart(_) | Event::DocumentEnd | Event::Nothing => {
                Ok(())
            }
        }
    }

    fn push(&mut self, frame: Frame, mark: Marker) -> Result<(), ManifestError> {
        self.node_start(mark);
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.error(mark, format!("document nesting exceeds {MAX_DEPTH} levels")));
        }
        self.stack.push(frame);
        Ok(())
    }

    /// Places a finished node in its parent collection (or as the document root).
    fn finished(&mut self, done: Finished) -> Result<(), ManifestError> {
        let (index, mark) = (self.index, done.mark);
        let error = |message: String| ManifestError::new(index, mark.line(), mark.col() + 1, message);
        match self.stack.last_mut() {
            None => {
                self.empty = done.empty;
                self.root = Some(node_to_json(done.node).map_err(error)?);
            }
            Some(Frame::Seq { items, .. }) => items.push(node_to_json(done.node).map_err(error)?),
            Some(Frame::Map { map, key_lines, key, merges, .. }) => match key.take() {
                None if done.merge => *key = Some(PendingKey::Merge(mark)),
                None => {
                    let name = node_to_key(done.node).map_err(error)?;
                    if let Some(first) = key_lines.get(&name) {
                        return Err(error(format!("mapping key {name:?} already defined at line {first}")));
                    }
                    key_lines.insert(name.clone(), mark.line());
                    *key = Some(PendingKey::Named(name));
                }
                Some(PendingKey::Named(name)) => {
                    map.insert(name, node_to_json(done.node).map_err(error)?);
                }
                Some(PendingKey::Merge(key_mark)) => {
                    let value = node_to_json(done.node).map_err(error)?;
                    add_merge(merges, value)
                        .map_err(|message| ManifestError::new(index, key_mark.line(), key_mark.col() + 1, message))?;
                }
            },
        }
        Ok(())
    }
}

/// The name of a tag in the YAML core namespace (`!!int` → `int`), `None` for other tags.
fn core_name(tag: &Tag) -> Option<String> {
    let full = format!("{}{}", tag.handle, tag.suffix);
    full.strip_prefix(CORE_PREFIX).map(str::to_owned)
}

fn node_to_json(node: Node) -> Result<Value, String> {
    match node {
        Node::Scalar(scalar) => scalar::to_json(scalar),
        Node::Value(value) => Ok(value),
    }
}

fn node_to_key(node: Node) -> Result<String, String> {
    match node {
        Node::Scalar(scalar) => scalar::to_key(scalar),
        Node::Value(Value::Object(_)) => Err("invalid map key: a mapping cannot be a key".to_owned()),
        Node::Value(Value::Array(_)) => Err("invalid map key: a sequence cannot be a key".to_owned()),
        Node::Value(Value::Null) => Err("unsupported map key: null".to_owned()),
        Node::Value(Value::String(s)) => Ok(s),
        Node::Value(other) => Ok(other.to_string()),
    }
}

/// Queues the value of a `<<` key: a mapping or a sequence of mappings.
fn add_merge(merges: &mut Vec<Map<String, Value>>, value: Value) -> Result<(), String> {
    const WANT: &str = "map merge requires map or sequence of maps as the value";
    match value {
        Value::Object(map) => merges.push(map),
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(map) => merges.push(map),
                    _ => return Err(WANT.to_owned()),
                }
            }
        }
        _ => return Err(WANT.to_owned()),
    }
    Ok(())
}

/// Number of nodes in a value, to bound alias expansion.
fn node_count(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.iter().map(node_count).fold(1, usize::saturating_add),
        Value::Object(map) => map.values().map(node_count).fold(1, usize::saturating_add),
        _ => 1,
    }
}
