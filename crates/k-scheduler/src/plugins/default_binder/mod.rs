//! DefaultBinder: binds the pod to the chosen node through the API's
//! `pods/binding` subresource (which sets `spec.nodeName` and the
//! PodScheduled condition). Without an API in the [`Handle`] (the
//! simulator), binding is an error.

use std::sync::Arc;

use k_store::api::UserInfo;
use serde_json::Value;

use crate::framework::{BindPlugin, CycleState, ExtensionPoints, Handle, Plugin, PodInfo, Status};

/// Its name.
pub const NAME: &str = "DefaultBinder";

/// The user the scheduler binds as when the API takes the caller from the
/// request (an in-process store); a remote API uses its own credentials.
pub const SCHEDULER_USER: &str = "system:kube-scheduler";

/// The plugin; see the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct DefaultBinder {
    handle: Handle,
}

impl DefaultBinder {
    /// A binder writing through `handle`'s API.
    pub fn new(handle: Handle) -> Self {
        DefaultBinder { handle }
    }
}

impl Plugin for DefaultBinder {
    fn name(&self) -> &'static str {
        NAME
    }
}

#[async_trait::async_trait]
impl BindPlugin for DefaultBinder {
    async fn bind(&self, _: &CycleState, pod: &PodInfo, node: &str) -> Status {
        let Some(api) = &self.handle.api else {
            return Status::error("DefaultBinder has no API to bind through");
        };
        let meta = &pod.pod.metadata;
        let user = UserInfo::named(SCHEDULER_USER);
        match api.bind_pod(&meta.namespace, &meta.name, node, &user).await {
            Ok(_) => Status::success(),
            Err(e) => Status::error(format!("binding rejected: {e}")),
        }
    }
}

crate::extension_points!(DefaultBinder: bind);

/// Makes the plugin (it takes no arguments).
pub fn factory(_args: Option<&Value>, handle: &Handle) -> Result<Arc<dyn ExtensionPoints>, String> {
    Ok(Arc::new(DefaultBinder::new(handle.clone())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::pod;

    #[tokio::test]
    async fn without_an_api_binding_is_an_error() {
        let binder = DefaultBinder::default();
        let status = binder.bind(&CycleState::new(), &pod("p", serde_json::json!({})), "n1").await;
        assert_eq!(status.code(), crate::framework::Code::Error);
        assert!(status.reasons()[0].contains("no API"), "{status:?}");
    }
}
