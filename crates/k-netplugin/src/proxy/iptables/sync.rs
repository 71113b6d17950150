//! [`IptablesProxier`]: renders the model, works out what changed since the
//! last successful sync and applies it with one `iptables-restore`.
//!
//! A **full** sync writes every chain: the fixed ones, `KUBE-SERVICES` and
//! `KUBE-NODEPORTS`, every port's chains; per-port chains found in the nat
//! table (`iptables-save`) that are no longer wanted are deleted; then the
//! jump rules from the built-in chains are ensured (`iptables -C`, `-I`).
//! It runs the first time, after any failure, when the change set asks for
//! it, after [`IptablesProxier::cleanup`] and once the full-sync period
//! (an hour by default) has passed.
//!
//! Otherwise a sync is **partial**: nat `KUBE-SERVICES` and `KUBE-NODEPORTS`,
//! the per-port chains whose text differs from what was last applied, the
//! filter chains `KUBE-SERVICES`/`KUBE-EXTERNAL-SERVICES` if their text
//! changed, and `-X` for the chains of removed ports and endpoints. A sync
//! with nothing changed runs no command at all.
//!
//! Changes are found by content: a port is re-rendered when its
//! [`ServicePort`] differs from the one last applied, so the change set's list
//! of ports is only a hint and a wrong one cannot leave stale rules.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::chains::{
    KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_MARK_MASQ, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_SERVICES,
    is_service_chain,
};
use super::render::{Chain, PortRules, RenderOptions, SharedRules, render_port, render_shared};
use super::restore::{Iptables, TableInput, parse_chains, restore_text};
use crate::netns::NetNs;
use crate::proxy::model::{ChangeSet, ProxyState, ServicePort, ServicePortName};
use crate::proxy::{Proxier, ProxyError, SyncStats};

/// How often a full rewrite happens at the latest.
pub const DEFAULT_FULL_SYNC_PERIOD: Duration = Duration::from_secs(3600);

/// A jump from a built-in chain to one of ours, kept outside the restore
/// input (kube-proxy's `iptablesJumpChains`, less the health-check and
/// load-balancer firewall ones this proxier has no use for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JumpRule {
    /// `nat` or `filter`.
    pub table: &'static str,
    /// The built-in chain holding the jump.
    pub from: &'static str,
    /// Our chain.
    pub to: &'static str,
    /// The rule's comment.
    pub comment: &'static str,
    /// Only new connections (`-m conntrack --ctstate NEW`).
    pub new_only: bool,
}

impl JumpRule {
    /// The rule's arguments as `iptables` takes them (after `-I <chain>`).
    pub fn args(&self) -> Vec<&'static str> {
        let mut args = Vec::new();
        if self.new_only {
            args.extend(["-m", "conntrack", "--ctstate", "NEW"]);
        }
        args.extend(["-m", "comment", "--comment", self.comment, "-j", self.to]);
        args
    }
}

/// The jump rules, in the order they are ensured.
pub const JUMP_RULES: [JumpRule; 8] = [
    JumpRule {
        table: "filter",
        from: "INPUT",
        to: KUBE_EXTERNAL_SERVICES,
        comment: "kubernetes externally-visible service portals",
        new_only: true,
    },
    JumpRule {
        table: "filter",
        from: "FORWARD",
        to: KUBE_EXTERNAL_SERVICES,
        comment: "kubernetes externally-visible service portals",
        new_only: true,
    },
    JumpRule {
        table: "filter",
        from: "FORWARD",
        to: KUBE_SERVICES,
        comment: "kubernetes service portals",
        new_only: true,
    },
    JumpRule {
        table: "filter",
        from: "OUTPUT",
        to: KUBE_SERVICES,
        comment: "kubernetes service portals",
        new_only: true,
    },
    JumpRule {
        table: "filter",
        from: "FORWARD",
        to: KUBE_FORWARD,
        comment: "kubernetes forwarding rules",
        new_only: false,
    },
    JumpRule {
        table: "nat",
        from: "OUTPUT",
        to: KUBE_SERVICES,
        comment: "kubernetes service portals",
        new_only: false,
    },
    JumpRule {
        table: "nat",
        from: "PREROUTING",
        to: KUBE_SERVICES,
        comment: "kubernetes service portals",
        new_only: false,
    },
    JumpRule {
        table: "nat",
        from: "POSTROUTING",
        to: KUBE_POSTROUTING,
        comment: "kubernetes postrouting rules",
        new_only: false,
    },
];

/// The chains of the filter table we own.
const FILTER_CHAINS: [&str; 3] = [KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD];
/// The fixed chains of the nat table we own.
const NAT_CHAINS: [&str; 4] = [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_MARK_MASQ, KUBE_POSTROUTING];

/// A port as last applied (or rendered, when that sync failed).
#[derive(Clone, Debug)]
struct Applied {
    port: ServicePort,
    rules: PortRules,
}

/// What the proxier remembers between syncs.
#[derive(Debug, Default)]
struct Memory {
    /// Per port: the model and its rendering. Accurate for the kernel only
    /// while `needs_full` is false; always usable as a render cache.
    ports: BTreeMap<ServicePortName, Applied>,
    /// The shared chains as last applied.
    shared: Option<SharedRules>,
    /// The next sync must be full.
    needs_full: bool,
    /// When the last full sync succeeded (`None`: never).
    last_full: Option<Instant>,
}

/// kube-proxy's iptables mode: the model rendered into nat and filter rules
/// and applied with `iptables-restore`, on the host or inside a namespace.
#[derive(Debug)]
pub struct IptablesProxier {
    options: RenderOptions,
    iptables: Iptables,
    full_sync_period: Duration,
    memory: tokio::sync::Mutex<Memory>,
    last_input: std::sync::Mutex<String>,
}

impl IptablesProxier {
    /// A proxier rendering with `options`, programming the caller's network
    /// namespace.
    pub fn new(options: RenderOptions) -> Self {
        IptablesProxier {
            options,
            iptables: Iptables::host(),
            full_sync_period: DEFAULT_FULL_SYNC_PERIOD,
            memory: tokio::sync::Mutex::new(Memory { needs_full: true, ..Memory::default() }),
            last_input: std::sync::Mutex::new(String::new()),
        }
    }

    /// Programs the namespace `ns` instead (the commands run inside it).
    pub fn in_namespace(mut self, ns: NetNs) -> Self {
        self.iptables = Iptables::in_namespace(ns);
        self
    }

    /// Runs the binaries of `backend` (default: the system's `iptables`).
    pub fn with_backend(mut self, backend: super::restore::Backend) -> Self {
        self.iptables = self.iptables.with_backend(backend);
        self
    }

    /// Runs no command: syncs only plan, and [`Self::last_restore_input`]
    /// shows what would have been written.
    pub fn dry_run(mut self) -> Self {
        self.iptables = Iptables::dry_run();
        self
    }

    /// Rewrites everything at least this often (default an hour).
    pub fn with_full_sync_period(mut self, period: Duration) -> Self {
        self.full_sync_period = period;
        self
    }

    /// The render options.
    pub fn options(&self) -> &RenderOptions {
        &self.options
    }

    /// The command runner (host or namespace).
    pub fn iptables(&self) -> &Iptables {
        &self.iptables
    }

    /// The input of the last `iptables-restore` run by a sync or cleanup
    /// (empty before the first, and unchanged by a sync that had nothing to
    /// do).
    pub fn last_restore_input(&self) -> String {
        self.last_input.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn remember_input(&self, input: &str) {
        *self.last_input.lock().unwrap_or_else(|e| e.into_inner()) = input.to_string();
    }

    /// Plans a sync without running anything: the restore input and the
    /// stats. `existing_nat` lists the nat chains present (for a full sync's
    /// deletions). Returns the new memory to keep when the input applies.
    fn plan(
        &self,
        memory: &mut Memory,
        state: &ProxyState,
        full: bool,
        existing_nat: &[String],
    ) -> (Option<String>, SyncStats, BTreeMap<ServicePortName, Applied>, SharedRules) {
        let mut stats = SyncStats::default();
        let mut nat = TableInput::new("nat");
        let mut filter = TableInput::new("filter");
        let mut new_ports: BTreeMap<ServicePortName, Applied> = BTreeMap::new();
        // Per-port chains to write, in port order; chains to delete.
        let mut port_chains: Vec<Chain> = Vec::new();
        let mut wanted: BTreeSet<String> = BTreeSet::new();
        let mut deleted: Vec<String> = Vec::new();

        for (name, port) in &state.services {
            let old = memory.ports.remove(name);
            // `old_rules`: the previous rendering when the port changed.
            let (rules, old_rules, changed) = match old {
                Some(old) if old.port == *port => (old.rules, None, false),
                Some(old) => match render_port(port, &self.options) {
                    Some(rules) => {
                        let changed = rules != old.rules;
                        (rules, Some(old.rules), changed)
                    }
                    None => {
                        // No longer rendered (headless, IPv6): its chains go.
                        deleted.extend(old.rules.nat_chains.iter().map(|c| c.name.clone()));
                        stats.removed += 1;
                        continue;
                    }
                },
                None => match render_port(port, &self.options) {
                    Some(rules) => (rules, None, true),
                    None => continue,
                },
            };
            stats.services += 1;
            for chain in &rules.nat_chains {
                wanted.insert(chain.name.clone());
            }
            if full || changed {
                stats.written += 1;
            }
            if full {
                port_chains.extend(rules.nat_chains.iter().cloned());
            } else if changed {
                let before: BTreeMap<&str, &str> = old_rules
                    .as_ref()
                    .map(|r| r.nat_chains.iter().map(|c| (c.name.as_str(), c.rules.as_str())).collect())
                    .unwrap_or_default();
                for chain in &rules.nat_chains {
                    if before.get(chain.name.as_str()) != Some(&chain.rules.as_str()) {
                        port_chains.push(chain.clone());
                    }
                }
                for gone in before.keys().filter(|c| !wanted.contains(**c)) {
                    deleted.push(gone.to_string());
                }
            }
            new_ports.insert(name.clone(), Applied { port: port.clone(), rules });
        }
        // Ports that disappeared from the state.
        for (_, old) in std::mem::take(&mut memory.ports) {
            deleted.extend(old.rules.nat_chains.iter().map(|c| c.name.clone()));
            stats.removed += 1;
        }
        if full {
            // Whatever the kernel holds that is not wanted, known to us or not.
            deleted.extend(existing_nat.iter().filter(|c| is_service_chain(c)).cloned());
        }
        deleted.sort();
        deleted.dedup();
        deleted.retain(|c| !wanted.contains(c));

        let shared = render_shared(new_ports.values().map(|a| &a.rules), &self.options);
        let old_shared = memory.shared.as_ref();
        let nat_shared_changed = |name: &str| old_shared.and_then(|s| s.nat_chain(name)) != shared.nat_chain(name);
        let filter_shared_changed =
            |name: &str| old_shared.and_then(|s| s.filter_chain(name)) != shared.filter_chain(name);

        let anything = full
            || !port_chains.is_empty()
            || !deleted.is_empty()
            || [KUBE_SERVICES, KUBE_NODEPORTS].iter().any(|c| nat_shared_changed(c))
            || [KUBE_SERVICES, KUBE_EXTERNAL_SERVICES].iter().any(|c| filter_shared_changed(c));
        if !anything {
            return (None, stats, new_ports, shared);
        }

        for chain in &shared.filter {
            let dynamic = chain.name == KUBE_SERVICES || chain.name == KUBE_EXTERNAL_SERVICES;
            if full || (dynamic && filter_shared_changed(&chain.name)) {
                filter.write_chain(chain);
            }
        }
        for chain in &shared.nat {
            let dynamic = chain.name == KUBE_SERVICES || chain.name == KUBE_NODEPORTS;
            if full || dynamic {
                nat.write_chain(chain);
            }
        }
        for chain in &port_chains {
            nat.write_chain(chain);
        }
        for chain in &deleted {
            nat.delete_chain(chain);
        }
        (Some(restore_text([&filter, &nat])), stats, new_ports, shared)
    }

    async fn ensure_jumps(&self) -> Result<(), ProxyError> {
        for jump in JUMP_RULES {
            self.iptables.ensure_rule(jump.table, jump.from, &jump.args()).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Proxier for IptablesProxier {
    async fn sync(&self, state: &ProxyState, changed: &ChangeSet) -> Result<SyncStats, ProxyError> {
        let mut memory = self.memory.lock().await;
        let full = memory.needs_full
            || changed.full
            || memory.last_full.is_none_or(|at| at.elapsed() >= self.full_sync_period);
        let existing_nat = if full {
            match self.iptables.save("nat").await {
                Ok(save) => parse_chains(&save, "nat"),
                Err(e) => {
                    memory.needs_full = true;
                    return Err(e);
                }
            }
        } else {
            Vec::new()
        };
        let (input, stats, ports, shared) = self.plan(&mut memory, state, full, &existing_nat);
        // From here the memory holds the new rendering; it describes the
        // kernel only once everything below succeeded.
        memory.ports = ports;
        let Some(input) = input else {
            return Ok(stats);
        };
        self.remember_input(&input);
        memory.needs_full = true;
        self.iptables.restore(&input).await?;
        if full {
            self.ensure_jumps().await?;
            memory.last_full = Some(Instant::now());
        }
        memory.shared = Some(shared);
        memory.needs_full = false;
        tracing::debug!(
            full,
            services = stats.services,
            written = stats.written,
            removed = stats.removed,
            "iptables proxier synced"
        );
        Ok(stats)
    }

    async fn cleanup(&self) -> Result<(), ProxyError> {
        let mut memory = self.memory.lock().await;
        memory.needs_full = true;
        memory.shared = None;
        memory.ports.clear();
        for jump in JUMP_RULES {
            self.iptables.remove_rule(jump.table, jump.from, &jump.args()).await?;
        }
        let mut filter = TableInput::new("filter");
        let mut nat = TableInput::new("nat");
        let save_filter = self.iptables.save("filter").await?;
        for chain in parse_chains(&save_filter, "filter") {
            if FILTER_CHAINS.contains(&chain.as_str()) {
                filter.delete_chain(&chain);
            }
        }
        let save_nat = self.iptables.save("nat").await?;
        for chain in parse_chains(&save_nat, "nat") {
            if NAT_CHAINS.contains(&chain.as_str()) || is_service_chain(&chain) {
                nat.delete_chain(&chain);
            }
        }
        let input = restore_text([&filter, &nat]);
        if !input.is_empty() {
            self.remember_input(&input);
            self.iptables.restore(&input).await?;
        }
        Ok(())
    }
}
