//! Property test: random operation sequences against the reference model
//! (`k_store::testing::model`), on the memory backend.
//!
//! Other backends can run the same property by copying `op()` and calling
//! `check_sequence` with a fresh backend per case.

use proptest::prelude::*;

use k_store::backend::memory::{MemoryBackend, MemoryOptions};
use k_store::testing::model::{At, Expect, KEYS, Op, PREFIXES, check_sequence};

fn expect() -> impl Strategy<Value = Expect> {
    prop_oneof![3 => Just(Expect::Current), 1 => Just(Expect::Stale)]
}

fn at() -> impl Strategy<Value = At> {
    prop_oneof![
        4 => Just(At::Latest),
        3 => (0u8..12).prop_map(At::Back),
        1 => (0u8..3).prop_map(At::Future),
    ]
}

fn key() -> impl Strategy<Value = usize> {
    0..KEYS.len()
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        25 => (key(), 0u8..10).prop_map(|(key, value)| Op::Create { key, value }),
        25 => (key(), 0u8..10, expect()).prop_map(|(key, value, expected)| Op::Update { key, value, expected }),
        12 => (key(), proptest::option::of(expect())).prop_map(|(key, expected)| Op::Delete { key, expected }),
        12 => (key(), at()).prop_map(|(key, at)| Op::Get { key, at }),
        15 => (0..PREFIXES.len(), proptest::option::of(key()), 0usize..4, at())
            .prop_map(|(prefix, start_after, limit, at)| Op::Range { prefix, start_after, limit, at }),
        5 => (0u8..8).prop_map(|back| Op::Compact { back }),
        6 => (0u8..10).prop_map(|back| Op::Watch { back }),
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn memory_backend_matches_the_model(ops in proptest::collection::vec(op(), 0..=40)) {
        runtime().block_on(check_sequence(&MemoryBackend::new(), &ops));
    }

    #[test]
    fn memory_backend_with_small_queues_matches_the_model(
        ops in proptest::collection::vec(op(), 0..=40),
    ) {
        // History longer than any sequence (auto-compaction would be invisible
        // to the model), small queues and fast progress.
        let backend = MemoryBackend::with_options(MemoryOptions {
            watch_capacity: 64,
            history: 1_000,
            progress_interval: std::time::Duration::from_millis(5),
        });
        runtime().block_on(check_sequence(&backend, &ops));
    }
}
