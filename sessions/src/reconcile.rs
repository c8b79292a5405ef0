//! `herald reconcile`: brings the session folders in line with users.json, which is the truth.
//!
//! Each session named in users.json or found in a folder is moved to the folder users.json
//! implies. Reported, not touched: files users.json expects but that exist nowhere, names found in
//! several folders, and names that are not acceptable session names. Nothing is ever deleted.

use std::collections::BTreeMap;

use herald_data::check_session_name;
use herald_session_file::mask_session_name;

use crate::folders::{Folders, Place, Settled};
use crate::{Pool, SessionsError};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// `(session, from, to)`.
    pub moved: Vec<(String, Place, Place)>,
    /// Files in `assigned/` that users.json does not give to that user (moved where it says).
    pub orphans: Vec<(String, Place)>,
    /// Named in users.json, found nowhere: `(session, where it should be)`.
    pub missing: Vec<(String, Place)>,
    /// Found in several folders; left for an operator.
    pub ambiguous: Vec<(String, Vec<Place>)>,
    /// Files ending in `.session` whose names Herald refuses (left alone).
    pub invalid_names: Vec<String>,
    /// Files found in `banned/` that users.json did not list (the old backend recorded bans only
    /// by folder): recorded in users.json as bans, so they never return to the pool.
    pub adopted_bans: Vec<String>,
    /// Sessions already where they belong.
    pub in_place: usize,
}

impl Pool {
    pub async fn reconcile(&self) -> Result<ReconcileReport, SessionsError> {
        let doc = self.store.users();
        let folders = self.folders.clone();
        let mut found = tokio::task::spawn_blocking(move || on_disk(&folders))
            .await
            .map_err(|e| SessionsError::io("list sessions", std::io::Error::other(e)))??;
        let mut named: Vec<String> = doc
            .users
            .values()
            .flat_map(|u| u.assigned_sessions.iter().chain(u.banned_sessions.iter()))
            .chain(doc.unowned_bans.keys())
            .cloned()
            .collect();
        named.sort();
        named.dedup();
        for name in named {
            found.entry(name).or_default();
        }

        let mut report = ReconcileReport::default();
        for (name, places) in found {
            if check_session_name(&name).is_err() {
                report.invalid_names.push(name);
                continue;
            }
            let wanted = Place::wanted(&doc, &name, &places);
            if wanted == Place::Banned && !doc.is_banned(&name) {
                report.adopted_bans.push(name.clone());
            }
            match places.as_slice() {
                [] => report.missing.push((name, wanted)),
                [only] if *only == wanted => report.in_place += 1,
                [from] => {
                    if matches!(from, Place::Assigned(_)) {
                        report.orphans.push((name.clone(), from.clone()));
                    }
                    match self.folders.settle(&name, &wanted)? {
                        Settled::Moved { from } => report.moved.push((name, from, wanted)),
                        Settled::InPlace => report.in_place += 1,
                        Settled::Missing => report.missing.push((name, wanted)),
                        Settled::Ambiguous(places) => report.ambiguous.push((name, places)),
                    }
                }
                _ => report.ambiguous.push((name, places)),
            }
        }
        if !report.adopted_bans.is_empty() {
            let adopted = report.adopted_bans.clone();
            self.store
                .update_users(move |doc| {
                    for name in adopted {
                        if doc.holder_of(&name).is_none() && !doc.is_banned(&name) {
                            doc.unowned_bans.insert(
                                name,
                                herald_data::BanRecord {
                                    reason: "found in sessions/banned/".into(),
                                    at: chrono::Utc::now(),
                                },
                            );
                        }
                    }
                    Ok::<_, SessionsError>(())
                })
                .await?;
        }
        tracing::info!(
            moved = report.moved.len(),
            orphans = report.orphans.len(),
            missing = report.missing.len(),
            ambiguous = report.ambiguous.len(),
            invalid = report.invalid_names.len(),
            "reconcile finished"
        );
        for (name, _) in &report.missing {
            tracing::warn!(session = %mask_session_name(name), "users.json names a session file that exists nowhere");
        }
        Ok(report)
    }
}

/// Every session file in the folders, by name, with each place it was found (a directory walk:
/// off the runtime).
fn on_disk(folders: &Folders) -> Result<BTreeMap<String, Vec<Place>>, SessionsError> {
    let mut found: BTreeMap<String, Vec<Place>> = BTreeMap::new();
    for place in [Place::Unused, Place::Banned, Place::Frozen] {
        for name in folders.list(&place)? {
            found.entry(name).or_default().push(place.clone());
        }
    }
    for (user, name) in folders.list_assigned()? {
        found.entry(name).or_default().push(Place::Assigned(user));
    }
    Ok(found)
}
