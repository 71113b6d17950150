//! IP address and CIDR syntax, shared by Service, Node, NetworkPolicy and
//! EndpointSlice validation.

use std::net::IpAddr;

/// Whether `s` is an IPv4 or IPv6 address.
pub fn is_ip(s: &str) -> bool {
    s.parse::<IpAddr>().is_ok()
}

/// Parses `address/prefix-length`, checking the length against the family.
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, prefix) = s.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let prefix: u8 = prefix.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then_some((ip, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        assert_eq!(parse_cidr("10.0.0.0/8").map(|c| c.1), Some(8));
        assert_eq!(parse_cidr("2001:db8::/128").map(|c| c.1), Some(128));
        for bad in ["10.0.0.0", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/+8", "x/8", "2001:db8::/129"] {
            assert!(parse_cidr(bad).is_none(), "{bad}");
        }
        assert!(is_ip("::1") && is_ip("10.1.2.3") && !is_ip("10.1.2"));
    }
}
