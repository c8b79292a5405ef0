//! Answering API calls: from memory, or through the world in a task of their own.
//!
//! Owns the per-connection link to the [`World`] (opened at the first API call, refused
//! for good if the world refuses), the mapping of request peers back to Targets, and
//! the delivery faults. Must never decide an outcome the world decides, and never block:
//! world posts run as futures the connection spawns, so pings are answered meanwhile.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use grammers_tl_types as tl;
use herald_telegram::Target;
use tokio::sync::Mutex;

use crate::answers::{config, dialogs, resolved, rpc_error, state};
use crate::calls::Api;
use crate::chats::access_hash;
use crate::keys::KeyEntry;
use crate::salts::unix_now;
use crate::sent::{Sent, sent};
use crate::shared::{Shared, bump};
use crate::{RpcRefusal, WireContent, WirePost, WorldSession};

type Link = Arc<Mutex<Box<dyn WorldSession>>>;

/// How a call is answered.
pub(crate) enum Answer {
    /// At once, with this result or `rpc_error` body.
    Now(Vec<u8>),
    /// When this future (run as its own task) finishes.
    Later(Pin<Box<dyn Future<Output = Later> + Send>>),
}

/// What a call that went through the world ends in.
#[derive(Debug)]
pub(crate) enum Later {
    Answer(Vec<u8>),
    /// Close the connection without answering ([`crate::Faults::drop_after_delivery`]).
    Close,
    /// Never answer ([`crate::Faults::lose_answer_after_delivery`]).
    Lose,
}

/// One connection's calls, for one session's key.
pub(crate) struct Dispatch {
    shared: Arc<Shared>,
    key: Arc<KeyEntry>,
    link: Option<Result<Link, RpcRefusal>>,
}

fn refusal(error: &RpcRefusal) -> Vec<u8> {
    rpc_error(error.code, &error.name)
}

/// `METHOD_NOT_SUPPORTED_BY_TESTDC_USERS_GETUSERS`: the call's TL name, upper-cased.
/// Not its hex constructor id: grammers reads the first run of digits in an error name
/// as the error's value and cuts it out, which would garble a hex id. A constructor
/// not in the schema is given in decimal, so it arrives as the error's value.
pub(crate) fn unsupported(constructor: u32) -> String {
    match tl::name_for_id(constructor) {
        "(unknown)" => format!("METHOD_NOT_SUPPORTED_BY_TESTDC_{constructor}"),
        name => format!(
            "METHOD_NOT_SUPPORTED_BY_TESTDC_{}",
            name.replace('.', "_").to_ascii_uppercase()
        ),
    }
}

fn now() -> i32 {
    unix_now() as i32
}

impl Dispatch {
    pub(crate) fn new(shared: Arc<Shared>, key: Arc<KeyEntry>) -> Self {
        Self {
            shared,
            key,
            link: None,
        }
    }

    pub(crate) fn session(&self) -> &str {
        &self.key.session
    }

    /// Drops the world session; the connection calls this before closing its socket,
    /// so a client that reconnects at once finds the world already told.
    pub(crate) fn close(&mut self) {
        self.link = None;
    }

    fn link(&mut self) -> Result<Link, RpcRefusal> {
        let shared = &self.shared;
        let session = &self.key.session;
        self.link
            .get_or_insert_with(|| {
                shared
                    .world
                    .connect(session)
                    .map(|s| Arc::new(Mutex::new(s)))
            })
            .clone()
    }

    pub(crate) fn call(&mut self, api: Api) -> Answer {
        self.shared.counters.count_call(api.name());
        let link = match self.link() {
            Ok(link) => link,
            Err(refused) => return Answer::Now(refusal(&refused)),
        };
        let session = self.key.session.clone();
        match api {
            Api::GetConfig => Answer::Now(config(self.key.dc_id, now())),
            Api::GetState => Answer::Later(Box::pin(async move {
                let authorized = link.lock().await.authorized().await;
                Later::Answer(match authorized {
                    Ok(()) => state(now()),
                    Err(refused) => refusal(&refused),
                })
            })),
            Api::ResolveUsername(name) => Answer::Now(self.resolve(&name)),
            Api::GetDialogs => {
                let shared = self.shared.clone();
                Answer::Later(Box::pin(async move {
                    let targets = link.lock().await.dialogs().await;
                    for target in &targets {
                        shared.chats.remember(target);
                    }
                    Later::Answer(dialogs(&targets, &session, now()))
                }))
            }
            Api::SendMessage {
                peer,
                random_id,
                text,
            } => match self.target(&peer) {
                Ok(target) => self.post(
                    link,
                    vec![WirePost {
                        target,
                        random_id,
                        content: WireContent::Text(text),
                    }],
                ),
                Err(refused) => Answer::Now(refusal(&refused)),
            },
            Api::ForwardMessages {
                from_peer,
                to_peer,
                ids,
                random_ids,
            } => {
                if ids.is_empty() || ids.len() != random_ids.len() {
                    return Answer::Now(rpc_error(400, "RANDOM_ID_INVALID"));
                }
                let targets = self
                    .target(&to_peer)
                    .and_then(|to| Ok((to, self.target(&from_peer)?)));
                let (to, from) = match targets {
                    Ok(pair) => pair,
                    Err(refused) => return Answer::Now(refusal(&refused)),
                };
                let posts = ids
                    .into_iter()
                    .zip(random_ids)
                    .map(|(message_id, random_id)| WirePost {
                        target: to.clone(),
                        random_id,
                        content: WireContent::Forward {
                            from: from.clone(),
                            message_id,
                        },
                    })
                    .collect();
                self.post(link, posts)
            }
            Api::Unsupported(id) => {
                bump(&self.shared.counters.unsupported_calls);
                Answer::Now(rpc_error(400, &unsupported(id)))
            }
        }
    }

    fn resolve(&self, name: &str) -> Vec<u8> {
        let target = match Target::parse(name) {
            Ok(target @ Target::Username(_)) => target,
            _ => return rpc_error(400, "USERNAME_INVALID"),
        };
        if !self.shared.world.chat_exists(&target) {
            return rpc_error(400, "USERNAME_NOT_OCCUPIED");
        }
        self.shared.chats.remember(&target);
        resolved(&target, &self.key.session, now())
    }

    /// The Target a request's peer means, if its access hash is this session's.
    fn target(&self, peer: &tl::enums::InputPeer) -> Result<Target, RpcRefusal> {
        let tl::enums::InputPeer::Channel(channel) = peer else {
            return Err(RpcRefusal::new(400, "PEER_ID_INVALID"));
        };
        if channel.access_hash != access_hash(channel.channel_id, &self.key.session) {
            return Err(RpcRefusal::new(400, "CHANNEL_INVALID"));
        }
        self.shared
            .chats
            .target(channel.channel_id)
            .ok_or_else(|| RpcRefusal::new(400, "CHANNEL_INVALID"))
    }

    /// Posts one message after another through the world; the first refusal answers.
    fn post(&self, link: Link, posts: Vec<WirePost>) -> Answer {
        let shared = Arc::clone(&self.shared);
        let session = self.key.session.clone();
        Answer::Later(Box::pin(async move {
            let mut world = link.lock().await;
            let mut delivered = Vec::with_capacity(posts.len());
            for post in &posts {
                if let Err(refused) = world.post(post.clone()).await {
                    return Later::Answer(refusal(&refused));
                }
                let n = bump(&shared.counters.deliveries);
                let faults = shared.faults();
                if faults
                    .drop_after_delivery
                    .is_some_and(|d| d.selects(n, &session))
                {
                    bump(&shared.counters.dropped_after_delivery);
                    return Later::Close;
                }
                if faults
                    .lose_answer_after_delivery
                    .is_some_and(|d| d.selects(n, &session))
                {
                    bump(&shared.counters.answers_lost);
                    return Later::Lose;
                }
                delivered.push(shared.next_message_id());
            }
            let Some(first) = posts.first() else {
                return Later::Answer(rpc_error(400, "MESSAGE_IDS_EMPTY"));
            };
            let messages: Vec<Sent<'_>> = posts
                .iter()
                .zip(&delivered)
                .map(|(post, id)| match &post.content {
                    WireContent::Text(text) => Sent {
                        id: *id,
                        random_id: post.random_id,
                        text,
                        forwarded_from: None,
                    },
                    WireContent::Forward { from, message_id } => Sent {
                        id: *id,
                        random_id: post.random_id,
                        text: "",
                        forwarded_from: Some((from, *message_id)),
                    },
                })
                .collect();
            Later::Answer(sent(&first.target, &messages, &session, now()))
        }))
    }
}

#[cfg(test)]
mod tests {
    use grammers_tl_types::Identifiable;

    use super::*;

    #[test]
    fn unsupported_calls_are_named_so_grammers_keeps_the_name() {
        let get_users = tl::functions::users::GetUsers::CONSTRUCTOR_ID;
        assert_eq!(
            unsupported(get_users),
            "METHOD_NOT_SUPPORTED_BY_TESTDC_USERS_GETUSERS"
        );
        assert_eq!(
            unsupported(0xdead_beef),
            "METHOD_NOT_SUPPORTED_BY_TESTDC_3735928559"
        );
    }
}
