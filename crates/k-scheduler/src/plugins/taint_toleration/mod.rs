//! TaintToleration: a node's `NoSchedule` and `NoExecute` taints keep off
//! pods that do not tolerate them (filter); each `PreferNoSchedule` taint a
//! pod does not tolerate counts against the node, reverse-normalized so the
//! node with the most scores 0 and one with none 100 (score).

use crate::framework::{
    CycleState, FilterPlugin, MAX_NODE_SCORE, NodeInfo, NodeScore, Plugin, PodInfo, ScorePlugin, Status,
    default_normalize_score,
};
use crate::plugins::helper::untolerated_hard_taint;

/// Its name.
pub const NAME: &str = "TaintToleration";

/// The plugin; see the [module docs](self).
#[derive(Clone, Copy, Debug, Default)]
pub struct TaintToleration;

impl Plugin for TaintToleration {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl FilterPlugin for TaintToleration {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        match untolerated_hard_taint(&node.node.spec.taints, &pod.pod.spec.tolerations) {
            None => Status::success(),
            Some(taint) => Status::unresolvable(format!(
                "node(s) had untolerated taint {{{}: {}}}",
                taint.key,
                taint.value.as_deref().unwrap_or_default()
            ))
            .from_plugin(NAME),
        }
    }
}

impl ScorePlugin for TaintToleration {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let soft = |t: &&k_api_types::core::v1::Toleration| {
            t.effect.as_deref().is_none_or(|e| e.is_empty() || e == "PreferNoSchedule")
        };
        Ok(node
            .node
            .spec
            .taints
            .iter()
            .filter(|t| {
                t.effect == "PreferNoSchedule"
                    && !pod.pod.spec.tolerations.iter().filter(soft).any(|tol| tol.tolerates(t))
            })
            .count() as i64)
    }

    fn normalize(&self, _: &CycleState, _: &PodInfo, scores: &mut [NodeScore]) -> Status {
        default_normalize_score(MAX_NODE_SCORE, true, scores);
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plugins::testing::{node, pod};

    fn tainted(name: &str, taints: serde_json::Value) -> NodeInfo {
        node(name, json!({}), json!({"spec": {"taints": taints}}))
    }

    #[test]
    fn hard_taints_filter() {
        let state = CycleState::new();
        let cache = tainted("n", json!([{"key": "dedicated", "value": "cache", "effect": "NoSchedule"}]));
        let status = TaintToleration.filter(&state, &pod("p", json!({})), &cache);
        assert_eq!(status.reasons(), ["node(s) had untolerated taint {dedicated: cache}"]);
        let tolerant =
            pod("t", json!({"tolerations": [{"key": "dedicated", "value": "cache", "effect": "NoSchedule"}]}));
        assert!(TaintToleration.filter(&state, &tolerant, &cache).is_success());
        let soft = tainted("s", json!([{"key": "x", "effect": "PreferNoSchedule"}]));
        assert!(
            TaintToleration.filter(&state, &pod("p", json!({})), &soft).is_success(),
            "PreferNoSchedule does not filter"
        );
    }

    #[test]
    fn soft_taints_score_reverse_normalized() {
        let state = CycleState::new();
        let p = pod(
            "p",
            json!({"tolerations": [
                {"key": "a", "operator": "Exists", "effect": "PreferNoSchedule"},
                {"key": "b", "operator": "Exists", "effect": "NoSchedule"}
            ]}),
        );
        let nodes = [
            tainted("none", json!([])),
            tainted("tolerated", json!([{"key": "a", "effect": "PreferNoSchedule"}])),
            tainted("one", json!([{"key": "b", "effect": "PreferNoSchedule"}])),
            tainted(
                "two",
                json!([{"key": "b", "effect": "PreferNoSchedule"}, {"key": "c", "effect": "PreferNoSchedule"}]),
            ),
        ];
        let mut scores: Vec<NodeScore> = nodes
            .iter()
            .map(|n| NodeScore { name: n.shared_name(), score: TaintToleration.score(&state, &p, n).unwrap() })
            .collect();
        assert_eq!(
            scores.iter().map(|s| s.score).collect::<Vec<_>>(),
            [0, 0, 1, 2],
            "a NoSchedule toleration does not count"
        );
        TaintToleration.normalize(&state, &p, &mut scores);
        assert_eq!(scores.iter().map(|s| s.score).collect::<Vec<_>>(), [100, 100, 50, 0]);
    }
}
