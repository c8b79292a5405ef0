//! Durable, atomic replacement of a file: the only way the data manager writes a JSON file.
//!
//! The new content goes to a temporary file in the same directory (mode 0600), is fsynced, renamed
//! over the target, and the directory is fsynced so the rename itself survives a power cut. A reader
//! or a crash at any moment sees either the old file or the new one, never a mix. This module never
//! writes the target in place and never leaves its temporary file behind when a step fails.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rand::Rng;

/// Replaces `target` with `bytes`, durably. `label` names the file in errors (`data/users.json`).
/// A failure before the rename changed nothing (`Io`); one after it (the directory's fsync) is
/// `OutcomeUnknown`: the new content is in place, its durability is not known.
pub(crate) fn replace_file(
    target: &Path,
    bytes: &[u8],
    label: &str,
) -> Result<File, crate::DataError> {
    replace_file_with(target, label, |mut file| file.write_all(bytes))
}

/// [`replace_file`] with the content written by `fill` into the new, empty file (open for
/// reading and writing), so that it need not be held in memory whole. An error from `fill`
/// changes nothing, as any failure before the rename.
pub(crate) fn replace_file_with(
    target: &Path,
    label: &str,
    fill: impl FnOnce(&File) -> io::Result<()>,
) -> Result<File, crate::DataError> {
    replace_file_syncing(target, label, fill, sync_dir)
}

fn replace_file_syncing(
    target: &Path,
    label: &str,
    fill: impl FnOnce(&File) -> io::Result<()>,
    sync_dir: impl Fn(&Path) -> io::Result<()>,
) -> Result<File, crate::DataError> {
    let dir = target.parent().unwrap_or_else(|| Path::new("."));
    let file_name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let suffix: u64 = rand::rng().random();
    let temp = dir.join(format!(
        ".{file_name}.{}.{suffix:016x}.tmp",
        std::process::id()
    ));

    let file = write_temp(&temp, fill)
        .and_then(|file| fs::rename(&temp, target).map(|()| file))
        .map_err(|err| {
            // Best effort: the temporary file must not pile up after a full disk.
            let _ = fs::remove_file(&temp);
            crate::DataError::io(format!("write {label}"), err)
        })?;
    // From here the new content is the file: a failure no longer means "nothing changed".
    sync_dir(dir).map_err(|err| {
        crate::DataError::outcome_unknown(format!("make the new {label} durable"), err)
    })?;
    Ok(file)
}

fn write_temp(temp: &Path, fill: impl FnOnce(&File) -> io::Result<()>) -> io::Result<File> {
    // Readable too: an encoder may copy unchanged parts of this file into the next version.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(temp)?;
    fill(&file)?;
    file.sync_all()?;
    Ok(file)
}

/// Removes temporary files that writers of `target` left behind when they were killed mid-write.
/// A temporary file of a process that still runs is left alone: it may be writing right now.
pub(crate) fn remove_stale_temps(target: &Path) {
    let dir = target.parent().unwrap_or_else(|| Path::new("."));
    let Some(file_name) = target.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let prefix = format!(".{file_name}.");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(".tmp"))
        else {
            continue;
        };
        let Some(pid) = rest.split('.').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let alive = pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists();
        if !alive && fs::remove_file(entry.path()).is_ok() {
            tracing::info!(file = %name, "removed a temporary file left by a killed writer");
        }
    }
}

/// Makes a rename in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_failure_after_the_rename_says_the_outcome_is_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("users.json");
        fs::write(&target, b"old").unwrap();
        let failing = |_: &Path| Err(io::Error::other("fsync of the directory failed"));
        let err = replace_file_syncing(
            &target,
            "data/users.json",
            |mut f: &File| f.write_all(b"new"),
            failing,
        )
        .unwrap_err();
        assert!(
            matches!(err, crate::DataError::OutcomeUnknown { .. }),
            "{err:?}"
        );
        assert_eq!(fs::read(&target).unwrap(), b"new", "the change is in place");
        // A failure before the rename changed nothing and says so.
        let missing = dir.path().join("gone/users.json");
        let err = replace_file(&missing, b"new", "data/users.json").unwrap_err();
        assert!(matches!(err, crate::DataError::Io { .. }), "{err:?}");
    }

    #[test]
    fn replaces_content_with_mode_0600_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("users.json");
        fs::write(&target, b"old").unwrap();
        replace_file(&target, b"new", "data/users.json").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("users.json")]);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("missing-dir").join("users.json");
        let err = replace_file(&target, b"new", "data/users.json").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("could not write data/users.json"),
            "{err}"
        );
    }
}
