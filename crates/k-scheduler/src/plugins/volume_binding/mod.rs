//! VolumeBinding: bound and unbound PersistentVolumeClaims. (Being written: issue 7.)

use std::sync::Arc;

use serde_json::Value;

use crate::framework::{ExtensionPoints, Handle, Plugin};

/// Its name.
pub const NAME: &str = "VolumeBinding";

/// The plugin; see the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct VolumeBinding;

impl Plugin for VolumeBinding {
    fn name(&self) -> &'static str {
        NAME
    }
}

crate::extension_points!(VolumeBinding: );

/// Makes the plugin from its `pluginConfig` arguments.
pub fn factory(_args: Option<&Value>, _handle: &Handle) -> Result<Arc<dyn ExtensionPoints>, String> {
    Ok(Arc::new(VolumeBinding))
}
