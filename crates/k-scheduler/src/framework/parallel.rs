//! Work over every node, split across the machine's cores when it is large
//! enough to pay for the hand-off (kube-scheduler's `Parallelizer`): the
//! counting passes of PodTopologySpread and InterPodAffinity look at every
//! pod on every node for each pod scheduled.

use std::sync::Arc;

use super::NodeInfo;

/// Below this many nodes, work runs on the calling thread.
pub const MIN_PARALLEL_NODES: usize = 1024;

/// `map` over chunks of `nodes`, in parallel on rayon's pool when there are
/// at least [`MIN_PARALLEL_NODES`], the results combined with `merge`
/// (in node order: `merge(earlier, later)`).
pub fn map_nodes<T: Send>(
    nodes: &[Arc<NodeInfo>],
    map: &(impl Fn(&[Arc<NodeInfo>]) -> T + Sync),
    merge: &(impl Fn(T, T) -> T + Sync),
) -> T {
    let threads = rayon::current_num_threads().max(1);
    if nodes.len() < MIN_PARALLEL_NODES || threads == 1 {
        return map(nodes);
    }
    let chunk = nodes.len().div_ceil(threads).max(MIN_PARALLEL_NODES / 2);
    split(nodes, chunk, map, merge)
}

fn split<T: Send>(
    nodes: &[Arc<NodeInfo>],
    chunk: usize,
    map: &(impl Fn(&[Arc<NodeInfo>]) -> T + Sync),
    merge: &(impl Fn(T, T) -> T + Sync),
) -> T {
    if nodes.len() <= chunk {
        return map(nodes);
    }
    let (left, right) = nodes.split_at(nodes.len() / 2);
    let (a, b) = rayon::join(|| split(left, chunk, map, merge), || split(right, chunk, map, merge));
    merge(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::node;

    #[test]
    fn the_same_result_split_or_not() {
        let nodes: Vec<Arc<NodeInfo>> = (0..3000)
            .map(|i| {
                Arc::new(node(
                    &format!("n{i}"),
                    serde_json::json!({"cpu": format!("{}", i % 7 + 1)}),
                    serde_json::json!({}),
                ))
            })
            .collect();
        let sum = |chunk: &[Arc<NodeInfo>]| chunk.iter().map(|n| n.allocatable.milli_cpu).sum::<i64>();
        let names = |chunk: &[Arc<NodeInfo>]| chunk.iter().map(|n| n.name().to_owned()).collect::<Vec<_>>();
        assert_eq!(map_nodes(&nodes, &sum, &|a, b| a + b), sum(&nodes));
        let ordered = map_nodes(&nodes, &names, &|mut a, b| {
            a.extend(b);
            a
        });
        assert_eq!(ordered, names(&nodes), "merged in node order");
    }
}
