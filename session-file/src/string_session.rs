//! Telethon's `StringSession`: the whole login as one line of text.
//!
//! Format (telethon/sessions/string.py): the version character `'1'`, then
//! URL-safe base64 of `dc_id` (1 byte), the IPv4 (4 bytes) or IPv6 (16 bytes)
//! address, the port (2 bytes, big endian) and the 256-byte auth key.
//! Owns that encoding only; must never log or echo the string, which *is* the login.

use std::net::IpAddr;

use base64::Engine;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::credentials::{AUTH_KEY_LEN, validate_dc, validate_port};
use crate::{AuthKey, SessionCredentials, SessionFileError};

/// The only version Telethon has ever written.
const VERSION: char = '1';

const IPV4_LEN: usize = 1 + 4 + 2 + AUTH_KEY_LEN;
const IPV6_LEN: usize = 1 + 16 + 2 + AUTH_KEY_LEN;

/// Telethon pads its output; people trim the `=` when pasting, so accept both.
const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes and validates a Telethon string session. Surrounding whitespace is ignored.
pub fn parse_telethon_string(s: &str) -> Result<SessionCredentials, SessionFileError> {
    let s = s.trim();
    let mut chars = s.chars();
    match chars.next() {
        None => return Err(bad("the string is empty")),
        Some(VERSION) => {}
        Some(_) => return Err(bad("it does not start with the version character '1'")),
    }
    let bytes = ENGINE
        .decode(chars.as_str())
        .map_err(|_| bad("the text after '1' is not URL-safe base64"))?;
    let ip_len = match bytes.len() {
        IPV4_LEN => 4,
        IPV6_LEN => 16,
        n => {
            return Err(SessionFileError::StringSession(format!(
                "it decodes to {n} bytes, expected {IPV4_LEN} (IPv4) or {IPV6_LEN} (IPv6)"
            )));
        }
    };
    let dc_id = validate_dc(i64::from(bytes[0]))?;
    let ip_bytes = &bytes[1..1 + ip_len];
    let ip: IpAddr = match ip_len {
        4 => <[u8; 4]>::try_from(ip_bytes).map(IpAddr::from),
        _ => <[u8; 16]>::try_from(ip_bytes).map(IpAddr::from),
    }
    .map_err(|_| bad("the address has the wrong length"))?;
    let port_at = 1 + ip_len;
    let port = validate_port(i64::from(u16::from_be_bytes([
        bytes[port_at],
        bytes[port_at + 1],
    ])))?;
    let auth_key = AuthKey::from_slice(&bytes[port_at + 2..])?;
    Ok(SessionCredentials {
        dc_id,
        server_address: ip.to_string(),
        port,
        auth_key,
    })
}

/// Encodes credentials the way Telethon's `StringSession.save()` does.
pub fn to_telethon_string(credentials: &SessionCredentials) -> Result<String, SessionFileError> {
    credentials.validate()?;
    let dc = u8::try_from(credentials.dc_id)
        .map_err(|_| SessionFileError::InvalidDcId(i64::from(credentials.dc_id)))?;
    let mut bytes = Vec::with_capacity(IPV6_LEN);
    bytes.push(dc);
    match credentials.ip()? {
        IpAddr::V4(v4) => bytes.extend_from_slice(&v4.octets()),
        IpAddr::V6(v6) => bytes.extend_from_slice(&v6.octets()),
    }
    bytes.extend_from_slice(&credentials.port.to_be_bytes());
    bytes.extend_from_slice(credentials.auth_key.expose());
    let mut out = String::with_capacity(1 + bytes.len().div_ceil(3) * 4);
    out.push(VERSION);
    ENGINE.encode_string(&bytes, &mut out);
    Ok(out)
}

fn bad(reason: &str) -> SessionFileError {
    SessionFileError::StringSession(reason.to_owned())
}
