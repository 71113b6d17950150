//! ServiceAccount: a new pod runs as a service account (`default` when it
//! names none), which must exist, and gets that account's API credentials
//! mounted: a projected volume `kube-api-access-<suffix>` (a bound
//! service-account token, the cluster CA from the `kube-root-ca.crt`
//! ConfigMap, the namespace) at
//! `/var/run/secrets/kubernetes.io/serviceaccount` in every container,
//! unless the pod or the account turns `automountServiceAccountToken` off.
//!
//! Until k's service-account controller creates every namespace's
//! `default` account (the controller-manager issue), a missing `default`
//! account is let through; any other missing account is refused, as
//! kube-apiserver refuses it.

use std::sync::Arc;

use k_api_types::core::v1::{Volume, VolumeMount};
use k_api_types::{GroupVersionResource, Object};
use k_store::ObjectApi;
use k_store::admission::AdmissionRequest;

use super::{AdmissionPlugin, creates_pod, forbidden};

/// Where the credentials are mounted.
pub const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The lifetime of the projected token (kube-apiserver's 3607 s: an hour
/// and a little, so kubelets refresh before expiry).
pub const TOKEN_SECONDS: i64 = 3607;

/// The plugin; see the [module docs](self).
#[derive(Debug)]
pub struct ServiceAccount {
    api: Arc<dyn ObjectApi>,
}

impl ServiceAccount {
    /// The plugin, reading service accounts from `api`.
    pub fn new(api: Arc<dyn ObjectApi>) -> Self {
        Self { api }
    }
}

/// A volume name suffix: five lower-case letters and digits, as Kubernetes'
/// generated names.
fn suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let random = uuid::Uuid::new_v4();
    random.as_bytes().iter().take(5).map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}

fn access_volume(name: &str) -> Volume {
    let volume = serde_json::json!({
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": TOKEN_SECONDS, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
            ]
        }
    });
    serde_json::from_value(volume).expect("the access volume is a valid Volume")
}

#[async_trait::async_trait]
impl AdmissionPlugin for ServiceAccount {
    fn name(&self) -> &'static str {
        "ServiceAccount"
    }

    async fn admit(&self, request: &mut AdmissionRequest<'_>) -> k_store::Result<()> {
        if !creates_pod(request) {
            return Ok(());
        }
        let (account_name, mirror, pod_automount) = match request.object.as_deref() {
            Some(Object::Pod(pod)) => (
                pod.spec.service_account_name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| "default".to_owned()),
                pod.metadata.annotations.contains_key("kubernetes.io/config.mirror"),
                pod.spec.automount_service_account_token,
            ),
            _ => return Ok(()),
        };
        if mirror {
            return Ok(());
        }
        let gvr = GroupVersionResource::new("", "v1", "serviceaccounts");
        let account = match self.api.get(&gvr, request.namespace, &account_name).await {
            Ok(a) => Some(a),
            Err(e) if e.is_not_found() && account_name == "default" => None,
            Err(e) if e.is_not_found() => {
                let why = format!(
                    "error looking up service account {}/{account_name}: serviceaccount {account_name:?} not found",
                    request.namespace
                );
                return Err(forbidden(request, why));
            }
            Err(e) => return Err(e),
        };
        let account_automount =
            account.as_ref().and_then(|a| a.data.get("automountServiceAccountToken")).and_then(|v| v.as_bool());
        let automount = pod_automount.or(account_automount).unwrap_or(true);
        let Some(Object::Pod(pod)) = request.object.as_deref_mut() else { return Ok(()) };
        pod.spec.service_account_name = Some(account_name.clone());
        pod.spec.service_account = Some(account_name);
        if !automount {
            return Ok(());
        }
        let mounted = pod
            .spec
            .containers
            .iter()
            .chain(&pod.spec.init_containers)
            .any(|c| c.volume_mounts.iter().any(|m| m.mount_path == MOUNT_PATH));
        if mounted {
            return Ok(());
        }
        let name = format!("kube-api-access-{}", suffix());
        pod.spec.volumes.push(access_volume(&name));
        let mount = VolumeMount { read_only: Some(true), ..VolumeMount::new(name, MOUNT_PATH) };
        for container in pod.spec.containers.iter_mut().chain(pod.spec.init_containers.iter_mut()) {
            container.volume_mounts.push(mount.clone());
        }
        Ok(())
    }
}
