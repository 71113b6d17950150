//! PodTopologySpread: spread pods across topology domains. (Being written: issue 7.)

use std::sync::Arc;

use serde_json::Value;

use crate::framework::{ExtensionPoints, Handle, Plugin};

/// Its name.
pub const NAME: &str = "PodTopologySpread";

/// The plugin; see the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct PodTopologySpread;

impl Plugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        NAME
    }
}

crate::extension_points!(PodTopologySpread: );

/// Makes the plugin from its `pluginConfig` arguments.
pub fn factory(_args: Option<&Value>, _handle: &Handle) -> Result<Arc<dyn ExtensionPoints>, String> {
    Ok(Arc::new(PodTopologySpread))
}
