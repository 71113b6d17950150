//! Status conditions (`metav1.Condition`), kept as Kubernetes keeps them:
//! one per type, and `lastTransitionTime` moves only when the status does.

use k_api_types::meta::{Condition, Time};

/// Sets `condition` in `conditions` (by type). Its `lastTransitionTime` is
/// `now` when the status changes (or the condition is new), and stays as it
/// was otherwise. Returns whether anything changed.
pub fn set_condition(conditions: &mut Vec<Condition>, mut condition: Condition, now: Time) -> bool {
    match conditions.iter_mut().find(|c| c.type_ == condition.type_) {
        Some(existing) => {
            condition.last_transition_time =
                if existing.status == condition.status { existing.last_transition_time } else { Some(now) };
            if *existing == condition {
                return false;
            }
            *existing = condition;
            true
        }
        None => {
            condition.last_transition_time = Some(now);
            conditions.push(condition);
            true
        }
    }
}

/// The condition of `type_`, if set.
pub fn find_condition<'c>(conditions: &'c [Condition], type_: &str) -> Option<&'c Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of `type_` is `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find_condition(conditions, type_).is_some_and(|c| c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(status: &str, reason: &str) -> Condition {
        Condition { type_: "Ready".into(), status: status.into(), reason: reason.into(), ..Default::default() }
    }

    #[test]
    fn transition_times_move_with_the_status_only() {
        let t1 = Time::from_unix(1_000).unwrap();
        let t2 = Time::from_unix(2_000).unwrap();
        let t3 = Time::from_unix(3_000).unwrap();
        let mut conditions = Vec::new();
        assert!(set_condition(&mut conditions, ready("False", "Starting"), t1));
        assert!(set_condition(&mut conditions, ready("False", "StillStarting"), t2), "the reason changed");
        assert_eq!(conditions[0].last_transition_time, Some(t1), "same status: the time stays");
        assert!(!set_condition(&mut conditions, ready("False", "StillStarting"), t3), "no change at all");
        assert!(set_condition(&mut conditions, ready("True", "Up"), t3));
        assert_eq!(conditions[0].last_transition_time, Some(t3));
        assert_eq!(conditions.len(), 1);
        assert!(is_true(&conditions, "Ready"));
        assert!(find_condition(&conditions, "Degraded").is_none());
    }
}
