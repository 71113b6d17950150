//! k's node networking (issue 8, in progress): so far the CNI vocabulary
//! in [`types`] — network configuration lists, plugin configurations with
//! unknown keys kept, results converted between CNI 0.3.x/0.4.0 and
//! 1.0.0/1.1.0, the spec's errors and VERSION negotiation.
//!
//! The plan (the `NetworkPlugin` trait, the plugin-binary skeleton, the
//! libcni-like executor, host-local compatible IPAM, pod networks and the
//! service proxy) is in `docs/netplugin/design.md`.

pub mod types;
