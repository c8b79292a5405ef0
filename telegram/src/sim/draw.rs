//! The simulator's sources of chance and time, made reproducible.
//!
//! Owns the deterministic draws (a pure function of seed, session, target and
//! the session's attempt number, so concurrency cannot change an outcome), the
//! session-name glob, and the simulated clock. Must never use a process-global
//! RNG or `std`'s randomized hasher: the same scenario must give the same
//! journal on any machine and Rust version.

use chrono::{DateTime, Utc};

/// FNV-1a, 64 bit: stable across builds, unlike `DefaultHasher`.
pub(crate) fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.iter().chain(&[0xff]) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// A SplitMix64 stream seeded from one attempt's identity.
pub(crate) struct Draws(u64);

impl Draws {
    pub(crate) fn new(seed: u64, session: &str, target_key: &str, attempt: u64) -> Self {
        Self(fnv1a(&[
            &seed.to_le_bytes(),
            session.as_bytes(),
            target_key.as_bytes(),
            &attempt.to_le_bytes(),
        ]))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `min..=max` (`max < min` reads as `min`).
    pub(crate) fn between(&mut self, min: u64, max: u64) -> u64 {
        if max <= min {
            return min;
        }
        let span = max - min + 1;
        min + self.next_u64() % span
    }
}

/// `*` matches any run of characters, `?` exactly one; everything else itself.
pub(crate) fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(c) if *c == '?' || *c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Wall-clock time that advances with tokio's clock.
///
/// Outside tests this is the wall clock. Under `tokio::time::pause()` it moves
/// when the test advances time, so a worker that honors a flood wait with
/// `tokio::time::sleep` is seen honoring it. One anchor per process keeps every
/// simulator of a process on the same reading; across processes the readings
/// agree as wall clocks do.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SimClock;

/// The wall clock and the monotonic clock read once, together, per process,
/// and moved back an hour (or as far as the monotonic clock allows): a paused
/// tokio clock starts at its runtime's creation, which may precede the first
/// reading, and a reading before the anchor would otherwise stand still.
fn anchor() -> &'static (DateTime<Utc>, std::time::Instant) {
    static ANCHOR: std::sync::OnceLock<(DateTime<Utc>, std::time::Instant)> =
        std::sync::OnceLock::new();
    ANCHOR.get_or_init(|| {
        let (wall, mono) = (Utc::now(), std::time::Instant::now());
        [3600, 60, 1]
            .into_iter()
            .find_map(|secs| {
                let back = std::time::Duration::from_secs(secs);
                let mono = mono.checked_sub(back)?;
                let wall = wall.checked_sub_signed(chrono::Duration::from_std(back).ok()?)?;
                Some((wall, mono))
            })
            .unwrap_or((wall, mono))
    })
}

impl SimClock {
    pub(crate) fn new() -> Self {
        anchor();
        Self
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        let (wall, mono) = *anchor();
        let elapsed = tokio::time::Instant::now()
            .into_std()
            .saturating_duration_since(mono);
        chrono::Duration::from_std(elapsed)
            .ok()
            .and_then(|d| wall.checked_add_signed(d))
            .unwrap_or(wall)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_depend_only_on_their_inputs() {
        let stream = |mut d: Draws| (0..4).map(|_| d.next_u64()).collect::<Vec<_>>();
        assert_eq!(
            stream(Draws::new(7, "s", "@t", 3)),
            stream(Draws::new(7, "s", "@t", 3))
        );
        assert_ne!(
            Draws::new(7, "s", "@t", 4).next_u64(),
            Draws::new(7, "s", "@t", 3).next_u64()
        );
        assert_ne!(
            Draws::new(8, "s", "@t", 3).next_u64(),
            Draws::new(7, "s", "@t", 3).next_u64()
        );
        // Pinned: a change here changes every scenario's journal.
        assert_eq!(Draws::new(1, "a.session", "@group", 1).next_u64(), PINNED);
    }

    const PINNED: u64 = 1_796_055_881_468_893_382;

    #[test]
    fn unit_and_between_stay_in_range() {
        let mut d = Draws::new(1, "x", "y", 1);
        for _ in 0..1000 {
            let u = d.unit();
            assert!((0.0..1.0).contains(&u));
            let v = d.between(5, 9);
            assert!((5..=9).contains(&v));
        }
        assert_eq!(d.between(4, 4), 4);
    }

    #[test]
    fn globs() {
        assert!(glob_match("*", "+254708803721.session"));
        assert!(glob_match("+254*", "+254708803721.session"));
        assert!(glob_match("*.session", "a.session"));
        assert!(glob_match("demo-?.session", "demo-3.session"));
        assert!(!glob_match("demo-?.session", "demo-10.session"));
        assert!(glob_match("a*b*c", "a-x-b-y-c"));
        assert!(!glob_match("a*b*c", "a-x-c-y-b"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
    }
}
