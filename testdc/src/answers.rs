//! The API objects the DC answers with, built as Telegram shapes them.
//!
//! Owns the long struct literals (grammers' generated types have no `Default`) and the
//! shapes grammers insists on: a Config with no dc_options (grammers overwrites its DC
//! addresses from them, trap 7), complete `messages.dialogs` (never NotModified, trap
//! 6), and `updates` with `updateMessageID` + `updateNewChannelMessage` + the chats for
//! every send (anything else panics the client, trap 6). Must never decide an outcome.

use grammers_tl_types::{self as tl, Serializable};
use herald_telegram::Target;

use crate::chats::{channel, channel_id};

/// An `rpc_error` body.
pub(crate) fn rpc_error(code: i32, name: &str) -> Vec<u8> {
    tl::enums::RpcError::Error(tl::types::RpcError {
        error_code: code,
        error_message: name.to_owned(),
    })
    .to_bytes()
}

/// `help.getConfig`: this DC only, and no other DC to migrate to.
pub(crate) fn config(this_dc: i32, now: i32) -> Vec<u8> {
    tl::enums::Config::Config(tl::types::Config {
        default_p2p_contacts: false,
        preload_featured_stickers: false,
        revoke_pm_inbox: true,
        blocked_mode: false,
        force_try_ipv6: false,
        date: now,
        expires: now + 3600,
        test_mode: false,
        this_dc,
        dc_options: Vec::new(),
        dc_txt_domain_name: "testdc.invalid".into(),
        chat_size_max: 200,
        megagroup_size_max: 200_000,
        forwarded_count_max: 100,
        online_update_period_ms: 210_000,
        offline_blur_timeout_ms: 5_000,
        offline_idle_timeout_ms: 30_000,
        online_cloud_timeout_ms: 300_000,
        notify_cloud_delay_ms: 30_000,
        notify_default_delay_ms: 1_500,
        push_chat_period_ms: 60_000,
        push_chat_limit: 2,
        edit_time_limit: 172_800,
        revoke_time_limit: i32::MAX,
        revoke_pm_time_limit: i32::MAX,
        rating_e_decay: 2_419_200,
        stickers_recent_limit: 200,
        channels_read_media_period: 604_800,
        tmp_sessions: None,
        call_receive_timeout_ms: 20_000,
        call_ring_timeout_ms: 90_000,
        call_connect_timeout_ms: 30_000,
        call_packet_timeout_ms: 10_000,
        me_url_prefix: "https://t.me/".into(),
        autoupdate_url_prefix: None,
        gif_search_username: None,
        venue_search_username: None,
        img_search_username: None,
        static_maps_provider: None,
        caption_length_max: 1024,
        message_length_max: 4096,
        webfile_dc_id: this_dc,
        suggested_lang_code: None,
        lang_pack_version: None,
        base_lang_pack_version: None,
        reactions_default: None,
        autologin_token: None,
    })
    .to_bytes()
}

/// `updates.getState` of an account with no history.
pub(crate) fn state(now: i32) -> Vec<u8> {
    tl::enums::updates::State::State(tl::types::updates::State {
        pts: 1,
        qts: 0,
        date: now,
        seq: 1,
        unread_count: 0,
    })
    .to_bytes()
}

pub(crate) fn peer(target: &Target) -> tl::enums::Peer {
    tl::types::PeerChannel {
        channel_id: channel_id(target),
    }
    .into()
}

/// `contacts.resolveUsername` found a chat.
pub(crate) fn resolved(target: &Target, session: &str, now: i32) -> Vec<u8> {
    tl::enums::contacts::ResolvedPeer::Peer(tl::types::contacts::ResolvedPeer {
        peer: peer(target),
        chats: vec![channel(target, session, now)],
        users: Vec::new(),
    })
    .to_bytes()
}

/// `messages.getDialogs`: every chat at once, without last messages (grammers would
/// need each message's peer to be resolvable; an empty list needs nothing).
pub(crate) fn dialogs(targets: &[Target], session: &str, now: i32) -> Vec<u8> {
    let dialogs = targets
        .iter()
        .map(|target| {
            tl::enums::Dialog::Dialog(tl::types::Dialog {
                pinned: false,
                unread_mark: false,
                view_forum_as_messages: false,
                peer: peer(target),
                top_message: 0,
                read_inbox_max_id: 0,
                read_outbox_max_id: 0,
                unread_count: 0,
                unread_mentions_count: 0,
                unread_reactions_count: 0,
                unread_poll_votes_count: 0,
                notify_settings: notify_settings(),
                pts: None,
                draft: None,
                folder_id: None,
                ttl_period: None,
            })
        })
        .collect();
    tl::enums::messages::Dialogs::Dialogs(tl::types::messages::Dialogs {
        dialogs,
        messages: Vec::new(),
        chats: targets.iter().map(|t| channel(t, session, now)).collect(),
        users: Vec::new(),
    })
    .to_bytes()
}

fn notify_settings() -> tl::enums::PeerNotifySettings {
    tl::types::PeerNotifySettings {
        show_previews: None,
        silent: None,
        mute_until: None,
        ios_sound: None,
        android_sound: None,
        other_sound: None,
        stories_muted: None,
        stories_hide_sender: None,
        stories_ios_sound: None,
        stories_android_sound: None,
        stories_other_sound: None,
    }
    .into()
}
