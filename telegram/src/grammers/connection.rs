//! One grammers client for one session: bounded calls, target cache, send, forward.
//!
//! Owns the sender-pool task's lifetime and the per-connection cache of
//! resolved peers. Must never let a call run unbounded (grammers has no
//! timeout and a silent peer blocks its whole pool), never keep using a pool
//! after a call timed out on it (later calls are [`SendError::NotSent`]: nothing
//! goes out, the caller reconnects), and never choose a random id itself: sends
//! are raw `messages.sendMessage` / `forwardMessages` with the caller's id, so a
//! re-send after a lost answer is Telegram's RANDOM_ID_DUPLICATE, not a second post.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use grammers_client::Client;
use grammers_client::tl;
use grammers_mtsender::{ConnectionParams, InvocationError, SenderPool};
use grammers_session::Session;
use grammers_session::storages::MemorySession;
use grammers_session::types::{PeerId, PeerRef};
use herald_session_file::Entity;
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::errors::{ReturnFloodWaits, classify_invocation_error, delivered, source_problem};
use super::session::{known_peers, seed};
use crate::error::classify_rpc;
use crate::{
    ApiCredentials, AttemptLabel, Delivery, Post, SendError, SessionHandle, Target, TelegramConfig,
};

/// Longest wait for the pool to close its sockets on disconnect.
const QUIT_GRACE: Duration = Duration::from_secs(2);

pub(crate) struct GrammersConnection {
    log_name: String,
    client: Client,
    session: Arc<MemorySession>,
    runner: Option<JoinHandle<()>>,
    call_timeout: Duration,
    /// `Target::key()` (and `@channel` of link sources) to resolved peer, seeded from the
    /// session's entities.
    peers: HashMap<String, PeerRef>,
    /// Resolved by this connection, for the caller to keep with the session.
    learned: Vec<Entity>,
    dialogs_scanned: bool,
    /// Set when a call timed out or panicked: the pool may be stuck on a silent
    /// peer, so every later call fails fast and the worker reconnects.
    broken: bool,
}

impl GrammersConnection {
    /// Starts a sender pool and proves the session with one cheap authorized call.
    pub(crate) async fn open(
        handle: SessionHandle,
        api: ApiCredentials,
        config: &TelegramConfig,
    ) -> Result<Self, SendError> {
        let mut credentials = handle.credentials.clone();
        if let Some(dc) = config.dc_override {
            credentials.server_address = dc.ip().to_string();
            credentials.port = dc.port();
        }
        let seeded = seed(&credentials)?;
        let session = Arc::new(MemorySession::from(seeded.data));
        let params = ConnectionParams {
            use_ipv6: seeded.use_ipv6,
            retry_policy: Box::new(ReturnFloodWaits),
            ..ConnectionParams::default()
        };
        let SenderPool {
            runner,
            handle: pool_handle,
            updates,
        } = SenderPool::with_configuration(Arc::clone(&session), api.api_id, params);
        // Herald reads no updates; a closed channel makes the pool stop forwarding them.
        drop(updates);
        let client = Client::new(pool_handle);
        let mut conn = Self {
            log_name: handle.log_name(),
            client,
            session,
            runner: Some(tokio::spawn(runner.run())),
            call_timeout: config.call_timeout,
            peers: known_peers(&handle.entities),
            learned: Vec::new(),
            dialogs_scanned: false,
            broken: false,
        };
        // grammers dials lazily; one authorized call now makes a dead session or
        // an unreachable DC fail at connect rather than at the first post.
        let client = conn.client.clone();
        conn.call("connect", async move {
            client
                .invoke(&tl::functions::updates::GetState {})
                .await
                .map(|_| ())
        })
        .await?;
        tracing::debug!(session = %conn.log_name, "connected");
        Ok(conn)
    }

    /// Runs one grammers call in its own task under the call timeout.
    ///
    /// The task isolates grammers' internal `panic!`s on unexpected replies.
    async fn call<T: Send + 'static>(
        &mut self,
        what: &'static str,
        call: impl Future<Output = Result<T, InvocationError>> + Send + 'static,
    ) -> Result<T, SendError> {
        if self.broken {
            return Err(SendError::NotSent);
        }
        let task = tokio::spawn(call);
        let abort = task.abort_handle();
        match tokio::time::timeout(self.call_timeout, task).await {
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(error))) => {
                let class = classify_invocation_error(&error);
                tracing::debug!(session = %self.log_name, call = what, %error, class = class.kind(), "telegram call failed");
                Err(class)
            }
            Ok(Err(join_error)) => {
                tracing::warn!(session = %self.log_name, call = what, error = %join_error, "grammers call panicked");
                self.break_pool();
                Err(SendError::Other {
                    code: "CLIENT_PANIC".into(),
                })
            }
            Err(_elapsed) => {
                abort.abort();
                tracing::debug!(session = %self.log_name, call = what, timeout_ms = self.call_timeout.as_millis() as u64, "telegram call timed out");
                self.break_pool();
                Err(SendError::Transient)
            }
        }
    }

    fn break_pool(&mut self) {
        self.broken = true;
        if let Some(runner) = self.runner.take() {
            runner.abort();
        }
    }

    async fn resolve(&mut self, target: &Target) -> Result<PeerRef, SendError> {
        match target {
            Target::Username(name) => self.resolve_username(name).await,
            Target::ChannelId(_) => self.resolve_channel(target).await,
        }
    }

    async fn resolve_username(&mut self, name: &str) -> Result<PeerRef, SendError> {
        let key = format!("@{}", name.to_ascii_lowercase());
        if let Some(peer) = self.peers.get(&key) {
            return Ok(*peer);
        }
        let client = self.client.clone();
        let username = name.to_owned();
        let found = self
            .call("resolve_username", async move {
                match client.resolve_username(&username).await? {
                    Some(peer) => peer.to_ref().await.map_err(InvocationError::Session),
                    None => Ok(None),
                }
            })
            .await?
            .ok_or(SendError::TargetNotFound)?;
        self.learn(key, found, Some(name.to_owned()));
        Ok(found)
    }

    fn learn(&mut self, key: String, peer: PeerRef, username: Option<String>) {
        if let Some(id) = peer.id.bot_api_dialog_id() {
            self.learned.push(Entity {
                id,
                hash: peer.auth.hash(),
                username,
            });
        }
        self.peers.insert(key, peer);
    }

    pub(crate) fn learned(&self) -> Vec<Entity> {
        self.learned.clone()
    }

    /// A channel id carries no access hash; it is found among the account's
    /// dialogs (which the account is in, if it may post there), scanned once
    /// per connection into the session's peer cache.
    async fn resolve_channel(&mut self, target: &Target) -> Result<PeerRef, SendError> {
        let key = target.key();
        if let Some(peer) = self.peers.get(&key) {
            return Ok(*peer);
        }
        let id = target
            .bare_channel_id()
            .and_then(PeerId::channel)
            .ok_or(SendError::TargetNotFound)?;
        if !self.dialogs_scanned {
            let client = self.client.clone();
            self.call("iter_dialogs", async move {
                let mut dialogs = client.iter_dialogs();
                while dialogs.next().await?.is_some() {}
                Ok(())
            })
            .await?;
            self.dialogs_scanned = true;
        }
        let found = self
            .session
            .peer_ref(id)
            .await
            .ok()
            .flatten()
            .ok_or(SendError::TargetNotFound)?;
        self.learn(key, found, None);
        Ok(found)
    }

    async fn send_post(
        &mut self,
        target: &Target,
        post: &Post,
        random_id: i64,
    ) -> Result<Delivery, SendError> {
        let destination: tl::enums::InputPeer = self.resolve(target).await?.into();
        let client = self.client.clone();
        match post {
            Post::Text(text) => {
                // Telethon, the old backend's client, previews links by default.
                let request = tl::functions::messages::SendMessage {
                    no_webpage: false,
                    silent: false,
                    background: false,
                    clear_draft: false,
                    noforwards: false,
                    update_stickersets_order: false,
                    invert_media: false,
                    allow_paid_floodskip: false,
                    peer: destination,
                    reply_to: None,
                    message: text.clone(),
                    random_id,
                    reply_markup: None,
                    entities: None,
                    schedule_date: None,
                    schedule_repeat_period: None,
                    send_as: None,
                    quick_reply_shortcut: None,
                    effect: None,
                    allow_paid_stars: None,
                    suggested_post: None,
                    rich_message: None,
                };
                self.call("send_message", async move {
                    delivered(client.invoke(&request).await.map(|_| ()))
                })
                .await
            }
            Post::Link {
                channel,
                message_id,
            } => {
                let source: tl::enums::InputPeer = self
                    .resolve_username(channel)
                    .await
                    .map_err(source_problem)?
                    .into();
                let request = tl::functions::messages::ForwardMessages {
                    silent: false,
                    background: false,
                    with_my_score: false,
                    drop_author: false,
                    drop_media_captions: false,
                    noforwards: false,
                    allow_paid_floodskip: false,
                    from_ephemeral: false,
                    from_peer: source,
                    id: vec![*message_id],
                    random_id: vec![random_id],
                    to_peer: destination,
                    top_msg_id: None,
                    reply_to: None,
                    schedule_date: None,
                    schedule_repeat_period: None,
                    send_as: None,
                    quick_reply_shortcut: None,
                    effect: None,
                    video_timestamp: None,
                    allow_paid_stars: None,
                    suggested_post: None,
                };
                self.call("forward_messages", async move {
                    delivered(client.invoke(&request).await.map(|_| ()))
                })
                .await
            }
        }
    }

    pub(crate) async fn send(
        &mut self,
        target: &Target,
        post: &Post,
        label: &AttemptLabel,
    ) -> Result<Delivery, SendError> {
        let span = tracing::debug_span!(
            "telegram.send",
            session = %self.log_name,
            user.id = %label.user_id,
            cycle = label.cycle,
            target = %target,
            post_type = %post.post_type(),
        );
        self.send_post(target, post, label.random_id)
            .instrument(span)
            .await
    }

    pub(crate) async fn is_authorized(&mut self) -> Result<bool, SendError> {
        let client = self.client.clone();
        self.call("is_authorized", async move {
            match client.invoke(&tl::functions::updates::GetState {}).await {
                Ok(_) => Ok(true),
                // 401s that are not a dead session (SESSION_PASSWORD_NEEDED:
                // a login stopped at its second factor) mean "not signed in".
                Err(InvocationError::Rpc(e))
                    if e.code == 401
                        && !matches!(
                            classify_rpc(&e.name, e.value),
                            SendError::SessionDead { .. }
                        ) =>
                {
                    Ok(false)
                }
                Err(e) => Err(e),
            }
        })
        .await
    }

    pub(crate) async fn disconnect(mut self) {
        self.client.disconnect();
        if let Some(mut runner) = self.runner.take()
            && tokio::time::timeout(QUIT_GRACE.min(self.call_timeout), &mut runner)
                .await
                .is_err()
        {
            runner.abort();
        }
        tracing::debug!(session = %self.log_name, "disconnected");
    }
}

impl Drop for GrammersConnection {
    fn drop(&mut self) {
        // A connection dropped without disconnect (a cancelled worker task)
        // must not leave its pool and sockets running.
        if let Some(runner) = self.runner.take() {
            runner.abort();
        }
    }
}
