//! Herald's seam to Telegram: one trait, a grammers adapter and a simulator.
//!
//! Owns how a [`Post`] reaches a [`Target`] (both defined in `herald-post`), how
//! failures are classified ([`SendError`], [`classify_rpc`]) and the backends
//! behind [`Telegram`]. It
//! never decides what to do about a failure (the worker does, from the class
//! alone), never reads configuration from the environment (the binary wires
//! [`TelegramConfig`] and scenario paths), and never logs a key, an api_hash
//! or an unmasked session name.
//!
//! # Layout
//! - `seam`: [`Telegram`], [`Connection`] and the values crossing them.
//! - `Target`, `Post`: re-exported from `herald-post`, which parses them (the API uses that crate
//!   directly, so it builds no Telegram client).
//! - `error`: [`SendError`], the classification table, [`TelegramError`].
//! - [`grammers`]: the real backend ([`GrammersTelegram`]).
//! - [`sim`]: the simulated Telegram ([`SimTelegram`]) and its delivery journal.

mod error;
pub mod grammers;
mod seam;
pub mod sim;

pub use error::{SendError, TelegramError, classify_rpc, classify_rpc_with_code};
pub use grammers::GrammersTelegram;
pub use herald_post::{MAX_TEXT_CHARS, Post, PostError, PostType, Target, TargetError};
pub use seam::{
    ApiCredentials, AttemptLabel, Connection, Delivery, SessionHandle, Telegram, TelegramConfig,
    cycle_of_random_id, new_random_id,
};
pub use sim::{Journal, JournalEntry, Scenario, SimTelegram};
