//! DefaultTolerationSeconds: a new pod tolerates its node being not ready
//! or unreachable for 300 seconds (`NoExecute`), unless it already says
//! how long.

use k_api_types::Object;
use k_api_types::core::v1::Toleration;
use k_store::admission::AdmissionRequest;

use super::{AdmissionPlugin, creates_pod};

/// The taints tolerated, and for how long by default.
pub const TAINTS: [&str; 2] = ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"];
/// Seconds (kube-apiserver's `--default-not-ready-toleration-seconds` and
/// `--default-unreachable-toleration-seconds`).
pub const SECONDS: i64 = 300;

/// The plugin; see the [module docs](self).
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultTolerationSeconds;

#[async_trait::async_trait]
impl AdmissionPlugin for DefaultTolerationSeconds {
    fn name(&self) -> &'static str {
        "DefaultTolerationSeconds"
    }

    async fn admit(&self, request: &mut AdmissionRequest<'_>) -> k_store::Result<()> {
        if !creates_pod(request) {
            return Ok(());
        }
        let Some(Object::Pod(pod)) = request.object.as_deref_mut() else { return Ok(()) };
        for taint in TAINTS {
            let tolerated = pod.spec.tolerations.iter().any(|t| {
                let effect = t.effect.as_deref().unwrap_or_default();
                let key = t.key.as_deref().unwrap_or_default();
                (effect.is_empty() || effect == "NoExecute") && (key == taint || key.is_empty())
            });
            if !tolerated {
                pod.spec.tolerations.push(Toleration {
                    key: Some(taint.to_owned()),
                    operator: Some("Exists".to_owned()),
                    value: None,
                    effect: Some("NoExecute".to_owned()),
                    toleration_seconds: Some(SECONDS),
                });
            }
        }
        Ok(())
    }
}
