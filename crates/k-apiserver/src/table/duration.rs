//! Human-readable durations (the AGE column), as Kubernetes'
//! `duration.HumanDuration` writes them.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::json::time_at;

/// Formats a duration with two or three significant figures, as kubectl's AGE
/// column shows it.
///
/// - up to 2 minutes in seconds (`"5s"`, `"119s"`);
/// - up to 10 minutes in minutes and seconds (`"2m"`, `"2m30s"`), then minutes
///   up to 3 hours (`"45m"`, `"179m"`);
/// - up to 8 hours in hours and minutes (`"3h"`, `"4h5m"`), then hours up to 2
///   days (`"47h"`);
/// - up to 8 days in days and hours (`"2d"`, `"3d4h"`), then days up to 2 years
///   (`"400d"`);
/// - up to 8 years in years and days (`"2y"`, `"3y12d"`), then years (`"10y"`).
///
/// Slightly negative durations (clock skew under two seconds) read `"0s"`;
/// anything earlier is `"<invalid>"`.
pub fn human_duration(d: TimeDelta) -> String {
    // Whole seconds, truncated toward zero.
    let secs = d.num_seconds();
    if secs < -1 {
        return "<invalid>".to_owned();
    }
    if secs < 0 {
        return "0s".to_owned();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 { format!("{days}d") } else { format!("{days}d{h}h") };
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        let dy = days % 365;
        return if dy == 0 { format!("{years}y") } else { format!("{years}y{dy}d") };
    }
    format!("{years}y")
}

/// Time elapsed since `t`, or `<unknown>` when there is no time stamp.
pub(crate) fn since(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match t {
        Some(t) => human_duration(now - t),
        None => "<unknown>".to_owned(),
    }
}

/// The AGE cell: time since `metadata.creationTimestamp`.
pub(crate) fn age(obj: &Value, now: DateTime<Utc>) -> String {
    since(time_at(obj, &["metadata", "creationTimestamp"]), now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(secs: i64) -> String {
        human_duration(TimeDelta::seconds(secs))
    }

    #[test]
    fn seconds_up_to_two_minutes() {
        assert_eq!(h(0), "0s");
        assert_eq!(h(5), "5s");
        assert_eq!(h(59), "59s");
        assert_eq!(h(60), "60s");
        assert_eq!(h(119), "119s");
    }

    #[test]
    fn minutes_and_seconds_below_ten_minutes() {
        assert_eq!(h(120), "2m");
        assert_eq!(h(150), "2m30s");
        assert_eq!(h(3 * 60 + 1), "3m1s");
        assert_eq!(h(9 * 60 + 59), "9m59s");
        assert_eq!(h(10 * 60), "10m");
        assert_eq!(h(10 * 60 + 59), "10m");
        assert_eq!(h(179 * 60 + 59), "179m");
    }

    #[test]
    fn hours() {
        assert_eq!(h(3 * 3600), "3h");
        assert_eq!(h(3 * 3600 + 5 * 60 + 7), "3h5m");
        assert_eq!(h(4 * 3600), "4h");
        assert_eq!(h(7 * 3600 + 59 * 60), "7h59m");
        assert_eq!(h(8 * 3600 + 30 * 60), "8h");
        assert_eq!(h(47 * 3600 + 59 * 60), "47h");
    }

    #[test]
    fn days() {
        assert_eq!(h(48 * 3600), "2d");
        assert_eq!(h(3 * 86400), "3d");
        assert_eq!(h(3 * 86400 + 4 * 3600 + 59), "3d4h");
        assert_eq!(h(7 * 86400 + 23 * 3600), "7d23h");
        assert_eq!(h(8 * 86400 + 5 * 3600), "8d");
        assert_eq!(h(400 * 86400), "400d");
        assert_eq!(h(729 * 86400), "729d");
    }

    #[test]
    fn years() {
        assert_eq!(h(730 * 86400), "2y");
        assert_eq!(h(3 * 365 * 86400 + 12 * 86400), "3y12d");
        assert_eq!(h(8 * 365 * 86400 + 100 * 86400), "8y");
        assert_eq!(h(12 * 365 * 86400), "12y");
    }

    #[test]
    fn negative_durations() {
        assert_eq!(human_duration(TimeDelta::milliseconds(-1500)), "0s");
        assert_eq!(h(-1), "0s");
        assert_eq!(h(-2), "<invalid>");
        assert_eq!(h(-3600), "<invalid>");
    }

    #[test]
    fn sub_second_precision_truncates() {
        assert_eq!(human_duration(TimeDelta::milliseconds(119_999)), "119s");
        assert_eq!(human_duration(TimeDelta::milliseconds(150_900)), "2m30s");
    }

    #[test]
    fn age_reads_the_creation_timestamp() {
        let now = DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z").unwrap().with_timezone(&Utc);
        let obj = serde_json::json!({"metadata": {"creationTimestamp": "2024-05-01T11:57:30Z"}});
        assert_eq!(age(&obj, now), "2m30s");
        assert_eq!(age(&serde_json::json!({"metadata": {}}), now), "<unknown>");
        assert_eq!(since(None, now), "<unknown>");
    }
}
