//! One JSON data file: its parsed copy in memory, and the rules for when that copy is stale.
//!
//! Reads are cheap: the parsed copy is reused while the file is unchanged, which one `stat` and an
//! 8-byte read of the lock file's write count decide (microseconds, so readers on the async
//! runtime do them inline). The copy is an `Arc` swapped under a mutex held only for the swap:
//! when another process changed the file, one reader re-parses it outside the lock while the
//! others keep being served the copy they had, so a parse never holds up a request that did not
//! ask for it. A file that no longer parses is never overwritten: the last good copy keeps being
//! served and the file is reported read-only until someone repairs it. This module reads files;
//! only the committer writes them.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::DataError;
use crate::document::Document;
use crate::lock::{LockFile, LockGuard};

/// Identity of one version of a data file. The lock file's write count tells two versions apart
/// even when the file system reuses an inode within one timestamp tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Version {
    generation: u64,
    stamp: Option<Stamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(meta: &Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// One parsed version of the file, as readers share it.
#[derive(Debug)]
struct Cache<T> {
    doc: Arc<T>,
    version: Option<Version>,
    read_only: Option<String>,
}

#[derive(Debug)]
pub(crate) struct DocFile<T> {
    path: PathBuf,
    label: String,
    lock: LockFile,
    /// Held only to clone or swap the `Arc`.
    cache: Mutex<Arc<Cache<T>>>,
    /// Held by the one thread re-reading the file.
    refreshing: Mutex<()>,
    /// A re-read is queued on the blocking pool (readers on an async runtime never parse).
    queued: std::sync::atomic::AtomicBool,
    /// This process's committer is between replacing the file and publishing what it wrote.
    writing: std::sync::atomic::AtomicBool,
}

impl<T: Document> DocFile<T> {
    /// Opens and parses the file; a missing file is an empty document, a corrupt one an error.
    pub(crate) fn open(path: PathBuf, label: String) -> Result<Self, DataError> {
        let lock = LockFile::open(&lock_path(&path), format!("{label}.lock"))?;
        {
            let _held = lock.lock()?;
            crate::durable::remove_stale_temps(&path);
        }
        let generation = lock.generation();
        let (doc, stamp) = load(&path, &label)?;
        Ok(DocFile {
            path,
            label,
            lock,
            cache: Mutex::new(Arc::new(Cache {
                doc: Arc::new(doc),
                version: Some(Version { generation, stamp }),
                read_only: None,
            })),
            refreshing: Mutex::new(()),
            queued: std::sync::atomic::AtomicBool::new(false),
            writing: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Marks a write of this process's committer in progress until the guard drops (after
    /// [`publish`](Self::publish)). Readers meanwhile keep the cached copy: the new file is in
    /// place before its write count is, and a reader seeing one without the other would parse
    /// the whole file only for the committer to publish the same document a moment later (with
    /// 3,000 tenants starting, 355 parses in 20 s before this and 5 after, BENCHMARKS.md, cost). No caller
    /// waits for that write yet, so none misses it.
    pub(crate) fn writing(&self) -> WriteInProgress<'_> {
        self.writing
            .store(true, std::sync::atomic::Ordering::Release);
        WriteInProgress(&self.writing)
    }

    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn lock(&self) -> Result<LockGuard<'_>, DataError> {
        self.lock.lock()
    }

    /// The current document: the cached copy unless the file changed since it was parsed, in
    /// which case it is re-parsed here (or the re-parse another thread is doing is waited for).
    pub(crate) fn current(&self) -> Arc<T> {
        self.fresh(true).doc.clone()
    }

    /// Like [`DocFile::current`], for readers that may be served the copy before a change
    /// another process made a moment ago (the API's read routes): on an async runtime the
    /// re-parse (tens of milliseconds for a big users.json) goes to the blocking pool and this
    /// reader gets the copy it had; elsewhere it re-parses here.
    pub(crate) fn recent(self: &Arc<Self>) -> Arc<T> {
        self.cached_or_fresh().doc.clone()
    }

    fn cached_or_fresh(self: &Arc<Self>) -> Arc<Cache<T>> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return self.fresh(false);
        };
        let seen = self.snapshot();
        if self
            .version_now()
            .is_none_or(|now| seen.version == Some(now))
        {
            return seen;
        }
        if !self.queued.swap(true, std::sync::atomic::Ordering::AcqRel) {
            let file = Arc::clone(self);
            runtime.spawn_blocking(move || {
                // Cleared after the re-read (or its panic), not before: one re-read at a time.
                // A change that landed meanwhile is found by the next reader, which queues the
                // next one.
                let _clear = Dequeue(&file.queued);
                file.fresh(true);
            });
        }
        seen
    }

    /// The current document for a write, with the process lock held: refuses when read-only.
    /// Always the file as it is now (waits for a re-parse in progress).
    pub(crate) fn current_for_write(&self, _held: &LockGuard<'_>) -> Result<Arc<T>, DataError> {
        let cache = self.fresh(true);
        match &cache.read_only {
            Some(reason) => Err(DataError::ReadOnly {
                reason: reason.clone(),
            }),
            None => Ok(cache.doc.clone()),
        }
    }

    /// Why writes are refused, if they are: always as the file is now (it re-parses here when
    /// the file changed; health and start ask, not every read).
    pub(crate) fn read_only(&self) -> Option<String> {
        self.fresh(true).read_only.clone()
    }

    /// Installs the document just written through `written` (the renamed temporary file) under
    /// the lock whose write count is now `generation`.
    pub(crate) fn publish(&self, doc: Arc<T>, written: &File, generation: u64) {
        let stamp = written.metadata().ok().map(|m| Stamp::of(&m));
        let mut cache = self.cache();
        // Without a stamp the next read re-parses, which is merely slower.
        let next = Cache {
            doc,
            version: stamp.map(|stamp| Version {
                generation,
                stamp: Some(stamp),
            }),
            read_only: cache.read_only.clone(),
        };
        *cache = Arc::new(next);
    }

    fn cache(&self) -> MutexGuard<'_, Arc<Cache<T>>> {
        // Every assignment under this lock is a whole `Arc`: a poisoned lock is still consistent.
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn snapshot(&self) -> Arc<Cache<T>> {
        self.cache().clone()
    }

    /// The file's version now: its write count, read before the file so that a write landing in
    /// between makes the next read look again instead of pinning new content to an old count.
    /// `None` when the file cannot be looked at (the cached copy is served then).
    fn version_now(&self) -> Option<Version> {
        let generation = self.lock.generation();
        let stamp = match std::fs::metadata(&self.path) {
            Ok(meta) => Some(Stamp::of(&meta)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                tracing::warn!(file = %self.label, error = %e, "cannot stat data file; serving the cached copy");
                return None;
            }
        };
        Some(Version { generation, stamp })
    }

    /// The cache, re-read first if the file changed. `wait`: wait for a re-read another thread
    /// is doing rather than take the older copy.
    fn fresh(&self, wait: bool) -> Arc<Cache<T>> {
        let seen = self.snapshot();
        let Some(now) = self.version_now() else {
            return seen;
        };
        if seen.version == Some(now) || self.writing.load(std::sync::atomic::Ordering::Acquire) {
            return seen;
        }
        let _refreshing = match self.refreshing.try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) if !wait => return seen,
            Err(std::sync::TryLockError::WouldBlock) => self
                .refreshing
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        };
        // Another thread may have re-read it meanwhile.
        let seen = self.snapshot();
        if seen.version == Some(now) {
            return seen;
        }
        let next = match load::<T>(&self.path, &self.label) {
            Ok((doc, stamp)) => {
                if seen.read_only.is_some() {
                    tracing::info!(file = %self.label, "data file parses again; writes allowed");
                }
                Cache {
                    doc: Arc::new(doc),
                    version: Some(Version {
                        generation: now.generation,
                        stamp,
                    }),
                    read_only: None,
                }
            }
            Err(err @ DataError::Corrupt { .. }) => {
                if seen.read_only.is_none() {
                    tracing::error!(file = %self.label, error = %err, "data file is corrupt; serving the last good copy and refusing writes");
                }
                // Remember the bad version so it is not parsed again on every read.
                Cache {
                    doc: seen.doc.clone(),
                    version: Some(now),
                    read_only: Some(err.to_string()),
                }
            }
            Err(err) => {
                tracing::warn!(file = %self.label, error = %err, "cannot read data file; serving the cached copy");
                return seen;
            }
        };
        let next = Arc::new(next);
        let mut cache = self.cache();
        // The committer may have published its own write while this read ran: that one is
        // newer than what was parsed here, and a writer's caller must read its own write.
        if !Arc::ptr_eq(&cache, &seen) {
            return cache.clone();
        }
        *cache = next.clone();
        next
    }
}

/// Clears the "write in progress" flag when dropped.
pub(crate) struct WriteInProgress<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for WriteInProgress<'_> {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::Release);
    }
}

/// Clears a "re-read queued" flag when dropped.
struct Dequeue<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for Dequeue<'_> {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::Release);
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".lock");
    path.with_file_name(name)
}

/// Reads and parses one data file; its stamp is taken from the open descriptor, so it describes
/// exactly the bytes parsed even if the file is replaced meanwhile.
fn load<T: Document>(path: &Path, label: &str) -> Result<(T, Option<Stamp>), DataError> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((T::default(), None)),
        Err(e) => return Err(DataError::io(format!("read {label}"), e)),
    };
    let meta = file
        .metadata()
        .map_err(|e| DataError::io(format!("read {label}"), e))?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes)
        .map_err(|e| DataError::io(format!("read {label}"), e))?;
    let doc = parse::<T>(&bytes, label)?;
    Ok((doc, Some(Stamp::of(&meta))))
}

pub(crate) fn parse<T: Document>(bytes: &[u8], label: &str) -> Result<T, DataError> {
    let doc: T = serde_json::from_slice(bytes).map_err(|e| DataError::corrupt(label, &e))?;
    doc.validate().map_err(|reason| DataError::Corrupt {
        file: label.to_owned(),
        position: None,
        reason,
    })?;
    Ok(doc)
}
