//! k's node networking, as libraries: the CNI vocabulary, one trait for
//! every CNI plugin, a libcni-like executor, host-local compatible IPAM, pod
//! networks with a flannel-like host-gw node mode, and the service proxy.
//!
//! Where to start:
//! - **Write a CNI plugin**: implement [`NetworkPlugin`] and call
//!   [`skel::run`] from `main` (see `src/bin/k-host-local.rs` and
//!   `examples/static-ipam.rs`).
//! - **Run plugins** (what a container runtime does):
//!   [`exec::Executor`] with [`exec::load_dir`]; results are cached in
//!   libcni's format.
//! - **Allocate addresses**: [`ipam::HostLocal`], which shares its data
//!   directory with the reference `host-local`.
//! - **Give pods a network**: [`pod::PodNetwork`]; across nodes,
//!   `node::HostGwNode` (feature `proxy`).
//! - **Proxy Services** (kube-proxy): `proxy::ServiceProxy` over a
//!   `proxy::userspace::UserspaceProxier` or a
//!   `proxy::iptables::IptablesProxier` (feature `proxy`, on by default).
//! - **Namespaces**: [`netns::NetNs`] and [`iproute`]; test support in
//!   `testing` (feature `testing`).
//!
//! Features: `proxy` (default) brings k-runtime and k-store for the proxy's
//! and the node controller's watches; a plugin binary built with
//! `default-features = false` needs neither. The guide is
//! `docs/netplugin/netplugin.md`, the design `docs/netplugin/design.md`.

pub mod cri;
pub mod exec;
pub mod ipam;
pub mod iproute;
pub mod netns;
#[cfg(feature = "proxy")]
pub mod node;
pub mod plugin;
pub mod pod;
#[cfg(feature = "proxy")]
pub mod proxy;
pub mod skel;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod types;

pub use plugin::{Attachment, GcAttachment, NetworkPlugin};
