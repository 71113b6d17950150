//! The few link, address, route and sysctl operations k needs, as iproute2
//! `ip -n <namespace> …` commands.
//!
//! Every operation names the [`NetNs`] it works in; none touches the network
//! of the namespace the calling process runs in. The functions are
//! synchronous (each runs one or two short `ip` processes); [`IpRoute`]
//! offers the same functions as associated functions. Errors ([`IpError`])
//! carry the command line and `ip`'s stderr.
//!
//! Where output is parsed, `ip -j` (JSON) is read with serde_json. Sysctls
//! are written to `/proc/sys` from a thread inside the namespace (no
//! `sysctl` binary needed), and only `net.*` keys, the per-namespace ones,
//! are accepted.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::netns::NetNs;

/// What can go wrong running `ip` or writing a sysctl.
#[derive(Debug, thiserror::Error)]
pub enum IpError {
    /// `ip` ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// How it exited.
        status: String,
        /// What it printed on stderr, trimmed.
        stderr: String,
    },
    /// `ip` could not be started (iproute2 missing?).
    #[error("could not run `{command}` (is the Debian package iproute2 installed?): {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// `ip` succeeded but its output was not what we expected.
    #[error("unexpected output of `{command}`: {msg}")]
    Output {
        /// The command line.
        command: String,
        /// What was wrong.
        msg: String,
    },
    /// Writing a sysctl failed.
    #[error("sysctl {key} = {value} in network namespace {netns}: {source}")]
    Sysctl {
        /// The key, as given.
        key: String,
        /// The value.
        value: String,
        /// The namespace's name.
        netns: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// An argument we refuse before running anything.
    #[error("invalid argument: {0}")]
    Invalid(String),
}

impl From<IpError> for io::Error {
    fn from(e: IpError) -> io::Error {
        let kind = match &e {
            IpError::Spawn { source, .. } | IpError::Sysctl { source, .. } => source.kind(),
            IpError::Invalid(_) => io::ErrorKind::InvalidInput,
            IpError::Output { .. } => io::ErrorKind::InvalidData,
            IpError::Failed { .. } => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

/// One route of [`routes`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteEntry {
    /// The destination as a prefix (`10.244.2.0/24`; a host route gets
    /// `/32` or `/128`, which `ip` leaves out), or `default`.
    pub dst: String,
    /// The gateway, if any.
    pub via: Option<String>,
    /// The output device, if any.
    pub dev: Option<String>,
    /// The route protocol as `ip` names it (`kernel`, `static`, or a number
    /// such as `200`); absent when `ip` leaves it out (`boot`, and whenever
    /// the listing was filtered by protocol).
    pub proto: Option<String>,
}

/// The iproute2 `ip` binary: the first `ip` on `PATH`, else `/usr/sbin/ip`,
/// `/sbin/ip`, `/usr/bin/ip` or `/bin/ip`; plain `ip` when none is found (the
/// error then says so).
pub fn ip_binary() -> &'static Path {
    static IP: OnceLock<PathBuf> = OnceLock::new();
    IP.get_or_init(|| find_binary("ip").unwrap_or_else(|| PathBuf::from("ip")))
}

/// `name` on `PATH`, then in the sbin and bin directories; executable files only.
pub(crate) fn find_binary(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path_dirs = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default();
    let fallback = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from);
    path_dirs.into_iter().chain(fallback).map(|dir| dir.join(name)).find(|candidate| {
        std::fs::metadata(candidate).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
    })
}

/// Runs `ip <args>` and returns its stdout.
pub(crate) fn run_ip(args: &[&str]) -> Result<String, IpError> {
    let command = format!("ip {}", args.join(" "));
    let output = Command::new(ip_binary())
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|source| IpError::Spawn { command: command.clone(), source })?;
    if !output.status.success() {
        return Err(IpError::Failed {
            command,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    String::from_utf8(output.stdout).map_err(|_| IpError::Output { command, msg: "not UTF-8".into() })
}

/// Runs `ip -n <ns> <args>`.
fn ip_in(ns: &NetNs, args: &[&str]) -> Result<String, IpError> {
    let mut full = vec!["-n", ns.name()];
    full.extend_from_slice(args);
    run_ip(&full)
}

/// Runs `ip -j -n <ns> <args>` and parses the JSON.
fn ip_json<T: for<'de> Deserialize<'de>>(ns: &NetNs, args: &[&str]) -> Result<T, IpError> {
    let mut full = vec!["-j", "-n", ns.name()];
    full.extend_from_slice(args);
    let out = run_ip(&full)?;
    // Some `ip` versions print nothing instead of `[]`.
    let text = if out.trim().is_empty() { "[]" } else { out.as_str() };
    serde_json::from_str(text)
        .map_err(|e| IpError::Output { command: format!("ip {}", full.join(" ")), msg: e.to_string() })
}

/// Creates the veth pair `a_if` (in `a_ns`) – `b_if` (in `b_ns`): made in
/// `a_ns` with its peer placed straight into `b_ns`, so `b_if` never exists
/// in `a_ns`. Both ends are left down.
pub fn veth_pair(a_ns: &NetNs, a_if: &str, b_ns: &NetNs, b_if: &str) -> Result<(), IpError> {
    ip_in(a_ns, &["link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", b_ns.name()])?;
    Ok(())
}

/// Sets `dev` up.
pub fn link_up(ns: &NetNs, dev: &str) -> Result<(), IpError> {
    ip_in(ns, &["link", "set", "dev", dev, "up"])?;
    Ok(())
}

/// Whether `dev` exists in `ns` (false also when `ns` itself does not).
pub fn link_exists(ns: &NetNs, dev: &str) -> bool {
    ip_in(ns, &["link", "show", "dev", dev]).is_ok()
}

/// Deletes `dev` (for a veth, both ends); a link that is gone is no error.
pub fn link_delete(ns: &NetNs, dev: &str) -> Result<(), IpError> {
    match ip_in(ns, &["link", "delete", "dev", dev]) {
        Ok(_) => Ok(()),
        Err(_) if ns.exists() && !link_exists(ns, dev) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Adds the address `cidr` (`10.1.0.1/24`) to `dev`; an address that is
/// there already is an error.
pub fn addr_add(ns: &NetNs, dev: &str, cidr: &str) -> Result<(), IpError> {
    ip_in(ns, &["addr", "add", cidr, "dev", dev])?;
    Ok(())
}

/// Puts `cidr` (a ClusterIP as `10.96.0.1/32`) on `lo`, and sets `lo` up.
/// Idempotent.
pub fn addr_add_local(ns: &NetNs, cidr: &str) -> Result<(), IpError> {
    ip_in(ns, &["addr", "replace", cidr, "dev", "lo"])?;
    link_up(ns, "lo")
}

/// Removes `cidr` from `dev`; an address that is not there is no error.
pub fn addr_del(ns: &NetNs, dev: &str, cidr: &str) -> Result<(), IpError> {
    match ip_in(ns, &["addr", "del", cidr, "dev", dev]) {
        Ok(_) => Ok(()),
        Err(e) => {
            let wanted = normalize_prefix(cidr);
            match addrs(ns, dev) {
                Ok(present) if !present.contains(&wanted) => Ok(()),
                _ => Err(e),
            }
        }
    }
}

#[derive(Deserialize)]
struct LinkJson {
    #[serde(default)]
    addr_info: Vec<AddrJson>,
}

#[derive(Deserialize)]
struct AddrJson {
    local: Option<String>,
    prefixlen: Option<u8>,
}

/// The addresses of `dev` as `address/prefix`, in `ip`'s order (IPv4 first,
/// IPv6 link-local addresses included).
pub fn addrs(ns: &NetNs, dev: &str) -> Result<Vec<String>, IpError> {
    let links: Vec<LinkJson> = ip_json(ns, &["addr", "show", "dev", dev])?;
    Ok(links
        .into_iter()
        .flat_map(|l| l.addr_info)
        .filter_map(|a| Some(format!("{}/{}", a.local?, a.prefixlen?)))
        .collect())
}

/// Creates the bridge `name` and sets it up; a link of that name existing
/// already is an error.
pub fn bridge_add(ns: &NetNs, name: &str) -> Result<(), IpError> {
    ip_in(ns, &["link", "add", "name", name, "type", "bridge"])?;
    link_up(ns, name)
}

/// Adds or replaces the route to `dst` via the gateway `via`, tagged with the
/// route protocol number `proto` when given (`ip route replace … proto N`),
/// which lets [`routes`] find the routes one owner installed.
pub fn route_replace(ns: &NetNs, dst: &str, via: &str, proto: Option<u8>) -> Result<(), IpError> {
    let proto = proto.map(|p| p.to_string());
    let mut args = vec!["route", "replace", dst, "via", via];
    if let Some(p) = &proto {
        args.extend(["proto", p.as_str()]);
    }
    ip_in(ns, &args)?;
    Ok(())
}

/// Deletes the route to `dst` (of the main table); a route that is not
/// there is no error.
pub fn route_del(ns: &NetNs, dst: &str) -> Result<(), IpError> {
    match ip_in(ns, &["route", "del", dst]) {
        Ok(_) => Ok(()),
        Err(e) => {
            let wanted = normalize_prefix(dst);
            match routes(ns, None) {
                Ok(present) if !present.iter().any(|r| r.dst == wanted) => Ok(()),
                _ => Err(e),
            }
        }
    }
}

/// Deletes the route to `dst` only if it carries route protocol `proto`
/// (gone is fine), leaving a same-prefix route someone else made alone.
pub fn route_del_proto(ns: &NetNs, dst: &str, proto: u8) -> Result<(), IpError> {
    let proto = proto.to_string();
    match ip_in(ns, &["route", "del", dst, "proto", &proto]) {
        Ok(_) => Ok(()),
        Err(e) => {
            let wanted = normalize_prefix(dst);
            match routes(ns, Some(proto.parse().unwrap_or(0))) {
                Ok(present) if !present.iter().any(|r| r.dst == wanted) => Ok(()),
                _ => Err(e),
            }
        }
    }
}

#[derive(Deserialize)]
struct RouteJson {
    dst: Option<String>,
    gateway: Option<String>,
    dev: Option<String>,
    protocol: Option<String>,
}

/// The IPv4 and IPv6 routes of the main table (IPv4 first), only those of
/// protocol `proto` when given.
pub fn routes(ns: &NetNs, proto: Option<u8>) -> Result<Vec<RouteEntry>, IpError> {
    let proto = proto.map(|p| p.to_string());
    let mut out = Vec::new();
    for family in ["-4", "-6"] {
        let mut args = vec![family, "route", "show"];
        if let Some(p) = &proto {
            args.extend(["proto", p.as_str()]);
        }
        let listed: Vec<RouteJson> = ip_json(ns, &args)?;
        out.extend(listed.into_iter().map(|r| RouteEntry {
            dst: normalize_prefix(r.dst.as_deref().unwrap_or("default")),
            via: r.gateway,
            dev: r.dev,
            proto: r.protocol,
        }));
    }
    Ok(out)
}

/// `10.1.2.3` → `10.1.2.3/32`, `fd00::1` → `fd00::1/128`; prefixes and
/// `default` unchanged.
fn normalize_prefix(s: &str) -> String {
    if s == "default" || s.contains('/') {
        s.to_string()
    } else if s.contains(':') {
        format!("{s}/128")
    } else {
        format!("{s}/32")
    }
}

/// Sets the sysctl `key` (`net.ipv4.ip_forward`, or the path form
/// `net/ipv4/conf/eth0.100/forwarding` for names holding dots) to `value`
/// inside `ns`, by writing `/proc/sys/<key>` from a thread inside the
/// namespace. Only `net.*` keys are accepted: the others are not
/// per-namespace and would change the host.
pub fn sysctl(ns: &NetNs, key: &str, value: &str) -> Result<(), IpError> {
    let path = sysctl_path(key)?;
    let value_line = format!("{value}\n");
    let fail = |source: io::Error| IpError::Sysctl {
        key: key.to_string(),
        value: value.to_string(),
        netns: ns.name().to_string(),
        source,
    };
    ns.run(move || std::fs::write(&path, value_line)).map_err(fail)?.map_err(fail)
}

/// Reads the sysctl `key` inside `ns` (see [`sysctl`] for the key forms),
/// trimmed.
pub fn sysctl_get(ns: &NetNs, key: &str) -> Result<String, IpError> {
    let path = sysctl_path(key)?;
    let fail = |source: io::Error| IpError::Sysctl {
        key: key.to_string(),
        value: "(read)".to_string(),
        netns: ns.name().to_string(),
        source,
    };
    let text = ns.run(move || std::fs::read_to_string(&path)).map_err(fail)?.map_err(fail)?;
    Ok(text.trim().to_string())
}

fn sysctl_path(key: &str) -> Result<PathBuf, IpError> {
    let rel = if key.contains('/') { key.to_string() } else { key.replace('.', "/") };
    let parts: Vec<&str> = rel.split('/').collect();
    if parts.first() != Some(&"net") || parts.iter().any(|p| p.is_empty() || *p == "." || *p == "..") {
        return Err(IpError::Invalid(format!("sysctl key {key:?}: only net.* keys are per network namespace")));
    }
    Ok(Path::new("/proc/sys").join(rel))
}

/// Turns IPv4 forwarding on in `ns` (`net.ipv4.ip_forward = 1`).
pub fn ip_forward(ns: &NetNs) -> Result<(), IpError> {
    sysctl(ns, "net.ipv4.ip_forward", "1")
}

/// The functions of this module as associated functions, for callers that
/// prefer `IpRoute::link_up(&ns, "eth0")`.
#[derive(Clone, Copy, Debug, Default)]
pub struct IpRoute;

impl IpRoute {
    /// See [`veth_pair`].
    pub fn veth_pair(a_ns: &NetNs, a_if: &str, b_ns: &NetNs, b_if: &str) -> Result<(), IpError> {
        veth_pair(a_ns, a_if, b_ns, b_if)
    }
    /// See [`link_up`].
    pub fn link_up(ns: &NetNs, dev: &str) -> Result<(), IpError> {
        link_up(ns, dev)
    }
    /// See [`link_exists`].
    pub fn link_exists(ns: &NetNs, dev: &str) -> bool {
        link_exists(ns, dev)
    }
    /// See [`link_delete`].
    pub fn link_delete(ns: &NetNs, dev: &str) -> Result<(), IpError> {
        link_delete(ns, dev)
    }
    /// See [`addr_add`].
    pub fn addr_add(ns: &NetNs, dev: &str, cidr: &str) -> Result<(), IpError> {
        addr_add(ns, dev, cidr)
    }
    /// See [`addr_add_local`].
    pub fn addr_add_local(ns: &NetNs, cidr: &str) -> Result<(), IpError> {
        addr_add_local(ns, cidr)
    }
    /// See [`addr_del`].
    pub fn addr_del(ns: &NetNs, dev: &str, cidr: &str) -> Result<(), IpError> {
        addr_del(ns, dev, cidr)
    }
    /// See [`addrs`].
    pub fn addrs(ns: &NetNs, dev: &str) -> Result<Vec<String>, IpError> {
        addrs(ns, dev)
    }
    /// See [`bridge_add`].
    pub fn bridge_add(ns: &NetNs, name: &str) -> Result<(), IpError> {
        bridge_add(ns, name)
    }
    /// See [`route_replace`].
    pub fn route_replace(ns: &NetNs, dst: &str, via: &str, proto: Option<u8>) -> Result<(), IpError> {
        route_replace(ns, dst, via, proto)
    }
    /// See [`route_del`].
    pub fn route_del(ns: &NetNs, dst: &str) -> Result<(), IpError> {
        route_del(ns, dst)
    }
    /// See [`routes`].
    pub fn routes(ns: &NetNs, proto: Option<u8>) -> Result<Vec<RouteEntry>, IpError> {
        routes(ns, proto)
    }
    /// See [`sysctl`].
    pub fn sysctl(ns: &NetNs, key: &str, value: &str) -> Result<(), IpError> {
        sysctl(ns, key, value)
    }
    /// See [`sysctl_get`].
    pub fn sysctl_get(ns: &NetNs, key: &str) -> Result<String, IpError> {
        sysctl_get(ns, key)
    }
    /// See [`ip_forward`].
    pub fn ip_forward(ns: &NetNs) -> Result<(), IpError> {
        ip_forward(ns)
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::testing::{TestNet, tcp_echo_server, tcp_request, udp_echo_server, udp_request};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn veth_between_two_namespaces_carries_tcp_and_udp() {
        let mut net = TestNet::new();
        let a = net.netns();
        let b = net.netns();
        veth_pair(&a, "va", &b, "vb").unwrap();
        assert!(link_exists(&a, "va"));
        assert!(!link_exists(&a, "vb"), "the peer went straight to b");
        assert!(link_exists(&b, "vb"));
        addr_add(&a, "va", "10.123.0.1/24").unwrap();
        addr_add(&b, "vb", "10.123.0.2/24").unwrap();
        assert!(addr_add(&a, "va", "10.123.0.1/24").is_err(), "addr_add is strict");
        link_up(&a, "va").unwrap();
        link_up(&b, "vb").unwrap();
        assert_eq!(addrs(&a, "va").unwrap()[0], "10.123.0.1/24");
        assert_eq!(addrs(&b, "vb").unwrap()[0], "10.123.0.2/24");

        let worker = b.worker().unwrap();
        let to: SocketAddr = "10.123.0.2:7001".parse().unwrap();
        let server = tcp_echo_server(&worker, to, "srv-b").unwrap();
        let udp = udp_echo_server(&worker, to, "udp-b").unwrap();
        let (greeting, echo) = tcp_request(&a, to, None, "hello through the veth").await.unwrap();
        assert_eq!(greeting, "srv-b 10.123.0.1");
        assert_eq!(echo, "hello through the veth");
        // Binding a second local address as source.
        addr_add(&a, "va", "10.123.0.11/24").unwrap();
        let (greeting, _) = tcp_request(&a, to, Some("10.123.0.11".parse().unwrap()), "x").await.unwrap();
        assert_eq!(greeting, "srv-b 10.123.0.11");
        assert_eq!(udp_request(&a, to, "ping").await.unwrap(), "udp-b 10.123.0.1");

        // Not reachable from a namespace without the link.
        let c = net.netns();
        assert!(tcp_request(&c, to, None, "x").await.is_err());

        server.abort();
        udp.abort();
        link_delete(&a, "va").unwrap();
        assert!(!link_exists(&a, "va"));
        assert!(!link_exists(&b, "vb"), "deleting one end of a veth removes both");
        link_delete(&a, "va").unwrap(); // gone is Ok
    }

    #[test]
    fn routes_with_a_protocol_are_listed_and_removed() {
        let mut net = TestNet::new();
        let a = net.netns();
        let b = net.netns();
        net.veth(&a, "va", "10.124.0.1/24", &b, "vb", "10.124.0.2/24");

        route_replace(&a, "10.250.1.0/24", "10.124.0.2", Some(200)).unwrap();
        route_replace(&a, "10.250.2.0/24", "10.124.0.2", Some(200)).unwrap();
        route_replace(&a, "10.250.3.5", "10.124.0.2", None).unwrap();
        route_replace(&a, "10.250.1.0/24", "10.124.0.2", Some(200)).unwrap(); // replace is idempotent

        let ours = routes(&a, Some(200)).unwrap();
        let dsts: Vec<&str> = ours.iter().map(|r| r.dst.as_str()).collect();
        assert_eq!(dsts, ["10.250.1.0/24", "10.250.2.0/24"]);
        assert!(ours.iter().all(|r| r.via.as_deref() == Some("10.124.0.2") && r.dev.as_deref() == Some("va")));
        assert!(routes(&a, Some(201)).unwrap().is_empty());

        let all = routes(&a, None).unwrap();
        let tagged = all.iter().find(|r| r.dst == "10.250.2.0/24").unwrap();
        assert_eq!(tagged.proto.as_deref(), Some("200"));
        let host = all.iter().find(|r| r.dst == "10.250.3.5/32").expect("host route listed with /32");
        assert_eq!(host.via.as_deref(), Some("10.124.0.2"));
        assert!(
            all.iter().any(|r| r.dst == "10.124.0.0/24" && r.proto.as_deref() == Some("kernel") && r.via.is_none())
        );

        route_del(&a, "10.250.1.0/24").unwrap();
        route_del(&a, "10.250.1.0/24").unwrap(); // gone is Ok
        route_del(&a, "10.250.3.5").unwrap();
        let left: Vec<String> = routes(&a, Some(200)).unwrap().into_iter().map(|r| r.dst).collect();
        assert_eq!(left, ["10.250.2.0/24"]);
        assert!(!routes(&a, None).unwrap().iter().any(|r| r.dst == "10.250.3.5/32"));
        // The other namespace never saw any of it.
        assert!(routes(&b, Some(200)).unwrap().is_empty());
    }

    #[test]
    fn local_addresses_bridges_and_sysctls() {
        let mut net = TestNet::new();
        let a = net.netns();
        let b = net.netns();

        addr_add_local(&a, "10.96.0.1/32").unwrap();
        addr_add_local(&a, "10.96.0.1/32").unwrap(); // idempotent
        let lo = addrs(&a, "lo").unwrap();
        assert_eq!(lo.iter().filter(|x| *x == "10.96.0.1/32").count(), 1, "{lo:?}");
        // A listener can bind it inside the namespace.
        let bound = a.run(|| std::net::TcpListener::bind("10.96.0.1:80").map(|_| ())).unwrap();
        assert!(bound.is_ok(), "{bound:?}");
        addr_del(&a, "lo", "10.96.0.1/32").unwrap();
        addr_del(&a, "lo", "10.96.0.1/32").unwrap(); // gone is Ok
        assert!(!addrs(&a, "lo").unwrap().contains(&"10.96.0.1/32".to_string()));

        bridge_add(&a, "br-test").unwrap();
        assert!(link_exists(&a, "br-test"));
        assert!(!link_exists(&b, "br-test"));
        assert!(bridge_add(&a, "br-test").is_err());

        // A new namespace inherits the host's forwarding setting: start from 0.
        sysctl(&a, "net/ipv4/ip_forward", "0").unwrap();
        sysctl(&b, "net/ipv4/ip_forward", "0").unwrap();
        assert_eq!(sysctl_get(&a, "net.ipv4.ip_forward").unwrap(), "0");
        ip_forward(&a).unwrap();
        assert_eq!(sysctl_get(&a, "net.ipv4.ip_forward").unwrap(), "1");
        // A process forked inside sees it too; the other namespace does not.
        let seen =
            a.run(|| std::process::Command::new("cat").arg("/proc/sys/net/ipv4/ip_forward").output()).unwrap().unwrap();
        assert_eq!(String::from_utf8_lossy(&seen.stdout).trim(), "1");
        assert_eq!(sysctl_get(&b, "net.ipv4.ip_forward").unwrap(), "0");
        sysctl(&a, "net/ipv4/conf/br-test/forwarding", "0").unwrap();
        assert_eq!(sysctl_get(&a, "net.ipv4.conf.br-test.forwarding").unwrap(), "0");

        assert!(matches!(sysctl(&a, "kernel.hostname", "x"), Err(IpError::Invalid(_))));
        assert!(matches!(sysctl(&a, "net/../kernel/hostname", "x"), Err(IpError::Invalid(_))));
        assert!(matches!(sysctl(&a, "net.ipv4.no_such_key", "1"), Err(IpError::Sysctl { .. })));
    }

    #[test]
    fn errors_carry_the_command_and_stderr() {
        let mut net = TestNet::new();
        let a = net.netns();
        let err = link_up(&a, "nosuchdev").unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&format!("ip -n {} link set dev nosuchdev up", a.name())), "{text}");
        assert!(text.contains("nosuchdev\""), "stderr included: {text}");
        match err {
            IpError::Failed { stderr, .. } => assert!(!stderr.is_empty()),
            other => panic!("unexpected {other:?}"),
        }
        let io_err: io::Error = link_up(&a, "nosuchdev").unwrap_err().into();
        assert!(io_err.to_string().contains("nosuchdev"));
        assert!(!link_exists(&a, "nosuchdev"));
        assert_eq!(normalize_prefix("fd00::1"), "fd00::1/128");
        assert_eq!(normalize_prefix("default"), "default");
    }
}
