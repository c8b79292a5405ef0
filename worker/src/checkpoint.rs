//! A cycle's progress per group, kept in coordination so that a cycle resumed on another worker
//! posts no group twice and counts each attempt once.
//!
//! `sending` is set before a post goes out and cleared with its outcome. A group found `sending`
//! on resume is in doubt (its worker died mid-send): it is not posted again, whatever happened.
//! Each counted attempt keeps its counter delta and the flush ticket that carries it, so a
//! resuming worker adds again exactly the deltas that never reached `stats.json`.

use herald_data::{FlushTicket, StatsDelta};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct GroupEntry {
    pub(crate) session: String,
    pub(crate) sending: bool,
    pub(crate) done: bool,
    pub(crate) attempts: Vec<CountedAttempt>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CountedAttempt {
    pub(crate) ticket: FlushTicket,
    pub(crate) delta: StatsDelta,
}

impl GroupEntry {
    pub(crate) fn encode(&self) -> String {
        // A struct of strings, bools and numbers always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub(crate) fn decode(raw: &str) -> Option<GroupEntry> {
        serde_json::from_str(raw).ok()
    }
}
