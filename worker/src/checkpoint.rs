//! A cycle's progress per group, kept in coordination so that a cycle resumed on another worker
//! posts no group twice and counts each attempt once.
//!
//! `sending` is set before a post goes out and cleared with its outcome. A group found `sending`
//! on resume is in doubt (its worker died mid-send): it is not posted again, whatever happened.
//! Each counted attempt keeps its outcome and the flush ticket that carries its count, so a
//! resuming worker adds again exactly the counts that never reached `stats.json`. Entries are kept
//! short (tens of thousands of bots each hold one per group while their cycle runs).

use chrono::{DateTime, Utc};
use herald_data::{FlushTicket, StatsDelta};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct GroupEntry {
    #[serde(rename = "s")]
    pub(crate) session: String,
    #[serde(rename = "x", default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) sending: bool,
    #[serde(rename = "d", default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) done: bool,
    #[serde(rename = "a", default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) attempts: Vec<CountedAttempt>,
}

/// One counted attempt: `(process, flush seq, outcome)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CountedAttempt(pub(crate) String, pub(crate) u64, pub(crate) Counted);

/// What an attempt added to the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Counted {
    #[serde(rename = "ok")]
    Sent,
    #[serde(rename = "fail")]
    Failed,
    #[serde(rename = "flood")]
    FloodWait,
}

impl Counted {
    pub(crate) fn of(delta: &StatsDelta) -> Counted {
        if delta.success > 0 {
            Counted::Sent
        } else if delta.flood_waits > 0 {
            Counted::FloodWait
        } else {
            Counted::Failed
        }
    }

    /// The delta to add again when a dead worker's count never reached the file.
    pub(crate) fn delta(self, at: DateTime<Utc>) -> StatsDelta {
        let mut delta = StatsDelta {
            posts: 1,
            last_activity: Some(at),
            ..StatsDelta::default()
        };
        match self {
            Counted::Sent => {
                delta.success = 1;
                delta.messages_sent = 1;
            }
            Counted::Failed => delta.failures = 1,
            Counted::FloodWait => {
                delta.failures = 1;
                delta.flood_waits = 1;
            }
        }
        delta
    }
}

impl CountedAttempt {
    pub(crate) fn new(ticket: FlushTicket, delta: &StatsDelta) -> CountedAttempt {
        CountedAttempt(ticket.process, ticket.seq, Counted::of(delta))
    }

    pub(crate) fn ticket(&self) -> FlushTicket {
        FlushTicket {
            process: self.0.clone(),
            seq: self.1,
        }
    }
}

impl GroupEntry {
    pub(crate) fn encode(&self) -> String {
        // Strings, bools and numbers always serialize.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub(crate) fn decode(raw: &str) -> Option<GroupEntry> {
        serde_json::from_str(raw).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_round_trips_and_stays_short() {
        let now = Utc::now();
        let entry = GroupEntry {
            session: "+254708803721.session".into(),
            sending: false,
            done: true,
            attempts: vec![CountedAttempt::new(
                FlushTicket {
                    process: "host-1234-abcd0123".into(),
                    seq: 42,
                },
                &Counted::Sent.delta(now),
            )],
        };
        let raw = entry.encode();
        assert_eq!(GroupEntry::decode(&raw), Some(entry));
        assert!(raw.len() < 90, "{raw}");
        for counted in [Counted::Sent, Counted::Failed, Counted::FloodWait] {
            assert_eq!(Counted::of(&counted.delta(now)), counted);
        }
    }
}
