//! Field selectors: `field=value`, `field==value` and `field!=value`
//! requirements joined by `,`.
//!
//! Values escape the characters that would otherwise end or split a term
//! with a backslash: `\\` for `\`, `\,` for `,` and `\=` for `=`; any other
//! escape, a trailing lone `\`, or an unescaped `,`/`=` in a value is an
//! error. Field names are not escaped: a term splits at its first `!=`,
//! `==` or `=`. Empty terms (as in `a=b,`) are ignored, so the empty string
//! is the empty selector, which matches everything. Unlike label selectors,
//! whitespace is significant.
//!
//! After parsing, requirements are sorted by their printed form (Kubernetes
//! sorts the raw terms, which only differs for `==`). [`FieldSelector`]
//! prints (via [`Display`](fmt::Display)) each requirement as `field=value`
//! or `field!=value` with the value escaped (`==` prints as `=`), joined by
//! `,`; parsing that output gives a selector printing identically.

use std::fmt;
use std::str::FromStr;

/// Error from parsing or validating a field selector. Messages follow
/// Kubernetes' wording.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldSelectorError {
    /// A term is not `field=value`, `field==value` or `field!=value` with a
    /// non-empty field name.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    Syntax {
        /// The whole selector string.
        selector: String,
        /// The term that could not be understood.
        term: String,
    },
    /// A value contains a backslash escape other than `\\`, `\,` or `\=`, or
    /// ends with a lone backslash.
    #[error("invalid field selector: invalid escape sequence: {sequence}")]
    InvalidEscapeSequence {
        /// The offending sequence (for example `\n`, or `\` at the end).
        sequence: String,
    },
    /// A value contains an unescaped `,` or `=`.
    #[error("invalid field selector: unescaped character in value: '{character}'")]
    UnescapedCharacter {
        /// The character that must be escaped.
        character: char,
    },
    /// The selector uses a field the resource does not support
    /// (kube-apiserver's message).
    #[error("field label not supported: {field}")]
    UnsupportedField {
        /// The unsupported field.
        field: String,
    },
}

/// The operator of a [`FieldRequirement`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldOperator {
    /// `field=value`: the field equals the value.
    Equals,
    /// `field==value`: same meaning as [`FieldOperator::Equals`].
    DoubleEquals,
    /// `field!=value`: the field differs from the value.
    NotEquals,
}

impl FieldOperator {
    /// The operator as written in a selector string: `=`, `==` or `!=`.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldOperator::Equals => "=",
            FieldOperator::DoubleEquals => "==",
            FieldOperator::NotEquals => "!=",
        }
    }
}

impl fmt::Display for FieldOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One term of a [`FieldSelector`]; `value` is unescaped.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldRequirement {
    /// The field path, for example `metadata.name` or `status.phase`.
    pub field: String,
    /// The comparison.
    pub operator: FieldOperator,
    /// The (unescaped) value compared against.
    pub value: String,
}

impl FieldRequirement {
    /// Whether a field whose value is `actual` satisfies this requirement.
    /// An absent field has the value `""`.
    pub fn matches(&self, actual: Option<&str>) -> bool {
        let actual = actual.unwrap_or_default();
        match self.operator {
            FieldOperator::Equals | FieldOperator::DoubleEquals => actual == self.value,
            FieldOperator::NotEquals => actual != self.value,
        }
    }
}

impl fmt::Display for FieldRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.operator {
            FieldOperator::Equals | FieldOperator::DoubleEquals => "=",
            FieldOperator::NotEquals => "!=",
        };
        write!(f, "{}{op}{}", self.field, escape_value(&self.value))
    }
}

/// A field selector: a conjunction of [`FieldRequirement`]s.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

/// Fields every resource supports in field selectors.
const ALWAYS_SUPPORTED: [&str; 2] = ["metadata.name", "metadata.namespace"];

impl FieldSelector {
    /// The empty selector, which matches everything.
    pub fn everything() -> Self {
        FieldSelector::default()
    }

    /// Parses a field selector string (see the [module docs](self)).
    pub fn parse(input: &str) -> Result<Self, FieldSelectorError> {
        let mut requirements = Vec::new();
        for term in split_terms(input) {
            if term.is_empty() {
                continue;
            }
            let syntax = || FieldSelectorError::Syntax { selector: input.to_owned(), term: term.to_owned() };
            let (field, operator, raw_value) = split_term(term).ok_or_else(syntax)?;
            if field.is_empty() {
                return Err(syntax());
            }
            let value = unescape_value(raw_value)?;
            requirements.push(FieldRequirement { field: field.to_owned(), operator, value });
        }
        requirements.sort_by_cached_key(FieldRequirement::to_string);
        Ok(FieldSelector { requirements })
    }

    /// Builds a selector from requirements, kept in the given order.
    pub fn from_requirements(requirements: impl IntoIterator<Item = FieldRequirement>) -> Self {
        FieldSelector { requirements: requirements.into_iter().collect() }
    }

    /// The selector `field=value`.
    pub fn one_term_equal(field: impl Into<String>, value: impl Into<String>) -> Self {
        FieldSelector {
            requirements: vec![FieldRequirement {
                field: field.into(),
                operator: FieldOperator::Equals,
                value: value.into(),
            }],
        }
    }

    /// The requirements.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// Whether the selector has no requirements (and so matches everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The field names used, in requirement order (repeats included).
    pub fn fields(&self) -> impl Iterator<Item = &str> + '_ {
        self.requirements.iter().map(|r| r.field.as_str())
    }

    /// Whether an object matches, given `get` returning the value of a field
    /// (`None`, treated as `""`, when absent): `=`/`==` require equality and
    /// `!=` inequality.
    pub fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        self.requirements.iter().all(|r| r.matches(get(&r.field).as_deref()))
    }

    /// Whether a typed object matches, reading fields with
    /// [`Resource::field_value`](crate::Resource::field_value).
    pub fn matches_resource<K: crate::Resource>(&self, object: &K) -> bool {
        self.matches(|field| object.field_value(field))
    }

    /// The value `field` must equal for an object to match, if some
    /// `field=value` or `field==value` requirement pins it (for indexers).
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == field && r.operator != FieldOperator::NotEquals)
            .map(|r| r.value.as_str())
    }

    /// Checks every field against the fields a resource supports;
    /// `metadata.name` and `metadata.namespace` are always supported. The
    /// first other field not in `supported` gives
    /// [`FieldSelectorError::UnsupportedField`], whose message is
    /// `field label not supported: <field>`.
    pub fn validate_fields(&self, supported: &[&str]) -> Result<(), FieldSelectorError> {
        match self.fields().find(|f| !ALWAYS_SUPPORTED.contains(f) && !supported.contains(f)) {
            Some(field) => Err(FieldSelectorError::UnsupportedField { field: field.to_owned() }),
            None => Ok(()),
        }
    }
}

impl fmt::Display for FieldSelector {
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

impl FromStr for FieldSelector {
    type Err = FieldSelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FieldSelector::parse(s)
    }
}

/// Escapes a value for use in a field selector: `\` → `\\`, `,` → `\,`,
/// `=` → `\=`.
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Reverses [`escape_value`], rejecting unknown escapes, a trailing lone
/// backslash, and unescaped `,` or `=`.
pub fn unescape_value(value: &str) -> Result<String, FieldSelectorError> {
    let mut out = String::with_capacity(value.len());
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(FieldSelectorError::InvalidEscapeSequence { sequence: format!("\\{c}") });
            }
            out.push(c);
            escaped = false;
        } else {
            match c {
                '\\' => escaped = true,
                ',' | '=' => return Err(FieldSelectorError::UnescapedCharacter { character: c }),
                _ => out.push(c),
            }
        }
    }
    if escaped {
        return Err(FieldSelectorError::InvalidEscapeSequence { sequence: "\\".to_owned() });
    }
    Ok(out)
}

/// Splits at commas not preceded by an escaping backslash.
fn split_terms(input: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    if input.is_empty() {
        return terms;
    }
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in input.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            terms.push(&input[start..i]);
            start = i + 1;
        }
    }
    terms.push(&input[start..]);
    terms
}

/// Splits a term at the first operator (`!=`, then `==`, then `=` tried at
/// each position).
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    term.char_indices().find_map(|(i, _)| {
        let rest = &term[i..];
        [("!=", FieldOperator::NotEquals), ("==", FieldOperator::DoubleEquals), ("=", FieldOperator::Equals)]
            .into_iter()
            .find(|(op, _)| rest.starts_with(op))
            .map(|(op, operator)| (&term[..i], operator, &rest[op.len()..]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn parse_and_print() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            (",", ""),
            ("metadata.name=foo", "metadata.name=foo"),
            ("metadata.name==foo", "metadata.name=foo"),
            ("status.phase!=Running", "status.phase!=Running"),
            ("b=2,a=1", "a=1,b=2"),
            ("a=1,,b=2,", "a=1,b=2"),
            ("spec.nodeName=", "spec.nodeName="),
            ("x=a\\,b", "x=a\\,b"),
            ("x=a\\=b\\\\c", "x=a\\=b\\\\c"),
            ("x!=\\,", "x!=\\,"),
            ("a==x,a=y", "a=x,a=y"),
            ("metadata.name = foo", "metadata.name = foo"),
        ];
        for (input, printed) in cases {
            let Ok(selector) = FieldSelector::parse(input) else { panic!("{input:?} should parse") };
            assert_eq!(selector.to_string(), *printed, "printed form of {input:?}");
            let Ok(reparsed) = FieldSelector::parse(printed) else { panic!("{printed:?} reparses") };
            assert_eq!(reparsed.to_string(), *printed, "round trip of {input:?}");
        }
        let Ok(s) = FieldSelector::parse("x=a\\,b\\=c\\\\") else { panic!("parses") };
        assert_eq!(s.requirements()[0].value, "a,b=c\\");
        let Ok(s) = "metadata.name = foo".parse::<FieldSelector>() else { panic!("parses") };
        assert_eq!(s.requirements()[0].field, "metadata.name ");
        assert_eq!(s.requirements()[0].value, " foo");
    }

    #[test]
    fn parse_errors() {
        let cases: &[(&str, &str)] = &[
            ("foo", "invalid selector: 'foo'; can't understand 'foo'"),
            ("a=b,foo", "invalid selector: 'a=b,foo'; can't understand 'foo'"),
            ("x in (a)", "invalid selector: 'x in (a)'; can't understand 'x in (a)'"),
            ("=foo", "invalid selector: '=foo'; can't understand '=foo'"),
            ("x=a=b", "invalid field selector: unescaped character in value: '='"),
            ("x===a", "invalid field selector: unescaped character in value: '='"),
            ("x=a\\nb", "invalid field selector: invalid escape sequence: \\n"),
            ("x=a\\", "invalid field selector: invalid escape sequence: \\"),
        ];
        for (input, expected) in cases {
            match FieldSelector::parse(input) {
                Ok(s) => panic!("{input:?} should fail, parsed as {s}"),
                Err(e) => assert_eq!(e.to_string(), *expected, "{input:?}"),
            }
        }
    }

    #[test]
    fn matching() {
        let object: BTreeMap<&str, &str> =
            [("metadata.name", "web-1"), ("status.phase", "Running"), ("spec.nodeName", "")].into_iter().collect();
        let get = |f: &str| object.get(f).map(|v| (*v).to_owned());
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("metadata.name=web-1", true),
            ("metadata.name==web-1", true),
            ("metadata.name=web-2", false),
            ("metadata.name!=web-2", true),
            ("metadata.name!=web-1", false),
            ("spec.nodeName=", true),
            ("missing=", true),
            ("missing!=", false),
            ("missing=x", false),
            ("missing!=x", true),
            ("metadata.name=web-1,status.phase!=Pending", true),
            ("metadata.name=web-1,status.phase=Pending", false),
        ];
        for (input, expected) in cases {
            let Ok(selector) = FieldSelector::parse(input) else { panic!("{input:?} should parse") };
            assert_eq!(selector.matches(get), *expected, "{input:?}");
        }
        let Ok(s) = FieldSelector::parse("x=a\\,b") else { panic!("parses") };
        assert!(s.matches(|_| Some("a,b".to_owned())));
    }

    #[test]
    fn validate_fields() {
        let Ok(s) = FieldSelector::parse("metadata.name=a,metadata.namespace=b,spec.nodeName=c") else {
            panic!("parses")
        };
        assert_eq!(s.validate_fields(&["spec.nodeName"]), Ok(()));
        let Err(e) = s.validate_fields(&["status.phase"]) else { panic!("should fail") };
        assert_eq!(e.to_string(), "field label not supported: spec.nodeName");
        assert_eq!(e, FieldSelectorError::UnsupportedField { field: "spec.nodeName".to_owned() });
        assert_eq!(FieldSelector::everything().validate_fields(&[]), Ok(()));
        let Ok(s) = FieldSelector::parse("metadata.uid=x") else { panic!("parses") };
        assert_eq!(
            s.validate_fields(&[]).map_err(|e| e.to_string()),
            Err("field label not supported: metadata.uid".to_owned())
        );
    }

    #[test]
    fn accessors() {
        let Ok(s) = FieldSelector::parse("b!=1,a=2,c==3,a=4") else { panic!("parses") };
        assert_eq!(s.fields().collect::<Vec<_>>(), ["a", "a", "b", "c"]);
        assert_eq!(s.requires_exact_match("a"), Some("2"));
        assert_eq!(s.requires_exact_match("b"), None);
        assert_eq!(s.requires_exact_match("c"), Some("3"));
        assert_eq!(s.requires_exact_match("d"), None);
        assert!(!s.is_empty());
        assert!(FieldSelector::everything().is_empty());
        let one = FieldSelector::one_term_equal("metadata.name", "a,b");
        assert_eq!(one.to_string(), "metadata.name=a\\,b");
        assert_eq!(FieldSelector::parse(&one.to_string()).ok(), Some(one));
        assert_eq!(escape_value("a\\b,c=d"), "a\\\\b\\,c\\=d");
        assert_eq!(unescape_value("a\\\\b\\,c\\=d").ok().as_deref(), Some("a\\b,c=d"));
        assert_eq!(FieldOperator::DoubleEquals.to_string(), "==");
        let r = FieldRequirement { field: "f".to_owned(), operator: FieldOperator::NotEquals, value: String::new() };
        assert_eq!(FieldSelector::from_requirements([r]).to_string(), "f!=");
    }
}
