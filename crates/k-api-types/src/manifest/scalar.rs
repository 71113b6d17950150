//! YAML 1.1 scalar resolution, following go-yaml v2 and `sigs.k8s.io/yaml`.

use base64::Engine as _;
use serde_json::{Number, Value};

/// A resolved YAML scalar, before it becomes a JSON value or a mapping key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
}

impl Scalar {
    /// The YAML tag the value resolved to, for error messages.
    fn tag(&self) -> &'static str {
        match self {
            Scalar::Null => "!!null",
            Scalar::Bool(_) => "!!bool",
            Scalar::Int(_) | Scalar::Uint(_) => "!!int",
            Scalar::Float(_) => "!!float",
            Scalar::Str(_) => "!!str",
        }
    }
}

/// Resolves a plain (unquoted, untagged) scalar as go-yaml v2 does.
pub(crate) fn resolve_plain(text: &str) -> Scalar {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Scalar::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Scalar::Bool(false);
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        _ => {}
    }
    match text.as_bytes().first() {
        Some(b'.') => {
            // go-yaml hands these to ParseFloat unchanged: underscores only between digits.
            let plain: String = text.chars().filter(|&c| c != '_').collect();
            if underscores_between_digits(text)
                && let Some(f) = parse_yaml_float(&plain)
            {
                return Scalar::Float(f);
            }
            Scalar::Str(text.to_owned())
        }
        Some(b'+' | b'-' | b'0'..=b'9') => {
            let plain: String = text.chars().filter(|&c| c != '_').collect();
            if let Some(int) = parse_go_int(&plain) {
                return int;
            }
            if let Some(f) = parse_yaml_float(&plain) {
                return Scalar::Float(f);
            }
            Scalar::Str(text.to_owned())
        }
        _ => Scalar::Str(text.to_owned()),
    }
}

/// Resolves a scalar carrying a tag. `core` is the tag's name when it is in the YAML core
/// namespace (`!!int` → `"int"`), `None` for other tags, whose scalars are strings.
pub(crate) fn resolve_tagged(core: Option<&str>, text: &str) -> Result<Scalar, String> {
    let expect = |want: &str, got: Scalar, ok: fn(&Scalar) -> bool| {
        if ok(&got) { Ok(got) } else { Err(format!("cannot decode {} `{text}` as a !!{want}", got.tag())) }
    };
    match core {
        Some("int") => expect("int", resolve_plain(text), |s| matches!(s, Scalar::Int(_) | Scalar::Uint(_))),
        Some("bool") => expect("bool", resolve_plain(text), |s| matches!(s, Scalar::Bool(_))),
        Some("null") => expect("null", resolve_plain(text), |s| matches!(s, Scalar::Null)),
        Some("float") => match resolve_plain(text) {
            #[allow(clippy::cast_precision_loss)] // as Go's float64(int) conversion
            Scalar::Int(i) => Ok(Scalar::Float(i as f64)),
            #[allow(clippy::cast_precision_loss)]
            Scalar::Uint(u) => Ok(Scalar::Float(u as f64)),
            other => expect("float", other, |s| matches!(s, Scalar::Float(_))),
        },
        Some("binary") => {
            let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact.as_bytes())
                .map(|bytes| Scalar::Str(String::from_utf8_lossy(&bytes).into_owned()))
                .map_err(|_| "!!binary value contains invalid base64 data".to_owned())
        }
        // !!str, !!timestamp, !!merge, and tags go-yaml cannot resolve: the text itself.
        _ => Ok(Scalar::Str(text.to_owned())),
    }
}

/// Converts a resolved scalar to JSON as Go's `encoding/json` prints the go-yaml value.
pub(crate) fn to_json(scalar: Scalar) -> Result<Value, String> {
    Ok(match scalar {
        Scalar::Null => Value::Null,
        Scalar::Bool(b) => Value::Bool(b),
        Scalar::Int(i) => Value::Number(i.into()),
        Scalar::Uint(u) => Value::Number(u.into()),
        Scalar::Str(s) => Value::String(s),
        Scalar::Float(f) => float_to_json(f)?,
    })
}

/// Go prints an integral float64 below 1e21 without fraction or exponent, so the JSON
/// Kubernetes decodes holds an integer: keep it one when it fits `i64`/`u64`.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
fn float_to_json(f: f64) -> Result<Value, String> {
    if f.is_nan() {
        return Err("float value .nan cannot be represented in JSON".to_owned());
    }
    if f.is_infinite() {
        let text = if f > 0.0 { ".inf" } else { "-.inf" };
        return Err(format!("float value {text} cannot be represented in JSON"));
    }
    if f.fract() == 0.0 {
        // i64::MIN as f64 is exactly -2^63; i64::MAX as f64 / u64::MAX as f64 round up to
        // 2^63 / 2^64, hence the strict upper bounds.
        if f >= i64::MIN as f64 && f < i64::MAX as f64 {
            return Ok(Value::Number((f as i64).into()));
        }
        if f >= 0.0 && f < u64::MAX as f64 {
            return Ok(Value::Number((f as u64).into()));
        }
    }
    Number::from_f64(f).map(Value::Number).ok_or_else(|| "float value cannot be represented in JSON".to_owned())
}

/// Converts a resolved scalar used as a mapping key to the string `sigs.k8s.io/yaml` uses.
pub(crate) fn to_key(scalar: Scalar) -> Result<String, String> {
    match scalar {
        Scalar::Null => Err("unsupported map key: null".to_owned()),
        Scalar::Bool(b) => Ok(b.to_string()),
        Scalar::Int(i) => Ok(i.to_string()),
        Scalar::Uint(u) => Ok(u.to_string()),
        Scalar::Float(f) => Ok(go_format_float32_g(f)),
        Scalar::Str(s) => Ok(s),
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)` with infinities and NaN spelled as YAML,
/// as `sigs.k8s.io/yaml` formats float keys.
#[allow(clippy::cast_possible_truncation)]
pub(crate) fn go_format_float32_g(f: f64) -> String {
    if f.is_nan() {
        return ".nan".to_owned();
    }
    let single = f as f32;
    if single.is_infinite() {
        return if single > 0.0 { ".inf" } else { "-.inf" }.to_owned();
    }
    if single == 0.0 {
        return if single.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // Rust's `{:e}` prints the shortest digits that round-trip, like Go's precision -1.
    let sci = format!("{single:e}");
    let Some((mantissa, exponent)) = sci.split_once('e') else {
        return single.to_string();
    };
    let Ok(exponent) = exponent.parse::<i32>() else {
        return single.to_string();
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::new();
    if mantissa.starts_with('-') {
        out.push('-');
    }
    if !(-4..6).contains(&exponent) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push_str(if exponent < 0 { "e-" } else { "e+" });
        let magnitude = exponent.unsigned_abs();
        if magnitude < 10 {
            out.push('0');
        }
        out.push_str(&magnitude.to_string());
    } else if exponent >= 0 {
        let int_len = exponent.unsigned_abs() as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            out.push_str(&"0".repeat(int_len - digits.len()));
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    } else {
        out.push_str("0.");
        out.push_str(&"0".repeat(exponent.unsigned_abs() as usize - 1));
        out.push_str(&digits);
    }
    out
}

/// `strconv.ParseInt(s, 0, 64)`, falling back to `ParseUint(s, 0, 64)` (which takes no
/// sign): decimal, `0x`, `0o`, `0b` prefixes, and a bare leading `0` for octal.
fn parse_go_int(s: &str) -> Option<Scalar> {
    let (negative, signed, body) = match s.as_bytes().first() {
        Some(b'-') => (true, true, &s[1..]),
        Some(b'+') => (false, true, &s[1..]),
        _ => (false, false, s),
    };
    let lower = body.get(..2).map(str::to_ascii_lowercase);
    let (radix, digits) = match lower.as_deref() {
        Some("0x") => (16, &body[2..]),
        Some("0o") => (8, &body[2..]),
        Some("0b") => (2, &body[2..]),
        _ if body.len() > 1 && body.starts_with('0') => (8, &body[1..]),
        _ => (10, body),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        let value = 0i128 - i128::from(magnitude);
        return i64::try_from(value).ok().map(Scalar::Int);
    }
    match i64::try_from(magnitude) {
        Ok(value) => Some(Scalar::Int(value)),
        Err(_) if !signed => Some(Scalar::Uint(magnitude)),
        Err(_) => None,
    }
}

/// go-yaml's float pattern `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    fn digits(s: &[u8]) -> usize {
        s.iter().take_while(|b| b.is_ascii_digit()).count()
    }
    let mut rest = s.as_bytes();
    if let [b'+' | b'-', tail @ ..] = rest {
        rest = tail;
    }
    if let [b'.', tail @ ..] = rest {
        let n = digits(tail);
        if n == 0 {
            return false;
        }
        rest = &tail[n..];
    } else {
        let n = digits(rest);
        if n == 0 {
            return false;
        }
        rest = &rest[n..];
        if let [b'.', tail @ ..] = rest {
            rest = &tail[digits(tail)..];
        }
    }
    if let [b'e' | b'E', exponent @ ..] = rest {
        let tail = exponent.strip_prefix(b"+").or_else(|| exponent.strip_prefix(b"-")).unwrap_or(exponent);
        let n = digits(tail);
        if n == 0 {
            return false;
        }
        rest = &tail[n..];
    }
    rest.is_empty()
}

/// Go's rule for underscores in numbers: each sits between two digits.
fn underscores_between_digits(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.iter().enumerate().all(|(i, &b)| {
        b != b'_' || (i > 0 && bytes[i - 1].is_ascii_digit() && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
    })
}

/// Parses a float matching [`is_yaml_float`]; `None` when it does not or is out of `f64`
/// range (Go's `ParseFloat` fails there too).
fn parse_yaml_float(s: &str) -> Option<f64> {
    if !is_yaml_float(s) {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}
