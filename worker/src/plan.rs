//! What one cycle posts, and from which session: pure functions of the tenant's record, the plan
//! group file and its live sessions, so a cycle resumed on another worker plans exactly the same.
//!
//! What to post and where ([`work_of`]) is judged here once, for start (which refuses a tenant
//! with nothing to post or nowhere to post it, before any session is consumed) and for every cycle.
//!
//! Which groups: the plan's group file for the tenant's execution mode when that file has groups,
//! else the tenant's own `groups` (as the old backend did), minus blocked ones, each once.
//! Which session: every group to exactly one session, at most `ceil(groups / sessions)` per
//! session, and the same session as last cycle wherever the sessions did not change (rendezvous
//! hashing with bounded load: a group goes to its highest-scoring session with room).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_data::{ExecutionMode, User};
use herald_telegram::Post;

use crate::delivery::GroupEntry;
use crate::session_run::SessionJob;

/// Why a tenant's bot has nothing to do; the sentence is what the tenant reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReady {
    /// No post content, or content the worker cannot send.
    NoPost(String),
    /// No group configured (neither the plan's file nor the tenant's own).
    NoGroups,
    /// Groups configured, every one of them blocked for this tenant.
    AllBlocked,
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotReady::NoPost(why) => write!(f, "Set what to post first: {why}"),
            NotReady::NoGroups => f.write_str("No groups to post to: add groups first"),
            NotReady::AllBlocked => f.write_str(
                "No groups to post to: every configured group refuses this account's posts",
            ),
        }
    }
}

/// What this tenant posts and the groups it posts to this cycle, or why there is nothing to do.
pub fn work_of(
    user: &Arc<User>,
    plan_groups: &Arc<Vec<String>>,
) -> Result<(Post, CycleGroups), NotReady> {
    if user.post_content.trim().is_empty() {
        return Err(NotReady::NoPost("no post content is set".into()));
    }
    let post = Post::parse(user.post_type.as_str(), &user.post_content)
        .map_err(|e| NotReady::NoPost(e.to_string()))?;
    let groups = groups_for(user, plan_groups);
    if groups.is_empty() {
        let configured = !plan_groups.is_empty() || !user.groups.is_empty();
        return Err(if configured {
            NotReady::AllBlocked
        } else {
            NotReady::NoGroups
        });
    }
    Ok((post, groups))
}

/// The groups a cycle posts to, in order: positions in the list they come from (the tenant's
/// record or the plan's file), which the cycle shares rather than copies. A running bot holds
/// these for its whole cycle: four bytes a group, not a copy of each name (BENCHMARKS.md, cost).
#[derive(Debug, Clone)]
pub struct CycleGroups {
    source: GroupSource,
    picked: Vec<u32>,
}

#[derive(Debug, Clone)]
enum GroupSource {
    Tenant(Arc<User>),
    Plan(Arc<Vec<String>>),
}

impl CycleGroups {
    fn list(&self) -> &[String] {
        match &self.source {
            GroupSource::Tenant(user) => &user.groups,
            GroupSource::Plan(groups) => groups,
        }
    }

    /// The group at `position` of the source list (one of [`Self::positions`]).
    pub fn name(&self, position: u32) -> &str {
        &self.list()[position as usize]
    }

    /// The cycle's groups, in posting order, as positions in the source list.
    pub fn positions(&self) -> &[u32] {
        &self.picked
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.picked.iter().map(|&p| self.name(p))
    }

    pub fn is_empty(&self) -> bool {
        self.picked.is_empty()
    }
}

/// The groups this cycle posts to, in order, without duplicates or blocked ones.
pub fn groups_for(user: &Arc<User>, plan_groups: &Arc<Vec<String>>) -> CycleGroups {
    let (source, list) = if plan_groups.is_empty() {
        (GroupSource::Tenant(user.clone()), &user.groups)
    } else {
        (GroupSource::Plan(plan_groups.clone()), &**plan_groups)
    };
    let mut seen = HashSet::new();
    let mut picked: Vec<u32> = list
        .iter()
        .enumerate()
        .filter(|(_, g)| !user.is_blocked(g) && seen.insert(g.as_str()))
        .map(|(i, _)| i as u32)
        .collect();
    // Kept for the whole cycle by every running bot: no spare room from the collect's growth.
    picked.shrink_to_fit();
    CycleGroups { source, picked }
}

/// Each session with the groups it posts to this cycle (sessions without groups are left out).
pub fn spread(groups: &[String], sessions: &[String]) -> Vec<(String, Vec<String>)> {
    if sessions.is_empty() {
        return Vec::new();
    }
    let capacity = groups.len().div_ceil(sessions.len());
    let mut load = vec![0usize; sessions.len()];
    let mut assigned: Vec<Vec<String>> = vec![Vec::new(); sessions.len()];
    for group in groups {
        let mut ranked: Vec<usize> = (0..sessions.len()).collect();
        ranked.sort_by_key(|&s| std::cmp::Reverse(score(group, &sessions[s])));
        if let Some(&s) = ranked.iter().find(|&&s| load[s] < capacity) {
            load[s] += 1;
            assigned[s].push(group.clone());
        }
    }
    sessions
        .iter()
        .cloned()
        .zip(assigned)
        .filter(|(_, groups)| !groups.is_empty())
        .collect()
}

/// Time between two posts of one session: `delay_between_posts` (never under `floor`), or in
/// starter mode with `total_cycle_minutes`, that window spread evenly over the session's posts,
/// never closer than `delay_between_posts`.
pub fn post_interval(user: &User, posts_of_session: usize, floor_secs: u64) -> Duration {
    let delay = user.delay_between_posts.max(floor_secs);
    let spread = match (user.execution_mode, user.total_cycle_minutes) {
        (ExecutionMode::Starter, Some(minutes)) if minutes > 0 && posts_of_session > 0 => {
            u64::from(minutes) * 60 / posts_of_session as u64
        }
        _ => 0,
    };
    Duration::from_secs(delay.max(spread))
}

/// Time from a cycle's end to the next one's start.
pub fn cycle_pause(user: &User, floor_secs: u64) -> Duration {
    Duration::from_secs(user.delay_between_cycles.max(floor_secs))
}

/// The tenant's sessions not parked at `now`, each with its API pair.
pub(crate) fn usable_sessions(record: &User, now: DateTime<Utc>) -> Vec<(String, u32)> {
    record
        .assigned_sessions
        .iter()
        .cloned()
        .zip(record.api_pairs.iter().copied())
        .filter(|(s, _)| {
            record
                .parked_sessions
                .get(s)
                .is_none_or(|until| *until <= now)
        })
        .collect()
}

/// Each session's share of the groups, without those a resumed cycle already posted.
pub(crate) fn session_jobs(
    groups: &CycleGroups,
    sessions: Vec<(String, u32)>,
    entries: &HashMap<String, GroupEntry>,
) -> Vec<SessionJob> {
    let names: Vec<String> = sessions.iter().map(|(s, _)| s.clone()).collect();
    let pairs: HashMap<String, u32> = sessions.into_iter().collect();
    let position: HashMap<&str, u32> = groups
        .positions()
        .iter()
        .map(|&p| (groups.name(p), p))
        .collect();
    let group_names: Vec<String> = groups.names().map(str::to_owned).collect();
    spread(&group_names, &names)
        .into_iter()
        .filter_map(|(session, share)| {
            let mut share: Vec<u32> = share
                .iter()
                .filter(|g| !entries.get(*g).is_some_and(|e| e.done))
                .filter_map(|g| position.get(g.as_str()).copied())
                .collect();
            // Kept until the session's run ends: no spare room from the collect's growth.
            share.shrink_to_fit();
            let pair = pairs.get(&session).copied().unwrap_or_default();
            (!share.is_empty()).then_some(SessionJob {
                session,
                pair,
                groups: share,
            })
        })
        .collect()
}

/// FNV-1a over `group \0 session`: stable across processes and releases, which a std hasher is
/// not promised to be.
fn score(group: &str, session: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in group.bytes().chain([0]).chain(session.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_data::BlockedGroup;
    use proptest::prelude::*;

    fn names(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    }

    fn groups_of(user: &User, plan: &[&str]) -> Vec<String> {
        let plan = Arc::new(plan.iter().map(|g| g.to_string()).collect());
        let groups = groups_for(&Arc::new(user.clone()), &plan);
        groups.names().map(str::to_owned).collect()
    }

    fn work(user: &User, plan: &[&str]) -> Result<Vec<String>, NotReady> {
        let plan = Arc::new(plan.iter().map(|g| g.to_string()).collect());
        work_of(&Arc::new(user.clone()), &plan)
            .map(|(_, groups)| groups.names().map(str::to_owned).collect())
    }

    #[test]
    fn plan_groups_win_over_own_groups_and_blocked_ones_are_left_out() {
        let mut user = User {
            groups: vec!["-1001".into(), "-1002".into(), "-1001".into()],
            ..User::default()
        };
        assert_eq!(groups_of(&user, &[]), vec!["-1001", "-1002"]);
        user.blocked_groups.push(BlockedGroup {
            group: "-1003".into(),
            reason: "CHAT_WRITE_FORBIDDEN".into(),
            at: chrono::Utc::now(),
        });
        assert_eq!(groups_of(&user, &["-1003", "-1004"]), vec!["-1004"]);
    }

    #[test]
    fn a_tenant_without_post_or_groups_is_not_ready_and_says_why() {
        let mut user = User {
            groups: vec!["-1001234567890".into()],
            ..User::default()
        };
        assert_eq!(
            work(&user, &[]).err(),
            Some(NotReady::NoPost("no post content is set".into()))
        );
        user.post_type = herald_data::PostKind::Text;
        user.post_content = "hello".into();
        assert_eq!(work(&user, &[]), Ok(vec!["-1001234567890".to_owned()]));
        user.groups.clear();
        assert_eq!(work(&user, &[]).err(), Some(NotReady::NoGroups));
        assert!(
            work(&user, &["-1009876543210"]).is_ok(),
            "plan groups count"
        );
        user.groups = vec!["-1001234567890".into()];
        user.blocked_groups.push(BlockedGroup {
            group: "-1001234567890".into(),
            reason: "CHAT_WRITE_FORBIDDEN".into(),
            at: chrono::Utc::now(),
        });
        assert_eq!(work(&user, &[]).err(), Some(NotReady::AllBlocked));
    }

    #[test]
    fn starter_mode_spreads_posts_over_the_window_but_never_closer_than_the_delay() {
        let user = User {
            execution_mode: ExecutionMode::Starter,
            total_cycle_minutes: Some(10),
            delay_between_posts: 30,
            ..User::default()
        };
        assert_eq!(post_interval(&user, 4, 5), Duration::from_secs(150));
        assert_eq!(post_interval(&user, 100, 5), Duration::from_secs(30));
        let enterprise = User {
            delay_between_posts: 2,
            ..User::default()
        };
        assert_eq!(
            post_interval(&enterprise, 4, 5),
            Duration::from_secs(5),
            "the floor applies"
        );
    }

    proptest! {
        #[test]
        fn every_group_goes_to_exactly_one_session_with_bounded_load(g in 0usize..120, s in 1usize..12) {
            let groups = names("-100", g);
            let sessions = names("s", s);
            let plan = spread(&groups, &sessions);
            let mut all: Vec<String> = plan.iter().flat_map(|(_, gs)| gs.clone()).collect();
            all.sort();
            let mut expected = groups.clone();
            expected.sort();
            prop_assert_eq!(all, expected);
            let cap = g.div_ceil(s);
            prop_assert!(plan.iter().all(|(_, gs)| gs.len() <= cap));
        }

        #[test]
        fn losing_one_session_moves_few_groups(g in 10usize..80, s in 3usize..10, lost in 0usize..10) {
            let groups = names("-100", g);
            let sessions = names("s", s);
            let before = spread(&groups, &sessions);
            let gone = sessions[lost % s].clone();
            let remaining: Vec<String> = sessions.iter().filter(|x| **x != gone).cloned().collect();
            let after = spread(&groups, &remaining);
            let owner = |plan: &[(String, Vec<String>)], group: &str| {
                plan.iter().find(|(_, gs)| gs.iter().any(|x| x == group)).map(|(s, _)| s.clone())
            };
            let moved = groups.iter().filter(|grp| owner(&before, grp) != owner(&after, grp)).count();
            let owned_by_gone = before.iter().find(|(s, _)| *s == gone).map_or(0, |(_, gs)| gs.len());
            // The lost session's groups must move; capacity changes may move a few more, but most stay.
            prop_assert!(moved >= owned_by_gone);
            prop_assert!(moved <= g / 2 + owned_by_gone, "moved {} of {}", moved, g);
        }
    }

    #[test]
    fn the_same_inputs_give_the_same_plan() {
        let groups = names("-100", 30);
        let sessions = names("s", 7);
        assert_eq!(spread(&groups, &sessions), spread(&groups, &sessions));
    }
}
