//! A zip of session files, imported as the admin bulk upload receives it (from outside, so from
//! anyone who holds an admin token): bounded in entries, per-entry size, compression ratio and
//! total expansion, and no entry lands anywhere but `sessions/unused/`.
//!
//! Owns the zip policy; each entry then goes through [`crate::Pool::import_bytes`] like a single
//! upload. Entry names are judged by the zip crate's own safe-path check (`enclosed_name`: no
//! absolute path, no `..`), and only a plain, visible file name is taken. Must never write a file
//! for an entry it refused, and never trust a header's sizes.

use std::collections::BTreeMap;
use std::io::Read;

use crate::{MAX_SESSION_FILE_BYTES, Pool, SessionsError};

/// Entries one zip may hold.
pub const MAX_ZIP_ENTRIES: usize = 1000;
/// Bytes all entries together may expand to.
pub const MAX_ZIP_TOTAL: u64 = 256 * 1024 * 1024;
/// Largest accepted expansion of one entry (uncompressed / compressed).
pub const MAX_ZIP_RATIO: u64 = 100;

/// What a zip import did: the session names added, and each entry refused with its reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZipImport {
    pub extracted: Vec<String>,
    pub rejected: Vec<(String, String)>,
}

impl Pool {
    /// Imports every session file in a zip into `sessions/unused/` (a `<name>-journal` entry
    /// travels with its session). Refuses the whole zip when it is not one, holds too many
    /// entries or expands too far; refuses single entries with a reason otherwise.
    pub fn import_zip(&self, bytes: &[u8]) -> Result<ZipImport, SessionsError> {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .map_err(|e| SessionsError::Invalid(format!("Not a zip file: {e}")))?;
        if archive.len() > MAX_ZIP_ENTRIES {
            return Err(SessionsError::Invalid(format!(
                "The zip holds {} entries; at most {MAX_ZIP_ENTRIES} are accepted",
                archive.len()
            )));
        }
        let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut import = ZipImport::default();
        let mut total = 0u64;
        for i in 0..archive.len() {
            let mut entry = archive
                .by_index(i)
                .map_err(|e| SessionsError::Invalid(format!("Unreadable zip: {e}")))?;
            if entry.is_dir() {
                continue;
            }
            let Ok(raw_name) = entry.name().map(|n| n.into_owned()) else {
                import.rejected.push((
                    format!("entry {i}"),
                    "the entry's name cannot be read".into(),
                ));
                continue;
            };
            let Some(name) = plain_name(entry.enclosed_name().as_deref(), &raw_name) else {
                import.rejected.push((raw_name, "the entry would land outside sessions/unused/ (folders, '..' and hidden names are refused)".into()));
                continue;
            };
            let compressed = entry.compressed_size().max(1);
            // Never trust the header's size: read at most one byte past the limit.
            let mut data = Vec::new();
            let read = (&mut entry)
                .take(MAX_SESSION_FILE_BYTES as u64 + 1)
                .read_to_end(&mut data);
            let refusal = if read.is_err() {
                Some("the entry cannot be decompressed")
            } else if data.len() > MAX_SESSION_FILE_BYTES {
                Some("the entry is too large to be a session")
            } else if data.len() as u64 / compressed > MAX_ZIP_RATIO {
                Some("the entry's compression ratio is suspicious (a zip bomb?)")
            } else {
                None
            };
            if let Some(why) = refusal {
                import.rejected.push((name, why.into()));
                continue;
            }
            total += data.len() as u64;
            if total > MAX_ZIP_TOTAL {
                return Err(SessionsError::TooLarge(
                    "The zip expands to too many bytes".into(),
                ));
            }
            files.insert(name, data);
        }
        for (name, data) in &files {
            if name.ends_with("-journal") {
                continue;
            }
            let journal = files.get(&format!("{name}-journal")).map(Vec::as_slice);
            match self.import_bytes(name, data, journal) {
                Ok(imported) => import.extracted.push(imported.name),
                Err(err) => import.rejected.push((name.clone(), err.to_string())),
            }
        }
        Ok(import)
    }
}

/// The entry's name when the zip crate found it safe and it is one visible file name: no
/// folder, no `..`, no absolute path, no backslash (a folder on Windows), no hidden name.
fn plain_name(enclosed: Option<&std::path::Path>, raw: &str) -> Option<String> {
    let path = enclosed?;
    let mut parts = path.components();
    let only = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let name = only.as_os_str().to_str()?;
    let plain = name == raw && !name.starts_with('.') && !name.contains('\\');
    plain.then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn only_plain_visible_file_names_are_taken() {
        let ok = |raw: &str| plain_name(Some(Path::new(raw)), raw);
        assert_eq!(
            ok("+254708803721.session"),
            Some("+254708803721.session".into())
        );
        assert_eq!(
            ok("917862974695 (2).session"),
            Some("917862974695 (2).session".into())
        );
        assert_eq!(ok("dir/a.session"), None);
        assert_eq!(ok(".hidden.session"), None);
        assert_eq!(ok("a\\b.session"), None);
        assert_eq!(
            plain_name(None, "../../etc/passwd"),
            None,
            "what enclosed_name refused"
        );
    }
}
