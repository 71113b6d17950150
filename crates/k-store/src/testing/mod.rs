//! The backend conformance suite: what every [`Backend`](crate::backend::Backend) must do, as tests.
//!
//! This module is test support. Its functions **panic** (with a message
//! saying what differed) when the backend under test deviates from the
//! contract, and they use `unwrap`/`expect` freely. Each takes a fresh,
//! empty backend (revisions are taken relative to `backend.revision()` at
//! the start, so a backend need not start at revision 0, but no other
//! client may write to it during the test).
//!
//! The easiest way to run the whole suite is the
//! [`backend_conformance_tests!`](crate::backend_conformance_tests) macro,
//! from an integration test of a crate depending on `tokio` (features
//! `macros`, `rt-multi-thread`):
//!
//! ```ignore
//! use std::sync::Arc;
//! use k_store::backend::Backend;
//! use k_store::testing::Config;
//!
//! async fn make_durable() -> Arc<dyn Backend> { /* a fresh backend */ }
//!
//! // One module `backend_conformance` with one test per suite function.
//! k_store::backend_conformance_tests!(make_durable());
//! // Tuned (see `Config`), in a module of your choosing.
//! k_store::backend_conformance_tests!(mod tuned, make_durable(), Config { slow_watcher_writes: 3_000, ..Config::default() });
//! ```
//!
//! The factory is any async expression whose output implements
//! [`IntoSharedBackend`]: `Arc<dyn Backend>`, `Box<dyn Backend>`, `Arc<B>`,
//! or a backend `B` by value. It is evaluated once per test.
//!
//! [`model`] checks random operation sequences against a reference model of
//! the semantics; [`model_random_sequences`] runs a few seeded ones as part of
//! the suite, and `check_sequence` is there for property tests.
//!
//! [`lifecycle`] is the conformance suite of the layer above, the
//! [`Store`](crate::Store) object lifecycle.

mod contention;
mod kv;
pub mod lifecycle;
pub mod model;
mod range;
mod support;
mod watch;

pub use contention::cas_under_contention;
pub use kv::{
    compacted_and_future_revisions, create_get_update_delete, reads_at_old_revisions, revisions_increase_by_one,
    write_errors,
};
pub use model::model_random_sequences;
pub use range::{range_pagination, range_pagination_consistent_under_writes, range_prefix_and_order};
pub use support::{Config, IntoSharedBackend, expect_watch_error, kv, next_event, next_item, next_progress, value};
pub use watch::{
    slow_watcher_is_ended, watch_delete_and_prev, watch_from_compacted_revision_expires,
    watch_joins_history_and_live_without_gap, watch_order_and_prefix, watch_progress_when_idle, watch_replays_history,
    watch_resume_without_loss_or_duplication,
};

/// Expands to a module of `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]`
/// tests, one per function of the conformance suite ([`crate::testing`]), each
/// running on a fresh backend from the factory.
///
/// Forms:
///
/// - `backend_conformance_tests!(factory)`: module `backend_conformance`,
///   default [`Config`](crate::testing::Config);
/// - `backend_conformance_tests!(factory, config)`;
/// - `backend_conformance_tests!(mod name, factory)` and
///   `backend_conformance_tests!(mod name, factory, config)`, to run the suite
///   more than once in one file.
///
/// `factory` is an async expression (evaluated with `.await` in each test,
/// inside the generated module, which imports `super::*`) whose output
/// implements [`IntoSharedBackend`](crate::testing::IntoSharedBackend), such
/// as `Arc<dyn Backend>`. `config` is an expression of type
/// [`Config`](crate::testing::Config). The calling crate needs `tokio` with
/// the `macros` and `rt-multi-thread` features.
#[macro_export]
macro_rules! backend_conformance_tests {
    (mod $name:ident, $factory:expr, $config:expr $(,)?) => {
        #[allow(unused_imports)]
        mod $name {
            use super::*;

            fn config() -> $crate::testing::Config {
                $config
            }

            $crate::__conformance_tests!(
                $factory;
                revisions_increase_by_one,
                create_get_update_delete,
                write_errors,
                reads_at_old_revisions,
                compacted_and_future_revisions,
                range_prefix_and_order,
                range_pagination,
                range_pagination_consistent_under_writes,
                watch_order_and_prefix,
                watch_delete_and_prev,
                watch_resume_without_loss_or_duplication,
                watch_replays_history,
                watch_from_compacted_revision_expires,
                watch_joins_history_and_live_without_gap,
                cas_under_contention;
                watch_progress_when_idle,
                slow_watcher_is_ended,
                model_random_sequences
            );
        }
    };
    (mod $name:ident, $factory:expr $(,)?) => {
        $crate::backend_conformance_tests!(mod $name, $factory, $crate::testing::Config::default());
    };
    ($factory:expr, $config:expr $(,)?) => {
        $crate::backend_conformance_tests!(mod backend_conformance, $factory, $config);
    };
    ($factory:expr $(,)?) => {
        $crate::backend_conformance_tests!(mod backend_conformance, $factory, $crate::testing::Config::default());
    };
}

/// Implementation detail of [`backend_conformance_tests!`]: the test functions.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests {
    ($factory:expr; $($plain:ident),* ; $($configured:ident),*) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $plain() {
                let backend = $crate::testing::IntoSharedBackend::into_shared($factory.await);
                $crate::testing::$plain(backend).await;
            }
        )*
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $configured() {
                let backend = $crate::testing::IntoSharedBackend::into_shared($factory.await);
                $crate::testing::$configured(backend, &config()).await;
            }
        )*
    };
}
