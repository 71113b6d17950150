//! `pattern`: kube compiles it with Go's `regexp` (RE2 syntax). The `regex`
//! crate speaks nearly the same language; the differences that change what
//! matches are translated here: Go's `\d`, `\w`, `\s` and `\b` are ASCII-only,
//! `\Q…\E` quotes literally, and inside a class a `[` that does not start
//! `[:alpha:]` and the `&&`, `~~` pairs are plain characters.

use regex::Regex;

/// A compiled `pattern`, or why it does not compile.
#[derive(Clone, Debug)]
pub(super) struct Pattern {
    /// The pattern as written in the schema (messages quote it).
    pub(super) source: String,
    /// The compiled regex, or the compile error.
    pub(super) regex: Result<Regex, String>,
}

impl Pattern {
    pub(super) fn new(source: &str) -> Self {
        let regex = Regex::new(&translate(source)).map_err(|e| e.to_string());
        Self { source: source.to_owned(), regex }
    }
}

/// Rewrites an RE2 pattern so that the `regex` crate matches what Go matches.
fn translate(p: &str) -> String {
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 8);
    let mut in_class = false;
    // Position just after a class's opening `[` or `[^` (a `]` there is literal).
    let mut class_start = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at_class_start = std::mem::take(&mut class_start);
        match c {
            '\\' if i + 1 < chars.len() => {
                let e = chars[i + 1];
                i += 2;
                if e == 'Q' {
                    let mut lit = String::new();
                    while i < chars.len() && !(chars[i] == '\\' && chars.get(i + 1) == Some(&'E')) {
                        lit.push(chars[i]);
                        i += 1;
                    }
                    i += 2;
                    for l in lit.chars() {
                        out.push_str(&regex::escape(&l.to_string()));
                    }
                    continue;
                }
                out.push_str(&escape_class(e, in_class).unwrap_or_else(|| format!("\\{e}")));
                continue;
            }
            '[' if !in_class => {
                in_class = true;
                class_start = true;
                out.push('[');
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
            }
            '[' if chars.get(i + 1) == Some(&':') => {
                // A POSIX class such as [:alpha:]: copy up to its closing ":]".
                let rest: String = chars[i..].iter().collect();
                let end = rest.find(":]").map_or(rest.len(), |e| e + 2);
                out.push_str(&rest[..end]);
                i += rest[..end].chars().count();
                continue;
            }
            '[' => out.push_str("\\["),
            ']' if in_class && at_class_start => out.push_str("\\]"),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '&' | '~' if in_class && chars.get(i + 1) == Some(&c) => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

/// The ASCII meaning of Go's Perl classes, inside or outside a class.
fn escape_class(e: char, in_class: bool) -> Option<String> {
    let (set, negated) = match e {
        'd' => ("0-9", false),
        'D' => ("0-9", true),
        'w' => ("0-9A-Za-z_", false),
        'W' => ("0-9A-Za-z_", true),
        's' => ("\\t\\n\\x0C\\r ", false),
        'S' => ("\\t\\n\\x0C\\r ", true),
        'b' if !in_class => return Some("(?-u:\\b)".to_owned()),
        'B' if !in_class => return Some("(?-u:\\B)".to_owned()),
        _ => return None,
    };
    Some(match (negated, in_class) {
        (false, true) => set.to_owned(),
        (false, false) => format!("[{set}]"),
        (true, _) => format!("[^{set}]"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(p: &str, s: &str) -> bool {
        Pattern::new(p).regex.expect("compiles").is_match(s)
    }

    #[test]
    fn go_semantics() {
        assert_eq!(translate(r"^\d+$"), "^[0-9]+$");
        assert!(matches(r"^\d+$", "123"));
        assert!(!matches(r"^\d+$", "١٢٣"), "Go's \\d is ASCII only");
        assert!(!matches(r"^\w+$", "héllo"));
        assert!(matches(r"^[\w.-]+$", "a_b.c-d"));
        assert!(!matches(r"^[^\d]+$", "a1"));
        assert!(matches(r"^[\D]+$", "ab"));
        assert!(matches(r"^\s$", "\t") && !matches(r"^\s$", "\u{a0}"));
        assert!(matches(r"^[[a]+$", "[a["), "a [ inside a class is literal in Go");
        assert!(matches(r"^[]a]+$", "]a"), "a ] first in a class is literal");
        assert!(matches(r"^[[:alpha:]]+$", "abc") && !matches(r"^[[:alpha:]]+$", "a1"));
        assert!(matches(r"^[a&&b]+$", "&ab"));
        assert!(matches(r"^\Q1.5*\E$", "1.5*") && !matches(r"^\Q1.5*\E$", "125"));
        assert!(matches(r"\bword\b", "a word here"));
        assert!(matches(r"^(?i)abc$", "ABC"));
        assert!(matches(r"^\p{Greek}+$", "αβ"));
    }

    #[test]
    fn invalid_patterns_keep_the_error() {
        let p = Pattern::new("a(b");
        assert_eq!(p.source, "a(b");
        assert!(p.regex.is_err());
    }
}
