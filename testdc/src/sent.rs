//! The `updates` a send is answered with.
//!
//! Owns the one shape grammers accepts for sendMessage and forwardMessages results:
//! `updates` holding `updateMessageID` + `updateNewChannelMessage` per message and the
//! chats (anything else, `updateShortSentMessage` aside, panics the client: trap 6).
//! Must never decide whether a post was delivered: it describes one that was.

use grammers_tl_types::{self as tl, Serializable};
use herald_telegram::Target;

use crate::answers::peer;
use crate::chats::{channel, channel_id};

/// One message the DC reports as sent.
pub(crate) struct Sent<'a> {
    pub(crate) id: i32,
    pub(crate) random_id: i64,
    pub(crate) text: &'a str,
    /// A forward's source chat and message.
    pub(crate) forwarded_from: Option<(&'a Target, i32)>,
}

/// The `updates` answering sendMessage / forwardMessages, as Telegram sends them:
/// `updateMessageID` and `updateNewChannelMessage` per message, plus the chats.
pub(crate) fn sent(to: &Target, messages: &[Sent<'_>], session: &str, now: i32) -> Vec<u8> {
    let mut updates = Vec::new();
    let mut chats = vec![channel(to, session, now)];
    let mut ids = vec![channel_id(to)];
    for sent in messages {
        updates.push(tl::enums::Update::MessageId(tl::types::UpdateMessageId {
            id: sent.id,
            random_id: sent.random_id,
        }));
        let fwd_from = sent.forwarded_from.map(|(source, post)| {
            if !ids.contains(&channel_id(source)) {
                ids.push(channel_id(source));
                chats.push(channel(source, session, now));
            }
            tl::enums::MessageFwdHeader::Header(tl::types::MessageFwdHeader {
                imported: false,
                saved_out: false,
                from_id: Some(peer(source)),
                from_name: None,
                date: now,
                channel_post: Some(post),
                post_author: None,
                saved_from_peer: None,
                saved_from_msg_id: None,
                saved_from_id: None,
                saved_from_name: None,
                saved_date: None,
                psa_type: None,
            })
        });
        let message = message(sent, to, fwd_from, now);
        updates.push(tl::enums::Update::NewChannelMessage(
            tl::types::UpdateNewChannelMessage {
                message,
                pts: sent.id,
                pts_count: 1,
            },
        ));
    }
    tl::enums::Updates::Updates(tl::types::Updates {
        updates,
        users: Vec::new(),
        chats,
        date: now,
        seq: 0,
    })
    .to_bytes()
}

fn message(
    sent: &Sent<'_>,
    to: &Target,
    fwd_from: Option<tl::enums::MessageFwdHeader>,
    now: i32,
) -> tl::enums::Message {
    tl::types::Message {
        out: true,
        mentioned: false,
        media_unread: false,
        silent: false,
        post: false,
        from_scheduled: false,
        legacy: false,
        edit_hide: false,
        pinned: false,
        noforwards: false,
        invert_media: false,
        offline: false,
        video_processing_pending: false,
        paid_suggested_post_stars: false,
        paid_suggested_post_ton: false,
        id: sent.id,
        from_id: None,
        from_boosts_applied: None,
        from_rank: None,
        peer_id: peer(to),
        saved_peer_id: None,
        fwd_from,
        via_bot_id: None,
        via_business_bot_id: None,
        guestchat_via_from: None,
        reply_to: None,
        date: now,
        message: sent.text.to_owned(),
        media: None,
        reply_markup: None,
        entities: None,
        views: None,
        forwards: None,
        replies: None,
        edit_date: None,
        post_author: None,
        grouped_id: None,
        reactions: None,
        restriction_reason: None,
        ttl_period: None,
        quick_reply_shortcut_id: None,
        effect: None,
        factcheck: None,
        report_delivery_until_date: None,
        paid_message_stars: None,
        suggested_post: None,
        schedule_repeat_period: None,
        summary_from_language: None,
        rich_message: None,
    }
    .into()
}
