//! The seam between Herald and Telegram: connect a session, send posts, disconnect.
//!
//! Owns the traits every backend implements ([`Telegram`], [`Connection`]) and
//! the values that cross them. Must never let a backend decide policy (retry,
//! sleep on flood waits, quarantine): a backend reports a classified
//! [`SendError`] and the worker decides.

use std::time::Duration;

use async_trait::async_trait;
use herald_session_file::{Entity, SessionCredentials, mask_session_name};
use secrecy::SecretString;

use crate::{Post, SendError, Target};

/// An API id/hash pair. `api_hash` is only needed to sign in, which Herald never
/// does, but it travels with the id so a backend that needs it has it.
#[derive(Clone, Debug)]
pub struct ApiCredentials {
    pub api_id: i32,
    pub api_hash: SecretString,
}

/// A session to connect, named by its file name (e.g. `+254708803721.session`), with the chats
/// it resolved before (its file's `entities` table), so a backend resolves each only once.
#[derive(Clone)]
pub struct SessionHandle {
    pub name: String,
    pub credentials: SessionCredentials,
    pub entities: Vec<Entity>,
}

impl std::fmt::Debug for SessionHandle {
    /// Masks the name (a phone number) and shows the credentials redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandle")
            .field("name", &self.log_name())
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl SessionHandle {
    /// A handle that knows no chat yet.
    pub fn new(name: impl Into<String>, credentials: SessionCredentials) -> SessionHandle {
        SessionHandle {
            name: name.into(),
            credentials,
            entities: Vec::new(),
        }
    }

    /// The name masked for logs: file names are phone numbers.
    pub fn log_name(&self) -> String {
        mask_session_name(&self.name)
    }
}

/// Who a send is for, and its idempotency key.
///
/// `random_id` is Telegram's own dedup key for `messages.sendMessage` / `forwardMessages`: a
/// second request with the same id from the same account is answered `RANDOM_ID_DUPLICATE` and
/// delivers nothing. Herald chooses it ([`new_random_id`]) once per group and cycle, checkpoints
/// it before the first send, and re-sends with the same id after a timeout, a reconnect or a
/// cycle resumed by another worker, so a post whose answer was lost is not posted twice (where
/// Telegram still remembers the id; its horizon is undocumented).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptLabel {
    pub user_id: String,
    pub cycle: u64,
    pub random_id: i64,
}

/// Bits of a random id below the cycle number.
const RANDOM_BITS: u32 = 40;

/// A fresh random id for a post of cycle `cycle`: the cycle number (modulo 2^23) in the top bits,
/// 40 random bits below. The cycle lets the far side of a wire (Herald's test DC) attribute a
/// delivery to its cycle; the random part keeps ids of one account unique (a Redis that lost its
/// data numbers cycles from 1 again), and the id stays positive.
pub fn new_random_id(cycle: u64) -> i64 {
    let cycle_bits = (cycle & 0x7f_ffff) << RANDOM_BITS;
    let random = rand::random::<u64>() & ((1 << RANDOM_BITS) - 1);
    // At most 63 bits are set, so the cast keeps the value.
    (cycle_bits | random) as i64
}

/// The cycle number (modulo 2^23) a [`new_random_id`] was made for.
pub fn cycle_of_random_id(random_id: i64) -> u64 {
    (random_id as u64 >> RANDOM_BITS) & 0x7f_ffff
}

/// Settings shared by every backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TelegramConfig {
    /// Upper bound of every call (connect, resolve, send, forward, check). A
    /// silent peer otherwise hangs a call forever; on expiry the call fails as
    /// [`SendError::Transient`] (`HERALD_TELEGRAM_CALL_TIMEOUT_MS`).
    pub call_timeout: Duration,
    /// Connect every session here instead of the DC address in its file: a test
    /// DC (`herald testdc`, the demo's), never Telegram (`HERALD_TELEGRAM_DC_ADDR`).
    pub dc_override: Option<std::net::SocketAddr>,
}

impl Default for TelegramConfig {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(30),
            dc_override: None,
        }
    }
}

/// A Telegram backend (grammers or simulated). Held as `Arc<dyn Telegram>`.
#[async_trait]
pub trait Telegram: Send + Sync + 'static {
    /// Opens a connection for one session with the API pair it is bound to.
    ///
    /// Fails with [`SendError::SessionDead`] when the session is known dead,
    /// [`SendError::Transient`] when the network fails or times out.
    async fn connect(
        &self,
        session: SessionHandle,
        api: ApiCredentials,
    ) -> Result<Box<dyn Connection>, SendError>;
}

/// A post Telegram accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Delivered by this call.
    New,
    /// Telegram answered `RANDOM_ID_DUPLICATE`: an earlier call with this random id delivered
    /// it, and this one delivered nothing.
    Duplicate,
}

/// One live connection of one session. Use from one task at a time.
#[async_trait]
pub trait Connection: Send {
    /// Sends one post to one target with the label's random id; `Ok` once Telegram accepted
    /// it (or had accepted it before: [`Delivery::Duplicate`]). After a
    /// [`SendError::Transient`] the connection may be broken: later calls then fail at once
    /// with [`SendError::NotSent`] and the caller connects again.
    async fn send(
        &mut self,
        target: &Target,
        post: &Post,
        label: &AttemptLabel,
    ) -> Result<Delivery, SendError>;

    /// Admin health check: `Ok(true)` when an account is signed in, `Ok(false)`
    /// when the key is valid but no account is (or is only half) signed in,
    /// `Err(SessionDead{code})` when Telegram says the session is over (the
    /// code tells banned, deactivated, revoked or frozen apart).
    async fn is_authorized(&mut self) -> Result<bool, SendError>;

    /// Chats this connection resolved that its [`SessionHandle`] did not know: for the
    /// caller to keep with the session.
    fn learned(&self) -> Vec<Entity> {
        Vec::new()
    }

    /// Closes the connection; never fails, bounded in time.
    async fn disconnect(self: Box<Self>);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_random_id_carries_its_cycle_and_differs_every_time() {
        for cycle in [0, 1, 42, 0x7f_ffff] {
            let (a, b) = (new_random_id(cycle), new_random_id(cycle));
            assert!(a >= 0 && b >= 0);
            assert_ne!(a, b);
            assert_eq!(cycle_of_random_id(a), cycle);
        }
        assert_eq!(
            cycle_of_random_id(new_random_id(0x80_0001)),
            1,
            "modulo 2^23"
        );
    }

    #[test]
    fn debug_output_hides_phone_numbers_and_keys() {
        let handle = SessionHandle::new(
            "+254708803721.session",
            SessionCredentials {
                dc_id: 4,
                server_address: "149.154.167.91".into(),
                port: 443,
                auth_key: herald_session_file::AuthKey::new([0xAB; 256]),
            },
        );
        let api = ApiCredentials {
            api_id: 1,
            api_hash: "0123456789abcdef0123456789abcdef".to_owned().into(),
        };
        let text = format!("{handle:?} {api:?}");
        assert!(!text.contains("708803"), "{text}");
        assert!(!text.contains("171"), "{text}");
        assert!(!text.contains("0123456789abcdef"), "{text}");
    }
}
