//! Where a post goes: a channel id or a public username, parsed once.
//!
//! Owns the accepted spellings (`-100<digits>`, `@name`, `name`, `[https://]t.me/name`) and the
//! tenant-facing refusal sentences that the HTTP API returns as they are.
//! Must never accept anything Telegram could not resolve from that text alone.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bot API ids of supergroups and channels: `-(10^12 + bare id)` for bare ids
/// up to 997852516352 ...
const CHANNEL_IDS: std::ops::RangeInclusive<i64> = -1_997_852_516_352..=-1_000_000_000_001;
/// ... and of monoforums (channel direct-message chats).
const MONOFORUM_IDS: std::ops::RangeInclusive<i64> = -4_000_000_000_000..=-2_002_147_483_649;
const CHANNEL_BASE: i64 = 1_000_000_000_000;

/// A chat to post in.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A supergroup or channel by its Bot API id, e.g. `-1001234567890`.
    ChannelId(i64),
    /// A public username, stored without `@` and with its case as written.
    Username(String),
}

/// A target text that is not one of the accepted spellings.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Invalid group '{input}': {reason}")]
pub struct TargetError {
    input: String,
    reason: &'static str,
}

impl TargetError {
    fn new(input: &str, reason: &'static str) -> Self {
        Self {
            input: shorten(input),
            reason,
        }
    }

    /// Why the text was refused, without the echo of the input.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

const USERNAME_RULE: &str = "a username has 4 to 32 letters, digits or underscores";
const CHANNEL_RULE: &str = "a channel id is -100 followed by its digits, like -1001234567890";
const FORMS: &str = "use -100 followed by digits (a channel id), @name, name or t.me/name";
const INVITE_RULE: &str = "invite links cannot be used: Herald posts only in groups the account already is a member of and never joins one; give the group's @name or -100 id";
const LINK_RULE: &str =
    "a group's link is t.me/<name>; message and private links (t.me/c/...) are not groups";
/// How people paste a public group's link.
const LINK_PREFIXES: [&str; 6] = [
    "https://t.me/",
    "http://t.me/",
    "t.me/",
    "https://telegram.me/",
    "http://telegram.me/",
    "telegram.me/",
];

impl Target {
    /// Parses `-100<digits>`, `@name`, `name` or a public link `[https://]t.me/name` (name:
    /// 4 to 32 of `[A-Za-z0-9_]`; Telegram sells four-character collectible usernames).
    /// Surrounding whitespace is ignored; invite links are refused with the reason (Herald
    /// never joins a group); anything else is refused.
    pub fn parse(text: &str) -> Result<Self, TargetError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(TargetError::new(text, FORMS));
        }
        if t.starts_with('-') {
            return parse_channel_id(t).ok_or_else(|| TargetError::new(text, CHANNEL_RULE));
        }
        if let Some(rest) = link_path(t) {
            let rest = rest.trim_end_matches('/');
            if rest.starts_with('+') || rest.to_ascii_lowercase().starts_with("joinchat/") {
                return Err(TargetError::new(text, INVITE_RULE));
            }
            if rest.contains('/') || rest.contains('?') {
                return Err(TargetError::new(text, LINK_RULE));
            }
            return if is_username(rest) {
                Ok(Self::Username(rest.to_owned()))
            } else {
                Err(TargetError::new(text, USERNAME_RULE))
            };
        }
        let name = t.strip_prefix('@').unwrap_or(t);
        if name.starts_with('@') || name.contains(['/', ':', ' ']) {
            return Err(TargetError::new(text, FORMS));
        }
        if is_username(name) {
            Ok(Self::Username(name.to_owned()))
        } else {
            Err(TargetError::new(text, USERNAME_RULE))
        }
    }

    /// The bare channel id MTProto uses (the digits after `-100` with their weight).
    pub fn bare_channel_id(&self) -> Option<i64> {
        match self {
            Self::ChannelId(id) => Some(-id - CHANNEL_BASE),
            Self::Username(_) => None,
        }
    }

    /// A case-insensitive key: Telegram usernames ignore case, so `@MyGroup` and
    /// `mygroup` are one chat for caches, dedup and scenario matching.
    pub fn key(&self) -> String {
        match self {
            Self::ChannelId(id) => id.to_string(),
            Self::Username(name) => format!("@{}", name.to_ascii_lowercase()),
        }
    }
}

fn parse_channel_id(t: &str) -> Option<Target> {
    let digits = t.strip_prefix("-100")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let id: i64 = t.parse().ok()?;
    (CHANNEL_IDS.contains(&id) || MONOFORUM_IDS.contains(&id)).then_some(Target::ChannelId(id))
}

/// What follows a `t.me/` (or `telegram.me/`) prefix, in any case of the prefix.
fn link_path(t: &str) -> Option<&str> {
    LINK_PREFIXES.iter().find_map(|prefix| {
        let head = t.get(..prefix.len())?;
        head.eq_ignore_ascii_case(prefix)
            .then(|| &t[prefix.len()..])
    })
}

/// 4 to 32 of `[A-Za-z0-9_]`, the rule Herald's contract states.
pub(crate) fn is_username(name: &str) -> bool {
    (4..=32).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Echoing a megabyte of input back in an error helps nobody.
pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 64;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(MAX).collect();
        s.push('…');
        s
    }
}

impl fmt::Display for Target {
    /// The canonical text: `-100…` or `@name`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ChannelId(id) => write!(f, "{id}"),
            Self::Username(name) => write!(f, "@{name}"),
        }
    }
}

impl FromStr for Target {
    type Err = TargetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Target {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepted_spellings() {
        assert_eq!(
            Target::parse("-1001234567890"),
            Ok(Target::ChannelId(-1_001_234_567_890))
        );
        assert_eq!(
            Target::parse(" @My_Group1 "),
            Ok(Target::Username("My_Group1".into()))
        );
        assert_eq!(
            Target::parse("mygroup"),
            Ok(Target::Username("mygroup".into()))
        );
        assert_eq!(
            Target::ChannelId(-1_001_234_567_890).bare_channel_id(),
            Some(1_234_567_890)
        );
        assert_eq!(
            Target::parse("@MyGroup").map(|t| t.key()),
            Ok("@mygroup".into())
        );
        // What tenants paste: links to public groups, and four-character collectible names.
        for pasted in [
            "https://t.me/My_Group1",
            "t.me/My_Group1",
            "HTTPS://T.ME/My_Group1/",
            "telegram.me/My_Group1",
        ] {
            assert_eq!(
                Target::parse(pasted),
                Ok(Target::Username("My_Group1".into())),
                "{pasted}"
            );
        }
        assert_eq!(Target::parse("@abcd"), Ok(Target::Username("abcd".into())));
        assert_eq!(
            Target::parse("t.me/abcd").map(|t| t.to_string()),
            Ok("@abcd".into())
        );
    }

    #[test]
    fn refusals_are_sentences_a_tenant_understands() {
        let msg = |s: &str| {
            Target::parse(s)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            msg("@abc"),
            "Invalid group '@abc': a username has 4 to 32 letters, digits or underscores"
        );
        assert_eq!(
            msg("-100abc"),
            "Invalid group '-100abc': a channel id is -100 followed by its digits, like -1001234567890"
        );
        assert!(msg("-1001").contains("channel id"));
        assert!(msg("-12345").contains("channel id"));
        assert!(msg("").contains("use -100"));
        assert!(msg("@@group").contains("use -100"));
        assert!(msg("https://example.com/group").contains("use -100"));
        assert!(msg(&"a".repeat(33)).contains("4 to 32"));
        assert!(msg("grüße_gruppe").contains("4 to 32"));
        for invite in [
            "https://t.me/+AbCdEfGhIjKlMnOp",
            "t.me/joinchat/AAAAAEkk2WdoDrB4-Q8-gg",
            "https://t.me/JoinChat/AAAAAE",
        ] {
            assert!(
                msg(invite).contains("never joins"),
                "{invite}: {}",
                msg(invite)
            );
        }
        assert!(msg("https://t.me/c/1234567890/5").contains("message and private links"));
        assert!(msg("t.me/some_channel/42").contains("message and private links"));
        assert!(msg(&"x".repeat(5000)).len() < 200);
    }

    #[test]
    fn serde_uses_the_canonical_text() {
        let t = Target::Username("group_one".into());
        assert_eq!(
            serde_json::to_string(&t).ok().as_deref(),
            Some(r#""@group_one""#)
        );
        let back: Result<Target, _> = serde_json::from_str(r#""-1001234567890""#);
        assert_eq!(back.ok(), Some(Target::ChannelId(-1_001_234_567_890)));
        assert!(serde_json::from_str::<Target>(r#""@x""#).is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,80}") {
            let _ = Target::parse(&s);
        }

        #[test]
        fn display_round_trips(s in "((https://)?t\\.me/)?(@?[A-Za-z0-9_]{4,32})|(-100[0-9]{10})") {
            if let Ok(t) = Target::parse(&s) {
                prop_assert_eq!(Target::parse(&t.to_string()), Ok(t));
            }
        }

        #[test]
        fn valid_usernames_always_parse(name in "[A-Za-z0-9_]{4,32}") {
            prop_assert_eq!(Target::parse(&format!("@{name}")), Ok(Target::Username(name)));
        }
    }
}
