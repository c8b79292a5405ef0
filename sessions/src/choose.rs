//! Which session and which API pair a tenant gets: pure functions over `users.json`'s content,
//! run inside a users.json update so that two processes never hand out the same session.
//!
//! Rules: a free session is a file in `sessions/unused/` that no tenant holds and none banned;
//! taken in name order. A session never bound before gets the least-used active pair with room
//! (usage = assigned sessions bound to it), ties going to the lowest index, and keeps that pair
//! for life (`bindings` in users.json): one whose pair is full or retired is passed over.

use std::collections::{HashSet, VecDeque};

use herald_data::UsersDoc;

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

    pub(crate) fn has_room(&self, pair: u32) -> bool {
        let i = pair as usize;
        self.active.get(i).copied().unwrap_or(false) && self.usage[i] < self.max
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

/// Gives tenant `id` up to `count` more sessions; returns the ones it got.
pub(crate) fn assign_into(
    doc: &mut UsersDoc,
    id: &str,
    count: usize,
    free: &mut VecDeque<String>,
    slots: &mut PairSlots,
) -> Vec<String> {
    let mut chosen = Vec::new();
    let mut passed_over = VecDeque::new();
    while chosen.len() < count {
        let Some(session) = free.pop_front() else {
            break;
        };
        let pair = match doc.bindings.get(&session) {
            Some(&bound) if slots.has_room(bound) => bound,
            Some(_) => {
                passed_over.push_back(session);
                continue;
            }
            None => match slots.pick() {
                Some(pair) => pair,
                None => {
                    passed_over.push_back(session);
                    break;
                }
            },
        };
        slots.bind(pair);
        doc.bindings.insert(session.clone(), pair);
        chosen.push((session, pair));
    }
    passed_over.append(free);
    *free = passed_over;
    let Some(user) = doc.users.get_mut(id).map(std::sync::Arc::make_mut) else {
        return Vec::new();
    };
    chosen
        .into_iter()
        .map(|(session, pair)| {
            user.assigned_sessions.push(session.clone());
            user.api_pairs.push(pair);
            session
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use herald_data::User;

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

#[cfg(test)]
mod binding_tests {
    use super::*;
    use herald_data::User;
    use std::sync::Arc;

    #[test]
    fn a_session_keeps_its_first_pair_and_is_passed_over_when_that_pair_is_full() {
        let mut doc = UsersDoc::default();
        doc.users.insert("a".into(), Arc::new(User::default()));
        doc.bindings.insert("old.session".into(), 1);
        let mut slots = PairSlots::new(&doc, vec![true, true], 1);
        slots.bind(1); // pair 1 is full
        let mut free: VecDeque<String> = ["old.session", "new.session"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let got = assign_into(&mut doc, "a", 2, &mut free, &mut slots);
        assert_eq!(got, vec!["new.session"]);
        assert_eq!(doc.users["a"].api_pairs, vec![0]);
        assert_eq!(doc.bindings["new.session"], 0);
        assert_eq!(
            free,
            VecDeque::from(vec!["old.session".to_string()]),
            "passed over, still free"
        );
    }
}
