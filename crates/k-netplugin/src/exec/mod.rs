//! Running CNI plugins the way libcni does.
//!
//! - [`Exec`] runs one binary (environment, stdin, timeout);
//!   [`ProcessExec`] is the real one, optionally from inside a network
//!   namespace so plugins that touch the host (`bridge`, `portmap`) act on
//!   that namespace.
//! - [`ExternalPlugin`] drives a plugin binary through the
//!   [`NetworkPlugin`](crate::NetworkPlugin) trait.
//! - [`Executor`] runs network configuration lists: plugin lookup (Rust
//!   plugins registered in-process first, then `CNI_PATH`), version choice,
//!   `runtimeConfig` from declared capabilities, `prevResult` chaining, ADD
//!   in order and DEL in reverse, CHECK, STATUS and GC, per-call timeouts,
//!   and libcni's result cache ([`cache`]).
//!
//! Start with [`Executor::new`] and [`load_dir`].

pub mod cache;
mod error;
mod executor;
mod external;
mod process;

pub use cache::{CacheEntry, ResultCache};
pub use error::ExecError;
pub use executor::{Executor, RuntimeConf, load_dir};
pub use external::ExternalPlugin;
pub use process::{Exec, ExecOutput, ProcessExec};
