//! Session credentials read from the pool's Telethon files, kept while the file is unchanged:
//! opening an SQLite file for every cycle of every session cost more than the cycle's posts
//! (bench posts). A file that changes (another inode, size or time) is read again.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use herald_session_file::{SessionCredentials, SessionFileError, read_telethon};

type Stamp = (u64, u64, i64, i64);

#[derive(Debug, Default)]
pub(crate) struct CredentialCache {
    entries: Mutex<HashMap<PathBuf, (Stamp, SessionCredentials)>>,
}

impl CredentialCache {
    pub(crate) fn read(&self, path: &Path) -> Result<SessionCredentials, SessionFileError> {
        let meta = std::fs::metadata(path).map_err(SessionFileError::Io)?;
        let stamp = (meta.ino(), meta.size(), meta.mtime(), meta.mtime_nsec());
        if let Some((seen, credentials)) = self.entries().get(path)
            && *seen == stamp
        {
            return Ok(credentials.clone());
        }
        let credentials = read_telethon(path)?;
        self.entries()
            .insert(path.to_owned(), (stamp, credentials.clone()));
        Ok(credentials)
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, (Stamp, SessionCredentials)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}
