//! The plugin-binary skeleton: a Rust CNI plugin is a [`NetworkPlugin`]
//! plus one line in `main`:
//!
//! ```no_run
//! // src/bin/k-host-local.rs, whole:
//! k_netplugin::skel::run(k_netplugin::ipam::HostLocal::default())
//! ```
//!
//! [`run`] reads the `CNI_*` variables and stdin, checks them as the
//! specification asks (and answers bad input the way the reference
//! plugins do), calls the plugin, prints the result or an Error JSON on
//! stdout and exits 0 or 1. [`dispatch`] is the same without the process:
//! environment and stdin in, [`Outcome`] out, for tests.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;

use serde_json::Value;

use crate::plugin::{Attachment, GcAttachment, NetworkPlugin};
use crate::types::{CniError, ErrorCode, PluginConf, Version};

/// What the plugin process prints and how it exits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Standard output: a result, VERSION's answer, or an Error JSON.
    pub stdout: Vec<u8>,
    /// Standard error (the usage text when `CNI_COMMAND` is absent).
    pub stderr: Vec<u8>,
    /// The exit status: 0 on success, 1 on error.
    pub code: i32,
}

impl Outcome {
    fn ok(stdout: Vec<u8>) -> Outcome {
        Outcome { stdout, stderr: Vec::new(), code: 0 }
    }

    fn error(error: CniError) -> Outcome {
        let stdout = serde_json::to_vec_pretty(&error).unwrap_or_default();
        Outcome { stdout, stderr: Vec::new(), code: 1 }
    }

    /// The Error this outcome printed, if it failed.
    pub fn error_json(&self) -> Option<CniError> {
        (self.code != 0).then(|| serde_json::from_slice(&self.stdout).ok()).flatten()
    }
}

/// Runs `plugin` as this process's CNI plugin: reads the environment and
/// stdin, dispatches, prints and exits.
pub fn run<P: NetworkPlugin + 'static>(plugin: P) -> ! {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let mut stdin = Vec::new();
    // VERSION and a missing CNI_COMMAND need no stdin; reading it anyway is
    // harmless (the runtime always closes it).
    let read = std::io::stdin().read_to_end(&mut stdin);
    let outcome = match read {
        Ok(_) => match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime.block_on(dispatch(&plugin, &env, &stdin)),
            Err(e) => Outcome::error(
                CniError::new(ErrorCode::Io, "starting the plugin's runtime").with_details(e.to_string()),
            ),
        },
        Err(e) => Outcome::error(CniError::new(ErrorCode::Io, "reading stdin").with_details(e.to_string())),
    };
    // Nothing useful can be done if the runtime closed our pipes.
    let _ = std::io::stdout().write_all(&outcome.stdout);
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(&outcome.stderr);
    std::process::exit(outcome.code)
}

/// The CNI commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Command {
    Add,
    Del,
    Check,
    Status,
    Gc,
    Version,
}

impl Command {
    /// The variables the command needs, in the order they are reported.
    fn required(self) -> &'static [&'static str] {
        match self {
            Command::Add | Command::Check => &["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"],
            Command::Del => &["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"],
            Command::Gc => &["CNI_PATH"],
            Command::Status | Command::Version => &[],
        }
    }

    /// The lowest configuration version the command exists in.
    fn since(self) -> Option<Version> {
        match self {
            Command::Check => Some(Version::V0_4),
            Command::Status | Command::Gc => Some(Version::V1_1),
            _ => None,
        }
    }
}

fn env_error(msg: impl Into<String>) -> CniError {
    CniError::new(ErrorCode::InvalidEnvironment, msg)
}

/// Whether `id` is a valid container id (`[A-Za-z0-9][A-Za-z0-9_.-]*`).
pub fn valid_container_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Checks an interface name as the specification does: 1–15 bytes, not
/// `.` or `..`, no `/`, `:` or whitespace.
pub fn check_ifname(name: &str) -> Result<(), CniError> {
    if name.is_empty() {
        return Err(env_error("interface name is empty"));
    }
    if name.len() > 15 {
        return Err(env_error("interface name is too long")
            .with_details(format!("interface name should be less than 16 characters: {name}")));
    }
    if name == "." || name == ".." {
        return Err(env_error("interface name is . or .."));
    }
    if name.chars().any(|c| c == '/' || c == ':' || c.is_whitespace()) {
        return Err(env_error("interface name contains / or : or whitespace characters"));
    }
    Ok(())
}

/// The attachment described by `env`, checked for `command`.
fn attachment(command: Command, env: &BTreeMap<String, String>) -> Result<Attachment, CniError> {
    let get = |key: &str| env.get(key).filter(|v| !v.is_empty());
    let missing: Vec<&str> = command.required().iter().copied().filter(|key| get(key).is_none()).collect();
    if !missing.is_empty() {
        return Err(env_error(format!("required env variables [{}] missing", missing.join(","))));
    }
    let at = Attachment {
        container_id: get("CNI_CONTAINERID").cloned().unwrap_or_default(),
        netns: get("CNI_NETNS").map(PathBuf::from),
        ifname: get("CNI_IFNAME").cloned().unwrap_or_default(),
        args: Attachment::parse_args(get("CNI_ARGS").map_or("", String::as_str))?,
        path: get("CNI_PATH").map(|p| std::env::split_paths(p).collect()).unwrap_or_default(),
    };
    if matches!(command, Command::Add | Command::Del | Command::Check) {
        if !valid_container_id(&at.container_id) {
            return Err(env_error("invalid characters in containerID").with_details(at.container_id));
        }
        check_ifname(&at.ifname)?;
    }
    Ok(at)
}

/// Runs one CNI command against `plugin`: what [`run`] does, minus the
/// process.
pub async fn dispatch<P: NetworkPlugin + ?Sized>(plugin: &P, env: &BTreeMap<String, String>, stdin: &[u8]) -> Outcome {
    let Some(name) = env.get("CNI_COMMAND").filter(|c| !c.is_empty()) else {
        let versions = match plugin.version().await {
            Ok(info) => info.supported_versions.join(", "),
            Err(e) => e.msg,
        };
        let about = format!("CNI plugin {} (k)\nCNI protocol versions supported: {versions}\n", env_program(env));
        return Outcome { stdout: Vec::new(), stderr: about.into_bytes(), code: 0 };
    };
    let command = match name.as_str() {
        "ADD" => Command::Add,
        "DEL" => Command::Del,
        "CHECK" => Command::Check,
        "STATUS" => Command::Status,
        "GC" => Command::Gc,
        "VERSION" => Command::Version,
        other => return Outcome::error(env_error(format!("unknown CNI_COMMAND: {other}"))),
    };
    match execute(plugin, command, env, stdin).await {
        Ok(stdout) => Outcome::ok(stdout),
        Err(error) => Outcome::error(error),
    }
}

fn env_program(env: &BTreeMap<String, String>) -> String {
    env.get("_").and_then(|p| p.rsplit('/').next().map(str::to_owned)).unwrap_or_else(|| "plugin".into())
}

async fn execute<P: NetworkPlugin + ?Sized>(
    plugin: &P,
    command: Command,
    env: &BTreeMap<String, String>,
    stdin: &[u8],
) -> Result<Vec<u8>, CniError> {
    let info = plugin.version().await?;
    if command == Command::Version {
        return serde_json::to_vec(&info)
            .map_err(|e| CniError::new(ErrorCode::Io, "encoding VERSION").with_details(e.to_string()));
    }
    let at = attachment(command, env)?;
    let conf: PluginConf = serde_json::from_slice(stdin)
        .map_err(|e| CniError::new(ErrorCode::Decode, format!("error unmarshalling network config: {e}")))?;
    // The network's name, as the reference plugins check it (before the
    // version).
    if conf.name.is_empty() {
        return Err(CniError::new(ErrorCode::InvalidNetworkConfig, "missing network name"));
    }
    if !valid_container_id(&conf.name) {
        return Err(CniError::new(ErrorCode::InvalidNetworkConfig, "invalid characters found in network name")
            .with_details(conf.name.clone()));
    }
    // A configuration without a version is 0.1.0's, which k does not speak.
    let version_text = if conf.cni_version.is_empty() { "0.1.0" } else { conf.cni_version.as_str() };
    let version: Version = version_text.parse()?;
    let supported = info.versions();
    if !supported.contains(&version) {
        let list = info.supported_versions.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(" ");
        return Err(CniError::new(ErrorCode::IncompatibleVersion, "incompatible CNI versions")
            .with_details(format!("config is {version_text:?}, plugin supports [{list}]")));
    }
    if let Some(since) = command.since()
        && version < since
    {
        return Err(CniError::new(
            ErrorCode::IncompatibleVersion,
            format!("config version {version} does not allow {}", env["CNI_COMMAND"]),
        ));
    }
    let answer = |e: CniError| if e.cni_version.is_empty() { e.in_version(version.to_string()) } else { e };
    match command {
        Command::Add => {
            let result = plugin.add(&conf, &at).await.map_err(answer)?;
            let json = result.to_json(version)?;
            serde_json::to_vec_pretty(&json)
                .map_err(|e| CniError::new(ErrorCode::Io, "encoding the result").with_details(e.to_string()))
        }
        Command::Del => plugin.del(&conf, &at).await.map(|()| Vec::new()).map_err(answer),
        Command::Check => plugin.check(&conf, &at).await.map(|()| Vec::new()).map_err(answer),
        Command::Status => plugin.status(&conf, &at.path).await.map(|()| Vec::new()).map_err(answer),
        Command::Gc => {
            let valid = valid_attachments(&conf)?;
            plugin.gc(&conf, &valid, &at.path).await.map(|()| Vec::new()).map_err(answer)
        }
        Command::Version => unreachable!("answered above"),
    }
}

/// GC's `cni.dev/valid-attachments` from a plugin configuration.
pub fn valid_attachments(conf: &PluginConf) -> Result<Vec<GcAttachment>, CniError> {
    match conf.extra.get("cni.dev/valid-attachments") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(value) => serde_json::from_value(value.clone()).map_err(|e| {
            CniError::new(ErrorCode::Decode, "invalid cni.dev/valid-attachments").with_details(e.to_string())
        }),
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;
    use serde_json::json;

    use super::*;
    use crate::types::{CniResult, IpConfig};

    /// Records nothing; answers ADD with one address, fails DEL on request.
    #[derive(Debug)]
    struct Fixed;

    #[async_trait]
    impl NetworkPlugin for Fixed {
        async fn add(&self, _conf: &PluginConf, at: &Attachment) -> Result<CniResult, CniError> {
            Ok(CniResult {
                ips: vec![IpConfig { address: format!("10.0.0.{}/24", at.container_id.len()), ..IpConfig::default() }],
                ..CniResult::default()
            })
        }
        async fn del(&self, conf: &PluginConf, _at: &Attachment) -> Result<(), CniError> {
            match conf.extra.get("failDel") {
                Some(_) => Err(CniError::custom(101, "asked to fail").with_details("failDel")),
                None => Ok(()),
            }
        }
        async fn check(&self, _conf: &PluginConf, _at: &Attachment) -> Result<(), CniError> {
            Ok(())
        }
        async fn gc(&self, _conf: &PluginConf, valid: &[GcAttachment], _path: &[PathBuf]) -> Result<(), CniError> {
            if valid.len() == 2 { Ok(()) } else { Err(CniError::custom(102, format!("{} valid", valid.len()))) }
        }
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn full(command: &str) -> BTreeMap<String, String> {
        env(&[
            ("CNI_COMMAND", command),
            ("CNI_CONTAINERID", "abc"),
            ("CNI_NETNS", "/run/netns/x"),
            ("CNI_IFNAME", "eth0"),
            ("CNI_PATH", "/usr/lib/cni"),
        ])
    }

    async fn go(env: &BTreeMap<String, String>, stdin: Value) -> Outcome {
        dispatch(&Fixed, env, stdin.to_string().as_bytes()).await
    }

    #[tokio::test]
    async fn add_prints_the_result_in_the_configs_version() {
        let out = go(&full("ADD"), json!({"cniVersion": "0.4.0", "name": "n", "type": "fixed"})).await;
        assert_eq!(out.code, 0);
        let result: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(result, json!({"cniVersion": "0.4.0", "ips": [{"version": "4", "address": "10.0.0.3/24"}]}));
        let out = go(&full("ADD"), json!({"cniVersion": "1.1.0", "name": "n", "type": "fixed"})).await;
        let result: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(result["ips"][0], json!({"address": "10.0.0.3/24"}));
    }

    #[tokio::test]
    async fn bad_input_gets_the_reference_plugins_answers() {
        let conf = json!({"cniVersion": "1.0.0", "name": "n", "type": "fixed"});
        let out = go(&env(&[("CNI_COMMAND", "ADD")]), conf.clone()).await;
        let e = out.error_json().unwrap();
        assert_eq!((out.code, e.code), (1, 4));
        assert_eq!(e.msg, "required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH] missing");
        let e = go(&env(&[("CNI_COMMAND", "DEL")]), conf.clone()).await.error_json().unwrap();
        assert_eq!(e.msg, "required env variables [CNI_CONTAINERID,CNI_IFNAME,CNI_PATH] missing", "DEL needs no netns");
        let e = go(&full("FOO"), conf.clone()).await.error_json().unwrap();
        assert_eq!((e.code, e.msg.as_str()), (4, "unknown CNI_COMMAND: FOO"));
        let out = dispatch(&Fixed, &full("ADD"), b"{x").await;
        assert_eq!(out.error_json().unwrap().code, 6);
        let e =
            go(&full("ADD"), json!({"cniVersion": "9.9.9", "name": "n", "type": "fixed"})).await.error_json().unwrap();
        assert_eq!((e.code, e.msg.as_str()), (1, "incompatible CNI versions"));
        assert!(e.details.starts_with("config is \"9.9.9\", plugin supports [\"0.3.0\""), "{}", e.details);
        let e = go(&full("ADD"), json!({"cniVersion": "9.9.9", "type": "fixed"})).await.error_json().unwrap();
        assert_eq!((e.code, e.msg.as_str()), (7, "missing network name"), "the name is checked before the version");
        let e =
            go(&full("DEL"), json!({"cniVersion": "1.0.0", "name": "-n", "type": "fixed"})).await.error_json().unwrap();
        assert_eq!((e.code, e.msg.as_str(), e.details.as_str()), (7, "invalid characters found in network name", "-n"));
        let e = go(&full("ADD"), json!({"name": "n", "type": "fixed"})).await.error_json().unwrap();
        assert_eq!(e.code, 1, "no version is 0.1.0");
        let mut bad = full("ADD");
        bad.insert("CNI_IFNAME".into(), "a/b".into());
        assert_eq!(
            go(&bad, conf.clone()).await.error_json().unwrap().msg,
            "interface name contains / or : or whitespace characters"
        );
        bad.insert("CNI_IFNAME".into(), "eth0".into());
        bad.insert("CNI_CONTAINERID".into(), "-c".into());
        let e = go(&bad, conf.clone()).await.error_json().unwrap();
        assert_eq!((e.code, e.details.as_str()), (4, "-c"));
        let e = go(&full("CHECK"), json!({"cniVersion": "0.3.1", "name": "n", "type": "fixed"}))
            .await
            .error_json()
            .unwrap();
        assert_eq!(e.code, 1, "CHECK needs 0.4.0");
    }

    #[tokio::test]
    async fn plugin_errors_version_status_gc_and_usage() {
        let out = go(&full("DEL"), json!({"cniVersion": "1.0.0", "name": "n", "type": "fixed", "failDel": true})).await;
        let e = out.error_json().unwrap();
        assert_eq!(
            (e.code, e.msg.as_str(), e.details.as_str(), e.cni_version.as_str()),
            (101, "asked to fail", "failDel", "1.0.0")
        );
        let out = dispatch(&Fixed, &env(&[("CNI_COMMAND", "VERSION")]), b"").await;
        let info: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(info["cniVersion"], "1.1.0");
        let status =
            go(&env(&[("CNI_COMMAND", "STATUS")]), json!({"cniVersion": "1.1.0", "name": "n", "type": "fixed"})).await;
        assert_eq!((status.code, status.stdout.len()), (0, 0));
        let gc = json!({"cniVersion": "1.1.0", "name": "n", "type": "fixed",
            "cni.dev/valid-attachments": [{"containerID": "a", "ifname": "eth0"}, {"containerID": "b", "ifname": "eth0"}]});
        let out = go(&env(&[("CNI_COMMAND", "GC"), ("CNI_PATH", "/x")]), gc).await;
        assert_eq!(out.code, 0, "{}", String::from_utf8_lossy(&out.stdout));
        let usage = dispatch(&Fixed, &env(&[]), b"").await;
        assert_eq!(usage.code, 0);
        assert!(String::from_utf8_lossy(&usage.stderr).contains("CNI protocol versions supported: 0.3.0"));
    }
}
