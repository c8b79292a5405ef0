//! The console's charts: successful posts, failures and flood waits a minute over the last
//! hour, and the scheduler's lag. The deployment's series is sampled from stats.json's totals
//! (so every process's posts count, whichever worker made them) and kept in this process only,
//! from its start: sixty-one small records. A tenant's series is counted from its own log, read
//! when asked, so no per-tenant history is kept in memory. Nothing here is written anywhere.

use std::collections::VecDeque;
use std::sync::Mutex;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use herald_data::StatsDoc;
use serde::Serialize;
use utoipa::ToSchema;

/// Minutes a chart covers; one more is kept as the base of the oldest.
pub(crate) const MINUTES: usize = 60;

/// Deployment-wide totals at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) success: u64,
    pub(crate) failures: u64,
    pub(crate) flood_waits: u64,
}

impl Totals {
    pub(crate) fn of(stats: &StatsDoc) -> Totals {
        stats.users.values().fold(Totals::default(), |t, s| Totals {
            success: t.success + s.total_success,
            failures: t.failures + s.total_failures,
            flood_waits: t.flood_waits + s.total_flood_waits,
        })
    }
}

/// One minute of a chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MinuteView {
    /// The minute's start.
    pub at: DateTime<Utc>,
    pub posts: u64,
    pub failures: u64,
    pub flood_waits: u64,
    /// The largest scheduler lag seen in the minute (deployment chart only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduler_lag_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
struct Minute {
    at: DateTime<Utc>,
    /// The totals when the minute began (the previous minute's last sample).
    base: Totals,
    last: Totals,
    lag_ms: Option<u64>,
}

/// The deployment's last hour, a record a minute.
#[derive(Debug)]
pub(crate) struct Activity {
    since: DateTime<Utc>,
    minutes: Mutex<VecDeque<Minute>>,
}

fn minute_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::minutes(1)).unwrap_or(at)
}

impl Activity {
    pub(crate) fn new(now: DateTime<Utc>) -> Activity {
        Activity {
            since: now,
            minutes: Mutex::new(VecDeque::with_capacity(MINUTES + 1)),
        }
    }

    /// When sampling began: the charts say nothing of the time before.
    pub(crate) fn since(&self) -> DateTime<Utc> {
        self.since
    }

    /// Takes a sample of the totals (and of the leader's lag, when it reported one).
    pub(crate) fn observe(&self, now: DateTime<Utc>, totals: Totals, lag_ms: Option<u64>) {
        let at = minute_of(now);
        let mut minutes = self.minutes.lock().unwrap_or_else(|p| p.into_inner());
        match minutes.back_mut() {
            Some(m) if m.at >= at => {
                m.last = totals;
                m.lag_ms = m.lag_ms.max(lag_ms);
            }
            previous => {
                let base = previous.map_or(totals, |m| m.last);
                minutes.push_back(Minute {
                    at,
                    base,
                    last: totals,
                    lag_ms,
                });
                while minutes.len() > MINUTES {
                    minutes.pop_front();
                }
            }
        }
    }

    /// The sampled minutes, oldest first (the last one still filling).
    pub(crate) fn minutes(&self) -> Vec<MinuteView> {
        let minutes = self.minutes.lock().unwrap_or_else(|p| p.into_inner());
        minutes
            .iter()
            .map(|m| MinuteView {
                at: m.at,
                // A replaced stats file can go backwards; a chart never shows less than nothing.
                posts: m.last.success.saturating_sub(m.base.success),
                failures: m.last.failures.saturating_sub(m.base.failures),
                flood_waits: m.last.flood_waits.saturating_sub(m.base.flood_waits),
                scheduler_lag_ms: m.lag_ms,
            })
            .collect()
    }
}

/// A tenant's last hour from its log lines (`YYYY-MM-DD HH:MM:SS - LEVEL - message`, the
/// worker's wording): "Posted to" a post, "Failed to post" a failure, "Flood wait of" a flood
/// wait. Every minute of the hour is present, oldest first.
pub(crate) fn tenant_minutes(lines: &[String], now: DateTime<Utc>) -> Vec<MinuteView> {
    let last = minute_of(now);
    let first = last - TimeDelta::minutes(MINUTES as i64 - 1);
    let mut chart: Vec<MinuteView> = (0..MINUTES as i64)
        .map(|i| MinuteView {
            at: first + TimeDelta::minutes(i),
            posts: 0,
            failures: 0,
            flood_waits: 0,
            scheduler_lag_ms: None,
        })
        .collect();
    for line in lines {
        let Some((at, message)) = parse_line(line) else {
            continue;
        };
        let Ok(index) = usize::try_from((minute_of(at) - first).num_minutes()) else {
            continue;
        };
        let Some(minute) = chart.get_mut(index) else {
            continue;
        };
        if message.starts_with("Posted to ") {
            minute.posts += 1;
        } else if message.starts_with("Failed to post") {
            minute.failures += 1;
        } else if message.starts_with("Flood wait of") {
            minute.flood_waits += 1;
        }
    }
    chart
}

fn parse_line(line: &str) -> Option<(DateTime<Utc>, &str)> {
    let stamp = line.get(..19)?;
    let at = chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S").ok()?;
    let rest = line.get(19..)?.strip_prefix(" - ")?;
    let (_level, message) = rest.split_once(" - ")?;
    Some((at.and_utc(), message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn totals(success: u64, failures: u64, flood_waits: u64) -> Totals {
        Totals {
            success,
            failures,
            flood_waits,
        }
    }

    #[test]
    fn each_minute_counts_what_happened_since_the_previous_one_ended() {
        let a = Activity::new(at("2026-12-07T10:00:05Z"));
        a.observe(at("2026-12-07T10:00:05Z"), totals(100, 5, 1), None);
        a.observe(at("2026-12-07T10:00:50Z"), totals(110, 5, 1), Some(3));
        // Between the last sample of 10:00 and the first of 10:01: counted in 10:01.
        a.observe(at("2026-12-07T10:01:10Z"), totals(130, 6, 1), Some(9));
        a.observe(at("2026-12-07T10:01:40Z"), totals(131, 6, 2), Some(4));
        let m = a.minutes();
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].posts, m[0].failures, m[0].flood_waits), (10, 0, 0));
        assert_eq!(m[0].scheduler_lag_ms, Some(3));
        assert_eq!((m[1].posts, m[1].failures, m[1].flood_waits), (21, 1, 1));
        assert_eq!(
            m[1].scheduler_lag_ms,
            Some(9),
            "the largest lag of the minute"
        );
        assert_eq!(m[1].at, at("2026-12-07T10:01:00Z"));
    }

    #[test]
    fn only_the_last_hour_is_kept_and_a_shrinking_total_counts_nothing() {
        let start = at("2026-12-07T10:00:00Z");
        let a = Activity::new(start);
        for i in 0..90 {
            a.observe(
                start + TimeDelta::minutes(i),
                totals(i as u64 * 2, 0, 0),
                None,
            );
        }
        let m = a.minutes();
        assert_eq!(m.len(), MINUTES);
        assert_eq!(m[0].at, start + TimeDelta::minutes(30));
        assert!(m.iter().all(|m| m.posts == 2));
        a.observe(start + TimeDelta::minutes(90), totals(0, 0, 0), None);
        assert_eq!(a.minutes().last().unwrap().posts, 0);
    }

    #[test]
    fn a_tenants_hour_is_counted_from_its_log_lines() {
        let now = at("2026-12-07T10:30:20Z");
        let lines: Vec<String> = [
            "2026-12-07 09:30:59 - INFO - Posted to @old from +2547****21",
            "2026-12-07 09:31:00 - INFO - Posted to @a from +2547****21",
            "2026-12-07 10:29:59 - ERROR - Failed to post to @b from +2547****21: CHAT_WRITE_FORBIDDEN",
            "2026-12-07 10:30:01 - INFO - Posted to @a from +2547****21",
            "2026-12-07 10:30:02 - INFO - Posted to @c from +2547****21",
            "2026-12-07 10:30:03 - WARNING - Flood wait of 30s for +2547****21: waiting, then posting to @d again",
            "2026-12-07 10:30:04 - INFO - Cycle 3 finished: 2 sent, 1 failed, 0 skipped",
            "not a log line",
        ]
        .map(String::from)
        .to_vec();
        let chart = tenant_minutes(&lines, now);
        assert_eq!(chart.len(), MINUTES);
        assert_eq!(chart[0].at, at("2026-12-07T09:31:00Z"));
        assert_eq!(chart[0].posts, 1, "the line before the hour is left out");
        assert_eq!(chart[58].failures, 1);
        let last = &chart[59];
        assert_eq!((last.posts, last.failures, last.flood_waits), (2, 0, 1));
        assert_eq!(chart.iter().map(|m| m.posts).sum::<u64>(), 3);
    }
}
