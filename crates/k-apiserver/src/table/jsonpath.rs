//! The JSONPath dialect of custom resource printer columns
//! (`additionalPrinterColumns[].jsonPath`), evaluated as kube-apiserver does:
//! missing keys give no result, while type mismatches and out-of-range indices
//! are errors.
//!
//! Supported: `.field` (with `\.` escapes), `['field']`, `.*`, `..field`
//! (recursive descent), `[n]`, `[-n]`, `[a:b]`, `[a:b:step]`, `[*]`, and
//! filters `[?(@.path OP value)]` with `==`, `!=`, `<`, `>`, `<=`, `>=` against
//! a string, number or boolean literal or another `@` path, plus existence
//! filters `[?(@.path)]`.

use serde_json::Value;

/// A parsed path.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct JsonPath {
    steps: Vec<Step>,
}

/// Why a path could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParseError(pub(crate) String);

/// Evaluation failed (wrong type, index out of range, bad comparison).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EvalError;

#[derive(Clone, Debug, PartialEq)]
enum Step {
    /// A map key; empty means the current value.
    Field(String),
    /// Every value of a map or element of an array.
    Wildcard,
    /// The value and every nested map or array below it.
    Recursive,
    /// `[start:end:step]`; `end_derived` marks the end of a single index `[n]`.
    Slice { start: Option<i64>, end: Option<i64>, end_derived: bool, step: Option<i64> },
    /// `[?(...)]`.
    Filter(Box<Filter>),
}

#[derive(Clone, Debug, PartialEq)]
struct Filter {
    left: Operand,
    /// `None` for an existence test.
    compare: Option<(String, Operand)>,
}

#[derive(Clone, Debug, PartialEq)]
enum Operand {
    Path(Vec<Step>),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl JsonPath {
    /// Parses a column path such as `.status.conditions[?(@.type=="Ready")].status`.
    pub(crate) fn parse(text: &str) -> Result<Self, ParseError> {
        let chars: Vec<char> = text.trim().chars().collect();
        let mut p = Parser { chars: &chars, pos: 0 };
        p.skip_root();
        let steps = p.steps()?;
        Ok(Self { steps })
    }

    /// Every value the path selects in `root`, in document order.
    pub(crate) fn find<'a>(&self, root: &'a Value) -> Result<Vec<&'a Value>, EvalError> {
        eval(&self.steps, vec![root])
    }
}

struct Parser<'c> {
    chars: &'c [char],
    pos: usize,
}

fn is_terminator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '.' | ',' | '[' | ']' | '$' | '@' | '{' | '}')
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.pos + n).copied()
    }

    fn err<T>(&self, what: &str) -> Result<T, ParseError> {
        Err(ParseError(format!("{what} at offset {}", self.pos)))
    }

    fn skip_root(&mut self) {
        if matches!(self.peek(), Some('$' | '@')) {
            self.pos += 1;
        }
    }

    fn steps(&mut self) -> Result<Vec<Step>, ParseError> {
        let mut steps = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                c if c.is_whitespace() => self.pos += 1,
                '.' if self.peek_at(1) == Some('.') => {
                    self.pos += 2;
                    steps.push(Step::Recursive);
                    if self.peek().is_some_and(|c| !is_terminator(c)) {
                        steps.push(self.field()?);
                    }
                }
                '.' => {
                    self.pos += 1;
                    steps.push(self.field()?);
                }
                '[' if self.peek_at(1) == Some('?') && self.peek_at(2) == Some('(') => {
                    self.pos += 3;
                    steps.push(self.filter()?);
                }
                '[' => {
                    self.pos += 1;
                    self.bracket(&mut steps)?;
                }
                _ => return self.err(&format!("unexpected {c:?}")),
            }
        }
        Ok(steps)
    }

    /// A field name up to the next terminator; `\x` escapes `x`.
    fn field(&mut self) -> Result<Step, ParseError> {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c == '\\' {
                self.pos += 1;
                match self.peek() {
                    Some(next) => name.push(next),
                    None => return self.err("dangling escape"),
                }
                self.pos += 1;
                continue;
            }
            if is_terminator(c) {
                break;
            }
            name.push(c);
            self.pos += 1;
        }
        Ok(if name == "*" { Step::Wildcard } else { Step::Field(name) })
    }

    /// `[...]` after the `[`: a quoted key, `*`, an index or a slice.
    fn bracket(&mut self, steps: &mut Vec<Step>) -> Result<(), ParseError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c != ']') {
            self.pos += 1;
        }
        if self.peek().is_none() {
            return self.err("unterminated [");
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        self.pos += 1;
        if text.contains(',') {
            return self.err("unions are not supported");
        }
        if let Some(key) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')).filter(|k| !k.contains('\'')) {
            // A quoted key reads as `.key` (so dots in it still separate fields).
            let inner: Vec<char> = format!(".{key}").chars().collect();
            let mut sub = Parser { chars: &inner, pos: 0 };
            steps.extend(sub.steps()?);
            return Ok(());
        }
        let text = if text == "*" { ":" } else { text.as_str() };
        steps.push(parse_slice(text).ok_or_else(|| ParseError(format!("invalid array index {text:?}")))?);
        Ok(())
    }

    /// `[?( ... )]` after the `[?(`.
    fn filter(&mut self) -> Result<Step, ParseError> {
        let start = self.pos;
        let mut quote: Option<char> = None;
        loop {
            let Some(c) = self.peek() else {
                return self.err("unterminated filter");
            };
            match (c, quote) {
                ('"' | '\'', None) => quote = Some(c),
                (c, Some(q)) if c == q && self.chars[self.pos - 1] != '\\' => quote = None,
                (')', None) => break,
                _ => {}
            }
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        self.pos += 1;
        if self.peek() != Some(']') {
            return self.err("expected ] after filter");
        }
        self.pos += 1;
        Ok(Step::Filter(Box::new(parse_filter(&text)?)))
    }
}

/// `start:end:step` (each part optional) or a single index.
fn parse_slice(text: &str) -> Option<Step> {
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() > 3 {
        return None;
    }
    let num = |s: &str| -> Option<Option<i64>> {
        if s.is_empty() {
            return Some(None);
        }
        let digits = s.strip_prefix('-').unwrap_or(s);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok().map(Some)
    };
    let start = num(parts[0])?;
    if parts.len() == 1 {
        // `[n]` is `[n:n+1]`, the end counted from the start.
        let end = start.unwrap_or(0) + 1;
        return Some(Step::Slice { start, end: Some(end), end_derived: true, step: None });
    }
    let end = num(parts[1])?;
    let step = if parts.len() == 3 { num(parts[2])? } else { None };
    Some(Step::Slice { start, end, end_derived: false, step })
}

/// The text between `[?(` and `)]`: `left OP right`, or a lone path.
fn parse_filter(text: &str) -> Result<Filter, ParseError> {
    let is_op = |c: char| matches!(c, '!' | '<' | '>' | '=');
    if let Some(op_start) = text.find(is_op).filter(|&i| i > 0) {
        let rest = &text[op_start..];
        let op_len = rest.find(|c: char| !is_op(c)).unwrap_or(rest.len());
        let (op, right) = rest.split_at(op_len);
        if !right.is_empty() {
            let left = parse_operand(&text[..op_start])?;
            let right = parse_operand(right)?;
            return Ok(Filter { left, compare: Some((op.to_owned(), right)) });
        }
    }
    Ok(Filter { left: parse_operand(text)?, compare: None })
}

fn parse_operand(text: &str) -> Result<Operand, ParseError> {
    let t = text.trim();
    if let Some(q) = t.chars().next().filter(|c| *c == '"' || *c == '\'') {
        return unquote(t, q).map(Operand::Str).ok_or_else(|| ParseError(format!("bad string literal {t}")));
    }
    if t == "true" || t == "false" {
        return Ok(Operand::Bool(t == "true"));
    }
    let starts_number = t.starts_with(|c: char| c.is_ascii_digit())
        || (t.starts_with('-') && t[1..].starts_with(|c: char| c.is_ascii_digit()));
    if starts_number {
        if t.contains('.') {
            return t.parse().map(Operand::Float).map_err(|_| ParseError(format!("bad number {t}")));
        }
        return t.parse().map(Operand::Int).map_err(|_| ParseError(format!("bad number {t}")));
    }
    let chars: Vec<char> = t.chars().collect();
    let mut p = Parser { chars: &chars, pos: 0 };
    p.skip_root();
    Ok(Operand::Path(p.steps()?))
}

/// A quoted literal with backslash escapes; `None` unless the closing quote
/// ends the text.
fn unquote(t: &str, q: char) -> Option<String> {
    let mut out = String::new();
    let mut chars = t.chars().skip(1);
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                other => out.push(other),
            },
            c if c == q => return chars.next().is_none().then_some(out),
            c => out.push(c),
        }
    }
    None
}

fn eval<'a>(steps: &[Step], mut cur: Vec<&'a Value>) -> Result<Vec<&'a Value>, EvalError> {
    for step in steps {
        cur = eval_step(step, cur)?;
    }
    Ok(cur)
}

fn eval_step<'a>(step: &Step, input: Vec<&'a Value>) -> Result<Vec<&'a Value>, EvalError> {
    let mut out = Vec::new();
    match step {
        Step::Field(name) if name.is_empty() => out = input,
        Step::Field(name) => {
            for v in input {
                if let Some(x) = v.as_object().and_then(|m| m.get(name)) {
                    out.push(x);
                }
            }
        }
        Step::Wildcard => {
            for v in input {
                match v {
                    Value::Object(m) => out.extend(m.values()),
                    Value::Array(a) => out.extend(a.iter()),
                    _ => {}
                }
            }
        }
        Step::Recursive => {
            for v in input {
                recurse(v, &mut out);
            }
        }
        Step::Slice { start, end, end_derived, step } => {
            for v in input {
                if v.is_null() {
                    continue;
                }
                let items = v.as_array().ok_or(EvalError)?;
                let len = items.len() as i64;
                let mut s = start.unwrap_or(0);
                if s < 0 {
                    s += len;
                }
                let mut e = end.unwrap_or(len);
                if e < 0 || (e == 0 && *end_derived) {
                    e += len;
                }
                if s == e {
                    continue;
                }
                if s < 0 || s >= len || e < 0 || e > len || s > e {
                    return Err(EvalError);
                }
                let stride = match step {
                    Some(n) if *n <= 0 => return Err(EvalError),
                    Some(n) => *n as usize,
                    None => 1,
                };
                out.extend(items[s as usize..e as usize].iter().step_by(stride));
            }
        }
        Step::Filter(filter) => {
            for v in input {
                let items = v.as_array().ok_or(EvalError)?;
                for item in items {
                    if filter_matches(filter, item)? {
                        out.push(item);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The value itself (when it has children) and everything nested below it.
fn recurse<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    let children: Vec<&Value> = match v {
        Value::Object(m) => m.values().collect(),
        Value::Array(a) => a.iter().collect(),
        _ => return,
    };
    if children.is_empty() {
        return;
    }
    out.push(v);
    for c in children {
        recurse(c, out);
    }
}

/// A comparable scalar.
#[derive(Debug, PartialEq, PartialOrd)]
enum Scalar<'a> {
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
}

fn scalar(v: &Value) -> Result<Scalar<'_>, EvalError> {
    match v {
        Value::String(s) => Ok(Scalar::Str(s)),
        Value::Bool(b) => Ok(Scalar::Bool(*b)),
        Value::Number(n) => Ok(n.as_i64().map_or_else(|| Scalar::Float(n.as_f64().unwrap_or(0.0)), Scalar::Int)),
        _ => Err(EvalError),
    }
}

fn operand_value<'a>(op: &'a Operand, item: &'a Value) -> Result<Scalar<'a>, EvalError> {
    match op {
        Operand::Path(steps) => match eval(steps, vec![item])?.as_slice() {
            [one] => scalar(one),
            _ => Err(EvalError),
        },
        Operand::Str(s) => Ok(Scalar::Str(s)),
        Operand::Int(i) => Ok(Scalar::Int(*i)),
        Operand::Float(f) => Ok(Scalar::Float(*f)),
        Operand::Bool(b) => Ok(Scalar::Bool(*b)),
    }
}

fn filter_matches(filter: &Filter, item: &Value) -> Result<bool, EvalError> {
    let Some((op, right)) = &filter.compare else {
        return Ok(match &filter.left {
            Operand::Path(steps) => eval(steps, vec![item]).map(|r| !r.is_empty()).unwrap_or(false),
            _ => true,
        });
    };
    let l = operand_value(&filter.left, item)?;
    let r = operand_value(right, item)?;
    if std::mem::discriminant(&l) != std::mem::discriminant(&r) {
        return Err(EvalError);
    }
    let ordered = || -> Result<std::cmp::Ordering, EvalError> {
        match (&l, &r) {
            (Scalar::Bool(_), _) => Err(EvalError),
            _ => l.partial_cmp(&r).ok_or(EvalError),
        }
    };
    use std::cmp::Ordering::{Greater, Less};
    Ok(match op.as_str() {
        "==" => l == r,
        "!=" => l != r,
        "<" => ordered()? == Less,
        ">" => ordered()? == Greater,
        "<=" => ordered()? != Greater,
        ">=" => ordered()? != Less,
        _ => return Err(EvalError),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "shop", "tier": "front"}},
            "spec": {
                "replicas": 3,
                "ratio": 0.75,
                "paused": false,
                "containers": [
                    {"name": "app", "image": "nginx:1.25", "ports": [{"containerPort": 80}]},
                    {"name": "sidecar", "image": "envoy:v1.30", "ports": [{"containerPort": 9901}]}
                ]
            },
            "status": {
                "conditions": [
                    {"type": "Progressing", "status": "True", "priority": 2},
                    {"type": "Ready", "status": "False", "priority": 1}
                ]
            }
        })
    }

    fn find(path: &str) -> Result<Vec<Value>, EvalError> {
        let d = doc();
        JsonPath::parse(path).unwrap().find(&d).map(|v| v.into_iter().cloned().collect())
    }

    #[test]
    fn fields() {
        assert_eq!(find(".spec.replicas").unwrap(), vec![json!(3)]);
        assert_eq!(find("$.metadata.name").unwrap(), vec![json!("web")]);
        assert_eq!(find(".metadata.labels.tier").unwrap(), vec![json!("front")]);
        assert_eq!(find(r".metadata.labels.app\.kubernetes\.io/name").unwrap(), vec![json!("shop")]);
        assert_eq!(find(".metadata['labels']").unwrap().len(), 1);
        assert!(find(".spec.missing.deeper").unwrap().is_empty());
        assert!(find(".spec.replicas.x").unwrap().is_empty());
    }

    #[test]
    fn indices_and_slices() {
        assert_eq!(find(".spec.containers[0].name").unwrap(), vec![json!("app")]);
        assert_eq!(find(".spec.containers[-1].name").unwrap(), vec![json!("sidecar")]);
        assert_eq!(find(".spec.containers[*].image").unwrap(), vec![json!("nginx:1.25"), json!("envoy:v1.30")]);
        assert_eq!(find(".spec.containers[0:1].name").unwrap(), vec![json!("app")]);
        assert_eq!(find(".spec.containers[1:].name").unwrap(), vec![json!("sidecar")]);
        assert_eq!(find(".spec.containers[0:2:2].name").unwrap(), vec![json!("app")]);
        assert_eq!(find(".spec.containers[*].ports[0].containerPort").unwrap(), vec![json!(80), json!(9901)]);
        assert_eq!(find(".spec.containers[5].name"), Err(EvalError));
        assert_eq!(find(".spec.replicas[0]"), Err(EvalError));
        assert!(find(".spec.nothing[0]").unwrap().is_empty());
    }

    #[test]
    fn filters() {
        assert_eq!(find(r#".status.conditions[?(@.type=="Ready")].status"#).unwrap(), vec![json!("False")]);
        assert_eq!(find(".status.conditions[?(@.type=='Progressing')].status").unwrap(), vec![json!("True")]);
        assert_eq!(find(r#".status.conditions[?(@.type != "Ready")].type"#).unwrap(), vec![json!("Progressing")]);
        assert_eq!(find(".status.conditions[?(@.priority > 1)].type").unwrap(), vec![json!("Progressing")]);
        assert_eq!(find(".status.conditions[?(@.priority<=1)].type").unwrap(), vec![json!("Ready")]);
        assert_eq!(find(".status.conditions[?(@.priority)].type").unwrap().len(), 2);
        assert!(find(".status.conditions[?(@.reason)].type").unwrap().is_empty());
        assert!(find(r#".status.conditions[?(@.type=="Nope")].status"#).unwrap().is_empty());
        assert_eq!(find(".spec.containers[?(@.ports[0].containerPort==9901)].name").unwrap(), vec![json!("sidecar")]);
        // Comparing a string with a number is an error, as in kube.
        assert_eq!(find(".status.conditions[?(@.type==1)].status"), Err(EvalError));
        // So is comparing an element that lacks the field.
        assert_eq!(find(r#".status.conditions[?(@.reason=="x")].status"#), Err(EvalError));
    }

    #[test]
    fn wildcard_and_recursive() {
        assert_eq!(find(".metadata.labels.*").unwrap().len(), 2);
        let names = find("..name").unwrap();
        assert_eq!(names, vec![json!("web"), json!("app"), json!("sidecar")]);
        assert_eq!(find("..containerPort").unwrap(), vec![json!(80), json!(9901)]);
    }

    #[test]
    fn parse_errors() {
        assert!(JsonPath::parse(".a[1,2]").is_err());
        assert!(JsonPath::parse(".a[").is_err());
        assert!(JsonPath::parse(".a[x]").is_err());
        assert!(JsonPath::parse(".a[?(@.b==\"c\"").is_err());
        assert!(JsonPath::parse("spec").is_err());
    }
}
