//! `batch/v1`: jobs and cron jobs.

use serde_json::Value;

use super::duration::{age, human_duration, since};
use super::format::{bool_ptr, containers, format_label_selector};
use super::json::{
    at, condition_true, deleting, int_at, len_at, list_at, name, opt_bool, opt_int, opt_str, str_at, time_at,
};
use super::{AGE, CONTAINERS, Column, IMAGES, NAME, Printer, cells};

/// Whether the job's first condition of `type_` is `True`.
fn job_condition(job: &Value, type_: &str) -> bool {
    condition_true(list_at(job, &["status", "conditions"]), type_)
}

pub(crate) const JOB: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Status", "string", "Status of the job."),
        Column::new("Completions", "string", "Succeeded pods out of the completions wanted."),
        Column::new("Duration", "string", "Time the job ran, or has been running."),
        AGE,
        CONTAINERS,
        IMAGES,
        Column::new("Selector", "string", "Label selector of the pods.").wide(),
    ],
    row: |job, now| {
        let succeeded = int_at(job, &["status", "succeeded"]);
        let parallelism = opt_int(job, &["spec", "parallelism"]);
        // Both unset default to one completion with parallelism one.
        let completions = opt_int(job, &["spec", "completions"]).or(parallelism.is_none().then_some(1));
        let completions = match completions {
            Some(c) => format!("{succeeded}/{c}"),
            None if parallelism.unwrap_or(0) > 1 => format!("{succeeded}/1 of {}", parallelism.unwrap_or(0)),
            None => format!("{succeeded}/1"),
        };
        let duration = match (time_at(job, &["status", "startTime"]), time_at(job, &["status", "completionTime"])) {
            (None, _) => String::new(),
            (Some(start), None) => since(Some(start), now),
            (Some(start), Some(end)) => human_duration(end - start),
        };
        let status = if job_condition(job, "Complete") {
            "Complete"
        } else if job_condition(job, "Failed") {
            "Failed"
        } else if deleting(job) {
            "Terminating"
        } else if job_condition(job, "Suspended") {
            "Suspended"
        } else if job_condition(job, "FailureTarget") {
            "FailureTarget"
        } else {
            "Running"
        };
        let (names, images) = containers(list_at(job, &["spec", "template", "spec", "containers"]));
        cells![
            name(job),
            status,
            completions,
            duration,
            age(job, now),
            names,
            images,
            format_label_selector(at(job, &["spec", "selector"])),
        ]
        .into()
    },
};

pub(crate) const CRON_JOB: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Schedule", "string", "Cron schedule."),
        Column::new("Timezone", "string", "Time zone of the schedule."),
        Column::new("Suspend", "boolean", "Whether new runs are suspended."),
        Column::new("Active", "integer", "Number of running jobs."),
        Column::new("Last Schedule", "string", "Time since a job was last scheduled."),
        AGE,
        CONTAINERS,
        IMAGES,
        Column::new("Selector", "string", "Label selector of the job's pods.").wide(),
    ],
    row: |cj, now| {
        let last = match time_at(cj, &["status", "lastScheduleTime"]) {
            Some(t) => since(Some(t), now),
            None => "<none>".to_owned(),
        };
        let job_spec = at(cj, &["spec", "jobTemplate", "spec"]).unwrap_or(&Value::Null);
        let (names, images) = containers(list_at(job_spec, &["template", "spec", "containers"]));
        cells![
            name(cj),
            str_at(cj, &["spec", "schedule"]),
            opt_str(cj, &["spec", "timeZone"]).unwrap_or("<none>"),
            bool_ptr(opt_bool(cj, &["spec", "suspend"])),
            len_at(cj, &["status", "active"]) as i64,
            last,
            age(cj, now),
            names,
            images,
            format_label_selector(at(job_spec, &["selector"])),
        ]
        .into()
    },
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::json::parse_time;
    use chrono::{DateTime, Utc};
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        parse_time("2024-06-01T12:00:00Z").unwrap()
    }

    fn job(spec: Value, status: Value) -> Value {
        let mut spec = spec;
        spec["template"] =
            json!({"spec": {"containers": [{"name": "pi", "image": "perl:5.34"}], "restartPolicy": "Never"}});
        spec["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "5d2c"}});
        json!({"metadata": {"name": "pi", "creationTimestamp": "2024-06-01T11:50:00Z"}, "spec": spec, "status": status})
    }

    fn status_completions_duration(j: &Value) -> (String, String, String) {
        let c = (JOB.row)(j, now()).cells;
        (c[1].as_str().unwrap().into(), c[2].as_str().unwrap().into(), c[3].as_str().unwrap().into())
    }

    #[test]
    fn complete_job() {
        let j = job(
            json!({"completions": 1, "parallelism": 1}),
            json!({"succeeded": 1, "startTime": "2024-06-01T11:50:00Z", "completionTime": "2024-06-01T11:50:42Z",
                   "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}),
        );
        let cells = (JOB.row)(&j, now()).cells;
        assert_eq!(
            cells,
            vec![
                json!("pi"),
                json!("Complete"),
                json!("1/1"),
                json!("42s"),
                json!("10m"),
                json!("pi"),
                json!("perl:5.34"),
                json!("batch.kubernetes.io/controller-uid=5d2c")
            ]
        );
    }

    #[test]
    fn running_failed_suspended_terminating() {
        let running = job(
            json!({"completions": 5, "parallelism": 2}),
            json!({"succeeded": 2, "active": 2, "startTime": "2024-06-01T11:57:30Z"}),
        );
        assert_eq!(status_completions_duration(&running), ("Running".into(), "2/5".into(), "2m30s".into()));

        let failed = job(
            json!({"completions": 1}),
            json!({"failed": 7, "startTime": "2024-06-01T11:50:00Z",
                   "conditions": [{"type": "FailureTarget", "status": "True"}, {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}),
        );
        assert_eq!(status_completions_duration(&failed), ("Failed".into(), "0/1".into(), "10m".into()));

        let target =
            job(json!({"completions": 1}), json!({"conditions": [{"type": "FailureTarget", "status": "True"}]}));
        assert_eq!(status_completions_duration(&target).0, "FailureTarget");

        let suspended = job(
            json!({"completions": 3, "suspend": true}),
            json!({"conditions": [{"type": "Suspended", "status": "True"}]}),
        );
        assert_eq!(status_completions_duration(&suspended), ("Suspended".into(), "0/3".into(), String::new()));

        let mut deleting =
            job(json!({"completions": 3}), json!({"conditions": [{"type": "Suspended", "status": "True"}]}));
        deleting["metadata"]["deletionTimestamp"] = json!("2024-06-01T11:59:00Z");
        assert_eq!(status_completions_duration(&deleting).0, "Terminating");

        let resumed = job(json!({"completions": 3}), json!({"conditions": [{"type": "Suspended", "status": "False"}]}));
        assert_eq!(status_completions_duration(&resumed).0, "Running");
    }

    #[test]
    fn work_queue_completions() {
        let queue = job(json!({"parallelism": 4}), json!({"succeeded": 1}));
        assert_eq!(status_completions_duration(&queue).1, "1/1 of 4");
        let single = job(json!({"parallelism": 1}), json!({}));
        assert_eq!(status_completions_duration(&single).1, "0/1");
        let defaulted = job(json!({}), json!({}));
        assert_eq!(status_completions_duration(&defaulted).1, "0/1");
    }

    #[test]
    fn cron_job() {
        let cj = json!({
            "metadata": {"name": "backup", "creationTimestamp": "2024-05-01T00:00:00Z"},
            "spec": {"schedule": "0 3 * * *", "timeZone": "Europe/Paris", "suspend": false,
                     "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "backup", "image": "restic:0.16"}]}}}}},
            "status": {"active": [{"kind": "Job", "name": "backup-28620180"}], "lastScheduleTime": "2024-06-01T03:00:00Z"}
        });
        let cells = (CRON_JOB.row)(&cj, now()).cells;
        assert_eq!(
            cells,
            vec![
                json!("backup"),
                json!("0 3 * * *"),
                json!("Europe/Paris"),
                json!("False"),
                json!(1),
                json!("9h"),
                json!("31d"),
                json!("backup"),
                json!("restic:0.16"),
                json!("<none>")
            ]
        );
        let fresh = json!({"metadata": {"name": "x"}, "spec": {"schedule": "@hourly"}});
        let cells = (CRON_JOB.row)(&fresh, now()).cells;
        assert_eq!(cells[2..6], [json!("<none>"), json!("<unset>"), json!(0), json!("<none>")]);
    }
}
