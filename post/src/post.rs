//! What is posted: a forwarded channel message (`link`) or a text (`text`).
//!
//! Owns the accepted post types and contents and their tenant-facing refusal
//! sentences, reused as is by the HTTP API's validation. Must never accept a
//! post Herald cannot send (the old backend stored text posts and never sent them).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::target::{is_username, shorten};

/// Telegram's limit for one text message.
pub const MAX_TEXT_CHARS: usize = 4096;

/// The `post_type` values of `users.json` and the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostType {
    /// Forward the message a `t.me/<channel>/<id>` link points at (the old backend's default).
    Link,
    /// Send the content as a text message.
    Text,
}

impl PostType {
    /// `"link"` or `"text"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Link => "link",
            Self::Text => "text",
        }
    }
}

impl fmt::Display for PostType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PostType {
    type Err = PostError;

    /// Accepts `link` and `text` in any case, surrounding whitespace ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "link" => Ok(Self::Link),
            "text" => Ok(Self::Text),
            _ => Err(PostError::UnknownType(shorten(s))),
        }
    }
}

/// A post ready to send.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "PostFields", into = "PostFields")]
pub enum Post {
    /// Forward message `message_id` of public channel `channel` (username, no `@`).
    Link { channel: String, message_id: i32 },
    /// Send this text (1 to 4096 characters, not only whitespace).
    Text(String),
}

/// A refused post, worded for the tenant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    #[error("Unknown post type '{0}': use 'link' or 'text'")]
    UnknownType(String),
    #[error(
        "Invalid post link '{0}': use t.me/<channel>/<message id> or https://t.me/<channel>/<message id>"
    )]
    BadLink(String),
    #[error(
        "Invalid post link '{0}': links into private channels (t.me/c/...) cannot be forwarded; use a public channel's link"
    )]
    PrivateLink(String),
    #[error("A text post cannot be empty")]
    EmptyText,
    #[error("A text post has at most 4096 characters; this one has {0}")]
    TextTooLong(usize),
}

impl Post {
    /// Parses a post as the API receives it: a type and a content.
    pub fn parse(post_type: &str, content: &str) -> Result<Self, PostError> {
        match post_type.parse::<PostType>()? {
            PostType::Link => parse_link(content),
            PostType::Text => parse_text(content),
        }
    }

    pub fn post_type(&self) -> PostType {
        match self {
            Self::Link { .. } => PostType::Link,
            Self::Text(_) => PostType::Text,
        }
    }

    /// The canonical content: `https://t.me/<channel>/<id>` or the text itself.
    pub fn content(&self) -> String {
        match self {
            Self::Link {
                channel,
                message_id,
            } => format!("https://t.me/{channel}/{message_id}"),
            Self::Text(text) => text.clone(),
        }
    }
}

fn parse_link(content: &str) -> Result<Post, PostError> {
    let bad = || PostError::BadLink(shorten(content));
    let t = content.trim();
    let lower = t.to_ascii_lowercase();
    let rest_at = ["https://t.me/", "http://t.me/", "t.me/"]
        .iter()
        .find(|p| lower.starts_with(*p))
        .map(|p| p.len())
        .ok_or_else(bad)?;
    // Links copied from Telegram may carry `?single` or `?comment=..`; they
    // point at the same message.
    let path = t[rest_at..].split(['?', '#']).next().unwrap_or_default();
    let path = path.strip_suffix('/').unwrap_or(path);
    let mut parts = path.split('/');
    let (channel, id) = match (parts.next(), parts.next(), parts.next()) {
        (Some("c"), Some(_), Some(_)) => return Err(PostError::PrivateLink(shorten(content))),
        (Some(channel), Some(id), None) => (channel, id),
        _ => return Err(bad()),
    };
    if !is_username(channel) || id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let message_id: i32 = id.parse().ok().filter(|id| *id > 0).ok_or_else(bad)?;
    Ok(Post::Link {
        channel: channel.to_owned(),
        message_id,
    })
}

fn parse_text(content: &str) -> Result<Post, PostError> {
    if content.trim().is_empty() {
        return Err(PostError::EmptyText);
    }
    let chars = content.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(PostError::TextTooLong(chars));
    }
    Ok(Post::Text(content.to_owned()))
}

/// The JSON shape of a post, as in `users.json`: `{post_type, post_content}`.
#[derive(Serialize, Deserialize)]
struct PostFields {
    post_type: String,
    post_content: String,
}

impl TryFrom<PostFields> for Post {
    type Error = PostError;

    fn try_from(f: PostFields) -> Result<Self, Self::Error> {
        Post::parse(&f.post_type, &f.post_content)
    }
}

impl From<Post> for PostFields {
    fn from(p: Post) -> Self {
        PostFields {
            post_type: p.post_type().as_str().to_owned(),
            post_content: p.content(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn link(channel: &str, id: i32) -> Post {
        Post::Link {
            channel: channel.into(),
            message_id: id,
        }
    }

    #[test]
    fn links_in_every_accepted_spelling() {
        for s in [
            "t.me/news_channel/42",
            "https://t.me/news_channel/42",
            "http://t.me/news_channel/42",
            " HTTPS://T.ME/news_channel/42/ ",
            "https://t.me/news_channel/42?single",
        ] {
            assert_eq!(Post::parse("link", s), Ok(link("news_channel", 42)), "{s}");
        }
        assert_eq!(
            link("news_channel", 42).content(),
            "https://t.me/news_channel/42"
        );
    }

    #[test]
    fn link_refusals() {
        let msg = |s: &str| {
            Post::parse("link", s)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(msg("https://t.me/c/1234567/8").contains("private channels"));
        assert!(msg("https://example.com/news/1").starts_with("Invalid post link"));
        assert!(msg("t.me/news_channel").starts_with("Invalid post link"));
        assert!(msg("t.me/news_channel/0").starts_with("Invalid post link"));
        assert!(msg("t.me/news_channel/99999999999").starts_with("Invalid post link"));
        assert!(msg("t.me/abc/5").starts_with("Invalid post link"));
        assert!(msg("t.me/news_channel/5/6").starts_with("Invalid post link"));
    }

    #[test]
    fn text_posts_and_their_limits() {
        assert_eq!(Post::parse("text", "Hello"), Ok(Post::Text("Hello".into())));
        assert_eq!(Post::parse("TEXT", "  "), Err(PostError::EmptyText));
        let max = "é".repeat(4096);
        assert!(Post::parse("text", &max).is_ok());
        assert_eq!(
            Post::parse("text", &format!("{max}x")),
            Err(PostError::TextTooLong(4097))
        );
        assert_eq!(
            Post::parse("photo", "x").err().map(|e| e.to_string()),
            Some("Unknown post type 'photo': use 'link' or 'text'".into())
        );
    }

    #[test]
    fn serde_shapes() {
        let json = serde_json::to_string(&link("news_channel", 3)).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"post_type":"link","post_content":"https://t.me/news_channel/3"}"#
        );
        assert_eq!(
            serde_json::to_string(&PostType::Text).ok().as_deref(),
            Some(r#""text""#)
        );
        let bad = serde_json::from_str::<Post>(r#"{"post_type":"text","post_content":""}"#);
        assert!(bad.is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(t in "\\PC{0,8}", c in "\\PC{0,120}") {
            let _ = Post::parse(&t, &c);
            let _ = Post::parse("link", &c);
        }

        #[test]
        fn content_round_trips(channel in "[A-Za-z0-9_]{5,32}", id in 1i32.., text in "\\PC{1,200}") {
            let l = link(&channel, id);
            prop_assert_eq!(Post::parse("link", &l.content()), Ok(l.clone()));
            if let Ok(t) = Post::parse("text", &text) {
                prop_assert_eq!(Post::parse(t.post_type().as_str(), &t.content()), Ok(t));
            }
        }
    }
}
