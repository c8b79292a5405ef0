//! A session file's name as logs may show it. File names are usually the account's phone number,
//! which no log carries whole; every crate that logs a session masks it here, so one account
//! reads the same in the worker's, the simulator's and the test DC's lines. Never used to find a
//! file: a masked name names nothing.

use std::fmt;

/// Characters of the stem a masked name keeps at its start and at its end.
const HEAD: usize = 4;
const TAIL: usize = 2;

/// A session file's name as logs show it, held in place: what it keeps of the name is at most six
/// characters, so it needs no allocation, and a running bot that names its session in every
/// post's span and log line builds it once per step rather than formatting a `String` each time
/// (BENCHMARKS.md, cost).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MaskedSessionName {
    /// The kept characters' UTF-8: the head's, then the tail's (a char is at most 4 bytes).
    bytes: [u8; (HEAD + TAIL) * 4],
    head_len: u8,
    tail_len: u8,
}

impl MaskedSessionName {
    /// Keeps the first 4 and last 2 characters of the stem: `+254708803721.session` shows as
    /// `+254…21.session`; a stem of 6 characters or fewer keeps only its first.
    pub fn of(name: &str) -> MaskedSessionName {
        let stem = name.strip_suffix(".session").unwrap_or(name);
        let count = stem.chars().count();
        let (head, tail) = if count <= HEAD + TAIL {
            (stem.chars().take(1).map(char::len_utf8).sum::<usize>(), 0)
        } else {
            let head = stem.chars().take(HEAD).map(char::len_utf8).sum::<usize>();
            let tail = stem
                .chars()
                .rev()
                .take(TAIL)
                .map(char::len_utf8)
                .sum::<usize>();
            (head, tail)
        };
        let mut bytes = [0u8; (HEAD + TAIL) * 4];
        bytes[..head].copy_from_slice(&stem.as_bytes()[..head]);
        bytes[head..head + tail].copy_from_slice(&stem.as_bytes()[stem.len() - tail..]);
        MaskedSessionName {
            bytes,
            // At most 16 and 8: a char is at most 4 bytes.
            head_len: head as u8,
            tail_len: tail as u8,
        }
    }

    fn head(&self) -> &str {
        // Cut at char boundaries of a `str` in `of`, so always valid.
        std::str::from_utf8(&self.bytes[..usize::from(self.head_len)]).unwrap_or_default()
    }

    fn tail(&self) -> &str {
        let start = usize::from(self.head_len);
        std::str::from_utf8(&self.bytes[start..start + usize::from(self.tail_len)])
            .unwrap_or_default()
    }
}

impl fmt::Display for MaskedSessionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…{}.session", self.head(), self.tail())
    }
}

/// Shown masked in debug output too: the type exists so the whole name never reaches a log.
impl fmt::Debug for MaskedSessionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The masked name as a `String` ([`MaskedSessionName`] says how it masks).
pub fn mask_session_name(name: &str) -> String {
    MaskedSessionName::of(name).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_names_hide_the_phone_number() {
        assert_eq!(
            mask_session_name("+254708803721.session"),
            "+254…21.session"
        );
        assert_eq!(
            mask_session_name("917862974695 (2).session"),
            "9178…2).session"
        );
        assert_eq!(mask_session_name("abc.session"), "a….session");
        assert_eq!(mask_session_name("demo-1.session"), "d….session");
        assert_eq!(mask_session_name("+254708803721"), "+254…21.session");
        assert_eq!(mask_session_name(""), "….session");
    }

    #[test]
    fn names_in_any_script_are_cut_at_their_characters() {
        assert_eq!(mask_session_name("данные-счёт.session"), "данн…ёт.session");
        assert_eq!(
            mask_session_name("😀😀😀😀x😀😀.session"),
            "😀😀😀😀…😀😀.session"
        );
        assert_eq!(mask_session_name("é.session"), "é….session");
        let masked = MaskedSessionName::of("+254708803721.session");
        assert_eq!(format!("{masked:?}"), "+254…21.session");
    }
}
