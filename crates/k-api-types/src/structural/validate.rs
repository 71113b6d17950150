//! Validation of a custom resource against its schema, with the errors
//! kube-apiserver reports: kube-openapi's schema checks turned into field
//! errors as apiextensions-apiserver turns them, then embedded resources, then
//! list-type uniqueness.

use serde_json::{Map, Value};

use super::{Additional, Node, StructuralSchema, embedded, formats, gofmt, listtype};
use crate::validation::{ErrorList, ErrorType, FieldError, Path};

/// Validates `object` (pruned and defaulted) against the schema and returns
/// every error kube-apiserver 1.32 would report for it, in its order: the
/// schema checks, then the `apiVersion`, `kind` and `metadata` of
/// `x-kubernetes-embedded-resource` objects, then the uniqueness of
/// `x-kubernetes-list-type: set` items and `map` keys.
///
/// Paths and messages are kube's:
/// - `spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"`
///   (`FieldValueTypeInvalid`; the value is the JSON type found),
/// - `spec.engine: Required value`,
/// - `spec.engine: Unsupported value: "redis": supported values: "valkey", "memcached"`,
/// - `spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1`,
/// - `spec.name: Too long: may not be more than 8 bytes`, `spec.ports: Too many: 5: must have at most 4 items`,
/// - `spec.tags[2]: Duplicate value: "a"`,
/// - `: Invalid value: "": "spec.size" must validate at least one schema (anyOf)`
///   (junctor failures carry no field, as in kube).
///
/// CEL rules (`x-kubernetes-validations`) are not evaluated.
pub fn validate(schema: &StructuralSchema, object: &Value) -> ErrorList {
    let mut errors = check(&schema.root, "", object).errors;
    embedded::validate(&schema.root, object, &Path::default(), &mut errors);
    listtype::validate(&schema.root, object, &Path::default(), &mut errors);
    errors
}

/// The result of checking a value: its errors, and how many checks ran (kube
/// picks the failing `anyOf`/`oneOf` branch that ran the most).
#[derive(Default)]
struct Outcome {
    errors: ErrorList,
    checks: usize,
}

impl Outcome {
    fn fail(e: FieldError) -> Self {
        Self { errors: vec![e], checks: 0 }
    }

    fn passed() -> Self {
        Self { errors: Vec::new(), checks: 1 }
    }

    fn merge(&mut self, other: Self) {
        self.errors.extend(other.errors);
        self.checks += other.checks;
    }

    fn valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// A JSON value as Go's decoder types it: integers that fit an `int64` are
/// integers, every other number is a float.
enum Data<'a> {
    Null,
    Bool,
    Str(&'a str),
    Int(i64),
    Float(f64),
    Array(&'a [Value]),
    Object(&'a Map<String, Value>),
}

impl<'a> Data<'a> {
    fn of(v: &'a Value) -> Self {
        match v {
            Value::Null => Self::Null,
            Value::Bool(_) => Self::Bool,
            Value::String(s) => Self::Str(s),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Self::Int(i),
                None => Self::Float(n.as_f64().unwrap_or_default()),
            },
            Value::Array(a) => Self::Array(a),
            Value::Object(o) => Self::Object(o),
        }
    }

    /// The JSON schema type of the value and the format Go infers for it.
    fn schema_type(&self) -> (&'static str, &'static str) {
        match self {
            Self::Null => ("null", ""),
            Self::Bool => ("boolean", ""),
            Self::Str(_) => ("string", ""),
            Self::Int(_) => ("integer", "int64"),
            Self::Float(_) => ("number", "float64"),
            Self::Array(_) => ("array", ""),
            Self::Object(_) => ("object", ""),
        }
    }
}

/// The field path kube reports for a validator path (`.spec` → `spec`).
fn field(name: &str) -> String {
    name.strip_prefix('.').unwrap_or(name).to_owned()
}

fn error(type_: ErrorType, name: &str, value: Value, detail: String) -> FieldError {
    FieldError { type_, field: field(name), value: Some(value), detail }
}

fn invalid(name: &str, value: Value, detail: String) -> FieldError {
    error(ErrorType::Invalid, name, value, detail)
}

/// `InvalidType`: `<name> in body must be of type <t>: "<found>"`.
fn type_invalid(name: &str, t: &str, found: &str) -> FieldError {
    let detail = format!("{name} in body must be of type {t}: {}", gofmt::quote(found));
    error(ErrorType::TypeInvalid, name, Value::String(found.to_owned()), detail)
}

/// An error kube-openapi does not attach to a field (junctor failures).
fn composite(detail: String) -> FieldError {
    FieldError { type_: ErrorType::Invalid, field: String::new(), value: Some(Value::String(String::new())), detail }
}

/// The offending value as kube prints it (`null` as the string `"null"`).
fn bad_value(v: &Value) -> Value {
    if v.is_null() { Value::String("null".to_owned()) } else { v.clone() }
}

/// Whether a float is an integer as far as JSON goes (kube-openapi's test,
/// including its tolerance of 1e-9 relative error).
fn is_json_integer(f: f64) -> bool {
    const MAX: f64 = 9_007_199_254_740_991.0;
    if !f.is_finite() || !(-MAX..=MAX).contains(&f) {
        return false;
    }
    if f.fract() == 0.0 {
        return true;
    }
    if f < 0.0 {
        return false;
    }
    let g = f.trunc();
    if g == 0.0 {
        return false;
    }
    (f - g).abs() / (f + g) < 1e-9
}

/// Checks `v` at validator path `name` against `s`: kube-openapi's schema
/// validator (type, junctors, string, format, number, array, enum, object).
fn check(s: &Node, name: &str, v: &Value) -> Outcome {
    let data = Data::of(v);
    let mut out = Outcome::default();
    if matches!(data, Data::Null) {
        out.merge(check_type(s, name, &data));
        out.merge(check_enum(s, name, v, &data));
        return out;
    }
    let run = |out: &mut Outcome, o: Outcome| {
        out.merge(o);
        out.checks += 1;
    };
    if !s.types.is_empty() || s.format.is_some() {
        run(&mut out, check_type(s, name, &data));
    }
    run(&mut out, check_junctors(s, name, v));
    if let Data::Str(st) = data {
        run(&mut out, check_string(s, name, st));
        if let Some(f) = &s.format {
            let o = if formats::check(f, st) {
                Outcome::default()
            } else {
                let detail = format!("{name} in body must be of type {f}: {}", gofmt::quote(st));
                Outcome::fail(error(ErrorType::TypeInvalid, name, v.clone(), detail))
            };
            run(&mut out, o);
        }
    }
    if matches!(data, Data::Int(_) | Data::Float(_)) {
        run(&mut out, check_number(s, name, &data));
    }
    if let Data::Array(items) = data {
        run(&mut out, check_array(s, name, items));
    }
    run(&mut out, check_enum(s, name, v, &data));
    if let Data::Object(map) = data {
        run(&mut out, check_object(s, name, map));
    }
    out.checks += 1;
    out
}

fn check_type(s: &Node, name: &str, data: &Data<'_>) -> Outcome {
    let has = |t: &str| s.types.iter().any(|x| x == t);
    let types = s.types.join(",");
    if matches!(data, Data::Null) {
        if !s.types.is_empty() && !has("null") && !s.nullable {
            return Outcome::fail(type_invalid(name, &types, "null"));
        }
        return Outcome::passed();
    }
    let (found, found_format) = data.schema_type();
    let float_int = matches!(data, Data::Float(f) if is_json_integer(*f)) && has("integer");
    let int_float = found == "integer" && has("number");
    let matches = has(found) || float_int || int_float;
    let stringish = matches!(data, Data::Str(_) | Data::Array(_));
    if let Some(format) = &s.format {
        if !stringish && !matches {
            return Outcome::fail(type_invalid(name, format, found_format));
        }
        if stringish && !has("number") && !has("integer") {
            return Outcome::passed();
        }
    }
    if !matches {
        return Outcome::fail(type_invalid(name, &types, found));
    }
    Outcome::passed()
}

/// `anyOf`, `oneOf`, `allOf` and `not`: each alternative is checked at the
/// same path; a failing `anyOf`/`oneOf` also reports the errors of the
/// alternative that ran the most checks.
fn check_junctors(s: &Node, name: &str, v: &Value) -> Outcome {
    let mut out = Outcome::default();
    let quoted = gofmt::quote(name);
    if !s.any_of.is_empty() {
        let mut best: Option<Outcome> = None;
        let mut success = None;
        for alt in &s.any_of {
            let r = check(alt, name, v);
            if r.valid() {
                best = None;
                success = Some(r);
                break;
            }
            if best.as_ref().is_none_or(|b| r.checks > b.checks) {
                best = Some(r);
            }
        }
        if success.is_none() {
            out.errors.push(composite(format!("{quoted} must validate at least one schema (anyOf)")));
        }
        if let Some(r) = best.or(success) {
            out.merge(r);
        }
    }
    if !s.one_of.is_empty() {
        let mut best: Option<Outcome> = None;
        let mut success = None;
        let mut passed = 0;
        for alt in &s.one_of {
            let r = check(alt, name, v);
            if r.valid() {
                passed += 1;
                best = None;
                success.get_or_insert(r);
                continue;
            }
            if passed == 0 && best.as_ref().is_none_or(|b| r.checks > b.checks) {
                best = Some(r);
            }
        }
        if passed == 1 {
            if let Some(r) = success {
                out.merge(r);
            }
        } else {
            let found =
                if passed == 0 { "Found none valid".to_owned() } else { format!("Found {passed} valid alternatives") };
            out.errors.push(composite(format!("{quoted} must validate one and only one schema (oneOf). {found}")));
            if let Some(r) = best {
                out.merge(r);
            }
        }
    }
    if !s.all_of.is_empty() {
        let mut passed = 0;
        for alt in &s.all_of {
            let r = check(alt, name, v);
            if r.valid() {
                passed += 1;
            }
            out.merge(r);
        }
        if passed != s.all_of.len() {
            let none = if passed == 0 { ". None validated" } else { "" };
            out.errors.push(composite(format!("{quoted} must validate all the schemas (allOf){none}")));
        }
    }
    if let Some(not) = &s.not
        && check(not, name, v).valid()
    {
        out.errors.push(composite(format!("{quoted} must not validate the schema (not)")));
    }
    out.checks += 1;
    out
}

/// `maxLength`, `minLength` and `pattern`, stopping at the first failure.
fn check_string(s: &Node, name: &str, st: &str) -> Outcome {
    let len = i64::try_from(st.chars().count()).unwrap_or(i64::MAX);
    if let Some(max) = s.max_length
        && len > max
    {
        return Outcome::fail(FieldError::too_long(&Path::new(&field(name)), usize::try_from(max).unwrap_or(0)));
    }
    if let Some(min) = s.min_length
        && len < min
    {
        return Outcome::fail(invalid(name, st.into(), format!("{name} in body should be at least {min} chars long")));
    }
    if let Some(p) = &s.pattern {
        let detail = match &p.regex {
            Ok(re) if re.is_match(st) => return Outcome::default(),
            Ok(_) => format!("{name} in body should match '{}'", p.source),
            Err(e) => format!("{name} in body should match '{}, but pattern is invalid: {e}'", p.source),
        };
        return Outcome::fail(invalid(name, st.into(), detail));
    }
    Outcome::default()
}

/// `multipleOf`, `minimum` and `maximum`. An integer is compared with the
/// bounds truncated to integers, as kube-openapi does.
fn check_number(s: &Node, name: &str, data: &Data<'_>) -> Outcome {
    let mut out = Outcome { errors: Vec::new(), checks: 1 };
    let (int, f, value) = match *data {
        Data::Int(i) => (Some(i), i as f64, Value::from(i)),
        Data::Float(f) => (None, f, Value::from(f)),
        _ => return out,
    };
    if let Some(m) = s.multiple_of {
        match int {
            // A factor that truncates to 0 would divide by zero: check as floats.
            Some(i) if m as i64 != 0 => {
                let factor = m as i64;
                if factor < 0 {
                    let detail = format!("factor MultipleOf declared for {name} must be positive: {factor}");
                    out.errors.push(invalid(name, factor.into(), detail));
                } else if i % factor != 0 {
                    out.errors.push(invalid(
                        name,
                        value.clone(),
                        format!("{name} in body should be a multiple of {factor}"),
                    ));
                }
            }
            _ => {
                if m < 0.0 {
                    let detail = format!("factor MultipleOf declared for {name} must be positive: {}", gofmt::float(m));
                    out.errors.push(invalid(name, m.into(), detail));
                } else {
                    let ratio = if m < 1.0 { 1.0 / m * f } else { f / m };
                    if !is_json_integer(ratio) {
                        let detail = format!("{name} in body should be a multiple of {}", gofmt::float(m));
                        out.errors.push(invalid(name, value.clone(), detail));
                    }
                }
            }
        }
    }
    let bound = |b: f64| if int.is_some() { (b as i64).to_string() } else { gofmt::float(b) };
    if let Some(min) = s.minimum {
        let below = match int {
            Some(i) => i < min as i64 || (s.exclusive_minimum && i == min as i64),
            None => f < min || (s.exclusive_minimum && f == min),
        };
        if below {
            let op = if s.exclusive_minimum { "greater than" } else { "greater than or equal to" };
            out.errors.push(invalid(name, value.clone(), format!("{name} in body should be {op} {}", bound(min))));
        }
    }
    if let Some(max) = s.maximum {
        let above = match int {
            Some(i) => i > max as i64 || (s.exclusive_maximum && i == max as i64),
            None => f > max || (s.exclusive_maximum && f == max),
        };
        if above {
            let op = if s.exclusive_maximum { "less than" } else { "less than or equal to" };
            out.errors.push(invalid(name, value, format!("{name} in body should be {op} {}", bound(max))));
        }
    }
    out
}

/// Items, then `minItems`, `maxItems` and `uniqueItems`.
fn check_array(s: &Node, name: &str, items: &[Value]) -> Outcome {
    let mut out = Outcome::default();
    if let Some(item_schema) = &s.items {
        for (i, item) in items.iter().enumerate() {
            out.merge(check(item_schema, &format!("{name}[{i}]"), item));
        }
    }
    let size = i64::try_from(items.len()).unwrap_or(i64::MAX);
    if let Some(min) = s.min_items
        && size < min
    {
        out.errors.push(invalid(name, size.into(), format!("{name} in body should have at least {min} items")));
    }
    if let Some(max) = s.max_items
        && size > max
    {
        out.errors.push(FieldError::too_many(&Path::new(&field(name)), items.len(), usize::try_from(max).unwrap_or(0)));
    }
    if s.unique_items && items.iter().enumerate().any(|(i, a)| items[..i].contains(a)) {
        out.errors.push(invalid(name, "".into(), format!("{name} in body shouldn't contain duplicates")));
    }
    out.checks += 1;
    out
}

/// Whether `v` equals enum value `e` once converted to its type, as Go's
/// reflection does (an integer matches an equal float and vice versa,
/// truncating a float compared with an integer).
fn enum_matches(data: &Data<'_>, v: &Value, e: &Value) -> bool {
    match (data, Data::of(e)) {
        (Data::Null, _) | (_, Data::Null) => false,
        (Data::Int(i), Data::Int(j)) => *i == j,
        (Data::Int(i), Data::Float(g)) => *i as f64 == g,
        (Data::Float(f), Data::Int(j)) => *f as i64 == j,
        (Data::Float(f), Data::Float(g)) => *f == g,
        _ => v == e,
    }
}

/// `enum`: kube reports `Unsupported value` with the allowed values.
fn check_enum(s: &Node, name: &str, v: &Value, data: &Data<'_>) -> Outcome {
    if s.enum_.is_empty() || s.enum_.iter().any(|e| enum_matches(data, v, e)) {
        return Outcome::default();
    }
    let supported: Vec<String> =
        s.enum_.iter().map(|e| gofmt::quote(&e.as_str().map_or_else(|| gofmt::json(e), str::to_owned))).collect();
    Outcome::fail(error(
        ErrorType::NotSupported,
        name,
        bad_value(v),
        format!("supported values: {}", supported.join(", ")),
    ))
}

/// `minProperties`/`maxProperties` (stopping there), `additionalProperties`,
/// the properties present, then `required`.
fn check_object(s: &Node, name: &str, map: &Map<String, Value>) -> Outcome {
    let mut out = Outcome::default();
    let count = i64::try_from(map.len()).unwrap_or(i64::MAX);
    if let Some(min) = s.min_properties
        && count < min
    {
        return Outcome::fail(invalid(
            name,
            count.into(),
            format!("{name} in body should have at least {min} properties"),
        ));
    }
    if let Some(max) = s.max_properties
        && count > max
    {
        let e = FieldError::too_many(&Path::new(&field(name)), map.len(), usize::try_from(max).unwrap_or(0));
        return Outcome::fail(e);
    }
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    match &s.additional {
        Some(Additional::Bool(false)) => {
            for k in keys.iter().filter(|k| !s.properties.contains_key(k.as_str())) {
                out.errors.push(invalid(
                    name,
                    (*k).as_str().into(),
                    format!("{name}.{k} in body is a forbidden property"),
                ));
            }
        }
        Some(Additional::Schema(a)) => {
            for k in keys.iter().filter(|k| !s.properties.contains_key(k.as_str())) {
                out.merge(check(a, &format!("{name}.{k}"), &map[k.as_str()]));
            }
        }
        _ => {}
    }
    for (p, ps) in &s.properties {
        if let Some(pv) = map.get(p) {
            let child = if name.is_empty() { p.clone() } else { format!("{name}.{p}") };
            out.merge(check(ps, &child, pv));
        }
    }
    for r in &s.required {
        if !map.contains_key(r) {
            out.errors.push(FieldError::required(&Path::new(&field(&format!("{name}.{r}"))), ""));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_integers() {
        assert!(is_json_integer(3.0));
        assert!(is_json_integer(2.000_000_000_000_1));
        assert!(!is_json_integer(2.5));
        assert!(!is_json_integer(-2.5));
        assert!(!is_json_integer(0.5));
        assert!(!is_json_integer(1e300));
        // kube-openapi truncates, so a value just below an integer is not one.
        assert!(!is_json_integer(2.999_999_999_999_999_6));
    }
}
