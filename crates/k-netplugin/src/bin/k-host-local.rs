//! `k-host-local`: k's host-local compatible IPAM as a CNI plugin binary.
//! It shares a data directory with the reference `host-local` (same files,
//! same lock), so the two never hand out the same address.

fn main() {
    k_netplugin::skel::run(k_netplugin::ipam::HostLocal::default())
}
