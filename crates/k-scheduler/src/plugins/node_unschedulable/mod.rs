//! NodeUnschedulable: no new pods on a cordoned node (`spec.unschedulable`)
//! unless the pod tolerates the `node.kubernetes.io/unschedulable` taint.

use k_api_types::core::v1::Taint;

use crate::framework::{CycleState, FilterPlugin, NodeInfo, Plugin, PodInfo, Status};
use crate::plugins::helper::tolerated;

/// Its name.
pub const NAME: &str = "NodeUnschedulable";
/// The reason it gives.
pub const REASON: &str = "node(s) were unschedulable";

/// The plugin; see the [module docs](self).
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeUnschedulable;

impl Plugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl FilterPlugin for NodeUnschedulable {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if node.node.spec.unschedulable != Some(true) {
            return Status::success();
        }
        let taint =
            Taint { key: "node.kubernetes.io/unschedulable".into(), effect: "NoSchedule".into(), ..Taint::default() };
        if tolerated(&pod.pod.spec.tolerations, &taint) {
            return Status::success();
        }
        Status::unresolvable(REASON).from_plugin(NAME)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plugins::testing::{node, pod};

    #[test]
    fn cordoned_nodes_take_only_tolerant_pods() {
        let state = CycleState::new();
        let cordoned = node("n", json!({}), json!({"spec": {"unschedulable": true}}));
        let plain = pod("p", json!({}));
        assert_eq!(NodeUnschedulable.filter(&state, &plain, &cordoned).reasons(), [REASON]);
        let tolerant = pod(
            "t",
            json!({"tolerations": [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]}),
        );
        assert!(NodeUnschedulable.filter(&state, &tolerant, &cordoned).is_success());
        assert!(NodeUnschedulable.filter(&state, &plain, &node("m", json!({}), json!({}))).is_success());
    }
}
