//! `resolvConf`: a resolv.conf read into the result's DNS settings, as the
//! reference does it.

use std::path::Path;

use crate::types::{CniError, Dns, ErrorCode};

/// Reads resolv.conf text: `nameserver` lines add a server, `domain` sets
/// the domain (the last one wins), `search` and `options` lines add their
/// words. Comments (`#`, `;`), blank lines, lines with one word and other
/// keywords are skipped.
pub fn parse_resolv_conf(text: &str) -> Dns {
    let mut dns = Dns::default();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [keyword, first, rest @ ..] = fields.as_slice() else {
            continue;
        };
        let words = || std::iter::once(first).chain(rest).map(|w| (*w).to_owned());
        match *keyword {
            "nameserver" => dns.nameservers.push((*first).to_owned()),
            "domain" => dns.domain = (*first).to_owned(),
            "search" => dns.search.extend(words()),
            "options" => dns.options.extend(words()),
            _ => {}
        }
    }
    dns
}

/// Reads the resolv.conf at `path`; code 5 when it cannot be read.
pub fn read_resolv_conf(path: &Path) -> Result<Dns, CniError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CniError::new(ErrorCode::Io, format!("reading {}", path.display())).with_details(e.to_string()))?;
    Ok(parse_resolv_conf(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_keyword_and_what_is_skipped() {
        let text = "# c\nnameserver 1.1.1.1\n  nameserver 8.8.8.8 extra\n; x\ndomain ex.com\nsearch a.com b.com\n\
                    options ndots:5 rotate\nsearch c.com\nbogus\nsortlist 10.0.0.0\ndomain last.com\n";
        let dns = parse_resolv_conf(text);
        assert_eq!(dns.nameservers, ["1.1.1.1", "8.8.8.8"]);
        assert_eq!(dns.domain, "last.com");
        assert_eq!(dns.search, ["a.com", "b.com", "c.com"]);
        assert_eq!(dns.options, ["ndots:5", "rotate"]);
        assert!(parse_resolv_conf("# nothing\n\n").is_empty());
    }

    #[test]
    fn a_missing_file_is_code_5() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("resolv.conf");
        assert_eq!(read_resolv_conf(&path).unwrap_err().code, 5);
        std::fs::write(&path, "nameserver 10.96.0.10\n").unwrap();
        assert_eq!(read_resolv_conf(&path).unwrap().nameservers, ["10.96.0.10"]);
    }
}
