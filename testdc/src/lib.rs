//! A local Telegram data centre for tests and demos: MTProto 2.0 over TCP, on loopback.
//!
//! It speaks enough of the protocol for Herald's real grammers 0.11 adapter
//! (`herald_telegram::GrammersTelegram`) to connect, resolve chats and post, so that
//! adapter can be tested end to end without Telegram. It is a test fixture, never
//! claimed to be Telegram: keys are pre-shared (it cannot create one), and every outcome
//! of a post is decided by a [`World`] behind it, not by the DC. Its own decisions are
//! wire-level only: framing, encryption, salts, sessions, numbering, and the [`Faults`]
//! a test switches on.
//!
//! # Layout
//! - [`world`]: the seam to the behaviour model ([`World`], [`WorldSession`]).
//! - [`scripted`]: a small table-driven [`World`] for tests.
//! - `server`: [`TestDc`], [`serve`], [`RunningDc`]; `conn`: one connection's task.
//! - `dispatch`: API calls answered from memory or through the world; `calls`: which
//!   call a message is; `answers`, `sent`: the TL objects answered with.
//! - `envelope`: the hand-written message/container/rpc_result/gzip layer; `outbox`:
//!   server msg_ids and seq_nos; `salts`; `crypto`: the server side of MTProto 2.0.
//! - [`keys`]: [`KeyStore`]; [`chats`]: channel ids and access hashes; [`faults`].

pub mod chats;
mod crypto;
mod envelope;
mod error;
pub mod keys;
mod outbox;
mod salts;
pub mod world;

pub use error::TestDcError;
pub use keys::KeyStore;
pub use world::{RpcRefusal, WireContent, WirePost, World, WorldSession};
