//! What the worker reads from a session's Telethon file (its login and the chats it resolved
//! before), kept while the file is unchanged: opening an SQLite file for every cycle of every
//! session cost more than the cycle's posts (bench posts). A file that changes (another inode,
//! size or time; Herald itself changes it when it keeps newly resolved chats) is read again.
//! The SQLite reads and writes run on the blocking pool, never on the runtime's threads; only
//! the stat that validates the cache (microseconds) runs inline. At most one read a core runs
//! at once: when thousands of bots start together their reads queue here rather than as
//! blocking-pool threads (each with its own stack and allocator cache; the start of 10,000
//! bots had run about forty), and the cores finish them no later.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use herald_session_file::{
    Entity, SessionCredentials, SessionFileError, read_telethon_and_entities, remember_entities,
};
use tokio::sync::Semaphore;

type Stamp = (u64, u64, i64, i64);

/// By file name: the stamp of the file read and what it held.
type Entries = HashMap<Box<OsStr>, (Stamp, Arc<SessionFile>)>;

/// A session file's login and known chats.
#[derive(Debug, Clone)]
pub(crate) struct SessionFile {
    pub(crate) credentials: SessionCredentials,
    pub(crate) entities: Arc<Vec<Entity>>,
}

/// Each file's reading behind an `Arc`: a map slot holds a pointer rather than an
/// authorization key (256 bytes) and its address, and a hit is a count bumped, not a copy
/// (10,000 running sessions, BENCHMARKS.md, cost). Keyed by the file's name, the session's
/// (unique in the pool), not its whole path: the stamp, which names the inode, tells whether
/// the file read is the one asked for.
#[derive(Debug)]
pub(crate) struct CredentialCache {
    entries: Mutex<Entries>,
    /// One permit a core: the reads running at once.
    reading: Semaphore,
}

impl Default for CredentialCache {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        CredentialCache {
            entries: Mutex::default(),
            reading: Semaphore::new(cores),
        }
    }
}

impl CredentialCache {
    pub(crate) async fn read(&self, path: &Path) -> Result<Arc<SessionFile>, SessionFileError> {
        let stamp = stamp(path)?;
        let name = path.file_name().unwrap_or(path.as_os_str());
        if let Some((seen, file)) = self.entries().get(name)
            && *seen == stamp
        {
            return Ok(file.clone());
        }
        // Never closed, so never refused; the permit goes when the read ends.
        let _reading = self.reading.acquire().await;
        let owned = path.to_owned();
        let read = tokio::task::spawn_blocking(move || {
            let (credentials, entities) = read_telethon_and_entities(&owned)?;
            Ok::<_, SessionFileError>(Arc::new(SessionFile {
                credentials,
                entities: Arc::new(entities),
            }))
        })
        .await
        .map_err(|e| SessionFileError::Io(std::io::Error::other(e)))??;
        self.entries().insert(name.into(), (stamp, read.clone()));
        Ok(read)
    }

    /// Keeps chats a connection resolved in the session's file.
    pub(crate) async fn remember(
        &self,
        path: &Path,
        learned: Vec<Entity>,
    ) -> Result<(), SessionFileError> {
        if learned.is_empty() {
            return Ok(());
        }
        let owned = path.to_owned();
        tokio::task::spawn_blocking(move || remember_entities(&owned, &learned))
            .await
            .map_err(|e| SessionFileError::Io(std::io::Error::other(e)))?
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn stamp(path: &Path) -> Result<Stamp, SessionFileError> {
    let meta = std::fs::metadata(path).map_err(SessionFileError::Io)?;
    Ok((meta.ino(), meta.size(), meta.mtime(), meta.mtime_nsec()))
}
