//! The process-level lock beside each data file, and the write generation it carries.
//!
//! `<file>.lock` is held with an exclusive OS lock (std's `File::lock`, an `flock`) across every
//! read-modify-write, so any number of herald processes sharing the data directory take turns.
//! The kernel drops the lock when a process dies, so a killed writer never wedges the others.
//!
//! The lock file's first 8 bytes count the writes made under it. Readers compare that count (and
//! the data file's inode, size and times) with the copy they hold: inode numbers are reused and
//! timestamps are coarse, so two quick writes can look alike on the file alone, but never on the
//! count. This module never touches the data file itself.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use crate::DataError;

#[derive(Debug)]
pub(crate) struct LockFile {
    file: File,
    label: String,
}

impl LockFile {
    pub(crate) fn open(path: &Path, label: String) -> Result<Self, DataError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| DataError::io(format!("open {label}"), e))?;
        Ok(LockFile { file, label })
    }

    /// Blocks until this process holds the lock exclusively.
    pub(crate) fn lock(&self) -> Result<LockGuard<'_>, DataError> {
        self.file
            .lock()
            .map_err(|e| DataError::io(format!("lock {}", self.label), e))?;
        Ok(LockGuard { lock: self })
    }

    /// The number of writes made under this lock so far. A torn or failed read only makes the
    /// caller re-read the data file, which is always safe.
    pub(crate) fn generation(&self) -> u64 {
        let mut buf = [0u8; 8];
        match self.file.read_at(&mut buf, 0) {
            Ok(8) => u64::from_le_bytes(buf),
            _ => 0,
        }
    }
}

/// Proof that the lock is held; released on drop.
#[derive(Debug)]
pub(crate) struct LockGuard<'a> {
    lock: &'a LockFile,
}

impl LockGuard<'_> {
    /// Counts one more write. Called after the data file was replaced, before the lock is released.
    pub(crate) fn bump_generation(&self) -> Result<u64, DataError> {
        let next = self.lock.generation().wrapping_add(1);
        self.lock
            .file
            .write_at(&next.to_le_bytes(), 0)
            .map_err(|e| DataError::io(format!("write {}", self.lock.label), e))?;
        Ok(next)
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        // Unlocking only fails on a closed descriptor; the kernel releases it with the file anyway.
        let _ = self.lock.file.unlock();
    }
}
