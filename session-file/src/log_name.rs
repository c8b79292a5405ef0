//! A session file's name as logs may show it. File names are usually the account's phone number,
//! which no log carries whole; every crate that logs a session masks it here, so one account
//! reads the same in the worker's, the simulator's and the test DC's lines. Never used to find a
//! file: a masked name names nothing.

/// Keeps the first 4 and last 2 characters of the stem: `+254708803721.session` is logged as
/// `+254…21.session`; a stem of 6 characters or fewer keeps only its first.
pub fn mask_session_name(name: &str) -> String {
    let stem = name.strip_suffix(".session").unwrap_or(name);
    let chars: Vec<char> = stem.chars().collect();
    if chars.len() <= 6 {
        return format!(
            "{}….session",
            chars.first().map(|c| c.to_string()).unwrap_or_default()
        );
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}…{tail}.session")
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
    }
}
