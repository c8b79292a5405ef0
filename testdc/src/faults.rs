//! Wire faults a test can switch on: what a flaky network or DC does to a client.
//!
//! Owns [`Faults`] and the matching of deliveries and sessions against it. Faults act on
//! the wire only (a dropped socket, a lost answer, silence, a refused accept): whether a
//! post was delivered at all is still the [`crate::World`]'s answer. Must never make a
//! delivery happen twice or not at all: a fault only hides that it happened.

/// The faults a [`crate::TestDc`] injects. `Default` is a healthy DC.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Close every new connection right after accepting it.
    pub refuse_connections: bool,
    /// Stop answering anything.
    pub silence: Option<Silence>,
    /// Close the connection right after these deliveries, before answering them:
    /// grammers then re-sends the same `random_id` on a new connection.
    pub drop_after_delivery: Option<Deliveries>,
    /// Never answer these deliveries, keeping the connection open: the client's call
    /// hangs until its own timeout.
    pub lose_answer_after_delivery: Option<Deliveries>,
}

/// When a connection goes silent: it keeps reading (and discarding) but never writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Silence {
    /// From the first byte: not even an unknown key is answered.
    FromStart,
    /// After answering this many API calls on the connection (service messages such as
    /// pings and salt requests are not counted, but are not answered once silent).
    AfterCalls(u32),
}

/// Which deliveries a fault applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Deliveries {
    /// Only the n-th delivery the DC saw (1-based, counted over all connections).
    Nth(u64),
    /// Every delivery by a session whose name matches this glob (`*` any run of
    /// characters, `?` one character).
    Sessions(String),
    /// Every delivery.
    All,
}

impl Deliveries {
    /// Whether delivery number `n` (1-based) by `session` is selected.
    pub fn selects(&self, n: u64, session: &str) -> bool {
        match self {
            Self::Nth(nth) => *nth == n,
            Self::Sessions(pattern) => glob_match(pattern, session),
            Self::All => true,
        }
    }
}

impl Silence {
    /// Whether a connection that answered `answered` calls is silent now.
    pub fn is_silent(self, answered: u32) -> bool {
        match self {
            Self::FromStart => true,
            Self::AfterCalls(n) => answered >= n,
        }
    }
}

/// `*` and `?` glob over characters, iteratively (no recursion on hostile patterns).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((star_p, star_t)) = star {
            pi = star_p + 1;
            ti = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*", ""));
        assert!(glob_match("+254*.session", "+254708803721.session"));
        assert!(!glob_match("+254*.session", "+255708803721.session"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("*b*b*", "abbab"));
        assert!(!glob_match("ab", "abc"));
        assert!(glob_match("flaky-*", "flaky-3"));
    }

    #[test]
    fn selection() {
        assert!(Deliveries::Nth(2).selects(2, "x"));
        assert!(!Deliveries::Nth(2).selects(3, "x"));
        assert!(Deliveries::Sessions("s-*".into()).selects(9, "s-1"));
        assert!(Deliveries::All.selects(1, ""));
        assert!(Silence::FromStart.is_silent(0));
        assert!(!Silence::AfterCalls(2).is_silent(1));
        assert!(Silence::AfterCalls(2).is_silent(2));
    }
}
