//! Checking a change across users (`Store::update_users`: session assignment, returns, bans)
//! without re-checking all of `users.json`: a document that was valid before the change can only
//! have been broken in the records the change replaced or added, or through the bindings and the
//! admin's bans. Re-checking the whole document made each of 10,000 bot starts cost a scan that
//! hashed every session (about a minute of one core for the lot, BENCHMARKS.md, cost).
//!
//! It must refuse every document [`Document::validate`] refuses (the differential test below
//! holds it to that); it never decides anything `validate` would not.

use std::sync::Arc;

use crate::document::Document;
use crate::users::{User, UsersDoc};

/// Beyond this many changed records one whole-document check (linear) is cheaper than a scan
/// of the others per changed record.
const MAX_CHANGED: usize = 8;

pub(crate) fn validate_change(doc: &UsersDoc, before: &UsersDoc) -> Result<(), String> {
    if doc.bindings != before.bindings || doc.unowned_bans != before.unowned_bans {
        return doc.validate();
    }
    let mut changed: Vec<(&str, &User)> = Vec::new();
    let mut old = before.users.iter().peekable();
    for (id, user) in &doc.users {
        // Both maps are in id order: skip the records the change removed.
        while old.peek().is_some_and(|(o, _)| o.as_str() < id.as_str()) {
            old.next();
        }
        let same = old
            .next_if(|(o, _)| *o == id)
            .is_some_and(|(_, u)| Arc::ptr_eq(u, user));
        if !same {
            if changed.len() == MAX_CHANGED {
                return doc.validate();
            }
            changed.push((id, user));
        }
    }
    changed
        .into_iter()
        .try_for_each(|(id, user)| validate_record(doc, id, user))
}

/// What [`Document::validate`] checks of one record against the rest of the document.
fn validate_record(doc: &UsersDoc, id: &str, user: &User) -> Result<(), String> {
    doc.check_record(id, user)?;
    for session in &user.assigned_sessions {
        if doc.is_banned(session) {
            return Err(format!(
                "session {session} is assigned to user {id} but banned"
            ));
        }
        if let Some(other) = holder_besides(doc, id, session) {
            return Err(format!(
                "session {session} is assigned to both user {other} and user {id}"
            ));
        }
    }
    // A ban this record carries must not hit a session another record holds.
    for banned in &user.banned_sessions {
        if let Some(other) = holder_besides(doc, id, banned) {
            return Err(format!(
                "session {banned} is assigned to user {other} but banned"
            ));
        }
    }
    Ok(())
}

fn holder_besides<'a>(doc: &'a UsersDoc, id: &str, session: &str) -> Option<&'a str> {
    doc.users
        .iter()
        .find(|(other, u)| *other != id && u.assigned_sessions.iter().any(|s| s == session))
        .map(|(other, _)| other.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(assigned: &[(&str, u32)], banned: &[&str]) -> Arc<User> {
        Arc::new(User {
            assigned_sessions: assigned.iter().map(|(s, _)| (*s).to_owned()).collect(),
            api_pairs: assigned.iter().map(|(_, p)| *p).collect(),
            banned_sessions: banned.iter().map(|s| (*s).to_owned()).collect(),
            ..User::default()
        })
    }

    /// Three tenants, each with a session bound to pair 0, one with a ban of its own.
    fn valid() -> UsersDoc {
        let mut doc = UsersDoc::default();
        doc.users.insert("1".into(), user(&[("a.session", 0)], &[]));
        doc.users
            .insert("2".into(), user(&[("b.session", 0)], &["x.session"]));
        doc.users.insert("3".into(), user(&[("c.session", 0)], &[]));
        for s in ["a.session", "b.session", "c.session"] {
            doc.bindings.insert(s.into(), 0);
        }
        doc.validate().expect("the base document is valid");
        doc
    }

    /// A named change to a document.
    type Change = (&'static str, Box<dyn Fn(&mut UsersDoc)>);

    /// The change that puts tenant `id` with these sessions (and pairs) and bans.
    fn put(
        id: &'static str,
        assigned: &'static [(&'static str, u32)],
        banned: &'static [&'static str],
    ) -> Box<dyn Fn(&mut UsersDoc)> {
        Box::new(move |d| {
            d.users.insert(id.into(), user(assigned, banned));
        })
    }

    /// Every change a cross-user update can make, good and bad.
    fn changes() -> Vec<Change> {
        vec![
            ("nothing", Box::new(|_| {})),
            (
                "a free session to a tenant",
                put("1", &[("a.session", 0), ("d.session", 1)], &[]),
            ),
            (
                "another tenant's session",
                put("1", &[("a.session", 0), ("b.session", 0)], &[]),
            ),
            (
                "a banned session",
                put("3", &[("c.session", 0), ("x.session", 0)], &[]),
            ),
            (
                "a ban on a session another tenant holds",
                put("1", &[("a.session", 0)], &["c.session"]),
            ),
            (
                "a session on another pair than its binding",
                put("3", &[("c.session", 2)], &[]),
            ),
            (
                "a new tenant holding a held session",
                put("4", &[("a.session", 0)], &[]),
            ),
            (
                "a new tenant with a free session",
                put("4", &[("e.session", 0)], &[]),
            ),
            ("a malformed tenant id", put("not an id", &[], &[])),
            (
                "a record broken in itself",
                put("2", &[("b.session", 0), ("b.session", 0)], &[]),
            ),
            (
                "a tenant removed, its session to another",
                Box::new(|d| {
                    d.users.remove("1");
                    d.users.insert(
                        "2".into(),
                        user(&[("b.session", 0), ("a.session", 0)], &["x.session"]),
                    );
                }),
            ),
            (
                "an admin ban on a held session",
                Box::new(|d| {
                    d.unowned_bans.insert(
                        "a.session".into(),
                        crate::users::BanRecord {
                            reason: "admin".into(),
                            at: chrono::Utc::now(),
                        },
                    );
                }),
            ),
            (
                "a binding moved under its holder",
                Box::new(|d| {
                    d.bindings.insert("a.session".into(), 5);
                }),
            ),
            (
                "every tenant changed at once",
                Box::new(|d| {
                    let ids: Vec<String> = (10..30).map(|i| i.to_string()).collect();
                    for id in ids {
                        d.users.insert(id, user(&[], &[]));
                    }
                    d.users.insert("3".into(), user(&[("a.session", 0)], &[]));
                }),
            ),
        ]
    }

    #[test]
    fn a_change_is_refused_exactly_when_the_whole_document_check_refuses_it() {
        for (name, change) in changes() {
            let before = valid();
            let mut after = before.clone();
            change(&mut after);
            assert_eq!(
                validate_change(&after, &before).is_ok(),
                after.validate().is_ok(),
                "{name}: the change check and the whole check disagree ({:?} / {:?})",
                validate_change(&after, &before),
                after.validate(),
            );
        }
    }

    #[test]
    fn the_cases_include_refusals_and_acceptances() {
        let outcomes: Vec<bool> = changes()
            .into_iter()
            .map(|(_, change)| {
                let mut after = valid();
                change(&mut after);
                after.validate().is_ok()
            })
            .collect();
        assert!(outcomes.contains(&true) && outcomes.contains(&false));
    }
}
