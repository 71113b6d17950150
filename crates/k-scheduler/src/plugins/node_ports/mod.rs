//! NodePorts (PodFitsHostPorts): a pod's host ports must be free on the
//! node (same protocol and port on the same address, or on `0.0.0.0`,
//! collide).

use crate::framework::{CycleState, FilterPlugin, NodeInfo, Plugin, PodInfo, Status};

/// Its name.
pub const NAME: &str = "NodePorts";
/// The reason it gives.
pub const REASON: &str = "node(s) didn't have free ports for the requested pod ports";

/// The plugin; see the [module docs](self).
#[derive(Clone, Copy, Debug, Default)]
pub struct NodePorts;

impl Plugin for NodePorts {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl FilterPlugin for NodePorts {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let taken = pod.host_ports.iter().any(|wanted| node.used_ports.iter().any(|used| used.conflicts(wanted)));
        if taken { Status::unschedulable(REASON).from_plugin(NAME) } else { Status::success() }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plugins::testing::{node, pod, with_pods};

    fn ports(list: serde_json::Value) -> serde_json::Value {
        json!({"containers": [{"name": "c", "image": "busybox", "ports": list}]})
    }

    #[test]
    fn host_ports_collide_by_protocol_port_and_address() {
        let state = CycleState::new();
        let running = pod(
            "r",
            ports(
                json!([{"containerPort": 80, "hostPort": 8080}, {"containerPort": 53, "hostPort": 53, "protocol": "UDP", "hostIP": "10.0.0.1"}]),
            ),
        );
        let busy = with_pods(node("n", json!({}), json!({})), vec![running]);
        let cases = [
            (json!([{"containerPort": 80, "hostPort": 8080}]), false, "same port, every address"),
            (
                json!([{"containerPort": 80, "hostPort": 8080, "hostIP": "10.0.0.2"}]),
                false,
                "a specific address against every address",
            ),
            (json!([{"containerPort": 80, "hostPort": 8080, "protocol": "UDP"}]), true, "another protocol"),
            (
                json!([{"containerPort": 53, "hostPort": 53, "protocol": "UDP", "hostIP": "10.0.0.2"}]),
                true,
                "another address",
            ),
            (
                json!([{"containerPort": 53, "hostPort": 53, "protocol": "UDP"}]),
                false,
                "every address against a specific one",
            ),
            (json!([{"containerPort": 80}]), true, "no host port"),
        ];
        for (list, fits, what) in cases {
            let status = NodePorts.filter(&state, &pod("p", ports(list)), &busy);
            assert_eq!(status.is_success(), fits, "{what}");
        }
    }
}
