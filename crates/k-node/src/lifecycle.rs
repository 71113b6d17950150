//! Container lifecycle hooks (postStart, preStop) and graceful stops.
//!
//! A hook is an exec (through the runtime's ExecSync), an httpGet or
//! tcpSocket (through a [`Prober`], normally the
//! [`NetworkProber`](crate::probes::NetworkProber)), or a sleep. preStop runs
//! before the stop signal and counts against the grace period: the
//! container then gets what is left of it (at least 2 s, as the kubelet
//! gives) before SIGKILL.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use k_api_types::core::v1::{Container, LifecycleHandler, Probe};
use k_netplugin::cri::{CriResult, RuntimeService};

use crate::probes::{ProbeOutcome, Prober};

/// The least time a container gets after its preStop hook.
pub const MIN_GRACE_AFTER_HOOK: Duration = Duration::from_secs(2);

/// Runs `hook` for `container` (runtime id `id`), giving up after
/// `timeout`. `Ok(())` when it succeeded; the failure's message otherwise.
pub async fn run_hook(
    hook: &LifecycleHandler,
    container: &Container,
    id: &str,
    pod_ip: Option<IpAddr>,
    runtime: &dyn RuntimeService,
    prober: &dyn Prober,
    timeout: Duration,
) -> Result<(), String> {
    if let Some(sleep) = &hook.sleep {
        let secs = u64::try_from(sleep.seconds).unwrap_or(0);
        tokio::time::sleep(Duration::from_secs(secs).min(timeout)).await;
        return Ok(());
    }
    // Hooks and probes share their handlers: run it as a probe with the
    // hook's timeout.
    let probe = Probe {
        exec: hook.exec.clone(),
        http_get: hook.http_get.clone(),
        tcp_socket: hook.tcp_socket.clone(),
        timeout_seconds: Some(i32::try_from(timeout.as_secs().max(1)).unwrap_or(i32::MAX)),
        ..Probe::default()
    };
    if probe.exec.is_none() && probe.http_get.is_none() && probe.tcp_socket.is_none() {
        return Err("the hook has no handler".into());
    }
    match prober.probe(&probe, container, id, pod_ip, runtime).await {
        ProbeOutcome::Success => Ok(()),
        ProbeOutcome::Failure(message) => Err(message),
    }
}

/// Stops a container gracefully: its preStop hook (if any) within `grace`,
/// then StopContainer with the rest of the grace period (at least
/// [`MIN_GRACE_AFTER_HOOK`] after a hook). Returns the hook's failure, if
/// it failed (the container is stopped either way).
pub async fn stop_gracefully(
    container: &Container,
    id: &str,
    pod_ip: Option<IpAddr>,
    runtime: &dyn RuntimeService,
    prober: &dyn Prober,
    grace: Duration,
) -> CriResult<Option<String>> {
    let started = Instant::now();
    let mut hook_error = None;
    let mut remaining = grace;
    if let Some(pre_stop) = container.lifecycle.as_ref().and_then(|l| l.pre_stop.as_ref()) {
        if let Err(e) = run_hook(pre_stop, container, id, pod_ip, runtime, prober, grace).await {
            hook_error = Some(e);
        }
        remaining = grace.saturating_sub(started.elapsed()).max(MIN_GRACE_AFTER_HOOK);
    }
    match runtime.stop_container(id, remaining).await {
        Err(e) if !e.is_not_found() => Err(e),
        _ => Ok(hook_error),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use k_netplugin::cri::fake::{FakeRuntime, Script, SystemClock};
    use k_netplugin::cri::{ContainerConfig, ContainerMetadata, ContainerState, ImageSpec, PodSandboxConfig};

    use super::*;
    use crate::probes::NetworkProber;

    #[tokio::test]
    async fn pre_stop_runs_before_the_stop_and_hooks_report_failures() {
        let runtime = Arc::new(
            FakeRuntime::new(SystemClock)
                .with_images(["app"])
                .with_script("app", Script::runs_forever().exec("drain", 0, "ok").exec("broken", 1, "no")),
        );
        let sandbox_config = PodSandboxConfig::default();
        let sandbox = runtime.run_pod_sandbox(&sandbox_config).await.unwrap();
        let config = ContainerConfig {
            metadata: ContainerMetadata { name: "app".into(), attempt: 0 },
            image: ImageSpec { image: "app".into() },
            ..ContainerConfig::default()
        };
        let id = runtime.create_container(&sandbox, &config, &sandbox_config).await.unwrap();
        runtime.start_container(&id).await.unwrap();
        let container: Container = serde_json::from_value(serde_json::json!({
            "name": "app", "image": "app",
            "lifecycle": {"preStop": {"exec": {"command": ["drain"]}}, "postStart": {"exec": {"command": ["broken"]}}}
        }))
        .unwrap();
        let prober = NetworkProber::new();
        let post = container.lifecycle.as_ref().unwrap().post_start.as_ref().unwrap();
        let err =
            run_hook(post, &container, &id, None, runtime.as_ref(), &prober, Duration::from_secs(5)).await.unwrap_err();
        assert!(err.contains("exited with 1"), "{err}");
        let hook =
            stop_gracefully(&container, &id, None, runtime.as_ref(), &prober, Duration::from_secs(30)).await.unwrap();
        assert_eq!(hook, None, "preStop succeeded");
        assert_eq!(runtime.container_status(&id).await.unwrap().state, ContainerState::Exited);
        assert_eq!(runtime.calls("exec_sync"), 2, "postStart and preStop ran through ExecSync");
        // Stopping again is fine.
        stop_gracefully(&container, &id, None, runtime.as_ref(), &prober, Duration::from_secs(1)).await.unwrap();
    }
}
