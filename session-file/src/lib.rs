//! Telegram session files: decode, validate and encode the formats operators hold.
//!
//! Owns the byte-level formats only: Telethon's SQLite `.session` (read and
//! written), Telethon's `StringSession` (read and written), grammers' SQLite
//! and legacy binary sessions (read). It never decides where a file lives,
//! how it is named or who may use it (the importer does), and it never
//! prints, logs or puts in an error message any auth key byte.
//!
//! # Layout
//! - [`credentials`] holds [`SessionCredentials`] and the redacting [`AuthKey`].
//! - [`telethon`] has [`read_telethon`] and [`write_telethon`].
//! - [`string_session`] has [`parse_telethon_string`] and [`to_telethon_string`].
//! - [`grammers`] has [`read_grammers`] and [`read_grammers_binary`].
//! - [`detect`] has [`detect_and_read`] for uploads and imports.
//! - [`entities`] keeps the chats a session resolved ([`read_entities`], [`remember_entities`]).
//! - `sqlite` opens files read-only without ever touching the caller's file.
//! - [`log_name`] masks a session file's name for logs ([`mask_session_name`]).

pub mod credentials;
pub mod detect;
pub mod entities;
mod error;
pub mod grammers;
pub mod log_name;
mod sqlite;
pub mod string_session;
pub mod telethon;

pub use credentials::{AUTH_KEY_LEN, AuthKey, PRODUCTION_DCS, SessionCredentials};
pub use detect::{DetectedSession, SessionFormat, SessionSource, detect_and_read};
pub use entities::{Entity, read_entities, read_telethon_and_entities, remember_entities};
pub use error::SessionFileError;
pub use grammers::{read_grammers, read_grammers_binary};
pub use log_name::{MaskedSessionName, mask_session_name};
pub use string_session::{parse_telethon_string, to_telethon_string};
pub use telethon::{TELETHON_DB_VERSION, read_telethon, write_telethon};
