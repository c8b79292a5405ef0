//! The grammers adapter against local sockets only: a closed port and a peer
//! that accepts and never answers. Nothing here talks to Telegram.

use std::time::{Duration, Instant};

use herald_session_file::{AuthKey, SessionCredentials};
use herald_telegram::{
    ApiCredentials, GrammersTelegram, SendError, SessionHandle, Telegram, TelegramConfig,
};

fn local_session(port: u16) -> SessionHandle {
    SessionHandle {
        name: "+10000000000.session".into(),
        credentials: SessionCredentials {
            dc_id: 2,
            server_address: "127.0.0.1".into(),
            port,
            auth_key: AuthKey::new([7; 256]),
        },
        entities: Vec::new(),
    }
}

fn api() -> ApiCredentials {
    ApiCredentials {
        api_id: 12345,
        api_hash: "0123456789abcdef0123456789abcdef".to_owned().into(),
    }
}

fn backend(timeout: Duration) -> GrammersTelegram {
    GrammersTelegram::new(TelegramConfig {
        call_timeout: timeout,
        ..TelegramConfig::default()
    })
}

#[tokio::test]
async fn closed_local_port_fails_fast_as_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);

    let started = Instant::now();
    let result = backend(Duration::from_secs(20))
        .connect(local_session(port), api())
        .await;
    let elapsed = started.elapsed();
    assert_eq!(result.err(), Some(SendError::Transient));
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
}

#[tokio::test]
async fn silent_peer_fails_within_the_call_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // Accept and hold every socket open without ever reading or writing.
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket);
        }
    });

    let timeout = Duration::from_millis(400);
    let started = Instant::now();
    let result = backend(timeout).connect(local_session(port), api()).await;
    let elapsed = started.elapsed();
    assert_eq!(result.err(), Some(SendError::Transient));
    assert!(
        elapsed >= timeout,
        "returned before the timeout: {elapsed:?}"
    );
    assert!(
        elapsed < timeout + Duration::from_secs(2),
        "took {elapsed:?}"
    );
    held.abort();
}
