//! PrioritySort: the queue serves higher `spec.priority` first, and pods of
//! the same priority in the order they were queued.

use crate::framework::{Plugin, QueueSortPlugin, QueuedPodInfo};

/// The plugin; see the [module docs](self).
#[derive(Clone, Copy, Debug, Default)]
pub struct PrioritySort;

/// Its name.
pub const NAME: &str = "PrioritySort";

impl Plugin for PrioritySort {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl QueueSortPlugin for PrioritySort {
    fn less(&self, a: &QueuedPodInfo, b: &QueuedPodInfo) -> bool {
        let (pa, pb) = (a.pod.pod.spec.priority.unwrap_or(0), b.pod.pod.spec.priority.unwrap_or(0));
        pa > pb || (pa == pb && a.timestamp < b.timestamp)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::plugins::testing::pod;

    fn queued(priority: i32, seconds: u64) -> QueuedPodInfo {
        let timestamp = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        QueuedPodInfo {
            pod: Arc::new(pod("p", json!({"priority": priority}))),
            initial_attempt_timestamp: timestamp,
            timestamp,
            attempts: 0,
        }
    }

    #[test]
    fn priority_then_age() {
        let sort = PrioritySort;
        assert!(sort.less(&queued(10, 2), &queued(5, 1)), "higher priority first");
        assert!(sort.less(&queued(5, 1), &queued(5, 2)), "then older first");
        assert!(!sort.less(&queued(5, 2), &queued(5, 1)));
    }
}
