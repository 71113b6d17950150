//! Taking one address from a range set: host-local's round-robin.
//!
//! The walk starts just after the set's last reservation
//! (`last_reserved_ip.<i>`) when that lies in the set, else at the first
//! range's `rangeStart`; it goes through each range from start to end, on to
//! the next range, wraps from the last to the first, skips each range's
//! gateway and gives up when it is back where it started. Each address is
//! tried by reserving it, so a crash-looping container does not get the
//! same address again before the whole set has been used.

use std::net::IpAddr;

use super::range::{IpPrefix, Range, RangeSet, canonical_ip, ip_from_u128, ip_to_u128};
use super::store::Store;
use crate::types::{CniError, ErrorCode, IpConfig};

/// An address taken from a range set, with what the result says about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocation {
    /// The address.
    pub address: IpAddr,
    /// The subnet of the range it came from.
    pub subnet: IpPrefix,
    /// That range's gateway.
    pub gateway: IpAddr,
}

impl Allocation {
    /// The result's entry: `address/len` and the gateway, no interface.
    pub fn to_ip_config(&self) -> IpConfig {
        IpConfig {
            address: format!("{}/{}", self.address, self.subnet.prefix_len()),
            gateway: Some(self.gateway.to_string()),
            interface: None,
        }
    }
}

/// The round-robin walk through a range set (see the module docs). Yields
/// each candidate address with its range.
#[derive(Clone, Debug)]
pub struct RangeIter<'a> {
    set: &'a RangeSet,
    index: usize,
    cur: Option<u128>,
    start: Option<u128>,
    done: bool,
}

impl<'a> RangeIter<'a> {
    /// A walk through `set` starting after `last_reserved` if the set holds
    /// it, else at the first range's start.
    pub fn new(set: &'a RangeSet, last_reserved: Option<IpAddr>) -> Self {
        let mut iter = RangeIter { set, index: 0, cur: None, start: None, done: false };
        if let Some(last) = last_reserved.map(canonical_ip)
            && let Some(index) = set.ranges().iter().position(|r| r.contains(last))
        {
            iter.index = index;
            iter.cur = Some(ip_to_u128(last).1);
        }
        iter
    }
}

impl<'a> Iterator for RangeIter<'a> {
    type Item = (IpAddr, &'a Range);

    fn next(&mut self) -> Option<Self::Item> {
        let set: &'a RangeSet = self.set;
        let ranges = set.ranges();
        while !self.done {
            match self.cur {
                None => {
                    let start = ranges[self.index].bounds().0;
                    self.cur = Some(start);
                    self.start = Some(start);
                }
                Some(cur) => {
                    let (_, end) = ranges[self.index].bounds();
                    let next = if cur >= end {
                        self.index = (self.index + 1) % ranges.len();
                        ranges[self.index].bounds().0
                    } else {
                        cur + 1
                    };
                    self.cur = Some(next);
                    match self.start {
                        None => self.start = Some(next),
                        Some(start) if start == next => {
                            self.done = true;
                            return None;
                        }
                        Some(_) => {}
                    }
                }
            }
            let range = &ranges[self.index];
            let cur = self.cur.unwrap_or_default();
            if cur != ip_to_u128(range.gateway).1 {
                return Some((ip_from_u128(range.family(), cur), range));
            }
        }
        None
    }
}

fn failed(msg: impl Into<String>) -> CniError {
    CniError::new(ErrorCode::Generic, msg)
}

/// Takes addresses from range set `index` of a network through a store.
/// The caller holds the store's lock.
#[derive(Debug)]
pub struct Allocator<'a, S: Store + ?Sized> {
    set: &'a RangeSet,
    store: &'a S,
    index: usize,
}

impl<'a, S: Store + ?Sized> Allocator<'a, S> {
    /// The allocator of range set number `index` (which names its
    /// `last_reserved_ip.<index>`).
    pub fn new(set: &'a RangeSet, store: &'a S, index: usize) -> Self {
        Allocator { set, store, index }
    }

    /// The walk this allocator would make now.
    pub fn iter(&self) -> Result<RangeIter<'a>, CniError> {
        // An unreadable record only costs the round-robin this once.
        let last = self.store.last_reserved_ip(self.index).unwrap_or(None);
        Ok(RangeIter::new(self.set, last))
    }

    /// Takes an address for `id`/`ifname`: `requested` if given (it must
    /// lie in the set, not be a gateway and be free), else the next free
    /// one of the walk. Code 999 with the reference's messages when the
    /// set is exhausted, the request cannot be met, or `id`/`ifname`
    /// already holds an address of the set; store failures keep their
    /// code.
    pub fn get(&self, id: &str, ifname: &str, requested: Option<IpAddr>) -> Result<Allocation, CniError> {
        if let Some(ip) = requested.map(canonical_ip) {
            let Some(range) = self.set.range_for(ip) else {
                return Err(failed(format!("{ip} not in range set {}", self.set)));
            };
            if ip == range.gateway {
                return Err(failed(format!("requested ip {ip} is subnet's gateway")));
            }
            if !self.store.reserve(id, ifname, ip, self.index)? {
                return Err(failed(format!("requested IP address {ip} is not available in range set {}", self.set)));
            }
            return Ok(Allocation { address: ip, subnet: range.subnet, gateway: range.gateway });
        }
        // The specification does not allow a second address for the same
        // attachment from the same set.
        if let Some(held) = self.store.get_by_id(id, ifname)?.into_iter().find(|ip| self.set.contains(*ip)) {
            return Err(failed(format!("{held} has been allocated to {id}, duplicate allocation is not allowed")));
        }
        for (ip, range) in self.iter()? {
            if self.store.reserve(id, ifname, ip, self.index)? {
                return Ok(Allocation { address: ip, subnet: range.subnet, gateway: range.gateway });
            }
        }
        Err(failed(format!("no IP addresses available in range set: {}", self.set)))
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::ipam::range::{Range, RangeSpec};
    use crate::ipam::store::DiskStore;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// subnet, rangeStart, rangeEnd, gateway.
    type Spec<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);

    fn set(specs: &[Spec<'_>]) -> RangeSet {
        let specs: Vec<RangeSpec> = specs
            .iter()
            .map(|(subnet, start, end, gw)| RangeSpec {
                subnet: (*subnet).into(),
                range_start: start.map(Into::into),
                range_end: end.map(Into::into),
                gateway: gw.map(Into::into),
            })
            .collect();
        RangeSet::from_specs(&specs).unwrap()
    }

    fn walk(set: &RangeSet, last: Option<&str>) -> Vec<String> {
        RangeIter::new(set, last.map(ip)).map(|(ip, _)| ip.to_string()).collect()
    }

    #[test]
    fn the_walk_skips_gateways_wraps_and_stops() {
        let s = set(&[
            ("10.9.0.0/29", Some("10.9.0.3"), Some("10.9.0.5"), Some("10.9.0.4")),
            ("10.9.1.0/30", None, None, None),
        ]);
        assert_eq!(walk(&s, None), ["10.9.0.3", "10.9.0.5", "10.9.1.2"]);
        assert_eq!(walk(&s, Some("10.9.0.5")), ["10.9.1.2", "10.9.0.3", "10.9.0.5"]);
        assert_eq!(walk(&s, Some("10.9.1.2")), ["10.9.0.3", "10.9.0.5", "10.9.1.2"], "wraps to the first range");
        assert_eq!(walk(&s, Some("10.9.0.7")), walk(&s, None), "a last address outside the set is ignored");
        assert_eq!(walk(&s, Some("10.9.0.4")), ["10.9.0.5", "10.9.1.2", "10.9.0.3"], "the gateway may be the start");
        let one = set(&[("10.9.0.0/30", Some("10.9.0.1"), Some("10.9.0.1"), None)]);
        assert_eq!(walk(&one, None), Vec::<String>::new(), "only the gateway: nothing");
        let v6 = set(&[("fd00::/126", None, None, None)]);
        assert_eq!(walk(&v6, Some("fd00::2")), ["fd00::3", "fd00::2"]);
        let big = set(&[("fd00::/64", None, None, None)]);
        let last = "fd00::ffff:ffff:ffff:ffff";
        assert_eq!(
            RangeIter::new(&big, Some(ip(last))).take(2).map(|(ip, _)| ip.to_string()).collect::<Vec<_>>(),
            ["fd00::2", "fd00::3"]
        );
    }

    #[test]
    fn round_robin_exhaustion_and_reuse() {
        let tmp = tempfile::tempdir().unwrap();
        let store = DiskStore::open(tmp.path(), "n").unwrap();
        let s = set(&[("10.9.0.0/29", None, None, None)]);
        let alloc = Allocator::new(&s, &store, 0);
        let got: Vec<String> =
            (1..=5).map(|i| alloc.get(&format!("c{i}"), "eth0", None).unwrap().address.to_string()).collect();
        assert_eq!(got, ["10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6"]);
        let e = alloc.get("c6", "eth0", None).unwrap_err();
        assert_eq!((e.code, e.msg.as_str()), (999, "no IP addresses available in range set: 10.9.0.1-10.9.0.6"));
        store.release_by_id("c2", "eth0").unwrap();
        store.release_by_id("c4", "eth0").unwrap();
        // After .6 the walk wraps: .3 before .5.
        let a = alloc.get("c7", "eth0", None).unwrap();
        assert_eq!(
            a.to_ip_config(),
            IpConfig { address: "10.9.0.3/29".into(), gateway: Some("10.9.0.1".into()), interface: None }
        );
        assert_eq!(alloc.get("c8", "eth0", None).unwrap().address, ip("10.9.0.5"));
        assert_eq!(fs::read_to_string(tmp.path().join("n/last_reserved_ip.0")).unwrap(), "10.9.0.5");
        let e = alloc.get("c8", "eth0", None).unwrap_err();
        assert_eq!(e.msg, "10.9.0.5 has been allocated to c8, duplicate allocation is not allowed");
    }

    #[test]
    fn requested_addresses() {
        let tmp = tempfile::tempdir().unwrap();
        let store = DiskStore::open(tmp.path(), "n").unwrap();
        let s = set(&[("10.9.0.0/24", Some("10.9.0.10"), Some("10.9.0.20"), None)]);
        let alloc = Allocator::new(&s, &store, 3);
        assert_eq!(alloc.get("a", "eth0", Some(ip("10.9.0.15"))).unwrap().address, ip("10.9.0.15"));
        assert_eq!(fs::read_to_string(tmp.path().join("n/last_reserved_ip.3")).unwrap(), "10.9.0.15");
        let msg = |req: &str| alloc.get("b", "eth0", Some(ip(req))).unwrap_err().msg;
        assert_eq!(
            msg("10.9.0.15"),
            "requested IP address 10.9.0.15 is not available in range set 10.9.0.10-10.9.0.20"
        );
        assert_eq!(msg("10.9.0.30"), "10.9.0.30 not in range set 10.9.0.10-10.9.0.20");
        let gw = set(&[("10.9.1.0/24", None, None, None)]);
        let e = Allocator::new(&gw, &store, 4).get("b", "eth0", Some(ip("10.9.1.1"))).unwrap_err();
        assert_eq!(e.msg, "requested ip 10.9.1.1 is subnet's gateway");
        // The round-robin goes on after a requested address.
        assert_eq!(alloc.get("c", "eth0", None).unwrap().address, ip("10.9.0.16"));
        let r: &Range = &s.ranges()[0];
        assert_eq!(alloc.get("d", "eth0", None).unwrap().gateway, r.gateway);
    }
}
