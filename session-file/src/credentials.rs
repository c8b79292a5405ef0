//! What a session file is reduced to: home data center, its address and the auth key.
//!
//! Owns the validation shared by every format (dc 1..=5, IP address, port,
//! 256-byte key). Must never let the key bytes reach a `Debug` or `Display`
//! output: the key *is* the logged-in account.

use std::fmt;
use std::net::IpAddr;

use secrecy::zeroize::Zeroize;
use secrecy::{CloneableSecret, ExposeSecret, SecretBox};

use crate::SessionFileError;

/// Length of a Telegram (MTProto 2.0) permanent authorization key.
pub const AUTH_KEY_LEN: usize = 256;

/// Telegram's production data centers. Test DCs (10000+) and CDN DCs are not
/// accounts an operator can post from, so a session naming one is refused.
pub const PRODUCTION_DCS: std::ops::RangeInclusive<i32> = 1..=5;

#[derive(Clone)]
struct KeyBytes([u8; AUTH_KEY_LEN]);

impl Zeroize for KeyBytes {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl CloneableSecret for KeyBytes {}

/// A 256-byte MTProto authorization key. Zeroed on drop; `Debug` redacts it.
#[derive(Clone)]
pub struct AuthKey(SecretBox<KeyBytes>);

impl AuthKey {
    /// Wraps exactly 256 bytes.
    pub fn new(bytes: [u8; AUTH_KEY_LEN]) -> Self {
        Self(SecretBox::new(Box::new(KeyBytes(bytes))))
    }

    /// Copies a slice that must be exactly 256 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SessionFileError> {
        let array: [u8; AUTH_KEY_LEN] = bytes
            .try_into()
            .map_err(|_| SessionFileError::AuthKeyLength(bytes.len()))?;
        Ok(Self::new(array))
    }

    /// The raw key, for the code that hands it to an MTProto client or a file.
    pub fn expose(&self) -> &[u8; AUTH_KEY_LEN] {
        &self.0.expose_secret().0
    }
}

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthKey([REDACTED; 256 bytes])")
    }
}

impl PartialEq for AuthKey {
    fn eq(&self, other: &Self) -> bool {
        // Fold over every byte so the comparison time does not depend on where
        // the keys differ; equality of keys is only ever asked in tests and
        // duplicate detection, but it costs nothing to be careful.
        self.expose()
            .iter()
            .zip(other.expose().iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl Eq for AuthKey {}

/// Everything needed to reconnect an already logged-in account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionCredentials {
    /// Home data center, 1..=5.
    pub dc_id: i32,
    /// IPv4 or IPv6 address in text form, as Telethon stores it.
    pub server_address: String,
    /// TCP port, never 0.
    pub port: u16,
    /// The permanent authorization key bound to `dc_id`.
    pub auth_key: AuthKey,
}

impl SessionCredentials {
    /// Checks the invariants every format must satisfy.
    pub fn validate(&self) -> Result<(), SessionFileError> {
        validate_dc(i64::from(self.dc_id))?;
        self.ip()?;
        if self.port == 0 {
            return Err(SessionFileError::InvalidPort(0));
        }
        Ok(())
    }

    /// The server address parsed as an IP address.
    pub fn ip(&self) -> Result<IpAddr, SessionFileError> {
        parse_ip(&self.server_address)
    }
}

pub(crate) fn validate_dc(dc_id: i64) -> Result<i32, SessionFileError> {
    i32::try_from(dc_id)
        .ok()
        .filter(|dc| PRODUCTION_DCS.contains(dc))
        .ok_or(SessionFileError::InvalidDcId(dc_id))
}

pub(crate) fn validate_port(port: i64) -> Result<u16, SessionFileError> {
    u16::try_from(port)
        .ok()
        .filter(|p| *p != 0)
        .ok_or(SessionFileError::InvalidPort(port))
}

pub(crate) fn parse_ip(address: &str) -> Result<IpAddr, SessionFileError> {
    let trimmed = address.trim();
    if trimmed.is_empty() {
        return Err(SessionFileError::EmptyAddress);
    }
    trimmed
        .parse()
        .map_err(|_| SessionFileError::InvalidAddress(truncate(trimmed, 64)))
}

/// Keeps error messages short when a file holds garbage where an address should be.
pub(crate) fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(max_chars).collect();
        short.push('…');
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_key_bytes() {
        let creds = SessionCredentials {
            dc_id: 2,
            server_address: "149.154.167.51".into(),
            port: 443,
            auth_key: AuthKey::new([0xAB; AUTH_KEY_LEN]),
        };
        let debug = format!("{creds:?}");
        assert!(debug.contains("REDACTED"));
        assert!(!debug.to_lowercase().contains("ab, ab"));
        assert!(!debug.contains("171"));
    }

    #[test]
    fn validation_is_explicit_about_each_field() {
        let good = SessionCredentials {
            dc_id: 5,
            server_address: "2001:b28:f23f:f005::a".into(),
            port: 443,
            auth_key: AuthKey::new([1; AUTH_KEY_LEN]),
        };
        assert!(good.validate().is_ok());
        let bad_dc = SessionCredentials {
            dc_id: 6,
            ..good.clone()
        };
        assert_eq!(
            bad_dc.validate().map_err(|e| e.to_string()),
            Err("dc_id is 6, expected 1 to 5 (Telegram's production data centers)".into())
        );
        let no_port = SessionCredentials {
            port: 0,
            ..good.clone()
        };
        assert!(matches!(
            no_port.validate(),
            Err(SessionFileError::InvalidPort(0))
        ));
        let host = SessionCredentials {
            server_address: "telegram.org".into(),
            ..good
        };
        assert!(matches!(
            host.validate(),
            Err(SessionFileError::InvalidAddress(_))
        ));
    }

    #[test]
    fn key_length_is_reported() {
        let err = AuthKey::from_slice(&[0; 255]).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("auth_key is 255 bytes, expected 256"));
    }
}
