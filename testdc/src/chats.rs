//! How chats look on the wire: channel ids, access hashes, and the way back to a Target.
//!
//! Owns the id scheme. A `-100<digits>` chat has the bare id its digits give; an `@name`
//! chat has a stable hash (SHA-256) of its lowercase name in 1..=9999999999: bare ids
//! below 10^10 are the ones whose Bot API id reads `-100…`, the only spelling
//! `Target::parse` accepts, so every id the DC hands out is a valid `Target` too. The access hash is derived from (channel id, session name): as on Telegram, a
//! hash one account got is refused from another (CHANNEL_INVALID). Must never decide
//! whether a chat exists or may be posted in: the [`crate::World`] does.

use std::collections::HashMap;
use std::sync::Mutex;

use grammers_tl_types as tl;
use herald_telegram::Target;
use sha2::{Digest, Sha256};

/// Bare channel ids a `Target::ChannelId` holds go up to this (see `herald_telegram::Target`).
const MAX_BARE_ID: i64 = 997_852_516_352;
/// Bare ids given to `@name` chats stay below 10^10, so their Bot API id reads `-100…`.
const MAX_HASHED_ID: i64 = 9_999_999_999;
const BOT_API_CHANNEL_BASE: i64 = 1_000_000_000_000;

fn hash64(parts: &[&[u8]]) -> u64 {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    let digest: [u8; 32] = hasher.finalize().into();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// The bare MTProto channel id the DC gives a chat.
pub fn channel_id(target: &Target) -> i64 {
    match target.bare_channel_id() {
        Some(id) => id,
        None => {
            let key = target.key();
            1 + (hash64(&[b"herald-testdc/channel/", key.as_bytes()]) % MAX_HASHED_ID as u64) as i64
        }
    }
}

/// The access hash of a channel as seen by one session.
pub fn access_hash(channel_id: i64, session: &str) -> i64 {
    hash64(&[
        b"herald-testdc/access/",
        &channel_id.to_le_bytes(),
        session.as_bytes(),
    ]) as i64
}

/// Remembers which Target each handed-out channel id stands for, so a request's
/// `inputPeerChannel` maps back to the `@name` the client resolved.
#[derive(Debug, Default)]
pub(crate) struct ChatRegistry {
    by_id: Mutex<HashMap<i64, Target>>,
}

impl ChatRegistry {
    /// The channel id of `target`, remembered.
    pub(crate) fn remember(&self, target: &Target) -> i64 {
        let id = channel_id(target);
        if let Ok(mut map) = self.by_id.lock() {
            // A username keeps the first spelling the DC saw; `-100…` ids are their own.
            map.entry(id).or_insert_with(|| target.clone());
        }
        id
    }

    /// The Target a channel id stands for: a remembered `@name`, else the `-100…` id.
    pub(crate) fn target(&self, channel_id: i64) -> Option<Target> {
        if let Some(known) = self
            .by_id
            .lock()
            .ok()
            .and_then(|m| m.get(&channel_id).cloned())
        {
            return Some(known);
        }
        (1..=MAX_BARE_ID)
            .contains(&channel_id)
            .then(|| Target::ChannelId(-(BOT_API_CHANNEL_BASE + channel_id)))
    }
}

/// A supergroup as `contacts.resolveUsername`, `messages.getDialogs` and `updates` carry it.
pub(crate) fn channel(target: &Target, session: &str, now: i32) -> tl::enums::Chat {
    let id = channel_id(target);
    let username = match target {
        Target::Username(name) => Some(name.clone()),
        Target::ChannelId(_) => None,
    };
    tl::types::Channel {
        creator: false,
        left: false,
        broadcast: false,
        verified: false,
        megagroup: true,
        restricted: false,
        signatures: false,
        min: false,
        scam: false,
        has_link: false,
        has_geo: false,
        slowmode_enabled: false,
        call_active: false,
        call_not_empty: false,
        fake: false,
        gigagroup: false,
        noforwards: false,
        join_to_send: false,
        join_request: false,
        forum: false,
        stories_hidden: false,
        stories_hidden_min: false,
        stories_unavailable: false,
        signature_profiles: false,
        autotranslation: false,
        broadcast_messages_allowed: false,
        monoforum: false,
        forum_tabs: false,
        id,
        access_hash: Some(access_hash(id, session)),
        title: format!("testdc {target}"),
        username,
        photo: tl::enums::ChatPhoto::Empty,
        date: now,
        restriction_reason: None,
        admin_rights: None,
        banned_rights: None,
        default_banned_rights: None,
        participants_count: None,
        usernames: None,
        stories_max_id: None,
        color: None,
        profile_color: None,
        emoji_status: None,
        level: None,
        subscription_until_date: None,
        bot_verification_icon: None,
        send_paid_messages_stars: None,
        linked_monoforum_id: None,
        linked_community_id: None,
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Target {
        Target::parse(text).expect("valid target")
    }

    #[test]
    fn ids_are_stable_valid_and_case_blind() {
        assert_eq!(channel_id(&parse("-1001234567890")), 1_234_567_890);
        let id = channel_id(&parse("@MyGroup"));
        assert_eq!(id, channel_id(&parse("mygroup")));
        assert!((1..=MAX_HASHED_ID).contains(&id));
        let as_target = Target::ChannelId(-(BOT_API_CHANNEL_BASE + id));
        assert_eq!(Target::parse(&as_target.to_string()), Ok(as_target));
        assert_ne!(access_hash(id, "a.session"), access_hash(id, "b.session"));
    }

    #[test]
    fn the_registry_maps_ids_back() {
        let registry = ChatRegistry::default();
        let id = registry.remember(&parse("@news_room"));
        assert_eq!(registry.target(id), Some(parse("@news_room")));
        assert_eq!(
            registry.target(1_234_567_890),
            Some(parse("-1001234567890"))
        );
        assert_eq!(registry.target(0), None);
        assert_eq!(registry.target(MAX_BARE_ID + 1), None);
    }
}
