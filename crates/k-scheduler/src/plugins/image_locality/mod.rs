//! ImageLocality: prefer nodes that already have the pod's images. Each
//! image present counts its size × the share of nodes that have it (so an
//! image everywhere says little); the sum, clamped to 23 MiB … 1000 MiB per
//! container, maps linearly to 0–100. An image named without a tag is
//! `:latest`.

use crate::framework::{CycleState, MAX_NODE_SCORE, NodeInfo, Plugin, PodInfo, ScorePlugin, Status};

/// Its name.
pub const NAME: &str = "ImageLocality";
pub use crate::framework::TOTAL_NODES;

const MB: i64 = 1024 * 1024;
const MIN_THRESHOLD: i64 = 23 * MB;
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

/// The plugin; see the [module docs](self).
#[derive(Clone, Copy, Debug, Default)]
pub struct ImageLocality;

impl Plugin for ImageLocality {
    fn name(&self) -> &'static str {
        NAME
    }
}

pub use crate::framework::normalized_image_name;

impl ScorePlugin for ImageLocality {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let total_nodes = state.read::<usize>(TOTAL_NODES).copied().unwrap_or(1).max(1) as f64;
        let sum: i64 = pod
            .images
            .iter()
            .filter_map(|image| node.image_states.get(image))
            .map(|state| (state.size as f64 * (state.num_nodes as f64 / total_nodes)) as i64)
            .sum();
        let max = MAX_CONTAINER_THRESHOLD * pod.images.len() as i64;
        if max <= MIN_THRESHOLD {
            return Ok(0);
        }
        let clamped = sum.clamp(MIN_THRESHOLD, max);
        Ok(MAX_NODE_SCORE * (clamped - MIN_THRESHOLD) / (max - MIN_THRESHOLD))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plugins::testing::{node, pod};

    #[test]
    fn names_default_to_latest() {
        assert_eq!(normalized_image_name("nginx"), "nginx:latest");
        assert_eq!(normalized_image_name("nginx:1.25"), "nginx:1.25");
        assert_eq!(normalized_image_name("registry:5000/app"), "registry:5000/app:latest");
        assert_eq!(normalized_image_name("app@sha256:abcd"), "app@sha256:abcd");
    }

    #[test]
    fn image_sizes_across_nodes() {
        // Two containers; node a has a 250 MB image (on 1 of 2 nodes) and a
        // 40 MB image (on both); node b only the 40 MB one.
        let images_a = json!([{"names": ["gcr.io/250:latest"], "sizeBytes": 250 * MB}, {"names": ["gcr.io/40:latest"], "sizeBytes": 40 * MB}]);
        let images_b = json!([{"names": ["gcr.io/40:latest"], "sizeBytes": 40 * MB}]);
        let mut nodes =
            vec![node("a", json!({}), json!({"images": images_a})), node("b", json!({}), json!({"images": images_b}))];
        NodeInfo::count_images(&mut nodes);
        let mut state = CycleState::new();
        state.write(TOTAL_NODES, 2_usize);
        let p = pod(
            "p",
            json!({"containers": [{"name": "x", "image": "gcr.io/250"}, {"name": "y", "image": "gcr.io/40"}]}),
        );
        // a: 250·½ + 40·1 = 165 MB → 100·(165−23)/(2000−23) = 7.
        assert_eq!(ImageLocality.score(&state, &p, &nodes[0]).unwrap(), 7);
        // b: 40 MB → 100·(40−23)/1977 = 0.
        assert_eq!(ImageLocality.score(&state, &p, &nodes[1]).unwrap(), 0);
        // One container with a 2 GB image on the only node: clamped to 1000 MB → 100.
        let big = json!([{"names": ["big:1"], "sizeBytes": 2000 * MB}]);
        let mut one = vec![node("c", json!({}), json!({"images": big}))];
        NodeInfo::count_images(&mut one);
        state.write(TOTAL_NODES, 1_usize);
        assert_eq!(
            ImageLocality
                .score(&state, &pod("q", json!({"containers": [{"name": "z", "image": "big:1"}]})), &one[0])
                .unwrap(),
            100
        );
    }
}
