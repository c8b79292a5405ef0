//! Converting Herald's [`SessionCredentials`] to and from a grammers in-memory session.
//!
//! Owns the mapping of one home DC (address, port, key) onto grammers' `SessionData`, and of a
//! session's known entities onto the peers its sends look up. Must never persist anything:
//! Herald's files stay Telethon files, and grammers' SQLite storage (a second bundled SQLite) is
//! not linked.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4, SocketAddrV6};

use grammers_session::SessionData;
use grammers_session::types::{DcOption, PeerAuth, PeerId, PeerRef};
use herald_session_file::{Entity, SessionCredentials};

use crate::SendError;

/// A grammers session seeded with exactly the credentials' home DC and key.
pub(crate) struct SeededSession {
    pub(crate) data: SessionData,
    /// grammers dials `ipv4` unless told to use `ipv6`; an IPv6 session needs it.
    pub(crate) use_ipv6: bool,
}

/// Builds the grammers session data. The other DCs keep grammers' static
/// options without keys, as a fresh grammers session would.
pub(crate) fn seed(credentials: &SessionCredentials) -> Result<SeededSession, SendError> {
    let ip = credentials.ip().map_err(|_| SendError::Other {
        code: "INVALID_SESSION_ADDRESS".into(),
    })?;
    let mut data = SessionData::default();
    let known = data.dc_options.get(&credentials.dc_id).cloned();
    let key = Some(*credentials.auth_key.expose());
    let port = credentials.port;
    let (option, use_ipv6) = match ip {
        IpAddr::V4(v4) => (
            DcOption {
                id: credentials.dc_id,
                ipv4: SocketAddrV4::new(v4, port),
                ipv6: SocketAddrV6::new(v4.to_ipv6_mapped(), port, 0, 0),
                auth_key: key,
            },
            false,
        ),
        IpAddr::V6(v6) => (
            DcOption {
                id: credentials.dc_id,
                ipv4: known
                    .map(|k| k.ipv4)
                    .unwrap_or_else(|| SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
                ipv6: SocketAddrV6::new(v6, port, 0, 0),
                auth_key: key,
            },
            true,
        ),
    };
    data.home_dc = credentials.dc_id;
    data.dc_options.insert(credentials.dc_id, option);
    Ok(SeededSession { data, use_ipv6 })
}

/// The peers a session's entities describe, under the keys targets look them up by: the
/// marked id (`-100…` for channels) and, with a username, `@name`.
pub(super) fn known_peers(entities: &[Entity]) -> HashMap<String, PeerRef> {
    let mut peers = HashMap::new();
    for entity in entities {
        let Some(id) = PeerId::from_bot_api_dialog_id(entity.id) else {
            continue;
        };
        let peer = PeerRef {
            id,
            auth: PeerAuth::from_hash(entity.hash),
        };
        peers.insert(entity.id.to_string(), peer);
        if let Some(name) = &entity.username {
            peers.insert(format!("@{}", name.to_ascii_lowercase()), peer);
        }
    }
    peers
}

/// Reads the home DC's credentials back out of grammers session data.
#[cfg(test)]
pub(crate) fn extract(data: &SessionData, use_ipv6: bool) -> Option<SessionCredentials> {
    let option = data.dc_options.get(&data.home_dc)?;
    let key = option.auth_key?;
    let (ip, port) = if use_ipv6 {
        (IpAddr::V6(*option.ipv6.ip()), option.ipv6.port())
    } else {
        (IpAddr::V4(*option.ipv4.ip()), option.ipv4.port())
    };
    Some(SessionCredentials {
        dc_id: option.id,
        server_address: ip.to_string(),
        port,
        auth_key: herald_session_file::AuthKey::new(key),
    })
}

#[cfg(test)]
mod tests {
    use herald_session_file::AuthKey;

    use super::*;

    fn creds(address: &str, dc_id: i32) -> SessionCredentials {
        let mut key = [0u8; 256];
        key.iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = (i as u8) ^ 0x5a);
        SessionCredentials {
            dc_id,
            server_address: address.into(),
            port: 443,
            auth_key: AuthKey::new(key),
        }
    }

    #[test]
    fn ipv4_session_round_trips() {
        let c = creds("149.154.167.91", 4);
        let seeded = seed(&c).expect("seed");
        assert!(!seeded.use_ipv6);
        assert_eq!(seeded.data.home_dc, 4);
        assert_eq!(extract(&seeded.data, seeded.use_ipv6), Some(c));
        // Other DCs stay grammers' keyless defaults.
        assert!(
            seeded
                .data
                .dc_options
                .get(&2)
                .is_some_and(|o| o.auth_key.is_none())
        );
    }

    #[test]
    fn ipv6_session_round_trips() {
        let c = creds("2001:67c:4e8:f002::a", 2);
        let seeded = seed(&c).expect("seed");
        assert!(seeded.use_ipv6);
        assert_eq!(extract(&seeded.data, true), Some(c));
    }

    #[test]
    fn telethon_file_to_grammers_and_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.session");
        let c = creds("127.0.0.1", 2);
        herald_session_file::write_telethon(&path, &c).expect("write");
        let read = herald_session_file::read_telethon(&path).expect("read");
        let seeded = seed(&read).expect("seed");
        assert_eq!(extract(&seeded.data, seeded.use_ipv6), Some(c));
    }
}
