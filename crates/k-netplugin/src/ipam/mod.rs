//! A host-local compatible IPAM: [`HostLocal`], run as the `k-host-local`
//! binary or in-process through [`NetworkPlugin`](crate::NetworkPlugin).
//!
//! It reads the reference `host-local` configuration and shares its data
//! directory: the reference binary and ours can hand out addresses from the
//! same `<dataDir>/<network>/` at the same time, since both take
//! `flock(LOCK_EX)` on its `lock` file and reserve an address by creating
//! its file with `O_EXCL` (see [`store`] for the format, byte for byte).
//!
//! Where to start: [`plugin`] (the commands), [`config`] (what is read from
//! the configuration and `CNI_ARGS`), [`allocator`] (the round-robin walk),
//! [`range`] (the address arithmetic), [`store`] (the files), [`dns`]
//! (`resolvConf`).
//!
//! # The reference, as probed (Debian `containernetworking-plugins` 1.1.1)
//!
//! - Files: the network directory 0755, address files 0644 holding
//!   `<id>\r\n<ifname>` without a newline, `last_reserved_ip.<i>` 0644
//!   holding the address, `lock` empty and 0750. DEL of a network never
//!   used still creates the directory and `lock`. IPv6 files are named in
//!   the RFC 5952 form (`fd00:0:1:2:3:4:5:2`, `fd01::1:0:0:5`), which is
//!   also Rust's.
//! - Allocation: `10.9.0.0/29` gives `.2` to `.6` (`.1` is the gateway and
//!   the range start), then fails with code 999 and `failed to allocate for
//!   range 0: no IP addresses available in range set: 10.9.0.1-10.9.0.6`
//!   (several ranges are listed `a-b,c-d`). A release does not move the
//!   round-robin: the next ADD continues after `last_reserved_ip.<i>`, wraps,
//!   and reuses freed addresses only then. A `last_reserved_ip.<i>` outside
//!   set `i` (sets renumbered by `runtimeConfig.ipRanges`) restarts at the
//!   set's first `rangeStart`. A /30 is the smallest subnet; a /31 is
//!   "too small to allocate from"; host bits in the subnet are refused.
//! - Requests: `CNI_ARGS` `IP=` takes one address (`IP=a,b` is refused by
//!   1.1.1; we take a comma-separated list, as later versions do); other
//!   keys, `K8S_POD_*` included, fail with `ARGS: unknown args ["K=V"]`
//!   unless `IgnoreUnknown` is `1`/`true` (any case), and are then ignored;
//!   `IP=` empty means none. `args.cni.ips` and `runtimeConfig.ips` take
//!   `a.b.c.d` or `a.b.c.d/len`. Each request goes to the first set whose
//!   ranges hold it; a gateway (`requested ip … is subnet's gateway`), a
//!   taken address (`requested IP address … is not available in range set
//!   …`) or an address no set takes (`failed to allocate all requested
//!   IPs: …`) fails the ADD, and what it took is released (the
//!   `last_reserved_ip` files keep the released addresses). A second ADD of
//!   the same id and ifname fails: `… has been allocated to <id>, duplicate
//!   allocation is not allowed`.
//! - DEL of an unknown id succeeds and is idempotent; it frees the
//!   `<id>\r\n<ifname>` files and the older `<id>` ones. CHECK needs an
//!   address of the id and ifname (or an old `<id>` file): `host-local:
//!   Failed to find address added by container <id>`.
//! - Results: `ips` with address and gateway, no `interface`; `routes` as
//!   configured; `dns` from `resolvConf` (0.4.0 adds `"version"`; the
//!   reference also writes an empty `"dns": {}`).
//!
//! # Deliberate differences
//!
//! - Codes: the reference answers 999 for everything but bad JSON (6) and
//!   versions (1). We answer 7 for an invalid configuration, 4 for bad
//!   `CNI_ARGS`, 5 for I/O failures and keep 999 for allocation failures,
//!   with the reference's messages.
//! - A gateway outside its subnet is refused (1.1.1 accepts it); so is a
//!   `rangeEnd` before `rangeStart` (1.1.1 refuses it with a misleading
//!   message).
//! - We hold the lock for a whole ADD or DEL (the reference per range set),
//!   only ever read or remove files named by an address (the reference
//!   walks every file, subdirectories included), and a failing ADD
//!   releases only what it took (the reference releases every address of
//!   the id and ifname, an earlier ADD's included).
//! - STATUS and GC (CNI 1.1) are ours only: STATUS answers 50 when the
//!   network's directory cannot be created or written; GC frees addresses
//!   whose owner is not a valid attachment.

pub mod allocator;
pub mod config;
pub mod dns;
pub mod plugin;
pub mod range;
pub mod store;

pub use allocator::{Allocation, Allocator, RangeIter};
pub use config::{DEFAULT_DATA_DIR, IpamConfig};
pub use dns::{parse_resolv_conf, read_resolv_conf};
pub use plugin::HostLocal;
pub use range::{Family, IpPrefix, Range, RangeSet, RangeSpec};
pub use store::{DiskStore, Owner, Store, StoreLock};
