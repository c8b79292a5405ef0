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
//! - [`SimWorld`]: the real [`World`], Herald's simulator world model at the wire (one world,
//!   two doors), attributing posts to tenants from the data directory.
//! - [`scripted`]: a small table-driven [`World`] for tests.
//! - `server`: [`TestDc`], [`serve`], [`RunningDc`]; `conn`: one connection's task;
//!   `packet`: one inbound packet (keys, salts, sessions, service messages).
//! - `dispatch`: API calls answered from memory or through the world; `calls`: which
//!   call a message is; `answers`, `sent`: the TL objects answered with.
//! - `envelope`: the hand-written message/container/rpc_result/gzip layer; `outbox`:
//!   server msg_ids and seq_nos; `salts`; `crypto`: the server side of MTProto 2.0.
//! - [`keys`]: [`KeyStore`]; [`chats`]: channel ids and access hashes; [`faults`].

mod answers;
mod calls;
pub mod chats;
mod conn;
mod crypto;
mod dispatch;
mod envelope;
mod error;
pub mod faults;
pub mod keys;
mod outbox;
mod packet;
mod salts;
pub mod scripted;
mod sent;
mod server;
mod shared;
mod sim_world;
pub mod world;

pub use error::TestDcError;
pub use faults::{Deliveries, Faults, Silence};
pub use keys::KeyStore;
pub use server::{RunningDc, TestDc, serve};
pub use shared::DcStats;
pub use sim_world::SimWorld;
pub use world::{RpcRefusal, WireContent, WirePost, World, WorldSession};
