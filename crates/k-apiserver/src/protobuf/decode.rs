//! The generic, table-driven message decoder.

use serde_json::{Map, Number, Value};

use super::ProtobufError;
use super::types::{Field, Kind, Msg, Pres};
use super::wire::{Reader, WireValue};

/// Decodes the bytes of one message described by `msg` into a JSON object.
///
/// `path` names the message for error messages (e.g. `Deployment.spec`).
pub(crate) fn message(msg: &Msg, buf: &[u8], path: &str) -> Result<Map<String, Value>, ProtobufError> {
    let mut seen: Vec<Option<Seen>> = Vec::new();
    seen.resize_with(msg.fields.len(), || None);
    let mut reader = Reader::new(buf);
    while let Some((number, wire)) = reader.next_field().map_err(|e| e.at(path))? {
        let Some(index) = msg.fields.iter().position(|f| f.num == number) else {
            // Unknown field: skipped, for forward compatibility.
            continue;
        };
        let field = &msg.fields[index];
        let field_path = join(path, field.json, msg.name);
        let slot = &mut seen[index];
        match field.pres {
            Pres::L | Pres::Lr => {
                if let Kind::Map(value_kind) = field.kind {
                    let (key, value) = map_entry(value_kind, wire, &field_path)?;
                    let entries = slot.get_or_insert_with(|| Seen::Map(Map::new()));
                    if let Seen::Map(entries) = entries {
                        entries.insert(key, value);
                    }
                } else {
                    let items = slot.get_or_insert_with(|| Seen::List(Vec::new()));
                    if let Seen::List(items) = items {
                        repeated(field.kind, wire, &field_path, items)?;
                    }
                }
            }
            Pres::O | Pres::R | Pres::P | Pres::Pn => {
                let value = single(field.kind, wire, &field_path)?;
                match (slot.as_mut(), value) {
                    // A message that occurs twice is merged, as protobuf does.
                    (Some(Seen::One(Value::Object(old))), Value::Object(new)) => old.extend(new),
                    (_, value) => *slot = Some(Seen::One(value)),
                }
            }
        }
    }

    let mut out = Map::new();
    for (field, slot) in msg.fields.iter().zip(seen) {
        emit(field, slot, msg, path, &mut out)?;
    }
    Ok(out)
}

/// What was read for one field.
#[derive(Debug)]
enum Seen {
    One(Value),
    List(Vec<Value>),
    Map(Map<String, Value>),
}

fn join(path: &str, json: &str, msg_name: &str) -> String {
    if json.is_empty() { format!("{path}.<{msg_name} inline>") } else { format!("{path}.{json}") }
}

/// Applies Go's `encoding/json` rules to one field and writes it into `out`.
fn emit(
    field: &Field,
    slot: Option<Seen>,
    msg: &Msg,
    path: &str,
    out: &mut Map<String, Value>,
) -> Result<(), ProtobufError> {
    let value = match (field.pres, slot) {
        (Pres::L, Some(Seen::List(items))) if !items.is_empty() => Value::Array(items),
        (Pres::L, Some(Seen::Map(entries))) if !entries.is_empty() => Value::Object(entries),
        (Pres::L, _) => return Ok(()),
        (Pres::Lr, Some(Seen::List(items))) if !items.is_empty() => Value::Array(items),
        (Pres::Lr, Some(Seen::Map(entries))) if !entries.is_empty() => Value::Object(entries),
        (Pres::Lr, _) => Value::Null,
        (Pres::P | Pres::Pn, Some(Seen::One(value))) => value,
        (Pres::P, _) => return Ok(()),
        (Pres::Pn, _) => Value::Null,
        (Pres::O, Some(Seen::One(value))) if field.kind.is_plain_scalar() && is_zero(&value) => return Ok(()),
        (Pres::O | Pres::R, Some(Seen::One(value))) => value,
        (Pres::O, _) if field.kind.is_plain_scalar() => return Ok(()),
        (Pres::O | Pres::R, _) => zero(field.kind, &join(path, field.json, msg.name))?,
    };
    if let Kind::Inline(_) = field.kind {
        if let Value::Object(inner) = value {
            out.extend(inner);
        }
    } else {
        out.insert(field.json.to_owned(), value);
    }
    Ok(())
}

/// Whether a plain scalar holds its Go zero value (what `omitempty` drops).
fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_i64() == Some(0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// The JSON of a field's Go zero value, for fields that Go always writes.
fn zero(kind: Kind, path: &str) -> Result<Value, ProtobufError> {
    Ok(match kind {
        Kind::Str => Value::String(String::new()),
        Kind::Bool => Value::Bool(false),
        Kind::I32 | Kind::I64 | Kind::IntOrString => Value::Number(Number::from(0)),
        Kind::Quantity => Value::String("0".to_owned()),
        Kind::Duration => Value::String("0s".to_owned()),
        Kind::Bytes
        | Kind::Time
        | Kind::MicroTime
        | Kind::RawExtension
        | Kind::FieldsV1
        | Kind::StrList
        | Kind::Map(_) => Value::Null,
        Kind::Msg(msg) | Kind::Inline(msg) => Value::Object(message(msg, &[], path)?),
    })
}

/// Decodes a non-repeated field value.
fn single(kind: Kind, wire: WireValue<'_>, path: &str) -> Result<Value, ProtobufError> {
    match (kind, wire) {
        (Kind::Str, WireValue::Len(bytes)) => Ok(Value::String(String::from_utf8_lossy(bytes).into_owned())),
        (Kind::Bytes, WireValue::Len(bytes)) => Ok(Value::String(base64(bytes))),
        (Kind::Bool, WireValue::Varint(v)) => Ok(Value::Bool(v != 0)),
        // int32 is sign-extended to 64 bits on the wire; the low 32 bits are the value.
        (Kind::I32, WireValue::Varint(v)) => Ok(Value::Number(Number::from(i64::from(v as u32 as i32)))),
        (Kind::I64, WireValue::Varint(v)) => Ok(Value::Number(Number::from(v as i64))),
        (Kind::Time, WireValue::Len(bytes)) => time(bytes, path, false),
        (Kind::MicroTime, WireValue::Len(bytes)) => time(bytes, path, true),
        (Kind::Duration, WireValue::Len(bytes)) => duration(bytes, path),
        (Kind::Quantity, WireValue::Len(bytes)) => quantity(bytes, path),
        (Kind::IntOrString, WireValue::Len(bytes)) => int_or_string(bytes, path),
        (Kind::RawExtension, WireValue::Len(bytes)) => raw_extension(bytes, path),
        (Kind::FieldsV1, WireValue::Len(bytes)) => fields_v1(bytes, path),
        (Kind::StrList, WireValue::Len(bytes)) => str_list(bytes, path),
        (Kind::Msg(msg) | Kind::Inline(msg), WireValue::Len(bytes)) => Ok(Value::Object(message(msg, bytes, path)?)),
        (Kind::Map(_), _) => Err(ProtobufError::malformed(path, "map field described as a single value")),
        (kind, wire) => Err(ProtobufError::malformed(
            path,
            format!("expected {} for a {}, got {}", kind.wire_name(), kind.name(), wire.type_name()),
        )),
    }
}

/// Decodes one occurrence of a repeated field, accepting packed encoding for numbers.
fn repeated(kind: Kind, wire: WireValue<'_>, path: &str, items: &mut Vec<Value>) -> Result<(), ProtobufError> {
    if let (Kind::Bool | Kind::I32 | Kind::I64, WireValue::Len(bytes)) = (kind, wire) {
        let mut reader = Reader::new(bytes);
        while !reader.is_empty() {
            let v = reader.varint().map_err(|e| e.at(path))?;
            items.push(single(kind, WireValue::Varint(v), path)?);
        }
        return Ok(());
    }
    let index = items.len();
    items.push(single(kind, wire, &format!("{path}[{index}]"))?);
    Ok(())
}

/// Decodes one `map<string, V>` entry message.
fn map_entry(value_kind: &Kind, wire: WireValue<'_>, path: &str) -> Result<(String, Value), ProtobufError> {
    let WireValue::Len(bytes) = wire else {
        return Err(ProtobufError::malformed(path, format!("expected a map entry, got {}", wire.type_name())));
    };
    let mut key = String::new();
    let mut value = None;
    let mut reader = Reader::new(bytes);
    while let Some((number, wire)) = reader.next_field().map_err(|e| e.at(path))? {
        match (number, wire) {
            (1, WireValue::Len(k)) => key = String::from_utf8_lossy(k).into_owned(),
            (1, other) => {
                return Err(ProtobufError::malformed(
                    path,
                    format!("map key should be a string, got {}", other.type_name()),
                ));
            }
            (2, wire) => value = Some(single(*value_kind, wire, &format!("{path}[{key:?}]"))?),
            _ => {}
        }
    }
    let value = match value {
        Some(value) => value,
        // An entry without a value holds the value type's zero.
        None => match value_kind {
            Kind::Bytes => Value::String(String::new()),
            other => zero(*other, path)?,
        },
    };
    Ok((key, value))
}

/// Reads a small fixed-layout helper message into (field number, value) pairs.
fn fields<'a>(bytes: &'a [u8], path: &str) -> Result<Vec<(u32, WireValue<'a>)>, ProtobufError> {
    let mut out = Vec::new();
    let mut reader = Reader::new(bytes);
    while let Some(field) = reader.next_field().map_err(|e| e.at(path))? {
        out.push(field);
    }
    Ok(out)
}

/// `metav1.Time` (seconds, nanos) and `metav1.MicroTime`: an RFC 3339 string in UTC, or null
/// for the zero time (an empty message).
fn time(bytes: &[u8], path: &str, micro: bool) -> Result<Value, ProtobufError> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    let mut seconds: i64 = 0;
    let mut nanos: u32 = 0;
    for (number, wire) in fields(bytes, path)? {
        match (number, wire) {
            (1, WireValue::Varint(v)) => seconds = v as i64,
            (2, WireValue::Varint(v)) => nanos = (v as u32 as i32).clamp(0, 999_999_999) as u32,
            (1 | 2, other) => {
                return Err(ProtobufError::malformed(path, format!("time field {number} is {}", other.type_name())));
            }
            _ => {}
        }
    }
    // metav1.Time keeps whole seconds only; MicroTime keeps microseconds.
    let nanos = if micro { nanos / 1_000 * 1_000 } else { 0 };
    let Some(at) = chrono::DateTime::<chrono::Utc>::from_timestamp(seconds, nanos) else {
        return Err(ProtobufError::malformed(path, format!("time {seconds}s is out of range")));
    };
    let format = if micro { "%Y-%m-%dT%H:%M:%S%.6fZ" } else { "%Y-%m-%dT%H:%M:%SZ" };
    Ok(Value::String(at.format(format).to_string()))
}

/// `metav1.Duration` (nanoseconds): Go's `time.Duration` string, e.g. `1h0m0s`.
fn duration(bytes: &[u8], path: &str) -> Result<Value, ProtobufError> {
    let mut nanos: i64 = 0;
    for (number, wire) in fields(bytes, path)? {
        match (number, wire) {
            (1, WireValue::Varint(v)) => nanos = v as i64,
            (1, other) => return Err(ProtobufError::malformed(path, format!("duration is {}", other.type_name()))),
            _ => {}
        }
    }
    Ok(Value::String(go_duration(nanos)))
}

/// Formats nanoseconds the way Go's `time.Duration.String` does.
pub(crate) fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    if nanos < 0 {
        out.push('-');
    }
    let u = nanos.unsigned_abs();
    if u < 1_000_000_000 {
        let (unit, digits) = match u {
            0..1_000 => ("ns", 0),
            1_000..1_000_000 => ("µs", 3),
            _ => ("ms", 6),
        };
        out.push_str(&fraction(u, digits));
        out.push_str(unit);
        return out;
    }
    let secs = u / 1_000_000_000;
    let (hours, minutes, seconds) = (secs / 3600, secs / 60 % 60, secs % 60);
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if secs >= 60 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&fraction(seconds * 1_000_000_000 + u % 1_000_000_000, 9));
    out.push('s');
    out
}

/// `value / 10^digits` with the fraction written out and trailing zeros dropped.
fn fraction(value: u64, digits: u32) -> String {
    let scale = 10u64.pow(digits);
    let (whole, frac) = (value / scale, value % scale);
    if frac == 0 {
        return whole.to_string();
    }
    let frac = format!("{frac:0width$}", width = digits as usize);
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// `resource.Quantity`: its canonical string.
fn quantity(bytes: &[u8], path: &str) -> Result<Value, ProtobufError> {
    let mut out = "0".to_owned();
    for (number, wire) in fields(bytes, path)? {
        match (number, wire) {
            (1, WireValue::Len(s)) => out = String::from_utf8_lossy(s).into_owned(),
            (1, other) => return Err(ProtobufError::malformed(path, format!("quantity is {}", other.type_name()))),
            _ => {}
        }
    }
    Ok(Value::String(out))
}

/// `intstr.IntOrString` (type, intVal, strVal): a JSON number or string.
fn int_or_string(bytes: &[u8], path: &str) -> Result<Value, ProtobufError> {
    let (mut is_string, mut int_val, mut str_val) = (false, 0i64, String::new());
    for (number, wire) in fields(bytes, path)? {
        match (number, wire) {
            (1, WireValue::Varint(v)) => is_string = v == 1,
            (2, WireValue::Varint(v)) => int_val = i64::from(v as u32 as i32),
            (3, WireValue::Len(s)) => str_val = String::from_utf8_lossy(s).into_owned(),
            (1..=3, other) => {
                return Err(ProtobufError::malformed(
                    path,
                    format!("int-or-string field {number} is {}", other.type_name()),
                ));
            }
            _ => {}
        }
    }
    Ok(if is_string { Value::String(str_val) } else { Value::Number(Number::from(int_val)) })
}

/// `runtime.RawExtension` (raw): the embedded object, which is JSON or a nested protobuf body.
fn raw_extension(bytes: &[u8], path: &str) -> Result<Value, ProtobufError> {
    let mut raw: &[u8] = &[];
    for (number, wire) in fields(bytes, path)? {
        match (number, wire) {
            (1, WireValue::Len(r)) => raw = r,
            (1, other) => return Err(ProtobufError::malformed(path, format!("raw is {}", other.type_name()))),
            _ => {}
        }
    }
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    if raw.starts_with(super::MAGIC) {
        return super::decode(raw);
    }
    serde_json::from_slice(raw).map_err(|e| ProtobufError::malformed(path, format!("embedded object is not JSON: {e}")))
}

/// `metav1.FieldsV1` (Raw): the JSON it holds.
fn fields_v1(bytes: &[u8], path: &str) -> Result<Value, ProtobufError> {
    let mut raw: &[u8] = &[];
    for (number, wire) in fields(bytes, path)? {
        match (number, wire) {
            (1, WireValue::Len(r)) => raw = r,
            (1, other) => return Err(ProtobufError::malformed(path, format!("fieldsV1 is {}", other.type_name()))),
            _ => {}
        }
    }
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(raw).map_err(|e| ProtobufError::malformed(path, format!("fieldsV1 is not JSON: {e}")))
}

/// A message wrapping `repeated string items = 1` (such as `ExtraValue`): a JSON array.
fn str_list(bytes: &[u8], path: &str) -> Result<Value, ProtobufError> {
    let mut items = Vec::new();
    for (number, wire) in fields(bytes, path)? {
        match (number, wire) {
            (1, WireValue::Len(s)) => items.push(Value::String(String::from_utf8_lossy(s).into_owned())),
            (1, other) => return Err(ProtobufError::malformed(path, format!("list item is {}", other.type_name()))),
            _ => {}
        }
    }
    Ok(Value::Array(items))
}

/// Standard base64 with padding, as Go's `encoding/json` writes `[]byte`.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
