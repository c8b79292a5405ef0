//! `logs/<user_id>/YYYY-MM-DD.log`: each tenant's own log, in the old backend's line format
//! (`YYYY-MM-DD HH:MM:SS - LEVEL - message`, UTC), a new file each day.
//!
//! Lines are queued and appended by one thread in batches (at most every `LOG_FLUSH_INTERVAL`), so
//! a post costs no file operation of its own. Appends use `O_APPEND` with one `write` per batch
//! and file, so several processes can log for the same tenant without tearing lines. Callers must
//! never pass a secret (session string, api_hash, token) in a message. Each batch is made durable
//! with one `syncfs` of the log directory's filesystem (files, new directories and their entries
//! together), so a power cut loses at most the last second of a tenant's log, never the file. One
//! call a batch, not an `fdatasync` per file: with 10,000 bots a batch appends to about 2,000
//! files, and their syncs were the largest share of the process's CPU (BENCHMARKS.md, cost).
//! The files stay open between batches while their tenants keep logging (`log_files`).

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};

use crate::log_files::{LogFiles, day_file};
use crate::names::UserId;

/// A line reaches its file, durably, within this; longer batches mean fewer file opens and syncs
/// when many tenants post.
const LOG_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
        }
    }
}

enum Message {
    Line {
        user: UserId,
        date: NaiveDate,
        line: String,
    },
    Flush(mpsc::SyncSender<()>),
}

#[derive(Debug)]
pub(crate) struct TenantLogs {
    dir: PathBuf,
    sender: Mutex<Option<mpsc::Sender<Message>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// The writer, to wake for a flush or a stop (a line never wakes it).
    writer: Thread,
    /// Batches made durable so far (what the durability test counts).
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "only the durability test reads it")
    )]
    syncs: Arc<AtomicU64>,
}

impl TenantLogs {
    pub(crate) fn start(dir: PathBuf) -> io::Result<TenantLogs> {
        let (sender, receiver) = mpsc::channel();
        let writer_dir = dir.clone();
        let syncs = Arc::new(AtomicU64::new(0));
        let writer_syncs = syncs.clone();
        let thread = std::thread::Builder::new()
            .name("herald-tenant-log".into())
            .spawn(move || write_loop(&writer_dir, &receiver, &writer_syncs))?;
        Ok(TenantLogs {
            dir,
            syncs,
            sender: Mutex::new(Some(sender)),
            writer: thread.thread().clone(),
            thread: Mutex::new(Some(thread)),
        })
    }

    pub(crate) fn log(&self, user: &UserId, level: Level, message: &str) {
        let now = Utc::now();
        // One line per event: a message with newlines would forge lines in the tenant's log.
        let message = if message.contains(['\n', '\r']) {
            std::borrow::Cow::Owned(message.replace(['\n', '\r'], " "))
        } else {
            std::borrow::Cow::Borrowed(message)
        };
        let line = format!("{} - {} - {message}\n", stamp(now), level.as_str());
        self.send(Message::Line {
            user: user.clone(),
            date: now.date_naive(),
            line,
        });
    }

    /// Waits until every line queued so far is in its file.
    pub(crate) fn flush(&self) {
        let (done, wait) = mpsc::sync_channel(1);
        self.send(Message::Flush(done));
        self.writer.unpark();
        let _ = wait.recv();
    }

    fn send(&self, message: Message) {
        let sender = self.sender.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = sender.as_ref() {
            let _ = sender.send(message);
        }
    }

    /// Whether the tenant has a log of today or yesterday (two `stat`s: cheap enough for a
    /// caller on an async runtime to ask before sending the read to the blocking pool).
    pub(crate) fn exists(&self, user: &UserId) -> bool {
        let today = Utc::now().date_naive();
        let dir = self.dir.join(user.as_str());
        [Some(today), today.pred_opt()]
            .into_iter()
            .flatten()
            .any(|day| day_file(&dir, day).exists())
    }

    /// The last `lines` lines of the tenant's log: today's file, topped up from yesterday's so the
    /// view does not go blank at midnight.
    pub(crate) fn tail(&self, user: &UserId, lines: usize) -> Vec<String> {
        let today = Utc::now().date_naive();
        let dir = self.dir.join(user.as_str());
        let mut tail = read_tail(&day_file(&dir, today), lines);
        if tail.len() < lines
            && let Some(yesterday) = today.pred_opt()
        {
            let mut earlier = read_tail(&day_file(&dir, yesterday), lines - tail.len());
            earlier.append(&mut tail);
            tail = earlier;
        }
        tail
    }

    pub(crate) fn stop(&self) {
        drop(self.sender.lock().unwrap_or_else(|p| p.into_inner()).take());
        self.writer.unpark();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = thread.join();
        }
    }
}

impl Drop for TenantLogs {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `YYYY-MM-DD HH:MM:SS`, formatted once per second per thread: at tens of thousands of lines a
/// second, formatting every stamp anew showed in profiles.
fn stamp(now: chrono::DateTime<Utc>) -> String {
    thread_local! {
        static LAST: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((i64::MIN, String::new())) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        let second = now.timestamp();
        if last.0 != second {
            *last = (second, now.format("%Y-%m-%d %H:%M:%S").to_string());
        }
        last.1.clone()
    })
}

/// Sleeps until the batch is due (or a flush or stop wakes it), then takes what was queued. A
/// blocking receive would be woken by every line: a context switch per post, which with 10,000
/// bots was a large share of the process's CPU (BENCHMARKS.md, cost).
fn write_loop(dir: &Path, receiver: &mpsc::Receiver<Message>, syncs: &AtomicU64) {
    let mut buffered: HashMap<(UserId, NaiveDate), String> = HashMap::new();
    let mut made_dirs: HashSet<UserId> = HashSet::new();
    let mut files = LogFiles::new();
    let mut deadline = Instant::now() + LOG_FLUSH_INTERVAL;
    loop {
        let (mut flushes, mut closed) = (Vec::new(), false);
        loop {
            match receiver.try_recv() {
                Ok(Message::Line { user, date, line }) => {
                    buffered.entry((user, date)).or_default().push_str(&line);
                }
                Ok(Message::Flush(done)) => flushes.push(done),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    closed = true;
                    break;
                }
            }
        }
        if closed || !flushes.is_empty() || Instant::now() >= deadline {
            write_out(dir, &mut buffered, &mut made_dirs, &mut files, syncs);
            for done in flushes {
                let _ = done.send(());
            }
            if closed {
                return;
            }
            deadline = Instant::now() + LOG_FLUSH_INTERVAL;
        }
        std::thread::park_timeout(deadline.saturating_duration_since(Instant::now()));
    }
}

fn write_out(
    dir: &Path,
    buffered: &mut HashMap<(UserId, NaiveDate), String>,
    made: &mut HashSet<UserId>,
    files: &mut LogFiles,
    syncs: &AtomicU64,
) {
    if buffered.is_empty() {
        return;
    }
    for ((user, date), text) in buffered.drain() {
        let user_dir = dir.join(user.as_str());
        if !made.contains(&user) {
            let made_dir = fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&user_dir);
            if let Err(e) = made_dir {
                tracing::warn!(user.id = %user, error = %e, "cannot create tenant log directory");
                continue;
            }
            made.insert(user.clone());
        }
        if let Err(e) = files.append(&user, date, &user_dir, text.as_bytes()) {
            // The directory may have been removed by an operator: make it again next time.
            made.remove(&user);
            tracing::warn!(user.id = %user, error = %e, "cannot append to tenant log");
        }
    }
    files.end_batch();
    match sync_filesystem(dir) {
        Ok(()) => {
            syncs.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => tracing::warn!(error = %e, "cannot make the tenant logs durable"),
    }
}

/// Everything written under `dir` reaches the disk: data, inodes and directory entries.
#[cfg(target_os = "linux")]
fn sync_filesystem(dir: &Path) -> io::Result<()> {
    rustix::fs::syncfs(File::open(dir)?).map_err(io::Error::from)
}

/// Without `syncfs`, the whole filesystem (`sync`): still one call a batch.
#[cfg(not(target_os = "linux"))]
fn sync_filesystem(_dir: &Path) -> io::Result<()> {
    rustix::fs::sync();
    Ok(())
}

/// The last `wanted` lines of a file, reading backwards in chunks so a long log costs little.
fn read_tail(path: &Path, wanted: usize) -> Vec<String> {
    if wanted == 0 {
        return Vec::new();
    }
    let Ok(mut file) = File::open(path) else {
        return Vec::new();
    };
    let Ok(len) = file.seek(SeekFrom::End(0)) else {
        return Vec::new();
    };
    const CHUNK: u64 = 16 * 1024;
    let mut start = len;
    let mut buf: Vec<u8> = Vec::new();
    while start > 0 && bytecount_newlines(&buf) <= wanted {
        let step = CHUNK.min(start);
        start -= step;
        let mut chunk = vec![0u8; step as usize];
        if file.seek(SeekFrom::Start(start)).is_err() || file.read_exact(&mut chunk).is_err() {
            return Vec::new();
        }
        chunk.extend_from_slice(&buf);
        buf = chunk;
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    // A partial first line (cut by the chunking) is dropped unless it starts the file.
    if start > 0 && !lines.is_empty() {
        lines.remove(0);
    }
    let skip = lines.len().saturating_sub(wanted);
    lines.split_off(skip)
}

fn bytecount_newlines(buf: &[u8]) -> usize {
    buf.iter().filter(|b| **b == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_land_in_todays_file_in_the_old_format_and_tail_reads_them_back() {
        let dir = tempfile::tempdir().unwrap();
        let logs = TenantLogs::start(dir.path().to_owned()).unwrap();
        let user = UserId::parse("7").unwrap();
        for i in 0..150 {
            logs.log(&user, Level::Info, &format!("post {i}\nforged line"));
        }
        logs.flush();
        let tail = logs.tail(&user, 100);
        assert_eq!(tail.len(), 100);
        assert!(
            tail[99].ends_with(" - INFO - post 149 forged line"),
            "{}",
            tail[99]
        );
        assert!(tail[0].ends_with("post 50 forged line"));
        let stamp = &tail[0][..19];
        assert!(chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S").is_ok());
    }

    #[test]
    fn each_batch_is_synced_once_whatever_files_it_appended_to() {
        let dir = tempfile::tempdir().unwrap();
        let logs = TenantLogs::start(dir.path().to_owned()).unwrap();
        let users: Vec<UserId> = ["a", "b", "c"]
            .iter()
            .map(|u| UserId::parse(u).unwrap())
            .collect();
        // Three new directories, three new files, 1,000 lines: one sync.
        for i in 0..1000 {
            logs.log(&users[i % 3], Level::Info, &format!("line {i}"));
        }
        logs.flush();
        assert_eq!(logs.syncs.load(Ordering::Relaxed), 1);
        for (user, lines) in users.iter().zip([334, 333, 333]) {
            assert_eq!(logs.tail(user, 1000).len(), lines);
        }
        // A flush with nothing queued syncs nothing.
        logs.flush();
        assert_eq!(logs.syncs.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn tail_of_a_long_file_reads_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let text: String = (0..5000)
            .map(|i| format!("line {i:05} {}\n", "y".repeat(20)))
            .collect();
        fs::write(&path, text).unwrap();
        let tail = read_tail(&path, 1200);
        assert_eq!(tail.len(), 1200);
        assert!(tail[0].starts_with("line 03800"));
        assert!(tail[1199].starts_with("line 04999"));
    }
}
