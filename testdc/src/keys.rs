//! Which pre-shared auth keys the DC knows, and whose they are.
//!
//! Owns [`KeyStore`]: key_id (SHA1(auth_key)[12..20]) to session name, home DC and key,
//! built from pairs or read from a directory tree of session files. Must never create a
//! key (a server cannot), never write a session file, and never print a key byte.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use herald_session_file::{AuthKey, detect_and_read};

use crate::TestDcError;
use crate::crypto::key_id;

/// The DC a key is homed in when the caller does not say (Telegram's DC 2).
pub const DEFAULT_DC: i32 = 2;

/// One known key.
#[derive(Clone)]
pub(crate) struct KeyEntry {
    pub(crate) session: String,
    pub(crate) dc_id: i32,
    pub(crate) key: AuthKey,
}

/// Pre-shared auth keys by key_id. Cheap to clone.
#[derive(Clone, Default)]
pub struct KeyStore {
    by_id: HashMap<i64, Arc<KeyEntry>>,
    by_name: HashMap<String, i64>,
}

impl fmt::Debug for KeyStore {
    /// Lists the session names only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.by_name.keys().collect();
        names.sort();
        f.debug_struct("KeyStore")
            .field("sessions", &names)
            .finish()
    }
}

impl KeyStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store of `(session name, key)` pairs, all homed in [`DEFAULT_DC`].
    pub fn from_pairs<N: Into<String>>(
        pairs: impl IntoIterator<Item = (N, AuthKey)>,
    ) -> Result<Self, TestDcError> {
        let mut store = Self::new();
        for (name, key) in pairs {
            store.insert(name, DEFAULT_DC, key)?;
        }
        Ok(store)
    }

    /// Adds one key. The same key under the same name again is a no-op; one key under
    /// two names, or two keys under one name, is refused.
    pub fn insert(
        &mut self,
        session: impl Into<String>,
        dc_id: i32,
        key: AuthKey,
    ) -> Result<(), TestDcError> {
        let session = session.into();
        let id = key_id(key.expose());
        if let Some(known) = self.by_id.get(&id) {
            if known.session == session {
                return Ok(());
            }
            return Err(TestDcError::DuplicateKey {
                first: known.session.clone(),
                second: session,
            });
        }
        if self.by_name.contains_key(&session) {
            return Err(TestDcError::DuplicateName(session));
        }
        self.by_name.insert(session.clone(), id);
        self.by_id.insert(
            id,
            Arc::new(KeyEntry {
                session,
                dc_id,
                key,
            }),
        );
        Ok(())
    }

    /// Reads every `*.session` file under `root` (any depth; Telethon SQLite, grammers or
    /// string sessions, recognised by `herald-session-file`), named by file name as
    /// Herald names sessions, homed in the DC the file says.
    pub fn from_session_dir(root: impl AsRef<Path>) -> Result<Self, TestDcError> {
        let mut store = Self::new();
        let mut pending = vec![root.as_ref().to_path_buf()];
        while let Some(dir) = pending.pop() {
            let listing = std::fs::read_dir(&dir).map_err(|source| TestDcError::KeyDirectory {
                path: dir.clone(),
                source,
            })?;
            let mut paths = Vec::new();
            for entry in listing {
                let entry = entry.map_err(|source| TestDcError::KeyDirectory {
                    path: dir.clone(),
                    source,
                })?;
                paths.push(entry.path());
            }
            // Sorted, so which of two conflicting files is named first is reproducible.
            paths.sort();
            for path in paths {
                if path.is_dir() {
                    pending.push(path);
                } else if path.extension().is_some_and(|e| e == "session") {
                    store.insert_file(&path)?;
                }
            }
        }
        Ok(store)
    }

    fn insert_file(&mut self, path: &Path) -> Result<(), TestDcError> {
        let detected = detect_and_read(path).map_err(|source| TestDcError::SessionFile {
            path: path.to_path_buf(),
            source,
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let creds = detected.credentials;
        self.insert(name, creds.dc_id, creds.auth_key)
    }

    /// How many keys are known.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Whether a session of this name has a key here.
    pub fn contains(&self, session: &str) -> bool {
        self.by_name.contains_key(session)
    }

    pub(crate) fn get(&self, key_id: i64) -> Option<Arc<KeyEntry>> {
        self.by_id.get(&key_id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use herald_session_file::{SessionCredentials, write_telethon};

    use super::*;

    fn key(seed: u8) -> AuthKey {
        AuthKey::new([seed; 256])
    }

    #[test]
    fn pairs_are_found_by_key_id_and_conflicts_refused() {
        let store =
            KeyStore::from_pairs([("a.session", key(1)), ("b.session", key(2))]).expect("two keys");
        let entry = store.get(key_id(&[2; 256])).expect("known");
        assert_eq!((entry.session.as_str(), entry.dc_id), ("b.session", 2));
        assert!(store.get(key_id(&[3; 256])).is_none());

        let same_key = KeyStore::from_pairs([("a", key(1)), ("b", key(1))]);
        assert!(matches!(same_key, Err(TestDcError::DuplicateKey { .. })));
        let same_name = KeyStore::from_pairs([("a", key(1)), ("a", key(2))]);
        assert!(matches!(same_name, Err(TestDcError::DuplicateName(_))));
        assert!(KeyStore::from_pairs([("a", key(1)), ("a", key(1))]).is_ok());
        assert!(!format!("{store:?}").contains("[1, 1"));
    }

    #[test]
    fn a_directory_tree_of_telethon_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let nested = dir.path().join("assigned").join("user-1");
        std::fs::create_dir_all(&nested).expect("mkdir");
        let write = |path: &Path, seed: u8, dc_id: i32| {
            let creds = SessionCredentials {
                dc_id,
                server_address: "127.0.0.1".into(),
                port: 443,
                auth_key: key(seed),
            };
            write_telethon(path, &creds).expect("write");
        };
        write(&dir.path().join("+111.session"), 1, 4);
        write(&nested.join("+222.session"), 2, 2);
        std::fs::write(dir.path().join("notes.txt"), "not a session").expect("write");
        let store = KeyStore::from_session_dir(dir.path()).expect("reads");
        assert_eq!(store.len(), 2);
        assert!(store.contains("+222.session"));
        assert_eq!(store.get(key_id(&[1; 256])).map(|e| e.dc_id), Some(4));

        std::fs::write(dir.path().join("broken.session"), "garbage").expect("write");
        assert!(matches!(
            KeyStore::from_session_dir(dir.path()),
            Err(TestDcError::SessionFile { .. })
        ));
    }
}
