//! Label selectors: the string grammar, matching, and conversion from
//! [`LabelSelector`].
//!
//! # Grammar
//!
//! A selector is a comma-separated list of requirements, all of which must
//! match. Whitespace (space, tab, CR, LF) around tokens is ignored.
//!
//! | Form                | Operator                  | Matches when                               |
//! |---------------------|---------------------------|--------------------------------------------|
//! | `k=v`, `k==v`       | [`Operator::Equals`], [`Operator::DoubleEquals`] | `k` is present with value `v` |
//! | `k!=v`              | [`Operator::NotEquals`]   | `k` is absent or its value is not `v`      |
//! | `k in (a,b)`        | [`Operator::In`]          | `k` is present with one of the values      |
//! | `k notin (a,b)`     | [`Operator::NotIn`]       | `k` is absent or has none of the values    |
//! | `k`                 | [`Operator::Exists`]      | `k` is present                             |
//! | `!k`                | [`Operator::DoesNotExist`]| `k` is absent                              |
//! | `k>5`, `k<5`        | [`Operator::GreaterThan`], [`Operator::LessThan`] | `k`'s value parses as an integer greater / less than the bound |
//!
//! As in Kubernetes: a value may be empty (`k=` requires the value `""`);
//! inside parentheses empty entries denote the empty value (`k in (,a)` is
//! `{"", "a"}`, and `k in ()` is `{""}`); the words `in` and `notin` are
//! ordinary identifiers when used as keys or values. Keys must be valid
//! label keys (an optional DNS-1123 subdomain prefix of at most 253
//! characters and `/`, then a name of at most 63 characters of
//! `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`) and values valid label values
//! (at most 63 characters of the same alphabet, or empty). After parsing,
//! requirements are sorted (stably) by key.
//!
//! # Printing
//!
//! [`Selector`] implements [`Display`](fmt::Display) with the canonical form
//! Kubernetes prints, except that `==` requirements print as `=` (they have
//! the same meaning): requirements joined by `,`, set values sorted and
//! joined by `,` without spaces (`k in (a,b)`). Parsing the printed form
//! gives a selector that prints identically.

use crate::SortedMap;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::meta::LabelSelector;

/// The operator of a label selector [`Requirement`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operator {
    /// `k=v`: the label is present with exactly this value.
    Equals,
    /// `k==v`: same meaning as [`Operator::Equals`].
    DoubleEquals,
    /// `k!=v`: the label is absent or has a different value.
    NotEquals,
    /// `k in (a,b)`: the label is present with one of the values.
    In,
    /// `k notin (a,b)`: the label is absent or has none of the values.
    NotIn,
    /// `k`: the label is present (any value).
    Exists,
    /// `!k`: the label is absent.
    DoesNotExist,
    /// `k>n`: the label's value is an integer greater than `n`
    /// (used by node selector requirements as `Gt`).
    GreaterThan,
    /// `k<n`: the label's value is an integer less than `n`
    /// (used by node selector requirements as `Lt`).
    LessThan,
}

impl Operator {
    /// The Kubernetes `selection.Operator` spelling of this operator:
    /// `=`, `==`, `!=`, `in`, `notin`, `exists`, `!`, `gt` or `lt`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error from parsing, building or converting a label selector.
///
/// The messages follow the wording of Kubernetes' apimachinery `labels`
/// package where one exists.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectorParseError {
    /// The selector string is syntactically malformed.
    #[error("found '{found}', expected: {expected} (at position {position})")]
    Syntax {
        /// Byte offset in the input of the offending token (the input length
        /// at end of string).
        position: usize,
        /// The offending token text (empty at end of string).
        found: String,
        /// A description of what was expected instead.
        expected: &'static str,
    },
    /// A key is not a valid label key.
    #[error("invalid label key {key:?}: {reason}")]
    InvalidKey {
        /// The rejected key.
        key: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A value is not a valid label value.
    #[error("invalid label value {value:?} for key {key:?}: {reason}")]
    InvalidValue {
        /// The key of the requirement the value belongs to.
        key: String,
        /// The rejected value.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The set of values does not suit the operator (for example `in`
    /// without values, or `exists` with values).
    #[error("values: Invalid value: {}: {reason}", go_string_slice(.values))]
    InvalidValues {
        /// The operator of the requirement.
        operator: Operator,
        /// The values supplied.
        values: Vec<String>,
        /// Why they were rejected.
        reason: &'static str,
    },
    /// A [`LabelSelectorRequirement`](crate::meta::LabelSelectorRequirement)
    /// uses an operator other than `In`, `NotIn`, `Exists` or `DoesNotExist`.
    #[error("{operator:?} is not a valid label selector operator")]
    InvalidOperator {
        /// The operator as written.
        operator: String,
    },
}

/// Formats values like Go's `%#v` of a `[]string`, as Kubernetes does.
fn go_string_slice(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

// ---------------------------------------------------------------------------
// Key and value validation
// ---------------------------------------------------------------------------

const NAME_CHARS_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', \
     and must start and end with an alphanumeric character";

/// Whether `s` is non-empty, made of `[-A-Za-z0-9_.]`, and starts and ends
/// with an ASCII alphanumeric.
fn is_label_name_shape(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// Whether `s` matches the lowercase RFC 1123 subdomain pattern (length not
/// checked).
fn is_dns1123_subdomain_shape(s: &str) -> bool {
    s.split('.').all(|part| {
        let b = part.as_bytes();
        match (b.first(), b.last()) {
            (Some(first), Some(last)) => {
                let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
                alnum(first) && alnum(last) && b.iter().all(|c| alnum(c) || *c == b'-')
            }
            _ => false,
        }
    })
}

/// Reasons why `key` is not a valid label key (a Kubernetes "qualified
/// name"), or `None` if it is valid.
pub(crate) fn label_key_error(key: &str) -> Option<String> {
    let mut errs: Vec<String> = Vec::new();
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_owned());
            } else {
                if prefix.len() > 253 {
                    errs.push("prefix part must be no more than 253 characters".to_owned());
                }
                if !is_dns1123_subdomain_shape(prefix) {
                    errs.push(
                        "prefix part a lowercase RFC 1123 subdomain must consist of lower case \
                         alphanumeric characters, '-' or '.', and must start and end with an \
                         alphanumeric character"
                            .to_owned(),
                    );
                }
            }
            *name
        }
        _ => {
            return Some(format!(
                "a qualified name {NAME_CHARS_MSG}, with an optional DNS subdomain prefix \
                 and '/' (e.g. 'example.com/MyName')"
            ));
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_owned());
    } else {
        if name.len() > 63 {
            errs.push("name part must be no more than 63 characters".to_owned());
        }
        if !is_label_name_shape(name) {
            errs.push(format!("name part {NAME_CHARS_MSG}"));
        }
    }
    if errs.is_empty() { None } else { Some(errs.join("; ")) }
}

/// Reasons why `value` is not a valid label value, or `None` if it is valid.
pub(crate) fn label_value_error(value: &str) -> Option<String> {
    let mut errs: Vec<String> = Vec::new();
    if value.len() > 63 {
        errs.push("must be no more than 63 characters".to_owned());
    }
    if !value.is_empty() && !is_label_name_shape(value) {
        errs.push(
            "a valid label value must be an empty string or consist of alphanumeric \
             characters, '-', '_' or '.', and must start and end with an alphanumeric character"
                .to_owned(),
        );
    }
    if errs.is_empty() { None } else { Some(errs.join("; ")) }
}

fn validate_key(key: &str) -> Result<(), SelectorParseError> {
    match label_key_error(key) {
        None => Ok(()),
        Some(reason) => Err(SelectorParseError::InvalidKey { key: key.to_owned(), reason }),
    }
}

// ---------------------------------------------------------------------------
// Requirement
// ---------------------------------------------------------------------------

/// One requirement of a label [`Selector`]: a key, an operator and a
/// (sorted, deduplicated) set of values.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: BTreeSet<String>,
}

impl Requirement {
    /// Builds a validated requirement, like Kubernetes' `NewRequirement`.
    ///
    /// The key must be a valid label key and every value a valid label
    /// value. `In`/`NotIn` need at least one value; `Equals`, `DoubleEquals`
    /// and `NotEquals` exactly one; `Exists`/`DoesNotExist` none;
    /// `GreaterThan`/`LessThan` exactly one that parses as an `i64`.
    /// Duplicate values are merged. The first problem found is reported.
    pub fn new<I, S>(key: impl Into<String>, operator: Operator, values: I) -> Result<Self, SelectorParseError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let key = key.into();
        let values: Vec<String> = values.into_iter().map(Into::into).collect();
        validate_key(&key)?;
        let invalid =
            |reason: &'static str| SelectorParseError::InvalidValues { operator, values: values.clone(), reason };
        match operator {
            Operator::In | Operator::NotIn => {
                if values.is_empty() {
                    return Err(invalid("for 'in', 'notin' operators, values set can't be empty"));
                }
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
                if values.len() != 1 {
                    return Err(invalid("exact-match compatibility requires one single value"));
                }
            }
            Operator::Exists | Operator::DoesNotExist => {
                if !values.is_empty() {
                    return Err(invalid("values set must be empty for exists and does not exist"));
                }
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    return Err(invalid("for 'Gt', 'Lt' operators, exactly one value is required"));
                }
                if values.iter().any(|v| v.parse::<i64>().is_err()) {
                    return Err(invalid("for 'Gt', 'Lt' operators, the value must be an integer"));
                }
            }
        }
        for value in &values {
            if let Some(reason) = label_value_error(value) {
                return Err(SelectorParseError::InvalidValue { key: key.clone(), value: value.clone(), reason });
            }
        }
        Ok(Requirement { key, operator, values: values.into_iter().collect() })
    }

    /// The label key this requirement constrains.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values (empty for `Exists`/`DoesNotExist`).
    pub fn values(&self) -> &BTreeSet<String> {
        &self.values
    }

    /// Whether `labels` satisfy this requirement.
    ///
    /// `NotIn` and `NotEquals` match when the key is absent; `GreaterThan`
    /// and `LessThan` never match when the label is absent or its value does
    /// not parse as an `i64`.
    pub fn matches(&self, labels: &SortedMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::Equals | Operator::DoubleEquals | Operator::In => value.is_some_and(|v| self.values.contains(v)),
            Operator::NotEquals | Operator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(Ok(actual)) = value.map(|v| v.parse::<i64>()) else {
                    return false;
                };
                let mut bounds = self.values.iter();
                let (Some(bound), None) = (bounds.next(), bounds.next()) else {
                    return false;
                };
                let Ok(bound) = bound.parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan { actual > bound } else { actual < bound }
            }
        }
    }

    /// The single value this requirement pins the key to, if it is an
    /// `=`/`==` requirement or an `in` with exactly one value.
    fn exact_value(&self) -> Option<&str> {
        match self.operator {
            Operator::Equals | Operator::DoubleEquals | Operator::In if self.values.len() == 1 => {
                self.values.first().map(String::as_str)
            }
            _ => None,
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = || self.values.iter().map(String::as_str).collect::<Vec<_>>().join(",");
        match self.operator {
            Operator::Equals | Operator::DoubleEquals => write!(f, "{}={}", self.key, join()),
            Operator::NotEquals => write!(f, "{}!={}", self.key, join()),
            Operator::In => write!(f, "{} in ({})", self.key, join()),
            Operator::NotIn => write!(f, "{} notin ({})", self.key, join()),
            Operator::Exists => f.write_str(&self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
            Operator::GreaterThan => write!(f, "{}>{}", self.key, join()),
            Operator::LessThan => write!(f, "{}<{}", self.key, join()),
        }
    }
}

// ---------------------------------------------------------------------------
// Selector
// ---------------------------------------------------------------------------

/// A label selector: a conjunction of [`Requirement`]s, kept sorted by key.
///
/// The empty selector ([`Selector::everything`], also [`Default`]) matches
/// every label set. [`Selector::nothing`] is a distinct selector matching no
/// label set; like Kubernetes' `labels.Nothing()` it prints as the empty
/// string, so (unlike every other selector) it does not survive a print /
/// parse round trip.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Selector {
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl Selector {
    /// The empty selector, which matches everything.
    pub fn everything() -> Self {
        Selector::default()
    }

    /// A selector that matches nothing (what a nil `*LabelSelector` means in
    /// Kubernetes). It prints as the empty string, which parses back to
    /// [`Selector::everything`]; check [`Selector::is_nothing`] before
    /// serializing one.
    pub fn nothing() -> Self {
        Selector { requirements: Vec::new(), nothing: true }
    }

    /// Parses the label selector string grammar described in the
    /// [module docs](self). The empty (or all-whitespace) string gives the
    /// empty selector.
    pub fn parse(input: &str) -> Result<Self, SelectorParseError> {
        let mut requirements = Parser::new(input).parse()?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Selector { requirements, nothing: false })
    }

    /// The equality-based selector of a label map (for example
    /// ReplicationController or Service `.spec.selector`): one `k=v`
    /// requirement per entry. Like Kubernetes' `SelectorFromSet`, keys and
    /// values are not validated; an empty map gives the empty selector.
    pub fn from_map(labels: &SortedMap<String, String>) -> Self {
        let requirements = labels
            .iter()
            .map(|(k, v)| Requirement {
                key: k.clone(),
                operator: Operator::Equals,
                values: BTreeSet::from([v.clone()]),
            })
            .collect();
        Selector { requirements, nothing: false }
    }

    /// Like [`Selector::from_map`], but validates every key and value
    /// (Kubernetes' `ValidatedSelectorFromSet`).
    pub fn validated_from_map(labels: &SortedMap<String, String>) -> Result<Self, SelectorParseError> {
        let requirements = labels
            .iter()
            .map(|(k, v)| Requirement::new(k.as_str(), Operator::Equals, [v.as_str()]))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Selector { requirements, nothing: false })
    }

    /// Builds a selector from requirements, sorting them by key.
    pub fn from_requirements(requirements: impl IntoIterator<Item = Requirement>) -> Self {
        Selector::everything().with_requirements(requirements)
    }

    /// Adds requirements, keeping them sorted by key. Adding to
    /// [`Selector::nothing`] leaves it matching nothing.
    #[must_use]
    pub fn with_requirements(mut self, requirements: impl IntoIterator<Item = Requirement>) -> Self {
        if self.nothing {
            return self;
        }
        self.requirements.extend(requirements);
        self.requirements.sort_by(|a, b| a.key.cmp(&b.key));
        self
    }

    /// Whether this is the empty selector (no requirements), which matches
    /// everything. `false` for [`Selector::nothing`].
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// Whether this is [`Selector::nothing`].
    pub fn is_nothing(&self) -> bool {
        self.nothing
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether `labels` satisfy every requirement (always `false` for
    /// [`Selector::nothing`], always `true` for the empty selector).
    pub fn matches(&self, labels: &SortedMap<String, String>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// A label (key and value) every label set this selector matches has:
    /// the first requirement that pins a key to one value (`k=v`, `k==v`,
    /// `k in (v)`). For narrowing a search through a label index before
    /// matching in full.
    pub fn pinned_label(&self) -> Option<(&str, &str)> {
        self.requirements.iter().find_map(|r| r.exact_value().map(|v| (r.key.as_str(), v)))
    }

    /// The value `key` must have for a label set to match, if some
    /// requirement pins it (`key=v`, `key==v` or `key in (v)`), for use with
    /// label indexes.
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        self.requirements.iter().filter(|r| r.key == key).find_map(Requirement::exact_value)
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, requirement) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{requirement}")?;
        }
        Ok(())
    }
}

impl FromStr for Selector {
    type Err = SelectorParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Selector::parse(s)
    }
}

impl TryFrom<&LabelSelector> for Selector {
    type Error = SelectorParseError;

    /// Converts a structured selector (Kubernetes' `LabelSelectorAsSelector`
    /// for a non-nil selector): `matchLabels` entries become `=`
    /// requirements; `matchExpressions` accept the operators `In`, `NotIn`
    /// (at least one value), `Exists` and `DoesNotExist` (no values). A
    /// selector with neither matches everything.
    fn try_from(selector: &LabelSelector) -> Result<Self, Self::Error> {
        let mut requirements = Vec::with_capacity(selector.match_labels.len() + selector.match_expressions.len());
        for (key, value) in &selector.match_labels {
            requirements.push(Requirement::new(key.as_str(), Operator::Equals, [value.as_str()])?);
        }
        for expr in &selector.match_expressions {
            let operator = match expr.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(SelectorParseError::InvalidOperator { operator: other.to_owned() });
                }
            };
            requirements.push(Requirement::new(expr.key.as_str(), operator, expr.values.iter().map(String::as_str))?);
        }
        Ok(Selector::from_requirements(requirements))
    }
}

/// Whether `labels` match an optional structured selector, with
/// apimachinery semantics: `None` (a nil selector) matches nothing, an empty
/// selector matches everything, and a selector that fails to convert (see
/// [`Selector::try_from`]) matches nothing.
pub fn selector_matches(selector: Option<&LabelSelector>, labels: &SortedMap<String, String>) -> bool {
    selector.and_then(|s| Selector::try_from(s).ok()).is_some_and(|s| s.matches(labels))
}

/// The canonical selector string of a structured selector (empty for a
/// selector matching everything).
pub fn label_selector_to_string(selector: &LabelSelector) -> Result<String, SelectorParseError> {
    Selector::try_from(selector).map(|s| s.to_string())
}

/// Formats an optional structured selector for humans, like Kubernetes'
/// `FormatLabelSelector`: the canonical string, `<none>` when that is empty
/// (including for `None`), and `<error>` when the selector is invalid.
pub fn format_label_selector(selector: Option<&LabelSelector>) -> String {
    let Some(selector) = selector else {
        return "<none>".to_owned();
    };
    match label_selector_to_string(selector) {
        Ok(s) if s.is_empty() => "<none>".to_owned(),
        Ok(s) => s,
        Err(_) => "<error>".to_owned(),
    }
}

// ---------------------------------------------------------------------------
// Lexer and parser
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    End,
    OpenPar,
    ClosedPar,
    Comma,
    Bang,
    Equals,
    DoubleEquals,
    NotEquals,
    Greater,
    Less,
    In,
    NotIn,
    Ident,
}

#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    tok: Tok,
    text: &'a str,
    pos: usize,
}

/// Whether the token is read where a key or value may appear (`in` and
/// `notin` are then identifiers) or where an operator is expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Context {
    Values,
    Operator,
}

fn is_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_special(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<')
}

fn lex(input: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(pos, c)) = chars.peek() {
        if is_whitespace(c) {
            chars.next();
            continue;
        }
        if is_special(c) {
            chars.next();
            let rest = &input[pos..];
            let (tok, len) = if rest.starts_with("==") {
                (Tok::DoubleEquals, 2)
            } else if rest.starts_with("!=") {
                (Tok::NotEquals, 2)
            } else {
                let tok = match c {
                    '=' => Tok::Equals,
                    '!' => Tok::Bang,
                    '(' => Tok::OpenPar,
                    ')' => Tok::ClosedPar,
                    ',' => Tok::Comma,
                    '>' => Tok::Greater,
                    _ => Tok::Less,
                };
                (tok, 1)
            };
            if len == 2 {
                chars.next();
            }
            tokens.push(Token { tok, text: &rest[..len], pos });
            continue;
        }
        let mut end = input.len();
        while let Some(&(i, c)) = chars.peek() {
            if is_whitespace(c) || is_special(c) {
                end = i;
                break;
            }
            chars.next();
        }
        let text = &input[pos..end];
        let tok = match text {
            "in" => Tok::In,
            "notin" => Tok::NotIn,
            _ => Tok::Ident,
        };
        tokens.push(Token { tok, text, pos });
    }
    tokens.push(Token { tok: Tok::End, text: "", pos: input.len() });
    tokens
}

struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    index: usize,
}

fn syntax(token: Token<'_>, expected: &'static str) -> SelectorParseError {
    SelectorParseError::Syntax { position: token.pos, found: token.text.to_owned(), expected }
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Self {
        Parser { tokens: lex(input), index: 0 }
    }

    fn peek(&self, context: Context) -> Token<'a> {
        let end = Token { tok: Tok::End, text: "", pos: 0 };
        let mut token = self.tokens.get(self.index).or(self.tokens.last()).copied().unwrap_or(end);
        if context == Context::Values && matches!(token.tok, Tok::In | Tok::NotIn) {
            token.tok = Tok::Ident;
        }
        token
    }

    fn next(&mut self, context: Context) -> Token<'a> {
        let token = self.peek(context);
        if self.index < self.tokens.len() {
            self.index += 1;
        }
        token
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, SelectorParseError> {
        let mut requirements = Vec::new();
        loop {
            let token = self.peek(Context::Values);
            match token.tok {
                Tok::Ident | Tok::Bang => {
                    requirements.push(self.parse_requirement()?);
                    let after = self.next(Context::Values);
                    match after.tok {
                        Tok::End => return Ok(requirements),
                        Tok::Comma => {
                            let following = self.peek(Context::Values);
                            if !matches!(following.tok, Tok::Ident | Tok::Bang) {
                                return Err(syntax(following, "identifier after ','"));
                            }
                        }
                        _ => return Err(syntax(after, "',' or 'end of string'")),
                    }
                }
                Tok::End => return Ok(requirements),
                _ => return Err(syntax(token, "!, identifier, or 'end of string'")),
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, SelectorParseError> {
        let mut token = self.next(Context::Values);
        let negated = token.tok == Tok::Bang;
        if negated {
            token = self.next(Context::Values);
        }
        if token.tok != Tok::Ident {
            return Err(syntax(token, "identifier"));
        }
        let key = token.text;
        validate_key(key)?;
        if negated {
            return Requirement::new(key, Operator::DoesNotExist, Vec::<String>::new());
        }
        if matches!(self.peek(Context::Values).tok, Tok::End | Tok::Comma) {
            return Requirement::new(key, Operator::Exists, Vec::<String>::new());
        }
        let op_token = self.next(Context::Operator);
        let operator = match op_token.tok {
            Tok::In => Operator::In,
            Tok::NotIn => Operator::NotIn,
            Tok::Equals => Operator::Equals,
            Tok::DoubleEquals => Operator::DoubleEquals,
            Tok::NotEquals => Operator::NotEquals,
            Tok::Greater => Operator::GreaterThan,
            Tok::Less => Operator::LessThan,
            _ => return Err(syntax(op_token, "in, notin, =, ==, !=, gt, lt")),
        };
        let values = match operator {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => vec![self.parse_exact_value()?],
        };
        Requirement::new(key, operator, values)
    }

    /// Parses `( v1, v2, ... )`, where empty entries mean the empty value.
    fn parse_values(&mut self) -> Result<Vec<String>, SelectorParseError> {
        let open = self.next(Context::Values);
        if open.tok != Tok::OpenPar {
            return Err(syntax(open, "'('"));
        }
        let first = self.peek(Context::Values);
        match first.tok {
            Tok::Ident | Tok::Comma => self.parse_identifier_list(),
            Tok::ClosedPar => {
                self.next(Context::Values);
                Ok(vec![String::new()])
            }
            _ => Err(syntax(first, "',', ')' or identifier")),
        }
    }

    /// Parses the inside of a non-empty value list and its closing `)`.
    fn parse_identifier_list(&mut self) -> Result<Vec<String>, SelectorParseError> {
        let mut values: Vec<String> = Vec::new();
        // Whether the entry currently being read (after '(' or ',') is still
        // empty.
        let mut entry_empty = true;
        loop {
            let token = self.next(Context::Values);
            match token.tok {
                Tok::Ident => {
                    values.push(token.text.to_owned());
                    entry_empty = false;
                    let following = self.peek(Context::Values);
                    if !matches!(following.tok, Tok::Comma | Tok::ClosedPar) {
                        return Err(syntax(following, "',' or ')'"));
                    }
                }
                Tok::Comma => {
                    if entry_empty {
                        values.push(String::new());
                    }
                    entry_empty = true;
                }
                Tok::ClosedPar => {
                    if entry_empty {
                        values.push(String::new());
                    }
                    return Ok(values);
                }
                _ => return Err(syntax(token, "',', or identifier")),
            }
        }
    }

    /// Parses the value after `=`, `==`, `!=`, `>` or `<` (empty when
    /// followed by `,` or the end).
    fn parse_exact_value(&mut self) -> Result<String, SelectorParseError> {
        if matches!(self.peek(Context::Values).tok, Tok::End | Tok::Comma) {
            return Ok(String::new());
        }
        let token = self.next(Context::Values);
        if token.tok == Tok::Ident { Ok(token.text.to_owned()) } else { Err(syntax(token, "identifier")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> SortedMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn a_pinned_label_is_one_every_match_has() {
        let pinned = |input: &str| Selector::parse(input).unwrap().pinned_label().map(|(k, v)| format!("{k}={v}"));
        assert_eq!(pinned("x in (a,b),app=web"), Some("app=web".into()), "an `in` of two values pins nothing");
        assert_eq!(pinned("tier in (db)"), Some("tier=db".into()));
        assert_eq!(pinned("x!=a,y,!z"), None);
        assert_eq!(pinned(""), None);
    }

    #[test]
    fn parse_valid_prints_canonical_form() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("   ", ""),
            ("x=a", "x=a"),
            ("x==a", "x=a"),
            ("x!=a", "x!=a"),
            ("x in (a,b)", "x in (a,b)"),
            ("x in (b, a)", "x in (a,b)"),
            ("x in (a,a,b)", "x in (a,b)"),
            ("x notin (a)", "x notin (a)"),
            ("x notin(b,a)", "x notin (a,b)"),
            ("x", "x"),
            ("!x", "!x"),
            ("  ! x ", "!x"),
            (" x , !y ", "x,!y"),
            ("z=c,a=b", "a=b,z=c"),
            ("b,a=1", "a=1,b"),
            ("a=b,a=c", "a=b,a=c"),
            ("x=", "x="),
            ("x=,y", "x=,y"),
            ("x!=", "x!="),
            ("x in ()", "x in ()"),
            ("x in (,a)", "x in (,a)"),
            ("x in (a,)", "x in (,a)"),
            ("x in (a,,b)", "x in (,a,b)"),
            ("x in (,)", "x in ()"),
            ("x>5", "x>5"),
            ("x < 10", "x<10"),
            ("example.com/app=web", "example.com/app=web"),
            ("in=notin", "in=notin"),
            ("notin in (in)", "notin in (in)"),
            ("x =a\t,\ny!= b", "x=a,y!=b"),
            (
                "env in (prod,qa),tier notin (frontend),!partition,app",
                "app,env in (prod,qa),!partition,tier notin (frontend)",
            ),
            ("A_b.c-9=Z.9_x-1", "A_b.c-9=Z.9_x-1"),
        ];
        for (input, printed) in cases {
            let selector = Selector::parse(input).unwrap_or_else(|e| panic!("{input:?} should parse, got {e}"));
            assert_eq!(selector.to_string(), *printed, "printed form of {input:?}");
            let reparsed = Selector::parse(printed).unwrap_or_else(|e| panic!("{printed:?} should reparse, got {e}"));
            assert_eq!(reparsed.to_string(), *printed, "round trip of {input:?}");
            assert_eq!(input.parse::<Selector>().ok(), Some(selector));
        }
    }

    #[test]
    fn parse_invalid_reports_error() {
        let long_name = "a".repeat(64);
        let long_value = format!("x={}", "v".repeat(64));
        let long_prefix = format!("{}/x", "a".repeat(254));
        let cases: &[(&str, &str)] = &[
            ("x=a,", "found '', expected: identifier after ',' (at position 4)"),
            (",", "found ',', expected: !, identifier, or 'end of string' (at position 0)"),
            ("x=a,,y", "found ',', expected: identifier after ','"),
            ("x=)", "found ')', expected: identifier (at position 2)"),
            ("x in (a", "found '', expected: ',' or ')'"),
            ("x in a", "found 'a', expected: '('"),
            ("x in )", "found ')', expected: '('"),
            ("x y", "found 'y', expected: in, notin, =, ==, !=, gt, lt (at position 2)"),
            ("x(a)", "found '(', expected: in, notin, =, ==, !=, gt, lt"),
            ("x=a b", "found 'b', expected: ',' or 'end of string'"),
            ("x=a=b", "found '=', expected: ',' or 'end of string'"),
            ("!x=a", "found '=', expected: ',' or 'end of string'"),
            ("=a", "found '=', expected: !, identifier, or 'end of string'"),
            ("x=(a)", "found '(', expected: identifier"),
            ("!", "found '', expected: identifier"),
            ("!!x", "found '!', expected: identifier"),
            ("x in (a b)", "found 'b', expected: ',' or ')'"),
            ("x in (=)", "found '=', expected: ',', ')' or identifier"),
            ("x in (a,=)", "found '=', expected: ',', or identifier"),
            ("x in (a))", "found ')', expected: ',' or 'end of string'"),
            ("x>a", "for 'Gt', 'Lt' operators, the value must be an integer"),
            ("x>", "for 'Gt', 'Lt' operators, the value must be an integer"),
            ("x<-1", "invalid label value \"-1\" for key \"x\""),
            ("-x=a", "invalid label key \"-x\": name part must consist of"),
            ("a/b/c", "invalid label key \"a/b/c\": a qualified name must consist of"),
            ("/x", "invalid label key \"/x\": prefix part must be non-empty"),
            ("x/", "invalid label key \"x/\": name part must be non-empty"),
            ("Example.com/x", "prefix part a lowercase RFC 1123 subdomain"),
            (&long_prefix, "prefix part must be no more than 253 characters"),
            (&long_name, "name part must be no more than 63 characters"),
            ("x=-a", "invalid label value \"-a\" for key \"x\""),
            (&long_value, "must be no more than 63 characters"),
            ("x in (a,-b)", "invalid label value \"-b\""),
            ("x=a b", "(at position 4)"),
            ("caf\u{e9}=x", "invalid label key \"caf\u{e9}\""),
        ];
        for (input, expected) in cases {
            match Selector::parse(input) {
                Ok(s) => panic!("{input:?} should fail, parsed as {s}"),
                Err(e) => {
                    let message = e.to_string();
                    assert!(message.contains(expected), "{input:?}: {message:?} lacks {expected:?}");
                }
            }
        }
    }

    #[test]
    fn matches_table() {
        let l = labels(&[("app", "web"), ("env", "prod"), ("tier", "frontend"), ("n", "7")]);
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("app=web", true),
            ("app==web", true),
            ("app=db", false),
            ("app!=db", true),
            ("app!=web", false),
            ("missing!=x", true),
            ("missing=", false),
            ("app in (db,web)", true),
            ("app in (db)", false),
            ("missing in (a)", false),
            ("app notin (db)", true),
            ("app notin (web)", false),
            ("missing notin (a)", true),
            ("app", true),
            ("missing", false),
            ("!missing", true),
            ("!app", false),
            ("n>5", true),
            ("n>7", false),
            ("n<8", true),
            ("n<7", false),
            ("app>1", false),
            ("missing<100", false),
            ("app=web,env=prod", true),
            ("app=web,env=qa", false),
            ("app=web,app=db", false),
        ];
        for (input, expected) in cases {
            let Ok(selector) = Selector::parse(input) else { panic!("{input:?} should parse") };
            assert_eq!(selector.matches(&l), *expected, "{input:?}");
        }
        assert!(Selector::parse("x=").is_ok_and(|s| s.matches(&labels(&[("x", "")]))));
        assert!(Selector::parse("x in ()").is_ok_and(|s| s.matches(&labels(&[("x", "")]))));
    }

    #[test]
    fn everything_and_nothing() {
        let l = labels(&[("a", "b")]);
        assert!(Selector::everything().matches(&l));
        assert!(Selector::everything().matches(&SortedMap::new()));
        assert!(Selector::everything().is_empty());
        assert!(!Selector::nothing().matches(&l));
        assert!(!Selector::nothing().matches(&SortedMap::new()));
        assert!(!Selector::nothing().is_empty());
        assert!(Selector::nothing().is_nothing());
        assert_eq!(Selector::nothing().to_string(), "");
        let Ok(r) = Requirement::new("a", Operator::Exists, Vec::<String>::new()) else { panic!("valid requirement") };
        assert!(Selector::nothing().with_requirements([r.clone()]).is_nothing());
        assert_eq!(Selector::everything().with_requirements([r]).to_string(), "a");
    }

    #[test]
    fn requirement_constructor_validation() {
        let empty: Vec<String> = Vec::new();
        let cases: Vec<(Result<Requirement, SelectorParseError>, &str)> = vec![
            (
                Requirement::new("k", Operator::In, empty.clone()),
                "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty",
            ),
            (
                Requirement::new("k", Operator::Equals, ["a", "b"]),
                "values: Invalid value: []string{\"a\", \"b\"}: exact-match compatibility requires one single value",
            ),
            (Requirement::new("k", Operator::Exists, ["a"]), "values set must be empty for exists and does not exist"),
            (Requirement::new("k", Operator::LessThan, ["1", "2"]), "exactly one value is required"),
        ];
        for (result, expected) in cases {
            match result {
                Ok(r) => panic!("expected {expected:?}, built {r}"),
                Err(e) => {
                    let message = e.to_string();
                    assert!(message.contains(expected), "{message:?} lacks {expected:?}");
                }
            }
        }
        let Ok(r) = Requirement::new("k", Operator::NotIn, ["b", "a", "b"]) else { panic!("valid requirement") };
        assert_eq!(r.key(), "k");
        assert_eq!(r.operator(), Operator::NotIn);
        assert_eq!(r.values().iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(r.to_string(), "k notin (a,b)");
        assert_eq!(Operator::GreaterThan.to_string(), "gt");
    }

    #[test]
    fn requires_exact_match() {
        let Ok(s) = Selector::parse("a=1,b in (2),c in (3,4),d!=5,e") else { panic!("parses") };
        assert_eq!(s.requires_exact_match("a"), Some("1"));
        assert_eq!(s.requires_exact_match("b"), Some("2"));
        assert_eq!(s.requires_exact_match("c"), None);
        assert_eq!(s.requires_exact_match("d"), None);
        assert_eq!(s.requires_exact_match("e"), None);
        assert_eq!(s.requires_exact_match("z"), None);
    }

    #[test]
    fn from_map() {
        let map = labels(&[("b", "2"), ("a", "1")]);
        let s = Selector::from_map(&map);
        assert_eq!(s.to_string(), "a=1,b=2");
        assert!(s.matches(&labels(&[("a", "1"), ("b", "2"), ("c", "3")])));
        assert!(!s.matches(&labels(&[("a", "1")])));
        assert!(Selector::from_map(&SortedMap::new()).is_empty());
        assert_eq!(Selector::validated_from_map(&map).ok(), Some(s));
        let bad = labels(&[("a", "-x")]);
        assert!(Selector::validated_from_map(&bad).is_err());
        assert_eq!(Selector::from_map(&bad).to_string(), "a=-x");
    }

    fn expr(key: &str, operator: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.to_owned(),
            operator: operator.to_owned(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    #[test]
    fn label_selector_conversion() {
        let cases: Vec<(LabelSelector, Result<&str, &str>)> = vec![
            (LabelSelector::default(), Ok("")),
            (LabelSelector { match_labels: labels(&[("b", "2"), ("a", "1")]), ..Default::default() }, Ok("a=1,b=2")),
            (
                LabelSelector {
                    match_labels: labels(&[("tier", "web")]),
                    match_expressions: vec![
                        expr("env", "In", &["qa", "prod"]),
                        expr("zone", "NotIn", &["z1"]),
                        expr("gpu", "Exists", &[]),
                        expr("legacy", "DoesNotExist", &[]),
                    ],
                },
                Ok("env in (prod,qa),gpu,!legacy,tier=web,zone notin (z1)"),
            ),
            (
                LabelSelector { match_expressions: vec![expr("a", "In", &[])], ..Default::default() },
                Err("values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty"),
            ),
            (
                LabelSelector { match_expressions: vec![expr("a", "NotIn", &[])], ..Default::default() },
                Err("values set can't be empty"),
            ),
            (
                LabelSelector { match_expressions: vec![expr("a", "Exists", &["x"])], ..Default::default() },
                Err("values: Invalid value: []string{\"x\"}: values set must be empty for exists and does not exist"),
            ),
            (
                LabelSelector { match_expressions: vec![expr("a", "Foo", &[])], ..Default::default() },
                Err("\"Foo\" is not a valid label selector operator"),
            ),
            (
                LabelSelector { match_expressions: vec![expr("a", "in", &["x"])], ..Default::default() },
                Err("\"in\" is not a valid label selector operator"),
            ),
            (
                LabelSelector { match_expressions: vec![expr("a", "Gt", &["1"])], ..Default::default() },
                Err("\"Gt\" is not a valid label selector operator"),
            ),
            (
                LabelSelector { match_labels: labels(&[("bad key", "x")]), ..Default::default() },
                Err("invalid label key \"bad key\""),
            ),
            (
                LabelSelector { match_labels: labels(&[("k", "bad value")]), ..Default::default() },
                Err("invalid label value \"bad value\" for key \"k\""),
            ),
        ];
        for (selector, expected) in cases {
            let result = Selector::try_from(&selector);
            match (result, expected) {
                (Ok(s), Ok(printed)) => {
                    assert_eq!(s.to_string(), printed);
                    assert_eq!(label_selector_to_string(&selector).ok().as_deref(), Some(printed));
                }
                (Err(e), Err(message)) => {
                    let text = e.to_string();
                    assert!(text.contains(message), "{text:?} lacks {message:?}");
                    assert_eq!(format_label_selector(Some(&selector)), "<error>");
                }
                (result, expected) => panic!("{selector:?}: got {result:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn structured_selector_matching() {
        let l = labels(&[("app", "web"), ("env", "prod")]);
        let empty = LabelSelector::default();
        let app = LabelSelector { match_labels: labels(&[("app", "web")]), ..Default::default() };
        let other = LabelSelector { match_labels: labels(&[("app", "db")]), ..Default::default() };
        let bad = LabelSelector { match_expressions: vec![expr("a", "Foo", &[])], ..Default::default() };
        let exists = LabelSelector { match_expressions: vec![expr("env", "Exists", &[])], ..Default::default() };
        assert!(!selector_matches(None, &l));
        assert!(!selector_matches(None, &SortedMap::new()));
        assert!(selector_matches(Some(&empty), &l));
        assert!(selector_matches(Some(&empty), &SortedMap::new()));
        assert!(selector_matches(Some(&app), &l));
        assert!(!selector_matches(Some(&other), &l));
        assert!(!selector_matches(Some(&bad), &l));
        assert!(selector_matches(Some(&exists), &l));
        assert_eq!(format_label_selector(None), "<none>");
        assert_eq!(format_label_selector(Some(&empty)), "<none>");
        assert_eq!(format_label_selector(Some(&app)), "app=web");
    }
}
