//! What a tenant posts and where: the post ([`Post`]: a text, or a link to a channel message to
//! forward) and the target chat ([`Target`]), parsed once from what the tenant typed, with the
//! refusal sentences the HTTP API returns as they are.
//!
//! A crate of its own so that what validates a tenant's input (the API) and what sends it (the
//! Telegram backends, which re-export these types) share one definition, and the API builds no
//! Telegram client. It never talks to Telegram and never reads a file.

mod post;
mod target;

pub use post::{MAX_TEXT_CHARS, Post, PostError, PostType};
pub use target::{Target, TargetError};
