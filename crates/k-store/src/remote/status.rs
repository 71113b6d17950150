//! Kubernetes `Status` answers back into [`StoreError`]s: the inverse of
//! [`StoreError::status`], so an error crosses HTTP unchanged.

use k_api_types::meta::{Status, StatusCause};
use k_api_types::validation::{ErrorType, FieldError};

use crate::apply::{Conflict, Conflicts};
use crate::error::StoreError;

const CONFLICT_PREFIX: &str = "Operation cannot be fulfilled on ";
const UNKNOWN_RESOURCE_PREFIX: &str = "the server could not find the requested resource";

/// The error a failed Status stands for. `code` is the HTTP status of the
/// response (used when the Status has none).
pub(crate) fn to_store_error(status: &Status, code: u16) -> StoreError {
    let code = u16::try_from(status.code).ok().filter(|c| *c >= 400).unwrap_or(code);
    let message = status.message.clone();
    let details = status.details.clone().unwrap_or_default();
    let resource =
        if details.group.is_empty() { details.kind.clone() } else { format!("{}.{}", details.kind, details.group) };
    match (code, status.reason.as_str()) {
        (404, _) | (_, "NotFound") => {
            if details.name.is_empty() && details.kind.is_empty() {
                let what = message
                    .strip_prefix(UNKNOWN_RESOURCE_PREFIX)
                    .map(|rest| rest.trim().trim_start_matches('(').trim_end_matches(')').to_owned())
                    .unwrap_or(message);
                StoreError::UnknownResource(what)
            } else {
                StoreError::NotFound { resource, name: details.name }
            }
        }
        (409, _) if details.causes.iter().any(|c| c.reason == "FieldManagerConflict") => StoreError::ApplyConflict {
            resource,
            name: details.name,
            conflicts: Conflicts(
                details.causes.iter().filter(|c| c.reason == "FieldManagerConflict").map(field_conflict).collect(),
            ),
        },
        (409, "AlreadyExists") => StoreError::AlreadyExists { resource, name: details.name },
        (409, _) | (_, "Conflict") => conflict(&message, resource, details.name),
        (410, _) | (_, "Expired" | "Gone") => expired(&message),
        (422, _) | (_, "Invalid") if !details.causes.is_empty() || !details.kind.is_empty() => StoreError::Invalid {
            kind: details.kind,
            group: details.group,
            name: details.name,
            errors: details.causes.iter().map(field_error).collect(),
        },
        (400 | 405 | 406 | 413 | 415 | 422, _) | (_, "BadRequest") => StoreError::BadRequest(message),
        (401 | 403, _) | (_, "Forbidden" | "Unauthorized") => StoreError::Forbidden(message),
        (504, _) if message.starts_with("Too large resource version") => too_large(&message),
        _ => StoreError::Internal(message),
    }
}

/// `Operation cannot be fulfilled on <resource> "<name>": <why>`, from the
/// details when present, else from the message itself.
fn conflict(message: &str, resource: String, name: String) -> StoreError {
    if !resource.is_empty() {
        let prefix = format!("{CONFLICT_PREFIX}{resource} {name:?}: ");
        if let Some(why) = message.strip_prefix(&prefix) {
            return StoreError::Conflict { resource, name, message: why.to_owned() };
        }
    }
    if let Some(rest) = message.strip_prefix(CONFLICT_PREFIX)
        && let Some((res, rest)) = rest.split_once(" \"")
        && let Some((n, why)) = rest.split_once("\": ")
    {
        return StoreError::Conflict { resource: res.to_owned(), name: n.to_owned(), message: why.to_owned() };
    }
    StoreError::Conflict { resource, name, message: message.to_owned() }
}

/// A `FieldManagerConflict` cause: the field, and the manager as
/// `conflict with "kubectl-scale" with subresource "scale" using apps/v1`.
fn field_conflict(cause: &StatusCause) -> Conflict {
    let mut rest = cause.message.strip_prefix("conflict with ").unwrap_or(&cause.message);
    let manager = take_quoted(&mut rest);
    let subresource = match rest.strip_prefix(" with subresource ") {
        Some(mut tail) => {
            let sub = take_quoted(&mut tail);
            rest = tail;
            sub
        }
        None => String::new(),
    };
    let api_version = rest.strip_prefix(" using ").unwrap_or_default().to_owned();
    Conflict { manager, subresource, api_version, path: cause.field.clone() }
}

/// Takes a leading quoted string (or word) off `rest`.
fn take_quoted(rest: &mut &str) -> String {
    let text = *rest;
    if text.starts_with('"') {
        let mut escaped = false;
        for (i, c) in text.char_indices().skip(1) {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    *rest = &text[i + 1..];
                    return serde_json::from_str(&text[..=i]).unwrap_or_else(|_| text[1..i].to_owned());
                }
                _ => escaped = false,
            }
        }
    }
    let (word, tail) = text.split_once(' ').unwrap_or((text, ""));
    *rest = tail;
    word.to_owned()
}

/// `too old resource version: <requested> (<compacted>)`, or a watcher that fell behind.
fn expired(message: &str) -> StoreError {
    if let Some(rest) = message.strip_prefix("watcher fell behind by more than ")
        && let Some(capacity) = rest.split_whitespace().next().and_then(|n| n.parse().ok())
    {
        return StoreError::WatcherTooSlow { capacity };
    }
    let numbers: Vec<i64> =
        message.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).filter_map(|s| s.parse().ok()).collect();
    match (message.contains("too old resource version"), numbers.as_slice()) {
        (true, [requested, compacted, ..]) => StoreError::Expired { requested: *requested, compacted: *compacted },
        (true, [requested]) => StoreError::Expired { requested: *requested, compacted: 0 },
        _ => StoreError::Expired { requested: 0, compacted: 0 },
    }
}

/// `Too large resource version: <requested>, current: <current>`.
fn too_large(message: &str) -> StoreError {
    let numbers: Vec<i64> =
        message.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).filter_map(|s| s.parse().ok()).collect();
    match numbers.as_slice() {
        [requested, current, ..] => StoreError::TooLargeResourceVersion { requested: *requested, current: *current },
        _ => StoreError::Internal(message.to_owned()),
    }
}

fn error_type(reason: &str) -> Option<ErrorType> {
    use ErrorType::*;
    [NotFound, Required, Duplicate, Invalid, NotSupported, Forbidden, TooLong, TooMany, Internal, TypeInvalid]
        .into_iter()
        .find(|t| t.cause() == reason)
}

/// A Status cause back into the field error it was made from: the message is
/// `<phrase>[: <value as JSON>][: <detail>]`.
fn field_error(cause: &StatusCause) -> FieldError {
    let type_ = error_type(&cause.reason).unwrap_or(ErrorType::Invalid);
    let fallback = || FieldError { type_, field: cause.field.clone(), value: None, detail: cause.message.clone() };
    let Some(rest) = cause.message.strip_prefix(type_.phrase()) else { return fallback() };
    if rest.is_empty() {
        return FieldError { type_, field: cause.field.clone(), value: None, detail: String::new() };
    }
    let Some(rest) = rest.strip_prefix(": ") else { return fallback() };
    let shows_value = matches!(
        type_,
        ErrorType::Invalid
            | ErrorType::NotSupported
            | ErrorType::Duplicate
            | ErrorType::NotFound
            | ErrorType::TooMany
            | ErrorType::TypeInvalid
    );
    let mut value = None;
    let mut detail = rest.to_owned();
    if shows_value {
        let mut values = serde_json::Deserializer::from_str(rest).into_iter::<serde_json::Value>();
        if let Some(Ok(v)) = values.next() {
            let tail = &rest[values.byte_offset()..];
            if tail.is_empty() {
                value = Some(v);
                detail.clear();
            } else if let Some(d) = tail.strip_prefix(": ") {
                value = Some(v);
                detail = d.to_owned();
            }
        }
    }
    let error = FieldError { type_, field: cause.field.clone(), value, detail };
    // Only trust the split if it prints back to what the server sent.
    if error.body() == cause.message { error } else { fallback() }
}

#[cfg(test)]
mod tests {
    use k_api_types::validation::{ErrorList, Path};

    use super::*;

    fn round_trip(e: StoreError) -> StoreError {
        let status = e.status();
        to_store_error(&status, u16::try_from(status.code).unwrap())
    }

    #[test]
    fn every_store_error_survives_its_status() {
        let errors: ErrorList = vec![
            FieldError::invalid(&Path::new("metadata").child("name"), "Bad_Name", "a lowercase RFC 1123 subdomain"),
            FieldError::required(&Path::new("spec").child("containers").index(0).child("image"), ""),
            FieldError::not_supported(&Path::new("spec").child("restartPolicy"), "Sometimes", &["Always", "Never"]),
            FieldError::duplicate(&Path::new("spec").child("ports").index(1), 80),
            FieldError::too_many(&Path::new("spec").child("items"), 12, 10),
            FieldError::forbidden(&Path::new("spec"), "pod updates may not change fields"),
        ];
        let cases = vec![
            StoreError::NotFound { resource: "configmaps".into(), name: "missing".into() },
            StoreError::NotFound { resource: "deployments.apps".into(), name: "web".into() },
            StoreError::AlreadyExists { resource: "caches.example.org".into(), name: "c".into() },
            StoreError::Conflict {
                resource: "configmaps".into(),
                name: "c".into(),
                message: crate::error::CONFLICT_MESSAGE.into(),
            },
            StoreError::Expired { requested: 3, compacted: 9 },
            StoreError::WatcherTooSlow { capacity: 1024 },
            StoreError::Invalid { kind: "Pod".into(), group: String::new(), name: "Bad_Name".into(), errors },
            StoreError::BadRequest("field label not supported: spec.foo".into()),
            StoreError::Forbidden("configmaps \"denied\" is forbidden by policy".into()),
            StoreError::TooLargeResourceVersion { requested: 999, current: 12 },
            StoreError::UnknownResource("example.org/v1/caches".into()),
            StoreError::Internal("disk on fire".into()),
        ];
        for e in cases {
            let back = round_trip(e.clone());
            assert_eq!(format!("{back:?}"), format!("{e:?}"));
            assert_eq!(back.to_string(), e.to_string());
            assert_eq!(back.status(), e.status());
        }
    }

    #[test]
    fn statuses_without_details_still_map() {
        let s = Status::failure(
            409,
            "Conflict",
            "Operation cannot be fulfilled on pods/binding \"p\": pod p is already assigned to node \"n1\"",
        );
        let StoreError::Conflict { resource, name, message } = to_store_error(&s, 409) else { panic!() };
        assert_eq!((resource.as_str(), name.as_str()), ("pods/binding", "p"));
        assert_eq!(message, "pod p is already assigned to node \"n1\"");
        let e = to_store_error(
            &Status::failure(410, "Expired", "The resourceVersion for the provided list is too old."),
            410,
        );
        assert!(e.is_expired());
        let e = to_store_error(&Status::failure(405, "MethodNotAllowed", "nope"), 405);
        assert!(matches!(e, StoreError::BadRequest(m) if m == "nope"));
        let e = to_store_error(&Status::failure(401, "Unauthorized", "Unauthorized"), 401);
        assert!(matches!(e, StoreError::Forbidden(_)));
        let e = to_store_error(&Status::failure(503, "ServiceUnavailable", "later"), 503);
        assert!(matches!(e, StoreError::Internal(m) if m == "later"));
        let e =
            to_store_error(&Status::failure(404, "NotFound", "the server could not find the requested resource"), 404);
        assert!(e.is_not_found());
    }
}
