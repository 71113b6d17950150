//! CronJob: jobs created on a repeating schedule.

use super::cron::parse_standard;
use super::job::{JobSpec, validate_job_spec};
use crate::apps::v1::common::validate_nonnegative;
use crate::core::v1::ObjectReference;
use crate::defaults::{default_str, default_to};
use crate::meta::{ObjectMeta, Time};
use crate::validation::{
    ErrorList, FieldError, NameRule, Path, Validate, validate_object_meta, validate_object_meta_update,
};
use crate::{ApplyDefaults, wire};

/// Longest CronJob name: job names get an 11-character `-<timestamp>` suffix
/// and must stay within 63 characters.
const MAX_CRON_JOB_NAME_LENGTH: usize = 52;

/// A job run on a schedule (batch/v1 CronJob).
#[wire]
pub struct CronJob {
    /// APIVersion of the object (`batch/v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`CronJob`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[wire(omitempty)]
    pub spec: CronJobSpec,
    /// Observed state.
    pub status: Option<CronJobStatus>,
}

crate::impl_resource!(CronJob {
    group: "batch",
    version: "v1",
    kind: "CronJob",
    plural: "cronjobs",
    singular: "cronjob",
    short_names: ["cj"],
    categories: ["all"],
    namespaced: true,
    verbs: crate::resource::ALL_VERBS,
    subresources: ["status"],
    selectable_fields: [],
});

/// A list of cron jobs.
pub type CronJobList = crate::meta::ObjectList<CronJob>;

/// The desired state of a cron job.
#[wire]
pub struct CronJobSpec {
    /// The schedule in cron format, such as `*/5 * * * *` or `@hourly`.
    pub schedule: String,
    /// IANA time zone of the schedule, such as `Europe/Paris` (default: the controller's).
    pub time_zone: Option<String>,
    /// Seconds after a missed scheduled time during which the job may still start.
    pub starting_deadline_seconds: Option<i64>,
    /// `Allow` (default), `Forbid` or `Replace` concurrent runs.
    pub concurrency_policy: Option<String>,
    /// Whether subsequent runs are suspended (default false).
    pub suspend: Option<bool>,
    /// The job to create at each scheduled time.
    pub job_template: JobTemplateSpec,
    /// Successful finished jobs kept (default 3).
    pub successful_jobs_history_limit: Option<i32>,
    /// Failed finished jobs kept (default 1).
    pub failed_jobs_history_limit: Option<i32>,
}

/// A job template: metadata and spec of the jobs a CronJob creates.
#[wire]
pub struct JobTemplateSpec {
    /// Metadata of the created jobs.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// Spec of the created jobs.
    #[wire(omitempty)]
    pub spec: JobSpec,
}

/// The observed state of a cron job.
#[wire]
pub struct CronJobStatus {
    /// The jobs currently running.
    pub active: Vec<ObjectReference>,
    /// When a job was last scheduled.
    pub last_schedule_time: Option<Time>,
    /// When a job last completed successfully.
    pub last_successful_time: Option<Time>,
}

impl ApplyDefaults for CronJob {
    /// Kubernetes' `SetDefaults_CronJob` plus the pod template defaults; the
    /// job template's spec gets no Job defaults (the created Job does).
    fn apply_defaults(&mut self) {
        let spec = &mut self.spec;
        default_str(&mut spec.concurrency_policy, "Allow");
        default_to(&mut spec.suspend, false);
        default_to(&mut spec.successful_jobs_history_limit, 3);
        default_to(&mut spec.failed_jobs_history_limit, 1);
        spec.job_template.spec.template.apply_defaults();
    }
}

impl Validate for CronJob {
    fn validate(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta(&self.metadata, true, NameRule::Subdomain, &mut errors);
        validate_cron_job_spec(&self.spec, None, &Path::new("spec"), &mut errors);
        if self.metadata.name.len() > MAX_CRON_JOB_NAME_LENGTH {
            errors.push(FieldError::invalid(
                &Path::new("metadata").child("name"),
                &self.metadata.name,
                format!("must be no more than {MAX_CRON_JOB_NAME_LENGTH} characters"),
            ));
        }
        errors
    }

    /// The 52-character name limit is not applied, so older cron jobs stay updatable.
    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Subdomain, &mut errors);
        validate_cron_job_spec(&self.spec, Some(&old.spec), &Path::new("spec"), &mut errors);
        errors
    }
}

fn validate_cron_job_spec(spec: &CronJobSpec, old: Option<&CronJobSpec>, path: &Path, errors: &mut ErrorList) {
    let schedule_path = path.child("schedule");
    if spec.schedule.is_empty() {
        errors.push(FieldError::required(&schedule_path, ""));
    } else {
        if let Err(msg) = parse_standard(&spec.schedule) {
            errors.push(FieldError::invalid(&schedule_path, &spec.schedule, msg));
        }
        // Time zones in the schedule are only tolerated on objects that already had one.
        let allow_tz = old.is_some_and(|o| o.schedule.contains("TZ"));
        if spec.schedule.contains("TZ") {
            if !allow_tz {
                errors.push(FieldError::invalid(
                    &schedule_path,
                    &spec.schedule,
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                ));
            } else if spec.time_zone.is_some() {
                errors.push(FieldError::invalid(
                    &schedule_path,
                    &spec.schedule,
                    "cannot use both timeZone field and TZ or CRON_TZ in schedule",
                ));
            }
        }
    }
    if let Some(deadline) = spec.starting_deadline_seconds {
        validate_nonnegative(deadline, &path.child("startingDeadlineSeconds"), errors);
    }
    if old.is_none_or(|o| o.time_zone != spec.time_zone) {
        validate_time_zone(spec.time_zone.as_deref(), &path.child("timeZone"), errors);
    }
    let policy_path = path.child("concurrencyPolicy");
    match spec.concurrency_policy.as_deref().unwrap_or_default() {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errors.push(FieldError::required(&policy_path, "")),
        other => errors.push(FieldError::not_supported(&policy_path, other, &["Allow", "Forbid", "Replace"])),
    }
    let template_path = path.child("jobTemplate");
    let job_spec = &spec.job_template.spec;
    validate_job_spec(job_spec, &template_path.child("spec"), errors);
    if let Some(selector) = &job_spec.selector {
        errors.push(FieldError::invalid(
            &template_path.child("spec").child("selector"),
            selector,
            "`selector` will be auto-generated",
        ));
    }
    if job_spec.manual_selector == Some(true) {
        errors.push(FieldError::not_supported(
            &template_path.child("spec").child("manualSelector"),
            true,
            &["nil", "false"],
        ));
    }
    for (name, limit) in [
        ("successfulJobsHistoryLimit", spec.successful_jobs_history_limit),
        ("failedJobsHistoryLimit", spec.failed_jobs_history_limit),
    ] {
        if let Some(limit) = limit {
            validate_nonnegative(i64::from(limit), &path.child(name), errors);
        }
    }
}

/// A time zone must be a non-empty IANA name such as `America/New_York`
/// (not `Local`). Whether the zone exists is not checked here: that needs the
/// time zone database the API server loads.
fn validate_time_zone(time_zone: Option<&str>, path: &Path, errors: &mut ErrorList) {
    let Some(tz) = time_zone else { return };
    if tz.is_empty() {
        errors.push(FieldError::invalid(path, tz, "timeZone must be nil or non-empty string"));
        return;
    }
    let valid_part = |part: &str| {
        part != "."
            && part != ".."
            && !part.starts_with('-')
            && (1..=14).contains(&part.len())
            && part.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b))
    };
    if !tz.split('/').all(valid_part) {
        errors.push(FieldError::invalid(path, tz, format!("unknown time zone {tz}")));
        return;
    }
    if tz.eq_ignore_ascii_case("local") {
        errors.push(FieldError::invalid(
            path,
            tz,
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        ));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Resource;
    use crate::apps::v1::common::test_support::{causes, template};
    use crate::meta::LabelSelector;

    fn valid() -> CronJob {
        let mut c = CronJob::named("backup");
        c.metadata.namespace = "default".into();
        c.spec.schedule = "0 3 * * *".into();
        c.spec.job_template.spec.template = template("OnFailure");
        c.apply_defaults();
        c
    }

    #[test]
    fn round_trip() {
        let wire = json!({
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "backup", "namespace": "prod"},
            "spec": {
                "schedule": "0 3 * * *",
                "timeZone": "Europe/Paris",
                "startingDeadlineSeconds": 200,
                "concurrencyPolicy": "Forbid",
                "suspend": true,
                "jobTemplate": {
                    "metadata": {"labels": {"team": "ops"}},
                    "spec": {"backoffLimit": 2, "template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "b", "image": "backup:1"}]}}}
                },
                "successfulJobsHistoryLimit": 5,
                "failedJobsHistoryLimit": 2
            },
            "status": {
                "active": [{"kind": "Job", "namespace": "prod", "name": "backup-28500000", "uid": "u9", "apiVersion": "batch/v1", "resourceVersion": "77"}],
                "lastScheduleTime": "2024-06-01T03:00:00Z",
                "lastSuccessfulTime": "2024-05-31T03:01:10Z"
            }
        });
        let c: CronJob = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(serde_json::to_value(&c).unwrap(), wire);
        assert_eq!(CronJob::INFO.short_names, ["cj"]);
        assert_eq!(CronJob::INFO.subresources, ["status"]);
    }

    #[test]
    fn defaults() {
        let mut c = CronJob::default();
        c.apply_defaults();
        assert_eq!(c.spec.concurrency_policy.as_deref(), Some("Allow"));
        assert_eq!(c.spec.suspend, Some(false));
        assert_eq!(c.spec.successful_jobs_history_limit, Some(3));
        assert_eq!(c.spec.failed_jobs_history_limit, Some(1));
        // No Job defaults in the template.
        let js = &c.spec.job_template.spec;
        assert_eq!(
            (js.parallelism, js.completions, js.backoff_limit, js.completion_mode.as_deref()),
            (None, None, None, None)
        );
        let mut c = CronJob::default();
        c.spec.concurrency_policy = Some("Replace".into());
        c.spec.successful_jobs_history_limit = Some(0);
        c.apply_defaults();
        assert_eq!(
            (c.spec.concurrency_policy.as_deref(), c.spec.successful_jobs_history_limit),
            (Some("Replace"), Some(0))
        );
    }

    #[test]
    fn validation() {
        assert_eq!(causes(&valid().validate()), []);
        type Mutation = fn(&mut CronJob);
        let cases: Vec<(Mutation, Vec<(&str, &str)>)> = vec![
            (|c| c.spec.schedule.clear(), vec![("spec.schedule", "FieldValueRequired")]),
            (|c| c.spec.schedule = "61 * * * *".into(), vec![("spec.schedule", "FieldValueInvalid")]),
            (|c| c.spec.schedule = "* * *".into(), vec![("spec.schedule", "FieldValueInvalid")]),
            (|c| c.spec.schedule = "TZ=UTC 0 0 * * *".into(), vec![("spec.schedule", "FieldValueInvalid")]),
            (|c| c.spec.time_zone = Some(String::new()), vec![("spec.timeZone", "FieldValueInvalid")]),
            (|c| c.spec.time_zone = Some("Local".into()), vec![("spec.timeZone", "FieldValueInvalid")]),
            (|c| c.spec.time_zone = Some("America/New_York".into()), vec![]),
            (
                |c| c.spec.concurrency_policy = Some("Sometimes".into()),
                vec![("spec.concurrencyPolicy", "FieldValueNotSupported")],
            ),
            (
                |c| c.spec.failed_jobs_history_limit = Some(-1),
                vec![("spec.failedJobsHistoryLimit", "FieldValueInvalid")],
            ),
            (
                |c| c.spec.starting_deadline_seconds = Some(-10),
                vec![("spec.startingDeadlineSeconds", "FieldValueInvalid")],
            ),
            (
                |c| c.spec.job_template.spec.template = template("Always"),
                vec![("spec.jobTemplate.spec.template.spec.restartPolicy", "FieldValueRequired")],
            ),
            (
                |c| c.spec.job_template.spec.selector = Some(LabelSelector::from_labels([("app", "web")])),
                vec![("spec.jobTemplate.spec.selector", "FieldValueInvalid")],
            ),
            (|c| c.metadata.name = "b".repeat(53), vec![("metadata.name", "FieldValueInvalid")]),
        ];
        for (i, (mutate, want)) in cases.into_iter().enumerate() {
            let mut c = valid();
            mutate(&mut c);
            let want: Vec<_> = want.into_iter().map(|(f, c)| (f.to_owned(), c)).collect();
            assert_eq!(causes(&c.validate()), want, "case {i}");
        }
        let mut c = valid();
        c.spec.schedule = "0 0 * 13 *".into();
        assert_eq!(
            c.validate()[0].to_string(),
            "spec.schedule: Invalid value: \"0 0 * 13 *\": end of range (13) above maximum (12): 13"
        );
    }

    #[test]
    fn update() {
        let mut old = valid();
        old.metadata.name = "n".repeat(60);
        let mut new = old.clone();
        new.spec.schedule = "@daily".into();
        assert_eq!(causes(&new.validate_update(&old)), []);
        // A schedule with TZ is tolerated only if the old one had it too.
        old.spec.schedule = "CRON_TZ=UTC 0 0 * * *".into();
        let mut new = old.clone();
        new.spec.schedule = "CRON_TZ=UTC 0 1 * * *".into();
        assert_eq!(causes(&new.validate_update(&old)), []);
        new.spec.time_zone = Some("UTC".into());
        assert_eq!(causes(&new.validate_update(&old)), [("spec.schedule".to_owned(), "FieldValueInvalid")]);
    }
}
