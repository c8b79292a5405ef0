//! The seam between Herald and Telegram: connect a session, send posts, disconnect.
//!
//! Owns the traits every backend implements ([`Telegram`], [`Connection`]) and
//! the values that cross them. Must never let a backend decide policy (retry,
//! sleep on flood waits, quarantine): a backend reports a classified
//! [`SendError`] and the worker decides.

use std::time::Duration;

use async_trait::async_trait;
use herald_session_file::SessionCredentials;
use secrecy::SecretString;

use crate::{Post, SendError, Target};

/// An API id/hash pair. `api_hash` is only needed to sign in, which Herald never
/// does, but it travels with the id so a backend that needs it has it.
#[derive(Clone, Debug)]
pub struct ApiCredentials {
    pub api_id: i32,
    pub api_hash: SecretString,
}

/// A session to connect, named by its file name (e.g. `+254708803721.session`).
#[derive(Clone)]
pub struct SessionHandle {
    pub name: String,
    pub credentials: SessionCredentials,
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
    /// The name with most digits masked, for logs: file names are phone numbers.
    pub fn log_name(&self) -> String {
        mask_session_name(&self.name)
    }
}

/// Who a send is for; used only by the simulator's journal and by tracing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptLabel {
    pub user_id: String,
    pub cycle: u64,
}

/// Settings shared by every backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TelegramConfig {
    /// Upper bound of every call (connect, resolve, send, forward, check). A
    /// silent peer otherwise hangs a call forever; on expiry the call fails as
    /// [`SendError::Transient`].
    pub call_timeout: Duration,
}

impl Default for TelegramConfig {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(30),
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

/// One live connection of one session. Use from one task at a time.
#[async_trait]
pub trait Connection: Send {
    /// Sends one post to one target; `Ok` once Telegram accepted it.
    async fn send(
        &mut self,
        target: &Target,
        post: &Post,
        label: &AttemptLabel,
    ) -> Result<(), SendError>;

    /// Admin health check: `Ok(true)` when an account is signed in, `Ok(false)`
    /// when the key is valid but no account is (or is only half) signed in,
    /// `Err(SessionDead{code})` when Telegram says the session is over (the
    /// code tells banned, deactivated, revoked or frozen apart).
    async fn is_authorized(&mut self) -> Result<bool, SendError>;

    /// Closes the connection; never fails, bounded in time.
    async fn disconnect(self: Box<Self>);
}

/// Masks the digits of a session file name except the first three and last
/// two: `+254708803721.session` becomes `+254*******21.session`.
pub fn mask_session_name(name: &str) -> String {
    let digits = name.chars().filter(char::is_ascii_digit).count();
    let mut seen = 0;
    name.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen > 3 && seen + 2 <= digits {
                    return '*';
                }
            }
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_are_masked_for_logs() {
        assert_eq!(
            mask_session_name("+254708803721.session"),
            "+254*******21.session"
        );
        assert_eq!(
            mask_session_name("917862974695 (2).session"),
            "917********5 (2).session"
        );
        assert_eq!(mask_session_name("demo-1.session"), "demo-1.session");
    }

    #[test]
    fn debug_output_hides_phone_numbers_and_keys() {
        let handle = SessionHandle {
            name: "+254708803721.session".into(),
            credentials: SessionCredentials {
                dc_id: 4,
                server_address: "149.154.167.91".into(),
                port: 443,
                auth_key: herald_session_file::AuthKey::new([0xAB; 256]),
            },
        };
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
