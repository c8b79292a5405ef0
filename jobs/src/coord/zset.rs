//! A sorted set for the in-memory backend, shaped like Redis's: members with scores, ranged by
//! score. Kept tiny and obvious so that both backends behave alike.

use std::collections::{BTreeSet, HashMap};

#[derive(Debug)]
pub(super) struct ZSet<S: Ord + Copy> {
    by_member: HashMap<String, S>,
    ordered: BTreeSet<(S, String)>,
}

impl<S: Ord + Copy> Default for ZSet<S> {
    fn default() -> Self {
        ZSet {
            by_member: HashMap::new(),
            ordered: BTreeSet::new(),
        }
    }
}

impl<S: Ord + Copy> ZSet<S> {
    pub(super) fn insert(&mut self, member: &str, score: S) {
        self.remove(member);
        self.by_member.insert(member.to_owned(), score);
        self.ordered.insert((score, member.to_owned()));
    }

    pub(super) fn remove(&mut self, member: &str) -> bool {
        match self.by_member.remove(member) {
            Some(score) => {
                self.ordered.remove(&(score, member.to_owned()));
                true
            }
            None => false,
        }
    }

    pub(super) fn score(&self, member: &str) -> Option<S> {
        self.by_member.get(member).copied()
    }

    pub(super) fn first(&self) -> Option<S> {
        self.ordered.first().map(|(s, _)| *s)
    }

    /// Members with a score at most `max`, lowest first, at most `limit`.
    pub(super) fn up_to(&self, max: S, limit: usize) -> Vec<(String, S)> {
        self.ordered
            .iter()
            .take_while(|(s, _)| *s <= max)
            .take(limit)
            .map(|(s, m)| (m.clone(), *s))
            .collect()
    }

    pub(super) fn len(&self) -> usize {
        self.by_member.len()
    }

    pub(super) fn clear(&mut self) {
        self.by_member.clear();
        self.ordered.clear();
    }
}
