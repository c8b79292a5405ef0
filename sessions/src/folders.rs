//! The session folders on disk: listing them, finding a session's file, and moving a session
//! (with its `-journal`) from one folder to another.
//!
//! Folders follow `users.json`, never the other way round: callers decide where a session belongs
//! from `users.json` and call [`Folders::settle`]; this module never decides a session's state and
//! never deletes a file.

use std::fs;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use herald_data::{Layout, SessionFolder, UserId, UsersDoc, check_session_name};
use herald_session_file::mask_session_name;

use crate::SessionsError;

/// Where a session's file is, or should be.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Place {
    Unused,
    Assigned(String),
    Banned,
    Frozen,
}

impl Place {
    pub fn folder(&self) -> SessionFolder {
        match self {
            Place::Unused => SessionFolder::Unused,
            Place::Assigned(_) => SessionFolder::Assigned,
            Place::Banned => SessionFolder::Banned,
            Place::Frozen => SessionFolder::Frozen,
        }
    }

    /// Where `users.json` says the session belongs, given the folders it was `found` in. A
    /// session users.json does not mention stays frozen if an operator froze it, stays banned if
    /// it lies in `banned/` (the old backend's only record of a ban), and is unused otherwise.
    pub fn wanted(doc: &UsersDoc, session: &str, found: &[Place]) -> Place {
        if let Some(user) = doc.holder_of(session) {
            Place::Assigned(user.to_owned())
        } else if doc.is_banned(session) || found.contains(&Place::Banned) {
            Place::Banned
        } else if found.contains(&Place::Frozen) {
            Place::Frozen
        } else {
            Place::Unused
        }
    }
}

#[derive(Debug, Clone)]
pub struct Folders {
    layout: Layout,
}

impl Folders {
    pub fn new(layout: Layout) -> Folders {
        Folders { layout }
    }

    pub fn dir(&self, place: &Place) -> Result<PathBuf, SessionsError> {
        Ok(match place {
            Place::Assigned(user) => {
                let user = UserId::parse(user).map_err(SessionsError::Invalid)?;
                self.layout.assigned_folder(&user)
            }
            other => self.layout.session_folder(other.folder()),
        })
    }

    /// Session files directly in a folder (not `assigned/`, whose files are one level down),
    /// sorted by name.
    pub fn list(&self, place: &Place) -> Result<Vec<String>, SessionsError> {
        list_sessions(&self.dir(place)?)
    }

    /// [`Folders::list`] on the blocking pool: a directory walk must not hold an async
    /// runtime's thread (the pool's async operations list through this).
    pub async fn list_off_runtime(&self, place: &Place) -> Result<Vec<String>, SessionsError> {
        let dir = self.dir(place)?;
        tokio::task::spawn_blocking(move || list_sessions(&dir))
            .await
            .map_err(|e| SessionsError::io("list sessions", std::io::Error::other(e)))?
    }

    /// Every `(user_id, file)` under `assigned/`, whatever users.json says.
    pub fn list_assigned(&self) -> Result<Vec<(String, String)>, SessionsError> {
        let root = self.layout.session_folder(SessionFolder::Assigned);
        let mut found = Vec::new();
        for entry in read_dir(&root)? {
            let entry = entry.map_err(|e| SessionsError::io("list sessions/assigned", e))?;
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                let user = entry.file_name().to_string_lossy().into_owned();
                for file in list_sessions(&entry.path())? {
                    found.push((user.clone(), file));
                }
            }
        }
        found.sort();
        Ok(found)
    }

    /// Every place where a file of this name exists.
    pub fn locate(&self, session: &str) -> Result<Vec<Place>, SessionsError> {
        let mut places = Vec::new();
        for place in [Place::Unused, Place::Banned, Place::Frozen] {
            if self.dir(&place)?.join(session).is_file() {
                places.push(place);
            }
        }
        for (user, file) in self.list_assigned()? {
            if file == session {
                places.push(Place::Assigned(user));
            }
        }
        Ok(places)
    }

    /// The path of a session's file at `place`.
    pub fn path(&self, place: &Place, session: &str) -> Result<PathBuf, SessionsError> {
        check_session_name(session).map_err(SessionsError::Invalid)?;
        Ok(self.dir(place)?.join(session))
    }

    /// Moves the session's file (and its journal) to `to`, from wherever it is. Returns what
    /// happened; a file already in place is left alone, a file found in two places is not moved.
    pub fn settle(&self, session: &str, to: &Place) -> Result<Settled, SessionsError> {
        check_session_name(session).map_err(SessionsError::Invalid)?;
        let places = self.locate(session)?;
        if places.contains(to) {
            return Ok(Settled::InPlace);
        }
        match places.as_slice() {
            [] => Ok(Settled::Missing),
            [from] => {
                self.move_file(session, from, to)?;
                Ok(Settled::Moved { from: from.clone() })
            }
            _ => Ok(Settled::Ambiguous(places)),
        }
    }

    fn move_file(&self, session: &str, from: &Place, to: &Place) -> Result<(), SessionsError> {
        let from_dir = self.dir(from)?;
        let to_dir = self.dir(to)?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&to_dir)
            .map_err(|e| {
                SessionsError::io(format!("create the {} folder", to.folder().as_str()), e)
            })?;
        let masked = mask_session_name(session);
        // The journal first: a crash between the two renames then leaves the session where it
        // was with its journal already beside its destination, which the next settle completes.
        let journal = format!("{session}-journal");
        if from_dir.join(&journal).exists() {
            fs::rename(from_dir.join(&journal), to_dir.join(&journal))
                .map_err(|e| SessionsError::io(format!("move the journal of {masked}"), e))?;
        }
        fs::rename(from_dir.join(session), to_dir.join(session))
            .map_err(|e| SessionsError::io(format!("move {masked}"), e))?;
        for dir in [&from_dir, &to_dir] {
            fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| {
                    SessionsError::io(format!("sync the {} folder", to.folder().as_str()), e)
                })?;
        }
        tracing::info!(session = %masked, from = from.folder().as_str(), to = to.folder().as_str(), "session file moved");
        Ok(())
    }
}

/// The outcome of [`Folders::settle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    InPlace,
    Moved {
        from: Place,
    },
    /// No file of that name anywhere.
    Missing,
    /// Files of that name in several folders: left for an operator.
    Ambiguous(Vec<Place>),
}

fn read_dir(dir: &Path) -> Result<Vec<io::Result<fs::DirEntry>>, SessionsError> {
    match fs::read_dir(dir) {
        Ok(entries) => Ok(entries.collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(SessionsError::io("list a session folder", e)),
    }
}

fn list_sessions(dir: &Path) -> Result<Vec<String>, SessionsError> {
    let mut names = Vec::new();
    for entry in read_dir(dir)? {
        let entry = entry.map_err(|e| SessionsError::io("list a session folder", e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".session") && entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}
