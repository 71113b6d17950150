//! Addresses as integers: [`IpPrefix`] (a CIDR), [`Range`] (one
//! allocatable span of a subnet, with its gateway) and [`RangeSet`] (the
//! ranges one address is taken from).
//!
//! Every address is held as a `u128` plus its [`Family`], so stepping
//! through a range is integer arithmetic; IPv4-mapped IPv6 addresses
//! (`::ffff:10.1.0.5`) are read as the IPv4 address they carry, as the
//! reference does.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::types::{CniError, ErrorCode};

/// An address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4: 32 bits.
    V4,
    /// IPv6: 128 bits.
    V6,
}

impl Family {
    /// The number of bits in an address.
    pub const fn bits(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }

    /// The family of `ip` (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn of(ip: IpAddr) -> Family {
        match canonical_ip(ip) {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// The highest address of the family, as an integer.
    const fn max(self) -> u128 {
        match self {
            Family::V4 => u32::MAX as u128,
            Family::V6 => u128::MAX,
        }
    }
}

/// `ip` in standard form: an IPv4-mapped IPv6 address becomes IPv4.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// `ip` as its family and integer value.
pub fn ip_to_u128(ip: IpAddr) -> (Family, u128) {
    match canonical_ip(ip) {
        IpAddr::V4(v4) => (Family::V4, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (Family::V6, u128::from(v6)),
    }
}

/// The address of `family` with integer value `value` (truncated to the
/// family's width).
pub fn ip_from_u128(family: Family, value: u128) -> IpAddr {
    match family {
        // Truncation is the documented behaviour for IPv4.
        Family::V4 => IpAddr::V4(Ipv4Addr::from((value & Family::V4.max()) as u32)),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(value)),
    }
}

/// Parses an address as the reference reads one: plain (`10.1.0.5`,
/// `fd00::5`) or with a prefix length that is ignored (`10.1.0.5/24`).
pub fn parse_ip(text: &str) -> Result<IpAddr, CniError> {
    let bad = || CniError::new(ErrorCode::InvalidNetworkConfig, format!("invalid IP address {text}"));
    let addr = match text.split_once('/') {
        Some((addr, len)) => {
            len.parse::<u8>().map_err(|_| bad())?;
            addr
        }
        None => text,
    };
    addr.parse::<IpAddr>().map(canonical_ip).map_err(|_| bad())
}

/// A CIDR: an address with a prefix length, `10.1.0.0/24` or `fd00::/64`.
///
/// The address is kept as given (so an interface address such as
/// `10.1.0.5/24` is an `IpPrefix` too); [`network`](Self::network) masks
/// it. Serialized as its text.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpPrefix {
    family: Family,
    addr: u128,
    len: u8,
}

impl IpPrefix {
    /// `addr/len`; a length longer than the family's width is a code-7
    /// error.
    pub fn new(addr: IpAddr, len: u8) -> Result<Self, CniError> {
        // The family as written: `::ffff:10.0.0.0/104` stays an IPv6 prefix.
        let (family, addr) = match addr {
            IpAddr::V4(v4) => (Family::V4, u128::from(u32::from(v4))),
            IpAddr::V6(v6) => (Family::V6, u128::from(v6)),
        };
        if len > family.bits() {
            return Err(CniError::new(
                ErrorCode::InvalidNetworkConfig,
                format!("invalid CIDR address: {}/{len}", ip_from_u128(family, addr)),
            ));
        }
        Ok(IpPrefix { family, addr, len })
    }

    /// The address family.
    pub fn family(&self) -> Family {
        self.family
    }

    /// The address as given.
    pub fn addr(&self) -> IpAddr {
        ip_from_u128(self.family, self.addr)
    }

    /// The prefix length.
    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    /// The bits of the host part, as an integer mask.
    fn host_mask(&self) -> u128 {
        let host_bits = u32::from(self.family.bits() - self.len);
        if host_bits >= 128 { u128::MAX } else { (1u128 << host_bits) - 1 }
    }

    /// The network address (host bits cleared), as an integer.
    pub fn network_u128(&self) -> u128 {
        self.addr & !self.host_mask() & self.family.max()
    }

    /// The network address.
    pub fn network(&self) -> IpAddr {
        ip_from_u128(self.family, self.network_u128())
    }

    /// The same prefix with the host bits cleared (`10.1.0.5/24` →
    /// `10.1.0.0/24`).
    #[must_use]
    pub fn trunc(&self) -> IpPrefix {
        IpPrefix { addr: self.network_u128(), ..*self }
    }

    /// Whether the address has no host bits set.
    pub fn is_network(&self) -> bool {
        self.addr == self.network_u128()
    }

    /// The last address of the prefix (the broadcast address for IPv4).
    pub fn last(&self) -> IpAddr {
        ip_from_u128(self.family, self.network_u128() | self.host_mask())
    }

    /// The number of addresses in the prefix, saturating at `u128::MAX`.
    pub fn size(&self) -> u128 {
        self.host_mask().saturating_add(1)
    }

    /// Whether `ip` (of the same family) lies inside the prefix.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (family, value) = ip_to_u128(ip);
        family == self.family && value & !self.host_mask() == self.network_u128()
    }

    /// Whether the two prefixes share an address.
    pub fn overlaps(&self, other: &IpPrefix) -> bool {
        self.family == other.family && (self.contains(other.network()) || other.contains(self.network()))
    }

    /// The `n`th address from the network address (0 is the network
    /// address itself), if it lies inside the prefix.
    pub fn nth(&self, n: u128) -> Option<IpAddr> {
        (n <= self.host_mask()).then(|| ip_from_u128(self.family, self.network_u128() + n))
    }

    /// The first address a host can use: the network address + 1 (the
    /// same as the network address for a /32 or /128).
    pub fn first_usable(&self) -> IpAddr {
        self.nth(1).unwrap_or_else(|| self.network())
    }

    /// The last address a host can use: the last address, less the
    /// broadcast address for IPv4 (host-local's default `rangeEnd`).
    pub fn last_usable(&self) -> IpAddr {
        let last = self.network_u128() | self.host_mask();
        match self.family {
            Family::V4 if self.host_mask() > 0 => ip_from_u128(self.family, last - 1),
            _ => ip_from_u128(self.family, last),
        }
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr(), self.len)
    }
}

impl fmt::Debug for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IpPrefix({self})")
    }
}

impl FromStr for IpPrefix {
    type Err = CniError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || CniError::new(ErrorCode::InvalidNetworkConfig, format!("invalid CIDR address: {s}"));
        let (addr, len) = s.split_once('/').ok_or_else(bad)?;
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        // Digits only: no sign, no spaces.
        if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let len: u8 = len.parse().map_err(|_| bad())?;
        IpPrefix::new(addr, len).map_err(|_| bad())
    }
}

impl Serialize for IpPrefix {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpPrefix {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(|e: CniError| serde::de::Error::custom(e.msg))
    }
}

fn invalid(msg: impl Into<String>) -> CniError {
    CniError::new(ErrorCode::InvalidNetworkConfig, msg)
}

/// One range of a range set as it is written in the configuration:
/// `{"subnet", "rangeStart", "rangeEnd", "gateway"}`, all but `subnet`
/// optional. [`Range::from_spec`] fills in the defaults and checks it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RangeSpec {
    /// The subnet, `10.1.0.0/24`.
    #[serde(default)]
    pub subnet: String,
    /// The first address handed out, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_start: Option<String>,
    /// The last address handed out, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_end: Option<String>,
    /// The gateway given with each address (never handed out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
}

/// A checked range: a subnet, the span `range_start..=range_end` inside it
/// that addresses are taken from, and the gateway (skipped when taking).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Range {
    /// The subnet (network address, no host bits).
    pub subnet: IpPrefix,
    /// The first address handed out, inclusive.
    pub range_start: IpAddr,
    /// The last address handed out, inclusive.
    pub range_end: IpAddr,
    /// The gateway.
    pub gateway: IpAddr,
}

impl Range {
    /// A range of `subnet` with host-local's defaults: gateway and start at
    /// the network address + 1, end at the last address (less the
    /// broadcast address for IPv4). Refuses what [`Range::new`] refuses.
    pub fn of(subnet: IpPrefix) -> Result<Self, CniError> {
        Range::new(subnet, None, None, None)
    }

    /// A range from its parts, defaults filled in. Code 7 when the subnet
    /// has host bits set or is longer than its width − 2 (a /31 or /127
    /// has nothing to give), or when the start, end or gateway lies
    /// outside it, is of the other family, or the end is before the start.
    pub fn new(
        subnet: IpPrefix,
        range_start: Option<IpAddr>,
        range_end: Option<IpAddr>,
        gateway: Option<IpAddr>,
    ) -> Result<Self, CniError> {
        let bits = subnet.family().bits();
        if subnet.prefix_len() > bits - 2 {
            return Err(invalid(format!("Network {subnet} too small to allocate from")));
        }
        if !subnet.is_network() {
            return Err(invalid(format!(
                "Network has host bits set. For a subnet mask of length {} the network address is {}",
                subnet.prefix_len(),
                subnet.network()
            )));
        }
        let inside = |what: &str, ip: IpAddr| -> Result<IpAddr, CniError> {
            let ip = canonical_ip(ip);
            if Family::of(ip) != subnet.family() {
                return Err(invalid(format!("{what} {ip} is not the same protocol as subnet {subnet}")));
            }
            if !subnet.contains(ip) {
                return Err(invalid(format!("{what} {ip} not in network {subnet}")));
            }
            Ok(ip)
        };
        let gateway = gateway.map(|gw| inside("gateway", gw)).transpose()?.unwrap_or_else(|| subnet.first_usable());
        let range_start =
            range_start.map(|ip| inside("rangeStart", ip)).transpose()?.unwrap_or_else(|| subnet.first_usable());
        let range_end = range_end.map(|ip| inside("rangeEnd", ip)).transpose()?.unwrap_or_else(|| subnet.last_usable());
        if ip_to_u128(range_end).1 < ip_to_u128(range_start).1 {
            return Err(invalid(format!(
                "rangeEnd {range_end} is before rangeStart {range_start} in network {subnet}"
            )));
        }
        Ok(Range { subnet, range_start, range_end, gateway })
    }

    /// A range from its configuration form.
    pub fn from_spec(spec: &RangeSpec) -> Result<Self, CniError> {
        if spec.subnet.is_empty() {
            return Err(invalid("a range has no subnet"));
        }
        let subnet: IpPrefix = spec.subnet.parse()?;
        let ip = |field: &str, text: &Option<String>| -> Result<Option<IpAddr>, CniError> {
            text.as_deref()
                .filter(|t| !t.is_empty())
                .map(|t| t.parse::<IpAddr>().map_err(|_| invalid(format!("invalid {field} {t:?}"))))
                .transpose()
        };
        Range::new(
            subnet,
            ip("rangeStart", &spec.range_start)?,
            ip("rangeEnd", &spec.range_end)?,
            ip("gateway", &spec.gateway)?,
        )
    }

    /// The configuration form, every field written out.
    pub fn to_spec(&self) -> RangeSpec {
        RangeSpec {
            subnet: self.subnet.to_string(),
            range_start: Some(self.range_start.to_string()),
            range_end: Some(self.range_end.to_string()),
            gateway: Some(self.gateway.to_string()),
        }
    }

    /// The address family.
    pub fn family(&self) -> Family {
        self.subnet.family()
    }

    /// `range_start` and `range_end` as integers.
    pub fn bounds(&self) -> (u128, u128) {
        (ip_to_u128(self.range_start).1, ip_to_u128(self.range_end).1)
    }

    /// Whether `ip` is one this range may hand out or was asked for:
    /// same family, between start and end inclusive (the gateway counts).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (family, value) = ip_to_u128(ip);
        let (start, end) = self.bounds();
        family == self.family() && (start..=end).contains(&value)
    }

    /// Whether the two ranges share an address (always false across
    /// families).
    pub fn overlaps(&self, other: &Range) -> bool {
        let ((a0, a1), (b0, b1)) = (self.bounds(), other.bounds());
        self.family() == other.family() && a0 <= b1 && b0 <= a1
    }
}

impl fmt::Display for Range {
    /// `start-end`, as the reference names a range in its messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.range_start, self.range_end)
    }
}

/// The ranges one address is taken from: one or more ranges of one family
/// that do not overlap, walked in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RangeSet {
    ranges: Vec<Range>,
}

impl RangeSet {
    /// A set of `ranges`; code 7 when it is empty, mixes families or two
    /// of its ranges overlap.
    pub fn new(ranges: Vec<Range>) -> Result<Self, CniError> {
        let Some(first) = ranges.first() else {
            return Err(invalid("empty range set"));
        };
        if ranges.iter().any(|r| r.family() != first.family()) {
            return Err(invalid("mixed address families"));
        }
        for (i, a) in ranges.iter().enumerate() {
            if let Some(b) = ranges[i + 1..].iter().find(|b| a.overlaps(b)) {
                return Err(invalid(format!("subnets {a} and {b} overlap")));
            }
        }
        Ok(RangeSet { ranges })
    }

    /// A set from its configuration form.
    pub fn from_specs(specs: &[RangeSpec]) -> Result<Self, CniError> {
        RangeSet::new(specs.iter().map(Range::from_spec).collect::<Result<_, _>>()?)
    }

    /// The ranges, in order.
    pub fn ranges(&self) -> &[Range] {
        &self.ranges
    }

    /// The family of every range.
    pub fn family(&self) -> Family {
        self.ranges[0].family()
    }

    /// The range holding `ip` (between its start and end), if any.
    pub fn range_for(&self, ip: IpAddr) -> Option<&Range> {
        self.ranges.iter().find(|r| r.contains(ip))
    }

    /// Whether one of the ranges holds `ip`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.range_for(ip).is_some()
    }

    /// Whether a range of this set overlaps one of `other`.
    pub fn overlaps(&self, other: &RangeSet) -> bool {
        self.ranges.iter().any(|a| other.ranges.iter().any(|b| a.overlaps(b)))
    }
}

impl fmt::Display for RangeSet {
    /// The ranges as `start-end`, joined by commas.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn p(s: &str) -> IpPrefix {
        s.parse().unwrap()
    }

    #[test]
    fn prefixes_parse_print_and_step() {
        let v4 = p("10.1.0.0/24");
        assert_eq!(v4.to_string(), "10.1.0.0/24");
        assert_eq!((v4.family(), v4.prefix_len(), v4.size()), (Family::V4, 24, 256));
        assert_eq!(v4.nth(5), Some(ip("10.1.0.5")));
        assert_eq!(v4.nth(256), None);
        assert_eq!(
            (v4.first_usable(), v4.last_usable(), v4.last()),
            (ip("10.1.0.1"), ip("10.1.0.254"), ip("10.1.0.255"))
        );
        assert!(v4.contains(ip("10.1.0.255")) && !v4.contains(ip("10.1.1.0")) && !v4.contains(ip("fd00::1")));
        assert!(v4.contains(ip("::ffff:10.1.0.7")), "IPv4-mapped addresses are IPv4");
        assert_eq!(p("::ffff:10.0.0.0/104").family(), Family::V6, "a prefix keeps the family it is written in");
        let v6 = p("fd00::/64");
        assert_eq!(v6.to_string(), "fd00::/64");
        assert_eq!(v6.last_usable(), ip("fd00::ffff:ffff:ffff:ffff"), "no broadcast in IPv6");
        assert_eq!(p("::/0").size(), u128::MAX);
        assert_eq!(p("0.0.0.0/0").last(), ip("255.255.255.255"));
        let host = p("10.1.0.5/24");
        assert!(!host.is_network());
        assert_eq!((host.addr(), host.network(), host.trunc()), (ip("10.1.0.5"), ip("10.1.0.0"), v4));
        assert!(p("10.0.0.0/8").overlaps(&v4) && v4.overlaps(&p("10.0.0.0/8")) && !v4.overlaps(&p("10.1.1.0/24")));
        assert_eq!(p("10.1.0.9/32").first_usable(), ip("10.1.0.9"));
        for bad in ["10.1.0.0", "10.1.0.0/33", "fd00::/129", "10.1.0.0/-1", "10.1.0.0/+8", "x/8", "10.1.0.0/"] {
            let e = bad.parse::<IpPrefix>().unwrap_err();
            assert_eq!((e.code, e.msg), (7, format!("invalid CIDR address: {bad}")));
        }
        let json = serde_json::to_string(&v6).unwrap();
        assert_eq!(json, "\"fd00::/64\"");
        assert_eq!(serde_json::from_str::<IpPrefix>(&json).unwrap(), v6);
        assert_eq!(parse_ip("10.1.0.5/24").unwrap(), ip("10.1.0.5"));
        assert_eq!(parse_ip("::ffff:10.1.0.5").unwrap(), ip("10.1.0.5"));
        assert_eq!(parse_ip("zzz").unwrap_err().code, 7);
    }

    #[test]
    fn ranges_get_host_locals_defaults() {
        let r = Range::of(p("10.9.0.0/29")).unwrap();
        assert_eq!((r.range_start, r.range_end, r.gateway), (ip("10.9.0.1"), ip("10.9.0.6"), ip("10.9.0.1")));
        assert_eq!(r.to_string(), "10.9.0.1-10.9.0.6");
        let r = Range::of(p("fd00:1:2:3:4:5:6:0/126")).unwrap();
        assert_eq!(r.to_string(), "fd00:1:2:3:4:5:6:1-fd00:1:2:3:4:5:6:3");
        let r = Range::of(p("10.9.1.0/30")).unwrap();
        assert_eq!(r.to_string(), "10.9.1.1-10.9.1.2", "a /30 is the smallest");
        let spec = RangeSpec {
            subnet: "10.9.0.0/24".into(),
            range_start: Some("10.9.0.10".into()),
            range_end: Some("10.9.0.20".into()),
            gateway: Some("10.9.0.254".into()),
        };
        let r = Range::from_spec(&spec).unwrap();
        assert_eq!((r.to_string(), r.gateway), ("10.9.0.10-10.9.0.20".to_string(), ip("10.9.0.254")));
        assert!(r.contains(ip("10.9.0.10")) && r.contains(ip("10.9.0.20")) && !r.contains(ip("10.9.0.21")));
        assert_eq!(Range::from_spec(&r.to_spec()).unwrap(), r);
    }

    #[test]
    fn ranges_are_validated() {
        let msg = |subnet: &str, start: Option<&str>, end: Option<&str>, gw: Option<&str>| {
            let spec = RangeSpec {
                subnet: subnet.into(),
                range_start: start.map(Into::into),
                range_end: end.map(Into::into),
                gateway: gw.map(Into::into),
            };
            let e = Range::from_spec(&spec).unwrap_err();
            assert_eq!(e.code, 7);
            e.msg
        };
        assert_eq!(msg("10.9.0.0/31", None, None, None), "Network 10.9.0.0/31 too small to allocate from");
        assert_eq!(msg("fd00::/127", None, None, None), "Network fd00::/127 too small to allocate from");
        assert_eq!(
            msg("10.9.0.5/24", None, None, None),
            "Network has host bits set. For a subnet mask of length 24 the network address is 10.9.0.0"
        );
        assert_eq!(msg("10.9.2.0/24", Some("10.9.3.1"), None, None), "rangeStart 10.9.3.1 not in network 10.9.2.0/24");
        assert_eq!(msg("10.9.2.0/24", None, Some("10.9.3.1"), None), "rangeEnd 10.9.3.1 not in network 10.9.2.0/24");
        assert_eq!(msg("10.9.2.0/24", None, None, Some("10.9.3.1")), "gateway 10.9.3.1 not in network 10.9.2.0/24");
        assert_eq!(
            msg("10.9.2.0/24", None, None, Some("fd00::1")),
            "gateway fd00::1 is not the same protocol as subnet 10.9.2.0/24"
        );
        assert_eq!(
            msg("10.9.2.0/24", Some("10.9.2.100"), Some("10.9.2.50"), None),
            "rangeEnd 10.9.2.50 is before rangeStart 10.9.2.100 in network 10.9.2.0/24"
        );
        assert_eq!(msg("10.9.2.0/24", Some("x"), None, None), "invalid rangeStart \"x\"");
        assert_eq!(msg("", None, None, None), "a range has no subnet");
    }

    #[test]
    fn range_sets_check_families_and_overlaps() {
        let r = |s: &str| Range::of(p(s)).unwrap();
        assert_eq!(RangeSet::new(vec![]).unwrap_err().msg, "empty range set");
        assert_eq!(RangeSet::new(vec![r("10.9.2.0/24"), r("fd00::/64")]).unwrap_err().msg, "mixed address families");
        assert_eq!(
            RangeSet::new(vec![r("10.9.2.0/24"), r("10.9.2.0/25")]).unwrap_err().msg,
            "subnets 10.9.2.1-10.9.2.254 and 10.9.2.1-10.9.2.126 overlap"
        );
        let set = RangeSet::new(vec![r("10.9.0.0/29"), r("10.9.1.0/30")]).unwrap();
        assert_eq!(set.to_string(), "10.9.0.1-10.9.0.6,10.9.1.1-10.9.1.2");
        assert_eq!(set.range_for(ip("10.9.1.2")), Some(&set.ranges()[1]));
        assert!(!set.contains(ip("10.9.0.7")), "the broadcast address is outside the range");
        let other = RangeSet::new(vec![r("10.9.1.0/24")]).unwrap();
        assert!(set.overlaps(&other) && other.overlaps(&set));
        let v6 = RangeSet::new(vec![r("fd00::/64")]).unwrap();
        assert!(!set.overlaps(&v6));
        assert_eq!(v6.family(), Family::V6);
    }
}
