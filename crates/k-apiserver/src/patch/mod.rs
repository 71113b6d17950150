//! Patch formats the server applies itself: strategic merge patch for
//! built-in kinds (JSON patch and merge patch are applied by k-store).

pub mod strategic;
