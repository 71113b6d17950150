//! Patch formats beyond RFC 6902 and RFC 7386: strategic merge patch for
//! built-in kinds ([`strategic`]). Server-side apply is in [`crate::apply`].

pub mod strategic;
