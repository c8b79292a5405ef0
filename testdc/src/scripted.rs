//! A small table-driven [`World`] for tests: scripted refusals, recorded deliveries.
//!
//! Owns nothing Herald relies on: Herald's simulator world model is the real
//! [`World`]; this one exists so the DC can be tested on its own. Chats exist when
//! added; posts are delivered unless a rule refuses them; a `random_id` delivered
//! twice by one session is refused RANDOM_ID_DUPLICATE, as Telegram does. Must never
//! hold its lock across an `.await`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use herald_telegram::Target;

use crate::faults::glob_match;
use crate::{RpcRefusal, WirePost, World, WorldSession};

/// One post the world accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub session: String,
    pub post: WirePost,
}

/// A refusal for posts of matching sessions to one chat (or any chat).
#[derive(Clone, Debug)]
struct Rule {
    sessions: String,
    target: Option<String>,
    refusal: RpcRefusal,
    /// How many more posts it refuses; `None` for all of them.
    remaining: Option<u32>,
}

#[derive(Debug, Default)]
struct State {
    chats: HashSet<String>,
    members: HashMap<String, Vec<Target>>,
    rules: Vec<Rule>,
    dead: HashMap<String, RpcRefusal>,
    unauthorized: HashMap<String, RpcRefusal>,
    hanging: Vec<String>,
    latency: Duration,
    refuse_duplicates: bool,
    open: HashMap<String, usize>,
    connects: usize,
    delivered: HashSet<(String, i64)>,
    deliveries: Vec<Delivery>,
}

/// A scripted world. Cheap to clone; clones share their state, so a test keeps one
/// and hands another to the DC.
#[derive(Clone, Debug, Default)]
pub struct ScriptedWorld {
    state: Arc<Mutex<State>>,
}

fn key(target: &str) -> String {
    Target::parse(target)
        .map(|t| t.key())
        .unwrap_or_else(|_| target.to_owned())
}

impl ScriptedWorld {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panicking test thread cannot leave the state half-written: every change is
        // one statement, so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A chat (`@name` or `-100…`) that exists.
    pub fn add_chat(&self, target: &str) -> &Self {
        self.state().chats.insert(key(target));
        self
    }

    /// `session` is a member of `target` (which then exists): it shows in its dialogs.
    pub fn add_member(&self, session: &str, target: &str) -> &Self {
        let mut state = self.state();
        state.chats.insert(key(target));
        if let Ok(parsed) = Target::parse(target) {
            state
                .members
                .entry(session.to_owned())
                .or_default()
                .push(parsed);
        }
        self
    }

    /// Refuses posts of sessions matching the `sessions` glob to `target` (`None`: any
    /// chat) with `refusal`, `times` times (`None`: always). Rules are tried in order.
    pub fn refuse_posts(
        &self,
        sessions: &str,
        target: Option<&str>,
        refusal: RpcRefusal,
        times: Option<u32>,
    ) -> &Self {
        self.state().rules.push(Rule {
            sessions: sessions.to_owned(),
            target: target.map(key),
            refusal,
            remaining: times,
        });
        self
    }

    /// Connections of `session` are refused with `refusal` (a dead session).
    pub fn kill(&self, session: &str, refusal: RpcRefusal) -> &Self {
        self.state().dead.insert(session.to_owned(), refusal);
        self
    }

    /// `updates.getState` of `session` answers `refusal` (a key that is not signed in).
    pub fn unauthorize(&self, session: &str, refusal: RpcRefusal) -> &Self {
        self.state()
            .unauthorized
            .insert(session.to_owned(), refusal);
        self
    }

    /// Posts of sessions matching the glob never return.
    pub fn hang_posts(&self, sessions: &str) -> &Self {
        self.state().hanging.push(sessions.to_owned());
        self
    }

    /// Every post takes this long.
    pub fn set_latency(&self, latency: Duration) -> &Self {
        self.state().latency = latency;
        self
    }

    /// A second connection of a session already connected is refused 406
    /// AUTH_KEY_DUPLICATED (off by default).
    pub fn refuse_duplicate_connections(&self) -> &Self {
        self.state().refuse_duplicates = true;
        self
    }

    /// Every post accepted so far, in order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state().deliveries.clone()
    }

    /// Connections the world was told about (refused ones included).
    pub fn connects(&self) -> usize {
        self.state().connects
    }

    /// Connections of `session` open now.
    pub fn open_connections(&self, session: &str) -> usize {
        self.state().open.get(session).copied().unwrap_or(0)
    }
}

impl World for ScriptedWorld {
    fn connect(&self, session: &str) -> Result<Box<dyn WorldSession>, RpcRefusal> {
        let mut state = self.state();
        state.connects += 1;
        if let Some(refusal) = state.dead.get(session) {
            return Err(refusal.clone());
        }
        let refuse_duplicates = state.refuse_duplicates;
        let open = state.open.entry(session.to_owned()).or_insert(0);
        if *open > 0 && refuse_duplicates {
            return Err(RpcRefusal::new(406, "AUTH_KEY_DUPLICATED"));
        }
        *open += 1;
        Ok(Box::new(ScriptedSession {
            world: self.clone(),
            session: session.to_owned(),
        }))
    }

    fn chat_exists(&self, target: &Target) -> bool {
        self.state().chats.contains(&target.key())
    }
}

struct ScriptedSession {
    world: ScriptedWorld,
    session: String,
}

impl Drop for ScriptedSession {
    fn drop(&mut self) {
        if let Some(open) = self.world.state().open.get_mut(&self.session) {
            *open = open.saturating_sub(1);
        }
    }
}

impl ScriptedSession {
    fn decide(&self, post: WirePost) -> Result<(), RpcRefusal> {
        let mut state = self.world.state();
        let target = post.target.key();
        if !state.chats.contains(&target) {
            return Err(RpcRefusal::new(400, "CHANNEL_INVALID"));
        }
        if state
            .delivered
            .contains(&(self.session.clone(), post.random_id))
        {
            return Err(RpcRefusal::new(400, "RANDOM_ID_DUPLICATE"));
        }
        let session = &self.session;
        let rule = state.rules.iter_mut().find(|rule| {
            glob_match(&rule.sessions, session)
                && rule.target.as_ref().is_none_or(|t| *t == target)
                && rule.remaining != Some(0)
        });
        if let Some(rule) = rule {
            if let Some(left) = rule.remaining.as_mut() {
                *left -= 1;
            }
            return Err(rule.refusal.clone());
        }
        state
            .delivered
            .insert((self.session.clone(), post.random_id));
        state.deliveries.push(Delivery {
            session: self.session.clone(),
            post,
        });
        Ok(())
    }
}

#[async_trait]
impl WorldSession for ScriptedSession {
    async fn post(&mut self, post: WirePost) -> Result<(), RpcRefusal> {
        let (latency, hangs) = {
            let state = self.world.state();
            let hangs = state.hanging.iter().any(|g| glob_match(g, &self.session));
            (state.latency, hangs)
        };
        if hangs {
            std::future::pending::<()>().await;
        }
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        self.decide(post)
    }

    async fn authorized(&mut self) -> Result<(), RpcRefusal> {
        match self.world.state().unauthorized.get(&self.session) {
            Some(refusal) => Err(refusal.clone()),
            None => Ok(()),
        }
    }

    async fn dialogs(&mut self) -> Vec<Target> {
        self.world
            .state()
            .members
            .get(&self.session)
            .cloned()
            .unwrap_or_default()
    }
}
