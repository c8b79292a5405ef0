//! Exactly one post and one count per group per cycle, top to bottom: the group's checkpoint
//! entry, the send, the count, and resuming a cycle a dead worker began.
//!
//! For each group: a random id is chosen once and checkpointed with `sending` before the first
//! send (no send without its checkpoint: a checkpoint that cannot be written stops the session
//! for this cycle); every re-send of the group in the cycle (after a timeout, a reconnect, or on
//! another worker after a crash) carries the same id, so Telegram delivers it at most once
//! (RANDOM_ID_DUPLICATE for the others, where Telegram still remembers the id). Each attempt's
//! count is the one rule [`Counted::of`], added through the data manager, and recorded in the
//! entry with the flush ticket that carries it, so a resuming worker adds again exactly the
//! counts a dead worker never made durable. Once they are durable a done entry is written again
//! without them ([`Checkpoints::settle`]): there is nothing left for a resume to add.
//!
//! On resume an entry found `sending` was in flight when its worker died: it is re-sent with its
//! id, and a duplicate answer then counts nothing (the dead worker may have counted it: at most
//! once). An entry without an id (written before ids were checkpointed) or one that cannot be
//! read is in doubt: never posted again this cycle. This module never decides what an outcome
//! means (`outcome` does) and never acts on it (`session_run` does).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use herald_data::{FlushTicket, Level, StatsDelta, UserId};
use herald_jobs::{JobsError, clock};
use herald_session_file::mask_session_name;
use herald_telegram::{Delivery, SendError};
use serde::{Deserialize, Serialize};

use crate::Worker;

/// One group's progress in a cycle, as checkpointed in coordination. Kept short: tens of
/// thousands of bots each hold one per group while their cycle runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct GroupEntry {
    #[serde(rename = "s")]
    pub(crate) session: String,
    /// The random id every send of this group in this cycle carries.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub(crate) random_id: Option<i64>,
    /// A send is (or was, when its worker died) in flight.
    #[serde(rename = "x", default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) sending: bool,
    #[serde(rename = "d", default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) done: bool,
    #[serde(rename = "a", default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) attempts: Vec<CountedAttempt>,
    /// Resumed mid-send: the previous attempt's outcome and count are unknown. Never stored.
    #[serde(skip)]
    pub(crate) in_doubt: bool,
}

/// One counted attempt: the flush ticket carrying its count, and what it counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CountedAttempt {
    #[serde(rename = "p")]
    pub(crate) process: String,
    #[serde(rename = "q")]
    pub(crate) seq: u64,
    #[serde(rename = "c")]
    pub(crate) counted: Counted,
}

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
    /// The counter rule, the only one: every attempt made is a post; a delivery a success and a
    /// message sent; anything else a failure, a flood wait also a flood wait. A call that never
    /// went out (`NotSent`) is no attempt; a duplicate answer to a re-send whose first attempt
    /// is in doubt counts nothing (that attempt may have been counted: at most once).
    pub(crate) fn of(result: &Result<Delivery, SendError>, in_doubt: bool) -> Option<Counted> {
        match result {
            Ok(Delivery::New) => Some(Counted::Sent),
            Ok(Delivery::Duplicate) if in_doubt => None,
            Ok(Delivery::Duplicate) => Some(Counted::Sent),
            Err(SendError::NotSent) => None,
            Err(SendError::FloodWait { .. }) => Some(Counted::FloodWait),
            Err(_) => Some(Counted::Failed),
        }
    }

    fn letter(self) -> char {
        match self {
            Counted::Sent => 'k',
            Counted::Failed => 'f',
            Counted::FloodWait => 'w',
        }
    }

    fn from_letter(letter: char) -> Option<Counted> {
        match letter {
            'k' => Some(Counted::Sent),
            'f' => Some(Counted::Failed),
            'w' => Some(Counted::FloodWait),
            _ => None,
        }
    }

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
    fn ticket(&self) -> FlushTicket {
        FlushTicket {
            process: self.process.clone(),
            seq: self.seq,
        }
    }
}

/// Separates the fields of an entry's compact form. Session names and process ids hold no
/// control character (names are checked on import; an id that did would take the JSON form).
const FIELD: char = '\u{1f}';

impl GroupEntry {
    /// The entry as stored: a compact line, `flags FIELD random_id FIELD session` and then two
    /// fields per counted attempt (`kind seq`, `process`), about a third of its JSON. A done
    /// entry keeps only its attempts (a resume skips it and re-adds only the counts it carries);
    /// tens of thousands of bots each hold one per group posted while their cycle runs.
    pub(crate) fn encode(&self) -> String {
        let compact_safe = !self.session.contains(FIELD)
            && self.attempts.iter().all(|a| !a.process.contains(FIELD));
        if !compact_safe {
            // Strings, bools and numbers always serialize.
            return serde_json::to_string(self).unwrap_or_default();
        }
        let mut out = String::with_capacity(24 + self.attempts.len() * 32);
        out.push_str(match (self.done, self.sending) {
            (true, _) => "d",
            (false, true) => "x",
            (false, false) => "",
        });
        out.push(FIELD);
        if !self.done {
            if let Some(id) = self.random_id {
                out.push_str(&id.to_string());
            }
            out.push(FIELD);
            out.push_str(&self.session);
        } else {
            out.push(FIELD);
        }
        for attempt in &self.attempts {
            out.push(FIELD);
            out.push(attempt.counted.letter());
            out.push_str(&attempt.seq.to_string());
            out.push(FIELD);
            out.push_str(&attempt.process);
        }
        out
    }

    /// Reads either form (the JSON one is what earlier versions wrote); `None` when neither.
    pub(crate) fn decode(raw: &str) -> Option<GroupEntry> {
        if raw.starts_with('{') {
            return serde_json::from_str(raw).ok();
        }
        let mut fields = raw.split(FIELD);
        let (done, sending) = match fields.next()? {
            "d" => (true, false),
            "x" => (false, true),
            "" => (false, false),
            _ => return None,
        };
        let random_id = match fields.next()? {
            "" => None,
            id => Some(id.parse().ok()?),
        };
        let session = fields.next()?.to_owned();
        let mut attempts = Vec::new();
        while let Some(counted) = fields.next() {
            let mut chars = counted.chars();
            let counted_as = Counted::from_letter(chars.next()?)?;
            attempts.push(CountedAttempt {
                seq: chars.as_str().parse().ok()?,
                counted: counted_as,
                process: fields.next()?.to_owned(),
            });
        }
        Some(GroupEntry {
            session,
            random_id,
            sending,
            done,
            attempts,
            in_doubt: false,
        })
    }

    /// The group's random id, chosen on first use.
    pub(crate) fn random_id(&mut self, cycle_no: u64) -> i64 {
        *self
            .random_id
            .get_or_insert_with(|| herald_telegram::new_random_id(cycle_no))
    }
}

/// Where a cycle's checkpoints go; the one writer of a group's entry.
pub(crate) struct Checkpoints<'a> {
    pub(crate) worker: &'a Worker,
    pub(crate) user: &'a UserId,
    pub(crate) cycle_no: u64,
}

impl Checkpoints<'_> {
    pub(crate) async fn put(&self, group: &str, entry: &GroupEntry) -> Result<(), JobsError> {
        self.worker
            .inner
            .coord
            .checkpoint_put(self.user.as_str(), self.cycle_no, group, &entry.encode())
            .await
    }

    /// Writes a done group's entry again without its counted attempts once every count they
    /// carry is durable (a resume would add none of them again): `d` alone, where the attempts
    /// name their process and ticket, and tens of thousands of running cycles each hold one
    /// entry per group posted (BENCHMARKS.md, cost). `false`, writing nothing, while a count is
    /// still only in memory: the caller asks again after its next pause.
    pub(crate) async fn settle(
        &self,
        group: &str,
        attempts: &[CountedAttempt],
    ) -> Result<bool, JobsError> {
        let store = &self.worker.inner.store;
        if !attempts.iter().all(|a| store.is_flushed(&a.ticket())) {
            return Ok(false);
        }
        let settled = GroupEntry {
            done: true,
            ..GroupEntry::default()
        };
        self.put(group, &settled).await?;
        Ok(true)
    }

    /// Counts one attempt's outcome through the data manager and records it in the entry.
    /// Returns the ticket carrying the count, if it counted anything.
    pub(crate) fn count(
        &self,
        entry: &mut GroupEntry,
        result: &Result<Delivery, SendError>,
    ) -> Option<FlushTicket> {
        let counted = Counted::of(result, entry.in_doubt)?;
        let store = &self.worker.inner.store;
        let ticket = store.add_stats(self.user.as_str(), &counted.delta(clock::now()));
        entry.attempts.push(CountedAttempt {
            process: ticket.process.clone(),
            seq: ticket.seq,
            counted,
        });
        Some(ticket)
    }

    /// Reads the cycle's checkpoint (see the module doc for what resuming means). Returns every
    /// group's entry; done ones are skipped by the caller, the others carry their state on.
    pub(crate) async fn resume(&self) -> Result<HashMap<String, GroupEntry>, JobsError> {
        let w = &self.worker.inner;
        let (user, me) = (self.user, w.store.process_id());
        let mut entries = HashMap::new();
        let raw_entries = w
            .coord
            .checkpoint_get_all(user.as_str(), self.cycle_no)
            .await?;
        for (group, raw) in raw_entries {
            let Some(mut entry) = GroupEntry::decode(&raw) else {
                w.store.log(user, Level::Warning, &format!("Progress of the post to {group} cannot be read; its outcome is unknown (its worker stopped mid-send); not posting it again this cycle"));
                entries.insert(
                    group,
                    GroupEntry {
                        done: true,
                        ..GroupEntry::default()
                    },
                );
                continue;
            };
            let mut changed = false;
            for attempt in &mut entry.attempts {
                if attempt.process != me && !w.store.is_flushed(&attempt.ticket()) {
                    let again = attempt.counted.delta(clock::now());
                    let ticket = w.store.add_stats(user.as_str(), &again);
                    (attempt.process, attempt.seq) = (ticket.process, ticket.seq);
                    changed = true;
                }
            }
            if entry.sending {
                let from = mask_session_name(&entry.session);
                if entry.random_id.is_some() {
                    entry.in_doubt = true;
                    w.store.log(user, Level::Warning, &format!("Outcome of the post to {group} from {from} is unknown (its worker stopped mid-send); sending it again with the same random id, which Telegram delivers at most once"));
                } else {
                    entry.sending = false;
                    entry.done = true;
                    changed = true;
                    w.store.log(user, Level::Warning, &format!("Outcome of the post to {group} from {from} is unknown (its worker stopped mid-send); not posting it again this cycle"));
                }
            }
            if changed {
                self.put(&group, &entry).await?;
            }
            entries.insert(group, entry);
        }
        if !entries.is_empty() {
            tracing::warn!(
                groups = entries.len(),
                "resuming a cycle another worker began"
            );
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(process: &str, seq: u64, counted: Counted) -> CountedAttempt {
        CountedAttempt {
            process: process.into(),
            seq,
            counted,
        }
    }

    #[test]
    fn an_entry_in_flight_round_trips_whole() {
        let entry = GroupEntry {
            session: "+254 708803721.session".into(),
            random_id: Some(herald_telegram::new_random_id(7)),
            sending: true,
            done: false,
            attempts: vec![
                attempt("host-1234-abcd0123", 42, Counted::Failed),
                attempt("other-9-00000001", 7, Counted::FloodWait),
            ],
            in_doubt: false,
        };
        assert_eq!(GroupEntry::decode(&entry.encode()), Some(entry));
        let fresh = GroupEntry::default();
        assert_eq!(GroupEntry::decode(&fresh.encode()), Some(fresh));
    }

    #[test]
    fn a_done_entry_keeps_only_its_counts_and_stays_short() {
        let entry = GroupEntry {
            session: "+254708803721.session".into(),
            random_id: Some(herald_telegram::new_random_id(7)),
            sending: false,
            done: true,
            attempts: vec![attempt("host-1234-abcd0123", 42, Counted::Sent)],
            in_doubt: false,
        };
        let raw = entry.encode();
        let read = GroupEntry::decode(&raw).unwrap();
        assert!(read.done && !read.sending);
        assert_eq!(read.attempts, entry.attempts);
        assert!(raw.len() <= 30, "{raw:?}");
    }

    #[test]
    fn an_entry_earlier_versions_wrote_as_json_is_read() {
        let raw = r#"{"s":"a.session","r":5,"x":true,"a":[{"p":"h-1-2","q":3,"c":"flood"}]}"#;
        assert_eq!(
            GroupEntry::decode(raw),
            Some(GroupEntry {
                session: "a.session".into(),
                random_id: Some(5),
                sending: true,
                done: false,
                attempts: vec![attempt("h-1-2", 3, Counted::FloodWait)],
                in_doubt: false,
            })
        );
        assert_eq!(GroupEntry::decode("{not a checkpoint"), None);
        assert_eq!(GroupEntry::decode("q\u{1f}\u{1f}"), None);
        assert_eq!(GroupEntry::decode("d\u{1f}\u{1f}\u{1f}z1\u{1f}p"), None);
    }

    #[test]
    fn a_process_id_with_a_control_character_takes_the_json_form() {
        let entry = GroupEntry {
            attempts: vec![attempt("odd\u{1f}host-1-2", 1, Counted::Sent)],
            ..GroupEntry::default()
        };
        let raw = entry.encode();
        assert!(raw.starts_with('{'), "{raw:?}");
        assert_eq!(GroupEntry::decode(&raw), Some(entry));
    }

    #[test]
    fn every_attempt_made_counts_once_and_nothing_else_counts() {
        let now = Utc::now();
        let sent = Counted::of(&Ok(Delivery::New), false).map(|c| c.delta(now));
        assert_eq!(
            sent.map(|d| (d.posts, d.success, d.messages_sent, d.failures)),
            Some((1, 1, 1, 0))
        );
        let flood = Counted::of(&Err(SendError::FloodWait { secs: 5 }), false);
        assert_eq!(
            flood
                .map(|c| c.delta(now))
                .map(|d| (d.posts, d.failures, d.flood_waits)),
            Some((1, 1, 1))
        );
        let slow = Counted::of(&Err(SendError::SlowMode { secs: 5 }), false);
        assert_eq!(slow, Some(Counted::Failed));
        assert_eq!(
            Counted::of(&Err(SendError::NotSent), false),
            None,
            "never went out"
        );
        assert_eq!(
            Counted::of(&Ok(Delivery::Duplicate), false),
            Some(Counted::Sent),
            "a re-send after a lost answer: the first attempt counted a failure"
        );
        assert_eq!(
            Counted::of(&Ok(Delivery::Duplicate), true),
            None,
            "a dead worker's send: maybe counted already, so at most once"
        );
    }

    #[test]
    fn an_entry_keeps_its_random_id() {
        let mut entry = GroupEntry::default();
        let id = entry.random_id(9);
        assert_eq!(entry.random_id(9), id);
        assert_eq!(herald_telegram::cycle_of_random_id(id), 9);
    }
}
