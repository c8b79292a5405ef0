//! `data/stats.json`: per-tenant counters, and the ledger that makes counting exactly-once.
//!
//! Counters only, no configuration. Beside `users`, the file holds `flushes`: for each herald
//! process, the sequence number of its last counter flush that reached the file. A worker that
//! takes over a cycle from a dead one reads it to know which of the dead process's counts made it
//! to disk and which it must add again, so that counters match what happened even across a
//! SIGKILL. This module defines the records and the merge; it does no I/O.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::document::Document;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StatsDoc {
    #[serde(default)]
    pub users: BTreeMap<String, UserStats>,
    /// Herald's addition: last flushed sequence number per process (see the module doc).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub flushes: BTreeMap<String, FlushMark>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Document for StatsDoc {
    type Encoder = crate::stats_encoder::StatsEncoder;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlushMark {
    pub seq: u64,
    pub at: DateTime<Utc>,
}

/// One tenant's counters, in the old backend's field names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserStats {
    /// Post attempts, whatever their outcome.
    #[serde(default)]
    pub total_posts: u64,
    #[serde(default)]
    pub total_success: u64,
    #[serde(default)]
    pub total_failures: u64,
    #[serde(default)]
    pub total_flood_waits: u64,
    #[serde(default)]
    pub total_messages_sent: u64,
    #[serde(default, deserialize_with = "lenient_time")]
    pub last_activity: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What to add to one tenant's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsDelta {
    #[serde(default)]
    pub posts: u64,
    #[serde(default)]
    pub success: u64,
    #[serde(default)]
    pub failures: u64,
    #[serde(default)]
    pub flood_waits: u64,
    #[serde(default)]
    pub messages_sent: u64,
    #[serde(default)]
    pub last_activity: Option<DateTime<Utc>>,
}

impl StatsDelta {
    /// Combines two deltas; associative and commutative, so any batching gives the same totals.
    pub fn merge(&mut self, other: &StatsDelta) {
        self.posts += other.posts;
        self.success += other.success;
        self.failures += other.failures;
        self.flood_waits += other.flood_waits;
        self.messages_sent += other.messages_sent;
        self.last_activity = self.last_activity.max(other.last_activity);
    }

    pub fn is_empty(&self) -> bool {
        *self == StatsDelta::default()
    }
}

impl UserStats {
    pub fn apply(&mut self, delta: &StatsDelta) {
        self.total_posts += delta.posts;
        self.total_success += delta.success;
        self.total_failures += delta.failures;
        self.total_flood_waits += delta.flood_waits;
        self.total_messages_sent += delta.messages_sent;
        self.last_activity = self.last_activity.max(delta.last_activity);
    }

    /// Successful posts as a percentage of attempts, rounded to two decimals; 0 with no attempts.
    pub fn success_rate(&self) -> f64 {
        if self.total_posts == 0 {
            return 0.0;
        }
        let rate = self.total_success as f64 * 100.0 / self.total_posts as f64;
        (rate * 100.0).round() / 100.0
    }
}

/// Reads the old backend's `datetime.now().isoformat()` (no zone: taken as UTC) as well as RFC 3339.
fn lenient_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let Some(raw) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(&raw) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    NaiveDateTime::parse_from_str(&raw, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|t| Some(t.and_utc()))
        .map_err(|_| serde::de::Error::custom(format!("last_activity '{raw}' is not a timestamp")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn delta() -> impl Strategy<Value = StatsDelta> {
        (
            0u64..1000,
            0u64..1000,
            0u64..1000,
            0u64..100,
            0u64..1000,
            proptest::option::of(0i64..1_000_000),
        )
            .prop_map(
                |(posts, success, failures, flood_waits, messages_sent, t)| StatsDelta {
                    posts,
                    success,
                    failures,
                    flood_waits,
                    messages_sent,
                    last_activity: t.and_then(|s| DateTime::from_timestamp(1_700_000_000 + s, 0)),
                },
            )
    }

    proptest! {
        /// Any order and any grouping of deltas into batches gives the same totals.
        #[test]
        fn merge_is_independent_of_order_and_batching(
            deltas in proptest::collection::vec(delta(), 0..60),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..10),
            seed in any::<u64>(),
        ) {
            let mut one_by_one = UserStats::default();
            for d in &deltas {
                one_by_one.apply(d);
            }

            let mut shuffled = deltas.clone();
            let mut rng = seed;
            for i in (1..shuffled.len()).rev() {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (rng >> 33) as usize % (i + 1));
            }
            let mut bounds: Vec<usize> = cuts.iter().map(|c| c.index(shuffled.len() + 1)).collect();
            bounds.extend([0, shuffled.len()]);
            bounds.sort_unstable();
            let mut batched = UserStats::default();
            for pair in bounds.windows(2) {
                let mut batch = StatsDelta::default();
                for d in &shuffled[pair[0]..pair[1]] {
                    batch.merge(d);
                }
                batched.apply(&batch);
            }
            prop_assert_eq!(one_by_one, batched);
        }
    }

    #[test]
    fn old_backend_timestamps_and_unknown_fields_survive() {
        let doc: StatsDoc = serde_json::from_str(
            r#"{"users": {"1": {"total_posts": 3, "total_success": 2, "last_activity": "2025-12-21T19:23:23.123456", "streak": 9}}}"#,
        )
        .unwrap();
        let stats = &doc.users["1"];
        assert_eq!(stats.total_posts, 3);
        assert_eq!(
            stats.last_activity.unwrap().to_rfc3339(),
            "2025-12-21T19:23:23.123456+00:00"
        );
        assert_eq!(stats.success_rate(), 66.67);
        assert_eq!(serde_json::to_value(stats).unwrap()["streak"], 9);
    }
}
