//! The tenant-log writer's open files. A tenant's day file stays open while the tenant keeps
//! logging, so a batch appends to it without opening it again: with 10,000 running bots a batch
//! touches about 2,000 files a second, and their opens (path walks, permission checks, the
//! journal's inode attach) were a large share of the writer's CPU (BENCHMARKS.md, cost).
//!
//! A file is closed once it has been idle for [`IDLE`] batches, and in any case after [`MAX_AGE`]
//! batches, so a day file that rolled over, a tenant that stopped, or a file an operator moved or
//! deleted is let go within a minute (lines appended meanwhile went to the file as it was when
//! opened). At most `cap` files are kept, derived from the process's open-file limit so that
//! Telegram connections and clients keep their room; a file that finds no room is opened and
//! closed for its batch, as every file was before. This module only appends; it never creates
//! directories and never syncs (the writer does both).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use chrono::NaiveDate;

use crate::names::UserId;

/// Batches (about a second each) a kept file may go unused before it is closed.
const IDLE: u64 = 30;
/// Batches after which a kept file is closed however busy it is.
const MAX_AGE: u64 = 60;
/// Descriptors left to everything else before log files get any: connections, clients, Redis.
const RESERVED: u64 = 1024;

struct Kept {
    date: NaiveDate,
    file: File,
    opened: u64,
    used: u64,
}

pub(crate) struct LogFiles {
    /// Each tenant's one kept file: the day file it last appended to.
    kept: HashMap<UserId, Kept>,
    cap: usize,
    batch: u64,
}

impl LogFiles {
    /// Keeps up to half of what the open-file limit leaves above [`RESERVED`].
    pub(crate) fn new() -> LogFiles {
        let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(u64::MAX);
        let cap = soft.saturating_sub(RESERVED) / 2;
        LogFiles::with_cap(usize::try_from(cap.min(1 << 16)).unwrap_or(0))
    }

    pub(crate) fn with_cap(cap: usize) -> LogFiles {
        LogFiles {
            kept: HashMap::new(),
            cap,
            batch: 0,
        }
    }

    /// Appends `text` (whole lines, one `write` where the kernel takes it at once: `O_APPEND`
    /// keeps lines of several processes apart) to the tenant's file of `date` under `user_dir`.
    pub(crate) fn append(
        &mut self,
        user: &UserId,
        date: NaiveDate,
        user_dir: &Path,
        text: &[u8],
    ) -> io::Result<()> {
        if let Some(kept) = self.kept.get_mut(user).filter(|k| k.date == date) {
            kept.used = self.batch;
            let written = kept.file.write_all(text);
            if written.is_err() {
                self.kept.remove(user);
            }
            return written;
        }
        let mut file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(day_file(user_dir, date))?;
        file.write_all(text)?;
        // A new day's file replaces the tenant's previous one.
        if self.kept.len() < self.cap || self.kept.contains_key(user) {
            self.kept.insert(
                user.clone(),
                Kept {
                    date,
                    file,
                    opened: self.batch,
                    used: self.batch,
                },
            );
        }
        Ok(())
    }

    /// Ends a batch: closes the files idle or kept too long.
    pub(crate) fn end_batch(&mut self) {
        self.batch += 1;
        let now = self.batch;
        self.kept
            .retain(|_, kept| now - kept.used < IDLE && now - kept.opened < MAX_AGE);
    }

    #[cfg(test)]
    fn open_count(&self) -> usize {
        self.kept.len()
    }
}

pub(crate) fn day_file(dir: &Path, date: NaiveDate) -> std::path::PathBuf {
    dir.join(format!("{}.log", date.format("%Y-%m-%d")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
    }

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    #[test]
    fn a_kept_file_is_appended_to_and_let_go_when_idle_or_old() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = LogFiles::with_cap(10);
        files
            .append(&user("a"), day(6), dir.path(), b"one\n")
            .unwrap();
        files.end_batch();
        files
            .append(&user("a"), day(6), dir.path(), b"two\n")
            .unwrap();
        assert_eq!(files.open_count(), 1);
        let path = day_file(dir.path(), day(6));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
        // Busy all along, it is still closed at its age limit and opened again on next use.
        let mut closed_at = None;
        while files.batch <= MAX_AGE {
            files.append(&user("a"), day(6), dir.path(), b"").unwrap();
            files.end_batch();
            if files.open_count() == 0 {
                closed_at = Some(files.batch);
                break;
            }
        }
        assert_eq!(closed_at, Some(MAX_AGE));
        files
            .append(&user("a"), day(6), dir.path(), b"three\n")
            .unwrap();
        for _ in 0..IDLE {
            files.end_batch();
        }
        assert_eq!(files.open_count(), 0, "idle");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\nthree\n");
    }

    #[test]
    fn files_beyond_the_cap_are_opened_for_their_batch_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = LogFiles::with_cap(2);
        for id in ["a", "b", "c", "d"] {
            files
                .append(&user(id), day(6), dir.path(), id.as_bytes())
                .unwrap();
        }
        assert_eq!(files.open_count(), 2);
        files.append(&user("c"), day(6), dir.path(), b"!").unwrap();
        assert_eq!(
            std::fs::read_to_string(day_file(dir.path(), day(6))).unwrap(),
            "abcd!"
        );
        let mut none = LogFiles::with_cap(0);
        none.append(&user("e"), day(6), dir.path(), b"e").unwrap();
        assert_eq!(none.open_count(), 0, "a cap of 0 keeps nothing open");
        // The next day's file takes the place of the tenant's previous one.
        files.append(&user("a"), day(7), dir.path(), b"x").unwrap();
        assert_eq!(files.open_count(), 2);
        assert_eq!(
            std::fs::read_to_string(day_file(dir.path(), day(7))).unwrap(),
            "x"
        );
    }
}
