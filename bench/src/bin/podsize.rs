//! Heap bytes and allocations per cached pod: k-api-types' `Pod` against
//! k8s-openapi's, decoded from the same JSON (the informer benchmark's pod).
//!
//! Run: `cargo run --release --manifest-path bench/Cargo.toml --bin podsize`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

/// Counts live heap bytes and allocations.
struct Counting;

static BYTES: AtomicIsize = AtomicIsize::new(0);
static BLOCKS: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        BLOCKS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        BLOCKS.fetch_sub(1, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[path = "shared/pod.rs"]
mod informer_pod;

fn measure<T>(name: &str, n: usize, decode: impl Fn(&str) -> T) {
    let jsons: Vec<String> = (0..n).map(informer_pod::pod_json).collect();
    let (bytes, blocks) = (BYTES.load(Ordering::Relaxed), BLOCKS.load(Ordering::Relaxed));
    let pods: Vec<Arc<T>> = jsons.iter().map(|j| Arc::new(decode(j))).collect();
    let (b, k) = (BYTES.load(Ordering::Relaxed) - bytes, BLOCKS.load(Ordering::Relaxed) - blocks);
    println!(
        "{name:<28} {:>8.0} bytes/pod {:>6.0} allocations/pod (struct {} bytes; JSON {} bytes)",
        b as f64 / n as f64,
        k as f64 / n as f64,
        std::mem::size_of::<T>(),
        jsons[0].len()
    );
    drop(pods);
}

fn main() {
    sizes();
    let n = 10_000;
    measure("k-api-types Pod", n, |j| serde_json::from_str::<k_api_types::core::v1::Pod>(j).unwrap());
    measure("k8s-openapi Pod", n, |j| serde_json::from_str::<k8s_openapi::api::core::v1::Pod>(j).unwrap());
    measure("serde_json::Value", n, |j| serde_json::from_str::<serde_json::Value>(j).unwrap());
}

#[allow(dead_code)]
fn sizes() {
    use k_api_types::core::v1::*;
    use k_api_types::meta::ObjectMeta;
    macro_rules! size {
        ($($t:ty),*) => { $( println!("{:<24} {:>6}", stringify!($t), std::mem::size_of::<$t>()); )* };
    }
    size!(Pod, PodSpec, PodStatus, ObjectMeta, Container, ContainerStatus, Probe, SecurityContext, ResourceRequirements, Volume, EnvVar, ContainerPort, Toleration, PodCondition, Affinity, PodSecurityContext, Lifecycle, VolumeMount);
}
