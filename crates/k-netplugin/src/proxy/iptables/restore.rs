//! `iptables-restore` input and the iptables commands, on the host or
//! inside a network namespace.
//!
//! An input is a list of tables ([`TableInput`]), each `*<table>`, the chain
//! lines, the rules, the deletions and `COMMIT`. It is always applied with
//! `--noflush`: only the chains named by a `:<chain> - [0:0]` line are
//! flushed (created when missing), everything else in the table (the
//! built-in chains with our jump rules, other programs' chains) is left as
//! it is. A chain to delete gets a chain line (which flushes it, dropping its
//! own jumps to other chains) and a `-X <chain>` after all rules, by which
//! time no rewritten chain names it any more. The whole input is one
//! transaction: it applies completely or not at all.

use std::fmt::Write as _;
use std::process::{Output, Stdio};

use tokio::io::AsyncWriteExt;

use super::render::Chain;
use crate::netns::NetNs;
use crate::proxy::ProxyError;

/// One table of an `iptables-restore` input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableInput {
    table: String,
    chain_lines: String,
    rules: String,
    deletions: String,
    written: Vec<String>,
    deleted: Vec<String>,
}

impl TableInput {
    /// An empty input for `table` (`nat`, `filter`).
    pub fn new(table: &str) -> TableInput {
        TableInput {
            table: table.to_string(),
            chain_lines: String::new(),
            rules: String::new(),
            deletions: String::new(),
            written: Vec::new(),
            deleted: Vec::new(),
        }
    }

    /// Writes `chain` whole: a chain line (create or flush) and its rules.
    pub fn write_chain(&mut self, chain: &Chain) {
        let _ = writeln!(self.chain_lines, ":{} - [0:0]", chain.name);
        self.rules.push_str(&chain.rules);
        self.written.push(chain.name.clone());
    }

    /// Deletes `chain`: a chain line (flush) and `-X` after every rule.
    pub fn delete_chain(&mut self, chain: &str) {
        let _ = writeln!(self.chain_lines, ":{chain} - [0:0]");
        let _ = writeln!(self.deletions, "-X {chain}");
        self.deleted.push(chain.to_string());
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The chains written, in order.
    pub fn written(&self) -> &[String] {
        &self.written
    }

    /// The chains deleted, in order.
    pub fn deleted(&self) -> &[String] {
        &self.deleted
    }

    /// Whether nothing is written or deleted.
    pub fn is_empty(&self) -> bool {
        self.written.is_empty() && self.deleted.is_empty()
    }

    /// Appends `*<table>`, the chain lines, rules, deletions and `COMMIT`.
    pub fn write_to(&self, out: &mut String) {
        let _ = writeln!(out, "*{}", self.table);
        out.push_str(&self.chain_lines);
        out.push_str(&self.rules);
        out.push_str(&self.deletions);
        out.push_str("COMMIT\n");
    }
}

/// The text of a restore input made of `tables`, skipping empty ones.
pub fn restore_text<'a>(tables: impl IntoIterator<Item = &'a TableInput>) -> String {
    let mut out = String::new();
    for table in tables {
        if !table.is_empty() {
            table.write_to(&mut out);
        }
    }
    out
}

/// The chain names declared in one table of `iptables-save` output
/// (`:<name> <policy> [p:b]` lines between `*<table>` and `COMMIT`).
pub fn parse_chains(save: &str, table: &str) -> Vec<String> {
    let mut chains = Vec::new();
    let mut inside = false;
    for line in save.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('*') {
            inside = name == table;
        } else if line == "COMMIT" {
            inside = false;
        } else if inside
            && let Some(rest) = line.strip_prefix(':')
            && let Some(name) = rest.split_whitespace().next()
        {
            chains.push(name.to_string());
        }
    }
    chains
}

/// The Debian package that ships the iptables binaries.
const PACKAGE: &str = "iptables";

/// Runs `iptables`, `iptables-save` and `iptables-restore` on the host or,
/// with [`Iptables::in_namespace`], inside a network namespace (the
/// processes are forked from a thread inside it, see [`NetNs::run_async`]).
/// [`Iptables::dry_run`] runs nothing.
#[derive(Clone, Debug, Default)]
pub struct Iptables {
    netns: Option<NetNs>,
    dry_run: bool,
    backend: Backend,
}

/// Which iptables binaries run: the system's choice (`iptables`, as the
/// Debian alternatives point), or one backend explicitly. The nf_tables
/// backend of iptables 1.8 restores large rule sets much more slowly than
/// the legacy one (see `docs/netplugin/benchmarks.md`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// `iptables`, `iptables-save`, `iptables-restore`.
    #[default]
    System,
    /// `iptables-legacy`, `iptables-legacy-save`, `iptables-legacy-restore`.
    Legacy,
    /// `iptables-nft`, `iptables-nft-save`, `iptables-nft-restore`.
    Nft,
}

impl Backend {
    /// The binary for `program` (`iptables`, `iptables-save` or
    /// `iptables-restore`).
    pub fn program(self, program: &str) -> String {
        let infix = match self {
            Backend::System => return program.to_string(),
            Backend::Legacy => "-legacy",
            Backend::Nft => "-nft",
        };
        match program.strip_prefix("iptables") {
            Some(rest) => format!("iptables{infix}{rest}"),
            None => program.to_string(),
        }
    }
}

impl Iptables {
    /// Commands run in the caller's own network namespace.
    pub fn host() -> Iptables {
        Iptables { netns: None, dry_run: false, backend: Backend::System }
    }

    /// Commands run inside `ns`.
    pub fn in_namespace(ns: NetNs) -> Iptables {
        Iptables { netns: Some(ns), dry_run: false, backend: Backend::System }
    }

    /// The same, with the binaries of `backend`.
    #[must_use]
    pub fn with_backend(mut self, backend: Backend) -> Iptables {
        self.backend = backend;
        self
    }

    /// The backend whose binaries run.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs nothing: restores and rule changes succeed without effect,
    /// `iptables-save` shows empty tables, every `-C` finds its rule. For
    /// looking at what a proxier would write.
    pub fn dry_run() -> Iptables {
        Iptables { netns: None, dry_run: true, backend: Backend::System }
    }

    /// Whether this runs nothing.
    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    /// The namespace commands run in (`None`: the caller's).
    pub fn netns(&self) -> Option<&NetNs> {
        self.netns.as_ref()
    }

    /// Runs `program args` with `stdin`, returning its output whatever its
    /// exit status.
    async fn exec(&self, program: &str, args: &[&str], stdin: Option<String>) -> Result<Output, ProxyError> {
        if self.dry_run {
            return Ok(Output { status: Default::default(), stdout: Vec::new(), stderr: Vec::new() });
        }
        let program = self.backend.program(program);
        let program_owned = program.clone();
        let args_owned: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let run = move || async move {
            let mut cmd = tokio::process::Command::new(&program_owned);
            cmd.args(&args_owned)
                .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true);
            let mut child = cmd.spawn()?;
            // Feed stdin while the output is read: a restore that rejects
            // its input early stops reading, and its stderr (naming the bad
            // line) must not be lost to a broken pipe.
            let pipe = child.stdin.take();
            let feed = async move {
                if let (Some(input), Some(mut pipe)) = (stdin, pipe) {
                    match pipe.write_all(input.as_bytes()).await {
                        Ok(()) => pipe.shutdown().await,
                        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                        Err(e) => Err(e),
                    }
                } else {
                    Ok(())
                }
            };
            let (fed, output) = tokio::join!(feed, child.wait_with_output());
            let output = output?;
            if output.status.success() {
                fed?;
            }
            Ok(output)
        };
        let outcome = match &self.netns {
            None => run().await,
            Some(ns) => ns.run_async(run).await.and_then(|r| r),
        };
        outcome.map_err(|source| {
            let where_ = match &self.netns {
                Some(ns) => format!(" in network namespace {}", ns.name()),
                None => String::new(),
            };
            let hint = if source.kind() == std::io::ErrorKind::NotFound {
                format!(" (is the Debian package {PACKAGE} installed?)")
            } else {
                String::new()
            };
            ProxyError::Io { context: format!("running {program}{where_}{hint}"), source }
        })
    }

    fn check(program: &str, args: &[&str], output: Output) -> Result<Output, ProxyError> {
        if output.status.success() {
            Ok(output)
        } else {
            Err(ProxyError::Command {
                command: format!("{program} {}", args.join(" ")),
                status: output.status.to_string(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            })
        }
    }

    /// `iptables-restore -w --noflush` with `input` on standard input.
    pub async fn restore(&self, input: &str) -> Result<(), ProxyError> {
        let args = ["-w", "--noflush"];
        let output = self.exec("iptables-restore", &args, Some(input.to_string())).await?;
        Self::check("iptables-restore", &args, output).map(|_| ())
    }

    /// `iptables-save -t <table>`.
    pub async fn save(&self, table: &str) -> Result<String, ProxyError> {
        let args = ["-t", table];
        let output = self.exec("iptables-save", &args, None).await?;
        let output = Self::check("iptables-save", &args, output)?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// `iptables -w <args>`, failing on a non-zero exit.
    pub async fn run(&self, args: &[&str]) -> Result<String, ProxyError> {
        let mut full = vec!["-w"];
        full.extend_from_slice(args);
        let output = self.exec("iptables", &full, None).await?;
        let output = Self::check("iptables", &full, output)?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// `iptables -w <args>`: whether it exited 0 (for `-C`).
    async fn succeeds(&self, args: &[&str]) -> Result<bool, ProxyError> {
        let mut full = vec!["-w"];
        full.extend_from_slice(args);
        Ok(self.exec("iptables", &full, None).await?.status.success())
    }

    /// Makes sure `rule` is in `table`/`chain`: `-C`, and `-I` (first
    /// position) when missing. Returns whether it was added.
    pub async fn ensure_rule(&self, table: &str, chain: &str, rule: &[&str]) -> Result<bool, ProxyError> {
        let mut check = vec!["-t", table, "-C", chain];
        check.extend_from_slice(rule);
        if self.succeeds(&check).await? {
            return Ok(false);
        }
        let mut insert = vec!["-t", table, "-I", chain];
        insert.extend_from_slice(rule);
        self.run(&insert).await?;
        Ok(true)
    }

    /// Removes every copy of `rule` from `table`/`chain` (`-C` then `-D`
    /// while present). Returns how many were removed.
    pub async fn remove_rule(&self, table: &str, chain: &str, rule: &[&str]) -> Result<usize, ProxyError> {
        let mut check = vec!["-t", table, "-C", chain];
        check.extend_from_slice(rule);
        let mut delete = vec!["-t", table, "-D", chain];
        delete.extend_from_slice(rule);
        let mut removed = 0;
        // Bounded: a rule cannot be present more often than this in practice.
        while removed < 100 && self.succeeds(&check).await? {
            self.run(&delete).await?;
            removed += 1;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletions_come_after_all_rules() {
        let mut nat = TableInput::new("nat");
        nat.write_chain(&Chain { name: "KUBE-SERVICES".into(), rules: "-A KUBE-SERVICES -j KUBE-SVC-A\n".into() });
        nat.delete_chain("KUBE-SEP-OLD");
        nat.write_chain(&Chain { name: "KUBE-SVC-A".into(), rules: "-A KUBE-SVC-A -j RETURN\n".into() });
        let filter = TableInput::new("filter");
        assert!(filter.is_empty());
        assert_eq!(
            restore_text([&filter, &nat]),
            "*nat\n\
             :KUBE-SERVICES - [0:0]\n\
             :KUBE-SEP-OLD - [0:0]\n\
             :KUBE-SVC-A - [0:0]\n\
             -A KUBE-SERVICES -j KUBE-SVC-A\n\
             -A KUBE-SVC-A -j RETURN\n\
             -X KUBE-SEP-OLD\n\
             COMMIT\n"
        );
        assert_eq!(nat.written(), ["KUBE-SERVICES", "KUBE-SVC-A"]);
        assert_eq!(nat.deleted(), ["KUBE-SEP-OLD"]);
    }

    #[test]
    fn parses_chains_of_one_table() {
        let save = "# Generated by iptables-save v1.8.9 (nf_tables)\n\
                    *filter\n:INPUT ACCEPT [0:0]\n:KUBE-FORWARD - [0:0]\nCOMMIT\n\
                    *nat\n:PREROUTING ACCEPT [1:60]\n:KUBE-SVC-AAAA - [0:0]\n\
                    -A PREROUTING -j KUBE-SERVICES\n:KUBE-SERVICES - [0:0]\nCOMMIT\n";
        assert_eq!(parse_chains(save, "nat"), ["PREROUTING", "KUBE-SVC-AAAA", "KUBE-SERVICES"]);
        assert_eq!(parse_chains(save, "filter"), ["INPUT", "KUBE-FORWARD"]);
        assert!(parse_chains(save, "mangle").is_empty());
    }
}
