//! Server salts: which are valid, which to hand out.
//!
//! Owns the salt scheme: one salt per auth key and hour, `(hour << 32) | tag`, the tag
//! a keyed hash of (key_id, hour) so a salt cannot be guessed from the clock alone. A
//! salt is accepted from the previous hour up to [`MAX_FUTURE`] hours ahead. Must never
//! accept salt 0: that is how a fresh grammers connection starts, and answering it with
//! `bad_server_salt` is what makes the client fetch salts (trap 1 and 2 of the notes).

use std::time::{SystemTime, UNIX_EPOCH};

use grammers_tl_types::types::FutureSalt;
use rand::RngCore;
use sha2::{Digest, Sha256};

const HOUR: i64 = 3600;
/// Most future salts handed out (and accepted) ahead of the current hour.
pub(crate) const MAX_FUTURE: i64 = 64;

/// The DC's salt secret.
#[derive(Debug)]
pub(crate) struct Salts {
    secret: [u8; 32],
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

impl Salts {
    pub(crate) fn new() -> Self {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        Self { secret }
    }

    fn salt(&self, key_id: i64, hour: i64) -> i64 {
        let mut hasher = Sha256::new();
        hasher.update(self.secret);
        hasher.update(key_id.to_le_bytes());
        hasher.update(hour.to_le_bytes());
        let digest: [u8; 32] = hasher.finalize().into();
        let tag = u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]]);
        (hour << 32) | i64::from(tag)
    }

    /// The salt of the current hour.
    pub(crate) fn current(&self, key_id: i64, now: i64) -> i64 {
        self.salt(key_id, now / HOUR)
    }

    pub(crate) fn is_valid(&self, key_id: i64, salt: i64, now: i64) -> bool {
        let hour = salt >> 32;
        let current = now / HOUR;
        (current - 1..=current + MAX_FUTURE).contains(&hour) && self.salt(key_id, hour) == salt
    }

    /// `num` salts from the current hour on, clamped to 2..=64: one salt alone makes
    /// grammers ask again at once, in a busy loop (trap 1).
    pub(crate) fn future(&self, key_id: i64, now: i64, num: i32) -> Vec<FutureSalt> {
        let count = i64::from(num).clamp(2, MAX_FUTURE);
        let current = now / HOUR;
        (current..current + count)
            .map(|hour| FutureSalt {
                valid_since: (hour * HOUR) as i32,
                // Half an hour of overlap, so a client switching late is not refused.
                valid_until: ((hour + 1) * HOUR + HOUR / 2) as i32,
                salt: self.salt(key_id, hour),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_salts_are_valid_and_zero_is_not() {
        let salts = Salts::new();
        let now = unix_now();
        assert!(salts.is_valid(1, salts.current(1, now), now));
        assert!(!salts.is_valid(2, salts.current(1, now), now));
        assert!(!salts.is_valid(1, 0, now));
        let future = salts.future(1, now, 64);
        assert_eq!(future.len(), 64);
        assert!(future.iter().all(|s| salts.is_valid(1, s.salt, now)));
        assert!(
            future
                .windows(2)
                .all(|w| w[0].valid_since < w[1].valid_since)
        );
        assert_eq!(salts.future(1, now, 1).len(), 2);
        assert!(!salts.is_valid(1, salts.current(1, now - 3 * HOUR), now));
    }
}
