//! The CronJob controller (batch/v1): create Jobs on a repeating schedule.
//!
//! **Schedules** are the standard five cron fields (minute, hour, day of
//! month, month, day of week, with names such as `JAN` and `MON`, ranges,
//! lists, steps and `N/step`), the descriptors `@yearly`, `@annually`,
//! `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`, and
//! `@every <duration>` (Go syntax, whole seconds, at least one), evaluated
//! with the croner crate in `spec.timeZone` (IANA names from chrono-tz;
//! UTC when unset, as a kube-controller-manager running in UTC). An unknown
//! time zone records `UnknownTimeZone` and runs nothing until the CronJob
//! changes. A `TZ=<zone>` or `CRON_TZ=<zone>` prefix in the schedule is
//! honoured as Kubernetes does (the API server admits it only on old
//! objects), with the warning event `UnsupportedSchedule`; it wins over
//! `spec.timeZone`. A schedule that does not parse records
//! `UnparseableSchedule`; one that never fires records `InvalidSchedule`.
//!
//! Each reconcile of a CronJob (Kubernetes' `syncCronJob`):
//!
//! 1. Looks at the Jobs it controls: an unfinished one missing from
//!    `status.active` records `UnexpectedJob` (after a fresh read of the
//!    CronJob, whose cached status may be behind); a finished one still in
//!    the list is removed (`SawCompletedJob`); the latest `completionTime`
//!    of a succeeded one is `status.lastSuccessfulTime`. Active references
//!    whose Job is gone (confirmed by a fresh read) are removed
//!    (`MissingJob`).
//! 2. Unless the CronJob is being deleted or `spec.suspend` is set, finds
//!    the most recent scheduled time not yet run, since `lastScheduleTime`
//!    (or the creation time) and no earlier than `startingDeadlineSeconds`
//!    ago: only that one runs, however many were missed; more than 100
//!    missed times record `TooManyMissedTimes`. A time older than the
//!    starting deadline is skipped (`MissSchedule`). A time already run
//!    (its Job in `status.active`, or equal to `lastScheduleTime`) is not
//!    run again.
//! 3. Applies `concurrencyPolicy`: `Allow` runs alongside active Jobs,
//!    `Forbid` skips the run while any is active (`JobAlreadyActive`),
//!    `Replace` deletes the active Jobs first (`SuccessfulDelete`).
//! 4. Creates the Job `<cronjob>-<scheduled time in minutes since the
//!    epoch>` from `jobTemplate` (its labels and annotations plus
//!    `batch.kubernetes.io/cronjob-scheduled-timestamp`, RFC 3339 in the
//!    schedule's time zone), controlled by the CronJob
//!    (`SuccessfulCreate`; `FailedCreate` on error). A Job of that name
//!    that already exists is taken as created if the CronJob controls it.
//!    It joins `status.active` and `status.lastScheduleTime` becomes the
//!    scheduled time.
//! 5. Deletes the oldest finished Jobs (by `status.startTime`) beyond
//!    `successfulJobsHistoryLimit` (default 3) and `failedJobsHistoryLimit`
//!    (default 1), propagation `Background`.
//! 6. Writes the status when it changed, and requeues itself for 100 ms
//!    after the next scheduled time, read from the injected clock.
//!
//! Not covered: croner accepts a few extensions robfig/cron rejects (`L`,
//! `W`, `#`, weekday `7`); the API server's validation refuses them before
//! they reach the controller. The job-creation-skew metric is not kept.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use k_api_types::batch::v1::{CronJob, CronJobStatus, Job};
use k_api_types::core::v1::ObjectReference;
use k_api_types::meta::{DeleteOptions, ObjectMeta, Time};
use k_runtime::clock::{Clock, SystemClock};
use k_runtime::controller::{Action, Context, Controller, Reconciler};
use k_runtime::events::{EventType, Recorder, reference_to};
use k_runtime::informer::InformerFactory;
use k_runtime::manager::Manager;
use k_runtime::owner::owner_reference;
use k_runtime::reflector::{Store, key_of};
use k_store::{Api, ObjectApi, StoreError};

/// The annotation with a Job's scheduled time (RFC 3339, in the schedule's
/// time zone).
pub const ANNOTATION_SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// More missed times than this record `TooManyMissedTimes`.
pub const MAX_MISSED_REPORTED: i64 = 100;
/// How long after a scheduled time the CronJob is requeued.
pub const NEXT_SCHEDULE_DELTA: Duration = Duration::from_millis(100);

/// Why a reconcile failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A read or write of the object API failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An active Job could not be deleted for `Replace`.
    #[error("could not replace job {0}")]
    Replace(String),
}

// ---------------------------------------------------------------------------
// Schedules
// ---------------------------------------------------------------------------

/// What a schedule fires on.
#[derive(Clone, Debug)]
enum Kind {
    /// Cron fields.
    Cron(Box<Cron>),
    /// `@every`: a constant delay (whole seconds).
    Every(Duration),
}

/// A parsed CronJob schedule in its time zone.
#[derive(Clone, Debug)]
pub struct Schedule {
    kind: Kind,
    zone: Tz,
}

/// Parses Go's `time.ParseDuration` syntax (`1h30m`, `1.5s`, `500ms`).
fn parse_go_duration(text: &str) -> Option<Duration> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Some(Duration::ZERO);
    }
    if rest.is_empty() || negative {
        // A negative delay never fires; treat it as invalid.
        return None;
    }
    let mut total = 0f64;
    let mut rest = rest;
    while !rest.is_empty() {
        let len = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let number: f64 = rest[..len].parse().ok()?;
        rest = &rest[len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    Duration::try_from_secs_f64(total).ok()
}

impl Schedule {
    /// Parses `schedule` in `time_zone` (UTC when `None`). A `TZ=` or
    /// `CRON_TZ=` prefix in the schedule sets the zone instead.
    ///
    /// # Errors
    /// A message naming what is wrong (unknown zone, bad fields).
    pub fn parse(schedule: &str, time_zone: Option<&str>) -> Result<Schedule, String> {
        let mut spec = schedule.trim();
        let mut zone_name = time_zone;
        if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            let (prefix, rest) = spec.split_once(char::is_whitespace).unwrap_or((spec, ""));
            zone_name = prefix.split_once('=').map(|(_, name)| name);
            spec = rest.trim();
        }
        let zone = match zone_name {
            None | Some("") => Tz::UTC,
            Some(name) => {
                Tz::from_str(name).map_err(|_| format!("provided bad location {name}: unknown time zone {name}"))?
            }
        };
        if spec.is_empty() {
            return Err("empty spec string".to_owned());
        }
        if let Some(duration) = spec.strip_prefix("@every ") {
            let delay = parse_go_duration(duration.trim())
                .ok_or_else(|| format!("failed to parse duration {spec}: time: invalid duration {duration:?}"))?;
            // robfig/cron: at least a second, whole seconds.
            let delay = Duration::from_secs(delay.as_secs().max(1));
            return Ok(Schedule { kind: Kind::Every(delay), zone });
        }
        let pattern = match spec.to_ascii_lowercase().as_str() {
            // croner knows the others; `@midnight` is `@daily`.
            "@midnight" => "0 0 * * *".to_owned(),
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@hourly" => spec.to_owned(),
            other if other.starts_with('@') => return Err(format!("unrecognized descriptor: {spec}")),
            _ => {
                let fields = spec.split_whitespace().count();
                if fields != 5 {
                    return Err(format!("expected exactly 5 fields, found {fields}: [{spec}]"));
                }
                spec.to_owned()
            }
        };
        let parser =
            CronParser::builder().seconds(Seconds::Disallowed).year(Year::Disallowed).sloppy_ranges(true).build();
        let cron = parser.parse(&pattern).map_err(|e| e.to_string())?;
        Ok(Schedule { kind: Kind::Cron(Box::new(cron)), zone })
    }

    /// The time zone the schedule is read in.
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// The first scheduled time strictly after `after` (`None` when there
    /// is none, as for February 31st).
    pub fn next(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.kind {
            Kind::Every(delay) => {
                // robfig/cron's ConstantDelaySchedule: whole seconds.
                let base = after.with_nanosecond(0).unwrap_or(after);
                Some(base + chrono::Duration::from_std(*delay).ok()?)
            }
            Kind::Cron(cron) => {
                let start = after.with_nanosecond(0).unwrap_or(after) + chrono::Duration::seconds(1);
                let local = start.with_timezone(&self.zone);
                cron.find_next_occurrence(&local, true).ok().map(|t| t.with_timezone(&Utc))
            }
        }
    }
}

/// How many scheduled times were missed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Missed {
    None,
    Few,
    Many,
}

/// The earliest time considered, the most recent scheduled time after it
/// (if any), and how many were missed.
type Recent = (DateTime<Utc>, Option<DateTime<Utc>>, Missed);

/// Kubernetes' `mostRecentScheduleTime`: the earliest time considered, the
/// most recent scheduled time in `(earliest, now]` if any, and how many
/// were missed.
fn most_recent_schedule_time(
    cj: &CronJob,
    now: DateTime<Utc>,
    schedule: &Schedule,
    include_deadline: bool,
) -> Result<Recent, String> {
    let status = cj.status.as_ref();
    let mut earliest =
        status.and_then(|s| s.last_schedule_time).or(cj.metadata.creation_timestamp).map_or(now, |t| t.0);
    if include_deadline && let Some(deadline) = cj.spec.starting_deadline_seconds {
        let limit = now - chrono::Duration::seconds(deadline);
        if limit > earliest {
            earliest = limit;
        }
    }
    let never = || "no schedule time after the earliest time".to_owned();
    let t1 = schedule.next(earliest).ok_or_else(never)?;
    if now < t1 {
        return Ok((earliest, None, Missed::None));
    }
    let t2 = schedule.next(t1).ok_or_else(never)?;
    if now < t2 {
        return Ok((earliest, Some(t1), Missed::None));
    }
    let between = (t2 - t1).num_seconds();
    if between < 1 {
        return Err("time difference between two schedules is less than 1 second".to_owned());
    }
    let elapsed = (now - t1).num_seconds();
    let missed = elapsed / between + 1;
    // Jump close to `now` (one interval early, so irregular schedules are
    // walked exactly), then walk.
    let potential = t1 + chrono::Duration::seconds((missed - 2).max(0) * between);
    let mut most_recent = None;
    let mut t = schedule.next(potential);
    while let Some(at) = t.filter(|at| *at <= now) {
        most_recent = Some(at);
        t = schedule.next(at);
    }
    let kind = match missed {
        m if m > MAX_MISSED_REPORTED => Missed::Many,
        m if m > 1 => Missed::Few,
        _ => Missed::None,
    };
    Ok((earliest, most_recent, kind))
}

/// How long until 100 ms after the next scheduled time (Kubernetes'
/// `nextScheduleTimeDuration`).
fn next_schedule_duration(cj: &CronJob, now: DateTime<Utc>, schedule: &Schedule) -> Option<Duration> {
    let from = match most_recent_schedule_time(cj, now, schedule, false) {
        Err(_) => now,
        Ok((_, Some(recent), _)) => recent,
        Ok((earliest, None, Missed::None)) => earliest,
        Ok((_, None, _)) => now,
    };
    let next = schedule.next(from)?;
    Some((next - now).to_std().unwrap_or_default() + NEXT_SCHEDULE_DELTA)
}

/// The name of the Job for `scheduled`.
pub fn job_name(cron_job: &str, scheduled: DateTime<Utc>) -> String {
    format!("{cron_job}-{}", scheduled.timestamp().div_euclid(60))
}

fn job_condition(job: &Job, type_: &str) -> bool {
    job.status.as_ref().is_some_and(|s| s.conditions.iter().any(|c| c.type_ == type_ && c.status == "True"))
}

fn finished_condition(job: &Job) -> Option<&'static str> {
    ["Complete", "Failed"].into_iter().find(|t| job_condition(job, t))
}

fn in_active(status: &CronJobStatus, uid: &str) -> bool {
    status.active.iter().any(|r| r.uid == uid)
}

fn reference(job: &Job) -> ObjectReference {
    ObjectReference {
        kind: "Job".to_owned(),
        namespace: job.metadata.namespace.clone(),
        name: job.metadata.name.clone(),
        uid: job.metadata.uid.clone(),
        api_version: "batch/v1".to_owned(),
        resource_version: job.metadata.resource_version.clone(),
        ..Default::default()
    }
}

/// The Job of `cj` for `scheduled`.
fn job_from_template(cj: &CronJob, scheduled: DateTime<Utc>, zone: Tz) -> Job {
    let template = &cj.spec.job_template;
    let mut annotations = template.metadata.annotations.clone();
    let local = zone.from_utc_datetime(&scheduled.naive_utc());
    annotations.insert(ANNOTATION_SCHEDULED_TIMESTAMP.to_owned(), local.to_rfc3339_opts(SecondsFormat::Secs, true));
    Job {
        metadata: ObjectMeta {
            name: job_name(&cj.metadata.name, scheduled),
            namespace: cj.metadata.namespace.clone(),
            labels: template.metadata.labels.clone(),
            annotations,
            owner_references: vec![owner_reference(cj, true)],
            ..Default::default()
        },
        spec: template.spec.clone(),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------
// The reconciler
// ---------------------------------------------------------------------------

/// The CronJob controller's reconciler (see the [module documentation](self)).
pub struct CronJobReconciler {
    informers: Arc<InformerFactory>,
    clock: Arc<dyn Clock>,
    recorder: Recorder,
}

impl std::fmt::Debug for CronJobReconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CronJobReconciler").finish_non_exhaustive()
    }
}

/// What the scheduling step decided.
struct Scheduled {
    requeue: Option<Duration>,
    error: Option<Error>,
}

impl CronJobReconciler {
    /// A reconciler reading Jobs from `informers`' caches, recording events
    /// through `api` and telling time (schedules) by `clock`.
    pub fn new(api: Arc<dyn ObjectApi>, informers: Arc<InformerFactory>, clock: Arc<dyn Clock>) -> Self {
        let recorder = Recorder::with_clock(api, "cronjob-controller", "", clock.clone());
        CronJobReconciler { informers, clock, recorder }
    }

    /// Its controller: CronJobs, woken by the Jobs they control (run it
    /// with this reconciler).
    pub fn controller(&self) -> Controller<CronJob> {
        Controller::<CronJob>::new(self.informers.clone(), None)
            .named("cronjob")
            .owns::<Job>()
            .clock(self.clock.clone())
            .workers(5)
    }

    fn jobs(&self) -> Store<Job> {
        self.informers.informer::<Job>(None, None, None).store()
    }

    async fn event(&self, cj: &CronJob, type_: EventType, reason: &str, message: &str) {
        if let Err(e) = self.recorder.publish(&reference_to(cj), type_, reason, message).await {
            tracing::debug!(error = %e, reason, "event not recorded");
        }
    }

    /// Deletes `job` (propagation `Background`) and drops it from the
    /// active list; whether it is gone.
    async fn delete_job(&self, cj: &CronJob, status: &mut CronJobStatus, job: &Job, api: &Api<Job>) -> bool {
        let options = DeleteOptions { propagation_policy: Some("Background".to_owned()), ..Default::default() };
        match api.delete(&job.metadata.name, &options).await {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                let message = format!("Deleted job: {e}");
                self.event(cj, EventType::Warning, "FailedDelete", &message).await;
                return false;
            }
        }
        status.active.retain(|r| r.uid != job.metadata.uid);
        self.event(cj, EventType::Normal, "SuccessfulDelete", &format!("Deleted job {}", job.metadata.name)).await;
        true
    }

    /// Starts the due run, if any (Kubernetes' `syncCronJob` after its
    /// bookkeeping of Jobs).
    async fn schedule(&self, cj: &CronJob, status: &mut CronJobStatus, api: &Api<Job>) -> Scheduled {
        let none = || Scheduled { requeue: None, error: None };
        let spec = &cj.spec;
        if let Some(zone) = &spec.time_zone
            && let Err(e) = Tz::from_str(zone)
        {
            let message = format!("invalid timeZone: {zone:?}: {e}");
            self.event(cj, EventType::Warning, "UnknownTimeZone", &message).await;
            return none();
        }
        if spec.suspend == Some(true) {
            return none();
        }
        if spec.schedule.contains("TZ") {
            let message = format!(
                "CRON_TZ or TZ used in schedule {:?} is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details",
                spec.schedule
            );
            self.event(cj, EventType::Warning, "UnsupportedSchedule", &message).await;
        }
        let zone = if spec.schedule.contains("TZ") { None } else { spec.time_zone.as_deref() };
        let schedule = match Schedule::parse(&spec.schedule, zone) {
            Ok(s) => s,
            Err(e) => {
                let message = format!("unparseable schedule: {:?} : {e}", spec.schedule);
                self.event(cj, EventType::Warning, "UnparseableSchedule", &message).await;
                return none();
            }
        };
        let now = self.clock.wall();
        let mut view = cj.clone();
        view.status = Some(status.clone());
        let scheduled = match most_recent_schedule_time(&view, now, &schedule, true) {
            Err(e) => {
                let message = format!("invalid schedule: {} : {e}", spec.schedule);
                self.event(cj, EventType::Warning, "InvalidSchedule", &message).await;
                return none();
            }
            Ok((_, recent, missed)) => {
                if recent.is_some() && missed == Missed::Many {
                    let message = "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew";
                    self.event(cj, EventType::Warning, "TooManyMissedTimes", message).await;
                }
                recent
            }
        };
        let requeue = |status: &CronJobStatus| {
            let mut view = cj.clone();
            view.status = Some(status.clone());
            next_schedule_duration(&view, now, &schedule)
        };
        let Some(scheduled) = scheduled else {
            return Scheduled { requeue: requeue(status), error: None };
        };
        if let Some(deadline) = spec.starting_deadline_seconds
            && scheduled + chrono::Duration::seconds(deadline) < now
        {
            let message =
                format!("Missed scheduled time to start a job: {}", scheduled.format("%a, %d %b %Y %H:%M:%S %z"));
            self.event(cj, EventType::Warning, "MissSchedule", &message).await;
            return Scheduled { requeue: requeue(status), error: None };
        }
        let name = job_name(&cj.metadata.name, scheduled);
        let already =
            status.active.iter().any(|r| r.name == name) || status.last_schedule_time.is_some_and(|t| t.0 == scheduled);
        if already {
            return Scheduled { requeue: requeue(status), error: None };
        }
        let policy = spec.concurrency_policy.as_deref().unwrap_or("Allow");
        if policy == "Forbid" && !status.active.is_empty() {
            let message = "Not starting job because prior execution is running and concurrency policy is Forbid";
            self.event(cj, EventType::Normal, "JobAlreadyActive", message).await;
            return Scheduled { requeue: requeue(status), error: None };
        }
        if policy == "Replace" {
            for active in status.active.clone() {
                let job = match api.get_opt(&active.name).await {
                    Ok(Some(job)) => job,
                    Ok(None) => {
                        status.active.retain(|r| r.uid != active.uid);
                        continue;
                    }
                    Err(e) => {
                        self.event(cj, EventType::Warning, "FailedGet", &format!("Get job: {e}")).await;
                        return Scheduled { requeue: None, error: Some(e.into()) };
                    }
                };
                if !self.delete_job(cj, status, &job, api).await {
                    let error = Error::Replace(key_of(&job));
                    return Scheduled { requeue: None, error: Some(error) };
                }
            }
        }

        let wanted = job_from_template(cj, scheduled, schedule.zone());
        let created = match api.create(&wanted).await {
            Ok(job) => {
                let message = format!("Created job {}", job.metadata.name);
                self.event(cj, EventType::Normal, "SuccessfulCreate", &message).await;
                job
            }
            Err(e) if e.is_already_exists() => {
                let existing = match api.get(&wanted.metadata.name).await {
                    Ok(job) => job,
                    Err(e) => return Scheduled { requeue: None, error: Some(e.into()) },
                };
                if existing.metadata.controller().is_none_or(|r| r.uid != cj.metadata.uid) {
                    // Someone else's Job: leave it (and the status) to them.
                    return none();
                }
                if in_active(status, &existing.metadata.uid) {
                    return none();
                }
                existing
            }
            Err(e) => {
                let message = format!("Error creating job: {e}");
                self.event(cj, EventType::Warning, "FailedCreate", &message).await;
                return Scheduled { requeue: None, error: Some(e.into()) };
            }
        };
        if !in_active(status, &created.metadata.uid) {
            status.active.push(reference(&created));
        }
        status.last_schedule_time = Some(Time(scheduled));
        Scheduled { requeue: requeue(status), error: None }
    }

    /// Deletes the oldest finished Jobs beyond the history limits.
    async fn clean_up(&self, cj: &CronJob, status: &mut CronJobStatus, jobs: &[Arc<Job>], api: &Api<Job>) {
        let limits =
            [("Complete", cj.spec.successful_jobs_history_limit), ("Failed", cj.spec.failed_jobs_history_limit)];
        for (outcome, limit) in limits {
            let Some(limit) = limit else { continue };
            let mut finished: Vec<&Arc<Job>> = jobs.iter().filter(|j| finished_condition(j) == Some(outcome)).collect();
            let excess = finished.len().saturating_sub(usize::try_from(limit.max(0)).unwrap_or(0));
            if excess == 0 {
                continue;
            }
            // Oldest start first; jobs that never started last.
            finished.sort_by(|a, b| {
                let start = |j: &Job| j.status.as_ref().and_then(|s| s.start_time);
                match (start(a), start(b)) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                }
                .then_with(|| a.metadata.name.cmp(&b.metadata.name))
            });
            for job in finished.into_iter().take(excess) {
                self.delete_job(cj, status, job, api).await;
            }
        }
    }
}

#[async_trait::async_trait]
impl Reconciler<CronJob> for CronJobReconciler {
    type Error = Error;

    async fn reconcile(&self, cj: Arc<CronJob>, ctx: &Context) -> Result<Action, Error> {
        let namespace = cj.metadata.namespace.clone();
        let store = self.jobs();
        store.wait_until_synced().await;
        let jobs_api: Api<Job> = Api::with_client(ctx.api.clone(), Some(namespace.clone()));
        let cron_jobs: Api<CronJob> = Api::with_client(ctx.api.clone(), Some(namespace.clone()));
        let mut cj: Arc<CronJob> = cj;
        let jobs: Vec<Arc<Job>> = store
            .in_namespace(&namespace)
            .into_iter()
            .filter(|j| j.metadata.controller().is_some_and(|r| r.uid == cj.metadata.uid))
            .collect();
        let mut refreshed = false;
        let mut status = cj.status.clone().unwrap_or_default();
        let mut before = status.clone();
        for job in &jobs {
            let found = in_active(&status, &job.metadata.uid);
            let finished = finished_condition(job);
            if !found && finished.is_none() {
                if !refreshed {
                    refreshed = true;
                    // The cached CronJob may not show its own last write yet.
                    match cron_jobs.get_opt(&cj.metadata.name).await? {
                        Some(fresh) if fresh.metadata.uid == cj.metadata.uid => {
                            let fresh_status = fresh.status.clone().unwrap_or_default();
                            if in_active(&fresh_status, &job.metadata.uid) {
                                before = fresh_status.clone();
                                status = fresh_status;
                                cj = Arc::new(fresh);
                                continue;
                            }
                        }
                        _ => return Ok(Action::AwaitChange),
                    }
                }
                if in_active(&status, &job.metadata.uid) {
                    continue;
                }
                let message = format!("Saw a job that the controller did not create or forgot: {}", job.metadata.name);
                self.event(&cj, EventType::Warning, "UnexpectedJob", &message).await;
            } else if let (true, Some(condition)) = (found, finished) {
                status.active.retain(|r| r.uid != job.metadata.uid);
                let message = format!("Saw completed job: {}, condition: {condition}", job.metadata.name);
                self.event(&cj, EventType::Normal, "SawCompletedJob", &message).await;
            }
            if finished == Some("Complete")
                && let Some(done) = job.status.as_ref().and_then(|s| s.completion_time)
                && status.last_successful_time.is_none_or(|t| done > t)
            {
                status.last_successful_time = Some(done);
            }
        }
        // Active references whose Job is gone.
        let present: HashSet<&str> = jobs.iter().map(|j| j.metadata.uid.as_str()).collect();
        for active in status.active.clone() {
            if present.contains(active.uid.as_str()) {
                continue;
            }
            let gone = match jobs_api.get_opt(&active.name).await? {
                None => true,
                Some(job) => job.metadata.uid != active.uid,
            };
            if gone {
                let message = format!("Active job went missing: {}", active.name);
                self.event(&cj, EventType::Normal, "MissingJob", &message).await;
                status.active.retain(|r| r.uid != active.uid);
            }
        }

        let Scheduled { requeue, error } = if cj.metadata.deletion_timestamp.is_some() {
            Scheduled { requeue: None, error: None }
        } else {
            self.schedule(&cj, &mut status, &jobs_api).await
        };
        if error.is_none() {
            self.clean_up(&cj, &mut status, &jobs, &jobs_api).await;
        }
        if status != before {
            let written =
                cron_jobs.guaranteed_update_status(&cj.metadata.name, |c| c.status = Some(status.clone())).await;
            match written {
                Err(e) if e.is_not_found() => return Ok(Action::AwaitChange),
                other => {
                    other?;
                }
            }
        }
        if let Some(e) = error {
            return Err(e);
        }
        Ok(requeue.map_or(Action::AwaitChange, Action::RequeueAfter))
    }
}

/// Adds the CronJob controller to `manager` (system clock).
pub fn add_cron_jobs(manager: &mut Manager) {
    let reconciler = CronJobReconciler::new(manager.api(), manager.informers(), Arc::new(SystemClock));
    manager.add(reconciler.controller(), reconciler);
}

#[cfg(test)]
mod tests {
    use k_api_types::batch::v1::{CronJobSpec, JobCondition, JobSpec, JobStatus, JobTemplateSpec};
    use k_api_types::core::v1::{Container, Event, PodSpec, PodTemplateSpec};
    use k_runtime::testing::TestEnv;
    use k_runtime::watcher::Config;
    use k_store::api::ListOptions;

    use super::*;

    const NS: &str = "default";

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn next(schedule: &str, zone: Option<&str>, after: &str) -> String {
        let s = Schedule::parse(schedule, zone).unwrap_or_else(|e| panic!("{schedule}: {e}"));
        s.next(at(after)).unwrap().to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    #[test]
    fn schedules_parse_fields_macros_and_time_zones() {
        // 2026-11-23 is a Monday.
        let t = "2026-11-23T10:07:30Z";
        assert_eq!(next("*/15 * * * *", None, t), "2026-11-23T10:15:00Z");
        assert_eq!(next("5 * * * *", None, "2026-11-23T10:05:00Z"), "2026-11-23T11:05:00Z", "strictly after");
        assert_eq!(next("0 3/4 * * *", None, t), "2026-11-23T11:00:00Z", "N/step starts at N");
        assert_eq!(next("30 2 1-15/2 JAN-mar mon,wed,FRI", None, t), "2027-01-01T02:30:00Z");
        assert_eq!(next("0 0 * * SUN", None, t), "2026-11-29T00:00:00Z");
        assert_eq!(next("@hourly", None, t), "2026-11-23T11:00:00Z");
        assert_eq!(next("@daily", None, t), "2026-11-24T00:00:00Z");
        assert_eq!(next("@midnight", None, t), "2026-11-24T00:00:00Z");
        assert_eq!(next("@weekly", None, t), "2026-11-29T00:00:00Z");
        assert_eq!(next("@monthly", None, t), "2026-12-01T00:00:00Z");
        assert_eq!(next("@yearly", None, t), "2027-01-01T00:00:00Z");
        assert_eq!(next("@annually", None, t), "2027-01-01T00:00:00Z");
        assert_eq!(next("@every 1h30m", None, t), "2026-11-23T11:37:30Z");
        // Time zones: the field and the legacy prefixes.
        assert_eq!(next("@daily", Some("America/New_York"), t), "2026-11-24T05:00:00Z");
        assert_eq!(next("0 9 * * *", Some("Asia/Tokyo"), t), "2026-11-24T00:00:00Z");
        assert_eq!(next("CRON_TZ=Asia/Tokyo 0 9 * * *", None, t), "2026-11-24T00:00:00Z");
        assert_eq!(next("TZ=Europe/Paris 0 12 * * *", Some("UTC"), t), "2026-11-23T11:00:00Z");
        // Summer time in New York: 04:00 UTC.
        assert_eq!(next("@daily", Some("America/New_York"), "2026-07-01T12:00:00Z"), "2026-07-02T04:00:00Z");
        for bad in ["", "* * * *", "* * * * * *", "61 * * * *", "@fortnightly", "@every soon", "x * * * *"] {
            assert!(Schedule::parse(bad, None).is_err(), "{bad:?} parsed");
        }
        assert!(Schedule::parse("@daily", Some("Mars/Olympus")).is_err());
        assert!(Schedule::parse("TZ=Nowhere/Else @daily", None).is_err());
        let never = Schedule::parse("0 0 31 2 *", None).unwrap();
        assert_eq!(never.next(at(t)), None, "February 31st never comes");
        assert_eq!(
            job_name("nightly", at("2026-11-23T10:15:00Z")),
            format!("nightly-{}", at("2026-11-23T10:15:00Z").timestamp() / 60)
        );
    }

    #[test]
    fn only_the_most_recent_missed_time_runs() {
        let schedule = Schedule::parse("*/10 * * * *", None).unwrap();
        let mut cj = CronJob::default();
        cj.metadata.creation_timestamp = Some(Time(at("2026-11-23T10:00:00Z")));
        let now = at("2026-11-23T10:45:00Z");
        let (_, recent, missed) = most_recent_schedule_time(&cj, now, &schedule, true).unwrap();
        assert_eq!((recent, missed), (Some(at("2026-11-23T10:40:00Z")), Missed::Few));
        let (_, recent, missed) = most_recent_schedule_time(&cj, at("2026-11-23T10:12:00Z"), &schedule, true).unwrap();
        assert_eq!((recent, missed), (Some(at("2026-11-23T10:10:00Z")), Missed::None));
        let (_, recent, missed) = most_recent_schedule_time(&cj, at("2026-11-25T10:45:00Z"), &schedule, true).unwrap();
        assert_eq!((recent, missed), (Some(at("2026-11-25T10:40:00Z")), Missed::Many));
        // A starting deadline hides what is older than it.
        cj.spec.starting_deadline_seconds = Some(120);
        let (_, recent, _) = most_recent_schedule_time(&cj, now, &schedule, true).unwrap();
        assert_eq!(recent, None);
        let (_, recent, _) = most_recent_schedule_time(&cj, at("2026-11-23T10:41:00Z"), &schedule, true).unwrap();
        assert_eq!(recent, Some(at("2026-11-23T10:40:00Z")));
        // Requeue: 100 ms after the next time (10:50).
        assert_eq!(
            next_schedule_duration(&cj, now, &schedule),
            Some(Duration::from_secs(5 * 60) + NEXT_SCHEDULE_DELTA)
        );
    }

    struct Fixture {
        env: TestEnv,
        informers: Arc<InformerFactory>,
        ctx: Context,
        jobs: Api<Job>,
        crons: Api<CronJob>,
        r: CronJobReconciler,
    }

    impl Fixture {
        fn new() -> Self {
            let env = TestEnv::new();
            let informers = Arc::new(InformerFactory::new(env.api.clone(), Config::default()));
            let ctx = Context {
                controller: Arc::from("cronjob"),
                api: env.api.clone(),
                clock: Arc::new(env.clock.clone()),
                retries: 0,
            };
            let r = CronJobReconciler::new(env.api.clone(), informers.clone(), Arc::new(env.clock.clone()));
            let jobs = Api::namespaced(env.store.clone(), NS);
            let crons = Api::namespaced(env.store.clone(), NS);
            Fixture { env, informers, ctx, jobs, crons, r }
        }

        async fn cron(&self, name: &str, schedule: &str, f: impl FnOnce(&mut CronJobSpec)) -> CronJob {
            let mut spec = CronJobSpec {
                schedule: schedule.to_owned(),
                job_template: JobTemplateSpec {
                    metadata: ObjectMeta {
                        labels: [("app".to_owned(), name.to_owned())].into_iter().collect(),
                        ..Default::default()
                    },
                    spec: JobSpec {
                        template: PodTemplateSpec {
                            metadata: ObjectMeta::default(),
                            spec: PodSpec {
                                restart_policy: Some("Never".into()),
                                containers: vec![Container {
                                    name: "c".into(),
                                    image: Some("busybox".into()),
                                    ..Default::default()
                                }],
                                ..Default::default()
                            },
                        },
                        ..Default::default()
                    },
                },
                ..Default::default()
            };
            f(&mut spec);
            let cj = CronJob { metadata: ObjectMeta::namespaced(NS, name), spec, ..Default::default() };
            self.crons.create(&cj).await.unwrap()
        }

        fn created(cj: &CronJob) -> DateTime<Utc> {
            cj.metadata.creation_timestamp.unwrap().0
        }

        fn advance_to(&self, t: DateTime<Utc>) {
            if let Ok(by) = (t - self.env.clock.wall()).to_std() {
                self.env.clock.advance(by);
            }
        }

        async fn stored_jobs(&self) -> Vec<Job> {
            let mut jobs = self.jobs.list(&ListOptions::default()).await.unwrap().items;
            jobs.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
            jobs
        }

        async fn jobs_of(&self, cj: &str) -> Vec<Job> {
            self.stored_jobs()
                .await
                .into_iter()
                .filter(|j| j.metadata.controller().is_some_and(|r| r.name == cj))
                .collect()
        }

        async fn cache_caught_up(&self) {
            let stored: Vec<(String, String)> =
                self.stored_jobs().await.into_iter().map(|j| (j.metadata.uid, j.metadata.resource_version)).collect();
            let store = self.informers.informer::<Job>(None, None, None).store();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            loop {
                let cached = store.state();
                if cached.len() == stored.len()
                    && stored.iter().all(|(uid, rv)| {
                        cached.iter().any(|j| &j.metadata.uid == uid && &j.metadata.resource_version == rv)
                    })
                {
                    return;
                }
                assert!(tokio::time::Instant::now() < deadline, "the cache never caught up");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }

        async fn reconcile(&self, name: &str) -> Action {
            self.cache_caught_up().await;
            let cj = self.crons.get(name).await.unwrap();
            self.r.reconcile(Arc::new(cj), &self.ctx).await.unwrap()
        }

        async fn status(&self, name: &str) -> CronJobStatus {
            self.crons.get(name).await.unwrap().status.unwrap_or_default()
        }

        async fn reasons(&self, name: &str) -> Vec<String> {
            let events: Api<Event> = Api::namespaced(self.env.store.clone(), NS);
            let events = events.list(&ListOptions::default()).await.unwrap().items;
            events.into_iter().filter(|e| e.involved_object.name == name).filter_map(|e| e.reason).collect()
        }

        /// Marks a job finished (`Complete` or `Failed`) at `when`, started at `started`.
        async fn finish(&self, job: &str, outcome: &str, started: DateTime<Utc>, when: DateTime<Utc>) {
            let mut job = self.jobs.get(job).await.unwrap();
            job.status = Some(JobStatus {
                conditions: vec![JobCondition {
                    type_: outcome.to_owned(),
                    status: "True".to_owned(),
                    last_transition_time: Some(Time(when)),
                    ..Default::default()
                }],
                start_time: Some(Time(started)),
                completion_time: (outcome == "Complete").then_some(Time(when)),
                ..Default::default()
            });
            self.jobs.update_status(&job).await.unwrap();
        }
    }

    fn requeue_near(action: Action, expected: Duration) {
        match action {
            Action::RequeueAfter(d) => {
                let diff = d.abs_diff(expected);
                assert!(diff <= Duration::from_secs(2), "requeue {d:?}, expected about {expected:?}");
            }
            Action::AwaitChange => panic!("expected a requeue after about {expected:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn creates_the_job_of_each_scheduled_time_once() {
        let f = Fixture::new();
        let cj = f.cron("tick", "*/5 * * * *", |_| {}).await;
        let schedule = Schedule::parse("*/5 * * * *", None).unwrap();
        let first = schedule.next(Fixture::created(&cj)).unwrap();
        let action = f.reconcile("tick").await;
        requeue_near(action, (first - f.env.clock.wall()).to_std().unwrap());
        assert!(f.jobs_of("tick").await.is_empty(), "nothing before the first time");

        f.advance_to(first + chrono::Duration::seconds(1));
        requeue_near(f.reconcile("tick").await, Duration::from_secs(299));
        let jobs = f.jobs_of("tick").await;
        assert_eq!(jobs.len(), 1);
        let job = &jobs[0];
        assert_eq!(job.metadata.name, job_name("tick", first));
        assert_eq!(
            job.metadata.annotations.get(ANNOTATION_SCHEDULED_TIMESTAMP),
            Some(&first.to_rfc3339_opts(SecondsFormat::Secs, true))
        );
        assert_eq!(job.metadata.labels.get("app").map(String::as_str), Some("tick"));
        assert_eq!(job.metadata.controller().map(|r| r.uid.as_str()), Some(cj.metadata.uid.as_str()));
        let status = f.status("tick").await;
        assert_eq!(status.active.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), [job.metadata.name.as_str()]);
        assert_eq!(status.last_schedule_time, Some(Time(first)));
        assert!(f.reasons("tick").await.contains(&"SuccessfulCreate".to_owned()));

        // Again at the same time: nothing new.
        f.reconcile("tick").await;
        assert_eq!(f.jobs_of("tick").await.len(), 1);
        // The next time.
        f.advance_to(first + chrono::Duration::minutes(5));
        f.reconcile("tick").await;
        assert_eq!(f.jobs_of("tick").await.len(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrency_policies_allow_forbid_and_replace() {
        let f = Fixture::new();
        let mut created = Vec::new();
        for (name, policy) in [("allow", "Allow"), ("forbid", "Forbid"), ("replace", "Replace")] {
            let cj = f.cron(name, "* * * * *", |s| s.concurrency_policy = Some(policy.to_owned())).await;
            created.push(Fixture::created(&cj));
        }
        let schedule = Schedule::parse("* * * * *", None).unwrap();
        let t1 = schedule.next(created.into_iter().max().unwrap()).unwrap();
        let t2 = t1 + chrono::Duration::minutes(1);
        f.advance_to(t1);
        for name in ["allow", "forbid", "replace"] {
            f.reconcile(name).await;
            assert_eq!(f.jobs_of(name).await.len(), 1, "{name}");
        }
        f.advance_to(t2);
        for name in ["allow", "forbid", "replace"] {
            f.reconcile(name).await;
        }
        let names = |jobs: Vec<Job>| jobs.into_iter().map(|j| j.metadata.name).collect::<Vec<_>>();
        assert_eq!(names(f.jobs_of("allow").await), [job_name("allow", t1), job_name("allow", t2)]);
        assert_eq!(f.status("allow").await.active.len(), 2);
        assert_eq!(names(f.jobs_of("forbid").await), [job_name("forbid", t1)]);
        assert!(f.reasons("forbid").await.contains(&"JobAlreadyActive".to_owned()));
        assert_eq!(names(f.jobs_of("replace").await), [job_name("replace", t2)], "the running job is replaced");
        let active = f.status("replace").await.active;
        assert_eq!(active.iter().map(|r| r.name.clone()).collect::<Vec<_>>(), [job_name("replace", t2)]);
        assert!(f.reasons("replace").await.contains(&"SuccessfulDelete".to_owned()));

        // Once the forbidding job completes, the missed time runs.
        let done = f.env.clock.wall();
        f.finish(&job_name("forbid", t1), "Complete", t1, done).await;
        f.reconcile("forbid").await;
        assert_eq!(names(f.jobs_of("forbid").await), [job_name("forbid", t1), job_name("forbid", t2)]);
        let status = f.status("forbid").await;
        assert_eq!(status.active.iter().map(|r| r.name.clone()).collect::<Vec<_>>(), [job_name("forbid", t2)]);
        assert_eq!(status.last_successful_time, Some(Time(whole(done))));
        assert!(f.reasons("forbid").await.contains(&"SawCompletedJob".to_owned()));
    }

    fn whole(t: DateTime<Utc>) -> DateTime<Utc> {
        t.with_nanosecond(0).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_run_older_than_the_starting_deadline_is_skipped() {
        let f = Fixture::new();
        let cj = f.cron("late", "0 * * * *", |s| s.starting_deadline_seconds = Some(30)).await;
        let schedule = Schedule::parse("0 * * * *", None).unwrap();
        let hour = schedule.next(Fixture::created(&cj)).unwrap();
        f.advance_to(hour + chrono::Duration::seconds(45));
        let action = f.reconcile("late").await;
        assert!(f.jobs_of("late").await.is_empty(), "45 s late with a 30 s deadline: skipped");
        requeue_near(action, Duration::from_secs(3600 - 45));
        let next_hour = hour + chrono::Duration::hours(1);
        f.advance_to(next_hour + chrono::Duration::seconds(10));
        f.reconcile("late").await;
        let jobs = f.jobs_of("late").await;
        assert_eq!(jobs.len(), 1, "10 s late is within the deadline");
        assert_eq!(jobs[0].metadata.name, job_name("late", next_hour));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_missed_times_run_once_and_are_reported() {
        let f = Fixture::new();
        let cj = f.cron("behind", "* * * * *", |_| {}).await;
        f.advance_to(Fixture::created(&cj) + chrono::Duration::hours(3));
        f.reconcile("behind").await;
        let jobs = f.jobs_of("behind").await;
        assert_eq!(jobs.len(), 1, "only the most recent missed time runs");
        let latest = whole(f.env.clock.wall()).with_second(0).unwrap();
        assert_eq!(jobs[0].metadata.name, job_name("behind", latest));
        assert!(f.reasons("behind").await.contains(&"TooManyMissedTimes".to_owned()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn history_limits_delete_the_oldest_finished_jobs() {
        let f = Fixture::new();
        let cj = f
            .cron("history", "@hourly", |s| {
                s.suspend = Some(true);
                s.successful_jobs_history_limit = Some(2);
                s.failed_jobs_history_limit = Some(1);
            })
            .await;
        let base = whole(f.env.clock.wall());
        let minutes = |m: i64| base + chrono::Duration::minutes(m);
        for (i, outcome) in ["Complete", "Failed", "Complete", "Complete", "Failed", "Complete"].iter().enumerate() {
            let m = i64::try_from(i).unwrap();
            let name = format!("history-{i}");
            let job = Job {
                metadata: ObjectMeta {
                    owner_references: vec![owner_reference(&cj, true)],
                    ..ObjectMeta::namespaced(NS, &name)
                },
                spec: cj.spec.job_template.spec.clone(),
                ..Default::default()
            };
            f.jobs.create(&job).await.unwrap();
            f.finish(&name, outcome, minutes(m * 10), minutes(m * 10 + 5)).await;
        }
        assert_eq!(f.reconcile("history").await, Action::AwaitChange, "suspended: no run to wait for");
        let names: Vec<String> = f.jobs_of("history").await.into_iter().map(|j| j.metadata.name).collect();
        assert_eq!(names, ["history-3", "history-4", "history-5"]);
        assert_eq!(f.status("history").await.last_successful_time, Some(Time(minutes(55))));
        assert!(f.reasons("history").await.contains(&"SuccessfulDelete".to_owned()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn suspended_and_unknown_time_zones_run_nothing_and_zones_shape_the_job() {
        let f = Fixture::new();
        let paused = f.cron("paused", "* * * * *", |s| s.suspend = Some(true)).await;
        f.cron("lost", "* * * * *", |s| s.time_zone = Some("Mars/Olympus".into())).await;
        f.cron("tokyo", "0 9 * * *", |s| s.time_zone = Some("Asia/Tokyo".into())).await;
        let nine = Schedule::parse("0 9 * * *", Some("Asia/Tokyo")).unwrap().next(Fixture::created(&paused)).unwrap();
        assert_eq!((nine.hour(), nine.minute()), (0, 0), "09:00 in Tokyo is midnight UTC");
        f.advance_to(nine + chrono::Duration::seconds(5));
        assert_eq!(f.reconcile("paused").await, Action::AwaitChange);
        assert!(f.jobs_of("paused").await.is_empty());
        assert_eq!(f.reconcile("lost").await, Action::AwaitChange);
        assert!(f.jobs_of("lost").await.is_empty());
        assert!(f.reasons("lost").await.contains(&"UnknownTimeZone".to_owned()));
        f.reconcile("tokyo").await;
        let jobs = f.jobs_of("tokyo").await;
        assert_eq!(jobs.len(), 1);
        let stamp = jobs[0].metadata.annotations.get(ANNOTATION_SCHEDULED_TIMESTAMP).unwrap();
        assert!(stamp.ends_with("T09:00:00+09:00"), "{stamp}");
        // Resuming the suspended one runs its most recent time.
        f.crons.guaranteed_update("paused", |c| c.spec.suspend = Some(false)).await.unwrap();
        f.reconcile("paused").await;
        assert_eq!(f.jobs_of("paused").await.len(), 1);
    }
}
