//! grammers session files: the SQLite storage of grammers-session 0.8+ (schema
//! version 1, current in 0.11) and the older TL-serialized binary file of
//! grammers-session up to 0.7.
//!
//! Owns decoding both into [`SessionCredentials`] for the home data center.
//! Must never write either format: Herald keeps sessions as Telethon files.
//!
//! SQLite layout written by `grammers_session::storages::SqliteSession`
//! (`PRAGMA user_version = 1`): `dc_home(dc_id)`, `dc_option(dc_id, ipv4 TEXT
//! "a.b.c.d:port", ipv6 TEXT "[..]:port", auth_key BLOB)`, plus `peer_info`,
//! `update_state`, `channel_state`. With no `dc_home` row grammers uses DC 2.
//!
//! Binary layout (grammers-session 0.7 `Session::save`), TL boxed, little endian:
//! `session#a73eb8ce flags:# dcs:Vector<DataCenter> user:flags.0?User state:flags.1?UpdateState`,
//! `dataCenter#756d16b6 flags:# id:int ipv4:flags.0?int ipv6:flags.1?int128 port:int auth:flags.2?bytes`,
//! `user#672f428d id:long dc:int bot:Bool`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use crate::credentials::{validate_dc, validate_port};
use crate::sqlite::{self, table_exists, with_read_only};
use crate::{AuthKey, SessionCredentials, SessionFileError};

/// The data center grammers assumes when `dc_home` is empty.
const GRAMMERS_DEFAULT_DC: i64 = 2;

/// Constructor id of the legacy binary `session` object, as its first 4 bytes.
pub(crate) const LEGACY_SESSION_ID: u32 = 0xa73e_b8ce;
const LEGACY_DATA_CENTER_ID: u32 = 0x756d_16b6;
const LEGACY_USER_ID: u32 = 0x672f_428d;
const TL_VECTOR_ID: u32 = 0x1cb5_c415;
const TL_BOOL_TRUE: u32 = 0x9972_75b5;
const TL_BOOL_FALSE: u32 = 0xbc79_9737;

/// Reads a grammers session file of either format (detected by its first bytes).
pub fn read_grammers(path: impl AsRef<Path>) -> Result<SessionCredentials, SessionFileError> {
    let path = path.as_ref();
    match sqlite::precheck(path) {
        Ok(()) => with_read_only(path, read_connection),
        Err(SessionFileError::NotSqlite) => read_grammers_binary(&std::fs::read(path)?),
        Err(other) => Err(other),
    }
}

pub(crate) fn read_connection(conn: &Connection) -> Result<SessionCredentials, SessionFileError> {
    if !table_exists(conn, "dc_option")? {
        return Err(SessionFileError::Grammers("no dc_option table".into()));
    }
    let home: i64 = if table_exists(conn, "dc_home")? {
        conn.query_row("SELECT dc_id FROM dc_home LIMIT 1", [], |row| row.get(0))
            .optional()?
            .unwrap_or(GRAMMERS_DEFAULT_DC)
    } else {
        GRAMMERS_DEFAULT_DC
    };
    let dc_id = validate_dc(home)?;
    let mut stmt =
        conn.prepare("SELECT ipv4, ipv6, auth_key FROM dc_option WHERE dc_id = ?1 LIMIT 1")?;
    let mut rows = stmt.query([dc_id])?;
    let row = rows.next()?.ok_or_else(|| {
        SessionFileError::Grammers(format!("no dc_option row for home DC {dc_id}"))
    })?;
    let ipv4 = sqlite::text(row.get_ref(0)?, "ipv4")?;
    let ipv6 = sqlite::text(row.get_ref(1)?, "ipv6")?;
    let auth_key = match row.get_ref(2)? {
        rusqlite::types::ValueRef::Null => {
            return Err(SessionFileError::Grammers(format!(
                "no auth_key for home DC {dc_id}: the session never connected"
            )));
        }
        value => sqlite::auth_key(value)?,
    };
    let address = usable_address(&ipv4)
        .or_else(|| usable_address(&ipv6))
        .ok_or_else(|| {
            SessionFileError::Grammers(format!("no usable address for home DC {dc_id}"))
        })?;
    Ok(SessionCredentials {
        dc_id,
        server_address: address.ip().to_string(),
        port: validate_port(i64::from(address.port()))?,
        auth_key,
    })
}

/// grammers fills unknown addresses with `0.0.0.0:0`; those are skipped.
fn usable_address(text: &str) -> Option<SocketAddr> {
    text.trim()
        .parse::<SocketAddr>()
        .ok()
        .filter(|a| !a.ip().is_unspecified() && a.port() != 0)
}

/// Decodes the legacy binary format (grammers-session up to 0.7).
pub fn read_grammers_binary(bytes: &[u8]) -> Result<SessionCredentials, SessionFileError> {
    let mut r = TlReader { bytes, at: 0 };
    if r.u32()? != LEGACY_SESSION_ID {
        return Err(SessionFileError::NotASession(
            "not a SQLite database and not a grammers binary session",
        ));
    }
    let flags = r.u32()?;
    if r.u32()? != TL_VECTOR_ID {
        return Err(legacy("the data center list is malformed"));
    }
    let count = r.u32()?;
    let mut dcs = Vec::new();
    for _ in 0..count {
        dcs.push(r.data_center()?);
    }
    let user_dc = if flags & 1 != 0 {
        if r.u32()? != LEGACY_USER_ID {
            return Err(legacy("the user record is malformed"));
        }
        let _user_id = r.u64()?;
        let dc = r.i32()?;
        match r.u32()? {
            TL_BOOL_TRUE | TL_BOOL_FALSE => {}
            _ => return Err(legacy("the user record is malformed")),
        }
        Some(dc)
    } else {
        None
    };
    // The update state (flags.1) follows; Herald has no use for it.
    let keyed: Vec<&LegacyDc> = dcs.iter().filter(|dc| dc.auth.is_some()).collect();
    let home = match user_dc {
        Some(dc) => dcs
            .iter()
            .find(|d| d.id == dc)
            .ok_or_else(|| legacy(&format!("no data center entry for the user's DC {dc}")))?,
        None if keyed.len() == 1 => keyed[0],
        None => return Err(legacy("no logged-in user and no single auth key to choose")),
    };
    let dc_id = validate_dc(i64::from(home.id))?;
    let auth = home
        .auth
        .as_deref()
        .ok_or_else(|| legacy(&format!("no auth key for home DC {dc_id}")))?;
    let ip = home
        .ip
        .ok_or_else(|| legacy(&format!("no address for home DC {dc_id}")))?;
    Ok(SessionCredentials {
        dc_id,
        server_address: ip.to_string(),
        port: validate_port(i64::from(home.port))?,
        auth_key: AuthKey::from_slice(auth)?,
    })
}

fn legacy(reason: &str) -> SessionFileError {
    SessionFileError::Grammers(format!("binary session: {reason}"))
}

struct LegacyDc {
    id: i32,
    ip: Option<IpAddr>,
    port: i32,
    auth: Option<Vec<u8>>,
}

struct TlReader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl TlReader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], SessionFileError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| legacy("the file ends early"))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], SessionFileError> {
        self.take(N)?
            .try_into()
            .map_err(|_| legacy("the file ends early"))
    }

    fn u32(&mut self) -> Result<u32, SessionFileError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32, SessionFileError> {
        Ok(i32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, SessionFileError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// TL `bytes`: a 1-byte length (or 0xfe + 3-byte length), data, padding to 4.
    fn tl_bytes(&mut self) -> Result<Vec<u8>, SessionFileError> {
        let first = self.take(1)?[0];
        let (len, header) = if first == 0xfe {
            let l = self.take(3)?;
            (
                usize::from(l[0]) | usize::from(l[1]) << 8 | usize::from(l[2]) << 16,
                4,
            )
        } else {
            (usize::from(first), 1)
        };
        let data = self.take(len)?.to_vec();
        let padding = (4 - (header + len) % 4) % 4;
        self.take(padding)?;
        Ok(data)
    }

    fn data_center(&mut self) -> Result<LegacyDc, SessionFileError> {
        if self.u32()? != LEGACY_DATA_CENTER_ID {
            return Err(legacy("a data center entry is malformed"));
        }
        let flags = self.u32()?;
        let id = self.i32()?;
        let ipv4 = if flags & 1 != 0 {
            // grammers stored `i32::from_le_bytes(octets)`, so the bytes are the octets.
            Some(IpAddr::V4(Ipv4Addr::from(self.array::<4>()?)))
        } else {
            None
        };
        let ipv6 = if flags & 2 != 0 {
            Some(IpAddr::V6(Ipv6Addr::from(self.array::<16>()?)))
        } else {
            None
        };
        let port = self.i32()?;
        let auth = if flags & 4 != 0 {
            Some(self.tl_bytes()?)
        } else {
            None
        };
        Ok(LegacyDc {
            id,
            ip: ipv4.or(ipv6),
            port,
            auth,
        })
    }
}
