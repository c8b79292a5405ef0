//! The real [`World`] behind the test DC: Herald's simulator world model
//! (`herald_telegram::sim::World`), opened at the wire. Outcomes, dead keys, duplicate
//! connections, random-id dedup and the delivery journal are the simulator's, so a grammers
//! run is judged exactly as a simulated one.
//!
//! Owns what the wire cannot carry: who a post is for (the tenant holding the session in the
//! data directory's `users.json`, the cycle from the top bits of Herald's random id) and which
//! `-100…` channels an account is in (every one a tenant or a plan group file names). It reads
//! the data directory, never writes it, and reads it off the runtime's threads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use herald_data::{Layout, Plan, UsersDoc};
use herald_telegram::sim::{SimConnection, World as SimModel};
use herald_telegram::{AttemptLabel, Delivery, Post, SendError, Target, cycle_of_random_id};

use crate::world::{RpcRefusal, WireContent, WirePost, World, WorldSession};

/// How long a connection whose key is held by another waits for that one to close before
/// the key is killed as Telegram kills it (AUTH_KEY_DUPLICATED): a client that reconnects at
/// once can reach the DC before the DC has read the close of its old socket.
const RECONNECT_GRACE: Duration = Duration::from_millis(1500);
/// How often the data directory is read again for tenants and chats.
const DIRECTORY_REFRESH: Duration = Duration::from_millis(250);

/// The simulator's world, seen through the wire.
#[derive(Clone, Debug)]
pub struct SimWorld {
    model: SimModel,
    directory: Arc<Directory>,
}

impl SimWorld {
    /// The world `model`, attributing posts and listing chats from the data directory at
    /// `root` (refreshed in the background while the returned world lives on a runtime).
    pub fn new(model: SimModel, root: impl Into<PathBuf>) -> SimWorld {
        let directory = Arc::new(Directory {
            layout: Layout::new(root.into()),
            snapshot: Mutex::new(Arc::new(Snapshot::default())),
        });
        directory.refresh();
        let weak = Arc::downgrade(&directory);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                loop {
                    tokio::time::sleep(DIRECTORY_REFRESH).await;
                    let Some(directory) = weak.upgrade() else {
                        return;
                    };
                    // A read and a parse of users.json: not on the runtime's threads.
                    if tokio::task::spawn_blocking(move || directory.refresh())
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
        SimWorld { model, directory }
    }
}

impl World for SimWorld {
    fn connect(&self, session: &str) -> Result<Box<dyn WorldSession>, RpcRefusal> {
        let link = match self.model.try_connect(session) {
            Ok(Some(connection)) => Link::Open(Box::new(connection)),
            Ok(None) => Link::Waiting(tokio::time::Instant::now() + RECONNECT_GRACE),
            Err(error) => return Err(refusal(&error)),
        };
        Ok(Box::new(SimSession {
            model: self.model.clone(),
            directory: self.directory.clone(),
            session: session.to_owned(),
            link,
        }))
    }

    fn chat_exists(&self, target: &Target) -> bool {
        self.model.chat_exists(target)
    }
}

enum Link {
    Open(Box<SimConnection>),
    /// Another connection holds the key; it may be closing. Decided by this instant.
    Waiting(tokio::time::Instant),
}

struct SimSession {
    model: SimModel,
    directory: Arc<Directory>,
    session: String,
    link: Link,
}

impl SimSession {
    /// The tenant holding this session, read fresh when the snapshot does not know it yet (a
    /// tenant that started a moment ago).
    async fn holder(&self) -> String {
        if let Some(holder) = self.directory.current().holders.get(&self.session) {
            return holder.clone();
        }
        let directory = self.directory.clone();
        if let Err(err) = tokio::task::spawn_blocking(move || directory.refresh()).await {
            tracing::warn!(error = %err, "test DC: reading the data directory failed");
        }
        self.directory
            .current()
            .holders
            .get(&self.session)
            .cloned()
            .unwrap_or_default()
    }

    /// The open connection, once the key is free; AUTH_KEY_DUPLICATED (and the key dead)
    /// when another connection still holds it after the grace.
    async fn open(&mut self) -> Result<&mut SimConnection, RpcRefusal> {
        while let Link::Waiting(deadline) = self.link {
            match self.model.try_connect(&self.session) {
                Ok(Some(connection)) => self.link = Link::Open(Box::new(connection)),
                Ok(None) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Ok(None) => return Err(refusal(&self.model.kill_duplicated(&self.session))),
                Err(error) => return Err(refusal(&error)),
            }
        }
        match &mut self.link {
            Link::Open(connection) => Ok(connection),
            Link::Waiting(_) => Err(RpcRefusal::new(500, "INTERNAL")),
        }
    }
}

#[async_trait]
impl WorldSession for SimSession {
    async fn post(&mut self, post: WirePost) -> Result<(), RpcRefusal> {
        let label = AttemptLabel {
            user_id: self.holder().await,
            cycle: cycle_of_random_id(post.random_id),
            random_id: post.random_id,
        };
        let content = match post.content {
            WireContent::Text(text) => Post::Text(text),
            WireContent::Forward { from, message_id } => Post::Link {
                channel: from.to_string().trim_start_matches('@').to_owned(),
                message_id,
            },
        };
        let connection = self.open().await?;
        match connection.send(&post.target, &content, &label).await {
            Ok(Delivery::New) => Ok(()),
            Ok(Delivery::Duplicate) => Err(RpcRefusal::new(400, "RANDOM_ID_DUPLICATE")),
            Err(error) => Err(answer_or_hang(&error).await),
        }
    }

    async fn dialogs(&mut self) -> Vec<Target> {
        // Read fresh: a tenant may have configured its groups a moment ago.
        let directory = self.directory.clone();
        if let Err(err) = tokio::task::spawn_blocking(move || directory.refresh()).await {
            tracing::warn!(error = %err, "test DC: reading the data directory failed");
        }
        let snapshot = self.directory.current();
        snapshot
            .channels
            .iter()
            .filter(|t| self.model.chat_exists(t))
            .cloned()
            .collect()
    }

    async fn authorized(&mut self) -> Result<(), RpcRefusal> {
        let connection = self.open().await?;
        match connection.is_authorized() {
            Ok(true) => Ok(()),
            Ok(false) => Err(RpcRefusal::new(401, "AUTH_KEY_UNREGISTERED")),
            Err(error) => Err(answer_or_hang(&error).await),
        }
    }
}

/// The world's answer as Telegram gives it; a transient failure (the simulator's hang) has
/// none: the DC stays silent and the client's own timeout ends the call.
async fn answer_or_hang(error: &SendError) -> RpcRefusal {
    match error.to_rpc() {
        Some((code, name)) => RpcRefusal::new(code, name),
        None => std::future::pending().await,
    }
}

fn refusal(error: &SendError) -> RpcRefusal {
    let (code, name) = error
        .to_rpc()
        .unwrap_or_else(|| (500, "INTERNAL_SERVER_ERROR".to_owned()));
    RpcRefusal::new(code, name)
}

/// What the data directory says, re-read when its files change.
#[derive(Debug)]
struct Directory {
    layout: Layout,
    snapshot: Mutex<Arc<Snapshot>>,
}

#[derive(Debug, Default)]
struct Snapshot {
    stamps: Vec<Option<SystemTime>>,
    /// Session file name to the tenant holding it.
    holders: HashMap<String, String>,
    /// Every `-100…` chat a tenant or a plan names.
    channels: Vec<Target>,
}

impl Directory {
    fn current(&self) -> Arc<Snapshot> {
        self.snapshot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn files(&self) -> [PathBuf; 3] {
        let groups = self.layout.groups_dir();
        [
            self.layout.users_file(),
            groups.join(Plan::Starter.file_name()),
            groups.join(Plan::Enterprise.file_name()),
        ]
    }

    /// Reads the files again if any changed (blocking: call off the runtime's threads).
    fn refresh(&self) {
        let files = self.files();
        let stamps: Vec<Option<SystemTime>> = files.iter().map(|f| modified(f)).collect();
        if self.current().stamps == stamps && stamps.iter().any(Option::is_some) {
            return;
        }
        let users: UsersDoc = std::fs::read(&files[0])
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        let mut holders = HashMap::new();
        let mut names: Vec<String> = Vec::new();
        for (id, user) in &users.users {
            for session in &user.assigned_sessions {
                holders.insert(session.clone(), id.clone());
            }
            names.extend(user.groups.iter().cloned());
        }
        for plan in &files[1..] {
            let text = std::fs::read_to_string(plan).unwrap_or_default();
            names.extend(herald_data::plan_groups::parse(&text));
        }
        let mut channels: Vec<Target> = names
            .iter()
            .filter_map(|n| Target::parse(n).ok())
            .filter(|t| matches!(t, Target::ChannelId(_)))
            .collect();
        channels.sort_by_key(Target::key);
        channels.dedup();
        let fresh = Arc::new(Snapshot {
            stamps,
            holders,
            channels,
        });
        *self.snapshot.lock().unwrap_or_else(|p| p.into_inner()) = fresh;
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
