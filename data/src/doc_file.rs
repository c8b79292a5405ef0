//! One JSON data file: its parsed copy in memory, and the rules for when that copy is stale.
//!
//! Reads are cheap: the parsed copy is reused while the file is unchanged, which one `stat` and an
//! 8-byte read of the lock file's write count decide. A file that no longer parses is never
//! overwritten: the last good copy keeps being served and the file is reported read-only until
//! someone repairs it. This module reads files; only the committer writes them.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::DataError;
use crate::lock::{LockFile, LockGuard};

/// What a data file must be to live in a [`DocFile`].
pub trait Document: Serialize + DeserializeOwned + Default + Clone + Send + Sync + 'static {
    /// How the committer turns the document into bytes; it lives as long as the committer, so
    /// it may keep what a later write can reuse.
    type Encoder: Encoder<Self>;

    /// Invariants checked after a file is parsed and before any write; the message names the
    /// offending record.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }

    /// Cheap check that a change left the document as it was, so that nothing is written. `false`
    /// when unsure (the write then happens, which is always safe).
    fn unchanged_since(&self, _before: &Self) -> bool {
        false
    }
}

/// Turns a document into the file's bytes.
pub trait Encoder<T>: Default + Send + 'static {
    fn encode(&mut self, doc: &T) -> serde_json::Result<Vec<u8>>;
}

/// Pretty-printed JSON, like the old backend's `indent=2`, made afresh each time.
#[derive(Debug, Default)]
pub struct Pretty;

impl<T: Serialize> Encoder<T> for Pretty {
    fn encode(&mut self, doc: &T) -> serde_json::Result<Vec<u8>> {
        serde_json::to_vec_pretty(doc)
    }
}

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
    cache: Mutex<Cache<T>>,
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
            cache: Mutex::new(Cache {
                doc: Arc::new(doc),
                version: Some(Version { generation, stamp }),
                read_only: None,
            }),
        })
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

    /// The current document: the cached copy unless the file changed since it was parsed.
    pub(crate) fn current(&self) -> Arc<T> {
        let mut cache = self.cache();
        self.refresh(&mut cache);
        cache.doc.clone()
    }

    /// The current document for a write, with the process lock held: refuses when read-only.
    pub(crate) fn current_for_write(&self, _held: &LockGuard<'_>) -> Result<Arc<T>, DataError> {
        let mut cache = self.cache();
        self.refresh(&mut cache);
        match &cache.read_only {
            Some(reason) => Err(DataError::ReadOnly {
                reason: reason.clone(),
            }),
            None => Ok(cache.doc.clone()),
        }
    }

    /// Why writes are refused, if they are.
    pub(crate) fn read_only(&self) -> Option<String> {
        let mut cache = self.cache();
        self.refresh(&mut cache);
        cache.read_only.clone()
    }

    /// Installs the document just written through `written` (the renamed temporary file) under
    /// the lock whose write count is now `generation`.
    pub(crate) fn publish(&self, doc: Arc<T>, written: &File, generation: u64) {
        let stamp = written.metadata().ok().map(|m| Stamp::of(&m));
        let mut cache = self.cache();
        cache.doc = doc;
        // Without a stamp the next read re-parses, which is merely slower.
        cache.version = stamp.map(|stamp| Version {
            generation,
            stamp: Some(stamp),
        });
    }

    fn cache(&self) -> MutexGuard<'_, Cache<T>> {
        // A panic while holding this lock cannot leave the cache half-updated: every assignment
        // to it is a whole value, so the poisoned state is still consistent.
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn refresh(&self, cache: &mut Cache<T>) {
        // The write count is read before the file so that a write landing in between makes the
        // next read look again instead of pinning new content to an old count.
        let generation = self.lock.generation();
        let stamp = match std::fs::metadata(&self.path) {
            Ok(meta) => Some(Stamp::of(&meta)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                tracing::warn!(file = %self.label, error = %e, "cannot stat data file; serving the cached copy");
                return;
            }
        };
        let now = Version { generation, stamp };
        if cache.version == Some(now) {
            return;
        }
        match load::<T>(&self.path, &self.label) {
            Ok((doc, stamp)) => {
                if cache.read_only.take().is_some() {
                    tracing::info!(file = %self.label, "data file parses again; writes allowed");
                }
                cache.doc = Arc::new(doc);
                cache.version = Some(Version { generation, stamp });
            }
            Err(err @ DataError::Corrupt { .. }) => {
                if cache.read_only.is_none() {
                    tracing::error!(file = %self.label, error = %err, "data file is corrupt; serving the last good copy and refusing writes");
                }
                cache.read_only = Some(err.to_string());
                // Remember the bad version so it is not parsed again on every read.
                cache.version = Some(now);
            }
            Err(err) => {
                tracing::warn!(file = %self.label, error = %err, "cannot read data file; serving the cached copy");
            }
        }
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
