//! [`Object`]: any built-in kind (typed) or any other kind (dynamic). (Being filled in.)

use crate::resource::ResourceInfo;

/// The static facts of every built-in kind.
pub static BUILTIN_RESOURCES: &[&ResourceInfo] = &[];
