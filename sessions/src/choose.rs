//! Which session and which API pair a tenant gets: pure functions over `users.json`'s content,
//! run inside a users.json update so that two processes never hand out the same session.
//!
//! Rules: a free session is a file in `sessions/unused/` that no tenant holds and none banned;
//! taken in name order. Its pair is the least-used active pair with room (usage = assigned
//! sessions bound to it), ties going to the lowest index. A binding, once made, never moves.

use std::collections::{HashSet, VecDeque};

use herald_data::{User, UsersDoc};

/// The pairs as assignment sees them.
#[derive(Debug, Clone)]
pub(crate) struct PairSlots {
    /// `active[i]`: pair `i` exists and is not retired.
    pub(crate) active: Vec<bool>,
    /// `usage[i]`: assigned sessions bound to pair `i` (may exceed `active.len()` for bindings
    /// to pairs missing from api_pairs.json; those count but never take more).
    pub(crate) usage: Vec<usize>,
    pub(crate) max: usize,
}

impl PairSlots {
    pub(crate) fn new(doc: &UsersDoc, active: Vec<bool>, max: usize) -> PairSlots {
        let mut usage = vec![0; active.len()];
        for user in doc.users.values() {
            for &pair in &user.api_pairs {
                let pair = pair as usize;
                if pair >= usage.len() {
                    usage.resize(pair + 1, 0);
                }
                usage[pair] += 1;
            }
        }
        PairSlots { active, usage, max }
    }

    /// The least-used active pair with room; ties to the lowest index.
    pub(crate) fn pick(&self) -> Option<u32> {
        (0..self.active.len())
            .filter(|&i| self.active[i] && self.usage[i] < self.max)
            .min_by_key(|&i| (self.usage[i], i))
            .map(|i| i as u32)
    }

    pub(crate) fn bind(&mut self, pair: u32) {
        self.usage[pair as usize] += 1;
    }

    pub(crate) fn unbind(&mut self, pair: u32) {
        if let Some(n) = self.usage.get_mut(pair as usize) {
            *n = n.saturating_sub(1);
        }
    }

    /// Why [`PairSlots::pick`] found nothing, in an operator's words.
    pub(crate) fn why_none(&self) -> String {
        if !self.active.iter().any(|a| *a) {
            "no API pair is configured (add one with `herald pairs add` or the admin API)".into()
        } else {
            format!("every API pair already has {} sessions", self.max)
        }
    }
}

/// Files in `unused/` that no tenant holds and none banned, in name order.
pub(crate) fn free_sessions(doc: &UsersDoc, unused_files: &[String]) -> VecDeque<String> {
    let taken: HashSet<&str> = doc
        .users
        .values()
        .flat_map(|u| u.assigned_sessions.iter().chain(u.banned_sessions.iter()))
        .chain(doc.unowned_bans.keys())
        .map(String::as_str)
        .collect();
    unused_files
        .iter()
        .filter(|s| !taken.contains(s.as_str()))
        .cloned()
        .collect()
}

/// Gives `user` up to `count` more sessions; returns the ones it got.
pub(crate) fn assign_into(
    user: &mut User,
    count: usize,
    free: &mut VecDeque<String>,
    slots: &mut PairSlots,
) -> Vec<String> {
    let mut newly = Vec::new();
    while newly.len() < count {
        let Some(pair) = slots.pick() else { break };
        let Some(session) = free.pop_front() else {
            break;
        };
        slots.bind(pair);
        user.assigned_sessions.push(session.clone());
        user.api_pairs.push(pair);
        newly.push(session);
    }
    newly
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn doc_with(bindings: &[u32]) -> UsersDoc {
        let mut doc = UsersDoc::default();
        let user = User {
            assigned_sessions: (0..bindings.len())
                .map(|i| format!("s{i}.session"))
                .collect(),
            api_pairs: bindings.to_vec(),
            ..User::default()
        };
        doc.users.insert("a".into(), Arc::new(user));
        doc
    }

    #[test]
    fn the_least_used_pair_with_room_wins_and_ties_go_to_the_lowest_index() {
        let doc = doc_with(&[0, 0, 1]);
        let mut slots = PairSlots::new(&doc, vec![true, true, true], 2);
        assert_eq!(slots.pick(), Some(2));
        slots.bind(2);
        assert_eq!(slots.pick(), Some(1));
        slots.bind(1);
        assert_eq!(slots.pick(), Some(2));
        slots.bind(2);
        assert_eq!(slots.pick(), None, "all pairs full at max 2");
        assert!(slots.why_none().contains("already has 2"));
    }

    #[test]
    fn retired_pairs_take_nothing() {
        let doc = UsersDoc::default();
        let slots = PairSlots::new(&doc, vec![false, true], 7);
        assert_eq!(slots.pick(), Some(1));
        assert!(
            PairSlots::new(&doc, vec![false], 7)
                .why_none()
                .contains("no API pair")
        );
    }

    #[test]
    fn held_and_banned_sessions_are_not_free() {
        let mut doc = doc_with(&[0]);
        Arc::make_mut(doc.users.get_mut("a").unwrap())
            .banned_sessions
            .push("b.session".into());
        let files: Vec<String> = ["b.session", "c.session", "s0.session"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            free_sessions(&doc, &files),
            VecDeque::from(vec!["c.session".to_string()])
        );
    }
}
