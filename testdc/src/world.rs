//! The seam between the wire and the behaviour model: what happens behind the DC.
//!
//! Owns the [`World`] and [`WorldSession`] traits and the values crossing them. The DC
//! decides no outcome itself: flood waits, slow mode, forbidden chats, dead sessions,
//! duplicate connections, `random_id` dedup and the delivery journal all live behind
//! these traits (Herald's simulator world model implements them; [`crate::scripted`] is
//! the small table-driven one the tests use). Must never carry MTProto details: a world
//! sees sessions by name, chats as [`Target`]s and posts as [`WirePost`]s.

use std::fmt;

use async_trait::async_trait;
use herald_telegram::Target;

/// What happens in the world behind the wire. Implemented by Herald's simulator world model.
///
/// The synchronous methods are called on the connection's task: they must answer from
/// memory, without blocking I/O.
pub trait World: Send + Sync + 'static {
    /// A connection authenticated with `session`'s key sent its first call. `Err` refuses
    /// every call on this connection with that error (e.g. 406 AUTH_KEY_DUPLICATED when
    /// the key is already connected, 401 AUTH_KEY_UNREGISTERED when dead). The returned
    /// handle lives as long as the TCP connection; dropping it means the connection
    /// closed, and the DC drops it before the client can see the socket close.
    fn connect(&self, session: &str) -> Result<Box<dyn WorldSession>, RpcRefusal>;

    /// Whether a chat exists (`contacts.resolveUsername` of an unknown name answers
    /// USERNAME_NOT_OCCUPIED).
    fn chat_exists(&self, target: &Target) -> bool;
}

/// One connection's view of the world.
///
/// The DC holds it behind an async mutex and runs every call as its own task: calls on
/// one connection reach the world one at a time, in arrival order, while the connection
/// keeps answering pings and service messages. A call that never returns (a scripted
/// hang) therefore holds up later world calls on the same connection only, as a stuck
/// account would; it is cancelled when the connection closes.
#[async_trait]
pub trait WorldSession: Send {
    /// One sendMessage / forwardMessages (one message of it). `Ok` = delivered. A
    /// `random_id` already delivered by this session is answered
    /// `Err(RpcRefusal{400, "RANDOM_ID_DUPLICATE"})`, as Telegram does. May take time
    /// (latency) and may never return (a hang).
    async fn post(&mut self, post: WirePost) -> Result<(), RpcRefusal>;

    /// `updates.getState`: `Ok` when an account is signed in on this key.
    async fn authorized(&mut self) -> Result<(), RpcRefusal>;

    /// The chats this session is a member of, listed by `messages.getDialogs`: how a
    /// client finds the access hash of a `-100…` channel. Asynchronous so that a world may
    /// read what it knows (a data directory) off the runtime's threads, and read it fresh.
    async fn dialogs(&mut self) -> Vec<Target>;
}

/// One message a client asked to post.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WirePost {
    /// The chat the client meant, mapped back from the `inputPeerChannel` in the
    /// request (see [`crate::chats`]). An `@name` carries the spelling the DC first
    /// resolved it with, so compare chats by [`Target::key`], which ignores case.
    pub target: Target,
    /// The client's `random_id` for this message (Telegram's dedup key).
    pub random_id: i64,
    pub content: WireContent,
}

/// What is posted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireContent {
    /// `messages.sendMessage` with this text.
    Text(String),
    /// `messages.forwardMessages` of message `message_id` of chat `from`.
    Forward { from: Target, message_id: i32 },
}

/// An RPC error to answer with, e.g. `{420, "FLOOD_WAIT_12"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpcRefusal {
    pub code: i32,
    pub name: String,
}

impl RpcRefusal {
    pub fn new(code: i32, name: impl Into<String>) -> Self {
        Self {
            code,
            name: name.into(),
        }
    }
}

impl fmt::Display for RpcRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.name)
    }
}
