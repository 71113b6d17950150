//! The object-lifecycle conformance suite over the memory backend.

use k_store::Store;

k_store::store_conformance_tests!(async { Store::in_memory() });
