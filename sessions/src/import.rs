//! Adding session files to the pool (`herald sessions import`, the admin upload routes).
//!
//! Accepts Telethon `.session` files (kept byte for byte, with their `-journal`), and Telethon
//! string sessions and grammers session files, which it writes out as Telethon `.session` files.
//! Each is validated (a production DC id and a 256-byte auth key) and lands in `sessions/unused/`
//! with mode 0600, under a name that is its id. Anything refused leaves nothing behind: files are
//! built beside their destination and linked into place without replacing anything.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use herald_data::check_session_name;
use herald_session_file::mask_session_name;
use herald_session_file::{SessionFormat, detect_and_read, write_telethon};

use crate::folders::Place;
use crate::{Pool, SessionsError};

/// Largest file accepted as a session (a Telethon file with a big entity cache stays well under).
pub const MAX_SESSION_FILE_BYTES: usize = 8 * 1024 * 1024;

/// A session that joined the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub name: String,
    pub format: SessionFormat,
}

impl Pool {
    /// Imports a session given as bytes (an upload) under `name`.
    pub fn import_bytes(
        &self,
        name: &str,
        bytes: &[u8],
        journal: Option<&[u8]>,
    ) -> Result<Imported, SessionsError> {
        self.check_new_name(name)?;
        if bytes.len() > MAX_SESSION_FILE_BYTES {
            return Err(SessionsError::Invalid(format!(
                "{} is larger than {} MiB: not a session",
                mask_session_name(name),
                MAX_SESSION_FILE_BYTES >> 20
            )));
        }
        let detected = detect_and_read(bytes).map_err(|e| refused(name, &e))?;
        let target = self.folders.path(&Place::Unused, name)?;
        match detected.format {
            SessionFormat::TelethonSqlite => {
                if let Some(journal) = journal {
                    write_new(&target.with_file_name(format!("{name}-journal")), journal)?;
                }
                write_new(&target, bytes)?;
            }
            _ => write_telethon(&target, &detected.credentials).map_err(|e| refused(name, &e))?,
        }
        tracing::info!(session = %mask_session_name(name), format = ?detected.format, "session imported");
        Ok(Imported {
            name: name.to_owned(),
            format: detected.format,
        })
    }

    /// Imports a file from disk. Its name is its id: `x.session` stays `x.session`; a string
    /// session in `x.txt` becomes `x.session`. A `-journal` beside a Telethon file comes along.
    pub fn import_file(&self, path: &Path) -> Result<Imported, SessionsError> {
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                SessionsError::Invalid(format!("{} has no file name", path.display()))
            })?;
        let name = if file_name.ends_with(".session") {
            file_name
        } else {
            let stem = Path::new(&file_name)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("{stem}.session")
        };
        let meta = fs::metadata(path)
            .map_err(|e| SessionsError::io(format!("read {}", path.display()), e))?;
        if meta.len() as usize > MAX_SESSION_FILE_BYTES {
            return Err(SessionsError::Invalid(format!(
                "{} is too large to be a session",
                path.display()
            )));
        }
        let bytes =
            fs::read(path).map_err(|e| SessionsError::io(format!("read {}", path.display()), e))?;
        let journal_path = path.with_file_name(format!(
            "{}-journal",
            path.file_name().unwrap_or_default().to_string_lossy()
        ));
        let journal = fs::read(&journal_path).ok();
        self.import_bytes(&name, &bytes, journal.as_deref())
    }

    /// A new session's name must be acceptable and not already used anywhere.
    fn check_new_name(&self, name: &str) -> Result<(), SessionsError> {
        check_session_name(name).map_err(SessionsError::Invalid)?;
        let doc = self.store.users();
        let known =
            doc.holder_of(name).is_some() || doc.is_banned(name) || doc.bindings.contains_key(name);
        if known || !self.folders.locate(name)?.is_empty() {
            return Err(SessionsError::Conflict(format!(
                "a session named {name} already exists"
            )));
        }
        Ok(())
    }
}

fn refused(name: &str, err: &herald_session_file::SessionFileError) -> SessionsError {
    match err {
        herald_session_file::SessionFileError::AlreadyExists => {
            SessionsError::Conflict(format!("a session named {name} already exists"))
        }
        other => SessionsError::Invalid(format!("{name} is not a usable session: {other}")),
    }
}

/// Writes a new file (0600) without ever replacing one: built in a temporary file beside it,
/// synced, then hard-linked into place (which fails if the name is taken).
fn write_new(target: &Path, bytes: &[u8]) -> Result<(), SessionsError> {
    let dir = target.parent().unwrap_or_else(|| Path::new("."));
    let temp = dir.join(format!(
        ".import-{}-{:016x}.tmp",
        std::process::id(),
        rand::random::<u64>()
    ));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .and_then(|()| fs::hard_link(&temp, target));
    let _ = fs::remove_file(&temp);
    match written {
        Ok(()) => {
            let _ = fs::File::open(dir).and_then(|d| d.sync_all());
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(SessionsError::Conflict(format!(
                "a session named {} already exists",
                target.file_name().unwrap_or_default().to_string_lossy()
            )))
        }
        Err(e) => Err(SessionsError::io("write the imported session", e)),
    }
}
