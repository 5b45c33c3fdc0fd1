//! The window a usage query covers: `15m`, `6h`, `7d` back from now, or `month` (month to date, UTC).

use chrono::{DateTime, Datelike, TimeZone, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::core::domain::error::{Error, Result};

/// The longest window: CloudWatch Logs' longest retention (3653 days).
pub const MAX_DAYS: u32 = 3653;

/// A usage window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Since {
    /// The last N minutes.
    Minutes(u32),
    /// The last N hours.
    Hours(u32),
    /// The last N days.
    Days(u32),
    /// From the first day of this month (UTC).
    Month,
}

impl Since {
    /// Parse `value` as the input field `field`: `<N>m` (1-1440), `<N>h` (1-744), `<N>d` (1-3653), or `month`.
    pub fn parse(field: &str, value: &str) -> Result<Self> {
        let rule = "must be `<N>m`, `<N>h`, `<N>d` (minutes, hours, days back from now) or `month` (month to date), e.g. `15m`, `6h`, `7d`";
        if value == "month" {
            return Ok(Self::Month);
        }
        let split = value.len().saturating_sub(1);
        let (number, unit) = value.split_at(split);
        let n: u32 = number
            .parse()
            .ok()
            .filter(|n| *n > 0 && number.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| Error::invalid(field, rule))?;
        let (since, max) = match unit {
            "m" => (Self::Minutes(n), 1440),
            "h" => (Self::Hours(n), 744),
            "d" => (Self::Days(n), MAX_DAYS),
            _ => return Err(Error::invalid(field, rule)),
        };
        if n > max {
            return Err(Error::invalid(
                field,
                format!("`{value}` is longer than allowed: at most {max}{unit}"),
            ));
        }
        Ok(since)
    }

    /// The window's start, given `now`.
    pub fn start(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Self::Minutes(n) => now - chrono::Duration::minutes(n.into()),
            Self::Hours(n) => now - chrono::Duration::hours(n.into()),
            Self::Days(n) => now - chrono::Duration::days(n.into()),
            Self::Month => month_start(now),
        }
    }

    /// How it was written.
    pub fn label(self) -> String {
        match self {
            Self::Minutes(n) => format!("{n}m"),
            Self::Hours(n) => format!("{n}h"),
            Self::Days(n) => format!("{n}d"),
            Self::Month => "month".to_owned(),
        }
    }
}

/// 00:00 UTC on the first day of `now`'s month.
pub fn month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now)
}

/// 00:00 UTC on the first day of the month after `now`'s: when a monthly cap lifts.
pub fn next_month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    let (year, month) = (
        now.year() + i32::from(now.month() == 12),
        now.month() % 12 + 1,
    );
    Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .single()
        .unwrap_or(now)
}

/// The period a monthly cap counts: `YYYY-MM`.
pub fn period(now: DateTime<Utc>) -> String {
    format!("{:04}-{:02}", now.year(), now.month())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn windows_parse_and_start_where_they_say() {
        let now = at("2026-12-15T10:30:00Z");
        assert_eq!(
            Since::parse("since", "15m").unwrap().start(now),
            at("2026-12-15T10:15:00Z")
        );
        assert_eq!(
            Since::parse("since", "6h").unwrap().start(now),
            at("2026-12-15T04:30:00Z")
        );
        assert_eq!(
            Since::parse("since", "7d").unwrap().start(now),
            at("2026-12-08T10:30:00Z")
        );
        assert_eq!(
            Since::parse("since", "month").unwrap().start(now),
            at("2026-12-01T00:00:00Z")
        );
        assert_eq!(period(now), "2026-12");
        assert_eq!(next_month_start(now), at("2027-01-01T00:00:00Z"));
    }

    #[test]
    fn malformed_or_absurd_windows_name_the_field() {
        for bad in [
            "",
            "m",
            "0m",
            "-5m",
            "+5m",
            "15",
            "15s",
            "1.5h",
            "month2",
            "1441m",
            "745h",
            "3654d",
            "99999999999d",
        ] {
            let error = Since::parse("since", bad).unwrap_err();
            assert!(
                error.to_string().starts_with("invalid `since`"),
                "{bad}: {error}"
            );
        }
    }
}
