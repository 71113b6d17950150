//! Matching shared by plugins: tolerations against taints, node selector
//! terms against nodes.

use k_api_types::core::v1::{Node, NodeSelectorRequirement, NodeSelectorTerm, Taint, Toleration};

/// Whether any of `tolerations` tolerates `taint`.
pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| t.tolerates(taint))
}

/// The first NoSchedule or NoExecute taint of `taints` that `tolerations`
/// do not tolerate (kube's `FindMatchingUntoleratedTaint` for the hard
/// effects).
pub fn untolerated_hard_taint<'a>(taints: &'a [Taint], tolerations: &[Toleration]) -> Option<&'a Taint> {
    taints.iter().filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute").find(|t| !tolerated(tolerations, t))
}

fn requirement_matches(requirement: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = &requirement.values;
    match requirement.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(actual), Some(bound)) =
                (value.and_then(|v| v.parse::<i64>().ok()), values.first().and_then(|v| v.parse::<i64>().ok()))
            else {
                return false;
            };
            if requirement.operator == "Gt" { actual > bound } else { actual < bound }
        }
        _ => false,
    }
}

/// Whether a node selector term matches a node: every expression on its
/// labels and every field (`metadata.name`) requirement. An empty term
/// matches nothing, as in Kubernetes.
pub fn term_matches(term: &NodeSelectorTerm, node: &Node) -> bool {
    if term.match_expressions.is_empty() && term.match_fields.is_empty() {
        return false;
    }
    term.match_expressions
        .iter()
        .all(|r| requirement_matches(r, node.metadata.labels.get(r.key.as_str()).map(String::as_str)))
        && term.match_fields.iter().all(|r| {
            let value = (r.key == "metadata.name").then_some(node.metadata.name.as_str());
            value.is_some() && requirement_matches(r, value)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn terms() {
        let node: Node =
            serde_json::from_value(json!({"metadata": {"name": "n1", "labels": {"zone": "a", "cores": "8"}}})).unwrap();
        let term = |v: serde_json::Value| -> NodeSelectorTerm { serde_json::from_value(v).unwrap() };
        assert!(term_matches(
            &term(json!({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]})),
            &node
        ));
        assert!(!term_matches(
            &term(json!({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]})),
            &node
        ));
        assert!(term_matches(&term(json!({"matchExpressions": [{"key": "gpu", "operator": "DoesNotExist"}]})), &node));
        assert!(term_matches(
            &term(json!({"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4"]}]})),
            &node
        ));
        assert!(!term_matches(
            &term(json!({"matchExpressions": [{"key": "cores", "operator": "Lt", "values": ["4"]}]})),
            &node
        ));
        assert!(term_matches(
            &term(json!({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]})),
            &node
        ));
        assert!(!term_matches(&term(json!({})), &node), "an empty term matches nothing");
    }
}
