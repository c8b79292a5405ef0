//! Names that end up in paths: tenant ids (`logs/<user_id>/`, `sessions/assigned/<user_id>/`) and
//! session file names. Parsing them here, once, is what keeps a hostile name from ever reaching the
//! file system. This module knows nothing about files; it only says which names are safe.

use std::fmt;

/// A tenant's id as it appears in tokens, `users.json` keys and directory names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct UserId(String);

/// Longest accepted user id, in characters.
pub const MAX_USER_ID_CHARS: usize = 128;

impl UserId {
    /// Accepts 1 to 128 characters with no path separator, no control character, and not `.` or
    /// `..`, so the id is always a single, harmless directory name.
    pub fn parse(raw: &str) -> Result<UserId, String> {
        if raw.is_empty() {
            return Err("user id is empty".into());
        }
        if raw.chars().count() > MAX_USER_ID_CHARS {
            return Err(format!(
                "user id is longer than {MAX_USER_ID_CHARS} characters"
            ));
        }
        if raw == "." || raw == ".." {
            return Err("user id may not be '.' or '..'".into());
        }
        if raw.chars().any(|c| c == '/' || c == '\\' || c.is_control()) {
            return Err("user id may not contain '/', '\\' or control characters".into());
        }
        Ok(UserId(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for UserId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for UserId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        UserId::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// Longest accepted session file name, in bytes (the usual file system limit).
pub const MAX_SESSION_NAME_BYTES: usize = 255;

/// Checks a session file name as operators have them (`+254708803721.session`,
/// `917862974695 (2).session`): ends in `.session`, at most 255 bytes, no path separator, no
/// `..`, no NUL or other control character, and something before the extension.
pub fn check_session_name(name: &str) -> Result<(), String> {
    if name.len() > MAX_SESSION_NAME_BYTES {
        return Err(format!(
            "session file name is longer than {MAX_SESSION_NAME_BYTES} bytes"
        ));
    }
    if name.contains('/') || name.contains('\\') {
        return Err(format!(
            "session file name '{}' contains a path separator",
            printable(name)
        ));
    }
    if name.contains("..") {
        return Err(format!(
            "session file name '{}' contains '..'",
            printable(name)
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("session file name contains a control character".into());
    }
    match name.strip_suffix(".session") {
        Some(stem) if !stem.trim().is_empty() => Ok(()),
        Some(_) => Err("session file name has nothing before '.session'".into()),
        None => Err(format!(
            "session file name '{}' does not end in '.session'",
            printable(name)
        )),
    }
}

/// The name with control characters replaced, for use inside messages.
fn printable(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_that_are_single_directory_names_are_accepted() {
        for ok in ["42", "user-1", "a b", "ünïcode", &"x".repeat(128)] {
            assert!(UserId::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a\\b",
            "a\0b",
            "a\nb",
            &"x".repeat(129),
        ] {
            assert!(UserId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn operator_session_names_pass_and_hostile_ones_do_not() {
        for ok in [
            "+254708803721.session",
            "917862974695 (2).session",
            "a.session",
        ] {
            assert_eq!(check_session_name(ok), Ok(()), "{ok}");
        }
        let long = format!("{}.session", "x".repeat(248));
        for bad in [
            "../x.session",
            "a/b.session",
            "x.session\0",
            "x.txt",
            ".session",
            "x..session",
            long.as_str(),
        ] {
            assert!(check_session_name(bad).is_err(), "{bad:?}");
        }
    }
}
