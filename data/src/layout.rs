//! The data directory's layout, the old backend's: `data/`, `sessions/`, `logs/` under one root.
//!
//! Paths are computed here and nowhere else. Creating the directories is the only thing this
//! module does to the disk.

use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::DataError;
use crate::names::UserId;

/// Where everything lives under `HERALD_DATA_DIR`.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

/// The session folders, by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionFolder {
    Unused,
    Assigned,
    Banned,
    Frozen,
}

impl SessionFolder {
    pub const ALL: [SessionFolder; 4] = [
        SessionFolder::Unused,
        SessionFolder::Assigned,
        SessionFolder::Banned,
        SessionFolder::Frozen,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SessionFolder::Unused => "unused",
            SessionFolder::Assigned => "assigned",
            SessionFolder::Banned => "banned",
            SessionFolder::Frozen => "frozen",
        }
    }
}

impl Layout {
    pub fn new(root: impl Into<PathBuf>) -> Layout {
        Layout { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    pub fn users_file(&self) -> PathBuf {
        self.data_dir().join("users.json")
    }

    pub fn stats_file(&self) -> PathBuf {
        self.data_dir().join("stats.json")
    }

    pub fn pairs_file(&self) -> PathBuf {
        self.data_dir().join("api_pairs.json")
    }

    pub fn groups_dir(&self) -> PathBuf {
        self.data_dir().join("groups")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    pub fn sessions_dir(&self) -> PathBuf {
        self.root.join("sessions")
    }

    /// The folder of a session state; `assigned` is the parent of the per-user folders.
    pub fn session_folder(&self, folder: SessionFolder) -> PathBuf {
        self.sessions_dir().join(folder.as_str())
    }

    pub fn assigned_folder(&self, user: &UserId) -> PathBuf {
        self.session_folder(SessionFolder::Assigned)
            .join(user.as_str())
    }

    /// Creates every directory the layout needs (mode 0700), leaving existing ones alone.
    pub fn create_dirs(&self) -> Result<(), DataError> {
        let mut dirs = vec![self.data_dir(), self.groups_dir(), self.logs_dir()];
        dirs.extend(SessionFolder::ALL.iter().map(|f| self.session_folder(*f)));
        for dir in dirs {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|e| {
                    let shown = dir
                        .strip_prefix(&self.root)
                        .unwrap_or(&dir)
                        .display()
                        .to_string();
                    DataError::io(format!("create directory {shown}"), e)
                })?;
        }
        Ok(())
    }
}
