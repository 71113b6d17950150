//! Name, label and annotation syntax (apimachinery's validation rules).

use crate::SortedMap;

use super::{ErrorList, FieldError, Path};
use crate::meta::LabelSelector;

/// Detail for an invalid DNS-1123 label.
pub const DNS1123_LABEL_ERROR: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
/// Detail for an invalid DNS-1123 subdomain.
pub const DNS1123_SUBDOMAIN_ERROR: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
/// Detail for an invalid DNS-1035 label.
pub const DNS1035_LABEL_ERROR: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const QUALIFIED_NAME_ERROR: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_ERROR: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const TOTAL_ANNOTATION_SIZE: usize = 256 * 1024;

fn is_lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && is_lower_alnum(b[0])
        && is_lower_alnum(b[b.len() - 1])
        && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
}

/// DNS-1123 labels joined by `.`, at most 253 characters.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|part| {
            let b = part.as_bytes();
            !b.is_empty()
                && is_lower_alnum(b[0])
                && is_lower_alnum(b[b.len() - 1])
                && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
        })
}

/// `[a-z]([-a-z0-9]*[a-z0-9])?`, at most 63 characters (Service names).
pub fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.as_bytes()[0].is_ascii_lowercase()
}

fn is_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Checks a qualified name (`[prefix/]name`, as label and annotation keys are),
/// returning the problems found.
pub fn qualified_name_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if let Some(p) = prefix {
        if p.is_empty() {
            errs.push("prefix part must be non-empty".to_owned());
        } else if !is_dns1123_subdomain(p) {
            errs.push(format!("prefix part {DNS1123_SUBDOMAIN_ERROR}"));
        }
        if name.contains('/') {
            errs.push("a qualified name must consist of alphanumeric characters, '-', '_' or '.', with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')".to_owned());
            return errs;
        }
    }
    if name.is_empty() {
        errs.push("name part must be non-empty".to_owned());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".to_owned());
    } else if !is_name_part(name) {
        errs.push(QUALIFIED_NAME_ERROR.to_owned());
    }
    errs
}

/// Whether `s` is a qualified name (`[prefix/]name`).
pub fn is_qualified_name(s: &str) -> bool {
    qualified_name_errors(s).is_empty()
}

/// Whether `s` is a valid label value (empty, or a name part of at most 63 characters).
pub fn is_valid_label_value(s: &str) -> bool {
    s.is_empty() || is_name_part(s)
}

/// Whether `s` is an IANA service name as container port names must be:
/// at most 15 lower-case alphanumerics or `-`, with at least one letter, no
/// leading, trailing or doubled `-`.
pub fn is_port_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 15
        && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
        && b.iter().any(u8::is_ascii_lowercase)
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
        && !s.contains("--")
}

/// Validates label keys and values.
pub fn validate_labels(labels: &SortedMap<String, String>, path: &Path, errors: &mut ErrorList) {
    for (k, v) in labels {
        for msg in qualified_name_errors(k) {
            errors.push(FieldError::invalid(path, k, msg));
        }
        if !is_valid_label_value(v) {
            let detail = if v.len() > 63 { "must be no more than 63 characters" } else { LABEL_VALUE_ERROR };
            errors.push(FieldError::invalid(&path.key(k), v, detail));
        }
    }
}

/// Validates annotation keys and the total size (256 KiB).
pub fn validate_annotations(annotations: &SortedMap<String, String>, path: &Path, errors: &mut ErrorList) {
    let mut total = 0;
    for (k, v) in annotations {
        for msg in qualified_name_errors(&k.to_lowercase()) {
            errors.push(FieldError::invalid(path, k, msg));
        }
        total += k.len() + v.len();
    }
    if total > TOTAL_ANNOTATION_SIZE {
        errors.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE));
    }
}

/// Validates a structured label selector: keys, values and operators.
pub fn validate_label_selector(sel: &LabelSelector, path: &Path, errors: &mut ErrorList) {
    validate_labels(&sel.match_labels, &path.child("matchLabels"), errors);
    for (i, req) in sel.match_expressions.iter().enumerate() {
        let p = path.child("matchExpressions").index(i);
        for msg in qualified_name_errors(&req.key) {
            errors.push(FieldError::invalid(&p.child("key"), &req.key, msg));
        }
        match req.operator.as_str() {
            "In" | "NotIn" => {
                if req.values.is_empty() {
                    errors.push(FieldError::required(
                        &p.child("values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !req.values.is_empty() {
                    errors.push(FieldError::forbidden(
                        &p.child("values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            other => errors.push(FieldError::invalid(&p.child("operator"), other, "not a valid selector operator")),
        }
        for (j, v) in req.values.iter().enumerate() {
            if !is_valid_label_value(v) {
                errors.push(FieldError::invalid(&p.child("values").index(j), v, LABEL_VALUE_ERROR));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let cases: &[(&str, bool, bool, bool)] = &[
            // (input, dns1123 label, dns1123 subdomain, dns1035 label)
            ("web", true, true, true),
            ("web-0", true, true, true),
            ("0web", true, true, false),
            ("Web", false, false, false),
            ("-web", false, false, false),
            ("web-", false, false, false),
            ("a.b", false, true, false),
            ("a..b", false, false, false),
            ("", false, false, false),
            ("under_score", false, false, false),
        ];
        for &(s, label, sub, l1035) in cases {
            assert_eq!(is_dns1123_label(s), label, "label {s:?}");
            assert_eq!(is_dns1123_subdomain(s), sub, "subdomain {s:?}");
            assert_eq!(is_dns1035_label(s), l1035, "1035 {s:?}");
        }
        assert!(is_dns1123_label(&"a".repeat(63)));
        assert!(!is_dns1123_label(&"a".repeat(64)));
        assert!(!is_dns1123_subdomain(&"a".repeat(254)));
    }

    #[test]
    fn qualified_names_and_values() {
        for ok in ["app", "app.kubernetes.io/name", "example.com/My_Key.1", "a"] {
            assert!(is_qualified_name(ok), "{ok}");
        }
        for bad in ["", "/app", "Example.com/app", "a/b/c", "-app", "app-", &"k".repeat(64)] {
            assert!(!is_qualified_name(bad), "{bad}");
        }
        for ok in ["", "v1", "My_Value-1.0"] {
            assert!(is_valid_label_value(ok), "{ok}");
        }
        for bad in ["-x", "x y", &"v".repeat(64)] {
            assert!(!is_valid_label_value(bad), "{bad}");
        }
    }

    #[test]
    fn port_names() {
        for ok in ["http", "metrics", "h2c", "web-80"] {
            assert!(is_port_name(ok), "{ok}");
        }
        for bad in ["", "HTTP", "80", "-http", "http-", "a--b", "sixteen-chars-xx"] {
            assert!(!is_port_name(bad), "{bad}");
        }
    }

    #[test]
    fn label_errors_have_paths() {
        let labels =
            SortedMap::from([("bad key!".to_owned(), "ok".to_owned()), ("k".to_owned(), "bad value!".to_owned())]);
        let mut errs = Vec::new();
        validate_labels(&labels, &Path::new("metadata").child("labels"), &mut errs);
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["metadata.labels", "metadata.labels[k]"]);
    }
}
