//! What the worker reads from a session's Telethon file (its login and the chats it resolved
//! before), kept while the file is unchanged: opening an SQLite file for every cycle of every
//! session cost more than the cycle's posts (bench posts). A file that changes (another inode,
//! size or time; Herald itself changes it when it keeps newly resolved chats) is read again.
//! The SQLite reads and writes run on the blocking pool, never on the runtime's threads; only
//! the stat that validates the cache (microseconds) runs inline.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use herald_session_file::{
    Entity, SessionCredentials, SessionFileError, read_entities, read_telethon, remember_entities,
};

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
#[derive(Debug, Default)]
pub(crate) struct CredentialCache {
    entries: Mutex<Entries>,
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
        let owned = path.to_owned();
        let read = tokio::task::spawn_blocking(move || {
            let credentials = read_telethon(&owned)?;
            let entities = read_entities(&owned)?;
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
