//! The string `format`s kube-apiserver 1.32 validates in custom resources.
//!
//! kube keeps a schema's `format` only when its name, with `-` removed, is in
//! this list, and checks strings against kube-openapi's strfmt registry; every
//! other format (`int32`, `int64`, `float`, `k8s-short-name`, …) is dropped
//! and never checked.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use regex::Regex;

/// The formats kube validates (names without `-`).
const SUPPORTED: &[&str] = &[
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "datetime",
];

fn normalize(format: &str) -> String {
    format.replace('-', "")
}

/// Whether kube keeps (and so validates) this format.
pub(super) fn is_supported(format: &str) -> bool {
    SUPPORTED.contains(&normalize(format).as_str())
}

/// Whether `s` is valid for a supported `format`.
pub(super) fn check(format: &str, s: &str) -> bool {
    match normalize(format).as_str() {
        "bsonobjectid" => s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit()),
        "uri" => is_request_uri(s),
        "email" => is_email(s),
        "hostname" => is_hostname(s),
        "ipv4" => parse_ip_sloppy(s).is_some() && s.contains('.'),
        "ipv6" => s.parse::<Ipv6Addr>().is_ok() && s.contains(':'),
        "cidr" => is_cidr(s),
        "mac" => is_mac(s),
        "uuid" => rx(&UUID).is_match(s),
        "uuid3" => rx(&UUID3).is_match(s),
        "uuid4" => rx(&UUID4).is_match(s),
        "uuid5" => rx(&UUID5).is_match(s),
        "isbn" => is_isbn10(s) || is_isbn13(s),
        "isbn10" => is_isbn10(s),
        "isbn13" => is_isbn13(s),
        "creditcard" => is_credit_card(s),
        "ssn" => s.len() == 11 && rx(&SSN).is_match(s),
        "hexcolor" => rx(&HEX_COLOR).is_match(s),
        "rgbcolor" => rx(&RGB_COLOR).is_match(s),
        "byte" => rx(&BASE64).is_match(s),
        "date" => is_date(s),
        "duration" => is_duration(s),
        "datetime" => is_date_time(s),
        _ => true,
    }
}

type Lazy = LazyLock<Regex>;

/// A built-in regex, compiled on first use.
fn rx(lazy: &'static Lazy) -> &'static Regex {
    lazy
}

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("built-in format regexes are valid")
}

static UUID: Lazy = LazyLock::new(|| re("(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$"));
static UUID3: Lazy = LazyLock::new(|| re("(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$"));
static UUID4: Lazy =
    LazyLock::new(|| re("(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$"));
static UUID5: Lazy =
    LazyLock::new(|| re("(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$"));
static SSN: Lazy = LazyLock::new(|| re("^[0-9]{3}[- ]?[0-9]{2}[- ]?[0-9]{4}$"));
static HEX_COLOR: Lazy = LazyLock::new(|| re("^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"));
static RGB_COLOR: Lazy = LazyLock::new(|| {
    let n = "(0|[1-9][0-9]?|1[0-9][0-9]?|2[0-4][0-9]|25[0-5])";
    let sp = "[\\t\\n\\x0C\\r ]*";
    re(&format!("^rgb\\({sp}{n}{sp},{sp}{n}{sp},{sp}{n}{sp}\\)$"))
});
static BASE64: Lazy =
    LazyLock::new(|| re("^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$"));
static HOSTNAME: Lazy = LazyLock::new(|| {
    let c = "a-zA-Z0-9\\p{S}\\p{L}";
    re(&format!("^([{c}]((-?[{c}]{{0,62}})?)|([{c}](([-{c}]{{0,61}}[{c}])?)(\\.)){{1,}}([a-zA-Z\\p{{L}}]){{2,63}})$"))
});
static CREDIT_CARD: Lazy = LazyLock::new(|| {
    re(
        "^(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}|3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35[0-9]{3})[0-9]{11})$",
    )
});

/// An internet host name: letters (any script), digits and symbols in
/// dot-separated labels, a top-level label of 2 or more letters, at most 255
/// bytes and 63 per label.
fn is_hostname(s: &str) -> bool {
    rx(&HOSTNAME).is_match(s) && s.len() <= 255 && s.split('.').all(|p| p.len() <= 63)
}

/// An IP address as Go's `ParseIPSloppy` reads it: IPv4 parts may have
/// leading zeros (read as decimal).
fn parse_ip_sloppy(s: &str) -> Option<std::net::IpAddr> {
    if s.contains(':') {
        return s.parse::<Ipv6Addr>().ok().map(Into::into);
    }
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (o, p) in octets.iter_mut().zip(parts) {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *o = p.parse().ok()?;
    }
    Some(Ipv4Addr::from(octets).into())
}

fn is_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else { return false };
    let Some(ip) = parse_ip_sloppy(ip) else { return false };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    !bits.is_empty()
        && bits.len() <= 10
        && bits.bytes().all(|b| b.is_ascii_digit())
        && bits.parse::<u32>().is_ok_and(|n| n <= max)
}

/// A MAC address as Go's `net.ParseMAC` reads it: 6, 8 or 20 bytes written as
/// `00:00:5e:00:53:01`, `00-00-5e-00-53-01` or `0000.5e00.5301`.
fn is_mac(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 14 {
        return false;
    }
    let hex = |g: &[u8]| g.iter().all(u8::is_ascii_hexdigit);
    if b[2] == b':' || b[2] == b'-' {
        if !(b.len() + 1).is_multiple_of(3) || ![6, 8, 20].contains(&((b.len() + 1) / 3)) {
            return false;
        }
        let sep = b[2];
        b.chunks(3).all(|g| hex(&g[..2]) && (g.len() == 2 || g[2] == sep))
    } else if b[4] == b'.' {
        if !(b.len() + 1).is_multiple_of(5) || ![6, 8, 20].contains(&(2 * (b.len() + 1) / 5)) {
            return false;
        }
        b.chunks(5).all(|g| hex(&g[..4]) && (g.len() == 4 || g[4] == b'.'))
    } else {
        false
    }
}

/// The characters left of an ISBN once spaces and dashes are removed.
fn isbn_digits(s: &str) -> Vec<u8> {
    s.bytes().filter(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\x0c' | b'\r' | b'-')).collect()
}

fn is_isbn10(s: &str) -> bool {
    let d = isbn_digits(s);
    if d.len() != 10 || !d[..9].iter().all(u8::is_ascii_digit) || !(d[9].is_ascii_digit() || d[9] == b'X') {
        return false;
    }
    let mut sum: u32 = d[..9].iter().enumerate().map(|(i, c)| (i as u32 + 1) * u32::from(c - b'0')).sum();
    sum += 10 * if d[9] == b'X' { 10 } else { u32::from(d[9] - b'0') };
    sum.is_multiple_of(11)
}

fn is_isbn13(s: &str) -> bool {
    let d = isbn_digits(s);
    if d.len() != 13 || !d.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = d[..12].iter().enumerate().map(|(i, c)| if i % 2 == 0 { 1 } else { 3 } * u32::from(c - b'0')).sum();
    u32::from(d[12] - b'0') == (10 - sum % 10) % 10
}

/// A card number (non-digits ignored) of a known issuer with a valid Luhn checksum.
fn is_credit_card(s: &str) -> bool {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    if !rx(&CREDIT_CARD).is_match(&digits) {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let n = u32::from(c - b'0');
            if i % 2 == 1 { if n * 2 >= 10 { n * 2 % 10 + 1 } else { n * 2 } } else { n }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// `2006-01-02`: four-digit year, two-digit month and day, a real date.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits(0..4) || !digits(5..7) || !digits(8..10) {
        return false;
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(0);
    chrono::NaiveDate::from_ymd_opt(n(0..4) as i32, n(5..7), n(8..10)).is_some()
}

static TIME: Lazy = LazyLock::new(|| re("^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$"));

/// An RFC 3339 date-time as strfmt checks it (case-insensitive `T` and `Z`,
/// hours up to 23, minutes and seconds up to 59).
fn is_date_time(s: &str) -> bool {
    if s.len() < 4 {
        return false;
    }
    let lower = s.to_lowercase();
    let mut parts = lower.split('t');
    let (Some(date), Some(time)) = (parts.next(), parts.next()) else { return false };
    if !is_date(date) {
        return false;
    }
    rx(&TIME).captures(time).is_some_and(|c| &c[1] <= "23" && &c[2] <= "59" && &c[3] <= "59")
}

/// A Go duration (`1h30m`, `-1.5s`, `0`) or strfmt's human form (`3 days`,
/// `1 hr 5 min`).
fn is_duration(s: &str) -> bool {
    is_go_duration(s) || is_human_duration(s)
}

fn is_go_duration(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    if s == "0" {
        return true;
    }
    if s.is_empty() {
        return false;
    }
    let mut rest = s;
    while !rest.is_empty() {
        let int = rest.bytes().take_while(u8::is_ascii_digit).count();
        let mut digits = int;
        rest = &rest[int..];
        if let Some(r) = rest.strip_prefix('.') {
            let frac = r.bytes().take_while(u8::is_ascii_digit).count();
            digits += frac;
            rest = &r[frac..];
        }
        if digits == 0 {
            return false;
        }
        let unit_len = rest.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(rest.len());
        if !matches!(&rest[..unit_len], "ns" | "us" | "µs" | "μs" | "ms" | "s" | "m" | "h") {
            return false;
        }
        rest = &rest[unit_len..];
    }
    true
}

static HUMAN_DURATION: Lazy =
    LazyLock::new(|| re("^[\\t\\n\\x0C\\r ]*(?:[0-9]+[\\t\\n\\x0C\\r ]*[A-Za-zµ]+[\\t\\n\\x0C\\r ]*)+$"));
static HUMAN_DURATION_PART: Lazy = LazyLock::new(|| re("([0-9]+)[\\t\\n\\x0C\\r ]*([A-Za-zµ]+)"));

fn is_human_duration(s: &str) -> bool {
    const UNITS: &[&[&str]] = &[
        &["ns", "nano"],
        &["us", "µs", "micro"],
        &["ms", "milli"],
        &["s", "sec"],
        &["m", "min"],
        &["h", "hr", "hour"],
        &["d", "day"],
        &["w", "wk", "week"],
    ];
    if !rx(&HUMAN_DURATION).is_match(s) {
        return false;
    }
    let mut known = false;
    for c in rx(&HUMAN_DURATION_PART).captures_iter(s) {
        if c[1].parse::<i64>().is_err() {
            return false;
        }
        let unit = c[2].to_lowercase();
        for variants in UNITS {
            let last = variants.len() - 1;
            for (i, v) in variants.iter().enumerate() {
                if (i == last && unit.starts_with(v)) || unit == *v {
                    known = true;
                }
            }
        }
    }
    known
}

/// A URI as Go's `url.ParseRequestURI` accepts it: an absolute URI
/// (`scheme:…`) or an absolute path, without control characters, with a
/// well-formed host and `%` escapes.
fn is_request_uri(s: &str) -> bool {
    if s.is_empty() || s.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return false;
    }
    if s == "*" {
        return true;
    }
    let (scheme, rest) = match split_scheme(s) {
        Ok(parts) => parts,
        Err(()) => return false,
    };
    let rest = match rest.strip_suffix('?') {
        Some(r) if rest.matches('?').count() == 1 => r,
        _ => rest.split_once('?').map_or(rest, |(r, _)| r),
    };
    if !rest.starts_with('/') {
        return !scheme.is_empty();
    }
    let mut path = rest;
    if !scheme.is_empty()
        && let Some(after) = rest.strip_prefix("//")
    {
        let (authority, p) = after.find('/').map_or((after, ""), |i| (&after[..i], &after[i..]));
        if !valid_authority(authority) {
            return false;
        }
        path = p;
    }
    valid_escapes(path)
}

/// Splits `scheme:rest`; no scheme when the text before the first `:` is not
/// one. A leading `:` is an error.
fn split_scheme(s: &str) -> Result<(&str, &str), ()> {
    for (i, c) in s.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => return Err(()),
            ':' => return Ok((&s[..i], &s[i + 1..])),
            _ => return Ok(("", s)),
        }
    }
    Ok(("", s))
}

fn valid_escapes(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit) && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)) {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

fn valid_authority(authority: &str) -> bool {
    let (userinfo, host) = authority.rsplit_once('@').map_or((None, authority), |(u, h)| (Some(u), h));
    if let Some(u) = userinfo
        && !(u.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._:~!$&'()*+,;=%@".contains(&b)) && valid_escapes(u))
    {
        return false;
    }
    if let Some(v6) = host.strip_prefix('[') {
        let Some(end) = v6.find(']') else { return false };
        let port = &v6[end + 1..];
        return port.is_empty() || port.strip_prefix(':').is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
    }
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        Some(_) => return false,
        None => host,
    };
    name.bytes().all(|b| b >= 0x80 || b.is_ascii_alphanumeric() || b"-_.~!$&'()*+,;=:[]<>\"%".contains(&b))
        && valid_escapes(name)
}

/// An address as Go's `net/mail.ParseAddress` accepts one: `local@domain`,
/// optionally as `Display Name <local@domain>`.
fn is_email(s: &str) -> bool {
    let s = s.trim_matches([' ', '\t']);
    if addr_spec(s) {
        return true;
    }
    let Some(open) = s.find('<') else { return false };
    let Some(inner) = s[open + 1..].strip_suffix('>') else { return false };
    let name = s[..open].trim_matches([' ', '\t']);
    (name.is_empty() || phrase(name)) && addr_spec(inner.trim_start_matches([' ', '\t']))
}

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

fn dot_atom(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(|part| !part.is_empty() && part.chars().all(is_atext))
}

fn quoted_string(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else { return false };
    let mut escaped = false;
    for c in inner.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' || (c.is_ascii_control() && c != '\t') {
            return false;
        }
    }
    !escaped
}

fn addr_spec(s: &str) -> bool {
    let Some(at) = s.rfind('@') else { return false };
    let (local, domain) = (&s[..at], s[at + 1..].trim_start_matches([' ', '\t']));
    let local_ok = if local.starts_with('"') { quoted_string(local) } else { dot_atom(local) };
    let domain_ok = if let Some(lit) = domain.strip_prefix('[') {
        lit.strip_suffix(']').is_some_and(|l| l.chars().all(|c| c.is_ascii_graphic() && !"[]\\".contains(c)))
    } else {
        dot_atom(domain)
    };
    local_ok && domain_ok
}

/// A display name: words of atom characters, dots and quoted strings.
fn phrase(s: &str) -> bool {
    s.split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .all(|w| (w.starts_with('"') && quoted_string(w)) || w.chars().all(|c| is_atext(c) || c == '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_formats() {
        for f in ["date-time", "datetime", "byte", "uuid", "int-or-string"] {
            assert_eq!(is_supported(f), f != "int-or-string", "{f}");
        }
        for f in ["int32", "int64", "float", "double", "k8s-short-name", "quantity"] {
            assert!(!is_supported(f), "{f}");
        }
    }

    #[test]
    fn checks() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            ("bsonobjectid", &["507f1f77bcf86cd799439011"], &["507f1f77bcf86cd79943901", "zz7f1f77bcf86cd799439011"]),
            (
                "uri",
                &["https://example.com/a?b=c", "mailto:a@b.c", "/just/a/path", "http://[::1]:8080/", "urn:isbn:123"],
                &["", "relative/path", "http://ex ample.com/", "http://host:port/", "/bad%zz", ":nope"],
            ),
            (
                "email",
                &["a@example.com", "first.last+tag@sub.example.org", "Ann Doe <ann@example.com>", "\"a b\"@x.y"],
                &["plain", "a@", "@b.c", "a..b@c.d", "a@b c", "<a@b.c"],
            ),
            (
                "hostname",
                &["example.com", "localhost", "my-host.example.co", "xn--bcher-kva.example"],
                &["-bad.example.com", "under_score.com", "a.b.c.1", "example..com"],
            ),
            ("ipv4", &["192.168.0.1", "010.001.002.003", "::ffff:1.2.3.4"], &["256.1.1.1", "1.2.3", "::1", "a.b.c.d"]),
            (
                "ipv6",
                &["::1", "2001:db8::8a2e:370:7334", "::ffff:1.2.3.4"],
                &["1.2.3.4", "2001:db8::g", "fe80::1%eth0"],
            ),
            (
                "cidr",
                &["10.0.0.0/8", "2001:db8::/32", "010.0.0.0/08"],
                &["10.0.0.0/33", "10.0.0.0", "::/129", "10.0.0.0/-1"],
            ),
            (
                "mac",
                &["00:00:5e:00:53:01", "00-00-5E-00-53-01", "0000.5e00.5301", "02:00:5e:10:00:00:00:01"],
                &["00:00:5e:00:53", "00:00-5e:00:53:01", "0000.5e00.530", "zz:00:5e:00:53:01"],
            ),
            (
                "uuid",
                &["123e4567-e89b-12d3-a456-426614174000", "123E4567E89B12D3A456426614174000"],
                &["123e4567-e89b-12d3-a456"],
            ),
            ("uuid4", &["123e4567-e89b-42d3-a456-426614174000"], &["123e4567-e89b-12d3-a456-426614174000"]),
            ("isbn10", &["0321751043", "0-321-75104-3", "080442957X"], &["0321751044", "032175104"]),
            ("isbn13", &["978-0321751041", "9780321751041"], &["9780321751042"]),
            ("isbn", &["0321751043", "978-0321751041"], &["12345"]),
            ("creditcard", &["4111 1111 1111 1111", "5500-0000-0000-0004"], &["4111 1111 1111 1112", "1234"]),
            ("ssn", &["123-45-6789", "123 45 6789"], &["123456789", "12-345-6789"]),
            ("hexcolor", &["#FFF", "a1b2c3"], &["#FFFF", "#GGG"]),
            ("rgbcolor", &["rgb(255,0,10)", "rgb( 1 , 2 , 3 )"], &["rgb(256,0,0)", "rgba(1,2,3,4)"]),
            ("byte", &["aGVsbG8=", "aGk=", "AAAA"], &["", "aGVsbG8", "!!!!"]),
            ("password", &["anything at all", ""], &[]),
            ("date", &["2024-02-29", "1999-12-31"], &["2023-02-29", "2024-13-01", "24-01-01", "2024-1-01"]),
            (
                "date-time",
                &["2024-01-02T03:04:05Z", "2024-01-02t03:04:05.123+01:00", "2024-01-02T23:59:59-08:00"],
                &["2024-01-02", "2024-01-02T24:00:00Z", "2024-01-02T03:04:05", "2024-02-30T00:00:00Z", "now"],
            ),
            (
                "duration",
                &["1h30m", "-1.5s", "0", "300ms", "2µs", "3 days", "1 hr 5 min", "10 seconds"],
                &["", "1", "1x", "h", "3 fortnights", ".s"],
            ),
        ];
        for (format, good, bad) in cases {
            for s in *good {
                assert!(check(format, s), "{format}: {s:?} should be valid");
            }
            for s in *bad {
                assert!(!check(format, s), "{format}: {s:?} should be invalid");
            }
        }
    }
}
