//! A sorted set for the in-memory backend, shaped like Redis's: members with scores, ranged by
//! score. Kept tiny and obvious so that both backends behave alike. A member's name is one
//! shared string for both indexes, kept when its score changes (a running cycle's is renewed
//! every few seconds) and handed on when it moves to another set or map ([`ZSet::take`],
//! [`ZSet::shared`]), so a tenant's name is allocated once however many records name it.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::Name;

#[derive(Debug)]
pub(super) struct ZSet<S: Ord + Copy> {
    by_member: HashMap<Arc<str>, S>,
    ordered: BTreeSet<(S, Arc<str>)>,
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
    pub(super) fn insert(&mut self, member: impl Name, score: S) {
        let name = self
            .take(member.as_str())
            .unwrap_or_else(|| member.to_shared());
        self.ordered.insert((score, name.clone()));
        self.by_member.insert(name, score);
    }

    /// Takes `member` out, giving back its shared name.
    pub(super) fn take(&mut self, member: &str) -> Option<Arc<str>> {
        let (name, score) = self.by_member.remove_entry(member)?;
        self.ordered.remove(&(score, name.clone()));
        Some(name)
    }

    pub(super) fn remove(&mut self, member: &str) -> bool {
        self.take(member).is_some()
    }

    /// `member`'s shared name, if it is in the set.
    pub(super) fn shared(&self, member: &str) -> Option<Arc<str>> {
        self.by_member
            .get_key_value(member)
            .map(|(name, _)| name.clone())
    }

    pub(super) fn score(&self, member: &str) -> Option<S> {
        self.by_member.get(member).copied()
    }

    pub(super) fn first(&self) -> Option<S> {
        self.ordered.first().map(|(s, _)| *s)
    }

    /// Members with a score at most `max`, lowest first, at most `limit`.
    pub(super) fn up_to(&self, max: S, limit: usize) -> Vec<(Arc<str>, S)> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_keeps_one_name_through_score_changes_and_moves() {
        let (mut due, mut running) = (ZSet::default(), ZSet::default());
        due.insert("u1", 5);
        due.insert("u2", 1);
        let name = due.shared("u1").unwrap();
        due.insert("u1", 0);
        assert!(
            Arc::ptr_eq(&name, &due.shared("u1").unwrap()),
            "rescored in place"
        );
        assert_eq!(
            due.up_to(5, 10),
            vec![(Arc::from("u1"), 0), (Arc::from("u2"), 1)]
        );

        let moved = due.take("u1").unwrap();
        running.insert(&moved, 9);
        assert!(
            Arc::ptr_eq(&name, &running.shared("u1").unwrap()),
            "moved, not copied"
        );
        assert_eq!((due.len(), running.len()), (1, 1));
        assert_eq!(due.score("u1"), None);
        assert!(!due.remove("u1") && due.remove("u2"));
        assert_eq!((due.first(), running.first()), (None, Some(9)));
    }
}
