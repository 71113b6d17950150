//! SchedulingGates: a pod with `spec.schedulingGates` is not scheduled
//! until every gate is removed (it stays out of the active queue).

use crate::framework::{PodInfo, Status};

/// Its name.
pub const NAME: &str = "SchedulingGates";

/// The plugin; see the [module docs](self).
#[derive(Clone, Copy, Debug, Default)]
pub struct SchedulingGates;

impl crate::framework::Plugin for SchedulingGates {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl crate::framework::PreEnqueuePlugin for SchedulingGates {
    /// Success, or UnschedulableAndUnresolvable naming the gates.
    fn pre_enqueue(&self, pod: &PodInfo) -> Status {
        let gates: Vec<&str> = pod.pod.spec.scheduling_gates.iter().map(|g| g.name.as_str()).collect();
        if gates.is_empty() {
            return Status::success();
        }
        Status::unresolvable(format!("waiting for scheduling gates: [{}]", gates.join(" "))).from_plugin(NAME)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::framework::{Code, PreEnqueuePlugin};
    use crate::plugins::testing::pod;

    #[test]
    fn gated_pods_wait() {
        assert!(SchedulingGates.pre_enqueue(&pod("p", json!({}))).is_success());
        let gated = SchedulingGates.pre_enqueue(&pod("p", json!({"schedulingGates": [{"name": "a"}, {"name": "b"}]})));
        assert_eq!(gated.code(), Code::UnschedulableAndUnresolvable);
        assert_eq!(gated.reasons(), ["waiting for scheduling gates: [a b]"]);
    }
}
