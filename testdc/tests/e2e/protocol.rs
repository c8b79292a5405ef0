//! What the DC puts on the wire, read with the tests' own client: numbering, service
//! messages, containers, gzip, refusals, and a malformed packet closing one connection.

use std::time::Duration;

use grammers_tl_types::{self as tl, Deserializable, Identifiable, Serializable};
use herald_testdc::chats::{access_hash, channel_id};
use herald_testdc::scripted::ScriptedWorld;

use crate::helpers::{Harness, key, target};
use crate::raw::{RawClient, ServerMsg, handshake};

const WAIT: Duration = Duration::from_secs(5);

fn key_bytes(name: &str) -> [u8; 256] {
    *key(name, 1).expose()
}

fn get_config() -> Vec<u8> {
    tl::functions::InvokeWithLayer {
        layer: tl::LAYER,
        query: tl::functions::InitConnection {
            api_id: 1,
            device_model: "raw".into(),
            system_version: "test".into(),
            app_version: "0".into(),
            system_lang_code: "en".into(),
            lang_pack: "".into(),
            lang_code: "en".into(),
            proxy: None,
            params: None,
            query: tl::functions::help::GetConfig {},
        },
    }
    .to_bytes()
}

/// Responses are ≡ 1 mod 4 and everything else ≡ 3; content-related messages have odd
/// seq_nos; every msg_id is above the one before (a container's after its messages).
fn assert_numbering(seen: &[ServerMsg]) {
    let mut last = 0;
    for msg in seen {
        assert!(msg.msg_id > last, "msg_ids strictly increase: {seen:#?}");
        last = msg.msg_id;
        let id = msg.constructor();
        let (response, content) = match id {
            crate::raw::RPC_RESULT => (true, true),
            tl::types::Pong::CONSTRUCTOR_ID | tl::types::FutureSalts::CONSTRUCTOR_ID => {
                (true, true)
            }
            tl::types::BadServerSalt::CONSTRUCTOR_ID => (true, false),
            tl::types::NewSessionCreated::CONSTRUCTOR_ID => (false, true),
            crate::raw::MSG_CONTAINER => (true, false),
            other => panic!("unexpected server message {other:08x}"),
        };
        assert_eq!(
            msg.msg_id.rem_euclid(4),
            if response { 1 } else { 3 },
            "{id:08x}"
        );
        assert_eq!(msg.seq_no % 2 == 1, content, "seq_no parity of {id:08x}");
    }
}

#[tokio::test]
async fn numbering_salts_sessions_and_containers() {
    let h = Harness::start(&["raw.session"], ScriptedWorld::new()).await;
    let (mut client, mut seen) = handshake(h.running.port(), key_bytes("raw.session")).await;
    let kinds: Vec<u32> = seen.iter().map(ServerMsg::constructor).collect();
    assert_eq!(
        kinds,
        [
            tl::types::BadServerSalt::CONSTRUCTOR_ID,
            tl::types::NewSessionCreated::CONSTRUCTOR_ID,
            tl::types::FutureSalts::CONSTRUCTOR_ID,
            crate::raw::MSG_CONTAINER,
        ],
        "salt 0 refused, then new session and future salts in one container"
    );
    let tl::enums::FutureSalts::Salts(salts) =
        tl::enums::FutureSalts::from_bytes(&seen[2].body).expect("salts");
    assert!(
        salts.salts.0.len() >= 2,
        "one salt makes grammers busy-loop"
    );

    let config_id = client.call(&get_config()).await;
    let reply = client.recv(WAIT).await.expect("frame").expect("packet");
    let (req, body) = reply[0].rpc_result().expect("rpc_result");
    assert_eq!(req, config_id);
    let tl::enums::Config::Config(config) = tl::enums::Config::from_bytes(&body).expect("config");
    assert_eq!((config.this_dc, config.dc_options.len()), (2, 0));
    seen.extend(reply);

    // Acks and two pings in one container: both pongs come back in one container.
    let ack = tl::enums::MsgsAck::Ack(tl::types::MsgsAck {
        msg_ids: vec![seen[0].msg_id],
    })
    .to_bytes();
    let ping = |id| tl::functions::Ping { ping_id: id }.to_bytes();
    let sent = client
        .send(&[(&ack, false), (&ping(5), true), (&ping(6), true)])
        .await;
    let reply = client.recv(WAIT).await.expect("frame").expect("packet");
    let pongs: Vec<(i64, i64)> = reply
        .iter()
        .filter_map(|m| tl::enums::Pong::from_bytes(&m.body).ok())
        .map(|tl::enums::Pong::Pong(p)| (p.msg_id, p.ping_id))
        .collect();
    assert_eq!(pongs, [(sent[1], 5), (sent[2], 6)]);
    seen.extend(reply);

    // A gzip-packed request, and a method the DC does not serve.
    let resolve = tl::functions::contacts::ResolveUsername {
        username: "nobody_here".into(),
        referer: None,
    }
    .to_bytes();
    let mut packed = Vec::new();
    crate::raw::GZIP_PACKED.serialize(&mut packed);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &resolve).expect("gzip");
    gz.finish().expect("gzip").serialize(&mut packed);
    let unknown = tl::functions::users::GetUsers { id: vec![] }.to_bytes();
    let ids = client.send(&[(&packed, true), (&unknown, true)]).await;
    let reply = client.recv(WAIT).await.expect("frame").expect("packet");
    let errors: Vec<(i64, i32, String)> = reply
        .iter()
        .filter_map(ServerMsg::rpc_result)
        .filter_map(|(req, body)| {
            let tl::enums::RpcError::Error(e) = tl::enums::RpcError::from_bytes(&body).ok()?;
            Some((req, e.error_code, e.error_message))
        })
        .collect();
    let unsupported = "METHOD_NOT_SUPPORTED_BY_TESTDC_USERS_GETUSERS".to_owned();
    assert_eq!(
        errors,
        [
            (ids[0], 400, "USERNAME_NOT_OCCUPIED".into()),
            (ids[1], 400, unsupported)
        ]
    );
    seen.extend(reply);
    assert_numbering(&seen);
    assert_eq!(h.dc.stats().unsupported_calls, 1);
}

#[tokio::test]
async fn pings_are_answered_while_a_post_hangs_in_the_world() {
    let world = ScriptedWorld::new();
    world
        .add_member("raw.session", "-1001234567890")
        .hang_posts("raw.session");
    let h = Harness::start(&["raw.session"], world).await;
    let (mut client, _) = handshake(h.running.port(), key_bytes("raw.session")).await;
    let id = channel_id(&target("-1001234567890"));
    let send = tl::functions::messages::SendMessage {
        no_webpage: true,
        silent: false,
        background: false,
        clear_draft: false,
        noforwards: false,
        update_stickersets_order: false,
        invert_media: false,
        allow_paid_floodskip: false,
        peer: tl::types::InputPeerChannel {
            channel_id: id,
            access_hash: access_hash(id, "raw.session"),
        }
        .into(),
        reply_to: None,
        message: "stuck".into(),
        random_id: 77,
        reply_markup: None,
        entities: None,
        schedule_date: None,
        schedule_repeat_period: None,
        send_as: None,
        quick_reply_shortcut: None,
        effect: None,
        allow_paid_stars: None,
        suggested_post: None,
        rich_message: None,
    }
    .to_bytes();
    client.call(&send).await;
    let ping_id = client
        .call(&tl::functions::Ping { ping_id: 9 }.to_bytes())
        .await;
    let reply = client.recv(WAIT).await.expect("frame").expect("packet");
    let tl::enums::Pong::Pong(pong) =
        tl::enums::Pong::from_bytes(&reply[0].body).expect("a pong, not the post");
    assert_eq!(pong.msg_id, ping_id);
    assert!(
        client
            .recv_or_nothing(Duration::from_millis(300))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn a_malformed_packet_closes_only_its_connection() {
    let h = Harness::start(&["a.session", "b.session"], ScriptedWorld::new()).await;
    let (mut healthy, _) = handshake(h.running.port(), key_bytes("b.session")).await;
    let mut broken = RawClient::connect(h.running.port(), key_bytes("a.session")).await;
    let mut garbage = herald_testdc_key_id(&key_bytes("a.session"))
        .to_le_bytes()
        .to_vec();
    garbage.extend_from_slice(&[0x5a; 72]);
    broken.send_frame(&garbage).await;
    assert!(
        broken
            .recv(WAIT)
            .await
            .expect("no transport error")
            .is_none(),
        "closed"
    );

    healthy
        .call(&tl::functions::Ping { ping_id: 3 }.to_bytes())
        .await;
    let reply = healthy
        .recv(WAIT)
        .await
        .expect("frame")
        .expect("still served");
    assert!(tl::enums::Pong::from_bytes(&reply[0].body).is_ok());
    assert_eq!(h.dc.stats().malformed_packets, 1);
}

fn herald_testdc_key_id(key: &[u8; 256]) -> i64 {
    use sha1::{Digest, Sha1};
    let sha: [u8; 20] = Sha1::digest(key).into();
    i64::from_le_bytes(sha[12..20].try_into().expect("8 bytes"))
}
