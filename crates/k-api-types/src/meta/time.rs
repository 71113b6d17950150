//! `Time` and `MicroTime`: RFC 3339 timestamps formatted as Kubernetes writes them.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A timestamp with second precision, written as `2006-01-02T15:04:05Z`
/// (metav1.Time). Any RFC 3339 input is accepted; sub-second digits are kept in
/// memory but dropped on output, as Kubernetes does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub DateTime<Utc>);

/// A timestamp with microsecond precision, written as
/// `2006-01-02T15:04:05.000000Z` (metav1.MicroTime, used by Lease and Event).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MicroTime(pub DateTime<Utc>);

/// An input that is not an RFC 3339 timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp {input:?}: expected RFC 3339 such as 2006-01-02T15:04:05Z ({reason})")]
pub struct TimeParseError {
    input: String,
    reason: String,
}

fn parse_rfc3339(s: &str) -> Result<DateTime<Utc>, TimeParseError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| TimeParseError { input: s.to_owned(), reason: e.to_string() })
}

macro_rules! timestamp_impl {
    ($ty:ident, $format:expr, $name:literal, $fmt_doc:literal) => {
        impl $ty {
            /// The current time.
            pub fn now() -> Self {
                Self(Utc::now())
            }

            /// Builds a timestamp from seconds since the Unix epoch.
            pub fn from_unix(secs: i64) -> Option<Self> {
                DateTime::from_timestamp(secs, 0).map(Self)
            }
        }

        impl From<DateTime<Utc>> for $ty {
            fn from(t: DateTime<Utc>) -> Self {
                Self(t)
            }
        }

        impl FromStr for $ty {
            type Err = TimeParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_rfc3339(s).map(Self)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0.to_rfc3339_opts($format, true))
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s: Cow<'de, str> = Deserialize::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

        impl schemars::JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({ "type": "string", "format": "date-time", "description": $fmt_doc })
            }
        }
    };
}

timestamp_impl!(Time, SecondsFormat::Secs, "Time", "RFC 3339 timestamp with second precision.");
timestamp_impl!(MicroTime, SecondsFormat::Micros, "MicroTime", "RFC 3339 timestamp with microsecond precision.");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_kubernetes() {
        let cases = [
            ("2026-11-01T10:00:00Z", "2026-11-01T10:00:00Z", "2026-11-01T10:00:00.000000Z"),
            ("2026-11-01T10:00:00.123456789Z", "2026-11-01T10:00:00Z", "2026-11-01T10:00:00.123456Z"),
            ("2026-11-01T12:00:00+02:00", "2026-11-01T10:00:00Z", "2026-11-01T10:00:00.000000Z"),
        ];
        for (input, time, micro) in cases {
            assert_eq!(input.parse::<Time>().unwrap().to_string(), time, "{input}");
            assert_eq!(input.parse::<MicroTime>().unwrap().to_string(), micro, "{input}");
        }
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "yesterday", "2026-11-01", "2026-11-01 10:00:00"] {
            let err = bad.parse::<Time>().unwrap_err();
            assert!(err.to_string().contains("RFC 3339"), "{bad}: {err}");
        }
        assert!(serde_json::from_str::<Time>("\"nope\"").is_err());
    }
}
