//! [`IntOrString`]: a value that is either a 32-bit integer or a string,
//! wire-compatible with Kubernetes' `intstr.IntOrString` (used for ports such
//! as `targetPort: 8080` / `targetPort: http` and for rollout budgets such as
//! `maxUnavailable: 1` / `maxUnavailable: "25%"`).

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserialize, Deserializer, Unexpected, Visitor};
use serde::ser::{Serialize, Serializer};

/// Either a 32-bit integer or a string.
///
/// Serializes as a bare JSON integer or JSON string; deserializes from exactly
/// those (floats, integers outside the `i32` range, booleans, `null`, arrays
/// and objects are errors).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IntOrString {
    /// An integer value, e.g. `8080` or `1`.
    Int(i32),
    /// A string value, e.g. `"http"` or `"25%"`.
    String(String),
}

/// Error returned by [`IntOrString::scaled_value`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntOrStringError {
    /// The value is a string that does not end in `%`.
    #[error("invalid value for IntOrString: invalid type: string is not a percentage")]
    NotAPercentage,
    /// The value ends in `%` but what precedes it is not an integer.
    #[error("invalid value for IntOrString: invalid value {value:?}: not an integer percentage")]
    InvalidPercentage {
        /// The offending string, including the `%`.
        value: String,
    },
    /// The scaled result does not fit in an `i32`.
    #[error("invalid value for IntOrString: {value:?} of {total} is out of range for a 32-bit integer")]
    OutOfRange {
        /// The percentage string, including the `%`.
        value: String,
        /// The total it was applied to.
        total: i32,
    },
}

impl IntOrString {
    /// The integer, if this is [`IntOrString::Int`].
    pub fn as_int(&self) -> Option<i32> {
        match self {
            Self::Int(n) => Some(*n),
            Self::String(_) => None,
        }
    }

    /// The string, if this is [`IntOrString::String`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Int(_) => None,
            Self::String(s) => Some(s),
        }
    }

    /// Whether this is a string of the form `<integer>%` (e.g. `"25%"`).
    pub fn is_percent(&self) -> bool {
        match self {
            Self::Int(_) => false,
            Self::String(s) => parse_percent(s).is_some(),
        }
    }

    /// Resolves an absolute number or a percentage of `total`, like
    /// Kubernetes' `GetScaledValueFromIntOrPercent`.
    ///
    /// * `Int(n)` → `n` (not scaled).
    /// * `String("25%")` → `total × 25 / 100`, rounded up if `round_up`,
    ///   otherwise down (so 25% of 10 is 3 rounded up, 2 rounded down).
    ///   The percentage may be signed and may exceed 100.
    ///
    /// # Errors
    ///
    /// * [`IntOrStringError::NotAPercentage`] for a string without a
    ///   trailing `%` (`"abc"`, `"10"`);
    /// * [`IntOrStringError::InvalidPercentage`] when the part before `%` is
    ///   not an integer (`"abc%"`, `"1.5%"`);
    /// * [`IntOrStringError::OutOfRange`] when the result does not fit in an
    ///   `i32`.
    pub fn scaled_value(&self, total: i32, round_up: bool) -> Result<i32, IntOrStringError> {
        let s = match self {
            Self::Int(n) => return Ok(*n),
            Self::String(s) => s,
        };
        if !s.ends_with('%') {
            return Err(IntOrStringError::NotAPercentage);
        }
        let percent = parse_percent(s).ok_or_else(|| IntOrStringError::InvalidPercentage { value: s.clone() })?;
        // |percent| < 2^63 and |total| < 2^31, so the product fits in i128.
        let product = i128::from(percent) * i128::from(total);
        let scaled = if round_up { div_ceil(product, 100) } else { product.div_euclid(100) };
        i32::try_from(scaled).map_err(|_| IntOrStringError::OutOfRange { value: s.clone(), total })
    }
}

/// `⌈a / b⌉` for a positive divisor.
fn div_ceil(a: i128, b: i128) -> i128 {
    let q = a.div_euclid(b);
    if a.rem_euclid(b) == 0 { q } else { q + 1 }
}

/// Parses `<integer>%` (the integer optionally signed, as Go's `strconv.Atoi`
/// accepts), returning the integer.
fn parse_percent(s: &str) -> Option<i64> {
    s.strip_suffix('%')?.parse().ok()
}

impl Default for IntOrString {
    /// `Int(0)`.
    fn default() -> Self {
        Self::Int(0)
    }
}

impl From<i32> for IntOrString {
    fn from(n: i32) -> Self {
        Self::Int(n)
    }
}

impl From<&str> for IntOrString {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

impl From<String> for IntOrString {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}

impl fmt::Display for IntOrString {
    /// Writes the integer or the string as is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(n) => fmt::Display::fmt(n, f),
            Self::String(s) => f.pad(s),
        }
    }
}

impl Serialize for IntOrString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Int(n) => serializer.serialize_i32(*n),
            Self::String(s) => serializer.serialize_str(s),
        }
    }
}

/// Deserializes an [`IntOrString`] from an integer or a string.
struct IntOrStringVisitor;

impl<'de> Visitor<'de> for IntOrStringVisitor {
    type Value = IntOrString;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer (32-bit) or a string")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<IntOrString, E> {
        i32::try_from(v).map(IntOrString::Int).map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<IntOrString, E> {
        i32::try_from(v).map(IntOrString::Int).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<IntOrString, E> {
        i32::try_from(v)
            .map(IntOrString::Int)
            .map_err(|_| E::custom(format_args!("integer {v} is out of range for a 32-bit integer")))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<IntOrString, E> {
        i32::try_from(v)
            .map(IntOrString::Int)
            .map_err(|_| E::custom(format_args!("integer {v} is out of range for a 32-bit integer")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<IntOrString, E> {
        Ok(IntOrString::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<IntOrString, E> {
        Ok(IntOrString::String(v))
    }
}

impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(IntOrStringVisitor)
    }
}

impl JsonSchema for IntOrString {
    fn schema_name() -> Cow<'static, str> {
        "IntOrString".into()
    }

    fn schema_id() -> Cow<'static, str> {
        concat!(module_path!(), "::IntOrString").into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "x-kubernetes-int-or-string": true
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn deserialize_valid() {
        let cases: &[(&str, IntOrString)] = &[
            ("0", IntOrString::Int(0)),
            ("8080", IntOrString::Int(8080)),
            ("-1", IntOrString::Int(-1)),
            ("2147483647", IntOrString::Int(i32::MAX)),
            ("-2147483648", IntOrString::Int(i32::MIN)),
            ("\"http\"", "http".into()),
            ("\"25%\"", "25%".into()),
            ("\"10\"", "10".into()),
            ("\"\"", "".into()),
            ("\"caf\\u00e9\"", "café".into()),
        ];
        for (json, expected) in cases {
            let got: Result<IntOrString, _> = serde_json::from_str(json);
            assert_eq!(got.as_ref().ok(), Some(expected), "{json}: {got:?}");
            let back = serde_json::to_string(expected).ok();
            let reparsed: Option<IntOrString> = back.and_then(|b| serde_json::from_str(&b).ok());
            assert_eq!(reparsed.as_ref(), Some(expected));
        }
    }

    #[test]
    fn deserialize_invalid() {
        for json in
            ["2147483648", "-2147483649", "18446744073709551615", "1.5", "1.0", "true", "null", "[]", "{}", "[1]"]
        {
            let got = serde_json::from_str::<IntOrString>(json);
            let err = got.err().map(|e| e.to_string());
            assert!(err.as_deref().is_some_and(|e| e.contains("an integer (32-bit) or a string")), "{json}: {err:?}");
        }
    }

    #[test]
    fn serialize() {
        assert_eq!(serde_json::to_string(&IntOrString::Int(3)).ok().as_deref(), Some("3"));
        assert_eq!(serde_json::to_string(&IntOrString::from("25%")).ok().as_deref(), Some("\"25%\""));
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Strategy {
            #[serde(rename = "maxUnavailable")]
            max_unavailable: Option<IntOrString>,
        }
        let s: Result<Strategy, _> = serde_json::from_str(r#"{"maxUnavailable":null}"#);
        assert_eq!(s.ok(), Some(Strategy { max_unavailable: None }));
        let s: Result<Strategy, _> = serde_json::from_str(r#"{"maxUnavailable":"25%"}"#);
        assert_eq!(s.ok(), Some(Strategy { max_unavailable: Some("25%".into()) }));
    }

    #[test]
    fn conversions_and_accessors() {
        assert_eq!(IntOrString::default(), IntOrString::Int(0));
        assert_eq!(IntOrString::from(7), IntOrString::Int(7));
        assert_eq!(IntOrString::from("a"), IntOrString::String("a".to_owned()));
        assert_eq!(IntOrString::from("a".to_owned()), IntOrString::String("a".to_owned()));
        assert_eq!(IntOrString::Int(7).as_int(), Some(7));
        assert_eq!(IntOrString::from("7").as_int(), None);
        assert_eq!(IntOrString::from("7").as_str(), Some("7"));
        assert_eq!(IntOrString::Int(7).as_str(), None);
        assert_eq!(IntOrString::Int(7).to_string(), "7");
        assert_eq!(IntOrString::from("http").to_string(), "http");
        for (value, percent) in [
            (IntOrString::from("25%"), true),
            (IntOrString::from("0%"), true),
            (IntOrString::from("-5%"), true),
            (IntOrString::from("%"), false),
            (IntOrString::from("abc%"), false),
            (IntOrString::from("25"), false),
            (IntOrString::Int(25), false),
        ] {
            assert_eq!(value.is_percent(), percent, "{value:?}");
        }
    }

    #[test]
    fn scaled_values() {
        use IntOrStringError as E;
        let not_pct = Err(E::NotAPercentage);
        let invalid = |s: &str| Err(E::InvalidPercentage { value: s.to_owned() });
        // value, total, round_up, expected
        let cases: Vec<(IntOrString, i32, bool, Result<i32, IntOrStringError>)> = vec![
            (IntOrString::Int(5), 10, true, Ok(5)),
            (IntOrString::Int(5), 10, false, Ok(5)),
            (IntOrString::Int(-3), 0, true, Ok(-3)),
            ("25%".into(), 10, true, Ok(3)),
            ("25%".into(), 10, false, Ok(2)),
            ("0%".into(), 10, true, Ok(0)),
            ("0%".into(), 10, false, Ok(0)),
            ("100%".into(), 10, true, Ok(10)),
            ("100%".into(), 10, false, Ok(10)),
            ("50%".into(), 0, true, Ok(0)),
            ("1%".into(), 1, true, Ok(1)),
            ("1%".into(), 1, false, Ok(0)),
            ("33%".into(), 100, true, Ok(33)),
            ("33%".into(), 7, true, Ok(3)),
            ("33%".into(), 7, false, Ok(2)),
            ("200%".into(), 3, false, Ok(6)),
            ("+10%".into(), 10, false, Ok(1)),
            ("-25%".into(), 10, true, Ok(-2)),
            ("-25%".into(), 10, false, Ok(-3)),
            ("25%".into(), -10, true, Ok(-2)),
            ("100%".into(), i32::MAX, true, Ok(i32::MAX)),
            ("200%".into(), i32::MAX, true, Err(E::OutOfRange { value: "200%".to_owned(), total: i32::MAX })),
            ("abc".into(), 10, true, not_pct.clone()),
            ("10".into(), 10, true, not_pct.clone()),
            ("".into(), 10, true, not_pct.clone()),
            ("%".into(), 10, true, invalid("%")),
            ("abc%".into(), 10, true, invalid("abc%")),
            ("1.5%".into(), 10, true, invalid("1.5%")),
            (" 5%".into(), 10, true, invalid(" 5%")),
            ("5%%".into(), 10, true, invalid("5%%")),
        ];
        for (value, total, round_up, expected) in cases {
            assert_eq!(value.scaled_value(total, round_up), expected, "{value:?} of {total} (up={round_up})");
        }
    }

    #[test]
    fn error_messages() {
        let err = IntOrString::from("abc").scaled_value(10, true).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("invalid value for IntOrString: invalid type: string is not a percentage"));
        let err = IntOrString::from("x%").scaled_value(10, true).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.starts_with("invalid value for IntOrString: invalid value \"x%\"")));
    }

    #[test]
    fn json_schema() {
        let schema = schemars::schema_for!(IntOrString);
        let value = serde_json::to_value(&schema).unwrap_or_default();
        assert_eq!(value["anyOf"], serde_json::json!([{"type": "integer"}, {"type": "string"}]));
        assert_eq!(value["x-kubernetes-int-or-string"], serde_json::json!(true));
        assert_eq!(<IntOrString as JsonSchema>::schema_name(), "IntOrString");
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn percent_matches_float_formula(p in -1000i32..=1000, total in -100_000i32..=100_000) {
            let v = IntOrString::String(format!("{p}%"));
            let exact = f64::from(p) * f64::from(total) / 100.0;
            prop_assert_eq!(v.scaled_value(total, true).ok(), Some(exact.ceil() as i32));
            prop_assert_eq!(v.scaled_value(total, false).ok(), Some(exact.floor() as i32));
        }

        #[test]
        fn int_round_trip(n in any::<i32>()) {
            let json = serde_json::to_string(&IntOrString::Int(n)).unwrap_or_default();
            let back: Option<IntOrString> = serde_json::from_str(&json).ok();
            prop_assert_eq!(back, Some(IntOrString::Int(n)));
        }
    }
}
