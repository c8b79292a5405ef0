//! The simulator's delivery journal: one JSON line per send attempt.
//!
//! Owns the line format and appending it safely from many processes (one
//! `O_APPEND` file, each line written whole under an exclusive `flock`), and
//! reading it back for tests in any crate. Must never rewrite or truncate the
//! file: it is the evidence tests judge a run by.
//!
//! A line:
//! `{"session":"a.session","user_id":"u1","cycle":3,"target":"@group","attempt":7,
//!   "started_at":"2026-11-28T10:00:00.123456Z","ended_at":"...",
//!   "outcome":"ok" | {"error":{"kind":"flood_wait","secs":12}},"violation":null | "flood_wait_ignored",
//!   "post":{"post_type":"text","post_content":"..."}}`

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Post, SendError, TelegramError};

/// One send attempt as the simulator saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub session: String,
    pub user_id: String,
    pub cycle: u64,
    /// The target's canonical text (`-100…` or `@name`).
    pub target: String,
    /// The send's random id (0 in journals written before it was recorded).
    #[serde(default)]
    pub random_id: i64,
    /// The session's attempt number, counted across processes.
    pub attempt: u64,
    #[serde(with = "micros")]
    pub started_at: DateTime<Utc>,
    #[serde(with = "micros")]
    pub ended_at: DateTime<Utc>,
    pub outcome: Outcome,
    /// Set when the attempt broke a rule a well-behaved poster keeps.
    pub violation: Option<Violation>,
    /// What was sent (absent in journals written before it was recorded).
    #[serde(default)]
    pub post: Option<Post>,
}

/// `"ok"` (delivered), `"duplicate"` (a re-sent random id: nothing delivered) or
/// `{"error": <SendError>}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Duplicate,
    Error(SendError),
}

impl Outcome {
    /// Delivered by this attempt.
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Ok)
    }
}

/// A rule broken by the caller, as Telegram would hold against the account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Violation {
    /// Called again inside a flood wait the account had been told about.
    FloodWaitIgnored,
    /// Posted again to a chat inside a slow-mode wait it had been told about.
    SlowModeIgnored,
    /// Kept sending after PEER_FLOOD.
    PeerFloodIgnored,
    /// Posted again to a chat it had been told it may not write in.
    ForbiddenTargetRetried,
    /// Kept using a session after being told it is dead.
    DeadSessionUsed,
}

/// An append-only journal file, shareable between threads and processes.
#[derive(Clone, Debug)]
pub struct Journal {
    path: PathBuf,
    file: Arc<Mutex<File>>,
}

impl Journal {
    /// Opens (creating if needed) the journal at `path` for appending.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, TelegramError> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(TelegramError::Journal)?;
        Ok(Self {
            path,
            file: Arc::new(Mutex::new(file)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line. The mutex orders this process's writers (a `flock`
    /// is shared by all users of one open file); the `flock` orders processes.
    pub fn append(&self, entry: &JournalEntry) -> Result<(), TelegramError> {
        let mut line = serde_json::to_vec(entry)
            .map_err(|e| TelegramError::Journal(std::io::Error::other(e)))?;
        line.push(b'\n');
        let file = self
            .file
            .lock()
            .map_err(|_| TelegramError::Journal(std::io::Error::other("journal lock poisoned")))?;
        file.lock().map_err(TelegramError::Journal)?;
        let written = (&*file).write_all(&line);
        let unlocked = file.unlock();
        written.map_err(TelegramError::Journal)?;
        unlocked.map_err(TelegramError::Journal)
    }

    /// Every entry in the journal at `path`, in file order. A last line
    /// without its newline (a writer killed mid-line) is ignored.
    pub fn read_all(path: impl AsRef<Path>) -> Result<Vec<JournalEntry>, TelegramError> {
        let file = File::open(path).map_err(TelegramError::Journal)?;
        let mut reader = BufReader::new(file);
        let mut entries = Vec::new();
        let mut line = String::new();
        let mut number = 0;
        loop {
            line.clear();
            let n = reader
                .read_line(&mut line)
                .map_err(TelegramError::Journal)?;
            if n == 0 || !line.ends_with('\n') {
                break;
            }
            number += 1;
            if line.trim().is_empty() {
                continue;
            }
            let entry = serde_json::from_str(&line).map_err(|e| TelegramError::JournalLine {
                line: number,
                reason: e.to_string(),
            })?;
            entries.push(entry);
        }
        Ok(entries)
    }
}

/// RFC 3339 in UTC with exactly six fractional digits.
mod micros {
    use super::*;

    pub(super) fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Micros, true))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u64) -> JournalEntry {
        let at = DateTime::parse_from_rfc3339("2026-11-28T10:00:00.123456Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        JournalEntry {
            session: "a.session".into(),
            user_id: "u1".into(),
            cycle: n,
            target: "@group_one".into(),
            random_id: 7,
            attempt: n,
            started_at: at,
            ended_at: at,
            outcome: if n.is_multiple_of(2) {
                Outcome::Ok
            } else {
                Outcome::Error(SendError::FloodWait { secs: 12 })
            },
            violation: (n == 3).then_some(Violation::FloodWaitIgnored),
            post: Some(Post::Text("hello".into())),
        }
    }

    #[test]
    fn lines_have_the_documented_shape_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.jsonl");
        let journal = Journal::open(&path).expect("open");
        for n in 0..4 {
            journal.append(&entry(n)).expect("append");
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let first = text.lines().next().unwrap_or_default();
        assert!(first.contains(r#""outcome":"ok""#), "{first}");
        assert!(
            first.contains(r#""started_at":"2026-11-28T10:00:00.123456Z""#),
            "{first}"
        );
        assert!(first.contains(r#""violation":null"#), "{first}");
        let second = text.lines().nth(1).unwrap_or_default();
        assert!(second.contains(r#""outcome":{"error":{"kind":"flood_wait","secs":12}}"#));
        assert!(text.contains(r#""violation":"flood_wait_ignored""#));
        let back = Journal::read_all(&path).expect("read_all");
        assert_eq!(back, (0..4).map(entry).collect::<Vec<_>>());
    }

    #[test]
    fn a_torn_last_line_is_ignored_but_a_bad_middle_line_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.jsonl");
        let journal = Journal::open(&path).expect("open");
        journal.append(&entry(0)).expect("append");
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"{\"session\":\"half"))
            .expect("torn");
        assert_eq!(Journal::read_all(&path).expect("read").len(), 1);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"\n"))
            .expect("newline");
        assert!(matches!(
            Journal::read_all(&path),
            Err(TelegramError::JournalLine { line: 2, .. })
        ));
    }
}
