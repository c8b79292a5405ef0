//! The real backend: Telegram through grammers 0.11 (MTProto, layer 230).
//!
//! Owns connecting a Telethon session's credentials with grammers (in-memory
//! session, no grammers SQLite), bounding every call by
//! [`TelegramConfig::call_timeout`], resolving and caching targets, sending
//! texts and forwarding linked messages. Must never sleep through a flood
//! wait (see [`ReturnFloodWaits`]), never sign in or create an account, and
//! never write a session file (the chats a connection resolved are handed to
//! the caller, [`crate::Connection::learned`], which keeps them with the session).
//!
//! # Layout
//! - `session`: credentials to and from grammers' `SessionData`.
//! - `errors`: [`classify_invocation_error`] and [`ReturnFloodWaits`].
//! - `connection`: the per-session client with its timeouts and peer cache.

mod connection;
mod errors;
mod session;

use async_trait::async_trait;

pub use errors::{ReturnFloodWaits, classify_invocation_error};

use crate::{
    ApiCredentials, AttemptLabel, Connection, Delivery, Post, SendError, SessionHandle, Target,
    Telegram, TelegramConfig,
};

/// [`Telegram`] over grammers. Cheap to clone; holds no connection itself.
#[derive(Clone, Debug, Default)]
pub struct GrammersTelegram {
    config: TelegramConfig,
}

impl GrammersTelegram {
    pub fn new(config: TelegramConfig) -> Self {
        Self { config }
    }
}

#[async_trait]
impl Telegram for GrammersTelegram {
    async fn connect(
        &self,
        session: SessionHandle,
        api: ApiCredentials,
    ) -> Result<Box<dyn Connection>, SendError> {
        let conn = connection::GrammersConnection::open(session, api, &self.config).await?;
        Ok(Box::new(GrammersConn(conn)))
    }
}

/// The boxed [`Connection`]; a newtype so the connection type stays private.
struct GrammersConn(connection::GrammersConnection);

#[async_trait]
impl Connection for GrammersConn {
    async fn send(
        &mut self,
        target: &Target,
        post: &Post,
        label: &AttemptLabel,
    ) -> Result<Delivery, SendError> {
        self.0.send(target, post, label).await
    }

    async fn is_authorized(&mut self) -> Result<bool, SendError> {
        self.0.is_authorized().await
    }

    fn learned(&self) -> Vec<herald_session_file::Entity> {
        self.0.learned()
    }

    async fn disconnect(self: Box<Self>) {
        self.0.disconnect().await;
    }
}
