//! Keys and session states: unknown keys, dead and signed-out sessions, key directories.

use herald_session_file::{SessionCredentials, read_telethon, write_telethon};
use herald_telegram::{SendError, SessionHandle, Telegram};
use herald_testdc::scripted::ScriptedWorld;
use herald_testdc::{KeyStore, RpcRefusal, TestDc};

use crate::helpers::{Harness, api, key, label, target, text};

#[tokio::test]
async fn an_unknown_key_fails_connect_and_no_key_is_created() {
    let h = Harness::start(&["+100.session"], ScriptedWorld::new()).await;
    let stranger = h.handle_with_key("+999.session", key("+999.session", 9));
    let result = h.telegram.connect(stranger, api()).await;
    assert_eq!(result.err(), Some(SendError::Transient));
    let stats = h.dc.stats();
    assert!(stats.unknown_keys >= 1, "{stats:?}");
    // grammers answers -404 by trying to create a new key (req_pq_multi, trap 8):
    // the DC refuses that too and never answers a key exchange.
    assert!(stats.key_exchanges_refused >= 1, "{stats:?}");
    assert_eq!(h.world.connects(), 0);
}

#[tokio::test]
async fn a_dead_session_is_reported_dead() {
    let world = ScriptedWorld::new();
    world.kill(
        "+100.session",
        RpcRefusal::new(401, "AUTH_KEY_UNREGISTERED"),
    );
    let h = Harness::start(&["+100.session"], world).await;
    let result = h.connect("+100.session").await;
    assert_eq!(
        result.err(),
        Some(SendError::SessionDead {
            code: "AUTH_KEY_UNREGISTERED".into()
        })
    );
}

#[tokio::test]
async fn a_key_without_a_signed_in_account_is_not_authorized() {
    let world = ScriptedWorld::new();
    let h = Harness::start(&["+100.session"], world).await;
    let mut conn = h.connect("+100.session").await.expect("connects");
    assert_eq!(conn.is_authorized().await, Ok(true));
    h.world.unauthorize(
        "+100.session",
        RpcRefusal::new(401, "SESSION_PASSWORD_NEEDED"),
    );
    assert_eq!(conn.is_authorized().await, Ok(false));
}

#[tokio::test]
async fn keys_from_a_directory_of_telethon_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let world = ScriptedWorld::new();
    world.add_chat("@news_room");
    // Port unknown until bound: write the files with a placeholder, read keys, bind,
    // then hand the adapter what the file says with the real port.
    let path = dir.path().join("assigned").join("+254700000001.session");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let creds = SessionCredentials {
        dc_id: 4,
        server_address: "127.0.0.1".into(),
        port: 443,
        auth_key: key("+254700000001.session", 4),
    };
    write_telethon(&path, &creds).expect("write");
    let keys = KeyStore::from_session_dir(dir.path()).expect("keys");
    let dc = TestDc::new(keys, std::sync::Arc::new(world.clone()));
    let running = dc.bind("127.0.0.1:0").await.expect("bind");
    let mut from_file = read_telethon(&path).expect("read");
    from_file.port = running.port();
    let handle = SessionHandle {
        name: "+254700000001.session".into(),
        credentials: from_file,
        entities: Vec::new(),
    };
    let telegram = herald_telegram::GrammersTelegram::default();
    let mut conn = telegram.connect(handle, api()).await.expect("connects");
    conn.send(&target("@news_room"), &text("from a file"), &label())
        .await
        .expect("sent");
    assert_eq!(world.deliveries()[0].session, "+254700000001.session");
    running.stop().await;
}
