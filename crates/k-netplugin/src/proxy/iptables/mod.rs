//! kube-proxy's iptables mode: every service port becomes nat rules that
//! DNAT connections to a randomly chosen ready endpoint, written with
//! `iptables-restore` in one transaction.
//!
//! Where to start: [`IptablesProxier`] is the [`Proxier`](super::Proxier);
//! build it with [`IptablesProxier::new`] and [`RenderOptions`], point it at
//! a namespace with [`IptablesProxier::in_namespace`], and call `sync` with
//! each new [`ProxyState`](super::ProxyState). The pieces, each usable alone:
//!
//! - [`chains`]: chain names, hashed exactly as kube-proxy hashes them
//!   (`KUBE-SVC-`, `KUBE-EXT-`, `KUBE-SEP-` + 16 base32 characters of
//!   SHA-256), and the fixed chains.
//! - [`render`]: pure functions from a [`ServicePort`](super::ServicePort) to
//!   rule text — per-port chains plus its lines in the shared chains —
//!   sorted (ports by name, endpoints by address) so it compares as text.
//! - [`restore`]: restore input (full, or only some chains, with `-X` for
//!   vanished ones) and the `iptables`/`iptables-save`/`iptables-restore`
//!   commands, on the host or inside a [`NetNs`](crate::netns::NetNs).
//! - [`sync`]: the proxier — what changed since the last sync, partial or
//!   full rewrites, jump rules from the built-in chains, cleanup.
//!
//! What the rules do (nat table): `PREROUTING`/`OUTPUT` jump to
//! `KUBE-SERVICES`, which matches each cluster IP:port (→ `KUBE-SVC-…`) and
//! external IP:port (→ `KUBE-EXT-…`), and last sends local destinations to
//! `KUBE-NODEPORTS` (node port → `KUBE-EXT-…`). `KUBE-EXT-…` marks for
//! masquerade and goes on to `KUBE-SVC-…`, which picks an endpoint
//! (`statistic` random with probability `1/(n−i)`, or a `recent` match for
//! ClientIP affinity) and jumps to its `KUBE-SEP-…`: DNAT to `ip:port`.
//! `KUBE-POSTROUTING` masquerades marked packets (mark `0x4000`). The filter
//! table rejects the addresses of ports without ready endpoints and accepts
//! marked forwarded traffic (`KUBE-FORWARD`).
//!
//! Only IPv4 is rendered (this is `iptables`, not `ip6tables`).

pub mod chains;
pub mod render;
pub mod restore;
pub mod sync;

pub use render::{Chain, PortRules, RenderOptions, SharedRules, render_port, render_shared};
pub use restore::{Backend, Iptables, TableInput};
pub use sync::IptablesProxier;

#[cfg(test)]
mod tests;
