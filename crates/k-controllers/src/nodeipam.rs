//! The node IPAM controller (kube-controller-manager's `nodeipam` with its
//! range allocator): gives every node a pod CIDR of its own, cut from the
//! cluster CIDR.
//!
//! The cluster CIDR ([`NodeIpamOptions::cluster_cidr`], IPv4, no default:
//! the controller manager passes its `--cluster-cidr`) is cut into ranges
//! of [`NodeIpamOptions::node_cidr_mask_size`] bits (`--node-cidr-mask-size`,
//! 24 by default); at most 16 bits may lie between the two, as Kubernetes
//! requires. Each reconcile of a node:
//!
//! - takes the occupied ranges from the nodes in the informer cache (every
//!   `spec.podCIDRs`, or `spec.podCIDR` alone, inside the cluster CIDR; a
//!   range outside it is ignored, with a log line) and from this
//!   controller's own allocations the cache does not show yet. Occupancy is
//!   thus rebuilt from the node list — a restarted controller sees the same
//!   assignments — and a deleted node's range is free again as soon as the
//!   cache drops the node;
//! - leaves a node that has a pod CIDR alone;
//! - gives a node without one the next free range, searching from after
//!   the last range given (Kubernetes' `nextCandidate`, wrapping around at
//!   the end, so freed ranges are reused once the search comes back to
//!   them), written to both `spec.podCIDR` and `spec.podCIDRs`. When the
//!   write fails the range is released.
//! - When no range is free, records the event `CIDRNotAvailable` on the
//!   node ("Node `<name>` status is now: CIDRNotAvailable"), logs a warning
//!   and tries again 30 s later (or when the node changes).
//!
//! Not covered: dual-stack (a second, IPv6 cluster CIDR), the cloud
//! allocator, multi-CIDR (`ClusterCIDR` objects), and
//! `--service-cluster-ip-range` exclusion from the cluster CIDR.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ipnet::Ipv4Net;
use k_api_types::core::v1::Node;
use k_runtime::clock::{Clock, SystemClock};
use k_runtime::controller::{Action, Context, Controller, Reconciler};
use k_runtime::events::{EventType, Recorder, reference_to};
use k_runtime::informer::InformerFactory;
use k_runtime::manager::Manager;
use k_runtime::reflector::Store;
use k_store::{Api, ObjectApi, StoreError};

/// The default size of a node's range, in bits (`--node-cidr-mask-size`).
pub const DEFAULT_NODE_CIDR_MASK_SIZE: u8 = 24;
/// The most bits between the cluster CIDR and a node's range (2¹⁶ ranges).
pub const MAX_MASK_DIFFERENCE: u8 = 16;
/// How long a node waits for a free range before it is tried again.
pub const EXHAUSTED_RETRY: Duration = Duration::from_secs(30);

/// Why the options are wrong or a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A read or write of the object API failed (retried with backoff).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The cluster CIDR does not parse.
    #[error("invalid cluster CIDR {input:?}: {reason}")]
    InvalidClusterCidr {
        /// The value given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The node CIDR mask size does not fit the cluster CIDR.
    #[error("invalid node CIDR mask size {mask} for cluster CIDR {cluster_cidr}: {reason}")]
    InvalidMaskSize {
        /// The cluster CIDR.
        cluster_cidr: Ipv4Net,
        /// The mask size given.
        mask: u8,
        /// What is wrong with it.
        reason: String,
    },
}

/// The controller's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeIpamOptions {
    /// The range the nodes' ranges are cut from (`--cluster-cidr`).
    pub cluster_cidr: Ipv4Net,
    /// The prefix length of each node's range (`--node-cidr-mask-size`).
    pub node_cidr_mask_size: u8,
}

impl NodeIpamOptions {
    /// Options from `--cluster-cidr` and `--node-cidr-mask-size` values.
    /// Host bits of the cluster CIDR are dropped (`10.0.0.5/16` is
    /// `10.0.0.0/16`), as Go's `net.ParseCIDR` does.
    ///
    /// # Errors
    /// [`Error::InvalidClusterCidr`] for a value that is no IPv4 CIDR,
    /// [`Error::InvalidMaskSize`] for a mask shorter than the cluster's
    /// prefix, longer than 32, or more than 16 bits longer than the prefix.
    pub fn parse(cluster_cidr: &str, node_cidr_mask_size: u8) -> Result<NodeIpamOptions, Error> {
        let input = cluster_cidr.trim();
        let invalid = |reason: &str| Error::InvalidClusterCidr { input: input.to_owned(), reason: reason.to_owned() };
        if input.is_empty() {
            return Err(invalid("empty: the node IPAM controller needs a cluster CIDR"));
        }
        if input.contains(':') {
            return Err(invalid("IPv6 cluster CIDRs are not supported (only IPv4)"));
        }
        if !input.contains('/') {
            return Err(invalid("missing the prefix length, as in 10.244.0.0/16"));
        }
        let net: Ipv4Net = input.parse().map_err(|e| invalid(&format!("{e} (expected e.g. 10.244.0.0/16)")))?;
        let options = NodeIpamOptions { cluster_cidr: net.trunc(), node_cidr_mask_size };
        options.validate()?;
        Ok(options)
    }

    /// Checks the mask size against the cluster CIDR (see [`parse`](Self::parse)).
    ///
    /// # Errors
    /// [`Error::InvalidMaskSize`].
    pub fn validate(&self) -> Result<(), Error> {
        let (prefix, mask) = (self.cluster_cidr.prefix_len(), self.node_cidr_mask_size);
        let reason = if mask > 32 {
            Some("must be at most 32".to_owned())
        } else if mask < prefix {
            Some(format!("must be at least the cluster CIDR's prefix length {prefix}"))
        } else if mask - prefix > MAX_MASK_DIFFERENCE {
            Some(format!(
                "must be at most {MAX_MASK_DIFFERENCE} bits longer than the cluster CIDR's prefix length {prefix}"
            ))
        } else {
            None
        };
        match reason {
            Some(reason) => Err(Error::InvalidMaskSize { cluster_cidr: self.cluster_cidr, mask, reason }),
            None => Ok(()),
        }
    }

    /// How many node ranges the cluster CIDR holds.
    pub fn capacity(&self) -> usize {
        1usize << (self.node_cidr_mask_size.saturating_sub(self.cluster_cidr.prefix_len()))
    }

    /// The `index`th node range.
    fn range(&self, index: usize) -> Option<Ipv4Net> {
        let step = 1u64 << (32 - u32::from(self.node_cidr_mask_size));
        let base = u64::from(u32::from(self.cluster_cidr.network()));
        let address = u32::try_from(base + step * u64::try_from(index).ok()?).ok()?;
        Ipv4Net::new(Ipv4Addr::from(address), self.node_cidr_mask_size).ok()
    }

    /// The indexes of the node ranges `net` overlaps (none outside the
    /// cluster CIDR).
    fn indexes(&self, net: &Ipv4Net) -> Option<std::ops::Range<usize>> {
        if !self.cluster_cidr.contains(net) {
            return None;
        }
        let shift = 32 - u32::from(self.node_cidr_mask_size);
        let base = u64::from(u32::from(self.cluster_cidr.network()));
        let first = (u64::from(u32::from(net.network())) - base) >> shift;
        let last = (u64::from(u32::from(net.broadcast())) - base) >> shift;
        Some(usize::try_from(first).ok()?..usize::try_from(last).ok()? + 1)
    }
}

/// The pod CIDRs a node has (`podCIDRs`, else `podCIDR`).
fn node_cidrs(node: &Node) -> Vec<&str> {
    if node.spec.pod_cidrs.is_empty() {
        node.spec.pod_cidr.iter().map(String::as_str).filter(|c| !c.is_empty()).collect()
    } else {
        node.spec.pod_cidrs.iter().map(String::as_str).collect()
    }
}

#[derive(Debug, Default)]
struct State {
    /// Ranges given that the cache may not show yet: node → range.
    pending: HashMap<String, Ipv4Net>,
    /// Where the search for the next free range starts.
    next_candidate: usize,
}

/// The node IPAM controller's reconciler (see the
/// [module documentation](self)).
pub struct NodeIpamReconciler {
    informers: Arc<InformerFactory>,
    clock: Arc<dyn Clock>,
    options: NodeIpamOptions,
    recorder: Recorder,
    state: Mutex<State>,
}

impl std::fmt::Debug for NodeIpamReconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeIpamReconciler").field("options", &self.options).finish_non_exhaustive()
    }
}

impl NodeIpamReconciler {
    /// A reconciler reading nodes from `informers`' cache, writing through
    /// `api`, cutting ranges as `options` say.
    pub fn new(
        api: Arc<dyn ObjectApi>,
        informers: Arc<InformerFactory>,
        clock: Arc<dyn Clock>,
        options: NodeIpamOptions,
    ) -> Self {
        let recorder = Recorder::with_clock(api, "node-ipam-controller", "", clock.clone());
        NodeIpamReconciler { informers, clock, options, recorder, state: Mutex::default() }
    }

    /// Its controller: nodes (run it with this reconciler).
    pub fn controller(&self) -> Controller<Node> {
        Controller::<Node>::new(self.informers.clone(), None).clock(self.clock.clone()).named("nodeipam")
    }

    /// The options.
    pub fn options(&self) -> &NodeIpamOptions {
        &self.options
    }

    fn nodes(&self) -> Store<Node> {
        self.informers.informer::<Node>(None, None, None).store()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Which ranges are taken, from the cached nodes and the pending
    /// allocations (pending ones the cache shows, or whose node is gone,
    /// are dropped).
    fn occupied(&self, state: &mut State, nodes: &[Arc<Node>]) -> Vec<bool> {
        let mut used = vec![false; self.options.capacity()];
        let names: HashSet<&str> = nodes.iter().map(|n| n.metadata.name.as_str()).collect();
        let assigned: HashSet<&str> =
            nodes.iter().filter(|n| !node_cidrs(n).is_empty()).map(|n| n.metadata.name.as_str()).collect();
        state.pending.retain(|name, _| names.contains(name.as_str()) && !assigned.contains(name.as_str()));
        for net in state.pending.values() {
            for i in self.options.indexes(net).into_iter().flatten() {
                used[i] = true;
            }
        }
        for node in nodes {
            for cidr in node_cidrs(node) {
                let net = match cidr.parse::<Ipv4Net>() {
                    Ok(net) => net,
                    Err(_) => {
                        // IPv6 (dual stack) or garbage: not ours.
                        tracing::debug!(node = %node.metadata.name, cidr, "pod CIDR not in the IPv4 cluster CIDR");
                        continue;
                    }
                };
                match self.options.indexes(&net) {
                    Some(range) => range.for_each(|i| used[i] = true),
                    None => tracing::warn!(
                        node = %node.metadata.name,
                        cidr,
                        cluster_cidr = %self.options.cluster_cidr,
                        "the node's pod CIDR is outside the cluster CIDR: ignored"
                    ),
                }
            }
        }
        used
    }

    /// Takes the next free range for `node`.
    fn allocate(&self, node: &str, nodes: &[Arc<Node>]) -> Option<Ipv4Net> {
        let mut state = self.lock();
        let used = self.occupied(&mut state, nodes);
        let capacity = used.len();
        let start = state.next_candidate % capacity.max(1);
        let index = (0..capacity).map(|i| (start + i) % capacity).find(|i| !used[*i])?;
        let net = self.options.range(index)?;
        state.next_candidate = (index + 1) % capacity;
        state.pending.insert(node.to_owned(), net);
        Some(net)
    }

    fn release(&self, node: &str) {
        self.lock().pending.remove(node);
    }

    async fn reconcile_node(&self, node: Arc<Node>, ctx: &Context) -> Result<Action, Error> {
        if !node_cidrs(&node).is_empty() {
            return Ok(Action::AwaitChange);
        }
        let nodes = self.nodes();
        nodes.wait_until_synced().await;
        let name = node.metadata.name.clone();
        let pending = self.lock().pending.get(&name).copied();
        let net = match pending {
            // Given already; the cache is behind.
            Some(net) => net,
            None => match self.allocate(&name, &nodes.state()) {
                Some(net) => net,
                None => {
                    tracing::warn!(
                        node = %name,
                        cluster_cidr = %self.options.cluster_cidr,
                        mask = self.options.node_cidr_mask_size,
                        "no pod CIDR left in the cluster CIDR"
                    );
                    let message = format!("Node {name} status is now: CIDRNotAvailable");
                    if let Err(e) = self
                        .recorder
                        .publish(&reference_to(&*node), EventType::Normal, "CIDRNotAvailable", &message)
                        .await
                    {
                        tracing::debug!(error = %e, "event not recorded");
                    }
                    return Ok(Action::RequeueAfter(EXHAUSTED_RETRY));
                }
            },
        };
        let cidr = net.to_string();
        let api: Api<Node> = Api::with_client(ctx.api.clone(), None);
        let written = api
            .guaranteed_update(&name, |n| {
                if node_cidrs(n).is_empty() {
                    n.spec.pod_cidr = Some(cidr.clone());
                    n.spec.pod_cidrs = vec![cidr.clone()];
                }
            })
            .await;
        match written {
            Ok(n) if node_cidrs(&n) == [cidr.as_str()] => {
                tracing::info!(node = %name, cidr, "pod CIDR assigned");
                Ok(Action::AwaitChange)
            }
            Ok(_) => {
                // Someone else set it meanwhile: ours is free again.
                self.release(&name);
                Ok(Action::AwaitChange)
            }
            Err(e) if e.is_not_found() => {
                self.release(&name);
                Ok(Action::AwaitChange)
            }
            Err(e) => {
                self.release(&name);
                Err(e.into())
            }
        }
    }
}

#[async_trait::async_trait]
impl Reconciler<Node> for NodeIpamReconciler {
    type Error = Error;

    async fn reconcile(&self, node: Arc<Node>, ctx: &Context) -> Result<Action, Error> {
        self.reconcile_node(node, ctx).await
    }
}

/// Adds the node IPAM controller to `manager` (system clock) with
/// `options` (the manager's `--cluster-cidr` and `--node-cidr-mask-size`).
pub fn add_node_ipam(manager: &mut Manager, options: NodeIpamOptions) {
    let reconciler = NodeIpamReconciler::new(manager.api(), manager.informers(), Arc::new(SystemClock), options);
    manager.add(reconciler.controller(), reconciler);
}

#[cfg(test)]
mod tests {
    use k_api_types::core::v1::Event;
    use k_api_types::meta::{DeleteOptions, ObjectMeta};
    use k_runtime::testing::TestEnv;
    use k_runtime::watcher::Config;
    use k_store::api::ListOptions;

    use super::*;

    struct Fixture {
        env: TestEnv,
        ctx: Context,
        nodes: Api<Node>,
    }

    impl Fixture {
        fn new() -> Self {
            let env = TestEnv::new();
            let clock: Arc<dyn Clock> = Arc::new(env.clock.clone());
            let ctx = Context { controller: Arc::from("nodeipam"), api: env.api.clone(), clock, retries: 0 };
            Fixture { nodes: Api::all(env.store.clone()), env, ctx }
        }

        /// A reconciler with its own (fresh) informers, as after a restart.
        fn reconciler(&self, cidr: &str, mask: u8) -> NodeIpamReconciler {
            let informers = Arc::new(InformerFactory::new(self.env.api.clone(), Config::default()));
            let options = NodeIpamOptions::parse(cidr, mask).unwrap();
            NodeIpamReconciler::new(self.env.api.clone(), informers, Arc::new(self.env.clock.clone()), options)
        }

        async fn node(&self, name: &str, cidr: Option<&str>) {
            let mut node = Node { metadata: ObjectMeta::named(name), ..Default::default() };
            if let Some(cidr) = cidr {
                node.spec.pod_cidr = Some(cidr.to_owned());
                node.spec.pod_cidrs = vec![cidr.to_owned()];
            }
            self.nodes.create(&node).await.unwrap();
        }

        /// Waits for `r`'s cache to show the stored nodes, then reconciles `name`.
        async fn reconcile(&self, r: &NodeIpamReconciler, name: &str) -> Action {
            let stored: Vec<(String, String)> = self
                .nodes
                .list(&ListOptions::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|n| (n.metadata.name, n.metadata.resource_version))
                .collect();
            let store = r.nodes();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            loop {
                let cached = store.state();
                if store.is_synced()
                    && cached.len() == stored.len()
                    && stored.iter().all(|(n, rv)| {
                        cached.iter().any(|c| &c.metadata.name == n && &c.metadata.resource_version == rv)
                    })
                {
                    break;
                }
                assert!(tokio::time::Instant::now() < deadline, "the node cache never caught up");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let node = self.nodes.get(name).await.unwrap();
            r.reconcile(Arc::new(node), &self.ctx).await.unwrap()
        }

        async fn cidr(&self, name: &str) -> Option<String> {
            let node = self.nodes.get(name).await.unwrap();
            if let Some(cidr) = &node.spec.pod_cidr {
                assert_eq!(node.spec.pod_cidrs, std::slice::from_ref(cidr), "podCIDR and podCIDRs agree");
            }
            node.spec.pod_cidr
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nodes_get_distinct_ranges_of_the_cluster_cidr() {
        let f = Fixture::new();
        let r = f.reconciler("10.244.0.0/16", 24);
        f.node("outsider", Some("192.168.0.0/24")).await;
        let mut seen = HashSet::new();
        for name in ["n1", "n2", "n3"] {
            f.node(name, None).await;
            assert_eq!(f.reconcile(&r, name).await, Action::AwaitChange);
            let cidr: Ipv4Net = f.cidr(name).await.unwrap().parse().unwrap();
            assert_eq!(cidr.prefix_len(), 24);
            assert!(r.options().cluster_cidr.contains(&cidr), "{cidr}");
            assert!(seen.insert(cidr), "{cidr} given twice");
        }
        let mut sorted: Vec<String> = seen.iter().map(ToString::to_string).collect();
        sorted.sort();
        assert_eq!(sorted, ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"]);
        assert_eq!(f.cidr("outsider").await.as_deref(), Some("192.168.0.0/24"), "left alone");

        // Reconciling again (the cache may lag) changes nothing.
        f.reconcile(&r, "n1").await;
        assert_eq!(f.cidr("n1").await.as_deref(), Some("10.244.0.0/24"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_restarted_allocator_keeps_assignments_and_skips_taken_ranges() {
        let f = Fixture::new();
        let r = f.reconciler("10.244.0.0/16", 24);
        for name in ["n1", "n2"] {
            f.node(name, None).await;
            f.reconcile(&r, name).await;
        }
        // Set by hand (another allocator, or an administrator).
        f.node("manual", Some("10.244.2.0/24")).await;
        drop(r);
        let restarted = f.reconciler("10.244.0.0/16", 24);
        f.node("n3", None).await;
        for name in ["n1", "n2", "manual", "n3"] {
            f.reconcile(&restarted, name).await;
        }
        assert_eq!(f.cidr("n1").await.as_deref(), Some("10.244.0.0/24"));
        assert_eq!(f.cidr("n2").await.as_deref(), Some("10.244.1.0/24"));
        assert_eq!(f.cidr("manual").await.as_deref(), Some("10.244.2.0/24"));
        assert_eq!(f.cidr("n3").await.as_deref(), Some("10.244.3.0/24"), "the taken ranges are skipped");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn exhaustion_is_reported_and_a_deleted_nodes_range_is_reused() {
        let f = Fixture::new();
        // Four /24s.
        let r = f.reconciler("10.0.0.0/22", 24);
        for name in ["n1", "n2", "n3", "n4"] {
            f.node(name, None).await;
            f.reconcile(&r, name).await;
        }
        f.node("n5", None).await;
        assert_eq!(f.reconcile(&r, "n5").await, Action::RequeueAfter(EXHAUSTED_RETRY));
        assert_eq!(f.cidr("n5").await, None);
        let events: Api<Event> = Api::all(f.env.store.clone());
        let events = events.list(&ListOptions::default()).await.unwrap().items;
        let event = events.iter().find(|e| e.reason.as_deref() == Some("CIDRNotAvailable")).expect("an event");
        assert_eq!(event.message.as_deref(), Some("Node n5 status is now: CIDRNotAvailable"));

        let freed = f.cidr("n2").await.unwrap();
        f.nodes.delete("n2", &DeleteOptions::default()).await.unwrap();
        assert_eq!(f.reconcile(&r, "n5").await, Action::AwaitChange);
        assert_eq!(f.cidr("n5").await, Some(freed));
    }

    #[test]
    fn bad_options_are_refused_with_clear_errors() {
        let ok = NodeIpamOptions::parse("10.244.7.9/16", 24).unwrap();
        assert_eq!(ok.cluster_cidr.to_string(), "10.244.0.0/16");
        assert_eq!(ok.capacity(), 256);
        let cidr_error = |input: &str| match NodeIpamOptions::parse(input, 24) {
            Err(Error::InvalidClusterCidr { reason, .. }) => reason,
            other => panic!("{input}: {other:?}"),
        };
        assert!(cidr_error("").contains("empty"));
        assert!(cidr_error("10.244.0.0").contains("prefix length"));
        assert!(cidr_error("10.244.0.0/33").contains("expected"));
        assert!(cidr_error("not-a-cidr/8").contains("expected"));
        assert!(cidr_error("fd00::/48").contains("IPv6"));
        let mask_error = |input: &str, mask: u8| match NodeIpamOptions::parse(input, mask) {
            Err(e @ Error::InvalidMaskSize { .. }) => e.to_string(),
            other => panic!("{input} {mask}: {other:?}"),
        };
        assert!(mask_error("10.244.0.0/16", 8).contains("at least the cluster CIDR's prefix length 16"));
        assert!(mask_error("10.0.0.0/8", 30).contains("at most 16 bits"));
        assert!(mask_error("10.0.0.0/8", 33).contains("at most 32"));
        let whole = NodeIpamOptions::parse("10.0.0.0/24", 24).unwrap();
        assert_eq!((whole.capacity(), whole.range(0).map(|n| n.to_string())), (1, Some("10.0.0.0/24".to_owned())));
    }
}
